/*
 * The session JWT itself, pure (no I/O, no locks): ES256 signing with
 * libjwt, and verification against a given set of keys and revocations.
 * session.c wraps this with the keyring the replicas share.
 *
 * Claims: iss "pgwarden", aud "pgwarden-api", sub (username), uid, groups,
 * iat, exp, jti (128 random bits in hex). Header: alg ES256, typ JWT, kid.
 */
#ifndef PGW_API_SESSION_JWT_H
#define PGW_API_SESSION_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "api/identity.h"
#include "api/session_key.h"

#define PGW_SESSION_JWT_MAX 8192  /* bytes; ours are well under 2 KiB even with many groups */
#define PGW_SESSION_CLOCK_SKEW 60 /* seconds an iat may lie in the future (another replica's clock) */

/* The verdict for a kid no key has: session.c reloads the keys once, then answers PGW_SESSION_INVALID. */
#define PGW_SESSION_UNKNOWN_KID 100

/*
 * A JWT signed by key for who (username required; uid and groups optional),
 * iat now, exp now + seconds (*exp). Caller frees; NULL with *err (caller frees).
 */
char *pgw_session_jwt_sign(const struct pgw_session_key *key, const struct pgw_identity *who, time_t now, int seconds, time_t *exp,
                           char **err);

/*
 * Verifies jwt against keys[0..nkeys) (entries with kid NULL are skipped) and
 * the revoked object (jti → exp; may be NULL). Returns a pgw_session_verdict
 * or PGW_SESSION_UNKNOWN_KID; *why as pgw_session_verify; *out filled only on
 * PGW_SESSION_OK (caller disposes).
 */
int pgw_session_jwt_verify(const struct pgw_session_key *const *keys, size_t nkeys, const json_t *revoked, const char *jwt,
                           time_t now, struct pgw_identity *out, const char **why);

/* base64url without padding → bytes (NUL-terminated copy, caller frees), or NULL when not base64url. */
char *pgw_base64url_decode(const char *in, size_t len, size_t *out_len);

#endif
