/*
 * Defaults of spec.roles[], spec.databases[] (with extensions[]) and
 * spec.allowSuperuserRoles (docs/roles.md).
 *
 * Only items that are to be present are completed: an `ensure: absent` item
 * needs nothing but its name, and filling in login, owner and the rest would
 * only describe a role that is about to be dropped. A database's owner
 * defaults to the bootstrap owner (spec.bootstrap.initdb.owner; "app" for a
 * restore bootstrap, whose -app Secret and post-bootstrap script use "app"),
 * so a database declared with a name alone belongs to the application role.
 * Items that are not objects are left for validation to report.
 */
#include "mutators/defaults.h"

#include "specs/roles.h"

static void default_role(json_t *role)
{
    pgw_default_set(role, "ensure", json_string(PGW_ENSURE_PRESENT));
    if (!pgw_ensure_present(role))
        return;
    pgw_default_set(role, "login", json_true());
    pgw_default_set(role, "superuser", json_false());
    pgw_default_set(role, "createdb", json_false());
    pgw_default_set(role, "createrole", json_false());
    pgw_default_set(role, "replication", json_false());
    pgw_default_set(role, "bypassrls", json_false());
    pgw_default_set(role, "inherit", json_true());
    pgw_default_set(role, "connectionLimit", json_integer(-1));
    pgw_default_set(pgw_existing_object(role, "passwordSecret"), "key", json_string(PGW_ROLE_PASSWORD_KEY_DEFAULT));
}

static void default_database(json_t *db, const char *owner)
{
    pgw_default_set(db, "ensure", json_string(PGW_ENSURE_PRESENT));
    if (!pgw_ensure_present(db))
        return;
    pgw_default_set(db, "owner", json_string(owner));
    pgw_default_set(db, "encoding", json_string("UTF8"));
    pgw_default_set(db, "template", json_string("template1"));
    json_t *extensions = json_object_get(db, "extensions");
    size_t i;
    json_t *ext;
    json_array_foreach(extensions, i, ext)
    {
        pgw_default_set(ext, "ensure", json_string(PGW_ENSURE_PRESENT));
    }
}

void pgw_default_roles(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    pgw_default_set(spec, "allowSuperuserRoles", json_false());
    size_t i;
    json_t *item;
    json_t *roles = json_object_get(spec, "roles");
    json_array_foreach(roles, i, item)
    {
        default_role(item);
    }
    json_t *databases = json_object_get(spec, "databases");
    const char *owner = pgw_bootstrap_owner(spec);
    json_array_foreach(databases, i, item)
    {
        default_database(item, owner);
    }
}
