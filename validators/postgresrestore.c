/*
 * PostgresRestore validation (DESIGN.md §3): restore a cluster's backups into a
 * NEW cluster, optionally to a point in time. The source is never touched, so
 * the new cluster's name must differ from the source's. The spec is immutable.
 *
 * newCluster may carry a few overrides for the new cluster (instances, storage,
 * resources), checked with the PostgresCluster rules.
 */
#include "validators/validators.h"

#include <string.h>

#include "validators/cluster.h"
#include "validators/fields.h"
#include "validators/restore_target.h"

static const char *const fields[] = {"source", "target", "newCluster", NULL};
static const char *const source_fields[] = {"cluster", "backup", NULL};
static const char *const new_cluster_fields[] = {"name", "instances", "storage", "resources", NULL};

void pgw_validate_postgresrestore(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                  struct pgw_errors *errs)
{
    if (object == NULL)
        return;
    json_t *spec = pgw_member(object, "spec");
    if (!pgw_require_object(errs, "spec", spec))
        return;
    pgw_warn_unknown_fields(errs, "spec", spec, fields);

    json_t *source = pgw_member(spec, "source"), *cluster = NULL;
    if (pgw_require_object(errs, "spec.source", source)) {
        pgw_warn_unknown_fields(errs, "spec.source", source, source_fields);
        cluster = pgw_member(source, "cluster");
        if (!pgw_check_cluster_name(errs, "spec.source.cluster", cluster))
            cluster = NULL;
        json_t *backup = pgw_member(source, "backup");
        if (backup != NULL)
            pgw_check_object_name(errs, "spec.source.backup", backup);
    }

    pgw_restore_target_validate(pgw_member(spec, "target"), "spec.target", ctx, errs);

    json_t *nc = pgw_member(spec, "newCluster");
    if (pgw_require_object(errs, "spec.newCluster", nc)) {
        pgw_warn_unknown_fields(errs, "spec.newCluster", nc, new_cluster_fields);
        json_t *name = pgw_member(nc, "name");
        if (pgw_check_cluster_name(errs, "spec.newCluster.name", name) && cluster != NULL && json_equal(name, cluster))
            pgw_errors_add(errs, PGW_ERR_INVALID, "spec.newCluster.name", name,
                           "must differ from spec.source.cluster: a restore creates a new cluster and never touches "
                           "its source");
        pgw_cluster_check_instances(errs, "spec.newCluster.instances", pgw_member(nc, "instances"));
        json_t *storage = pgw_member(nc, "storage");
        if (storage != NULL)
            pgw_cluster_check_storage(errs, "spec.newCluster.storage", storage);
        pgw_cluster_check_resources(errs, "spec.newCluster.resources", pgw_member(nc, "resources"));
    }
    if (old_object != NULL)
        pgw_check_immutable(errs, "spec", spec, pgw_member(old_object, "spec"));
}
