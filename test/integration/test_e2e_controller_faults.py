"""Controller fault tests against the stand-in (DESIGN.md §9): dropped watches,
an API server restart, a 409 storm, and two controller processes of which
exactly one writes (and the other takes over when the first stops).
"""
import json
import os
import time
import unittest

from standin import wait_for
from test_e2e_controller import E2EBase, NS, Serve, free_port


class ControllerFaults(E2EBase):
    def create(self, name, extra=""):
        p = self.apply_yaml(self.cluster_yaml(name, extra))
        self.assertEqual(p.returncode, 0, p.stderr)

    def converge(self, name, instances=1):
        self.play_patroni(name)
        return self.wait_running(name, instances, timeout=60)

    def reconciled_lines(self, serve):
        with open(serve.log_path, "rb") as f:
            return [l for l in f.read().decode(errors="replace").splitlines() if '"msg":"reconciled"' in l]

    def test_1_dropped_watches(self):
        self.create("fw1")
        self.converge("fw1")
        self.k.faults(dropWatches=True)
        # Work that arrives after the drop is not lost: the watches resume.
        self.kubectl("patch", "pgc", "fw1", "-n", NS, "--type=merge", "-p", json.dumps({"spec": {"instances": 2}}))
        wait_for(lambda: (self.get("statefulset", "fw1") or {}).get("spec", {}).get("replicas") == 2, 30, 0.2,
                 what="replicas 2 after dropped watches")
        self.wait_running("fw1", 2, timeout=60)
        self.assertEqual(self.quiet_writes(), [])

    def test_2_conflict_storm(self):
        # The storm starts right after the create: the controller's writes (and lease renewals) meet it.
        self.create("fw2")
        self.k.faults(conflictNext=15)
        wait_for(lambda: self.k.faults()["conflictNext"] == 0, 60, 0.2, what="the storm consumed")
        self.converge("fw2")
        self.assertEqual(self.quiet_writes(), [])

    def test_3_apiserver_restart(self):
        self.create("fw3")
        self.converge("fw3")
        self.k.stop()
        self.k.start()  # same port, state kept; old watch versions now get 410
        wait_for(self.serve.ready, 30, 0.2, what="ready after restart")
        self.kubectl("patch", "pgc", "fw3", "-n", NS, "--type=merge", "-p",
                     json.dumps({"spec": {"postgres": {"parameters": {"jit": "off"}}}}))
        def pushed():
            ep = self.get("endpoints", "fw3-config")
            return json.loads(ep["metadata"]["annotations"]["config"])["postgresql"]["parameters"].get("jit") == "off"
        wait_for(pushed, 60, 0.2, what="parameter pushed after restart")
        self.create("fw3b")
        self.converge("fw3b")
        # Nothing is redone after recovery: steady state again.
        self.assertEqual(self.quiet_writes(), [])

    def test_4_two_controllers_one_writer(self):
        b = Serve(self.k.kubeconfig, self.tmp, free_port(), "replica-b")
        self.extra.append(b)
        wait_for(b.ready, 30, 0.2, what="replica-b ready (it checks the caBundle too)")
        lease = json.loads(self.kubectl("get", "lease", "pgwarden-controller", "-n", "pgwarden-system", "-o", "json").stdout)
        self.assertEqual(lease["spec"]["holderIdentity"], "replica-a")
        self.assertEqual(b.metric("pgwarden_is_leader"), 0)
        self.assertEqual(self.serve.metric("pgwarden_is_leader"), 1)
        self.create("fw4")
        self.converge("fw4")
        self.assertEqual(self.reconciled_lines(b), [], "the standby replica must not reconcile")
        # The leader stops (releasing the Lease): replica-b takes over and reconciles new work.
        self.assertEqual(self.serve.stop(), 0)
        wait_for(lambda: b.metric("pgwarden_is_leader") == 1, 30, 0.2, what="replica-b leading")
        # replica-a comes back (the stand-in sends admission to its port) as the standby.
        a = type(self).serve = Serve(self.k.kubeconfig, self.tmp, self.hook_port, "replica-a2")
        wait_for(a.ready, 30, 0.2, what="replica-a back")
        self.create("fw4b")
        self.converge("fw4b")
        self.assertTrue(any('"name":"fw4b"' in l for l in self.reconciled_lines(b)))
        self.assertEqual(self.reconciled_lines(a), [], "the new standby must not reconcile")
        self.assertEqual(a.metric("pgwarden_is_leader"), 0)


if __name__ == "__main__":
    unittest.main()
