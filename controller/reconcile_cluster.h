/*
 * One reconcile of one PostgresCluster (DESIGN.md §2, §6).
 *
 *  1. Read the cluster (from the local store when there is one).
 *  2. Deleting: delete Patroni's endpoints (label pgwarden.io/cluster=<name>)
 *     so a re-created cluster does not inherit a stale system ID, keep the
 *     PVCs, remove our finalizer. Deletion protection is the webhook's job.
 *  3. Guard: run the same defaulting and validation as admission on a copy.
 *     Invalid → Valid=False with the field errors, a Warning Event, nothing else.
 *  4. Add the finalizer pgwarden.io/cleanup.
 *  5. Render the children from the defaulted copy and apply them (apply.h:
 *     unchanged children cost nothing).
 *  6. After bootstrap, push parameter changes into Patroni's `<cluster>-config`
 *     annotation (patroni_dcs.h).
 *  7. Compute the status (cluster_status.h) and write it through /status only
 *     when it changed. Events on phase transitions and errors.
 * A steady-state reconcile makes no write.
 */
#ifndef PGW_CONTROLLER_RECONCILE_CLUSTER_H
#define PGW_CONTROLLER_RECONCILE_CLUSTER_H

#include "controller/apply.h"
#include "controller/kclient.h"
#include "controller/store.h"

#define PGW_FINALIZER_CLEANUP "pgwarden.io/cleanup"

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

/* 0 on success or invalid spec; -1 when the key should be retried with backoff. */
int pgw_reconcile_cluster(struct pgw_reconciler *r, const char *namespace_, const char *name, struct pgw_reconcile_outcome *out);

/* "spec.instances: Invalid value: 0: must be ...; spec.storage.size: Required value" (caller frees), or NULL. */
char *pgw_reconcile_guard(const json_t *cluster, const struct pgw_config *config, json_t **defaulted);

/* Helpers shared by the reconciles of the three kinds (reconcile_backup.c, reconcile_restore.c). */

/* Records an Event about obj (borrowed; failures are logged, not returned). Counts a write. */
void pgw_reconcile_event(struct pgw_reconciler *r, const json_t *obj, const char *type, const char *reason, const char *message,
                         int *writes);
/* obj of kind from `store` when there is one, else from the API server. New reference or NULL;
 * *failed is set when the API could not answer (not for 404). */
json_t *pgw_reconcile_fetch(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *ns, const char *name,
                            int *failed);
/* Marks the outcome an error with `err` (taken; NULL: "reconcile failed"); returns -1. */
int pgw_reconcile_failed(struct pgw_reconcile_outcome *out, char *err);
/*
 * The start of every reconcile: resets *out and fetches the object it is about.
 * NULL with *rc 0 when the object is gone, or with *rc -1 and out->error
 * ("cannot read the <what>") when the API could not answer.
 */
json_t *pgw_reconcile_begin(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *what,
                            const char *ns, const char *name, struct pgw_reconcile_outcome *out, int *rc);
/* Writes `status` (borrowed) through /status as a merge patch when it differs from obj's. 0 or -1 with *err. */
int pgw_reconcile_write_status(struct pgw_reconciler *r, const char *kind, const json_t *obj, const json_t *status, int *writes,
                               char **err);
/* Every object of `kind` in ns whose label `key` equals `value` (value NULL: every object), from
 * `store` or the API. New array (empty on failure, with *failed set). */
json_t *pgw_reconcile_select(struct pgw_reconciler *r, struct pgw_store *store, const char *kind, const char *ns, const char *key,
                             const char *value, int *failed);

/*
 * The backup side of a cluster reconcile (reconcile_cluster_backups.c): deletes
 * the CronJobs of schedules no longer in the spec, creates the stanza-create
 * Job once `status` (being written) says Running, and sets the BackupReady
 * condition on `status`. 0, or -1 with *err.
 */
int pgw_reconcile_cluster_backups(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, json_t *status,
                                  const char *now, int *writes, char **err);

int pgw_reconcile_backup(struct pgw_reconciler *r, const char *namespace_, const char *name, struct pgw_reconcile_outcome *out);
int pgw_reconcile_restore(struct pgw_reconciler *r, const char *namespace_, const char *name, struct pgw_reconcile_outcome *out);

#endif
