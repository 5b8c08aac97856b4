"""The mixed admission traffic for loadgen (test/tools/loadgen.c): request files and their expected statuses.

Used by scripts/soak and the load tests. Every admission route gets valid
reviews; the invalid ones are denials (200 with allowed=false: invalid specs,
a review of the wrong kind) and malformed requests (400: broken JSON, a
review without a request, an empty body). A 'big pod' is the example
StatefulSet pod grown to about 400 KB.
"""
import json
import os
import signal
import subprocess
import time

import yaml

import pgw

BUILD_DIR = os.environ.get("PGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
LOADGEN = os.path.join(BUILD_DIR, "loadgen")
EXAMPLES = os.path.join(pgw.SOURCE_DIR, "examples")


def _example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return yaml.safe_load(f)


def _crd_review(obj, uid, operation="CREATE"):
    kind = obj["kind"]
    resource = kind.lower() + "s"
    review = pgw.review(resource, uid, operation, obj, None, "pgwarden.io", kind)
    review["request"]["name"] = obj["metadata"]["name"]
    review["request"]["namespace"] = obj["metadata"].get("namespace", "default")
    return review


def _big_pod_review():
    with open(os.path.join(EXAMPLES, "admissionreview-pod.json")) as f:
        review = json.load(f)
    review["request"]["uid"] = "big-pod"
    pod = review["request"]["object"]
    base = pod["spec"]["containers"][0]
    for i in range(80):
        c = json.loads(json.dumps(base))
        c["name"] = f"helper-{i}"
        c["env"] = [{"name": f"SETTING_{i}_{j}", "value": "x" * 64} for j in range(40)]
        pod["spec"]["containers"].append(c)
    return review


def write(directory):
    """Writes the request files into directory; returns loadgen --request values (STATUS:PATH:FILE)."""
    cluster = _example("cluster-production.yaml")
    minimal = _example("cluster-minimal.yaml")
    backup = _example("backup.yaml")
    restore = _example("restore-pitr.yaml")
    bad_cluster = json.loads(json.dumps(minimal))
    bad_cluster["spec"]["instances"] = 0
    bad_cluster["spec"]["storage"] = {"size": "lots"}
    bad_backup = json.loads(json.dumps(backup))
    bad_backup["spec"]["type"] = "everything"
    with open(os.path.join(EXAMPLES, "admissionreview-pod.json")) as f:
        pod = json.load(f)
    update = _crd_review(minimal, "c-3", "UPDATE")
    update["request"]["oldObject"] = minimal
    no_request = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}

    # (name, expected status, path, body: dict or bytes)
    cases = [
        ("pod", 200, "/mutate/pods", pod),
        ("cluster-production-mutate", 200, "/mutate/postgresclusters", _crd_review(cluster, "c-1")),
        ("cluster-production-validate", 200, "/validate/postgresclusters", _crd_review(cluster, "c-2")),
        ("cluster-minimal-update", 200, "/validate/postgresclusters", update),
        ("backup-mutate", 200, "/mutate/postgresbackups", _crd_review(backup, "b-1")),
        ("backup-validate", 200, "/validate/postgresbackups", _crd_review(backup, "b-2")),
        ("restore-mutate", 200, "/mutate/postgresrestores", _crd_review(restore, "r-1")),
        ("restore-validate", 200, "/validate/postgresrestores", _crd_review(restore, "r-2")),
        ("cluster-invalid", 200, "/validate/postgresclusters", _crd_review(bad_cluster, "c-bad")),
        ("backup-invalid", 200, "/validate/postgresbackups", _crd_review(bad_backup, "b-bad")),
        ("wrong-kind", 200, "/validate/postgresclusters", pgw.review(uid="wrong-kind")),
        ("wrong-kind-pod-route", 200, "/mutate/pods", _crd_review(cluster, "c-wrong")),
        ("big-pod", 200, "/mutate/pods", _big_pod_review()),
        ("malformed", 400, "/mutate/pods", b'{"apiVersion": "admission.k8s.io/v1", "kind": "Admission'),
        ("malformed-nested", 400, "/validate/postgresclusters", b"[" * 5000),
        ("no-request", 400, "/validate/postgresbackups", no_request),
        ("empty", 400, "/mutate/postgresrestores", b""),
    ]
    args = []
    os.makedirs(directory, exist_ok=True)
    for name, status, path, body in cases:
        file = os.path.join(directory, name + ".json")
        with open(file, "wb") as f:
            f.write(body if isinstance(body, bytes) else json.dumps(body).encode())
        args.append(f"{status}:{path}:{file}")
    return args


def loadgen_command(targets, cafile, requests, connections=8, duration=3600, rate=None, reconnect_every=None,
                    stats_file=None):
    """The loadgen command line."""
    cmd = [LOADGEN, "--cacert", cafile, "--connections", str(connections), "--duration", str(duration)]
    for t in targets:
        cmd += ["--target", t]
    for r in requests:
        cmd += ["--request", r]
    if rate:
        cmd += ["--rate", str(rate)]
    if reconnect_every:
        cmd += ["--reconnect-every", str(reconnect_every)]
    if stats_file:
        cmd += ["--stats-file", stats_file]
    return cmd


def read_stats(path):
    """The running totals loadgen last wrote, or None."""
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def check_statuses(requests):
    """Runs each request through `pgwarden review` (no server); returns [(file, expected, got)] that differ."""
    wrong = []
    for r in requests:
        status, path, file = r.split(":", 2)
        with open(file, "rb") as f:
            body = f.read()
        out = subprocess.run([pgw.BIN, "review", "--path", path], input=body, capture_output=True, timeout=60)
        got = 200 if out.returncode == 0 else 400
        if str(got) != status:
            wrong.append((file, status, got))
    return wrong


class Load:
    """loadgen running in the background until stop(); progress read from its stats file."""

    def __init__(self, directory, targets, cafile, connections=6, rate=200, reconnect_every=None, requests=None):
        self.stats_file = os.path.join(directory, "loadgen-stats.json")
        self.stderr_path = os.path.join(directory, "loadgen.stderr")
        requests = requests or write(os.path.join(directory, "requests"))
        cmd = loadgen_command(targets, cafile, requests, connections=connections, duration=3600, rate=rate,
                              reconnect_every=reconnect_every, stats_file=self.stats_file)
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.report = None

    def stats(self):
        return read_stats(self.stats_file) or {"sent": 0, "ok": 0, "failed": 0, "connections": 0, "ca_loads": 0}

    def wait_for(self, key, at_least, timeout=60):
        """Waits until stats()[key] >= at_least; returns the stats. Raises AssertionError if loadgen is gone or too slow."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.stats()
            if s.get(key, 0) >= at_least:
                return s
            if self.proc.poll() is not None:
                raise AssertionError(f"loadgen exited with {self.proc.returncode}: {self.errors()}")
            time.sleep(0.05)
        raise AssertionError(f"loadgen {key} did not reach {at_least} within {timeout} s: {self.stats()}")

    def advance(self, key, by, timeout=60):
        """Waits until stats()[key] grows by `by` from now."""
        return self.wait_for(key, self.stats().get(key, 0) + by, timeout)

    def stop(self):
        """SIGTERM; returns the final report (dict)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=120)
        self.stderr.close()
        self.report = json.loads(out.strip().splitlines()[-1])
        return self.report

    def errors(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()
