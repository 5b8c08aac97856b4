/*
 * spec.roles[], spec.databases[] (with extensions[]) and
 * spec.allowSuperuserRoles (docs/roles.md), and the pgwarden.io/rotate-password
 * annotation.
 *
 * Every name becomes an SQL identifier the controller quotes anyway; holding
 * them to the unquoted lowercase form keeps what users write and what psql
 * shows the same. The roles pgwarden itself logs in as (postgres, replicator,
 * the sidecars' pgwarden_* roles, the bootstrap owner) and PostgreSQL's own
 * pg_* roles cannot be declared: pgwarden sets their passwords, and a second
 * owner would fight it. Cross references (owner, inRoles, template) must name
 * something this spec keeps present, so a reconcile never needs a role it was
 * told to drop. What the catalog of the image can know (extensions and their
 * versions) is checked against it; a major without a table is let through.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/object.h"
#include "common/regex_match.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "specs/operations.h"
#include "specs/roles.h"
#include "validators/cluster.h"
#include "validators/fields.h"
#include "validators/pg_extensions.h"

#define ROLES_PATH "spec.roles"
#define DATABASES_PATH "spec.databases"
#define IDENTIFIER_PATTERN "^[a-z_][a-z0-9_]{0,62}$"
#define LOCALE_PATTERN "^[A-Za-z0-9_.@-]{1,64}$"
#define CONNECTION_LIMIT_MAX 10000

/* PostgreSQL's predefined roles and the major that introduced each (postgres.bki of 14–18). */
static const struct {
    const char *name;
    int since;
} predefined[] = {
    {"pg_checkpoint", 15},
    {"pg_create_subscription", 16},
    {"pg_database_owner", 14},
    {"pg_execute_server_program", 14},
    {"pg_maintain", 17},
    {"pg_monitor", 14},
    {"pg_read_all_data", 14},
    {"pg_read_all_settings", 14},
    {"pg_read_all_stats", 14},
    {"pg_read_server_files", 14},
    {"pg_signal_autovacuum_worker", 18},
    {"pg_signal_backend", 14},
    {"pg_stat_scan_tables", 14},
    {"pg_use_reserved_connections", 16},
    {"pg_write_all_data", 14},
    {"pg_write_server_files", 14},
};

/* What the validators of one spec share: the declared names, found once. */
struct roles_view {
    const struct pgw_cluster_view *c;
    const char *owner;   /* the bootstrap owner */
    const json_t *roles; /* spec.roles when an array, else NULL */
    const json_t *dbs;   /* spec.databases when an array, else NULL */
    int allow_superuser;
};

static const char *item_name(const json_t *item)
{
    return json_string_value(pgw_member(item, "name"));
}

static int is_identifier(const char *s)
{
    return s != NULL && pgw_regex_match(s, IDENTIFIER_PATTERN);
}

/* name: required, an unquoted identifier of at most 63 bytes. Returns the name when usable. */
static const char *check_name(struct pgw_errors *errs, const char *base, const json_t *item)
{
    char *path = pgw_path_child(base, "name");
    json_t *name = pgw_member(item, "name");
    const char *out = NULL;
    if (pgw_require_string(errs, path, name)) {
        if (json_string_length(name) > 63)
            pgw_errors_add(errs, PGW_ERR_TOO_LONG, path, name, "may not be more than 63 bytes");
        else if (!is_identifier(json_string_value(name)))
            pgw_errors_add(errs, PGW_ERR_INVALID, path, name,
                           "must be a lowercase SQL identifier: letters, digits or '_', not starting with a digit");
        else
            out = json_string_value(name);
    }
    free(path);
    return out;
}

static void check_ensure(struct pgw_errors *errs, const char *base, const json_t *item)
{
    static const char *const values[] = {PGW_ENSURE_PRESENT, PGW_ENSURE_ABSENT, NULL};
    json_t *ensure = pgw_member(item, "ensure");
    if (ensure == NULL)
        return;
    char *path = pgw_path_child(base, "ensure");
    pgw_check_enum(errs, path, ensure, values);
    free(path);
}

