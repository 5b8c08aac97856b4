/*
 * Field paths, type checks and name checks shared by the validators.
 * The messages follow apimachinery's so users see what core objects print.
 */
#include "validators/fields.h"

#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/xalloc.h"

char *pgw_path_child(const char *base, const char *child)
{
    return base[0] ? pgw_asprintf("%s.%s", base, child) : pgw_strdup(child);
}

char *pgw_path_index(const char *base, size_t i)
{
    return pgw_asprintf("%s[%zu]", base, i);
}

char *pgw_path_key(const char *base, const char *key)
{
    return pgw_asprintf("%s[%s]", base, key);
}

json_t *pgw_member(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

static int expect(struct pgw_errors *errs, const char *path, const json_t *v, int ok, const char *type)
{
    if (v == NULL)
        return 0;
    if (ok)
        return 1;
    pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be of type %s", type);
    return -1;
}

int pgw_expect_object(struct pgw_errors *errs, const char *path, const json_t *v)
{
    return expect(errs, path, v, json_is_object(v), "object");
}

int pgw_expect_array(struct pgw_errors *errs, const char *path, const json_t *v)
{
    return expect(errs, path, v, json_is_array(v), "array");
}

int pgw_expect_string(struct pgw_errors *errs, const char *path, const json_t *v)
{
    return expect(errs, path, v, json_is_string(v), "string");
}

int pgw_expect_bool(struct pgw_errors *errs, const char *path, const json_t *v)
{
    return expect(errs, path, v, json_is_boolean(v), "boolean");
}

int pgw_expect_integer(struct pgw_errors *errs, const char *path, const json_t *v)
{
    return expect(errs, path, v, json_is_integer(v), "integer");
}

int pgw_require_object(struct pgw_errors *errs, const char *path, const json_t *v)
{
    if (v == NULL) {
        pgw_errors_add(errs, PGW_ERR_REQUIRED, path, NULL, NULL);
        return 0;
    }
    return pgw_expect_object(errs, path, v) == 1;
}

int pgw_require_string(struct pgw_errors *errs, const char *path, const json_t *v)
{
    if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
        pgw_errors_add(errs, PGW_ERR_REQUIRED, path, NULL, NULL);
        return 0;
    }
    return pgw_expect_string(errs, path, v) == 1;
}

int pgw_check_int_range(struct pgw_errors *errs, const char *path, const json_t *v, long long min, long long max)
{
    if (pgw_expect_integer(errs, path, v) != 1)
        return 0;
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be between %lld and %lld", min, max);
        return 0;
    }
    return 1;
}

int pgw_check_enum(struct pgw_errors *errs, const char *path, const json_t *v, const char *const *allowed)
{
    if (pgw_expect_string(errs, path, v) != 1)
        return 0;
    for (const char *const *a = allowed; *a != NULL; ++a)
        if (strcmp(json_string_value(v), *a) == 0)
            return 1;
    /* As field.NotSupported: supported values: "a", "b" */
    char *list = pgw_strdup("");
    for (const char *const *a = allowed; *a != NULL; ++a) {
        char *next = pgw_asprintf("%s%s\"%s\"", list, a == allowed ? "" : ", ", *a);
        free(list);
        list = next;
    }
    pgw_errors_add(errs, PGW_ERR_NOT_SUPPORTED, path, v, "supported values: %s", list);
    free(list);
    return 0;
}

int pgw_check_quantity(struct pgw_errors *errs, const char *path, const json_t *v, struct pgw_quantity *q)
{
    if (v == NULL)
        return 0;
    if (!json_is_string(v) && !json_is_integer(v)) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "must be a Kubernetes quantity such as \"10Gi\"");
        return -1;
    }
    char buf[32];
    const char *text = json_string_value(v);
    if (text == NULL) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text = buf;
    }
    const char *why = NULL;
    if (pgw_quantity_parse(text, q, &why) != 0) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "%s", why ? why : "invalid quantity");
        return -1;
    }
    return 1;
}

int pgw_check_object_name(struct pgw_errors *errs, const char *path, const json_t *v)
{
    if (!pgw_require_string(errs, path, v))
        return 0;
    const char *why = NULL;
    if (pgw_dns1123_subdomain(json_string_value(v), &why) != 0) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "%s", why);
        return 0;
    }
    return 1;
}

int pgw_check_cluster_name(struct pgw_errors *errs, const char *path, const json_t *v)
{
    if (!pgw_require_string(errs, path, v))
        return 0;
    const char *name = json_string_value(v), *why = NULL;
    int ok = 1;
    if (strlen(name) > PGW_CLUSTER_NAME_MAX) {
        pgw_errors_add(errs, PGW_ERR_TOO_LONG, path, v,
                       "may not be more than %d bytes (child objects append suffixes to the cluster name)", PGW_CLUSTER_NAME_MAX);
        ok = 0;
    }
    if (pgw_dns1035_label(name, &why) != 0) {
        pgw_errors_add(errs, PGW_ERR_INVALID, path, v, "%s", why);
        ok = 0;
    }
    return ok;
}

void pgw_warn_unknown_fields(struct pgw_errors *errs, const char *path, const json_t *obj, const char *const *known)
{
    if (!json_is_object(obj))
        return;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        const char *const *k = known;
        while (*k != NULL && strcmp(*k, key) != 0)
            ++k;
        if (*k == NULL)
            pgw_errors_warn(errs, "unknown field \"%s.%s\"", path, key);
    }
}

int pgw_check_immutable(struct pgw_errors *errs, const char *path, const json_t *now, const json_t *before)
{
    if (now == NULL && before == NULL)
        return 1;
    if (now != NULL && before != NULL && json_equal(now, before))
        return 1;
    pgw_errors_add(errs, PGW_ERR_FORBIDDEN, path, now, "field is immutable");
    return 0;
}
