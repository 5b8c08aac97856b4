"""Sidecar injection end to end through the real binary and real kubectl.

Each pod under test/fixtures/pods/ is wrapped in an AdmissionReview and sent
through `pgwarden review --path /mutate/pods` (the HTTPS pipeline on stdin).
The base64 JSON patch of the response is applied with
`kubectl patch --local --type=json`, which uses the same json-patch library as
kube-apiserver. The patched pod must hold the sidecars, and reviewing it again
(what reinvocationPolicy IfNeeded does) must yield no patch at all.
"""
import base64
import json
import os
import subprocess
import tempfile
import unittest

from testbed import kubectl_path

SOURCE = os.environ.get("PGW_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(SOURCE, "test", "fixtures", "pods")
# The test bed's kubectl (the pinned release), found without starting the test bed.
KUBECTL = kubectl_path()
PGWARDEN = os.environ.get("PGWARDEN_BIN") or os.path.join(SOURCE, "build", "pgwarden")

# fixture → (container names after injection, volume names after injection, warnings expected)
# None for containers means: the pod must come back without a patch.
EXPECTED = {
    "all-sidecars": (["postgres", "pgbouncer", "exporter", "pgbackrest"],
                     ["pgdata", "pgw-socket", "pgw-tmp", "pgw-pgbouncer", "pgw-exporter", "pgw-pgbackrest"], 0),
    "pooler-only": (["postgres", "pgbouncer"], ["pgdata", "pgw-socket", "pgw-tmp", "pgw-pgbouncer"], 0),
    "no-volumes": (["postgres", "pgbouncer", "exporter"], ["pgw-socket", "pgw-pgbouncer", "pgw-exporter"], 0),
    "empty-containers": (["exporter"], ["pgw-socket", "pgw-exporter"], 0),
    "istio-meshed": (["istio-proxy", "postgres", "pgbouncer", "exporter", "pgbackrest"],
                     ["pgdata", "pgw-socket", "pgw-tmp", "istio-envoy", "pgw-pgbouncer", "pgw-exporter", "pgw-pgbackrest"], 0),
    "user-pgbouncer": (["postgres", "pgbouncer", "exporter"], ["pgdata", "pgw-socket", "pgw-tmp", "pgw-exporter"], 1),
    "no-annotations": (None, None, 0),
    "not-a-database": (None, None, 0),
}


def review_of(pod, uid):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": pod["metadata"].get("name", ""),
            "namespace": pod["metadata"].get("namespace", "db"),
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:statefulset-controller"},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


class InjectWithKubectlTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pgw-inject-")
        self.addCleanup(self.tmp.cleanup)
        self.kubeconfig = os.path.join(self.tmp.name, "kubeconfig")
        open(self.kubeconfig, "w").close()  # kubectl --local needs no cluster

    def review(self, pod, uid="3f1c7e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f"):
        r = subprocess.run([PGWARDEN, "review", "--path", "/mutate/pods"], input=json.dumps(review_of(pod, uid)),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["apiVersion"], "admission.k8s.io/v1")
        self.assertEqual(out["kind"], "AdmissionReview")
        resp = out["response"]
        self.assertEqual(resp["uid"], uid)
        self.assertTrue(resp["allowed"], resp)
        return resp

    def kubectl_patch(self, pod, patch):
        path = os.path.join(self.tmp.name, "pod.json")
        with open(path, "w") as f:
            json.dump(pod, f)
        r = subprocess.run([KUBECTL, "patch", "--local", "-f", path, "--type=json", "-p", json.dumps(patch), "-o", "json"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, KUBECONFIG=self.kubeconfig))
        self.assertEqual(r.returncode, 0, "kubectl patch failed: %s\npatch: %s" % (r.stderr, json.dumps(patch)[:2000]))
        return json.loads(r.stdout)

    def inject(self, pod):
        """Review → kubectl patch → returns (patched pod, response, patch)."""
        resp = self.review(pod)
        self.assertEqual(resp.get("patchType"), "JSONPatch")
        patch = json.loads(base64.b64decode(resp["patch"]))
        self.assertIsInstance(patch, list)
        self.assertGreater(len(patch), 0)
        return self.kubectl_patch(pod, patch), resp, patch

    def check_injected(self, name, pod):
        containers, volumes, warnings = EXPECTED[name]
        patched, resp, patch = self.inject(pod)
        self.assertEqual([c["name"] for c in patched["spec"]["containers"]], containers)
        self.assertEqual([v["name"] for v in patched["spec"].get("volumes", [])], volumes)
        self.assertEqual(len(resp.get("warnings", [])), warnings, resp.get("warnings"))
        ann = patched["metadata"]["annotations"]
        self.assertRegex(ann["pgwarden.io/injected"], r"^[0-9a-f]{16}$")
        if "exporter" in containers:
            self.assertEqual((ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]),
                             ("true", "9187", "/metrics"))
        # What was there is still there, unchanged.
        before = {c["name"]: c for c in pod["spec"].get("containers", [])}
        after = {c["name"]: c for c in patched["spec"]["containers"]}
        for cname, c in before.items():
            self.assertEqual(after[cname], c, cname)
        self.assertEqual(patched["spec"].get("initContainers"), pod["spec"].get("initContainers"))
        # Every injected container is locked down and mounts only volumes that exist.
        vols = {v["name"] for v in patched["spec"].get("volumes", [])}
        for cname in set(after) - set(before):
            c = after[cname]
            sc = c["securityContext"]
            self.assertEqual((sc["runAsNonRoot"], sc["allowPrivilegeEscalation"], sc["readOnlyRootFilesystem"],
                              sc["capabilities"], sc["seccompProfile"]),
                             (True, False, True, {"drop": ["ALL"]}, {"type": "RuntimeDefault"}), cname)
            for m in c.get("volumeMounts", []):
                self.assertIn(m["name"], vols, cname)
            self.assertIn("readinessProbe", c)
            self.assertIn("livenessProbe", c)
        # Reinvocation: nothing left to do.
        again = self.review(patched, uid="0e7c1a22-0000-4000-8000-000000000002")
        self.assertNotIn("patch", again)
        self.assertNotIn("patchType", again)
        return patched

    def test_fixtures(self):
        names = sorted(f[:-5] for f in os.listdir(FIXTURES) if f.endswith(".json"))
        self.assertEqual(sorted(EXPECTED), names, "every fixture needs an expectation")
        for name in names:
            with self.subTest(fixture=name):
                with open(os.path.join(FIXTURES, name + ".json")) as f:
                    pod = json.load(f)
                if EXPECTED[name][0] is None:
                    resp = self.review(pod)
                    self.assertNotIn("patch", resp)
                    self.assertNotIn("warnings", resp)
                else:
                    self.check_injected(name, pod)

    def test_ports_and_names(self):
        with open(os.path.join(FIXTURES, "all-sidecars.json")) as f:
            pod = json.load(f)
        patched, _, _ = self.inject(pod)
        ports = {c["name"]: [(p["name"], p["containerPort"]) for p in c.get("ports", [])]
                 for c in patched["spec"]["containers"]}
        self.assertEqual(ports["pgbouncer"], [("pgbouncer", 6432)])
        self.assertEqual(ports["exporter"], [("metrics", 9187)])
        self.assertEqual(ports["pgbackrest"], [("pgbackrest", 8432)])
        by_name = {c["name"]: c for c in patched["spec"]["containers"]}
        self.assertEqual(by_name["pgbackrest"]["command"], ["pgbackrest", "server"])
        sources = {v["name"]: v for v in patched["spec"]["volumes"]}
        self.assertEqual(sources["pgw-exporter"], {"name": "pgw-exporter", "secret": {"secretName": "demo-exporter"}})
        self.assertEqual([list(s.values())[0]["name"] for s in sources["pgw-pgbackrest"]["projected"]["sources"]],
                         ["demo-pgbackrest", "demo-pgbackrest-tls"])

    def test_same_stamp_as_plain_pod_when_meshed(self):
        stamps = []
        for name in ("all-sidecars", "istio-meshed"):
            with open(os.path.join(FIXTURES, name + ".json")) as f:
                patched, _, _ = self.inject(json.load(f))
            stamps.append(patched["metadata"]["annotations"]["pgwarden.io/injected"])
            ours = [c for c in patched["spec"]["containers"] if c["name"] in ("pgbouncer", "exporter", "pgbackrest")]
            if name == "all-sidecars":
                plain = ours
            else:
                self.assertEqual(ours, plain)
        self.assertEqual(stamps[0], stamps[1])

    def test_large_pod(self):
        pg = {"name": "postgres", "image": "ghcr.io/pgwarden/postgres:18",
              "env": [{"name": "VAR_%03d" % i, "value": "value-%d" % i} for i in range(200)]}
        helpers = [{"name": "helper-%02d" % i, "image": "busybox:1.36",
                    "env": [{"name": "H_%03d" % j, "value": "x" * 20} for j in range(200)]} for i in range(1, 50)]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "demo-7", "namespace": "db", "labels": {"pgwarden.io/cluster": "demo"},
                            "annotations": {"pgwarden.io/sidecars": "pooler,metrics,backup"}},
               "spec": {"containers": [pg] + helpers,
                        "volumes": [{"name": "pgdata", "persistentVolumeClaim": {"claimName": "pgdata-demo-7"}}]}}
        self.assertGreater(len(json.dumps(pod)), 400000)
        patched, _, patch = self.inject(pod)
        self.assertEqual(len(patched["spec"]["containers"]), 53)
        self.assertEqual(patched["spec"]["containers"][:50], pod["spec"]["containers"])
        self.assertEqual([c["name"] for c in patched["spec"]["containers"][50:]], ["pgbouncer", "exporter", "pgbackrest"])
        again = self.review(patched, uid="0e7c1a22-0000-4000-8000-000000000003")
        self.assertNotIn("patch", again)

    def test_example_review(self):
        """examples/admissionreview-pod.json, as the README sends it."""
        with open(os.path.join(SOURCE, "examples", "admissionreview-pod.json")) as f:
            review = json.load(f)
        pod = review["request"]["object"]
        r = subprocess.run([PGWARDEN, "review", "--path", "/mutate/pods"], input=json.dumps(review),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        resp = json.loads(r.stdout)["response"]
        self.assertEqual(resp["uid"], review["request"]["uid"])
        patched = self.kubectl_patch(pod, json.loads(base64.b64decode(resp["patch"])))
        self.assertEqual([c["name"] for c in patched["spec"]["containers"]],
                         ["postgres", "pgbouncer", "exporter", "pgbackrest"])
        # The template already had the shared emptyDirs: they are reused, not duplicated.
        names = [v["name"] for v in patched["spec"]["volumes"]]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(names.count("pgw-socket"), 1)
        self.assertNotIn("patch", self.review(patched))

    def test_webhook_configuration(self):
        """manifests/webhooks/mutating-pods.yaml parses (kubectl) and says what DESIGN.md §4 asks."""
        path = os.path.join(SOURCE, "manifests", "webhooks", "mutating-pods.yaml")
        r = subprocess.run([KUBECTL, "patch", "--local", "-f", path, "--type=merge", "-p", "{}", "-o", "json"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, KUBECONFIG=self.kubeconfig))
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["apiVersion"], doc["kind"]),
                         ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"))
        # The file is pgwarden-mutating: the pod webhook plus the custom resources' defaulting
        # (checked in test_manifests.py).
        pods = [w for w in doc["webhooks"] if w["rules"][0]["resources"] == ["pods"]]
        self.assertEqual(len(pods), 1)
        w = pods[0]
        self.assertEqual(w["clientConfig"]["service"],
                         {"name": "pgwarden-webhook", "namespace": "pgwarden-system", "path": "/mutate/pods", "port": 443})
        self.assertEqual(w["rules"], [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                       "resources": ["pods"], "scope": "Namespaced"}])
        self.assertEqual((w["failurePolicy"], w["reinvocationPolicy"], w["sideEffects"], w["timeoutSeconds"],
                          w["admissionReviewVersions"]), ("Fail", "IfNeeded", "None", 5, ["v1"]))
        self.assertEqual(w["objectSelector"], {"matchExpressions": [{"key": "pgwarden.io/cluster", "operator": "Exists"}]})
        self.assertEqual(w["namespaceSelector"], {"matchExpressions": [{
            "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["pgwarden-system", "kube-system"]}]})


if __name__ == "__main__":
    unittest.main()
