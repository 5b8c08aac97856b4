"""The REST API acts as the person, so Kubernetes RBAC decides (DESIGN.md §11, docs/api.md).

On the real test bed, with Kubernetes' own roles (pgwarden's objects are
aggregated into view and edit, manifests/rbac/user-roles.yaml):

- a person with `view` in namespace A reads A's clusters, backups, restores and
  a cluster's detail (without the connection Secret: `forbidden`), and every
  write (create, dry-run create, replace, patch, delete and each action) is
  refused with 403 and exactly the message kubectl gets with the person's own
  token; nothing changed;
- they cannot read namespace B, nor list across all namespaces (403), although
  the operator itself can: its rights are never lent;
- the audit log shows every request the API made for them as the operator with
  `impersonatedUser` set to the person (and their groups), and no write on a
  person's behalf made with the operator's own identity.

The namespaces hold a ResourceQuota of `pods: 0`: the clusters are real objects
the controller reconciles, but no PostgreSQL starts (a 2-core machine).
"""
import json
import unittest

from pgwapi import can_i, k8s_token, kubectl_with_token, person, wait_api
from standin import wait_for
from testbed import OPERATOR_SA, Testbed

A, B = "e2eapi-rbac-a", "e2eapi-rbac-b"
PLURALS = ("postgresclusters", "postgresbackups", "postgresrestores")


def cluster(ns, name="db"):
    return {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"name": name, "namespace": ns},
            "spec": {"postgresVersion": 15, "instances": 1, "storage": {"size": "1Gi"},
                     "backup": {"repository": {"volume": {"size": "1Gi"}}}}}


