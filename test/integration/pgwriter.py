"""A writer that runs throughout an operation on a running cluster and proves no
acknowledged write was lost (the project's "data is sacred" rule).

Tests use the `Writer` class. It runs this file as a separate process under the
test bed's Patroni Python (which has psycopg2), so the write loop keeps one
connection and commits in about a millisecond, not a psql process per row.

The process finds the primary the way an application behind kube-proxy would:
the ready addresses of the Service's EndpointSlices (the test bed has no
kube-proxy, so it resolves them itself), read again after every failure. It
commits one row per transaction, client-numbered, and appends a line to its
log for each commit the server acknowledged, with the time and the address
that acknowledged it. A row whose commit failed or had no answer is not
acknowledged: it may or may not be there, and is not checked.

    Writer(tb, ns, cluster).start() ... w.stop(); w.verify()

`verify()` reads the table on the current primary and fails if any
acknowledged row is missing. `outages(min_gap)` lists the gaps between
consecutive acknowledgements: the write unavailability an application saw.
"""
import json
import signal
import sys
import time

from venvproc import LoggedProcess

TABLE = "pgw_writer"


class Writer(LoggedProcess):
    def __init__(self, tb, ns, cluster, service=None, port=5432, user="app", db="app", interval=0.01, tag="w"):
        self.tb, self.ns, self.cluster = tb, ns, cluster
        self.service = service or cluster
        self.user, self.db, self.port = user, db, port
        password = tb.secret_value(ns, f"{cluster}-{user}" if user != "postgres" else f"{cluster}-superuser",
                                   "password")
        super().__init__(__file__, f"writer-{ns}-{cluster}-{tag}", password,
                         ["--ns", ns, "--service", self.service, "--port", str(port), "--user", user, "--db", db,
                          "--interval", str(interval)])

    def start(self, wait_first=60):
        """Starts writing; returns once the first row is acknowledged."""
        return self.start_process(self.acks, wait_first,
                                  lambda: f"writer: no row acknowledged; errors: {self.errors()[-5:]}")

    def acks(self):
        """[(id, unix time, address)] of every acknowledged commit, in order."""
        return [(e["ack"], e["t"], e["host"]) for e in self.entries() if "ack" in e]

    def errors(self):
        return [e for e in self.entries() if "error" in e]

    def count_since(self, t):
        return sum(1 for a in self.acks() if a[1] >= t)

    def wait_acks_after(self, t, n=5, timeout=120):
        """Waits until `n` rows were acknowledged after unix time `t` (writes work again)."""
        end = time.monotonic() + timeout
        while self.count_since(t) < n:
            if time.monotonic() > end:
                raise AssertionError(f"writer: fewer than {n} rows acknowledged in {timeout} s after the event; "
                                     f"last errors: {self.errors()[-3:]}")
            time.sleep(0.2)

    def outages(self, min_gap=1.0):
        """[(start, seconds, from address, to address)] for each gap of at least `min_gap` s
        between consecutive acknowledgements."""
        acks = self.acks()
        return [(a[1], b[1] - a[1], a[2], b[2]) for a, b in zip(acks, acks[1:]) if b[1] - a[1] >= min_gap]

    def longest_outage(self):
        gaps = self.outages(0.0)
        return max((g[1] for g in gaps), default=0.0)

    def hosts(self):
        """The addresses that acknowledged writes, in the order they took over."""
        seq = []
        for _, _, host in self.acks():
            if not seq or seq[-1] != host:
                seq.append(host)
        return seq

    def lost(self, host=None):
        """(acknowledged ids missing on `host`, number acknowledged); `host` defaults to the
        Service's current address."""
        acked = {a[0] for a in self.acks()}
        if not acked:
            raise AssertionError("writer: nothing was acknowledged")
        host = host or resolve_with_tb(self.tb, self.ns, self.service)
        out = self.tb.psql(host, f"SELECT id FROM {TABLE}", user=self.user, password=self.password, db=self.db,
                           port=self.port, timeout=120)
        present = {int(line) for line in out.splitlines()}
        return sorted(acked - present), len(acked)

    def verify(self, host=None):
        """Fails if any acknowledged row is missing; returns the number of rows checked."""
        lost, acked = self.lost(host)
        if lost:
            raise AssertionError(f"{len(lost)} acknowledged rows lost (of {acked}), e.g. {lost[:10]}")
        return acked


