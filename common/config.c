/*
 * Operator configuration. One table maps each setting to its config-file key,
 * its environment variable and its field, so flags, environment and file can
 * never disagree about names.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/read_all.h"
#include "common/xalloc.h"
#include "common/yaml.h"

enum setting_type { SETTING_STRING, SETTING_UINT, SETTING_LOG_LEVEL };

struct setting {
    const char *key; /* config file key, dotted */
    const char *env; /* PGWARDEN_* */
    enum setting_type type;
    size_t offset;
};

#define FIELD(f) offsetof(struct pgw_config, f)

static const struct setting settings[] = {
    {"images.postgres.14", "PGWARDEN_IMAGE_POSTGRES_14", SETTING_STRING, FIELD(postgres_images[0])},
    {"images.postgres.15", "PGWARDEN_IMAGE_POSTGRES_15", SETTING_STRING, FIELD(postgres_images[1])},
    {"images.postgres.16", "PGWARDEN_IMAGE_POSTGRES_16", SETTING_STRING, FIELD(postgres_images[2])},
    {"images.postgres.17", "PGWARDEN_IMAGE_POSTGRES_17", SETTING_STRING, FIELD(postgres_images[3])},
    {"images.postgres.18", "PGWARDEN_IMAGE_POSTGRES_18", SETTING_STRING, FIELD(postgres_images[4])},
    {"images.pgbouncer", "PGWARDEN_IMAGE_PGBOUNCER", SETTING_STRING, FIELD(pgbouncer.image)},
    {"images.exporter", "PGWARDEN_IMAGE_EXPORTER", SETTING_STRING, FIELD(exporter.image)},
    {"images.pgbackrest", "PGWARDEN_IMAGE_PGBACKREST", SETTING_STRING, FIELD(pgbackrest.image)},
    {"imagePullPolicy", "PGWARDEN_IMAGE_PULL_POLICY", SETTING_STRING, FIELD(image_pull_policy)},
    {"resources.pgbouncer.requests.cpu", "PGWARDEN_PGBOUNCER_CPU_REQUEST", SETTING_STRING, FIELD(pgbouncer.cpu_request)},
    {"resources.pgbouncer.limits.cpu", "PGWARDEN_PGBOUNCER_CPU_LIMIT", SETTING_STRING, FIELD(pgbouncer.cpu_limit)},
    {"resources.pgbouncer.requests.memory", "PGWARDEN_PGBOUNCER_MEMORY_REQUEST", SETTING_STRING, FIELD(pgbouncer.memory_request)},
    {"resources.pgbouncer.limits.memory", "PGWARDEN_PGBOUNCER_MEMORY_LIMIT", SETTING_STRING, FIELD(pgbouncer.memory_limit)},
    {"resources.exporter.requests.cpu", "PGWARDEN_EXPORTER_CPU_REQUEST", SETTING_STRING, FIELD(exporter.cpu_request)},
    {"resources.exporter.limits.cpu", "PGWARDEN_EXPORTER_CPU_LIMIT", SETTING_STRING, FIELD(exporter.cpu_limit)},
    {"resources.exporter.requests.memory", "PGWARDEN_EXPORTER_MEMORY_REQUEST", SETTING_STRING, FIELD(exporter.memory_request)},
    {"resources.exporter.limits.memory", "PGWARDEN_EXPORTER_MEMORY_LIMIT", SETTING_STRING, FIELD(exporter.memory_limit)},
    {"resources.pgbackrest.requests.cpu", "PGWARDEN_PGBACKREST_CPU_REQUEST", SETTING_STRING, FIELD(pgbackrest.cpu_request)},
    {"resources.pgbackrest.limits.cpu", "PGWARDEN_PGBACKREST_CPU_LIMIT", SETTING_STRING, FIELD(pgbackrest.cpu_limit)},
    {"resources.pgbackrest.requests.memory", "PGWARDEN_PGBACKREST_MEMORY_REQUEST", SETTING_STRING,
     FIELD(pgbackrest.memory_request)},
    {"resources.pgbackrest.limits.memory", "PGWARDEN_PGBACKREST_MEMORY_LIMIT", SETTING_STRING, FIELD(pgbackrest.memory_limit)},
    {"watchNamespaces", "PGWARDEN_WATCH_NAMESPACES", SETTING_STRING, FIELD(watch_namespaces)},
    {"operatorNamespace", "PGWARDEN_OPERATOR_NAMESPACE", SETTING_STRING, FIELD(operator_namespace)},
    {"serviceName", "PGWARDEN_SERVICE_NAME", SETTING_STRING, FIELD(service_name)},
    {"listen", "PGWARDEN_LISTEN", SETTING_STRING, FIELD(listen)},
    {"healthListen", "PGWARDEN_HEALTH_LISTEN", SETTING_STRING, FIELD(health_listen)},
    {"certDir", "PGWARDEN_CERT_DIR", SETTING_STRING, FIELD(cert_dir)},
    {"clientCAFile", "PGWARDEN_CLIENT_CA_FILE", SETTING_STRING, FIELD(client_ca_file)},
    {"kubeconfig", "PGWARDEN_KUBECONFIG", SETTING_STRING, FIELD(kubeconfig)},
    {"controller", "PGWARDEN_CONTROLLER", SETTING_STRING, FIELD(controller_mode)},
    {"mutatingWebhooks", "PGWARDEN_MUTATING_WEBHOOKS", SETTING_STRING, FIELD(mutating_webhooks)},
    {"validatingWebhooks", "PGWARDEN_VALIDATING_WEBHOOKS", SETTING_STRING, FIELD(validating_webhooks)},
    {"controllerWorkers", "PGWARDEN_CONTROLLER_WORKERS", SETTING_UINT, FIELD(controller_workers)},
    {"kubeApiQps", "PGWARDEN_KUBE_API_QPS", SETTING_UINT, FIELD(kube_api_qps)},
    {"kubeApiBurst", "PGWARDEN_KUBE_API_BURST", SETTING_UINT, FIELD(kube_api_burst)},
    {"kubeApiTimeoutMs", "PGWARDEN_KUBE_API_TIMEOUT_MS", SETTING_UINT, FIELD(kube_api_timeout_ms)},
    {"resyncSeconds", "PGWARDEN_RESYNC_SECONDS", SETTING_UINT, FIELD(resync_seconds)},
    {"logLevel", "PGWARDEN_LOG_LEVEL", SETTING_LOG_LEVEL, FIELD(log_level)},
    {"threads", "PGWARDEN_THREADS", SETTING_UINT, FIELD(threads)},
    {"requestTimeoutMs", "PGWARDEN_REQUEST_TIMEOUT_MS", SETTING_UINT, FIELD(request_timeout_ms)},
    {"shutdownGraceMs", "PGWARDEN_SHUTDOWN_GRACE_MS", SETTING_UINT, FIELD(shutdown_grace_ms)},
    {"certPollMs", "PGWARDEN_CERT_POLL_MS", SETTING_UINT, FIELD(cert_poll_ms)},
    {"benchEndpoint", "PGWARDEN_BENCH_ENDPOINT", SETTING_UINT, FIELD(bench_endpoint)},
    {"apiListen", "PGWARDEN_API_LISTEN", SETTING_STRING, FIELD(api_listen)},
    {"apiSessionSeconds", "PGWARDEN_API_SESSION_SECONDS", SETTING_UINT, FIELD(api_session_seconds)},
    {"apiKeyRotationSeconds", "PGWARDEN_API_KEY_ROTATION_SECONDS", SETTING_UINT, FIELD(api_key_rotation_seconds)},
};