class ApiRbac(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tb = cls.tb = Testbed()
        tb.install_pgwarden()
        for ns in (A, B):
            tb.namespace(ns)
            tb.kubectl("create", "quota", "no-pods", "-n", ns, "--hard=pods=0")
            tb.kubectl("apply", "-f", "-", stdin=json.dumps(cluster(ns)))
        wait_for(lambda: tb.get("secret", "db-app", A), 120, 1.0, what="the controller's Secret db-app")
        cls.apis = wait_api(tb)
        cls.api = cls.apis[0]
        cls.viewer = person(tb, A, "viewer", "view")
        cls.editor = person(tb, A, "editor", "edit")
        cls.viewer_k8s = k8s_token(tb, A, "viewer")
        cls.editor_k8s = k8s_token(tb, A, "editor")
        # RoleBindings take effect at once, but the aggregated roles may still be filling in.
        wait_for(lambda: can_i(tb, cls.viewer, "list", "postgresclusters.pgwarden.io", A), 60, 0.5,
                 what="view includes postgresclusters")
        wait_for(lambda: can_i(tb, cls.editor, "create", "postgresbackups.pgwarden.io", A), 60, 0.5,
                 what="edit includes postgresbackups")
        cls.viewer_jwt, _ = cls.api.login(cls.viewer_k8s)
        cls.editor_jwt, _ = cls.api.login(cls.editor_k8s)

    @classmethod
    def tearDownClass(cls):
        for ns in (A, B):
            cls.tb.delete_namespace(ns)

    def as_viewer(self, method, path, body=None, api=None, **kw):
        return (api or self.api).request(method, path, body, token=self.viewer_jwt, **kw)

    def as_editor(self, method, path, body=None, **kw):
        return self.api.request(method, path, body, token=self.editor_jwt, **kw)

    def assert_forbidden(self, r, kubectl_result=None):
        self.assertEqual(r.status, 403, r)
        body = r.json()
        self.assertEqual((body["kind"], body["reason"], body["code"]), ("Status", "Forbidden", 403))
        self.assertIn("is forbidden: User \"system:serviceaccount:", body["message"])
        self.assertNotIn(OPERATOR_SA, body["message"], "the refusal names the operator, not the person")
        if kubectl_result is not None:
            self.assertNotEqual(kubectl_result.returncode, 0, kubectl_result.stdout)
            self.assertIn("Error from server (Forbidden)", kubectl_result.stderr)
            self.assertIn(body["message"], kubectl_result.stderr, "the API's refusal is the one kubectl shows")

    # --- reading -----------------------------------------------------------------------

    def test_viewer_reads_its_namespace(self):
        want = self.tb.get("pgc", "db", A)
        r = self.as_viewer("GET", f"/api/v1/namespaces/{A}/postgresclusters")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([i["metadata"]["name"] for i in r.json()["items"]], ["db"])
        self.assertTrue(r.json()["metadata"]["resourceVersion"])
        r = self.as_viewer("GET", f"/api/v1/namespaces/{A}/postgresclusters/db")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["metadata"]["uid"], want["metadata"]["uid"])
        self.assertEqual(r.json()["spec"], want["spec"])
        for plural in ("postgresbackups", "postgresrestores"):
            self.assertEqual(self.as_viewer("GET", f"/api/v1/namespaces/{A}/{plural}").status, 200, plural)
        # kubectl with the same token agrees.
        k = kubectl_with_token(self.tb, self.viewer_k8s, "get", "pgc", "-n", A, "-o", "name")
        self.assertEqual(k.returncode, 0, k.stderr)
        self.assertEqual(k.stdout.split(), ["postgrescluster.pgwarden.io/db"])
        # The detail page: everything view may read, and not the connection Secret.
        r = self.as_viewer("GET", f"/api/v1/namespaces/{A}/postgresclusters/db/detail")
        self.assertEqual(r.status, 200, r)
        d = r.json()
        self.assertEqual(d["cluster"]["metadata"]["uid"], want["metadata"]["uid"])
        self.assertEqual(d["connection"].get("forbidden"), True, d["connection"])
        self.assertEqual(d["connection"].get("secret"), "db-app")
        self.assertNotIn("password", json.dumps(d["connection"]))
        self.assertNotIn("uri", d["connection"])
        self.assertIn("secrets", d.get("forbidden", []))
        for key in ("summary", "events"):
            self.assertIn(key, d)
        # An editor (edit reads Secrets) gets the connection.
        r = self.as_editor("GET", f"/api/v1/namespaces/{A}/postgresclusters/db/detail")
        self.assertEqual(r.status, 200, r)
        conn = r.json()["connection"]
        self.assertFalse(conn.get("forbidden"), conn)
        self.assertTrue(conn.get("host") or conn.get("missing"), conn)

    # --- writing as a viewer --------------------------------------------------------------

    def test_viewer_writes_are_refused_as_kubectl_refuses_them(self):
        before = self.tb.get("pgc", "db", A)
        rv = before["metadata"]["resourceVersion"]
        base = f"/api/v1/namespaces/{A}/postgresclusters"
        new = cluster(A, "viewer-made")
        kt = self.viewer_k8s
        cases = [
            ("create", ("POST", base, new),
             ("create", "-f", "-"), json.dumps(new)),
            ("dry-run create", ("POST", base + "?dryRun=All", new),
             ("create", "--dry-run=server", "-f", "-"), json.dumps(new)),
            ("replace", ("PUT", f"{base}/db", before),
             ("replace", "-f", "-"), json.dumps(before)),
            ("patch", ("PATCH", f"{base}/db", {"spec": {"instances": 2}}),
             ("patch", "pgc", "db", "-n", A, "--type=merge", "-p", '{"spec":{"instances":2}}'), None),
            ("delete", ("DELETE", f"{base}/db", None),
             ("delete", "pgc", "db", "-n", A, "--wait=false"), None),
            ("restart", ("POST", f"{base}/db/restart", {"instance": "all"}),
             ("annotate", "pgc", "db", "-n", A, "pgwarden.io/restart=all"), None),
            ("switchover", ("POST", f"{base}/db/switchover", {"instance": "db-1"}),
             ("annotate", "pgc", "db", "-n", A, "pgwarden.io/switchover=db-1"), None),
            ("backup", ("POST", f"{base}/db/backup", {"type": "full"}),
             ("create", "-f", "-"), json.dumps({"apiVersion": "pgwarden.io/v1", "kind": "PostgresBackup",
                                                "metadata": {"name": "b", "namespace": A},
                                                "spec": {"cluster": "db", "type": "full"}})),
            ("restore", ("POST", f"{base}/db/restore", {"name": "db-copy", "immediate": True}),
             ("create", "-f", "-"), json.dumps({"apiVersion": "pgwarden.io/v1", "kind": "PostgresRestore",
                                                "metadata": {"name": "r", "namespace": A},
                                                "spec": {"source": {"cluster": "db"}, "target": {"immediate": True}}})),
            ("create a backup object", ("POST", f"/api/v1/namespaces/{A}/postgresbackups",
                                        {"apiVersion": "pgwarden.io/v1", "kind": "PostgresBackup",
                                         "metadata": {"name": "b2"}, "spec": {"cluster": "db"}}), None, None),
        ]
        for name, (method, path, body), kargs, kstdin in cases:
            for api in self.apis:
                with self.subTest(name, replica=api.ip):
                    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
                    r = self.as_viewer(method, path, body, api=api, ctype=ctype)
                    k = kubectl_with_token(self.tb, kt, *kargs, stdin=kstdin) if kargs else None
                    self.assert_forbidden(r, k)
        # Nothing changed.
        after = self.tb.get("pgc", "db", A)
        self.assertEqual(after["metadata"]["resourceVersion"], rv)
        self.assertIsNone(self.tb.get("pgc", "viewer-made", A))
        for plural in ("postgresbackups", "postgresrestores"):
            self.assertEqual(json.loads(self.tb.kubectl("get", plural, "-n", A, "-o", "json").stdout)["items"], [])

    # --- other namespaces -------------------------------------------------------------------

    def test_no_reading_another_namespace_or_all_namespaces(self):
        kt = self.viewer_k8s
        for plural in PLURALS:
            with self.subTest(plural=plural):
                r = self.as_viewer("GET", f"/api/v1/namespaces/{B}/{plural}")
                self.assert_forbidden(r, kubectl_with_token(self.tb, kt, "get", plural, "-n", B))
                r = self.as_viewer("GET", f"/api/v1/{plural}")
                self.assert_forbidden(r, kubectl_with_token(self.tb, kt, "get", plural, "-A"))
                self.assertIn("at the cluster scope", r.message())
        r = self.as_viewer("GET", f"/api/v1/namespaces/{B}/postgresclusters/db")
        self.assert_forbidden(r, kubectl_with_token(self.tb, kt, "get", "pgc", "db", "-n", B))
        r = self.as_viewer("GET", f"/api/v1/namespaces/{B}/postgresclusters/db/detail")
        self.assertEqual(r.status, 403, r)
        self.assertNotIn('"spec"', r.raw.decode(), "nothing of B's cluster leaks into the refusal")
        # An editor of A writes nothing in B either.
        r = self.as_editor("PATCH", f"/api/v1/namespaces/{B}/postgresclusters/db", {"metadata": {"labels": {"x": "y"}}},
                           ctype="application/merge-patch+json")
        self.assert_forbidden(r)
        r = self.as_editor("POST", f"/api/v1/namespaces/{B}/postgresclusters/db/backup", {})
        self.assert_forbidden(r)

    def test_operator_rights_are_never_lent(self):
        """What the operator's ServiceAccount may do and the person may not stays refused through
        the API, and the audit log shows every request made for the person as the person."""
        tb = self.tb
        pgc = "postgresclusters.pgwarden.io"
        for verb, resource, ns in (("list", pgc, None), ("patch", pgc, A), ("get", "secrets", A), ("list", pgc, B)):
            args = ["auth", "can-i", verb, resource] + (["-n", ns] if ns else ["-A"])
            self.assertEqual(tb.kubectl(*args, as_user=OPERATOR_SA, check=False).stdout.strip(), "yes",
                             f"the operator may {verb} {resource}: the check below would prove nothing")
        offset = tb.audit_offset()
        self.assert_forbidden(self.as_viewer("GET", "/api/v1/postgresclusters"))
        self.assert_forbidden(self.as_viewer("PATCH", f"/api/v1/namespaces/{A}/postgresclusters/db",
                                             {"metadata": {"labels": {"lent": "yes"}}},
                                             ctype="application/merge-patch+json"))
        self.assert_forbidden(self.as_viewer("POST", f"/api/v1/namespaces/{A}/postgresclusters/db/backup", {}))
        self.assert_forbidden(self.as_viewer("GET", f"/api/v1/namespaces/{B}/postgresclusters"))
        d = self.as_viewer("GET", f"/api/v1/namespaces/{A}/postgresclusters/db/detail").json()
        self.assertTrue(d["connection"].get("forbidden"))
        # The editor's writes go through, as the editor.
        r = self.as_editor("PATCH", f"/api/v1/namespaces/{A}/postgresclusters/db",
                           {"metadata": {"labels": {"owner": "editor"}}}, ctype="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["metadata"]["labels"]["owner"], "editor")
        r = self.as_editor("POST", f"/api/v1/namespaces/{A}/postgresclusters/db/backup", {"type": "full"})
        self.assertEqual(r.status, 201, r)
        backup = r.json()["metadata"]["name"]
        self.assertEqual(tb.get("pgbackup", backup, A)["spec"]["cluster"], "db")

        def audited():
            evs = tb.audit_events(offset, namespace=A)
            mine = [e for e in evs if e.get("impersonatedUser")]
            verbs = {(e["impersonatedUser"]["username"], e["verb"], e["objectRef"]["resource"],
                      e.get("responseStatus", {}).get("code")) for e in mine}
            want = {(self.viewer, "patch", "postgresclusters", 403), (self.viewer, "create", "postgresbackups", 403),
                    (self.editor, "patch", "postgresclusters", 200), (self.editor, "create", "postgresbackups", 201)}
            return (evs, mine) if want <= verbs else None
        evs, mine = wait_for(audited, 30, 0.5, what="the API's writes in the audit log")
        for e in mine:
            who = e["impersonatedUser"]
            self.assertIn(who["username"], (self.viewer, self.editor), e)
            self.assertIn(f"system:serviceaccounts:{A}", who.get("groups", []), e)
            self.assertIn("system:authenticated", who.get("groups", []), e)
        # Writes made with the operator's own identity in A in the meantime are the controller's
        # (status, children, finalizers): never one of the person's requests.
        for e in evs:
            if e.get("impersonatedUser"):
                continue
            ref = e["objectRef"]
            self.assertFalse(ref["resource"] in ("postgresbackups", "postgresrestores") and e["verb"] == "create", e)
            self.assertFalse(ref["resource"] == "postgresclusters" and e["verb"] in ("create", "delete"), e)
        tb.kubectl("delete", "pgbackup", backup, "-n", A, "--wait=false")


if __name__ == "__main__":
    unittest.main()
