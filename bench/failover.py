"""Write outage and rows lost when a 3-instance cluster loses its primary.

    eval "$(scripts/testbed env)"; python3 bench/failover.py [-n 5] [--ns tb-fo-bench] [--keep]

On the running test bed (pgwarden installed), one 3-instance cluster
(postgresVersion 15, asynchronous replication, the default Patroni timings of
spec.replication) in its own namespace. N trials of each kind, each under
pgwriter.Writer (one row per autocommit transaction, 10 ms apart) and the
split-brain checker (test/integration/splitbrain.py):

  node-loss   the primary's pod is lost as with its node (the kubelet's per-pod
              fault: every process SIGKILLed, the apiserver not told), until a
              replica leads; then it comes back and rejoins as a replica
  delete-pod  `kubectl delete pod` of the primary (graceful: SIGTERM, Patroni
              stops PostgreSQL and hands over); the StatefulSet's new pod rejoins

Each trial starts from a settled cluster (one leader behind the read-write
Service, two streaming replicas). Per trial, one JSON line; then a table:
  outage      the writer's longest gap between two acknowledged commits around
              the fault (what an application sees), median and worst
  failover    fault -> the first commit the new primary acknowledged
  lost        acknowledged rows missing on the new primary (asynchronous
              replication: possible on node loss, never on a graceful delete)
  split brain rounds where two instances accepted a write (must be 0)
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from pgwriter import Writer  # noqa: E402
from splitbrain import SplitBrainChecker  # noqa: E402
from standin import wait_for  # noqa: E402
from test_testbed_failover import FailoverHelpers, cluster_yaml  # noqa: E402
from testbed import Testbed  # noqa: E402


class Bench(FailoverHelpers):
    def __init__(self, tb, ns, cluster):
        self.tb, self.ns, self.cluster = tb, ns, cluster


def trial(b, kind, i):
    old = b.healthy()
    old_uid = b.tb.get("pod", old, b.ns)["metadata"]["uid"]
    tag = f"{kind}{i}"
    w = Writer(b.tb, b.ns, b.cluster, tag=tag).start()
    sb = SplitBrainChecker(b.tb, b.ns, b.cluster, tag=tag).start()
    try:
        time.sleep(3)
        t0 = time.time()
        if kind == "node-loss":
            b.tb.pod_down(b.ns, old)
        else:
            b.tb.kubectl("delete", "pod", old, "-n", b.ns, "--wait=false")
        try:
            new = b.wait_new_leader(old, timeout=180)
            new_ip = b.pod_ip(new)
            wait_for(lambda: w.hosts()[-1] == new_ip and w.count_since(t0) >= 20, 120, 0.2,
                     what="writes at the new primary")
        finally:
            if kind == "node-loss":
                b.tb.pod_up(b.ns, old)
        if kind == "delete-pod":
            wait_for(lambda: (b.tb.get("pod", old, b.ns) or {}).get("metadata", {}).get("uid") not in (None, old_uid),
                     120, 1.0, what=f"{old} created again")
        b.wait_rejoined(old, new)
        w.wait_acks_after(time.time(), n=20)
    finally:
        w.stop()
        sb.stop()
    gaps = [g for g in w.outages(0.0) if g[0] >= t0 - 1.0]
    t_new = min(a[1] for a in w.acks() if a[1] >= t0 and a[2] == new_ip)
    lost, acked = w.lost(new_ip)
    row = {"kind": kind, "trial": i, "old": old, "new": new, "outage_s": round(max((g[1] for g in gaps), default=0), 2),
           "failover_s": round(t_new - t0, 2), "lost": len(lost), "acked": acked,
           "split_brain_rounds": len(sb.violations()), "checked_rounds": sb.checked_rounds()}
    print(json.dumps(row), flush=True)
    return row


def table(rows):
    out = ["| fault | trials | write outage median | worst | failover median | rows lost (total / worst) | split-brain rounds |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in ("node-loss", "delete-pod"):
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        o = [r["outage_s"] for r in rs]
        f = [r["failover_s"] for r in rs]
        lost = [r["lost"] for r in rs]
        out.append(f"| {kind} | {len(rs)} | {statistics.median(o):.1f} s | {max(o):.1f} s | {statistics.median(f):.1f} s "
                   f"| {sum(lost)} / {max(lost)} of {sum(r['acked'] for r in rs)} | "
                   f"{sum(r['split_brain_rounds'] for r in rs)} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5, help="trials of each kind")
    ap.add_argument("--ns", default="tb-fo-bench")
    ap.add_argument("--cluster", default="ha")
    ap.add_argument("--kinds", default="node-loss,delete-pod")
    ap.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    args = ap.parse_args()
    tb = Testbed()
    tb.install_pgwarden()
    tb.namespace(args.ns)
    try:
        for i in range(3):  # a run killed while a pod was down left it so in the kubelet
            tb.pod_up(args.ns, f"{args.cluster}-{i}")
        tb.kubectl("apply", "-f", "-", stdin=cluster_yaml(args.ns, args.cluster))
        b = Bench(tb, args.ns, args.cluster)
        c = b.healthy(timeout=600)
        cfg = json.loads((tb.get("endpoints", f"{args.cluster}-config", args.ns) or {}).get("metadata", {})
                         .get("annotations", {}).get("config", "{}"))
        print(json.dumps({"cluster": args.cluster, "primary": c, "patroni": {k: cfg.get(k) for k in (
            "ttl", "loop_wait", "retry_timeout", "maximum_lag_on_failover", "synchronous_mode")}}), flush=True)
        rows = []
        for kind in args.kinds.split(","):
            for i in range(args.n):
                rows.append(trial(b, kind, i))
        print(table(rows))
    finally:
        if not args.keep:
            tb.purge_namespace(args.ns)  # the volumes too: the test bed's class retains them


if __name__ == "__main__":
    main()
