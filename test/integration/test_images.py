"""The container images (docs/images.md).

Containerfiles (images/*/Containerfile): a small lint (FROM pinned by tag,
a numeric non-root USER in the final stage, ENTRYPOINT and CMD in exec form,
no ADD of URLs, no piping a download into a shell, apt without
recommends), and the layout of ours against the test bed's image table
(test/testbed/images.yaml): the database and backup images' ENTRYPOINT, PATH,
ENV and users equal their rows, so the images the test bed stands in for and
the images we ship cannot drift apart.

Images built here without an engine (scripts/build-images, OCI layouts in
.cache/images): the operator image is read with skopeo, unpacked with umoci,
and holds nothing but the binary, exactly the libraries ldd lists, passwd,
group and Debian's CA bundle; its entrypoint runs in a chroot as uid 65532,
on a read-only root with a tmpfs volume for certificates; two builds give
the same layer. The database image of PostgreSQL 15 (Debian's, through
debootstrap; about a minute cold, reused from .cache warm) is unpacked and
its postgres, Patroni and pgBackRest run as uid 999 with the image's PATH."""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import yaml

SOURCE = os.path.abspath(os.environ.get("PGW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_IMAGES = os.path.join(SOURCE, "scripts", "build-images")
IMAGES = os.path.join(SOURCE, ".cache", "images")
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REPO = "ghcr.io/pgwarden/"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"

# The test bed's table names directories of this machine where the image has
# its own: {root} paths are the test bed's stand-ins (None: nothing in the image).
STAND_INS = {
    "{root}/.cache/testbed/patroni/bin": "/opt/patroni/bin",
    "{root}/.cache/testbed/postgres-{tag}": None,  # the npm builds of majors Debian lacks
    "{pgwarden}": "/usr/bin",
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        return re.search(r"project\(pgwarden VERSION (\S+)", f.read()).group(1)


# ---- a Containerfile reader ----------------------------------------------------


def parse_containerfile(text):
    """[(lineno, INSTRUCTION, rest)] with continuations joined and comments dropped."""
    out, buf, start = [], "", 0
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # a comment line inside a continued instruction
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    if buf:
        raise ValueError("line %d: continuation at end of file" % start)
    return out


def stages(instructions):
    """Lists of instructions, one per FROM."""
    result = []
    for ins in instructions:
        if ins[1] == "FROM":
            result.append([])
        elif not result:
            if ins[1] != "ARG":
                raise ValueError("line %d: %s before FROM" % (ins[0], ins[1]))
            continue
        result[-1].append(ins)
    return result


def exec_form(rest):
    try:
        v = json.loads(rest)
    except ValueError:
        return None
    return v if isinstance(v, list) and v and all(isinstance(x, str) for x in v) else None


def lint(text):
    """The problems of a Containerfile, as strings (empty: clean)."""
    problems = []
    try:
        ins = parse_containerfile(text)
        st = stages(ins)
    except ValueError as e:
        return [str(e)]
    if not st:
        return ["no FROM"]
    names = set()
    for n, word, rest in ins:
        if word == "FROM":
            parts = rest.split()
            image = parts[0]
            last = image.rsplit("/", 1)[-1]
            if image == "scratch" or image in names or "@sha256:" in image:
                pass
            elif ":" not in last:
                problems.append("line %d: FROM %s is not pinned by tag" % (n, image))
            elif last.endswith(":latest"):
                problems.append("line %d: FROM %s uses latest" % (n, image))
            if len(parts) >= 3 and parts[1].upper() == "AS":
                names.add(parts[2])
        elif word == "ADD" and re.search(r"(https?|git)://|\.git\b", rest):
            problems.append("line %d: ADD of a URL (download in a RUN with a checksum, or COPY)" % n)
        elif word == "RUN":
            if re.search(r"(curl|wget)[^|;&]*\|\s*(ba|da)?sh\b", rest):
                problems.append("line %d: a download piped into a shell" % n)
            if re.search(r"apt-get\s+(-\S+\s+)*install", rest) and "--no-install-recommends" not in rest:
                problems.append("line %d: apt-get install without --no-install-recommends" % n)
            if re.search(r"apt-get\s+(-\S+\s+)*install", rest) and "apt-get update" not in rest:
                problems.append("line %d: apt-get install without apt-get update in the same RUN" % n)
            if re.search(r"\bsudo\b", rest):
                problems.append("line %d: sudo" % n)
        elif word in ("ENTRYPOINT", "CMD") and exec_form(rest) is None:
            problems.append("line %d: %s is not in exec form (a JSON array)" % (n, word))
    final = st[-1]
    users = [rest for _, word, rest in final if word == "USER"]
    if not users:
        problems.append("final stage: no USER")
    else:
        uid = users[-1].split(":")[0]
        if not uid.isdigit():
            problems.append("final stage: USER %s is not numeric (runAsNonRoot cannot check a name)" % users[-1])
        elif int(uid) == 0:
            problems.append("final stage: USER is root")
    if not any(word == "ENTRYPOINT" for _, word, _ in final):
        problems.append("final stage: no ENTRYPOINT")
    labels = " ".join(rest for _, word, rest in final if word == "LABEL")
    if "org.opencontainers.image.source=" not in labels:
        problems.append("final stage: no org.opencontainers.image.source label")
    return problems


def final_config(text, args=None):
    """What the final stage sets: Entrypoint, Env (dict, ${ARG} substituted
    from `args` or the ARG defaults), User, Labels, and the RUN lines."""
    st = stages(parse_containerfile(text))[-1]
    values, env, cfg = {}, {}, {"Entrypoint": None, "User": None, "Labels": {}, "Runs": []}

    def subst(s):
        return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), s)

    for _, word, rest in st:
        if word == "ARG":
            k, _, v = rest.partition("=")
            values[k] = (args or {}).get(k, v.strip('"'))
        elif word == "ENV":
            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                env[k] = subst(v.strip('"'))
                values[k] = env[k]
        elif word == "ENTRYPOINT":
            cfg["Entrypoint"] = exec_form(rest)
        elif word == "USER":
            cfg["User"] = rest
        elif word == "LABEL":
            for k, v in re.findall(r'([\w.-]+)=("[^"]*"|\S+)', rest):
                cfg["Labels"][k] = v.strip('"')
        elif word == "RUN":
            cfg["Runs"].append(rest)
    cfg["Env"] = env
    return cfg


def useradds(runs):
    """[(name, uid, home)] of the useradd commands in RUN lines."""
    users = []
    for r in runs:
        for cmd in re.split(r"&&|;", r):
            words = shlex.split(cmd)
            if not words or words[0] != "useradd":
                continue
            opts, i, name = {}, 1, None
            while i < len(words):
                w = words[i]
                key = {"--uid": "uid", "-u": "uid", "--home-dir": "home", "-d": "home", "--gid": "gid", "-g": "gid",
                       "--shell": "shell", "-s": "shell"}.get(w)
                if key is not None:
                    opts[key] = words[i + 1]
                    i += 2
                    continue
                if not w.startswith("-"):
                    name = w
                i += 1
            users.append((name, int(opts["uid"]), opts.get("home")))
    return users


def table():
    with open(os.path.join(SOURCE, "test", "testbed", "images.yaml")) as f:
        return {row["image"]: row for row in yaml.safe_load(f)["images"]}


def expected_path(row):
    """The image's PATH the table's row stands for: its entries, stand-ins
    replaced by the image's directories, then Debian's default PATH."""
    entries = []
    for p in row.get("path", []):
        if p in STAND_INS:
            if STAND_INS[p] is not None:
                entries.append(STAND_INS[p])
        elif p.startswith("{root}"):
            raise AssertionError("no stand-in known for the table's %s" % p)
        else:
            entries.append(p)
    return ":".join(entries + [DEBIAN_PATH])


def containerfile(name):
    with open(os.path.join(SOURCE, "images", name, "Containerfile")) as f:
        return f.read()


class Containerfiles(unittest.TestCase):
    def test_every_containerfile_lints_clean(self):
        files = sorted(glob.glob(os.path.join(SOURCE, "images", "*", "Containerfile")))
        self.assertEqual([os.path.basename(os.path.dirname(f)) for f in files], ["pgbackrest", "pgwarden", "postgres"])
        for f in files:
            with self.subTest(containerfile=os.path.relpath(f, SOURCE)), open(f) as fp:
                self.assertEqual(lint(fp.read()), [])

    def test_lint_finds_each_problem(self):
        good = ('FROM docker.io/library/debian:bookworm-slim\nUSER 999\nENTRYPOINT ["x"]\n'
                'LABEL org.opencontainers.image.source="s"\n')
        self.assertEqual(lint(good), [])
        cases = [
            ("FROM debian\n", "not pinned by tag"),
            ("FROM debian:latest\n", "uses latest"),
            ("FROM debian:12 AS b\nFROM b\n", None),  # a stage name needs no tag
            ("FROM scratch\n", None),
            ("USER root\n", "not numeric"),
            ("USER 0:0\n", "is root"),
            ("ENTRYPOINT x --flag\n", "not in exec form"),
            ('CMD ["serve"\n', "not in exec form"),
            ("ADD https://example.org/x.tgz /x\n", "ADD of a URL"),
            ("RUN curl -fsSL https://example.org/i | sh\n", "piped into a shell"),
            ("RUN apt-get update && apt-get install -y x\n", "without --no-install-recommends"),
            ("RUN apt-get install -y --no-install-recommends x\n", "without apt-get update"),
            ("RUN sudo true\n", "sudo"),
        ]
        for extra, want in cases:
            with self.subTest(extra=extra):
                text = (good + extra) if not extra.startswith("FROM") else (extra + good)
                problems = lint(text)
                if want is None:
                    self.assertEqual(problems, [])
                else:
                    self.assertTrue(any(want in p for p in problems), problems)
        self.assertIn("final stage: no USER", lint(good.replace("USER 999\n", "")))
        self.assertIn("final stage: no ENTRYPOINT", lint(good.replace('ENTRYPOINT ["x"]\n', "")))
        self.assertIn("final stage: no org.opencontainers.image.source label", lint(good.replace("LABEL", "#")))
        # the USER of an earlier stage does not count for the final one
        self.assertIn("final stage: no USER", lint(good + "FROM scratch\nENTRYPOINT [\"y\"]\n"))

    def test_database_and_backup_images_match_the_test_bed_table(self):
        rows = table()
        for name, args in (("postgres", {"major": "{tag}"}), ("pgbackrest", {})):
            with self.subTest(image=name):
                row = rows[REPO + name]
                cfg = final_config(containerfile(name), args)
                self.assertEqual(cfg["Entrypoint"], row["entrypoint"])
                env = dict(cfg["Env"])
                self.assertEqual(env.pop("PATH"), expected_path(row))
                self.assertEqual(env, row.get("env", {}))
                want_users = [(u["name"], u["uid"], u["home"]) for u in row["users"]]
                self.assertEqual(useradds(cfg["Runs"]), want_users)
                self.assertEqual(cfg["User"], "%d:%d" % (row["users"][0]["uid"], row["users"][0]["uid"]))

    def test_operator_image_matches_the_test_bed_table(self):
        row = table()[REPO + "pgwarden"]
        cfg = final_config(containerfile("pgwarden"))
        self.assertEqual(cfg["Entrypoint"], [STAND_INS["{pgwarden}"] + e.replace("{pgwarden}", "")
                                             for e in row["entrypoint"]])
        self.assertEqual(cfg["Env"], {"PATH": "/usr/bin"})
        self.assertEqual(cfg["User"], "%d:%d" % (row["users"][0]["uid"], row["users"][0]["uid"]))
        self.assertEqual(cfg["Labels"]["org.opencontainers.image.version"], project_version())
        # the passwd the build stage writes holds the table's user
        for u in row["users"]:
            self.assertIn("%s:x:%d:%d:%s:%s:" % (u["name"], u["uid"], u["uid"], u["name"], u["home"]),
                          containerfile("pgwarden"))

    def test_pins_match_the_operator_and_the_test_bed(self):
        pg = final_config(containerfile("postgres"))["Runs"]
        with open(os.path.join(SOURCE, "test", "testbed", "python-requirements.txt")) as f:
            reqs = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", f.read(), re.M))
        text = containerfile("postgres")
        self.assertIn("ARG patroni_version=%s\n" % reqs["patroni"], text)
        self.assertIn("ARG psycopg2_version=%s\n" % reqs["psycopg2-binary"], text)
        self.assertTrue(any("patroni==${patroni_version}" in r for r in pg))
        with open(os.path.join(SOURCE, "common", "config.h")) as f:
            oldest = re.search(r"#define PGW_PG_MAJOR_MIN (\d+)", f.read()).group(1)
        self.assertIn("ARG oldest=%s\n" % oldest, text)
        # the operator's default pgbackrest image is the tag this recipe builds
        with open(os.path.join(SOURCE, "common", "config.c")) as f:
            tag = re.search(r'"ghcr\.io/pgwarden/pgbackrest:([^"]+)"', f.read()).group(1)
        self.assertIn("ARG version=%s\n" % tag, containerfile("pgbackrest"))

    def test_operator_recipe_copies_every_source_directory(self):
        with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
            cmake = f.read()
        dirs = {d.split("/")[0] for d in re.findall(r"pgw_layer\(\w+\s+DIRS\s+(\S+)", cmake)}
        # the binary also embeds the web UI's files (cmake/embed_assets.cmake)
        dirs |= {"cli", "manifests", "ui", "cmake"}
        copied = {rest.split()[0] for _, word, rest in parse_containerfile(containerfile("pgwarden")) if word == "COPY"}
        for d in sorted(dirs):
            self.assertIn(d, copied)
        self.assertIn("docs/pgwarden.1", copied)


def build_image(*args):
    p = run([BUILD_IMAGES] + list(args), timeout=1800)
    if p.returncode != 0:
        raise AssertionError("scripts/build-images %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr[-6000:]))
    layout, digest = p.stdout.split()
    return layout, digest


def inspect(ref, config=False):
    p = run(["skopeo", "inspect"] + (["--config"] if config else []) + [ref], timeout=120)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return json.loads(p.stdout)


def unpack(layout, tag, dest):
    p = run(["umoci", "unpack", "--rootless", "--image", "%s:%s" % (layout, tag), dest], timeout=600)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return os.path.join(dest, "rootfs")


def layers_size(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":")[1])) as f:
        return sum(layer["size"] for layer in json.load(f)["layers"])


