"""The sidecars' rendered configuration, run for real on loopback.

PostgreSQL 15 (Debian), PgBouncer and prometheus-postgres-exporter run with
exactly the text controller/render_pgbouncer.c and controller/render_exporter.c
produce (through test/tools/render_sidecar_config), changed only through the
render options: temporary directories instead of the pod's mount paths, free
ports instead of 6432/9187. The shared socket directory of the pod is a
temporary directory here; postgres listens on it only (no TCP).

PostgreSQL refuses to run as root, so every server runs as user `postgres`
in directories it owns. Every process is stopped in tearDown, even on failure.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

PG_BIN = "/usr/lib/postgresql/15/bin"
RUN_AS = "postgres"
DEADLINE = 60  # seconds to wait for any one server to come up


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(*args):
    build = os.environ.get("PGW_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
    return subprocess.run([os.path.join(build, "render_sidecar_config"), *args], check=True,
                          capture_output=True, text=True, timeout=30).stdout


def as_user(cmd):
    return ["runuser", "-u", RUN_AS, "--", *cmd]


def missing_programs():
    need = [os.path.join(PG_BIN, "initdb"), os.path.join(PG_BIN, "postgres"), shutil.which("pgbouncer"),
            shutil.which("prometheus-postgres-exporter"), shutil.which("psql"), shutil.which("runuser")]
    return [p for p in need if not p or not os.path.exists(p)]


@unittest.skipIf(missing_programs(), "data-plane programs missing (run scripts/install-deps)")
class SidecarDataPlaneTest(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.logs = []
        self.tmp = tempfile.mkdtemp(prefix="pgw-sidecars-")
        pw = pwd.getpwnam(RUN_AS)
        os.chmod(self.tmp, 0o755)
        self.sock = os.path.join(self.tmp, "run")       # the pod's shared socket directory
        self.data = os.path.join(self.tmp, "pgdata")
        self.bouncer_dir = os.path.join(self.tmp, "pgbouncer")  # the pgw-pgbouncer projection
        self.exporter_dir = os.path.join(self.tmp, "exporter")  # the pgw-exporter secret
        for d in (self.sock, self.bouncer_dir, self.exporter_dir):
            os.mkdir(d, 0o700)
        for d in (self.tmp, self.sock, self.bouncer_dir, self.exporter_dir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        self.pg_port = free_port()
        self.addCleanup(self.stop_all)

    # --- process handling -------------------------------------------------

    def start(self, name, cmd, env=None):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        self.logs.append((name, log.name))
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        out = []
        for name, path in self.logs:
            try:
                with open(path, errors="replace") as f:
                    out.append("--- %s ---\n%s" % (name, f.read()[-3000:]))
            except OSError:
                pass
        return "\n".join(out)

    def wait_for(self, what, check):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    self.fail("%s: a server exited with %s\n%s" % (what, p.returncode, self.dump_logs()))
            if check():
                return
            time.sleep(0.2)
        self.fail("%s did not happen within %ss\n%s" % (what, DEADLINE, self.dump_logs()))

    # --- helpers ------------------------------------------------------------

    def write(self, path, text, mode=0o600):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)

    def superuser_sql(self, sql, db="postgres"):
        """Runs SQL as the postgres superuser over the socket (peer auth)."""
        path = os.path.join(self.tmp, "script.sql")
        self.write(path, sql)
        return subprocess.run(as_user(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p",
                                       str(self.pg_port), "-d", db, "-f", path]),
                              capture_output=True, text=True, timeout=60)

    def psql(self, conninfo, password, sql):
        env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
        return subprocess.run(["psql", "-X", "-At", "-d", conninfo, "-c", sql], capture_output=True, text=True,
                              timeout=60, env=env)

    def start_postgres(self):
        r = subprocess.run(as_user([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                                    "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8",
                                    "--locale=C"]), capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        # pg_hba as the operator writes it: superuser by peer only, everyone else by scram.
        self.write(os.path.join(self.data, "pg_hba.conf"),
                   "local all postgres peer\nlocal all all scram-sha-256\n")
        self.start("postgres", as_user([os.path.join(PG_BIN, "postgres"), "-D", self.data, "-k", self.sock,
                                        "-p", str(self.pg_port), "-c", "listen_addresses=",
                                        "-c", "password_encryption=scram-sha-256"]))
        sockfile = os.path.join(self.sock, ".s.PGSQL.%d" % self.pg_port)
        self.wait_for("postgres socket",
                      lambda: os.path.exists(sockfile) and self.superuser_sql("SELECT 1").returncode == 0)

    # --- tests --------------------------------------------------------------

    def test_pgbouncer_scram_through_auth_query(self):
        self.start_postgres()
        auth_pw, app_pw = "Pooler'pw\"1", "app-secret-2"
        sql = tool("pgbouncer-sql", auth_pw)
        for db in ("postgres", "template1"):
            r = self.superuser_sql(sql, db)
            self.assertEqual(r.returncode, 0, r.stderr)
        # Idempotent: the controller reruns it on every reconcile.
        r = self.superuser_sql(sql, "postgres")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.superuser_sql("CREATE ROLE app LOGIN PASSWORD '%s'; CREATE DATABASE app OWNER app;"
                               "ALTER ROLE postgres PASSWORD 'superpw';" % app_pw)
        self.assertEqual(r.returncode, 0, r.stderr)
        # CREATE DATABASE copied template1, so auth_query works in the new database too.
        r = self.superuser_sql("SELECT count(*) FROM pg_proc WHERE proname = 'get_auth'", "app")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "1"), r.stderr)

        # TLS on, with a throwaway key pair where the Secret would be mounted.
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=demo-pgbouncer", "-keyout",
                        os.path.join(self.bouncer_dir, "tls.key"), "-out", os.path.join(self.bouncer_dir, "tls.crt")],
                       check=True, capture_output=True, timeout=60)
        pw = pwd.getpwnam(RUN_AS)
        for f in ("tls.key", "tls.crt"):
            os.chown(os.path.join(self.bouncer_dir, f), pw.pw_uid, pw.pw_gid)

        cluster = os.path.join(self.tmp, "cluster.json")
        with open(cluster, "w") as f:
            json.dump({"metadata": {"name": "demo"}, "spec": {"pooler": {"maxClientConnections": 50}}}, f)
        bouncer_port = free_port()
        ini = tool("pgbouncer-ini", cluster, "127.0.0.1", str(bouncer_port), self.sock, self.sock,
                   str(self.pg_port), self.bouncer_dir, "1")
        self.assertIn("pool_mode = transaction\n", ini)  # the default
        self.assertIn("max_client_conn = 50\n", ini)
        self.write(os.path.join(self.bouncer_dir, "pgbouncer.ini"), ini)
        self.write(os.path.join(self.bouncer_dir, "userlist.txt"), tool("pgbouncer-userlist", auth_pw))
        self.start("pgbouncer", as_user(["pgbouncer", os.path.join(self.bouncer_dir, "pgbouncer.ini")]))

        conn = "host=127.0.0.1 port=%d dbname=app user=app sslmode=require" % bouncer_port

        def pooler_answers():
            return self.psql(conn, app_pw, "SELECT 1").returncode == 0

        self.wait_for("a query through pgbouncer", pooler_answers)
        r = self.psql(conn, app_pw, "SELECT current_user || ':' || current_database() || ':' || "
                                    "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())::text")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Server side is the unix socket (no TLS there); the client side was TLS (sslmode=require succeeded).
        self.assertEqual(r.stdout.strip(), "app:app:false")

        # Stored verifiers are SCRAM, and a wrong password is refused.
        r = self.superuser_sql("SELECT count(*) FROM pg_authid WHERE rolname IN ('app', 'pgwarden_pgbouncer') "
                               "AND rolpassword LIKE 'SCRAM-SHA-256$%'")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "2"), r.stderr)
        r = self.psql(conn, "wrong", "SELECT 1")
        self.assertNotEqual(r.returncode, 0)
        # Superusers are never served through the pooler, even with a correct password.
        r = self.psql("host=127.0.0.1 port=%d dbname=app user=postgres sslmode=require" % bouncer_port,
                      "superpw", "SELECT 1")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        # The auth user itself cannot read pg_authid directly: only through the function.
        auth_conn = "host=%s port=%d dbname=postgres user=pgwarden_pgbouncer" % (self.sock, self.pg_port)
        r = self.psql(auth_conn, auth_pw, "SELECT count(*) FROM pg_authid")
        self.assertIn("permission denied", r.stderr)
        r = self.psql(auth_conn, auth_pw, "SELECT username FROM pgwarden.get_auth('app')")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "app"), r.stderr)

    def test_exporter_scrapes_pg_up(self):
        self.start_postgres()
        exporter_pw = "exp-pw-3"
        r = self.superuser_sql(tool("exporter-sql", exporter_pw))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.superuser_sql(tool("exporter-sql", exporter_pw))  # idempotent
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.superuser_sql("SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                               "JOIN pg_roles u ON u.oid = m.member "
                               "WHERE r.rolname = 'pg_monitor' AND u.rolname = 'pgwarden_exporter'")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "1"), r.stderr)

        password_file = os.path.join(self.exporter_dir, "password")
        self.write(password_file, exporter_pw)
        env_list = json.loads(tool("exporter-env", self.sock, str(self.pg_port), "postgres", password_file))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for item in env_list:
            env[item["name"]] = item["value"]
        self.assertEqual(sorted(env), ["DATA_SOURCE_PASS_FILE", "DATA_SOURCE_URI", "DATA_SOURCE_USER", "PATH"])
        port = free_port()
        args = json.loads(tool("exporter-args", "127.0.0.1:%d" % port))
        # runuser would reset the environment; pass it explicitly through env(1).
        cmd = as_user(["env", "-i"] + ["%s=%s" % kv for kv in env.items()] +
                      ["prometheus-postgres-exporter"] + args)
        self.start("exporter", cmd)
        url = "http://127.0.0.1:%d/metrics" % port
        scraped = {}

        def pg_up():
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    scraped["text"] = resp.read().decode()
            except OSError:
                return False
            return any(line.startswith("pg_up ") for line in scraped["text"].splitlines())

        self.wait_for("a scrape with pg_up", pg_up)
        lines = [l for l in scraped["text"].splitlines() if l.startswith("pg_up ")]
        self.assertEqual(lines, ["pg_up 1"], self.dump_logs())
        # pg_monitor lets it read server-wide statistics.
        self.assertIn("pg_stat_database_", scraped["text"])


if __name__ == "__main__":
    unittest.main()
