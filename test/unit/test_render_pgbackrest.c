/*
 * pgbackrest.conf rendering (specs/render_pgbackrest.c): every repository
 * type, retention, the TLS server and pg hosts, and no credentials in the
 * ConfigMap.
 */
#include "helpers.h"

#include "common/config.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_pgbackrest.h"

static const char base_cluster[] =
    "{'metadata':{'name':'demo','namespace':'db','uid':'u-1'},'spec':{'postgresVersion':17,'instances':2,"
    "'storage':{'size':'10Gi'},'bootstrap':{'initdb':{'database':'app','owner':'app'}}}}";

/* The cluster with spec.backup = `backup` (JSON with ' quotes). */
static json_t *cluster_with(const char *backup)
{
    json_t *c = q(base_cluster);
    if (backup != NULL)
        json_object_set_new(json_object_get(c, "spec"), "backup", q(backup));
    return c;
}

struct conf_case {
    const char *backup;
    const char *present[8];
    const char *absent[4];
};

static const struct conf_case conf_cases[] = {
    {"{'repository':{'s3':{'bucket':'b1','endpoint':'s3.eu-west-1.amazonaws.com','region':'eu-west-1',"
     "'uriStyle':'path','credentialsSecret':'s3creds'}},'path':'/db/demo'}",
     {"repo1-type=s3\n", "repo1-path=/db/demo\n", "repo1-s3-bucket=b1\n", "repo1-s3-endpoint=s3.eu-west-1.amazonaws.com\n",
      "repo1-s3-region=eu-west-1\n", "repo1-s3-uri-style=path\n", "repo1-s3-key-type=shared\n"},
     {"repo1-s3-port", "s3creds", "repo1-cipher-type"}},
    /* Endpoint with scheme, port and trailing slash; uriStyle defaults to host. */
    {"{'repository':{'s3':{'bucket':'b1','endpoint':'https://minio.local:9000/','region':'us-east-1',"
     "'credentialsSecret':'c'}},'path':'/x'}",
     {"repo1-s3-endpoint=minio.local\n", "repo1-s3-port=9000\n", "repo1-s3-uri-style=host\n"},
     {"https://", "minio.local:9000"}},
    {"{'repository':{'gcs':{'bucket':'gb','credentialsSecret':'gcreds'}},'path':'/p/q'}",
     {"repo1-type=gcs\n", "repo1-path=/p/q\n", "repo1-gcs-bucket=gb\n", "repo1-gcs-key-type=service\n"},
     {"gcreds", "repo1-gcs-key="}},
    {"{'repository':{'azure':{'account':'acct1','container':'cont-1','credentialsSecret':'az'}},'path':'/a'}",
     {"repo1-type=azure\n", "repo1-azure-account=acct1\n", "repo1-azure-container=cont-1\n", "repo1-azure-key-type=shared\n",
      "repo1-path=/a\n"},
     {"az\n", "repo1-azure-key="}},
    /* A volume repository lives under the repository mount. */
    {"{'repository':{'volume':{'size':'5Gi'}},'path':'/db/demo'}",
     {"repo1-type=posix\n", "repo1-path=" PGW_PGBACKREST_REPO_MOUNT "/db/demo\n"},
     {"repo1-s3", "repo1-gcs"}},
    /* Defaults: path /<namespace>/<cluster>, retention 2 count / 6 diff. */
    {"{'repository':{'volume':{'size':'5Gi'}}}",
     {"repo1-path=" PGW_PGBACKREST_REPO_MOUNT "/db/demo\n", "repo1-retention-full=2\n", "repo1-retention-full-type=count\n",
      "repo1-retention-diff=6\n"},
     {NULL}},
    {"{'repository':{'volume':{'size':'5Gi'}},'retention':{'full':7,'fullType':'time','diff':3}}",
     {"repo1-retention-full=7\n", "repo1-retention-full-type=time\n", "repo1-retention-diff=3\n"},
     {"repo1-retention-full=2\n"}},
    /* Encryption: the cipher type in the file, the passphrase only in the environment. */
    {"{'repository':{'volume':{'size':'5Gi'}},'encryptionSecret':'enc'}",
     {"repo1-cipher-type=aes-256-cbc\n"},
     {"repo1-cipher-pass", "enc\n"}},
};

