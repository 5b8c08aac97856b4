/*
 * PgBouncer configuration for a cluster: pgbouncer.ini, the auth_file, and the
 * SQL that prepares the database side of auth_query. Pure functions (cluster
 * JSON in, text out); the controller puts the text into ConfigMap and Secret
 * <cluster>-pgbouncer and runs the SQL, and the data-plane tests run the very
 * same text against real PostgreSQL and PgBouncer.
 *
 * Authentication: clients use scram-sha-256. PgBouncer looks their SCRAM
 * verifier up with auth_query, logged in as PGW_ROLE_PGBOUNCER (whose own
 * password is in the auth_file), through the SECURITY DEFINER function
 * pgwarden.get_auth(username), so the pooler role never reads pg_authid itself.
 * Superusers and replication roles are never served through the pooler.
 */
#ifndef PGW_SPECS_RENDER_PGBOUNCER_H
#define PGW_SPECS_RENDER_PGBOUNCER_H

#include <jansson.h>

/* Where things are; the defaults are the pod layout (specs/pod_layout.h).
 * Tests change them to run on loopback with temporary directories. */
struct pgw_pgbouncer_render_opts {
    const char *listen_addr;     /* "0.0.0.0" */
    int listen_port;             /* 6432 */
    const char *unix_socket_dir; /* pgbouncer's own socket: the shared socket directory */
    const char *server_host;     /* postgres: the shared socket directory */
    int server_port;             /* 5432 */
    const char *config_dir;      /* where userlist.txt, tls.crt and tls.key are mounted */
    int tls;                     /* 1: clients may use TLS with config_dir/tls.{crt,key} */
};

#define PGW_POOLER_DEFAULT_MODE "transaction"
#define PGW_POOLER_DEFAULT_MAX_CLIENT_CONN 1000
#define PGW_POOLER_DEFAULT_POOL_SIZE 20

/* spec.pooler.defaultPoolSize, or PGW_POOLER_DEFAULT_POOL_SIZE: the server connections per (database, user) pool. */
long long pgw_pgbouncer_pool_size(const json_t *cluster);

/* Fills opts with the in-pod defaults (TLS on). */
void pgw_pgbouncer_render_opts_default(struct pgw_pgbouncer_render_opts *opts);

/* pgbouncer.ini for `cluster` (a PostgresCluster JSON; spec.pooler is read, with
 * the defaults above when absent). opts NULL = defaults. Returns malloc'd text; caller frees. */
char *pgw_render_pgbouncer_ini(const json_t *cluster, const struct pgw_pgbouncer_render_opts *opts);

/* userlist.txt holding PGW_ROLE_PGBOUNCER's password (plaintext or SCRAM verifier,
 * as PgBouncer's auth_file accepts). malloc'd; caller frees. */
char *pgw_render_pgbouncer_userlist(const char *auth_password);

/* Idempotent SQL creating PGW_ROLE_PGBOUNCER with `auth_password` (plaintext or,
 * better, a SCRAM-SHA-256 verifier so the plaintext never reaches server logs),
 * the schema `pgwarden` and the function pgwarden.get_auth(text). Run it as a
 * superuser in template1 and in every existing database: PgBouncer runs
 * auth_query in the database the client asked for. Returns malloc'd text, or
 * NULL when the password contains a control character.
 * With auth_password NULL the SQL reads psql variable :'pgbouncer_password' instead.
 * The result holds a secret: never log it. */
char *pgw_render_pgbouncer_sql(const json_t *cluster, const char *auth_password);

/* The schema `pgwarden` and pgwarden.get_auth(text) alone (the end of pgw_render_pgbouncer_sql), for a
 * database created after bootstrap: one made from template0 lacks them, and PgBouncer could not log
 * anyone into it. Holds no secret. malloc'd. */
char *pgw_render_pgbouncer_auth_function_sql(void);

/* The auth_query PgBouncer runs (also used by tests). */
#define PGW_PGBOUNCER_AUTH_QUERY "SELECT username, password FROM pgwarden.get_auth($1)"

#endif
