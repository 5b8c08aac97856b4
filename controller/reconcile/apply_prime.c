/*
 * Priming the desired-hash cache from the live children (see apply.h).
 *
 * Why: after a restart or a leader handover the cache is cold. One paged LIST
 * per child kind, filtered on our managed-by label, refills it, so a cold
 * start costs a handful of LISTs instead of one GET per child, and a miss in
 * a primed cache can be written at once.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "controller/reconcile/apply.h"
#include "specs/pod_layout.h"
#include "specs/render_certs.h"

#define MANAGED_BY_US "app.kubernetes.io/managed-by=pgwarden"
#define PRIME_PAGE 500 /* items per LIST page: bounds one response, not the total */

/* The repository's claim is listed too: unprimed, every reconcile after a leader change created it
 * again and met a 409 (found on the test bed). */
const char *const pgw_apply_child_kinds[] = {
    "ServiceAccount", "Role",    "RoleBinding",           "Secret", "ConfigMap", "Service", "PodDisruptionBudget",
    "StatefulSet",    "CronJob", "PersistentVolumeClaim", NULL};

/* A child the cluster does not own (its credentials outlive it with its volumes) is the cluster's of
 * its pgwarden.io/cluster label: the uids of the clusters of ns (NULL: all), as {namespace: {name: uid}}. */
static json_t *cluster_uids(struct pgw_kclient *client, const char *ns, char **err)
{
    struct pgw_klist_options lo = {.limit = PRIME_PAGE};
    struct pgw_kresult r = {0};
    if (pgw_kclient_list_all(client, pgw_resource_find("PostgresCluster"), ns, &lo, &r) != PGW_K_OK) {
        *err = pgw_asprintf("listing PostgresCluster: %s", r.message != NULL ? r.message : "failed");
        pgw_kresult_dispose(&r);
        return NULL;
    }
    json_t *out = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r.body, "items"), i, item)
    {
        const json_t *meta = json_object_get(item, "metadata");
        const char *cns = json_string_value(json_object_get(meta, "namespace"));
        const char *name = json_string_value(json_object_get(meta, "name"));
        const char *uid = json_string_value(json_object_get(meta, "uid"));
        if (cns == NULL || name == NULL || uid == NULL)
            continue;
        json_t *per_ns = json_object_get(out, cns);
        if (per_ns == NULL)
            json_object_set_new(out, cns, per_ns = json_object());
        json_object_set_new(per_ns, name, json_string(uid));
    }
    pgw_kresult_dispose(&r);
    return out;
}

/* A Secret is remembered with its keys (a Secret missing one it should carry is completed, see
 * apply_secrets.c), and a certificate Secret judged from the listed data: one that is good is not read
 * again before it falls due, one that is not is left out and renewed by the next reconcile. */
static void remember_secret(struct pgw_apply_cache *c, const char *uid, const char *ns, const char *name, const json_t *item)
{
    char *keys = pgw_apply_secret_keys(item);
    pgw_apply_cache_remember(c, uid, "Secret", ns, name, keys);
    free(keys);
    if (pgw_render_certificate_kind(item) == NULL)
        return;
    json_t *data = pgw_apply_secret_data(item);
    time_t renew_at = 0;
    if (pgw_render_certificate_problem(item, data, time(NULL), &renew_at) == NULL)
        pgw_apply_remember_certificate(c, uid, ns, name, renew_at);
    json_decref(data);
}

static int prime_kind(struct pgw_apply_cache *c, struct pgw_kclient *client, const char *kind, const char *ns, const json_t *uids,
                      long *children, char **err)
{
    const struct pgw_resource *res = pgw_resource_find(kind);
    struct pgw_klist_options lo = {.label_selector = MANAGED_BY_US, .limit = PRIME_PAGE};
    struct pgw_kresult r = {0};
    if (res == NULL || pgw_kclient_list_all(client, res, ns, &lo, &r) != PGW_K_OK) {
        *err = pgw_asprintf("listing %s: %s", kind, r.message != NULL ? r.message : "unknown kind");
        pgw_kresult_dispose(&r);
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(r.body, "items"), i, item)
    {
        const json_t *meta = json_object_get(item, "metadata");
        const char *uid = pgw_controller_uid(item, "PostgresCluster"), *hash = pgw_apply_live_hash(item);
        const char *name = json_string_value(json_object_get(meta, "name"));
        const json_t *clusters = json_object_get(uids, json_string_value(json_object_get(meta, "namespace")));
        if (uid == NULL && !pgw_apply_owned(item)) /* owned by nothing: kept with the volumes (reconcile_cluster.c) */
            uid = json_string_value(json_object_get(
                clusters, json_string_value(json_object_get(json_object_get(meta, "labels"), PGW_POD_LABEL_CLUSTER))));
        if (uid == NULL || hash == NULL || name == NULL)
            continue; /* not ours, or never applied by us: a reconcile writes it */
        const char *ins = json_string_value(json_object_get(meta, "namespace"));
        if (strcmp(kind, "Secret") == 0)
            remember_secret(c, uid, ins, name, item);
        else
            pgw_apply_cache_remember(c, uid, kind, ins, name, hash);
        (*children)++;
    }
    pgw_kresult_dispose(&r);
    return 0;
}

int pgw_apply_cache_prime(struct pgw_apply_cache *c, struct pgw_kclient *client, const char *namespaces, long *children, char **err)
{
    *children = 0;
    pgw_apply_cache_reset(c);
    char *list = pgw_strdup(namespaces != NULL ? namespaces : "");
    char *save = NULL, *ns = strtok_r(list, ", ", &save); /* NULL: one pass over all namespaces */
    int rc = 0;
    do {
        json_t *uids = cluster_uids(client, ns, err);
        rc = uids != NULL ? 0 : -1;
        for (const char *const *kind = pgw_apply_child_kinds; rc == 0 && *kind != NULL; ++kind)
            rc = prime_kind(c, client, *kind, ns, uids, children, err);
        json_decref(uids);
    } while (rc == 0 && ns != NULL && (ns = strtok_r(NULL, ", ", &save)) != NULL);
    free(list);
    if (rc != 0)
        return -1; /* the entries found are right; unprimed, every miss is read before it is written */
    pgw_apply_cache_set_primed(c);
    return 0;
}
