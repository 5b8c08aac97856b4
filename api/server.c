/*
 * h2o event loops serving the REST API and the web UI over TLS (see server.h).
 *
 * A request goes: route (api/router.h) → in local mode 503 for /api/v1/...
 * but the OpenAPI document → the session check where the route needs one →
 * its handler (api/handlers.h), which answers in a struct pgw_api_response →
 * the security headers of every answer, Cache-Control, and the body handed
 * to h2o without a copy (the pool frees it with the request).
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
#include "api/session.h"
#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"
#include "webhook/server.h"
#include "webhook/tls.h"

#define API_THREADS 2
#define LOOP_TICK_MS 100
#define WWW_AUTHENTICATE "Bearer realm=\"pgwarden\""

struct st_pgw_api_thread_t {
    struct pgw_api_server *server;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
};

struct pgw_api_server {
    const struct pgw_config *cfg;
    struct pgw_kclient *client;
    struct pgw_session_keys *keys;
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *hosts[2];
    SSL_CTX *ssl_ctx;
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

/* A NUL-terminated copy of a slice in the request's pool, or NULL for an empty one. */
static const char *pool_str(h2o_req_t *req, struct pgw_api_slice s)
{
    return s.len != 0 ? h2o_strdup(&req->pool, s.base, s.len).base : NULL;
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
static void send_asset(h2o_req_t *req, const struct pgw_asset *a, const char *cache_control)
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
}

static int is_api_path(h2o_iovec_t path)
{
    return path.len >= 8 && memcmp(path.base, "/api/v1/", 8) == 0;
}

/*
 * The session of the request, into *who; 0, or -1 with the 401 in r. The
 * token itself is never copied out of the request or logged.
 */
static int authenticate(struct pgw_api_server *server, h2o_req_t *req, time_t now, struct pgw_identity *who,
                        struct pgw_api_response *r)
{
    size_t len = 0;
    const char *auth = header_value(req, H2O_TOKEN_AUTHORIZATION, &len);
    if (auth == NULL || len < 8 || strncasecmp(auth, "Bearer ", 7) != 0) {
        pgw_api_response_status(r, 401, "log in first: send Authorization: Bearer <token from POST /api/v1/login>");
        r->www_authenticate = WWW_AUTHENTICATE;
        return -1;
    }
    char *jwt = h2o_strdup(&req->pool, auth + 7, len - 7).base;
    const char *why = NULL;
    int verdict = pgw_session_verify(server->keys, jwt, now, who, &why);
    memset(jwt, 0, len - 7); /* the pool is recycled: leave no session token in it */
    if (verdict != PGW_SESSION_OK) {
        pgw_api_response_status(r, 401, why != NULL ? why : "invalid session token");
        r->www_authenticate = WWW_AUTHENTICATE;
        return -1;
    }
    return 0;
}

static void dispatch(struct pgw_api_server *server, h2o_req_t *req, const struct pgw_api_match *m, struct pgw_identity *who,
                     struct pgw_api_response *r)
{
    time_t now = time(NULL);
    if (m->route->auth && authenticate(server, req, now, who, r) != 0)
        return;
    size_t ngroups = 0;
    const char **groups = who->username != NULL ? pgw_identity_group_list(who, &ngroups) : NULL;
    struct pgw_kidentity as = {.user = who->username, .uid = who->uid, .groups = groups, .ngroups = ngroups};
    size_t ct_len = 0;
    const char *ct = header_value(req, H2O_TOKEN_CONTENT_TYPE, &ct_len);
    struct pgw_api_call call = {
        .client = server->client,
        .keys = server->keys,
        .who = m->route->auth ? who : NULL,
        .as = m->route->auth ? &as : NULL,
        .ns = pool_str(req, m->ns),
        .plural = m->route->id == PGW_API_DETAIL ? "postgresclusters" : pool_str(req, m->plural),
        .name = pool_str(req, m->name),
        .query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL,
        .query_len = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0,
        .body = req->entity.base,
        .body_len = req->entity.len,
        .content_type = ct != NULL ? h2o_strdup(&req->pool, ct, ct_len).base : NULL,
        .method = pgw_api_method_bit(req->method.base, req->method.len),
        .now = now,
    };
    switch (m->route->id) {
    case PGW_API_LOGIN:
        pgw_api_login(&call, r);
        break;
    case PGW_API_LOGOUT:
        pgw_api_logout(&call, r);
        break;
    case PGW_API_WHOAMI:
        pgw_api_whoami(&call, r);
        break;
    case PGW_API_LIST_ALL:
    case PGW_API_COLLECTION:
    case PGW_API_OBJECT:
        pgw_api_objects(&call, m->route->id, r);
        break;
    case PGW_API_DETAIL:
        pgw_api_detail(&call, r);
        break;
    default:
        pgw_api_action(&call, m->route->id, r);
        break;
    }
    free(groups);
}

