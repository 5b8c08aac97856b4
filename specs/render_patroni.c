/*
 * patroni.yml for a cluster (DESIGN.md §6, "Patroni settings").
 *
 * Patroni reads YAML, and JSON is YAML, so the configuration is built as a
 * jansson document (easy to test structurally) and serialised once.
 *
 * What goes where:
 *  - bootstrap.dcs: spec.replication (HA timings, synchronous mode, failsafe
 *    mode), the user's spec.postgres.parameters and postgresql.pg_hba (local
 *    socket and replication rules, then the user's lines, then TLS-only
 *    password access for everyone else). After bootstrap, changes travel
 *    through the `<cluster>-config` endpoints annotation, which the controller
 *    patches; this file only seeds the first start.
 *  - postgresql.parameters (local): what pgwarden owns and users may not set:
 *    sockets, archiving through pgBackRest, TLS files. Local settings win over
 *    the DCS ones in Patroni, so an edited DCS cannot break them.
 *  - no local postgresql.pg_hba: it would win over the dynamic one, and
 *    Patroni reads patroni.yml only at start, so a spec.postgres.pgHba edit
 *    would never reach a running instance. bootstrap.pg_hba stays, inert:
 *    Patroni 4.1.5 does not need it but 3.0's schema (Debian bookworm's
 *    package) requires it, and both append it to initdb's pg_hba.conf only
 *    when no postgresql.pg_hba is in effect, which bootstrap.dcs provides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_backup.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/replication.h"

static json_t *initdb_options(const json_t *cluster)
{
    json_t *initdb = pgw_cluster_spec(cluster, "bootstrap.initdb"), *opts = json_array();
    const char *encoding = json_string_value(json_object_get(initdb, "encoding"));
    const char *locale = json_string_value(json_object_get(initdb, "locale"));
    json_array_append_new(opts, pgw_json_pack("{s:s}", "encoding", encoding ? encoding : "UTF8"));
    json_array_append_new(opts, pgw_json_pack("{s:s}", "locale", locale ? locale : "C"));
    json_t *checksums = json_object_get(initdb, "dataChecksums");
    if (checksums == NULL || json_is_true(checksums))
        json_array_append_new(opts, json_string("data-checksums"));
    json_array_append_new(opts, pgw_json_pack("{s:s}", "auth", "scram-sha-256"));
    return opts;
}

json_t *pgw_render_pg_hba(const json_t *cluster)
{
    json_t *hba = pgw_json_pack("[s,s,s]", "local all all scram-sha-256", "hostssl replication replicator all scram-sha-256",
                                "host replication replicator 127.0.0.1/32 scram-sha-256");
    json_t *user = pgw_cluster_spec(cluster, "postgres.pgHba");
    size_t i;
    json_t *line;
    json_array_foreach(user, i, line)
    {
        if (json_is_string(line))
            json_array_append(hba, line);
    }
    json_array_append_new(hba, json_string("hostssl all all all scram-sha-256"));
    return hba;
}

/* A JSON string that takes over a malloc'd C string. */
static json_t *json_string_nocheck_own(char *s)
{
    json_t *v = json_string(s);
    free(s);
    return v;
}

static json_t *local_parameters(const json_t *cluster)
{
    json_t *p = pgw_json_pack("{s:s,s:s,s:s,s:s,s:s}", "unix_socket_directories", PGW_POD_SOCKET_DIR, "ssl", "on", "ssl_cert_file",
                              "/etc/pgwarden/tls/tls.crt", "ssl_key_file", "/etc/pgwarden/tls/tls.key", "ssl_ca_file",
                              "/etc/pgwarden/tls/ca.crt");
    if (pgw_cluster_spec(cluster, "backup.repository") != NULL) {
        json_object_set_new(p, "archive_mode", json_string("on"));
        json_object_set_new(
            p, "archive_command",
            json_string_nocheck_own(pgw_render_pgbackrest_archive_command(PGW_POD_PGBACKREST_DIR "/" PGW_KEY_PGBACKREST_CONF)));
        json_object_set_new(p, "archive_timeout", json_string("60s"));
    }
    return p;
}

json_t *pgw_render_patroni_dcs_parameters(const json_t *cluster)
{
    json_t *params = json_object(), *user = pgw_cluster_spec(cluster, "postgres.parameters");
    if (json_is_object(user))
        json_object_update(params, user);
    /* HA needs these; validation already refuses weaker user values when instances > 1. */
    if (json_object_get(params, "wal_level") == NULL)
        json_object_set_new(params, "wal_level", json_string("replica"));
    if (json_object_get(params, "hot_standby") == NULL)
        json_object_set_new(params, "hot_standby", json_string("on"));
    if (json_object_get(params, "wal_log_hints") == NULL)
        json_object_set_new(params, "wal_log_hints", json_string("on")); /* pg_rewind after failover */
    if (json_object_get(params, "password_encryption") == NULL)
        json_object_set_new(params, "password_encryption", json_string("scram-sha-256"));
    return params;
}

/* Appends `arg` to `out`, single-quoted for /bin/sh. */
static void shell_quote(FILE *out, const char *arg)
{
    fputc('\'', out);
    for (const char *p = arg; *p != '\0'; ++p) {
        if (*p == '\'')
            fputs("'\\''", out);
        else
            fputc(*p, out);
    }
    fputc('\'', out);
}

/*
 * A cluster bootstrapped from a backup: Patroni's custom bootstrap method runs
 * `pgbackrest restore` with the requested target (and --target-action=promote)
 * instead of initdb, and keeps the recovery settings pgBackRest writes. The
 * repository is the source cluster's, named by the annotation that
 * pgw_render_restore_cluster() sets.
 */
