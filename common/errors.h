/*
 * Field errors and warnings, collected the way Kubernetes does it.
 *
 * Validators never stop at the first problem: every finding is appended to a
 * struct pgw_errors, and the admission pipeline (or `pgwarden admit`) renders
 * them all. Formatting follows apimachinery's field.Error exactly, so users see
 * the same text they know from core objects:
 *
 *     spec.instances: Invalid value: 0: must be between 1 and 16
 *
 * Ownership: a struct pgw_errors owns every string it holds; release them with
 * pgw_errors_dispose().
 */
#ifndef PGW_COMMON_ERRORS_H
#define PGW_COMMON_ERRORS_H

#include <stddef.h>
#include <jansson.h>

typedef enum {
    PGW_ERR_REQUIRED,      /* "Required value"    FieldValueRequired */
    PGW_ERR_INVALID,       /* "Invalid value"     FieldValueInvalid */
    PGW_ERR_FORBIDDEN,     /* "Forbidden"         FieldValueForbidden */
    PGW_ERR_NOT_SUPPORTED, /* "Unsupported value" FieldValueNotSupported */
    PGW_ERR_TOO_LONG,      /* "Too long"          FieldValueTooLong */
    PGW_ERR_DUPLICATE,     /* "Duplicate value"   FieldValueDuplicate */
} pgw_error_type_t;

struct pgw_field_error {
    char *path; /* "spec.storage.size" */
    pgw_error_type_t type;
    char *value; /* the bad value as Kubernetes prints it (`"10Gb"`, `0`); NULL if none */
    char *detail;
};

struct pgw_errors {
    struct pgw_field_error *items;
    size_t count, capacity;
    char **warnings;
    size_t warning_count, warning_capacity;
};

void pgw_errors_init(struct pgw_errors *errs);
void pgw_errors_dispose(struct pgw_errors *errs);

/* Appends a field error. `value` is borrowed and rendered now (may be NULL). */
void pgw_errors_add(struct pgw_errors *errs, pgw_error_type_t type, const char *path, const json_t *value, const char *detail_fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* Appends a warning (risky but legal setting). */
void pgw_errors_warn(struct pgw_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "Invalid value", "Required value", ... */
const char *pgw_error_type_string(pgw_error_type_t type);
/* "FieldValueInvalid", ... (metav1.CauseType) */
const char *pgw_error_type_reason(pgw_error_type_t type);

/* The error without its path ("Invalid value: 0: must be ..."), malloc'd; the caller frees it. */
char *pgw_field_error_body(const struct pgw_field_error *e);
/* "path: body", malloc'd; the caller frees it. */
char *pgw_field_error_format(const struct pgw_field_error *e);
/* Every error formatted and joined by "; " ("spec.a: ...; spec.b: ..."), malloc'd; "" when none. */
char *pgw_errors_join(const struct pgw_errors *errs);

/*
 * Renders a JSON value the way apimachinery prints a BadValue: strings quoted, numbers bare.
 * Values longer than PGW_MAX_RENDERED_VALUE bytes are cut there (strings end with
 * `... (N bytes)`, objects with `...`), so a hostile object cannot make the denial huge. malloc'd.
 */
#define PGW_MAX_RENDERED_VALUE 256
char *pgw_render_value(const json_t *value);

#endif
