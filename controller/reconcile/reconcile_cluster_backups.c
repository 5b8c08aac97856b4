/*
 * The backup side of a PostgresCluster reconcile (DESIGN.md §7); see
 * pgw_reconcile_cluster_backups in reconcile_cluster_backups.h.
 *
 *  - Schedules: the CronJobs themselves are children (render.c), applied with
 *    the rest. What apply cannot do is notice a schedule removed from the spec:
 *    the CronJobs labelled with the cluster and a schedule are listed and the
 *    ones not rendered any more are deleted. The list runs when the set of
 *    schedule names changes (remembered per cluster uid), so the steady state
 *    costs nothing.
 *  - Stanza: the Job <cluster>-stanza-create is created once, when the cluster
 *    is Running (pgBackRest needs the primary). Create-only: a Job's template
 *    is immutable, and AlreadyExists means it is there. A failed stanza Job
 *    stays failed until someone deletes it (then it is created again), rather
 *    than failing in a loop.
 *  - lastBackup: a succeeded Job of a schedule (its CronJob made it; the Job
 *    watch enqueues the cluster) moves status.lastBackup forward, as an
 *    on-demand PostgresBackup does in reconcile_backup.c.
 *  - BackupReady: False without a repository, while the cluster is not Running,
 *    while the stanza Job runs, or when it failed; True once it succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/object.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/backup_decide.h"
#include "controller/decide/cluster_status.h"
#include "controller/reconcile/apply.h"
#include "controller/reconcile/reconcile_cluster_backups.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_backup.h"

/* ",a,b,c,": the rendered CronJob names, in render order. malloc'd. */
static char *schedule_set(const json_t *cronjobs)
{
    char *out = pgw_strdup(",");
    size_t i;
    json_t *cj;
    json_array_foreach(cronjobs, i, cj)
    {
        char *next = pgw_asprintf("%s%s,", out, pgw_obj_meta_str(cj, "name"));
        free(out);
        out = next;
    }
    return out;
}

static int prune_cronjobs(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, int *writes, char **err)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name"),
               *uid = pgw_obj_meta_str(cluster, "uid");
    struct pgw_render_ctx rctx = {.config = r->config};
    json_t *desired = json_array();
    pgw_render_backup_cronjobs(defaulted, &rctx, desired);
    char *set = schedule_set(desired);
    int rc = 0;
    if (uid == NULL || pgw_apply_cache_seen(r->cache, uid, "CronJobSet", ns, name, set))
        goto out;
    char *selector = pgw_asprintf(PGW_POD_LABEL_CLUSTER "=%s," PGW_LABEL_SCHEDULE, name);
    struct pgw_klist_options lo = {.label_selector = selector};
    struct pgw_kresult res = {0};
    const struct pgw_resource *cronjob = pgw_resource_find("CronJob");
    if (pgw_kclient_list_all(r->client, cronjob, ns, &lo, &res) != PGW_K_OK) {
        *err = pgw_asprintf("listing the backup CronJobs: %s", res.message != NULL ? res.message : "failed");
        rc = -1;
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(res.body, "items"), i, item)
        {
            const char *cname = pgw_obj_meta_str(item, "name");
            char *needle = pgw_asprintf(",%s,", cname != NULL ? cname : "");
            int wanted = cname == NULL || strstr(set, needle) != NULL;
            free(needle);
            if (wanted)
                continue;
            struct pgw_kresult d = {0};
            (*writes)++;
            int o = pgw_kclient_delete(r->client, cronjob, ns, cname, "Background", &d);
            if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
                *err = pgw_asprintf("deleting CronJob %s: %s", cname, d.message != NULL ? d.message : "failed");
                rc = -1;
            } else {
                pgw_apply_cache_forget(r->cache, uid, "CronJob", ns, cname);
                char *msg = pgw_asprintf("deleted CronJob %s: its schedule left spec.backup.schedules", cname);
                pgw_reconcile_event(r, cluster, "Normal", "ScheduleRemoved", msg, writes);
                free(msg);
            }
            pgw_kresult_dispose(&d);
        }
        if (rc == 0)
            pgw_apply_cache_remember(r->cache, uid, "CronJobSet", ns, name, set);
    }
    pgw_kresult_dispose(&res);
    free(selector);
out:
    free(set);
    json_decref(desired);
    return rc;
}

void pgw_cluster_backups_export_metric(const char *ns, const char *name, const json_t *cluster)
{
    const json_t *repository = json_object_get(json_object_get(json_object_get(cluster, "spec"), "backup"), "repository");
    if (cluster == NULL || repository == NULL || json_object_get(pgw_obj_meta(cluster), "deletionTimestamp") != NULL) {
        pgw_metrics_forget_cluster(ns, name);
        return;
    }
    const char *last = json_string_value(json_object_get(json_object_get(cluster, "status"), "lastBackup"));
    time_t when;
    if (last == NULL || pgw_rfc3339_parse(last, &when, NULL) != 0) {
        const char *created = pgw_obj_meta_str(cluster, "creationTimestamp");
        if (created == NULL || pgw_rfc3339_parse(created, &when, NULL) != 0)
            return;
    }
    pgw_metrics_set_last_backup(ns, name, when);
}

