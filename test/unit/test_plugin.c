/*
 * The kubectl plugin's pure parts (cli/plugin_args.c, cli/plugin_status_view.c):
 * kubectl's global flags taken out of a command line, byte counts for people,
 * and the status screen from a fixture. test/fixtures/plugin/status.json holds
 * a 3-instance cluster read from the test bed in the middle of a rolling
 * update, its pods and Services (trimmed), with one replica made to lag 1.5 MiB and not be ready, a backup
 * Job's pod, and PostgresBackups of this cluster and of another; the expected
 * screen below was checked by hand against those objects.
 */
#include "helpers.h"

#include "cli/plugin.h"
#include "controller/decide/summary.h"

/* ---- global flags ----------------------------------------------------------------- */

static const struct {
    const char *in;   /* words, space-separated (argv[0] first) */
    const char *rest; /* what the command sees */
    const char *kubeconfig, *context, *ns, *output;
    int rc;
} global_rows[] = {
    {"kubectl-pgwarden status main", "kubectl-pgwarden status main", NULL, NULL, NULL, NULL, 0},
    {"kubectl-pgwarden status main -n shop", "kubectl-pgwarden status main", NULL, NULL, "shop", NULL, 0},
    {"kubectl-pgwarden -n shop status main", "kubectl-pgwarden status main", NULL, NULL, "shop", NULL, 0},
    {"kubectl-pgwarden status -nshop main", "kubectl-pgwarden status main", NULL, NULL, "shop", NULL, 0},
    {"kubectl-pgwarden status --namespace=shop main -o json", "kubectl-pgwarden status main", NULL, NULL, "shop", "json", 0},
    {"kubectl-pgwarden --context prod --kubeconfig /k status main --output json", "kubectl-pgwarden status main", "/k", "prod",
     NULL, "json", 0},
    {"kubectl-pgwarden status main -o=json -n=shop", "kubectl-pgwarden status main", NULL, NULL, "shop", "json", 0},
    {"kubectl-pgwarden --context=prod status main", "kubectl-pgwarden status main", NULL, "prod", NULL, NULL, 0},
    /* after "--" the words are psql's, even ones that look like ours */
    {"kubectl-pgwarden psql main -n shop -- -n x -o y --context z", "kubectl-pgwarden psql main -- -n x -o y --context z", NULL,
     NULL, "shop", NULL, 0},
    /* a command's own long flags that merely start alike are left alone */
    {"kubectl-pgwarden restore main --into new --instances 1", "kubectl-pgwarden restore main --into new --instances 1", NULL, NULL,
     NULL, NULL, 0},
    {"kubectl-pgwarden backup main --name nightly", "kubectl-pgwarden backup main --name nightly", NULL, NULL, NULL, NULL, 0},
    {"kubectl-pgwarden status main -n", NULL, NULL, NULL, NULL, NULL, -1},
    {"kubectl-pgwarden status main --context", NULL, NULL, NULL, NULL, NULL, -1},
    {"kubectl-pgwarden status main -o yaml", NULL, NULL, NULL, NULL, NULL, -1},
    {"kubectl-pgwarden status main -o wide", NULL, NULL, NULL, NULL, NULL, -1},
};

static void eq_or_null(const char *got, const char *want, const char *what, size_t row)
{
    if (want == NULL)
        ck_assert_msg(got == NULL, "row %zu %s: got \"%s\", want none", row, what, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, want) == 0, "row %zu %s: got \"%s\", want \"%s\"", row, what, got ? got : "(none)",
                      want);
}

START_TEST(global_flags)
{
    for (size_t r = 0; r != sizeof(global_rows) / sizeof(global_rows[0]); ++r) {
        char *copy = pgw_strdup(global_rows[r].in), *save = NULL, *argv[32];
        int argc = 0;
        for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
            argv[argc++] = w;
        argv[argc] = NULL;
        struct pgw_plugin_globals g;
        const char *err = NULL;
        int rc = pgw_plugin_take_globals(&argc, argv, &g, &err);
        ck_assert_msg(rc == global_rows[r].rc, "row %zu: rc %d", r, rc);
        if (rc != 0) {
            ck_assert_ptr_nonnull(err);
            free(copy);
            continue;
        }
        char joined[512] = "";
        for (int i = 0; i < argc; ++i)
            snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s", i ? " " : "", argv[i]);
        ck_assert_msg(argv[argc] == NULL, "row %zu: argv not terminated", r);
        eq_or_null(joined, global_rows[r].rest, "rest", r);
        eq_or_null(g.kubeconfig, global_rows[r].kubeconfig, "kubeconfig", r);
        eq_or_null(g.context, global_rows[r].context, "context", r);
        eq_or_null(g.namespace_, global_rows[r].ns, "namespace", r);
        eq_or_null(g.output, global_rows[r].output, "output", r);
        free(copy);
    }
}
END_TEST

