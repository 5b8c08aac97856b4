/*
 * The API's router: method and path to a route and its parameters, 404 and
 * 405 (with the methods the path takes), and parameters that could reach the
 * Kubernetes API's URL refused.
 */
#include "helpers.h"

#include "api/handlers.h"
#include "api/router.h"

static void match(const char *method, const char *path, struct pgw_api_match *m)
{
    pgw_api_route_match(method, strlen(method), path, strlen(path), m);
}

static int slice_is(struct pgw_api_slice s, const char *want)
{
    return want == NULL ? s.len == 0 : (s.len == strlen(want) && memcmp(s.base, want, s.len) == 0);
}

static const struct {
    const char *method, *path;
    int id; /* -1: no route */
    const char *ns, *plural, *name, *file;
} found[] = {
    {"GET", "/", PGW_API_ROOT, NULL, NULL, NULL, NULL},
    {"GET", "/ui", PGW_API_ROOT, NULL, NULL, NULL, NULL},
    {"GET", "/ui/", PGW_API_UI_INDEX, NULL, NULL, NULL, NULL},
    {"GET", "/ui/app.js", PGW_API_UI_FILE, NULL, NULL, NULL, "app.js"},
    {"GET", "/api/v1/openapi.json", PGW_API_OPENAPI, NULL, NULL, NULL, NULL},
    {"POST", "/api/v1/login", PGW_API_LOGIN, NULL, NULL, NULL, NULL},
    {"POST", "/api/v1/logout", PGW_API_LOGOUT, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/whoami", PGW_API_WHOAMI, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/postgresclusters", PGW_API_LIST_ALL, NULL, "postgresclusters", NULL, NULL},
    {"GET", "/api/v1/postgresbackups", PGW_API_LIST_ALL, NULL, "postgresbackups", NULL, NULL},
    {"GET", "/api/v1/namespaces/shop/postgresrestores", PGW_API_COLLECTION, "shop", "postgresrestores", NULL, NULL},
    {"POST", "/api/v1/namespaces/shop/postgresclusters", PGW_API_COLLECTION, "shop", "postgresclusters", NULL, NULL},
    {"GET", "/api/v1/namespaces/shop/postgresclusters/main", PGW_API_OBJECT, "shop", "postgresclusters", "main", NULL},
    {"PUT", "/api/v1/namespaces/shop/postgresclusters/main", PGW_API_OBJECT, "shop", "postgresclusters", "main", NULL},
    {"PATCH", "/api/v1/namespaces/a.b-c/postgresbackups/x-1.y", PGW_API_OBJECT, "a.b-c", "postgresbackups", "x-1.y", NULL},
    {"DELETE", "/api/v1/namespaces/shop/postgresclusters/main", PGW_API_OBJECT, "shop", "postgresclusters", "main", NULL},
    {"GET", "/api/v1/namespaces/shop/postgresclusters/main/detail", PGW_API_DETAIL, "shop", NULL, "main", NULL},
    {"POST", "/api/v1/namespaces/shop/postgresclusters/main/backup", PGW_API_BACKUP, "shop", NULL, "main", NULL},
    {"POST", "/api/v1/namespaces/shop/postgresclusters/main/restore", PGW_API_RESTORE, "shop", NULL, "main", NULL},
    {"POST", "/api/v1/namespaces/shop/postgresclusters/main/switchover", PGW_API_SWITCHOVER, "shop", NULL, "main", NULL},
    {"POST", "/api/v1/namespaces/shop/postgresclusters/main/restart", PGW_API_RESTART, "shop", NULL, "main", NULL},
    /* not found */
    {"GET", "/nothing", -1, NULL, NULL, NULL, NULL},
    {"GET", "", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/pods", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/namespaces/shop/secrets/x", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/namespaces/Shop/postgresclusters", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/namespaces/shop/postgresclusters/a%2Fb", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/namespaces/shop/postgresclusters/..", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/namespaces//postgresclusters", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/namespaces/shop/postgresclusters/main/", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/postgresclusters/", -1, NULL, NULL, NULL, NULL},
    {"POST", "/api/v1/namespaces/shop/postgresbackups/main/backup", -1, NULL, NULL, NULL, NULL},
    {"GET", "/ui/.hidden", -1, NULL, NULL, NULL, NULL},
    {"GET", "/ui/a/b.js", -1, NULL, NULL, NULL, NULL},
    {"GET", "/api/v1/openapi.json/x", -1, NULL, NULL, NULL, NULL},
};

START_TEST(test_found)
{
    struct pgw_api_match m;
    match(found[_i].method, found[_i].path, &m);
    if (found[_i].id < 0) {
        ck_assert_msg(m.route == NULL && m.allowed == 0, "%s %s: matched", found[_i].method, found[_i].path);
        return;
    }
    ck_assert_msg(m.route != NULL, "%s %s: no route", found[_i].method, found[_i].path);
    ck_assert_int_eq(m.route->id, found[_i].id);
    ck_assert(slice_is(m.ns, found[_i].ns));
    if (found[_i].plural != NULL)
        ck_assert(slice_is(m.plural, found[_i].plural));
    if (found[_i].name != NULL)
        ck_assert(slice_is(m.name, found[_i].name));
    ck_assert(slice_is(m.file, found[_i].file));
}
END_TEST

