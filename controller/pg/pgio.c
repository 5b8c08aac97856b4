/*
 * Transport for the PostgreSQL client: non-blocking sockets and poll(), so
 * every connect, TLS handshake, read and write is bounded by the caller's
 * deadline, and the message framing with its size cap. See pgio.h.
 *
 * TLS goes through a small BIO of our own rather than OpenSSL's socket BIO:
 * that one writes with write(2), and a peer that closed the connection would
 * raise SIGPIPE in whatever program links us (a test tool, the CLI). Ours
 * sends with MSG_NOSIGNAL.
 */
#include "controller/pg/pgio.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/xalloc.h"

#define IN_INITIAL 16384

int64_t pgw_pgio_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
    if (err == NULL || *err != NULL)
        return; /* keep the first, most specific message */
    va_list ap;
    va_start(ap, fmt);
    *err = pgw_vasprintf(fmt, ap);
    va_end(ap);
}

static int broken(struct pgw_pg_conn *conn)
{
    conn->broken = 1;
    return -1;
}

/* Waits until fd is ready for `events`. 0 when ready, -1 on timeout or error (errno set). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - pgw_pgio_now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0; /* POLLERR/POLLHUP too: the next call reports what happened */
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static const char *wait_error(void)
{
    return errno == ETIMEDOUT ? "timed out" : strerror(errno);
}

/* wait_fd on the connection's socket, remembering a timeout. */
static int wait_conn(struct pgw_pg_conn *conn, short events, int64_t deadline)
{
    if (wait_fd(conn->fd, events, deadline) == 0)
        return 0;
    if (errno == ETIMEDOUT)
        conn->timed_out = 1;
    return -1;
}

/* --- TCP --- */

int pgw_pgio_tcp_connect_addr(const struct sockaddr *addr, socklen_t addr_len, int64_t deadline, char **err)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, addr, addr_len) != 0) {
        if (errno != EINPROGRESS) {
            set_err(err, "connect: %s", strerror(errno));
            close(fd);
            return -1;
        }
        int so_error = 0;
        socklen_t sl = sizeof(so_error);
        if (wait_fd(fd, POLLOUT, deadline) != 0) {
            set_err(err, "connect: %s", wait_error());
            close(fd);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &sl) != 0 || so_error != 0) {
            set_err(err, "connect: %s", strerror(so_error ? so_error : errno));
            close(fd);
            return -1;
        }
    }
    /* Our messages are whole requests; do not let Nagle hold one back for an ACK. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int pgw_pgio_tcp_connect(struct pgw_pg_conn *conn, const char *host, int port, int64_t deadline, char **err)
{
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        set_err(err, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    char *last = NULL;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        free(last);
        last = NULL;
        int fd = pgw_pgio_tcp_connect_addr(ai->ai_addr, ai->ai_addrlen, deadline, &last);
        if (fd >= 0 && ai->ai_addrlen <= sizeof(conn->addr)) {
            conn->fd = fd;
            memcpy(&conn->addr, ai->ai_addr, ai->ai_addrlen);
            conn->addr_len = ai->ai_addrlen;
            break;
        }
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(res);
    if (conn->fd < 0 && pgw_pgio_now_ms() >= deadline)
        conn->timed_out = 1;
    if (conn->fd < 0) {
        set_err(err, "%s:%d: %s", host, port, last ? last : "no address");
        free(last);
        return -1;
    }
    free(last);
    return 0;
}

/* --- our socket BIO (MSG_NOSIGNAL) --- */

static int bio_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pgwarden pg socket");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) && BIO_meth_set_ctrl(m, bio_ctrl) &&
        BIO_meth_set_create(m, bio_create))
        bio_method = m; /* process lifetime */
    else
        BIO_meth_free(m);
}

/* --- TLS --- */

static const char *ssl_error_text(void)
{
    static __thread char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        return errno ? strerror(errno) : "connection closed";
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
}

static int load_ca(SSL_CTX *ctx, const char *ca_pem, char **err)
{
    BIO *bio = BIO_new_mem_buf(ca_pem, -1);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int n = 0;
    X509 *cert;
    while (bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, cert) == 1)
            n++;
        X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error(); /* the loop ends on "no start line" */
    if (n == 0) {
        set_err(err, "the CA bundle holds no PEM certificate");
        return -1;
    }
    return 0;
}

