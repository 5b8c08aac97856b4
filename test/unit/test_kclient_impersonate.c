/*
 * Unit tests for the kube client's impersonation (controller/kube/kclient):
 * the header lines for an identity, values that would break out of their
 * header refused, and a request as someone else against a one-shot HTTP
 * stand-in (the headers on the wire; nothing sent for a refused identity).
 */
#include "helpers.h"
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "controller/kube/kclient.h"

static size_t count_lines(char **lines)
{
    size_t n = 0;
    while (lines[n] != NULL)
        ++n;
    return n;
}

START_TEST(header_lines)
{
    const char *groups[] = {"system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"};
    struct pgw_kidentity full = {.user = "system:serviceaccount:shop:ci", .uid = "4b1f-uid", .groups = groups, .ngroups = 3};
    char *err = NULL, **lines = pgw_kclient_impersonation_headers(&full, &err);
    ck_assert_ptr_nonnull(lines);
    ck_assert_ptr_null(err);
    static const char *const want[] = {
        "Impersonate-User: system:serviceaccount:shop:ci", "Impersonate-Group: system:serviceaccounts",
        "Impersonate-Group: system:serviceaccounts:shop", "Impersonate-Group: system:authenticated", "Impersonate-Uid: 4b1f-uid"};
    ck_assert_uint_eq(count_lines(lines), 5);
    for (size_t i = 0; i != 5; ++i)
        ck_assert_str_eq(lines[i], want[i]);
    pgw_kclient_headers_free(lines);
    /* no uid (NULL or ""), no groups: one line */
    struct pgw_kidentity bare[] = {{.user = "alice"}, {.user = "alice", .uid = ""}};
    for (size_t i = 0; i != 2; ++i) {
        lines = pgw_kclient_impersonation_headers(&bare[i], &err);
        ck_assert_uint_eq(count_lines(lines), 1);
        ck_assert_str_eq(lines[0], "Impersonate-User: alice");
        pgw_kclient_headers_free(lines);
    }
    /* non-ASCII names pass through as they are (UTF-8) */
    struct pgw_kidentity utf8 = {.user = "jos\xc3\xa9"};
    lines = pgw_kclient_impersonation_headers(&utf8, &err);
    ck_assert_str_eq(lines[0], "Impersonate-User: jos\xc3\xa9");
    pgw_kclient_headers_free(lines);
    pgw_kclient_headers_free(NULL);
}
END_TEST

START_TEST(refused_values)
{
    const char *crlf_group[] = {"ok", "evil\r\nImpersonate-Group: system:masters"};
    const char *lf_group[] = {"evil\nx"};
    const char *empty_group[] = {""};
    const char *null_group[] = {NULL};
    struct pgw_kidentity rows[] = {
        {.user = NULL},
        {.user = ""},
        {.user = "alice\r\nImpersonate-Group: system:masters"},
        {.user = "alice\n"},
        {.user = "alice\r"},
        {.user = "tab\there"},
        {.user = "del\x7f"},
        {.user = "alice", .groups = crlf_group, .ngroups = 2},
        {.user = "alice", .groups = lf_group, .ngroups = 1},
        {.user = "alice", .groups = empty_group, .ngroups = 1},
        {.user = "alice", .groups = null_group, .ngroups = 1},
        {.user = "alice", .groups = NULL, .ngroups = 2},
        {.user = "alice", .uid = "u\r\nX: y"},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        char *err = NULL, **lines = pgw_kclient_impersonation_headers(&rows[i], &err);
        ck_assert_msg(lines == NULL, "row %zu accepted", i);
        ck_assert_msg(err != NULL && strncmp(err, "impersonation: ", 15) == 0, "row %zu", i);
        free(err);
    }
}
END_TEST

/* ---- over the wire ------------------------------------------------------------ */

struct stand_in {
    int fd;
    const char *answer; /* NULL: 200 with a small PostgresCluster */
    char request[16384];
    size_t len;
    pthread_t thread;
};

