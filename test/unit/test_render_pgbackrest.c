/*
 * pgbackrest.conf rendering (specs/render_pgbackrest.c): every repository
 * type, retention, the TLS server and pg hosts, and no credentials in the
 * ConfigMap.
 */
#include "helpers.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "certs/certs.h"
#include "common/config.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_backup.h"
#include "specs/render_pgbackrest.h"
#include "specs/sidecars.h"

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

/* --- pgBackRest's mutual TLS and the volume repository's ownership ---------------- */

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(x);
    return x;
}

static EVP_PKEY *pem_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(k);
    return k;
}

static const char *secret_key(const json_t *secret, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(secret, "stringData"), key));
    ck_assert_msg(v != NULL, "Secret lacks %s", key);
    return v;
}

static int has_eku(X509 *x, int nid)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    int found = 0;
    for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); ++i)
        found |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid;
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

/* Secret <cluster>-pgbackrest-tls: both pairs signed by its CA, the server's names cover every
 * instance's stable name (as the Jobs' pgN-host spells it), the client's CN is the one
 * tls-server-auth accepts, each key matches its certificate. */
START_TEST(pgbackrest_tls_secret)
{
    json_t *cluster = cluster_with("{'repository':{'volume':{'size':'1Gi'}}}");
    json_t *s = pgw_render_pgbackrest_tls_secret(cluster);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "metadata"), "name")), "demo" PGW_SUFFIX_PGBACKREST_TLS);
    ck_assert_str_eq(json_string_value(json_object_get(s, "kind")), "Secret");
    ck_assert_str_eq(json_string_value(json_object_get(s, "type")), "kubernetes.io/tls");
    /* Owned by the cluster like every generated Secret (it goes with it). */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(json_object_get(s, "metadata"), "ownerReferences"), 0), "uid")),
                     "u-1");
    X509 *ca = pem_cert(secret_key(s, PGW_KEY_TLS_CA)), *server = pem_cert(secret_key(s, PGW_KEY_TLS_CERT)),
         *client = pem_cert(secret_key(s, PGW_KEY_TLS_CLIENT_CERT));
    EVP_PKEY *ca_pub = X509_get0_pubkey(ca), *server_key = pem_key(secret_key(s, PGW_KEY_TLS_KEY)),
             *client_key = pem_key(secret_key(s, PGW_KEY_TLS_CLIENT_KEY));
    ck_assert_int_eq(X509_verify(server, ca_pub), 1);
    ck_assert_int_eq(X509_verify(client, ca_pub), 1);
    ck_assert_int_eq(X509_check_private_key(server, server_key), 1);
    ck_assert_int_eq(X509_check_private_key(client, client_key), 1);
    ck_assert_int_eq(X509_check_private_key(client, server_key), 0); /* two distinct pairs */
    /* Every instance's name, and nothing outside the cluster's pods Service. The short form
     * "*.demo-pods" (how the Jobs' pgN-host spells it) is a SAN pgBackRest matches; OpenSSL's own
     * check refuses wildcards over fewer than two labels, so it is checked as a name here. */
    GENERAL_NAMES *sans = X509_get_ext_d2i(server, NID_subject_alt_name, NULL, NULL);
    ck_assert_int_eq(sk_GENERAL_NAME_num(sans), 4);
    const GENERAL_NAME *first = sk_GENERAL_NAME_value(sans, 0);
    ck_assert_int_eq(first->type, GEN_DNS);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(first->d.dNSName), "*.demo-pods");
    GENERAL_NAMES_free(sans);
    static const char *const match[] = {"demo-1.demo-pods.db.svc", "demo-15.demo-pods.db.svc.cluster.local", "demo-1.demo-pods.db"};
    for (size_t i = 0; i != sizeof(match) / sizeof(match[0]); ++i)
        ck_assert_msg(X509_check_host(server, match[i], 0, 0, NULL) == 1, "%s not covered", match[i]);
    static const char *const no_match[] = {"demo-pods.db.svc", "other-0.other-pods.db.svc", "demo.db.svc",
                                           "x.demo-0.demo-pods.db.svc"};
    for (size_t i = 0; i != sizeof(no_match) / sizeof(no_match[0]); ++i)
        ck_assert_msg(X509_check_host(server, no_match[i], 0, 0, NULL) != 1, "%s covered", no_match[i]);
    ck_assert(has_eku(server, NID_server_auth) && !has_eku(server, NID_client_auth));
    ck_assert(has_eku(client, NID_client_auth) && !has_eku(client, NID_server_auth));
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(client), NID_commonName, cn, sizeof(cn));
    ck_assert_str_eq(cn, PGW_PGBACKREST_CLIENT_CN);
    X509_free(ca);
    X509_free(server);
    X509_free(client);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
    json_decref(s);
    /* No repository, no Secret; and the cluster's Secrets carry it only with one. */
    json_t *none = cluster_with(NULL);
    ck_assert_ptr_null(pgw_render_pgbackrest_tls_secret(none));
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    for (int with = 0; with != 2; ++with) {
        json_t *out = json_array();
        pgw_render_secrets(with ? cluster : none, &ctx, out);
        int found = 0;
        size_t i;
        json_t *o;
        json_array_foreach(out, i, o) found +=
            strcmp(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), "demo-pgbackrest-tls") == 0;
        ck_assert_int_eq(found, with);
        json_decref(out);
    }
    pgw_config_dispose(&cfg);
    json_decref(none);
    json_decref(cluster);
}
END_TEST

