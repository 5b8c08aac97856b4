/*
 * Which instance is the primary, and whether that is news (DESIGN.md §3,
 * status.primary).
 *
 * Patroni's leader key (the `leader` annotation of the `<cluster>` Endpoints)
 * says who holds the leadership; the role label on each pod says what that
 * pod's Patroni last wrote of itself. A primary lost with its node keeps its
 * label "primary": nobody is left to change it, so after such a failover two
 * pods carry the label (found on the test bed). So the leader key wins when it
 * names a pod of the cluster, a terminating one included (it serves until its
 * Patroni releases the key); the label is the fallback, before Patroni wrote a
 * key. With neither, status.primary keeps the last primary seen, so the next
 * one is still compared with it. Pure; unit-tested.
 */
#ifndef PGW_CONTROLLER_DECIDE_PRIMARY_H
#define PGW_CONTROLLER_DECIDE_PRIMARY_H

#include <jansson.h>

#define PGW_PATRONI_LEADER_ANNOTATION "leader"

/*
 * The primary's pod name: `leader` (may be NULL) when a pod of that name is in
 * `pods`, else the first pod labelled primary that is not terminating, else
 * `previous` (may be NULL). Borrowed from the arguments.
 */
const char *pgw_primary_pick(const char *leader, const json_t *pods, const char *previous);

/* The message of a PrimaryChanged event, or NULL when there is none to raise (no previous primary,
 * or the same one). Caller frees. */
char *pgw_primary_change_message(const char *previous, const char *now);

#endif
