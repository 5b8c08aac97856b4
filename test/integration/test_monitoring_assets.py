"""The monitoring assets (monitoring/, docs/monitoring.md) against the real tools and the real exporters.

RuleFiles (no test bed, seconds):
  - promtool (Debian's prometheus) checks the rule groups, which rule-groups prints from the
    one PrometheusRule source, and runs the rule unit tests of monitoring/prometheus/tests/:
    each alert fires on synthetic series that should fire it and stays quiet on ones that
    should not;
  - every alert has a severity, a `for:`, and a summary and description that name where it is;
    every alert has a firing and a quiet case in the tests;
  - the Grafana dashboard: uid and title, a datasource variable that every panel and target
    uses, and no target naming a variable that does not exist;
  - the PodMonitor example scrapes the port names the operator's Deployment and the injected
    exporter really have.

MetricCoverage (test bed, a few minutes): every metric name the rules and the dashboard use is
really exported. A 2-instance PostgreSQL 15 cluster with a volume repository is created, a
writer commits through PgBouncer throughout (so the pooler has server connections) and must
lose no acknowledged row, a full backup completes, and then each pod's exporter sidecar
(pod IP:9187/metrics) and each operator pod's /metrics (pod IP:8080) are scraped. The test
fails listing the names no scrape returned. The backup series must carry the completion time
the cluster's status.lastBackup names.
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import yaml

from pgwriter import Writer
from standin import wait_for
from testbed import NamespaceTestCase, retry, wait_cluster

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MON = os.path.join(SOURCE, "monitoring")
RULES = os.path.join(MON, "prometheus", "pgwarden-rules.yaml")
RULE_GROUPS = os.path.join(MON, "prometheus", "rule-groups")
RULE_TESTS = os.path.join(MON, "prometheus", "tests")
DASHBOARD = os.path.join(MON, "grafana", "pgwarden.json")
PODMONITORS = os.path.join(MON, "podmonitors.yaml")

# Series Prometheus itself makes for every target, never exported by anyone.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s", "__all"}


def rule_groups_text():
    return subprocess.run([RULE_GROUPS], check=True, capture_output=True, text=True).stdout


def rules():
    with open(RULES) as f:
        return [r for g in yaml.safe_load(f)["spec"]["groups"] for r in g["rules"]]


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_exprs(dash):
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers that are not functions, keywords,
    label names (inside {...} or a by/without/on/ignoring list), durations or numbers."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings (label values, regex)
    s = re.sub(r"\{[^}]*\}", "", s)                        # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)                       # ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def used_metric_names():
    names = set()
    for r in rules():
        names |= metric_names(r["expr"])
    for e in dashboard_exprs(dashboard()):
        names |= metric_names(e)
    return names - SYNTHETIC


class RuleFiles(unittest.TestCase):
    def setUp(self):
        if shutil.which("promtool") is None:
            self.fail("promtool is missing: scripts/install-deps installs Debian's prometheus")
        self.tmp = tempfile.mkdtemp(prefix="pgw-rules-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_promtool_checks_the_rule_groups(self):
        path = os.path.join(self.tmp, "pgwarden-rules.groups.yaml")
        with open(path, "w") as f:
            f.write(rule_groups_text())
        p = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"SUCCESS: {len(rules())} rules found", p.stdout)

    def test_promtool_rule_tests_pass(self):
        with open(os.path.join(self.tmp, "pgwarden-rules.groups.yaml"), "w") as f:
            f.write(rule_groups_text())
        tests = sorted(n for n in os.listdir(RULE_TESTS) if n.endswith(".yaml"))
        self.assertTrue(tests)
        for name in tests:
            shutil.copy(os.path.join(RULE_TESTS, name), self.tmp)
        p = subprocess.run(["promtool", "test", "rules"] + tests, cwd=self.tmp, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("FAILED", p.stdout + p.stderr)

    def test_every_alert_fires_and_stays_quiet_in_the_tests(self):
        fired, quiet = set(), set()
        for name in os.listdir(RULE_TESTS):
            with open(os.path.join(RULE_TESTS, name)) as f:
                for t in yaml.safe_load(f)["tests"]:
                    for case in t.get("alert_rule_test", []):
                        (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
                        # a quiet case can also be the series that stay quiet beside a firing one
                        if case.get("exp_alerts") and len(t["input_series"]) > len(case["exp_alerts"]):
                            quiet.add(case["alertname"])
        alerts = {r["alert"] for r in rules()}
        self.assertEqual(sorted(alerts - fired), [], "alerts never fired by a test")
        self.assertEqual(sorted(alerts - quiet), [], "alerts never shown quiet by a test")

    def test_alerts_have_severity_for_and_say_where(self):
        for r in rules():
            with self.subTest(alert=r["alert"]):
                self.assertIn(r["labels"]["severity"], ("warning", "critical"))
                self.assertRegex(r.get("for", ""), r"^\d+[smh]$")
                a = r["annotations"]
                self.assertTrue(a["summary"] and a["description"])
                text = a["summary"] + a["description"]
                self.assertIn("$labels.namespace", text)
                if "pgwarden_" not in r["expr"]:  # a database instance: its cluster and pod
                    self.assertIn("$labels.cluster", text)
                    self.assertIn("$labels.pod", text)

    def test_dashboard_is_loadable(self):
        dash = dashboard()
        self.assertTrue(dash.get("uid") and dash.get("title"))
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        for v in ("namespace", "cluster", "instance"):
            self.assertEqual(variables[v]["type"], "query")
            self.assertEqual(variables[v]["datasource"]["uid"], "${datasource}")
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        known = set(variables) | GRAFANA_VARIABLES
        for p in dash["panels"]:
            if p["type"] == "row":
                continue
            with self.subTest(panel=p["title"]):
                self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${datasource}"})
                self.assertTrue(p["targets"])
                for t in p["targets"]:
                    self.assertEqual(t["datasource"]["uid"], "${datasource}")
                    self.assertTrue(t["expr"].strip())
                    used = set(re.findall(r"\$\{?(\w+)", t["expr"]))
                    self.assertEqual(sorted(used - known), [], f"unknown variables in {t['expr']}")
        for v in variables.values():  # the variables' own queries too
            q = v.get("definition", "")
            self.assertEqual(sorted(set(re.findall(r"\$\{?(\w+)", q)) - known), [], q)

    def test_podmonitors_scrape_the_real_ports(self):
        with open(PODMONITORS) as f:
            monitors = {d["metadata"]["name"]: d for d in yaml.safe_load_all(f)}
        with open(os.path.join(SOURCE, "manifests", "operator", "deployment.yaml")) as f:
            deploy = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "Deployment")
        ports = {p["name"]: p["containerPort"] for c in deploy["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        op = monitors["pgwarden-operator"]["spec"]
        self.assertEqual(ports[op["podMetricsEndpoints"][0]["port"]], 8080)
        self.assertTrue(op["podMetricsEndpoints"][0]["honorLabels"])
        self.assertEqual(op["selector"]["matchLabels"], {k: v for k, v in deploy["spec"]["template"]["metadata"]["labels"].items()
                                                         if k in op["selector"]["matchLabels"]})
        ex = monitors["pgwarden-exporter"]["spec"]["podMetricsEndpoints"][0]
        with open(os.path.join(SOURCE, "specs", "pod_layout.h")) as f:
            layout = f.read()
        self.assertIn(f'#define PGW_POD_PORT_EXPORTER_NAME "{ex["port"]}"', layout)
        targets = {r["targetLabel"] for r in ex["relabelings"]}
        self.assertIn("cluster", targets)

    def test_metric_names_are_extracted(self):
        self.assertEqual(metric_names('time() - max by (namespace, cluster) (x_seconds{a="b"}) > 26 * 3600'), {"x_seconds"})
        self.assertEqual(metric_names('sum by (le) (rate(a_bucket{p=~"$x"}[$__rate_interval])) / on(pod) b and c'),
                         {"a_bucket", "b", "c"})
        names = used_metric_names()
        for n in ("pg_up", "pg_pooler_server_connections", "pgwarden_cluster_last_backup_timestamp_seconds",
                  "pgwarden_admission_requests_total", "pg_stat_archiver_failed_count"):
            self.assertIn(n, names)


NS = "mon-cov"
CLUSTER = """apiVersion: pgwarden.io/v1
kind: PostgresCluster
metadata: {name: cov, namespace: mon-cov}
spec:
  postgresVersion: 15
  instances: 2
  storage: {size: 1Gi}
  backup:
    repository:
      volume: {size: 1Gi}
