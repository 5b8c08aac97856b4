/*
 * Field error collection and apimachinery-compatible formatting.
 */
#include "common/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_arena.h"
#include "common/xalloc.h"

void pgw_errors_init(struct pgw_errors *errs)
{
    memset(errs, 0, sizeof(*errs));
}

void pgw_errors_dispose(struct pgw_errors *errs)
{
    for (size_t i = 0; i != errs->count; ++i) {
        free(errs->items[i].path);
        free(errs->items[i].value);
        free(errs->items[i].detail);
    }
    free(errs->items);
    for (size_t i = 0; i != errs->warning_count; ++i)
        free(errs->warnings[i]);
    free(errs->warnings);
    memset(errs, 0, sizeof(*errs));
}

/* Decodes one UTF-8 sequence (jansson strings are valid UTF-8). Returns its length. */
static size_t utf8_decode(const unsigned char *s, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    unsigned v = s[0] & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; ++i)
        v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return n;
}

/*
 * Go's unicode.IsPrint for the code points a user plausibly types: controls,
 * non-ASCII spaces, line/paragraph separators, the common format characters
 * and private use are not printable. (Unassigned code points are not tracked.)
 */
static int go_is_print(unsigned cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD)
        return 0;
    if (cp == 0x61C || cp == 0x1680 || cp == 0x180E || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
        (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
        (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000)
        return 0;
    return 1;
}

/* Go's strconv.Quote (what %q prints). */
static char *go_quote(const char *s, size_t len)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *fp = open_memstream(&out, &out_len);
    fputc('"', fp);
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_decode((const unsigned char *)s + i, &cp);
        switch (cp) {
        case '\a':
            fputs("\\a", fp);
            break;
        case '\b':
            fputs("\\b", fp);
            break;
        case '\f':
            fputs("\\f", fp);
            break;
        case '\n':
            fputs("\\n", fp);
            break;
        case '\r':
            fputs("\\r", fp);
            break;
        case '\t':
            fputs("\\t", fp);
            break;
        case '\v':
            fputs("\\v", fp);
            break;
        case '"':
        case '\\':
            fputc('\\', fp);
            fputc((int)cp, fp);
            break;
        default:
            if (cp < 0x20 || cp == 0x7F)
                fprintf(fp, "\\x%02x", cp);
            else if (go_is_print(cp))
                fwrite(s + i, 1, n, fp);
            else if (cp < 0x10000)
                fprintf(fp, "\\u%04x", cp);
            else
                fprintf(fp, "\\U%08x", cp);
        }
        i += n;
    }
    fputc('"', fp);
    fclose(fp);
    return out;
}

/* Go's %v for a float64: the shortest digits that round-trip, as %e when the exponent is < -4 or >= 6
 * (strconv.FormatFloat(d, 'g', -1, 64)). */
static char *go_float(double d)
{
    char buf[64], digits[32];
    int prec = 1;
    for (; prec < 17; ++prec) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
    /* buf is "[-]D[.DDD]e[+-]XX": split it into sign, digits and exponent. */
    const char *p = buf;
    int negative = *p == '-';
    if (negative)
        ++p;
    size_t nd = 0;
    for (; *p != 'e'; ++p)
        if (*p != '.')
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        --nd;
    digits[nd] = '\0';
    if (exp < -4 || exp >= 6)
        return pgw_asprintf("%s%c%s%se%c%02d", negative ? "-" : "", digits[0], nd > 1 ? "." : "", digits + 1, exp < 0 ? '-' : '+',
                            exp < 0 ? -exp : exp);
    /* Plain notation: at most 6 integer digits or 4 leading fractional zeros, plus 17 digits. */
    char out[40], *w = out;
    if (negative)
        *w++ = '-';
    if (exp < 0) {
        *w++ = '0';
        *w++ = '.';
        for (int z = -exp - 1; z > 0; --z)
            *w++ = '0';
        memcpy(w, digits, nd);
        w += nd;
    } else {
        for (size_t i = 0; i <= (size_t)exp || i < nd; ++i) {
            if (i == (size_t)exp + 1)
                *w++ = '.';
            *w++ = i < nd ? digits[i] : '0';
        }
    }
    *w = '\0';
    return pgw_strdup(out);
}

