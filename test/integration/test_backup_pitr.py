"""Backups and point-in-time restores, run for real on loopback.

PostgreSQL (Debian) and pgBackRest (Debian) run with exactly the configuration
and command lines controller/render_pgbackrest.c and controller/render_backup.c
produce (through test/tools/render_backup), changed only through the render
options: temporary directories instead of the pod's mount paths, free ports,
and "localhost" as the instance's host name. Nothing is edited after rendering.

The layout mirrors a cluster with a volume repository:
  - the instance: postgres with archive_mode=on and the rendered archive_command
    (archive-push, async), and `pgbackrest server` with the instance-side conf
    (the sidecar), TLS on a free port, accepting only the client CN the Jobs use;
  - the backup Job: the job-side conf, reaching the instance over TLS
    (pg1-host-type=tls) with the client certificate; stanza-create and backups
    run there, with their own lock directory like a separate container;
  - a restore: the restored cluster rendered from a PostgresRestore, its own
    instance-side conf (data directory and spool of the new pod), and the
    rendered restore command reading the SOURCE's repository path.

Every server runs as user `postgres` in directories it owns (PostgreSQL refuses
root). Every process is stopped in tearDown, even on failure.
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

PG_BIN = "/usr/lib/postgresql/15/bin"
RUN_AS = "postgres"
DEADLINE = 60  # seconds to wait for any one thing to happen
CLIENT_CN = "pgwarden-backup"  # PGW_PGBACKREST_CLIENT_CN


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool_path():
    build = os.environ.get("PGW_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
    return os.path.join(build, "render_backup")


def tool(*args):
    r = subprocess.run([tool_path(), *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("render_backup %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def as_user(cmd):
    return ["runuser", "-u", RUN_AS, "--", *cmd]


def missing_programs():
    need = [os.path.join(PG_BIN, "initdb"), os.path.join(PG_BIN, "postgres"), shutil.which("pgbackrest"),
            shutil.which("psql"), shutil.which("runuser"), shutil.which("openssl")]
    return [p for p in need if not p or not os.path.exists(p)]


@unittest.skipIf(missing_programs(), "data-plane programs missing (run scripts/install-deps)")
class BackupPitrTest(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.logs = []
        self.tmp = tempfile.mkdtemp(prefix="pgw-backup-")
        os.chmod(self.tmp, 0o755)
        self.pw = pwd.getpwnam(RUN_AS)
        os.chown(self.tmp, self.pw.pw_uid, self.pw.pw_gid)
        self.dir = {}
        for d in ("sock", "repo", "tls", "lock", "job-lock", "spool", "log", "conf"):
            self.dir[d] = self.mkdir(d)
        self.data = os.path.join(self.tmp, "pgdata")
        self.pg_port = free_port()
        self.tls_port = free_port()
        self.addCleanup(self.stop_all)

    # --- process and file handling -------------------------------------------

    def mkdir(self, name):
        path = os.path.join(self.tmp, name)
        os.mkdir(path, 0o700)
        os.chown(path, self.pw.pw_uid, self.pw.pw_gid)
        return path

    def write(self, path, text, mode=0o600):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        os.chown(path, self.pw.pw_uid, self.pw.pw_gid)

    def start(self, name, cmd):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        self.logs.append((name, log.name))
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGINT if p.args[-1:] != ["server"] else signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)
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

    def wait_for(self, what, check, procs=None):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            for p in procs if procs is not None else self.procs:
                if p.poll() is not None:
                    self.fail("%s: a server exited with %s\n%s" % (what, p.returncode, self.dump_logs()))
            if check():
                return
            time.sleep(0.05)
        self.fail("%s did not happen within %ss\n%s" % (what, DEADLINE, self.dump_logs()))

    def run_user(self, cmd, timeout=120):
        r = subprocess.run(as_user(cmd), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            self.fail("%s exited with %d\nstdout: %s\nstderr: %s\n%s" % (
                " ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:], self.dump_logs()))
        return r.stdout

    def sql(self, query, port=None, db="postgres"):
        r = subprocess.run(as_user(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.dir["sock"],
                                    "-p", str(port or self.pg_port), "-d", db, "-c", query]),
                           capture_output=True, text=True, timeout=60)
        return r

    def sql_ok(self, query, port=None):
        r = self.sql(query, port)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    # --- rendering ------------------------------------------------------------

    def write_json(self, name, obj):
        path = os.path.join(self.dir["conf"], name)
        self.write(path, json.dumps(obj), 0o644)
        return path

    def render_opts(self, pg_path, spool, lock):
        return ["repo_mount=" + self.dir["repo"], "pg_path=" + pg_path, "socket_dir=" + self.dir["sock"],
                "pg_port=%d" % self.pg_port, "lock_path=" + lock, "spool_path=" + spool,
                "log_path=" + self.dir["log"], "tls_dir=" + self.dir["tls"], "tls_port=%d" % self.tls_port,
                "tls_address=127.0.0.1"]

    def make_certs(self):
        """A CA, the instance's server pair (tls.crt/tls.key, for localhost) and the Jobs' client pair."""
        t = self.dir["tls"]

        def ssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        ssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=pgwarden-test-ca", "-keyout",
            os.path.join(t, "ca.key"), "-out", os.path.join(t, "ca.crt"))
        for name, cn, ext in (("tls", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                                   "extendedKeyUsage=serverAuth\n"),
                              ("client", CLIENT_CN, "extendedKeyUsage=clientAuth\n")):
            extfile = os.path.join(t, name + ".ext")
            with open(extfile, "w") as f:
                f.write(ext)
            ssl("req", *ec, "-subj", "/CN=" + cn, "-keyout", os.path.join(t, name + ".key"), "-out",
                os.path.join(t, name + ".csr"))
            ssl("x509", "-req", "-in", os.path.join(t, name + ".csr"), "-CA", os.path.join(t, "ca.crt"), "-CAkey",
                os.path.join(t, "ca.key"), "-CAcreateserial", "-days", "1", "-extfile", extfile, "-out",
                os.path.join(t, name + ".crt"))
        for f in os.listdir(t):
            os.chown(os.path.join(t, f), self.pw.pw_uid, self.pw.pw_gid)
            os.chmod(os.path.join(t, f), 0o600)

    # --- the instance -----------------------------------------------------------

    def start_postgres(self, data, port, name, archive_command=None):
        cmd = [os.path.join(PG_BIN, "postgres"), "-D", data, "-k", self.dir["sock"], "-p", str(port),
               "-c", "listen_addresses=", "-c", "wal_level=replica"]
        if archive_command:
            cmd += ["-c", "archive_mode=on", "-c", "archive_command=" + archive_command]
        else:
            cmd += ["-c", "archive_mode=off"]
        return self.start(name, as_user(cmd))

    def wait_ready(self, port, proc):
        sockfile = os.path.join(self.dir["sock"], ".s.PGSQL.%d" % port)
        self.wait_for("postgres on %d" % port,
                      lambda: os.path.exists(sockfile) and self.sql("SELECT 1", port).returncode == 0, [proc])

    def wait_archived(self):
        """Switches WAL and waits until the archiver has pushed the switched segment."""
        seg = self.sql_ok("SELECT pg_walfile_name(pg_switch_wal())")
        self.wait_for("archiving of %s" % seg, lambda: self.sql_ok(
            "SELECT coalesce(last_archived_wal, '') >= '%s' FROM pg_stat_archiver" % seg) == "t")

    # --- the test -----------------------------------------------------------------

    def test_backup_pitr_and_retention(self):
        self.make_certs()
        namespace, name = "test", "shop"
        source = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
                  "metadata": {"name": name, "namespace": namespace, "uid": "u-1"},
                  "spec": {"postgresVersion": 15, "instances": 1, "storage": {"size": "1Gi"},
                           "backup": {"repository": {"volume": {"size": "1Gi"}}, "path": "/%s/%s" % (namespace, name),
                                      "retention": {"full": 2, "fullType": "count", "diff": 6}}}}
        source_path = self.write_json("cluster.json", source)

        # Instance side (postgres container + pgbackrest server sidecar) and job side (backup Jobs).
        inst_conf = os.path.join(self.dir["conf"], "pgbackrest.conf")
        self.write(inst_conf, tool("instance-conf", source_path,
                                   *self.render_opts(self.data, self.dir["spool"], self.dir["lock"])))
        job_conf = os.path.join(self.dir["conf"], "pgbackrest-job.conf")
        job_text = tool("job-conf", source_path, *self.render_opts(self.data, self.dir["spool"], self.dir["job-lock"]),
                        "host=localhost")
        self.assertIn("pg1-host-type=tls\n", job_text)
        self.assertIn("repo1-retention-full=2\n", job_text)
        self.write(job_conf, job_text)
        repo_path = tool("repo-path", source_path, "repo_mount=" + self.dir["repo"]).strip()
        self.assertEqual(repo_path, self.dir["repo"] + "/test/shop")

        r = subprocess.run(as_user([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                                    "--auth-local=peer", "-E", "UTF8", "--locale=C", "--data-checksums"]),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        archive_command = tool("archive-command", inst_conf).strip()
        pg = self.start_postgres(self.data, self.pg_port, "postgres", archive_command)
        self.wait_ready(self.pg_port, pg)
        server = self.start("pgbackrest-server", as_user(["pgbackrest", "--config=" + inst_conf, "server"]))

        def tls_listening():
            try:
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=1):
                    return True
            except OSError:
                return False

        self.wait_for("pgbackrest server on %d" % self.tls_port, tls_listening)

        # The Job side: stanza-create and a full backup over TLS.
        self.run_user(json.loads(tool("stanza-args", job_conf)))
        self.sql_ok("CREATE TABLE t (id int PRIMARY KEY, phase text NOT NULL);"
                    "INSERT INTO t SELECT g, 'base' FROM generate_series(1, 10) g")
        self.run_user(json.loads(tool("backup-args", job_conf, "full")))
        # pgBackRest picks the backup set for a time target by the backups' stop times, which it keeps in
        # whole seconds: a target within the same second as the end of the only backup finds no set.
        time.sleep(1.0)

        # Rows before T, the target, rows after T.
        self.sql_ok("INSERT INTO t SELECT g, 'before' FROM generate_series(11, 110) g")
        target_time = self.sql_ok("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        target_lsn = self.sql_ok("SELECT pg_current_wal_lsn()")
        time.sleep(0.05)
        self.sql_ok("INSERT INTO t SELECT g, 'after' FROM generate_series(111, 210) g")
        self.sql_ok("INSERT INTO t SELECT g, 'after' FROM generate_series(211, 220) g")
        self.wait_archived()

        expected = {"time": list(range(1, 111)), "lsn": list(range(1, 111)), "immediate": list(range(1, 11))}
        timings = []
        for i, (kind, target) in enumerate((("time", {"time": target_time}), ("lsn", {"lsn": target_lsn}),
                                            ("immediate", {"immediate": True}))):
            with self.subTest(target=kind):
                timings.append(self.restore_and_check(i, source_path, repo_path, kind, target, expected[kind]))
        for kind, restore_s, ready_s in timings:
            print("\nrecovery time (PostgreSQL %s, target %s): restore %.2f s + start to consistent and promoted "
                  "%.2f s = %.2f s" % (self.major(), kind, restore_s, ready_s, restore_s + ready_s))

        self.check_backup_types_and_retention(job_conf)

    def major(self):
        return self.sql_ok("SHOW server_version_num")[:2]

    def restore_and_check(self, i, source_path, repo_path, kind, target, expected_ids):
        new_name = "shop-%s" % kind
        restore = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresRestore",
                   "metadata": {"name": new_name, "namespace": "test"},
                   "spec": {"source": {"cluster": "shop"}, "target": target, "newCluster": {"name": new_name}}}
        new_cluster = json.loads(tool("restore-cluster", self.write_json("restore-%d.json" % i, restore),
                                      source_path))
        self.assertEqual(new_cluster["spec"]["bootstrap"], {"restore": {"fromCluster": "shop", "target": target}})
        self.assertEqual(new_cluster["spec"]["backup"]["path"], "/test/" + new_name)
        new_path = self.write_json("cluster-%d.json" % i, new_cluster)

        # The new pod: a fresh data directory and its own /tmp (spool, locks).
        data = os.path.join(self.tmp, "restore-%d" % i)
        conf = os.path.join(self.dir["conf"], "restore-%d.conf" % i)
        self.write(conf, tool("instance-conf", new_path, *self.render_opts(
            data, self.mkdir("spool-%d" % i), self.mkdir("lock-%d" % i))))
        args = json.loads(tool("restore-args", conf, repo_path, "-", json.dumps(target)))
        if kind != "latest":
            self.assertIn("--type=" + kind, args)
            self.assertIn("--target-action=promote", args)

        port = free_port()
        t0 = time.monotonic()
        self.run_user(args)
        t1 = time.monotonic()
        # Archiving of the new cluster is off here: its own repository path has no stanza yet
        # (the stanza-create Job makes it once the cluster is ready).
        pg = self.start_postgres(data, port, "restored-%s" % kind)
        self.wait_ready(port, pg)
        self.wait_for("promotion of the %s restore" % kind,
                      lambda: self.sql("SELECT pg_is_in_recovery()", port).stdout.strip() == "f", [pg])
        t2 = time.monotonic()
        ids = self.sql_ok("SELECT string_agg(id::text, ',' ORDER BY id) FROM t", port)
        got = [int(x) for x in ids.split(",") if x]
        self.assertEqual(got, expected_ids, "%s restore to %s: wrong rows" % (kind, target))
        self.stop(pg)
        return kind, t1 - t0, t2 - t1

    def info(self, job_conf):
        return json.loads(self.run_user(json.loads(tool("info-args", job_conf))))

    def check_backup_types_and_retention(self, job_conf):
        for i, kind in enumerate(("diff", "incr")):
            self.sql_ok("INSERT INTO t SELECT g, '%s' FROM generate_series(%d, %d) g"
                        % (kind, 1000 * (i + 1), 1000 * (i + 1) + 49))
            self.run_user(json.loads(tool("backup-args", job_conf, kind)))
        backups = self.info(job_conf)[0]["backup"]
        self.assertEqual([b["type"] for b in backups], ["full", "diff", "incr"])
        first_full = backups[0]["label"]

        # The backup Job's own script (render_backup.c), with the termination message in a file of ours:
        # it holds `info --set=<new label>`, which controller/backup_info.c parses for the status, and
        # fits the 4 KiB Kubernetes keeps; the log's last line carries the same JSON.
        term = os.path.join(self.dir["job-lock"], "termination-log")
        script = tool("backup-script", job_conf, "full", term)
        out = self.run_user(["/bin/sh", "-c", script])
        with open(term, "rb") as f:
            message = f.read()
        self.assertLess(len(message), 4096)
        status = json.loads(tool("info-status", term, "-"))
        log = os.path.join(self.tmp, "job.log")
        with open(log, "w") as f:
            f.write(out)
        self.assertEqual(json.loads(tool("info-log", log)), status)
        info = self.info(job_conf)
        newest = info[0]["backup"][-1]
        self.assertEqual(len(json.loads(message)[0]["backup"]), 1, "one backup set in the message")
        self.assertEqual(status["backupLabel"], newest["label"])
        self.assertEqual(status["type"], "full")
        self.assertEqual(status["lsnStart"], newest["lsn"]["start"])
        self.assertEqual(status["lsnStop"], newest["lsn"]["stop"])
        self.assertEqual(status["sizeBytes"], newest["info"]["repository"]["delta"])
        self.assertGreater(status["sizeBytes"], 0)
        self.assertEqual(status["startedAt"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                            time.gmtime(newest["timestamp"]["start"])))
        self.assertEqual(status["completedAt"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                              time.gmtime(newest["timestamp"]["stop"])))
        info_file = os.environ.get("PGW_SAVE_BACKUP_INFO") or os.path.join(self.tmp, "info.json")
        with open(info_file, "w") as f:  # PGW_SAVE_BACKUP_INFO: keep it (the unit tests' fixture came from here)
            json.dump(info, f, indent=1)
        by_label = json.loads(tool("info-status", info_file, backups[1]["label"]))
        self.assertEqual((by_label["backupLabel"], by_label["type"]), (backups[1]["label"], "diff"))

        # A third full: retention full=2 (count) expires the oldest full and the diff and incr built on it.
        self.run_user(json.loads(tool("backup-args", job_conf, "full")))
        backups = self.info(job_conf)[0]["backup"]
        self.assertEqual([b["type"] for b in backups], ["full", "full"])
        self.assertNotIn(first_full, [b["label"] for b in backups])
