/*
 * What the reconciles of the three kinds share: reading an object (from a
 * store or the API server), listing by label, recording Events, writing a
 * status only when it changed, and turning a failure into an outcome.
 *
 * These used to live inside the cluster reconcile, which made the backup and
 * restore reconciles depend on it; here they depend on nothing but the
 * Kubernetes client and the stores.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/reconcile/reconcile.h"

void pgw_reconcile_event(struct pgw_reconciler *r, const json_t *obj, const char *type, const char *reason, const char *message,
                         int *writes)
{
    struct pgw_kresult res = {0};
    (*writes)++;
    if (pgw_kclient_event(r->client, obj, type, reason, message, &res) != PGW_K_OK)
        pgw_log(PGW_LOG_DEBUG, "cannot record an event", pgw_json_pack("{s:s,s:s?}", "reason", reason, "error", res.message));
    pgw_kresult_dispose(&res);
}

int pgw_reconcile_write_status(struct pgw_reconciler *r, const char *kind, const json_t *obj, const json_t *status, int *writes,
                               char **err)
{
    json_t *patch = pgw_cluster_status_patch(json_object_get(obj, "status"), status);
    if (patch == NULL)
        return 0;
    struct pgw_kresult res = {0};
    (*writes)++;
    int o = pgw_kclient_patch(r->client, pgw_resource_find(kind), pgw_obj_meta_str(obj, "namespace"), pgw_obj_meta_str(obj, "name"),
                              "status", PGW_PATCH_MERGE, patch, &res);
    json_decref(patch);
    int rc = o == PGW_K_OK || o == PGW_K_NOT_FOUND ? 0 : -1;
    if (rc != 0)
        *err = pgw_asprintf("writing the status: %s", res.message ? res.message : "failed");
    pgw_kresult_dispose(&res);
    return rc;
}

json_t *pgw_reconcile_fetch(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *ns, const char *name,
                            int *failed)
{
    if (store != NULL)
        return pgw_store_get(store, ns, name);
    struct pgw_kresult res = {0};
    int o = pgw_kclient_get(r->client, pgw_resource_find(kind), ns, name, &res);
    json_t *obj = o == PGW_K_OK ? json_incref(res.body) : NULL;
    if (o != PGW_K_OK && o != PGW_K_NOT_FOUND)
        *failed = 1;
    pgw_kresult_dispose(&res);
    return obj;
}

int pgw_reconcile_failed(struct pgw_reconcile_outcome *out, char *err)
{
    out->result = "error";
    out->error = err != NULL ? err : pgw_strdup("reconcile failed");
    return -1;
}

json_t *pgw_reconcile_begin(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *what, const char *ns,
                            const char *name, struct pgw_reconcile_outcome *out, int *rc)
{
    memset(out, 0, sizeof(*out));
    out->result = "success";
    int failed = 0;
    json_t *obj = pgw_reconcile_fetch(r, store, kind, ns, name, &failed);
    *rc = 0;
    if (obj == NULL && failed)
        *rc = pgw_reconcile_failed(out, pgw_asprintf("cannot read the %s", what));
    return obj;
}

json_t *pgw_reconcile_select(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *ns, const char *key,
                             const char *value, int *failed)
{
    if (store != NULL)
        return value != NULL ? pgw_store_select(store, ns, key, value) : pgw_store_list(store, ns);
    char *selector = value != NULL ? pgw_asprintf("%s=%s", key, value) : NULL;
    struct pgw_klist_options lo = {.label_selector = selector};
    struct pgw_kresult res = {0};
    json_t *items = NULL;
    if (pgw_kclient_list_all(r->client, pgw_resource_find(kind), ns, &lo, &res) == PGW_K_OK)
        items = json_incref(json_object_get(res.body, "items"));
    else
        *failed = 1;
    pgw_kresult_dispose(&res);
    free(selector);
    return json_is_array(items) ? items : (json_decref(items), json_array());
}

int pgw_reconcile_create_job(struct pgw_reconciler *r, const json_t *owner, const json_t *job, const char *reason, const char *what,
                             int *writes, char **err)
{
    const char *name = pgw_obj_meta_str(job, "name");
    struct pgw_kresult res = {0};
    (*writes)++;
    int o = pgw_kclient_create(r->client, pgw_resource_find("Job"), pgw_obj_meta_str(owner, "namespace"), job, &res);
    int rc = 0;
    if (o == PGW_K_OK) {
        char *msg = what != NULL ? pgw_asprintf("created Job %s: %s", name, what) : pgw_asprintf("created Job %s", name);
        pgw_reconcile_event(r, owner, "Normal", reason, msg, writes);
        free(msg);
    } else if (!(o == PGW_K_CONFLICT && res.reason != NULL && strcmp(res.reason, "AlreadyExists") == 0)) {
        *err = pgw_asprintf("creating Job %s: %s", name, res.message != NULL ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    return rc;
}

void pgw_reconcile_requeue(struct pgw_reconcile_outcome *out, double seconds)
{
    if (seconds > 0 && (out->requeue_after <= 0 || seconds < out->requeue_after))
        out->requeue_after = seconds;
}
