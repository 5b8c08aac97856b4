/*
 * libyaml document API → jansson, resolving plain scalars like go-yaml v2.
 */
#include "common/yaml.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/regex_match.h"
#include "common/xalloc.h"

#define MAX_DEPTH 512
#define MAX_NODES 2000000 /* after alias expansion */

struct st_yaml_convert_t {
    yaml_document_t *doc;
    const char *text; /* the input, to tell `!!str yes` from `yes` */
    size_t len;
    size_t *stride_offsets; /* byte offset of every 64th character, built on first use; freed by the loader */
    size_t stride_count;
    size_t nodes;
    char *err;
};

static int in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; ++list)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/*
 * strconv.ParseInt(s, 0, 64), which go-yaml v2 calls on the scalar with "_"
 * removed: an optional sign, then 0x/0X hex, 0o/0O or a leading 0 octal, 0b/0B
 * binary, or decimal. Returns 0 and *out, or -1 (not an integer, or out of range).
 */
static int go_parse_int(const char *s, long long *out)
{
    const char *p = s;
    int negative = *p == '-';
    if (*p == '+' || *p == '-')
        ++p;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    else if (p[0] == '0' && p[1] != '\0')
        base = 8, p += 1;
    if (*p == '\0')
        return -1;
    unsigned long long v = 0;
    for (; *p != '\0'; ++p) {
        unsigned d = *p >= '0' && *p <= '9'   ? (unsigned)(*p - '0')
                     : *p >= 'a' && *p <= 'f' ? (unsigned)(*p - 'a' + 10)
                     : *p >= 'A' && *p <= 'F' ? (unsigned)(*p - 'A' + 10)
                                              : 99;
        if (d >= base || v > (UINT64_MAX - d) / base)
            return -1;
        v = v * base + d;
    }
    if (v > (unsigned long long)INT64_MAX + (negative ? 1u : 0u))
        return -1;
    *out = negative ? (long long)(0 - v) : (long long)v;
    return 0;
}

/*
 * A float as kubectl sends it: Go's json.Marshal prints an integral float64
 * without a fraction ("1.0" → 1), so the API server decodes an integer. Do the same.
 */