/* Reports a repeated name in `list` at `path` (item i). */
static void check_unique(struct pgw_errors *errs, const char *path, const json_t *list, size_t i, const char *name)
{
    if (pgw_obj_find_named(list, name) != json_array_get(list, i)) {
        json_t *v = json_string(name);
        pgw_errors_add(errs, PGW_ERR_DUPLICATE, path, v, "each name may appear once");
        json_decref(v);
    }
}

/* ---- roles ---- */

/* Who owns a name a user may not declare, or NULL. malloc'd. */
static char *reserved_role(const struct roles_view *rv, const char *name)
{
    if (strcmp(name, "postgres") == 0)
        return pgw_asprintf("postgres is PostgreSQL's superuser, run by pgwarden (its password is in Secret %s-superuser)",
                            rv->c->name);
    if (strcmp(name, "replicator") == 0)
        return pgw_asprintf("replicator is pgwarden's replication role (its password is in Secret %s-replication)", rv->c->name);
    if (strcmp(name, "pgwarden_pgbouncer") == 0)
        return pgw_strdup("pgwarden_pgbouncer is pgwarden's pooler role");
    if (strcmp(name, "pgwarden_exporter") == 0)
        return pgw_strdup("pgwarden_exporter is pgwarden's metrics role");
    if (strncmp(name, "pgwarden_", 9) == 0)
        return pgw_strdup("names starting with pgwarden_ are reserved for pgwarden's own roles");
    if (strncmp(name, "pg_", 3) == 0)
        return pgw_strdup("names starting with pg_ are reserved for PostgreSQL's predefined roles");
    if (strcmp(name, rv->owner) == 0)
        return pgw_asprintf("%s is the bootstrap owner; its password is in Secret %s-app", name, rv->c->name);
    return NULL;
}

static int predefined_in(const char *name, int major)
{
    for (size_t i = 0; i < sizeof(predefined) / sizeof(predefined[0]); ++i)
        if (strcmp(predefined[i].name, name) == 0)
            return major == 0 || major >= predefined[i].since ? 1 : -predefined[i].since;
    return 0;
}

/* Whether `name` is a declared role with ensure present. */
static int present_role(const struct roles_view *rv, const char *name)
{
    const json_t *role = pgw_obj_find_named(rv->roles, name);
    return role != NULL && pgw_ensure_present(role);
}

/* A role `target` names (owner, inRoles): reports unless it is usable. `what` says what the reference is for. */
static void check_role_reference(const struct roles_view *rv, struct pgw_errors *errs, const char *path, const json_t *v,
                                 const char *what)
{
    const char *name = json_string_value(v);
    if (strcmp(name, rv->owner) == 0 || present_role(rv, name))
        return;
    if (pgw_obj_find_named(rv->roles, name) != NULL)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "%s is declared with ensure: absent, so it cannot %s", name, what);
    else
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be a role of spec.roles (ensure: present) or the bootstrap owner %s",
                       rv->owner);
}

static void check_in_roles(const struct roles_view *rv, struct pgw_errors *errs, const char *base, const json_t *role,
                           const char *self)
{
    char *path = pgw_path_child(base, "inRoles");
    json_t *in = pgw_member(role, "inRoles");
    if (pgw_expect_array(errs, path, in) == 1) {
        size_t i;
        json_t *v;
        json_array_foreach(in, i, v)
        {
            char *p = pgw_path_index(path, i);
            if (pgw_require_string(errs, p, v)) {
                const char *name = json_string_value(v);
                int pre = strncmp(name, "pg_", 3) == 0 ? predefined_in(name, rv->c->major) : 0;
                for (size_t j = 0; j < i; ++j)
                    if (json_equal(json_array_get(in, j), v)) {
                        pgw_errors_add(errs, PGW_ERR_DUPLICATE, p, v, "each role may appear once");
                        break;
                    }
                if (self != NULL && strcmp(name, self) == 0)
                    pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "a role cannot be a member of itself");
                else if (strcmp(name, "pg_database_owner") == 0)
                    pgw_errors_add(errs, PGW_ERR_INVALID, p, v,
                                   "pg_database_owner has no explicit members: PostgreSQL makes each database's owner one");
                else if (pre > 0)
                    ; /* a predefined role of this major */
                else if (pre < 0)
                    pgw_errors_add(errs, PGW_ERR_INVALID, p, v, "%s exists from PostgreSQL %d on; spec.postgresVersion is %d", name,
                                   -pre, rv->c->major);
                else if (strncmp(name, "pg_", 3) == 0)
                    pgw_errors_add(errs, PGW_ERR_INVALID, p, v,
                                   "is not a predefined role of PostgreSQL (such as pg_read_all_data, pg_write_all_data or "
                                   "pg_monitor)");
                else
                    check_role_reference(rv, errs, p, v, "be granted");
            }
            free(p);
        }
    }
    free(path);
}

