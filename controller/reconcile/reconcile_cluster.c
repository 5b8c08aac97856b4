/*
 * One reconcile of one PostgresCluster (DESIGN.md §2, §6).
 *
 *  1. Read the cluster (from the local store when there is one).
 *  2. Deleting: stop the database (StatefulSet to zero, wait for its pods),
 *     then delete Patroni's endpoints (label pgwarden.io/cluster=<name>) so a
 *     re-created cluster does not inherit a stale system ID, keep the PVCs,
 *     remove our finalizer. Deletion protection is the webhook's job.
 *  3. Guard: run the same defaulting and validation as admission on a copy.
 *     Invalid → Valid=False with the field errors, a Warning Event, nothing else.
 *  4. Add the finalizer pgwarden.io/cleanup.
 *  5. Render the children from the defaulted copy and apply them (apply.h:
 *     unchanged children cost nothing). The Secrets with the passwords of the
 *     roles inside the data directory carry no ownerReference: they outlive
 *     the cluster as its volumes do, so a cluster re-created on them starts.
 *  6. After bootstrap, push parameter changes into Patroni's `<cluster>-config`
 *     annotation (patroni_dcs.h).
 *  7. Compute the status (cluster_status.h; status.primary from Patroni's
 *     leader key, reconcile_primary.h) and write it through /status only
 *     when it changed. Events on phase transitions, primary changes and errors.
 * A steady-state reconcile makes no write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/object.h"
#include "common/request.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/patroni_dcs.h"
#include "controller/reconcile/reconcile.h"
#include "controller/reconcile/reconcile_cluster_backups.h"
#include "controller/reconcile/reconcile_primary.h"
#include "controller/reconcile/reconcile_roles.h"
#include "controller/reconcile/reconcile_volumes.h"
#include "controller/reconcile/reconcile_rollout.h"
#include "controller/reconcile/reconcile_upgrade.h"
#include "specs/inject.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/replication.h"
#include "validators/guard.h"

/* How soon a deleted cluster is looked at again while its pods stop. */
#define STOP_REQUEUE_SECONDS 2.0
/* Apply-cache entry: the phase this controller last wrote. */
#define PHASE_SEEN "PhaseSeen"

static int has_finalizer(const json_t *cluster)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(pgw_obj_meta(cluster), "finalizers"), i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), PGW_FINALIZER_CLEANUP) == 0)
            return 1;
    }
    return 0;
}

/*
 * Adds or removes our finalizer. With a list present: a JSON patch that tests
 * the list we read and replaces it, so only a concurrent finalizer change
 * conflicts (not our own status write a moment before). Without a list: a
 * merge patch guarded by the resourceVersion we read.
 */
static int set_finalizer(struct pgw_reconciler *r, const json_t *cluster, int present, char **err)
{
    const json_t *old = json_object_get(pgw_obj_meta(cluster), "finalizers");
    json_t *list = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(old, i, f)
    {
        if (!json_is_string(f) || strcmp(json_string_value(f), PGW_FINALIZER_CLEANUP) != 0)
            json_array_append(list, f);
    }
    if (present)
        json_array_append_new(list, json_string(PGW_FINALIZER_CLEANUP));
    json_t *patch;
    enum pgw_patch_type type;
    if (json_is_array(old)) {
        type = PGW_PATCH_JSON;
        patch = pgw_json_pack("[{s:s,s:s,s:O},{s:s,s:s,s:o}]", "op", "test", "path", "/metadata/finalizers", "value", old, "op",
                              "replace", "path", "/metadata/finalizers", "value", list);
    } else {
        type = PGW_PATCH_MERGE;
        patch = pgw_json_pack("{s:{s:o,s:s?}}", "metadata", "finalizers", list, "resourceVersion",
                              pgw_obj_meta_str(cluster, "resourceVersion"));
    }
    struct pgw_kresult res = {0};
    int o = pgw_kclient_patch(r->client, pgw_resource_find("PostgresCluster"), pgw_obj_meta_str(cluster, "namespace"),
                              pgw_obj_meta_str(cluster, "name"), NULL, type, patch, &res);
    json_decref(patch);
    int rc = o == PGW_K_OK || o == PGW_K_NOT_FOUND ? 0 : -1;
    if (rc != 0)
        *err = pgw_asprintf("%s the finalizer: %s", present ? "adding" : "removing", res.message ? res.message : "failed");
    pgw_kresult_dispose(&res);
    return rc;
}

