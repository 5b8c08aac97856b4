/*
 * Operator configuration: images, sidecar resources, namespaces, listeners, log level.
 *
 * Precedence (highest first): command-line flags, PGWARDEN_* environment, the
 * optional config file (YAML or JSON), then built-in defaults. Built-in defaults
 * work with no file at all.
 *
 * Ownership: every string in struct pgw_config is owned by it; pgw_config_dispose
 * frees them. Code that only reads the config takes `const struct pgw_config *`.
 */
#ifndef PGW_COMMON_CONFIG_H
#define PGW_COMMON_CONFIG_H

#include <stddef.h>

#define PGW_PG_MAJOR_MIN 14
#define PGW_PG_MAJOR_MAX 18
#define PGW_PG_MAJOR_COUNT (PGW_PG_MAJOR_MAX - PGW_PG_MAJOR_MIN + 1)

struct pgw_sidecar_config {
    char *image;
    char *cpu_request, *cpu_limit; /* Kubernetes quantities; NULL = unset */
    char *memory_request, *memory_limit;
};

struct pgw_config {
    char *postgres_images[PGW_PG_MAJOR_COUNT]; /* index: major - PGW_PG_MAJOR_MIN */
    struct pgw_sidecar_config pgbouncer, exporter, pgbackrest;
    char *image_pull_policy;           /* IfNotPresent */
    char *watch_namespaces;            /* comma-separated; "" watches all */
    char *operator_namespace;          /* pgwarden-system */
    char *service_name;                /* pgwarden-webhook */
    char *listen;                      /* 0.0.0.0:9443 */
    char *health_listen;               /* 0.0.0.0:8080 */
    char *cert_dir;                    /* /var/run/pgwarden/certs */
    char *client_ca_file;              /* when set, kube-apiserver must present a client cert signed by it */
    char *kubeconfig;                  /* NULL: in-cluster or none */
    char *controller_mode;             /* auto|on|off */
    char *mutating_webhooks;           /* our MutatingWebhookConfigurations (comma-separated) whose caBundle we keep */
    char *validating_webhooks;         /* our ValidatingWebhookConfigurations */
    unsigned controller_workers;       /* reconcile workers; 0 = 4 */
    unsigned kube_api_qps;             /* controller's client-side request rate limit; 0 = none (API Priority and Fairness only) */
    unsigned kube_api_burst;           /* requests allowed at once above the rate */
    unsigned kube_api_timeout_ms;      /* one API request (not a watch); 0 = 30 s */
    unsigned resync_seconds;           /* re-read every child and reconcile every object this often; 0 = never */
    int log_level;                     /* PGW_LOG_* */
    unsigned threads;                  /* event loops; 0 = one per core */
    unsigned request_timeout_ms;       /* slow or half-sent requests are cut after this */
    unsigned shutdown_grace_ms;        /* SIGTERM drain limit */
    unsigned cert_poll_ms;             /* certificate file polling period */
    unsigned bench_endpoint;           /* 1: serve POST /bench/fixed, a constant answer for benchmarks */
    char *api_listen;                  /* REST API and web UI (HTTPS): 0.0.0.0:9444; "" or "off" disables */
    unsigned api_session_seconds;      /* a session token's life: 900 (60..86400) */
    unsigned api_key_rotation_seconds; /* the session signing key is replaced this often: 86400 */
};

/* Fills `cfg` with the built-in defaults. */
void pgw_config_init_defaults(struct pgw_config *cfg);
/* Applies PGWARDEN_* environment variables. Returns 0, or -1 with a message in *err (caller frees). */
int pgw_config_apply_env(struct pgw_config *cfg, char **err);
/* Applies a YAML or JSON config file. Returns 0, or -1 with a message in *err (caller frees). */
int pgw_config_apply_file(struct pgw_config *cfg, const char *path, char **err);
/* Sets one setting by its file key ("pgbouncer.image", "logLevel", ...). Returns 0, or -1 if unknown/invalid. */
int pgw_config_set(struct pgw_config *cfg, const char *key, const char *value, char **err);
/* Checks settings against each other (after flags, environment and file). Returns 0, or -1 with *err (caller frees). */
int pgw_config_check(const struct pgw_config *cfg, char **err);
/* 1 when the API listener is on (api_listen neither "" nor "off"). */
int pgw_config_api_enabled(const struct pgw_config *cfg);
/* Image for a PostgreSQL major, or NULL if the major is unsupported. Borrowed. */
const char *pgw_config_postgres_image(const struct pgw_config *cfg, int major);
void pgw_config_dispose(struct pgw_config *cfg);

#endif
