/*
 * Cron schedules, accepted as a Kubernetes CronJob accepts spec.schedule.
 *
 * Kubernetes parses the schedule with robfig/cron's standard parser and, for
 * new objects, refuses any "TZ" in it (CRON_TZ= or TZ= prefixes belong in
 * spec.timeZone). We follow the parser's grammar, quirks included:
 *   - five fields split on any white space: minute 0-59, hour 0-23,
 *     day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-6 or SUN-SAT
 *     (7 is out of range; names in any case, three letters only);
 *   - each field is a comma list of "*" or "?", "a", "a-b", each optionally
 *     "/step"; "a/step" means "a-max/step"; numbers may carry a '+' sign;
 *     empty list items are skipped, as robfig skips them ("1,,2");
 *   - a step of 0, a reversed range and values out of range are errors;
 *   - descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly,
 *     spelled exactly (no spaces around them).
 * One deliberate difference: robfig (hence Kubernetes) also takes
 * "@every <duration>". We reject it: its interval counts from whenever the
 * controller last started, which is the wrong model for backups, and our API
 * documents only the descriptors above.
 *
 * robfig stops at the first problem and does not say which field it is in;
 * our messages name the field ("minute field: 61 is out of range 0-59") and
 * report the first problem of every field, joined by "; ".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"
#include "common/xalloc.h"

struct st_cron_field_t {
    const char *name;
    unsigned long long min, max;
    const char *const *names; /* lower case, names[i] means min + i; NULL when the field takes no names */
    const char *names_hint;
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct st_cron_field_t cron_fields[5] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day-of-month", 1, 31, NULL, NULL},
    {"month", 1, 12, month_names, " or a month name (JAN-DEC)"},
    {"day-of-week", 0, 6, weekday_names, " or a weekday name (SUN-SAT)"},
};

static const char *const descriptors[] = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", NULL};

/* Length of the white space (Go's unicode.IsSpace, UTF-8) at p, or 0. */
static size_t space_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
        return 1;
    if (p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0))
        return 2;
    if (p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
        return 3;
    if (p[0] == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
        return 3;
    if (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)
        return 3;
    if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
        return 3;
    return 0;
}

/* Go's strconv.Atoi (64-bit): optional sign, at least one digit, no overflow. */
static int parse_int(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int negative = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        i++;
    }
    if (i == n)
        return -1;
    unsigned long long limit = negative ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX, v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (negative)
        *out = v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(long long)v;
    else
        *out = (long long)v;
    return 0;
}

static int lower_equal(const char *s, size_t n, const char *name)
{
    if (strlen(name) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        if (c != name[i])
            return 0;
    }
    return 1;
}

/* A range bound: a name of the field, or a non-negative integer. Returns a malloc'd error or NULL. */
static char *parse_bound(const struct st_cron_field_t *f, const char *s, size_t n, unsigned long long *out)
{
    if (f->names != NULL) {
        for (size_t i = 0; f->names[i] != NULL; i++) {
            if (lower_equal(s, n, f->names[i])) {
                *out = f->min + i;
                return NULL;
            }
        }
    }
    long long v;
    /* A bound never holds '-' (ranges are split on it), so v < 0 cannot happen; refuse it anyway. */
    if (parse_int(s, n, &v) != 0 || v < 0)
        return pgw_asprintf("%s field: '%.*s' is not a number%s", f->name, (int)n, s, f->names_hint ? f->names_hint : "");
    *out = (unsigned long long)v;
    return NULL;
}

static size_t count_char(const char *s, size_t n, char c)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += s[i] == c;
    return count;
}

