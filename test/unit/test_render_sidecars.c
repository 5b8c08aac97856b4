/*
 * Rendering of the sidecars' configuration (specs/render_pgbouncer.c,
 * specs/render_exporter.c): defaults, spec.pooler overrides, what users
 * cannot override, quoting, and refusal of unsafe input. The data-plane test
 * runs the same text against the real programs.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/yaml.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_exporter.h"
#include "specs/render_pgbouncer.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    ck_assert_msg(v != NULL, "bad test JSON: %s", err.text);
    return v;
}

/* 1 when `line` (without newline) is a whole line of `text`. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

static const struct {
    const char *cluster;
    const char *present[4]; /* lines that must be there */
    const char *absent[3];  /* lines that must not */
} ini_rows[] = {
    /* defaults */
    {"{\"metadata\":{\"name\":\"demo\"},\"spec\":{}}",
     {"pool_mode = transaction", "max_client_conn = 1000", "default_pool_size = 20", NULL},
     {NULL}},
    {"{\"spec\":{\"pooler\":{\"enabled\":true}}}",
     {"pool_mode = transaction", "max_client_conn = 1000", "default_pool_size = 20", NULL},
     {NULL}},
    /* overrides */
    {"{\"spec\":{\"pooler\":{\"mode\":\"session\",\"maxClientConnections\":5000,\"defaultPoolSize\":50}}}",
     {"pool_mode = session", "max_client_conn = 5000", "default_pool_size = 50", NULL},
     {"pool_mode = transaction", NULL}},
    {"{\"spec\":{\"pooler\":{\"mode\":\"statement\"}}}", {"pool_mode = statement", NULL}, {NULL}},
    /* nonsense falls back to the defaults (the validator has already denied it) */
    {"{\"spec\":{\"pooler\":{\"mode\":\"bogus\",\"maxClientConnections\":-1,\"defaultPoolSize\":\"9\"}}}",
     {"pool_mode = transaction", "max_client_conn = 1000", "default_pool_size = 20", NULL},
     {"pool_mode = bogus", NULL}},
    /* parameters: allowed ones rendered sorted; managed, odd or multi-line ones never */
    {"{\"spec\":{\"pooler\":{\"parameters\":{\"server_idle_timeout\":60,\"query_wait_timeout\":\"120\","
     "\"auth_type\":\"trust\",\"log_connections\":false,\"x y\":\"1\",\"idle_transaction_timeout\":\"1\\nauth_type = trust\"}}}}",
     {"server_idle_timeout = 60", "query_wait_timeout = 120", "log_connections = 0", NULL},
     {"auth_type = trust", "x y = 1", NULL}},
    {"{\"spec\":{\"pooler\":{\"parameters\":{\"client_tls_sslmode\":\"disable\",\"listen_port\":\"1\"}}}}",
     {"listen_port = 6432", "client_tls_sslmode = prefer", NULL},
     {"client_tls_sslmode = disable", "listen_port = 1", NULL}},
};

START_TEST(test_ini)
{
    json_t *cluster = parse(ini_rows[_i].cluster);
    char *ini = pgw_render_pgbouncer_ini(cluster, NULL);
    /* always there */
    const char *fixed[] = {"[databases]",
                           "* = host=/var/run/postgresql port=5432",
                           "[pgbouncer]",
                           "listen_addr = 0.0.0.0",
                           "listen_port = 6432",
                           "unix_socket_dir = /var/run/postgresql",
                           "auth_type = scram-sha-256",
                           "auth_file = /etc/pgbouncer/userlist.txt",
                           "auth_user = pgwarden_pgbouncer",
                           "auth_query = SELECT username, password FROM pgwarden.get_auth($1)",
                           "client_tls_cert_file = /etc/pgbouncer/tls.crt",
                           "client_tls_key_file = /etc/pgbouncer/tls.key"};
    for (size_t i = 0; i != sizeof(fixed) / sizeof(fixed[0]); ++i)
        ck_assert_msg(has_line(ini, fixed[i]), "row %d: missing \"%s\" in\n%s", _i, fixed[i], ini);
    for (size_t i = 0; ini_rows[_i].present[i] != NULL; ++i)
        ck_assert_msg(has_line(ini, ini_rows[_i].present[i]), "row %d: missing \"%s\" in\n%s", _i, ini_rows[_i].present[i], ini);
    for (size_t i = 0; ini_rows[_i].absent[i] != NULL; ++i)
        ck_assert_msg(!has_line(ini, ini_rows[_i].absent[i]), "row %d: unexpected \"%s\"", _i, ini_rows[_i].absent[i]);
    ck_assert_ptr_null(strstr(ini, "auth_type = trust"));
    free(ini);
    json_decref(cluster);
}
END_TEST

