"""Controller fault tests against the stand-in (DESIGN.md §9): dropped watches,
an API server restart, a 409 storm, two controller processes of which exactly
one writes (and the other takes over when the first stops), 5xx and 429
bursts, responses slower than the client's timeout, and a leader cut off from
the API in the middle of its work (it must stop writing before the other
replica can take the Lease: never two writers).
"""
import json
import os
import re
import time
import unittest

from standin import wait_for
from standin_e2e import E2EBase, NS, Serve, free_port


# A stand-in request log line: method, path, status and the authenticated user.
REQUEST = re.compile(r'"(POST|PUT|PATCH|DELETE) (/[^ ]*) HTTP/1.1" (\d+) \S+ user=(\S+)')


class ControllerFaults(E2EBase):
    # Each replica of test 7 authenticates as its own user, so the log tells their requests apart.
    standin_args = ["--token", "replica-a-token=replica-a", "--token", "replica-b-token=replica-b"]

    def kubeconfig_as(self, token):
        with open(self.k.kubeconfig) as f:
            text = re.sub(r"token: \S+", f"token: {token}", f.read())
        path = os.path.join(self.tmp, f"kubeconfig-{token}")
        with open(path, "w") as f:
            f.write(text)
        return path

    def replace_replicas(self, *specs):
        """Stops every running replica, then starts one per (identity, kubeconfig, env); the first serves admission."""
        for s in [self.serve] + self.extra:
            self.assertEqual(s.stop(), 0)
        self.extra.clear()
        started = []
        for i, (identity, kubeconfig, env) in enumerate(specs):
            r = Serve(kubeconfig, self.tmp, self.hook_port if i == 0 else free_port(), identity, env)
            wait_for(r.ready, 30, 0.2, what=f"{identity} ready")
            started.append(r)
        type(self).serve = started[0]
        self.extra.extend(started[1:])
        return started

    def create(self, name, extra=""):
        p = self.apply_yaml(self.cluster_yaml(name, extra))
        self.assertEqual(p.returncode, 0, p.stderr)

    def converge(self, name, instances=1):
        self.play_patroni(name)
        c = self.wait_running(name, instances, timeout=60)

        # Converged also means the controller's settings reached Patroni's dynamic configuration
        # (a push that met a fault is retried after the status already says Running).
        def pushed():
            ep = self.get("endpoints", f"{name}-config") or {}
            config = json.loads((ep.get("metadata", {}).get("annotations") or {}).get("config") or "{}")
            return config.get("loop_wait") == 5 and "pg_hba" in config.get("postgresql", {})
        wait_for(pushed, 60, 0.2, what=f"{name}'s settings in Patroni's dynamic configuration "
                 f"({(self.get('endpoints', f'{name}-config') or {}).get('metadata', {}).get('annotations')})")
        return c

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

    def test_5_error_bursts(self):
        # Each burst lands right after a create: reconcile writes, reads, watches and lease renewals all meet it.
        for i, code in enumerate((500, 503, 429)):
            name = f"fw5{'abc'[i]}"
            self.create(name)
            self.k.faults(errorNext=12, errorCode=code)
            wait_for(lambda: self.k.faults()["errorNext"] == 0, 60, 0.2, what=f"the {code} burst consumed")
            self.converge(name)
        self.k.faults(errorCode=503)
        self.assertEqual(self.quiet_writes(), [])
        for name in ("fw5a", "fw5b", "fw5c"):
            self.assertEqual(self.get("statefulset", name)["spec"]["replicas"], 1)

    def test_6_slow_responses_beyond_timeout(self):
        # One replica whose requests give up after 1 s; the API then answers every request after 1.5 s
        # (and still carries the writes out, as an API server does for a client that went away).
        (a,) = self.replace_replicas(("replica-a6", self.k.kubeconfig, {"PGWARDEN_KUBE_API_TIMEOUT_MS": "1000"}))
        wait_for(lambda: a.metric("pgwarden_is_leader") == 1, 30, 0.2, what="replica-a6 leading")
        self.create("fw6")
        self.k.faults(delayMs=1500)
        time.sleep(6)  # the slow spell; shorter than the renew deadline, longer than many timeouts
        self.k.faults(delayMs=0)
        with open(a.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("timed out", log, "the client's timeouts must have fired during the slow spell")
        self.converge("fw6")
        self.assertEqual(self.quiet_writes(), [])
        self.assertEqual(self.get("statefulset", "fw6")["spec"]["replicas"], 1)
        self.assertEqual(a.metric("pgwarden_is_leader"), 1)

    def test_7_lease_loss_mid_reconcile(self):
        a, b = self.replace_replicas(("replica-a7", self.kubeconfig_as("replica-a-token"), None),
                                     ("replica-b7", self.kubeconfig_as("replica-b-token"), None))
        wait_for(lambda: a.metric("pgwarden_is_leader") == 1, 30, 0.2, what="replica-a7 leading")
        start = self.log_size()
        names = [f"fw7-{i}" for i in range(6)]
        for n in names:
            self.create(n)
        # Replica A is cut off from the API in the middle of that work: every request it makes fails.
        self.k.faults(errorNext=1000000, errorCode=503, onlyUser="replica-a")
        wait_for(lambda: a.metric("pgwarden_is_leader") == 0, 15, 0.2, what="replica-a7 stepping down at its renew deadline")
        wait_for(lambda: b.metric("pgwarden_is_leader") == 1, 30, 0.2, what="replica-b7 taking over once the Lease expired")
        self.k.faults(errorNext=0, onlyUser="")
        for n in names:
            self.converge(n)
        self.assertEqual(self.quiet_writes(), [])
        self.assertTrue(any('"result":"error"' in l for l in self.reconciled_lines(a)), "A was cut off mid-work")
        # Never two writers: once B has written anything, no write of A succeeds any more.
        with open(os.path.join(self.tmp, "apiserver.log"), "rb") as f:
            f.seek(start)
            writes = [(m.group(4), int(m.group(3)), m.group(2)) for m in REQUEST.finditer(f.read().decode(errors="replace"))]
        first_b = next(i for i, w in enumerate(writes) if w[0] == "replica-b")
        late = [w for w in writes[first_b:] if w[0] == "replica-a" and w[1] < 300]
        self.assertEqual(late, [], "replica A wrote after replica B took over")
        self.assertTrue(any(w[0] == "replica-a" and w[1] < 300 for w in writes[:first_b]), "A wrote before the cut")
        # And B did the rest: every cluster got its StatefulSet exactly once.
        for n in names:
            self.assertEqual(self.get("statefulset", n)["spec"]["replicas"], 1)

    def test_8_resync_restores_deleted_child(self):
        # A new leader lists each child kind once instead of reading children one by one, and a child
        # deleted behind the controller's back is applied again at the next resync.
        env = {"PGWARDEN_RESYNC_SECONDS": "2"}
        (a,) = self.replace_replicas(("replica-a8", self.k.kubeconfig, env))
        wait_for(lambda: a.metric("pgwarden_is_leader") == 1, 30, 0.2, what="replica-a8 leading")
        self.create("fw8")
        self.converge("fw8")
        start = self.log_size()
        (a,) = self.replace_replicas(("replica-a8b", self.k.kubeconfig, env))
        wait_for(lambda: a.metric("pgwarden_is_leader") == 1, 30, 0.2, what="replica-a8b leading")
        self.assertEqual(self.quiet_writes(), [])
        with open(os.path.join(self.tmp, "apiserver.log"), "rb") as f:
            f.seek(start)
            log = f.read().decode(errors="replace")
        child_reads = re.findall(r'"GET /api/v1/namespaces/db/(?:services|secrets|configmaps|serviceaccounts)/fw8[^ ]*', log)
        self.assertEqual(child_reads, [], "a primed cache reads no child one by one")
        self.assertIn('"GET /api/v1/services?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dpgwarden', log)
        self.kubectl("delete", "service", "fw8-ro", "-n", NS)
        wait_for(lambda: self.get("service", "fw8-ro"), 20, 0.2, what="fw8-ro applied again by the resync")
        self.assertEqual(self.quiet_writes(), [])


if __name__ == "__main__":
    unittest.main()
