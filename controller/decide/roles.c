/*
 * The plan for declarative roles, databases and extensions (rules in roles.h).
 *
 * Why one statement per step: CREATE DATABASE cannot run inside a transaction
 * block, and a failure must be pinned on one object (its status says why)
 * without undoing the others. Every name and literal is quoted here
 * (controller/pg/pgquote.h), even though admission already restricts names.
 * A password reaches PostgreSQL only as a SCRAM verifier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json_pack.h"
#include "common/object.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "controller/decide/roles.h"
#include "controller/pg/pgquote.h"
#include "specs/render_pgbouncer.h"
#include "specs/roles.h"

/* A role attribute: spec field, pg_roles column, keywords, default. */
struct attribute {
    const char *field, *column, *on, *off;
    int dflt;
};

static const struct attribute attributes[] = {
    {"superuser", "rolsuper", "SUPERUSER", "NOSUPERUSER", 0},
    {"inherit", "rolinherit", "INHERIT", "NOINHERIT", 1},
    {"createrole", "rolcreaterole", "CREATEROLE", "NOCREATEROLE", 0},
    {"createdb", "rolcreatedb", "CREATEDB", "NOCREATEDB", 0},
    {"login", "rolcanlogin", "LOGIN", "NOLOGIN", 1},
    {"replication", "rolreplication", "REPLICATION", "NOREPLICATION", 0},
    {"bypassrls", "rolbypassrls", "BYPASSRLS", "NOBYPASSRLS", 0},
};
#define NATTRIBUTES (sizeof(attributes) / sizeof(attributes[0]))

struct builder {
    struct pgw_roles_plan *plan;
    const struct pgw_roles_input *in;
    const json_t *old_roles, *old_databases;
};

static int eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int flag(const json_t *obj, const char *key, int dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int absent(const json_t *item)
{
    return !pgw_ensure_present(item);
}

static struct pgw_roles_step *add_step(struct builder *b, enum pgw_roles_object object, const char *name, const char *database,
                                       char *sql, const char *reason, char *message)
{
    struct pgw_roles_plan *p = b->plan;
    p->steps = pgw_realloc(p->steps, (p->nsteps + 1) * sizeof(*p->steps));
    struct pgw_roles_step *s = &p->steps[p->nsteps++];
    *s = (struct pgw_roles_step){.object = object,
                                 .name = pgw_strdup(name),
                                 .database = pgw_strdup(database != NULL ? database : "postgres"),
                                 .sql = sql,
                                 .reason = reason,
                                 .message = message};
    return s;
}

/* "ON" or "OFF" keyword of each attribute that differs from `observed` (NULL: all), joined by spaces. */
static char *attribute_clause(const json_t *role, const json_t *observed)
{
    char *out = pgw_strdup("");
    for (size_t i = 0; i < NATTRIBUTES; ++i) {
        const struct attribute *a = &attributes[i];
        int want = flag(role, a->field, a->dflt);
        if (observed != NULL && eq(str(observed, a->column), want ? "t" : "f"))
            continue;
        char *next = pgw_asprintf("%s%s%s", out, out[0] != '\0' ? " " : "", want ? a->on : a->off);
        free(out);
        out = next;
    }
    json_int_t limit = json_is_integer(json_object_get(role, "connectionLimit"))
                           ? json_integer_value(json_object_get(role, "connectionLimit"))
                           : -1;
    const char *seen_limit = str(observed, "rolconnlimit");
    if (observed == NULL || seen_limit == NULL || strtoll(seen_limit, NULL, 10) != limit) {
        char *next = pgw_asprintf("%s%sCONNECTION LIMIT %lld", out, out[0] != '\0' ? " " : "", (long long)limit);
        free(out);
        out = next;
    }
    /* validUntil: compared as epoch seconds (the reconcile reads them so); absent means no expiry. */
    const char *until = str(role, "validUntil");
    time_t want_t = 0;
    int has_until = until != NULL && pgw_rfc3339_parse(until, &want_t, NULL) == 0;
    const char *seen_until = str(observed, "rolvaliduntil");
    int differs = observed == NULL ? has_until
                  : has_until      ? seen_until == NULL || strtoll(seen_until, NULL, 10) != (long long)want_t
                                   : seen_until != NULL;
    if (differs) {
        char *lit = pgw_pg_quote_literal(has_until ? until : "infinity");
        char *next = pgw_asprintf("%s%sVALID UNTIL %s", out, out[0] != '\0' ? " " : "", lit);
        free(lit);
        free(out);
        out = next;
    }
    return out;
}

static int in_list(const json_t *list, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (eq(json_string_value(v), name))
            return 1;
    }
    return 0;
}

