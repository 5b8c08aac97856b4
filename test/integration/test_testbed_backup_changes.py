"""Changing a running cluster's backup settings, on the real test bed.

Where the WAL archive and the backups live (the repository's kind and
location, spec.backup.path, the encryption key) cannot change on a running
cluster: Patroni would push an archive_command that points at a place with no
stanza and every WAL segment would fail to archive while BackupReady stayed
True. The real kube-apiserver calls our webhook and kubectl shows its denial,
with the reason and what to do instead. What does not move the data
(retention, schedules) goes through, and archiving keeps working: a WAL switch
after the changes is archived and nothing failed. A writer runs throughout and
no acknowledged row is lost.
"""
import json
import sys
import time
import unittest

from pgwriter import Writer, resolve_with_tb
from standin import wait_for
from testbed import NamespaceTestCase, wait_cluster

NS = "tb-repo"
CLUSTER = """apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {name: bk, namespace: tb-repo}
spec:
  postgresVersion: 15
  instances: 2
  storage: {size: 1Gi}
  backup:
    repository:
      volume: {size: 1Gi}
"""

DENIED = [
    # (merge patch, the field named in the denial, text of the reason)
    ({"spec": {"backup": {"repository": {"volume": None, "s3": {
        "bucket": "pg-backups", "endpoint": "s3.example.com", "region": "eu-west-1", "credentialsSecret": "s3"}}}}},
     "spec.backup.repository", "spec.backup.repository cannot change on a running cluster (from volume to s3)"),
    ({"spec": {"backup": {"path": "/elsewhere/bk"}}},
     "spec.backup.path", "spec.backup.path cannot change on a running cluster (from /tb-repo/bk to /elsewhere/bk)"),
    ({"spec": {"backup": {"encryptionSecret": "bk-key"}}},
     "spec.backup.encryptionSecret", "pgBackRest cannot re-encrypt it"),
    # (repository: null alone is refused by the CRD's schema, which requires it inside spec.backup)
    ({"spec": {"backup": None}},
     "spec.backup.repository", "cannot be removed from a running cluster"),
]


class BackupChanges(NamespaceTestCase):
    NS = NS

    @classmethod
    def tearDownClass(cls):
        cls.tb.purge_namespace(cls.NS)  # and the volumes its claims left (retained by the test bed)

    def condition(self, type_):
        c = self.tb.get("pgc", "bk", NS)
        return next((x for x in c.get("status", {}).get("conditions", []) if x["type"] == type_), {})

    def archiver(self):
        host = resolve_with_tb(self.tb, NS, "bk")
        out = self.tb.psql(host, "SELECT archived_count, failed_count, coalesce(last_archived_wal, '') "
                                 "FROM pg_stat_archiver", password=self.su)
        archived, failed, last = out.split("|")
        return int(archived), int(failed), last

    def test_repository_changes_are_denied_and_safe_changes_go_through(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(tb, NS, "bk", 2)
        wait_for(lambda: self.condition("BackupReady").get("status") == "True", 240, 1.0, what="BackupReady True")
        self.su = tb.secret_value(NS, "bk-superuser", "password")
        before = tb.get("pgc", "bk", NS)["spec"]["backup"]

        w = Writer(tb, NS, "bk").start()
        try:
            for patch, field, reason in DENIED:
                p = tb.kubectl("patch", "pgc", "bk", "-n", NS, "--type=merge", "-p", json.dumps(patch), check=False)
                self.assertNotEqual(p.returncode, 0, f"{patch} was accepted")
                self.assertIn("The PostgresCluster \"bk\" is invalid", p.stderr)
                self.assertIn(f"{field}: Forbidden", p.stderr)
                self.assertIn(reason, p.stderr)
                if field != "spec.backup.encryptionSecret" and "removed" not in reason:
                    self.assertIn("the WAL archive and the backups live in the old one", p.stderr)
            self.assertEqual(tb.get("pgc", "bk", NS)["spec"]["backup"], before, "a denied change left a trace")

            # Retention and a schedule do not move the data: accepted, and the schedule's CronJob appears.
            allowed = {"spec": {"backup": {"retention": {"full": 3, "fullType": "count", "diff": 4},
                                           "schedules": [{"name": "nightly", "schedule": "0 3 * * *",
                                                          "type": "full"}]}}}
            p = tb.kubectl("patch", "pgc", "bk", "-n", NS, "--type=merge", "-p", json.dumps(allowed))
            self.assertIn("patched", p.stdout)
            spec = tb.get("pgc", "bk", NS)["spec"]["backup"]
            self.assertEqual(spec["retention"]["full"], 3)
            self.assertEqual(spec["repository"], before["repository"])
            wait_for(lambda: tb.get("cronjob", "bk-backup-nightly", NS), 60, 1.0, what="the nightly CronJob")
            pgbackrest_conf = tb.get("configmap", "bk-pgbackrest", NS)["data"]
            self.assertTrue(any("repo1-retention-full=3" in v for v in pgbackrest_conf.values()),
                            "retention reaches pgbackrest.conf")

            # Archiving still works after the changes: a WAL switch is archived, nothing failed.
            archived, failed, _ = self.archiver()
            host = resolve_with_tb(tb, NS, "bk")
            switched = tb.psql(host, "SELECT pg_walfile_name(pg_switch_wal())", password=self.su)

            def archived_it():
                a, f, last = self.archiver()
                return (a, f) if a > archived and last >= switched else None
            a, f = wait_for(archived_it, 120, 1.0, what=f"WAL {switched} archived")
            self.assertEqual(f, failed, "a WAL segment failed to archive")
            self.assertEqual(self.condition("BackupReady").get("status"), "True")
            w.wait_acks_after(time.time())
        finally:
            w.stop()
        self.assertGreater(w.verify(), 0)
        # A measured figure, not an assertion: the longest gap between acknowledged writes.
        print(f"writer: {len(w.acks())} rows acknowledged, longest gap {w.longest_outage():.3f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
