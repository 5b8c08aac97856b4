/*
 * loadgen: a load client that talks to the webhook the way kube-apiserver does.
 *
 *   loadgen --target HOST:PORT [--target ...] --cacert FILE --request STATUS:PATH:FILE [--request ...]
 *           [--connections N] [--duration SECONDS] [--rate PER_SECOND] [--reconnect-every N]
 *           [--timeout-ms MS] [--servername NAME] [--stats-file FILE]
 *
 * N worker threads each own one keep-alive TLS connection (HTTP/1.1, full
 * certificate and host-name verification, no session resumption, like Go's
 * default client). Requests are taken round-robin from the --request list;
 * a response counts as ok when its status is the STATUS given with the file
 * (and, for 200, the body carries an AdmissionReview "response"). With
 * --rate the requests are scheduled at that total rate; without it every
 * worker sends as fast as it is answered. New connections go round-robin
 * over the targets, which models a Service in front of several replicas.
 *
 * Retry: when the connection is refused, reset, or closed before a complete
 * response arrives, the request is sent once more on a fresh connection, to
 * the next target. A timeout, a certificate that does not verify, or a
 * malformed response is not retried. A request that fails again after its
 * retry, or gets an unexpected status, counts as failed.
 *
 * The CA file is re-read (when its inode, size or mtime change) before each
 * new connection, so a test can narrow the trust bundle while the load runs.
 * --stats-file is rewritten every 200 ms with the running totals; SIGTERM or
 * SIGINT ends the run early. The final report is one JSON line on stdout:
 * sent, ok, failed, retried, latency percentiles; failure details go to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"

#define MAX_TARGETS 16
#define MAX_REQUESTS 64
#define MAX_WORKERS 512
#define MAX_ERROR_LINES 30

enum { ATTEMPT_OK = 0, ATTEMPT_RETRYABLE = 1, ATTEMPT_FATAL = 2 };

struct st_target_t {
    char host[256], port[16];
};

struct st_request_t {
    int expect;
    char *path;
    char *wire; /* the complete HTTP request: head and body */
    size_t wire_len;
};

struct st_conn_t {
    int fd;
    SSL *ssl;
    int target;
    unsigned used;
    char *buf; /* response bytes; owned, grown as needed */
    size_t cap, len;
};

struct st_worker_t {
    pthread_t tid;
    unsigned id, next_target;
    uint32_t *latency_us; /* one entry per finished request; owned */
    size_t nlatency, cap;
};

static struct {
    struct st_target_t targets[MAX_TARGETS];
    size_t ntargets;
    struct st_request_t requests[MAX_REQUESTS];
    size_t nrequests;
    const char *cafile, *servername, *stats_file;
    unsigned connections, reconnect_every, timeout_ms;
    double duration, rate, started, ends;
} opt = {.servername = "localhost", .connections = 4, .timeout_ms = 10000, .duration = 10};

static struct {
    atomic_ulong next_index, sent, ok, failed, failed_transport, failed_status, retried, connections, ca_loads;
    atomic_ulong status[600];
    atomic_int stop;
    atomic_int error_lines;
} stats;

/* The client SSL_CTX for new connections, rebuilt when the CA file changes. */
static struct {
    pthread_mutex_t mu;
    SSL_CTX *ctx;
    struct stat st;
} trust = {.mu = PTHREAD_MUTEX_INITIALIZER};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report_error(const char *fmt, ...)
{
    if (atomic_fetch_add(&stats.error_lines, 1) >= MAX_ERROR_LINES)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = pgw_vasprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "loadgen: %.3fs %s\n", now_seconds() - opt.started, msg);
    free(msg);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    char *data = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&data, &n);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof(buf), fp)) > 0)
        fwrite(buf, 1, r, mem);
    fclose(mem);
    fclose(fp);
    *len = n;
    return data;
}

