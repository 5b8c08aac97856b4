/*
 * One reconcile of one PostgresBackup (DESIGN.md §3, §7).
 *
 *  1. Terminal phases (Succeeded, Failed) are final: nothing to do.
 *  2. Guard: the admission defaulting and validation again; invalid → Failed
 *     with the field errors and a Warning Event.
 *  3. The Job is named after the backup (metadata.name, at most 63 bytes), so
 *     there is never more than one per PostgresBackup: a second create, from a
 *     restarted controller or a second one, gets AlreadyExists. A Job of that
 *     name owned by something else is refused.
 *  4. No Job yet: cross-object checks (the cluster exists, has a repository,
 *     is Running with its stanza created), then the gate (backup_decide.h: one
 *     pgBackRest per stanza); a check or the gate failing keeps the backup
 *     Pending with a message and looks again later. Then the Job is created
 *     (owner: the PostgresBackup) and the backup is Running.
 *  5. A Job: the status follows it (backup_decide.h). A finished Job's pods
 *     are listed once for the termination message, which carries `pgbackrest
 *     info --output=json --set=<label>` (or pgBackRest's error). On success the
 *     cluster's status.lastBackup moves forward.
 * Status writes only when something changed; Events on start, success and
 * failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/json_pack.h"
#include "common/object.h"
#include "common/request.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/backup_decide.h"
#include "controller/decide/cluster_status.h"
#include "controller/reconcile/reconcile.h"
#include "specs/pod_layout.h"
#include "specs/render_backup.h"
#include "validators/guard.h"

/* How long to look again for a waiting backup, and for a finished Job's pod. */
#define WAIT_REQUEUE_SECONDS 5.0
#define CHECK_REQUEUE_SECONDS 10.0
#define POD_REQUEUE_SECONDS 2.0
/* A succeeded Job whose pod shows no message after this long is reported without details. */
#define POD_GRACE_SECONDS 30

static json_t *simple_status(const char *phase, const char *message, const json_t *old)
{
    json_t *s = pgw_json_pack("{s:s,s:s}", "phase", phase, "message", message);
    const json_t *started = json_object_get(old, "startedAt");
    if (started != NULL && strcmp(phase, "Pending") != 0)
        json_object_set(s, "startedAt", (json_t *)started);
    return s;
}

static const char *phase_of(const json_t *status)
{
    return json_string_value(json_object_get(status, "phase"));
}

static int same_phase(const json_t *a, const json_t *b)
{
    const char *x = phase_of(a), *y = phase_of(b);
    return x != NULL && y != NULL && strcmp(x, y) == 0;
}

/* Moves the cluster's status.lastBackup forward to `completed` (RFC 3339 UTC sorts as text). */
static int advance_last_backup(struct pgw_reconciler *r, const char *ns, const char *cluster_name, const char *completed,
                               int *writes, char **err)
{
    int failed = 0;
    json_t *cluster = pgw_reconcile_fetch(r, r->clusters, "PostgresCluster", ns, cluster_name, &failed);
    if (cluster == NULL || completed == NULL) {
        json_decref(cluster);
        return 0; /* the cluster is gone: nothing to record */
    }
    const char *last = json_string_value(json_object_get(json_object_get(cluster, "status"), "lastBackup"));
    int rc = 0;
    if (last == NULL || strcmp(last, completed) < 0) {
        json_t *patch = pgw_json_pack("{s:{s:s}}", "status", "lastBackup", completed);
        struct pgw_kresult res = {0};
        (*writes)++;
        int o = pgw_kclient_patch(r->client, pgw_resource_find("PostgresCluster"), ns, cluster_name, "status", PGW_PATCH_MERGE,
                                  patch, &res);
        if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
            *err = pgw_asprintf("recording lastBackup on cluster %s: %s", cluster_name, res.message ? res.message : "failed");
            rc = -1;
        }
        pgw_kresult_dispose(&res);
        json_decref(patch);
    }
    json_decref(cluster);
    return rc;
}

