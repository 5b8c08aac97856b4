"""The web UI in a real browser against pgwarden on the real test bed.

Debian's headless Chromium, driven by playwright-core (test/ui/e2e.mjs), opens
/ui/ on an operator pod's API port and does what a user does, while this test
checks each click with kubectl and the apiserver's audit log:

  - an editor ServiceAccount (namespace-scoped rights on the pgwarden kinds,
    read on pods, Services, Events, Secrets) logs in with `kubectl create
    token`; a refused token stays on the login page with the reason;
  - the create form's dry run shows the refusal of `instances: 0` (the CRD's
    schema) beside the Instances field, then that of a 51-character name
    (pgwarden's validating webhook) beside Name, and stores nothing; fixed,
    the cluster is created and the page follows it to Running;
  - Backup now makes a PostgresBackup (kubectl sees it, the audit log shows it
    written as the editor through impersonation), listed with its size; the
    connection's password is hidden until Show, then the app Secret's;
  - an annotation and `instances: 2` set with kubectl appear on the open page
    within seconds (it polls the detail every 2 s);
  - Switchover to the replica moves the primary (kubectl agrees); the restore
    page shows the recoverable window and makes a PostgresRestore to its end;
  - a viewer ServiceAccount (read only) sees the clusters of its namespace
    (the all-namespaces list is refused and said so), and every write button
    (Backup, Switchover, Restart, Delete, Restore, Create) shows the RBAC
    refusal verbatim while kubectl shows nothing changed and the audit log
    shows each attempt answered 403;
  - Delete wants the name typed; a forged session token ends on the login
    page; Log out revokes the token; no cookie, no page error.

Screenshots go to $PGW_UI_SHOTS when set (docs/screenshots/ was made so).
"""
import base64
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

from standin import wait_for
from testbed import OPERATOR_SA, SOURCE, NamespaceTestCase, retry

NS = "ui-browser"
CLUSTER = "shop"
VERSION = 15  # the test bed runs Debian's PostgreSQL 15 (test/testbed/images.yaml)
API_PORT = 9444
RUN_TIMEOUT = 1800  # seconds for the whole browser run (about 70 s on an idle test bed)
E2E = os.path.join(SOURCE, "test", "ui", "e2e.mjs")
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"

RBAC = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: editor, namespace: {NS}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: viewer, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: ui-edit, namespace: {NS}}}
rules:
- apiGroups: [pgwarden.io]
  resources: [postgresclusters, postgresbackups, postgresrestores]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [pods, services, endpoints, events, secrets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: ui-view, namespace: {NS}}}
rules:
- apiGroups: [pgwarden.io]
  resources: [postgresclusters, postgresbackups, postgresrestores]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods, services, endpoints, events]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: ui-edit, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: ui-edit}}
subjects: [{{kind: ServiceAccount, name: editor, namespace: {NS}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: ui-view, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: ui-view}}
subjects: [{{kind: ServiceAccount, name: viewer, namespace: {NS}}}]
---
# The editor may also list clusters in every namespace (the UI's all-namespaces list);
# the viewer may not (the UI falls back to its own namespace and says why).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {NS}-list-clusters}}
rules:
- apiGroups: [pgwarden.io]
  resources: [postgresclusters]
  verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {NS}-list-clusters}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {NS}-list-clusters}}