/* The version of the password last applied to `role`: passwords[role].applied, else the status. */
static const char *applied_version(const struct builder *b, const json_t *pw, const char *role)
{
    if (json_object_get(pw, "applied") != NULL)
        return str(pw, "applied");
    return str(pgw_obj_find_named(b->old_roles, role), "passwordVersion");
}

/* " PASSWORD '<verifier>'" for the role's password, or "" when there is none to set. */
static char *password_clause(const struct builder *b, const json_t *pw)
{
    const char *password = str(pw, "password");
    char *verifier = password != NULL ? b->in->verifier(password, b->in->arg) : NULL;
    char *lit = verifier != NULL ? pgw_pg_quote_literal(verifier) : NULL;
    char *out = lit != NULL ? pgw_asprintf(" PASSWORD %s", lit) : pgw_strdup("");
    free(lit);
    free(verifier);
    return out;
}

static int has_password(const json_t *pw)
{
    return str(pw, "password") != NULL && str(pw, "version") != NULL;
}

/* Whether the password must be set: the role is new, or its Secret changed since it was applied. */
static int password_due(const struct builder *b, const json_t *pw, const char *name, int exists)
{
    return has_password(pw) && (!exists || !eq(str(pw, "version"), applied_version(b, pw, name)));
}

static void create_role(struct builder *b, const json_t *role)
{
    const char *name = str(role, "name");
    const json_t *pw = json_object_get(b->in->passwords, name);
    char *qname = pgw_pg_quote_ident(name), *attrs = attribute_clause(role, NULL), *pwclause = password_clause(b, pw);
    struct pgw_roles_step *s =
        add_step(b, PGW_ROLES_OBJ_ROLE, name, NULL, pgw_asprintf("CREATE ROLE %s WITH %s%s", qname, attrs, pwclause), "RoleCreated",
                 pgw_asprintf("created role %s", name));
    s->password = pwclause[0] != '\0';
    if (s->password)
        s->old_version = applied_version(b, pw, name) != NULL ? pgw_strdup(applied_version(b, pw, name)) : NULL;
    free(qname);
    free(attrs);
    free(pwclause);
}

static void alter_role(struct builder *b, const json_t *role, const json_t *seen)
{
    const char *name = str(role, "name");
    char *attrs = attribute_clause(role, seen);
    if (attrs[0] != '\0') {
        char *qname = pgw_pg_quote_ident(name);
        add_step(b, PGW_ROLES_OBJ_ROLE, name, NULL, pgw_asprintf("ALTER ROLE %s WITH %s", qname, attrs), "RoleAltered",
                 pgw_asprintf("altered role %s: %s", name, attrs));
        free(qname);
    }
    free(attrs);
}

static void set_password(struct builder *b, const char *name)
{
    const json_t *pw = json_object_get(b->in->passwords, name);
    if (!password_due(b, pw, name, 1))
        return;
    char *pwclause = password_clause(b, pw);
    if (pwclause[0] != '\0') {
        char *qname = pgw_pg_quote_ident(name);
        struct pgw_roles_step *s =
            add_step(b, PGW_ROLES_OBJ_ROLE, name, NULL, pgw_asprintf("ALTER ROLE %s WITH%s", qname, pwclause), "PasswordRotated",
                     pgw_asprintf("set the password of role %s from Secret %s (resourceVersion %s)", name, str(pw, "secret"),
                                  str(pw, "version")));
        s->password = 1;
        s->old_version = applied_version(b, pw, name) != NULL ? pgw_strdup(applied_version(b, pw, name)) : NULL;
        free(qname);
    }
    free(pwclause);
}

