/*
 * Unit tests for controller/kube/ratelimit: burst, refill at qps, waits handed to
 * queued callers in order, the cap on saved tokens, a clock stepping back,
 * unlimited mode and defaults. The clock is a variable; nothing sleeps.
 */
#include "helpers.h"
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "controller/kube/ratelimit.h"

static double fake_now(void *ctx)
{
    return *(double *)ctx;
}

START_TEST(burst_then_wait)
{
    double t = 100;
    struct pgw_ratelimit *rl = pgw_ratelimit_new(10, 3, fake_now, &t);
    /* rows: {clock, expected wait} */
    static const struct {
        double t, wait;
    } rows[] = {
        {100.0, 0},   {100.0, 0},   {100.0, 0},   /* the burst */
        {100.0, 0.1}, {100.0, 0.2}, {100.0, 0.3}, /* queued callers wait in turn */
        {100.3, 0.1},                             /* 3 tokens refilled, 3 owed, this one waits for the next */
        {101.0, 0},   {101.0, 0},                 /* 7 refilled, capped at the burst of 3 */
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        t = rows[i].t;
        ck_assert_msg(fabs(pgw_ratelimit_reserve(rl) - rows[i].wait) < 1e-9, "row %zu", i);
    }
    pgw_ratelimit_free(rl);
}
END_TEST

START_TEST(tokens_capped_at_burst)
{
    double t = 0;
    struct pgw_ratelimit *rl = pgw_ratelimit_new(50, 100, fake_now, &t);
    t = 3600; /* an idle hour saves no more than the burst */
    for (int i = 0; i != 100; ++i)
        ck_assert_double_eq(pgw_ratelimit_reserve(rl), 0);
    ck_assert_double_eq_tol(pgw_ratelimit_reserve(rl), 0.02, 1e-9);
    pgw_ratelimit_free(rl);
}
END_TEST

START_TEST(clock_stepping_back_adds_nothing)
{
    double t = 50;
    struct pgw_ratelimit *rl = pgw_ratelimit_new(1, 1, fake_now, &t);
    ck_assert_double_eq(pgw_ratelimit_reserve(rl), 0);
    t = 10;
    ck_assert_double_eq_tol(pgw_ratelimit_reserve(rl), 1.0, 1e-9);
    t = 52; /* from the last refill at 50: two tokens, one owed */
    ck_assert_double_eq(pgw_ratelimit_reserve(rl), 0);
    pgw_ratelimit_free(rl);
}
END_TEST

START_TEST(unlimited_and_burst_floor)
{
    double t = 0;
    struct pgw_ratelimit *rl = pgw_ratelimit_new(0, 0, fake_now, &t);
    for (int i = 0; i != 1000; ++i)
        ck_assert_double_eq(pgw_ratelimit_reserve(rl), 0);
    pgw_ratelimit_free(rl);
    rl = pgw_ratelimit_new(2, 0, fake_now, &t); /* burst < 1 acts as 1 */
    ck_assert_double_eq(pgw_ratelimit_reserve(rl), 0);
    ck_assert_double_eq_tol(pgw_ratelimit_reserve(rl), 0.5, 1e-9);
    pgw_ratelimit_free(rl);
}
END_TEST

START_TEST(defaults_are_higher_than_client_go)
{
    ck_assert_double_eq(PGW_RATELIMIT_DEFAULT_QPS, 50.0);
    ck_assert_int_eq(PGW_RATELIMIT_DEFAULT_BURST, 100);
    double t = 0;
    struct pgw_ratelimit *rl = pgw_ratelimit_new(PGW_RATELIMIT_DEFAULT_QPS, PGW_RATELIMIT_DEFAULT_BURST, fake_now, &t);
    int free_now = 0;
    while (pgw_ratelimit_reserve(rl) == 0)
        ++free_now;
    ck_assert_int_eq(free_now, 100);
    pgw_ratelimit_free(rl);
}
END_TEST

struct hammer {
    struct pgw_ratelimit *rl;
    double total;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i != 1000; ++i)
        h->total += pgw_ratelimit_reserve(h->rl);
    return NULL;
}

START_TEST(thread_safe_reservations)
{
    /* 4 threads × 1000 reservations at a frozen clock: exactly burst are free and the waits are 1/qps apart. */
    double t = 0;
    struct pgw_ratelimit *rl = pgw_ratelimit_new(100, 10, fake_now, &t);
    struct hammer h[4];
    pthread_t th[4];
    for (int i = 0; i != 4; ++i) {
        h[i] = (struct hammer){rl, 0};
        pthread_create(&th[i], NULL, hammer_run, &h[i]);
    }
    double total = 0;
    for (int i = 0; i != 4; ++i) {
        pthread_join(th[i], NULL);
        total += h[i].total;
    }
    /* waits are 0.01, 0.02, ... 39.90 s for the 3990 callers past the burst */
    double n = 3990;
    ck_assert_double_eq_tol(total, 0.01 * n * (n + 1) / 2, 1e-3);
    pgw_ratelimit_free(rl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, burst_then_wait);
    tcase_add_test(tc, tokens_capped_at_burst);
    tcase_add_test(tc, clock_stepping_back_adds_nothing);
    tcase_add_test(tc, unlimited_and_burst_floor);
    tcase_add_test(tc, defaults_are_higher_than_client_go);
    tcase_add_test(tc, thread_safe_reservations);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
