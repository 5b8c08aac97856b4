/*
 * The Secret form of the session keyring (contract in session_store.h).
 *
 * Edits work on the Secret object as read, so a PUT with its
 * resourceVersion changes only the keys named here and a conflicting writer
 * (another replica rotating or revoking) makes it fail with 409 instead of
 * being overwritten.
 */
#include "api/session_store.h"

#include <stdlib.h>
#include <string.h>

#include "api/session.h"
#include "common/base64.h"
#include "common/json_pack.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

void pgw_session_ring_dispose(struct pgw_session_ring *r)
{
    pgw_session_key_dispose(&r->current);
    pgw_session_key_dispose(&r->previous);
    json_decref(r->revoked);
    memset(r, 0, sizeof(*r));
}

/* data[key] decoded (caller frees; OPENSSL-cleansed by the caller when secret), or NULL. */
static char *data_get(const json_t *secret, const char *key, size_t *len)
{
    const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
    if (b64 == NULL)
        return NULL;
    return pgw_base64_decode(b64, len);
}

static void data_set(json_t *secret, const char *key, const char *value, size_t len)
{
    json_t *data = json_object_get(secret, "data");
    if (!json_is_object(data)) {
        data = json_object();
        json_object_set_new(secret, "data", data);
    }
    char *b64 = pgw_base64_encode(value, len);
    json_object_set_new(data, key, json_string(b64));
    free(b64);
}

static void data_set_str(json_t *secret, const char *key, const char *value)
{
    data_set(secret, key, value, strlen(value));
}

static void data_del(json_t *secret, const char *key)
{
    json_object_del(json_object_get(secret, "data"), key);
}

/* One key slot ("current" or "previous") into out. 0, or -1 with *err. */
static int read_slot(const json_t *secret, const char *slot, struct pgw_session_key *out, char **err)
{
    char name[32];
    size_t pem_len = 0, kid_len = 0, created_len = 0;
    snprintf(name, sizeof(name), "%s.pem", slot);
    char *pem = data_get(secret, name, &pem_len);
    snprintf(name, sizeof(name), "%s.kid", slot);
    char *kid = data_get(secret, name, &kid_len);
    snprintf(name, sizeof(name), "%s.created", slot);
    char *created = data_get(secret, name, &created_len);
    time_t when = 0;
    const char *why = NULL;
    if (created == NULL || pgw_rfc3339_parse(created, &when, &why) != 0)
        when = 0;
    int rc = -1;
    if (pem == NULL) {
        memset(out, 0, sizeof(*out));
        *err = pgw_asprintf("session keys: the Secret has no %s.pem", slot);
    } else {
        rc = pgw_session_key_from_pem(out, pem, pem_len, kid, when, err);
        memset(pem, 0, pem_len);
    }
    free(pem);
    free(kid);
    free(created);
    return rc;
}

int pgw_session_secret_read(const json_t *secret, time_t now, struct pgw_session_ring *out, char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    if (read_slot(secret, "current", &out->current, err) != 0)
        return -1;
    char *ignored = NULL;
    if (read_slot(secret, "previous", &out->previous, &ignored) != 0)
        free(ignored); /* no previous key yet, or an unreadable one: tokens it signed stop verifying */
    out->revoked = json_object();
    size_t len = 0;
    char *text = data_get(secret, "revoked", &len);
    json_t *list = text != NULL ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (json_is_object(list))
        pgw_session_revoked_merge(out->revoked, list, now);
    json_decref(list);
    free(text);
    return 0;
}

static void set_current(json_t *secret, const struct pgw_session_key *key)
{
    char stamp[32];
    data_set(secret, "current.pem", key->priv_pem, key->priv_len);
    data_set_str(secret, "current.kid", key->kid);
    data_set_str(secret, "current.created", pgw_rfc3339_format(key->created, stamp, sizeof(stamp)));
}

json_t *pgw_session_secret_new(const char *ns, const struct pgw_session_key *key)
{
    json_t *secret = pgw_json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{}}", "apiVersion", "v1", "kind", "Secret", "type",
                                   "Opaque", "metadata", "name", PGW_SESSION_SECRET, "namespace", ns, "labels",
                                   "app.kubernetes.io/name", "pgwarden", "app.kubernetes.io/component", "api", "data");
    set_current(secret, key);
    return secret;
}

void pgw_session_secret_rotate(json_t *secret, const struct pgw_session_key *key)
{
    json_t *data = json_object_get(secret, "data");
    static const char *const fields[] = {"pem", "kid", "created"};
    for (size_t i = 0; i != sizeof(fields) / sizeof(fields[0]); ++i) {
        char cur[32], prev[32];
        snprintf(cur, sizeof(cur), "current.%s", fields[i]);
        snprintf(prev, sizeof(prev), "previous.%s", fields[i]);
        json_t *v = json_object_get(data, cur);
        if (v != NULL)
            json_object_set(data, prev, v);
        else
            data_del(secret, prev);
    }
    set_current(secret, key);
}

void pgw_session_secret_replace(json_t *secret, const struct pgw_session_key *key)
{
    data_del(secret, "previous.pem");
    data_del(secret, "previous.kid");
    data_del(secret, "previous.created");
    set_current(secret, key);
}

int pgw_session_secret_set_revoked(json_t *secret, const json_t *revoked)
{
    char *text = json_dumps(revoked, JSON_COMPACT | JSON_SORT_KEYS);
    size_t len = strlen(text);
    int rc = len <= PGW_SESSION_REVOKED_MAX_BYTES ? 0 : -1;
    if (rc == 0)
        data_set(secret, "revoked", text, len);
    free(text);
    return rc;
}

json_t *pgw_session_secret_patch(const json_t *before, const json_t *after)
{
    const json_t *old = json_object_get(before, "data"), *cur = json_object_get(after, "data");
    json_t *data = json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)cur, key, value)
    {
        if (!json_equal(value, json_object_get(old, key)))
            json_object_set(data, key, value);
    }
    json_object_foreach((json_t *)old, key, value)
    {
        if (json_object_get(cur, key) == NULL)
            json_object_set_new(data, key, json_null());
    }
    json_t *patch = json_object();
    const char *rv = json_string_value(json_object_get(json_object_get(before, "metadata"), "resourceVersion"));
    if (rv != NULL)
        json_object_set_new(patch, "metadata", pgw_json_pack("{s:s}", "resourceVersion", rv));
    json_object_set_new(patch, "data", data);
    return patch;
}

int pgw_session_needs_rotation(const struct pgw_session_ring *r, time_t now, int rotation_seconds)
{
    return r->current.created <= 0 || now - r->current.created >= (time_t)rotation_seconds;
}

void pgw_session_revoked_prune(json_t *revoked, time_t now)
{
    const char *jti;
    json_t *exp, *tmp;
    json_object_foreach_safe(revoked, tmp, jti, exp)
    {
        if (!json_is_integer(exp) || json_integer_value(exp) <= (json_int_t)now)
            json_object_del(revoked, jti);
    }
}

void pgw_session_revoked_merge(json_t *into, const json_t *from, time_t now)
{
    const char *jti;
    json_t *exp;
    json_object_foreach((json_t *)from, jti, exp)
    {
        if (!json_is_integer(exp) || json_integer_value(exp) <= (json_int_t)now)
            continue;
        json_t *have = json_object_get(into, jti);
        if (!json_is_integer(have) || json_integer_value(have) < json_integer_value(exp))
            json_object_set_new(into, jti, json_integer(json_integer_value(exp)));
    }
}
