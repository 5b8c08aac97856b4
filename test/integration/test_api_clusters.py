"""A database's life through the REST API (docs/api.md), on the real test bed.

A person with Kubernetes' `edit` role in the namespace, logged in with a
ServiceAccount token:
- creates a cluster with an invalid spec and gets the same field errors as
  `kubectl create`/`kubectl apply` with their own token (the webhook's and the
  CRD schema's), passed through verbatim with 422;
- a dry run of a valid cluster answers the defaulted object and stores nothing;
- creates it for real (one instance, small) and it reaches Running;
- the detail shows its instance (the primary, ready), services, the connection
  (read from the -app Secret, which edit may read; a viewer gets `forbidden`)
  and its Events, newest first;
- a change made with kubectl shows in the API at once;
- a switchover of the one-instance cluster is denied with kubectl's own message;
- scaled to two instances with a PATCH, and with a writer running throughout:
  the backup action creates a PostgresBackup that kubectl lists and that
  Succeeds, the switchover action makes the replica the primary, the restart
  action replaces the old primary's pod and the cluster is Running again; no
  acknowledged write is lost;
- the delete goes through and the cluster goes.
"""
import json
import sys
import time
import unittest

from pgwapi import k8s_token, kubectl_with_token, person, wait_api
from pgwriter import Writer
from standin import wait_for
from testbed import Testbed, wait_cluster

NS = "e2eapi-clusters"
NAME = "shop"


def cluster(name=NAME, **spec):
    s = {"postgresVersion": 15, "instances": 1, "storage": {"size": "1Gi"},
         "backup": {"repository": {"volume": {"size": "1Gi"}}}}
    s.update(spec)
    return {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"name": name, "namespace": NS},
            "spec": s}


