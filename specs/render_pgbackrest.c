/*
 * pgbackrest.conf rendering (see render_pgbackrest.h for the two sides).
 *
 * The text is built line by line from validated spec values. A value with a
 * control character (which validation refuses anyway) would let a user add
 * lines to the file, so such a cluster renders nothing (NULL) rather than a
 * file with a line we did not write.
 *
 * Choices that hold for every cluster:
 *  - start-fast: backups are taken on demand or on a schedule, never as an
 *    afterthought, so they request an immediate checkpoint;
 *  - archive-async with the spool under /tmp (an emptyDir, writable under a
 *    read-only root filesystem): the spool only holds acknowledgements and
 *    prefetched WAL, and WAL stays in pg_wal until pgBackRest acknowledges it,
 *    so losing the spool with the pod loses nothing;
 *  - log-level-file=off: containers log to stdout, the root filesystem is read-only.
 */
#include "specs/render_pgbackrest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_meta.h"

struct st_conf_t {
    char *text;
    size_t len;
    int bad; /* a value had a control character */
};

static void conf_raw(struct st_conf_t *c, const char *s)
{
    size_t n = strlen(s);
    c->text = pgw_realloc(c->text, c->len + n + 1);
    memcpy(c->text + c->len, s, n + 1);
    c->len += n;
}

static int safe_value(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* key=value line; a NULL value writes nothing. */
static void conf_set(struct st_conf_t *c, const char *key, const char *value)
{
    if (value == NULL)
        return;
    if (!safe_value(value)) {
        c->bad = 1;
        return;
    }
    char *line = pgw_asprintf("%s=%s\n", key, value);
    conf_raw(c, line);
    free(line);
}

static void conf_setf(struct st_conf_t *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void conf_setf(struct st_conf_t *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *value = pgw_vasprintf(fmt, ap);
    va_end(ap);
    conf_set(c, key, value);
    free(value);
}

static char *conf_finish(struct st_conf_t *c)
{
    if (c->bad) {
        free(c->text);
        return NULL;
    }
    return c->text;
}

void pgw_pgbackrest_render_opts_default(struct pgw_pgbackrest_render_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->repo_mount = PGW_PGBACKREST_REPO_MOUNT;
    opts->pg_path = PGW_POD_PGDATA_DIR;
    opts->socket_dir = PGW_POD_SOCKET_DIR;
    opts->pg_port = PGW_POD_PORT_POSTGRES;
    opts->lock_path = PGW_POD_PGBACKREST_LOCK_DIR;
    opts->spool_path = PGW_POD_PGBACKREST_LOCK_DIR "/spool";
    opts->log_path = PGW_POD_PGBACKREST_LOCK_DIR "/log";
    opts->tls_dir = PGW_POD_PGBACKREST_DIR;
    opts->tls_port = PGW_POD_PORT_PGBACKREST;
    opts->tls_address = "*";
    opts->process_max = 2;
    opts->archive_async = 1;
    opts->compress_type = "zst";
}

static const struct pgw_pgbackrest_render_opts *opts_or_default(const struct pgw_pgbackrest_render_opts *opts,
                                                                struct pgw_pgbackrest_render_opts *storage)
{
    if (opts != NULL)
        return opts;
    pgw_pgbackrest_render_opts_default(storage);
    return storage;
}

static const char *repo_string(const json_t *cluster, const char *kind, const char *key)
{
    json_t *r = json_object_get(pgw_cluster_spec(cluster, "backup.repository"), kind);
    return json_string_value(json_object_get(r, key));
}

/* The repository kind: "s3", "gcs", "azure", "volume", or NULL. */
static const char *repo_kind(const json_t *cluster)
{
    static const char *const kinds[] = {"s3", "gcs", "azure", "volume", NULL};
    json_t *repo = pgw_cluster_spec(cluster, "backup.repository");
    for (const char *const *k = kinds; *k != NULL; ++k)
        if (json_is_object(json_object_get(repo, *k)))
            return *k;
    return NULL;
}

/* spec.backup.path, or the default the mutator would have set. malloc'd. */
static char *backup_path(const json_t *cluster)
{
    const char *path = json_string_value(pgw_cluster_spec(cluster, "backup.path"));
    if (path != NULL && path[0] != '\0')
        return pgw_strdup(path);
    return pgw_asprintf("/%s/%s", pgw_cluster_namespace(cluster), pgw_cluster_name(cluster));
}

char *pgw_render_pgbackrest_repo_path(const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts)
{
    struct pgw_pgbackrest_render_opts storage;
    opts = opts_or_default(opts, &storage);
    const char *kind = repo_kind(cluster);
    if (kind == NULL)
        return NULL;
    char *path = backup_path(cluster);
    if (strcmp(kind, "volume") != 0)
        return path;
    char *full = pgw_asprintf("%s%s", opts->repo_mount, path);
    free(path);
    return full;
}

char *pgw_render_pgbackrest_repo_path_for(const json_t *cluster, const char *path, const struct pgw_pgbackrest_render_opts *opts)
{
    struct pgw_pgbackrest_render_opts storage;
    opts = opts_or_default(opts, &storage);
    const char *kind = repo_kind(cluster);
    if (kind != NULL && strcmp(kind, "volume") == 0)
        return pgw_asprintf("%s%s", opts->repo_mount, path);
    return pgw_strdup(path);
}

char *pgw_render_pgbackrest_repo_claim_name(const json_t *cluster)
{
    const char *shared = json_string_value(
        json_object_get(json_object_get(json_object_get(cluster, "metadata"), "annotations"), PGW_ANNOTATION_REPO_CLAIM));
    if (shared != NULL && shared[0] != '\0')
        return pgw_strdup(shared);
    return pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST_REPO);
}

/* Splits an S3 endpoint ("https://minio.local:9000/") into host and port (0 when none). */
static char *s3_endpoint_host(const char *endpoint, int *port)
{
    *port = 0;
    if (strncmp(endpoint, "https://", 8) == 0)
        endpoint += 8;
    else if (strncmp(endpoint, "http://", 7) == 0)
        endpoint += 7;
    char *host = pgw_strdup(endpoint);
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '/')
        host[--n] = '\0';
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *port = atoi(colon + 1);
        *colon = '\0';
    }
    return host;
}

