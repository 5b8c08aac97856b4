"""Shared helpers for integration tests: run the real pgwarden binary on loopback.

Every test gets fresh ports and a fresh certificate directory; processes are
always stopped in tearDown, and every wait is bounded.
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

BIN = os.environ.get("PGWARDEN_BIN", os.path.join(os.path.dirname(__file__), "../../build/pgwarden"))
SOURCE_DIR = os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def review(path_kind="pods", uid="uid-1", operation="CREATE", obj=None, old=None, group="", kind="Pod"):
    """An admission.k8s.io/v1 AdmissionReview for the given object."""
    if obj is None and operation != "DELETE":
        obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "demo-0", "namespace": "db"}}
    req = {"uid": uid, "kind": {"group": group, "version": "v1", "kind": kind},
           "resource": {"group": group, "version": "v1", "resource": path_kind},
           "name": "demo-0", "namespace": "db", "operation": operation,
           "userInfo": {"username": "system:serviceaccount:kube-system:statefulset-controller"}}
    if obj is not None:
        req["object"] = obj
    if old is not None:
        req["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def cluster_review(uid="uid-c", operation="CREATE", obj=None, old=None):
    if obj is None and operation != "DELETE":
        obj = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
               "metadata": {"name": "demo", "namespace": "db"},
               "spec": {"postgresVersion": 18, "instances": 1, "storage": {"size": "1Gi"}}}
    return review("postgresclusters", uid, operation, obj, old, "pgwarden.io", "PostgresCluster")


class Server:
    """A `pgwarden serve` process with its own ports and certificate directory."""

    def __init__(self, cert_dir=None, extra_args=(), env=None, threads=None, port=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="pgw-")
        self.cert_dir = cert_dir or os.path.join(self.tmp.name, "certs")
        self.port = port or free_port()
        self.health_port = free_port()
        self.log_path = os.path.join(self.tmp.name, "serve.log")
        args = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}",
                "--health-listen", f"127.0.0.1:{self.health_port}", "--cert-dir", self.cert_dir,
                "--log-level", "debug"]
        if threads:
            args += ["--threads", str(threads)]
        if "--api-listen" not in extra_args:
            args += ["--api-listen", "off"]  # the REST API only where a test asks for it (its own port)
        args += list(extra_args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        self.wait_ready()

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self):
        ca = os.path.join(self.cert_dir, "ca.crt")
        return ca if os.path.exists(ca) else os.path.join(self.cert_dir, "tls.crt")

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        return ctx

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgwarden exited with {self.proc.returncode}: {self.logs()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("pgwarden did not become ready: " + self.logs())

    def health(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_lines(self):
        return [json.loads(line) for line in self.logs().splitlines() if line.startswith("{")]

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def close(self):
        self.stop()
        self.tmp.cleanup()


def curl(server, path, data=None, method=None, headers=None, extra=()):
    """Runs real curl against the server; returns (status, body)."""
    args = ["curl", "-sS", "--max-time", "20", "--cacert", server.ca_file, "-o", "-", "-w", "\n%{http_code}"]
    for h in (headers if headers is not None else ["Content-Type: application/json"]):
        args += ["-H", h]
    if method:
        args += ["-X", method]
    if data is not None:
        args += ["--data-binary", "@-"]
    args += list(extra)
    args.append(server.url + path)
    out = subprocess.run(args, input=data if isinstance(data, bytes) else (data or "").encode(),
                         capture_output=True, timeout=30)
    body, _, code = out.stdout.decode(errors="replace").rpartition("\n")
    return int(code or 0), body


def run_review_cli(path, body):
    """`pgwarden review --path P` with body on stdin; returns (exit code, stdout)."""
    out = subprocess.run([BIN, "review", "--path", path], input=body, capture_output=True, timeout=30)
    return out.returncode, out.stdout.decode()
