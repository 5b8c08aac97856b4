"""Backups and restores end to end (DESIGN.md §7): real kubectl → kube-apiserver
stand-in → our webhook and controller in one `pgwarden serve --controller on`.

The stand-in runs no containers. Its Job step plays the kubelet's part the
controller reads: a Job finishes when the test says so (annotation
stand-in.pgwarden.io/job-result), and its pod's termination message is what the
test puts in stand-in.pgwarden.io/termination-message: here real `pgbackrest
info --output=json` output (test/fixtures/pgbackrest/info.json, narrowed to one
set as `--set` prints it), or pgBackRest's error for a failed Job. Patroni's part
(the primary's role label) is played as in test_e2e_controller.

The tests run in order and build on each other: one cluster "orders" in
namespace "shop" (the namespace of the shipped examples).
"""
import copy
import json
import os
import time
import unittest

from standin import wait_for
from test_e2e_controller import E2EBase, Serve, SOURCE

NS = "shop"
FIXTURE = os.path.join(SOURCE, "test", "fixtures", "pgbackrest", "info.json")
CLUSTER = """apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {name: orders, namespace: shop}
spec:
  storage: {size: 1Gi}
  backup:
    repository:
      volume: {size: 2Gi}
    schedules:
      - {name: nightly, schedule: "0 3 * * *", type: full}
      - {name: hourly, schedule: "@hourly", type: incr}
"""


def backup_yaml(name, type_="full", cluster="orders"):
    return f"apiVersion: pgwarden.io/v1\nkind: PostgresBackup\nmetadata: {{name: {name}, namespace: {NS}}}\n" \
           f"spec: {{cluster: {cluster}, type: {type_}}}\n"


