"""TLS settings of the webhook listener (DESIGN.md §8): TLS 1.2+ only, forward
secret AEAD suites only, no renegotiation, no compression, and the optional
mTLS mode (--client-ca) that only lets in clients signed by that CA.

Two kinds of client are used. `openssl s_client` for what the local OpenSSL
can still offer (TLS 1.0/1.1 and weak suites at SECLEVEL=0, renegotiation).
A hand-built TLS 1.2 ClientHello for what OpenSSL 3 no longer offers at all
(RC4, 3DES, EXPORT, DEFLATE compression): the server must answer it with an
alert or a close, never a ServerHello. Every refusal has an accepting twin,
so a client that simply cannot connect does not pass for a refusal.
"""
import os
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import pgw

# The suites the server may pick for TLS 1.2 (webhook/tls.c); everything else must be refused.
ALLOWED_TLS12 = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
                 "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}

# IANA cipher suite numbers for suites OpenSSL 3 cannot offer any more.
WEAK_SUITES = {
    "RC4": [0x0005, 0x0004, 0xC007, 0xC011],                  # RSA/ECDHE with RC4_128
    "3DES": [0x000A, 0xC008, 0xC012, 0x0016],                 # 3DES_EDE_CBC_SHA
    "EXPORT": [0x0003, 0x0006, 0x0008, 0x0014, 0x0062, 0x0064],  # RSA_EXPORT_*
    "NULL": [0x0001, 0x0002, 0x003B, 0xC006, 0xC010],         # NULL encryption
    "anon": [0x0018, 0x001B, 0x0034, 0xC018, 0xC019],         # DH_anon / ECDH_anon
    "CBC-SHA1": [0xC009, 0xC00A, 0xC013, 0xC014, 0x002F, 0x0035],
}
GOOD_SUITE = 0xC02B  # ECDHE_ECDSA_WITH_AES_128_GCM_SHA256


