"""The build a packager runs, and the compilers we promise (docs/building.md).

Builds the whole tree Release and Debug with gcc and with clang, warnings as
errors (PGW_WERROR=ON), in .cache/build-matrix/<compiler>-<type> (kept, so a
second run only re-checks); configures once the way a packager does (no
PGW_WERROR: it must succeed and must not add -Werror); installs the gcc
Release build with DESTDIR and checks the tree: bin/pgwarden runs, bin/
kubectl-pgwarden is a relative link to it, pgwarden(1) names every command of
`pgwarden --help`, the manifests (and charts/, monitoring/ when the checkout
has them) are under share/pgwarden. Also checks that every cmake configure in
scripts/ and .ci/ turns warnings-as-errors on."""
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

SOURCE = os.path.abspath(os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
CACHE = os.path.join(SOURCE, ".cache", "build-matrix")
VARIANTS = [(cc, bt) for cc in ("gcc", "clang") for bt in ("Release", "Debug")]
JOBS = str(os.cpu_count() or 2)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def build_dir(cc, bt):
    return os.path.join(CACHE, "%s-%s" % (cc, bt.lower()))


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        return re.search(r"project\(pgwarden VERSION (\S+)", f.read()).group(1)


def help_commands(binary):
    """The command names `pgwarden --help` lists (its "commands:" block)."""
    out = run([binary, "--help"], timeout=30).stdout
    block = out.split("commands:", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)\s", block, re.M)]


class BuildMatrix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(CACHE, exist_ok=True)
        # One run at a time per checkout: the build directories are shared.
        cls.lock = open(os.path.join(CACHE, ".lock"), "w")
        fcntl.flock(cls.lock, fcntl.LOCK_EX)
        cls.results = {}
        for cc, bt in VARIANTS:
            d = build_dir(cc, bt)
            t0 = time.monotonic()
            p = run(["cmake", "-S", SOURCE, "-B", d, "-DCMAKE_BUILD_TYPE=" + bt, "-DCMAKE_C_COMPILER=" + cc,
                     "-DPGW_WERROR=ON"], timeout=300)
            if p.returncode == 0:
                p = run(["cmake", "--build", d, "-j" + JOBS], timeout=1200)
            cls.results[(cc, bt)] = p
            print("build %s %s: rc %d in %.0f s" % (cc, bt, p.returncode, time.monotonic() - t0), flush=True)

    @classmethod
    def tearDownClass(cls):
        cls.lock.close()

    def test_matrix_builds_with_warnings_as_errors(self):
        for cc, bt in VARIANTS:
            with self.subTest(compiler=cc, type=bt):
                p = self.results[(cc, bt)]
                self.assertEqual(p.returncode, 0, p.stdout[-4000:] + p.stderr[-4000:])
                with open(os.path.join(build_dir(cc, bt), "compile_commands.json")) as f:
                    commands = json.load(f)
                self.assertGreater(len(commands), 50)
                opt = "-O3" if bt == "Release" else "-g"
                for c in commands:
                    self.assertIn(" -Werror ", c["command"] + " ", c["file"])
                    self.assertIn(opt, c["command"].split(), c["file"])
                    self.assertTrue(os.path.basename(c["command"].split()[0]).startswith(cc), c["command"])
                self.assertTrue(os.access(os.path.join(build_dir(cc, bt), "pgwarden"), os.X_OK))

    def test_packager_configure_adds_no_werror(self):
        d = os.path.join(CACHE, "packager")
        p = run(["cmake", "-S", SOURCE, "-B", d, "-DCMAKE_BUILD_TYPE=Release"], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(d, "CMakeCache.txt")) as f:
            self.assertIn("PGW_WERROR:BOOL=OFF", f.read())
        with open(os.path.join(d, "compile_commands.json")) as f:
            commands = json.load(f)
        self.assertGreater(len(commands), 50)
        for c in commands:
            self.assertNotIn("-Werror", c["command"], c["file"])
            self.assertIn("-Wall", c["command"].split(), c["file"])

    def test_install_tree(self):
        self.assertEqual(self.results[("gcc", "Release")].returncode, 0, "the gcc Release build failed")
        with tempfile.TemporaryDirectory(prefix="pgw-install-") as dest:
            # As a distribution package is staged: prefix /usr, files under DESTDIR.
            p = run(["cmake", "--install", build_dir("gcc", "Release"), "--prefix", "/usr"],
                    env=dict(os.environ, DESTDIR=dest), timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            usr = os.path.join(dest, "usr")
            binary = os.path.join(usr, "bin", "pgwarden")
            v = run([binary, "version"], timeout=30)
            self.assertEqual((v.returncode, v.stdout), (0, "pgwarden %s\n" % project_version()))

            link = os.path.join(usr, "bin", "kubectl-pgwarden")
            self.assertTrue(os.path.islink(link))
            self.assertEqual(os.readlink(link), "pgwarden")  # relative: the staged tree can move
            self.assertTrue(os.path.samefile(link, binary))

            man = os.path.join(usr, "share", "man", "man1", "pgwarden.1")
            with open(man) as f, open(os.path.join(SOURCE, "docs", "pgwarden.1")) as g:
                self.assertEqual(f.read(), g.read())

            share = os.path.join(usr, "share", "pgwarden")
            self.assertTrue(os.path.isfile(os.path.join(share, "manifests", "kustomization.yaml")))
            for d in ("manifests", "charts", "monitoring"):
                src = os.path.join(SOURCE, d)
                if not os.path.isdir(src):
                    self.assertFalse(os.path.exists(os.path.join(share, d)), d)
                    continue
                for root, _, files in os.walk(src):
                    for name in files:
                        rel = os.path.relpath(os.path.join(root, name), SOURCE)
                        self.assertTrue(os.path.isfile(os.path.join(share, rel)), rel + " not installed")
            # Nothing else: no test programs, no static libraries, no headers.
            self.assertEqual(sorted(os.listdir(os.path.join(usr, "bin"))), ["kubectl-pgwarden", "pgwarden"])
            self.assertEqual(sorted(os.listdir(usr)), ["bin", "share"])

    def test_man_page_names_every_command(self):
        self.assertEqual(self.results[("gcc", "Release")].returncode, 0, "the gcc Release build failed")
        commands = help_commands(os.path.join(build_dir("gcc", "Release"), "pgwarden"))
        self.assertIn("serve", commands)
        self.assertIn("version", commands)
        with open(os.path.join(SOURCE, "docs", "pgwarden.1")) as f:
            page = f.read()
        for c in commands:
            self.assertRegex(page, r"(?m)^\.TP\n\.B %s(\s|$)" % re.escape(c), "pgwarden(1) has no entry for " + c)
        self.assertIn('"pgwarden %s"' % project_version(), page)
        if shutil.which("groff"):  # man-db's renderer; lints the roff
            p = run(["groff", "-man", "-ww", "-z", os.path.join(SOURCE, "docs", "pgwarden.1")], timeout=30)
            self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_our_scripts_build_with_warnings_as_errors(self):
        configures = []
        for d in ("scripts", ".ci"):
            for name in sorted(os.listdir(os.path.join(SOURCE, d))):
                path = os.path.join(SOURCE, d, name)
                if not os.path.isfile(path):
                    continue
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        if re.match(r"\s*(exec\s+)?cmake\s+(-S|-B|-D|\.)", line):
                            configures.append(("%s/%s:%d" % (d, name, n), line))
        self.assertGreaterEqual(len(configures), 2)  # scripts/build, scripts/fuzz
        for where, line in configures:
            self.assertIn("-DPGW_WERROR=ON", line, where)


if __name__ == "__main__":
    unittest.main()
