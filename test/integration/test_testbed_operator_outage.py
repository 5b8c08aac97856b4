"""pgwarden down, the database up: an operator outage on the real test bed.

Patroni, not pgwarden, keeps the database available, and scheduled backups are
CronJobs, so with pgwarden scaled to 0 a 3-instance cluster keeps serving reads
and writes, fails over when its primary is lost, and takes its scheduled
backups. What stops is what needs the webhook: a database pod cannot be created
(failurePolicy Fail, so no pod starts without its sidecars), and nothing else in
the cluster is affected (the webhook's objectSelector). When pgwarden returns,
the cluster converges (the missing pod is made, status names the new primary
and the last backup) with a handful of writes, not a storm.

A writer runs throughout; at the end every acknowledged row is there, but for the
last ones the crashed primary acknowledged (asynchronous replication).
The test stops the operator for everyone on the test bed, so it runs alone.
"""
import json
import time
import unittest

from pgwriter import Writer, resolve_with_tb
from standin import wait_for
from testbed import NamespaceTestCase, retry, wait_cluster

NS = "tb-outage"
CLUSTER = f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: steady, namespace: {NS}}}
spec:
  postgresVersion: 15
  instances: 3
  storage: {{size: 1Gi}}
  backup:
    repository:
      volume: {{size: 2Gi}}
    schedules:
      - {{name: minutely, schedule: "* * * * *", type: incr}}
"""
PLAIN_POD = f"""apiVersion: v1
kind: Pod
metadata: {{name: bystander, namespace: {NS}}}
spec:
  containers:
    - {{name: sh, image: docker.io/library/busybox, command: [sleep, "3600"]}}
