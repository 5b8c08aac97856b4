/*
 * Unit tests for controller/decide/roles: the statements planned from the
 * spec, the catalog and the password Secrets (rules in roles.h), their order,
 * that a password travels only as a verifier, and the status they yield.
 */
#include "helpers.h"

#include "common/object.h"
#include "controller/decide/roles.h"

#define VERIFIER "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"

static int verifier_calls;

static char *fake_verifier(const char *password, void *arg)
{
    (void)arg;
    ck_assert_ptr_nonnull(password);
    verifier_calls++;
    return pgw_strdup(VERIFIER);
}

/* A pg_roles row as the reconcile reads it. */
#define ROW(super, inherit, createrole, createdb, login, limit, until)                                                             \
    "{'rolsuper':'" super "','rolinherit':'" inherit "','rolcreaterole':'" createrole "','rolcreatedb':'" createdb                 \
    "','rolcanlogin':'" login "','rolreplication':'f','rolbypassrls':'f','rolconnlimit':'" limit "','rolvaliduntil':" until "}"
#define PLAIN_ROW ROW("f", "t", "f", "f", "t", "-1", "null")

/* 2027-06-30T00:00:00Z */
#define UNTIL_EPOCH "'1814313600'"

static const char *cluster_json = "{'spec':{'bootstrap':{'initdb':{'owner':'app','database':'app'}},"
                                  "'roles':[{'name':'analyst','ensure':'present','login':true,'"
                                  "connectionLimit':5,'validUntil':'2027-06-30T00:00:00Z',"
                                  "'inRoles':['pg_read_all_data']},"
                                  "{'name':'writer','ensure':'present','login':true,'createdb':true}],"
                                  "'databases':[{'name':'reports','ensure':'present','owner':'analyst','"
                                  "encoding':'UTF8','template':'template1',"
                                  "'extensions':[{'name':'pg_trgm','version':'1.6','ensure':'present'},{'"
                                  "name':'hstore','ensure':'present'}]}]},"
                                  "'status':{}}";

static const char *passwords_json = "{'analyst':{'secret':'c-analyst','version':'100','password':'s3cret-"
                                    "analyst'},"
                                    "'writer':{'secret':'mine','version':'200','password':'s3cret-writer'}}";

struct run {
    json_t *cluster, *observed, *passwords;
    struct pgw_roles_plan plan;
};

static void plan(struct run *r, const char *cluster, const char *observed, const char *passwords)
{
    r->cluster = q(cluster);
    r->observed = q(observed);
    r->passwords = q(passwords);
    verifier_calls = 0;
    struct pgw_roles_input in = {
        .cluster = r->cluster, .observed = r->observed, .passwords = r->passwords, .verifier = fake_verifier};
    pgw_roles_plan(&in, &r->plan);
    for (size_t i = 0; i < r->plan.nsteps; ++i) {
        ck_assert_msg(strstr(r->plan.steps[i].sql, "s3cret") == NULL, "plaintext password in %s", r->plan.steps[i].sql);
        const char *msg = r->plan.steps[i].message != NULL ? r->plan.steps[i].message : "";
        ck_assert_msg(strstr(msg, "s3cret") == NULL, "plaintext password in %s", msg);
    }
}

static void done(struct run *r)
{
    pgw_roles_plan_dispose(&r->plan);
    json_decref(r->cluster);
    json_decref(r->observed);
    json_decref(r->passwords);
}

/* In a list of expected statements: PgBouncer's auth_query function, run in the database just created. */
#define AUTH_FUNCTION "CREATE SCHEMA IF NOT EXISTS pgwarden;"

