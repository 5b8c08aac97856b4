/*
 * spec.roles[], spec.databases[] (with extensions[]), spec.allowSuperuserRoles
 * and the pgwarden.io/rotate-password annotation (validators/cluster_roles.c,
 * docs/roles.md): each rule with an object it denies and one it admits, as the
 * webhook runs them (the object's validator, then the request's). Expected
 * paths and messages are written out here, not taken from the code under test;
 * the extension versions are those of the generated PostgreSQL 15 and 17 tables.
 */
#include "helpers.h"

#include "mutators/mutators.h"
#include "validators/guard.h"
#include "validators/validators.h"

/* A cluster "demo" in "shop" with the default bootstrap (owner app, database app, UTF8, locale C). */
static const char base_json[] =
    "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':'shop'},"
    "'spec':{'postgresVersion':15,'instances':3,'storage':{'size':'1Gi'},'resources':{'limits':{'memory':'1Gi'}}}}";

static json_t *defaulted(const char *patch, const char *operation)
{
    return defaulted_cluster(base_json, patch, operation, 0);
}

static void admit(const json_t *obj, const json_t *old, struct pgw_errors *errs)
{
    struct pgw_request_ctx ctx = {.operation = old ? "UPDATE" : "CREATE", .namespace = "shop", .name = "demo"};
    pgw_errors_init(errs);
    pgw_validate_postgrescluster(obj, old, &ctx, errs);
    pgw_validate_postgrescluster_request(obj, old, &ctx, errs);
}

#define ROLES(r) "{'spec':{'roles':[" r "]}}"
#define DBS(d) "{'spec':{'databases':[" d "]}}"
#define ROLES_DBS(r, d) "{'spec':{'roles':[" r "],'databases':[" d "]}}"
#define ROTATE(v) "'metadata':{'annotations':{'pgwarden.io/rotate-password':'" v "'}}"
#define RP_PATH "metadata.annotations[pgwarden.io/rotate-password]"
#define UPDATE "" /* old: the base */
#define CREATE NULL