/* GRANT what inRoles lists and the role lacks; REVOKE every other membership of the role. */
static void memberships(struct builder *b, const json_t *role)
{
    const char *name = str(role, "name");
    const json_t *want = json_object_get(role, "inRoles");
    const json_t *have = json_object_get(json_object_get(b->in->observed, "members"), name);
    char *qname = pgw_pg_quote_ident(name);
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v)
    {
        const char *g = json_string_value(v);
        if (g == NULL || in_list(have, g))
            continue;
        char *qg = pgw_pg_quote_ident(g);
        add_step(b, PGW_ROLES_OBJ_ROLE, name, NULL, pgw_asprintf("GRANT %s TO %s", qg, qname), "RoleAltered",
                 pgw_asprintf("granted %s to role %s", g, name));
        free(qg);
    }
    json_array_foreach(have, i, v)
    {
        const char *g = json_string_value(v);
        if (g == NULL || in_list(want, g))
            continue;
        char *qg = pgw_pg_quote_ident(g);
        add_step(b, PGW_ROLES_OBJ_ROLE, name, NULL, pgw_asprintf("REVOKE %s FROM %s", qg, qname), "RoleAltered",
                 pgw_asprintf("revoked %s from role %s (not in inRoles)", g, name));
        free(qg);
    }
    free(qname);
}

/* The password fields of a role's status entry: the Secret, and the version applied once the plan ran. */
static void password_status(const struct builder *b, json_t *entry, const char *name, int exists)
{
    const json_t *pw = json_object_get(b->in->passwords, name);
    const char *applied = applied_version(b, pw, name);
    if (pw == NULL)
        return;
    json_object_set_new(entry, "passwordSecret", json_string(str(pw, "secret") != NULL ? str(pw, "secret") : ""));
    const char *version = has_password(pw) && (password_due(b, pw, name, exists) || applied == NULL) ? str(pw, "version") : applied;
    if (version != NULL)
        json_object_set_new(entry, "passwordVersion", json_string(version));
    if (!has_password(pw)) {
        json_object_set_new(entry, "state", json_string(PGW_ROLES_PENDING));
        json_object_set_new(entry, "message", json_string(str(pw, "error") != NULL ? str(pw, "error") : "no password yet"));
    }
}

static json_t *new_entry(const char *name, const char *state)
{
    return pgw_json_pack("{s:s,s:s,s:s}", "name", name, "state", state, "message", "");
}

static void plan_roles(struct builder *b)
{
    const json_t *roles = pgw_obj_at(b->in->cluster, "spec.roles");
    const json_t *seen = json_object_get(b->in->observed, "roles");
    size_t i;
    json_t *role;
    json_array_foreach(roles, i, role)
    {
        const char *name = str(role, "name");
        if (name == NULL)
            continue;
        int exists = json_object_get(seen, name) != NULL;
        json_t *entry = new_entry(name, absent(role) ? PGW_ROLES_ABSENT : PGW_ROLES_PRESENT);
        if (!absent(role))
            password_status(b, entry, name, exists);
        json_array_append_new(b->plan->roles, entry);
        if (!absent(role) && !exists)
            create_role(b, role);
    }
    json_array_foreach(roles, i, role)
    {
        const json_t *obs = json_object_get(seen, str(role, "name"));
        if (!absent(role) && obs != NULL)
            alter_role(b, role, obs);
    }
    json_array_foreach(roles, i, role)
    {
        if (!absent(role) && json_object_get(seen, str(role, "name")) != NULL)
            set_password(b, str(role, "name"));
    }
    /* The bootstrap owner (Patroni creates it): tracked only for its password, never created nor altered here. */
    const char *owner = pgw_bootstrap_owner(json_object_get(b->in->cluster, "spec"));
    if (owner != NULL && json_object_get(b->in->passwords, owner) != NULL && pgw_obj_find_named(b->plan->roles, owner) == NULL) {
        int exists = json_object_get(seen, owner) != NULL;
        json_t *entry = new_entry(owner, exists ? PGW_ROLES_PRESENT : PGW_ROLES_PENDING);
        password_status(b, entry, owner, 1);
        json_array_append_new(b->plan->roles, entry);
        if (exists)
            set_password(b, owner);
    }
    json_array_foreach(roles, i, role)
    {
        if (!absent(role))
            memberships(b, role);
    }
}