/* pgw_certs_issue_mtls_pem refuses what would make a bad certificate. */
START_TEST(mtls_options_checked)
{
    static const char *const good[] = {"*.a-pods", "a-0.a-pods.ns.svc"};
    struct pgw_certs_mtls_options ok = {
        .server_dns = good, .server_dns_count = 2, .client_cn = "pgwarden-backup", .ca_days = 30, .leaf_days = 10};
    struct pgw_certs_mtls_pem pem;
    char *err = NULL;
    ck_assert_int_eq(pgw_certs_issue_mtls_pem(&ok, &pem, &err), 0);
    ck_assert_ptr_nonnull(pem.client_key);
    pgw_certs_mtls_pem_free(&pem);
    static const char *const bad_names[] = {"", "*", "a.*.b", "A.b", "a b", "-a.b", "a.b.", "*.*.a", NULL};
    for (size_t i = 0; i != sizeof(bad_names) / sizeof(bad_names[0]); ++i) {
        const char *one[] = {bad_names[i]};
        struct pgw_certs_mtls_options o = ok;
        o.server_dns = one;
        o.server_dns_count = 1;
        ck_assert_msg(pgw_certs_issue_mtls_pem(&o, &pem, &err) == -1, "name %zu accepted", i);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(pem.ca_crt);
        free(err);
        err = NULL;
    }
    struct pgw_certs_mtls_options o = ok;
    o.server_dns_count = 0;
    ck_assert_int_eq(pgw_certs_issue_mtls_pem(&o, &pem, &err), -1);
    free(err);
    o = ok;
    o.client_cn = "";
    ck_assert_int_eq(pgw_certs_issue_mtls_pem(&o, &pem, &err), -1);
    free(err);
    o = ok;
    o.client_cn = "a-client-common-name-that-is-longer-than-sixty-four-bytes-in-all-xx";
    ck_assert_int_eq(pgw_certs_issue_mtls_pem(&o, &pem, &err), -1);
    free(err);
    o = ok;
    o.ca_days = 0;
    ck_assert_int_eq(pgw_certs_issue_mtls_pem(&o, &pem, &err), -1);
    free(err);
}
END_TEST

static json_t *pod_volume(const json_t *pod_spec, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pod_spec, "volumes"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    return NULL;
}

/* The StatefulSet's pgw-pgbackrest volume is the projected one the sidecar needs (config + TLS,
 * mode 0440): the webhook keeps an existing volume, so after injection the pod has exactly it.
 * Without a repository it stays the optional ConfigMap. */
