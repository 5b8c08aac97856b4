/*
 * The REST API's and web UI's routes: one table from method and path to a
 * handler id and its parameters. Pure (no I/O, no allocation): the server
 * dispatches with it and test_api_openapi checks api/openapi.json against the
 * same table, so the document cannot forget a route or list one that is gone.
 *
 * Parameters are path segments checked against what Kubernetes allows in a
 * namespace or object name (lower-case letters, digits, '-' and '.'), so
 * nothing that reaches the Kubernetes API's URL can carry '/', '%' or "..".
 */
#ifndef PGW_API_ROUTER_H
#define PGW_API_ROUTER_H

#include <stddef.h>

enum pgw_api_route_id {
    PGW_API_ROOT,       /* GET / and GET /ui → 302 /ui/ */
    PGW_API_UI_INDEX,   /* GET /ui/ */
    PGW_API_UI_FILE,    /* GET /ui/{file} */
    PGW_API_OPENAPI,    /* GET /api/v1/openapi.json */
    PGW_API_LOGIN,      /* POST /api/v1/login */
    PGW_API_LOGOUT,     /* POST /api/v1/logout */
    PGW_API_WHOAMI,     /* GET /api/v1/whoami */
    PGW_API_LIST_ALL,   /* GET /api/v1/{plural} */
    PGW_API_COLLECTION, /* GET, POST /api/v1/namespaces/{namespace}/{plural} */
    PGW_API_OBJECT,     /* GET, PUT, PATCH, DELETE .../{plural}/{name} */
    PGW_API_DETAIL,     /* GET .../postgresclusters/{name}/detail */
    PGW_API_BACKUP,     /* POST .../postgresclusters/{name}/backup */
    PGW_API_RESTORE,    /* POST .../postgresclusters/{name}/restore */
    PGW_API_SWITCHOVER, /* POST .../postgresclusters/{name}/switchover */
    PGW_API_RESTART,    /* POST .../postgresclusters/{name}/restart */
};

/* Methods as bits, so a route lists several and a 405 can name them all. */
enum {
    PGW_API_GET = 1,
    PGW_API_POST = 2,
    PGW_API_PUT = 4,
    PGW_API_PATCH = 8,
    PGW_API_DELETE = 16,
};

struct pgw_api_route {
    enum pgw_api_route_id id;
    unsigned methods;
    /* Segments after "/"; "{namespace}", "{plural}", "{name}" and "{file}" are parameters. */
    const char *pattern;
    int auth;    /* 1: needs a session token */
    int openapi; /* 1: documented in api/openapi.json (the API's routes, not the UI's files) */
};

extern const struct pgw_api_route pgw_api_routes[];
extern const size_t pgw_api_route_count;

/* A parameter: a slice of the path (not NUL-terminated), len 0 when absent. */
struct pgw_api_slice {
    const char *base;
    size_t len;
};

struct pgw_api_match {
    const struct pgw_api_route *route; /* NULL: no route at this path (404) or not for this method (405) */
    unsigned allowed;                  /* the methods the path takes (0: none, a 404) */
    struct pgw_api_slice ns, plural, name, file;
};

/* PGW_API_GET... for "GET"..., or 0 for any other method. */
unsigned pgw_api_method_bit(const char *method, size_t len);

/* "GET, POST" for a set of bits (for Allow), into buf (40 bytes hold every set). Returns buf. */
const char *pgw_api_methods_text(unsigned methods, char *buf, size_t size);

/*
 * Matches method and path (without the query). Fills *m: route set when both
 * match; route NULL with allowed 0 for a 404, allowed != 0 for a 405.
 */
void pgw_api_route_match(const char *method, size_t method_len, const char *path, size_t path_len, struct pgw_api_match *m);

/* 1 when plural is one of the three custom resources served ("postgresclusters"...). */
int pgw_api_plural_ok(const char *plural, size_t len);

#endif
