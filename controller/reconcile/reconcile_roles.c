/*
 * Roles, databases and extensions applied on the primary (reconcile_roles.h).
 *
 * One pass: read the password Secrets (and rotate the ones asked for), connect
 * to the primary's pod IP as postgres over TLS verified against the cluster's
 * CA, read the catalog, plan (controller/decide/roles.h), run each statement
 * on its own (autocommit: CREATE DATABASE cannot run in a transaction block,
 * and a failure belongs to one object), then write the status. Every connect
 * and query is bounded (QUERY_TIMEOUT_MS), so a hung server delays a reconcile
 * by seconds, not forever.
 *
 * Events: one per statement that changed something (the plan is empty in
 * steady state), and a Warning RoleReconcileFailed when an object's error is
 * new (the same failure on every resync is not repeated).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "controller/decide/cluster_status.h"
#include "controller/decide/roles.h"
#include "controller/pg/pgconn.h"
#include "controller/pg/scram.h"
#include "controller/reconcile/apply.h"
#include "controller/reconcile/reconcile_roles.h"
#include "specs/operations.h"
#include "specs/pod_layout.h"
#include "specs/render.h"
#include "specs/roles.h"

#define QUERY_TIMEOUT_MS 5000
/* Looked at again this soon after a failure (the primary unreachable, a statement refused). */
#define RETRY_SECONDS 15.0

#define ROLES_SQL                                                                                                                  \
    "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, "                \
    "rolconnlimit, CASE WHEN rolvaliduntil IS NULL OR rolvaliduntil = 'infinity' THEN NULL "                                       \
    "ELSE floor(extract(epoch FROM rolvaliduntil))::bigint END AS rolvaliduntil FROM pg_catalog.pg_roles"
#define MEMBERS_SQL                                                                                                                \
    "SELECT m.rolname, r.rolname FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid "                \
    "JOIN pg_catalog.pg_roles m ON m.oid = a.member"
#define DATABASES_SQL                                                                                                              \
    "SELECT datname, pg_catalog.pg_get_userbyid(datdba) AS owner, pg_catalog.pg_encoding_to_char(encoding) AS encoding, "          \
    "datcollate AS collate FROM pg_catalog.pg_database"
#define EXTENSIONS_SQL "SELECT extname, extversion FROM pg_catalog.pg_extension"

/* The connections of one pass, one per database, opened when first needed. */
struct conns {
    pgw_pg_conn_opts opts;
    char **dbnames;
    pgw_pg_conn **conn;
    size_t n;
};

static pgw_pg_conn *conn_for(struct conns *c, const char *db, char **err)
{
    for (size_t i = 0; i < c->n; ++i)
        if (strcmp(c->dbnames[i], db) == 0) {
            if (c->conn[i] == NULL || pgw_pg_broken(c->conn[i])) {
                *err = pgw_asprintf("no connection to database %s", db);
                return NULL;
            }
            return c->conn[i];
        }
    c->dbnames = pgw_realloc(c->dbnames, (c->n + 1) * sizeof(*c->dbnames));
    c->conn = pgw_realloc(c->conn, (c->n + 1) * sizeof(*c->conn));
    pgw_pg_conn_opts o = c->opts;
    o.dbname = db;
    c->dbnames[c->n] = pgw_strdup(db);
    c->conn[c->n] = pgw_pg_connect(&o, err);
    return c->conn[c->n++];
}

static void conns_close(struct conns *c)
{
    for (size_t i = 0; i < c->n; ++i) {
        pgw_pg_close(c->conn[i]);
        free(c->dbnames[i]);
    }
    free(c->dbnames);
    free(c->conn);
    *c = (struct conns){0};
}

/* Rows as {first column: {column: text or null}}. */
static json_t *rows_by_name(const pgw_pg_result *res)
{
    json_t *out = json_object();
    for (size_t i = 0; i < res->nrows; ++i) {
        const char *name = pgw_pg_cell(res, i, 0);
        if (name == NULL)
            continue;
        json_t *row = json_object();
        for (size_t j = 1; j < res->ncols; ++j) {
            const char *v = pgw_pg_cell(res, i, j);
            json_object_set_new(row, res->colnames[j], v != NULL ? json_string(v) : json_null());
        }
        json_object_set_new(out, name, row);
    }
    return out;
}

