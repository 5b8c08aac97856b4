/*
 * RFC 3339 timestamps: what Go's time.Parse(time.RFC3339, s) accepts, with
 * the UTC epoch each one denotes, and what it rejects.
 */
#include "helpers.h"
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"

struct valid_case {
    const char *input;
    int64_t epoch;
};

static const struct valid_case valid_cases[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"2006-01-02T15:04:05Z", 1136214245},
    {"2006-01-02T15:04:05+07:00", 1136214245 - 7 * 3600},
    {"2006-01-02T15:04:05-07:00", 1136214245 + 7 * 3600},
    {"2006-01-02T15:04:05+05:30", 1136214245 - 5 * 3600 - 30 * 60},
    {"2006-01-02T15:04:05-00:00", 1136214245},
    {"2006-01-02T15:04:05+00:00", 1136214245},
    {"2006-01-02T00:30:00+01:00", 1136214245 - 15 * 3600 - 4 * 60 - 5 - 30 * 60},
    {"2006-01-02T15:04:05.999999999Z", 1136214245},
    {"2006-01-02T15:04:05.1Z", 1136214245},
    {"2006-01-02T15:04:05.1234567891234Z", 1136214245},
    {"2006-01-02T15:04:05.5+07:00", 1136214245 - 7 * 3600},
    {"2006-01-02T15:04:05,5Z", 1136214245},
    {"2000-02-29T00:00:00Z", 951782400},
    {"2024-02-29T12:00:00Z", 1709208000},
    {"2016-12-31T23:59:59Z", 1483228799},
    {"1969-12-31T23:59:59Z", -1},
    {"1900-03-01T00:00:00Z", -2203891200},
    {"0000-01-01T00:00:00Z", -62167219200},
    {"0001-01-01T00:00:00Z", -62135596800},
    {"9999-12-31T23:59:59Z", 253402300799},
    {"2038-01-19T03:14:08Z", 2147483648},
    {"2024-12-31T23:59:59-23:59", 1735689599 + 23 * 3600 + 59 * 60},
    /* Go's layout parser takes a one-digit hour, and offsets up to 24:00 / minutes up to 60 */
    {"2006-01-02T1:04:05Z", 1136214245 - 14 * 3600},
    {"2006-01-02T15:04:05+24:00", 1136214245 - 24 * 3600},
    {"2006-01-02T15:04:05+00:60", 1136214245 - 3600},
};

START_TEST(test_valid)
{
    const struct valid_case *c = &valid_cases[_i];
    time_t t = 12345;
    const char *why = NULL;
    ck_assert_msg(pgw_rfc3339_parse(c->input, &t, &why) == 0, "%s: rejected: %s", c->input, why);
    ck_assert_msg((int64_t)t == c->epoch, "%s: %lld, expected %lld", c->input, (long long)t, (long long)c->epoch);
}
END_TEST

static const char err_syntax[] = "must be an RFC 3339 timestamp (e.g. '2006-01-02T15:04:05Z')";
static const char err_month[] = "invalid RFC 3339 timestamp: month out of range";
static const char err_day[] = "invalid RFC 3339 timestamp: day out of range";
static const char err_hour[] = "invalid RFC 3339 timestamp: hour out of range";
static const char err_minute[] = "invalid RFC 3339 timestamp: minute out of range";
static const char err_second[] = "invalid RFC 3339 timestamp: second out of range";
static const char err_zone[] = "invalid RFC 3339 timestamp: time zone offset out of range";

struct invalid_case {
    const char *input;
    const char *why;
};

