"""Admission webhooks, called exactly as the stored configurations say.

For every write the stand-in lists the MutatingWebhookConfigurations, then the
ValidatingWebhookConfigurations (ordered by name, webhooks in order), matches
each webhook on rules (operations, apiGroups, apiVersions, resources with
subresources, scope), namespaceSelector and objectSelector, and POSTs an
admission.k8s.io/v1 AdmissionReview over TLS, verifying the webhook's
certificate against caBundle and the service DNS name. Service references are
mapped to local addresses with --webhook-service-map NAME.NAMESPACE=HOST:PORT.

Results follow upstream: a denial becomes the webhook's Status with the
message `admission webhook "<name>" denied the request: <message>`; a call
failure is ignored (failurePolicy Ignore) or becomes a 500 `failed calling
webhook`; JSONPatch responses are applied; mutating webhooks with
reinvocationPolicy IfNeeded run once more when a later webhook changed the
object; warnings go back to the client as `Warning` headers.
"""
import base64
import http.client
import json
import socket
import ssl
import threading
import time
import uuid

from . import patch as patchlib
from .errors import ApiError, internal
from .selectors import match_selector
from .jcopy import jcopy

MUTATING = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
EXEMPT = {MUTATING, VALIDATING, ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
          ("admissionregistration.k8s.io", "validatingadmissionpolicybindings")}


class CallError(Exception):
    pass


class Attributes:
    """What is being admitted: operation, resource, names, user and options."""

    def __init__(self, operation, res, namespace, name, user, sub="", dry_run=False, options=None):
        self.operation = operation
        self.res = res
        self.namespace = namespace or ""
        self.name = name or ""
        self.user = user
        self.sub = sub or ""
        self.dry_run = dry_run
        self.options = options
        self.uid = str(uuid.uuid4())


def _rule_matches(rule, a):
    def has(lst, v):
        return "*" in (lst or []) or v in (lst or [])
    if not has(rule.get("operations"), a.operation):
        return False
    if not has(rule.get("apiGroups"), a.res.group) or not has(rule.get("apiVersions"), a.res.version):
        return False
    scope = rule.get("scope", "*")
    if scope == "Cluster" and a.res.namespaced or scope == "Namespaced" and not a.res.namespaced:
        return False
    for r in rule.get("resources") or []:
        res, _, sub = r.partition("/")
        if (res == "*" or res == a.res.plural) and (sub == "*" or sub == a.sub):
            return True
    return False


