/*
 * The HTTPS listener of the REST API and the web UI (cfg->api_listen).
 *
 * Its own event loops (two threads, SO_REUSEPORT listeners on one port),
 * apart from the admission server's, and its own worker threads for the
 * calls that wait on the Kubernetes API (libcurl, blocking): those must
 * never delay admission, nor the other connections of the API's loops.
 * TLS comes from the webhook's certificate store (hot reload included) but
 * asks for no client certificate: people log in with a session token.
 */
#ifndef PGW_API_SERVER_H
#define PGW_API_SERVER_H

struct pgw_config;
struct pgw_tls_store;
struct pgw_kclient;

struct pgw_api_server;

/*
 * Binds cfg->api_listen and starts the loops. client: the API's own
 * Kubernetes client (borrowed; NULL: local mode, where /api/v1/... other than
 * openapi.json answers 503). store is borrowed. preload: read (or create)
 * the session keys' Secret now rather than at the first login. Returns NULL
 * with *err (caller frees).
 */
struct pgw_api_server *pgw_api_server_start(const struct pgw_config *cfg, struct pgw_tls_store *store, struct pgw_kclient *client,
                                            int preload, char **err);

/* The bound port (useful with ":0"). */
int pgw_api_server_port(const struct pgw_api_server *server);

/*
 * Graceful stop, as the webhook's: the listeners close, idle connections
 * close, requests in flight finish within cfg->shutdown_grace_ms. Returns
 * after the threads have exited; then frees.
 */
void pgw_api_server_stop(struct pgw_api_server *server);

#endif
