/*
 * RFC 3339 timestamps, accepted exactly as Go's time.Parse(time.RFC3339, s)
 * accepts them, which is what Kubernetes uses for metav1.Time.
 *
 * Go tries a strict RFC 3339 scanner first and falls back to its generic
 * layout parser; the union of the two is what the API server accepts, so that
 * is what we accept:
 *   - "2006-01-02T15:04:05Z" and "...+02:00"/"...-07:30"; 'T' and 'Z' upper case only;
 *   - fractional seconds of any length after '.' or ',' (dropped here);
 *   - a one-digit hour ("2006-01-02T1:04:05Z"), as the layout's "15" allows;
 *   - zone offsets up to +24:00 and minutes up to 60, as the layout parser allows;
 *   - dates are checked against the calendar (no Feb 30), hour 24 and second 60 are not valid.
 *
 * The epoch is computed from the civil date directly (days since 1970-01-01
 * in the proleptic Gregorian calendar), so neither the process time zone nor
 * timegm is involved.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"

static const char err_syntax[] = "must be an RFC 3339 timestamp (e.g. '2006-01-02T15:04:05Z')";
static const char err_month[] = "invalid RFC 3339 timestamp: month out of range";
static const char err_day[] = "invalid RFC 3339 timestamp: day out of range";
static const char err_hour[] = "invalid RFC 3339 timestamp: hour out of range";
static const char err_minute[] = "invalid RFC 3339 timestamp: minute out of range";
static const char err_second[] = "invalid RFC 3339 timestamp: second out of range";
static const char err_zone[] = "invalid RFC 3339 timestamp: time zone offset out of range";

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly `width` digits at *p; advances *p. */
static int fixed(const char **p, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        if (!is_digit((*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += width;
    *out = v;
    return 0;
}

static int literal(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int fail(const char **why, const char *msg)
{
    if (why != NULL)
        *why = msg;
    return -1;
}

int pgw_rfc3339_parse(const char *s, time_t *out, const char **why)
{
    int year, month, day, hour, minute, second;
    *out = 0;
    if (s == NULL)
        return fail(why, err_syntax);
    const char *p = s;
    if (fixed(&p, 4, &year) || literal(&p, '-') || fixed(&p, 2, &month) || literal(&p, '-') || fixed(&p, 2, &day) ||
        literal(&p, 'T'))
        return fail(why, err_syntax);
    /* The hour takes one or two digits. */
    if (!is_digit(p[0]))
        return fail(why, err_syntax);
    hour = p[0] - '0';
    p++;
    if (is_digit(p[0])) {
        hour = hour * 10 + (p[0] - '0');
        p++;
    }
    if (literal(&p, ':') || fixed(&p, 2, &minute) || literal(&p, ':') || fixed(&p, 2, &second))
        return fail(why, err_syntax);
    if ((p[0] == '.' || p[0] == ',') && is_digit(p[1])) {
        p++;
        while (is_digit(*p))
            p++;
    }
    int offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (fixed(&p, 2, &oh) || literal(&p, ':') || fixed(&p, 2, &om))
            return fail(why, err_syntax);
        if (oh > 24 || om > 60)
            return fail(why, err_zone);
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return fail(why, err_syntax);
    }
    if (*p != '\0')
        return fail(why, err_syntax);

    if (month < 1 || month > 12)
        return fail(why, err_month);
    if (hour > 23)
        return fail(why, err_hour);
    if (minute > 59)
        return fail(why, err_minute);
    if (second > 59)
        return fail(why, err_second);
    if (day < 1 || day > days_in_month(year, month))
        return fail(why, err_day);

    int64_t t = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
    *out = (time_t)t;
    return 0;
}

char *pgw_rfc3339_format(time_t t, char *buf, size_t bufsize)
{
    int64_t secs = (int64_t)t;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (bufsize > 0)
        snprintf(buf, bufsize, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)year, month, day, (int)(rem / 3600),
                 (int)(rem % 3600 / 60), (int)(rem % 60));
    return buf;
}

double pgw_rfc3339_age(const char *s, time_t now)
{
    time_t t;
    const char *why = NULL;
    if (s == NULL || pgw_rfc3339_parse(s, &t, &why) != 0)
        return 0;
    return difftime(now, t);
}
