/*
 * Tests for YAML → JSON (common/yaml.c).
 *
 * The scalar table is what kubectl sends for `v: <scalar>`: go-yaml v2
 * resolution (YAML 1.1 booleans, ~/null, strconv.ParseInt base 0 after
 * dropping "_", floats), then Go's JSON encoding, which writes an integral
 * float64 without a fraction, so the API server sees an integer.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/yaml.h"

static json_t *load(const char *text, char **err)
{
    return pgw_yaml_load_all(text, strlen(text), err);
}

static const struct {
    const char *scalar, *want; /* want: the JSON value of v */
} scalars[] = {
    /* booleans, YAML 1.1 spellings */
    {"yes", "true"},
    {"Yes", "true"},
    {"YES", "true"},
    {"y", "true"},
    {"Y", "true"},
    {"on", "true"},
    {"On", "true"},
    {"ON", "true"},
    {"true", "true"},
    {"True", "true"},
    {"TRUE", "true"},
    {"no", "false"},
    {"No", "false"},
    {"NO", "false"},
    {"n", "false"},
    {"N", "false"},
    {"off", "false"},
    {"Off", "false"},
    {"OFF", "false"},
    {"false", "false"},
    {"False", "false"},
    {"FALSE", "false"},
    {"yEs", "\"yEs\""},
    {"oN", "\"oN\""},
    {"tRUE", "\"tRUE\""},
    {"yess", "\"yess\""},
    /* nulls */
    {"~", "null"},
    {"null", "null"},
    {"Null", "null"},
    {"NULL", "null"},
    {"", "null"},
    {"nULL", "\"nULL\""},
    /* integers: strconv.ParseInt(s, 0, 64) after removing "_" */
    {"0", "0"},
    {"42", "42"},
    {"-7", "-7"},
    {"+12", "12"},
    {"1_000", "1000"},
    {"0x1F", "31"},
    {"0X1f", "31"},
    {"-0x10", "-16"},
    {"0777", "511"},
    {"0o17", "15"},
    {"0b101", "5"},
    {"-0b11", "-3"},
    {"9223372036854775807", "9223372036854775807"},
    {"-9223372036854775808", "-9223372036854775808"},
    /* floats */
    {"1.5", "1.5"},
    {".5", "0.5"},
    {"-.5", "-0.5"},
    {"+2.25", "2.25"},
    {"2.5e-3", "0.0025"},
    {"1_0.5", "10.5"},
    /* integral floats reach the API server as integers */
    {"1.0", "1"},
    {"1e3", "1000"},
    {"1.", "1"},
    {"08", "8"},
    {"-2.0", "-2"},
    {"9223372036854775808", "9223372036854775808.0"},
    /* strings */
    {"1e400", "\"1e400\""},
    {"12:30", "\"12:30\""},
    {"1.2.3", "\"1.2.3\""},
    {"0x", "\"0x\""},
    {"0xZZ", "\"0xZZ\""},
    {"+", "\"+\""},
    {"0b102", "\"0b102\""},
    {"2001-12-14", "\"2001-12-14\""},
    {"abc", "\"abc\""},
    {"ü日本", "\"ü日本\""},
    {"10Gi", "\"10Gi\""},
    {"_1", "\"_1\""},
    /* quoted and explicitly tagged scalars stay strings */
    {"\"yes\"", "\"yes\""},
    {"'no'", "\"no\""},
    {"\"42\"", "\"42\""},
    {"'1.5'", "\"1.5\""},
    {"\"\"", "\"\""},
    {"'null'", "\"null\""},
    {"\"~\"", "\"~\""},
    {"!!str 123", "\"123\""},
    {"!!str yes", "\"yes\""},
    {"|\n  on\n", "\"on\\n\""},
};

