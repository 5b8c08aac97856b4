/*
 * Small helpers shared by the validators: field paths written the way
 * apimachinery's field.Path prints them ("spec.backup.schedules[2].name",
 * "spec.affinity.nodeSelector[disktype]"), type checks that report instead of
 * crashing on a value of the wrong JSON type, and the common Kubernetes name
 * checks. Everything here only reads the object.
 */
#ifndef PGW_VALIDATORS_FIELDS_H
#define PGW_VALIDATORS_FIELDS_H

#include <stddef.h>
#include <jansson.h>

#include "common/errors.h"
#include "common/quantity.h"

/* "base.child" (or "child" when base is ""). malloc'd; the caller frees. */
char *pgw_path_child(const char *base, const char *child);
/* "base[i]". malloc'd. */
char *pgw_path_index(const char *base, size_t i);
/* "base[key]". malloc'd. */
char *pgw_path_key(const char *base, const char *key);

/* Member `key` of `obj` when obj is an object and the member is not null; else NULL. Borrowed. */
json_t *pgw_member(const json_t *obj, const char *key);

/*
 * Type checks. Each returns 1 when `v` is present with the right type, 0 when
 * it is absent (NULL), and -1 after reporting "must be of type ..." under `path`.
 */
int pgw_expect_object(struct pgw_errors *errs, const char *path, const json_t *v);
int pgw_expect_array(struct pgw_errors *errs, const char *path, const json_t *v);
int pgw_expect_string(struct pgw_errors *errs, const char *path, const json_t *v);
int pgw_expect_bool(struct pgw_errors *errs, const char *path, const json_t *v);
int pgw_expect_integer(struct pgw_errors *errs, const char *path, const json_t *v);

/* Like pgw_expect_* but reports "Required value" when absent. Returns 1 only when usable. */
int pgw_require_object(struct pgw_errors *errs, const char *path, const json_t *v);
int pgw_require_string(struct pgw_errors *errs, const char *path, const json_t *v);

/* An integer in [min, max]: "must be between min and max". Returns 1 when usable and in range. */
int pgw_check_int_range(struct pgw_errors *errs, const char *path, const json_t *v, long long min, long long max);

/* A string among `allowed` (NULL-terminated): "Unsupported value" listing them. Returns 1 when valid. */
int pgw_check_enum(struct pgw_errors *errs, const char *path, const json_t *v, const char *const *allowed);

/* A Kubernetes quantity. Fills *q and returns 1 when valid; reports and returns -1; 0 when absent. */
int pgw_check_quantity(struct pgw_errors *errs, const char *path, const json_t *v, struct pgw_quantity *q);

/* Object names referenced by the spec (Secrets, ConfigMaps, StorageClasses): DNS-1123 subdomains. */
int pgw_check_object_name(struct pgw_errors *errs, const char *path, const json_t *v);

/* A cluster name: DNS-1035 label of at most 50 characters. Returns 1 when valid. */
int pgw_check_cluster_name(struct pgw_errors *errs, const char *path, const json_t *v);
#define PGW_CLUSTER_NAME_MAX 50

/* Warns `unknown field "path.key"` for members not in `known` (NULL-terminated), as kubectl does. */
void pgw_warn_unknown_fields(struct pgw_errors *errs, const char *path, const json_t *obj, const char *const *known);

/* Forbidden "field is immutable" when old and new values differ (absent counts as a value). */
int pgw_check_immutable(struct pgw_errors *errs, const char *path, const json_t *now, const json_t *before);

#endif
