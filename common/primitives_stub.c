/*
 * Placeholders for the shared primitives (quantity, names, timestamps, LSN,
 * cron) until their implementation lands: every check fails closed.
 * Delete this file when common/quantity.c and friends exist.
 */
#include <stdio.h>
#include <string.h>

#include "common/cron.h"
#include "common/lsn.h"
#include "common/names.h"
#include "common/quantity.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

static const char not_implemented[] = "not implemented yet";

int pgw_quantity_parse(const char *s, struct pgw_quantity *q, const char **why)
{
    (void)s;
    memset(q, 0, sizeof(*q));
    *why = not_implemented;
    return -1;
}
int pgw_quantity_cmp(const struct pgw_quantity *a, const struct pgw_quantity *b)
{
    (void)a;
    (void)b;
    return 0;
}
int64_t pgw_quantity_value(const struct pgw_quantity *q)
{
    (void)q;
    return 0;
}
int64_t pgw_quantity_milli_value(const struct pgw_quantity *q)
{
    (void)q;
    return 0;
}
char *pgw_quantity_format(const struct pgw_quantity *q, char *buf, int bufsize)
{
    (void)q;
    snprintf(buf, (size_t)bufsize, "0");
    return buf;
}
static int fail(const char *s, const char **why)
{
    (void)s;
    *why = not_implemented;
    return -1;
}
int pgw_dns1123_label(const char *s, const char **why)
{
    return fail(s, why);
}
int pgw_dns1123_subdomain(const char *s, const char **why)
{
    return fail(s, why);
}
int pgw_dns1035_label(const char *s, const char **why)
{
    return fail(s, why);
}
int pgw_label_key(const char *s, const char **why)
{
    return fail(s, why);
}
int pgw_label_value(const char *s, const char **why)
{
    return fail(s, why);
}
int pgw_rfc3339_parse(const char *s, time_t *out, const char **why)
{
    *out = 0;
    return fail(s, why);
}
char *pgw_rfc3339_format(time_t t, char *buf, size_t bufsize)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, bufsize, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}
int pgw_lsn_parse(const char *s, uint64_t *out, const char **why)
{
    *out = 0;
    return fail(s, why);
}
int pgw_cron_validate(const char *spec, char **why)
{
    (void)spec;
    *why = pgw_strdup(not_implemented);
    return -1;
}
