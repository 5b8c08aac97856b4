"""Certificate life cycle on a live server: hot reload, polling, bad files, renewal."""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import pgw

BUILD_DIR = os.environ.get("PGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))


def generate(out_dir):
    """A fresh CA and serving certificate from the real CLI."""
    subprocess.run([pgw.BIN, "certs", "generate", "--service", "pgwarden-webhook", "--namespace", "pgwarden-system",
                    "--out", out_dir], check=True, capture_output=True, timeout=60)


def replace_atomically(src, dst):
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def handshake(port, ca_file):
    """Completes a TLS handshake verifying against ca_file; returns the peer certificate dict."""
    ctx = ssl.create_default_context(cafile=ca_file)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost") as s:
        return s.getpeercert()


def cert_time(value):
    return ssl.cert_time_to_seconds(value)


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pgw-certs-")
        self.live = os.path.join(self.tmp.name, "live")
        self.first = os.path.join(self.tmp.name, "first")
        self.second = os.path.join(self.tmp.name, "second")
        for d in (self.first, self.second):
            generate(d)
        os.makedirs(self.live)
        for f in ("tls.crt", "tls.key"):  # externally managed: no ca.key in the live directory
            shutil.copyfile(os.path.join(self.first, f), os.path.join(self.live, f))
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.close()
        self.tmp.cleanup()

    def start(self, poll_ms=60000):
        self.server = pgw.Server(cert_dir=self.live, env={"PGWARDEN_CERT_POLL_MS": str(poll_ms)})
        self.server_ca = os.path.join(self.first, "ca.crt")

    def install(self, source_dir):
        # Key first, then certificate; the server checks the pair and retries a mismatch on the next poll.
        replace_atomically(os.path.join(source_dir, "tls.key"), os.path.join(self.live, "tls.key"))
        replace_atomically(os.path.join(source_dir, "tls.crt"), os.path.join(self.live, "tls.crt"))

    def keep_alive_connection(self, ca_file):
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port,
                                           context=ssl.create_default_context(cafile=ca_file), timeout=10)
        self.assert_request(conn)
        return conn

    def assert_request(self, conn, uid="reload"):
        conn.request("POST", "/validate/postgresclusters", json.dumps(pgw.cluster_review(uid=uid)),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(json.loads(resp.read())["response"]["uid"], uid)

    def wait_for_ca(self, ca_file, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return handshake(self.server.port, ca_file)
            except ssl.SSLError:
                time.sleep(0.05)
        self.fail(f"server never presented a certificate signed by {ca_file}")

    def test_sighup_switches_new_handshakes_and_keeps_established_connections(self):
        self.start()
        old_ca, new_ca = os.path.join(self.first, "ca.crt"), os.path.join(self.second, "ca.crt")
        established = self.keep_alive_connection(old_ca)
        self.install(self.second)
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_for_ca(new_ca)
        with self.assertRaises(ssl.SSLError):
            handshake(self.server.port, old_ca)
        self.assert_request(established, "still-open")  # negotiated before the reload, still served
        established.close()
        self.assertTrue(any(l["msg"] == "loaded new certificate" for l in self.server.log_lines()))

    def test_files_are_polled_without_a_signal(self):
        self.start(poll_ms=200)
        self.install(self.second)
        self.wait_for_ca(os.path.join(self.second, "ca.crt"))

    def test_bad_files_are_rejected_and_the_old_certificate_stays(self):
        self.start()
        old_ca = os.path.join(self.first, "ca.crt")
        cases = {
            "garbage certificate": ("tls.crt", b"-----BEGIN CERTIFICATE-----\nnot base64\n"),
            "empty key": ("tls.key", b""),
        }
        for name, (fname, content) in cases.items():
            with self.subTest(case=name):
                path = os.path.join(self.live, fname)
                with open(path, "rb") as f:
                    original = f.read()
                with open(path + ".new", "wb") as f:
                    f.write(content)
                os.replace(path + ".new", path)
                self.server.proc.send_signal(signal.SIGHUP)
                time.sleep(0.5)
                handshake(self.server.port, old_ca)  # still the old certificate, still serving
                with open(path + ".new", "wb") as f:
                    f.write(original)
                os.replace(path + ".new", path)
        # A certificate with somebody else's key.
        replace_atomically(os.path.join(self.second, "tls.crt"), os.path.join(self.live, "tls.crt"))
        self.server.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        handshake(self.server.port, old_ca)
        errors = [l for l in self.server.log_lines() if l["msg"] == "rejected new certificate; keeping the current one"]
        self.assertGreaterEqual(len(errors), 3)
        self.assertTrue(any("does not match" in l["error"] for l in errors), errors)


class SelfManagedTest(unittest.TestCase):
    def test_generates_certificates_when_the_directory_is_empty(self):
        server = pgw.Server()
        try:
            for f in ("ca.crt", "ca.key", "tls.crt", "tls.key"):
                self.assertTrue(os.path.exists(os.path.join(server.cert_dir, f)), f)
            peer = handshake(server.port, os.path.join(server.cert_dir, "ca.crt"))
            sans = {v for _, v in peer["subjectAltName"]}
            self.assertTrue({"localhost", "127.0.0.1", "pgwarden-webhook.pgwarden-system.svc"} <= sans, sans)
        finally:
            server.close()

    def test_renews_a_serving_certificate_in_its_last_third(self):
        tmp = tempfile.TemporaryDirectory(prefix="pgw-aged-")
        aged = os.path.join(BUILD_DIR, "certs_aged")
        try:
            cert_dir = os.path.join(tmp.name, "certs")
            subprocess.run([aged, cert_dir, "300"], check=True, timeout=60)
            server = pgw.Server(cert_dir=cert_dir, env={"PGWARDEN_CERT_POLL_MS": "200"})
            try:
                ca = os.path.join(cert_dir, "ca.crt")
                peer = handshake(server.port, ca)
                self.assertGreater(cert_time(peer["notBefore"]), time.time() - 86400, "renewed at start-up")
                # Age it again while running: the poller renews and reloads.
                subprocess.run([aged, cert_dir, "300"], check=True, timeout=60)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        peer = handshake(server.port, ca)
                        if cert_time(peer["notBefore"]) > time.time() - 86400:
                            break
                    except ssl.SSLError:
                        pass
                    time.sleep(0.1)
                self.assertGreater(cert_time(peer["notBefore"]), time.time() - 86400)
                self.assertTrue(any(l["msg"] == "renewed certificates" for l in server.log_lines()))
            finally:
                server.close()
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
