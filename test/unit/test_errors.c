/*
 * Tests for field errors (common/errors.c).
 *
 * The expected strings are what apimachinery's field.Error.Error() and
 * ErrorBody() print for the same type, value and detail: Required, Forbidden
 * and TooLong omit the value; strings are quoted as Go's %q; int64, float64
 * and bool print as %v; maps and slices as json.Marshal (sorted keys).
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

static const struct {
    pgw_error_type_t type;
    const char *path, *value_json, *detail, *want;
} formats[] = {
    /* Required / Forbidden / TooLong: no value even if one is given. */
    {PGW_ERR_REQUIRED, "spec.storage.size", NULL, "", "spec.storage.size: Required value"},
    {PGW_ERR_REQUIRED, "spec.storage.size", "\"x\"", "must be set", "spec.storage.size: Required value: must be set"},
    {PGW_ERR_FORBIDDEN, "spec.postgresVersion", "17", "cannot be lowered", "spec.postgresVersion: Forbidden: cannot be lowered"},
    {PGW_ERR_FORBIDDEN, "metadata.name", NULL, NULL, "metadata.name: Forbidden"},
    {PGW_ERR_TOO_LONG, "metadata.name", "\"aaaaaaaaaa\"", "may not be more than 63 bytes",
     "metadata.name: Too long: may not be more than 63 bytes"},
    /* Invalid: numbers and booleans bare, strings quoted. */
    {PGW_ERR_INVALID, "spec.instances", "0", "must be between 1 and 16",
     "spec.instances: Invalid value: 0: must be between 1 and 16"},
    {PGW_ERR_INVALID, "spec.instances", "-17", "x", "spec.instances: Invalid value: -17: x"},
    {PGW_ERR_INVALID, "spec.storage.size", "\"10Gb\"", "must be a quantity",
     "spec.storage.size: Invalid value: \"10Gb\": must be a quantity"},
    {PGW_ERR_INVALID, "spec.x", "true", "y", "spec.x: Invalid value: true: y"},
    {PGW_ERR_INVALID, "spec.x", "false", "", "spec.x: Invalid value: false"},
    {PGW_ERR_INVALID, "spec.x", "null", "y", "spec.x: Invalid value: null: y"},
    {PGW_ERR_INVALID, "spec.x", NULL, "y", "spec.x: Invalid value: null: y"},
    /* float64 as %v: shortest round-trip digits, %e outside [1e-4, 1e6). */
    {PGW_ERR_INVALID, "spec.x", "0.1", "y", "spec.x: Invalid value: 0.1: y"},
    {PGW_ERR_INVALID, "spec.x", "2.5", "y", "spec.x: Invalid value: 2.5: y"},
    {PGW_ERR_INVALID, "spec.x", "-0.75", "y", "spec.x: Invalid value: -0.75: y"},
    {PGW_ERR_INVALID, "spec.x", "100.0", "y", "spec.x: Invalid value: 100: y"},
    {PGW_ERR_INVALID, "spec.x", "123456.0", "y", "spec.x: Invalid value: 123456: y"},
    {PGW_ERR_INVALID, "spec.x", "1000000.0", "y", "spec.x: Invalid value: 1e+06: y"},
    {PGW_ERR_INVALID, "spec.x", "1234567.0", "y", "spec.x: Invalid value: 1.234567e+06: y"},
    {PGW_ERR_INVALID, "spec.x", "0.0001", "y", "spec.x: Invalid value: 0.0001: y"},
    {PGW_ERR_INVALID, "spec.x", "0.00001", "y", "spec.x: Invalid value: 1e-05: y"},
    {PGW_ERR_INVALID, "spec.x", "1.5e300", "y", "spec.x: Invalid value: 1.5e+300: y"},
    {PGW_ERR_INVALID, "spec.x", "0.0", "y", "spec.x: Invalid value: 0: y"},
    {PGW_ERR_INVALID, "spec.x", "0.30000000000000004", "y", "spec.x: Invalid value: 0.30000000000000004: y"},
    {PGW_ERR_INVALID, "spec.x", "12.0625", "y", "spec.x: Invalid value: 12.0625: y"},
    /* strings as %q (strconv.Quote). */
    {PGW_ERR_INVALID, "spec.x", "\"\"", "y", "spec.x: Invalid value: \"\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"a\\\"b\\\\c\"", "y", "spec.x: Invalid value: \"a\\\"b\\\\c\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"a\\nb\\tc\"", "y", "spec.x: Invalid value: \"a\\nb\\tc\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"\\u0001\\u007f\"", "y", "spec.x: Invalid value: \"\\x01\\x7f\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"\\u0007\\u000b\\f\\b\\r\"", "y", "spec.x: Invalid value: \"\\a\\v\\f\\b\\r\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"a/b <&>\"", "y", "spec.x: Invalid value: \"a/b <&>\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"ü日本😀\"", "y", "spec.x: Invalid value: \"ü日本😀\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"a\\u00a0b\\u200bc\\u2028\\ufeff\"", "y",
     "spec.x: Invalid value: \"a\\u00a0b\\u200bc\\u2028\\ufeff\": y"},
    {PGW_ERR_INVALID, "spec.x", "\"\\u0085\"", "y", "spec.x: Invalid value: \"\\u0085\": y"},
    /* maps and slices as json.Marshal: compact, keys sorted. */
    {PGW_ERR_INVALID, "spec.x", "{\"b\":1,\"a\":\"x\"}", "y", "spec.x: Invalid value: {\"a\":\"x\",\"b\":1}: y"},
    {PGW_ERR_INVALID, "spec.x", "[1, \"a\", null]", "y", "spec.x: Invalid value: [1,\"a\",null]: y"},
    /* The other types print their value too. */
    {PGW_ERR_NOT_SUPPORTED, "spec.backup.method", "\"tape\"", "supported values: \"pgbackrest\", \"snapshot\"",
     "spec.backup.method: Unsupported value: \"tape\": supported values: \"pgbackrest\", \"snapshot\""},
    {PGW_ERR_DUPLICATE, "spec.users[1].name", "\"app\"", NULL, "spec.users[1].name: Duplicate value: \"app\""},
    {PGW_ERR_DUPLICATE, "spec.ports[2]", "5432", "", "spec.ports[2]: Duplicate value: 5432"},
};

