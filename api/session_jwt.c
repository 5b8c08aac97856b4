/*
 * Session JWTs, sign and verify (contract in session_jwt.h).
 *
 * libjwt 1.10 picks the algorithm from the token's own header, so handed a
 * public key PEM it would also check an "HS256" token as an HMAC keyed with
 * that (public) PEM, and it accepts "none" without a signature. Neither can
 * reach it: the header is decoded and checked here first (alg must be ES256,
 * no crit), the key is chosen by kid, and libjwt's algorithm is checked
 * again after decoding. Claims are read from the signed payload bytes with
 * duplicate keys refused.
 */
#include "api/session_jwt.h"

#include <jwt.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/session.h"
#include "common/base64.h"
#include "common/json_pack.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

#define JTI_BYTES 16

static const char msg_invalid[] = "invalid session token";
static const char msg_revoked[] = "session ended by logout";

char *pgw_base64url_decode(const char *in, size_t len, size_t *out_len)
{
    if (len % 4 == 1)
        return NULL;
    char *std = pgw_malloc(len + 4), *p = std;
    for (size_t i = 0; i != len; ++i) {
        char c = in[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            *p++ = c;
        else if (c == '-')
            *p++ = '+';
        else if (c == '_')
            *p++ = '/';
        else {
            free(std);
            return NULL;
        }
    }
    while ((p - std) % 4 != 0)
        *p++ = '=';
    *p = '\0';
    char *out = pgw_base64_decode(std, out_len);
    free(std);
    return out;
}

static char *new_jti(void)
{
    unsigned char raw[JTI_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    char *hex = pgw_malloc(2 * JTI_BYTES + 1);
    for (size_t i = 0; i != JTI_BYTES; ++i)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

char *pgw_session_jwt_sign(const struct pgw_session_key *key, const struct pgw_identity *who, time_t now, int seconds, time_t *exp,
                           char **err)
{
    *err = NULL;
    if (key == NULL || key->kid == NULL) {
        *err = pgw_strdup("session: no signing key");
        return NULL;
    }
    if (who->username == NULL || who->username[0] == '\0') {
        *err = pgw_strdup("session: no user name");
        return NULL;
    }
    char *jti = new_jti();
    if (jti == NULL) {
        *err = pgw_strdup("session: no random bytes for the token id");
        return NULL;
    }
    *exp = now + seconds;
    json_t *groups = json_array();
    for (size_t i = 0; i != json_array_size(who->groups); ++i)
        if (json_is_string(json_array_get(who->groups, i)))
            json_array_append(groups, json_array_get(who->groups, i));
    json_t *claims = pgw_json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:s}", "iss", PGW_SESSION_ISSUER, "aud", PGW_SESSION_AUDIENCE,
                                   "sub", who->username, "uid", who->uid != NULL ? who->uid : "", "groups", groups, "iat",
                                   (json_int_t)now, "exp", (json_int_t)*exp, "jti", jti);
    free(jti);
    char *text = claims != NULL ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    jwt_t *j = NULL;
    char *token = NULL;
    if (text != NULL && jwt_new(&j) == 0 && jwt_add_grants_json(j, text) == 0 && jwt_add_header(j, "kid", key->kid) == 0 &&
        jwt_set_alg(j, JWT_ALG_ES256, (const unsigned char *)key->priv_pem, (int)key->priv_len) == 0) {
        char *s = jwt_encode_str(j);
        if (s != NULL) {
            token = pgw_strdup(s);
            free(s); /* libjwt allocates with malloc unless told otherwise */
        }
    }
    jwt_free(j);
    free(text);
    ERR_clear_error(); /* per thread, and h2o's TLS on this thread reads it: leave nothing behind */
    if (token == NULL)
        *err = pgw_strdup("session: signing failed");
    return token;
}

/* The JSON object in a base64url segment, or NULL. */
static json_t *segment_json(const char *seg, size_t len)
{
    size_t n = 0;
    char *raw = pgw_base64url_decode(seg, len, &n);
    if (raw == NULL)
        return NULL;
    json_t *v = json_loadb(raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int aud_ok(const json_t *aud)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), PGW_SESSION_AUDIENCE) == 0;
    for (size_t i = 0; i != json_array_size(aud); ++i)
        if (json_is_string(json_array_get(aud, i)) && strcmp(json_string_value(json_array_get(aud, i)), PGW_SESSION_AUDIENCE) == 0)
            return 1;
    return 0;
}

