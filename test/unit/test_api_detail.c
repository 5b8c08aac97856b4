/*
 * The cluster detail's assembly: connection from the -app Secret (or why
 * not), the recoverable window from Succeeded backups and WAL archiving,
 * Events newest first and capped, the summary the plugin prints.
 */
#include "helpers.h"

#include <time.h>

#include "api/detail.h"
#include "common/base64.h"

#define NOW 1796436000 /* 2026-12-05T02:00:00Z */

static json_t *cluster(const char *backup_ready)
{
    json_t *c = q("{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'main','namespace':'shop'},"
                  "'spec':{'instances':2,'postgresVersion':17},'status':{'phase':'Running','readyInstances':2,'conditions':[]}}");
    if (backup_ready != NULL) {
        json_t *cond = q("{'type':'BackupReady','reason':'StanzaCreated'}");
        json_object_set_new(cond, "status", json_string(backup_ready));
        json_array_append_new(json_object_get(json_object_get(c, "status"), "conditions"), cond);
    }
    return c;
}

static json_t *backups(void)
{
    return q("[{'metadata':{'name':'b1','creationTimestamp':'2026-12-04T00:00:00Z'},'spec':{'cluster':'main','type':'full'},"
             "  'status':{'phase':'Succeeded','completedAt':'2026-12-04T00:05:00Z'}},"
             " {'metadata':{'name':'b2','creationTimestamp':'2026-12-04T12:00:00Z'},'spec':{'cluster':'main','type':'incr'},"
             "  'status':{'phase':'Succeeded','completedAt':'2026-12-04T12:01:00Z'}},"
             " {'metadata':{'name':'b3','creationTimestamp':'2026-12-03T00:00:00Z'},'spec':{'cluster':'main','type':'full'},"
             "  'status':{'phase':'Failed','completedAt':'2026-12-03T00:01:00Z'}},"
             " {'metadata':{'name':'o1','creationTimestamp':'2026-12-01T00:00:00Z'},'spec':{'cluster':'other','type':'full'},"
             "  'status':{'phase':'Succeeded','completedAt':'2026-12-01T00:01:00Z'}},"
             " {'metadata':{'name':'b4','creationTimestamp':'2026-12-05T01:00:00Z'},'spec':{'cluster':'main','type':'full'},"
             "  'status':{'phase':'Running'}}]");
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

START_TEST(test_window_archiving)
{
    json_t *c = cluster("True"), *b = backups();
    json_t *w = pgw_api_detail_window(c, b, NOW);
    ck_assert_str_eq(str(w, "from"), "2026-12-04T00:05:00Z"); /* the oldest Succeeded of this cluster */
    ck_assert_str_eq(str(w, "to"), "2026-12-05T02:00:00Z");   /* now: WAL is archived */
    ck_assert(json_is_true(json_object_get(w, "walArchiving")));
    json_decref(w);
    json_decref(c);
    json_decref(b);
}
END_TEST

START_TEST(test_window_not_archiving)
{
    static const char *const states[] = {"False", "Unknown", NULL};
    for (size_t i = 0; i != 3; ++i) {
        json_t *c = cluster(states[i]), *b = backups();
        json_t *w = pgw_api_detail_window(c, b, NOW);
        ck_assert_str_eq(str(w, "from"), "2026-12-04T00:05:00Z");
        ck_assert_str_eq(str(w, "to"), "2026-12-04T12:01:00Z"); /* the end of the newest Succeeded */
        ck_assert(json_is_false(json_object_get(w, "walArchiving")));
        json_decref(w);
        json_decref(c);
        json_decref(b);
    }
}
END_TEST

START_TEST(test_window_none)
{
    json_t *c = cluster("True");
    json_t *b =
        q("[{'metadata':{'name':'b3'},'spec':{'cluster':'main'},'status':{'phase':'Failed','completedAt':'2026-12-03T00:01:00Z'}},"
          " {'metadata':{'name':'o1'},'spec':{'cluster':'other'},'status':{'phase':'Succeeded','completedAt':'2026-12-01T00:01:00Z'"
          "}}]");
    json_t *w = pgw_api_detail_window(c, b, NOW);
    ck_assert(json_is_null(w));
    json_decref(w);
    w = pgw_api_detail_window(c, NULL, NOW);
    ck_assert(json_is_null(w));
    json_decref(w);
    json_decref(c);
    json_decref(b);
}
END_TEST

static json_t *app_secret(void)
{
    json_t *data = json_object();
    static const char *const kv[][2] = {{"host", "main.shop.svc"}, {"port", "5432"},
                                        {"dbname", "app"},         {"username", "app"},
                                        {"password", "s3"},        {"uri", "postgresql://app:s3@main.shop.svc:5432/app"}};
    for (size_t i = 0; i != sizeof(kv) / sizeof(kv[0]); ++i) {
        char *enc = pgw_base64_encode(kv[i][1], strlen(kv[i][1]));
        json_object_set_new(data, kv[i][0], json_string(enc));
        free(enc);
    }
    json_t *s = q("{'kind':'Secret','metadata':{'name':'main-app'}}");
    json_object_set_new(s, "data", data);
    return s;
}

START_TEST(test_connection)
{
    json_t *secret = app_secret();
    json_t *c = pgw_api_detail_connection("main-app", secret, PGW_API_SECRET_READ);
    ck_assert_str_eq(str(c, "host"), "main.shop.svc");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "port")), 5432);
    ck_assert_str_eq(str(c, "database"), "app");
    ck_assert_str_eq(str(c, "user"), "app");
    ck_assert_str_eq(str(c, "password"), "s3");
    ck_assert_str_eq(str(c, "uri"), "postgresql://app:s3@main.shop.svc:5432/app");
    ck_assert_str_eq(str(c, "secret"), "main-app");
    ck_assert_ptr_null(json_object_get(c, "forbidden"));
    json_decref(c);

    c = pgw_api_detail_connection("main-app", NULL, PGW_API_SECRET_FORBIDDEN);
    ck_assert(json_is_true(json_object_get(c, "forbidden")));
    ck_assert_str_eq(str(c, "secret"), "main-app");
    ck_assert_ptr_null(json_object_get(c, "password"));
    json_decref(c);

    c = pgw_api_detail_connection("main-app", NULL, PGW_API_SECRET_MISSING);
    ck_assert(json_is_true(json_object_get(c, "missing")));
    json_decref(c);
    json_decref(secret);
}
END_TEST

