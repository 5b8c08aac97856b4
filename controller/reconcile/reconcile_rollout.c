/*
 * One step of a rolling update, switchover, restart or scale-down (see
 * reconcile_rollout.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/object.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/primary.h"
#include "controller/decide/rollout.h"
#include "controller/reconcile/reconcile_rollout.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"

#define SUFFIX_FAILOVER "-failover"
#define SUFFIX_SYNC "-sync"
/* How soon to look again while a step settles (pods also wake the reconcile through their watch). */
#define ROLLOUT_REQUEUE_SECONDS 2.0
#define CONDITION_UPGRADING "Upgrading"
/* Apply-cache entries: the uid of the pod last evicted under each name. */
#define EVICTED_KIND "Evicted"

static const char *annotation(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(pgw_obj_meta(obj), "annotations"), key));
}

long long pgw_reconcile_rollout_hold(const json_t *cluster, const json_t *defaulted, const json_t *pods)
{
    const char *name = pgw_obj_meta_str(cluster, "name");
    long long instances = json_integer_value(json_object_get(json_object_get(defaulted, "spec"), "instances"));
    const char *previous = json_string_value(json_object_get(json_object_get(cluster, "status"), "primary"));
    const char *primary = pgw_primary_pick(NULL, pods, previous);
    long long ordinal = pgw_instance_ordinal(name, primary);
    /* Only while the primary's pod still exists: a primary already gone needs no switchover. */
    int exists = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod) exists |= primary != NULL && strcmp(pgw_obj_meta_str(pod, "name"), primary) == 0;
    return exists && instances > 0 && ordinal >= instances ? ordinal + 1 : 0;
}

/* Patroni's `<cluster><suffix>` Endpoints annotations, new reference (an empty object when absent), or NULL on error. */
static json_t *patroni_key(struct pgw_reconciler *r, const char *ns, const char *cluster, const char *suffix)
{
    char *name = pgw_asprintf("%s%s", cluster, suffix);
    struct pgw_kresult res = {0};
    int o = pgw_kclient_get(r->client, pgw_resource_find("Endpoints"), ns, name, &res);
    json_t *out = NULL;
    if (o == PGW_K_OK) {
        out = json_deep_copy(json_object_get(pgw_obj_meta(res.body), "annotations"));
        if (out == NULL)
            out = json_object();
    } else if (o == PGW_K_NOT_FOUND) {
        out = json_object();
    }
    pgw_kresult_dispose(&res);
    free(name);
    return out;
}

/* The synchronous standbys Patroni names in `<cluster>-sync` ("a,b"), or NULL when it names none. */
static json_t *sync_standbys(const json_t *sync)
{
    const char *list = json_string_value(json_object_get(sync, "sync_standby"));
    if (list == NULL || *list == '\0')
        return NULL;
    json_t *out = json_array();
    char *copy = pgw_strdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
        json_array_append_new(out, json_string(tok));
    free(copy);
    return out;
}

static int evict(struct pgw_reconciler *r, const char *ns, const char *pod, char **why)
{
    char *path = pgw_kclient_path(pgw_resource_find("Pod"), ns, pod, "eviction");
    json_t *body = pgw_json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "policy/v1", "kind", "Eviction", "metadata", "name", pod,
                                 "namespace", ns);
    struct pgw_kresult res = {0};
    int o = pgw_kclient_request(r->client, "POST", path, "application/json", body, &res);
    int rc = 0;
    if (o != PGW_K_OK) {
        rc = -1;
        if (res.http_status == 429)
            *why = pgw_asprintf("the PodDisruptionBudget allows no disruption of %s now", pod);
        else
            *why = pgw_asprintf("evicting %s: %s", pod, res.message != NULL ? res.message : "failed");
    }
    pgw_kresult_dispose(&res);
    json_decref(body);
    free(path);
    return rc;
}

