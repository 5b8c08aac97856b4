"""The REST API and web UI listener of `pgwarden serve` with no Kubernetes API (local mode), through HTTPS.

What holds without a cluster: the built-in UI files (ETag, 304), the OpenAPI
document, 503 for every other /api/v1/ path, 404/405 as Status objects, the
security headers on every answer, no cookies and no CORS, the webhook's body
cap, and logs that never carry the Authorization header.
"""
import http.client
import json
import os
import subprocess
import unittest

import pgw

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class ApiLocal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api_port = pgw.free_port()
        env = {"KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": "", "PGWARDEN_KUBECONFIG": ""}
        cls.server = pgw.Server(extra_args=["--api-listen", f"127.0.0.1:{cls.api_port}", "--controller", "off"], env=env)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.api_port, context=self.server.ssl_context(), timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def assert_common_headers(self, headers, cache):
        for name, value in SECURITY_HEADERS.items():
            self.assertEqual(headers.get(name), value, name)
        self.assertEqual(headers.get("cache-control"), cache)
        self.assertNotIn("set-cookie", headers)
        self.assertFalse([h for h in headers if h.startswith("access-control-")], headers)

    def assert_status(self, body, code, reason):
        doc = json.loads(body)
        self.assertEqual((doc["kind"], doc["apiVersion"], doc["status"]), ("Status", "v1", "Failure"))
        self.assertEqual((doc["code"], doc["reason"]), (code, reason))
        return doc

    def test_root_redirects_to_ui(self):
        for path in ("/", "/ui"):
            status, headers, _ = self.request("GET", path)
            self.assertEqual(status, 302, path)
            self.assertEqual(headers["location"], "/ui/")
            self.assert_common_headers(headers, "no-cache")

    def test_ui_files_with_etag(self):
        status, headers, body = self.request("GET", "/ui/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        with open(os.path.join(pgw.SOURCE_DIR, "ui", "index.html"), "rb") as f:
            self.assertEqual(body, f.read())
        self.assert_common_headers(headers, "no-cache")
        etag = headers["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]+"$')
        status, headers, body = self.request("GET", "/ui/", headers={"If-None-Match": etag})
        self.assertEqual((status, body), (304, b""))
        self.assert_common_headers(headers, "no-cache")
        status, _, _ = self.request("GET", "/ui/", headers={"If-None-Match": '"other"'})
        self.assertEqual(status, 200)
        for name in os.listdir(os.path.join(pgw.SOURCE_DIR, "ui")):
            if name.endswith((".js", ".css", ".svg", ".html")):
                with self.subTest(file=name):
                    status, headers, body = self.request("GET", "/ui/" + name)
                    self.assertEqual(status, 200)
                    with open(os.path.join(pgw.SOURCE_DIR, "ui", name), "rb") as f:
                        self.assertEqual(body, f.read())

    def test_unknown_ui_file_is_a_404_status(self):
        for path in ("/ui/missing.js", "/ui/..%2Fapi%2Fopenapi.json", "/ui/a/b.js", "/nothing", "/api/v2/x"):
            with self.subTest(path=path):
                status, headers, body = self.request("GET", path)
                self.assertEqual(status, 404)
                self.assert_status(body, 404, "NotFound")

    def test_openapi_served_without_a_cluster(self):
        status, headers, body = self.request("GET", "/api/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assert_common_headers(headers, "no-store")
        doc = json.loads(body)
        self.assertEqual(doc["openapi"], "3.0.3")
        self.assertIn("/api/v1/namespaces/{namespace}/postgresclusters/{name}/detail", doc["paths"])

    def test_api_is_503_in_local_mode(self):
        for method, path in (("GET", "/api/v1/postgresclusters"), ("POST", "/api/v1/login"), ("GET", "/api/v1/whoami"),
                             ("GET", "/api/v1/namespaces/db/postgresclusters/main/detail"), ("DELETE", "/api/v1/login")):
            with self.subTest(method=method, path=path):
                status, headers, body = self.request(method, path, body=b"{}" if method == "POST" else None)
                self.assertEqual(status, 503)
                self.assert_common_headers(headers, "no-store")
                doc = self.assert_status(body, 503, "ServiceUnavailable")
                self.assertEqual(doc["message"], "no Kubernetes API configured")

    def test_wrong_method_is_405_with_allow(self):
        for method, path, allow in (("POST", "/", "GET"), ("DELETE", "/ui/", "GET"), ("PUT", "/ui/app.js", "GET"),
                                    ("POST", "/api/v1/openapi.json", "GET")):
            with self.subTest(method=method, path=path):
                status, headers, body = self.request(method, path)
                self.assertEqual(status, 405)
                self.assertEqual(headers["allow"], allow)
                self.assert_status(body, 405, "MethodNotAllowed")

    def test_body_over_the_webhook_cap_is_refused(self):
        # The same cap as the admission server's (test_server): one byte over 8 MiB is refused with 413.
        out = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", self.server.ca_file, "-o", "/dev/null",
                              "-w", "%{http_code}", "-H", "Content-Type: application/json", "--data-binary", "@-",
                              f"https://127.0.0.1:{self.api_port}/api/v1/login"],
                             input=b" " * (8 * 1024 * 1024 + 1), capture_output=True, timeout=30)
        self.assertEqual(out.stdout, b"413", out.stderr)

    def test_requests_logged_without_credentials(self):
        secret = "Bearer eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LWNsYWltcw.bm90LWEtc2lnbmF0dXJl"
        self.request("GET", "/api/v1/whoami", headers={"Authorization": secret})
        self.request("POST", "/api/v1/login", body=b'{"token":"pasted-token-never-logged"}')
        logs = self.server.logs()
        self.assertNotIn("c2VjcmV0LWNsYWltcw", logs)
        self.assertNotIn("pasted-token-never-logged", logs)
        lines = [l for l in self.server.log_lines() if l.get("msg") == "API request"]
        self.assertTrue(any(l["method"] == "GET" and l["path"] == "/api/v1/whoami" and l["code"] == 503 for l in lines), lines)
        self.assertTrue(all("durationMs" in l for l in lines))


if __name__ == "__main__":
    unittest.main()