/* The numbers with a range of their own (the rest take 0..2^31-1). */
static const struct {
    const char *key;
    unsigned min, max;
} ranges[] = {
    {"apiSessionSeconds", 60, 86400},
    {"apiKeyRotationSeconds", 3600, 31536000},
};

static int out_of_range(const struct setting *s, unsigned long v, char **err)
{
    for (size_t i = 0; i != sizeof(ranges) / sizeof(ranges[0]); ++i)
        if (strcmp(ranges[i].key, s->key) == 0 && (v < ranges[i].min || v > ranges[i].max)) {
            *err = pgw_asprintf("%s: %lu is outside %u..%u", s->key, v, ranges[i].min, ranges[i].max);
            return 1;
        }
    return 0;
}

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = value != NULL ? pgw_strdup(value) : NULL;
}

void pgw_config_init_defaults(struct pgw_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (int major = PGW_PG_MAJOR_MIN; major <= PGW_PG_MAJOR_MAX; ++major)
        cfg->postgres_images[major - PGW_PG_MAJOR_MIN] = pgw_asprintf("ghcr.io/pgwarden/postgres:%d", major);
    set_string(&cfg->pgbouncer.image, "ghcr.io/cloudnative-pg/pgbouncer:1.24.1");
    set_string(&cfg->pgbouncer.cpu_request, "50m");
    set_string(&cfg->pgbouncer.memory_request, "32Mi");
    set_string(&cfg->pgbouncer.memory_limit, "128Mi");
    set_string(&cfg->exporter.image, "quay.io/prometheuscommunity/postgres-exporter:v0.17.1");
    set_string(&cfg->exporter.cpu_request, "10m");
    set_string(&cfg->exporter.memory_request, "32Mi");
    set_string(&cfg->exporter.memory_limit, "128Mi");
    set_string(&cfg->pgbackrest.image, "ghcr.io/pgwarden/pgbackrest:2.56");
    set_string(&cfg->pgbackrest.cpu_request, "10m");
    set_string(&cfg->pgbackrest.memory_request, "64Mi");
    set_string(&cfg->pgbackrest.memory_limit, "512Mi");
    set_string(&cfg->image_pull_policy, "IfNotPresent");
    set_string(&cfg->watch_namespaces, "");
    set_string(&cfg->operator_namespace, "pgwarden-system");
    set_string(&cfg->service_name, "pgwarden-webhook");
    set_string(&cfg->listen, "0.0.0.0:9443");
    set_string(&cfg->health_listen, "0.0.0.0:8080");
    set_string(&cfg->cert_dir, "/var/run/pgwarden/certs");
    set_string(&cfg->controller_mode, "auto");
    set_string(&cfg->mutating_webhooks, "pgwarden-mutating");
    set_string(&cfg->validating_webhooks, "pgwarden-validating");
    cfg->controller_workers = 4;
    /* Enough for 1,000 clusters to start within a minute, still a ceiling for a runaway loop. */
    cfg->kube_api_qps = 500;
    cfg->kube_api_burst = 1000;
    cfg->kube_api_timeout_ms = 30000;
    cfg->resync_seconds = 600;
    cfg->log_level = PGW_LOG_INFO;
    cfg->threads = 0;
    cfg->request_timeout_ms = 10000;
    cfg->shutdown_grace_ms = 25000;
    cfg->cert_poll_ms = 10000;
    set_string(&cfg->api_listen, "0.0.0.0:9444");
    cfg->api_session_seconds = 900;
    cfg->api_key_rotation_seconds = 86400;
}

