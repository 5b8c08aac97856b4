"""Smoke run of every libFuzzer harness (fuzz/README.md): builds them in
build-fuzz/ and runs each for a few seconds from the committed seeds. A crash,
leak, sanitizer report or property violation fails the test; so does a
harness that executes nothing. The long campaigns run with scripts/fuzz."""
import os
import re
import subprocess
import unittest

SOURCE = os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SECONDS = os.environ.get("PGW_FUZZ_SMOKE_SECONDS", "10")


class FuzzSmoke(unittest.TestCase):
    def test_every_harness_runs_clean(self):
        env = dict(os.environ, PGW_FUZZ_BUILD_DIR=os.path.join(SOURCE, "build-fuzz"))
        p = subprocess.run([os.path.join(SOURCE, "scripts", "fuzz"), SECONDS], cwd=SOURCE, env=env,
                           capture_output=True, text=True, timeout=600)
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        harnesses = sorted(f[:-2] for f in os.listdir(os.path.join(SOURCE, "fuzz"))
                           if f.startswith("fuzz_") and f.endswith(".c"))
        self.assertGreaterEqual(len(harnesses), 7)
        for h in harnesses:
            m = re.search(r"^%s\s+(\d+)\s+\S+\s+\S+\s+ok$" % h, p.stdout, re.M)
            self.assertIsNotNone(m, "no result line for " + h)
            self.assertGreater(int(m.group(1)), 0, h + " executed nothing")


if __name__ == "__main__":
    unittest.main()
