/*
 * UPDATE transitions of a PostgresCluster: what may not change once the
 * cluster exists.
 *
 * - postgresVersion: no downgrade (the data directory cannot go back), and no
 *   in-place major upgrade yet (pg_upgrade is not orchestrated): restore into a
 *   new cluster instead.
 * - storage: volumes only grow (PVC expansion is one-way); the storage class is
 *   fixed at creation; a separate WAL volume is chosen at creation (StatefulSet
 *   volumeClaimTemplates are immutable).
 * - bootstrap: immutable, it describes how the data was born.
 */
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
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

static void check_version(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    json_t *now = pgw_member(c->spec, "postgresVersion"), *before = pgw_member(c->old_spec, "postgresVersion");
    if (!json_is_integer(now) || !json_is_integer(before))
        return;
    json_int_t a = json_integer_value(now), b = json_integer_value(before);
    if (a < b)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.postgresVersion", now,
                       "downgrading PostgreSQL from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
                       " is not possible: the data directory cannot be read by an older major",
                       b, a);
    else if (a > b)
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, "spec.postgresVersion", now,
                       "in-place major upgrades (%" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
                       ") are not supported yet: restore a backup into a new cluster with the new version",
                       b, a);
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
    json_t *inst = pgw_member(c->spec, "instances"), *old_inst = pgw_member(c->old_spec, "instances");
    if (json_is_integer(inst) && json_is_integer(old_inst) && json_integer_value(inst) == 1 && json_integer_value(old_inst) > 1)
        pgw_errors_warn(errs, "spec.instances: scaling down to 1 removes every replica and high availability");
}
