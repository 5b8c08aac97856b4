/*
 * Declarative roles, databases and extensions, applied (docs/roles.md, "How
 * pgwarden applies it"): the part of a cluster's reconcile that connects to
 * the primary with pgwarden's own client (controller/pg/), reads the catalog,
 * runs the plan of controller/decide/roles.h and writes status.roles,
 * status.databases and the RolesReady condition.
 *
 * It connects only when there is something to do: a cluster that declares no
 * role nor database and has none in its status costs nothing. It runs only
 * with a ready primary that has an IP and a phase of Running or Degraded (not
 * while a major upgrade or the first start is under way).
 *
 * Passwords: each role's Secret (the user's passwordSecret or the generated
 * <cluster>-<role>, rendered with the other children) is read every time; a
 * resourceVersion other than status.roles[].passwordVersion sets the password
 * again (as a SCRAM verifier). pgwarden.io/rotate-password=<roles> writes a
 * new generated password into the role's Secret (the bootstrap owner's:
 * <cluster>-app, uri and jdbc-uri included) — the only Secrets the controller
 * ever rewrites — and is removed once every named password is applied.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_ROLES_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_ROLES_H

#include <jansson.h>

#include "controller/reconcile/reconcile.h"

/* Fills status.roles, status.databases and RolesReady in `status` (the new status of the cluster; the
 * entries of the last one are carried over while nothing can be applied). Asks for a requeue when a step
 * failed or the primary could not be reached. Never fails the reconcile. */
void pgw_reconcile_roles(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, const json_t *pods,
                         json_t *status, const char *now, struct pgw_reconcile_outcome *out);

#endif
