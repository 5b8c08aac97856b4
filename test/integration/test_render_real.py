"""The configuration the controller renders, run by the real programs.

- patroni.yml passes Patroni's own validator (`patroni --validate-config`),
  with the environment the rendered StatefulSet gives the postgres container.
- The rendered pg_hba lines parse in real PostgreSQL (pg_hba_file_rules).
- The rendered post-bootstrap script and SQL, run as Patroni would run them
  after initdb, create the roles and the application database, and the
  application can log in with the password from its Secret.
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
PG_BIN = "/usr/lib/postgresql/15/bin"

CLUSTER = {
    "apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
    "metadata": {"name": "demo", "namespace": "db", "uid": "0b5e7c1e-1111-4c1e-9c1e-000000000001"},
    "spec": {"postgresVersion": 15, "instances": 3, "storage": {"size": "1Gi"},
             "pooler": {"enabled": True, "mode": "transaction"}, "metrics": {"enabled": True},
             "postgres": {"parameters": {"max_connections": "50"},
                          "pgHba": ["hostssl all all 10.0.0.0/8 scram-sha-256"]},
             "bootstrap": {"initdb": {"database": "shop", "owner": "shopper", "encoding": "UTF8", "locale": "C",
                                      "dataChecksums": True}},
             "backup": {"repository": {"volume": {"size": "5Gi"}}}},
}


def render(cluster):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cluster, f)
    try:
        out = subprocess.run([os.path.join(BUILD_DIR, "render_children"), f.name], capture_output=True, check=True,
                             timeout=30)
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout)["items"]


def child(items, kind, name):
    return next(i for i in items if i["kind"] == kind and i["metadata"]["name"] == name)


def container_env(items):
    """The postgres container's environment as Kubernetes would resolve it for pod demo-0."""
    sts = child(items, "StatefulSet", "demo")
    secrets = {i["metadata"]["name"]: i.get("stringData", {}) for i in items if i["kind"] == "Secret"}
    fields = {"metadata.name": "demo-0", "metadata.namespace": "db", "status.podIP": "10.0.0.10"}
    env = {}
    for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in e:
            value = e["value"]
            for k, v in env.items():
                value = value.replace(f"$({k})", v)
            env[e["name"]] = value
        elif "fieldRef" in e["valueFrom"]:
            env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[ref["name"]][ref["key"]]
    return env


class PatroniConfigTest(unittest.TestCase):
    def validate(self, text, env):
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            f.write(text)
        try:
            return subprocess.run(["patroni", "--validate-config", f.name], capture_output=True, text=True,
                                  env=dict(os.environ, **env), timeout=60)
        finally:
            os.unlink(f.name)

    def test_rendered_patroni_yml_passes_patronis_validator(self):
        items = render(CLUSTER)
        text = child(items, "ConfigMap", "demo-patroni")["data"]["patroni.yml"]
        env = container_env(items)
        out = self.validate(text, env)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # A cluster restored from a backup bootstraps with pgBackRest; Patroni accepts that method too.
        restored = json.loads(json.dumps(CLUSTER))
        restored["metadata"]["annotations"] = {"pgwarden.io/restore-repo-path": "/db/source"}
        restored["spec"]["bootstrap"] = {"restore": {"fromCluster": "source", "target": {"time": "2026-11-21T10:00:00Z"}}}
        r_items = render(restored)
        r_text = child(r_items, "ConfigMap", "demo-patroni")["data"]["patroni.yml"]
        self.assertEqual(json.loads(r_text)["bootstrap"]["method"], "pgbackrest")
        out = self.validate(r_text, container_env(r_items))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # The validator can fail: drop the address Patroni needs and it refuses.
        env.pop("PATRONI_RESTAPI_CONNECT_ADDRESS")
        self.assertNotEqual(self.validate(text, env).returncode, 0)