START_TEST(statefulset_pgbackrest_volume_carries_tls)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *cluster = cluster_with("{'repository':{'volume':{'size':'1Gi'}}}");
    json_t *sts = pgw_render_statefulset(cluster, &ctx);
    json_t *pod = json_object_get(json_object_get(json_object_get(sts, "spec"), "template"), "spec");
    json_t *v = pod_volume(pod, PGW_POD_VOLUME_PGBACKREST);
    ck_assert_ptr_nonnull(v);
    json_t *want = q("{'name':'pgw-pgbackrest','projected':{'defaultMode':288,'sources':[{'configMap':{'name':'demo-pgbackrest'}},"
                     "{'secret':{'name':'demo-pgbackrest-tls'}}]}}");
    ck_assert_msg(json_equal(v, want), "volume %s", json_dumps(v, JSON_COMPACT));
    /* What the sidecar would add is the same volume: injection changes nothing about it. */
    json_t *pod_copy = json_deep_copy(pod);
    struct pgw_errors errs = {0};
    struct pgw_pod_edit edit = {
        .spec = pod_copy, .containers = json_object_get(pod_copy, "containers"), .cluster = "demo", .cfg = &cfg, .errs = &errs};
    pgw_sidecar_pgbackrest_inject(&edit);
    ck_assert(json_equal(pod_volume(pod_copy, PGW_POD_VOLUME_PGBACKREST), want));
    /* The sidecar's own, on a pod without it, is the same too. */
    json_t *bare = json_deep_copy(pod);
    json_t *vols = json_object_get(bare, "volumes");
    size_t i;
    json_t *x;
    json_array_foreach(vols, i, x) if (strcmp(json_string_value(json_object_get(x, "name")), PGW_POD_VOLUME_PGBACKREST) == 0)
    {
        json_array_remove(vols, i);
        break;
    }
    json_array_append_new(vols, q("{'name':'" PGW_POD_VOLUME_PGDATA "','persistentVolumeClaim':{'claimName':'d'}}"));
    json_t *containers = json_object_get(bare, "containers");
    while (json_array_size(containers) > 1)
        json_array_remove(containers, 1);
    edit.spec = bare;
    edit.containers = containers;
    pgw_sidecar_pgbackrest_inject(&edit);
    ck_assert(json_equal(pod_volume(bare, PGW_POD_VOLUME_PGBACKREST), want));
    /* The sidecar reads the superuser's password for its local connections. */
    json_t *side = NULL;
    json_array_foreach(json_object_get(bare, "containers"), i,
                       x) if (strcmp(json_string_value(json_object_get(x, "name")), PGW_POD_CONTAINER_PGBACKREST) == 0) side = x;
    ck_assert_ptr_nonnull(side);
    json_t *pw = NULL;
    json_array_foreach(json_object_get(side, "env"), i,
                       x) if (strcmp(json_string_value(json_object_get(x, "name")), "PGPASSWORD") == 0) pw = x;
    json_t *want_pw = q("{'name':'PGPASSWORD','valueFrom':{'secretKeyRef':{'name':'demo-superuser','key':'password'}}}");
    ck_assert(json_equal(pw, want_pw));
    json_decref(want_pw);
    json_decref(bare);
    json_decref(pod_copy);
    pgw_errors_dispose(&errs);
    json_decref(want);
    json_decref(sts);
    /* No repository: the optional ConfigMap, no Secret that would never exist. */
    json_t *none = cluster_with(NULL);
    sts = pgw_render_statefulset(none, &ctx);
    pod = json_object_get(json_object_get(json_object_get(sts, "spec"), "template"), "spec");
    want = q("{'name':'pgw-pgbackrest','configMap':{'name':'demo-pgbackrest','optional':true}}");
    ck_assert(json_equal(pod_volume(pod, PGW_POD_VOLUME_PGBACKREST), want));
    json_decref(want);
    json_decref(sts);
    json_decref(none);
    json_decref(cluster);
    pgw_config_dispose(&cfg);
}
END_TEST

/* The volume repository's claim: no ownerReference (the garbage collector must not delete backups
 * with the cluster); a cluster restored from it mounts the source's claim and claims none. */
