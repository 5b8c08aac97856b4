/*
 * The I/O side of an in-place major upgrade (docs/upgrades.md); the decisions
 * are controller/decide/upgrade.h, the Jobs specs/render_upgrade.h.
 *
 * Three hooks into a cluster's reconcile:
 *  1. before rendering, pgw_reconcile_upgrade_prepare() works out the data's
 *     major and makes the defaulted copy render it (spec.postgresVersion, and
 *     the live image when spec.image names the new one), so the StatefulSet
 *     never runs a newer postgres on older data;
 *  2. after rendering, pgw_reconcile_upgrade_render() sets the StatefulSet's
 *     replicas (none while the data is being upgraded);
 *  3. after the status is computed, pgw_reconcile_upgrade() takes the next
 *     step: creates or deletes the Jobs, points Patroni's DCS at the
 *     upgraded data, deletes the replicas' data claims, and writes the
 *     MajorUpgrade condition, status.runningPostgresVersion and the phase
 *     into `status`, with an Event per step.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_UPGRADE_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_UPGRADE_H

#include <jansson.h>

#include "controller/reconcile/reconcile.h"

struct pgw_upgrade_plan {
    long long target;       /* spec.postgresVersion */
    long long running;      /* the data's major (0: not known, nothing is done) */
    const char *step;       /* the stored MajorUpgrade reason (borrowed from the cluster) */
    long long replicas;     /* what the StatefulSet runs */
    json_t *target_cluster; /* the defaulted cluster as the spec says (the Jobs' view); owned */
    json_t *status;         /* the cluster's status the steps go by: read from the API server while an upgrade
                               is under way (the watch-fed store may lag behind our own last write); owned */
};

void pgw_reconcile_upgrade_prepare(struct pgw_reconciler *r, const json_t *cluster, json_t *defaulted,
                                   struct pgw_upgrade_plan *plan);
void pgw_reconcile_upgrade_render(const struct pgw_upgrade_plan *plan, json_t *children);
/* 0, or -1 with *err (caller frees); `status` is edited in place. */
int pgw_reconcile_upgrade(struct pgw_reconciler *r, const json_t *cluster, const struct pgw_upgrade_plan *plan, const json_t *pods,
                          json_t *status, const char *now, struct pgw_reconcile_outcome *out, char **err);
void pgw_reconcile_upgrade_dispose(struct pgw_upgrade_plan *plan);

#endif