static void *serve_one(void *arg)
{
    struct stand_in *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    for (;;) {
        ssize_t n = read(c, s->request + s->len, sizeof(s->request) - 1 - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
        s->request[s->len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        const char *cl = strcasestr(s->request, "Content-Length:");
        if (end != NULL && s->len >= (size_t)(end + 4 - s->request) + (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0))
            break;
    }
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n"
                                 "Connection: close\r\n\r\n{\"kind\":\"PostgresCluster\"}\n";
    const char *text = s->answer != NULL ? s->answer : answer;
    ssize_t w = write(c, text, strlen(text));
    (void)w;
    close(c);
    return NULL;
}

/* Listens on a free loopback port; start: accept one request in a thread. Returns a client for it. */
static struct pgw_kclient *stand_in_answering(struct stand_in *s, int start, const char *answer)
{
    memset(s, 0, sizeof(*s));
    s->answer = answer;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->fd, 4), 0);
    socklen_t alen = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &alen);
    if (start)
        pthread_create(&s->thread, NULL, serve_one, s);
    else
        close(s->fd); /* nobody listens: a request that were sent would fail to connect */
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct pgw_kubeconfig kc = {.server = server, .token = "api-client-token", .namespace_ = "pgwarden-system"};
    struct pgw_kclient_options o = {.qps = -1, .timeout = 5};
    char *err = NULL;
    struct pgw_kclient *c = pgw_kclient_new(&kc, &o, &err);
    ck_assert_ptr_nonnull(c);
    return c;
}

static struct pgw_kclient *stand_in_client(struct stand_in *s, int start)
{
    return stand_in_answering(s, start, NULL);
}

START_TEST(request_as_sends_the_headers)
{
    struct stand_in s;
    struct pgw_kclient *c = stand_in_client(&s, 1);
    const char *groups[] = {"devs", "system:authenticated"};
    struct pgw_kidentity as = {.user = "alice", .uid = "u-1", .groups = groups, .ngroups = 2};
    json_t *patch = q("{'metadata':{'annotations':{'a':'b'}}}");
    struct pgw_kresult res;
    int rc = pgw_kclient_request_as(c, &as, "PATCH", "/apis/pgwarden.io/v1/namespaces/shop/postgresclusters/main",
                                    "application/merge-patch+json", patch, &res);
    pthread_join(s.thread, NULL);
    close(s.fd);
    ck_assert_int_eq(rc, PGW_K_OK);
    ck_assert_str_eq(json_string_value(json_object_get(res.body, "kind")), "PostgresCluster");
    ck_assert_msg(strncmp(s.request, "PATCH /apis/pgwarden.io/v1/namespaces/shop/postgresclusters/main HTTP/1.1\r\n", 70) == 0,
                  "%s", s.request);
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nImpersonate-User: alice\r\n"));
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nImpersonate-Group: devs\r\n"));
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nImpersonate-Group: system:authenticated\r\n"));
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nImpersonate-Uid: u-1\r\n"));
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nAuthorization: Bearer api-client-token\r\n"));
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nContent-Type: application/merge-patch+json\r\n"));
    ck_assert_ptr_nonnull(strstr(s.request, "\r\n\r\n{\"metadata\":{\"annotations\":{\"a\":\"b\"}}}"));
    pgw_kresult_dispose(&res);
    /* as NULL: the client itself, no Impersonate-* header */
    pgw_kclient_free(c);
    c = stand_in_client(&s, 1);
    rc = pgw_kclient_request_as(c, NULL, "GET", "/api/v1/namespaces/shop/pods", NULL, NULL, &res);
    pthread_join(s.thread, NULL);
    close(s.fd);
    ck_assert_int_eq(rc, PGW_K_OK);
    ck_assert_ptr_nonnull(strstr(s.request, "GET /api/v1/namespaces/shop/pods HTTP/1.1\r\n"));
    ck_assert_ptr_null(strcasestr(s.request, "Impersonate-"));
    pgw_kresult_dispose(&res);
    json_decref(patch);
    pgw_kclient_free(c);
}
END_TEST

START_TEST(refused_identity_sends_nothing)
{
    struct stand_in s;
    struct pgw_kclient *c = stand_in_client(&s, 0);
    struct pgw_kidentity as = {.user = "alice\r\nImpersonate-Group: system:masters"};
    struct pgw_kresult res;
    int rc = pgw_kclient_request_as(c, &as, "GET", "/api/v1/secrets", NULL, NULL, &res);
    ck_assert_int_eq(rc, PGW_K_HTTP_ERROR);
    ck_assert_int_eq(res.http_status, 0);
    ck_assert_ptr_nonnull(strstr(res.message, "impersonation"));
    pgw_kresult_dispose(&res);
    /* the same request with a clean identity does try to connect: the refusal above is what stopped it */
    struct pgw_kidentity ok = {.user = "alice"};
    rc = pgw_kclient_request_as(c, &ok, "GET", "/api/v1/secrets", NULL, NULL, &res);
    ck_assert_int_eq(rc, PGW_K_TRANSPORT);
    pgw_kresult_dispose(&res);
    pgw_kclient_free(c);
}
END_TEST

