"""Volumes on the real test bed (issue 14, docs/operations.md "Growing volumes").

The test bed's provisioner serves two StorageClasses: `testbed-local` allows
expansion (a claim that asks for more gets it, as from a CSI resizer with no
filesystem step), `testbed-fixed` does not (the apiserver refuses to grow its
claims). A writer runs through every step and no acknowledged row may be lost.

- GrowVolumes: a 2-instance cluster's storage.size grows on testbed-local: each
  claim is patched and grows, VolumesResized turns True, and the cluster keeps
  reconciling (a parameter change lands, a third instance comes up and its
  claim, made from the StatefulSet's unchanged template, is grown too). Then
  scale-down: with onScaleDown Delete the claim of ordinal 2 goes with the
  instance, with Retain it stays.
- FixedClass: on testbed-fixed the claims cannot grow: VolumesResized is False
  with ExpansionNotSupported naming the class, one Warning Event, and the rest
  of the reconcile still works (a parameter change lands).
- LeftoverClaims: a cluster deleted and created again under its name finds
  the first one's claims: it is held (Pending, no StatefulSet, VolumesReady
  False with a message saying how out); a restore under that name is held
  even with the adopt annotation; annotated to adopt them, the plain cluster
  starts on the old data, every row the writer had acknowledged included.
"""
import json
import time
import unittest

from pgwriter import Writer
from standin import wait_for
from testbed import NamespaceTestCase, retry, wait_cluster


def manifest(ns, name, instances, storage, extra="", annotations=None):
    meta = f"{{name: {name}, namespace: {ns}"
    if annotations:
        meta += ", annotations: {" + ", ".join(f"{k}: '{v}'" for k, v in annotations.items()) + "}"
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {meta}}}\n"
            f"spec:\n  postgresVersion: 15\n  instances: {instances}\n  storage: {storage}\n{extra}")


class VolumeTestCase(NamespaceTestCase):
    NAME = None

    @classmethod
    def tearDownClass(cls):
        cls.tb.purge_namespace(cls.NS)

    def cluster(self):
        return self.tb.get("pgc", self.NAME, self.NS)

    def condition(self, type_):
        for c in (self.cluster() or {}).get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return c
        return None

    def claims(self):
        items = json.loads(self.tb.kubectl("get", "pvc", "-n", self.NS, "-o", "json").stdout)["items"]
        return {c["metadata"]["name"]: c for c in items}

    def events(self, reason, uid=None):
        items = json.loads(self.tb.kubectl("get", "events", "-n", self.NS, "-o", "json").stdout)["items"]
        return [e for e in items if e.get("reason") == reason and e["involvedObject"].get("name") == self.NAME
                and (uid is None or e["involvedObject"].get("uid") == uid)]

    def patch(self, spec):
        self.tb.kubectl("patch", "pgc", self.NAME, "-n", self.NS, "--type=merge", "-p", json.dumps({"spec": spec}))

    def ips(self):
        pods = json.loads(self.tb.kubectl("get", "pods", "-n", self.NS, "-l", f"pgwarden.io/cluster={self.NAME}", "-o",
                                          "json").stdout)["items"]
        return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods if p["status"].get("podIP")}

    def su(self, ip, sql):
        return self.tb.psql(ip, sql, password=self.tb.secret_value(self.NS, f"{self.NAME}-superuser", "password"))

    def assert_parameter_lands(self, value):
        """A reconcile step after the apply still runs: work_mem reaches every instance."""
        self.patch({"postgres": {"parameters": {"work_mem": value}}})
        for name, ip in self.ips().items():
            retry(lambda: self.assertEqual(self.su(ip, "SHOW work_mem"), value), 120, f"work_mem {value} on {name}")

    def capacity(self, claim):
        return ((claim or {}).get("status", {}).get("capacity") or {}).get("storage")


