/*
 * PostgreSQL log sequence numbers, accepted exactly as the pg_lsn input
 * function accepts them: 1 to 8 hexadecimal digits (either case), '/', 1 to 8
 * hexadecimal digits, and nothing else (no sign, no spaces, no "0x").
 * "0/0" is accepted, as pg_lsn accepts it. Recovery targets and backup status
 * carry LSNs, and PostgreSQL would refuse anything else at restore time.
 */
#include <stdio.h>
#include <string.h>

#include "common/lsn.h"

static const char err_lsn[] =
    "must be a PostgreSQL LSN: two hexadecimal numbers of 1 to 8 digits separated by '/' (e.g. '16/B374D848')";

static const char hex_digits[] = "0123456789abcdefABCDEF";

static uint32_t hex_value(const char *s, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : (unsigned)(c - 'A' + 10);
        v = v << 4 | d;
    }
    return v;
}

int pgw_lsn_parse(const char *s, uint64_t *out, const char **why)
{
    *out = 0;
    if (s == NULL)
        goto bad;
    size_t hi_len = strspn(s, hex_digits);
    if (hi_len < 1 || hi_len > 8 || s[hi_len] != '/')
        goto bad;
    const char *lo = s + hi_len + 1;
    size_t lo_len = strspn(lo, hex_digits);
    if (lo_len < 1 || lo_len > 8 || lo[lo_len] != '\0')
        goto bad;
    *out = (uint64_t)hex_value(s, hi_len) << 32 | hex_value(lo, lo_len);
    return 0;
bad:
    if (why != NULL)
        *why = err_lsn;
    return -1;
}

char *pgw_lsn_format(uint64_t lsn, char *buf, size_t bufsize)
{
    if (bufsize > 0)
        snprintf(buf, bufsize, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
    return buf;
}
