/*
 * PostgresCluster defaults (DESIGN.md §3), each applied only where unset, so
 * defaulting a defaulted object changes nothing.
 *
 * Sections the user did not mention at all are created with their defaults
 * (pooler, metrics, affinity, bootstrap initdb, rollout). Sections that only make sense
 * when chosen (backup, tls, a restore bootstrap) are completed but never
 * invented. The backup path needs the namespace: the request's, else the
 * object's; with neither (an offline manifest without a namespace) it is left
 * for the API server round.
 */
#include "mutators/mutators.h"

#include <stdlib.h>

#include "common/xalloc.h"
#include "mutators/defaults.h"
#include "specs/operations.h"

#define DEFAULT_POSTGRES_VERSION 18

static const char *string_or(const json_t *v, const char *fallback)
{
    const char *s = json_string_value(v);
    return s != NULL && s[0] != '\0' ? s : fallback;
}

static void default_backup(json_t *object, json_t *spec, const struct pgw_request_ctx *ctx)
{
    json_t *backup = pgw_existing_object(spec, "backup");
    if (backup == NULL)
        return;
    json_t *meta = pgw_existing_object(object, "metadata");
    const char *ns =
        ctx->namespace != NULL && ctx->namespace[0] ? ctx->namespace : string_or(json_object_get(meta, "namespace"), NULL);
    const char *name = string_or(json_object_get(meta, "name"), ctx->name != NULL && ctx->name[0] ? ctx->name : NULL);
    if (ns != NULL && name != NULL) {
        char *path = pgw_asprintf("/%s/%s", ns, name);
        pgw_default_set(backup, "path", json_string(path));
        free(path);
    }
    json_t *retention = pgw_default_object(backup, "retention");
    pgw_default_set(retention, "full", json_integer(2));
    pgw_default_set(retention, "fullType", json_string("count"));
    pgw_default_set(retention, "diff", json_integer(6));
    json_t *s3 = pgw_existing_object(pgw_existing_object(backup, "repository"), "s3");
    pgw_default_set(s3, "uriStyle", json_string("host"));
}

static void default_bootstrap(json_t *spec)
{
    json_t *bootstrap = pgw_existing_object(spec, "bootstrap");
    json_t *bv = json_object_get(spec, "bootstrap");
    if (bv != NULL && !json_is_null(bv) && bootstrap == NULL)
        return; /* not an object: validation reports it */
    json_t *initdb;
    if (bootstrap == NULL) {
        bootstrap = pgw_default_object(spec, "bootstrap");
        initdb = pgw_default_object(bootstrap, "initdb");
    } else {
        json_t *restore = json_object_get(bootstrap, "restore");
        json_t *iv = json_object_get(bootstrap, "initdb");
        if ((iv == NULL || json_is_null(iv)) && restore != NULL && !json_is_null(restore))
            return; /* a restore bootstrap has no initdb defaults */
        /* An empty bootstrap {} is completed as initdb. */
        initdb = pgw_default_object(bootstrap, "initdb");
    }
    pgw_default_set(initdb, "database", json_string("app"));
    pgw_default_set(initdb, "owner", json_string("app"));
    pgw_default_set(initdb, "encoding", json_string("UTF8"));
    pgw_default_set(initdb, "locale", json_string("C"));
    pgw_default_set(initdb, "dataChecksums", json_true());
}

void pgw_mutate_postgrescluster(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    (void)errs;
    json_t *spec = pgw_default_object(object, "spec");
    if (spec == NULL)
        return;
    pgw_default_set(spec, "postgresVersion", json_integer(DEFAULT_POSTGRES_VERSION));
    pgw_default_set(spec, "instances", json_integer(1));

    json_t *pooler = pgw_default_object(spec, "pooler");
    pgw_default_set(pooler, "enabled", json_true());
    pgw_default_set(pooler, "mode", json_string("transaction"));
    pgw_default_set(pooler, "maxClientConnections", json_integer(1000));
    pgw_default_set(pooler, "defaultPoolSize", json_integer(20));

    json_t *metrics = pgw_default_object(spec, "metrics");
    pgw_default_set(metrics, "enabled", json_true());

    default_backup(object, spec, ctx);
    default_bootstrap(spec);
    pgw_default_roles(spec);

    json_t *affinity = pgw_default_object(spec, "affinity");
    pgw_default_set(affinity, "antiAffinity", json_string("preferred"));
    pgw_default_set(affinity, "topologyKey", json_string("kubernetes.io/hostname"));

    pgw_default_set(spec, "deletionProtection", json_false());
    pgw_default_replication(spec);

    json_t *rollout = pgw_default_object(spec, "rollout");
    pgw_default_set(rollout, "mode", json_string(PGW_ROLLOUT_UNSUPERVISED));
    /* Not invented when storage is missing: validation then reports spec.storage, not spec.storage.size. */
    pgw_default_set(pgw_existing_object(spec, "storage"), "onScaleDown", json_string(PGW_SCALE_DOWN_RETAIN));
}
