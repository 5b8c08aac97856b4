/*
 * PgBouncer allow-list: each type accepts and rejects, owned settings are
 * Forbidden naming the field to use, unknown settings are refused.
 */
#include "helpers.h"
#include "test/unit/helpers.h"

#include "validators/pgbouncer_params.h"

static const struct {
    const char *params;
    const char *path; /* NULL: accepted */
    pgw_error_type_t type;
    const char *detail;
} rows[] = {
    {"{'server_idle_timeout':'600','reserve_pool_timeout':'0.5','log_connections':'off','min_pool_size':'5'}", NULL, 0, NULL},
    {"{'server_reset_query':'DISCARD ALL','ignore_startup_parameters':'extra_float_digits,search_path'}", NULL, 0, NULL},
    {"{'server_tls_protocols':'secure','verbose':'2','max_prepared_statements':'100'}", NULL, 0, NULL},
    {"{'min_pool_size':'lots'}", "p[min_pool_size]", PGW_ERR_INVALID, "must be an integer"},
    {"{'verbose':'9'}", "p[verbose]", PGW_ERR_INVALID, "must be between 0 and 3"},
    {"{'log_stats':'maybe'}", "p[log_stats]", PGW_ERR_INVALID, "boolean"},
    {"{'query_timeout':'-1'}", "p[query_timeout]", PGW_ERR_INVALID, "seconds"},
    {"{'query_timeout':'10s'}", "p[query_timeout]", PGW_ERR_INVALID, "seconds"},
    {"{'server_tls_protocols':'sslv3'}", "p[server_tls_protocols]", PGW_ERR_NOT_SUPPORTED, NULL},
    {"{'server_check_query':'select 1\\nfoo=bar'}", "p[server_check_query]", PGW_ERR_INVALID, "single line"},
    {"{'max_client_conn':'10'}", "p[max_client_conn]", PGW_ERR_FORBIDDEN, "spec.pooler.maxClientConnections"},
    {"{'default_pool_size':'10'}", "p[default_pool_size]", PGW_ERR_FORBIDDEN, "spec.pooler.defaultPoolSize"},
    {"{'auth_type':'trust'}", "p[auth_type]", PGW_ERR_FORBIDDEN, "managed by the operator"},
    {"{'client_tls_cert_file':'/x'}", "p[client_tls_cert_file]", PGW_ERR_FORBIDDEN, "spec.tls"},
    {"{'no_such_setting':'1'}", "p[no_such_setting]", PGW_ERR_FORBIDDEN, "not a PgBouncer setting"},
    {"{'min_pool_size':5}", "p[min_pool_size]", PGW_ERR_INVALID, "must be a string"},
    {"['x']", "p", PGW_ERR_INVALID, "must be of type object"},
};

START_TEST(test_param)
{
    json_t *params = q(rows[_i].params);
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_pgbouncer_params_validate(params, "p", &errs);
    char *text = errors_text(&errs);
    if (rows[_i].path == NULL)
        ck_assert_msg(errs.count == 0, "row %d: unexpected:%s", _i, text);
    else
        ck_assert_msg(errs.count == 1 && has_error(&errs, rows[_i].path, rows[_i].type, rows[_i].detail),
                      "row %d: expected %s, got:%s", _i, rows[_i].path, text);
    free(text);
    pgw_errors_dispose(&errs);
    json_decref(params);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pgbouncer_params");
    TCase *tc = tcase_create("params");
    tcase_add_loop_test(tc, test_param, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
