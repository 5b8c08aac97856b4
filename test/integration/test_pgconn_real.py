"""pgwarden's own PostgreSQL client (controller/pg) against a real PostgreSQL 15.

A throwaway Debian PostgreSQL 15 (initdb in a temporary directory, a free
port on 127.0.0.1, ssl=on with a certificate from `pgwarden certs generate`,
pg_hba `hostssl all all ... scram-sha-256`) is driven through
test/tools/pgw_pgquery, which prints what the client returned as JSON.

Checked: TLS + SCRAM-SHA-256 login (the server sees TLS, our
application_name and UTF8); a wrong password fails with SQLSTATE 28P01; a CA
that did not sign the server's certificate is refused; a server without TLS
is refused when TLS is required, and md5/cleartext are refused without TLS
but work inside it; several statements in one query, rows of the last one,
NULL apart from ''; an SQL error leaves the connection usable, a FATAL one
ends it with its message; a query over
its timeout fails, breaks the connection and is cancelled on the server; a
verifier from pgw_scram_verifier set with ALTER ROLE ... PASSWORD logs in,
with our client and with libpq (psql) alike.

Run it against build-asan/ (PGW_BUILD_DIR) to have ASan/LSan watch the
client on every path above.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import pgw

BUILD_DIR = os.environ.get("PGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
TOOL = os.path.join(BUILD_DIR, "pgw_pgquery")
PG_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER_PASSWORD = "s3cret-Super'user\\pw"

HBA = """local all all trust
host all md5user 127.0.0.1/32 md5
host all pwuser 127.0.0.1/32 password
hostssl all all 127.0.0.1/32 scram-sha-256
hostnossl all all 127.0.0.1/32 scram-sha-256
"""


def as_postgres(args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + args, capture_output=True, text=True, timeout=120, **kw)


@unittest.skipUnless(os.path.exists(PG_BIN), "PostgreSQL 15 is not installed")
class PgConnReal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pgw-pgconn-")
        shutil.chown(cls.tmp, "postgres", "postgres")
        os.chmod(cls.tmp, 0o755)
        cls.data = os.path.join(cls.tmp, "data")
        cls.sock = os.path.join(cls.tmp, "sock")
        os.mkdir(cls.sock)
        shutil.chown(cls.sock, "postgres", "postgres")
        pwfile = os.path.join(cls.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(SUPERUSER_PASSWORD)
        shutil.chown(pwfile, "postgres", "postgres")
        out = as_postgres([f"{PG_BIN}/initdb", "-D", cls.data, "-U", "postgres", "--auth=scram-sha-256",
                           f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C"])
        assert out.returncode == 0, out.stdout + out.stderr
        with open(os.path.join(cls.data, "pg_hba.conf"), "w") as f:
            f.write(HBA)
        # The server's certificate, and a second CA that did not sign it.
        cls.tls = os.path.join(cls.tmp, "tls")
        cls.other = os.path.join(cls.tmp, "other")
        for d in (cls.tls, cls.other):
            subprocess.run([pgw.BIN, "certs", "generate", "--service", "db", "--namespace", "pgconn", "--out", d],
                           check=True, capture_output=True, timeout=60)
            for f in os.listdir(d):
                shutil.chown(os.path.join(d, f), "postgres", "postgres")
        # In postgresql.conf rather than on the command line, which ALTER SYSTEM could not override.
        with open(os.path.join(cls.data, "postgresql.conf"), "a") as f:
            f.write(f"ssl = on\nssl_cert_file = '{cls.tls}/tls.crt'\nssl_key_file = '{cls.tls}/tls.key'\n")
        cls.port = pgw.free_port()
        out = as_postgres([f"{PG_BIN}/pg_ctl", "-D", cls.data, "-w", "-t", "60", "-l", os.path.join(cls.tmp, "log"),
                           "-o", f"-c listen_addresses=127.0.0.1 -c port={cls.port} -c unix_socket_directories='{cls.sock}'",
                           "start"])
        if out.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError(out.stdout + out.stderr)
        cls.psql("SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5-pw';"
                 "CREATE ROLE pwuser LOGIN PASSWORD 'clear-pw'")

    @classmethod
    def tearDownClass(cls):
        as_postgres([f"{PG_BIN}/pg_ctl", "-D", cls.data, "-m", "immediate", "stop"])
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def psql(cls, sql):
        """Administration through the Unix socket (trust), with libpq: not the client under test."""
        out = as_postgres([f"{PG_BIN}/psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", cls.sock, "-p", str(cls.port),
                           "-U", "postgres", "-d", "postgres", "-c", sql])
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout.strip()

    def query(self, *sql, user="postgres", password=SUPERUSER_PASSWORD, ca="server", timeout=10000, prefer_tls=False,
              db="postgres"):
        """Runs pgw_pgquery; returns (exit code, [one JSON object per line])."""
        args = [TOOL, "--host", "127.0.0.1", "--port", str(self.port), "--user", user, "--db", db,
                "--timeout", str(timeout)]
        if ca is not None:
            args += ["--ca", os.path.join(self.tls if ca == "server" else self.other, "ca.crt")]
        if prefer_tls:
            args.append("--prefer-tls")
        out = subprocess.run(args + list(sql), capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PGW_PG_PASSWORD=password))
        self.assertNotIn("Sanitizer", out.stderr)
        return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]

    def test_tls_scram_login(self):
        rc, out = self.query("SELECT s.ssl, s.version, a.application_name, current_setting('client_encoding'), "
                             "current_user FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                             "WHERE pid = pg_backend_pid()")
        self.assertEqual(rc, 0, out)
        ssl, version, app, encoding, user = out[0]["rows"][0]
        self.assertEqual((ssl, app, encoding, user), ("t", "pgw_pgquery", "UTF8", "postgres"))
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(out[0]["tag"], "SELECT 1")
        # Without a CA the chain is not checked, TLS still is used.
        rc, out = self.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", ca=None)
        self.assertEqual((rc, out[0]["rows"]), (0, [["t"]]))

    def test_wrong_password_is_28P01(self):
        rc, out = self.query("SELECT 1", password="not-the-password")
        self.assertEqual(rc, 2)
        self.assertIn("FATAL 28P01: password authentication failed for user \"postgres\"", out[0]["connect_error"])
        self.assertNotIn("not-the-password", out[0]["connect_error"])
        # An unknown role reads the same (the server does not tell roles apart).
        rc, out = self.query("SELECT 1", user="nobody")
        self.assertIn("28P01", out[0]["connect_error"])

    def test_ca_mismatch_is_refused(self):
        rc, out = self.query("SELECT 1", ca="other")
        self.assertEqual(rc, 2)
        self.assertIn("the server certificate is not trusted", out[0]["connect_error"])

    def test_server_without_tls(self):
        self.psql("ALTER SYSTEM SET ssl = off")
        self.psql("SELECT pg_reload_conf()")
        try:
            for _ in range(50):  # the reload is asynchronous
                if self.psql("SHOW ssl") == "off":
                    break
                time.sleep(0.1)
            rc, out = self.query("SELECT 1")
            self.assertEqual(rc, 2)
            self.assertIn("does not accept TLS connections and TLS is required", out[0]["connect_error"])
            # Not required: SCRAM over plain TCP works, but md5 and cleartext are refused before a byte of them leaves.
            rc, out = self.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", prefer_tls=True)
            self.assertEqual((rc, out[0]["rows"]), (0, [["f"]]))
            rc, out = self.query("SELECT 1", user="md5user", password="md5-pw", prefer_tls=True)
            self.assertIn("md5 password authentication over a connection without TLS: refused", out[0]["connect_error"])
            rc, out = self.query("SELECT 1", user="pwuser", password="clear-pw", prefer_tls=True)
            self.assertIn("cleartext password authentication over a connection without TLS: refused",
                          out[0]["connect_error"])
        finally:
            self.psql("ALTER SYSTEM RESET ssl")
            self.psql("SELECT pg_reload_conf()")
            for _ in range(50):
                if self.psql("SHOW ssl") == "on":
                    break
                time.sleep(0.1)

    def test_md5_and_cleartext_inside_tls(self):
        rc, out = self.query("SELECT current_user", user="md5user", password="md5-pw")
        self.assertEqual((rc, out[0]["rows"]), (0, [["md5user"]]))
        rc, out = self.query("SELECT current_user", user="pwuser", password="clear-pw")
        self.assertEqual((rc, out[0]["rows"]), (0, [["pwuser"]]))
        rc, out = self.query("SELECT 1", user="md5user", password="wrong")
        self.assertIn("28P01", out[0]["connect_error"])

    def test_statements_rows_and_nulls(self):
        rc, out = self.query(
            "SELECT 1 AS one; SELECT * FROM (VALUES ('it''s', NULL, 1), ('é', '', 2)) v(s, n, i) ORDER BY i",
            "SELECT 1 AS a; CREATE TEMP TABLE t (x int)",
            "", "SELECT repeat('x', 100000) AS big, generate_series(1, 300) AS i")
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["columns"], ["s", "n", "i"])
        self.assertEqual(out[0]["rows"], [["it's", None, "1"], ["é", "", "2"]])
        self.assertEqual(out[0]["tag"], "SELECT 2")
        # The last statement returned no rows: the rows are the earlier SELECT's, the tag the last statement's.
        self.assertEqual((out[1]["rows"], out[1]["tag"]), ([["1"]], "CREATE TABLE"))
        self.assertEqual((out[2]["rows"], out[2]["columns"], out[2]["tag"]), ([], [], None))  # EmptyQueryResponse
        self.assertEqual(len(out[3]["rows"]), 300)
        self.assertEqual(len(out[3]["rows"][299][0]), 100000)

    def test_sql_error_keeps_the_connection(self):
        rc, out = self.query("SELECT 1/0", "SELECT 2",
                             "CREATE TEMP TABLE e (x int); INSERT INTO e VALUES (1); SELECT nope; INSERT INTO e VALUES (2)",
                             "SELECT count(*) FROM pg_tables WHERE tablename = 'e'",
                             "SELECT 1; CREATE DATABASE never_in_a_block")
        self.assertEqual(rc, 1)
        self.assertEqual((out[0]["ok"], out[0]["sqlstate"], out[0]["broken"]), (False, "22012", False))
        self.assertEqual(out[0]["error"], "ERROR 22012: division by zero")
        self.assertEqual(out[1]["rows"], [["2"]])
        self.assertEqual(out[2]["sqlstate"], "42703")
        # Statements of one query string are one implicit transaction: the error undid the CREATE before it.
        self.assertEqual(out[3]["rows"], [["0"]])
        # ... which is why CREATE DATABASE (and DROP DATABASE) must travel alone.
        self.assertEqual(out[4]["sqlstate"], "25001")
        rc, out = self.query("CREATE ROLE dup", "CREATE ROLE dup", "DROP ROLE dup")
        self.assertEqual(out[1]["error"], "ERROR 42710: role \"dup\" already exists")
        self.assertTrue(out[2]["ok"])
        # DETAIL is kept after the message.
        rc, out = self.query("CREATE ROLE owner_r", "CREATE DATABASE owned OWNER owner_r", "DROP ROLE owner_r",
                             "DROP DATABASE owned", "DROP ROLE owner_r")
        self.assertEqual(out[2]["error"], "ERROR 2BP01: role \"owner_r\" cannot be dropped because some objects depend "
                                          "on it; DETAIL: owner of database owned")
        self.assertTrue(out[4]["ok"], out)

    def test_fatal_error_breaks(self):
        rc, out = self.query("SELECT pg_terminate_backend(pg_backend_pid())", "SELECT 1")
        self.assertEqual(out[0]["error"], "FATAL 57P01: terminating connection due to administrator command")
        self.assertEqual((out[0]["sqlstate"], out[0]["broken"]), ("57P01", True))
        self.assertEqual(out[1]["error"], "the connection is broken")

    def test_timeout_breaks_and_cancels(self):
        rc, out = self.query("SELECT 1", "SELECT pg_sleep(30) /* pgconn-timeout */", "SELECT 2", timeout=1000)
        self.assertEqual(rc, 1)
        self.assertEqual(out[1]["error"], "the query timed out after 1000 ms (cancel requested)")
        self.assertTrue(out[1]["broken"])
        self.assertEqual(out[2]["error"], "the connection is broken")
        # The CancelRequest reached the server: the sleep is not running on.
        for _ in range(50):
            if self.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pgconn-timeout%' "
                         "AND pid <> pg_backend_pid()") == "0":
                break
            time.sleep(0.1)
        else:
            self.fail("the timed-out query still runs")
        # Connecting is bounded too: a listener that never answers.
        import socket
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            args = [TOOL, "--host", "127.0.0.1", "--port", str(silent.getsockname()[1]), "--timeout", "500", "SELECT 1"]
            res = subprocess.run(args, capture_output=True, text=True, timeout=30,
                                 env=dict(os.environ, PGW_PG_PASSWORD="x"))
            self.assertIn("timed out after 500 ms", json.loads(res.stdout)["connect_error"])

    def verifier(self, password, iterations=4096):
        out = subprocess.run([TOOL, "--verifier", str(iterations)], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, PGW_PG_PASSWORD=password), check=True)
        return out.stdout.strip()

    def psql_tcp(self, user, password):
        """libpq's own SCRAM (with SASLprep) over TLS."""
        return as_postgres([f"{PG_BIN}/psql", "-X", "-A", "-t", "-c", "SELECT current_user",
                            f"host=127.0.0.1 port={self.port} user={user} dbname=postgres sslmode=require"],
                           env=dict(os.environ, PGPASSWORD=password))

    def test_verifier_from_alter_role_logs_in(self):
        cases = [("analyst", "Gen3rated-ASCII-pw", 4096), ("slow_analyst", "another pw", 10000),
                 ("nfc_analyst", "pässwörd", 4096)]
        for role, password, iterations in cases:
            v = self.verifier(password, iterations)
            self.assertRegex(v, r"^SCRAM-SHA-256\$%d:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$"
                             % iterations)
            rc, out = self.query(f"CREATE ROLE {role} LOGIN", f"ALTER ROLE {role} PASSWORD '{v}'",
                                 f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'")
            self.assertEqual(rc, 0, out)
            self.assertEqual(out[2]["rows"], [[v]])  # stored as given: the server did not hash it again
            rc, out = self.query("SELECT current_user", user=role, password=password)
            self.assertEqual((rc, out[0]["rows"]), (0, [[role]]), out)
            self.assertIn("28P01", self.query("SELECT 1", user=role, password=password + "x")[1][0]["connect_error"])
            res = self.psql_tcp(role, password)
            self.assertEqual((res.returncode, res.stdout.strip()), (0, role), res.stderr)
        # A password SASLprep changes (a no-break space becomes a space): our raw-bytes verifier and our own login
        # agree, libpq normalises and does not match; a verifier the server made from the plaintext is the other way
        # round. scram.c documents this.
        nbsp = "no\u00a0break"
        v = self.verifier(nbsp)
        self.query("CREATE ROLE nbsp_ours LOGIN", f"ALTER ROLE nbsp_ours PASSWORD '{v}'",
                   f"CREATE ROLE nbsp_server LOGIN PASSWORD '{nbsp}'")
        self.assertEqual(self.query("SELECT 1", user="nbsp_ours", password=nbsp)[0], 0)
        self.assertNotEqual(self.psql_tcp("nbsp_ours", nbsp).returncode, 0)
        self.assertEqual(self.psql_tcp("nbsp_server", nbsp).returncode, 0)
        self.assertEqual(self.query("SELECT 1", user="nbsp_server", password=nbsp)[0], 2)


if __name__ == "__main__":
    unittest.main()
