/*
 * spec.backup: the pgBackRest repository, its path, retention and schedules.
 *
 * Each repository kind carries what pgBackRest needs to reach it (S3 needs
 * bucket, endpoint and region; Azure an account and container; ...), so a
 * cluster is never admitted with a repository its backup Jobs cannot open.
 * Schedules become CronJobs named <cluster>-backup-<name>, which Kubernetes
 * limits to 52 characters: that is checked here, not discovered by the controller.
 */
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"
#include "common/names.h"
#include "common/regex_match.h"
#include "common/xalloc.h"
#include "validators/cluster.h"
#include "validators/fields.h"

#define CRONJOB_NAME_MAX 52

static const char *const repo_kinds[] = {"s3", "gcs", "azure", "volume", NULL};
static const char *const uri_styles[] = {"host", "path", NULL};
static const char *const full_types[] = {"count", "time", NULL};
static const char *const backup_types[] = {"full", "diff", "incr", NULL};

/* A required string member matching `pattern`; `rule` explains it. */
static void check_string(struct pgw_errors *errs, const char *base, const json_t *obj, const char *key, const char *pattern,
                         const char *rule)
{
    char *p = pgw_path_child(base, key);
    json_t *v = pgw_member(obj, key);
    if (pgw_require_string(errs, p, v) && pattern != NULL && !pgw_regex_match(json_string_value(v), pattern))
        pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "%s", rule);
    free(p);
}

static void check_secret(struct pgw_errors *errs, const char *base, const json_t *obj, const char *key)
{
    char *p = pgw_path_child(base, key);
    pgw_check_object_name(errs, p, pgw_member(obj, key));
    free(p);
}

static void check_repository_kind(const char *kind, const json_t *r, struct pgw_errors *errs)
{
    char *base = pgw_asprintf("spec.backup.repository.%s", kind);
    if (pgw_expect_object(errs, base, r) != 1) {
        free(base);
        return;
    }
    if (strcmp(kind, "s3") == 0) {
        static const char *const fields[] = {"bucket", "endpoint", "region", "uriStyle", "credentialsSecret", NULL};
        pgw_warn_unknown_fields(errs, base, r, fields);
        check_string(errs, base, r, "bucket", "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                     "must be an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-'");
        check_string(errs, base, r, "endpoint", "^(https?://)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?/?$",
                     "must be a host name with an optional scheme and port, such as s3.eu-west-1.amazonaws.com");
        check_string(errs, base, r, "region", "^[A-Za-z0-9-]+$", "must be a region name such as eu-west-1");
        json_t *style = pgw_member(r, "uriStyle");
        if (style != NULL)
            pgw_check_enum(errs, "spec.backup.repository.s3.uriStyle", style, uri_styles);
        check_secret(errs, base, r, "credentialsSecret");
    } else if (strcmp(kind, "gcs") == 0) {
        static const char *const fields[] = {"bucket", "credentialsSecret", NULL};
        pgw_warn_unknown_fields(errs, base, r, fields);
        check_string(errs, base, r, "bucket", "^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$",
                     "must be a GCS bucket name: 3-222 lowercase letters, digits, '.', '_' or '-'");
        check_secret(errs, base, r, "credentialsSecret");
    } else if (strcmp(kind, "azure") == 0) {
        static const char *const fields[] = {"account", "container", "credentialsSecret", NULL};
        pgw_warn_unknown_fields(errs, base, r, fields);
        check_string(errs, base, r, "account", "^[a-z0-9]{3,24}$",
                     "must be a storage account name: 3-24 lowercase letters or digits");
        char *p = pgw_path_child(base, "container");
        json_t *container = pgw_member(r, "container");
        if (pgw_require_string(errs, p, container) &&
            (!pgw_regex_match(json_string_value(container), "^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$") ||
             strstr(json_string_value(container), "--") != NULL))
            pgw_errors_add(errs, PGW_ERR_INVALID, p, container,
                           "must be a container name: 3-63 lowercase letters, digits or single hyphens");
        free(p);
        check_secret(errs, base, r, "credentialsSecret");
    } else {
        /* Same rules as the data volume: positive size, valid class name. */
        pgw_cluster_check_storage(errs, base, r);
        pgw_errors_warn(errs, "spec.backup.repository.volume lives in this Kubernetes cluster; "
                              "use object storage to survive losing it");
    }
    free(base);
}

static void check_repository(const json_t *repo, struct pgw_errors *errs)
{
    static const char path[] = "spec.backup.repository";
    if (!pgw_require_object(errs, path, repo))
        return;
    pgw_warn_unknown_fields(errs, path, repo, repo_kinds);
    char *found = pgw_strdup("");
    int count = 0;
    for (const char *const *k = repo_kinds; *k != NULL; ++k) {
        json_t *r = pgw_member(repo, *k);
        if (r == NULL)
            continue;
        char *next = pgw_asprintf("%s%s%s", found, count ? ", " : "", *k);
        free(found);
        found = next;
        ++count;
        check_repository_kind(*k, r, errs);
    }
    if (count == 0)
        pgw_errors_add(errs, PGW_ERR_REQUIRED, path, NULL, "exactly one of s3, gcs, azure or volume is required");
    else if (count > 1)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, NULL, "may specify only one of s3, gcs, azure or volume (found %s)", found);
    free(found);
}

