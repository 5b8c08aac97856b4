"""The kubectl plugin (`kubectl pgwarden`, docs/plugin.md) through the real kubectl, on the test bed.

A temporary directory on PATH holds `kubectl-pgwarden`, a symlink to build/pgwarden, as
`cmake --install` lays it out; the pinned kubectl finds it there (`kubectl plugin list`) and runs
it for `kubectl pgwarden ...`. One 2-instance PostgreSQL 15 cluster with a volume backup
repository is shared by the tests of this file (setUpClass), which run in name order:

  1. status shows both instances with their roles (text and -o json); a missing cluster is
     refused clearly; kubectl's own --kubeconfig/--context and a bearer token work, and a
     ServiceAccount without rights gets the API's Forbidden;
  2. psql runs a query on the primary and on a replica, and never shows the password;
  3. backup creates the same PostgresBackup as examples/backup.yaml, waits for it, and status
     lists it;
  4. under a writer: a bad instance name is refused with the webhook's message, switchover moves
     the primary, restart replaces an instance; no acknowledged write is lost;
  5. restore to a time into a new cluster holds exactly the rows committed before that time;
  6. logs brings back Patroni's and PostgreSQL's lines of one instance (all, --tail) and of every
     instance with its pod's prefix, another container with -c, and with -f a line PostgreSQL
     logs after the stream started (the process kubelet serves container logs).
"""
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from pgwriter import Writer
from standin import wait_for
from testbed import NamespaceTestCase, SOURCE, retry, wait_cluster

NS = "plug-kubectl"
CLUSTER = f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: pg, namespace: {NS}}}
spec:
  postgresVersion: 15
  instances: 2
  storage: {{size: 1Gi}}
  backup:
    repository:
      volume: {{size: 1Gi}}
