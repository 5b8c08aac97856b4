/*
 * The session keyring the replicas share (contract in session.h).
 *
 * State is one pgw_session_ring (current and previous key, revocations)
 * behind one mutex. Nothing runs in the background: issue and verify
 * re-read the Secret when the last read is PGW_SESSION_RELOAD_SECONDS old,
 * and that read also creates the Secret or rotates the key when due. Writes
 * are merge patches carrying the resourceVersion read, so of two replicas
 * rotating at once one gets 409, reads again and finds the new key.
 *
 * An unknown kid (a key another replica just made) forces one read, at
 * most once a second, so forged kids cannot turn into a stream of GETs.
 * When the Kubernetes API is away the keys last read keep working.
 */
#include "api/session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/session_jwt.h"
#include "api/session_store.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

#define WRITE_ATTEMPTS 5

struct pgw_session_keys {
    pthread_mutex_t lock;
    struct pgw_kclient *client; /* borrowed; NULL: local mode */
    char *ns;
    int session_seconds, rotation_seconds;
    struct pgw_session_ring ring; /* ring.current.kid NULL: nothing loaded yet */
    time_t read_at;               /* last read of the Secret (tried), for the 10 s cadence */
    time_t forced_at;             /* last read forced by an unknown kid */
};

struct pgw_session_keys *pgw_session_keys_new(struct pgw_kclient *operator_client, const char *ns, int session_seconds,
                                              int rotation_seconds)
{
    struct pgw_session_keys *k = pgw_calloc(1, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
    k->client = operator_client;
    if (ns == NULL || ns[0] == '\0')
        ns = getenv("POD_NAMESPACE"); /* the operator's own namespace, from the downward API */
    if (ns == NULL || ns[0] == '\0')
        ns = operator_client != NULL ? pgw_kclient_namespace(operator_client) : "default";
    k->ns = pgw_strdup(ns);
    k->session_seconds = session_seconds > 0 ? session_seconds : 900;
    k->rotation_seconds = rotation_seconds > 0 ? rotation_seconds : 86400;
    k->ring.revoked = json_object();
    return k;
}

void pgw_session_keys_free(struct pgw_session_keys *k)
{
    if (k == NULL)
        return;
    pgw_session_ring_dispose(&k->ring);
    pthread_mutex_destroy(&k->lock);
    free(k->ns);
    free(k);
}

static void log_key(const char *msg, const struct pgw_session_keys *k, const char *kid)
{
    pgw_log(PGW_LOG_INFO, msg, pgw_json_pack("{s:s,s:s,s:s}", "secret", PGW_SESSION_SECRET, "namespace", k->ns, "kid", kid));
}

/* ---- local mode ----------------------------------------------------------- */

static int refresh_local(struct pgw_session_keys *k, time_t now, char **err)
{
    if (k->ring.current.kid != NULL && !pgw_session_needs_rotation(&k->ring, now, k->rotation_seconds))
        return 0;
    struct pgw_session_key fresh;
    if (pgw_session_key_generate(&fresh, now, err) != 0)
        return -1;
    if (k->ring.current.kid == NULL)
        pgw_log(PGW_LOG_INFO, "API session key kept in memory only (no Kubernetes API): sessions end when this process does",
                pgw_json_pack("{s:s}", "kid", fresh.kid));
    pgw_session_key_move(&k->ring.previous, &k->ring.current);
    pgw_session_key_move(&k->ring.current, &fresh);
    return 0;
}

/* ---- the Secret ----------------------------------------------------------- */

/* Installs the keys of a Secret just read or written; local revocations not in it are kept. */
static int install(struct pgw_session_keys *k, const json_t *secret, time_t now, char **err)
{
    struct pgw_session_ring fresh;
    if (pgw_session_secret_read(secret, now, &fresh, err) != 0)
        return -1;
    pgw_session_revoked_merge(fresh.revoked, k->ring.revoked, now);
    if (k->ring.current.kid == NULL || strcmp(k->ring.current.kid, fresh.current.kid) != 0)
        log_key("API session signing key loaded", k, fresh.current.kid);
    pgw_session_ring_dispose(&k->ring);
    k->ring = fresh;
    return 0;
}

static char *kube_error(const struct pgw_session_keys *k, const char *what, const struct pgw_kresult *res)
{
    return pgw_asprintf("session keys: %s Secret %s/%s: HTTP %ld%s%s", what, k->ns, PGW_SESSION_SECRET, res->http_status,
                        res->message != NULL ? ": " : "", res->message != NULL ? res->message : "");
}

/* PATCHes the change from before to after; returns the kube outcome, the answer in *res. */
static int write_patch(struct pgw_session_keys *k, const json_t *before, const json_t *after, struct pgw_kresult *res)
{
    json_t *patch = pgw_session_secret_patch(before, after);
    int rc =
        pgw_kclient_patch(k->client, pgw_resource_find("Secret"), k->ns, PGW_SESSION_SECRET, NULL, PGW_PATCH_MERGE, patch, res);
    json_decref(patch);
    return rc;
}

/*
 * Reads the Secret and makes it right: created when missing, current
 * replaced when unreadable, rotated when due. 0 with the ring installed, or
 * -1 with *err.
 */
static int sync_secret(struct pgw_session_keys *k, time_t now, char **err)
{
    *err = NULL;
    for (int attempt = 0; attempt != WRITE_ATTEMPTS; ++attempt) {
        struct pgw_kresult res;
        int rc = pgw_kclient_get(k->client, pgw_resource_find("Secret"), k->ns, PGW_SESSION_SECRET, &res);
        if (rc == PGW_K_NOT_FOUND) {
            pgw_kresult_dispose(&res);
            struct pgw_session_key fresh;
            if (pgw_session_key_generate(&fresh, now, err) != 0)
                return -1;
            json_t *secret = pgw_session_secret_new(k->ns, &fresh);
            rc = pgw_kclient_create(k->client, pgw_resource_find("Secret"), k->ns, secret, &res);
            json_decref(secret);
            if (rc == PGW_K_OK)
                log_key("API session signing key created", k, fresh.kid);
            pgw_session_key_dispose(&fresh);
            if (rc == PGW_K_CONFLICT) { /* another replica created it first: use theirs */
                pgw_kresult_dispose(&res);
                continue;
            }
        } else if (rc == PGW_K_OK) {
            struct pgw_session_ring seen;
            char *why = NULL;
            int readable = pgw_session_secret_read(res.body, now, &seen, &why) == 0;
            int rotate = readable && pgw_session_needs_rotation(&seen, now, k->rotation_seconds);
            pgw_session_ring_dispose(&seen);
            if (!readable || rotate) {
                struct pgw_session_key fresh;
                if (pgw_session_key_generate(&fresh, now, err) != 0) {
                    free(why);
                    pgw_kresult_dispose(&res);
                    return -1;
                }
                if (!readable)
                    pgw_log(PGW_LOG_WARN, "API session Secret has no usable key: replacing it",
                            pgw_json_pack("{s:s,s:s}", "namespace", k->ns, "error", why));
                json_t *after = json_deep_copy(res.body);
                if (readable)
                    pgw_session_secret_rotate(after, &fresh);
                else
                    pgw_session_secret_replace(after, &fresh);
                struct pgw_kresult wres;
                rc = write_patch(k, res.body, after, &wres);
                json_decref(after);
                pgw_kresult_dispose(&res);
                res = wres;
                if (rc == PGW_K_OK)
                    log_key(readable ? "API session signing key rotated" : "API session signing key replaced", k, fresh.kid);
                pgw_session_key_dispose(&fresh);
                if (rc == PGW_K_CONFLICT) {
                    free(why);
                    pgw_kresult_dispose(&res);
                    continue;
                }
            }
            free(why);
        }
        if (rc != PGW_K_OK) {
            *err = kube_error(k, "reading or writing", &res);
            pgw_kresult_dispose(&res);
            return -1;
        }
        rc = install(k, res.body, now, err);
        pgw_kresult_dispose(&res);
        return rc;
    }
    *err = pgw_strdup("session keys: the Secret kept changing under us (409 five times)");
    return -1;
}

/* Brings the ring up to date when due (or when force). 0, or -1 with *err. */
static int refresh(struct pgw_session_keys *k, time_t now, int force, char **err)
{
    *err = NULL;
    if (k->client == NULL)
        return refresh_local(k, now, err);
    if (!force && k->read_at != 0 && now >= k->read_at) {
        /* keys held: every 10 s; none yet because the last read failed: once a second */
        int held = k->ring.current.kid != NULL;
        if (now - k->read_at < (held ? PGW_SESSION_RELOAD_SECONDS : 1)) {
            if (!held)
                *err = pgw_strdup("session keys: not loaded (the last read of the Secret failed)");
            return held ? 0 : -1;
        }
    }
    k->read_at = now;
    int rc = sync_secret(k, now, err);
    if (rc != 0)
        pgw_log(PGW_LOG_WARN, "API session keys not refreshed", pgw_json_pack("{s:s}", "error", *err));
    return rc;
}

int pgw_session_keys_load(struct pgw_session_keys *k, time_t now, char **err)
{
    pthread_mutex_lock(&k->lock);
    int rc = refresh(k, now, 1, err);
    pthread_mutex_unlock(&k->lock);
    return rc;
}

/* ---- sessions --------------------------------------------------------------- */

char *pgw_session_issue(struct pgw_session_keys *k, const struct pgw_identity *who, time_t now, time_t *exp, char **err)
{
    *err = NULL;
    pthread_mutex_lock(&k->lock);
    char *why = NULL;
    refresh(k, now, 0, &why); /* a failed read keeps the keys already held; none held fails below */
    char *token = NULL;
    if (k->ring.current.kid == NULL) {
        *err = why != NULL ? why : pgw_strdup("session keys: none loaded");
        why = NULL;
    } else {
        token = pgw_session_jwt_sign(&k->ring.current, who, now, k->session_seconds, exp, err);
    }
    free(why);
    pthread_mutex_unlock(&k->lock);
    return token;
}

static int verify_locked(struct pgw_session_keys *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why)
{
    const struct pgw_session_key *keys[] = {&k->ring.current, &k->ring.previous};
    return pgw_session_jwt_verify(keys, 2, k->ring.revoked, jwt, now, out, why);
}

int pgw_session_verify(struct pgw_session_keys *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why)
{
    pthread_mutex_lock(&k->lock);
    char *err = NULL;
    refresh(k, now, 0, &err);
    free(err);
    int verdict = verify_locked(k, jwt, now, out, why);
    if (verdict == PGW_SESSION_UNKNOWN_KID && k->client != NULL && now != k->forced_at) {
        k->forced_at = now;
        if (refresh(k, now, 1, &err) == 0)
            verdict = verify_locked(k, jwt, now, out, why);
        free(err);
    }
    pthread_mutex_unlock(&k->lock);
    if (verdict == PGW_SESSION_UNKNOWN_KID) {
        verdict = PGW_SESSION_INVALID;
        *why = "invalid session token";
    }
    return verdict;
}

/* Writes the local revocations into the Secret (merged with its own). 0, or -1 with *err. */
static int push_revoked(struct pgw_session_keys *k, time_t now, char **err)
{
    for (int attempt = 0; attempt != WRITE_ATTEMPTS; ++attempt) {
        struct pgw_kresult res;
        int rc = pgw_kclient_get(k->client, pgw_resource_find("Secret"), k->ns, PGW_SESSION_SECRET, &res);
        if (rc == PGW_K_NOT_FOUND) { /* deleted by hand: make a new one, then add to it */
            pgw_kresult_dispose(&res);
            if (sync_secret(k, now, err) != 0)
                return -1;
            continue;
        }
        if (rc != PGW_K_OK) {
            *err = kube_error(k, "reading", &res);
            pgw_kresult_dispose(&res);
            return -1;
        }
        struct pgw_session_ring seen;
        char *ignored = NULL;
        json_t *merged = json_deep_copy(k->ring.revoked);
        if (pgw_session_secret_read(res.body, now, &seen, &ignored) == 0)
            pgw_session_revoked_merge(merged, seen.revoked, now);
        free(ignored);
        pgw_session_ring_dispose(&seen);
        pgw_session_revoked_prune(merged, now);
        json_t *after = json_deep_copy(res.body);
        if (pgw_session_secret_set_revoked(after, merged) != 0) {
            json_decref(merged);
            json_decref(after);
            pgw_kresult_dispose(&res);
            *err = pgw_strdup("session keys: the revocation list is full; the session ends at its expiry");
            return -1;
        }
        json_decref(merged);
        struct pgw_kresult wres;
        rc = write_patch(k, res.body, after, &wres);
        json_decref(after);
        pgw_kresult_dispose(&res);
        if (rc == PGW_K_CONFLICT) {
            pgw_kresult_dispose(&wres);
            continue;
        }
        if (rc != PGW_K_OK) {
            *err = kube_error(k, "writing", &wres);
            pgw_kresult_dispose(&wres);
            return -1;
        }
        char *why = NULL;
        if (install(k, wres.body, now, &why) != 0)
            free(why); /* written; the keys we hold stay until the next read */
        pgw_kresult_dispose(&wres);
        return 0;
    }
    *err = pgw_strdup("session keys: the Secret kept changing under us (409 five times)");
    return -1;
}

int pgw_session_revoke(struct pgw_session_keys *k, const struct pgw_identity *who, char **err)
{
    *err = NULL;
    if (who->jti == NULL || who->jti[0] == '\0' || who->exp <= 0) {
        *err = pgw_strdup("session keys: not a session (no jti)");
        return -1;
    }
    time_t now = time(NULL);
    if (who->exp <= now)
        return 0; /* already over: nothing to remember */
    pthread_mutex_lock(&k->lock);
    json_object_set_new(k->ring.revoked, who->jti, json_integer((json_int_t)who->exp));
    pgw_session_revoked_prune(k->ring.revoked, now);
    int rc = k->client != NULL ? push_revoked(k, now, err) : 0;
    pthread_mutex_unlock(&k->lock);
    return rc;
}
