"""Listing 100 PostgresClusters through the REST API vs straight from kube-apiserver.

    eval "$(scripts/testbed env)"; python3 bench/api_list.py [--clusters 100] [--requests 500] [--keep]

On the running test bed (pgwarden installed):

1. A namespace with a ResourceQuota of `pods: 0` and N PostgresClusters (one
   instance, 1Gi). The controller reconciles every one (StatefulSet, Services,
   Secrets, status) but the StatefulSets cannot create pods: N clusters' worth of
   objects without N PostgreSQL servers on a small machine.
2. A person (ServiceAccount `bench`, Kubernetes' `view` bound cluster-wide so
   the all-namespaces list is allowed too) logs in to the API.
3. For each target, on one kept-alive TLS connection, `--requests` sequential
   GETs of the namespace's list, of the all-namespaces list and of the
   namespace's list with resourceVersion=0 (kube-apiserver's watch cache), after
   20 warm-up requests; the same lists with the person's own token straight from
   kube-apiserver, interleaved in the same run. p50/p99, the ratio and the
   difference.
4. Meanwhile "the UI is in use": another connection loads the UI's files and
   polls the list and one cluster's detail every 2 s, as the pages do.
5. VmRSS of the pgwarden process (pods are local processes): idle before, peak
   during, after.

Targets: the test bed's operator replica (the Deployment, which runs the build
the test bed was given, usually build-asan: sanitizer memory is not the
product's), and `--release BIN` (default build/pgwarden) started here against
the same kube-apiserver (admin kubeconfig, its API on loopback, a controller
kept to an empty namespace: start_release): the release binary's latency and
RSS on the same objects.
Prints one JSON line per target and a table.
"""
import argparse
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from pgwapi import Api, k8s_token, wait_api  # noqa: E402
from standin import free_port, wait_for  # noqa: E402
from testbed import PKI, SOURCE, Testbed  # noqa: E402

NS = "e2eapi-bench"
OP_NS, EMPTY_NS = "e2eapi-bench-op", "e2eapi-bench-empty"  # the release binary's own (start_release)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pgwarden_pid(tb, pod):
    """The pgwarden process of an operator pod: the child of the container's process."""
    info = tb.pod_info("pgwarden-system", pod["metadata"]["name"]) or {}
    top = info["containers"]["pgwarden"]["pid"]
    for pid in [top] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == "pgwarden" and (pid == top or int(fields[1]) == top):
            return pid
    raise AssertionError(f"no pgwarden process under pid {top}")


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_ = pid, [], threading.Event()

    def run(self):
        while not self.stop_.is_set():
            self.samples.append(rss_kib(self.pid))
            time.sleep(0.2)

    def peak(self):
        return max(self.samples, default=0)


class UiInUse(threading.Thread):
    """The web UI's traffic: its files once, then the list and one detail every 2 s."""

    def __init__(self, api, jwt, cluster):
        super().__init__(daemon=True)
        self.api, self.jwt, self.cluster = api, jwt, cluster
        self.stop_, self.errors, self.calls = threading.Event(), [], 0

    def run(self):
        for f in ("/ui/", "/ui/app.js", "/ui/app.css"):
            self.api.request("GET", f)
        while not self.stop_.is_set():
            for path in ("/api/v1/postgresclusters", f"/api/v1/namespaces/{NS}/postgresclusters",
                         f"/api/v1/namespaces/{NS}/postgresclusters/{self.cluster}/detail"):
                try:
                    r = self.api.request("GET", path, token=self.jwt)
                except OSError as e:
                    self.errors.append((path, str(e)))
                    continue
                self.calls += 1
                if r.status != 200:
                    self.errors.append((path, r.status))
            self.stop_.wait(2.0)


