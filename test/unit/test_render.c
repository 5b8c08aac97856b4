/*
 * Rendering of a cluster's children (specs/render_*.c): pure functions,
 * checked structurally.
 */
#include "helpers.h"
#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/json_pack.h"
#include "specs/pod_layout.h"
#include "specs/render.h"

static struct pgw_config cfg;

static void counting_bytes(unsigned char *buf, size_t len)
{
    static unsigned char next;
    for (size_t i = 0; i != len; ++i)
        buf[i] = next++;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    ck_assert_msg(v != NULL, "bad fixture: %s", e.text);
    return v;
}

static const char minimal[] =
    "{\"apiVersion\":\"pgwarden.io/v1\",\"kind\":\"PostgresCluster\","
    "\"metadata\":{\"name\":\"demo\",\"namespace\":\"db\",\"uid\":\"u-1\"},"
    "\"spec\":{\"postgresVersion\":17,\"instances\":3,\"storage\":{\"size\":\"10Gi\",\"storageClass\":\"fast\"},"
    "\"pooler\":{\"enabled\":true,\"mode\":\"transaction\",\"maxClientConnections\":1000,\"defaultPoolSize\":20},"
    "\"metrics\":{\"enabled\":true},"
    "\"postgres\":{\"parameters\":{\"max_connections\":\"200\"},\"pgHba\":[\"hostssl app app 10.0.0.0/8 scram-sha-256\"]},"
    "\"bootstrap\":{\"initdb\":{\"database\":\"shop\",\"owner\":\"shopper\",\"encoding\":\"UTF8\",\"locale\":\"C\","
    "\"dataChecksums\":true}},"
    "\"affinity\":{\"antiAffinity\":\"required\",\"topologyKey\":\"kubernetes.io/hostname\"},"
    "\"metadata\":{\"labels\":{\"team\":\"payments\"},\"annotations\":{\"owner\":\"ops\"}},"
    "\"deletionProtection\":false}}";

static json_t *find(json_t *children, const char *kind, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(children, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "kind")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(json_object_get(c, "metadata"), "name")), name) == 0)
            return c;
    }
    return NULL;
}

/* Dotted path with numeric indexes ("spec.template.spec.containers.0.name"); '/' stays inside a key. */
static json_t *node_at(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *node = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && node != NULL; tok = strtok_r(NULL, ".", &save)) {
        /* label keys contain dots ("pgwarden.io/cluster"): glue tokens until the key exists */
        if (json_is_object(node) && json_object_get(node, tok) == NULL && strchr(save ? save : "", '/') != NULL) {
            char key[128];
            snprintf(key, sizeof(key), "%s", tok);
            char *next;
            while (json_object_get(node, key) == NULL && (next = strtok_r(NULL, ".", &save)) != NULL) {
                size_t n = strlen(key);
                snprintf(key + n, sizeof(key) - n, ".%s", next);
            }
            node = json_object_get(node, key);
            continue;
        }
        node = json_is_array(node) ? json_array_get(node, (size_t)atoi(tok)) : json_object_get(node, tok);
    }
    return node;
}

static const char *str_at(json_t *root, const char *path)
{
    return json_string_value(node_at(root, path));
}

/* A Secret's stringData entry (keys such as "tls.crt" hold dots, which str_at splits on). */
static const char *string_data(json_t *secret, const char *key)
{
    return json_string_value(json_object_get(json_object_get(secret, "stringData"), key));
}

