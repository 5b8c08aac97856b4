/*
 * Quantities: every row is checked against what apimachinery's ParseQuantity,
 * Quantity.String(), Value() and MilliValue() give for the same input.
 */
#include "helpers.h"
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"

static const char err_format[] = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
static const char err_numeric[] = "unable to parse numeric part of quantity";
static const char err_suffix[] = "unable to parse quantity's suffix";

struct valid_case {
    const char *input;
    const char *canonical;
    int64_t value;
    int64_t milli;
};

static const struct valid_case valid_cases[] = {
    /* plain numbers and decimal suffixes */
    {"0", "0", 0, 0},
    {"1", "1", 1, 1000},
    {"1000", "1k", 1000, 1000000},
    {"1500", "1500", 1500, 1500000},
    {"1000000", "1M", 1000000, 1000000000},
    {"1k", "1k", 1000, 1000000},
    {"8.1k", "8100", 8100, 8100000},
    {"1M", "1M", 1000000, 1000000000},
    {"1G", "1G", 1000000000, 1000000000000},
    {"1T", "1T", 1000000000000, 1000000000000000},
    {"1P", "1P", 1000000000000000, 1000000000000000000},
    {"1E", "1E", 1000000000000000000, INT64_MAX},
    {"10E", "10E", INT64_MAX, INT64_MAX},
    {"1000E", "1e21", INT64_MAX, INT64_MAX},
    {"2.5P", "2500T", 2500000000000000, 2500000000000000000},
    {"100m", "100m", 1, 100},
    {"1000m", "1", 1, 1000},
    {"1500m", "1500m", 2, 1500},
    {"1u", "1u", 1, 1},
    {"1n", "1n", 1, 1},
    {"1.2345", "1234500u", 2, 1235},
    {"9.01", "9010m", 10, 9010},
    {"0.5", "500m", 1, 500},
    {"1.5", "1500m", 2, 1500},
    {"1.0", "1", 1, 1000},
    {"0.0", "0", 0, 0},
    /* forms apimachinery's grammar allows */
    {".5", "500m", 1, 500},
    {"5.", "5", 5, 5000},
    {".001", "1m", 1, 1},
    {".0001k", "100m", 1, 100},
    {"1.G", "1G", 1000000000, 1000000000000},
    {"1.Gi", "1Gi", 1073741824, 1073741824000},
    {"07Gi", "7Gi", 7516192768, 7516192768000},
    {"000", "0", 0, 0},
    {"+1", "1", 1, 1000},
    {"+1Gi", "1Gi", 1073741824, 1073741824000},
    {"-0", "0", 0, 0},
    /* no digits at all: apimachinery reads zero */
    {"-", "0", 0, 0},
    {"+", "0", 0, 0},
    {".", "0", 0, 0},
    {"Mi", "0", 0, 0},
    {"Ki", "0", 0, 0},
    {"Ti", "0", 0, 0},
    {"k", "0", 0, 0},
    {"m", "0", 0, 0},
    {"e3", "0", 0, 0},
    {"-.", "0", 0, 0},
    /* binary suffixes */
    {"1Ki", "1Ki", 1024, 1024000},
    {"1Mi", "1Mi", 1048576, 1048576000},
    {"1Gi", "1Gi", 1073741824, 1073741824000},
    {"1Ti", "1Ti", 1099511627776, 1099511627776000},
    {"1Pi", "1Pi", 1125899906842624, 1125899906842624000},
    {"1Ei", "1Ei", 1152921504606846976, INT64_MAX},
    {"7Ei", "7Ei", 8070450532247928832, INT64_MAX},
    {"1024Mi", "1Gi", 1073741824, 1073741824000},
    {"1536Mi", "1536Mi", 1610612736, 1610612736000},
    {"1.5Gi", "1536Mi", 1610612736, 1610612736000},
    {"0.5Gi", "512Mi", 536870912, 536870912000},
    {"1023Ki", "1023Ki", 1047552, 1047552000},
    {"1025Ki", "1025Ki", 1049600, 1049600000},
    {"300Mi", "300Mi", 314572800, 314572800000},
    {"0Gi", "0", 0, 0},
    {"0.5Ki", "512", 512, 512000},
    {"1.1Ki", "1126400m", 1127, 1126400},
    {"100.035Ki", "102435840m", 102436, 102435840},
    {"0.000000000001Ki", "2n", 1, 1},
    {"-1Gi", "-1Gi", -1073741824, -1073741824000},
    {"-1.5Gi", "-1536Mi", -1610612736, -1610612736000},
    /* binary values are capped at 2^63-1 */
    {"8Ei", "9223372036854775807", INT64_MAX, INT64_MAX},
    {"16Ei", "9223372036854775807", INT64_MAX, INT64_MAX},
    {"-8Ei", "-9223372036854775807", -INT64_MAX, INT64_MIN},
    {"9223372036854775807Ki", "9223372036854775807", INT64_MAX, INT64_MAX},
    /* decimal exponents */
    {"1e3", "1e3", 1000, 1000000},
    {"1E3", "1e3", 1000, 1000000},
    {"1e+3", "1e3", 1000, 1000000},
    {"1e-3", "1e-3", 1, 1},
    {"1E-3", "1e-3", 1, 1},
    {"12e6", "12e6", 12000000, 12000000000},
    {"1.5e3", "1500", 1500, 1500000},
    {"1e0", "1", 1, 1000},
    {"1e10", "10e9", 10000000000, 10000000000000},
    {"-1e-2", "-10e-3", -1, -10},
    {"1e1000", "10e999", INT64_MAX, INT64_MAX},
    {"1e-1000", "1e-9", 1, 1},
    {"-1e-1000", "-1e-9", -1, -1},
    /* apimachinery reads the exponent as int64 and truncates it to int32 */
    {"1e4294967296", "1", 1, 1000},
    {"1e9223372036854775807", "100e-3", 1, 100},
    {"1e2147483648", "1e-9", 1, 1},
    /* below nano, values round up, away from zero */
    {"0.1n", "1n", 1, 1},
    {"1.5n", "2n", 1, 1},
    {"-0.1n", "-1n", -1, -1},
    {"0.000000001", "1n", 1, 1},
    {"0.0000000001", "1n", 1, 1},
    {"-0.0000000015", "-2n", -1, -1},
    /* rounding of Value and MilliValue: away from zero */
    {"-1.5", "-1500m", -2, -1500},
    {"1.0001m", "1000100n", 1, 2},
    {"-1.0001m", "-1000100n", -1, -2},
    {"999m", "999m", 1, 999},
    /* large values keep their digits and saturate the int64 accessors */
    {"9223372036854775807", "9223372036854775807", INT64_MAX, INT64_MAX},
    {"9223372036854775808", "9223372036854775808", INT64_MAX, INT64_MAX},
    {"-9223372036854775808", "-9223372036854775808", INT64_MIN, INT64_MIN},
    {"-9223372036854775809", "-9223372036854775809", INT64_MIN, INT64_MIN},
    {"9223372036854775", "9223372036854775", 9223372036854775, 9223372036854775000},
    {"9223372036854776", "9223372036854776", 9223372036854776, INT64_MAX},
    {"18446744073709551616", "18446744073709551616", INT64_MAX, INT64_MAX},
    {"123456789012345678901234567890", "123456789012345678901234567890", INT64_MAX, INT64_MAX},
};