/* Longest prefix of s (at least max bytes long) of at most max bytes that ends on a UTF-8 character boundary. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        --n;
    return n;
}

char *pgw_render_value(const json_t *value)
{
    if (value == NULL || json_is_null(value))
        return pgw_strdup("null");
    if (json_is_string(value)) { /* %q */
        size_t len = json_string_length(value);
        if (len <= PGW_MAX_RENDERED_VALUE)
            return go_quote(json_string_value(value), len);
        /* Never echo megabytes back: quote a prefix and say how long the value was. */
        char *head = go_quote(json_string_value(value), utf8_prefix(json_string_value(value), PGW_MAX_RENDERED_VALUE));
        char *out = pgw_asprintf("%s... (%zu bytes)", head, len);
        free(head);
        return out;
    }
    if (json_is_real(value)) /* %v */
        return go_float(json_real_value(value));
    /* Integers and booleans as %v; objects and arrays as json.Marshal prints maps (sorted keys). */
    char *text = pgw_json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    size_t len = text != NULL ? strlen(text) : 0;
    if (len > PGW_MAX_RENDERED_VALUE) {
        char *cut = pgw_asprintf("%.*s...", (int)utf8_prefix(text, PGW_MAX_RENDERED_VALUE), text);
        free(text);
        text = cut;
    }
    return text;
}

void pgw_errors_add(struct pgw_errors *errs, pgw_error_type_t type, const char *path, const json_t *value, const char *detail_fmt,
                    ...)
{
    if (errs->count == errs->capacity) {
        errs->capacity = errs->capacity ? errs->capacity * 2 : 8;
        errs->items = pgw_realloc(errs->items, errs->capacity * sizeof(errs->items[0]));
    }
    struct pgw_field_error *e = &errs->items[errs->count++];
    e->path = pgw_strdup(path);
    e->type = type;
    e->value = value != NULL ? pgw_render_value(value) : NULL;
    e->detail = NULL;
    if (detail_fmt != NULL) {
        va_list ap;
        va_start(ap, detail_fmt);
        e->detail = pgw_vasprintf(detail_fmt, ap);
        va_end(ap);
    }
}

void pgw_errors_warn(struct pgw_errors *errs, const char *fmt, ...)
{
    if (errs->warning_count == errs->warning_capacity) {
        errs->warning_capacity = errs->warning_capacity ? errs->warning_capacity * 2 : 4;
        errs->warnings = pgw_realloc(errs->warnings, errs->warning_capacity * sizeof(errs->warnings[0]));
    }
    va_list ap;
    va_start(ap, fmt);
    errs->warnings[errs->warning_count++] = pgw_vasprintf(fmt, ap);
    va_end(ap);
}

const char *pgw_error_type_string(pgw_error_type_t type)
{
    switch (type) {
    case PGW_ERR_REQUIRED:
        return "Required value";
    case PGW_ERR_INVALID:
        return "Invalid value";
    case PGW_ERR_FORBIDDEN:
        return "Forbidden";
    case PGW_ERR_NOT_SUPPORTED:
        return "Unsupported value";
    case PGW_ERR_TOO_LONG:
        return "Too long";
    case PGW_ERR_DUPLICATE:
        return "Duplicate value";
    }
    return "Invalid value";
}

const char *pgw_error_type_reason(pgw_error_type_t type)
{
    switch (type) {
    case PGW_ERR_REQUIRED:
        return "FieldValueRequired";
    case PGW_ERR_INVALID:
        return "FieldValueInvalid";
    case PGW_ERR_FORBIDDEN:
        return "FieldValueForbidden";
    case PGW_ERR_NOT_SUPPORTED:
        return "FieldValueNotSupported";
    case PGW_ERR_TOO_LONG:
        return "FieldValueTooLong";
    case PGW_ERR_DUPLICATE:
        return "FieldValueDuplicate";
    }
    return "FieldValueInvalid";
}

char *pgw_field_error_body(const struct pgw_field_error *e)
{
    /* As field.Error.ErrorBody(): Required, Forbidden and TooLong omit the value. */
    int with_value = e->type != PGW_ERR_REQUIRED && e->type != PGW_ERR_FORBIDDEN && e->type != PGW_ERR_TOO_LONG;
    const char *value = e->value != NULL ? e->value : "null";
    const char *detail = e->detail != NULL && e->detail[0] != '\0' ? e->detail : NULL;
    if (with_value)
        return detail ? pgw_asprintf("%s: %s: %s", pgw_error_type_string(e->type), value, detail)
                      : pgw_asprintf("%s: %s", pgw_error_type_string(e->type), value);
    return detail ? pgw_asprintf("%s: %s", pgw_error_type_string(e->type), detail) : pgw_strdup(pgw_error_type_string(e->type));
}

char *pgw_field_error_format(const struct pgw_field_error *e)
{
    char *body = pgw_field_error_body(e), *s = pgw_asprintf("%s: %s", e->path, body);
    free(body);
    return s;
}

char *pgw_errors_join(const struct pgw_errors *errs)
{
    char *out = pgw_strdup("");
    for (size_t i = 0; i < errs->count; ++i) {
        char *one = pgw_field_error_format(&errs->items[i]);
        char *next = pgw_asprintf("%s%s%s", out, i ? "; " : "", one);
        free(one);
        free(out);
        out = next;
    }
    return out;
}
