/*
 * Kubernetes quantities, parsed the way apimachinery's ParseQuantity parses them.
 *
 * The webhook compares sizes ("requests must not exceed limits", "storage
 * cannot shrink") and must agree with the API server on what is valid, so the
 * scanner follows apimachinery step by step, quirks included:
 *   - "5.", ".5" and "1.Gi" are valid;
 *   - a sign or a suffix without digits means zero ("-", ".", "Mi", "k"), except
 *     where apimachinery takes its slow path, which needs a digit ("Pi", "Ei",
 *     "e-10": "unable to parse numeric part of quantity");
 *   - a value finer than 1n is rounded up, away from zero ("0.1n" is "1n");
 *   - a value with a binary suffix is capped at 2^63-1 ("8Ei" is 9223372036854775807);
 *   - the exponent of e<n> is read as a 64-bit integer, then truncated to 32 bits.
 *
 * Values are exact decimals (significand digits × 10^exp10); there is no
 * floating point anywhere. One limit of ours: a significand of more than 63
 * significant digits is rounded up (away from zero) to 63 digits, where
 * apimachinery keeps them all.
 *
 * pgw_quantity_format prints the canonical form (Quantity.String() of a
 * computed quantity). apimachinery's String() echoes the input for some
 * inputs it already considers canonical ("+1" stays "+1", "01Gi" stays
 * "01Gi"); we always print the canonical form ("1", "1Gi").
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quantity.h"
#include "common/xalloc.h"

static const char err_format[] = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
static const char err_numeric[] = "unable to parse numeric part of quantity";
static const char err_suffix[] = "unable to parse quantity's suffix";
static const char err_range[] = "quantity exponent is out of range";

static const char int64_max_digits[] = "9223372036854775807";

enum suffix_kind { SUFFIX_DECIMAL, SUFFIX_BINARY, SUFFIX_EXPONENT };

struct st_suffix_t {
    const char *name;
    int32_t exponent; /* power of 10 (decimal) or of 2 (binary) */
};