static int apply(struct pgw_config *cfg, const struct setting *s, const char *value, char **err)
{
    void *slot = (char *)cfg + s->offset;
    switch (s->type) {
    case SETTING_STRING:
        set_string(slot, value);
        return 0;
    case SETTING_UINT: {
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v > 0x7fffffffUL || value[0] == '-') {
            *err = pgw_asprintf("%s: \"%s\" is not a non-negative integer", s->key, value);
            return -1;
        }
        if (out_of_range(s, v, err))
            return -1;
        *(unsigned *)slot = (unsigned)v;
        return 0;
    }
    case SETTING_LOG_LEVEL: {
        int level = pgw_log_parse_level(value);
        if (level < 0) {
            *err = pgw_asprintf("%s: \"%s\" is not one of debug, info, warn, error", s->key, value);
            return -1;
        }
        *(int *)slot = level;
        return 0;
    }
    }
    return -1;
}

int pgw_config_set(struct pgw_config *cfg, const char *key, const char *value, char **err)
{
    for (size_t i = 0; i != sizeof(settings) / sizeof(settings[0]); ++i)
        if (strcmp(settings[i].key, key) == 0)
            return apply(cfg, &settings[i], value, err);
    *err = pgw_asprintf("unknown setting \"%s\"", key);
    return -1;
}

