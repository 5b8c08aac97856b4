/*
 * LSNs: what PostgreSQL's pg_lsn input accepts (1-8 hex digits, '/', 1-8 hex
 * digits, either case) with the 64-bit value, and what it rejects.
 */
#include "helpers.h"
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/lsn.h"

static const char err_lsn[] =
    "must be a PostgreSQL LSN: two hexadecimal numbers of 1 to 8 digits separated by '/' (e.g. '16/B374D848')";

struct valid_case {
    const char *input;
    uint64_t value;
    const char *formatted; /* as PostgreSQL prints it back */
};

static const struct valid_case valid_cases[] = {
    {"0/0", 0, "0/0"},
    {"16/B374D848", 0x16B374D848ull, "16/B374D848"},
    {"16/b374d848", 0x16B374D848ull, "16/B374D848"},
    {"16/B374d848", 0x16B374D848ull, "16/B374D848"},
    {"1/1", 0x100000001ull, "1/1"},
    {"0/1", 1, "0/1"},
    {"1/0", 0x100000000ull, "1/0"},
    {"00000001/00000000", 0x100000000ull, "1/0"},
    {"0/FFFFFFFF", 0xFFFFFFFFull, "0/FFFFFFFF"},
    {"FFFFFFFF/FFFFFFFF", UINT64_MAX, "FFFFFFFF/FFFFFFFF"},
    {"ffffffff/0", 0xFFFFFFFF00000000ull, "FFFFFFFF/0"},
    {"0/3000028", 0x3000028ull, "0/3000028"},
    {"abcdef/ABCDEF", 0xABCDEF00ABCDEFull, "ABCDEF/ABCDEF"},
};

START_TEST(test_valid)
{
    const struct valid_case *c = &valid_cases[_i];
    uint64_t v = 42;
    const char *why = NULL;
    char buf[18];
    ck_assert_msg(pgw_lsn_parse(c->input, &v, &why) == 0, "%s rejected: %s", c->input, why);
    ck_assert_msg(v == c->value, "%s: %llx, expected %llx", c->input, (unsigned long long)v, (unsigned long long)c->value);
    ck_assert_str_eq(pgw_lsn_format(v, buf, sizeof(buf)), c->formatted);
}
END_TEST

static const char *const invalid_cases[] = {
    "",
    "/",
    "0",
    "00",
    "0/",
    "/0",
    "123456789/0", /* 9 digits */
    "0/123456789",
    "000000000/0", /* 9 digits even when zeros */
    "G/0",
    "0/g",
    "0x1/0",
    "0/0x1",
    " 0/0",
    "0/0 ",
    "0 /0",
    "0/ 0",
    "0/0\n",
    "0-0",
    "0:0",
    "0/0/0",
    "0//0",
    "-1/0",
    "+1/0",
    "0/-1",
    "1.5/0",
    "\xef\xbc\x91/0",
};

START_TEST(test_invalid)
{
    const char *input = invalid_cases[_i];
    uint64_t v = 42;
    const char *why = NULL;
    ck_assert_msg(pgw_lsn_parse(input, &v, &why) == -1, "'%s' accepted", input);
    ck_assert_str_eq(why, err_lsn);
    ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(test_null)
{
    uint64_t v;
    const char *why = NULL;
    ck_assert_int_eq(pgw_lsn_parse(NULL, &v, &why), -1);
    ck_assert_str_eq(why, err_lsn);
    ck_assert_int_eq(pgw_lsn_parse("1/2", &v, NULL), 0);
    ck_assert_int_eq(pgw_lsn_parse("1/", &v, NULL), -1);
    /* LSNs order as their 64-bit values */
    uint64_t a, b;
    ck_assert_int_eq(pgw_lsn_parse("1/FFFFFFFF", &a, NULL), 0);
    ck_assert_int_eq(pgw_lsn_parse("2/0", &b, NULL), 0);
    ck_assert(a < b);
}
END_TEST

/* Random strings: whatever is accepted prints back (upper case, no padding) to the same value. */
START_TEST(test_random_inputs)
{
    static const char alphabet[] = "0123456789abcdefABCDEFgG/ x0000000";
    unsigned state = 7;
    char input[24], buf[18];
    int accepted = 0;
    for (int round = 0; round < 200000; round++) {
        state = state * 1103515245u + 12345u;
        int len = (int)((state >> 16) % 20);
        for (int i = 0; i < len; i++) {
            state = state * 1103515245u + 12345u;
            input[i] = alphabet[(state >> 16) % (sizeof(alphabet) - 1)];
        }
        input[len] = '\0';
        uint64_t v, back;
        if (pgw_lsn_parse(input, &v, NULL) != 0)
            continue;
        accepted++;
        const char *slash = strchr(input, '/');
        if ((slash) == NULL)
            ck_abort_msg("slash is NULL");
        if (!(slash - input >= 1 && slash - input <= 8 && strlen(slash + 1) >= 1 && strlen(slash + 1) <= 8))
            ck_abort_msg("assertion failed: %s",
                         "slash - input >= 1 && slash - input <= 8 && strlen(slash + 1) >= 1 && strlen(slash + 1) <= 8");
        pgw_lsn_format(v, buf, sizeof(buf));
        if (!((pgw_lsn_parse(buf, &back, NULL)) == (0)))
            ck_abort_msg("pgw_lsn_parse(buf, &back, NULL) == 0 failed: %lld vs %lld", (long long)(pgw_lsn_parse(buf, &back, NULL)),
                         (long long)(0));
        if (!(back == v))
            ck_abort_msg("assertion failed: %s", "back == v");
        /* without leading zeros the input is already in PostgreSQL's form, up to case */
        int padded = (input[0] == '0' && slash - input > 1) || (slash[1] == '0' && slash[2] != '\0');
        if (!padded)
            if (!(strcasecmp(buf, input) == 0))
                ck_abort_msg("%s printed as %s", input, buf);
    }
    if (!((accepted) > (100)))
        ck_abort_msg("accepted > 100 failed: %lld vs %lld", (long long)(accepted), (long long)(100));
}
END_TEST

static Suite *lsn_suite(void)
{
    Suite *s = suite_create("lsn");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_test(tc, test_null);
    tcase_add_test(tc, test_random_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(lsn_suite());
}
