"""Replicas share one webhook CA through a Secret, so one caBundle trusts them all.

On the real test bed (scripts/testbed), with pgwarden installed by `kubectl apply
-k manifests/`: the two deployed replicas serve, on their pod addresses, leaves
that chain to the CA in Secret pgwarden-system/pgwarden-webhook-ca for the
Service's name; the caBundle of both webhook configurations is that CA. Replacing
the CA in the Secret rotates both replicas' serving certificates on their next
poll (every 10 s) and the leader puts the new CA into both caBundles.

The test bed is shared: the rotation makes admission fail for a few seconds
(a replica serving from the new CA while the caBundle still names the old one).
It is bounded, and if the rotation does not complete the old CA is put back so
the operator re-issues from it and admission works again.
"""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from standin import wait_for
from testbed import SOURCE, Testbed

NS = "pgwarden-system"
SECRET = "pgwarden-webhook-ca"
SERVER_NAME = "pgwarden-webhook.pgwarden-system.svc"
CONFIGS = (("mutatingwebhookconfiguration", "pgwarden-mutating"),
           ("validatingwebhookconfiguration", "pgwarden-validating"))
BIN = os.environ.get("PGWARDEN_BIN") or os.path.join(SOURCE, "build", "pgwarden")
ROTATION_BOUND = 60  # two polls of 10 s, the caBundle check, and slack for a loaded machine


def leaf(ip, ca_file):
    """The DER serving certificate of ip:9443, verified against ca_file for the Service's name."""
    ctx = ssl.create_default_context(cafile=ca_file)
    with ctx.wrap_socket(socket.create_connection((ip, 9443), timeout=5), server_hostname=SERVER_NAME) as s:
        return s.getpeercert(binary_form=True)


def verifies(ip, ca_file):
    try:
        return leaf(ip, ca_file) is not None
    except (ssl.SSLError, OSError):
        return False


class SharedCaOnTestbed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.install_pgwarden()
        cls.tmp = tempfile.mkdtemp(prefix="pgw-shared-ca-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def secret_data(self):
        return self.tb.get("secret", SECRET, NS)["data"]

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def ready_replicas(self):
        pods = [p for p in self.tb.operator_pods()
                if p["status"].get("podIP") and all(c.get("ready") for c in p["status"].get("containerStatuses", []))]
        return pods if len(pods) == 2 else None

    def ca_bundles(self):
        out = []
        for kind, name in CONFIGS:
            cfg = self.tb.get(kind, name)
            out += [base64.b64decode(w["clientConfig"].get("caBundle", "")) for w in cfg["webhooks"]]
        return out

    def all_on(self, ca_pem, ca_file):
        """Both ready replicas serve leaves of ca_file and every caBundle is ca_pem."""
        pods = self.ready_replicas()
        return bool(pods) and all(verifies(p["status"]["podIP"], ca_file) for p in pods) and \
            all(b == ca_pem for b in self.ca_bundles())

    def patch_secret(self, data):
        self.tb.kubectl("patch", "secret", SECRET, "-n", NS, "--type=merge", "-p", json.dumps({"data": data}))

    def test_two_replicas_serve_from_the_ca_in_the_secret(self):
        pods = wait_for(self.ready_replicas, 120, 1.0, what="two ready operator replicas")
        data = self.secret_data()
        self.assertEqual(set(data) >= {"ca.crt", "ca.key"}, True, sorted(data))
        ca_pem = base64.b64decode(data["ca.crt"])
        ca = self.write("shared-ca.crt", ca_pem)
        leaves = [leaf(p["status"]["podIP"], ca) for p in pods]
        # Two replicas, two leaves of their own, one CA; the caBundle is that CA, never a leaf.
        self.assertNotEqual(leaves[0], leaves[1])
        ca_der = ssl.PEM_cert_to_DER_cert(ca_pem.decode())
        self.assertNotIn(ca_der, leaves)
        self.assertEqual(self.ca_bundles(), [ca_pem] * len(self.ca_bundles()))
        self.assertEqual(len(self.ca_bundles()), 7)

        # A new CA in the Secret reaches both replicas and both caBundles without a restart.
        fresh = os.path.join(self.tmp, "fresh")
        subprocess.run([BIN, "certs", "generate", "--service", "pgwarden-webhook", "--namespace", NS, "--out", fresh],
                       check=True, capture_output=True, timeout=60)
        new = {}
        for key in ("ca.crt", "ca.key"):
            with open(os.path.join(fresh, key), "rb") as f:
                new[key] = f.read()
        new_ca = os.path.join(fresh, "ca.crt")
        uids = sorted(p["metadata"]["uid"] for p in pods)
        t0 = time.monotonic()
        self.patch_secret({k: base64.b64encode(v).decode() for k, v in new.items()})
        try:
            wait_for(lambda: self.all_on(new["ca.crt"], new_ca), ROTATION_BOUND, 0.5,
                     what="both replicas and both caBundles on the new CA")
        except AssertionError:
            # Put the old CA back (the operator re-issues from it) so the shared test bed admits again.
            self.patch_secret({k: data[k] for k in ("ca.crt", "ca.key")})
            wait_for(lambda: self.all_on(ca_pem, ca), ROTATION_BOUND, 0.5, what="the old CA restored")
            raise
        took = time.monotonic() - t0
        print(f"rotation complete in {took:.1f} s", flush=True)
        # The same replicas (no restart), and the old CA no longer verifies them.
        self.assertEqual(sorted(p["metadata"]["uid"] for p in self.ready_replicas()), uids)
        for p in self.ready_replicas():
            self.assertFalse(verifies(p["status"]["podIP"], ca))
        # Admission works again through the real apiserver (a server-side dry run: nothing stored).
        cluster = os.path.join(SOURCE, "examples", "cluster-minimal.yaml")
        r = self.tb.kubectl("apply", "--dry-run=server", "-n", "default", "-f", cluster, "-o", "json")
        self.assertEqual(json.loads(r.stdout)["spec"]["postgresVersion"], 18)


if __name__ == "__main__":
    unittest.main()
