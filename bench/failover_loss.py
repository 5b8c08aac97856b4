"""Rows lost and write outage on an unplanned failover, synchronous replication off vs on.

    eval "$(scripts/testbed env)"; python3 bench/failover_loss.py [--trials 3] [--interval 0]

On the running test bed (pgwarden installed), in namespace tb-repl-bench: one
3-instance cluster per mode (spec.replication.synchronous off, then on). Each
trial runs pgwriter.Writer (one row per autocommit transaction, `--interval`
seconds apart), crashes the primary's pod (every process SIGKILLed, the
apiserver not told, kept down until another member holds the leader key:
test/integration/ha_faults.py), waits for writes to work again and for the old
primary to be back as a replica, then counts the acknowledged rows missing on
the new primary. With --replica-kbit R, the primary's traffic to the
replicas (only) is limited to R kbit/s and, at the crash, everything it still had
queued is dropped (a machine that dies loses its unsent packets): replicas
farther away than the clients, as across zones. Prints one JSON line per
trial and a summary line per mode:
  lost:      acknowledged rows missing after the failover
  outage_s:  the writer's longest gap between two acknowledgements
  failover_s: first kill -> another member holds the leader key
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from ha_faults import crash_until_failover, cut_off, leader, restore_network, throttle_to  # noqa: E402
from pgwriter import Writer  # noqa: E402
from standin import wait_for  # noqa: E402
from testbed import Testbed, wait_cluster  # noqa: E402

NS = "tb-repl-bench"


def cluster(name, sync):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {name}, namespace: {NS}}}\n"
            f"spec:\n  postgresVersion: 15\n  instances: 3\n  storage: {{size: 1Gi}}\n"
            f"  replication: {{synchronous: \"{sync}\"}}\n")


def trial(tb, name, interval, kbit):
    wait_cluster(tb, NS, name, 3, timeout=300)
    old = leader(tb, NS, name)
    if kbit:
        others = [tb.get("pod", f"{name}-{i}", NS)["status"]["podIP"] for i in range(3) if f"{name}-{i}" != old]
        throttle_to(tb, NS, old, others, kbit)
    w = Writer(tb, NS, name, interval=interval, tag=f"bench{int(time.time())}").start()
    try:
        time.sleep(5)
        if kbit:
            cut_off(tb, NS, old)  # the WAL still queued for the replicas dies with the machine
        try:
            crashed_at, new = crash_until_failover(tb, NS, name, old)
        finally:
            restore_network(tb, NS, old)
        failover_s = time.time() - crashed_at
        w.wait_acks_after(time.time(), n=20)
        role = lambda: (tb.get("pod", old, NS) or {}).get("metadata", {}).get("labels", {}).get("pgwarden.io/role")
        wait_for(lambda: role() == "replica", 240, 1.0, what=f"{old} back as a replica")
        wait_cluster(tb, NS, name, 3, timeout=300)
    finally:
        w.stop()
    lost, acked = w.lost()
    return {"cluster": name, "old": old, "new": new, "acked": acked, "lost": len(lost), "lost_ids": lost[:20],
            "outage_s": round(w.longest_outage(), 1), "failover_s": round(failover_s, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.0, help="seconds between the writer's commits")
    ap.add_argument("--modes", default="off,on")
    ap.add_argument("--replica-kbit", type=int, default=0,
                    help="limit the primary's traffic to the replicas (not to the writer) to this many kbit/s")
    a = ap.parse_args()
    tb = Testbed()
    tb.install_pgwarden()
    tb.namespace(NS)
    try:
        for mode in a.modes.split(","):
            name = f"loss-{mode}"
            tb.kubectl("apply", "-f", "-", stdin=cluster(name, mode))
            rows = []
            for _ in range(a.trials):
                r = trial(tb, name, a.interval, a.replica_kbit)
                r["synchronous"], r["replica_kbit"] = mode, a.replica_kbit
                print(json.dumps(r), flush=True)
                rows.append(r)
            print(json.dumps({"synchronous": mode, "replica_kbit": a.replica_kbit, "trials": len(rows), "lost": [r["lost"] for r in rows],
                              "acked": [r["acked"] for r in rows], "outage_s": [r["outage_s"] for r in rows],
                              "failover_s": [r["failover_s"] for r in rows]}), flush=True)
    finally:
        tb.delete_namespace(NS)


if __name__ == "__main__":
    main()