START_TEST(every_child_is_owned_and_labelled)
{
    json_t *cluster = load(minimal);
    struct pgw_render_ctx ctx = {.config = &cfg, .random_bytes = counting_bytes};
    json_t *children = pgw_render_cluster(cluster, &ctx);
    size_t i;
    json_t *c;
    json_array_foreach(children, i, c)
    {
        json_t *meta = json_object_get(c, "metadata");
        ck_assert_str_eq(json_string_value(json_object_get(meta, "namespace")), "db");
        json_t *owner = json_array_get(json_object_get(meta, "ownerReferences"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(owner, "uid")), "u-1");
        ck_assert_str_eq(json_string_value(json_object_get(owner, "kind")), "PostgresCluster");
        ck_assert(json_is_true(json_object_get(owner, "controller")));
        json_t *labels = json_object_get(meta, "labels");
        ck_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/instance")), "demo");
        ck_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")), "pgwarden");
        ck_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/name")), "postgresql");
        ck_assert_str_eq(json_string_value(json_object_get(labels, PGW_POD_LABEL_CLUSTER)), "demo");
        ck_assert_str_eq(json_string_value(json_object_get(labels, "team")), "payments");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta, "annotations"), "owner")), "ops");
    }
    static const char *const expected[][2] = {
        {"ServiceAccount", "demo-instance"},
        {"Role", "demo-instance"},
        {"RoleBinding", "demo-instance"},
        {"Secret", "demo-ca"},
        {"Secret", "demo-server-tls"},
        {"Secret", "demo-superuser"},
        {"Secret", "demo-replication"},
        {"Secret", "demo-app"},
        {"Secret", "demo-pgbouncer"},
        {"Secret", "demo-exporter"},
        {"ConfigMap", "demo-patroni"},
        {"ConfigMap", "demo-pgbouncer"},
        {"ConfigMap", "demo-exporter"},
        {"Service", "demo"},
        {"Service", "demo-ro"},
        {"Service", "demo-r"},
        {"Service", "demo-pods"},
        {"Service", "demo-config"},
        {"PodDisruptionBudget", "demo"},
        {"StatefulSet", "demo"},
    };
    ck_assert_uint_eq(pgw_json_pack_failures(), 0); /* no builder dropped a part */
    /* exactly these 20: a new child must be named here */
    ck_assert_uint_eq(json_array_size(children), 20);
    ck_assert_uint_eq(sizeof(expected) / sizeof(expected[0]), 20);
    for (size_t k = 0; k != sizeof(expected) / sizeof(expected[0]); ++k)
        ck_assert_msg(find(children, expected[k][0], expected[k][1]) != NULL, "missing %s %s", expected[k][0], expected[k][1]);
    json_decref(children);
    json_decref(cluster);
}
END_TEST

START_TEST(statefulset_template)
{
    json_t *cluster = load(minimal);
    struct pgw_render_ctx ctx = {.config = &cfg, .random_bytes = counting_bytes};
    json_t *sts = pgw_render_statefulset(cluster, &ctx);
    json_t *spec = json_object_get(sts, "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(spec, "replicas")), 3);
    ck_assert_str_eq(str_at(sts, "spec.serviceName"), "demo-pods");
    ck_assert_str_eq(str_at(sts, "spec.updateStrategy.type"), "OnDelete");
    ck_assert_str_eq(str_at(sts, "spec.selector.matchLabels.pgwarden.io/cluster"), "demo");
    ck_assert_str_eq(str_at(sts, "spec.template.metadata.annotations.pgwarden.io/sidecars"), "pooler,metrics");
    ck_assert_str_eq(str_at(sts, "spec.template.spec.containers.0.name"), "postgres");
    ck_assert_str_eq(str_at(sts, "spec.template.spec.containers.0.image"), "ghcr.io/pgwarden/postgres:17");
    ck_assert_str_eq(str_at(sts, "spec.template.spec.serviceAccountName"), "demo-instance");
    ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.0.metadata.name"), PGW_POD_VOLUME_PGDATA);
    ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.0.spec.resources.requests.storage"), "10Gi");
    ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.0.spec.storageClassName"), "fast");
    ck_assert_uint_eq(json_array_size(json_object_get(spec, "volumeClaimTemplates")), 1);
    ck_assert_str_eq(str_at(sts, "spec.template.spec.affinity.podAntiAffinity."
                                 "requiredDuringSchedulingIgnoredDuringExecution.0.topologyKey"),
                     "kubernetes.io/hostname");
    json_t *sc = node_at(sts, "spec.template.spec.containers.0.securityContext");
    ck_assert(json_is_true(json_object_get(sc, "runAsNonRoot")));
    ck_assert(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    ck_assert(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
    json_decref(sts);

    /* walSize adds a second claim; backups add the backup sidecar; image override wins; no anti-affinity. */
    json_t *spec_in = json_object_get(cluster, "spec");
    json_object_set_new(json_object_get(spec_in, "storage"), "walSize", json_string("2Gi"));
    json_object_set_new(spec_in, "backup", pgw_json_pack("{s:{s:{s:s}}}", "repository", "volume", "size", "5Gi"));
    json_object_set_new(spec_in, "image", json_string("registry.example/pg:17.2"));
    json_object_set_new(json_object_get(spec_in, "affinity"), "antiAffinity", json_string("none"));
    json_object_set_new(json_object_get(spec_in, "metrics"), "enabled", json_false());
    sts = pgw_render_statefulset(cluster, &ctx);
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(sts, "spec"), "volumeClaimTemplates")), 2);
    ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.1.metadata.name"), PGW_POD_VOLUME_PGWAL);
    ck_assert_str_eq(str_at(sts, "spec.template.metadata.annotations.pgwarden.io/sidecars"), "pooler,backup");
    ck_assert_str_eq(str_at(sts, "spec.template.spec.containers.0.image"), "registry.example/pg:17.2");
    ck_assert_ptr_null(node_at(sts, "spec.template.spec.affinity"));
    json_decref(sts);
    json_decref(cluster);
}
END_TEST

