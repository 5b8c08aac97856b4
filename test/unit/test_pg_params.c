/*
 * pgw_pg_params_validate and pgw_pg_param_bytes: one accepting and one
 * rejecting case for every rule, as tables. The agreement with the real
 * servers over a large corpus is test/integration/test_pg_params_real.py.
 */
#include "helpers.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validators/pg_catalog.h"
#include "validators/pg_params.h"

#define PATH "spec.postgres.parameters"

/* Validates `json` (a params object) and returns all error lines joined by '\n' ("" when valid). */
static char *run(int major, const char *json, size_t *warnings)
{
    json_error_t jerr;
    json_t *params = json_loads(json, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(params != NULL, "bad test JSON %s: %s", json, jerr.text);
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_pg_params_validate(params, major, PATH, &errs);
    size_t len = 1;
    char **lines = calloc(errs.count + 1, sizeof(char *));
    for (size_t i = 0; i != errs.count; ++i) {
        lines[i] = pgw_field_error_format(&errs.items[i]);
        len += strlen(lines[i]) + 1;
    }
    char *out = calloc(1, len);
    for (size_t i = 0; i != errs.count; ++i) {
        if (i != 0)
            strcat(out, "\n");
        strcat(out, lines[i]);
        free(lines[i]);
    }
    free(lines);
    if (warnings != NULL)
        *warnings = errs.warning_count;
    pgw_errors_dispose(&errs);
    json_decref(params);
    return out;
}

/* expected: NULL = valid; otherwise a substring of the error output. */
static const struct {
    int major;
    const char *params;
    const char *expected;
} cases[] = {
    /* value must be a string */
    {17, "{\"work_mem\": \"64MB\"}", NULL},
    {17, "{\"max_connections\": 100}", PATH "[max_connections]: Invalid value: 100: must be a string; quote it"},
    {17, "{\"fsync\": true}", PATH "[fsync]: Invalid value: true: must be a string; quote it"},
    {17, "{\"work_mem\": null}", "must be a string; quote it"},
    {17, "{\"application_name\": \"a\\nb\"}", "must be a single line of text"},
    {17, "{\"application_name\": \"a b\"}", NULL},
    /* unknown names; case-insensitive names; aliases */
    {17, "{\"no_such_parameter\": \"1\"}", "unrecognized configuration parameter \"no_such_parameter\" in PostgreSQL 17"},
    {17, "{\"Work_Mem\": \"1MB\"}", NULL},
    {17, "{\"sort_mem\": \"1MB\"}", NULL},
    {17, "{\"sort_mem\": \"1XB\"}", "invalid value for parameter \"work_mem\""},
    {17, "{\"work_mem\": \"1MB\", \"WORK_MEM\": \"2MB\"}", "Duplicate value: \"1MB\": same parameter as \"WORK_MEM\""},
    {17, "{\"work_mem\": \"1MB\", \"sort_mem\": \"2MB\"}", "Duplicate value"},
    /* parameters that exist only in some majors */
    {14, "{\"vacuum_buffer_usage_limit\": \"256kB\"}", "unrecognized configuration parameter"},
    {16, "{\"vacuum_buffer_usage_limit\": \"256kB\"}", NULL},
    {16, "{\"vacuum_buffer_usage_limit\": \"64kB\"}", "must be 0 or between 128 kB and 16777216 kB"},
    {16, "{\"vacuum_buffer_usage_limit\": \"0\"}", NULL},
    {14, "{\"wal_compression\": \"lz4\"}", "requires a Boolean value"},
    {15, "{\"wal_compression\": \"pglz\"}", NULL},
    /* the production build's values (Debian's, with lz4 and zstd; scripts/gen-pg-catalog adds them), where
     * PostgreSQL has them: default_toast_compression lz4 since 14, wal_compression lz4/zstd since 15 */
    {14, "{\"default_toast_compression\": \"lz4\"}", NULL},
    {15, "{\"default_toast_compression\": \"lz4\"}", NULL},
    {16, "{\"default_toast_compression\": \"lz4\"}", NULL},
    {17, "{\"default_toast_compression\": \"lz4\"}", NULL},
    {18, "{\"default_toast_compression\": \"lz4\"}", NULL},
    {18, "{\"default_toast_compression\": \"zstd\"}", "available values: pglz, lz4"},
    {15, "{\"wal_compression\": \"lz4\"}", NULL},
    {16, "{\"wal_compression\": \"lz4\"}", NULL},
    {17, "{\"wal_compression\": \"lz4\"}", NULL},
    {18, "{\"wal_compression\": \"lz4\"}", NULL},
    {15, "{\"wal_compression\": \"zstd\"}", NULL},
    {16, "{\"wal_compression\": \"zstd\"}", NULL},
    {17, "{\"wal_compression\": \"zstd\"}", NULL},
    {18, "{\"wal_compression\": \"ZSTD\"}", NULL},
    {14, "{\"wal_compression\": \"zstd\"}", "requires a Boolean value"},
    {15, "{\"wal_compression\": \"brotli\"}", "available values: pglz, lz4, zstd, on, off"},
    {13, "{\"work_mem\": \"1MB\"}", "no parameter catalog for PostgreSQL major 13"},
    /* operator-owned */
    {17, "{\"listen_addresses\": \"*\"}", PATH "[listen_addresses]: Forbidden: managed by pgwarden (Patroni sets it)"},
    {17, "{\"Port\": \"5433\"}", "Forbidden: managed by pgwarden (Patroni sets it)"},
    {17, "{\"archive_command\": \"true\"}", "Forbidden: managed by pgwarden (pgBackRest sets it)"},
    {17, "{\"restore_command\": \"true\"}", "Forbidden: managed by pgwarden (pgBackRest sets it)"},
    {17, "{\"ssl_cert_file\": \"x\"}", "Forbidden: managed by pgwarden (pgwarden sets it from spec.tls)"},
    {17, "{\"unix_socket_directories\": \"/tmp\"}", "Forbidden: managed by pgwarden"},
    {17, "{\"recovery_target_time\": \"2024-01-01\"}", "Forbidden: managed by pgwarden"},
    {17, "{\"primary_conninfo\": \"host=x\"}", "Forbidden: managed by pgwarden (Patroni sets it)"},
    {15, "{\"promote_trigger_file\": \"x\"}", "Forbidden: managed by pgwarden"},
    {17, "{\"promote_trigger_file\": \"x\"}", "Forbidden: managed by pgwarden"}, /* removed in 16, still owned */
    {17, "{\"hot_standby\": \"on\"}", "Forbidden"},
    {17, "{\"hot_standby_feedback\": \"on\"}", NULL},
    {17, "{\"archive_timeout\": \"60s\"}", NULL},
    /* internal */
    {17, "{\"block_size\": \"8192\"}", "parameter \"block_size\" cannot be changed"},
    {17, "{\"server_version\": \"1\"}", "cannot be changed"},
    /* integers: syntax */
    {17, "{\"max_connections\": \"100\"}", NULL},
    {17, "{\"max_connections\": \" 100 \"}", NULL},
    {17, "{\"max_connections\": \"0x64\"}", NULL},
    {17, "{\"max_connections\": \"0144\"}", NULL},
    {17, "{\"max_connections\": \"1e2\"}", NULL},
    {17, "{\"max_connections\": \"100.4\"}", NULL},
    {17, "{\"max_connections\": \"abc\"}", "invalid value for parameter \"max_connections\""},
    {17, "{\"max_connections\": \"\"}", "invalid value for parameter \"max_connections\""},
    {17, "{\"max_connections\": \"08\"}", "this parameter takes no unit"},
    {17, "{\"max_connections\": \"100kB\"}", "this parameter takes no unit"},
    {17, "{\"max_connections\": \"nan\"}", "invalid value"},
    {17, "{\"max_connections\": \"9999999999\"}", "value exceeds integer range"},
    /* integers: range, reported like the server */
    {17, "{\"max_connections\": \"262143\"}", "more than the 262143 server processes"},
    {18, "{\"max_connections\": \"262143\"}", NULL},
    {17, "{\"max_connections\": \"100000000\"}",
     "Invalid value: \"100000000\": 100000000 is outside the valid range for parameter \"max_connections\" (1 .. "
     "262143)"},
    {17, "{\"max_connections\": \"0\"}", "0 is outside the valid range"},
    {17, "{\"max_connections\": \"1\"}", NULL},
    {17, "{\"shared_buffers\": \"15\"}", "15 8kB is outside the valid range for parameter \"shared_buffers\" (16 8kB"},
    {17, "{\"shared_buffers\": \"16\"}", NULL},
    /* memory units */
    {17, "{\"shared_buffers\": \"128MB\"}", NULL},
    {17, "{\"shared_buffers\": \"1 GB\"}", NULL},
    {17, "{\"shared_buffers\": \"1GB \"}", NULL},
    {17, "{\"shared_buffers\": \"10XB\"}",
     "Invalid value: \"10XB\": invalid value for parameter \"shared_buffers\": valid units for this parameter are "
     "\"B\", \"kB\", \"MB\", \"GB\", and \"TB\""},
    {17, "{\"shared_buffers\": \"1gb\"}", "valid units for this parameter are"},
    {17, "{\"shared_buffers\": \"1 GB x\"}", "valid units"},
    {17, "{\"shared_buffers\": \"1TB\"}", NULL},
    {17, "{\"shared_buffers\": \"100000GB\"}", "value exceeds integer range"},
    {17, "{\"shared_buffers\": \"9000GB\"}", "1179648000 8kB is outside the valid range"},
    {17, "{\"shared_buffers\": \"127kB\"}", NULL},                /* 15.875 blocks, rounded to 16 */
    {17, "{\"shared_buffers\": \"120kB\"}", "15 8kB is outside"}, /* 15 blocks */
    /* time units */
    {17, "{\"statement_timeout\": \"30s\"}", NULL},
    {17, "{\"statement_timeout\": \"1.5min\"}", NULL},
    {17, "{\"statement_timeout\": \"1d\"}", NULL},
    {17, "{\"statement_timeout\": \"500us\"}", NULL},
    {17, "{\"statement_timeout\": \"10 sec\"}",
     "valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\""},
    {17, "{\"statement_timeout\": \"30S\"}", "valid units"},
    {17, "{\"statement_timeout\": \"-1\"}", "-1 ms is outside the valid range"},
    {17, "{\"checkpoint_timeout\": \"30s\"}", NULL},
    {17, "{\"checkpoint_timeout\": \"29s\"}", "29 s is outside the valid range for parameter \"checkpoint_timeout\""},
    {17, "{\"checkpoint_timeout\": \"1d\"}", NULL},
    {17, "{\"checkpoint_timeout\": \"2d\"}", "172800 s is outside the valid range"},
    /* reals */
    {17, "{\"random_page_cost\": \"1.1\"}", NULL},
    {17, "{\"random_page_cost\": \" 4 \"}", NULL},
    {17, "{\"random_page_cost\": \"1e308\"}", NULL},
    {17, "{\"random_page_cost\": \"1e400\"}", "invalid value for parameter \"random_page_cost\""},
    {17, "{\"random_page_cost\": \"inf\"}", "inf is outside the valid range"},
    {17, "{\"random_page_cost\": \"nan\"}", "invalid value"},
    {17, "{\"random_page_cost\": \"-1\"}", "-1 is outside the valid range for parameter \"random_page_cost\" (0 .."},
    {17, "{\"random_page_cost\": \"1ms\"}", "this parameter takes no unit"},
    {17, "{\"checkpoint_completion_target\": \"0.9\"}", NULL},
    {17, "{\"checkpoint_completion_target\": \"1.1\"}", "1.1 is outside the valid range"},
    {17, "{\"vacuum_cost_delay\": \"2ms\"}", NULL},
    {17, "{\"vacuum_cost_delay\": \"500us\"}", NULL},
    {17, "{\"vacuum_cost_delay\": \"1s\"}", "1000 ms is outside the valid range"},
    /* bools */
    {17, "{\"jit\": \"on\"}", NULL},
    {17, "{\"jit\": \"OFF\"}", NULL},
    {17, "{\"jit\": \"tr\"}", NULL},
    {17, "{\"jit\": \"y\"}", NULL},
    {17, "{\"jit\": \"0\"}", NULL},
    {17, "{\"jit\": \"of\"}", NULL},
    {17, "{\"jit\": \"o\"}", "parameter \"jit\" requires a Boolean value"},
    {17, "{\"jit\": \"truex\"}", "requires a Boolean value"},
    {17, "{\"jit\": \" on\"}", "requires a Boolean value"},
    {17, "{\"jit\": \"01\"}", "requires a Boolean value"},
    {17, "{\"jit\": \"\"}", "requires a Boolean value"},
    {18, "{\"bonjour\": \"on\"}", "Bonjour is not supported"},
    {18, "{\"bonjour\": \"off\"}", NULL},
    /* enums */
    {17, "{\"wal_level\": \"logical\"}", NULL},
    {17, "{\"wal_level\": \"LOGICAL\"}", NULL},
    {17, "{\"wal_level\": \"hot_standby\"}", NULL},
    {17, "{\"wal_level\": \"archival\"}", "invalid value for parameter \"wal_level\": available values: minimal, replica, logical"},
    {17, "{\"wal_level\": \"logical \"}", "available values"},
    {17, "{\"synchronous_commit\": \"remote_apply\"}", NULL},
    {17, "{\"synchronous_commit\": \"true\"}", NULL},
    {17, "{\"synchronous_commit\": \"t\"}", "available values"},
    /* check hooks */
    {17, "{\"transaction_buffers\": \"32\"}", NULL},
    {17, "{\"transaction_buffers\": \"0\"}", NULL},
    {17, "{\"transaction_buffers\": \"100\"}", "must be a multiple of 16"},
    {18, "{\"io_max_concurrency\": \"0\"}", "only -1 or values bigger than 0"},
    {18, "{\"io_max_concurrency\": \"-1\"}", NULL},
    {17, "{\"log_statement_stats\": \"on\", \"log_parser_stats\": \"on\"}",
     "cannot enable \"log_statement_stats\" when \"log_parser_stats\" is true"},
    {17, "{\"log_statement_stats\": \"on\", \"log_parser_stats\": \"off\"}", NULL},
    {17, "{\"max_connections\": \"200000\", \"max_wal_senders\": \"70000\"}", "more than the 262143"},
    {17, "{\"max_connections\": \"200000\", \"max_wal_senders\": \"50000\"}", NULL},
    /* custom parameters */
    {17, "{\"shared_preload_libraries\": \"pg_stat_statements\", \"pg_stat_statements.max\": \"10000\"}", NULL},
    {17,
     "{\"shared_preload_libraries\": \"'$libdir/pg_stat_statements.so', auto_explain\", "
     "\"auto_explain.log_min_duration\": \"1s\"}",
     NULL},
    {17, "{\"session_preload_libraries\": \"auto_explain\", \"auto_explain.log_analyze\": \"on\"}", NULL},
    {17, "{\"plpgsql.extra_warnings\": \"all\"}", NULL},
    {17, "{\"pg_stat_statements.max\": \"10000\"}",
     "custom parameter \"pg_stat_statements.max\": \"pg_stat_statements\" is not a library in "
     "shared_preload_libraries"},
    {17, "{\"shared_preload_libraries\": \"pg_stat_statement\", \"pg_stat_statements.max\": \"10000\"}", "is not a library"},
    {17, "{\"shared_preload_libraries\": \"a\", \"a.b.c\": \"1\"}", "unrecognized configuration parameter \"a.b.c\""},
    {17, "{\"shared_preload_libraries\": \"a\", \"a.\": \"1\"}", "unrecognized configuration parameter"},
    {17, "{\"shared_preload_libraries\": \"a\", \"a.1x\": \"1\"}", "unrecognized configuration parameter"},
    /* several errors, all reported */
    {17, "{\"port\": \"1\", \"work_mem\": \"x\", \"jit\": 1}", "Forbidden"},
    {17, "{\"port\": \"1\", \"work_mem\": \"x\", \"jit\": 1}", "invalid value for parameter \"work_mem\""},
    {17, "{\"port\": \"1\", \"work_mem\": \"x\", \"jit\": 1}", "must be a string"},
    {17, "[]", "must be an object"},
};

START_TEST(test_validate_table)
{
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char *out = run(cases[i].major, cases[i].params, NULL);
        if (cases[i].expected == NULL)
            ck_assert_msg(out[0] == '\0', "case %zu (%d %s): unexpected error: %s", i, cases[i].major, cases[i].params, out);
        else
            ck_assert_msg(strstr(out, cases[i].expected) != NULL, "case %zu (%d %s): want %s, got %s", i, cases[i].major,
                          cases[i].params, cases[i].expected, out);
        free(out);
    }
}
END_TEST

