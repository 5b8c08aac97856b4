/*
 * Cron schedules: what a Kubernetes CronJob accepts in spec.schedule (robfig/cron's
 * standard parser, no TZ), minus @every, with our field-naming messages.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"

static const char *const valid_cases[] = {
    "* * * * *",
    "*/5 * * * *",
    "0 0 * * *",
    "0 0 1 1 *",
    "0 0 * * 0",
    "0 0 * * 6",
    "59 23 31 12 6",
    "0-59 0-23 1-31 1-12 0-6",
    "0 0 * * SUN",
    "0 0 * * sun-sat",
    "0 0 * * Mon-Fri",
    "0 0 * jan-dec *",
    "0 0 * JAN,Jul,dec *",
    "0 0 * feb/2 *",
    "0 0 ? * ?",
    "? ? ? ? ?",
    "1,2,3 * * * *",
    "1-10/2 * * * *",
    "5/15 * * * *",
    "0 */2 * * mon-fri",
    "0 0 * * 1-5/2",
    "*/100 * * * *", /* a step beyond the range is allowed */
    "0 0 31 2 *",    /* never fires, but robfig accepts it */
    "1,,2 * * * *",  /* empty list items are skipped */
    ", * * * *",
    "*-5 * * * *", /* robfig ignores what follows "*-" */
    "+5 * * * *",  /* numbers may carry a plus sign */
    "05 08 * * *",
    "  0   0 * * *  ",
    "0\t0\t*\t*\t*",
    "0\n0 * * *",
    "0\xc2\xa0"
    "0 * * *", /* Go splits on Unicode spaces too (U+00A0) */
    "0\xe3\x80\x80"
    "0 * * *", /* U+3000 */
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
};

START_TEST(test_valid)
{
    const char *spec = valid_cases[_i];
    char *why = (char *)"untouched";
    ck_assert_msg(pgw_cron_validate(spec, &why) == 0, "'%s' rejected: %s", spec, why);
    ck_assert_ptr_null(why);
}
END_TEST

struct invalid_case {
    const char *spec;
    const char *why;
};