static void repository(struct st_conf_t *c, const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts)
{
    const char *kind = repo_kind(cluster);
    char *path = pgw_render_pgbackrest_repo_path(cluster, opts);
    if (strcmp(kind, "s3") == 0) {
        conf_set(c, "repo1-type", "s3");
        conf_set(c, "repo1-path", path);
        conf_set(c, "repo1-s3-bucket", repo_string(cluster, "s3", "bucket"));
        const char *endpoint = repo_string(cluster, "s3", "endpoint");
        if (endpoint != NULL) {
            int port;
            char *host = s3_endpoint_host(endpoint, &port);
            conf_set(c, "repo1-s3-endpoint", host);
            if (port > 0)
                conf_setf(c, "repo1-s3-port", "%d", port);
            free(host);
        }
        conf_set(c, "repo1-s3-region", repo_string(cluster, "s3", "region"));
        const char *style = repo_string(cluster, "s3", "uriStyle");
        conf_set(c, "repo1-s3-uri-style", style != NULL ? style : "host");
        conf_set(c, "repo1-s3-key-type", "shared");
    } else if (strcmp(kind, "gcs") == 0) {
        conf_set(c, "repo1-type", "gcs");
        conf_set(c, "repo1-path", path);
        conf_set(c, "repo1-gcs-bucket", repo_string(cluster, "gcs", "bucket"));
        conf_set(c, "repo1-gcs-key-type", "service");
    } else if (strcmp(kind, "azure") == 0) {
        conf_set(c, "repo1-type", "azure");
        conf_set(c, "repo1-path", path);
        conf_set(c, "repo1-azure-account", repo_string(cluster, "azure", "account"));
        conf_set(c, "repo1-azure-container", repo_string(cluster, "azure", "container"));
        conf_set(c, "repo1-azure-key-type", "shared");
    } else {
        conf_set(c, "repo1-type", "posix");
        conf_set(c, "repo1-path", path);
    }
    free(path);
    if (json_is_string(pgw_cluster_spec(cluster, "backup.encryptionSecret")))
        conf_set(c, "repo1-cipher-type", "aes-256-cbc");
    conf_setf(c, "repo1-retention-full", "%lld", pgw_cluster_spec_int(cluster, "backup.retention.full", 2));
    const char *full_type = json_string_value(pgw_cluster_spec(cluster, "backup.retention.fullType"));
    conf_set(c, "repo1-retention-full-type", full_type != NULL ? full_type : "count");
    conf_setf(c, "repo1-retention-diff", "%lld", pgw_cluster_spec_int(cluster, "backup.retention.diff", 6));
}

/* [global] settings both sides share. */
static void global_common(struct st_conf_t *c, const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts)
{
    conf_raw(c, "# Written by pgwarden from the PostgresCluster spec; credentials come from the environment.\n"
                "[global]\n");
    repository(c, cluster, opts);
    conf_set(c, "compress-type", opts->compress_type);
    conf_setf(c, "process-max", "%d", opts->process_max > 0 ? opts->process_max : 1);
    conf_set(c, "start-fast", "y");
    conf_set(c, "lock-path", opts->lock_path);
    conf_set(c, "log-path", opts->log_path);
    conf_set(c, "log-level-console", "info");
    conf_set(c, "log-level-file", "off");
}

