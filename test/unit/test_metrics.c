/*
 * The per-cluster backup series of common/metrics.c: what a scrape shows after
 * set, forget and a lost lease, which names are refused, and a full table; and
 * what the cluster reconcile exports from a PostgresCluster (reconcile_cluster_backups.c).
 */
#include "helpers.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "controller/reconcile/reconcile_cluster_backups.h"

static char *scrape(void)
{
    size_t len = 0;
    return pgw_metrics_render(&len);
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            ++n;
    return n;
}

static void reset(void)
{
    pgw_metrics_set_leader(0); /* clears the table */
    pgw_metrics_set_leader(1);
}

/* The API listener's series: requests by code class and one latency histogram. */
START_TEST(test_api_requests)
{
    pgw_metrics_observe_api(200, 0.002);
    pgw_metrics_observe_api(201, 0.004);
    pgw_metrics_observe_api(404, 0.0001);
    pgw_metrics_observe_api(503, 0.2);
    pgw_metrics_observe_api(0, 0.2);
    char *text = scrape();
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_requests_total{code=\"2xx\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_requests_total{code=\"4xx\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_requests_total{code=\"5xx\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_requests_total{code=\"other\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_requests_total{code=\"3xx\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_request_duration_seconds_count 5\n"));
    ck_assert_ptr_nonnull(strstr(text, "pgwarden_api_request_duration_seconds_bucket{le=\"0.0025\"} 2\n"));
    free(text);
}
END_TEST

START_TEST(test_set_and_forget)
{
    reset();
    pgw_metrics_set_last_backup("db", "shop", 1700000000);
    pgw_metrics_set_last_backup("db", "shop", 1700003600); /* moves, no second series */
    pgw_metrics_set_last_backup("other", "shop", 42);
    char *text = scrape();
    ck_assert_ptr_nonnull(strstr(text, "# TYPE pgwarden_cluster_last_backup_timestamp_seconds gauge\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\npgwarden_cluster_last_backup_timestamp_seconds{namespace=\"db\",cluster=\"shop\"} 1700003600\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\npgwarden_cluster_last_backup_timestamp_seconds{namespace=\"other\",cluster=\"shop\"} 42\n"));
    ck_assert_int_eq(count_lines(text, "pgwarden_cluster_last_backup_timestamp_seconds{"), 2);
    free(text);

    pgw_metrics_forget_cluster("db", "shop");
    pgw_metrics_forget_cluster("db", "never-seen"); /* harmless */
    text = scrape();
    ck_assert_ptr_null(strstr(text, "namespace=\"db\""));
    ck_assert_int_eq(count_lines(text, "pgwarden_cluster_last_backup_timestamp_seconds{"), 1);
    free(text);
}
END_TEST

START_TEST(test_lost_lease_clears)
{
    reset();
    pgw_metrics_set_last_backup("db", "shop", 1700000000);
    pgw_metrics_set_leader(0);
    char *text = scrape();
    ck_assert_int_eq(count_lines(text, "pgwarden_cluster_last_backup_timestamp_seconds{"), 0);
    ck_assert_ptr_nonnull(strstr(text, "\npgwarden_is_leader 0\n"));
    free(text);
}
END_TEST

/* Names that are not DNS labels would need escaping in the exposition format: refused, not printed. */
static const char *const bad_names[] = {
    NULL,   "",     "Shop", "a\"b",
    "a\\b", "a\nb", "a b",  "a-name-that-is-much-longer-than-sixty-three-characters-which-no-dns-label-is"};

START_TEST(test_bad_names_refused)
{
    reset();
    pgw_metrics_set_last_backup(bad_names[_i], "shop", 1);
    pgw_metrics_set_last_backup("db", bad_names[_i], 1);
    pgw_metrics_forget_cluster(bad_names[_i], "shop");
    char *text = scrape();
    ck_assert_int_eq(count_lines(text, "pgwarden_cluster_last_backup_timestamp_seconds{"), 0);
    free(text);
}
END_TEST

