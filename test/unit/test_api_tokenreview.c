/*
 * Unit tests for api/tokenreview and api/identity: the TokenReview request
 * body, reading answers (authenticated or not, the error message, no user),
 * wiping the token in place, a login against a one-shot HTTP stand-in for
 * the Kubernetes API (what goes on the wire), and the identity helpers
 * (starting namespace, group list, the "user" JSON).
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

#include "api/identity.h"
#include "api/tokenreview.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

/* ---- pure parts ------------------------------------------------------------ */

START_TEST(body_shape_and_wipe)
{
    json_t *body = pgw_tokenreview_body(TOKEN);
    json_t *want = q("{'apiVersion':'authentication.k8s.io/v1','kind':'TokenReview','spec':{'token':'" TOKEN "'}}");
    ck_assert(json_equal(body, want));
    ck_assert_ptr_null(json_object_get(json_object_get(body, "spec"), "audiences"));
    const char *bytes = json_string_value(json_object_get(json_object_get(body, "spec"), "token"));
    pgw_tokenreview_wipe(body);
    for (size_t i = 0; i != strlen(TOKEN); ++i)
        ck_assert_msg(bytes[i] == '\0', "byte %zu left", i);
    pgw_tokenreview_wipe(NULL); /* nothing to wipe: no crash */
    json_t *nospec = q("{'status':{}}");
    pgw_tokenreview_wipe(nospec);
    json_decref(nospec);
    json_decref(want);
    json_decref(body);
}
END_TEST

START_TEST(parse_answers)
{
    struct {
        const char *answer;
        int rc;
        const char *user, *uid, *groups, *err;
    } rows[] = {
        {"{'status':{'authenticated':true,'user':{'username':'system:serviceaccount:shop:ci','uid':'u1',"
         "'groups':['system:serviceaccounts','system:serviceaccounts:shop','system:authenticated']}}}",
         0, "system:serviceaccount:shop:ci", "u1",
         "['system:serviceaccounts','system:serviceaccounts:shop','system:authenticated']", NULL},
        {"{'status':{'authenticated':true,'user':{'username':'alice'}}}", 0, "alice", "", "[]", NULL},
        {"{'status':{'authenticated':true,'user':{'username':'bob','groups':['a',7,null,'b']}}}", 0, "bob", "", "['a','b']", NULL},
        {"{'status':{'authenticated':false,'error':'invalid bearer token, token has been invalidated'}}", 1, NULL, NULL, NULL,
         "invalid bearer token, token has been invalidated"},
        {"{'status':{'authenticated':false}}", 1, NULL, NULL, NULL, "token not authenticated"},
        {"{'status':{}}", 1, NULL, NULL, NULL, "token not authenticated"},
        {"{'status':{'authenticated':'true','user':{'username':'x'}}}", 1, NULL, NULL, NULL, "token not authenticated"},
        {"{'status':{'authenticated':true}}", 1, NULL, NULL, NULL, "TokenReview authenticated the token but named no user"},
        {"{'status':{'authenticated':true,'user':{'username':''}}}", 1, NULL, NULL, NULL,
         "TokenReview authenticated the token but named no user"},
        {"{'kind':'TokenReview'}", -1, NULL, NULL, NULL, "TokenReview answer has no status"},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *answer = q(rows[i].answer);
        struct pgw_identity id;
        char *err = NULL;
        int rc = pgw_tokenreview_parse(answer, &id, &err);
        ck_assert_msg(rc == rows[i].rc, "row %zu: rc %d", i, rc);
        if (rc == 0) {
            ck_assert_ptr_null(err);
            ck_assert_str_eq(id.username, rows[i].user);
            ck_assert_str_eq(id.uid, rows[i].uid);
            json_t *g = q(rows[i].groups);
            ck_assert_msg(json_equal(id.groups, g), "row %zu groups", i);
            json_decref(g);
            ck_assert_ptr_null(id.jti);
            ck_assert_int_eq(id.exp, 0);
        } else {
            ck_assert_ptr_null(id.username);
            ck_assert_str_eq(err, rows[i].err);
        }
        free(err);
        pgw_identity_dispose(&id);
        json_decref(answer);
    }
}
END_TEST

