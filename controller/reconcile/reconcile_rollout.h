/*
 * Rolling updates, switchovers, restarts and the primary's part in a
 * scale-down, one step per reconcile (controller/decide/rollout.h decides,
 * this carries the step out and reports it; docs/operations.md).
 *
 * Every step goes through the API server: a pod is replaced by an Eviction
 * (the PodDisruptionBudget has the last word), and a switchover is written
 * into Patroni's failover key (the `<cluster>-failover` Endpoints, the same
 * key Patroni's REST API writes), which the primary's Patroni carries out on
 * its next wake-up. So the controller needs no network path to the pods.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_ROLLOUT_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_ROLLOUT_H

#include <jansson.h>

#include "controller/reconcile/reconcile.h"

/* Apply-cache entry: the instance this controller last asked Patroni to switch over to, so the
 * PrimaryChanged Event of a planned switchover is Normal, not Warning (reconcile_primary.c). */
#define PGW_CACHE_SWITCHOVER_TO "SwitchoverTo"

/*
 * Before the children are applied: the StatefulSet replicas to render
 * instead of spec.instances while a scale-down waits for the primary to move
 * to a lower ordinal (0: spec.instances). The primary is the stored
 * status.primary or, without one, the pods' role label.
 */
long long pgw_reconcile_rollout_hold(const json_t *cluster, const json_t *defaulted, const json_t *pods);

/*
 * After the status is computed (status.primary set): decides and carries out
 * one step, and writes the rollout's part of `status` (phase Upgrading,
 * updatedInstances, pendingRestart, the Upgrading and Progressing
 * conditions). Returns the seconds after which to look again (0: nothing under way).
 */
double pgw_reconcile_rollout(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, const json_t *pods,
                             const json_t *statefulset, const char *expected_injected, json_t *status, const char *now,
                             int *writes);

#endif
