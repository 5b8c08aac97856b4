/*
 * pg_param_check: runs pgw_pg_params_validate on one parameter per input line,
 * for comparing our verdicts with the real servers
 * (test/integration/test_pg_params_real.py).
 *
 * Input lines, tab-separated:  <major> TAB <name> TAB <value> [TAB <shared_preload_libraries>]
 * A value is written with C-style escapes for "\\", "\t" and "\n".
 * Output, one line per input line:  accept | reject TAB <first error>
 * Warnings do not turn a line into a reject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "validators/pg_params.h"

static char *unescape(const char *s)
{
    char *out = pgw_malloc(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (*s == '\\' && s[1] != '\0') {
            s++;
            *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        char *fields[4] = {NULL, NULL, NULL, NULL};
        size_t n = 0;
        for (char *p = line; n < 4; n++) {
            fields[n] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL) {
                n++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        if (n < 3) {
            printf("reject\tmalformed input line\n");
            continue;
        }
        char *value = unescape(fields[2]);
        json_t *params = json_object(), *jvalue = json_string(value);
        if (jvalue == NULL) {
            printf("reject\tnot UTF-8\n");
            json_decref(params);
            free(value);
            continue;
        }
        json_object_set_new(params, fields[1], jvalue);
        if (n == 4 && json_object_get(params, "shared_preload_libraries") == NULL)
            json_object_set_new(params, "shared_preload_libraries", json_string(fields[3]));
        struct pgw_errors errs;
        pgw_errors_init(&errs);
        pgw_pg_params_validate(params, atoi(fields[0]), "spec.postgres.parameters", &errs);
        if (errs.count == 0) {
            printf("accept\n");
        } else {
            char *msg = pgw_field_error_format(&errs.items[0]);
            printf("reject\t%s\n", msg);
            free(msg);
        }
        pgw_errors_dispose(&errs);
        json_decref(params);
        free(value);
    }
    free(line);
    return 0;
}