/* Whether declared role `from` reaches `to` through inRoles (a cycle elsewhere ends at the depth bound). */
static int member_of(const struct roles_view *rv, const char *from, const char *to, int depth)
{
    if (depth > 64)
        return 0;
    json_t *in = pgw_member(pgw_obj_find_named(rv->roles, from), "inRoles");
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        const char *name = json_string_value(v);
        if (name != NULL && (strcmp(name, to) == 0 || (strcmp(name, from) != 0 && member_of(rv, name, to, depth + 1))))
            return 1;
    }
    return 0;
}

/* Whether `name` is its own member through other declared roles (naming itself directly is reported apart). */
static int in_cycle(const struct roles_view *rv, const char *name)
{
    json_t *in = pgw_member(pgw_obj_find_named(rv->roles, name), "inRoles");
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        const char *other = json_string_value(v);
        if (other != NULL && strcmp(other, name) != 0 && member_of(rv, other, name, 0))
            return 1;
    }
    return 0;
}

static void check_password_secret(const struct roles_view *rv, struct pgw_errors *errs, const char *base, const json_t *role)
{
    static const char *const fields[] = {"name", "key", NULL};
    char *path = pgw_path_child(base, "passwordSecret");
    json_t *ps = pgw_member(role, "passwordSecret");
    if (pgw_expect_object(errs, path, ps) == 1) {
        pgw_warn_unknown_fields(errs, path, ps, fields);
        char *p = pgw_path_child(path, "name");
        json_t *name = pgw_member(ps, "name");
        if (!pgw_require_string(errs, p, name)) {
            /* reported */
        } else if (pgw_check_object_name(errs, p, name)) {
            const char *n = json_string_value(name);
            size_t len = strlen(rv->c->name);
            const char *owned = len > 0 && strncmp(n, rv->c->name, len) == 0 && n[len] == '-' ? n + len + 1 : NULL;
            const char *what = owned != NULL ? pgw_role_secret_owner(owned) : NULL;
            /* pgwarden writes a generated password into "<cluster>-<role>": the user's Secret must not be one of those. */
            const json_t *other = NULL;
            size_t i;
            json_t *r;
            json_array_foreach(rv->roles, i, r)
            {
                const char *rn = item_name(r);
                if (owned != NULL && rn != NULL && r != role && pgw_member(r, "passwordSecret") == NULL && pgw_ensure_present(r) &&
                    !json_is_false(pgw_member(r, "login"))) {
                    char *generated = pgw_role_secret_name(rv->c->name, rn);
                    if (strcmp(generated, n) == 0)
                        other = r;
                    free(generated);
                }
            }
            if (what != NULL)
                pgw_errors_add(errs, PGW_ERR_INVALID, p, name, "is %s, which pgwarden manages: name a Secret of your own", what);
            else if (other != NULL)
                pgw_errors_add(errs, PGW_ERR_INVALID, p, name,
                               "is the Secret pgwarden generates for role %s: name a Secret of your own", item_name(other));
        }
        free(p);
        p = pgw_path_child(path, "key");
        json_t *key = pgw_member(ps, "key");
        if (pgw_expect_string(errs, p, key) == 1 && !pgw_regex_match(json_string_value(key), "^[-._a-zA-Z0-9]{1,253}$"))
            pgw_errors_add(errs, PGW_ERR_INVALID, p, key, "must be a Secret key: letters, digits, '-', '_' or '.'");
        free(p);
    }
    free(path);
}