static const struct {
    const char *params;
    size_t warnings;
} warning_cases[] = {
    {"{\"fsync\": \"off\"}", 1},
    {"{\"fsync\": \"on\"}", 0},
    {"{\"fsync\": \"0\"}", 1},
    {"{\"full_page_writes\": \"off\"}", 1},
    {"{\"full_page_writes\": \"on\"}", 0},
    {"{\"synchronous_commit\": \"off\"}", 1},
    {"{\"synchronous_commit\": \"false\"}", 1},
    {"{\"synchronous_commit\": \"local\"}", 0},
    {"{\"zero_damaged_pages\": \"on\"}", 1},
    {"{\"zero_damaged_pages\": \"off\"}", 0},
    {"{\"ignore_checksum_failure\": \"yes\"}", 1},
    {"{\"fsync\": \"off\", \"full_page_writes\": \"off\"}", 2},
    {"{\"fsync\": \"bogus\"}", 0}, /* an error, not a warning */
};

START_TEST(test_warnings_table)
{
    for (size_t i = 0; i != sizeof(warning_cases) / sizeof(warning_cases[0]); ++i) {
        size_t warnings = 99;
        char *out = run(17, warning_cases[i].params, &warnings);
        ck_assert_msg(warnings == warning_cases[i].warnings, "case %zu (%s): %zu warnings, want %zu", i, warning_cases[i].params,
                      warnings, warning_cases[i].warnings);
        if (strstr(warning_cases[i].params, "bogus") == NULL)
            ck_assert_msg(out[0] == '\0', "case %zu: warnings must not be errors: %s", i, out);
        free(out);
    }
}
END_TEST

