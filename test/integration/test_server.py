"""The HTTPS admission server, driven through its real interfaces (curl, TLS sockets, signals)."""
import base64
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import pgw


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = pgw.Server(env={"PGWARDEN_REQUEST_TIMEOUT_MS": "1500"})

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def post(self, path, body, headers=None):
        return pgw.curl(self.server, path, data=body if isinstance(body, bytes) else body.encode(), headers=headers)

    def assert_still_serving(self):
        code, body = self.post("/validate/postgresclusters", json.dumps(pgw.cluster_review(uid="after-bad-input")))
        self.assertEqual(code, 200, body)
        self.assertEqual(json.loads(body)["response"]["uid"], "after-bad-input")

    def test_valid_review_on_every_route_echoes_uid(self):
        routes = {
            "/mutate/pods": ("", "Pod", "pods"),
            "/mutate/postgresclusters": ("pgwarden.io", "PostgresCluster", "postgresclusters"),
            "/validate/postgresclusters": ("pgwarden.io", "PostgresCluster", "postgresclusters"),
            "/mutate/postgresbackups": ("pgwarden.io", "PostgresBackup", "postgresbackups"),
            "/validate/postgresbackups": ("pgwarden.io", "PostgresBackup", "postgresbackups"),
            "/mutate/postgresrestores": ("pgwarden.io", "PostgresRestore", "postgresrestores"),
            "/validate/postgresrestores": ("pgwarden.io", "PostgresRestore", "postgresrestores"),
        }
        for path, (group, kind, plural) in routes.items():
            with self.subTest(path=path):
                api = f"{group}/v1" if group else "v1"
                obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "demo", "namespace": "db"}, "spec": {}}
                uid = "uid-" + plural
                code, body = self.post(path, json.dumps(pgw.review(plural, uid, obj=obj, group=group, kind=kind)))
                self.assertEqual(code, 200, body)
                doc = json.loads(body)
                self.assertEqual(doc["apiVersion"], "admission.k8s.io/v1")
                self.assertEqual(doc["kind"], "AdmissionReview")
                self.assertEqual(doc["response"]["uid"], uid)
                self.assertIn("allowed", doc["response"])
                if path.startswith("/validate/"):
                    self.assertNotIn("patch", doc["response"])

    def test_bad_inputs_get_clear_errors_and_server_keeps_serving(self):
        valid = pgw.cluster_review()
        no_uid = json.loads(json.dumps(valid)); del no_uid["request"]["uid"]
        wrong_object = json.loads(json.dumps(valid)); wrong_object["request"]["object"]["kind"] = "ConfigMap"
        wrong_object["request"]["object"]["apiVersion"] = "v1"
        wrong_request_kind = pgw.review("pods", "uid-w")  # a Pod sent to the cluster validator
        no_object = json.loads(json.dumps(valid)); del no_object["request"]["object"]
        cases = [
            # (name, body, expected HTTP code, substring of the message, uid echoed)
            ("malformed JSON", b'{"apiVersion": "admission.k8s.io/v1", "kind": ', 400, "malformed JSON", None),
            ("empty body", b"", 400, "empty request body", None),
            ("non-object body", b"[1,2,3]", 400, "must be a JSON object", None),
            ("string body", b'"hello"', 400, "must be a JSON object", None),
            ("wrong apiVersion", json.dumps(dict(valid, apiVersion="admission.k8s.io/v1beta1")).encode(), 400,
             "admission.k8s.io/v1", None),
            ("wrong kind", json.dumps(dict(valid, kind="Pod")).encode(), 400, "AdmissionReview", None),
            ("missing request", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
             400, "no request", None),
            ("missing uid", json.dumps(no_uid).encode(), 400, "no uid", None),
            ("duplicate keys", b'{"apiVersion":"admission.k8s.io/v1","apiVersion":"x"}', 400, "duplicate", None),
            ("invalid UTF-8", b'{"apiVersion":"admission.k8s.io/v1","kind":"\xff\xfe"}', 400, "malformed JSON", None),
            ("object of the wrong kind", json.dumps(wrong_object).encode(), 200, "ConfigMap", "uid-c"),
            ("request.kind for another path", json.dumps(wrong_request_kind).encode(), 200, "serves PostgresCluster",
             "uid-w"),
            ("missing object", json.dumps(no_object).encode(), 200, "request.object", "uid-c"),
        ]
        for name, body, want_code, want_text, uid in cases:
            with self.subTest(case=name):
                code, text = self.post("/validate/postgresclusters", body)
                self.assertEqual(code, want_code, text)
                self.assertIn(want_text, text)
                doc = json.loads(text)
                if uid is None:
                    self.assertEqual(doc["kind"], "Status")
                    self.assertEqual(doc["code"], 400)
                    self.assertEqual(doc["reason"], "BadRequest")
                else:
                    self.assertEqual(doc["response"]["uid"], uid)
                    self.assertFalse(doc["response"]["allowed"])
                    self.assertEqual(doc["response"]["status"]["code"], 400)
                self.assert_still_serving()

    def test_http_level_errors(self):
        review = json.dumps(pgw.cluster_review()).encode()
        code, body = pgw.curl(self.server, "/validate/postgresclusters", method="GET")
        self.assertEqual(code, 405)
        self.assertEqual(json.loads(body)["reason"], "MethodNotAllowed")
        code, body = self.post("/no/such/path", review)
        self.assertEqual(code, 404)
        self.assertEqual(json.loads(body)["reason"], "NotFound")
        code, body = self.post("/validate/postgresclusters", review, headers=["Content-Type: text/plain"])
        self.assertEqual(code, 415)
        big = b'{"apiVersion":"admission.k8s.io/v1","pad":"' + b"x" * (8 * 1024 * 1024) + b'"}'
        code, body = self.post("/validate/postgresclusters", big)
        self.assertEqual(code, 413)
        self.assert_still_serving()

    def test_body_just_under_the_limit_is_accepted(self):
        review = pgw.cluster_review(uid="big-but-legal")
        review["request"]["object"]["metadata"]["annotations"] = {"pad": "x" * (8 * 1024 * 1024 - 4096)}
        code, body = self.post("/validate/postgresclusters", json.dumps(review))
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["response"]["uid"], "big-but-legal")

    def tls_socket(self):
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        return self.server.ssl_context().wrap_socket(raw, server_hostname="localhost")

    def test_half_sent_request_times_out_and_server_keeps_serving(self):
        body = json.dumps(pgw.cluster_review()).encode()
        s = self.tls_socket()
        s.sendall(b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2])
        started = time.monotonic()
        self.assert_still_serving()  # another client is not stalled meanwhile
        s.settimeout(10)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ssl.SSLError, ConnectionError):
            pass
        self.assertLess(time.monotonic() - started, 9, "server did not cut the half-sent request")
        self.assertNotIn(b"200 OK", data)
        s.close()
        self.assert_still_serving()

    def test_slow_headers_time_out(self):
        s = self.tls_socket()
        s.sendall(b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except (ssl.SSLError, ConnectionError):
            pass
        self.assertLess(time.monotonic() - started, 9)
        s.close()
        self.assert_still_serving()

    def test_keep_alive_reuses_one_connection(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=self.server.ssl_context(), timeout=10)
        conn.connect()
        first_socket = conn.sock
        for i in range(50):
            body = json.dumps(pgw.cluster_review(uid=f"ka-{i}"))
            conn.request("POST", "/validate/postgresclusters", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read())["response"]["uid"], f"ka-{i}")
            self.assertIs(conn.sock, first_socket, "connection was not kept alive")
        conn.close()

    def test_http2_is_never_negotiated_and_tls_below_1_2_is_refused(self):
        out = subprocess.run(["curl", "-sS", "--http2", "--cacert", self.server.ca_file, "-o", "/dev/null", "-w",
                              "%{http_version}", "-H", "Content-Type: application/json", "--data-binary",
                              json.dumps(pgw.cluster_review()), self.server.url + "/validate/postgresclusters"],
                             capture_output=True, timeout=30)
        self.assertEqual(out.stdout.decode(), "1.1")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.server.ca_file)
        ctx.set_alpn_protocols(["h2"])
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.server.port)), server_hostname="localhost") as s:
            self.assertIsNone(s.selected_alpn_protocol())
            self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.port}", "-tls1_1"],
                             input=b"", capture_output=True, timeout=30)
        self.assertNotEqual(out.returncode, 0, "TLS 1.1 handshake succeeded")
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.port}", "-tls1_2",
                              "-cipher", "AES128-SHA"], input=b"", capture_output=True, timeout=30)
        self.assertNotEqual(out.returncode, 0, "a non-forward-secret cipher was accepted")

    def test_health_readiness_and_metrics(self):
        self.assertEqual(self.server.health("/healthz"), (200, "ok\n"))
        self.assertEqual(self.server.health("/readyz"), (200, "ok\n"))
        self.assertEqual(self.server.health("/nope")[0], 404)
        before = self.metric_value('pgwarden_admission_requests_total{path="/validate/postgresclusters",code="200",allowed="true"}')
        for i in range(3):
            self.post("/validate/postgresclusters", json.dumps(pgw.cluster_review(uid=f"m-{i}")))
        self.post("/validate/postgresclusters", b"{")
        status, text = self.server.health("/metrics")
        self.assertEqual(status, 200)
        for name in ["pgwarden_admission_requests_total", "pgwarden_admission_duration_seconds_bucket",
                     "pgwarden_admission_inflight", "pgwarden_cert_expiry_timestamp_seconds", "pgwarden_build_info",
                     "pgwarden_reconcile_total", "pgwarden_workqueue_depth", "pgwarden_is_leader"]:
            self.assertIn(name, text)
        after = self.metric_value('pgwarden_admission_requests_total{path="/validate/postgresclusters",code="200",allowed="true"}')
        self.assertGreaterEqual(after - before, 3)
        self.assertGreaterEqual(self.metric_value('pgwarden_admission_requests_total{path="/validate/postgresclusters",code="400",allowed=""}'), 1)
        expiry = self.metric_value("pgwarden_cert_expiry_timestamp_seconds")
        self.assertGreater(expiry, time.time())

    def metric_value(self, series):
        text = self.server.health("/metrics")[1]
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0

    def test_review_cli_gives_the_same_answer_as_https(self):
        bodies = [json.dumps(pgw.cluster_review(uid="same")).encode(), b"{", b"",
                  json.dumps(pgw.review("pods", "pod-uid")).encode()]
        for body in bodies:
            for path in ("/validate/postgresclusters", "/mutate/pods"):
                with self.subTest(body=body[:40], path=path):
                    code, https_body = self.post(path, body)
                    rc, cli_body = pgw.run_review_cli(path, body)
                    self.assertEqual(cli_body.strip(), https_body.strip())
                    self.assertEqual(rc, 0 if code == 200 else 1)

    def test_logs_are_json_lines_without_object_contents(self):
        secret = "s3cr3t-value-never-logged"
        review = pgw.cluster_review(uid="log-check")
        review["request"]["object"]["spec"]["password"] = secret
        self.post("/validate/postgresclusters", json.dumps(review))
        time.sleep(0.1)
        text = self.server.logs()
        self.assertNotIn(secret, text)
        lines = self.server.log_lines()
        self.assertTrue(any(l.get("uid") == "log-check" and l["msg"] == "admission request" for l in lines))
        for line in text.splitlines():
            doc = json.loads(line)  # every line is one JSON object
            self.assertIn("ts", doc)
            self.assertIn("level", doc)


