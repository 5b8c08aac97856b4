"""The controller end to end on the real test bed (DESIGN.md §9): kubectl → the
real kube-apiserver (CRD schemas, CEL rules, admission chain, RBAC) → the
DEPLOYED operator (`kubectl apply -k manifests/`, two replicas, one leading),
the real StatefulSet controller and garbage collector, the process kubelet, and
real Patroni in the database pods: Patroni's leader labels its pod and Patroni
keeps the `<cluster>-config` Endpoints with its `config` annotation.

Each test stands alone in namespaces of its own (`e2e-...`) and deletes them.
Steady state is measured from the apiserver's audit log: after convergence, the
operator's ServiceAccount makes no write request in the cluster's namespace
over a quiet window longer than Patroni's loop_wait (Patroni keeps writing its
own Endpoints all the while; the operator must not answer those with writes).

Not here: the stand-in's harness (standin_e2e.py) for the faults a real
apiserver cannot produce on demand (test_e2e_controller_faults.py).
"""
import base64
import json
import os
import time
import unittest
import urllib.request

from standin import wait_for
from testbed import SOURCE, Testbed, retry, wait_cluster

OPERATOR_NS = "pgwarden-system"
CA_SECRET = "pgwarden-webhook-ca"
HOOKS = (("mutatingwebhookconfiguration", "pgwarden-mutating"),
         ("validatingwebhookconfiguration", "pgwarden-validating"))
CREDENTIALS = {"minimal-superuser", "minimal-replication", "minimal-app", "minimal-pgbouncer", "minimal-exporter"}
QUIET_WINDOW = 12.0  # longer than Patroni's loop_wait (10 s): its Endpoints writes fall inside