int pgw_config_apply_env(struct pgw_config *cfg, char **err)
{
    for (size_t i = 0; i != sizeof(settings) / sizeof(settings[0]); ++i) {
        const char *v = getenv(settings[i].env);
        if (v != NULL && apply(cfg, &settings[i], v, err) != 0) {
            char *inner = *err;
            *err = pgw_asprintf("%s: %s", settings[i].env, inner);
            free(inner);
            return -1;
        }
    }
    return 0;
}

/* Flattens nested objects into dotted keys and applies each scalar. */
static int apply_tree(struct pgw_config *cfg, const char *prefix, json_t *node, char **err)
{
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v)
    {
        char *key = prefix[0] ? pgw_asprintf("%s.%s", prefix, k) : pgw_strdup(k);
        int rc = 0;
        if (json_is_object(v)) {
            rc = apply_tree(cfg, key, v, err);
        } else if (json_is_string(v)) {
            rc = pgw_config_set(cfg, key, json_string_value(v), err);
        } else if (json_is_integer(v)) {
            char buf[32];
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            rc = pgw_config_set(cfg, key, buf, err);
        } else {
            *err = pgw_asprintf("%s: must be a string or an integer", key);
            rc = -1;
        }
        free(key);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int pgw_config_apply_file(struct pgw_config *cfg, const char *path, char **err)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        *err = pgw_asprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *text = pgw_read_all(fp, 0, &len);
    int read_errno = errno; /* e.g. EISDIR: a directory opens but cannot be read */
    fclose(fp);
    if (text == NULL) {
        *err = pgw_asprintf("%s: %s", path, strerror(read_errno));
        return -1;
    }

    char *perr = NULL;
    json_t *docs = pgw_yaml_load_all(text, len, &perr);
    free(text);
    int rc = -1;
    if (docs == NULL) {
        *err = pgw_asprintf("%s: %s", path, perr);
    } else if (json_array_size(docs) > 1 || (json_array_size(docs) == 1 && !json_is_object(json_array_get(docs, 0)))) {
        *err = pgw_asprintf("%s: must hold one mapping", path);
    } else if (json_array_size(docs) == 0) {
        rc = 0;
    } else {
        char *inner = NULL;
        rc = apply_tree(cfg, "", json_array_get(docs, 0), &inner);
        if (rc != 0)
            *err = pgw_asprintf("%s: %s", path, inner);
        free(inner);
    }
    free(perr);
    json_decref(docs);
    return rc;
}

int pgw_config_check(const struct pgw_config *cfg, char **err)
{
    /* A session outlives at most one rotation: tokens signed with the previous key still verify, older ones not. */
    if (cfg->api_key_rotation_seconds < cfg->api_session_seconds) {
        *err = pgw_asprintf("apiKeyRotationSeconds (%u) must be at least apiSessionSeconds (%u)", cfg->api_key_rotation_seconds,
                            cfg->api_session_seconds);
        return -1;
    }
    return 0;
}

int pgw_config_api_enabled(const struct pgw_config *cfg)
{
    return cfg->api_listen != NULL && cfg->api_listen[0] != '\0' && strcmp(cfg->api_listen, "off") != 0;
}

const char *pgw_config_postgres_image(const struct pgw_config *cfg, int major)
{
    if (major < PGW_PG_MAJOR_MIN || major > PGW_PG_MAJOR_MAX)
        return NULL;
    return cfg->postgres_images[major - PGW_PG_MAJOR_MIN];
}

void pgw_config_dispose(struct pgw_config *cfg)
{
    for (size_t i = 0; i != sizeof(settings) / sizeof(settings[0]); ++i)
        if (settings[i].type == SETTING_STRING)
            set_string((char **)((char *)cfg + settings[i].offset), NULL);
}