static const struct invalid_case invalid_cases[] = {
    {"", "empty spec string"},
    {" ", "expected exactly 5 fields, found 0: []"},
    {"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
    {"0 0 * * * *", "expected exactly 5 fields, found 6: [0 0 * * * *]"},
    {" @daily", "expected exactly 5 fields, found 1: [@daily]"},
    {"60 * * * *", "minute field: 60 is out of range 0-59"},
    {"61 * * * *", "minute field: 61 is out of range 0-59"},
    {"50-61 * * * *", "minute field: 61 is out of range 0-59"},
    {"* 24 * * *", "hour field: 24 is out of range 0-23"},
    {"* * 0 * *", "day-of-month field: 0 is out of range 1-31"},
    {"* * 32 * *", "day-of-month field: 32 is out of range 1-31"},
    {"* * 0/5 * *", "day-of-month field: 0 is out of range 1-31"},
    {"* * * 0 *", "month field: 0 is out of range 1-12"},
    {"* * * 13 *", "month field: 13 is out of range 1-12"},
    {"* * * * 7", "day-of-week field: 7 is out of range 0-6"},
    {"* * * * 1-7", "day-of-week field: 7 is out of range 0-6"},
    {"9223372036854775807 * * * *", "minute field: 9223372036854775807 is out of range 0-59"},
    {"*/0 * * * *", "minute field: step must be a positive number in '*/0'"},
    {"1-5/0 * * * *", "minute field: step must be a positive number in '1-5/0'"},
    {"* * * * */-1", "day-of-week field: step must be a positive number in '*/-1'"},
    {"* * * * */x", "day-of-week field: step 'x' is not a number"},
    {"*/ * * * *", "minute field: step '' is not a number"},
    {"5-2 * * * *", "minute field: range start 5 is after range end 2 in '5-2'"},
    {"* * * dec-jan *", "month field: range start 12 is after range end 1 in 'dec-jan'"},
    {"1-2-3 * * * *", "minute field: too many hyphens in '1-2-3'"},
    {"*/2/3 * * * *", "minute field: too many slashes in '*/2/3'"},
    {"a * * * *", "minute field: 'a' is not a number"},
    {"-5 * * * *", "minute field: '' is not a number"},
    {"1- * * * *", "minute field: '' is not a number"},
    {"99999999999999999999 * * * *", "minute field: '99999999999999999999' is not a number"},
    {"1.5 * * * *", "minute field: '1.5' is not a number"},
    {"** * * * *", "minute field: '**' is not a number"},
    {"* * * foo *", "month field: 'foo' is not a number or a month name (JAN-DEC)"},
    {"* * * january *", "month field: 'january' is not a number or a month name (JAN-DEC)"},
    {"* * * * funday", "day-of-week field: 'funday' is not a number or a weekday name (SUN-SAT)"},
    {"* * * * sunday", "day-of-week field: 'sunday' is not a number or a weekday name (SUN-SAT)"},
    {"* * * * jan", "day-of-week field: 'jan' is not a number or a weekday name (SUN-SAT)"},
    {"jan * * * *", "minute field: 'jan' is not a number"},
    {"60 24 * * *", "minute field: 60 is out of range 0-59; hour field: 24 is out of range 0-23"},
    {"1,61,a * 0 * 8", "minute field: 61 is out of range 0-59; day-of-month field: 0 is out of range 1-31; "
                       "day-of-week field: 8 is out of range 0-6"},
    {"@every 5m", "@every is not supported: use five fields or one of @yearly, @annually, @monthly, @weekly, @daily, "
                  "@midnight, @hourly"},
    {"@every 1h30m", "@every is not supported: use five fields or one of @yearly, @annually, @monthly, @weekly, "
                     "@daily, @midnight, @hourly"},
    {"@daily ", "unrecognized descriptor: @daily "},
    {"@DAILY", "unrecognized descriptor: @DAILY"},
    {"@reboot", "unrecognized descriptor: @reboot"},
    {"@", "unrecognized descriptor: @"},
    {"CRON_TZ=UTC 0 0 * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
    {"TZ=Europe/Paris 0 0 * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
    {"0 0 * * * TZ", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
};

START_TEST(test_invalid)
{
    const struct invalid_case *c = &invalid_cases[_i];
    char *why = NULL;
    ck_assert_msg(pgw_cron_validate(c->spec, &why) == -1, "'%s' accepted", c->spec);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(why, c->why);
    free(why);
}
END_TEST

START_TEST(test_null_why)
{
    /* why may be NULL: nothing leaks (LSan checks) */
    ck_assert_int_eq(pgw_cron_validate("61 * * * *", NULL), -1);
    ck_assert_int_eq(pgw_cron_validate("0 0 * * *", NULL), 0);
    char *why = NULL;
    ck_assert_int_eq(pgw_cron_validate(NULL, &why), -1);
    ck_assert_str_eq(why, "empty spec string");
    free(why);
}
END_TEST

START_TEST(test_many_fields)
{
    /* More fields than the initial split buffer holds. */
    char spec[256] = "";
    for (int i = 0; i < 40; i++)
        strcat(spec, i ? " 1" : "1");
    char *why = NULL;
    ck_assert_int_eq(pgw_cron_validate(spec, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "expected exactly 5 fields, found 40: [1 1 1"));
    free(why);

    /* A huge schedule (a large admission request) is handled in one pass and echoed whole. */
    size_t fields = 300000;
    char *big = malloc(fields * 2 + 1);
    for (size_t i = 0; i < fields; i++) {
        big[2 * i] = '7';
        big[2 * i + 1] = ' ';
    }
    big[fields * 2] = '\0';
    ck_assert_int_eq(pgw_cron_validate(big, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "expected exactly 5 fields, found 300000: [7 7 7"));
    ck_assert_uint_eq(strlen(why), strlen("expected exactly 5 fields, found 300000: []") + fields * 2 - 1);
    ck_assert_str_eq(why + strlen(why) - 5, " 7 7]");
    free(why);
    free(big);
}
END_TEST

/* Random schedules from the grammar's alphabet: never a crash, a leak or an unset message. */
static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

START_TEST(test_random_inputs)
{
    static const char alphabet[] = "0123456789*?/-,0123456789*JANjanSUNsun@\t";
    unsigned state = 12345;
    char spec[64];
    int accepted = 0, rejected = 0;
    for (int round = 0; round < 100000; round++) {
        int fields = 4 + (int)(next_random(&state) % 3), len = 0;
        for (int f = 0; f < fields; f++) {
            if (f > 0)
                spec[len++] = ' ';
            if (next_random(&state) % 2 == 0) {
                /* a token that is valid in at least some fields */
                static const char *const tokens[] = {"*", "*/5", "1", "5", "1-3", "0", "jan", "SUN", "?", "1,2", "2/3"};
                const char *t = tokens[next_random(&state) % (sizeof(tokens) / sizeof(tokens[0]))];
                memcpy(spec + len, t, strlen(t));
                len += (int)strlen(t);
                continue;
            }
            int flen = 1 + (int)(next_random(&state) % 4);
            for (int i = 0; i < flen; i++)
                spec[len++] = alphabet[next_random(&state) % (sizeof(alphabet) - 1)];
        }
        spec[len] = '\0';
        char *why = NULL;
        int rc = pgw_cron_validate(spec, &why);
        if (rc == 0) {
            if ((why) != NULL)
                ck_abort_msg("why is not NULL");
            accepted++;
        } else {
            if (!((rc) == (-1)))
                ck_abort_msg("rc == -1 failed: %lld vs %lld", (long long)(rc), (long long)(-1));
            if ((why) == NULL)
                ck_abort_msg("why is NULL");
            if (!((strlen(why)) > (0)))
                ck_abort_msg("strlen(why) > 0 failed: %llu vs %llu", (unsigned long long)(strlen(why)), (unsigned long long)(0));
            rejected++;
        }
        free(why);
    }
    if (!((accepted) > (100)))
        ck_abort_msg("accepted > 100 failed: %lld vs %lld", (long long)(accepted), (long long)(100));
    if (!((rejected) > (100)))
        ck_abort_msg("rejected > 100 failed: %lld vs %lld", (long long)(rejected), (long long)(100));
}
END_TEST

static Suite *cron_suite(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_test(tc, test_null_why);
    tcase_add_test(tc, test_many_fields);
    tcase_add_test(tc, test_random_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(cron_suite());
}
