/*
 * Parameter changes after bootstrap (see patroni_dcs.h).
 *
 * Why: once bootstrapped, Patroni reads its dynamic configuration from the
 * `<cluster>-config` annotation, not from patroni.yml. We own
 * postgresql.parameters, postgresql.pg_hba and the spec.replication keys (ttl,
 * loop_wait, retry_timeout, synchronous and failsafe modes) there and leave
 * every other key as Patroni left it;
 * scalars compare by text, so 100 and "100" are equal and nothing is rewritten;
 * lists (pg_hba) compare line by line, in order, as Patroni compares them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "controller/decide/patroni_dcs.h"

/* The value as Patroni would write it into postgresql.conf, into buf. NULL for values that are not scalars. */
static const char *as_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, size, "%.17g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "on" : "off";
    return NULL;
}

int pgw_patroni_params_equal(const json_t *a, const json_t *b)
{
    if (!json_is_object(a) || !json_is_object(b) || json_object_size(a) != json_object_size(b))
        return 0;
    const char *key;
    json_t *va;
    json_object_foreach((json_t *)a, key, va)
    {
        char ba[64], bb[64];
        const char *ta = as_text(va, ba, sizeof(ba)), *tb = as_text(json_object_get(b, key), bb, sizeof(bb));
        if (ta == NULL || tb == NULL || strcmp(ta, tb) != 0)
            return 0;
    }
    return 1;
}

/* 1 when two settings hold the same scalar, compared as text (Patroni keeps what it was given: 20 or "20"). */
static int setting_equal(const json_t *a, const json_t *b)
{
    char ba[64], bb[64];
    const char *ta = as_text(a, ba, sizeof(ba)), *tb = as_text(b, bb, sizeof(bb));
    return ta != NULL && tb != NULL && strcmp(ta, tb) == 0;
}

/* 1 when the stored value equals the one we own: lists and maps exactly, scalars as text. */
static int owned_equal(const json_t *stored, const json_t *owned)
{
    if (json_is_array(owned) || json_is_object(owned))
        return json_equal(stored, owned);
    return setting_equal(stored, owned);
}

/*
 * Sets the owned keys into `into`; an owned map (postgresql) is merged one key
 * at a time, so the keys beside ours in it (use_slots, parameters) stay.
 * Returns 1 when something changed.
 */
static int merge_owned(json_t *into, const json_t *owned)
{
    int changed = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)owned, key, value)
    {
        json_t *stored = json_object_get(into, key);
        if (json_is_object(value)) {
            if (!json_is_object(stored)) {
                stored = json_object();
                json_object_set_new(into, key, stored);
                changed = 1;
            }
            changed |= merge_owned(stored, value);
        } else if (!owned_equal(stored, value)) {
            json_object_set_new(into, key, json_deep_copy(value));
            changed = 1;
        }
    }
    return changed;
}

char *pgw_patroni_dcs_update(const char *current, const json_t *settings, const json_t *desired)
{
    json_t *config = current != NULL ? json_loads(current, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(config)) {
        json_decref(config);
        config = json_object();
    }
    int changed = current == NULL;
    if (settings != NULL && merge_owned(config, settings))
        changed = 1;
    json_t *pg = json_object_get(config, "postgresql");
    if (!json_is_object(pg)) {
        pg = json_object();
        json_object_set_new(config, "postgresql", pg);
    }
    if (!pgw_patroni_params_equal(json_object_get(pg, "parameters"), desired)) {
        json_object_set_new(pg, "parameters", json_deep_copy(desired));
        changed = 1;
    }
    char *out = changed ? json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(config);
    return out;
}
