/*
 * Backup Jobs, CronJobs, the stanza-create Job, restore command lines and the
 * restored cluster (specs/render_backup.c).
 */
#include "helpers.h"

#include "common/config.h"
#include "controller/reconcile/apply.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_backup.h"
#include "specs/render_pgbackrest.h"

static struct pgw_config cfg;

static const char cluster_text[] =
    "{'metadata':{'name':'demo','namespace':'db','uid':'u-1'},'spec':{'postgresVersion':16,'instances':3,"
    "'image':'reg/pg:16.4','storage':{'size':'10Gi','storageClass':'fast'},'resources':{'limits':{'memory':'1Gi'}},"
    "'tls':{'secretName':'demo-cert'},'deletionProtection':true,"
    "'bootstrap':{'initdb':{'database':'app','owner':'app'}},"
    "'backup':{'repository':{'s3':{'bucket':'bk1','endpoint':'e','region':'r','credentialsSecret':'s3c'}},"
    "'path':'/team/demo','retention':{'full':2,'fullType':'count','diff':6},"
    "'schedules':[{'name':'nightly','schedule':'0 3 * * *','type':'full'},{'name':'hourly','schedule':'@hourly','type':'incr'}]}}}";

static char *args_text(json_t *args)
{
    char *s = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    return s;
}

/* {target JSON or NULL, repo path, label, expected argv (JSON, ' quotes) or NULL for an error} */
static const struct {
    const char *target;
    const char *repo_path;
    const char *label;
    const char *expected;
} restore_cases[] = {
    {NULL, NULL, NULL, "['pgbackrest','--config=/c','--stanza=db','restore']"},
    {"{}", "/db/src", NULL, "['pgbackrest','--config=/c','--stanza=db','--repo1-path=/db/src','restore']"},
    {"{'time':'2025-01-31T12:00:00Z'}", NULL, NULL,
     "['pgbackrest','--config=/c','--stanza=db','--type=time','--target=2025-01-31 12:00:00+00',"
     "'--target-action=promote','restore']"},
    /* Offsets become UTC; fractional seconds are kept. */
    {"{'time':'2025-01-31T14:30:05.25+02:00'}", NULL, NULL,
     "['pgbackrest','--config=/c','--stanza=db','--type=time','--target=2025-01-31 12:30:05.25+00',"
     "'--target-action=promote','restore']"},
    {"{'lsn':'0/16b3748'}", NULL, "20250131-120000F",
     "['pgbackrest','--config=/c','--stanza=db','--set=20250131-120000F','--type=lsn','--target=0/16B3748',"
     "'--target-action=promote','restore']"},
    {"{'xid':1234}", NULL, NULL,
     "['pgbackrest','--config=/c','--stanza=db','--type=xid','--target=1234','--target-action=promote','restore']"},
    {"{'name':'before-migration'}", NULL, NULL,
     "['pgbackrest','--config=/c','--stanza=db','--type=name','--target=before-migration',"
     "'--target-action=promote','restore']"},
    {"{'immediate':true}", NULL, NULL,
     "['pgbackrest','--config=/c','--stanza=db','--type=immediate','--target-action=promote','restore']"},
    {"{'immediate':false}", NULL, NULL, "['pgbackrest','--config=/c','--stanza=db','restore']"},
    /* Refused */
    {"{'time':'yesterday'}", NULL, NULL, NULL},
    {"{'lsn':'16B3748'}", NULL, NULL, NULL},
    {"{'xid':0}", NULL, NULL, NULL},
    {"{'xid':'12'}", NULL, NULL, NULL},
    {"{'name':''}", NULL, NULL, NULL},
    {"{'immediate':'yes'}", NULL, NULL, NULL},
    {"{'lsn':'0/1','xid':5}", NULL, NULL, NULL},
    {"[1]", NULL, NULL, NULL},
    {NULL, "/a\nb", NULL, NULL},
};

