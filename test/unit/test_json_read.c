/*
 * common/json_read.c reads what json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)
 * reads, rejects what it rejects, and reports the same errors at the same places.
 */
#include <glob.h>

#include "helpers.h"

#include "common/json_read.h"
#include "test/unit/json_same_tree.h"

static const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;

/* Reads text with both readers: both must accept with the same tree. Returns ours (caller decrefs). */
static json_t *check_accepted(const char *text, size_t len, const char *what)
{
    json_error_t want, got;
    json_t *a = json_loadb(text, len, flags, &want);
    json_t *b = pgw_json_read(text, len, &got);
    ck_assert_msg(a != NULL, "%s: jansson rejects it: %s", what, want.text);
    ck_assert_msg(b != NULL, "%s: rejected at %d:%d: %s", what, got.line, got.column, got.text);
    ck_assert_msg(pgw_json_same_tree(a, b), "%s: values differ", what);
    ck_assert_int_eq(got.position, want.position);
    json_decref(a);
    return b;
}

/* Both must reject, with the same error; returns ours for further checks. */
static json_error_t check_rejected(const char *text, size_t len, const char *what)
{
    json_error_t want, got;
    json_t *a = json_loadb(text, len, flags, &want);
    json_t *b = pgw_json_read(text, len, &got);
    ck_assert_msg(a == NULL, "%s: jansson accepts it", what);
    ck_assert_msg(b == NULL, "%s: accepted", what);
    ck_assert_msg(strcmp(got.text, want.text) == 0, "%s:\n got  %s\n want %s", what, got.text, want.text);
    ck_assert_msg(got.line == want.line && got.column == want.column && got.position == want.position,
                  "%s: at %d:%d@%d, jansson at %d:%d@%d", what, got.line, got.column, got.position, want.line, want.column,
                  want.position);
    ck_assert_int_eq(json_error_code(&got), json_error_code(&want));
    return got;
}

/* ---- every example and fixture document ---- */

static const char *const document_globs[] = {"examples/*.json", "test/fixtures/*/*.json"};

START_TEST(documents_read_like_jansson)
{
    const char *src = getenv("PGW_SOURCE_DIR");
    char *pattern = pgw_asprintf("%s/%s", src != NULL ? src : "../..", document_globs[_i]);
    glob_t g;
    ck_assert_msg(glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0, "no file matches %s", pattern);
    for (size_t i = 0; i != g.gl_pathc; ++i) {
        FILE *fp = fopen(g.gl_pathv[i], "rb");
        ck_assert_ptr_nonnull(fp);
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        int c;
        while ((c = fgetc(fp)) != EOF)
            fputc(c, mem);
        fclose(mem);
        fclose(fp);
        json_decref(check_accepted(text, len, g.gl_pathv[i]));
        free(text);
    }
    globfree(&g);
    free(pattern);
}
END_TEST

/* ---- edge literals: accepted, with the type jansson gives ---- */

static const struct {
    const char *text;
    json_type type;
} literals[] = {
    {"-0", JSON_INTEGER},
    {"0", JSON_INTEGER},
    {"9223372036854775807", JSON_INTEGER},
    {"-9223372036854775808", JSON_INTEGER},
    {"-0.0", JSON_REAL},
    {"1E2", JSON_REAL},
    {"1e-400", JSON_REAL}, /* underflow is accepted, as 0 */
    {"1.5e+3", JSON_REAL},
    {"2.5E-3", JSON_REAL},
    {"1.7976931348623157e308", JSON_REAL},
    {"123456789.123456789e-5", JSON_REAL},
    {" \t\r\n true \n", JSON_TRUE},
    {"false", JSON_FALSE},
    {"null", JSON_NULL},
    {"\"\"", JSON_STRING},
    {"\"plain ascii ~\x7f\"", JSON_STRING},
    {"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbe \xf4\x8f\xbf\xbf\"", JSON_STRING},
    {"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", JSON_STRING},
    {"\"\\u00e9\\u20AC\\ud83d\\ude00\\uDBFF\\uDFFF\\u0001\"", JSON_STRING},
    {"[]", JSON_ARRAY},
    {"[1,[2,[3,[]]],{}]", JSON_ARRAY},
    {"{}", JSON_OBJECT},
    {"{\"a\":{\"a\":{\"a\":1}}}", JSON_OBJECT}, /* the same key at different levels is no duplicate */
    {"{\"\":0,\"\\u00e9\":1,\"\xc3\xa9x\":2}", JSON_OBJECT},
    {"{\"k\\n1\":{\"k\\t2\":\"v\\u00e9\",\"k3\":[\"\\\"\"]},\"k\\n2\":null}", JSON_OBJECT},
};

