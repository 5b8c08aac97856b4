/*
 * Kubernetes API client over libcurl (DESIGN.md §6).
 *
 * Every call returns an outcome and fills a pgw_kresult: the HTTP status, the
 * parsed JSON body, and for errors the decoded metav1.Status (reason,
 * message, code). 409 (a resourceVersion conflict or AlreadyExists) has its
 * own outcome because callers retry on it; 404 and 410 too.
 *
 * Properties that matter at a thousand clusters:
 *   - connections are reused: a curl share handle keeps one connection pool,
 *     DNS cache and TLS session cache for all threads (easy handles are per
 *     request and cheap);
 *   - every request takes a token from the client's QPS/burst limiter;
 *   - the bearer token comes from a pgw_token_source (re-read on rotation,
 *     and once more after a 401);
 *   - writes can be gated (may_write), so a replica that lost the leader
 *     lease cannot write even if a worker is mid-reconcile.
 * Logs carry method, path and status only: never bodies, never tokens.
 *
 * A client is thread-safe. Results own their members: pgw_kresult_dispose.
 */
#ifndef PGW_CONTROLLER_KUBE_KCLIENT_H
#define PGW_CONTROLLER_KUBE_KCLIENT_H

#include <stddef.h>
#include <jansson.h>

#include "controller/kube/kubeconfig.h"

#define PGW_KCLIENT_FIELD_MANAGER "pgwarden"

/* What the URL of a resource needs. The table lives in kclient.c; entries are static. */
struct pgw_resource {
    const char *kind;
    const char *group; /* "" for core */
    const char *version;
    const char *plural;
    int namespaced;
};
/* The descriptor for a kind ("StatefulSet", "Lease", "PostgresCluster"...), or NULL. */
const struct pgw_resource *pgw_resource_find(const char *kind);
/* "v1" or "apps/v1" into buf. */
const char *pgw_resource_api_version(const struct pgw_resource *r, char *buf, size_t bufsize);

/*
 * /api/v1/namespaces/NS/PLURAL/NAME/SUB or /apis/GROUP/VERSION/...; ns NULL or
 * "" lists across namespaces, name NULL addresses the collection. Caller frees.
 */
char *pgw_kclient_path(const struct pgw_resource *r, const char *ns, const char *name, const char *subresource);
/* Percent-encodes a query value. Caller frees. */
char *pgw_kclient_escape(const char *s);

enum pgw_koutcome {
    PGW_K_OK = 0,
    PGW_K_NOT_FOUND,  /* 404 */
    PGW_K_CONFLICT,   /* 409: Conflict or AlreadyExists (see reason) */
    PGW_K_GONE,       /* 410: resourceVersion too old */
    PGW_K_HTTP_ERROR, /* any other non-2xx */
    PGW_K_TRANSPORT,  /* no HTTP answer (connect, TLS, timeout); see error */
    PGW_K_NOT_LEADER  /* a write refused locally: this replica is not leading */
};

struct pgw_kresult {
    enum pgw_koutcome outcome;
    long http_status; /* 0 when no answer */
    json_t *body;     /* parsed JSON response or NULL; owned */
    char *reason;     /* metav1.Status reason ("Conflict", "NotFound", "Expired"...) or NULL */
    char *message;    /* Status message, or the transport error */
    long code;        /* Status code */
};
void pgw_kresult_dispose(struct pgw_kresult *r);

struct pgw_kclient_options {
    double qps;             /* 0 → PGW_RATELIMIT_DEFAULT_QPS; < 0 → unlimited */
    int burst;              /* 0 → PGW_RATELIMIT_DEFAULT_BURST */
    double timeout;         /* per request, seconds; 0 → 30 */
    double connect_timeout; /* 0 → 10 */
    int (*may_write)(void); /* NULL: always; e.g. pgw_leader_is_leading */
    /* NULL, or the seconds a write may take from now (negative: no cap); a write's timeout is cut to
     * it, so a replica that is about to lose its Lease cannot land a write after another took over.
     * e.g. pgw_leader_global_write_budget */
    double (*write_budget)(void);
    const char *user_agent; /* NULL → "pgwarden/VERSION" */
};

struct pgw_kclient;

/* kc is copied. opts may be NULL. Returns NULL with *err (caller frees) on bad configuration. */
struct pgw_kclient *pgw_kclient_new(const struct pgw_kubeconfig *kc, const struct pgw_kclient_options *opts, char **err);
void pgw_kclient_free(struct pgw_kclient *c);
const char *pgw_kclient_namespace(const struct pgw_kclient *c);

/* Raw request: path includes the query. body may be NULL. Returns out->outcome. */
int pgw_kclient_request(struct pgw_kclient *c, const char *method, const char *path, const char *content_type, const json_t *body,
                        struct pgw_kresult *out);

/*
 * Acting as another user (the REST API's callers): Kubernetes impersonation,
 * so RBAC decides for that user exactly as for kubectl. Strings borrowed.
 */
