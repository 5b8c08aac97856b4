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
void pgw_metrics_set_cert_expiry(time_t not_after);

/* Controller side. kind: "PostgresCluster" etc.; result: "success" | "error" | "invalid". */
void pgw_metrics_observe_reconcile(const char *kind, const char *result, double seconds);
void pgw_metrics_set_workqueue_depth(long depth);
void pgw_metrics_set_leader(int is_leader);

/* Renders all series. malloc'd; the caller frees. */
char *pgw_metrics_render(size_t *len);

#endif
