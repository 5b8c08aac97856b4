"""A 3-instance cluster serving traffic the way applications use it (issue 13).

One cluster (PostgreSQL 15, a volume backup repository, custom exporter
queries) and one writer (pgwriter.Writer) committing through PgBouncer on the
read-write Service for the whole class; the last test checks that no
acknowledged row was lost. On the way:

- the Services: `<c>` (no selector: Patroni writes its endpoints) reaches the
  primary through PgBouncer, `<c>-ro` only replicas, `<c>-r` every instance;
  their selectors match the role labels Patroni sets;
- streaming replication to both replicas, with lag reported;
- postgres_exporter on every pod, found the way a Prometheus scrape config
  finds it (the prometheus.io annotations), with replication metrics and the
  custom queries of spec.metrics.customQueriesConfigMap;
- WAL archiving keeps up with 30 s of pgbench writing tens of WAL segments
  (archivelag.py; the figures are bench/archive_lag.py's).

There is no kube-proxy on the test bed: ClusterIPs carry no traffic, so every
Service is resolved to the ready addresses of its EndpointSlices
(pgwriter.ready_addresses), which is what kube-proxy would route to.
"""
import json
import re
import time
import unittest
import urllib.request

import archivelag
from pgwriter import Writer, ready_addresses
from standin import wait_for
from testbed import Testbed, retry, wait_cluster

NS = "tb-traffic"
NAME = "tr"
QUERIES = """pgw_app:
  query: "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = 'app'"
  master: true
  metrics:
    - datname: {usage: LABEL, description: "database"}
    - xact_commit: {usage: COUNTER, description: "commits in the application database"}
pgw_replication:
  query: "SELECT pg_is_in_recovery()::int AS is_replica, CASE WHEN pg_is_in_recovery() THEN coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) ELSE 0 END AS replay_lag_bytes"
  master: true
  metrics:
    - is_replica: {usage: GAUGE, description: "1 on a replica"}
    - replay_lag_bytes: {usage: GAUGE, description: "WAL received but not replayed yet"}
"""
PROBE = """pgw_probe:
  query: "SELECT 1 AS value"
  master: true
  metrics:
    - value: {usage: GAUGE, description: "added after the pods started"}
"""
MANIFEST = f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: {NAME}-queries, namespace: {NS}}}
data:
  queries.yaml: {json.dumps(QUERIES)}
---
apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: {NAME}, namespace: {NS}}}
spec:
  postgresVersion: 15
  instances: 3
  storage: {{size: 1Gi}}
  metrics: {{customQueriesConfigMap: {NAME}-queries}}
  backup:
    repository:
      volume: {{size: 2Gi}}
"""


def metrics_text(url):
    with urllib.request.urlopen(url, timeout=15) as r:
        return r.read().decode()


def samples(text, name):
    """[(labels dict, value)] of metric `name` in Prometheus text format."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if m and m.group(1) == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
            out.append((labels, float(m.group(4))))
    return out