def client_hello(suites, version=0x0303, compression=(0,)):
    """A minimal ClientHello record: P-256/X25519, uncompressed points, ECDSA/RSA signatures."""
    def ext(kind, data):
        return struct.pack("!HH", kind, len(data)) + data
    groups = struct.pack("!HHH", 4, 0x001D, 0x0017)
    sigalgs = struct.pack("!H", 8) + struct.pack("!HHHH", 0x0403, 0x0804, 0x0401, 0x0503)
    exts = ext(0x000A, groups) + ext(0x000B, b"\x01\x00") + ext(0x000D, sigalgs) + ext(0xFF01, b"\x00")
    body = (struct.pack("!H", version) + os.urandom(32) + b"\x00" +
            struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites) +
            bytes([len(compression)]) + bytes(compression) + struct.pack("!H", len(exts)) + exts)
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def server_answer(port, hello):
    """('hello', version, suite, compression) for a ServerHello, ('alert', level, description) or ('closed',)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(hello)
        head = b""
        try:
            while len(head) < 5:
                chunk = s.recv(5 - len(head))
                if not chunk:
                    return ("closed",)
                head += chunk
            kind, _, length = struct.unpack("!BHH", head)
            data = b""
            while len(data) < length:
                chunk = s.recv(length - len(data))
                if not chunk:
                    break
                data += chunk
        except ConnectionError:
            return ("closed",)
    if kind == 0x15:
        return ("alert", data[0], data[1])
    if kind == 0x16 and data[:1] == b"\x02":
        version = struct.unpack("!H", data[4:6])[0]
        sid_len = data[38]
        suite = struct.unpack("!H", data[39 + sid_len:41 + sid_len])[0]
        return ("hello", version, suite, data[41 + sid_len])
    return ("other", kind)


def s_client(port, *args, stdin=b""):
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                          *args], input=stdin, capture_output=True, timeout=30)
    return out.returncode, out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")


def handshake_ok(rc, text):
    return rc == 0 and "Cipher is (NONE)" not in text and ("Cipher is " in text or "Cipher    :" in text)


class TlsSettingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = pgw.Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_accepting_twin_works(self):
        self.assertEqual(server_answer(self.server.port, client_hello([GOOD_SUITE]))[:3], ("hello", 0x0303, GOOD_SUITE))
        rc, text = s_client(self.server.port, "-tls1_2")
        self.assertTrue(handshake_ok(rc, text), text)

    def test_protocols_below_tls_1_2_are_refused(self):
        for flag, version in (("-tls1", 0x0301), ("-tls1_1", 0x0302)):
            with self.subTest(protocol=flag):
                rc, text = s_client(self.server.port, flag, "-cipher", "DEFAULT:@SECLEVEL=0")
                self.assertFalse(handshake_ok(rc, text), text)
                # Raw: the strongest suite those versions know (ECDHE-ECDSA-AES128-SHA) is refused too.
                answer = server_answer(self.server.port, client_hello([0xC009, GOOD_SUITE], version=version))
                self.assertNotEqual(answer[0], "hello", answer)

    def test_weak_cipher_suites_are_refused(self):
        for name, suites in WEAK_SUITES.items():
            with self.subTest(suites=name):
                answer = server_answer(self.server.port, client_hello(suites))
                self.assertIn(answer[0], ("alert", "closed"), answer)
                # The same hello with one good suite added is accepted, and the good suite is the one chosen.
                answer = server_answer(self.server.port, client_hello(suites + [GOOD_SUITE]))
                self.assertEqual(answer[:3], ("hello", 0x0303, GOOD_SUITE))

    def test_only_forward_secret_aead_suites_are_accepted(self):
        listing = subprocess.run(["openssl", "ciphers", "-tls1_2", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                                 capture_output=True, text=True, check=True).stdout.strip().split(":")
        accepted = set()
        for cipher in listing:
            rc, text = s_client(self.server.port, "-tls1_2", "-cipher", cipher + ":@SECLEVEL=0")
            if handshake_ok(rc, text):
                accepted.add(cipher)
        self.assertGreater(len(listing), 30)
        self.assertTrue(accepted, "no TLS 1.2 suite accepted at all")
        self.assertLessEqual(accepted, ALLOWED_TLS12, f"weak suites accepted: {accepted - ALLOWED_TLS12}")
        print(f"\nTLS 1.2 suites tried: {len(listing)}, accepted: {sorted(accepted)}")

    def test_compression_is_never_negotiated(self):
        answer = server_answer(self.server.port, client_hello([GOOD_SUITE], compression=(1, 0)))
        self.assertEqual(answer[0], "hello", answer)
        self.assertEqual(answer[3], 0, "the server chose DEFLATE")
        answer = server_answer(self.server.port, client_hello([GOOD_SUITE], compression=(1,)))
        self.assertNotEqual(answer[0], "hello", answer)
        rc, text = s_client(self.server.port, "-tls1_2")
        self.assertIn("Compression: NONE", text)

    def interactive_s_client(self, *chunks):
        """s_client reading stdin line by line (so "R" is its renegotiate command), with pauses between chunks."""
        p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.port}", "-tls1_2", "-crlf"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for chunk in chunks:
                time.sleep(1)
                p.stdin.write(chunk)
                p.stdin.flush()
            time.sleep(1)
        except BrokenPipeError:
            pass  # s_client already gave up: the server closed
        out, _ = p.communicate(timeout=30)
        return out.decode(errors="replace")

    def test_renegotiation_is_refused(self):
        request = b"GET /nowhere HTTP/1.1\nHost: x\n\n"
        # Twin: without renegotiation the request on the same session is answered.
        self.assertIn("HTTP/1.1 ", self.interactive_s_client(request))
        text = self.interactive_s_client(b"R\n", request)
        self.assertIn("RENEGOTIATING", text)
        self.assertNotIn("HTTP/1.1 ", text, "the connection survived a client-initiated renegotiation")


class MutualTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pgw-mtls-")
        d = cls.tmp.name

        def run(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)

        for ca in ("trusted", "other"):
            run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-keyout", f"{d}/{ca}-ca.key", "-out", f"{d}/{ca}-ca.crt", "-subj", f"/CN={ca} client CA")
            run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                f"{d}/{ca}-client.key", "-out", f"{d}/{ca}-client.csr", "-subj", "/CN=kube-apiserver")
            with open(f"{d}/ext.cnf", "w") as f:
                f.write("extendedKeyUsage=clientAuth\n")
            run("x509", "-req", "-in", f"{d}/{ca}-client.csr", "-CA", f"{d}/{ca}-ca.crt", "-CAkey",
                f"{d}/{ca}-ca.key", "-CAcreateserial", "-days", "1", "-extfile", f"{d}/ext.cnf", "-out",
                f"{d}/{ca}-client.crt")
        cls.server = pgw.Server(extra_args=["--client-ca", f"{d}/trusted-ca.crt"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.cleanup()

    def post(self, client=None):
        extra = []
        if client is not None:
            extra = ["--cert", f"{self.tmp.name}/{client}-client.crt", "--key", f"{self.tmp.name}/{client}-client.key"]
        return pgw.curl(self.server, "/validate/postgresclusters", data=pgw.json.dumps(pgw.cluster_review()).encode(),
                        extra=extra)

    def test_client_signed_by_the_trusted_ca_is_accepted(self):
        code, body = self.post("trusted")
        self.assertEqual(code, 200, body)

    def test_client_without_certificate_is_rejected(self):
        code, body = self.post(None)
        self.assertEqual(code, 0, body)  # no HTTP answer at all: the handshake failed

    def test_client_signed_by_another_ca_is_rejected(self):
        code, body = self.post("other")
        self.assertEqual(code, 0, body)

    def test_server_keeps_serving_after_rejections(self):
        self.post(None)
        self.post("other")
        self.assertEqual(self.post("trusted")[0], 200)


if __name__ == "__main__":
    unittest.main()
