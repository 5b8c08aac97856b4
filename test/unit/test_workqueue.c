/*
 * Unit tests for controller/kube/workqueue: dedupe, FIFO order, a key re-added
 * while in progress comes back only after done, delayed adds keep the earliest
 * time, per-key retry backoff doubles to the cap and forget resets it,
 * shutdown wakes blocked workers, and the depth metric follows the queue.
 * The clock is a variable; only the shutdown test blocks (and is released by
 * the call under test, not by time).
 */
#include "helpers.h"
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "controller/kube/workqueue.h"

static double fake_now(void *ctx)
{
    return *(double *)ctx;
}

static struct pgw_workqueue *new_queue(double *clock)
{
    struct pgw_workqueue_options o = {.base_delay = 0.005, .max_delay = 1.0, .now = fake_now, .now_ctx = clock};
    return pgw_workqueue_new(&o);
}

/* Takes the next key, checks it, marks it done. */
static void expect_next(struct pgw_workqueue *q, const char *want)
{
    char *key = pgw_workqueue_try_get(q);
    if (want == NULL) {
        ck_assert_msg(key == NULL, "expected nothing, got %s", key != NULL ? key : "");
        return;
    }
    ck_assert_msg(key != NULL, "expected %s, got nothing", want);
    ck_assert_str_eq(key, want);
    pgw_workqueue_done(q, key);
    free(key);
}

START_TEST(key_format)
{
    static const struct {
        const char *kind, *ns, *name, *key;
    } rows[] = {{"PostgresCluster", "db", "demo", "PostgresCluster/db/demo"}, {"Namespace", NULL, "db", "Namespace//db"}};
    for (size_t i = 0; i != 2; ++i) {
        char *k = pgw_workqueue_key(rows[i].kind, rows[i].ns, rows[i].name);
        ck_assert_str_eq(k, rows[i].key);
        free(k);
    }
}
END_TEST