static void pg_local(struct st_conf_t *c, const char *index, const struct pgw_pgbackrest_render_opts *opts)
{
    char key[64];
    snprintf(key, sizeof(key), "pg%s-path", index);
    conf_set(c, key, opts->pg_path);
    snprintf(key, sizeof(key), "pg%s-socket-path", index);
    conf_set(c, key, opts->socket_dir);
    snprintf(key, sizeof(key), "pg%s-port", index);
    conf_setf(c, key, "%d", opts->pg_port);
}

char *pgw_render_pgbackrest_conf(const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts)
{
    struct pgw_pgbackrest_render_opts storage;
    opts = opts_or_default(opts, &storage);
    if (repo_kind(cluster) == NULL)
        return NULL;
    struct st_conf_t c = {0};
    global_common(&c, cluster, opts);
    if (opts->archive_async) {
        conf_set(&c, "archive-async", "y");
        conf_set(&c, "spool-path", opts->spool_path);
    }
    /* The sidecar's `pgbackrest server`: only the Jobs' client certificate may use stanza db. */
    conf_set(&c, "tls-server-address", opts->tls_address);
    conf_setf(&c, "tls-server-port", "%d", opts->tls_port);
    conf_setf(&c, "tls-server-cert-file", "%s/%s", opts->tls_dir, PGW_KEY_TLS_CERT);
    conf_setf(&c, "tls-server-key-file", "%s/%s", opts->tls_dir, PGW_KEY_TLS_KEY);
    conf_setf(&c, "tls-server-ca-file", "%s/%s", opts->tls_dir, PGW_KEY_TLS_CA);
    conf_set(&c, "tls-server-auth", PGW_PGBACKREST_CLIENT_CN "=" PGW_PGBACKREST_STANZA);
    conf_raw(&c, "\n[" PGW_PGBACKREST_STANZA "]\n");
    pg_local(&c, "1", opts);
    return conf_finish(&c);
}

char *pgw_render_pgbackrest_job_conf(const json_t *cluster, const struct pgw_pgbackrest_render_opts *opts)
{
    struct pgw_pgbackrest_render_opts storage;
    opts = opts_or_default(opts, &storage);
    if (repo_kind(cluster) == NULL)
        return NULL;
    struct st_conf_t c = {0};
    global_common(&c, cluster, opts);
    conf_raw(&c, "\n[" PGW_PGBACKREST_STANZA "]\n");
    size_t count = opts->pg_hosts != NULL ? opts->pg_host_count : (size_t)pgw_cluster_spec_int(cluster, "instances", 1);
    if (count < 1)
        count = 1;
    for (size_t i = 0; i != count; ++i) {
        char index[24], key[64];
        snprintf(index, sizeof(index), "%zu", i + 1);
        snprintf(key, sizeof(key), "pg%s-host", index);
        if (opts->pg_hosts != NULL) {
            conf_set(&c, key, opts->pg_hosts[i]);
        } else {
            /* The pods' stable names through the headless Service <cluster>-pods. */
            const char *name = pgw_cluster_name(cluster);
            conf_setf(&c, key, "%s-%zu.%s-pods", name, i, name);
        }
        snprintf(key, sizeof(key), "pg%s-host-type", index);
        conf_set(&c, key, "tls");
        snprintf(key, sizeof(key), "pg%s-host-port", index);
        conf_setf(&c, key, "%d", opts->tls_port);
        snprintf(key, sizeof(key), "pg%s-host-ca-file", index);
        conf_setf(&c, key, "%s/%s", opts->tls_dir, PGW_KEY_TLS_CA);
        snprintf(key, sizeof(key), "pg%s-host-cert-file", index);
        conf_setf(&c, key, "%s/%s", opts->tls_dir, PGW_KEY_TLS_CLIENT_CERT);
        snprintf(key, sizeof(key), "pg%s-host-key-file", index);
        conf_setf(&c, key, "%s/%s", opts->tls_dir, PGW_KEY_TLS_CLIENT_KEY);
        pg_local(&c, index, opts);
    }
    return conf_finish(&c);
}

char *pgw_render_pgbackrest_archive_command(const char *config_path)
{
    return pgw_asprintf("pgbackrest --stanza=" PGW_PGBACKREST_STANZA " --config=%s archive-push %%p", config_path);
}

static json_t *env_secret(const char *name, const char *secret, const char *key)
{
    return pgw_json_pack("{s:s,s:{s:{s:s,s:s}}}", "name", name, "valueFrom", "secretKeyRef", "name", secret, "key", key);
}

