/*
 * The HTTPS admission server and the plain-HTTP health/metrics listener.
 *
 * One h2o event loop per thread, each with its own SO_REUSEPORT listening
 * socket on the same address, so the kernel spreads connections over every
 * core without a shared accept lock. Admission work is CPU-only and short, so
 * it runs inline on the loop that received the request.
 */
#ifndef PGW_WEBHOOK_SERVER_H
#define PGW_WEBHOOK_SERVER_H

struct pgw_config;
struct pgw_tls_store;

/* The largest request body read, by the admission server and the REST API alike. */
#define PGW_MAX_BODY_BYTES (8u << 20)

struct pgw_server;

/*
 * Binds both listeners and starts the event-loop threads. `store` must already
 * hold a certificate; the server borrows it. Returns NULL with *err (caller frees).
 */
struct pgw_server *pgw_server_start(const struct pgw_config *cfg, struct pgw_tls_store *store, char **err);

/*
 * A listening TCP socket on "host:port", "[v6]:port" or ":port" (the API's
 * listener uses it too); port_override > 0 replaces the port (to give every
 * loop the same one); reuseport sets SO_REUSEPORT. *bound_port gets the
 * port. Returns the fd, or -1 with *err (caller frees).
 */
int pgw_server_listen_socket(const char *addr, int port_override, int reuseport, int *bound_port, char **err);

/* The bound ports (useful with ":0"). */
int pgw_server_port(const struct pgw_server *server);
int pgw_server_health_port(const struct pgw_server *server);

/* /readyz answers 200 only while ready. */
void pgw_server_set_ready(struct pgw_server *server, int ready);

/*
 * Graceful stop: /readyz turns 503, listeners close (no new connections), idle
 * keep-alive connections close, and in-flight requests finish, for at most
 * cfg->shutdown_grace_ms. Returns after every thread has exited; then frees.
 */
void pgw_server_stop(struct pgw_server *server);

#endif
