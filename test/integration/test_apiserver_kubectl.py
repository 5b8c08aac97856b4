"""The kube-apiserver stand-in against REAL kubectl (and raw HTTPS where kubectl
cannot show the detail): discovery, CRDs with printer columns, apply (client
and server side), patches, status subresource, resourceVersion conflicts,
finalizers, owner garbage collection, watch with bookmarks and 410, admission
webhooks over TLS, StatefulSet→Pods, Jobs, fault injection and restart with
state kept.
"""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standin import StandIn, free_port, wait_for

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: postgresclusters.pgwarden.io
spec:
  group: pgwarden.io
  scope: Namespaced
  names: {kind: PostgresCluster, plural: postgresclusters, singular: postgrescluster, shortNames: [pgc], categories: [pgwarden]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Instances, type: integer, jsonPath: .spec.instances}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def cluster(name, ns, instances=2, extra=""):
    return (f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata:\n  name: {name}\n  namespace: {ns}\n{extra}"
            f"spec:\n  instances: {instances}\n  storage: {{size: 1Gi}}\n")


# --- a tiny HTTPS admission webhook -------------------------------------------------------

class Hook:
    """Serves /deny, /mutate, /label, /slow, /warn, /allow; records every AdmissionReview it gets."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "hook")
        os.makedirs(self.dir)
        run = lambda *a: subprocess.run(["openssl"] + list(a), cwd=self.dir, check=True, capture_output=True)
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=hook-ca")
        with open(os.path.join(self.dir, "ext"), "w") as f:
            f.write("subjectAltName=DNS:hook.pgwarden-system.svc\n")
        run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key",
            "-out", "tls.csr", "-subj", "/CN=hook")
        run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-out", "tls.crt", "-extfile", "ext")
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key",
            "-out", "other.crt", "-days", "2", "-subj", "/CN=other-ca")
        with open(os.path.join(self.dir, "ca.crt"), "rb") as f:
            self.ca_bundle = base64.b64encode(f.read()).decode()
        with open(os.path.join(self.dir, "other.crt"), "rb") as f:
            self.wrong_bundle = base64.b64encode(f.read()).decode()
        self.calls = []
        self.lock = threading.Lock()
        hook = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                req = review["request"]
                path = self.path.split("?")[0]
                with hook.lock:
                    hook.calls.append((path, self.path, req))
                resp = {"uid": req["uid"], "allowed": True}
                obj = req.get("object") or {}
                if path == "/deny":
                    resp = {"uid": req["uid"], "allowed": False, "status": {
                        "code": 422, "reason": "Invalid", "message": "spec.instances: Invalid value: 0: must be between 1 and 16"}}
                elif path == "/mutate":
                    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"hook/seen-label": str(
                        "stage" in (obj.get("metadata", {}).get("labels") or {})).lower()}}]
                    resp.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(ops).encode()).decode())
                elif path == "/label":
                    labels = dict(obj.get("metadata", {}).get("labels") or {}, stage="labelled")
                    ops = [{"op": "add", "path": "/metadata/labels", "value": labels}]
                    resp.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(ops).encode()).decode())
                elif path == "/slow":
                    time.sleep(2.5)
                elif path == "/warn":
                    resp["warnings"] = ["instances=1 gives no high availability"]
                data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the stand-in hung up on /slow: that is the point of the test

        self.server = Quiet(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key"))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self):
        with self.lock:
            return [c[0] for c in self.calls]

    def reset(self):
        with self.lock:
            self.calls.clear()


def webhook_config(kind, name, hooks):
    items = []
    for h in hooks:
        w = {"name": h["name"], "sideEffects": "None", "admissionReviewVersions": ["v1"],
             "timeoutSeconds": h.get("timeout", 5), "failurePolicy": h.get("failurePolicy", "Fail"),
             "clientConfig": {"service": {"name": "hook", "namespace": "pgwarden-system", "path": h["path"], "port": 443},
                              "caBundle": h["ca"]},
             "rules": h.get("rules", [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["pgwarden.io"],
                                       "apiVersions": ["v1"], "resources": ["postgresclusters"]}])}
        for k in ("namespaceSelector", "objectSelector", "reinvocationPolicy"):
            if k in h:
                w[k] = h[k]
        items.append(w)
    return json.dumps({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                       "metadata": {"name": name}, "webhooks": items})


class StandInTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="standin-test-")
        cls.hook = Hook(cls.tmp)
        cls.s = StandIn(["--bookmark-interval", "0.3", "--watch-window", "200", "--job-delay", "0.2",
                         "--webhook-service-map", f"hook.pgwarden-system=127.0.0.1:{cls.hook.port}"],
                        tmp=os.path.join(cls.tmp, "a"))
        cls.s.kubectl("apply", "-f", "-", stdin=CRD)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.hook.server.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def k(self, *args, **kw):
        return self.s.kubectl(*args, **kw)

    def get(self, path):
        code, obj, _ = self.s.api("GET", path)
        return obj if code == 200 else None

    # --- discovery, CRDs, kubectl verbs -----------------------------------------------------

    def test_discovery_lists_builtins_and_crd(self):
        out = self.k("api-resources", "-o", "wide").stdout
        for needle in ("statefulsets", "poddisruptionbudgets", "leases", "mutatingwebhookconfigurations",
                       "customresourcedefinitions", "postgresclusters"):
            self.assertIn(needle, out)
        line = next(l for l in out.splitlines() if l.startswith("postgresclusters"))
        self.assertIn("pgc", line)
        self.assertIn("pgwarden.io/v1", line)
        self.assertIn("pgwarden", line)
        code, v, _ = self.s.api("GET", "/version")
        self.assertEqual((code, v["major"]), (200, "1"))

    def test_crd_object_get_patch_apply_delete(self):
        self.s.namespace("t-crud")
        self.assertIn("created", self.k("apply", "-f", "-", stdin=cluster("demo", "t-crud")).stdout)
        table = self.k("get", "pgc", "-n", "t-crud").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "INSTANCES", "PHASE", "READY", "AGE"])
        self.assertEqual(table[1].split()[:2], ["demo", "2"])
        self.assertIn("demo", self.k("get", "pgwarden", "-n", "t-crud").stdout)
        obj = json.loads(self.k("get", "pgc", "demo", "-n", "t-crud", "-o", "json").stdout)
        self.assertEqual(obj["metadata"]["generation"], 1)
        self.assertEqual(obj["spec"]["storage"]["size"], "1Gi")
        # merge patch of spec bumps generation; a status patch does not, and needs the subresource
        self.k("patch", "pgc", "demo", "-n", "t-crud", "--type=merge", "-p", '{"spec":{"instances":3}}')
        self.k("patch", "pgc", "demo", "-n", "t-crud", "--type=merge", "-p", '{"status":{"phase":"Ignored"}}')
        self.k("patch", "pgc", "demo", "-n", "t-crud", "--subresource=status", "--type=merge", "-p",
               '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}')
        obj = json.loads(self.k("get", "pgc", "demo", "-n", "t-crud", "-o", "json").stdout)
        self.assertEqual((obj["metadata"]["generation"], obj["spec"]["instances"], obj["status"]["phase"]), (2, 3, "Running"))
        row = self.k("get", "pgc", "demo", "-n", "t-crud", "--no-headers").stdout.split()
        self.assertEqual(row[:4], ["demo", "3", "Running", "True"])
        # a status write with a spec change only changes status
        self.k("patch", "pgc", "demo", "-n", "t-crud", "--subresource=status", "--type=merge", "-p",
               '{"spec":{"instances":9},"status":{"phase":"Degraded"}}')
        obj = json.loads(self.k("get", "pgc", "demo", "-n", "t-crud", "-o", "json").stdout)
        self.assertEqual((obj["spec"]["instances"], obj["status"]["phase"], obj["metadata"]["generation"]), (3, "Degraded", 2))
        # JSON patch, including a failing one
        self.k("patch", "pgc", "demo", "-n", "t-crud", "--type=json", "-p", '[{"op":"replace","path":"/spec/instances","value":4}]')
        bad = self.k("patch", "pgc", "demo", "-n", "t-crud", "--type=json", "-p", '[{"op":"remove","path":"/spec/nope"}]', check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("nope", bad.stderr)
        # client-side apply again: configured back to 2 instances
        self.assertIn("configured", self.k("apply", "-f", "-", stdin=cluster("demo", "t-crud")).stdout)
        self.assertEqual(json.loads(self.k("get", "pgc", "demo", "-n", "t-crud", "-o", "json").stdout)["spec"]["instances"], 2)
        # delete
        self.assertIn("deleted", self.k("delete", "pgc", "demo", "-n", "t-crud").stdout)
        gone = self.k("get", "pgc", "demo", "-n", "t-crud", check=False)
        self.assertIn('postgresclusters.pgwarden.io "demo" not found', gone.stderr)

    def test_create_errors(self):
        self.s.namespace("t-err")
        self.k("apply", "-f", "-", stdin=cluster("dup", "t-err"))
        dup = self.k("create", "-f", "-", stdin=cluster("dup", "t-err"), check=False)
        self.assertIn('postgresclusters.pgwarden.io "dup" already exists', dup.stderr)
        missing = self.k("apply", "-f", "-", stdin=cluster("x", "no-such-ns"), check=False)
        self.assertIn('namespaces "no-such-ns" not found', missing.stderr)
        code, out, _ = self.s.api("POST", "/apis/pgwarden.io/v1/namespaces/t-err/postgresclusters",
                                  {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {}})
        self.assertEqual((code, out["reason"]), (422, "Invalid"))
        self.assertIn("metadata.name: Required value", out["message"])
        code, out, _ = self.s.api("POST", "/apis/pgwarden.io/v1/namespaces/t-err/postgresclusters",
                                  {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"generateName": "gen-"}})
        self.assertEqual(code, 201)
        self.assertTrue(out["metadata"]["name"].startswith("gen-") and len(out["metadata"]["name"]) == 9)
        code, out, _ = self.s.api("POST", "/apis/pgwarden.io/v1/namespaces/t-err/postgresclusters?dryRun=All",
                                  {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"name": "dry"}})
        self.assertEqual(code, 201)
        self.assertIsNone(self.get("/apis/pgwarden.io/v1/namespaces/t-err/postgresclusters/dry"))

    def test_server_side_apply_ownership_and_conflicts(self):
        self.s.namespace("t-ssa")
        doc = cluster("ssa", "t-ssa", extra="  labels: {team: a}\n")
        self.assertIn("serverside-applied", self.k("apply", "--server-side", "-f", "-", stdin=doc).stdout)
        # another manager changing an owned field conflicts; with --force-conflicts it wins
        other = cluster("ssa", "t-ssa", instances=5)
        res = self.k("apply", "--server-side", "--field-manager=other", "-f", "-", stdin=other, check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn('Apply failed with 1 conflict: conflict with "kubectl" using pgwarden.io/v1: .spec.instances', res.stderr)
        self.k("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", stdin=other)
        obj = self.get("/apis/pgwarden.io/v1/namespaces/t-ssa/postgresclusters/ssa")
        self.assertEqual(obj["spec"]["instances"], 5)
        # the first manager drops the label from its config: the label is removed
        self.k("apply", "--server-side", "-f", "-", stdin=cluster("ssa", "t-ssa", instances=5))
        obj = self.get("/apis/pgwarden.io/v1/namespaces/t-ssa/postgresclusters/ssa")
        self.assertNotIn("team", obj["metadata"].get("labels") or {})
        self.assertEqual(obj["spec"]["storage"], {"size": "1Gi"})
        # re-applying the same config is a no-op: resourceVersion unchanged
        rv = obj["metadata"]["resourceVersion"]
        self.k("apply", "--server-side", "-f", "-", stdin=cluster("ssa", "t-ssa", instances=5))
        self.assertEqual(self.get("/apis/pgwarden.io/v1/namespaces/t-ssa/postgresclusters/ssa")["metadata"]["resourceVersion"], rv)
        # apply without fieldManager is rejected; the status subresource accepts apply
        body = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"name": "ssa"}, "status": {"phase": "Running"}}
        code, _, _ = self.s.api("PATCH", "/apis/pgwarden.io/v1/namespaces/t-ssa/postgresclusters/ssa", body, "application/apply-patch+yaml")
        self.assertEqual(code, 400)
        code, obj, _ = self.s.api("PATCH", "/apis/pgwarden.io/v1/namespaces/t-ssa/postgresclusters/ssa/status?fieldManager=pgwarden&force=true",
                                  body, "application/apply-patch+yaml")
        self.assertEqual((code, obj["status"]["phase"], obj["spec"]["instances"]), (200, "Running", 5))

    def test_stale_resource_version_conflicts(self):
        self.s.namespace("t-rv")
        self.k("apply", "-f", "-", stdin=cluster("rv", "t-rv"))
        path = "/apis/pgwarden.io/v1/namespaces/t-rv/postgresclusters/rv"
        old = self.get(path)
        self.k("patch", "pgc", "rv", "-n", "t-rv", "--type=merge", "-p", '{"spec":{"instances":3}}')
        old["spec"]["instances"] = 7
        code, st, _ = self.s.api("PUT", path, old)
        self.assertEqual((code, st["kind"], st["reason"]), (409, "Status", "Conflict"))
        self.assertEqual(st["message"], 'Operation cannot be fulfilled on postgresclusters.pgwarden.io "rv": the object has been modified; please apply your changes to the latest version and try again')
        cur = self.get(path)
        cur["spec"]["instances"] = 7
        code, new, _ = self.s.api("PUT", path, cur)
        self.assertEqual((code, new["spec"]["instances"]), (200, 7))
        self.assertGreater(int(new["metadata"]["resourceVersion"]), int(cur["metadata"]["resourceVersion"]))
        # kubectl replace with the stale copy fails the same way
        old["metadata"].pop("managedFields", None)
        res = self.k("replace", "-f", "-", stdin=json.dumps(old), check=False)
        self.assertIn("the object has been modified", res.stderr)
        # a merge patch carrying a stale resourceVersion is a precondition too
        code, _, _ = self.s.api("PATCH", path, {"metadata": {"resourceVersion": old["metadata"]["resourceVersion"]}},
                                "application/merge-patch+json")
        self.assertEqual(code, 409)

    # --- deletion ---------------------------------------------------------------------------

    def test_finalizers_keep_object_until_removed(self):
        self.s.namespace("t-fin")
        self.k("apply", "-f", "-", stdin=cluster("fin", "t-fin", extra="  finalizers: [pgwarden.io/cleanup]\n"))
        self.k("delete", "pgc", "fin", "-n", "t-fin", "--wait=false")
        obj = json.loads(self.k("get", "pgc", "fin", "-n", "t-fin", "-o", "json").stdout)
        self.assertIn("deletionTimestamp", obj["metadata"])
        self.assertEqual(obj["metadata"]["generation"], 2)
        bad = self.k("patch", "pgc", "fin", "-n", "t-fin", "--type=merge", "-p",
                     '{"metadata":{"finalizers":["pgwarden.io/cleanup","x.io/new"]}}', check=False)
        self.assertIn("no new finalizers can be added if the object is being deleted", bad.stderr)
        self.k("patch", "pgc", "fin", "-n", "t-fin", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        self.assertIn("not found", self.k("get", "pgc", "fin", "-n", "t-fin", check=False).stderr)

    def test_owner_garbage_collection(self):
        self.s.namespace("t-gc")
        self.k("apply", "-f", "-", stdin=cluster("owner", "t-gc"))
        owner = self.get("/apis/pgwarden.io/v1/namespaces/t-gc/postgresclusters/owner")
        ref = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "name": "owner", "uid": owner["metadata"]["uid"],
               "controller": True, "blockOwnerDeletion": True}
        for name in ("child-a", "child-b"):
            code, _, _ = self.s.api("POST", "/api/v1/namespaces/t-gc/configmaps", {
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "ownerReferences": [ref]}, "data": {"k": "v"}})
            self.assertEqual(code, 201)
        self.s.api("POST", "/api/v1/namespaces/t-gc/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free"}})
        self.k("delete", "pgc", "owner", "-n", "t-gc")
        wait_for(lambda: self.get("/api/v1/namespaces/t-gc/configmaps/child-a") is None
                 and self.get("/api/v1/namespaces/t-gc/configmaps/child-b") is None, what="dependents collected")
        self.assertIsNotNone(self.get("/api/v1/namespaces/t-gc/configmaps/free"))
        # orphan propagation keeps the dependent and strips its ownerReference
        self.k("apply", "-f", "-", stdin=cluster("owner2", "t-gc"))
        owner = self.get("/apis/pgwarden.io/v1/namespaces/t-gc/postgresclusters/owner2")
        self.s.api("POST", "/api/v1/namespaces/t-gc/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "kept", "ownerReferences": [dict(ref, name="owner2", uid=owner["metadata"]["uid"])]}})
        self.k("delete", "pgc", "owner2", "-n", "t-gc", "--cascade=orphan")
        wait_for(lambda: self.get("/apis/pgwarden.io/v1/namespaces/t-gc/postgresclusters/owner2") is None, what="owner gone")
        kept = self.get("/api/v1/namespaces/t-gc/configmaps/kept")
        self.assertIsNotNone(kept)
        self.assertNotIn("ownerReferences", kept["metadata"])

    # --- watch --------------------------------------------------------------------------------

    def read_events(self, path, n_or_until, timeout=10):
        events = []
        with self.s.request("GET", path, timeout=timeout) as r:
            for line in r:
                events.append(json.loads(line))
                if callable(n_or_until) and n_or_until(events) or events and not callable(n_or_until) and len(events) >= n_or_until:
                    break
        return events

    def test_watch_events_bookmarks_and_410(self):
        self.s.namespace("t-watch")
        code, cm, _ = self.s.api("POST", "/api/v1/namespaces/t-watch/configmaps",
                                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "labels": {"app": "x"}}})
        rv = cm["metadata"]["resourceVersion"]
        self.s.api("PATCH", "/api/v1/namespaces/t-watch/configmaps/w", {"data": {"a": "1"}}, "application/merge-patch+json")
        self.s.api("DELETE", "/api/v1/namespaces/t-watch/configmaps/w")
        evs = self.read_events(f"/api/v1/namespaces/t-watch/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5&labelSelector=app%3Dx",
                               lambda e: any(x["type"] == "BOOKMARK" for x in e))
        types = [e["type"] for e in evs]
        self.assertEqual(types[:2], ["MODIFIED", "DELETED"])
        self.assertEqual(types[-1], "BOOKMARK")
        self.assertGreaterEqual(int(evs[-1]["object"]["metadata"]["resourceVersion"]), int(evs[1]["object"]["metadata"]["resourceVersion"]))
        # watch without RV starts with the current state; timeoutSeconds ends the stream
        self.s.api("POST", "/api/v1/namespaces/t-watch/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w2"}})
        evs = self.read_events("/api/v1/namespaces/t-watch/configmaps?watch=true&timeoutSeconds=1", 99)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs], [("ADDED", "w2")])
        # after compaction an old resourceVersion gets an ERROR event with 410 Expired
        self.s.faults(compact=True)
        evs = self.read_events(f"/api/v1/namespaces/t-watch/configmaps?watch=1&resourceVersion={rv}", 1)
        self.assertEqual(evs[0]["type"], "ERROR")
        self.assertEqual((evs[0]["object"]["code"], evs[0]["object"]["reason"]), (410, "Expired"))
        self.assertIn(f"too old resource version: {rv}", evs[0]["object"]["message"])
        # and a list continue token from before the compaction gets HTTP 410
        for i in range(3):
            self.s.api("POST", "/api/v1/namespaces/t-watch/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"p{i}"}})
        code, page, _ = self.s.api("GET", "/api/v1/namespaces/t-watch/configmaps?limit=2")
        self.assertEqual((code, len(page["items"]), page["metadata"]["remainingItemCount"]), (200, 2, 2))
        code, page2, _ = self.s.api("GET", "/api/v1/namespaces/t-watch/configmaps?limit=2&continue=" + page["metadata"]["continue"])
        self.assertEqual([i["metadata"]["name"] for i in page2["items"]], ["w2"] if len(page2["items"]) == 1 else [i["metadata"]["name"] for i in page2["items"]])
        self.s.faults(compact=True)
        self.s.api("POST", "/api/v1/namespaces/t-watch/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
        self.s.faults(compact=True)
        code, st, _ = self.s.api("GET", "/api/v1/namespaces/t-watch/configmaps?limit=2&continue=" + page["metadata"]["continue"])
        self.assertEqual((code, st["reason"]), (410, "Expired"))

    def test_kubectl_get_watch(self):
        self.s.namespace("t-kw")
        env = dict(os.environ, KUBECONFIG=self.s.kubeconfig, HOME=self.s.home)
        p = subprocess.Popen(["kubectl", "get", "cm", "-n", "t-kw", "--watch", "--request-timeout=3s", "--no-headers"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.s.api("POST", "/api/v1/namespaces/t-kw/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "seen"}})[0] in (201, 409), what="create")
        out, _ = p.communicate(timeout=20)
        self.assertIn("seen", out)

    # --- admission webhooks -------------------------------------------------------------------

    def apply_hooks(self, kind, name, hooks):
        self.k("apply", "-f", "-", stdin=webhook_config(kind, name, hooks))
        self.addCleanup(self.k, "delete", kind.lower(), name, "--ignore-not-found", check=False)

    def test_webhook_denial_is_shown_by_kubectl(self):
        self.s.namespace("t-deny", {"team": "db"})
        self.apply_hooks("ValidatingWebhookConfiguration", "deny", [{"name": "validate.pgwarden.io", "path": "/deny", "ca": self.hook.ca_bundle,
                         "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["pgwarden-system", "kube-system"]}]}}])
        self.hook.reset()
        res = self.k("apply", "-f", "-", stdin=cluster("bad", "t-deny"), check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn('admission webhook "validate.pgwarden.io" denied the request: spec.instances: Invalid value: 0: must be between 1 and 16', res.stderr)
        code, st, _ = self.s.api("POST", "/apis/pgwarden.io/v1/namespaces/t-deny/postgresclusters",
                                 {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster", "metadata": {"name": "bad"}})
        self.assertEqual((code, st["reason"]), (422, "Invalid"))
        path, raw_path, req = self.hook.calls[-1]
        self.assertEqual(raw_path, "/deny?timeout=5s")
        self.assertEqual((req["operation"], req["resource"]["resource"], req["namespace"], req["kind"]["kind"]),
                         ("CREATE", "postgresclusters", "t-deny", "PostgresCluster"))
        self.assertEqual(req["userInfo"]["username"], "kubernetes-admin")
        # namespaceSelector: the excluded namespace is not sent to the webhook
        self.hook.reset()
        self.k("apply", "-f", "-", stdin=cluster("ok", "pgwarden-system"))
        self.assertEqual(self.hook.paths(), [])
        # status writes are a subresource: rule "postgresclusters" does not match them
        self.k("patch", "pgc", "ok", "-n", "pgwarden-system", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"x"}}')
        self.assertEqual(self.hook.paths(), [])

    def test_webhook_mutation_reinvocation_selectors_and_warnings(self):
        self.s.namespace("t-mut")
        # "a-mutate" runs first (config order by name) and records whether it saw the label that
        # "b-label" adds later; with IfNeeded it is called again and then sees it.
        self.apply_hooks("MutatingWebhookConfiguration", "a-mutate", [{"name": "mutate.pgwarden.io", "path": "/mutate",
                         "ca": self.hook.ca_bundle, "reinvocationPolicy": "IfNeeded"}])
        self.apply_hooks("MutatingWebhookConfiguration", "b-label", [{"name": "label.pgwarden.io", "path": "/label", "ca": self.hook.ca_bundle,
                         "objectSelector": {"matchExpressions": [{"key": "skip-label", "operator": "DoesNotExist"}]}}])
        self.apply_hooks("ValidatingWebhookConfiguration", "warn", [{"name": "warn.pgwarden.io", "path": "/warn", "ca": self.hook.ca_bundle}])
        self.hook.reset()
        res = self.k("apply", "-f", "-", stdin=cluster("m", "t-mut"))
        self.assertIn("Warning: instances=1 gives no high availability", res.stderr)
        self.assertEqual(self.hook.paths(), ["/mutate", "/label", "/mutate", "/warn"])
        obj = self.get("/apis/pgwarden.io/v1/namespaces/t-mut/postgresclusters/m")
        self.assertEqual(obj["metadata"]["labels"]["stage"], "labelled")
        self.assertEqual(obj["metadata"]["annotations"]["hook/seen-label"], "true")
        # validating webhooks see the final object, with uid and creationTimestamp set
        self.assertIn("uid", self.hook.calls[-1][2]["object"]["metadata"])
        # objectSelector excludes the labelling webhook: no reinvocation needed
        self.hook.reset()
        self.k("apply", "-f", "-", stdin=cluster("nolabel", "t-mut", extra="  labels: {skip-label: 'yes'}\n"))
        self.assertEqual(self.hook.paths(), ["/mutate", "/warn"])
        self.assertEqual(self.get("/apis/pgwarden.io/v1/namespaces/t-mut/postgresclusters/nolabel")["metadata"]["annotations"]["hook/seen-label"], "false")

    def test_webhook_failures_follow_failure_policy(self):
        self.s.namespace("t-fail")
        sel = {"matchLabels": {"kubernetes.io/metadata.name": "t-fail"}}
        self.apply_hooks("ValidatingWebhookConfiguration", "slow-ignore", [{"name": "slow.pgwarden.io", "path": "/slow", "ca": self.hook.ca_bundle,
                         "timeout": 1, "failurePolicy": "Ignore", "namespaceSelector": sel}])
        self.k("apply", "-f", "-", stdin=cluster("ignored", "t-fail"))
        self.assertIsNotNone(self.get("/apis/pgwarden.io/v1/namespaces/t-fail/postgresclusters/ignored"))
        self.apply_hooks("ValidatingWebhookConfiguration", "wrong-ca", [{"name": "ca.pgwarden.io", "path": "/allow", "ca": self.hook.wrong_bundle,
                         "namespaceSelector": sel}])
        res = self.k("apply", "-f", "-", stdin=cluster("badca", "t-fail"), check=False)
        self.assertIn('Internal error occurred: failed calling webhook "ca.pgwarden.io": failed to call webhook: Post "https://hook.pgwarden-system.svc:443/allow?timeout=5s": tls: failed to verify certificate: x509: certificate signed by unknown authority', res.stderr)
        self.k("delete", "validatingwebhookconfiguration", "wrong-ca")
        self.apply_hooks("ValidatingWebhookConfiguration", "slow-fail", [{"name": "slowfail.pgwarden.io", "path": "/slow", "ca": self.hook.ca_bundle,
                         "timeout": 1, "failurePolicy": "Fail", "namespaceSelector": sel}])
        res = self.k("apply", "-f", "-", stdin=cluster("timeout", "t-fail"), check=False)
        self.assertIn('failed calling webhook "slowfail.pgwarden.io"', res.stderr)
        self.assertIn("context deadline exceeded", res.stderr)
        self.assertIsNone(self.get("/apis/pgwarden.io/v1/namespaces/t-fail/postgresclusters/timeout"))

    # --- controllers ----------------------------------------------------------------------------

    def test_statefulset_pods_and_scaling(self):
        self.s.namespace("t-sts")
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "t-sts"},
               "spec": {"replicas": 2, "serviceName": "db-pods", "podManagementPolicy": "Parallel",
                        "updateStrategy": {"type": "OnDelete"},
                        "selector": {"matchLabels": {"pgwarden.io/cluster": "db"}},
                        "template": {"metadata": {"labels": {"pgwarden.io/cluster": "db"}},
                                     "spec": {"containers": [{"name": "postgres", "image": "postgres:18"}]}},
                        "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                                          "resources": {"requests": {"storage": "1Gi"}}}}]}}
        self.k("apply", "-f", "-", stdin=json.dumps(sts))
        st = wait_for(lambda: (self.get("/apis/apps/v1/namespaces/t-sts/statefulsets/db").get("status") or {}).get("readyReplicas") == 2
                      and self.get("/apis/apps/v1/namespaces/t-sts/statefulsets/db")["status"], what="2 ready replicas")
        self.assertEqual((st["replicas"], st["observedGeneration"]), (2, 1))
        pod = self.get("/api/v1/namespaces/t-sts/pods/db-1")
        self.assertEqual(pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "db-1")
        self.assertEqual(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet")
        self.assertEqual((pod["status"]["phase"], pod["spec"]["hostname"], pod["spec"]["subdomain"]), ("Running", "db-1", "db-pods"))
        self.assertTrue(pod["status"]["podIP"].startswith("127.0.0."))
        self.assertIsNotNone(self.get("/api/v1/namespaces/t-sts/persistentvolumeclaims/pgdata-db-0"))
        out = self.k("get", "pods", "-n", "t-sts", "--no-headers").stdout
        self.assertIn("1/1", out)
        # OnDelete: a template change does not replace existing pods
        uid0 = self.get("/api/v1/namespaces/t-sts/pods/db-0")["metadata"]["uid"]
        self.k("patch", "sts", "db", "-n", "t-sts", "--type=merge", "-p",
               '{"spec":{"template":{"spec":{"containers":[{"name":"postgres","image":"postgres:18.1"}]}}}}')
        # immutable StatefulSet fields are refused as upstream refuses them
        bad = self.k("patch", "sts", "db", "-n", "t-sts", "--type=merge", "-p", '{"spec":{"serviceName":"other"}}', check=False)
        self.assertIn("updates to statefulset spec for fields other than", bad.stderr)
        self.k("scale", "sts", "db", "-n", "t-sts", "--replicas=1")
        wait_for(lambda: self.get("/api/v1/namespaces/t-sts/pods/db-1") is None, what="scale down")
        self.assertEqual(self.get("/api/v1/namespaces/t-sts/pods/db-0")["metadata"]["uid"], uid0)
        # a deleted pod is re-created (with the new template)
        self.k("delete", "pod", "db-0", "-n", "t-sts")
        pod = wait_for(lambda: (p := self.get("/api/v1/namespaces/t-sts/pods/db-0")) and p["metadata"]["uid"] != uid0 and p, what="re-create")
        self.assertEqual(pod["spec"]["containers"][0]["image"], "postgres:18.1")
        self.k("delete", "sts", "db", "-n", "t-sts")
        wait_for(lambda: self.get("/api/v1/namespaces/t-sts/pods/db-0") is None, what="pods collected")

    def test_statefulset_pods_go_through_pod_webhooks(self):
        self.s.namespace("t-stsw")
        self.apply_hooks("MutatingWebhookConfiguration", "pods", [{"name": "pods.pgwarden.io", "path": "/deny", "ca": self.hook.ca_bundle,
                         "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                         "objectSelector": {"matchExpressions": [{"key": "pgwarden.io/cluster", "operator": "Exists"}]},
                         "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "t-stsw"}}}])
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "w", "namespace": "t-stsw"},
               "spec": {"replicas": 1, "serviceName": "w", "selector": {"matchLabels": {"pgwarden.io/cluster": "w"}},
                        "template": {"metadata": {"labels": {"pgwarden.io/cluster": "w"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
        self.k("apply", "-f", "-", stdin=json.dumps(sts))
        ev = wait_for(lambda: [e for e in self.get("/api/v1/namespaces/t-stsw/events")["items"] if e["reason"] == "FailedCreate"], what="FailedCreate event")
        self.assertIn('create Pod w-0 in StatefulSet w failed error: admission webhook "pods.pgwarden.io" denied the request', ev[0]["message"])
        self.assertIsNone(self.get("/api/v1/namespaces/t-stsw/pods/w-0"))
        req = [c[2] for c in self.hook.calls if c[2]["resource"]["resource"] == "pods"][-1]
        self.assertEqual(req["userInfo"]["username"], "system:serviceaccount:kube-system:statefulset-controller")

    def test_jobs_complete_or_stay_pending(self):
        self.s.namespace("t-job")
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "ok", "namespace": "t-job"},
               "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}
        self.k("apply", "-f", "-", stdin=json.dumps(job))
        job["metadata"] = {"name": "held", "namespace": "t-job", "annotations": {"stand-in.pgwarden.io/job-result": "Pending"}}
        self.k("apply", "-f", "-", stdin=json.dumps(job))
        done = wait_for(lambda: (self.get("/apis/batch/v1/namespaces/t-job/jobs/ok").get("status") or {}).get("succeeded") == 1
                        and self.get("/apis/batch/v1/namespaces/t-job/jobs/ok")["status"], what="job complete")
        self.assertIn("Complete", [c["type"] for c in done["conditions"]])
        held = wait_for(lambda: self.get("/apis/batch/v1/namespaces/t-job/jobs/held").get("status"), what="held job started")
        self.assertEqual((held.get("active"), held.get("succeeded")), (1, None))

    # --- faults ---------------------------------------------------------------------------------

    def test_faults_conflicts_errors_and_dropped_watches(self):
        self.s.namespace("t-faults")
        self.s.faults(conflictNext=2)
        for _ in range(2):
            code, st, _ = self.s.api("POST", "/api/v1/namespaces/t-faults/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"}})
            self.assertEqual((code, st["reason"]), (409, "Conflict"))
        code, _, _ = self.s.api("POST", "/api/v1/namespaces/t-faults/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"}})
        self.assertEqual(code, 201)
        self.s.faults(errorNext=2, errorCode=503)
        self.assertEqual(self.s.api("GET", "/api/v1/namespaces/t-faults/configmaps/f")[0], 503)
        res = self.k("get", "cm", "f", "-n", "t-faults")  # kubectl retries the second 503 (Retry-After)
        self.assertIn("f", res.stdout)
        self.assertEqual(self.s.api("GET", "/api/v1/namespaces/t-faults/configmaps/f")[0], 200)
        # dropWatches cuts open watches: the chunked stream ends without its final chunk
        raw = socket.create_connection(("127.0.0.1", self.s.port))
        tls = self.s.ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(("GET /api/v1/namespaces/t-faults/configmaps?watch=1&timeoutSeconds=20 HTTP/1.1\r\n"
                     f"Host: localhost\r\nAuthorization: Bearer {self.s.token}\r\n\r\n").encode())
        got = b""
        while b'"ADDED"' not in got:
            got += tls.recv(65536)
        self.s.faults(dropWatches=True)
        tls.settimeout(10)
        while True:
            try:
                chunk = tls.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            got += chunk
        tls.close()
        self.assertIn(b"Transfer-Encoding: chunked", got)
        self.assertFalse(got.endswith(b"0\r\n\r\n"))
        self.s.faults(delayMs=50)
        self.assertEqual(self.s.api("GET", "/api/v1/namespaces/t-faults/configmaps/f")[0], 200)
        self.s.faults(delayMs=0)


class RestartTest(unittest.TestCase):
    def test_restart_keeps_state_and_expires_old_watches(self):
        tmp = tempfile.mkdtemp(prefix="standin-restart-")
        self.addCleanup(shutil.rmtree, tmp, True)
        s = StandIn(tmp=tmp)
        try:
            s.kubectl("apply", "-f", "-", stdin=CRD)
            s.kubectl("apply", "-f", "-", stdin=cluster("keep", "default"))
            before = s.api("GET", "/apis/pgwarden.io/v1/namespaces/default/postgresclusters/keep")[1]
            port = s.port
        finally:
            self.assertEqual(s.stop(), 0)
        s2 = StandIn(tmp=tmp, port=port)
        try:
            after = json.loads(s2.kubectl("get", "pgc", "keep", "-o", "json").stdout)
            self.assertEqual((after["metadata"]["uid"], after["metadata"]["resourceVersion"]),
                             (before["metadata"]["uid"], before["metadata"]["resourceVersion"]))
            self.assertIn("keep", s2.kubectl("get", "pgc").stdout)
            s2.kubectl("patch", "pgc", "keep", "--type=merge", "-p", '{"spec":{"instances":4}}')
            new = s2.api("GET", "/apis/pgwarden.io/v1/namespaces/default/postgresclusters/keep")[1]
            self.assertGreater(int(new["metadata"]["resourceVersion"]), int(before["metadata"]["resourceVersion"]))
            rv = int(before["metadata"]["resourceVersion"]) - 1
            with s2.request("GET", f"/apis/pgwarden.io/v1/postgresclusters?watch=1&resourceVersion={rv}") as r:
                ev = json.loads(r.readline())
            self.assertEqual((ev["type"], ev["object"]["code"]), ("ERROR", 410))
        finally:
            s2.stop()


if __name__ == "__main__":
    unittest.main()
