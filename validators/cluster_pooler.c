/*
 * spec.pooler (the PgBouncer sidecar) and spec.metrics (postgres_exporter).
 */
#include <stdlib.h>
#include <string.h>

#include "validators/cluster.h"
#include "validators/fields.h"
#include "validators/pgbouncer_params.h"

static const char *const pool_modes[] = {"transaction", "session", "statement", NULL};

static void validate_pooler(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"enabled", "mode", "maxClientConnections", "defaultPoolSize", "parameters", NULL};
    json_t *pooler = pgw_member(c->spec, "pooler");
    if (pgw_expect_object(errs, "spec.pooler", pooler) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.pooler", pooler, fields);
    json_t *enabled = pgw_member(pooler, "enabled");
    pgw_expect_bool(errs, "spec.pooler.enabled", enabled);
    json_t *mode = pgw_member(pooler, "mode");
    if (mode != NULL && pgw_check_enum(errs, "spec.pooler.mode", mode, pool_modes) &&
        strcmp(json_string_value(mode), "statement") == 0)
        pgw_errors_warn(errs, "spec.pooler.mode: statement pooling breaks multi-statement transactions");
    json_t *max_client = pgw_member(pooler, "maxClientConnections");
    json_t *pool_size = pgw_member(pooler, "defaultPoolSize");
    int max_ok = max_client != NULL && pgw_check_int_range(errs, "spec.pooler.maxClientConnections", max_client, 1, 100000);
    int pool_ok = pool_size != NULL && pgw_check_int_range(errs, "spec.pooler.defaultPoolSize", pool_size, 1, 10000);
    if (max_ok && pool_ok && json_integer_value(pool_size) > json_integer_value(max_client))
        pgw_errors_add(errs, PGW_ERR_INVALID, "spec.pooler.defaultPoolSize", pool_size,
                       "must not exceed spec.pooler.maxClientConnections (%" JSON_INTEGER_FORMAT ")",
                       json_integer_value(max_client));
    if (pool_ok) {
        /* Every server connection of the pool is a PostgreSQL backend. */
        const char *mc =
            json_string_value(json_object_get(pgw_member(pgw_member(c->spec, "postgres"), "parameters"), "max_connections"));
        long max_connections = mc ? strtol(mc, NULL, 10) : 100;
        if (max_connections > 0 && json_integer_value(pool_size) > max_connections - 3)
            pgw_errors_warn(
                errs, "spec.pooler.defaultPoolSize: %" JSON_INTEGER_FORMAT " server connections may exhaust max_connections (%ld)",
                json_integer_value(pool_size), max_connections);
    }
    json_t *params = pgw_member(pooler, "parameters");
    pgw_pgbouncer_params_validate(params, "spec.pooler.parameters", errs);
    if (json_is_false(enabled) && (mode != NULL || params != NULL) && json_object_size(params) != 0)
        pgw_errors_warn(errs, "spec.pooler.parameters are ignored while spec.pooler.enabled is false");
}

static void validate_metrics(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"enabled", "customQueriesConfigMap", NULL};
    json_t *metrics = pgw_member(c->spec, "metrics");
    if (pgw_expect_object(errs, "spec.metrics", metrics) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.metrics", metrics, fields);
    json_t *enabled = pgw_member(metrics, "enabled");
    pgw_expect_bool(errs, "spec.metrics.enabled", enabled);
    json_t *cm = pgw_member(metrics, "customQueriesConfigMap");
    if (cm != NULL) {
        pgw_check_object_name(errs, "spec.metrics.customQueriesConfigMap", cm);
        if (json_is_false(enabled))
            pgw_errors_warn(errs, "spec.metrics.customQueriesConfigMap is ignored while spec.metrics.enabled is false");
    }
}

void pgw_cluster_validate_pooler(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    validate_pooler(c, errs);
    validate_metrics(c, errs);
}
