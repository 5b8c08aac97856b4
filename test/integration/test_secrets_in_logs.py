"""Secrets never reach the logs (DESIGN.md §8: "No secrets, ever").

The passwords come from the real render path (`pgwarden render`, the code the
controller uses to create Secrets). render prints them on stdout by design;
its stderr must not carry them. Then every password is pushed through the
serve and admit paths in the places a careless log line would pick them up:
annotations, labels, pod env values, invalid field values that end up in a
denial message, malformed JSON whose parse error quotes the input, warnings.
The server runs at debug level (the most verbose) and its whole log, and the
stderr of admit for objects that are allowed, are grepped for every password
and for its base64 form.
"""
import base64
import json
import os
import subprocess
import tempfile
import unittest

import pgw

EXAMPLES = os.path.join(pgw.SOURCE_DIR, "examples")


def rendered_passwords(manifest):
    out = subprocess.run([pgw.BIN, "render", "-f", manifest, "-o", "json"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    secrets = [i for i in json.loads(out.stdout)["items"] if i["kind"] == "Secret"]
    passwords = []
    for s in secrets:
        data = dict(s.get("stringData") or {})
        data.update({k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()})
        if "password" in data:
            passwords.append(data["password"])
    return passwords, out.stderr.decode(errors="replace")


def needles(passwords):
    """Each password and its base64 encoding (a Secret's data field)."""
    out = []
    for p in passwords:
        out += [p, base64.b64encode(p.encode()).decode()]
    return out


class SecretsInLogsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.passwords, cls.render_stderr = [], ""
        for name in ("cluster-minimal.yaml", "cluster-production.yaml"):
            pw, err = rendered_passwords(os.path.join(EXAMPLES, name))
            cls.passwords += pw
            cls.render_stderr += err

    def assert_clean(self, text, where):
        self.assertTrue(text, f"nothing captured from {where}: the check would be vacuous")
        for n in needles(self.passwords):
            self.assertNotIn(n, text, f"a generated password appears in {where}")

    def test_render_generates_passwords(self):
        self.assertGreaterEqual(len(self.passwords), 10)
        self.assertEqual(len(set(self.passwords)), len(self.passwords), "passwords are not unique")
        for p in self.passwords:
            self.assertGreaterEqual(len(p), 16)

    def test_render_stderr_has_no_password(self):
        self.assert_clean(self.render_stderr, "render's stderr")

    def test_server_log_has_no_password(self):
        server = pgw.Server()  # debug level: the most verbose log
        try:
            for i, pw in enumerate(self.passwords):
                cluster = pgw.cluster_review(uid=f"c-{i}")
                obj = cluster["request"]["object"]
                obj["metadata"]["annotations"] = {"example.com/note": pw}
                obj["metadata"]["labels"] = {"example.com/x": pw[:63]}
                pgw.curl(server, "/mutate/postgresclusters", data=json.dumps(cluster).encode())
                obj["spec"]["instances"] = pw  # denied: the value is quoted in the response, not the log
                obj["spec"]["storage"]["size"] = pw
                code, body = pgw.curl(server, "/validate/postgresclusters", data=json.dumps(cluster).encode())
                self.assertEqual(code, 200)
                self.assertFalse(json.loads(body)["response"]["allowed"])
                pod = pgw.review(uid=f"p-{i}", obj={
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "demo-0", "namespace": "db", "labels": {"pgwarden.io/cluster": "demo"},
                                 "annotations": {"pgwarden.io/sidecars": "pooler," + pw}},
                    "spec": {"containers": [{"name": "postgres", "image": "postgres:18",
                                             "env": [{"name": "PGPASSWORD", "value": pw}]}]}})
                self.assertEqual(pgw.curl(server, "/mutate/pods", data=json.dumps(pod).encode())[0], 200)
                code, body = pgw.curl(server, "/validate/postgresclusters",
                                      data=b'{"apiVersion":"admission.k8s.io/v1","password":' + pw.encode())
                self.assertEqual(code, 400)
            server.stop()
            with open(server.log_path, encoding="utf-8", errors="replace") as f:
                log = f.read()
        finally:
            server.close()
        self.assertIn('"admission request"', log)  # the debug request log was on
        self.assert_clean(log, "the server log")

    def test_admit_stderr_has_no_password(self):
        with tempfile.TemporaryDirectory(prefix="pgw-secrets-") as d:
            docs = []
            for i, pw in enumerate(self.passwords):
                docs.append({"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
                             "metadata": {"name": f"c{i}", "namespace": "db", "annotations": {"example.com/pw": pw}},
                             "spec": {"postgresVersion": 18, "instances": 1, "storage": {"size": "1Gi"}}})
            path = os.path.join(d, "clusters.json")
            with open(path, "w") as f:
                f.write("\n---\n".join(json.dumps(doc) for doc in docs))
            out = subprocess.run([pgw.BIN, "admit", "-f", path, "-o", "json"], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        self.assertIn(self.passwords[0], out.stdout.decode())  # the object itself is the output, by design
        self.assert_clean(out.stderr.decode(errors="replace"), "admit's stderr")


if __name__ == "__main__":
    unittest.main()
