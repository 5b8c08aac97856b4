/*
 * h2o event loops serving the REST API and the web UI over TLS (see server.h).
 *
 * A request goes: route (api/router.h) → in local mode 503 for /api/v1/...
 * but the OpenAPI document → static files and errors answered on the loop;
 * the rest is copied into a job for a worker (api/workers.h), which checks
 * the session and runs the handler (api/handlers.h); the answer comes back
 * to the loop through h2o's multithread queue → the security headers of
 * every answer, Cache-Control, and the body handed to h2o without a copy
 * (the pool frees it with the request). So the two loops never block: a
 * slow Kubernetes API delays only the requests waiting on it.
 *
 * Logs: one debug line per request with method, path, status, user and
 * duration; never the Authorization header, never a body.
 *
 * Stop: as the webhook's server (webhook/server.c): every loop wakes each
 * 100 ms to look at the stop flag, closes its listener, and runs until its
 * connections are gone or the grace period ends.
 */
#include "api/server.h"

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/assets.h"
#include "api/handlers.h"
#include "api/http.h"
#include "api/identity.h"
#include "api/router.h"
#include "api/workers.h"
#include "api/session.h"
#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"
#include "webhook/evloop.h"
#include "webhook/server.h"
#include "webhook/tls.h"

#define API_THREADS 2
/* Requests waiting on the Kubernetes API at once (each worker blocks in libcurl). */
#define API_WORKERS 16
#define LOOP_TICK_MS 100
#define WWW_AUTHENTICATE "Bearer realm=\"pgwarden\""

struct st_pgw_api_thread_t {
    struct pgw_api_server *server;
    pthread_t tid;
    struct pgw_evloop ev;
    h2o_multithread_receiver_t receiver; /* answers from the workers */
};

struct pgw_api_server {
    const struct pgw_config *cfg;
    struct pgw_kclient *client;
    struct pgw_session_keys *keys;
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *hosts[2];
    SSL_CTX *ssl_ctx;
    struct pgw_api_workers *workers;
    struct st_pgw_api_thread_t threads[API_THREADS];
    atomic_int stopping;
    int port;
};

struct st_pgw_api_handler_t {
    h2o_handler_t super;
    struct pgw_api_server *server;
};

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *header_value(h2o_req_t *req, const h2o_token_t *token, size_t *len)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    if (i == -1)
        return NULL;
    *len = req->headers.entries[i].value.len;
    return req->headers.entries[i].value.base;
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, value, strlen(value));
}

static void on_dispose_body(void *p)
{
    free(*(char **)p);
}

/* Sends r; its body goes to h2o (freed with the request's pool), so r is left empty. */
static void send_response(h2o_req_t *req, struct pgw_api_response *r, const char *cache_control)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = r->status;
    req->res.reason = pgw_api_reason_phrase(r->status);
    for (const struct pgw_api_header *h = pgw_api_security_headers; h->name != NULL; ++h)
        add_header(req, h->name, h->value);
    add_header(req, "cache-control", cache_control);
    if (r->body != NULL || r->status != 204)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       r->content_type != NULL ? r->content_type : "application/json",
                       strlen(r->content_type != NULL ? r->content_type : "application/json"));
    if (r->allow != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, r->allow, strlen(r->allow));
    if (r->www_authenticate != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, r->www_authenticate,
                       strlen(r->www_authenticate));
    if (r->location != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, r->location, strlen(r->location));
    h2o_iovec_t body = h2o_iovec_init(r->body, r->len);
    if (r->body != NULL) {
        char **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_dispose_body);
        *slot = r->body;
        r->body = NULL;
        r->len = 0;
    }
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, body.base != NULL ? 1 : 0, H2O_SEND_STATE_FINAL);
}

