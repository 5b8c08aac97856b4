/*
 * Login, logout and whoami (see handlers.h). Login trades a Kubernetes bearer
 * token for a session token: the Kubernetes API says whose it is (a
 * TokenReview, api/tokenreview.h), the session (api/session.h) carries that
 * identity. The pasted token is never logged, never kept, and the bytes of
 * the request that held it are zeroed once it is used.
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/identity.h"
#include "api/session.h"
#include "api/tokenreview.h"
#include "common/json_pack.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

/* Zeroes a string value's bytes in place (jansson keeps its own copy of a parsed string). */
static void wipe_string(json_t *v)
{
    if (json_is_string(v))
        memset((char *)json_string_value(v), 0, json_string_length(v));
}

static json_t *session_answer(const struct pgw_identity *who, time_t exp)
{
    char when[32], *ns = pgw_identity_namespace(who->username);
    json_t *a = pgw_json_pack("{s:o,s:s,s:s}", "user", pgw_identity_user_json(who), "namespace", ns, "expiresAt",
                              pgw_rfc3339_format(exp, when, sizeof(when)));
    free(ns);
    return a;
}

void pgw_api_login(const struct pgw_api_call *c, struct pgw_api_response *out)
{
    json_t *body = pgw_api_read_json(c->body, c->body_len, 0, out);
    if (c->body != NULL)
        memset(c->body, 0, c->body_len);
    if (body == NULL)
        return;
    json_t *token = json_object_get(body, "token");
    if (!json_is_string(token) || json_string_length(token) == 0) {
        pgw_api_response_status(out, 400, "the body is {\"token\": a Kubernetes bearer token}");
        wipe_string(token);
        json_decref(body);
        return;
    }
    struct pgw_identity who = {0};
    char *err = NULL;
    int rc = pgw_tokenreview(c->client, json_string_value(token), &who, &err);
    wipe_string(token);
    json_decref(body);
    if (rc != 0) {
        char *msg =
            pgw_asprintf(rc > 0 ? "not authenticated: %s" : "cannot check the token: %s", err != NULL ? err : "no reason given");
        pgw_api_response_status(out, rc > 0 ? 401 : 503, msg);
        if (rc > 0)
            out->www_authenticate = "Bearer realm=\"pgwarden\"";
        free(msg);
        free(err);
        return;
    }
    time_t exp = 0;
    char *jwt = pgw_session_issue(c->keys, &who, c->now, &exp, &err);
    if (jwt == NULL) {
        pgw_log(PGW_LOG_ERROR, "cannot issue a session", pgw_json_pack("{s:s,s:s}", "user", who.username, "error", err));
        pgw_api_response_status(out, 503, "cannot issue a session token; see the operator's log");
        free(err);
        pgw_identity_dispose(&who);
        return;
    }
    json_t *answer = session_answer(&who, exp);
    json_object_set_new(answer, "token", json_string(jwt));
    pgw_api_response_json(out, 200, answer);
    pgw_log(PGW_LOG_INFO, "API login", pgw_json_pack("{s:s}", "user", who.username));
    memset(jwt, 0, strlen(jwt));
    free(jwt);
    pgw_identity_dispose(&who);
}

void pgw_api_logout(const struct pgw_api_call *c, struct pgw_api_response *out)
{
    char *err = NULL;
    if (pgw_session_revoke(c->keys, c->who, &err) != 0) {
        pgw_log(PGW_LOG_ERROR, "cannot end a session", pgw_json_pack("{s:s,s:s}", "user", c->who->username, "error", err));
        pgw_api_response_status(out, 503, "cannot end the session now; it ends by itself when it expires");
        free(err);
        return;
    }
    pgw_api_response_dispose(out);
    out->status = 204;
}

void pgw_api_whoami(const struct pgw_api_call *c, struct pgw_api_response *out)
{
    pgw_api_response_json(out, 200, session_answer(c->who, c->who->exp));
}