/* The catalog the plan compares with (roles.h, pgw_roles_input.observed), or NULL with *err. */
static json_t *read_catalog(struct conns *c, const json_t *spec, char **err)
{
    pgw_pg_conn *pg = conn_for(c, "postgres", err);
    if (pg == NULL)
        return NULL;
    json_t *obs = json_object();
    pgw_pg_result res;
    if (pgw_pg_query(pg, ROLES_SQL, &res, err) != 0)
        goto fail;
    json_object_set_new(obs, "roles", rows_by_name(&res));
    pgw_pg_result_free(&res);
    if (pgw_pg_query(pg, MEMBERS_SQL, &res, err) != 0)
        goto fail;
    json_t *members = json_object();
    for (size_t i = 0; i < res.nrows; ++i) {
        const char *m = pgw_pg_cell(&res, i, 0), *g = pgw_pg_cell(&res, i, 1);
        if (m == NULL || g == NULL)
            continue;
        json_t *list = json_object_get(members, m);
        if (list == NULL)
            json_object_set_new(members, m, list = json_array());
        json_array_append_new(list, json_string(g));
    }
    json_object_set_new(obs, "members", members);
    pgw_pg_result_free(&res);
    if (pgw_pg_query(pg, DATABASES_SQL, &res, err) != 0)
        goto fail;
    json_t *dbs = rows_by_name(&res);
    json_object_set_new(obs, "databases", dbs);
    pgw_pg_result_free(&res);
    /* The extensions of each declared database that exists and lists some. */
    json_t *exts = json_object();
    json_object_set_new(obs, "extensions", exts);
    size_t i;
    json_t *db;
    json_array_foreach(json_object_get(spec, "databases"), i, db)
    {
        const char *name = json_string_value(json_object_get(db, "name"));
        if (name == NULL || !pgw_ensure_present(db) || json_array_size(json_object_get(db, "extensions")) == 0 ||
            json_object_get(dbs, name) == NULL)
            continue;
        char *why = NULL;
        pgw_pg_conn *dc = conn_for(c, name, &why);
        if (dc == NULL || pgw_pg_query(dc, EXTENSIONS_SQL, &res, &why) != 0) {
            /* planned as none: CREATE EXTENSION IF NOT EXISTS is harmless, and the step fails with the reason */
            free(why);
            continue;
        }
        json_t *map = json_object();
        for (size_t k = 0; k < res.nrows; ++k) {
            const char *e = pgw_pg_cell(&res, k, 0), *v = pgw_pg_cell(&res, k, 1);
            if (e != NULL && v != NULL)
                json_object_set_new(map, e, json_string(v));
        }
        json_object_set_new(exts, name, map);
        pgw_pg_result_free(&res);
    }
    return obs;
fail:
    json_decref(obs);
    return NULL;
}

/* A Secret of the cluster's namespace: *data its decoded keys, *rv its resourceVersion. 0, or -1 with *err. */
static int read_secret(struct pgw_reconciler *r, const char *ns, const char *name, json_t **data, char **rv, char **err)
{
    struct pgw_kresult res = {0};
    int o = pgw_kclient_get(r->client, pgw_resource_find("Secret"), ns, name, &res);
    int rc = 0;
    if (o == PGW_K_OK) {
        *data = pgw_apply_secret_data(res.body);
        *rv = pgw_strdup(pgw_obj_meta_str(res.body, "resourceVersion") ? pgw_obj_meta_str(res.body, "resourceVersion") : "");
    } else {
        *err = o == PGW_K_NOT_FOUND ? pgw_asprintf("Secret %s not found", name)
                                    : pgw_asprintf("reading Secret %s: %s", name, res.message ? res.message : "failed");
        rc = -1;
    }
    pgw_kresult_dispose(&res);
    return rc;
}

/* {secret, version, password} or {secret, error} for a role whose password is in Secret `name` under `key`. */
static json_t *password_entry(struct pgw_reconciler *r, const char *ns, const char *name, const char *key)
{
    json_t *data = NULL, *out;
    char *rv = NULL, *err = NULL;
    if (read_secret(r, ns, name, &data, &rv, &err) != 0) {
        out = pgw_json_pack("{s:s,s:s}", "secret", name, "error", err);
    } else if (json_string_value(json_object_get(data, key)) == NULL) {
        char *why = pgw_asprintf("Secret %s has no key %s", name, key);
        out = pgw_json_pack("{s:s,s:s}", "secret", name, "error", why);
        free(why);
    } else {
        out = pgw_json_pack("{s:s,s:s,s:s}", "secret", name, "version", rv, "password",
                            json_string_value(json_object_get(data, key)));
    }
    json_decref(data);
    free(rv);
    free(err);
    return out;
}