static SSL_CTX *client_context_new(const char *cafile)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Returns a reference to the current client context (caller SSL_CTX_free's it), reloading a changed CA file. */
static SSL_CTX *trust_get(void)
{
    struct stat st;
    pthread_mutex_lock(&trust.mu);
    if (stat(opt.cafile, &st) == 0 &&
        (st.st_ino != trust.st.st_ino || st.st_size != trust.st.st_size || st.st_mtim.tv_sec != trust.st.st_mtim.tv_sec ||
         st.st_mtim.tv_nsec != trust.st.st_mtim.tv_nsec)) {
        SSL_CTX *fresh = client_context_new(opt.cafile);
        if (fresh != NULL) {
            SSL_CTX_free(trust.ctx);
            trust.ctx = fresh;
            trust.st = st;
            atomic_fetch_add(&stats.ca_loads, 1);
        } else {
            report_error("cannot load CA file %s; keeping the previous one", opt.cafile);
        }
    }
    SSL_CTX *ctx = trust.ctx;
    if (ctx != NULL)
        SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&trust.mu);
    return ctx;
}

static void conn_close(struct st_conn_t *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->used = 0;
    c->len = 0;
}

static int is_connection_errno(int e)
{
    return e == 0 || e == ECONNRESET || e == EPIPE || e == ECONNREFUSED || e == ECONNABORTED || e == ENOTCONN;
}

/* Classifies a failed SSL call: closes and resets are retryable, timeouts and TLS errors are not. */
static int ssl_failure(struct st_conn_t *c, int rc, const char *what)
{
    int e = errno, kind = SSL_get_error(c->ssl, rc);
    unsigned long ossl = ERR_peek_error();
    char detail[256] = "";
    if (ossl != 0)
        ERR_error_string_n(ossl, detail, sizeof(detail));
    ERR_clear_error();
    if (kind == SSL_ERROR_ZERO_RETURN || (kind == SSL_ERROR_SYSCALL && ossl == 0 && is_connection_errno(e))) {
        report_error("%s: connection to %s:%s closed or reset (%s); will retry", what, opt.targets[c->target].host,
                     opt.targets[c->target].port, e ? strerror(e) : "EOF");
        return ATTEMPT_RETRYABLE;
    }
    long verify = SSL_get_verify_result(c->ssl);
    if (kind == SSL_ERROR_SYSCALL && (e == EAGAIN || e == EWOULDBLOCK))
        report_error("%s: timed out after %u ms on %s:%s", what, opt.timeout_ms, opt.targets[c->target].host,
                     opt.targets[c->target].port);
    else if (verify != X509_V_OK)
        report_error("%s: certificate of %s:%s does not verify: %s", what, opt.targets[c->target].host, opt.targets[c->target].port,
                     X509_verify_cert_error_string(verify));
    else
        report_error("%s: TLS error %d on %s:%s: %s %s", what, kind, opt.targets[c->target].host, opt.targets[c->target].port,
                     detail, e ? strerror(e) : "");
    return ATTEMPT_FATAL;
}

static int conn_open(struct st_conn_t *c, int target)
{
    conn_close(c);
    c->target = target;
    const struct st_target_t *t = &opt.targets[target];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(t->host, t->port, &hints, &res) != 0) {
        report_error("cannot resolve %s", t->host);
        return ATTEMPT_FATAL;
    }
    c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {opt.timeout_ms / 1000, (opt.timeout_ms % 1000) * 1000};
    int one = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(c->fd, res->ai_addr, res->ai_addrlen);
    int e = errno;
    freeaddrinfo(res);
    if (rc != 0) {
        report_error("connect to %s:%s: %s%s", t->host, t->port, strerror(e), is_connection_errno(e) ? "; will retry" : "");
        conn_close(c);
        return is_connection_errno(e) ? ATTEMPT_RETRYABLE : ATTEMPT_FATAL;
    }
    SSL_CTX *ctx = trust_get();
    if (ctx == NULL) {
        report_error("no usable CA file");
        conn_close(c);
        return ATTEMPT_FATAL;
    }
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, opt.servername);
    SSL_set1_host(c->ssl, opt.servername);
    atomic_fetch_add(&stats.connections, 1);
    errno = 0;
    rc = SSL_connect(c->ssl);
    if (rc != 1) {
        int r = ssl_failure(c, rc, "handshake");
        conn_close(c);
        return r;
    }
    return ATTEMPT_OK;
}

