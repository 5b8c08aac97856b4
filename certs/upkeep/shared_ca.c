/*
 * One webhook CA for every replica, shared through a Secret (see shared_ca.h).
 *
 * Why: the webhook configurations carry a single caBundle, so every replica
 * must serve from the same CA. The first replica to start publishes its CA;
 * every replica copies the Secret into its certificate directory, where
 * pgw_certs_ensure() issues its own serving certificate from it.
 */
#include "certs/upkeep/shared_ca.h"

#include <stdlib.h>
#include <string.h>

#include "certs/files.h"
#include "common/base64.h"
#include "common/json_pack.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

/* Reads dir/name, or NULL (no error message needed: the caller generates). */
static char *read_local(const char *dir, const char *name)
{
    char *path = pgw_asprintf("%s/%s", dir, name), *err = NULL;
    char *text = pgw_certs_read_file(path, &err);
    free(err);
    free(path);
    return text;
}

/* Writes `data` (base64 in the Secret) into dir/name when it differs. Returns 1 written, 0 same, -1 error. */
static int store(const char *dir, const char *name, const char *b64, unsigned mode, char **err)
{
    size_t len = 0;
    char *data = b64 != NULL ? pgw_base64_decode(b64, &len) : NULL;
    if (data == NULL || len == 0) {
        free(data);
        *err = pgw_asprintf("the shared CA Secret has no valid %s", name);
        return -1;
    }
    char *local = read_local(dir, name);
    int rc = 0;
    if (local == NULL || strlen(local) != len || memcmp(local, data, len) != 0)
        rc = pgw_certs_write_file(dir, name, data, len, mode, err) == 0 ? 1 : -1;
    free(local);
    free(data);
    return rc;
}

static int adopt(const json_t *secret, const char *cert_dir, char **err)
{
    json_t *data = json_object_get(secret, "data");
    /* Key first: a reader that sees the new ca.crt finds its key already in place. */
    int k = store(cert_dir, "ca.key", json_string_value(json_object_get(data, "ca.key")), 0600, err);
    if (k < 0)
        return -1;
    int c = store(cert_dir, "ca.crt", json_string_value(json_object_get(data, "ca.crt")), 0644, err);
    if (c < 0)
        return -1;
    return k || c;
}

static json_t *secret_from_local(const char *ns, const char *name, const char *cert_dir)
{
    char *crt = read_local(cert_dir, "ca.crt"), *key = read_local(cert_dir, "ca.key");
    json_t *secret = NULL;
    if (crt != NULL && key != NULL) {
        char *crt64 = pgw_base64_encode(crt, strlen(crt)), *key64 = pgw_base64_encode(key, strlen(key));
        secret =
            pgw_json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata",
                          "name", name, "namespace", ns, "labels", "app.kubernetes.io/name", "pgwarden",
                          "app.kubernetes.io/component", "webhook-ca", "type", "Opaque", "data", "ca.crt", crt64, "ca.key", key64);
        free(crt64);
        free(key64);
    }
    free(crt);
    free(key);
    return secret;
}

int pgw_shared_ca_sync(struct pgw_kclient *c, const char *ns, const char *name, const char *cert_dir,
                       const struct pgw_certs_options *opts, char **err)
{
    const struct pgw_resource *secrets = pgw_resource_find("Secret");
    for (int attempt = 0; attempt != 2; ++attempt) {
        struct pgw_kresult got = {0};
        pgw_kclient_get(c, secrets, ns, name, &got);
        if (got.outcome == PGW_K_OK) {
            int rc = adopt(got.body, cert_dir, err);
            pgw_kresult_dispose(&got);
            return rc;
        }
        if (got.outcome != PGW_K_NOT_FOUND) {
            *err = pgw_asprintf("cannot read Secret %s/%s: %s", ns, name, got.message ? got.message : "unknown error");
            pgw_kresult_dispose(&got);
            return -1;
        }
        pgw_kresult_dispose(&got);

        /* Nobody has published a CA yet: publish ours (generated now if this replica has none). */
        int changed = 0;
        if (pgw_certs_ensure(cert_dir, opts, &changed, err) != 0)
            return -1;
        json_t *secret = secret_from_local(ns, name, cert_dir);
        if (secret == NULL) {
            *err = pgw_asprintf("cannot read the local CA in %s", cert_dir);
            return -1;
        }
        struct pgw_kresult created = {0};
        pgw_kclient_create(c, secrets, ns, secret, &created);
        json_decref(secret);
        enum pgw_koutcome outcome = created.outcome;
        if (outcome != PGW_K_OK && outcome != PGW_K_CONFLICT) {
            *err = pgw_asprintf("cannot create Secret %s/%s: %s", ns, name, created.message ? created.message : "unknown error");
            pgw_kresult_dispose(&created);
            return -1;
        }
        pgw_kresult_dispose(&created);
        if (outcome == PGW_K_OK)
            return changed;
        /* Another replica won the race: read and adopt its CA. */
    }
    *err = pgw_asprintf("Secret %s/%s keeps changing", ns, name);
    return -1;
}
