/*
 * PostgresRestore validation: source, the recovery target (at most one kind,
 * each well-formed, time not in the future), newCluster name and overrides,
 * immutable spec.
 */
#include "helpers.h"
#include "test/unit/helpers.h"

#include "common/json_pack.h"
#include "validators/validators.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const struct {
    const char *spec;     /* merged into a valid spec */
    const char *old_spec; /* NULL: CREATE */
    const char *path;
    pgw_error_type_t type;
    const char *detail;
} rows[] = {
    {"{}", NULL, NULL, 0, NULL},
    {"{'source':{'backup':'orders-nightly-1'}}", NULL, NULL, 0, NULL},
    {"{'source':null}", NULL, "spec.source", PGW_ERR_REQUIRED, NULL},
    {"{'source':{'cluster':null}}", NULL, "spec.source.cluster", PGW_ERR_REQUIRED, NULL},
    {"{'source':{'cluster':'9orders'}}", NULL, "spec.source.cluster", PGW_ERR_INVALID, NULL},
    {"{'source':{'backup':'Bad Name'}}", NULL, "spec.source.backup", PGW_ERR_INVALID, NULL},
    {"{'target':{'time':'2025-12-31T23:59:59Z'}}", NULL, NULL, 0, NULL},
    {"{'target':{'time':'2025-12-31T23:59:59.5+01:00'}}", NULL, NULL, 0, NULL},
    {"{'target':{'time':'2026-01-01T00:00:00Z'}}", NULL, NULL, 0, NULL},
    {"{'target':{'time':'2026-01-01T00:00:01Z'}}", NULL, "spec.target.time", PGW_ERR_INVALID,
     "must not be in the future (now is 2026-01-01T00:00:00Z)"},
    {"{'target':{'time':'yesterday'}}", NULL, "spec.target.time", PGW_ERR_INVALID, "RFC 3339"},
    {"{'target':{'time':'2025-12-31 10:00:00'}}", NULL, "spec.target.time", PGW_ERR_INVALID, "RFC 3339"},
    {"{'target':{'lsn':'16/B374D848'}}", NULL, NULL, 0, NULL},
    {"{'target':{'lsn':'16B374D848'}}", NULL, "spec.target.lsn", PGW_ERR_INVALID, "LSN"},
    {"{'target':{'lsn':'G/0'}}", NULL, "spec.target.lsn", PGW_ERR_INVALID, "LSN"},
    {"{'target':{'xid':1234}}", NULL, NULL, 0, NULL},
    {"{'target':{'xid':0}}", NULL, "spec.target.xid", PGW_ERR_INVALID, "positive"},
    {"{'target':{'xid':'1234'}}", NULL, "spec.target.xid", PGW_ERR_INVALID, "must be of type integer"},
    {"{'target':{'name':'before-migration'}}", NULL, NULL, 0, NULL},
    {"{'target':{'name':'a234567890123456789012345678901234567890123456789012345678901234'}}", NULL, "spec.target.name",
     PGW_ERR_TOO_LONG, NULL},
    {"{'target':{'immediate':true}}", NULL, NULL, 0, NULL},
    {"{'target':{'immediate':false,'xid':5}}", NULL, NULL, 0, NULL},
    {"{'target':{'immediate':'yes'}}", NULL, "spec.target.immediate", PGW_ERR_INVALID, "boolean"},
    {"{'target':{'time':'2025-01-01T00:00:00Z','immediate':true}}", NULL, "spec.target", PGW_ERR_FORBIDDEN,
     "found time, immediate"},
    {"{'target':{'lsn':'0/1','xid':5,'name':'x'}}", NULL, "spec.target", PGW_ERR_FORBIDDEN, "found lsn, xid, name"},
    {"{'newCluster':{'name':'orders'}}", NULL, "spec.newCluster.name", PGW_ERR_INVALID, "must differ from spec.source.cluster"},
    {"{'newCluster':{'name':'Orders-Copy'}}", NULL, "spec.newCluster.name", PGW_ERR_INVALID, NULL},
    {"{'newCluster':{'name':'a23456789012345678901234567890123456789012345678abc'}}", NULL, "spec.newCluster.name",
     PGW_ERR_TOO_LONG, NULL},
    {"{'newCluster':{'name':null}}", NULL, "spec.newCluster.name", PGW_ERR_REQUIRED, NULL},
    {"{'newCluster':{'instances':3,'storage':{'size':'200Gi'}}}", NULL, NULL, 0, NULL},
    {"{'newCluster':{'instances':40}}", NULL, "spec.newCluster.instances", PGW_ERR_INVALID, "must be between 1 and 16"},
    {"{'newCluster':{'storage':{'size':'big'}}}", NULL, "spec.newCluster.storage.size", PGW_ERR_INVALID, NULL},
    {"{}", "{}", NULL, 0, NULL},
    {"{'target':{'xid':7}}", "{'target':{'xid':8}}", "spec", PGW_ERR_FORBIDDEN, "field is immutable"},
    {"{'newCluster':{'name':'copy-2'}}", "{}", "spec", PGW_ERR_FORBIDDEN, "field is immutable"},
};

static json_t *restore(const char *patch)
{
    json_t *obj = q("{'metadata':{'name':'pitr'},'spec':{'source':{'cluster':'orders'},'newCluster':{'name':'orders-copy'}}}");
    json_t *p = q(patch), *wrapped = pgw_json_pack("{s:O}", "spec", p);
    merge(obj, wrapped);
    json_decref(wrapped);
    json_decref(p);
    return obj;
}

START_TEST(test_rule)
{
    json_t *obj = restore(rows[_i].spec), *old = rows[_i].old_spec ? restore(rows[_i].old_spec) : NULL;
    struct pgw_request_ctx ctx = {.operation = old ? "UPDATE" : "CREATE", .namespace = "shop", .now = NOW};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgresrestore(obj, old, &ctx, &errs);
    char *text = errors_text(&errs);
    if (rows[_i].path == NULL)
        ck_assert_msg(errs.count == 0, "row %d (%s): unexpected:%s", _i, rows[_i].spec, text);
    else
        ck_assert_msg(has_error(&errs, rows[_i].path, rows[_i].type, rows[_i].detail), "row %d (%s): expected %s, got:%s", _i,
                      rows[_i].spec, rows[_i].path, text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
    json_decref(old);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("restore_validation");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
