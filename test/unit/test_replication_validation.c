/*
 * spec.replication admission rules (validators/cluster_replication.c): each
 * rule with an accepting and a rejecting row. A row merges a patch into a
 * valid 3-instance cluster, defaults it as the webhook does, and expects
 * either no error or one error with exactly that path and type whose text
 * contains the detail.
 */
#include "helpers.h"

#include "mutators/mutators.h"
#include "validators/validators.h"

static const char base_json[] =
    "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':'shop'},"
    "'spec':{'postgresVersion':15,'instances':3,'storage':{'size':'1Gi'}}}";

static const struct {
    const char *patch;
    const char *path; /* NULL: accepted */
    pgw_error_type_t type;
    const char *detail;
} rows[] = {
    /* the section: an object */
    {"{'spec':{'replication':{}}}", NULL, 0, NULL},
    {"{'spec':{'replication':'on'}}", "spec.replication", PGW_ERR_INVALID, "must be of type object"},
    /* synchronous: off|on|strict (YAML's unquoted on/off arrive as booleans) */
    {"{'spec':{'replication':{'synchronous':'off'}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'synchronous':'on'}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'synchronous':'strict'}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'synchronous':true}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'synchronous':'quorum'}}}", "spec.replication.synchronous", PGW_ERR_NOT_SUPPORTED, "\"strict\""},
    {"{'spec':{'replication':{'synchronous':'ON'}}}", "spec.replication.synchronous", PGW_ERR_NOT_SUPPORTED, NULL},
    {"{'spec':{'replication':{'synchronous':1}}}", "spec.replication.synchronous", PGW_ERR_INVALID, "must be of type string"},
    /* synchronous needs a replica */
    {"{'spec':{'instances':2,'replication':{'synchronous':'on'}}}", NULL, 0, NULL},
    {"{'spec':{'instances':1,'replication':{'synchronous':'on'}}}", "spec.replication.synchronous", PGW_ERR_INVALID,
     "set spec.instances to 2 or more"},
    {"{'spec':{'instances':1,'replication':{'synchronous':'strict'}}}", "spec.replication.synchronous", PGW_ERR_INVALID,
     "needs a replica"},
    {"{'spec':{'instances':1,'replication':{'synchronous':'off'}}}", NULL, 0, NULL},
    /* ttl: 20..300 (Patroni refuses less than 20) */
    {"{'spec':{'replication':{'ttl':20}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'ttl':300}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'ttl':19}}}", "spec.replication.ttl", PGW_ERR_INVALID, "between 20 and 300"},
    {"{'spec':{'replication':{'ttl':301}}}", "spec.replication.ttl", PGW_ERR_INVALID, "between 20 and 300"},
    {"{'spec':{'replication':{'ttl':'30'}}}", "spec.replication.ttl", PGW_ERR_INVALID, "must be of type integer"},
    /* loopWait: 1..60 */
    {"{'spec':{'replication':{'loopWait':1}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'loopWait':0}}}", "spec.replication.loopWait", PGW_ERR_INVALID, "between 1 and 60"},
    {"{'spec':{'replication':{'ttl':300,'loopWait':61}}}", "spec.replication.loopWait", PGW_ERR_INVALID, "between 1 and 60"},
    /* retryTimeout: 3..120 */
    {"{'spec':{'replication':{'retryTimeout':3}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'retryTimeout':2}}}", "spec.replication.retryTimeout", PGW_ERR_INVALID, "between 3 and 120"},
    {"{'spec':{'replication':{'ttl':300,'retryTimeout':121}}}", "spec.replication.retryTimeout", PGW_ERR_INVALID,
     "between 3 and 120"},
    /* loopWait + 2 * retryTimeout <= ttl, unset ones counting with their defaults (20/5/5) */
    {"{'spec':{'replication':{'ttl':30,'loopWait':10,'retryTimeout':10}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'ttl':30,'loopWait':10,'retryTimeout':11}}}", "spec.replication.ttl", PGW_ERR_INVALID,
     "10 + 2 * 11 = 32"},
    {"{'spec':{'replication':{'ttl':20,'loopWait':10}}}", NULL, 0, NULL},
    {"{'spec':{'replication':{'loopWait':11}}}", "spec.replication.ttl", PGW_ERR_INVALID, "must not exceed ttl (20)"},
    {"{'spec':{'replication':{'retryTimeout':8}}}", "spec.replication.ttl", PGW_ERR_INVALID, "5 + 2 * 8 = 21"},
    {"{'spec':{'replication':{'retryTimeout':8,'loopWait':4}}}", NULL, 0, NULL},
};

