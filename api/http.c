/*
 * Answers and request bodies of the REST API (see http.h). Status bodies come
 * from the webhook's builder, so a 404 of the API and one of the admission
 * server read the same.
 */
#include "api/http.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_read.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"
#include "webhook/admission.h"
#include "webhook/server.h"

const struct pgw_api_header pgw_api_security_headers[] = {
    {"content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                "form-action 'self'"},
    {"x-content-type-options", "nosniff"},
    {"referrer-policy", "no-referrer"},
    {"x-frame-options", "DENY"},
    {NULL, NULL},
};

static const struct {
    int status;
    const char *phrase, *reason;
} statuses[] = {
    {200, "OK", ""},
    {201, "Created", ""},
    {202, "Accepted", ""},
    {204, "No Content", ""},
    {302, "Found", ""},
    {304, "Not Modified", ""},
    {400, "Bad Request", "BadRequest"},
    {401, "Unauthorized", "Unauthorized"},
    {403, "Forbidden", "Forbidden"},
    {404, "Not Found", "NotFound"},
    {405, "Method Not Allowed", "MethodNotAllowed"},
    {406, "Not Acceptable", "NotAcceptable"},
    {409, "Conflict", "Conflict"},
    {410, "Gone", "Expired"},
    {413, "Payload Too Large", "RequestEntityTooLarge"},
    {415, "Unsupported Media Type", "UnsupportedMediaType"},
    {422, "Unprocessable Entity", "Invalid"},
    {429, "Too Many Requests", "TooManyRequests"},
    {500, "Internal Server Error", "InternalError"},
    {502, "Bad Gateway", "InternalError"},
    {503, "Service Unavailable", "ServiceUnavailable"},
    {504, "Gateway Timeout", "Timeout"},
};
#define STATUSES (sizeof(statuses) / sizeof(statuses[0]))

const char *pgw_api_reason_phrase(int status)
{
    for (size_t i = 0; i != STATUSES; ++i)
        if (statuses[i].status == status)
            return statuses[i].phrase;
    return "Unknown";
}

const char *pgw_api_status_reason(int status)
{
    for (size_t i = 0; i != STATUSES; ++i)
        if (statuses[i].status == status && statuses[i].reason[0] != '\0')
            return statuses[i].reason;
    return "InternalError";
}

void pgw_api_response_dispose(struct pgw_api_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

void pgw_api_response_status(struct pgw_api_response *r, int status, const char *message)
{
    free(r->body);
    r->status = status;
    r->content_type = NULL;
    r->body = pgw_admission_status_body(status, pgw_api_status_reason(status), message, &r->len);
}

void pgw_api_response_json(struct pgw_api_response *r, int status, json_t *value)
{
    free(r->body);
    r->status = status;
    r->content_type = NULL;
    r->body = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(value);
    if (r->body == NULL) {
        pgw_api_response_status(r, 500, "cannot encode the answer");
        return;
    }
    r->len = strlen(r->body);
}

void pgw_api_response_kresult(struct pgw_api_response *r, const struct pgw_kresult *k)
{
    if (k->outcome != PGW_K_TRANSPORT && k->http_status == 0) {
        pgw_api_response_status(r, 500, k->message != NULL ? k->message : "the request was not sent");
        return;
    }
    if (k->outcome == PGW_K_TRANSPORT || k->http_status == 0) {
        char *msg = pgw_asprintf("the Kubernetes API did not answer: %s", k->message != NULL ? k->message : "no response");
        pgw_api_response_status(r, 503, msg);
        free(msg);
        return;
    }
    if (k->body == NULL) {
        if (k->http_status >= 200 && k->http_status < 300)
            pgw_api_response_json(r, (int)k->http_status, json_object());
        else
            pgw_api_response_status(r, (int)k->http_status,
                                    k->message != NULL ? k->message : pgw_api_reason_phrase((int)k->http_status));
        return;
    }
    pgw_api_response_json(r, (int)k->http_status, json_incref(k->body));
}

void pgw_api_response_raw(struct pgw_api_response *r, const struct pgw_kresult *k, char *raw, size_t raw_len)
{
    if (raw == NULL || k->outcome != PGW_K_OK) {
        free(raw);
        pgw_api_response_kresult(r, k);
        return;
    }
    free(r->body);
    r->status = (int)k->http_status;
    r->content_type = NULL;
    r->body = raw;
    r->len = raw_len;
}

json_t *pgw_api_read_json(const char *body, size_t len, int empty_ok, struct pgw_api_response *r)
{
    if (len > PGW_MAX_BODY_BYTES) {
        pgw_api_response_status(r, 413, "the request body is larger than 8 MiB");
        return NULL;
    }
    if (len == 0 && empty_ok)
        return json_object();
    json_error_t e;
    json_t *v = pgw_json_read(body != NULL ? body : "", len, &e);
    if (v == NULL) {
        char *msg = pgw_asprintf("the request body is not JSON: %s (line %d, column %d)", e.text, e.line, e.column);
        pgw_api_response_status(r, 400, msg);
        free(msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        pgw_api_response_status(r, 400, "the request body must be a JSON object");
        return NULL;
    }
    return v;
}