json_t *pgw_render_pgbackrest_env(const json_t *cluster)
{
    json_t *env = json_array();
    const char *kind = repo_kind(cluster);
    if (kind == NULL)
        return env;
    const char *secret = repo_string(cluster, kind, "credentialsSecret");
    if (strcmp(kind, "s3") == 0 && secret != NULL) {
        json_array_append_new(env, env_secret("PGBACKREST_REPO1_S3_KEY", secret, PGW_PGBACKREST_SECRET_S3_KEY));
        json_array_append_new(env, env_secret("PGBACKREST_REPO1_S3_KEY_SECRET", secret, PGW_PGBACKREST_SECRET_S3_KEY_SECRET));
    } else if (strcmp(kind, "azure") == 0 && secret != NULL) {
        json_array_append_new(env, env_secret("PGBACKREST_REPO1_AZURE_KEY", secret, PGW_PGBACKREST_SECRET_AZURE_KEY));
    } else if (strcmp(kind, "gcs") == 0) {
        json_array_append_new(env, pgw_json_pack("{s:s,s:s}", "name", "PGBACKREST_REPO1_GCS_KEY", "value",
                                                 PGW_PGBACKREST_REPO_CREDENTIALS_DIR "/" PGW_PGBACKREST_GCS_KEY_FILE));
    }
    const char *cipher = json_string_value(pgw_cluster_spec(cluster, "backup.encryptionSecret"));
    if (cipher != NULL)
        json_array_append_new(env, env_secret("PGBACKREST_REPO1_CIPHER_PASS", cipher, PGW_PGBACKREST_SECRET_CIPHER_PASS));
    return env;
}

void pgw_render_pgbackrest_repo_volumes(const json_t *cluster, json_t *volumes, json_t *mounts)
{
    const char *kind = repo_kind(cluster);
    if (kind == NULL)
        return;
    if (strcmp(kind, "gcs") == 0) {
        const char *secret = repo_string(cluster, "gcs", "credentialsSecret");
        json_array_append_new(volumes,
                              pgw_json_pack("{s:s,s:{s:s,s:i,s:[{s:s,s:s}]}}", "name", PGW_PGBACKREST_REPO_CREDENTIALS_VOLUME,
                                            "secret", "secretName", secret != NULL ? secret : "", "defaultMode", 0400, "items",
                                            "key", PGW_PGBACKREST_GCS_KEY_FILE, "path", PGW_PGBACKREST_GCS_KEY_FILE));
        json_array_append_new(mounts, pgw_json_pack("{s:s,s:s,s:b}", "name", PGW_PGBACKREST_REPO_CREDENTIALS_VOLUME, "mountPath",
                                                    PGW_PGBACKREST_REPO_CREDENTIALS_DIR, "readOnly", 1));
    } else if (strcmp(kind, "volume") == 0) {
        char *claim = pgw_render_pgbackrest_repo_claim_name(cluster);
        json_array_append_new(volumes, pgw_json_pack("{s:s,s:{s:s}}", "name", PGW_PGBACKREST_REPO_VOLUME, "persistentVolumeClaim",
                                                     "claimName", claim));
        json_array_append_new(
            mounts, pgw_json_pack("{s:s,s:s}", "name", PGW_PGBACKREST_REPO_VOLUME, "mountPath", PGW_PGBACKREST_REPO_MOUNT));
        free(claim);
    }
}

json_t *pgw_render_pgbackrest_repo_claim(const json_t *cluster)
{
    const char *kind = repo_kind(cluster);
    if (kind == NULL || strcmp(kind, "volume") != 0)
        return NULL;
    if (json_is_string(
            json_object_get(json_object_get(json_object_get(cluster, "metadata"), "annotations"), PGW_ANNOTATION_REPO_CLAIM)))
        return NULL; /* the source cluster's, shared */
    char *name = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST_REPO);
    json_t *pvc = pgw_child_object(cluster, "v1", "PersistentVolumeClaim", name, "backup");
    free(name);
    json_object_del(json_object_get(pvc, "metadata"), "ownerReferences");
    const char *size = repo_string(cluster, "volume", "size");
    json_t *spec = pgw_json_pack("{s:[s],s:{s:{s:s}}}", "accessModes", "ReadWriteMany", "resources", "requests", "storage",
                                 size != NULL ? size : "1Gi");
    const char *storage_class = repo_string(cluster, "volume", "storageClass");
    if (storage_class != NULL)
        json_object_set_new(spec, "storageClassName", json_string(storage_class));
    json_object_set_new(pvc, "spec", spec);
    return pvc;
}
