/*
 * The status of a PostgresCluster, computed from what the reconciler saw
 * (DESIGN.md §3, "Cluster status"). Pure: no I/O and no clock (the caller
 * passes `now`), so every phase and condition rule is a row in a unit test.
 *
 * Phase, in order of precedence:
 *   Deleting  metadata.deletionTimestamp is set;
 *   Failed    the guard found the spec invalid;
 *   Running   every desired instance is ready and a primary is labelled;
 *   Degraded  not Running, but the cluster was Running or Degraded before;
 *   Pending   no pod exists yet;
 *   Creating  otherwise (first start still under way).
 * Conditions (each with observedGeneration = metadata.generation): Valid,
 * Ready, Progressing and SidecarsInjected. A condition keeps its
 * lastTransitionTime while its status stays the same, so recomputing an
 * unchanged cluster yields an equal status and the caller writes nothing.
 */
#ifndef PGW_CONTROLLER_DECIDE_CLUSTER_STATUS_H
#define PGW_CONTROLLER_DECIDE_CLUSTER_STATUS_H

#include <jansson.h>

#define PGW_POD_LABEL_ROLE "pgwarden.io/role"
#define PGW_ROLE_PRIMARY "primary"

struct pgw_status_input {
    const json_t *cluster;         /* the stored object: generation, deletionTimestamp, previous status */
    int valid;                     /* the guard's verdict */
    const char *invalid_message;   /* the field errors, when !valid */
    const json_t *statefulset;     /* the live StatefulSet or NULL */
    const json_t *pods;            /* array of the cluster's pods (may be NULL: none known) */
    const char *expected_injected; /* pgw_inject_expected_hash() for the cluster's sidecars; NULL: none expected */
    long long desired_instances;   /* spec.instances after defaulting */
    int children_written;          /* writes made by this reconcile */
    const char *apply_error;       /* NULL or why applying failed */
    const char *now;               /* RFC 3339, for lastTransitionTime */
};

/* The new status object (caller decrefs). */
json_t *pgw_cluster_status_compute(const struct pgw_status_input *in);

/* Pod helpers (borrowed pod). */
int pgw_pod_is_ready(const json_t *pod);
int pgw_pod_is_primary(const json_t *pod);

/*
 * Sets condition `type` in status.conditions (replacing one of that type),
 * keeping the lastTransitionTime of old_status's condition while its status
 * is unchanged. For writers of conditions other than the computed four
 * (BackupReady).
 */
void pgw_cluster_status_set_condition(json_t *status, const json_t *old_status, const char *type, const char *cond_status,
                                      const char *reason, const char *message, long long generation, const char *now);

/* The condition of `type` in a status object, borrowed, or NULL. */
const json_t *pgw_cluster_status_condition(const json_t *status, const char *type);

/*
 * A JSON merge patch {"status": ...} turning `old_status` (may be NULL) into
 * `new_status`: members that disappeared are set to null. NULL when the two
 * are equal (nothing to write). Caller decrefs.
 */
json_t *pgw_cluster_status_patch(const json_t *old_status, const json_t *new_status);

#endif
