"""`pgwarden certs generate` checked by tools that are not ours.

The real `openssl` command verifies the chain and prints the extensions, and
Python's ssl module (OpenSSL underneath) completes a TLS handshake against the
generated pair with hostname checking, as kube-apiserver would with the
caBundle. Needs: PGWARDEN_BIN, the `openssl` command.
"""

import base64
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import unittest

BIN = os.environ.get("PGWARDEN_BIN", "pgwarden")
SVC = "pgwarden-webhook"
NS = "pgwarden-system"
DNS_NAMES = [SVC, f"{SVC}.{NS}", f"{SVC}.{NS}.svc", f"{SVC}.{NS}.svc.cluster.local", "localhost"]
IPS = ["127.0.0.1", "::1"]


def run(*args, check=False):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=check)


def openssl(*args):
    p = run("openssl", *args)
    return p.returncode, p.stdout + p.stderr


class CertsGenerateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pgw-certs-cli-")
        self.out = os.path.join(self.tmp, "certs")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.out, name)

    def generate(self, *extra):
        p = run(BIN, "certs", "generate", "--service", SVC, "--namespace", NS, "--out", self.out, *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def test_files_modes_and_ca_bundle(self):
        p = self.generate()
        self.assertEqual(sorted(os.listdir(self.out)), ["ca.crt", "ca.key", "tls.crt", "tls.key"])
        for name, mode in [("ca.crt", 0o644), ("ca.key", 0o600), ("tls.crt", 0o644), ("tls.key", 0o600)]:
            self.assertEqual(stat.S_IMODE(os.stat(self.path(name)).st_mode), mode, name)
        # stdout is exactly one line: the base64 of ca.crt, as a caBundle field wants it.
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        self.assertRegex(lines[0], r"^[A-Za-z0-9+/]+=*$")
        with open(self.path("ca.crt"), "rb") as f:
            self.assertEqual(base64.b64decode(lines[0], validate=True), f.read())
        # The caBundle is the CA, not the leaf.
        with open(self.path("tls.crt"), "rb") as f:
            self.assertNotEqual(base64.b64decode(lines[0]), f.read())

    def test_openssl_verifies_the_chain(self):
        self.generate()
        rc, out = openssl("verify", "-CAfile", self.path("ca.crt"), "-purpose", "sslserver", self.path("tls.crt"))
        self.assertEqual(rc, 0, out)
        self.assertIn(": OK", out)
        for name in DNS_NAMES:
            rc, out = openssl("verify", "-CAfile", self.path("ca.crt"), "-verify_hostname", name, self.path("tls.crt"))
            self.assertEqual(rc, 0, f"{name}: {out}")
        for ip in IPS:
            rc, out = openssl("verify", "-CAfile", self.path("ca.crt"), "-verify_ip", ip, self.path("tls.crt"))
            self.assertEqual(rc, 0, f"{ip}: {out}")
        # Rejecting rows: a name outside the service, and a CA from another run.
        rc, out = openssl("verify", "-CAfile", self.path("ca.crt"), "-verify_hostname", f"other.{NS}.svc",
                          self.path("tls.crt"))
        self.assertNotEqual(rc, 0, out)
        other = os.path.join(self.tmp, "other")
        run(BIN, "certs", "generate", "--service", SVC, "--namespace", NS, "--out", other, check=True)
        rc, out = openssl("verify", "-CAfile", os.path.join(other, "ca.crt"), self.path("tls.crt"))
        self.assertNotEqual(rc, 0, out)

    def test_openssl_text_shows_sans_and_extensions(self):
        self.generate()
        rc, leaf = openssl("x509", "-in", self.path("tls.crt"), "-noout", "-text")
        self.assertEqual(rc, 0, leaf)
        m = re.search(r"X509v3 Subject Alternative Name:\s*\n\s*(.+)\n", leaf)
        self.assertIsNotNone(m, leaf)
        sans = [s.strip() for s in m.group(1).split(",")]
        self.assertEqual(sans, [f"DNS:{n}" for n in DNS_NAMES] + ["IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"])
        self.assertRegex(leaf, r"X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE")
        self.assertRegex(leaf, r"X509v3 Key Usage: critical\s*\n\s*Digital Signature\n")
        self.assertRegex(leaf, r"X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication\n")
        self.assertIn("X509v3 Authority Key Identifier", leaf)
        self.assertIn("NIST CURVE: P-256", leaf)
        self.assertIn("Signature Algorithm: ecdsa-with-SHA256", leaf)

        rc, ca = openssl("x509", "-in", self.path("ca.crt"), "-noout", "-text")
        self.assertEqual(rc, 0, ca)
        self.assertRegex(ca, r"X509v3 Basic Constraints: critical\s*\n\s*CA:TRUE")
        self.assertRegex(ca, r"X509v3 Key Usage: critical\s*\n\s*Certificate Sign, CRL Sign\n")
        self.assertIn("X509v3 Subject Key Identifier", ca)
        self.assertIn("NIST CURVE: P-256", ca)
        self.assertNotIn("Subject Alternative Name", ca)

        # Each key is the private half of its certificate.
        for crt, key in [("tls.crt", "tls.key"), ("ca.crt", "ca.key")]:
            rc1, pub_cert = openssl("x509", "-in", self.path(crt), "-noout", "-pubkey")
            rc2, pub_key = openssl("pkey", "-in", self.path(key), "-pubout")
            self.assertEqual((rc1, rc2), (0, 0))
            self.assertEqual(pub_cert, pub_key, crt)

    def test_lifetimes(self):
        self.generate("--ca-days", "20", "--days", "10")
        day = 86400
        # -checkend N exits 0 when the certificate is still valid N seconds from now.
        self.assertEqual(openssl("x509", "-in", self.path("tls.crt"), "-noout", "-checkend", str(9 * day))[0], 0)
        self.assertEqual(openssl("x509", "-in", self.path("tls.crt"), "-noout", "-checkend", str(11 * day))[0], 1)
        self.assertEqual(openssl("x509", "-in", self.path("ca.crt"), "-noout", "-checkend", str(19 * day))[0], 0)
        self.assertEqual(openssl("x509", "-in", self.path("ca.crt"), "-noout", "-checkend", str(21 * day))[0], 1)

    def test_regenerate_replaces_everything(self):
        first = self.generate().stdout
        with open(self.path("tls.key")) as f:
            key1 = f.read()
        second = self.generate().stdout
        self.assertNotEqual(first, second)
        with open(self.path("tls.key")) as f:
            self.assertNotEqual(f.read(), key1)
        rc, out = openssl("verify", "-CAfile", self.path("ca.crt"), self.path("tls.crt"))
        self.assertEqual(rc, 0, out)
        self.assertEqual(sorted(os.listdir(self.out)), ["ca.crt", "ca.key", "tls.crt", "tls.key"])

    def test_tls_handshake_with_ca_bundle(self):
        """A TLS client trusting only the caBundle reaches a server using tls.crt/tls.key."""
        bundle = self.generate().stdout.strip()
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(self.path("tls.crt"), self.path("tls.key"))
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.load_verify_locations(cadata=base64.b64decode(bundle).decode())
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        def serve(n):
            for _ in range(n):
                conn, _ = listener.accept()
                try:
                    with server_ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"ok")
                except (ssl.SSLError, OSError):
                    pass

        names = [f"{SVC}.{NS}.svc", "localhost", "127.0.0.1", f"other.{NS}.svc"]
        t = threading.Thread(target=serve, args=(len(names),), daemon=True)
        t.start()
        try:
            for name in names:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                    if name.startswith("other."):
                        with self.assertRaises(ssl.SSLCertVerificationError):
                            client_ctx.wrap_socket(raw, server_hostname=name)
                        continue
                    with client_ctx.wrap_socket(raw, server_hostname=name) as tls:
                        self.assertEqual(tls.recv(2), b"ok", name)
        finally:
            t.join(timeout=30)
            listener.close()


class CertsUsageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pgw-certs-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_help(self):
        for args in (["certs", "-h"], ["certs", "--help"], ["certs", "generate", "-h"], ["certs", "generate", "--help"]):
            p = run(BIN, *args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage: pgwarden certs generate", p.stdout)
            self.assertIn("--ca-days", p.stdout)

    def test_usage_and_io_errors_exit_2(self):
        out = os.path.join(self.tmp, "out")
        blocker = os.path.join(self.tmp, "file")
        with open(blocker, "w") as f:
            f.write("x")
        base = ["certs", "generate", "--service", SVC, "--namespace", NS]
        rows = [
            ([], "usage"),
            (["certs"], "usage"),
            (["certs", "rotate"], "unknown subcommand"),
            (["certs", "generate"], "required"),
            (["certs", "generate", "--service", SVC, "--out", out], "required"),
            (["certs", "generate", "--namespace", NS, "--out", out], "required"),
            (base, "required"),
            (base + ["--out", ""], "required"),
            (base + ["--out", out, "extra"], "unexpected argument"),
            (base + ["--out", out, "--days", "abc"], "--days"),
            (base + ["--out", out, "--days", "0"], "--days"),
            (base + ["--out", out, "--days", "36501"], "--days"),
            (base + ["--out", out, "--ca-days", "-1"], "--ca-days"),
            (base + ["--out", out, "--bogus"], ""),
            (["certs", "generate", "--service", "Bad_Name", "--namespace", NS, "--out", out], "service"),
            (["certs", "generate", "--service", SVC, "--namespace", "a.b", "--out", out], "namespace"),
            (base + ["--out", os.path.join(blocker, "sub")], "file"),
        ]
        for args, needle in rows:
            p = run(BIN, *args)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stdout}{p.stderr}")
            self.assertEqual(p.stdout, "", args)
            self.assertIn(needle, p.stderr, args)
        # Nothing was written by the rejected invocations.
        self.assertFalse(os.path.exists(out))

    def test_accepts_lifetime_bounds(self):
        for days in ("1", "36500"):
            out = os.path.join(self.tmp, "d" + days)
            p = run(BIN, "certs", "generate", "--service", SVC, "--namespace", NS, "--out", out,
                    "--ca-days", "36500", "--days", days)
            self.assertEqual(p.returncode, 0, p.stderr)
            rc, text = openssl("verify", "-CAfile", os.path.join(out, "ca.crt"), os.path.join(out, "tls.crt"))
            self.assertEqual(rc, 0, text)


if __name__ == "__main__":
    unittest.main()
