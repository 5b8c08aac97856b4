"""A short run of scripts/soak: mixed valid and invalid load, zero failed requests, no RSS growth beyond noise.

The RSS trend is measured on the release binary (build/pgwarden in the source
tree, built by scripts/test) when it exists: a sanitizer build's RSS grows by
design while ASan's quarantine of freed memory fills, which is not a trend of
the server. The load client comes from the build under test.
"""
import json
import os
import subprocess
import sys
import unittest

import pgw

BUILD_DIR = os.environ.get("PGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
RELEASE_BIN = os.path.join(pgw.SOURCE_DIR, "build", "pgwarden")


class SoakShortTest(unittest.TestCase):
    def test_half_a_minute_of_mixed_load(self):
        binary = RELEASE_BIN if os.path.exists(RELEASE_BIN) else pgw.BIN
        out = subprocess.run([sys.executable, os.path.join(pgw.SOURCE_DIR, "scripts", "soak"), "0.5",
                              "--bin", binary, "--loadgen", os.path.join(BUILD_DIR, "loadgen")],
                             capture_output=True, text=True, timeout=300)
        print(out.stdout)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(out.returncode, 0, out.stderr[-4000:])
        self.assertTrue(summary["pass"], summary["failures"])
        report = summary["loadgen"]
        self.assertGreater(report["sent"], 1000)
        self.assertEqual(report["failed"], 0)
        self.assertEqual(report["ok"], report["sent"])
        self.assertGreater(report["status"].get("400", 0), 0, "the mix includes malformed requests")
        self.assertGreater(report["status"].get("200", 0), 0)
        self.assertGreaterEqual(summary["rss_kib"]["samples"], 20)
        rss = summary["rss_kib"]
        self.assertLessEqual(rss["second_half_growth"], rss["second_half_allowed"])
        self.assertGreaterEqual(rss["second_half_allowed"], summary["noise_floor_kib"])


if __name__ == "__main__":
    unittest.main()
