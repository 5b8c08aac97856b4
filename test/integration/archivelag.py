"""WAL archiving under a write load: how far pg_stat_archiver's last archived
segment falls behind the segment the primary is writing, during a pgbench run
and after it stops.

Shared by test_testbed_traffic.py (which asserts that archiving catches up
within a generous bound) and bench/archive_lag.py (which reports the numbers).
Everything runs from the host against the primary's pod address: the host's
pgbench (PostgreSQL 15) as the application role, and the samples as the
superuser (pg_walfile_name and pg_switch_wal need it).

Lag is counted in WAL segments (16 MB, the default): the segment being written
cannot be archived until it is switched, so "caught up" is measured exactly:
after the load the primary switches segments once, and archiving has caught
up when last_archived_wal reaches the segment that held the end of the load.
"""
import os
import subprocess
import threading
import time

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
SEGMENTS_PER_XLOGID = 0x100000000 // (16 * 1024 * 1024)

SAMPLE_SQL = ("SELECT coalesce(last_archived_wal, ''), failed_count, archived_count, "
              "pg_walfile_name(pg_current_wal_lsn()), "
              "extract(epoch from clock_timestamp())::float8 FROM pg_stat_archiver")


def segno(walfile):
    """The segment number of a WAL file name (TTTTTTTTXXXXXXXXYYYYYYYY), timeline left out; -1 for none."""
    if len(walfile) < 24:
        return -1
    return int(walfile[8:16], 16) * SEGMENTS_PER_XLOGID + int(walfile[16:24], 16)


def sample(tb, host, su_password):
    out = tb.psql(host, SAMPLE_SQL, password=su_password)
    last, failed, archived, current, t = out.split("|")
    return {"t": float(t), "last_archived": last, "failed": int(failed), "archived": int(archived),
            "current": current, "lag_segments": segno(current) - segno(last) if last else None}


def pgbench(host, password, args, timeout):
    env = dict(os.environ, PGPASSWORD=password, PGSSLMODE="require", PGCONNECT_TIMEOUT="10")
    p = subprocess.run([PGBENCH, "-h", host, "-U", "app"] + list(args) + ["app"], env=env, capture_output=True,
                       text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"pgbench {' '.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p.stdout + p.stderr


# The bulk load: each transaction inserts 100 rows of 1 kB (about 110 kB of WAL), far more WAL per
# second than TPC-B, to see the archiver fall behind and catch up.
BULK_SQL = "INSERT INTO pgw_bulk SELECT g, repeat('x', 1000) FROM generate_series(1, 100) g;\n"


def measure(tb, host, app_password, su_password, seconds=30, clients=4, scale=5, catch_up_timeout=120,
            interval=1.0, bulk=False):
    """Runs pgbench (TPC-B like, or BULK_SQL with `bulk`) for `seconds` on `host`, sampling
    pg_stat_archiver every `interval`; then switches the WAL segment and waits up to
    `catch_up_timeout` for the archive to reach the load's last segment. Returns a dict of
    figures; never asserts (the caller does)."""
    pgbench(host, app_password, ["-i", "-q", "-s", str(scale)], timeout=300)
    script = []
    if bulk:
        tb.psql(host, "CREATE TABLE IF NOT EXISTS pgw_bulk (id int, pad text)", user="app", password=app_password,
                db="app")
        path = os.path.join(tb.home, f"archivelag-bulk-{os.getpid()}.sql")
        with open(path, "w") as f:
            f.write(BULK_SQL)
        script = ["-f", path]
    before = sample(tb, host, su_password)
    lsn_before = tb.psql(host, "SELECT pg_current_wal_lsn()", password=su_password)
    samples, stop, errors = [], threading.Event(), []

    def sampler():
        while not stop.is_set():
            try:
                samples.append(sample(tb, host, su_password))
            except AssertionError as e:  # a sample lost under load is not a result
                errors.append(str(e))
            stop.wait(interval)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    t0 = time.time()
    out = pgbench(host, app_password, script + ["-T", str(seconds), "-c", str(clients), "-j", str(min(clients, 2))],
                  timeout=seconds + 120)
    t_load_end = time.time()
    # The segment holding the end of the load, then a switch so that segment can be archived.
    end_seg, wal_bytes = tb.psql(host, "SELECT pg_walfile_name(pg_current_wal_lsn()), "
                                       f"pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn_before}')::bigint",
                                 password=su_password).split("|")
    tb.psql(host, "SELECT pg_switch_wal()", password=su_password)
    caught_up_at = None
    deadline = time.monotonic() + catch_up_timeout
    while time.monotonic() < deadline:
        s = sample(tb, host, su_password)
        if s["last_archived"] and segno(s["last_archived"]) >= segno(end_seg):
            caught_up_at = s["t"]
            break
        time.sleep(interval)
    stop.set()
    th.join(10)
    after = sample(tb, host, su_password)
    tps = next((line.split("=")[1].split()[0] for line in out.splitlines() if line.startswith("tps")), None)
    during = [s for s in samples if t0 <= s["t"] <= t_load_end and s["lag_segments"] is not None]
    return {
        "load": "bulk" if bulk else "tpcb", "seconds": seconds, "clients": clients, "scale": scale,
        "tps": float(tps) if tps else None,
        "wal_segments_written": segno(end_seg) - segno(before["current"]) + 1,
        "wal_mb_per_s": round(int(wal_bytes) / (t_load_end - t0) / 1e6, 2),
        "archived_during_load": max((s["archived"] for s in during), default=before["archived"]) - before["archived"],
        "max_lag_segments_during_load": max((s["lag_segments"] for s in during), default=None),
        "lag_segments_at_load_end": during[-1]["lag_segments"] if during else None,
        "catch_up_seconds": round(caught_up_at - t_load_end, 1) if caught_up_at else None,
        "failed_before": before["failed"], "failed_after": after["failed"],
        "end_segment": end_seg, "last_archived_after": after["last_archived"],
        "sample_errors": len(errors), "samples": len(samples),
    }