static void log_request(h2o_req_t *req, int status, const char *user, double seconds)
{
    if (!pgw_log_enabled(PGW_LOG_DEBUG))
        return;
    pgw_log(PGW_LOG_DEBUG, "API request",
            pgw_json_pack("{s:s%,s:s%,s:i,s:s?,s:f}", "method", req->method.base, req->method.len, "path",
                          req->path_normalized.base, req->path_normalized.len, "code", status, "user", user, "durationMs",
                          seconds * 1e3));
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_pgw_api_handler_t *self = (void *)_self;
    struct pgw_api_server *server = self->server;
    double started = monotonic_seconds();
    struct pgw_api_match m;
    pgw_api_route_match(req->method.base, req->method.len, req->path_normalized.base, req->path_normalized.len, &m);
    struct pgw_api_response r = {0};
    struct pgw_identity who = {0};
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
        dispatch(server, req, &m, &who, &r);
    }

    const char *cache = is_api_path(req->path_normalized) ? PGW_API_CACHE_API : PGW_API_CACHE_UI;
    int status = r.status;
    if (asset != NULL) {
        send_asset(req, asset, cache);
        status = req->res.status;
    } else {
        send_response(req, &r, cache);
    }
    double elapsed = monotonic_seconds() - started;
    pgw_metrics_observe_api(status, elapsed);
    log_request(req, status, who.username, elapsed);
    pgw_api_response_dispose(&r);
    pgw_identity_dispose(&who);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(listener->data, sock);
}

static void close_listener(h2o_socket_t **sock)
{
    if (*sock == NULL)
        return;
    h2o_socket_read_stop(*sock);
    h2o_socket_close(*sock);
    *sock = NULL;
}

static int busy(struct st_pgw_api_thread_t *t)
{
    return !h2o_linklist_is_empty(&t->ctx.http1._conns) || !h2o_linklist_is_empty(&t->ctx.handshake_timeout._entries);
}

static void *thread_main(void *arg)
{
    struct st_pgw_api_thread_t *t = arg;
    struct pgw_api_server *server = t->server;
    while (!atomic_load(&server->stopping))
        h2o_evloop_run(t->loop, LOOP_TICK_MS);
    close_listener(&t->listener);
    h2o_context_request_shutdown(&t->ctx);
    double deadline = monotonic_seconds() + server->cfg->shutdown_grace_ms / 1e3;
    while (busy(t) && monotonic_seconds() < deadline)
        h2o_evloop_run(t->loop, 10);
    /* A TLS handshake in progress cannot be cancelled; it ends by itself within the handshake timeout. */
    while (!h2o_linklist_is_empty(&t->ctx.handshake_timeout._entries))
        h2o_evloop_run(t->loop, 10);
    return NULL;
}

static void free_server(struct pgw_api_server *server)
{
    for (unsigned i = 0; i != API_THREADS; ++i) {
        struct st_pgw_api_thread_t *t = &server->threads[i];
        if (t->loop == NULL)
            continue;
        close_listener(&t->listener);
        if (h2o_timeout_is_linked(&t->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&t->ctx.http2._graceful_shutdown_timeout);
        h2o_multithread_queue_t *queue = t->ctx.queue;
        h2o_context_dispose(&t->ctx);
        h2o_evloop_run(t->loop, 0);
        h2o_evloop_destroy(t->loop);
        free(queue); /* see webhook/server.c: h2o's evloop queue is closed but never freed */
    }
    h2o_config_dispose(&server->globalconf);
    SSL_CTX_free(server->ssl_ctx);
    pgw_session_keys_free(server->keys);
    free(server);
}

struct pgw_api_server *pgw_api_server_start(const struct pgw_config *cfg, struct pgw_tls_store *store, struct pgw_kclient *client,
                                            char **err)
{
    struct pgw_api_server *server = pgw_calloc(1, sizeof(*server));
    server->cfg = cfg;
    server->client = client;
    if ((server->ssl_ctx = pgw_tls_context_new(store, NULL, err)) == NULL) {
        free(server);
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
        t->loop = h2o_evloop_create();
        h2o_context_init(&t->ctx, t->loop, gc);
        t->accept_ctx = (h2o_accept_ctx_t){.ctx = &t->ctx, .hosts = server->hosts, .ssl_ctx = server->ssl_ctx};
        t->listener = h2o_evloop_socket_create(t->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        t->listener->data = &t->accept_ctx;
        h2o_socket_read_start(t->listener, on_accept);
    }
    if (client != NULL) {
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
