/*
 * Reading Kubernetes objects (see object.h). Paths are dotted key lists
 * because every path we read is a fixed literal in the code: no escaping, no
 * array indexes, and a missing step simply yields NULL.
 */
#include "common/object.h"

#include <string.h>

#include "common/xalloc.h"

const json_t *pgw_obj_meta(const json_t *obj)
{
    return json_object_get(obj, "metadata");
}

const char *pgw_obj_meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(pgw_obj_meta(obj), field));
}

const json_t *pgw_obj_at(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    while (cur != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        cur = json_object_getn(cur, p, n);
        p += n;
        if (*p == '.')
            ++p;
    }
    return cur;
}

const char *pgw_obj_str_at(const json_t *obj, const char *path)
{
    return json_string_value(pgw_obj_at(obj, path));
}

char *pgw_obj_child_name(const char *cluster, const char *suffix)
{
    return pgw_asprintf("%s%s", cluster, suffix);
}

const json_t *pgw_obj_find_named(const json_t *array, const char *name)
{
    size_t i;
    json_t *item;
    if (name == NULL)
        return NULL;
    json_array_foreach(array, i, item)
    {
        const char *n = json_string_value(json_object_get(item, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return item;
    }
    return NULL;
}

const json_t *pgw_obj_find_by_meta_name(const json_t *objects, const char *name)
{
    size_t i;
    json_t *obj;
    if (name == NULL)
        return NULL;
    json_array_foreach(objects, i, obj)
    {
        const char *n = pgw_obj_meta_str(obj, "name");
        if (n != NULL && strcmp(n, name) == 0)
            return obj;
    }
    return NULL;
}

char *pgw_obj_join_strings(const json_t *strings, const char *sep)
{
    size_t len = 1, i;
    json_t *v;
    json_array_foreach(strings, i, v)
    {
        if (json_is_string(v))
            len += json_string_length(v) + strlen(sep);
    }
    char *out = pgw_malloc(len), *p = out;
    json_array_foreach(strings, i, v)
    {
        if (!json_is_string(v))
            continue;
        if (p != out)
            p = stpcpy(p, sep);
        p = stpcpy(p, json_string_value(v));
    }
    *p = '\0';
    return out;
}
