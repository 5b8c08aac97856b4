/*
 * Tests for the operator configuration (common/config.c): every default, the
 * PGWARDEN_* environment, the YAML/JSON file, precedence (flags > env > file >
 * defaults) and rejection of bad values. Check runs each test in its own
 * process, so environment changes do not leak between tests.
 */
#include "helpers.h"
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"

#define STR_FIELD(f) offsetof(struct pgw_config, f)

static const char *str_at(const struct pgw_config *cfg, size_t offset)
{
    return *(char *const *)((const char *)cfg + offset);
}

static const struct {
    const char *key, *env;
    size_t offset;
    const char *default_value; /* NULL: unset */
} strings[] = {
    {"images.postgres.14", "PGWARDEN_IMAGE_POSTGRES_14", STR_FIELD(postgres_images[0]), "ghcr.io/pgwarden/postgres:14"},
    {"images.postgres.15", "PGWARDEN_IMAGE_POSTGRES_15", STR_FIELD(postgres_images[1]), "ghcr.io/pgwarden/postgres:15"},
    {"images.postgres.16", "PGWARDEN_IMAGE_POSTGRES_16", STR_FIELD(postgres_images[2]), "ghcr.io/pgwarden/postgres:16"},
    {"images.postgres.17", "PGWARDEN_IMAGE_POSTGRES_17", STR_FIELD(postgres_images[3]), "ghcr.io/pgwarden/postgres:17"},
    {"images.postgres.18", "PGWARDEN_IMAGE_POSTGRES_18", STR_FIELD(postgres_images[4]), "ghcr.io/pgwarden/postgres:18"},
    {"images.pgbouncer", "PGWARDEN_IMAGE_PGBOUNCER", STR_FIELD(pgbouncer.image), "ghcr.io/cloudnative-pg/pgbouncer:1.24.1"},
    {"images.exporter", "PGWARDEN_IMAGE_EXPORTER", STR_FIELD(exporter.image),
     "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"},
    {"images.pgbackrest", "PGWARDEN_IMAGE_PGBACKREST", STR_FIELD(pgbackrest.image), "ghcr.io/pgwarden/pgbackrest:2.56"},
    {"imagePullPolicy", "PGWARDEN_IMAGE_PULL_POLICY", STR_FIELD(image_pull_policy), "IfNotPresent"},
    {"resources.pgbouncer.requests.cpu", "PGWARDEN_PGBOUNCER_CPU_REQUEST", STR_FIELD(pgbouncer.cpu_request), "50m"},
    {"resources.pgbouncer.limits.cpu", "PGWARDEN_PGBOUNCER_CPU_LIMIT", STR_FIELD(pgbouncer.cpu_limit), NULL},
    {"resources.pgbouncer.requests.memory", "PGWARDEN_PGBOUNCER_MEMORY_REQUEST", STR_FIELD(pgbouncer.memory_request), "32Mi"},
    {"resources.pgbouncer.limits.memory", "PGWARDEN_PGBOUNCER_MEMORY_LIMIT", STR_FIELD(pgbouncer.memory_limit), "128Mi"},
    {"resources.exporter.requests.cpu", "PGWARDEN_EXPORTER_CPU_REQUEST", STR_FIELD(exporter.cpu_request), "10m"},
    {"resources.exporter.limits.cpu", "PGWARDEN_EXPORTER_CPU_LIMIT", STR_FIELD(exporter.cpu_limit), NULL},
    {"resources.exporter.requests.memory", "PGWARDEN_EXPORTER_MEMORY_REQUEST", STR_FIELD(exporter.memory_request), "32Mi"},
    {"resources.exporter.limits.memory", "PGWARDEN_EXPORTER_MEMORY_LIMIT", STR_FIELD(exporter.memory_limit), "128Mi"},
    {"resources.pgbackrest.requests.cpu", "PGWARDEN_PGBACKREST_CPU_REQUEST", STR_FIELD(pgbackrest.cpu_request), "10m"},
    {"resources.pgbackrest.limits.cpu", "PGWARDEN_PGBACKREST_CPU_LIMIT", STR_FIELD(pgbackrest.cpu_limit), NULL},
    {"resources.pgbackrest.requests.memory", "PGWARDEN_PGBACKREST_MEMORY_REQUEST", STR_FIELD(pgbackrest.memory_request), "64Mi"},
    {"resources.pgbackrest.limits.memory", "PGWARDEN_PGBACKREST_MEMORY_LIMIT", STR_FIELD(pgbackrest.memory_limit), "512Mi"},
    {"watchNamespaces", "PGWARDEN_WATCH_NAMESPACES", STR_FIELD(watch_namespaces), ""},
    {"operatorNamespace", "PGWARDEN_OPERATOR_NAMESPACE", STR_FIELD(operator_namespace), "pgwarden-system"},
    {"serviceName", "PGWARDEN_SERVICE_NAME", STR_FIELD(service_name), "pgwarden-webhook"},
    {"listen", "PGWARDEN_LISTEN", STR_FIELD(listen), "0.0.0.0:9443"},
    {"healthListen", "PGWARDEN_HEALTH_LISTEN", STR_FIELD(health_listen), "0.0.0.0:8080"},
    {"certDir", "PGWARDEN_CERT_DIR", STR_FIELD(cert_dir), "/var/run/pgwarden/certs"},
    {"clientCAFile", "PGWARDEN_CLIENT_CA_FILE", STR_FIELD(client_ca_file), NULL},
    {"kubeconfig", "PGWARDEN_KUBECONFIG", STR_FIELD(kubeconfig), NULL},
    {"controller", "PGWARDEN_CONTROLLER", STR_FIELD(controller_mode), "auto"},
    {"apiListen", "PGWARDEN_API_LISTEN", STR_FIELD(api_listen), "0.0.0.0:9444"},
};

