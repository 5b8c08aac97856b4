/*
 * Unit tests for controller/decide/cluster_status: phase and conditions from the
 * inputs a reconcile sees (case table), lastTransitionTime kept while a
 * condition's status stays, and the merge patch that writes only changes.
 */
#include "helpers.h"

#include "controller/decide/cluster_status.h"

#define POD_READY(n, role, inj)                                                                                                    \
    "{'metadata':{'name':'" n "','labels':{'pgwarden.io/role':'" role "'},'annotations':{'pgwarden.io/injected':'" inj "'}},"      \
    "'status':{'conditions':[{'type':'Ready','status':'True'}]}}"
#define POD_NOT_READY(n)                                                                                                           \
    "{'metadata':{'name':'" n                                                                                                      \
    "','annotations':{'pgwarden.io/injected':'H'}},'status':{'conditions':[{'type':'Ready','status':'False'}]}}"

static const struct {
    const char *name;
    const char *cluster;
    int valid;
    const char *pods; /* JSON array */
    long long instances;
    int written;
    const char *apply_error;
    /* expectations */
    const char *phase, *ready, *progressing, *injected, *primary;
    long long ready_count;
} cases[] = {
    {"no pods yet", "{'metadata':{'generation':1}}", 1, "[]", 1, 12, NULL, "Pending", "False", "True", "Unknown", NULL, 0},
    {"pod not ready", "{'metadata':{'generation':1}}", 1, "[" POD_NOT_READY("c-0") "]", 1, 0, NULL, "Creating", "False", "True",
     "True", NULL, 0},
    {"ready without primary", "{'metadata':{'generation':1}}", 1, "[" POD_READY("c-0", "", "H") "]", 1, 0, NULL, "Creating",
     "False", "False", "True", NULL, 1},
    {"running", "{'metadata':{'generation':2}}", 1, "[" POD_READY("c-0", "primary", "H") "]", 1, 0, NULL, "Running", "True",
     "False", "True", "c-0", 1},
    {"scaled up, replicas coming", "{'metadata':{'generation':3},'status':{'phase':'Running'}}", 1,
     "[" POD_READY("c-0", "primary", "H") "]", 3, 1, NULL, "Degraded", "False", "True", "True", "c-0", 1},
    {"an instance replaced during a roll", "{'metadata':{'generation':3},'status':{'phase':'Upgrading'}}", 1,
     "[" POD_READY("c-0", "primary", "H") "," POD_NOT_READY("c-1") "]", 2, 1, NULL, "Degraded", "False", "True", "True", "c-0", 1},
    {"three running", "{'metadata':{'generation':3},'status':{'phase':'Degraded'}}", 1,
     "[" POD_READY("c-0", "primary", "H") "," POD_READY("c-1", "replica", "H") "," POD_READY("c-2", "replica", "H") "]", 3, 0, NULL,
     "Running", "True", "False", "True", "c-0", 3},
    {"sidecars missing", "{'metadata':{'generation':1}}", 1, "[" POD_READY("c-0", "primary", "old") "]", 1, 0, NULL, "Running",
     "True", "False", "False", "c-0", 1},
    {"invalid", "{'metadata':{'generation':4}}", 0, "[]", 1, 0, NULL, "Failed", "False", "False", "Unknown", NULL, 0},
    {"deleting", "{'metadata':{'generation':5,'deletionTimestamp':'2025-01-01T00:00:00Z'}}", 1,
     "[" POD_READY("c-0", "primary", "H") "]", 1, 0, NULL, "Deleting", "False", "False", "True", "c-0", 1},
    {"apply failed", "{'metadata':{'generation':1}}", 1, "[]", 1, 0, "apply StatefulSet c: boom", "Pending", "False", "False",
     "Unknown", NULL, 0},
};

static const char *cond_status(const json_t *status, const char *type)
{
    return json_string_value(json_object_get(pgw_cluster_status_condition(status, type), "status"));
}

START_TEST(compute_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        json_t *cluster = q(cases[i].cluster), *pods = q(cases[i].pods);
        struct pgw_status_input in = {.cluster = cluster,
                                      .valid = cases[i].valid,
                                      .invalid_message = "spec.instances: Invalid value: 40: must be between 1 and 16",
                                      .pods = pods,
                                      .expected_injected = "H",
                                      .desired_instances = cases[i].instances,
                                      .children_written = cases[i].written,
                                      .apply_error = cases[i].apply_error,
                                      .now = "2025-06-01T00:00:00Z"};
        json_t *st = pgw_cluster_status_compute(&in);
        const char *n = cases[i].name;
        ck_assert_msg(strcmp(json_string_value(json_object_get(st, "phase")), cases[i].phase) == 0, "%s: phase %s", n,
                      json_string_value(json_object_get(st, "phase")));
        ck_assert_msg(strcmp(cond_status(st, "Valid"), cases[i].valid ? "True" : "False") == 0, "%s: Valid", n);
        ck_assert_msg(strcmp(cond_status(st, "Ready"), cases[i].ready) == 0, "%s: Ready", n);
        ck_assert_msg(strcmp(cond_status(st, "Progressing"), cases[i].progressing) == 0, "%s: Progressing %s", n,
                      cond_status(st, "Progressing"));
        ck_assert_msg(strcmp(cond_status(st, "SidecarsInjected"), cases[i].injected) == 0, "%s: SidecarsInjected", n);
        const char *primary = json_string_value(json_object_get(st, "primary"));
        ck_assert_msg(cases[i].primary == NULL ? primary == NULL : primary != NULL && strcmp(primary, cases[i].primary) == 0,
                      "%s: primary", n);
        ck_assert_msg(json_integer_value(json_object_get(st, "readyInstances")) == cases[i].ready_count, "%s: ready", n);
        json_int_t gen = json_integer_value(json_object_get(json_object_get(cluster, "metadata"), "generation"));
        ck_assert_int_eq(json_integer_value(json_object_get(st, "observedGeneration")), gen);
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(st, "conditions"), k, c)
        {
            ck_assert_msg(json_integer_value(json_object_get(c, "observedGeneration")) == gen, "%s: observedGeneration", n);
        }
        if (!cases[i].valid)
            ck_assert_str_eq(json_string_value(json_object_get(pgw_cluster_status_condition(st, "Valid"), "message")),
                             in.invalid_message);
        if (cases[i].apply_error != NULL)
            ck_assert_str_eq(json_string_value(json_object_get(pgw_cluster_status_condition(st, "Progressing"), "reason")),
                             "ApplyFailed");
        json_decref(st);
        json_decref(cluster);
        json_decref(pods);
    }
}
END_TEST