class GrowVolumes(VolumeTestCase):
    NS = "vol-grow"
    NAME = "grow"

    def test_grow_then_scale_down_deletes_or_keeps_the_claim(self):
        tb, ns, name = self.tb, self.NS, self.NAME
        tb.kubectl("apply", "-f", "-", stdin=manifest(ns, name, 2, "{size: 1Gi, onScaleDown: Delete}"))
        c = wait_cluster(tb, ns, name, 2)
        uid = c["metadata"]["uid"]
        sts = tb.get("statefulset", name, ns)
        self.assertEqual(sts["spec"]["persistentVolumeClaimRetentionPolicy"],
                         {"whenDeleted": "Retain", "whenScaled": "Delete"})
        claims = self.claims()
        for i in range(2):
            self.assertEqual(claims[f"pgdata-{name}-{i}"]["metadata"]["labels"]["pgwarden.io/cluster-uid"], uid)
        self.assertIsNone(self.condition("VolumesResized"), "no condition before any claim was short")

        writer = Writer(tb, ns, name).start()
        try:
            # (a) 1Gi → 2Gi: every claim grows in place; the StatefulSet keeps its template.
            t0 = time.monotonic()
            self.patch({"storage": {"size": "2Gi"}})
            for i in range(2):
                retry(lambda: self.assertEqual(self.capacity(self.claims().get(f"pgdata-{name}-{i}")), "2Gi"), 120,
                      f"pgdata-{name}-{i} grown")
            retry(lambda: self.assertEqual((self.condition("VolumesResized") or {}).get("status"), "True"), 60,
                  "VolumesResized True")
            print(f"claims at 2Gi and VolumesResized True after {time.monotonic() - t0:.1f} s")
            cond = self.condition("VolumesResized")
            self.assertEqual(cond["reason"], "Resized")
            self.assertIn("storage.size 2Gi", cond["message"])
            self.assertEqual(len(self.events("VolumeResizing")), 2, "one Event per claim grown")
            sts = tb.get("statefulset", name, ns)
            self.assertEqual(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "1Gi",
                             "claim templates are immutable: the live one is kept")
            self.assertEqual(self.events("ApplyFailed"), [])

            # The cluster keeps reconciling: a parameter lands, a third instance comes up, and its claim,
            # made from the 1Gi template, is grown to the spec's size.
            self.assert_parameter_lands("6MB")
            self.patch({"instances": 3})
            wait_cluster(tb, ns, name, 3)
            retry(lambda: self.assertEqual(self.capacity(self.claims().get(f"pgdata-{name}-2")), "2Gi"), 120,
                  f"pgdata-{name}-2 grown")
            retry(lambda: self.assertEqual((self.condition("VolumesResized") or {}).get("status"), "True"), 60,
                  "VolumesResized True again")
            self.assertEqual(self.claims()[f"pgdata-{name}-2"]["metadata"]["labels"]["pgwarden.io/cluster-uid"], uid)
            self.assertEqual(self.events("ApplyFailed"), [])

            # (d) onScaleDown Delete: scaling 3 → 2 deletes the claim of ordinal 2.
            self.patch({"instances": 2})
            wait_for(lambda: f"pgdata-{name}-2" not in self.claims(), 180, 1.0, what=f"pgdata-{name}-2 deleted")
            wait_cluster(tb, ns, name, 2)

            # onScaleDown Retain: the claim of ordinal 2 outlives its instance.
            self.patch({"storage": {"onScaleDown": "Retain"}, "instances": 3})
            wait_for(lambda: tb.get("statefulset", name, ns)["spec"]["persistentVolumeClaimRetentionPolicy"]
                     ["whenScaled"] == "Retain", 60, 1.0, what="whenScaled Retain")
            wait_cluster(tb, ns, name, 3)
            self.patch({"instances": 2})
            wait_for(lambda: tb.get("pod", f"{name}-2", ns) is None, 180, 1.0, what=f"pod {name}-2 gone")
            wait_cluster(tb, ns, name, 2)
            kept = self.claims().get(f"pgdata-{name}-2")
            self.assertIsNotNone(kept, "Retain keeps the claim")
            self.assertIsNone(kept["metadata"].get("deletionTimestamp"))
            self.assertEqual(kept["metadata"].get("ownerReferences", []), [], "nothing will collect it")
            writer.wait_acks_after(time.time())
        finally:
            writer.stop()
        print(f"writer: {writer.verify()} acknowledged rows, none lost; longest outage {writer.longest_outage():.1f} s")


class FixedClass(VolumeTestCase):
    NS = "vol-fixed"
    NAME = "fixed"

    def test_growth_refused_by_the_class_is_reported_and_the_rest_goes_on(self):
        tb, ns, name = self.tb, self.NS, self.NAME
        tb.kubectl("apply", "-f", "-", stdin=manifest(ns, name, 1, "{size: 1Gi, storageClass: testbed-fixed}"))
        wait_cluster(tb, ns, name, 1)
        self.assertEqual(self.claims()[f"pgdata-{name}-0"]["spec"]["storageClassName"], "testbed-fixed")
        writer = Writer(tb, ns, name).start()
        try:
            self.patch({"storage": {"size": "2Gi"}})
            retry(lambda: self.assertEqual((self.condition("VolumesResized") or {}).get("reason"),
                                           "ExpansionNotSupported"), 60, "VolumesResized ExpansionNotSupported")
            cond = self.condition("VolumesResized")
            self.assertEqual(cond["status"], "False")
            self.assertIn("StorageClass testbed-fixed does not allow volume expansion", cond["message"])
            self.assertIn(f"pgdata-{name}-0", cond["message"])
            # The rest of the reconcile goes on: a parameter lands.
            self.assert_parameter_lands("5MB")
            claim = self.claims()[f"pgdata-{name}-0"]
            self.assertEqual(claim["spec"]["resources"]["requests"]["storage"], "1Gi", "never patched")
            warnings = self.events("ExpansionNotSupported")
            self.assertEqual(len(warnings), 1)
            self.assertEqual(warnings[0]["type"], "Warning")
            self.assertEqual(warnings[0].get("count", 1), 1, "raised once, not on every reconcile")
            self.assertEqual(self.events("ApplyFailed"), [])
            self.assertEqual(self.cluster()["status"]["phase"], "Running")
            writer.wait_acks_after(time.time())
        finally:
            writer.stop()
        print(f"writer: {writer.verify()} acknowledged rows, none lost")


