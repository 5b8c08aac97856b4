/*
 * spec.postgres: parameters and pgHba.
 *
 * Per-parameter checks (names, types, units, ranges, owned parameters) belong
 * to the catalog in validators/pg_params.c; this file adds the rules that need
 * the rest of the spec: replication needs wal_level ≥ replica and hot_standby,
 * shared_buffers must fit the memory limit, min_wal_size < max_wal_size, and
 * enough WAL senders for every replica.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
#include "common/xalloc.h"
#include "validators/cluster.h"
#include "validators/fields.h"
#include "validators/pg_hba.h"
#include "validators/pg_params.h"

static const char params_path[] = "spec.postgres.parameters";

static const char *param(const json_t *params, const char *name)
{
    return json_string_value(json_object_get(params, name));
}

static void add_param_error(struct pgw_errors *errs, const json_t *params, const char *name, const char *detail)
{
    char *p = pgw_path_key(params_path, name);
    pgw_errors_add(errs, PGW_ERR_INVALID, p, json_object_get(params, name), "%s", detail);
    free(p);
}

static void check_replication(const struct pgw_cluster_view *c, const json_t *params, struct pgw_errors *errs)
{
    if (c->instances <= 1)
        return;
    const char *wal_level = param(params, "wal_level");
    if (wal_level != NULL && strcmp(wal_level, "minimal") == 0)
        add_param_error(errs, params, "wal_level", "must be replica or logical when spec.instances > 1");
    const char *hot_standby = param(params, "hot_standby");
    if (hot_standby != NULL && (strcmp(hot_standby, "off") == 0 || strcmp(hot_standby, "false") == 0 ||
                                strcmp(hot_standby, "0") == 0 || strcmp(hot_standby, "no") == 0))
        add_param_error(errs, params, "hot_standby", "must be on when spec.instances > 1 (replicas must accept health checks)");
    const char *senders = param(params, "max_wal_senders");
    if (senders != NULL) {
        char *end = NULL;
        long n = strtol(senders, &end, 10);
        if (end != senders && *end == '\0' && n < c->instances) {
            char *detail = pgw_asprintf("must be at least spec.instances (%lld) so every replica can stream", c->instances);
            add_param_error(errs, params, "max_wal_senders", detail);
            free(detail);
        }
    }
}

static void check_memory(const struct pgw_cluster_view *c, const json_t *params, struct pgw_errors *errs)
{
    const char *sb = param(params, "shared_buffers");
    json_t *limit = pgw_member(pgw_member(pgw_member(c->spec, "resources"), "limits"), "memory");
    int64_t bytes;
    struct pgw_quantity q;
    const char *why;
    if (sb == NULL || !json_is_string(limit) || pgw_pg_param_bytes(c->major, "shared_buffers", sb, &bytes) != 0 ||
        pgw_quantity_parse(json_string_value(limit), &q, &why) != 0)
        return;
    if (bytes > pgw_quantity_value(&q)) {
        char *detail =
            pgw_asprintf("must not exceed the memory limit (spec.resources.limits.memory: %s)", json_string_value(limit));
        add_param_error(errs, params, "shared_buffers", detail);
        free(detail);
    }
}

static void check_wal_size(const struct pgw_cluster_view *c, const json_t *params, struct pgw_errors *errs)
{
    const char *min = param(params, "min_wal_size"), *max = param(params, "max_wal_size");
    if (min == NULL && max == NULL)
        return;
    /* PostgreSQL's defaults stand in for the one that is not set. */
    int64_t min_bytes, max_bytes;
    if (pgw_pg_param_bytes(c->major, "min_wal_size", min ? min : "80MB", &min_bytes) != 0 ||
        pgw_pg_param_bytes(c->major, "max_wal_size", max ? max : "1GB", &max_bytes) != 0)
        return;
    if (min_bytes >= max_bytes) {
        char *detail = pgw_asprintf("must be less than max_wal_size (%s)", max ? max : "1GB, the default");
        add_param_error(errs, params, min ? "min_wal_size" : "max_wal_size", min ? detail : "must be greater than min_wal_size");
        free(detail);
    }
}

static void check_parameters(const struct pgw_cluster_view *c, const json_t *params, struct pgw_errors *errs)
{
    if (pgw_expect_object(errs, params_path, params) != 1)
        return;
    int all_strings = 1;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)params, key, value)
    {
        if (!json_is_string(value)) {
            char *p = pgw_path_key(params_path, key);
            pgw_errors_add(errs, PGW_ERR_INVALID, p, value, "must be a string (quote numbers and booleans in YAML)");
            free(p);
            all_strings = 0;
        }
    }
    if (c->major == 0 || !all_strings)
        return; /* the catalog needs a valid major; type errors are already reported */
    pgw_pg_params_validate(params, c->major, params_path, errs);
    check_replication(c, params, errs);
    check_memory(c, params, errs);
    check_wal_size(c, params, errs);
}

static void check_pg_hba(const json_t *hba, struct pgw_errors *errs)
{
    static const char path[] = "spec.postgres.pgHba";
    if (pgw_expect_array(errs, path, hba) != 1)
        return;
    size_t i;
    json_t *line;
    json_array_foreach(hba, i, line)
    {
        char *p = pgw_path_index(path, i);
        if (pgw_expect_string(errs, p, line) == 1) {
            const char *why, *warning;
            char buf[256];
            enum pgw_hba_verdict v = pgw_pg_hba_check_line(json_string_value(line), &why, buf, sizeof(buf), &warning);
            if (v == PGW_HBA_INVALID)
                pgw_errors_add(errs, PGW_ERR_INVALID, p, line, "%s", why);
            else if (v == PGW_HBA_FORBIDDEN)
                pgw_errors_add(errs, PGW_ERR_FORBIDDEN, p, line, "%s", why);
            else if (warning != NULL)
                pgw_errors_warn(errs, "%s: %s", p, warning);
        }
        free(p);
    }
}

void pgw_cluster_validate_postgres(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"parameters", "pgHba", NULL};
    json_t *pg = pgw_member(c->spec, "postgres");
    if (pgw_expect_object(errs, "spec.postgres", pg) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.postgres", pg, fields);
    check_parameters(c, pgw_member(pg, "parameters"), errs);
    check_pg_hba(pgw_member(pg, "pgHba"), errs);
}
