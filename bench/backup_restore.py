#!/usr/bin/env python3
"""Backup and restore throughput, and point-in-time recovery time, on the test bed.

A 1-instance cluster with a `volume` repository is filled with pgbench
(scale S, about 15 MB per unit of scale), then:
  1. a full PostgresBackup: kubectl apply → phase Succeeded (a real pgBackRest
     Job against the pod's pgBackRest server);
  2. two rows with a known moment between them, WAL archived;
  3. a PostgresRestore to that moment: kubectl apply → the new cluster Running
     and its primary answering, with exactly the first row.
Throughput is the database size (pg_database_size of every database) over the
wall time, from the user's side, Job scheduling included.

    eval "$(scripts/testbed env)"; scripts/testbed install
    python3 bench/backup_restore.py [SCALE]     (default 100: about 1.5 GB)
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "integration"))
from standin import wait_for  # noqa: E402
from testbed import Testbed, wait_cluster  # noqa: E402

NS = "bench-backup"


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    size_gi = max(4, scale * 3 // 100 + 2)
    tb = Testbed()
    tb.install_pgwarden()
    tb.namespace(NS)
    tb.kubectl("apply", "-f", "-", stdin=f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: big, namespace: {NS}}}
spec:
  postgresVersion: 15
  storage: {{size: {size_gi}Gi}}
  postgres:
    parameters: {{max_wal_size: 2GB}}
  backup:
    repository:
      volume: {{size: {size_gi * 2}Gi}}
""")
    wait_cluster(tb, NS, "big", 1, timeout=300)
    wait_for(lambda: any(c["type"] == "BackupReady" and c["status"] == "True"
                         for c in tb.get("pgc", "big", NS)["status"].get("conditions", [])), 300, 1.0,
             what="BackupReady")
    pw = tb.secret_value(NS, "big-superuser", "password")
    ip = tb.get("pod", "big-0", NS)["status"]["podIP"]

    def sql(q, host=ip, password=pw):
        return tb.psql(host, q, password=password, db="app", timeout=600)

    t = time.monotonic()
    env = dict(os.environ, PGPASSWORD=pw)
    subprocess.run(["/usr/lib/postgresql/15/bin/pgbench", "-i", "-q", "-s", str(scale),
                    f"host={ip} dbname=app user=postgres sslmode=require"], env=env, check=True,
                   capture_output=True, timeout=3600)
    fill = time.monotonic() - t
    db_bytes = int(sql("SELECT sum(pg_database_size(datname)) FROM pg_database"))
    mb = db_bytes / 1e6

    t = time.monotonic()
    tb.kubectl("apply", "-f", "-", stdin=f"apiVersion: pgwarden.io/v1\nkind: PostgresBackup\n"
                                         f"metadata: {{name: full, namespace: {NS}}}\nspec: {{cluster: big, type: full}}\n")
    st = wait_for(lambda: (lambda s: s if s.get("phase") in ("Succeeded", "Failed") else None)(
        tb.get("pgbackup", "full", NS).get("status", {})), 3600, 1.0, what="backup done")
    backup = time.monotonic() - t
    if st["phase"] != "Succeeded":
        raise SystemExit(f"backup failed: {st}")

    sql("CREATE TABLE pitr (v int); INSERT INTO pitr VALUES (1)")
    time.sleep(1.5)
    target = sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    time.sleep(1.5)
    sql("INSERT INTO pitr VALUES (2)")
    segment = sql("SELECT pg_walfile_name(pg_switch_wal())")
    wait_for(lambda: (sql("SELECT last_archived_wal FROM pg_stat_archiver") or "") >= segment, 120, 0.5,
             what="WAL archived")

    t = time.monotonic()
    tb.kubectl("apply", "-f", "-", stdin=f"apiVersion: pgwarden.io/v1\nkind: PostgresRestore\n"
                                         f"metadata: {{name: back, namespace: {NS}}}\n"
                                         f"spec:\n  source: {{cluster: big}}\n  target: {{time: \"{target}\"}}\n")
    wait_cluster(tb, NS, "back", 1, timeout=3600)
    rpw = tb.secret_value(NS, "back-superuser", "password")
    rip = tb.get("pod", "back-0", NS)["status"]["podIP"]
    rows = wait_for(lambda: tb.psql(rip, "SELECT string_agg(v::text, ',') FROM pitr", password=rpw, db="app",
                                    check=False), 300, 1.0, what="the restored primary answering")
    restore = time.monotonic() - t
    if rows != "1":
        raise SystemExit(f"restored rows {rows!r}, expected '1'")

    print(f"pgbench scale {scale}: {mb:.0f} MB in every database, filled in {fill:.0f} s\n")
    print("| step | seconds | MB/s |")
    print("|---|---:|---:|")
    print(f"| full backup (apply → Succeeded, {st.get('sizeBytes', 0) / 1e6:.0f} MB in the repository) "
          f"| {backup:.1f} | {mb / backup:.1f} |")
    print(f"| point-in-time restore (apply → new cluster Running and answering) | {restore:.1f} | {mb / restore:.1f} |")
    tb.delete_namespace(NS)


if __name__ == "__main__":
    main()
