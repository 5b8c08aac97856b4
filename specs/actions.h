/*
 * The objects behind the day-2 actions, built the same way for the kubectl
 * plugin (cli/plugin_backup.c, plugin_restore.c, plugin_switchover.c,
 * plugin_restart.c) and the REST API (api/actions.c): a PostgresBackup, a
 * PostgresRestore, and the merge patch that sets an operation annotation
 * (specs/operations.h). Admission validates what they build, so these only
 * check what the object's shape needs. Pure.
 */
#ifndef PGW_SPECS_ACTIONS_H
#define PGW_SPECS_ACTIONS_H

#include <jansson.h>
#include <time.h>

/* A PostgresBackup's name is at most 63 characters (its Job's label). */
#define PGW_BACKUP_NAME_MAX 63

/* 1 when type is "full", "diff" or "incr". */
int pgw_action_backup_type_ok(const char *type);

/* CLUSTER-TYPE-YYYYMMDDHHMMSS (UTC at now), the cluster's name cut so the whole fits 63. Caller frees. */
char *pgw_action_backup_name(const char *cluster, const char *type, time_t now);

/* The PostgresBackup `name` (NULL: pgw_action_backup_name) of cluster in ns. New reference. */
json_t *pgw_action_backup(const char *ns, const char *cluster, const char *type, const char *name, time_t now);

/* What a restore asks for: at most one of time, lsn and immediate (none: to the end of the archived WAL). */
struct pgw_restore_request {
    const char *cluster; /* the source */
    const char *into;    /* the new cluster, also the PostgresRestore's name */
    const char *time;    /* RFC 3339, or NULL */
    const char *lsn;     /* or NULL */
    int immediate;
    const char *backup; /* the PostgresBackup to start from, or NULL: the latest that fits */
    int has_instances;
    long long instances; /* admission checks the range */
};

/* The PostgresRestore (new reference), or NULL with *err (static text) when more than one target is given. */
json_t *pgw_action_restore(const char *ns, const struct pgw_restore_request *req, const char **err);

/* {"metadata":{"annotations":{annotation: value}}}: the merge patch of a switchover or restart. New reference. */
json_t *pgw_action_annotation_patch(const char *annotation, const char *value);

#endif
