"""Controller throughput against the kube-apiserver stand-in: N clusters created at once
(through our webhook), time until every one has its children, pods and a current status;
then write requests over a quiet window (steady state) and the controller's RSS.

    PGWARDEN_BIN=build/pgwarden python3 bench/controller_clusters.py 200
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "integration"))
from test_e2e_controller import E2EBase, NS  # noqa: E402
from standin import wait_for  # noqa: E402


def main(n):
    E2EBase.setUpClass()
    t = E2EBase("setUp")
    try:
        t0 = time.monotonic()
        for i in range(n):
            obj = {"apiVersion": "pgwarden.io/v1", "kind": "PostgresCluster",
                   "metadata": {"name": f"b{i}", "namespace": NS}, "spec": {"storage": {"size": "1Gi"}}}
            code, out, _ = t.k.api("POST", f"/apis/pgwarden.io/v1/namespaces/{NS}/postgresclusters", obj)
            assert code == 201, out
        t_created = time.monotonic() - t0

        def done():
            code, out, _ = t.k.api("GET", f"/apis/pgwarden.io/v1/namespaces/{NS}/postgresclusters")
            ok = 0
            for c in out["items"]:
                s = c.get("status", {})
                inj = [x for x in s.get("conditions", []) if x["type"] == "SidecarsInjected"]
                if s.get("observedGeneration") == c["metadata"]["generation"] and inj and inj[0]["status"] == "True":
                    ok += 1
            return ok == n
        wait_for(done, 1800, 1.0, what="all clusters converged")
        t_conv = time.monotonic() - t0
        reconciles = t.serve.metric("pgwarden_reconcile_total")
        writes = t.quiet_writes(5.0)
        with open(f"/proc/{t.serve.proc.pid}/status") as f:
            rss = [l for l in f if l.startswith("VmRSS")][0].split()[1]
        print(json.dumps({"clusters": n, "create_seconds": round(t_created, 1), "converged_seconds": round(t_conv, 1),
                          "clusters_per_second": round(n / t_conv, 2), "reconciles": reconciles,
                          "steady_state_writes_5s": len(writes), "controller_rss_kib": int(rss)}))
    finally:
        E2EBase.tearDownClass()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
