"""Growing a running cluster's volumes, on the test bed.

    eval "$(scripts/testbed env)"; python3 bench/volume_growth.py [--steps 3] [--instances 2]

A cluster (PostgreSQL 15, testbed-local, 1Gi) in namespace vol-bench under a
writer (test/integration/pgwriter.py). Each step raises spec.storage.size by
1Gi and measures, from the patch:

  claims_grown_s    until every claim's status.capacity is the new size
  condition_true_s  until VolumesResized is True
  longest_outage_s  the longest gap between acknowledged writes during the step
  lost              acknowledged rows missing at the end (must be 0)

The test bed's resizer has no filesystem step (bookkeeping on a directory), so
these figures are the operator's and the control plane's share of a resize,
not a storage provider's. Prints one JSON line per step.
test_testbed_volumes asserts what happens; this script reports how fast.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from pgwriter import Writer  # noqa: E402
from standin import wait_for  # noqa: E402
from testbed import Testbed, wait_cluster  # noqa: E402

NS, NAME = "vol-bench", "grow"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--instances", type=int, default=2)
    args = ap.parse_args()
    tb = Testbed()
    tb.install_pgwarden()
    tb.namespace(NS)
    try:
        tb.kubectl("apply", "-f", "-", stdin=f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\n"
                   f"metadata: {{name: {NAME}, namespace: {NS}}}\nspec:\n  postgresVersion: 15\n"
                   f"  instances: {args.instances}\n  storage: {{size: 1Gi}}\n")
        wait_cluster(tb, NS, NAME, args.instances)
        writer = Writer(tb, NS, NAME).start()
        try:
            for step in range(1, args.steps + 1):
                size = f"{step + 1}Gi"
                t0 = time.time()
                tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type=merge", "-p",
                           json.dumps({"spec": {"storage": {"size": size}}}))

                def grown():
                    items = json.loads(tb.kubectl("get", "pvc", "-n", NS, "-o", "json").stdout)["items"]
                    caps = [((c.get("status") or {}).get("capacity") or {}).get("storage") for c in items
                            if c["metadata"]["name"].startswith(f"pgdata-{NAME}-")]
                    return len(caps) == args.instances and all(c == size for c in caps)
                wait_for(grown, 120, 0.1, what=f"claims at {size}")
                t_grown = time.time()

                def resized():
                    conds = (tb.get("pgc", NAME, NS) or {}).get("status", {}).get("conditions", [])
                    return any(c["type"] == "VolumesResized" and c["status"] == "True" and size in c["message"]
                               for c in conds)
                wait_for(resized, 120, 0.1, what="VolumesResized True")
                t_true = time.time()
                writer.wait_acks_after(t_true)
                gaps = [g for g in writer.outages(0.0) if g[0] >= t0]
                print(json.dumps({"step": step, "size": size, "claims_grown_s": round(t_grown - t0, 2),
                                  "condition_true_s": round(t_true - t0, 2),
                                  "longest_outage_s": round(max((g[1] for g in gaps), default=0.0), 3)}), flush=True)
        finally:
            writer.stop()
        print(json.dumps({"acknowledged": len(writer.acks()), "lost": len(writer.lost()[0])}), flush=True)
    finally:
        tb.purge_namespace(NS)


if __name__ == "__main__":
    main()