START_TEST(test_valid)
{
    const struct valid_case *c = &valid_cases[_i];
    struct pgw_quantity q;
    const char *why = "untouched";
    char buf[PGW_QUANTITY_STRLEN];
    ck_assert_msg(pgw_quantity_parse(c->input, &q, &why) == 0, "%s: rejected: %s", c->input, why);
    ck_assert_str_eq(pgw_quantity_format(&q, buf, sizeof(buf)), c->canonical);
    ck_assert_msg(pgw_quantity_value(&q) == c->value, "%s: Value %lld, expected %lld", c->input, (long long)pgw_quantity_value(&q),
                  (long long)c->value);
    ck_assert_msg(pgw_quantity_milli_value(&q) == c->milli, "%s: MilliValue %lld, expected %lld", c->input,
                  (long long)pgw_quantity_milli_value(&q), (long long)c->milli);

    /* The canonical form parses back to the same value. */
    struct pgw_quantity back;
    ck_assert_msg(pgw_quantity_parse(buf, &back, &why) == 0, "%s: canonical %s rejected", c->input, buf);
    ck_assert_msg(pgw_quantity_cmp(&q, &back) == 0, "%s: canonical %s changes the value", c->input, buf);
}
END_TEST

struct invalid_case {
    const char *input;
    const char *why;
};

