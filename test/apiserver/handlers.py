"""HTTP layer: TLS, authentication, URL routing, content negotiation.

Paths follow kube-apiserver: /api/v1/..., /apis/<group>/<version>/...,
[namespaces/<ns>/]<resource>[/<name>[/<subresource>]], the legacy /watch/
prefix, /version, /healthz, /readyz, /livez, plus /_stand-in/* admin endpoints
(faults, config, save). HTTP/1.1 only (ALPN offers http/1.1), keep-alive,
chunked responses for watches. `Accept: ...;as=Table` gets meta.k8s.io/v1
Tables; everything else is JSON (protobuf is never offered).
"""
import json
import socket
import ssl
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from . import patch as patchlib
from . import watch
from .errors import ApiError, bad_request, method_not_allowed, unsupported_media
from .discovery import openapi_v3_gv, openapi_v3_root
from .table import table

PATCH_TYPES = ("application/merge-patch+json", "application/json-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
MAX_BODY = 3 * 1024 * 1024


def _not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-stand-in"
    sys_version = ""

    # --- connection ---------------------------------------------------------------------

    def setup(self):
        self.tls_ok = True
        self.peer = None
        app = self.server.app
        try:
            self.request.settimeout(300)
            # Headers and body go out in two writes; without NODELAY the second waits for the
            # client's delayed ACK (40 ms), as kube-apiserver's Go sockets never do.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.request = app.ssl_ctx.wrap_socket(self.request, server_side=True)
            self.peer = self.request.getpeercert()
        except (ssl.SSLError, OSError):
            self.tls_ok = False
        super().setup()

    def handle(self):
        if self.tls_ok:
            try:
                super().handle()
            except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
                pass

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            who = getattr(self, "username", "")
            self.server.app.log("%s %s%s" % (self.address_string(), fmt % args, f" user={who}" if who else ""))

    # --- responses ----------------------------------------------------------------------

    def send_json(self, code, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
                if len(out) > MAX_BODY:
                    raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
            return out
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
        return self.rfile.read(n) if n else b""

    def json_body(self, raw, required=True):
        ctype = self.headers.get("Content-Type", "")
        if "protobuf" in ctype:
            # client-go retries with JSON after a 415 to a protobuf body.
            raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got "{ctype}")')
        if not raw:
            if required:
                raise bad_request("the body of the request is empty")
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            ctype = self.headers.get("Content-Type", "")
            if "yaml" in ctype:
                raise ApiError(415, "UnsupportedMediaType", f"the stand-in accepts apply bodies in JSON form only (JSON is valid YAML): {e}")
            raise bad_request(f"error decoding request body: {e}")

    # --- verbs ---------------------------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def authenticate(self):
        app = self.server.app
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() in app.tokens:
            return app.tokens[auth[7:].strip()]
        if self.peer:
            subj = dict(x[0] for x in self.peer.get("subject", ()))
            return {"username": subj.get("commonName", ""), "groups": [subj["organizationName"], "system:authenticated"]
                    if "organizationName" in subj else ["system:authenticated"]}
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def dispatch(self, method):
        app = self.server.app
        u = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        path = u.path.rstrip("/") or "/"
        self.username = ""
        try:
            raw = self.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            if path in ("/healthz", "/readyz", "/livez"):
                data = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(data)
                return
            if path == "/version":
                return self.send_json(200, app.version)
            user = self.authenticate()
            self.username = user.get("username", "")
            if path.startswith("/_stand-in/"):
                return self.admin(method, path, raw)
            self.route(method, path, query, raw, user)
        except watch.Dropped:
            self.close_connection = True
            try:
                self.request.shutdown(2)
            except OSError:
                pass
        except ApiError as e:
            self.send_json(e.code, e.status(), e.headers)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            self.close_connection = True  # the client went away (e.g. in the middle of a watch)
        except Exception as e:  # a bug in the stand-in: report it like the apiserver would
            app.log(f"internal error on {method} {self.path}: {type(e).__name__}: {e}")
            import traceback
            app.log(traceback.format_exc())
            try:
                self.send_json(500, ApiError(500, "InternalError", f"Internal error occurred: {e}").status())
            except OSError:
                pass

    def admin(self, method, path, raw):
        app = self.server.app
        if path == "/_stand-in/faults":
            if method == "POST":
                return self.send_json(200, app.faults.configure(self.json_body(raw), app.store))
            return self.send_json(200, app.faults.snapshot())
        if path == "/_stand-in/config":
            if method == "POST":
                app.cfg.update(self.json_body(raw))
            return self.send_json(200, app.cfg)
        if path == "/_stand-in/save" and method == "POST":
            app.save()
            return self.send_json(200, {"saved": app.state_file or ""})
        raise _not_found_path()

    def route(self, method, path, query, raw, user):
        app = self.server.app
        reg = app.registry
        segs = [s for s in path.split("/") if s]
        if method == "GET" and path == "/openapi/v3":
            return self.send_json(200, openapi_v3_root(reg))
        if method == "GET" and path.startswith("/openapi/v3/"):
            parts = path[len("/openapi/v3/"):].split("/")
            doc = None
            if parts == ["api", "v1"]:
                doc = openapi_v3_gv(reg, "", "v1")
            elif len(parts) == 3 and parts[0] == "apis":
                doc = openapi_v3_gv(reg, parts[1], parts[2])
            if doc is None:
                raise _not_found_path()
            return self.send_json(200, doc)
        if not segs or segs[0] not in ("api", "apis"):
            raise _not_found_path()
        if segs[0] == "api":
            group = ""
            if len(segs) == 1:
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{app.port}"}]})
            version, rest = segs[1], segs[2:]
        else:
            if len(segs) == 1:
                return self.send_json(200, reg.api_group_list())
            group = segs[1]
            groups = reg.groups()
            if group not in groups:
                raise _not_found_path()
            if len(segs) == 2:
                return self.send_json(200, dict(reg.api_group(group, groups[group]), kind="APIGroup", apiVersion="v1"))
            version, rest = segs[2], segs[3:]
        if not rest:
            doc = reg.resource_list(group, version)
            if doc is None:
                raise _not_found_path()
            return self.send_json(200, doc)
        watching = False
        if rest[0] == "watch":
            watching, rest = True, rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and reg.get(group, version, rest[2]) is not None \
                and reg.get(group, version, rest[2]).namespaced:
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise _not_found_path()
        res = reg.get(group, version, rest[0])
        if res is None:
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub and not (sub == "status" and res.status or sub == "finalize" and res.plural == "namespaces" and not group
                        or sub == "scale" and res.gr == ("apps", "statefulsets")):
            raise _not_found_path()
        if res.namespaced and ns is None and name is not None:
            raise _not_found_path()
        if not res.namespaced and ns is not None:
            raise _not_found_path()
        self.resource(method, res, ns, name, sub, query, raw, user, watching)

    def resource(self, method, res, ns, name, sub, query, raw, user, watching):
        app = self.server.app
        api = app.api
        is_write = method in ("POST", "PUT", "PATCH", "DELETE")
        app.faults.before_request(is_write, res, name or "", user.get("username", ""))
        accept = self.headers.get("Accept", "")
        as_table = "as=Table" in accept
        dry_run = query.get("dryRun") == "All"
        manager = query.get("fieldManager") or self.headers.get("User-Agent", "unknown").split("/")[0]
        warnings = []
        if sub == "scale":
            return self.scale(method, res, ns, name, raw, user, dry_run, manager, warnings)
        if method == "GET":
            if name is None and (watching or query.get("watch") in ("1", "true")):
                return watch.serve(self, api, res, ns, query, app.faults, app.bookmark_interval, app.watch_timeout, as_table)
            if name is None:
                lst = api.list(res, ns, query)
                if as_table:
                    return self.send_json(200, table(res, lst["items"], lst["metadata"]["resourceVersion"],
                                                     query.get("includeObject", "Metadata")))
                return self.send_json(200, lst)
            obj = api.get(res, ns, name)
            if as_table:
                return self.send_json(200, table(res, [obj], obj["metadata"]["resourceVersion"], query.get("includeObject", "Metadata")))
            return self.send_json(200, obj)
        if method == "POST":
            if name is not None:
                raise method_not_allowed()
            if res.namespaced and ns is None:
                raise _not_found_path()
            obj = api.create(res, ns, self.json_body(raw), user, dry_run, manager, warnings)
            return self.send_json(201, obj, self.warn_headers(warnings))
        if name is None:
            if method == "DELETE":
                return self.delete_collection(res, ns, query, raw, user, dry_run)
            raise method_not_allowed()
        if method == "PUT":
            obj = api.update(res, ns, name, self.json_body(raw), user, dry_run, manager, warnings, sub)
            return self.send_json(200, obj, self.warn_headers(warnings))
        if method == "PATCH":
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in PATCH_TYPES:
                raise unsupported_media(ctype)
            force = query.get("force") in ("true", "1")
            if ctype == "application/apply-patch+yaml":
                manager = query.get("fieldManager", "")
            existed = app.store.get(res.gr, ns or "", name) is not None
            obj = api.patch(res, ns, name, ctype, self.json_body(raw), user, dry_run, manager, warnings, sub, force)
            code = 201 if ctype == "application/apply-patch+yaml" and not existed else 200
            return self.send_json(code, obj, self.warn_headers(warnings))
        if method == "DELETE":
            opts = self.json_body(raw, required=False) or {}
            for k in ("propagationPolicy", "gracePeriodSeconds"):
                if k in query:
                    opts[k] = query[k]
            obj = api.delete(res, ns, name, opts, user, dry_run, warnings)
            if obj["metadata"].get("deletionTimestamp") or res.crd is not None or res.plural == "pods":
                return self.send_json(200, obj, self.warn_headers(warnings))
            st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                  "details": {"name": name, "kind": res.plural, "uid": obj["metadata"]["uid"]}}
            if res.group:
                st["details"]["group"] = res.group
            return self.send_json(200, st, self.warn_headers(warnings))
        raise method_not_allowed()

    def scale(self, method, res, ns, name, raw, user, dry_run, manager, warnings):
        """autoscaling/v1 Scale of a StatefulSet (what `kubectl scale` reads and patches)."""
        api = self.server.app.api
        cur = api.scale_of(api.get(res, ns, name))
        if method == "GET":
            return self.send_json(200, cur)
        if method == "PUT":
            want = self.json_body(raw)
        elif method == "PATCH":
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in PATCH_TYPES[:3]:
                raise unsupported_media(ctype)
            want = patchlib.apply_patch(ctype, cur, self.json_body(raw))
        else:
            raise method_not_allowed()
        body = {"spec": {"replicas": (want.get("spec") or {}).get("replicas", 0)}}
        rv = (want.get("metadata") or {}).get("resourceVersion")
        if rv:
            body["metadata"] = {"resourceVersion": rv}
        obj = api.patch(res, ns, name, "application/merge-patch+json", body, user, dry_run, manager, warnings)
        return self.send_json(200, api.scale_of(obj), self.warn_headers(warnings))

    def delete_collection(self, res, ns, query, raw, user, dry_run):
        api = self.server.app.api
        opts = self.json_body(raw, required=False) or {}
        lst = api.list(res, ns, {k: v for k, v in query.items() if k in ("labelSelector", "fieldSelector")})
        for obj in lst["items"]:
            try:
                api.delete(res, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], opts, user, dry_run)
            except ApiError as e:
                if e.code != 404:
                    raise
        self.send_json(200, lst)

    @staticmethod
    def warn_headers(warnings):
        return [("Warning", '299 - "%s"' % w.replace('"', "'")) for w in warnings]