START_TEST(bytes)
{
    static const struct {
        long long in;
        const char *out;
    } rows[] = {
        {0, "0 B"},
        {1023, "1023 B"},
        {1024, "1.0 KiB"},
        {1536, "1.5 KiB"},
        {1572864, "1.5 MiB"},
        {28311552, "27.0 MiB"},
        {5368709120LL, "5.0 GiB"},
        {3LL << 40, "3.0 TiB"},
        {5LL << 50, "5120.0 TiB"},
    };
    for (size_t r = 0; r != sizeof(rows) / sizeof(rows[0]); ++r) {
        char buf[32];
        ck_assert_str_eq(pgw_plugin_format_bytes(rows[r].in, buf, sizeof(buf)), rows[r].out);
    }
}
END_TEST

/* ---- the status screen -------------------------------------------------------------- */

static json_t *fixture(void)
{
    const char *src = getenv("PGW_SOURCE_DIR");
    char *path = pgw_asprintf("%s/test/fixtures/plugin/status.json", src ? src : "../..");
    json_error_t e;
    json_t *f = json_load_file(path, 0, &e);
    ck_assert_msg(f != NULL, "%s: %s", path, e.text);
    free(path);
    return f;
}

static json_t *summary_of(const json_t *f, const char *leader)
{
    return pgw_cluster_summary(json_object_get(f, "cluster"), leader, json_object_get(f, "pods"), json_object_get(f, "services"),
                               json_object_get(f, "backups"));
}

START_TEST(status_summary)
{
    json_t *f = fixture();
    json_t *s = summary_of(f, json_string_value(json_object_get(f, "leader")));
    ck_assert_str_eq(json_string_value(json_object_get(s, "name")), "demo");
    ck_assert_str_eq(json_string_value(json_object_get(s, "phase")), "Upgrading"); /* read mid-roll */
    ck_assert_int_eq(json_integer_value(json_object_get(s, "postgresVersion")), 15);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "desiredInstances")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "readyInstances")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(s, "primary")), "demo-1");
    json_t *inst = json_object_get(s, "instances");
    ck_assert_uint_eq(json_array_size(inst), 3); /* the backup Job's pod is not an instance */
    static const struct {
        const char *name, *role, *state;
        int ready;
        long long lag, restarts;
    } want[] = {
        {"demo-0", "replica", "streaming", 1, 0, 0},
        {"demo-1", "primary", "running", 1, 0, 0},
        {"demo-2", "replica", "streaming", 0, 1572864, 2},
    };
    for (size_t i = 0; i != 3; ++i) {
        json_t *e = json_array_get(inst, i);
        ck_assert_str_eq(json_string_value(json_object_get(e, "name")), want[i].name);
        ck_assert_str_eq(json_string_value(json_object_get(e, "role")), want[i].role);
        ck_assert_str_eq(json_string_value(json_object_get(e, "state")), want[i].state);
        ck_assert_int_eq(json_is_true(json_object_get(e, "ready")), want[i].ready);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "lagBytes")), want[i].lag);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "timeline")), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "restarts")), want[i].restarts);
    }
    json_t *svc = json_object_get(s, "services");
    ck_assert_uint_eq(json_array_size(svc), 4); /* demo-config is Patroni's */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(svc, 0), "name")), "demo");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(svc, 1), "role")), "read-only");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(svc, 0), "host")), "demo.default.svc");
    json_t *b = json_object_get(s, "backups");
    ck_assert_uint_eq(json_array_size(b), 2); /* not other's */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(b, 0), "name")), "demo-incr-20261204233000");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(b, 1), "sizeBytes")), 28311552);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "connection"), "secret")), "demo-app");
    json_decref(s);

    /* Without the leader key, status.primary and the role labels agree on demo-1. A leader key naming
     * demo-0 (a switchover Patroni made before any label changed) wins, and the lag is measured from it. */
    s = summary_of(f, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(s, "primary")), "demo-1");
    json_decref(s);
    s = summary_of(f, "demo-0");
    ck_assert_str_eq(json_string_value(json_object_get(s, "primary")), "demo-0");
    json_t *first = json_array_get(json_object_get(s, "instances"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "demo-0");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "lagBytes")), 0);
    json_decref(s);
    json_decref(f);
}
END_TEST