/* A built-in file: 304 when If-None-Match names its ETag. The data is static: no copy. */
static int send_asset(h2o_req_t *req, const struct pgw_asset *a, const char *cache_control)
{
    static h2o_generator_t generator = {NULL, NULL};
    size_t len;
    const char *inm = header_value(req, H2O_TOKEN_IF_NONE_MATCH, &len);
    int fresh = inm != NULL && len == strlen(a->etag) && memcmp(inm, a->etag, len) == 0;
    req->res.status = fresh ? 304 : 200;
    req->res.reason = fresh ? "Not Modified" : "OK";
    for (const struct pgw_api_header *h = pgw_api_security_headers; h->name != NULL; ++h)
        add_header(req, h->name, h->value);
    add_header(req, "cache-control", cache_control);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, a->etag, strlen(a->etag));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->content_type, strlen(a->content_type));
    h2o_iovec_t body = h2o_iovec_init(fresh ? NULL : (const char *)a->data, fresh ? 0 : a->len);
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, body.base != NULL ? 1 : 0, H2O_SEND_STATE_FINAL);
    return fresh ? 304 : 200;
}

static int is_api_path(h2o_iovec_t path)
{
    return path.len >= 8 && memcmp(path.base, "/api/v1/", 8) == 0;
}

/*
 * A routed request that needs the Kubernetes API or the session keys: copied
 * out of h2o's request (whose memory belongs to the loop), run by a worker,
 * answered back on its loop. If the client goes away meanwhile, h2o disposes
 * of the request and the ticket in its pool clears `req`, so the answer is
 * dropped instead of sent to freed memory.
 */
struct st_pgw_api_call_job_t {
    struct pgw_api_job super;
    h2o_multithread_message_t message;
    struct pgw_api_server *server;
    struct st_pgw_api_thread_t *thread;
    h2o_req_t *req;                        /* NULL once h2o disposed of it */
    struct st_pgw_api_call_job_t **ticket; /* in req's pool */
    const struct pgw_api_route *route;
    unsigned method;
    char *method_text, *path; /* for the log */
    char *ns, *plural, *name, *query, *content_type, *authorization, *body;
    size_t query_len, body_len, authorization_len;
    double started;
    struct pgw_identity who;
    struct pgw_api_response r;
};

/* The session of the job, into job->who; 0, or -1 with the 401 in job->r. The token's copy is zeroed. */
static int authenticate(struct st_pgw_api_call_job_t *job, time_t now)
{
    const char *auth = job->authorization;
    int rc = -1;
    if (auth == NULL || job->authorization_len < 8 || strncasecmp(auth, "Bearer ", 7) != 0) {
        pgw_api_response_status(&job->r, 401, "log in first: send Authorization: Bearer <token from POST /api/v1/login>");
    } else {
        const char *why = NULL;
        if (pgw_session_verify(job->server->keys, auth + 7, now, &job->who, &why) == PGW_SESSION_OK)
            rc = 0;
        else
            pgw_api_response_status(&job->r, 401, why != NULL ? why : "invalid session token");
    }
    if (rc != 0)
        job->r.www_authenticate = WWW_AUTHENTICATE;
    return rc;
}

/* On a worker: authenticate, run the handler, hand the answer back to the loop. */
static void run_job(struct pgw_api_job *_job)
{
    struct st_pgw_api_call_job_t *job = (void *)_job;
    struct pgw_api_server *server = job->server;
    time_t now = time(NULL);
    if (job->route->auth && authenticate(job, now) != 0)
        goto done;
    size_t ngroups = 0;
    const char **groups = job->who.username != NULL ? pgw_identity_group_list(&job->who, &ngroups) : NULL;
    struct pgw_kidentity as = {.user = job->who.username, .uid = job->who.uid, .groups = groups, .ngroups = ngroups};
    struct pgw_api_call call = {
        .client = server->client,
        .keys = server->keys,
        .who = job->route->auth ? &job->who : NULL,
        .as = job->route->auth ? &as : NULL,
        .ns = job->ns,
        .plural = job->route->id == PGW_API_DETAIL ? "postgresclusters" : job->plural,
        .name = job->name,
        .query = job->query,
        .query_len = job->query_len,
        .body = job->body,
        .body_len = job->body_len,
        .content_type = job->content_type,
        .method = job->method,
        .now = now,
    };
    switch (job->route->id) {
    case PGW_API_LOGIN:
        pgw_api_login(&call, &job->r);
        break;
    case PGW_API_LOGOUT:
        pgw_api_logout(&call, &job->r);
        break;
    case PGW_API_WHOAMI:
        pgw_api_whoami(&call, &job->r);
        break;
    case PGW_API_LIST_ALL:
    case PGW_API_COLLECTION:
    case PGW_API_OBJECT:
        pgw_api_objects(&call, job->route->id, &job->r);
        break;
    case PGW_API_DETAIL:
        pgw_api_detail(&call, &job->r);
        break;
    default:
        pgw_api_action(&call, job->route->id, &job->r);
        break;
    }
    free(groups);
done:
    h2o_multithread_send_message(&job->thread->receiver, &job->message);
}

