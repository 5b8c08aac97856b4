"""scripts/valgrind-server: the release server under valgrind memcheck through every route and bad input, zero errors.

Valgrind cannot run a sanitizer build, so this uses the release binary
(build/pgwarden in the source tree, built by scripts/test) and is skipped
when it is missing.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

import pgw

BUILD_DIR = os.environ.get("PGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
RELEASE_BIN = os.path.join(pgw.SOURCE_DIR, "build", "pgwarden")


@unittest.skipUnless(os.path.exists(RELEASE_BIN) and shutil.which("valgrind"), "needs build/pgwarden and valgrind")
class ValgrindServerTest(unittest.TestCase):
    def test_memcheck_clean(self):
        out = subprocess.run([sys.executable, os.path.join(pgw.SOURCE_DIR, "scripts", "valgrind-server"),
                              "--bin", RELEASE_BIN, "--loadgen", os.path.join(BUILD_DIR, "loadgen")],
                             capture_output=True, text=True, timeout=600)
        print(out.stdout)
        self.assertEqual(out.returncode, 0, out.stderr[-8000:])
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertTrue(summary["pass"])
        self.assertIn("loadgen:", out.stdout)


if __name__ == "__main__":
    unittest.main()
