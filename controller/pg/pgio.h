/*
 * The transport under pgconn.c and pgquery.c: a TCP connection (plain or
 * TLS), every wait bounded by a deadline, and PostgreSQL's framing (a type
 * byte, a 4-byte big-endian length that counts itself, the body). Internal
 * to controller/pg.
 *
 * Framing limits: a message body longer than PGW_PG_MAX_MESSAGE is a
 * protocol error, so a hostile server cannot make us allocate more than
 * that per message. Any I/O error, timeout or protocol error marks the
 * connection broken; nothing more is read from or written to it.
 */
#ifndef PGW_CONTROLLER_PG_PGIO_H
#define PGW_CONTROLLER_PG_PGIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "controller/pg/pgconn.h"

struct pgw_pg_conn {
    int fd;         /* owned; -1 when closed */
    SSL_CTX *ctx;   /* owned; NULL on a plain connection */
    SSL *ssl;       /* owned; NULL on a plain connection */
    int timeout_ms; /* > 0 */
    int broken;
    int timed_out; /* the deadline passed (so broken too) */
    /* BackendKeyData, for a CancelRequest when a query times out. */
    int have_key;
    uint32_t backend_pid, backend_key;
    struct sockaddr_storage addr; /* the address we connected to */
    socklen_t addr_len;
    char sqlstate[6]; /* of the last ErrorResponse, "" if none */
    /* Read buffer: bytes [in_start, in_end) are received and not yet consumed. */
    unsigned char *in;
    size_t in_start, in_end, in_cap;
};

/* Milliseconds on the monotonic clock, and the deadline `ms` from now. */
int64_t pgw_pgio_now_ms(void);

/* Opens a non-blocking TCP connection to host:port before the deadline into conn->fd and
 * conn->addr. 0, or -1 with *err. Names are resolved with getaddrinfo, which the deadline does
 * not bound (the controller passes pod IPs). */
int pgw_pgio_tcp_connect(struct pgw_pg_conn *conn, const char *host, int port, int64_t deadline, char **err);
/* The same to a given address (CancelRequest); returns the fd or -1 with *err. */
int pgw_pgio_tcp_connect_addr(const struct sockaddr *addr, socklen_t addr_len, int64_t deadline, char **err);
/* TLS 1.2+ over conn->fd; verifies the chain against ca_pem when not NULL (no host name check). */
int pgw_pgio_tls_start(struct pgw_pg_conn *conn, const char *ca_pem, int64_t deadline, char **err);

/* Writes all of buf (through TLS when started). 0, or -1 with *err and the connection broken. */
int pgw_pgio_write(struct pgw_pg_conn *conn, const void *buf, size_t len, int64_t deadline, char **err);
/* Reads exactly len bytes, bypassing the buffer and TLS (the SSLRequest answer). */
int pgw_pgio_read_raw(struct pgw_pg_conn *conn, void *buf, size_t len, int64_t deadline, char **err);
/* Reads one message: *type and *body (len bytes, owned by conn, valid until the next read). */
int pgw_pgio_read_message(struct pgw_pg_conn *conn, char *type, const unsigned char **body, size_t *len, int64_t deadline,
                          char **err);
/* Closes the socket and frees TLS state and the buffer (not conn itself). */
void pgw_pgio_shutdown(struct pgw_pg_conn *conn);

/* Shared by pgconn.c and pgquery.c (defined in pgconn.c). */
/* An ErrorResponse body as "ERROR 42710: role \"x\" already exists" (plus "; DETAIL: ..." when the
 * server gave one), malloc'd; records the SQLSTATE in conn->sqlstate. */
char *pgw_pgio_error_text(struct pgw_pg_conn *conn, const unsigned char *body, size_t len);
/* Asks the server to cancel the running query (CancelRequest on a new connection), best effort. */
void pgw_pgio_cancel(struct pgw_pg_conn *conn);

/* An outgoing message under construction. Owned by its user; pgw_pgmsg_free releases it. */
struct pgw_pgmsg {
    unsigned char *data;
    size_t len, cap;
    size_t start; /* offset of the current message's length word */
};
/* Starts a message of `type` (0: the untyped startup, SSLRequest and CancelRequest messages). */
void pgw_pgmsg_begin(struct pgw_pgmsg *m, char type);
void pgw_pgmsg_int32(struct pgw_pgmsg *m, uint32_t v);
void pgw_pgmsg_bytes(struct pgw_pgmsg *m, const void *p, size_t n);
void pgw_pgmsg_str(struct pgw_pgmsg *m, const char *s); /* with its NUL */
void pgw_pgmsg_end(struct pgw_pgmsg *m);                /* fills in the length word */
void pgw_pgmsg_free(struct pgw_pgmsg *m);

/* Big-endian readers over a message body; each checks bounds and advances *pos. -1 when short. */
int pgw_pgmsg_get_int32(const unsigned char *body, size_t len, size_t *pos, uint32_t *out);
int pgw_pgmsg_get_int16(const unsigned char *body, size_t len, size_t *pos, uint16_t *out);
/* A NUL-terminated string inside the body; NULL when the NUL is missing. */
const char *pgw_pgmsg_get_str(const unsigned char *body, size_t len, size_t *pos);

#endif