/* Writes Patroni's failover key: the primary `leader` hands over to `member`. */
static int request_switchover(struct pgw_reconciler *r, const json_t *cluster, const char *leader, const char *member, char **why)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    char *epname = pgw_asprintf("%s%s", name, SUFFIX_FAILOVER);
    const struct pgw_resource *ep = pgw_resource_find("Endpoints");
    json_t *patch = pgw_json_pack("{s:{s:{s:s,s:s}}}", "metadata", "annotations", "leader", leader, "member", member);
    struct pgw_kresult res = {0};
    int o = pgw_kclient_patch(r->client, ep, ns, epname, NULL, PGW_PATCH_MERGE, patch, &res);
    if (o == PGW_K_NOT_FOUND) {
        /* Patroni watches its objects by the cluster's labels: the key must carry them to be seen. */
        pgw_kresult_dispose(&res);
        json_t *obj = pgw_json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s},s:{s:s,s:s}}}", "apiVersion", "v1", "kind", "Endpoints",
                                    "metadata", "name", epname, "labels", "app.kubernetes.io/instance", name, PGW_POD_LABEL_CLUSTER,
                                    name, "annotations", "leader", leader, "member", member);
        o = pgw_kclient_create(r->client, ep, ns, obj, &res);
        json_decref(obj);
    }
    int rc = o == PGW_K_OK ? 0 : -1;
    if (rc != 0)
        *why = pgw_asprintf("writing Patroni's failover key: %s", res.message != NULL ? res.message : "failed");
    pgw_kresult_dispose(&res);
    json_decref(patch);
    free(epname);
    return rc;
}

/* Removes a carried-out request annotation from the cluster. */
static void clear_request(struct pgw_reconciler *r, const json_t *cluster, const char *key, int *writes)
{
    json_t *patch = pgw_json_pack("{s:{s:{s:n}}}", "metadata", "annotations", key);
    struct pgw_kresult res = {0};
    (*writes)++;
    pgw_kclient_patch(r->client, pgw_resource_find("PostgresCluster"), pgw_obj_meta_str(cluster, "namespace"),
                      pgw_obj_meta_str(cluster, "name"), NULL, PGW_PATCH_MERGE, patch, &res);
    pgw_kresult_dispose(&res);
    json_decref(patch);
}

/* A restart of every instance: the request becomes PGW_ANNOTATION_RESTARTED_AT, which the pod template
 * carries (specs/render_statefulset.c), so every pod is stale and the rolling update takes over. */
static void restart_all(struct pgw_reconciler *r, const json_t *cluster, const char *now, int *writes)
{
    json_t *patch =
        pgw_json_pack("{s:{s:{s:n,s:s}}}", "metadata", "annotations", PGW_ANNOTATION_RESTART, PGW_ANNOTATION_RESTARTED_AT, now);
    struct pgw_kresult res = {0};
    (*writes)++;
    if (pgw_kclient_patch(r->client, pgw_resource_find("PostgresCluster"), pgw_obj_meta_str(cluster, "namespace"),
                          pgw_obj_meta_str(cluster, "name"), NULL, PGW_PATCH_MERGE, patch, &res) == PGW_K_OK)
        pgw_reconcile_event(r, cluster, "Normal", "RestartRequested", "a rolling restart of every instance was requested", writes);
    pgw_kresult_dispose(&res);
    json_decref(patch);
}

/* The uid of the pod named `name` among `pods`, or NULL. */
static const char *pod_uid(const json_t *pods, const char *name)
{
    return pgw_obj_meta_str(pgw_obj_find_by_meta_name(pods, name), "uid");
}

/*
 * 1 when this controller already evicted this very pod (same uid): the pod store has not seen the
 * deletion yet. Evicting again would raise a second Event, and once the StatefulSet has made the
 * new pod under the same name, a stale store could get that one evicted (found on the test bed:
 * two evictions of one replica a second apart).
 */
