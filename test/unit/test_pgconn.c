/*
 * The PostgreSQL client (controller/pg/pgconn.c, pgquery.c, pgio.c) against
 * a scripted peer on 127.0.0.1 that sends what a real server never would:
 * md5 or cleartext requests without TLS, a message claiming 2 GiB, rows that
 * do not match their description, AuthenticationOk in the middle of SCRAM,
 * silence. Each must end in a clear error, with nothing leaked (ASan/LSan
 * in build-asan). The real server's side of every normal path is
 * test/integration/test_pgconn_real.py.
 */
#include "helpers.h"
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "controller/pg/pgconn.h"

/* One step of the peer's script. */
enum op { END, READ_UNTYPED, READ_TYPED, SEND, CLOSE };
struct step {
    enum op op;
    const char *data; /* SEND: bytes (may hold NULs) */
    size_t len;
};
/* clang-format off */
#define SEND_BYTES(lit) {SEND, lit, sizeof(lit) - 1}
#define SSL_REQUEST {READ_UNTYPED, NULL, 0}
#define STARTUP {READ_UNTYPED, NULL, 0}
#define MESSAGE {READ_TYPED, NULL, 0}
#define HANG_UP {CLOSE, NULL, 0}
/* clang-format on */

/* Backend messages, written out by hand. */
#define AUTH_OK "R\0\0\0\x08\0\0\0\0"
#define PARAM                                                                                                                      \
    "S\0\0\0\x18server_version\0"                                                                                                  \
    "15.0\0"
#define READY "Z\0\0\0\x05I"

struct peer {
    int listen_fd, port;
    const struct step *script;
    pthread_t thread;
};

static int read_n(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads a message body of the length given by the 4 bytes at hdr. */
static int skip_body(int fd, const unsigned char *hdr)
{
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n < 4 || n > 1 << 20)
        return -1;
    char *body = malloc(n - 4 + 1);
    int rc = read_n(fd, body, n - 4);
    free(body);
    return rc;
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    int hang_up = 0;
    for (const struct step *s = p->script; s->op != END; s++) {
        unsigned char hdr[5];
        hang_up = s->op == CLOSE;
        int rc = 0;
        if (s->op == READ_UNTYPED)
            rc = read_n(fd, hdr, 4) == 0 ? skip_body(fd, hdr) : -1;
        else if (s->op == READ_TYPED)
            rc = read_n(fd, hdr, 5) == 0 ? skip_body(fd, hdr + 1) : -1;
        else if (s->op == SEND)
            rc = write(fd, s->data, s->len) == (ssize_t)s->len ? 0 : -1;
        else
            rc = -1; /* CLOSE */
        if (rc != 0)
            break;
    }
    /* Stay until the client is done (or 5 s). */
    char buf[256];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!hang_up && poll(&pfd, 1, 5000) > 0 && read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    return NULL;
}

