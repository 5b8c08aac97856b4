/*
 * Certificate Secrets: which names, fresh data, keep or renew (render_certs.h).
 *
 * The names are derived from the Secret's cluster label and namespace, so the
 * controller can judge a live Secret with nothing but the Secret itself, and a
 * name added here (a new Service) makes every existing certificate due.
 */
#include <stdlib.h>
#include <string.h>

#include "certs/certs.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"
#include "specs/render_certs.h"
#include "specs/render_pgbackrest.h"

#define SERVER_BASE_NAMES 5 /* what pgw_certs_issue_pem puts first: the service's four forms and localhost */

static void add_name(json_t *names, char *s)
{
    json_array_append_new(names, json_string(s));
    free(s);
}

/* host, host.ns, host.ns.svc, host.ns.svc.cluster.local: each way a client in the cluster names it. */
static void add_forms(json_t *names, const char *host, const char *ns)
{
    add_name(names, pgw_strdup(host));
    add_name(names, pgw_asprintf("%s.%s", host, ns));
    add_name(names, pgw_asprintf("%s.%s.svc", host, ns));
    add_name(names, pgw_asprintf("%s.%s.svc.cluster.local", host, ns));
}

/* add_forms for <name><suffix>, with an optional "*." in front. */
static void add_child_forms(json_t *names, const char *prefix, const char *name, const char *suffix, const char *ns)
{
    char *host = pgw_asprintf("%s%s%s", prefix, name, suffix);
    add_forms(names, host, ns);
    free(host);
}

json_t *pgw_render_certificate_names(const char *kind, const char *name, const char *ns)
{
    if (kind == NULL || name == NULL || ns == NULL)
        return NULL;
    json_t *names = json_array();
    if (strcmp(kind, PGW_CERTIFICATE_SERVER) == 0) {
        add_child_forms(names, "", name, "", ns);
        json_array_append_new(names, json_string("localhost"));
        add_child_forms(names, "", name, PGW_SUFFIX_READ_ONLY, ns);
        add_child_forms(names, "", name, PGW_SUFFIX_READ, ns);
        add_child_forms(names, "*.", name, PGW_SUFFIX_PODS, ns);
    } else if (strcmp(kind, PGW_CERTIFICATE_CA) == 0) {
        /* a CA carries no names */
    } else if (strcmp(kind, PGW_CERTIFICATE_PGBACKREST) == 0) {
        /* Jobs reach each instance as <cluster>-<i>.<cluster>-pods (render_pgbackrest.c): a wildcard of
         * that headless Service's domain covers every instance, present and future. */
        add_child_forms(names, "*.", name, PGW_SUFFIX_PODS, ns);
    } else {
        json_decref(names);
        return NULL;
    }
    return names;
}

const char *pgw_render_certificate_kind(const json_t *secret)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(secret, "metadata"), "annotations"), PGW_ANNOTATION_CERTIFICATE));
}

/* The Secret's cluster and namespace (borrowed). */
static int owner_of(const json_t *secret, const char **name, const char **ns)
{
    const json_t *meta = json_object_get(secret, "metadata");
    *name = json_string_value(json_object_get(json_object_get(meta, "labels"), PGW_POD_LABEL_CLUSTER));
    *ns = json_string_value(json_object_get(meta, "namespace"));
    return *name != NULL && *ns != NULL ? 0 : -1;
}

/* The names as a C array borrowed from `names` (free the array only). */
static const char **name_array(const json_t *names, size_t *n)
{
    *n = json_array_size(names);
    const char **out = pgw_calloc(*n + 1, sizeof(*out));
    for (size_t i = 0; i != *n; ++i)
        out[i] = json_string_value(json_array_get(names, i));
    return out;
}

static const char *pem(const json_t *data, const char *key)
{
    return json_string_value(json_object_get(data, key));
}

static json_t *ca_data(const char *name, const char *ns)
{
    struct pgw_certs_options opts = {.service = name, .namespace = ns, .ca_days = PGW_CLUSTER_CA_DAYS, .leaf_days = 1};
    struct pgw_certs_pem out;
    char *err = NULL;
    json_t *data = NULL;
    if (pgw_certs_issue_ca_pem(&opts, &out, &err) == 0) {
        data = pgw_json_pack("{s:s,s:s}", PGW_KEY_TLS_CA, out.ca_crt, PGW_KEY_CA_KEY, out.ca_key);
        pgw_certs_pem_free(&out);
    }
    free(err);
    return data;
}

static json_t *server_data(const char *name, const char *ns, const json_t *names, const json_t *ca)
{
    size_t n;
    const char **dns = name_array(names, &n);
    struct pgw_certs_options opts = {.service = name,
                                     .namespace = ns,
                                     .ca_days = PGW_CLUSTER_CA_DAYS,
                                     .leaf_days = PGW_CLUSTER_TLS_DAYS,
                                     .extra_dns = dns + SERVER_BASE_NAMES,
                                     .extra_dns_count = n - SERVER_BASE_NAMES,
                                     .ca_crt_pem = pem(ca, PGW_KEY_TLS_CA),
                                     .ca_key_pem = pem(ca, PGW_KEY_CA_KEY)};
    struct pgw_certs_pem out;
    char *err = NULL;
    json_t *data = NULL;
    if (pgw_certs_issue_pem(&opts, &out, &err) == 0) {
        data =
            pgw_json_pack("{s:s,s:s,s:s}", PGW_KEY_TLS_CA, out.ca_crt, PGW_KEY_TLS_CERT, out.tls_crt, PGW_KEY_TLS_KEY, out.tls_key);
        pgw_certs_pem_free(&out);
    }
    free(err);
    free(dns);
    return data;
}

