/*
 * Login through a TokenReview (contract in tokenreview.h).
 *
 * The bearer token appears in four places here: the caller's string (theirs
 * to zero), the request object built below, the serialized request and raw
 * answer inside the kube client (pgw_kclient_request_secret zeroes those),
 * and spec.token echoed back in the parsed answer. The two JSON copies are
 * zeroed in place before they are released. The kube client logs method,
 * path and status only.
 */
#include "api/tokenreview.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

#define MAX_TOKEN_BYTES 16384

json_t *pgw_tokenreview_body(const char *token)
{
    return pgw_json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind", "TokenReview", "spec", "token",
                         token);
}

void pgw_tokenreview_wipe(json_t *review)
{
    json_t *t = json_object_get(json_object_get(review, "spec"), "token");
    if (json_is_string(t)) {
        /* jansson owns the bytes; zeroing them in place is the only way to not leave the token in freed memory */
        char *bytes = (char *)json_string_value(t);
        memset(bytes, 0, json_string_length(t));
    }
}

int pgw_tokenreview_parse(const json_t *answer, struct pgw_identity *out, char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    const json_t *status = json_object_get(answer, "status");
    if (!json_is_object(status)) {
        *err = pgw_strdup("TokenReview answer has no status");
        return -1;
    }
    const char *error = json_string_value(json_object_get(status, "error"));
    if (!json_is_true(json_object_get(status, "authenticated"))) {
        *err = pgw_strdup(error != NULL && error[0] != '\0' ? error : "token not authenticated");
        return 1;
    }
    const json_t *user = json_object_get(status, "user");
    const char *username = json_string_value(json_object_get(user, "username"));
    if (username == NULL || username[0] == '\0') {
        /* authenticated but nobody: nothing to impersonate, so no session */
        *err = pgw_strdup("TokenReview authenticated the token but named no user");
        return 1;
    }
    out->username = pgw_strdup(username);
    const char *uid = json_string_value(json_object_get(user, "uid"));
    out->uid = pgw_strdup(uid != NULL ? uid : "");
    out->groups = json_array();
    const json_t *groups = json_object_get(user, "groups");
    for (size_t i = 0; i != json_array_size(groups); ++i)
        if (json_is_string(json_array_get(groups, i)))
            json_array_append(out->groups, json_array_get(groups, i));
    return 0;
}

int pgw_tokenreview(struct pgw_kclient *operator_client, const char *token, struct pgw_identity *out, char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    if (token == NULL || token[0] == '\0') {
        *err = pgw_strdup("no token given");
        return 1;
    }
    /* Bearer tokens are printable ASCII (JWTs, bootstrap tokens); anything else is refused before it is copied. */
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)token; *p != '\0'; ++p, ++len)
        if (*p < 0x21 || *p > 0x7e || len >= MAX_TOKEN_BYTES) {
            *err = pgw_strdup("that is not a bearer token");
            return 1;
        }
    json_t *body = pgw_tokenreview_body(token);
    struct pgw_kresult res;
    int rc = pgw_kclient_request_secret(operator_client, "POST", PGW_TOKENREVIEW_PATH, "application/json", body, &res);
    pgw_tokenreview_wipe(body);
    json_decref(body);
    pgw_tokenreview_wipe(res.body);
    int ret;
    if (rc == PGW_K_OK) {
        ret = pgw_tokenreview_parse(res.body, out, err);
    } else {
        *err = pgw_asprintf("TokenReview failed: HTTP %ld%s%s", res.http_status, res.message != NULL ? ": " : "",
                            res.message != NULL ? res.message : "");
        ret = -1;
    }
    pgw_kresult_dispose(&res);
    return ret;
}