static void peer_start(struct peer *p, const struct step *script)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    p->script = script;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(p->listen_fd, 4), 0);
    ck_assert_int_eq(getsockname(p->listen_fd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_stop(struct peer *p)
{
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
}

static pgw_pg_conn_opts opts_for(const struct peer *p, int require_tls, int timeout_ms)
{
    return (pgw_pg_conn_opts){.host = "127.0.0.1",
                              .port = p->port,
                              .user = "postgres",
                              .password = "pw",
                              .dbname = "postgres",
                              .application_name = "test",
                              .require_tls = require_tls,
                              .timeout_ms = timeout_ms};
}

/* Connects to a peer running `script`; expects failure with `want` in the
 * error. */
static void expect_connect_error(const struct step *script, int require_tls, int timeout_ms, const char *want)
{
    struct peer p;
    peer_start(&p, script);
    pgw_pg_conn_opts o = opts_for(&p, require_tls, timeout_ms);
    char *err = NULL;
    pgw_pg_conn *conn = pgw_pg_connect(&o, &err);
    ck_assert_ptr_null(conn);
    ck_assert_msg(err != NULL && strstr(err, want) != NULL, "got \"%s\", want \"%s\"", err, want);
    ck_assert_ptr_null(strstr(err, "pw\"")); /* the password is never in a message */
    free(err);
    peer_stop(&p);
}

struct connect_case {
    const char *name;
    struct step script[8];
    int require_tls;
    const char *error;
};

static const struct connect_case connect_cases[] = {
    {"no TLS, TLS required", {SSL_REQUEST, SEND_BYTES("N")}, 1, "does not accept TLS connections and TLS is required"},
    {"md5 without TLS",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x0c\0\0\0\x05salt")},
     0,
     "md5 password authentication over a connection without TLS: refused"},
    {"cleartext without TLS",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x08\0\0\0\x03")},
     0,
     "cleartext password authentication over a connection without TLS: "
     "refused"},
    {"AuthenticationOk in the middle of SCRAM",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"), MESSAGE,
      SEND_BYTES(AUTH_OK READY)},
     0,
     "the server accepted the login before proving it knows the password"},
    {"SCRAM with a nonce not ours",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"), MESSAGE,
      SEND_BYTES("R\0\0\0\x1b\0\0\0\x0br=abc,s=QUJD,i=4096")},
     0,
     "SCRAM: the server's nonce does not extend ours"},
    {"only SCRAM-SHA-256-PLUS",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x1c\0\0\0\x0aSCRAM-SHA-256-PLUS\0\0")},
     0,
     "the server offers no SASL mechanism we know"},
    {"GSSAPI", {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x08\0\0\0\x07")}, 0, "(code 7)"},
    {"a short authentication message",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x06\0\0")},
     0,
     "a short authentication message"},
    {"an error at start-up",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP,
      SEND_BYTES("E\0\0\0\x39SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for "
                 "host\0\0")},
     0,
     "127.0.0.1:%d: FATAL 28000: no pg_hba.conf entry for host"},
    {"a row before the login",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("D\0\0\0\x06\0\0")},
     0,
     "protocol error: unexpected message 'D' during start-up"},
    {"a 2 GiB message",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\x80\0\0\0")},
     0,
     "protocol error: a message of 2147483648 bytes (type 'R')"},
    {"a message with a length below 4",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0\0\x03")},
     0,
     "protocol error: a message of 3 bytes"},
    {"closed at the TLS request", {SSL_REQUEST, HANG_UP}, 1, "the server closed the connection"},
    {"closed during start-up",
     {SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES("R\0\0"), HANG_UP},
     0,
     "the server closed the connection"},
    {"the TLS request answered with an error",
     {SSL_REQUEST, SEND_BYTES("E")},
     1,
     "protocol error: the server answered the TLS request with 'E'"},
    {"a TLS handshake with a peer that does not speak TLS",
     {SSL_REQUEST, SEND_BYTES("Snot a TLS record at all....")},
     1,
     "TLS handshake"},
};

START_TEST(test_connect_refused)
{
    const struct connect_case *c = &connect_cases[_i];
    if (strstr(c->error, "%d") != NULL) { /* the error names the address */
        struct peer p;
        peer_start(&p, c->script);
        pgw_pg_conn_opts o = opts_for(&p, c->require_tls, 5000);
        char *err = NULL, *want = pgw_asprintf(c->error, p.port);
        ck_assert_ptr_null(pgw_pg_connect(&o, &err));
        ck_assert_msg(strstr(err, want) != NULL, "%s: got \"%s\"", c->name, err);
        free(want);
        free(err);
        peer_stop(&p);
        return;
    }
    expect_connect_error(c->script, c->require_tls, 5000, c->error);
}
END_TEST

