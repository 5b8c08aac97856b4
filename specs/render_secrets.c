/*
 * Generated credentials. Passwords are 24 random bytes, base64url-encoded
 * without padding (32 characters, safe in URIs and pgpass files).
 *
 * The controller creates a Secret only when it does not exist, so what is
 * rendered here is used once; rendering twice gives different passwords.
 * Certificates are the exception: the controller renders them deferred
 * (without data) and issues, or renews, one only when it is due
 * (render_certs.h); `pgwarden render` issues them here.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/render_certs.h"
#include "specs/render_meta.h"
#include "specs/render_pgbackrest.h"
#include "specs/render_pgbouncer.h"
#include "specs/roles.h"

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

/* A certificate Secret of profile `kind`: annotated, and with its data (signed by `ca`) unless deferred (render_certs.h). */
static json_t *certificate_secret(const json_t *cluster, const char *suffix, const char *component, const char *kind, int defer,
                                  const json_t *ca)
{
    char *name = pgw_child_name(cluster, suffix);
    json_t *s = pgw_child_object(cluster, "v1", "Secret", name, component);
    free(name);
    /* kubernetes.io/tls requires tls.crt and tls.key, which the CA's Secret does not hold (the API server says so). */
    json_object_set_new(s, "type", json_string(strcmp(kind, PGW_CERTIFICATE_CA) == 0 ? "Opaque" : "kubernetes.io/tls"));
    json_t *meta = json_object_get(s, "metadata"), *ann = json_object_get(meta, "annotations");
    if (!json_is_object(ann))
        json_object_set_new(meta, "annotations", ann = json_object());
    json_object_set_new(ann, PGW_ANNOTATION_CERTIFICATE, json_string(kind));
    if (!defer) {
        json_t *data = pgw_render_certificate_data(s, ca);
        if (data == NULL)
            abort(); /* only when OpenSSL cannot make a key: never run without TLS */
        json_object_set_new(s, "stringData", data);
    }
    return s;
}

static json_t *pgbackrest_tls_secret(const json_t *cluster, int defer, const json_t *ca)
{
    if (pgw_cluster_spec(cluster, "backup.repository") == NULL)
        return NULL;
    return certificate_secret(cluster, PGW_SUFFIX_PGBACKREST_TLS, "backup", PGW_CERTIFICATE_PGBACKREST, defer, ca);
}

json_t *pgw_render_pgbackrest_tls_secret(const json_t *cluster)
{
    return pgbackrest_tls_secret(cluster, 0, NULL);
}

json_t *pgw_render_credentials(const json_t *cluster, const char *user, const char *db, const struct pgw_render_ctx *ctx)
{
    int pooled = pgw_cluster_spec_bool(cluster, "pooler.enabled", 1);
    char *host = pgw_asprintf("%s.%s.svc", pgw_cluster_name(cluster), pgw_cluster_namespace(cluster));
    int port = pooled ? PGW_POD_PORT_PGBOUNCER : PGW_POD_PORT_POSTGRES;
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", port);
    char *pw = new_password(ctx);
    char *uri = pgw_asprintf("postgresql://%s:%s@%s:%d/%s?sslmode=require", user, pw, host, port, db);
    char *jdbc = pgw_asprintf("jdbc:postgresql://%s:%d/%s?user=%s&password=%s&sslmode=require", host, port, db, user, pw);
    json_t *data = pgw_json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "username", user, "password", pw, "dbname", db, "host", host,
                                 "port", port_text, "uri", uri, "jdbc-uri", jdbc);
    free(pw);
    free(uri);
    free(jdbc);
    free(host);
    return data;
}

/* The database a declared role's connection strings name: the first declared database it owns, else the bootstrap one. */
static const char *role_database(const json_t *spec, const char *role)
{
    size_t i;
    json_t *db;
    json_array_foreach(json_object_get(spec, "databases"), i, db)
    {
        const char *owner = json_string_value(json_object_get(db, "owner"));
        if (pgw_ensure_present(db) && owner != NULL && strcmp(owner, role) == 0)
            return json_string_value(json_object_get(db, "name"));
    }
    return pgw_bootstrap_database(spec);
}

json_t *pgw_render_role_secret(const json_t *cluster, const json_t *role, const struct pgw_render_ctx *ctx)
{
    const json_t *spec = json_object_get(cluster, "spec");
    const char *name = json_string_value(json_object_get(role, "name"));
    const json_t *login = json_object_get(role, "login");
    if (name == NULL || !pgw_ensure_present(role) || json_object_get(role, "passwordSecret") != NULL ||
        (json_is_boolean(login) && !json_is_true(login)))
        return NULL;
    char *sname = pgw_role_secret_name(pgw_cluster_name(cluster), name);
    json_t *s = pgw_child_object(cluster, "v1", "Secret", sname, "database");
    free(sname);
    json_object_set_new(s, "type", json_string("kubernetes.io/basic-auth"));
    json_object_set_new(s, "stringData", pgw_render_credentials(cluster, name, role_database(spec, name), ctx));
    return s;
}