static const char *database_owner(const struct builder *b, const json_t *db)
{
    const char *owner = str(db, "owner");
    return owner != NULL ? owner : pgw_bootstrap_owner(json_object_get(b->in->cluster, "spec"));
}

static void create_database(struct builder *b, const json_t *db, const char *owner)
{
    const char *name = str(db, "name");
    const char *encoding = str(db, "encoding"), *locale = str(db, "locale"), *tmpl = str(db, "template");
    char *qname = pgw_pg_quote_ident(name);
    char *sql = pgw_asprintf("CREATE DATABASE %s", qname);
    if (owner != NULL) {
        char *q = pgw_pg_quote_ident(owner), *next = pgw_asprintf("%s OWNER %s", sql, q);
        free(q);
        free(sql);
        sql = next;
    }
    if (tmpl != NULL) {
        char *q = pgw_pg_quote_ident(tmpl), *next = pgw_asprintf("%s TEMPLATE %s", sql, q);
        free(q);
        free(sql);
        sql = next;
    }
    if (encoding != NULL) {
        char *q = pgw_pg_quote_literal(encoding), *next = pgw_asprintf("%s ENCODING %s", sql, q);
        free(q);
        free(sql);
        sql = next;
    }
    if (locale != NULL) {
        char *q = pgw_pg_quote_literal(locale), *next = pgw_asprintf("%s LOCALE %s", sql, q);
        free(q);
        free(sql);
        sql = next;
    }
    add_step(b, PGW_ROLES_OBJ_DATABASE, name, NULL, sql, "DatabaseCreated",
             pgw_asprintf("created database %s owned by %s", name, owner != NULL ? owner : "postgres"));
    /* PgBouncer's auth_query function, which a database made from template0 lacks (no Event: part of the creation). */
    add_step(b, PGW_ROLES_OBJ_DATABASE, name, name, pgw_render_pgbouncer_auth_function_sql(), NULL, NULL);
    free(qname);
}

/* What cannot change after creation and differs: reported in the database's status message. */
static char *fixed_drift(const json_t *db, const json_t *seen)
{
    const char *encoding = str(db, "encoding"), *locale = str(db, "locale");
    const char *seen_encoding = str(seen, "encoding"), *seen_collate = str(seen, "collate");
    char *out = pgw_strdup("");
    if (encoding != NULL && seen_encoding != NULL && strcasecmp(encoding, seen_encoding) != 0) {
        char *next = pgw_asprintf("encoding is %s, not %s (fixed at creation: not changed)", seen_encoding, encoding);
        free(out);
        out = next;
    }
    if (locale != NULL && seen_collate != NULL && strcmp(locale, seen_collate) != 0) {
        char *next = pgw_asprintf("%s%slocale is %s, not %s (fixed at creation: not changed)", out, out[0] != '\0' ? "; " : "",
                                  seen_collate, locale);
        free(out);
        out = next;
    }
    return out;
}

