/*
 * The AdmissionReview pipeline: bytes in, bytes out, no I/O.
 *
 * The HTTPS server and `pgwarden review` both call pgw_admission_handle(), so
 * what the CLI prints is exactly what kube-apiserver receives. This layer
 * speaks admission.k8s.io/v1 and knows nothing about Postgres: a route names the
 * guard kind it serves (validators/guard.h) and which of its two steps runs.
 */
#ifndef PGW_WEBHOOK_ADMISSION_H
#define PGW_WEBHOOK_ADMISSION_H

#include <stddef.h>
#include <time.h>

#include "validators/guard.h"

struct pgw_config;

/* Which step of the guard kind a route runs: a mutating or a validating webhook. */
typedef enum { PGW_ROUTE_DEFAULT, PGW_ROUTE_VALIDATE } pgw_admission_step_t;

typedef struct st_pgw_admission_route_t {
    const char *path;                   /* "/mutate/pods" */
    const char *resource;               /* plural, for messages and metrics */
    const struct pgw_guard_kind *guard; /* the kind served: group, kind, defaulter, validator */
    pgw_admission_step_t step;
} pgw_admission_route_t;

/* The route table; terminated by an entry whose path is NULL. */
extern const pgw_admission_route_t pgw_admission_routes[];

/* Finds the route for an exact request path, or NULL. */
const pgw_admission_route_t *pgw_admission_route_find(const char *path, size_t len);
/* Index of a route in pgw_admission_routes (for metrics labels). */
size_t pgw_admission_route_index(const pgw_admission_route_t *route);
size_t pgw_admission_route_count(void);

struct pgw_admission_outcome {
    int http_status; /* 200 for every decodable review; 400 otherwise */
    char *body;      /* JSON response (or a Status for 400), malloc'd: the caller frees */
    size_t body_len;
    int allowed;           /* meaningful when http_status == 200 */
    char uid[64];          /* echoed uid (truncated for logging only) */
    const char *operation; /* static string, "" when unknown */
};

/* Runs one review. `now` feeds time-dependent rules. Never fails: errors become the outcome. */
void pgw_admission_handle(const pgw_admission_route_t *route, const char *body, size_t len, const struct pgw_config *cfg,
                          time_t now, struct pgw_admission_outcome *out);

/* A plain metav1.Status body for non-admission errors (404, 405, 413, 400). malloc'd. */
char *pgw_admission_status_body(int code, const char *reason, const char *message, size_t *len);

#define PGW_MAX_WARNING_LEN 120

#endif