class ApiClusters(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tb = cls.tb = Testbed()
        tb.install_pgwarden()
        tb.namespace(NS)
        cls.api = wait_api(tb)[0]
        cls.editor = person(tb, NS, "editor", "edit")
        person(tb, NS, "viewer", "view")
        cls.editor_k8s = k8s_token(tb, NS, "editor")
        wait_for(lambda: tb.kubectl("auth", "can-i", "create", "postgresclusters.pgwarden.io", "-n", NS,
                                    as_user=cls.editor, check=False).stdout.strip() == "yes", 60, 0.5,
                 what="edit includes postgresclusters")
        cls.jwt, _ = cls.api.login(cls.editor_k8s)
        cls.viewer_jwt, _ = cls.api.login(k8s_token(tb, NS, "viewer"))

    @classmethod
    def tearDownClass(cls):
        cls.tb.purge_namespace(NS)

    def call(self, method, path, body=None, token=None, **kw):
        r = self.api.request(method, path, body, token=token or self.jwt, **kw)
        if r.status == 401:  # a long run outlived the 15-minute session: log in again, as the UI does
            type(self).jwt, _ = self.api.login(k8s_token(self.tb, NS, "editor"))
            r = self.api.request(method, path, body, token=self.jwt, **kw)
        return r

    def base(self, plural="postgresclusters"):
        return f"/api/v1/namespaces/{NS}/{plural}"

    # --- admission through the API --------------------------------------------------------

    def test_1_invalid_spec_same_field_errors_as_kubectl(self):
        cases = {
            "webhook": cluster("bad-image", image="ghcr.io/pgwarden/postgres:latest"),
            "CRD schema": cluster("bad-instances", instances=0),
            "webhook, several fields": cluster("bad-many", image="ghcr.io/pgwarden/postgres:latest",
                                               storage={"size": "lots"}),
        }
        for name, obj in cases.items():
            with self.subTest(name):
                r = self.call("POST", self.base(), obj)
                self.assertEqual(r.status, 422, r)
                body = r.json()
                self.assertEqual((body["kind"], body["reason"]), ("Status", "Invalid"))
                causes = body["details"]["causes"]
                self.assertTrue(causes)
                for verb in ("create", "apply"):
                    k = kubectl_with_token(self.tb, self.editor_k8s, verb, "-f", "-", stdin=json.dumps(obj))
                    self.assertNotEqual(k.returncode, 0)
                    self.assertIn(f'The PostgresCluster "{obj["metadata"]["name"]}" is invalid', k.stderr)
                    for c in causes:
                        text = f"{c['field']}: {c['message']}"
                        self.assertIn(text, body["message"])
                        self.assertIn(text, k.stderr, f"kubectl {verb} shows the API's field error")
                self.assertIsNone(self.tb.get("pgc", obj["metadata"]["name"], NS))
        self.assertIn('the "latest" tag is denied', self.call("POST", self.base(), cases["webhook"]).message())

    def test_2_dry_run_stores_nothing(self):
        r = self.call("POST", self.base() + "?dryRun=All", cluster("dry"))
        self.assertEqual(r.status, 201, r)
        obj = r.json()
        self.assertEqual(obj["metadata"]["name"], "dry")
        self.assertIn("pooler", obj["spec"], "defaulted by the mutating webhook")
        time.sleep(2)
        self.assertIsNone(self.tb.get("pgc", "dry", NS))
        self.assertEqual(self.call("GET", self.base() + "/dry").status, 404)

    # --- a real cluster ---------------------------------------------------------------------

    def test_3_create_and_detail(self):
        r = self.call("POST", self.base(), cluster())
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["metadata"]["name"], NAME)
        # what a person wrote through the API is the API's in managedFields, not the controller's
        managers = {f["manager"] for f in r.json()["metadata"].get("managedFields", [])}
        self.assertIn("pgwarden-api", managers)
        self.assertNotIn("pgwarden", managers)
        c = wait_cluster(self.tb, NS, NAME, 1, timeout=360)

        def detail_ready():
            r = self.call("GET", f"{self.base()}/{NAME}/detail")
            self.assertEqual(r.status, 200, r)
            d = r.json()
            inst = d["summary"]["instances"]
            return d if len(inst) == 1 and inst[0]["ready"] and d["connection"].get("host") else None
        d = wait_for(detail_ready, 60, 1.0, what="the detail of a Running cluster")
        self.assertEqual(d["cluster"]["metadata"]["uid"], c["metadata"]["uid"])
        s = d["summary"]
        self.assertEqual(s["phase"], "Running")
        self.assertEqual((s["desiredInstances"], s["readyInstances"]), (1, 1))
        inst = s["instances"][0]
        self.assertEqual(inst["name"], s["primary"])
        self.assertIn(inst["role"], ("primary", "master"))
        pod = self.tb.get("pod", inst["name"], NS)
        self.assertEqual(inst["ip"], pod["status"]["podIP"])
        self.assertEqual(inst["node"], pod["spec"]["nodeName"])
        svc_names = {x["name"] for x in s["services"]}
        self.assertIn(NAME, svc_names)
        conn = d["connection"]
        secret = self.tb.get("secret", f"{NAME}-app", NS)
        self.assertTrue(secret)
        self.assertEqual(conn["user"], self.tb.secret_value(NS, f"{NAME}-app", "username"))
        self.assertTrue(conn["uri"].startswith("postgres"), conn)
        self.assertIn(str(conn["port"]), conn["uri"])
        events = d["events"]
        self.assertTrue(events, "no Events for a cluster that was just created")
        self.assertLessEqual(len(events), 50)
        for e in events:
            self.assertTrue({"type", "reason", "message"} <= set(e), e)
        stamps = [e.get("lastTimestamp") or "" for e in events]
        self.assertEqual(stamps, sorted(stamps, reverse=True), "events newest first")
        self.assertEqual(d.get("forbidden", []), [])
        # The viewer sees the same cluster without its connection.
        r = self.call("GET", f"{self.base()}/{NAME}/detail", token=self.viewer_jwt)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["connection"].get("forbidden"), True)
        self.assertNotIn(conn["uri"], r.raw.decode())
        # The list shows it.
        items = self.call("GET", self.base()).json()["items"]
        self.assertEqual([i["metadata"]["name"] for i in items], [NAME])

    def test_4_a_kubectl_change_shows_at_once(self):
        stamp = str(time.time_ns())
        self.tb.kubectl("annotate", "pgc", NAME, "-n", NS, f"example.com/changed-by-kubectl={stamp}", "--overwrite")
        t0 = time.monotonic()

        def seen():
            r = self.call("GET", f"{self.base()}/{NAME}")
            return (r.json()["metadata"].get("annotations") or {}).get("example.com/changed-by-kubectl") == stamp
        wait_for(seen, 5, 0.05, what="the kubectl change through the API")
        took = time.monotonic() - t0
        r = self.call("GET", self.base())
        self.assertEqual(r.json()["items"][0]["metadata"]["annotations"]["example.com/changed-by-kubectl"], stamp)
        print(f"kubectl change visible through the API after {took * 1000:.0f} ms", file=sys.stderr)

    def test_5_switchover_of_one_instance_is_denied_as_by_kubectl(self):
        r = self.call("POST", f"{self.base()}/{NAME}/switchover", {"instance": f"{NAME}-0"})
        k = kubectl_with_token(self.tb, self.editor_k8s, "annotate", "pgc", NAME, "-n", NS,
                               f"pgwarden.io/switchover={NAME}-0")
        self.assertIn(r.status, (400, 422), r)
        self.assertNotEqual(k.returncode, 0)
        causes = r.json()["details"]["causes"]
        self.assertTrue(causes, r)
        for c in causes:
            self.assertIn(f"{c['field']}: {c['message']}", k.stderr)
        self.assertNotIn("pgwarden.io/switchover", json.dumps(self.tb.get("pgc", NAME, NS)["metadata"]))

    def test_6_actions_with_a_writer(self):
        """Scaled to two instances with a PATCH through the API (a switchover needs a replica), then
        backup, switchover and restart through the API while a writer runs."""
        tb = self.tb
        r = self.call("PATCH", f"{self.base()}/{NAME}", {"spec": {"instances": 2}},
                      ctype="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["spec"]["instances"], 2)
        wait_cluster(tb, NS, NAME, 2, timeout=360)
        w = Writer(tb, NS, NAME).start()
        try:
            # Backup: a PostgresBackup kubectl lists, and it Succeeds.
            wait_for(lambda: any(c["type"] == "BackupReady" and c["status"] == "True"
                                 for c in tb.get("pgc", NAME, NS)["status"].get("conditions", [])),
                     300, 1.0, what="BackupReady")
            r = self.call("POST", f"{self.base()}/{NAME}/backup", {"type": "full"})
            self.assertEqual(r.status, 201, r)
            b = r.json()
            self.assertEqual((b["kind"], b["spec"]["cluster"], b["spec"]["type"]), ("PostgresBackup", NAME, "full"))
            name = b["metadata"]["name"]
            listed = tb.kubectl("get", "pgbackup", "-n", NS, "-o", "name").stdout.split()
            self.assertIn(f"postgresbackup.pgwarden.io/{name}", listed)

            def done():
                s = (tb.get("pgbackup", name, NS) or {}).get("status", {})
                if s.get("phase") == "Failed":
                    raise AssertionError(f"backup failed: {s}")
                return s if s.get("phase") == "Succeeded" else None
            wait_for(done, 300, 1.0, what=f"PostgresBackup {name} Succeeded")
            r = self.call("GET", f"{self.base('postgresbackups')}/{name}")
            self.assertEqual(r.json()["status"]["phase"], "Succeeded")
            d = self.call("GET", f"{self.base()}/{NAME}/detail").json()
            self.assertIn(name, json.dumps(d["summary"]["backups"]))

            # Switchover to the replica: it becomes the primary and the annotation goes.
            primary = tb.get("pgc", NAME, NS)["status"]["primary"]
            replica = f"{NAME}-1" if primary == f"{NAME}-0" else f"{NAME}-0"
            r = self.call("POST", f"{self.base()}/{NAME}/switchover", {"instance": replica})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["metadata"]["annotations"].get("pgwarden.io/switchover"), replica)

            def switched():
                c = tb.get("pgc", NAME, NS)
                return (c["status"].get("primary") == replica
                        and "pgwarden.io/switchover" not in (c["metadata"].get("annotations") or {}))
            wait_for(switched, 180, 1.0, what=f"{replica} primary after the switchover")
            t = time.time()
            w.wait_acks_after(t, timeout=120)
            d = self.call("GET", f"{self.base()}/{NAME}/detail").json()
            self.assertEqual(d["summary"]["primary"], replica)

            # Restart of the old primary, now a replica: its pod is replaced, the cluster is Running again.
            old_uid = tb.get("pod", primary, NS)["metadata"]["uid"]
            r = self.call("POST", f"{self.base()}/{NAME}/restart", {"instance": primary})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["metadata"]["annotations"].get("pgwarden.io/restart"), primary)

            def replaced():
                p = tb.get("pod", primary, NS)
                return p and p["metadata"]["uid"] != old_uid
            wait_for(replaced, 300, 1.0, what="the restarted pod")
            wait_cluster(tb, NS, NAME, 2, timeout=300)
            w.wait_acks_after(time.time(), timeout=180)
        finally:
            w.stop()
        self.assertGreater(w.verify(), 0)
        print(f"writer: {len(w.acks())} rows acknowledged, longest gap {w.longest_outage():.3f} s", file=sys.stderr)

    def test_7_delete(self):
        r = self.call("DELETE", f"{self.base()}/{NAME}")
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.tb.get("pgc", NAME, NS) is None, 180, 1.0, what="the cluster deleted")
        self.assertEqual(self.call("GET", f"{self.base()}/{NAME}").status, 404)


if __name__ == "__main__":
    unittest.main()