/* Moves status.lastBackup forward to the newest succeeded scheduled Job (a merge patch of that one
 * field: the cluster's status write leaves lastBackup alone). */
static int advance_last_backup(struct pgw_reconciler *r, const json_t *cluster, int *writes, char **err)
{
    if (r->jobs == NULL)
        return 0;
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    json_t *jobs = pgw_store_list(r->jobs, ns);
    const char *done = pgw_backup_decide_last_scheduled(jobs, name);
    const char *last = json_string_value(json_object_get(json_object_get(cluster, "status"), "lastBackup"));
    int rc = 0;
    if (done != NULL && (last == NULL || strcmp(last, done) < 0)) {
        json_t *patch = pgw_json_pack("{s:{s:s}}", "status", "lastBackup", done);
        struct pgw_kresult res = {0};
        (*writes)++;
        int o =
            pgw_kclient_patch(r->client, pgw_resource_find("PostgresCluster"), ns, name, "status", PGW_PATCH_MERGE, patch, &res);
        if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
            *err = pgw_asprintf("recording lastBackup: %s", res.message != NULL ? res.message : "failed");
            rc = -1;
        }
        pgw_kresult_dispose(&res);
        json_decref(patch);
    }
    json_decref(jobs);
    return rc;
}

/* Creates the stanza-create Job. 0 (created or already there) or -1 with *err. */
static int create_stanza_job(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, int *writes, char **err)
{
    struct pgw_render_ctx rctx = {.config = r->config};
    json_t *job = pgw_render_stanza_job(defaulted, &rctx);
    if (job == NULL)
        return 0;
    int rc = pgw_reconcile_create_job(r, cluster, job, "StanzaCreating", "pgbackrest stanza-create", writes, err);
    json_decref(job);
    return rc;
}

int pgw_reconcile_cluster_backups(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, json_t *status,
                                  const char *now, int *writes, char **err)
{
    const json_t *old = json_object_get(cluster, "status");
    long long generation = json_integer_value(json_object_get(json_object_get(cluster, "metadata"), "generation"));
    int rc = prune_cronjobs(r, cluster, defaulted, writes, err);
    if (json_object_get(json_object_get(json_object_get(defaulted, "spec"), "backup"), "repository") == NULL) {
        pgw_cluster_status_set_condition(status, old, "BackupReady", "False", "NoRepository", "spec.backup.repository is not set",
                                         generation, now);
        return rc;
    }
    if (rc == 0)
        rc = advance_last_backup(r, cluster, writes, err);
    const char *ns = pgw_obj_meta_str(cluster, "namespace");
    char *job_name = pgw_obj_child_name(pgw_obj_meta_str(cluster, "name"), PGW_SUFFIX_STANZA_CREATE);
    int failed = 0;
    json_t *job = pgw_reconcile_fetch(r, r->jobs, "Job", ns, job_name, &failed);
    const char *phase = json_string_value(json_object_get(status, "phase"));
    int running = phase != NULL && strcmp(phase, "Running") == 0;
    const char *reason = NULL, *jmsg = NULL;
    enum pgw_job_state state = pgw_backup_decide_job_state(job, &reason, &jmsg);
    char *msg = NULL;
    if (state == PGW_JOB_ABSENT && !failed && running && rc == 0 && r->jobs != NULL) {
        job = pgw_reconcile_fetch(r, NULL, "Job", ns, job_name, &failed); /* the store may lag (a fresh start) */
        state = pgw_backup_decide_job_state(job, &reason, &jmsg);
    }
    if (state == PGW_JOB_ABSENT && !failed && running && rc == 0) {
        char *create_err = NULL;
        if (create_stanza_job(r, cluster, defaulted, writes, &create_err) != 0) {
            *err = create_err;
            rc = -1;
        } else
            state = PGW_JOB_PENDING;
    }
    switch (state) {
    case PGW_JOB_ABSENT:
        pgw_cluster_status_set_condition(status, old, "BackupReady", "False", "WaitingForCluster",
                                         "the pgBackRest stanza is created once the cluster is Running", generation, now);
        break;
    case PGW_JOB_PENDING:
    case PGW_JOB_ACTIVE:
        msg = pgw_asprintf("Job %s is creating the pgBackRest stanza", job_name);
        pgw_cluster_status_set_condition(status, old, "BackupReady", "False", "StanzaCreating", msg, generation, now);
        break;
    case PGW_JOB_SUCCEEDED:
        pgw_cluster_status_set_condition(status, old, "BackupReady", "True", "StanzaCreated",
                                         "the pgBackRest stanza exists; backups can run", generation, now);
        break;
    case PGW_JOB_FAILED:
        msg = pgw_asprintf("Job %s failed (%s: %s); delete it to try again", job_name, reason != NULL ? reason : "Failed",
                           jmsg != NULL ? jmsg : "no message");
        pgw_cluster_status_set_condition(status, old, "BackupReady", "False", "StanzaCreateFailed", msg, generation, now);
        break;
    }
    free(msg);
    json_decref(job);
    free(job_name);
    return rc;
}
