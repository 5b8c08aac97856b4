"""Certificates (with the openssl CLI) and kubeconfig for the stand-in.

--tls-dir holds ca.crt/ca.key (the cluster CA), tls.crt/tls.key (serving
certificate for localhost and 127.0.0.1), client.crt/client.key (CN=admin,
O=system:masters) and `token` (a random bearer token). Existing files are
reused, so a restarted stand-in keeps its identity and clients keep working.
"""
import base64
import os
import secrets
import subprocess


def _run(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _leaf(d, name, subj, ext):
    if os.path.exists(os.path.join(d, f"{name}.crt")):
        return
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj], d)
    _run(["x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
          "-days", "365", "-out", f"{name}.crt", "-extfile", f"{name}.ext"], d)
    os.remove(os.path.join(d, f"{name}.csr"))


def ensure(d):
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "ca.crt")):
        _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", "ca.key", "-out", "ca.crt", "-days", "365", "-subj", "/CN=stand-in-ca",
              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    _leaf(d, "tls", "/CN=kube-apiserver",
          "subjectAltName=DNS:localhost,DNS:kubernetes.default.svc,IP:127.0.0.1\n"
          "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
    _leaf(d, "client", "/O=system:masters/CN=admin", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")
    tok = os.path.join(d, "token")
    if not os.path.exists(tok):
        with open(tok, "w") as f:
            f.write(secrets.token_hex(24))
    with open(tok) as f:
        return f.read().strip()


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, d, server, token, client_cert=False, namespace="default"):
    if client_cert:
        user = (f"    client-certificate-data: {_b64(os.path.join(d, 'client.crt'))}\n"
                f"    client-key-data: {_b64(os.path.join(d, 'client.key'))}\n")
    else:
        user = f"    token: {token}\n"
    text = ("apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n"
            f"    server: {server}\n    certificate-authority-data: {_b64(os.path.join(d, 'ca.crt'))}\n"
            "users:\n- name: admin\n  user:\n" + user +
            "contexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: admin\n"
            f"    namespace: {namespace}\ncurrent-context: stand-in\n")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