static json_t *defaulted(const char *patch)
{
    return defaulted_cluster(base_json, patch, "CREATE", 0);
}

static void validate(const json_t *obj, struct pgw_errors *errs)
{
    struct pgw_request_ctx ctx = {.operation = "CREATE", .namespace = "shop", .name = "demo"};
    pgw_errors_init(errs);
    pgw_validate_postgrescluster(obj, NULL, &ctx, errs);
}

START_TEST(test_rule)
{
    json_t *obj = defaulted(rows[_i].patch);
    struct pgw_errors errs;
    validate(obj, &errs);
    char *text = errors_text(&errs);
    if (rows[_i].path == NULL)
        ck_assert_msg(errs.count == 0, "row %d (%s): expected no error, got:%s", _i, rows[_i].patch, text);
    else
        ck_assert_msg(errs.count == 1 && has_error(&errs, rows[_i].path, rows[_i].type, rows[_i].detail),
                      "row %d (%s): expected only %s %s \"%s\", got:%s", _i, rows[_i].patch, rows[_i].path,
                      pgw_error_type_string(rows[_i].type), rows[_i].detail ? rows[_i].detail : "", text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

static const struct {
    const char *patch;
    const char *warning; /* must be present */
    const char *absent;  /* must be absent */
} warning_rows[] = {
    {"{'spec':{'instances':2,'replication':{'synchronous':'strict'}}}", "strict with 2 instances stops writes", NULL},
    {"{'spec':{'instances':3,'replication':{'synchronous':'strict'}}}", NULL, "strict with 2 instances"},
    {"{'spec':{'instances':2,'replication':{'synchronous':'on'}}}", NULL, "strict with 2 instances"},
    {"{'spec':{'replication':{'synchronus':'on'}}}", "unknown field \"spec.replication.synchronus\"", NULL},
    {"{'spec':{'replication':{'synchronous':'on'}}}", NULL, "unknown field"},
};

START_TEST(test_warning)
{
    json_t *obj = defaulted(warning_rows[_i].patch);
    struct pgw_errors errs;
    validate(obj, &errs);
    char *text = errors_text(&errs);
    ck_assert_msg(errs.count == 0, "row %d: unexpected errors:%s", _i, text);
    if (warning_rows[_i].warning)
        ck_assert_msg(has_warning(&errs, warning_rows[_i].warning), "row %d: missing warning %s", _i, warning_rows[_i].warning);
    if (warning_rows[_i].absent)
        ck_assert_msg(!has_warning(&errs, warning_rows[_i].absent), "row %d: unexpected warning %s", _i, warning_rows[_i].absent);
    for (size_t i = 0; i != errs.warning_count; ++i)
        ck_assert_msg(strlen(errs.warnings[i]) <= 120, "warning over 120 characters: %s", errs.warnings[i]);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(obj);
}
END_TEST

/* Scaling a synchronous cluster down to one instance is refused like creating one. */
START_TEST(test_scale_down_to_one)
{
    json_t *old = defaulted("{'spec':{'replication':{'synchronous':'on'}}}");
    json_t *now = defaulted("{'spec':{'instances':1,'replication':{'synchronous':'on'}}}");
    struct pgw_request_ctx ctx = {.operation = "UPDATE", .namespace = "shop", .name = "demo"};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_validate_postgrescluster(now, old, &ctx, &errs);
    ck_assert(has_error(&errs, "spec.replication.synchronous", PGW_ERR_INVALID, "needs a replica"));
    pgw_errors_dispose(&errs);
    json_decref(old);
    json_decref(now);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replication_validation");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rule, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_loop_test(tc, test_warning, 0, sizeof(warning_rows) / sizeof(warning_rows[0]));
    tcase_add_test(tc, test_scale_down_to_one);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