static const struct invalid_case invalid_cases[] = {
    {"", err_format},
    {" 1", err_format},
    {"1 ", err_format},
    {"1 Gi", err_format},
    {" 1Gi", err_format},
    {"1Gi ", err_format},
    {"10Gb", err_format},
    {"1.2.3", err_format},
    {"1..5", err_format},
    {"1.1.M", err_format},
    {"1+1.0M", err_format},
    {"1KB", err_format},
    {"1KI", err_format},
    {"1KiB", err_format},
    {"1Zi", err_format},
    {"1Z", err_format},
    {"0x10", err_format},
    {"0.1am", err_format},
    {"aoeu", err_format},
    {"Inf", err_format},
    {"NaN", err_format},
    {"1e3k", err_format},
    {"1E3Ki", err_format},
    {"1e1.5", err_format},
    {"1e+-3", err_format},
    {"1,5", err_format},
    {"1_000", err_format},
    {"1/2", err_format},
    {"1\n", err_format},
    {"\xd9\xa3", err_format},
    {"1\xc2\xb5", err_format},
    {"1K", err_suffix},
    {"1ki", err_suffix},
    {"1i", err_suffix},
    {".5i", err_suffix},
    {"-3.01i", err_suffix},
    {"0.1mi", err_suffix},
    {"1e", err_suffix},
    {"e", err_suffix},
    {"1e+", err_suffix},
    {"1e-", err_suffix},
    {"-3.01e-", err_suffix},
    {"1ee3", err_suffix},
    {"1m-3", err_suffix},
    {"1Mi3", err_suffix},
    {"--1", err_suffix},
    {"+-1", err_suffix},
    {"1-", err_suffix},
    {"1e9223372036854775808", err_suffix},
    {"1e18446744073709551616", err_suffix},
    /* digitless values that apimachinery sends down its slow path */
    {"Pi", err_numeric},
    {"Ei", err_numeric},
    {"-Ei", err_numeric},
    {"e-10", err_numeric},
    {"-e-10", err_numeric},
    {".e-10", err_numeric},
    {"e2147483648", err_numeric},
};

START_TEST(test_invalid)
{
    const struct invalid_case *c = &invalid_cases[_i];
    struct pgw_quantity q;
    const char *why = NULL;
    char buf[PGW_QUANTITY_STRLEN];
    ck_assert_msg(pgw_quantity_parse(c->input, &q, &why) == -1, "%s: accepted", c->input);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(why, c->why);
    /* A failed parse leaves a usable zero. */
    ck_assert_str_eq(pgw_quantity_format(&q, buf, sizeof(buf)), "0");
    ck_assert_int_eq(pgw_quantity_value(&q), 0);
}
END_TEST

struct cmp_case {
    const char *a, *b;
    int expected;
};

static const struct cmp_case cmp_cases[] = {
    {"1Gi", "1G", 1},
    {"1G", "1Gi", -1},
    {"1000m", "1", 0},
    {"0.5Gi", "512Mi", 0},
    {"1Ki", "1024", 0},
    {"1k", "1Ki", -1},
    {"1.5", "1500m", 0},
    {"1.0", "1", 0},
    {"1e3", "1k", 0},
    {"1E-3", "1m", 0},
    {"12e6", "12M", 0},
    {"10Gi", "10G", 1},
    {"100Gi", "99.99Gi", 1},
    {"99.99Gi", "100Gi", -1},
    {"1Ti", "1024Gi", 0},
    {"1Ti", "1T", 1},
    {"-1", "1", -1},
    {"1", "-1", 1},
    {"-2", "-1", -1},
    {"-1Gi", "-1G", -1},
    {"0", "-0", 0},
    {"0", "0Gi", 0},
    {"0", "Mi", 0},
    {"0", "1n", -1},
    {"-1n", "0", -1},
    {"0.1n", "1n", 0},
    {"1e-1000", "1n", 0},
    {"1.5n", "2n", 0},
    {"8Ei", "9223372036854775807", 0},
    {"8Ei", "16Ei", 0},
    {"7Ei", "8Ei", -1},
    {"9223372036854775808", "8Ei", 1},
    {"1e21", "1000E", 0},
    {"1e21", "999E", 1},
    {"123456789012345678901234567891", "123456789012345678901234567890", 1},
    {"123456789012345678901234567890", "12345678901234567890123456789e1", 0},
    {"1Mi", "1048576", 0},
    {"1Mi", "1048577", -1},
    {"1048575", "1Mi", -1},
    {"10", "9", 1},
    {"100m", "99m", 1},
    {"0.1", "100m", 0},
    {"1e1000", "1e999", 1},
    {"-1e1000", "-1e999", -1},
};

