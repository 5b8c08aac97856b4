/*
 * Tests for the RFC 6902 differ (common/jsonpatch.c).
 *
 * Two kinds of checks: case tables that pin the exact operations for the
 * shapes we care about (objects, arrays growing and shrinking, type changes,
 * RFC 6901 escaping), and a property check over many seeded random pairs:
 * apply(before, diff(before, after)) == after, using a small strict applier
 * that lives only here. The applier rejects what RFC 6902 rejects (removing a
 * missing member, adding past the end of an array, bad pointers), so a patch
 * that only "happens to work" on a lenient applier still fails the test.
 */
#include "helpers.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonpatch.h"

/* ---- a strict RFC 6902 applier (add/remove/replace only) ---- */

/* Splits a JSON Pointer into unescaped tokens. Returns the count, or -1 if malformed. */
static int pointer_tokens(const char *pointer, char ***out)
{
    *out = NULL;
    if (pointer[0] == '\0')
        return 0;
    if (pointer[0] != '/')
        return -1;
    int n = 0;
    char **toks = NULL;
    const char *p = pointer + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *t = malloc(len + 1), *w = t;
        for (size_t i = 0; i < len; ++i) {
            if (p[i] == '~') {
                if (i + 1 < len && p[i + 1] == '0')
                    *w++ = '~';
                else if (i + 1 < len && p[i + 1] == '1')
                    *w++ = '/';
                else {
                    free(t);
                    for (int k = 0; k < n; ++k)
                        free(toks[k]);
                    free(toks);
                    return -1;
                }
                ++i;
            } else {
                *w++ = p[i];
            }
        }
        *w = '\0';
        toks = realloc(toks, sizeof(*toks) * (size_t)(n + 1));
        toks[n++] = t;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *out = toks;
    return n;
}

static void free_tokens(char **toks, int n)
{
    for (int i = 0; i < n; ++i)
        free(toks[i]);
    free(toks);
}

/* Array index per RFC 6901: "0" or digits without a leading zero. Returns -1 if not one. */
static long array_index(const char *t)
{
    if (t[0] == '\0' || (t[0] == '0' && t[1] != '\0'))
        return -1;
    long v = 0;
    for (const char *p = t; *p; ++p) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 100000000)
            return -1;
    }
    return v;
}

/* Applies one operation to *doc (which may be replaced). Returns 0 or -1. */
static int apply_op(json_t **doc, const json_t *op)
{
    const char *kind = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    json_t *value = json_object_get(op, "value");
    if (kind == NULL || path == NULL)
        return -1;
    int is_add = strcmp(kind, "add") == 0, is_remove = strcmp(kind, "remove") == 0, is_replace = strcmp(kind, "replace") == 0;
    if (!is_add && !is_remove && !is_replace)
        return -1;
    if (!is_remove && value == NULL)
        return -1;
    if (is_remove && value != NULL)
        return -1; /* the differ never sends a value with remove */
    char **toks;
    int n = pointer_tokens(path, &toks);
    if (n < 0)
        return -1;
    if (n == 0) { /* the whole document */
        if (is_remove)
            return -1;
        json_decref(*doc);
        *doc = json_deep_copy(value);
        return 0;
    }
    json_t *parent = *doc;
    for (int i = 0; i < n - 1 && parent != NULL; ++i) {
        if (json_is_object(parent)) {
            parent = json_object_get(parent, toks[i]);
        } else if (json_is_array(parent)) {
            long idx = array_index(toks[i]);
            parent = idx < 0 ? NULL : json_array_get(parent, (size_t)idx);
        } else {
            parent = NULL;
        }
    }
    int rc = -1;
    const char *last = toks[n - 1];
    if (json_is_object(parent)) {
        int exists = json_object_get(parent, last) != NULL;
        if (is_add)
            rc = json_object_set_new(parent, last, json_deep_copy(value));
        else if (exists && is_remove)
            rc = json_object_del(parent, last);
        else if (exists && is_replace)
            rc = json_object_set_new(parent, last, json_deep_copy(value));
    } else if (json_is_array(parent)) {
        long idx = array_index(last);
        size_t size = json_array_size(parent);
        if (idx >= 0 && is_add && (size_t)idx <= size)
            rc = json_array_insert_new(parent, (size_t)idx, json_deep_copy(value));
        else if (idx >= 0 && is_remove && (size_t)idx < size)
            rc = json_array_remove(parent, (size_t)idx);
        else if (idx >= 0 && is_replace && (size_t)idx < size)
            rc = json_array_set_new(parent, (size_t)idx, json_deep_copy(value));
    }
    free_tokens(toks, n);
    return rc;
}

