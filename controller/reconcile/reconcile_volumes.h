/*
 * The volume side of a PostgresCluster reconcile (docs/operations.md,
 * "Growing volumes"; the decisions are controller/decide/volumes.h).
 * reconcile_cluster.c calls pgw_reconcile_volumes on the rendered children
 * before applying them, and pgw_reconcile_volumes_status once the status is
 * computed.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_VOLUMES_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_VOLUMES_H

#include "controller/reconcile/reconcile.h"

struct pgw_volumes_outcome {
    const char *type;   /* the condition to set (VolumesResized, VolumesReady), or NULL */
    const char *status; /* "True" or "False" */
    const char *reason;
    char *message;        /* owned */
    double requeue_after; /* > 0: look again this soon (claims resizing, leftovers blocking) */
};

/*
 * With the StatefulSet there: the rendered one keeps the live claim templates
 * (immutable), and each claim below the spec's size is patched to it when its
 * StorageClass allows. Without: the namespace's claims of the cluster's names
 * are checked for an earlier cluster's, and the StatefulSet is taken out of
 * `children` (edited in place) while such claims block it, or while the API
 * cannot say. `defaulted`: the defaulted cluster children were rendered from.
 * Fill *vol ({0} before); Events and patches count in *writes.
 */
void pgw_reconcile_volumes(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, json_t *children,
                           struct pgw_volumes_outcome *vol, int *writes);

/* Sets vol's condition in `status` (being written), the requeue on `out`, and frees vol's contents. */
void pgw_reconcile_volumes_status(const json_t *cluster, struct pgw_volumes_outcome *vol, json_t *status, const char *now,
                                  struct pgw_reconcile_outcome *out);

#endif
