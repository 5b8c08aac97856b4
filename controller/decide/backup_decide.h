/*
 * The decisions behind PostgresBackup and PostgresRestore reconciles
 * (DESIGN.md §3, §7), as pure functions: no I/O, no clock (callers pass
 * `now`), so every rule is a row in test/unit/test_backup_decide.c.
 *
 *   job state    what a batch/v1 Job's status says: not started, running,
 *                succeeded or failed (conditions Complete/Failed decide).
 *   gate         one pgBackRest at a time per stanza: a backup starts only when
 *                no other backup Job of its cluster is unfinished (on-demand,
 *                scheduled or stanza-create), no other PostgresBackup of the
 *                cluster is Running, and no unfinished one was queued before it
 *                (creationTimestamp, then name). Two controllers, or two
 *                workers, looking at the same objects pick the same winner.
 *   status       a PostgresBackup's status from its Job and the termination
 *                message of the Job's pod (`pgbackrest info --output=json
 *                --set=<label>`, see render_backup.h).
 *   restore      the cross-object checks of a PostgresRestore: source cluster,
 *                named backup, and the new cluster's name.
 */
#ifndef PGW_CONTROLLER_DECIDE_BACKUP_DECIDE_H
#define PGW_CONTROLLER_DECIDE_BACKUP_DECIDE_H

#include <jansson.h>

enum pgw_job_state {
    PGW_JOB_ABSENT,    /* no Job */
    PGW_JOB_PENDING,   /* created, not started */
    PGW_JOB_ACTIVE,    /* started, not finished */
    PGW_JOB_SUCCEEDED, /* condition Complete=True */
    PGW_JOB_FAILED     /* condition Failed=True */
};

/* The state of `job` (NULL → ABSENT). On FAILED, *reason and *message (borrowed from
 * the Job; may be NULL) say why; reason/message may be NULL pointers. */
enum pgw_job_state pgw_backup_decide_job_state(const json_t *job, const char **reason, const char **message);

/*
 * When the newest scheduled backup of `cluster` finished: the greatest
 * status.completionTime (RFC 3339 UTC, borrowed) among the succeeded Jobs in
 * `jobs` labelled pgwarden.io/cluster=<cluster> and carrying the schedule label
 * (the CronJobs' Jobs); NULL when none. A scheduled backup moves the cluster's
 * status.lastBackup forward as an on-demand one does.
 */
const char *pgw_backup_decide_last_scheduled(const json_t *jobs, const char *cluster);

/* The termination message of the `container` of the newest finished pod in
 * `pods` (borrowed), preferring a pod whose phase matches `succeeded`; NULL when none. */
const char *pgw_backup_decide_termination_message(const json_t *pods, const char *container, int succeeded);

/*
 * 0 when `backup` may start its Job now; 1 when it must wait, with *why
 * (malloc'd, caller frees) naming what it waits for. backups: every
 * PostgresBackup of the namespace (may include `backup`); jobs: the Jobs
 * labelled with the cluster (pgwarden.io/cluster).
 */
int pgw_backup_decide_gate(const json_t *backup, const json_t *backups, const json_t *jobs, char **why);

/*
 * The status of a backup whose Job exists (new object, caller decrefs):
 * Running while the Job runs; Succeeded with backupLabel, lsnStart, lsnStop,
 * sizeBytes, startedAt, completedAt from `message` (the termination message,
 * may be NULL); Failed with the Job's reason and the message (pgBackRest's
 * error, via FallbackToLogsOnError). old_status: the current status (may be
 * NULL), whose startedAt is kept while the Job runs.
 */
json_t *pgw_backup_decide_status(const json_t *old_status, const json_t *job, const char *message, const char *now);

enum pgw_restore_action {
    PGW_RESTORE_CREATE, /* every check passed: create the new cluster */
    PGW_RESTORE_FOLLOW, /* the new cluster exists and was created by this restore */
    PGW_RESTORE_WAIT,   /* a check failed that may pass later: Pending, look again */
    PGW_RESTORE_FAIL    /* a check failed for good: Failed */
};

/*
 * restore: the (defaulted) PostgresRestore; source: the source cluster or
 * NULL; backup: the PostgresBackup named by spec.source.backup or NULL;
 * existing: a PostgresCluster already carrying the new name, or NULL.
 * *why (malloc'd, caller frees) explains every action but CREATE.
 */
enum pgw_restore_action pgw_backup_decide_restore(const json_t *restore, const json_t *source, const json_t *backup,
                                                  const json_t *existing, char **why);
/* The new cluster's name: spec.newCluster.name, else the restore's name (borrowed). */
const char *pgw_backup_decide_restore_name(const json_t *restore);
/* What status.restoredTo reports: the target's time, lsn, xid or name, "immediate", or
 * "latest" (the end of the archived WAL). malloc'd. */
char *pgw_backup_decide_restored_to(const json_t *restore);

#endif