static int groups_ok(const json_t *groups)
{
    if (groups == NULL)
        return 1;
    if (!json_is_array(groups))
        return 0;
    for (size_t i = 0; i != json_array_size(groups); ++i)
        if (!json_is_string(json_array_get(groups, i)))
            return 0;
    return 1;
}

/* Checks the claims (signature already verified); fills out on PGW_SESSION_OK. */
static int check_claims(const json_t *c, const json_t *revoked, time_t now, struct pgw_identity *out, const char **why)
{
    static _Thread_local char expired[96];
    const char *iss = json_string_value(json_object_get(c, "iss"));
    const char *sub = json_string_value(json_object_get(c, "sub"));
    const char *jti = json_string_value(json_object_get(c, "jti"));
    const json_t *uid = json_object_get(c, "uid"), *groups = json_object_get(c, "groups");
    const json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat"), *nbf = json_object_get(c, "nbf");
    if (iss == NULL || strcmp(iss, PGW_SESSION_ISSUER) != 0 || !aud_ok(json_object_get(c, "aud")) || sub == NULL ||
        sub[0] == '\0' || jti == NULL || jti[0] == '\0' || strlen(jti) > 128 || (uid != NULL && !json_is_string(uid)) ||
        !groups_ok(groups) || !json_is_integer(exp) || !json_is_integer(iat) || (nbf != NULL && !json_is_integer(nbf)))
        return PGW_SESSION_INVALID;
    if (json_integer_value(iat) > (json_int_t)now + PGW_SESSION_CLOCK_SKEW ||
        (nbf != NULL && json_integer_value(nbf) > (json_int_t)now + PGW_SESSION_CLOCK_SKEW))
        return PGW_SESSION_INVALID; /* not valid yet: made by a clock far ahead, or forged */
    time_t end = (time_t)json_integer_value(exp);
    if (end <= now) {
        char stamp[32];
        snprintf(expired, sizeof(expired), "session expired at %s; log in again", pgw_rfc3339_format(end, stamp, sizeof(stamp)));
        *why = expired;
        return PGW_SESSION_EXPIRED;
    }
    if (json_object_get(revoked, jti) != NULL) {
        *why = msg_revoked;
        return PGW_SESSION_REVOKED;
    }
    out->username = pgw_strdup(sub);
    out->uid = pgw_strdup(uid != NULL ? json_string_value(uid) : "");
    out->groups = groups != NULL ? json_deep_copy(groups) : json_array();
    out->jti = pgw_strdup(jti);
    out->exp = end;
    *why = NULL;
    return PGW_SESSION_OK;
}

int pgw_session_jwt_verify(const struct pgw_session_key *const *keys, size_t nkeys, const json_t *revoked, const char *jwt,
                           time_t now, struct pgw_identity *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = msg_invalid;
    size_t len = jwt != NULL ? strnlen(jwt, PGW_SESSION_JWT_MAX + 1) : 0;
    if (len == 0 || len > PGW_SESSION_JWT_MAX)
        return PGW_SESSION_INVALID;
    const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot2[1] == '\0')
        return PGW_SESSION_INVALID; /* three segments, and a signature */
    json_t *header = segment_json(jwt, (size_t)(dot1 - jwt));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    const char *typ = json_string_value(json_object_get(header, "typ"));
    const struct pgw_session_key *key = NULL;
    int verdict = PGW_SESSION_INVALID;
    if (alg == NULL || strcmp(alg, "ES256") != 0 || kid == NULL || json_object_get(header, "crit") != NULL ||
        (json_object_get(header, "typ") != NULL && (typ == NULL || strcmp(typ, "JWT") != 0)))
        goto done;
    for (size_t i = 0; i != nkeys && key == NULL; ++i)
        if (keys[i] != NULL && keys[i]->kid != NULL && strcmp(keys[i]->kid, kid) == 0)
            key = keys[i];
    if (key == NULL) {
        verdict = PGW_SESSION_UNKNOWN_KID;
        goto done;
    }
    jwt_t *j = NULL;
    if (jwt_decode(&j, jwt, (const unsigned char *)key->pub_pem, (int)key->pub_len) != 0 || jwt_get_alg(j) != JWT_ALG_ES256) {
        jwt_free(j);
        goto done;
    }
    jwt_free(j);
    json_t *claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (claims != NULL)
        verdict = check_claims(claims, revoked, now, out, why);
    json_decref(claims);
done:
    ERR_clear_error(); /* as in pgw_session_jwt_sign */
    json_decref(header);
    if (verdict != PGW_SESSION_OK && verdict != PGW_SESSION_EXPIRED && verdict != PGW_SESSION_REVOKED)
        *why = msg_invalid;
    return verdict;
}
