"""Our JSON Patch differ against the real applier.

kube-apiserver applies admission patches with evanphx/json-patch; kubectl
patch --type=json uses the same library. For many seeded random pairs of
Pod-shaped objects (labels and annotations whose keys hold "/" and "~",
container lists that grow, shrink and change, nested maps, numbers, booleans,
nulls) we compute the patch with build/jsonpatch_diff and apply it with
`kubectl patch --local`, then require the result to equal `after` exactly
(booleans are not numbers, 2 and 2.0 are the same number as in JSON).
"""

import concurrent.futures
import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest

from testbed import kubectl_path

PAIRS = 240
SEED = 20240611

KEY_PARTS = ["app", "pgwarden.io/cluster", "pgwarden.io/role", "a~b", "x/y~z", "~1", "~0/~1",
             "example.com/ключ", "日本/語", "tier", "team.example/owner~x", "k"]
WORDS = ["primary", "replica", "", "yes", "no", "on", "null", "0", "1.5", "ü", "a/b", "~", "日本"]


def scalar(rng):
    kind = rng.randrange(7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randrange(-1000, 100000)
    if kind == 3:
        return rng.choice([0.5, 2.25, -3.75, 1e-3, 123.125, 2.0])
    return rng.choice(WORDS)


def nested(rng, depth=0):
    if depth > 2 or rng.random() < 0.3:
        return scalar(rng)
    if rng.random() < 0.5:
        return {rng.choice(KEY_PARTS): nested(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [nested(rng, depth + 1) for _ in range(rng.randrange(4))]


def string_map(rng, n):
    return {rng.choice(KEY_PARTS) + ("" if rng.random() < 0.5 else str(rng.randrange(5))): rng.choice(WORDS)
            for _ in range(n)}


def container(rng, i):
    c = {"name": "c%d" % i, "image": "ghcr.io/pgwarden/postgres:%d" % rng.randrange(14, 19)}
    if rng.random() < 0.6:
        c["env"] = [{"name": "E%d" % j, "value": rng.choice(WORDS)} for j in range(rng.randrange(4))]
    if rng.random() < 0.5:
        c["ports"] = [{"containerPort": rng.randrange(1, 65536), "protocol": "TCP"} for _ in range(rng.randrange(3))]
    if rng.random() < 0.5:
        c["resources"] = {"requests": {"cpu": "%dm" % rng.randrange(1, 2000)}, "limits": nested(rng)}
    if rng.random() < 0.3:
        c["securityContext"] = {"runAsNonRoot": rng.random() < 0.5, "runAsUser": rng.randrange(0, 70000)}
    return c


def pod(rng):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "db-%d" % rng.randrange(1000),
            "labels": string_map(rng, rng.randrange(5)),
            "annotations": string_map(rng, rng.randrange(5)),
        },
        "spec": {
            "containers": [container(rng, i) for i in range(rng.randrange(1, 4))],
            "nodeSelector": string_map(rng, rng.randrange(3)),
            "priority": rng.randrange(0, 1000),
            "hostNetwork": rng.random() < 0.5,
            "schedulerName": None,
            "extra": nested(rng),
        },
    }


def edit(rng, value, depth=0):
    """A changed deep copy: members removed, added, replaced; lists grown, shrunk, edited; types changed."""
    if depth > 0 and rng.random() < 0.1:
        return nested(rng)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            r = rng.random()
            if r < 0.15:
                continue
            out[k] = edit(rng, v, depth + 1) if r < 0.5 else json.loads(json.dumps(v))
        for _ in range(rng.randrange(3) if rng.random() < 0.4 else 0):
            out[rng.choice(KEY_PARTS)] = nested(rng)
        return out
    if isinstance(value, list):
        items = [edit(rng, v, depth + 1) if rng.random() < 0.4 else v for v in value]
        if items and rng.random() < 0.3:
            del items[rng.randrange(len(items)):]
        if rng.random() < 0.3:
            items += [nested(rng) for _ in range(rng.randrange(1, 3))]
        return items
    return scalar(rng) if rng.random() < 0.5 else value


def edit_pod(rng, before):
    after = json.loads(json.dumps(before))
    meta = after["metadata"]
    meta["labels"] = edit(rng, meta["labels"], 1) if rng.random() < 0.7 else string_map(rng, 3)
    meta["annotations"] = edit(rng, meta["annotations"], 1)
    if not isinstance(meta["labels"], dict):
        meta["labels"] = string_map(rng, 2)
    if not isinstance(meta["annotations"], dict):
        del meta["annotations"]
    for k in ("labels", "annotations"):  # label and annotation values are strings
        if k in meta:
            meta[k] = {n: v if isinstance(v, str) else json.dumps(v) for n, v in meta[k].items()}
    spec = after["spec"]
    containers = [edit(rng, c, 1) if rng.random() < 0.5 else c for c in spec["containers"]]
    if rng.random() < 0.3:
        containers = containers[:rng.randrange(len(containers) + 1)]
    if rng.random() < 0.3:
        containers += [container(rng, 10 + i) for i in range(rng.randrange(1, 3))]
    spec["containers"] = containers
    for k in ("nodeSelector", "extra"):
        if rng.random() < 0.6:
            spec[k] = edit(rng, spec[k], 1)
    if rng.random() < 0.3:
        spec["priority"] = rng.choice([None, 1.5, "high", spec["priority"] + 1])
    if rng.random() < 0.3:
        spec["hostNetwork"] = not spec["hostNetwork"]
    if rng.random() < 0.2:
        spec["schedulerName"] = {"nested": {"a/b": [1, None, True]}}
    if rng.random() < 0.1:
        after["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return after


def same(a, b):
    """JSON equality where booleans are not numbers and 2 == 2.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


class JsonPatchAgainstKubectl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The test bed's kubectl (the pinned release), found without starting the test bed.
        cls.kubectl = kubectl_path()
        build = os.environ.get("PGW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
        cls.tool = os.path.join(build, "jsonpatch_diff")
        if not os.access(cls.tool, os.X_OK):
            raise AssertionError("missing helper %s (built from test/tools/jsonpatch_diff.c)" % cls.tool)
        cls.tmp = tempfile.mkdtemp(prefix="pgw-jsonpatch-")
        cls.env = dict(os.environ)
        cls.env["KUBECONFIG"] = os.path.join(cls.tmp, "empty-kubeconfig")
        open(cls.env["KUBECONFIG"], "w").close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def diff_batch(self, befores, afters):
        bpath, apath = os.path.join(self.tmp, "befores.json"), os.path.join(self.tmp, "afters.json")
        with open(bpath, "w") as f:
            json.dump(befores, f)
        with open(apath, "w") as f:
            json.dump(afters, f)
        out = subprocess.run([self.tool, "--batch", bpath, apath], capture_output=True, check=True, timeout=60)
        return json.loads(out.stdout)

    def kubectl_patch(self, index, before, patch):
        path = os.path.join(self.tmp, "before-%d.json" % index)
        with open(path, "w") as f:
            json.dump(before, f)
        proc = subprocess.run([self.kubectl, "patch", "--local", "-f", path, "--type=json", "-p", json.dumps(patch),
                               "-o", "json"], capture_output=True, env=self.env, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr

    def test_random_pod_pairs_apply_with_kubectl(self):
        rng = random.Random(SEED)
        befores = [pod(rng) for _ in range(PAIRS)]
        afters = [edit_pod(rng, b) for b in befores]
        patches = self.diff_batch(befores, afters)
        self.assertEqual(len(patches), PAIRS)

        work = []
        ops = {"add": 0, "remove": 0, "replace": 0}
        escaped = 0
        for i, (b, a, p) in enumerate(zip(befores, afters, patches)):
            if same(b, a):
                self.assertEqual(p, [], "pair %d: equal objects need an empty patch" % i)
                continue
            self.assertNotEqual(p, [], "pair %d: objects differ but the patch is empty" % i)
            for op in p:
                ops[op["op"]] += 1
                escaped += "~0" in op["path"] or "~1" in op["path"]
            work.append(i)
        # The generator must exercise every kind of operation and the escaping.
        self.assertGreaterEqual(len(work), 200)
        for name, count in ops.items():
            self.assertGreater(count, 50, "too few %s operations" % name)
        self.assertGreater(escaped, 50)

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(work, pool.map(lambda i: self.kubectl_patch(i, befores[i], patches[i]), work)))
        for i in work:
            rc, out, err = results[i]
            self.assertEqual(rc, 0, "pair %d: kubectl rejected the patch %s: %s" % (i, json.dumps(patches[i]),
                                                                                   err.decode(errors="replace")))
            got = json.loads(out)
            self.assertTrue(same(got, afters[i]), "pair %d:\nbefore %s\nafter  %s\npatch  %s\nkubectl %s" % (
                i, json.dumps(befores[i]), json.dumps(afters[i]), json.dumps(patches[i]), json.dumps(got)))

    def test_single_and_batch_modes_agree(self):
        rng = random.Random(SEED + 1)
        befores = [pod(rng) for _ in range(5)]
        afters = [edit_pod(rng, b) for b in befores]
        batch = self.diff_batch(befores, afters)
        for i in range(5):
            bpath, apath = os.path.join(self.tmp, "b%d.json" % i), os.path.join(self.tmp, "a%d.json" % i)
            with open(bpath, "w") as f:
                json.dump(befores[i], f)
            with open(apath, "w") as f:
                json.dump(afters[i], f)
            out = subprocess.run([self.tool, bpath, apath], capture_output=True, check=True, timeout=60)
            self.assertEqual(json.loads(out.stdout), batch[i])

    def test_kubectl_rejects_a_broken_patch(self):
        # The check above can fail: kubectl refuses a remove of a missing member.
        rng = random.Random(SEED + 2)
        before = pod(rng)
        rc, _, _ = self.kubectl_patch(9999, before, [{"op": "remove", "path": "/metadata/labels/no~1such"}])
        self.assertNotEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
