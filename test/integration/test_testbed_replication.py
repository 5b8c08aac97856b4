"""spec.replication on the real test bed: Patroni's synchronous mode, HA timings and failsafe mode.

- A 3-instance cluster with `synchronous: on` (and one with `strict`) has a synchronous standby; its
  primary crashes (every process SIGKILLed, the apiserver not told, the pod
  kept down until another member holds the leader key) under a writer: the
  synchronous standby takes over and every acknowledged row is on it; the old
  primary comes back as a replica with every row too.
- A running asynchronous cluster is made synchronous (and its timings
  changed) by editing the spec: the controller carries it into Patroni's
  dynamic configuration and PostgreSQL gets a synchronous standby; turned off
  again, it goes. Admission refuses what Patroni would silently "fix".
- Failsafe mode: the kube-apiserver (Patroni's DCS) is stopped for a minute,
  much longer than retry_timeout, under a writer: the primary, which still
  reaches every member, keeps taking writes on the writer's connection
  instead of demoting itself.

Every operation runs under pgwriter.Writer, which fails the test if an
acknowledged row is missing. The apiserver outage disturbs everyone on the
shared test bed for a minute: this module runs alone in the suite.
"""
import json
import os
import subprocess
import time
import unittest
import urllib.request

from ha_faults import crash_until_failover, leader
from pgwriter import Writer
from standin import wait_for
from testbed import DIR, NamespaceTestCase, retry, script, wait_cluster

NS = "tb-repl"


def cluster(name, instances, replication=""):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {name}, namespace: {NS}}}\n"
            f"spec:\n  postgresVersion: 15\n  instances: {instances}\n  storage: {{size: 1Gi}}\n{replication}")


