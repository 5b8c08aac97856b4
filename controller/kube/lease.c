/*
 * The Lease store behind leader election (contract in lease.h).
 *
 * Why separate from leader.c: the election state machine is pure and tested
 * with a fake store; this file is the only part that talks to the API server,
 * carrying resourceVersion so a lost race comes back as a 409 conflict
 * instead of two leaders.
 */
#include "controller/kube/lease.h"

#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"

static char *dup_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? pgw_strdup(s) : NULL;
}

int pgw_lease_from_json(const json_t *lease, struct pgw_lease_record *out)
{
    memset(out, 0, sizeof(*out));
    json_t *md = json_object_get(lease, "metadata"), *spec = json_object_get(lease, "spec");
    if (!json_is_object(md))
        return -1;
    out->resource_version = dup_str(md, "resourceVersion");
    if (json_is_object(spec)) {
        out->holder = dup_str(spec, "holderIdentity");
        out->duration = (int)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
        out->acquire_time = dup_str(spec, "acquireTime");
        out->renew_time = dup_str(spec, "renewTime");
        out->transitions = (int)json_integer_value(json_object_get(spec, "leaseTransitions"));
    }
    return 0;
}

json_t *pgw_lease_to_json(const struct pgw_lease_record *rec, const char *namespace_, const char *name)
{
    json_t *md = pgw_json_pack("{s:s,s:s}", "name", name, "namespace", namespace_);
    if (rec->resource_version != NULL && rec->resource_version[0] != '\0')
        json_object_set_new(md, "resourceVersion", json_string(rec->resource_version));
    json_t *spec = pgw_json_pack("{s:s,s:i,s:i}", "holderIdentity", rec->holder != NULL ? rec->holder : "", "leaseDurationSeconds",
                                 rec->duration, "leaseTransitions", rec->transitions);
    if (rec->acquire_time != NULL)
        json_object_set_new(spec, "acquireTime", json_string(rec->acquire_time));
    if (rec->renew_time != NULL)
        json_object_set_new(spec, "renewTime", json_string(rec->renew_time));
    return pgw_json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease", "metadata", md, "spec",
                         spec);
}

static int outcome_to_lease(int outcome)
{
    switch (outcome) {
    case PGW_K_OK:
        return PGW_LEASE_OK;
    case PGW_K_NOT_FOUND:
        return PGW_LEASE_NOT_FOUND;
    case PGW_K_CONFLICT:
        return PGW_LEASE_CONFLICT;
    default:
        return PGW_LEASE_ERROR;
    }
}

static int kube_get(void *ctx, struct pgw_lease_record *out)
{
    struct pgw_lease_kube *lk = ctx;
    struct pgw_kresult res;
    memset(out, 0, sizeof(*out));
    int rc = outcome_to_lease(pgw_kclient_get(lk->client, pgw_resource_find("Lease"), lk->namespace_, lk->name, &res));
    if (rc == PGW_LEASE_OK && pgw_lease_from_json(res.body, out) != 0)
        rc = PGW_LEASE_ERROR;
    pgw_kresult_dispose(&res);
    return rc;
}

/* Writes rec (create or update) and takes the new resourceVersion. */
static int kube_write(struct pgw_lease_kube *lk, struct pgw_lease_record *rec, int create)
{
    json_t *obj = pgw_lease_to_json(rec, lk->namespace_, lk->name);
    struct pgw_kresult res;
    const struct pgw_resource *r = pgw_resource_find("Lease");
    int outcome = create ? pgw_kclient_create(lk->client, r, lk->namespace_, obj, &res)
                         : pgw_kclient_update(lk->client, r, lk->namespace_, lk->name, NULL, obj, &res);
    int rc = outcome_to_lease(outcome);
    if (rc == PGW_LEASE_NOT_FOUND)
        rc = PGW_LEASE_CONFLICT; /* deleted under us: start over */
    if (rc == PGW_LEASE_OK) {
        const char *rv = json_string_value(json_object_get(json_object_get(res.body, "metadata"), "resourceVersion"));
        free(rec->resource_version);
        rec->resource_version = rv != NULL ? pgw_strdup(rv) : NULL;
    }
    pgw_kresult_dispose(&res);
    json_decref(obj);
    return rc;
}

static int kube_create(void *ctx, struct pgw_lease_record *rec)
{
    return kube_write(ctx, rec, 1);
}

static int kube_update(void *ctx, struct pgw_lease_record *rec)
{
    return kube_write(ctx, rec, 0);
}

void pgw_lease_kube_init(struct pgw_lease_kube *lk, struct pgw_kclient *client, const char *namespace_, const char *name,
                         struct pgw_lease_store *store)
{
    lk->client = client;
    lk->namespace_ = pgw_strdup(namespace_);
    lk->name = pgw_strdup(name);
    store->get = kube_get;
    store->create = kube_create;
    store->update = kube_update;
    store->ctx = lk;
}

void pgw_lease_kube_dispose(struct pgw_lease_kube *lk)
{
    free(lk->namespace_);
    free(lk->name);
    lk->namespace_ = lk->name = NULL;
}