static void add_restore_method(const json_t *cluster, json_t *bootstrap)
{
    const json_t *restore = pgw_cluster_spec(cluster, "bootstrap.restore");
    if (!json_is_object(restore))
        return;
    const json_t *annotations = json_object_get(json_object_get(cluster, "metadata"), "annotations");
    const char *source_path = json_string_value(json_object_get(annotations, PGW_ANNOTATION_RESTORE_REPO_PATH));
    /* The annotation holds the source's spec.backup.path; a volume repository is mounted under repo_mount. */
    char *repo_path = source_path != NULL ? pgw_render_pgbackrest_repo_path_for(cluster, source_path, NULL) : NULL;
    struct pgw_restore_params params = {
        .config_path = PGW_POD_PGBACKREST_DIR "/" PGW_KEY_PGBACKREST_CONF,
        .repo_path = repo_path,
        .backup_label = NULL,
        .target = json_object_get(restore, "target"),
    };
    char *err = NULL;
    json_t *args = pgw_render_restore_args(&params, &err);
    free(repo_path);
    if (args == NULL) { /* validation refuses such targets before we get here */
        free(err);
        return;
    }
    char *command = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&command, &len);
    size_t i;
    json_t *arg;
    json_array_foreach(args, i, arg)
    {
        if (i != 0)
            fputc(' ', fp);
        shell_quote(fp, json_string_value(arg));
    }
    fclose(fp);
    json_decref(args);
    json_object_set_new(bootstrap, "method", json_string("pgbackrest"));
    json_object_set_new(bootstrap, "pgbackrest",
                        pgw_json_pack("{s:s,s:b,s:b}", "command", command, "keep_existing_recovery_conf", 1, "no_params", 1));
    free(command);
}

json_t *pgw_render_patroni_config(const json_t *cluster, const struct pgw_render_ctx *ctx)
{
    char *postgres_listen = pgw_asprintf("0.0.0.0:%d", PGW_POD_PORT_POSTGRES);
    char *restapi_listen = pgw_asprintf("0.0.0.0:%d", PGW_POD_PORT_PATRONI);
    (void)ctx;
    const char *name = pgw_cluster_name(cluster);
    json_t *labels = pgw_json_pack("{s:s,s:s}", "app.kubernetes.io/instance", name, PGW_POD_LABEL_CLUSTER, name);
    json_t *ports = pgw_json_pack("[{s:s,s:i},{s:s,s:i}]", "name", PGW_POD_PORT_POSTGRES_NAME, "port", PGW_POD_PORT_POSTGRES,
                                  "name", PGW_POD_PORT_PGBOUNCER_NAME, "port", PGW_POD_PORT_PGBOUNCER);
    json_t *kubernetes =
        pgw_json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:b,s:o}", "namespace", pgw_cluster_namespace(cluster), "labels", labels,
                      "scope_label", PGW_POD_LABEL_CLUSTER, "role_label", "pgwarden.io/role", "leader_label_value", "primary",
                      "follower_label_value", "replica", "use_endpoints", 1, "ports", ports);
    /* spec.replication (timings, synchronous mode, failsafe) and postgresql.pg_hba seed the same keys the controller
     * keeps in step later. */
    json_t *dcs = pgw_render_patroni_dcs_settings(cluster);
    json_object_set_new(dcs, "maximum_lag_on_failover", json_integer(1048576));
    json_object_update_new(json_object_get(dcs, "postgresql"),
                           pgw_json_pack("{s:b,s:b,s:o}", "use_pg_rewind", 1, "use_slots", 1, "parameters",
                                         pgw_render_patroni_dcs_parameters(cluster)));
    json_t *bootstrap = pgw_json_pack("{s:o,s:o,s:o,s:s}", "dcs", dcs, "initdb", initdb_options(cluster), "pg_hba",
                                      pgw_render_pg_hba(cluster), "post_bootstrap", "/etc/patroni/post-bootstrap.sh");
    add_restore_method(cluster, bootstrap);
    json_t *postgresql = pgw_json_pack("{s:s,s:s,s:s,s:s,s:{s:{s:s},s:{s:s},s:{s:s}},s:o,s:b}", "listen", postgres_listen,
                                       "data_dir", PGW_POD_PGDATA_DIR, "pgpass", "/tmp/pgpass", "bin_dir", "", "authentication",
                                       "superuser", "username", "postgres", "replication", "username", "replicator", "rewind",
                                       "username", "postgres", "parameters", local_parameters(cluster), "use_unix_socket", 1);
    /* A new replica clones with a fast checkpoint: a spread one makes it wait up to
     * checkpoint_completion_target of checkpoint_timeout (measured: 80 s for an idle primary). */
    json_t *basebackup = pgw_json_pack("[{s:s}]", "checkpoint", "fast");
    if (pgw_cluster_spec(cluster, "storage.walSize") != NULL)
        json_array_append_new(basebackup, pgw_json_pack("{s:s}", "waldir", PGW_POD_PGWAL_MOUNT "/pg_wal"));
    json_object_set_new(postgresql, "basebackup", basebackup);
    json_object_del(postgresql, "bin_dir"); /* the image puts postgres on PATH */
    json_t *config = pgw_json_pack("{s:s,s:{s:s},s:o,s:o,s:o,s:{s:b,s:b,s:b,s:b}}", "scope", name, "restapi", "listen",
                                   restapi_listen, "kubernetes", kubernetes, "bootstrap", bootstrap, "postgresql", postgresql,
                                   "tags", "nofailover", 0, "noloadbalance", 0, "clonefrom", 0, "nosync", 0);
    free(postgres_listen);
    free(restapi_listen);
    return config;
}
