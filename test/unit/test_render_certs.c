/*
 * Certificate Secrets (specs/render_certs.h): the names a cluster's
 * certificates must carry, the deferred render the controller uses, fresh data
 * that is judged good, and the judgements that make the controller renew: a
 * certificate from before a name was added, one near its end, a pgBackRest
 * client certificate that expired. The clock is the `now` argument.
 */
#include "helpers.h"

#include <time.h>

#include "certs/certs.h"
#include "common/config.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_certs.h"
#include "specs/render_pgbackrest.h"

#define DAY 86400

static struct pgw_config cfg;

static const char cluster_json[] = "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':"
                                   "'db','uid':'u-1'},'spec':{'postgresVersion':17,'instances':2,'storage':{'size':'1Gi'},"
                                   "'backup':{'repository':{'volume':{'size':'1Gi'}}},'metadata':{'annotations':{'owner':'ops'}}}}";

static json_t *find(json_t *children, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(children, i, c)
    {
        if (strcmp(json_string_value(json_object_get(json_object_get(c, "metadata"), "name")), name) == 0)
            return c;
    }
    return NULL;
}

static const char *ann(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

/* Every name a client in the cluster may use for the read-write, -ro and -r Services and the pods. */
START_TEST(server_names)
{
    json_t *names = pgw_render_certificate_names(PGW_CERTIFICATE_SERVER, "demo", "db");
    static const char *const want[] = {"demo",
                                       "demo.db",
                                       "demo.db.svc",
                                       "demo.db.svc.cluster.local",
                                       "localhost",
                                       "demo-ro",
                                       "demo-ro.db",
                                       "demo-ro.db.svc",
                                       "demo-ro.db.svc.cluster.local",
                                       "demo-r",
                                       "demo-r.db",
                                       "demo-r.db.svc",
                                       "demo-r.db.svc.cluster.local",
                                       "*.demo-pods",
                                       "*.demo-pods.db",
                                       "*.demo-pods.db.svc",
                                       "*.demo-pods.db.svc.cluster.local"};
    ck_assert_uint_eq(json_array_size(names), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i != sizeof(want) / sizeof(want[0]); ++i)
        ck_assert_str_eq(json_string_value(json_array_get(names, i)), want[i]);
    json_decref(names);
    names = pgw_render_certificate_names(PGW_CERTIFICATE_PGBACKREST, "demo", "db");
    ck_assert_uint_eq(json_array_size(names), 4);
    ck_assert_str_eq(json_string_value(json_array_get(names, 2)), "*.demo-pods.db.svc");
    json_decref(names);
    ck_assert_ptr_null(pgw_render_certificate_names("webhook", "demo", "db"));
}
END_TEST

/* The controller's render: certificate Secrets without data, annotated; PgBouncer's Secret names its source. */
START_TEST(deferred_render)
{
    json_t *cluster = q(cluster_json), *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg, .defer_certificates = 1};
    pgw_render_secrets(cluster, &ctx, out);
    json_t *server = find(out, "demo-server-tls"), *backrest = find(out, "demo-pgbackrest-tls"),
           *bouncer = find(out, "demo-pgbouncer");
    ck_assert_ptr_nonnull(server);
    ck_assert_ptr_nonnull(backrest);
    ck_assert_str_eq(ann(server, PGW_ANNOTATION_CERTIFICATE), PGW_CERTIFICATE_SERVER);
    ck_assert_str_eq(ann(server, "owner"), "ops"); /* propagated annotations stay */
    ck_assert_str_eq(ann(backrest, PGW_ANNOTATION_CERTIFICATE), PGW_CERTIFICATE_PGBACKREST);
    ck_assert_ptr_null(json_object_get(server, "stringData"));
    ck_assert_ptr_null(json_object_get(backrest, "stringData"));
    ck_assert_str_eq(ann(bouncer, PGW_ANNOTATION_TLS_FROM), "demo-server-tls");
    ck_assert_ptr_null(json_object_get(json_object_get(bouncer, "stringData"), PGW_KEY_TLS_CERT));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(bouncer, "stringData"), "password"));
    json_decref(out);

    /* The user's own certificate: none rendered, PgBouncer copies from theirs. */
    json_object_set_new(json_object_get(cluster, "spec"), "tls", json_pack("{s:s}", "secretName", "mine"));
    out = json_array();
    pgw_render_secrets(cluster, &ctx, out);
    ck_assert_ptr_null(find(out, "demo-server-tls"));
    ck_assert_str_eq(ann(find(out, "demo-pgbouncer"), PGW_ANNOTATION_TLS_FROM), "mine");
    json_decref(out);
    json_decref(cluster);
}
END_TEST

