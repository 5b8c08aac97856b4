/*
 * The next step of a rolling update, switchover, restart or scale-down
 * (DESIGN.md §10, docs/operations.md). Pure: the reconciler reads the pods,
 * the StatefulSet and Patroni's keys, this decides one step, the reconciler
 * carries it out and looks again. One step at a time keeps the rules simple
 * and every step visible: never more than one instance down.
 *
 * An instance is stale when its pod no longer matches what it should be: its
 * controller-revision-hash is not the StatefulSet's updateRevision (template,
 * image, resources, a requested restart), its injected-sidecar stamp is not
 * the expected one (an operator upgrade), or Patroni reports a parameter
 * waiting for a restart (pending_restart in the member's `status`
 * annotation).
 *
 * Order: wait while any instance is not ready, being deleted or missing;
 * replicas first, highest ordinal first, each replaced by evicting its pod
 * (the PodDisruptionBudget has the last word); then a switchover to the most
 * up-to-date ready replica (in supervised mode: wait for the user's
 * pgwarden.io/switchover); then the old primary, now a replica.
 */
#ifndef PGW_CONTROLLER_DECIDE_ROLLOUT_H
#define PGW_CONTROLLER_DECIDE_ROLLOUT_H

#include <jansson.h>

/* Patroni's member data on each pod (Kubernetes DCS). */
#define PGW_PATRONI_STATUS_ANNOTATION "status"
/* A replica within this many bytes of the primary may take over (Patroni's maximum_lag_on_failover). */
#define PGW_ROLLOUT_MAX_LAG_BYTES 1048576LL
/* A stale replica not ready for this long is replaced even while it is the one instance down
 * (a bad image fixed in the spec); a shorter blip (a replica reconnecting after a switchover) is waited for. */
#define PGW_ROLLOUT_STUCK_SECONDS 30

enum pgw_rollout_action {
    PGW_ROLLOUT_IDLE,       /* nothing to do */
    PGW_ROLLOUT_WAIT,       /* something must settle first (message says what) */
    PGW_ROLLOUT_EVICT,      /* evict `target` (a replica, or a single instance) */
    PGW_ROLLOUT_SWITCHOVER, /* ask Patroni to hand the primary `target` over to `candidate` */
};

struct pgw_rollout_input {
    const json_t *pods;             /* the cluster's pods (borrowed) */
    const char *cluster;            /* the cluster's name: pods are <cluster>-<ordinal> */
    const char *update_revision;    /* the StatefulSet's status.updateRevision; NULL: unknown */
    const char *expected_injected;  /* pgw_inject_expected_hash(); NULL: none expected */
    const char *primary;            /* status.primary as just computed; NULL: none */
    long long instances;            /* spec.instances */
    int supervised;                 /* spec.rollout.mode == supervised */
    const char *switchover_request; /* pgwarden.io/switchover, or NULL */
    const char *restart_request;    /* pgwarden.io/restart naming one instance, or NULL */
    const json_t *sync_standbys;    /* array of names Patroni allows to take over in synchronous mode; NULL: any */
    int failover_pending;           /* Patroni's failover key holds a request not yet carried out */
    long long now;                  /* unix time, to tell how long a pod has not been ready */
};

struct pgw_rollout_plan {
    enum pgw_rollout_action action;
    char *target;            /* the pod evicted or the primary switched over (malloc'd) */
    char *candidate;         /* SWITCHOVER: the new primary (malloc'd) */
    char *message;           /* what happens or what is waited for, for status and Events (malloc'd) */
    const char *reason;      /* the Upgrading condition's reason: UpToDate, RollingUpdate, WaitingForSwitchover, Blocked, ... */
    int in_progress;         /* a roll or a requested operation is under way (phase Upgrading) */
    long long updated;       /* instances that match what they should be */
    long long total;         /* instances counted (pods of the cluster) */
    int switchover_done;     /* the requested switchover is satisfied: remove the annotation */
    int restart_done;        /* EVICT carries out the requested restart: remove the annotation once done */
    int restart_invalid;     /* the requested restart names no instance: remove it, with a Warning */
    long long hold_replicas; /* > 0: keep the StatefulSet at this many replicas (scale-down waits for a switchover) */
};

/* Decides the next step. Release with pgw_rollout_plan_dispose(). */
void pgw_rollout_decide(const struct pgw_rollout_input *in, struct pgw_rollout_plan *plan);
void pgw_rollout_plan_dispose(struct pgw_rollout_plan *plan);

/* Patroni's member data of a pod (parsed `status` annotation), new reference or NULL. */
json_t *pgw_rollout_member(const json_t *pod);

/* 1 when the pod no longer matches what it should be; *why (static text) says how. */
int pgw_rollout_pod_stale(const json_t *pod, const char *update_revision, const char *expected_injected, const char **why);

/*
 * status.pendingRestart: [{parameter, oldValue, newValue, instances[]}] from
 * the members' pending_restart_reason, sorted by parameter. New reference.
 */
json_t *pgw_rollout_pending_restart(const json_t *pods);

#endif
