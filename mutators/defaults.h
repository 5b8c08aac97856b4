/*
 * Helpers for mutators: set a member only when the user left it unset.
 *
 * "Unset" means absent or null (the API server drops nulls from structural
 * objects, so null is how YAML's `key:` with no value arrives). A member the
 * user set — even to a wrong value — is left alone for validation to report.
 */
#ifndef PGW_MUTATORS_DEFAULTS_H
#define PGW_MUTATORS_DEFAULTS_H

#include <jansson.h>

/* Sets obj[key] = value when unset (steals `value` either way). No-op when obj is not an object. */
void pgw_default_set(json_t *obj, const char *key, json_t *value);

/*
 * Returns obj[key] when it is an object; when unset, creates it as {} and
 * returns it; when set to something else, returns NULL (leave it to validation).
 * Borrowed.
 */
json_t *pgw_default_object(json_t *obj, const char *key);

/* Returns obj[key] when it is an object, else NULL (never creates). Borrowed. */
json_t *pgw_existing_object(json_t *obj, const char *key);

/*
 * spec.replication of a PostgresCluster (created when unset): synchronous off
 * and the HA timings of specs/replication.h. A boolean synchronous (YAML's
 * unquoted on/off) becomes "on"/"off".
 */
void pgw_default_replication(json_t *spec);

/*
 * spec.allowSuperuserRoles [false], and each present item of spec.roles[] and
 * spec.databases[] (mutators/roles.c). Runs after the bootstrap defaults: a
 * database's owner defaults to the bootstrap owner.
 */
void pgw_default_roles(json_t *spec);

#endif
