/*
 * Unit tests for controller/decide/patroni_dcs: when the `<cluster>-config`
 * annotation needs rewriting, and that only the keys we own (postgresql.parameters,
 * postgresql.pg_hba, spec.replication's) change.
 */
#include "helpers.h"

#include "controller/decide/patroni_dcs.h"

static const struct {
    const char *current; /* annotation text, single quotes; NULL: absent */
    const char *desired; /* parameters */
    const char *want;    /* resulting annotation (single quotes), or NULL for "no write" */
} cases[] = {
    /* equal: no write */
    {"{'ttl':30,'postgresql':{'parameters':{'work_mem':'4MB'}}}", "{'work_mem':'4MB'}", NULL},
    /* numbers in Patroni's JSON equal the spec's strings */
    {"{'postgresql':{'parameters':{'max_connections':100,'hot_standby':true}}}", "{'max_connections':'100','hot_standby':'on'}",
     NULL},
    /* changed value: replaced, other keys kept */
    {"{'ttl':30,'postgresql':{'use_slots':true,'parameters':{'work_mem':'4MB'}}}", "{'work_mem':'8MB'}",
     "{'postgresql':{'parameters':{'work_mem':'8MB'},'use_slots':true},'ttl':30}"},
    /* added parameter */
    {"{'postgresql':{'parameters':{'work_mem':'4MB'}}}", "{'work_mem':'4MB','jit':'off'}",
     "{'postgresql':{'parameters':{'jit':'off','work_mem':'4MB'}}}"},
    /* removed parameter: dropped from the DCS too */
    {"{'postgresql':{'parameters':{'work_mem':'4MB','jit':'off'}}}", "{'work_mem':'4MB'}",
     "{'postgresql':{'parameters':{'work_mem':'4MB'}}}"},
    /* no postgresql section yet */
    {"{'ttl':30}", "{'jit':'off'}", "{'postgresql':{'parameters':{'jit':'off'}},'ttl':30}"},
    /* unreadable annotation: replaced */
    {"not json", "{'jit':'off'}", "{'postgresql':{'parameters':{'jit':'off'}}}"},
};

START_TEST(update_table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        char *current = pgw_strdup(cases[i].current);
        for (char *p = current; *p; ++p)
            if (*p == '\'')
                *p = '"';
        json_t *desired = q(cases[i].desired);
        char *got = pgw_patroni_dcs_update(current, NULL, desired);
        if (cases[i].want == NULL) {
            ck_assert_msg(got == NULL, "row %zu: expected no write, got %s", i, got);
        } else {
            ck_assert_msg(got != NULL, "row %zu: expected a write", i);
            json_t *g = json_loads(got, 0, NULL), *w = q(cases[i].want);
            ck_assert_msg(json_equal(g, w), "row %zu: got %s", i, got);
            json_decref(g);
            json_decref(w);
        }
        free(got);
        free(current);
        json_decref(desired);
    }
}
END_TEST

