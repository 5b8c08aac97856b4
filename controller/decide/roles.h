/*
 * Declarative roles, databases and extensions (DESIGN.md §3; docs/roles.md):
 * the plan that turns what PostgreSQL holds into what the spec declares.
 *
 * Pure: the reconcile (controller/reconcile/reconcile_roles.c) reads the
 * catalog and the password Secrets, this file decides the statements, and
 * the reconcile runs them one by one. So every rule is a row in a unit test.
 *
 * Rules:
 *  - a present role missing from the catalog is created with every attribute
 *    and its password; one that exists but differs (someone altered it by
 *    hand) gets one ALTER ROLE naming only the attributes that drifted;
 *  - memberships match inRoles exactly: a managed role is granted what the
 *    spec lists and revoked from every other role it is a member of;
 *  - a password is set from a SCRAM verifier (never the plaintext) when the
 *    role is created or its Secret's resourceVersion is not the one applied;
 *  - a database is created with owner, encoding, locale and template; its
 *    owner is corrected; encoding and locale are fixed at creation: drift is
 *    only reported;
 *  - extensions per database: CREATE EXTENSION IF NOT EXISTS ... VERSION,
 *    ALTER EXTENSION ... UPDATE TO when the version differs;
 *  - ensure: absent drops (DROP EXTENSION, DROP DATABASE, DROP ROLE, never
 *    forced: "role owns objects" or "database is being accessed" is reported);
 *  - an item removed from the lists is never touched.
 * Order: roles created, then altered, then passwords, then memberships;
 * databases (a new one gets PgBouncer's auth_query function, which template0
 * lacks); extensions; then the drops: extensions, databases, roles.
 */
#ifndef PGW_CONTROLLER_DECIDE_ROLES_H
#define PGW_CONTROLLER_DECIDE_ROLES_H

#include <jansson.h>
#include <stddef.h>

#define PGW_ROLES_PRESENT "Present"
#define PGW_ROLES_ABSENT "Absent"
#define PGW_ROLES_FAILED "Failed"
#define PGW_ROLES_PENDING "Pending"
#define PGW_CONDITION_ROLES_READY "RolesReady"

enum pgw_roles_object { PGW_ROLES_OBJ_ROLE, PGW_ROLES_OBJ_DATABASE, PGW_ROLES_OBJ_EXTENSION };

struct pgw_roles_step {
    enum pgw_roles_object object;
    char *name;         /* the role, database or extension */
    char *database;     /* the database to run in ("postgres" but for extensions) */
    char *sql;          /* one statement (CREATE DATABASE cannot run in a transaction block) */
    const char *reason; /* the Event's reason on success (RoleCreated, PasswordRotated, ...); NULL: no Event */
    char *message;      /* the Event's message, or NULL */
    int password;       /* 1: the statement sets the role's password */
    char *old_version;  /* password steps: the version applied before (NULL: none) */
};

struct pgw_roles_input {
    const json_t *cluster; /* defaulted: spec.roles, spec.databases, spec.bootstrap.initdb.owner; status (the last one) */
    /*
     * The catalog as read (column names of the reconcile's queries, values as text or null):
     *   roles:      {rolname: {rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
     *                          rolbypassrls ("t"/"f"), rolconnlimit, rolvaliduntil (epoch seconds; null: none)}}
     *   members:    {member: [granted role, ...]}
     *   databases:  {datname: {owner, encoding, collate}}
     *   extensions: {datname: {extname: extversion}} (only databases read)
     */
    const json_t *observed;
    /* {role: {secret, version (the Secret's resourceVersion), password} or {secret, error}; optional
     * applied: the version last applied (else status.roles[].passwordVersion)}. The bootstrap owner
     * may be here too: its password is then tracked like a declared role's. */
    const json_t *passwords;
    /* The SCRAM verifier of a password (controller/pg/scram.h; a test passes its own). Caller of the plan frees. */
    char *(*verifier)(const char *password, void *arg);
    void *arg;
};

struct pgw_roles_plan {
    struct pgw_roles_step *steps;
    size_t nsteps;
    json_t *roles;     /* status.roles as it will be when every step succeeds */
    json_t *databases; /* status.databases, likewise */
};

/* Fills *out (zeroed first). Never fails: a role whose password cannot be read is Pending. */
void pgw_roles_plan(const struct pgw_roles_input *in, struct pgw_roles_plan *out);
void pgw_roles_plan_dispose(struct pgw_roles_plan *p);

/* A step failed with `error`: its object becomes Failed with that message (a failed password step
 * keeps the passwordVersion applied before, so it is tried again). */
void pgw_roles_plan_fail(struct pgw_roles_plan *p, const struct pgw_roles_step *step, const char *error);

/* Sets lastTransitionTime on each entry of `entries` (status.roles or status.databases): kept from
 * the entry of the same name in `old` while its state is unchanged, else `now`. */
void pgw_roles_status_times(json_t *entries, const json_t *old, const char *now);

#endif
