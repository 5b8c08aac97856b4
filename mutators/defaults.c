/*
 * Set-if-unset helpers shared by the mutators (see defaults.h).
 */
#include "mutators/defaults.h"

#include "specs/replication.h"

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

void pgw_default_replication(json_t *spec)
{
    json_t *replication = pgw_default_object(spec, "replication");
    if (replication == NULL)
        return; /* not an object: validation reports it */
    /* YAML 1.1 reads an unquoted `on`/`off` as a boolean: keep the mode's name, so the spec reads as written. */
    json_t *sync = json_object_get(replication, "synchronous");
    if (json_is_boolean(sync))
        json_object_set_new(replication, "synchronous", json_string(json_is_true(sync) ? "on" : "off"));
    pgw_default_set(replication, "synchronous", json_string("off"));
    pgw_default_set(replication, "ttl", json_integer(PGW_REPLICATION_TTL_DEFAULT));
    pgw_default_set(replication, "loopWait", json_integer(PGW_REPLICATION_LOOP_WAIT_DEFAULT));
    pgw_default_set(replication, "retryTimeout", json_integer(PGW_REPLICATION_RETRY_TIMEOUT_DEFAULT));
}