class ThreadsTest(unittest.TestCase):
    def test_one_event_loop_per_core(self):
        server = pgw.Server()
        try:
            tasks = os.listdir(f"/proc/{server.proc.pid}/task")
            self.assertGreaterEqual(len(tasks), 1 + (os.cpu_count() or 1))
            # Many parallel connections are all answered.
            results = []

            def worker(n):
                for i in range(10):
                    code, _ = pgw.curl(server, "/validate/postgresclusters",
                                       data=json.dumps(pgw.cluster_review(uid=f"t{n}-{i}")).encode())
                    results.append(code)

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [200] * 40)
        finally:
            server.close()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_the_request_in_flight_then_exits_zero(self):
        server = pgw.Server()
        try:
            body = json.dumps(pgw.cluster_review(uid="in-flight")).encode()
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s = server.ssl_context().wrap_socket(raw, server_hostname="localhost")
            s.sendall(b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:100])
            time.sleep(0.2)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            # Not accepting any more: new connections are refused.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
            self.assertIsNone(server.proc.poll(), "exited before the in-flight request finished")
            s.sendall(body[100:])
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertIn(b"HTTP/1.1 200", data)
            self.assertIn(b'"uid":"in-flight"', data)
            s.close()
            self.assertEqual(server.proc.wait(15), 0)
        finally:
            server.close()

    def test_sigterm_with_idle_keep_alive_connection_exits_promptly(self):
        server = pgw.Server()
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.ssl_context(), timeout=10)
            conn.request("POST", "/validate/postgresclusters", json.dumps(pgw.cluster_review()),
                         {"Content-Type": "application/json"})
            self.assertEqual(conn.getresponse().status, 200)
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            self.assertEqual(server.proc.wait(20), 0)
            self.assertLess(time.monotonic() - started, 15)
            conn.close()
        finally:
            server.close()


if __name__ == "__main__":
    unittest.main()
