"""`pgwarden render`: the children of each example cluster, read back by real kubectl."""
import glob
import json
import os
import subprocess
import tempfile
import unittest

import pgw

EXAMPLES = os.path.join(pgw.SOURCE_DIR, "examples")


def render(path, output="json"):
    return subprocess.run([pgw.BIN, "render", "-f", path, "-o", output], capture_output=True, text=True, timeout=60)


class RenderCliTest(unittest.TestCase):
    def test_example_clusters_render_every_child(self):
        for name in ("cluster-minimal.yaml", "cluster-production.yaml"):
            with self.subTest(example=name):
                out = render(os.path.join(EXAMPLES, name))
                self.assertEqual(out.returncode, 0, out.stderr)
                doc = json.loads(out.stdout)
                self.assertEqual((doc["apiVersion"], doc["kind"]), ("v1", "List"))
                kinds = {}
                for item in doc["items"]:
                    kinds.setdefault(item["kind"], set()).add(item["metadata"]["name"])
                    owner = item["metadata"]["ownerReferences"][0]
                    self.assertEqual((owner["kind"], owner["controller"]), ("PostgresCluster", True))
                    self.assertEqual(item["metadata"]["labels"]["app.kubernetes.io/managed-by"], "pgwarden")
                cluster = next(iter(kinds["StatefulSet"]))
                self.assertEqual(kinds["Service"], {cluster, f"{cluster}-ro", f"{cluster}-r", f"{cluster}-pods",
                                                    f"{cluster}-config"})
                self.assertIn(f"{cluster}-patroni", kinds["ConfigMap"])
                self.assertTrue({f"{cluster}-superuser", f"{cluster}-replication", f"{cluster}-app"} <= kinds["Secret"])
                self.assertEqual(kinds["PodDisruptionBudget"], {cluster})
                self.assertEqual(kinds["Role"], {f"{cluster}-instance"})

    def test_production_example_gets_its_settings(self):
        doc = json.loads(render(os.path.join(EXAMPLES, "cluster-production.yaml")).stdout)
        sts = next(i for i in doc["items"] if i["kind"] == "StatefulSet")
        self.assertEqual(sts["spec"]["replicas"], 3)
        annotations = sts["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(annotations["pgwarden.io/sidecars"], "pooler,metrics,backup")
        affinity = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        self.assertIn("requiredDuringSchedulingIgnoredDuringExecution", affinity)

    def test_yaml_output_is_read_by_kubectl(self):
        out = render(os.path.join(EXAMPLES, "cluster-production.yaml"), "yaml")
        self.assertEqual(out.returncode, 0, out.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "children.yaml")
            with open(path, "w") as f:
                f.write(out.stdout)
            kubeconfig = os.path.join(tmp, "kubeconfig")
            open(kubeconfig, "w").close()
            got = subprocess.run(["kubectl", "label", "--local", "-f", path, "checked=yes", "-o", "json"],
                                 capture_output=True, text=True, env=dict(os.environ, KUBECONFIG=kubeconfig), timeout=60)
            self.assertEqual(got.returncode, 0, got.stderr)
            self.assertGreaterEqual(got.stdout.count('"checked": "yes"'), 15)

    def test_invalid_cluster_exits_1_with_field_errors(self):
        bad = []
        for path in sorted(glob.glob(os.path.join(EXAMPLES, "invalid", "*.yaml"))):
            with open(path) as f:
                text = f.read()
            if "\nkind: PostgresCluster\n" in text:
                bad.append((path, [l[len("# expect: "):].strip() for l in text.splitlines() if l.startswith("# expect: ")]))
        self.assertGreater(len(bad), 10)
        for path, expect in bad:
            with self.subTest(example=os.path.basename(path)):
                out = render(path)
                self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
                self.assertEqual(out.stdout, "")
                for line in expect:
                    self.assertIn(line, out.stderr)

    def test_usage_and_io_errors_exit_2(self):
        self.assertEqual(render("/no/such/file.yaml").returncode, 2)
        self.assertEqual(render(os.path.join(EXAMPLES, "backup.yaml")).returncode, 2)  # no cluster in it
        out = subprocess.run([pgw.BIN, "render"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    unittest.main()
