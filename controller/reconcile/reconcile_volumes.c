/*
 * A cluster's volumes during its reconcile (reconcile_volumes.h; decisions in
 * controller/decide/volumes.h).
 *
 * Claim templates are immutable: applying a StatefulSet whose templates
 * changed fails, and with it every later step of the reconcile. So once the
 * StatefulSet exists, the rendered one carries the live templates (in the
 * shape we render them, so the desired hash of an unchanged cluster stays the
 * same and costs no write), and a bigger size is carried out on the claims.
 *
 * Cost: the claims are listed only while something may be left to do. Once
 * every claim of every instance has the spec's size, "<size>|<walSize>|
 * <instances>" is remembered in the apply cache, and the steady state reads
 * nothing. Claims grow without an event on the cluster, so while they resize
 * the cluster is looked at again every few seconds (every minute while a class
 * refuses). A claim not bound yet needs no such look: its pod's events bring
 * the cluster back.
 *
 * Leftovers are looked for only before the StatefulSet exists: once it does,
 * its pods have mounted whatever claims were there.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/volumes.h"
#include "controller/reconcile/reconcile_volumes.h"
#include "specs/operations.h"
#include "specs/render_meta.h"

/* Apply-cache entry: the sizes and instance count at which every claim was last seen at its size. */
#define SETTLED_KIND "VolumesSettled"
/* Apply-cache entry under a condition type: the message last raised as an Event. */
#define EVENT_KIND "VolumesEvent"
/* Apply-cache entry under a StatefulSet's uid: its claim templates as JSON. */
#define TEMPLATES_KIND "ClaimTemplates"
#define RESIZE_REQUEUE_SECONDS 5.0
#define BLOCKED_REQUEUE_SECONDS 10.0
#define UNSUPPORTED_REQUEUE_SECONDS 60.0

static void set_condition(struct pgw_volumes_outcome *vol, const char *type, const char *status, const char *reason,
                          const char *message)
{
    free(vol->message);
    vol->type = type;
    vol->status = status;
    vol->reason = reason;
    vol->message = pgw_strdup(message != NULL ? message : "");
}

static void requeue(struct pgw_volumes_outcome *vol, double seconds)
{
    if (vol->requeue_after <= 0 || seconds < vol->requeue_after)
        vol->requeue_after = seconds;
}

/*
 * An Event unless it was raised for this message already: the stored
 * condition says it, or, since a reconcile right after a status write may read
 * a store the watch has not updated yet, the apply cache remembers it (found
 * on the test bed: LeftoverClaims raised twice).
 */
static void event_once(struct pgw_reconciler *r, const json_t *cluster, const char *type, const char *event_type,
                       const char *reason, const char *message, int *writes)
{
    const json_t *old = pgw_cluster_status_condition(json_object_get(cluster, "status"), type);
    const char *was = json_string_value(json_object_get(old, "message"));
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *uid = pgw_obj_meta_str(cluster, "uid");
    int cached = uid != NULL && r->cache != NULL;
    if ((was != NULL && strcmp(was, message) == 0) ||
        (cached && pgw_apply_cache_seen(r->cache, uid, EVENT_KIND, ns, type, message)))
        return;
    pgw_reconcile_event(r, cluster, event_type, reason, message, writes);
    if (cached)
        pgw_apply_cache_remember(r->cache, uid, EVENT_KIND, ns, type, message);
}

static json_t *statefulset_child(json_t *children, size_t *index)
{
    size_t i;
    json_t *child;
    json_array_foreach(children, i, child)
    {
        const char *kind = json_string_value(json_object_get(child, "kind"));
        if (kind != NULL && strcmp(kind, "StatefulSet") == 0) {
            *index = i;
            return child;
        }
    }
    return NULL;
}

static void drop_statefulset(json_t *children)
{
    size_t i;
    if (statefulset_child(children, &i) != NULL)
        json_array_remove(children, i);
}

/* A live StatefulSet's templates, reduced to the members we render (the API adds volumeMode, status...). */
static json_t *reduce_templates(const json_t *templates)
{
    json_t *kept = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(templates, i, t)
    {
        json_t *meta = json_object(), *spec = json_object();
        static const char *const meta_keys[] = {"name", "labels", "annotations", NULL};
        static const char *const spec_keys[] = {"accessModes", "resources", "storageClassName", NULL};
        for (const char *const *k = meta_keys; *k != NULL; ++k) {
            json_t *v = json_object_get(json_object_get(t, "metadata"), *k);
            if (v != NULL)
                json_object_set(meta, *k, v);
        }
        for (const char *const *k = spec_keys; *k != NULL; ++k) {
            json_t *v = json_object_get(json_object_get(t, "spec"), *k);
            if (v != NULL)
                json_object_set(spec, *k, v);
        }
        json_array_append_new(kept, pgw_json_pack("{s:o,s:o}", "metadata", meta, "spec", spec));
    }
    return kept;
}

