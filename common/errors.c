/*
 * Field error collection and apimachinery-compatible formatting.
 */
#include "common/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void pgw_errors_init(struct pgw_errors *errs)
{
    memset(errs, 0, sizeof(*errs));
}

void pgw_errors_dispose(struct pgw_errors *errs)
{
    for (size_t i = 0; i != errs->count; ++i) {
        free(errs->items[i].path);
        free(errs->items[i].value);
        free(errs->items[i].detail);
    }
    free(errs->items);
    for (size_t i = 0; i != errs->warning_count; ++i)
        free(errs->warnings[i]);
    free(errs->warnings);
    memset(errs, 0, sizeof(*errs));
}

char *pgw_render_value(const json_t *value)
{
    if (value == NULL || json_is_null(value))
        return pgw_strdup("null");
    if (json_is_string(value)) {
        /* Go's %q: a quoted string with JSON-compatible escapes for the common cases. */
        return json_dumps(value, JSON_ENCODE_ANY);
    }
    return json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
}

void pgw_errors_add(struct pgw_errors *errs, pgw_error_type_t type, const char *path, const json_t *value,
                    const char *detail_fmt, ...)
{
    if (errs->count == errs->capacity) {
        errs->capacity = errs->capacity ? errs->capacity * 2 : 8;
        errs->items = pgw_realloc(errs->items, errs->capacity * sizeof(errs->items[0]));
    }
    struct pgw_field_error *e = &errs->items[errs->count++];
    e->path = pgw_strdup(path);
    e->type = type;
    e->value = value != NULL ? pgw_render_value(value) : NULL;
    e->detail = NULL;
    if (detail_fmt != NULL) {
        va_list ap;
        va_start(ap, detail_fmt);
        e->detail = pgw_vasprintf(detail_fmt, ap);
        va_end(ap);
    }
}

void pgw_errors_warn(struct pgw_errors *errs, const char *fmt, ...)
{
    if (errs->warning_count == errs->warning_capacity) {
        errs->warning_capacity = errs->warning_capacity ? errs->warning_capacity * 2 : 4;
        errs->warnings = pgw_realloc(errs->warnings, errs->warning_capacity * sizeof(errs->warnings[0]));
    }
    va_list ap;
    va_start(ap, fmt);
    errs->warnings[errs->warning_count++] = pgw_vasprintf(fmt, ap);
    va_end(ap);
}

const char *pgw_error_type_string(pgw_error_type_t type)
{
    switch (type) {
    case PGW_ERR_REQUIRED:
        return "Required value";
    case PGW_ERR_INVALID:
        return "Invalid value";
    case PGW_ERR_FORBIDDEN:
        return "Forbidden";
    case PGW_ERR_NOT_SUPPORTED:
        return "Unsupported value";
    case PGW_ERR_TOO_LONG:
        return "Too long";
    case PGW_ERR_DUPLICATE:
        return "Duplicate value";
    }
    return "Invalid value";
}

const char *pgw_error_type_reason(pgw_error_type_t type)
{
    switch (type) {
    case PGW_ERR_REQUIRED:
        return "FieldValueRequired";
    case PGW_ERR_INVALID:
        return "FieldValueInvalid";
    case PGW_ERR_FORBIDDEN:
        return "FieldValueForbidden";
    case PGW_ERR_NOT_SUPPORTED:
        return "FieldValueNotSupported";
    case PGW_ERR_TOO_LONG:
        return "FieldValueTooLong";
    case PGW_ERR_DUPLICATE:
        return "FieldValueDuplicate";
    }
    return "FieldValueInvalid";
}

char *pgw_field_error_body(const struct pgw_field_error *e)
{
    /* As field.Error.ErrorBody(): Required, Forbidden and TooLong omit the value. */
    int with_value = e->type != PGW_ERR_REQUIRED && e->type != PGW_ERR_FORBIDDEN && e->type != PGW_ERR_TOO_LONG;
    const char *value = e->value != NULL ? e->value : "null";
    const char *detail = e->detail != NULL && e->detail[0] != '\0' ? e->detail : NULL;
    if (with_value)
        return detail ? pgw_asprintf("%s: %s: %s", pgw_error_type_string(e->type), value, detail)
                      : pgw_asprintf("%s: %s", pgw_error_type_string(e->type), value);
    return detail ? pgw_asprintf("%s: %s", pgw_error_type_string(e->type), detail)
                  : pgw_strdup(pgw_error_type_string(e->type));
}

char *pgw_field_error_format(const struct pgw_field_error *e)
{
    char *body = pgw_field_error_body(e), *s = pgw_asprintf("%s: %s", e->path, body);
    free(body);
    return s;
}