START_TEST(repo_claim_outlives_the_cluster)
{
    json_t *cluster = cluster_with("{'repository':{'volume':{'size':'1Gi'}}}");
    json_t *pvc = pgw_render_pgbackrest_repo_claim(cluster);
    ck_assert_ptr_nonnull(pvc);
    ck_assert_ptr_null(json_object_get(json_object_get(pvc, "metadata"), "ownerReferences"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(pvc, "metadata"), "labels"),
                                                       "app.kubernetes.io/managed-by")),
                     "pgwarden");
    json_decref(pvc);
    char *name = pgw_render_pgbackrest_repo_claim_name(cluster);
    ck_assert_str_eq(name, "demo-pgbackrest-repo");
    free(name);
    /* Restored from it: the new cluster is annotated with the source's claim and uses it. */
    json_t *restore = q("{'metadata':{'name':'back','namespace':'db'},'spec':{'source':{'cluster':'demo'},"
                        "'target':{'time':'2026-01-01T00:00:00Z'}}}");
    json_t *restored = pgw_render_restore_cluster(restore, cluster);
    json_t *ann = json_object_get(json_object_get(restored, "metadata"), "annotations");
    ck_assert_str_eq(json_string_value(json_object_get(ann, PGW_ANNOTATION_REPO_CLAIM)), "demo-pgbackrest-repo");
    ck_assert_ptr_null(pgw_render_pgbackrest_repo_claim(restored));
    json_t *v = json_array(), *m = json_array();
    pgw_render_pgbackrest_repo_volumes(restored, v, m);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_array_get(v, 0), "persistentVolumeClaim"), "claimName")),
        "demo-pgbackrest-repo");
    /* A restore of the restored cluster still finds the first claim. */
    json_object_set_new(json_object_get(restore, "metadata"), "name", json_string("again"));
    json_t *again = pgw_render_restore_cluster(restore, restored);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(again, "metadata"), "annotations"),
                                                       PGW_ANNOTATION_REPO_CLAIM)),
                     "demo-pgbackrest-repo");
    /* The restore reads the source's path under the repository mount (a volume repository). */
    char *path = pgw_render_pgbackrest_repo_path_for(restored, "/db/demo", NULL);
    ck_assert_str_eq(path, PGW_PGBACKREST_REPO_MOUNT "/db/demo");
    free(path);
    /* Object storage: no claim, no annotation, the path as it is. */
    json_t *s3 = cluster_with("{'repository':{'s3':{'bucket':'b1','endpoint':'e','region':'r','credentialsSecret':'c'}}}");
    json_t *restored_s3 = pgw_render_restore_cluster(restore, s3);
    ck_assert_ptr_null(
        json_object_get(json_object_get(json_object_get(restored_s3, "metadata"), "annotations"), PGW_ANNOTATION_REPO_CLAIM));
    path = pgw_render_pgbackrest_repo_path_for(restored_s3, "/db/demo", NULL);
    ck_assert_str_eq(path, "/db/demo");
    free(path);
    json_decref(restored_s3);
    json_decref(s3);
    json_decref(v);
    json_decref(m);
    json_decref(again);
    json_decref(restored);
    json_decref(restore);
    json_decref(cluster);
}
END_TEST

/* Patroni's restore command names the source's repository path under the repository mount. */
START_TEST(restore_command_reads_the_volume_repository)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    struct pgw_render_ctx ctx = {.config = &cfg};
    json_t *cluster = cluster_with("{'repository':{'volume':{'size':'1Gi'}}}");
    json_t *restore = q("{'metadata':{'name':'back','namespace':'db'},'spec':{'source':{'cluster':'demo'}}}");
    json_t *restored = pgw_render_restore_cluster(restore, cluster);
    json_t *patroni = pgw_render_patroni_config(restored, &ctx);
    const char *cmd =
        json_string_value(json_object_get(json_object_get(json_object_get(patroni, "bootstrap"), "pgbackrest"), "command"));
    ck_assert_ptr_nonnull(cmd);
    ck_assert_msg(strstr(cmd, "'--repo1-path=" PGW_PGBACKREST_REPO_MOUNT "/db/demo'") != NULL, "%s", cmd);
    json_decref(patroni);
    json_decref(restored);
    json_decref(restore);
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
    tcase_add_test(tc, pgbackrest_tls_secret);
    tcase_add_test(tc, mtls_options_checked);
    tcase_add_test(tc, statefulset_pgbackrest_volume_carries_tls);
    tcase_add_test(tc, repo_claim_outlives_the_cluster);
    tcase_add_test(tc, restore_command_reads_the_volume_repository);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