static void expect_sql(const struct run *r, const char *const *want, size_t n)
{
    for (size_t i = 0; i < r->plan.nsteps && i < n; ++i)
        ck_assert_msg(strcmp(want[i], AUTH_FUNCTION) == 0
                          ? strncmp(r->plan.steps[i].sql, want[i], strlen(want[i])) == 0 && r->plan.steps[i].reason == NULL &&
                                strstr(r->plan.steps[i].sql, "CREATE OR REPLACE FUNCTION pgwarden.get_auth") != NULL
                          : strcmp(r->plan.steps[i].sql, want[i]) == 0,
                      "step %zu: got\n  %s\nwant\n  %s", i, r->plan.steps[i].sql, want[i]);
    ck_assert_msg(r->plan.nsteps == n, "%zu steps, want %zu (first extra: %s)", r->plan.nsteps, n,
                  r->plan.nsteps > n ? r->plan.steps[n].sql : "-");
}

static const char *entry_str(const json_t *entries, const char *name, const char *key)
{
    return json_string_value(json_object_get(pgw_obj_find_named(entries, name), key));
}

START_TEST(fresh_cluster_creates_everything_in_order)
{
    struct run r;
    plan(&r, cluster_json, "{'roles':{},'members':{},'databases':{},'extensions':{}}", passwords_json);
    const char *want[] = {
        ("CREATE ROLE \"analyst\" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS "
         "CONNECTION LIMIT 5 VALID UNTIL '2027-06-30T00:00:00Z' PASSWORD '" VERIFIER "'"),
        ("CREATE ROLE \"writer\" WITH NOSUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS "
         "CONNECTION LIMIT -1 PASSWORD '" VERIFIER "'"),
        "GRANT \"pg_read_all_data\" TO \"analyst\"",
        "CREATE DATABASE \"reports\" OWNER \"analyst\" TEMPLATE \"template1\" ENCODING 'UTF8'",
        AUTH_FUNCTION,
        "CREATE EXTENSION IF NOT EXISTS \"pg_trgm\" VERSION '1.6'",
        "CREATE EXTENSION IF NOT EXISTS \"hstore\"",
    };
    expect_sql(&r, want, sizeof(want) / sizeof(want[0]));
    ck_assert_int_eq(verifier_calls, 2);
    ck_assert_str_eq(r.plan.steps[0].reason, "RoleCreated");
    ck_assert_int_eq(r.plan.steps[0].password, 1);
    ck_assert_str_eq(r.plan.steps[3].reason, "DatabaseCreated");
    ck_assert_str_eq(r.plan.steps[3].database, "postgres");
    ck_assert_str_eq(r.plan.steps[4].database, "reports");
    ck_assert_str_eq(r.plan.steps[5].reason, "ExtensionCreated");
    ck_assert_str_eq(r.plan.steps[5].database, "reports");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "state"), "Present");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "passwordSecret"), "c-analyst");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "passwordVersion"), "100");
    ck_assert_str_eq(entry_str(r.plan.roles, "writer", "passwordVersion"), "200");
    json_t *want_db = q("{'name':'reports','state':'Present','message':'','owner':'analyst',"
                        "'extensions':[{'name':'pg_trgm','state':'Present','version':'1.6'},{'"
                        "name':'hstore','state':'Present'}]}");
    ck_assert(json_equal(want_db, pgw_obj_find_named(r.plan.databases, "reports")));
    json_decref(want_db);
    done(&r);
}
END_TEST

/* The catalog as the fresh plan leaves it, with the passwords applied. */
#define IN_SYNC_OBSERVED                                                                                                           \
    "{'roles':{'analyst':" ROW("f", "t", "f", "f", "t", "5", UNTIL_EPOCH) ",'writer':" ROW(                                        \
        "f", "t", "f", "t", "t", "-1", "null") "},"                                                                                \
                                               "'members':{'analyst':['pg_read_"                                                   \
                                               "all_data']},"                                                                      \
                                               "'databases':{'reports':{'owner':"                                                  \
                                               "'analyst','encoding':'UTF8','"                                                     \
                                               "collate':'C.UTF-8'}},"                                                             \
                                               "'extensions':{'reports':{'pg_"                                                     \
                                               "trgm':'1.6','hstore':'1.8'}}}"
