/*
 * Unit tests for controller/decide/rollout: one step at a time, replicas first
 * (highest ordinal first), then a switchover to the most up-to-date replica
 * that may take over, then the old primary; waits while an instance is down;
 * supervised mode, requested switchovers and restarts, scale-down of the
 * primary, and status.pendingRestart.
 */
#include "helpers.h"

#include "controller/decide/rollout.h"
#include "specs/operations.h"

#define NEW "c-new"
#define OLD "c-old"

struct pod_spec {
    const char *name;
    const char *revision;
    int ready;
    int primary;
    long long lsn;
    const char *extra_member; /* NULL or extra members of Patroni's status, as JSON object text */
};

/* A pod as the API server shows it, with Patroni's member data in its `status` annotation. */
static json_t *make_pod(const struct pod_spec *p)
{
    json_t *member = json_pack("{s:s,s:s,s:I,s:i}", "state", "running", "role", p->primary ? "primary" : "replica", "xlog_location",
                               (json_int_t)p->lsn, "timeline", 1);
    if (!p->primary)
        json_object_set_new(member, "replication_state", json_string("streaming"));
    if (p->extra_member != NULL) {
        json_t *extra = q(p->extra_member);
        json_object_update(member, extra);
        json_decref(extra);
    }
    char *status = json_dumps(member, JSON_COMPACT);
    json_t *pod = json_pack("{s:{s:s,s:{s:s,s:s},s:{s:s,s:s}},s:{s:[{s:s,s:s}]}}", "metadata", "name", p->name, "labels",
                            "controller-revision-hash", p->revision, "pgwarden.io/role", p->primary ? "primary" : "replica",
                            "annotations", "status", status, "pgwarden.io/injected", "h1", "status", "conditions", "type", "Ready",
                            "status", p->ready ? "True" : "False");
    free(status);
    json_decref(member);
    return pod;
}

static json_t *make_pods(const struct pod_spec *specs, size_t n)
{
    json_t *pods = json_array();
    for (size_t i = 0; i < n; ++i)
        json_array_append_new(pods, make_pod(&specs[i]));
    return pods;
}

static void input(struct pgw_rollout_input *in, const json_t *pods, const char *primary, long long instances)
{
    memset(in, 0, sizeof(*in));
    in->pods = pods;
    in->cluster = "c";
    in->update_revision = NEW;
    in->expected_injected = "h1";
    in->primary = primary;
    in->instances = instances;
}

static void assert_step(const struct pgw_rollout_plan *plan, enum pgw_rollout_action action, const char *target,
                        const char *candidate)
{
    ck_assert_msg(plan->action == action, "action %d, want %d (%s)", plan->action, action, plan->message);
    if (target == NULL)
        ck_assert_ptr_null(plan->target);
    else
        ck_assert_str_eq(plan->target, target);
    if (candidate == NULL)
        ck_assert_ptr_null(plan->candidate);
    else
        ck_assert_str_eq(plan->candidate, candidate);
}