/* Returns a new document, or NULL if any operation fails. */
static json_t *apply_patch(const json_t *before, const json_t *patch)
{
    json_t *doc = json_deep_copy(before);
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        if (apply_op(&doc, op) != 0) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, err.text);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- the applier itself must reject what RFC 6902 rejects ---- */

static const struct {
    const char *doc, *patch;
} applier_rejects[] = {
    {"{}", "[{\"op\":\"remove\",\"path\":\"/a\"}]"},
    {"{}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1}]"},
    {"[1]", "[{\"op\":\"add\",\"path\":\"/2\",\"value\":1}]"},
    {"[1]", "[{\"op\":\"remove\",\"path\":\"/1\"}]"},
    {"[1]", "[{\"op\":\"replace\",\"path\":\"/01\",\"value\":1}]"},
    {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]"},
    {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]"},
    {"{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b/c\",\"value\":1}]"},
};

START_TEST(test_applier_is_strict)
{
    json_t *doc = parse(applier_rejects[_i].doc), *patch = parse(applier_rejects[_i].patch);
    json_t *r = apply_patch(doc, patch);
    ck_assert_msg(r == NULL, "applier accepted %s on %s", applier_rejects[_i].patch, applier_rejects[_i].doc);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

/* ---- exact patches ---- */

static const struct {
    const char *name, *before, *after, *patch;
} cases[] = {
    {"equal objects", "{\"a\":1,\"b\":[1,2]}", "{\"b\":[1,2],\"a\":1}", "[]"},
    {"equal scalars", "3", "3", "[]"},
    {"equal empty", "{}", "{}", "[]"},
    {"add member", "{}", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]"},
    {"remove member", "{\"a\":1}", "{}", "[{\"op\":\"remove\",\"path\":\"/a\"}]"},
    {"replace member", "{\"a\":1}", "{\"a\":2}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]"},
    {"removals before additions", "{\"a\":1}", "{\"b\":1}",
     "[{\"op\":\"remove\",\"path\":\"/a\"},{\"op\":\"add\",\"path\":\"/b\",\"value\":1}]"},
    {"nested member", "{\"spec\":{\"x\":{\"y\":1,\"z\":2}}}", "{\"spec\":{\"x\":{\"y\":1,\"z\":3}}}",
     "[{\"op\":\"replace\",\"path\":\"/spec/x/z\",\"value\":3}]"},
    {"add nested object whole", "{\"spec\":{}}", "{\"spec\":{\"x\":{\"y\":[1]}}}",
     "[{\"op\":\"add\",\"path\":\"/spec/x\",\"value\":{\"y\":[1]}}]"},
    {"null value added", "{}", "{\"a\":null}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":null}]"},
    {"null to value", "{\"a\":null}", "{\"a\":false}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":false}]"},
    {"array grows", "[1]", "[1,2,3]",
     "[{\"op\":\"add\",\"path\":\"/1\",\"value\":2},{\"op\":\"add\",\"path\":\"/2\",\"value\":3}]"},
    {"array shrinks from the end", "[1,2,3]", "[1]", "[{\"op\":\"remove\",\"path\":\"/2\"},{\"op\":\"remove\",\"path\":\"/1\"}]"},
    {"array to empty", "[1,2]", "[]", "[{\"op\":\"remove\",\"path\":\"/1\"},{\"op\":\"remove\",\"path\":\"/0\"}]"},
    {"empty array grows", "{\"a\":[]}", "{\"a\":[{}]}", "[{\"op\":\"add\",\"path\":\"/a/0\",\"value\":{}}]"},
    {"array element edited", "[{\"name\":\"a\",\"image\":\"x\"}]", "[{\"name\":\"a\",\"image\":\"y\"}]",
     "[{\"op\":\"replace\",\"path\":\"/0/image\",\"value\":\"y\"}]"},
    {"array element edited and shrunk", "[1,2,3]", "[9]",
     "[{\"op\":\"replace\",\"path\":\"/0\",\"value\":9},{\"op\":\"remove\",\"path\":\"/2\"},"
     "{\"op\":\"remove\",\"path\":\"/1\"}]"},
    {"object to array", "{\"a\":{}}", "{\"a\":[]}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":[]}]"},
    {"array to string", "{\"a\":[1]}", "{\"a\":\"1\"}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"1\"}]"},
    {"integer to real", "{\"a\":1}", "{\"a\":1.5}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":1.5}]"},
    {"true to false", "[true]", "[false]", "[{\"op\":\"replace\",\"path\":\"/0\",\"value\":false}]"},
    {"root object to array", "{\"a\":1}", "[1]", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]"},
    {"root scalar", "1", "\"x\"", "[{\"op\":\"replace\",\"path\":\"\",\"value\":\"x\"}]"},
    {"slash in key", "{}", "{\"pgwarden.io/cluster\":\"a\"}",
     "[{\"op\":\"add\",\"path\":\"/pgwarden.io~1cluster\",\"value\":\"a\"}]"},
    {"tilde in key", "{\"a~b\":1}", "{}", "[{\"op\":\"remove\",\"path\":\"/a~0b\"}]"},
    {"tilde then one", "{}", "{\"~1\":1}", "[{\"op\":\"add\",\"path\":\"/~01\",\"value\":1}]"},
    {"slash then zero", "{}", "{\"/0\":1}", "[{\"op\":\"add\",\"path\":\"/~10\",\"value\":1}]"},
    {"nested escaped keys", "{\"a/b\":{\"c~d\":1}}", "{\"a/b\":{\"c~d\":2}}",
     "[{\"op\":\"replace\",\"path\":\"/a~1b/c~0d\",\"value\":2}]"},
    {"empty key", "{\"\":1}", "{\"\":2}", "[{\"op\":\"replace\",\"path\":\"/\",\"value\":2}]"},
    {"unicode key", "{}", "{\"приве́т/日本\":\"ü\"}", "[{\"op\":\"add\",\"path\":\"/приве́т~1日本\",\"value\":\"ü\"}]"},
    {"empty object to object", "{\"a\":{}}", "{\"a\":{\"b\":{}}}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":{}}]"},
};