START_TEST(request_secret_round_trip)
{
    struct stand_in s;
    struct pgw_kclient *c = stand_in_client(&s, 1);
    json_t *body = q("{'spec':{'token':'abc'}}");
    struct pgw_kresult res;
    int rc = pgw_kclient_request_secret(c, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", body, &res);
    pthread_join(s.thread, NULL);
    close(s.fd);
    ck_assert_int_eq(rc, PGW_K_OK);
    ck_assert_ptr_nonnull(strstr(s.request, "\r\n\r\n{\"spec\":{\"token\":\"abc\"}}"));
    ck_assert_str_eq(json_string_value(json_object_get(res.body, "kind")), "PostgresCluster");
    /* the caller's object is untouched (only the client's own copies are zeroed) */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "spec"), "token")), "abc");
    pgw_kresult_dispose(&res);
    json_decref(body);
    pgw_kclient_free(c);
}
END_TEST

START_TEST(request_as_raw_keeps_the_bytes)
{
    /* a 2xx body comes back byte for byte (spacing and key order kept), with the headers sent */
    static const char list[] = "{ \"kind\" : \"PostgresClusterList\",\"items\":[] ,\"b\":1}";
    char answer[512];
    snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(list), list);
    struct stand_in s;
    struct pgw_kclient *c = stand_in_answering(&s, 1, answer);
    struct pgw_kidentity as = {.user = "alice"};
    struct pgw_kresult res;
    char *raw = NULL;
    size_t len = 0;
    int rc = pgw_kclient_request_as_raw(c, &as, "GET", "/apis/pgwarden.io/v1/postgresclusters", NULL, NULL, &raw, &len, &res);
    pthread_join(s.thread, NULL);
    close(s.fd);
    ck_assert_int_eq(rc, PGW_K_OK);
    ck_assert_ptr_null(res.body);
    ck_assert_uint_eq(len, strlen(list));
    ck_assert_str_eq(raw, list);
    ck_assert_ptr_nonnull(strstr(s.request, "\r\nImpersonate-User: alice\r\n"));
    free(raw);
    pgw_kresult_dispose(&res);
    pgw_kclient_free(c);
    /* an error is decoded as usual, and no raw bytes */
    static const char status[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"no\","
                                 "\"reason\":\"Forbidden\",\"code\":403}";
    snprintf(answer, sizeof(answer), "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(status), status);
    c = stand_in_answering(&s, 1, answer);
    rc = pgw_kclient_request_as_raw(c, &as, "GET", "/apis/pgwarden.io/v1/postgresclusters", NULL, NULL, &raw, &len, &res);
    pthread_join(s.thread, NULL);
    close(s.fd);
    ck_assert_int_eq(rc, PGW_K_HTTP_ERROR);
    ck_assert_ptr_null(raw);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(res.reason, "Forbidden");
    ck_assert_str_eq(res.message, "no");
    ck_assert_int_eq(res.code, 403);
    pgw_kresult_dispose(&res);
    pgw_kclient_free(c);
    /* a refused identity: nothing sent, no raw bytes */
    c = stand_in_answering(&s, 0, NULL);
    struct pgw_kidentity bad = {.user = "a\nb"};
    rc = pgw_kclient_request_as_raw(c, &bad, "GET", "/x", NULL, NULL, &raw, &len, &res);
    ck_assert_int_eq(rc, PGW_K_HTTP_ERROR);
    ck_assert_ptr_null(raw);
    pgw_kresult_dispose(&res);
    pgw_kclient_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kclient_impersonate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, header_lines);
    tcase_add_test(tc, refused_values);
    tcase_add_test(tc, request_as_sends_the_headers);
    tcase_add_test(tc, refused_identity_sends_nothing);
    tcase_add_test(tc, request_secret_round_trip);
    tcase_add_test(tc, request_as_raw_keeps_the_bytes);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
