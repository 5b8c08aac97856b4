/*
 * The guard (see guard.h). The kind table is the single list of which
 * defaulter and validator belong to which kind; everything else here is the
 * order they run in: default a copy, validate only an object that defaulted
 * cleanly, hand back the copy or the errors.
 */
#include "validators/guard.h"

#include <time.h>

#include "common/object.h"

const struct pgw_guard_kind pgw_guard_pod = {
    .group = "",
    .kind = "Pod",
    .defaulter = pgw_mutate_pod,
    .copy_for_edit = pgw_pod_copy_for_edit,
};

const struct pgw_guard_kind pgw_guard_postgrescluster = {
    .group = "pgwarden.io",
    .kind = "PostgresCluster",
    .defaulter = pgw_mutate_postgrescluster,
    .validator = pgw_validate_postgrescluster,
    .request_validator = pgw_validate_postgrescluster_request,
};

const struct pgw_guard_kind pgw_guard_postgresbackup = {
    .group = "pgwarden.io",
    .kind = "PostgresBackup",
    .defaulter = pgw_mutate_postgresbackup,
    .validator = pgw_validate_postgresbackup,
};

const struct pgw_guard_kind pgw_guard_postgresrestore = {
    .group = "pgwarden.io",
    .kind = "PostgresRestore",
    .defaulter = pgw_mutate_postgresrestore,
    .validator = pgw_validate_postgresrestore,
};

json_t *pgw_guard_copy(const struct pgw_guard_kind *kind, const json_t *obj)
{
    return kind->copy_for_edit != NULL ? kind->copy_for_edit(obj) : json_deep_copy(obj);
}

struct pgw_request_ctx pgw_guard_ctx(const json_t *obj, const char *default_namespace, const struct pgw_config *config)
{
    const char *ns = pgw_obj_meta_str(obj, "namespace"), *name = pgw_obj_meta_str(obj, "name");
    return (struct pgw_request_ctx){
        .operation = "CREATE",
        .namespace = ns != NULL ? ns : default_namespace,
        .name = name != NULL ? name : "",
        .dry_run = 0,
        .now = time(NULL),
        .config = config,
    };
}

json_t *pgw_guard_run(const struct pgw_guard_kind *kind, const json_t *obj, const struct pgw_request_ctx *ctx,
                      struct pgw_errors *errs)
{
    json_t *copy = pgw_guard_copy(kind, obj);
    if (kind->defaulter != NULL)
        kind->defaulter(copy, ctx, errs);
    if (errs->count == 0 && kind->validator != NULL)
        kind->validator(copy, NULL, ctx, errs);
    if (errs->count != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

char *pgw_guard_check(const struct pgw_guard_kind *kind, const json_t *obj, const struct pgw_config *config, json_t **defaulted)
{
    struct pgw_request_ctx ctx = pgw_guard_ctx(obj, "", config);
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    *defaulted = pgw_guard_run(kind, obj, &ctx, &errs);
    char *message = *defaulted == NULL ? pgw_errors_join(&errs) : NULL;
    pgw_errors_dispose(&errs);
    return message;
}