static const char expected_screen[] =
    "Cluster:    demo (namespace default)\n"
    "Phase:      Upgrading\n"
    "Postgres:   15\n"
    "Primary:    demo-1\n"
    "Instances:  2/3 ready\n"
    "Connect:    host=demo.default.svc port=5432 dbname=app (user and password: Secret demo-app)\n"
    "Last backup: 2026-12-04T23:20:41Z\n"
    "\n"
    "INSTANCE   ROLE      READY   STATE       TIMELINE   LAG       NODE             IP\n"
    "demo-0     replica   true    streaming   3          0 B       testbed-node-3   10.88.0.14\n"
    "demo-1     primary   true    running     3          -         testbed-node-1   10.88.0.3\n"
    "demo-2     replica   false   streaming   3          1.5 MiB   testbed-node-2   10.88.0.13\n"
    "\n"
    "SERVICE     ROLE         HOST                    PORTS\n"
    "demo        read-write   demo.default.svc        5432/postgres,6432/pgbouncer\n"
    "demo-ro     read-only    demo-ro.default.svc     5432/postgres,6432/pgbouncer\n"
    "demo-r      any          demo-r.default.svc      5432/postgres,6432/pgbouncer\n"
    "demo-pods   instances    demo-pods.default.svc   5432/postgres,6432/pgbouncer\n"
    "\n"
    "BACKUP                     TYPE   PHASE       SIZE       STARTED                COMPLETED\n"
    "demo-incr-20261204233000   incr   Running                2026-12-04T23:30:01Z\n"
    "demo-full-20261204232000   full   Succeeded   27.0 MiB   2026-12-04T23:20:02Z   2026-12-04T23:20:41Z\n"
    "\n"
    "CONDITION          STATUS   REASON              MESSAGE\n"
    "Valid              True     Valid               the spec passed defaulting and validation\n"
    "Ready              False    InstancesNotReady   2/3 instances ready\n"
    "SidecarsInjected   True     Injected            every pod carries the expected sidecars\n"
    "Upgrading          True     Waiting             2/3 instances updated; waiting for demo-0 to be ready\n"
    "Progressing        True     RollingUpdate       2/3 instances updated; waiting for demo-0 to be ready\n"
    "BackupReady        False    NoRepository        spec.backup.repository is not set\n";

START_TEST(status_screen)
{
    json_t *f = fixture();
    json_t *s = summary_of(f, "demo-1");
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    pgw_plugin_status_print(fp, s);
    fclose(fp);
    ck_assert_str_eq(text, expected_screen);
    free(text);
    json_decref(s);

    /* A cluster just created: no status, no pods, no Services, no backups. */
    json_t *fresh = q("{'metadata':{'name':'new','namespace':'shop'},'spec':{'postgresVersion':18,'instances':3}}");
    json_t *none = json_array();
    s = pgw_cluster_summary(fresh, NULL, none, none, none);
    fp = open_memstream(&text, &len);
    pgw_plugin_status_print(fp, s);
    fclose(fp);
    ck_assert_str_eq(text, "Cluster:    new (namespace shop)\n"
                           "Phase:      Pending\n"
                           "Postgres:   18\n"
                           "Primary:    none\n"
                           "Instances:  0/3 ready\n"
                           "Connect:    host=new.shop.svc port=5432 dbname=app (user and password: Secret new-app)\n"
                           "\n"
                           "No instances yet.\n"
                           "\n"
                           "No backups.\n");
    free(text);
    json_decref(s);
    json_decref(none);
    json_decref(fresh);
    json_decref(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, global_flags);
    tcase_add_test(tc, bytes);
    tcase_add_test(tc, status_summary);
    tcase_add_test(tc, status_screen);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
