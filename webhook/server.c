/*
 * h2o event loops serving the admission routes over TLS, and the health,
 * readiness and metrics endpoints over plain HTTP.
 *
 * Threads: every loop owns one SO_REUSEPORT listener on the webhook address;
 * loop 0 also owns the health listener. Shared state is read-only (config,
 * globalconf, SSL_CTX) or atomic (readiness, stop flag, metrics).
 *
 * Stop: each loop wakes at least every 100 ms to look at the stop flag; it
 * then closes its listener, asks h2o to shut connections down, and keeps
 * running until its HTTP/1 connections are gone or the grace period ends.
 */
#include "webhook/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <h2o.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "webhook/admission.h"
#include "webhook/evloop.h"
#include "webhook/tls.h"

#define LOOP_TICK_MS 100

struct st_pgw_server_thread_t {
    struct pgw_server *server;
    pthread_t tid;
    struct pgw_evloop ev;
    h2o_accept_ctx_t health_accept_ctx; /* loop 0 only */
    h2o_socket_t *health_listener;
};

struct pgw_server {
    const struct pgw_config *cfg;
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *webhook_hosts[2], *health_hosts[2];
    SSL_CTX *ssl_ctx;
    unsigned nthreads;
    struct st_pgw_server_thread_t *threads;
    atomic_int stopping, ready;
    int port, health_port;
};

/* h2o handler with a back pointer, embedded the h2o way. */
struct st_pgw_handler_t {
    h2o_handler_t super;
    struct pgw_server *server;
};

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void send_json(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, len);
}

/* A metav1.Status error: `reason` is the Kubernetes StatusReason, `phrase` the HTTP reason phrase. */
static void send_status(h2o_req_t *req, int status, const char *phrase, const char *reason, const char *message)
{
    size_t len;
    char *body = pgw_admission_status_body(status, reason, message, &len);
    send_json(req, status, phrase, body, len);
    free(body);
}

static int is_json_content_type(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i == -1)
        return 1; /* kube-apiserver always sends one; be lenient when absent */
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char json[] = "application/json";
    return v.len >= sizeof(json) - 1 && strncasecmp(v.base, json, sizeof(json) - 1) == 0 &&
           (v.len == sizeof(json) - 1 || v.base[sizeof(json) - 1] == ';' || v.base[sizeof(json) - 1] == ' ');
}

static void log_request(const char *path, size_t path_len, int status, const struct pgw_admission_outcome *out, double seconds)
{
    if (!pgw_log_enabled(PGW_LOG_DEBUG))
        return;
    json_t *f = pgw_json_pack("{s:s%,s:i,s:f}", "path", path, path_len, "code", status, "durationMs", seconds * 1e3);
    if (out != NULL) {
        json_object_set_new(f, "uid", json_string(out->uid));
        json_object_set_new(f, "operation", json_string(out->operation));
        if (out->http_status == 200)
            json_object_set_new(f, "allowed", json_boolean(out->allowed));
    }
    pgw_log(PGW_LOG_DEBUG, "admission request", f);
}

/*
 * The benchmark ceiling: same listener, TLS, HTTP parsing and response path as
 * an admission request, but a constant answer with no JSON work.
 */
static int is_bench_request(struct st_pgw_handler_t *self, h2o_req_t *req)
{
    return self->server->cfg->bench_endpoint &&
           h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/bench/fixed"));
}

static void send_bench_response(h2o_req_t *req)
{
    static const char body[] = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                               "\"response\":{\"uid\":\"fixed\",\"allowed\":true}}";
    send_json(req, 200, "OK", body, sizeof(body) - 1);
}

