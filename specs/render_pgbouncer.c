/*
 * PgBouncer rendering (see render_pgbouncer.h for the authentication scheme).
 *
 * Everything that depends on the pod layout comes from the options, whose
 * defaults are specs/pod_layout.h; everything that depends on the user
 * comes from spec.pooler. Nothing here edits text after the fact: tests render
 * with other options instead of patching the output.
 */
#include "specs/render_pgbouncer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_sql.h"

void pgw_pgbouncer_render_opts_default(struct pgw_pgbouncer_render_opts *opts)
{
    opts->listen_addr = "0.0.0.0";
    opts->listen_port = PGW_POD_PORT_PGBOUNCER;
    opts->unix_socket_dir = PGW_POD_SOCKET_DIR;
    opts->server_host = PGW_POD_SOCKET_DIR;
    opts->server_port = PGW_POD_PORT_POSTGRES;
    opts->config_dir = PGW_POD_PGBOUNCER_DIR;
    opts->tls = 1;
}

/* Settings the operator owns; spec.pooler.parameters cannot override them. */
static const char *const managed[] = {
    "listen_addr",
    "listen_port",
    "unix_socket_dir",
    "unix_socket_mode",
    "unix_socket_group",
    "auth_type",
    "auth_file",
    "auth_hba_file",
    "auth_user",
    "auth_query",
    "auth_dbname",
    "pool_mode",
    "max_client_conn",
    "default_pool_size",
    "admin_users",
    "stats_users",
    "logfile",
    "pidfile",
    "user",
    "conffile",
    "service_name",
    NULL,
};

static int is_managed(const char *key)
{
    if (strncmp(key, "client_tls_", 11) == 0 || strncmp(key, "server_tls_", 11) == 0)
        return 1;
    for (size_t i = 0; managed[i] != NULL; ++i)
        if (strcmp(managed[i], key) == 0)
            return 1;
    return 0;
}

static long long int_or(const json_t *v, long long dflt)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : dflt;
}

long long pgw_pgbouncer_pool_size(const json_t *cluster)
{
    const json_t *pooler = json_object_get(json_object_get(cluster, "spec"), "pooler");
    return int_or(json_object_get(pooler, "defaultPoolSize"), PGW_POOLER_DEFAULT_POOL_SIZE);
}

static int safe_value(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* spec.pooler.parameters, sorted by key so the text (and its hash) is stable. */
static void write_parameters(FILE *fp, const json_t *params)
{
    if (!json_is_object(params) || json_object_size(params) == 0)
        return;
    size_t n = 0;
    const char **keys = pgw_calloc(json_object_size(params), sizeof(*keys));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)params, key, value) keys[n++] = key;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (size_t i = 0; i != n; ++i) {
        if (!pgw_sql_plain_identifier(keys[i]) || is_managed(keys[i]))
            continue;
        value = json_object_get(params, keys[i]);
        if (json_is_string(value) && safe_value(json_string_value(value)))
            fprintf(fp, "%s = %s\n", keys[i], json_string_value(value));
        else if (json_is_integer(value))
            fprintf(fp, "%s = %lld\n", keys[i], (long long)json_integer_value(value));
        else if (json_is_boolean(value))
            fprintf(fp, "%s = %d\n", keys[i], json_is_true(value) ? 1 : 0);
    }
    free(keys);
}