def one_set(index):
    """`pgbackrest info --output=json --set=<label>` of the fixture's backup `index`, as compact as pgBackRest prints it."""
    with open(FIXTURE) as f:
        info = json.load(f)
    info = copy.deepcopy(info)
    info[0]["backup"] = [info[0]["backup"][index]]
    return info[0]["backup"][0], json.dumps(info, separators=(",", ":"))


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class BackupsEndToEnd(E2EBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.k.namespace(NS)
        # Jobs finish only when a test says so.
        code, out, _ = cls.k.api("POST", "/_stand-in/config", {"jobMode": "pending"})
        assert code == 200, out

    # --- helpers -----------------------------------------------------------------------

    def obj(self, kind, name):
        return self.get(kind, name, NS)

    def status(self, kind, name):
        return (self.obj(kind, name) or {}).get("status", {})

    def wait_phase(self, kind, name, phase, timeout=30):
        return wait_for(lambda: (lambda s: s if s.get("phase") == phase else None)(self.status(kind, name)), timeout, 0.2,
                        what=f"{kind}/{name} phase {phase}")

    def finish_job(self, name, result, message=None):
        """What the Job controller and the kubelet would report once the container exits."""
        args = ["annotate", "job", name, "-n", NS, "--overwrite", f"stand-in.pgwarden.io/job-result={result}"]
        if message is not None:
            args.append(f"stand-in.pgwarden.io/termination-message={message}")
        self.kubectl(*args)

    def jobs(self, selector):
        out = self.kubectl("get", "jobs", "-n", NS, "-l", selector, "-o", "json").stdout
        return json.loads(out)["items"]

    def events(self):
        return json.loads(self.kubectl("get", "events", "-n", NS, "-o", "json").stdout)["items"]

    def event_reasons(self, kind, name):
        return [e["reason"] for e in self.events() if e["involvedObject"].get("kind") == kind
                and e["involvedObject"].get("name") == name]

    def play_primary(self, name):
        wait_for(lambda: self.obj("pod", f"{name}-0"), 30, 0.2, what=f"pod {name}-0")
        self.kubectl("label", "pod", f"{name}-0", "-n", NS, "pgwarden.io/role=primary", "--overwrite")

    def wait_running(self, name, instances=1, timeout=30):
        return wait_for(lambda: (lambda c: c if c and c.get("status", {}).get("phase") == "Running" else None)(
            self.obj("pgc", name)), timeout, 0.2, what=f"{name} Running")

    def condition_of(self, name, type_):
        return self.condition(self.obj("pgc", name), type_) or {}

    def command(self, pod_spec):
        return pod_spec["containers"][0]["command"]

    # --- tests --------------------------------------------------------------------------

    def test_1_schedules_and_stanza(self):
        p = self.apply_yaml(CLUSTER)
        self.assertEqual(p.returncode, 0, p.stderr)
        # CronJobs: one per schedule, Forbid, the schedule's type, the cluster's pgBackRest config.
        for sched, when, type_ in (("nightly", "0 3 * * *", "full"), ("hourly", "@hourly", "incr")):
            cj = wait_for(lambda: self.obj("cronjob", f"orders-backup-{sched}"), 30, 0.2, what=f"CronJob {sched}")
            spec = cj["spec"]
            self.assertEqual(spec["schedule"], when)
            self.assertEqual(spec["concurrencyPolicy"], "Forbid")
            self.assertEqual(cj["metadata"]["ownerReferences"][0]["kind"], "PostgresCluster")
            pod = spec["jobTemplate"]["spec"]["template"]
            cmd = self.command(pod["spec"])
            self.assertEqual(cmd[:2], ["/bin/sh", "-c"])
            self.assertIn(f"pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db --type={type_} backup\n", cmd[2])
            self.assertIn("--output=json --set=\"$label\" info", cmd[2])
            self.assertNotIn("pgwarden.io/cluster", pod["metadata"]["labels"], "Job pods are not database pods")
        # No stanza before the cluster runs.
        c = wait_for(lambda: (lambda o: o if self.condition(o, "BackupReady") else None)(self.obj("pgc", "orders")), 30,
                     0.2, what="BackupReady")
        self.assertEqual(self.condition(c, "BackupReady")["reason"], "WaitingForCluster")
        self.assertIsNone(self.obj("job", "orders-stanza-create"))
        # Running → the stanza-create Job, once; BackupReady follows it.
        self.play_primary("orders")
        self.wait_running("orders")
        job = wait_for(lambda: self.obj("job", "orders-stanza-create"), 30, 0.2, what="stanza-create Job")
        self.assertEqual(self.command(job["spec"]["template"]["spec"]),
                         ["pgbackrest", "--config=/etc/pgbackrest/pgbackrest.conf", "--stanza=db", "stanza-create"])
        wait_for(lambda: self.condition_of("orders", "BackupReady").get("reason") == "StanzaCreating", 30, 0.2,
                 what="BackupReady StanzaCreating")
        self.assertEqual(self.condition_of("orders", "BackupReady")["status"], "False")
        self.finish_job("orders-stanza-create", "Succeeded")
        wait_for(lambda: self.condition_of("orders", "BackupReady").get("status") == "True", 30, 0.2,
                 what="BackupReady True")
        self.assertEqual(len(self.jobs("app.kubernetes.io/instance=orders")), 1)
        # A schedule removed from the spec: its CronJob goes, the other stays.
        p = self.kubectl("patch", "pgc", "orders", "-n", NS, "--type=json", "-p",
                         json.dumps([{"op": "remove", "path": "/spec/backup/schedules/1"}]))
        wait_for(lambda: self.obj("cronjob", "orders-backup-hourly") is None, 30, 0.2, what="hourly CronJob deleted")
        self.assertIsNotNone(self.obj("cronjob", "orders-backup-nightly"))
        self.assertIn("ScheduleRemoved", self.event_reasons("PostgresCluster", "orders"))

    def test_2_backup_example_succeeds(self):
        p = self.kubectl("apply", "-f", os.path.join(SOURCE, "examples", "backup.yaml"))
        self.assertIn("postgresbackup.pgwarden.io/orders-before-migration created", p.stdout)
        job = wait_for(lambda: self.obj("job", "orders-before-migration"), 30, 0.2, what="backup Job")
        b = self.obj("pgbackup", "orders-before-migration")
        self.assertEqual([(r["kind"], r["uid"], r.get("controller")) for r in job["metadata"]["ownerReferences"]],
                         [("PostgresBackup", b["metadata"]["uid"], True)])
        pod = job["spec"]["template"]["spec"]
        cmd = self.command(pod)
        self.assertIn("pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db --type=full backup\n", cmd[2])
        self.assertEqual(pod["containers"][0]["terminationMessagePath"], "/dev/termination-log")
        self.assertEqual(pod["containers"][0]["terminationMessagePolicy"], "FallbackToLogsOnError")
        running = self.wait_phase("pgbackup", "orders-before-migration", "Running")
        self.assertRegex(running["startedAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # The container ends; its termination message is the new set's info.
        want, message = one_set(1)
        self.assertLess(len(message), 4096)
        self.finish_job("orders-before-migration", "Succeeded", message)
        s = self.wait_phase("pgbackup", "orders-before-migration", "Succeeded")
        self.assertEqual(s["backupLabel"], want["label"])
        self.assertEqual(s["lsnStart"], want["lsn"]["start"])
        self.assertEqual(s["lsnStop"], want["lsn"]["stop"])
        self.assertEqual(s["sizeBytes"], want["info"]["repository"]["delta"])
        self.assertEqual(s["startedAt"], rfc3339(want["timestamp"]["start"]))
        self.assertEqual(s["completedAt"], rfc3339(want["timestamp"]["stop"]))
        self.assertIn(want["label"], s["message"])
        wait_for(lambda: self.status("pgc", "orders").get("lastBackup") == s["completedAt"], 30, 0.2,
                 what="cluster lastBackup")
        self.assertIn("BackupStarted", self.event_reasons("PostgresBackup", "orders-before-migration"))
        self.assertIn("BackupSucceeded", self.event_reasons("PostgresBackup", "orders-before-migration"))
        table = self.kubectl("get", "pgbackup", "-n", NS).stdout
        self.assertRegex(table, r"orders-before-migration\s+Succeeded\s+full\s+orders")

    def test_3_second_backup_waits_for_the_first(self):
        p = self.apply_yaml(backup_yaml("first", "diff") + "---\n" + backup_yaml("second", "incr"))
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: self.obj("job", "first"), 30, 0.2, what="Job of the first backup")
        waiting = wait_for(lambda: (lambda s: s if s.get("phase") == "Pending" and "waiting for" in s.get("message", "")
                                    else None)(self.status("pgbackup", "second")), 30, 0.2, what="second backup waiting")
        self.assertIn("first", waiting["message"])
        self.assertIsNone(self.obj("job", "second"), "no concurrent pgBackRest on one stanza")
        self.assertEqual(self.status("pgbackup", "first")["phase"], "Running")
        self.assertIn("--type=diff backup\n", self.command(self.obj("job", "first")["spec"]["template"]["spec"])[2])
        # The first ends: the second runs.
        self.finish_job("first", "Succeeded", one_set(1)[1])
        self.wait_phase("pgbackup", "first", "Succeeded")
        job = wait_for(lambda: self.obj("job", "second"), 30, 0.2, what="Job of the second backup")
        self.assertIn("--type=incr backup\n", self.command(job["spec"]["template"]["spec"])[2])
        self.wait_phase("pgbackup", "second", "Running")
        want, message = one_set(2)
        self.finish_job("second", "Succeeded", message)
        s = self.wait_phase("pgbackup", "second", "Succeeded")
        self.assertEqual(s["backupLabel"], want["label"])

    def test_4_failed_job(self):
        p = self.apply_yaml(backup_yaml("broken"))
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: self.obj("job", "broken"), 30, 0.2, what="Job")
        self.wait_phase("pgbackup", "broken", "Running")
        error = "ERROR: [056]: unable to find primary cluster - cannot proceed"
        self.finish_job("broken", "Failed", error)
        s = self.wait_phase("pgbackup", "broken", "Failed")
        self.assertIn("BackoffLimitExceeded", s["message"])
        self.assertIn(error, s["message"])
        self.assertIn("completedAt", s)
        self.assertIn("BackupFailed", self.event_reasons("PostgresBackup", "broken"))

    def test_5_backup_of_a_missing_cluster_waits(self):
        p = self.apply_yaml(backup_yaml("nowhere", cluster="ghost"))
        self.assertEqual(p.returncode, 0, p.stderr)
        s = wait_for(lambda: (lambda s: s if s.get("phase") == "Pending" else None)(self.status("pgbackup", "nowhere")), 30,
                     0.2, what="Pending")
        self.assertEqual(s["message"], "cluster ghost does not exist")
        self.assertIsNone(self.obj("job", "nowhere"))

    def test_6_restore_example(self):
        source_before = self.obj("pgc", "orders")
        p = self.kubectl("apply", "-f", os.path.join(SOURCE, "examples", "restore-pitr.yaml"))
        self.assertIn("postgresrestore.pgwarden.io/orders-pitr created", p.stdout)
        c = wait_for(lambda: self.obj("pgc", "orders-pitr"), 30, 0.2, what="the restored cluster")
        self.assertEqual(c["spec"]["bootstrap"], {"restore": {"fromCluster": "orders",
                                                              "target": {"time": "2025-06-01T09:30:00Z"}}})
        self.assertEqual(c["spec"]["backup"]["path"], "/shop/orders-pitr")
        self.assertEqual(c["spec"]["backup"]["repository"], source_before["spec"]["backup"]["repository"])
        self.assertEqual(c["metadata"]["labels"]["pgwarden.io/restore"], "orders-pitr")
        self.assertEqual(c["metadata"]["annotations"]["pgwarden.io/restored-from"], "orders")
        self.assertNotIn("ownerReferences", c["metadata"])
        s = self.wait_phase("pgrestore", "orders-pitr", "Running")
        self.assertEqual(s["clusterName"], "orders-pitr")
        # The restored cluster comes up → the restore is done.
        self.play_primary("orders-pitr")
        self.wait_running("orders-pitr")
        s = self.wait_phase("pgrestore", "orders-pitr", "Succeeded")
        self.assertEqual(s["restoredTo"], "time 2025-06-01T09:30:00Z")
        self.assertIn("orders-pitr is Running", s["message"])
        self.assertIn("ClusterCreated", self.event_reasons("PostgresRestore", "orders-pitr"))
        # The source is never touched.
        source_after = self.obj("pgc", "orders")
        self.assertEqual(source_after["spec"], source_before["spec"])
        self.assertEqual(source_after["metadata"]["generation"], source_before["metadata"]["generation"])

    def test_7_restore_checks(self):
        missing = "apiVersion: pgwarden.io/v1\nkind: PostgresRestore\nmetadata: {name: from-ghost, namespace: shop}\n" \
                  "spec: {source: {cluster: ghost}}\n"
        self.assertEqual(self.apply_yaml(missing).returncode, 0)
        s = wait_for(lambda: (lambda s: s if s.get("phase") == "Pending" else None)(self.status("pgrestore", "from-ghost")),
                     30, 0.2, what="Pending restore")
        self.assertEqual(s["message"], "source cluster ghost does not exist")
        self.assertIsNone(self.obj("pgc", "from-ghost"))
        failed = "apiVersion: pgwarden.io/v1\nkind: PostgresRestore\nmetadata: {name: from-broken, namespace: shop}\n" \
                 "spec: {source: {cluster: orders, backup: broken}}\n"
        self.assertEqual(self.apply_yaml(failed).returncode, 0)
        s = self.wait_phase("pgrestore", "from-broken", "Failed")
        self.assertEqual(s["message"], "backup broken failed; restore from another one")
        self.assertIsNone(self.obj("pgc", "from-broken"))
        taken = "apiVersion: pgwarden.io/v1\nkind: PostgresRestore\nmetadata: {name: onto-taken, namespace: shop}\n" \
                "spec: {source: {cluster: orders, backup: second}, newCluster: {name: orders-pitr}}\n"
        self.assertEqual(self.apply_yaml(taken).returncode, 0)
        s = wait_for(lambda: (lambda s: s if s.get("phase") == "Pending" else None)(self.status("pgrestore", "onto-taken")),
                     30, 0.2, what="Pending restore onto a taken name")
        self.assertIn("cluster orders-pitr already exists and was not created by this restore", s["message"])
        self.assertEqual(self.obj("pgc", "orders-pitr")["metadata"]["labels"]["pgwarden.io/restore"], "orders-pitr")

    def test_8_no_duplicates_across_a_restart(self):
        # A backup whose Job is still running while the controller restarts.
        self.assertEqual(self.apply_yaml(backup_yaml("across")).returncode, 0)
        wait_for(lambda: self.obj("job", "across"), 30, 0.2, what="Job")
        self.wait_phase("pgbackup", "across", "Running")
        rc = self.serve.stop()
        self.assertEqual(rc, 0)
        start = self.log_size()
        type(self).serve = Serve(self.k.kubeconfig, self.tmp, self.hook_port, "replica-a")
        wait_for(self.serve.ready, 30, 0.2, what="ready after the restart")
        wait_for(lambda: self.serve.metric("pgwarden_reconcile_total") > 0, 30, 0.2, what="reconciles after the restart")
        wait_for(lambda: self.serve.metric("pgwarden_workqueue_depth") == 0, 30, 0.2, what="empty queue")
        self.finish_job("across", "Succeeded", one_set(0)[1])
        s = self.wait_phase("pgbackup", "across", "Succeeded")
        self.assertEqual(s["backupLabel"], one_set(0)[0]["label"])
        # One Job per backup, one stanza Job, one restored cluster: nothing was made twice.
        for name in ("orders-before-migration", "first", "second", "broken", "across"):
            self.assertEqual(len(self.jobs(f"pgwarden.io/backup={name}")), 1, name)
        self.assertEqual(len([j for j in self.jobs("app.kubernetes.io/instance=orders")
                              if j["metadata"]["name"] == "orders-stanza-create"]), 1)
        clusters = json.loads(self.kubectl("get", "pgc", "-n", NS, "-l", "pgwarden.io/restore=orders-pitr", "-o",
                                           "json").stdout)["items"]
        self.assertEqual([c["metadata"]["name"] for c in clusters], ["orders-pitr"])
        created = [w for w in self.writes_since(start) if w.startswith('"POST') and ("/jobs" in w or "/postgresclusters" in w)]
        self.assertEqual(created, [], "no Job or cluster created after the restart")
        # The reconcile metric carries the kind.
        code, text = self.serve.get("/metrics")
        for kind in ("PostgresCluster", "PostgresBackup", "PostgresRestore"):
            self.assertIn(f'kind="{kind}"', text)
        # And the steady state makes no writes.
        self.assertEqual(self.quiet_writes(), [], "writes in steady state")


if __name__ == "__main__":
    unittest.main()
