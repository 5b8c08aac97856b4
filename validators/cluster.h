/*
 * The PostgresCluster validator, split by spec section (one file each).
 *
 * validators/postgrescluster.c builds a view of the object once (name, the
 * valid major and instance count, the old spec on UPDATE) and hands it to each
 * section; every section reports all of its findings into the same
 * struct pgw_errors. Transitions (UPDATE-only rules) live in cluster_update.c.
 */
#ifndef PGW_VALIDATORS_CLUSTER_H
#define PGW_VALIDATORS_CLUSTER_H

#include <jansson.h>

#include "common/errors.h"
#include "common/request.h"

struct pgw_cluster_view {
    const json_t *object;   /* the new object (borrowed) */
    const json_t *spec;     /* its spec when an object, else NULL */
    const json_t *old_spec; /* the old spec on UPDATE when an object, else NULL */
    const char *name;       /* metadata.name, or the request name; "" when unknown */
    int major;              /* spec.postgresVersion when valid, else 0 */
    long long instances;    /* spec.instances when valid, else 0 */
    const struct pgw_request_ctx *ctx;
};

void pgw_cluster_validate_version(const struct pgw_cluster_view *c, struct pgw_errors *errs);  /* version, image, instances */
void pgw_cluster_validate_storage(const struct pgw_cluster_view *c, struct pgw_errors *errs);  /* storage, resources */
void pgw_cluster_validate_postgres(const struct pgw_cluster_view *c, struct pgw_errors *errs); /* parameters, pgHba */
void pgw_cluster_validate_pooler(const struct pgw_cluster_view *c, struct pgw_errors *errs);   /* pooler, metrics */
void pgw_cluster_validate_backup(const struct pgw_cluster_view *c, struct pgw_errors *errs);
void pgw_cluster_validate_bootstrap(const struct pgw_cluster_view *c, struct pgw_errors *errs);
void pgw_cluster_validate_affinity(const struct pgw_cluster_view *c,
                                   struct pgw_errors *errs); /* affinity, nodeSelector, tolerations */
void pgw_cluster_validate_metadata(const struct pgw_cluster_view *c, struct pgw_errors *errs);    /* spec.metadata, tls */
void pgw_cluster_validate_replication(const struct pgw_cluster_view *c, struct pgw_errors *errs); /* synchronous mode, HA timings */
void pgw_cluster_validate_update(const struct pgw_cluster_view *c, struct pgw_errors *errs);      /* UPDATE transitions */
void pgw_cluster_validate_rollout(const struct pgw_cluster_view *c, struct pgw_errors *errs);     /* spec.rollout */
void pgw_cluster_warn_scale_down(const struct pgw_cluster_view *c, struct pgw_errors *errs); /* UPDATE: what a scale-down removes */
void pgw_cluster_validate_roles(const struct pgw_cluster_view *c, struct pgw_errors *errs);  /* roles, databases, extensions */
/* Admission only (a request, not state): the pgwarden.io/rotate-password annotation when a request adds or changes it. */
void pgw_cluster_check_rotate_password(const json_t *object, const json_t *old_object, const char *cluster,
                                       struct pgw_errors *errs);

/* The canonical name of a PostgreSQL server encoding ("utf-8" → "UTF8"), or NULL (cluster_bootstrap.c). */
const char *pgw_cluster_find_encoding(const char *name);

/* Reused by PostgresRestore's newCluster overrides: `path` names the field. */
int pgw_cluster_check_instances(struct pgw_errors *errs, const char *path, const json_t *v);
void pgw_cluster_check_storage(struct pgw_errors *errs, const char *path, const json_t *storage);
void pgw_cluster_check_resources(struct pgw_errors *errs, const char *path, const json_t *resources);

#define PGW_INSTANCES_MIN 1
#define PGW_INSTANCES_MAX 16

#endif
