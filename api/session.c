/*
 * Session JWTs (contract in session.h). Work in progress: the keyring lands
 * in the next commits; until then every call fails cleanly.
 */
#include "api/session.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct pgw_session_keys {
    struct pgw_kclient *client; /* borrowed */
    char *ns;
    int session_seconds, rotation_seconds;
};

struct pgw_session_keys *pgw_session_keys_new(struct pgw_kclient *operator_client, const char *ns, int session_seconds,
                                              int rotation_seconds)
{
    struct pgw_session_keys *k = pgw_calloc(1, sizeof(*k));
    k->client = operator_client;
    k->ns = ns != NULL ? pgw_strdup(ns) : NULL;
    k->session_seconds = session_seconds;
    k->rotation_seconds = rotation_seconds;
    return k;
}

void pgw_session_keys_free(struct pgw_session_keys *k)
{
    if (k == NULL)
        return;
    free(k->ns);
    free(k);
}

int pgw_session_keys_load(struct pgw_session_keys *k, time_t now, char **err)
{
    *err = pgw_strdup("session keys: not implemented yet");
    return -1;
}

char *pgw_session_issue(struct pgw_session_keys *k, const struct pgw_identity *who, time_t now, time_t *exp, char **err)
{
    *err = pgw_strdup("session keys: not implemented yet");
    return NULL;
}

int pgw_session_verify(struct pgw_session_keys *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = "invalid session token";
    return PGW_SESSION_INVALID;
}

int pgw_session_revoke(struct pgw_session_keys *k, const struct pgw_identity *who, char **err)
{
    *err = pgw_strdup("session keys: not implemented yet");
    return -1;
}
