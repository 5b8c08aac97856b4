"""Reload-only settings on a running cluster, on the real test bed: no restart.

A 3-instance cluster (PostgreSQL 15) under a writer throughout:
- reload-only parameters (work_mem, and wal_compression=lz4, which the
  production build has) changed in spec.postgres.parameters show in `SHOW` on
  all three instances;
- a spec.postgres.pgHba line that rejects a role takes effect on all three
  (a connection that worked is refused by pg_hba.conf); removed, the role
  connects again.
The controller carries both into Patroni's dynamic configuration (the
`<cluster>-config` annotation); Patroni rewrites postgresql.conf / pg_hba.conf
and reloads. No instance restarts: pg_postmaster_start_time() is the same on
each before and after, and the writer lost no acknowledged row. Once
converged the operator does not rewrite the annotation (the comparison
treats an equal pg_hba list as equal).
"""
import json
import time
import unittest

from pgwriter import Writer
from testbed import NamespaceTestCase, retry, wait_cluster

NS = "hba-params"
NAME = "par"
CLUSTER = f"""apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {{name: {NAME}, namespace: {NS}}}
spec:
  postgresVersion: 15
  instances: 3
  storage: {{size: 1Gi}}
  postgres:
    parameters: {{work_mem: 4MB}}
"""
ROLE, ROLE_PASSWORD = "blocked_user", "blocked-pw-1"
REJECT = f"hostssl all {ROLE} all reject"


class ReloadOnlySettings(NamespaceTestCase):
    NS = NS

    def ips(self):
        pods = json.loads(self.tb.kubectl("get", "pods", "-n", NS, "-l", f"pgwarden.io/cluster={NAME}", "-o",
                                          "json").stdout)["items"]
        return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}

    def su(self, ip, sql):
        return self.tb.psql(ip, sql, password=self.tb.secret_value(NS, f"{NAME}-superuser", "password"))

    def start_times(self, ips):
        return {name: self.su(ip, "SELECT pg_postmaster_start_time()") for name, ip in ips.items()}

    def role_connects(self, ip):
        """None when blocked_user gets in, else psql's error."""
        try:
            self.tb.psql(ip, "SELECT 1", user=ROLE, password=ROLE_PASSWORD)
            return None
        except AssertionError as e:
            return str(e)

    def patch(self, postgres):
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type=merge", "-p",
                        json.dumps({"spec": {"postgres": postgres}}))

    def dcs_config(self):
        ep = self.tb.get("endpoints", f"{NAME}-config", NS) or {}
        return json.loads((ep.get("metadata", {}).get("annotations") or {}).get("config") or "{}")

    def test_parameter_and_pg_hba_changes_reach_every_instance_without_restart(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(tb, NS, NAME, 3)
        ips = self.ips()
        self.assertEqual(len(ips), 3)
        for name, ip in ips.items():
            retry(lambda: self.assertEqual(self.su(ip, "SHOW work_mem"), "4MB"), 60, f"work_mem on {name}")
        # pg_hba lives only in the dynamic configuration, which Patroni seeded from bootstrap.dcs.
        self.assertIn("hostssl all all all scram-sha-256", self.dcs_config()["postgresql"]["pg_hba"])
        primary = tb.get("pgc", NAME, NS)["status"]["primary"]
        self.su(ips[primary], f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'")
        for name, ip in ips.items():  # the role replicates; every instance lets it in
            retry(lambda: self.assertIsNone(self.role_connects(ip)), 60, f"{ROLE} connecting to {name}")
        started = self.start_times(ips)

        writer = Writer(tb, NS, NAME).start()
        try:
            # (1) Reload-only parameters. wal_compression=lz4 also shows that admission's catalog and the
            # pods' PostgreSQL (Debian's, built with lz4) agree.
            t0 = time.monotonic()
            self.patch({"parameters": {"work_mem": "7MB", "wal_compression": "lz4"}})
            for name, ip in ips.items():
                retry(lambda: self.assertEqual(self.su(ip, "SHOW work_mem"), "7MB"), 120, f"work_mem 7MB on {name}")
                retry(lambda: self.assertEqual(self.su(ip, "SHOW wal_compression"), "lz4"), 60,
                      f"wal_compression lz4 on {name}")
            print(f"parameters on all 3 instances after {time.monotonic() - t0:.1f} s")

            # (2) A pg_hba line rejecting the role: refused by every instance.
            t0 = time.monotonic()
            self.patch({"pgHba": [REJECT]})
            for name, ip in ips.items():
                retry(lambda: self.assertIn('pg_hba.conf rejects connection', self.role_connects(ip) or ""), 120,
                      f"{ROLE} refused by {name}")
            print(f"pg_hba line in force on all 3 instances after {time.monotonic() - t0:.1f} s")
            self.assertIn(REJECT, self.dcs_config()["postgresql"]["pg_hba"])
            # The user's line comes before the catch-all, and the app's own access is untouched.
            hba = self.dcs_config()["postgresql"]["pg_hba"]
            self.assertLess(hba.index(REJECT), hba.index("hostssl all all all scram-sha-256"))

            # (3) The line removed: the role gets in again everywhere.
            t0 = time.monotonic()
            self.patch({"pgHba": None})
            for name, ip in ips.items():
                retry(lambda: self.assertIsNone(self.role_connects(ip)), 120, f"{ROLE} let in again by {name}")
            print(f"pg_hba line gone on all 3 instances after {time.monotonic() - t0:.1f} s")
            self.assertNotIn(REJECT, self.dcs_config()["postgresql"]["pg_hba"])
            # Converged: the operator leaves the annotation alone (Patroni's own writes to it don't count).
            start = tb.audit_offset()
            time.sleep(15)  # three loop_waits: a quiet window, not a timing assertion
            self.assertEqual([w for w in tb.writes_since(start, namespace=NS) if f"/endpoints/{NAME}-config" in w], [])
            writer.wait_acks_after(time.time())
        finally:
            writer.stop()

        # No restart anywhere: same pods, same postmasters.
        self.assertEqual(self.ips(), ips)
        self.assertEqual(self.start_times(ips), started)
        self.assertEqual(self.su(ips[primary], "SELECT count(*) FROM pg_settings WHERE pending_restart"), "0")
        print(f"writer: {writer.verify()} acknowledged rows, all present; longest gap {writer.longest_outage():.2f} s")


if __name__ == "__main__":
    unittest.main()