/*
 * The live StatefulSet's claim templates (reduced), or NULL when they cannot
 * be read. The store drops templates (controller/kube/trim.c), so they are
 * read once per StatefulSet and kept in the apply cache under its uid: they
 * never change while it lives.
 */
static json_t *live_templates(struct pgw_reconciler *r, const json_t *cluster, const json_t *live)
{
    const json_t *templates = pgw_obj_at(live, "spec.volumeClaimTemplates");
    if (json_is_array(templates))
        return reduce_templates(templates);
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const char *uid = pgw_obj_meta_str(cluster, "uid"), *sts_uid = pgw_obj_meta_str(live, "uid");
    int cached = uid != NULL && sts_uid != NULL && r->cache != NULL;
    char *text = cached ? pgw_apply_cache_lookup(r->cache, uid, TEMPLATES_KIND, ns, sts_uid) : NULL;
    json_t *out = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (out != NULL)
        return out;
    struct pgw_kresult res = {0};
    if (pgw_kclient_get(r->client, pgw_resource_find("StatefulSet"), ns, name, &res) == PGW_K_OK &&
        json_is_array(pgw_obj_at(res.body, "spec.volumeClaimTemplates"))) {
        out = reduce_templates(pgw_obj_at(res.body, "spec.volumeClaimTemplates"));
        text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
        if (cached && text != NULL)
            pgw_apply_cache_remember(r->cache, uid, TEMPLATES_KIND, ns, sts_uid, text);
        free(text);
    }
    pgw_kresult_dispose(&res);
    return out;
}

/* The rendered StatefulSet gets the live templates; without them it is not applied this time (0 or -1). */
static int keep_live_templates(struct pgw_reconciler *r, const json_t *cluster, json_t *children, const json_t *live)
{
    size_t at;
    json_t *sts = statefulset_child(children, &at);
    if (sts == NULL)
        return 0;
    json_t *kept = live_templates(r, cluster, live);
    if (kept == NULL) {
        json_array_remove(children, at);
        return -1;
    }
    json_object_set_new(json_object_get(sts, "spec"), "volumeClaimTemplates", kept);
    return 0;
}

static json_t *list_claims(struct pgw_reconciler *r, const char *ns, int *failed)
{
    return pgw_reconcile_select(r, NULL, "PersistentVolumeClaim", ns, NULL, NULL, failed);
}

/* --- growth ------------------------------------------------------------------- */

/* Reads each named StorageClass into classes (absent ones as {}: they allow nothing). -1 when the API cannot say. */
static int read_classes(struct pgw_reconciler *r, const json_t *names, json_t *classes)
{
    const struct pgw_resource *sc = pgw_resource_find("StorageClass");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        struct pgw_kresult res = {0};
        int o = pgw_kclient_get(r->client, sc, NULL, json_string_value(n), &res);
        if (o == PGW_K_OK)
            json_object_set(classes, json_string_value(n), res.body);
        else if (o == PGW_K_NOT_FOUND)
            json_object_set_new(classes, json_string_value(n), json_object());
        else
            pgw_log(PGW_LOG_WARN, "cannot read a StorageClass",
                    pgw_json_pack("{s:s,s:s?}", "storageClass", json_string_value(n), "error", res.message));
        pgw_kresult_dispose(&res);
        if (o != PGW_K_OK && o != PGW_K_NOT_FOUND)
            return -1;
    }
    return 0;
}

/* Patches each claim's request. Returns how many failed. */
static int grow_claims(struct pgw_reconciler *r, const json_t *cluster, const json_t *grow, int *writes)
{
    const struct pgw_resource *pvc = pgw_resource_find("PersistentVolumeClaim");
    const char *ns = pgw_obj_meta_str(cluster, "namespace");
    int failures = 0;
    size_t i;
    json_t *g;
    json_array_foreach(grow, i, g)
    {
        const char *claim = json_string_value(json_object_get(g, "name")), *size = json_string_value(json_object_get(g, "size"));
        json_t *patch = pgw_json_pack("{s:{s:{s:{s:s}}}}", "spec", "resources", "requests", "storage", size);
        struct pgw_kresult res = {0};
        (*writes)++;
        char *msg;
        if (pgw_kclient_patch(r->client, pvc, ns, claim, NULL, PGW_PATCH_MERGE, patch, &res) == PGW_K_OK) {
            msg = pgw_asprintf("claim %s asked to grow to %s", claim, size);
            pgw_reconcile_event(r, cluster, "Normal", "VolumeResizing", msg, writes);
        } else {
            failures++;
            msg = pgw_asprintf("growing claim %s to %s: %s", claim, size, res.message != NULL ? res.message : "failed");
            event_once(r, cluster, "VolumeResizeFailed", "Warning", "VolumeResizeFailed", msg,
                       writes); /* tried every few seconds */
        }
        free(msg);
        pgw_kresult_dispose(&res);
        json_decref(patch);
    }
    return failures;
}

