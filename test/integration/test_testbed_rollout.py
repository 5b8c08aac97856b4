"""Rolling updates, restarts, switchovers and scale-down on the real test bed (issue 14, docs/operations.md).

One 3-instance cluster (PostgreSQL 15) goes through, in order:
1. a pod-template change (resources): replicas are replaced one at a time, then one switchover,
   then the old primary; never two instances down at once; status and Events say so;
2. a parameter that needs a restart (shared_buffers): status.pendingRestart names it, the same
   careful roll restarts every instance, and PostgreSQL runs with the new value everywhere;
3. supervised mode: the replicas roll, the primary waits for pgwarden.io/switchover;
4. a requested switchover (and a denied one), and a rolling restart of all;
5. an image that cannot run: the roll stops with a Blocked condition and an Event, the primary untouched,
   and resumes once the spec is fixed;
6. a scale-down with the primary on the highest ordinal: it is switched over first.

A writer runs through every step and no acknowledged row may be lost.
"""
import json
import threading
import time
import unittest

from ha_faults import leader
from pgwriter import Writer
from standin import wait_for
from testbed import NamespaceTestCase, wait_cluster

NS = "tb-rollout"
NAME = "roll"


def manifest(extra=""):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {NAME}, namespace: {NS}}}\n"
            f"spec:\n  postgresVersion: 15\n  instances: 3\n  storage: {{size: 1Gi}}\n{extra}")


class DownWatcher(threading.Thread):
    """Samples the cluster's pods: the most being replaced (deleted or missing) and the most not
    ready at the same time."""

    def __init__(self, tb):
        super().__init__(daemon=True)
        self.tb, self.stop_flag, self.worst = tb, threading.Event(), None
        self.most_replaced = self.most_unready = 0

    def run(self):
        while not self.stop_flag.is_set():
            pods = self.tb.kubectl("get", "pods", "-n", NS, "-l", f"pgwarden.io/cluster={NAME}", "-o", "json",
                                   check=False)
            try:
                items = json.loads(pods.stdout)["items"]
            except (ValueError, KeyError):
                items = []
            want = self.tb.get("pgc", NAME, NS)["spec"]["instances"]
            alive = [p for p in items if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in alive if any(c["type"] == "Ready" and c["status"] == "True"
                                             for c in p.get("status", {}).get("conditions", []))]
            # replaced: being deleted, or not there yet (the controller's doing); unready: any reason
            # (a switchover makes the old primary and the other replicas reconnect for a few seconds)
            replaced = len(items) - len(alive) + max(0, want - len(items))
            if replaced > self.most_replaced:
                self.most_replaced = replaced
                self.worst = [(p["metadata"]["name"], p["metadata"].get("deletionTimestamp") is not None) for p in items]
            self.most_unready = max(self.most_unready, want - len(ready))
            time.sleep(0.3)

    def stop(self):
        self.stop_flag.set()
        self.join()


