/*
 * Declared roles and databases (spec.roles[], spec.databases[]; docs/roles.md):
 * the names both admission and the controller need to agree on.
 *
 * A role with login and no passwordSecret gets a password pgwarden generates,
 * kept in a Secret named after the cluster and the role ("shop" + "report_ro"
 * → "shop-report-ro": Secret names may not hold '_'). Admission refuses a role
 * whose Secret name would be invalid or would be one of pgwarden's own Secrets
 * (pgw_role_secret_owner), so the controller can create it without checking.
 */
#ifndef PGW_SPECS_ROLES_H
#define PGW_SPECS_ROLES_H

#include <jansson.h>

/* Defaults of spec.bootstrap.initdb, also what a restore bootstrap's -app Secret and post-bootstrap script use. */
#define PGW_BOOTSTRAP_OWNER_DEFAULT "app"
#define PGW_BOOTSTRAP_DATABASE_DEFAULT "app"

#define PGW_ENSURE_PRESENT "present"
#define PGW_ENSURE_ABSENT "absent"
/* The key of a role's password in its Secret, generated or the user's (passwordSecret.key). */
#define PGW_ROLE_PASSWORD_KEY_DEFAULT "password"

/* The Secret holding the generated password of `role` of `cluster`: "<cluster>-<role, '_' → '-'>". malloc'd. */
char *pgw_role_secret_name(const char *cluster, const char *role);

/* When "<cluster>-<role>" would be one of pgwarden's own Secrets of the cluster, what that Secret is
 * ("the superuser's Secret"); else NULL. Static text. */
const char *pgw_role_secret_owner(const char *role);

/* The role owning the application database and holding Secret <cluster>-app: spec.bootstrap.initdb.owner,
 * else "app" (a restore bootstrap's post-bootstrap script creates "app" too). `spec` may be NULL. Borrowed. */
const char *pgw_bootstrap_owner(const json_t *spec);
/* The application database: spec.bootstrap.initdb.database, else "app". Borrowed. */
const char *pgw_bootstrap_database(const json_t *spec);

/* Whether a roles[] / databases[] / extensions[] item is to be present: ensure absent or "present"/unset. */
int pgw_ensure_present(const json_t *item);

#endif
