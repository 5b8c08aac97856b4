"""The real Kubernetes test bed (scripts/testbed, DESIGN.md §9) for end-to-end tests.

`Testbed()` starts it if it is not running (scripts/test starts it once for the
whole suite) and gives tests what they need: kubectl with the admin kubeconfig,
raw API calls, a fresh namespace, pgwarden installed with `kubectl apply -k
manifests/`, the writes a client made (from the apiserver's audit log), node
loss through the process kubelet, and SQL against a pod's PostgreSQL from the
host (pod addresses are reachable from it). Every wait is bounded.
"""
import base64
import json
import os
import ssl
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from standin import wait_for

SOURCE = os.environ.get("PGW_SOURCE_DIR") or os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                             "..", ".."))
DIR = os.environ.get("PGW_TESTBED_DIR") or os.path.join(SOURCE, ".pgwarden", "testbed")
PKI = os.path.join(DIR, "pki")
KUBELET_CONTROL = "http://127.0.0.1:10250"
OPERATOR_SA = "system:serviceaccount:pgwarden-system:pgwarden"
HOST_IP = "10.88.0.1"


def script(*args, timeout=600):
    p = subprocess.run([os.path.join(SOURCE, "scripts", "testbed")] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"scripts/testbed {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-4000:]}")
    return p.stdout


def _pin(gomod, module):
    """The version `gomod` requires of `module` (as scripts/testbed-build reads it)."""
    with open(os.path.join(SOURCE, "test", "testbed", gomod)) as f:
        for line in f:
            words = line.split()
            if words[:1] == ["require"]:
                words = words[1:]
            if len(words) >= 2 and words[0] == module and words[1].startswith("v"):
                return words[1]
    raise AssertionError(f"test/testbed/{gomod} pins no {module}")


def bin_dir():
    """The test bed's bin directory, .cache/testbed/<k8s>-<etcd>/bin, from the pins.

    Starts nothing: an offline test that only needs kubectl gets it without a
    cluster. scripts/testbed-build runs only when kubectl is not built yet."""
    k8s = _pin(os.path.join("k8s", "go.mod"), "k8s.io/kubernetes")
    etcd = _pin(os.path.join("etcd", "go.mod"), "go.etcd.io/etcd/server/v3")
    d = os.path.join(SOURCE, ".cache", "testbed", f"{k8s}-{etcd}", "bin")
    if not os.access(os.path.join(d, "kubectl"), os.X_OK):
        env = dict(os.environ, PATH="/usr/local/go/bin:" + os.environ.get("PATH", ""))
        p = subprocess.run([os.path.join(SOURCE, "scripts", "testbed-build")], capture_output=True, text=True,
                           timeout=3600, env=env)
        if p.returncode != 0:
            raise AssertionError(f"scripts/testbed-build failed ({p.returncode}):\n{p.stderr[-4000:]}")
        d = p.stdout.strip().splitlines()[-1]
    return d


def kubectl_path():
    """The test bed's kubectl (the pinned release), also put first on this process's PATH so
    every child that runs plain `kubectl` (and shutil.which) finds the same one, under
    scripts/test or alone."""
    d = bin_dir()
    path = os.environ.get("PATH", "")
    if path.split(":", 1)[0] != d:
        os.environ["PATH"] = d + ":" + path
    return os.path.join(d, "kubectl")


