"""Faults the real control plane produces, with pgwarden deployed as users deploy it.

- kube-apiserver restarts: every watch drops, and the new apiserver's watch
  cache answers the operator's old resourceVersions with 410 Gone; the
  operator lists again and acts on what changed after.
- etcd restarts under a running database: the apiserver fails requests for a
  few seconds; the operator and Patroni ride it out.
- The leader replica is cut off from the network (its pod's interface goes
  down): it stops writing, the other replica takes the Lease only after it
  expires, and no write from the old leader lands after the new one's first.

The faults a real apiserver cannot produce on demand (409 storms, 5xx and 429
bursts, slow answers) stay on the stand-in: test_e2e_controller_faults.
These tests stop shared components, so they run alone (ctest runs the suite
one module at a time).
"""
import json
import os
import subprocess
import time
import unittest

from standin import wait_for
from testbed import DIR, NamespaceTestCase, script, wait_cluster

NS = "tb-faults"


def cluster(name, extra=""):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {name}, namespace: {NS}}}\n"
            f"spec:\n  postgresVersion: 15\n  storage: {{size: 1Gi}}\n{extra}")


class ControlPlaneFaults(NamespaceTestCase):
    NS = NS

    def operator_restarts(self):
        return {p["metadata"]["name"]: sum(s["restartCount"] for s in p["status"].get("containerStatuses", []))
                for p in self.tb.operator_pods()}

    def operator_log(self, pod):
        info = self.tb.pod_info("pgwarden-system", pod)
        with open(info["containers"]["pgwarden"]["log"], errors="replace") as f:
            return f.read()

    def api_ready(self):
        p = subprocess.run(["curl", "-fsS", "--cacert", os.path.join(DIR, "pki", "ca.crt"), "--cert",
                            os.path.join(DIR, "pki", "admin.crt"), "--key", os.path.join(DIR, "pki", "admin.key"),
                            "https://127.0.0.1:6443/readyz"], capture_output=True, text=True)
        return p.returncode == 0

    def leader_pod(self):
        lease = self.tb.get("lease", "pgwarden-controller", "pgwarden-system")
        holder = (lease or {}).get("spec", {}).get("holderIdentity") or ""
        for p in self.tb.operator_pods():
            if holder.startswith(p["metadata"]["name"] + "_") or holder == p["metadata"]["name"]:
                return p["metadata"]["name"], p["status"]["podIP"]
        return None

    def test_apiserver_restart_drops_watches_and_the_operator_catches_up(self):
        tb = self.tb
        before = self.operator_restarts()
        leader, _ = wait_for(self.leader_pod, 60, 1.0, what="an operator leader")
        log_before = len(self.operator_log(leader))
        script("stop", "kube-apiserver")
        time.sleep(5)
        script("start", "kube-apiserver")
        wait_for(self.api_ready, 60, 0.5, what="kube-apiserver ready again")
        # A cluster created after the restart is reconciled: the operator's watches are back.
        wait_for(lambda: tb.kubectl("apply", "-f", "-", stdin=cluster("after-restart"), check=False).returncode == 0,
                 60, 1.0, what="admission back (webhook endpoints known to the new apiserver)")
        wait_cluster(tb, NS, "after-restart", 1, timeout=180)
        # What the operator saw: its watches were cut, and resumed or listed again (410 Gone).
        leader_now = self.leader_pod()[0]
        log = self.operator_log(leader_now)[log_before if leader_now == leader else 0:]
        self.assertRegex(log, r"watch (failed; backing off|expired \(410 Gone\); listing again)")
        self.assertEqual(self.operator_restarts(), before, "no operator container restarted")

    def test_etcd_restart_under_a_running_database(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=cluster("through-etcd"))
        c = wait_cluster(tb, NS, "through-etcd", 1, timeout=180)
        pod = tb.get("pod", c["status"]["primary"], NS)
        su = tb.secret_value(NS, "through-etcd-superuser", "password")
        tb.psql(pod["status"]["podIP"], "CREATE TABLE t (v int)", password=su)
        # The database keeps taking writes while the DCS is away, longer than retry_timeout (5 s):
        # Patroni's failsafe mode, once the leader key carries the failsafe topology (written by
        # the leader's first loop; before that a primary demotes itself after retry_timeout, as a
        # clean-clone CI run showed) and Patroni has read it back at its next loop.
        wait_for(lambda: pod["metadata"]["name"] in ((tb.get("endpoints", "through-etcd", NS) or {})
                                                     .get("metadata", {}).get("annotations", {}).get("failsafe", "")),
                 60, 0.5, what="the failsafe topology on Patroni's leader key")
        time.sleep(6)  # one loop_wait
        script("stop", "etcd")
        try:
            for v in range(3):
                tb.psql(pod["status"]["podIP"], f"INSERT INTO t VALUES ({v})", password=su)
                time.sleep(3)
        finally:
            script("start", "etcd")  # the other tests need it, whatever happened here
        wait_for(self.api_ready, 60, 0.5, what="kube-apiserver ready with etcd back")
        # A spec change after the outage reaches Patroni's configuration. The operator's readiness
        # follows its caBundle check, which fails while the API is away, so the webhook Service may
        # have no endpoints for a probe period or two after etcd is back: admission fails closed
        # until then, and the change is retried rather than lost.
        patch = json.dumps({"spec": {"postgres": {"parameters": {"work_mem": "12MB"}}}})
        wait_for(lambda: tb.kubectl("patch", "pgc", "through-etcd", "-n", NS, "--type=merge", "-p", patch,
                                    check=False).returncode == 0,
                 60, 1.0, what="the spec change admitted once the webhook has endpoints again")

        def pushed():
            ep = tb.get("endpoints", "through-etcd-config", NS) or {}
            cfg = json.loads(ep.get("metadata", {}).get("annotations", {}).get("config", "{}"))
            return cfg.get("postgresql", {}).get("parameters", {}).get("work_mem") == "12MB"
        wait_for(pushed, 120, 1.0, what="work_mem in Patroni's config after the etcd restart")
        self.assertEqual(tb.psql(pod["status"]["podIP"], "SELECT count(*) FROM t", password=su), "3")
        wait_cluster(tb, NS, "through-etcd", 1, timeout=120)

    def test_leader_cut_off_stops_writing_before_the_other_takes_over(self):
        tb = self.tb
        wait_for(lambda: len([p for p in tb.operator_pods() if p["status"].get("podIP")]) == 2, 120, 1.0,
                 what="two operator replicas")
        old, old_ip = wait_for(self.leader_pod, 60, 1.0, what="an operator leader")
        netns = tb.pod_info("pgwarden-system", old)["netns"]
        offset = tb.audit_offset()
        cut_at = time.time()
        subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "set", "eth0", "down"], check=True)
        try:
            new = wait_for(lambda: (lambda lp: lp if lp and lp[0] != old else None)(self.leader_pod()), 90, 0.5,
                           what="the other replica leading")
            took_over = time.time() - cut_at
            # The Lease is 15 s: the other replica may only take it once it expired.
            self.assertGreaterEqual(took_over, 10, "Lease taken before it could have expired")
            # Work that arrives now is done by the new leader. Admission may still be routed to the
            # cut-off replica until its readiness probe fails (3 x 5 s) and the endpoint goes.
            wait_for(lambda: tb.kubectl("apply", "-f", "-", stdin=cluster("while-cut"), check=False).returncode == 0,
                     60, 1.0, what="admission through the remaining replica")
            wait_for(lambda: tb.get("statefulset", "while-cut", NS), 90, 1.0, what="children of a new cluster")
        finally:
            subprocess.run(["nsenter", f"--net={netns}", "ip", "link", "set", "eth0", "up"], check=True)
        # (time, source address) of each write the operator made since the cut
        writes = [(ev["stageTimestamp"], (ev.get("sourceIPs") or [""])[0]) for ev in tb.audit_events(offset)]
        new_writes = [w for w in writes if w[1] == new[1]]
        self.assertTrue(new_writes, "the new leader wrote")
        first_new = min(w[0] for w in new_writes)
        late = [w for w in writes if w[1] == old_ip and w[0] >= first_new]
        self.assertEqual(late, [], "a write from the cut-off leader landed after the new leader's first write")
        # Back on the network, the old replica follows: the Lease stays with the new leader.
        time.sleep(6)
        self.assertEqual(self.leader_pod()[0], new[0])
        wait_cluster(tb, NS, "while-cut", 1, timeout=180)


if __name__ == "__main__":
    unittest.main()