static const struct {
    int major;
    const char *name, *value;
    int rc;
    int64_t bytes;
} bytes_cases[] = {
    {17, "shared_buffers", "128MB", 0, 134217728},
    {17, "shared_buffers", "16384", 0, 134217728}, /* 8kB blocks */
    {17, "shared_buffers", "1GB", 0, 1073741824},
    {17, "shared_buffers", "0.5GB", 0, 536870912},
    {17, "shared_buffers", "127kB", 0, 131072}, /* rounded to whole blocks: 16 */
    {17, "work_mem", "4096", 0, 4194304},       /* kB */
    {17, "work_mem", "1.5MB", 0, 1572864},
    {17, "work_mem", "65537B", 0, 65536},    /* 64.001 kB rounds to 64 kB */
    {17, "min_wal_size", "80", 0, 83886080}, /* MB */
    {17, "max_wal_size", "1GB", 0, 1073741824},
    {17, "wal_buffers", "2MB", 0, 2097152},
    {14, "shared_buffers", "128MB", 0, 134217728},
    {18, "SHARED_BUFFERS", "128MB", 0, 134217728},
    {17, "sort_mem", "1MB", 0, 1048576},
    {17, "shared_buffers", "10XB", -1, 0},
    {17, "shared_buffers", "1", -1, 0}, /* below the minimum */
    {17, "max_connections", "100", -1, 0},
    {17, "statement_timeout", "1s", -1, 0},
    {17, "no_such_parameter", "1MB", -1, 0},
    {13, "shared_buffers", "128MB", -1, 0},
    {17, "shared_buffers", NULL, -1, 0},
};