int pgw_pgio_tls_start(struct pgw_pg_conn *conn, const char *ca_pem, int64_t deadline, char **err)
{
    pthread_once(&bio_once, bio_method_init);
    ERR_clear_error();
    if (bio_method == NULL || (conn->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        set_err(err, "TLS: %s", ssl_error_text());
        return broken(conn);
    }
    SSL_CTX_set_min_proto_version(conn->ctx, TLS1_2_VERSION);
    if (ca_pem != NULL) {
        if (load_ca(conn->ctx, ca_pem, err) != 0)
            return broken(conn);
        /* The chain is checked; the name is not: we connect to pod IPs the certificate does not list. */
        SSL_CTX_set_verify(conn->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(conn->ctx, SSL_VERIFY_NONE, NULL);
    }
    BIO *bio = BIO_new(bio_method);
    if ((conn->ssl = SSL_new(conn->ctx)) == NULL || bio == NULL) {
        BIO_free(bio);
        set_err(err, "TLS: %s", ssl_error_text());
        return broken(conn);
    }
    BIO_set_data(bio, (void *)(intptr_t)conn->fd);
    SSL_set_bio(conn->ssl, bio, bio); /* the SSL owns the BIO now */
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(conn->ssl);
        if (rc == 1)
            return 0;
        int e = SSL_get_error(conn->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_conn(conn, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) != 0) {
                set_err(err, "TLS handshake: %s", wait_error());
                return broken(conn);
            }
            continue;
        }
        long verify = SSL_get_verify_result(conn->ssl);
        if (verify != X509_V_OK)
            set_err(err, "TLS: the server certificate is not trusted: %s", X509_verify_cert_error_string(verify));
        else
            set_err(err, "TLS handshake: %s", ssl_error_text());
        return broken(conn);
    }
}

/* --- reading and writing --- */

int pgw_pgio_write(struct pgw_pg_conn *conn, const void *buf, size_t len, int64_t deadline, char **err)
{
    const unsigned char *p = buf;
    if (conn->broken) {
        set_err(err, "the connection is broken");
        return -1;
    }
    while (len > 0) {
        if (conn->ssl != NULL) {
            size_t n = 0;
            ERR_clear_error();
            errno = 0;
            int rc = SSL_write_ex(conn->ssl, p, len, &n);
            if (rc == 1) {
                p += n;
                len -= n;
                continue;
            }
            int e = SSL_get_error(conn->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (wait_conn(conn, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) == 0)
                    continue;
                set_err(err, "write: %s", wait_error());
                return broken(conn);
            }
            set_err(err, "write: %s", ssl_error_text());
            return broken(conn);
        }
        ssize_t n = send(conn->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (wait_conn(conn, POLLOUT, deadline) != 0) {
                set_err(err, "write: %s", wait_error());
                return broken(conn);
            }
        } else {
            set_err(err, "write: %s", strerror(errno));
            return broken(conn);
        }
    }
    return 0;
}

/* Reads what is available (at least one byte) into buf. */
static ssize_t read_some(struct pgw_pg_conn *conn, void *buf, size_t cap, int64_t deadline, char **err)
{
    for (;;) {
        if (conn->ssl != NULL) {
            size_t n = 0;
            ERR_clear_error();
            errno = 0;
            int rc = SSL_read_ex(conn->ssl, buf, cap, &n);
            if (rc == 1)
                return (ssize_t)n;
            int e = SSL_get_error(conn->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (wait_conn(conn, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) == 0)
                    continue;
                set_err(err, "read: %s", wait_error());
                return broken(conn);
            }
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ||
                (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
                set_err(err, "the server closed the connection");
            else
                set_err(err, "read: %s", ssl_error_text());
            return broken(conn);
        }
        ssize_t n = recv(conn->fd, buf, cap, 0);
        if (n > 0)
            return n;
        if (n == 0) {
            set_err(err, "the server closed the connection");
            return broken(conn);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            set_err(err, "read: %s", strerror(errno));
            return broken(conn);
        }
        if (wait_conn(conn, POLLIN, deadline) != 0) {
            set_err(err, "read: %s", wait_error());
            return broken(conn);
        }
    }
}

int pgw_pgio_read_raw(struct pgw_pg_conn *conn, void *buf, size_t len, int64_t deadline, char **err)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = recv(conn->fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n == 0) {
            set_err(err, "the server closed the connection");
            return broken(conn);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (wait_conn(conn, POLLIN, deadline) != 0) {
                set_err(err, "read: %s", wait_error());
                return broken(conn);
            }
        } else {
            set_err(err, "read: %s", strerror(errno));
            return broken(conn);
        }
    }
    return 0;
}

