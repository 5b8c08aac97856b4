/*
 * spec.storage and spec.resources.
 *
 * Sizes are compared as exact Kubernetes quantities (common/quantity.h), so
 * "1Gi" vs "1024Mi" or "500m" vs "0.5" compare as the API server would.
 * Transitions (no shrink, immutable storage class) are in cluster_update.c.
 * spec.storage.onScaleDown (Retain|Delete) belongs to the cluster's volume
 * only, not to the repository volume or a restore's storage overrides.
 */
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
#include "common/xalloc.h"
#include "specs/operations.h"
#include "validators/cluster.h"
#include "validators/fields.h"

static const char *const storage_fields[] = {"size", "storageClass", "walSize", NULL};
/* The cluster's own data volume also says what a scale-down does with its claims. */
static const char *const cluster_storage_fields[] = {"size", "storageClass", "walSize", "onScaleDown", NULL};
static const char *const resources_fields[] = {"requests", "limits", "claims", NULL};

/* A positive volume size. */
static void check_size(struct pgw_errors *errs, const char *path, const json_t *v)
{
    struct pgw_quantity q, zero;
    const char *why;
    if (pgw_check_quantity(errs, path, v, &q) != 1)
        return;
    pgw_quantity_parse("0", &zero, &why);
    if (pgw_quantity_cmp(&q, &zero) <= 0)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be greater than zero");
}

static void check_storage(struct pgw_errors *errs, const char *path, const json_t *storage, const char *const *fields)
{
    if (!pgw_require_object(errs, path, storage))
        return;
    pgw_warn_unknown_fields(errs, path, storage, fields);
    char *p = pgw_path_child(path, "size");
    json_t *size = pgw_member(storage, "size");
    if (size == NULL)
        pgw_errors_add(errs, PGW_ERR_REQUIRED, p, NULL, NULL);
    else
        check_size(errs, p, size);
    free(p);
    p = pgw_path_child(path, "walSize");
    check_size(errs, p, pgw_member(storage, "walSize"));
    free(p);
    json_t *sc = pgw_member(storage, "storageClass");
    if (sc != NULL) {
        p = pgw_path_child(path, "storageClass");
        pgw_check_object_name(errs, p, sc);
        free(p);
    }
}

void pgw_cluster_check_storage(struct pgw_errors *errs, const char *path, const json_t *storage)
{
    check_storage(errs, path, storage, storage_fields);
}

/* Parses every member of requests/limits; fills `out` for cpu and memory lookups. */
static void check_resource_list(struct pgw_errors *errs, const char *path, const json_t *list)
{
    if (pgw_expect_object(errs, path, list) != 1)
        return;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)list, key, value)
    {
        char *p = pgw_path_key(path, key);
        struct pgw_quantity q, zero;
        const char *why;
        if (pgw_check_quantity(errs, p, value, &q) == 1) {
            pgw_quantity_parse("0", &zero, &why);
            if (pgw_quantity_cmp(&q, &zero) < 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, p, value, "must be greater than or equal to 0");
        }
        free(p);
    }
}

void pgw_cluster_check_resources(struct pgw_errors *errs, const char *path, const json_t *resources)
{
    if (pgw_expect_object(errs, path, resources) != 1)
        return;
    pgw_warn_unknown_fields(errs, path, resources, resources_fields);
    char *rp = pgw_path_child(path, "requests"), *lp = pgw_path_child(path, "limits");
    json_t *requests = pgw_member(resources, "requests"), *limits = pgw_member(resources, "limits");
    check_resource_list(errs, rp, requests);
    check_resource_list(errs, lp, limits);
    if (json_is_object(requests) && json_is_object(limits)) {
        const char *key;
        json_t *req;
        json_object_foreach(requests, key, req)
        {
            json_t *lim = json_object_get(limits, key);
            struct pgw_quantity rq, lq;
            const char *why;
            if (lim == NULL || !json_is_string(req) || !json_is_string(lim) ||
                pgw_quantity_parse(json_string_value(req), &rq, &why) != 0 ||
                pgw_quantity_parse(json_string_value(lim), &lq, &why) != 0)
                continue;
            if (pgw_quantity_cmp(&rq, &lq) > 0) {
                char *p = pgw_path_key(rp, key);
                pgw_errors_add(errs, PGW_ERR_INVALID, p, req, "must be less than or equal to %s limit of %s", key,
                               json_string_value(lim));
                free(p);
            }
        }
    }
    free(rp);
    free(lp);
}

void pgw_cluster_validate_storage(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const on_scale_down[] = {PGW_SCALE_DOWN_RETAIN, PGW_SCALE_DOWN_DELETE, NULL};
    json_t *storage = pgw_member(c->spec, "storage");
    check_storage(errs, "spec.storage", storage, cluster_storage_fields);
    json_t *osd = pgw_member(storage, "onScaleDown");
    if (osd != NULL)
        pgw_check_enum(errs, "spec.storage.onScaleDown", osd, on_scale_down);
    json_t *resources = pgw_member(c->spec, "resources");
    pgw_cluster_check_resources(errs, "spec.resources", resources);
    if (resources == NULL || pgw_member(pgw_member(resources, "limits"), "memory") == NULL)
        pgw_errors_warn(errs, "spec.resources: no memory limit; PostgreSQL may be OOM-killed with other pods on the node");
}