static const struct st_suffix_t decimal_suffixes[] = {
    {"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}, {"E", 18},
};
static const struct st_suffix_t binary_suffixes[] = {
    {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60},
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_suffix_char(char c)
{
    return c != '\0' && strchr("eEinumkKMGTP", c) != NULL;
}

/* Go's int32(x) for an int64 x: keep the low 32 bits, two's complement. */
static int32_t wrap32(int64_t x)
{
    uint32_t w = (uint32_t)(uint64_t)x;
    if (w <= (uint32_t)INT32_MAX)
        return (int32_t)w;
    return (int32_t)(w - 2147483648u) - INT32_MAX - 1;
}

/* strconv.ParseInt(s[0:len], 10, 64): optional sign, at least one digit, no overflow. */
static int parse_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int negative = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        i++;
    }
    if (i == len)
        return -1;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (negative)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

/* apimachinery's suffixHandler.interpret. */
static int interpret_suffix(const char *suf, size_t len, enum suffix_kind *kind, int32_t *exponent)
{
    for (size_t i = 0; i < sizeof(decimal_suffixes) / sizeof(decimal_suffixes[0]); i++) {
        if (strlen(decimal_suffixes[i].name) == len && memcmp(decimal_suffixes[i].name, suf, len) == 0) {
            *kind = SUFFIX_DECIMAL;
            *exponent = decimal_suffixes[i].exponent;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(binary_suffixes) / sizeof(binary_suffixes[0]); i++) {
        if (strlen(binary_suffixes[i].name) == len && memcmp(binary_suffixes[i].name, suf, len) == 0) {
            *kind = SUFFIX_BINARY;
            *exponent = binary_suffixes[i].exponent;
            return 0;
        }
    }
    if (len > 1 && (suf[0] == 'e' || suf[0] == 'E')) {
        int64_t v;
        if (parse_int64(suf + 1, len - 1, &v) != 0)
            return -1;
        *kind = SUFFIX_EXPONENT;
        *exponent = wrap32(v);
        return 0;
    }
    return -1;
}

/*
 * A working number: ASCII digits buf[start .. start+len), value digits × 10^exp10.
 * Room is left in front of the digits so carries can grow the number leftwards.
 */
struct st_number_t {
    char *buf;
    size_t start, len;
    int64_t exp10;
};

static void number_mul_small(struct st_number_t *n, unsigned factor)
{
    unsigned carry = 0;
    for (size_t i = n->start + n->len; i > n->start; i--) {
        unsigned v = (unsigned)(n->buf[i - 1] - '0') * factor + carry;
        n->buf[i - 1] = (char)('0' + v % 10);
        carry = v / 10;
    }
    while (carry != 0) {
        n->buf[--n->start] = (char)('0' + carry % 10);
        n->len++;
        carry /= 10;
    }
}

/* Drops the last `drop` digits (drop < len), rounding away from zero when a dropped digit is not 0. */
static void number_drop_round_up(struct st_number_t *n, size_t drop)
{
    int inexact = 0;
    for (size_t i = n->start + n->len - drop; i < n->start + n->len; i++)
        if (n->buf[i] != '0')
            inexact = 1;
    n->len -= drop;
    n->exp10 += (int64_t)drop;
    if (!inexact)
        return;
    for (size_t i = n->start + n->len; i > n->start; i--) {
        if (n->buf[i - 1] != '9') {
            n->buf[i - 1]++;
            return;
        }
        n->buf[i - 1] = '0';
    }
    n->buf[--n->start] = '1';
    n->len++;
}

static void number_strip_trailing_zeros(struct st_number_t *n)
{
    while (n->len > 1 && n->buf[n->start + n->len - 1] == '0' && n->exp10 < INT_MAX) {
        n->len--;
        n->exp10++;
    }
}

/* Compares magnitudes of two non-zero numbers without leading zeros. */
static int cmp_magnitude(const char *a, size_t alen, int64_t aexp, const char *b, size_t blen, int64_t bexp)
{
    int64_t ma = (int64_t)alen + aexp, mb = (int64_t)blen + bexp;
    if (ma != mb)
        return ma < mb ? -1 : 1;
    size_t n = alen > blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        char da = i < alen ? a[i] : '0', db = i < blen ? b[i] : '0';
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

static void set_zero(struct pgw_quantity *q)
{
    memset(q, 0, sizeof(*q));
    strcpy(q->digits, "0");
}

static int fail(struct pgw_quantity *q, const char **why, const char *msg)
{
    set_zero(q);
    if (why != NULL)
        *why = msg;
    return -1;
}

int pgw_quantity_parse(const char *s, struct pgw_quantity *q, const char **why)
{
    set_zero(q);
    if (s == NULL || *s == '\0')
        return fail(q, why, err_format);

    size_t end = strlen(s), pos = 0;
    int negative = 0, has_digit = 0;
    if (s[0] == '-' || s[0] == '+') {
        negative = s[0] == '-';
        pos++;
    }
    while (pos < end && s[pos] == '0') {
        pos++;
        has_digit = 1;
    }
    if (pos == end)
        return 0; /* only a sign and zeros: apimachinery returns 0 right here */

    size_t num_start = pos;
    while (pos < end && is_digit(s[pos]))
        pos++;
    size_t num_len = pos - num_start, den_start = pos, den_len = 0;
    if (pos < end && s[pos] == '.') {
        den_start = ++pos;
        while (pos < end && is_digit(s[pos]))
            pos++;
        den_len = pos - den_start;
    }
    if (num_len + den_len > 0)
        has_digit = 1;

    size_t suffix_start = pos;
    while (pos < end && is_suffix_char(s[pos]))
        pos++;
    if (pos < end && (s[pos] == '+' || s[pos] == '-'))
        pos++;
    while (pos < end && is_digit(s[pos]))
        pos++;
    if (pos != end)
        return fail(q, why, err_format);

    enum suffix_kind kind;
    int32_t exponent;
    if (interpret_suffix(s + suffix_start, end - suffix_start, &kind, &exponent) != 0)
        return fail(q, why, err_suffix);

    if (!has_digit) {
        /* Zero, unless apimachinery's slow path (which needs a digit) would handle it. */
        int slow = kind == SUFFIX_BINARY ? 15 - 1 - exponent * 3 / 10 - 1 < 0 : exponent < -9;
        if (slow)
            return fail(q, why, err_numeric);
        q->binary = kind == SUFFIX_BINARY;
        q->exponent = kind == SUFFIX_EXPONENT;
        return 0;
    }

    /*
     * Room in front for growth (×2^60 adds at most 19 digits, each rounding at
     * most 1), and behind for the 19 digits of the binary cap.
     */
    const size_t headroom = 32;
    struct st_number_t n = {pgw_malloc(headroom + num_len + den_len + sizeof(int64_max_digits)), headroom, num_len + den_len, 0};
    memcpy(n.buf + headroom, s + num_start, num_len);
    memcpy(n.buf + headroom + num_len, s + den_start, den_len);
    if (kind == SUFFIX_BINARY) {
        n.exp10 = -(int64_t)den_len;
        for (int32_t i = 0; i < exponent; i += 10)
            number_mul_small(&n, 1024);
    } else {
        /* apimachinery computes this scale in 32-bit arithmetic. */
        n.exp10 = wrap32((int64_t)exponent - (int64_t)den_len);
    }

    while (n.len > 0 && n.buf[n.start] == '0') {
        n.start++;
        n.len--;
    }
    if (n.len == 0) {
        free(n.buf);
        q->binary = kind == SUFFIX_BINARY;
        q->exponent = kind == SUFFIX_EXPONENT;
        return 0;
    }

    /* Nothing finer than 10^-9: round up, away from zero. */
    if (n.exp10 < -9) {
        int64_t drop = -9 - n.exp10;
        if ((uint64_t)drop >= n.len) {
            n.buf[n.start] = '1';
            n.len = 1;
            n.exp10 = -9;
        } else {
            number_drop_round_up(&n, (size_t)drop);
        }
    }
    number_strip_trailing_zeros(&n);
    size_t max_digits = sizeof(q->digits) - 1;
    if (n.len > max_digits) {
        number_drop_round_up(&n, n.len - max_digits);
        number_strip_trailing_zeros(&n);
    }

    int binary = kind == SUFFIX_BINARY;
    if (binary && cmp_magnitude(n.buf + n.start, n.len, n.exp10, int64_max_digits, strlen(int64_max_digits), 0) > 0) {
        n.start = headroom;
        n.len = strlen(int64_max_digits);
        memcpy(n.buf + n.start, int64_max_digits, n.len);
        n.exp10 = 0;
    }
    if (binary && (int64_t)n.len + n.exp10 <= 0)
        binary = 0; /* between 0 and 1: apimachinery switches to DecimalSI */

    if (n.exp10 > INT_MAX || n.exp10 < INT_MIN || n.len > max_digits) {
        free(n.buf);
        return fail(q, why, err_range);
    }
    q->negative = negative;
    memcpy(q->digits, n.buf + n.start, n.len);
    q->digits[n.len] = '\0';
    q->exp10 = (int)n.exp10;
    q->binary = binary;
    q->exponent = kind == SUFFIX_EXPONENT;
    free(n.buf);
    return 0;
}

static int is_zero(const struct pgw_quantity *q)
{
    return q->digits[0] == '0' || q->digits[0] == '\0';
}

static int sign_of(const struct pgw_quantity *q)
{
    if (is_zero(q))
        return 0;
    return q->negative ? -1 : 1;
}

int pgw_quantity_cmp(const struct pgw_quantity *a, const struct pgw_quantity *b)
{
    int sa = sign_of(a), sb = sign_of(b);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int m = cmp_magnitude(a->digits, strlen(a->digits), a->exp10, b->digits, strlen(b->digits), b->exp10);
    return sa > 0 ? m : -m;
}

/* The value × 10^shift, rounded away from zero to an integer, saturating at the int64 limits. */
static int64_t scaled_value(const struct pgw_quantity *q, int shift)
{
    if (is_zero(q))
        return 0;
    size_t len = strlen(q->digits);
    int64_t e = (int64_t)q->exp10 + shift;
    int64_t int_digits = (int64_t)len + e; /* digits left of the decimal point */
    uint64_t limit = q->negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    int saturated = int_digits > 20;
    for (int64_t i = 0; !saturated && i < int_digits; i++) {
        unsigned d = (size_t)i < len ? (unsigned)(q->digits[i] - '0') : 0;
        if (v > (limit - d) / 10)
            saturated = 1;
        else
            v = v * 10 + d;
    }
    if (!saturated) {
        int fraction = 0;
        for (int64_t i = int_digits > 0 ? int_digits : 0; (size_t)i < len; i++)
            if (q->digits[i] != '0')
                fraction = 1;
        if (fraction) {
            if (v == limit)
                saturated = 1;
            else
                v++;
        }
    }
    if (saturated)
        v = limit;
    if (!q->negative)
        return (int64_t)v;
    return v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
}

int64_t pgw_quantity_value(const struct pgw_quantity *q)
{
    return scaled_value(q, 0);
}

int64_t pgw_quantity_milli_value(const struct pgw_quantity *q)
{
    return scaled_value(q, 3);
}

/* The integral value of q when it fits in uint64, else -1. */
static int as_uint64(const struct pgw_quantity *q, uint64_t *out)
{
    if (q->exp10 < 0)
        return -1;
    size_t len = strlen(q->digits);
    if ((int64_t)len + q->exp10 > 20)
        return -1;
    uint64_t v = 0;
    for (int64_t i = 0; i < (int64_t)len + q->exp10; i++) {
        unsigned d = (size_t)i < len ? (unsigned)(q->digits[i] - '0') : 0;
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

char *pgw_quantity_format(const struct pgw_quantity *q, char *buf, int bufsize)
{
    char out[PGW_QUANTITY_STRLEN];
    uint64_t v;
    if (bufsize <= 0)
        return buf;
    if (is_zero(q)) {
        snprintf(buf, (size_t)bufsize, "0");
        return buf;
    }
    const char *sign = q->negative ? "-" : "";
    if (q->binary && as_uint64(q, &v) == 0 && v >= 1024) {
        static const char *const names[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        size_t k = 0;
        while (v % 1024 == 0 && k + 1 < sizeof(names) / sizeof(names[0])) {
            v /= 1024;
            k++;
        }
        snprintf(out, sizeof(out), "%s%llu%s", sign, (unsigned long long)v, names[k]);
    } else {
        /* Lower the exponent to a multiple of 3 by appending zeros to the significand. */
        int64_t e = q->exp10;
        int64_t r = ((e % 3) + 3) % 3;
        const char *zeros = r == 0 ? "" : r == 1 ? "0" : "00";
        e -= r;
        const char *suffix = NULL;
        if (!q->exponent) {
            for (size_t i = 0; i < sizeof(decimal_suffixes) / sizeof(decimal_suffixes[0]); i++)
                if (decimal_suffixes[i].exponent == e)
                    suffix = decimal_suffixes[i].name;
        }
        if (suffix != NULL)
            snprintf(out, sizeof(out), "%s%s%s%s", sign, q->digits, zeros, suffix);
        else if (e == 0)
            snprintf(out, sizeof(out), "%s%s%s", sign, q->digits, zeros);
        else
            snprintf(out, sizeof(out), "%s%s%se%lld", sign, q->digits, zeros, (long long)e);
    }
    snprintf(buf, (size_t)bufsize, "%s", out);
    return buf;
}