static int already_evicted(struct pgw_reconciler *r, const json_t *cluster, const json_t *pods, const char *pod, int remember)
{
    const char *owner = pgw_obj_meta_str(cluster, "uid"), *ns = pgw_obj_meta_str(cluster, "namespace");
    const char *uid = pod_uid(pods, pod);
    if (r->cache == NULL || owner == NULL || uid == NULL)
        return 0;
    if (remember) {
        pgw_apply_cache_remember(r->cache, owner, EVICTED_KIND, ns, pod, uid);
        return 1;
    }
    char *seen = pgw_apply_cache_lookup(r->cache, owner, EVICTED_KIND, ns, pod);
    int same = seen != NULL && strcmp(seen, uid) == 0;
    free(seen);
    return same;
}

/* Carries out the plan's step; on failure the plan's message becomes why, and its reason Blocked. */
static void carry_out(struct pgw_reconciler *r, const json_t *cluster, const json_t *pods, struct pgw_rollout_plan *plan,
                      int *writes)
{
    char *why = NULL;
    const char *ns = pgw_obj_meta_str(cluster, "namespace");
    if (plan->action == PGW_ROLLOUT_EVICT && already_evicted(r, cluster, pods, plan->target, 0)) {
        free(plan->message);
        plan->message =
            pgw_asprintf("%lld/%lld instances updated; waiting for %s to be replaced", plan->updated, plan->total, plan->target);
        plan->reason = "Waiting";
        plan->action = PGW_ROLLOUT_WAIT;
    } else if (plan->action == PGW_ROLLOUT_EVICT) {
        (*writes)++;
        if (evict(r, ns, plan->target, &why) == 0) {
            already_evicted(r, cluster, pods, plan->target, 1);
            pgw_reconcile_event(r, cluster, "Normal", plan->reason, plan->message, writes);
            if (plan->restart_done)
                clear_request(r, cluster, PGW_ANNOTATION_RESTART, writes);
        }
    } else if (plan->action == PGW_ROLLOUT_SWITCHOVER) {
        (*writes)++;
        if (request_switchover(r, cluster, plan->target, plan->candidate, &why) == 0) {
            const char *owner = pgw_obj_meta_str(cluster, "uid");
            if (r->cache != NULL && owner != NULL)
                pgw_apply_cache_remember(r->cache, owner, PGW_CACHE_SWITCHOVER_TO, ns, pgw_obj_meta_str(cluster, "name"),
                                         plan->candidate);
            pgw_reconcile_event(r, cluster, "Normal", "Switchover", plan->message, writes);
        }
    }
    if (why != NULL) {
        free(plan->message);
        plan->message = why;
        plan->reason = "Blocked";
    }
}

/* The rollout's part of the status. */
static void amend_status(const json_t *cluster, const struct pgw_rollout_plan *plan, const json_t *pods, json_t *status,
                         const char *now)
{
    const json_t *old = json_object_get(cluster, "status");
    long long generation = json_integer_value(json_object_get(pgw_obj_meta(cluster), "generation"));
    json_object_set_new(status, "updatedInstances", json_integer(plan->updated));
    json_t *pending = pgw_rollout_pending_restart(pods);
    if (json_array_size(pending) > 0)
        json_object_set(status, "pendingRestart", pending);
    json_decref(pending);
    pgw_cluster_status_set_condition(status, old, CONDITION_UPGRADING, plan->in_progress ? "True" : "False", plan->reason,
                                     plan->message, generation, now);
    if (!plan->in_progress)
        return;
    pgw_cluster_status_set_condition(status, old, "Progressing", "True", "RollingUpdate", plan->message, generation, now);
    const char *phase = json_string_value(json_object_get(status, "phase"));
    if (phase != NULL && (strcmp(phase, "Running") == 0 || strcmp(phase, "Degraded") == 0))
        json_object_set_new(status, "phase", json_string("Upgrading"));
}

