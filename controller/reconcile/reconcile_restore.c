/*
 * One reconcile of one PostgresRestore (DESIGN.md §3, §7).
 *
 * A restore creates a NEW PostgresCluster with bootstrap.restore; the source
 * cluster is only read, never written. Phases:
 *   Pending    a cross-object check does not pass yet (backup_decide.h: the
 *              source exists and has a repository; the named backup exists, is
 *              of the source and Succeeded; the new name is free); looked at
 *              again on cluster and backup events and every few seconds;
 *   Running    the new cluster exists (created by this restore: label
 *              pgwarden.io/restore=<restore>) and is restoring;
 *   Succeeded  the new cluster reached Running; restoredTo says to what;
 *   Failed     the spec is invalid, a check failed for good, the new cluster
 *              was refused, or it Failed.
 * The new cluster is created once: its name is fixed by the spec, and a second
 * create (a restarted or second controller) gets AlreadyExists and then finds
 * the cluster carrying this restore's label. It has no ownerReference to the
 * restore: deleting the PostgresRestore must not delete the database.
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
#include "common/xalloc.h"
#include "controller/decide/backup_decide.h"
#include "controller/decide/cluster_status.h"
#include "controller/reconcile/reconcile.h"
#include "specs/render_backup.h"
#include "validators/guard.h"

#define WAIT_REQUEUE_SECONDS 15.0

static json_t *make_status(const char *phase, const char *cluster_name, const char *restored_to, const char *message)
{
    json_t *s = pgw_json_pack("{s:s,s:s}", "phase", phase, "message", message);
    if (cluster_name != NULL)
        json_object_set_new(s, "clusterName", json_string(cluster_name));
    if (restored_to != NULL)
        json_object_set_new(s, "restoredTo", json_string(restored_to));
    return s;
}

static int phase_changed(const json_t *old, const json_t *now)
{
    const char *a = json_string_value(json_object_get(old, "phase")), *b = json_string_value(json_object_get(now, "phase"));
    return a == NULL || b == NULL || strcmp(a, b) != 0;
}

/* Creates the new cluster. 0 (created or AlreadyExists), 1 when the API refused it
 * for good (*why set: admission or validation), -1 on a retryable failure (*err). */
