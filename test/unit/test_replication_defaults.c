/*
 * spec.replication defaults (mutators) and what they render into Patroni's
 * configuration: bootstrap.dcs of patroni.yml and the settings the controller
 * keeps in the `<cluster>-config` annotation. Expected values are written out
 * here, not taken from the constants under test.
 */
#include "helpers.h"

#include "mutators/mutators.h"
#include "specs/render.h"
#include "specs/replication.h"

static const char base_json[] =
    "{'apiVersion':'pgwarden.io/v1','kind':'PostgresCluster','metadata':{'name':'demo','namespace':'shop'},"
    "'spec':{'postgresVersion':15,'instances':3,'storage':{'size':'1Gi'}}}";

static json_t *defaulted(const char *patch)
{
    return defaulted_cluster(base_json, patch, "CREATE", 0);
}

static const struct {
    const char *patch; /* NULL: nothing about replication */
    const char *want;  /* spec.replication after defaulting */
} default_rows[] = {
    {NULL, "{'synchronous':'off','ttl':20,'loopWait':5,'retryTimeout':5}"},
    {"{'spec':{'replication':{}}}", "{'synchronous':'off','ttl':20,'loopWait':5,'retryTimeout':5}"},
    {"{'spec':{'replication':{'synchronous':'strict','ttl':60}}}",
     "{'synchronous':'strict','ttl':60,'loopWait':5,'retryTimeout':5}"},
    /* YAML 1.1's unquoted on/off arrive as booleans and are named as modes */
    {"{'spec':{'replication':{'synchronous':true}}}", "{'synchronous':'on','ttl':20,'loopWait':5,'retryTimeout':5}"},
    {"{'spec':{'replication':{'synchronous':false}}}", "{'synchronous':'off','ttl':20,'loopWait':5,'retryTimeout':5}"},
    /* user values are kept, even invalid ones */
    {"{'spec':{'replication':{'synchronous':'bogus','ttl':1,'loopWait':0,'retryTimeout':'x'}}}",
     "{'synchronous':'bogus','ttl':1,'loopWait':0,'retryTimeout':'x'}"},
    /* not an object: left for validation */
    {"{'spec':{'replication':'on'}}", "'on'"},
};

START_TEST(test_defaults)
{
    json_t *obj = defaulted(default_rows[_i].patch);
    json_t *got = json_object_get(json_object_get(obj, "spec"), "replication"), *want = q(default_rows[_i].want);
    char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(got, want), "row %d: got %s", _i, g);
    free(g);
    /* defaulting twice changes nothing */
    char *text = json_dumps(obj, JSON_COMPACT);
    for (char *c = text; *c; ++c) /* back to the ' quotes q() reads */
        if (*c == '"')
            *c = '\'';
    json_t *again = defaulted_cluster(text, NULL, "CREATE", 0);
    free(text);
    ck_assert_msg(json_equal(again, obj), "row %d: not idempotent", _i);
    json_decref(again);
    json_decref(want);
    json_decref(obj);
}
END_TEST

static const struct {
    const char *patch;
    const char *want; /* Patroni's keys */
} render_rows[] = {
    {NULL, "{'ttl':20,'loop_wait':5,'retry_timeout':5,'synchronous_mode':false,'synchronous_mode_strict':false,"
           "'failsafe_mode':true}"},
    {"{'spec':{'replication':{'synchronous':'on','ttl':30,'loopWait':10,'retryTimeout':10}}}",
     "{'ttl':30,'loop_wait':10,'retry_timeout':10,'synchronous_mode':true,'synchronous_mode_strict':false,'failsafe_mode':true}"},
    {"{'spec':{'replication':{'synchronous':'strict'}}}",
     "{'ttl':20,'loop_wait':5,'retry_timeout':5,'synchronous_mode':true,'synchronous_mode_strict':true,'failsafe_mode':true}"},
};

START_TEST(test_dcs_settings)
{
    json_t *obj = defaulted(render_rows[_i].patch), *want = q(render_rows[_i].want);
    json_t *got = pgw_render_patroni_dcs_settings(obj);
    /* postgresql.pg_hba rides along (test_render.c checks its lines); the rest is spec.replication */
    ck_assert(json_is_array(json_object_get(json_object_get(got, "postgresql"), "pg_hba")));
    json_object_del(got, "postgresql");
    char *g = json_dumps(got, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(got, want), "row %d: got %s", _i, g);
    free(g);
    /* bootstrap.dcs of patroni.yml holds the same keys, next to the parameters */
    struct pgw_render_ctx ctx = {0};
    json_t *config = pgw_render_patroni_config(obj, &ctx);
    json_t *dcs = json_object_get(json_object_get(config, "bootstrap"), "dcs");
    const char *key;
    json_t *value;
    json_object_foreach(want, key, value)
    {
        ck_assert_msg(json_equal(json_object_get(dcs, key), value), "row %d: bootstrap.dcs.%s", _i, key);
    }
    ck_assert(json_is_object(json_object_get(json_object_get(dcs, "postgresql"), "parameters")));
    ck_assert_int_eq(json_integer_value(json_object_get(dcs, "maximum_lag_on_failover")), 1048576);
    json_decref(config);
    json_decref(got);
    json_decref(want);
    json_decref(obj);
}
END_TEST

/* An object that bypassed defaulting still renders Patroni's-rule-abiding timings. */
START_TEST(test_dcs_settings_undefaulted)
{
    json_t *obj = q("{'metadata':{'name':'demo','namespace':'shop'},'spec':{}}");
    json_t *got = pgw_render_patroni_dcs_settings(obj);
    ck_assert(json_is_array(json_object_get(json_object_get(got, "postgresql"), "pg_hba")));
    json_object_del(got, "postgresql");
    json_t *want = q("{'ttl':20,'loop_wait':5,'retry_timeout':5,'synchronous_mode':false,'synchronous_mode_strict':false,"
                     "'failsafe_mode':true}");
    ck_assert(json_equal(got, want));
    json_decref(want);
    json_decref(got);
    json_decref(obj);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replication_defaults");
    TCase *tc = tcase_create("defaults");
    tcase_add_loop_test(tc, test_defaults, 0, sizeof(default_rows) / sizeof(default_rows[0]));
    suite_add_tcase(s, tc);
    TCase *render = tcase_create("render");
    tcase_add_loop_test(render, test_dcs_settings, 0, sizeof(render_rows) / sizeof(render_rows[0]));
    tcase_add_test(render, test_dcs_settings_undefaulted);
    suite_add_tcase(s, render);
    return pgw_run_suite(s);
}