START_TEST(test_ini_options)
{
    json_t *cluster = parse("{}");
    struct pgw_pgbouncer_render_opts o;
    pgw_pgbouncer_render_opts_default(&o);
    ck_assert_int_eq(o.tls, 1);
    o.listen_addr = "127.0.0.1";
    o.listen_port = 7001;
    o.unix_socket_dir = "/tmp/a";
    o.server_host = "/tmp/b";
    o.server_port = 7002;
    o.config_dir = "/tmp/c";
    o.tls = 0;
    char *ini = pgw_render_pgbouncer_ini(cluster, &o);
    ck_assert(has_line(ini, "* = host=/tmp/b port=7002"));
    ck_assert(has_line(ini, "listen_addr = 127.0.0.1"));
    ck_assert(has_line(ini, "listen_port = 7001"));
    ck_assert(has_line(ini, "unix_socket_dir = /tmp/a"));
    ck_assert(has_line(ini, "auth_file = /tmp/c/userlist.txt"));
    ck_assert_ptr_null(strstr(ini, "client_tls"));
    free(ini);
    json_decref(cluster);
}
END_TEST

static const struct {
    const char *password;
    const char *userlist; /* NULL: not checked */
    const char *literal;  /* expected SQL literal, NULL when the SQL must be refused */
} passwords[] = {
    {"simple", "\"pgwarden_pgbouncer\" \"simple\"\n", "PASSWORD 'simple';"},
    {"it's", "\"pgwarden_pgbouncer\" \"it's\"\n", "PASSWORD 'it''s';"},
    {"a\"b", "\"pgwarden_pgbouncer\" \"a\"\"b\"\n", "PASSWORD 'a\"b';"},
    {"back\\slash", NULL, "PASSWORD 'back\\slash';"},
    {"SCRAM-SHA-256$4096:c2FsdA==$a:b", NULL, "PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b';"},
    {"line\nbreak", NULL, NULL},
    {"tab\there", NULL, NULL},
};

START_TEST(test_passwords)
{
    if (passwords[_i].userlist != NULL) {
        char *ul = pgw_render_pgbouncer_userlist(passwords[_i].password);
        ck_assert_str_eq(ul, passwords[_i].userlist);
        free(ul);
    }
    char *pgb = pgw_render_pgbouncer_sql(NULL, passwords[_i].password);
    char *exp = pgw_render_exporter_sql(NULL, passwords[_i].password);
    if (passwords[_i].literal == NULL) {
        ck_assert_ptr_null(pgb);
        ck_assert_ptr_null(exp);
        return;
    }
    ck_assert_ptr_nonnull(strstr(pgb, passwords[_i].literal));
    ck_assert_ptr_nonnull(strstr(exp, passwords[_i].literal));
    free(pgb);
    free(exp);
}
END_TEST

START_TEST(test_sql_content)
{
    char *sql = pgw_render_pgbouncer_sql(NULL, "pw");
    const char *needed[] = {"SECURITY DEFINER",
                            "SET search_path = pg_catalog, pg_temp",
                            "CREATE OR REPLACE FUNCTION pgwarden.get_auth(p_username text)",
                            "NOT a.rolsuper",
                            "NOT a.rolreplication",
                            "REVOKE ALL ON FUNCTION pgwarden.get_auth(text) FROM PUBLIC",
                            "GRANT EXECUTE ON FUNCTION pgwarden.get_auth(text) TO pgwarden_pgbouncer",
                            "CREATE SCHEMA IF NOT EXISTS pgwarden"};
    for (size_t i = 0; i != sizeof(needed) / sizeof(needed[0]); ++i)
        ck_assert_msg(strstr(sql, needed[i]) != NULL, "missing %s", needed[i]);
    free(sql);
    sql = pgw_render_exporter_sql(NULL, "pw");
    ck_assert_ptr_nonnull(strstr(sql, "GRANT pg_monitor TO pgwarden_exporter;"));
    ck_assert_ptr_nonnull(strstr(sql, "NOSUPERUSER"));
    free(sql);
}
END_TEST