static const char *find_header_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; ++i)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return buf + i + 4;
    return NULL;
}

/* Finds header `name` (case-insensitive) in the head [buf, end); returns its value or NULL, length in *vlen. */
static const char *find_header(const char *buf, const char *end, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    for (const char *line = memchr(buf, '\n', (size_t)(end - buf)); line != NULL && line + 1 < end;
         line = memchr(line + 1, '\n', (size_t)(end - line - 1))) {
        const char *p = line + 1;
        if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            p += nlen + 1;
            while (*p == ' ')
                ++p;
            const char *eol = memchr(p, '\r', (size_t)(end - p));
            *vlen = eol ? (size_t)(eol - p) : 0;
            return p;
        }
    }
    return NULL;
}

static int read_more(struct st_conn_t *c, const char *what)
{
    if (c->cap - c->len < 16384) {
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->buf = pgw_realloc(c->buf, c->cap);
    }
    errno = 0;
    int n = SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len - 1));
    if (n <= 0)
        return ssl_failure(c, n, what);
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return ATTEMPT_OK;
}

/* Decodes a chunked body that is complete in [p, end). Returns the decoded length, or -1 if incomplete, -2 if malformed. */
static long chunked_length(const char *p, const char *end)
{
    long total = 0;
    for (;;) {
        const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (eol == NULL)
            return -1;
        char *stop;
        long size = strtol(p, &stop, 16);
        if (stop == p || size < 0)
            return -2;
        p = eol + 1;
        if (size == 0)
            return (end - p >= 2) ? total : -1;
        if (end - p < size + 2)
            return -1;
        total += size;
        p += size + 2;
    }
}

/* Sends one request on an open connection and reads the full response. */
static int exchange(struct st_conn_t *c, const struct st_request_t *req, int *status, int *has_response, int *closing)
{
    errno = 0;
    int rc = SSL_write(c->ssl, req->wire, (int)req->wire_len);
    if (rc <= 0)
        return ssl_failure(c, rc, "write");
    c->len = 0;
    const char *body;
    while ((body = find_header_end(c->buf ? c->buf : "", c->len)) == NULL) {
        int r = read_more(c, c->len ? "read head" : "read");
        if (r != ATTEMPT_OK)
            return r;
    }
    if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0) {
        report_error("malformed status line from %s:%s", opt.targets[c->target].host, opt.targets[c->target].port);
        return ATTEMPT_FATAL;
    }
    *status = atoi(c->buf + 9);
    size_t vlen;
    const char *v = find_header(c->buf, body, "connection", &vlen);
    *closing = v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0;
    size_t head_len = (size_t)(body - c->buf);
    if ((v = find_header(c->buf, body, "content-length", &vlen)) != NULL) {
        size_t want = head_len + strtoul(v, NULL, 10);
        while (c->len < want) {
            int r = read_more(c, "read body");
            if (r != ATTEMPT_OK)
                return r;
        }
    } else if ((v = find_header(c->buf, body, "transfer-encoding", &vlen)) != NULL && vlen == 7 &&
               strncasecmp(v, "chunked", 7) == 0) {
        long n;
        while ((n = chunked_length(c->buf + head_len, c->buf + c->len)) == -1) {
            int r = read_more(c, "read chunked body");
            if (r != ATTEMPT_OK)
                return r;
        }
        if (n == -2) {
            report_error("malformed chunked body");
            return ATTEMPT_FATAL;
        }
    } else if (*closing) {
        /* Delimited by the end of the connection (h2o 2.2 answers 4xx this way): read to EOF. */
        for (;;) {
            if (c->cap - c->len < 16384) {
                c->cap *= 2;
                c->buf = pgw_realloc(c->buf, c->cap);
            }
            errno = 0;
            int n = SSL_read(c->ssl, c->buf + c->len, (int)(c->cap - c->len - 1));
            if (n > 0) {
                c->len += (size_t)n;
                c->buf[c->len] = '\0';
                continue;
            }
            int kind = SSL_get_error(c->ssl, n);
            ERR_clear_error();
            if (kind == SSL_ERROR_ZERO_RETURN || (kind == SSL_ERROR_SYSCALL && errno == 0))
                break;
            report_error("read close-delimited body: error %d (%s)", kind, strerror(errno));
            return ATTEMPT_FATAL;
        }
    } else {
        report_error("response without Content-Length, chunked encoding or Connection: close");
        return ATTEMPT_FATAL;
    }
    *has_response = strstr(c->buf + head_len, "\"response\"") != NULL;
    return ATTEMPT_OK;
}

