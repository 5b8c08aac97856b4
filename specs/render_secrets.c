/*
 * Generated credentials. Passwords are 24 random bytes, base64url-encoded
 * without padding (32 characters, safe in URIs and pgpass files).
 *
 * The controller creates a Secret only when it does not exist, so what is
 * rendered here is used once; rendering twice gives different passwords.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/certs.h"
#include "common/base64.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/render_pgbouncer.h"

#define PASSWORD_BYTES 24

static char *new_password(const struct pgw_render_ctx *ctx)
{
    unsigned char raw[PASSWORD_BYTES];
    if (ctx->random_bytes != NULL)
        ctx->random_bytes(raw, sizeof(raw));
    else if (RAND_bytes(raw, sizeof(raw)) != 1)
        abort(); /* no entropy: never fall back to a weak password */
    char *out = pgw_base64_encode(raw, sizeof(raw));
    size_t n = strlen(out);
    for (size_t i = 0; i < n; ++i) /* base64url */
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    return out;
}

static json_t *secret(const json_t *cluster, const char *suffix, const char *component, json_t *string_data)
{
    char *name = pgw_child_name(cluster, suffix);
    json_t *s = pgw_child_object(cluster, "v1", "Secret", name, component);
    free(name);
    json_object_set_new(s, "type", json_string("kubernetes.io/basic-auth"));
    json_object_set_new(s, "stringData", string_data);
    return s;
}

/*
 * The cluster's serving certificate, signed by a CA of its own, as PEM. Like a
 * password it is used once: the Secrets holding it are never overwritten.
 * NULL members when OpenSSL fails (logged by the caller's apply as a missing key).
 */
static void issue_server_tls(const json_t *cluster, struct pgw_certs_pem *pem)
{
    struct pgw_certs_options opts = {.service = pgw_cluster_name(cluster),
                                     .namespace = pgw_cluster_namespace(cluster),
                                     .ca_days = PGW_CLUSTER_CA_DAYS,
                                     .leaf_days = PGW_CLUSTER_TLS_DAYS};
    char *err = NULL;
    if (pgw_certs_issue_pem(&opts, pem, &err) != 0)
        abort(); /* only when OpenSSL cannot make a key: never run without TLS */
}

json_t *pgw_render_pgbackrest_tls_secret(const json_t *cluster)
{
    if (pgw_cluster_spec(cluster, "backup.repository") == NULL)
        return NULL;
    const char *name = pgw_cluster_name(cluster), *ns = pgw_cluster_namespace(cluster);
    /* Jobs reach each instance as <cluster>-<i>.<cluster>-pods (render_pgbackrest.c); a wildcard of that
     * headless Service's domain covers every instance, present and future, under each DNS search form. */
    char *dns[4] = {pgw_asprintf("*.%s%s", name, PGW_SUFFIX_PODS), pgw_asprintf("*.%s%s.%s", name, PGW_SUFFIX_PODS, ns),
                    pgw_asprintf("*.%s%s.%s.svc", name, PGW_SUFFIX_PODS, ns),
                    pgw_asprintf("*.%s%s.%s.svc.cluster.local", name, PGW_SUFFIX_PODS, ns)};
    char *server_cn = pgw_asprintf("%s%s", name, PGW_SUFFIX_PODS);
    struct pgw_certs_mtls_options opts = {.server_cn = strlen(server_cn) <= 64 ? server_cn : "pgbackrest",
                                          .server_dns = (const char *const *)dns,
                                          .server_dns_count = 4,
                                          .client_cn = PGW_PGBACKREST_CLIENT_CN,
                                          .ca_days = PGW_CLUSTER_CA_DAYS,
                                          .leaf_days = PGW_CLUSTER_TLS_DAYS};
    struct pgw_certs_mtls_pem pem;
    char *err = NULL;
    json_t *s = NULL;
    if (pgw_certs_issue_mtls_pem(&opts, &pem, &err) == 0) {
        char *secret_name = pgw_child_name(cluster, PGW_SUFFIX_PGBACKREST_TLS);
        s = pgw_child_object(cluster, "v1", "Secret", secret_name, "backup");
        free(secret_name);
        json_object_set_new(s, "type", json_string("kubernetes.io/tls"));
        json_object_set_new(s, "stringData",
                            pgw_json_pack("{s:s,s:s,s:s,s:s,s:s}", PGW_KEY_TLS_CA, pem.ca_crt, PGW_KEY_TLS_CERT, pem.server_crt,
                                          PGW_KEY_TLS_KEY, pem.server_key, PGW_KEY_TLS_CLIENT_CERT, pem.client_crt,
                                          PGW_KEY_TLS_CLIENT_KEY, pem.client_key));
        pgw_certs_mtls_pem_free(&pem);
    }
    free(err); /* names too long for a certificate: validation bounds them, so never in practice */
    for (size_t i = 0; i != 4; ++i)
        free(dns[i]);
    free(server_cn);
    return s;
}