START_TEST(instance_conf_per_repository)
{
    const struct conf_case *c = &conf_cases[_i];
    json_t *cluster = cluster_with(c->backup);
    char *conf = pgw_render_pgbackrest_conf(cluster, NULL);
    char *job = pgw_render_pgbackrest_job_conf(cluster, NULL);
    ck_assert_ptr_nonnull(conf);
    ck_assert_ptr_nonnull(job);
    for (size_t k = 0; k < 8 && c->present[k] != NULL; ++k) {
        ck_assert_msg(strstr(conf, c->present[k]) != NULL, "case %d: instance conf lacks %s\n%s", _i, c->present[k], conf);
        ck_assert_msg(strstr(job, c->present[k]) != NULL, "case %d: job conf lacks %s\n%s", _i, c->present[k], job);
    }
    for (size_t k = 0; k < 4 && c->absent[k] != NULL; ++k) {
        ck_assert_msg(strstr(conf, c->absent[k]) == NULL, "case %d: instance conf has %s", _i, c->absent[k]);
        ck_assert_msg(strstr(job, c->absent[k]) == NULL, "case %d: job conf has %s", _i, c->absent[k]);
    }
    free(conf);
    free(job);
    json_decref(cluster);
}
END_TEST

START_TEST(no_repository_no_conf)
{
    json_t *cluster = cluster_with(NULL);
    ck_assert_ptr_null(pgw_render_pgbackrest_conf(cluster, NULL));
    ck_assert_ptr_null(pgw_render_pgbackrest_job_conf(cluster, NULL));
    ck_assert_ptr_null(pgw_render_pgbackrest_repo_path(cluster, NULL));
    ck_assert_ptr_null(pgw_render_pgbackrest_repo_claim(cluster));
    json_t *env = pgw_render_pgbackrest_env(cluster);
    ck_assert_int_eq(json_array_size(env), 0);
    json_decref(env);
    json_decref(cluster);
}
END_TEST

/* Lines that hold for every repository, on one side or the other (1 = instance, 2 = job, 3 = both). */
static const struct {
    const char *line;
    int sides;
} common_lines[] = {
    {"[global]\n", 3},
    {"compress-type=zst\n", 3},
    {"process-max=2\n", 3},
    {"start-fast=y\n", 3},
    {"lock-path=" PGW_POD_PGBACKREST_LOCK_DIR "\n", 3},
    {"log-level-file=off\n", 3},
    {"log-level-console=info\n", 3},
    {"\n[db]\n", 3},
    {"archive-async=y\n", 1},
    {"spool-path=/tmp/pgbackrest/spool\n", 1},
    {"tls-server-address=*\n", 1},
    {"tls-server-port=8432\n", 1},
    {"tls-server-cert-file=/etc/pgbackrest/tls.crt\n", 1},
    {"tls-server-key-file=/etc/pgbackrest/tls.key\n", 1},
    {"tls-server-ca-file=/etc/pgbackrest/ca.crt\n", 1},
    {"tls-server-auth=pgwarden-backup=db\n", 1},
    {"pg1-path=" PGW_POD_PGDATA_DIR "\n", 3},
    {"pg1-socket-path=" PGW_POD_SOCKET_DIR "\n", 3},
    {"pg1-port=5432\n", 3},
    {"pg1-host=demo-0.demo-pods\n", 2},
    {"pg2-host=demo-1.demo-pods\n", 2},
    {"pg1-host-type=tls\n", 2},
    {"pg2-host-type=tls\n", 2},
    {"pg1-host-port=8432\n", 2},
    {"pg1-host-ca-file=/etc/pgbackrest/ca.crt\n", 2},
    {"pg1-host-cert-file=/etc/pgbackrest/client.crt\n", 2},
    {"pg1-host-key-file=/etc/pgbackrest/client.key\n", 2},
    {"pg2-path=" PGW_POD_PGDATA_DIR "\n", 2},
    {"pg3-host", 0}, /* two instances, two hosts */
};

START_TEST(common_settings_by_side)
{
    json_t *cluster = cluster_with("{'repository':{'volume':{'size':'1Gi'}}}");
    char *conf = pgw_render_pgbackrest_conf(cluster, NULL), *job = pgw_render_pgbackrest_job_conf(cluster, NULL);
    for (size_t k = 0; k != sizeof(common_lines) / sizeof(common_lines[0]); ++k) {
        int in_conf = strstr(conf, common_lines[k].line) != NULL, in_job = strstr(job, common_lines[k].line) != NULL;
        ck_assert_msg(in_conf == ((common_lines[k].sides & 1) != 0), "instance side, %s:\n%s", common_lines[k].line, conf);
        ck_assert_msg(in_job == ((common_lines[k].sides & 2) != 0), "job side, %s:\n%s", common_lines[k].line, job);
    }
    free(conf);
    free(job);
    json_decref(cluster);
}
END_TEST