START_TEST(test_format)
{
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    json_t *value = NULL;
    if (formats[_i].value_json != NULL) {
        json_error_t jerr;
        value = json_loads(formats[_i].value_json, JSON_DECODE_ANY, &jerr);
        ck_assert_msg(value != NULL, "bad test JSON %s", formats[_i].value_json);
    }
    if (formats[_i].detail != NULL)
        pgw_errors_add(&errs, formats[_i].type, formats[_i].path, value, "%s", formats[_i].detail);
    else
        pgw_errors_add(&errs, formats[_i].type, formats[_i].path, value, NULL);
    ck_assert_uint_eq(errs.count, 1);
    char *got = pgw_field_error_format(&errs.items[0]);
    ck_assert_str_eq(got, formats[_i].want);
    /* The body is the same text without "path: ". */
    char *body = pgw_field_error_body(&errs.items[0]);
    ck_assert_str_eq(body, formats[_i].want + strlen(formats[_i].path) + 2);
    free(body);
    free(got);
    json_decref(value);
    pgw_errors_dispose(&errs);
}
END_TEST

static const struct {
    pgw_error_type_t type;
    const char *string, *reason;
} types[] = {
    {PGW_ERR_REQUIRED, "Required value", "FieldValueRequired"},
    {PGW_ERR_INVALID, "Invalid value", "FieldValueInvalid"},
    {PGW_ERR_FORBIDDEN, "Forbidden", "FieldValueForbidden"},
    {PGW_ERR_NOT_SUPPORTED, "Unsupported value", "FieldValueNotSupported"},
    {PGW_ERR_TOO_LONG, "Too long", "FieldValueTooLong"},
    {PGW_ERR_DUPLICATE, "Duplicate value", "FieldValueDuplicate"},
};

