/*
 * Compact JSON writer; see json_write.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_arena.h"
#include "common/json_write.h"
#include "common/xalloc.h"

struct st_out_t {
    char *data;
    size_t len, cap;
};

static void reserve(struct st_out_t *o, size_t more)
{
    if (o->len + more + 1 <= o->cap)
        return;
    size_t cap = o->cap != 0 ? o->cap : 256;
    while (cap < o->len + more + 1)
        cap *= 2;
    o->data = pgw_realloc(o->data, cap);
    o->cap = cap;
}

static void put(struct st_out_t *o, const char *s, size_t n)
{
    reserve(o, n);
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static void put_char(struct st_out_t *o, char c)
{
    reserve(o, 1);
    o->data[o->len++] = c;
}

/*
 * True when any of the 8 bytes is a control byte, '"' or '\\'. Each test is
 * the exact "has a byte below n" trick (a borrow can only mark bytes after a
 * real hit), so the word is clean exactly when all three come out zero.
 */
static int word_needs_escape(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t hit = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash);
    return (hit & highs) != 0;
}

/* jansson strings hold valid UTF-8 (checked when made), so only ", \ and control bytes need escapes. */
static void put_string(struct st_out_t *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    put_char(o, '"');
    size_t run = 0, i = 0;
    while (i != n) {
        if (n - i >= 8) { /* skip clean words: most strings have no escapes at all */
            uint64_t word;
            memcpy(&word, s + i, sizeof(word));
            if (!word_needs_escape(word)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i++];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + run, i - 1 - run);
        run = i;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        put(o, esc, elen);
    }
    put(o, s + run, n - run);
    put_char(o, '"');
}

/* Decimal digits without snprintf's format parsing; INT64_MIN's magnitude fits in the unsigned. */
static void put_integer(struct st_out_t *o, json_int_t value)
{
    char buf[24];
    char *p = buf + sizeof(buf);
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0)
        *--p = '-';
    put(o, p, (size_t)(buf + sizeof(buf) - p));
}

static void put_value(struct st_out_t *o, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put_char(o, '{');
        const char *key;
        size_t key_len;
        json_t *member;
        int first = 1;
        json_object_keylen_foreach((json_t *)v, key, key_len, member)
        {
            if (!first)
                put_char(o, ',');
            first = 0;
            put_string(o, key, key_len);
            put_char(o, ':');
            put_value(o, member);
        }
        put_char(o, '}');
        break;
    }
    case JSON_ARRAY: {
        put_char(o, '[');
        for (size_t i = 0, n = json_array_size(v); i != n; ++i) {
            if (i != 0)
                put_char(o, ',');
            put_value(o, json_array_get(v, i));
        }
        put_char(o, ']');
        break;
    }
    case JSON_STRING:
        put_string(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        put_integer(o, json_integer_value(v));
        break;
    case JSON_REAL: { /* rare here; jansson's own formatting keeps the bytes identical */
        char *text = pgw_json_dumps(v, JSON_ENCODE_ANY);
        if (text != NULL)
            put(o, text, strlen(text));
        free(text);
        break;
    }
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    case JSON_NULL:
        put(o, "null", 4);
        break;
    }
}

char *pgw_json_write(const json_t *v, size_t *len)
{
    struct st_out_t o = {0};
    reserve(&o, 0);
    if (v != NULL)
        put_value(&o, v);
    o.data[o.len] = '\0';
    *len = o.len;
    return o.data;
}
