/*
 * Operator-owned PostgreSQL parameters (see pg_owned.c for the why).
 */
#ifndef PGW_VALIDATORS_PG_OWNED_H
#define PGW_VALIDATORS_PG_OWNED_H

/*
 * Who sets `name` (matched case-insensitively) instead of the user, as a
 * static phrase ("Patroni sets it"), or NULL when the user may set it.
 */
const char *pgw_pg_owned_by(const char *name);

#endif