static const struct {
    const char *key, *env;
    size_t offset;
    unsigned default_value;
} uints[] = {
    {"threads", "PGWARDEN_THREADS", offsetof(struct pgw_config, threads), 0},
    {"requestTimeoutMs", "PGWARDEN_REQUEST_TIMEOUT_MS", offsetof(struct pgw_config, request_timeout_ms), 10000},
    {"shutdownGraceMs", "PGWARDEN_SHUTDOWN_GRACE_MS", offsetof(struct pgw_config, shutdown_grace_ms), 25000},
    {"certPollMs", "PGWARDEN_CERT_POLL_MS", offsetof(struct pgw_config, cert_poll_ms), 10000},
    {"controllerWorkers", "PGWARDEN_CONTROLLER_WORKERS", offsetof(struct pgw_config, controller_workers), 4},
    {"kubeApiQps", "PGWARDEN_KUBE_API_QPS", offsetof(struct pgw_config, kube_api_qps), 500},
    {"kubeApiBurst", "PGWARDEN_KUBE_API_BURST", offsetof(struct pgw_config, kube_api_burst), 1000},
    {"kubeApiTimeoutMs", "PGWARDEN_KUBE_API_TIMEOUT_MS", offsetof(struct pgw_config, kube_api_timeout_ms), 30000},
    {"resyncSeconds", "PGWARDEN_RESYNC_SECONDS", offsetof(struct pgw_config, resync_seconds), 600},
};

static unsigned uint_at(const struct pgw_config *cfg, size_t offset)
{
    return *(const unsigned *)((const char *)cfg + offset);
}

START_TEST(test_string_default_env_and_key)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    const char *got = str_at(&cfg, strings[_i].offset);
    if (strings[_i].default_value == NULL)
        ck_assert_msg(got == NULL, "%s: default %s, want unset", strings[_i].key, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, strings[_i].default_value) == 0, "%s: default %s", strings[_i].key,
                      got ? got : "(unset)");

    /* The environment variable overrides the default ... */
    char *err = NULL;
    setenv(strings[_i].env, "from-env", 1);
    ck_assert_int_eq(pgw_config_apply_env(&cfg, &err), 0);
    ck_assert_str_eq(str_at(&cfg, strings[_i].offset), "from-env");
    unsetenv(strings[_i].env);
    /* ... and the file key (as a flag would) overrides that. */
    ck_assert_int_eq(pgw_config_set(&cfg, strings[_i].key, "from-key", &err), 0);
    ck_assert_str_eq(str_at(&cfg, strings[_i].offset), "from-key");
    ck_assert_ptr_null(err);
    pgw_config_dispose(&cfg);
}
END_TEST

