/*
 * Lookups in the generated extension tables (validators/pg_extensions.h).
 */
#include "validators/pg_extensions.h"

#include <stdlib.h>
#include <string.h>

const struct pgw_pg_extension_catalog *pgw_pg_extensions_get(int major)
{
    switch (major) {
    case 14:
        return &pgw_pg_extensions_14;
    case 15:
        return &pgw_pg_extensions_15;
    case 16:
        return &pgw_pg_extensions_16;
    case 17:
        return &pgw_pg_extensions_17;
    case 18:
        return &pgw_pg_extensions_18;
    default:
        return NULL;
    }
}

static int compare(const void *key, const void *entry)
{
    return strcmp((const char *)key, ((const struct pgw_pg_extension *)entry)->name);
}

const struct pgw_pg_extension *pgw_pg_extension_lookup(const struct pgw_pg_extension_catalog *catalog, const char *name)
{
    if (catalog == NULL || name == NULL)
        return NULL;
    return bsearch(name, catalog->extensions, catalog->count, sizeof(catalog->extensions[0]), compare);
}

int pgw_pg_extension_has_version(const struct pgw_pg_extension *ext, const char *version)
{
    for (const char *const *v = ext->versions; *v != NULL; ++v)
        if (strcmp(*v, version) == 0)
            return 1;
    return 0;
}
