"""`kubectl logs` on the test bed: the real kube-apiserver asks the process kubelet's API
(GET /containerLogs/NS/POD/CONTAINER over HTTPS, with the apiserver's client certificate) for
the lines busybox containers print.

One pod `printer` with two containers (a prints three lines, then a tick a second for 12 s and
exits; b prints one line and sleeps) and one pod `crasher` whose container prints run-1 and
fails, then prints run-2 and sleeps (an emptyDir counts the runs):

  - plain logs, --tail, --limit-bytes and --since (per run: a run over before it gives
    nothing, any other all its lines); the kubelet's own start lines never show;
  - -f reads a line printed after it started and ends by itself when the container exits;
  - -c picks a container of the two; a container the pod does not have is refused;
  - --previous gives the run before the current one, and a clear error for a container that
    has had only one run.
No PostgresCluster, so no writer: nothing here operates on a database.
"""
import os
import re
import subprocess
import time
import unittest

from standin import wait_for
from testbed import Testbed

NS = "logs-tb"
PODS = f"""apiVersion: v1
kind: Pod
metadata: {{name: printer, namespace: {NS}}}
spec:
  restartPolicy: Never
  containers:
    - name: a
      image: docker.io/library/busybox
      command: [sh, -c, 'echo first; echo second; echo third; i=0; while [ $i -lt 12 ]; do i=$((i+1)); echo tick-$i; sleep 1; done; echo done']
    - name: b
      image: docker.io/library/busybox
      command: [sh, -c, 'echo from-b; exec sleep 3600']
---
apiVersion: v1
kind: Pod
metadata: {{name: crasher, namespace: {NS}}}
spec:
  containers:
    - name: c
      image: docker.io/library/busybox
      command: [sh, -c, 'n=$(( $(cat /runs/n 2>/dev/null || echo 0) + 1 )); echo $n > /runs/n; echo run-$n; [ $n -ge 2 ] && exec sleep 3600; exit 1']
      volumeMounts: [{{name: runs, mountPath: /runs}}]
  volumes: [{{name: runs, emptyDir: {{}}}}]
"""


class KubectlLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = Testbed()
        cls.tb.namespace(NS)
        cls.tb.kubectl("apply", "-f", "-", stdin=PODS)

    @classmethod
    def tearDownClass(cls):
        cls.tb.delete_namespace(NS)

    def logs(self, *args, check=True):
        return self.tb.kubectl("logs", "-n", NS, *args, check=check)

    def test_logs(self):
        t0 = time.monotonic()
        wait_for(lambda: "tick-2" in self.logs("printer", "-c", "a", check=False).stdout, 120, 0.3,
                 what="printer's container a ticking")
        # -f from the last line on, first (the container ticks for 12 s only): a tick printed
        # after it started arrives, and the stream ends by itself once the container exits.
        f = subprocess.Popen([os.path.join(self.tb.bin, "kubectl"), "logs", "-n", NS, "printer", "-c", "a",
                              "-f", "--tail=1"], env=dict(os.environ, KUBECONFIG=self.tb.kubeconfig),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = f.stdout.readline()
            m = re.fullmatch(r"tick-(\d+)\n", first)
            self.assertIsNotNone(m, first)
            if int(m.group(1)) < 12:
                later = f.stdout.readline()
                self.assertEqual(later, f"tick-{int(m.group(1)) + 1}\n")
            rest, err = f.communicate(timeout=60)
            self.assertEqual(f.returncode, 0, err)
            self.assertTrue(rest.endswith("tick-12\ndone\n"), rest)
            ended = time.monotonic()
        finally:
            if f.poll() is None:
                f.kill()
                f.communicate()

        # Once it is over: the whole run, its end, its start.
        out = self.logs("printer", "-c", "a").stdout
        self.assertTrue(out.startswith("first\nsecond\nthird\ntick-1\ntick-2\n") and out.endswith("tick-12\ndone\n"), out)
        self.assertNotIn("----", out)  # the kubelet's start line is not container output
        self.assertEqual(self.logs("printer", "-c", "a", "--tail=2").stdout, "tick-12\ndone\n")
        self.assertEqual(self.logs("printer", "-c", "a", "--limit-bytes=9").stdout, "first\nsec")
        self.assertTrue(self.logs("printer", "-c", "a", "--since=1h").stdout.startswith("first\n"))
        # since works per run (the file keeps no time per line): a run over before it gives nothing.
        time.sleep(max(0.0, ended + 2 - time.monotonic()))
        self.assertEqual(self.logs("printer", "-c", "a", "--since=1s").stdout, "")

        # -c: the other container; one the pod does not have is refused.
        self.assertEqual(self.logs("printer", "-c", "b").stdout, "from-b\n")
        p = self.logs("printer", "-c", "nope", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("container nope is not valid for pod printer", p.stderr)
        status, body = self.tb.api("GET", f"/api/v1/namespaces/{NS}/pods/printer/log?container=nope")
        self.assertEqual(status, 400, body)

        # --previous: the crasher's first run; the printer's a has had no run before this one.
        wait_for(lambda: self.logs("crasher", check=False).stdout == "run-2\n", 120, 0.3, what="crasher's second run")
        self.assertEqual(self.logs("crasher", "--previous").stdout, "run-1\n")
        p = self.logs("printer", "-c", "a", "--previous", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('previous terminated container "a" in pod "printer" not found', p.stderr)
        print(f"\n  kubectl logs checks took {time.monotonic() - t0:.1f} s", end=" ")


if __name__ == "__main__":
    unittest.main()
