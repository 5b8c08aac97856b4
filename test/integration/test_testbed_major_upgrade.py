"""An in-place major upgrade, PostgreSQL 15 to 18, on the real test bed (docs/upgrades.md).

A 1-instance cluster of Debian's PostgreSQL 15 (PostgreSQL 18 here runs
single-instance clusters only: its client programs have no TLS, so a replica
could not clone) is asked for 18 by raising spec.postgresVersion with kubectl.
The controller runs the check Job (both binary sets in the image of 18, which
on the test bed sees the host's /usr/lib/postgresql/15/bin), stops the
database, runs pg_upgrade --link in a Job on the primary's claim, points
Patroni's `initialize` at the new system identifier, starts PostgreSQL 18 and
rebuilds the statistics. A writer runs before, through the downtime (a major
upgrade has some by nature) and after: every row acknowledged before the
upgrade is there after it. Before that, a raise to 16 (no PostgreSQL 16 in
the test bed's image table) is refused by the check Job with the database
still serving, and lowering the version back cancels it: the refusal and the
rollback path, with the same writer.
"""
import json
import sys
import time
import unittest

from pgwriter import Writer
from standin import wait_for
from testbed import NamespaceTestCase, wait_cluster

NS = "upg-major"
NAME = "up"
CLUSTER = f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: {NAME}, namespace: {NS}}}
spec:
  postgresVersion: 15
  instances: 1
  storage: {{size: 1Gi}}
