"""Certificate life cycle under load: leaf rotation, CA rotation with an overlap period, bad files, no failed request.

The certificate directory is written the way kubelet updates a Secret volume:
tls.crt and tls.key are symlinks through ..data, which is swapped atomically,
so the server never sees a half-written pair. loadgen keeps sending with
new connections every few requests (each one a full handshake verified
against its CA file, which it re-reads when it changes):

1. new leaf from the same CA, picked up on SIGHUP;
2. CA rotation: the client bundle gets old + new CA; the leaf signed by the
   new CA is picked up by polling; then the old CA leaves the bundle;
3. an expired certificate and a certificate with somebody else's key are
   rejected with a log line saying why, while traffic keeps flowing.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest

import loadmix
import pgw

REJECTED = "rejected new certificate; keeping the current one"
LOADED = "loaded new certificate"


def generate(out_dir):
    subprocess.run([pgw.BIN, "certs", "generate", "--service", "pgwarden-webhook", "--namespace", "pgwarden-system",
                    "--out", out_dir], check=True, capture_output=True, timeout=60)


def write_atomically(path, data):
    with open(path + ".new", "wb") as f:
        f.write(data)
    os.replace(path + ".new", path)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class AtomicDir:
    """A Secret-volume-like directory: NAME -> ..data/NAME, ..data -> a versioned directory, swapped by rename."""

    def __init__(self, path):
        self.path = path
        self.version = 0
        os.makedirs(path)

    def publish(self, files):
        self.version += 1
        version_dir = os.path.join(self.path, f"..v{self.version}")
        os.makedirs(version_dir)
        for name, data in files.items():
            with open(os.path.join(version_dir, name), "wb") as f:
                f.write(data)
        link = os.path.join(self.path, "..data_tmp")
        os.symlink(os.path.basename(version_dir), link)
        os.replace(link, os.path.join(self.path, "..data"))
        for name in files:
            target = os.path.join(self.path, name)
            if not os.path.islink(target):
                os.symlink(os.path.join("..data", name), target)


class RotationUnderLoadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pgw-rotation-")
        self.server = None
        self.load = None

    def tearDown(self):
        if self.load is not None and self.load.proc.poll() is None:
            self.load.stop()
        if self.server is not None:
            self.server.close()
        self.tmp.cleanup()

    def dir(self, name):
        return os.path.join(self.tmp.name, name)

    def log_count(self, msg):
        return sum(1 for line in self.server.log_lines() if line["msg"] == msg)

    def wait_log(self, msg, count):
        deadline_stats = self.load.stats()
        for _ in range(600):
            if self.log_count(msg) >= count:
                return
            self.load.advance("sent", 1)  # bounded by loadgen's own progress
        self.fail(f"no {count}th '{msg}' in the log; loadgen at {deadline_stats}: {self.server.logs()}")

    def peer_serial(self, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.server.port), timeout=10),
                             server_hostname="localhost") as s:
            return s.getpeercert()["serialNumber"]

    def leaf(self, source):
        return {"tls.crt": read(os.path.join(source, "tls.crt")), "tls.key": read(os.path.join(source, "tls.key"))}

    def test_rotations_and_bad_files_under_load_lose_no_request(self):
        old, new = self.dir("ca-old"), self.dir("ca-new")
        generate(old)
        generate(new)
        live = AtomicDir(self.dir("live"))
        live.publish(self.leaf(old))
        bundle = self.dir("bundle.crt")
        write_atomically(bundle, read(os.path.join(old, "ca.crt")))
        self.server = pgw.Server(cert_dir=live.path, threads=2,
                                 extra_args=["--controller", "off", "--log-level", "info"],
                                 env={"PGWARDEN_CERT_POLL_MS": "300"})
        self.load = loadmix.Load(self.tmp.name, [f"127.0.0.1:{self.server.port}"], bundle, connections=6, rate=250,
                                 reconnect_every=10)
        self.load.advance("ok", 200)
        first_serial = self.peer_serial(bundle)
        phases = {}

        # 1. New leaf, same CA, on SIGHUP.
        before = self.load.stats()
        same_ca = self.dir("same-ca")
        os.makedirs(same_ca)
        for f in ("ca.crt", "ca.key"):
            shutil.copyfile(os.path.join(old, f), os.path.join(same_ca, f))
        subprocess.run([os.path.join(loadmix.BUILD_DIR, "certs_leaf"), same_ca], check=True, capture_output=True,
                       timeout=60)
        live.publish(self.leaf(same_ca))
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_log(LOADED, 1)
        self.load.advance("connections", 30)  # handshakes with the new leaf
        self.assertNotEqual(self.peer_serial(bundle), first_serial)
        phases["leaf rotation"] = self.load.stats()["sent"] - before["sent"]

        # 2. CA rotation with an overlap: bundle old+new, leaf from the new CA (polled), then the new CA only.
        before = self.load.stats()
        loads = before["ca_loads"]
        write_atomically(bundle, read(os.path.join(old, "ca.crt")) + read(os.path.join(new, "ca.crt")))
        self.load.wait_for("ca_loads", loads + 1)
        self.load.advance("connections", 20)
        live.publish(self.leaf(new))
        self.wait_log(LOADED, 2)
        self.load.advance("connections", 30)
        with self.assertRaises(ssl.SSLError):
            self.peer_serial(os.path.join(old, "ca.crt"))  # now served from the new CA
        write_atomically(bundle, read(os.path.join(new, "ca.crt")))
        self.load.wait_for("ca_loads", loads + 2)
        self.load.advance("connections", 30)
        phases["CA rotation"] = self.load.stats()["sent"] - before["sent"]

        # 3. Bad files: rejected with a clear log line, the current certificate stays, traffic flows.
        before = self.load.stats()
        expired = self.dir("expired")
        subprocess.run([os.path.join(loadmix.BUILD_DIR, "certs_aged"), expired, "400"], check=True, timeout=60)
        other = self.dir("other")
        generate(other)
        cases = [("expired", self.leaf(expired), "has expired"),
                 ("mismatched key", {"tls.crt": read(os.path.join(new, "tls.crt")),
                                     "tls.key": read(os.path.join(other, "tls.key"))}, "does not match"),
                 ("garbage", {"tls.crt": b"-----BEGIN CERTIFICATE-----\nnot base64\n",
                              "tls.key": read(os.path.join(new, "tls.key"))}, "no PEM certificate")]
        for name, files, why in cases:
            with self.subTest(case=name):
                count = self.log_count(REJECTED)
                live.publish(files)
                self.server.proc.send_signal(signal.SIGHUP)
                self.wait_log(REJECTED, count + 1)
                rejected = [l for l in self.server.log_lines() if l["msg"] == REJECTED][-1]
                self.assertIn(why, rejected["error"])
                self.load.advance("connections", 20)
                self.peer_serial(os.path.join(new, "ca.crt"))  # still the good certificate
        live.publish(self.leaf(new))  # a good pair again: loaded (the same certificate as in use)
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_log(LOADED, 3)
        self.load.advance("connections", 20)
        phases["bad files"] = self.load.stats()["sent"] - before["sent"]

        report = self.load.stop()
        print(f"\nrotation under load: requests per phase {phases}; report {report}")
        self.assertEqual(report["failed"], 0, self.load.errors())
        self.assertEqual(report["sent"], report["ok"])
        self.assertGreaterEqual(report["ca_loads"], 2)
        self.assertEqual(self.log_count(LOADED), 3, self.server.logs())


if __name__ == "__main__":
    unittest.main()