START_TEST(test_type_strings_and_reasons)
{
    ck_assert_str_eq(pgw_error_type_string(types[_i].type), types[_i].string);
    ck_assert_str_eq(pgw_error_type_reason(types[_i].type), types[_i].reason);
}
END_TEST

/* Every error is kept, in order, and the value is rendered when added (the caller may free it). */
START_TEST(test_collects_all_in_order)
{
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    for (int i = 0; i < 20; ++i) {
        json_t *v = json_integer(i);
        char path[32];
        snprintf(path, sizeof(path), "spec.items[%d]", i);
        pgw_errors_add(&errs, PGW_ERR_INVALID, path, v, "bad %d", i);
        json_decref(v);
    }
    ck_assert_uint_eq(errs.count, 20);
    for (int i = 0; i < 20; ++i) {
        char want[64];
        snprintf(want, sizeof(want), "spec.items[%d]: Invalid value: %d: bad %d", i, i, i);
        char *got = pgw_field_error_format(&errs.items[i]);
        ck_assert_str_eq(got, want);
        free(got);
    }
    pgw_errors_dispose(&errs);
    ck_assert_uint_eq(errs.count, 0);
    ck_assert_ptr_null(errs.items);
}
END_TEST

START_TEST(test_warnings)
{
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    for (int i = 0; i < 9; ++i)
        pgw_errors_warn(&errs, "warning %d: %s", i, "PostgreSQL 14 is past end of life");
    ck_assert_uint_eq(errs.warning_count, 9);
    ck_assert_uint_eq(errs.count, 0);
    ck_assert_str_eq(errs.warnings[0], "warning 0: PostgreSQL 14 is past end of life");
    ck_assert_str_eq(errs.warnings[8], "warning 8: PostgreSQL 14 is past end of life");
    pgw_errors_dispose(&errs);
    ck_assert_uint_eq(errs.warning_count, 0);
}
END_TEST

/* Long bad values are cut so a hostile object cannot make a denial huge. */
START_TEST(test_long_values_are_cut)
{
    char *big = malloc(300001);
    memset(big, 'x', 300000);
    big[300000] = '\0';
    memcpy(big + 255, "\xc3\xa9", 2); /* a 2-byte character straddling the cut */
    json_t *v = json_string(big);
    char *r = pgw_render_value(v);
    ck_assert_uint_lt(strlen(r), PGW_MAX_RENDERED_VALUE + 40);
    ck_assert_msg(strstr(r, "... (300000 bytes)") != NULL, "no length note: %.300s", r);
    ck_assert_msg(strstr(r, "\xc3\"") == NULL, "cut inside a UTF-8 character: %.300s", r);
    free(r);
    json_decref(v);

    json_t *arr = json_array();
    for (int i = 0; i != 1000; ++i)
        json_array_append_new(arr, json_integer(i));
    r = pgw_render_value(arr);
    ck_assert_uint_eq(strlen(r), PGW_MAX_RENDERED_VALUE + 3);
    ck_assert_str_eq(r + PGW_MAX_RENDERED_VALUE, "...");
    ck_assert(strncmp(r, "[0,1,2,3", 8) == 0);
    free(r);
    json_decref(arr);

    json_t *small = json_string("exactly fits");
    r = pgw_render_value(small);
    ck_assert_str_eq(r, "\"exactly fits\"");
    free(r);
    json_decref(small);
    free(big);
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_format, 0, sizeof(formats) / sizeof(formats[0]));
    tcase_add_loop_test(tc, test_type_strings_and_reasons, 0, sizeof(types) / sizeof(types[0]));
    tcase_add_test(tc, test_collects_all_in_order);
    tcase_add_test(tc, test_warnings);
    tcase_add_test(tc, test_long_values_are_cut);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(errors_suite());
}