START_TEST(test_full_table_drops)
{
    reset();
    char name[32];
    for (int i = 0; i != PGW_METRICS_MAX_CLUSTERS + 3; ++i) {
        snprintf(name, sizeof(name), "c%d", i);
        pgw_metrics_set_last_backup("db", name, i);
    }
    char *text = scrape();
    ck_assert_int_eq(count_lines(text, "pgwarden_cluster_last_backup_timestamp_seconds{"), PGW_METRICS_MAX_CLUSTERS);
    ck_assert_ptr_nonnull(strstr(text, "\npgwarden_metrics_clusters_dropped_total 3\n"));
    ck_assert_ptr_null(strstr(text, "cluster=\"c512\""));
    free(text);
    /* a freed slot is reused */
    pgw_metrics_forget_cluster("db", "c0");
    pgw_metrics_set_last_backup("db", "c600", 600);
    text = scrape();
    ck_assert_ptr_nonnull(strstr(text, "{namespace=\"db\",cluster=\"c600\"} 600\n"));
    ck_assert_ptr_null(strstr(text, "cluster=\"c0\""));
    free(text);
}
END_TEST

/* status.lastBackup wins, the creation time stands in until the first backup; no repository, a
 * deletion or a gone cluster removes the series. Times are fixed literals (UTC epochs). */
static const struct {
    const char *cluster; /* JSON with ' for ", NULL: the cluster is gone */
    const char *value;   /* the exported value, NULL: no series */
} export_rows[] = {
    {"{'metadata':{'creationTimestamp':'2026-01-01T00:00:00Z'},'spec':{'backup':{'repository':{'volume':{}}}},"
     "'status':{'lastBackup':'2026-12-04T01:02:03Z'}}",
     "1796346123"},
    {"{'metadata':{'creationTimestamp':'2026-01-01T00:00:00Z'},'spec':{'backup':{'repository':{'volume':{}}}}}", "1767225600"},
    {"{'metadata':{'creationTimestamp':'2026-01-01T00:00:00Z'},'spec':{'backup':{'repository':{'volume':{}}}},"
     "'status':{'lastBackup':'yesterday'}}",
     "1767225600"},
    {"{'metadata':{'creationTimestamp':'2026-01-01T00:00:00Z'},'spec':{},'status':{'lastBackup':'2026-12-04T01:02:03Z'}}", NULL},
    {"{'metadata':{'creationTimestamp':'2026-01-01T00:00:00Z','deletionTimestamp':'2026-12-04T00:00:00Z'},"
     "'spec':{'backup':{'repository':{'volume':{}}}},'status':{'lastBackup':'2026-12-04T01:02:03Z'}}",
     NULL},
    {NULL, NULL},
};

START_TEST(test_cluster_export)
{
    reset();
    pgw_metrics_set_last_backup("db", "shop", 1); /* an earlier value the row replaces or removes */
    json_t *cluster = NULL;
    if (export_rows[_i].cluster != NULL) {
        char *text = strdup(export_rows[_i].cluster);
        for (char *p = text; *p; ++p)
            if (*p == '\'')
                *p = '"';
        cluster = json_loads(text, 0, NULL);
        free(text);
        ck_assert_ptr_nonnull(cluster);
    }
    pgw_cluster_backups_export_metric("db", "shop", cluster);
    char *scraped = scrape();
    char want[128];
    if (export_rows[_i].value != NULL) {
        snprintf(want, sizeof(want), "\npgwarden_cluster_last_backup_timestamp_seconds{namespace=\"db\",cluster=\"shop\"} %s\n",
                 export_rows[_i].value);
        ck_assert_msg(strstr(scraped, want) != NULL, "row %d: no line %s", _i, want);
    } else {
        ck_assert_int_eq(count_lines(scraped, "pgwarden_cluster_last_backup_timestamp_seconds{"), 0);
    }
    free(scraped);
    json_decref(cluster);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_api_requests);
    tcase_add_test(tc, test_set_and_forget);
    tcase_add_test(tc, test_lost_lease_clears);
    tcase_add_loop_test(tc, test_bad_names_refused, 0, sizeof(bad_names) / sizeof(bad_names[0]));
    tcase_add_test(tc, test_full_table_drops);
    tcase_add_loop_test(tc, test_cluster_export, 0, sizeof(export_rows) / sizeof(export_rows[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(metrics_suite());
}
