/*
 * RFC 6902 applier.
 *
 * Each operation resolves its pointer to a (parent container, last token)
 * pair, then acts on the parent. Array indices follow RFC 6901 strictly: plain
 * decimal without leading zeros, "-" only where appending is meaningful (add).
 * The patch works on a deep copy, so a failure half-way leaves the caller's
 * document untouched.
 */
#include "common/jsonpatch_apply.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* Decodes one reference token ("~1" → "/", "~0" → "~"). Returns NULL on a bad escape. malloc'd. */
static char *unescape(const char *s, size_t n)
{
    char *out = pgw_malloc(n + 1), *w = out;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] != '~') {
            *w++ = s[i];
            continue;
        }
        if (i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
            *w++ = s[i + 1] == '0' ? '~' : '/';
            ++i;
        } else {
            free(out);
            return NULL;
        }
    }
    *w = '\0';
    return out;
}

/* Parses an array index token. Returns 0 with *index, 1 for "-", -1 when invalid. */
static int parse_index(const char *token, size_t *index)
{
    if (strcmp(token, "-") == 0)
        return 1;
    if (token[0] == '\0' || (token[0] == '0' && token[1] != '\0') || strlen(token) > 18)
        return -1;
    size_t v = 0;
    for (const char *p = token; *p; ++p) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (size_t)(*p - '0');
    }
    *index = v;
    return 0;
}

/*
 * Resolves `pointer` to its parent container and last token. The root ("")
 * gives *parent = NULL. Returns 0, or -1 with a static reason.
 */
static int resolve_parent(json_t *doc, const char *pointer, json_t **parent, char **last, const char **why)
{
    *parent = NULL;
    *last = NULL;
    if (pointer[0] == '\0')
        return 0;
    if (pointer[0] != '/') {
        *why = "a JSON pointer must be empty or start with '/'";
        return -1;
    }
    json_t *cur = doc;
    const char *p = pointer + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char *token = unescape(p, n);
        if (token == NULL) {
            *why = "invalid '~' escape in JSON pointer";
            return -1;
        }
        if (slash == NULL) {
            *parent = cur;
            *last = token;
            return 0;
        }
        json_t *next = NULL;
        if (json_is_object(cur)) {
            next = json_object_get(cur, token);
        } else if (json_is_array(cur)) {
            size_t i;
            if (parse_index(token, &i) == 0)
                next = json_array_get(cur, i);
        }
        free(token);
        if (next == NULL) {
            *why = "path does not exist";
            return -1;
        }
        cur = next;
        p = slash + 1;
    }
}

/* The value at `pointer` (borrowed), or NULL. */
static json_t *get_at(json_t *doc, const char *pointer, const char **why)
{
    json_t *parent;
    char *last;
    if (resolve_parent(doc, pointer, &parent, &last, why) != 0)
        return NULL;
    if (parent == NULL)
        return doc;
    json_t *v = NULL;
    size_t i;
    if (json_is_object(parent))
        v = json_object_get(parent, last);
    else if (json_is_array(parent) && parse_index(last, &i) == 0)
        v = json_array_get(parent, i);
    free(last);
    if (v == NULL)
        *why = "path does not exist";
    return v;
}

/* Adds (steals `value`). *doc may be replaced when the pointer is the root. */
static int op_add(json_t **doc, const char *pointer, json_t *value, const char **why)
{
    json_t *parent;
    char *last;
    if (resolve_parent(*doc, pointer, &parent, &last, why) != 0) {
        json_decref(value);
        return -1;
    }
    int rc = 0;
    if (parent == NULL) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    if (json_is_object(parent)) {
        json_object_set_new(parent, last, value);
    } else if (json_is_array(parent)) {
        size_t i;
        int kind = parse_index(last, &i);
        if (kind == 1)
            json_array_append_new(parent, value);
        else if (kind == 0 && i <= json_array_size(parent))
            json_array_insert_new(parent, i, value);
        else {
            *why = "array index out of range";
            json_decref(value);
            rc = -1;
        }
    } else {
        *why = "parent is neither an object nor an array";
        json_decref(value);
        rc = -1;
    }
    free(last);
    return rc;
}

