"""The kube client against a scripted fake API server over real TLS.

test/tools/kclient_probe runs controller/kclient and controller/watch; it reads
one command per line and prints one JSON line per result, so each test can
script the server, act between commands (rotate a token) and then check both
what the client reported and the exact requests the server received. The
server's certificate comes from `pgwarden certs generate`; client certificates
from the openssl CLI.
"""
import base64
import json
import os
import queue
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pgw

PROBE = os.path.join(os.environ.get("PGW_BUILD_DIR", os.path.join(pgw.SOURCE_DIR, "build")), "kclient_probe")


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def event(type_, obj):
    return (json.dumps({"type": type_, "object": obj}) + "\n").encode()


def pod(name, rv):
    return {"metadata": {"name": name, "namespace": "db", "resourceVersion": rv}}


class FakeAPI:
    """HTTPS server answering from per-(method, path) queues of scripted responses.

    A response is {"status": int, "body": obj} or {"chunks": [bytes, ...]} (a
    chunked 200 stream, each chunk flushed separately) or {"hang": True} (a
    stream that stays open until the test ends). Unscripted requests get 404.
    """

    def __init__(self, tmp, client_ca=None, tokens=None):
        cert_dir = os.path.join(tmp, "server")
        subprocess.run([pgw.BIN, "certs", "generate", "--service", "kube", "--namespace", "test", "--out", cert_dir],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ca_file = os.path.join(cert_dir, "ca.crt")
        self.script = {}
        self.requests = []
        self.tokens = tokens  # None: any; else the accepted bearer tokens
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                cert = self.connection.getpeercert()
                cn = None
                if cert:
                    cn = dict(x[0] for x in cert["subject"]).get("commonName")
                req = {"method": self.command, "path": url.path, "query": dict(urllib.parse.parse_qsl(url.query)),
                       "headers": dict(self.headers), "body": body, "peer": self.client_address, "client_cn": cn}
                with api.lock:
                    api.requests.append(req)
                    auth = self.headers.get("Authorization", "")
                    if api.tokens is not None and auth[len("Bearer "):] not in api.tokens:
                        resp = {"status": 401, "body": status(401, "Unauthorized", "Unauthorized")}
                    else:
                        key = (self.command, url.path, "watch" if req["query"].get("watch") else "")
                        queue = api.script.get(key) or []
                        resp = queue.pop(0) if queue else {"status": 404, "body": status(404, "NotFound", "not found")}
                self.respond(resp)

            def respond(self, resp):
                if "chunks" in resp or "hang" in resp:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for chunk in resp.get("chunks", []):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                            time.sleep(0.05)  # separate TCP segments, so the client sees split events
                        if resp.get("hang"):
                            api.stopping.wait(30)
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                    except OSError:
                        pass
                    return
                data = json.dumps(resp["body"]).encode()
                self.send_response(resp["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(cert_dir, "tls.crt"), os.path.join(cert_dir, "tls.key"))
        if client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(client_ca)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def add(self, method, path, resp, watch=False):
        with self.lock:
            self.script.setdefault((method, path, "watch" if watch else ""), []).append(resp)

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class Probe:
    """The probe process. A thread reads its stdout into a queue: select() on the
    buffered pipe would miss a line that arrived in the same read as the one before."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen([PROBE] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for text in self.proc.stdout:
            self.lines.put(text)
        self.lines.put(None)  # end of output

    def line(self, timeout=40):
        try:
            text = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"probe did not answer in {timeout} s; its log:\n" + self.proc.stderr.read())
        if text is None:
            raise AssertionError("probe exited: " + self.proc.stderr.read())
        return json.loads(text)

    def run(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.line()

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        self.stderr = self.proc.stderr.read()
        self.reader.join(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


def write_kubeconfig(path, server, ca=None, ca_data=None, user=None):
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
           "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u", "namespace": "db"}}],
           "clusters": [{"name": "c", "cluster": cluster}], "users": [{"name": "u", "user": user or {}}]}
    with open(path, "w") as f:
        json.dump(doc, f)  # JSON is YAML


class KclientTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pgw-kclient-")
        self.api = None
        self.probe = None

    def tearDown(self):
        if self.probe is not None and self.probe.proc.poll() is None:
            self.probe.proc.kill()
            self.probe.proc.wait()
            for f in (self.probe.proc.stdin, self.probe.proc.stdout, self.probe.proc.stderr):
                try:
                    f.close()
                except OSError:
                    pass
        if self.api is not None:
            self.api.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, user=None, client_ca=None, tokens=None, ca="server"):
        self.api = FakeAPI(self.tmp, client_ca=client_ca, tokens=tokens)
        kc = os.path.join(self.tmp, "kubeconfig")
        # The CA as a path relative to the kubeconfig's directory.
        write_kubeconfig(kc, self.api.url, ca=os.path.relpath(self.api.ca_file, self.tmp) if ca == "server" else ca,
                         user=user if user is not None else {"token": "static-token"})
        self.probe = Probe(["--kubeconfig", kc])

    def finish(self):
        rc = self.probe.close()
        self.assertEqual(rc, 0, self.probe.stderr)
        return self.probe.stderr

    def requests(self, method=None, path=None):
        with self.api.lock:
            return [r for r in self.api.requests
                    if (method is None or r["method"] == method) and (path is None or r["path"] == path)]

    # -- tests --------------------------------------------------------------

    def test_list_paginates_and_reuses_the_connection(self):
        self.start()
        path = "/api/v1/namespaces/db/configmaps"
        self.api.add("GET", path, {"status": 200, "body": {"kind": "ConfigMapList", "metadata": {"continue": "tok-1", "resourceVersion": "7"},
                                                         "items": [pod("a", "1"), pod("b", "2")]}})
        self.api.add("GET", path, {"status": 200, "body": {"kind": "ConfigMapList", "metadata": {"resourceVersion": "9"},
                                                         "items": [pod("c", "3")]}})
        res = self.probe.run("list ConfigMap db 2")
        self.assertEqual(res["outcome"], "OK")
        self.assertEqual([i["metadata"]["name"] for i in res["body"]["items"]], ["a", "b", "c"])
        self.assertEqual(res["body"]["metadata"], {"resourceVersion": "9"})
        reqs = self.requests("GET", path)
        self.assertEqual([r["query"] for r in reqs], [{"limit": "2"}, {"limit": "2", "continue": "tok-1"}])
        for _ in range(3):
            self.assertEqual(self.probe.run("get ConfigMap db missing")["outcome"], "NotFound")
        peers = {r["peer"] for r in self.requests()}
        self.assertEqual(len(peers), 1, f"5 requests over {len(peers)} connections")
        self.assertEqual(reqs[0]["headers"]["Authorization"], "Bearer static-token")
        stderr = self.finish()
        self.assertNotIn("static-token", stderr)  # never logged

    def test_watch_split_events_bookmark_and_410_relist(self):
        self.start()
        path = "/api/v1/namespaces/db/pods"
        self.api.add("GET", path, {"status": 200, "body": {"metadata": {"resourceVersion": "5"},
                                                         "items": [pod("a", "1"), pod("b", "2")]}})
        added_c = event("ADDED", dict(pod("c", "6"), kind="Pod"))
        self.api.add("GET", path, {"chunks": [
            added_c[:10], added_c[10:40], added_c[40:],                          # one event in three chunks
            event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "8"}}) +
            event("MODIFIED", dict(pod("a", "9"), kind="Pod")),                  # two events in one chunk
            event("ERROR", status(410, "Expired", "too old resource version: 5 (9)")),
        ]}, watch=True)
        # Relist: b vanished while we were away, a and c unchanged.
        self.api.add("GET", path, {"status": 200, "body": {"metadata": {"resourceVersion": "12"},
                                                         "items": [pod("a", "9"), pod("c", "6")]}})
        # The next watch is refused with HTTP 410: list again.
        self.api.add("GET", path, {"status": 410, "body": status(410, "Gone", "too old")}, watch=True)
        self.api.add("GET", path, {"status": 200, "body": {"metadata": {"resourceVersion": "13"},
                                                         "items": [pod("a", "9"), pod("c", "6")]}})
        self.api.add("GET", path, {"hang": True}, watch=True)
        self.probe.proc.stdin.write("watch Pod db 8\n")
        self.probe.proc.stdin.flush()
        got = [self.probe.line() for _ in range(9)]
        calls = [(g.get("watch"), g.get("name"), g.get("rv")) for g in got[:8]]
        self.assertEqual(calls, [
            ("ADDED", "a", "1"), ("ADDED", "b", "2"), ("SYNCED", None, None),
            ("ADDED", "c", "6"), ("MODIFIED", "a", "9"),
            ("DELETED", "b", "2"), ("SYNCED", None, None),
            ("SYNCED", None, None),
        ])
        self.assertEqual(got[0]["kind"], "Pod")  # list items get their kind
        done = got[8]
        self.assertTrue(done["done"])
        self.assertEqual(done["lists"], 3)
        self.assertEqual(done["gone"], 2)
        watches = [r["query"] for r in self.requests("GET", path) if r["query"].get("watch")]
        self.assertEqual(watches[0], {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": "5",
                                      "timeoutSeconds": "30"})
        self.assertEqual(watches[1]["resourceVersion"], "12")
        lists = [r["query"] for r in self.requests("GET", path) if not r["query"].get("watch")]
        self.assertEqual(lists, [{"limit": "2"}] * 3)
        self.finish()

    def test_watch_backs_off_and_resumes_after_errors(self):
        self.start()
        path = "/api/v1/namespaces/db/pods"
        self.api.add("GET", path, {"status": 500, "body": status(500, "InternalError", "etcd down")})
        self.api.add("GET", path, {"status": 200, "body": {"metadata": {"resourceVersion": "3"}, "items": [pod("a", "3")]}})
        self.api.add("GET", path, {"chunks": [b'{"type":"ADDED","object":']}, watch=True)  # the stream is cut mid-event
        self.api.add("GET", path, {"chunks": [event("MODIFIED", dict(pod("a", "4"), kind="Pod"))], "hang": True}, watch=True)
        self.probe.proc.stdin.write("watch Pod db 3\n")
        self.probe.proc.stdin.flush()
        got = [self.probe.line() for _ in range(4)]
        self.assertEqual([(g.get("watch"), g.get("rv")) for g in got[:3]],
                         [("ADDED", "3"), ("SYNCED", None), ("MODIFIED", "4")])
        self.assertEqual(got[3]["failures"], 2)  # the 500 and the cut stream, each followed by a backoff
        self.assertEqual(got[3]["lists"], 1)     # a cut stream resumes from the last resourceVersion, no relist
        watches = [r["query"]["resourceVersion"] for r in self.requests("GET", path) if r["query"].get("watch")]
        self.assertEqual(watches, ["3", "3"])
        self.finish()

    def test_conflict_is_distinct(self):
        self.start()
        path = "/apis/pgwarden.io/v1/namespaces/db/postgresclusters/demo"
        self.api.add("PUT", path, {"status": 409, "body": status(
            409, "Conflict", 'Operation cannot be fulfilled on postgresclusters.pgwarden.io "demo": the object has been modified')})
        self.api.add("POST", "/api/v1/namespaces/db/secrets", {"status": 409, "body": status(
            409, "AlreadyExists", 'secrets "demo-app" already exists')})
        res = self.probe.run('update PostgresCluster db demo {"metadata":{"name":"demo","resourceVersion":"3"}}')
        self.assertEqual((res["outcome"], res["status"], res["code"], res["reason"]), ("Conflict", 409, 409, "Conflict"))
        self.assertIn("has been modified", res["message"])
        res = self.probe.run('create Secret db {"metadata":{"name":"demo-app"},"stringData":{"password":"hunter2"}}')
        self.assertEqual((res["outcome"], res["reason"]), ("Conflict", "AlreadyExists"))
        self.api.add("GET", "/api/v1/namespaces/db/pods/x", {"status": 500, "body": status(500, "InternalError", "boom")})
        res = self.probe.run("get Pod db x")
        self.assertEqual((res["outcome"], res["code"], res["reason"]), ("HTTPError", 500, "InternalError"))
        stderr = self.finish()
        self.assertNotIn("hunter2", stderr)

    def test_apply_status_patch_event_requests(self):
        self.start()
        base = "/apis/apps/v1/namespaces/db/statefulsets/demo"
        ok = {"status": 200, "body": {"kind": "StatefulSet", "metadata": {"name": "demo", "resourceVersion": "2"}}}
        self.api.add("PATCH", base, dict(ok))
        self.api.add("PATCH", base, dict(ok))
        self.api.add("PUT", "/apis/pgwarden.io/v1/namespaces/db/postgresclusters/demo/status", dict(ok))
        self.api.add("POST", "/api/v1/namespaces/db/events", {"status": 201, "body": {"kind": "Event"}})
        self.api.add("DELETE", "/api/v1/namespaces/db/services/demo-ro", {"status": 200, "body": status(200, "", "")})
        obj = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "demo", "namespace": "db"}}
        res = self.probe.run("apply StatefulSet db demo " + json.dumps(obj))
        self.assertEqual(res["outcome"], "OK")
        self.assertEqual(res["body"]["metadata"]["resourceVersion"], "2")
        ssa = self.requests("PATCH", base)[0]
        self.assertEqual(ssa["headers"]["Content-Type"], "application/apply-patch+yaml")
        self.assertEqual(ssa["query"], {"fieldManager": "pgwarden", "force": "true"})
        self.assertEqual(json.loads(ssa["body"]), obj)
        self.assertEqual(self.probe.run('patch StatefulSet db demo {"spec":{"replicas":2}}')["outcome"], "OK")
        merge = self.requests("PATCH", base)[1]
        self.assertEqual(merge["headers"]["Content-Type"], "application/merge-patch+json")
        self.assertEqual(merge["query"], {})
        res = self.probe.run('status PostgresCluster db demo {"metadata":{"name":"demo"},"status":{"phase":"Running"}}')
        self.assertEqual(res["outcome"], "OK")
        st = self.requests("PUT")[0]
        self.assertEqual(json.loads(st["body"])["status"], {"phase": "Running"})
        res = self.probe.run("event PostgresCluster db demo Warning InvalidSpec spec.instances: must be between 1 and 16")
        self.assertEqual(res["outcome"], "OK")
        ev = json.loads(self.requests("POST", "/api/v1/namespaces/db/events")[0]["body"])
        self.assertEqual(ev["involvedObject"], {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
                                                "name": "demo", "namespace": "db"})
        self.assertEqual((ev["type"], ev["reason"], ev["message"]),
                         ("Warning", "InvalidSpec", "spec.instances: must be between 1 and 16"))
        self.assertTrue(ev["metadata"]["name"].startswith("demo."))
        self.assertEqual(self.probe.run("delete Service db demo-ro")["outcome"], "OK")
        self.assertEqual(self.requests("DELETE")[0]["query"], {"propagationPolicy": "Background"})
        for r in self.requests():
            self.assertEqual(r["headers"]["Accept"], "application/json")
            self.assertTrue(r["headers"]["User-Agent"].startswith("pgwarden/"))
        self.finish()

    def test_token_file_rotation(self):
        token_file = os.path.join(self.tmp, "token")
        with open(token_file, "w") as f:
            f.write("token-aaaa\n")
        self.start(user={"tokenFile": "token"}, tokens={"token-aaaa"})  # relative to the kubeconfig
        path = "/api/v1/namespaces/db/configmaps/x"
        for _ in range(4):
            self.api.add("GET", path, {"status": 200, "body": {"kind": "ConfigMap", "metadata": {"name": "x"}}})
        self.assertEqual(self.probe.run("get ConfigMap db x")["outcome"], "OK")
        # kubelet-style rotation: a new file swapped in.
        with open(token_file + ".new", "w") as f:
            f.write("token-bbbb\n")
        os.rename(token_file + ".new", token_file)
        self.api.tokens = {"token-bbbb"}
        self.assertEqual(self.probe.run("get ConfigMap db x")["outcome"], "OK")
        # Rewritten in place with the same size and mtime (stat cannot tell): the 401 triggers a re-read.
        st = os.stat(token_file)
        with open(token_file, "r+") as f:
            f.write("token-cccc\n")
        os.utime(token_file, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.api.tokens = {"token-cccc"}
        self.assertEqual(self.probe.run("get ConfigMap db x")["outcome"], "OK")
        auths = [r["headers"]["Authorization"] for r in self.requests("GET", path)]
        self.assertEqual(auths, ["Bearer token-aaaa", "Bearer token-bbbb", "Bearer token-bbbb", "Bearer token-cccc"])
        stderr = self.finish()
        for t in ("token-aaaa", "token-bbbb", "token-cccc"):
            self.assertNotIn(t, stderr)

    def make_client_cert(self, cn):
        key, crt = os.path.join(self.tmp, cn + ".key"), os.path.join(self.tmp, cn + ".crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=" + cn],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return key, crt

    def test_client_certificate_auth(self):
        key, crt = self.make_client_cert("pgwarden-controller")
        with open(key, "rb") as f:
            key_data = f.read()
        with open(crt, "rb") as f:
            crt_data = f.read()
        # Inline data first.
        self.start(user={"client-certificate-data": base64.b64encode(crt_data).decode(),
                         "client-key-data": base64.b64encode(key_data).decode()}, client_ca=crt)
        self.assertEqual(self.probe.run("get Pod db x")["outcome"], "NotFound")
        req = self.requests()[0]
        self.assertEqual(req["client_cn"], "pgwarden-controller")
        self.assertNotIn("Authorization", req["headers"])
        self.finish()
        self.api.stop()
        # Then files, with paths relative to the kubeconfig.
        self.start(user={"client-certificate": os.path.basename(crt), "client-key": os.path.basename(key)}, client_ca=crt)
        self.assertEqual(self.probe.run("get Pod db x")["outcome"], "NotFound")
        self.assertEqual(self.requests()[0]["client_cn"], "pgwarden-controller")
        self.finish()

    def test_untrusted_server_is_refused(self):
        _, other_ca = self.make_client_cert("some-other-ca")
        self.start(ca=other_ca)
        res = self.probe.run("get Pod db x")
        self.assertEqual(res["outcome"], "Transport")
        self.assertEqual(res["status"], 0)
        self.assertEqual(self.requests(), [])
        self.finish()

    def test_in_cluster_configuration(self):
        self.api = FakeAPI(self.tmp, tokens={"sa-token"})
        sa = os.path.join(self.tmp, "sa")
        os.makedirs(sa)
        shutil.copy(self.api.ca_file, os.path.join(sa, "ca.crt"))
        with open(os.path.join(sa, "token"), "w") as f:
            f.write("sa-token")
        with open(os.path.join(sa, "namespace"), "w") as f:
            f.write("pgwarden-system")
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(self.api.port))
        self.probe = Probe(["--in-cluster", sa], env=env)
        self.api.add("GET", "/apis/coordination.k8s.io/v1/namespaces/pgwarden-system/leases/pgwarden",
                     {"status": 200, "body": {"kind": "Lease", "metadata": {"name": "pgwarden"}}})
        res = self.probe.run("get Lease pgwarden-system pgwarden")
        self.assertEqual(res["outcome"], "OK")
        self.assertEqual(self.requests()[0]["headers"]["Authorization"], "Bearer sa-token")
        self.finish()


if __name__ == "__main__":
    unittest.main()