static int attempt(struct st_worker_t *w, struct st_conn_t *c, const struct st_request_t *req, int fresh_target, int *status,
                   int *has_response)
{
    if (fresh_target >= 0 || c->ssl == NULL) {
        int target = fresh_target >= 0 ? fresh_target : (int)(w->next_target++ % opt.ntargets);
        int r = conn_open(c, target);
        if (r != ATTEMPT_OK)
            return r;
    }
    int closing = 0;
    int r = exchange(c, req, status, has_response, &closing);
    if (r != ATTEMPT_OK) {
        conn_close(c);
        return r;
    }
    if (closing || (opt.reconnect_every && ++c->used >= opt.reconnect_every))
        conn_close(c);
    return ATTEMPT_OK;
}

static void sleep_until(double when)
{
    while (!atomic_load(&stats.stop)) {
        double left = when - now_seconds();
        if (left <= 0)
            return;
        if (left > 0.1)
            left = 0.1;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void record_latency(struct st_worker_t *w, double seconds)
{
    if (w->nlatency == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->latency_us = pgw_realloc(w->latency_us, w->cap * sizeof(w->latency_us[0]));
    }
    double us = seconds * 1e6;
    w->latency_us[w->nlatency++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

static void *worker_main(void *arg)
{
    struct st_worker_t *w = arg;
    struct st_conn_t conn = {.fd = -1};
    w->next_target = w->id;
    while (!atomic_load(&stats.stop)) {
        unsigned long index = atomic_fetch_add(&stats.next_index, 1);
        if (opt.rate > 0) {
            double due = opt.started + (double)index / opt.rate;
            if (due >= opt.ends)
                break;
            sleep_until(due);
            if (atomic_load(&stats.stop))
                break;
        } else if (now_seconds() >= opt.ends) {
            break;
        }
        const struct st_request_t *req = &opt.requests[index % opt.nrequests];
        double t0 = now_seconds();
        atomic_fetch_add(&stats.sent, 1);
        int status = 0, has_response = 0;
        int r = attempt(w, &conn, req, -1, &status, &has_response);
        if (r == ATTEMPT_RETRYABLE) {
            atomic_fetch_add(&stats.retried, 1);
            int other = (int)((unsigned)(conn.target + 1) % opt.ntargets);
            r = attempt(w, &conn, req, other, &status, &has_response);
            if (r == ATTEMPT_RETRYABLE)
                report_error("request to %s failed again after its retry", req->path);
        }
        record_latency(w, now_seconds() - t0);
        if (r != ATTEMPT_OK) {
            atomic_fetch_add(&stats.failed, 1);
            atomic_fetch_add(&stats.failed_transport, 1);
            continue;
        }
        atomic_fetch_add(&stats.status[status >= 0 && status < 600 ? status : 0], 1);
        if (status != req->expect || (status == 200 && !has_response)) {
            report_error("%s answered %d (expected %d)%s", req->path, status, req->expect,
                         status == 200 && !has_response ? " without an AdmissionReview response" : "");
            atomic_fetch_add(&stats.failed, 1);
            atomic_fetch_add(&stats.failed_status, 1);
        } else {
            atomic_fetch_add(&stats.ok, 1);
        }
    }
    conn_close(&conn);
    free(conn.buf);
    return NULL;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The totals as one JSON line (caller frees). Percentiles only when `workers` is given (after the run). */
static char *render_report(struct st_worker_t *workers, int running)
{
    double p50 = 0, p99 = 0, max = 0;
    if (workers != NULL) {
        size_t n = 0;
        for (unsigned i = 0; i != opt.connections; ++i)
            n += workers[i].nlatency;
        if (n > 0) {
            uint32_t *all = pgw_malloc(n * sizeof(*all));
            size_t k = 0;
            for (unsigned i = 0; i != opt.connections; ++i) {
                memcpy(all + k, workers[i].latency_us, workers[i].nlatency * sizeof(*all));
                k += workers[i].nlatency;
            }
            qsort(all, n, sizeof(*all), compare_u32);
            p50 = all[(n - 1) / 2] / 1e3;
            p99 = all[(size_t)((double)(n - 1) * 0.99)] / 1e3;
            max = all[n - 1] / 1e3;
            free(all);
        }
    }
    char *codes = pgw_strdup("");
    for (int s = 0; s < 600; ++s) {
        unsigned long v = atomic_load(&stats.status[s]);
        if (v == 0)
            continue;
        char *next = pgw_asprintf("%s%s\"%d\":%lu", codes, codes[0] ? "," : "", s, v);
        free(codes);
        codes = next;
    }
    double elapsed = now_seconds() - opt.started;
    char *out = pgw_asprintf("{\"running\":%s,\"seconds\":%.2f,\"sent\":%lu,\"ok\":%lu,\"failed\":%lu,\"retried\":%lu,"
                             "\"failed_transport\":%lu,\"failed_status\":%lu,\"connections\":%lu,\"ca_loads\":%lu,"
                             "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"status\":{%s}}",
                             running ? "true" : "false", elapsed, atomic_load(&stats.sent), atomic_load(&stats.ok),
                             atomic_load(&stats.failed), atomic_load(&stats.retried), atomic_load(&stats.failed_transport),
                             atomic_load(&stats.failed_status), atomic_load(&stats.connections), atomic_load(&stats.ca_loads), p50,
                             p99, max, codes);
    free(codes);
    return out;
}

static void write_stats_file(void)
{
    if (opt.stats_file == NULL)
        return;
    char *tmp = pgw_asprintf("%s.tmp", opt.stats_file), *line = render_report(NULL, 1);
    FILE *fp = fopen(tmp, "w");
    if (fp != NULL) {
        fprintf(fp, "%s\n", line);
        fclose(fp);
        rename(tmp, opt.stats_file);
    }
    free(line);
    free(tmp);
}

static int add_target(const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (opt.ntargets == MAX_TARGETS || colon == NULL || colon == arg || (size_t)(colon - arg) >= 256 || strlen(colon + 1) >= 16)
        return -1;
    struct st_target_t *t = &opt.targets[opt.ntargets++];
    memcpy(t->host, arg, (size_t)(colon - arg));
    t->host[colon - arg] = '\0';
    strcpy(t->port, colon + 1);
    return 0;
}

/* STATUS:PATH:FILE */
static int add_request(const char *arg)
{
    char *end;
    long expect = strtol(arg, &end, 10);
    const char *path = end + 1, *file = *end == ':' ? strchr(path, ':') : NULL;
    if (opt.nrequests == MAX_REQUESTS || expect < 100 || expect > 599 || file == NULL || path[0] != '/')
        return -1;
    size_t len;
    char *body = read_file(file + 1, &len);
    if (body == NULL) {
        fprintf(stderr, "loadgen: cannot read %s: %s\n", file + 1, strerror(errno));
        return -1;
    }
    struct st_request_t *r = &opt.requests[opt.nrequests++];
    r->expect = (int)expect;
    r->path = pgw_strndup(path, (size_t)(file - path));
    char *head = pgw_asprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pgwarden-loadgen\r\n"
                              "Content-Type: application/json\r\nAccept: application/json, */*\r\n"
                              "Content-Length: %zu\r\n\r\n",
                              r->path, opt.servername, len);
    size_t hlen = strlen(head);
    r->wire = pgw_malloc(hlen + len);
    memcpy(r->wire, head, hlen);
    memcpy(r->wire + hlen, body, len);
    r->wire_len = hlen + len;
    free(head);
    free(body);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --target HOST:PORT [--target ...] --cacert FILE --request STATUS:PATH:FILE [...]\n"
                    "               [--connections N] [--duration SECONDS] [--rate PER_SECOND] [--reconnect-every N]\n"
                    "               [--timeout-ms MS] [--servername NAME] [--stats-file FILE]\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                             {"cacert", required_argument, NULL, 'c'},
                                             {"request", required_argument, NULL, 'r'},
                                             {"connections", required_argument, NULL, 'n'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"rate", required_argument, NULL, 'R'},
                                             {"reconnect-every", required_argument, NULL, 'e'},
                                             {"timeout-ms", required_argument, NULL, 'T'},
                                             {"servername", required_argument, NULL, 's'},
                                             {"stats-file", required_argument, NULL, 'S'},
                                             {NULL, 0, NULL, 0}};
    /* Requests are parsed after the options because their Host header uses --servername. */
    const char *request_args[MAX_REQUESTS];
    size_t nrequest_args = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (add_target(optarg) != 0) {
                fprintf(stderr, "loadgen: bad --target %s\n", optarg);
                return 2;
            }
            break;
        case 'c':
            opt.cafile = optarg;
            break;
        case 'r':
            if (nrequest_args == MAX_REQUESTS)
                return 2;
            request_args[nrequest_args++] = optarg;
            break;
        case 'n':
            opt.connections = (unsigned)atoi(optarg);
            break;
        case 'd':
            opt.duration = atof(optarg);
            break;
        case 'R':
            opt.rate = atof(optarg);
            break;
        case 'e':
            opt.reconnect_every = (unsigned)atoi(optarg);
            break;
        case 'T':
            opt.timeout_ms = (unsigned)atoi(optarg);
            break;
        case 's':
            opt.servername = optarg;
            break;
        case 'S':
            opt.stats_file = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    for (size_t i = 0; i != nrequest_args; ++i)
        if (add_request(request_args[i]) != 0) {
            fprintf(stderr, "loadgen: bad --request %s (expected STATUS:PATH:FILE)\n", request_args[i]);
            return 2;
        }
    if (optind != argc || opt.ntargets == 0 || opt.nrequests == 0 || opt.cafile == NULL || opt.connections == 0 ||
        opt.connections > MAX_WORKERS || opt.duration <= 0) {
        usage();
        return 2;
    }
    SSL_CTX *first = trust_get();
    if (first == NULL) {
        fprintf(stderr, "loadgen: cannot load CA file %s\n", opt.cafile);
        return 2;
    }
    SSL_CTX_free(first);
    atomic_store(&stats.ca_loads, 0);

    signal(SIGPIPE, SIG_IGN);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL); /* workers inherit the mask; main waits for the signals */

    opt.started = now_seconds();
    opt.ends = opt.started + opt.duration;
    struct st_worker_t *workers = pgw_calloc(opt.connections, sizeof(*workers));
    for (unsigned i = 0; i != opt.connections; ++i) {
        workers[i].id = i;
        pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
    }
    while (now_seconds() < opt.ends) {
        struct timespec wait = {0, 200 * 1000000L};
        int sig = sigtimedwait(&signals, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        write_stats_file();
    }
    atomic_store(&stats.stop, 1);
    for (unsigned i = 0; i != opt.connections; ++i)
        pthread_join(workers[i].tid, NULL);

    char *line = render_report(workers, 0);
    printf("%s\n", line);
    fflush(stdout);
    if (opt.stats_file != NULL) {
        char *tmp = pgw_asprintf("%s.tmp", opt.stats_file);
        FILE *fp = fopen(tmp, "w");
        if (fp != NULL) {
            fprintf(fp, "%s\n", line);
            fclose(fp);
            rename(tmp, opt.stats_file);
        }
        free(tmp);
    }
    free(line);
    for (unsigned i = 0; i != opt.connections; ++i)
        free(workers[i].latency_us);
    free(workers);
    for (size_t i = 0; i != opt.nrequests; ++i) {
        free(opt.requests[i].path);
        free(opt.requests[i].wire);
    }
    SSL_CTX_free(trust.ctx);
    return atomic_load(&stats.failed) == 0 ? 0 : 1;
}