static int on_admission_request(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_pgw_handler_t *self = (void *)_self;
    if (is_bench_request(self, req)) {
        send_bench_response(req);
        return 0;
    }
    double started = monotonic_seconds();
    const pgw_admission_route_t *route = pgw_admission_route_find(req->path_normalized.base, req->path_normalized.len);
    size_t metric_index = route != NULL ? pgw_admission_route_index(route) : (size_t)-1;
    int status;

    if (route == NULL) {
        status = 404;
        send_status(req, 404, "Not Found", "NotFound", "no admission endpoint at this path");
    } else if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        status = 405;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        send_status(req, 405, "Method Not Allowed", "MethodNotAllowed", "admission endpoints accept POST only");
    } else if (!is_json_content_type(req)) {
        status = 415;
        send_status(req, 415, "Unsupported Media Type", "UnsupportedMediaType", "Content-Type must be application/json");
    } else {
        pgw_metrics_inflight_add(1);
        struct pgw_admission_outcome out;
        pgw_admission_handle(route, req->entity.base, req->entity.len, self->server->cfg, time(NULL), &out);
        status = out.http_status;
        send_json(req, status, status == 200 ? "OK" : "Bad Request", out.body, out.body_len);
        double elapsed = monotonic_seconds() - started;
        pgw_metrics_observe_admission(metric_index, status, status == 200 ? out.allowed : -1, elapsed);
        pgw_metrics_inflight_add(-1);
        log_request(route->path, strlen(route->path), status, &out, elapsed);
        free(out.body);
        return 0;
    }
    double elapsed = monotonic_seconds() - started;
    pgw_metrics_observe_admission(metric_index, status, -1, elapsed);
    log_request(req->path_normalized.base, req->path_normalized.len, status, NULL, elapsed);
    return 0;
}

static void send_text(h2o_req_t *req, int status, const char *reason, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_send_inline(req, body, len);
}

static int on_health_request(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_pgw_handler_t *self = (void *)_self;
    h2o_iovec_t path = req->path_normalized;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        send_text(req, 405, "Method Not Allowed", "text/plain", H2O_STRLIT("method not allowed\n"));
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz"))) {
        send_text(req, 200, "OK", "text/plain", H2O_STRLIT("ok\n"));
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz"))) {
        if (atomic_load(&self->server->ready) && !atomic_load(&self->server->stopping))
            send_text(req, 200, "OK", "text/plain", H2O_STRLIT("ok\n"));
        else
            send_text(req, 503, "Service Unavailable", "text/plain", H2O_STRLIT("not ready\n"));
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))) {
        size_t len;
        char *text = pgw_metrics_render(&len);
        send_text(req, 200, "OK", "text/plain; version=0.0.4", text, len);
        free(text);
    } else {
        send_text(req, 404, "Not Found", "text/plain", H2O_STRLIT("not found\n"));
    }
    return 0;
}

/* Splits "host:port", "[v6]:port" or ":port". Returns 0 or -1. */
static int split_address(const char *addr, char *host, size_t hostsize, char *port, size_t portsize)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon[1] == '\0')
        return -1;
    const char *h = addr;
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        ++h;
        hlen -= 2;
    }
    if (hlen >= hostsize || strlen(colon + 1) >= portsize)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

