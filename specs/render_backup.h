/*
 * Backups and restores as Kubernetes objects (DESIGN.md §7): pure functions
 * from PostgresBackup / PostgresCluster / PostgresRestore JSON to the Jobs,
 * CronJobs and the new PostgresCluster the controller applies, and the
 * pgBackRest command lines those run.
 *
 * Every Job is a pgBackRest repository host: it reads the job side of ConfigMap
 * <cluster>-pgbackrest and reaches the instances' `pgbackrest server` sidecars
 * over TLS with the client pair from Secret <cluster>-pgbackrest-tls, so no exec
 * into a database pod is ever needed. After the backup the container writes
 * `pgbackrest info --output=json --set=<new label>` (one backup set, well under
 * the 4 KiB Kubernetes keeps) to its termination message, and prints it as its
 * last log line for people; the controller reads the message from the Job's
 * pod status (no logs, no exec) and parses it with controller/decide/backup_info.h.
 *
 * Job pods do not carry pgwarden.io/cluster: that label selects the cluster's
 * database pods (Services, PDB, StatefulSet, sidecar injection). The Jobs
 * themselves do, so the controller's Job watch sees them.
 *
 * Command lines are JSON arrays of argv strings (new references, caller decrefs).
 */
#ifndef PGW_SPECS_RENDER_BACKUP_H
#define PGW_SPECS_RENDER_BACKUP_H

#include <jansson.h>

#include "specs/render.h"

#define PGW_BACKUP_BACKOFF_LIMIT 2
#define PGW_BACKUP_ACTIVE_DEADLINE_SECONDS 21600 /* 6 h: a stuck backup must not hold the stanza forever */
#define PGW_STANZA_BACKOFF_LIMIT 6               /* the primary may still be starting */
#define PGW_BACKUP_STARTING_DEADLINE_SECONDS 3600
#define PGW_BACKUP_HISTORY_LIMIT 3
#define PGW_LABEL_BACKUP "pgwarden.io/backup"
#define PGW_LABEL_SCHEDULE "pgwarden.io/backup-schedule"
#define PGW_LABEL_RESTORE "pgwarden.io/restore"
#define PGW_ANNOTATION_RESTORED_FROM "pgwarden.io/restored-from"
/* The source cluster's repo1-path, which the restored cluster's first instance restores from. */
#define PGW_ANNOTATION_RESTORE_REPO_PATH "pgwarden.io/restore-repo-path"

#define PGW_BACKUP_TERMINATION_PATH "/dev/termination-log"

/*
 * The backup container's /bin/sh script: the backup, then the new set's label
 * (the last "label" of `info --output=json`: sets are listed oldest first),
 * then `info --output=json --set=<label>` written to termination_path and
 * printed. Fails when any step fails. Caller frees.
 */
char *pgw_render_backup_script(const char *config_path, const char *type, const char *termination_path);
/* pgbackrest --config=<config> --stanza=db --type=<type> backup. type: full|diff|incr. */
json_t *pgw_render_backup_args(const char *config_path, const char *type);
/* pgbackrest --config=<config> --stanza=db stanza-create. */
json_t *pgw_render_stanza_create_args(const char *config_path);
/* pgbackrest --config=<config> --stanza=db --output=json info. */
json_t *pgw_render_info_args(const char *config_path);

struct pgw_restore_params {
    const char *config_path;  /* the instance-side pgbackrest.conf of the NEW cluster */
    const char *repo_path;    /* the SOURCE cluster's repo1-path; NULL: the config's */
    const char *backup_label; /* pgBackRest set (a PostgresBackup's status.backupLabel); NULL: chosen by pgBackRest */
    const json_t *target;     /* {time|lsn|xid|name|immediate} or NULL: the end of the archived WAL */
};

/*
 * The first instance's restore command: pgbackrest --config --stanza=db
 * [--repo1-path] [--set] [--type=time|lsn|xid|name|immediate --target=...
 * --target-action=promote] restore. A time target (RFC 3339) is written in UTC
 * as "YYYY-MM-DD HH:MM:SS[.frac]+00", the form both pgBackRest (which picks the
 * backup set from it) and PostgreSQL read. Returns NULL with *err (malloc'd)
 * when the target is not one the validators accept.
 */
json_t *pgw_render_restore_args(const struct pgw_restore_params *p, char **err);

/* batch/v1 Job for a PostgresBackup of `cluster`, owned by the PostgresBackup. */
json_t *pgw_render_backup_job(const json_t *backup, const json_t *cluster, const struct pgw_render_ctx *ctx);
/* batch/v1 Job <cluster>-stanza-create, owned by the cluster. NULL without a repository. */
json_t *pgw_render_stanza_job(const json_t *cluster, const struct pgw_render_ctx *ctx);
/* Appends one batch/v1 CronJob <cluster>-backup-<name> per spec.backup.schedules entry to `out`. */
void pgw_render_backup_cronjobs(const json_t *cluster, const struct pgw_render_ctx *ctx, json_t *out);

/*
 * The PostgresCluster a PostgresRestore creates: the source's spec (version,
 * image, storage, parameters, repository, schedules, ...) with
 * bootstrap.restore {fromCluster, backup?, target?}, newCluster overrides
 * (instances, storage, resources), its own backup path (a restored cluster
 * never archives into its source's path), and no tls.secretName (the source's
 * certificate names the source's Services). No ownerReference: deleting the
 * PostgresRestore must not delete the database it created.
 */
json_t *pgw_render_restore_cluster(const json_t *restore, const json_t *source_cluster);

#endif