static void plan_extensions(struct builder *b, const json_t *db, json_t *entry, int drops)
{
    const char *dbname = str(db, "name");
    const json_t *seen = json_object_get(json_object_get(b->in->observed, "extensions"), dbname);
    json_t *list = json_object_get(entry, "extensions");
    size_t i;
    json_t *ext;
    json_array_foreach(json_object_get(db, "extensions"), i, ext)
    {
        const char *name = str(ext, "name"), *version = str(ext, "version");
        if (name == NULL)
            continue;
        const char *have = str(seen, name);
        char *qname = pgw_pg_quote_ident(name);
        char *qversion = version != NULL ? pgw_pg_quote_literal(version) : NULL;
        if (!drops) {
            const char *shown = have;
            if (!absent(ext) && have == NULL) {
                add_step(b, PGW_ROLES_OBJ_EXTENSION, name, dbname,
                         pgw_asprintf("CREATE EXTENSION IF NOT EXISTS %s%s%s", qname, qversion != NULL ? " VERSION " : "",
                                      qversion != NULL ? qversion : ""),
                         "ExtensionCreated",
                         pgw_asprintf("created extension %s%s%s in database %s", name, version != NULL ? " " : "",
                                      version != NULL ? version : "", dbname));
                shown = version;
            } else if (!absent(ext) && version != NULL && !eq(have, version)) {
                add_step(b, PGW_ROLES_OBJ_EXTENSION, name, dbname, pgw_asprintf("ALTER EXTENSION %s UPDATE TO %s", qname, qversion),
                         "ExtensionUpdated",
                         pgw_asprintf("updated extension %s in database %s from %s to %s", name, dbname, have, version));
                shown = version;
            }
            json_t *e = pgw_json_pack("{s:s,s:s}", "name", name, "state", absent(ext) ? PGW_ROLES_ABSENT : PGW_ROLES_PRESENT);
            if (!absent(ext) && shown != NULL)
                json_object_set_new(e, "version", json_string(shown));
            json_array_append_new(list, e);
        } else if (absent(ext) && have != NULL) {
            add_step(b, PGW_ROLES_OBJ_EXTENSION, name, dbname, pgw_asprintf("DROP EXTENSION IF EXISTS %s", qname),
                     "ExtensionDropped", pgw_asprintf("dropped extension %s from database %s", name, dbname));
        }
        free(qname);
        free(qversion);
    }
}

static void plan_databases(struct builder *b, int drops)
{
    const json_t *seen_dbs = json_object_get(b->in->observed, "databases");
    size_t i;
    json_t *db;
    json_array_foreach(pgw_obj_at(b->in->cluster, "spec.databases"), i, db)
    {
        const char *name = str(db, "name");
        if (name == NULL)
            continue;
        const json_t *seen = json_object_get(seen_dbs, name);
        const char *owner = database_owner(b, db);
        char *qname = pgw_pg_quote_ident(name);
        if (drops) { /* extensions first, in every database, then the databases */
            json_t *entry = (json_t *)pgw_obj_find_named(b->plan->databases, name);
            if (drops == 1 && !absent(db))
                plan_extensions(b, db, entry, 1);
            else if (drops == 2 && absent(db) && seen != NULL)
                add_step(b, PGW_ROLES_OBJ_DATABASE, name, NULL, pgw_asprintf("DROP DATABASE %s", qname), "DatabaseDropped",
                         pgw_asprintf("dropped database %s", name));
            free(qname);
            continue;
        }
        json_t *entry = new_entry(name, absent(db) ? PGW_ROLES_ABSENT : PGW_ROLES_PRESENT);
        json_array_append_new(b->plan->databases, entry);
        if (absent(db)) {
            free(qname);
            continue;
        }
        if (owner != NULL)
            json_object_set_new(entry, "owner", json_string(owner));
        json_object_set_new(entry, "extensions", json_array());
        if (seen == NULL) {
            create_database(b, db, owner);
        } else {
            if (owner != NULL && !eq(str(seen, "owner"), owner)) {
                char *qowner = pgw_pg_quote_ident(owner);
                add_step(b, PGW_ROLES_OBJ_DATABASE, name, NULL, pgw_asprintf("ALTER DATABASE %s OWNER TO %s", qname, qowner),
                         "DatabaseAltered", pgw_asprintf("database %s: owner %s → %s", name, str(seen, "owner"), owner));
                free(qowner);
            }
            char *drift = fixed_drift(db, seen);
            json_object_set_new(entry, "message", json_string(drift));
            free(drift);
        }
        free(qname);
    }
    if (drops)
        return;
    json_array_foreach(pgw_obj_at(b->in->cluster, "spec.databases"), i, db)
    {
        if (str(db, "name") != NULL && !absent(db))
            plan_extensions(b, db, (json_t *)pgw_obj_find_named(b->plan->databases, str(db, "name")), 0);
    }
}

