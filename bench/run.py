"""Runs the benchmark scenarios and prints a Markdown table (see bench/run)."""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "pgwarden")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_review():
    obj = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
           "metadata": {"name": "demo", "namespace": "db", "uid": "5d1c2b4e-0000-4000-8000-000000000001"},
           "spec": {"postgresVersion": 18, "instances": 3, "storage": {"size": "10Gi"}}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "bench-uid", "kind": {"group": "pgwarden.io", "version": "v1", "kind": "PostgresCluster"},
                        "resource": {"group": "pgwarden.io", "version": "v1", "resource": "postgresclusters"},
                        "name": "demo", "namespace": "db", "operation": "CREATE", "object": obj,
                        "userInfo": {"username": "admin"}}}


def scenarios(tmp):
    """(name, path, body file). The fixed-response ceiling comes first."""
    small = os.path.join(tmp, "cluster-review.json")
    with open(small, "w") as f:
        json.dump(cluster_review(), f)
    pod = os.path.join(ROOT, "examples", "admissionreview-pod.json")
    out = [("fixed response (ceiling)", "/bench/fixed", small),
           ("fixed response, 6 KB request body", "/bench/fixed", pod),
           ("/validate/postgresclusters small", "/validate/postgresclusters", small),
           ("/mutate/postgresclusters small", "/mutate/postgresclusters", small)]
    out.append(("/mutate/pods StatefulSet pod", "/mutate/pods", pod))
    large = os.path.join(tmp, "large-pod-review.json")
    with open(large, "w") as f:
        json.dump(large_pod_review(pod), f)
    out.append(("/mutate/pods 200 KB pod", "/mutate/pods", large))
    production = os.path.join(tmp, "production-review.json")
    with open(production, "w") as f:
        json.dump(production_review(), f)
    out.append(("/validate/postgresclusters production", "/validate/postgresclusters", production))
    return out


def large_pod_review(example):
    """The example StatefulSet pod grown to about 200 KB: 40 extra containers with 40 env vars each."""
    with open(example) as f:
        review = json.load(f)
    pod = review["request"]["object"]
    base = pod["spec"]["containers"][0]
    for i in range(40):
        c = json.loads(json.dumps(base))
        c["name"] = f"helper-{i}"
        c["env"] = [{"name": f"SETTING_{i}_{j}", "value": "x" * 64} for j in range(40)]
        pod["spec"]["containers"].append(c)
    return review


def production_review():
    """examples/cluster-production.yaml, defaulted by `pgwarden admit`, as a CREATE review."""
    out = subprocess.run([BIN, "admit", "-f", os.path.join(ROOT, "examples", "cluster-production.yaml"), "-o", "json"],
                         capture_output=True, text=True, check=True)
    obj = json.loads(out.stdout)
    review = cluster_review()
    review["request"]["object"] = obj
    review["request"]["name"] = obj["metadata"]["name"]
    review["request"]["namespace"] = obj["metadata"].get("namespace", "default")
    return review


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, rss, hwm


