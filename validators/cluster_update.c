/*
 * UPDATE transitions of a PostgresCluster: what may not change once the
 * cluster exists.
 *
 * - postgresVersion: raising it runs an in-place major upgrade (the controller
 *   orchestrates pg_upgrade, docs/upgrades.md; a warning says the database
 *   stops for it). Lowering it is denied (the data directory cannot go back),
 *   except back to status.runningPostgresVersion while the upgrade has not
 *   touched the data: that cancels it. A new target while an upgrade is under
 *   way is denied too.
 * - storage: volumes only grow (PVC expansion is one-way); the storage class is
 *   fixed at creation; a separate WAL volume is chosen at creation (StatefulSet
 *   volumeClaimTemplates are immutable).
 * - bootstrap: immutable, it describes how the data was born.
 * - backup: where the WAL archive and the backups live (the repository's kind
 *   and location, spec.backup.path, the encryption key) is fixed once the
 *   cluster has a repository. Patroni would push a new archive_command that
 *   points at a place with no stanza (or a key that cannot read the old one),
 *   every WAL segment would fail to archive, and the backup chain and
 *   point-in-time recovery would end silently. A repository may be added to a
 *   cluster that had none (the stanza is created for it, with a warning: the
 *   pods must be re-created to run the pgBackRest server and archive) but not removed
 *   (archive_mode stays on until PostgreSQL restarts, and WAL with no
 *   archive_command piles up in pg_wal). Retention, schedules and the
 *   credentials Secret may change: none of them moves the data.
 */
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
#include "common/xalloc.h"
#include "specs/render_upgrade.h"
#include "validators/cluster.h"
#include "validators/fields.h"

static int quantity_of(const json_t *v, struct pgw_quantity *q)
{
    const char *why;
    return json_is_string(v) && pgw_quantity_parse(json_string_value(v), q, &why) == 0;
}

static void check_no_shrink(struct pgw_errors *errs, const char *path, const json_t *now, const json_t *before)
{
    struct pgw_quantity a, b;
    if (quantity_of(now, &a) && quantity_of(before, &b) && pgw_quantity_cmp(&a, &b) < 0)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, now, "volumes cannot shrink (from %s to %s)", json_string_value(before),
                       json_string_value(now));
}

/* The MajorUpgrade condition's reason in the object's status, or NULL. */
static const char *upgrade_step(const json_t *status)
{
    size_t i;
    json_t *c;
    json_array_foreach(pgw_member(status, "conditions"), i, c)
    {
        const char *type = json_string_value(pgw_member(c, "type"));
        if (type != NULL && strcmp(type, PGW_CONDITION_MAJOR_UPGRADE) == 0)
            return json_string_value(pgw_member(c, "reason"));
    }
    return NULL;
}

static void check_version(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    json_t *now = pgw_member(c->spec, "postgresVersion"), *before = pgw_member(c->old_spec, "postgresVersion");
    if (!json_is_integer(now) || !json_is_integer(before))
        return;
    json_int_t a = json_integer_value(now), b = json_integer_value(before);
    const json_t *status = pgw_member(c->object, "status");
    json_t *rv = pgw_member(status, "runningPostgresVersion");
    json_int_t running = json_is_integer(rv) ? json_integer_value(rv) : 0;
    const char *step = upgrade_step(status);
    if (a < b) {
        if (running == a && pgw_upgrade_before_link(step)) {
            pgw_errors_warn(errs, "spec.postgresVersion: back to the running major: the upgrade is cancelled");
        } else if (running == a) {
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.postgresVersion", now,
                           "the upgrade to %" JSON_INTEGER_FORMAT " has changed the data already (step %s): it cannot go back to "
                           "%" JSON_INTEGER_FORMAT "; restore a backup taken before the upgrade into a new cluster instead",
                           b, step, a);
        } else {
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.postgresVersion", now,
                           "downgrading PostgreSQL from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
                           " is not possible: the data directory cannot be read by an older major",
                           b, a);
        }
    } else if (a > b) {
        if (running > 0 && running < b) {
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.postgresVersion", now,
                           "an upgrade from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT " is under way (step %s): let it "
                           "finish, or set spec.postgresVersion back to %" JSON_INTEGER_FORMAT
                           " first if it has not touched the data",
                           running, b, step != NULL ? step : "not started", running);
        } else {
            pgw_errors_warn(errs,
                            "spec.postgresVersion: %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
                            " is an in-place upgrade; the database stops for it: take a backup first (docs/upgrades.md)",
                            b, a);
        }
    }
}

static void check_storage(const char *path, const json_t *now, const json_t *before, int has_wal, struct pgw_errors *errs)
{
    if (!json_is_object(now) || !json_is_object(before))
        return;
    char *p = pgw_path_child(path, "size");
    check_no_shrink(errs, p, pgw_member(now, "size"), pgw_member(before, "size"));
    free(p);
    p = pgw_path_child(path, "storageClass");
    pgw_check_immutable(errs, p, pgw_member(now, "storageClass"), pgw_member(before, "storageClass"));
    free(p);
    if (!has_wal)
        return;
    json_t *wal = pgw_member(now, "walSize"), *old_wal = pgw_member(before, "walSize");
    p = pgw_path_child(path, "walSize");
    if (wal == NULL && old_wal != NULL)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, p, NULL, "the separate WAL volume cannot be removed");
    else if (wal != NULL && old_wal == NULL)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, p, wal, "a separate WAL volume can only be chosen when the cluster is created");
    else
        check_no_shrink(errs, p, wal, old_wal);
    free(p);
}

