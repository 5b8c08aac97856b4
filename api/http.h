/*
 * What every REST API and web UI answer shares, kept apart from h2o so it is
 * unit-tested: the answer a handler fills (status, body, the few headers that
 * vary), Kubernetes Status bodies, the security headers, and reading a JSON
 * request body with exactly the admission webhook's limits (the same 8 MiB
 * cap, PGW_MAX_BODY_BYTES, and the same reader, common/json_read.h, whose
 * nesting limit is jansson's).
 */
#ifndef PGW_API_HTTP_H
#define PGW_API_HTTP_H

#include <jansson.h>
#include <stddef.h>

struct pgw_kresult;

/* One answer. body is malloc'd and owned (NULL with len 0: none); the header values are static or owned by the caller. */
struct pgw_api_response {
    int status;
    char *body;
    size_t len;
    const char *content_type;     /* NULL: application/json */
    const char *allow;            /* 405 */
    const char *www_authenticate; /* 401 */
    const char *location;         /* 302 */
};
void pgw_api_response_dispose(struct pgw_api_response *r);

/* A name/value pair sent on every answer. */
struct pgw_api_header {
    const char *name, *value;
};
/* The security headers (CSP, nosniff, no referrer, no framing), ended by a NULL name. */
extern const struct pgw_api_header pgw_api_security_headers[];

/* The Cache-Control of API answers (never stored) and of UI files (revalidated by ETag). */
#define PGW_API_CACHE_API "no-store"
#define PGW_API_CACHE_UI "no-cache"

/* The HTTP reason phrase of a status code ("Not Found"); "Unknown" for codes not used here. */
const char *pgw_api_reason_phrase(int status);
/* The Kubernetes StatusReason of an HTTP status ("NotFound", "Forbidden"...); "InternalError" by default. */
const char *pgw_api_status_reason(int status);

/* A metav1.Status failure: {"kind":"Status","apiVersion":"v1","status":"Failure","message","reason","code"}. */
void pgw_api_response_status(struct pgw_api_response *r, int status, const char *message);
/* status and the compact JSON of value (stolen). */
void pgw_api_response_json(struct pgw_api_response *r, int status, json_t *value);
/*
 * The Kubernetes API's answer passed on: its body with its HTTP status (a
 * Status error verbatim, with its code); no answer at all (transport) is a
 * 503 Status naming the failure.
 */
void pgw_api_response_kresult(struct pgw_api_response *r, const struct pgw_kresult *k);
/* The same for pgw_kclient_request_as_raw: a 2xx answer's raw body (stolen; NULL: none) is sent as it came. */
void pgw_api_response_raw(struct pgw_api_response *r, const struct pgw_kresult *k, char *raw, size_t raw_len);

/*
 * The JSON object of a request body (new reference), or NULL with r filled:
 * 413 over PGW_MAX_BODY_BYTES, 400 for text that is not JSON (jansson's
 * message; nesting deeper than its limit included) or not an object.
 * An empty body is an empty object when empty_ok.
 */
json_t *pgw_api_read_json(const char *body, size_t len, int empty_ok, struct pgw_api_response *r);

#endif