START_TEST(test_scalar_resolution)
{
    char *text = NULL, *err = NULL;
    size_t n = strlen(scalars[_i].scalar) + 8;
    text = malloc(n);
    snprintf(text, n, "v: %s\n", scalars[_i].scalar);
    json_t *docs = load(text, &err);
    ck_assert_msg(docs != NULL, "%s: %s", scalars[_i].scalar, err ? err : "");
    json_error_t jerr;
    json_t *want = json_loads(scalars[_i].want, JSON_DECODE_ANY, &jerr);
    ck_assert_ptr_nonnull(want);
    json_t *got = json_object_get(json_array_get(docs, 0), "v");
    char *gs = got ? json_dumps(got, JSON_ENCODE_ANY) : strdup("(missing)");
    ck_assert_msg(got != NULL && json_equal(got, want), "v: %s → %s, want %s", scalars[_i].scalar, gs, scalars[_i].want);
    free(gs);
    free(text);
    json_decref(want);
    json_decref(docs);
}
END_TEST

static const struct {
    const char *yaml, *want; /* want: JSON array of documents */
} documents[] = {
    {"a: 1\n---\nb: [x, 2]\n", "[{\"a\":1},{\"b\":[\"x\",2]}]"},
    {"---\n---\na: 1\n---\n", "[{\"a\":1}]"},
    {"", "[]"},
    {"# only a comment\n", "[]"},
    {"---\n~\n---\nnull\n", "[]"},
    {"--- 5\n--- \"x\"\n", "[5,\"x\"]"},
    {"{\"a\": [1, 2.5, \"x\", null, true], \"b\": {}}", "[{\"a\":[1,2.5,\"x\",null,true],\"b\":{}}]"},
    {"a: &anchor {b: 1}\nc: *anchor\n", "[{\"a\":{\"b\":1},\"c\":{\"b\":1}}]"},
    {"list:\n- name: a\n  on: yes\n- []\n", "[{\"list\":[{\"name\":\"a\",\"on\":true},[]]}]"},
    {"key with spaces: v\n\"quoted/key~\": w\n", "[{\"key with spaces\":\"v\",\"quoted/key~\":\"w\"}]"},
    {"a:\n  b:\n    c: deep\n", "[{\"a\":{\"b\":{\"c\":\"deep\"}}}]"},
    {"s: \"tab\\tnl\\n\"\n", "[{\"s\":\"tab\\tnl\\n\"}]"},
    /* explicit tags are found after multi-byte text and anchors */
    {"ü日本ü日本ü日本: !!str yes\nü日本ü日本ü日本ü日本ü日本ü日本ü日本ü日本: yes\n",
     "[{\"ü日本ü日本ü日本\":\"yes\",\"ü日本ü日本ü日本ü日本ü日本ü日本ü日本ü日本\":true}]"},
    {"a: &x !!str on\nb: &y on\nc: *x\nd: *y\ne: [!!str 1, 1, ! 2]\n",
     "[{\"a\":\"on\",\"b\":true,\"c\":\"on\",\"d\":true,\"e\":[\"1\",1,\"2\"]}]"},
};

START_TEST(test_documents)
{
    char *err = NULL;
    json_t *docs = load(documents[_i].yaml, &err);
    ck_assert_msg(docs != NULL, "%s: %s", documents[_i].yaml, err ? err : "");
    ck_assert_ptr_null(err);
    json_error_t jerr;
    json_t *want = json_loads(documents[_i].want, 0, &jerr);
    ck_assert_ptr_nonnull(want);
    char *gs = json_dumps(docs, JSON_COMPACT);
    ck_assert_msg(json_equal(docs, want), "%s → %s, want %s", documents[_i].yaml, gs, documents[_i].want);
    free(gs);
    json_decref(want);
    json_decref(docs);
}
END_TEST

