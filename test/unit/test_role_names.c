/*
 * Names shared by admission and the controller for declared roles
 * (specs/roles.h): the Secret of a generated password, which names are
 * pgwarden's own Secrets, and the bootstrap owner and database. Expected
 * values are written out here.
 */
#include "helpers.h"

#include "specs/roles.h"

static const struct {
    const char *cluster, *role, *secret;
} secret_rows[] = {
    {"shop", "analyst", "shop-analyst"},
    {"shop", "report_ro", "shop-report-ro"},
    {"shop", "_etl__x", "shop--etl--x"},
    {"a-b", "c", "a-b-c"},
};

START_TEST(test_secret_name)
{
    char *got = pgw_role_secret_name(secret_rows[_i].cluster, secret_rows[_i].role);
    ck_assert_str_eq(got, secret_rows[_i].secret);
    free(got);
}
END_TEST

static const struct {
    const char *role, *owner; /* NULL: not pgwarden's */
} owner_rows[] = {
    {"superuser", "the superuser's Secret"},
    {"replication", "the replication user's Secret"},
    {"app", "the bootstrap owner's Secret"},
    {"pgbouncer", "the pooler's Secret"},
    {"exporter", "the metrics exporter's Secret"},
    {"server_tls", "the server certificate's Secret"},
    {"server-tls", "the server certificate's Secret"},
    {"ca", "the cluster CA's Secret"},
    {"pgbackrest_tls", "pgBackRest's TLS Secret"},
    {"analyst", NULL},
    {"superusers", NULL},
    {"pgbackrest", NULL}, /* a ConfigMap, not a Secret */
    {"", NULL},
    {NULL, NULL},
};

START_TEST(test_secret_owner)
{
    const char *got = pgw_role_secret_owner(owner_rows[_i].role);
    if (owner_rows[_i].owner == NULL)
        ck_assert_msg(got == NULL, "row %d: %s is pgwarden's: %s", _i, owner_rows[_i].role, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, owner_rows[_i].owner) == 0, "row %d: got %s", _i, got ? got : "NULL");
}
END_TEST

START_TEST(test_bootstrap_names)
{
    json_t *spec = q("{'bootstrap':{'initdb':{'owner':'shop','database':'orders'}}}");
    ck_assert_str_eq(pgw_bootstrap_owner(spec), "shop");
    ck_assert_str_eq(pgw_bootstrap_database(spec), "orders");
    json_decref(spec);
    /* a restore bootstrap, an empty owner, no spec: app */
    spec = q("{'bootstrap':{'restore':{'fromCluster':'old'}}}");
    ck_assert_str_eq(pgw_bootstrap_owner(spec), "app");
    ck_assert_str_eq(pgw_bootstrap_database(spec), "app");
    json_decref(spec);
    spec = q("{'bootstrap':{'initdb':{'owner':''}}}");
    ck_assert_str_eq(pgw_bootstrap_owner(spec), "app");
    json_decref(spec);
    ck_assert_str_eq(pgw_bootstrap_owner(NULL), "app");
}
END_TEST

START_TEST(test_ensure_present)
{
    static const struct {
        const char *item;
        int present;
    } rows[] = {{"{'name':'a'}", 1}, {"{'ensure':'present'}", 1}, {"{'ensure':'absent'}", 0}, {"{'ensure':'Absent'}", 1}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *item = q(rows[i].item);
        ck_assert_msg(pgw_ensure_present(item) == rows[i].present, "%s", rows[i].item);
        json_decref(item);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("role_names");
    TCase *tc = tcase_create("names");
    tcase_add_loop_test(tc, test_secret_name, 0, sizeof(secret_rows) / sizeof(secret_rows[0]));
    tcase_add_loop_test(tc, test_secret_owner, 0, sizeof(owner_rows) / sizeof(owner_rows[0]));
    tcase_add_test(tc, test_bootstrap_names);
    tcase_add_test(tc, test_ensure_present);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