def tree(rootfs):
    """Every non-directory path under rootfs, relative."""
    found = set()
    for dirpath, _, files in os.walk(rootfs):
        for f in files:
            found.add(os.path.relpath(os.path.join(dirpath, f), rootfs))
    return found


class OperatorImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.layout, cls.digest = build_image()
        cls.version = project_version()
        cls.ref = "oci:%s:%s" % (cls.layout, cls.version)
        cls.tmp = tempfile.TemporaryDirectory(prefix="img-operator-")
        cls.rootfs = unpack(cls.layout, cls.version, os.path.join(cls.tmp.name, "bundle"))
        size = layers_size(cls.layout, cls.digest)
        print("operator image %s: %d bytes compressed" % (cls.digest, size), flush=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_config(self):
        info = inspect(self.ref)
        self.assertEqual(info["Digest"], self.digest)
        self.assertEqual(info["Os"], "linux")
        cfg = inspect(self.ref, config=True)["config"]
        self.assertEqual(cfg["User"], "65532:65532")
        self.assertEqual(cfg["Entrypoint"], ["/usr/bin/pgwarden"])
        # the engine-built image (images/pgwarden/Containerfile) is configured alike
        recipe = final_config(containerfile("pgwarden"))
        self.assertEqual(cfg["Entrypoint"], recipe["Entrypoint"])
        self.assertEqual(cfg["User"], recipe["User"])
        labels = cfg["Labels"]
        self.assertEqual(labels["org.opencontainers.image.version"], self.version)
        self.assertEqual(labels["org.opencontainers.image.title"], "pgwarden")
        self.assertRegex(labels["org.opencontainers.image.revision"], r"^([0-9a-f]{40}|unknown)$")
        self.assertRegex(labels["org.opencontainers.image.created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(labels["org.opencontainers.image.source"], recipe["Labels"]["org.opencontainers.image.source"])

    def test_holds_only_the_binary_its_libraries_passwd_group_and_certs(self):
        staged = os.path.join(IMAGES, "stage", "usr", "bin", "pgwarden")
        libs = set()
        for line in run(["ldd", staged], timeout=30).stdout.splitlines():
            m = re.match(r"\s*(?:\S+ => )?(/\S+) \(0x", line)
            if m:
                libs.add(m.group(1).lstrip("/"))
        self.assertTrue(any("ld-linux" in l for l in libs))
        self.assertTrue(any("libc.so" in l for l in libs))
        want = libs | {"usr/bin/pgwarden", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt"}
        self.assertEqual(tree(self.rootfs), want)
        with open(os.path.join(self.rootfs, "etc", "passwd")) as f:
            passwd = [l.split(":") for l in f.read().splitlines()]
        self.assertIn(["pgwarden", "x", "65532", "65532", "pgwarden", "/nonexistent", "/usr/sbin/nologin"], passwd)
        with open(os.path.join(self.rootfs, "etc", "group")) as f:
            self.assertIn("pgwarden:x:65532:", f.read().splitlines())
        # Debian's CA bundle as shipped: none of this machine's local CAs
        with open(os.path.join(self.rootfs, "etc/ssl/certs/ca-certificates.crt")) as f:
            bundle = f.read()
        shipped = glob.glob("/usr/share/ca-certificates/mozilla/*.crt")
        self.assertEqual(bundle.count("BEGIN CERTIFICATE"), len(shipped))
        for local in glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True):
            with open(local) as f:
                body = "".join(l for l in f.read().splitlines() if l and not l.startswith("-----"))
            self.assertNotIn(body[:64], bundle.replace("\n", ""), local)

    def test_entrypoint_runs_as_65532_on_a_read_only_root(self):
        v = run([CHROOT, "--userspec=65532:65532", self.rootfs, "/usr/bin/pgwarden", "version"], env={}, timeout=30)
        self.assertEqual((v.returncode, v.stdout, v.stderr), (0, "pgwarden %s\n" % self.version, ""))
        # As in manifests/operator: root read-only, a memory volume for certificates.
        certs = "var/run/pgwarden/certs"
        os.makedirs(os.path.join(self.rootfs, certs), exist_ok=True)  # a runtime makes the mount point
        script = ('set -e; r="$1"; mount --bind "$r" "$r"; mount -o remount,bind,ro "$r"; '
                  'mount -t tmpfs -o size=1m,uid=65532,gid=65532,mode=0700 certs "$r/%s"; '
                  'if touch "$r/usr/x" 2>/dev/null; then echo "root is writable" >&2; exit 1; fi; '
                  'chroot --userspec=65532:65532 "$r" /usr/bin/pgwarden certs generate --service pgwarden-webhook '
                  '--namespace pgwarden-system --out /%s > /dev/null; '
                  'ls "$r/%s"; '
                  'chroot --userspec=65532:65532 "$r" /usr/bin/pgwarden render -f - -o json < "$2"' % (certs, certs, certs))
        p = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", self.rootfs,
                 os.path.join(SOURCE, "examples", "cluster-minimal.yaml")], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        listed, _, rendered = p.stdout.partition("{")
        self.assertEqual(sorted(listed.split()), ["ca.crt", "ca.key", "tls.crt", "tls.key"])
        kinds = {o["kind"] for o in json.loads("{" + rendered)["items"]}
        self.assertIn("StatefulSet", kinds)

    def test_same_commit_gives_the_same_layers(self):
        _, digest = build_image()
        self.assertEqual(digest, self.digest)


class DatabaseImage(unittest.TestCase):
    """PostgreSQL 15 from Debian: the major this machine's archive carries."""

    MAJOR = "15"

    @classmethod
    def setUpClass(cls):
        cls.layout, cls.digest = build_image("postgres", cls.MAJOR)
        cls.tmp = tempfile.TemporaryDirectory(prefix="img-postgres-")
        cls.rootfs = unpack(cls.layout, cls.MAJOR, os.path.join(cls.tmp.name, "bundle"))
        cls.config = inspect("oci:%s:%s" % (cls.layout, cls.MAJOR), config=True)["config"]
        size = layers_size(cls.layout, cls.digest)
        print("postgres %s image %s: %d bytes compressed" % (cls.MAJOR, cls.digest, size), flush=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_config_matches_the_test_bed_table_and_the_recipe(self):
        row = table()[REPO + "postgres"]
        env = dict(e.split("=", 1) for e in self.config["Env"])
        self.assertEqual(env.pop("PATH"), expected_path(row).replace("{tag}", self.MAJOR))
        self.assertEqual(env, row.get("env", {}))
        self.assertEqual(self.config["Entrypoint"], row["entrypoint"])
        recipe = final_config(containerfile("postgres"), {"major": self.MAJOR})
        self.assertEqual(self.config["Entrypoint"], recipe["Entrypoint"])
        self.assertEqual(self.config["User"], recipe["User"])
        self.assertEqual(dict(e.split("=", 1) for e in self.config["Env"]), recipe["Env"])

    def test_users_match_the_table(self):
        with open(os.path.join(self.rootfs, "etc", "passwd")) as f:
            passwd = {l.split(":")[0]: l.split(":") for l in f.read().splitlines()}
        for u in table()[REPO + "postgres"]["users"]:
            self.assertEqual((int(passwd[u["name"]][2]), passwd[u["name"]][5]), (u["uid"], u["home"]))

    def test_programs_run_as_postgres_with_the_image_path(self):
        env = dict(e.split("=", 1) for e in self.config["Env"])
        for cmd, want in ((["patroni", "--version"], r"^patroni \d"),
                          (["postgres", "--version"], r"^postgres \(PostgreSQL\) %s\." % self.MAJOR),
                          (["pg_basebackup", "--version"], r"^pg_basebackup \(PostgreSQL\) %s\." % self.MAJOR),
                          (["pgbackrest", "version"], r"^pgBackRest \d"),
                          (["/opt/patroni/bin/python", "-c", "import psycopg2; print('psycopg2', psycopg2.__version__)"],
                           r"^psycopg2 \d")):
            with self.subTest(cmd=cmd[0]):
                p = run([CHROOT, "--userspec=999:999", self.rootfs] + cmd, env=env, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertRegex(p.stdout, want)


if __name__ == "__main__":
    unittest.main()
