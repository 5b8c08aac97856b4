#include "api/assets.h"

#include <string.h>

const struct pgw_asset *pgw_asset_find(const char *path)
{
    if (path == NULL)
        return NULL;
    for (size_t i = 0; i != pgw_asset_count; ++i)
        if (strcmp(pgw_assets[i].path, path) == 0)
            return &pgw_assets[i];
    return NULL;
}
