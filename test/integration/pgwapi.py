"""A client of pgwarden's REST API (docs/api.md) on the real test bed, for the
test_api_* tests and bench/api_list.py.

The test bed has no kube-proxy and its process kubelet cannot port-forward, so
the API is reached at each operator pod's own address (10.88.x.y:9444), as the
Service pgwarden-api would route it. TLS is verified as a user's client would:
against the CA of Secret pgwarden-system/pgwarden-webhook-ca (the CA the webhook
configurations carry) and the certificate's name pgwarden-webhook.pgwarden-system.svc
(sent as SNI; the pod address is not in the certificate).

People are ServiceAccounts with tokens from `kubectl create token`, bound to
Kubernetes' own roles (view, edit) in their namespace: the API logs them in
with a TokenReview and acts as them.
"""
import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

from standin import wait_for

OPERATOR_NS = "pgwarden-system"
API_PORT = 9444
SERVER_NAME = "pgwarden-webhook.pgwarden-system.svc"
SIGNING_SECRET = "pgwarden-api-signing"
LABELS = "app.kubernetes.io/name=pgwarden"


def ca_file(tb):
    """A file holding the operator's CA certificate (only ca.crt: the Secret also holds the CA's key)."""
    s = tb.get("secret", "pgwarden-webhook-ca", OPERATOR_NS)
    if s is None:
        raise AssertionError("Secret pgwarden-system/pgwarden-webhook-ca is missing: is pgwarden installed?")
    fd, path = tempfile.mkstemp(prefix="pgw-api-ca-", suffix=".crt")
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(s["data"]["ca.crt"]))
    return path


class _Conn(http.client.HTTPSConnection):
    """HTTPS to a pod address, verifying the certificate for SERVER_NAME."""

    def __init__(self, host, port, ctx, timeout):
        super().__init__(host, port, timeout=timeout, context=ctx)
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=SERVER_NAME)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.raw = status, headers, body

    def json(self):
        return json.loads(self.raw) if self.raw else None

    def header(self, name):
        return self.headers.get(name.lower())

    def message(self):
        try:
            return (self.json() or {}).get("message", "")
        except ValueError:
            return self.raw.decode(errors="replace")

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Api:
    """One operator replica's API. Every call opens its own connection unless keep=True."""

    def __init__(self, tb, ip, ca=None, keep=False, timeout=30, port=API_PORT):
        self.tb, self.ip, self.port = tb, ip, port
        self.ca = ca or ca_file(tb)
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.timeout = timeout
        self.keep = keep
        self._conn = None

    def _connection(self):
        if self.keep and self._conn is not None:
            return self._conn
        c = _Conn(self.ip, self.port, self.ctx, self.timeout)
        if self.keep:
            self._conn = c
        return c

    def request(self, method, path, body=None, token=None, headers=None, ctype="application/json"):
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        h.update(headers or {})
        for attempt in range(2):
            c = self._connection()
            try:
                c.request(method, path, body=data, headers=h)
                r = c.getresponse()
                raw = r.read()
                out = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
                out.all_headers = r.getheaders()
                if not self.keep:
                    c.close()
                return out
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed: once more on a new one.
                c.close()
                self._conn = None
                if attempt == 1 or not self.keep:
                    raise

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def login(self, k8s_token):
        """(session JWT, the whole answer); fails unless 200."""
        r = self.request("POST", "/api/v1/login", {"token": k8s_token})
        if r.status != 200:
            raise AssertionError(f"login on {self.ip}: {r}")
        return r.json()["token"], r.json()


def operator_ips(tb):
    return sorted(p["status"]["podIP"] for p in tb.operator_pods()
                  if p["status"].get("podIP") and p["status"].get("phase") == "Running")


def wait_api(tb, timeout=180):
    """[Api] for every Running operator replica, once each serves /api/v1/openapi.json."""
    ca = ca_file(tb)

    def ready():
        ips = operator_ips(tb)
        if len(ips) < 2:
            return None
        apis = [Api(tb, ip, ca) for ip in ips]
        for a in apis:
            try:
                if a.request("GET", "/api/v1/openapi.json").status != 200:
                    return None
            except OSError:
                return None
        return apis
    return wait_for(ready, timeout, 1.0, what="the REST API on every operator replica")


# --- people -------------------------------------------------------------------------------

def person(tb, ns, name, role=None, cluster_role=True):
    """A ServiceAccount NAME in NS, bound to `role` (a ClusterRole: view, edit, admin) in NS;
    returns its username."""
    tb.kubectl("create", "serviceaccount", name, "-n", ns, check=False)
    if role:
        tb.kubectl("create", "rolebinding", f"{name}-{role}", "-n", ns,
                   f"--{'clusterrole' if cluster_role else 'role'}={role}", f"--serviceaccount={ns}:{name}", check=False)
    return f"system:serviceaccount:{ns}:{name}"


def k8s_token(tb, ns, name, duration="1h"):
    """A bound ServiceAccount token, as `kubectl create token` gives a person."""
    return tb.kubectl("create", "token", name, "-n", ns, f"--duration={duration}").stdout.strip()


def kubectl_with_token(tb, token, *args, stdin=None):
    """kubectl as the token's owner (no admin certificate): the refusal the person would see."""
    env = dict(os.environ, KUBECONFIG="/dev/null", HOME=tb.home)
    server = "https://127.0.0.1:6443"
    ca = os.path.join(os.path.dirname(tb.kubeconfig), "ca.crt")
    return subprocess.run([os.path.join(tb.bin, "kubectl"), "--request-timeout=30s", f"--server={server}",
                           f"--certificate-authority={ca}", f"--token={token}"] + list(args),
                          input=stdin, env=env, capture_output=True, text=True, timeout=120)


def can_i(tb, user, verb, resource, ns):
    r = tb.kubectl("auth", "can-i", verb, resource, "-n", ns, as_user=user, check=False)
    return r.stdout.strip() == "yes"


# --- the session keys -----------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), b64url_decode(s)


def sign_es256(header, claims, pem):
    """A JWT signed with the EC P-256 key `pem` (what the operator's replicas share)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    signing_input = f"{b64url(json.dumps(header, separators=(',', ':')).encode())}." \
                    f"{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def signing_secret(tb):
    s = tb.get("secret", SIGNING_SECRET, OPERATOR_NS)
    if s is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def operator_log(tb, since=None):
    """Every operator replica's log (kubectl logs), joined."""
    out = []
    for p in tb.operator_pods():
        args = ["logs", "-n", OPERATOR_NS, p["metadata"]["name"]]
        if since:
            args.append(f"--since-time={since}")
        out.append(tb.kubectl(*args, check=False, timeout=60).stdout)
    return "\n".join(out)


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
