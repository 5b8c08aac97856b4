/*
 * ConfigMaps: patroni.yml and its post-bootstrap script, pgbouncer.ini,
 * pgbackrest.conf (instance and job sides) when a repository is configured,
 * the exporter's custom queries. No credential ever lands here: scripts read passwords from
 * environment variables that come from Secrets.
 */
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_exporter.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/render_pgbouncer.h"

static json_t *configmap(const json_t *cluster, const char *suffix, const char *component, json_t *data)
{
    char *name = pgw_child_name(cluster, suffix);
    json_t *cm = pgw_child_object(cluster, "v1", "ConfigMap", name, component);
    free(name);
    json_object_set_new(cm, "data", data);
    return cm;
}

/* Runs once on the first primary, after initdb: roles and database, passwords as psql variables. */
static const char post_bootstrap_sh[] = "#!/bin/sh\n"
                                        "# Written by pgwarden. Patroni runs it once after initdb with a connection URL.\n"
                                        "set -eu\n"
                                        "# The superuser's password from the pod, not Patroni's pgpass: libpq looks a\n"
                                        "# socket in its default directory up as \"localhost\", which the pgpass line\n"
                                        "# Patroni writes (the socket path) does not match.\n"
                                        "export PGPASSWORD=\"$PGW_SUPERUSER_PASSWORD\"\n"
                                        "exec psql \"$1\" -v ON_ERROR_STOP=1 \\\n"
                                        "  -v app_password=\"$PGW_APP_PASSWORD\" \\\n"
                                        "  -v pgbouncer_password=\"$PGW_PGBOUNCER_PASSWORD\" \\\n"
                                        "  -v exporter_password=\"$PGW_EXPORTER_PASSWORD\" \\\n"
                                        "  -f /etc/patroni/bootstrap.sql\n";

/*
 * Runs after initdb on the first primary. The pooler's auth function goes into
 * template1 first, so every database created later (the application's too)
 * inherits it; passwords are psql variables, never literals in this ConfigMap.
 */
static char *bootstrap_sql(const json_t *cluster)
{
    json_t *initdb = pgw_cluster_spec(cluster, "bootstrap.initdb");
    const char *db = json_string_value(json_object_get(initdb, "database"));
    const char *owner = json_string_value(json_object_get(initdb, "owner"));
    char *pooler = pgw_render_pgbouncer_sql(cluster, NULL), *exporter = pgw_render_exporter_sql(cluster, NULL);
    /*
     * Idempotent: a cluster restored from a backup already has these roles and
     * database (with the source's passwords), so they are created only when
     * missing and the passwords are always reset to this cluster's Secrets.
     * Identifiers are validated as plain lowercase SQL names at admission; quote them anyway.
     */
    const char *o = owner ? owner : "app", *d = db ? db : "app";
    char *sql = pgw_asprintf("-- Written by pgwarden: roles and databases of the cluster. Idempotent.\n"
                             "%s"
                             "\\connect template1\n%s"
                             "\\connect postgres\n%s"
                             "DO $pgw$\nBEGIN\n"
                             "  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '%s') THEN\n"
                             "    CREATE ROLE \"%s\";\n"
                             "  END IF;\nEND\n$pgw$;\n"
                             "ALTER ROLE \"%s\" WITH LOGIN PASSWORD :'app_password';\n"
                             "SELECT 'CREATE DATABASE \"%s\" OWNER \"%s\"'\n"
                             " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = '%s')\\gexec\n",
                             exporter, pooler, pooler, o, o, o, d, o, d);
    free(pooler);
    free(exporter);
    return sql;
}

void pgw_render_configmaps(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out)
{
    json_t *patroni = pgw_render_patroni_config(cluster, ctx);
    char *patroni_text = json_dumps(patroni, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *sql = bootstrap_sql(cluster);
    json_array_append_new(out, configmap(cluster, PGW_SUFFIX_PATRONI, "database",
                                         pgw_json_pack("{s:s,s:s,s:s}", "patroni.yml", patroni_text, "post-bootstrap.sh",
                                                       post_bootstrap_sh, "bootstrap.sql", sql)));
    free(patroni_text);
    free(sql);
    json_decref(patroni);

    if (pgw_cluster_spec_bool(cluster, "pooler.enabled", 1)) {
        struct pgw_pgbouncer_render_opts opts;
        pgw_pgbouncer_render_opts_default(&opts);
        char *ini = pgw_render_pgbouncer_ini(cluster, &opts);
        json_array_append_new(
            out, configmap(cluster, PGW_SUFFIX_PGBOUNCER, "pooler", pgw_json_pack("{s:s}", PGW_KEY_PGBOUNCER_INI, ini)));
        free(ini);
    }

    if (pgw_cluster_spec_bool(cluster, "metrics.enabled", 1)) { /* mounted only when no customQueriesConfigMap is named */
        char *queries = pgw_render_exporter_queries(cluster);
        json_array_append_new(
            out, configmap(cluster, PGW_SUFFIX_EXPORTER, "metrics", pgw_json_pack("{s:s}", PGW_KEY_EXPORTER_QUERIES, queries)));
        free(queries);
    }

    char *instance = pgw_render_pgbackrest_conf(cluster, NULL), *job = pgw_render_pgbackrest_job_conf(cluster, NULL);
    if (instance != NULL && job != NULL)
        json_array_append_new(
            out, configmap(cluster, PGW_SUFFIX_PGBACKREST, "backup",
                           pgw_json_pack("{s:s,s:s}", PGW_KEY_PGBACKREST_CONF, instance, PGW_KEY_PGBACKREST_JOB_CONF, job)));
    free(instance);
    free(job);
}