/* Removes and returns the value (new reference) in *removed when non-NULL. */
static int op_remove(json_t *doc, const char *pointer, json_t **removed, const char **why)
{
    json_t *parent;
    char *last;
    if (resolve_parent(doc, pointer, &parent, &last, why) != 0)
        return -1;
    if (parent == NULL) {
        *why = "cannot remove the whole document";
        return -1;
    }
    int rc = -1;
    json_t *v = NULL;
    size_t i;
    if (json_is_object(parent)) {
        v = json_object_get(parent, last);
        if (v != NULL) {
            json_incref(v);
            json_object_del(parent, last);
            rc = 0;
        }
    } else if (json_is_array(parent) && parse_index(last, &i) == 0 && i < json_array_size(parent)) {
        v = json_incref(json_array_get(parent, i));
        json_array_remove(parent, i);
        rc = 0;
    }
    free(last);
    if (rc != 0)
        *why = "path does not exist";
    if (removed != NULL)
        *removed = v;
    else
        json_decref(v);
    return rc;
}

static int apply_one(json_t **doc, const json_t *op, const char **why)
{
    const char *name = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    json_t *value = json_object_get(op, "value");
    if (name == NULL || path == NULL) {
        *why = "an operation needs string members \"op\" and \"path\"";
        return -1;
    }
    int needs_value = strcmp(name, "add") == 0 || strcmp(name, "replace") == 0 || strcmp(name, "test") == 0;
    if (needs_value && value == NULL) {
        *why = "operation needs a \"value\"";
        return -1;
    }
    if (strcmp(name, "add") == 0)
        return op_add(doc, path, json_deep_copy(value), why);
    if (strcmp(name, "remove") == 0)
        return op_remove(*doc, path, NULL, why);
    if (strcmp(name, "replace") == 0) {
        if (get_at(*doc, path, why) == NULL)
            return -1;
        if (path[0] != '\0' && op_remove(*doc, path, NULL, why) != 0)
            return -1;
        return op_add(doc, path, json_deep_copy(value), why);
    }
    if (strcmp(name, "test") == 0) {
        json_t *v = get_at(*doc, path, why);
        if (v == NULL)
            return -1;
        if (!json_equal(v, value)) {
            *why = "test failed: values differ";
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
        const char *from = json_string_value(json_object_get(op, "from"));
        if (from == NULL) {
            *why = "operation needs a string \"from\"";
            return -1;
        }
        if (strcmp(name, "move") == 0) {
            size_t n = strlen(from);
            if (strncmp(path, from, n) == 0 && path[n] == '/') {
                *why = "cannot move a value into one of its own children";
                return -1;
            }
            if (strcmp(path, from) == 0)
                return get_at(*doc, from, why) != NULL ? 0 : -1;
            json_t *v;
            if (op_remove(*doc, from, &v, why) != 0)
                return -1;
            return op_add(doc, path, v, why);
        }
        json_t *v = get_at(*doc, from, why);
        if (v == NULL)
            return -1;
        return op_add(doc, path, json_deep_copy(v), why);
    }
    *why = "unknown operation";
    return -1;
}

json_t *pgw_jsonpatch_apply(const json_t *doc, const json_t *patch, char **err)
{
    if (!json_is_array(patch)) {
        *err = pgw_strdup("a JSON patch must be an array of operations");
        return NULL;
    }
    json_t *out = json_deep_copy(doc);
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        const char *why = "invalid operation";
        if (!json_is_object(op) || apply_one(&out, op, &why) != 0) {
            const char *name = json_string_value(json_object_get(op, "op"));
            const char *path = json_string_value(json_object_get(op, "path"));
            *err = pgw_asprintf("operation %zu (%s %s): %s", i, name ? name : "?", path ? path : "?", why);
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
