/*
 * Unit tests for the leader-election state machine (controller/kube/leader) and
 * the Lease JSON mapping (controller/kube/lease), against an in-memory Lease store
 * with resourceVersion checks. Two electors share the store and a fake clock:
 * acquire when free, wait out another holder by local observation time (not
 * its renewTime), renew, lose on renew deadline, 409 on a stale write,
 * release, callbacks and the is_leader metric.
 */
#include "helpers.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/kube/leader.h"
#include "controller/kube/lease.h"

struct fake_store {
    int exists;
    struct pgw_lease_record rec;
    long rv;
    int fail;      /* every call returns ERROR */
    int conflicts; /* the next n writes return CONFLICT */
    int writes;
    int hide_next_get; /* the next get answers NOT_FOUND (a create racing with ours) */
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? pgw_strdup(s) : NULL;
}

static void copy_rec(struct pgw_lease_record *dst, const struct pgw_lease_record *src)
{
    dst->holder = dup_or_null(src->holder);
    dst->duration = src->duration;
    dst->acquire_time = dup_or_null(src->acquire_time);
    dst->renew_time = dup_or_null(src->renew_time);
    dst->transitions = src->transitions;
    dst->resource_version = dup_or_null(src->resource_version);
}

static int fs_get(void *ctx, struct pgw_lease_record *out)
{
    struct fake_store *s = ctx;
    memset(out, 0, sizeof(*out));
    if (s->fail)
        return PGW_LEASE_ERROR;
    if (!s->exists || s->hide_next_get) {
        s->hide_next_get = 0;
        return PGW_LEASE_NOT_FOUND;
    }
    copy_rec(out, &s->rec);
    return PGW_LEASE_OK;
}

static void store_write(struct fake_store *s, struct pgw_lease_record *rec)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%ld", ++s->rv);
    free(rec->resource_version);
    rec->resource_version = pgw_strdup(rv);
    pgw_lease_record_dispose(&s->rec);
    copy_rec(&s->rec, rec);
    s->exists = 1;
    ++s->writes;
}

static int fs_create(void *ctx, struct pgw_lease_record *rec)
{
    struct fake_store *s = ctx;
    if (s->fail)
        return PGW_LEASE_ERROR;
    if (s->exists)
        return PGW_LEASE_CONFLICT;
    store_write(s, rec);
    return PGW_LEASE_OK;
}

static int fs_update(void *ctx, struct pgw_lease_record *rec)
{
    struct fake_store *s = ctx;
    if (s->fail)
        return PGW_LEASE_ERROR;
    if (s->conflicts > 0) {
        --s->conflicts;
        return PGW_LEASE_CONFLICT;
    }
    if (!s->exists || rec->resource_version == NULL || strcmp(rec->resource_version, s->rec.resource_version) != 0)
        return PGW_LEASE_CONFLICT;
    store_write(s, rec);
    return PGW_LEASE_OK;
}

struct env {
    struct fake_store store;
    struct pgw_lease_store iface;
    double mono, wall;
    int started, stopped;
};

static double env_mono(void *ctx)
{
    return ((struct env *)ctx)->mono;
}

static double env_wall(void *ctx)
{
    return ((struct env *)ctx)->wall;
}

static void on_started(void *ctx)
{
    ++((struct env *)ctx)->started;
}

static void on_stopped(void *ctx)
{
    ++((struct env *)ctx)->stopped;
}

static void env_init(struct env *e)
{
    memset(e, 0, sizeof(*e));
    e->iface = (struct pgw_lease_store){fs_get, fs_create, fs_update, &e->store};
    e->mono = 1000;
    e->wall = 1700000000.25;
}

static struct pgw_leader *elector(struct env *e, const char *id, int global)
{
    struct pgw_leader_options o = {.identity = id,
                                   .now = env_mono,
                                   .wall = env_wall,
                                   .clock_ctx = e,
                                   .on_started_leading = on_started,
                                   .on_stopped_leading = on_stopped,
                                   .cb_ctx = e,
                                   .global = global};
    return pgw_leader_new(&o, &e->iface);
}

