/*
 * The Secrets that are more than create-once (apply.h).
 *
 * A certificate Secret (annotated pgwarden.io/certificate, rendered without
 * data) is issued when it is absent and issued again when its certificate is
 * due (the cluster's CA Secret comes first and signs the others; a renewed CA
 * re-issues them): expiring (less than a third of its life left), not covering the names it
 * must, or not signed by the CA beside it (specs/render_certs.h). A renewal
 * replaces the Secret's certificate keys in place, keeps its other keys, and
 * records a CertificateRenewed Event on the cluster.
 *
 * A Secret annotated pgwarden.io/tls-from=<secret> (PgBouncer's) gets tls.crt
 * and tls.key from that Secret: added when missing (a Secret made before it
 * carried them is otherwise never touched), replaced when the source was just
 * renewed. Its other keys are never changed.
 *
 * Cost: a certificate judged good is remembered with the time it falls due
 * (cache kind "CertificateCheck"), and priming judges the listed Secrets, so
 * the steady state reads nothing; a certificate is looked at again on the
 * first reconcile after it falls due (every resync reconciles), and on a
 * reconcile at least PGW_APPLY_CERT_RECHECK_SECONDS after the last look:
 * Secrets are not watched, so a Secret replaced or damaged by someone else is
 * noticed then, for at most one read a minute per certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base64.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/reconcile/apply.h"
#include "specs/pod_layout.h"
#include "specs/render_certs.h"

#define CHECK_KIND "CertificateCheck"

static const char *annotation(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

json_t *pgw_apply_secret_data(const json_t *secret)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(secret, "data"), key, v)
    {
        size_t n = 0;
        char *raw = json_is_string(v) ? pgw_base64_decode(json_string_value(v), &n) : NULL;
        if (raw != NULL && memchr(raw, '\0', n) == NULL)
            json_object_set_new(out, key, json_stringn_nocheck(raw, n));
        free(raw);
    }
    return out;
}

char *pgw_apply_secret_keys(const json_t *secret)
{
    json_t *data = json_object_get(secret, "data");
    const char **keys = pgw_calloc(json_object_size(data) + 1, sizeof(*keys));
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v) keys[n++] = key;
    for (size_t i = 1; i < n; ++i) /* sorted, so the same set gives the same string */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; --j) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    char *out = pgw_strdup(PGW_APPLY_KEYS_PREFIX ",");
    for (size_t i = 0; i != n; ++i) {
        char *next = pgw_asprintf("%s%s,", out, keys[i]);
        free(out);
        out = next;
    }
    free(keys);
    return out;
}

void pgw_apply_remember_certificate(struct pgw_apply_cache *cache, const char *owner_uid, const char *ns, const char *name,
                                    time_t renew_at)
{
    /* Looked at again when due, and at most PGW_APPLY_CERT_RECHECK_SECONDS later on a reconcile: Secrets
     * are not watched, and one replaced or damaged by someone else is noticed that way. */
    time_t recheck = time(NULL) + PGW_APPLY_CERT_RECHECK_SECONDS;
    char at[32];
    snprintf(at, sizeof(at), "%lld", (long long)(renew_at < recheck ? renew_at : recheck));
    pgw_apply_cache_remember(cache, owner_uid, CHECK_KIND, ns, name, at);
}

/* When the remembered certificate of ns/name falls due, or 0 when nothing is remembered. */
static time_t remembered_due(struct pgw_apply_cache *cache, const char *owner_uid, const char *ns, const char *name)
{
    char *at = pgw_apply_cache_lookup(cache, owner_uid, CHECK_KIND, ns, name);
    time_t t = at != NULL ? (time_t)strtoll(at, NULL, 10) : 0;
    free(at);
    return t;
}

