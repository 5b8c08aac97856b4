"""A 3-instance PostgresCluster on the real test bed, the way a user gets one.

pgwarden is installed with `kubectl apply -k manifests/` and its shipped RBAC,
unchanged; the cluster is applied with kubectl. The real kube-apiserver calls
our webhooks, the real StatefulSet controller makes the pods, the process
kubelet runs Patroni, PostgreSQL, PgBouncer and postgres_exporter, and Patroni
elects a leader through the Kubernetes API. Each step would fail on what the
stand-in hid: the operator's leader Lease (RBAC), the Secrets the pods mount,
the post-bootstrap script's connection, Patroni's role labels.
"""
import json
import unittest

from standin import wait_for
from testbed import NamespaceTestCase, retry, wait_cluster

NS = "tb-ha"
CLUSTER = """apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {name: ha, namespace: tb-ha}
spec:
  postgresVersion: 15
  instances: 3
  storage: {size: 1Gi}
"""


class ThreeInstanceCluster(NamespaceTestCase):
    NS = NS

    def test_apply_gives_a_running_cluster_with_an_elected_leader(self):
        tb = self.tb
        p = tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        self.assertIn("postgrescluster.pgwarden.io/ha created", p.stdout)
        c = wait_cluster(tb, NS, "ha", 3)
        table = tb.kubectl("get", "pgc", "-n", NS).stdout
        self.assertRegex(table, r"ha\s+Running\s+3\s+3\s+3\s+ha-[0-2]\s+15\s+")

        # Three running pods, on three nodes, each with the sidecars the webhook injected.
        pods = json.loads(tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/cluster=ha", "-o", "json").stdout)["items"]
        self.assertEqual(sorted(p["metadata"]["name"] for p in pods), ["ha-0", "ha-1", "ha-2"])
        self.assertEqual(len({p["spec"]["nodeName"] for p in pods}), 3, "anti-affinity spreads the instances")
        for pod in pods:
            self.assertEqual([x["name"] for x in pod["spec"]["containers"]], ["postgres", "pgbouncer", "exporter"])
            self.assertRegex(pod["metadata"]["annotations"]["pgwarden.io/injected"], r"^[0-9a-f]{16}$")
            self.assertEqual(pod["status"]["phase"], "Running")
            self.assertTrue(all(s["ready"] for s in pod["status"]["containerStatuses"]), pod["metadata"]["name"])

        # Patroni's leader, through the Kubernetes DCS: the leader annotation of the read-write
        # Service's Endpoints, the role label on the pods, and the cluster status agree.
        leader = wait_for(lambda: (tb.get("endpoints", "ha", NS) or {}).get("metadata", {}).get("annotations", {})
                          .get("leader"), 60, 1.0, what="Patroni's leader key")
        roles = {p["metadata"]["name"]: p["metadata"]["labels"].get("pgwarden.io/role") for p in pods}
        self.assertEqual(roles[leader], "primary")
        self.assertEqual(sorted(r for n, r in roles.items() if n != leader), ["replica", "replica"])
        self.assertEqual(c["status"]["primary"], leader)
        self.assertTrue(all(s["ready"] for s in pods[0]["status"]["containerStatuses"]))

        # The application's credentials work, directly and through PgBouncer, and a row written
        # on the primary is read back on both replicas (streaming replication).
        ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}
        password = tb.secret_value(NS, "ha-app", "password")
        tb.psql(ips[leader], "CREATE TABLE t (v int); INSERT INTO t VALUES (42)", user="app", password=password, db="app")
        self.assertEqual(tb.psql(ips[leader], "SELECT sum(v) FROM t", user="app", password=password, db="app",
                                 port=6432), "42")
        for name, ip in ips.items():
            if name != leader:
                retry(lambda: self.assertEqual(tb.psql(ip, "SELECT sum(v) FROM t", user="app", password=password,
                                                       db="app"), "42"), 60, f"the row on replica {name}")
        su = tb.secret_value(NS, "ha-superuser", "password")
        streaming = tb.psql(ips[leader], "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                            password=su)
        self.assertEqual(streaming, "2")


if __name__ == "__main__":
    unittest.main()