/* One list item: "*", "?", "a" or "a-b", each optionally followed by "/step". Returns a malloc'd error or NULL. */
static char *check_expr(const struct st_cron_field_t *f, const char *expr, size_t n)
{
    const char *slash = memchr(expr, '/', n);
    size_t range_len = slash ? (size_t)(slash - expr) : n;
    size_t slashes = count_char(expr, n, '/');
    size_t hyphens = count_char(expr, range_len, '-');
    const char *hyphen = memchr(expr, '-', range_len);
    size_t low_len = hyphen ? (size_t)(hyphen - expr) : range_len;
    unsigned long long start, end;
    char *err;

    if (low_len == 1 && (expr[0] == '*' || expr[0] == '?')) {
        start = f->min;
        end = f->max;
    } else {
        if ((err = parse_bound(f, expr, low_len, &start)) != NULL)
            return err;
        if (hyphens == 0) {
            end = start;
        } else if (hyphens == 1) {
            if ((err = parse_bound(f, hyphen + 1, range_len - low_len - 1, &end)) != NULL)
                return err;
        } else {
            return pgw_asprintf("%s field: too many hyphens in '%.*s'", f->name, (int)n, expr);
        }
    }
    if (slashes == 1) {
        long long v;
        const char *s = slash + 1;
        size_t len = n - range_len - 1;
        if (parse_int(s, len, &v) != 0)
            return pgw_asprintf("%s field: step '%.*s' is not a number", f->name, (int)len, s);
        if (v <= 0)
            return pgw_asprintf("%s field: step must be a positive number in '%.*s'", f->name, (int)n, expr);
        if (hyphens == 0)
            end = f->max; /* "a/step" means "a-max/step" */
    } else if (slashes > 1) {
        return pgw_asprintf("%s field: too many slashes in '%.*s'", f->name, (int)n, expr);
    }
    if (start < f->min)
        return pgw_asprintf("%s field: %llu is out of range %llu-%llu", f->name, start, f->min, f->max);
    if (end > f->max)
        return pgw_asprintf("%s field: %llu is out of range %llu-%llu", f->name, end, f->min, f->max);
    if (start > end)
        return pgw_asprintf("%s field: range start %llu is after range end %llu in '%.*s'", f->name, start, end, (int)n, expr);
    return NULL;
}

static char *check_field(const struct st_cron_field_t *f, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *comma = memchr(s + i, ',', n - i);
        size_t item_end = comma ? (size_t)(comma - s) : n;
        if (item_end > i) {
            char *err = check_expr(f, s + i, item_end - i);
            if (err != NULL)
                return err;
        }
        i = item_end + 1;
    }
    return NULL;
}

/* Appends msg (taking it) to *all, "; "-separated. */
static void append_error(char **all, char *msg)
{
    if (*all == NULL) {
        *all = msg;
        return;
    }
    char *joined = pgw_asprintf("%s; %s", *all, msg);
    free(*all);
    free(msg);
    *all = joined;
}

static int fail(char **why, char *msg)
{
    if (why != NULL)
        *why = msg;
    else
        free(msg);
    return -1;
}

int pgw_cron_validate(const char *spec, char **why)
{
    if (why != NULL)
        *why = NULL;
    if (spec == NULL || *spec == '\0')
        return fail(why, pgw_strdup("empty spec string"));
    if (strstr(spec, "TZ") != NULL)
        return fail(why, pgw_strdup("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));

    if (spec[0] == '@') {
        for (size_t i = 0; descriptors[i] != NULL; i++)
            if (strcmp(spec, descriptors[i]) == 0)
                return 0;
        if (strncmp(spec, "@every ", 7) == 0)
            return fail(why, pgw_strdup("@every is not supported: use five fields or one of @yearly, @annually, "
                                        "@monthly, @weekly, @daily, @midnight, @hourly"));
        return fail(why, pgw_asprintf("unrecognized descriptor: %s", spec));
    }

    /* Split on white space, as Go's strings.Fields. */
    size_t cap = 8, count = 0;
    const char **starts = pgw_malloc(cap * sizeof(*starts));
    size_t *lens = pgw_malloc(cap * sizeof(*lens));
    const char *p = spec;
    while (*p != '\0') {
        size_t sp = space_len(p);
        if (sp > 0) {
            p += sp;
            continue;
        }
        const char *start = p;
        while (*p != '\0' && space_len(p) == 0)
            p++;
        if (count == cap) {
            cap *= 2;
            starts = pgw_realloc(starts, cap * sizeof(*starts));
            lens = pgw_realloc(lens, cap * sizeof(*lens));
        }
        starts[count] = start;
        lens[count] = (size_t)(p - start);
        count++;
    }

    char *errors = NULL;
    if (count != 5) {
        /* robfig's wording: "expected exactly 5 fields, found 6: [0 0 * * * *]"; built in one pass. */
        char *head = pgw_asprintf("expected exactly 5 fields, found %zu: [", count);
        size_t size = strlen(head) + count + 2;
        for (size_t i = 0; i < count; i++)
            size += lens[i];
        errors = pgw_malloc(size);
        char *w = errors;
        w += strlen(strcpy(w, head));
        for (size_t i = 0; i < count; i++) {
            if (i > 0)
                *w++ = ' ';
            memcpy(w, starts[i], lens[i]);
            w += lens[i];
        }
        strcpy(w, "]");
        free(head);
    } else {
        for (size_t i = 0; i < 5; i++) {
            char *err = check_field(&cron_fields[i], starts[i], lens[i]);
            if (err != NULL)
                append_error(&errors, err);
        }
    }
    free(starts);
    free(lens);
    if (errors != NULL)
        return fail(why, errors);
    return 0;
}