static const struct {
    const char *patch;
    const char *old;  /* patch of the stored object (defaulted); NULL: a CREATE */
    const char *path; /* NULL: admitted with no error */
    pgw_error_type_t type;
    const char *detail;
} rows[] = {
    /* a full, valid declaration */
    {ROLES_DBS("{'name':'analyst','login':true,'createdb':false,'createrole':false,'replication':false,'bypassrls':false,"
               "'inherit':true,'connectionLimit':10,'validUntil':'2027-06-30T00:00:00Z','inRoles':['pg_read_all_data','app']},"
               "{'name':'reporter','passwordSecret':{'name':'reporter-pw','key':'pw'},'inRoles':['analyst']}",
               "{'name':'reports','owner':'analyst','encoding':'UTF8','template':'template1',"
               "'extensions':[{'name':'pg_trgm','version':'1.6'},{'name':'uuid-ossp'},{'name':'hstore','ensure':'absent'}]}"),
     CREATE, NULL, 0, NULL},
    /* lists and items */
    {"{'spec':{'roles':{'name':'x'}}}", CREATE, "spec.roles", PGW_ERR_INVALID, "must be of type array"},
    {"{'spec':{'databases':'x'}}", CREATE, "spec.databases", PGW_ERR_INVALID, "must be of type array"},
    {ROLES("'analyst'"), CREATE, "spec.roles[0]", PGW_ERR_INVALID, "must be of type object"},
    {"{'spec':{'allowSuperuserRoles':'yes'}}", CREATE, "spec.allowSuperuserRoles", PGW_ERR_INVALID, "must be of type boolean"},
    /* role name: required, an identifier, unique */
    {ROLES("{'login':true}"), CREATE, "spec.roles[0].name", PGW_ERR_REQUIRED, NULL},
    {ROLES("{'name':'Analyst'}"), CREATE, "spec.roles[0].name", PGW_ERR_INVALID, "must be a lowercase SQL identifier"},
    {ROLES("{'name':'9lives'}"), CREATE, "spec.roles[0].name", PGW_ERR_INVALID, "not starting with a digit"},
    {ROLES("{'name':'a-b'}"), CREATE, "spec.roles[0].name", PGW_ERR_INVALID, "must be a lowercase SQL identifier"},
    {ROLES("{'name':'a234567890123456789012345678901234567890123456789012345678901234'}"), CREATE, "spec.roles[0].name",
     PGW_ERR_TOO_LONG, "may not be more than 63 bytes"},
    {ROLES("{'name':'a23456789012345678901234567890123456789012345678901234567890123'}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'_etl'}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'analyst'},{'name':'analyst','ensure':'absent'}"), CREATE, "spec.roles[1].name", PGW_ERR_DUPLICATE,
     "each name may appear once"},
    /* reserved names, with who owns them */
    {ROLES("{'name':'postgres'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN,
     "postgres is PostgreSQL's superuser, run by pgwarden (its password is in Secret demo-superuser)"},
    {ROLES("{'name':'replicator'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN, "replicator is pgwarden's replication role"},
    {ROLES("{'name':'pgwarden_pgbouncer'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN,
     "pgwarden_pgbouncer is pgwarden's pooler role"},
    {ROLES("{'name':'pgwarden_exporter'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN,
     "pgwarden_exporter is pgwarden's metrics role"},
    {ROLES("{'name':'pgwarden_next'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN, "reserved for pgwarden's own roles"},
    {ROLES("{'name':'pg_reader'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN, "reserved for PostgreSQL's predefined roles"},
    {ROLES("{'name':'app'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN,
     "app is the bootstrap owner; its password is in Secret demo-app"},
    {"{'spec':{'bootstrap':{'initdb':{'owner':'shop'}},'roles':[{'name':'shop'}]}}", CREATE, "spec.roles[0].name",
     PGW_ERR_FORBIDDEN, "shop is the bootstrap owner; its password is in Secret demo-app"},
    /* ... an absent one too (pgwarden must not drop its own roles) */
    {ROLES("{'name':'postgres','ensure':'absent'}"), CREATE, "spec.roles[0].name", PGW_ERR_FORBIDDEN, "PostgreSQL's superuser"},
    /* ensure */
    {ROLES("{'name':'analyst','ensure':'present'}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'analyst','ensure':'gone'}"), CREATE, "spec.roles[0].ensure", PGW_ERR_NOT_SUPPORTED,
     "supported values: \"present\", \"absent\""},
    /* an absent item needs only its name: nothing else is judged */
    {ROLES("{'name':'analyst','ensure':'absent','connectionLimit':-5}"), CREATE, NULL, 0, NULL},
    /* flags are booleans */
    {ROLES("{'name':'analyst','createdb':'yes'}"), CREATE, "spec.roles[0].createdb", PGW_ERR_INVALID, "must be of type boolean"},
    {ROLES("{'name':'analyst','inherit':1}"), CREATE, "spec.roles[0].inherit", PGW_ERR_INVALID, "must be of type boolean"},
    /* superuser only with spec.allowSuperuserRoles */
    {ROLES("{'name':'dba','superuser':true}"), CREATE, "spec.roles[0].superuser", PGW_ERR_FORBIDDEN,
     "set spec.allowSuperuserRoles: true to allow it"},
    {"{'spec':{'allowSuperuserRoles':false,'roles':[{'name':'dba','superuser':true}]}}", CREATE, "spec.roles[0].superuser",
     PGW_ERR_FORBIDDEN, "spec.allowSuperuserRoles"},
    {"{'spec':{'allowSuperuserRoles':true,'roles':[{'name':'dba','superuser':true}]}}", CREATE, NULL, 0, NULL},
    {ROLES("{'name':'dba','superuser':false}"), CREATE, NULL, 0, NULL},
    /* connectionLimit: -1 or 0..10000 */
    {ROLES("{'name':'analyst','connectionLimit':-1}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'analyst','connectionLimit':0}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'analyst','connectionLimit':10000}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'analyst','connectionLimit':10001}"), CREATE, "spec.roles[0].connectionLimit", PGW_ERR_INVALID,
     "must be -1 (no limit) or between 0 and 10000"},
    {ROLES("{'name':'analyst','connectionLimit':-2}"), CREATE, "spec.roles[0].connectionLimit", PGW_ERR_INVALID, "-1 (no limit)"},
    {ROLES("{'name':'analyst','connectionLimit':'5'}"), CREATE, "spec.roles[0].connectionLimit", PGW_ERR_INVALID,
     "must be of type integer"},
    /* validUntil: RFC 3339, UTC */
    {ROLES("{'name':'analyst','validUntil':'2027-06-30T12:30:00.5Z'}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'analyst','validUntil':'2027-06-30'}"), CREATE, "spec.roles[0].validUntil", PGW_ERR_INVALID,
     "must be an RFC 3339 time such as 2027-06-30T00:00:00Z"},
    {ROLES("{'name':'analyst','validUntil':'2027-06-30T00:00:00+02:00'}"), CREATE, "spec.roles[0].validUntil", PGW_ERR_INVALID,
     "must be in UTC, ending in Z"},
    {ROLES("{'name':'analyst','validUntil':20270630}"), CREATE, "spec.roles[0].validUntil", PGW_ERR_INVALID,
     "must be of type string"},
    /* inRoles: declared present roles, predefined roles of this major, the bootstrap owner; not itself */
    {ROLES("{'name':'a','inRoles':['b','pg_monitor','pg_checkpoint','app']},{'name':'b'}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'a','inRoles':['nobody']}"), CREATE, "spec.roles[0].inRoles[0]", PGW_ERR_INVALID,
     "must be a role of spec.roles (ensure: present) or the bootstrap owner app"},
    {ROLES("{'name':'a','inRoles':['b']},{'name':'b','ensure':'absent'}"), CREATE, "spec.roles[0].inRoles[0]", PGW_ERR_INVALID,
     "b is declared with ensure: absent, so it cannot be granted"},
    {ROLES("{'name':'a','inRoles':['a']}"), CREATE, "spec.roles[0].inRoles[0]", PGW_ERR_INVALID,
     "a role cannot be a member of itself"},
    {ROLES("{'name':'a','inRoles':['b']},{'name':'b','inRoles':['c']},{'name':'c'}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'a','inRoles':['b']},{'name':'b','inRoles':['c']},{'name':'c','inRoles':['pg_monitor','a']}"), CREATE, NULL,
     PGW_ERR_INVALID, "PostgreSQL refuses circular membership"}, /* three errors: see test_cycle */
    {ROLES("{'name':'a','inRoles':['pg_maintain']}"), CREATE, "spec.roles[0].inRoles[0]", PGW_ERR_INVALID,
     "pg_maintain exists from PostgreSQL 17 on; spec.postgresVersion is 15"},
    {"{'spec':{'postgresVersion':17,'roles':[{'name':'a','inRoles':['pg_maintain']}]}}", CREATE, NULL, 0, NULL},
    {ROLES("{'name':'a','inRoles':['pg_read_everything']}"), CREATE, "spec.roles[0].inRoles[0]", PGW_ERR_INVALID,
     "is not a predefined role of PostgreSQL"},
    {ROLES("{'name':'a','inRoles':['pg_database_owner']}"), CREATE, "spec.roles[0].inRoles[0]", PGW_ERR_INVALID,
     "pg_database_owner has no explicit members"},
    {ROLES("{'name':'a','inRoles':['pg_monitor','pg_monitor']}"), CREATE, "spec.roles[0].inRoles[1]", PGW_ERR_DUPLICATE, NULL},
    {ROLES("{'name':'a','inRoles':'pg_monitor'}"), CREATE, "spec.roles[0].inRoles", PGW_ERR_INVALID, "must be of type array"},
    /* passwordSecret */
    {ROLES("{'name':'a','passwordSecret':{'name':'a-secret'}}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'a','passwordSecret':{'key':'pw'}}"), CREATE, "spec.roles[0].passwordSecret.name", PGW_ERR_REQUIRED, NULL},
    {ROLES("{'name':'a','passwordSecret':{'name':'A_secret'}}"), CREATE, "spec.roles[0].passwordSecret.name", PGW_ERR_INVALID,
     NULL},
    {ROLES("{'name':'a','passwordSecret':{'name':'s','key':'pass word'}}"), CREATE, "spec.roles[0].passwordSecret.key",
     PGW_ERR_INVALID, "must be a Secret key"},
    {ROLES("{'name':'a','passwordSecret':{'name':'demo-superuser'}}"), CREATE, "spec.roles[0].passwordSecret.name", PGW_ERR_INVALID,
     "is the superuser's Secret, which pgwarden manages"},
    {ROLES("{'name':'a','passwordSecret':{'name':'demo-app'}}"), CREATE, "spec.roles[0].passwordSecret.name", PGW_ERR_INVALID,
     "is the bootstrap owner's Secret, which pgwarden manages"},
    /* a user's Secret must not be the one pgwarden generates for another role */
    {ROLES("{'name':'a','passwordSecret':{'name':'demo-report-ro'}},{'name':'report_ro'}"), CREATE,
     "spec.roles[0].passwordSecret.name", PGW_ERR_INVALID, "is the Secret pgwarden generates for role report_ro"},
    {ROLES("{'name':'a','passwordSecret':{'name':'demo-report-ro'}},{'name':'report_ro','login':false}"), CREATE, NULL, 0, NULL},
    /* the generated Secret <cluster>-<role>: a valid name, not one of pgwarden's */
    {ROLES("{'name':'superuser'}"), CREATE, "spec.roles[0].name", PGW_ERR_INVALID,
     "its generated password would go to Secret demo-superuser, which is the superuser's Secret"},
    {ROLES("{'name':'server_tls'}"), CREATE, "spec.roles[0].name", PGW_ERR_INVALID, "Secret demo-server-tls"},
    {ROLES("{'name':'superuser','passwordSecret':{'name':'su'}}"), CREATE, NULL, 0, NULL},
    {ROLES("{'name':'superuser','login':false}"), CREATE, NULL, 0, NULL},
    {"{'spec':{'bootstrap':{'initdb':{'owner':'shop'}},'roles':[{'name':'app'}]}}", CREATE, "spec.roles[0].name", PGW_ERR_INVALID,
     "Secret demo-app, which is the bootstrap owner's Secret"},
    {ROLES("{'name':'etl_'}"), CREATE, "spec.roles[0].name", PGW_ERR_INVALID,
     "ends with '_', so its generated Secret demo-etl- would not be a valid name"},
    {ROLES("{'name':'etl_','passwordSecret':{'name':'etl'}}"), CREATE, NULL, 0, NULL},
    /* database name */
    {DBS("{'name':'reports'}"), CREATE, NULL, 0, NULL},
    {DBS("{'owner':'app'}"), CREATE, "spec.databases[0].name", PGW_ERR_REQUIRED, NULL},
    {DBS("{'name':'Reports'}"), CREATE, "spec.databases[0].name", PGW_ERR_INVALID, "must be a lowercase SQL identifier"},
    {DBS("{'name':'reports'},{'name':'reports'}"), CREATE, "spec.databases[1].name", PGW_ERR_DUPLICATE, NULL},
    {DBS("{'name':'postgres'}"), CREATE, "spec.databases[0].name", PGW_ERR_FORBIDDEN,
     "created by initdb and belongs to PostgreSQL"},
    {DBS("{'name':'template0'}"), CREATE, "spec.databases[0].name", PGW_ERR_FORBIDDEN, "created by initdb"},
    {DBS("{'name':'template1','ensure':'absent'}"), CREATE, "spec.databases[0].name", PGW_ERR_FORBIDDEN, "created by initdb"},
    {DBS("{'name':'app'}"), CREATE, "spec.databases[0].name", PGW_ERR_FORBIDDEN,
     "app is the bootstrap database (spec.bootstrap.initdb.database)"},
    {"{'spec':{'bootstrap':{'initdb':{'database':'shop'}},'databases':[{'name':'app'}]}}", CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','ensure':'maybe'}"), CREATE, "spec.databases[0].ensure", PGW_ERR_NOT_SUPPORTED, NULL},
    /* owner: a declared present role or the bootstrap owner; an absent role owns nothing */
    {ROLES_DBS("{'name':'analyst'}", "{'name':'reports','owner':'analyst'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','owner':'app'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','owner':'postgres'}"), CREATE, "spec.databases[0].owner", PGW_ERR_INVALID,
     "must be a role of spec.roles (ensure: present) or the bootstrap owner app"},
    {ROLES_DBS("{'name':'analyst','ensure':'absent'}", "{'name':'reports','owner':'analyst'}"), CREATE, "spec.databases[0].owner",
     PGW_ERR_INVALID, "analyst is declared with ensure: absent, so it cannot own a database"},
    {ROLES_DBS("{'name':'analyst','ensure':'absent'}", "{'name':'reports','owner':'analyst','ensure':'absent'}"), CREATE, NULL, 0,
     NULL},
    /* encoding and locale */
    {DBS("{'name':'reports','encoding':'utf-8'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','encoding':'UTF16'}"), CREATE, "spec.databases[0].encoding", PGW_ERR_NOT_SUPPORTED,
     "must be a PostgreSQL server encoding"},
    {DBS("{'name':'reports','encoding':'LATIN1','template':'template0','locale':'de_DE.LATIN1'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','template':'template0','locale':'de_DE.LATIN1'}"), CREATE, "spec.databases[0].locale", PGW_ERR_INVALID,
     "uses encoding LATIN1, which does not match the encoding UTF8"},
    {DBS("{'name':'reports','locale':'C; DROP'}"), CREATE, "spec.databases[0].locale", PGW_ERR_INVALID,
     "must be a locale name such as C, C.UTF-8 or en_US.UTF-8"},
    /* template: template1 holds the cluster's encoding and locale; template0 any */
    {DBS("{'name':'reports','locale':'C'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','encoding':'LATIN1'}"), CREATE, "spec.databases[0].template", PGW_ERR_INVALID,
     "template1 has the cluster's encoding UTF8: a database in LATIN1 must use template: template0"},
    {DBS("{'name':'reports','locale':'en_US.UTF-8'}"), CREATE, "spec.databases[0].template", PGW_ERR_INVALID,
     "template1 has the cluster's locale C: a database with locale en_US.UTF-8 must use template: template0"},
    {DBS("{'name':'reports','locale':'en_US.UTF-8','template':'template0'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'base'},{'name':'reports','template':'base'}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'reports','template':'base'}"), CREATE, "spec.databases[0].template", PGW_ERR_INVALID,
     "must be template0, template1 or a database of spec.databases (ensure: present)"},
    {DBS("{'name':'base','ensure':'absent'},{'name':'reports','template':'base'}"), CREATE, "spec.databases[1].template",
     PGW_ERR_INVALID, "must be template0, template1 or a database of spec.databases"},
    {DBS("{'name':'reports','template':'reports'}"), CREATE, "spec.databases[0].template", PGW_ERR_INVALID,
     "a database cannot be its own template"},
    /* extensions: the image's catalog for spec.postgresVersion */
    {DBS("{'name':'r','extensions':[{'name':'pg_trgm'},{'name':'pgcrypto','version':'1.3'},{'name':'citext'}]}"), CREATE, NULL, 0,
     NULL},
    {DBS("{'name':'r','extensions':[{'name':'pg_trgmm'}]}"), CREATE, "spec.databases[0].extensions[0].name", PGW_ERR_NOT_SUPPORTED,
     "is not an extension the PostgreSQL 15 image ships; did you mean pg_trgm?"},
    {DBS("{'name':'r','extensions':[{'name':'postgis'}]}"), CREATE, "spec.databases[0].extensions[0].name", PGW_ERR_NOT_SUPPORTED,
     "is not an extension the PostgreSQL 15 image ships"},
    /* the procedural languages are not in the image (PGDG packages them apart) */
    {DBS("{'name':'r','extensions':[{'name':'plperl'}]}"), CREATE, "spec.databases[0].extensions[0].name", PGW_ERR_NOT_SUPPORTED,
     "PostgreSQL 15 image ships"},
    {DBS("{'name':'r','extensions':[{'name':'pg_trgm','version':'1.7'}]}"), CREATE, "spec.databases[0].extensions[0].version",
     PGW_ERR_NOT_SUPPORTED, "pg_trgm in the PostgreSQL 15 image has versions 1.3, 1.4, 1.5, 1.6"},
    {DBS("{'name':'r','extensions':[{'name':'pg_trgm','version':'1.6'}]}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'r','extensions':[{'name':'pg_trgm','version':1.6}]}"), CREATE, "spec.databases[0].extensions[0].version",
     PGW_ERR_INVALID, "must be of type string"},
    /* dropping something the image does not know is harmless */
    {DBS("{'name':'r','extensions':[{'name':'postgis','ensure':'absent'}]}"), CREATE, NULL, 0, NULL},
    {DBS("{'name':'r','extensions':[{'name':'pg_trgm'},{'name':'pg_trgm','ensure':'absent'}]}"), CREATE,
     "spec.databases[0].extensions[1].name", PGW_ERR_DUPLICATE, NULL},
    {DBS("{'name':'r','extensions':[{'version':'1.6'}]}"), CREATE, "spec.databases[0].extensions[0].name", PGW_ERR_REQUIRED, NULL},
    {DBS("{'name':'r','extensions':[{'name':'pg trgm'}]}"), CREATE, "spec.databases[0].extensions[0].name", PGW_ERR_INVALID,
     "must be an extension name"},
    {DBS("{'name':'r','extensions':[{'name':'pg_trgm','ensure':'installed'}]}"), CREATE, "spec.databases[0].extensions[0].ensure",
     PGW_ERR_NOT_SUPPORTED, NULL},
    {DBS("{'name':'r','extensions':{'name':'pg_trgm'}}"), CREATE, "spec.databases[0].extensions", PGW_ERR_INVALID,
     "must be of type array"},
    /* UPDATE: encoding, locale and template of an existing database stay */
    {DBS("{'name':'r','encoding':'LATIN1','template':'template0'}"), DBS("{'name':'r','template':'template0'}"),
     "spec.databases[0].encoding", PGW_ERR_FORBIDDEN, "cannot be changed once the database exists"},
    {DBS("{'name':'r','locale':'C'}"), DBS("{'name':'r'}"), "spec.databases[0].locale", PGW_ERR_FORBIDDEN,
     "cannot be changed once the database exists"},
    {DBS("{'name':'r','template':'template0'}"), DBS("{'name':'r'}"), "spec.databases[0].template", PGW_ERR_FORBIDDEN,
     "cannot be changed"},
    {DBS("{'name':'r','owner':'app','extensions':[{'name':'pg_trgm'}]}"), DBS("{'name':'r'}"), NULL, 0, NULL},
    {DBS("{'name':'r','encoding':'LATIN1','template':'template0'}"), DBS("{'name':'r','ensure':'absent'}"), NULL, 0, NULL},
    {DBS("{'name':'r','encoding':'LATIN1','template':'template0'}"), DBS("{'name':'other'}"), NULL, 0, NULL},
    /* rotate-password: declared present roles with a generated password, or the bootstrap owner */
    {"{" ROTATE("app") "}", UPDATE, NULL, 0, NULL},
    {"{" ROTATE("analyst, app") ",'spec':{'roles':[{'name':'analyst'}]}}", UPDATE, NULL, 0, NULL},
    {"{" ROTATE("analyst,report") ",'spec':{'roles':[{'name':'analyst'},{'name':'report'}]}}", UPDATE, NULL, 0, NULL},
    {"{" ROTATE("nobody") "}", UPDATE, RP_PATH, PGW_ERR_INVALID,
     "nobody is not a role of this cluster: name roles of spec.roles or the bootstrap owner app"},
    {"{" ROTATE("analyst") ",'spec':{'roles':[{'name':'analyst','passwordSecret':{'name':'mine'}}]}}", UPDATE, RP_PATH,
     PGW_ERR_INVALID, "analyst's password comes from Secret mine (passwordSecret): rotate it by changing that Secret"},
    {"{" ROTATE("analyst") ",'spec':{'roles':[{'name':'analyst','ensure':'absent'}]}}", UPDATE, RP_PATH, PGW_ERR_INVALID,
     "declared with ensure: absent"},
    {"{" ROTATE("analyst") ",'spec':{'roles':[{'name':'analyst','login':false}]}}", UPDATE, RP_PATH, PGW_ERR_INVALID,
     "analyst has login: false"},
    {"{" ROTATE("postgres") "}", UPDATE, RP_PATH, PGW_ERR_INVALID, "postgres is not a role of this cluster"},
    {"{" ROTATE("") "}", UPDATE, RP_PATH, PGW_ERR_INVALID, "must list role names separated by commas"},
    {"{" ROTATE("app,") "}", UPDATE, RP_PATH, PGW_ERR_INVALID, "must list role names separated by commas"},
    {"{" ROTATE("App") "}", UPDATE, RP_PATH, PGW_ERR_INVALID, "App is not a role name"},
    {"{'metadata':{'annotations':{'pgwarden.io/rotate-password':true}}}", UPDATE, RP_PATH, PGW_ERR_INVALID,
     "must be of type string"},
    {"{" ROTATE("app") "}", CREATE, RP_PATH, PGW_ERR_FORBIDDEN, "request a rotation once the cluster is running"},
    /* pending since an earlier request: the controller owns it, even when the role went away since */
    {"{" ROTATE("analyst") "}", "{" ROTATE("analyst") ",'spec':{'roles':[{'name':'analyst'}]}}", NULL, 0, NULL},
};

START_TEST(test_rule)
{
    json_t *obj = defaulted(rows[_i].patch, rows[_i].old ? "UPDATE" : "CREATE");
    json_t *old = rows[_i].old ? defaulted(rows[_i].old[0] ? rows[_i].old : NULL, "CREATE") : NULL;
    struct pgw_errors errs;
    admit(obj, old, &errs);
    char *text = errors_text(&errs);
    if (rows[_i].detail == NULL && rows[_i].path == NULL)
        ck_assert_msg(errs.count == 0, "row %d (%s): expected no error, got:%s", _i, rows[_i].patch, text);
    else if (rows[_i].path == NULL) /* several errors with this detail */
        ck_assert_msg(errs.count > 0, "row %d (%s): expected errors", _i, rows[_i].patch);
    else
        ck_assert_msg(errs.count == 1 && has_error(&errs, rows[_i].path, rows[_i].type, rows[_i].detail),
                      "row %d (%s): expected only %s %s \"%s\", got:%s", _i, rows[_i].patch, rows[_i].path,
                      pgw_error_type_string(rows[_i].type), rows[_i].detail ? rows[_i].detail : "", text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(old);
    json_decref(obj);
}
END_TEST

/* A membership cycle is reported on each role in it, and only there. */
START_TEST(test_cycle)
{
    json_t *obj = defaulted(ROLES("{'name':'a','inRoles':['b']},{'name':'b','inRoles':['c']},{'name':'c','inRoles':['a']},"
                                  "{'name':'d','inRoles':['a']}"),
                            "CREATE");
    struct pgw_errors errs;
    admit(obj, NULL, &errs);
    char *text = errors_text(&errs);
    ck_assert_msg(errs.count == 3, "got:%s", text);
    ck_assert(has_error(&errs, "spec.roles[0].inRoles", PGW_ERR_INVALID, "makes a a member of itself through other roles"));
    ck_assert(has_error(&errs, "spec.roles[1].inRoles", PGW_ERR_INVALID, "makes b a member of itself"));
    ck_assert(has_error(&errs, "spec.roles[2].inRoles", PGW_ERR_INVALID, "makes c a member of itself"));
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* Several findings in one request are all reported. */
START_TEST(test_all_errors_reported)
{
    json_t *obj = defaulted(
        ROLES_DBS("{'name':'postgres'},{'name':'x','connectionLimit':-7}", "{'name':'template1'},{'name':'r','owner':'nobody'}"),
        "CREATE");
    struct pgw_errors errs;
    admit(obj, NULL, &errs);
    char *text = errors_text(&errs);
    ck_assert_msg(errs.count == 4, "got:%s", text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* ---- warnings ---- */

START_TEST(test_superuser_warning)
{
    json_t *obj =
        defaulted("{'spec':{'allowSuperuserRoles':true,'roles':[{'name':'dba','superuser':true},{'name':'b'}]}}", "CREATE");
    struct pgw_errors errs;
    admit(obj, NULL, &errs);
    ck_assert_int_eq(errs.count, 0);
    ck_assert(has_warning(&errs, "spec.roles[0].superuser: dba is a superuser: it bypasses every permission check"));
    ck_assert(!has_warning(&errs, "spec.roles[1]"));
    for (size_t i = 0; i != errs.warning_count; ++i)
        ck_assert_msg(strlen(errs.warnings[i]) <= 120, "warning over 120 characters: %s", errs.warnings[i]);
    pgw_errors_dispose(&errs);
    json_decref(obj);
    /* allowed but unused: no warning */
    obj = defaulted("{'spec':{'allowSuperuserRoles':true,'roles':[{'name':'dba'}]}}", "CREATE");
    admit(obj, NULL, &errs);
    ck_assert_int_eq(errs.count, 0);
    ck_assert(!has_warning(&errs, "superuser"));
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

START_TEST(test_unknown_fields_warn)
{
    json_t *obj = defaulted(ROLES_DBS("{'name':'a','loginn':true,'passwordSecret':{'name':'s','keys':'x'}}",
                                      "{'name':'r','extension':[],'extensions':[{'name':'citext','schema':'x'}]}"),
                            "CREATE");
    struct pgw_errors errs;
    admit(obj, NULL, &errs);
    ck_assert_int_eq(errs.count, 0);
    ck_assert(has_warning(&errs, "unknown field \"spec.roles[0].loginn\""));
    ck_assert(has_warning(&errs, "unknown field \"spec.roles[0].passwordSecret.keys\""));
    ck_assert(has_warning(&errs, "unknown field \"spec.databases[0].extension\""));
    ck_assert(has_warning(&errs, "unknown field \"spec.databases[0].extensions[0].schema\""));
    ck_assert(!has_warning(&errs, "spec.allowSuperuserRoles"));
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* ---- the catalog ---- */

/* Without a table for the major nothing is said about an extension (a major pgwarden does not know is refused anyway). */
START_TEST(test_extension_catalog_per_major)
{
    /* uuid-ossp ships with every major; pg_walinspect only from 15 on */
    json_t *obj =
        defaulted("{'spec':{'postgresVersion':14,'databases':[{'name':'r','extensions':[{'name':'pg_walinspect'}]}]}}", "CREATE");
    struct pgw_errors errs;
    admit(obj, NULL, &errs);
    ck_assert(has_error(&errs, "spec.databases[0].extensions[0].name", PGW_ERR_NOT_SUPPORTED, "PostgreSQL 14 image"));
    pgw_errors_dispose(&errs);
    json_decref(obj);
    obj = defaulted("{'spec':{'postgresVersion':16,'databases':[{'name':'r','extensions':[{'name':'pg_walinspect'},"
                    "{'name':'uuid-ossp','version':'1.1'}]}]}}",
                    "CREATE");
    admit(obj, NULL, &errs);
    ck_assert_int_eq(errs.count, 0);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* ---- the guard never judges the annotation (a request, not state) ---- */

START_TEST(test_guard_ignores_rotate_annotation)
{
    json_t *obj = defaulted("{" ROTATE("nobody") "}", "UPDATE"), *copy = NULL;
    char *invalid = pgw_guard_check(&pgw_guard_postgrescluster, obj, NULL, &copy);
    ck_assert_msg(invalid == NULL, "the guard refused the cluster: %s", invalid);
    json_decref(copy);
    json_decref(obj);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("roles_validation");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_test(tc, test_cycle);
    tcase_add_test(tc, test_all_errors_reported);
    tcase_add_test(tc, test_superuser_warning);
    tcase_add_test(tc, test_unknown_fields_warn);
    tcase_add_test(tc, test_extension_catalog_per_major);
    tcase_add_test(tc, test_guard_ignores_rotate_annotation);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
