/*
 * Unit tests for controller/kube/backoff: the progression from 0.8 s to the 30 s
 * cap, the jitter bounds at both ends of the random range, reset, and
 * defaults. The random source is a scripted sequence.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>

#include "controller/kube/backoff.h"

struct seq {
    const double *values;
    size_t n, i;
};

static double next_value(void *ctx)
{
    struct seq *s = ctx;
    double v = s->values[s->i % s->n];
    ++s->i;
    return v;
}

START_TEST(progression_without_jitter)
{
    static const double zero[] = {0};
    struct seq s = {zero, 1, 0};
    struct pgw_backoff b;
    pgw_backoff_init(&b, 0, 0, next_value, &s);
    static const double expected[] = {0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0};
    for (size_t i = 0; i != sizeof(expected) / sizeof(expected[0]); ++i)
        ck_assert_double_eq_tol(pgw_backoff_next(&b), expected[i], 1e-9);
}
END_TEST

START_TEST(jitter_stays_within_bounds)
{
    /* r close to 1 widens delays below the cap by up to 25% and narrows the cap by up to 25%. */
    static const double high[] = {0.999999};
    struct seq s = {high, 1, 0};
    struct pgw_backoff b;
    pgw_backoff_init(&b, 0, 0, next_value, &s);
    static const struct {
        double lo, hi;
    } rows[] = {{0.8, 1.0}, {1.6, 2.0}, {3.2, 4.0}, {6.4, 8.0}, {12.8, 16.0}, {25.6, 30.0}, {22.5, 30.0}, {22.5, 30.0}};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        double d = pgw_backoff_next(&b);
        ck_assert_msg(d >= rows[i].lo - 1e-9 && d <= rows[i].hi + 1e-9, "step %zu: %f not in [%f, %f]", i, d, rows[i].lo,
                      rows[i].hi);
    }
    /* at the cap with r≈1 the delay is ≈22.5 s, not 30 s: replicas spread out */
    ck_assert_double_lt(pgw_backoff_next(&b), 22.6);
}
END_TEST

START_TEST(broken_random_source_is_clamped)
{
    static const double bad[] = {5.0, -3.0, 1.0};
    struct seq s = {bad, 3, 0};
    struct pgw_backoff b;
    pgw_backoff_init(&b, 1.0, 4.0, next_value, &s);
    static const double expected[] = {1.0, 2.0, 4.0};
    for (size_t i = 0; i != 3; ++i)
        ck_assert_double_eq_tol(pgw_backoff_next(&b), expected[i], 1e-9);
}
END_TEST

START_TEST(reset_starts_over)
{
    static const double zero[] = {0};
    struct seq s = {zero, 1, 0};
    struct pgw_backoff b;
    pgw_backoff_init(&b, 0, 0, next_value, &s);
    for (int i = 0; i != 10; ++i)
        pgw_backoff_next(&b);
    ck_assert_double_eq_tol(pgw_backoff_next(&b), 30.0, 1e-9);
    pgw_backoff_reset(&b);
    ck_assert_double_eq_tol(pgw_backoff_next(&b), 0.8, 1e-9);
}
END_TEST

START_TEST(custom_bounds_and_defaults)
{
    struct pgw_backoff b;
    pgw_backoff_init(&b, 0, 0, NULL, NULL);
    ck_assert_double_eq(b.initial, PGW_BACKOFF_INITIAL);
    ck_assert_double_eq(b.max, PGW_BACKOFF_MAX);
    ck_assert_double_eq(PGW_BACKOFF_INITIAL, 0.8);
    ck_assert_double_eq(PGW_BACKOFF_MAX, 30.0);
    /* the built-in random source keeps every delay in range */
    for (int i = 0; i != 200; ++i) {
        double d = pgw_backoff_next(&b);
        ck_assert(d >= 0.8 && d <= 30.0);
    }
    pgw_backoff_init(&b, 5, 2, NULL, NULL); /* max below initial is raised */
    ck_assert_double_eq(b.max, 5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backoff");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, progression_without_jitter);
    tcase_add_test(tc, jitter_stays_within_bounds);
    tcase_add_test(tc, broken_random_source_is_clamped);
    tcase_add_test(tc, reset_starts_over);
    tcase_add_test(tc, custom_bounds_and_defaults);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
