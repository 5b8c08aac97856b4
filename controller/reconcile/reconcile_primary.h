/*
 * status.primary and the PrimaryChanged Event, called by reconcile_cluster.c
 * once the status is computed.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_PRIMARY_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_PRIMARY_H

#include "controller/reconcile/reconcile.h"

/*
 * Sets status.primary (on `status`, being written) from Patroni's leader key
 * (the `<cluster>` Endpoints) and the pods (decide/primary.h), and raises a
 * Warning PrimaryChanged Event when it differs from the primary the stored
 * status names. When the leader key cannot be read, the primary seen before
 * stays (the labels decide only when there is none).
 */
void pgw_reconcile_primary(struct pgw_reconciler *r, const json_t *cluster, const json_t *pods, json_t *status, int *writes);

#endif
