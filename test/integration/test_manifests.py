"""The install manifests (`kubectl apply -k manifests/`, DESIGN.md §4, §8).

Offline: real `kubectl kustomize` renders them, and every object says what the design asks:
the restricted security context, probes and spreading of the Deployment, Service and PDB
wiring, webhook settings, and least-privilege RBAC that still covers every kind
`pgwarden render` produces and every rule the controller grants Patroni. docs/rbac.md must
list exactly the verbs the manifests grant.

Live: the rendered manifests applied with real kubectl to the API-server stand-in, with
`pgwarden serve` behind the pgwarden-webhook Service: the configurations route each kind to
the right path, fail closed without a caBundle, and leave excluded namespaces alone.
"""
import base64
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

import pgw
from standin import StandIn, wait_for

BIN = os.environ.get("PGWARDEN_BIN", "build/pgwarden")
SRC = os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MANIFESTS = os.path.join(SRC, "manifests")
NS = "pgwarden-system"
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
    r = run(["kubectl", "kustomize", MANIFESTS], env=dict(os.environ, KUBECONFIG="/dev/null"))
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
            ("Deployment", "pgwarden"), ("PodDisruptionBudget", "pgwarden"), ("Service", "pgwarden-webhook"),
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
        self.assertEqual(ports, {"webhook": 9443, "metrics": 8080})
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
                self.assertFalse(set(rule["verbs"]) & {"escalate", "bind", "impersonate", "deletecollection"}, rule)
                self.assertNotIn("nonResourceURLs", rule)

    def test_bindings_name_the_operator_service_account(self):
        sa = self.one("ServiceAccount", "pgwarden")
        subject = {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}
        crb = self.one("ClusterRoleBinding", "pgwarden")
        self.assertEqual((crb["roleRef"]["kind"], crb["roleRef"]["name"]), ("ClusterRole", "pgwarden"))
        self.assertEqual(crb["subjects"], [subject])
        rb = self.one("RoleBinding", "pgwarden-leader-election")
        self.assertEqual((rb["roleRef"]["kind"], rb["roleRef"]["name"]), ("Role", "pgwarden-leader-election"))
        self.assertEqual(rb["subjects"], [subject])

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

    def test_secrets_are_never_overwritten(self):
        rules = self.cluster_rules()
        self.assertTrue(allowed(rules, "", "secrets", "create"))
        for verb in ("update", "patch", "delete"):
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
        for kind, name in (("ClusterRole", "pgwarden"), ("Role", "pgwarden-leader-election")):
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


