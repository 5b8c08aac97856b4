/*
 * PostgresBackup defaults (DESIGN.md §3): type full.
 */
#include "mutators/mutators.h"

#include "mutators/defaults.h"

void pgw_mutate_postgresbackup(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    (void)ctx;
    (void)errs;
    json_t *spec = pgw_default_object(object, "spec");
    pgw_default_set(spec, "type", json_string("full"));
}
