/*
 * libyaml document API → jansson, resolving plain scalars like go-yaml v2.
 */
#include "common/yaml.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/xalloc.h"

#define MAX_DEPTH 512
#define MAX_NODES 2000000 /* after alias expansion */

struct st_yaml_convert_t {
    yaml_document_t *doc;
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

static int matches(const char *s, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Resolves a plain (unquoted, untagged) scalar the way go-yaml v2 does. */
static json_t *resolve_plain(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
    static const char *const falses[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};
    if (in_list(s, nulls))
        return json_null();
    if (in_list(s, trues))
        return json_true();
    if (in_list(s, falses))
        return json_false();
    if (matches(s, "^[-+]?[0-9]+$")) {
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
        return json_real(strtod(s, NULL));
    }
    if (matches(s, "^0x[0-9a-fA-F]+$")) {
        errno = 0;
        unsigned long long v = strtoull(s + 2, NULL, 16);
        if (errno == 0 && v <= (unsigned long long)INT64_MAX)
            return json_integer((json_int_t)v);
    }
    if (matches(s, "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$")) {
        double d = strtod(s, NULL);
        if (isfinite(d))
            return json_real(d);
    }
    return json_string(s);
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
        if (plain && (tag == NULL || strcmp(tag, YAML_DEFAULT_SCALAR_TAG) == 0 || strcmp(tag, "?") == 0))
            return resolve_plain(value);
        if (tag != NULL && strcmp(tag, YAML_NULL_TAG) == 0)
            return json_null();
        if (tag != NULL && (strcmp(tag, YAML_INT_TAG) == 0 || strcmp(tag, YAML_FLOAT_TAG) == 0 ||
                            strcmp(tag, YAML_BOOL_TAG) == 0))
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
        struct st_yaml_convert_t c = {&doc, 0, NULL};
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
    if (*err != NULL) {
        json_decref(docs);
        return NULL;
    }
    return docs;
}