START_TEST(restore_command_lines)
{
    json_t *target = restore_cases[_i].target ? q(restore_cases[_i].target) : NULL;
    struct pgw_restore_params p = {
        .config_path = "/c", .repo_path = restore_cases[_i].repo_path, .backup_label = restore_cases[_i].label, .target = target};
    char *err = NULL;
    json_t *args = pgw_render_restore_args(&p, &err);
    if (restore_cases[_i].expected == NULL) {
        ck_assert_msg(args == NULL, "case %d: accepted", _i);
        ck_assert_ptr_nonnull(err);
        free(err);
    } else {
        ck_assert_msg(args != NULL, "case %d: %s", _i, err ? err : "");
        char *got = args_text(args), *want = args_text(q(restore_cases[_i].expected));
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
    }
    json_decref(target);
}
END_TEST

START_TEST(backup_command_lines)
{
    static const char *const rows[][3] = {
        {"backup", "full", "['pgbackrest','--config=/e/p.conf','--stanza=db','--type=full','backup']"},
        {"backup", "diff", "['pgbackrest','--config=/e/p.conf','--stanza=db','--type=diff','backup']"},
        {"backup", "incr", "['pgbackrest','--config=/e/p.conf','--stanza=db','--type=incr','backup']"},
        {"stanza", NULL, "['pgbackrest','--config=/e/p.conf','--stanza=db','stanza-create']"},
        {"info", NULL, "['pgbackrest','--config=/e/p.conf','--stanza=db','--output=json','info']"},
    };
    for (size_t k = 0; k != sizeof(rows) / sizeof(rows[0]); ++k) {
        json_t *a = strcmp(rows[k][0], "backup") == 0   ? pgw_render_backup_args("/e/p.conf", rows[k][1])
                    : strcmp(rows[k][0], "stanza") == 0 ? pgw_render_stanza_create_args("/e/p.conf")
                                                        : pgw_render_info_args("/e/p.conf");
        char *got = args_text(a), *want = args_text(q(rows[k][2]));
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
    }
}
END_TEST

static const char *str_at(json_t *root, const char *const *path)
{
    json_t *n = root;
    for (; *path != NULL && n != NULL; ++path)
        n = json_is_array(n) ? json_array_get(n, (size_t)atoi(*path)) : json_object_get(n, *path);
    return json_string_value(n);
}

static json_t *pod_spec_of_job_spec(json_t *job_spec)
{
    return json_object_get(json_object_get(job_spec, "template"), "spec");
}

/* Checks what every backup-side pod spec must hold; returns the container. */
static json_t *check_pod(json_t *pod)
{
    ck_assert_str_eq(json_string_value(json_object_get(pod, "restartPolicy")), "Never");
    ck_assert(json_is_false(json_object_get(pod, "automountServiceAccountToken")));
    ck_assert(json_is_true(json_object_get(json_object_get(pod, "securityContext"), "runAsNonRoot")));
    json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
    json_t *sc = json_object_get(c, "securityContext");
    ck_assert(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    ck_assert(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
    ck_assert(json_is_true(json_object_get(sc, "runAsNonRoot")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(sc, "capabilities"), "drop"), 0)), "ALL");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(sc, "seccompProfile"), "type")), "RuntimeDefault");
    ck_assert_str_eq(json_string_value(json_object_get(c, "image")), cfg.pgbackrest.image);
    /* Credentials by secretKeyRef only. */
    json_t *env = json_object_get(c, "env");
    ck_assert_int_eq(json_array_size(env), 2);
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        ck_assert_ptr_null(json_object_get(e, "value"));
        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef"), "name")), "s3c");
    }
    /* The job side of the ConfigMap, mounted as pgbackrest.conf, and the client pair. */
    json_t *vol = json_array_get(json_object_get(pod, "volumes"), 0);
    const char *const cm_key[] = {"projected", "sources", "0", "configMap", "items", "0", "key", NULL};
    const char *const cm_path[] = {"projected", "sources", "0", "configMap", "items", "0", "path", NULL};
    const char *const cm_name[] = {"projected", "sources", "0", "configMap", "name", NULL};
    const char *const tls_name[] = {"projected", "sources", "1", "secret", "name", NULL};
    ck_assert_str_eq(str_at(vol, cm_key), PGW_KEY_PGBACKREST_JOB_CONF);
    ck_assert_str_eq(str_at(vol, cm_path), PGW_KEY_PGBACKREST_CONF);
    ck_assert_str_eq(str_at(vol, cm_name), "demo-pgbackrest");
    ck_assert_str_eq(str_at(vol, tls_name), "demo-pgbackrest-tls");
    const char *const tmp[] = {"volumes", "1", "name", NULL};
    ck_assert_str_eq(str_at(pod, tmp), PGW_POD_VOLUME_TMP);
    return c;
}