static void grow(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, struct pgw_volumes_outcome *vol,
                 int *writes)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    const char *size = json_string_value(pgw_cluster_spec(defaulted, "storage.size"));
    const char *wal = json_string_value(pgw_cluster_spec(defaulted, "storage.walSize"));
    char *settled = pgw_asprintf("%s|%s|%lld", size != NULL ? size : "", wal != NULL ? wal : "",
                                 pgw_cluster_spec_int(defaulted, "instances", 1));
    if (uid != NULL && r->cache != NULL && pgw_apply_cache_seen(r->cache, uid, SETTLED_KIND, ns, name, settled)) {
        free(settled);
        return;
    }
    int failed = 0;
    json_t *claims = list_claims(r, ns, &failed), *classes = json_object();
    struct pgw_volumes_growth plan = {0};
    const json_t *old_status = json_object_get(cluster, "status");
    if (failed) {
        requeue(vol, RESIZE_REQUEUE_SECONDS);
        goto out;
    }
    pgw_volumes_plan_growth(defaulted, old_status, claims, classes, &plan);
    if (json_array_size(plan.classes) > 0) {
        if (read_classes(r, plan.classes, classes) != 0) {
            requeue(vol, RESIZE_REQUEUE_SECONDS);
            goto out;
        }
        pgw_volumes_growth_dispose(&plan);
        pgw_volumes_plan_growth(defaulted, old_status, claims, classes, &plan);
    }
    if (grow_claims(r, cluster, plan.grow, writes) > 0)
        requeue(vol, RESIZE_REQUEUE_SECONDS);
    if (plan.status != NULL) {
        set_condition(vol, PGW_CONDITION_VOLUMES_RESIZED, plan.status, plan.reason, plan.message);
        if (strcmp(plan.reason, PGW_REASON_EXPANSION_NOT_SUPPORTED) == 0)
            event_once(r, cluster, PGW_CONDITION_VOLUMES_RESIZED, "Warning", PGW_REASON_EXPANSION_NOT_SUPPORTED, plan.message,
                       writes);
    }
    if (plan.settled && uid != NULL && r->cache != NULL)
        pgw_apply_cache_remember(r->cache, uid, SETTLED_KIND, ns, name, settled);
    else if (!plan.settled && plan.reason != NULL && strcmp(plan.reason, PGW_REASON_RESIZED) != 0)
        requeue(vol, plan.reason != NULL && strcmp(plan.reason, PGW_REASON_EXPANSION_NOT_SUPPORTED) == 0
                         ? UNSUPPORTED_REQUEUE_SECONDS
                         : RESIZE_REQUEUE_SECONDS);
out:
    pgw_volumes_growth_dispose(&plan);
    json_decref(classes);
    json_decref(claims);
    free(settled);
}

/* --- leftovers ---------------------------------------------------------------- */

/* Labels adopted claims with this cluster's uid: they are its own from now on. 0 or -1. */
static int relabel(struct pgw_reconciler *r, const json_t *cluster, const json_t *names, int *writes)
{
    const struct pgw_resource *pvc = pgw_resource_find("PersistentVolumeClaim");
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *uid = pgw_obj_meta_str(cluster, "uid");
    json_t *patch = pgw_json_pack("{s:{s:{s:s}}}", "metadata", "labels", PGW_LABEL_CLUSTER_UID, uid != NULL ? uid : "");
    int rc = 0;
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        struct pgw_kresult res = {0};
        (*writes)++;
        if (pgw_kclient_patch(r->client, pvc, ns, json_string_value(n), NULL, PGW_PATCH_MERGE, patch, &res) != PGW_K_OK) {
            pgw_log(PGW_LOG_WARN, "cannot label an adopted claim",
                    pgw_json_pack("{s:s,s:s?}", "claim", json_string_value(n), "error", res.message));
            rc = -1;
        }
        pgw_kresult_dispose(&res);
    }
    json_decref(patch);
    return rc;
}

/*
 * The StatefulSet is this cluster's: its claims are in use, so a VolumesReady still False is stale.
 * Other conditions are carried over from the status read, and a reconcile reading a store older
 * than its own last write carried LeftoverClaims back over Adopted, for good (found on the test bed).
 */