"""
BUILD = os.environ.get("PGW_BUILD_DIR") or os.path.join(SOURCE, "build")


class KubectlPlugin(NamespaceTestCase):
    NS = NS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="plug-")
        os.symlink(os.path.abspath(os.path.join(BUILD, "pgwarden")), os.path.join(cls.dir, "kubectl-pgwarden"))
        cls.env = dict(os.environ, KUBECONFIG=cls.tb.kubeconfig, HOME=cls.tb.home,
                       PATH=f"{cls.dir}:{cls.tb.bin}:{os.environ.get('PATH', '')}")
        cls.tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(cls.tb, NS, "pg", 2)
        wait_for(lambda: cls.condition("BackupReady").get("status") == "True", 240, 1.0, what="BackupReady True")

    @classmethod
    def tearDownClass(cls):
        cls.tb.purge_namespace(NS)  # and the volumes its claims left (retained by the test bed)
        subprocess.run(["rm", "-rf", cls.dir])

    @classmethod
    def condition(cls, type_):
        c = cls.tb.get("pgc", "pg", NS) or {}
        return next((x for x in c.get("status", {}).get("conditions", []) if x["type"] == type_), {})

    def plugin(self, *args, check=True, env=None, timeout=120):
        """`kubectl pgwarden ARGS` through the real kubectl; the CompletedProcess."""
        p = subprocess.run(["kubectl", "pgwarden", *args], env=env or self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl pgwarden {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def status(self):
        return json.loads(self.plugin("status", "pg", "-n", NS, "-o", "json").stdout)

    def sql(self, sql, *flags):
        return self.plugin("psql", "pg", "-n", NS, *flags, "--", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout.strip()

    def streaming(self, s):
        for i in s["instances"]:
            self.assertEqual(i["state"], "running" if i["role"] == "primary" else "streaming", i)
        return s

    def test_1_status(self):
        listed = subprocess.run(["kubectl", "plugin", "list"], env=self.env, capture_output=True, text=True)
        self.assertIn(os.path.join(self.dir, "kubectl-pgwarden"), listed.stdout)
        # A replica that just started runs before it streams: Patroni's next loop says so.
        s = retry(lambda: self.streaming(self.status()), 60, "the replica streaming")
        self.assertEqual((s["name"], s["namespace"], s["phase"], s["postgresVersion"]), ("pg", NS, "Running", 15))
        roles = {i["name"]: i["role"] for i in s["instances"]}
        self.assertEqual(sorted(roles), ["pg-0", "pg-1"])
        self.assertEqual(sorted(roles.values()), ["primary", "replica"])
        self.assertEqual(roles[s["primary"]], "primary")
        for i in s["instances"]:
            self.assertTrue(i["ready"], i)
            self.assertIsInstance(i["timeline"], int)
        self.assertEqual([x["name"] for x in s["services"]], ["pg", "pg-ro", "pg-r", "pg-pods"])
        self.assertEqual(s["connection"]["secret"], "pg-app")
        self.assertIn("BackupReady", [c["type"] for c in s["conditions"]])

        text = self.plugin("status", "pg", "-n", NS).stdout
        self.assertIn("Phase:      Running", text)
        for i in s["instances"]:
            self.assertRegex(text, rf"\n{i['name']} +{i['role']} +true +{i['state']} ")
        print("\n" + text, flush=True)

        p = self.plugin("status", "nope", "-n", NS, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f'error: cluster "nope" not found in namespace "{NS}"', p.stderr)
        p = self.plugin("status", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: kubectl pgwarden status CLUSTER", p.stderr)

        # kubectl's lookup: a merged $KUBECONFIG whose current context is a ServiceAccount's bearer token
        # without rights (Forbidden, the API's words), and --context picking the admin's client certificate.
        token = self.tb.kubectl("create", "token", "default", "-n", NS).stdout.strip()
        viewer = os.path.join(self.dir, "viewer.kubeconfig")
        with open(viewer, "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: viewer\n"
                    "clusters: [{name: viewer, cluster: {server: 'https://127.0.0.1:6443', "
                    f"certificate-authority: {os.path.dirname(self.tb.kubeconfig)}/ca.crt}}}}]\n"
                    f"users: [{{name: viewer, user: {{token: {token}}}}}]\n"
                    f"contexts: [{{name: viewer, context: {{cluster: viewer, user: viewer, namespace: {NS}}}}}]\n")
        merged = dict(self.env, KUBECONFIG=f"{viewer}:{self.tb.kubeconfig}")
        p = self.plugin("status", "pg", check=False, env=merged)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Error from server (Forbidden):", p.stderr)
        self.assertIn(f'User "system:serviceaccount:{NS}:default" cannot get resource "postgresclusters"', p.stderr)
        self.assertNotIn(token, p.stderr)
        p = self.plugin("status", "pg", "--context", "testbed", "-n", NS, "-o", "json", env=merged)
        self.assertEqual(json.loads(p.stdout)["phase"], "Running")
        p = self.plugin("--kubeconfig", viewer, "status", "pg", check=False, env=dict(self.env, KUBECONFIG=""))
        self.assertIn("Error from server (Forbidden):", p.stderr)

    def test_2_psql(self):
        password = self.tb.secret_value(NS, "pg-app", "password")
        primary = self.status()["primary"]
        p = self.plugin("psql", "pg", "-n", NS, "--", "-XAtq", "-c",
                        "SELECT pg_is_in_recovery(), current_user, current_database(), inet_server_addr()")
        recovery, user, db, addr = p.stdout.strip().split("|")
        self.assertEqual((recovery, user, db), ("f", "app", "app"))
        self.assertEqual(addr, self.tb.get("pod", primary, NS)["status"]["podIP"])
        self.assertEqual(self.sql("SELECT pg_is_in_recovery()", "--replica"), "t")
        self.assertEqual(self.sql("SELECT current_user", "--superuser", "--replica"), "postgres")
        self.assertEqual(self.sql("SELECT 1", "--pooler"), "1")
        self.assertNotIn(password, p.stdout + p.stderr)
        p = self.plugin("psql", "pg", "-n", NS, "--instance", "pg-7", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('error: cluster "pg" has no instance "pg-7"', p.stderr)

    def test_3_backup(self):
        p = self.plugin("backup", "pg", "-n", NS, "--type", "full", "--wait", "--timeout", "300", timeout=330)
        name = p.stdout.strip()
        self.assertRegex(name, r"^pg-full-\d{14}$")
        self.assertIn(f"backup {name} Succeeded", p.stderr)
        b = self.tb.get("pgbackup", name, NS)
        self.assertEqual(b["spec"], {"cluster": "pg", "type": "full"})  # what examples/backup.yaml writes
        self.assertEqual(b["status"]["phase"], "Succeeded")
        listed = {x["name"]: x for x in self.status()["backups"]}
        self.assertEqual(listed[name]["phase"], "Succeeded")
        self.assertGreater(listed[name]["sizeBytes"], 0)
        self.assertRegex(self.plugin("status", "pg", "-n", NS).stdout, rf"\n{name} +full +Succeeded +\d")
        p = self.plugin("backup", "pg", "-n", NS, "--type", "weekly", check=False)
        self.assertEqual(p.returncode, 2)

    def test_4_switchover_and_restart_under_writer(self):
        w = Writer(self.tb, NS, "pg").start()
        try:
            before = self.status()["primary"]
            replica = "pg-1" if before == "pg-0" else "pg-0"
            # A bad instance is refused by the webhook, in its own words, and nothing changes.
            p = self.plugin("switchover", "pg", "pg-5", "-n", NS, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn('admission webhook "postgresclusters.validate.pgwarden.io" denied the request', p.stderr)
            self.assertIn("no such instance: pg has instances pg-0 … pg-1", p.stderr)
            p = self.plugin("restart", "pg", "pg-5", "-n", NS, check=False)
            self.assertIn("no such instance", p.stderr)
            p = self.plugin("switchover", "pg", before, "-n", NS, check=False)
            self.assertEqual(p.returncode, 1, "switching over to the primary itself")

            p = self.plugin("switchover", "pg", replica, "-n", NS, "--wait", timeout=330)
            self.assertIn(f"{replica} is the primary of pg", p.stdout)
            retry(lambda: self.assertEqual(self.sql("SELECT pg_is_in_recovery()"), "f"), 60, "psql on the new primary")
            w.wait_acks_after(time.time())

            uid = self.tb.get("pod", before, NS)["metadata"]["uid"]
            self.assertIn(f"restart of {before} requested", self.plugin("restart", "pg", before, "-n", NS).stdout)

            def restarted():
                c, pod = self.tb.get("pgc", "pg", NS), self.tb.get("pod", before, NS)
                return (pod is not None and pod["metadata"]["uid"] != uid and c["status"].get("readyInstances") == 2
                        and "pgwarden.io/restart" not in c["metadata"].get("annotations", {}))
            wait_for(restarted, 300, 1.0, what=f"{before} restarted")
            wait_cluster(self.tb, NS, "pg", 2)
            w.wait_acks_after(time.time())
        finally:
            w.stop()
        self.assertGreater(w.verify(), 0)
        # A measured figure, not an assertion: the longest gap between acknowledged writes.
        print(f"\n  writer: {len(w.acks())} rows acknowledged, longest gap {w.longest_outage():.3f} s", flush=True)
        roles = {i["name"]: i["role"] for i in self.status()["instances"]}
        self.assertEqual(roles, {replica: "primary", before: "replica"})

    def test_5_restore(self):
        self.sql("CREATE TABLE IF NOT EXISTS pitr (v int)")
        self.plugin("backup", "pg", "-n", NS, "--wait", "--timeout", "300", timeout=330)
        self.sql("INSERT INTO pitr VALUES (1)")
        time.sleep(1.5)
        target = self.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
        time.sleep(1.5)
        self.sql("INSERT INTO pitr VALUES (2)")
        # Recovery stops at the first commit after the target: its WAL must be in the archive.
        segment = self.sql("SELECT pg_walfile_name(pg_switch_wal())", "--superuser")
        wait_for(lambda: (self.sql("SELECT last_archived_wal FROM pg_stat_archiver", "--superuser") or "") >= segment,
                 60, 0.5, what=f"WAL {segment} archived")

        p = self.plugin("restore", "pg", "--to", target, "--into", "pg-pitr", "--instances", "1", "-n", NS, "--wait",
                        "--timeout", "300", timeout=330)
        self.assertEqual(p.stdout.strip(), "pg-pitr")
        r = self.tb.get("pgrestore", "pg-pitr", NS)
        self.assertEqual(r["spec"], {"source": {"cluster": "pg"}, "target": {"time": target},
                                     "newCluster": {"instances": 1, "name": "pg-pitr"}})  # the name: admission's default
        self.assertEqual(r["status"]["phase"], "Succeeded")
        wait_cluster(self.tb, NS, "pg-pitr", 1, timeout=180)
        rows = retry(lambda: self.plugin("psql", "pg-pitr", "-n", NS, "--", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c",
                                         "SELECT string_agg(v::text, ',' ORDER BY v) FROM pitr").stdout.strip(),
                     60, "reading the restored cluster")
        self.assertEqual(rows, "1")

    def test_6_logs(self):
        # The process kubelet serves container logs: Patroni's and PostgreSQL's own lines come back.
        primary = self.status()["primary"]
        p = self.plugin("logs", "pg", primary, "-n", NS)
        self.assertRegex(p.stdout, r"UTC \[\d+\] LOG:  starting PostgreSQL 15\.")
        self.assertIn(f"INFO: no action. I am ({primary}), the leader with the lock", p.stdout)
        tail = self.plugin("logs", "pg", primary, "--tail", "5", "-n", NS).stdout
        self.assertEqual(len(tail.splitlines()), 5, tail)
        # Every instance, each line prefixed with its pod (kubectl's 10 last lines per pod for a selector).
        lines = self.plugin("logs", "pg", "-n", NS).stdout.splitlines()
        self.assertEqual({ln.split(" ", 1)[0] for ln in lines}, {"[pod/pg-0/postgres]", "[pod/pg-1/postgres]"})
        self.assertIn("[pod/pg-0/exporter]", self.plugin("logs", "pg", "-c", "exporter", "-n", NS).stdout)

        # -f: a line PostgreSQL logs after the stream started arrives.
        marker = f"pgw-follow-{time.time_ns()}"
        f = subprocess.Popen(["kubectl", "pgwarden", "logs", "pg", primary, "-f", "--tail", "1", "-n", NS],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stop = threading.Timer(60, f.kill)  # a stream that never brings the line ends the test, not hangs it
        stop.start()
        try:
            self.assertTrue(f.stdout.readline())  # the stream is open
            self.sql(f"DO $$BEGIN RAISE LOG '{marker}'; END$$")
            while marker not in (line := f.stdout.readline()):
                self.assertTrue(line, "the stream ended before the logged line came")
            self.assertRegex(line, rf"UTC \[\d+\] LOG:  {marker}$")
        finally:
            stop.cancel()
            f.kill()
            f.communicate()

        p = self.plugin("logs", "nope", "-n", NS, check=False)
        self.assertIn('error: cluster "nope" not found', p.stderr)
        self.assertIn("usage: kubectl pgwarden logs", self.plugin("logs", "-h").stdout)


if __name__ == "__main__":
    unittest.main()
