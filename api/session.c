/*
 * The session keyring the replicas share (contract in session.h).
 *
 * State is one pgw_session_ring (current and previous key, revocations)
 * behind one mutex, held only to read or swap it: the Secret's I/O
 * (session_sync.c) runs outside it, so one thread re-reading the Secret never
 * makes the other wait to check a signature. Nothing runs in the background:
 * issue and verify re-read the Secret when the last read is
 * PGW_SESSION_RELOAD_SECONDS old, and that read also creates the Secret or
 * rotates the key when due.
 *
 * An unknown kid (a key another replica just made) forces one read, at most
 * once a second, so forged kids cannot turn into a stream of GETs. When the
 * Kubernetes API is away the keys last read keep working.
 */
#include "api/session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/session_jwt.h"
#include "api/session_store.h"
#include "api/session_sync.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

static const char msg_invalid[] = "invalid session token";

struct pgw_session_keys {
    pthread_mutex_t lock;       /* guards the members below the line */
    struct pgw_kclient *client; /* borrowed; NULL: local mode */
    char *ns;
    int session_seconds, rotation_seconds;
    /* ---- */
    struct pgw_session_ring ring; /* ring.current.kid NULL: nothing loaded yet */
    time_t read_at;               /* last read of the Secret started (the 10 s cadence) */
    time_t failed_at;             /* last read that failed */
    time_t forced_at;             /* last read forced by an unknown kid */
    int reading;                  /* a thread is reading the Secret for the cadence: the others go on with the ring held */
    unsigned long reads_started;  /* numbers the reads, so a slow one cannot install older keys over a newer read's */
    unsigned long installed;      /* the number of the read last installed */
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

/* Local mode (locked): an in-memory key, rotated on the same schedule. */
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

/* (locked) Installs the keys of a Secret just read or written; local revocations not in it yet are kept. */
static int install(struct pgw_session_keys *k, const json_t *secret, time_t now, char **err)
{
    struct pgw_session_ring fresh;
    if (pgw_session_secret_read(secret, now, &fresh, err) != 0)
        return -1;
    pgw_session_revoked_merge(fresh.revoked, k->ring.revoked, now);
    if (k->ring.current.kid == NULL || strcmp(k->ring.current.kid, fresh.current.kid) != 0)
        pgw_log(PGW_LOG_INFO, "API session signing key loaded",
                pgw_json_pack("{s:s,s:s,s:s}", "secret", PGW_SESSION_SECRET, "namespace", k->ns, "kid", fresh.current.kid));
    pgw_session_ring_dispose(&k->ring);
    k->ring = fresh;
    return 0;
}

/*
 * (unlocked) Brings the ring up to date when due, or now when force. With
 * keys held a failed read is only logged; 0, or -1 with *err when there are
 * no keys to work with.
 */
static int refresh(struct pgw_session_keys *k, time_t now, int force, char **err)
{
    *err = NULL;
    pthread_mutex_lock(&k->lock);
    int held = k->ring.current.kid != NULL;
    if (k->client == NULL) {
        int rc = refresh_local(k, now, err);
        pthread_mutex_unlock(&k->lock);
        return rc;
    }
    if (!force && held && now >= k->read_at && (now - k->read_at < PGW_SESSION_RELOAD_SECONDS || k->reading)) {
        pthread_mutex_unlock(&k->lock); /* read recently, or being read by another thread: the keys held will do */
        return 0;
    }
    if (!force && !held && k->failed_at == now) {
        pthread_mutex_unlock(&k->lock); /* none held and the read failed this second: no retry storm */
        *err = pgw_strdup("session keys: not loaded (the last read of the Secret failed)");
        return -1;
    }
    k->read_at = now;
    k->reading += !force;
    unsigned long generation = ++k->reads_started;
    pthread_mutex_unlock(&k->lock);

    json_t *secret = NULL;
    int rc = pgw_session_sync(k->client, k->ns, k->rotation_seconds, now, &secret, err);

    pthread_mutex_lock(&k->lock);
    k->reading -= !force;
    if (rc == 0 && generation > k->installed) { /* a read started later and already installed wins */
        rc = install(k, secret, now, err);
        if (rc == 0)
            k->installed = generation;
    }
    if (rc != 0)
        k->failed_at = now;
    held = k->ring.current.kid != NULL;
    pthread_mutex_unlock(&k->lock);
    json_decref(secret);
    if (rc != 0) {
        pgw_log(PGW_LOG_WARN, "API session keys not refreshed", pgw_json_pack("{s:s,s:b}", "error", *err, "keysHeld", held));
        if (held) {
            free(*err);
            *err = NULL;
            rc = 0;
        }
    }
    return rc;
}

int pgw_session_keys_load(struct pgw_session_keys *k, time_t now, char **err)
{
    return refresh(k, now, 1, err);
}

/* ---- sessions --------------------------------------------------------------- */

char *pgw_session_issue(struct pgw_session_keys *k, const struct pgw_identity *who, time_t now, time_t *exp, char **err)
{
    if (refresh(k, now, 0, err) != 0)
        return NULL;
    pthread_mutex_lock(&k->lock);
    char *token = pgw_session_jwt_sign(&k->ring.current, who, now, k->session_seconds, exp, err);
    pthread_mutex_unlock(&k->lock);
    return token;
}

static int verify_once(struct pgw_session_keys *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why,
                       int *force)
{
    pthread_mutex_lock(&k->lock);
    const struct pgw_session_key *keys[] = {&k->ring.current, &k->ring.previous};
    int verdict = pgw_session_jwt_verify(keys, 2, k->ring.revoked, jwt, now, out, why);
    *force = verdict == PGW_SESSION_UNKNOWN_KID && k->client != NULL && now != k->forced_at;
    if (*force)
        k->forced_at = now;
    pthread_mutex_unlock(&k->lock);
    return verdict;
}

int pgw_session_verify(struct pgw_session_keys *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why)
{
    char *err = NULL;
    refresh(k, now, 0, &err);
    free(err);
    int force = 0, verdict = verify_once(k, jwt, now, out, why, &force);
    if (force) {
        if (refresh(k, now, 1, &err) == 0)
            verdict = verify_once(k, jwt, now, out, why, &force);
        free(err);
    }
    if (verdict == PGW_SESSION_UNKNOWN_KID) {
        verdict = PGW_SESSION_INVALID;
        *why = msg_invalid;
    }
    return verdict;
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
    json_t *mine = json_deep_copy(k->ring.revoked);
    pthread_mutex_unlock(&k->lock);
    int rc = 0;
    if (k->client != NULL) {
        json_t *secret = NULL;
        rc = pgw_session_push_revoked(k->client, k->ns, k->rotation_seconds, mine, now, &secret, err);
        if (rc == 0) {
            char *ignored = NULL;
            pthread_mutex_lock(&k->lock);
            if (install(k, secret, now, &ignored) != 0)
                free(ignored); /* written; the keys held stay until the next read */
            pthread_mutex_unlock(&k->lock);
        }
        json_decref(secret);
    }
    json_decref(mine);
    return rc;
}