START_TEST(test_diff_cases)
{
    json_t *before = parse(cases[_i].before), *after = parse(cases[_i].after), *want = parse(cases[_i].patch);
    json_t *got = pgw_jsonpatch_diff(before, after);
    char *gs = dump(got), *ws = dump(want);
    ck_assert_msg(json_is_array(got), "%s: not an array", cases[_i].name);
    ck_assert_msg(json_equal(got, want), "%s: got %s, want %s", cases[_i].name, gs, ws);
    /* The exact patch must also bring `before` to `after`. */
    json_t *applied = apply_patch(before, got);
    ck_assert_msg(applied != NULL && json_equal(applied, after), "%s: applying %s failed", cases[_i].name, gs);
    json_decref(applied);
    free(gs);
    free(ws);
    json_decref(got);
    json_decref(before);
    json_decref(after);
    json_decref(want);
}
END_TEST

/* The diff reads its inputs only. */
START_TEST(test_diff_leaves_inputs_alone)
{
    json_t *before = parse("{\"a\":[1,2,{\"b\":1}],\"c\":{\"d\":1}}"), *after = parse("{\"a\":[3],\"e\":1}");
    json_t *b0 = json_deep_copy(before), *a0 = json_deep_copy(after);
    json_t *patch = pgw_jsonpatch_diff(before, after);
    ck_assert(json_equal(before, b0));
    ck_assert(json_equal(after, a0));
    /* Values in the patch are references into `after` (no copy on the hot path), and they outlive it. */
    json_t *v = json_object_get(json_array_get(patch, json_array_size(patch) - 1), "value");
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_eq(v, json_object_get(after, "e"));
    json_decref(after);
    json_decref(before);
    ck_assert_int_eq(json_integer_value(v), 1);
    json_decref(patch);
    json_decref(b0);
    json_decref(a0);
}
END_TEST

static const struct {
    const char *base, *token, *want;
} pointers[] = {
    {"", "a", "/a"},           {"", "", "/"},        {"/spec", "a/b", "/spec/a~1b"}, {"/x", "~", "/x/~0"},
    {"", "~/~/", "/~0~1~0~1"}, {"", "~01", "/~001"}, {"/m", "日本", "/m/日本"},
};