"""


class OperatorOutage(NamespaceTestCase):
    NS = NS

    def scale_operator(self, replicas):
        self.tb.kubectl("-n", "pgwarden-system", "scale", "deployment/pgwarden", f"--replicas={replicas}")
        if replicas == 0:
            wait_for(lambda: not self.tb.kubectl("get", "pods", "-n", "pgwarden-system", "-o", "name").stdout.strip(),
                     120, 0.5, what="no operator pod left")
        else:
            self.tb.kubectl("-n", "pgwarden-system", "rollout", "status", "deployment/pgwarden", "--timeout=180s",
                            timeout=200)

    def leader(self):
        ep = self.tb.get("endpoints", "steady", NS) or {}
        return ep.get("metadata", {}).get("annotations", {}).get("leader")

    def status(self):
        return (self.tb.get("pgc", "steady", NS) or {}).get("status", {})


    def scheduled_jobs_done_after(self, t):
        jobs = json.loads(self.tb.kubectl("get", "jobs", "-n", NS, "-o", "json").stdout)["items"]
        done = []
        for j in jobs:
            owners = j["metadata"].get("ownerReferences") or [{}]
            if owners[0].get("kind") != "CronJob" or not j.get("status", {}).get("succeeded"):
                continue
            if j["status"].get("completionTime", "") >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)):
                done.append(j)
        return done

    def test_the_database_lives_on_without_pgwarden(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(tb, NS, "steady", 3)
        wait_for(lambda: any(c["type"] == "BackupReady" and c["status"] == "True"
                             for c in self.status().get("conditions", [])), 180, 1.0, what="BackupReady")
        writer = Writer(tb, NS, "steady").start()
        self.downed = None
        try:
            self.outage(writer)
        finally:
            writer.stop()
            if self.downed:  # a lost pod is never deleted: its namespace would stay Terminating
                tb.pod_up(NS, self.downed)
            if not tb.operator_pods():
                self.scale_operator(2)
        # Asynchronous replication: a crashed primary may take the last commits it acknowledged
        # with it (bounded by maximum_lag_on_failover; docs/reliability.md §13). Every missing row
        # must be one the lost primary acknowledged before it went; none acknowledged since.
        lost, acked = writer.lost()
        by_id = {a[0]: a for a in writer.acks()}
        unexplained = [i for i in lost if by_id[i][2] != self.lost_ip or by_id[i][1] > self.t_fail]
        self.assertEqual(unexplained, [], f"acknowledged rows lost beyond the crashed primary's last ones: {lost[:10]}")
        self.assertGreater(acked, 100)
        print(f"\n{acked} rows acknowledged, {len(lost)} lost with the crashed primary; write outages over 1 s: "
              f"{[(round(g[1], 1), g[2], g[3]) for g in writer.outages(1.0)]}")

    def outage(self, writer):
        tb = self.tb
        self.scale_operator(0)
        t_down = time.time()

        # Reads and writes go on.
        writer.wait_acks_after(t_down, 100)
        password = tb.secret_value(NS, "steady-app", "password")
        replica = resolve_with_tb(tb, NS, "steady-ro")
        self.assertEqual(tb.psql(replica, "SELECT pg_is_in_recovery()", user="app", password=password, db="app"), "t")

        # A scheduled backup runs from its CronJob. (Before the failover: a backup Job that starts
        # while an instance is lost waits minutes for its pgBackRest server to answer.)
        wait_for(lambda: self.scheduled_jobs_done_after(t_down), 150, 2.0, what="a scheduled backup Job after the outage began")

        # A failover: Patroni elects a new primary with no operator, and writes resume on it.
        old = self.leader()
        self.lost_ip = tb.get("pod", old, NS)["status"]["podIP"]
        t_fail = time.time()
        self.downed = old
        tb.pod_down(NS, old)  # its processes die, the apiserver hears nothing: node loss for one pod
        self.t_fail = time.time()  # nothing acknowledged by it after this
        new = wait_for(lambda: (lambda l: l if l and l != old else None)(self.leader()), 90, 0.2,
                       what="a new leader")
        writer.wait_acks_after(t_fail, 50, timeout=120)
        self.assertIn(new, ("steady-0", "steady-1", "steady-2"))

        # A database pod cannot be created without the webhook; anything else can.
        victim = next(n for n in ("steady-0", "steady-1", "steady-2") if n not in (old, new))
        tb.kubectl("delete", "pod", victim, "-n", NS, "--wait=true", "--timeout=120s", timeout=150)

        def refused():
            evs = json.loads(tb.kubectl("get", "events", "-n", NS, "--field-selector",
                                        "involvedObject.kind=StatefulSet,reason=FailedCreate", "-o", "json").stdout)
            return [e for e in evs["items"] if victim in e.get("message", "") and "webhook" in e.get("message", "")]
        events = wait_for(refused, 90, 1.0, what=f"FailedCreate of {victim} (webhook unreachable)")
        self.assertIn("pgwarden", events[0]["message"])
        self.assertIsNone(tb.get("pod", victim, NS))
        tb.kubectl("apply", "-f", "-", stdin=PLAIN_POD)
        wait_for(lambda: (tb.get("pod", "bystander", NS) or {}).get("status", {}).get("phase") == "Running", 60, 0.5,
                 what="an unrelated pod running while pgwarden is down")
        tb.kubectl("delete", "pod", "bystander", "-n", NS, "--wait=false")
        writer.wait_acks_after(time.time(), 20)

        # pgwarden returns: the cluster converges without a write storm.
        tb.pod_up(NS, old)
        self.downed = None
        offset = tb.audit_offset()
        t_up = time.time()
        self.scale_operator(2)
        wait_cluster(tb, NS, "steady", 3, timeout=300)
        wait_for(lambda: self.status().get("primary") == self.leader(), 60, 0.5, what="status.primary = the leader")
        last_job = max(j["status"]["completionTime"] for j in self.scheduled_jobs_done_after(t_down))
        wait_for(lambda: (self.status().get("lastBackup") or "") >= last_job, 120, 1.0, what="status.lastBackup moved")
        converged = time.time()
        writes = tb.writes_since(offset, namespace=NS)
        print(f"\npgwarden back: converged in {converged - t_up:.1f} s with {len(writes)} writes")
        self.assertLessEqual(len(writes), 40, "\n".join(writes))
        # Then quiet: in 30 s only status updates and events (a minutely backup moves lastBackup).
        quiet = tb.audit_offset()
        time.sleep(30)
        noisy = [w for w in tb.writes_since(quiet, namespace=NS)
                 if "/status " not in w and "/events" not in w]
        self.assertEqual(noisy, [], "writes after convergence")
        writer.wait_acks_after(t_up, 50)


if __name__ == "__main__":
    unittest.main()
