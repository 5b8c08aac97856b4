"""The controller end to end: real kubectl → kube-apiserver stand-in → our webhook
and controller in one `pgwarden serve --controller on --kubeconfig` process.

The webhook configurations are installed WITHOUT a caBundle: the controller must
fill it in (and repair drift) before /readyz turns 200 and admission works.
Patroni does not run here, so the test plays its two parts the controller reads:
the role label on the primary pod and the `<cluster>-config` Endpoints with its
`config` annotation.

Steady state is measured from the stand-in's request log (--verbose): after
convergence, the number of write requests (POST/PUT/PATCH/DELETE) over a quiet
window must be zero.
"""
import base64
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.request

from standin import StandIn, free_port, wait_for

SOURCE = os.environ.get("PGW_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PGWARDEN = os.environ.get("PGWARDEN_BIN") or os.path.join(SOURCE, "build", "pgwarden")
NS = "db"

# The operator's own webhook configurations, exactly as shipped.
HOOK_FILES = [os.path.join(SOURCE, "manifests", "webhooks", f) for f in ("mutating-pods.yaml", "validating.yaml")]
WRITE = re.compile(r'"(POST|PUT|PATCH|DELETE) (/[^ ]*) HTTP')


class Serve:
    """`pgwarden serve --controller on` against the stand-in."""

    def __init__(self, kubeconfig, tmp, port, identity, env=None):
        self.port, self.health = port, free_port()
        self.log_path = os.path.join(tmp, f"serve-{identity}.log")
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, POD_NAME=identity, **(env or {}))
        self.proc = subprocess.Popen([PGWARDEN, "serve", "--listen", f"127.0.0.1:{port}", "--health-listen",
                                      f"127.0.0.1:{self.health}", "--cert-dir", os.path.join(tmp, "certs"),
                                      "--controller", "on", "--kubeconfig", kubeconfig, "--log-level", "info"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health}{path}", timeout=3) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"pgwarden serve exited with {self.proc.returncode}; see {self.log_path}")
        return self.get("/readyz")[0] == 200

    def metric(self, name):
        code, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class E2EBase(unittest.TestCase):
    """Stand-in + CRDs + webhook configurations + one `pgwarden serve --controller on`; helpers. No tests."""

    standin_args = []  # extra stand-in flags for a subclass

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pgw-e2e-")
        cls.hook_port = free_port()
        cls.k = StandIn(["--verbose", "--webhook-service-map", f"pgwarden-webhook.pgwarden-system=127.0.0.1:{cls.hook_port}"]
                        + cls.standin_args, tmp=cls.tmp)
        if cls.k.api("GET", "/api/v1/namespaces/pgwarden-system")[0] == 404:
            cls.k.namespace("pgwarden-system")
        cls.k.namespace(NS)
        crds = os.path.join(SOURCE, "manifests", "crds")
        cls.k.kubectl("apply", "-f", crds)
        wait_for(lambda: cls.k.kubectl("get", "pgc", "-A", check=False).returncode == 0, 20, what="CRDs served")
        cls.install_hooks()
        cls.serve = Serve(cls.k.kubeconfig, cls.tmp, cls.hook_port, "replica-a")
        wait_for(cls.serve.ready, 30, 0.2, what="/readyz 200 (caBundle in place)")
        cls.extra = []

    @classmethod
    def install_hooks(cls):
        for path in HOOK_FILES:
            cls.k.kubectl("apply", "-f", path)

    @classmethod
    def tearDownClass(cls):
        for s in [cls.serve] + cls.extra:
            rc = s.stop()
            assert rc == 0, f"pgwarden serve exited with {rc}; see {s.log_path}"
        cls.k.stop()

    # --- helpers -----------------------------------------------------------------------

    def kubectl(self, *args, **kw):
        return self.k.kubectl(*args, **kw)

    def get(self, kind, name, ns=NS):
        p = self.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def apply_yaml(self, text):
        return self.kubectl("apply", "-f", "-", stdin=text, check=False)

    def cluster_yaml(self, name, extra=""):
        return f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {name}, namespace: {NS}}}\n" \
               f"spec:\n  storage: {{size: 1Gi}}\n{extra}"

    def condition(self, obj, type_):
        for c in (obj or {}).get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return c
        return None

    def play_patroni(self, name, params=None):
        """What Patroni does after bootstrap: label the leader, write the -config endpoints."""
        wait_for(lambda: self.get("pod", f"{name}-0"), 20, what=f"pod {name}-0")
        self.kubectl("label", "pod", f"{name}-0", "-n", NS, "pgwarden.io/role=primary", "--overwrite")
        config = {"ttl": 30, "loop_wait": 10, "postgresql": {"parameters": params or {}}}
        ep = {"apiVersion": "v1", "kind": "Endpoints",
              "metadata": {"name": f"{name}-config", "namespace": NS,
                           "labels": {"pgwarden.io/cluster": name, "app.kubernetes.io/instance": name},
                           "annotations": {"config": json.dumps(config)}}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(ep))

    def writes_since(self, offset):
        with open(os.path.join(self.tmp, "apiserver.log"), "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        # Lease renewals are leader election's heartbeat, not reconcile writes.
        return [m.group(0) for m in WRITE.finditer(text)
                if not m.group(2).startswith("/_stand-in") and "/leases/" not in m.group(2)]

    def log_size(self):
        return os.path.getsize(os.path.join(self.tmp, "apiserver.log"))

    def wait_running(self, name, instances=1, timeout=30):
        def running():
            c = self.get("pgc", name)
            s = (c or {}).get("status", {})
            return c if s.get("phase") == "Running" and s.get("readyInstances") == instances and \
                s.get("observedGeneration") == c["metadata"]["generation"] else None
        return wait_for(running, timeout, 0.2, what=f"{name} Running with {instances} ready")

    def quiet_writes(self, window=4.0):
        """Writes over `window` seconds once the controller's queue is idle (bounded wait for idleness)."""
        wait_for(lambda: self.serve.metric("pgwarden_workqueue_depth") == 0, 20, what="empty work queue")
        time.sleep(1.0)  # let in-flight watch events arrive; not an assertion on timing
        start = self.log_size()
        time.sleep(window)
        return self.writes_since(start)



class ControllerEndToEnd(E2EBase):

    def ca_b64(self):
        with open(os.path.join(self.tmp, "certs", "ca.crt"), "rb") as f:
            return base64.b64encode(f.read()).decode()

    def bundles(self):
        out = {}
        for kind, name in (("mutatingwebhookconfiguration", "pgwarden-mutating"),
                           ("validatingwebhookconfiguration", "pgwarden-validating")):
            obj = json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)
            out[name] = {h["clientConfig"].get("caBundle") for h in obj["webhooks"]}
        return out

    def wait_cabundle(self):
        want = self.ca_b64()
        wait_for(lambda: all(v == {want} for v in self.bundles().values()), 20, 0.2, what="caBundles in place")
        wait_for(self.serve.ready, 20, 0.2, what="ready")
        return want

    def test_01_cabundle_filled_by_controller(self):
        want = self.ca_b64()
        self.assertEqual(self.bundles(), {n: {want} for n in ("pgwarden-mutating", "pgwarden-validating")})
        # Drift (a GitOps tool re-applies an old bundle) is repaired, and /readyz follows.
        self.kubectl("patch", "validatingwebhookconfiguration", "pgwarden-validating", "--type=json", "-p",
                     json.dumps([{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle",
                                  "value": base64.b64encode(b"not a CA").decode()}]))
        wait_for(lambda: json.loads(self.kubectl("get", "validatingwebhookconfiguration", "pgwarden-validating", "-o",
                                                 "json").stdout)["webhooks"][0]["clientConfig"]["caBundle"] == want,
                 20, 0.2, what="caBundle repaired")
        wait_for(self.serve.ready, 20, 0.2, what="ready again")

    def test_02_minimal_example_converges(self):
        p = self.kubectl("apply", "-n", NS, "-f", os.path.join(SOURCE, "examples", "cluster-minimal.yaml"))
        self.assertIn("postgrescluster.pgwarden.io/minimal created", p.stdout)
        c = self.get("pgc", "minimal")
        # Defaults applied by the mutating webhook.
        self.assertEqual(c["spec"]["postgresVersion"], 18)
        self.assertEqual(c["spec"]["instances"], 1)
        self.assertTrue(c["spec"]["pooler"]["enabled"])
        # Children with owner references.
        uid = c["metadata"]["uid"]
        children = [("statefulset", "minimal"), ("service", "minimal"), ("service", "minimal-ro"), ("service", "minimal-r"),
                    ("service", "minimal-pods"), ("service", "minimal-config"), ("poddisruptionbudget", "minimal"),
                    ("configmap", "minimal-patroni"), ("configmap", "minimal-pgbouncer"), ("secret", "minimal-superuser"),
                    ("secret", "minimal-app"), ("serviceaccount", "minimal-instance"), ("role", "minimal-instance"),
                    ("rolebinding", "minimal-instance")]
        for kind, name in children:
            obj = wait_for(lambda: self.get(kind, name), 20, 0.2, what=f"{kind}/{name}")
            refs = obj["metadata"].get("ownerReferences", [])
            self.assertEqual([(r["kind"], r["uid"], r.get("controller")) for r in refs], [("PostgresCluster", uid, True)],
                             f"{kind}/{name}")
            self.assertEqual(obj["metadata"]["labels"]["pgwarden.io/cluster"], "minimal")
            if kind != "secret":
                self.assertRegex(obj["metadata"]["annotations"]["pgwarden.io/desired-hash"], r"^[0-9a-f]{16}$")
        # The pod came through the StatefulSet step and admission: sidecars injected.
        pod = wait_for(lambda: self.get("pod", "minimal-0"), 20, 0.2, what="pod minimal-0")
        self.assertEqual([x["name"] for x in pod["spec"]["containers"]], ["postgres", "pgbouncer", "exporter"])
        self.assertRegex(pod["metadata"]["annotations"]["pgwarden.io/injected"], r"^[0-9a-f]{16}$")
        # Finalizer, conditions before a primary exists.
        c = wait_for(lambda: (lambda o: o if self.condition(o, "SidecarsInjected") and
                              self.condition(o, "SidecarsInjected")["status"] == "True" else None)(self.get("pgc", "minimal")),
                     20, 0.2, what="SidecarsInjected=True")
        self.assertIn("pgwarden.io/cleanup", c["metadata"]["finalizers"])
        self.assertEqual(self.condition(c, "Valid")["status"], "True")
        self.assertNotEqual(c["status"]["phase"], "Running")  # no primary yet
        for cond in c["status"]["conditions"]:
            self.assertEqual(cond["observedGeneration"], c["metadata"]["generation"])
        # Patroni elects the leader → Running, Ready, primary.
        self.play_patroni("minimal")
        c = self.wait_running("minimal")
        self.assertEqual(c["status"]["primary"], "minimal-0")
        self.assertEqual(self.condition(c, "Ready")["status"], "True")
        self.assertEqual(self.condition(c, "Progressing")["status"], "False")
        table = self.kubectl("get", "pgc", "-n", NS).stdout
        self.assertRegex(table, r"NAME\s+PHASE\s+INSTANCES\s+READY\s+VERSION\s+AGE")
        self.assertRegex(table, r"minimal\s+Running\s+1\s+1\s+18\s+")
        events = self.kubectl("get", "events", "-n", NS, "-o", "json").stdout
        self.assertIn("PhaseChanged", events)
        # Steady state: zero writes.
        writes = self.quiet_writes()
        self.assertEqual(writes, [], "writes in steady state")

    def test_03_invalid_rejected_with_webhook_message(self):
        p = self.kubectl("apply", "-n", NS, "-f", os.path.join(SOURCE, "examples", "invalid", "instances-zero.yaml"),
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        # The webhook denies with 422 Invalid and field causes; kubectl renders that as "... is invalid: <causes>".
        self.assertIn('The PostgresCluster "bad-instances" is invalid', p.stderr)
        self.assertIn("spec.instances: Invalid value: 0: must be between 1 and 16", p.stderr)

    def test_04_guard_marks_bypassing_object_invalid(self):
        # Written with the webhooks out of the way (as if they had been bypassed): the guard catches it.
        self.kubectl("delete", "validatingwebhookconfiguration", "pgwarden-validating")
        self.kubectl("delete", "mutatingwebhookconfiguration", "pgwarden-mutating")
        try:
            p = self.apply_yaml(self.cluster_yaml("sneaky", "  instances: 40\n"))
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            self.install_hooks()
            self.wait_cabundle()
        c = wait_for(lambda: (lambda o: o if self.condition(o, "Valid") else None)(self.get("pgc", "sneaky")), 20, 0.2,
                     what="Valid condition")
        valid = self.condition(c, "Valid")
        self.assertEqual(valid["status"], "False")
        self.assertIn("spec.instances: Invalid value: 40", valid["message"])
        self.assertEqual(c["status"]["phase"], "Failed")
        self.assertIsNone(self.get("statefulset", "sneaky"), "no action on an invalid spec")
        self.assertNotIn("pgwarden.io/cleanup", c["metadata"].get("finalizers", []))
        self.assertIn("InvalidSpec", self.kubectl("get", "events", "-n", NS, "-o", "json").stdout)
        self.kubectl("delete", "pgc", "sneaky", "-n", NS, "--wait=false")

    def test_05_parameter_change_goes_to_patroni_config(self):
        self.wait_running("minimal")
        p = self.kubectl("patch", "pgc", "minimal", "-n", NS, "--type=merge", "-p",
                         json.dumps({"spec": {"postgres": {"parameters": {"work_mem": "8MB"}}}}))
        def pushed():
            ep = self.get("endpoints", "minimal-config")
            cfg = json.loads(ep["metadata"]["annotations"]["config"])
            return cfg if cfg["postgresql"]["parameters"].get("work_mem") == "8MB" else None
        cfg = wait_for(pushed, 20, 0.2, what="work_mem in the config annotation")
        self.assertEqual(cfg["ttl"], 30, "Patroni's other keys are kept")
        self.assertEqual(cfg["postgresql"]["parameters"]["wal_level"], "replica")
        self.wait_running("minimal")
        self.assertEqual(self.quiet_writes(), [], "writes in steady state after the change")

    def test_06_scale_up(self):
        self.wait_running("minimal")
        self.kubectl("patch", "pgc", "minimal", "-n", NS, "--type=merge", "-p", json.dumps({"spec": {"instances": 3}}))
        wait_for(lambda: (self.get("statefulset", "minimal") or {}).get("spec", {}).get("replicas") == 3, 20, 0.2,
                 what="replicas 3")
        for i in range(3):
            pod = wait_for(lambda: self.get("pod", f"minimal-{i}"), 20, 0.2, what=f"pod minimal-{i}")
            self.assertIn("pgbouncer", [x["name"] for x in pod["spec"]["containers"]])
        c = self.wait_running("minimal", 3)
        self.assertEqual(c["status"]["instances"], 3)
        self.assertEqual(self.quiet_writes(), [])

    def test_07_deletion_protection_blocks_delete(self):
        p = self.apply_yaml(self.cluster_yaml("guarded", "  deletionProtection: true\n"))
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.kubectl("delete", "pgc", "guarded", "-n", NS, "--wait=false", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("spec.deletionProtection: Forbidden: deletion protection is enabled", p.stderr)
        self.assertIsNotNone(self.get("pgc", "guarded"))
        self.kubectl("patch", "pgc", "guarded", "-n", NS, "--type=merge", "-p", '{"spec":{"deletionProtection":false}}')
        self.kubectl("delete", "pgc", "guarded", "-n", NS, "--timeout=30s")

    def test_08_delete_cleans_up(self):
        self.wait_running("minimal", 3)
        # Patroni's other endpoints carry its labels too.
        ep = {"apiVersion": "v1", "kind": "Endpoints",
              "metadata": {"name": "minimal", "namespace": NS, "labels": {"pgwarden.io/cluster": "minimal"}}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(ep))
        self.kubectl("delete", "pgc", "minimal", "-n", NS, "--timeout=30s")
        self.assertIsNone(self.get("pgc", "minimal"))
        for name in ("minimal", "minimal-config"):
            self.assertIsNone(self.get("endpoints", name), f"endpoints {name} left behind")
        wait_for(lambda: self.get("statefulset", "minimal") is None, 20, 0.2, what="children garbage-collected")
        self.assertIn("CleanedUp", self.kubectl("get", "events", "-n", NS, "-o", "json").stdout)


if __name__ == "__main__":
    unittest.main()