static void advance(struct env *e, double s)
{
    e->mono += s;
    e->wall += s;
}

START_TEST(acquires_free_lease_and_renews)
{
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0);
    ck_assert_int_eq(pgw_leader_leading(a), 0);
    ck_assert_double_eq(pgw_leader_tick(a), PGW_LEADER_RETRY_PERIOD);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    ck_assert_int_eq(e.started, 1);
    ck_assert_str_eq(e.store.rec.holder, "a");
    ck_assert_int_eq(e.store.rec.duration, 15);
    ck_assert_int_eq(e.store.rec.transitions, 0);
    ck_assert_str_eq(e.store.rec.acquire_time, "2023-11-14T22:13:20.250000Z");
    ck_assert_str_eq(e.store.rec.renew_time, e.store.rec.acquire_time);
    advance(&e, 2);
    pgw_leader_tick(a);
    ck_assert_str_eq(e.store.rec.renew_time, "2023-11-14T22:13:22.250000Z");
    ck_assert_str_eq(e.store.rec.acquire_time, "2023-11-14T22:13:20.250000Z"); /* kept on renew */
    ck_assert_int_eq(e.store.rec.transitions, 0);
    ck_assert_int_eq(e.started, 1); /* no second start callback */
    pgw_leader_free(a);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(waits_for_expiry_by_local_observation)
{
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0), *b = elector(&e, "b", 0);
    pgw_leader_tick(a);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    /* b first sees the lease now; a then dies. b's wall clock is far ahead: that must not matter. */
    pgw_leader_tick(b);
    ck_assert_int_eq(pgw_leader_leading(b), 0);
    e.wall += 86400;
    static const struct {
        double advance;
        int b_leads;
    } rows[] = {{2, 0}, {10, 0}, {2.9, 0}, {0.2, 1}}; /* 15 s after b observed it */
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        advance(&e, rows[i].advance);
        pgw_leader_tick(b);
        ck_assert_msg(pgw_leader_leading(b) == rows[i].b_leads, "row %zu", i);
    }
    ck_assert_str_eq(e.store.rec.holder, "b");
    ck_assert_int_eq(e.store.rec.transitions, 1);
    /* a has not renewed for 15 s: past its deadline it no longer claims to lead, even before its next tick */
    ck_assert_int_eq(pgw_leader_leading(a), 0);
    pgw_leader_tick(a); /* sees b: stays a follower and reports stopping */
    ck_assert_int_eq(pgw_leader_leading(a), 0);
    ck_assert_int_eq(e.stopped, 1);
    pgw_leader_free(a);
    pgw_leader_free(b);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(renewals_keep_others_out)
{
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0), *b = elector(&e, "b", 0);
    pgw_leader_tick(a);
    for (int i = 0; i != 30; ++i) { /* 60 s of a renewing every 2 s */
        advance(&e, 2);
        pgw_leader_tick(a);
        pgw_leader_tick(b);
        ck_assert_int_eq(pgw_leader_leading(a), 1);
        ck_assert_int_eq(pgw_leader_leading(b), 0);
    }
    ck_assert_int_eq(e.store.rec.transitions, 0);
    pgw_leader_free(a);
    pgw_leader_free(b);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(renew_deadline_stops_leading)
{
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0);
    pgw_leader_tick(a);
    e.store.fail = 1; /* API server unreachable */
    static const struct {
        double advance;
        int leading;
        int stopped;
    } rows[] = {{2, 1, 0}, {2, 1, 0}, {2, 1, 0}, {2, 1, 0}, {1.9, 1, 0}, {0.1, 0, 1}, {2, 0, 1}};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        advance(&e, rows[i].advance);
        pgw_leader_tick(a);
        ck_assert_msg(pgw_leader_leading(a) == rows[i].leading, "row %zu", i);
        ck_assert_msg(e.stopped == rows[i].stopped, "row %zu stopped=%d", i, e.stopped);
    }
    /* the store comes back; a takes its own lease again */
    e.store.fail = 0;
    advance(&e, 2);
    pgw_leader_tick(a);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    ck_assert_int_eq(e.started, 2);
    pgw_leader_free(a);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(leading_expires_without_ticks)
{
    /* a stuck elector thread: writers must stop at the deadline anyway */
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0);
    pgw_leader_tick(a);
    advance(&e, 9.99);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    advance(&e, 0.01);
    ck_assert_int_eq(pgw_leader_leading(a), 0);
    pgw_leader_free(a);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