/* The Secret (and key) of a declared role's password, or NULL for a role without one. malloc'd name. */
static char *role_secret(const char *cluster, const json_t *role, const char **key)
{
    const json_t *ps = json_object_get(role, "passwordSecret");
    *key = PGW_ROLE_PASSWORD_KEY_DEFAULT;
    if (ps != NULL) {
        const char *k = json_string_value(json_object_get(ps, "key"));
        if (k != NULL)
            *key = k;
        const char *n = json_string_value(json_object_get(ps, "name"));
        return n != NULL ? pgw_strdup(n) : NULL;
    }
    const json_t *login = json_object_get(role, "login");
    if (json_is_boolean(login) && !json_is_true(login))
        return NULL;
    return pgw_role_secret_name(cluster, json_string_value(json_object_get(role, "name")));
}

/* The names in the rotate-password annotation (a new array). */
static json_t *rotation_request(const json_t *cluster)
{
    json_t *out = json_array();
    const char *v =
        json_string_value(json_object_get(json_object_get(pgw_obj_meta(cluster), "annotations"), PGW_ANNOTATION_ROTATE_PASSWORD));
    if (v == NULL)
        return out;
    char *copy = pgw_strdup(v), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
        json_array_append_new(out, json_string(tok));
    free(copy);
    return out;
}

/*
 * Writes a new generated password into the Secret of `role` (named in the rotate annotation), unless
 * the one there is not applied yet (a rotation already written, waiting to be set). Updates the role's
 * password entry. Only this path rewrites a Secret: the new data replaces the credentials' keys.
 */
static void rotate(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, const char *role, json_t *passwords,
                   int *writes)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace");
    const json_t *spec = json_object_get(defaulted, "spec");
    json_t *pw = json_object_get(passwords, role);
    const char *version = json_string_value(json_object_get(pw, "version"));
    if (pw == NULL || version == NULL)
        return;
    const json_t *applied = json_object_get(pw, "applied");
    const char *was =
        applied != NULL
            ? json_string_value(applied)
            : json_string_value(json_object_get(
                  pgw_obj_find_named(json_object_get(json_object_get(cluster, "status"), "roles"), role), "passwordVersion"));
    if (was != NULL && strcmp(was, version) != 0)
        return; /* rotated already: the plan sets it */
    struct pgw_render_ctx ctx = {.config = r->config};
    json_t *data = NULL;
    if (strcmp(role, pgw_bootstrap_owner(spec)) == 0) {
        data = pgw_render_credentials(defaulted, role, pgw_bootstrap_database(spec), &ctx);
    } else {
        json_t *s = pgw_render_role_secret(defaulted, pgw_obj_find_named(json_object_get(spec, "roles"), role), &ctx);
        data = s != NULL ? json_incref(json_object_get(s, "stringData")) : NULL;
        json_decref(s);
    }
    if (data == NULL)
        return;
    const char *secret = json_string_value(json_object_get(pw, "secret"));
    json_t *patch = pgw_json_pack("{s:{s:s},s:O}", "metadata", "resourceVersion", version, "stringData", data);
    struct pgw_kresult res = {0};
    (*writes)++;
    if (pgw_kclient_patch(r->client, pgw_resource_find("Secret"), ns, secret, NULL, PGW_PATCH_MERGE, patch, &res) == PGW_K_OK) {
        const char *rv = pgw_obj_meta_str(res.body, "resourceVersion");
        if (was == NULL) /* the bootstrap owner, tracked from now on: what was there is what Patroni set */
            json_object_set_new(pw, "applied", json_string(version));
        json_object_set_new(pw, "version", json_string(rv != NULL ? rv : ""));
        json_object_set(pw, "password", json_object_get(data, "password"));
        pgw_log(PGW_LOG_INFO, "password rotated in its Secret",
                pgw_json_pack("{s:s,s:s,s:s}", "namespace", ns, "role", role, "secret", secret));
    } else {
        pgw_log(PGW_LOG_WARN, "cannot write a rotated password",
                pgw_json_pack("{s:s,s:s,s:s?}", "namespace", ns, "secret", secret, "error", res.message));
    }
    pgw_kresult_dispose(&res);
    json_decref(patch);
    json_decref(data);
}