START_TEST(literals_read_like_jansson)
{
    json_t *v = check_accepted(literals[_i].text, strlen(literals[_i].text), literals[_i].text);
    ck_assert_int_eq(json_typeof(v), literals[_i].type);
    json_decref(v);
}
END_TEST

/* Decoded values, not only "equal to jansson's". */
START_TEST(values_and_key_order)
{
    const char *text = "{\"z\":1,\"a\":-0,\"m\":[0.5,\"\\u00e9\\n\"],\"k\\u0041\":\"x\"}";
    json_t *v = check_accepted(text, strlen(text), text);
    const char *order[] = {"z", "a", "m", "kA"};
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach(v, key, value)
    {
        ck_assert_str_eq(key, order[i]);
        ++i;
    }
    ck_assert_uint_eq(i, 4);
    ck_assert(json_is_integer(json_object_get(v, "a")) && json_integer_value(json_object_get(v, "a")) == 0);
    ck_assert(json_real_value(json_array_get(json_object_get(v, "m"), 0)) == 0.5);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v, "m"), 1)), "\xc3\xa9\n");
    json_decref(v);
}
END_TEST

/* Escaped strings longer than the inline decoding buffer, and an escaped key whose value has escapes too. */
START_TEST(long_escaped_strings)
{
    char *big = pgw_malloc(20000);
    size_t n = 0;
    n += (size_t)sprintf(big + n, "{\"key\\twith escape\":[\"");
    for (int i = 0; i < 1000; ++i)
        n += (size_t)sprintf(big + n, "\\u00e9x\\n");
    n += (size_t)sprintf(big + n, "\",\"\\ud83d\\ude00\"]}");
    json_t *v = check_accepted(big, n, "long escaped");
    json_t *arr = json_object_get(v, "key\twith escape");
    ck_assert_ptr_nonnull(arr);
    ck_assert_uint_eq(json_string_length(json_array_get(arr, 0)), 4000);
    json_decref(v);
    free(big);
}
END_TEST

/* jansson drops one NUL byte right after a number or a literal; the same inputs must be accepted. */
static const struct {
    const char *text;
    size_t len;
} nul_quirks[] = {{"1\0", 2}, {"[1\0]", 4}, {"true\0", 5}, {"[null\0,2.5\0]", 12}, {"{\"a\":1\0}", 8}};

START_TEST(nul_after_number_is_skipped_like_jansson)
{
    json_decref(check_accepted(nul_quirks[_i].text, nul_quirks[_i].len, "nul quirk"));
}
END_TEST

/* A byte that needs a look (escape, UTF-8, control, quote) is seen wherever it sits in a string. */
static const struct {
    const char *bytes;
    int accepted;
} specials[] = {
    {"\\n", 1},  {"\\u00e9", 1}, {"\xc3\xa9", 1}, {"\x7f", 1}, {" ", 1},
    {"\x1f", 0}, {"\x01", 0},    {"\xff", 0},     {"\x80", 0}, {"\"", 0},
};

