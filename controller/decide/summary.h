/*
 * The summary of a cluster: phase, versions, each instance with its role,
 * readiness, replication state, timeline and lag, the Services to connect to,
 * the latest backups and the conditions. `kubectl pgwarden status -o json`
 * prints it and the API's cluster detail (api/detail.h) carries it. Pure.
 */
#ifndef PGW_CONTROLLER_DECIDE_SUMMARY_H
#define PGW_CONTROLLER_DECIDE_SUMMARY_H

#include <jansson.h>

/*
 * The summary (new reference) from the cluster, Patroni's leader key (the
 * `leader` annotation of the `<cluster>` Endpoints; may be NULL), its pods,
 * its Services and the namespace's PostgresBackups (all borrowed; backups of
 * other clusters are skipped; NULL lists count as empty).
 */
json_t *pgw_cluster_summary(const json_t *cluster, const char *leader, const json_t *pods, const json_t *services,
                            const json_t *backups);

#endif