START_TEST(test_events_order_and_cap)
{
    json_t *events = json_array();
    for (int i = 0; i != 60; ++i) {
        char ts[32];
        time_t t = NOW - 3600 + (i * 37) % 60 * 60; /* shuffled minutes */
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *e =
            q("{'type':'Normal','reason':'Created','message':'m','involvedObject':{'kind':'PostgresCluster','name':'main'}}");
        json_object_set_new(e, "lastTimestamp", json_string(ts));
        if (i == 7)
            json_object_set_new(e, "count", json_integer(4));
        json_array_append_new(events, e);
    }
    /* one with only eventTime (events.k8s.io style), newest of all */
    json_array_append_new(events, q("{'type':'Warning','reason':'Late','message':'x','eventTime':'2026-12-05T02:30:00.000000Z',"
                                    "'involvedObject':{'kind':'PostgresCluster','name':'main'}}"));
    json_t *out = pgw_api_detail_events(events);
    ck_assert_uint_eq(json_array_size(out), PGW_API_DETAIL_MAX_EVENTS);
    ck_assert_str_eq(str(json_array_get(out, 0), "reason"), "Late");
    ck_assert_str_eq(str(json_array_get(out, 0), "object"), "PostgresCluster/main");
    for (size_t i = 1; i + 1 < json_array_size(out); ++i)
        ck_assert(strcmp(str(json_array_get(out, i), "lastTimestamp"), str(json_array_get(out, i + 1), "lastTimestamp")) >= 0);
    int with_count = 0;
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) with_count += json_integer_value(json_object_get(e, "count")) == 4;
    ck_assert_int_eq(with_count, 1);
    json_decref(out);
    json_decref(events);
}
END_TEST

START_TEST(test_assemble)
{
    json_t *c = cluster("True"), *b = backups(), *secret = app_secret();
    json_t *pods = q("[{'metadata':{'name':'main-0','labels':{'role':'primary'}},'status':{'podIP':'10.0.0.1'}},"
                     " {'metadata':{'name':'main-1'},'status':{'podIP':'10.0.0.2'}}]");
    json_t *forbidden = q("['services']");
    struct pgw_api_detail_input in = {.cluster = c,
                                      .leader = "main-0",
                                      .pods = pods,
                                      .backups = b,
                                      .secret = secret,
                                      .secret_state = PGW_API_SECRET_READ,
                                      .forbidden = forbidden,
                                      .now = NOW};
    json_t *d = pgw_api_detail_assemble(&in);
    ck_assert(json_equal(json_object_get(d, "cluster"), c));
    json_t *s = json_object_get(d, "summary");
    ck_assert_str_eq(str(s, "name"), "main");
    ck_assert_str_eq(str(s, "primary"), "main-0");
    ck_assert_uint_eq(json_array_size(json_object_get(s, "instances")), 2);
    ck_assert_uint_eq(json_array_size(json_object_get(s, "services")), 0);
    ck_assert_str_eq(str(json_array_get(json_object_get(s, "backups"), 0), "name"), "b4"); /* newest first */
    ck_assert_str_eq(str(json_object_get(d, "connection"), "user"), "app");
    ck_assert_str_eq(str(json_object_get(d, "recoverableWindow"), "from"), "2026-12-04T00:05:00Z");
    ck_assert(json_is_array(json_object_get(d, "events")) && json_array_size(json_object_get(d, "events")) == 0);
    ck_assert(json_equal(json_object_get(d, "forbidden"), forbidden));
    json_decref(d);

    /* Nothing readable but the cluster: still a whole answer. */
    struct pgw_api_detail_input bare = {.cluster = c, .secret_state = PGW_API_SECRET_FORBIDDEN, .now = NOW};
    d = pgw_api_detail_assemble(&bare);
    ck_assert(json_is_true(json_object_get(json_object_get(d, "connection"), "forbidden")));
    ck_assert(json_is_null(json_object_get(d, "recoverableWindow")));
    ck_assert_uint_eq(json_array_size(json_object_get(d, "forbidden")), 0);
    json_decref(d);
    json_decref(forbidden);
    json_decref(pods);
    json_decref(secret);
    json_decref(b);
    json_decref(c);
}
END_TEST

static Suite *detail_suite(void)
{
    Suite *s = suite_create("api_detail");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_window_archiving);
    tcase_add_test(tc, test_window_not_archiving);
    tcase_add_test(tc, test_window_none);
    tcase_add_test(tc, test_connection);
    tcase_add_test(tc, test_events_order_and_cap);
    tcase_add_test(tc, test_assemble);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(detail_suite());
}
