/*
 * PostgresCluster validation entry point (DESIGN.md §3).
 *
 * Checks what belongs to the whole object (its name, that spec is an object,
 * unknown spec fields, deletion protection on DELETE), then runs every section
 * validator so one request reports all of its problems at once.
 */
#include "validators/validators.h"

#include <string.h>

#include "common/config.h"
#include "validators/cluster.h"
#include "validators/fields.h"

static const char *const spec_fields[] = {
    "postgresVersion",
    "image",
    "instances",
    "storage",
    "resources",
    "postgres",
    "pooler",
    "metrics",
    "backup",
    "bootstrap",
    "affinity",
    "tls",
    "deletionProtection",
    "metadata",
    "replication",
    "rollout",
    "roles",
    "databases",
    "allowSuperuserRoles",
    NULL,
};

static void validate_delete(const json_t *old_object, struct pgw_errors *errs)
{
    json_t *protect = pgw_member(pgw_member(old_object, "spec"), "deletionProtection");
    if (json_is_true(protect))
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.deletionProtection", protect,
                       "deletion protection is enabled: set spec.deletionProtection to false, then delete the cluster");
}

static void validate_name(const json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    json_t *meta = pgw_member(object, "metadata");
    json_t *name = pgw_member(meta, "name");
    if (name == NULL && ctx->name != NULL && ctx->name[0] != '\0')
        return; /* the API server names it; ctx->name is validated below via the view */
    if (name == NULL && pgw_member(meta, "generateName") != NULL) {
        json_t *prefix = pgw_member(meta, "generateName");
        /* The API server appends 5 characters. */
        if (json_is_string(prefix) && json_string_length(prefix) + 5 > PGW_CLUSTER_NAME_MAX)
            pgw_errors_add(errs, PGW_ERR_TOO_LONG, "metadata.generateName", prefix,
                           "may not be more than %d bytes (the generated name must stay within %d)", PGW_CLUSTER_NAME_MAX - 5,
                           PGW_CLUSTER_NAME_MAX);
        return;
    }
    pgw_check_cluster_name(errs, "metadata.name", name);
}

void pgw_validate_postgrescluster(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                  struct pgw_errors *errs)
{
    if (object == NULL) {
        validate_delete(old_object, errs);
        return;
    }
    validate_name(object, ctx, errs);

    json_t *spec = pgw_member(object, "spec");
    if (!pgw_require_object(errs, "spec", spec))
        return;
    pgw_warn_unknown_fields(errs, "spec", spec, spec_fields);

    struct pgw_cluster_view c = {.object = object, .spec = spec, .ctx = ctx};
    json_t *name = pgw_member(pgw_member(object, "metadata"), "name");
    c.name = json_is_string(name) ? json_string_value(name) : (ctx->name ? ctx->name : "");
    json_t *version = pgw_member(spec, "postgresVersion");
    if (json_is_integer(version) && json_integer_value(version) >= PGW_PG_MAJOR_MIN &&
        json_integer_value(version) <= PGW_PG_MAJOR_MAX)
        c.major = (int)json_integer_value(version);
    json_t *instances = pgw_member(spec, "instances");
    if (json_is_integer(instances) && json_integer_value(instances) >= PGW_INSTANCES_MIN &&
        json_integer_value(instances) <= PGW_INSTANCES_MAX)
        c.instances = json_integer_value(instances);
    json_t *old_spec = pgw_member(old_object, "spec");
    c.old_spec = json_is_object(old_spec) ? old_spec : NULL;

    pgw_cluster_validate_version(&c, errs);
    pgw_cluster_validate_storage(&c, errs);
    pgw_cluster_validate_postgres(&c, errs);
    pgw_cluster_validate_pooler(&c, errs);
    pgw_cluster_validate_backup(&c, errs);
    pgw_cluster_validate_bootstrap(&c, errs);
    pgw_cluster_validate_affinity(&c, errs);
    pgw_cluster_validate_metadata(&c, errs);
    pgw_cluster_validate_replication(&c, errs);
    pgw_cluster_validate_rollout(&c, errs);
    pgw_cluster_validate_roles(&c, errs);
    if (old_object != NULL) {
        pgw_cluster_validate_update(&c, errs);
        pgw_cluster_warn_scale_down(&c, errs);
    }
}