void pgw_render_secrets(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out)
{
    char *pw;
    /* The server certificate postgres serves, unless spec.tls.secretName names the user's own. PgBouncer
     * serves the same pair from its own Secret: copied in here, or by the controller from tls-from. */
    const char *own_tls = json_string_value(pgw_cluster_spec(cluster, "tls.secretName"));
    int defer = ctx->defer_certificates;
    /* The cluster's CA, first: it signs both certificates below, and renewals keep it. */
    json_t *ca_secret = NULL;
    if (own_tls == NULL || pgw_cluster_spec(cluster, "backup.repository") != NULL) {
        ca_secret = certificate_secret(cluster, PGW_SUFFIX_CLUSTER_CA, "database", PGW_CERTIFICATE_CA, defer, NULL);
        json_array_append_new(out, ca_secret);
    }
    const json_t *ca = json_object_get(ca_secret, "stringData");
    json_t *server_tls = certificate_secret(cluster, PGW_SUFFIX_SERVER_TLS, "database", PGW_CERTIFICATE_SERVER, defer, ca);
    char *server_tls_name = pgw_child_name(cluster, PGW_SUFFIX_SERVER_TLS);
    char *tls_from = pgw_strdup(own_tls != NULL ? own_tls : server_tls_name);
    free(server_tls_name);
    json_t *tls_data = json_incref(json_object_get(server_tls, "stringData"));
    if (own_tls == NULL)
        json_array_append_new(out, server_tls);
    else
        json_decref(server_tls);

    pw = new_password(ctx);
    json_array_append_new(
        out, secret(cluster, PGW_SUFFIX_SUPERUSER, "database", pgw_json_pack("{s:s,s:s}", "username", "postgres", "password", pw)));
    free(pw);

    pw = new_password(ctx);
    json_array_append_new(out, secret(cluster, PGW_SUFFIX_REPLICATION, "database",
                                      pgw_json_pack("{s:s,s:s}", "username", "replicator", "password", pw)));
    free(pw);

    /* The application credentials, with ready-made connection strings through the pooler or direct. */
    const json_t *spec = json_object_get(cluster, "spec");
    json_array_append_new(out,
                          secret(cluster, PGW_SUFFIX_APP, "database",
                                 pgw_render_credentials(cluster, pgw_bootstrap_owner(spec), pgw_bootstrap_database(spec), ctx)));

    pw = new_password(ctx);
    char *userlist = pgw_render_pgbouncer_userlist(pw);
    /* pgbouncer.ini names tls.crt and tls.key beside userlist.txt: PgBouncer will not start without them. */
    json_t *bouncer_data =
        pgw_json_pack("{s:s,s:s,s:s}", "username", PGW_ROLE_PGBOUNCER, "password", pw, PGW_KEY_PGBOUNCER_USERLIST, userlist);
    if (tls_data != NULL) {
        json_object_set(bouncer_data, PGW_KEY_TLS_CERT, json_object_get(tls_data, PGW_KEY_TLS_CERT));
        json_object_set(bouncer_data, PGW_KEY_TLS_KEY, json_object_get(tls_data, PGW_KEY_TLS_KEY));
    }
    json_t *bouncer = secret(cluster, PGW_SUFFIX_PGBOUNCER, "pooler", bouncer_data);
    json_t *bmeta = json_object_get(bouncer, "metadata"), *bann = json_object_get(bmeta, "annotations");
    if (!json_is_object(bann))
        json_object_set_new(bmeta, "annotations", bann = json_object());
    json_object_set_new(bann, PGW_ANNOTATION_TLS_FROM, json_string(tls_from));
    json_array_append_new(out, bouncer);
    json_decref(tls_data);
    free(tls_from);
    free(userlist);
    free(pw);

    pw = new_password(ctx);
    json_array_append_new(out, secret(cluster, PGW_SUFFIX_EXPORTER, "metrics",
                                      pgw_json_pack("{s:s,s:s}", "username", PGW_ROLE_EXPORTER, PGW_KEY_EXPORTER_PASSWORD, pw)));
    free(pw);

    /* pgBackRest's mutual TLS: the pods' `pgbackrest server` and the backup Jobs' client. */
    json_t *backrest_tls = pgbackrest_tls_secret(cluster, defer, ca);
    if (backrest_tls != NULL)
        json_array_append_new(out, backrest_tls);

    /* The generated passwords of declared roles (spec.roles[] with login and no passwordSecret). */
    size_t i;
    json_t *role;
    json_array_foreach(json_object_get(spec, "roles"), i, role)
    {
        json_t *rs = pgw_render_role_secret(cluster, role, ctx);
        if (rs != NULL)
            json_array_append_new(out, rs);
    }
}