#define APPLIED_STATUS                                                                                                             \
    "'status':{'roles':[{'name':'analyst','state':'Present','passwordVersion':'"                                                   \
    "100','lastTransitionTime':'T0'},"                                                                                             \
    "{'name':'writer','state':'Present','passwordVersion':'200'}]}}"

static char *with_status(const char *status)
{
    char *base = pgw_strdup(cluster_json);
    char *at = strstr(base, "'status':{}}");
    *at = '\0';
    char *out = pgw_asprintf("%s%s", base, status);
    free(base);
    return out;
}

START_TEST(in_sync_plans_nothing)
{
    char *cluster = with_status(APPLIED_STATUS);
    struct run r;
    plan(&r, cluster, IN_SYNC_OBSERVED, passwords_json);
    expect_sql(&r, NULL, 0);
    ck_assert_int_eq(verifier_calls, 0); /* no salt drawn when nothing is set */
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "passwordVersion"), "100");
    ck_assert_str_eq(entry_str(r.plan.databases, "reports", "message"), "");
    json_t *ext = json_array_get(json_object_get(pgw_obj_find_named(r.plan.databases, "reports"), "extensions"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(ext, "version")), "1.8"); /* as installed when unpinned */
    done(&r);
    free(cluster);
}
END_TEST

START_TEST(drift_is_one_alter_naming_what_changed)
{
    char *cluster = with_status(APPLIED_STATUS);
    struct run r;
    /* by hand: analyst CONNECTION LIMIT 3 and CREATEDB, no expiry; writer
     * NOCREATEDB and SUPERUSER */
    plan(&r, cluster,
         "{'roles':{'analyst':" ROW("f", "t", "f", "t", "t", "3", "null") ",'writer':" ROW(
             "t", "t", "f", "f", "t", "-1", "null") "},"
                                                    "'members':{'analyst':['pg_read_"
                                                    "all_data']},'databases':{'reports'"
                                                    ":{'owner':'analyst','encoding':'"
                                                    "UTF8'}},"
                                                    "'extensions':{'reports':{'pg_trgm'"
                                                    ":'1.6','hstore':'1.8'}}}",
         passwords_json);
    const char *want[] = {
        "ALTER ROLE \"analyst\" WITH NOCREATEDB CONNECTION LIMIT 5 VALID UNTIL "
        "'2027-06-30T00:00:00Z'",
        "ALTER ROLE \"writer\" WITH NOSUPERUSER CREATEDB",
    };
    expect_sql(&r, want, 2);
    ck_assert_str_eq(r.plan.steps[0].reason, "RoleAltered");
    ck_assert_str_eq(r.plan.steps[0].message, "altered role analyst: NOCREATEDB CONNECTION LIMIT 5 VALID "
                                              "UNTIL '2027-06-30T00:00:00Z'");
    done(&r);
    free(cluster);
}
END_TEST

START_TEST(expiry_removed_is_infinity)
{
    struct run r;
    plan(&r,
         "{'spec':{'roles':[{'name':'a','login':true}]},'status':{'roles':[{'"
         "name':'a','state':'Present'}]}}",
         "{'roles':{'a':" ROW("f", "t", "f", "f", "t", "-1", UNTIL_EPOCH) "}}", "{}");
    const char *want[] = {"ALTER ROLE \"a\" WITH VALID UNTIL 'infinity'"};
    expect_sql(&r, want, 1);
    ck_assert_ptr_null(json_object_get(pgw_obj_find_named(r.plan.roles, "a"), "passwordSecret"));
    done(&r);
}
END_TEST

