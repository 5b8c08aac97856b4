"""The REST API's session JWTs are standard ES256 (RFC 7518 §3.4), checked on the
real test bed with a second implementation (Python `cryptography`):

- a session JWT the operator issues verifies with the public half of the key in
  the Secret pgwarden-api-signing, its signature being JOSE's 64-byte r||s (not
  DER), and fails with one bit of it changed (so the check can fail);
- a JWT signed here with that key, in the same form, is a session on every
  replica (whoami), and the same claims signed with a key of our own are not.

The unit tests (test_api_session) do the same both ways with plain OpenSSL;
this one proves it for the binary and key the replicas really run.
"""
import json
import time
import unittest

from pgwapi import b64url, b64url_decode, jwt_parts, k8s_token, person, sign_es256, signing_secret, wait_api
from testbed import Testbed

NS = "auth-interop"


def verify_es256(token, private_pem):
    """True when `token`'s JOSE ES256 signature is good for the public half of `private_pem`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    public = serialization.load_pem_private_key(private_pem.encode(), password=None).public_key()
    signing_input, _, sig = token.rpartition(".")
    raw = b64url_decode(sig)
    if len(raw) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


class ApiSessionInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.install_pgwarden()
        cls.tb.namespace(NS)
        cls.apis = wait_api(cls.tb)
        cls.user = person(cls.tb, NS, "ivy", "view")
        cls.k8s = k8s_token(cls.tb, NS, "ivy")

    @classmethod
    def tearDownClass(cls):
        cls.tb.delete_namespace(NS)

    def key_for(self, kid):
        keys = signing_secret(self.tb)
        self.assertIsNotNone(keys, "the Secret pgwarden-api-signing")
        for slot in ("current", "previous"):
            if keys.get(f"{slot}.kid") == kid:
                return keys[f"{slot}.pem"]
        self.fail(f"kid {kid} is neither current nor previous in the Secret")

    def test_issued_token_verifies_with_cryptography(self):
        jwt, _ = self.apis[0].login(self.k8s)
        header, claims, sig = jwt_parts(jwt)
        self.assertEqual(len(sig), 64, "JOSE r||s, not DER")
        pem = self.key_for(header["kid"])
        self.assertTrue(verify_es256(jwt, pem))
        # one bit of s flipped: the same check says no
        head, _, s = jwt.rpartition(".")
        raw = bytearray(b64url_decode(s))
        raw[40] ^= 1
        self.assertFalse(verify_es256(head + "." + b64url(bytes(raw)), pem))

    def test_token_signed_by_cryptography_is_a_session(self):
        jwt, _ = self.apis[0].login(self.k8s)
        header, claims, _ = jwt_parts(jwt)
        pem = self.key_for(header["kid"])
        now = int(time.time())
        mine = dict(claims, iat=now, exp=now + 300, jti="0123456789abcdef0123456789abcdef")
        token = sign_es256({"alg": "ES256", "typ": "JWT", "kid": header["kid"]}, mine, pem)
        for api in self.apis:
            with self.subTest(replica=api.ip):
                r = api.request("GET", "/api/v1/whoami", token=token)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["user"]["username"], self.user)
                self.assertEqual(r.json()["expiresAt"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 300)))
        # the same claims under the real kid, signed with a key of our own
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        forged = sign_es256({"alg": "ES256", "typ": "JWT", "kid": header["kid"]}, mine, other)
        r = self.apis[0].request("GET", "/api/v1/whoami", token=forged)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(json.loads(r.raw)["message"], "invalid session token")


if __name__ == "__main__":
    unittest.main()
