"""The install manifests (`kubectl apply -k manifests/`, DESIGN.md §4, §8).

Offline: real `kubectl kustomize` renders them, and every object says what the design asks:
the restricted security context, probes and spreading of the Deployment, Service and PDB
wiring, webhook settings, and least-privilege RBAC that still covers every kind
`pgwarden render` produces and every rule the controller grants Patroni. docs/rbac.md must
list exactly the verbs the manifests grant.

Live, on the real test bed (scripts/testbed, DESIGN.md §9) where pgwarden is installed with
`kubectl apply -k manifests/`: the stored configurations are the shipped ones with the CA of
the shared Secret in their caBundle, each kind reaches its path on the two replicas, the
apiserver fails closed when the webhook is unreachable or untrusted (shown with a test-only
copy of our settings scoped to the test's own namespace, so other users of the shared test bed
are never affected), excluded namespaces are left alone, and the real authorizer, with the
shipped RBAC unchanged, lets the operator do exactly what docs/rbac.md lists: its leader Lease
by the name the code uses, every verb on every kind `pgwarden render` produces, the claim of a
`volume` backup repository by server-side apply, and nothing more.
"""
import base64
import glob
import json
import os
import re
import subprocess
import unittest

import yaml

from standin import wait_for
from testbed import kubectl_path


SRC = os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("PGWARDEN_BIN", os.path.join(SRC, "build", "pgwarden"))
MANIFESTS = os.path.join(SRC, "manifests")
NS = "pgwarden-system"
OPERATOR_SA = "system:serviceaccount:pgwarden-system:pgwarden"
OPERATOR_LABELS = {"app.kubernetes.io/name": "pgwarden", "app.kubernetes.io/component": "operator"}