/* spec.replication's keys at the top of the configuration: set when they differ, everything else kept. */
static const struct {
    const char *current;  /* annotation text, single quotes */
    const char *settings; /* top-level keys we own */
    const char *want;     /* resulting annotation, or NULL for "no write" */
} settings_cases[] = {
    /* equal settings and parameters: no write */
    {"{'ttl':20,'loop_wait':5,'synchronous_mode':true,'failsafe_mode':true,'postgresql':{'parameters':{'jit':'off'}}}",
     "{'ttl':20,'loop_wait':5,'synchronous_mode':true,'failsafe_mode':true}", NULL},
    /* stored as text by someone else: still equal */
    {"{'ttl':'20','synchronous_mode':'on','postgresql':{'parameters':{'jit':'off'}}}", "{'ttl':20,'synchronous_mode':true}", NULL},
    /* synchronous turned on for a running async cluster: only that key changes */
    {"{'ttl':20,'synchronous_mode':false,'maximum_lag_on_failover':1048576,'postgresql':{'parameters':{'jit':'off'}}}",
     "{'ttl':20,'synchronous_mode':true}",
     "{'ttl':20,'synchronous_mode':true,'maximum_lag_on_failover':1048576,'postgresql':{'parameters':{'jit':'off'}}}"},
    /* a cluster bootstrapped before spec.replication: Patroni's 30/10/10 become ours, failsafe added */
    {"{'ttl':30,'loop_wait':10,'retry_timeout':10,'postgresql':{'parameters':{'jit':'off'}}}",
     "{'ttl':20,'loop_wait':5,'retry_timeout':5,'failsafe_mode':true}",
     "{'ttl':20,'loop_wait':5,'retry_timeout':5,'failsafe_mode':true,'postgresql':{'parameters':{'jit':'off'}}}"},
    /* a setting and a parameter at once */
    {"{'synchronous_mode_strict':false,'postgresql':{'parameters':{'jit':'on'}}}", "{'synchronous_mode_strict':true}",
     "{'synchronous_mode_strict':true,'postgresql':{'parameters':{'jit':'off'}}}"},
    /* postgresql.pg_hba: the same list is no write */
    {"{'ttl':20,'postgresql':{'use_slots':true,'pg_hba':['local all all peer','hostssl all all all scram-sha-256'],"
     "'parameters':{'jit':'off'}}}",
     "{'ttl':20,'postgresql':{'pg_hba':['local all all peer','hostssl all all all scram-sha-256']}}", NULL},
    /* a line added: the list is rewritten, use_slots and the parameters beside it kept */
    {"{'ttl':20,'postgresql':{'use_slots':true,'pg_hba':['local all all peer','hostssl all all all scram-sha-256'],"
     "'parameters':{'jit':'off'}}}",
     "{'ttl':20,'postgresql':{'pg_hba':['local all all peer','hostssl all blocked all reject','hostssl all all all "
     "scram-sha-256']}}",
     "{'ttl':20,'postgresql':{'use_slots':true,'pg_hba':['local all all peer','hostssl all blocked all reject',"
     "'hostssl all all all scram-sha-256'],'parameters':{'jit':'off'}}}"},
    /* a line removed */
    {"{'postgresql':{'pg_hba':['local all all peer','hostssl all blocked all reject'],'parameters':{'jit':'off'}}}",
     "{'postgresql':{'pg_hba':['local all all peer']}}",
     "{'postgresql':{'pg_hba':['local all all peer'],'parameters':{'jit':'off'}}}"},
    /* the same lines in another order match differently in PostgreSQL: rewritten */
    {"{'postgresql':{'pg_hba':['b','a'],'parameters':{'jit':'off'}}}", "{'postgresql':{'pg_hba':['a','b']}}",
     "{'postgresql':{'pg_hba':['a','b'],'parameters':{'jit':'off'}}}"},
    /* a cluster bootstrapped before pg_hba moved to the DCS (it was in patroni.yml): added */
    {"{'ttl':20,'postgresql':{'use_pg_rewind':true,'parameters':{'jit':'off'}}}", "{'ttl':20,'postgresql':{'pg_hba':['a']}}",
     "{'ttl':20,'postgresql':{'use_pg_rewind':true,'pg_hba':['a'],'parameters':{'jit':'off'}}}"},
    /* no postgresql section at all: created with both */
    {"{'ttl':20}", "{'postgresql':{'pg_hba':['a']}}", "{'ttl':20,'postgresql':{'pg_hba':['a'],'parameters':{'jit':'off'}}}"},
};

START_TEST(settings_table)
{
    for (size_t i = 0; i < sizeof(settings_cases) / sizeof(settings_cases[0]); ++i) {
        char *current = pgw_strdup(settings_cases[i].current);
        for (char *p = current; *p; ++p)
            if (*p == '\'')
                *p = '"';
        json_t *settings = q(settings_cases[i].settings), *desired = q("{'jit':'off'}");
        char *got = pgw_patroni_dcs_update(current, settings, desired);
        if (settings_cases[i].want == NULL) {
            ck_assert_msg(got == NULL, "row %zu: expected no write, got %s", i, got);
        } else {
            ck_assert_msg(got != NULL, "row %zu: expected a write", i);
            json_t *g = json_loads(got, 0, NULL), *w = q(settings_cases[i].want);
            ck_assert_msg(json_equal(g, w), "row %zu: got %s", i, got);
            json_decref(g);
            json_decref(w);
        }
        free(got);
        free(current);
        json_decref(settings);
        json_decref(desired);
    }
}
END_TEST

START_TEST(params_equal_table)
{
    static const struct {
        const char *a, *b;
        int want;
    } rows[] = {
        {"{}", "{}", 1},
        {"{'a':'1'}", "{'a':1}", 1},
        {"{'a':'1'}", "{'a':'2'}", 0},
        {"{'a':'1'}", "{'a':'1','b':'2'}", 0},
        {"{'a':{'x':1}}", "{'a':{'x':1}}", 0}, /* not a scalar: never equal, rewritten */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); ++i) {
        json_t *a = q(rows[i].a), *b = q(rows[i].b);
        ck_assert_msg(pgw_patroni_params_equal(a, b) == rows[i].want, "row %zu", i);
        json_decref(a);
        json_decref(b);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patroni_dcs");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, update_table);
    tcase_add_test(tc, settings_table);
    tcase_add_test(tc, params_equal_table);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
