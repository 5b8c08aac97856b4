/*
 * common/json_write.c writes exactly what json_dumps(COMPACT | PRESERVE_ORDER | ENCODE_ANY) writes.
 */
#include "helpers.h"

#include "common/json_pack.h"
#include "common/json_write.h"

static void check_same(const json_t *v, const char *what)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    size_t len;
    char *got = pgw_json_write(v, &len);
    ck_assert_msg(want != NULL, "%s: jansson cannot dump it", what);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n got  %s\n want %s", what, got, want);
    free(got);
    free(want);
}

static const char *const literals[] = {
    "null",
    "true",
    "false",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "-0.0",
    "1e300",
    "2.5e-8",
    "100.0",
    "\"\"",
    "\"plain\"",
    "\"quote \\\" and backslash \\\\\"",
    "\"\\b\\f\\n\\r\\t\"",
    "\"\\u0000\\u0001\\u001f\\u007f\"",
    "\"slash / stays\"",
    "\"caf\\u00e9 \\u2028 \\ud83d\\ude00\"",
    "[]",
    "{}",
    "[[],{},[{}]]",
    "{\"b\":1,\"a\":2,\"\\n\":{\"z\":[1,\"x\",null]}}",
    "{\"\":\"\",\"k\\u0001k\":0}",
    "[1,2.25,\"three\",true,false,null,{\"four\":[4]}]",
    "[9,10,-9,-10,99,100,1000000007,-4611686018427387904]",
};

START_TEST(literals_match_jansson)
{
    json_error_t e;
    json_t *v = json_loads(literals[_i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    ck_assert_msg(v != NULL, "%s: %s", literals[_i], e.text);
    check_same(v, literals[_i]);
    json_decref(v);
}
END_TEST

/* Keys come out in insertion order, as the admission responses are built. */
START_TEST(insertion_order_and_built_values)
{
    json_t *v = pgw_json_pack("{s:s,s:b,s:{s:s,s:i},s:s}", "uid", "u-1", "allowed", 1, "status", "message", "m\"x", "code", 422,
                              "patch", "W3sib3AiOiJhZGQifV0=");
    json_object_set_new(v, "binary", json_stringn("a\0b", 3));
    json_object_set_new(v, "real", json_real(0.1));
    check_same(v, "built");
    size_t len;
    char *got = pgw_json_write(v, &len);
    ck_assert_ptr_nonnull(strstr(got, "{\"uid\":\"u-1\",\"allowed\":true,"));
    free(got);
    json_decref(v);
}
END_TEST

/*
 * The writer skips 8 clean bytes at a time: every byte that needs an escape, and
 * bytes just around the boundaries (0x1f/0x20, '!'/'#' beside '"', '['/']'
 * beside '\\', 0x7f, UTF-8), at every offset of strings up to 3 words long.
 */
START_TEST(escapes_at_every_offset)
{
    static const char *const specials[] = {"\"", "\\", "\n", "\x01", "\x1f", " ", "!", "#", "[", "]", "\x7f", "\xc3\xa9"};
    char buf[40];
    for (size_t k = 0; k != sizeof(specials) / sizeof(specials[0]); ++k) {
        for (size_t len = 1; len <= 24; ++len) {
            for (size_t at = 0; at + 1 <= len; ++at) {
                size_t sl = strlen(specials[k]);
                memset(buf, 'a', sizeof(buf));
                memcpy(buf + at, specials[k], sl);
                size_t n = at + sl > len ? at + sl : len;
                json_t *v = json_stringn(buf, n);
                ck_assert_ptr_nonnull(v);
                char what[64];
                snprintf(what, sizeof(what), "special %zu at %zu of %zu", k, at, n);
                check_same(v, what);
                json_decref(v);
            }
        }
    }
    json_t *v = json_stringn("\0aaaaaaa\"aaaaaaa\\aaaaaaa\x1f", 25);
    check_same(v, "one per word");
    json_decref(v);
}
END_TEST

static const char *const files[] = {
    "examples/admissionreview-pod.json",      "test/fixtures/pods/all-sidecars.json", "test/fixtures/pods/istio-meshed.json",
    "test/fixtures/pods/user-pgbouncer.json", "test/fixtures/pgbackrest/info.json",
};

START_TEST(real_documents_match_jansson)
{
    const char *src = getenv("PGW_SOURCE_DIR");
    char *path = pgw_asprintf("%s/%s", src != NULL ? src : "../..", files[_i]);
    json_error_t e;
    json_t *v = json_load_file(path, 0, &e);
    ck_assert_msg(v != NULL, "%s: %s", path, e.text);
    check_same(v, files[_i]);
    json_decref(v);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_write");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, literals_match_jansson, 0, sizeof(literals) / sizeof(literals[0]));
    tcase_add_test(tc, insertion_order_and_built_values);
    tcase_add_test(tc, escapes_at_every_offset);
    tcase_add_loop_test(tc, real_documents_match_jansson, 0, sizeof(files) / sizeof(files[0]));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