/* The claims carry the cluster's uid; onScaleDown picks whenScaled, and a deleted cluster's claims are always kept. */
START_TEST(claim_templates_and_retention)
{
    static const struct {
        const char *on_scale_down; /* NULL: absent */
        const char *when_scaled;
    } rows[] = {{NULL, "Retain"}, {"Retain", "Retain"}, {"Delete", "Delete"}};
    struct pgw_render_ctx ctx = {.config = &cfg, .random_bytes = counting_bytes};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *cluster = load(minimal);
        json_t *storage = json_object_get(json_object_get(cluster, "spec"), "storage");
        json_object_set_new(storage, "walSize", json_string("2Gi"));
        if (rows[i].on_scale_down != NULL)
            json_object_set_new(storage, "onScaleDown", json_string(rows[i].on_scale_down));
        json_t *sts = pgw_render_statefulset(cluster, &ctx);
        ck_assert_str_eq(str_at(sts, "spec.persistentVolumeClaimRetentionPolicy.whenScaled"), rows[i].when_scaled);
        ck_assert_str_eq(str_at(sts, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"), "Retain");
        ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.0.metadata.labels.pgwarden.io/cluster-uid"), "u-1");
        ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.1.metadata.labels.pgwarden.io/cluster-uid"), "u-1");
        ck_assert_str_eq(str_at(sts, "spec.volumeClaimTemplates.0.metadata.labels.pgwarden.io/cluster"), "demo");
        json_decref(sts);
        json_decref(cluster);
    }
    /* Rendered offline (no uid yet): no label rather than an empty one. */
    json_t *cluster = load(minimal);
    json_object_del(json_object_get(cluster, "metadata"), "uid");
    json_t *sts = pgw_render_statefulset(cluster, &ctx);
    ck_assert_ptr_null(json_object_get(node_at(sts, "spec.volumeClaimTemplates.0.metadata.labels"), "pgwarden.io/cluster-uid"));
    json_decref(sts);
    json_decref(cluster);
}
END_TEST

START_TEST(services_and_pdb)
{
    json_t *cluster = load(minimal);
    json_t *out = json_array();
    pgw_render_services(cluster, out);
    ck_assert_uint_eq(json_array_size(out), 6);
    ck_assert_ptr_null(json_object_get(json_object_get(find(out, "Service", "demo"), "spec"), "selector"));
    ck_assert_str_eq(str_at(find(out, "Service", "demo-ro"), "spec.selector.pgwarden.io/role"), "replica");
    ck_assert_str_eq(str_at(find(out, "Service", "demo-pods"), "spec.clusterIP"), "None");
    ck_assert(
        json_is_true(json_object_get(json_object_get(find(out, "Service", "demo-pods"), "spec"), "publishNotReadyAddresses")));
    ck_assert_str_eq(str_at(find(out, "Service", "demo-config"), "spec.clusterIP"), "None");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(find(out, "PodDisruptionBudget", "demo"), "spec"), "maxUnavailable")),
        1);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

