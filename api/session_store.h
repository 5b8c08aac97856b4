/*
 * The session keyring as the Secret pgwarden-api-signing holds it, pure (no
 * I/O): reading the Secret into keys and revocations, building the Secret a
 * first replica creates, the rotation decision and edit, and the revocation
 * list's merge and pruning. session.c does the GETs and PUTs.
 *
 * data (base64, as every Secret): current.pem, current.kid, current.created
 * (RFC 3339), previous.pem, previous.kid, revoked (JSON object jti → exp in
 * unix seconds).
 */
#ifndef PGW_API_SESSION_STORE_H
#define PGW_API_SESSION_STORE_H

#include <jansson.h>
#include <time.h>

#include "api/session_key.h"

struct pgw_session_ring {
    struct pgw_session_key current, previous; /* previous.kid NULL: none */
    json_t *revoked;                          /* object jti → exp; owned, never NULL after read */
};
void pgw_session_ring_dispose(struct pgw_session_ring *r);

/*
 * Reads a Secret. 0 with *out filled (caller disposes); -1 with *err (caller
 * frees) when current is missing or unreadable. An unreadable previous or
 * revoked is dropped, not an error: the current key is what matters.
 */
int pgw_session_secret_read(const json_t *secret, time_t now, struct pgw_session_ring *out, char **err);

/* The Secret holding key as current and nothing else (caller decrefs). */
json_t *pgw_session_secret_new(const char *ns, const struct pgw_session_key *key);

/* In secret's data: previous := current, current := key (created now). */
void pgw_session_secret_rotate(json_t *secret, const struct pgw_session_key *key);

/* In secret's data: current := key, previous removed (the Secret held no usable key). */
void pgw_session_secret_replace(json_t *secret, const struct pgw_session_key *key);

/* A Secret holds 1 MiB (base64 inflates by 4/3): the revocation list stops growing well before. */
#define PGW_SESSION_REVOKED_MAX_BYTES (512u << 10)

/*
 * In secret's data: revoked := the JSON of revoked. -1 (secret unchanged)
 * when that JSON is over PGW_SESSION_REVOKED_MAX_BYTES: dropping entries to
 * make room would bring ended sessions back, so the new logout fails instead.
 */
int pgw_session_secret_set_revoked(json_t *secret, const json_t *revoked);

/*
 * The JSON merge patch from the Secret as read (before) to the edited copy
 * (after): the data keys that changed or went (null), and before's
 * metadata.resourceVersion, so the Kubernetes API refuses it with 409 when
 * another replica wrote in between. Caller decrefs.
 */
json_t *pgw_session_secret_patch(const json_t *before, const json_t *after);

/* Whether current is at least rotation_seconds old at now (or has no usable creation time). */
int pgw_session_needs_rotation(const struct pgw_session_ring *r, time_t now, int rotation_seconds);

/* Removes the entries whose exp has passed (exp <= now) or that are not integers. */
void pgw_session_revoked_prune(json_t *revoked, time_t now);
/* Adds from's unexpired entries to into (the later exp wins). */
void pgw_session_revoked_merge(json_t *into, const json_t *from, time_t now);

#endif