static const struct {
    const char *socket_dir, *database, *password_file;
    int port;
    const char *uri;
} env_rows[] = {
    {NULL, NULL, NULL, 0, "/postgres?host=%2Fvar%2Frun%2Fpostgresql&port=5432&sslmode=disable"}, /* defaults */
    {"/tmp/x y", "app db", "/p", 7000, "/app%20db?host=%2Ftmp%2Fx%20y&port=7000&sslmode=disable"},
    {"/run/a&b=c", "d?e", "/p", 1, "/d%3Fe?host=%2Frun%2Fa%26b%3Dc&port=1&sslmode=disable"},
};

START_TEST(test_exporter_env)
{
    struct pgw_exporter_render_opts o = {env_rows[_i].socket_dir, env_rows[_i].port, env_rows[_i].database,
                                         env_rows[_i].password_file};
    json_t *env = pgw_render_exporter_env(env_rows[_i].socket_dir ? &o : NULL);
    ck_assert_uint_eq(json_array_size(env), 3);
    const char *names[] = {"DATA_SOURCE_URI", "DATA_SOURCE_USER", "DATA_SOURCE_PASS_FILE"};
    const char *values[] = {env_rows[_i].uri, "pgwarden_exporter",
                            env_rows[_i].password_file ? env_rows[_i].password_file : "/etc/postgres_exporter/password"};
    for (size_t i = 0; i != 3; ++i) {
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(env, i), "name")), names[i]);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(env, i), "value")), values[i]);
    }
    json_decref(env);
    json_t *args = pgw_render_exporter_args(":9187");
    ck_assert_str_eq(json_string_value(json_array_get(args, 0)), "--web.listen-address=:9187");
    ck_assert_str_eq(json_string_value(json_array_get(args, 1)), "--web.telemetry-path=/metrics");
    json_decref(args);
}
END_TEST

/* spec.metrics.customQueriesConfigMap reaches the pod template only while metrics are on; without
 * one, the template names pgwarden's own queries ConfigMap <cluster>-exporter. */
static const struct {
    const char *spec;
    const char *configmap; /* expected from pgw_exporter_queries_configmap, NULL for none */
    const char *annotated; /* expected on the template, NULL for none */
} queries_rows[] = {
    {"{}", NULL, "demo-exporter"},
    {"{'metrics':{}}", NULL, "demo-exporter"},
    {"{'metrics':{'customQueriesConfigMap':'my-queries'}}", "my-queries", "my-queries"},
    {"{'metrics':{'enabled':true,'customQueriesConfigMap':'q.v2'}}", "q.v2", "q.v2"},
    {"{'metrics':{'enabled':false,'customQueriesConfigMap':'my-queries'}}", NULL, NULL},
    {"{'metrics':{'enabled':false}}", NULL, NULL},
    {"{'metrics':{'customQueriesConfigMap':''}}", NULL, "demo-exporter"},
};

START_TEST(test_exporter_queries_configmap)
{
    char *spec = pgw_strdup(queries_rows[_i].spec);
    for (char *p = spec; *p; ++p)
        if (*p == '\'')
            *p = '"';
    char *text = pgw_asprintf("{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresCluster\","
                              "\"metadata\":{\"name\":\"demo\",\"namespace\":\"db\",\"uid\":\"u\"},"
                              "\"spec\":%s}",
                              spec);
    json_t *cluster = parse(text);
    const char *got = pgw_exporter_queries_configmap(cluster);
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *sts = pgw_render_statefulset(cluster, &ctx);
    const json_t *ann =
        json_object_get(json_object_get(json_object_get(json_object_get(sts, "spec"), "template"), "metadata"), "annotations");
    const char *annotated = json_string_value(json_object_get(ann, PGW_POD_ANNOTATION_METRICS_QUERIES));
    if (queries_rows[_i].configmap == NULL)
        ck_assert_ptr_null(got);
    else
        ck_assert_str_eq(got, queries_rows[_i].configmap);
    if (queries_rows[_i].annotated == NULL)
        ck_assert_ptr_null(annotated);
    else
        ck_assert_str_eq(annotated, queries_rows[_i].annotated);
    ck_assert_str_eq(PGW_EXPORTER_QUERIES_FLAG, "--extend.query-path=/etc/postgres_exporter_queries/queries.yaml");
    json_decref(sts);
    pgw_config_dispose(&cfg);
    json_decref(cluster);
    free(text);
    free(spec);
}
END_TEST