START_TEST(options_change_paths_and_hosts)
{
    json_t *cluster = cluster_with("{'repository':{'volume':{'size':'1Gi'}},'path':'/t/c'}");
    struct pgw_pgbackrest_render_opts o;
    pgw_pgbackrest_render_opts_default(&o);
    static const char *const hosts[] = {"localhost"};
    o.repo_mount = "/tmp/r";
    o.pg_path = "/tmp/d";
    o.tls_port = 9999;
    o.archive_async = 0;
    o.pg_hosts = hosts;
    o.pg_host_count = 1;
    char *conf = pgw_render_pgbackrest_conf(cluster, &o), *job = pgw_render_pgbackrest_job_conf(cluster, &o);
    char *path = pgw_render_pgbackrest_repo_path(cluster, &o);
    ck_assert_str_eq(path, "/tmp/r/t/c");
    ck_assert_ptr_nonnull(strstr(conf, "repo1-path=/tmp/r/t/c\n"));
    ck_assert_ptr_nonnull(strstr(conf, "pg1-path=/tmp/d\n"));
    ck_assert_ptr_nonnull(strstr(conf, "tls-server-port=9999\n"));
    ck_assert_ptr_null(strstr(conf, "archive-async"));
    ck_assert_ptr_nonnull(strstr(job, "pg1-host=localhost\n"));
    ck_assert_ptr_nonnull(strstr(job, "pg1-host-port=9999\n"));
    ck_assert_ptr_null(strstr(job, "pg2-host"));
    free(path);
    free(conf);
    free(job);
    json_decref(cluster);
}
END_TEST

START_TEST(control_characters_refuse_the_file)
{
    json_t *cluster = cluster_with("{'repository':{'s3':{'bucket':'b','endpoint':'e','region':'r\\nrepo1-path=/evil',"
                                   "'credentialsSecret':'c'}}}");
    ck_assert_ptr_null(pgw_render_pgbackrest_conf(cluster, NULL));
    ck_assert_ptr_null(pgw_render_pgbackrest_job_conf(cluster, NULL));
    json_decref(cluster);
}
END_TEST

START_TEST(archive_command)
{
    char *cmd = pgw_render_pgbackrest_archive_command("/etc/pgbackrest/pgbackrest.conf");
    ck_assert_str_eq(cmd, "pgbackrest --stanza=db --config=/etc/pgbackrest/pgbackrest.conf archive-push %p");
    free(cmd);
}
END_TEST

/* Credentials reach containers as secretKeyRefs: {repository, expected "NAME:secret/key" or "NAME=value"}. */
static const struct {
    const char *backup;
    const char *env[4];
} env_cases[] = {
    {"{'repository':{'s3':{'bucket':'b','endpoint':'e','region':'r','credentialsSecret':'s3c'}}}",
     {"PGBACKREST_REPO1_S3_KEY:s3c/accessKeyId", "PGBACKREST_REPO1_S3_KEY_SECRET:s3c/secretAccessKey"}},
    {"{'repository':{'azure':{'account':'a1b','container':'c1c','credentialsSecret':'azc'}},'encryptionSecret':'enc'}",
     {"PGBACKREST_REPO1_AZURE_KEY:azc/accountKey", "PGBACKREST_REPO1_CIPHER_PASS:enc/passphrase"}},
    {"{'repository':{'gcs':{'bucket':'gbb','credentialsSecret':'gc'}}}",
     {"PGBACKREST_REPO1_GCS_KEY=" PGW_PGBACKREST_REPO_CREDENTIALS_DIR "/key.json"}},
    {"{'repository':{'volume':{'size':'1Gi'}}}", {NULL}},
};

START_TEST(credentials_from_secrets)
{
    json_t *cluster = cluster_with(env_cases[_i].backup);
    json_t *env = pgw_render_pgbackrest_env(cluster);
    size_t expected = 0;
    while (expected < 4 && env_cases[_i].env[expected] != NULL)
        ++expected;
    ck_assert_int_eq(json_array_size(env), expected);
    for (size_t k = 0; k != expected; ++k) {
        json_t *e = json_array_get(env, k);
        json_t *ref = json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef");
        char *got = ref != NULL ? pgw_asprintf("%s:%s/%s", json_string_value(json_object_get(e, "name")),
                                               json_string_value(json_object_get(ref, "name")),
                                               json_string_value(json_object_get(ref, "key")))
                                : pgw_asprintf("%s=%s", json_string_value(json_object_get(e, "name")),
                                               json_string_value(json_object_get(e, "value")));
        ck_assert_str_eq(got, env_cases[_i].env[k]);
        free(got);
    }
    json_decref(env);
    json_decref(cluster);
}
END_TEST

