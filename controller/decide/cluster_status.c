/*
 * The status of a PostgresCluster (phases and conditions in cluster_status.h).
 *
 * Why pure, and why careful with lastTransitionTime: recomputing the status of
 * an unchanged cluster must yield an equal object, so the reconciler writes
 * nothing in steady state. No I/O and no clock: callers pass `now`.
 */
#include <stdio.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "specs/pod_layout.h"

static const json_t *metadata(const json_t *obj)
{
    return json_object_get(obj, "metadata");
}

int pgw_pod_is_ready(const json_t *pod)
{
    if (json_object_get(metadata(pod), "deletionTimestamp") != NULL)
        return 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *status = json_string_value(json_object_get(c, "status"));
        if (type != NULL && strcmp(type, "Ready") == 0)
            return status != NULL && strcmp(status, "True") == 0;
    }
    return 0;
}

int pgw_pod_is_primary(const json_t *pod)
{
    const char *role = json_string_value(json_object_get(json_object_get(metadata(pod), "labels"), PGW_POD_LABEL_ROLE));
    return role != NULL && strcmp(role, PGW_ROLE_PRIMARY) == 0;
}

static const json_t *find_in(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

const json_t *pgw_cluster_status_condition(const json_t *status, const char *type)
{
    return find_in(json_object_get(status, "conditions"), type);
}

/* Appends a condition, keeping the previous lastTransitionTime when the status did not change. */
static void add_condition(json_t *conds, const json_t *old_status, const char *type, const char *status, const char *reason,
                          const char *message, json_int_t generation, const char *now)
{
    const json_t *old = pgw_cluster_status_condition(old_status, type);
    const char *old_s = json_string_value(json_object_get(old, "status"));
    const char *old_t = json_string_value(json_object_get(old, "lastTransitionTime"));
    const char *when = old_s != NULL && old_t != NULL && strcmp(old_s, status) == 0 ? old_t : now;
    json_array_append_new(conds, pgw_json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "type", type, "status", status, "reason", reason,
                                               "message", message != NULL ? message : "", "lastTransitionTime", when,
                                               "observedGeneration", generation));
}

void pgw_cluster_status_set_condition(json_t *status, const json_t *old_status, const char *type, const char *cond_status,
                                      const char *reason, const char *message, long long generation, const char *now)
{
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    for (size_t i = json_array_size(conds); i-- > 0;) {
        const char *t = json_string_value(json_object_get(json_array_get(conds, i), "type"));
        if (t != NULL && strcmp(t, type) == 0)
            json_array_remove(conds, i);
    }
    add_condition(conds, old_status, type, cond_status, reason, message, (json_int_t)generation, now);
}