START_TEST(changed_secret_sets_the_password)
{
    char *cluster = with_status(APPLIED_STATUS);
    struct run r;
    plan(&r, cluster, IN_SYNC_OBSERVED,
         "{'analyst':{'secret':'c-analyst','version':'101','password':'s3cret-new'"
         "},"
         "'writer':{'secret':'mine','version':'200','password':'s3cret-writer'}}");
    const char *want[] = {"ALTER ROLE \"analyst\" WITH PASSWORD '" VERIFIER "'"};
    expect_sql(&r, want, 1);
    ck_assert_str_eq(r.plan.steps[0].reason, "PasswordRotated");
    ck_assert_str_eq(r.plan.steps[0].message, "set the password of role analyst from Secret c-analyst "
                                              "(resourceVersion 101)");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "passwordVersion"), "101");
    /* failed: Failed, with the version applied before, so the next reconcile
     * tries again */
    pgw_roles_plan_fail(&r.plan, &r.plan.steps[0], "ERROR 42501: permission denied");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "passwordVersion"), "100");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "state"), "Failed");
    ck_assert_str_eq(entry_str(r.plan.roles, "analyst", "message"), "ERROR 42501: permission denied");
    ck_assert_str_eq(entry_str(r.plan.roles, "writer", "state"), "Present");
    done(&r);
    free(cluster);
}
END_TEST

START_TEST(memberships_match_in_roles_exactly)
{
    char *cluster = with_status(APPLIED_STATUS);
    struct run r;
    plan(&r, cluster,
         "{'roles':{'analyst':" ROW("f", "t", "f", "f", "t", "5", UNTIL_EPOCH) ",'writer':" ROW(
             "f", "t", "f", "t", "t", "-1", "null") "},"
                                                    "'members':{'analyst':['pg_"
                                                    "monitor'],'writer':['analyst'"
                                                    "]},"
                                                    "'databases':{'reports':{'"
                                                    "owner':'analyst','encoding':'"
                                                    "UTF8'}},'extensions':{'"
                                                    "reports':{'pg_trgm':'1.6','"
                                                    "hstore':'1.8'}}}",
         passwords_json);
    const char *want[] = {
        "GRANT \"pg_read_all_data\" TO \"analyst\"",
        "REVOKE \"pg_monitor\" FROM \"analyst\"",
        "REVOKE \"analyst\" FROM \"writer\"",
    };
    expect_sql(&r, want, 3);
    ck_assert_str_eq(r.plan.steps[1].message, "revoked pg_monitor from role analyst (not in inRoles)");
    done(&r);
    free(cluster);
}
END_TEST

START_TEST(absent_drops_databases_before_roles)
{
    struct run r;
    plan(&r,
         "{'spec':{'roles':[{'name':'old','ensure':'absent'},{'name':'gone','"
         "ensure':'absent'}],"
         "'databases':[{'name':'olddb','ensure':'absent'},{'name':'keep','owner':"
         "'app',"
         "'extensions':[{'name':'hstore','ensure':'absent'},{'name':'pg_trgm','"
         "ensure':'absent'}]}]}}",
         "{'roles':{'old':" PLAIN_ROW "},'databases':{'olddb':{'owner':'old'},'keep':{'owner':'app'}},"
         "'extensions':{'keep':{'hstore':'1.8'}}}",
         "{}");
    const char *want[] = {
        "DROP EXTENSION IF EXISTS \"hstore\"",
        "DROP DATABASE \"olddb\"",
        "DROP ROLE \"old\"",
    };
    expect_sql(&r, want, 3);
    ck_assert_str_eq(r.plan.steps[0].database, "keep");
    ck_assert_str_eq(r.plan.steps[0].reason, "ExtensionDropped");
    ck_assert_str_eq(r.plan.steps[1].reason, "DatabaseDropped");
    ck_assert_str_eq(r.plan.steps[2].reason, "RoleDropped");
    ck_assert_str_eq(entry_str(r.plan.roles, "old", "state"), "Absent");
    ck_assert_str_eq(entry_str(r.plan.roles, "gone", "state"), "Absent");
    ck_assert_str_eq(entry_str(r.plan.databases, "olddb", "state"), "Absent");
    json_t *want_ext = q("[{'name':'hstore','state':'Absent'},{'name':'pg_trgm','"
                         "state':'Absent'}]");
    ck_assert(json_equal(want_ext, json_object_get(pgw_obj_find_named(r.plan.databases, "keep"), "extensions")));
    json_decref(want_ext);
    /* a drop that fails ("role owns objects") is reported, not forced */
    pgw_roles_plan_fail(&r.plan, &r.plan.steps[2],
                        "ERROR 2BP01: role \"old\" cannot be dropped because "
                        "some objects depend on it");
    ck_assert_str_eq(entry_str(r.plan.roles, "old", "state"), "Failed");
    done(&r);
}
END_TEST

