"""The CRDs under manifests/crds: real kubectl reads them as CustomResourceDefinitions,
they carry the names, status subresource, printer columns and CEL immutability rules
of DESIGN.md §3, and their structural schemas keep every field the examples use
(nothing a user writes in an example would be pruned by the API server)."""
import glob
import json
import os
import subprocess
import unittest

import yaml

BIN = os.environ.get("PGWARDEN_BIN", "build/pgwarden")
SRC = os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CRDS = os.path.join(SRC, "manifests", "crds")

EXPECTED = {
    "PostgresCluster": ("pgc", ["Phase", "Instances", "Ready", "Updated", "Primary", "Version", "Age"]),
    "PostgresBackup": ("pgbackup", ["Phase", "Type", "Cluster", "Age"]),
    "PostgresRestore": ("pgrestore", ["Phase", "Target", "Age"]),
}


def kubectl_read(path):
    # No API server here: `label --local` parses the file with kubectl's own decoder.
    r = subprocess.run(["kubectl", "label", "--local", "-f", path, "checked=yes", "-o", "json"],
                       capture_output=True, text=True, env={**os.environ, "KUBECONFIG": "/dev/null"}, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def unknown_fields(value, schema, path):
    """Paths in `value` that the structural schema would prune."""
    out = []
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-preserve-unknown-fields") or (props is None and extra is None):
            return out
        for k, v in value.items():
            if props and k in props:
                out += unknown_fields(v, props[k], f"{path}.{k}")
            elif isinstance(extra, dict):
                out += unknown_fields(v, extra, f"{path}[{k}]")
            else:
                out.append(f"{path}.{k}")
    elif isinstance(value, list) and schema.get("type") == "array":
        for i, v in enumerate(value):
            out += unknown_fields(v, schema["items"], f"{path}[{i}]")
    return out


class Crds(unittest.TestCase):
    def load_all(self):
        crds = {}
        for f in sorted(glob.glob(os.path.join(CRDS, "*.yaml"))):
            doc = kubectl_read(f)
            self.assertEqual(doc["apiVersion"], "apiextensions.k8s.io/v1")
            self.assertEqual(doc["kind"], "CustomResourceDefinition")
            crds[doc["spec"]["names"]["kind"]] = doc
        return crds

    def test_names_columns_subresources(self):
        crds = self.load_all()
        self.assertEqual(set(crds), set(EXPECTED))
        for kind, (short, columns) in EXPECTED.items():
            spec = crds[kind]["spec"]
            self.assertEqual(spec["group"], "pgwarden.io")
            self.assertEqual(spec["scope"], "Namespaced")
            self.assertEqual(spec["names"]["shortNames"], [short])
            self.assertEqual(spec["names"]["categories"], ["pgwarden"])
            v1 = spec["versions"][0]
            self.assertEqual(v1["name"], "v1")
            self.assertEqual(v1["subresources"], {"status": {}})
            self.assertEqual([c["name"] for c in v1["additionalPrinterColumns"]], columns)

    def test_cel_immutability_rules(self):
        crds = self.load_all()

        def schema(kind):
            return crds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

        rules = lambda s: [r["rule"] for r in s.get("x-kubernetes-validations", [])]
        self.assertIn("self == oldSelf", rules(schema("PostgresBackup")))
        self.assertIn("self == oldSelf", rules(schema("PostgresRestore")))
        cluster = schema("PostgresCluster")["properties"]
        self.assertIn("self == oldSelf", rules(cluster["bootstrap"]))
        self.assertTrue(any("storageClass" in r for r in rules(cluster["storage"])))

    def test_examples_survive_pruning(self):
        crds = self.load_all()
        files = glob.glob(os.path.join(SRC, "examples", "*.yaml"))
        self.assertTrue(files)
        for f in files:
            with open(f) as fh:
                for doc in yaml.safe_load_all(fh):
                    # What the API server stores is the defaulted object: check that too.
                    r = subprocess.run([BIN, "admit", "-f", f, "-o", "json"], capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    for obj in (doc, json.loads(r.stdout)):
                        schema = crds[obj["kind"]]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
                        with self.subTest(example=os.path.basename(f)):
                            self.assertEqual(unknown_fields(obj.get("spec", {}), schema["properties"]["spec"], "spec"), [])


if __name__ == "__main__":
    unittest.main()
