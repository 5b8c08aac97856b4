"""Connect + TLS + SCRAM-SHA-256 + one query + close, with pgwarden's client and with libpq.

    python3 bench/pgconn.py [N]      (default 200; run as root, like the integration tests)

Starts the throwaway PostgreSQL 15 of test/integration/test_pgconn_real.py
(127.0.0.1, ssl=on, hostssl scram-sha-256, 4096 iterations), then:
  - build/pgw_pgquery --bench N: N sequential connections of controller/pg,
    each verifying the server certificate against the CA, SCRAM, SELECT 1,
    Terminate; mean and max per connection;
  - the same through libpq (psycopg2 from the test bed's Patroni venv,
    sslmode=verify-ca), in one process too, for scale.
Prints one JSON line per row.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import test_pgconn_real as real  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
VENV_PY = os.path.join(HERE, "..", ".cache", "testbed", "patroni", "bin", "python3")
LIBPQ = """
import sys, time, psycopg2
n, port, ca, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
times = []
for _ in range(n):
    t0 = time.monotonic()
    c = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=pw, dbname="postgres",
                         sslmode="verify-ca", sslrootcert=ca)
    cur = c.cursor(); cur.execute("SELECT 1"); cur.fetchall(); c.close()
    times.append((time.monotonic() - t0) * 1000)
print('{"n": %d, "mean_ms": %.3f, "max_ms": %.3f}' % (n, sum(times) / n, max(times)))
"""

cls = real.PgConnReal
cls.setUpClass()
try:
    ca = os.path.join(cls.tls, "ca.crt")
    env = dict(os.environ, PGW_PG_PASSWORD=real.SUPERUSER_PASSWORD)
    out = subprocess.run([real.TOOL, "--host", "127.0.0.1", "--port", str(cls.port), "--ca", ca, "--bench", str(N),
                          "SELECT 1"], capture_output=True, text=True, env=env, check=True)
    print(json.dumps({"client": "controller/pg", **json.loads(out.stdout)}))
    if os.path.exists(VENV_PY):
        out = subprocess.run([VENV_PY, "-c", LIBPQ, str(N), str(cls.port), ca, real.SUPERUSER_PASSWORD],
                             capture_output=True, text=True, check=True)
        print(json.dumps({"client": "libpq (psycopg2)", **json.loads(out.stdout)}))
finally:
    cls.tearDownClass()