START_TEST(repo_volumes)
{
    json_t *v = json_array(), *m = json_array();
    json_t *gcs = cluster_with("{'repository':{'gcs':{'bucket':'gbb','credentialsSecret':'gc'}}}");
    pgw_render_pgbackrest_repo_volumes(gcs, v, m);
    ck_assert_int_eq(json_array_size(v), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(v, 0), "secret"), "secretName")), "gc");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "mountPath")), PGW_PGBACKREST_REPO_CREDENTIALS_DIR);
    json_t *vol = cluster_with("{'repository':{'volume':{'size':'3Gi','storageClass':'nfs'}}}");
    pgw_render_pgbackrest_repo_volumes(vol, v, m);
    ck_assert_int_eq(json_array_size(v), 2);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_array_get(v, 1), "persistentVolumeClaim"), "claimName")),
        "demo-pgbackrest-repo");
    json_t *pvc = pgw_render_pgbackrest_repo_claim(vol);
    json_t *spec = json_object_get(pvc, "spec");
    ck_assert_str_eq(json_string_value(json_object_get(spec, "storageClassName")), "nfs");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "accessModes"), 0)), "ReadWriteMany");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(spec, "resources"), "requests"), "storage")),
                     "3Gi");
    ck_assert_ptr_null(pgw_render_pgbackrest_repo_claim(gcs));
    json_decref(pvc);
    json_decref(v);
    json_decref(m);
    json_decref(gcs);
    json_decref(vol);
}
END_TEST

/* The ConfigMap <cluster>-pgbackrest: present only with a repository, never a secret in it. */
START_TEST(configmap_without_secrets)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    static const char *const backups[] = {
        "{'repository':{'s3':{'bucket':'b1b','endpoint':'e','region':'r','credentialsSecret':'topsecret-s3'}},"
        "'encryptionSecret':'topsecret-enc'}",
        "{'repository':{'azure':{'account':'acc','container':'ccc','credentialsSecret':'topsecret-az'}}}",
        "{'repository':{'gcs':{'bucket':'gbb','credentialsSecret':'topsecret-gcs'}}}",
        "{'repository':{'volume':{'size':'1Gi'}}}",
        NULL,
    };
    for (size_t k = 0; k != sizeof(backups) / sizeof(backups[0]); ++k) {
        json_t *cluster = cluster_with(backups[k]);
        json_t *out = json_array();
        pgw_render_configmaps(cluster, &ctx, out);
        json_t *found = NULL;
        size_t i;
        json_t *c;
        json_array_foreach(out, i, c)
        {
            if (strcmp(json_string_value(json_object_get(json_object_get(c, "metadata"), "name")), "demo-pgbackrest") == 0)
                found = c;
            char *text = json_dumps(c, 0);
            ck_assert_msg(strstr(text, "topsecret") == NULL, "a secret name leaked into ConfigMap %zu", i);
            if (found == c)
                ck_assert_msg(strstr(text, "cipher-pass") == NULL && strstr(text, "s3-key=") == NULL &&
                                  strstr(text, "s3-key-secret") == NULL && strstr(text, "azure-key=") == NULL,
                              "a credential option in the pgBackRest ConfigMap");
            free(text);
        }
        if (backups[k] == NULL) {
            ck_assert_ptr_null(found);
        } else {
            ck_assert_ptr_nonnull(found);
            json_t *data = json_object_get(found, "data");
            ck_assert_ptr_nonnull(json_object_get(data, PGW_KEY_PGBACKREST_CONF));
            ck_assert_ptr_nonnull(json_object_get(data, PGW_KEY_PGBACKREST_JOB_CONF));
        }
        json_decref(out);
        json_decref(cluster);
    }
    pgw_config_dispose(&cfg);
}
END_TEST

/* The postgres container gets the credentials (archive-push runs there). */
START_TEST(statefulset_gets_repo_env)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *cluster = cluster_with("{'repository':{'s3':{'bucket':'b1b','endpoint':'e','region':'r',"
                                   "'credentialsSecret':'s3c'}}}");
    json_t *sts = pgw_render_statefulset(cluster, &ctx);
    json_t *pod = json_object_get(json_object_get(json_object_get(sts, "spec"), "template"), "spec");
    json_t *c0 = json_array_get(json_object_get(pod, "containers"), 0);
    int found = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c0, "env"), i, e) found +=
        strcmp(json_string_value(json_object_get(e, "name")), "PGBACKREST_REPO1_S3_KEY_SECRET") == 0;
    ck_assert_int_eq(found, 1);
    json_decref(sts);
    json_decref(cluster);
    pgw_config_dispose(&cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("render_pgbackrest");
    TCase *tc = tcase_create("render_pgbackrest");
    tcase_add_loop_test(tc, instance_conf_per_repository, 0, sizeof(conf_cases) / sizeof(conf_cases[0]));
    tcase_add_test(tc, no_repository_no_conf);
    tcase_add_test(tc, common_settings_by_side);
    tcase_add_test(tc, options_change_paths_and_hosts);
    tcase_add_test(tc, control_characters_refuse_the_file);
    tcase_add_test(tc, archive_command);
    tcase_add_loop_test(tc, credentials_from_secrets, 0, sizeof(env_cases) / sizeof(env_cases[0]));
    tcase_add_test(tc, repo_volumes);
    tcase_add_test(tc, configmap_without_secrets);
    tcase_add_test(tc, statefulset_gets_repo_env);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