def wait_ready(health_port, proc, timeout=10):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            sys.exit("pgwarden exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.001)
    sys.exit("pgwarden did not become ready")


def run_wrk(port, path, body, duration, connections, threads):
    env = dict(os.environ, BODY_FILE=body)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
                          "-s", os.path.join(ROOT, "bench", "post.lua"), f"https://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, env=env, timeout=duration + 60)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    sys.exit("wrk failed: " + out.stdout + out.stderr)


def run_loadgen(port, tmp, streams, duration):
    """Fixed-rate runs with test/tools/loadgen (kube-apiserver-like client), all streams at once.
    streams: [(path, body file, rate, connections)] → one loadgen report per stream."""
    loadgen = os.path.join(ROOT, "build", "loadgen")
    procs = []
    for path, body, rate, conns in streams:
        procs.append(subprocess.Popen([loadgen, "--target", f"127.0.0.1:{port}", "--cacert", os.path.join(tmp, "certs", "ca.crt"),
                                       "--servername", "pgwarden-webhook.pgwarden-system.svc", "--request", f"200:{path}:{body}",
                                       "--connections", str(conns), "--rate", str(rate), "--duration", str(duration)],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    return [json.loads(p.communicate(timeout=duration + 60)[0].strip().splitlines()[-1]) for p in procs]


def fixed_rate(port, tmp, duration):
    """(name, report) rows: the latency targets are stated at fixed rates, not under saturation."""
    pod = os.path.join(ROOT, "examples", "admissionreview-pod.json")
    large = os.path.join(tmp, "large-pod-review.json")
    rows = [("6 KB pod at 2,000/s", run_loadgen(port, tmp, [("/mutate/pods", pod, 2000, 8)], duration)[0]),
            ("200 KB pod at 50/s", run_loadgen(port, tmp, [("/mutate/pods", large, 50, 2)], duration)[0]),
            ("6 KB pod at 1,000/s, alone", run_loadgen(port, tmp, [("/mutate/pods", pod, 1000, 8)], duration)[0])]
    mixed = run_loadgen(port, tmp, [("/mutate/pods", pod, 1000, 8), ("/mutate/pods", large, 50, 2)], duration)
    rows.append(("6 KB pod at 1,000/s, mixed with 200 KB pods at 50/s", mixed[0]))
    rows.append(("200 KB pod at 50/s, mixed with 6 KB pods at 1,000/s", mixed[1]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--wrk-threads", type=int, default=1)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: run scripts/install-deps")

    tmp = tempfile.mkdtemp(prefix="pgw-bench-")
    port, health = free_port(), free_port()
    # Certificates are generated before timing start-up, so the figure is exec → ready on an existing directory.
    subprocess.run([BIN, "certs", "generate", "--out", os.path.join(tmp, "certs"), "--service", "pgwarden-webhook",
                    "--namespace", "pgwarden-system"], check=True, capture_output=True)
    os.remove(os.path.join(tmp, "certs", "ca.key"))
    env = dict(os.environ, PGWARDEN_BENCH_ENDPOINT="1", PGWARDEN_LOG_LEVEL="warn")
    proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--health-listen",
                             f"127.0.0.1:{health}", "--cert-dir", os.path.join(tmp, "certs")], env=env)
    try:
        startup = wait_ready(health, proc)
        time.sleep(0.5)
        _, idle_rss, _ = proc_stats(proc.pid)
        rows = []
        ceiling = None
        for name, path, body in scenarios(tmp):
            cpu0, _, _ = proc_stats(proc.pid)
            r = run_wrk(port, path, body, args.duration, args.connections, args.wrk_threads)
            cpu1, rss, hwm = proc_stats(proc.pid)
            rps = r["requests"] / r["seconds"]
            ceiling = ceiling or rps
            rows.append((name, os.path.getsize(body), rps, rps / ceiling, r["p50_us"], r["p99_us"], r["p999_us"],
                         r["errors"], (cpu1 - cpu0) * 1000 / max(r["requests"], 1), rss, hwm))
        rates = fixed_rate(port, tmp, args.duration)
        _, _, final_hwm = proc_stats(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, TLS keep-alive, load generator on the same machine")
    print(f"startup (exec → /readyz 200): {startup * 1000:.1f} ms; idle RSS: {idle_rss / 1024:.1f} MiB\n")
    print("| scenario | body bytes | req/s | ratio to ceiling | p50 ms | p99 ms | p99.9 ms | errors | server CPU s / 1k req | RSS MiB | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, rps, ratio, p50, p99, p999, errors, cpu, rss, hwm in rows:
        print(f"| {name} | {size} | {rps:,.0f} | {ratio:.2f} | {p50 / 1000:.3f} | {p99 / 1000:.3f} | {p999 / 1000:.3f} "
              f"| {errors} | {cpu:.3f} | {rss / 1024:.1f} | {hwm / 1024:.1f} |")
    print("\nFixed rate (test/tools/loadgen: one keep-alive TLS connection per worker, like kube-apiserver):\n")
    print("| run | sent | ok | failed | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rates:
        print(f"| {name} | {r['sent']:,} | {r['ok']:,} | {r['failed']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['max_ms']:.3f} |")
    print(f"\npeak RSS over the whole run: {final_hwm / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