/* A present role with login and no passwordSecret gets Secret <cluster>-<role>: it must be a name pgwarden may use. */
static void check_generated_secret(const struct roles_view *rv, struct pgw_errors *errs, const char *base, const json_t *role,
                                   const char *name)
{
    if (pgw_member(role, "passwordSecret") != NULL || json_is_false(pgw_member(role, "login")) || rv->c->name[0] == '\0')
        return;
    char *path = pgw_path_child(base, "name");
    char *secret = pgw_role_secret_name(rv->c->name, name);
    const char *owner = pgw_role_secret_owner(name);
    json_t *v = json_string(name);
    if (owner != NULL)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "its generated password would go to Secret %s, which is %s: rename the role or set passwordSecret", secret,
                       owner);
    else if (name[strlen(name) - 1] == '_')
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v,
                       "ends with '_', so its generated Secret %s would not be a valid name: rename the role or set passwordSecret",
                       secret);
    json_decref(v);
    free(secret);
    free(path);
}

static void check_valid_until(struct pgw_errors *errs, const char *base, const json_t *role)
{
    char *path = pgw_path_child(base, "validUntil");
    json_t *v = pgw_member(role, "validUntil");
    if (pgw_expect_string(errs, path, v) == 1) {
        const char *s = json_string_value(v), *why = NULL;
        time_t t;
        if (pgw_rfc3339_parse(s, &t, &why) != 0)
            pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be an RFC 3339 time such as 2027-06-30T00:00:00Z (%s)", why);
        else if (s[strlen(s) - 1] != 'Z')
            pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be in UTC, ending in Z (2027-06-30T00:00:00Z)");
    }
    free(path);
}

static void check_role(const struct roles_view *rv, struct pgw_errors *errs, size_t index, const json_t *role)
{
    static const char *const fields[] = {"name",       "ensure",      "login",          "superuser", "createdb",
                                         "createrole", "replication", "bypassrls",      "inherit",   "connectionLimit",
                                         "validUntil", "inRoles",     "passwordSecret", NULL};
    static const char *const flags[] = {"login",       "superuser", "createdb", "createrole",
                                        "replication", "bypassrls", "inherit",  NULL};
    char *base = pgw_path_index(ROLES_PATH, index);
    if (pgw_expect_object(errs, base, role) != 1) {
        if (role == NULL || json_is_null(role))
            pgw_errors_add(errs, PGW_ERR_REQUIRED, base, NULL, "must be an object with a name");
        free(base);
        return;
    }
    pgw_warn_unknown_fields(errs, base, role, fields);
    const char *name = check_name(errs, base, role);
    int reserved = 0;
    check_ensure(errs, base, role);
    if (name != NULL) {
        char *path = pgw_path_child(base, "name");
        char *owner = reserved_role(rv, name);
        check_unique(errs, path, rv->roles, index, name);
        if (owner != NULL) {
            reserved = 1;
            json_t *v = json_string(name);
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, v, "%s: choose another name", owner);
            json_decref(v);
            free(owner);
        }
        free(path);
    }
    if (!pgw_ensure_present(role)) { /* only the name matters to a drop */
        free(base);
        return;
    }
    for (const char *const *f = flags; *f != NULL; ++f) {
        char *path = pgw_path_child(base, *f);
        pgw_expect_bool(errs, path, pgw_member(role, *f));
        free(path);
    }
    json_t *su = pgw_member(role, "superuser");
    if (json_is_true(su)) {
        char *path = pgw_path_child(base, "superuser");
        if (!rv->allow_superuser)
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, su,
                           "a superuser can do anything, including undoing what pgwarden sets up: set "
                           "spec.allowSuperuserRoles: true to allow it");
        else
            pgw_errors_warn(errs, "%s: %s is a superuser: it bypasses every permission check", path, name ? name : "the role");
        free(path);
    }
    json_t *limit = pgw_member(role, "connectionLimit");
    char *path = pgw_path_child(base, "connectionLimit");
    if (pgw_expect_integer(errs, path, limit) == 1 &&
        (json_integer_value(limit) < -1 || json_integer_value(limit) > CONNECTION_LIMIT_MAX))
        pgw_errors_add(errs, PGW_ERR_INVALID, path, limit, "must be -1 (no limit) or between 0 and %d", CONNECTION_LIMIT_MAX);
    free(path);
    check_valid_until(errs, base, role);
    check_in_roles(rv, errs, base, role, name);
    if (name != NULL && in_cycle(rv, name)) {
        path = pgw_path_child(base, "inRoles");
        pgw_errors_add(errs, PGW_ERR_INVALID, path, pgw_member(role, "inRoles"),
                       "makes %s a member of itself through other roles: PostgreSQL refuses circular membership", name);
        free(path);
    }
    check_password_secret(rv, errs, base, role);
    if (name != NULL && !reserved)
        check_generated_secret(rv, errs, base, role, name);
    free(base);
}