START_TEST(test_connect_timeout)
{
    /* A server that takes the connection and never answers the TLS request. */
    const struct step silent[] = {SSL_REQUEST, {END, NULL, 0}};
    expect_connect_error(silent, 1, 300, "timed out after 300 ms");
    /* Nothing listens: refused at once, not after the timeout. */
    struct peer p = {.port = 1};
    pgw_pg_conn_opts o = opts_for(&p, 1, 5000);
    char *err = NULL;
    ck_assert_ptr_null(pgw_pg_connect(&o, &err));
    ck_assert_msg(strstr(err, "Connection refused") != NULL, "%s", err);
    free(err);
    pgw_pg_conn_opts missing = {.port = 5432};
    ck_assert_ptr_null(pgw_pg_connect(&missing, &err));
    ck_assert_str_eq(err, "connect: host, port and user are required");
    free(err);
}
END_TEST

/* A "trust" login on a plain connection, then the query's answer `reply`. */
#define TRUST_LOGIN SSL_REQUEST, SEND_BYTES("N"), STARTUP, SEND_BYTES(AUTH_OK PARAM READY)

struct query_case {
    const char *name;
    struct step reply[2]; /* an answer, and maybe HANG_UP */
    const char *error;    /* NULL: success */
    int broken;           /* the connection is unusable afterwards */
};

static const struct query_case query_cases[] = {
    {"a message claiming 2 GiB", {SEND_BYTES("D\x7f\xff\xff\xff")}, "protocol error: a message of 2147483647 bytes (type 'D')", 1},
    {"one byte over the cap", {SEND_BYTES("D\x04\0\0\x05")}, "protocol error: a message of 67108869 bytes (type 'D')", 1},
    {"a row without a description", {SEND_BYTES("D\0\0\0\x06\0\0")}, "protocol error: a malformed or unexpected message 'D'", 1},
    {"a row wider than its description",
     {SEND_BYTES("T\0\0\0\x1a\0\x01"
                 "a\0"
                 "\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0"
                 "D\0\0\0\x0e\0\x02\0\0\0\0\0\0\0\0")},
     "protocol error: a malformed or unexpected message 'D'",
     1},
    {"a cell longer than its row",
     {SEND_BYTES("T\0\0\0\x1a\0\x01"
                 "a\0"
                 "\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0"
                 "D\0\0\0\x0c\0\x01\0\0\0\x09xx")},
     "protocol error: a malformed or unexpected message 'D'",
     1},
    {"a description cut short",
     {SEND_BYTES("T\0\0\0\x0a\0\x01"
                 "a\0\0\0")},
     "protocol error: a malformed or unexpected message 'T'",
     1},
    {"an unknown message", {SEND_BYTES("?\0\0\0\x04")}, "protocol error: a malformed or unexpected message '?'", 1},
    {"closed mid-answer", {SEND_BYTES("C\0\0\0\x0dSELECT"), HANG_UP}, "the server closed the connection", 1},
    {"a FATAL error, then the end",
     {SEND_BYTES("E\0\0\0\x4fSFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"), HANG_UP},
     "FATAL 57P01: terminating connection due to administrator command",
     1},
    {"an SQL error, then ready",
     {SEND_BYTES("E\0\0\0\x33SERROR\0VERROR\0C42710\0Mrole \"x\" already "
                 "exists\0\0" READY)},
     "ERROR 42710: role \"x\" already exists",
     0},
    {"rows, NULL, a notice and a tag",
     {SEND_BYTES("T\0\0\0\x1a\0\x01"
                 "a\0"
                 "\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0"
                 "D\0\0\0\x0b\0\x01\0\0\0\x01"
                 "7"
                 "N\0\0\0\x11SNOTICE\0Mhi\0\0"
                 "D\0\0\0\x0a\0\x01\xff\xff\xff\xff"
                 "C\0\0\0\x0dSELECT 2\0" READY)},
     NULL,
     0},
};