START_TEST(test_cmp)
{
    const struct cmp_case *c = &cmp_cases[_i];
    struct pgw_quantity a, b;
    const char *why;
    ck_assert_msg(pgw_quantity_parse(c->a, &a, &why) == 0, "%s rejected", c->a);
    ck_assert_msg(pgw_quantity_parse(c->b, &b, &why) == 0, "%s rejected", c->b);
    ck_assert_msg(pgw_quantity_cmp(&a, &b) == c->expected, "cmp(%s, %s) = %d, expected %d", c->a, c->b, pgw_quantity_cmp(&a, &b),
                  c->expected);
    ck_assert_msg(pgw_quantity_cmp(&b, &a) == -c->expected, "cmp(%s, %s) is not antisymmetric", c->b, c->a);
}
END_TEST

/* A significand beyond 63 digits is rounded up to 63 significant digits (our documented limit). */
START_TEST(test_long_significand)
{
    char exact[80], above[80], longer[80];
    struct pgw_quantity q, r, s;
    const char *why;
    char buf[PGW_QUANTITY_STRLEN];

    memset(exact, '1', 63);
    exact[63] = '\0';
    ck_assert_int_eq(pgw_quantity_parse(exact, &q, &why), 0);
    ck_assert_str_eq(pgw_quantity_format(&q, buf, sizeof(buf)), exact);

    /* 64 digits ending in 1: rounds up to ...12 × 10 */
    memset(longer, '1', 64);
    longer[64] = '\0';
    ck_assert_int_eq(pgw_quantity_parse(longer, &r, &why), 0);
    memset(above, '1', 62);
    strcpy(above + 62, "20");
    ck_assert_str_eq(pgw_quantity_format(&r, buf, sizeof(buf)), above);
    ck_assert_int_eq(pgw_quantity_cmp(&r, &q), 1);

    /* 64 nines round up to 10^64. */
    memset(longer, '9', 64);
    longer[64] = '\0';
    ck_assert_int_eq(pgw_quantity_parse(longer, &s, &why), 0);
    ck_assert_str_eq(s.digits, "1");
    ck_assert_int_eq(s.exp10, 64);
    ck_assert_str_eq(pgw_quantity_format(&s, buf, sizeof(buf)), "10e63");

    /* A very long input (longer than any fixed buffer) parses without overflow. */
    size_t n = 100000;
    char *huge = malloc(n + 3);
    memset(huge, '7', n);
    strcpy(huge + n, "Ei");
    ck_assert_int_eq(pgw_quantity_parse(huge, &s, &why), 0);
    ck_assert_str_eq(pgw_quantity_format(&s, buf, sizeof(buf)), "9223372036854775807");
    huge[0] = '.';
    strcpy(huge + n, "Ki");
    ck_assert_int_eq(pgw_quantity_parse(huge, &s, &why), 0);
    ck_assert_int_eq(pgw_quantity_cmp(&s, &r), -1);
    ck_assert_int_eq(pgw_quantity_value(&s), 797); /* 0.777…×1024 = 796.4…, rounded up */
    free(huge);
}
END_TEST

START_TEST(test_struct_fields)
{
    struct pgw_quantity q;
    const char *why;
    ck_assert_int_eq(pgw_quantity_parse("-1.5Gi", &q, &why), 0);
    ck_assert_int_eq(q.negative, 1);
    ck_assert_int_eq(q.binary, 1);
    ck_assert_int_eq(q.exponent, 0);
    ck_assert_str_eq(q.digits, "1610612736");
    ck_assert_int_eq(q.exp10, 0);

    ck_assert_int_eq(pgw_quantity_parse("1500m", &q, &why), 0);
    ck_assert_str_eq(q.digits, "15");
    ck_assert_int_eq(q.exp10, -1);
    ck_assert_int_eq(q.binary, 0);

    ck_assert_int_eq(pgw_quantity_parse("2e5", &q, &why), 0);
    ck_assert_int_eq(q.exponent, 1);

    /* A binary value below 1 becomes decimal, as in apimachinery. */
    ck_assert_int_eq(pgw_quantity_parse("0.0001Ki", &q, &why), 0);
    ck_assert_int_eq(q.binary, 0);
}
END_TEST

