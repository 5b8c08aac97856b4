#!/usr/bin/env python3
"""Time to a usable first page of the web UI in headless Chromium (target: 1 s).

On the real test bed (default): a ServiceAccount in namespace ui-bench that may
list PostgresClusters logs in once, then each of N runs opens a new browser
context (empty cache: every file over TLS again) and times, from the
navigation's start:

  login  the login page with its token field ready for input;
  list   the clusters list rendered for a user already logged in (the session
         token in sessionStorage), its API call (impersonated list) included.

    eval "$(scripts/testbed env)"; scripts/testbed install
    python3 bench/ui_first_page.py [--runs N]
    python3 bench/ui_first_page.py --base https://HOST:PORT [--token K8S_TOKEN]   (any pgwarden; TLS not checked)

Browser start-up is reported apart (it is the browser's, not the page's).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
NS = "ui-bench"
RBAC = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: bench, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: bench, namespace: {NS}}}
rules:
- apiGroups: [pgwarden.io]
  resources: [postgresclusters]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: bench, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: bench}}
subjects: [{{kind: ServiceAccount, name: bench, namespace: {NS}}}]
"""


def summary(name, runs):
    ms = sorted(r["ms"] for r in runs)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    print(f"{name:6} median {statistics.median(ms):6.0f} ms   p90 {p90:6.0f} ms   max {ms[-1]:6.0f} ms   "
          f"(DOMContentLoaded median {statistics.median(r['domContentLoaded'] for r in runs):.0f} ms, "
          f"{runs[0]['bytes']} bytes transferred: page + {', '.join(sorted(set(runs[0]['files'])))})")
    return ms[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--base")
    ap.add_argument("--token")
    ap.add_argument("--spki")
    a = ap.parse_args()
    from test_ui_browser import api_endpoint, browser_modules
    sc = {"modules": browser_modules(), "runs": a.runs, "base": a.base, "token": a.token, "spki": a.spki}
    tb = None
    if not a.base:
        from testbed import Testbed
        tb = Testbed()
        tb.namespace(NS)
        tb.kubectl("apply", "-f", "-", stdin=RBAC)
        sc["token"] = tb.kubectl("create", "token", "bench", "-n", NS, "--duration=1h").stdout.strip()
        sc["base"], sc["spki"] = api_endpoint(tb)
    try:
        p = subprocess.run(["node", os.path.join(ROOT, "test", "ui", "first_page.mjs"), json.dumps(sc)],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"first_page.mjs failed ({p.returncode}):\n{p.stderr[-4000:]}")
        r = json.loads(p.stdout)
    finally:
        if tb:
            tb.delete_namespace(NS)
    size = sum(os.path.getsize(os.path.join(ROOT, "ui", f)) for f in os.listdir(os.path.join(ROOT, "ui"))
               if f.rsplit(".", 1)[-1] in ("html", "js", "css", "svg", "png"))
    print(f"{sc['base']}/ui/, {a.runs} runs, Chromium {r['chromium']} headless (start-up {r['launchMs']} ms); "
          f"ui/ is {size} bytes")
    worst = summary("login", r["login"])
    if r["list"]:
        worst = max(worst, summary("list", r["list"]))
    print(f"target: usable first page within 1000 ms: {'met' if worst <= 1000 else 'MISSED'} (worst {worst} ms)")
    return 0 if worst <= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