class Testbed:
    _bin = None

    def __init__(self):
        if Testbed._bin is None:
            script("up")
            env = script("env")
            Testbed._bin = env.split("PATH=", 1)[1].split(":", 1)[0]
        self.bin = Testbed._bin
        self.kubeconfig = os.path.join(PKI, "admin.kubeconfig")
        self.ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(PKI, "admin.crt"), os.path.join(PKI, "admin.key"))
        self.home = os.path.join(DIR, "home")
        os.makedirs(self.home, exist_ok=True)

    # --- the API -------------------------------------------------------------------------

    def kubectl(self, *args, stdin=None, check=True, timeout=120, as_user=None):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)
        extra = ["--as", as_user] if as_user else []
        p = subprocess.run([os.path.join(self.bin, "kubectl"), "--request-timeout=30s"] + extra + list(args),
                           input=stdin, env=env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def api(self, method, path, body=None, ctype="application/json"):
        """(HTTP status, decoded JSON body); errors are returned, not raised."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"https://127.0.0.1:6443{path}", data=data, method=method,
                                     headers={"Content-Type": ctype, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, kind, name, ns=None):
        args = ["get", kind, name, "-o", "json"] + (["-n", ns] if ns else [])
        p = self.kubectl(*args, check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def namespace(self, name):
        """A new, empty namespace (a leftover one from an earlier run is deleted first)."""
        if self.get("namespace", name) is not None:
            self.kubectl("delete", "namespace", name, "--timeout=180s")
        self.kubectl("create", "namespace", name)
        # Under a second normally; after an apiserver outage kube-controller-manager's informers
        # back off, and a clean-clone CI run saw the default ServiceAccount 44 s late.
        wait_for(lambda: self.get("serviceaccount", "default", name), 120, 0.2, what=f"default SA in {name}")
        return name

    def delete_namespace(self, name):
        self.kubectl("delete", "namespace", name, "--wait=false", check=False)

    def purge_namespace(self, name, timeout=300):
        """Deletes the namespace, waits until it is gone, then deletes the volumes its claims left
        (the test bed's StorageClass retains them: each is a directory under kubelet/pv on this
        host), so tests that write a lot of WAL give the disk back."""
        self.kubectl("delete", "namespace", name, f"--timeout={timeout}s", check=False, timeout=timeout + 30)

        def released():
            items = json.loads(self.kubectl("get", "pv", "-o", "json").stdout)["items"]
            mine = [pv for pv in items if (pv["spec"].get("claimRef") or {}).get("namespace") == name]
            return items if all(pv["status"].get("phase") != "Bound" for pv in mine) else None
        try:
            pvs = wait_for(released, 60, 1.0, what=f"the volumes of {name} released")
        except AssertionError:
            pvs = json.loads(self.kubectl("get", "pv", "-o", "json").stdout)["items"]
        root = os.path.join(DIR, "kubelet", "pv") + os.sep
        for pv in pvs:
            if (pv["spec"].get("claimRef") or {}).get("namespace") != name or pv["status"].get("phase") != "Released":
                continue
            self.kubectl("delete", "pv", pv["metadata"]["name"], "--wait=false", check=False)
            path = (pv["spec"].get("hostPath") or {}).get("path", "")
            if path.startswith(root):
                subprocess.run(["rm", "-rf", "--one-file-system", path], check=False)

    # --- pgwarden -----------------------------------------------------------------------

    def install_pgwarden(self):
        """pgwarden as a user installs it; waits until both replicas are ready (caBundle in place)."""
        script("install", timeout=300)

    def operator_pods(self):
        out = json.loads(self.kubectl("get", "pods", "-n", "pgwarden-system", "-l", "app.kubernetes.io/name=pgwarden",
                                      "-o", "json").stdout)
        return [p for p in out["items"] if p["metadata"].get("deletionTimestamp") is None]

    # --- what clients wrote ---------------------------------------------------------------

    def audit_offset(self):
        path = os.path.join(DIR, "logs", "audit.log")
        return os.path.getsize(path) if os.path.exists(path) else 0

    def audit_events(self, offset, user=OPERATOR_SA, namespace=None):
        """The audit events (write requests: the policy logs no reads) `user` made after `offset`."""
        out = []
        with open(os.path.join(DIR, "logs", "audit.log"), "rb") as f:
            f.seek(offset)
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("user", {}).get("username") != user:
                    continue
                if namespace and ev.get("objectRef", {}).get("namespace") != namespace:
                    continue
                out.append(ev)
        return out

    def writes_since(self, offset, user=OPERATOR_SA, namespace=None):
        """Write requests (create/update/patch/delete) `user` made after `offset`, as "VERB uri code" strings."""
        return [f"{ev['verb']} {ev['requestURI']} {ev.get('responseStatus', {}).get('code')}"
                for ev in self.audit_events(offset, user, namespace)]

    # --- pods as processes --------------------------------------------------------------

    def pod_info(self, ns, name):
        try:
            with urllib.request.urlopen(f"{KUBELET_CONTROL}/pods/{ns}/{name}", timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError:
            return None

    def node_down(self, node):
        """Node loss: every process of the node's pods is SIGKILLed, and the node stops reporting."""
        req = urllib.request.Request(f"{KUBELET_CONTROL}/nodes/{node}/down", method="POST")
        urllib.request.urlopen(req, timeout=60).read()

    def node_up(self, node):
        req = urllib.request.Request(f"{KUBELET_CONTROL}/nodes/{node}/up", method="POST")
        urllib.request.urlopen(req, timeout=60).read()

    def pod_down(self, ns, name):
        """Node loss for one pod: every process of the pod is SIGKILLed, and the kubelet neither
        restarts its containers nor writes its status until pod_up(), so the apiserver keeps
        seeing it as it was (Running, Ready). The other pods of its node, other users' too, live on."""
        req = urllib.request.Request(f"{KUBELET_CONTROL}/pods/{ns}/{name}/down", method="POST")
        urllib.request.urlopen(req, timeout=60).read()

    def pod_up(self, ns, name):
        """The pod's node is back: its containers start afresh and its status is written again."""
        req = urllib.request.Request(f"{KUBELET_CONTROL}/pods/{ns}/{name}/up", method="POST")
        urllib.request.urlopen(req, timeout=60).read()

    def secret_value(self, ns, name, key):
        s = self.get("secret", name, ns)
        return base64.b64decode(s["data"][key]).decode()

    def psql(self, host, sql, user="postgres", password=None, db="postgres", port=5432, check=True, timeout=30):
        """Runs SQL with the host's psql against a pod address; returns stdout (unaligned, tuples only)."""
        env = dict(os.environ, PGPASSWORD=password or "", PGCONNECT_TIMEOUT="5")
        p = subprocess.run(["psql", f"host={host} port={port} dbname={db} user={user} sslmode=require", "-XAtq",
                            "-v", "ON_ERROR_STOP=1", "-c", sql], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"psql on {host}:{port} failed: {p.stderr}")
        return p.stdout.strip() if p.returncode == 0 else None


class NamespaceTestCase(unittest.TestCase):
    """Tests on the test bed with pgwarden installed and a fresh namespace NS of their own."""
    NS = None

    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.install_pgwarden()
        cls.tb.namespace(cls.NS)

    @classmethod
    def tearDownClass(cls):
        cls.tb.delete_namespace(cls.NS)


def wait_cluster(tb, ns, name, instances, timeout=300):
    """Waits until `kubectl get pgc` says Running with `instances` ready; returns the object."""
    def running():
        c = tb.get("pgc", name, ns)
        s = (c or {}).get("status", {})
        return c if s.get("phase") == "Running" and s.get("readyInstances") == instances else None
    return wait_for(running, timeout, 1.0, what=f"PostgresCluster {ns}/{name} Running with {instances} ready")


def retry(fn, timeout=60, what="operation"):
    """fn() until it stops raising; the last error is reported."""
    end = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except AssertionError as e:
            if time.monotonic() > end:
                raise AssertionError(f"{what}: {e}")
            time.sleep(1)
