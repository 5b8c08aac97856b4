/*
 * PostgreSQL value parsing, mirroring guc.c step by step.
 *
 * Integers: strtol with base 0 (so "0x10" and "010" are hex and octal); if it
 * stops at '.', 'e' or 'E' or overflows a long, the value is re-read with
 * strtod ("1.5", "1e3"). NaN is rejected; whitespace may separate the number
 * from its unit and may follow the unit. A unit (case-sensitive, at most 3
 * characters) is only allowed on parameters that have one, and is converted to
 * the parameter's base unit; a fractional result is first rounded to a whole
 * number of the next smaller unit ("1.5GB" is exact, "0.3kB" on a kB
 * parameter is 0.3 kB) and the integer is then rint()-rounded (half to even)
 * before the INT_MIN..INT_MAX and min..max checks. Reals: strtod, same unit
 * rules, no rounding. Bools: parse_bool. Enums: case-insensitive exact match
 * against visible and hidden spellings.
 *
 * We call the same libc functions (strtol, strtod, rint) as the server, in the
 * C locale, so the edge cases (hex floats, "inf", ERANGE) behave identically.
 */
#include "validators/pg_value.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

#define MAX_UNIT_LEN 3

static const char memory_units_hint[] = "valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\"";
static const char time_units_hint[] = "valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\"";

/* A unit the user may write, largest first, as in guc.c's conversion tables. */
struct st_unit_t {
    const char *name;
    double bytes_or_ms; /* size in bytes (memory) or milliseconds (time) */
};

static const struct st_unit_t memory_units[] = {
    {"TB", 1024.0 * 1024.0 * 1024.0 * 1024.0},
    {"GB", 1024.0 * 1024.0 * 1024.0},
    {"MB", 1024.0 * 1024.0},
    {"kB", 1024.0},
    {"B", 1.0},
};
/* Time units as guc.c lists them; multipliers are computed per base below. */
static const char *const time_units[] = {"d", "h", "min", "s", "ms", "us"};

double pgw_pg_value_unit_bytes(const char *unit)
{
    char *end;
    double n = 1;
    if (isdigit((unsigned char)unit[0]))
        n = strtod(unit, &end);
    else
        end = (char *)unit;
    for (size_t i = 0; i != sizeof(memory_units) / sizeof(memory_units[0]); ++i)
        if (strcmp(end, memory_units[i].name) == 0)
            return n * memory_units[i].bytes_or_ms;
    return 0;
}

/*
 * guc.c's time tables spell each multiplier as an expression; these give the
 * same doubles (exact integers, or 1.0 divided by an integer).
 */
static double time_multiplier(const char *base, size_t unit)
{
    static const double ms[] = {1000.0 * 60 * 60 * 24, 1000.0 * 60 * 60, 1000.0 * 60, 1000.0, 1.0, 1.0 / 1000};
    static const double s[] = {60.0 * 60 * 24, 60.0 * 60, 60.0, 1.0, 1.0 / 1000, 1.0 / (1000 * 1000)};
    static const double min[] = {60.0 * 24, 60.0, 1.0, 1.0 / 60, 1.0 / (1000 * 60), 1.0 / (1000 * 1000 * 60)};
    if (strcmp(base, "ms") == 0)
        return ms[unit];
    if (strcmp(base, "s") == 0)
        return s[unit];
    return min[unit];
}

static bool is_time_unit(const char *unit)
{
    return strcmp(unit, "ms") == 0 || strcmp(unit, "s") == 0 || strcmp(unit, "min") == 0;
}

/*
 * convert_to_base_unit(): `unit` is the text after the number (leading
 * whitespace already skipped). Returns false for an unknown unit or trailing
 * garbage.
 */
static bool convert_to_base_unit(double value, const char *unit, const char *base, double *out)
{
    char unitstr[MAX_UNIT_LEN + 1];
    size_t len = 0;
    while (*unit != '\0' && !isspace((unsigned char)*unit) && len < MAX_UNIT_LEN)
        unitstr[len++] = *unit++;
    unitstr[len] = '\0';
    while (isspace((unsigned char)*unit))
        unit++;
    if (*unit != '\0')
        return false;

    if (is_time_unit(base)) {
        size_t n = sizeof(time_units) / sizeof(time_units[0]);
        for (size_t i = 0; i != n; ++i) {
            if (strcmp(unitstr, time_units[i]) != 0)
                continue;
            double v = value * time_multiplier(base, i);
            if (i + 1 != n) {
                double next = time_multiplier(base, i + 1);
                v = rint(v / next) * next;
            }
            *out = v;
            return true;
        }
        return false;
    }
    double base_bytes = pgw_pg_value_unit_bytes(base);
    size_t n = sizeof(memory_units) / sizeof(memory_units[0]);
    for (size_t i = 0; i != n; ++i) {
        if (strcmp(unitstr, memory_units[i].name) != 0)
            continue;
        double v = value * (memory_units[i].bytes_or_ms / base_bytes);
        if (i + 1 != n) {
            double next = memory_units[i + 1].bytes_or_ms / base_bytes;
            v = rint(v / next) * next;
        }
        *out = v;
        return true;
    }
    return false;
}

static char *invalid(const struct pgw_pg_param *p, const char *hint)
{
    return hint ? pgw_asprintf("invalid value for parameter \"%s\": %s", p->name, hint)
                : pgw_asprintf("invalid value for parameter \"%s\"", p->name);
}

