"""Replicas share one webhook CA through a Secret, so one caBundle trusts them all.

Two `pgwarden serve --controller on` processes with empty, separate certificate
directories start against the API-server stand-in: the first publishes its CA
as Secret pgwarden-webhook-ca, the second adopts it, and both serve leaves that
verify against the CA in the Secret. Replacing the CA in the Secret rotates
both replicas' serving certificates on their next poll.
"""
import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import pgw
from standin import StandIn, wait_for

SECRET_PATH = "/api/v1/namespaces/pgwarden-system/secrets/pgwarden-webhook-ca"


def handshake(port, ca_file):
    ctx = ssl.create_default_context(cafile=ca_file)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost"):
        return True


def verifies(port, ca_file):
    try:
        return handshake(port, ca_file)
    except (ssl.SSLError, OSError):
        return False


class SharedCaTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pgw-shared-ca-")
        self.standin = StandIn()
        self.replicas = []

    def tearDown(self):
        for proc, log in self.replicas:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
        self.standin.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.standin.tmp, ignore_errors=True)

    def start_replica(self, name):
        port, health = pgw.free_port(), pgw.free_port()
        log = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        proc = subprocess.Popen([pgw.BIN, "serve", "--controller", "on", "--kubeconfig", self.standin.kubeconfig,
                                 "--listen", f"127.0.0.1:{port}", "--health-listen", f"127.0.0.1:{health}",
                                 "--cert-dir", os.path.join(self.tmp, name)],
                                stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PGWARDEN_CERT_POLL_MS="300"))
        self.replicas.append((proc, log))

        def listening():
            self.assertIsNone(proc.poll(), f"replica {name} exited")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, 20, what=f"replica {name} listening")
        return port

    def secret_ca_file(self, name):
        code, secret, _ = self.standin.api("GET", SECRET_PATH)
        self.assertEqual(code, 200, secret)
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(secret["data"]["ca.crt"]))
        return path

    def test_two_replicas_serve_from_the_ca_in_the_secret(self):
        ports = [self.start_replica("a"), self.start_replica("b")]
        ca = self.secret_ca_file("shared-ca.crt")
        for port in ports:
            self.assertTrue(handshake(port, ca))
        with open(ca, "rb") as f:
            shared = f.read()
        for name in ("a", "b"):
            with open(os.path.join(self.tmp, name, "ca.crt"), "rb") as f:
                self.assertEqual(f.read(), shared)

        # A new CA in the Secret reaches both replicas without a restart.
        fresh = os.path.join(self.tmp, "fresh")
        subprocess.run([pgw.BIN, "certs", "generate", "--service", "pgwarden-webhook", "--namespace",
                        "pgwarden-system", "--out", fresh], check=True, capture_output=True, timeout=60)
        data = {}
        for key in ("ca.crt", "ca.key"):
            with open(os.path.join(fresh, key), "rb") as f:
                data[key] = base64.b64encode(f.read()).decode()
        code, out, _ = self.standin.api("PATCH", SECRET_PATH, {"data": data}, ctype="application/merge-patch+json")
        self.assertEqual(code, 200, out)
        new_ca = os.path.join(fresh, "ca.crt")
        for port in ports:
            wait_for(lambda: verifies(port, new_ca), 15, what="rotation to the new CA")
        self.assertFalse(verifies(ports[0], ca))


if __name__ == "__main__":
    unittest.main()