/* ---- databases ---- */

/* Candidates of `catalog` within a small edit distance of `name`, ", "-joined; malloc'd ("" when none). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 64;
    size_t row[65];
    for (size_t j = 0; j <= lb; ++j)
        row[j] = j;
    for (size_t i = 1; i <= la; ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; ++j) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static char *close_matches(const struct pgw_pg_extension_catalog *catalog, const char *name)
{
    char *out = pgw_strdup("");
    size_t limit = strlen(name) / 3 + 1, found = 0;
    for (size_t i = 0; i < catalog->count && found < 5; ++i) {
        const char *cand = catalog->extensions[i].name;
        if (distance(name, cand) <= limit || (strlen(name) >= 3 && strstr(cand, name) != NULL)) {
            char *next = pgw_asprintf("%s%s%s", out, found ? ", " : "", cand);
            free(out);
            out = next;
            ++found;
        }
    }
    return out;
}

static char *joined_versions(const struct pgw_pg_extension *ext)
{
    char *out = pgw_strdup("");
    for (const char *const *v = ext->versions; *v != NULL; ++v) {
        char *next = pgw_asprintf("%s%s%s", out, v == ext->versions ? "" : ", ", *v);
        free(out);
        out = next;
    }
    return out;
}

static void check_extension(const struct roles_view *rv, struct pgw_errors *errs, const char *list_path, const json_t *list,
                            size_t index, const json_t *ext)
{
    static const char *const fields[] = {"name", "version", "ensure", NULL};
    static const char *const values[] = {PGW_ENSURE_PRESENT, PGW_ENSURE_ABSENT, NULL};
    char *base = pgw_path_index(list_path, index);
    if (pgw_expect_object(errs, base, ext) != 1) {
        free(base);
        return;
    }
    pgw_warn_unknown_fields(errs, base, ext, fields);
    char *path = pgw_path_child(base, "name");
    json_t *name = pgw_member(ext, "name");
    const char *n = NULL;
    if (pgw_require_string(errs, path, name)) {
        if (!pgw_regex_match(json_string_value(name), "^[A-Za-z0-9_-]{1,63}$"))
            pgw_errors_add(errs, PGW_ERR_INVALID, path, name, "must be an extension name: letters, digits, '_' or '-'");
        else
            n = json_string_value(name);
    }
    if (n != NULL)
        check_unique(errs, path, list, index, n);
    json_t *ensure = pgw_member(ext, "ensure");
    char *epath = pgw_path_child(base, "ensure");
    if (ensure != NULL)
        pgw_check_enum(errs, epath, ensure, values);
    free(epath);
    char *vpath = pgw_path_child(base, "version");
    json_t *version = pgw_member(ext, "version");
    int have_version = pgw_expect_string(errs, vpath, version) == 1;
    if (have_version && !pgw_regex_match(json_string_value(version), "^[A-Za-z0-9._-]{1,64}$")) {
        pgw_errors_add(errs, PGW_ERR_INVALID, vpath, version, "must be an extension version such as 1.6");
        have_version = 0;
    }
    /* Only what is to be installed is checked against the image: dropping an unknown name is harmless. */
    const struct pgw_pg_extension_catalog *catalog = pgw_pg_extensions_get(rv->c->major);
    if (n != NULL && catalog != NULL && pgw_ensure_present(ext)) {
        const struct pgw_pg_extension *known = pgw_pg_extension_lookup(catalog, n);
        if (known == NULL) {
            char *close = close_matches(catalog, n);
            if (close[0] != '\0')
                pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, path, name,
                               "is not an extension the PostgreSQL %d image ships; did you mean %s?", rv->c->major, close);
            else
                pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, path, name,
                               "is not an extension the PostgreSQL %d image ships (contrib modules such as pg_trgm, "
                               "pgcrypto, hstore, citext or pg_stat_statements)",
                               rv->c->major);
            free(close);
        } else if (have_version && !pgw_pg_extension_has_version(known, json_string_value(version))) {
            char *versions = joined_versions(known);
            pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, vpath, version, "%s in the PostgreSQL %d image has versions %s", n,
                           rv->c->major, versions);
            free(versions);
        }
    }
    free(vpath);
    free(path);
    free(base);
}