/*
 * The cluster's status, without lastBackup: the backup reconcile owns it, and
 * the copy this reconcile read may be older than the one it wrote.
 */
static int write_status(struct pgw_reconciler *r, const json_t *cluster, const json_t *status, int *writes, char **err)
{
    json_t *old = json_deep_copy(json_object_get(cluster, "status")), *now = json_deep_copy(status);
    json_object_del(old, "lastBackup");
    json_object_del(now, "lastBackup");
    json_t *view = json_deep_copy(cluster);
    if (old != NULL)
        json_object_set_new(view, "status", old);
    int rc = pgw_reconcile_write_status(r, "PostgresCluster", view, now, writes, err);
    const char *uid = pgw_obj_meta_str(cluster, "uid"), *phase = json_string_value(json_object_get(status, "phase"));
    if (rc == 0 && r->cache != NULL && uid != NULL && phase != NULL)
        pgw_apply_cache_remember(r->cache, uid, PHASE_SEEN, pgw_obj_meta_str(cluster, "namespace"),
                                 pgw_obj_meta_str(cluster, "name"), phase);
    json_decref(view);
    json_decref(now);
    return rc;
}

/* Patroni's endpoints of the cluster (leader, -config, -failover, -sync): they carry its labels. */
static int delete_patroni_endpoints(struct pgw_reconciler *r, const char *ns, const char *name, int *writes, char **err)
{
    int failed = 0, rc = 0;
    json_t *items = pgw_reconcile_select(r, NULL, "Endpoints", ns, PGW_POD_LABEL_CLUSTER, name, &failed);
    if (failed) {
        *err = pgw_strdup("listing Patroni's endpoints failed");
        rc = -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *ename = pgw_obj_meta_str(item, "name");
        struct pgw_kresult d = {0};
        (*writes)++;
        int o = pgw_kclient_delete(r->client, pgw_resource_find("Endpoints"), ns, ename, NULL, &d);
        if (o != PGW_K_OK && o != PGW_K_NOT_FOUND && rc == 0) {
            *err = pgw_asprintf("deleting endpoints %s: %s", ename, d.message ? d.message : "failed");
            rc = -1;
        }
        pgw_kresult_dispose(&d);
    }
    json_decref(items);
    return rc;
}

/* The Secrets whose passwords are those of roles inside the data directory. */
static const char *const credential_suffixes[] = {PGW_SUFFIX_SUPERUSER, PGW_SUFFIX_REPLICATION, PGW_SUFFIX_APP,
                                                  PGW_SUFFIX_PGBOUNCER, PGW_SUFFIX_EXPORTER,    NULL};

/* The volumes outlive the cluster (their claims are kept), so the passwords of the roles in them must
 * too: owned by the cluster, the garbage collector would delete them with it, and a cluster re-created
 * on the kept volumes would get new passwords its data directory refuses (Patroni cannot connect to
 * its own PostgreSQL and never takes the leader key). Created once and never overwritten, they are
 * adopted as they are by a re-created cluster of the same name. */
static void unown_credentials(json_t *children, const char *name)
{
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child)
    {
        const char *kind = json_string_value(json_object_get(child, "kind"));
        const char *cname = pgw_obj_meta_str(child, "name");
        if (kind == NULL || cname == NULL || strcmp(kind, "Secret") != 0)
            continue;
        for (const char *const *suffix = credential_suffixes; *suffix != NULL; ++suffix) {
            char *want = pgw_obj_child_name(name, *suffix);
            int match = strcmp(want, cname) == 0;
            free(want);
            if (match) {
                json_object_del(json_object_get(child, "metadata"), "ownerReferences");
                break;
            }
        }
    }
}

