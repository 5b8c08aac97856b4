/*
 * The PgBouncer settings users may set in spec.pooler.parameters.
 */
#ifndef PGW_VALIDATORS_PGBOUNCER_PARAMS_H
#define PGW_VALIDATORS_PGBOUNCER_PARAMS_H

#include <jansson.h>

#include "common/errors.h"

/*
 * Checks every member of `params` (setting → string) against the allow-list and
 * its type, reporting under `path` ("spec.pooler.parameters[name]"). Settings the
 * operator owns are Forbidden with the field to use instead.
 */
void pgw_pgbouncer_params_validate(const json_t *params, const char *path, struct pgw_errors *errs);

#endif