void pgw_render_secrets(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out)
{
    char *pw;
    struct pgw_certs_pem tls;
    issue_server_tls(cluster, &tls);

    /* The server certificate postgres serves, unless spec.tls.secretName names the user's own. */
    if (!json_is_string(pgw_cluster_spec(cluster, "tls.secretName"))) {
        char *name = pgw_child_name(cluster, PGW_SUFFIX_SERVER_TLS);
        json_t *s = pgw_child_object(cluster, "v1", "Secret", name, "database");
        free(name);
        json_object_set_new(s, "type", json_string("kubernetes.io/tls"));
        json_object_set_new(s, "stringData",
                            pgw_json_pack("{s:s,s:s,s:s}", PGW_KEY_TLS_CA, tls.ca_crt, PGW_KEY_TLS_CERT, tls.tls_crt,
                                          PGW_KEY_TLS_KEY, tls.tls_key));
        json_array_append_new(out, s);
    }

    pw = new_password(ctx);
    json_array_append_new(
        out, secret(cluster, PGW_SUFFIX_SUPERUSER, "database", pgw_json_pack("{s:s,s:s}", "username", "postgres", "password", pw)));
    free(pw);

    pw = new_password(ctx);
    json_array_append_new(out, secret(cluster, PGW_SUFFIX_REPLICATION, "database",
                                      pgw_json_pack("{s:s,s:s}", "username", "replicator", "password", pw)));
    free(pw);

    /* The application credentials, with ready-made connection strings through the pooler or direct. */
    json_t *initdb = pgw_cluster_spec(cluster, "bootstrap.initdb");
    const char *db = json_string_value(json_object_get(initdb, "database"));
    const char *owner = json_string_value(json_object_get(initdb, "owner"));
    db = db ? db : "app";
    owner = owner ? owner : "app";
    int pooled = pgw_cluster_spec_bool(cluster, "pooler.enabled", 1);
    char *host = pgw_asprintf("%s.%s.svc", pgw_cluster_name(cluster), pgw_cluster_namespace(cluster));
    int port = pooled ? PGW_POD_PORT_PGBOUNCER : PGW_POD_PORT_POSTGRES;
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", port);
    pw = new_password(ctx);
    char *uri = pgw_asprintf("postgresql://%s:%s@%s:%d/%s?sslmode=require", owner, pw, host, port, db);
    char *jdbc = pgw_asprintf("jdbc:postgresql://%s:%d/%s?user=%s&password=%s&sslmode=require", host, port, db, owner, pw);
    json_array_append_new(out, secret(cluster, PGW_SUFFIX_APP, "database",
                                      pgw_json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "username", owner, "password", pw, "dbname",
                                                    db, "host", host, "port", port_text, "uri", uri, "jdbc-uri", jdbc)));
    free(pw);
    free(uri);
    free(jdbc);
    free(host);

    pw = new_password(ctx);
    char *userlist = pgw_render_pgbouncer_userlist(pw);
    /* pgbouncer.ini names tls.crt and tls.key beside userlist.txt: PgBouncer will not start without them. */
    json_array_append_new(out, secret(cluster, PGW_SUFFIX_PGBOUNCER, "pooler",
                                      pgw_json_pack("{s:s,s:s,s:s,s:s,s:s}", "username", PGW_ROLE_PGBOUNCER, "password", pw,
                                                    PGW_KEY_PGBOUNCER_USERLIST, userlist, PGW_KEY_TLS_CERT, tls.tls_crt,
                                                    PGW_KEY_TLS_KEY, tls.tls_key)));
    free(userlist);
    free(pw);

    pw = new_password(ctx);
    json_array_append_new(out, secret(cluster, PGW_SUFFIX_EXPORTER, "metrics",
                                      pgw_json_pack("{s:s,s:s}", "username", PGW_ROLE_EXPORTER, PGW_KEY_EXPORTER_PASSWORD, pw)));
    free(pw);
    pgw_certs_pem_free(&tls);

    /* pgBackRest's mutual TLS: the pods' `pgbackrest server` and the backup Jobs' client. */
    json_t *backrest_tls = pgw_render_pgbackrest_tls_secret(cluster);
    if (backrest_tls != NULL)
        json_array_append_new(out, backrest_tls);
}
