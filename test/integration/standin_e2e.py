"""The API-server stand-in's end-to-end harness: the stand-in with the CRDs and
the shipped webhook configurations (installed WITHOUT a caBundle, which the
controller must fill in) and one `pgwarden serve --controller on --kubeconfig`
process (E2EBase), and the `pgwarden serve` process wrapper (Serve).

Kept for the fault tests the real test bed cannot produce on demand
(test_e2e_controller_faults.py; DESIGN.md §9). Patroni does not run here, so
play_patroni() plays the two parts the controller reads. Writes are counted
from the stand-in's request log (--verbose).
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
        """What Patroni does at bootstrap: write the -config endpoints, then label the leader (the label's
        pod event is what brings the controller to push its settings into that configuration)."""
        wait_for(lambda: self.get("pod", f"{name}-0"), 20, what=f"pod {name}-0")
        config = {"ttl": 30, "loop_wait": 10, "postgresql": {"parameters": params or {}}}
        ep = {"apiVersion": "v1", "kind": "Endpoints",
              "metadata": {"name": f"{name}-config", "namespace": NS,
                           "labels": {"pgwarden.io/cluster": name, "app.kubernetes.io/instance": name},
                           "annotations": {"config": json.dumps(config)}}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(ep))
        self.kubectl("label", "pod", f"{name}-0", "-n", NS, "pgwarden.io/role=primary", "--overwrite")

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
