/*
 * Fuzzes the PostgreSQL parameter validator (spec.postgres.parameters) and the
 * byte-size reader the pooler and memory checks use.
 *
 * Input: the first byte picks the major (14..18). The rest is either a JSON
 * object (values of any JSON type, as a user could write them) or, when it is
 * not JSON, lines of "name=value" turned into an object of strings.
 * Properties: every error the validator reports names a path under the
 * parameters path.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/errors.h"
#include "validators/pg_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *params_from_lines(const char *text, size_t len)
{
    json_t *params = json_object();
    while (len != 0) {
        const char *nl = memchr(text, '\n', len);
        size_t line = nl != NULL ? (size_t)(nl - text) : len;
        const char *eq = memchr(text, '=', line);
        if (eq != NULL) {
            size_t klen = (size_t)(eq - text);
            char *key = malloc(klen + 1); /* not strndup: ASan's strict_string_checks reads past the '=' */
            memcpy(key, text, klen);
            key[klen] = '\0';
            json_t *value = json_stringn(eq + 1, line - klen - 1), *key_utf8 = json_stringn(text, klen);
            if (key != NULL && value != NULL && key_utf8 != NULL && strlen(key) == klen)
                json_object_set(params, key, value);
            json_decref(value);
            json_decref(key_utf8);
            free(key);
        }
        if (nl == NULL)
            break;
        text = nl + 1;
        len -= line + 1;
    }
    return params;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int major = PGW_PG_MAJOR_MIN + data[0] % PGW_PG_MAJOR_COUNT;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    json_t *params = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(params)) {
        json_decref(params);
        params = params_from_lines(text, len);
    }
    struct pgw_errors errs;
    pgw_errors_init(&errs);
    pgw_pg_params_validate(params, major, "spec.postgres.parameters", &errs);
    for (size_t i = 0; i != errs.count; ++i) {
        if (strncmp(errs.items[i].path, "spec.postgres.parameters", 24) != 0) {
            fprintf(stderr, "error outside the parameters path: %s\n", errs.items[i].path);
            abort();
        }
        free(pgw_field_error_format(&errs.items[i]));
    }
    pgw_errors_dispose(&errs);
    const char *name;
    json_t *value;
    json_object_foreach(params, name, value)
    {
        int64_t bytes;
        if (json_is_string(value))
            (void)pgw_pg_param_bytes(major, name, json_string_value(value), &bytes);
    }
    json_decref(params);
    return 0;
}
