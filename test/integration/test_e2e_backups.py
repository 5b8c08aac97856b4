"""Backups and restores end to end on the real test bed (DESIGN.md §7, §9).

pgwarden runs as installed with `kubectl apply -k manifests/` and its shipped
RBAC. A cluster with a `volume` repository (a PVC of the test bed's default
StorageClass, a directory on this host) runs real Patroni and PostgreSQL 15 with
the pgbackrest sidecar (`pgbackrest server`, TLS on 8432). Every backup is a real
Job whose pod is a real process running `pgbackrest backup` against that server
with the client certificate of <cluster>-pgbackrest-tls; its status comes from
the termination message the kubelet reports (`pgbackrest info --set`). The
tests check what they read against pgBackRest's own `info` of the repository,
read from the host.

The cluster is made once for the class (setUpClass) and each test takes what it
needs from there, so any test runs alone. Its namespace, bk-e2e-<random>, is
deleted at the end (a fresh name per run: objects that outlive their cluster,
such as the repository's claim, are never mistaken for a previous run's).
"""
import json
import os
import re
import subprocess
import time
import unittest

from standin import wait_for
from testbed import SOURCE, Testbed, retry, wait_cluster

NS = f"bk-e2e-{os.urandom(3).hex()}"
CLUSTER = f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: orders, namespace: {NS}}}
spec:
  postgresVersion: 15
  storage: {{size: 1Gi}}
  backup:
    repository:
      volume: {{size: 2Gi}}
    schedules:
      - {{name: nightly, schedule: "0 3 * * *", type: full}}
      - {{name: hourly, schedule: "@hourly", type: incr}}