/* Apply-cache entry: the password version this controller last applied to a role. A reconcile right
 * after a status write may read a store the watch has not updated yet, and would set the password
 * (and raise PasswordRotated) twice. */
#define PASSWORD_SEEN "PasswordApplied"

static char *cache_key_name(const json_t *cluster, const char *role)
{
    return pgw_asprintf("%s/%s", pgw_obj_meta_str(cluster, "name"), role);
}

/* The version the cache remembers as applied to `role`, or NULL. malloc'd. */
static char *applied_seen(struct pgw_reconciler *r, const json_t *cluster, const char *role)
{
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    if (r->cache == NULL || uid == NULL)
        return NULL;
    char *key = cache_key_name(cluster, role);
    char *seen = pgw_apply_cache_lookup(r->cache, uid, PASSWORD_SEEN, pgw_obj_meta_str(cluster, "namespace"), key);
    free(key);
    return seen;
}

/* Sets passwords[role].applied from the cache where it remembers a version. */
static void applied_from_cache(struct pgw_reconciler *r, const json_t *cluster, json_t *passwords)
{
    const char *role;
    json_t *pw;
    json_object_foreach(passwords, role, pw)
    {
        char *seen = applied_seen(r, cluster, role);
        if (seen != NULL)
            json_object_set_new(pw, "applied", json_string(seen));
        free(seen);
    }
}

static void remember_applied(struct pgw_reconciler *r, const json_t *cluster, const json_t *roles)
{
    const char *uid = pgw_obj_meta_str(cluster, "uid");
    size_t i;
    json_t *e;
    if (r->cache == NULL || uid == NULL)
        return;
    json_array_foreach(roles, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *version = json_string_value(json_object_get(e, "passwordVersion"));
        if (name == NULL || version == NULL)
            continue;
        char *key = cache_key_name(cluster, name);
        pgw_apply_cache_remember(r->cache, uid, PASSWORD_SEEN, pgw_obj_meta_str(cluster, "namespace"), key, version);
        free(key);
    }
}

/* The password entries of every role the plan may set, and the rotations asked for. */
static json_t *read_passwords(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, const json_t *rotations,
                              int *writes)
{
    const char *ns = pgw_obj_meta_str(cluster, "namespace"), *name = pgw_obj_meta_str(cluster, "name");
    const json_t *spec = json_object_get(defaulted, "spec");
    json_t *out = json_object();
    size_t i;
    json_t *role;
    json_array_foreach(json_object_get(spec, "roles"), i, role)
    {
        const char *key = NULL, *rname = json_string_value(json_object_get(role, "name"));
        char *secret = rname != NULL && pgw_ensure_present(role) ? role_secret(name, role, &key) : NULL;
        if (secret != NULL)
            json_object_set_new(out, rname, password_entry(r, ns, secret, key));
        free(secret);
    }
    /* The bootstrap owner: once asked to rotate, its -app Secret is tracked like a declared role's. */
    const char *owner = pgw_bootstrap_owner(spec);
    int owner_tracked = pgw_obj_find_named(json_object_get(json_object_get(cluster, "status"), "roles"), owner) != NULL;
    char *seen = applied_seen(r, cluster, owner); /* the store may show a status from before we tracked it */
    owner_tracked |= seen != NULL;
    free(seen);
    json_t *v;
    json_array_foreach(rotations, i, v)
    {
        if (strcmp(json_string_value(v), owner) == 0)
            owner_tracked = 1;
    }
    if (owner_tracked) {
        char *app = pgw_obj_child_name(name, PGW_SUFFIX_APP);
        json_object_set_new(out, owner, password_entry(r, ns, app, PGW_ROLE_PASSWORD_KEY_DEFAULT));
        free(app);
    }
    applied_from_cache(r, cluster, out);
    json_array_foreach(rotations, i, v) rotate(r, cluster, defaulted, json_string_value(v), out, writes);
    return out;
}

static char *verifier(const char *password, void *arg)
{
    (void)arg;
    return pgw_scram_verifier(password, PGW_SCRAM_ITERATIONS);
}