"""


def scrape(url):
    with urllib.request.urlopen(url, timeout=15) as r:
        return r.read().decode()


def exported_names(text):
    return {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0) for line in text.splitlines()
            if line and not line.startswith("#")}


class MetricCoverage(NamespaceTestCase):
    NS = NS

    @classmethod
    def tearDownClass(cls):
        cls.tb.purge_namespace(cls.NS)  # and the volumes its claims left

    def condition(self, type_):
        c = self.tb.get("pgc", "cov", NS)
        return next((x for x in c.get("status", {}).get("conditions", []) if x["type"] == type_), {})

    def test_every_metric_the_rules_and_dashboard_use_is_exported(self):
        tb = self.tb
        tb.kubectl("apply", "-f", "-", stdin=CLUSTER)
        wait_cluster(tb, NS, "cov", 2)
        # Through PgBouncer (6432): its server connections are what pg_pooler_* counts.
        w = Writer(tb, NS, "cov", port=6432).start()
        self.addCleanup(w.stop)
        wait_for(lambda: self.condition("BackupReady").get("status") == "True", 300, 1.0, what="BackupReady")
        tb.kubectl("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "pgwarden.io/v1", "kind": "PostgresBackup", "metadata": {"name": "first", "namespace": NS},
            "spec": {"cluster": "cov", "type": "full"}}))
        b = wait_for(lambda: (lambda o: o if o and o.get("status", {}).get("phase") in ("Succeeded", "Failed")
                              else None)(tb.get("pgbackup", "first", NS)), 300, 2.0, what="backup finished")
        self.assertEqual(b["status"]["phase"], "Succeeded", b["status"].get("message"))
        last = wait_for(lambda: tb.get("pgc", "cov", NS).get("status", {}).get("lastBackup"), 60, 1.0,
                        what="status.lastBackup")
        want = int(datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp())

        pods = json.loads(tb.kubectl("get", "pods", "-n", NS, "-l", "pgwarden.io/cluster=cov", "-o", "json").stdout)["items"]
        self.assertEqual(len(pods), 2)
        series = re.compile(r'^pgwarden_cluster_last_backup_timestamp_seconds\{namespace="mon-cov",cluster="cov"\} (\d+)$', re.M)

        def scrape_all():
            exported, backup = set(), []
            for p in pods:
                ip = p["status"]["podIP"]
                text = scrape(f"http://{ip}:9187/metrics")
                self.assertIn("\npg_up 1\n", "\n" + text, f"pg_up on {p['metadata']['name']}")
                exported |= exported_names(text)
            for p in tb.operator_pods():
                text = scrape(f"http://{p['status']['podIP']}:8080/metrics")
                exported |= exported_names(text)
                backup += [int(v) for v in series.findall(text)]
            # Only the leader exports the per-cluster series, and from its next cluster reconcile on.
            self.assertEqual(backup, [want], "pgwarden_cluster_last_backup_timestamp_seconds of mon-cov/cov")
            missing = sorted(used_metric_names() - exported)
            self.assertEqual(missing, [], "metrics used by monitoring/ but exported by nobody: " + ", ".join(missing))

        retry(scrape_all, 120, "metric coverage")
        w.stop()
        self.assertGreater(w.verify(), 10)


if __name__ == "__main__":
    unittest.main()