static void free_job(struct st_pgw_api_call_job_t *job)
{
    if (job->authorization != NULL)
        memset(job->authorization, 0, job->authorization_len);
    if (job->body != NULL)
        memset(job->body, 0, job->body_len); /* a login's token, maybe */
    free(job->authorization);
    free(job->body);
    free(job->ns);
    free(job->plural);
    free(job->name);
    free(job->query);
    free(job->content_type);
    free(job->method_text);
    free(job->path);
    pgw_identity_dispose(&job->who);
    pgw_api_response_dispose(&job->r);
    free(job);
}

static void log_request(const char *method, const char *path, int status, const char *user, double seconds)
{
    if (!pgw_log_enabled(PGW_LOG_DEBUG))
        return;
    pgw_log(PGW_LOG_DEBUG, "API request",
            pgw_json_pack("{s:s,s:s,s:i,s:s?,s:f}", "method", method, "path", path, "code", status, "user", user, "durationMs",
                          seconds * 1e3));
}

static void finish(const char *method, const char *path, int status, const char *user, double started)
{
    double elapsed = monotonic_seconds() - started;
    pgw_metrics_observe_api(status, elapsed);
    log_request(method, path, status, user, elapsed);
}

/* On the loop: the answers the workers finished. */
static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct st_pgw_api_call_job_t *job = H2O_STRUCT_FROM_MEMBER(struct st_pgw_api_call_job_t, message, m);
        h2o_req_t *req = job->req;
        if (req != NULL) {
            *job->ticket = NULL; /* sending may dispose of the request */
            job->req = NULL;
            send_response(req, &job->r, PGW_API_CACHE_API);
        }
        finish(job->method_text, job->path, job->r.status, job->who.username, job->started);
        free_job(job);
    }
}

/* The request's pool is going away (answered, or the client left). */
static void on_req_gone(void *p)
{
    struct st_pgw_api_call_job_t *job = *(struct st_pgw_api_call_job_t **)p;
    if (job != NULL)
        job->req = NULL;
}

static char *copy_slice(struct pgw_api_slice s)
{
    return s.len != 0 ? pgw_strndup(s.base, s.len) : NULL;
}

static char *copy_header(h2o_req_t *req, const h2o_token_t *token, size_t *len)
{
    size_t n = 0;
    const char *v = header_value(req, token, &n);
    if (len != NULL)
        *len = n;
    return v != NULL ? pgw_strndup(v, n) : NULL;
}