# Resource (plural) of every kind the controller may write. A kind missing here fails the
# coverage test, so a new child kind cannot slip past the RBAC review.
PLURALS = {
    ("", "ServiceAccount"): "serviceaccounts", ("", "Secret"): "secrets", ("", "ConfigMap"): "configmaps",
    ("", "Service"): "services", ("", "Endpoints"): "endpoints", ("", "Pod"): "pods",
    ("", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("apps", "StatefulSet"): "statefulsets", ("policy", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("batch", "Job"): "jobs", ("batch", "CronJob"): "cronjobs",
    ("rbac.authorization.k8s.io", "Role"): "roles", ("rbac.authorization.k8s.io", "RoleBinding"): "rolebindings",
    ("pgwarden.io", "PostgresCluster"): "postgresclusters",
}
APPLY_VERBS = {"get", "list", "watch", "create", "patch"}  # server-side apply + informer
WEBHOOK_COMMON = {"sideEffects": "None", "admissionReviewVersions": ["v1"], "timeoutSeconds": 5,
                  "failurePolicy": "Fail"}
EXCLUDED = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                  "values": ["pgwarden-system", "kube-system"]}]}


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def render_manifests():
    r = run([kubectl_path(), "kustomize", MANIFESTS], env=dict(os.environ, KUBECONFIG="/dev/null"))
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize failed: {r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def served_paths():
    """The paths `pgwarden review -h` lists: the ones the server routes."""
    r = run([BIN, "review", "-h"])
    text = r.stdout + r.stderr
    paths = re.findall(r"^\s+(/(?:mutate|validate)/[a-z]+)\s*$", text, re.M)
    if not paths:
        raise AssertionError(f"no paths in `pgwarden review -h`: {text}")
    return set(paths)


def split_api_version(api_version):
    return tuple(api_version.split("/", 1)) if "/" in api_version else ("", api_version)


def allowed(rules, group, resource, verb, name=None):
    """RBAC evaluation of one request against a list of PolicyRules (no wildcards: they are banned)."""
    for r in rules:
        if group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", []):
            names = r.get("resourceNames")
            if not names or name in names:
                return True
    return False


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = render_manifests()
        cls.by_kind = {}
        for d in cls.docs:
            cls.by_kind.setdefault(d["kind"], []).append(d)

    def one(self, kind, name=None):
        objs = [d for d in self.by_kind.get(kind, []) if name is None or d["metadata"]["name"] == name]
        self.assertEqual(len(objs), 1, f"{kind} {name}: {[d['metadata']['name'] for d in objs]}")
        return objs[0]

    def cluster_rules(self):
        return self.one("ClusterRole", "pgwarden")["rules"]

    # --- the set of objects ---------------------------------------------------------------

    def test_renders_every_object(self):
        got = sorted((d["kind"], d["metadata"]["name"]) for d in self.docs)
        self.assertEqual(got, sorted([
            ("CustomResourceDefinition", "postgresbackups.pgwarden.io"),
            ("CustomResourceDefinition", "postgresclusters.pgwarden.io"),
            ("CustomResourceDefinition", "postgresrestores.pgwarden.io"),
            ("Namespace", NS), ("ServiceAccount", "pgwarden"),
            ("ClusterRole", "pgwarden"), ("ClusterRoleBinding", "pgwarden"),
            ("Role", "pgwarden-leader-election"), ("RoleBinding", "pgwarden-leader-election"),
            ("ClusterRole", "pgwarden-api"), ("ClusterRoleBinding", "pgwarden-api"),
            ("Role", "pgwarden-api"), ("RoleBinding", "pgwarden-api"),
            ("ClusterRole", "pgwarden-view"), ("ClusterRole", "pgwarden-edit"),
            ("Deployment", "pgwarden"), ("PodDisruptionBudget", "pgwarden"), ("Service", "pgwarden-webhook"),
            ("Service", "pgwarden-api"),
            ("MutatingWebhookConfiguration", "pgwarden-mutating"),
            ("ValidatingWebhookConfiguration", "pgwarden-validating")]))
        cluster_scoped = {"CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding",
                          "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
        for d in self.docs:
            md = d["metadata"]
            self.assertEqual(md["labels"].get("app.kubernetes.io/part-of"), "pgwarden", md["name"])
            self.assertEqual(md.get("namespace"), None if d["kind"] in cluster_scoped else NS, (d["kind"], md["name"]))

    def test_every_manifest_file_is_included(self):
        with open(os.path.join(MANIFESTS, "kustomization.yaml")) as f:
            listed = set(yaml.safe_load(f)["resources"])
        files = {os.path.relpath(p, MANIFESTS) for p in glob.glob(os.path.join(MANIFESTS, "**", "*.yaml"), recursive=True)}
        self.assertEqual(files - {"kustomization.yaml"}, listed)

    def test_namespace_enforces_restricted(self):
        labels = self.one("Namespace", NS)["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            self.assertEqual(labels[f"pod-security.kubernetes.io/{mode}"], "restricted")

    # --- the Deployment -----------------------------------------------------------------

    def test_deployment(self):
        dep = self.one("Deployment", "pgwarden")
        spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
        self.assertEqual(spec["replicas"], 2)
        self.assertEqual(spec["selector"]["matchLabels"], OPERATOR_LABELS)
        self.assertLessEqual(OPERATOR_LABELS.items(), dep["spec"]["template"]["metadata"]["labels"].items())
        self.assertEqual(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        self.assertEqual(pod["serviceAccountName"], self.one("ServiceAccount")["metadata"]["name"])
        self.assertNotIn("priorityClassName", pod)
        self.assertEqual(len(pod["containers"]), 1)
        c = pod["containers"][0]
        version = run([BIN, "version"]).stdout.split()[-1]
        self.assertRegex(version, r"^\d+\.\d+\.\d+")
        self.assertEqual(c["image"], f"ghcr.io/pgwarden/pgwarden:{version}")
        self.assertEqual(c["args"], ["serve", "--cert-dir", "/var/run/pgwarden/certs"])
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"webhook": 9443, "api": 9444, "metrics": 8080})
        probes = {k: (c[k]["httpGet"]["path"], ports.get(c[k]["httpGet"]["port"], c[k]["httpGet"]["port"]))
                  for k in ("readinessProbe", "livenessProbe", "startupProbe")}
        self.assertEqual(probes, {"readinessProbe": ("/readyz", 8080), "livenessProbe": ("/healthz", 8080),
                                  "startupProbe": ("/healthz", 8080)})
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["PGWARDEN_OPERATOR_NAMESPACE"]["valueFrom"], {"fieldRef": {"fieldPath": "metadata.namespace"}})
        res = c["resources"]
        self.assertEqual(res["requests"], {"cpu": "50m", "memory": "32Mi"})
        self.assertEqual(set(res["limits"]), {"memory"})
        # The cert dir is a writable emptyDir (the root filesystem is read-only).
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertIn("emptyDir", vols[mounts["/var/run/pgwarden/certs"]])
        # Replicas spread across nodes, selecting exactly the operator pods.
        term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        self.assertEqual((term["topologyKey"], term["labelSelector"]["matchLabels"]), ("kubernetes.io/hostname", OPERATOR_LABELS))
        keys = {t["topologyKey"]: t for t in pod["topologySpreadConstraints"]}
        self.assertEqual(set(keys), {"kubernetes.io/hostname", "topology.kubernetes.io/zone"})
        for t in keys.values():
            self.assertEqual(t["labelSelector"]["matchLabels"], OPERATOR_LABELS)

    def test_security_context_is_restricted(self):
        """Pod Security Standards, restricted profile, field by field."""
        pod = self.one("Deployment", "pgwarden")["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True)
        self.assertEqual(psc["runAsUser"], 65532)
        self.assertEqual(psc["seccompProfile"], {"type": "RuntimeDefault"})
        for field in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
            self.assertNotIn(field, pod)
        for v in pod["volumes"]:
            self.assertEqual(set(v) - {"name"}, {"emptyDir"}, v)
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            self.assertIs(sc["allowPrivilegeEscalation"], False)
            self.assertIs(sc["readOnlyRootFilesystem"], True)
            self.assertIs(sc["runAsNonRoot"], True)
            self.assertNotEqual(sc.get("runAsUser", psc["runAsUser"]), 0)
            self.assertFalse(sc.get("privileged", False))
            self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
            self.assertEqual(sc.get("seccompProfile", psc["seccompProfile"]), {"type": "RuntimeDefault"})
            self.assertNotIn("hostPort", json.dumps(c["ports"]))

    def test_service_and_pdb_select_the_operator(self):
        svc = self.one("Service", "pgwarden-webhook")
        self.assertEqual(svc["spec"]["selector"], OPERATOR_LABELS)
        c = self.one("Deployment", "pgwarden")["spec"]["template"]["spec"]["containers"][0]
        container_ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        ports = {p["port"]: container_ports.get(p["targetPort"], p["targetPort"]) for p in svc["spec"]["ports"]}
        self.assertEqual(ports, {443: 9443, 8080: 8080})
        # The REST API and web UI: their own Service and port (docs/api.md).
        api = self.one("Service", "pgwarden-api")
        self.assertEqual(api["spec"]["selector"], OPERATOR_LABELS)
        self.assertEqual({p["port"]: container_ports.get(p["targetPort"]) for p in api["spec"]["ports"]}, {443: 9444})
        self.assertEqual([p["name"] for p in api["spec"]["ports"]], ["https"])
        pdb = self.one("PodDisruptionBudget", "pgwarden")
        self.assertEqual(pdb["spec"]["minAvailable"], 1)
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], OPERATOR_LABELS)

    # --- webhook configurations -------------------------------------------------------------

    def webhooks(self):
        out = []
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for cfg in self.by_kind[kind]:
                out += [(kind, w) for w in cfg["webhooks"]]
        return out

    def test_webhook_paths_are_served(self):
        served = served_paths()
        self.assertIn("/mutate/pods", served)
        configured = [w["clientConfig"]["service"]["path"] for _, w in self.webhooks()]
        self.assertEqual(len(configured), len(set(configured)), configured)
        # Every configured path is one the server serves, and every served path is configured.
        self.assertEqual(set(configured), served)

    def test_webhook_settings(self):
        svc = self.one("Service", "pgwarden-webhook")
        svc_port = [p["port"] for p in svc["spec"]["ports"] if p["name"] == "webhook"][0]
        names = [w["name"] for _, w in self.webhooks()]
        self.assertEqual(len(names), len(set(names)))
        expected_ops = {
            "/mutate/pods": ["CREATE"],
            "/mutate/postgresclusters": ["CREATE", "UPDATE"],
            "/mutate/postgresbackups": ["CREATE", "UPDATE"],
            "/mutate/postgresrestores": ["CREATE", "UPDATE"],
            "/validate/postgresclusters": ["CREATE", "UPDATE", "DELETE"],
            "/validate/postgresbackups": ["CREATE", "UPDATE"],
            "/validate/postgresrestores": ["CREATE", "UPDATE"],
        }
        seen = set()
        for kind, w in self.webhooks():
            path = w["clientConfig"]["service"]["path"]
            seen.add(path)
            with self.subTest(webhook=w["name"]):
                for k, v in WEBHOOK_COMMON.items():
                    self.assertEqual(w[k], v, k)
                # The operator fills the caBundle at run time; a fixed one here would be wrong.
                self.assertNotIn("caBundle", w["clientConfig"])
                self.assertNotIn("url", w["clientConfig"])
                self.assertEqual(w["clientConfig"]["service"],
                                 {"name": svc["metadata"]["name"], "namespace": svc["metadata"]["namespace"],
                                  "path": path, "port": svc_port})
                self.assertEqual(w["namespaceSelector"], EXCLUDED)
                action, plural = path.strip("/").split("/")
                self.assertEqual(kind, "MutatingWebhookConfiguration" if action == "mutate" else "ValidatingWebhookConfiguration")
                self.assertEqual(len(w["rules"]), 1)
                rule = w["rules"][0]
                self.assertEqual(rule["resources"], [plural])
                self.assertEqual(rule["apiGroups"], [""] if plural == "pods" else ["pgwarden.io"])
                self.assertEqual((rule["apiVersions"], rule["scope"]), (["v1"], "Namespaced"))
                self.assertEqual(rule["operations"], expected_ops[path])
                if plural == "pods":
                    self.assertEqual(w["reinvocationPolicy"], "IfNeeded")
                    self.assertEqual(w["objectSelector"],
                                     {"matchExpressions": [{"key": "pgwarden.io/cluster", "operator": "Exists"}]})
                else:
                    self.assertNotIn("objectSelector", w)
        self.assertEqual(seen, set(expected_ops))

    def test_namespace_selector_excludes_operator_namespace(self):
        """The excluded namespace is the one the operator is actually deployed in."""
        dep_ns = self.one("Deployment", "pgwarden")["metadata"]["namespace"]
        for _, w in self.webhooks():
            values = w["namespaceSelector"]["matchExpressions"][0]["values"]
            self.assertIn(dep_ns, values)
            self.assertIn("kube-system", values)

    # --- RBAC ---------------------------------------------------------------------------

    def test_no_wildcards_or_dangerous_verbs(self):
        for d in self.by_kind["ClusterRole"] + self.by_kind["Role"]:
            for rule in d["rules"]:
                for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                    self.assertNotIn("*", rule.get(field, []), (d["metadata"]["name"], rule))
                    for value in rule.get(field, []):
                        self.assertNotIn("*", value)
                self.assertFalse(set(rule["verbs"]) & {"escalate", "bind", "deletecollection"}, rule)
                self.assertNotIn("nonResourceURLs", rule)
                if "impersonate" in rule["verbs"]:
                    # Only the API's own ClusterRole, and only that verb in the rule.
                    self.assertEqual((d["kind"], d["metadata"]["name"]), ("ClusterRole", "pgwarden-api"), rule)
                    self.assertEqual(rule["verbs"], ["impersonate"], rule)

    def test_user_roles_aggregate_into_view_edit_admin(self):
        """People get pgwarden's objects with Kubernetes' own roles: read with view, write with edit
        and admin. Secrets are not in them (view never reads a password); nothing binds them to
        the operator."""
        view, edit = self.one("ClusterRole", "pgwarden-view"), self.one("ClusterRole", "pgwarden-edit")
        agg = "rbac.authorization.k8s.io/aggregate-to-"
        self.assertEqual({k for k, v in view["metadata"]["labels"].items() if k.startswith(agg) and v == "true"},
                         {agg + "view", agg + "edit", agg + "admin"})
        self.assertEqual({k for k, v in edit["metadata"]["labels"].items() if k.startswith(agg) and v == "true"},
                         {agg + "edit", agg + "admin"})
        for plural in ("postgresclusters", "postgresbackups", "postgresrestores"):
            for verb in ("get", "list", "watch"):
                self.assertTrue(allowed(view["rules"], "pgwarden.io", plural, verb))
            for verb in ("create", "update", "patch", "delete"):
                self.assertFalse(allowed(view["rules"], "pgwarden.io", plural, verb))
                self.assertTrue(allowed(edit["rules"], "pgwarden.io", plural, verb))
        for role in (view, edit):
            for r in role["rules"]:
                self.assertEqual(r["apiGroups"], ["pgwarden.io"], r)
        for b in self.by_kind["ClusterRoleBinding"] + self.by_kind.get("RoleBinding", []):
            self.assertNotIn(b["roleRef"]["name"], ("pgwarden-view", "pgwarden-edit"))

    def test_api_rules(self):
        """The REST API (docs/api.md): TokenReview, impersonation of exactly what it sends (user or
        ServiceAccount, groups, uid; no extras), and its signing-key Secret by name in its own
        namespace. The controller's ClusterRole gains nothing from it."""
        rules = self.one("ClusterRole", "pgwarden-api")["rules"]
        self.assertTrue(allowed(rules, "authentication.k8s.io", "tokenreviews", "create"))
        for group, resource in (("", "users"), ("", "groups"), ("", "serviceaccounts"), ("authentication.k8s.io", "uids")):
            self.assertTrue(allowed(rules, group, resource, "impersonate"), resource)
        self.assertFalse(allowed(rules, "authentication.k8s.io", "userextras", "impersonate"))
        self.assertFalse(allowed(rules, "authentication.k8s.io", "userextras/scopes", "impersonate"))
        self.assertFalse(allowed(rules, "authorization.k8s.io", "subjectaccessreviews", "create"))
        for r in rules:
            self.assertNotIn("resourceNames", r)
            self.assertFalse(set(r["resources"]) & {"secrets", "pods", "postgresclusters"}, r)
        role = self.one("Role", "pgwarden-api")
        self.assertEqual(role["metadata"]["namespace"], NS)
        for verb in ("create", "get", "update"):
            self.assertTrue(allowed(role["rules"], "", "secrets", verb, "pgwarden-api-signing"), verb)
        for verb in ("get", "update", "patch", "delete", "list", "watch"):
            self.assertFalse(allowed(role["rules"], "", "secrets", verb, "pgwarden-webhook-ca"), verb)
        self.assertFalse(allowed(role["rules"], "", "secrets", "delete", "pgwarden-api-signing"))
        for d in self.by_kind["ClusterRole"] + self.by_kind["Role"]:
            if d["metadata"]["name"] != "pgwarden-api":
                self.assertFalse([r for r in d["rules"] if "impersonate" in r["verbs"] or "tokenreviews" in r["resources"]])

    def test_bindings_name_the_operator_service_account(self):
        sa = self.one("ServiceAccount", "pgwarden")
        subject = {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}
        crb = self.one("ClusterRoleBinding", "pgwarden")
        self.assertEqual((crb["roleRef"]["kind"], crb["roleRef"]["name"]), ("ClusterRole", "pgwarden"))
        self.assertEqual(crb["subjects"], [subject])
        rb = self.one("RoleBinding", "pgwarden-leader-election")
        self.assertEqual((rb["roleRef"]["kind"], rb["roleRef"]["name"]), ("Role", "pgwarden-leader-election"))
        self.assertEqual(rb["subjects"], [subject])
        for kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
            b = self.one(kind, "pgwarden-api")
            self.assertEqual((b["roleRef"]["kind"], b["roleRef"]["name"]), (role_kind, "pgwarden-api"))
            self.assertEqual(b["subjects"], [subject])

    def rendered_children(self):
        items = []
        for example in sorted(glob.glob(os.path.join(SRC, "examples", "cluster-*.yaml"))):
            r = run([BIN, "render", "-f", example, "-o", "json"])
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertEqual(out["kind"], "List")
            items += out["items"]
        return items

    def test_rbac_covers_every_rendered_kind(self):
        rules = self.cluster_rules()
        items = self.rendered_children()
        kinds = {(split_api_version(i["apiVersion"])[0], i["kind"]) for i in items}
        self.assertGreaterEqual(len(kinds), 8, kinds)  # the production example renders the full set
        for group, kind in sorted(kinds):
            with self.subTest(kind=kind):
                self.assertIn((group, kind), PLURALS, "new child kind: add it to the RBAC and to PLURALS")
                resource = PLURALS[(group, kind)]
                needed = {"get", "list", "watch", "create"} if kind == "Secret" else APPLY_VERBS
                for verb in sorted(needed):
                    self.assertTrue(allowed(rules, group, resource, verb), f"{verb} {group}/{resource}")

    def test_volume_repository_claim_is_applied(self):
        """A `volume` backup repository's PVC is written by server-side apply, which the API server
        authorizes as create when the claim does not exist yet: create and patch on claims."""
        rules = self.cluster_rules()
        for verb in ("get", "create", "patch"):
            self.assertTrue(allowed(rules, "", "persistentvolumeclaims", verb), verb)

    def test_secrets_are_never_overwritten(self):
        """Created once, never replaced whole or deleted; patch only renews certificates in place and adds
        keys a Secret lacks (apply_secrets.c)."""
        rules = self.cluster_rules()
        self.assertTrue(allowed(rules, "", "secrets", "create"))
        self.assertTrue(allowed(rules, "", "secrets", "patch"))
        for verb in ("update", "delete"):
            self.assertFalse(allowed(rules, "", "secrets", verb), verb)

    def test_operator_holds_what_it_grants_patroni(self):
        """RBAC escalation prevention: the controller can create a Role only with rules it holds."""
        rules = self.cluster_rules()
        roles = [i for i in self.rendered_children() if i["kind"] == "Role"]
        self.assertTrue(roles)
        for role in roles:
            for rule in role["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            self.assertTrue(allowed(rules, group, resource, verb), f"{verb} {group}/{resource}")

    def test_custom_resources_and_cluster_objects(self):
        rules = self.cluster_rules()
        for plural in ("postgresclusters", "postgresbackups", "postgresrestores"):
            for verb in ("get", "list", "watch", "update", "patch"):
                self.assertTrue(allowed(rules, "pgwarden.io", plural, verb), f"{verb} {plural}")
            for verb in ("get", "update", "patch"):
                self.assertTrue(allowed(rules, "pgwarden.io", plural + "/status", verb), f"{verb} {plural}/status")
            self.assertTrue(allowed(rules, "pgwarden.io", plural + "/finalizers", "update"))
            self.assertFalse(allowed(rules, "pgwarden.io", plural, "delete"), plural)
        for verb in ("get", "list", "watch", "delete"):
            self.assertTrue(allowed(rules, "", "endpoints", verb), verb)
        for verb in ("create", "patch"):
            self.assertTrue(allowed(rules, "", "events", verb), verb)
        # Webhook configurations: only our own two, by name.
        for kind, plural in (("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
                             ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations")):
            ours = [c["metadata"]["name"] for c in self.by_kind[kind]]
            grants = [r for r in rules if plural in r["resources"]]
            self.assertEqual(len(grants), 1)
            self.assertEqual(grants[0]["resourceNames"], ours)
            self.assertEqual(sorted(grants[0]["verbs"]), ["get", "list", "patch", "watch"])
            self.assertFalse(allowed(rules, "admissionregistration.k8s.io", plural, "patch", "someone-elses"))
        # Nothing cluster-scoped besides those: no namespaces, nodes, CRDs.
        for group, resource in (("", "namespaces"), ("", "nodes"), ("apiextensions.k8s.io", "customresourcedefinitions"),
                                ("", "pods/exec")):
            for verb in ("get", "list", "create", "patch", "update", "delete"):
                self.assertFalse(allowed(rules, group, resource, verb), f"{verb} {resource}")

    def test_leases_only_in_operator_namespace(self):
        self.assertFalse(any("leases" in r["resources"] for r in self.cluster_rules()))
        role = self.one("Role", "pgwarden-leader-election")
        self.assertEqual(role["metadata"]["namespace"], NS)
        for verb in ("create", "get", "update"):
            self.assertTrue(allowed(role["rules"], "coordination.k8s.io", "leases", verb, "pgwarden-controller"), verb)
        self.assertFalse(allowed(role["rules"], "coordination.k8s.io", "leases", "update", "other-lease"))
        self.assertFalse(allowed(role["rules"], "coordination.k8s.io", "leases", "delete", "pgwarden-controller"))

    def test_docs_list_exactly_the_granted_verbs(self):
        """docs/rbac.md has one table row per (group, resource, names, verb) that the manifests grant."""
        with open(os.path.join(SRC, "docs", "rbac.md")) as f:
            text = f.read()
        sections = re.split(r"^## ", text, flags=re.M)
        for kind, name in (("ClusterRole", "pgwarden"), ("Role", "pgwarden-leader-election"),
                           ("ClusterRole", "pgwarden-api"), ("Role", "pgwarden-api")):
            section = [s for s in sections if s.startswith(f"{kind} `{name}`")]
            self.assertEqual(len(section), 1, f"docs/rbac.md has no section for {kind} {name}")
            documented = []
            for line in section[0].splitlines():
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) == 5 and cells[0] not in ("Group", "---"):
                    self.assertTrue(cells[4], f"no reason given: {line}")
                    documented.append(("" if cells[0] == '""' else cells[0], cells[1], cells[2], cells[3]))
            granted = []
            for rule in self.one(kind, name)["rules"]:
                names = ",".join(rule.get("resourceNames", []))
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        granted += [(group, resource, names, verb) for verb in rule["verbs"]]
            self.assertEqual(len(documented), len(set(documented)), "duplicate rows")
            self.assertEqual(sorted(documented), sorted(granted), f"{kind} {name}")


LIVE_NS = "tb-manifests"
PROBE_CONFIG = "pgwarden-test-fail-closed"  # test-only, scoped to LIVE_NS by its namespaceSelector
SA_GROUPS = ["system:serviceaccounts", f"system:serviceaccounts:{NS}", "system:authenticated"]
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


def lease_name_in_code():
    """The Lease the controller takes unless told otherwise (controller/controller.c)."""
    with open(os.path.join(SRC, "controller", "controller.c")) as f:
        m = re.search(r'lease_name != NULL \? opts->lease_name : "([^"]+)"', f.read())
    if not m:
        raise AssertionError("controller/controller.c: default lease name not found")
    return m.group(1)


def documented_grants():
    """(namespace scope, group, resource, names, verb) for every row of docs/rbac.md's tables:
    scope None for a ClusterRole (every namespace), NS for a Role (the operator's namespace)."""
    with open(os.path.join(SRC, "docs", "rbac.md")) as f:
        sections = re.split(r"^## ", f.read(), flags=re.M)
    rows = []
    for s in sections:
        scope = None if s.startswith("ClusterRole `") else NS if s.startswith("Role `") else False
        if scope is False:
            continue
        for line in s.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[0] not in ("Group", "---"):
                names = tuple(n for n in cells[2].split(",") if n)
                rows.append((scope, "" if cells[0] == '""' else cells[0], cells[1], names, cells[3]))
    return rows


class ManifestsLive(unittest.TestCase):
    """The shipped manifests as applied on the real test bed (`kubectl apply -k manifests/`),
    with the shipped RBAC unchanged, the real kube-apiserver calling the two operator replicas.

    Admission is exercised with server-side dry runs where possible (the webhooks run, nothing
    is stored, the controller never sees it); the test bed is shared, so the only configuration
    this test creates is a test-only one scoped to its own namespace."""

    @classmethod
    def setUpClass(cls):
        from testbed import Testbed
        cls.tb = Testbed()
        cls.tb.install_pgwarden()
        cls.tb.namespace(LIVE_NS)

    @classmethod
    def tearDownClass(cls):
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            cls.tb.kubectl("delete", kind, PROBE_CONFIG, "--ignore-not-found", check=False)
        cls.tb.delete_namespace(LIVE_NS)

    def k(self, *args, **kw):
        return self.tb.kubectl(*args, **kw)

    def live_config(self, kind, name):
        return json.loads(self.k("get", kind, name, "-o", "json").stdout)

    def admission_counts(self):
        """pgwarden_admission_requests_total summed over both operator replicas, by (path, allowed)."""
        import urllib.request
        counts = {}
        pods = self.tb.operator_pods()
        counts["pods"] = sorted(p["metadata"]["uid"] for p in pods)
        for pod in pods:
            with urllib.request.urlopen(f"http://{pod['status']['podIP']}:8080/metrics", timeout=10) as r:
                text = r.read().decode()
            for path, allowed_, n in re.findall(
                    r'^pgwarden_admission_requests_total\{path="([^"]+)",code="\d+",allowed="(\w+)"\} (\d+)', text, re.M):
                counts[(path, allowed_)] = counts.get((path, allowed_), 0) + int(n)
        return counts

    # --- the configurations as stored -------------------------------------------------------

    def test_stored_configurations_are_the_shipped_ones_with_our_ca(self):
        rendered = {d["metadata"]["name"]: d for d in render_manifests()
                    if d["kind"].endswith("WebhookConfiguration")}
        self.assertEqual(set(rendered), {"pgwarden-mutating", "pgwarden-validating"})
        ca = base64.b64decode(self.tb.get("secret", "pgwarden-webhook-ca", NS)["data"]["ca.crt"])
        for name, want in rendered.items():
            live = self.live_config(want["kind"].lower(), name)
            self.assertEqual([w["name"] for w in live["webhooks"]], [w["name"] for w in want["webhooks"]])
            for lw, ww in zip(live["webhooks"], want["webhooks"]):
                with self.subTest(webhook=ww["name"]):
                    # The real apiserver fills defaults the manifests leave out.
                    ww.setdefault("matchPolicy", "Equivalent")
                    if want["kind"] == "MutatingWebhookConfiguration":
                        ww.setdefault("reinvocationPolicy", "Never")
                    lw.setdefault("objectSelector", {})
                    ww.setdefault("objectSelector", {})
                    # The controller filled the caBundle with the CA (never a leaf) of the shared Secret.
                    self.assertEqual(base64.b64decode(lw["clientConfig"].pop("caBundle")), ca)
                    self.assertEqual(lw, ww)

    # --- every kind reaches its path ------------------------------------------------------

    def test_each_kind_reaches_its_path(self):
        # The counters start over when another user of the shared test bed restarts the
        # operator: then the round is run again (bounded).
        for attempt in range(3):
            before = self.admission_counts()
            self.exercise_every_path()
            after = self.admission_counts()
            if before["pods"] == after["pods"]:
                break
        else:
            self.fail("the operator pods kept restarting")
        # Every path of both configurations was called and answered (other engineers' traffic
        # only adds to these counters, never takes from them).
        for path in served_paths():
            with self.subTest(path=path):
                self.assertGreater(after.get((path, "true"), 0) + after.get((path, "false"), 0),
                                   before.get((path, "true"), 0) + before.get((path, "false"), 0))
        for path in ("/validate/postgresclusters", "/validate/postgresrestores"):
            self.assertGreater(after.get((path, "false"), 0), before.get((path, "false"), 0), path)

    def database_pod(self):
        """The example database pod, bare (no StatefulSet owner for the garbage collector to miss)."""
        with open(os.path.join(SRC, "examples", "admissionreview-pod.json")) as f:
            pod = json.load(f)["request"]["object"]
        for key in ("namespace", "generateName", "ownerReferences"):
            pod["metadata"].pop(key, None)
        pod["metadata"]["name"] = "orders-0"
        # The ServiceAccount admission plugin, before any webhook, refuses a pod whose
        # ServiceAccount does not exist (the stand-in never checked): the example names the
        # cluster's own, which only the controller creates.
        pod["spec"]["serviceAccountName"] = "default"
        return pod

    def exercise_every_path(self):
        ns = ["-n", LIVE_NS]
        cluster = os.path.join(SRC, "examples", "cluster-minimal.yaml")
        out = json.loads(self.k("apply", "--dry-run=server", *ns, "-f", cluster, "-o", "json").stdout)
        self.assertEqual(out["spec"]["postgresVersion"], 18)  # defaulted by /mutate/postgresclusters
        self.assertEqual(out["spec"]["instances"], 1)

        # Rules only the webhook knows (the CRD schema and its CEL rules pass them).
        r = self.k("apply", "--dry-run=server", *ns, "-f", os.path.join(SRC, "examples", "invalid", "image-latest.yaml"),
                   check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('the "latest" tag is denied', r.stderr)

        for example, kind in (("backup.yaml", "PostgresBackup"), ("restore-pitr.yaml", "PostgresRestore")):
            with open(os.path.join(SRC, "examples", example)) as f:
                doc = yaml.safe_load(f)
            doc["metadata"]["namespace"] = LIVE_NS
            out = json.loads(self.k("apply", "--dry-run=server", "-f", "-", "-o", "json", stdin=json.dumps(doc)).stdout)
            self.assertEqual(out["kind"], kind)
        r = self.k("apply", "--dry-run=server", *ns, "-f",
                   os.path.join(SRC, "examples", "invalid", "restore-future.yaml"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.target.time", r.stderr)
        self.assertIn("must not be in the future", r.stderr)

        # Database pods get their sidecars through /mutate/pods.
        pod = self.database_pod()
        got = json.loads(self.k("create", "--dry-run=server", *ns, "-f", "-", "-o", "json", stdin=json.dumps(pod)).stdout)
        self.assertIn("pgbouncer", [c["name"] for c in got["spec"]["containers"]])

        # DELETE goes to validation too: deletion protection. This one cluster is stored (a
        # dry-run delete needs a stored object); it is deleted right after.
        protected = ("apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {name: protected}\n"
                     "spec: {instances: 1, storage: {size: 1Gi}, deletionProtection: true}\n")
        self.k("apply", *ns, "-f", "-", stdin=protected)
        try:
            r = self.k("delete", "pgc", "protected", *ns, "--dry-run=server", check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("deletionProtection", r.stderr)
        finally:
            self.k("patch", "pgc", "protected", *ns, "--type=merge", "-p", '{"spec":{"deletionProtection":false}}')
            self.k("delete", "pgc", "protected", *ns, "--wait=false")

    # --- excluded namespaces ---------------------------------------------------------------

    def test_excluded_namespaces_are_left_alone(self):
        """What only the webhook refuses passes in kube-system and pgwarden-system: their requests
        never reach it (server-side dry run: nothing is stored there)."""
        future = os.path.join(SRC, "examples", "invalid", "restore-future.yaml")
        r = self.k("apply", "--dry-run=server", "-n", LIVE_NS, "-f", future, check=False)
        self.assertIn("must not be in the future", r.stderr)
        before = self.admission_counts()
        for ns in ("kube-system", NS):
            with self.subTest(namespace=ns):
                r = self.k("apply", "--dry-run=server", "-n", ns, "-f", future, check=False)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("created (server dry run)", r.stdout)
                out = json.loads(self.k("apply", "--dry-run=server", "-n", ns, "-f",
                                        os.path.join(SRC, "examples", "cluster-minimal.yaml"), "-o", "json").stdout)
                self.assertNotIn("pooler", out["spec"])  # no defaulting either
        after = self.admission_counts()
        self.assertEqual(after.get(("/validate/postgresrestores", "false"), 0),
                         before.get(("/validate/postgresrestores", "false"), 0))

    # --- fail closed -----------------------------------------------------------------------

    def probe_config(self, kind, source_name, webhook_name, client_config):
        """A test-only copy of one shipped webhook (same failurePolicy, timeout, rules, selectors)
        with another clientConfig, matching only LIVE_NS: the shipped ones stay untouched."""
        shipped = self.live_config(kind, source_name)
        w = json.loads(json.dumps([x for x in shipped["webhooks"] if x["name"] == webhook_name][0]))
        w["name"] = "probe." + w["name"]
        w["clientConfig"] = client_config
        w["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": LIVE_NS}}
        cfg = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": shipped["kind"],
               "metadata": {"name": PROBE_CONFIG, "labels": {"pgwarden.io/test": "manifests"}}, "webhooks": [w]}
        self.k("apply", "-f", "-", stdin=json.dumps(cfg))
        self.addCleanup(self.k, "delete", kind, PROBE_CONFIG, "--ignore-not-found", check=False)
        self.assertEqual(w["failurePolicy"], "Fail")
        return w["name"]

    def refused_by(self, args, stdin, webhook, why):
        """The write is refused by `webhook` for `why` (the apiserver's webhook cache follows a new
        configuration within moments: bounded retry)."""
        from testbed import retry

        def check():
            r = self.k(*args, stdin=stdin, check=False)
            self.assertNotEqual(r.returncode, 0, f"accepted: {r.stdout}")
            self.assertIn(webhook, r.stderr)
            self.assertRegex(r.stderr, why)
            return r.stderr
        return retry(check, 30, f"refusal by {webhook}")

    def test_fail_closed_when_the_webhook_is_unreachable(self):
        self.k("create", "service", "clusterip", "nowhere", "-n", LIVE_NS, "--tcp=443:9443")  # no pod behind it
        cluster = os.path.join(SRC, "examples", "cluster-minimal.yaml")
        with open(cluster) as f:
            cluster_yaml = f.read()
        apply = ("apply", "--dry-run=server", "-n", LIVE_NS, "-f", "-")
        # An operator outage: the Service has no endpoints.
        name = self.probe_config("validatingwebhookconfiguration", "pgwarden-validating",
                                 "postgresclusters.validate.pgwarden.io",
                                 {"service": {"namespace": LIVE_NS, "name": "nowhere", "port": 443,
                                              "path": "/validate/postgresclusters"}})
        self.refused_by(apply, cluster_yaml, name, r"failed calling webhook|no endpoints")
        self.k("delete", "validatingwebhookconfiguration", PROBE_CONFIG)

        # The real operator, but a caBundle that is not its CA (no caBundle at all: the
        # apiserver's own trust store): the apiserver refuses to trust it and fails closed.
        name = self.probe_config("mutatingwebhookconfiguration", "pgwarden-mutating", "pods.pgwarden.io",
                                 {"service": {"namespace": NS, "name": "pgwarden-webhook", "port": 443,
                                              "path": "/mutate/pods"}})
        pod = self.database_pod()
        self.refused_by(("create", "--dry-run=server", "-n", LIVE_NS, "-f", "-"), json.dumps(pod), name,
                        r"x509|certificate")
        self.k("delete", "mutatingwebhookconfiguration", PROBE_CONFIG)
        # And only this namespace was ever affected: the same pod elsewhere is admitted.
        self.k("create", "--dry-run=server", "-n", "default", "-f", "-", stdin=json.dumps(pod))

    # --- RBAC on the real apiserver, shipped rules unchanged --------------------------------

    def can(self, verb, group, resource, namespace=None, name=None, subresource=None):
        attrs = {"verb": verb, "group": group, "resource": resource}
        for k, v in (("namespace", namespace), ("name", name), ("subresource", subresource)):
            if v:
                attrs[k] = v
        code, out = self.tb.api("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": OPERATOR_SA, "groups": SA_GROUPS, "resourceAttributes": attrs}})
        self.assertEqual(code, 201, out)
        return out["status"].get("allowed", False)

    def can_r(self, verb, group, resource, namespace=None, name=None):
        """`resource` may name a subresource (postgresclusters/status)."""
        res, _, sub = resource.partition("/")
        return self.can(verb, group, res, namespace, name, sub or None)

    def discovery_plural(self, api_version, kind):
        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        code, out = self.tb.api("GET", path)
        self.assertEqual(code, 200, out)
        names = [r["name"] for r in out["resources"] if r["kind"] == kind and "/" not in r["name"]]
        self.assertEqual(len(names), 1, (api_version, kind, names))
        return names[0]

    def test_rbac_the_leader_lease_the_code_uses(self):
        lease = lease_name_in_code()
        for verb in ("get", "update"):
            self.assertTrue(self.can(verb, "coordination.k8s.io", "leases", NS, lease), f"{verb} lease {lease}")
        self.assertTrue(self.can("create", "coordination.k8s.io", "leases", NS))
        # The same question through kubectl's impersonation, as an operator would ask it.
        r = self.k("auth", "can-i", "update", f"leases.coordination.k8s.io/{lease}", "-n", NS, "--as", OPERATOR_SA,
                   check=False)
        self.assertEqual(r.stdout.strip(), "yes", r.stderr)
        self.assertFalse(self.can("delete", "coordination.k8s.io", "leases", NS, lease))
        self.assertFalse(self.can("update", "coordination.k8s.io", "leases", NS, "someone-elses-lease"))
        self.assertFalse(self.can("get", "coordination.k8s.io", "leases", "kube-system", lease))
        self.assertFalse(self.can("create", "coordination.k8s.io", "leases", "default"))
        # The replicas really hold it: one of the running ones is its holder (bounded wait: another
        # user of the shared test bed may just have restarted them).
        def held():
            lease_obj = self.tb.get("lease", lease, NS) or {}
            holder = (lease_obj.get("spec") or {}).get("holderIdentity") or ""
            return holder if any(holder.startswith(p["metadata"]["name"] + "_") for p in self.tb.operator_pods()) else None
        wait_for(held, 60, 1.0, what=f"a running operator replica holding Lease {lease}")

    def test_rbac_every_rendered_kind(self):
        items = []
        for example in sorted(glob.glob(os.path.join(SRC, "examples", "cluster-*.yaml"))):
            r = run([BIN, "render", "-f", example, "-o", "json"])
            self.assertEqual(r.returncode, 0, r.stderr)
            items += json.loads(r.stdout)["items"]
        kinds = {(i["apiVersion"], i["kind"]) for i in items}
        self.assertGreaterEqual(len(kinds), 8, kinds)
        for api_version, kind in sorted(kinds):
            group = split_api_version(api_version)[0]
            plural = self.discovery_plural(api_version, kind)
            self.assertEqual(PLURALS.get((group, kind)), plural, kind)
            needed = {"get", "list", "watch", "create"} if kind == "Secret" else APPLY_VERBS
            for verb in sorted(needed):
                for ns in (LIVE_NS, "some-users-namespace"):
                    with self.subTest(kind=kind, verb=verb, namespace=ns):
                        self.assertTrue(self.can(verb, group, plural, ns, "c-child"), f"{verb} {group}/{plural}")
        # Patroni's Role: the operator can only grant what it holds (escalation prevention).
        for role in (i for i in items if i["kind"] == "Role"):
            for rule in role["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            self.assertTrue(self.can_r(verb, group, resource, LIVE_NS), f"{verb} {group}/{resource}")

    def test_rbac_volume_repository_claim_is_applied(self):
        """A `volume` backup repository's claim is written with server-side apply: create + patch."""
        for verb in ("get", "create", "patch"):
            self.assertTrue(self.can(verb, "", "persistentvolumeclaims", LIVE_NS, "c-repo"), verb)

    def test_rbac_exactly_what_docs_rbac_md_says(self):
        """Every (resource, verb, name) of a grid: allowed exactly when docs/rbac.md lists it."""
        rows = documented_grants()
        self.assertGreater(len(rows), 50)

        def documented(namespace, group, resource, name, verb):
            for scope, g, r, names, v in rows:
                if (g, r, v) != (group, resource, verb) or (scope is not None and scope != namespace):
                    continue
                if not names or name in names:
                    return True
            return False

        resources = {(g, r) for _, g, r, _, _ in rows} | {
            ("", "namespaces"), ("", "nodes"), ("", "pods/exec"), ("", "pods/log"), ("", "serviceaccounts/token"),
            ("apiextensions.k8s.io", "customresourcedefinitions"), ("rbac.authorization.k8s.io", "clusterroles"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"), ("coordination.k8s.io", "leases"),
            ("apps", "deployments"), ("storage.k8s.io", "storageclasses"), ("", "persistentvolumes"),
            ("authentication.k8s.io", "userextras"), ("authorization.k8s.io", "subjectaccessreviews")}
        cluster_scoped = {"namespaces", "nodes", "customresourcedefinitions", "clusterroles", "clusterrolebindings",
                          "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "storageclasses",
                          "persistentvolumes", "tokenreviews", "users", "groups", "uids", "userextras",
                          "subjectaccessreviews"}
        names = {n for _, _, _, ns_, _ in rows for n in ns_} | {lease_name_in_code()}
        wrong = []
        for group, resource in sorted(resources):
            scoped = resource.split("/")[0] not in cluster_scoped
            for namespace in ((NS, LIVE_NS) if scoped else (None,)):
                for name in (None, "someone-elses", *sorted(names)):
                    for verb in ALL_VERBS + ("impersonate",):
                        want = documented(namespace, group, resource, name, verb)
                        got = self.can_r(verb, group, resource, namespace, name)
                        if got != want:
                            wrong.append(f"{verb} {group or 'core'}/{resource} ns={namespace} name={name}: "
                                         f"{'allowed' if got else 'denied'}, docs say {'yes' if want else 'no'}")
        self.assertEqual(wrong, [])
        # Verbs no rule may hold, anywhere (impersonation is the API's, docs/api.md: checked above,
        # and never of user extras, which the API does not send).
        for verb, group, resource in (("escalate", "rbac.authorization.k8s.io", "roles"),
                                      ("bind", "rbac.authorization.k8s.io", "roles"),
                                      ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
                                      ("impersonate", "authentication.k8s.io", "userextras")):
            self.assertFalse(self.can(verb, group, resource, LIVE_NS), f"{verb} {resource}")

    def test_rbac_what_it_must_not_do(self):
        """The design's "not granted, on purpose" list, asked of the real authorizer."""
        for verb in ("update", "delete"):
            self.assertFalse(self.can(verb, "", "secrets", LIVE_NS, "c-superuser"), f"{verb} secrets")
        for group, resource in (("apps", "statefulsets"), ("", "services"), ("", "configmaps"), ("", "secrets"),
                                ("policy", "poddisruptionbudgets"), ("batch", "jobs"),
                                ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings")):
            if resource != "jobs":  # a major upgrade deletes its own Jobs (docs/rbac.md)
                self.assertFalse(self.can("delete", group, resource, LIVE_NS, "c"), f"delete {resource}")
            self.assertFalse(self.can("update", group, resource, LIVE_NS, "c"), f"update {resource}")
        for plural in ("postgresbackups", "postgresrestores"):
            self.assertFalse(self.can("create", "pgwarden.io", plural, LIVE_NS), f"create {plural}")
            self.assertFalse(self.can("delete", "pgwarden.io", plural, LIVE_NS, "x"), f"delete {plural}")
        self.assertFalse(self.can("delete", "pgwarden.io", "postgresclusters", LIVE_NS, "x"))
        self.assertFalse(self.can("create", "", "pods", LIVE_NS, "x", "exec"))
        self.assertFalse(self.can("delete", "coordination.k8s.io", "leases", NS, lease_name_in_code()))
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            self.assertFalse(self.can("patch", "admissionregistration.k8s.io", kind, None, "someone-elses"))
            self.assertFalse(self.can("list", "admissionregistration.k8s.io", kind))  # only by name


if __name__ == "__main__":
    unittest.main()