START_TEST(test_uint_default_env_and_key)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    ck_assert_uint_eq(uint_at(&cfg, uints[_i].offset), uints[_i].default_value);
    char *err = NULL;
    setenv(uints[_i].env, "1234", 1);
    ck_assert_int_eq(pgw_config_apply_env(&cfg, &err), 0);
    ck_assert_uint_eq(uint_at(&cfg, uints[_i].offset), 1234);
    unsetenv(uints[_i].env);
    ck_assert_int_eq(pgw_config_set(&cfg, uints[_i].key, "0", &err), 0);
    ck_assert_uint_eq(uint_at(&cfg, uints[_i].offset), 0);
    ck_assert_int_eq(pgw_config_set(&cfg, uints[_i].key, "2147483647", &err), 0);
    ck_assert_uint_eq(uint_at(&cfg, uints[_i].offset), 2147483647u);
    pgw_config_dispose(&cfg);
}
END_TEST

static const char *const bad_uints[] = {"", "abc", "-1", "12x", "2147483648", "99999999999999999999", "1.5"};

START_TEST(test_uint_rejects)
{
    for (size_t k = 0; k < sizeof(uints) / sizeof(uints[0]); ++k) {
        struct pgw_config cfg;
        pgw_config_init_defaults(&cfg);
        char *err = NULL;
        ck_assert_int_eq(pgw_config_set(&cfg, uints[k].key, bad_uints[_i], &err), -1);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, uints[k].key) != NULL && strstr(err, "non-negative integer") != NULL, "%s", err);
        free(err);
        ck_assert_uint_eq(uint_at(&cfg, uints[k].offset), uints[k].default_value); /* unchanged */

        /* The same value from the environment names the variable. */
        err = NULL;
        setenv(uints[k].env, bad_uints[_i], 1);
        ck_assert_int_eq(pgw_config_apply_env(&cfg, &err), -1);
        ck_assert_msg(err != NULL && strncmp(err, uints[k].env, strlen(uints[k].env)) == 0, "%s", err ? err : "");
        free(err);
        unsetenv(uints[k].env);
        pgw_config_dispose(&cfg);
    }
}
END_TEST

static const struct {
    const char *value;
    int level; /* -1: rejected */
} levels[] = {
    {"debug", PGW_LOG_DEBUG},
    {"info", PGW_LOG_INFO},
    {"warn", PGW_LOG_WARN},
    {"error", PGW_LOG_ERROR},
    {"verbose", -1},
    {"", -1},
    {"INFOX", -1},
};

/* The API's seconds: a default, a range, and one checked against the other. */
START_TEST(test_api_seconds)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    ck_assert_uint_eq(cfg.api_session_seconds, 900);
    ck_assert_uint_eq(cfg.api_key_rotation_seconds, 86400);
    char *err = NULL;
    ck_assert_int_eq(pgw_config_check(&cfg, &err), 0);
    static const struct {
        const char *key, *value;
        int ok;
    } rows[] = {
        {"apiSessionSeconds", "60", 0},     {"apiSessionSeconds", "86400", 0},        {"apiSessionSeconds", "59", -1},
        {"apiSessionSeconds", "86401", -1}, {"apiKeyRotationSeconds", "3600", 0},     {"apiKeyRotationSeconds", "3599", -1},
        {"apiKeyRotationSeconds", "0", -1}, {"apiKeyRotationSeconds", "31536000", 0}, {"apiKeyRotationSeconds", "31536001", -1},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        ck_assert_msg(pgw_config_set(&cfg, rows[i].key, rows[i].value, &err) == rows[i].ok, "%s=%s", rows[i].key, rows[i].value);
        if (rows[i].ok != 0) {
            ck_assert_msg(strstr(err, "outside") != NULL, "%s", err);
            free(err);
            err = NULL;
        }
    }
    ck_assert_int_eq(pgw_config_set(&cfg, "apiSessionSeconds", "7200", &err), 0);
    ck_assert_int_eq(pgw_config_set(&cfg, "apiKeyRotationSeconds", "3600", &err), 0);
    ck_assert_int_eq(pgw_config_check(&cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err, "apiKeyRotationSeconds"));
    free(err);
    ck_assert_int_eq(pgw_config_api_enabled(&cfg), 1);
    pgw_config_set(&cfg, "apiListen", "off", &err);
    ck_assert_int_eq(pgw_config_api_enabled(&cfg), 0);
    pgw_config_set(&cfg, "apiListen", "", &err);
    ck_assert_int_eq(pgw_config_api_enabled(&cfg), 0);
    pgw_config_dispose(&cfg);
}
END_TEST

