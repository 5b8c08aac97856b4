/*
 * JSON reader; see json_read.h. Recursive descent over one buffer.
 *
 * Errors mimic jansson's lexer so that err says the same thing at the same
 * place: jansson reports an error after it has read the offending token (a
 * number or a word including the character that ended it, a string up to the
 * bad byte), and a lexer error (bad string, number overflow, bad UTF-8) wins
 * over the parser's "x expected". Hence token_end(): on an unexpected token it
 * is scanned the way jansson would, only to find where the error is.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_read.h"
#include "common/xalloc.h"

enum { KIND_INVALID, KIND_INTEGER, KIND_REAL, KIND_TRUE, KIND_FALSE, KIND_NULL };

struct st_reader_t {
    const char *begin, *end;
    json_error_t *err;
    size_t dropped; /* NUL bytes skipped after numbers and literals: jansson does not count them */
    int depth;
    /* Decoded text of the current string with escapes; the inline part covers almost all of them. */
    char *buf;
    size_t cap;
    char inline_buf[256];
};

/* 1 for the bytes a string copies as they are: printable ASCII but '"' and '\\'. */
/* clang-format off */
static const unsigned char plain[256] = {
    ['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f, '"' is 0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,           /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,           /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,           /* 0x50, '\\' is 0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,           /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,           /* 0x70 */
};
/* clang-format on */

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char *skip_space(const char *p, const char *end)
{
    while (p != end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        ++p;
    return p;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), 0 if invalid: overlong, surrogate, > U+10FFFF, cut. */
static size_t utf8_length(const char *s, const char *end)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t avail = (size_t)(end - s), n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (u[0] >= 0xC2 && u[0] <= 0xDF)
        n = 2;
    else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        n = 3;
        if (u[0] == 0xE0)
            lo = 0xA0; /* overlong */
        else if (u[0] == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        n = 4;
        if (u[0] == 0xF0)
            lo = 0x90; /* overlong */
        else if (u[0] == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i != n; ++i)
        if (u[i] < 0x80 || u[i] > 0xBF)
            return 0;
    return n;
}

/*
 * Sets err as jansson's error_set does once it has read [begin, at): line and
 * column of that point, and the token text [tok, at) as context. The first
 * error stays, like jansson's.
 */
static void fail(struct st_reader_t *r, enum json_error_code code, const char *tok, const char *at, const char *fmt, ...)
{
    json_error_t *e = r->err;
    if (e == NULL || e->text[0] != '\0')
        return;
    char msg[JSON_ERROR_TEXT_LENGTH];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = 1, column = 0;
    for (const unsigned char *u = (const unsigned char *)r->begin; u != (const unsigned char *)at; ++u) {
        if (*u == '\n') {
            ++line;
            column = 0;
        } else if ((*u < 0x80 || *u >= 0xC0) && (*u != '\0' || u >= (const unsigned char *)tok)) {
            ++column; /* characters, not continuation bytes; a NUL before the token was dropped, see skip_dropped_nul */
        }
    }
    /* jansson keeps the token in a C string: the context stops at a NUL byte, and is empty if it starts with one */
    size_t saved = (size_t)(at - tok);
    const char *nul = memchr(tok, '\0', saved);
    int shown = (int)(nul != NULL ? (size_t)(nul - tok) : saved);
    char text[JSON_ERROR_TEXT_LENGTH + 32]; /* the message, " near '" and at most 20 bytes of context */
    if (shown > 0) {
        if (saved <= 20)
            snprintf(text, sizeof(text), "%s near '%.*s'", msg, shown, tok);
        else
            snprintf(text, sizeof(text), "%s", msg);
    } else {
        if (code == json_error_invalid_syntax)
            code = json_error_premature_end_of_input;
        snprintf(text, sizeof(text), code == json_error_invalid_utf8 ? "%s" : "%s near end of file", msg);
    }
    e->line = line;
    e->column = column;
    e->position = (int)((size_t)(at - r->begin) - r->dropped);
    size_t n = strlen(text);
    if (n > JSON_ERROR_TEXT_LENGTH - 2) /* jansson keeps the last byte for the code */
        n = JSON_ERROR_TEXT_LENGTH - 2;
    memcpy(e->text, text, n);
    e->text[n] = '\0';
    e->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)code;
}

static void fail_memory(struct st_reader_t *r, const char *at)
{
    fail(r, json_error_out_of_memory, at, at, "out of memory");
}

/*
 * jansson's lexer reads one character past a number or a word; if that byte
 * starts invalid UTF-8, its decoding error is what gets reported. Returns 0
 * after setting that error.
 */
static int lookahead_ok(struct st_reader_t *r, const char *tok, const char *q)
{
    if (q == r->end || (unsigned char)*q < 0x80 || utf8_length(q, r->end) != 0)
        return 1;
    fail(r, json_error_invalid_utf8, tok, q, "unable to decode byte 0x%x", (unsigned char)*q);
    return 0;
}

/* Makes room in r->buf for need bytes. */
static void reserve(struct st_reader_t *r, size_t need)
{
    if (need <= r->cap)
        return;
    size_t cap = r->cap * 2;
    while (cap < need)
        cap *= 2;
    char *grown = pgw_malloc(cap);
    memcpy(grown, r->buf, r->cap);
    if (r->buf != r->inline_buf)
        free(r->buf);
    r->buf = grown;
    r->cap = cap;
}

/*
 * The rest of a string that has escapes: q is at its first backslash, tok at
 * its opening quote. Decodes into r->buf. Bad surrogates are reported only
 * once the string has been read to its end, as jansson decodes after lexing.
 */
static const char *read_escaped(struct st_reader_t *r, const char *tok, const char *q, const char **s, size_t *len, int *has_nul)
{
    const char *end = r->end;
    size_t used = (size_t)(q - (tok + 1));
    reserve(r, used + 4);
    memcpy(r->buf, tok + 1, used);
    char bad[64] = "";    /* the first decoding error */
    unsigned pending = 0; /* a high surrogate waiting for its low half */
    for (;;) {
        const char *run = q;
        while (q != end && plain[(unsigned char)*q])
            ++q;
        reserve(r, used + (size_t)(q - run) + 4);
        memcpy(r->buf + used, run, (size_t)(q - run));
        used += (size_t)(q - run);
        if (q == end) {
            fail(r, json_error_premature_end_of_input, tok, q, "premature end of input");
            return NULL;
        }
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c >= 0x80) {
            size_t n = utf8_length(q, end);
            if (n == 0) {
                fail(r, json_error_invalid_utf8, tok, q, "unable to decode byte 0x%x", c);
                return NULL;
            }
            memcpy(r->buf + used, q, n);
            used += n;
            q += n;
            continue;
        }
        if (c < 0x20) {
            fail(r, json_error_invalid_syntax, tok, q, c == '\n' ? "unexpected newline" : "control character 0x%x", c);
            return NULL;
        }
        /* a backslash: check the escape as jansson's lexer reads it, character by character */
        const char *e = q + 1;
        unsigned char x = e != end ? (unsigned char)*e : 0;
        if (e == end || (x >= 0x80 && utf8_length(e, end) == 0)) {
            if (e == end)
                fail(r, json_error_invalid_syntax, tok, e, "invalid escape");
            else
                fail(r, json_error_invalid_utf8, tok, e, "unable to decode byte 0x%x", x);
            return NULL;
        }
        if (x != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *hit = x != 0 ? strchr(from, x) : NULL;
            if (hit == NULL) {
                fail(r, json_error_invalid_syntax, tok, e + 1, "invalid escape");
                return NULL;
            }
            if (bad[0] == '\0') /* no high surrogate is pending here: it is always followed by \u */
                r->buf[used++] = to[hit - from];
            q = e + 1;
            continue;
        }
        unsigned value = 0;
        for (int i = 1; i <= 4; ++i) {
            const char *h = e + i;
            if (h == end) {
                fail(r, json_error_invalid_syntax, tok, h, "invalid escape");
                return NULL;
            }
            if ((unsigned char)*h >= 0x80 && utf8_length(h, end) == 0) {
                fail(r, json_error_invalid_utf8, tok, h, "unable to decode byte 0x%x", (unsigned char)*h);
                return NULL;
            }
            int d = hex_value((unsigned char)*h);
            if (d < 0) {
                fail(r, json_error_invalid_syntax, tok, h + 1, "invalid escape");
                return NULL;
            }
            value = value << 4 | (unsigned)d;
        }
        q = e + 5;
        if (bad[0] != '\0')
            continue; /* only lexing now, to find the end of the string */
        if (pending != 0) {
            if (value >= 0xDC00 && value <= 0xDFFF)
                value = ((pending - 0xD800) << 10) + (value - 0xDC00) + 0x10000;
            else
                snprintf(bad, sizeof(bad), "invalid Unicode '\\u%04X\\u%04X'", pending, value);
            pending = 0;
            if (bad[0] != '\0')
                continue;
        } else if (value >= 0xD800 && value <= 0xDBFF) {
            if (end - q >= 2 && q[0] == '\\' && q[1] == 'u')
                pending = value;
            else
                snprintf(bad, sizeof(bad), "invalid Unicode '\\u%04X'", value);
            continue;
        } else if (value >= 0xDC00 && value <= 0xDFFF) {
            snprintf(bad, sizeof(bad), "invalid Unicode '\\u%04X'", value);
            continue;
        }
        char *t = r->buf + used;
        if (value < 0x80) {
            t[0] = (char)value;
            used += 1;
            if (value == 0)
                *has_nul = 1;
        } else if (value < 0x800) {
            t[0] = (char)(0xC0 | value >> 6);
            t[1] = (char)(0x80 | (value & 0x3F));
            used += 2;
        } else if (value < 0x10000) {
            t[0] = (char)(0xE0 | value >> 12);
            t[1] = (char)(0x80 | (value >> 6 & 0x3F));
            t[2] = (char)(0x80 | (value & 0x3F));
            used += 3;
        } else {
            t[0] = (char)(0xF0 | value >> 18);
            t[1] = (char)(0x80 | (value >> 12 & 0x3F));
            t[2] = (char)(0x80 | (value >> 6 & 0x3F));
            t[3] = (char)(0x80 | (value & 0x3F));
            used += 4;
        }
    }
    if (bad[0] != '\0') {
        fail(r, json_error_invalid_syntax, tok, q + 1, "%s", bad);
        return NULL;
    }
    *s = r->buf;
    *len = used;
    return q + 1;
}

