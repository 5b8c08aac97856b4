/*
 * An in-place major upgrade, the I/O (see reconcile_upgrade.h; decisions in
 * controller/decide/upgrade.h).
 *
 * What carries the upgrade across reconciles and operator restarts is the
 * cluster's own status: the MajorUpgrade condition (the step),
 * status.runningPostgresVersion (the data's major) and status.primary, kept
 * while the pods are gone (the instance whose data is upgraded). The Jobs are
 * found by name; one made for another target major is deleted, not reused.
 *
 * After pg_upgrade the data has a new system identifier. Patroni refuses to
 * start on data whose identifier differs from the `initialize` annotation of
 * `<cluster>-config` (it exits: "system ID mismatch"), so that annotation is
 * set to the new one (the pg_upgrade Job reports it) rather than removed:
 * without it, a replica with an empty data directory could win the race to
 * initialize and run initdb. The leader's last position (`optime`, `status`
 * of `<cluster>`) belongs to the old data and would make the upgraded
 * primary look lagging, so it goes, with the stale leader and the old
 * timeline history. The replicas' data claims are deleted: they re-clone
 * from the upgraded primary when the StatefulSet starts them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/object.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/upgrade.h"
#include "controller/reconcile/reconcile_upgrade.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_upgrade.h"

#define UPGRADE_REQUEUE_SECONDS 5.0
/* How long a finished Job's pod may take to show its termination message. */
#define MESSAGE_GRACE_SECONDS 60.0

static const json_t *spec_of(const json_t *obj)
{
    return json_object_get(obj, "spec");
}

static const char *live_image(const json_t *sts)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(json_object_get(spec_of(sts), "template"), "spec"), "containers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (name != NULL && strcmp(name, PGW_POD_CONTAINER_POSTGRES) == 0)
            return json_string_value(json_object_get(c, "image"));
    }
    return NULL;
}

/*
 * The status to go by. A reconcile may start from a store the watch has not
 * updated with our own last status write (a Job event right after it): going
 * by that copy re-created a deleted Job and would render the StatefulSet of a
 * step already left (found on the test bed). While an upgrade is under way
 * (or asked for), the status is read from the API server. New reference.
 */
static json_t *fresh_status(struct pgw_reconciler *r, const json_t *cluster, long long target)
{
    const json_t *st = json_object_get(cluster, "status");
    const json_t *cond = pgw_cluster_status_condition(st, PGW_CONDITION_MAJOR_UPGRADE);
    const char *cs = json_string_value(json_object_get(cond, "status"));
    long long running = json_integer_value(json_object_get(st, "runningPostgresVersion"));
    if (r->clusters != NULL && ((cs != NULL && strcmp(cs, "True") == 0) || (running > 0 && running != target))) {
        int failed = 0;
        json_t *fresh = pgw_reconcile_fetch(r, NULL, "PostgresCluster", pgw_obj_meta_str(cluster, "namespace"),
                                            pgw_obj_meta_str(cluster, "name"), &failed);
        json_t *fst = fresh != NULL ? json_incref(json_object_get(fresh, "status")) : NULL;
        json_decref(fresh);
        if (fst != NULL)
            return fst;
    }
    return st != NULL ? json_incref((json_t *)st) : json_object();
}

void pgw_reconcile_upgrade_prepare(struct pgw_reconciler *r, const json_t *cluster, json_t *defaulted,
                                   struct pgw_upgrade_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    json_t *spec = json_object_get(defaulted, "spec");
    plan->target = json_integer_value(json_object_get(spec, "postgresVersion"));
    plan->target_cluster = json_deep_copy(defaulted);
    plan->status = fresh_status(r, cluster, plan->target);
    const json_t *old_status = plan->status;
    plan->step =
        json_string_value(json_object_get(pgw_cluster_status_condition(old_status, PGW_CONDITION_MAJOR_UPGRADE), "reason"));
    plan->replicas = pgw_upgrade_replicas(plan->step, json_integer_value(json_object_get(spec, "instances")));
    int failed = 0;
    json_t *sts = pgw_reconcile_fetch(r, r->statefulsets, "StatefulSet", pgw_obj_meta_str(cluster, "namespace"),
                                      pgw_obj_meta_str(cluster, "name"), &failed);
    const char *image = sts != NULL ? live_image(sts) : NULL;
    if (failed && sts == NULL) {
        plan->running = 0; /* not known: render as the spec says, decide nothing */
    } else {
        plan->running = pgw_upgrade_running_major(json_integer_value(json_object_get(old_status, "runningPostgresVersion")), image,
                                                  (const char *const *)r->config->postgres_images, PGW_PG_MAJOR_MIN,
                                                  PGW_PG_MAJOR_COUNT, plan->target);
    }
    if (plan->running > 0 && plan->running != plan->target) {
        /* The data is older (or, refused, newer): render what runs on it. */
        json_object_set_new(spec, "postgresVersion", json_integer(plan->running));
        if (json_object_get(spec, "image") != NULL) {
            if (image != NULL)
                json_object_set_new(spec, "image", json_string(image));
            else
                json_object_del(spec, "image");
        }
    }
    json_decref(sts);
}

