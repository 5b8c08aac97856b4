"""examples/cluster-production.yaml comes up on the test bed and keeps its promises.

The example is read from the file and applied with kubectl. What is changed,
and only because the test bed cannot provide it:

- `backup.repository`: S3 → a `volume` repository (no object store here), so the
  S3 credentials Secret is not needed either;
- `postgresVersion` 17 → 15: the test bed's database image has Debian's
  PostgreSQL 15 and a PostgreSQL 18 (test/testbed/images.yaml), no 17;
- `storage.storageClass` fast-ssd → testbed-local: the test bed's provisioner
  serves only its own class (test/kubelet/storage.go);
- `metadata.namespace` shop → this test's namespace;
- `pooler.parameters.max_prepared_statements` is dropped when the test bed's
  PgBouncer is older than 1.21, which does not know it (the operator's own
  PgBouncer image does).

What the example needs from its environment is provided as a user would:
the `workload=databases` label on the nodes (its nodeSelector), and the
`orders-backup-key` Secret (its encryptionSecret). Its deletionProtection is
lifted at the end so the namespace can go.

examples/cluster-minimal.yaml is applied unchanged by
test_e2e_controller.test_minimal_example_converges; here its pooler and
exporter are also used.
"""
import json
import os
import re
import subprocess
import time
import unittest
import urllib.request

import yaml

from pgwriter import Writer
from standin import wait_for
from testbed import SOURCE, Testbed, retry, wait_cluster

NS = "tb-prod"
NS_MINIMAL = "tb-prod-minimal"


def pgbouncer_version():
    out = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"PgBouncer (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def production_for_testbed():
    with open(os.path.join(SOURCE, "examples", "cluster-production.yaml")) as f:
        c = yaml.safe_load(f)
    c["metadata"]["namespace"] = NS
    c["spec"]["postgresVersion"] = 15
    c["spec"]["storage"]["storageClass"] = "testbed-local"
    c["spec"]["backup"]["repository"] = {"volume": {"size": "20Gi"}}
    if pgbouncer_version() < (1, 21):
        del c["spec"]["pooler"]["parameters"]["max_prepared_statements"]
    return c


def metrics_text(url):
    with urllib.request.urlopen(url, timeout=15) as r:
        return r.read().decode()


class ProductionExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = tb = Testbed()
        tb.install_pgwarden()
        tb.namespace(NS)
        cls.addClassCleanup(tb.purge_namespace, NS)
        # deletionProtection: lifted before the namespace goes (cleanups run last-in first-out).
        cls.addClassCleanup(lambda: tb.kubectl("patch", "pgc", "orders", "-n", NS, "--type=merge", "-p",
                                               '{"spec":{"deletionProtection":false}}', check=False))
        for node in json.loads(tb.kubectl("get", "nodes", "-o", "json").stdout)["items"]:
            tb.kubectl("label", "node", node["metadata"]["name"], "workload=databases", "--overwrite")
        tb.kubectl("create", "secret", "generic", "orders-backup-key", "-n", NS,
                   f"--from-literal=passphrase={os.urandom(24).hex()}")
        cls.example = production_for_testbed()
        p = tb.kubectl("apply", "-f", "-", stdin=json.dumps(cls.example))
        assert "postgrescluster.pgwarden.io/orders created" in p.stdout, p.stdout
        cls.cluster = wait_cluster(tb, NS, "orders", 3, timeout=600)
        cls.writer = Writer(tb, NS, "orders", port=6432).start()
        cls.addClassCleanup(cls.writer.stop)

    def pods(self):
        items = json.loads(self.tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/cluster=orders,"
                                           "app.kubernetes.io/component=database", "-o", "json").stdout)["items"]
        return sorted(items, key=lambda p: p["metadata"]["name"])

    def primary_ip(self):
        return next(p["status"]["podIP"] for p in self.pods()
                    if p["metadata"]["labels"].get("pgwarden.io/role") == "primary")

    def test_1_instances_spread_and_tuned(self):
        pods = self.pods()
        self.assertEqual([p["metadata"]["name"] for p in pods], ["orders-0", "orders-1", "orders-2"])
        self.assertEqual(len({p["spec"]["nodeName"] for p in pods}), 3, "required anti-affinity")
        for p in pods:
            self.assertEqual(p["spec"]["nodeSelector"], {"workload": "databases"})
            self.assertIn({"key": "dedicated", "operator": "Equal", "value": "databases", "effect": "NoSchedule"},
                          p["spec"]["tolerations"])
            self.assertEqual(p["metadata"]["labels"].get("team"), "payments", "spec.metadata.labels on the pods")
            pg = next(c for c in p["spec"]["containers"] if c["name"] == "postgres")
            self.assertEqual(pg["resources"]["requests"], {"cpu": "2", "memory": "8Gi"})
            self.assertEqual(pg["resources"]["limits"], {"cpu": "4", "memory": "8Gi"})
            self.assertEqual([c["name"] for c in p["spec"]["containers"]], ["postgres", "pgbouncer", "exporter",
                                                                            "pgbackrest"])
        sts = self.tb.get("statefulset", "orders", NS)
        self.assertEqual(sts["metadata"]["annotations"].get("example.com/owner"), "payments-oncall")
        self.assertEqual([t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]], ["pgdata", "pgwal"])
        for i in range(3):
            pvc = self.tb.get("pvc", f"pgwal-orders-{i}", NS)
            self.assertEqual(pvc["spec"]["resources"]["requests"]["storage"], "20Gi")
        # The parameters reached PostgreSQL (through Patroni's DCS) on the primary and the replicas.
        su = self.tb.secret_value(NS, "orders-superuser", "password")
        want = {"shared_buffers": "2GB", "effective_cache_size": "6GB", "work_mem": "16MB",
                "maintenance_work_mem": "512MB", "max_connections": "200", "min_wal_size": "1GB",
                "max_wal_size": "8GB", "random_page_cost": "1.1", "log_min_duration_statement": "500ms"}
        q = "SELECT " + ", ".join(f"current_setting('{k}')" for k in want)
        for p in pods:
            got = self.tb.psql(p["status"]["podIP"], q, password=su).split("|")
            self.assertEqual(dict(zip(want, got)), want, p["metadata"]["name"])
        # The example's pg_hba line is in force: the app connects from the host (10.88.0.1, in 10.0.0.0/8).
        hba = self.tb.psql(self.primary_ip(), "SELECT count(*) FROM pg_hba_file_rules WHERE "
                           "type = 'hostssl' AND address = '10.0.0.0' AND auth_method = 'scram-sha-256'", password=su)
        self.assertEqual(hba, "1")

    def test_2_pooler(self):
        ini = self.tb.get("configmap", "orders-pgbouncer", NS)["data"]["pgbouncer.ini"]
        for line in ("pool_mode = transaction", "max_client_conn = 2000", "default_pool_size = 40",
                     "server_idle_timeout = 300"):
            self.assertIn(line, ini)
        app = self.tb.secret_value(NS, "orders-app", "password")
        for p in self.pods():
            self.assertEqual(self.tb.psql(p["status"]["podIP"], "SELECT 1", user="app", password=app, db="app",
                                          port=6432), "1")
        self.assertGreater(self.writer.count_since(0), 0, "the writer commits through PgBouncer")

    def test_3_metrics(self):
        for p in self.pods():
            ann = p["metadata"]["annotations"]
            self.assertEqual(ann.get("prometheus.io/scrape"), "true")
            url = f"http://{p['status']['podIP']}:{ann['prometheus.io/port']}{ann['prometheus.io/path']}"
            retry(lambda: self.assertIn("\npg_up 1\n", "\n" + metrics_text(url)), 60, f"pg_up on {url}")

    def test_4_backups(self):
        c = wait_for(lambda: (lambda o: o if any(x["type"] == "BackupReady" and x["status"] == "True"
                                                 for x in o["status"].get("conditions", [])) else None)(
            self.tb.get("pgc", "orders", NS)), 300, 1.0, what="BackupReady")
        self.assertTrue(c)
        cjs = {cj["metadata"]["name"]: cj["spec"] for cj in json.loads(self.tb.kubectl(
            "get", "cronjobs", "-n", NS, "-l", "pgwarden.io/cluster=orders", "-o", "json").stdout)["items"]}
        self.assertEqual({n: s["schedule"] for n, s in cjs.items()},
                         {"orders-backup-weekly-full": "0 2 * * 0", "orders-backup-daily-diff": "0 2 * * 1-6"})
        self.assertTrue(all(s["concurrencyPolicy"] == "Forbid" for s in cjs.values()))
        conf = self.tb.get("configmap", "orders-pgbackrest", NS)["data"]
        text = "\n".join(conf.values())
        for line in ("repo1-cipher-type=aes-256-cbc", "repo1-retention-full=4", "repo1-retention-diff=14"):
            self.assertIn(line, text)
        # The primary archives into the encrypted repository.
        su = self.tb.secret_value(NS, "orders-superuser", "password")
        ip = self.primary_ip()
        self.tb.psql(ip, "SELECT pg_switch_wal()", password=su)
        retry(lambda: self.assertGreater(int(self.tb.psql(ip, "SELECT archived_count FROM pg_stat_archiver",
                                                          password=su)), 0), 120, "a WAL segment archived")
        # A full backup into it, through the pods' pgbackrest servers (encrypted by the Job, the
        # repository host).
        self.tb.kubectl("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "pgwarden.io/v1", "kind": "PostgresBackup", "metadata": {"name": "first", "namespace": NS},
            "spec": {"cluster": "orders", "type": "full"}}))
        b = wait_for(lambda: (lambda o: o if o and o.get("status", {}).get("phase") in ("Succeeded", "Failed")
                              else None)(self.tb.get("pgbackup", "first", NS)), 300, 2.0, what="backup finished")
        self.assertEqual(b["status"]["phase"], "Succeeded", b["status"].get("message"))
        self.assertRegex(b["status"].get("backupLabel", ""), r"^\d{8}-\d{6}F$")

    def test_5_deletion_protection(self):
        p = self.tb.kubectl("delete", "pgc", "orders", "-n", NS, "--wait=false", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("deletionProtection", p.stderr)
        self.assertIsNotNone(self.tb.get("pgc", "orders", NS))

    def test_9_no_acknowledged_write_lost(self):
        self.writer.wait_acks_after(time.time(), n=5, timeout=60)
        self.writer.stop()
        self.assertGreater(self.writer.verify(), 10)


class MinimalExample(unittest.TestCase):
    """Applied unchanged; its defaults (PostgreSQL 18, one instance, pooler, metrics) serve traffic."""

    def test_minimal_serves_through_pooler_and_metrics(self):
        tb = Testbed()
        tb.install_pgwarden()
        tb.namespace(NS_MINIMAL)
        self.addCleanup(tb.purge_namespace, NS_MINIMAL)
        tb.kubectl("apply", "-n", NS_MINIMAL, "-f", os.path.join(SOURCE, "examples", "cluster-minimal.yaml"))
        wait_cluster(tb, NS_MINIMAL, "minimal", 1)
        w = Writer(tb, NS_MINIMAL, "minimal", port=6432).start()
        try:
            pod = tb.get("pod", "minimal-0", NS_MINIMAL)
            ann = pod["metadata"]["annotations"]
            url = f"http://{pod['status']['podIP']}:{ann['prometheus.io/port']}{ann['prometheus.io/path']}"
            retry(lambda: self.assertIn("\npg_up 1\n", "\n" + metrics_text(url)), 60, "pg_up")
            self.assertEqual(tb.psql(pod["status"]["podIP"], "SHOW server_version_num", user="app", db="app",
                                     password=tb.secret_value(NS_MINIMAL, "minimal-app", "password"),
                                     port=6432)[:2], "18")
            w.wait_acks_after(time.time(), n=20, timeout=60)
        finally:
            w.stop()
        self.assertGreater(w.verify(), 20)


if __name__ == "__main__":
    unittest.main()