"""


def upgrade_condition(c):
    for cond in (c or {}).get("status", {}).get("conditions", []):
        if cond["type"] == "MajorUpgrade":
            return cond
    return None


class MajorUpgrade(NamespaceTestCase):
    NS = NS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(cls.tb, NS, NAME, 1)
        cls.writer = Writer(cls.tb, NS, NAME).start()

    @classmethod
    def tearDownClass(cls):
        cls.writer.stop()
        super().tearDownClass()

    def patch_version(self, version, check=True, dry_run=False):
        args = ["patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p", json.dumps({"spec": {"postgresVersion": version}})]
        if dry_run:
            args.append("--dry-run=server")
        return self.tb.kubectl(*args, check=check)

    def watch_steps(self, until, timeout):
        """Polls the cluster until `until(cluster)`; returns it and the (phase, step) pairs seen in order."""
        seen = []

        def look():
            c = self.tb.get("pgc", NAME, NS)
            cond = upgrade_condition(c)
            pair = (c["status"].get("phase"), cond["reason"] if cond else None)
            if not seen or seen[-1] != pair:
                seen.append(pair)
            return c if until(c) else None
        return wait_for(look, timeout, 0.5, what="the upgrade's steps"), seen

    def superuser(self):
        return self.tb.secret_value(NS, f"{NAME}-superuser", "password")

    def primary_ip(self):
        pod = self.tb.get("pod", f"{NAME}-0", NS)
        return pod["status"]["podIP"]

    def test_1_refused_then_cancelled(self):
        """A raise the image cannot carry out is refused before anything is touched; lowering it back cancels."""
        tb, w = self.tb, self.writer
        t0 = time.time()
        p = self.patch_version(16)
        self.assertIn("15 to 16 is an in-place upgrade", p.stderr)
        c, seen = self.watch_steps(lambda c: (upgrade_condition(c) or {}).get("reason") == "CheckFailed", 240)
        cond = upgrade_condition(c)
        self.assertEqual(cond["status"], "False")
        self.assertIn("nothing was changed", cond["message"])
        self.assertIn("pg_upgrade", cond["message"])  # the image of 16 has none on the test bed
        self.assertEqual(c["status"]["runningPostgresVersion"], 15)
        self.assertNotIn("Upgrading", [ph for ph, _ in seen], f"the database was never stopped: {seen}")
        sts = tb.get("statefulset", NAME, NS)
        self.assertEqual(sts["spec"]["replicas"], 1)
        self.assertTrue(sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":15"))
        w.wait_acks_after(time.time(), n=20)

        # Rollback before the link step: back to the running major is allowed and cancels.
        p = self.patch_version(15)
        self.assertIn("the upgrade is cancelled", p.stderr)
        c, _ = self.watch_steps(lambda c: (upgrade_condition(c) or {}).get("reason") == "Cancelled", 120)
        wait_for(lambda: not json.loads(tb.kubectl("get", "jobs", "-n", NS, "-o", "json").stdout)["items"], 60, 1.0,
                 what="the upgrade's Jobs deleted")
        # A real downgrade stays denied, with a field error.
        p = self.patch_version(14, check=False, dry_run=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("spec.postgresVersion: Forbidden: downgrading PostgreSQL from 15 to 14", p.stderr)
        self.assertEqual(w.outages(min_gap=5.0), [], "the refused upgrade never stopped the database")
        print(f"refused raise: {w.count_since(t0)} rows acknowledged meanwhile, longest gap {w.longest_outage():.2f} s",
              file=sys.stderr)

    def test_2_failed_before_link(self):
        """pg_upgrade refusing the data (a column of type regproc) after the stop: the old data starts again as it was."""
        tb, w = self.tb, self.writer
        su = self.superuser()
        tb.psql(self.primary_ip(), "CREATE TABLE regp (p regproc); INSERT INTO regp VALUES ('now')", password=su, db="app")
        t0 = time.time()
        self.patch_version(18)
        c, seen = self.watch_steps(lambda c: (upgrade_condition(c) or {}).get("reason") in
                                   ("Failed", "FailedLinked", "Starting", "Succeeded"), 300)
        cond = upgrade_condition(c)
        self.assertEqual(cond["reason"], "Failed", f"{cond['message']} (steps {seen})")
        self.assertIn("before its link step", cond["message"])
        self.assertIn("reg*", cond["message"])  # pg_upgrade --check names what it found
        self.assertIn("Upgrading", [s for _, s in seen], "the database was stopped and pg_upgrade ran")
        # PostgreSQL 15 runs again on the untouched data, and takes writes.
        c = wait_cluster(tb, NS, NAME, 1)
        self.assertEqual(c["status"]["runningPostgresVersion"], 15)
        w.wait_acks_after(time.time(), n=20)
        ip = self.primary_ip()
        self.assertIn("PostgreSQL 15", tb.psql(ip, "SELECT version()", password=su))
        self.assertEqual(tb.psql(ip, "SELECT p FROM regp", password=su, db="app"), "now")
        lost, acked = w.lost()
        self.assertEqual(lost, [], f"{len(lost)} acknowledged rows lost")
        events = json.loads(tb.kubectl("get", "events", "-n", NS, "--field-selector", "reason=MajorUpgrade", "-o",
                                       "json").stdout)["items"]
        self.assertTrue(any(e["type"] == "Warning" and e["message"].startswith("Failed:") for e in events))
        # Going back is allowed (nothing was touched); the cause is removed before the real upgrade.
        p = self.patch_version(15)
        self.assertIn("the upgrade is cancelled", p.stderr)
        self.watch_steps(lambda c: (upgrade_condition(c) or {}).get("reason") == "Cancelled", 120)
        tb.psql(ip, "DROP TABLE regp", password=su, db="app")
        print(f"failed before the link step: back on 15 {time.time() - t0:.1f} s after the patch, "
              f"{acked} rows acknowledged, none lost", file=sys.stderr)

    def test_3_upgrade_15_to_18(self):
        tb, w = self.tb, self.writer
        ip = self.primary_ip()
        su = self.superuser()
        self.assertIn("PostgreSQL 15", tb.psql(ip, "SELECT version()", password=su))
        tb.psql(ip, "CREATE TABLE kept (id int PRIMARY KEY, v text); "
                    "INSERT INTO kept SELECT g, md5(g::text) FROM generate_series(1, 10000) g", password=su, db="app")
        old_sysid = tb.psql(ip, "SELECT system_identifier FROM pg_control_system()", password=su)
        w.wait_acks_after(time.time(), n=50)
        acked_before = len(w.acks())

        t0 = time.time()
        self.patch_version(18)
        c, seen = self.watch_steps(lambda c: (upgrade_condition(c) or {}).get("reason") in
                                   ("Succeeded", "Failed", "FailedLinked", "CheckFailed", "Refused"), 600)
        t_done = time.time()
        cond = upgrade_condition(c)
        self.assertEqual(cond["reason"], "Succeeded", f"{cond['message']} (steps {seen})")
        self.assertNotIn("statistics failed", cond["message"])
        steps = [s for _, s in seen]
        order = ["Checking", "Stopping", "Upgrading", "Starting", "Analyzing", "Succeeded"]
        idx = [order.index(s) for s in steps if s in order]
        self.assertEqual(idx, sorted(idx), f"steps in order: {seen}")
        for must in ("Checking", "Upgrading", "Succeeded"):
            self.assertIn(must, steps)
        self.assertIn(("Upgrading", "Upgrading"), seen, "phase Upgrading while pg_upgrade runs")
        self.assertEqual(c["status"]["runningPostgresVersion"], 18)
        self.assertEqual(c["status"]["phase"], "Running")

        # Writes come back on PostgreSQL 18; nothing acknowledged is missing, before or after.
        w.wait_acks_after(t_done, n=50)
        ip = self.primary_ip()
        self.assertIn("PostgreSQL 18", tb.psql(ip, "SELECT version()", password=su))
        self.assertEqual(tb.psql(ip, "SELECT count(*), sum(length(v)) FROM kept", password=su, db="app"), "10000|320000")
        lost, acked = w.lost()
        self.assertEqual(lost, [], f"{len(lost)} acknowledged rows lost")
        self.assertGreater(acked, acked_before)

        # Patroni accepted the upgraded data: its initialize key is the new system identifier.
        sysid = tb.psql(ip, "SELECT system_identifier FROM pg_control_system()", password=su)
        self.assertNotEqual(sysid, old_sysid)
        config = tb.get("endpoints", f"{NAME}-config", NS)
        self.assertEqual(config["metadata"]["annotations"]["initialize"], sysid)
        sts = tb.get("statefulset", NAME, NS)
        self.assertTrue(sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":18"))
        # The planner has statistics again (ANALYZE ran, or pg_upgrade carried them).
        self.assertEqual(tb.psql(ip, "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'kept'", password=su, db="app"),
                         "t")
        wait_for(lambda: not json.loads(tb.kubectl("get", "jobs", "-n", NS, "-o", "json").stdout)["items"], 60, 1.0,
                 what="the upgrade's Jobs deleted")
        events = json.loads(tb.kubectl("get", "events", "-n", NS, "--field-selector", "reason=MajorUpgrade", "-o",
                                       "json").stdout)["items"]
        self.assertTrue(any(e["message"].startswith("Succeeded:") for e in events))

        # Going back is a downgrade now: denied.
        p = self.patch_version(15, check=False, dry_run=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("spec.postgresVersion: Forbidden", p.stderr)

        w.stop()
        self.assertGreater(w.verify(), 0)
        gaps = w.outages(min_gap=1.0)
        print(f"15 -> 18: {t_done - t0:.1f} s from the patch to Succeeded; steps {steps}; "
              f"write outage {max((g[1] for g in gaps), default=0):.1f} s; {len(w.acks())} rows acknowledged, none lost",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
