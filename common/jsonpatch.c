/*
 * RFC 6902 differ.
 *
 * Objects are compared key by key (removals first, then additions and
 * recursive changes, in the order jansson keeps keys). Arrays are compared
 * position by position over the common prefix; extra elements of `after` are
 * added at their index, and surplus elements of `before` are removed from the
 * highest index down so each "remove" addresses the array as it stands after
 * the previous operation. Anything else that differs is a "replace".
 */
#include "common/jsonpatch.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

char *pgw_jsonpointer_append(const char *base, const char *token)
{
    size_t base_len = strlen(base), extra = 0;
    for (const char *p = token; *p != '\0'; ++p)
        if (*p == '~' || *p == '/')
            ++extra;
    char *out = pgw_malloc(base_len + 1 + strlen(token) + extra + 1), *w = out;
    memcpy(w, base, base_len);
    w += base_len;
    *w++ = '/';
    for (const char *p = token; *p != '\0'; ++p) {
        if (*p == '~') {
            *w++ = '~';
            *w++ = '0';
        } else if (*p == '/') {
            *w++ = '~';
            *w++ = '1';
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

static void emit(json_t *ops, const char *op, const char *path, const json_t *value)
{
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string(op));
    json_object_set_new(o, "path", json_string(path));
    if (value != NULL)
        json_object_set_new(o, "value", json_incref((json_t *)value)); /* shared: `after` is not edited again */
    json_array_append_new(ops, o);
}

static char *index_pointer(const char *base, size_t i)
{
    return pgw_asprintf("%s/%zu", base, i);
}

static void diff(json_t *ops, const char *path, const json_t *before, const json_t *after)
{
    if (before == after || json_equal(before, after)) /* identity first: a shared subtree costs nothing */
        return;
    if (json_is_object(before) && json_is_object(after)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)before, key, value)
        {
            if (json_object_get(after, key) == NULL) {
                char *p = pgw_jsonpointer_append(path, key);
                emit(ops, "remove", p, NULL);
                free(p);
            }
        }
        json_object_foreach((json_t *)after, key, value)
        {
            char *p = pgw_jsonpointer_append(path, key);
            json_t *old = json_object_get(before, key);
            if (old == NULL)
                emit(ops, "add", p, value);
            else
                diff(ops, p, old, value);
            free(p);
        }
        return;
    }
    if (json_is_array(before) && json_is_array(after)) {
        size_t nb = json_array_size(before), na = json_array_size(after), common = nb < na ? nb : na;
        for (size_t i = 0; i != common; ++i) {
            char *p = index_pointer(path, i);
            diff(ops, p, json_array_get(before, i), json_array_get(after, i));
            free(p);
        }
        for (size_t i = common; i < na; ++i) {
            char *p = index_pointer(path, i);
            emit(ops, "add", p, json_array_get(after, i));
            free(p);
        }
        for (size_t i = nb; i > common; --i) {
            char *p = index_pointer(path, i - 1);
            emit(ops, "remove", p, NULL);
            free(p);
        }
        return;
    }
    emit(ops, "replace", path, after);
}

json_t *pgw_jsonpatch_diff(const json_t *before, const json_t *after)
{
    json_t *ops = json_array();
    diff(ops, "", before, after);
    return ops;
}