/*
 * The string at p (its opening quote): the decoded bytes in *s and *len, pointing
 * into the input when there is no escape (the common case), else into r->buf
 * (valid until the next string). *has_nul says a \u0000 was decoded. Returns
 * the end of the string, or NULL with err set.
 */
static const char *read_string(struct st_reader_t *r, const char *p, const char **s, size_t *len, int *has_nul)
{
    const char *end = r->end, *q = p + 1;
    *has_nul = 0;
    for (;;) {
        while (q != end && plain[(unsigned char)*q])
            ++q;
        if (q == end) {
            fail(r, json_error_premature_end_of_input, p, q, "premature end of input");
            return NULL;
        }
        unsigned char c = (unsigned char)*q;
        if (c == '"') {
            *s = p + 1;
            *len = (size_t)(q - (p + 1));
            return q + 1;
        }
        if (c == '\\')
            return read_escaped(r, p, q, s, len, has_nul);
        if (c < 0x20) {
            fail(r, json_error_invalid_syntax, p, q, c == '\n' ? "unexpected newline" : "control character 0x%x", c);
            return NULL;
        }
        size_t n = utf8_length(q, end);
        if (n == 0) {
            fail(r, json_error_invalid_utf8, p, q, "unable to decode byte 0x%x", c);
            return NULL;
        }
        q += n;
    }
}