static json_t *pgbackrest_data(const char *name, const json_t *names, const json_t *ca)
{
    size_t n;
    const char **dns = name_array(names, &n);
    char *server_cn = pgw_asprintf("%s%s", name, PGW_SUFFIX_PODS);
    struct pgw_certs_mtls_options opts = {.server_cn = strlen(server_cn) <= 64 ? server_cn : "pgbackrest",
                                          .server_dns = dns,
                                          .server_dns_count = n,
                                          .client_cn = PGW_PGBACKREST_CLIENT_CN,
                                          .ca_days = PGW_CLUSTER_CA_DAYS,
                                          .leaf_days = PGW_CLUSTER_TLS_DAYS,
                                          .ca_crt_pem = pem(ca, PGW_KEY_TLS_CA),
                                          .ca_key_pem = pem(ca, PGW_KEY_CA_KEY)};
    struct pgw_certs_mtls_pem out;
    char *err = NULL;
    json_t *data = NULL;
    if (pgw_certs_issue_mtls_pem(&opts, &out, &err) == 0) {
        data = pgw_json_pack("{s:s,s:s,s:s,s:s,s:s}", PGW_KEY_TLS_CA, out.ca_crt, PGW_KEY_TLS_CERT, out.server_crt, PGW_KEY_TLS_KEY,
                             out.server_key, PGW_KEY_TLS_CLIENT_CERT, out.client_crt, PGW_KEY_TLS_CLIENT_KEY, out.client_key);
        pgw_certs_mtls_pem_free(&out);
    }
    free(err); /* names too long for a certificate: validation bounds them, so never in practice */
    free(server_cn);
    free(dns);
    return data;
}

json_t *pgw_render_certificate_data(const json_t *secret, const json_t *ca)
{
    const char *kind = pgw_render_certificate_kind(secret), *name, *ns;
    if (kind == NULL || owner_of(secret, &name, &ns) != 0)
        return NULL;
    if (strcmp(kind, PGW_CERTIFICATE_CA) == 0)
        return ca_data(name, ns);
    json_t *names = pgw_render_certificate_names(kind, name, ns), *data = NULL;
    if (names != NULL && strcmp(kind, PGW_CERTIFICATE_SERVER) == 0)
        data = server_data(name, ns, names, ca);
    else if (names != NULL)
        data = pgbackrest_data(name, names, ca);
    json_decref(names);
    return data;
}

char *pgw_render_certificate_ca_name(const json_t *secret)
{
    const char *kind = pgw_render_certificate_kind(secret), *name, *ns;
    if (kind == NULL || strcmp(kind, PGW_CERTIFICATE_CA) == 0 || owner_of(secret, &name, &ns) != 0)
        return NULL;
    return pgw_asprintf("%s%s", name, PGW_SUFFIX_CLUSTER_CA);
}

const char *pgw_render_certificate_problem(const json_t *secret, const json_t *data, time_t now, time_t *renew_at)
{
    const char *kind = pgw_render_certificate_kind(secret), *name, *ns;
    if (kind == NULL || owner_of(secret, &name, &ns) != 0)
        return NULL; /* not a certificate Secret: nothing to judge */
    if (strcmp(kind, PGW_CERTIFICATE_CA) == 0)
        return pgw_certs_ca_pem_problem(pem(data, PGW_KEY_TLS_CA), pem(data, PGW_KEY_CA_KEY), now, renew_at);
    json_t *names = pgw_render_certificate_names(kind, name, ns);
    if (names == NULL)
        return NULL;
    size_t n;
    const char **dns = name_array(names, &n);
    struct pgw_certs_pem_check server = {.ca_crt = pem(data, PGW_KEY_TLS_CA),
                                         .crt = pem(data, PGW_KEY_TLS_CERT),
                                         .key = pem(data, PGW_KEY_TLS_KEY),
                                         .dns = dns,
                                         .dns_count = n,
                                         .now = now};
    time_t at = 0, client_at = 0;
    const char *problem = pgw_certs_pem_problem(&server, &at);
    if (problem == NULL && strcmp(kind, PGW_CERTIFICATE_PGBACKREST) == 0) {
        struct pgw_certs_pem_check client = {.ca_crt = server.ca_crt,
                                             .crt = pem(data, PGW_KEY_TLS_CLIENT_CERT),
                                             .key = pem(data, PGW_KEY_TLS_CLIENT_KEY),
                                             .now = now};
        problem = pgw_certs_pem_problem(&client, &client_at);
        if (problem == NULL && client_at < at)
            at = client_at;
    }
    if (problem == NULL && renew_at != NULL)
        *renew_at = at;
    free(dns);
    json_decref(names);
    return problem;
}

void pgw_render_certificate_keep_ca(json_t *data, const json_t *live, time_t now)
{
    const char *new_ca = json_string_value(json_object_get(data, PGW_KEY_TLS_CA));
    const char *live_ca = json_string_value(json_object_get(live, PGW_KEY_TLS_CA));
    char *old_ca = new_ca != NULL && live_ca != NULL ? pgw_certs_pem_first_valid(live_ca, now) : NULL;
    if (old_ca != NULL && strstr(new_ca, old_ca) == NULL) { /* signed by the same CA: nothing to keep */
        char *both = pgw_asprintf("%s%s", new_ca, old_ca);  /* before new_ca's string is replaced */
        json_object_set_new(data, PGW_KEY_TLS_CA, json_string(both));
        free(both);
    }
    free(old_ca);
}