START_TEST(test_log_level)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    ck_assert_int_eq(cfg.log_level, PGW_LOG_INFO);
    char *err = NULL;
    int rc = pgw_config_set(&cfg, "logLevel", levels[_i].value, &err);
    if (levels[_i].level < 0) {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(err != NULL && strstr(err, "logLevel") != NULL, "%s", err ? err : "");
        ck_assert_int_eq(cfg.log_level, PGW_LOG_INFO);
        free(err);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(cfg.log_level, levels[_i].level);
    }
    pgw_config_dispose(&cfg);
}
END_TEST

START_TEST(test_postgres_image_lookup)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    ck_assert_str_eq(pgw_config_postgres_image(&cfg, 14), "ghcr.io/pgwarden/postgres:14");
    ck_assert_str_eq(pgw_config_postgres_image(&cfg, 18), "ghcr.io/pgwarden/postgres:18");
    ck_assert_ptr_null(pgw_config_postgres_image(&cfg, 13));
    ck_assert_ptr_null(pgw_config_postgres_image(&cfg, 19));
    ck_assert_ptr_null(pgw_config_postgres_image(&cfg, -1));
    pgw_config_dispose(&cfg);
}
END_TEST

START_TEST(test_unknown_key)
{
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    char *err = NULL;
    ck_assert_int_eq(pgw_config_set(&cfg, "images.postgres.13", "x", &err), -1);
    ck_assert_str_eq(err, "unknown setting \"images.postgres.13\"");
    free(err);
    pgw_config_dispose(&cfg);
}
END_TEST

/* Writes `text` to a fresh temporary file; returns its malloc'd path. */
static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/pgw-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

START_TEST(test_file_yaml)
{
    char *path = write_temp("images:\n"
                            "  postgres:\n"
                            "    17: registry.example/pg:17.6\n"
                            "  pgbouncer: registry.example/pgbouncer:1\n"
                            "resources:\n"
                            "  pgbouncer:\n"
                            "    limits: {cpu: 500m}\n"
                            "watchNamespaces: a,b\n"
                            "logLevel: debug\n"
                            "threads: 4\n"
                            "requestTimeoutMs: 0x10\n");
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    char *err = NULL;
    ck_assert_msg(pgw_config_apply_file(&cfg, path, &err) == 0, "%s", err ? err : "");
    ck_assert_str_eq(pgw_config_postgres_image(&cfg, 17), "registry.example/pg:17.6");
    ck_assert_str_eq(pgw_config_postgres_image(&cfg, 16), "ghcr.io/pgwarden/postgres:16"); /* untouched */
    ck_assert_str_eq(cfg.pgbouncer.image, "registry.example/pgbouncer:1");
    ck_assert_str_eq(cfg.pgbouncer.cpu_limit, "500m");
    ck_assert_str_eq(cfg.pgbouncer.cpu_request, "50m");
    ck_assert_str_eq(cfg.watch_namespaces, "a,b");
    ck_assert_int_eq(cfg.log_level, PGW_LOG_DEBUG);
    ck_assert_uint_eq(cfg.threads, 4);
    ck_assert_uint_eq(cfg.request_timeout_ms, 16);
    pgw_config_dispose(&cfg);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_file_json)
{
    char *path = write_temp("{\"operatorNamespace\": \"ops\", \"images\": {\"exporter\": \"e:1\"}, \"certPollMs\": 250}");
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    char *err = NULL;
    ck_assert_msg(pgw_config_apply_file(&cfg, path, &err) == 0, "%s", err ? err : "");
    ck_assert_str_eq(cfg.operator_namespace, "ops");
    ck_assert_str_eq(cfg.exporter.image, "e:1");
    ck_assert_uint_eq(cfg.cert_poll_ms, 250);
    pgw_config_dispose(&cfg);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_empty_file_keeps_defaults)
{
    char *path = write_temp("# nothing here\n");
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    char *err = NULL;
    ck_assert_int_eq(pgw_config_apply_file(&cfg, path, &err), 0);
    ck_assert_str_eq(cfg.listen, "0.0.0.0:9443");
    pgw_config_dispose(&cfg);
    unlink(path);
    free(path);
}
END_TEST

