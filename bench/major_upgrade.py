"""In-place major upgrade 15 -> 18 on the test bed: how long, and how long writes stop.

    eval "$(scripts/testbed env)"; python3 bench/major_upgrade.py [--tables 10,1000] [--rows 100000]

For each table count, a fresh 1-instance PostgreSQL 15 cluster (PostgreSQL 18
runs single-instance clusters only on the test bed) in namespace
upg-bench-<tables> gets that many tables (the catalog pg_upgrade dumps and
restores grows with them) plus one table of --rows rows (data, which --link
does not copy), a writer (pgwriter.Writer) starts, spec.postgresVersion goes
to 18, and the script waits for the MajorUpgrade condition to say Succeeded:

  total_s        from the patch to Succeeded (ANALYZE included)
  step_s         when each step was first seen, seconds after the patch
  write_outage_s the longest gap between two acknowledged commits
  lost           acknowledged rows missing afterwards (must be 0)

Prints one JSON line per run, then a table. docs/upgrades.md quotes the figures.
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

NAME = "bench"


def cluster_yaml(ns):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {NAME}, namespace: {ns}}}\n"
            "spec:\n  postgresVersion: 15\n  instances: 1\n  storage: {size: 2Gi}\n")


def step_of(c):
    for cond in (c or {}).get("status", {}).get("conditions", []):
        if cond["type"] == "MajorUpgrade":
            return cond["reason"], cond["message"]
    return None, None


def trial(tb, tables, rows):
    ns = f"upg-bench-{tables}"
    tb.namespace(ns)
    try:
        tb.kubectl("apply", "-f", "-", stdin=cluster_yaml(ns))
        wait_cluster(tb, ns, NAME, 1)
        ip = tb.get("pod", f"{NAME}-0", ns)["status"]["podIP"]
        su = tb.secret_value(ns, f"{NAME}-superuser", "password")
        tb.psql(ip, f"DO $$ BEGIN FOR i IN 1..{tables} LOOP EXECUTE format("
                    "'CREATE TABLE t%s (id int PRIMARY KEY, v text)', i); END LOOP; END $$; "
                    f"CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, {rows}) g",
                password=su, db="app", timeout=600)
        w = Writer(tb, ns, NAME).start()
        time.sleep(3)
        t0 = time.time()
        tb.kubectl("patch", "pgc", NAME, "-n", ns, "--type", "merge", "-p", '{"spec":{"postgresVersion":18}}')
        seen = {}

        def done():
            step, msg = step_of(tb.get("pgc", NAME, ns))
            if step is not None and step not in seen:
                seen[step] = round(time.time() - t0, 1)
            return step if step in ("Succeeded", "Failed", "FailedLinked", "CheckFailed", "Refused") else None
        final = wait_for(done, 1800, 0.3, what="upgrade finished")
        total = time.time() - t0
        w.wait_acks_after(time.time(), n=20)
        w.stop()
        lost, acked = w.lost()
        row = {"tables": tables, "rows": rows, "result": final, "total_s": round(total, 1), "step_s": seen,
               "write_outage_s": round(w.longest_outage(), 1), "acked": acked, "lost": len(lost)}
        print(json.dumps(row), flush=True)
        return row
    finally:
        tb.purge_namespace(ns)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default="10,1000")
    ap.add_argument("--rows", type=int, default=100000)
    args = ap.parse_args()
    tb = Testbed()
    tb.install_pgwarden()
    rows = [trial(tb, int(t), args.rows) for t in args.tables.split(",")]
    print(f"\n{'tables':>7} {'rows':>8} {'result':>10} {'total':>8} {'write outage':>13} {'lost':>5}")
    for r in rows:
        print(f"{r['tables']:>7} {r['rows']:>8} {r['result']:>10} {r['total_s']:>6.1f} s {r['write_outage_s']:>11.1f} s "
              f"{r['lost']:>5}")


if __name__ == "__main__":
    main()
