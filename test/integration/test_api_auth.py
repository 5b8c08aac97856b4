"""Logging in to the REST API (docs/api.md) on the real test bed, as a person would.

A ServiceAccount token from `kubectl create token` is exchanged for a session
JWT (the operator asks the real kube-apiserver with a TokenReview); the JWT
works on both operator replicas (one key, shared through the Secret
pgwarden-api-signing). Every way in that should fail does, with 401, a
WWW-Authenticate header and a message that says what to do: a token the API
server does not know, no token, a malformed or forged JWT, a JWT signed with
another key under the real key id, `alg: none`, an expired session (signed
here with the real key read from the Secret: that also proves the replicas
share it), and a session ended by logout, on both replicas. Neither the
Kubernetes token nor the session JWT ever reaches the operator's logs.
"""
import json
import re
import sys
import time
import unittest

from pgwapi import (OPERATOR_NS, SIGNING_SECRET, b64url, jwt_parts, k8s_token, now_rfc3339, operator_log, person,
                    sign_es256, signing_secret, wait_api)
from standin import wait_for
from testbed import Testbed

NS = "e2eapi-auth"


class ApiAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.install_pgwarden()
        cls.tb.namespace(NS)
        cls.since = now_rfc3339()
        cls.apis = wait_api(cls.tb)
        cls.user = person(cls.tb, NS, "alice", "view")
        cls.k8s = k8s_token(cls.tb, NS, "alice")
        cls.secrets_seen = [cls.k8s]

    @classmethod
    def tearDownClass(cls):
        cls.tb.delete_namespace(NS)

    def login(self, api=None):
        jwt, answer = (api or self.apis[0]).login(self.k8s)
        self.secrets_seen.append(jwt)
        return jwt, answer

    def assert_401(self, r, message_re):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.header("WWW-Authenticate"), 'Bearer realm="pgwarden"')
        body = r.json()
        self.assertEqual((body["kind"], body["status"], body["code"], body["reason"]),
                         ("Status", "Failure", 401, "Unauthorized"))
        self.assertRegex(body["message"], message_re)

    # --- a good login -------------------------------------------------------------------

    def test_login_with_a_serviceaccount_token(self):
        jwt, answer = self.login()
        self.assertEqual(answer["user"]["username"], self.user)
        self.assertIn("system:authenticated", answer["user"]["groups"])
        self.assertIn(f"system:serviceaccounts:{NS}", answer["user"]["groups"])
        self.assertEqual(answer["namespace"], NS)
        self.assertRegex(answer["expiresAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        header, claims, sig = jwt_parts(jwt)
        self.assertEqual(header["alg"], "ES256")
        self.assertTrue(header["kid"])
        self.assertEqual(len(sig), 64)
        self.assertEqual((claims["iss"], claims["aud"], claims["sub"]), ("pgwarden", "pgwarden-api", self.user))
        self.assertEqual(claims["exp"] - claims["iat"], 900)
        self.assertAlmostEqual(claims["iat"], time.time(), delta=120)
        self.assertRegex(claims["jti"], r"^[0-9a-f]{32}$")
        self.assertEqual(claims["groups"], answer["user"]["groups"])
        self.assertEqual(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"])), answer["expiresAt"])
        # Nothing secret inside: the claims are readable by anyone who holds the token.
        self.assertNotIn(self.k8s, json.dumps(claims))
        # One session, both replicas: the key is shared through the Secret.
        for api in self.apis:
            with self.subTest(replica=api.ip):
                r = api.request("GET", "/api/v1/whoami", token=jwt)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["user"]["username"], self.user)
                self.assertEqual(r.json()["namespace"], NS)
                self.assertEqual(r.json()["expiresAt"], answer["expiresAt"])
                self.assertEqual(api.request("GET", f"/api/v1/namespaces/{NS}/postgresclusters", token=jwt).status, 200)
        # A second login is a second session.
        jwt2, _ = self.login(self.apis[-1])
        self.assertNotEqual(jwt_parts(jwt2)[1]["jti"], claims["jti"])

    def test_the_signing_secret(self):
        self.login()
        keys = signing_secret(self.tb)
        self.assertIsNotNone(keys, f"Secret {OPERATOR_NS}/{SIGNING_SECRET}")
        self.assertIn("BEGIN", keys["current.pem"])
        self.assertIn("PRIVATE KEY", keys["current.pem"])
        self.assertRegex(keys["current.created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsInstance(json.loads(keys.get("revoked", "{}")), dict)
        jwt, _ = self.login()
        self.assertIn(jwt_parts(jwt)[0]["kid"], (keys["current.kid"], keys.get("previous.kid")))

    # --- ways in that must fail ---------------------------------------------------------

    def test_bad_kubernetes_tokens(self):
        api = self.apis[0]
        forged = self.k8s[:-8] + ("AAAAAAAA" if not self.k8s.endswith("AAAAAAAA") else "BBBBBBBB")
        self.secrets_seen.append(forged)
        for name, body in (("unknown token", {"token": "not-a-kubernetes-token-" + "x" * 20}),
                           ("bad signature", {"token": forged})):
            with self.subTest(name):
                r = api.request("POST", "/api/v1/login", body)
                self.assert_401(r, r"not authenticated")
                self.assertNotIn("token", r.json())
        # An empty or missing token is the client's mistake, not an unknown person.
        for body in ({}, {"token": ""}, {"token": 5}):
            with self.subTest(body=body):
                r = api.request("POST", "/api/v1/login", body)
                self.assertIn(r.status, (400, 401), r)
                self.assertTrue(r.message())
        r = api.request("POST", "/api/v1/login", b"{not json", ctype="application/json")
        self.assertEqual(r.status, 400, r)

    def test_no_session(self):
        for api in self.apis:
            for path in ("/api/v1/whoami", f"/api/v1/namespaces/{NS}/postgresclusters", "/api/v1/postgresclusters"):
                with self.subTest(replica=api.ip, path=path):
                    self.assert_401(api.request("GET", path), r"^log in first: send Authorization: Bearer")
            r = api.request("GET", "/api/v1/whoami", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
            self.assertEqual(r.status, 401, r)

    def test_malformed_and_forged_sessions(self):
        jwt, _ = self.login()
        header, claims, sig = jwt_parts(jwt)
        h64, c64, s64 = jwt.split(".")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        admin = dict(claims, sub="kubernetes-admin", groups=["system:masters", "system:authenticated"])
        cases = {
            "garbage": "garbage",
            "two parts": f"{h64}.{c64}",
            "empty parts": "..",
            "bad base64": f"{h64}.{c64}.!!!",
            "flipped signature": f"{h64}.{c64}.{b64url(bytes([sig[0] ^ 1]) + sig[1:])}",
            "claims changed, old signature": f"{h64}.{b64url(json.dumps(admin).encode())}.{s64}",
            "alg none": f"{b64url(json.dumps(dict(header, alg='none')).encode())}.{b64url(json.dumps(admin).encode())}.",
            "HS256 with the kid": (f"{b64url(json.dumps(dict(header, alg='HS256')).encode())}."
                                   f"{b64url(json.dumps(admin).encode())}.{b64url(b'x' * 32)}"),
            "another key, the real kid": sign_es256(header, admin, other_key),
            "unknown kid": sign_es256(dict(header, kid="0000000000000000"), admin, other_key),
            "the Kubernetes token itself": self.k8s,
        }
        for name, token in cases.items():
            for api in self.apis:
                with self.subTest(name, replica=api.ip):
                    r = api.request("GET", "/api/v1/whoami", token=token)
                    self.assert_401(r, r"^invalid session token")
                    self.assertNotIn("kubernetes-admin", r.raw.decode())
        # And the good one still works.
        self.assertEqual(self.apis[0].request("GET", "/api/v1/whoami", token=jwt).status, 200)

    def test_wrong_issuer_or_audience_with_the_real_key(self):
        jwt, _ = self.login()
        header, claims, _ = jwt_parts(jwt)
        keys = signing_secret(self.tb)
        pem = keys["current.pem"] if header["kid"] == keys["current.kid"] else keys["previous.pem"]
        for name, changed in (("issuer", dict(claims, iss="someone-else")), ("audience", dict(claims, aud="kubernetes"))):
            with self.subTest(name):
                r = self.apis[0].request("GET", "/api/v1/whoami", token=sign_es256(header, changed, pem))
                self.assert_401(r, r"^invalid session token")

    def test_expired_session(self):
        """Signed here with the real key from the Secret: a replica accepts what the key signs (so it is
        the shared key), and refuses it once expired, saying when and what to do."""
        jwt, _ = self.login()
        header, claims, _ = jwt_parts(jwt)
        keys = signing_secret(self.tb)
        pem = keys["current.pem"] if header["kid"] == keys["current.kid"] else keys["previous.pem"]
        now = int(time.time())
        fresh = sign_es256(header, dict(claims, iat=now - 10, exp=now + 300, jti="ab" * 16), pem)
        expired_at = now - 60
        expired = sign_es256(header, dict(claims, iat=now - 960, exp=expired_at, jti="cd" * 16), pem)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expired_at))
        for api in self.apis:
            with self.subTest(replica=api.ip):
                r = api.request("GET", "/api/v1/whoami", token=fresh)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["user"]["username"], self.user)
                r = api.request("GET", "/api/v1/whoami", token=expired)
                self.assert_401(r, rf"^session expired at {re.escape(when)}; log in again")

    def test_logout_ends_the_session_on_both_replicas(self):
        jwt, _ = self.login(self.apis[0])
        other, _ = self.login(self.apis[0])
        for api in self.apis:
            self.assertEqual(api.request("GET", "/api/v1/whoami", token=jwt).status, 200)
        r = self.apis[0].request("POST", "/api/v1/logout", token=jwt)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        jti = jwt_parts(jwt)[1]["jti"]
        revoked = json.loads(signing_secret(self.tb).get("revoked", "{}"))
        self.assertIn(jti, revoked, "the logout is in the shared Secret")
        self.assertEqual(revoked[jti], jwt_parts(jwt)[1]["exp"])
        self.assert_401(self.apis[0].request("GET", "/api/v1/whoami", token=jwt), r"^session ended by logout")
        # The other replica re-reads the Secret every 10 s.
        start = time.monotonic()
        for api in self.apis[1:]:
            def refused():
                r = api.request("GET", "/api/v1/whoami", token=jwt)
                return r if r.status == 401 else None
            self.assert_401(wait_for(refused, 20, 0.5, what=f"the logout seen by {api.ip}"), r"^session ended by logout")
        print(f"logout reached the other replica in {time.monotonic() - start:.1f} s", file=sys.stderr)
        for api in self.apis:
            self.assertEqual(api.request(
                "GET", f"/api/v1/namespaces/{NS}/postgresclusters", token=jwt).status, 401)
            # Another session of the same person lives on.
            self.assertEqual(api.request("GET", "/api/v1/whoami", token=other).status, 200)
        # Logging out twice, or without a session, is refused as any request without one.
        self.assertEqual(self.apis[1].request("POST", "/api/v1/logout", token=jwt).status, 401)
        self.assertEqual(self.apis[1].request("POST", "/api/v1/logout").status, 401)

    # --- no credential in the logs --------------------------------------------------------

    def test_zz_no_token_in_the_operator_logs(self):
        """After every test above: neither the Kubernetes tokens nor a session JWT (nor its signature
        alone) appears in any operator replica's log. Runs last (zz)."""
        self.login()
        log = operator_log(self.tb, self.since)
        self.assertTrue(log.strip(), "no operator log captured: the check would be vacuous")
        for secret in self.secrets_seen:
            needles = [secret]
            if secret.count(".") == 2:
                needles.append(secret.rsplit(".", 1)[1])  # a JWT's signature
            for n in needles:
                self.assertNotIn(n, log, "a token appears in the operator's log")
        keys = signing_secret(self.tb)
        body = keys["current.pem"].splitlines()[1]
        self.assertNotIn(body, log, "the signing key appears in the operator's log")


if __name__ == "__main__":
    unittest.main()
