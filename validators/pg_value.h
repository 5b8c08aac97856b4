/*
 * Parsing one PostgreSQL parameter value the way the server does when it reads
 * postgresql.conf (guc.c: parse_bool, parse_int, parse_real,
 * convert_to_base_unit, config_enum_lookup_by_name), so that what we accept is
 * what the server accepts, with the same numbers after unit conversion.
 *
 * Pure functions over the catalog entry; no allocation except the error
 * message, which the caller frees.
 */
#ifndef PGW_VALIDATORS_PG_VALUE_H
#define PGW_VALIDATORS_PG_VALUE_H

#include <stdbool.h>

#include "validators/pg_catalog.h"

/* The parsed value: which member is set follows the parameter's vartype. */
struct pgw_pg_value {
    bool boolval;
    double number;       /* integer (already rounded, in the base unit) or real */
    const char *enumval; /* the matched enum spelling (static) */
};

/*
 * Parses `value` for parameter `p`. Returns 0, or -1 with *error set to a
 * malloc'd explanation worded like the server's message and hint
 * ('invalid value for parameter "x": valid units for this parameter are ...').
 * Strings are accepted as they are. The caller frees *error.
 */
int pgw_pg_value_parse(const struct pgw_pg_param *p, const char *value, struct pgw_pg_value *out, char **error);

/* parse_bool(): on/off/true/false/yes/no/1/0 and unique prefixes, case-insensitive. */
bool pgw_pg_value_parse_bool(const char *value, bool *result);

/*
 * The number of bytes in one unit of a memory parameter ("8kB" → 8192,
 * "MB" → 1048576), or 0 when `unit` is not a memory unit.
 */
double pgw_pg_value_unit_bytes(const char *unit);

#endif