START_TEST(patroni_configuration)
{
    json_t *cluster = load(minimal);
    struct pgw_render_ctx ctx = {.config = &cfg, .random_bytes = counting_bytes};
    json_t *p = pgw_render_patroni_config(cluster, &ctx);
    ck_assert_str_eq(str_at(p, "scope"), "demo");
    ck_assert_str_eq(str_at(p, "kubernetes.role_label"), "pgwarden.io/role");
    ck_assert_str_eq(str_at(p, "kubernetes.leader_label_value"), "primary");
    ck_assert_str_eq(str_at(p, "kubernetes.follower_label_value"), "replica");
    ck_assert(json_is_true(json_object_get(json_object_get(p, "kubernetes"), "use_endpoints")));
    ck_assert_str_eq(str_at(p, "kubernetes.ports.0.name"), "postgres");
    ck_assert_str_eq(str_at(p, "kubernetes.ports.1.name"), "pgbouncer");
    ck_assert_str_eq(str_at(p, "bootstrap.dcs.postgresql.parameters.max_connections"), "200");
    ck_assert_str_eq(str_at(p, "bootstrap.dcs.postgresql.parameters.wal_level"), "replica");
    ck_assert_str_eq(str_at(p, "postgresql.parameters.unix_socket_directories"), PGW_POD_SOCKET_DIR);
    ck_assert_ptr_null(str_at(p, "postgresql.parameters.archive_command")); /* no backup repository */
    /* pg_hba lives in the dynamic configuration only: a local copy would win over it and never change */
    ck_assert_ptr_null(node_at(p, "postgresql.pg_hba"));
    ck_assert(json_equal(node_at(p, "bootstrap.pg_hba"), node_at(p, "bootstrap.dcs.postgresql.pg_hba"))); /* 3.0's schema */
    json_t *hba = node_at(p, "bootstrap.dcs.postgresql.pg_hba");
    ck_assert_str_eq(str_at(p, "bootstrap.dcs.postgresql.pg_hba.0"), "local all all scram-sha-256");
    ck_assert(json_is_true(node_at(p, "bootstrap.dcs.postgresql.use_slots")));
    int found = 0;
    size_t i;
    json_t *line;
    json_array_foreach(hba, i, line) found |= strcmp(json_string_value(line), "hostssl app app 10.0.0.0/8 scram-sha-256") == 0;
    ck_assert(found);
    ck_assert_str_eq(str_at(p, "bootstrap.initdb.0.encoding"), "UTF8");
    ck_assert_str_eq(str_at(p, "bootstrap.initdb.2"), "data-checksums");
    /* replicas clone with a fast checkpoint, and no WAL directory of their own without walSize */
    ck_assert_str_eq(str_at(p, "postgresql.basebackup.0.checkpoint"), "fast");
    ck_assert_uint_eq(json_array_size(node_at(p, "postgresql.basebackup")), 1);
    json_decref(p);

    json_object_set_new(json_object_get(json_object_get(cluster, "spec"), "storage"), "walSize", json_string("2Gi"));
    p = pgw_render_patroni_config(cluster, &ctx);
    ck_assert_str_eq(str_at(p, "postgresql.basebackup.0.checkpoint"), "fast");
    ck_assert_str_eq(str_at(p, "postgresql.basebackup.1.waldir"), PGW_POD_PGWAL_MOUNT "/pg_wal");
    json_decref(p);
    json_object_del(json_object_get(json_object_get(cluster, "spec"), "storage"), "walSize");

    json_object_set_new(json_object_get(cluster, "spec"), "backup",
                        pgw_json_pack("{s:{s:{s:s}}}", "repository", "volume", "size", "5Gi"));
    p = pgw_render_patroni_config(cluster, &ctx);
    ck_assert_ptr_nonnull(strstr(str_at(p, "postgresql.parameters.archive_command"), "archive-push %p"));
    json_decref(p);
    json_decref(cluster);
}
END_TEST

