/*
 * Server-side checks beyond type, unit and range (guc check hooks) that
 * PostgreSQL applies while reading postgresql.conf, repeated here so that a
 * value the server would refuse at start is refused at admission.
 */
#ifndef PGW_VALIDATORS_PG_CHECKS_H
#define PGW_VALIDATORS_PG_CHECKS_H

#include <jansson.h>

#include "common/errors.h"
#include "validators/pg_catalog.h"
#include "validators/pg_value.h"

/*
 * Checks one already-parsed value. Returns 0, or -1 with *error set to a
 * malloc'd message (the caller frees it).
 */
int pgw_pg_checks_run(int major, const struct pgw_pg_param *p, const char *value, const struct pgw_pg_value *v, char **error);

/* Rules between parameters of the same object that fail server start. */
void pgw_pg_checks_cross(const json_t *params, int major, const char *path, struct pgw_errors *errs);

#endif
