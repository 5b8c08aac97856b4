/*
 * JSON → block YAML. Plain scalars are used only for strings made of a safe
 * alphabet that cannot be mistaken for another type under YAML 1.1 (the rules
 * kubectl's go-yaml applies); every other string is written double-quoted with
 * JSON escapes, which YAML double-quoted scalars accept.
 */
#include "common/yaml_emit.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

static int looks_like_other_type(const char *s)
{
    static const char *const words[] = {"y",  "Y",    "yes",  "Yes",  "YES",   "n",     "N",     "no", "No",
                                        "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On",
                                        "ON", "off",  "Off",  "OFF",  "null",  "Null",  "NULL",  "~",  NULL};
    for (const char *const *w = words; *w; ++w)
        if (strcmp(s, *w) == 0)
            return 1;
    /* Anything that starts like a number (ints, floats, 0x.., 1_000, .5, 1:20 sexagesimal) is quoted. */
    const char *p = s;
    if (*p == '+' || *p == '-')
        ++p;
    if (*p == '.')
        ++p;
    return isdigit((unsigned char)*p) || strcasecmp(p, "inf") == 0 || strcasecmp(p, "nan") == 0;
}

static int plain_safe(const char *s)
{
    if (s[0] == '\0' || looks_like_other_type(s))
        return 0;
    if (!isalpha((unsigned char)s[0]) && s[0] != '/' && s[0] != '_')
        return 0;
    for (const char *p = s; *p; ++p) {
        unsigned char c = (unsigned char)*p;
        if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '/' && c != '@')
            return 0;
    }
    return 1;
}

static void emit_string(FILE *fp, const char *s, size_t len)
{
    if (strlen(s) == len && plain_safe(s)) {
        fputs(s, fp);
        return;
    }
    json_t *str = json_stringn(s, len);
    char *quoted = json_dumps(str, JSON_ENCODE_ANY);
    fputs(quoted ? quoted : "\"\"", fp);
    free(quoted);
    json_decref(str);
}

static void emit_scalar(FILE *fp, const json_t *v)
{
    if (json_is_string(v)) {
        emit_string(fp, json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        fputs("{}", fp);
    } else if (json_is_array(v)) {
        fputs("[]", fp);
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        fputs(s ? s : "null", fp);
        free(s);
    }
}

static int is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) != 0) || (json_is_array(v) && json_array_size(v) != 0);
}

static void indent(FILE *fp, int n)
{
    for (int i = 0; i < n; ++i)
        fputc(' ', fp);
}

static void emit_node(FILE *fp, const json_t *v, int level, int first_inline);

/* Writes the members of an object at `level`; the first key may continue the current line. */
static void emit_object(FILE *fp, const json_t *v, int level, int first_inline)
{
    const char *key;
    json_t *value;
    int first = 1;
    json_object_foreach((json_t *)v, key, value)
    {
        if (!(first && first_inline))
            indent(fp, level * 2);
        first = 0;
        emit_string(fp, key, strlen(key));
        fputc(':', fp);
        if (is_block(value)) {
            fputc('\n', fp);
            /* Sequences inside mappings are written at the key's indentation, as kubectl does. */
            emit_node(fp, value, json_is_array(value) ? level : level + 1, 0);
        } else {
            fputc(' ', fp);
            emit_scalar(fp, value);
            fputc('\n', fp);
        }
    }
}

static void emit_array(FILE *fp, const json_t *v, int level, int first_inline)
{
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!(i == 0 && first_inline))
            indent(fp, level * 2);
        fputs("- ", fp);
        if (is_block(item))
            emit_node(fp, item, level + 1, 1);
        else {
            emit_scalar(fp, item);
            fputc('\n', fp);
        }
    }
}

static void emit_node(FILE *fp, const json_t *v, int level, int first_inline)
{
    if (json_is_object(v) && json_object_size(v) != 0)
        emit_object(fp, v, level, first_inline);
    else if (json_is_array(v) && json_array_size(v) != 0)
        emit_array(fp, v, level, first_inline);
    else {
        if (!first_inline)
            indent(fp, level * 2);
        emit_scalar(fp, v);
        fputc('\n', fp);
    }
}

void pgw_yaml_emit(FILE *fp, const json_t *value)
{
    emit_node(fp, value, 0, 0);
}
