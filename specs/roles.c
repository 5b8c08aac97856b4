/*
 * Names for declared roles (specs/roles.h).
 */
#include "specs/roles.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_certs.h"

char *pgw_role_secret_name(const char *cluster, const char *role)
{
    char *name = pgw_asprintf("%s-%s", cluster != NULL ? cluster : "", role != NULL ? role : "");
    for (char *p = name; *p != '\0'; ++p)
        if (*p == '_')
            *p = '-';
    return name;
}

const char *pgw_role_secret_owner(const char *role)
{
    static const struct {
        const char *suffix;
        const char *owner;
    } owned[] = {
        {PGW_SUFFIX_SUPERUSER, "the superuser's Secret"},       {PGW_SUFFIX_REPLICATION, "the replication user's Secret"},
        {PGW_SUFFIX_APP, "the bootstrap owner's Secret"},       {PGW_SUFFIX_PGBOUNCER, "the pooler's Secret"},
        {PGW_SUFFIX_EXPORTER, "the metrics exporter's Secret"}, {PGW_SUFFIX_SERVER_TLS, "the server certificate's Secret"},
        {PGW_SUFFIX_CLUSTER_CA, "the cluster CA's Secret"},     {PGW_SUFFIX_PGBACKREST_TLS, "pgBackRest's TLS Secret"},
    };
    if (role == NULL)
        return NULL;
    char *suffix = pgw_role_secret_name("", role); /* "-<role>" */
    const char *owner = NULL;
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]) && owner == NULL; ++i)
        if (strcmp(suffix, owned[i].suffix) == 0)
            owner = owned[i].owner;
    free(suffix);
    return owner;
}

static const char *initdb_string(const json_t *spec, const char *key, const char *fallback)
{
    const json_t *initdb = json_object_get(json_object_get(spec, "bootstrap"), "initdb");
    const char *s = json_string_value(json_object_get(initdb, key));
    return s != NULL && s[0] != '\0' ? s : fallback;
}

const char *pgw_bootstrap_owner(const json_t *spec)
{
    return initdb_string(spec, "owner", PGW_BOOTSTRAP_OWNER_DEFAULT);
}

const char *pgw_bootstrap_database(const json_t *spec)
{
    return initdb_string(spec, "database", PGW_BOOTSTRAP_DATABASE_DEFAULT);
}

int pgw_ensure_present(const json_t *item)
{
    const char *ensure = json_string_value(json_object_get(item, "ensure"));
    return ensure == NULL || strcmp(ensure, PGW_ENSURE_ABSENT) != 0;
}
