"""A split-brain checker: throughout an operation, every instance of a cluster
is asked for a small write, directly at its pod address, in rounds of 0.2 s;
the log says which instances accepted one in each round. Two instances that
accept writes in the same round are two primaries: a split brain.

Like pgwriter.py, it runs this file as a separate process under the test bed's
Patroni Python (which has psycopg2). One thread per pod keeps a connection to
the pod's current address (read from the apiserver every second, so a pod that
comes back with a new address is followed) and, at the start of each round,
commits one row with short timeouts. A pod that does not answer, a replica
(read-only) and a stopped server all count as "did not accept".

    c = SplitBrainChecker(tb, ns, cluster).start() ... c.stop()
    c.violations()   # [(round, [pods])] where more than one pod accepted
    c.writable()     # the pods that accepted writes, in the order they did
"""
import json
import signal
import sys
import time

from venvproc import LoggedProcess

TABLE = "pgw_splitbrain"
ROUND = 0.2


class SplitBrainChecker(LoggedProcess):
    def __init__(self, tb, ns, cluster, tag="sb"):
        self.tb, self.ns, self.cluster = tb, ns, cluster
        super().__init__(__file__, f"splitbrain-{ns}-{cluster}-{tag}",
                         tb.secret_value(ns, f"{cluster}-superuser", "password"), ["--ns", ns, "--cluster", cluster])

    def start(self, wait_first=60):
        """Starts checking; returns once some instance accepted a write."""
        return self.start_process(self.writable, wait_first, lambda: "split-brain checker: no instance accepted a write")

    def attempts(self):
        """Every attempt: {"round", "pod", "ip", "t0", "t1", "ok"[, "error"]}."""
        return self.entries()

    def rounds(self):
        """{round: sorted pods that accepted a write in it}, for rounds where one did."""
        acc = {}
        for a in self.attempts():
            if a.get("ok"):
                acc.setdefault(a["round"], set()).add(a["pod"])
        return {r: sorted(p) for r, p in acc.items()}

    def violations(self):
        return sorted((r, p) for r, p in self.rounds().items() if len(p) > 1)

    def writable(self):
        """The pods that accepted writes, in the order they took over."""
        seq = []
        for r, pods in sorted(self.rounds().items()):
            for p in pods:
                if not seq or seq[-1] != p:
                    seq.append(p)
        return seq

    def checked_rounds(self):
        return len({a["round"] for a in self.attempts()})


# --- the checker process (runs under the Patroni venv's Python) -----------------------------

def _main():
    import argparse
    import ssl
    import threading
    import urllib.request

    import psycopg2

    ap = argparse.ArgumentParser()
    for name in ("ns", "cluster", "log", "ca", "cert", "key"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    log = open(a.log, "a", buffering=1)
    log_lock = threading.Lock()
    addresses = {}  # pod → current address, from the apiserver
    addr_lock = threading.Lock()

    def note(**kw):
        with log_lock:
            log.write(json.dumps(kw) + "\n")

    def pods():
        url = (f"https://127.0.0.1:6443/api/v1/namespaces/{a.ns}/pods"
               f"?labelSelector=pgwarden.io/cluster%3D{a.cluster}")
        with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
            items = json.loads(r.read())["items"]
        return {p["metadata"]["name"]: p["status"].get("podIP") for p in items}

    def watch_pods():
        while not stopping.is_set():
            try:
                found = pods()
                with addr_lock:
                    addresses.update({k: v for k, v in found.items() if v})
            except Exception:
                pass  # the apiserver may be what is down: keep the addresses we know
            stopping.wait(1.0)

    def probe(pod):
        conn, conn_ip = None, None
        while not stopping.is_set():
            # Rounds are aligned on the clock, so every thread's round n starts at the same instant.
            now = time.time()
            rnd = int(now / ROUND) + 1
            stopping.wait(max(0.0, rnd * ROUND - time.time()))
            if stopping.is_set():
                break
            with addr_lock:
                ip = addresses.get(pod)
            if ip is None:
                continue
            t0 = time.time()
            try:
                if conn is not None and conn_ip != ip:
                    conn.close()
                    conn = None
                if conn is None:
                    conn = psycopg2.connect(host=ip, port=5432, user="postgres", dbname="postgres", sslmode="require",
                                            connect_timeout=1, keepalives=1, keepalives_idle=1,
                                            keepalives_interval=1, keepalives_count=1,
                                            options="-c statement_timeout=1000")
                    conn.autocommit = True
                    conn_ip = ip
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_is_in_recovery()")
                    if cur.fetchone()[0]:
                        note(round=rnd, pod=pod, ip=ip, t0=t0, t1=time.time(), ok=False, error="in recovery")
                        continue
                    cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (pod text, round bigint, "
                                "at timestamptz NOT NULL DEFAULT now())")
                    cur.execute(f"INSERT INTO {TABLE} (pod, round) VALUES (%s, %s)", (pod, rnd))
                note(round=rnd, pod=pod, ip=ip, t0=t0, t1=time.time(), ok=True)
            except Exception as e:
                note(round=rnd, pod=pod, ip=ip, t0=t0, t1=time.time(), ok=False, error=str(e).strip()[:200])
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
        if conn is not None:
            conn.close()

    threads = {}
    watcher = threading.Thread(target=watch_pods, daemon=True)
    watcher.start()
    while not stopping.is_set():
        with addr_lock:
            names = list(addresses)
        for pod in names:
            if pod not in threads:
                threads[pod] = threading.Thread(target=probe, args=(pod,), daemon=True)
                threads[pod].start()
        stopping.wait(0.5)
    for t in threads.values():
        t.join(timeout=5)
    log.close()


if __name__ == "__main__":
    sys.exit(_main())