/* Recomputing with the previous status as input yields an equal status: nothing to write. */
START_TEST(recompute_is_stable)
{
    json_t *cluster = q("{'metadata':{'generation':2}}"), *pods = q("[" POD_READY("c-0", "primary", "H") "]");
    struct pgw_status_input in = {.cluster = cluster,
                                  .valid = 1,
                                  .pods = pods,
                                  .expected_injected = "H",
                                  .desired_instances = 1,
                                  .now = "2025-06-01T00:00:00Z"};
    json_t *first = pgw_cluster_status_compute(&in);
    json_object_set(cluster, "status", first);
    in.now = "2025-06-02T00:00:00Z";
    json_t *second = pgw_cluster_status_compute(&in);
    ck_assert(json_equal(first, second));
    json_t *patch = pgw_cluster_status_patch(first, second);
    ck_assert_ptr_null(patch);
    /* A pod turns unready: Ready flips with the new time; Valid keeps its old time. */
    json_decref(pods);
    pods = q("[" POD_NOT_READY("c-0") "]");
    in.pods = pods;
    json_t *third = pgw_cluster_status_compute(&in);
    const json_t *ready = pgw_cluster_status_condition(third, "Ready"), *valid = pgw_cluster_status_condition(third, "Valid");
    ck_assert_str_eq(json_string_value(json_object_get(ready, "lastTransitionTime")), "2025-06-02T00:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(valid, "lastTransitionTime")), "2025-06-01T00:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(third, "phase")), "Degraded");
    patch = pgw_cluster_status_patch(first, third);
    ck_assert_ptr_nonnull(patch);
    /* primary vanished: the merge patch deletes it */
    ck_assert(json_is_null(json_object_get(json_object_get(patch, "status"), "primary")));
    json_decref(patch);
    json_decref(first);
    json_decref(second);
    json_decref(third);
    json_decref(cluster);
    json_decref(pods);
}
END_TEST

/* Conditions owned by other writers (BackupReady) and lastBackup survive. */
START_TEST(foreign_conditions_kept)
{
    json_t *cluster =
        q("{'metadata':{'generation':1},'status':{'lastBackup':'b1','conditions':[{'type':'BackupReady','status':'True'}]}}");
    json_t *pods = q("[]");
    struct pgw_status_input in = {.cluster = cluster, .valid = 1, .pods = pods, .desired_instances = 1, .now = "t"};
    json_t *st = pgw_cluster_status_compute(&in);
    ck_assert_str_eq(cond_status(st, "BackupReady"), "True");
    ck_assert_str_eq(json_string_value(json_object_get(st, "lastBackup")), "b1");
    json_decref(st);
    json_decref(cluster);
    json_decref(pods);
}
END_TEST

/* BackupReady written by the backup side: replaced in place, its lastTransitionTime kept while its status holds. */
static const struct {
    const char *old_status; /* the stored status */
    const char *set_status, *reason;
    const char *want_time;
} set_cases[] = {
    {"{}", "False", "NoRepository", "NOW"},
    {"{'conditions':[{'type':'BackupReady','status':'False','lastTransitionTime':'T0'}]}", "False", "StanzaCreating", "T0"},
    {"{'conditions':[{'type':'BackupReady','status':'False','lastTransitionTime':'T0'}]}", "True", "StanzaCreated", "NOW"},
};

START_TEST(set_condition_table)
{
    json_t *old = q(set_cases[_i].old_status);
    json_t *status = json_deep_copy(old);
    pgw_cluster_status_set_condition(status, old, "BackupReady", set_cases[_i].set_status, set_cases[_i].reason, "m", 3, "NOW");
    ck_assert_uint_eq(json_array_size(json_object_get(status, "conditions")), 1);
    const json_t *c = pgw_cluster_status_condition(status, "BackupReady");
    ck_assert_str_eq(json_string_value(json_object_get(c, "status")), set_cases[_i].set_status);
    ck_assert_str_eq(json_string_value(json_object_get(c, "reason")), set_cases[_i].reason);
    ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), set_cases[_i].want_time);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 3);
    json_decref(status);
    json_decref(old);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, compute_table);
    tcase_add_test(tc, recompute_is_stable);
    tcase_add_test(tc, foreign_conditions_kept);
    tcase_add_loop_test(tc, set_condition_table, 0, (int)(sizeof(set_cases) / sizeof(set_cases[0])));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