/* Number and optional unit, shared by parse_int and parse_real. */
static int parse_number(const struct pgw_pg_param *p, const char *value, double val, char *endptr, double *out, char **error)
{
    if (endptr == value || errno == ERANGE || isnan(val)) {
        *error = invalid(p, NULL);
        return -1;
    }
    while (isspace((unsigned char)*endptr))
        endptr++;
    if (*endptr != '\0') {
        if (p->unit[0] == '\0') {
            *error = invalid(p, "this parameter takes no unit");
            return -1;
        }
        if (!convert_to_base_unit(val, endptr, p->unit, &val)) {
            *error = invalid(p, is_time_unit(p->unit) ? time_units_hint : memory_units_hint);
            return -1;
        }
    }
    *out = val;
    return 0;
}

static const char *unit_suffix(const struct pgw_pg_param *p)
{
    return p->unit[0] != '\0' ? " " : "";
}

static int parse_int(const struct pgw_pg_param *p, const char *value, double *out, char **error)
{
    char *endptr;
    errno = 0;
    double val = (double)strtol(value, &endptr, 0);
    if (*endptr == '.' || *endptr == 'e' || *endptr == 'E' || errno == ERANGE) {
        errno = 0;
        val = strtod(value, &endptr);
    }
    if (parse_number(p, value, val, endptr, &val, error) != 0)
        return -1;
    val = rint(val);
    if (val > INT_MAX || val < INT_MIN) {
        *error = invalid(p, "value exceeds integer range");
        return -1;
    }
    if (val < p->min || val > p->max) {
        const char *sp = unit_suffix(p);
        *error = pgw_asprintf("%d%s%s is outside the valid range for parameter \"%s\" (%d%s%s .. %d%s%s)", (int)val, sp, p->unit,
                              p->name, (int)p->min, sp, p->unit, (int)p->max, sp, p->unit);
        return -1;
    }
    *out = val;
    return 0;
}

static int parse_real(const struct pgw_pg_param *p, const char *value, double *out, char **error)
{
    char *endptr;
    errno = 0;
    double val = strtod(value, &endptr);
    if (parse_number(p, value, val, endptr, &val, error) != 0)
        return -1;
    if (val < p->min || val > p->max) {
        const char *sp = unit_suffix(p);
        *error = pgw_asprintf("%g%s%s is outside the valid range for parameter \"%s\" (%g%s%s .. %g%s%s)", val, sp, p->unit,
                              p->name, p->min, sp, p->unit, p->max, sp, p->unit);
        return -1;
    }
    *out = val;
    return 0;
}

bool pgw_pg_value_parse_bool(const char *value, bool *result)
{
    size_t len = strlen(value);
    *result = false;
    switch (*value) {
    case 't':
    case 'T':
        return strncasecmp(value, "true", len) == 0 ? (*result = true) : false;
    case 'f':
    case 'F':
        return strncasecmp(value, "false", len) == 0;
    case 'y':
    case 'Y':
        return strncasecmp(value, "yes", len) == 0 ? (*result = true) : false;
    case 'n':
    case 'N':
        return strncasecmp(value, "no", len) == 0;
    case 'o':
    case 'O':
        /* "o" alone is ambiguous: at least two characters must match. */
        if (strncasecmp(value, "on", len > 2 ? len : 2) == 0)
            return (*result = true);
        return strncasecmp(value, "off", len > 2 ? len : 2) == 0;
    case '1':
        return len == 1 ? (*result = true) : false;
    case '0':
        return len == 1;
    default:
        return false;
    }
}

static const char *lookup_enum(const char *const *values, const char *value)
{
    for (size_t i = 0; values != NULL && values[i] != NULL; ++i)
        if (strcasecmp(values[i], value) == 0)
            return values[i];
    return NULL;
}

static char *enum_error(const struct pgw_pg_param *p)
{
    size_t len = 0;
    for (size_t i = 0; p->enumvals[i] != NULL; ++i)
        len += strlen(p->enumvals[i]) + 2;
    char *list = pgw_malloc(len + 1);
    list[0] = '\0';
    for (size_t i = 0; p->enumvals[i] != NULL; ++i) {
        if (i != 0)
            strcat(list, ", ");
        strcat(list, p->enumvals[i]);
    }
    char *msg = pgw_asprintf("invalid value for parameter \"%s\": available values: %s", p->name, list);
    free(list);
    return msg;
}

int pgw_pg_value_parse(const struct pgw_pg_param *p, const char *value, struct pgw_pg_value *out, char **error)
{
    memset(out, 0, sizeof(*out));
    *error = NULL;
    switch (p->vartype) {
    case PGW_PG_BOOL:
        if (!pgw_pg_value_parse_bool(value, &out->boolval)) {
            *error = pgw_asprintf("parameter \"%s\" requires a Boolean value (on, off, true, false, yes, no, 1, 0)", p->name);
            return -1;
        }
        return 0;
    case PGW_PG_INTEGER:
        return parse_int(p, value, &out->number, error);
    case PGW_PG_REAL:
        return parse_real(p, value, &out->number, error);
    case PGW_PG_ENUM:
        if ((out->enumval = lookup_enum(p->enumvals, value)) == NULL && (out->enumval = lookup_enum(p->hidden, value)) == NULL) {
            *error = enum_error(p);
            return -1;
        }
        return 0;
    case PGW_PG_STRING:
        return 0;
    }
    return 0;
}