/* The pod IP of the primary status.primary names (set this pass from Patroni's leader key, before the
 * role label: decide/primary.h), when that pod is ready; else NULL. Borrowed. */
static const char *primary_ip(const json_t *pods, const json_t *status)
{
    const json_t *pod = pgw_obj_find_by_meta_name(pods, json_string_value(json_object_get(status, "primary")));
    return pod != NULL && pgw_pod_is_ready(pod) ? pgw_obj_str_at(pod, "status.podIP") : NULL;
}

/* The CA that signed the server certificate (ca.crt beside it), or NULL: TLS without verification. malloc'd. */
static char *server_ca(struct pgw_reconciler *r, const json_t *defaulted)
{
    const char *ns = pgw_obj_meta_str(defaulted, "namespace"), *name = pgw_obj_meta_str(defaulted, "name");
    const char *own = pgw_obj_str_at(defaulted, "spec.tls.secretName");
    char *sname = own != NULL ? pgw_strdup(own) : pgw_obj_child_name(name, PGW_SUFFIX_SERVER_TLS);
    json_t *data = NULL;
    char *rv = NULL, *err = NULL, *ca = NULL;
    if (read_secret(r, ns, sname, &data, &rv, &err) == 0 && json_string_value(json_object_get(data, PGW_KEY_TLS_CA)) != NULL)
        ca = pgw_strdup(json_string_value(json_object_get(data, PGW_KEY_TLS_CA)));
    json_decref(data);
    free(rv);
    free(err);
    free(sname);
    return ca;
}

/* The superuser's password from <cluster>-superuser, or NULL with *err. malloc'd. */
static char *superuser_password(struct pgw_reconciler *r, const json_t *cluster, char **err)
{
    char *sname = pgw_obj_child_name(pgw_obj_meta_str(cluster, "name"), PGW_SUFFIX_SUPERUSER);
    json_t *data = NULL;
    char *rv = NULL, *out = NULL;
    if (read_secret(r, pgw_obj_meta_str(cluster, "namespace"), sname, &data, &rv, err) == 0) {
        const char *pw = json_string_value(json_object_get(data, "password"));
        if (pw != NULL)
            out = pgw_strdup(pw);
        else
            *err = pgw_asprintf("Secret %s has no key password", sname);
    }
    json_decref(data);
    free(rv);
    free(sname);
    return out;
}

/* Carries the last status.roles/databases over and sets RolesReady False with `reason`. */
static void keep_status(const json_t *cluster, json_t *status, const char *reason, const char *message, const char *now)
{
    const json_t *old = json_object_get(cluster, "status");
    if (json_object_get(old, "roles") != NULL)
        json_object_set(status, "roles", json_object_get(old, "roles"));
    if (json_object_get(old, "databases") != NULL)
        json_object_set(status, "databases", json_object_get(old, "databases"));
    pgw_cluster_status_set_condition(status, old, PGW_CONDITION_ROLES_READY, "False", reason, message,
                                     json_integer_value(json_object_get(pgw_obj_meta(cluster), "generation")), now);
}

/* Warning RoleReconcileFailed for each failed entry whose message is new. */
static void failure_events(struct pgw_reconciler *r, const json_t *cluster, const json_t *entries, const json_t *old,
                           const char *what, int *writes, int *failed)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *state = json_string_value(json_object_get(e, "state"));
        if (state == NULL || strcmp(state, PGW_ROLES_FAILED) != 0)
            continue;
        (*failed)++;
        const char *name = json_string_value(json_object_get(e, "name")), *msg = json_string_value(json_object_get(e, "message"));
        const char *was = json_string_value(json_object_get(pgw_obj_find_named(old, name), "message"));
        if (was != NULL && msg != NULL && strcmp(was, msg) == 0)
            continue;
        char *text = pgw_asprintf("%s %s: %s", what, name, msg != NULL ? msg : "failed");
        pgw_reconcile_event(r, cluster, "Warning", "RoleReconcileFailed", text, writes);
        free(text);
    }
}