START_TEST(test_query_answers)
{
    const struct query_case *c = &query_cases[_i];
    const struct step script[] = {TRUST_LOGIN, MESSAGE, c->reply[0], c->reply[1], {END, NULL, 0}};
    struct peer p;
    peer_start(&p, script);
    pgw_pg_conn_opts o = opts_for(&p, 0, 5000);
    char *err = NULL;
    pgw_pg_conn *conn = pgw_pg_connect(&o, &err);
    ck_assert_msg(conn != NULL, "%s", err);
    pgw_pg_result res;
    int rc = pgw_pg_query(conn, "SELECT 1", &res, &err);
    if (c->error == NULL) {
        ck_assert_msg(rc == 0, "%s: %s", c->name, err);
        ck_assert_int_eq(res.nrows, 2);
        ck_assert_int_eq(res.ncols, 1);
        ck_assert_str_eq(res.colnames[0], "a");
        ck_assert_str_eq(pgw_pg_cell(&res, 0, 0), "7");
        ck_assert_ptr_null(pgw_pg_cell(&res, 1, 0)); /* SQL NULL */
        ck_assert_ptr_null(pgw_pg_cell(&res, 2, 0)); /* out of range */
        ck_assert_ptr_null(pgw_pg_cell(&res, 0, 1));
        ck_assert_str_eq(res.command_tag, "SELECT 2");
        pgw_pg_result_free(&res);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strcmp(err, c->error) == 0, "%s: got \"%s\"", c->name, err);
        ck_assert_int_eq(res.nrows, 0);
        ck_assert_ptr_null(res.cells);
        free(err);
        ck_assert_int_eq(pgw_pg_broken(conn), c->broken);
        if (!c->broken)
            ck_assert_str_eq(pgw_pg_sqlstate(conn), "42710");
    }
    if (c->broken) {
        ck_assert_int_eq(pgw_pg_query(conn, "SELECT 1", NULL, &err), -1);
        ck_assert_str_eq(err, "the connection is broken");
        free(err);
    }
    pgw_pg_close(conn);
    peer_stop(&p);
}
END_TEST

START_TEST(test_query_timeout)
{
    /* No BackendKeyData: the timeout cannot send a CancelRequest, and says so no
     * differently. */
    const struct step script[] = {TRUST_LOGIN, MESSAGE, {END, NULL, 0}};
    struct peer p;
    peer_start(&p, script);
    pgw_pg_conn_opts o = opts_for(&p, 0, 300);
    char *err = NULL;
    pgw_pg_conn *conn = pgw_pg_connect(&o, &err);
    ck_assert_ptr_nonnull(conn);
    ck_assert_int_eq(pgw_pg_query(conn, "SELECT pg_sleep(10)", NULL, &err), -1);
    ck_assert_str_eq(err, "the query timed out after 300 ms (cancel requested)");
    ck_assert_int_eq(pgw_pg_broken(conn), 1);
    free(err);
    pgw_pg_close(conn);
    peer_stop(&p);
}
END_TEST

START_TEST(test_null_and_empty)
{
    pgw_pg_result empty = {0};
    ck_assert_ptr_null(pgw_pg_cell(&empty, 0, 0));
    ck_assert_ptr_null(pgw_pg_cell(NULL, 0, 0));
    pgw_pg_result_free(&empty);
    pgw_pg_result_free(NULL);
    pgw_pg_close(NULL);
    ck_assert_int_eq(pgw_pg_broken(NULL), 1);
    char *err = NULL;
    ck_assert_int_eq(pgw_pg_query(NULL, "SELECT 1", NULL, &err), -1);
    ck_assert_str_eq(err, "the connection is broken");
    free(err);
}
END_TEST

static Suite *pgconn_suite(void)
{
    Suite *s = suite_create("pgconn");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_connect_refused, 0, sizeof(connect_cases) / sizeof(connect_cases[0]));
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_loop_test(tc, test_query_answers, 0, sizeof(query_cases) / sizeof(query_cases[0]));
    tcase_add_test(tc, test_query_timeout);
    tcase_add_test(tc, test_null_and_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(pgconn_suite());
}
