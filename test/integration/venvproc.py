"""A test helper process that runs under the test bed's Patroni Python (which has
psycopg2) and logs JSON lines: the base of pgwriter.Writer and
splitbrain.SplitBrainChecker.

The process gets the apiserver's CA and the admin client pair (--ca, --cert,
--key) to read EndpointSlices and pods, its log path (--log), and the database
password in PGPASSWORD; it stops on SIGTERM. The test reads the log as it grows.
"""
import json
import os
import signal
import subprocess
import time


class LoggedProcess:
    def __init__(self, script, log_name, password, args):
        from testbed import DIR, PKI, SOURCE
        self.password = password
        self.log = os.path.join(DIR, "home", f"{log_name}-{os.getpid()}.log")
        python = os.path.join(SOURCE, ".cache", "testbed", "patroni", "bin", "python3")
        self.args = [python, os.path.abspath(script)] + list(args) + [
            "--log", self.log, "--ca", os.path.join(PKI, "ca.crt"), "--cert", os.path.join(PKI, "admin.crt"),
            "--key", os.path.join(PKI, "admin.key")]
        self.proc = None

    def start_process(self, ready, wait_first, what):
        """Starts the process; returns once ready() is true. Fails after wait_first s, saying
        what() (a function, so it can tell what the log says by then)."""
        if os.path.exists(self.log):
            os.unlink(self.log)
        env = dict(os.environ, PGPASSWORD=self.password)
        self.proc = subprocess.Popen(self.args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + wait_first
        while not ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{what()}: the process exited: {self.proc.stderr.read()}")
            if time.monotonic() > end:
                self.stop()
                raise AssertionError(f"{what()} in {wait_first} s")
            time.sleep(0.2)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        return self

    def entries(self):
        """Every line of the log, decoded."""
        if not os.path.exists(self.log):
            return []
        out = []
        with open(self.log) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by SIGTERM
        return out