class Replication(NamespaceTestCase):
    NS = NS

    def dcs_config(self, name):
        ep = self.tb.get("endpoints", f"{name}-config", NS) or {}
        return json.loads((ep.get("metadata", {}).get("annotations") or {}).get("config") or "{}")

    def pod_ip(self, pod):
        return self.tb.get("pod", pod, NS)["status"]["podIP"]

    def su(self, name):
        return self.tb.secret_value(NS, f"{name}-superuser", "password")

    def sync_standbys(self, name):
        """Names of the standbys the primary waits for (pg_stat_replication.sync_state = 'sync')."""
        primary = leader(self.tb, NS, name)
        out = self.tb.psql(self.pod_ip(primary), "SELECT application_name FROM pg_stat_replication "
                           "WHERE sync_state = 'sync' ORDER BY 1", password=self.su(name))
        return out.split() if out else []

    def role(self, pod):
        return (self.tb.get("pod", pod, NS) or {}).get("metadata", {}).get("labels", {}).get("pgwarden.io/role")

    def crash_primary_of_synchronous_cluster(self, name, mode, yaml_mode):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=cluster(name, 3, f"  replication: {{synchronous: {yaml_mode}}}\n"))
        c = wait_cluster(tb, NS, name, 3)
        self.assertEqual(c["spec"]["replication"], {"synchronous": mode, "ttl": 20, "loopWait": 5, "retryTimeout": 5})
        cfg = self.dcs_config(name)
        for key, want in {"synchronous_mode": True, "synchronous_mode_strict": mode == "strict", "failsafe_mode": True,
                          "ttl": 20, "loop_wait": 5, "retry_timeout": 5}.items():
            self.assertEqual(cfg.get(key), want, key)

        # One synchronous standby, as Patroni records it in <cluster>-sync and PostgreSQL reports it.
        # (strict starts with synchronous_standby_names '*', so PostgreSQL may report one before Patroni records it)
        old = leader(tb, NS, name)

        def recorded_standby():
            ann = (tb.get("endpoints", f"{name}-sync", NS) or {}).get("metadata", {}).get("annotations") or {}
            s = self.sync_standbys(name)
            return s[0] if ann.get("leader") == old and s == [ann.get("sync_standby")] else None
        standby = wait_for(recorded_standby, 90, 1.0, what="a synchronous standby, recorded in <cluster>-sync")
        self.assertNotEqual(standby, old)

        w = Writer(tb, NS, name).start()
        try:
            time.sleep(3)
            _, new = crash_until_failover(tb, NS, name, old)
            # Only the synchronous standby is eligible: it has every acknowledged commit.
            self.assertEqual(new, standby)
            w.wait_acks_after(time.time())
            # The kubelet restarts the old primary's containers; Patroni brings it back as a replica.
            wait_for(lambda: self.role(old) == "replica", 180, 1.0, what=f"{old} back as a replica")
            wait_cluster(tb, NS, name, 3, timeout=300)
            w.wait_acks_after(time.time())
        finally:
            w.stop()
        checked = w.verify()
        self.assertEqual(w.hosts()[-1], self.pod_ip(new))
        # The old primary, now a replica, has every acknowledged row as well.
        retry(lambda: self.assertEqual(w.lost(self.pod_ip(old))[0], []), 60, "acknowledged rows on the old primary")
        print(f"\nsynchronous {mode} failover {old} -> {new}: {checked} acknowledged rows, none lost; "
              f"longest write outage {w.longest_outage():.1f} s", flush=True)

    def test_1_synchronous_failover_loses_no_acknowledged_write(self):
        # `on` unquoted: YAML 1.1 reads a boolean; the webhook names the mode.
        self.crash_primary_of_synchronous_cluster("sync", "on", "on")

    def test_1b_strict_synchronous_failover_loses_no_acknowledged_write(self):
        self.crash_primary_of_synchronous_cluster("strict", "strict", "strict")

    def test_2_replication_change_reaches_a_running_cluster(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=cluster("tosync", 2))
        wait_cluster(tb, NS, "tosync", 2)
        cfg = self.dcs_config("tosync")
        self.assertEqual((cfg.get("synchronous_mode"), cfg.get("failsafe_mode"), cfg.get("ttl")), (False, True, 20))
        self.assertEqual(self.sync_standbys("tosync"), [])

        # Admission refuses what Patroni would adjust behind the user's back, on the real apiserver.
        def denied(patch, needle):
            p = tb.kubectl("patch", "pgc", "tosync", "-n", NS, "--type=merge", "--dry-run=server", "-p",
                           json.dumps({"spec": patch}), check=False)
            self.assertNotEqual(p.returncode, 0, patch)
            self.assertIn(needle, p.stderr)
        denied({"replication": {"ttl": 20, "loopWait": 5, "retryTimeout": 10}}, "must not exceed ttl")
        denied({"replication": {"ttl": 10}}, "ttl")
        denied({"instances": 1, "replication": {"synchronous": "on"}}, "synchronous replication needs a replica")
        p = tb.kubectl("patch", "pgc", "tosync", "-n", NS, "--type=merge", "--dry-run=server", "-p",
                       json.dumps({"spec": {"replication": {"synchronous": "strict"}}}))
        self.assertIn("strict with 2 instances stops writes", p.stderr)

        w = Writer(tb, NS, "tosync").start()
        try:
            tb.kubectl("patch", "pgc", "tosync", "-n", NS, "--type=merge", "-p", json.dumps(
                {"spec": {"replication": {"synchronous": "on", "ttl": 30, "loopWait": 5, "retryTimeout": 10}}}))
            want = {"synchronous_mode": True, "ttl": 30, "loop_wait": 5, "retry_timeout": 10, "failsafe_mode": True}
            wait_for(lambda: all(self.dcs_config("tosync").get(k) == v for k, v in want.items()), 120, 1.0,
                     what="synchronous_mode and the timings in Patroni's configuration")
            # Patroni applies it: the replica becomes the synchronous standby.
            replica = [m for m in ("tosync-0", "tosync-1") if m != leader(tb, NS, "tosync")][0]
            wait_for(lambda: self.sync_standbys("tosync") == [replica], 60, 1.0, what="a synchronous standby")
            primary_ip = self.pod_ip(leader(tb, NS, "tosync"))
            self.assertIn(replica, tb.psql(primary_ip, "SHOW synchronous_standby_names", password=self.su("tosync")))

            # And back: asynchronous again.
            tb.kubectl("patch", "pgc", "tosync", "-n", NS, "--type=merge", "-p",
                       json.dumps({"spec": {"replication": {"synchronous": "off"}}}))
            wait_for(lambda: self.dcs_config("tosync").get("synchronous_mode") is False, 120, 1.0,
                     what="synchronous_mode off in Patroni's configuration")
            wait_for(lambda: self.sync_standbys("tosync") == [], 60, 1.0, what="no synchronous standby")
            w.wait_acks_after(time.time())
        finally:
            w.stop()
        w.verify()

    def api_ready(self):
        p = subprocess.run(["curl", "-fsS", "--max-time", "3", "--cacert", os.path.join(DIR, "pki", "ca.crt"), "--cert",
                            os.path.join(DIR, "pki", "admin.crt"), "--key", os.path.join(DIR, "pki", "admin.key"),
                            "https://127.0.0.1:6443/readyz"], capture_output=True, text=True)
        return p.returncode == 0

    def failsafe_active(self, ip):
        """Patroni's own report, from its REST API on the pod (the apiserver is down)."""
        try:
            with urllib.request.urlopen(f"http://{ip}:8008/metrics", timeout=3) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("patroni_failsafe_mode_is_active"):
                return line.split()[-1] == "1"
        return None

    def test_3_failsafe_primary_keeps_writing_without_the_apiserver(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=cluster("fs", 3))
        wait_cluster(tb, NS, "fs", 3)
        self.assertIs(self.dcs_config("fs").get("failsafe_mode"), True)
        primary = leader(tb, NS, "fs")
        ip = self.pod_ip(primary)
        w = Writer(tb, NS, "fs").start()
        outage = 60
        seen_failsafe = []
        try:
            time.sleep(3)
            stopped_at = time.time()
            script("stop", "kube-apiserver")
            try:
                # retry_timeout (5 s) passes many times over: without failsafe mode Patroni demotes the primary.
                while time.time() - stopped_at < outage:
                    time.sleep(5)
                    seen_failsafe.append(self.failsafe_active(ip))
            finally:
                script("start", "kube-apiserver")
            started_at = time.time()
            wait_for(self.api_ready, 90, 0.5, what="kube-apiserver ready again")
            w.wait_acks_after(time.time())
        finally:
            w.stop()
        w.verify()
        self.assertIn(True, seen_failsafe, "Patroni reported failsafe mode active during the outage")
        # Writes went on through the outage, on the same primary and the writer's one connection.
        acks = [a for a in w.acks() if stopped_at <= a[1] <= started_at]
        self.assertEqual({a[2] for a in acks}, {ip}, "every write of the outage acknowledged by the primary")
        for start in range(0, outage, 10):
            self.assertTrue(any(stopped_at + start <= a[1] < stopped_at + start + 10 for a in acks),
                            f"no write acknowledged between {start} and {start + 10} s into the outage")
        self.assertEqual(leader(tb, NS, "fs"), primary)
        gaps = [g for g in w.outages(1.0) if stopped_at - 1 <= g[0] <= started_at]
        print(f"\nfailsafe: apiserver down {started_at - stopped_at:.0f} s, {len(acks)} rows acknowledged meanwhile, "
              f"longest gap {max((g[1] for g in gaps), default=0):.1f} s, failsafe active samples {seen_failsafe}",
              flush=True)


if __name__ == "__main__":
    unittest.main()