class Rollout(NamespaceTestCase):
    NS = NS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tb.kubectl("apply", "-f", "-", stdin=manifest())
        wait_cluster(cls.tb, NS, NAME, 3)

    def setUp(self):
        self.writer = Writer(self.tb, NS, NAME, tag=self._testMethodName[-12:])
        self.writer.start()
        self.watch = DownWatcher(self.tb)
        self.watch.start()
        self.events_before = {e["metadata"]["uid"] for e in self.events()}

    def tearDown(self):
        self.watch.stop()
        self.writer.stop()
        acked = self.writer.verify()
        print(f"\n{self._testMethodName}: {acked} acknowledged rows, none lost; longest write outage "
              f"{self.writer.longest_outage():.2f} s; outages >= 1 s: "
              f"{[(round(o[1], 2), o[2], o[3]) for o in self.writer.outages(1.0)]}; most instances not ready at once: "
              f"{self.watch.most_unready}")
        self.assertLessEqual(self.watch.most_replaced, 1, f"never more than one instance replaced: {self.watch.worst}")

    # helpers ------------------------------------------------------------------------------

    def events(self):
        out = self.tb.kubectl("get", "events", "-n", NS, "--field-selector",
                              f"involvedObject.kind=PostgresCluster,involvedObject.name={NAME}", "-o", "json")
        return sorted(json.loads(out.stdout)["items"], key=lambda e: e.get("metadata", {}).get("creationTimestamp", ""))

    def new_events(self, reason=None):
        return [e for e in self.events() if e["metadata"]["uid"] not in self.events_before
                and (reason is None or e["reason"] == reason)]

    def cluster(self):
        return self.tb.get("pgc", NAME, NS)

    def condition(self, ctype):
        for c in self.cluster().get("status", {}).get("conditions", []):
            if c["type"] == ctype:
                return c
        return {}

    def pods(self):
        out = self.tb.kubectl("get", "pods", "-n", NS, "-l", f"pgwarden.io/cluster={NAME}", "-o", "json")
        return {p["metadata"]["name"]: p for p in json.loads(out.stdout)["items"]}

    def wait_rolled(self, timeout=420):
        """Waits until the roll is over: Running, every instance updated, Upgrading False."""
        def done():
            c = self.cluster()
            s = c.get("status", {})
            up = self.condition("Upgrading")
            n = c["spec"]["instances"]
            sts = self.tb.get("statefulset", NAME, NS)
            rev = sts.get("status", {}).get("updateRevision")
            pods = self.pods()
            fresh = all(p["metadata"]["labels"].get("controller-revision-hash") == rev for p in pods.values())
            return (s.get("phase") == "Running" and s.get("readyInstances") == n and s.get("updatedInstances") == n
                    and up.get("status") == "False" and fresh and len(pods) == n)
        wait_for(done, timeout, 1.0, what="rolling update finished")

    def wait_upgrading(self, timeout=60):
        wait_for(lambda: self.condition("Upgrading").get("status") == "True", timeout, 0.3, what="Upgrading=True")

    def psql_all(self, sql):
        pw = self.tb.secret_value(NS, f"{NAME}-superuser", "password")
        return {n: self.tb.psql(p["status"]["podIP"], sql, password=pw) for n, p in self.pods().items()}

    def primary_changes(self):
        return [e for e in self.new_events("Switchover")]

    # the steps ----------------------------------------------------------------------------

    def test_1_template_change_rolls_replicas_first_with_one_switchover(self):
        before = self.pods()
        old_primary = leader(self.tb, NS, NAME)
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p",
                        '{"spec":{"resources":{"requests":{"cpu":"110m"}}}}')
        self.wait_upgrading()
        c = self.cluster()
        self.assertEqual(c["status"]["phase"], "Upgrading")
        self.assertRegex(self.condition("Upgrading")["message"], r"^\d/3 instances updated")
        self.wait_rolled()
        after = self.pods()
        for n in after:
            self.assertNotEqual(after[n]["metadata"]["uid"], before[n]["metadata"]["uid"], f"{n} was not replaced")
            self.assertEqual(after[n]["spec"]["containers"][0]["resources"]["requests"]["cpu"], "110m")
        evicted = [e["message"] for e in self.new_events("RollingUpdate")]
        switchovers = self.new_events("Switchover")
        self.assertEqual(len(switchovers), 1, [e["message"] for e in switchovers])
        self.assertEqual(len(evicted), 3, evicted)
        # replicas first: the old primary is the last one replaced
        self.assertIn(f"replacing replica {old_primary}", evicted[-1])
        for m in evicted[:2]:
            self.assertNotIn(old_primary, m)
        self.assertNotEqual(leader(self.tb, NS, NAME), old_primary)
        changed = self.new_events("PrimaryChanged")
        self.assertTrue(changed and all(e["type"] == "Normal" for e in changed), "a planned switchover is no Warning")
        self.assertEqual(self.condition("Upgrading")["reason"], "UpToDate")
        self.assertEqual(self.condition("Progressing")["status"], "False")

    def test_2_restart_parameter_is_reported_then_rolled(self):
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p",
                        '{"spec":{"postgres":{"parameters":{"shared_buffers":"48MB"}}}}')

        def reported():
            pending = self.cluster().get("status", {}).get("pendingRestart") or []
            return any(p["parameter"] == "shared_buffers" and p.get("newValue") == "48MB" for p in pending)
        wait_for(reported, 90, 0.3, what="status.pendingRestart names shared_buffers")
        self.wait_rolled()
        self.assertEqual(set(self.psql_all("SHOW shared_buffers").values()), {"48MB"})
        wait_for(lambda: not self.cluster()["status"].get("pendingRestart"), 60, 1.0, what="pendingRestart cleared")
        self.assertEqual(len(self.new_events("Switchover")), 1)

    def test_3_supervised_mode_waits_for_the_switchover(self):
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p",
                        '{"spec":{"rollout":{"mode":"supervised"},"resources":{"requests":{"cpu":"120m"}}}}')
        old_primary = leader(self.tb, NS, NAME)
        wait_for(lambda: self.condition("Upgrading").get("reason") == "WaitingForSwitchover", 300, 1.0,
                 what="supervised roll waiting for the switchover")
        msg = self.condition("Upgrading")["message"]
        self.assertIn("2/3 instances updated", msg)
        self.assertIn("pgwarden.io/switchover=", msg)
        time.sleep(8)  # it keeps waiting
        self.assertEqual(leader(self.tb, NS, NAME), old_primary)
        self.assertEqual(self.new_events("Switchover"), [])
        target = msg.rsplit("pgwarden.io/switchover=", 1)[1].strip()
        self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, f"pgwarden.io/switchover={target}")
        self.wait_rolled()
        self.assertEqual(leader(self.tb, NS, NAME), target)
        self.assertNotIn("pgwarden.io/switchover", self.cluster()["metadata"].get("annotations", {}))
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p",
                        '{"spec":{"rollout":{"mode":"unsupervised"}}}')

    def test_4_requested_switchover_and_restart(self):
        primary = leader(self.tb, NS, NAME)
        # admission refuses what cannot be done
        bad = self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, f"pgwarden.io/switchover={NAME}-7", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("no such instance", bad.stderr)
        same = self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, f"pgwarden.io/switchover={primary}", check=False)
        self.assertNotEqual(same.returncode, 0)
        self.assertIn("already the primary", same.stderr)
        target = sorted(n for n in self.pods() if n != primary)[0]
        t0 = time.time()
        self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, f"pgwarden.io/switchover={target}")
        wait_for(lambda: leader(self.tb, NS, NAME) == target, 60, 0.2, what=f"{target} is the leader")
        print(f"\nswitchover: leader key moved {time.time() - t0:.2f} s after the annotation")
        wait_for(lambda: "pgwarden.io/switchover" not in self.cluster()["metadata"].get("annotations", {}), 60, 0.5,
                 what="switchover annotation removed")
        wait_for(lambda: self.new_events("SwitchoverDone"), 30, 0.5, what="SwitchoverDone event")
        self.writer.wait_acks_after(time.time())
        # a rolling restart of every instance
        before = self.pods()
        self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, "pgwarden.io/restart=all")
        self.wait_upgrading()
        self.wait_rolled()
        after = self.pods()
        for n in after:
            self.assertNotEqual(after[n]["metadata"]["uid"], before[n]["metadata"]["uid"], f"{n} was not restarted")
        ann = self.cluster()["metadata"].get("annotations", {})
        self.assertNotIn("pgwarden.io/restart", ann)
        self.assertIn("pgwarden.io/restarted-at", ann)
        self.assertEqual(len(self.new_events("Switchover")), 2)  # the requested one and the roll's

    def test_5_a_failed_step_blocks_the_roll_until_the_spec_is_fixed(self):
        primary = leader(self.tb, NS, NAME)
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p",
                        '{"spec":{"image":"ghcr.io/pgwarden/postgres-missing:15.18"}}')
        wait_for(lambda: self.condition("Upgrading").get("reason") == "Blocked", 180, 1.0, what="roll blocked")
        msg = self.condition("Upgrading")["message"]
        self.assertIn("has not been ready for over 30 s", msg)
        self.assertEqual(self.cluster()["status"]["phase"], "Upgrading")
        wait_for(lambda: self.new_events("RolloutBlocked"), 30, 1.0, what="RolloutBlocked event")
        self.assertEqual(leader(self.tb, NS, NAME), primary, "a blocked roll never switches over")
        self.assertEqual(self.new_events("Switchover"), [])
        self.writer.wait_acks_after(time.time())  # the primary still takes writes
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "json", "-p",
                        '[{"op":"remove","path":"/spec/image"}]')
        self.wait_rolled()
        self.assertEqual(self.condition("Upgrading")["reason"], "UpToDate")

    def test_6_scale_down_switches_the_primary_away_first(self):
        top = f"{NAME}-2"
        if leader(self.tb, NS, NAME) != top:
            self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, f"pgwarden.io/switchover={top}")
            wait_for(lambda: leader(self.tb, NS, NAME) == top, 90, 0.3, what=f"{top} is the leader")
            wait_for(lambda: "pgwarden.io/switchover" not in self.cluster()["metadata"].get("annotations", {}), 60,
                     0.5, what="switchover annotation removed")
        self.tb.kubectl("patch", "pgc", NAME, "-n", NS, "--type", "merge", "-p", '{"spec":{"instances":2}}')
        wait_cluster(self.tb, NS, NAME, 2)
        wait_for(lambda: set(self.pods()) == {f"{NAME}-0", f"{NAME}-1"}, 120, 1.0, what="two pods left")
        self.assertIn(leader(self.tb, NS, NAME), {f"{NAME}-0", f"{NAME}-1"})
        # Patroni's view: two members
        members = [p for p in self.pods().values() if "status" in p["metadata"].get("annotations", {})]
        self.assertEqual(len(members), 2)
        pw = self.tb.secret_value(NS, f"{NAME}-superuser", "password")
        ip = self.pods()[leader(self.tb, NS, NAME)]["status"]["podIP"]
        # Patroni keeps an absent member's slot for member_slots_ttl (30 min) before dropping it: inactive
        active = lambda: self.tb.psql(ip, f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{NAME}_2' "
                                      "AND active", password=pw)
        wait_for(lambda: active() == "0", 60, 1.0, what="the removed member's slot inactive")
        # the removed instance's claim is kept (onScaleDown: Retain, the default)
        self.assertIsNotNone(self.tb.get("pvc", f"pgdata-{NAME}-2", NS))


if __name__ == "__main__":
    unittest.main()