START_TEST(special_byte_at_every_offset)
{
    for (size_t at = 0; at != 19; ++at) {
        char text[64];
        size_t len = 0;
        text[len++] = '"';
        for (size_t i = 0; i != at; ++i)
            text[len++] = 'a';
        len += (size_t)sprintf(text + len, "%s", specials[_i].bytes);
        for (size_t i = at; i != 18; ++i)
            text[len++] = 'b';
        text[len++] = '"';
        if (specials[_i].accepted)
            json_decref(check_accepted(text, len, specials[_i].bytes));
        else
            check_rejected(text, len, specials[_i].bytes);
    }
}
END_TEST

/* ---- rejections: one row per rule, with the error code the rule gives ---- */

static const struct {
    const char *text;
    size_t len; /* 0: strlen */
    enum json_error_code code;
    const char *rule;
} invalid[] = {
    {"", 0, json_error_premature_end_of_input, "empty input"},
    {" \n\t", 0, json_error_premature_end_of_input, "only white space"},
    {"{\"a\":1} x", 0, json_error_end_of_input_expected, "trailing garbage"},
    {"1 2", 0, json_error_end_of_input_expected, "two values"},
    {"\"a\"\0", 4, json_error_end_of_input_expected, "NUL after a string"},
    {"\0", 1, json_error_premature_end_of_input, "a NUL byte"},
    {"[1,]", 0, json_error_invalid_syntax, "trailing comma in an array"},
    {"{\"a\":1,}", 0, json_error_invalid_syntax, "trailing comma in an object"},
    {"{\"a\" 1}", 0, json_error_invalid_syntax, "missing colon"},
    {"{\"a\":1 \"b\":2}", 0, json_error_invalid_syntax, "missing comma in an object"},
    {"[1 2]", 0, json_error_invalid_syntax, "missing comma in an array"},
    {"{1:2}", 0, json_error_invalid_syntax, "non-string key"},
    {"[", 0, json_error_premature_end_of_input, "unclosed array"},
    {"[1,", 0, json_error_premature_end_of_input, "array cut after a comma"},
    {"{", 0, json_error_premature_end_of_input, "unclosed object"},
    {"{\"a\":", 0, json_error_premature_end_of_input, "object cut before a value"},
    {"]", 0, json_error_invalid_syntax, "closing bracket"},
    {"'a'", 0, json_error_invalid_syntax, "single quotes"},
    {"\xef\xbb\xbf{}", 0, json_error_invalid_syntax, "byte order mark"},
    {"truex", 0, json_error_invalid_syntax, "unknown word"},
    {"nul", 0, json_error_invalid_syntax, "cut literal"},
    {"True", 0, json_error_invalid_syntax, "capitalised literal"},
    {"01", 0, json_error_invalid_syntax, "leading zero"},
    {"-01", 0, json_error_invalid_syntax, "leading zero after minus"},
    {"-", 0, json_error_invalid_syntax, "lone minus"},
    {"1.", 0, json_error_invalid_syntax, "no digit after the point"},
    {".5", 0, json_error_invalid_syntax, "no digit before the point"},
    {"+1", 0, json_error_invalid_syntax, "plus sign"},
    {"1e", 0, json_error_invalid_syntax, "no exponent digits"},
    {"1e+", 0, json_error_invalid_syntax, "no exponent digits after the sign"},
    {"0x10", 0, json_error_end_of_input_expected, "hexadecimal"},
    {"9223372036854775808", 0, json_error_numeric_overflow, "too big integer"},
    {"-9223372036854775809", 0, json_error_numeric_overflow, "too big negative integer"},
    {"123456789012345678901234567890", 0, json_error_numeric_overflow, "far too big integer"},
    {"1E400", 0, json_error_numeric_overflow, "real overflow"},
    {"[-1e999]", 0, json_error_numeric_overflow, "negative real overflow"},
    {"\"abc", 0, json_error_premature_end_of_input, "unterminated string"},
    {"\"a\x01\"", 0, json_error_invalid_syntax, "control character in a string"},
    {"\"a\nb\"", 0, json_error_invalid_syntax, "raw newline in a string"},
    {"\"a\0b\"", 5, json_error_invalid_syntax, "raw NUL in a string"},
    {"\"\\x\"", 0, json_error_invalid_syntax, "unknown escape"},
    {"\"\\", 0, json_error_invalid_syntax, "backslash at the end"},
    {"\"\\u12g4\"", 0, json_error_invalid_syntax, "bad hex digit"},
    {"\"\\u12\"", 0, json_error_invalid_syntax, "short \\u escape"},
    {"\"\\ud800\"", 0, json_error_invalid_syntax, "lone high surrogate"},
    {"\"\\udc00\"", 0, json_error_invalid_syntax, "lone low surrogate"},
    {"\"\\ud800\\u0041\"", 0, json_error_invalid_syntax, "high surrogate with a non-surrogate"},
    {"\"\\ud800\\ud800\\udc00\"", 0, json_error_invalid_syntax, "two high surrogates"},
    {"\"\\ud800\\u12\"", 0, json_error_invalid_syntax, "bad escape wins over bad surrogate"},
    {"\"\\ud800 \x01\"", 0, json_error_invalid_syntax, "control character wins over bad surrogate"},
    {"\"a\\u0000b\"", 0, json_error_null_character, "\\u0000 in a value"},
    {"{\"a\\u0000\":1}", 0, json_error_null_byte_in_key, "\\u0000 in a key"},
    {"{\"a\":1,\"a\":2}", 0, json_error_duplicate_key, "duplicate key"},
    {"{\"\\u00e9\":1,\"\xc3\xa9\":2}", 0, json_error_duplicate_key, "duplicate key, once escaped"},
    {"{\"a\":1,\"a\":[1 2]}", 0, json_error_duplicate_key, "duplicate key wins over a later error"},
    {"\"\xc0\x80\"", 0, json_error_invalid_utf8, "overlong NUL"},
    {"\"\xe0\x80\xaf\"", 0, json_error_invalid_utf8, "overlong slash"},
    {"\"\xed\xa0\x80\"", 0, json_error_invalid_utf8, "surrogate in UTF-8"},
    {"\"\xf4\x90\x80\x80\"", 0, json_error_invalid_utf8, "above U+10FFFF"},
    {"\"\xf5\x80\x80\x80\"", 0, json_error_invalid_utf8, "invalid lead byte"},
    {"\"\x80\"", 0, json_error_invalid_utf8, "lone continuation byte"},
    {"\"\xe2\x82", 0, json_error_invalid_utf8, "truncated sequence"},
    {"\"\xe2\x82\"", 0, json_error_invalid_utf8, "sequence cut by the quote"},
    {"[1 \xff]", 0, json_error_invalid_utf8, "invalid byte outside strings"},
    {"1e999\xff", 0, json_error_invalid_utf8, "invalid byte right after a number wins"},
    {"[\xc3\xa9]", 0, json_error_invalid_syntax, "valid UTF-8 outside strings"},
};

