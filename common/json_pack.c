/*
 * pgw_json_pack (see json_pack.h). The report is built with json_object_*
 * rather than a pack, so a failure cannot recurse into itself.
 */
#include "common/json_pack.h"

#include <stdarg.h>
#include <stdatomic.h>

#include "common/log.h"

static atomic_ulong failures;

json_t *pgw_json_pack_at(const char *file, int line, const char *fmt, ...)
{
    json_error_t error;
    va_list ap;
    va_start(ap, fmt);
    json_t *value = json_vpack_ex(&error, 0, fmt, ap);
    va_end(ap);
    if (value == NULL) {
        atomic_fetch_add(&failures, 1);
        json_t *fields = json_object();
        json_object_set_new(fields, "file", json_string(file));
        json_object_set_new(fields, "line", json_integer(line));
        json_object_set_new(fields, "format", json_string(fmt));
        json_object_set_new(fields, "error", json_string(error.text));
        pgw_log(PGW_LOG_ERROR, "json_pack failed", fields);
    }
    return value;
}

unsigned long pgw_json_pack_failures(void)
{
    return atomic_load(&failures);
}