static void check_path(const json_t *v, struct pgw_errors *errs)
{
    static const char path[] = "spec.backup.path";
    if (v == NULL || !pgw_require_string(errs, path, v))
        return;
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n > 1024)
        pgw_errors_add(errs, PGW_ERR_TOO_LONG, path, v, "may not be more than 1024 bytes");
    else if (!pgw_regex_match(s, "^(/[A-Za-z0-9._-]+)+$") || strstr(s, "/./") != NULL || strstr(s, "/../") != NULL ||
             (n >= 2 && strcmp(s + n - 2, "/.") == 0) || (n >= 3 && strcmp(s + n - 3, "/..") == 0))
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "must be an absolute path such as /team/cluster: '/'-separated letters, digits, '.', '_' or '-', "
                       "without '.' or '..' segments or a trailing '/'");
}

static void check_retention(const json_t *r, struct pgw_errors *errs)
{
    static const char *const fields[] = {"full", "fullType", "diff", NULL};
    if (pgw_expect_object(errs, "spec.backup.retention", r) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.backup.retention", r, fields);
    json_t *v = pgw_member(r, "full");
    if (v != NULL)
        pgw_check_int_range(errs, "spec.backup.retention.full", v, 1, 9999999);
    v = pgw_member(r, "fullType");
    if (v != NULL)
        pgw_check_enum(errs, "spec.backup.retention.fullType", v, full_types);
    v = pgw_member(r, "diff");
    if (v != NULL)
        pgw_check_int_range(errs, "spec.backup.retention.diff", v, 1, 9999999);
}

static void check_schedules(const struct pgw_cluster_view *c, const json_t *list, struct pgw_errors *errs)
{
    static const char path[] = "spec.backup.schedules";
    static const char *const fields[] = {"name", "schedule", "type", NULL};
    if (pgw_expect_array(errs, path, list) != 1)
        return;
    int any_full = 0, any = 0;
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        char *base = pgw_path_index(path, i);
        if (pgw_expect_object(errs, base, s) != 1) {
            free(base);
            continue;
        }
        ++any;
        pgw_warn_unknown_fields(errs, base, s, fields);
        char *p = pgw_path_child(base, "name");
        json_t *name = pgw_member(s, "name");
        if (pgw_require_string(errs, p, name)) {
            const char *why = NULL;
            if (pgw_dns1123_label(json_string_value(name), &why) != 0) {
                pgw_errors_add(errs, PGW_ERR_INVALID, p, name, "%s", why);
            } else if (c->name[0] != '\0' && strlen(c->name) + strlen("-backup-") + json_string_length(name) > CRONJOB_NAME_MAX) {
                pgw_errors_add(errs, PGW_ERR_TOO_LONG, p, name, "the CronJob name \"%s-backup-%s\" would exceed %d characters",
                               c->name, json_string_value(name), CRONJOB_NAME_MAX);
            }
            for (size_t j = 0; j != i; ++j) {
                json_t *other = pgw_member(json_array_get(list, j), "name");
                if (json_is_string(other) && json_equal(other, name)) {
                    pgw_errors_add(errs, PGW_ERR_DUPLICATE, p, name, NULL);
                    break;
                }
            }
        }
        free(p);
        p = pgw_path_child(base, "schedule");
        json_t *cron = pgw_member(s, "schedule");
        if (pgw_require_string(errs, p, cron)) {
            char *why = NULL;
            if (pgw_cron_validate(json_string_value(cron), &why) != 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, p, cron, "%s", why ? why : "invalid schedule");
            free(why);
        }
        free(p);
        p = pgw_path_child(base, "type");
        json_t *type = pgw_member(s, "type");
        if (type == NULL)
            pgw_errors_add(errs, PGW_ERR_REQUIRED, p, NULL, "one of full, diff or incr");
        else if (pgw_check_enum(errs, p, type, backup_types) && strcmp(json_string_value(type), "full") == 0)
            any_full = 1;
        free(p);
        free(base);
    }
    if (any && !any_full)
        pgw_errors_warn(errs, "spec.backup.schedules: no full backup is scheduled; diff and incr backups need one");
}

void pgw_cluster_validate_backup(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    static const char *const fields[] = {"repository", "path", "retention", "schedules", "encryptionSecret", NULL};
    json_t *backup = pgw_member(c->spec, "backup");
    if (backup == NULL) {
        pgw_errors_warn(errs, "spec.backup is not set: this cluster has no backups and no point-in-time recovery");
        return;
    }
    if (pgw_expect_object(errs, "spec.backup", backup) != 1)
        return;
    pgw_warn_unknown_fields(errs, "spec.backup", backup, fields);
    check_repository(pgw_member(backup, "repository"), errs);
    check_path(pgw_member(backup, "path"), errs);
    check_retention(pgw_member(backup, "retention"), errs);
    check_schedules(c, pgw_member(backup, "schedules"), errs);
    json_t *enc = pgw_member(backup, "encryptionSecret");
    if (enc != NULL)
        pgw_check_object_name(errs, "spec.backup.encryptionSecret", enc);
}
