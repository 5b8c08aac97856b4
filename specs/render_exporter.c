/*
 * postgres_exporter rendering (see render_exporter.h).
 *
 * DATA_SOURCE_URI carries no credentials: the exporter joins it with
 * DATA_SOURCE_USER and the password read from DATA_SOURCE_PASS_FILE into
 * "postgresql://user:pass@<uri>". With an empty host and `host=<directory>` in
 * the query string, lib/pq connects over the unix socket in that directory.
 */
#include "specs/render_exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_meta.h"
#include "specs/render_pgbouncer.h"
#include "specs/render_sql.h"

void pgw_exporter_render_opts_default(struct pgw_exporter_render_opts *opts)
{
    opts->socket_dir = PGW_POD_SOCKET_DIR;
    opts->port = PGW_POD_PORT_POSTGRES;
    opts->database = PGW_DB_MAINTENANCE;
    opts->password_file = PGW_POD_EXPORTER_DIR "/" PGW_KEY_EXPORTER_PASSWORD;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void write_query_value(FILE *fp, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            fputc(*p, fp);
        else
            fprintf(fp, "%%%02X", *p);
    }
}

static json_t *env_var(const char *name, const char *value)
{
    return pgw_json_pack("{s:s,s:s}", "name", name, "value", value);
}

json_t *pgw_render_exporter_env(const struct pgw_exporter_render_opts *opts)
{
    struct pgw_exporter_render_opts dflt;
    if (opts == NULL) {
        pgw_exporter_render_opts_default(&dflt);
        opts = &dflt;
    }
    char *uri = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&uri, &len);
    fputc('/', fp);
    write_query_value(fp, opts->database);
    fputs("?host=", fp);
    write_query_value(fp, opts->socket_dir);
    fprintf(fp, "&port=%d&sslmode=disable", opts->port);
    fclose(fp);
    json_t *env = json_array();
    json_array_append_new(env, env_var("DATA_SOURCE_URI", uri));
    json_array_append_new(env, env_var("DATA_SOURCE_USER", PGW_ROLE_EXPORTER));
    json_array_append_new(env, env_var("DATA_SOURCE_PASS_FILE", opts->password_file));
    free(uri);
    return env;
}

json_t *pgw_render_exporter_args(const char *listen_address)
{
    char *listen = pgw_asprintf("--web.listen-address=%s", listen_address);
    json_t *args = pgw_json_pack("[s,s]", listen, "--web.telemetry-path=" PGW_POD_METRICS_PATH);
    free(listen);
    return args;
}

const char *pgw_exporter_queries_configmap(const json_t *cluster)
{
    const json_t *metrics = json_object_get(json_object_get(cluster, "spec"), "metrics");
    if (json_is_false(json_object_get(metrics, "enabled")))
        return NULL;
    const char *name = json_string_value(json_object_get(metrics, "customQueriesConfigMap"));
    return name != NULL && name[0] != '\0' ? name : NULL;
}

/* A postgres_exporter column: LABEL or GAUGE, with its description. */
static void query_column(FILE *fp, const char *name, const char *usage, const char *description)
{
    fprintf(fp, "    - %s:\n        usage: \"%s\"\n        description: \"%s\"\n", name, usage, description);
}

char *pgw_render_exporter_queries(const json_t *cluster)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    fputs("# postgres_exporter custom queries, rendered by pgwarden (docs/monitoring.md).\n", fp);
    if (pgw_cluster_spec_bool(cluster, "pooler.enabled", 1)) {
        fprintf(fp,
                "pg_pooler:\n"
                "  query: \"SELECT a.datname, a.usename, count(*) AS server_connections, %lld AS pool_size"
                " FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid"
                " WHERE a.backend_type = 'client backend' AND a.client_port = -1 AND NOT r.rolsuper"
                " AND a.usename NOT IN ('%s', '%s') GROUP BY a.datname, a.usename\"\n"
                "  metrics:\n",
                pgw_pgbouncer_pool_size(cluster), PGW_ROLE_EXPORTER, PGW_ROLE_PGBOUNCER);
        query_column(fp, "datname", "LABEL", "Database of the pool");
        query_column(fp, "usename", "LABEL", "Role of the pool");
        query_column(fp, "server_connections", "GAUGE", "PgBouncer server connections of the pool (unix-socket sessions)");
        query_column(fp, "pool_size", "GAUGE", "PgBouncer default_pool_size as pgwarden rendered it");
    }
    fputs("pg_replica_lag:\n"
          "  query: \"SELECT application_name, COALESCE(EXTRACT(EPOCH FROM replay_lag), 0) AS replay_lag_seconds"
          " FROM pg_catalog.pg_stat_replication\"\n"
          "  metrics:\n",
          fp);
    query_column(fp, "application_name", "LABEL", "The replica (its pod name)");
    query_column(fp, "replay_lag_seconds", "GAUGE", "pg_stat_replication.replay_lag on the primary, in seconds");
    fclose(fp);
    return text;
}

char *pgw_render_exporter_sql(const json_t *cluster, const char *password)
{
    (void)cluster; /* the same in every cluster today */
    const char *role = PGW_ROLE_EXPORTER;
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    fprintf(fp,
            "-- postgres_exporter role, rendered by pgwarden. Idempotent; run once as a superuser.\n"
            "DO $pgw$\nBEGIN\n"
            "  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '%s') THEN\n"
            "    CREATE ROLE %s;\n"
            "  END IF;\nEND\n$pgw$;\n"
            "ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT 5 PASSWORD ",
            role, role, role);
    int bad = pgw_sql_write_password(fp, password, "exporter_password");
    fprintf(fp, ";\nGRANT pg_monitor TO %s;\n", role);
    /* Monitoring sessions must never hold a scrape hostage. */
    fprintf(fp, "ALTER ROLE %s SET statement_timeout = '10s';\n", role);
    fclose(fp);
    if (bad) {
        free(text);
        return NULL;
    }
    return text;
}