static const struct invalid_case invalid_cases[] = {
    {"", err_syntax},
    {"2006-01-02T15:04:05", err_syntax},      /* no zone */
    {"2006-01-02", err_syntax},               /* date only */
    {"2006-01-02t15:04:05Z", err_syntax},     /* lower-case t */
    {"2006-01-02T15:04:05z", err_syntax},     /* lower-case z */
    {"2006-01-02 15:04:05Z", err_syntax},     /* space for T */
    {"2006-01-02T15:04Z", err_syntax},        /* no seconds */
    {"2006-1-02T15:04:05Z", err_syntax},      /* one-digit month */
    {"2006-01-2T15:04:05Z", err_syntax},      /* one-digit day */
    {"06-01-02T15:04:05Z", err_syntax},       /* two-digit year */
    {"+2006-01-02T15:04:05Z", err_syntax},    /* signed year */
    {"20060-01-02T15:04:05Z", err_syntax},    /* five-digit year */
    {"2006-01-02T15:4:05Z", err_syntax},      /* one-digit minute */
    {"2006-01-02T15:04:5Z", err_syntax},      /* one-digit second */
    {"2006-01-02T123:04:05Z", err_syntax},    /* three-digit hour */
    {"2006-01-02T15:04:05+0700", err_syntax}, /* offset without colon */
    {"2006-01-02T15:04:05+07", err_syntax},   /* offset without minutes */
    {"2006-01-02T15:04:05+7:00", err_syntax}, /* one-digit offset hour */
    {"2006-01-02T15:04:05.Z", err_syntax},    /* dot without digits */
    {"2006-01-02T15:04:05.", err_syntax},
    {"2006-01-02T15:04:05ZZ", err_syntax}, /* trailing text */
    {"2006-01-02T15:04:05Z ", err_syntax},
    {" 2006-01-02T15:04:05Z", err_syntax},
    {"2006-01-02T15:04:05+07:00Z", err_syntax},
    {"2006-01-02T15:04:05UTC", err_syntax},
    {"2006/01/02T15:04:05Z", err_syntax},
    {"2006-01-02T15:04:05.1.2Z", err_syntax},
    {"2006-13-01T00:00:00Z", err_month},
    {"2006-00-01T00:00:00Z", err_month},
    {"2006-02-30T00:00:00Z", err_day},
    {"2006-02-29T00:00:00Z", err_day}, /* not a leap year */
    {"1900-02-29T00:00:00Z", err_day}, /* century, not a leap year */
    {"2100-02-29T00:00:00Z", err_day},
    {"2006-04-31T00:00:00Z", err_day},
    {"2006-01-32T00:00:00Z", err_day},
    {"2006-01-00T00:00:00Z", err_day},
    {"2006-01-02T24:00:00Z", err_hour},
    {"2006-01-02T23:60:00Z", err_minute},
    {"2006-01-02T23:59:60Z", err_second}, /* no leap seconds */
    {"2006-01-02T15:04:05+25:00", err_zone},
    {"2006-01-02T15:04:05+07:61", err_zone},
};

START_TEST(test_invalid)
{
    const struct invalid_case *c = &invalid_cases[_i];
    time_t t = 12345;
    const char *why = NULL;
    ck_assert_msg(pgw_rfc3339_parse(c->input, &t, &why) == -1, "%s: accepted as %lld", c->input, (long long)t);
    ck_assert_str_eq(why, c->why);
    ck_assert_int_eq((int64_t)t, 0);
}
END_TEST

struct format_case {
    int64_t epoch;
    const char *expected;
};

static const struct format_case format_cases[] = {
    {0, "1970-01-01T00:00:00Z"},
    {1136214245, "2006-01-02T15:04:05Z"},
    {951782400, "2000-02-29T00:00:00Z"},
    {-1, "1969-12-31T23:59:59Z"},
    {-86400, "1969-12-31T00:00:00Z"},
    {-86401, "1969-12-30T23:59:59Z"},
    {-62167219200, "0000-01-01T00:00:00Z"},
    {253402300799, "9999-12-31T23:59:59Z"},
    {2147483648, "2038-01-19T03:14:08Z"},
    {4107542400, "2100-03-01T00:00:00Z"},
};

START_TEST(test_format)
{
    const struct format_case *c = &format_cases[_i];
    char buf[32];
    ck_assert_str_eq(pgw_rfc3339_format((time_t)c->epoch, buf, sizeof(buf)), c->expected);
    /* and back */
    time_t t;
    const char *why;
    ck_assert_int_eq(pgw_rfc3339_parse(buf, &t, &why), 0);
    ck_assert_int_eq((int64_t)t, c->epoch);
}
END_TEST