/* The cluster a child belongs to, as an Event's involved object (the owner uid and the cluster label). */
static json_t *involved_cluster(const json_t *child, const char *owner_uid)
{
    const char *cluster =
        json_string_value(json_object_get(json_object_get(json_object_get(child, "metadata"), "labels"), PGW_POD_LABEL_CLUSTER));
    return pgw_json_pack("{s:s,s:s,s:{s:s,s:s?,s:s}}", "apiVersion", "pgwarden.io/v1", "kind", "PostgresCluster", "metadata",
                         "name", cluster != NULL ? cluster : "unknown", "namespace", meta_str(child, "namespace"), "uid",
                         owner_uid);
}

static void event(struct pgw_kclient *client, const json_t *child, const char *owner_uid, const char *reason, const char *message,
                  struct pgw_apply_stats *stats)
{
    json_t *involved = involved_cluster(child, owner_uid);
    struct pgw_kresult r = {0};
    stats->writes++;
    if (pgw_kclient_event(client, involved, "Normal", reason, message, &r) != PGW_K_OK)
        pgw_log(PGW_LOG_DEBUG, "cannot record an event", pgw_json_pack("{s:s,s:s?}", "reason", reason, "error", r.message));
    pgw_kresult_dispose(&r);
    json_decref(involved);
}

static char *failure(const char *verb, const char *name, const struct pgw_kresult *r)
{
    return pgw_asprintf("%s Secret %s: %s (HTTP %ld)", verb, name, r->message != NULL ? r->message : "request failed",
                        r->http_status);
}

/* Notes what a certificate Secret now holds, for the Secrets that copy from it later in this pass. */
static void note_source(struct pgw_apply_pass *pass, const char *name, const json_t *data, int renewed)
{
    if (pass != NULL)
        json_object_set_new(pass->sources, name, pgw_json_pack("{s:O,s:b}", "data", data, "renewed", renewed));
}

/* Writes a certificate's fresh data into the live Secret: create when absent, else a merge patch that
 * replaces the certificate keys and stamps our annotations, leaving any other key alone. */
static int write_certificate(struct pgw_kclient *client, const json_t *child, const char *hash, const json_t *data, int exists,
                             struct pgw_apply_stats *stats, char **err)
{
    const struct pgw_resource *res = pgw_resource_find("Secret");
    const char *ns = meta_str(child, "namespace"), *name = meta_str(child, "name");
    struct pgw_kresult r = {0};
    int o;
    stats->writes++;
    if (!exists) {
        json_t *obj = pgw_apply_stamped(child, hash);
        json_object_set(obj, "stringData", (json_t *)data);
        o = pgw_kclient_create(client, res, ns, obj, &r);
        json_decref(obj);
    } else {
        json_t *patch = pgw_json_pack("{s:{s:{s:s,s:s}},s:O}", "metadata", "annotations", PGW_ANNOTATION_CERTIFICATE,
                                      pgw_render_certificate_kind(child), PGW_ANNOTATION_DESIRED_HASH, hash, "stringData", data);
        o = pgw_kclient_patch(client, res, ns, name, NULL, PGW_PATCH_MERGE, patch, &r);
        json_decref(patch);
    }
    int rc = o == PGW_K_OK ? 0 : -1;
    if (rc != 0)
        *err = failure(exists ? "renew" : "create", name, &r);
    pgw_kresult_dispose(&r);
    return rc;
}

/* The data of Secret `src`: from this pass, else read. New reference or NULL. */
static json_t *source_data(struct pgw_kclient *client, struct pgw_apply_pass *pass, const char *ns, const char *src,
                           struct pgw_apply_stats *stats)
{
    json_t *known = pass != NULL ? json_object_get(pass->sources, src) : NULL;
    if (known != NULL)
        return json_incref(json_object_get(known, "data"));
    struct pgw_kresult r = {0};
    stats->reads++;
    json_t *data =
        pgw_kclient_get(client, pgw_resource_find("Secret"), ns, src, &r) == PGW_K_OK ? pgw_apply_secret_data(r.body) : NULL;
    pgw_kresult_dispose(&r);
    return data;
}

