"""spec.roles[], spec.databases[] and the rotate-password annotation through the real API
server of the test bed: the CRD's schema keeps every field (nothing pruned) and its CEL
rules compile within the cost budget and hold; the webhook defaults and denies with its
field errors (docs/roles.md). Dry runs, except one stored cluster for the UPDATE rules,
deleted at the end with its namespace. About 10 seconds.
"""
import json
import os
import unittest

import yaml

from testbed import SOURCE, NamespaceTestCase

NS = "f-roles-api"


def example():
    with open(os.path.join(SOURCE, "examples", "cluster-roles.yaml")) as f:
        doc = yaml.safe_load(f)
    doc["metadata"]["namespace"] = NS
    doc["spec"]["postgresVersion"] = 15  # the test bed's database image
    return doc


class RolesApi(NamespaceTestCase):
    NS = NS

    def apply(self, doc, dry_run=True, check=False):
        args = ["apply", "-f", "-", "-o", "json"] + (["--dry-run=server"] if dry_run else [])
        return self.tb.kubectl(*args, stdin=json.dumps(doc), check=check)

    def test_example_defaulted_and_kept(self):
        p = self.apply(example(), check=True)
        spec = json.loads(p.stdout)["spec"]
        self.assertIs(spec["allowSuperuserRoles"], False)
        analyst, etl = spec["roles"]
        self.assertEqual((analyst["ensure"], analyst["login"], analyst["inherit"], analyst["superuser"]),
                         ("present", True, True, False))
        self.assertEqual(analyst["inRoles"], ["pg_read_all_data"])
        self.assertEqual(analyst["validUntil"], "2027-06-30T00:00:00Z")
        self.assertEqual(etl["passwordSecret"], {"name": "etl-credentials", "key": "password"})
        db = spec["databases"][0]
        self.assertEqual((db["owner"], db["encoding"], db["template"]), ("etl", "UTF8", "template1"))
        self.assertEqual(db["extensions"], [{"name": "pg_trgm", "version": "1.6", "ensure": "present"}])

    def test_denials(self):
        cases = [
            # the CRD's own rule answers first (schema validation runs before the validating webhook)
            ({"roles": [{"name": "dba", "superuser": True}]}, "needs spec.allowSuperuserRoles: true"),
            ({"roles": [{"name": "app"}]}, "app is the bootstrap owner; its password is in Secret roles-app"),
            ({"roles": [{"name": "pgwarden_pgbouncer"}]}, "pgwarden_pgbouncer is pgwarden's pooler role"),
            ({"databases": [{"name": "r", "extensions": [{"name": "pg_trgmm"}]}]}, "did you mean pg_trgm?"),
            ({"databases": [{"name": "r", "extensions": [{"name": "pg_trgm", "version": "2.0"}]}]},
             "pg_trgm in the PostgreSQL 15 image has versions 1.3, 1.4, 1.5, 1.6"),
            ({"databases": [{"name": "r", "owner": "nobody"}]}, "spec.databases[0].owner"),
        ]
        for extra, message in cases:
            with self.subTest(message=message):
                doc = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
                       "metadata": {"name": "roles", "namespace": NS},
                       "spec": {"postgresVersion": 15, "storage": {"size": "1Gi"}, **extra}}
                p = self.apply(doc)
                self.assertNotEqual(p.returncode, 0, p.stdout)
                self.assertIn(message, p.stderr)

    def test_superuser_allowed_with_a_warning(self):
        doc = example()
        doc["spec"]["allowSuperuserRoles"] = True
        doc["spec"]["roles"].append({"name": "dba", "superuser": True})
        p = self.apply(doc)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("spec.roles[2].superuser: dba is a superuser", p.stderr)

    def test_update_rules_on_a_stored_cluster(self):
        doc = example()
        doc["metadata"]["name"] = "stored"
        doc["spec"]["instances"] = 1
        self.apply(doc, dry_run=False, check=True)
        try:
            # encoding, locale and template of an existing database: the CRD's transition rule
            changed = json.loads(json.dumps(doc))
            changed["spec"]["databases"][0].update({"encoding": "LATIN1", "template": "template0"})
            p = self.apply(changed)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("encoding, locale and template cannot be changed once the database exists", p.stderr)
            # the same database declared absent, then anew, is allowed
            gone = json.loads(json.dumps(doc))
            gone["spec"]["databases"][0]["ensure"] = "absent"
            self.assertEqual(self.apply(gone).returncode, 0)
            # the rotate-password annotation: admission only, on UPDATE
            for value, ok, message in (("analyst", True, ""), ("analyst,app", True, ""),
                                       ("etl", False, "etl's password comes from Secret etl-credentials"),
                                       ("nobody", False, "nobody is not a role of this cluster")):
                with self.subTest(annotation=value):
                    p = self.tb.kubectl("annotate", "-n", NS, "pgc", "stored", f"pgwarden.io/rotate-password={value}",
                                        "--dry-run=server", check=False)
                    self.assertEqual(p.returncode == 0, ok, p.stderr)
                    self.assertIn(message, p.stderr)
        finally:
            self.tb.kubectl("delete", "pgc", "-n", NS, "stored", "--wait=false", check=False)


if __name__ == "__main__":
    unittest.main()