START_TEST(backup_job)
{
    json_t *cluster = q(cluster_text);
    json_t *backup = q("{'metadata':{'name':'before-upgrade','namespace':'db','uid':'b-9'},"
                       "'spec':{'cluster':'demo','type':'diff'}}");
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *job = pgw_render_backup_job(backup, cluster, &ctx);
    const char *const kind[] = {"kind", NULL}, *const name[] = {"metadata", "name", NULL};
    const char *const owner_kind[] = {"metadata", "ownerReferences", "0", "kind", NULL};
    const char *const owner_uid[] = {"metadata", "ownerReferences", "0", "uid", NULL};
    const char *const label[] = {"metadata", "labels", PGW_LABEL_BACKUP, NULL};
    const char *const cluster_label[] = {"metadata", "labels", PGW_POD_LABEL_CLUSTER, NULL};
    const char *const pod_label[] = {"spec", "template", "metadata", "labels", PGW_LABEL_BACKUP, NULL};
    ck_assert_str_eq(str_at(job, kind), "Job");
    ck_assert_str_eq(str_at(job, name), "before-upgrade");
    ck_assert_str_eq(str_at(job, owner_kind), "PostgresBackup");
    ck_assert_str_eq(str_at(job, owner_uid), "b-9");
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(job, "metadata"), "ownerReferences")), 1);
    ck_assert_str_eq(str_at(job, label), "before-upgrade");
    ck_assert_str_eq(str_at(job, cluster_label), "demo");
    ck_assert_str_eq(str_at(job, pod_label), "before-upgrade");
    json_t *spec = json_object_get(job, "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "backoffLimit")), PGW_BACKUP_BACKOFF_LIMIT);
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "activeDeadlineSeconds")), PGW_BACKUP_ACTIVE_DEADLINE_SECONDS);
    json_t *c = check_pod(pod_spec_of_job_spec(spec));
    json_t *cmd = json_object_get(c, "command");
    ck_assert_str_eq(json_string_value(json_array_get(cmd, 0)), "/bin/sh");
    char *script = pgw_render_backup_script("/etc/pgbackrest/pgbackrest.conf", "diff", PGW_BACKUP_TERMINATION_PATH);
    ck_assert_str_eq(json_string_value(json_array_get(cmd, 2)), script);
    static const char *const parts[] = {
        "set -e\n", "pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db --type=diff backup\n",
        "label=$(pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db --output=json info | sed ",
        "pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=db --output=json --set=\"$label\" info)\n",
        "> /dev/termination-log\n"};
    for (size_t k = 0; k != sizeof(parts) / sizeof(parts[0]); ++k)
        ck_assert_msg(strstr(script, parts[k]) != NULL, "missing %s in %s", parts[k], script);
    free(script);
    ck_assert_str_eq(json_string_value(json_object_get(c, "terminationMessagePath")), "/dev/termination-log");
    ck_assert_str_eq(json_string_value(json_object_get(c, "terminationMessagePolicy")), "FallbackToLogsOnError");
    /* The Job carries the cluster label, its pods do not (it selects database pods). */
    json_t *tlabels = json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels");
    ck_assert_ptr_null(json_object_get(tlabels, PGW_POD_LABEL_CLUSTER));
    ck_assert_str_eq(json_string_value(json_object_get(tlabels, "app.kubernetes.io/instance")), "demo");
    json_decref(job);
    json_decref(backup);
    json_decref(cluster);
}
END_TEST