class ControllerEndToEnd(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.install_pgwarden()

    # --- helpers -----------------------------------------------------------------------

    def kubectl(self, *args, **kw):
        return self.tb.kubectl(*args, **kw)

    def own_namespace(self, name):
        self.tb.namespace(name)
        self.addCleanup(self.tb.delete_namespace, name)
        return name

    def get(self, kind, name, ns):
        return self.tb.get(kind, name, ns)

    def apply_yaml(self, text, ns):
        return self.kubectl("apply", "-n", ns, "-f", "-", stdin=text, check=False)

    def cluster_yaml(self, name, extra=""):
        return f"apiVersion: pgwarden.io/v1\nkind: PostgresCluster\nmetadata: {{name: {name}}}\n" \
               f"spec:\n  storage: {{size: 1Gi}}\n{extra}"

    def condition(self, obj, type_):
        for c in (obj or {}).get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return c
        return None

    def events(self, ns):
        return self.kubectl("get", "events", "-n", ns, "-o", "json").stdout

    def wait_running(self, ns, name, instances=1, timeout=180):
        """Running with `instances` ready, and the status is of the current generation."""
        c = wait_cluster(self.tb, ns, name, instances, timeout)
        return wait_for(lambda: (lambda o: o if o["status"].get("observedGeneration") == o["metadata"]["generation"]
                                 and o["status"].get("phase") == "Running" else None)(self.get("pgc", name, ns)),
                        60, 0.5, what=f"{ns}/{name} status of generation {c['metadata']['generation']}")

    def leader_metrics(self):
        """The leading replica's /metrics text, or None (no leader right now, or it is restarting)."""
        lease = self.get("lease", "pgwarden-controller", OPERATOR_NS) or {}
        holder = (lease.get("spec", {}).get("holderIdentity") or "").split("_")[0]
        pod = self.get("pod", holder, OPERATOR_NS) if holder else None
        ip = (pod or {}).get("status", {}).get("podIP")
        if not ip:
            return None
        try:
            with urllib.request.urlopen(f"http://{ip}:8080/metrics", timeout=3) as r:
                return r.read().decode()
        except OSError:
            return None

    def queue_idle(self):
        text = self.leader_metrics()
        if text is None:
            return False
        depth = [float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("pgwarden_workqueue_depth")]
        return sum(depth) == 0

    def quiet_writes(self, ns, window=QUIET_WINDOW):
        """The operator's writes in `ns` over `window` seconds once its work queue is idle."""
        wait_for(self.queue_idle, 30, 0.5, what="the leading operator's work queue empty")
        time.sleep(1.0)  # let in-flight watch events arrive; not an assertion on timing
        start = self.tb.audit_offset()
        time.sleep(window)
        return self.tb.writes_since(start, namespace=ns)

    def superuser_psql(self, ns, pod, sql):
        ip = self.get("pod", pod, ns)["status"]["podIP"]
        return self.tb.psql(ip, sql, password=self.tb.secret_value(ns, f"{pod.rsplit('-', 1)[0]}-superuser", "password"))

    def patroni_config(self, ns, name):
        ep = self.get("endpoints", f"{name}-config", ns)
        cfg = (ep or {}).get("metadata", {}).get("annotations", {}).get("config")
        return json.loads(cfg) if cfg else None

    # --- caBundle ----------------------------------------------------------------------

    def bundles(self):
        out = {}
        for kind, name in HOOKS:
            obj = json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)
            out[name] = {h["name"]: h["clientConfig"].get("caBundle") for h in obj["webhooks"]}
        return out

    def operator_ready(self):
        pods = self.tb.operator_pods()
        return len(pods) == 2 and all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
            for p in pods)

    def test_cabundle_filled_and_drift_repaired(self):
        want = self.get("secret", CA_SECRET, OPERATOR_NS)["data"]["ca.crt"]  # base64 of the PEM, as caBundle is
        wait_for(lambda: all(set(v.values()) == {want} for v in self.bundles().values()), 30, 0.5,
                 what="every webhook's caBundle is the operator's CA")
        # Drift (a GitOps tool re-applies an old bundle) is repaired. The drift is put on the webhook
        # of postgresrestores, the one the shared test bed's other users are least likely to need in
        # the second it takes.
        hooks = json.loads(self.kubectl("get", "validatingwebhookconfiguration", "pgwarden-validating", "-o",
                                        "json").stdout)["webhooks"]
        index = [h["name"] for h in hooks].index("postgresrestores.validate.pgwarden.io")
        self.kubectl("patch", "validatingwebhookconfiguration", "pgwarden-validating", "--type=json", "-p",
                     json.dumps([{"op": "replace", "path": f"/webhooks/{index}/clientConfig/caBundle",
                                  "value": base64.b64encode(b"not a CA").decode()}]))
        wait_for(lambda: self.bundles()["pgwarden-validating"]["postgresrestores.validate.pgwarden.io"] == want,
                 30, 0.2, what="caBundle repaired")
        self.assertTrue(all(set(v.values()) == {want} for v in self.bundles().values()))
        wait_for(self.operator_ready, 60, 0.5, what="both operator replicas ready")

    # --- converge ----------------------------------------------------------------------

    def test_minimal_example_converges(self):
        ns = self.own_namespace("e2e-converge")
        p = self.kubectl("apply", "-n", ns, "-f", os.path.join(SOURCE, "examples", "cluster-minimal.yaml"))
        self.assertIn("postgrescluster.pgwarden.io/minimal created", p.stdout)
        c = self.get("pgc", "minimal", ns)
        # Defaults applied by the mutating webhook.
        self.assertEqual(c["spec"]["postgresVersion"], 18)
        self.assertEqual(c["spec"]["instances"], 1)
        self.assertTrue(c["spec"]["pooler"]["enabled"])
        # Children with owner references.
        uid = c["metadata"]["uid"]
        children = [("statefulset", "minimal"), ("service", "minimal"), ("service", "minimal-ro"), ("service", "minimal-r"),
                    ("service", "minimal-pods"), ("service", "minimal-config"), ("poddisruptionbudget", "minimal"),
                    ("configmap", "minimal-patroni"), ("configmap", "minimal-pgbouncer"), ("configmap", "minimal-exporter"), ("secret", "minimal-superuser"),
                    ("secret", "minimal-replication"), ("secret", "minimal-app"), ("secret", "minimal-pgbouncer"),
                    ("secret", "minimal-exporter"), ("secret", "minimal-server-tls"), ("serviceaccount", "minimal-instance"), ("role", "minimal-instance"),
                    ("rolebinding", "minimal-instance")]
        for kind, name in children:
            obj = wait_for(lambda: self.get(kind, name, ns), 30, 0.2, what=f"{kind}/{name}")
            refs = [(r["kind"], r["uid"], r.get("controller")) for r in obj["metadata"].get("ownerReferences", [])]
            # The passwords of the roles in the data directory are kept with the volumes: owned by nothing.
            self.assertEqual(refs, [] if kind == "secret" and name in CREDENTIALS else [("PostgresCluster", uid, True)], f"{kind}/{name}")
            self.assertEqual(obj["metadata"]["labels"]["pgwarden.io/cluster"], "minimal")
            if kind != "secret":
                self.assertRegex(obj["metadata"]["annotations"]["pgwarden.io/desired-hash"], r"^[0-9a-f]{16}$")
        # The pod came from the real StatefulSet controller through admission: sidecars injected.
        pod = wait_for(lambda: self.get("pod", "minimal-0", ns), 30, 0.2, what="pod minimal-0")
        self.assertEqual([x["name"] for x in pod["spec"]["containers"]], ["postgres", "pgbouncer", "exporter"])
        self.assertRegex(pod["metadata"]["annotations"]["pgwarden.io/injected"], r"^[0-9a-f]{16}$")
        c = wait_for(lambda: (lambda o: o if (self.condition(o, "SidecarsInjected") or {}).get("status") == "True"
                              else None)(self.get("pgc", "minimal", ns)), 30, 0.2, what="SidecarsInjected=True")
        self.assertIn("pgwarden.io/cleanup", c["metadata"]["finalizers"])
        self.assertEqual(self.condition(c, "Valid")["status"], "True")
        for cond in c["status"]["conditions"]:
            self.assertEqual(cond["observedGeneration"], c["metadata"]["generation"])
        # Patroni bootstraps, takes the leader key and labels its pod → Running, Ready, primary.
        c = self.wait_running(ns, "minimal")
        self.assertEqual(c["status"]["primary"], "minimal-0")
        self.assertEqual(self.get("pod", "minimal-0", ns)["metadata"]["labels"].get("pgwarden.io/role"), "primary",
                         "Running only once Patroni labelled a primary")
        leader = (self.get("endpoints", "minimal", ns) or {}).get("metadata", {}).get("annotations", {}).get("leader")
        self.assertEqual(leader, "minimal-0", "Patroni's leader key")
        self.assertEqual(self.condition(c, "Ready")["status"], "True")
        self.assertEqual(self.condition(c, "Progressing")["status"], "False")
        table = self.kubectl("get", "pgc", "-n", ns).stdout
        self.assertRegex(table, r"NAME\s+PHASE\s+INSTANCES\s+READY\s+UPDATED\s+PRIMARY\s+VERSION\s+AGE")
        self.assertRegex(table, r"minimal\s+Running\s+1\s+1\s+1\s+minimal-0\s+18\s+")
        self.assertIn("PhaseChanged", self.events(ns))
        # Steady state: zero writes, while Patroni keeps writing its Endpoints.
        self.assertEqual(self.quiet_writes(ns), [], "writes in steady state")

    # --- admission ---------------------------------------------------------------------

    def test_invalid_rejected_with_webhook_message(self):
        ns = self.own_namespace("e2e-invalid")
        # A rule only our validating webhook knows: its message, as a 422 field error kubectl renders.
        p = self.kubectl("apply", "-n", ns, "-f", os.path.join(SOURCE, "examples", "invalid", "pghba-trust.yaml"),
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('The PostgresCluster "trusting" is invalid', p.stderr)
        self.assertIn("spec.postgres.pgHba[0]: Forbidden: trust authentication on host lines lets anyone who reaches "
                      "the port log in: use scram-sha-256", p.stderr)
        p = self.kubectl("apply", "-n", ns, "-f", os.path.join(SOURCE, "examples", "invalid", "wal-level-minimal.yaml"),
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('spec.postgres.parameters[wal_level]: Invalid value: "minimal": must be replica or logical when '
                      'spec.instances > 1', p.stderr)
        # A range the CRD schema also states is refused by the real apiserver's schema validation,
        # which runs before validating webhooks: its message, not ours.
        p = self.kubectl("apply", "-n", ns, "-f", os.path.join(SOURCE, "examples", "invalid", "instances-zero.yaml"),
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('The PostgresCluster "bad-instances" is invalid', p.stderr)
        self.assertIn("spec.instances: Invalid value: 0", p.stderr)
        self.assertEqual(json.loads(self.kubectl("get", "pgc", "-n", ns, "-o", "json").stdout)["items"], [])

    def test_guard_marks_bypassing_object_invalid(self):
        # The shipped webhook configurations leave out the operator's own namespace (and kube-system),
        # so an object written there bypasses admission, as one written while the webhooks were
        # missing would. The real apiserver still applies the CRD schema, so the invalid spec is one
        # only our validation catches. The operator watches every namespace, its own included.
        ns, name = OPERATOR_NS, "e2e-guard"
        self.kubectl("delete", "pgc", name, "-n", ns, "--ignore-not-found", "--timeout=60s")
        self.addCleanup(self.kubectl, "delete", "pgc", name, "-n", ns, "--ignore-not-found", "--wait=false",
                        check=False)
        p = self.apply_yaml(self.cluster_yaml(name, "  postgres:\n    pgHba: ['host all all 0.0.0.0/0 trust']\n"), ns)
        self.assertEqual(p.returncode, 0, p.stderr)
        c = wait_for(lambda: (lambda o: o if self.condition(o, "Valid") else None)(self.get("pgc", name, ns)), 30, 0.2,
                     what="Valid condition")
        valid = self.condition(c, "Valid")
        self.assertEqual(valid["status"], "False")
        self.assertIn("spec.postgres.pgHba[0]: Forbidden: trust authentication", valid["message"])
        self.assertEqual(c["status"]["phase"], "Failed")
        self.assertIsNone(self.get("statefulset", name, ns), "no action on an invalid spec")
        self.assertIsNone(self.get("configmap", f"{name}-patroni", ns), "no action on an invalid spec")
        self.assertNotIn("pgwarden.io/cleanup", c["metadata"].get("finalizers", []))
        events = json.loads(self.events(ns))["items"]
        self.assertTrue([e for e in events if e["reason"] == "InvalidSpec" and e["involvedObject"]["name"] == name],
                        "InvalidSpec event")
        self.kubectl("delete", "pgc", name, "-n", ns, "--timeout=60s")

    # --- changes -----------------------------------------------------------------------

    def test_parameter_change_goes_to_patroni_config(self):
        ns = self.own_namespace("e2e-params")
        p = self.apply_yaml(self.cluster_yaml("params"), ns)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_running(ns, "params")
        before = wait_for(lambda: self.patroni_config(ns, "params"), 60, 0.5, what="Patroni's params-config")
        self.kubectl("patch", "pgc", "params", "-n", ns, "--type=merge", "-p",
                     json.dumps({"spec": {"postgres": {"parameters": {"work_mem": "8MB"}}}}))
        cfg = wait_for(lambda: (lambda c: c if c and c.get("postgresql", {}).get("parameters", {}).get("work_mem")
                                == "8MB" else None)(self.patroni_config(ns, "params")), 30, 0.2,
                       what="work_mem in the config annotation")
        # Patroni's other keys and the other parameters are kept.
        self.assertEqual({k: v for k, v in cfg.items() if k != "postgresql"},
                         {k: v for k, v in before.items() if k != "postgresql"})
        for k, v in before.get("postgresql", {}).get("parameters", {}).items():
            if k != "work_mem":
                self.assertEqual(cfg["postgresql"]["parameters"].get(k), v, k)
        # Patroni applies it: PostgreSQL itself reports the new value (a reload, within loop_wait).
        retry(lambda: self.assertEqual(self.superuser_psql(ns, "params-0", "SHOW work_mem"), "8MB"), 60,
              "work_mem in PostgreSQL")
        self.wait_running(ns, "params")
        self.assertEqual(self.quiet_writes(ns), [], "writes in steady state after the change")

    def test_scale_up(self):
        ns = self.own_namespace("e2e-scale")
        p = self.apply_yaml(self.cluster_yaml("scale", "  postgresVersion: 15\n"), ns)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_running(ns, "scale")
        self.kubectl("patch", "pgc", "scale", "-n", ns, "--type=merge", "-p", json.dumps({"spec": {"instances": 3}}))
        wait_for(lambda: (self.get("statefulset", "scale", ns) or {}).get("spec", {}).get("replicas") == 3, 30, 0.2,
                 what="replicas 3")
        c = self.wait_running(ns, "scale", 3, timeout=300)
        self.assertEqual(c["status"]["instances"], 3)
        self.assertEqual(c["status"]["primary"], "scale-0")
        for i in range(3):
            pod = self.get("pod", f"scale-{i}", ns)
            self.assertIn("pgbouncer", [x["name"] for x in pod["spec"]["containers"]])
            self.assertEqual(pod["metadata"]["labels"].get("pgwarden.io/role"), "primary" if i == 0 else "replica")
        retry(lambda: self.assertEqual(self.superuser_psql(
            ns, "scale-0", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"), "2"), 60,
            "two streaming replicas")
        self.assertEqual(self.quiet_writes(ns), [], "writes in steady state after scaling")

    # --- deletion ----------------------------------------------------------------------

    def test_deletion_protection_blocks_delete(self):
        ns = self.own_namespace("e2e-protect")
        # Runs before the namespace's deletion, should an assertion fail with the protection still on.
        self.addCleanup(self.kubectl, "patch", "pgc", "guarded", "-n", ns, "--type=merge", "-p",
                        '{"spec":{"deletionProtection":false}}', check=False)
        p = self.apply_yaml(self.cluster_yaml("guarded", "  deletionProtection: true\n"), ns)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.kubectl("delete", "pgc", "guarded", "-n", ns, "--wait=false", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("spec.deletionProtection: Forbidden: deletion protection is enabled", p.stderr)
        c = self.get("pgc", "guarded", ns)
        self.assertIsNotNone(c)
        self.assertIsNone(c["metadata"].get("deletionTimestamp"))
        self.kubectl("patch", "pgc", "guarded", "-n", ns, "--type=merge", "-p", '{"spec":{"deletionProtection":false}}')
        self.kubectl("delete", "pgc", "guarded", "-n", ns, "--timeout=60s")
        self.assertIsNone(self.get("pgc", "guarded", ns))

    def test_delete_cleans_up(self):
        ns = self.own_namespace("e2e-delete")
        p = self.apply_yaml(self.cluster_yaml("gone"), ns)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_running(ns, "gone")
        password = self.tb.secret_value(ns, "gone-app", "password")
        app_psql = lambda sql: self.tb.psql(self.get("pod", "gone-0", ns)["status"]["podIP"], sql, user="app",
                                            password=password, db="app")
        app_psql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        # Patroni's own Endpoints: the leader key on the read-write Service's, the configuration.
        for name in ("gone", "gone-config"):
            wait_for(lambda: self.get("endpoints", name, ns), 30, 0.5, what=f"Patroni's endpoints {name}")
        self.kubectl("delete", "pgc", "gone", "-n", ns, "--timeout=90s")
        self.assertIsNone(self.get("pgc", "gone", ns))
        wait_for(lambda: self.get("statefulset", "gone", ns) is None, 60, 0.5, what="children garbage-collected")
        wait_for(lambda: not json.loads(self.kubectl("get", "pods", "-n", ns, "-l", "pgwarden.io/cluster=gone", "-o",
                                                     "json").stdout)["items"], 90, 0.5, what="pods gone")
        # With Patroni stopped, none of its Endpoints is left for a re-created cluster to inherit.
        for name in ("gone", "gone-config"):
            self.assertIsNone(self.get("endpoints", name, ns), f"endpoints {name} left behind")
        left = json.loads(self.kubectl("get", "endpoints", "-n", ns, "-l", "pgwarden.io/cluster=gone", "-o",
                                       "json").stdout)["items"]
        self.assertEqual([e["metadata"]["name"] for e in left], [])
        self.assertIn("CleanedUp", self.events(ns))
        # The volume is kept, and with it the Secrets holding its roles' passwords: a cluster of the
        # same name re-created on it, annotated to adopt the earlier cluster's claims, starts (Patroni
        # reaches its PostgreSQL and takes the leader key) and has the data.
        self.assertIsNotNone(self.get("pvc", "pgdata-gone-0", ns), "the volume is kept")
        self.assertEqual(self.tb.secret_value(ns, "gone-app", "password"), password, "the credentials are kept")
        p = self.apply_yaml(self.cluster_yaml("gone").replace(
            "metadata: {name: gone}", "metadata: {name: gone, annotations: {pgwarden.io/adopt-volumes: 'true'}}"), ns)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_running(ns, "gone", timeout=120)
        retry(lambda: self.assertEqual(app_psql("SELECT v FROM kept"), "7"), 30, "the kept row")


if __name__ == "__main__":
    unittest.main()