class Direct:
    """kube-apiserver with the person's own token, one kept-alive connection."""

    def __init__(self, token):
        import http.client
        ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.crt"))
        self.c = http.client.HTTPSConnection("127.0.0.1", 6443, context=ctx, timeout=30)
        self.h = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def get(self, path):
        self.c.request("GET", path, headers=self.h)
        r = self.c.getresponse()
        body = r.read()
        return r.status, len(body)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def measure(api, jwt, direct, n):
    """{form: {"api": [ms], "direct": [ms], "bytes": ...}}, interleaving API and direct calls."""
    forms = {"namespace": (f"/api/v1/namespaces/{NS}/postgresclusters",
                           f"/apis/pgwarden.io/v1/namespaces/{NS}/postgresclusters"),
             "all-namespaces": ("/api/v1/postgresclusters", "/apis/pgwarden.io/v1/postgresclusters"),
             # The same list from kube-apiserver's watch cache (not a quorum read): what a client that
             # accepts a list a moment old gets.
             "namespace rv=0": (f"/api/v1/namespaces/{NS}/postgresclusters?resourceVersion=0",
                                f"/apis/pgwarden.io/v1/namespaces/{NS}/postgresclusters?resourceVersion=0")}
    out = {}
    for form, (ours, theirs) in forms.items():
        for _ in range(20):
            api.request("GET", ours, token=jwt)
            direct.get(theirs)
        a, d, size = [], [], 0
        for _ in range(n):
            t = time.perf_counter()
            r = api.request("GET", ours, token=jwt)
            a.append((time.perf_counter() - t) * 1000)
            if r.status != 200:
                raise AssertionError(f"{ours}: {r}")
            size = len(r.raw)
            t = time.perf_counter()
            st, _ = direct.get(theirs)
            d.append((time.perf_counter() - t) * 1000)
            if st != 200:
                raise AssertionError(f"{theirs}: {st}")
        items = len(json.loads(r.raw)["items"])
        out[form] = {"api": a, "direct": d, "bytes": size, "items": items}
    return out


def summary(target, m, rss, build):
    line = {"target": target, "build": build}
    for form, v in m.items():
        line[form] = {"items": v["items"], "bytes": v["bytes"],
                      "api_p50_ms": round(statistics.median(v["api"]), 2), "api_p99_ms": round(pct(v["api"], 99), 2),
                      "direct_p50_ms": round(statistics.median(v["direct"]), 2),
                      "direct_p99_ms": round(pct(v["direct"], 99), 2)}
        line[form]["overhead_p50_ms"] = round(line[form]["api_p50_ms"] - line[form]["direct_p50_ms"], 2)
        line[form]["ratio_p50"] = round(line[form]["api_p50_ms"] / line[form]["direct_p50_ms"], 2)
        line[form]["ratio_p99"] = round(line[form]["api_p99_ms"] / line[form]["direct_p99_ms"], 2)
    line["rss_kib"] = rss
    return line