json_t *pgw_cluster_status_compute(const struct pgw_status_input *in)
{
    const json_t *meta = metadata(in->cluster);
    const json_t *old = json_object_get(in->cluster, "status");
    json_int_t generation = json_integer_value(json_object_get(meta, "generation"));
    const char *old_phase = json_string_value(json_object_get(old, "phase"));
    int deleting = json_object_get(meta, "deletionTimestamp") != NULL;

    long long pods = 0, ready = 0, injected = 0;
    const char *primary = NULL;
    char not_injected[256] = "";
    size_t i;
    json_t *pod;
    json_array_foreach(in->pods, i, pod)
    {
        const json_t *pm = metadata(pod);
        if (json_object_get(pm, "deletionTimestamp") != NULL)
            continue;
        const char *pname = json_string_value(json_object_get(pm, "name"));
        pods++;
        if (pgw_pod_is_ready(pod))
            ready++;
        if (pgw_pod_is_primary(pod) && primary == NULL)
            primary = pname;
        const char *stamp = json_string_value(json_object_get(json_object_get(pm, "annotations"), PGW_POD_ANNOTATION_INJECTED));
        if (in->expected_injected == NULL || (stamp != NULL && strcmp(stamp, in->expected_injected) == 0))
            injected++;
        else if (pname != NULL && strlen(not_injected) + strlen(pname) + 3 < sizeof(not_injected))
            snprintf(not_injected + strlen(not_injected), sizeof(not_injected) - strlen(not_injected), "%s%s",
                     not_injected[0] != '\0' ? ", " : "", pname);
    }
    if (in->pods == NULL && in->statefulset != NULL) {
        const json_t *sts = json_object_get(in->statefulset, "status");
        pods = json_integer_value(json_object_get(sts, "replicas"));
        ready = json_integer_value(json_object_get(sts, "readyReplicas"));
    }

    const char *phase;
    int running = ready >= in->desired_instances && pods == in->desired_instances && primary != NULL;
    if (deleting)
        phase = "Deleting";
    else if (!in->valid)
        phase = "Failed";
    else if (running)
        phase = "Running";
    else if (old_phase != NULL && (strcmp(old_phase, "Running") == 0 || strcmp(old_phase, "Degraded") == 0 ||
                                   strcmp(old_phase, "Upgrading") == 0)) /* reconcile_rollout.c may say Upgrading again */
        phase = "Degraded";
    else if (pods == 0)
        phase = "Pending";
    else
        phase = "Creating";

    json_t *conds = json_array();
    char msg[512];
    if (in->valid)
        add_condition(conds, old, "Valid", "True", "Valid", "the spec passed defaulting and validation", generation, in->now);
    else
        add_condition(conds, old, "Valid", "False", "Invalid", in->invalid_message, generation, in->now);

    if (running && !deleting && in->valid) {
        snprintf(msg, sizeof(msg), "%lld/%lld instances ready; primary %s", ready, in->desired_instances, primary);
        add_condition(conds, old, "Ready", "True", "AllInstancesReady", msg, generation, in->now);
    } else {
        snprintf(msg, sizeof(msg), "%lld/%lld instances ready%s", ready, in->desired_instances,
                 primary == NULL ? "; no primary" : "");
        add_condition(conds, old, "Ready", "False", deleting ? "Deleting" : "InstancesNotReady", msg, generation, in->now);
    }

    if (in->apply_error != NULL) {
        add_condition(conds, old, "Progressing", "False", "ApplyFailed", in->apply_error, generation, in->now);
    } else if (!in->valid || deleting) {
        add_condition(conds, old, "Progressing", "False", deleting ? "Deleting" : "Invalid",
                      deleting ? "the cluster is being deleted" : "no action is taken on an invalid spec", generation, in->now);
    } else if (in->children_written > 0 || pods != in->desired_instances || ready != in->desired_instances) {
        snprintf(msg, sizeof(msg), "%lld/%lld instances present, %lld ready", pods, in->desired_instances, ready);
        add_condition(conds, old, "Progressing", "True", in->children_written > 0 ? "Applying" : "InstancesChanging", msg,
                      generation, in->now);
    } else {
        add_condition(conds, old, "Progressing", "False", "Converged", "every child matches the spec", generation, in->now);
    }

    if (pods == 0)
        add_condition(conds, old, "SidecarsInjected", "Unknown", "NoPods", "no pod exists yet", generation, in->now);
    else if (injected == pods)
        add_condition(conds, old, "SidecarsInjected", "True", "Injected", "every pod carries the expected sidecars", generation,
                      in->now);
    else {
        snprintf(msg, sizeof(msg), "pods without the expected sidecars: %s", not_injected);
        add_condition(conds, old, "SidecarsInjected", "False", "NotInjected", msg, generation, in->now);
    }

    /* Conditions of other writers (BackupReady) are carried over. */
    json_t *c;
    json_array_foreach(json_object_get(old, "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && find_in(conds, t) == NULL)
            json_array_append(conds, c);
    }
    json_t *status = pgw_json_pack("{s:s,s:o,s:I,s:I,s:I}", "phase", phase, "conditions", conds, "instances", (json_int_t)pods,
                                   "readyInstances", (json_int_t)ready, "observedGeneration", generation);
    if (primary != NULL)
        json_object_set_new(status, "primary", json_string(primary));
    /* Owned by other writers (backups): carried over untouched. */
    json_t *last_backup = json_object_get(old, "lastBackup");
    if (last_backup != NULL)
        json_object_set(status, "lastBackup", last_backup);
    return status;
}

json_t *pgw_cluster_status_patch(const json_t *old_status, const json_t *new_status)
{
    if (old_status != NULL && json_equal((json_t *)old_status, (json_t *)new_status))
        return NULL;
    json_t *s = json_deep_copy(new_status);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)old_status, key, v)
    {
        if (json_object_get(s, key) == NULL)
            json_object_set_new(s, key, json_null());
    }
    return pgw_json_pack("{s:o}", "status", s);
}