@unittest.skipUnless(os.path.exists(PG_BIN), "PostgreSQL 15 is not installed")
class BootstrapSqlTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pgw-boot-")
        shutil.chown(self.tmp, "postgres", "postgres")
        os.chmod(self.tmp, 0o755)
        self.data = os.path.join(self.tmp, "data")
        self.sock = os.path.join(self.tmp, "sock")
        os.mkdir(self.sock)
        shutil.chown(self.sock, "postgres", "postgres")
        self.items = render(CLUSTER)
        self.env = container_env(self.items)
        pwfile = os.path.join(self.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(self.env["PATRONI_SUPERUSER_PASSWORD"])
        shutil.chown(pwfile, "postgres", "postgres")
        self.as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=scram-sha-256",
                          f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C", "--data-checksums"])
        # TLS on, as the rendered local parameters require (hostssl lines only parse cleanly with ssl=on).
        tls = os.path.join(self.tmp, "tls")
        subprocess.run([pgw.BIN, "certs", "generate", "--service", "demo", "--namespace", "db", "--out", tls],
                       check=True, capture_output=True, timeout=60)
        for f in os.listdir(tls):
            shutil.chown(os.path.join(tls, f), "postgres", "postgres")
        shutil.chown(tls, "postgres", "postgres")
        self.as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", os.path.join(self.tmp, "log"),
                          "-o", f"-c listen_addresses='' -c unix_socket_directories='{self.sock}' -c ssl=on "
                                f"-c ssl_cert_file='{tls}/tls.crt' -c ssl_key_file='{tls}/tls.key'", "start"])
        self.started = True

    def tearDown(self):
        if getattr(self, "started", False):
            subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate",
                            "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def as_postgres(self, args, env=None, **kw):
        out = subprocess.run(["runuser", "-u", "postgres", "--"] + args, capture_output=True, text=True,
                             env=dict(os.environ, **(env or {})), timeout=120, **kw)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out.stdout

    def psql(self, sql, user="postgres", password=None, db="postgres"):
        password = password or self.env["PATRONI_SUPERUSER_PASSWORD"]
        return self.as_postgres([f"{PG_BIN}/psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                                 "-U", user, "-d", db, "-c", sql], env={"PGPASSWORD": password}).strip()

    def test_post_bootstrap_creates_roles_and_database(self):
        cm = child(self.items, "ConfigMap", "demo-patroni")["data"]
        etc = os.path.join(self.tmp, "etc-patroni")
        os.mkdir(etc)
        for key, text in cm.items():
            with open(os.path.join(etc, key), "w") as f:
                f.write(text)
        os.chmod(etc, 0o755)
        # Patroni runs the script with a connection URL; the ConfigMap is mounted at /etc/patroni.
        url = f"postgresql://postgres@/postgres?host={self.sock}"
        script = f"mount --bind {etc} /etc/patroni && runuser -u postgres -- sh /etc/patroni/post-bootstrap.sh '{url}'"
        env = dict(os.environ, PGPASSWORD=self.env["PATRONI_SUPERUSER_PASSWORD"],
                   **{k: v for k, v in self.env.items() if k.startswith("PGW_")})
        out = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, env=env,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

        app = child(self.items, "Secret", "demo-app")["stringData"]
        old_password = app["password"]
        # Run it again with new passwords, as on a cluster restored from another cluster's backup: the roles and
        # database exist already, the script still succeeds, and the passwords become this cluster's.
        app = dict(app, password="restored-cluster-password")
        env["PGW_APP_PASSWORD"] = app["password"]
        out = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, env=env,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        with self.assertRaises(AssertionError):
            self.psql("SELECT 1", user=app["username"], password=old_password, db=app["dbname"])

        self.assertEqual(self.psql("SELECT current_user || '@' || current_database()", user=app["username"],
                                   password=app["password"], db=app["dbname"]), "shopper@shop")
        with self.assertRaises(AssertionError):
            self.psql("SELECT 1", user=app["username"], password="wrong", db=app["dbname"])
        # The pooler's lookup function reached the application database through template1.
        self.assertEqual(self.psql("SELECT count(*) FROM pg_proc WHERE proname = 'get_auth'", db="shop"), "1")
        exporter = child(self.items, "Secret", "demo-exporter")["stringData"]
        self.assertEqual(self.psql("SELECT pg_has_role('pgwarden_exporter', 'pg_monitor', 'member')"), "t")
        self.assertEqual(self.psql("SELECT 1", user=exporter["username"], password=exporter["password"]), "1")

    def test_rendered_pg_hba_parses(self):
        patroni = json.loads(child(self.items, "ConfigMap", "demo-patroni")["data"]["patroni.yml"])
        hba = os.path.join(self.data, "pg_hba.conf")
        for lines, want_errors in ((patroni["bootstrap"]["dcs"]["postgresql"]["pg_hba"], 0), (["host all all 10.0.0.0/99 md5"], 1)):
            with open(hba, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.assertEqual(int(self.psql("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")),
                             want_errors)


if __name__ == "__main__":
    unittest.main()