subjects: [{{kind: ServiceAccount, name: editor, namespace: {NS}}}]
"""


def browser_modules():
    """node_modules with the pinned playwright-core (scripts/install-browser-tools)."""
    p = subprocess.run([os.path.join(SOURCE, "scripts", "install-browser-tools")], capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"scripts/install-browser-tools failed ({p.returncode}):\n{p.stderr[-4000:]}")
    return p.stdout.strip().splitlines()[-1]


def api_endpoint(tb):
    """(https://IP:9444, the SPKI pin of its certificate) of a ready operator pod.

    The certificate must verify against pgwarden's CA (pgwarden-webhook-ca);
    Chromium then trusts exactly that key (--ignore-certificate-errors-spki-list),
    as the certificate names the Services, not the pod address."""
    ca = base64.b64decode(tb.get("secret", "pgwarden-webhook-ca", "pgwarden-system")["data"]["ca.crt"]).decode()
    ctx = ssl.create_default_context(cadata=ca)
    ctx.check_hostname = False

    def reachable():
        for pod in tb.operator_pods():
            ip = pod["status"].get("podIP")
            if not ip or not all(c.get("ready") for c in pod["status"].get("containerStatuses", [])):
                continue
            try:
                with socket.create_connection((ip, API_PORT), timeout=5) as s:
                    with ctx.wrap_socket(s) as t:
                        return ip, t.getpeercert(binary_form=True)
            except OSError:
                continue
        return None
    ip, der = wait_for(reachable, 120, 1.0, what=f"an operator pod answering TLS on {API_PORT}")
    pem = ssl.DER_cert_to_PEM_cert(der)
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem, capture_output=True, text=True,
                         check=True).stdout
    spki_der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.encode(),
                              capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=spki_der, capture_output=True,
                            check=True).stdout
    return f"https://{ip}:{API_PORT}", base64.b64encode(digest).decode()


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium"),
                     "needs node and Debian's chromium (scripts/install-deps)")
class BrowserUI(NamespaceTestCase):
    NS = NS

    @classmethod
    def tearDownClass(cls):
        cls.tb.kubectl("delete", "clusterrolebinding,clusterrole", f"{NS}-list-clusters", "--ignore-not-found",
                       check=False)
        cls.tb.purge_namespace(cls.NS)

    # --- kubectl's view -------------------------------------------------------------------

    def names(self, kind):
        out = json.loads(self.tb.kubectl("get", kind, "-n", NS, "-o", "json").stdout)
        return sorted(i["metadata"]["name"] for i in out["items"])

    def state(self):
        """What a write would change: the cluster's spec, generation and annotations, and the objects there are."""
        c = self.tb.get("pgc", CLUSTER, NS)
        md = c["metadata"]
        return {"spec": c["spec"], "generation": md["generation"], "annotations": md.get("annotations", {}),
                "deleting": "deletionTimestamp" in md, "clusters": self.names("pgc"),
                "backups": self.names("pgbackup"), "restores": self.names("pgrestore")}

    def user_writes(self, offset, sa):
        """The writes pgwarden made as `sa` (impersonated) since offset: (verb, resource, code)."""
        user = f"system:serviceaccount:{NS}:{sa}"
        out = []
        for ev in self.tb.audit_events(offset, user=OPERATOR_SA, namespace=NS):
            if (ev.get("impersonatedUser") or {}).get("username") == user:
                ref = ev.get("objectRef", {})
                out.append((ev["verb"], ref.get("resource"), ev.get("responseStatus", {}).get("code")))
        return out

    # --- what the browser waits for --------------------------------------------------------

    def on_after_invalid_create(self, msg):
        self.assertIsNone(self.tb.get("pgc", CLUSTER, NS), "the refused dry run stored nothing")

    def on_connection(self, msg):
        password = self.tb.secret_value(NS, f"{CLUSTER}-app", "password")
        self.assertNotIn(password, msg["hidden"], "no credential on the page before Show")
        self.assertEqual(msg["revealed"], password, "Show reveals the app Secret's password")

    def on_backup_requested(self, msg):
        b = self.tb.get("pgbackup", msg["name"], NS)
        self.assertIsNotNone(b, f"kubectl sees the PostgresBackup {msg['name']} the UI made")
        self.assertEqual(b["spec"]["cluster"], CLUSTER)
        writes = self.user_writes(self.audit0, "editor")
        self.assertIn(("create", "postgresbackups", 201), writes, "written as the editor (impersonation)")

    def on_kubectl_change(self, msg):
        value = secrets.token_hex(4)
        self.tb.kubectl("annotate", "pgc", CLUSTER, "-n", NS, f"ui.example.com/note={value}")
        self.tb.kubectl("patch", "pgc", CLUSTER, "-n", NS, "--type=merge", "-p", '{"spec":{"instances":2}}')
        return {"annotation": f"ui.example.com/note={value}", "instances": 2}

    def on_switched(self, msg):
        retry(lambda: self.assertEqual(self.tb.get("pgc", CLUSTER, NS)["status"].get("primary"), msg["replica"]), 60,
              "kubectl's status.primary after the UI's switchover")

    def on_restore_created(self, msg):
        r = self.tb.get("pgrestore", msg["name"], NS)
        self.assertIsNotNone(r, "kubectl sees the PostgresRestore the UI made")
        self.assertEqual(r["spec"]["source"]["cluster"], CLUSTER)
        self.restore = r
        # The restored cluster is not what this test is about: spare the machine.
        self.tb.kubectl("delete", "pgrestore,pgc", msg["name"], "-n", NS, "--ignore-not-found", "--wait=false",
                        check=False)

    def on_before_viewer(self, msg):
        self.before_viewer = self.state()
        self.viewer_audit = self.tb.audit_offset()

    def on_after_viewer(self, msg):
        after = self.state()
        # The restored cluster of the editor may still be going away: compare the rest.
        for k in ("clusters", "restores"):
            after[k] = [n for n in after[k] if n != f"{CLUSTER}-pitr"]
            self.before_viewer[k] = [n for n in self.before_viewer[k] if n != f"{CLUSTER}-pitr"]
        self.assertEqual(after, self.before_viewer, "the viewer's clicks changed nothing")
        self.viewer_writes = self.user_writes(self.viewer_audit, "viewer")

    # --- the run -------------------------------------------------------------------------

    def run_browser(self, scenario):
        steps, errors = {}, None
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(["node", E2E, json.dumps(scenario)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
            watchdog = threading.Timer(RUN_TIMEOUT, proc.kill)  # every wait in the script is bounded; this too
            watchdog.start()
            try:
                for line in proc.stdout:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        msg = {"error": f"not a JSON line: {line[:2000]!r}"}
                    if "error" in msg:  # (it names the step it stopped at: test it first)
                        errors = msg
                    elif "wait" in msg:
                        try:
                            reply = getattr(self, "on_" + msg["wait"].replace("-", "_"))(msg) or {}
                        except BaseException:
                            proc.kill()
                            raise
                        proc.stdin.write(json.dumps(reply) + "\n")
                        proc.stdin.flush()
                    elif "step" in msg:
                        steps[msg["step"]] = msg
                rc = proc.wait(timeout=60)
            finally:
                watchdog.cancel()
                if proc.poll() is None:
                    proc.kill()
                err.seek(0)
                stderr = err.read()
        if os.environ.get("PGW_UI_STEPS"):
            with open(os.environ["PGW_UI_STEPS"], "w") as f:
                json.dump(steps, f, indent=1)
        if errors or rc != 0:
            self.fail(f"the browser run (exit {rc}) stopped at {errors and errors.get('step')}: "
                      f"{errors and errors.get('error')}\nsteps: {list(steps)}\nstderr: {stderr[-3000:]}")
        return steps

    def test_a_user_drives_pgwarden_through_the_web_ui(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=RBAC)
        token = {sa: tb.kubectl("create", "token", sa, "-n", NS, "--duration=1h").stdout.strip()
                 for sa in ("editor", "viewer")}
        base, spki = api_endpoint(tb)
        shots = os.environ.get("PGW_UI_SHOTS")
        if shots:
            os.makedirs(shots, exist_ok=True)
        self.audit0 = tb.audit_offset()
        steps = self.run_browser({"base": base, "spki": spki, "modules": browser_modules(), "shots": shots,
                                  "editorToken": token["editor"], "viewerToken": token["viewer"],
                                  "namespace": NS, "cluster": CLUSTER, "version": VERSION})
        editor = f"system:serviceaccount:{NS}:editor"
        viewer = f"system:serviceaccount:{NS}:viewer"

        # Login: the page, a refused token, then the editor's session (sessionStorage, no cookie).
        self.assertTrue(steps["login-page"]["url"].endswith("/ui/#/login"), steps["login-page"])
        self.assertEqual(steps["bad-login"]["hash"], "#/login")
        self.assertIn("Login refused", steps["bad-login"]["message"])
        s = steps["logged-in"]
        self.assertIn(editor, s["whoami"])
        self.assertIn("pgw.token", s["storage"])
        self.assertEqual(s["cookies"], 0)
        self.assertEqual(s["scope"], "All namespaces.")

        # The create form: the admission refusal beside the field, then created and Running.
        s = steps["create-invalid"]
        self.assertRegex(s["fieldError"], r"Invalid value: 0")
        self.assertEqual(s["invalid"], "true")
        self.assertEqual(s["hash"], "#/new")
        self.assertIn("nothing was created", s["result"])
        s = steps["create-webhook-refusal"]
        self.assertEqual(s["fieldError"], "Too long: may not be more than 50 bytes "
                                          "(child objects append suffixes to the cluster name)")
        self.assertEqual(s["invalid"], "true")
        self.assertTrue(s["instancesErrorHidden"], "the fixed field's error is gone")
        self.assertEqual(steps["created"]["hash"], f"#/ns/{NS}/clusters/{CLUSTER}")
        self.assertIn(f"Cluster {NS}/{CLUSTER} created", steps["created"]["message"])
        s = steps["running"]
        self.assertEqual(s["instanceRoles"], ["primary"])
        self.assertEqual(s["primary"], f"{CLUSTER}-0")
        self.assertTrue(s["connection"], "the editor may read the app Secret: connection shown")
        self.assertGreaterEqual(s["services"], 1)

        # The backup: requested, listed with its size, and a recoverable window.
        s = steps["backup-listed"]
        name = steps["backup-requested"]["name"]
        self.assertEqual(s["cells"][0], name)
        self.assertEqual(s["cells"][2], "Succeeded", s)
        self.assertRegex(s["cells"][3], r"^\d+(\.\d)? (B|KiB|MiB|GiB)$")
        self.assertIn("Recoverable from", s["window"])
        self.assertEqual(tb.get("pgbackup", name, NS)["status"]["phase"], "Succeeded")

        # kubectl's changes on the open page.
        s = steps["kubectl-change-seen"]
        self.assertLess(s["annotationMs"], 10000, "the annotation shows within a few polls")
        self.assertEqual(s["instances"], "2 ready of 2")
        self.assertEqual(s["rows"], 2)

        # Switchover: the UI's primary and the cluster's agree.
        s = steps["switchover"]
        self.assertEqual(s["message"]["kind"], "ok", s)
        self.assertEqual(s["after"], s["replica"])
        self.assertNotEqual(s["before"], s["replica"])

        # The restore page: the window, and the PostgresRestore to its end.
        s = steps["restore"]
        self.assertRegex(s["window"]["from"], RFC3339)
        self.assertRegex(s["window"]["to"], RFC3339)
        self.assertEqual(s["message"]["kind"], "ok", s)
        self.assertEqual(self.restore["spec"]["target"]["time"], s["window"]["to"])
        self.assertIn(f"{NS}/{CLUSTER}", steps["list"]["names"])
        self.assertEqual(steps["list"]["row"][:2], [NS, CLUSTER])
        self.assertEqual(steps["list-namespace"]["scope"], f"Namespace {NS}.")
        self.assertEqual({n.split("/")[0] for n in steps["list-namespace"]["names"]}, {NS})

        # The viewer: its namespace only (said why), and every write refused with RBAC's words.
        s = steps["viewer-list"]
        self.assertIn("You may not list clusters in all namespaces", s["scope"])
        self.assertIn(f"showing namespace {NS}", s["scope"])
        self.assertIn(f"{NS}/{CLUSTER}", s["names"])
        s = steps["viewer-refusals"]
        self.assertIn("may not read the Secret", s["connection"])
        expect = {"backup": 'cannot create resource "postgresbackups"',
                  "switchover": 'cannot patch resource "postgresclusters"',
                  "restart": 'cannot patch resource "postgresclusters"',
                  "delete": 'cannot delete resource "postgresclusters"',
                  "restore": 'cannot create resource "postgresrestores"',
                  "create": 'cannot create resource "postgresclusters"'}
        for action, words in expect.items():
            with self.subTest(action=action):
                self.assertEqual(s[action]["kind"], "error", s[action])
                self.assertIn("refused (403)", s[action]["text"])
                self.assertIn(f'User "{viewer}" {words} in API group "pgwarden.io"', s[action]["text"])
        self.assertGreaterEqual(len(self.viewer_writes), 6, self.viewer_writes)
        self.assertEqual({code for _, _, code in self.viewer_writes}, {403}, self.viewer_writes)

        # Delete: the name must be typed; then the cluster goes.
        s = steps["deleted"]
        self.assertTrue(s["disabledOnTypo"])
        self.assertEqual(s["message"]["kind"], "ok", s)
        self.assertEqual(s["hash"], "#/")
        c = tb.get("pgc", CLUSTER, NS)
        self.assertTrue(c is None or "deletionTimestamp" in c["metadata"], "kubectl sees the delete")
        self.assertTrue([w for w in self.user_writes(self.audit0, "editor")
                         if w[:2] == ("delete", "postgresclusters") and w[2] in (200, 202)], "deleted as the editor")

        # Sessions: a forged token and logout.
        s = steps["bad-session"]
        self.assertEqual(s["hash"], "#/login")
        self.assertIsNone(s["token"])
        self.assertIn("invalid session token", s["message"])
        s = steps["logout"]
        self.assertEqual(s["whoamiAfter"]["code"], 401)
        self.assertIn("session ended by logout", s["whoamiAfter"]["body"]["message"])
        self.assertEqual(s["storage"], [])
        self.assertEqual(steps["page-problems"]["editor"], [])
        self.assertEqual(steps["page-problems"]["viewer"], [])


if __name__ == "__main__":
    unittest.main()