/* A cluster bootstrapped from a backup restores with pgBackRest instead of initdb. */
START_TEST(restore_bootstrap_method)
{
    static const struct {
        const char *target, *want[4];
    } rows[] = {
        {"{\"time\":\"2026-11-21T10:00:00Z\"}",
         {"'--type=time'", "'--target=2026-11-21 10:00:00+00'", "'--target-action=promote'", NULL}},
        {"{\"lsn\":\"0/16B3748\"}", {"'--type=lsn'", "'--target=0/16B3748'", "'--target-action=promote'", NULL}},
        {"{\"immediate\":true}", {"'--type=immediate'", "'--target-action=promote'", NULL, NULL}},
        {NULL, {"'restore'", NULL, NULL, NULL}}, /* latest: the end of the archived WAL */
    };
    struct pgw_render_ctx ctx = {.config = &cfg, .random_bytes = counting_bytes};
    for (size_t r = 0; r != sizeof(rows) / sizeof(rows[0]); ++r) {
        json_t *cluster = load(minimal);
        json_t *how = pgw_json_pack("{s:s}", "fromCluster", "orders");
        if (rows[r].target != NULL)
            json_object_set_new(how, "target", load(rows[r].target));
        json_object_set_new(json_object_get(cluster, "spec"), "bootstrap", pgw_json_pack("{s:o}", "restore", how));
        json_object_set_new(json_object_get(cluster, "metadata"), "annotations",
                            pgw_json_pack("{s:s}", "pgwarden.io/restore-repo-path", "/db/orders"));
        json_t *p = pgw_render_patroni_config(cluster, &ctx);
        ck_assert_str_eq(str_at(p, "bootstrap.method"), "pgbackrest");
        ck_assert(json_is_true(node_at(p, "bootstrap.pgbackrest.keep_existing_recovery_conf")));
        const char *command = str_at(p, "bootstrap.pgbackrest.command");
        ck_assert_ptr_nonnull(command);
        ck_assert_msg(strstr(command, "'--repo1-path=/db/orders'") != NULL, "row %zu: %s", r, command);
        ck_assert_msg(strstr(command, "'--stanza=db'") != NULL, "row %zu: %s", r, command);
        for (size_t k = 0; rows[r].want[k] != NULL; ++k)
            ck_assert_msg(strstr(command, rows[r].want[k]) != NULL, "row %zu: %s lacks %s", r, command, rows[r].want[k]);
        if (rows[r].target == NULL)
            ck_assert_ptr_null(strstr(command, "--type="));
        json_decref(p);
        json_decref(cluster);
    }
    /* A cluster created by initdb has no custom method. */
    json_t *cluster = load(minimal);
    json_t *p = pgw_render_patroni_config(cluster, &ctx);
    ck_assert_ptr_null(node_at(p, "bootstrap.method"));
    json_decref(p);
    json_decref(cluster);
}
END_TEST

START_TEST(secrets_have_distinct_random_passwords)
{
    json_t *cluster = load(minimal);
    json_t *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg}; /* RAND_bytes */
    pgw_render_secrets(cluster, &ctx, out);
    const char *su = str_at(find(out, "Secret", "demo-superuser"), "stringData.password");
    const char *app = str_at(find(out, "Secret", "demo-app"), "stringData.password");
    ck_assert_uint_eq(strlen(su), 32);
    ck_assert_str_ne(su, app);
    ck_assert_str_eq(str_at(find(out, "Secret", "demo-app"), "stringData.username"), "shopper");
    ck_assert_str_eq(str_at(find(out, "Secret", "demo-app"), "stringData.dbname"), "shop");
    ck_assert_str_eq(str_at(find(out, "Secret", "demo-app"), "stringData.port"), "6432");
    ck_assert_ptr_nonnull(strstr(str_at(find(out, "Secret", "demo-app"), "stringData.uri"), "@demo.db.svc:6432/shop"));
    for (const char *p = su; *p; ++p)
        ck_assert_msg(strchr("+/=", *p) == NULL, "password not URI-safe: %s", su);
    json_decref(out);
    json_decref(cluster);
}
END_TEST