char *pgw_render_pgbouncer_ini(const json_t *cluster, const struct pgw_pgbouncer_render_opts *opts)
{
    struct pgw_pgbouncer_render_opts dflt;
    if (opts == NULL) {
        pgw_pgbouncer_render_opts_default(&dflt);
        opts = &dflt;
    }
    const json_t *pooler = json_object_get(json_object_get(cluster, "spec"), "pooler");
    const char *mode = json_string_value(json_object_get(pooler, "mode"));
    if (mode == NULL || (strcmp(mode, "session") != 0 && strcmp(mode, "transaction") != 0 && strcmp(mode, "statement") != 0))
        mode = PGW_POOLER_DEFAULT_MODE;
    const char *name = json_string_value(json_object_get(json_object_get(cluster, "metadata"), "name"));

    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    fprintf(fp, ";; PgBouncer for cluster %s, rendered by pgwarden. The controller owns this file.\n",
            name != NULL && safe_value(name) ? name : "(unnamed)");
    fprintf(fp, "[databases]\n* = host=%s port=%d\n\n", opts->server_host, opts->server_port);
    fprintf(fp, "[pgbouncer]\n");
    fprintf(fp, "listen_addr = %s\nlisten_port = %d\nunix_socket_dir = %s\n", opts->listen_addr, opts->listen_port,
            opts->unix_socket_dir);
    fprintf(fp, "auth_type = scram-sha-256\n");
    fprintf(fp, "auth_file = %s/%s\n", opts->config_dir, PGW_KEY_PGBOUNCER_USERLIST);
    fprintf(fp, "auth_user = %s\n", PGW_ROLE_PGBOUNCER);
    fprintf(fp, "auth_query = %s\n", PGW_PGBOUNCER_AUTH_QUERY);
    fprintf(fp, "admin_users = %s\n", PGW_ROLE_PGBOUNCER);
    fprintf(fp, "stats_users = %s, %s\n", PGW_ROLE_PGBOUNCER, PGW_ROLE_EXPORTER);
    fprintf(fp, "pool_mode = %s\n", mode);
    fprintf(fp, "max_client_conn = %lld\n",
            int_or(json_object_get(pooler, "maxClientConnections"), PGW_POOLER_DEFAULT_MAX_CLIENT_CONN));
    fprintf(fp, "default_pool_size = %lld\n", pgw_pgbouncer_pool_size(cluster));
    /* JDBC and some drivers send these; PgBouncer would refuse the connection otherwise. */
    fprintf(fp, "ignore_startup_parameters = extra_float_digits,options\n");
    if (opts->tls) {
        fprintf(fp, "client_tls_sslmode = prefer\n");
        fprintf(fp, "client_tls_cert_file = %s/%s\n", opts->config_dir, PGW_KEY_TLS_CERT);
        fprintf(fp, "client_tls_key_file = %s/%s\n", opts->config_dir, PGW_KEY_TLS_KEY);
        fprintf(fp, "client_tls_protocols = secure\n");
    }
    write_parameters(fp, json_object_get(pooler, "parameters"));
    fclose(fp);
    return text;
}

char *pgw_render_pgbouncer_userlist(const char *auth_password)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    fprintf(fp, "\"%s\" \"", PGW_ROLE_PGBOUNCER);
    for (const char *p = auth_password; *p; ++p) {
        if (*p == '"')
            fputc('"', fp);
        fputc(*p, fp);
    }
    fprintf(fp, "\"\n");
    fclose(fp);
    return text;
}

char *pgw_render_pgbouncer_auth_function_sql(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    const char *role = PGW_ROLE_PGBOUNCER;
    fprintf(fp,
            "CREATE SCHEMA IF NOT EXISTS pgwarden;\n"
            "REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC;\n"
            "GRANT USAGE ON SCHEMA pgwarden TO %s;\n",
            role);
    /* SECURITY DEFINER with a pinned search_path; only ordinary login roles are served. */
    fprintf(fp,
            "CREATE OR REPLACE FUNCTION pgwarden.get_auth(p_username text)\n"
            "  RETURNS TABLE (username text, password text)\n"
            "  LANGUAGE sql STABLE SECURITY DEFINER\n"
            "  SET search_path = pg_catalog, pg_temp\n"
            "AS $fn$\n"
            "  SELECT a.rolname::text, a.rolpassword::text\n"
            "    FROM pg_catalog.pg_authid a\n"
            "   WHERE a.rolname = p_username\n"
            "     AND a.rolcanlogin\n"
            "     AND NOT a.rolsuper\n"
            "     AND NOT a.rolreplication\n"
            "     AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > pg_catalog.now())\n"
            "$fn$;\n"
            "REVOKE ALL ON FUNCTION pgwarden.get_auth(text) FROM PUBLIC;\n"
            "GRANT EXECUTE ON FUNCTION pgwarden.get_auth(text) TO %s;\n",
            role);
    fclose(fp);
    return text;
}

char *pgw_render_pgbouncer_sql(const json_t *cluster, const char *auth_password)
{
    (void)cluster; /* the same in every cluster today; kept so callers need no change when it is not */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    const char *role = PGW_ROLE_PGBOUNCER;
    fprintf(fp,
            "-- PgBouncer auth_query support, rendered by pgwarden. Idempotent; run as a superuser\n"
            "-- in template1 and in every database.\n"
            "DO $pgw$\nBEGIN\n"
            "  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '%s') THEN\n"
            "    CREATE ROLE %s;\n"
            "  END IF;\nEND\n$pgw$;\n",
            role, role);
    fprintf(fp,
            "ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT 10 PASSWORD ",
            role);
    int bad = pgw_sql_write_password(fp, auth_password, "pgbouncer_password");
    fprintf(fp, ";\n");
    char *function = pgw_render_pgbouncer_auth_function_sql();
    fputs(function, fp);
    free(function);
    fclose(fp);
    if (bad) {
        free(text);
        return NULL;
    }
    return text;
}
