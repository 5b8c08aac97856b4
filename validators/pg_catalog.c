/*
 * Lookup in the generated per-major parameter tables (pg_catalog_<major>.c).
 */
#include "validators/pg_catalog.h"

#include <stdlib.h>
#include <strings.h>

const struct pgw_pg_catalog *pgw_pg_catalog_get(int major)
{
    switch (major) {
    case 14:
        return &pgw_pg_catalog_14;
    case 15:
        return &pgw_pg_catalog_15;
    case 16:
        return &pgw_pg_catalog_16;
    case 17:
        return &pgw_pg_catalog_17;
    case 18:
        return &pgw_pg_catalog_18;
    default:
        return NULL;
    }
}

static int compare_name(const void *key, const void *member)
{
    return strcasecmp(key, ((const struct pgw_pg_param *)member)->name);
}

const struct pgw_pg_param *pgw_pg_catalog_lookup(int major, const char *name)
{
    const struct pgw_pg_catalog *cat = pgw_pg_catalog_get(major);
    if (cat == NULL || name == NULL)
        return NULL;
    return bsearch(name, cat->params, cat->count, sizeof(cat->params[0]), compare_name);
}