/*
 * The number at p ('-' or a digit), jansson's grammar: with '.', 'e' or 'E' a
 * real (strtod), else a json_int_t. A malformed number is KIND_INVALID and
 * ends where jansson's lexer stops; the caller reports it. Returns its end,
 * or NULL with err set on overflow.
 */
static const char *scan_number(struct st_reader_t *r, const char *p, int *kind, json_int_t *ival, double *dval)
{
    const char *end = r->end, *q = p, *digits;
    *kind = KIND_INVALID;
    if (*q == '-')
        ++q;
    digits = q;
    if (q != end && *q == '0') {
        ++q;
        if (q != end && is_digit(*q)) /* no leading zeros */
            return q;
    } else if (q != end && is_digit(*q)) {
        while (q != end && is_digit(*q))
            ++q;
    } else {
        return lookahead_ok(r, p, q) ? q : NULL;
    }
    if (q == end || (*q != '.' && *q != 'e' && *q != 'E')) {
        if (!lookahead_ok(r, p, q))
            return NULL;
        /* 19 digits always fit in 64 unsigned bits; then compare with the signed limit */
        size_t n = (size_t)(q - digits);
        unsigned long long u = 0, limit = *p == '-' ? 9223372036854775808ULL : 9223372036854775807ULL;
        for (size_t i = 0; i < n && i < 20; ++i)
            u = u * 10 + (unsigned)(digits[i] - '0');
        if (n > 19 || u > limit) {
            fail(r, json_error_numeric_overflow, p, q, *p == '-' ? "too big negative integer" : "too big integer");
            return NULL;
        }
        *ival = *p == '-' ? (u == limit ? LLONG_MIN : -(json_int_t)u) : (json_int_t)u;
        *kind = KIND_INTEGER;
        return q;
    }
    if (*q == '.') {
        ++q; /* jansson keeps the '.' in the token even when no digit follows */
        if (q == end || !is_digit(*q))
            return lookahead_ok(r, p, q) ? q : NULL;
        while (q != end && is_digit(*q))
            ++q;
    }
    if (q != end && (*q == 'e' || *q == 'E')) {
        ++q;
        if (q != end && (*q == '+' || *q == '-'))
            ++q;
        if (q == end || !is_digit(*q))
            return lookahead_ok(r, p, q) ? q : NULL;
        while (q != end && is_digit(*q))
            ++q;
    }
    if (!lookahead_ok(r, p, q))
        return NULL;
    /* strtod needs a terminated copy; the process keeps the C locale, so '.' is the decimal point */
    char small[64];
    size_t n = (size_t)(q - p);
    char *text = n < sizeof(small) ? small : pgw_malloc(n + 1);
    memcpy(text, p, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    int overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE; /* underflow to 0 is accepted */
    if (text != small)
        free(text);
    if (overflow) {
        fail(r, json_error_numeric_overflow, p, q, "real number overflow");
        return NULL;
    }
    *dval = d;
    *kind = KIND_REAL;
    return q;
}

/* The word at p (a letter): true, false, null or KIND_INVALID. Returns its end, NULL on a bad byte after it. */
static const char *scan_word(struct st_reader_t *r, const char *p, int *kind)
{
    const char *q = p;
    while (q != r->end && is_alpha(*q))
        ++q;
    if (!lookahead_ok(r, p, q))
        return NULL;
    size_t n = (size_t)(q - p);
    if (n == 4 && memcmp(p, "true", 4) == 0)
        *kind = KIND_TRUE;
    else if (n == 5 && memcmp(p, "false", 5) == 0)
        *kind = KIND_FALSE;
    else if (n == 4 && memcmp(p, "null", 4) == 0)
        *kind = KIND_NULL;
    else
        *kind = KIND_INVALID;
    return q;
}

/*
 * Error path only: where jansson's lexer would stop reading the token at p,
 * for an error about it. NULL if reading it is itself an error (then set).
 */
static const char *token_end(struct st_reader_t *r, const char *p)
{
    if (p == r->end)
        return p;
    unsigned char c = (unsigned char)*p;
    int kind, has_nul;
    json_int_t ival;
    double dval;
    const char *s;
    size_t len;
    if (c == '"')
        return read_string(r, p, &s, &len, &has_nul);
    if (c == '-' || is_digit(c))
        return scan_number(r, p, &kind, &ival, &dval);
    if (is_alpha(c))
        return scan_word(r, p, &kind);
    if (c >= 0x80) {
        size_t n = utf8_length(p, r->end);
        if (n == 0)
            fail(r, json_error_invalid_utf8, p, p, "unable to decode byte 0x%x", c);
        return n == 0 ? NULL : p + n;
    }
    return p + 1;
}

/* Reports "<what> expected" about the token at p. */
static void fail_expected(struct st_reader_t *r, const char *p, const char *what)
{
    const char *e = token_end(r, p);
    if (e != NULL)
        fail(r, json_error_invalid_syntax, p, e, "%s", what);
}

static const char *read_value(struct st_reader_t *r, const char *p, json_t **out);

/* p is past the '['. */
static const char *read_array(struct st_reader_t *r, const char *p, json_t **out)
{
    json_t *array = json_array();
    if (array == NULL) {
        fail_memory(r, p);
        return NULL;
    }
    p = skip_space(p, r->end);
    if (p != r->end && *p == ']') {
        *out = array;
        return p + 1;
    }
    for (;;) {
        if (p == r->end) /* jansson stops the list at the end of input without reading a value */
            break;
        json_t *elem;
        p = read_value(r, p, &elem);
        if (p == NULL)
            goto error;
        if (json_array_append_new(array, elem) != 0) {
            fail_memory(r, p);
            goto error;
        }
        p = skip_space(p, r->end);
        if (p == r->end || *p != ',')
            break;
        p = skip_space(p + 1, r->end);
    }
    if (p != r->end && *p == ']') {
        *out = array;
        return p + 1;
    }
    fail_expected(r, p, "']' expected");
error:
    json_decref(array);
    return NULL;
}

/* p is past the '{'. */
static const char *read_object(struct st_reader_t *r, const char *p, json_t **out)
{
    json_t *object = json_object();
    if (object == NULL) {
        fail_memory(r, p);
        return NULL;
    }
    p = skip_space(p, r->end);
    if (p != r->end && *p == '}') {
        *out = object;
        return p + 1;
    }
    for (;;) {
        if (p == r->end || *p != '"') {
            fail_expected(r, p, "string or '}' expected");
            goto error;
        }
        const char *key, *tok = p;
        size_t key_len;
        int has_nul;
        p = read_string(r, p, &key, &key_len, &has_nul);
        if (p == NULL)
            goto error;
        if (has_nul) {
            fail(r, json_error_null_byte_in_key, tok, p, "NUL byte in object key not supported");
            goto error;
        }
        if (json_object_getn(object, key, key_len) != NULL) {
            fail(r, json_error_duplicate_key, tok, p, "duplicate object key");
            goto error;
        }
        /* a decoded key lives in r->buf, which the value's strings reuse: keep a copy (rare) */
        char *copy = NULL;
        if (key == r->buf) {
            copy = pgw_malloc(key_len + 1);
            memcpy(copy, key, key_len);
            key = copy;
        }
        p = skip_space(p, r->end);
        if (p == r->end || *p != ':') {
            free(copy);
            fail_expected(r, p, "':' expected");
            goto error;
        }
        json_t *value;
        p = read_value(r, skip_space(p + 1, r->end), &value);
        if (p == NULL) {
            free(copy);
            goto error;
        }
        int rc = json_object_setn_new_nocheck(object, key, key_len, value); /* steals value, copies key */
        free(copy);
        if (rc != 0) {
            fail_memory(r, p);
            goto error;
        }
        p = skip_space(p, r->end);
        if (p == r->end || *p != ',')
            break;
        p = skip_space(p + 1, r->end);
    }
    if (p != r->end && *p == '}') {
        *out = object;
        return p + 1;
    }
    fail_expected(r, p, "'}' expected");
error:
    json_decref(object);
    return NULL;
}

/*
 * jansson drops the one character after a number or a literal when it is a
 * NUL byte (its stream cannot put a NUL back), so "1\0" reads as 1. Same here.
 */
static const char *skip_dropped_nul(struct st_reader_t *r, const char *q)
{
    if (q != r->end && *q == '\0') {
        ++r->dropped;
        return q + 1;
    }
    return q;
}

/* The value at p (no leading space). Returns its end, or NULL with err set. */
static const char *read_value(struct st_reader_t *r, const char *p, json_t **out)
{
    const char *q;
    if (++r->depth > JSON_PARSER_MAX_DEPTH) { /* jansson counts every value, scalars too */
        q = token_end(r, p);
        if (q != NULL)
            fail(r, json_error_stack_overflow, p, q, "maximum parsing depth reached");
        return NULL;
    }
    if (p == r->end) {
        fail(r, json_error_invalid_syntax, p, p, "unexpected token");
        return NULL;
    }
    unsigned char c = (unsigned char)*p;
    *out = NULL;
    if (c == '"') {
        const char *s;
        size_t len;
        int has_nul;
        q = read_string(r, p, &s, &len, &has_nul);
        if (q != NULL && has_nul) {
            fail(r, json_error_null_character, p, q, "\\u0000 is not allowed without JSON_ALLOW_NUL");
            return NULL;
        }
        if (q != NULL && (*out = json_stringn_nocheck(s, len)) == NULL) {
            fail_memory(r, q);
            return NULL;
        }
    } else if (c == '{') {
        q = read_object(r, p + 1, out);
    } else if (c == '[') {
        q = read_array(r, p + 1, out);
    } else if (c == '-' || is_digit(c) || is_alpha(c)) {
        int kind;
        json_int_t ival = 0;
        double dval = 0;
        q = c == '-' || is_digit(c) ? scan_number(r, p, &kind, &ival, &dval) : scan_word(r, p, &kind);
        if (q == NULL)
            return NULL;
        switch (kind) {
        case KIND_INTEGER:
            *out = json_integer(ival);
            break;
        case KIND_REAL:
            *out = json_real(dval);
            break;
        case KIND_TRUE:
            *out = json_true();
            break;
        case KIND_FALSE:
            *out = json_false();
            break;
        case KIND_NULL:
            *out = json_null();
            break;
        default:
            fail(r, json_error_invalid_syntax, p, q, "invalid token");
            return NULL;
        }
        if (*out == NULL) {
            fail_memory(r, q);
            return NULL;
        }
        q = skip_dropped_nul(r, q);
    } else if (c == '}' || c == ']' || c == ':' || c == ',') {
        fail(r, json_error_invalid_syntax, p, p + 1, "unexpected token");
        return NULL;
    } else {
        q = token_end(r, p);
        if (q != NULL)
            fail(r, json_error_invalid_syntax, p, q, "invalid token");
        return NULL;
    }
    if (q == NULL)
        return NULL;
    --r->depth;
    return q;
}

json_t *pgw_json_read(const char *text, size_t len, json_error_t *err)
{
    if (err != NULL) {
        err->text[0] = '\0';
        err->line = -1;
        err->column = -1;
        err->position = 0;
        snprintf(err->source, sizeof(err->source), "%s", "<buffer>");
    }
    if (text == NULL) {
        if (err != NULL) {
            snprintf(err->text, JSON_ERROR_TEXT_LENGTH - 1, "%s", "wrong arguments");
            err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_invalid_argument;
        }
        return NULL;
    }
    struct st_reader_t r;
    r.begin = text;
    r.end = text + len;
    r.err = err;
    r.dropped = 0;
    r.depth = 0;
    r.buf = r.inline_buf;
    r.cap = sizeof(r.inline_buf);
    json_t *value = NULL;
    const char *p = read_value(&r, skip_space(text, r.end), &value);
    if (p != NULL) {
        p = skip_space(p, r.end);
        if (p != r.end) {
            const char *e = token_end(&r, p);
            if (e != NULL)
                fail(&r, json_error_end_of_input_expected, p, e, "end of file expected");
            json_decref(value);
            value = NULL;
        } else if (err != NULL) {
            err->position = (int)(len - r.dropped); /* as jansson: the bytes read */
        }
    }
    if (r.buf != r.inline_buf)
        free(r.buf);
    return value;
}