class Traffic(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = tb = Testbed()
        tb.install_pgwarden()
        tb.namespace(NS)
        cls.addClassCleanup(tb.purge_namespace, NS)  # also when setUpClass fails
        tb.kubectl("apply", "-f", "-", stdin=MANIFEST)
        wait_cluster(tb, NS, NAME, 3)
        wait_for(lambda: cls.condition("BackupReady") == "True", 180, 1.0, what="BackupReady")
        cls.su = tb.secret_value(NS, f"{NAME}-superuser", "password")
        cls.app = tb.secret_value(NS, f"{NAME}-app", "password")
        # The writer: the read-write Service's endpoints, port 6432 (PgBouncer), the app role's
        # password from Secret <c>-app; it runs until the last test.
        cls.writer = Writer(tb, NS, NAME, port=6432).start()
        cls.addClassCleanup(cls.writer.stop)

    @classmethod
    def condition(cls, type_):
        c = cls.tb.get("pgc", NAME, NS) or {}
        return next((x["status"] for x in c.get("status", {}).get("conditions", []) if x["type"] == type_), None)

    def slices(self, service):
        st, body = self.tb.api("GET", f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"
                                      f"?labelSelector=kubernetes.io/service-name%3D{service}")
        self.assertEqual(st, 200)
        return body

    def pods(self):
        items = json.loads(self.tb.kubectl("get", "pods", "-n", NS, "-l", f"pgwarden.io/cluster={NAME}", "-o",
                                           "json").stdout)["items"]
        return {p["metadata"]["name"]: p for p in items if p["metadata"]["name"].startswith(f"{NAME}-")
                and "stanza" not in p["metadata"]["name"] and p["metadata"].get("deletionTimestamp") is None}

    def roles(self):
        """{pod: (ip, role label)} once every pod has an address and a role."""
        def ready():
            out = {n: (p["status"].get("podIP"), p["metadata"].get("labels", {}).get("pgwarden.io/role"))
                   for n, p in self.pods().items()}
            return out if len(out) == 3 and all(ip and role for ip, role in out.values()) else None
        return wait_for(ready, 120, 1.0, what="three pods with addresses and role labels")

    def sql(self, host, query, port=5432, user="postgres", db="postgres"):
        password = self.su if user == "postgres" else self.app
        return self.tb.psql(host, query, user=user, password=password, db=db, port=port)

    # --- Services -----------------------------------------------------------------------

    def test_1_services_route_by_role(self):
        roles = self.roles()
        primary = [ip for ip, role in roles.values() if role == "primary"]
        replicas = sorted(ip for ip, role in roles.values() if role == "replica")
        self.assertEqual((len(primary), len(replicas)), (1, 2), roles)

        # The selectors (specs/render_services.c) against the labels Patroni sets (its role_label,
        # leader and follower values in patroni.yml): <c> has none, <c>-ro the replica role,
        # <c>-r only the cluster.
        svc = {s: self.tb.get("service", s, NS)["spec"] for s in (NAME, f"{NAME}-ro", f"{NAME}-r")}
        self.assertNotIn("selector", svc[NAME])
        self.assertEqual(svc[f"{NAME}-ro"]["selector"], {"pgwarden.io/cluster": NAME, "pgwarden.io/role": "replica"})
        self.assertEqual(svc[f"{NAME}-r"]["selector"], {"pgwarden.io/cluster": NAME})
        k8s = json.loads(self.tb.get("configmap", f"{NAME}-patroni", NS)["data"]["patroni.yml"])["kubernetes"]
        self.assertEqual((k8s["role_label"], k8s["leader_label_value"], k8s["follower_label_value"]),
                         ("pgwarden.io/role", "primary", "replica"))

        # <c>: the primary only, with the pgbouncer port Patroni lists; writes through PgBouncer work
        # (the writer has been committing through it since the class started).
        rw = self.slices(NAME)
        self.assertEqual(ready_addresses(rw), primary)
        ports = {p.get("name"): p.get("port") for s in rw["items"] for p in s.get("ports") or []}
        self.assertEqual(ports.get("pgbouncer"), 6432, ports)
        self.assertEqual(ports.get("postgres"), 5432, ports)
        self.assertGreater(self.writer.count_since(0), 0)
        self.assertEqual(set(self.writer.hosts()), set(primary))
        self.assertEqual(self.sql(primary[0], "SELECT pg_is_in_recovery()", port=6432, user="app", db="app"), "f")

        # <c>-ro: every address is a replica, directly and through its PgBouncer, and sees the writer's rows.
        ro = wait_for(lambda: (lambda a: a if a == replicas else None)(ready_addresses(self.slices(f"{NAME}-ro"))),
                      60, 1.0, what="<c>-ro lists both replicas")
        for ip in ro:
            self.assertEqual(self.sql(ip, "SELECT pg_is_in_recovery()"), "t", ip)
            self.assertEqual(self.sql(ip, "SELECT pg_is_in_recovery()", port=6432, user="app", db="app"), "t", ip)
            retry(lambda: self.assertGreater(int(self.sql(ip, "SELECT count(*) FROM pgw_writer", port=6432,
                                                          user="app", db="app")), 0), 60, f"writer rows on {ip}")

        # <c>-r: all three instances answer reads.
        r = wait_for(lambda: (lambda a: a if len(a) == 3 else None)(ready_addresses(self.slices(f"{NAME}-r"))),
                     60, 1.0, what="<c>-r lists three instances")
        self.assertEqual(r, sorted(primary + replicas))
        for ip in r:
            self.assertEqual(self.sql(ip, "SELECT count(*) > 0 FROM pgw_writer", port=6432, user="app", db="app"), "t")

    # --- replication ---------------------------------------------------------------------

    def test_2_streaming_to_every_replica_with_lag_reported(self):
        roles = self.roles()
        primary = next(ip for ip, role in roles.values() if role == "primary")
        replicas = sorted(n for n, (ip, role) in roles.items() if role == "replica")
        q = ("SELECT application_name, state, sent_lsn IS NOT NULL, replay_lsn IS NOT NULL, "
             "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) >= 0, "
             "write_lag IS NOT NULL OR replay_lag IS NOT NULL "
             "FROM pg_stat_replication ORDER BY application_name")

        def streaming():
            rows = [line.split("|") for line in self.sql(primary, q).splitlines()]
            # write_lag/replay_lag are NULL once a standby has been idle; the writer keeps them reported.
            return rows if [r[0] for r in rows] == replicas and all(r[1:] == ["streaming", "t", "t", "t", "t"]
                                                                     for r in rows) else None
        wait_for(streaming, 60, 1.0, what=f"pg_stat_replication: {replicas} streaming with lag columns")
        # And each replica says it receives from the primary.
        for name in replicas:
            self.assertEqual(self.sql(roles[name][0], "SELECT status FROM pg_stat_wal_receiver"), "streaming")

    # --- metrics ---------------------------------------------------------------------------

    def scrape_urls(self):
        """{pod: url} built from the pod annotations as a Prometheus kubernetes_sd scrape config does."""
        urls = {}
        for name, pod in self.pods().items():
            ann = pod["metadata"].get("annotations", {})
            self.assertEqual(ann.get("prometheus.io/scrape"), "true", name)
            self.assertEqual((ann.get("prometheus.io/port"), ann.get("prometheus.io/path")), ("9187", "/metrics"))
            ports = [p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])]
            self.assertIn(int(ann["prometheus.io/port"]), ports, "the annotated port is a container port")
            urls[name] = f"http://{pod['status']['podIP']}:{ann['prometheus.io/port']}{ann['prometheus.io/path']}"
        return urls

    def test_3_exporter_on_every_pod(self):
        roles = self.roles()
        urls = self.scrape_urls()
        self.assertEqual(len(urls), 3)
        replicas = sorted(n for n, (_, role) in roles.items() if role == "replica")
        for name, url in urls.items():
            primary = roles[name][1] == "primary"
            text = metrics_text(url)
            self.assertEqual(samples(text, "pg_up"), [({}, 1.0)], name)
            self.assertEqual(len(samples(text, "pg_stat_archiver_archived_count")), 1, name)
            # The custom queries of the ConfigMap, on every pod.
            self.assertEqual(samples(text, "pg_exporter_user_queries_load_error")[0][1], 0.0, name)
            self.assertEqual(len(samples(text, "pgw_app_xact_commit")), 1, name)
            self.assertEqual(samples(text, "pgw_replication_is_replica")[0][1], 0.0 if primary else 1.0, name)
            self.assertGreaterEqual(samples(text, "pgw_replication_replay_lag_bytes")[0][1], 0.0, name)
            if primary:
                self.assertGreater(samples(text, "pgw_app_xact_commit")[0][1], 0.0, "the writer's commits")
                # postgres_exporter's own replication metrics (its pg_stat_replication map): one series
                # per replica, state streaming, with the lag in bytes.
                lag = samples(text, "pg_stat_replication_pg_wal_lsn_diff")
                self.assertEqual(sorted(lb["application_name"] for lb, _ in lag), replicas, text[-2000:])
                self.assertTrue(all(lb["state"] == "streaming" and v >= 0 for lb, v in lag), lag)
                self.assertEqual(len(samples(text, "pg_stat_replication_pg_current_wal_lsn_bytes")), 2)
                slots = samples(text, "pg_replication_slots_active")
                self.assertEqual(sorted(v for _, v in slots), [1.0, 1.0], "Patroni's slots, one per replica")
            # On replicas the Debian exporter (0.11) has no replication metric of its own, and its
            # built-in pg_replication_slots query fails there (pg_current_wal_lsn() during recovery,
            # Patroni 4 keeps member slots on replicas): pgw_replication above is the replica side.

    def test_4_custom_queries_change_needs_an_exporter_restart(self):
        # New content in the ConfigMap: the kubelet updates the mounted file in place...
        self.tb.kubectl("patch", "configmap", f"{NAME}-queries", "-n", NS, "--type=merge", "-p",
                        json.dumps({"data": {"queries.yaml": QUERIES + PROBE}}))
        roles = self.roles()
        victim = sorted(n for n, (_, role) in roles.items() if role == "replica")[0]

        def mounted(name):
            info = self.tb.pod_info(NS, name) or {}
            pid = info.get("containers", {}).get("exporter", {}).get("pid")
            try:
                with open(f"/proc/{pid}/root/etc/postgres_exporter_queries/queries.yaml") as f:
                    return "pgw_probe" in f.read()
            except OSError:
                return False
        wait_for(lambda: all(mounted(n) for n in roles), 120, 1.0, what="the new queries.yaml in every exporter")
        # ...but postgres_exporter read it when it connected: no new metric (docs/configuration.md).
        urls = self.scrape_urls()
        for name, url in urls.items():
            self.assertEqual(samples(metrics_text(url), "pgw_probe_value"), [], name)
        # A re-created pod (here a replica, while the writer goes on) serves the new query.
        old_uid = self.pods()[victim]["metadata"]["uid"]
        self.tb.kubectl("delete", "pod", victim, "-n", NS, "--wait=false")
        wait_for(lambda: (lambda p: p if p and p["metadata"]["uid"] != old_uid and all(
            s["ready"] for s in p["status"].get("containerStatuses", [{"ready": False}])) else None)(
            self.pods().get(victim)), 180, 1.0, what=f"{victim} re-created and ready")
        url = self.scrape_urls()[victim]
        retry(lambda: self.assertEqual([v for _, v in samples(metrics_text(url), "pgw_probe_value")], [1.0]), 60,
              "pgw_probe_value on the re-created pod")
        wait_cluster(self.tb, NS, NAME, 3)

    # --- WAL archiving ---------------------------------------------------------------------

    def test_5_archiving_catches_up_after_a_write_load(self):
        roles = self.roles()
        primary = next(ip for ip, role in roles.values() if role == "primary")
        # The bulk load (100 rows of 1 kB per transaction) writes tens of segments in 30 s where
        # TPC-B writes one or two: the archiver has something to keep up with.
        r = archivelag.measure(self.tb, primary, self.app, self.su, seconds=30, clients=4, scale=5,
                               catch_up_timeout=120, bulk=True)
        print(f"\narchive lag: {json.dumps(r)}")
        self.assertGreater(r["tps"] or 0, 0)
        self.assertGreaterEqual(r["wal_segments_written"], 5, "the load wrote too little WAL to say anything")
        # A generous bound, not a speed test: every segment of the load is archived within 120 s.
        self.assertIsNotNone(r["catch_up_seconds"], f"archiving did not reach {r['end_segment']} in 120 s: {r}")
        self.assertEqual(r["failed_after"], r["failed_before"], "archive-push failed during the load")

    # --- the writer -----------------------------------------------------------------------------

    def test_9_no_acknowledged_write_lost(self):
        w = self.writer
        w.wait_acks_after(time.time(), n=5, timeout=60)
        w.stop()
        checked = w.verify()
        self.assertGreater(checked, 100)
        print(f"\nwriter: {checked} rows acknowledged through PgBouncer, longest gap {w.longest_outage():.2f} s, "
              f"errors {len(w.errors())}")


if __name__ == "__main__":
    unittest.main()
