"""WAL archiving under a write load, on the test bed.

    eval "$(scripts/testbed env)"; python3 bench/archive_lag.py [--seconds 30] [--runs "4:5,8:20"]

A 3-instance cluster (PostgreSQL 15) with a `volume` pgBackRest repository in
namespace tb-traffic-bench; once BackupReady, for each run CLIENTS:SCALE,
pgbench (TPC-B like, or with `bulk` 100 rows of 1 kB per transaction; the
host's PostgreSQL 15 pgbench, CLIENTS clients on a SCALE database) runs against the primary's pod address for SECONDS while
pg_stat_archiver is sampled every second (test/integration/archivelag.py):

  wal_mb_per_s                  WAL the load wrote (pg_current_wal_lsn difference)
  max_lag_segments_during_load  segments between the one being written and the last archived
                                (1 = nothing waiting: the current segment cannot be archived yet)
  catch_up_seconds              from the end of the load (and one pg_switch_wal) until the last
                                segment of the load is archived
  failed_before/after           pg_stat_archiver.failed_count (a new cluster's first segments
                                fail until stanza-create has run; they are retried)

Prints one JSON line per run. test_testbed_traffic asserts only that archiving
catches up within 120 s; this script reports the figures.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import archivelag  # noqa: E402
from standin import wait_for  # noqa: E402
from testbed import Testbed, wait_cluster  # noqa: E402

NS = "tb-traffic-bench"
CLUSTER = f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: arch, namespace: {NS}}}
spec:
  postgresVersion: 15
  instances: 3
  storage: {{size: 5Gi}}
  backup:
    repository:
      volume: {{size: 10Gi}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--runs", default="4:5,8:20,4:5:bulk",
                    help="CLIENTS:SCALE[:bulk],... one pgbench run each (bulk: archivelag.BULK_SQL)")
    ap.add_argument("--keep", action="store_true", help="leave the namespace")
    a = ap.parse_args()
    tb = Testbed()
    tb.install_pgwarden()
    tb.namespace(NS)
    try:
        tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(tb, NS, "arch", 3, timeout=600)

        def backup_ready():
            c = tb.get("pgc", "arch", NS) or {}
            return any(x["type"] == "BackupReady" and x["status"] == "True"
                       for x in c.get("status", {}).get("conditions", []))
        wait_for(backup_ready, 300, 1.0, what="BackupReady")
        app = tb.secret_value(NS, "arch-app", "password")
        su = tb.secret_value(NS, "arch-superuser", "password")
        for run in a.runs.split(","):
            parts = run.split(":")
            clients, scale, bulk = int(parts[0]), int(parts[1]), parts[2:] == ["bulk"]
            pods = json.loads(tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/role=primary", "-o",
                                         "json").stdout)["items"]
            primary = pods[0]["status"]["podIP"]
            r = archivelag.measure(tb, primary, app, su, seconds=a.seconds, clients=clients, scale=scale,
                                   catch_up_timeout=600, bulk=bulk)
            print(json.dumps(r), flush=True)
    finally:
        if not a.keep:
            tb.purge_namespace(NS)


if __name__ == "__main__":
    main()
