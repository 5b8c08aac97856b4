/*
 * RFC 3339 timestamps as Kubernetes accepts them (time.RFC3339 in Go:
 * "2006-01-02T15:04:05Z07:00", fractional seconds allowed on input).
 */
#ifndef PGW_COMMON_TIMEFMT_H
#define PGW_COMMON_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* Parses `s`. Returns 0 and the UTC epoch seconds in *out (fraction dropped), or -1 with a static *why. */
int pgw_rfc3339_parse(const char *s, time_t *out, const char **why);
/* Formats `t` as "YYYY-MM-DDTHH:MM:SSZ" into buf (≥ 21 bytes). Returns buf. */
char *pgw_rfc3339_format(time_t t, char *buf, size_t bufsize);
/* Seconds from `s` (NULL allowed) to `now`; 0 when `s` is absent or not RFC 3339. */
double pgw_rfc3339_age(const char *s, time_t now);

#endif