int pgw_apply_certificate(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *child,
                          const char *hash, struct pgw_apply_pass *pass, struct pgw_apply_stats *stats, char **err)
{
    const char *ns = meta_str(child, "namespace"), *name = meta_str(child, "name");
    time_t now = pass != NULL && pass->now != 0 ? pass->now : time(NULL);
    time_t due = remembered_due(cache, owner_uid, ns, name);
    char *cached = pgw_apply_cache_lookup(cache, owner_uid, "Secret", ns, name);
    int fresh = cached != NULL && due != 0 && now < due;
    free(cached);
    if (fresh) {
        stats->skipped++;
        return 0;
    }
    struct pgw_kresult r = {0};
    stats->reads++;
    int o = pgw_kclient_get(client, pgw_resource_find("Secret"), ns, name, &r);
    if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
        *err = failure("read", name, &r);
        pgw_kresult_dispose(&r);
        return -1;
    }
    json_t *live = o == PGW_K_OK ? pgw_apply_secret_data(r.body) : NULL;
    pgw_kresult_dispose(&r);
    time_t renew_at = 0;
    const char *problem = live != NULL ? pgw_render_certificate_problem(child, live, now, &renew_at) : "absent";
    /* The cluster's CA (rendered first): signs what is issued, and one just renewed re-issues the rest. */
    char *ca_name = pgw_render_certificate_ca_name(child);
    json_t *ca = NULL;
    if (ca_name != NULL) {
        json_t *known = pass != NULL ? json_object_get(pass->sources, ca_name) : NULL;
        if (problem == NULL && json_is_true(json_object_get(known, "renewed")))
            problem = "the cluster's CA was renewed";
        if (problem != NULL)
            ca = source_data(client, pass, ns, ca_name, stats);
    }
    int rc = 0;
    if (problem == NULL) {
        note_source(pass, name, live, 0);
        stats->skipped++;
    } else {
        json_t *data = pgw_render_certificate_data(child, ca);
        if (ca_name != NULL)
            pgw_render_certificate_keep_ca(data, live, now);
        if (data == NULL) {
            *err = pgw_asprintf("cannot issue the certificate of Secret %s", name);
            rc = -1;
        } else if ((rc = write_certificate(client, child, hash, data, live != NULL, stats, err)) == 0) {
            pgw_render_certificate_problem(child, data, now, &renew_at);
            note_source(pass, name, data, 1);
            if (live != NULL) {
                char *msg = pgw_asprintf("issued a new certificate into Secret %s: %s", name, problem);
                event(client, child, owner_uid, "CertificateRenewed", msg, stats);
                pgw_log(PGW_LOG_INFO, "certificate renewed",
                        pgw_json_pack("{s:s,s:s,s:s}", "namespace", ns, "secret", name, "why", problem));
                free(msg);
            }
        }
        json_decref(data);
    }
    if (rc == 0) {
        pgw_apply_cache_remember(cache, owner_uid, "Secret", ns, name, hash);
        pgw_apply_remember_certificate(cache, owner_uid, ns, name, renew_at);
    }
    json_decref(live);
    json_decref(ca);
    free(ca_name);
    return rc;
}

static int has_key(const char *keys, const char *key)
{
    char *needle = pgw_asprintf(",%s,", key);
    int found = strstr(keys, needle) != NULL;
    free(needle);
    return found;
}

