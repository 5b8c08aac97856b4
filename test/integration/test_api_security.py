"""The REST API's and web UI's HTTP surface on the real test bed (docs/api.md, "Security").

On each operator replica's API port (9444):
- every answer (UI files, the OpenAPI document, 200, 401, 404, 405, 413) carries
  the Content-Security-Policy (no 'unsafe-inline', no 'unsafe-eval'),
  X-Content-Type-Options: nosniff, X-Frame-Options: DENY and
  Referrer-Policy: no-referrer; API answers Cache-Control: no-store;
- no Set-Cookie anywhere, login included (the session is a bearer token: no CSRF);
- no CORS: a foreign Origin gets no Access-Control-Allow-* header, and a
  preflight is not granted;
- a body over the webhook's cap (8 MiB) is refused with 413 on the webhook port
  and on the API alike, and over-deep JSON with 400 on both;
- /api/v1/openapi.json is valid OpenAPI 3.0 listing every route, and each route
  answers its methods (401 without a session, never 404/405) and 405 with Allow
  for the others;
- / redirects to /ui/; TLS 1.2 or newer, HTTP/1.1 only.
"""
import socket
import ssl
import unittest

from pgwapi import API_PORT, SERVER_NAME, k8s_token, person, wait_api
from testbed import Testbed