static void plan_role_drops(struct builder *b)
{
    const json_t *seen = json_object_get(b->in->observed, "roles");
    size_t i;
    json_t *role;
    json_array_foreach(pgw_obj_at(b->in->cluster, "spec.roles"), i, role)
    {
        const char *name = str(role, "name");
        if (name == NULL || !absent(role) || json_object_get(seen, name) == NULL)
            continue;
        char *qname = pgw_pg_quote_ident(name);
        add_step(b, PGW_ROLES_OBJ_ROLE, name, NULL, pgw_asprintf("DROP ROLE %s", qname), "RoleDropped",
                 pgw_asprintf("dropped role %s", name));
        free(qname);
    }
}

void pgw_roles_plan(const struct pgw_roles_input *in, struct pgw_roles_plan *out)
{
    *out = (struct pgw_roles_plan){.roles = json_array(), .databases = json_array()};
    const json_t *status = json_object_get(in->cluster, "status");
    struct builder b = {.plan = out,
                        .in = in,
                        .old_roles = json_object_get(status, "roles"),
                        .old_databases = json_object_get(status, "databases")};
    plan_roles(&b);
    plan_databases(&b, 0);
    plan_databases(&b, 1);
    plan_databases(&b, 2);
    plan_role_drops(&b);
}

void pgw_roles_plan_dispose(struct pgw_roles_plan *p)
{
    for (size_t i = 0; i < p->nsteps; ++i) {
        free(p->steps[i].name);
        free(p->steps[i].database);
        free(p->steps[i].sql);
        free(p->steps[i].message);
        free(p->steps[i].old_version);
    }
    free(p->steps);
    json_decref(p->roles);
    json_decref(p->databases);
    *p = (struct pgw_roles_plan){0};
}

static void mark_failed(json_t *entry, const char *error)
{
    if (entry == NULL)
        return;
    /* The first error of a reconcile is kept: the later ones often follow from it. */
    if (!eq(str(entry, "state"), PGW_ROLES_FAILED))
        json_object_set_new(entry, "message", json_string(error));
    json_object_set_new(entry, "state", json_string(PGW_ROLES_FAILED));
}

void pgw_roles_plan_fail(struct pgw_roles_plan *p, const struct pgw_roles_step *step, const char *error)
{
    if (step->object == PGW_ROLES_OBJ_ROLE) {
        json_t *entry = (json_t *)pgw_obj_find_named(p->roles, step->name);
        mark_failed(entry, error);
        if (step->password && entry != NULL) {
            if (step->old_version != NULL)
                json_object_set_new(entry, "passwordVersion", json_string(step->old_version));
            else
                json_object_del(entry, "passwordVersion");
        }
    } else if (step->object == PGW_ROLES_OBJ_DATABASE) {
        mark_failed((json_t *)pgw_obj_find_named(p->databases, step->name), error);
    } else {
        json_t *db = (json_t *)pgw_obj_find_named(p->databases, step->database);
        json_t *ext = (json_t *)pgw_obj_find_named(json_object_get(db, "extensions"), step->name);
        if (ext != NULL) {
            json_object_set_new(ext, "state", json_string(PGW_ROLES_FAILED));
            json_object_del(ext, "version");
        }
        if (db != NULL && !eq(str(db, "state"), PGW_ROLES_FAILED)) {
            char *msg = pgw_asprintf("extension %s: %s", step->name, error);
            mark_failed(db, msg);
            free(msg);
        }
    }
}

void pgw_roles_status_times(json_t *entries, const json_t *old, const char *now)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const json_t *was = pgw_obj_find_named(old, str(e, "name"));
        const char *t = str(was, "lastTransitionTime");
        json_object_set_new(e, "lastTransitionTime",
                            json_string(was != NULL && t != NULL && eq(str(was, "state"), str(e, "state")) ? t : now));
    }
}