START_TEST(test_format_truncates)
{
    struct pgw_quantity q;
    const char *why;
    char small[4];
    ck_assert_int_eq(pgw_quantity_parse("1536Mi", &q, &why), 0);
    ck_assert_str_eq(pgw_quantity_format(&q, small, sizeof(small)), "153");
    ck_assert_int_eq(pgw_quantity_parse(NULL, &q, &why), -1);
    ck_assert_str_eq(why, err_format);
    /* why may be NULL */
    ck_assert_int_eq(pgw_quantity_parse("1Gb", &q, NULL), -1);
    ck_assert_int_eq(pgw_quantity_parse("1Gi", &q, NULL), 0);
}
END_TEST

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

static void parse_ok(const char *s, struct pgw_quantity *q)
{
    const char *why = NULL;
    ck_assert_msg(pgw_quantity_parse(s, q, &why) == 0, "%s rejected: %s", s, why);
}

/*
 * Random strings over the grammar's alphabet: no crash, and for every accepted
 * input the canonical form parses back to the same value, and Value() is the
 * integer next to it away from zero.
 */
START_TEST(test_random_inputs)
{
    static const char alphabet[] = "0123456789012345678901234567890123456789..+-eEinumkKMGTP x";
    unsigned state = 4242;
    char input[32], buf[PGW_QUANTITY_STRLEN], num[32];
    int accepted = 0, rejected = 0;
    for (int round = 0; round < 200000; round++) {
        int len = (int)(next_random(&state) % 12);
        for (int i = 0; i < len; i++)
            input[i] = alphabet[next_random(&state) % (sizeof(alphabet) - 1)];
        input[len] = '\0';
        struct pgw_quantity q, back, p;
        const char *why = NULL;
        if (pgw_quantity_parse(input, &q, &why) != 0) {
            if (!(strcmp(why, err_format) == 0 || strcmp(why, err_suffix) == 0 || strcmp(why, err_numeric) == 0 ||
                  strcmp(why, "quantity exponent is out of range") == 0))
                ck_abort_msg("%s: unexpected message %s", input, why);
            rejected++;
            continue;
        }
        accepted++;
        pgw_quantity_format(&q, buf, sizeof(buf));
        parse_ok(buf, &back);
        if (!(pgw_quantity_cmp(&q, &back) == 0))
            ck_abort_msg("%s: canonical %s differs", input, buf);

        int64_t v = pgw_quantity_value(&q);
        if (v == INT64_MAX || v == INT64_MIN)
            continue;
        snprintf(num, sizeof(num), "%lld", (long long)v);
        parse_ok(num, &p);
        struct pgw_quantity zero;
        parse_ok("0", &zero);
        int sign = pgw_quantity_cmp(&q, &zero);
        if (sign == 0) {
            if (!((v) == (0)))
                ck_abort_msg("v == 0 failed: %lld vs %lld", (long long)(v), (long long)(0));
        } else if (sign > 0) {
            /* v-1 < q <= v */
            if (!(pgw_quantity_cmp(&q, &p) <= 0))
                ck_abort_msg("%s: Value %lld below the value", input, (long long)v);
            snprintf(num, sizeof(num), "%lld", (long long)(v - 1));
            parse_ok(num, &p);
            if (!(pgw_quantity_cmp(&p, &q) < 0))
                ck_abort_msg("%s: Value %lld not the nearest", input, (long long)v);
        } else {
            /* v <= q < v+1 */
            if (!(pgw_quantity_cmp(&q, &p) >= 0))
                ck_abort_msg("%s: Value %lld above the value", input, (long long)v);
            snprintf(num, sizeof(num), "%lld", (long long)(v + 1));
            parse_ok(num, &p);
            if (!(pgw_quantity_cmp(&p, &q) > 0))
                ck_abort_msg("%s: Value %lld not the nearest", input, (long long)v);
        }
    }
    if (!((accepted) > (1000)))
        ck_abort_msg("accepted > 1000 failed: %lld vs %lld", (long long)(accepted), (long long)(1000));
    if (!((rejected) > (1000)))
        ck_abort_msg("rejected > 1000 failed: %lld vs %lld", (long long)(rejected), (long long)(1000));
}
END_TEST

static Suite *quantity_suite(void)
{
    Suite *s = suite_create("quantity");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_loop_test(tc, test_cmp, 0, sizeof(cmp_cases) / sizeof(cmp_cases[0]));
    tcase_add_test(tc, test_long_significand);
    tcase_add_test(tc, test_struct_fields);
    tcase_add_test(tc, test_format_truncates);
    tcase_add_test(tc, test_random_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(quantity_suite());
}
