"""What a rolling update and a requested switchover cost the application.

    eval "$(scripts/testbed env)"; python3 bench/rolling_update.py [-n 3] [--ns tb-roll-bench] [--keep]

On the running test bed (pgwarden installed), one 3-instance cluster (postgresVersion 15,
asynchronous replication) in its own namespace, under pgwriter.Writer (one row per
autocommit transaction, 10 ms apart) through the read-write Service. N trials of each:

  rolling-update  a pod-template change (spec.resources.requests.cpu): every instance is
                  replaced, replicas first, with one switchover; from the patch until
                  `Upgrading` is False again
  switchover      `kubectl annotate pgc ... pgwarden.io/switchover=<replica>`; from the
                  annotation until the writer commits on the new primary

Per trial one JSON line, then a table: the writer's longest gap between two acknowledged
commits (what an application sees; target for a full roll: one switchover, <= 2 s), the
number of gaps >= 1 s, the duration of the operation, and acknowledged rows lost (must be 0).
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from ha_faults import leader  # noqa: E402
from pgwriter import Writer  # noqa: E402
from standin import wait_for  # noqa: E402
from testbed import Testbed, wait_cluster  # noqa: E402

NAME = "bench"


def cluster_yaml(ns):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {NAME}, namespace: {ns}}}\n"
            "spec:\n  postgresVersion: 15\n  instances: 3\n  storage: {size: 1Gi}\n")


def condition(tb, ns, ctype):
    for c in (tb.get("pgc", NAME, ns) or {}).get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return {}


def settled(tb, ns):
    c = tb.get("pgc", NAME, ns)
    s = c.get("status", {})
    return s.get("phase") == "Running" and s.get("updatedInstances") == 3 and \
        condition(tb, ns, "Upgrading").get("status") == "False"


def trial(tb, ns, kind, i):
    wait_for(lambda: settled(tb, ns), 300, 1.0, what="settled cluster")
    w = Writer(tb, ns, NAME, tag=f"{kind}-{i}")
    w.start()
    time.sleep(3)
    t0 = time.time()
    if kind == "rolling-update":
        tb.kubectl("patch", "pgc", NAME, "-n", ns, "--type", "merge", "-p",
                   json.dumps({"spec": {"resources": {"requests": {"cpu": f"{100 + i}m"}}}}))
        wait_for(lambda: condition(tb, ns, "Upgrading").get("status") == "True", 60, 0.2, what="roll started")
        wait_for(lambda: settled(tb, ns), 600, 0.5, what="roll finished")
    else:
        old = leader(tb, ns, NAME)
        target = sorted(p for p in (f"{NAME}-0", f"{NAME}-1", f"{NAME}-2") if p != old)[i % 2]
        tb.kubectl("annotate", "pgc", NAME, "-n", ns, f"pgwarden.io/switchover={target}")
        wait_for(lambda: leader(tb, ns, NAME) == target, 120, 0.1, what="new leader")
    duration = time.time() - t0
    w.wait_acks_after(time.time(), n=20)
    time.sleep(2)
    w.stop()
    lost, acked = w.lost()
    gaps = [g for g in w.outages(0.0) if g[0] >= t0 - 0.5]
    row = {"kind": kind, "trial": i, "longest_outage_s": round(max((g[1] for g in gaps), default=0.0), 3),
           "outages_over_1s": sum(1 for g in gaps if g[1] >= 1.0), "duration_s": round(duration, 1),
           "acked": acked, "lost": len(lost)}
    print(json.dumps(row), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--ns", default="tb-roll-bench")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tb = Testbed()
    tb.install_pgwarden()
    tb.namespace(args.ns)
    try:
        tb.kubectl("apply", "-f", "-", stdin=cluster_yaml(args.ns))
        wait_cluster(tb, args.ns, NAME, 3)
        rows = [trial(tb, args.ns, kind, i) for kind in ("rolling-update", "switchover") for i in range(args.n)]
        print(f"\n{'operation':<16} {'trials':>6} {'outage median':>14} {'outage worst':>13} {'gaps>=1s (max)':>15} "
              f"{'duration median':>16} {'lost':>5}")
        for kind in ("rolling-update", "switchover"):
            rs = [r for r in rows if r["kind"] == kind]
            out = [r["longest_outage_s"] for r in rs]
            print(f"{kind:<16} {len(rs):>6} {statistics.median(out):>12.2f} s {max(out):>11.2f} s "
                  f"{max(r['outages_over_1s'] for r in rs):>15} {statistics.median(r['duration_s'] for r in rs):>14.1f} s "
                  f"{sum(r['lost'] for r in rs):>5}")
    finally:
        if not args.keep:
            tb.purge_namespace(args.ns)


if __name__ == "__main__":
    main()
