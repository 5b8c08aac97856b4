"""A cluster's server certificate near its end is renewed by the controller, on the real test bed.

The cluster's `<cluster>-server-tls` Secret is replaced with a certificate that
expires in five days (issued here with Python's `cryptography`, for exactly the
names the controller's carries, so expiry is the only thing wrong), and
PostgreSQL is made to serve it (Patroni's REST reload, once the kubelet has
written the new files). The controller must notice, issue a new certificate
into the Secret with a CertificateRenewed Event, give PgBouncer's Secret the
new pair, and keep the old CA in ca.crt: a client that verifies the server
with the Secret's ca.crt (sslmode=verify-ca) connects both to the old
certificate PostgreSQL serves until it reloads and to the new one after a
reload (no restart). The new certificate is signed by the cluster's CA (Secret
<cluster>-ca), so a client that pinned the original ca.crt verifies it too. A writer runs throughout and no acknowledged row is lost.
"""
import base64
import datetime
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pgwriter import Writer
from standin import wait_for
from testbed import NamespaceTestCase, retry, wait_cluster

NS = "tb-tls"
CLUSTER = """apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {name: tls, namespace: tb-tls}
spec:
  postgresVersion: 15
  instances: 2
  storage: {size: 1Gi}
"""


def short_lived(sans):
    """A CA and a certificate it signs for `sans`, issued 820 days ago and expiring in 5 days (PEM)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test short-lived CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=900))
          .not_valid_after(now + datetime.timedelta(days=3000))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=820)).not_valid_after(now + datetime.timedelta(days=5))
            .add_extension(sans, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem(ca), pem(leaf), key_pem


def served_certificate(host, port=5432):
    """The certificate PostgreSQL presents (PEM): SSLRequest, then a TLS handshake that verifies nothing."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(struct.pack("!ii", 8, 80877103))
        if s.recv(1) != b"S":
            raise AssertionError(f"{host}: the server refused SSL")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(s) as t:
            return ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True))


def same_cert(a, b):
    return x509.load_pem_x509_certificate(a.encode()) == x509.load_pem_x509_certificate(b.encode())


