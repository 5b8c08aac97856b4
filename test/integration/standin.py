"""Helpers to run the kube-apiserver stand-in (test/apiserver) and talk to it.

StandIn starts `python3 -m apiserver` on a free port with its own TLS
directory, state file and kubeconfig; `kubectl()` runs the real kubectl
against it (with a private HOME so discovery caches never leak between runs);
`api()` speaks raw HTTPS for what kubectl cannot show (status codes, watch).
Every wait is bounded.
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

TEST_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout=15.0, interval=0.05, what="condition"):
    """Poll fn until it returns a truthy value; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class StandIn:
    def __init__(self, extra_args=(), tmp=None, port=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="standin-")
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.tls_dir = os.path.join(self.tmp, "tls")
        self.state = os.path.join(self.tmp, "state.json")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home, exist_ok=True)
        self.start()

    def start(self):
        self.log = open(os.path.join(self.tmp, "apiserver.log"), "ab")
        args = ["python3", "-m", "apiserver", "--port", str(self.port), "--tls-dir", self.tls_dir,
                "--state", self.state, "--kubeconfig-out", self.kubeconfig] + self.extra_args
        self.proc = subprocess.Popen(args, cwd=TEST_DIR, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, 20, what="stand-in readiness")
        with open(os.path.join(self.tls_dir, "token")) as f:
            self.token = f.read().strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "ca.crt"))

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"stand-in exited with {self.proc.returncode}; see {self.tmp}/apiserver.log")
        if not os.path.exists(self.kubeconfig):
            return False
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "ca.crt"))
            with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/readyz", context=ctx, timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kubectl(self, *args, stdin=None, check=True):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)
        from testbed import kubectl_path  # testbed imports this module
        p = subprocess.run([kubectl_path(), "--request-timeout=20s"] + list(args), input=stdin, env=env,
                           capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def request(self, method, path, body=None, ctype="application/json", headers=None, timeout=20):
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        h = {"Authorization": f"Bearer {self.token}", "Content-Type": ctype, "Accept": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", data=data, method=method, headers=h)
        return urllib.request.urlopen(req, context=self.ctx, timeout=timeout)

    def api(self, method, path, body=None, ctype="application/json", headers=None):
        """(HTTP status, decoded JSON body, response headers); errors are returned, not raised."""
        try:
            with self.request(method, path, body, ctype, headers) as r:
                return r.status, json.loads(r.read() or b"null"), r.headers
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), e.headers

    def faults(self, **kw):
        code, out, _ = self.api("POST", "/_stand-in/faults", kw)
        assert code == 200, out
        return out

    def namespace(self, name, labels=None):
        code, out, _ = self.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                               "metadata": {"name": name, "labels": labels or {}}})
        assert code == 201, out
        return out
