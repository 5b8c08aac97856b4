"""Graceful restart under load: two replicas behind one client, SIGTERM one at a time while requests flow.

kube-apiserver reaches the webhook through a Service; when a replica is
terminated its endpoint disappears and the client retries a request whose
connection closed on another one. loadgen models that: keep-alive
connections spread over both replicas, one retry on a fresh connection (to
the other replica) when a connection is refused, reset or closed without a
response. The server's part: on SIGTERM stop accepting, finish in-flight
requests, close keep-alive connections, exit 0 well within the grace period.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

import loadmix
import pgw

RESTARTS = 4


class RestartUnderLoadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="pgw-restart-")
        generated = os.path.join(self.tmp.name, "generated")
        subprocess.run([pgw.BIN, "certs", "generate", "--service", "pgwarden-webhook", "--namespace",
                        "pgwarden-system", "--out", generated], check=True, capture_output=True, timeout=60)
        self.ca_file = os.path.join(generated, "ca.crt")
        self.cert_dirs = []
        for name in ("a", "b"):
            d = os.path.join(self.tmp.name, name)
            os.makedirs(d)
            for f in ("ca.crt", "tls.crt", "tls.key"):  # no ca.key: certificates are managed outside the replicas
                shutil.copyfile(os.path.join(generated, f), os.path.join(d, f))
            self.cert_dirs.append(d)
        self.replicas = []
        self.load = None

    def tearDown(self):
        if self.load is not None and self.load.proc.poll() is None:
            self.load.stop()
        for r in self.replicas:
            r.close()
        self.tmp.cleanup()

    def start_replica(self, index, port=None):
        r = pgw.Server(cert_dir=self.cert_dirs[index], threads=2, port=port,
                       extra_args=["--controller", "off", "--log-level", "info"],
                       env={"PGWARDEN_SHUTDOWN_GRACE_MS": "20000", "PGWARDEN_REQUEST_TIMEOUT_MS": "2000"})
        return r

    def test_sigterm_one_replica_at_a_time_loses_no_request(self):
        self.replicas = [self.start_replica(0), self.start_replica(1)]
        ports = [r.port for r in self.replicas]
        self.load = loadmix.Load(self.tmp.name, [f"127.0.0.1:{p}" for p in ports], self.ca_file,
                                 connections=8, rate=300)
        self.load.advance("ok", 300)
        exits = []
        for i in range(RESTARTS):
            index = i % 2
            old = self.replicas[index]
            old.proc.send_signal(signal.SIGTERM)
            self.load.advance("ok", 100)  # the other replica carries the load meanwhile
            rc = old.stop(timeout=60)
            exits.append(rc)
            logs = old.logs()
            self.assertEqual(rc, 0, logs)
            self.assertIn('"stopped"', logs)
            self.assertNotIn("grace period over", logs)
            old.tmp.cleanup()
            self.replicas[index] = self.start_replica(index, port=ports[index])
            # The new replica takes requests before the next one goes.
            self.load.advance("connections", 20)
            self.load.advance("ok", 300)
            status, metrics = self.replicas[index].health("/metrics")
            served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                         if line.startswith("pgwarden_admission_requests_total{"))
            self.assertGreater(served, 0, "the restarted replica got no traffic")
        report = self.load.stop()
        print(f"\nrestart under load: {RESTARTS} SIGTERMs, report {report}")
        self.assertEqual(exits, [0] * RESTARTS)
        self.assertGreater(report["sent"], 1000)
        self.assertEqual(report["failed"], 0, self.load.errors())
        self.assertEqual(report["sent"], report["ok"])

    def test_sigterm_during_a_tls_handshake_exits_0(self):
        # A handshake accepted before the listener closed holds an armed h2o timeout; the server used to
        # dispose of its context with it armed and abort (exit by SIGABRT) when SIGTERM came mid-handshake.
        server = self.start_replica(0)
        self.replicas = [server]
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(bytes.fromhex("16030100c8010000c40303"))  # a record header and the start of a ClientHello
            self.assertEqual(server.health("/healthz")[0], 200)  # the loop has accepted it by now
            rc = server.stop(timeout=60)
        self.assertEqual(rc, 0, server.logs())
        self.assertIn('"stopped"', server.logs())


if __name__ == "__main__":
    unittest.main()