START_TEST(up_to_date_is_idle)
{
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 1, 100, NULL}, {"c-2", NEW, 1, 0, 100, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_IDLE, NULL, NULL);
    ck_assert_int_eq(plan.in_progress, 0);
    ck_assert_int_eq(plan.updated, 3);
    ck_assert_str_eq(plan.reason, "UpToDate");
    ck_assert_str_eq(plan.message, "3/3 instances updated");
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(replicas_first_highest_ordinal_first)
{
    struct pod_spec s[] = {{"c-0", OLD, 1, 0, 100, NULL}, {"c-1", OLD, 1, 1, 100, NULL}, {"c-2", OLD, 1, 0, 100, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_EVICT, "c-2", NULL);
    ck_assert_int_eq(plan.in_progress, 1);
    ck_assert_int_eq(plan.updated, 0);
    ck_assert_str_eq(plan.message, "0/3 instances updated; replacing replica c-2 (its pod template changed)");
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(then_switchover_to_most_up_to_date)
{
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 900, NULL}, {"c-1", OLD, 1, 1, 1000, NULL}, {"c-2", NEW, 1, 0, 1000, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-1", "c-2");
    ck_assert_int_eq(plan.updated, 2);
    pgw_rollout_plan_dispose(&plan);
    /* after the switchover the old primary is a stale replica: it goes */
    json_decref(pods);
    struct pod_spec t[] = {{"c-0", NEW, 1, 0, 900, NULL}, {"c-1", OLD, 1, 0, 1000, NULL}, {"c-2", NEW, 1, 1, 1000, NULL}};
    pods = make_pods(t, 3);
    input(&in, pods, "c-2", 3);
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_EVICT, "c-1", NULL);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(supervised_waits_for_the_user)
{
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 1000, NULL}, {"c-1", OLD, 1, 1, 1000, NULL}};
    json_t *pods = make_pods(s, 2);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 2);
    in.supervised = 1;
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_str_eq(plan.reason, "WaitingForSwitchover");
    ck_assert_ptr_nonnull(strstr(plan.message, "kubectl annotate pgc c pgwarden.io/switchover=c-0"));
    pgw_rollout_plan_dispose(&plan);
    /* the user asks: the switchover happens */
    in.switchover_request = "c-0";
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-1", "c-0");
    ck_assert_int_eq(plan.switchover_done, 0);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(never_two_down)
{
    /* c-0 is fresh but not ready: the stale c-2 waits */
    struct pod_spec s[] = {{"c-0", NEW, 0, 0, 100, NULL}, {"c-1", OLD, 1, 1, 100, NULL}, {"c-2", OLD, 1, 0, 100, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_str_eq(plan.message, "1/3 instances updated; waiting for c-0 to be ready");
    pgw_rollout_plan_dispose(&plan);
    /* a missing pod (being re-created) also waits */
    json_array_remove(pods, 0);
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(a_stale_replica_already_down_is_replaced)
{
    /* a bad template left c-2 not ready; the fixed template (a new revision) replaces it */
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 1, 100, NULL}, {"c-2", OLD, 0, 0, -1, NULL}};
    json_t *pods = make_pods(s, 3);
    json_t *ready = json_array_get(json_object_get(json_object_get(json_array_get(pods, 2), "status"), "conditions"), 0);
    json_object_set_new(ready, "lastTransitionTime", json_string("2026-01-01T00:00:00Z"));
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    in.now = 1767225600 + 10; /* not ready for 10 s: maybe a blip, waited for */
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_str_eq(plan.reason, "Waiting");
    pgw_rollout_plan_dispose(&plan);
    /* a fresh replica stuck for 30 s (a bad image): the roll is blocked, and says so */
    json_object_set_new(json_object_get(json_array_get(pods, 2), "metadata"), "labels",
                        json_pack("{s:s}", "controller-revision-hash", NEW));
    in.now = 1767225600 + PGW_ROLLOUT_STUCK_SECONDS;
    json_array_remove(pods, 0);
    json_array_insert_new(pods, 0, make_pod(&(struct pod_spec){"c-0", OLD, 1, 0, 100, NULL}));
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_str_eq(plan.reason, "Blocked");
    ck_assert_str_eq(plan.message, "2/3 instances updated; c-2 has not been ready for over 30 s and the roll waits for it "
                                   "(kubectl describe pod c-2); fixing the spec resumes it");
    pgw_rollout_plan_dispose(&plan);
    /* the spec fixed: c-2 runs an old revision again and is replaced */
    json_object_set_new(json_object_get(json_array_get(pods, 2), "metadata"), "labels",
                        json_pack("{s:s}", "controller-revision-hash", OLD));
    json_array_remove(pods, 0);
    json_array_insert_new(pods, 0, make_pod(&(struct pod_spec){"c-0", NEW, 1, 0, 100, NULL}));
    in.now = 1767225600 + PGW_ROLLOUT_STUCK_SECONDS;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_EVICT, "c-2", NULL);
    ck_assert_str_eq(plan.message, "2/3 instances updated; replacing replica c-2, not ready for 30 s (its pod template changed)");
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(member_data_of_the_old_topology_blocks_a_switchover)
{
    /* c-2 was promoted a moment ago: its member data still says replica */
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 0, 100, NULL}, {"c-2", NEW, 1, 0, 100, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-2", 2);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_str_eq(plan.reason, "Blocked");
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
    /* c-2 reports itself on timeline 2; c-0 and c-1 still on 1: they follow the old primary */
    struct pod_spec t[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 0, 100, NULL}, {"c-2", NEW, 1, 1, 100, "{'timeline':2}"}};
    pods = make_pods(t, 3);
    input(&in, pods, "c-2", 2);
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_msg(strstr(plan.message, "timeline") != NULL, "%s", plan.message);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
    /* once c-1 follows it, c-1 may take over */
    struct pod_spec u[] = {
        {"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 0, 100, "{'timeline':2}"}, {"c-2", NEW, 1, 1, 100, "{'timeline':2}"}};
    pods = make_pods(u, 3);
    input(&in, pods, "c-2", 2);
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-2", "c-1");
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(lagging_or_unsynchronised_replicas_do_not_take_over)
{
    struct pod_spec s[] = {
        {"c-0", NEW, 1, 0, 10000000, NULL}, {"c-1", OLD, 1, 1, 20000000, NULL}, {"c-2", NEW, 1, 0, 19500000, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-1", "c-2"); /* c-0 is 10 MB behind */
    pgw_rollout_plan_dispose(&plan);
    json_t *sync = q("['c-0']");
    in.sync_standbys = sync;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL); /* only c-0 may, and it lags */
    ck_assert_str_eq(plan.reason, "Blocked");
    pgw_rollout_plan_dispose(&plan);
    json_decref(sync);
    json_decref(pods);
}
END_TEST

START_TEST(requested_switchover)
{
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 1, 100, NULL}, {"c-2", NEW, 0, 0, 100, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 3);
    in.switchover_request = "c-0";
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-1", "c-0");
    ck_assert_int_eq(plan.in_progress, 1);
    pgw_rollout_plan_dispose(&plan);
    in.switchover_request = "c-2"; /* not ready */
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_str_eq(plan.message, "the requested switchover to c-2 waits: it is not ready");
    pgw_rollout_plan_dispose(&plan);
    in.switchover_request = "c-1"; /* already the primary: done */
    pgw_rollout_decide(&in, &plan);
    ck_assert_int_eq(plan.switchover_done, 1);
    pgw_rollout_plan_dispose(&plan);
    in.switchover_request = NULL;
    in.failover_pending = 1; /* Patroni has not carried out the last one yet */
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_WAIT, NULL, NULL);
    ck_assert_int_eq(plan.in_progress, 1);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(scale_down_moves_the_primary_first)
{
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 0, 100, NULL}, {"c-2", NEW, 1, 1, 100, NULL}};
    json_t *pods = make_pods(s, 3);
    struct pgw_rollout_input in;
    input(&in, pods, "c-2", 2);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-2", "c-0");
    ck_assert_int_eq(plan.hold_replicas, 3);
    pgw_rollout_plan_dispose(&plan);
    input(&in, pods, "c-2", 1); /* to one: only c-0 stays */
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-2", "c-0");
    pgw_rollout_plan_dispose(&plan);
    input(&in, pods, "c-0", 2); /* the primary stays: nothing held */
    pgw_rollout_decide(&in, &plan);
    ck_assert_int_eq(plan.hold_replicas, 0);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(requested_restart)
{
    struct pod_spec s[] = {{"c-0", NEW, 1, 0, 100, NULL}, {"c-1", NEW, 1, 1, 100, NULL}};
    json_t *pods = make_pods(s, 2);
    struct pgw_rollout_input in;
    input(&in, pods, "c-1", 2);
    in.restart_request = "c-0";
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_EVICT, "c-0", NULL);
    ck_assert_int_eq(plan.restart_done, 1);
    pgw_rollout_plan_dispose(&plan);
    in.restart_request = "c-1"; /* the primary: switched over first */
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_SWITCHOVER, "c-1", "c-0");
    ck_assert_int_eq(plan.restart_done, 0);
    pgw_rollout_plan_dispose(&plan);
    in.restart_request = "c-7";
    pgw_rollout_decide(&in, &plan);
    ck_assert_int_eq(plan.restart_invalid, 1);
    assert_step(&plan, PGW_ROLLOUT_IDLE, NULL, NULL);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(single_instance_is_replaced)
{
    struct pod_spec s[] = {{"c-0", OLD, 1, 1, 100, NULL}};
    json_t *pods = make_pods(s, 1);
    struct pgw_rollout_input in;
    input(&in, pods, "c-0", 1);
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    assert_step(&plan, PGW_ROLLOUT_EVICT, "c-0", NULL);
    pgw_rollout_plan_dispose(&plan);
    json_decref(pods);
}
END_TEST

START_TEST(staleness)
{
    const char *why = NULL;
    struct pod_spec fresh = {"c-0", NEW, 1, 0, 1, NULL};
    json_t *pod = make_pod(&fresh);
    ck_assert_int_eq(pgw_rollout_pod_stale(pod, NEW, "h1", &why), 0);
    ck_assert_int_eq(pgw_rollout_pod_stale(pod, OLD, "h1", &why), 1);
    ck_assert_str_eq(why, "its pod template changed");
    ck_assert_int_eq(pgw_rollout_pod_stale(pod, NEW, "h2", &why), 1);
    ck_assert_str_eq(why, "its sidecars are not the current ones");
    ck_assert_int_eq(pgw_rollout_pod_stale(pod, NULL, NULL, &why), 0);
    json_decref(pod);
    struct pod_spec pending = {"c-0", NEW, 1, 0, 1, "{'pending_restart':true}"};
    pod = make_pod(&pending);
    ck_assert_int_eq(pgw_rollout_pod_stale(pod, NEW, "h1", &why), 1);
    ck_assert_str_eq(why, "a parameter waits for a restart");
    json_decref(pod);
}
END_TEST

START_TEST(pending_restart_list)
{
    struct pod_spec s[] = {
        {"c-0", NEW, 1, 0, 1,
         "{'pending_restart':true,'pending_restart_reason':{'shared_buffers':{'old_value':'128MB','new_value':'64MB'},"
         "'max_connections':{'old_value':'100','new_value':'200'}}}"},
        {"c-1", NEW, 1, 1, 1,
         "{'pending_restart':true,'pending_restart_reason':{'shared_buffers':{'old_value':'128MB','new_value':'64MB'}}}"},
        {"c-2", NEW, 1, 0, 1, NULL}};
    json_t *pods = make_pods(s, 3);
    json_t *got = pgw_rollout_pending_restart(pods);
    json_t *want = q("[{'parameter':'max_connections','oldValue':'100','newValue':'200','instances':['c-0']},"
                     "{'parameter':'shared_buffers','oldValue':'128MB','newValue':'64MB','instances':['c-0','c-1']}]");
    ck_assert_msg(json_equal(got, want), "got %s", json_dumps(got, JSON_COMPACT));
    json_decref(got);
    json_decref(want);
    json_decref(pods);
}
END_TEST

START_TEST(ordinals)
{
    ck_assert_int_eq(pgw_instance_ordinal("c", "c-0"), 0);
    ck_assert_int_eq(pgw_instance_ordinal("c", "c-12"), 12);
    ck_assert_int_eq(pgw_instance_ordinal("c", "c-"), -1);
    ck_assert_int_eq(pgw_instance_ordinal("c", "c-01"), -1);
    ck_assert_int_eq(pgw_instance_ordinal("c", "cc-1"), -1);
    ck_assert_int_eq(pgw_instance_ordinal("c", "c-1x"), -1);
    ck_assert_int_eq(pgw_instance_ordinal("c", "c-1000"), -1);
    ck_assert_int_eq(pgw_instance_ordinal("c", NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rollout");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, up_to_date_is_idle);
    tcase_add_test(tc, replicas_first_highest_ordinal_first);
    tcase_add_test(tc, then_switchover_to_most_up_to_date);
    tcase_add_test(tc, supervised_waits_for_the_user);
    tcase_add_test(tc, never_two_down);
    tcase_add_test(tc, a_stale_replica_already_down_is_replaced);
    tcase_add_test(tc, lagging_or_unsynchronised_replicas_do_not_take_over);
    tcase_add_test(tc, member_data_of_the_old_topology_blocks_a_switchover);
    tcase_add_test(tc, requested_switchover);
    tcase_add_test(tc, scale_down_moves_the_primary_first);
    tcase_add_test(tc, requested_restart);
    tcase_add_test(tc, single_instance_is_replaced);
    tcase_add_test(tc, staleness);
    tcase_add_test(tc, pending_restart_list);
    tcase_add_test(tc, ordinals);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
