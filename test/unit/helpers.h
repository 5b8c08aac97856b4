/*
 * Shared helpers for the API unit tests (header-only: each test file is its own binary).
 * JSON literals in the tables use single quotes for readability; q() swaps them.
 */
#ifndef PGW_TEST_HELPERS_H
#define PGW_TEST_HELPERS_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/errors.h"
#include "common/request.h"
#include "common/xalloc.h"
#include "mutators/mutators.h"

/* Parses a JSON literal written with ' for ". Aborts the test on a typo. */
static inline json_t *q(const char *text)
{
    char *s = pgw_strdup(text);
    for (char *p = s; *p; ++p)
        if (*p == '\'')
            *p = '"';
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    if (v == NULL)
        ck_abort_msg("bad test JSON %s: %s", text, e.text);
    free(s);
    return v;
}

/* RFC 7386 merge patch: null deletes, objects merge, anything else replaces. */
static inline void merge(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value)
    {
        json_t *cur = json_object_get(target, key);
        if (json_is_null(value))
            json_object_del(target, key);
        else if (json_is_object(value) && json_is_object(cur))
            merge(cur, value);
        else
            json_object_set_new(target, key, json_deep_copy(value));
    }
}

/* The cluster `base` with `patch` merged in (NULL: none), defaulted as the webhook does for
 * `operation` in namespace "shop" under the name "demo". The caller owns the result. */
static inline json_t *defaulted_cluster(const char *base, const char *patch, const char *operation, time_t now)
{
    json_t *obj = q(base);
    if (patch != NULL) {
        json_t *p = q(patch);
        merge(obj, p);
        json_decref(p);
    }
    struct pgw_request_ctx ctx = {.operation = operation, .namespace = "shop", .name = "demo", .now = now};
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_mutate_postgrescluster(obj, &ctx, &errs);
    pgw_errors_dispose(&errs);
    return obj;
}

static inline char *errors_text(const struct pgw_errors *errs)
{
    char *out = pgw_strdup("");
    for (size_t i = 0; i != errs->count; ++i) {
        char *e = pgw_field_error_format(&errs->items[i]);
        char *next = pgw_asprintf("%s\n  %s", out, e);
        free(out);
        free(e);
        out = next;
    }
    return out;
}

/* 1 when errs holds an error with exactly `path` and `type` whose body contains `detail`. */
static inline int has_error(const struct pgw_errors *errs, const char *path, pgw_error_type_t type, const char *detail)
{
    for (size_t i = 0; i != errs->count; ++i) {
        const struct pgw_field_error *e = &errs->items[i];
        if (strcmp(e->path, path) != 0 || e->type != type)
            continue;
        char *body = pgw_field_error_body(e);
        int ok = detail == NULL || strstr(body, detail) != NULL;
        free(body);
        if (ok)
            return 1;
    }
    return 0;
}

static inline int has_warning(const struct pgw_errors *errs, const char *needle)
{
    for (size_t i = 0; i != errs->warning_count; ++i)
        if (strstr(errs->warnings[i], needle) != NULL)
            return 1;
    return 0;
}

/* Runs every test of the suite; the process exit status (0 when all passed). */
static inline int pgw_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
