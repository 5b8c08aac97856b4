"""Declarative roles, databases and extensions on the real test bed (docs/roles.md).

One 2-instance PostgreSQL 15 cluster is shared by the steps, which run in
order, with a writer (as postgres, so rotating the application owner's password
does not cut it off) running throughout and verified at the end. The controller
connects to the primary with pgwarden's own client; every check here goes
through the real PostgreSQL and PgBouncer with psql: a role logs in directly
(pod IP, 5432, sslmode=require) and through PgBouncer (6432, auth_query), its
attributes and memberships are read from the catalog, a rotated password stops
the old one and admits the new one, drift made by hand is corrected, and
ensure: absent drops while an item removed from the list stays.
"""
import base64
import json
import os
import subprocess
import time
import unittest

from pgwriter import Writer
from standin import wait_for
from testbed import SOURCE, NamespaceTestCase, retry, wait_cluster

NS = "roles-bed"
USER_PASSWORD = "writer-first-password-1"

SPEC = """apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {name: rl, namespace: roles-bed}
spec:
  postgresVersion: 15
  instances: 2
  storage: {size: 1Gi}
  roles:
  - name: analyst
    inRoles: [pg_read_all_data]
    connectionLimit: 5
    validUntil: "2031-01-01T00:00:00Z"
  %(writer)s
  %(temp_role)s
  databases:
  - name: reports
    owner: analyst
    template: template0
    locale: C
    extensions:
    - {name: pg_trgm, version: "%(trgm)s"}
    - {name: hstore}
  %(temp_db)s
"""
WRITER = "- {name: writer, createdb: true, passwordSecret: {name: writer-pw}}"
TEMP_ROLE = "- {name: scratch}"
TEMP_DB = "- {name: scratchdb, owner: scratch}"

# A client that keeps one connection open (through PgBouncer) and runs each line it reads.
POOLED_CLIENT = r"""
import json, sys, psycopg2
c = psycopg2.connect(sys.argv[1]); c.autocommit = True
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    try:
        cur = c.cursor(); cur.execute(line); print(json.dumps({"row": [str(v) for v in cur.fetchone()]}), flush=True)
    except Exception as e:
        print(json.dumps({"error": str(e)}), flush=True)
"""