def resolve_with_tb(tb, ns, service, timeout=60):
    """A ready address of `service`, from its EndpointSlices, through the test harness."""
    end = time.monotonic() + timeout
    while True:
        st, body = tb.api("GET", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                                 f"?labelSelector=kubernetes.io/service-name%3D{service}")
        addrs = ready_addresses(body) if st == 200 else []
        if addrs:
            return addrs[0]
        if time.monotonic() > end:
            raise AssertionError(f"Service {ns}/{service} has no ready endpoint")
        time.sleep(0.5)


def ready_addresses(slice_list):
    out = []
    for s in (slice_list or {}).get("items", []):
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True) is not False:
                out.extend(ep.get("addresses") or [])
    return sorted(set(out))


# --- the writer process (runs under the Patroni venv's Python) ------------------------------

def _main():
    import argparse
    import ssl
    import urllib.request

    import psycopg2

    ap = argparse.ArgumentParser()
    for name in ("ns", "service", "user", "db", "log", "ca", "cert", "key"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--port", type=int, default=5432)
    ap.add_argument("--interval", type=float, default=0.01)
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    log = open(a.log, "a", buffering=1)

    def note(**kw):
        kw.setdefault("t", time.time())
        log.write(json.dumps(kw) + "\n")

    def resolve():
        url = (f"https://127.0.0.1:6443/apis/discovery.k8s.io/v1/namespaces/{a.ns}/endpointslices"
               f"?labelSelector=kubernetes.io/service-name%3D{a.service}")
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
                return ready_addresses(json.loads(r.read()))
        except Exception as e:  # the apiserver may be the thing that is down
            note(error=f"resolve: {e}")
            return []

    conn, host, next_id = None, None, 1
    while not stopping:
        if conn is None:
            addrs = resolve()
            for h in addrs:
                try:
                    conn = psycopg2.connect(host=h, port=a.port, user=a.user, dbname=a.db, sslmode="require",
                                            connect_timeout=2, keepalives=1, keepalives_idle=1,
                                            keepalives_interval=1, keepalives_count=2,
                                            options="-c statement_timeout=5000")
                    conn.autocommit = True
                    with conn.cursor() as cur:
                        cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, "
                                    "at timestamptz NOT NULL DEFAULT now())")
                        cur.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}")
                        next_id = max(next_id, cur.fetchone()[0] + 1)
                    host = h
                    break
                except Exception as e:
                    note(error=f"connect {h}: {str(e).strip()}")
                    if conn is not None:
                        conn.close()
                    conn = None
            if conn is None:
                time.sleep(0.1)
                continue
        try:
            del conn.notices[:]
            with conn.cursor() as cur:
                cur.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", (next_id,))
            # A commit whose wait for a synchronous standby was cancelled (statement_timeout)
            # returns success with a warning: committed locally only, so not acknowledged here.
            unsure = [n.strip() for n in conn.notices if "synchronous replication" in n]
            if unsure:
                note(error=f"insert {next_id} on {host}: {unsure[0]}")
            else:
                note(ack=next_id, host=host)
        except Exception as e:
            note(error=f"insert {next_id} on {host}: {str(e).strip()}")
            try:
                conn.close()
            except Exception:
                pass
            conn = None
        next_id += 1  # a failed id is never reused: it may have committed without an answer
        if a.interval > 0:
            time.sleep(a.interval)
    if conn is not None:
        conn.close()
    log.close()


if __name__ == "__main__":
    sys.exit(_main())
