"""Process wiring: flags, TLS, state file, controllers, signal handling.

    python3 -m apiserver --port 6443 --tls-dir DIR [--state FILE]
        [--kubeconfig-out FILE] [--kubeconfig-client-cert]
        [--webhook-service-map NAME.NAMESPACE=HOST:PORT ...]
        [--watch-window N] [--bookmark-interval S] [--watch-timeout S]
        [--job-mode succeed|fail|pending] [--job-delay S] [--pods-ready true|false]
        [--fault-delay-ms M] [--token TOKEN[=USER]] [--verbose]

SIGTERM/SIGINT save the state file and exit 0; the state is also saved every
--save-interval seconds when it changed. On start, namespaces default,
kube-system, kube-public and pgwarden-system exist.
"""
import argparse
import os
import signal
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from . import tlsutil
from .admission import Admission
from .controllers import Controllers
from .discovery import CRD_GR, Registry
from .faults import Faults
from .handlers import Handler
from .ops import SYSTEM_USER, Api
from .storage import Store

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-pgwarden-stand-in", "gitCommit": "stand-in",
           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0",
           "compiler": "gc", "platform": "linux/amd64"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class App:
    def __init__(self, args):
        self.verbose = args.verbose
        self.port = args.port
        self.version = VERSION
        self.state_file = args.state
        self.bookmark_interval = args.bookmark_interval
        self.watch_timeout = args.watch_timeout
        self.tls_dir = args.tls_dir
        token = tlsutil.ensure(args.tls_dir)
        admin = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
        self.tokens = {token: admin}
        for t in args.token or []:
            tok, _, user = t.partition("=")
            self.tokens[tok] = {"username": user or "kubernetes-admin", "groups": ["system:authenticated"] +
                                (["system:masters"] if not user else [])}
        self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_ctx.load_cert_chain(os.path.join(args.tls_dir, "tls.crt"), os.path.join(args.tls_dir, "tls.key"))
        self.ssl_ctx.load_verify_locations(os.path.join(args.tls_dir, "ca.crt"))
        self.ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ssl_ctx.set_alpn_protocols(["http/1.1"])
        self.registry = Registry()
        self.store = Store(window=args.watch_window)
        if self.state_file and os.path.exists(self.state_file):
            self.store.load(self.state_file)
            crds, _ = self.store.list(CRD_GR)
            for crd in crds:
                self.registry.register_crd(crd)
        smap = {}
        for m in args.webhook_service_map or []:
            k, _, v = m.partition("=")
            smap[k] = v
        self.admission = Admission(self.store, smap, self.log)
        self.api = Api(self.registry, self.store, self.admission, self.log)
        self.faults = Faults()
        if args.fault_delay_ms:
            self.faults.configure({"delayMs": args.fault_delay_ms})
        self.cfg = {"podsReady": args.pods_ready == "true", "jobMode": args.job_mode, "jobDelay": args.job_delay}
        self.controllers = Controllers(self.api, self.cfg, self.log)
        self.saved_rv = self.store.rv
        self.save_lock = threading.Lock()
        ns_res = self.registry.by_gr("", "namespaces")
        for ns in ("default", "kube-system", "kube-public", "pgwarden-system"):
            if self.store.get(ns_res.gr, "", ns) is None:
                self.api.create(ns_res, "", {"metadata": {"name": ns}}, SYSTEM_USER, manager="kube-apiserver")
        if args.kubeconfig_out:
            tlsutil.write_kubeconfig(args.kubeconfig_out, args.tls_dir, f"https://127.0.0.1:{args.port}", token,
                                     args.kubeconfig_client_cert)

    def log(self, msg):
        sys.stderr.write(time.strftime("%H:%M:%S ") + msg + "\n")
        sys.stderr.flush()

    def save(self):
        if not self.state_file:
            return
        with self.save_lock:
            self.store.save(self.state_file)
            self.saved_rv = self.store.rv

    def saver(self, interval, stop):
        while not stop.wait(interval):
            if self.store.rv != self.saved_rv:
                try:
                    self.save()
                except OSError as e:
                    self.log(f"save: {e}")


def parse(argv):
    p = argparse.ArgumentParser(prog="python3 -m apiserver", description="kube-apiserver stand-in for pgwarden tests")
    p.add_argument("--port", type=int, default=6443)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--tls-dir", required=True)
    p.add_argument("--state", help="JSON file: loaded at start, saved on exit and every --save-interval s")
    p.add_argument("--save-interval", type=float, default=30.0)
    p.add_argument("--kubeconfig-out")
    p.add_argument("--kubeconfig-client-cert", action="store_true", help="kubeconfig uses the client certificate, not the token")
    p.add_argument("--token", action="append", help="extra accepted bearer token, TOKEN or TOKEN=USERNAME")
    p.add_argument("--webhook-service-map", action="append", help="NAME.NAMESPACE=HOST:PORT")
    p.add_argument("--watch-window", type=int, default=1000, help="events retained for watch resumption")
    p.add_argument("--bookmark-interval", type=float, default=10.0)
    p.add_argument("--watch-timeout", type=float, default=1800.0, help="default watch length without timeoutSeconds")
    p.add_argument("--job-mode", choices=["succeed", "fail", "pending"], default="succeed")
    p.add_argument("--job-delay", type=float, default=1.0)
    p.add_argument("--pods-ready", choices=["true", "false"], default="true")
    p.add_argument("--fault-delay-ms", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv):
    args = parse(argv)
    app = App(args)
    httpd = Server((args.bind, args.port), Handler)
    httpd.app = app
    app.port = httpd.server_address[1]
    stop = threading.Event()
    threading.Thread(target=app.controllers.run, daemon=True).start()
    threading.Thread(target=app.saver, args=(args.save_interval, stop), daemon=True).start()

    def on_signal(signum, frame):
        stop.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app.log(f"stand-in kube-apiserver listening on https://{args.bind}:{app.port}")
    httpd.serve_forever(poll_interval=0.2)
    app.controllers.stop.set()
    app.save()
    app.log("state saved, exiting")
    return 0