static int create_cluster(struct pgw_reconciler *r, const json_t *restore, const json_t *defaulted, const json_t *source,
                          int *writes, char **why, char **err)
{
    json_t *cluster = pgw_render_restore_cluster(defaulted, source);
    struct pgw_kresult res = {0};
    (*writes)++;
    int o =
        pgw_kclient_create(r->client, pgw_resource_find("PostgresCluster"), pgw_obj_meta_str(restore, "namespace"), cluster, &res);
    int rc = 0;
    if (o == PGW_K_OK) {
        char *msg = pgw_asprintf(
            "created cluster %s from the backups of %s", pgw_obj_meta_str(cluster, "name"),
            json_string_value(json_object_get(
                json_object_get(json_object_get(json_object_get(cluster, "spec"), "bootstrap"), "restore"), "fromCluster")));
        pgw_reconcile_event(r, restore, "Normal", "ClusterCreated", msg, writes);
        free(msg);
    } else if (o == PGW_K_CONFLICT && res.reason != NULL && strcmp(res.reason, "AlreadyExists") == 0) {
        rc = 0; /* someone (a previous attempt?) made it: the next look decides whose it is */
    } else if (o == PGW_K_HTTP_ERROR && (res.http_status == 400 || res.http_status == 403 || res.http_status == 422)) {
        *why = pgw_asprintf("the new cluster %s was refused: %s", pgw_obj_meta_str(cluster, "name"),
                            res.message != NULL ? res.message : "no message");
        rc = 1;
    } else {
        *err = pgw_asprintf("creating cluster %s: %s", pgw_obj_meta_str(cluster, "name"),
                            res.message != NULL ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    json_decref(cluster);
    return rc;
}

int pgw_reconcile_restore(struct pgw_reconciler *r, const char *ns, const char *name, struct pgw_reconcile_outcome *out)
{
    int fetch_rc;
    json_t *restore = pgw_reconcile_begin(r, r->restores, "PostgresRestore", "restore", ns, name, out, &fetch_rc);
    if (restore == NULL)
        return fetch_rc;
    int failed = 0;
    const json_t *old = json_object_get(restore, "status");
    const char *old_phase = json_string_value(json_object_get(old, "phase"));
    char *err = NULL, *why = NULL, *restored_to = NULL;
    json_t *defaulted = NULL, *status = NULL, *source = NULL, *backup = NULL, *existing = NULL;
    int rc = 0;
    if (pgw_obj_meta_str(restore, "deletionTimestamp") != NULL ||
        (old_phase != NULL && (strcmp(old_phase, "Succeeded") == 0 || strcmp(old_phase, "Failed") == 0)))
        goto done;

    char *invalid = pgw_guard_check(&pgw_guard_postgresrestore, restore, r->config, &defaulted);
    if (invalid != NULL) {
        why = pgw_asprintf("invalid spec: %s", invalid);
        free(invalid);
        status = make_status("Failed", NULL, NULL, why);
        pgw_reconcile_event(r, restore, "Warning", "InvalidSpec", why, &out->writes);
        out->result = "invalid";
        goto write;
    }
    const char *new_name = pgw_backup_decide_restore_name(defaulted);
    const json_t *src = json_object_get(json_object_get(defaulted, "spec"), "source");
    const char *from = json_string_value(json_object_get(src, "cluster"));
    const char *bname = json_string_value(json_object_get(src, "backup"));
    existing = new_name != NULL ? pgw_reconcile_fetch(r, r->clusters, "PostgresCluster", ns, new_name, &failed) : NULL;
    source = from != NULL ? pgw_reconcile_fetch(r, r->clusters, "PostgresCluster", ns, from, &failed) : NULL;
    backup = bname != NULL ? pgw_reconcile_fetch(r, r->backups, "PostgresBackup", ns, bname, &failed) : NULL;
    if (failed) {
        err = pgw_strdup("cannot read the clusters and backup the restore names");
        goto fail;
    }
    restored_to = pgw_backup_decide_restored_to(defaulted);
    enum pgw_restore_action action = pgw_backup_decide_restore(defaulted, source, backup, existing, &why);
    if (action == PGW_RESTORE_CREATE && r->clusters != NULL) {
        /* Last look at the API itself before creating: the store may lag (a fresh start). */
        existing = pgw_reconcile_fetch(r, NULL, "PostgresCluster", ns, new_name, &failed);
        if (failed) {
            err = pgw_strdup("cannot read the new cluster");
            goto fail;
        }
        if (existing != NULL) {
            free(why);
            why = NULL;
            action = pgw_backup_decide_restore(defaulted, source, backup, existing, &why);
        }
    }
    switch (action) {
    case PGW_RESTORE_CREATE: {
        free(why);
        why = NULL;
        int c = create_cluster(r, restore, defaulted, source, &out->writes, &why, &err);
        if (c < 0)
            goto fail;
        if (c > 0) {
            status = make_status("Failed", new_name, NULL, why);
            pgw_reconcile_event(r, restore, "Warning", "RestoreFailed", why, &out->writes);
            goto write;
        }
        free(why);
        why = pgw_asprintf("cluster %s is restoring from the backups of %s", new_name, from);
        status = make_status("Running", new_name, NULL, why);
        break;
    }
    case PGW_RESTORE_FOLLOW: {
        const json_t *cst = json_object_get(existing, "status");
        const char *cphase = json_string_value(json_object_get(cst, "phase"));
        free(why);
        if (cphase != NULL && strcmp(cphase, "Running") == 0) {
            why = pgw_asprintf("cluster %s is Running, restored to %s", new_name, restored_to);
            status = make_status("Succeeded", new_name, restored_to, why);
            if (phase_changed(old, status))
                pgw_reconcile_event(r, restore, "Normal", "RestoreSucceeded", why, &out->writes);
        } else if (cphase != NULL && strcmp(cphase, "Failed") == 0) {
            const char *detail = json_string_value(json_object_get(pgw_cluster_status_condition(cst, "Valid"), "message"));
            why = pgw_asprintf("cluster %s Failed: %s", new_name, detail != NULL ? detail : "see its status");
            status = make_status("Failed", new_name, NULL, why);
            if (phase_changed(old, status))
                pgw_reconcile_event(r, restore, "Warning", "RestoreFailed", why, &out->writes);
        } else {
            why = pgw_asprintf("cluster %s is restoring (phase %s)", new_name, cphase != NULL ? cphase : "Pending");
            status = make_status("Running", new_name, NULL, why);
        }
        break;
    }
    case PGW_RESTORE_WAIT:
        status = make_status("Pending", NULL, NULL, why);
        out->requeue_after = WAIT_REQUEUE_SECONDS;
        break;
    case PGW_RESTORE_FAIL:
        status = make_status("Failed", NULL, NULL, why);
        pgw_reconcile_event(r, restore, "Warning", "RestoreFailed", why, &out->writes);
        break;
    }

write:
    if (status != NULL && pgw_reconcile_write_status(r, "PostgresRestore", restore, status, &out->writes, &err) != 0)
        goto fail;
    goto done;

fail:
    rc = pgw_reconcile_failed(out, err);
    err = NULL;
done:
    free(err);
    free(why);
    free(restored_to);
    json_decref(defaulted);
    json_decref(status);
    json_decref(source);
    json_decref(backup);
    json_decref(existing);
    json_decref(restore);
    return rc;
}