/* Why the backup cannot start on `cluster` yet (malloc'd), or NULL. */
static char *cluster_check(const json_t *cluster, const char *cluster_name)
{
    if (cluster == NULL)
        return pgw_asprintf("cluster %s does not exist", cluster_name);
    if (pgw_obj_meta_str(cluster, "deletionTimestamp") != NULL)
        return pgw_asprintf("cluster %s is being deleted", cluster_name);
    if (json_object_get(json_object_get(json_object_get(cluster, "spec"), "backup"), "repository") == NULL)
        return pgw_asprintf("cluster %s has no backup repository (spec.backup.repository)", cluster_name);
    const json_t *status = json_object_get(cluster, "status");
    const char *phase = phase_of(status);
    if (phase == NULL || strcmp(phase, "Running") != 0)
        return pgw_asprintf("cluster %s is %s, not Running", cluster_name, phase != NULL ? phase : "not started");
    const json_t *ready = pgw_cluster_status_condition(status, "BackupReady");
    const char *rs = json_string_value(json_object_get(ready, "status"));
    if (rs == NULL || strcmp(rs, "True") != 0) {
        const char *m = json_string_value(json_object_get(ready, "message"));
        return pgw_asprintf("waiting for the pgBackRest stanza of cluster %s (BackupReady: %s)", cluster_name,
                            m != NULL ? m : "unknown");
    }
    return NULL;
}

/* Creates the Job; 0 (created, or already there and ours) or -1 with *err. */
static int start_job(struct pgw_reconciler *r, const json_t *backup, const json_t *defaulted, const json_t *cluster, int *writes,
                     char **err)
{
    json_t *dcluster = NULL;
    char *invalid = pgw_guard_check(&pgw_guard_postgrescluster, cluster, r->config, &dcluster);
    if (invalid != NULL) {
        *err = pgw_asprintf("cluster %s is invalid: %s", pgw_obj_meta_str(cluster, "name"), invalid);
        free(invalid);
        return -1;
    }
    struct pgw_render_ctx rctx = {.config = r->config};
    json_t *job = pgw_render_backup_job(defaulted, dcluster, &rctx);
    const char *type = json_string_value(json_object_get(json_object_get(defaulted, "spec"), "type"));
    char *what = pgw_asprintf("pgbackrest backup --type=%s", type ? type : "full");
    int rc = pgw_reconcile_create_job(r, backup, job, "BackupStarted", what, writes, err);
    free(what);
    json_decref(job);
    json_decref(dcluster);
    return rc;
}

