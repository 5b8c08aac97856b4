/*
 * Files built into the binary (cmake/embed_assets.cmake): the web UI (ui/)
 * and the API's OpenAPI document (api/openapi.json). Static, never freed.
 */
#ifndef PGW_API_ASSETS_H
#define PGW_API_ASSETS_H

#include <stddef.h>

struct pgw_asset {
    const char *path;         /* relative to the source tree: "ui/index.html", "api/openapi.json" */
    const char *content_type; /* from the extension */
    const unsigned char *data;
    size_t len;       /* data[len] is a NUL, so a text asset is also a C string */
    const char *etag; /* quoted, from the file's SHA-256 */
};

/* The generated table, ended by an entry whose path is NULL. */
extern const struct pgw_asset pgw_assets[];
extern const size_t pgw_asset_count;

/* The asset at `path` ("ui/app.js"), or NULL. */
const struct pgw_asset *pgw_asset_find(const char *path);

#endif