"""
LABEL = re.compile(r"^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$")
LSN = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def backup_yaml(name, type_="full", cluster="orders"):
    return f"apiVersion: pgwarden.io/v1\nkind: PostgresBackup\nmetadata: {{name: {name}, namespace: {NS}}}\n" \
           f"spec: {{cluster: {cluster}, type: {type_}}}\n"


class BackupsOnTheTestbed(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.install_pgwarden()
        cls.tb.namespace(NS)
        cls.addClassCleanup(cls.tb.delete_namespace, NS)  # also when setUpClass fails
        t0 = time.monotonic()
        p = cls.tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        assert "postgrescluster.pgwarden.io/orders created" in p.stdout, p.stdout
        wait_cluster(cls.tb, NS, "orders", 1, timeout=180)
        cls.cluster_seconds = time.monotonic() - t0
        # The stanza exists once BackupReady is True (the stanza-create Job, a real pgBackRest).
        wait_for(lambda: cls.condition_of(cls.tb, "orders", "BackupReady").get("status") == "True", 180, 1.0,
                 what="BackupReady True")

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def condition_of(tb, name, type_):
        c = tb.get("pgc", name, NS) or {}
        return next((x for x in c.get("status", {}).get("conditions", []) if x["type"] == type_), {})

    def obj(self, kind, name):
        return self.tb.get(kind, name, NS)

    def status(self, kind, name):
        return (self.obj(kind, name) or {}).get("status", {})

    def wait_phase(self, kind, name, phase, timeout=120):
        def reached():
            s = self.status(kind, name)
            if s.get("phase") in ("Succeeded", "Failed") and s.get("phase") != phase:
                raise AssertionError(f"{kind}/{name} ended {s.get('phase')}, not {phase}: {s.get('message')}")
            return s if s.get("phase") == phase else None
        return wait_for(reached, timeout, 0.5, what=f"{kind}/{name} phase {phase}")

    def apply(self, text):
        p = self.tb.kubectl("apply", "-f", "-", stdin=text, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def items(self, kind, selector):
        return json.loads(self.tb.kubectl("get", kind, "-n", NS, "-l", selector, "-o", "json").stdout)["items"]

    def event_reasons(self, kind, name):
        events = json.loads(self.tb.kubectl("get", "events", "-n", NS, "-o", "json").stdout)["items"]
        return [e["reason"] for e in events if e["involvedObject"].get("kind") == kind and e["involvedObject"].get("name") == name]

    def repo_dir(self, cluster="orders"):
        """The volume repository's stanza directory for `cluster`, on this host (the PV is a directory here)."""
        pvc = self.obj("pvc", "orders-pgbackrest-repo")
        pv = self.tb.get("pv", pvc["spec"]["volumeName"])
        return os.path.join(pv["spec"]["hostPath"]["path"], NS, cluster)

    def repo_info(self, cluster="orders"):
        """pgBackRest's own `info` of the repository, read from the host."""
        p = subprocess.run(["pgbackrest", "--config=/dev/null", f"--repo1-path={self.repo_dir(cluster)}", "--stanza=db",
                            "--log-level-console=warn", "--log-level-file=off", "--lock-path=/tmp/pgw-bk-e2e-lock",
                            "--output=json", "info"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)[0]

    def assert_stanza(self, info):
        """The stanza exists in the repository (status 0 ok, or 2 "no valid backups" before the first)."""
        self.assertEqual(info["name"], "db")
        self.assertIn(info["status"]["code"], (0, 2), info["status"])
        self.assertEqual([d["version"] for d in info["db"]], ["15"])

    def pod_of_job(self, job):
        pods = self.items("pods", f"job-name={job}")
        self.assertTrue(pods, f"no pod for Job {job}")
        return pods[0]

    def sql(self, query, cluster="orders", db="app"):
        pod = self.obj("pod", f"{cluster}-0")
        password = self.tb.secret_value(NS, f"{cluster}-superuser", "password")
        return self.tb.psql(pod["status"]["podIP"], query, password=password, db=db)

    def wait_succeeded(self, name):
        s = self.wait_phase("pgbackup", name, "Succeeded", 180)
        return s

    # --- tests --------------------------------------------------------------------------

    def test_1_schedules_stanza_and_tls(self):
        tb = self.tb
        # CronJobs: one per schedule, Forbid, the schedule's type, the job-side pgBackRest config.
        for sched, when, type_ in (("nightly", "0 3 * * *", "full"), ("hourly", "@hourly", "incr")):
            cj = self.obj("cronjob", f"orders-backup-{sched}")
            self.assertIsNotNone(cj, sched)
            spec = cj["spec"]
            self.assertEqual(spec["schedule"], when)
            self.assertEqual(spec["concurrencyPolicy"], "Forbid")
            self.assertEqual(cj["metadata"]["ownerReferences"][0]["kind"], "PostgresCluster")
            pod = spec["jobTemplate"]["spec"]["template"]
            cmd = pod["spec"]["containers"][0]["command"]
            self.assertIn(f"pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db --type={type_} backup\n", cmd[2])
            self.assertNotIn("pgwarden.io/cluster", pod["metadata"]["labels"], "Job pods are not database pods")
        # The stanza-create Job ran as a real pod and succeeded, once.
        job = self.obj("job", "orders-stanza-create")
        self.assertEqual(job["status"].get("succeeded"), 1)
        self.assertEqual(self.condition_of(tb, "orders", "BackupReady")["reason"], "StanzaCreated")
        self.assert_stanza(self.repo_info())
        # The database pod runs `pgbackrest server` with the TLS pair of <cluster>-pgbackrest-tls.
        pod = self.obj("pod", "orders-0")
        self.assertIn("pgbackrest", [c["name"] for c in pod["spec"]["containers"]])
        vol = next(v for v in pod["spec"]["volumes"] if v["name"] == "pgw-pgbackrest")
        self.assertEqual([list(s.values())[0]["name"] for s in vol["projected"]["sources"]],
                         ["orders-pgbackrest", "orders-pgbackrest-tls"])
        self.assertEqual(vol["projected"]["defaultMode"], 0o440)
        secret = self.obj("secret", "orders-pgbackrest-tls")
        self.assertEqual(sorted(secret["data"]), ["ca.crt", "client.crt", "client.key", "tls.crt", "tls.key"])
        ready = {c["name"]: c["ready"] for c in pod["status"]["containerStatuses"]}
        self.assertTrue(ready["pgbackrest"], ready)
        # The volume repository's claim is created, with no owner: backups outlive the cluster.
        pvc = self.obj("pvc", "orders-pgbackrest-repo")
        self.assertNotIn("ownerReferences", pvc["metadata"])
        self.assertEqual(pvc["status"]["phase"], "Bound")
        # A schedule removed from the spec: its CronJob goes, the other stays.
        tb.kubectl("patch", "pgc", "orders", "-n", NS, "--type=json", "-p",
                   json.dumps([{"op": "remove", "path": "/spec/backup/schedules/1"}]))
        wait_for(lambda: self.obj("cronjob", "orders-backup-hourly") is None, 60, 0.5, what="hourly CronJob deleted")
        self.assertIsNotNone(self.obj("cronjob", "orders-backup-nightly"))
        self.assertIn("ScheduleRemoved", self.event_reasons("PostgresCluster", "orders"))

    def test_2_backups_run_as_real_jobs(self):
        t0 = time.monotonic()
        with open(os.path.join(SOURCE, "examples", "backup.yaml")) as f:  # the shipped example, in this namespace
            example = f.read().replace("namespace: shop", f"namespace: {NS}")
        self.assertIn("postgresbackup.pgwarden.io/orders-before-migration created", self.apply(example).stdout)
        s = self.wait_succeeded("orders-before-migration")
        took = time.monotonic() - t0
        job = self.obj("job", "orders-before-migration")
        b = self.obj("pgbackup", "orders-before-migration")
        self.assertEqual([(r["kind"], r["uid"], r.get("controller")) for r in job["metadata"]["ownerReferences"]],
                         [("PostgresBackup", b["metadata"]["uid"], True)])
        self.assertEqual(job["status"].get("succeeded"), 1)
        # Its pod was a real process that ran pgBackRest and ended with the set's info as its message.
        pod = self.pod_of_job("orders-before-migration")
        self.assertEqual(pod["status"]["phase"], "Succeeded")
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual(term["exitCode"], 0)
        self.assertEqual(json.loads(term["message"])[0]["backup"][0]["label"], s["backupLabel"])
        # Status from the real `pgbackrest info`: label, LSNs, size, times.
        self.assertRegex(s["backupLabel"], LABEL)
        info = {x["label"]: x for x in self.repo_info()["backup"]}
        self.assertIn(s["backupLabel"], info)
        mine = info[s["backupLabel"]]
        self.assertEqual(mine["type"], "full")
        self.assertEqual((s["lsnStart"], s["lsnStop"]), (mine["lsn"]["start"], mine["lsn"]["stop"]))
        self.assertRegex(s["lsnStart"], LSN)
        self.assertEqual(s["sizeBytes"], mine["info"]["repository"]["delta"])
        self.assertGreater(s["sizeBytes"], 0)
        self.assertEqual(s["completedAt"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mine["timestamp"]["stop"])))
        self.assertRegex(s["startedAt"], RFC3339)
        self.assertIn(s["backupLabel"], s["message"])
        wait_for(lambda: (self.status("pgc", "orders").get("lastBackup") or "") >= s["completedAt"], 60, 0.5,
                 what="cluster lastBackup")
        reasons = self.event_reasons("PostgresBackup", "orders-before-migration")
        self.assertIn("BackupStarted", reasons)
        self.assertIn("BackupSucceeded", reasons)
        self.assertRegex(self.tb.kubectl("get", "pgbackup", "-n", NS).stdout,
                         r"orders-before-migration\s+Succeeded\s+full\s+orders")
        print(f"\n  full backup: PostgresBackup applied → Succeeded in {took:.1f}s", flush=True)

        # Two at once: one pgBackRest per stanza, so the second's Job starts after the first's ends.
        self.apply(backup_yaml("first", "diff") + "---\n" + backup_yaml("second", "incr"))
        first, second = self.wait_succeeded("first"), self.wait_succeeded("second")
        j1, j2 = self.obj("job", "first"), self.obj("job", "second")
        self.assertGreaterEqual(j2["metadata"]["creationTimestamp"], j1["status"]["completionTime"],
                                "the second Job was created while the first ran")
        self.assertTrue(first["backupLabel"].endswith("D") and second["backupLabel"].endswith("I"),
                        (first["backupLabel"], second["backupLabel"]))
        self.assertEqual({x["label"]: x["type"] for x in self.repo_info()["backup"]}[second["backupLabel"]], "incr")

    def test_3_failures_are_reported(self):
        # A damaged repository: pgBackRest's real error reaches the backup's status.
        base = os.path.join(self.repo_dir(), "backup", "db")
        moved = []
        try:
            for f in ("backup.info", "backup.info.copy"):
                os.rename(os.path.join(base, f), os.path.join(base, f + ".hidden"))
                moved.append(f)
            self.apply(backup_yaml("broken"))
            s = self.wait_phase("pgbackup", "broken", "Failed", 240)
        finally:
            for f in moved:
                os.rename(os.path.join(base, f + ".hidden"), os.path.join(base, f))
        self.assertIn("BackoffLimitExceeded", s["message"])
        self.assertRegex(s["message"], r"ERROR: \[\d+\]")
        self.assertIn("backup.info", s["message"])
        self.assertRegex(s.get("completedAt", ""), RFC3339)
        self.assertIn("BackupFailed", self.event_reasons("PostgresBackup", "broken"))
        pods = self.items("pods", "job-name=broken")
        self.assertTrue(pods and all(p["status"]["phase"] == "Failed" for p in pods))
        # A backup of a cluster that does not exist waits, with no Job.
        self.apply(backup_yaml("nowhere", cluster="ghost"))
        s = wait_for(lambda: (lambda s: s if s.get("phase") == "Pending" else None)(self.status("pgbackup", "nowhere")),
                     60, 0.5, what="Pending")
        self.assertEqual(s["message"], "cluster ghost does not exist")
        self.assertIsNone(self.obj("job", "nowhere"))
        # A restore from a failed backup is refused; from a missing source it waits.
        self.apply(f"apiVersion: pgwarden.io/v1\nkind: PostgresRestore\nmetadata: {{name: from-broken, namespace: {NS}}}\n"
                   "spec: {source: {cluster: orders, backup: broken}}\n")
        s = self.wait_phase("pgrestore", "from-broken", "Failed", 60)
        self.assertEqual(s["message"], "backup broken failed; restore from another one")
        self.assertIsNone(self.obj("pgc", "from-broken"))
        # The repository is whole again: the next backup succeeds.
        self.apply(backup_yaml("after-repair", "incr"))
        self.wait_succeeded("after-repair")

    def test_4_scheduled_backup_runs(self):
        # A schedule that fires every minute: the CronJob controller makes the Job, with no operator involved.
        before = self.status("pgc", "orders").get("lastBackup") or ""
        self.tb.kubectl("patch", "pgc", "orders", "-n", NS, "--type=json", "-p", json.dumps(
            [{"op": "add", "path": "/spec/backup/schedules/-",
              "value": {"name": "minutely", "schedule": "*/1 * * * *", "type": "full"}}]))
        try:
            cj = wait_for(lambda: self.obj("cronjob", "orders-backup-minutely"), 60, 0.5, what="CronJob")
            self.assertEqual(cj["spec"]["schedule"], "*/1 * * * *")

            def succeeded_job():
                jobs = [j for j in self.items("jobs", "pgwarden.io/backup-schedule=minutely")
                        if j.get("status", {}).get("succeeded")]
                return jobs[0] if jobs else None
            job = wait_for(succeeded_job, 150, 1.0, what="a scheduled backup Job succeeded")
            self.assertEqual(job["metadata"]["ownerReferences"][0]["kind"], "CronJob")
            pod = self.pod_of_job(job["metadata"]["name"])
            self.assertEqual(pod["status"]["phase"], "Succeeded")
            label = json.loads(pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"])[0]["backup"][0]["label"]
            self.assertRegex(label, r"^\d{8}-\d{6}F$")
            self.assertIn(label, [x["label"] for x in self.repo_info()["backup"]])
            # The cluster's lastBackup follows the scheduled run.
            done = job["status"]["completionTime"]
            wait_for(lambda: (self.status("pgc", "orders").get("lastBackup") or "") >= max(done, before), 60, 0.5,
                     what="lastBackup after the scheduled backup")
        finally:
            self.tb.kubectl("patch", "pgc", "orders", "-n", NS, "--type=merge", "-p",
                            json.dumps({"spec": {"backup": {"schedules": [
                                {"name": "nightly", "schedule": "0 3 * * *", "type": "full"}]}}}))
        wait_for(lambda: self.obj("cronjob", "orders-backup-minutely") is None, 60, 0.5, what="minutely CronJob deleted")

    def test_5_point_in_time_restore(self):
        # A base backup, then two writes with a known moment between them.
        self.apply(backup_yaml("base"))
        self.wait_succeeded("base")
        self.sql("CREATE TABLE IF NOT EXISTS pitr (v int)")
        self.sql("INSERT INTO pitr VALUES (1)")
        time.sleep(1.5)
        target = self.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
        time.sleep(1.5)
        self.sql("INSERT INTO pitr VALUES (2)")
        # Recovery stops at the first commit after the target: its WAL must be in the archive.
        segment = self.sql("SELECT pg_walfile_name(pg_switch_wal())")
        wait_for(lambda: (self.sql("SELECT last_archived_wal FROM pg_stat_archiver") or "") >= segment, 60, 0.5,
                 what=f"WAL {segment} archived")
        source_before = self.obj("pgc", "orders")

        t0 = time.monotonic()
        self.apply(f"apiVersion: pgwarden.io/v1\nkind: PostgresRestore\nmetadata: {{name: orders-pitr, namespace: {NS}}}\n"
                   f"spec:\n  source: {{cluster: orders}}\n  target: {{time: \"{target}\"}}\n")
        s = self.wait_phase("pgrestore", "orders-pitr", "Succeeded", 300)
        took = time.monotonic() - t0
        self.assertEqual(s["clusterName"], "orders-pitr")
        self.assertEqual(s["restoredTo"], f"time {target}")
        self.assertIn("ClusterCreated", self.event_reasons("PostgresRestore", "orders-pitr"))
        c = wait_cluster(self.tb, NS, "orders-pitr", 1, timeout=120)
        self.assertEqual(c["spec"]["bootstrap"], {"restore": {"fromCluster": "orders", "target": {"time": target}}})
        self.assertEqual(c["metadata"]["labels"]["pgwarden.io/restore"], "orders-pitr")
        self.assertNotIn("ownerReferences", c["metadata"])
        # Exactly the rows committed before the target, on a primary that accepts writes.
        rows = retry(lambda: self.sql("SELECT string_agg(v::text, ',' ORDER BY v) FROM pitr", cluster="orders-pitr"), 60,
                     "reading the restored cluster")
        self.assertEqual(rows, "1")
        self.assertEqual(self.sql("SELECT pg_is_in_recovery()", cluster="orders-pitr"), "f")
        self.sql("INSERT INTO pitr VALUES (3)", cluster="orders-pitr")
        # Its own pgBackRest TLS (a CA of its own), the source's repository claim, its own stanza path.
        mine = self.obj("secret", "orders-pitr-pgbackrest-tls")
        self.assertNotEqual(mine["data"]["ca.crt"], self.obj("secret", "orders-pgbackrest-tls")["data"]["ca.crt"])
        pod = self.obj("pod", "orders-pitr-0")
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                  if "persistentVolumeClaim" in v}
        self.assertEqual(claims["pgw-repo"], "orders-pgbackrest-repo")
        self.assertIsNone(self.obj("pvc", "orders-pitr-pgbackrest-repo"))
        wait_for(lambda: self.condition_of(self.tb, "orders-pitr", "BackupReady").get("status") == "True", 120, 1.0,
                 what="the restored cluster's stanza")
        self.assert_stanza(self.repo_info("orders-pitr"))
        # The source is untouched: same spec and generation, both rows.
        source_after = self.obj("pgc", "orders")
        self.assertEqual(source_after["spec"], source_before["spec"])
        self.assertEqual(source_after["metadata"]["generation"], source_before["metadata"]["generation"])
        self.assertEqual(self.sql("SELECT string_agg(v::text, ',' ORDER BY v) FROM pitr"), "1,2")
        print(f"\n  PITR: PostgresRestore applied → Succeeded in {took:.1f}s", flush=True)

    def test_9_repository_outlives_its_cluster(self):
        # Deleting the cluster leaves its backups: the claim has no owner for the garbage collector.
        self.apply(backup_yaml("last-one"))
        self.wait_succeeded("last-one")
        labels = [x["label"] for x in self.repo_info()["backup"]]
        for name in [c["metadata"]["name"] for c in self.items("pgc", "pgwarden.io/restore")]:
            self.tb.kubectl("delete", "pgc", name, "-n", NS, "--wait=false")
        self.tb.kubectl("delete", "pgc", "orders", "-n", NS, "--timeout=120s")
        wait_for(lambda: not self.items("statefulsets", "app.kubernetes.io/instance=orders"), 120, 1.0,
                 what="the cluster's children collected")
        time.sleep(3)  # give the garbage collector a moment to act on anything it would
        pvc = self.obj("pvc", "orders-pgbackrest-repo")
        self.assertIsNotNone(pvc, "the repository went with the cluster")
        self.assertIsNone(pvc["metadata"].get("deletionTimestamp"))
        self.assertEqual([x["label"] for x in self.repo_info()["backup"]], labels)


if __name__ == "__main__":
    unittest.main()
