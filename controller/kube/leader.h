/*
 * Leader election on a coordination.k8s.io/v1 Lease (DESIGN.md §6), with
 * client-go's timing: lease 15 s, renew deadline 10 s, retry period 2 s.
 *
 * A candidate tries every retry period to take the Lease when it is free or
 * expired. "Expired" is judged by the local monotonic time at which this
 * replica last saw the Lease record change, plus leaseDurationSeconds — never
 * by comparing renewTime with our wall clock, so skewed clocks between nodes
 * cannot make two leaders. The leader renews every retry period; if it has not
 * renewed successfully for the renew deadline (or sees another holder) it
 * stops leading at once, before the lease can expire for the others.
 * Every write carries the resourceVersion read, so a lost race is a 409 and a
 * retry, not a second leader.
 *
 * The state machine is pure: the Lease is read and written through a store
 * interface (controller/kube/lease.h provides the API-server one; tests pass a
 * fake) and both clocks are injectable. pgw_leader_run drives it on a thread.
 * Writers check pgw_leader_is_leading() before every write.
 */
#ifndef PGW_CONTROLLER_KUBE_LEADER_H
#define PGW_CONTROLLER_KUBE_LEADER_H

#define PGW_LEADER_LEASE_DURATION 15.0
#define PGW_LEADER_RENEW_DEADLINE 10.0
#define PGW_LEADER_RETRY_PERIOD 2.0

/* The Lease spec fields we use plus the object's resourceVersion. All strings are owned by the struct. */
struct pgw_lease_record {
    char *holder;       /* holderIdentity; NULL or "" when free */
    int duration;       /* leaseDurationSeconds */
    char *acquire_time; /* MicroTime strings, as stored */
    char *renew_time;
    int transitions; /* leaseTransitions */
    char *resource_version;
};
void pgw_lease_record_dispose(struct pgw_lease_record *r);

enum { PGW_LEASE_OK = 0, PGW_LEASE_NOT_FOUND = 1, PGW_LEASE_CONFLICT = 2, PGW_LEASE_ERROR = -1 };

struct pgw_lease_store {
    /* Fills *out (disposed by the caller). OK, NOT_FOUND or ERROR. */
    int (*get)(void *ctx, struct pgw_lease_record *out);
    /* Creates the Lease; on OK replaces rec->resource_version. OK, CONFLICT (already exists) or ERROR. */
    int (*create)(void *ctx, struct pgw_lease_record *rec);
    /* Replaces the Lease if its resourceVersion is still rec->resource_version; on OK updates it. OK, CONFLICT or ERROR. */
    int (*update)(void *ctx, struct pgw_lease_record *rec);
    void *ctx;
};

struct pgw_leader_options {
    const char *identity;                                /* this replica, e.g. the pod name; copied */
    double lease_duration, renew_deadline, retry_period; /* seconds; 0 → defaults */
    double (*now)(void *ctx);                            /* monotonic seconds; NULL → real clock */
    double (*wall)(void *ctx);                           /* Unix seconds for renewTime; NULL → real clock */
    void *clock_ctx;
    void (*on_started_leading)(void *ctx);
    void (*on_stopped_leading)(void *ctx);
    void *cb_ctx;
    int global; /* this elector answers pgw_leader_is_leading() and sets pgwarden_is_leader */
};

struct pgw_leader;

/* The store is copied (its ctx stays the caller's). Freed with pgw_leader_free. */
struct pgw_leader *pgw_leader_new(const struct pgw_leader_options *opts, const struct pgw_lease_store *store);
void pgw_leader_free(struct pgw_leader *l);

/* One step: acquire or renew as due. Returns the seconds until the next step. Not thread-safe against itself. */
double pgw_leader_tick(struct pgw_leader *l);
/* Leading, and the last renewal is younger than the renew deadline. */
int pgw_leader_leading(struct pgw_leader *l);
/*
 * Seconds a write started now may take and still land while no other replica
 * can hold the Lease: until last renewal + lease duration, less a 1 s margin
 * for clock rates. 0 when not leading.
 */
double pgw_leader_write_budget(struct pgw_leader *l);
/* Gives the Lease up (holder cleared) if we hold it, so another replica takes over without waiting. */
void pgw_leader_release(struct pgw_leader *l);

/* Runs ticks on a new thread until pgw_leader_stop; stop releases the lease and joins. 0 or -1. */
int pgw_leader_start(struct pgw_leader *l);
void pgw_leader_stop(struct pgw_leader *l);

/* For writers: is the global elector leading right now? 1 when no global elector exists (election disabled). */
int pgw_leader_is_leading(void);
/* pgw_leader_write_budget() of the global elector; a negative number when there is none (no limit). */
double pgw_leader_global_write_budget(void);

/* Formats Unix seconds as a Kubernetes MicroTime ("2006-01-02T15:04:05.000000Z"). buf: at least 32 bytes;
 * returns buf, or NULL (buf emptied) when the stamp does not fit. */
char *pgw_leader_format_microtime(double unix_seconds, char *buf, unsigned long bufsize);

#endif
