/*
 * Prometheus metrics (DESIGN.md §8), lock-free.
 *
 * Every series is a fixed slot updated with relaxed atomics from any event-loop
 * thread; /metrics renders a snapshot in the text exposition format. Label sets
 * are closed (known paths, a short list of codes), so cardinality is bounded
 * whatever clients send.
 */
#ifndef PGW_COMMON_METRICS_H
#define PGW_COMMON_METRICS_H

#include <stddef.h>
#include <time.h>

#define PGW_METRICS_MAX_PATHS 16

/* Registers the admission path labels (index i ↔ paths[i]); requests to other paths count as "other". */
void pgw_metrics_init(const char *const *paths, size_t count);

/* path_index: a registered index, or (size_t)-1 for "other". allowed: 1, 0, or -1 when not applicable. */
void pgw_metrics_observe_admission(size_t path_index, int http_code, int allowed, double seconds);
void pgw_metrics_inflight_add(int delta);
/* The API listener (api/server.c): one request answered with http_code after seconds; counted by code class. */
void pgw_metrics_observe_api(int http_code, double seconds);
void pgw_metrics_set_cert_expiry(time_t not_after);

/* Controller side. kind: "PostgresCluster" etc.; result: "success" | "error" | "invalid". */
void pgw_metrics_observe_reconcile(const char *kind, const char *result, double seconds);
void pgw_metrics_set_workqueue_depth(long depth);
void pgw_metrics_set_leader(int is_leader);

/*
 * Per-cluster backup freshness, pgwarden_cluster_last_backup_timestamp_seconds{namespace,cluster}:
 * the completion time of the cluster's newest successful backup, or its creation time while it has
 * none, so "no backup for N hours" also catches a cluster that never had one. Only the leader
 * reconciles, so losing the lease (pgw_metrics_set_leader(0)) clears the table: a former leader
 * must not keep a deleted cluster's series alive. At most PGW_METRICS_MAX_CLUSTERS clusters; past
 * that a new cluster is not exported (pgwarden_metrics_clusters_dropped_total counts the updates lost).
 */
#define PGW_METRICS_MAX_CLUSTERS 512
void pgw_metrics_set_last_backup(const char *ns, const char *cluster, time_t when);
void pgw_metrics_forget_cluster(const char *ns, const char *cluster);

/* Renders all series. malloc'd; the caller frees. */
char *pgw_metrics_render(size_t *len);

#endif
