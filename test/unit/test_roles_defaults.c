/*
 * Defaults of spec.allowSuperuserRoles, spec.roles[] and spec.databases[]
 * (mutators/roles.c, docs/roles.md): each default appears where unset, a user
 * value (even a wrong one) is kept, absent items stay as written, and
 * defaulting twice changes nothing. Expected values are written out here.
 */
#include "helpers.h"

#include "mutators/mutators.h"

static const char base_json[] = "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo'},"
                                "'spec':{'storage':{'size':'1Gi'}}}";

static const struct {
    const char *patch;
    const char *member;   /* "allowSuperuserRoles", "roles" or "databases" of spec */
    const char *expected; /* after defaulting; NULL: absent */
} rows[] = {
    /* allowSuperuserRoles: false */
    {NULL, "allowSuperuserRoles", "false"},
    {"{'spec':{'allowSuperuserRoles':true}}", "allowSuperuserRoles", "true"},
    /* no lists are invented */
    {NULL, "roles", NULL},
    {NULL, "databases", NULL},
    /* a role by name: ensure present, login, inherit, connectionLimit -1, the rest false */
    {"{'spec':{'roles':[{'name':'analyst'}]}}", "roles",
     "[{'name':'analyst','ensure':'present','login':true,'superuser':false,'createdb':false,'createrole':false,"
     "'replication':false,'bypassrls':false,'inherit':true,'connectionLimit':-1}]"},
    /* user values are kept, even wrong ones; passwordSecret.key defaults to password */
    {"{'spec':{'roles':[{'name':'a','login':false,'inherit':false,'createdb':true,'connectionLimit':5,'superuser':'yes',"
     "'passwordSecret':{'name':'s'}}]}}",
     "roles",
     "[{'name':'a','ensure':'present','login':false,'superuser':'yes','createdb':true,'createrole':false,"
     "'replication':false,'bypassrls':false,'inherit':false,'connectionLimit':5,'passwordSecret':{'name':'s','key':'password'}}]"},
    {"{'spec':{'roles':[{'name':'a','passwordSecret':{'name':'s','key':'pw'}}]}}", "roles",
     "[{'name':'a','ensure':'present','login':true,'superuser':false,'createdb':false,'createrole':false,"
     "'replication':false,'bypassrls':false,'inherit':true,'connectionLimit':-1,'passwordSecret':{'name':'s','key':'pw'}}]"},
    /* an absent role stays a name */
    {"{'spec':{'roles':[{'name':'old','ensure':'absent'}]}}", "roles", "[{'name':'old','ensure':'absent'}]"},
    /* not objects: left for validation */
    {"{'spec':{'roles':['analyst',null]}}", "roles", "['analyst',null]"},
    {"{'spec':{'roles':'analyst'}}", "roles", "'analyst'"},
    /* a database by name: ensure present, the bootstrap owner, UTF8, template1 */
    {"{'spec':{'databases':[{'name':'reports'}]}}", "databases",
     "[{'name':'reports','ensure':'present','owner':'app','encoding':'UTF8','template':'template1'}]"},
    {"{'spec':{'bootstrap':{'initdb':{'owner':'shop'}},'databases':[{'name':'reports'}]}}", "databases",
     "[{'name':'reports','ensure':'present','owner':'shop','encoding':'UTF8','template':'template1'}]"},
    /* a restore bootstrap: its -app Secret and post-bootstrap script use app */
    {"{'spec':{'bootstrap':{'restore':{'fromCluster':'old'}},'databases':[{'name':'reports'}]}}", "databases",
     "[{'name':'reports','ensure':'present','owner':'app','encoding':'UTF8','template':'template1'}]"},
    {"{'spec':{'databases':[{'name':'r','owner':'analyst','encoding':'LATIN1','locale':'C','template':'template0'}]}}", "databases",
     "[{'name':'r','ensure':'present','owner':'analyst','encoding':'LATIN1','locale':'C','template':'template0'}]"},
    /* extensions: ensure present; version stays unset (CREATE EXTENSION's default) */
    {"{'spec':{'databases':[{'name':'r','extensions':[{'name':'pg_trgm'},{'name':'hstore','ensure':'absent'},"
     "{'name':'citext','version':'1.6'}]}]}}",
     "databases",
     "[{'name':'r','ensure':'present','owner':'app','encoding':'UTF8','template':'template1','extensions':[{'name':'pg_trgm',"
     "'ensure':'present'},{'name':'hstore','ensure':'absent'},{'name':'citext','version':'1.6','ensure':'present'}]}]"},
    /* an absent database stays a name, its extensions as written */
    {"{'spec':{'databases':[{'name':'r','ensure':'absent','extensions':[{'name':'pg_trgm'}]}]}}", "databases",
     "[{'name':'r','ensure':'absent','extensions':[{'name':'pg_trgm'}]}]"},
};

START_TEST(test_default)
{
    json_t *obj = defaulted_cluster(base_json, rows[_i].patch, "CREATE", 0);
    json_t *got = json_object_get(json_object_get(obj, "spec"), rows[_i].member);
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS) : pgw_strdup("(absent)");
    if (rows[_i].expected == NULL) {
        ck_assert_msg(got == NULL, "row %d: spec.%s should be absent, got %s", _i, rows[_i].member, g);
    } else {
        json_t *want = q(rows[_i].expected);
        ck_assert_msg(json_equal(got, want), "row %d: spec.%s: got %s, want %s", _i, rows[_i].member, g, rows[_i].expected);
        json_decref(want);
    }
    free(g);
    /* defaulting twice changes nothing */
    json_t *again = json_deep_copy(obj);
    struct pgw_request_ctx ctx = {.operation = "UPDATE", .namespace = "shop", .name = "demo"};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_mutate_postgrescluster(again, &ctx, &errs);
    pgw_errors_dispose(&errs);
    ck_assert_msg(json_equal(again, obj), "row %d: not idempotent", _i);
    json_decref(again);
    json_decref(obj);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("roles_defaults");
    TCase *tc = tcase_create("defaults");
    tcase_add_loop_test(tc, test_default, 0, sizeof(rows) / sizeof(rows[0]));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