class CertificateRenewal(NamespaceTestCase):
    NS = NS

    @classmethod
    def tearDownClass(cls):
        cls.tb.purge_namespace(cls.NS)  # and the volumes its claims left (retained by the test bed)

    def secret(self, name):
        s = self.tb.get("secret", name, NS)
        return {k: base64.b64decode(v).decode() for k, v in s["data"].items()}

    def pod_ips(self):
        pods = json.loads(self.tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/cluster=tls", "-o", "json").stdout)
        return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods["items"] if p["status"].get("podIP")}

    def reload(self, ip):
        """Patroni's REST reload: PostgreSQL gets SIGHUP and reads its ssl_* files again."""
        req = urllib.request.Request(f"http://{ip}:8008/reload", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def verify_ca(self, ip, ca_pem):
        """psql with sslmode=verify-ca against the CA bundle `ca_pem`; returns psql's exit status."""
        with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as f:
            f.write(ca_pem)
        try:
            env = dict(os.environ, PGPASSWORD=self.su, PGCONNECT_TIMEOUT="5")
            return subprocess.run(["psql", f"host={ip} dbname=postgres user=postgres sslmode=verify-ca sslrootcert={f.name}",
                                   "-XAtqc", "SELECT 1"], env=env, capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)

    def renewed_events(self):
        ev = json.loads(self.tb.kubectl("get", "events", "-n", NS, "--field-selector", "reason=CertificateRenewed",
                                        "-o", "json").stdout)
        return [e["message"] for e in ev["items"]]

    def test_near_expiry_certificate_is_renewed_and_reaches_postgres_without_restart(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(tb, NS, "tls", 2)
        self.su = tb.secret_value(NS, "tls-superuser", "password")
        ips = self.pod_ips()
        original = self.secret("tls-server-tls")
        sans = x509.load_pem_x509_certificate(original["tls.crt"].encode()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
        names = sans.get_values_for_type(x509.DNSName)
        self.assertEqual(original["ca.crt"], self.secret("tls-ca")["ca.crt"], "signed by the cluster's CA")
        # The controller's certificate covers every Service and every pod, and PostgreSQL serves it.
        for n in ("tls", "tls-ro.tb-tls.svc", "tls-r.tb-tls.svc.cluster.local", "*.tls-pods.tb-tls.svc", "localhost"):
            self.assertIn(n, names)
        for ip in ips.values():
            self.assertEqual(self.verify_ca(ip, original["ca.crt"]).returncode, 0)

        w = Writer(tb, NS, "tls").start()
        try:
            # A certificate with five days left replaces it, and PostgreSQL is made to serve it.
            ca, crt, key = short_lived(sans)
            data = {"ca.crt": ca, "tls.crt": crt, "tls.key": key}
            tb.kubectl("patch", "secret", "tls-server-tls", "-n", NS, "--type=merge", "-p",
                       json.dumps({"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}))

            def serving_short_lived():
                for ip in ips.values():
                    self.reload(ip)
                    time.sleep(1)
                    self.assertTrue(same_cert(served_certificate(ip), crt), f"{ip} still serves the old certificate")
            retry(serving_short_lived, 120, "PostgreSQL serving the short-lived certificate")

            # The controller renews it (a reconcile is nudged by touching the cluster: Secrets are not watched).
            def renewed():
                tb.kubectl("annotate", "pgc", "tls", "-n", NS, f"test.pgwarden.io/nudge={time.time()}", "--overwrite")
                msgs = [m for m in self.renewed_events() if "into Secret tls-server-tls" in m]
                return msgs or None
            msgs = wait_for(renewed, 240, 5.0, what="a CertificateRenewed event for tls-server-tls")
            self.assertIn("less than a third of the certificate's lifetime remains", msgs[0])
            now = self.secret("tls-server-tls")
            new = x509.load_pem_x509_certificate(now["tls.crt"].encode())
            self.assertFalse(same_cert(now["tls.crt"], crt))
            left = new.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
            self.assertGreater(left.days, 800)
            self.assertEqual(new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value, sans)
            # ca.crt: the new CA, then the old one (still valid), so both certificates verify.
            self.assertTrue(now["ca.crt"].endswith(ca), "the old CA follows the new one")
            self.assertEqual(now["ca.crt"].count("BEGIN CERTIFICATE"), 2)
            # PgBouncer's Secret got the same pair, its other keys untouched.
            retry(lambda: self.assertEqual(self.secret("tls-pgbouncer")["tls.crt"], now["tls.crt"]), 60,
                  "PgBouncer's Secret with the new pair")

            # Before any reload PostgreSQL serves the short-lived certificate (nothing here reloads it;
            # whichever it serves, verify-ca with the Secret's new ca.crt accepts it). After Patroni's
            # reload it serves the new one, accepted too.
            for ip in ips.values():
                p = self.verify_ca(ip, now["ca.crt"])
                self.assertEqual(p.returncode, 0, p.stderr)
                if not same_cert(served_certificate(ip), crt):
                    print(f"note: {ip} reloaded before the test asked it to", file=sys.stderr)

            def serving_new():
                for ip in ips.values():
                    self.reload(ip)
                    time.sleep(1)
                    self.assertTrue(same_cert(served_certificate(ip), now["tls.crt"]), f"{ip} serves the old one")
            retry(serving_new, 120, "PostgreSQL serving the renewed certificate")
            for ip in ips.values():
                p = self.verify_ca(ip, now["ca.crt"])
                self.assertEqual(p.returncode, 0, p.stderr)
                # Signed by the cluster's CA (Secret tls-ca, never mounted): a client that pinned the
                # original ca.crt still verifies the renewed certificate.
                p = self.verify_ca(ip, original["ca.crt"])
                self.assertEqual(p.returncode, 0, p.stderr)
                p = self.verify_ca(ip, ca)  # the short-lived CA alone no longer verifies the server
                self.assertNotEqual(p.returncode, 0)

            # Renewed once, then left alone: a later reconcile judges it good and writes nothing.
            tb.kubectl("annotate", "pgc", "tls", "-n", NS, f"test.pgwarden.io/nudge={time.time()}", "--overwrite")
            time.sleep(5)
            self.assertEqual(self.secret("tls-server-tls")["tls.crt"], now["tls.crt"])
            self.assertEqual(len([m for m in self.renewed_events() if "into Secret tls-server-tls" in m]), 1)
            w.wait_acks_after(time.time())
        finally:
            w.stop()
        # No restart was needed: every pod and container is the one from before.
        pods = json.loads(tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/cluster=tls", "-o", "json").stdout)
        self.assertEqual({p["metadata"]["name"]: p["status"]["podIP"] for p in pods["items"]}, ips)
        for p in pods["items"]:
            self.assertTrue(all(s["restartCount"] == 0 for s in p["status"]["containerStatuses"]), p["metadata"]["name"])
        self.assertGreater(w.verify(), 0)
        # A measured figure, not an assertion: the longest gap between acknowledged writes.
        print(f"writer: {len(w.acks())} rows acknowledged, longest gap {w.longest_outage():.3f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
