/*
 * PostgresBackup validation: cluster reference, type enum, immutable spec.
 */
#include "helpers.h"
#include "test/unit/helpers.h"

#include "validators/validators.h"

static const struct {
    const char *object; /* NULL: DELETE */
    const char *old;    /* NULL: CREATE */
    const char *path;   /* NULL: accepted */
    pgw_error_type_t type;
    const char *detail;
} rows[] = {
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}", NULL, NULL, 0, NULL},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'diff'}}", NULL, NULL, 0, NULL},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'incr'}}", NULL, NULL, 0, NULL},
    {"{'metadata':{'name':'b'},'spec':{'type':'full'}}", NULL, "spec.cluster", PGW_ERR_REQUIRED, NULL},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'Orders','type':'full'}}", NULL, "spec.cluster", PGW_ERR_INVALID, "DNS-1035"},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'a23456789012345678901234567890123456789012345678abc','type':'full'}}", NULL,
     "spec.cluster", PGW_ERR_TOO_LONG, NULL},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'snapshot'}}", NULL, "spec.type", PGW_ERR_NOT_SUPPORTED,
     "supported values: \"full\", \"diff\", \"incr\""},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders'}}", NULL, "spec.type", PGW_ERR_REQUIRED, NULL},
    {"{'metadata':{'name':'b'}}", NULL, "spec", PGW_ERR_REQUIRED, NULL},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}",
     "{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}", NULL, 0, NULL},
    {"{'metadata':{'name':'b','labels':{'x':'y'}},'spec':{'cluster':'orders','type':'full'}}",
     "{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}", NULL, 0, NULL},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'diff'}}",
     "{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}", "spec", PGW_ERR_FORBIDDEN, "field is immutable"},
    {"{'metadata':{'name':'b'},'spec':{'cluster':'other','type':'full'}}",
     "{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}", "spec", PGW_ERR_FORBIDDEN, "field is immutable"},
    {NULL, "{'metadata':{'name':'b'},'spec':{'cluster':'orders','type':'full'}}", NULL, 0, NULL},
};

START_TEST(test_rule)
{
    json_t *obj = rows[_i].object ? q(rows[_i].object) : NULL, *old = rows[_i].old ? q(rows[_i].old) : NULL;
    struct pgw_request_ctx ctx = {.operation = obj ? (old ? "UPDATE" : "CREATE") : "DELETE", .namespace = "shop"};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgresbackup(obj, old, &ctx, &errs);
    char *text = errors_text(&errs);
    if (rows[_i].path == NULL)
        ck_assert_msg(errs.count == 0, "row %d: unexpected:%s", _i, text);
    else
        ck_assert_msg(has_error(&errs, rows[_i].path, rows[_i].type, rows[_i].detail), "row %d: expected %s, got:%s", _i,
                      rows[_i].path, text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
    json_decref(old);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backup_validation");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
