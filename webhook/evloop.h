/*
 * One h2o event loop with its context and listening socket: what each thread
 * of the admission server (webhook/server.c) and of the REST API server
 * (api/server.c) owns, with the one way both start, drain and release it.
 */
#ifndef PGW_WEBHOOK_EVLOOP_H
#define PGW_WEBHOOK_EVLOOP_H

#include <stdatomic.h>
#include <h2o.h>

struct pgw_evloop {
    h2o_evloop_t *loop; /* NULL until pgw_evloop_init */
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
};

/* Creates the loop and its context and accepts on `fd` (owned from here) for `hosts`; ssl_ctx NULL is plain HTTP. */
void pgw_evloop_init(struct pgw_evloop *l, h2o_globalconf_t *gc, int fd, h2o_hostconf_t **hosts, SSL_CTX *ssl_ctx);

/* Accepts on another socket (`fd`, owned from here) on the same loop with its own accept context. */
h2o_socket_t *pgw_evloop_listen(h2o_evloop_t *loop, int fd, h2o_accept_ctx_t *accept_ctx);

/* Stops accepting and closes the socket; *sock becomes NULL. Nothing when already NULL. */
void pgw_evloop_close_listener(h2o_socket_t **sock);

/*
 * Runs the loop until *stopping, waking every tick_ms to look; then closes the
 * listener, asks h2o to shut connections down and runs until they are gone
 * or grace_ms passed. A TLS handshake accepted before the listener closed is
 * not a connection yet and h2o cannot cancel it: it is let end by itself
 * (within the handshake timeout), since disposing of the context while its
 * timeout is armed aborts.
 */
void pgw_evloop_serve(struct pgw_evloop *l, atomic_int *stopping, unsigned tick_ms, unsigned grace_ms);

/* Releases what pgw_evloop_init made (the loop must not be running); nothing when it never ran. */
void pgw_evloop_dispose(struct pgw_evloop *l);

#endif