class LeftoverClaims(VolumeTestCase):
    NS = "vol-reuse"
    NAME = "reuse"

    def test_recreated_cluster_is_held_until_it_adopts_the_claims(self):
        tb, ns, name = self.tb, self.NS, self.NAME
        first = manifest(ns, name, 1, "{size: 1Gi}")
        tb.kubectl("apply", "-f", "-", stdin=first)
        old_uid = wait_cluster(tb, ns, name, 1)["metadata"]["uid"]
        ip = self.ips()[f"{name}-0"]
        password = tb.secret_value(ns, f"{name}-app", "password")
        tb.psql(ip, "CREATE TABLE before_delete (v int); INSERT INTO before_delete VALUES (41)", user="app",
                password=password, db="app")
        writer = Writer(tb, ns, name).start()
        try:
            time.sleep(2)  # some rows acknowledged by the first cluster
            tb.kubectl("delete", "pgc", name, "-n", ns, "--timeout=120s")
            wait_for(lambda: tb.get("statefulset", name, ns) is None, 120, 1.0, what="the StatefulSet collected")
            self.assertIsNotNone(self.claims().get(f"pgdata-{name}-0"), "the claim is kept")

            # A restore under the name never starts on them, annotation or not.
            adopt = {"pgwarden.io/adopt-volumes": "true"}
            tb.kubectl("apply", "-f", "-", stdin=manifest(ns, name, 1, "{size: 1Gi}", annotations=adopt,
                                                          extra=f"  bootstrap: {{restore: {{fromCluster: {name}}}}}\n"))
            retry(lambda: self.assertEqual((self.condition("VolumesReady") or {}).get("reason"), "LeftoverClaims"), 60,
                  "a restore held on the leftover claims")
            self.assertIn("a cluster that restores a backup (spec.bootstrap.restore) never starts on them",
                          self.condition("VolumesReady")["message"])
            self.assertEqual(self.cluster()["status"]["phase"], "Pending")
            self.assertIsNone(tb.get("statefulset", name, ns), "no StatefulSet for the restore")
            tb.kubectl("delete", "pgc", name, "-n", ns, "--timeout=60s")
            self.assertEqual(self.claims()[f"pgdata-{name}-0"]["metadata"]["labels"]["pgwarden.io/cluster-uid"], old_uid,
                             "the refused restore left the claim alone")

            # The first manifest again: held, with the two ways out.
            tb.kubectl("apply", "-f", "-", stdin=first)
            retry(lambda: self.assertEqual((self.condition("VolumesReady") or {}).get("reason"), "LeftoverClaims"), 60,
                  "VolumesReady LeftoverClaims")
            c = self.cluster()
            self.assertNotEqual(c["metadata"]["uid"], old_uid)
            self.assertEqual(c["status"]["phase"], "Pending")
            cond = self.condition("VolumesReady")
            self.assertEqual(cond["status"], "False")
            self.assertIn(f"claims pgdata-{name}-0 were not made by this cluster", cond["message"])
            self.assertIn("delete them to start empty", cond["message"])
            self.assertIn("pgwarden.io/adopt-volumes=true", cond["message"])
            self.assertIsNone(tb.get("statefulset", name, ns), "no StatefulSet while held")
            self.assertEqual(len(self.events("LeftoverClaims", c["metadata"]["uid"])), 1, "raised once")

            # Adopted: it starts on the old data.
            tb.kubectl("annotate", "pgc", name, "-n", ns, "pgwarden.io/adopt-volumes=true")
            c = wait_cluster(tb, ns, name, 1)
            wait_for(lambda: self.condition("VolumesReady").get("reason") == "Adopted", 30, 0.5,
                     what="VolumesReady Adopted")
            self.assertEqual(len(self.events("VolumesAdopted")), 1)
            self.assertEqual(self.claims()[f"pgdata-{name}-0"]["metadata"]["labels"]["pgwarden.io/cluster-uid"],
                             c["metadata"]["uid"], "the adopted claim is the new cluster's now")
            ip = self.ips()[f"{name}-0"]
            retry(lambda: self.assertEqual(tb.psql(ip, "SELECT v FROM before_delete", user="app", password=password,
                                                   db="app"), "41"), 60, "the row written before the deletion")
            writer.wait_acks_after(time.time())
        finally:
            writer.stop()
        print(f"writer: {writer.verify()} acknowledged rows, none lost across delete and adoption")


if __name__ == "__main__":
    unittest.main()