/* A Warning when the roll becomes blocked (once per new message, not on every look). */
static void blocked_event(struct pgw_reconciler *r, const json_t *cluster, const struct pgw_rollout_plan *plan, int *writes)
{
    if (plan->reason == NULL || strcmp(plan->reason, "Blocked") != 0)
        return;
    const json_t *was = pgw_cluster_status_condition(json_object_get(cluster, "status"), CONDITION_UPGRADING);
    const char *old = json_string_value(json_object_get(was, "message"));
    if (old == NULL || strcmp(old, plan->message) != 0)
        pgw_reconcile_event(r, cluster, "Warning", "RolloutBlocked", plan->message, writes);
}

double pgw_reconcile_rollout(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, const json_t *pods,
                             const json_t *statefulset, const char *expected_injected, json_t *status, const char *now, int *writes)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const json_t *spec = json_object_get(defaulted, "spec");
    const char *mode = json_string_value(json_object_get(json_object_get(spec, "rollout"), "mode"));
    struct pgw_rollout_input in = {
        .pods = pods,
        .cluster = name,
        .update_revision = json_string_value(json_object_get(json_object_get(statefulset, "status"), "updateRevision")),
        .expected_injected = expected_injected,
        .primary = json_string_value(json_object_get(status, "primary")),
        .instances = json_integer_value(json_object_get(spec, "instances")),
        .supervised = mode != NULL && strcmp(mode, PGW_ROLLOUT_SUPERVISED) == 0,
        .switchover_request = annotation(cluster, PGW_ANNOTATION_SWITCHOVER),
    };
    time_t t;
    const char *why;
    in.now = pgw_rfc3339_parse(now, &t, &why) == 0 ? (long long)t : 0;
    const char *restart = annotation(cluster, PGW_ANNOTATION_RESTART);
    if (restart != NULL && strcmp(restart, PGW_RESTART_ALL) == 0) {
        restart_all(r, cluster, now, writes);
        restart = NULL;
    }
    in.restart_request = restart;
    struct pgw_rollout_plan plan;
    pgw_rollout_decide(&in, &plan);
    json_t *sync = NULL, *standbys = NULL;
    if (plan.in_progress) {
        /* Patroni's keys are read only while something is under way: a steady cluster costs no extra request. */
        json_t *failover = patroni_key(r, ns, name, SUFFIX_FAILOVER);
        sync = patroni_key(r, ns, name, SUFFIX_SYNC);
        const char *leader = json_string_value(json_object_get(failover, "leader"));
        const char *member = json_string_value(json_object_get(failover, "member"));
        in.failover_pending = failover == NULL || (leader != NULL && *leader != '\0') || (member != NULL && *member != '\0');
        in.sync_standbys = standbys = sync_standbys(sync);
        json_decref(failover);
        pgw_rollout_plan_dispose(&plan);
        pgw_rollout_decide(&in, &plan);
    }
    if (plan.switchover_done) {
        char *msg = pgw_asprintf("%s is the primary, as requested", in.switchover_request);
        clear_request(r, cluster, PGW_ANNOTATION_SWITCHOVER, writes);
        pgw_reconcile_event(r, cluster, "Normal", "SwitchoverDone", msg, writes);
        free(msg);
    }
    if (plan.restart_invalid) {
        char *msg = pgw_asprintf("restart of %s ignored: no such instance", in.restart_request);
        clear_request(r, cluster, PGW_ANNOTATION_RESTART, writes);
        pgw_reconcile_event(r, cluster, "Warning", "RestartIgnored", msg, writes);
        free(msg);
    }
    carry_out(r, cluster, pods, &plan, writes);
    blocked_event(r, cluster, &plan, writes);
    amend_status(cluster, &plan, pods, status, now);
    double again = plan.in_progress ? ROLLOUT_REQUEUE_SECONDS : 0;
    pgw_rollout_plan_dispose(&plan);
    json_decref(standbys);
    json_decref(sync);
    return again;
}