static void settle_volumes_ready(const json_t *cluster, struct pgw_volumes_outcome *vol)
{
    const json_t *ready = pgw_cluster_status_condition(json_object_get(cluster, "status"), PGW_CONDITION_VOLUMES_READY);
    const char *status = json_string_value(json_object_get(ready, "status"));
    if (ready == NULL || (status != NULL && strcmp(status, "True") == 0))
        return;
    const char *adopt =
        json_string_value(json_object_get(json_object_get(pgw_obj_meta(cluster), "annotations"), PGW_ANNOTATION_ADOPT_VOLUMES));
    if (adopt != NULL && strcmp(adopt, "true") == 0)
        set_condition(vol, PGW_CONDITION_VOLUMES_READY, "True", PGW_REASON_ADOPTED,
                      "the claims of an earlier cluster of this name were adopted");
    else
        set_condition(vol, PGW_CONDITION_VOLUMES_READY, "True", "NoLeftoverClaims",
                      "no claim of an earlier cluster of this name is left");
}

static void check_leftovers(struct pgw_reconciler *r, const json_t *cluster, json_t *children, struct pgw_volumes_outcome *vol,
                            int *writes)
{
    int failed = 0;
    json_t *claims = list_claims(r, pgw_obj_meta_str(cluster, "namespace"), &failed);
    if (failed) { /* the StatefulSet would mount whatever is there */
        drop_statefulset(children);
        requeue(vol, RESIZE_REQUEUE_SECONDS);
        json_decref(claims);
        return;
    }
    struct pgw_volumes_leftovers l;
    pgw_volumes_check_leftovers(cluster, claims, &l);
    const json_t *old = pgw_cluster_status_condition(json_object_get(cluster, "status"), PGW_CONDITION_VOLUMES_READY);
    switch (l.verdict) {
    case PGW_VOLUMES_OWN:
        if (old != NULL)
            set_condition(vol, PGW_CONDITION_VOLUMES_READY, "True", "NoLeftoverClaims",
                          "no claim of an earlier cluster of this name is left");
        break;
    case PGW_VOLUMES_ADOPT:
        if (relabel(r, cluster, l.claims, writes) != 0) {
            drop_statefulset(children);
            requeue(vol, RESIZE_REQUEUE_SECONDS);
            break;
        }
        pgw_reconcile_event(r, cluster, "Normal", "VolumesAdopted", l.message, writes);
        set_condition(vol, PGW_CONDITION_VOLUMES_READY, "True", PGW_REASON_ADOPTED, l.message);
        break;
    case PGW_VOLUMES_BLOCKED:
        drop_statefulset(children);
        event_once(r, cluster, PGW_CONDITION_VOLUMES_READY, "Warning", PGW_REASON_LEFTOVER_CLAIMS, l.message, writes);
        set_condition(vol, PGW_CONDITION_VOLUMES_READY, "False", PGW_REASON_LEFTOVER_CLAIMS, l.message);
        requeue(vol, BLOCKED_REQUEUE_SECONDS);
        break;
    }
    pgw_volumes_leftovers_dispose(&l);
    json_decref(claims);
}

void pgw_reconcile_volumes(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, json_t *children,
                           struct pgw_volumes_outcome *vol, int *writes)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    int failed = 0;
    json_t *live = pgw_reconcile_fetch(r, r->statefulsets, "StatefulSet", ns, name, &failed);
    const char *owner = live != NULL ? pgw_controller_uid(live, "PostgresCluster") : NULL;
    if (failed) {
        drop_statefulset(children);
        requeue(vol, RESIZE_REQUEUE_SECONDS);
    } else if (live != NULL && owner != NULL && uid != NULL && strcmp(owner, uid) != 0) {
        /* an earlier cluster's, not collected yet: applying would take it over */
        drop_statefulset(children);
        requeue(vol, RESIZE_REQUEUE_SECONDS);
    } else if (live != NULL) {
        if (keep_live_templates(r, cluster, children, live) != 0)
            requeue(vol, RESIZE_REQUEUE_SECONDS);
        grow(r, cluster, defaulted, vol, writes);
        if (vol->type == NULL)
            settle_volumes_ready(cluster, vol);
    } else {
        check_leftovers(r, cluster, children, vol, writes);
    }
    json_decref(live);
}

void pgw_reconcile_volumes_status(const json_t *cluster, struct pgw_volumes_outcome *vol, json_t *status, const char *now,
                                  struct pgw_reconcile_outcome *out)
{
    if (vol->type != NULL)
        pgw_cluster_status_set_condition(status, json_object_get(cluster, "status"), vol->type, vol->status, vol->reason,
                                         vol->message, json_integer_value(pgw_obj_at(cluster, "metadata.generation")), now);
    pgw_reconcile_requeue(out, vol->requeue_after);
    free(vol->message);
    *vol = (struct pgw_volumes_outcome){0};
}
