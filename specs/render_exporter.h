/*
 * postgres_exporter (prometheus-postgres-exporter) settings for a cluster: the
 * container environment and the SQL creating its monitoring role. Pure
 * functions; the pod mutator uses the environment for the injected exporter
 * container, the controller runs the SQL, and the data-plane test runs both
 * against real PostgreSQL and the real exporter.
 *
 * The exporter logs in as PGW_ROLE_EXPORTER (a member of pg_monitor) over the
 * shared unix socket, reading its password from a file mounted from Secret
 * <cluster>-exporter, so the password is never in the pod spec.
 */
#ifndef PGW_SPECS_RENDER_EXPORTER_H
#define PGW_SPECS_RENDER_EXPORTER_H

#include <jansson.h>

#include "specs/pod_layout.h"

struct pgw_exporter_render_opts {
    const char *socket_dir;    /* PGW_POD_SOCKET_DIR */
    int port;                  /* PGW_POD_PORT_POSTGRES (names the socket file) */
    const char *database;      /* PGW_DB_MAINTENANCE */
    const char *password_file; /* PGW_POD_EXPORTER_DIR "/" PGW_KEY_EXPORTER_PASSWORD */
};

void pgw_exporter_render_opts_default(struct pgw_exporter_render_opts *opts);

/* The exporter's environment as a Kubernetes EnvVar array
 * ([{"name":"DATA_SOURCE_URI","value":...}, ...]): DATA_SOURCE_URI,
 * DATA_SOURCE_USER and DATA_SOURCE_PASS_FILE. opts NULL = defaults.
 * Returns a new reference; the caller decrefs it. */
json_t *pgw_render_exporter_env(const struct pgw_exporter_render_opts *opts);

/* The exporter's command-line arguments for a listen address such as ":9187". New reference. */
json_t *pgw_render_exporter_args(const char *listen_address);

/* The ConfigMap of spec.metrics.customQueriesConfigMap when metrics are enabled,
 * else NULL (borrowed from `cluster`). The StatefulSet template names it (or, when
 * NULL with metrics on, pgwarden's <cluster>-exporter) in
 * PGW_POD_ANNOTATION_METRICS_QUERIES so the pod mutator, which never reads the
 * cluster, can mount it into the exporter. */
const char *pgw_exporter_queries_configmap(const json_t *cluster);

/*
 * pgwarden's own custom queries (postgres_exporter's queries.yaml format), rendered into the
 * ConfigMap <cluster>-exporter (key PGW_KEY_EXPORTER_QUERIES) and mounted when the user names no
 * customQueriesConfigMap of their own (a user's file replaces this one: the exporter reads one
 * file; docs/monitoring.md shows what to copy into it). They add what the built-in collectors lack:
 *  - pg_pooler_server_connections / pg_pooler_pool_size {datname,usename}: PgBouncer's server
 *    connections per pool, counted in pg_stat_activity (postgres_exporter cannot run PgBouncer's
 *    SHOW commands). In the pod, PgBouncer reaches PostgreSQL over the unix socket as the client's
 *    own role, so its server connections are the socket sessions of ordinary roles (not superusers,
 *    not the exporter's, not the pooler's auth role); pool_size is the rendered default_pool_size,
 *    so a pool at its size makes clients wait in PgBouncer. With the pooler off: no pooler query.
 *  - pg_replica_lag_replay_lag_seconds {application_name}: pg_stat_replication.replay_lag on the
 *    primary (the built-in collector has the byte lag only). 0 while a replica is idle and caught up.
 * Returns malloc'd text.
 */
char *pgw_render_exporter_queries(const json_t *cluster);

/* The flag that makes postgres_exporter load the custom queries: the key
 * PGW_KEY_EXPORTER_QUERIES of that ConfigMap, mounted at PGW_POD_EXPORTER_QUERIES_DIR.
 * The exporter reads the file once per connection to PostgreSQL, so a changed
 * ConfigMap takes effect when the exporter restarts (docs/configuration.md). */
#define PGW_EXPORTER_QUERIES_FLAG "--extend.query-path=" PGW_POD_EXPORTER_QUERIES_DIR "/" PGW_KEY_EXPORTER_QUERIES

/* Idempotent SQL creating PGW_ROLE_EXPORTER in pg_monitor with `password`
 * (NULL: psql variable :'exporter_password')
 * (plaintext or a SCRAM-SHA-256 verifier). Run once per cluster as a superuser.
 * Returns malloc'd text, or NULL when the password holds a control character.
 * The result holds a secret: never log it. */
char *pgw_render_exporter_sql(const json_t *cluster, const char *password);

#endif