void pgw_reconcile_upgrade_render(const struct pgw_upgrade_plan *plan, json_t *children)
{
    long long instances = json_integer_value(json_object_get(spec_of(plan->target_cluster), "instances"));
    if (plan->replicas != instances)
        pgw_render_upgrade_set_replicas(children, plan->replicas);
}

void pgw_reconcile_upgrade_dispose(struct pgw_upgrade_plan *plan)
{
    json_decref(plan->target_cluster);
    json_decref(plan->status);
    plan->target_cluster = NULL;
    plan->status = NULL;
}

/* --- the Jobs ------------------------------------------------------------------------ */

struct job_view {
    char *name;
    json_t *job;   /* NULL: none (or one for another target, in `stale`) */
    json_t *stale; /* a Job of that name made for another target major */
    enum pgw_job_state state;
    char *message; /* its pod's termination message */
};

/* The last time a Job's status changed to finished (completionTime, or the Failed condition's). */
static const char *finished_at(const json_t *job)
{
    const json_t *st = json_object_get(job, "status");
    const char *t = json_string_value(json_object_get(st, "completionTime"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (t == NULL && type != NULL && strcmp(type, "Failed") == 0)
            t = json_string_value(json_object_get(c, "lastTransitionTime"));
    }
    return t;
}

static void job_view_load(struct pgw_reconciler *r, const char *ns, const char *cluster, const char *suffix, const char *container,
                          long long target, int keep_other_target, struct job_view *v)
{
    memset(v, 0, sizeof(*v));
    v->name = pgw_obj_child_name(cluster, suffix);
    int failed = 0;
    json_t *job = pgw_reconcile_fetch(r, r->jobs, "Job", ns, v->name, &failed);
    if (job == NULL && r->jobs != NULL && !failed)
        job = pgw_reconcile_fetch(r, NULL, "Job", ns, v->name, &failed); /* the store may lag behind our own create */
    v->state = PGW_JOB_ABSENT;
    if (job == NULL)
        return;
    const char *to = json_string_value(json_object_get(json_object_get(pgw_obj_meta(job), "labels"), PGW_LABEL_UPGRADE_TO));
    char want[24];
    snprintf(want, sizeof(want), "%lld", target);
    if (!keep_other_target && (to == NULL || strcmp(to, want) != 0)) {
        v->stale = job;
        return;
    }
    v->job = job;
    v->state = pgw_backup_decide_job_state(job, NULL, NULL);
    if (v->state == PGW_JOB_SUCCEEDED || v->state == PGW_JOB_FAILED) {
        int unlisted = 0; /* no pods: the message is missing, and the grace below applies */
        json_t *pods = pgw_reconcile_select(r, NULL, "Pod", ns, PGW_LABEL_JOB_NAME, v->name, &unlisted);
        const char *m = pgw_backup_decide_termination_message(pods, container, v->state == PGW_JOB_SUCCEEDED);
        v->message = m != NULL ? pgw_strdup(m) : NULL;
        json_decref(pods);
        if (v->message == NULL && pgw_rfc3339_age(finished_at(job), time(NULL)) < MESSAGE_GRACE_SECONDS)
            v->state = PGW_JOB_ACTIVE; /* the pod's final status may not be visible yet */
    }
}

/* The major a Job upgrades from (its label), 0 when none. */
static long long job_from(const json_t *job)
{
    const char *v = json_string_value(json_object_get(json_object_get(pgw_obj_meta(job), "labels"), PGW_LABEL_UPGRADE_FROM));
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static void job_view_dispose(struct job_view *v)
{
    free(v->name);
    free(v->message);
    json_decref(v->job);
    json_decref(v->stale);
}

static int delete_job(struct pgw_reconciler *r, const char *ns, const char *name, int *writes, char **err)
{
    struct pgw_kresult res = {0};
    (*writes)++;
    int o = pgw_kclient_delete(r->client, pgw_resource_find("Job"), ns, name, "Background", &res);
    int rc = 0;
    if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
        *err = pgw_asprintf("deleting Job %s: %s", name, res.message != NULL ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    return rc;
}

/* Creates `job` (taken), unless a Job of its name for another target is still there: that one goes first. */
static int create_job(struct pgw_reconciler *r, const json_t *cluster, const struct job_view *v, json_t *job, int *writes,
                      char **err)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace");
    int rc = 0;
    if (v->stale != NULL) {
        rc = delete_job(r, ns, v->name, writes, err);
        json_decref(job);
        return rc;
    }
    rc = pgw_reconcile_create_job(r, cluster, job, "UpgradeJobCreated", NULL, writes, err);
    json_decref(job);
    return rc;
}

/* --- the database's side ------------------------------------------------------------ */

static const char *pod_ip(const json_t *pods, const char *name)
{
    return pgw_obj_str_at(pgw_obj_find_by_meta_name(pods, name), "status.podIP");
}

/* Merge-patches the annotations of Patroni's Endpoints `name` (404: nothing to do). */
static int patch_endpoints(struct pgw_reconciler *r, const char *ns, const char *name, json_t *annotations, int *writes, char **err)
{
    json_t *patch = pgw_json_pack("{s:{s:o}}", "metadata", "annotations", annotations);
    struct pgw_kresult res = {0};
    (*writes)++;
    int o = pgw_kclient_patch(r->client, pgw_resource_find("Endpoints"), ns, name, NULL, PGW_PATCH_MERGE, patch, &res);
    int rc = 0;
    if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
        *err = pgw_asprintf("updating Patroni's endpoints %s: %s", name, res.message != NULL ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    json_decref(patch);
    return rc;
}

/* "pgdata-<cluster>-<ordinal>" other than the primary's: a replica's data claim. */
static int is_replica_claim(const char *claim, const char *cluster, const char *primary)
{
    char *prefix = pgw_asprintf("%s-%s-", PGW_POD_VOLUME_PGDATA, cluster);
    size_t n = strlen(prefix);
    int match = strncmp(claim, prefix, n) == 0 && claim[n] != '\0' && strspn(claim + n, "0123456789") == strlen(claim + n);
    free(prefix);
    char *own = pgw_asprintf("%s-%s", PGW_POD_VOLUME_PGDATA, primary);
    match = match && strcmp(claim, own) != 0;
    free(own);
    return match;
}

static int delete_replica_claims(struct pgw_reconciler *r, const json_t *cluster, const char *primary, int *writes, char **err)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    int failed = 0, rc = 0;
    json_t *items = pgw_reconcile_select(r, NULL, "PersistentVolumeClaim", ns, PGW_POD_LABEL_CLUSTER, name, &failed);
    if (failed) {
        *err = pgw_strdup("listing the data claims failed");
        rc = -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *claim = pgw_obj_meta_str(item, "name");
        if (claim == NULL || !is_replica_claim(claim, name, primary) ||
            json_object_get(pgw_obj_meta(item), "deletionTimestamp") != NULL)
            continue;
        struct pgw_kresult d = {0};
        (*writes)++;
        int o = pgw_kclient_delete(r->client, pgw_resource_find("PersistentVolumeClaim"), ns, claim, NULL, &d);
        if (o != PGW_K_OK && o != PGW_K_NOT_FOUND && rc == 0) {
            *err = pgw_asprintf("deleting the replica's data claim %s: %s", claim, d.message != NULL ? d.message : "failed");
            rc = -1;
        } else if (o == PGW_K_OK) {
            char *msg = pgw_asprintf("deleted %s: the replica is cloned again from the upgraded primary", claim);
            pgw_reconcile_event(r, cluster, "Normal", "UpgradeReplicaReset", msg, writes);
            free(msg);
        }
        pgw_kresult_dispose(&d);
    }
    json_decref(items);
    return rc;
}

/* The data is the new major: Patroni's DCS follows it, and the replicas start over. Idempotent. */
static int finish(struct pgw_reconciler *r, const json_t *cluster, const char *primary, const char *sysid, int *writes, char **err)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    char *config = pgw_obj_child_name(name, PGW_SUFFIX_CONFIG);
    int rc = patch_endpoints(r, ns, config, pgw_json_pack("{s:s,s:n}", "initialize", sysid, "history"), writes, err);
    free(config);
    if (rc == 0)
        rc = patch_endpoints(r, ns, name, pgw_json_pack("{s:n,s:n,s:n}", "leader", "optime", "status"), writes, err);
    if (rc == 0)
        rc = delete_replica_claims(r, cluster, primary, writes, err);
    return rc;
}

/* --- the hook ---------------------------------------------------------------------------- */

int pgw_reconcile_upgrade(struct pgw_reconciler *r, const json_t *cluster, const struct pgw_upgrade_plan *plan, const json_t *pods,
                          json_t *status, const char *now, struct pgw_reconcile_outcome *out, char **err)
{
    if (plan->running <= 0)
        return 0;
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const json_t *old_status = plan->status, *spec = spec_of(plan->target_cluster);
    const json_t *cond = pgw_cluster_status_condition(old_status, PGW_CONDITION_MAJOR_UPGRADE);
    const char *step = plan->step;
    if (plan->running == plan->target &&
        (step == NULL || strcmp(step, PGW_UPGRADE_SUCCEEDED) == 0 || strcmp(step, PGW_UPGRADE_CANCELLED) == 0)) {
        json_object_set_new(status, "runningPostgresVersion", json_integer(plan->running));
        return 0; /* the common case: no upgrade under way, no Job to look at (the condition is carried over) */
    }

    /* The primary: this reconcile's, else the last one written while the pods are gone. */
    const char *primary = json_string_value(json_object_get(status, "primary"));
    const char *stored_primary = json_string_value(json_object_get(old_status, "primary"));
    int stopped = step != NULL && (strcmp(step, PGW_UPGRADE_STOPPING) == 0 || strcmp(step, PGW_UPGRADE_UPGRADING) == 0 ||
                                   strcmp(step, PGW_UPGRADE_FAILED_LINKED) == 0);
    if (primary == NULL && stored_primary != NULL && stopped) { /* a stopping primary may have lost its role label already */
        json_object_set_new(status, "primary", json_string(stored_primary));
        primary = stored_primary;
    }

    struct job_view check, upgrade, analyze, stanza;
    job_view_load(r, ns, name, PGW_SUFFIX_UPGRADE_CHECK, PGW_CONTAINER_UPGRADE, plan->target, 0, &check);
    /* never thrown away while it may run */
    job_view_load(r, ns, name, PGW_SUFFIX_UPGRADE, PGW_CONTAINER_UPGRADE, plan->target, 1, &upgrade);
    job_view_load(r, ns, name, PGW_SUFFIX_UPGRADE_ANALYZE, PGW_CONTAINER_UPGRADE, plan->target, 0, &analyze);
    job_view_load(r, ns, name, PGW_SUFFIX_UPGRADE_STANZA, PGW_POD_CONTAINER_PGBACKREST, plan->target, 0, &stanza);
    const char *phase = json_string_value(json_object_get(status, "phase"));
    struct pgw_upgrade_facts f = {
        .target = plan->target,
        .running = plan->running,
        .step = step,
        .message = json_string_value(json_object_get(cond, "message")),
        .phase = phase,
        .instances = json_integer_value(json_object_get(spec, "instances")),
        .ready = json_integer_value(json_object_get(status, "readyInstances")),
        .primary = primary,
        .wal_volume = json_object_get(json_object_get(spec, "storage"), "walSize") != NULL,
        .repository = json_object_get(json_object_get(spec, "backup"), "repository") != NULL,
        .restoring = json_object_get(json_object_get(spec, "bootstrap"), "restore") != NULL && phase != NULL &&
                     (strcmp(phase, "Pending") == 0 || strcmp(phase, "Creating") == 0),
        .pods = (long long)json_array_size(pods),
        .check_job = check.state,
        .upgrade_job = upgrade.state,
        .analyze_job = analyze.state,
        .stanza_job = stanza.state,
        .check_message = check.message,
        .upgrade_message = upgrade.message,
        .analyze_message = analyze.message,
        .stanza_message = stanza.message,
    };
    struct pgw_upgrade_decision d;
    pgw_upgrade_decide(&f, &d);

    int rc = 0, *writes = &out->writes;
    struct pgw_render_ctx rctx = {.config = r->config};
    const char *ip = pod_ip(pods, primary);
    switch (d.action) {
    case PGW_UPGRADE_NOTHING:
        break;
    case PGW_UPGRADE_CREATE_CHECK:
        if (upgrade.job != NULL) /* left by an earlier upgrade: its result must not be read as this one's */
            rc = delete_job(r, ns, upgrade.name, writes, err);
        else if (ip != NULL)
            rc = create_job(r, cluster, &check, pgw_render_upgrade_check_job(plan->target_cluster, &rctx, (int)plan->running, ip),
                            writes, err);
        break;
    case PGW_UPGRADE_CREATE_UPGRADE:
        rc = create_job(r, cluster, &upgrade, pgw_render_upgrade_job(plan->target_cluster, &rctx, (int)plan->running, primary),
                        writes, err);
        break;
    case PGW_UPGRADE_FINISH:
        rc = finish(r, cluster, primary, d.system_identifier, writes, err);
        break;
    case PGW_UPGRADE_CREATE_ANALYZE: {
        /* The previous major (the ANALYZE Job's fallback client) is the pg_upgrade Job's. */
        long long from = job_from(upgrade.job);
        if (ip != NULL)
            rc = create_job(r, cluster, &analyze,
                            pgw_render_upgrade_analyze_job(plan->target_cluster, &rctx, (int)(from > 0 ? from : plan->running), ip),
                            writes, err);
        break;
    }
    case PGW_UPGRADE_CREATE_STANZA: {
        json_t *job = pgw_render_upgrade_stanza_job(plan->target_cluster, &rctx, (int)job_from(upgrade.job));
        if (job != NULL)
            rc = create_job(r, cluster, &stanza, job, writes, err);
        break;
    }
    case PGW_UPGRADE_CLEANUP: {
        const char *names[] = {check.name, upgrade.name, analyze.name, stanza.name};
        for (size_t i = 0; i < 4 && rc == 0; ++i)
            rc = delete_job(r, ns, names[i], writes, err);
        break;
    }
    }
    if (rc != 0) {
        /* Nothing recorded: the same step is tried again. */
        json_object_set_new(status, "runningPostgresVersion", json_integer(plan->running));
        if (d.phase != NULL)
            json_object_set_new(status, "phase", json_string(d.phase));
        goto done;
    }

    json_object_set_new(status, "runningPostgresVersion", json_integer(d.running));
    if (d.phase != NULL)
        json_object_set_new(status, "phase", json_string(d.phase));
    if (d.step != NULL) {
        long long generation = json_integer_value(json_object_get(pgw_obj_meta(cluster), "generation"));
        pgw_cluster_status_set_condition(status, old_status, PGW_CONDITION_MAJOR_UPGRADE, d.condition_status, d.step, d.message,
                                         generation, now);
        if (step == NULL || strcmp(step, d.step) != 0) {
            char *msg = pgw_asprintf("%s: %s", d.step, d.message);
            pgw_reconcile_event(r, cluster, d.warning ? "Warning" : "Normal", "MajorUpgrade", msg, writes);
            free(msg);
            pgw_log(d.warning ? PGW_LOG_WARN : PGW_LOG_INFO, "major upgrade",
                    pgw_json_pack("{s:s,s:s,s:s,s:s}", "namespace", ns, "cluster", name, "step", d.step, "detail", d.message));
        }
        if (strcmp(d.condition_status, "True") == 0)
            pgw_reconcile_requeue(out, UPGRADE_REQUEUE_SECONDS);
    }
done:
    job_view_dispose(&check);
    job_view_dispose(&upgrade);
    job_view_dispose(&analyze);
    job_view_dispose(&stanza);
    return rc;
}