START_TEST(test_round_trip_every_day)
{
    /* Every day from 1899 to 2101 at a few times of day: format then parse gives the same epoch. */
    char buf[32];
    for (int64_t day = -25567; day <= 48000; day++) {
        int64_t times[] = {0, 1, 43200, 86399};
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
            int64_t epoch = day * 86400 + times[i];
            time_t t;
            const char *why;
            pgw_rfc3339_format((time_t)epoch, buf, sizeof(buf));
            if (!(pgw_rfc3339_parse(buf, &t, &why) == 0))
                ck_abort_msg("%s rejected: %s", buf, why);
            if (!((int64_t)t == epoch))
                ck_abort_msg("%s parsed as %lld, expected %lld", buf, (long long)t, (long long)epoch);
        }
    }
}
END_TEST

START_TEST(test_null_and_small_buffer)
{
    time_t t;
    const char *why = NULL;
    ck_assert_int_eq(pgw_rfc3339_parse(NULL, &t, &why), -1);
    ck_assert_str_eq(why, err_syntax);
    ck_assert_int_eq(pgw_rfc3339_parse("nope", &t, NULL), -1);
    char small[11];
    ck_assert_str_eq(pgw_rfc3339_format(1136214245, small, sizeof(small)), "2006-01-02");
}
END_TEST

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

/*
 * Mutations of a valid timestamp (one character replaced, inserted or
 * removed): no crash, and whatever is accepted formats back to a timestamp
 * that parses to the same epoch.
 */
START_TEST(test_age)
{
    time_t t;
    const char *why = NULL;
    ck_assert_int_eq(pgw_rfc3339_parse("2026-12-04T20:00:00Z", &t, &why), 0);
    ck_assert(pgw_rfc3339_age("2026-12-04T20:00:00Z", t + 90) == 90.0);
    ck_assert(pgw_rfc3339_age("2026-12-04T20:00:00Z", t - 5) == -5.0);
    ck_assert(pgw_rfc3339_age(NULL, t) == 0.0);
    ck_assert(pgw_rfc3339_age("yesterday", t) == 0.0);
}
END_TEST

START_TEST(test_random_mutations)
{
    static const char base[] = "2024-02-29T23:59:59.123+05:30";
    static const char alphabet[] = "0123456789-:T+Z.,tz 9";
    unsigned state = 99;
    char input[64], buf[32];
    int accepted = 0, rejected = 0;
    for (int round = 0; round < 100000; round++) {
        strcpy(input, base);
        int edits = 1 + (int)(next_random(&state) % 3);
        for (int e = 0; e < edits; e++) {
            size_t len = strlen(input);
            size_t at = next_random(&state) % (len + 1);
            char c = alphabet[next_random(&state) % (sizeof(alphabet) - 1)];
            switch (next_random(&state) % 3) {
            case 0:
                if (at < len)
                    input[at] = c;
                break;
            case 1:
                memmove(input + at + 1, input + at, len - at + 1);
                input[at] = c;
                break;
            default:
                if (at < len)
                    memmove(input + at, input + at + 1, len - at);
                break;
            }
        }
        time_t t, back;
        const char *why = NULL;
        if (pgw_rfc3339_parse(input, &t, &why) != 0) {
            if ((why) == NULL)
                ck_abort_msg("why is NULL");
            rejected++;
            continue;
        }
        accepted++;
        pgw_rfc3339_format(t, buf, sizeof(buf));
        if (!(pgw_rfc3339_parse(buf, &back, &why) == 0))
            ck_abort_msg("%s -> %s rejected", input, buf);
        if (!(back == t))
            ck_abort_msg("%s -> %s changes the epoch", input, buf);
    }
    if (!((accepted) > (1000)))
        ck_abort_msg("accepted > 1000 failed: %lld vs %lld", (long long)(accepted), (long long)(1000));
    if (!((rejected) > (1000)))
        ck_abort_msg("rejected > 1000 failed: %lld vs %lld", (long long)(rejected), (long long)(1000));
}
END_TEST

static Suite *timefmt_suite(void)
{
    Suite *s = suite_create("timefmt");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_loop_test(tc, test_format, 0, sizeof(format_cases) / sizeof(format_cases[0]));
    tcase_add_test(tc, test_round_trip_every_day);
    tcase_add_test(tc, test_null_and_small_buffer);
    tcase_add_test(tc, test_random_mutations);
    tcase_add_test(tc, test_age);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(timefmt_suite());
}