START_TEST(invalid_inputs_rejected_like_jansson)
{
    size_t len = invalid[_i].len != 0 ? invalid[_i].len : strlen(invalid[_i].text);
    json_error_t got = check_rejected(invalid[_i].text, len, invalid[_i].rule);
    ck_assert_msg(json_error_code(&got) == invalid[_i].code, "%s: code %d, want %d (%s)", invalid[_i].rule,
                  (int)json_error_code(&got), (int)invalid[_i].code, got.text);
    ck_assert_str_eq(got.source, "<buffer>");
}
END_TEST

/* ---- nesting: JSON_PARSER_MAX_DEPTH values deep, scalars count ---- */

static const struct {
    int arrays;      /* nested '[' */
    int inner_value; /* a scalar inside the innermost array */
    int accepted;
} depths[] = {
    {JSON_PARSER_MAX_DEPTH, 0, 1},
    {JSON_PARSER_MAX_DEPTH + 1, 0, 0},
    {JSON_PARSER_MAX_DEPTH - 1, 1, 1},
    {JSON_PARSER_MAX_DEPTH, 1, 0},
    {100000, 0, 0},
};

START_TEST(nesting_limit_like_jansson)
{
    int n = depths[_i].arrays;
    char *text = pgw_malloc((size_t)n * 2 + 2);
    size_t len = 0;
    for (int i = 0; i < n; ++i)
        text[len++] = '[';
    if (depths[_i].inner_value)
        text[len++] = '7';
    for (int i = 0; i < n; ++i)
        text[len++] = ']';
    if (depths[_i].accepted) {
        json_decref(check_accepted(text, len, "nested"));
    } else {
        json_error_t got = check_rejected(text, len, "nested");
        ck_assert_int_eq(json_error_code(&got), json_error_stack_overflow);
    }
    free(text);
}
END_TEST

