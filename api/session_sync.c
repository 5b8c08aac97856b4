/*
 * The Secret pgwarden-api-signing over the Kubernetes API (contract in
 * session_sync.h).
 *
 * Every write is a merge patch carrying the resourceVersion read, so two
 * replicas rotating (or revoking) at once cannot overwrite each other: one
 * gets 409, reads again and builds on what the other wrote. The operator
 * needs only get, create and patch on Secrets, which it has.
 */
#include "api/session_sync.h"

#include <stdlib.h>
#include <string.h>

#include "api/session.h"
#include "api/session_key.h"
#include "api/session_store.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

static void log_key(const char *msg, const char *ns, const char *kid)
{
    pgw_log(PGW_LOG_INFO, msg, pgw_json_pack("{s:s,s:s,s:s}", "secret", PGW_SESSION_SECRET, "namespace", ns, "kid", kid));
}

static char *kube_error(const char *ns, const char *what, const struct pgw_kresult *res)
{
    return pgw_asprintf("session keys: %s Secret %s/%s: HTTP %ld%s%s", what, ns, PGW_SESSION_SECRET, res->http_status,
                        res->message != NULL ? ": " : "", res->message != NULL ? res->message : "");
}

static int get_secret(struct pgw_kclient *c, const char *ns, struct pgw_kresult *res)
{
    return pgw_kclient_get(c, pgw_resource_find("Secret"), ns, PGW_SESSION_SECRET, res);
}

/* PATCHes the change from before to after; the kube outcome, the answer in *res. */
static int write_patch(struct pgw_kclient *c, const char *ns, const json_t *before, const json_t *after, struct pgw_kresult *res)
{
    json_t *patch = pgw_session_secret_patch(before, after);
    int rc = pgw_kclient_patch(c, pgw_resource_find("Secret"), ns, PGW_SESSION_SECRET, NULL, PGW_PATCH_MERGE, patch, res);
    json_decref(patch);
    return rc;
}

/* POSTs a new Secret with a fresh key. The kube outcome, the answer in *res; -1 when no key could be made. */
static int create_secret(struct pgw_kclient *c, const char *ns, time_t now, struct pgw_kresult *res, char **err)
{
    struct pgw_session_key fresh;
    if (pgw_session_key_generate(&fresh, now, err) != 0)
        return -1;
    json_t *secret = pgw_session_secret_new(ns, &fresh);
    int rc = pgw_kclient_create(c, pgw_resource_find("Secret"), ns, secret, res);
    json_decref(secret);
    if (rc == PGW_K_OK)
        log_key("API session signing key created", ns, fresh.kid);
    pgw_session_key_dispose(&fresh);
    return rc;
}

/*
 * The Secret as read (*res, OK) checked: when its key is unreadable or due
 * for rotation, a patch with a fresh one replaces *res by the patch's answer.
 * The kube outcome of the last request; -1 when no key could be made.
 */
static int fix_secret(struct pgw_kclient *c, const char *ns, int rotation_seconds, time_t now, struct pgw_kresult *res, char **err)
{
    struct pgw_session_ring seen;
    char *why = NULL;
    int readable = pgw_session_secret_read(res->body, now, &seen, &why) == 0;
    int rotate = readable && pgw_session_needs_rotation(&seen, now, rotation_seconds);
    pgw_session_ring_dispose(&seen);
    if (readable && !rotate)
        return PGW_K_OK;
    struct pgw_session_key fresh;
    if (pgw_session_key_generate(&fresh, now, err) != 0) {
        free(why);
        return -1;
    }
    if (!readable)
        pgw_log(PGW_LOG_WARN, "API session Secret has no usable key: replacing it",
                pgw_json_pack("{s:s,s:s}", "namespace", ns, "error", why));
    free(why);
    json_t *after = json_deep_copy(res->body);
    if (readable)
        pgw_session_secret_rotate(after, &fresh);
    else
        pgw_session_secret_replace(after, &fresh);
    struct pgw_kresult wres;
    int rc = write_patch(c, ns, res->body, after, &wres);
    json_decref(after);
    pgw_kresult_dispose(res);
    *res = wres;
    if (rc == PGW_K_OK)
        log_key(readable ? "API session signing key rotated" : "API session signing key replaced", ns, fresh.kid);
    pgw_session_key_dispose(&fresh);
    return rc;
}