/* Removes from the rotate annotation each role whose rotated password is now applied. */
static void finish_rotations(struct pgw_reconciler *r, const json_t *cluster, const json_t *rotations, const json_t *passwords,
                             const json_t *roles, int *writes)
{
    if (json_array_size(rotations) == 0)
        return;
    json_t *left = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(rotations, i, v)
    {
        const char *role = json_string_value(v);
        const json_t *e = pgw_obj_find_named(roles, role);
        const char *want = json_string_value(json_object_get(json_object_get(passwords, role), "version"));
        const char *have = json_string_value(json_object_get(e, "passwordVersion"));
        int done = e != NULL && want != NULL && have != NULL && strcmp(want, have) == 0;
        /* a name that is no role with a generated password (admission refuses it) would stay forever */
        if (!done && json_object_get(passwords, role) != NULL)
            json_array_append(left, v);
    }
    char *joined = json_array_size(left) > 0 ? pgw_obj_join_strings(left, ",") : NULL;
    json_t *patch = pgw_json_pack("{s:{s:{s:s?}}}", "metadata", "annotations", PGW_ANNOTATION_ROTATE_PASSWORD, joined);
    const char *was =
        json_string_value(json_object_get(json_object_get(pgw_obj_meta(cluster), "annotations"), PGW_ANNOTATION_ROTATE_PASSWORD));
    if (joined == NULL || was == NULL || strcmp(joined, was) != 0) {
        struct pgw_kresult res = {0};
        (*writes)++;
        if (pgw_kclient_patch(r->client, pgw_resource_find("PostgresCluster"), pgw_obj_meta_str(cluster, "namespace"),
                              pgw_obj_meta_str(cluster, "name"), NULL, PGW_PATCH_MERGE, patch, &res) != PGW_K_OK)
            pgw_log(PGW_LOG_WARN, "cannot remove the rotate-password annotation", pgw_json_pack("{s:s?}", "error", res.message));
        pgw_kresult_dispose(&res);
    }
    json_decref(patch);
    free(joined);
    json_decref(left);
}