/* ---- error places in multi-line documents (1-based line; column counts characters, as jansson) ---- */

static const struct {
    const char *text;
    int line, column;
} places[] = {
    {"{\n  \"a\": [1,\n   2 x]}", 3, 6},                  /* the stray token */
    {"{\n  \"a\": 1,\n  \"a\": 2\n}", 3, 5},              /* the duplicate key */
    {"{\n  \"caf\xc3\xa9\": \"\xc3\xa9\x01\"\n}", 2, 12}, /* before the control character */
    {"[\n\n  \"ok\",\n  \"bad \xff\"\n]", 4, 7},          /* before the bad byte */
    {"{\n  \"a\": 1\n", 3, 0},                            /* end of input */
    {"{\n  \"n\": 99999999999999999999\n}", 2, 27},       /* the overflowing number */
};

START_TEST(error_places)
{
    json_error_t got = check_rejected(places[_i].text, strlen(places[_i].text), places[_i].text);
    ck_assert_msg(got.line == places[_i].line && got.column == places[_i].column, "%s: at %d:%d, want %d:%d", places[_i].text,
                  got.line, got.column, places[_i].line, places[_i].column);
}
END_TEST

START_TEST(null_text_and_null_error)
{
    json_error_t e;
    ck_assert_ptr_null(pgw_json_read(NULL, 0, &e));
    ck_assert_int_eq(json_error_code(&e), json_error_invalid_argument);
    ck_assert_str_eq(e.text, "wrong arguments");
    ck_assert_ptr_null(pgw_json_read("[1,", 3, NULL));
    json_t *v = pgw_json_read("[1]", 3, NULL);
    ck_assert_int_eq(json_array_size(v), 1);
    json_decref(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_read");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, documents_read_like_jansson, 0, sizeof(document_globs) / sizeof(document_globs[0]));
    tcase_add_loop_test(tc, literals_read_like_jansson, 0, sizeof(literals) / sizeof(literals[0]));
    tcase_add_test(tc, values_and_key_order);
    tcase_add_test(tc, long_escaped_strings);
    tcase_add_loop_test(tc, nul_after_number_is_skipped_like_jansson, 0, sizeof(nul_quirks) / sizeof(nul_quirks[0]));
    tcase_add_loop_test(tc, special_byte_at_every_offset, 0, sizeof(specials) / sizeof(specials[0]));
    tcase_add_loop_test(tc, invalid_inputs_rejected_like_jansson, 0, sizeof(invalid) / sizeof(invalid[0]));
    tcase_add_loop_test(tc, nesting_limit_like_jansson, 0, sizeof(depths) / sizeof(depths[0]));
    tcase_add_loop_test(tc, error_places, 0, sizeof(places) / sizeof(places[0]));
    tcase_add_test(tc, null_text_and_null_error);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