/* Hands a routed request to the workers; the answer comes back through on_jobs_done. */
static void submit(struct pgw_api_server *server, h2o_req_t *req, const struct pgw_api_match *m, double started)
{
    struct st_pgw_api_call_job_t *job = pgw_calloc(1, sizeof(*job));
    job->super.run = run_job;
    job->server = server;
    job->thread = H2O_STRUCT_FROM_MEMBER(struct st_pgw_api_thread_t, ev.ctx, req->conn->ctx);
    job->req = req;
    job->route = m->route;
    job->method = pgw_api_method_bit(req->method.base, req->method.len);
    job->method_text = pgw_strndup(req->method.base, req->method.len);
    job->path = pgw_strndup(req->path_normalized.base, req->path_normalized.len);
    job->ns = copy_slice(m->ns);
    job->plural = copy_slice(m->plural);
    job->name = copy_slice(m->name);
    if (req->query_at != SIZE_MAX) {
        job->query_len = req->path.len - req->query_at - 1;
        job->query = pgw_strndup(req->path.base + req->query_at + 1, job->query_len);
    }
    job->content_type = copy_header(req, H2O_TOKEN_CONTENT_TYPE, NULL);
    job->authorization = copy_header(req, H2O_TOKEN_AUTHORIZATION, &job->authorization_len);
    if (req->entity.base != NULL) {
        job->body_len = req->entity.len;
        job->body = pgw_malloc(job->body_len + 1);
        memcpy(job->body, req->entity.base, job->body_len);
        job->body[job->body_len] = '\0';
        if (m->route->id == PGW_API_LOGIN)
            memset(req->entity.base, 0, req->entity.len); /* the pasted token: one copy, the job's */
    }
    job->started = started;
    job->ticket = h2o_mem_alloc_shared(&req->pool, sizeof(*job->ticket), on_req_gone);
    *job->ticket = job;
    pgw_api_workers_submit(server->workers, &job->super);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_pgw_api_handler_t *self = (void *)_self;
    struct pgw_api_server *server = self->server;
    double started = monotonic_seconds();
    struct pgw_api_match m;
    pgw_api_route_match(req->method.base, req->method.len, req->path_normalized.base, req->path_normalized.len, &m);
    struct pgw_api_response r = {0};
    char allow[64];
    const struct pgw_asset *asset = NULL;

    if (server->client == NULL && is_api_path(req->path_normalized) &&
        !h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/api/v1/openapi.json"))) {
        pgw_api_response_status(&r, 503, "no Kubernetes API configured");
    } else if (m.route == NULL && m.allowed == 0) {
        pgw_api_response_status(&r, 404, "nothing here; the API is under /api/v1/ (see /api/v1/openapi.json), the web UI at /ui/");
    } else if (m.route == NULL) {
        pgw_api_response_status(&r, 405, "method not allowed");
        r.allow = h2o_strdup(&req->pool, pgw_api_methods_text(m.allowed, allow, sizeof(allow)), SIZE_MAX).base;
    } else if (m.route->id == PGW_API_ROOT) {
        r.status = 302;
        r.location = "/ui/";
        r.content_type = "text/plain; charset=utf-8";
    } else if (m.route->id == PGW_API_UI_INDEX || m.route->id == PGW_API_UI_FILE || m.route->id == PGW_API_OPENAPI) {
        char path[160];
        if (m.route->id == PGW_API_UI_FILE)
            snprintf(path, sizeof(path), "ui/%.*s", (int)m.file.len, m.file.base);
        asset = pgw_asset_find(m.route->id == PGW_API_OPENAPI   ? "api/openapi.json"
                               : m.route->id == PGW_API_UI_FILE ? path
                                                                : "ui/index.html");
        if (asset == NULL)
            pgw_api_response_status(&r, 404, "no such file");
    } else {
        submit(server, req, &m, started);
        return 0;
    }

    const char *cache = is_api_path(req->path_normalized) ? PGW_API_CACHE_API : PGW_API_CACHE_UI;
    char method[16], path[256];
    snprintf(method, sizeof(method), "%.*s", (int)req->method.len, req->method.base);
    snprintf(path, sizeof(path), "%.*s", (int)req->path_normalized.len, req->path_normalized.base);
    int status = r.status;
    if (asset != NULL) {
        status = send_asset(req, asset, cache);
    } else {
        send_response(req, &r, cache);
    }
    finish(method, path, status, NULL, started);
    pgw_api_response_dispose(&r);
    return 0;
}

static void *thread_main(void *arg)
{
    struct st_pgw_api_thread_t *t = arg;
    pgw_evloop_serve(&t->ev, &t->server->stopping, LOOP_TICK_MS, t->server->cfg->shutdown_grace_ms);
    return NULL;
}