class PooledClient:
    def __init__(self, dsn):
        python = os.path.join(SOURCE, ".cache", "testbed", "patroni", "bin", "python3")
        self.p = subprocess.Popen([python, "-c", POOLED_CLIENT, dsn], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError(f"pooled client: {self.p.stderr.read()}")

    def query(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)
        self.p.stdout.close()
        self.p.stderr.close()


class DeclarativeRoles(NamespaceTestCase):
    NS = NS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tb = cls.tb
        tb.kubectl("create", "secret", "generic", "writer-pw", "-n", NS, f"--from-literal=password={USER_PASSWORD}")
        cls.apply(trgm="1.5", temp_role=TEMP_ROLE, temp_db=TEMP_DB)
        wait_cluster(tb, NS, "rl", 2)
        cls.writer = Writer(tb, NS, "rl", user="postgres", db="postgres").start()

    @classmethod
    def apply(cls, trgm="1.6", writer=WRITER, temp_role="", temp_db=""):
        cls.tb.kubectl("apply", "-f", "-", stdin=SPEC % {"trgm": trgm, "writer": writer, "temp_role": temp_role,
                                                         "temp_db": temp_db})

    # helpers

    def cluster(self):
        return self.tb.get("pgc", "rl", NS)

    def primary_ip(self):
        pods = json.loads(self.tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/cluster=rl,pgwarden.io/role=primary",
                                          "-o", "json").stdout)["items"]
        self.assertEqual(len(pods), 1)
        return pods[0]["status"]["podIP"]

    def su(self, sql, db="postgres"):
        return self.tb.psql(self.primary_ip(), sql, password=self.tb.secret_value(NS, "rl-superuser", "password"), db=db)

    def login(self, user, password, port=5432, db="postgres"):
        """SELECT current_user as `user`: its answer, or None when the login is refused."""
        return self.tb.psql(self.primary_ip(), "SELECT current_user", user=user, password=password, db=db, port=port,
                            check=False)

    def roles_ready(self, generation=None):
        def ready():
            c = self.cluster()
            cond = [x for x in c.get("status", {}).get("conditions", []) if x["type"] == "RolesReady"]
            ok = cond and cond[0]["status"] == "True" and (generation is None or cond[0]["observedGeneration"] >= generation)
            return c if ok else None
        return wait_for(ready, 180, 1.0, what="RolesReady True")

    def touch(self):
        """A metadata change: the controller reconciles the cluster now rather than at the next resync."""
        self.tb.kubectl("annotate", "pgc", "rl", "-n", NS, f"test.pgwarden.io/touch={time.time()}", "--overwrite")

    def events(self, reason):
        items = json.loads(self.tb.kubectl("get", "events", "-n", NS, "-o", "json").stdout)["items"]
        return [e for e in items if e.get("reason") == reason and e["involvedObject"].get("name") == "rl"]

    def secret_rv(self, name):
        return self.tb.get("secret", name, NS)["metadata"]["resourceVersion"]

    def status_entry(self, kind, name):
        return next((e for e in self.cluster()["status"].get(kind, []) if e["name"] == name), None)

    # the steps, in order

    def test_1_declared_objects_exist_with_their_attributes(self):
        self.roles_ready()
        analyst_pw = self.tb.secret_value(NS, "rl-analyst", "password")
        self.assertIn(f":{analyst_pw}@rl.{NS}.svc:6432/reports", self.tb.secret_value(NS, "rl-analyst", "uri"))
        for user, pw in (("analyst", analyst_pw), ("writer", USER_PASSWORD)):
            self.assertEqual(self.login(user, pw), user, f"{user} directly")
            self.assertEqual(self.login(user, pw, port=6432), user, f"{user} through PgBouncer")
            self.assertIsNone(self.login(user, "wrong-password"))
        self.assertEqual(self.su("SELECT rolcanlogin, rolcreatedb, rolconnlimit, rolvaliduntil AT TIME ZONE 'UTC' "
                                 "FROM pg_roles WHERE rolname = 'analyst'"), "t|f|5|2031-01-01 00:00:00")
        self.assertEqual(self.su("SELECT rolcreatedb, rolconnlimit, rolvaliduntil IS NULL FROM pg_roles "
                                 "WHERE rolname = 'writer'"), "t|-1|t")
        self.assertEqual(self.su("SELECT string_agg(r.rolname, ',') FROM pg_auth_members a JOIN pg_roles r "
                                 "ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member WHERE m.rolname = 'analyst'"),
                         "pg_read_all_data")
        self.assertEqual(self.su("SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate FROM pg_database "
                                 "WHERE datname = 'reports'"), "analyst|UTF8|C")
        # made from template0, it got PgBouncer's auth_query function from the controller
        self.assertEqual(self.login("analyst", analyst_pw, port=6432, db="reports"), "analyst")
        self.assertEqual(self.su("SELECT string_agg(extname || ' ' || extversion, ',' ORDER BY extname) FROM pg_extension "
                                 "WHERE extname <> 'plpgsql'", db="reports"), "hstore 1.8,pg_trgm 1.5")
        # pg_read_all_data: analyst reads the writer's table in the postgres database
        self.assertEqual(self.tb.psql(self.primary_ip(), "SELECT count(*) > 0 FROM pgw_writer", user="analyst",
                                      password=analyst_pw), "t")
        st = self.cluster()["status"]
        self.assertEqual({e["name"]: e["state"] for e in st["roles"]}, {"analyst": "Present", "writer": "Present",
                                                                         "scratch": "Present"})
        self.assertEqual(self.status_entry("roles", "writer")["passwordSecret"], "writer-pw")
        self.assertEqual(self.status_entry("roles", "writer")["passwordVersion"], self.secret_rv("writer-pw"))
        reports = self.status_entry("databases", "reports")
        self.assertEqual((reports["state"], reports["owner"]), ("Present", "analyst"))
        self.assertEqual(sorted((e["name"], e.get("version"), e["state"]) for e in reports["extensions"]),
                         [("hstore", "1.8", "Present"), ("pg_trgm", "1.5", "Present")])
        # one Event per change, not one per reconcile
        self.touch()
        time.sleep(3)
        for reason, message in (("RoleCreated", "created role analyst"), ("DatabaseCreated", "created database reports owned by analyst"),
                                ("ExtensionCreated", "created extension pg_trgm 1.5 in database reports"),
                                ("RoleAltered", "granted pg_read_all_data to role analyst")):
            got = [e for e in self.events(reason) if e["message"] == message]
            self.assertEqual(len(got), 1, f"{reason}: {[e['message'] for e in self.events(reason)]}")
            self.assertEqual(got[0].get("count", 1), 1)

    def test_2_changed_user_secret_rotates_the_password(self):
        self.roles_ready()
        ip = self.primary_ip()
        pooled = PooledClient(f"host={ip} port=6432 dbname=postgres user=writer password={USER_PASSWORD} sslmode=require")
        try:
            self.assertEqual(pooled.query("SELECT current_user"), {"row": ["writer"]})
            new = "writer-second-password-2"
            self.tb.kubectl("patch", "secret", "writer-pw", "-n", NS, "--type=merge", "-p",
                            json.dumps({"stringData": {"password": new}}))
            self.touch()  # Secrets are not watched: a user's change is picked up at the next reconcile
            rv = self.secret_rv("writer-pw")
            wait_for(lambda: (self.status_entry("roles", "writer") or {}).get("passwordVersion") == rv, 120, 1.0,
                     what="the new password applied")
            for port in (5432, 6432):
                self.assertIsNone(self.login("writer", USER_PASSWORD, port=port), f"old password on {port}")
                self.assertEqual(self.login("writer", new, port=port), "writer", f"new password on {port}")
            # the client logged in through PgBouncer before the rotation keeps its session
            self.assertEqual(pooled.query("SELECT current_user"), {"row": ["writer"]})
        finally:
            pooled.close()
        self.assertTrue(any("role writer" in e["message"] for e in self.events("PasswordRotated")))

    def test_3_rotate_annotation_for_a_generated_role_and_the_owner(self):
        self.roles_ready()
        old_analyst = self.tb.secret_value(NS, "rl-analyst", "password")
        old_app = self.tb.secret_value(NS, "rl-app", "password")
        # a server connection of PgBouncer's pool, opened with the old password, is left idle there
        self.assertEqual(self.login("analyst", old_analyst, port=6432, db="reports"), "analyst")
        before = self.su("SELECT now()")
        self.tb.kubectl("annotate", "pgc", "rl", "-n", NS, "pgwarden.io/rotate-password=analyst,app")
        wait_for(lambda: "pgwarden.io/rotate-password" not in self.cluster()["metadata"].get("annotations", {}), 120, 1.0,
                 what="the rotate-password annotation removed")
        new_analyst = self.tb.secret_value(NS, "rl-analyst", "password")
        new_app = self.tb.secret_value(NS, "rl-app", "password")
        self.assertNotEqual(new_analyst, old_analyst)
        self.assertNotEqual(new_app, old_app)
        self.assertIn(f"postgresql://app:{new_app}@", self.tb.secret_value(NS, "rl-app", "uri"))
        self.assertIn(f"password={new_app}&", self.tb.secret_value(NS, "rl-app", "jdbc-uri"))
        # PgBouncer serves the new login on that server connection: it was authenticated once, before
        self.assertEqual(self.tb.psql(self.primary_ip(), "SELECT backend_start < '%s' FROM pg_stat_activity WHERE pid = "
                                      "pg_backend_pid()" % before, user="analyst", password=new_analyst, db="reports",
                                      port=6432), "t")
        for user, old, new, db in (("analyst", old_analyst, new_analyst, "reports"), ("app", old_app, new_app, "app")):
            for port in (5432, 6432):
                self.assertIsNone(self.login(user, old, port=port, db=db), f"{user}: old password on {port}")
                self.assertEqual(self.login(user, new, port=port, db=db), user, f"{user}: new password on {port}")
        # the owner's -app Secret is tracked from now on (the status is written just after the annotation goes)
        app_rv = self.secret_rv("rl-app")
        wait_for(lambda: (self.status_entry("roles", "app") or {}).get("passwordVersion") == app_rv, 30, 1.0,
                 what=f"status.roles[app] at the -app Secret's resourceVersion {app_rv}")
        self.assertEqual(self.status_entry("roles", "app")["passwordSecret"], "rl-app")

    def test_4_drift_made_by_hand_is_corrected(self):
        self.roles_ready()
        self.su("ALTER ROLE analyst CONNECTION LIMIT 3; ALTER ROLE writer NOCREATEDB; REVOKE pg_read_all_data FROM analyst; "
                "GRANT pg_monitor TO analyst")
        self.touch()
        retry(lambda: self.assertEqual(self.su("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'analyst' UNION ALL "
                                               "SELECT rolcreatedb::int FROM pg_roles WHERE rolname = 'writer'"), "5\n1"),
              60, "the drift corrected")
        self.assertEqual(self.su("SELECT string_agg(r.rolname, ',') FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid "
                                 "JOIN pg_roles m ON m.oid = a.member WHERE m.rolname = 'analyst'"), "pg_read_all_data")
        messages = [e["message"] for e in self.events("RoleAltered")]
        self.assertIn("altered role analyst: CONNECTION LIMIT 5", messages)
        self.assertIn("altered role writer: CREATEDB", messages)
        self.assertIn("revoked pg_monitor from role analyst (not in inRoles)", messages)

    def test_5_absent_drops_and_removed_items_stay(self):
        self.roles_ready()
        gen = self.cluster()["metadata"]["generation"]
        # scratch and scratchdb absent (the database first), writer removed from the list, pg_trgm updated
        self.apply(trgm="1.6", writer="", temp_role="- {name: scratch, ensure: absent}", temp_db="- {name: scratchdb, ensure: absent}")
        self.roles_ready(generation=gen + 1)
        self.assertEqual(self.su("SELECT count(*) FROM pg_roles WHERE rolname = 'scratch'"), "0")
        self.assertEqual(self.su("SELECT count(*) FROM pg_database WHERE datname = 'scratchdb'"), "0")
        self.assertEqual(self.su("SELECT extversion FROM pg_extension WHERE extname = 'pg_trgm'", db="reports"), "1.6")
        # writer left the list: still in PostgreSQL, as it was, and gone from the status
        self.assertEqual(self.su("SELECT rolcreatedb FROM pg_roles WHERE rolname = 'writer'"), "t")
        self.assertIsNone(self.status_entry("roles", "writer"))
        self.assertEqual(self.status_entry("roles", "scratch")["state"], "Absent")
        self.assertEqual(self.status_entry("databases", "scratchdb")["state"], "Absent")
        self.assertEqual([e["message"] for e in self.events("RoleDropped")], ["dropped role scratch"])
        self.assertEqual([e["message"] for e in self.events("DatabaseDropped")], ["dropped database scratchdb"])
        self.assertEqual([e["message"] for e in self.events("ExtensionUpdated")],
                         ["updated extension pg_trgm in database reports from 1.5 to 1.6"])

    def test_9_the_writer_lost_nothing(self):
        self.writer.stop()
        self.writer.verify()


if __name__ == "__main__":
    unittest.main()
