#!/usr/bin/env python3
"""Webhook latency as kube-apiserver sees it, on the real test bed.

kube-apiserver times every call to an admission webhook in its own histogram,
apiserver_admission_webhook_admission_duration_seconds{name,operation,type}:
the round trip over its HTTP client, TLS and JSON included. This script reads
it from the apiserver's /metrics before and after sending N server-side
dry-run creates of database pods (the mutating pod webhook) and of
PostgresClusters (defaulting and validation), and prints the mean and the
upper bounds of p50/p99 (the edges of the buckets that hold them) of the difference, per webhook.

    eval "$(scripts/testbed env)"; scripts/testbed install
    python3 bench/webhook_apiserver.py [N]      (default 200)

Dry-run requests run the whole admission chain but store nothing, so the
figures are the webhooks' and not etcd's. The apiserver's buckets are coarse
(5 ms, 10 ms, 25 ms, ...): the percentiles are bounds, the mean is exact.
"""
import json
import os
import re
import subprocess
import sys
import time

METRIC = "apiserver_admission_webhook_admission_duration_seconds"
NS = "bench-webhook"
LINE = re.compile(r'^(\w+)\{(.*)\} ([0-9.eE+-]+)$')

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "db-0", "namespace": NS,
                    "labels": {"pgwarden.io/cluster": "db", "app.kubernetes.io/instance": "db"}},
       "spec": {"containers": [{"name": "postgres", "image": "ghcr.io/pgwarden/postgres:15"}]}}
CLUSTER = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"name": "db", "namespace": NS},
           "spec": {"postgresVersion": 15, "instances": 3, "storage": {"size": "1Gi"}}}


def kubectl(*args, stdin=None):
    p = subprocess.run(["kubectl"] + list(args), input=stdin, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {p.stderr}")
    return p.stdout


def histograms():
    """{(name, operation): {"buckets": {le: count}, "sum": s, "count": n}}"""
    out = {}
    for line in kubectl("get", "--raw", "/metrics").splitlines():
        m = LINE.match(line)
        if not m or not m.group(1).startswith(METRIC):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        key = (labels.get("name"), labels.get("operation"))
        h = out.setdefault(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
        value = float(m.group(3))
        if m.group(1).endswith("_bucket"):
            h["buckets"][float(labels["le"])] = h["buckets"].get(float(labels["le"]), 0.0) + value
        elif m.group(1).endswith("_sum"):
            h["sum"] += value
        elif m.group(1).endswith("_count"):
            h["count"] += value
    return out


def quantile_bound(buckets, q):
    """The upper edge of the bucket that holds quantile q: the quantile is at most this.
    (Interpolating inside a bucket, as Prometheus does, would invent precision.)"""
    edges = sorted(buckets)
    total = buckets[edges[-1]]
    for edge in edges:
        if buckets[edge] >= q * total:
            return edge
    return edges[-1]


def diff(before, after):
    out = {}
    for key, a in after.items():
        b = before.get(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
        n = a["count"] - b["count"]
        if n <= 0:
            continue
        out[key] = {"count": n, "sum": a["sum"] - b["sum"],
                    "buckets": {le: c - b["buckets"].get(le, 0.0) for le, c in a["buckets"].items()}}
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    subprocess.run(["kubectl", "create", "namespace", NS], capture_output=True)
    pod, cluster = json.dumps(POD), json.dumps(CLUSTER)
    for _ in range(5):  # warm the apiserver's connections to the webhook
        kubectl("create", "--dry-run=server", "-f", "-", stdin=pod)
    before = histograms()
    started = time.monotonic()
    for _ in range(n):
        kubectl("create", "--dry-run=server", "-f", "-", stdin=pod)
        kubectl("create", "--dry-run=server", "-f", "-", stdin=cluster)
    elapsed = time.monotonic() - started
    d = diff(before, histograms())
    print(f"{n} dry-run creates each of a database pod and a PostgresCluster in {elapsed:.1f} s "
          f"(kubectl runs one process per request)\n")
    print("| webhook | operation | calls | mean ms | p50 ≤ ms | p99 ≤ ms |")
    print("|---|---|---:|---:|---:|---:|")
    for (name, op), h in sorted(d.items()):
        print(f"| {name} | {op} | {int(h['count'])} | {1000 * h['sum'] / h['count']:.2f} | "
              f"{1000 * quantile_bound(h['buckets'], 0.5):g} | {1000 * quantile_bound(h['buckets'], 0.99):g} |")
    subprocess.run(["kubectl", "delete", "namespace", NS, "--wait=false"], capture_output=True)


if __name__ == "__main__":
    if "KUBECONFIG" not in os.environ:
        raise SystemExit('run eval "$(scripts/testbed env)" first')
    main()