int pgw_server_listen_socket(const char *addr, int port_override, int reuseport, int *bound_port, char **err)
{
    char host[256], port[16];
    if (split_address(addr, host, sizeof(host), port, sizeof(port)) != 0) {
        *err = pgw_asprintf("invalid listen address \"%s\" (expected host:port)", addr);
        return -1;
    }
    if (port_override > 0)
        snprintf(port, sizeof(port), "%d", port_override);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        *err = pgw_asprintf("cannot resolve \"%s\": %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        *err = pgw_asprintf("cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void *thread_main(void *arg)
{
    struct st_pgw_server_thread_t *t = arg;
    struct pgw_server *server = t->server;
    pgw_evloop_serve(&t->ev, &server->stopping, LOOP_TICK_MS, server->cfg->shutdown_grace_ms);
    pgw_evloop_close_listener(&t->health_listener);
    return NULL;
}

static h2o_hostconf_t *register_host(h2o_globalconf_t *gc, const char *name, struct pgw_server *server,
                                     int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    h2o_hostconf_t *host = h2o_config_register_host(gc, h2o_iovec_init(name, strlen(name)), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    struct st_pgw_handler_t *handler = (void *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->server = server;
    return host;
}

static void free_server(struct pgw_server *server)
{
    for (unsigned i = 0; i != server->nthreads; ++i) {
        pgw_evloop_close_listener(&server->threads[i].health_listener);
        pgw_evloop_dispose(&server->threads[i].ev);
    }
    free(server->threads);
    h2o_config_dispose(&server->globalconf);
    SSL_CTX_free(server->ssl_ctx);
    free(server);
}

struct pgw_server *pgw_server_start(const struct pgw_config *cfg, struct pgw_tls_store *store, char **err)
{
    struct pgw_server *server = pgw_calloc(1, sizeof(*server));
    server->cfg = cfg;
    server->nthreads = cfg->threads ? cfg->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (server->nthreads == 0 || server->nthreads > 64)
        server->nthreads = 1;
    if ((server->ssl_ctx = pgw_tls_context_new(store, cfg->client_ca_file, err)) == NULL) {
        free(server);
        return NULL;
    }

    h2o_globalconf_t *gc = &server->globalconf;
    h2o_config_init(gc);
    gc->server_name = h2o_iovec_init(H2O_STRLIT("pgwarden"));
    gc->max_request_entity_size = PGW_MAX_BODY_BYTES;
    gc->http1.req_timeout = cfg->request_timeout_ms;
    gc->handshake_timeout = cfg->request_timeout_ms;
    server->webhook_hosts[0] = register_host(gc, "webhook", server, on_admission_request);
    server->health_hosts[0] = register_host(gc, "health", server, on_health_request);

    const char *paths[PGW_METRICS_MAX_PATHS];
    size_t npaths = pgw_admission_route_count();
    for (size_t i = 0; i != npaths && i != PGW_METRICS_MAX_PATHS; ++i)
        paths[i] = pgw_admission_routes[i].path;
    pgw_metrics_init(paths, npaths);

    server->threads = pgw_calloc(server->nthreads, sizeof(server->threads[0]));
    int health_fd = pgw_server_listen_socket(cfg->health_listen, 0, 0, &server->health_port, err);
    if (health_fd < 0)
        goto fail;
    for (unsigned i = 0; i != server->nthreads; ++i) {
        struct st_pgw_server_thread_t *t = &server->threads[i];
        int fd = pgw_server_listen_socket(cfg->listen, server->port, 1, &server->port, err);
        if (fd < 0) {
            if (i == 0)
                close(health_fd);
            goto fail;
        }
        t->server = server;
        pgw_evloop_init(&t->ev, gc, fd, server->webhook_hosts, server->ssl_ctx);
        if (i == 0) {
            t->health_accept_ctx = (h2o_accept_ctx_t){.ctx = &t->ev.ctx, .hosts = server->health_hosts};
            t->health_listener = pgw_evloop_listen(t->ev.loop, health_fd, &t->health_accept_ctx);
        }
    }
    for (unsigned i = 0; i != server->nthreads; ++i) {
        if (pthread_create(&server->threads[i].tid, NULL, thread_main, &server->threads[i]) != 0) {
            *err = pgw_asprintf("cannot start event-loop thread: %s", strerror(errno));
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

int pgw_server_port(const struct pgw_server *server)
{
    return server->port;
}

int pgw_server_health_port(const struct pgw_server *server)
{
    return server->health_port;
}

void pgw_server_set_ready(struct pgw_server *server, int ready)
{
    atomic_store(&server->ready, ready);
}

void pgw_server_stop(struct pgw_server *server)
{
    atomic_store(&server->stopping, 1);
    for (unsigned i = 0; i != server->nthreads; ++i)
        pthread_join(server->threads[i].tid, NULL);
    free_server(server);
}