/* The server certificate postgres and PgBouncer serve: signed by the CA in the same Secret, for the
 * cluster's Service names; not rendered when spec.tls.secretName names the user's own. */
START_TEST(server_tls_is_issued_unless_the_user_brings_one)
{
    json_t *cluster = load(minimal);
    json_t *out = json_array();
    struct pgw_render_ctx ctx = {.config = &cfg};
    pgw_render_secrets(cluster, &ctx, out);
    json_t *tls = find(out, "Secret", "demo-server-tls");
    ck_assert_ptr_nonnull(tls);
    ck_assert_str_eq(str_at(tls, "type"), "kubernetes.io/tls");
    const char *ca = string_data(tls, "ca.crt"), *crt = string_data(tls, "tls.crt"), *key = string_data(tls, "tls.key");
    ck_assert_ptr_nonnull(ca);
    ck_assert_ptr_nonnull(crt);
    ck_assert_ptr_nonnull(key);
    ck_assert_str_ne(ca, crt);

    BIO *b = BIO_new_mem_buf(crt, -1);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(ca, -1);
    X509 *issuer = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(key, -1);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(leaf);
    ck_assert_ptr_nonnull(issuer);
    ck_assert_ptr_nonnull(pkey);
    ck_assert_int_eq(X509_verify(leaf, X509_get0_pubkey(issuer)), 1); /* signed by the CA it ships */
    ck_assert_int_eq(X509_check_private_key(leaf, pkey), 1);
    ck_assert_int_eq(X509_check_host(leaf, "demo.db.svc", 0, 0, NULL), 1);
    ck_assert_int_eq(X509_check_host(leaf, "other.db.svc", 0, 0, NULL), 0);
    /* PgBouncer serves the same pair (pgbouncer.ini names both files) */
    json_t *bouncer = find(out, "Secret", "demo-pgbouncer");
    ck_assert_str_eq(string_data(bouncer, "tls.crt"), crt);
    ck_assert_str_eq(string_data(bouncer, "tls.key"), key);
    X509_free(leaf);
    X509_free(issuer);
    EVP_PKEY_free(pkey);
    json_decref(out);

    json_object_set_new(json_object_get(cluster, "spec"), "tls", json_pack("{s:s}", "secretName", "mine"));
    out = json_array();
    pgw_render_secrets(cluster, &ctx, out);
    ck_assert_ptr_null(find(out, "Secret", "demo-server-tls"));
    json_decref(out);
    json_decref(cluster);
}
END_TEST

START_TEST(rbac_is_what_patroni_needs)
{
    json_t *cluster = load(minimal);
    json_t *out = json_array();
    pgw_render_rbac(cluster, out);
    json_t *role = find(out, "Role", "demo-instance");
    ck_assert_str_eq(str_at(role, "rules.0.resources.0"), "endpoints");
    ck_assert_str_eq(str_at(role, "rules.1.resources.0"), "pods");
    ck_assert_str_eq(str_at(role, "rules.2.resources.0"), "services");
    ck_assert_str_eq(str_at(role, "rules.2.verbs.0"), "create");
    ck_assert_str_eq(str_at(find(out, "RoleBinding", "demo-instance"), "subjects.0.namespace"), "db");
    json_decref(out);
    json_decref(cluster);
}
END_TEST

int main(void)
{
    pgw_config_init_defaults(&cfg);
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, every_child_is_owned_and_labelled);
    tcase_add_test(tc, server_tls_is_issued_unless_the_user_brings_one);
    tcase_add_test(tc, statefulset_template);
    tcase_add_test(tc, claim_templates_and_retention);
    tcase_add_test(tc, services_and_pdb);
    tcase_add_test(tc, patroni_configuration);
    tcase_add_test(tc, secrets_have_distinct_random_passwords);
    tcase_add_test(tc, restore_bootstrap_method);
    tcase_add_test(tc, rbac_is_what_patroni_needs);
    suite_add_tcase(s, tc);
    int rc = pgw_run_suite(s);
    pgw_config_dispose(&cfg);
    return rc;
}