int pgw_session_sync(struct pgw_kclient *c, const char *ns, int rotation_seconds, time_t now, json_t **secret, char **err)
{
    *secret = NULL;
    *err = NULL;
    for (int attempt = 0; attempt != PGW_SESSION_WRITE_ATTEMPTS; ++attempt) {
        struct pgw_kresult res;
        int rc = get_secret(c, ns, &res);
        if (rc == PGW_K_NOT_FOUND) {
            pgw_kresult_dispose(&res);
            rc = create_secret(c, ns, now, &res, err);
        } else if (rc == PGW_K_OK) {
            rc = fix_secret(c, ns, rotation_seconds, now, &res, err);
        }
        if (rc == -1) { /* no key could be made; *err says why */
            pgw_kresult_dispose(&res);
            return -1;
        }
        if (rc == PGW_K_CONFLICT) { /* another replica wrote first: build on theirs */
            pgw_kresult_dispose(&res);
            continue;
        }
        if (rc != PGW_K_OK) {
            *err = kube_error(ns, "reading or writing", &res);
            pgw_kresult_dispose(&res);
            return -1;
        }
        *secret = json_incref(res.body);
        pgw_kresult_dispose(&res);
        return 0;
    }
    *err = pgw_strdup("session keys: the Secret kept changing under us (409 five times)");
    return -1;
}

int pgw_session_push_revoked(struct pgw_kclient *c, const char *ns, int rotation_seconds, const json_t *revoked, time_t now,
                             json_t **secret, char **err)
{
    *secret = NULL;
    *err = NULL;
    for (int attempt = 0; attempt != PGW_SESSION_WRITE_ATTEMPTS; ++attempt) {
        struct pgw_kresult res;
        int rc = get_secret(c, ns, &res);
        if (rc == PGW_K_NOT_FOUND) { /* deleted by hand: make a new one, then add to it */
            pgw_kresult_dispose(&res);
            json_t *made = NULL;
            if (pgw_session_sync(c, ns, rotation_seconds, now, &made, err) != 0)
                return -1;
            json_decref(made);
            continue;
        }
        if (rc != PGW_K_OK) {
            *err = kube_error(ns, "reading", &res);
            pgw_kresult_dispose(&res);
            return -1;
        }
        struct pgw_session_ring seen;
        char *ignored = NULL;
        json_t *merged = json_deep_copy(revoked);
        if (pgw_session_secret_read(res.body, now, &seen, &ignored) == 0)
            pgw_session_revoked_merge(merged, seen.revoked, now);
        free(ignored);
        pgw_session_ring_dispose(&seen);
        pgw_session_revoked_prune(merged, now);
        json_t *after = json_deep_copy(res.body);
        int full = pgw_session_secret_set_revoked(after, merged) != 0;
        json_decref(merged);
        if (full) {
            json_decref(after);
            pgw_kresult_dispose(&res);
            *err = pgw_strdup("session keys: the revocation list is full; the session ends at its expiry");
            return -1;
        }
        struct pgw_kresult wres;
        rc = write_patch(c, ns, res.body, after, &wres);
        json_decref(after);
        pgw_kresult_dispose(&res);
        if (rc == PGW_K_CONFLICT) {
            pgw_kresult_dispose(&wres);
            continue;
        }
        if (rc != PGW_K_OK) {
            *err = kube_error(ns, "writing", &wres);
            pgw_kresult_dispose(&wres);
            return -1;
        }
        *secret = json_incref(wres.body);
        pgw_kresult_dispose(&wres);
        return 0;
    }
    *err = pgw_strdup("session keys: the Secret kept changing under us (409 five times)");
    return -1;
}
