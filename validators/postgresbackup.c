/*
 * PostgresBackup validation (DESIGN.md §3): an on-demand pgBackRest backup of
 * one cluster. The spec is immutable: a backup that already ran cannot be
 * re-pointed at another cluster or type after the fact.
 */
#include "validators/validators.h"

#include <string.h>

#include "validators/fields.h"

static const char *const types[] = {"full", "diff", "incr", NULL};
static const char *const fields[] = {"cluster", "type", NULL};

void pgw_validate_postgresbackup(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                 struct pgw_errors *errs)
{
    (void)ctx;
    if (object == NULL)
        return; /* deleting a backup object never deletes backup data */
    json_t *name = pgw_member(pgw_member(object, "metadata"), "name");
    /* The backup Job carries the name in its job-name label (63 characters at most). */
    if (json_is_string(name) && json_string_length(name) > 63)
        pgw_errors_add(errs, PGW_ERR_TOO_LONG, "metadata.name", name,
                       "may not be more than 63 bytes (the backup Job's name is a label value)");
    json_t *spec = pgw_member(object, "spec");
    if (!pgw_require_object(errs, "spec", spec))
        return;
    pgw_warn_unknown_fields(errs, "spec", spec, fields);
    pgw_check_cluster_name(errs, "spec.cluster", pgw_member(spec, "cluster"));
    json_t *type = pgw_member(spec, "type");
    if (type == NULL)
        pgw_errors_add(errs, PGW_ERR_REQUIRED, "spec.type", NULL, "one of full, diff or incr");
    else
        pgw_check_enum(errs, "spec.type", type, types);
    if (old_object != NULL)
        pgw_check_immutable(errs, "spec", spec, pgw_member(old_object, "spec"));
}