static const struct {
    const char *method, *path, *allow;
} not_allowed[] = {
    {"POST", "/", "GET"},
    {"DELETE", "/api/v1/postgresclusters", "GET"},
    {"GET", "/api/v1/login", "POST"},
    {"HEAD", "/api/v1/whoami", "GET"},
    {"PUT", "/api/v1/namespaces/shop/postgresclusters", "GET, POST"},
    {"POST", "/api/v1/namespaces/shop/postgresclusters/main", "GET, PUT, PATCH, DELETE"},
    {"GET", "/api/v1/namespaces/shop/postgresclusters/main/backup", "POST"},
    {"BREW", "/ui/", "GET"},
};

START_TEST(test_not_allowed)
{
    struct pgw_api_match m;
    char buf[64];
    match(not_allowed[_i].method, not_allowed[_i].path, &m);
    ck_assert_ptr_null(m.route);
    ck_assert_str_eq(pgw_api_methods_text(m.allowed, buf, sizeof(buf)), not_allowed[_i].allow);
}
END_TEST

/* The detail route's "{name}" must not match as an object of the plural "detail" would. */
START_TEST(test_every_route_reachable)
{
    for (size_t i = 0; i != pgw_api_route_count; ++i) {
        const struct pgw_api_route *r = &pgw_api_routes[i];
        char path[256] = "/";
        const char *p = r->pattern;
        while (*p != '\0') {
            if (*p == '{') {
                const char *end = strchr(p, '}');
                const char *value = strncmp(p, "{plural}", 8) == 0 ? "postgresclusters"
                                    : strncmp(p, "{file}", 6) == 0 ? "a.js"
                                                                   : "x";
                strcat(path, value);
                p = end + 1;
            } else {
                strncat(path, p++, 1);
            }
        }
        for (unsigned bit = 1; bit <= PGW_API_DELETE; bit <<= 1) {
            if ((r->methods & bit) == 0)
                continue;
            char m[16];
            pgw_api_methods_text(bit, m, sizeof(m));
            struct pgw_api_match got;
            match(m, path, &got);
            ck_assert_msg(got.route == r, "%s %s: reached %s", m, path, got.route ? got.route->pattern : "nothing");
        }
    }
}
END_TEST

START_TEST(test_methods)
{
    ck_assert_uint_eq(pgw_api_method_bit("GET", 3), PGW_API_GET);
    ck_assert_uint_eq(pgw_api_method_bit("DELETE", 6), PGW_API_DELETE);
    ck_assert_uint_eq(pgw_api_method_bit("get", 3), 0);
    ck_assert_uint_eq(pgw_api_method_bit("GETX", 3), PGW_API_GET); /* the length decides */
    ck_assert_uint_eq(pgw_api_method_bit("OPTIONS", 7), 0);
    char buf[8];
    ck_assert_str_eq(pgw_api_methods_text(PGW_API_GET | PGW_API_DELETE, buf, sizeof(buf)), "GET, DE"); /* cut, terminated */
}
END_TEST

/* The query string passed on: only the allowed parameters, values as received, nothing that could bend the URL. */
static const struct {
    const char *query, *want; /* want NULL: refused */
} queries[] = {
    {"", ""},
    {"dryRun=All", "?dryRun=All"},
    {"labelSelector=app%3Dx&watch=true&limit=10", "?labelSelector=app%3Dx&limit=10"},
    {"watch=1&follow=true", ""},
    {"labelSelector=a,b!=c&continue=eyJ2Ijo", "?labelSelector=a,b!=c&continue=eyJ2Ijo"},
    {"limit", "?limit"},
    {"labelSelector=a b", NULL},
    {"labelSelector=a/b", NULL},
    {"labelSelector=a#b", NULL},
    {"labelSelectorX=1&xlabelSelector=2", ""},
    {"&&limit=5&", "?limit=5"},
};

START_TEST(test_query_filter)
{
    static const char *const allowed[] = {"labelSelector", "limit", "continue", "dryRun", NULL};
    char *got = pgw_api_query_filter(queries[_i].query, strlen(queries[_i].query), allowed);
    if (queries[_i].want == NULL)
        ck_assert_msg(got == NULL, "%s: passed as %s", queries[_i].query, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, queries[_i].want) == 0, "%s: %s", queries[_i].query, got ? got : "(refused)");
    free(got);
}
END_TEST

START_TEST(test_plural_kind)
{
    ck_assert_str_eq(pgw_api_plural_kind("postgresclusters"), "PostgresCluster");
    ck_assert_str_eq(pgw_api_plural_kind("postgresbackups"), "PostgresBackup");
    ck_assert_str_eq(pgw_api_plural_kind("postgresrestores"), "PostgresRestore");
    ck_assert_ptr_null(pgw_api_plural_kind("secrets"));
    ck_assert_ptr_null(pgw_api_plural_kind(NULL));
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("api_router");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_found, 0, sizeof(found) / sizeof(found[0]));
    tcase_add_loop_test(tc, test_not_allowed, 0, sizeof(not_allowed) / sizeof(not_allowed[0]));
    tcase_add_test(tc, test_every_route_reachable);
    tcase_add_test(tc, test_methods);
    tcase_add_loop_test(tc, test_query_filter, 0, sizeof(queries) / sizeof(queries[0]));
    tcase_add_test(tc, test_plural_kind);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(router_suite());
}