/* flags (pgw_config_set) > environment > file > defaults, applied in that order by `serve`. */
START_TEST(test_precedence)
{
    char *path = write_temp("listen: 127.0.0.1:1\nhealthListen: 127.0.0.1:2\ncertDir: /file\n");
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    char *err = NULL;
    setenv("PGWARDEN_LISTEN", "127.0.0.1:10", 1);
    setenv("PGWARDEN_HEALTH_LISTEN", "127.0.0.1:20", 1);
    ck_assert_int_eq(pgw_config_apply_file(&cfg, path, &err), 0);
    ck_assert_int_eq(pgw_config_apply_env(&cfg, &err), 0);
    ck_assert_int_eq(pgw_config_set(&cfg, "listen", "127.0.0.1:100", &err), 0);
    ck_assert_str_eq(cfg.listen, "127.0.0.1:100");          /* flag */
    ck_assert_str_eq(cfg.health_listen, "127.0.0.1:20");    /* env */
    ck_assert_str_eq(cfg.cert_dir, "/file");                /* file */
    ck_assert_str_eq(cfg.service_name, "pgwarden-webhook"); /* default */
    pgw_config_dispose(&cfg);
    unlink(path);
    free(path);
}
END_TEST

static const struct {
    const char *text, *want_err; /* substring; the path prefix is checked separately */
} bad_files[] = {
    {"nosuch: 1\n", "unknown setting \"nosuch\""},
    {"images:\n  postgres:\n    13: x\n", "unknown setting \"images.postgres.13\""},
    {"threads: -2\n", "threads: \"-2\" is not a non-negative integer"},
    {"threads: many\n", "threads: \"many\" is not a non-negative integer"},
    {"logLevel: loud\n", "logLevel: \"loud\" is not one of"},
    {"listen: [a, b]\n", "listen: must be a string or an integer"},
    {"controller: on\n", "controller: must be a string or an integer"}, /* YAML 1.1: on is a boolean */
    {"kubeconfig: 1.5\n", "kubeconfig: must be a string or an integer"},
    {"- a\n- b\n", "must hold one mapping"},
    {"a: 1\n---\nb: 2\n", "must hold one mapping"},
    {"listen: x\nlisten: y\n", "duplicate key \"listen\""},
    {"listen: [\n", "YAML error at line"},
};

START_TEST(test_bad_files)
{
    char *path = write_temp(bad_files[_i].text);
    struct pgw_config cfg;
    pgw_config_init_defaults(&cfg);
    char *err = NULL;
    ck_assert_int_eq(pgw_config_apply_file(&cfg, path, &err), -1);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error does not name the file: %s", err);
    ck_assert_msg(strstr(err, bad_files[_i].want_err) != NULL, "%s: error \"%s\" lacks \"%s\"", bad_files[_i].text, err,
                  bad_files[_i].want_err);
    free(err);
    pgw_config_dispose(&cfg);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_unreadable_files)
{
    const char *paths[] = {"/nonexistent/pgwarden.yaml", "/tmp"};
    const char *reasons[] = {"No such file or directory", "Is a directory"};
    for (int i = 0; i < 2; ++i) {
        struct pgw_config cfg;
        pgw_config_init_defaults(&cfg);
        char *err = NULL;
        ck_assert_int_eq(pgw_config_apply_file(&cfg, paths[i], &err), -1);
        ck_assert_msg(err != NULL && strstr(err, paths[i]) != NULL && strstr(err, reasons[i]) != NULL, "%s",
                      err ? err : "(no error)");
        free(err);
        pgw_config_dispose(&cfg);
    }
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_string_default_env_and_key, 0, sizeof(strings) / sizeof(strings[0]));
    tcase_add_loop_test(tc, test_uint_default_env_and_key, 0, sizeof(uints) / sizeof(uints[0]));
    tcase_add_loop_test(tc, test_uint_rejects, 0, sizeof(bad_uints) / sizeof(bad_uints[0]));
    tcase_add_loop_test(tc, test_log_level, 0, sizeof(levels) / sizeof(levels[0]));
    tcase_add_test(tc, test_api_seconds);
    tcase_add_test(tc, test_postgres_image_lookup);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_file_yaml);
    tcase_add_test(tc, test_file_json);
    tcase_add_test(tc, test_empty_file_keeps_defaults);
    tcase_add_test(tc, test_precedence);
    tcase_add_loop_test(tc, test_bad_files, 0, sizeof(bad_files) / sizeof(bad_files[0]));
    tcase_add_test(tc, test_unreadable_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(config_suite());
}
