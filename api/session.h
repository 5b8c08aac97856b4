/*
 * Sessions of the REST API: short-lived ES256 JWTs (libjwt) that carry the
 * identity a TokenReview vouched for, so the token the user pasted is used
 * once and never kept.
 *
 * The signing keys live in the Secret pgwarden-api-signing in the
 * operator's namespace, shared by every replica: current.pem/current.kid/
 * current.created, previous.pem/previous.kid, and revoked (JSON jti → exp).
 * The first replica that finds no Secret creates it; the key is rotated when
 * older than rotation_seconds (previous := current), and tokens signed by
 * current or previous verify. Every replica re-reads the Secret at most
 * every 10 s, and once more on an unknown kid. Without a Kubernetes API
 * (client NULL) the key and the revocations live in memory only.
 *
 * A keyring is thread-safe: one mutex guards the keys, and the Secret is read
 * and written outside it. The call that finds the keys due for a read does
 * that read itself (so it may wait on the Kubernetes API for one request's
 * timeout); a call on another thread meanwhile goes on with the keys held.
 * Logout writes the Secret before it returns. Nothing here logs a token or
 * a key.
 */
#ifndef PGW_API_SESSION_H
#define PGW_API_SESSION_H

#include <time.h>

#include "api/identity.h"

struct pgw_kclient;
struct pgw_session_keys;

#define PGW_SESSION_SECRET "pgwarden-api-signing"
#define PGW_SESSION_ISSUER "pgwarden"
#define PGW_SESSION_AUDIENCE "pgwarden-api"
#define PGW_SESSION_RELOAD_SECONDS 10

/*
 * operator_client is borrowed (NULL: local mode) and must outlive the
 * keyring; ns is copied (NULL or "": $POD_NAMESPACE, else the client's
 * namespace). No I/O happens
 * here: the Secret is read on first use. Never NULL.
 */
struct pgw_session_keys *pgw_session_keys_new(struct pgw_kclient *operator_client, const char *ns, int session_seconds,
                                              int rotation_seconds);
void pgw_session_keys_free(struct pgw_session_keys *k);

/*
 * Loads (or creates) the keys now, so the first login does not pay for it
 * and a broken Secret shows in the log at start. Optional. 0 or -1 with
 * *err (caller frees).
 */
int pgw_session_keys_load(struct pgw_session_keys *k, time_t now, char **err);

/*
 * A session JWT for who (username, uid, groups; who->jti and exp are
 * ignored), valid from now for session_seconds; *exp gets its end.
 * Returns the token (caller frees; it is a credential: do not log it), or
 * NULL with *err (caller frees).
 */
char *pgw_session_issue(struct pgw_session_keys *k, const struct pgw_identity *who, time_t now, time_t *exp, char **err);

enum pgw_session_verdict {
    PGW_SESSION_OK = 0,
    PGW_SESSION_INVALID = 1, /* "invalid session token": format, alg, kid, signature, iss, aud, claims */
    PGW_SESSION_EXPIRED = 2, /* "session expired at <RFC3339>; log in again" */
    PGW_SESSION_REVOKED = 3  /* "session ended by logout" */
};

/*
 * Checks jwt (the text after "Bearer "): alg ES256 only, a known kid (the
 * Secret is re-read once for an unknown one), the signature, iss, aud,
 * exp > now, and the jti not revoked. Returns PGW_SESSION_OK with *out
 * filled (caller disposes; jti and exp set), else a verdict with *why the
 * message for the 401 answer (static, or a thread-local buffer valid until
 * this thread's next call) and *out empty.
 */
int pgw_session_verify(struct pgw_session_keys *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why);

/*
 * Logout: who->jti (until who->exp) joins the revocation list, in memory
 * at once and in the Secret (merged with what other replicas wrote; expired
 * entries pruned; retried on conflict). 0, or -1 with *err (caller frees).
 */
int pgw_session_revoke(struct pgw_session_keys *k, const struct pgw_identity *who, char **err);

#endif