START_TEST(dedupe_and_fifo)
{
    double t = 0;
    struct pgw_workqueue *q = new_queue(&t);
    const char *adds[] = {"a", "b", "a", "c", "b", "a"};
    for (size_t i = 0; i != 6; ++i)
        pgw_workqueue_add(q, adds[i]);
    ck_assert_int_eq(pgw_workqueue_len(q), 3);
    expect_next(q, "a");
    expect_next(q, "b");
    expect_next(q, "c");
    expect_next(q, NULL);
    ck_assert_int_eq(pgw_workqueue_len(q), 0);
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(readd_while_processing_waits_for_done)
{
    double t = 0;
    struct pgw_workqueue *q = new_queue(&t);
    pgw_workqueue_add(q, "k");
    char *held = pgw_workqueue_try_get(q);
    ck_assert_str_eq(held, "k");
    pgw_workqueue_add(q, "k");
    pgw_workqueue_add(q, "k");
    ck_assert_int_eq(pgw_workqueue_len(q), 0); /* not handed to a second worker */
    ck_assert_ptr_null(pgw_workqueue_try_get(q));
    pgw_workqueue_done(q, held);
    free(held);
    ck_assert_int_eq(pgw_workqueue_len(q), 1); /* once, although added twice */
    expect_next(q, "k");
    expect_next(q, NULL);
    /* done without a re-add: nothing comes back */
    pgw_workqueue_add(q, "j");
    expect_next(q, "j");
    expect_next(q, NULL);
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(delayed_add_keeps_earliest)
{
    double t = 100;
    struct pgw_workqueue *q = new_queue(&t);
    pgw_workqueue_add_after(q, "late", 10);
    pgw_workqueue_add_after(q, "x", 5);
    pgw_workqueue_add_after(q, "x", 8); /* later: ignored */
    pgw_workqueue_add_after(q, "y", 6);
    pgw_workqueue_add_after(q, "y", 2); /* earlier: wins */
    ck_assert_int_eq(pgw_workqueue_delayed(q), 3);
    static const struct {
        double t;
        const char *want;
    } rows[] = {{101.9, NULL}, {102.0, "y"}, {104.9, NULL}, {105.0, "x"}, {109.0, NULL}, {110.0, "late"}, {200.0, NULL}};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        t = rows[i].t;
        expect_next(q, rows[i].want);
    }
    pgw_workqueue_add_after(q, "now", 0); /* zero delay is a plain add */
    expect_next(q, "now");
    ck_assert_int_eq(pgw_workqueue_delayed(q), 0);
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(retry_backoff_doubles_to_cap)
{
    double t = 0;
    struct pgw_workqueue *q = new_queue(&t);
    static const double delays[] = {0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0};
    for (size_t i = 0; i != sizeof(delays) / sizeof(delays[0]); ++i) {
        ck_assert_double_eq_tol(pgw_workqueue_add_rate_limited(q, "r"), delays[i], 1e-12);
        ck_assert_int_eq(pgw_workqueue_num_requeues(q, "r"), (int)i + 1);
        expect_next(q, NULL); /* not before its time */
        t += delays[i];
        expect_next(q, "r");
    }
    pgw_workqueue_forget(q, "r");
    ck_assert_int_eq(pgw_workqueue_num_requeues(q, "r"), 0);
    ck_assert_double_eq_tol(pgw_workqueue_add_rate_limited(q, "r"), 0.005, 1e-12);
    /* keys have independent counters */
    ck_assert_double_eq_tol(pgw_workqueue_add_rate_limited(q, "other"), 0.005, 1e-12);
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(defaults)
{
    ck_assert_double_eq(PGW_WORKQUEUE_BASE_DELAY, 0.005);
    ck_assert_double_eq(PGW_WORKQUEUE_MAX_DELAY, 300.0);
    double t = 0;
    struct pgw_workqueue_options o = {.now = fake_now, .now_ctx = &t};
    struct pgw_workqueue *q = pgw_workqueue_new(&o);
    double d = 0;
    for (int i = 0; i != 40; ++i)
        d = pgw_workqueue_add_rate_limited(q, "d");
    ck_assert_double_eq(d, 300.0);
    pgw_workqueue_free(q);
}
END_TEST

struct worker {
    struct pgw_workqueue *q;
    char *got;
    int returned;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    w->got = pgw_workqueue_get(w->q);
    w->returned = 1;
    return NULL;
}

START_TEST(shutdown_wakes_workers)
{
    struct pgw_workqueue *q = pgw_workqueue_new(NULL); /* real clock: get really blocks */
    struct worker w[3];
    pthread_t th[3];
    for (int i = 0; i != 3; ++i) {
        w[i] = (struct worker){q, NULL, 0};
        pthread_create(&th[i], NULL, worker_run, &w[i]);
    }
    pgw_workqueue_add_after(q, "far", 3600); /* a sleeping delayed key must not keep them asleep */
    pgw_workqueue_shutdown(q);
    for (int i = 0; i != 3; ++i) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(w[i].returned, 1);
        ck_assert_ptr_null(w[i].got);
    }
    pgw_workqueue_add(q, "after"); /* ignored */
    ck_assert_int_eq(pgw_workqueue_len(q), 0);
    ck_assert_ptr_null(pgw_workqueue_get(q));
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(blocking_get_receives_add)
{
    struct pgw_workqueue *q = pgw_workqueue_new(NULL);
    struct worker w = {q, NULL, 0};
    pthread_t th;
    pthread_create(&th, NULL, worker_run, &w);
    pgw_workqueue_add(q, "wake");
    pthread_join(th, NULL);
    ck_assert_str_eq(w.got, "wake");
    pgw_workqueue_done(q, w.got);
    free(w.got);
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(depth_metric_exported)
{
    double t = 0;
    struct pgw_workqueue_options o = {.now = fake_now, .now_ctx = &t, .export_metrics = 1};
    struct pgw_workqueue *q = pgw_workqueue_new(&o);
    pgw_workqueue_add(q, "a");
    pgw_workqueue_add(q, "b");
    size_t len;
    char *text = pgw_metrics_render(&len);
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_workqueue_depth 2\n"));
    free(text);
    expect_next(q, "a");
    text = pgw_metrics_render(&len);
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_workqueue_depth 1\n"));
    free(text);
    pgw_workqueue_free(q);
}
END_TEST

START_TEST(many_keys_grow_table)
{
    double t = 0;
    struct pgw_workqueue *q = new_queue(&t);
    char key[32];
    for (int round = 0; round != 2; ++round)
        for (int i = 0; i != 5000; ++i) {
            snprintf(key, sizeof(key), "PostgresCluster/ns%d/c%d", i % 50, i);
            pgw_workqueue_add(q, key);
        }
    ck_assert_int_eq(pgw_workqueue_len(q), 5000);
    for (int i = 0; i != 5000; ++i) {
        snprintf(key, sizeof(key), "PostgresCluster/ns%d/c%d", i % 50, i);
        expect_next(q, key);
    }
    expect_next(q, NULL);
    pgw_workqueue_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workqueue");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, key_format);
    tcase_add_test(tc, dedupe_and_fifo);
    tcase_add_test(tc, readd_while_processing_waits_for_done);
    tcase_add_test(tc, delayed_add_keeps_earliest);
    tcase_add_test(tc, retry_backoff_doubles_to_cap);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, shutdown_wakes_workers);
    tcase_add_test(tc, blocking_get_receives_add);
    tcase_add_test(tc, depth_metric_exported);
    tcase_add_test(tc, many_keys_grow_table);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
