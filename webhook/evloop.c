#include "webhook/evloop.h"

#include <stdlib.h>
#include <time.h>

#include "common/log.h"

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(listener->data, sock);
}

h2o_socket_t *pgw_evloop_listen(h2o_evloop_t *loop, int fd, h2o_accept_ctx_t *accept_ctx)
{
    h2o_socket_t *sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = accept_ctx;
    h2o_socket_read_start(sock, on_accept);
    return sock;
}

void pgw_evloop_init(struct pgw_evloop *l, h2o_globalconf_t *gc, int fd, h2o_hostconf_t **hosts, SSL_CTX *ssl_ctx)
{
    l->loop = h2o_evloop_create();
    h2o_context_init(&l->ctx, l->loop, gc);
    l->accept_ctx = (h2o_accept_ctx_t){.ctx = &l->ctx, .hosts = hosts, .ssl_ctx = ssl_ctx};
    l->listener = pgw_evloop_listen(l->loop, fd, &l->accept_ctx);
}

void pgw_evloop_close_listener(h2o_socket_t **sock)
{
    if (*sock == NULL)
        return;
    h2o_socket_read_stop(*sock);
    h2o_socket_close(*sock);
    *sock = NULL;
}

/* TLS handshakes accepted but not finished: each holds an entry in the context's handshake timeout. */
static int handshakes_pending(struct pgw_evloop *l)
{
    return !h2o_linklist_is_empty(&l->ctx.handshake_timeout._entries);
}

static int busy(struct pgw_evloop *l)
{
    return !h2o_linklist_is_empty(&l->ctx.http1._conns) || handshakes_pending(l);
}

void pgw_evloop_serve(struct pgw_evloop *l, atomic_int *stopping, unsigned tick_ms, unsigned grace_ms)
{
    while (!atomic_load(stopping))
        h2o_evloop_run(l->loop, tick_ms);

    pgw_evloop_close_listener(&l->listener);
    h2o_context_request_shutdown(&l->ctx);
    double deadline = monotonic_seconds() + grace_ms / 1e3;
    while (busy(l) && monotonic_seconds() < deadline)
        h2o_evloop_run(l->loop, 10);
    if (busy(l))
        pgw_log(PGW_LOG_WARN, "grace period over with connections still open", NULL);
    while (handshakes_pending(l))
        h2o_evloop_run(l->loop, 10);
}

void pgw_evloop_dispose(struct pgw_evloop *l)
{
    if (l->loop == NULL)
        return;
    pgw_evloop_close_listener(&l->listener);
    /* h2o_context_request_shutdown() arms the HTTP/2 graceful timer even though we never speak h2. */
    if (h2o_timeout_is_linked(&l->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&l->ctx.http2._graceful_shutdown_timeout);
    h2o_multithread_queue_t *queue = l->ctx.queue;
    h2o_context_dispose(&l->ctx);
    /* Run the loop briefly so closed sockets are released before the loop goes. */
    h2o_evloop_run(l->loop, 0);
    h2o_evloop_destroy(l->loop);
    free(queue); /* h2o 2.2's evloop h2o_multithread_destroy_queue() closes the queue but never frees it */
    l->loop = NULL;
}
