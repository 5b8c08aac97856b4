"""Controller cold start against the kube-apiserver stand-in.

    PGWARDEN_BIN=build/pgwarden python3 bench/controller_clusters.py [N] [--workers W]

1. The stand-in, our CRDs and webhook configurations, and `pgwarden serve
   --controller off` (admission only; the bench puts its CA in the caBundle).
2. N PostgresClusters are created through admission (timed on its own).
3. `pgwarden controller` starts with an empty cache: the clock runs from its
   exec until
     applied:   every cluster has its StatefulSet and a status whose
                observedGeneration is current (all children applied, status written);
     injected:  every cluster reports SidecarsInjected=True (the stand-in's
                StatefulSet controller created the pods through /mutate/pods).
4. Steady state: write requests the controller makes over a quiet minute
   (from the stand-in's request log), and the controller's peak RSS.
Prints one JSON line.
"""
import argparse
import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from standin import StandIn, free_port, wait_for  # noqa: E402
from test_e2e_controller import HOOK_FILES, NS, PGWARDEN, SOURCE, WRITE  # noqa: E402

CONTROLLER_AGENT = "pgwarden/"  # the controller's User-Agent prefix in the stand-in's log


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clusters", type=int, nargs="?", default=200)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--quiet-seconds", type=float, default=60.0)
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    n = args.clusters
    tmp = tempfile.mkdtemp(prefix="pgw-bench-ctl-")
    hook_port, health = free_port(), free_port()
    k = StandIn(["--verbose", "--webhook-service-map", f"pgwarden-webhook.pgwarden-system=127.0.0.1:{hook_port}"], tmp=tmp)
    serve = ctl = None
    try:
        k.namespace(NS)
        k.kubectl("apply", "-f", os.path.join(SOURCE, "manifests", "crds"))
        wait_for(lambda: k.kubectl("get", "pgc", "-A", check=False).returncode == 0, 20, what="CRDs served")
        serve = subprocess.Popen([PGWARDEN, "serve", "--listen", f"127.0.0.1:{hook_port}", "--health-listen",
                                  f"127.0.0.1:{health}", "--cert-dir", os.path.join(tmp, "certs"), "--controller", "off",
                                  "--log-level", "warn"], stdout=open(os.path.join(tmp, "serve.log"), "ab"),
                                 stderr=subprocess.STDOUT)
        ca = os.path.join(tmp, "certs", "ca.crt")
        wait_for(lambda: os.path.exists(ca), 20, what="webhook certificates")
        with open(ca, "rb") as f:
            bundle = base64.b64encode(f.read()).decode()
        for path in HOOK_FILES:
            k.kubectl("apply", "-f", path)
        for kind, name in (("mutatingwebhookconfiguration", "pgwarden-mutating"),
                           ("validatingwebhookconfiguration", "pgwarden-validating")):
            hooks = json.loads(k.kubectl("get", kind, name, "-o", "json").stdout)["webhooks"]
            ops = [{"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": bundle} for i in range(len(hooks))]
            k.kubectl("patch", kind, name, "--type=json", "-p", json.dumps(ops))

        def create(i):
            obj = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
                   "metadata": {"name": f"b{i}", "namespace": NS}, "spec": {"storage": {"size": "1Gi"}}}
            code, out, _ = k.api("POST", f"/apis/pgwarden.io/v1/namespaces/{NS}/postgresclusters", obj)
            assert code == 201, out
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(n)))
        t_create = time.monotonic() - t0

        log_start = os.path.getsize(os.path.join(tmp, "apiserver.log"))
        env = dict(os.environ, POD_NAME="bench-controller")
        t0 = time.monotonic()
        ctl = subprocess.Popen([PGWARDEN, "controller", "--kubeconfig", k.kubeconfig, "--workers", str(args.workers),
                                "--log-level", "warn"], stdout=open(os.path.join(tmp, "controller.log"), "ab"),
                               stderr=subprocess.STDOUT, env=env)
        peak = [0]

        def counts():
            if ctl.poll() is not None:
                raise AssertionError(f"controller exited with {ctl.returncode}; see {tmp}/controller.log")
            peak[0] = max(peak[0], rss_kib(ctl.pid))
            _, out, _ = k.api("GET", f"/apis/pgwarden.io/v1/namespaces/{NS}/postgresclusters")
            applied = injected = 0
            for c in out["items"]:
                s = c.get("status") or {}
                if s.get("observedGeneration") == c["metadata"]["generation"]:
                    applied += 1
                    if any(x["type"] == "SidecarsInjected" and x["status"] == "True" for x in s.get("conditions", [])):
                        injected += 1
            if applied == n:
                _, sts, _ = k.api("GET", f"/apis/apps/v1/namespaces/{NS}/statefulsets")
                applied = len(sts["items"])
            return applied, injected

        wait_for(lambda: counts()[0] == n, args.timeout, 2.0, what="every cluster applied")
        t_applied = time.monotonic() - t0
        cpu_applied = cpu_seconds(ctl.pid)
        standin_cpu = cpu_seconds(k.proc.pid)
        wait_for(lambda: counts()[1] == n, args.timeout, 2.0, what="every cluster's pods injected")
        t_injected = time.monotonic() - t0
        with open(os.path.join(tmp, "apiserver.log"), "rb") as f:
            f.seek(log_start)
            cold = [m for m in WRITE.finditer(f.read().decode(errors="replace"))
                    if "/leases/" not in m.group(2)]
        time.sleep(5.0)  # let the last watch events settle; the quiet window starts after
        quiet_start = os.path.getsize(os.path.join(tmp, "apiserver.log"))
        time.sleep(args.quiet_seconds)
        peak[0] = max(peak[0], rss_kib(ctl.pid))
        with open(os.path.join(tmp, "apiserver.log"), "rb") as f:
            f.seek(quiet_start)
            quiet = [m.group(0) for m in WRITE.finditer(f.read().decode(errors="replace"))
                     if "/leases/" not in m.group(2) and "/_stand-in" not in m.group(2)]
        print(json.dumps({"clusters": n, "workers": args.workers, "create_through_admission_s": round(t_create, 1),
                          "cold_start_applied_s": round(t_applied, 1), "cold_start_pods_injected_s": round(t_injected, 1),
                          "clusters_per_s_applied": round(n / t_applied, 1),
                          "controller_cpu_s_until_applied": round(cpu_applied, 2),
                          "standin_cpu_s_total_until_applied": round(standin_cpu, 1), "writes_until_applied_or_injected": len(cold),
                          "steady_state_writes": len(quiet), "quiet_seconds": args.quiet_seconds,
                          "controller_rss_kib": rss_kib(ctl.pid), "controller_peak_rss_kib": peak[0],
                          "controller_hwm_kib": rss_kib(ctl.pid, "VmHWM")}))
        if quiet:
            print("\n".join(quiet[:20]), file=sys.stderr)
    finally:
        for p in (ctl, serve):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)
        k.stop()


if __name__ == "__main__":
    main()