START_TEST(test_bytes_table)
{
    for (size_t i = 0; i != sizeof(bytes_cases) / sizeof(bytes_cases[0]); ++i) {
        int64_t bytes = -7;
        int rc = pgw_pg_param_bytes(bytes_cases[i].major, bytes_cases[i].name, bytes_cases[i].value, &bytes);
        ck_assert_msg(rc == bytes_cases[i].rc, "case %zu (%s=%s): rc %d", i, bytes_cases[i].name,
                      bytes_cases[i].value ? bytes_cases[i].value : "NULL", rc);
        if (rc == 0)
            ck_assert_msg(bytes == bytes_cases[i].bytes, "case %zu (%s=%s): %lld bytes, want %lld", i, bytes_cases[i].name,
                          bytes_cases[i].value, (long long)bytes, (long long)bytes_cases[i].bytes);
    }
}
END_TEST

/* The generated tables: sorted for bsearch, every major present, lookups case-insensitive. */
START_TEST(test_catalog)
{
    for (int major = 14; major <= 18; ++major) {
        const struct pgw_pg_catalog *cat = pgw_pg_catalog_get(major);
        ck_assert_ptr_nonnull(cat);
        ck_assert_int_eq(cat->major, major);
        ck_assert_uint_gt(cat->count, 300);
        for (size_t i = 1; i < cat->count; ++i)
            ck_assert_msg(strcasecmp(cat->params[i - 1].name, cat->params[i].name) < 0, "%d: %s before %s", major,
                          cat->params[i - 1].name, cat->params[i].name);
        for (size_t i = 0; i != cat->count; ++i) {
            const struct pgw_pg_param *p = &cat->params[i];
            ck_assert_ptr_eq(pgw_pg_catalog_lookup(major, p->name), p);
            if (p->vartype == PGW_PG_ENUM)
                ck_assert_ptr_nonnull(p->enumvals);
            if (p->vartype == PGW_PG_INTEGER || p->vartype == PGW_PG_REAL)
                ck_assert_msg(p->min <= p->max, "%s", p->name);
        }
        const struct pgw_pg_param *p = pgw_pg_catalog_lookup(major, "DATESTYLE");
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->name, "DateStyle");
        p = pgw_pg_catalog_lookup(major, "shared_buffers");
        ck_assert_str_eq(p->unit, "8kB");
        ck_assert_int_eq(p->context, PGW_PG_CTX_POSTMASTER);
        ck_assert_ptr_null(pgw_pg_catalog_lookup(major, "no_such_parameter"));
    }
    ck_assert_ptr_null(pgw_pg_catalog_get(13));
    ck_assert_ptr_null(pgw_pg_catalog_get(19));
    ck_assert_ptr_nonnull(pgw_pg_catalog_lookup(15, "promote_trigger_file"));
    ck_assert_ptr_null(pgw_pg_catalog_lookup(16, "promote_trigger_file"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_params");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_validate_table);
    tcase_add_test(tc, test_warnings_table);
    tcase_add_test(tc, test_bytes_table);
    tcase_add_test(tc, test_catalog);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
