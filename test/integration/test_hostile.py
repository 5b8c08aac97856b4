"""Hostile network input against the live server (loopback only).

Every case runs while a well-behaved client (the prober) keeps sending valid
AdmissionReviews on fresh TLS connections. Throughout:
  - every probe is answered (200, uid echoed) within PROBE_TIMEOUT seconds: a
    client timeout, two orders of magnitude above the usual answer time, so
    a stalled server fails the test and a slow machine does not;
  - the server's RSS (VmRSS of /proc/<pid>/status) stays under RSS_LIMIT_KB;
  - the process stays alive, and exits 0 on SIGTERM at the end.
Counts and durations are bounded; the figures go to docs/reliability.md
(printed at the end of the run).
"""
import http.client
import json
import os
import random
import resource
import select
import signal
import socket
import ssl
import threading
import time
import unittest

import pgw

REQUEST_TIMEOUT_MS = 2000   # the server's request and handshake timeout in this test
PROBE_TIMEOUT = 5.0         # seconds a well-behaved request may take, worst case
RSS_LIMIT_KB = 1024 * 1024  # 1 GiB: sanitizer builds keep freed memory in quarantine
IDLE_CONNECTIONS = 1200
CUT_BOUND = REQUEST_TIMEOUT_MS / 1000 + 4  # a stalled connection must be closed by then


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Prober(threading.Thread):
    """Sends valid reviews back to back on fresh connections and samples RSS."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.ctx = server.ssl_context()
        self.stop_event = threading.Event()
        self.ok = 0
        self.failures = []
        self.max_latency = 0.0
        self.rss = []

    def probe(self, n):
        uid = f"probe-{n}"
        body = json.dumps(pgw.cluster_review(uid=uid))
        started = time.monotonic()
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=self.ctx, timeout=PROBE_TIMEOUT)
        try:
            conn.request("POST", "/validate/postgresclusters", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or json.loads(data)["response"]["uid"] != uid:
                raise AssertionError(f"status {resp.status}: {data[:200]!r}")
        finally:
            conn.close()
        return time.monotonic() - started

    def run(self):
        n = 0
        while not self.stop_event.is_set():
            n += 1
            try:
                self.max_latency = max(self.max_latency, self.probe(n))
                self.ok += 1
            except Exception as e:  # recorded, asserted by the test
                self.failures.append(repr(e))
            self.rss.append(rss_kb(self.server.proc.pid))
            self.stop_event.wait(0.05)

    def finish(self):
        self.stop_event.set()
        self.join(PROBE_TIMEOUT * 2)


def tls_connect(server, ctx):
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def closed_by_peer(sock):
    """True when the peer closed (EOF, reset or TLS alert); never blocks."""
    try:
        poller = select.poll()  # select() cannot watch descriptors above 1023
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        sock.setblocking(False)
        try:
            return sock.recv(65536) in (b"", None) or True  # any answer to a stalled request ends it too
        finally:
            sock.setblocking(True)
    except (ssl.SSLWantReadError, BlockingIOError):
        return False
    except (OSError, ssl.SSLError):
        return True


def read_all(sock, limit=1 << 20):
    """Reads until EOF or `limit` bytes (linear: a 14 MiB answer must not cost the prober its CPU share)."""
    data = bytearray()
    try:
        while len(data) < limit:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except (OSError, ssl.SSLError):
        pass
    return bytes(data)


class HostileTest(unittest.TestCase):
    report = {}

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the server inherits it
        cls.server = pgw.Server(env={"PGWARDEN_REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS)}, threads=2,
                                extra_args=["--log-level", "info"])
        cls.ctx = cls.server.ssl_context()
        cls.rss_start = rss_kb(cls.server.proc.pid)
        cls.rss_max = cls.rss_start

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.report["exit code on SIGTERM"] = code
        cls.report["RSS at start (KiB)"] = cls.rss_start
        cls.report["RSS max (KiB)"] = cls.rss_max
        print("\nhostile-input figures: " + json.dumps(cls.report, indent=1))
        cls.server.tmp.cleanup()
        assert code == 0, f"server exited {code} on SIGTERM"

    def setUp(self):
        self.prober = Prober(self.server)
        self.prober.start()

    def tearDown(self):
        self.prober.finish()
        self.assertEqual(self.prober.failures, [], "the well-behaved client failed")
        self.assertGreater(self.prober.ok, 0)
        self.assertIsNone(self.server.proc.poll(), "server died:\n" + self.server.logs()[-3000:])
        rss = max(self.prober.rss + [rss_kb(self.server.proc.pid)])
        type(self).rss_max = max(self.rss_max, rss)
        self.assertLess(rss, RSS_LIMIT_KB)
        self.report[self.id().rsplit(".", 1)[1]] = {"probes": self.prober.ok,
                                                    "max probe latency (s)": round(self.prober.max_latency, 3),
                                                    "max RSS (KiB)": rss}

    def wait_all_cut(self, socks, bound):
        """Waits until the server has closed every socket; returns how long that took."""
        started = time.monotonic()
        alive = list(socks)
        while alive and time.monotonic() - started < bound:
            alive = [s for s in alive if not closed_by_peer(s)]
            time.sleep(0.1)
        for s in socks:
            s.close()
        self.assertEqual(len(alive), 0, f"{len(alive)} of {len(socks)} stalled connections still open")
        return time.monotonic() - started

    def test_slowloris_headers_trickled_byte_by_byte(self):
        request = (b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 20) for i in range(40)))
        socks = [tls_connect(self.server, self.ctx) for _ in range(200)]
        alive = {s: 0 for s in socks}
        started = time.monotonic()
        cut = []
        # One byte per connection every 100 ms: at most ~20 s for the whole header, far past the timeout.
        while alive and time.monotonic() - started < CUT_BOUND:
            for s in list(alive):
                try:
                    if closed_by_peer(s):
                        raise ConnectionError
                    s.sendall(request[alive[s]:alive[s] + 1])
                    alive[s] += 1
                except (OSError, ssl.SSLError):
                    cut.append(time.monotonic() - started)
                    del alive[s]
            time.sleep(0.1)
        for s in socks:
            s.close()
        self.assertEqual(len(alive), 0, f"{len(alive)} trickling connections were never cut")
        self.report["slowloris"] = {"connections": len(socks), "cut after at most (s)": round(max(cut), 1),
                                    "header bytes": len(request)}

    def test_half_open_tls_handshakes(self):
        # A TLS record header announcing a 512-byte ClientHello, then only part of it.
        partial_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(random.Random(1).randbytes(40))
        socks = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
            s.sendall(partial_hello)
            socks.append(s)
        took = self.wait_all_cut(socks, CUT_BOUND)
        self.report["half-open TLS"] = {"connections": 300, "all cut within (s)": round(took, 1)}

    def test_thousand_idle_connections(self):
        socks = []
        for i in range(IDLE_CONNECTIONS):
            socks.append(socket.create_connection(("127.0.0.1", self.server.port), timeout=10))
        tls = [tls_connect(self.server, self.ctx) for _ in range(100)]  # idle after the handshake too
        rss_loaded = rss_kb(self.server.proc.pid)
        self.prober.probe(0)  # answered while all of them are open
        took = self.wait_all_cut(socks + tls, CUT_BOUND + 4)
        self.report["idle connections"] = {"tcp": IDLE_CONNECTIONS, "tls": len(tls), "RSS while open (KiB)": rss_loaded,
                                           "all cut within (s)": round(took, 1)}

    def test_pipelined_garbage(self):
        body = json.dumps(pgw.cluster_review(uid="pipe")).encode()
        valid = (b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body)) + body
        rnd = random.Random(7)
        cases = {
            "valid then random bytes": valid * 3 + rnd.randbytes(64 << 10),
            "garbage request lines": b"GARBAGE \x00\x01 HTTP/9.9\r\n\r\n" * 200,
            "negative content-length": b"POST /validate/postgresclusters HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
            "huge content-length": b"POST /validate/postgresclusters HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "chunked lies": b"POST /validate/postgresclusters HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\nab",
            "bare newlines": b"\n" * 100000,
        }
        for name, payload in cases.items():
            with self.subTest(case=name):
                s = tls_connect(self.server, self.ctx)
                s.settimeout(CUT_BOUND)
                try:
                    s.sendall(payload)
                except (OSError, ssl.SSLError):
                    pass  # the server may close before reading everything
                data = read_all(s)
                s.close()
                if name.startswith("valid"):
                    self.assertGreaterEqual(data.count(b'"uid":"pipe"'), 1, data[:300])
                self.assertNotIn(b"500 ", data[:20])
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=CUT_BOUND)
        raw.sendall(valid)  # plain HTTP to the TLS port
        read_all(raw)
        raw.close()
        self.report["pipelined garbage"] = {"cases": len(cases) + 1}

    def send_raw(self, payload):
        s = tls_connect(self.server, self.ctx)
        s.settimeout(CUT_BOUND + 10)
        try:
            s.sendall(payload)
        except (OSError, ssl.SSLError):
            pass
        data = read_all(s)
        s.close()
        return data

    def test_oversized_headers(self):
        head = b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        cases = {
            "one 64 KiB header": head + b"X-Big: " + b"a" * (64 << 10) + b"\r\n\r\n",
            "one 1 MiB header": head + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
            "1000 small headers": head + b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n",
            "64 KiB request line": b"GET /" + b"a" * (64 << 10) + b" HTTP/1.1\r\n\r\n",
        }
        for name, payload in cases.items():
            with self.subTest(case=name):
                data = self.send_raw(payload)
                status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/1.1 ") else b"(closed)"
                self.assertNotEqual(status[:1], b"2", f"{name}: {data[:200]!r}")
                self.assertNotEqual(status[:1], b"5", f"{name}: {data[:200]!r}")
                self.report.setdefault("oversized headers", {})[name] = status.decode()

    def post(self, body):
        """POSTs on a raw TLS socket, so an early answer (413 before the body is all sent) is still read."""
        s = tls_connect(self.server, self.ctx)
        s.settimeout(60)
        try:
            s.sendall(b"POST /validate/postgresclusters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        except (OSError, ssl.SSLError):
            pass
        data = read_all(s, 64 << 20)
        s.close()
        head, _, payload = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
        if b"transfer-encoding: chunked" in head.lower():
            out, pos = bytearray(), 0
            while pos < len(payload):
                end = payload.index(b"\r\n", pos)
                size = int(payload[pos:end].split(b";")[0], 16)
                if size == 0:
                    break
                out += payload[end + 2:end + 2 + size]
                pos = end + 2 + size + 2
            payload = bytes(out)
        return status, payload

    def test_hostile_json_bodies(self):
        valid = pgw.cluster_review(uid="j")
        spec = json.dumps(valid["request"]["object"]["spec"])

        def with_spec_field(raw):
            return json.dumps(valid).replace(spec, spec[:-1] + ', "x": ' + raw + "}").encode()

        def with_name(name):
            doc = json.loads(json.dumps(valid))
            doc["request"]["object"]["metadata"]["name"] = name
            return json.dumps(doc).encode()

        cases = [
            # (name, body, acceptable HTTP codes)
            ("100k nested arrays", b"[" * 100000 + b"]" * 100000, {400}),
            ("100k nested objects in spec", with_spec_field('{"a":' * 100000 + "1" + "}" * 100000), {400}),
            ("100k unclosed brackets", b"[" * 100000, {400}),
            ("7 MiB string name", with_name("a" * (7 << 20)), {200}),
            ("9 MiB body", with_name("a" * (9 << 20)), {413}),
            ("1M-element array", with_spec_field("[" + "0," * 1000000 + "0]"), {200}),
            ("duplicate keys", with_spec_field('{"a":1,"a":2}'), {400}),
            ("duplicate top-level uid", json.dumps(valid).replace('"uid": "j"', '"uid": "j", "uid": "k"').encode(), {400}),
            ("invalid UTF-8 in a string", with_spec_field('"\xff\xfe"').replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"), {400}),
            ("overlong UTF-8", with_spec_field('"X"').replace(b'"X"', b'"\xc0\xaf"'), {400}),
            ("lone surrogate escape", with_spec_field('"\\ud800"'), {400}),
            ("NUL escape in name", with_name("a\u0000b"), {400}),
            ("instances 1e400", with_spec_field("0").replace(b'"instances": 1', b'"instances": 1e400'), {200, 400}),
            ("instances 2^64", with_spec_field("0").replace(b'"instances": 1', b'"instances": 18446744073709551616'),
             {200, 400}),
            ("instances -2^63-1", with_spec_field("0").replace(b'"instances": 1', b'"instances": -9223372036854775809'),
             {200, 400}),
            ("instances 1e-400", with_spec_field("0").replace(b'"instances": 1', b'"instances": 1e-400'), {200, 400}),
            ("postgresVersion 1e308", with_spec_field("0").replace(b'"postgresVersion": 18', b'"postgresVersion": 1e308'),
             {200}),
            ("storage size 1e999999999Ei", with_spec_field("0").replace(b'"1Gi"', b'"1e999999999Ei"'), {200}),
        ]
        results = {}
        for name, body, codes in cases:
            with self.subTest(case=name):
                status, data = self.post(body)
                self.assertIn(status, codes, f"{name}: {data[:300]!r}")
                if status == 200:
                    doc = json.loads(data)
                    self.assertEqual(doc["response"]["uid"], "j")
                    if name.startswith(("instances 2", "postgresVersion", "storage")):
                        self.assertFalse(doc["response"]["allowed"], f"{name} was allowed")
                results[name] = status
        self.report["hostile JSON"] = results


if __name__ == "__main__":
    unittest.main()