/* Makes `need` unconsumed bytes available in the buffer. */
static int fill(struct pgw_pg_conn *conn, size_t need, int64_t deadline, char **err)
{
    while (conn->in_end - conn->in_start < need) {
        if (conn->in_start > 0) { /* compact: what was consumed is no longer referenced */
            memmove(conn->in, conn->in + conn->in_start, conn->in_end - conn->in_start);
            conn->in_end -= conn->in_start;
            conn->in_start = 0;
        }
        if (conn->in_cap < need) {
            size_t cap = conn->in_cap ? conn->in_cap : IN_INITIAL;
            while (cap < need)
                cap *= 2;
            conn->in = pgw_realloc(conn->in, cap);
            conn->in_cap = cap;
        }
        ssize_t n = read_some(conn, conn->in + conn->in_end, conn->in_cap - conn->in_end, deadline, err);
        if (n < 0)
            return -1;
        conn->in_end += (size_t)n;
    }
    return 0;
}

int pgw_pgio_read_message(struct pgw_pg_conn *conn, char *type, const unsigned char **body, size_t *len, int64_t deadline,
                          char **err)
{
    if (conn->broken) {
        set_err(err, "the connection is broken");
        return -1;
    }
    if (fill(conn, 5, deadline, err) != 0)
        return -1;
    const unsigned char *h = conn->in + conn->in_start;
    uint32_t n = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
    if (n < 4 || n - 4 > PGW_PG_MAX_MESSAGE) {
        set_err(err, "protocol error: a message of %u bytes (type '%c')", n, h[0] >= 0x20 && h[0] < 0x7f ? h[0] : '?');
        return broken(conn);
    }
    if (fill(conn, 1 + (size_t)n, deadline, err) != 0)
        return -1;
    *type = (char)conn->in[conn->in_start];
    *body = conn->in + conn->in_start + 5;
    *len = n - 4;
    conn->in_start += 1 + (size_t)n;
    return 0;
}

void pgw_pgio_shutdown(struct pgw_pg_conn *conn)
{
    SSL_free(conn->ssl); /* frees the BIO */
    SSL_CTX_free(conn->ctx);
    conn->ssl = NULL;
    conn->ctx = NULL;
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    free(conn->in);
    conn->in = NULL;
    conn->in_start = conn->in_end = conn->in_cap = 0;
}

/* --- building messages --- */

static void reserve(struct pgw_pgmsg *m, size_t n)
{
    if (m->len + n <= m->cap)
        return;
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->len + n)
        cap *= 2;
    m->data = pgw_realloc(m->data, cap);
    m->cap = cap;
}

void pgw_pgmsg_begin(struct pgw_pgmsg *m, char type)
{
    if (type != 0) {
        reserve(m, 1);
        m->data[m->len++] = (unsigned char)type;
    }
    m->start = m->len;
    pgw_pgmsg_int32(m, 0);
}

void pgw_pgmsg_int32(struct pgw_pgmsg *m, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    pgw_pgmsg_bytes(m, b, 4);
}

void pgw_pgmsg_bytes(struct pgw_pgmsg *m, const void *p, size_t n)
{
    reserve(m, n);
    if (n > 0)
        memcpy(m->data + m->len, p, n);
    m->len += n;
}

void pgw_pgmsg_str(struct pgw_pgmsg *m, const char *s)
{
    pgw_pgmsg_bytes(m, s, strlen(s) + 1);
}

void pgw_pgmsg_end(struct pgw_pgmsg *m)
{
    uint32_t n = (uint32_t)(m->len - m->start);
    unsigned char *b = m->data + m->start;
    b[0] = (unsigned char)(n >> 24);
    b[1] = (unsigned char)(n >> 16);
    b[2] = (unsigned char)(n >> 8);
    b[3] = (unsigned char)n;
}

void pgw_pgmsg_free(struct pgw_pgmsg *m)
{
    if (m->data != NULL)
        OPENSSL_cleanse(m->data, m->cap); /* may have held a password message */
    free(m->data);
    memset(m, 0, sizeof(*m));
}

int pgw_pgmsg_get_int32(const unsigned char *body, size_t len, size_t *pos, uint32_t *out)
{
    if (*pos > len || len - *pos < 4)
        return -1;
    const unsigned char *b = body + *pos;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    *pos += 4;
    return 0;
}

int pgw_pgmsg_get_int16(const unsigned char *body, size_t len, size_t *pos, uint16_t *out)
{
    if (*pos > len || len - *pos < 2)
        return -1;
    *out = (uint16_t)(body[*pos] << 8 | body[*pos + 1]);
    *pos += 2;
    return 0;
}

const char *pgw_pgmsg_get_str(const unsigned char *body, size_t len, size_t *pos)
{
    if (*pos >= len)
        return NULL;
    const unsigned char *nul = memchr(body + *pos, '\0', len - *pos);
    if (nul == NULL)
        return NULL;
    const char *s = (const char *)body + *pos;
    *pos = (size_t)(nul - body) + 1;
    return s;
}
