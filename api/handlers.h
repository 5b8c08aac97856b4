/*
 * The REST API's handlers: what api/server.c calls once a request is routed
 * (api/router.h) and, where the route needs it, authenticated. They know
 * nothing of h2o: a call in, an answer (api/http.h) out.
 *
 * Everything a handler reads or writes in Kubernetes goes through the API's
 * own client AS THE USER (c->as, impersonation), so RBAC and admission decide
 * exactly as for kubectl; their refusals (403, 404, 409, 422 with the
 * webhook's field errors) are passed on verbatim.
 */
#ifndef PGW_API_HANDLERS_H
#define PGW_API_HANDLERS_H

#include <stddef.h>
#include <time.h>

#include "api/http.h"
#include "api/router.h"

struct pgw_kclient;
struct pgw_kidentity;
struct pgw_identity;
struct pgw_session_keys;

struct pgw_api_call {
    struct pgw_kclient *client;     /* the API's own client (never NULL here) */
    struct pgw_session_keys *keys;  /* session signing keys */
    const struct pgw_identity *who; /* the session's user; NULL on routes without auth */
    const struct pgw_kidentity *as; /* who, as impersonation headers */
    const char *ns, *plural, *name; /* the path's parameters, NUL-terminated, or NULL */
    const char *query;              /* the text after '?' (not NUL-terminated), or NULL */
    size_t query_len;
    char *body; /* the request body (mutable: login zeroes the token in it) */
    size_t body_len;
    const char *content_type; /* the request's, NUL-terminated, or NULL */
    unsigned method;          /* PGW_API_GET... */
    time_t now;
};

/* GET /api/v1/{plural}, GET|POST .../namespaces/{namespace}/{plural}, GET|PUT|PATCH|DELETE .../{name}. */
/* Sends one request to the Kubernetes API as the caller and puts its answer, byte for byte with its status, in out.
 * obj (borrowed) may be NULL. */
void pgw_api_send_as(const struct pgw_api_call *c, const char *method, const char *path, const char *content_type,
                     const json_t *obj, struct pgw_api_response *out);
void pgw_api_objects(const struct pgw_api_call *c, enum pgw_api_route_id id, struct pgw_api_response *out);
/* GET .../postgresclusters/{name}/detail (api/detail.h). */
void pgw_api_detail(const struct pgw_api_call *c, struct pgw_api_response *out);
/* POST .../postgresclusters/{name}/backup|restore|switchover|restart. */
void pgw_api_action(const struct pgw_api_call *c, enum pgw_api_route_id id, struct pgw_api_response *out);
/* POST /api/v1/login (no session), POST /api/v1/logout, GET /api/v1/whoami. */
void pgw_api_login(const struct pgw_api_call *c, struct pgw_api_response *out);
void pgw_api_logout(const struct pgw_api_call *c, struct pgw_api_response *out);
void pgw_api_whoami(const struct pgw_api_call *c, struct pgw_api_response *out);

/*
 * The query string passed on to the Kubernetes API: only the parameters in
 * `allowed` (NULL-ended), each value percent-encoded as received (only
 * unreserved characters, '%' escapes, ',' '=' '!' and '+'). Returns "?k=v&..."
 * or "" (caller frees), or NULL when a kept value has other characters.
 */
char *pgw_api_query_filter(const char *query, size_t len, const char *const *allowed);

/* The Kubernetes kind of a served plural ("postgresclusters" → "PostgresCluster"), or NULL. */
const char *pgw_api_plural_kind(const char *plural);

#endif
