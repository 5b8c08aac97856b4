/*
 * pgwarden's own PostgreSQL client: protocol 3.0 over TLS, enough to run
 * the controller's role/database/extension statements (issue 19).
 *
 * Why not libpq: the operator image is a scratch image holding only the
 * libraries the binary already links (OpenSSL, curl, jansson...); the
 * controller needs one short-lived connection per reconcile, TLS with the
 * cluster's CA, SCRAM-SHA-256 and the simple query protocol, and nothing
 * else. The whole client is a few hundred lines we can read and fuzz.
 *
 * What it does: SSLRequest then TLS 1.2+ (certificate verified against
 * ca_pem when given, no host name check: the controller connects to pod
 * IPs, which the server certificate does not name), StartupMessage,
 * SCRAM-SHA-256 (server signature verified), md5 and cleartext only over
 * TLS, then the simple query protocol. Every connect, read and write is
 * bounded by timeout_ms; a message longer than PGW_PG_MAX_MESSAGE is refused
 * so a hostile server cannot make us allocate without bound.
 *
 * A connection is used by one thread at a time. Passwords are never logged
 * and never appear in an error message.
 */
#ifndef PGW_CONTROLLER_PG_PGCONN_H
#define PGW_CONTROLLER_PG_PGCONN_H

#include <stddef.h>

/* Largest backend message we accept (type byte and length word excluded). */
#define PGW_PG_MAX_MESSAGE (64u * 1024 * 1024)
#define PGW_PG_DEFAULT_TIMEOUT_MS 10000

typedef struct pgw_pg_conn pgw_pg_conn;

typedef struct pgw_pg_conn_opts {
    const char *host; /* an IP or name */
    int port;
    const char *user, *password, *dbname; /* dbname NULL: the user's name, as PostgreSQL defaults */
    const char *application_name;         /* "pgwarden" (also when NULL) */
    int require_tls;                      /* 1: SSLRequest, fail when the server refuses; 0: TLS when offered */
    const char *ca_pem;                   /* optional: verify the server certificate against it (no host name check) */
    int timeout_ms;                       /* bound on connect and on each query; <= 0 means PGW_PG_DEFAULT_TIMEOUT_MS */
} pgw_pg_conn_opts;

/* Connects, TLS, SCRAM-SHA-256 (also md5/password when the server asks, over TLS only).
 * Returns the connection (the caller closes it with pgw_pg_close), or NULL with *err a
 * malloc'd message the caller frees. A server error keeps its form "FATAL 28P01: ...". */
pgw_pg_conn *pgw_pg_connect(const pgw_pg_conn_opts *opts, char **err);
/* Sends Terminate and frees everything; NULL is fine. */
void pgw_pg_close(pgw_pg_conn *conn);

typedef struct pgw_pg_result {
    size_t nrows, ncols;
    char **colnames;   /* ncols */
    char **cells;      /* nrows * ncols, row-major; NULL for SQL NULL */
    char *command_tag; /* of the last statement */
} pgw_pg_result;

/* Simple query protocol; `sql` may hold several statements. 0 on success (`out`, when not NULL,
 * holds the rows of the last statement that returned rows; free it with pgw_pg_result_free), -1 on
 * error with *err a malloc'd "ERROR 42710: role \"x\" already exists" (severity, SQLSTATE, message)
 * and `out` empty. The connection stays usable after an SQL error (it waits for ReadyForQuery); after
 * a timeout or an I/O error it is broken (pgw_pg_broken) and only pgw_pg_close is left to do. A timed-out
 * query is cancelled on the server (CancelRequest, up to 2 s more). A FATAL error that ends the session
 * ("FATAL 57P01: terminating connection due to administrator command") is the message, and breaks it.
 * Several statements in one `sql` run as one implicit transaction: an error undoes the earlier ones,
 * and CREATE/DROP DATABASE refuse to run there (25001); send those alone. */
int pgw_pg_query(pgw_pg_conn *conn, const char *sql, pgw_pg_result *out, char **err);
void pgw_pg_result_free(pgw_pg_result *res);
const char *pgw_pg_cell(const pgw_pg_result *res, size_t row, size_t col); /* NULL when out of range or SQL NULL */

/* Additions to the agreed contract. */
/* 1 when the connection can no longer be used (I/O error, timeout, protocol violation). */
int pgw_pg_broken(const pgw_pg_conn *conn);
/* The SQLSTATE of the last server error on this connection ("28P01", "42710"...), "" if none. */
const char *pgw_pg_sqlstate(const pgw_pg_conn *conn);

#endif