/* pgwarden's custom queries: valid YAML in the exporter's shape, the pool size from the spec, the
 * pooler query only with the pooler on; and the ConfigMap that carries them only with metrics on. */
static const struct {
    const char *spec;
    const char *pool_size; /* the literal in the pooler query, NULL: no pooler query */
    int configmap;         /* <cluster>-exporter rendered */
} own_queries_rows[] = {
    {"{}", "20 AS pool_size", 1},
    {"{'pooler':{'defaultPoolSize':35}}", "35 AS pool_size", 1},
    {"{'pooler':{'defaultPoolSize':0}}", "20 AS pool_size", 1},
    {"{'pooler':{'enabled':false}}", NULL, 1},
    {"{'metrics':{'enabled':false}}", "20 AS pool_size", 0},
};

START_TEST(test_exporter_own_queries)
{
    char *spec = pgw_strdup(own_queries_rows[_i].spec);
    for (char *p = spec; *p; ++p)
        if (*p == '\'')
            *p = '"';
    char *text = pgw_asprintf("{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresCluster\","
                              "\"metadata\":{\"name\":\"demo\",\"namespace\":\"db\",\"uid\":\"u\"},\"spec\":%s}",
                              spec);
    json_t *cluster = parse(text);
    char *yaml = pgw_render_exporter_queries(cluster);
    char *err = NULL;
    json_t *docs = pgw_yaml_load_all(yaml, strlen(yaml), &err);
    ck_assert_msg(docs != NULL, "queries are not YAML: %s", err ? err : "");
    const json_t *q = json_array_get(docs, 0);
    const json_t *pooler = json_object_get(q, "pg_pooler"), *lag = json_object_get(q, "pg_replica_lag");
    ck_assert_ptr_nonnull(lag);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(lag, "query")), "FROM pg_catalog.pg_stat_replication"));
    ck_assert_int_eq(json_array_size(json_object_get(lag, "metrics")), 2);
    if (own_queries_rows[_i].pool_size == NULL) {
        ck_assert_ptr_null(pooler);
    } else {
        const char *sql = json_string_value(json_object_get(pooler, "query"));
        ck_assert_ptr_nonnull(sql);
        ck_assert_msg(strstr(sql, own_queries_rows[_i].pool_size) != NULL, "%s", sql);
        ck_assert_ptr_nonnull(strstr(sql, "NOT IN ('pgwarden_exporter', 'pgwarden_pgbouncer')"));
        const json_t *cols = json_object_get(pooler, "metrics");
        ck_assert_int_eq(json_array_size(cols), 4);
        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(json_array_get(cols, 2), "server_connections"), "usage")), "GAUGE");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(cols, 0), "datname"), "usage")), "LABEL");
    }

    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *cms = json_array();
    pgw_render_configmaps(cluster, &ctx, cms);
    const json_t *found = NULL;
    size_t i;
    json_t *cm;
    json_array_foreach(cms, i, cm)
    {
        if (strcmp(json_string_value(json_object_get(json_object_get(cm, "metadata"), "name")), "demo-exporter") == 0)
            found = cm;
    }
    if (own_queries_rows[_i].configmap) {
        ck_assert_ptr_nonnull(found);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(found, "data"), "queries.yaml")), yaml);
    } else {
        ck_assert_ptr_null(found);
    }
    json_decref(cms);
    pgw_config_dispose(&cfg);
    json_decref(docs);
    free(yaml);
    json_decref(cluster);
    free(text);
    free(spec);
}
END_TEST

static Suite *render_sidecars_suite(void)
{
    Suite *s = suite_create("render_sidecars");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_ini, 0, sizeof(ini_rows) / sizeof(ini_rows[0]));
    tcase_add_test(tc, test_ini_options);
    tcase_add_loop_test(tc, test_passwords, 0, sizeof(passwords) / sizeof(passwords[0]));
    tcase_add_test(tc, test_sql_content);
    tcase_add_loop_test(tc, test_exporter_env, 0, sizeof(env_rows) / sizeof(env_rows[0]));
    tcase_add_loop_test(tc, test_exporter_queries_configmap, 0, sizeof(queries_rows) / sizeof(queries_rows[0]));
    tcase_add_loop_test(tc, test_exporter_own_queries, 0, sizeof(own_queries_rows) / sizeof(own_queries_rows[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(render_sidecars_suite());
}