START_TEST(removed_items_are_never_touched)
{
    struct run r;
    plan(&r,
         "{'spec':{'roles':[],'databases':[]},'status':{'roles':[{'name':'was','"
         "state':'Present'}]}}",
         "{'roles':{'was':" ROW("t", "t", "t", "t", "t", "3", "null") "},'members':{'was':['pg_monitor']},"
                                                                      "'databases':{'wasdb':{'owner':'was'}}}",
         "{}");
    expect_sql(&r, NULL, 0);
    ck_assert_int_eq(json_array_size(r.plan.roles), 0);
    ck_assert_int_eq(json_array_size(r.plan.databases), 0);
    done(&r);
}
END_TEST

START_TEST(database_owner_and_extension_version_drift)
{
    struct run r;
    plan(&r,
         "{'spec':{'bootstrap':{'initdb':{'owner':'app'}},'databases':[{'name':'"
         "reports','encoding':'UTF8','locale':'C',"
         "'extensions':[{'name':'pg_trgm','version':'1.6'}]}]}}",
         "{'databases':{'reports':{'owner':'postgres','encoding':'LATIN1','"
         "collate':'C.UTF-8'}},"
         "'extensions':{'reports':{'pg_trgm':'1.5'}}}",
         "{}");
    const char *want[] = {
        "ALTER DATABASE \"reports\" OWNER TO \"app\"", /* the owner defaults to
                                                          the bootstrap owner */
        "ALTER EXTENSION \"pg_trgm\" UPDATE TO '1.6'",
    };
    expect_sql(&r, want, 2);
    ck_assert_str_eq(r.plan.steps[1].reason, "ExtensionUpdated");
    ck_assert_str_eq(r.plan.steps[1].message, "updated extension pg_trgm in database reports from 1.5 to 1.6");
    ck_assert_str_eq(entry_str(r.plan.databases, "reports", "message"),
                     "encoding is LATIN1, not UTF8 (fixed at creation: not changed); "
                     "locale is C.UTF-8, not C (fixed at creation: not changed)");
    /* an extension that fails marks it and its database */
    pgw_roles_plan_fail(&r.plan, &r.plan.steps[1], "ERROR 22023: no update path");
    json_t *db = (json_t *)pgw_obj_find_named(r.plan.databases, "reports");
    ck_assert_str_eq(json_string_value(json_object_get(db, "state")), "Failed");
    ck_assert_str_eq(json_string_value(json_object_get(db, "message")), "extension pg_trgm: ERROR 22023: no update path");
    json_t *want_ext = q("[{'name':'pg_trgm','state':'Failed'}]");
    ck_assert(json_equal(want_ext, json_object_get(db, "extensions")));
    json_decref(want_ext);
    done(&r);
}
END_TEST

START_TEST(unreadable_password_is_pending)
{
    struct run r;
    plan(&r, "{'spec':{'roles':[{'name':'a','login':true}]}}", "{'roles':{}}",
         "{'a':{'secret':'a-password','error':'Secret a-password has no key "
         "password'}}");
    const char *want[] = {
        "CREATE ROLE \"a\" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB "
        "LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1",
    };
    expect_sql(&r, want, 1);
    ck_assert_int_eq(r.plan.steps[0].password, 0);
    ck_assert_str_eq(entry_str(r.plan.roles, "a", "state"), "Pending");
    ck_assert_str_eq(entry_str(r.plan.roles, "a", "message"), "Secret a-password has no key password");
    ck_assert_ptr_null(entry_str(r.plan.roles, "a", "passwordVersion"));
    done(&r);
}
END_TEST