void pgw_reconcile_roles(struct pgw_reconciler *r, const json_t *cluster, const json_t *defaulted, const json_t *pods,
                         json_t *status, const char *now, struct pgw_reconcile_outcome *out)
{
    const json_t *spec = json_object_get(defaulted, "spec"), *old = json_object_get(cluster, "status");
    json_t *rotations = rotation_request(cluster);
    if (json_array_size(rotations) > 0) {
        /* Read again from the API: a store a step behind still shows a request this controller just
         * carried out and removed, and would rotate the password a second time. */
        int failed = 0;
        json_t *fresh = pgw_reconcile_fetch(r, NULL, "PostgresCluster", pgw_obj_meta_str(cluster, "namespace"),
                                            pgw_obj_meta_str(cluster, "name"), &failed);
        json_decref(rotations);
        rotations = fresh != NULL ? rotation_request(fresh) : json_array();
        json_decref(fresh);
    }
    long long generation = json_integer_value(json_object_get(pgw_obj_meta(cluster), "generation"));
    if (json_array_size(json_object_get(spec, "roles")) == 0 && json_array_size(json_object_get(spec, "databases")) == 0 &&
        json_array_size(rotations) == 0 && json_array_size(json_object_get(old, "roles")) == 0 &&
        json_array_size(json_object_get(old, "databases")) == 0) {
        json_decref(rotations);
        return; /* nothing declared, nothing to remember: no connection */
    }
    const char *phase = json_string_value(json_object_get(status, "phase"));
    const char *ip = primary_ip(pods, status);
    if (ip == NULL || phase == NULL || (strcmp(phase, "Running") != 0 && strcmp(phase, "Degraded") != 0)) {
        keep_status(cluster, status, "NotRunning", "waiting for a ready primary", now);
        json_decref(rotations);
        return;
    }
    json_t *passwords = read_passwords(r, cluster, defaulted, rotations, &out->writes);
    char *err = NULL, *superpw = superuser_password(r, cluster, &err), *ca = NULL;
    struct conns conns = {.n = 0};
    json_t *observed = NULL;
    if (superpw != NULL) {
        ca = server_ca(r, defaulted);
        conns.opts = (pgw_pg_conn_opts){.host = ip,
                                        .port = PGW_POD_PORT_POSTGRES,
                                        .user = "postgres",
                                        .password = superpw,
                                        .application_name = "pgwarden",
                                        .require_tls = 1,
                                        .ca_pem = ca,
                                        .timeout_ms = QUERY_TIMEOUT_MS};
        observed = read_catalog(&conns, spec, &err);
    }
    if (observed == NULL) {
        char *msg = pgw_asprintf("cannot read the catalog on the primary %s: %s", ip, err != NULL ? err : "failed");
        const json_t *was = pgw_cluster_status_condition(old, PGW_CONDITION_ROLES_READY);
        const char *was_msg = json_string_value(json_object_get(was, "message"));
        if (was_msg == NULL || strcmp(was_msg, msg) != 0)
            pgw_reconcile_event(r, cluster, "Warning", "RoleReconcileFailed", msg, &out->writes);
        keep_status(cluster, status, "NotReachable", msg, now);
        pgw_reconcile_requeue(out, RETRY_SECONDS);
        free(msg);
        goto done;
    }

    struct pgw_roles_input in = {.cluster = defaulted, .observed = observed, .passwords = passwords, .verifier = verifier};
    json_t *view = json_deep_copy(defaulted); /* the plan reads the last status from the cluster it is given */
    json_object_set(view, "status", old != NULL ? (json_t *)old : json_object());
    in.cluster = view;
    struct pgw_roles_plan plan;
    pgw_roles_plan(&in, &plan);
    for (size_t i = 0; i < plan.nsteps; ++i) {
        const struct pgw_roles_step *s = &plan.steps[i];
        char *serr = NULL;
        pgw_pg_conn *pg = conn_for(&conns, s->database, &serr);
        if (pg != NULL && pgw_pg_query(pg, s->sql, NULL, &serr) == 0) {
            if (s->reason == NULL)
                continue;
            pgw_reconcile_event(r, cluster, "Normal", s->reason, s->message, &out->writes);
            pgw_log(PGW_LOG_INFO, "role reconcile step",
                    pgw_json_pack("{s:s,s:s,s:s}", "namespace", pgw_obj_meta_str(cluster, "namespace"), "cluster",
                                  pgw_obj_meta_str(cluster, "name"), "done", s->message));
        } else {
            pgw_roles_plan_fail(&plan, s, serr != NULL ? serr : "failed");
        }
        free(serr);
    }
    pgw_roles_status_times(plan.roles, json_object_get(old, "roles"), now);
    pgw_roles_status_times(plan.databases, json_object_get(old, "databases"), now);
    int failed = 0, pending = 0;
    failure_events(r, cluster, plan.roles, json_object_get(old, "roles"), "role", &out->writes, &failed);
    failure_events(r, cluster, plan.databases, json_object_get(old, "databases"), "database", &out->writes, &failed);
    size_t i;
    json_t *e;
    json_array_foreach(plan.roles, i, e)
    {
        const char *state = json_string_value(json_object_get(e, "state"));
        if (state != NULL && strcmp(state, PGW_ROLES_PENDING) == 0)
            pending++;
    }
    json_object_set(status, "roles", plan.roles);
    json_object_set(status, "databases", plan.databases);
    char msg[160];
    if (failed > 0) {
        snprintf(msg, sizeof(msg), "%d object(s) failed: see status.roles and status.databases", failed);
        pgw_cluster_status_set_condition(status, old, PGW_CONDITION_ROLES_READY, "False", "Failed", msg, generation, now);
        pgw_reconcile_requeue(out, RETRY_SECONDS);
    } else if (pending > 0) {
        snprintf(msg, sizeof(msg), "%d role(s) wait for their password Secret", pending);
        pgw_cluster_status_set_condition(status, old, PGW_CONDITION_ROLES_READY, "False", "Pending", msg, generation, now);
        pgw_reconcile_requeue(out, RETRY_SECONDS);
    } else {
        pgw_cluster_status_set_condition(status, old, PGW_CONDITION_ROLES_READY, "True", "Applied",
                                         "every declared role, database and extension is in place", generation, now);
    }
    remember_applied(r, cluster, plan.roles);
    finish_rotations(r, cluster, rotations, passwords, plan.roles, &out->writes);
    pgw_roles_plan_dispose(&plan);
    json_decref(view);
done:
    conns_close(&conns);
    json_decref(observed);
    json_decref(passwords);
    json_decref(rotations);
    free(err);
    free(ca);
    if (superpw != NULL) {
        memset(superpw, 0, strlen(superpw));
        free(superpw);
    }
}