int pgw_apply_tls_copy(struct pgw_kclient *client, struct pgw_apply_cache *cache, const char *owner_uid, const json_t *child,
                       const char *hash, struct pgw_apply_pass *pass, struct pgw_apply_stats *stats, char **err)
{
    const char *ns = meta_str(child, "namespace"), *name = meta_str(child, "name");
    const char *src = annotation(child, PGW_ANNOTATION_TLS_FROM);
    const struct pgw_resource *res = pgw_resource_find("Secret");
    json_t *known = pass != NULL ? json_object_get(pass->sources, src) : NULL;
    int src_renewed = json_is_true(json_object_get(known, "renewed"));
    char *cached = pgw_apply_cache_lookup(cache, owner_uid, "Secret", ns, name);
    /* A plain hash: we created or completed it; a key set from priming: complete when it has both keys. */
    int complete = cached != NULL && (strncmp(cached, PGW_APPLY_KEYS_PREFIX, strlen(PGW_APPLY_KEYS_PREFIX)) != 0 ||
                                      (has_key(cached, PGW_KEY_TLS_CERT) && has_key(cached, PGW_KEY_TLS_KEY)));
    free(cached);
    if (complete && !src_renewed) {
        stats->skipped++;
        return 0;
    }
    struct pgw_kresult r = {0};
    stats->reads++;
    int o = pgw_kclient_get(client, res, ns, name, &r);
    if (o != PGW_K_OK && o != PGW_K_NOT_FOUND) {
        *err = failure("read", name, &r);
        pgw_kresult_dispose(&r);
        return -1;
    }
    char *keys = o == PGW_K_OK ? pgw_apply_secret_keys(r.body) : NULL;
    pgw_kresult_dispose(&r);
    int missing = keys == NULL || !has_key(keys, PGW_KEY_TLS_CERT) || !has_key(keys, PGW_KEY_TLS_KEY);
    int rc = 0, wrote = 0;
    json_t *tls = NULL;
    if (keys == NULL || missing || src_renewed)
        tls = source_data(client, pass, ns, src, stats);
    const char *crt = json_string_value(json_object_get(tls, PGW_KEY_TLS_CERT)),
               *key = json_string_value(json_object_get(tls, PGW_KEY_TLS_KEY));
    json_t *add = crt != NULL && key != NULL ? pgw_json_pack("{s:s,s:s}", PGW_KEY_TLS_CERT, crt, PGW_KEY_TLS_KEY, key) : NULL;
    if (keys == NULL) { /* absent: create it whole */
        json_t *obj = pgw_apply_stamped(child, hash);
        if (add != NULL)
            json_object_update(json_object_get(obj, "stringData"), add);
        stats->writes++;
        o = pgw_kclient_create(client, res, ns, obj, &r);
        json_decref(obj);
        if (o != PGW_K_OK && !(o == PGW_K_CONFLICT && r.reason != NULL && strcmp(r.reason, "AlreadyExists") == 0)) {
            *err = failure("create", name, &r);
            rc = -1;
        }
        pgw_kresult_dispose(&r);
        wrote = add != NULL;
    } else if (add != NULL && (missing || src_renewed)) { /* only tls.crt and tls.key: every other key stays */
        json_t *patch = pgw_json_pack("{s:O}", "stringData", add);
        stats->writes++;
        o = pgw_kclient_patch(client, res, ns, name, NULL, PGW_PATCH_MERGE, patch, &r);
        json_decref(patch);
        if (o != PGW_K_OK) {
            *err = failure("update", name, &r);
            rc = -1;
        } else {
            char *msg =
                pgw_asprintf("%s tls.crt and tls.key in Secret %s from Secret %s", missing ? "added" : "replaced", name, src);
            event(client, child, owner_uid, missing ? "SecretKeysAdded" : "CertificateRenewed", msg, stats);
            free(msg);
            wrote = 1;
        }
        pgw_kresult_dispose(&r);
    } else {
        wrote = !missing;
    }
    /* Remembered only once complete: a source not there yet (the user's own Secret) is tried again. */
    if (rc == 0 && wrote)
        pgw_apply_cache_remember(cache, owner_uid, "Secret", ns, name, hash);
    else if (rc == 0)
        stats->skipped++;
    json_decref(add);
    json_decref(tls);
    free(keys);
    return rc;
}