int pgw_reconcile_backup(struct pgw_reconciler *r, const char *ns, const char *name, struct pgw_reconcile_outcome *out)
{
    int fetch_rc;
    json_t *backup = pgw_reconcile_begin(r, r->backups, "PostgresBackup", "backup", ns, name, out, &fetch_rc);
    if (backup == NULL)
        return fetch_rc; /* gone: the owner GC removes its Job (the backup data stays in the repository) */
    int failed = 0;
    const json_t *old = json_object_get(backup, "status");
    const char *old_phase = phase_of(old);
    char ts[32];
    pgw_rfc3339_format(time(NULL), ts, sizeof(ts));
    char *err = NULL, *why = NULL;
    json_t *defaulted = NULL, *status = NULL, *job = NULL, *cluster = NULL, *backups = NULL, *jobs = NULL, *pods = NULL;
    int rc = 0;
    if (pgw_obj_meta_str(backup, "deletionTimestamp") != NULL ||
        (old_phase != NULL && (strcmp(old_phase, "Succeeded") == 0 || strcmp(old_phase, "Failed") == 0)))
        goto done;

    char *invalid = pgw_guard_check(&pgw_guard_postgresbackup, backup, r->config, &defaulted);
    if (invalid != NULL) {
        char *msg = pgw_asprintf("invalid spec: %s", invalid);
        free(invalid);
        pgw_reconcile_event(r, backup, "Warning", "InvalidSpec", msg, &out->writes);
        status = simple_status("Failed", msg, NULL);
        free(msg);
        out->result = "invalid";
        goto write;
    }

    const char *cluster_name = json_string_value(json_object_get(json_object_get(defaulted, "spec"), "cluster"));
    job = pgw_reconcile_fetch(r, r->jobs, "Job", ns, name, &failed);
    if (job == NULL && !failed && r->jobs != NULL && old_phase != NULL && strcmp(old_phase, "Running") == 0)
        job = pgw_reconcile_fetch(r, NULL, "Job", ns, name, &failed); /* the store may not have caught up yet */
    if (failed) {
        err = pgw_strdup("cannot read the backup's Job");
        goto fail;
    }
    if (job != NULL) {
        const char *owner = pgw_controller_uid(job, "PostgresBackup"), *uid = pgw_obj_meta_str(backup, "uid");
        if (owner == NULL) {
            why = pgw_asprintf("Job %s exists and does not belong to this backup; a backup's Job carries its name", name);
            status = simple_status("Failed", why, old);
            pgw_reconcile_event(r, backup, "Warning", "BackupFailed", why, &out->writes);
            goto write;
        }
        if (uid == NULL || strcmp(owner, uid) != 0) {
            /* A Job left by a deleted backup of the same name, on its way out (owner GC). */
            status = simple_status("Pending", "waiting for the Job of a deleted backup of the same name to go away", old);
            out->requeue_after = WAIT_REQUEUE_SECONDS;
            goto write;
        }
        enum pgw_job_state state = pgw_backup_decide_job_state(job, NULL, NULL);
        const char *message = NULL;
        if (state == PGW_JOB_SUCCEEDED || state == PGW_JOB_FAILED) {
            pods = pgw_reconcile_select(r, NULL, "Pod", ns, PGW_LABEL_JOB_NAME, name, &failed); /* not watched: no cluster label */
            if (failed) {
                err = pgw_strdup("cannot list the backup Job's pods");
                goto fail;
            }
            message = pgw_backup_decide_termination_message(pods, PGW_POD_CONTAINER_PGBACKREST, state == PGW_JOB_SUCCEEDED);
            const json_t *jst = json_object_get(job, "status");
            if (state == PGW_JOB_SUCCEEDED && message == NULL &&
                pgw_rfc3339_age(json_string_value(json_object_get(jst, "completionTime")), time(NULL)) < POD_GRACE_SECONDS) {
                out->requeue_after = POD_REQUEUE_SECONDS; /* the pod's final status may not be visible yet */
                goto done;
            }
        }
        status = pgw_backup_decide_status(old, job, message, ts);
        const char *phase = phase_of(status);
        if (!same_phase(old, status)) {
            const char *msg = json_string_value(json_object_get(status, "message"));
            if (strcmp(phase, "Succeeded") == 0) {
                if (advance_last_backup(r, ns, cluster_name, json_string_value(json_object_get(status, "completedAt")),
                                        &out->writes, &err) != 0)
                    goto fail;
                pgw_reconcile_event(r, backup, "Normal", "BackupSucceeded", msg, &out->writes);
            } else if (strcmp(phase, "Failed") == 0) {
                pgw_reconcile_event(r, backup, "Warning", "BackupFailed", msg, &out->writes);
            }
        }
        goto write;
    }

    /* No Job yet: may it start? */
    cluster = pgw_reconcile_fetch(r, r->clusters, "PostgresCluster", ns, cluster_name, &failed);
    if (failed) {
        err = pgw_strdup("cannot read the cluster");
        goto fail;
    }
    why = cluster_check(cluster, cluster_name);
    if (why != NULL) {
        status = simple_status("Pending", why, old);
        out->requeue_after = CHECK_REQUEUE_SECONDS;
        goto write;
    }
    backups = pgw_reconcile_select(r, r->backups, "PostgresBackup", ns, NULL, NULL, &failed);
    jobs = pgw_reconcile_select(r, r->jobs, "Job", ns, PGW_POD_LABEL_CLUSTER, cluster_name, &failed);
    if (failed) {
        err = pgw_strdup("cannot list the backups and Jobs of the cluster");
        goto fail;
    }
    if (pgw_backup_decide_gate(defaulted, backups, jobs, &why) != 0) {
        status = simple_status("Pending", why, old);
        out->requeue_after = WAIT_REQUEUE_SECONDS;
        goto write;
    }
    /* Last look at the API itself before creating: the store may lag (a fresh start). */
    if (r->jobs != NULL && (job = pgw_reconcile_fetch(r, NULL, "Job", ns, name, &failed)) != NULL) {
        out->requeue_after = POD_REQUEUE_SECONDS; /* there after all: follow it from the next look */
        goto done;
    }
    if (failed) {
        err = pgw_strdup("cannot read the backup's Job");
        goto fail;
    }
    if (start_job(r, backup, defaulted, cluster, &out->writes, &err) != 0)
        goto fail;
    why = pgw_asprintf("Job %s is running pgbackrest backup", name);
    status = pgw_json_pack("{s:s,s:s,s:s}", "phase", "Running", "startedAt", ts, "message", why);

write:
    if (status != NULL && pgw_reconcile_write_status(r, "PostgresBackup", backup, status, &out->writes, &err) != 0)
        goto fail;
    goto done;

fail:
    rc = pgw_reconcile_failed(out, err);
    err = NULL;
done:
    free(err);
    free(why);
    json_decref(defaulted);
    json_decref(status);
    json_decref(job);
    json_decref(cluster);
    json_decref(backups);
    json_decref(jobs);
    json_decref(pods);
    json_decref(backup);
    return rc;
}
