"""Our parameter checks agree with the real PostgreSQL 14-18 on every value of a corpus.

For each major (installed by scripts/fetch-postgres) a corpus of valid and
invalid values is generated from the catalog: every bool, integer, real and
enum parameter gets boundary values (min, max, one past each), unit spellings
and conversions, number syntaxes (hex, octal, exponent, fractions, whitespace),
Boolean prefixes and enum case; plus internal, alias, custom and unknown names.
Each line goes through test/tools/pg_param_check (our validator) and through
the real server: the value is written into postgresql.conf of an initdb'd data
directory and `postgres -D dir -C port` parses the file exactly as a starting
server does, exiting non-zero with a LOG line naming each parameter it refused.

To stay fast, lines are checked in batches holding each parameter at most once;
a refusal is attributed by the parameter name in the server's message, the
other lines of the batch are re-run together to confirm they pass, and a batch
failing with a message that names no parameter is split in halves until every
line is judged. Parameters whose checks depend on each other are run alone.

The npm builds lack lz4 and zstd, which the production build (Debian's) has;
the catalog describes the production build (scripts/gen-pg-catalog,
BUILD_DEPENDENT), so those enum values are the one expected difference with
the npm servers. Debian's PostgreSQL 15, when installed (the test bed's), is
compared with no such exception, and started with the lz4 settings.

Not compared (see SKIP below and the report at the end of the run):
  - operator-owned parameters: we forbid them by design (test_pg_params unit tests);
  - string parameters: their contents are checked by server hooks we do not
    repeat (locales, time zones, file names, library lists...);
  - parameters whose acceptance depends on the machine (max_stack_depth: ulimit -s);
  - custom parameters whose prefix is not a preloaded library: we refuse them by
    design, the server keeps them as placeholders.
"""
import concurrent.futures
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
BUILD_DIR = os.environ.get("PGW_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
USER = "postgres"
MAJORS = [14, 15, 16, 17, 18]
DEBIAN_15 = "/usr/lib/postgresql/15/bin"


def load_generator():
    """scripts/gen-pg-catalog as a module: its BUILD_DEPENDENT table says which values the npm builds lack."""
    path = os.path.join(SOURCE_DIR, "scripts", "gen-pg-catalog")
    loader = importlib.machinery.SourceFileLoader("gen_pg_catalog", path)
    spec = importlib.util.spec_from_loader("gen_pg_catalog", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


GEN = load_generator()
SKIP = {
    "max_stack_depth": "the upper bound depends on the stack rlimit of the machine",
}
ENTRY = re.compile(r'^\s+\{"([^"]+)", PGW_PG_(\w+), "([^"]*)", ([^,]+), ([^,]+), (\w+), (\w+), PGW_PG_CTX_(\w+)\},$')
ENUMS = re.compile(r'^static const char \*const (enum|hidden)_(\w+)\[\] = \{(.*), NULL\};$')
INTERDEPENDENT = {"max_connections", "autovacuum_max_workers", "max_worker_processes", "max_wal_senders"}


def load_catalog(major):
    """The generated catalog, read back from validators/pg_catalog_<major>.c."""
    arrays, params = {}, []
    with open(os.path.join(SOURCE_DIR, "validators", "pg_catalog_%d.c" % major)) as f:
        for line in f:
            m = ENUMS.match(line)
            if m:
                arrays[m.group(1) + "_" + m.group(2)] = re.findall(r'"([^"]*)"', m.group(3))
                continue
            m = ENTRY.match(line)
            if m:
                name, vt, unit, lo, hi, ev, hv, ctx = m.groups()
                params.append({"name": name, "vartype": vt.lower(), "unit": unit, "min": lo, "max": hi,
                               "enumvals": arrays.get(ev, []), "hidden": arrays.get(hv, []), "context": ctx})
    return params


def owned_names(params):
    """Names our validator forbids as operator-owned (asked of the tool itself)."""
    lines = "".join("14\t%s\tx\n" % p["name"] for p in params)
    out = run_tool(lines)
    return {p["name"] for p, v in zip(params, out) if "Forbidden: managed by pgwarden" in v}


def run_tool(text):
    tool = os.path.join(BUILD_DIR, "pg_param_check")
    r = subprocess.run([tool], input=text, capture_output=True, text=True, check=True)
    return r.stdout.splitlines()


def int_values(p):
    lo, hi = int(p["min"]), int(p["max"])
    vals = {str(lo), str(hi), str(hi + 1), str(lo - 1), "%d " % lo, " %d" % hi, "0x10", "010", "08", "1e2",
            "1.5", "2.5", "-0", "", "abc", "5abc", "1 2", "9999999999", "0x", "nan", "inf", "%d.4" % lo, "%d.6" % hi}
    unit = p["unit"]
    if unit in ("ms", "s", "min"):
        vals |= {"1ms", "1 s", "1min", "1h", "1d", "500us", "1.5s", "1.5min", "2.5 min", "10 sec", "1S", "1 h x",
                 "%dd" % hi, "0.001ms", "1.7us", "%d%s" % (lo, unit), "%d%s" % (hi, unit)}
    elif unit:
        vals |= {"1MB", "1 GB", "10XB", "1kb", "1TB", "0.5MB", "1.5GB", "8kB", "8191B", "8193B", "1 kB", "7kB",
                 "100000GB", "%d%s" % (hi, unit) if unit[0].isalpha() else "1B"}
    else:
        vals |= {"1ms", "1kB", "1 %"}
    return sorted(vals)


def real_values(p):
    vals = {p["min"], "1e400", "1e-400", "nan", "-inf", "inf", "0.5", "abc", "", "1,5", " 0.25 ", "0x1p-2", "1e-3"}
    if p["max"] != "DBL_MAX":
        vals |= {p["max"], repr(float(p["max"]) + 1), repr(float(p["max"]) + 1e-9)}
    else:
        vals |= {"1.7976931348623157e308", "1.8e308"}
    if p["min"] not in ("-DBL_MAX",):
        vals.add(repr(float(p["min"]) - 0.001))
    vals |= {"1ms", "2 s", "1min", "100us", "1.5ms"} if p["unit"] else {"1ms"}
    return sorted(vals)


BOOL_VALUES = ["on", "off", "true", "false", "yes", "no", "1", "0", "t", "f", "y", "n", "o", "of", "On", "TRUE",
               "tru", "yess", "2", "", " on", "on ", "ofF", "01", "Y"]


def enum_values(p):
    vals = set(p["enumvals"]) | set(p["hidden"]) | {v.upper() for v in p["enumvals"]}
    vals |= {"bogus", "", p["enumvals"][0] + " ", "on", "off", "1"}
    return sorted(vals)


def corpus(major):
    """Lines (name, value, shared_preload_libraries or None, alone) to check."""
    params = load_catalog(major)
    owned = owned_names(params)
    lines, skipped = [], {}
    for p in params:
        name = p["name"]
        if name in owned:
            skipped[name] = "operator-owned"
            continue
        if name in SKIP:
            skipped[name] = SKIP[name]
            continue
        if p["context"] == "INTERNAL":
            lines.append((name, "1", None, False))
            continue
        vt = p["vartype"]
        if vt == "integer":
            vals = int_values(p)
        elif vt == "real":
            vals = real_values(p)
        elif vt == "bool":
            vals = BOOL_VALUES
        elif vt == "enum":
            vals = enum_values(p)
        else:
            skipped[name] = "string: contents checked by server hooks we do not repeat"
            continue
        # log_statement_stats refuses to be on together with log_*_stats: check those one by one.
        # They depend on each other: log_statement_stats refuses to be on together with log_*_stats, and
        # the sum of the process counts is limited. Check those one by one.
        alone = (name.endswith("_stats") and name.startswith("log_")) or name in INTERDEPENDENT
        lines += [(name, v, None, alone) for v in vals]
    # Names: aliases, case, custom placeholders of preloaded libraries, unknown names.
    lines += [("sort_mem", "1MB", None, True), ("vacuum_mem", "64MB", None, True), ("WORK_MEM", "4MB", None, True),
              ("Work_Mem", "4XB", None, True),
              ("pg_stat_statements.max", "1000", "pg_stat_statements", True),
              ("pg_stat_statements.anything", "x", "pg_stat_statements", True),
              ("auto_explain.log_min_duration", "1s", "pg_stat_statements,auto_explain", True),
              ("plpgsql.extra_warnings", "all", None, True),
              ("a.b.c", "1", "a", True), ("no_such_parameter", "1", None, True), ("shared_bufers", "1MB", None, True)]
    return lines, skipped


def conf_line(name, value):
    return "%s = '%s'\n" % (name, value.replace("\\", "\\\\").replace("'", "''"))


class RealServer:
    """An initdb'd data directory whose postgresql.conf we rewrite for each `postgres -C`."""

    def __init__(self, bindir, tmp):
        self.bindir, self.data = bindir, os.path.join(tmp, "data")
        subprocess.run(["runuser", "-u", USER, "--", os.path.join(bindir, "initdb"), "-D", self.data, "-A", "trust",
                        "-U", "postgres", "--no-sync"], check=True, capture_output=True)
        self.runs = 0

    def check(self, settings):
        """Writes settings [(name, value)] and returns (exit code, stderr) of `postgres -C port`."""
        with open(os.path.join(self.data, "postgresql.conf"), "w") as f:
            f.write("".join(conf_line(n, v) for n, v in settings))
        self.runs += 1
        r = subprocess.run(["runuser", "-u", USER, "--", os.path.join(self.bindir, "postgres"), "-D", self.data,
                            "-C", "port"], capture_output=True, text=True)
        return r.returncode, r.stderr


def real_verdicts(server, lines):
    """{index: True (accepted) / False} for every line, from the real server."""
    verdict = {}

    def alone(i):
        name, value, spl, _ = lines[i]
        settings = [("shared_preload_libraries", spl)] if spl else []
        rc, _ = server.check(settings + [(name, value)])
        verdict[i] = rc == 0

    rounds = []  # each round: {lowercased name: index}
    for i, (name, _, _, single) in enumerate(lines):
        if single:
            alone(i)
            continue
        for r in rounds:
            if name.lower() not in r:
                r[name.lower()] = i
                break
        else:
            rounds.append({name.lower(): i})
    def judge(idx):
        rc, err = server.check([lines[i][:2] for i in idx])
        if rc == 0:
            verdict.update((i, True) for i in idx)
            return
        if len(idx) == 1:
            verdict[idx[0]] = False
            return
        refused = [i for i in idx if ('"%s"' % lines[i][0]) in err]
        rest = [i for i in idx if i not in refused]
        verdict.update((i, False) for i in refused)
        if not refused:  # a message that names no parameter: split until each is judged
            judge(rest[:len(rest) // 2])
            judge(rest[len(rest) // 2:])
        elif rest:
            judge(rest)

    for r in rounds:
        judge(list(r.values()))
    return verdict


def compare_major(major, bindir, npm_build=True):
    """Our verdicts against the server in `bindir`. npm_build: that server lacks lz4/zstd, so the values the
    catalog adds for the production build (BUILD_DEPENDENT) may be refused by it; they are counted apart."""
    lines, skipped = corpus(major)
    text = "".join("%d\t%s\t%s%s\n" % (major, n, v.replace("\\", "\\\\").replace("\t", "\\t"),
                                       "\t" + spl if spl else "") for n, v, spl, _ in lines)
    ours = run_tool(text)
    assert len(ours) == len(lines)
    tmp = tempfile.mkdtemp(prefix="pgw-pgparams-%d-" % major)
    try:
        shutil.chown(tmp, USER)
        server = RealServer(bindir, tmp)
        theirs = real_verdicts(server, lines)
        # The method must be able to fail: the server really refuses a bad value and accepts a good one.
        assert server.check([("max_connections", "0")])[0] != 0
        assert server.check([("max_connections", "10")])[0] == 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    disagreements = []
    accepted = build_dependent = 0
    for i, (name, value, spl, _) in enumerate(lines):
        ok = ours[i] == "accept"
        accepted += ok
        if npm_build and ok and not theirs[i] and value.strip().lower() in GEN.build_dependent_values(major, name):
            build_dependent += 1
            continue
        if ok != theirs[i]:
            disagreements.append("%d %s=%r: pgwarden %s, postgres %s" % (
                major, name, value, ours[i], "accepts" if theirs[i] else "refuses"))
    return {"major": major, "lines": len(lines), "accepted": accepted, "skipped": skipped,
            "runs": server.runs, "disagreements": disagreements, "build_dependent": build_dependent}


class PgParamsRealTest(unittest.TestCase):
    def test_agrees_with_real_postgres(self):
        out = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "fetch-postgres")] + [str(m) for m in MAJORS],
                             check=True, capture_output=True, text=True).stdout
        bindirs = {int(l.split()[0]): l.split(None, 1)[1] for l in out.splitlines()}
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda m: compare_major(m, bindirs[m]), MAJORS))
        problems = []
        for r in results:
            print("PostgreSQL %d: %d lines (%d accepted, %d refused), %d postgres -C runs, %d parameters skipped, "
                  "%d disagreements, %d lz4/zstd values the npm build lacks" % (
                      r["major"], r["lines"], r["accepted"], r["lines"] - r["accepted"], r["runs"],
                      len(r["skipped"]), len(r["disagreements"]), r["build_dependent"]))
            problems += r["disagreements"]
            # Both verdicts occur: the corpus is not trivially one-sided.
            self.assertGreater(r["accepted"], 1000)
            self.assertGreater(r["lines"] - r["accepted"], 1000)
        self.assertEqual(problems, [], "\n" + "\n".join(problems[:200]))
        # The exception is used, and only for lz4/zstd: 14 has default_toast_compression lz4, 15+ wal_compression too.
        self.assertEqual([r["build_dependent"] for r in results], [2, 6, 6, 6, 6])


@unittest.skipUnless(os.path.exists(os.path.join(DEBIAN_15, "postgres")), "Debian's PostgreSQL 15 is not installed")
class DebianServerTest(unittest.TestCase):
    """The production build (Debian's, what the pods run): the catalog agrees with it without exception."""

    def test_agrees_with_debian_15(self):
        r = compare_major(15, DEBIAN_15, npm_build=False)
        print("Debian PostgreSQL 15: %d lines (%d accepted), %d disagreements" % (
            r["lines"], r["accepted"], len(r["disagreements"])))
        self.assertGreater(r["accepted"], 1000)
        self.assertEqual(r["disagreements"], [], "\n" + "\n".join(r["disagreements"][:200]))

    def test_debian_15_starts_with_lz4(self):
        self.assertEqual(run_tool("15\twal_compression\tlz4\n15\tdefault_toast_compression\tlz4\n"
                                  "15\twal_compression\tzstd\n"), ["accept"] * 3)
        tmp = tempfile.mkdtemp(prefix="pgw-pgparams-debian-")
        try:
            shutil.chown(tmp, USER)
            data, sock = os.path.join(tmp, "data"), os.path.join(tmp, "sock")
            os.mkdir(sock)
            shutil.chown(sock, USER)
            subprocess.run(["runuser", "-u", USER, "--", os.path.join(DEBIAN_15, "initdb"), "-D", data, "-A", "trust",
                            "-U", "postgres", "--no-sync"], check=True, capture_output=True)
            log = os.path.join(tmp, "log")
            subprocess.run(["runuser", "-u", USER, "--", os.path.join(DEBIAN_15, "pg_ctl"), "-D", data, "-l", log, "-w",
                            "-o", "-c listen_addresses= -k %s -c wal_compression=lz4 -c default_toast_compression=lz4"
                            % sock, "start"], check=True, capture_output=True, timeout=60)
            try:
                def sql(q):
                    return subprocess.run(["runuser", "-u", USER, "--", "psql", "-X", "-h", sock, "-U", "postgres",
                                           "-d", "postgres", "-Atqc", q], check=True, capture_output=True,
                                          text=True).stdout.strip()
                self.assertEqual(sql("SHOW wal_compression"), "lz4")
                self.assertEqual(sql("SHOW default_toast_compression"), "lz4")
                self.assertEqual(sql("SET wal_compression = zstd; SHOW wal_compression"), "zstd")
                # The catalog's lists are exactly the server's.
                catalog = {p["name"]: p["enumvals"] for p in load_catalog(15)}
                for name in ("wal_compression", "default_toast_compression"):
                    vals = sql("SELECT array_to_string(enumvals, ',') FROM pg_settings WHERE name = '%s'" % name)
                    self.assertEqual(vals.split(","), catalog[name], name)
                # A value the build really lacks is refused (the check can fail).
                r = subprocess.run(["runuser", "-u", USER, "--", "psql", "-X", "-h", sock, "-U", "postgres", "-d",
                                    "postgres", "-Atc", "SET default_toast_compression = zstd"], capture_output=True,
                                   text=True)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("invalid value for parameter", r.stderr)
            finally:
                subprocess.run(["runuser", "-u", USER, "--", os.path.join(DEBIAN_15, "pg_ctl"), "-D", data, "-m",
                                "immediate", "stop"], capture_output=True, timeout=60)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
