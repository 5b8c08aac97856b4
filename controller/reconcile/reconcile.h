/*
 * The reconcile layer's shared vocabulary: the reconciler (client, config,
 * apply cache and the watch-fed stores), the outcome a reconcile reports to
 * the work queue, the helpers every kind's reconcile uses (reconcile_common.c),
 * and the three entry points, one per kind.
 *
 * A reconcile reads from the stores when they exist, runs the guard
 * (validators/guard.h) on the object, decides (controller/decide/) and writes
 * only what changed. It never blocks on anything but the API server.
 */
#ifndef PGW_CONTROLLER_RECONCILE_RECONCILE_H
#define PGW_CONTROLLER_RECONCILE_RECONCILE_H

#include "controller/kube/kclient.h"
#include "controller/kube/store.h"
#include "controller/reconcile/apply.h"

#define PGW_FINALIZER_CLEANUP "pgwarden.io/cleanup"
/* The label the Job controller puts on a Job's pods. */
#define PGW_LABEL_JOB_NAME "batch.kubernetes.io/job-name"

struct pgw_config;

struct pgw_reconciler {
    struct pgw_kclient *client;      /* borrowed; writes gated on leadership */
    const struct pgw_config *config; /* borrowed */
    struct pgw_apply_cache *cache;   /* borrowed */
    /* Local stores fed by watches (borrowed); NULL → read from the API server. */
    struct pgw_store *clusters, *statefulsets, *pods;
    struct pgw_store *backups, *restores, *jobs; /* jobs: those labelled pgwarden.io/cluster */
};

struct pgw_reconcile_outcome {
    const char *result;   /* "success", "error" or "invalid" (metrics label) */
    int writes;           /* write requests made */
    double requeue_after; /* > 0: look again after this many seconds */
    char *error;          /* on "error": why (caller frees) */
};

/* Helpers shared by the reconciles of the three kinds (reconcile_common.c). */

/* Records an Event about obj (borrowed; failures are logged, not returned). Counts a write. */
void pgw_reconcile_event(struct pgw_reconciler *r, const json_t *obj, const char *type, const char *reason, const char *message,
                         int *writes);
/* obj of kind from `store` when there is one, else from the API server. New reference or NULL;
 * *failed is set when the API could not answer (not for 404). */
json_t *pgw_reconcile_fetch(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *ns, const char *name,
                            int *failed);
/* Asks to look again after `seconds` (ignored unless > 0), keeping an earlier, sooner request. */
void pgw_reconcile_requeue(struct pgw_reconcile_outcome *out, double seconds);
/* Marks the outcome an error with `err` (taken; NULL: "reconcile failed"); returns -1. */
int pgw_reconcile_failed(struct pgw_reconcile_outcome *out, char *err);
/*
 * The start of every reconcile: resets *out and fetches the object it is about.
 * NULL with *rc 0 when the object is gone, or with *rc -1 and out->error
 * ("cannot read the <what>") when the API could not answer.
 */
json_t *pgw_reconcile_begin(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *what, const char *ns,
                            const char *name, struct pgw_reconcile_outcome *out, int *rc);
/* Writes `status` (borrowed) through /status as a merge patch when it differs from obj's. 0 or -1 with *err. */
int pgw_reconcile_write_status(struct pgw_reconciler *r, const char *kind, const json_t *obj, const json_t *status, int *writes,
                               char **err);
/* Every object of `kind` in ns whose label `key` equals `value` (value NULL: every object), from
 * `store` or the API. New array (empty on failure, with *failed set). */
json_t *pgw_reconcile_select(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *ns, const char *key,
                             const char *value, int *failed);

/*
 * Creates `job` (borrowed) in the namespace of `owner`. A Job of that name already there counts as
 * created (a retried step). On creation, a Normal Event `reason` on `owner`: "created Job <name>",
 * then ": <what>" unless what is NULL. 0, or -1 with *err (caller frees).
 */
int pgw_reconcile_create_job(struct pgw_reconciler *r, const json_t *owner, const json_t *job, const char *reason, const char *what,
                             int *writes, char **err);

/*
 * The reconcilers, one per kind (reconcile_cluster.c, reconcile_backup.c,
 * reconcile_restore.c). 0 on success or invalid spec; -1 when the key should
 * be retried with backoff.
 */
int pgw_reconcile_cluster(struct pgw_reconciler *r, const char *namespace_, const char *name, struct pgw_reconcile_outcome *out);
int pgw_reconcile_backup(struct pgw_reconciler *r, const char *namespace_, const char *name, struct pgw_reconcile_outcome *out);
int pgw_reconcile_restore(struct pgw_reconciler *r, const char *namespace_, const char *name, struct pgw_reconcile_outcome *out);

#endif