/* Locale and encoding must agree, as CREATE DATABASE demands; returns the canonical encoding or NULL. */
static const char *check_encoding_locale(struct pgw_errors *errs, const char *base, const json_t *db)
{
    char *path = pgw_path_child(base, "encoding");
    json_t *enc = pgw_member(db, "encoding");
    const char *encoding = NULL;
    if (pgw_expect_string(errs, path, enc) == 1) {
        encoding = pgw_cluster_find_encoding(json_string_value(enc));
        if (encoding == NULL)
            pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, path, enc,
                           "must be a PostgreSQL server encoding such as UTF8, LATIN1 or SQL_ASCII");
    }
    free(path);
    path = pgw_path_child(base, "locale");
    json_t *loc = pgw_member(db, "locale");
    if (pgw_expect_string(errs, path, loc) == 1) {
        const char *s = json_string_value(loc);
        if (!pgw_regex_match(s, LOCALE_PATTERN)) {
            pgw_errors_add(errs, PGW_ERR_INVALID, path, loc, "must be a locale name such as C, C.UTF-8 or en_US.UTF-8");
        } else if (encoding != NULL) {
            const char *dot = strchr(s, '.');
            const char *loc_enc = dot ? pgw_cluster_find_encoding(dot + 1) : NULL;
            if (loc_enc != NULL && strcmp(loc_enc, encoding) != 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, path, loc, "uses encoding %s, which does not match the encoding %s", loc_enc,
                               encoding);
        }
    }
    free(path);
    return encoding;
}

/*
 * CREATE DATABASE copies its template, and only template0 may be copied into another encoding or
 * locale. template1 has the cluster's (initdb's); with a restore bootstrap those are not known here.
 */
static void check_template(const struct roles_view *rv, struct pgw_errors *errs, const char *base, const json_t *db,
                           const char *self, const char *encoding)
{
    char *path = pgw_path_child(base, "template");
    json_t *tpl = pgw_member(db, "template");
    if (pgw_expect_string(errs, path, tpl) == 1) {
        const char *t = json_string_value(tpl);
        const json_t *initdb = pgw_member(pgw_member(rv->c->spec, "bootstrap"), "initdb");
        if (strcmp(t, "template0") == 0) {
            /* any encoding and locale */
        } else if (strcmp(t, "template1") == 0) {
            const char *cluster_enc = json_string_value(pgw_member(initdb, "encoding"));
            const char *cluster_loc = json_string_value(pgw_member(initdb, "locale"));
            const char *want_enc = cluster_enc != NULL ? pgw_cluster_find_encoding(cluster_enc) : NULL;
            const char *loc = json_string_value(pgw_member(db, "locale"));
            if (loc != NULL && !pgw_regex_match(loc, LOCALE_PATTERN))
                loc = NULL; /* reported as such */
            if (initdb != NULL && encoding != NULL && want_enc != NULL && strcmp(encoding, want_enc) != 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, path, tpl,
                               "template1 has the cluster's encoding %s: a database in %s must use template: template0", want_enc,
                               encoding);
            else if (initdb != NULL && loc != NULL && cluster_loc != NULL && strcmp(loc, cluster_loc) != 0)
                pgw_errors_add(errs, PGW_ERR_INVALID, path, tpl,
                               "template1 has the cluster's locale %s: a database with locale %s must use template: template0",
                               cluster_loc, loc);
        } else if (self != NULL && strcmp(t, self) == 0) {
            pgw_errors_add(errs, PGW_ERR_INVALID, path, tpl, "a database cannot be its own template");
        } else {
            const json_t *other = pgw_obj_find_named(rv->dbs, t);
            if (other == NULL || !pgw_ensure_present(other))
                pgw_errors_add(errs, PGW_ERR_INVALID, path, tpl,
                               "must be template0, template1 or a database of spec.databases (ensure: present)");
        }
    }
    free(path);
}