static void free_server(struct pgw_api_server *server)
{
    pgw_api_workers_stop(server->workers); /* the requests in its queue are answered (or dropped) below */
    for (unsigned i = 0; i != API_THREADS; ++i) {
        struct st_pgw_api_thread_t *t = &server->threads[i];
        if (t->ev.loop == NULL)
            continue;
        pgw_evloop_close_listener(&t->ev.listener);
        if (t->receiver.queue != NULL) {
            h2o_evloop_run(t->ev.loop, 0); /* answers the workers sent after the loop stopped */
            h2o_multithread_unregister_receiver(t->ev.ctx.queue, &t->receiver);
        }
        pgw_evloop_dispose(&t->ev);
    }
    h2o_config_dispose(&server->globalconf);
    SSL_CTX_free(server->ssl_ctx);
    pgw_session_keys_free(server->keys);
    free(server);
}

struct pgw_api_server *pgw_api_server_start(const struct pgw_config *cfg, struct pgw_tls_store *store, struct pgw_kclient *client,
                                            int preload, char **err)
{
    struct pgw_api_server *server = pgw_calloc(1, sizeof(*server));
    server->cfg = cfg;
    server->client = client;
    if ((server->ssl_ctx = pgw_tls_context_new(store, NULL, err)) == NULL) {
        free(server);
        return NULL;
    }
    if ((server->workers = pgw_api_workers_start(API_WORKERS)) == NULL) {
        SSL_CTX_free(server->ssl_ctx);
        free(server);
        *err = pgw_asprintf("cannot start the API's worker threads");
        return NULL;
    }
    server->keys = pgw_session_keys_new(client, NULL, (int)cfg->api_session_seconds, (int)cfg->api_key_rotation_seconds);
    h2o_globalconf_t *gc = &server->globalconf;
    h2o_config_init(gc);
    gc->server_name = h2o_iovec_init(H2O_STRLIT("pgwarden"));
    gc->max_request_entity_size = PGW_MAX_BODY_BYTES;
    gc->http1.req_timeout = cfg->request_timeout_ms;
    gc->handshake_timeout = cfg->request_timeout_ms;
    server->hosts[0] = h2o_config_register_host(gc, h2o_iovec_init(H2O_STRLIT("api")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(server->hosts[0], "/", 0);
    struct st_pgw_api_handler_t *handler = (void *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->server = server;

    for (unsigned i = 0; i != API_THREADS; ++i) {
        struct st_pgw_api_thread_t *t = &server->threads[i];
        int fd = pgw_server_listen_socket(cfg->api_listen, server->port, 1, &server->port, err);
        if (fd < 0)
            goto fail;
        t->server = server;
        pgw_evloop_init(&t->ev, gc, fd, server->hosts, server->ssl_ctx);
        h2o_multithread_register_receiver(t->ev.ctx.queue, &t->receiver, on_jobs_done);
    }
    if (client != NULL && preload) {
        char *kerr = NULL;
        if (pgw_session_keys_load(server->keys, time(NULL), &kerr) != 0) {
            pgw_log(PGW_LOG_WARN, "API session keys not loaded yet; retried at the first login",
                    pgw_json_pack("{s:s}", "error", kerr));
            free(kerr);
        }
    }
    for (unsigned i = 0; i != API_THREADS; ++i) {
        if (pthread_create(&server->threads[i].tid, NULL, thread_main, &server->threads[i]) != 0) {
            *err = pgw_asprintf("cannot start an API event-loop thread");
            atomic_store(&server->stopping, 1);
            for (unsigned j = 0; j != i; ++j)
                pthread_join(server->threads[j].tid, NULL);
            goto fail;
        }
    }
    return server;
fail:
    free_server(server);
    return NULL;
}

int pgw_api_server_port(const struct pgw_api_server *server)
{
    return server->port;
}

void pgw_api_server_stop(struct pgw_api_server *server)
{
    atomic_store(&server->stopping, 1);
    for (unsigned i = 0; i != API_THREADS; ++i)
        pthread_join(server->threads[i].tid, NULL);
    free_server(server);
}