class Admission:
    def __init__(self, store, service_map, log):
        self.store = store
        self.service_map = service_map  # "name.namespace" -> "host:port"
        self.log = log
        self.pool_lock = threading.Lock()
        self.contexts = {}  # caBundle -> ssl.SSLContext
        self.idle = {}  # (addr, host, port, caBundle) -> [kept-alive HTTPConnection]

    # --- matching ---------------------------------------------------------------

    def _hooks(self, gr):
        configs = self.store.peek(gr)  # read only: matching and calling never edit the configuration
        return [(c["metadata"]["name"], h) for c in sorted(configs, key=lambda c: c["metadata"]["name"])
                for h in c.get("webhooks") or []]

    def _matches(self, hook, a, obj, old):
        if (a.res.group, a.res.plural) in EXEMPT:
            return False
        if not any(_rule_matches(r, a) for r in hook.get("rules") or []):
            return False
        nsel = hook.get("namespaceSelector")
        if nsel:
            if a.res.plural == "namespaces" and not a.res.group:
                labels = ((obj or old or {}).get("metadata") or {}).get("labels") or {}
                if not match_selector(nsel, labels):
                    return False
            elif a.res.namespaced:
                ns = self.store.get(("", "namespaces"), "", a.namespace)
                labels = (ns or {}).get("metadata", {}).get("labels") or {}
                if not match_selector(nsel, labels):
                    return False
        osel = hook.get("objectSelector")
        if osel:
            ok = any(match_selector(osel, (o.get("metadata") or {}).get("labels") or {})
                     for o in (obj, old) if o is not None)
            if not ok:
                return False
        return True

    # --- calling ----------------------------------------------------------------

    def _endpoint(self, hook, timeout):
        cc = hook.get("clientConfig") or {}
        if cc.get("url"):
            from urllib.parse import urlsplit
            u = urlsplit(cc["url"])
            host, port = u.hostname, u.port or 443
            path = u.path or "/"
            shown = cc["url"]
            addr = (host, port)
        else:
            svc = cc.get("service") or {}
            host = f"{svc.get('name')}.{svc.get('namespace')}.svc"
            port = svc.get("port", 443)
            path = svc.get("path") or "/"
            shown = f"https://{host}:{port}{path}"
            mapped = self.service_map.get(f"{svc.get('name')}.{svc.get('namespace')}")
            if not mapped:
                raise CallError(f'Post "{shown}?timeout={timeout}s": dial tcp: lookup {host}: no such host')
            mh, _, mp = mapped.rpartition(":")
            addr = (mh, int(mp))
        sep = "&" if "?" in path else "?"
        return host, port, addr, f"{path}{sep}timeout={timeout}s", f"{shown}{sep}timeout={timeout}s"

    def _context(self, ca):
        """The TLS client context for a caBundle (cached: loading roots costs more than a request)."""
        with self.pool_lock:
            ctx = self.contexts.get(ca)
        if ctx is not None:
            return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if ca:
                ctx.load_verify_locations(cadata=base64.b64decode(ca).decode())
            else:
                ctx.load_default_certs()
        except (ValueError, ssl.SSLError) as e:
            raise CallError(f"could not get REST client: unable to load root certificates: {e}")
        with self.pool_lock:
            self.contexts[ca] = ctx
        return ctx

    def _connect(self, ctx, host, port, addr, shown, timeout):
        try:
            sock = socket.create_connection(addr, timeout=timeout)
        except socket.timeout:
            raise CallError(f'Post "{shown}": context deadline exceeded')
        except OSError as e:
            raise CallError(f'Post "{shown}": dial tcp {addr[0]}:{addr[1]}: connect: {e.strerror or e}')
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = ctx.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as e:
            sock.close()
            # Go's wording, which is what users of the real API server see.
            why = {19: "certificate signed by unknown authority", 20: "certificate signed by unknown authority",
                   21: "certificate signed by unknown authority", 10: "certificate has expired or is not yet valid",
                   62: f"certificate is not valid for {host}"}.get(e.verify_code, e.verify_message)
            raise CallError(f'Post "{shown}": tls: failed to verify certificate: x509: {why}')
        except (socket.timeout, TimeoutError):
            sock.close()
            raise CallError(f'Post "{shown}": context deadline exceeded')
        except OSError as e:
            sock.close()
            raise CallError(f'Post "{shown}": {e}')
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = tls
        return conn

    def _post(self, hook, review, timeout):
        """POSTs the review. Connections are kept alive and reused per endpoint and caBundle, as
        kube-apiserver's HTTP transport does; a reused connection the webhook had closed is
        retried once on a new one."""
        host, port, addr, path, shown = self._endpoint(hook, timeout)
        ca = (hook.get("clientConfig") or {}).get("caBundle")
        ctx = self._context(ca)
        key = (addr, host, port, ca)
        body = json.dumps(review).encode()
        deadline = time.monotonic() + timeout
        for attempt in (0, 1):
            with self.pool_lock:
                idle = self.idle.get(key) or []
                conn = idle.pop() if idle and attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = self._connect(ctx, host, port, addr, shown, max(0.01, deadline - time.monotonic()))
            try:
                conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                conn.request("POST", path, body, {"Content-Type": "application/json", "Accept": "application/json",
                                                  "Host": f"{host}:{port}"})
                resp = conn.getresponse()
                data = resp.read()
            except (socket.timeout, TimeoutError):
                conn.close()
                raise CallError(f'Post "{shown}": context deadline exceeded')
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if reused:
                    continue
                raise CallError(f'Post "{shown}": {e}')
            if resp.will_close:
                conn.close()
            else:
                with self.pool_lock:
                    idle = self.idle.setdefault(key, [])
                    if len(idle) < 8:
                        idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()
            break
        if resp.status != 200:
            raise CallError(f'an error on the server ("{data[:200].decode(errors="replace")}") has prevented the request from succeeding')
        try:
            out = json.loads(data)
        except ValueError as e:
            raise CallError(f"failed to decode the webhook response: {e}")
        if not isinstance(out, dict) or out.get("apiVersion") != "admission.k8s.io/v1" or out.get("kind") != "AdmissionReview":
            got = f"{out.get('apiVersion')}, Kind={out.get('kind')}" if isinstance(out, dict) else "?"
            raise CallError(f"expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {got}")
        r = out.get("response")
        if not isinstance(r, dict):
            raise CallError("webhook response was absent")
        if r.get("uid") != review["request"]["uid"]:
            raise CallError(f'expected response.uid="{review["request"]["uid"]}", got "{r.get("uid", "")}"')
        return r

    def _review(self, a, obj, old):
        res = a.res
        kind = {"group": res.group, "version": res.version, "kind": res.kind}
        resource = {"group": res.group, "version": res.version, "resource": res.plural}
        req = {"uid": a.uid, "kind": kind, "resource": resource, "requestKind": kind, "requestResource": resource,
               "name": a.name, "operation": a.operation, "userInfo": a.user, "object": obj, "oldObject": old,
               "dryRun": a.dry_run}
        if a.namespace:
            req["namespace"] = a.namespace
        if a.sub:
            req["subResource"] = a.sub
            req["requestSubResource"] = a.sub
        if a.options is not None:
            req["options"] = a.options
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}

    def _invoke(self, hook, a, obj, old, warnings):
        """-> response dict, or None when the call failed under failurePolicy Ignore."""
        name = hook.get("name", "")
        if a.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise ApiError(400, "BadRequest", f'admission webhook "{name}" does not support dry run')
        timeout = int(hook.get("timeoutSeconds") or 10)
        try:
            r = self._post(hook, self._review(a, jcopy(obj), jcopy(old)), timeout)
        except CallError as e:
            self.log(f"webhook {name}: {e}")
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return None
            raise internal(f'failed calling webhook "{name}": failed to call webhook: {e}')
        for w in r.get("warnings") or []:
            warnings.append(str(w))
        if not r.get("allowed"):
            st = r.get("status") or {}
            msg = st.get("message") or st.get("reason")
            text = f'admission webhook "{name}" denied the request' + (f": {msg}" if msg else " without explanation")
            code = st.get("code") or 0
            if code < 400:
                code = 400
            err = ApiError(code, st.get("reason", ""), text, st.get("details"))
            raise err
        return r

    def mutate(self, a, obj, old, warnings):
        """Run mutating webhooks; returns the (possibly patched) object."""
        if a.operation == "DELETE":
            obj = None
        hooks = [h for _, h in self._hooks(MUTATING)]
        ran, changed_at = [], []
        for i, hook in enumerate(hooks):
            if not self._matches(hook, a, obj, old):
                continue
            new = self._apply(hook, self._invoke(hook, a, obj, old, warnings), obj)
            ran.append(i)
            if new != obj:
                changed_at.append(i)
                obj = new
        if changed_at:
            last = changed_at[-1]
            again = [i for i in ran if i < last and hooks[i].get("reinvocationPolicy") == "IfNeeded"]
            for i in again:
                hook = hooks[i]
                if self._matches(hook, a, obj, old):
                    obj = self._apply(hook, self._invoke(hook, a, obj, old, warnings), obj)
        return obj

    def _apply(self, hook, r, obj):
        if r is None or not r.get("patch") or obj is None:
            return obj
        if r.get("patchType") != "JSONPatch":
            raise internal(f'failed calling webhook "{hook.get("name")}": webhook returned response.patchType of "{r.get("patchType", "")}" which is not supported')
        try:
            ops = json.loads(base64.b64decode(r["patch"]))
            return patchlib.json_patch(obj, ops)
        except (ValueError, patchlib.PatchError) as e:
            raise internal(f"JSON patch from webhook {hook.get('name')} could not be applied: {e}")

    def validate(self, a, obj, old, warnings):
        if a.operation == "DELETE":
            obj = None
        for _, hook in self._hooks(VALIDATING):
            if self._matches(hook, a, obj, old):
                self._invoke(hook, a, obj, old, warnings)