/* A write may take only as long as the Lease stays ours: it lands before anyone else can hold it. */
START_TEST(write_budget_ends_before_others_can_take_over)
{
    struct env e;
    env_init(&e);
    ck_assert_double_lt(pgw_leader_global_write_budget(), 0); /* no global elector: no cap */
    struct pgw_leader *a = elector(&e, "a", 0);
    ck_assert_double_eq(pgw_leader_write_budget(a), 0); /* not leading */
    pgw_leader_tick(a);
    ck_assert_double_eq_tol(pgw_leader_write_budget(a), PGW_LEADER_LEASE_DURATION - 1.0, 1e-9);
    advance(&e, 9.5);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    ck_assert_double_eq_tol(pgw_leader_write_budget(a), PGW_LEADER_LEASE_DURATION - 1.0 - 9.5, 1e-9);
    /* The last write allowed (just before the renew deadline) still has to end a second before the Lease can expire. */
    advance(&e, 0.49);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    ck_assert_double_eq_tol(pgw_leader_write_budget(a), PGW_LEADER_LEASE_DURATION - 1.0 - 9.99, 1e-9);
    advance(&e, 20);
    ck_assert_double_eq(pgw_leader_write_budget(a), 0);
    pgw_leader_free(a);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(conflict_means_retry)
{
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0);
    /* an existing free lease (released), but the write races */
    e.store.exists = 1;
    e.store.rec.holder = pgw_strdup("");
    e.store.rec.resource_version = pgw_strdup("41");
    e.store.rec.transitions = 3;
    e.store.rv = 41;
    e.store.conflicts = 1;
    pgw_leader_tick(a);
    ck_assert_int_eq(pgw_leader_leading(a), 0);
    ck_assert_int_eq(e.store.writes, 0);
    advance(&e, 2);
    pgw_leader_tick(a);
    ck_assert_int_eq(pgw_leader_leading(a), 1);
    ck_assert_int_eq(e.store.rec.transitions, 4);
    ck_assert_str_eq(e.store.rec.resource_version, "42");
    pgw_leader_free(a);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(create_race_lost)
{
    /* b reads "no Lease", a creates it, then b's create is a conflict: b stays a follower */
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0), *b = elector(&e, "b", 0);
    pgw_leader_tick(a);
    e.store.hide_next_get = 1;
    pgw_leader_tick(b);
    ck_assert_int_eq(pgw_leader_leading(b), 0);
    ck_assert_int_eq(e.started, 1);
    ck_assert_str_eq(e.store.rec.holder, "a");
    ck_assert_int_eq(e.store.writes, 1);
    pgw_leader_free(a);
    pgw_leader_free(b);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(release_hands_over_at_once)
{
    struct env e;
    env_init(&e);
    struct pgw_leader *a = elector(&e, "a", 0), *b = elector(&e, "b", 0);
    pgw_leader_tick(a);
    pgw_leader_tick(b);
    pgw_leader_release(a);
    ck_assert_int_eq(pgw_leader_leading(a), 0);
    ck_assert_int_eq(e.stopped, 1);
    ck_assert_str_eq(e.store.rec.holder, "");
    advance(&e, 2);
    pgw_leader_tick(b); /* no 15 s wait */
    ck_assert_int_eq(pgw_leader_leading(b), 1);
    pgw_leader_free(a);
    pgw_leader_free(b);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(global_gate_and_metric)
{
    struct env e;
    env_init(&e);
    ck_assert_int_eq(pgw_leader_is_leading(), 1); /* no election configured: writes allowed */
    struct pgw_leader *a = elector(&e, "a", 1);
    ck_assert_int_eq(pgw_leader_is_leading(), 0);
    size_t len;
    char *text = pgw_metrics_render(&len);
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_is_leader 0\n"));
    free(text);
    pgw_leader_tick(a);
    ck_assert_int_eq(pgw_leader_is_leading(), 1);
    text = pgw_metrics_render(&len);
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_is_leader 1\n"));
    free(text);
    advance(&e, 10);
    ck_assert_int_eq(pgw_leader_is_leading(), 0);
    pgw_leader_free(a);
    ck_assert_int_eq(pgw_leader_is_leading(), 1);
    pgw_lease_record_dispose(&e.store.rec);
}
END_TEST

START_TEST(lease_json_round_trip)
{
    struct pgw_lease_record rec = {.holder = "pgwarden-0",
                                   .duration = 15,
                                   .acquire_time = "2024-01-01T00:00:00.000000Z",
                                   .renew_time = "2024-01-01T00:00:10.000000Z",
                                   .transitions = 2,
                                   .resource_version = "77"};
    json_t *obj = pgw_lease_to_json(&rec, "pgwarden-system", "pgwarden-controller");
    ck_assert_str_eq(json_string_value(json_object_get(obj, "apiVersion")), "coordination.k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")), "77");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(obj, "spec"), "leaseDurationSeconds")), 15);
    struct pgw_lease_record back;
    ck_assert_int_eq(pgw_lease_from_json(obj, &back), 0);
    ck_assert_str_eq(back.holder, rec.holder);
    ck_assert_str_eq(back.acquire_time, rec.acquire_time);
    ck_assert_str_eq(back.renew_time, rec.renew_time);
    ck_assert_str_eq(back.resource_version, rec.resource_version);
    ck_assert_int_eq(back.transitions, 2);
    ck_assert_int_eq(back.duration, 15);
    pgw_lease_record_dispose(&back);
    json_decref(obj);
    json_t *bad = pgw_json_pack("{s:s}", "kind", "Lease");
    ck_assert_int_eq(pgw_lease_from_json(bad, &back), -1);
    pgw_lease_record_dispose(&back);
    json_decref(bad);
}
END_TEST

START_TEST(defaults_match_design)
{
    ck_assert_double_eq(PGW_LEADER_LEASE_DURATION, 15);
    ck_assert_double_eq(PGW_LEADER_RENEW_DEADLINE, 10);
    ck_assert_double_eq(PGW_LEADER_RETRY_PERIOD, 2);
    char buf[40];
    ck_assert_str_eq(pgw_leader_format_microtime(0.5, buf, sizeof(buf)), "1970-01-01T00:00:00.500000Z");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("leader");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, acquires_free_lease_and_renews);
    tcase_add_test(tc, waits_for_expiry_by_local_observation);
    tcase_add_test(tc, renewals_keep_others_out);
    tcase_add_test(tc, renew_deadline_stops_leading);
    tcase_add_test(tc, leading_expires_without_ticks);
    tcase_add_test(tc, write_budget_ends_before_others_can_take_over);
    tcase_add_test(tc, conflict_means_retry);
    tcase_add_test(tc, create_race_lost);
    tcase_add_test(tc, release_hands_over_at_once);
    tcase_add_test(tc, global_gate_and_metric);
    tcase_add_test(tc, lease_json_round_trip);
    tcase_add_test(tc, defaults_match_design);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
