/*
 * specs/actions: the PostgresBackup, PostgresRestore and annotation patch that
 * the kubectl plugin and the REST API both send, compared with literal objects.
 */
#include "helpers.h"

#include "specs/actions.h"

#define NOW 1796436000 /* 2026-12-05T02:00:00Z */

START_TEST(test_backup)
{
    json_t *b = pgw_action_backup("shop", "main", "diff", NULL, NOW);
    json_t *want = q("{'apiVersion':'pgwarden.io/v1','kind':'PostgresBackup','metadata':{'name':'main-diff-20261205020000',"
                     "'namespace':'shop'},'spec':{'cluster':'main','type':'diff'}}");
    ck_assert(json_equal(b, want));
    json_decref(b);
    json_decref(want);
    b = pgw_action_backup("shop", "main", "full", "mine", NOW);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "metadata"), "name")), "mine");
    json_decref(b);
}
END_TEST

START_TEST(test_backup_name_fits)
{
    char cluster[64];
    memset(cluster, 'a', 50);
    cluster[50] = '\0';
    char *name = pgw_action_backup_name(cluster, "incr", NOW);
    ck_assert_uint_eq(strlen(name), PGW_BACKUP_NAME_MAX);
    ck_assert_str_eq(name + strlen(name) - 20, "-incr-20261205020000");
    free(name);
    ck_assert(pgw_action_backup_type_ok("full") && pgw_action_backup_type_ok("diff") && pgw_action_backup_type_ok("incr"));
    ck_assert(!pgw_action_backup_type_ok("Full") && !pgw_action_backup_type_ok("") && !pgw_action_backup_type_ok(NULL));
}
END_TEST

START_TEST(test_restore)
{
    const char *err = NULL;
    struct pgw_restore_request req = {
        .cluster = "main", .into = "copy", .time = "2026-12-05T01:00:00Z", .has_instances = 1, .instances = 2};
    json_t *r = pgw_action_restore("shop", &req, &err);
    json_t *want = q("{'apiVersion':'pgwarden.io/v1','kind':'PostgresRestore','metadata':{'name':'copy','namespace':'shop'},"
                     "'spec':{'source':{'cluster':'main'},'target':{'time':'2026-12-05T01:00:00Z'},'newCluster':{'instances':2}}}");
    ck_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);

    req = (struct pgw_restore_request){.cluster = "main", .into = "copy", .immediate = 1, .backup = "b1"};
    r = pgw_action_restore("shop", &req, &err);
    want = q("{'apiVersion':'pgwarden.io/v1','kind':'PostgresRestore','metadata':{'name':'copy','namespace':'shop'},"
             "'spec':{'source':{'cluster':'main','backup':'b1'},'target':{'immediate':true}}}");
    ck_assert(json_equal(r, want));
    json_decref(r);
    json_decref(want);

    req = (struct pgw_restore_request){.cluster = "main", .into = "copy", .lsn = "0/3000000", .immediate = 1};
    ck_assert_ptr_null(pgw_action_restore("shop", &req, &err));
    ck_assert_str_eq(err, "at most one of time, lsn and immediate");
}
END_TEST

START_TEST(test_annotation_patch)
{
    json_t *p = pgw_action_annotation_patch("pgwarden.io/switchover", "main-1");
    json_t *want = q("{'metadata':{'annotations':{'pgwarden.io/switchover':'main-1'}}}");
    ck_assert(json_equal(p, want));
    json_decref(p);
    json_decref(want);
}
END_TEST

static Suite *actions_suite(void)
{
    Suite *s = suite_create("actions");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backup);
    tcase_add_test(tc, test_backup_name_fits);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_annotation_patch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgw_run_suite(actions_suite());
}
