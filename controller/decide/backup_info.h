/*
 * `pgbackrest info --output=json` → the fields of PostgresBackup status
 * (DESIGN.md §3, §7): backupLabel, lsnStart, lsnStop, sizeBytes, startedAt,
 * completedAt. The backup Job prints that JSON as the last line of its log
 * (specs/render_backup.c); the controller reads the log and calls these.
 *
 * Pure functions over untrusted text: the JSON is size-capped, parsed with
 * duplicate keys rejected, and every field is type-checked.
 */
#ifndef PGW_CONTROLLER_DECIDE_BACKUP_INFO_H
#define PGW_CONTROLLER_DECIDE_BACKUP_INFO_H

#include <stddef.h>
#include <jansson.h>

#define PGW_BACKUP_INFO_MAX_BYTES (16u << 20)

struct pgw_backup_info {
    char *label;     /* "20250131-120000F_20250131-130000I" */
    char *type;      /* full|diff|incr */
    char *lsn_start; /* "0/2000028" */
    char *lsn_stop;
    long long size_bytes; /* bytes this backup added to the repository (info.repository.delta) */
    long long db_bytes;   /* size of the database it covers (info.size) */
    long long started_at; /* Unix seconds */
    long long completed_at;
    int error; /* pgBackRest found checksum errors in the backed-up pages */
};

/*
 * Finds the backup `label` of stanza `stanza` in `json_text` (len bytes), or
 * the newest one when label is NULL, and fills `out` (dispose it). Returns 0,
 * or -1 with a malloc'd message in *err.
 */
int pgw_backup_info_parse(const char *json_text, size_t len, const char *stanza, const char *label, struct pgw_backup_info *out,
                          char **err);
/* The number of backups of `stanza` (-1 on unparsable input). */
int pgw_backup_info_count(const char *json_text, size_t len, const char *stanza);
/* The last line of a Job log that starts with '[' (the info JSON), as a pointer
 * into `log` and its length in *len; NULL when there is none. */
const char *pgw_backup_info_from_log(const char *log, size_t *len);
/* {backupLabel, type, lsnStart, lsnStop, sizeBytes, startedAt, completedAt} for status (new object). */
json_t *pgw_backup_info_status(const struct pgw_backup_info *info);
void pgw_backup_info_dispose(struct pgw_backup_info *info);

#endif