START_TEST(stanza_job_and_cronjobs)
{
    json_t *cluster = q(cluster_text);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *job = pgw_render_stanza_job(cluster, &ctx);
    const char *const name[] = {"metadata", "name", NULL}, *const owner[] = {"metadata", "ownerReferences", "0", "kind", NULL};
    ck_assert_str_eq(str_at(job, name), "demo-stanza-create");
    ck_assert_str_eq(str_at(job, owner), "PostgresCluster");
    json_t *c = check_pod(pod_spec_of_job_spec(json_object_get(job, "spec")));
    char *cmd = json_dumps(json_object_get(c, "command"), JSON_COMPACT);
    ck_assert_str_eq(cmd, "[\"pgbackrest\",\"--config=/etc/pgbackrest/pgbackrest.conf\",\"--stanza=db\",\"stanza-create\"]");
    free(cmd);
    json_decref(job);

    json_t *out = json_array();
    pgw_render_backup_cronjobs(cluster, &ctx, out);
    ck_assert_int_eq(json_array_size(out), 2);
    static const char *const rows[][3] = {{"demo-backup-nightly", "0 3 * * *", "--type=full"},
                                          {"demo-backup-hourly", "@hourly", "--type=incr"}};
    for (size_t k = 0; k != 2; ++k) {
        json_t *cj = json_array_get(out, k);
        json_t *spec = json_object_get(cj, "spec");
        ck_assert_str_eq(str_at(cj, name), rows[k][0]);
        ck_assert_str_eq(str_at(cj, owner), "PostgresCluster");
        ck_assert_str_eq(json_string_value(json_object_get(spec, "schedule")), rows[k][1]);
        ck_assert_str_eq(json_string_value(json_object_get(spec, "concurrencyPolicy")), "Forbid");
        ck_assert_int_eq(json_integer_value(json_object_get(spec, "startingDeadlineSeconds")),
                         PGW_BACKUP_STARTING_DEADLINE_SECONDS);
        ck_assert_int_eq(json_integer_value(json_object_get(spec, "successfulJobsHistoryLimit")), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(spec, "failedJobsHistoryLimit")), 3);
        json_t *jc = check_pod(pod_spec_of_job_spec(json_object_get(json_object_get(spec, "jobTemplate"), "spec")));
        ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(json_object_get(jc, "command"), 2)), rows[k][2]));
    }
    json_decref(out);

    /* Without a repository: no Jobs, no CronJobs. */
    json_object_del(json_object_get(cluster, "spec"), "backup");
    ck_assert_ptr_null(pgw_render_stanza_job(cluster, &ctx));
    out = json_array();
    pgw_render_backup_cronjobs(cluster, &ctx, out);
    ck_assert_int_eq(json_array_size(out), 0);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

/* {restore spec (' quotes), expected bootstrap, expected instances} */
static const struct {
    const char *restore_spec;
    const char *bootstrap;
    int instances;
} restore_cluster_cases[] = {
    {"{'source':{'cluster':'demo'},'newCluster':{'name':'demo2'}}", "{'restore':{'fromCluster':'demo'}}", 3},
    {"{'source':{'cluster':'demo','backup':'nightly-1'},'target':{'time':'2025-01-31T12:00:00Z'},"
     "'newCluster':{'name':'demo2','instances':1,'storage':{'size':'20Gi'}}}",
     "{'restore':{'fromCluster':'demo','backup':'nightly-1','target':{'time':'2025-01-31T12:00:00Z'}}}", 1},
    {"{'source':{'cluster':'demo'},'target':{'immediate':false},'newCluster':{'name':'demo2'}}",
     "{'restore':{'fromCluster':'demo'}}", 3},
};

/* Priming lists exactly the kinds the renderer emits, by the label every child carries: the kinds of an
 * object-store cluster and of one with a volume repository (its claim), together. */
START_TEST(priming_covers_every_rendered_kind)
{
    static const char volume_text[] = "{'metadata':{'name':'vol','namespace':'db','uid':'u-2'},'spec':{'postgresVersion':16,"
                                      "'instances':1,'storage':{'size':'1Gi'},'backup':{'repository':{'volume':{'size':'2Gi'}}}}}";
    const char *const texts[] = {cluster_text, volume_text};
    struct pgw_render_ctx ctx = {.config = &cfg};
    int listed[16] = {0};
    size_t n = 0;
    while (pgw_apply_child_kinds[n] != NULL)
        ++n;
    ck_assert_uint_le(n, sizeof(listed) / sizeof(listed[0]));
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); ++t) {
        json_t *cluster = q(texts[t]);
        json_t *children = pgw_render_cluster(cluster, &ctx);
        size_t i;
        json_t *child;
        json_array_foreach(children, i, child)
        {
            const char *kind = json_string_value(json_object_get(child, "kind"));
            const char *managed_by = json_string_value(
                json_object_get(json_object_get(json_object_get(child, "metadata"), "labels"), "app.kubernetes.io/managed-by"));
            ck_assert_msg(managed_by != NULL && strcmp(managed_by, "pgwarden") == 0, "%s without the managed-by label", kind);
            size_t k = 0;
            while (k < n && strcmp(pgw_apply_child_kinds[k], kind) != 0)
                ++k;
            ck_assert_msg(k < n, "%s is rendered but not primed", kind);
            listed[k] = 1;
        }
        json_decref(children);
        json_decref(cluster);
    }
    for (size_t k = 0; k < n; ++k)
        ck_assert_msg(listed[k], "%s is primed but never rendered", pgw_apply_child_kinds[k]);
}
END_TEST