static void check_database(const struct roles_view *rv, struct pgw_errors *errs, size_t index, const json_t *db)
{
    static const char *const fields[] = {"name", "ensure", "owner", "encoding", "locale", "template", "extensions", NULL};
    char *base = pgw_path_index(DATABASES_PATH, index);
    if (pgw_expect_object(errs, base, db) != 1) {
        if (db == NULL || json_is_null(db))
            pgw_errors_add(errs, PGW_ERR_REQUIRED, base, NULL, "must be an object with a name");
        free(base);
        return;
    }
    pgw_warn_unknown_fields(errs, base, db, fields);
    const char *name = check_name(errs, base, db);
    check_ensure(errs, base, db);
    if (name != NULL) {
        char *path = pgw_path_child(base, "name");
        check_unique(errs, path, rv->dbs, index, name);
        json_t *v = json_string(name);
        if (strcmp(name, "postgres") == 0 || strcmp(name, "template0") == 0 || strcmp(name, "template1") == 0)
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, v,
                           "%s is created by initdb and belongs to PostgreSQL: choose another name", name);
        else if (json_is_object(pgw_member(pgw_member(rv->c->spec, "bootstrap"), "initdb")) &&
                 strcmp(name, pgw_bootstrap_database(rv->c->spec)) == 0)
            pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, v,
                           "%s is the bootstrap database (spec.bootstrap.initdb.database), created and owned by pgwarden: choose "
                           "another name",
                           name);
        json_decref(v);
        free(path);
    }
    if (!pgw_ensure_present(db)) {
        free(base);
        return;
    }
    char *path = pgw_path_child(base, "owner");
    json_t *owner = pgw_member(db, "owner");
    if (pgw_expect_string(errs, path, owner) == 1)
        check_role_reference(rv, errs, path, owner, "own a database");
    free(path);
    const char *encoding = check_encoding_locale(errs, base, db);
    check_template(rv, errs, base, db, name, encoding);
    path = pgw_path_child(base, "extensions");
    json_t *exts = pgw_member(db, "extensions");
    if (pgw_expect_array(errs, path, exts) == 1) {
        size_t i;
        json_t *ext;
        json_array_foreach(exts, i, ext)
        {
            check_extension(rv, errs, path, exts, i, ext);
        }
    }
    free(path);
    free(base);
}

/* UPDATE: CREATE DATABASE fixes encoding, locale and the template copied; changing them later cannot be applied. */
static void check_database_update(const struct roles_view *rv, struct pgw_errors *errs)
{
    static const char *const fixed[] = {"encoding", "locale", "template", NULL};
    const json_t *old = pgw_member(rv->c->old_spec, "databases");
    if (!json_is_array(old) || rv->dbs == NULL)
        return;
    size_t i;
    json_t *db;
    json_array_foreach(rv->dbs, i, db)
    {
        const json_t *before = pgw_obj_find_named(old, item_name(db));
        if (before == NULL || !pgw_ensure_present(before) || !pgw_ensure_present(db))
            continue; /* new, or created again after a drop */
        char *base = pgw_path_index(DATABASES_PATH, i);
        for (const char *const *f = fixed; *f != NULL; ++f) {
            json_t *now = pgw_member(db, *f), *was = pgw_member(before, *f);
            if ((now == NULL) != (was == NULL) || (now != NULL && !json_equal(now, was))) {
                char *path = pgw_path_child(base, *f);
                pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, now,
                               "cannot be changed once the database exists (CREATE DATABASE fixes it): keep it, or declare a new "
                               "database");
                free(path);
            }
        }
        free(base);
    }
}