class ManifestsLive(unittest.TestCase):
    """The rendered manifests in the API-server stand-in, with `pgwarden serve` behind the Service."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="manifests-")
        cls.server = pgw.Server(extra_args=["--controller", "off"])
        cls.s = StandIn(["--webhook-service-map", f"pgwarden-webhook.{NS}=127.0.0.1:{cls.server.port}"],
                        tmp=os.path.join(cls.tmp, "standin"))

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.server.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def k(self, *args, **kw):
        return self.s.kubectl(*args, **kw)

    def set_ca_bundle(self, pem):
        bundle = base64.b64encode(pem).decode()
        for kind, name in (("mutatingwebhookconfiguration", "pgwarden-mutating"),
                           ("validatingwebhookconfiguration", "pgwarden-validating")):
            cfg = json.loads(self.k("get", kind, name, "-o", "json").stdout)
            patch = [{"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": bundle}
                     for i in range(len(cfg["webhooks"]))]
            self.k("patch", kind, name, "--type=json", "-p", json.dumps(patch))

    def test_apply_and_admission_through_the_configurations(self):
        # The stand-in serves no apps/v1 (it has no use for Deployments) and no OpenAPI
        # schemas (kubectl's client-side check, hence --validate=false): every other rendered
        # object goes in with real kubectl; the Deployment's fields are checked offline above.
        docs = render_manifests()
        kept = [d for d in docs if d["kind"] != "Deployment"]
        self.assertEqual(len(kept), len(docs) - 1)
        stream = "---\n".join(yaml.safe_dump(d) for d in kept)
        out = self.k("apply", "--validate=false", "-f", "-", stdin=stream).stdout
        self.assertIn("service/pgwarden-webhook created", out)
        self.assertIn("poddisruptionbudget.policy/pgwarden created", out)
        self.assertIn("clusterrole.rbac.authorization.k8s.io/pgwarden created", out)
        self.assertIn("validatingwebhookconfiguration.admissionregistration.k8s.io/pgwarden-validating created", out)
        self.assertIn("mutatingwebhookconfiguration.admissionregistration.k8s.io/pgwarden-mutating created", out)
        again = self.k("apply", "--validate=false", "-f", "-", stdin=stream).stdout
        self.assertNotIn("created", again)
        self.s.namespace("shop")
        cluster = os.path.join(SRC, "examples", "cluster-minimal.yaml")

        # No caBundle yet (the operator has not filled it): the API server cannot trust the
        # webhook and, with failurePolicy Fail, refuses the write rather than skipping checks.
        r = self.k("apply", "-n", "shop", "-f", cluster, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("postgresclusters.mutate.pgwarden.io", r.stderr)

        # With the CA in place (what the operator does at run time), every kind reaches its path.
        with open(self.server.ca_file, "rb") as f:
            self.set_ca_bundle(f.read())
        self.k("apply", "-n", "shop", "-f", cluster)
        stored = json.loads(self.k("get", "pgc", "minimal", "-n", "shop", "-o", "json").stdout)
        self.assertEqual(stored["spec"]["postgresVersion"], 18)  # defaulted by /mutate/postgresclusters
        self.assertEqual(stored["spec"]["instances"], 1)

        bad = os.path.join(SRC, "examples", "invalid", "instances-zero.yaml")
        r = self.k("apply", "-n", "shop", "-f", bad, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.instances", r.stderr)
        self.assertIn("must be between 1 and 16", r.stderr)

        # Backups and restores: defaulted and validated on their own paths.
        self.k("apply", "-n", "shop", "-f", os.path.join(SRC, "examples", "backup.yaml"))
        self.k("apply", "-n", "shop", "-f", os.path.join(SRC, "examples", "restore-pitr.yaml"))
        r = self.k("apply", "-n", "shop", "-f", os.path.join(SRC, "examples", "invalid", "restore-future.yaml"),
                   check=False)
        self.assertNotEqual(r.returncode, 0)
        # Only the webhook knows the time: the CRD schema cannot reject this.
        self.assertIn("spec.target.time", r.stderr)
        self.assertIn("must not be in the future", r.stderr)

        # DELETE goes to validation too: deletion protection.
        self.k("patch", "pgc", "minimal", "-n", "shop", "--type=merge", "-p", '{"spec":{"deletionProtection":true}}')
        r = self.k("delete", "pgc", "minimal", "-n", "shop", "--wait=false", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("deletionProtection", r.stderr)
        self.k("patch", "pgc", "minimal", "-n", "shop", "--type=merge", "-p", '{"spec":{"deletionProtection":false}}')
        self.k("delete", "pgc", "minimal", "-n", "shop", "--wait=false")

        # Database pods get their sidecars through /mutate/pods.
        with open(os.path.join(SRC, "examples", "admissionreview-pod.json")) as f:
            pod = json.load(f)["request"]["object"]
        # A bare pod: no StatefulSet owner for the garbage collector to miss.
        for key in ("namespace", "generateName", "ownerReferences"):
            pod["metadata"].pop(key, None)
        pod["metadata"]["name"] = "orders-0"
        self.k("create", "-n", "shop", "-f", "-", stdin=json.dumps(pod))
        got = json.loads(self.k("get", "pod", "orders-0", "-n", "shop", "-o", "json").stdout)
        self.assertIn("pgbouncer", [c["name"] for c in got["spec"]["containers"]])

        # Every path of both configurations was called, and allowed at least once.
        status, metrics = self.server.health("/metrics")
        self.assertEqual(status, 200)
        for path in served_paths():
            self.assertRegex(metrics, rf'pgwarden_admission_requests_total{{path="{path}",code="200",allowed="true"}} [1-9]')

        # Excluded namespaces never reach the webhook: an invalid object is stored there
        # (the controller's guard reports it instead).
        r = self.k("apply", "-n", "kube-system", "-f", bad, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: self.k("get", "pgc", "bad-instances", "-n", "kube-system", check=False).returncode == 0,
                 what="unchecked cluster in kube-system")


if __name__ == "__main__":
    unittest.main()