NS = "e2eapi-security"
WEBHOOK_PORT = 9443
CAP = 8 << 20
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
ROUTES = {
    "/api/v1/openapi.json": {"get"},
    "/api/v1/login": {"post"},
    "/api/v1/logout": {"post"},
    "/api/v1/whoami": {"get"},
    "/api/v1/{plural}": {"get"},
    "/api/v1/namespaces/{namespace}/{plural}": {"get", "post"},
    "/api/v1/namespaces/{namespace}/{plural}/{name}": {"get", "put", "patch", "delete"},
    "/api/v1/namespaces/{namespace}/postgresclusters/{name}/detail": {"get"},
    "/api/v1/namespaces/{namespace}/postgresclusters/{name}/backup": {"post"},
    "/api/v1/namespaces/{namespace}/postgresclusters/{name}/restore": {"post"},
    "/api/v1/namespaces/{namespace}/postgresclusters/{name}/switchover": {"post"},
    "/api/v1/namespaces/{namespace}/postgresclusters/{name}/restart": {"post"},
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def raw_post(ip, port, ctx, path, body, headers=b""):
    """POST on a raw TLS socket, so an early answer (413 before the whole body is sent) is still read.
    Returns (status, head, payload)."""
    s = ctx.wrap_socket(socket.create_connection((ip, port), timeout=60), server_hostname=SERVER_NAME)
    try:
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
                  b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        try:
            for i in range(0, len(body), 1 << 16):
                s.sendall(body[i:i + (1 << 16)])
        except (OSError, ssl.SSLError):
            pass  # the server answered and closed early
        data = b""
        while True:
            try:
                chunk = s.recv(1 << 16)
            except (OSError, ssl.SSLError):
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, head.decode(errors="replace").lower(), payload


class ApiSecurity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        tb = cls.tb = Testbed()
        tb.install_pgwarden()
        tb.namespace(NS)
        cls.apis = wait_api(tb)
        person(tb, NS, "alice", "view")
        cls.k8s = k8s_token(tb, NS, "alice")
        cls.jwt, _ = cls.apis[0].login(cls.k8s)

    @classmethod
    def tearDownClass(cls):
        cls.tb.delete_namespace(NS)

    def answers(self, api):
        """(what, Response) of a spread of answers: UI, document, 200, 302, 401, 404, 405, 400."""
        out = [("ui index", api.request("GET", "/ui/")),
               ("ui script", api.request("GET", "/ui/app.js")),
               ("openapi", api.request("GET", "/api/v1/openapi.json")),
               ("redirect", api.request("GET", "/")),
               ("login 200", api.request("POST", "/api/v1/login", {"token": self.k8s})),
               ("login 401", api.request("POST", "/api/v1/login", {"token": "nope"})),
               ("whoami 200", api.request("GET", "/api/v1/whoami", token=self.jwt)),
               ("list 200", api.request("GET", f"/api/v1/namespaces/{NS}/postgresclusters", token=self.jwt)),
               ("list 403", api.request("GET", "/api/v1/postgresclusters", token=self.jwt)),
               ("no session 401", api.request("GET", "/api/v1/whoami")),
               ("unknown 404", api.request("GET", "/nowhere")),
               ("api unknown 404", api.request("GET", "/api/v1/nowhere", token=self.jwt)),
               ("method 405", api.request("DELETE", "/api/v1/login")),
               ("bad json 400", api.request("POST", "/api/v1/login", b"{", ctype="application/json"))]
        return out

    def test_headers_on_every_answer(self):
        for api in self.apis:
            for what, r in self.answers(api):
                with self.subTest(what, replica=api.ip):
                    self.assertNotEqual(r.status, 500, r)
                    csp = r.header("Content-Security-Policy")
                    self.assertEqual(csp, CSP)
                    self.assertNotIn("unsafe-inline", csp)
                    self.assertNotIn("unsafe-eval", csp)
                    self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
                    self.assertEqual(r.header("X-Frame-Options"), "DENY")
                    self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
                    names = [k.lower() for k, _ in r.all_headers]
                    self.assertNotIn("set-cookie", names)
                    self.assertFalse([n for n in names if n.startswith("access-control-")], names)
                    if what not in ("ui index", "ui script", "redirect", "unknown 404"):
                        self.assertEqual(r.header("Cache-Control"), "no-store", what)
        by = dict(self.answers(self.apis[0]))
        self.assertEqual(by["ui index"].status, 200)
        self.assertTrue(by["ui index"].header("Content-Type").startswith("text/html"))
        self.assertEqual(by["redirect"].status, 302)
        self.assertEqual(by["redirect"].header("Location"), "/ui/")
        self.assertEqual(by["method 405"].status, 405)
        self.assertIn("POST", by["method 405"].header("Allow"))
        self.assertEqual(by["login 200"].status, 200)
        # The UI page has no inline script or style for the policy to allow.
        html = by["ui index"].raw.decode()
        self.assertNotRegex(html, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertNotIn("<style", html)
        self.assertNotIn(" style=", html)
        self.assertNotIn("javascript:", html)

    def test_no_cors(self):
        foreign = {"Origin": "https://attacker.example.com"}
        for api in self.apis:
            with self.subTest(replica=api.ip):
                for r in (api.request("GET", "/api/v1/whoami", token=self.jwt, headers=foreign),
                          api.request("POST", "/api/v1/login", {"token": self.k8s}, headers=foreign),
                          api.request("OPTIONS", "/api/v1/whoami", headers=dict(
                              foreign, **{"Access-Control-Request-Method": "GET",
                                          "Access-Control-Request-Headers": "authorization"}))):
                    names = [k.lower() for k, _ in r.all_headers]
                    self.assertFalse([n for n in names if n.startswith("access-control-")], (r.status, names))
                pre = api.request("OPTIONS", "/api/v1/whoami", headers=foreign)
                self.assertIn(pre.status, (401, 405), pre)

    def test_body_cap_and_json_depth_like_the_webhook(self):
        over = b'{"token":"' + b"a" * CAP + b'"}'
        deep = b"[" * 100000 + b"]" * 100000
        for api in self.apis:
            ip = api.ip
            with self.subTest("over the cap", replica=ip):
                w = raw_post(ip, WEBHOOK_PORT, api.ctx, "/validate/postgresclusters", over)
                a = raw_post(ip, API_PORT, api.ctx, "/api/v1/login", over)
                self.assertEqual((w[0], a[0]), (413, 413), (w[:2], a[:2]))
                auth = f"Authorization: Bearer {self.jwt}\r\n".encode()
                a = raw_post(ip, API_PORT, api.ctx, f"/api/v1/namespaces/{NS}/postgresclusters", over, auth)
                self.assertEqual(a[0], 413, a[:2])
                self.assertNotIn("set-cookie", a[1])
            with self.subTest("at the cap", replica=ip):
                # Just under the cap: parsed (and refused for what it says, not for its size).
                under = b'{"token":"' + b"a" * (CAP - 100) + b'"}'
                a = raw_post(ip, API_PORT, api.ctx, "/api/v1/login", under)
                self.assertIn(a[0], (400, 401), a[:2])
            with self.subTest("over-deep JSON", replica=ip):
                w = raw_post(ip, WEBHOOK_PORT, api.ctx, "/validate/postgresclusters", deep)
                a = raw_post(ip, API_PORT, api.ctx, "/api/v1/login", deep)
                self.assertEqual((w[0], a[0]), (400, 400), (w[:2], a[:2]))
                auth = f"Authorization: Bearer {self.jwt}\r\n".encode()
                a = raw_post(ip, API_PORT, api.ctx, f"/api/v1/namespaces/{NS}/postgresclusters", deep, auth)
                self.assertEqual(a[0], 400, a[:2])
            # Both listeners still answer.
            self.assertEqual(api.request("GET", "/api/v1/whoami", token=self.jwt).status, 200)

    def test_openapi_document_lists_every_route(self):
        for api in self.apis:
            r = api.request("GET", "/api/v1/openapi.json")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("Content-Type").startswith("application/json"))
            doc = r.json()
            self.assertRegex(doc["openapi"], r"^3\.0\.\d+$")
            self.assertTrue(doc["info"]["title"])
            got = {p: {m for m in ops if m in HTTP_METHODS} for p, ops in doc["paths"].items()}
            self.assertEqual(got, ROUTES)
            for path, ops in doc["paths"].items():
                for m in HTTP_METHODS:
                    if m in ops:
                        self.assertIn("responses", ops[m], f"{m} {path}")
        # Each documented route answers its methods (no session: 401; the open ones otherwise), and
        # 405 with Allow for the rest.
        api = self.apis[0]
        for path, methods in ROUTES.items():
            concrete = (path.replace("{namespace}", NS).replace("{plural}", "postgresclusters")
                        .replace("{name}", "x"))
            for m in HTTP_METHODS:
                with self.subTest(path=path, method=m):
                    body = {} if m in ("post", "put", "patch") else None
                    ctype = "application/merge-patch+json" if m == "patch" else "application/json"
                    r = api.request(m.upper(), concrete, body, ctype=ctype)
                    if m in methods:
                        self.assertNotIn(r.status, (404, 405), r)
                        if path not in ("/api/v1/openapi.json", "/api/v1/login"):
                            self.assertEqual(r.status, 401, r)
                    else:
                        self.assertEqual(r.status, 405, r)
                        allow = {x.strip().lower() for x in r.header("Allow").split(",")}
                        self.assertTrue(methods <= allow, (allow, methods))
        for plural in ("postgresclusters", "postgresbackups", "postgresrestores"):
            self.assertEqual(api.request("GET", f"/api/v1/{plural}", token=self.jwt).status, 403)
        self.assertEqual(api.request("GET", "/api/v1/secrets", token=self.jwt).status, 404)
        self.assertEqual(api.request("GET", f"/api/v1/namespaces/{NS}/secrets", token=self.jwt).status, 404)
        self.assertEqual(api.request("GET", f"/api/v1/namespaces/{NS}/pods/x", token=self.jwt).status, 404)

    def test_tls_settings(self):
        api = self.apis[0]
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(api.ca)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            old.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with self.assertRaises((ssl.SSLError, OSError)):
            with old.wrap_socket(socket.create_connection((api.ip, API_PORT), timeout=10),
                                 server_hostname=SERVER_NAME):
                pass
        ctx = ssl.create_default_context(cafile=api.ca)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with ctx.wrap_socket(socket.create_connection((api.ip, API_PORT), timeout=10),
                             server_hostname=SERVER_NAME) as s:
            self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
            self.assertNotEqual(s.selected_alpn_protocol(), "h2")
        # The certificate is the webhook's: localhost is in it, for kubectl port-forward.
        with ctx.wrap_socket(socket.create_connection((api.ip, API_PORT), timeout=10),
                             server_hostname="localhost") as s:
            self.assertTrue(s.getpeercert())


if __name__ == "__main__":
    unittest.main()
