/*
 * The Kubernetes side of the session keyring: reading and writing the Secret
 * pgwarden-api-signing (session.h has the why). No keyring state here and no
 * locks: session.c calls these without holding its mutex and installs what
 * they return, so a slow Kubernetes API never blocks a thread that only
 * wants to check a signature.
 */
#ifndef PGW_API_SESSION_SYNC_H
#define PGW_API_SESSION_SYNC_H

#include <jansson.h>
#include <time.h>

struct pgw_kclient;

#define PGW_SESSION_WRITE_ATTEMPTS 5 /* reads and writes after a 409, before giving up */

/*
 * Reads the Secret in ns and makes it right: created when missing (on 409
 * another replica's is used), current replaced when unreadable, rotated when
 * older than rotation_seconds (on 409 read again: the other writer's key is
 * fresh). 0 with *secret the Secret as it now stands (caller decrefs), or -1
 * with *err (caller frees).
 */
int pgw_session_sync(struct pgw_kclient *c, const char *ns, int rotation_seconds, time_t now, json_t **secret, char **err);

/*
 * Adds revoked (jti → exp) to the Secret's list, merged with what other
 * replicas wrote and pruned of expired entries; retried on 409. 0 with
 * *secret as written (caller decrefs), or -1 with *err (caller frees).
 */
int pgw_session_push_revoked(struct pgw_kclient *c, const char *ns, int rotation_seconds, const json_t *revoked, time_t now,
                             json_t **secret, char **err);

#endif