struct pgw_kidentity {
    const char *user;
    const char *uid; /* NULL or "": no Impersonate-Uid */
    const char *const *groups;
    size_t ngroups;
};

/*
 * The header lines for `as`: "Impersonate-User: U", one "Impersonate-Group:
 * G" per group, "Impersonate-Uid: I" when uid is set. NULL-terminated array
 * of owned strings (free with pgw_kclient_headers_free), or NULL with *err
 * (caller frees) when the user is empty or a value carries a control
 * character (CR or LF would smuggle in another header).
 */
char **pgw_kclient_impersonation_headers(const struct pgw_kidentity *as, char **err);
void pgw_kclient_headers_free(char **lines);

/*
 * pgw_kclient_request as `as` (NULL: as the client itself). A refused
 * identity is PGW_K_HTTP_ERROR with status 0 and a message, and nothing is
 * sent.
 */
int pgw_kclient_request_as(struct pgw_kclient *c, const struct pgw_kidentity *as, const char *method, const char *path,
                           const char *content_type, const json_t *body, struct pgw_kresult *out);

/*
 * pgw_kclient_request_as (as may be NULL), but a 2xx answer's body is handed
 * over as received, unparsed: *raw (NUL-terminated, caller frees) and
 * *raw_len, with out->body NULL. Errors are decoded as usual (*raw NULL).
 * For the REST API, which passes the Kubernetes API's answers on verbatim
 * and need not parse and print a list of a hundred clusters again.
 */
int pgw_kclient_request_as_raw(struct pgw_kclient *c, const struct pgw_kidentity *as, const char *method, const char *path,
                               const char *content_type, const json_t *body, char **raw, size_t *raw_len, struct pgw_kresult *out);

/*
 * pgw_kclient_request for a body that is a credential (a TokenReview): the
 * serialized request and the raw answer are zeroed before they are freed.
 * The parsed out->body is the caller's to wipe.
 */
int pgw_kclient_request_secret(struct pgw_kclient *c, const char *method, const char *path, const char *content_type,
                               const json_t *body, struct pgw_kresult *out);

struct pgw_klist_options {
    const char *label_selector;
    const char *field_selector;
    long limit;                   /* page size; 0 → no limit */
    const char *continue_token;   /* from the previous page's metadata.continue */
    const char *resource_version; /* NULL: most recent */
};

int pgw_kclient_get(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name, struct pgw_kresult *out);
/* One page. */
int pgw_kclient_list(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const struct pgw_klist_options *lo,
                     struct pgw_kresult *out);
/* Every page (following metadata.continue); out->body is one List with all items and the last page's resourceVersion. */
int pgw_kclient_list_all(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const struct pgw_klist_options *lo,
                         struct pgw_kresult *out);
int pgw_kclient_create(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const json_t *obj,
                       struct pgw_kresult *out);
/* PUT; subresource NULL or "status". obj should carry metadata.resourceVersion for optimistic concurrency. */
int pgw_kclient_update(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                       const char *subresource, const json_t *obj, struct pgw_kresult *out);
/* propagation: NULL, "Background", "Foreground" or "Orphan". */
int pgw_kclient_delete(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                       const char *propagation, struct pgw_kresult *out);

enum pgw_patch_type { PGW_PATCH_MERGE, PGW_PATCH_JSON, PGW_PATCH_STRATEGIC };
int pgw_kclient_patch(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                      const char *subresource, enum pgw_patch_type type, const json_t *patch, struct pgw_kresult *out);
/* Server-side apply: application/apply-patch+yaml (JSON is YAML), fieldManager=pgwarden, force=true. */
int pgw_kclient_apply(struct pgw_kclient *c, const struct pgw_resource *r, const char *ns, const char *name,
                      const char *subresource, const json_t *obj, struct pgw_kresult *out);

/*
 * Records a core/v1 Event about `involved` (an object with apiVersion, kind
 * and metadata; borrowed). type: "Normal" or "Warning". The message is cut at
 * 1024 bytes.
 */
int pgw_kclient_event(struct pgw_kclient *c, const json_t *involved, const char *type, const char *reason, const char *message,
                      struct pgw_kresult *out);
/* The Event object pgw_kclient_event sends (pure; for tests). Caller decrefs. */
json_t *pgw_kclient_event_object(const json_t *involved, const char *type, const char *reason, const char *message, double now);

/*
 * A streaming GET (watch). on_data gets each chunk of a 2xx body and returns 0
 * to go on, non-zero to stop. should_stop is polled about once a second, also
 * while the connection is idle. timeout: seconds for the whole stream (0: none).
 * A stream stopped by either callback ends with outcome PGW_K_OK.
 */
int pgw_kclient_stream(struct pgw_kclient *c, const char *path, int (*on_data)(void *ctx, const char *data, size_t len),
                       int (*should_stop)(void *ctx), void *ctx, double timeout, struct pgw_kresult *out);

#endif