/* Fresh data is kept until two thirds of its life; then, or with a name missing, it is renewed. */
START_TEST(server_data_judged)
{
    json_t *cluster = q(cluster_json), *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg, .defer_certificates = 1};
    pgw_render_secrets(cluster, &ctx, out);
    json_t *server = find(out, "demo-server-tls");
    json_t *data = pgw_render_certificate_data(server, NULL);
    ck_assert_ptr_nonnull(data);
    time_t now = time(NULL), renew_at = 0;
    const char *problem = pgw_render_certificate_problem(server, data, now, &renew_at);
    ck_assert_msg(problem == NULL, "%s", problem);
    /* 825 days from about now (backdated 300 s): due after about 550 days */
    ck_assert_int_ge((long long)renew_at, (long long)now + 549LL * DAY);
    ck_assert_int_le((long long)renew_at, (long long)now + 551LL * DAY);
    problem = pgw_render_certificate_problem(server, data, now + 551LL * DAY, NULL);
    ck_assert_ptr_nonnull(problem);
    ck_assert_ptr_nonnull(strstr(problem, "less than a third"));

    /* What older releases issued: the read-write Service's names only. */
    struct pgw_certs_options opts = {.service = "demo", .namespace = "db", .ca_days = 3650, .leaf_days = 825};
    struct pgw_certs_pem old;
    char *err = NULL;
    ck_assert_int_eq(pgw_certs_issue_pem(&opts, &old, &err), 0);
    json_t *old_data =
        json_pack("{s:s,s:s,s:s}", PGW_KEY_TLS_CA, old.ca_crt, PGW_KEY_TLS_CERT, old.tls_crt, PGW_KEY_TLS_KEY, old.tls_key);
    problem = pgw_render_certificate_problem(server, old_data, now, NULL);
    ck_assert_ptr_nonnull(problem);
    ck_assert_ptr_nonnull(strstr(problem, "does not cover every name"));
    /* Its CA beside a new certificate: not the signer. */
    json_object_set(old_data, PGW_KEY_TLS_CERT, json_object_get(data, PGW_KEY_TLS_CERT));
    json_object_set(old_data, PGW_KEY_TLS_KEY, json_object_get(data, PGW_KEY_TLS_KEY));
    problem = pgw_render_certificate_problem(server, old_data, now, NULL);
    ck_assert_ptr_nonnull(problem);
    ck_assert_ptr_nonnull(strstr(problem, "not signed by the CA"));
    /* A Secret missing a key */
    json_object_del(data, PGW_KEY_TLS_KEY);
    ck_assert_ptr_nonnull(pgw_render_certificate_problem(server, data, now, NULL));
    pgw_certs_pem_free(&old);
    json_decref(old_data);
    json_decref(data);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

/* pgBackRest's Secret is judged on both pairs: a client certificate of another CA renews it too. */
START_TEST(pgbackrest_data_judged)
{
    json_t *cluster = q(cluster_json), *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg, .defer_certificates = 1};
    pgw_render_secrets(cluster, &ctx, out);
    json_t *backrest = find(out, "demo-pgbackrest-tls");
    json_t *a = pgw_render_certificate_data(backrest, NULL), *b = pgw_render_certificate_data(backrest, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(json_object_get(a, PGW_KEY_TLS_CLIENT_CERT));
    time_t now = time(NULL), renew_at = 0;
    ck_assert_ptr_null(pgw_render_certificate_problem(backrest, a, now, &renew_at));
    ck_assert_int_gt((long long)renew_at, (long long)now);
    json_object_set(a, PGW_KEY_TLS_CLIENT_CERT, json_object_get(b, PGW_KEY_TLS_CLIENT_CERT));
    json_object_set(a, PGW_KEY_TLS_CLIENT_KEY, json_object_get(b, PGW_KEY_TLS_CLIENT_KEY));
    const char *problem = pgw_render_certificate_problem(backrest, a, now, NULL);
    ck_assert_ptr_nonnull(problem);
    ck_assert_ptr_nonnull(strstr(problem, "not signed by the CA"));
    /* A Secret that is not a certificate is never judged. */
    ck_assert_ptr_null(pgw_render_certificate_problem(find(out, "demo-app"), a, now, NULL));
    ck_assert_ptr_null(pgw_render_certificate_data(find(out, "demo-app"), NULL));
    json_decref(a);
    json_decref(b);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

/* A renewal keeps the old CA, while valid, after the new one: the new data is still judged good. */
START_TEST(renewal_keeps_the_old_ca)
{
    json_t *cluster = q(cluster_json), *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg, .defer_certificates = 1};
    pgw_render_secrets(cluster, &ctx, out);
    json_t *server = find(out, "demo-server-tls");
    json_t *old = pgw_render_certificate_data(server, NULL), *fresh = pgw_render_certificate_data(server, NULL);
    char *new_ca = strdup(json_string_value(json_object_get(fresh, PGW_KEY_TLS_CA)));
    const char *old_ca = json_string_value(json_object_get(old, PGW_KEY_TLS_CA));
    time_t now = time(NULL);
    pgw_render_certificate_keep_ca(fresh, old, now);
    const char *both = json_string_value(json_object_get(fresh, PGW_KEY_TLS_CA));
    ck_assert_int_eq(strncmp(both, new_ca, strlen(new_ca)), 0); /* the signer first */
    ck_assert_str_eq(both + strlen(new_ca), old_ca);
    ck_assert_ptr_null(pgw_render_certificate_problem(server, fresh, now, NULL));
    /* An expired old CA is dropped. */
    json_t *again = pgw_render_certificate_data(server, NULL);
    const char *again_ca = json_string_value(json_object_get(again, PGW_KEY_TLS_CA));
    size_t n = strlen(again_ca);
    pgw_render_certificate_keep_ca(again, old, now + 3651LL * DAY);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(again, PGW_KEY_TLS_CA))), n);
    free(new_ca);
    json_decref(again);
    json_decref(old);
    json_decref(fresh);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

