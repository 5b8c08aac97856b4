/*
 * The controller's work queue (DESIGN.md §6), after client-go's rate-limited
 * delaying queue.
 *
 * Items are opaque string keys, by convention "Kind/namespace/name"
 * (pgw_workqueue_key). The queue guarantees:
 *   - a key waits at most once (adding a waiting key is a no-op);
 *   - no two workers hold the same key: a key added while a worker processes
 *     it is queued again only when that worker calls pgw_workqueue_done;
 *   - delayed adds keep the earliest requested time;
 *   - per-key exponential retry (base * 2^failures, capped), reset by forget.
 * Depth (keys ready to be worked on) is exported as pgwarden_workqueue_depth.
 *
 * Thread-safe (one mutex, one condition variable). The clock is injectable;
 * tests use pgw_workqueue_try_get and move the clock instead of sleeping.
 */
#ifndef PGW_CONTROLLER_KUBE_WORKQUEUE_H
#define PGW_CONTROLLER_KUBE_WORKQUEUE_H

#define PGW_WORKQUEUE_BASE_DELAY 0.005
#define PGW_WORKQUEUE_MAX_DELAY 300.0

struct pgw_workqueue_options {
    double base_delay;        /* first retry delay, seconds; 0 → default */
    double max_delay;         /* retry cap, seconds; 0 → default */
    double (*now)(void *ctx); /* monotonic seconds; NULL → the real monotonic clock */
    void *now_ctx;
    int export_metrics; /* set pgwarden_workqueue_depth on every change */
};

struct pgw_workqueue;

/* opts may be NULL. Freed with pgw_workqueue_free (after workers have stopped). */
struct pgw_workqueue *pgw_workqueue_new(const struct pgw_workqueue_options *opts);
void pgw_workqueue_free(struct pgw_workqueue *q);

/* "Kind/namespace/name" (namespace empty for cluster-scoped objects). The caller frees. */
char *pgw_workqueue_key(const char *kind, const char *namespace_, const char *name);

void pgw_workqueue_add(struct pgw_workqueue *q, const char *key);
/* Adds after `seconds` (<= 0: now). */
void pgw_workqueue_add_after(struct pgw_workqueue *q, const char *key, double seconds);
/* Adds after the key's next retry delay and counts a failure. Returns the delay used. */
double pgw_workqueue_add_rate_limited(struct pgw_workqueue *q, const char *key);
/* Clears the key's failure count (call after a successful reconcile). */
void pgw_workqueue_forget(struct pgw_workqueue *q, const char *key);
int pgw_workqueue_num_requeues(struct pgw_workqueue *q, const char *key);

/*
 * Blocks until a key is ready and returns it (the caller owns the string and
 * must call pgw_workqueue_done with it, then free it), or NULL once the queue
 * is shut down.
 */
char *pgw_workqueue_get(struct pgw_workqueue *q);
/* Like get, without blocking: NULL when nothing is ready (or shut down). */
char *pgw_workqueue_try_get(struct pgw_workqueue *q);
void pgw_workqueue_done(struct pgw_workqueue *q, const char *key);

/* Wakes every blocked get (they return NULL); later adds are ignored. */
void pgw_workqueue_shutdown(struct pgw_workqueue *q);

/* Keys ready to be handed out. */
long pgw_workqueue_len(struct pgw_workqueue *q);
/* Keys waiting for a delay to pass. */
long pgw_workqueue_delayed(struct pgw_workqueue *q);

#endif
