/*
 * The backup side of a PostgresCluster reconcile, called by
 * reconcile_cluster.c once the children are applied.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_CLUSTER_BACKUPS_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_CLUSTER_BACKUPS_H

#include "controller/reconcile/reconcile.h"

/*
 * The backup side of a cluster reconcile (reconcile_cluster_backups.c): deletes
 * the CronJobs of schedules no longer in the spec, creates the stanza-create
 * Job once `status` (being written) says Running, and sets the BackupReady
 * condition on `status`. 0, or -1 with *err.
 */
int pgw_reconcile_cluster_backups(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, json_t *status,
                                  const char *now, int *writes, char **err);

/*
 * Exports the cluster's backup freshness (common/metrics.h): status.lastBackup, or the creation
 * time while there is none, for a cluster with a backup repository; `cluster` NULL (gone), being
 * deleted, or without a repository drops its series.
 */
void pgw_cluster_backups_export_metric(const char *ns, const char *name, const json_t *cluster);

#endif
