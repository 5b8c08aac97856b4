/*
 * Connection set-up for pgwarden's PostgreSQL client (pgconn.h): SSLRequest,
 * TLS, the startup packet, authentication, and closing.
 *
 * Authentication policy: SCRAM-SHA-256 always; md5 and cleartext only inside
 * TLS (they hand the server, or whoever relays, something replayable or the
 * password itself); anything else is refused by name. Once a SCRAM exchange
 * has begun, AuthenticationOk is accepted only after the server's signature
 * was verified, so a relay that does not know the verifier cannot cut the
 * exchange short. A server that asks for nothing (trust) is accepted: the
 * server's identity then rests on TLS with the cluster's CA.
 *
 * ParameterStatus, BackendKeyData (kept for CancelRequest) and notices are
 * otherwise ignored.
 */
#include "controller/pg/pgconn.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/xalloc.h"
#include "controller/pg/pgio.h"
#include "controller/pg/scram_exchange.h"

#define PROTOCOL_3_0 196608u
#define SSL_REQUEST_CODE 80877103u
#define CANCEL_REQUEST_CODE 80877102u
#define CANCEL_TIMEOUT_MS 2000
#define DETAIL_MAX 512

enum {
    AUTH_OK = 0,
    AUTH_CLEARTEXT = 3,
    AUTH_MD5 = 5,
    AUTH_SASL = 10,
    AUTH_SASL_CONTINUE = 11,
    AUTH_SASL_FINAL = 12,
};

static char *dup_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pgw_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

char *pgw_pgio_error_text(struct pgw_pg_conn *conn, const unsigned char *body, size_t len)
{
    const char *severity = NULL, *severity_v = NULL, *code = NULL, *message = NULL, *detail = NULL;
    size_t pos = 0;
    while (pos < len && body[pos] != 0) {
        char field = (char)body[pos++];
        const char *value = pgw_pgmsg_get_str(body, len, &pos);
        if (value == NULL)
            break;
        switch (field) {
        case 'S':
            severity = value;
            break;
        case 'V':
            severity_v = value;
            break; /* not translated (9.6+): prefer it */
        case 'C':
            code = value;
            break;
        case 'M':
            message = value;
            break;
        case 'D':
            detail = value;
            break;
        default:
            break;
        }
    }
    if (severity_v != NULL)
        severity = severity_v;
    conn->sqlstate[0] = '\0';
    if (code != NULL && strlen(code) == 5)
        memcpy(conn->sqlstate, code, 6);
    char *text =
        pgw_asprintf("%s %s: %s", severity ? severity : "ERROR", code ? code : "?????", message ? message : "(no message)");
    if (detail != NULL) {
        size_t n = strlen(detail);
        char *with =
            pgw_asprintf("%s; DETAIL: %.*s%s", text, (int)(n > DETAIL_MAX ? DETAIL_MAX : n), detail, n > DETAIL_MAX ? "..." : "");
        free(text);
        text = with;
    }
    return text;
}

/* Sends the message built in m and frees it. */
static int send_msg(struct pgw_pg_conn *conn, struct pgw_pgmsg *m, int64_t deadline, char **err)
{
    int rc = pgw_pgio_write(conn, m->data, m->len, deadline, err);
    pgw_pgmsg_free(m);
    return rc;
}

static int send_password(struct pgw_pg_conn *conn, const char *text, int64_t deadline, char **err)
{
    struct pgw_pgmsg m = {0};
    pgw_pgmsg_begin(&m, 'p');
    pgw_pgmsg_str(&m, text);
    pgw_pgmsg_end(&m);
    return send_msg(conn, &m, deadline, err);
}