static json_t *number_from_double(double d)
{
    if (!isfinite(d))
        return NULL;
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* Resolves a plain (unquoted, untagged) scalar the way go-yaml v2 does. */
static json_t *resolve_plain(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
    static const char *const falses[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};
    static const char *const float_re = "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$";
    if (in_list(s, nulls))
        return json_null();
    if (in_list(s, trues))
        return json_true();
    if (in_list(s, falses))
        return json_false();
    if (s[0] == '.') { /* go-yaml: ParseFloat on the scalar as written */
        json_t *v = pgw_regex_match(s, float_re) ? number_from_double(strtod(s, NULL)) : NULL;
        return v != NULL ? v : json_string(s);
    }
    if (!(s[0] >= '0' && s[0] <= '9') && s[0] != '-' && s[0] != '+')
        return json_string(s);
    /* Digits or a sign: go-yaml drops "_", then tries an integer, then a float. */
    size_t n = strlen(s);
    char *plain = pgw_malloc(n + 1), *w = plain;
    for (const char *p = s; *p != '\0'; ++p)
        if (*p != '_')
            *w++ = *p;
    *w = '\0';
    json_t *v = NULL;
    long long iv;
    if (go_parse_int(plain, &iv) == 0)
        v = json_integer(iv);
    else if (pgw_regex_match(plain, float_re))
        v = number_from_double(strtod(plain, NULL));
    free(plain);
    return v != NULL ? v : json_string(s);
}

/*
 * libyaml's loader gives an untagged scalar the tag !!str, the same as an
 * explicit `!!str`. The node starts at its properties, so look at the source:
 * an explicit tag (after an optional anchor) starts with '!'.
 */
static size_t byte_offset(struct st_yaml_convert_t *c, size_t char_index)
{
    if (c->stride_offsets == NULL) { /* libyaml marks count characters; a UTF-8 BOM is not counted */
        size_t start = c->len >= 3 && memcmp(c->text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, chars = 0;
        c->stride_offsets = pgw_malloc((c->len / 64 + 2) * sizeof(size_t));
        for (size_t i = start; i <= c->len; ++i) {
            if (i < c->len && ((unsigned char)c->text[i] & 0xC0) == 0x80)
                continue;
            if (chars % 64 == 0)
                c->stride_offsets[c->stride_count++] = i;
            ++chars;
        }
    }
    size_t k = char_index / 64;
    if (k >= c->stride_count)
        return c->len;
    size_t off = c->stride_offsets[k];
    for (size_t n = char_index % 64; n > 0 && off < c->len; --n)
        for (++off; off < c->len && ((unsigned char)c->text[off] & 0xC0) == 0x80;)
            ++off;
    return off;
}

static int explicitly_tagged(struct st_yaml_convert_t *c, const yaml_node_t *node)
{
    size_t i = byte_offset(c, node->start_mark.index);
    if (i < c->len && c->text[i] == '&') {
        while (i < c->len && c->text[i] != ' ' && c->text[i] != '\t' && c->text[i] != '\n' && c->text[i] != '\r')
            ++i;
        while (i < c->len && (c->text[i] == ' ' || c->text[i] == '\t' || c->text[i] == '\n' || c->text[i] == '\r'))
            ++i;
    }
    return i < c->len && c->text[i] == '!';
}

static json_t *convert_node(struct st_yaml_convert_t *c, yaml_node_t *node, int depth)
{
    if (node == NULL) {
        c->err = pgw_strdup("invalid YAML node");
        return NULL;
    }
    if (depth > MAX_DEPTH) {
        c->err = pgw_asprintf("line %zu: nesting deeper than %d levels", node->start_mark.line + 1, MAX_DEPTH);
        return NULL;
    }
    if (++c->nodes > MAX_NODES) {
        c->err = pgw_asprintf("document expands to more than %d nodes (alias bomb?)", MAX_NODES);
        return NULL;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *value = (const char *)node->data.scalar.value;
        size_t len = node->data.scalar.length;
        if (strlen(value) != len) { /* embedded NUL */
            c->err = pgw_asprintf("line %zu: scalar contains a NUL byte", node->start_mark.line + 1);
            return NULL;
        }
        int plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        const char *tag = (const char *)node->tag;
        if (plain && (tag == NULL || strcmp(tag, YAML_DEFAULT_SCALAR_TAG) == 0 || strcmp(tag, "?") == 0) &&
            !explicitly_tagged(c, node))
            return resolve_plain(value);
        if (tag != NULL && strcmp(tag, YAML_NULL_TAG) == 0)
            return json_null();
        if (tag != NULL && (strcmp(tag, YAML_INT_TAG) == 0 || strcmp(tag, YAML_FLOAT_TAG) == 0 || strcmp(tag, YAML_BOOL_TAG) == 0))
            return resolve_plain(value);
        json_t *s = json_stringn(value, len);
        if (s == NULL)
            c->err = pgw_asprintf("line %zu: string is not valid UTF-8", node->start_mark.line + 1);
        return s;
    }
    case YAML_SEQUENCE_NODE: {
        json_t *arr = json_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; ++it) {
            json_t *v = convert_node(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (v == NULL) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        return arr;
    }
    case YAML_MAPPING_NODE: {
        json_t *obj = json_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; ++p) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE) {
                c->err = pgw_asprintf("line %zu: mapping keys must be scalars", node->start_mark.line + 1);
                json_decref(obj);
                return NULL;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (json_object_get(obj, key) != NULL) {
                c->err = pgw_asprintf("line %zu: duplicate key \"%s\"", k->start_mark.line + 1, key);
                json_decref(obj);
                return NULL;
            }
            json_t *v = convert_node(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            if (v == NULL) {
                json_decref(obj);
                return NULL;
            }
            if (json_object_set_new(obj, key, v) != 0) {
                c->err = pgw_asprintf("line %zu: key is not valid UTF-8", k->start_mark.line + 1);
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    default:
        c->err = pgw_strdup("empty YAML node");
        return NULL;
    }
}

json_t *pgw_yaml_load_all(const char *text, size_t len, char **err)
{
    yaml_parser_t parser;
    json_t *docs = json_array();
    *err = NULL;
    if (!yaml_parser_initialize(&parser)) {
        *err = pgw_strdup("cannot initialise the YAML parser");
        json_decref(docs);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    struct st_yaml_convert_t c = {NULL, text, len, NULL, 0, 0, NULL};
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            *err = pgw_asprintf("YAML error at line %zu, column %zu: %s", parser.problem_mark.line + 1,
                                parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid document");
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root == NULL) { /* end of stream */
            yaml_document_delete(&doc);
            break;
        }
        c.doc = &doc;
        c.nodes = 0;
        json_t *v = convert_node(&c, root, 0);
        yaml_document_delete(&doc);
        if (v == NULL) {
            *err = c.err;
            break;
        }
        if (json_is_null(v))
            json_decref(v);
        else
            json_array_append_new(docs, v);
    }
    yaml_parser_delete(&parser);
    free(c.stride_offsets);
    if (*err != NULL) {
        json_decref(docs);
        return NULL;
    }
    return docs;
}
