/*
 * Day-2 operations requested on a PostgresCluster (docs/operations.md).
 *
 * A user asks for a switchover or a restart with an annotation on the
 * cluster; the webhook validates it, the controller carries it out and then
 * removes the annotation, so the same request can be made again later.
 */
#ifndef PGW_SPECS_OPERATIONS_H
#define PGW_SPECS_OPERATIONS_H

/* The instance (pod name, e.g. "main-1") that should become the primary. */
#define PGW_ANNOTATION_SWITCHOVER "pgwarden.io/switchover"
/* "all" for a rolling restart of every instance, or one instance's pod name. */
#define PGW_ANNOTATION_RESTART "pgwarden.io/restart"
#define PGW_RESTART_ALL "all"
/* "<role>[,<role>...]": give each role a new generated password (its Secret rewritten, then applied);
 * a declared present role without passwordSecret, or the bootstrap owner (Secret <cluster>-app). */
#define PGW_ANNOTATION_ROTATE_PASSWORD "pgwarden.io/rotate-password"
/* Set by the controller for a restart of all: copied into the pod template, it makes every pod stale,
 * and the rolling update restarts them in the careful order (as kubectl rollout restart does). */
#define PGW_ANNOTATION_RESTARTED_AT "pgwarden.io/restarted-at"

/* A volume claim of an earlier cluster of the same name is mounted only with this annotation set to "true". */
#define PGW_ANNOTATION_ADOPT_VOLUMES "pgwarden.io/adopt-volumes"
/* Carried by the claims of the StatefulSet (volumeClaimTemplates): the uid of the cluster that created them. */
#define PGW_LABEL_CLUSTER_UID "pgwarden.io/cluster-uid"

#define PGW_ROLLOUT_UNSUPERVISED "unsupervised"
#define PGW_ROLLOUT_SUPERVISED "supervised"
#define PGW_SCALE_DOWN_RETAIN "Retain"
#define PGW_SCALE_DOWN_DELETE "Delete"

/* The ordinal of the instance (pod) `name` of `cluster` ("main-2" → 2), or -1 when it names none. */
long long pgw_instance_ordinal(const char *cluster, const char *name);

#endif