static void md5_hex(const void *a, size_t a_len, const void *b, size_t b_len, char out[33])
{
    unsigned char d[16];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    EVP_DigestUpdate(ctx, a, a_len);
    EVP_DigestUpdate(ctx, b, b_len);
    EVP_DigestFinal_ex(ctx, d, &n);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* "md5" + md5(md5(password + user) + salt), PostgreSQL's md5 method. */
static int send_md5(struct pgw_pg_conn *conn, const pgw_pg_conn_opts *o, const unsigned char salt[4], int64_t deadline, char **err)
{
    char inner[33], outer[36];
    md5_hex(o->password, strlen(o->password), o->user, strlen(o->user), inner);
    memcpy(outer, "md5", 3);
    md5_hex(inner, 32, salt, 4, outer + 3);
    int rc = send_password(conn, outer, deadline, err);
    OPENSSL_cleanse(inner, sizeof(inner));
    OPENSSL_cleanse(outer, sizeof(outer));
    return rc;
}

/* SASL mechanisms are a list of strings ended by an empty one. */
static int offers_scram(const unsigned char *body, size_t len, size_t pos)
{
    const char *mech;
    while ((mech = pgw_pgmsg_get_str(body, len, &pos)) != NULL && mech[0] != '\0') {
        if (strcmp(mech, "SCRAM-SHA-256") == 0)
            return 1;
    }
    return 0;
}

/* One authentication request from the server; sets *done on AuthenticationOk. */
static int on_auth(struct pgw_pg_conn *conn, const pgw_pg_conn_opts *o, struct pgw_scram_client *scram, const unsigned char *body,
                   size_t len, int *done, int64_t deadline, char **err)
{
    uint32_t code;
    size_t pos = 0;
    if (pgw_pgmsg_get_int32(body, len, &pos, &code) != 0) {
        *err = dup_err("protocol error: a short authentication message");
        return -1;
    }
    int tls = conn->ssl != NULL;
    switch (code) {
    case AUTH_OK:
        if (scram->state != 0 && scram->state != 3) {
            *err = dup_err("the server accepted the login before proving it knows the password (SCRAM not finished)");
            return -1;
        }
        *done = 1;
        return 0;
    case AUTH_CLEARTEXT:
    case AUTH_MD5:
        if (!tls) {
            *err = dup_err("the server asks for %s password authentication over a connection without TLS: refused",
                           code == AUTH_MD5 ? "md5" : "cleartext");
            return -1;
        }
        if (o->password == NULL) {
            *err = dup_err("the server asks for a password and none was given");
            return -1;
        }
        if (code == AUTH_CLEARTEXT)
            return send_password(conn, o->password, deadline, err);
        if (len - pos < 4) {
            *err = dup_err("protocol error: a short md5 request");
            return -1;
        }
        return send_md5(conn, o, body + pos, deadline, err);
    case AUTH_SASL: {
        if (!offers_scram(body, len, pos)) {
            *err = dup_err("the server offers no SASL mechanism we know (we speak SCRAM-SHA-256)");
            return -1;
        }
        if (o->password == NULL || scram->state != 0) {
            *err = dup_err(o->password == NULL ? "the server asks for a password and none was given"
                                               : "protocol error: a second SASL request");
            return -1;
        }
        /* PostgreSQL takes the user from the startup packet; libpq sends an empty name here too. */
        char *first = pgw_scram_client_first(scram, "", o->password, NULL);
        if (first == NULL) {
            *err = dup_err("SCRAM: could not draw a nonce");
            return -1;
        }
        struct pgw_pgmsg m = {0};
        pgw_pgmsg_begin(&m, 'p');
        pgw_pgmsg_str(&m, "SCRAM-SHA-256");
        pgw_pgmsg_int32(&m, (uint32_t)strlen(first));
        pgw_pgmsg_bytes(&m, first, strlen(first));
        pgw_pgmsg_end(&m);
        free(first);
        return send_msg(conn, &m, deadline, err);
    }
    case AUTH_SASL_CONTINUE: {
        char *final = pgw_scram_client_final(scram, (const char *)body + pos, len - pos, err);
        if (final == NULL)
            return -1;
        struct pgw_pgmsg m = {0};
        pgw_pgmsg_begin(&m, 'p');
        pgw_pgmsg_bytes(&m, final, strlen(final));
        pgw_pgmsg_end(&m);
        free(final);
        return send_msg(conn, &m, deadline, err);
    }
    case AUTH_SASL_FINAL:
        return pgw_scram_client_verify(scram, (const char *)body + pos, len - pos, err);
    default:
        *err = dup_err("the server asks for an authentication method we do not support (code %u)", code);
        return -1;
    }
}

static int negotiate_tls(struct pgw_pg_conn *conn, const pgw_pg_conn_opts *o, int64_t deadline, char **err)
{
    struct pgw_pgmsg m = {0};
    pgw_pgmsg_begin(&m, 0);
    pgw_pgmsg_int32(&m, SSL_REQUEST_CODE);
    pgw_pgmsg_end(&m);
    if (send_msg(conn, &m, deadline, err) != 0)
        return -1;
    /* One byte, read past any buffer: bytes after it belong to the TLS handshake (CVE-2021-23222). */
    char answer;
    if (pgw_pgio_read_raw(conn, &answer, 1, deadline, err) != 0)
        return -1;
    if (answer == 'S')
        return pgw_pgio_tls_start(conn, o->ca_pem, deadline, err);
    if (answer == 'N' && !o->require_tls)
        return 0;
    if (answer == 'N')
        *err = dup_err("the server does not accept TLS connections and TLS is required");
    else
        *err = dup_err("protocol error: the server answered the TLS request with '%c'",
                       answer >= 0x20 && answer < 0x7f ? answer : '?');
    conn->broken = 1;
    return -1;
}

static int send_startup(struct pgw_pg_conn *conn, const pgw_pg_conn_opts *o, int64_t deadline, char **err)
{
    struct pgw_pgmsg m = {0};
    pgw_pgmsg_begin(&m, 0);
    pgw_pgmsg_int32(&m, PROTOCOL_3_0);
    pgw_pgmsg_str(&m, "user");
    pgw_pgmsg_str(&m, o->user);
    pgw_pgmsg_str(&m, "database");
    pgw_pgmsg_str(&m, o->dbname ? o->dbname : o->user);
    pgw_pgmsg_str(&m, "application_name");
    pgw_pgmsg_str(&m, o->application_name ? o->application_name : "pgwarden");
    pgw_pgmsg_str(&m, "client_encoding");
    pgw_pgmsg_str(&m, "UTF8");
    pgw_pgmsg_bytes(&m, "", 1);
    pgw_pgmsg_end(&m);
    return send_msg(conn, &m, deadline, err);
}

/* Reads until ReadyForQuery, authenticating on the way. */
static int handshake(struct pgw_pg_conn *conn, const pgw_pg_conn_opts *o, int64_t deadline, char **err)
{
    struct pgw_scram_client scram = {0};
    int authenticated = 0, rc = -1;
    for (;;) {
        char type;
        const unsigned char *body;
        size_t len;
        if (pgw_pgio_read_message(conn, &type, &body, &len, deadline, err) != 0)
            break;
        if (type == 'R' && !authenticated) {
            if (on_auth(conn, o, &scram, body, len, &authenticated, deadline, err) != 0)
                break;
        } else if (type == 'E') {
            *err = pgw_pgio_error_text(conn, body, len);
            break;
        } else if (type == 'K' && authenticated) {
            size_t pos = 0;
            conn->have_key = pgw_pgmsg_get_int32(body, len, &pos, &conn->backend_pid) == 0 &&
                             pgw_pgmsg_get_int32(body, len, &pos, &conn->backend_key) == 0;
        } else if (type == 'Z' && authenticated) {
            rc = 0;
            break;
        } else if (type == 'S' || type == 'N' || type == 'v' || type == 'K') {
            /* ParameterStatus, notices, NegotiateProtocolVersion: nothing for us */
        } else {
            *err = dup_err("protocol error: unexpected message '%c' during start-up", type >= 0x20 && type < 0x7f ? type : '?');
            break;
        }
    }
    pgw_scram_client_dispose(&scram);
    if (rc != 0)
        conn->broken = 1;
    return rc;
}

pgw_pg_conn *pgw_pg_connect(const pgw_pg_conn_opts *opts, char **err)
{
    *err = NULL;
    if (opts == NULL || opts->host == NULL || opts->user == NULL || opts->port < 1 || opts->port > 65535) {
        *err = dup_err("connect: host, port and user are required");
        return NULL;
    }
    pgw_pg_conn *conn = pgw_calloc(1, sizeof(*conn));
    conn->fd = -1;
    conn->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : PGW_PG_DEFAULT_TIMEOUT_MS;
    int64_t deadline = pgw_pgio_now_ms() + conn->timeout_ms;
    char *why = NULL;
    if (pgw_pgio_tcp_connect(conn, opts->host, opts->port, deadline, &why) != 0 || negotiate_tls(conn, opts, deadline, &why) != 0 ||
        send_startup(conn, opts, deadline, &why) != 0 || handshake(conn, opts, deadline, &why) != 0) {
        if (conn->timed_out)
            *err = dup_err("%s:%d: timed out after %d ms (%s)", opts->host, opts->port, conn->timeout_ms, why ? why : "");
        else
            *err = dup_err("%s:%d: %s", opts->host, opts->port, why ? why : "connection failed");
        free(why);
        conn->broken = 1;
        pgw_pg_close(conn);
        return NULL;
    }
    return conn;
}

void pgw_pgio_cancel(struct pgw_pg_conn *conn)
{
    if (!conn->have_key || conn->addr_len == 0)
        return;
    char *err = NULL;
    int64_t deadline = pgw_pgio_now_ms() + CANCEL_TIMEOUT_MS;
    int fd = pgw_pgio_tcp_connect_addr((const struct sockaddr *)&conn->addr, conn->addr_len, deadline, &err);
    free(err);
    if (fd < 0)
        return;
    /* A cancel connection carries nothing else; the server needs no TLS nor login for it. */
    struct pgw_pg_conn cancel = {.fd = fd, .timeout_ms = CANCEL_TIMEOUT_MS};
    struct pgw_pgmsg m = {0};
    pgw_pgmsg_begin(&m, 0);
    pgw_pgmsg_int32(&m, CANCEL_REQUEST_CODE);
    pgw_pgmsg_int32(&m, conn->backend_pid);
    pgw_pgmsg_int32(&m, conn->backend_key);
    pgw_pgmsg_end(&m);
    err = NULL;
    if (send_msg(&cancel, &m, deadline, &err) == 0) {
        /* The server closes the connection once it has read the request. */
        char byte;
        pgw_pgio_read_raw(&cancel, &byte, 1, deadline, NULL);
    }
    free(err);
    pgw_pgio_shutdown(&cancel);
}

void pgw_pg_close(pgw_pg_conn *conn)
{
    if (conn == NULL)
        return;
    if (!conn->broken && conn->fd >= 0) {
        struct pgw_pgmsg m = {0};
        pgw_pgmsg_begin(&m, 'X'); /* Terminate: the server ends the session without logging an EOF */
        pgw_pgmsg_end(&m);
        char *err = NULL;
        int64_t deadline = pgw_pgio_now_ms() + (conn->timeout_ms < 1000 ? conn->timeout_ms : 1000);
        send_msg(conn, &m, deadline, &err);
        free(err);
    }
    pgw_pgio_shutdown(conn);
    free(conn);
}

int pgw_pg_broken(const pgw_pg_conn *conn)
{
    return conn == NULL || conn->broken;
}

const char *pgw_pg_sqlstate(const pgw_pg_conn *conn)
{
    return conn ? conn->sqlstate : "";
}