START_TEST(identity_helpers)
{
    struct {
        const char *user, *ns;
    } rows[] = {
        {"system:serviceaccount:shop:ci", "shop"},
        {"system:serviceaccount:a:b:c", "a"},
        {"system:serviceaccount::ci", "default"},
        {"system:serviceaccount:shop:", "default"},
        {"system:serviceaccount:shop", "default"},
        {"system:serviceaccounts:shop:ci", "default"},
        {"alice", "default"},
        {"", "default"},
        {NULL, "default"},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        char *ns = pgw_identity_namespace(rows[i].user);
        ck_assert_msg(strcmp(ns, rows[i].ns) == 0, "row %zu: %s", i, ns);
        free(ns);
    }
    struct pgw_identity id = {.username = pgw_strdup("alice"), .groups = q("['a', 1, 'b']")};
    size_t n = 9;
    const char **list = pgw_identity_group_list(&id, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(list[0], "a");
    ck_assert_str_eq(list[1], "b");
    free(list);
    json_t *user = pgw_identity_user_json(&id), *want = q("{'username':'alice','groups':['a','b']}");
    ck_assert(json_equal(user, want));
    json_decref(user);
    json_decref(want);
    struct pgw_identity copy;
    pgw_identity_copy(&copy, &id);
    ck_assert_str_eq(copy.username, "alice");
    ck_assert(json_equal(copy.groups, id.groups));
    ck_assert_ptr_ne(copy.groups, id.groups);
    pgw_identity_dispose(&copy);
    pgw_identity_dispose(&id);
    pgw_identity_dispose(&id); /* twice is safe */
    struct pgw_identity none = {.username = pgw_strdup("x")};
    ck_assert_ptr_null(pgw_identity_group_list(&none, &n));
    ck_assert_uint_eq(n, 0);
    user = pgw_identity_user_json(&none);
    want = q("{'username':'x','groups':[]}");
    ck_assert(json_equal(user, want));
    json_decref(user);
    json_decref(want);
    pgw_identity_dispose(&none);
}
END_TEST

/* ---- over the wire: a one-request stand-in for the Kubernetes API ------------- */

struct stand_in {
    int fd, port;
    const char *status_line, *body; /* the answer */
    char request[16384];            /* what came in */
    size_t len;
    pthread_t thread;
};

static void *serve_one(void *arg)
{
    struct stand_in *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t want = 0;
    for (;;) {
        ssize_t n = read(c, s->request + s->len, sizeof(s->request) - 1 - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
        s->request[s->len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        if (end != NULL) {
            const char *cl = strcasestr(s->request, "Content-Length:");
            want = (size_t)(end + 4 - s->request) + (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0);
            if (s->len >= want)
                break;
        }
    }
    char head[256];
    snprintf(head, sizeof(head), "%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             s->status_line, strlen(s->body));
    ssize_t w = write(c, head, strlen(head));
    w = write(c, s->body, strlen(s->body));
    (void)w;
    close(c);
    return NULL;
}

static struct pgw_kclient *stand_in_start(struct stand_in *s, const char *status_line, const char *body)
{
    memset(s, 0, sizeof(*s));
    s->status_line = status_line;
    s->body = body;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->fd, 4), 0);
    socklen_t alen = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &alen);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, serve_one, s);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", s->port);
    struct pgw_kubeconfig kc = {.server = server, .token = "operator-token", .namespace_ = "pgwarden-system"};
    struct pgw_kclient_options o = {.qps = -1};
    char *err = NULL;
    struct pgw_kclient *c = pgw_kclient_new(&kc, &o, &err);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void stand_in_stop(struct stand_in *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
}

START_TEST(login_over_the_wire)
{
    struct stand_in s;
    const char *answer = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"" TOKEN "\"},"
                         "\"status\":{\"authenticated\":true,\"user\":{\"username\":\"system:serviceaccount:shop:ci\","
                         "\"uid\":\"u9\",\"groups\":[\"system:authenticated\"]}}}";
    struct pgw_kclient *c = stand_in_start(&s, "HTTP/1.1 201 Created", answer);
    struct pgw_identity id;
    char *err = NULL;
    /* every log line at debug level goes to a file, to look for the token in it */
    FILE *log = tmpfile();
    int saved = dup(2);
    dup2(fileno(log), 2);
    pgw_log_set_level(PGW_LOG_DEBUG);
    ck_assert_int_eq(pgw_tokenreview(c, TOKEN, &id, &err), 0);
    pgw_log_set_level(PGW_LOG_INFO);
    dup2(saved, 2);
    close(saved);
    stand_in_stop(&s);
    char logged[8192] = "";
    rewind(log);
    size_t nlog = fread(logged, 1, sizeof(logged) - 1, log);
    logged[nlog] = '\0';
    fclose(log);
    ck_assert_msg(strstr(logged, "tokenreviews") != NULL, "the request was not logged: %s", logged);
    ck_assert_msg(strstr(logged, "c2lnbmF0dXJl") == NULL && strstr(logged, "eyJ") == NULL, "token logged: %s", logged);
    ck_assert_str_eq(id.username, "system:serviceaccount:shop:ci");
    ck_assert_str_eq(id.uid, "u9");
    ck_assert_uint_eq(json_array_size(id.groups), 1);
    /* the request: POST to the TokenReview collection, as the operator, the token in the body only */
    ck_assert_msg(strncmp(s.request, "POST " PGW_TOKENREVIEW_PATH " HTTP/1.1\r\n", strlen("POST " PGW_TOKENREVIEW_PATH)) == 0, "%s",
                  s.request);
    ck_assert_ptr_nonnull(strcasestr(s.request, "\r\nAuthorization: Bearer operator-token\r\n"));
    ck_assert_ptr_null(strcasestr(s.request, "Impersonate-"));
    const char *body = strstr(s.request, "\r\n\r\n") + 4;
    json_t *sent = json_loads(body, 0, NULL), *want = pgw_tokenreview_body(TOKEN);
    ck_assert(json_equal(sent, want));
    ck_assert_ptr_eq(strstr(s.request, TOKEN),
                     body + strlen("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                                   "\"spec\":{\"token\":\""));
    json_decref(sent);
    json_decref(want);
    pgw_identity_dispose(&id);
    pgw_kclient_free(c);
}
END_TEST

START_TEST(login_refused_and_failed)
{
    struct stand_in s;
    struct pgw_identity id;
    char *err = NULL;
    /* not authenticated: 1 with the apiserver's reason */
    struct pgw_kclient *c = stand_in_start(
        &s, "HTTP/1.1 201 Created", "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":false,\"error\":\"token expired\"}}");
    ck_assert_int_eq(pgw_tokenreview(c, TOKEN, &id, &err), 1);
    stand_in_stop(&s);
    ck_assert_str_eq(err, "token expired");
    ck_assert_ptr_null(id.username);
    free(err);
    pgw_kclient_free(c);
    /* the operator may not create TokenReviews: -1, the Status message passed on */
    c = stand_in_start(&s, "HTTP/1.1 403 Forbidden",
                       "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,"
                       "\"message\":\"tokenreviews.authentication.k8s.io is forbidden\"}");
    ck_assert_int_eq(pgw_tokenreview(c, TOKEN, &id, &err), -1);
    stand_in_stop(&s);
    ck_assert_ptr_nonnull(strstr(err, "403"));
    ck_assert_ptr_nonnull(strstr(err, "tokenreviews.authentication.k8s.io is forbidden"));
    free(err);
    /* not a bearer token at all: refused before anything is sent (the stand-in is not running) */
    static const char *const bad[] = {"", "two words", "line\r\nX-Evil: 1", "tab\there", "caf\xc3\xa9"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(pgw_tokenreview(c, bad[i], &id, &err) == 1, "row %zu", i);
        ck_assert_ptr_nonnull(err);
        free(err);
    }
    pgw_kclient_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_tokenreview");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, body_shape_and_wipe);
    tcase_add_test(tc, parse_answers);
    tcase_add_test(tc, identity_helpers);
    tcase_add_test(tc, login_over_the_wire);
    tcase_add_test(tc, login_refused_and_failed);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
