/*
 * The day-2 action objects (see actions.h): one builder each, so the plugin
 * and the API send byte-for-byte the same PostgresBackup, PostgresRestore
 * and annotation patch.
 */
#include "specs/actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"

int pgw_action_backup_type_ok(const char *type)
{
    return type != NULL && (strcmp(type, "full") == 0 || strcmp(type, "diff") == 0 || strcmp(type, "incr") == 0);
}

char *pgw_action_backup_name(const char *cluster, const char *type, time_t now)
{
    char stamp[32];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
    int room = PGW_BACKUP_NAME_MAX - (int)strlen(type) - (int)strlen(stamp) - 2;
    return pgw_asprintf("%.*s-%s-%s", room > 0 ? room : 0, cluster, type, stamp);
}

json_t *pgw_action_backup(const char *ns, const char *cluster, const char *type, const char *name, time_t now)
{
    char *generated = name == NULL ? pgw_action_backup_name(cluster, type, now) : NULL;
    json_t *backup =
        pgw_json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s}}", "apiVersion", "pgwarden.io/v1", "kind", "PostgresBackup", "metadata",
                      "name", name != NULL ? name : generated, "namespace", ns, "spec", "cluster", cluster, "type", type);
    free(generated);
    return backup;
}

json_t *pgw_action_restore(const char *ns, const struct pgw_restore_request *req, const char **err)
{
    if ((req->time != NULL) + (req->lsn != NULL) + (req->immediate != 0) > 1) {
        *err = "at most one of time, lsn and immediate";
        return NULL;
    }
    json_t *source = pgw_json_pack("{s:s}", "cluster", req->cluster);
    if (req->backup != NULL)
        json_object_set_new(source, "backup", json_string(req->backup));
    json_t *spec = pgw_json_pack("{s:o}", "source", source);
    if (req->time != NULL)
        json_object_set_new(spec, "target", pgw_json_pack("{s:s}", "time", req->time));
    else if (req->lsn != NULL)
        json_object_set_new(spec, "target", pgw_json_pack("{s:s}", "lsn", req->lsn));
    else if (req->immediate)
        json_object_set_new(spec, "target", pgw_json_pack("{s:b}", "immediate", 1));
    if (req->has_instances)
        json_object_set_new(spec, "newCluster", pgw_json_pack("{s:I}", "instances", (json_int_t)req->instances));
    return pgw_json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "pgwarden.io/v1", "kind", "PostgresRestore", "metadata", "name",
                         req->into, "namespace", ns, "spec", spec);
}

json_t *pgw_action_annotation_patch(const char *annotation, const char *value)
{
    return pgw_json_pack("{s:{s:{s:s}}}", "metadata", "annotations", annotation, value);
}
