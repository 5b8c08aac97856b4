/*
 * Reading `pgbackrest info --output=json` (see backup_info.h).
 *
 * The output is an array of stanzas; each has "backup", an array ordered
 * oldest first, whose entries carry "label", "type", "timestamp" {start, stop}
 * (Unix seconds), "lsn" {start, stop} and "info" {size, delta, repository
 * {size, delta}}. Fields we do not know are ignored, so newer pgBackRest
 * releases keep working.
 */
#include "controller/decide/backup_info.h"

#include <string.h>

#include "common/json_pack.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

static json_t *load(const char *text, size_t len, char **err)
{
    if (len > PGW_BACKUP_INFO_MAX_BYTES) {
        *err = pgw_asprintf("pgbackrest info output is larger than %u bytes", PGW_BACKUP_INFO_MAX_BYTES);
        return NULL;
    }
    json_error_t e;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (root == NULL) {
        *err = pgw_asprintf("pgbackrest info output is not JSON: %s", e.text);
        return NULL;
    }
    if (!json_is_array(root)) {
        json_decref(root);
        *err = pgw_strdup("pgbackrest info output is not a list of stanzas");
        return NULL;
    }
    return root;
}

static json_t *stanza_backups(json_t *root, const char *stanza)
{
    size_t i;
    json_t *s;
    json_array_foreach(root, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "name"));
        if (name != NULL && strcmp(name, stanza) == 0) {
            json_t *b = json_object_get(s, "backup");
            return json_is_array(b) ? b : NULL;
        }
    }
    return NULL;
}

static char *dup_string(const json_t *v)
{
    return json_is_string(v) ? pgw_strdup(json_string_value(v)) : NULL;
}

static long long int_or(const json_t *v, long long fallback)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : fallback;
}

int pgw_backup_info_count(const char *json_text, size_t len, const char *stanza)
{
    char *err = NULL;
    json_t *root = load(json_text, len, &err);
    free(err);
    if (root == NULL)
        return -1;
    json_t *b = stanza_backups(root, stanza);
    int n = b != NULL ? (int)json_array_size(b) : 0;
    json_decref(root);
    return n;
}

int pgw_backup_info_parse(const char *json_text, size_t len, const char *stanza, const char *label, struct pgw_backup_info *out,
                          char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    json_t *root = load(json_text, len, err);
    if (root == NULL)
        return -1;
    json_t *backups = stanza_backups(root, stanza), *found = NULL;
    size_t i;
    json_t *b;
    json_array_foreach(backups, i, b)
    {
        const char *l = json_string_value(json_object_get(b, "label"));
        if (l != NULL && (label == NULL || strcmp(l, label) == 0))
            found = b; /* without a label: the last one, the newest */
    }
    if (found == NULL) {
        *err = label != NULL ? pgw_asprintf("stanza %s has no backup %s", stanza, label)
                             : pgw_asprintf("stanza %s has no backup", stanza);
        json_decref(root);
        return -1;
    }
    json_t *ts = json_object_get(found, "timestamp"), *lsn = json_object_get(found, "lsn");
    json_t *info = json_object_get(found, "info"), *repo = json_object_get(info, "repository");
    out->label = dup_string(json_object_get(found, "label"));
    out->type = dup_string(json_object_get(found, "type"));
    out->lsn_start = dup_string(json_object_get(lsn, "start"));
    out->lsn_stop = dup_string(json_object_get(lsn, "stop"));
    out->started_at = int_or(json_object_get(ts, "start"), 0);
    out->completed_at = int_or(json_object_get(ts, "stop"), 0);
    out->size_bytes = int_or(json_object_get(repo, "delta"), -1);
    out->db_bytes = int_or(json_object_get(info, "size"), -1);
    out->error = json_is_true(json_object_get(found, "error"));
    json_decref(root);
    if (out->type == NULL || out->lsn_start == NULL || out->lsn_stop == NULL || out->started_at <= 0 || out->completed_at <= 0) {
        *err = pgw_asprintf("backup %s lacks its type, LSN range or timestamps", out->label);
        pgw_backup_info_dispose(out);
        return -1;
    }
    return 0;
}

const char *pgw_backup_info_from_log(const char *log, size_t *len)
{
    const char *found = NULL, *line = log;
    *len = 0;
    while (line != NULL && *line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (n > 0 && line[0] == '[') {
            found = line;
            *len = n;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return found;
}

json_t *pgw_backup_info_status(const struct pgw_backup_info *info)
{
    char started[32], completed[32];
    pgw_rfc3339_format((time_t)info->started_at, started, sizeof(started));
    pgw_rfc3339_format((time_t)info->completed_at, completed, sizeof(completed));
    json_t *s = pgw_json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "backupLabel", info->label ? info->label : "", "type",
                              info->type ? info->type : "", "lsnStart", info->lsn_start ? info->lsn_start : "", "lsnStop",
                              info->lsn_stop ? info->lsn_stop : "", "startedAt", started, "completedAt", completed);
    if (info->size_bytes >= 0)
        json_object_set_new(s, "sizeBytes", json_integer(info->size_bytes));
    return s;
}

void pgw_backup_info_dispose(struct pgw_backup_info *info)
{
    free(info->label);
    free(info->type);
    free(info->lsn_start);
    free(info->lsn_stop);
    memset(info, 0, sizeof(*info));
}