/* A scale-down waiting for the primary to move keeps the StatefulSet at `replicas` (0: as rendered). */
static void hold_statefulset_replicas(json_t *children, const char *name, long long replicas)
{
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child)
    {
        const char *kind = json_string_value(json_object_get(child, "kind"));
        if (replicas > 0 && kind != NULL && strcmp(kind, "StatefulSet") == 0 && strcmp(pgw_obj_meta_str(child, "name"), name) == 0)
            json_object_set_new(json_object_get(child, "spec"), "replicas", json_integer(replicas));
    }
}

static json_t *cluster_pods(struct pgw_reconciler *r, const char *ns, const char *name)
{
    int failed = 0;
    return pgw_reconcile_select(r, r->pods, "Pod", ns, PGW_POD_LABEL_CLUSTER, name, &failed);
}

/*
 * Deleting: the database stops before Patroni's endpoints go. A Patroni still
 * running writes its leader key again after we delete it, and a cluster
 * re-created under the name would inherit it (found on the test bed). The
 * StatefulSet is scaled to zero, so its pods end gracefully; *left is how many
 * pods are still there (look again later while it is not 0).
 */
static int stop_database(struct pgw_reconciler *r, const char *ns, const char *name, int *writes, size_t *left, char **err)
{
    json_t *pods = cluster_pods(r, ns, name);
    *left = json_array_size(pods);
    json_decref(pods);
    if (*left == 0)
        return 0;
    const struct pgw_resource *sts = pgw_resource_find("StatefulSet");
    struct pgw_kresult res = {0};
    int rc = 0, o = pgw_kclient_get(r->client, sts, ns, name, &res);
    if (o == PGW_K_OK && json_integer_value(json_object_get(json_object_get(res.body, "spec"), "replicas")) != 0) {
        pgw_kresult_dispose(&res);
        json_t *patch = pgw_json_pack("{s:{s:i}}", "spec", "replicas", 0);
        (*writes)++;
        o = pgw_kclient_patch(r->client, sts, ns, name, NULL, PGW_PATCH_MERGE, patch, &res);
        json_decref(patch);
    }
    if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
        *err = pgw_asprintf("stopping the database (StatefulSet %s to 0): %s", name, res.message ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    return rc;
}

/* Pushes spec parameters and spec.replication into Patroni's dynamic configuration once Patroni has written it. */
static int sync_patroni_parameters(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, int *writes,
                                   char **err)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    char *epname = pgw_obj_child_name(name, PGW_SUFFIX_CONFIG);
    const struct pgw_resource *ep = pgw_resource_find("Endpoints");
    struct pgw_kresult res = {0};
    int rc = 0, o = pgw_kclient_get(r->client, ep, ns, epname, &res);
    if (o == PGW_K_OK) {
        const json_t *ann = json_object_get(pgw_obj_meta(res.body), "annotations");
        const char *current = json_string_value(json_object_get(ann, PGW_PATRONI_CONFIG_ANNOTATION));
        json_t *desired = pgw_render_patroni_dcs_parameters(defaulted), *settings = pgw_render_patroni_dcs_settings(defaulted);
        /* absent: Patroni bootstraps it */
        char *updated = current != NULL ? pgw_patroni_dcs_update(current, settings, desired) : NULL;
        json_decref(desired);
        json_decref(settings);
        if (updated != NULL) {
            json_t *patch = pgw_json_pack("{s:{s:{s:s},s:s?}}", "metadata", "annotations", PGW_PATRONI_CONFIG_ANNOTATION, updated,
                                          "resourceVersion", pgw_obj_meta_str(res.body, "resourceVersion"));
            struct pgw_kresult p = {0};
            (*writes)++;
            if (pgw_kclient_patch(r->client, ep, ns, epname, NULL, PGW_PATCH_MERGE, patch, &p) == PGW_K_OK) {
                pgw_reconcile_event(r, cluster, "Normal", "ParametersUpdated",
                                    "PostgreSQL parameters and replication settings pushed to Patroni's dynamic configuration",
                                    writes);
            } else {
                *err = pgw_asprintf("updating Patroni's configuration: %s", p.message ? p.message : "failed");
                rc = -1;
            }
            pgw_kresult_dispose(&p);
            json_decref(patch);
            free(updated);
        }
    } else if (o != PGW_K_NOT_FOUND) {
        *err = pgw_asprintf("reading Patroni's configuration: %s", res.message ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    free(epname);
    return rc;
}

/* The phase compared with is the one this controller last wrote (write_status), before the stored one:
 * a reconcile right after a status write may read a store the watch has not updated yet, and raised
 * every PhaseChanged Event twice (found on the test bed). Priming on a leader change empties the cache. */
static void phase_event(struct pgw_reconciler *r, const json_t *cluster, const json_t *status, int *writes)
{
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    char *seen = r->cache != NULL && uid != NULL
                     ? pgw_apply_cache_lookup(r->cache, uid, PHASE_SEEN, pgw_obj_meta_str(cluster, "namespace"),
                                              pgw_obj_meta_str(cluster, "name"))
                     : NULL;
    const char *old = seen != NULL ? seen : json_string_value(json_object_get(json_object_get(cluster, "status"), "phase"));
    const char *now = json_string_value(json_object_get(status, "phase"));
    if (now != NULL && (old == NULL || strcmp(old, now) != 0)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "phase %s → %s", old != NULL ? old : "(none)", now);
        int warn = strcmp(now, "Degraded") == 0 || strcmp(now, "Failed") == 0;
        pgw_reconcile_event(r, cluster, warn ? "Warning" : "Normal", "PhaseChanged", msg, writes);
    }
    free(seen);
}

int pgw_reconcile_cluster(struct pgw_reconciler *r, const char *ns, const char *name, struct pgw_reconcile_outcome *out)
{
    int fetch_rc;
    json_t *cluster = pgw_reconcile_begin(r, r->clusters, "PostgresCluster", "cluster", ns, name, out, &fetch_rc);
    pgw_cluster_backups_export_metric(ns, name, cluster);
    if (cluster == NULL)
        return fetch_rc; /* gone: the owner GC removes the children */
    int failed = 0;
    char ts[32];
    pgw_rfc3339_format(time(NULL), ts, sizeof(ts));
    char *err = NULL;
    json_t *defaulted = NULL, *status = NULL, *children = NULL, *pods = NULL, *sts = NULL;
    struct pgw_upgrade_plan upgrade = {0}; /* the major the children render (reconcile_upgrade.h) */
    char *invalid = pgw_guard_check(&pgw_guard_postgrescluster, cluster, r->config, &defaulted);
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    int rc = 0;

    if (json_object_get(pgw_obj_meta(cluster), "deletionTimestamp") != NULL) {
        if (!has_finalizer(cluster))
            goto done;
        struct pgw_status_input in = {
            .cluster = cluster, .valid = invalid == NULL, .invalid_message = invalid, .desired_instances = 0, .now = ts};
        status = pgw_cluster_status_compute(&in);
        size_t left = 0;
        if (write_status(r, cluster, status, &out->writes, &err) != 0 || stop_database(r, ns, name, &out->writes, &left, &err) != 0)
            goto fail;
        if (left > 0) {
            out->requeue_after = STOP_REQUEUE_SECONDS;
            goto done;
        }
        if (delete_patroni_endpoints(r, ns, name, &out->writes, &err) != 0 || set_finalizer(r, cluster, 0, &err) != 0)
            goto fail;
        out->writes++;
        pgw_reconcile_event(r, cluster, "Normal", "CleanedUp", "deleted Patroni's endpoints; volumes are kept", &out->writes);
        if (uid != NULL)
            pgw_apply_cache_forget_owner(r->cache, uid);
        goto done;
    }

    pods = cluster_pods(r, ns, name);
    if (invalid != NULL) {
        const json_t *valid = pgw_cluster_status_condition(json_object_get(cluster, "status"), "Valid");
        const char *was = json_string_value(json_object_get(valid, "message"));
        if (was == NULL || strcmp(was, invalid) != 0)
            pgw_reconcile_event(r, cluster, "Warning", "InvalidSpec", invalid, &out->writes);
        struct pgw_status_input in = {.cluster = cluster, .valid = 0, .invalid_message = invalid, .pods = pods, .now = ts};
        status = pgw_cluster_status_compute(&in);
        if (write_status(r, cluster, status, &out->writes, &err) != 0)
            goto fail;
        out->result = "invalid";
        goto done;
    }

    if (!has_finalizer(cluster)) {
        out->writes++;
        if (set_finalizer(r, cluster, 1, &err) != 0)
            goto fail;
    }

    struct pgw_render_ctx rctx = {.config = r->config, .defer_certificates = 1}; /* issued when due: apply_secrets.c */
    pgw_reconcile_upgrade_prepare(r, cluster, defaulted, &upgrade);
    children = pgw_render_cluster(defaulted, &rctx);
    unown_credentials(children, name);
    struct pgw_volumes_outcome vol = {0}; /* live claim templates kept, claims grown, leftovers block */
    pgw_reconcile_volumes(r, cluster, defaulted, children, &vol, &out->writes);
    hold_statefulset_replicas(children, name, pgw_reconcile_rollout_hold(cluster, defaulted, pods));
    pgw_reconcile_upgrade_render(&upgrade, children);
    struct pgw_apply_stats st = {0};
    char *apply_err = NULL;
    if (pgw_apply_children(r->client, r->cache, uid != NULL ? uid : "", children, &st, &apply_err) != 0) {
        pgw_reconcile_event(r, cluster, "Warning", "ApplyFailed", apply_err, &out->writes);
        rc = -1;
    }
    out->writes += st.writes;
    if (rc == 0 && json_array_size(pods) > 0 && sync_patroni_parameters(r, cluster, defaulted, &out->writes, &err) != 0)
        rc = -1;

    sts = pgw_reconcile_fetch(r, r->statefulsets, "StatefulSet", ns, name, &failed);
    char *expected = pgw_inject_expected_hash(pgw_inject_sidecars_for_cluster(defaulted), r->config);
    struct pgw_status_input in = {.cluster = cluster,
                                  .valid = 1,
                                  .statefulset = sts,
                                  .pods = pods,
                                  .expected_injected = expected,
                                  .desired_instances =
                                      json_integer_value(json_object_get(json_object_get(defaulted, "spec"), "instances")),
                                  .children_written = st.writes,
                                  .apply_error = apply_err,
                                  .now = ts};
    status = pgw_cluster_status_compute(&in);
    pgw_reconcile_primary(r, cluster, pods, status, &out->writes);
    pgw_reconcile_volumes_status(cluster, &vol, status, ts, out);
    pgw_reconcile_requeue(out, pgw_reconcile_rollout(r, cluster, defaulted, pods, sts, expected, status, ts, &out->writes));
    free(expected);
    if (rc == 0 && pgw_reconcile_cluster_backups(r, cluster, defaulted, status, ts, &out->writes, &err) != 0)
        rc = -1;
    char *upgrade_err = NULL; /* runs even after an error above: it keeps status.runningPostgresVersion */
    if (pgw_reconcile_upgrade(r, cluster, &upgrade, pods, status, ts, out, &upgrade_err) != 0 && rc == 0) {
        rc = -1;
        err = upgrade_err;
        upgrade_err = NULL;
    }
    free(upgrade_err);
    pgw_reconcile_roles(r, cluster, defaulted, pods, status, ts, out); /* on the primary, once Running */
    phase_event(r, cluster, status, &out->writes);
    char *status_err = NULL;
    if (write_status(r, cluster, status, &out->writes, &status_err) != 0)
        rc = -1;
    if (rc != 0) {
        err = apply_err != NULL ? apply_err : err != NULL ? err : status_err;
        if (err != apply_err)
            free(apply_err);
        if (err != status_err)
            free(status_err);
        goto fail;
    }
    free(apply_err);
    free(status_err);
    goto done;

fail:
    rc = pgw_reconcile_failed(out, err);
    err = NULL;
done:
    free(err);
    free(invalid);
    pgw_reconcile_upgrade_dispose(&upgrade);
    json_decref(defaulted);
    json_decref(status);
    json_decref(children);
    json_decref(pods);
    json_decref(sts);
    json_decref(cluster);
    return rc;
}