static const struct {
    const char *yaml, *want_err; /* substring of the message */
} failures[] = {
    {"a: 1\na: 2\n", "line 2: duplicate key \"a\""},
    {"x:\n  y: 1\n  z: 2\n  y: 3\n", "line 4: duplicate key \"y\""},
    {"a: 1\n---\nb: 1\nb: 1\n", "duplicate key \"b\""},
    {"a: 1\nb: 2\n  c: 3\n", "YAML error at line 3, column "},
    {"a: [1, 2\n", "YAML error at line "},
    {"a: \"unterminated\n", "YAML error at line "},
    {"a: *nope\n", "YAML error at line 1, column 4"},
    {"? [a, b]\n: 1\n", "mapping keys must be scalars"},
    {"a: \"x\\0y\"\n", "NUL byte"},
    {"a: \xff\xfe\n", "YAML error"},
};

START_TEST(test_failures)
{
    char *err = NULL;
    json_t *docs = load(failures[_i].yaml, &err);
    ck_assert_msg(docs == NULL, "accepted %s", failures[_i].yaml);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, failures[_i].want_err) != NULL, "%s: error \"%s\" lacks \"%s\"", failures[_i].yaml, err,
                  failures[_i].want_err);
    free(err);
}
END_TEST

/* "Billion laughs": nine levels of ten aliases expand to 10^9 nodes; the budget stops it early. */
START_TEST(test_alias_bomb)
{
    const char *bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                       "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    char *err = NULL;
    json_t *docs = load(bomb, &err);
    ck_assert_ptr_null(docs);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "alias") != NULL && strstr(err, "expands to more than") != NULL, "error: %s", err);
    free(err);

    /* A smaller fan-out of the same shape is fine: 10^4 leaves. */
    const char *ok = "a: &a [1,2,3,4,5,6,7,8,9,10]\n"
                     "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                     "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
    docs = load(ok, &err);
    ck_assert_msg(docs != NULL, "%s", err ? err : "");
    json_t *d = json_object_get(json_array_get(docs, 0), "d");
    ck_assert_uint_eq(json_array_size(d), 10);
    ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(json_array_get(json_array_get(d, 9), 9), 9), 9)), 10);
    json_decref(docs);
}
END_TEST

static char *nested(int depth, int mapping)
{
    size_t n = (size_t)depth * 5 + 16;
    char *s = malloc(n), *w = s;
    for (int i = 0; i < depth; ++i) {
        if (mapping) {
            memcpy(w, "{a: ", 4);
            w += 4;
        } else {
            *w++ = '[';
        }
    }
    *w++ = '1';
    for (int i = 0; i < depth; ++i)
        *w++ = mapping ? '}' : ']';
    *w = '\0';
    return s;
}

START_TEST(test_deep_nesting)
{
    for (int mapping = 0; mapping < 2; ++mapping) {
        char *err = NULL, *text = nested(400, mapping);
        json_t *docs = load(text, &err);
        ck_assert_msg(docs != NULL, "depth 400 rejected: %s", err ? err : "");
        json_decref(docs);
        free(text);

        text = nested(5000, mapping);
        docs = load(text, &err);
        ck_assert_ptr_null(docs);
        ck_assert_msg(err != NULL && strstr(err, "nesting deeper than") != NULL, "error: %s", err ? err : "(none)");
        free(err);
        free(text);
    }
}
END_TEST

/* Input with an embedded NUL outside a scalar ends there or fails; it never reads past len. */
START_TEST(test_length_is_respected)
{
    const char text[] = {'a', ':', ' ', '1', '\n', 'b', ':', ' ', '2', '\n'};
    char *err = NULL;
    json_t *docs = pgw_yaml_load_all(text, 5, &err);
    ck_assert_ptr_nonnull(docs);
    ck_assert_uint_eq(json_object_size(json_array_get(docs, 0)), 1);
    json_decref(docs);
}
END_TEST

static Suite *yaml_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_scalar_resolution, 0, sizeof(scalars) / sizeof(scalars[0]));
    tcase_add_loop_test(tc, test_documents, 0, sizeof(documents) / sizeof(documents[0]));
    tcase_add_loop_test(tc, test_failures, 0, sizeof(failures) / sizeof(failures[0]));
    tcase_add_test(tc, test_alias_bomb);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_length_is_respected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(yaml_suite());
}
