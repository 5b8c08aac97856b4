/*
 * The three custom resources through the API (see handlers.h): list, get,
 * create, update, patch and delete, sent to the Kubernetes API as the user
 * and answered with what it said, byte for byte (the answer is never parsed
 * and printed again: a list of a hundred clusters is half a megabyte).
 * Request bodies are read with the webhook's limits (api/http.h) before
 * anything is sent on.
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

static const struct {
    const char *plural, *kind;
} kinds[] = {
    {"postgresclusters", "PostgresCluster"},
    {"postgresbackups", "PostgresBackup"},
    {"postgresrestores", "PostgresRestore"},
};

const char *pgw_api_plural_kind(const char *plural)
{
    for (size_t i = 0; plural != NULL && i != sizeof(kinds) / sizeof(kinds[0]); ++i)
        if (strcmp(kinds[i].plural, plural) == 0)
            return kinds[i].kind;
    return NULL;
}

static int value_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~%,=!+", ch) != NULL;
}

char *pgw_api_query_filter(const char *query, size_t len, const char *const *allowed)
{
    size_t cap = len + 2, used = 0;
    char *out = pgw_malloc(cap);
    out[0] = '\0';
    const char *p = query, *end = query != NULL ? query + len : NULL;
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t klen = (size_t)((eq != NULL ? eq : stop) - p);
        int keep = 0;
        for (size_t i = 0; allowed[i] != NULL && !keep; ++i)
            keep = strlen(allowed[i]) == klen && memcmp(allowed[i], p, klen) == 0;
        if (keep) {
            for (const char *v = eq != NULL ? eq + 1 : stop; v != stop; ++v)
                if (!value_char_ok(*v)) {
                    free(out);
                    return NULL;
                }
            out[used] = used == 0 ? '?' : '&';
            ++used;
            memcpy(out + used, p, (size_t)(stop - p));
            used += (size_t)(stop - p);
            out[used] = '\0';
        }
        p = stop + 1;
    }
    return out;
}

static const char *const list_params[] = {"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", NULL};
static const char *const write_params[] = {"dryRun", "fieldValidation", "fieldManager", NULL};
static const char *const delete_params[] = {"dryRun", "propagationPolicy", "gracePeriodSeconds", NULL};

/* application/json (the default) or, for PATCH, application/merge-patch+json. */
static int content_type_is(const char *have, const char *want)
{
    if (have == NULL)
        return strcmp(want, "application/json") == 0;
    size_t n = strlen(want);
    return strncasecmp(have, want, n) == 0 && (have[n] == '\0' || have[n] == ';' || have[n] == ' ');
}

void pgw_api_send_as(const struct pgw_api_call *c, const char *method, const char *path, const char *content_type,
                     const json_t *obj, struct pgw_api_response *out)
{
    struct pgw_kresult r;
    char *raw;
    size_t raw_len;
    pgw_kclient_request_as_raw(c->client, c->as, method, path, content_type, obj, &raw, &raw_len, &r);
    pgw_api_response_raw(out, &r, raw, raw_len);
    pgw_kresult_dispose(&r);
}

void pgw_api_objects(const struct pgw_api_call *c, enum pgw_api_route_id id, struct pgw_api_response *out)
{
    const struct pgw_resource *res = pgw_resource_find(pgw_api_plural_kind(c->plural));
    if (res == NULL) {
        pgw_api_response_status(out, 404, "no such resource");
        return;
    }
    const char *method = "GET", *content_type = NULL;
    const char *const *params = list_params;
    json_t *body = NULL;
    if (c->method == PGW_API_POST || c->method == PGW_API_PUT || c->method == PGW_API_PATCH) {
        method = c->method == PGW_API_POST ? "POST" : c->method == PGW_API_PUT ? "PUT" : "PATCH";
        content_type = c->method == PGW_API_PATCH ? "application/merge-patch+json" : "application/json";
        if (!content_type_is(c->content_type, content_type)) {
            char *msg = pgw_asprintf("Content-Type must be %s", content_type);
            pgw_api_response_status(out, 415, msg);
            free(msg);
            return;
        }
        if ((body = pgw_api_read_json(c->body, c->body_len, 0, out)) == NULL)
            return;
        params = write_params;
    } else if (c->method == PGW_API_DELETE) {
        method = "DELETE";
        params = delete_params;
    } else if (id == PGW_API_OBJECT) {
        params = NULL; /* a GET of one object takes no parameters */
    }
    static const char *const none[] = {NULL};
    char *query = pgw_api_query_filter(c->query, c->query_len, params != NULL ? params : none);
    if (query == NULL) {
        json_decref(body);
        pgw_api_response_status(out, 400, "a query parameter has characters that are not allowed");
        return;
    }
    char *path = pgw_kclient_path(res, id == PGW_API_LIST_ALL ? NULL : c->ns, id == PGW_API_OBJECT ? c->name : NULL, NULL);
    char *url = pgw_asprintf("%s%s", path, query);
    pgw_api_send_as(c, method, url, content_type, body, out);
    free(url);
    free(path);
    free(query);
    json_decref(body);
}