START_TEST(bootstrap_owner_password_is_tracked)
{
    struct run r;
    /* rotation asked: the -app Secret was rewritten (7 → 8); the reconcile says 7
     * was applied */
    plan(&r, "{'spec':{'bootstrap':{'initdb':{'owner':'app'}}}}", "{'roles':{'app':" PLAIN_ROW "}}",
         "{'app':{'secret':'c-app','version':'8','password':'s3cret-app','"
         "applied':'7'}}");
    const char *want[] = {"ALTER ROLE \"app\" WITH PASSWORD '" VERIFIER "'"};
    expect_sql(&r, want, 1);
    json_t *want_entry = q("{'name':'app','state':'Present','message':'','"
                           "passwordSecret':'c-app','passwordVersion':'8'}");
    ck_assert(json_equal(want_entry, pgw_obj_find_named(r.plan.roles, "app")));
    json_decref(want_entry);
    done(&r);
    /* applied: no statement, never created nor altered */
    plan(&r,
         "{'spec':{'bootstrap':{'initdb':{'owner':'app'}}},'status':{'roles':[{'"
         "name':'app','passwordVersion':'8'}]}}",
         "{'roles':{'app':" ROW("t", "t", "t", "t", "t", "-1", "null") "}}",
         "{'app':{'secret':'c-app','version':'8','password':'s3cret-app'}}");
    expect_sql(&r, NULL, 0);
    done(&r);
}
END_TEST

START_TEST(names_and_literals_are_quoted)
{
    struct run r;
    plan(&r,
         "{'spec':{'databases':[{'name':'we\\\"ird','owner':'o','locale':'it`s'}]"
         "}}",
         "{}", "{}");
    ck_assert_int_eq(r.plan.nsteps, 2);
    ck_assert_str_eq(r.plan.steps[0].sql, "CREATE DATABASE \"we\"\"ird\" OWNER \"o\" LOCALE 'it`s'");
    ck_assert_str_eq(r.plan.steps[1].database, "we\"ird"); /* a name, not SQL: the connection's dbname */
    done(&r);
}
END_TEST

START_TEST(transition_times)
{
    json_t *now = q("[{'name':'a','state':'Present'},{'name':'b','state':'Failed'"
                    "},{'name':'c','state':'Present'}]");
    json_t *old = q("[{'name':'a','state':'Present','lastTransitionTime':'T0'},"
                    "{'name':'b','state':'Present','lastTransitionTime':'T0'}]");
    pgw_roles_status_times(now, old, "T1");
    json_t *want = q("[{'name':'a','state':'Present','lastTransitionTime':'T0'},{"
                     "'name':'b','state':'Failed','lastTransitionTime':'T1'},"
                     "{'name':'c','state':'Present','lastTransitionTime':'T1'}]");
    ck_assert(json_equal(want, now));
    json_decref(now);
    json_decref(old);
    json_decref(want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("roles_plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, fresh_cluster_creates_everything_in_order);
    tcase_add_test(tc, in_sync_plans_nothing);
    tcase_add_test(tc, drift_is_one_alter_naming_what_changed);
    tcase_add_test(tc, expiry_removed_is_infinity);
    tcase_add_test(tc, changed_secret_sets_the_password);
    tcase_add_test(tc, memberships_match_in_roles_exactly);
    tcase_add_test(tc, absent_drops_databases_before_roles);
    tcase_add_test(tc, removed_items_are_never_touched);
    tcase_add_test(tc, database_owner_and_extension_version_drift);
    tcase_add_test(tc, unreadable_password_is_pending);
    tcase_add_test(tc, bootstrap_owner_password_is_tracked);
    tcase_add_test(tc, names_and_literals_are_quoted);
    tcase_add_test(tc, transition_times);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
