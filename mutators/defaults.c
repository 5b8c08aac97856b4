/*
 * Set-if-unset helpers shared by the mutators (see defaults.h).
 */
#include "mutators/defaults.h"

static int unset(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v == NULL || json_is_null(v);
}

void pgw_default_set(json_t *obj, const char *key, json_t *value)
{
    if (json_is_object(obj) && unset(obj, key))
        json_object_set_new(obj, key, value);
    else
        json_decref(value);
}

json_t *pgw_default_object(json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    if (unset(obj, key))
        json_object_set_new(obj, key, json_object());
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

json_t *pgw_existing_object(json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_object(v) ? v : NULL;
}