/* The cluster's CA Secret comes first and signs both certificates; a renewal signed by it keeps it, so
 * nothing is appended to ca.crt and the old certificate still verifies against the new ca.crt. */
START_TEST(cluster_ca_signs_and_is_kept)
{
    json_t *cluster = q(cluster_json), *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg, .defer_certificates = 1};
    pgw_render_secrets(cluster, &ctx, out);
    json_t *ca_secret = json_array_get(out, 0), *server = find(out, "demo-server-tls"),
           *backrest = find(out, "demo-pgbackrest-tls");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ca_secret, "metadata"), "name")), "demo-ca");
    ck_assert_str_eq(ann(ca_secret, PGW_ANNOTATION_CERTIFICATE), PGW_CERTIFICATE_CA);
    ck_assert_str_eq(json_string_value(json_object_get(ca_secret, "type")), "Opaque"); /* no tls.crt/tls.key in it */
    ck_assert_str_eq(json_string_value(json_object_get(server, "type")), "kubernetes.io/tls");
    char *ca_name = pgw_render_certificate_ca_name(server);
    ck_assert_str_eq(ca_name, "demo-ca");
    free(ca_name);
    ck_assert_ptr_null(pgw_render_certificate_ca_name(ca_secret));
    time_t now = time(NULL), renew_at = 0;
    json_t *ca = pgw_render_certificate_data(ca_secret, NULL);
    ck_assert_ptr_null(pgw_render_certificate_problem(ca_secret, ca, now, &renew_at));
    ck_assert_int_gt((long long)renew_at, (long long)now + 2400LL * DAY); /* two thirds of 3650 days */
    ck_assert_ptr_nonnull(pgw_render_certificate_problem(ca_secret, ca, now + 2500LL * DAY, NULL));
    json_t *old = pgw_render_certificate_data(server, ca), *fresh = pgw_render_certificate_data(server, ca);
    json_t *mtls = pgw_render_certificate_data(backrest, ca);
    const char *ca_crt = json_string_value(json_object_get(ca, PGW_KEY_TLS_CA));
    ck_assert_str_eq(json_string_value(json_object_get(old, PGW_KEY_TLS_CA)), ca_crt);
    ck_assert_str_eq(json_string_value(json_object_get(mtls, PGW_KEY_TLS_CA)), ca_crt);
    ck_assert_str_ne(json_string_value(json_object_get(old, PGW_KEY_TLS_CERT)),
                     json_string_value(json_object_get(fresh, PGW_KEY_TLS_CERT)));
    ck_assert_ptr_null(pgw_render_certificate_problem(backrest, mtls, now, NULL));
    pgw_render_certificate_keep_ca(fresh, old, now);
    ck_assert_str_eq(json_string_value(json_object_get(fresh, PGW_KEY_TLS_CA)), ca_crt);
    /* the old certificate against the renewed Secret's CA: still signed by it */
    json_object_set(old, PGW_KEY_TLS_CA, json_object_get(fresh, PGW_KEY_TLS_CA));
    ck_assert_ptr_null(pgw_render_certificate_problem(server, old, now, NULL));
    /* A CA pair that does not match is unusable. */
    json_object_set(ca, PGW_KEY_CA_KEY, json_object_get(old, PGW_KEY_TLS_KEY));
    ck_assert_ptr_nonnull(pgw_render_certificate_problem(ca_secret, ca, now, NULL));
    json_decref(ca);
    json_decref(old);
    json_decref(fresh);
    json_decref(mtls);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

int main(void)
{
    pgw_config_init_defaults(&cfg);
    Suite *s = suite_create("render_certs");
    TCase *tc = tcase_create("certificates");
    tcase_add_test(tc, server_names);
    tcase_add_test(tc, deferred_render);
    tcase_add_test(tc, server_data_judged);
    tcase_add_test(tc, pgbackrest_data_judged);
    tcase_add_test(tc, renewal_keeps_the_old_ca);
    tcase_add_test(tc, cluster_ca_signs_and_is_kept);
    suite_add_tcase(s, tc);
    int rc = pgw_run_suite(s);
    pgw_config_dispose(&cfg);
    return rc;
}