void pgw_cluster_validate_roles(const struct pgw_cluster_view *c, struct pgw_errors *errs)
{
    struct roles_view rv = {.c = c, .owner = pgw_bootstrap_owner(c->spec)};
    json_t *allow = pgw_member(c->spec, "allowSuperuserRoles");
    if (pgw_expect_bool(errs, "spec.allowSuperuserRoles", allow) == 1)
        rv.allow_superuser = json_is_true(allow);
    json_t *roles = pgw_member(c->spec, "roles"), *dbs = pgw_member(c->spec, "databases");
    if (pgw_expect_array(errs, ROLES_PATH, roles) == 1)
        rv.roles = roles;
    if (pgw_expect_array(errs, DATABASES_PATH, dbs) == 1)
        rv.dbs = dbs;
    size_t i;
    json_t *item;
    json_array_foreach(rv.roles, i, item)
    {
        check_role(&rv, errs, i, item);
    }
    json_array_foreach(rv.dbs, i, item)
    {
        check_database(&rv, errs, i, item);
    }
    if (c->old_spec != NULL)
        check_database_update(&rv, errs);
}

/* ---- the rotate-password annotation ---- */

static void check_rotate_target(const struct roles_view *rv, struct pgw_errors *errs, const char *path, const json_t *value,
                                const char *name)
{
    const json_t *role = pgw_obj_find_named(rv->roles, name);
    json_t *ps = pgw_member(role, "passwordSecret");
    if (strcmp(name, rv->owner) == 0)
        return; /* Secret <cluster>-app */
    if (role == NULL)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value,
                       "%s is not a role of this cluster: name roles of spec.roles or the bootstrap owner %s", name, rv->owner);
    else if (!pgw_ensure_present(role))
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "%s is declared with ensure: absent: it has no password to rotate",
                       name);
    else if (ps != NULL)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value,
                       "%s's password comes from Secret %s (passwordSecret): rotate it by changing that Secret", name,
                       json_string_value(pgw_member(ps, "name")) ? json_string_value(pgw_member(ps, "name")) : "of the user's");
    else if (json_is_false(pgw_member(role, "login")))
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "%s has login: false: pgwarden generates no password for it", name);
}

void pgw_cluster_check_rotate_password(const json_t *object, const json_t *old_object, const char *cluster, struct pgw_errors *errs)
{
    const json_t *annotations = pgw_member(pgw_member(object, "metadata"), "annotations");
    json_t *value = pgw_member(annotations, PGW_ANNOTATION_ROTATE_PASSWORD);
    json_t *before = pgw_member(pgw_member(pgw_member(old_object, "metadata"), "annotations"), PGW_ANNOTATION_ROTATE_PASSWORD);
    if (value == NULL || (before != NULL && json_equal(value, before)))
        return; /* none, or pending since an earlier request: the controller owns it now */
    char *path = pgw_path_key("metadata.annotations", PGW_ANNOTATION_ROTATE_PASSWORD);
    if (pgw_expect_string(errs, path, value) != 1) {
        free(path);
        return;
    }
    if (old_object == NULL) {
        pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, value,
                       "a new cluster's passwords are new: request a rotation once the cluster is running");
        free(path);
        return;
    }
    struct pgw_cluster_view c = {.object = object, .spec = pgw_member(object, "spec"), .name = cluster};
    struct roles_view rv = {.c = &c, .owner = pgw_bootstrap_owner(c.spec)};
    json_t *roles = pgw_member(c.spec, "roles");
    rv.roles = json_is_array(roles) ? roles : NULL;
    /* "a,b" or "a, b": names separated by commas, none empty. */
    char *list = pgw_strdup(json_string_value(value)), *save = NULL;
    int count = 0, empty = list[0] == '\0' || list[strlen(list) - 1] == ',' || strstr(list, ",,") != NULL;
    for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            ++tok;
        char *end = tok + strlen(tok);
        while (end > tok && end[-1] == ' ')
            *--end = '\0';
        if (*tok == '\0') {
            empty = 1;
            continue;
        }
        ++count;
        if (!is_identifier(tok))
            pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "%s is not a role name: give role names separated by commas", tok);
        else
            check_rotate_target(&rv, errs, path, value, tok);
    }
    if (empty || count == 0)
        pgw_errors_add(errs, PGW_ERR_INVALID, path, value, "must list role names separated by commas (analyst,reporter)");
    free(list);
    free(path);
}
