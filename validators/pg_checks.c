/*
 * Check hooks of the server, repeated for the values they refuse at start.
 *
 * Only hooks that make startup fail with a value the type check accepts are
 * here; each one was found by comparing our answers with the real servers
 * (test/integration/test_pg_params_real.py).
 */
#include "validators/pg_checks.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

/* SLRU buffer counts (17+): guc check_slru_buffers wants multiples of the bank size. */
static const char *const slru_buffers[] = {"commit_timestamp_buffers", "multixact_member_buffers", "multixact_offset_buffers",
                                           "notify_buffers",           "serializable_buffers",     "subtransaction_buffers",
                                           "transaction_buffers"};
#define SLRU_BANK_SIZE 16

int pgw_pg_checks_run(int major, const struct pgw_pg_param *p, const char *value, const struct pgw_pg_value *v, char **error)
{
    (void)value;
    *error = NULL;
    if (major >= 17 && p->vartype == PGW_PG_INTEGER) {
        for (size_t i = 0; i != sizeof(slru_buffers) / sizeof(slru_buffers[0]); ++i) {
            if (strcmp(p->name, slru_buffers[i]) == 0 && (long)v->number % SLRU_BANK_SIZE != 0) {
                *error = pgw_asprintf("invalid value for parameter \"%s\": %ld: \"%s\" must be a multiple of %d", p->name,
                                      (long)v->number, p->name, SLRU_BANK_SIZE);
                return -1;
            }
        }
    }
    /* check_vacuum_buffer_usage_limit (16+): 0 disables the ring; otherwise 128 kB to 16 GB. */
    if (strcmp(p->name, "vacuum_buffer_usage_limit") == 0 && v->number != 0 && (v->number < 128 || v->number > 16777216)) {
        *error = pgw_asprintf("invalid value for parameter \"%s\": %ld kB: \"%s\" must be 0 or between 128 kB "
                              "and 16777216 kB",
                              p->name, (long)v->number, p->name);
        return -1;
    }
    /* check_io_max_concurrency (18): -1 (automatic) or a positive number. */
    if (strcmp(p->name, "io_max_concurrency") == 0 && v->number == 0) {
        *error = pgw_asprintf("invalid value for parameter \"%s\": 0: only -1 or values bigger than 0 are valid", p->name);
        return -1;
    }
    /* check_bonjour: the PostgreSQL builds we run (npm and Debian) have no Bonjour support. */
    if (strcmp(p->name, "bonjour") == 0 && v->boolval) {
        *error = pgw_asprintf("invalid value for parameter \"%s\": Bonjour is not supported by this build", p->name);
        return -1;
    }
    return 0;
}

/* The value of an integer parameter in `params`, or `fallback` when absent or invalid. */
static double int_param(const json_t *params, int major, const char *name, double fallback)
{
    const char *key;
    const json_t *value;
    const struct pgw_pg_param *p = pgw_pg_catalog_lookup(major, name);
    json_object_foreach((json_t *)params, key, value)
    {
        struct pgw_pg_value v;
        char *error = NULL;
        if (p == NULL || strcasecmp(key, name) != 0 || !json_is_string(value))
            continue;
        if (pgw_pg_value_parse(p, json_string_value(value), &v, &error) == 0)
            return v.number;
        free(error);
    }
    return fallback;
}

/*
 * 14 to 17 check, while reading the file, that the process slots fit
 * MAX_BACKENDS (2^18 - 1): max_connections + autovacuum_max_workers + 1 +
 * max_worker_processes + max_wal_senders. Unset ones count at their default.
 * (18 checks this later during start, outside the configuration reader.)
 */
static void check_max_backends(const json_t *params, int major, const char *path, struct pgw_errors *errs)
{
    static const struct {
        const char *name;
        double fallback;
    } slots[] = {{"max_connections", 100}, {"autovacuum_max_workers", 3}, {"max_worker_processes", 8}, {"max_wal_senders", 10}};
    if (major > 17)
        return;
    double total = 1;
    for (size_t i = 0; i != sizeof(slots) / sizeof(slots[0]); ++i)
        total += int_param(params, major, slots[i].name, slots[i].fallback);
    if (total <= 262143)
        return;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)params, key, value)
    {
        for (size_t i = 0; i != sizeof(slots) / sizeof(slots[0]); ++i) {
            if (strcasecmp(key, slots[i].name) != 0)
                continue;
            char *field = pgw_asprintf("%s[%s]", path, key);
            pgw_errors_add(errs, PGW_ERR_INVALID, field, value,
                           "max_connections + autovacuum_max_workers + max_worker_processes + max_wal_senders + 1 "
                           "is %.0f, more than the %d server processes PostgreSQL allows",
                           total, 262143);
            free(field);
        }
    }
}

/* The key under which `name` is set to a true Boolean in `params` (any case), or NULL. */
static const char *key_if_on(const json_t *params, const char *name)
{
    const char *key;
    const json_t *value;
    bool on = false;
    json_object_foreach((json_t *)params, key, value)
    {
        if (strcasecmp(key, name) == 0 && json_is_string(value) && pgw_pg_value_parse_bool(json_string_value(value), &on) && on)
            return key;
    }
    return NULL;
}

void pgw_pg_checks_cross(const json_t *params, int major, const char *path, struct pgw_errors *errs)
{
    check_max_backends(params, major, path, errs);
    /* guc.c check_log_stats / check_stage_log_stats: whichever is read second fails. */
    static const char *const stages[] = {"log_parser_stats", "log_planner_stats", "log_executor_stats"};
    const char *key = key_if_on(params, "log_statement_stats");
    if (key == NULL)
        return;
    for (size_t i = 0; i != sizeof(stages) / sizeof(stages[0]); ++i) {
        if (key_if_on(params, stages[i]) != NULL) {
            char *field = pgw_asprintf("%s[%s]", path, key);
            pgw_errors_add(errs, PGW_ERR_INVALID, field, json_object_get(params, key),
                           "cannot enable \"log_statement_stats\" when \"%s\" is true", stages[i]);
            free(field);
        }
    }
}