START_TEST(test_pointer_append)
{
    char *got = pgw_jsonpointer_append(pointers[_i].base, pointers[_i].token);
    ck_assert_str_eq(got, pointers[_i].want);
    free(got);
}
END_TEST

/* ---- property: apply(before, diff(before, after)) == after ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic from the seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rng() % n);
}

static const char *const keys[] = {
    "a", "b", "name", "image", "a/b", "~", "~1", "/", "~0/~1", "", "0", "1", "ü", "日本", "pgwarden.io/cluster", "x~y"};

static json_t *random_value(int depth)
{
    unsigned k = pick(depth > 3 ? 6 : 9);
    switch (k) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(pick(2));
    case 2:
        return json_integer((json_int_t)pick(5) - 2);
    case 3:
        return json_real((double)pick(7) / 4.0);
    case 4:
        return json_string(keys[pick(sizeof(keys) / sizeof(keys[0]))]);
    case 5:
        return json_string("");
    case 6:
    case 7: {
        json_t *o = json_object();
        unsigned n = pick(5);
        for (unsigned i = 0; i < n; ++i)
            json_object_set_new(o, keys[pick(sizeof(keys) / sizeof(keys[0]))], random_value(depth + 1));
        return o;
    }
    default: {
        json_t *a = json_array();
        unsigned n = pick(5);
        for (unsigned i = 0; i < n; ++i)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    }
}

/* Returns an edited deep copy of v: some members changed, added, removed, arrays grown or shrunk. */
static json_t *random_edit(const json_t *v, int depth)
{
    if (pick(8) == 0)
        return random_value(depth);
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            unsigned r = pick(6);
            if (r == 0)
                continue; /* removed */
            json_object_set_new(o, k, r == 1 ? random_edit(m, depth + 1) : json_deep_copy(m));
        }
        if (pick(3) == 0)
            json_object_set_new(o, keys[pick(sizeof(keys) / sizeof(keys[0]))], random_value(depth + 1));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i, n = json_array_size(v);
        if (pick(3) == 0 && n > 0)
            n = pick((unsigned)n); /* shrink */
        for (i = 0; i < n; ++i) {
            json_t *m = json_array_get(v, i);
            json_array_append_new(a, pick(4) == 0 ? random_edit(m, depth + 1) : json_deep_copy(m));
        }
        if (pick(3) == 0) /* grow */
            for (unsigned g = pick(3) + 1; g > 0; --g)
                json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    return json_deep_copy(v);
}

START_TEST(test_diff_property_random_pairs)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    int empty_patches = 0, nonempty = 0;
    for (int round = 0; round < 5000; ++round) {
        json_t *before = random_value(0);
        json_t *after = (round % 4 == 0) ? random_value(0) : random_edit(before, 0);
        json_t *patch = pgw_jsonpatch_diff(before, after);
        json_t *applied = apply_patch(before, patch);
        if (applied == NULL || !json_equal(applied, after)) {
            char *b = dump(before), *a = dump(after), *p = dump(patch);
            ck_abort_msg("round %d: before %s after %s patch %s did not apply", round, b, a, p);
        }
        if (json_equal(before, after)) {
            ck_assert_uint_eq(json_array_size(patch), 0);
            ++empty_patches;
        } else {
            ck_assert_uint_gt(json_array_size(patch), 0);
            ++nonempty;
        }
        /* Diffing the result again against `after` yields nothing. */
        json_t *again = pgw_jsonpatch_diff(applied, after);
        ck_assert_uint_eq(json_array_size(again), 0);
        json_decref(again);
        json_decref(applied);
        json_decref(patch);
        json_decref(before);
        json_decref(after);
    }
    /* The generator must exercise both outcomes, or the property says little. */
    ck_assert_int_gt(empty_patches, 50);
    ck_assert_int_gt(nonempty, 2000);
}
END_TEST

static Suite *jsonpatch_suite(void)
{
    Suite *s = suite_create("jsonpatch");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_applier_is_strict, 0, sizeof(applier_rejects) / sizeof(applier_rejects[0]));
    tcase_add_loop_test(tc, test_diff_cases, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_diff_leaves_inputs_alone);
    tcase_add_loop_test(tc, test_pointer_append, 0, sizeof(pointers) / sizeof(pointers[0]));
    tcase_add_test(tc, test_diff_property_random_pairs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(jsonpatch_suite());
}