static void check_bootstrap(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    json_t *now = pgw_member(c->spec, "bootstrap"), *before = pgw_member(c->old_spec, "bootstrap");
    if (before != NULL) {
        pgw_check_immutable(errs, "spec.bootstrap", now, before);
    } else if (pgw_member(now, "restore") != NULL) {
        /* An object stored before defaulting was bootstrapped by initdb. */
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.bootstrap", now,
                       "field is immutable: this cluster was bootstrapped by initdb");
    }
}

#define BACKUP_ADVICE                                                                                                              \
    "the WAL archive and the backups live in the old one, and WAL archiving would fail; to move them, restore this "               \
    "cluster (PostgresRestore) into a new cluster with the new setting, or delete and re-create the cluster"

/* The fields of each repository kind that say where the data is (the credentials and the
 * S3 addressing style do not: the same objects are reached through them). */
static const char *const *location_fields(const char *kind)
{
    static const char *const s3[] = {"bucket", "endpoint", "region", NULL}, *const gcs[] = {"bucket", NULL},
                             *const azure[] = {"account", "container", NULL}, *const none[] = {NULL};
    return strcmp(kind, "s3") == 0 ? s3 : strcmp(kind, "gcs") == 0 ? gcs : strcmp(kind, "azure") == 0 ? azure : none;
}

/* The repository's one kind (s3, gcs, azure, volume), or NULL. */
static const char *repository_kind(const json_t *repo)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)repo, key, v)
    {
        if (json_is_object(v))
            return key;
    }
    return NULL;
}

/* spec.backup.path, or its default /<namespace>/<name> for an object stored before defaulting. */
static char *backup_path(const struct pgw_cluster_view *c, const json_t *backup)
{
    const char *p = json_string_value(pgw_member(backup, "path"));
    if (p != NULL)
        return pgw_strdup(p);
    const char *ns = c->ctx != NULL && c->ctx->namespace != NULL ? c->ctx->namespace : "";
    return pgw_asprintf("/%s/%s", ns, c->name);
}

static void check_backup(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    const json_t *backup = pgw_member(c->spec, "backup"), *old_backup = pgw_member(c->old_spec, "backup");
    const json_t *repo = pgw_member(backup, "repository"), *old_repo = pgw_member(old_backup, "repository");
    if (!json_is_object(old_repo)) {
        /* None before: allowed, the controller creates the stanza; but the pods predate the pgBackRest
         * server and archive_mode (OnDelete StatefulSet), so BackupReady stays False until they are re-created. */
        if (json_is_object(repo))
            pgw_errors_warn(errs,
                            "spec.backup.repository: pods must be re-created (one at a time) before archiving and backups work");
        return;
    }
    if (!json_is_object(repo)) {
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.backup.repository", NULL,
                       "spec.backup.repository cannot be removed from a running cluster: archive_mode stays on until "
                       "PostgreSQL restarts and WAL would pile up unarchived; delete and re-create the cluster without it");
        return;
    }
    const char *kind = repository_kind(repo), *old_kind = repository_kind(old_repo);
    if (kind == NULL || old_kind == NULL)
        return; /* malformed: the section validator reports it */
    if (strcmp(kind, old_kind) != 0) {
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.backup.repository", repo,
                       "spec.backup.repository cannot change on a running cluster (from %s to %s): " BACKUP_ADVICE, old_kind, kind);
        return;
    }
    const json_t *now = pgw_member(repo, kind), *before = pgw_member(old_repo, kind);
    for (const char *const *f = location_fields(kind); *f != NULL; ++f) {
        const json_t *a = pgw_member(now, *f), *b = pgw_member(before, *f);
        if ((a == NULL) != (b == NULL) || (a != NULL && !json_equal(a, b))) {
            char *path = pgw_asprintf("spec.backup.repository.%s.%s", kind, *f);
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, a,
                           "spec.backup.repository cannot change on a running cluster (%s.%s): " BACKUP_ADVICE, kind, *f);
            free(path);
        }
    }
    char *path = backup_path(c, backup), *old_path = backup_path(c, old_backup);
    if (strcmp(path, old_path) != 0)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.backup.path", pgw_member(backup, "path"),
                       "spec.backup.path cannot change on a running cluster (from %s to %s): " BACKUP_ADVICE, old_path, path);
    free(path);
    free(old_path);
    const json_t *key = pgw_member(backup, "encryptionSecret"), *old_key = pgw_member(old_backup, "encryptionSecret");
    if ((key == NULL) != (old_key == NULL) || (key != NULL && !json_equal(key, old_key)))
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.backup.encryptionSecret", key,
                       "spec.backup.encryptionSecret cannot change on a running cluster: the repository is encrypted with the "
                       "old key (or none) and pgBackRest cannot re-encrypt it; to change it, restore this cluster "
                       "(PostgresRestore) into a new cluster with the new key");
}

void pgw_cluster_validate_update(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    if (c->old_spec == NULL)
        return;
    check_version(c, errs);
    check_storage("spec.storage", pgw_member(c->spec, "storage"), pgw_member(c->old_spec, "storage"), 1, errs);
    const json_t *repo = pgw_member(pgw_member(c->spec, "backup"), "repository");
    const json_t *old_repo = pgw_member(pgw_member(c->old_spec, "backup"), "repository");
    check_storage("spec.backup.repository.volume", pgw_member(repo, "volume"), pgw_member(old_repo, "volume"), 0, errs);
    check_bootstrap(c, errs);
    check_backup(c, errs);
    json_t *inst = pgw_member(c->spec, "instances"), *old_inst = pgw_member(c->old_spec, "instances");
    if (json_is_integer(inst) && json_is_integer(old_inst) && json_integer_value(inst) == 1 && json_integer_value(old_inst) > 1)
        pgw_errors_warn(errs, "spec.instances: scaling down to 1 removes every replica and high availability");
}