def start_release(tb, binary):
    """The release binary against the test bed, API on loopback: (process, Api, its directory).

    `serve --controller off`: webhook and API only, nothing reconciled; its own operator namespace
    besides (its CA Secret), an empty watched namespace and webhook configuration names that do not
    exist, so nothing it could do touches the test bed's own install."""
    tmp = tempfile.mkdtemp(prefix="pgw-bench-api-")
    port = free_port()
    for ns in (OP_NS, EMPTY_NS):
        if tb.get("namespace", ns) is None:
            tb.kubectl("create", "namespace", ns)
    env = dict(os.environ, PGWARDEN_OPERATOR_NAMESPACE=OP_NS, PGWARDEN_WATCH_NAMESPACES=EMPTY_NS,
               PGWARDEN_MUTATING_WEBHOOKS="e2eapi-bench-none", PGWARDEN_VALIDATING_WEBHOOKS="e2eapi-bench-none")
    log = open(os.path.join(tmp, "serve.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--controller", "off", "--kubeconfig", tb.kubeconfig,
                             "--listen", f"127.0.0.1:{free_port()}", "--health-listen", f"127.0.0.1:{free_port()}",
                             "--api-listen", f"127.0.0.1:{port}", "--cert-dir", tmp, "--threads", "2",
                             "--namespace", "pgwarden-system"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return os.path.exists(os.path.join(tmp, "ca.crt"))
        except OSError:
            return False
    wait_for(up, 30, 0.2, what="the release binary's API")
    return proc, Api(tb, "127.0.0.1", ca=os.path.join(tmp, "ca.crt"), keep=True, port=port), tmp


def run_target(name, api, ui_api, pid, build, k8s, n):
    jwt, _ = api.login(k8s)
    time.sleep(1.0)
    before = rss_kib(pid)
    sampler = RssSampler(pid)
    sampler.start()
    ui = UiInUse(ui_api, jwt, "c-000")
    ui.start()
    try:
        m = measure(api, jwt, Direct(k8s), n)
    finally:
        ui.stop_.set()
        ui.join()
        sampler.stop_.set()
        sampler.join()
    time.sleep(1.0)
    rss = {"before": before, "peak": sampler.peak(), "after": rss_kib(pid)}
    line = summary(name, m, rss, build)
    line["ui_calls"], line["ui_errors"] = ui.calls, ui.errors[:5]
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--release", default=os.path.join(SOURCE, "build", "pgwarden"))
    ap.add_argument("--keep", action="store_true", help="leave the namespace and its clusters")
    args = ap.parse_args()
    tb = Testbed()
    if tb.get("namespace", NS) is None or not args.keep:
        tb.namespace(NS)
    tb.kubectl("create", "quota", "no-pods", "-n", NS, "--hard=pods=0", check=False)
    docs = [{"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
             "metadata": {"name": f"c-{i:03d}", "namespace": NS},
             "spec": {"postgresVersion": 15, "instances": 1, "storage": {"size": "1Gi"}}}
            for i in range(args.clusters)]
    tb.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}), timeout=600)

    def reconciled():
        items = json.loads(tb.kubectl("get", "pgc", "-n", NS, "-o", "json").stdout)["items"]
        done = [i for i in items if (i.get("status") or {}).get("observedGeneration") == i["metadata"]["generation"]]
        return len(done) == args.clusters
    t0 = time.monotonic()
    wait_for(reconciled, 900, 2.0, what=f"{args.clusters} clusters reconciled")
    print(f"{args.clusters} clusters reconciled in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    tb.kubectl("create", "serviceaccount", "bench", "-n", NS, check=False)
    tb.kubectl("create", "clusterrolebinding", "e2eapi-bench-view", "--clusterrole=view",
               f"--serviceaccount={NS}:bench", check=False)
    k8s = k8s_token(tb, NS, "bench")
    lines = []
    try:
        # Other users of the test bed restart the operator now and then: a run cut short by that is
        # run again on the new pods (its RSS figures would mean nothing).
        for attempt in range(3):
            try:
                apis = wait_api(tb)
                pod = [p for p in tb.operator_pods() if p["status"].get("podIP") == apis[0].ip][0]
                pid = pgwarden_pid(tb, pod)
                build = "asan" if "asan" in os.readlink(f"/proc/{pid}/exe") else "release"
                api = Api(tb, apis[0].ip, ca=apis[0].ca, keep=True)
                ui_api = Api(tb, apis[0].ip, ca=apis[0].ca, keep=True)
                lines.append(run_target(f"operator pod {pod['metadata']['name']}", api, ui_api, pid, build, k8s,
                                        args.requests))
                break
            except (OSError, AssertionError) as e:
                print(f"operator pod run cut short ({e}); again", file=sys.stderr)
                time.sleep(10)
        if args.release and os.access(args.release, os.X_OK):
            proc, rapi, tmp = start_release(tb, args.release)
            try:
                ui_api = Api(tb, "127.0.0.1", ca=rapi.ca, keep=True, port=rapi.port)
                lines.append(run_target(f"{os.path.relpath(args.release, SOURCE)} (loopback)", rapi, ui_api, proc.pid,
                                        "release", k8s, args.requests))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        tb.kubectl("delete", "clusterrolebinding", "e2eapi-bench-view", "--ignore-not-found", check=False)
        for ns in (OP_NS, EMPTY_NS):
            tb.delete_namespace(ns)
        if not args.keep:
            tb.delete_namespace(NS)
    for line in lines:
        print(json.dumps(line))
    print(f"\n{'target':44} {'build':8} {'form':16} {'items':>5} {'KiB':>6} {'API p50':>8} {'API p99':>8} "
          f"{'kube p50':>8} {'kube p99':>8} {'ratio p50':>9} {'ratio p99':>9}")
    for line in lines:
        for form in ("namespace", "all-namespaces", "namespace rv=0"):
            v = line[form]
            print(f"{line['target']:44} {line['build']:8} {form:16} {v['items']:5} {v['bytes'] // 1024:6} "
                  f"{v['api_p50_ms']:8} {v['api_p99_ms']:8} {v['direct_p50_ms']:8} {v['direct_p99_ms']:8} "
                  f"{v['ratio_p50']:9} {v['ratio_p99']:9}")
        r = line["rss_kib"]
        print(f"{'':44} RSS KiB before {r['before']}, peak {r['peak']}, after {r['after']}; "
              f"UI calls {line['ui_calls']}, errors {line['ui_errors']}")


if __name__ == "__main__":
    main()
