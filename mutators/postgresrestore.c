/*
 * PostgresRestore defaults (DESIGN.md §3): the new cluster takes the restore's
 * name unless one is given.
 */
#include "mutators/mutators.h"

#include "mutators/defaults.h"

void pgw_mutate_postgresrestore(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    (void)errs;
    json_t *spec = pgw_default_object(object, "spec");
    json_t *meta = pgw_existing_object(object, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (name == NULL || name[0] == '\0')
        name = ctx->name;
    if (name == NULL || name[0] == '\0')
        return; /* generateName: the API server picks the name later */
    json_t *nc = pgw_default_object(spec, "newCluster");
    pgw_default_set(nc, "name", json_string(name));
}