START_TEST(restore_cluster)
{
    json_t *source = q(cluster_text);
    char *rtext = pgw_asprintf("{'apiVersion':'pgwarden.io/v1','kind':'PostgresRestore','metadata':{'name':'r1',"
                               "'namespace':'db'},'spec':%s}",
                               restore_cluster_cases[_i].restore_spec);
    json_t *restore = q(rtext);
    free(rtext);
    json_t *c = pgw_render_restore_cluster(restore, source);
    const char *const kind[] = {"kind", NULL}, *const name[] = {"metadata", "name", NULL};
    const char *const ns[] = {"metadata", "namespace", NULL};
    const char *const label[] = {"metadata", "labels", PGW_LABEL_RESTORE, NULL};
    const char *const from[] = {"metadata", "annotations", PGW_ANNOTATION_RESTORED_FROM, NULL};
    const char *const path[] = {"spec", "backup", "path", NULL}, *const image[] = {"spec", "image", NULL};
    const char *const bucket[] = {"spec", "backup", "repository", "s3", "bucket", NULL};
    ck_assert_str_eq(str_at(c, kind), "PostgresCluster");
    ck_assert_str_eq(str_at(c, name), "demo2");
    ck_assert_str_eq(str_at(c, ns), "db");
    ck_assert_str_eq(str_at(c, label), "r1");
    ck_assert_str_eq(str_at(c, from), "demo");
    ck_assert_ptr_null(json_object_get(json_object_get(c, "metadata"), "ownerReferences"));
    json_t *spec = json_object_get(c, "spec");
    /* The source's spec is carried over ... */
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "postgresVersion")), 16);
    ck_assert_str_eq(str_at(c, image), "reg/pg:16.4");
    ck_assert_str_eq(str_at(c, bucket), "bk1");
    ck_assert(json_is_true(json_object_get(spec, "deletionProtection")));
    /* ... but never its backup path, its certificate or its bootstrap. */
    ck_assert_str_eq(str_at(c, path), "/db/demo2");
    ck_assert_ptr_null(json_object_get(spec, "tls"));
    json_t *want = q(restore_cluster_cases[_i].bootstrap);
    ck_assert_msg(json_equal(json_object_get(spec, "bootstrap"), want), "case %d: bootstrap", _i);
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "instances")), restore_cluster_cases[_i].instances);
    /* The source object is not modified. */
    const char *const src_path[] = {"spec", "backup", "path", NULL};
    ck_assert_str_eq(str_at(source, src_path), "/team/demo");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(source, "spec"), "tls"));
    json_decref(want);
    json_decref(c);
    json_decref(restore);
    json_decref(source);
}
END_TEST

int main(void)
{
    pgw_config_init_defaults(&cfg);
    Suite *s = suite_create("render_backup");
    TCase *tc = tcase_create("render_backup");
    tcase_add_loop_test(tc, restore_command_lines, 0, sizeof(restore_cases) / sizeof(restore_cases[0]));
    tcase_add_test(tc, backup_command_lines);
    tcase_add_test(tc, backup_job);
    tcase_add_test(tc, stanza_job_and_cronjobs);
    tcase_add_test(tc, priming_covers_every_rendered_kind);
    tcase_add_loop_test(tc, restore_cluster, 0, sizeof(restore_cluster_cases) / sizeof(restore_cluster_cases[0]));
    suite_add_tcase(s, tc);
    int rc = pgw_run_suite(s);
    pgw_config_dispose(&cfg);
    return rc;
}
