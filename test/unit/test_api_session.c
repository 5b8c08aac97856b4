/*
 * Unit tests for api/session*: ES256 session JWTs (issue → verify, expiry,
 * a future iat, tampering, alg none, HS256 keyed with the public key, an
 * unknown kid, rotation, logout), interoperability with a second ES256
 * implementation written here on plain OpenSSL (JOSE raw r||s signatures
 * both ways), and the Secret form of the keyring (read/new/rotate/replace,
 * the merge patch, revocation merge and pruning) without a server.
 */
#include "helpers.h"
#include <arpa/inet.h>
#include <check.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/identity.h"
#include "api/session.h"
#include "api/session_jwt.h"
#include "api/session_key.h"
#include "api/session_store.h"
#include "common/base64.h"
#include "common/xalloc.h"
#include "controller/kube/kclient.h"

#define T0 ((time_t)1893456000) /* 2030-01-01T00:00:00Z */

/* ---- an independent ES256 (OpenSSL only) -------------------------------- */

static char *b64url(const void *data, size_t len)
{
    char *s = pgw_base64_encode(data, len);
    size_t n = 0;
    for (char *p = s; *p != '\0'; ++p) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        if (*p != '=')
            s[n++] = *p;
    }
    s[n] = '\0';
    return s;
}

static EVP_PKEY *read_priv(const struct pgw_session_key *k)
{
    BIO *bio = BIO_new_mem_buf(k->priv_pem, (int)k->priv_len);
    EVP_PKEY *p = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ck_assert_ptr_nonnull(p);
    return p;
}

static EVP_PKEY *read_pub(const struct pgw_session_key *k)
{
    BIO *bio = BIO_new_mem_buf(k->pub_pem, (int)k->pub_len);
    EVP_PKEY *p = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* "header.payload.sig" signed with OpenSSL: DER signature turned into JOSE's 64-byte r||s. der: keep DER instead. */
static char *sign_independently(const struct pgw_session_key *k, const char *header, const char *claims, int der)
{
    char *h = b64url(header, strlen(header)), *c = b64url(claims, strlen(claims));
    char *input = pgw_asprintf("%s.%s", h, c);
    EVP_PKEY *pkey = read_priv(k);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[128];
    size_t siglen = sizeof(sig);
    ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
    ck_assert_int_eq(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)), 1);
    unsigned char raw[64];
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
    ck_assert_ptr_nonnull(es);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
    ECDSA_SIG_free(es);
    char *s = der ? b64url(sig, siglen) : b64url(raw, sizeof(raw));
    char *token = pgw_asprintf("%s.%s", input, s);
    free(s);
    free(h);
    free(c);
    free(input);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return token;
}

/* Whether OpenSSL alone accepts token's signature as JOSE ES256 (raw r||s) by k. */
static int verifies_independently(const struct pgw_session_key *k, const char *token)
{
    const char *dot2 = strrchr(token, '.');
    size_t rawlen = 0;
    char *raw = pgw_base64url_decode(dot2 + 1, strlen(dot2 + 1), &rawlen);
    if (raw == NULL || rawlen != 64) {
        free(raw);
        return 0;
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn((unsigned char *)raw, 32, NULL), BN_bin2bn((unsigned char *)raw + 32, 32, NULL));
    unsigned char *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    EVP_PKEY *pkey = read_pub(k);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey);
    int ok = EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)token, (size_t)(dot2 - token)) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    free(raw);
    return ok;
}

/* ---- fixtures ------------------------------------------------------------- */

static struct pgw_session_key new_key(time_t created)
{
    struct pgw_session_key k;
    char *err = NULL;
    ck_assert_msg(pgw_session_key_generate(&k, created, &err) == 0, "%s", err != NULL ? err : "");
    ck_assert_uint_eq(strlen(k.kid), PGW_SESSION_KID_LEN);
    return k;
}

static struct pgw_identity alice(size_t ngroups)
{
    struct pgw_identity who = {
        .username = pgw_strdup("system:serviceaccount:shop:alice"), .uid = pgw_strdup("u-123"), .groups = json_array()};
    for (size_t i = 0; i != ngroups; ++i) {
        char g[64];
        snprintf(g, sizeof(g), i == 0 ? "system:authenticated" : "team-%zu", i);
        json_array_append_new(who.groups, json_string(g));
    }
    return who;
}

static int verify1(const struct pgw_session_key *k, const char *jwt, time_t now, struct pgw_identity *out, const char **why)
{
    const struct pgw_session_key *keys[] = {k};
    return pgw_session_jwt_verify(keys, 1, NULL, jwt, now, out, why);
}

/* The claims we issue, with one member replaced (NULL: none). */
static char *claims_text(const char *iss, const char *aud_json, time_t iat, time_t exp)
{
    return pgw_asprintf("{\"iss\":\"%s\",\"aud\":%s,\"sub\":\"bob\",\"uid\":\"\",\"groups\":[\"g\"],\"iat\":%lld,\"exp\":%lld,"
                        "\"jti\":\"00112233445566778899aabbccddeeff\"}",
                        iss, aud_json, (long long)iat, (long long)exp);
}

/* ---- the JWT ------------------------------------------------------------- */

START_TEST(issue_verify_round_trip)
{
    struct pgw_session_key k = new_key(T0);
    struct pgw_identity who = alice(3), got;
    char *err = NULL;
    time_t exp = 0;
    char *jwt = pgw_session_jwt_sign(&k, &who, T0, 900, &exp, &err);
    ck_assert_ptr_nonnull(jwt);
    ck_assert_int_eq(exp, T0 + 900);
    const char *why = "unset";
    ck_assert_int_eq(verify1(&k, jwt, T0 + 10, &got, &why), PGW_SESSION_OK);
    ck_assert_ptr_null(why);
    ck_assert_str_eq(got.username, who.username);
    ck_assert_str_eq(got.uid, "u-123");
    ck_assert(json_equal(got.groups, who.groups));
    ck_assert_int_eq(got.exp, T0 + 900);
    ck_assert_uint_eq(strlen(got.jti), 32);
    ck_assert_uint_eq(strspn(got.jti, "0123456789abcdef"), 32);
    /* the header names the key and the algorithm */
    size_t hlen = 0;
    char *header = pgw_base64url_decode(jwt, (size_t)(strchr(jwt, '.') - jwt), &hlen);
    json_t *h = json_loads(header, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(h, "alg")), "ES256");
    ck_assert_str_eq(json_string_value(json_object_get(h, "kid")), k.kid);
    /* two sessions of the same user have different ids */
    char *jwt2 = pgw_session_jwt_sign(&k, &who, T0, 900, &exp, &err);
    struct pgw_identity got2;
    ck_assert_int_eq(verify1(&k, jwt2, T0 + 10, &got2, &why), PGW_SESSION_OK);
    ck_assert_str_ne(got.jti, got2.jti);
    json_decref(h);
    free(header);
    free(jwt);
    free(jwt2);
    pgw_identity_dispose(&got);
    pgw_identity_dispose(&got2);
    pgw_identity_dispose(&who);
    pgw_session_key_dispose(&k);
}
END_TEST

START_TEST(expiry_and_future_iat)
{
    struct pgw_session_key k = new_key(T0);
    struct pgw_identity who = alice(1), got;
    char *err = NULL;
    time_t exp = 0;
    char *jwt = pgw_session_jwt_sign(&k, &who, T0, 900, &exp, &err);
    const char *why = NULL;
    ck_assert_int_eq(verify1(&k, jwt, T0 + 899, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(verify1(&k, jwt, T0 + 900, &got, &why), PGW_SESSION_EXPIRED);
    ck_assert_str_eq(why, "session expired at 2030-01-01T00:15:00Z; log in again");
    ck_assert_ptr_null(got.username);
    ck_assert_int_eq(verify1(&k, jwt, T0 + 100000, &got, &why), PGW_SESSION_EXPIRED);
    /* issued more than a minute in the future: another clock far off, or forged */
    ck_assert_int_eq(verify1(&k, jwt, T0 - PGW_SESSION_CLOCK_SKEW, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(verify1(&k, jwt, T0 - PGW_SESSION_CLOCK_SKEW - 1, &got, &why), PGW_SESSION_INVALID);
    ck_assert_str_eq(why, "invalid session token");
    free(jwt);
    pgw_identity_dispose(&who);
    pgw_session_key_dispose(&k);
}
END_TEST

START_TEST(tampered_payload_and_signature)
{
    struct pgw_session_key k = new_key(T0);
    struct pgw_identity who = alice(1), got;
    char *err = NULL;
    time_t exp = 0;
    char *jwt = pgw_session_jwt_sign(&k, &who, T0, 900, &exp, &err);
    const char *why = NULL;
    const char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
    /* the payload with another user, the header and signature kept */
    size_t plen = 0;
    char *payload = pgw_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
    json_t *claims = json_loads(payload, 0, NULL);
    json_object_set_new(claims, "sub", json_string("system:admin"));
    char *text = json_dumps(claims, JSON_COMPACT), *enc = b64url(text, strlen(text));
    char *forged = pgw_asprintf("%.*s.%s%s", (int)(dot1 - jwt), jwt, enc, dot2);
    ck_assert_int_eq(verify1(&k, forged, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    ck_assert_str_eq(why, "invalid session token");
    /* one bit of the signature flipped (a middle character: the last one carries padding bits) */
    char *flipped = pgw_strdup(jwt);
    char *c = flipped + (dot2 - jwt) + 10;
    *c = *c == 'A' ? 'B' : 'A';
    ck_assert_int_eq(verify1(&k, flipped, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    /* the signature cut off, or empty */
    char *nosig = pgw_strndup(jwt, (size_t)(dot2 - jwt) + 1);
    ck_assert_int_eq(verify1(&k, nosig, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    /* OpenSSL's error queue is per thread and h2o's TLS reads it on the same thread: nothing may be left there */
    ck_assert_uint_eq(ERR_peek_error(), 0);
    /* the original still verifies: the failures above come from the edits */
    ck_assert_int_eq(verify1(&k, jwt, T0 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    static const char *const garbage[] = {"", "abc", "a.b", "a.b.c.d", "..", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA", "@@@.@@@.@@@"};
    for (size_t i = 0; i != sizeof(garbage) / sizeof(garbage[0]); ++i)
        ck_assert_msg(verify1(&k, garbage[i], T0 + 1, &got, &why) == PGW_SESSION_INVALID, "row %zu", i);
    char *huge = pgw_malloc(PGW_SESSION_JWT_MAX + 10);
    memset(huge, 'a', PGW_SESSION_JWT_MAX + 9);
    huge[PGW_SESSION_JWT_MAX + 9] = '\0';
    ck_assert_int_eq(verify1(&k, huge, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    free(huge);
    free(nosig);
    free(flipped);
    free(forged);
    free(enc);
    free(text);
    json_decref(claims);
    free(payload);
    free(jwt);
    pgw_identity_dispose(&who);
    pgw_session_key_dispose(&k);
}
END_TEST

START_TEST(alg_none_and_hs256_with_the_public_key)
{
    struct pgw_session_key k = new_key(T0);
    struct pgw_identity got;
    const char *why = NULL;
    char *claims = claims_text("pgwarden", "\"pgwarden-api\"", T0, T0 + 900);
    /* alg none, with and without a signature */
    char *hdr = pgw_asprintf("{\"alg\":\"none\",\"kid\":\"%s\"}", k.kid);
    char *h = b64url(hdr, strlen(hdr)), *c = b64url(claims, strlen(claims));
    char *none1 = pgw_asprintf("%s.%s.", h, c), *none2 = pgw_asprintf("%s.%s.AAAA", h, c);
    ck_assert_int_eq(verify1(&k, none1, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    ck_assert_int_eq(verify1(&k, none2, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    /* HS256 keyed with the public key PEM, the classic confusion */
    jwt_t *j = NULL;
    ck_assert_int_eq(jwt_new(&j), 0);
    ck_assert_int_eq(jwt_add_grants_json(j, claims), 0);
    ck_assert_int_eq(jwt_add_header(j, "kid", k.kid), 0);
    ck_assert_int_eq(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)k.pub_pem, (int)k.pub_len), 0);
    char *hs = jwt_encode_str(j);
    jwt_free(j);
    ck_assert_ptr_nonnull(hs);
    /* libjwt alone, handed the public key, takes it: the check in session_jwt.c is what stops it */
    jwt_t *d = NULL;
    ck_assert_int_eq(jwt_decode(&d, hs, (const unsigned char *)k.pub_pem, (int)k.pub_len), 0);
    jwt_free(d);
    ck_assert_int_eq(verify1(&k, hs, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    ck_assert_str_eq(why, "invalid session token");
    /* other header tricks: no kid, a crit member, a typ that is not JWT */
    static const char *const headers[] = {"{\"alg\":\"ES256\"}", "{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}",
                                          "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWE\"}",
                                          "{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"%s\"}",
                                          "{\"alg\":\"es256\",\"kid\":\"%s\"}"};
    for (size_t i = 0; i != sizeof(headers) / sizeof(headers[0]); ++i) {
        char *hh = pgw_asprintf(headers[i], k.kid);
        char *tok = sign_independently(&k, hh, claims, 0);
        ck_assert_msg(verify1(&k, tok, T0 + 1, &got, &why) == PGW_SESSION_INVALID, "row %zu", i);
        free(tok);
        free(hh);
    }
    free(hs);
    free(none1);
    free(none2);
    free(h);
    free(c);
    free(hdr);
    free(claims);
    pgw_session_key_dispose(&k);
}
END_TEST

START_TEST(interop_with_openssl)
{
    struct pgw_session_key k = new_key(T0);
    struct pgw_identity who = alice(2), got;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    /* ours → theirs: a JOSE r||s signature OpenSSL verifies */
    char *ours = pgw_session_jwt_sign(&k, &who, T0, 900, &exp, &err);
    ck_assert(verifies_independently(&k, ours));
    struct pgw_session_key other = new_key(T0);
    ck_assert(!verifies_independently(&other, ours)); /* the check can fail */
    /* theirs → ours */
    char *hdr = pgw_asprintf("{\"alg\":\"ES256\",\"kid\":\"%s\"}", k.kid);
    char *claims = claims_text("pgwarden", "\"pgwarden-api\"", T0, T0 + 900);
    char *theirs = sign_independently(&k, hdr, claims, 0);
    ck_assert_int_eq(verify1(&k, theirs, T0 + 1, &got, &why), PGW_SESSION_OK);
    ck_assert_str_eq(got.username, "bob");
    ck_assert_str_eq(got.jti, "00112233445566778899aabbccddeeff");
    pgw_identity_dispose(&got);
    /* an audience list holding ours is an audience too (RFC 7519 §4.1.3) */
    char *claims_list = claims_text("pgwarden", "[\"other\",\"pgwarden-api\"]", T0, T0 + 900);
    char *listed = sign_independently(&k, hdr, claims_list, 0);
    ck_assert_int_eq(verify1(&k, listed, T0 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    /* the same signature in DER (not JOSE) is refused */
    char *der = sign_independently(&k, hdr, claims, 1);
    ck_assert_int_eq(verify1(&k, der, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    /* well signed, but wrong issuer or audience */
    struct {
        const char *iss, *aud;
    } bad[] = {
        {"someone", "\"pgwarden-api\""}, {"pgwarden", "\"kubernetes\""}, {"pgwarden", "[\"kubernetes\"]"}, {"pgwarden", "7"}};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        char *cl = claims_text(bad[i].iss, bad[i].aud, T0, T0 + 900);
        char *tok = sign_independently(&k, hdr, cl, 0);
        ck_assert_msg(verify1(&k, tok, T0 + 1, &got, &why) == PGW_SESSION_INVALID, "row %zu", i);
        free(tok);
        free(cl);
    }
    ck_assert_uint_eq(ERR_peek_error(), 0); /* as in tampered_payload_and_signature */
    /* missing or mistyped claims */
    static const char *const broken[] = {
        "{\"iss\":\"pgwarden\",\"aud\":\"pgwarden-api\",\"iat\":1,\"exp\":9999999999,\"jti\":\"x\"}", /* no sub */
        "{\"iss\":\"pgwarden\",\"aud\":\"pgwarden-api\",\"sub\":\"b\",\"iat\":1,\"exp\":9999999999}", /* no jti */
        "{\"iss\":\"pgwarden\",\"aud\":\"pgwarden-api\",\"sub\":\"b\",\"iat\":1,\"exp\":\"9999999999\",\"jti\":\"x\"}",
        "{\"iss\":\"pgwarden\",\"aud\":\"pgwarden-api\",\"sub\":\"b\",\"iat\":1,\"exp\":9999999999,\"jti\":\"x\",\"groups\":[1]}",
        "{\"iss\":\"pgwarden\",\"aud\":\"pgwarden-api\",\"sub\":\"b\",\"sub\":\"c\",\"iat\":1,\"exp\":9999999999,\"jti\":\"x\"}",
    };
    for (size_t i = 0; i != sizeof(broken) / sizeof(broken[0]); ++i) {
        char *tok = sign_independently(&k, hdr, broken[i], 0);
        ck_assert_msg(verify1(&k, tok, T0 + 1, &got, &why) == PGW_SESSION_INVALID, "broken row %zu", i);
        free(tok);
    }
    free(der);
    free(listed);
    free(claims_list);
    free(theirs);
    free(claims);
    free(hdr);
    free(ours);
    pgw_identity_dispose(&who);
    pgw_session_key_dispose(&other);
    pgw_session_key_dispose(&k);
}
END_TEST

START_TEST(unknown_kid_and_previous_key)
{
    struct pgw_session_key a = new_key(T0), b = new_key(T0), c = new_key(T0);
    struct pgw_identity who = alice(1), got;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    char *by_a = pgw_session_jwt_sign(&a, &who, T0, 900, &exp, &err);
    const struct pgw_session_key *ba[] = {&b, &a}, *cb[] = {&c, &b};
    ck_assert_int_eq(pgw_session_jwt_verify(ba, 2, NULL, by_a, T0 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(pgw_session_jwt_verify(cb, 2, NULL, by_a, T0 + 1, &got, &why), PGW_SESSION_UNKNOWN_KID);
    ck_assert_str_eq(why, "invalid session token");
    /* a's kid on b's key: the signature decides */
    struct pgw_session_key imposter;
    pgw_session_key_copy(&imposter, &b);
    free(imposter.kid);
    imposter.kid = pgw_strdup(a.kid);
    ck_assert_int_eq(verify1(&imposter, by_a, T0 + 1, &got, &why), PGW_SESSION_INVALID);
    free(by_a);
    pgw_identity_dispose(&who);
    pgw_session_key_dispose(&imposter);
    pgw_session_key_dispose(&a);
    pgw_session_key_dispose(&b);
    pgw_session_key_dispose(&c);
}
END_TEST

START_TEST(groups_none_and_many)
{
    struct pgw_session_key k = new_key(T0);
    size_t counts[] = {0, 1, 200};
    for (size_t i = 0; i != sizeof(counts) / sizeof(counts[0]); ++i) {
        struct pgw_identity who = alice(counts[i]), got;
        char *err = NULL;
        time_t exp = 0;
        const char *why = NULL;
        char *jwt = pgw_session_jwt_sign(&k, &who, T0, 900, &exp, &err);
        ck_assert_ptr_nonnull(jwt);
        ck_assert_uint_lt(strlen(jwt), PGW_SESSION_JWT_MAX);
        ck_assert_int_eq(verify1(&k, jwt, T0 + 1, &got, &why), PGW_SESSION_OK);
        ck_assert_uint_eq(json_array_size(got.groups), counts[i]);
        ck_assert(json_equal(got.groups, who.groups));
        free(jwt);
        pgw_identity_dispose(&got);
        pgw_identity_dispose(&who);
    }
    /* no groups member at all (NULL) signs as [] */
    struct pgw_identity bare = {.username = pgw_strdup("carol")}, got;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    char *jwt = pgw_session_jwt_sign(&k, &bare, T0, 60, &exp, &err);
    ck_assert_int_eq(verify1(&k, jwt, T0 + 1, &got, &why), PGW_SESSION_OK);
    ck_assert(json_is_array(got.groups));
    ck_assert_uint_eq(json_array_size(got.groups), 0);
    ck_assert_str_eq(got.uid, "");
    free(jwt);
    pgw_identity_dispose(&got);
    pgw_identity_dispose(&bare);
    /* no user: nothing to sign */
    struct pgw_identity nobody = {0};
    ck_assert_ptr_null(pgw_session_jwt_sign(&k, &nobody, T0, 60, &exp, &err));
    ck_assert_ptr_nonnull(err);
    free(err);
    pgw_session_key_dispose(&k);
}
END_TEST

/* ---- the keyring (local mode: no Kubernetes API) ---------------------------- */

START_TEST(local_keyring_rotation)
{
    /* rotation every 100 s, sessions of 1000 s: rotation, not expiry, ends the oldest token */
    struct pgw_session_keys *ring = pgw_session_keys_new(NULL, NULL, 1000, 100);
    struct pgw_identity who = alice(2), got;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    char *first = pgw_session_issue(ring, &who, T0, &exp, &err);
    ck_assert_msg(first != NULL, "%s", err != NULL ? err : "");
    ck_assert_int_eq(exp, T0 + 1000);
    ck_assert_int_eq(pgw_session_verify(ring, first, T0 + 50, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    /* one rotation: first was signed by what is now the previous key */
    char *second = pgw_session_issue(ring, &who, T0 + 150, &exp, &err);
    ck_assert_int_eq(pgw_session_verify(ring, first, T0 + 150, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(pgw_session_verify(ring, second, T0 + 150, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    /* a second rotation: first's key is gone, second's is the previous */
    ck_assert_int_eq(pgw_session_verify(ring, first, T0 + 260, &got, &why), PGW_SESSION_INVALID);
    ck_assert_str_eq(why, "invalid session token");
    ck_assert_int_eq(pgw_session_verify(ring, second, T0 + 260, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    /* a token from another keyring */
    struct pgw_session_keys *other = pgw_session_keys_new(NULL, NULL, 1000, 100);
    char *foreign = pgw_session_issue(other, &who, T0 + 260, &exp, &err);
    ck_assert_int_eq(pgw_session_verify(ring, foreign, T0 + 260, &got, &why), PGW_SESSION_INVALID);
    ck_assert_int_eq(pgw_session_verify(other, foreign, T0 + 260, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    free(foreign);
    free(first);
    free(second);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(other);
    pgw_session_keys_free(ring);
}
END_TEST

START_TEST(local_keyring_logout)
{
    time_t now = time(NULL); /* revocation prunes by the real clock */
    struct pgw_session_keys *ring = pgw_session_keys_new(NULL, NULL, 900, 86400);
    struct pgw_identity who = alice(1), got, got2;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    char *jwt = pgw_session_issue(ring, &who, now, &exp, &err);
    char *other = pgw_session_issue(ring, &who, now, &exp, &err);
    ck_assert_int_eq(pgw_session_verify(ring, jwt, now, &got, &why), PGW_SESSION_OK);
    ck_assert_int_eq(pgw_session_revoke(ring, &got, &err), 0);
    ck_assert_int_eq(pgw_session_verify(ring, jwt, now + 1, &got2, &why), PGW_SESSION_REVOKED);
    ck_assert_str_eq(why, "session ended by logout");
    ck_assert_ptr_null(got2.username);
    /* the same user's other session lives on */
    ck_assert_int_eq(pgw_session_verify(ring, other, now + 1, &got2, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got2);
    /* an identity that is not a session cannot be revoked */
    ck_assert_int_eq(pgw_session_revoke(ring, &who, &err), -1);
    ck_assert_ptr_nonnull(err);
    free(err);
    free(jwt);
    free(other);
    pgw_identity_dispose(&got);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(ring);
}
END_TEST

/* ---- the Secret form ------------------------------------------------------------ */

static const char *data_str(const json_t *secret, const char *key)
{
    return json_string_value(json_object_get(json_object_get(secret, "data"), key));
}

START_TEST(secret_new_read_rotate_replace)
{
    struct pgw_session_key a = new_key(T0), b = new_key(T0 + 500);
    json_t *secret = pgw_session_secret_new("pgwarden-system", &a);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(secret, "metadata"), "name")), "pgwarden-api-signing");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(secret, "metadata"), "namespace")), "pgwarden-system");
    ck_assert_str_eq(json_string_value(json_object_get(secret, "type")), "Opaque");
    size_t n = 0;
    char *created = pgw_base64_decode(data_str(secret, "current.created"), &n);
    ck_assert_str_eq(created, "2030-01-01T00:00:00Z");
    free(created);
    char *err = NULL;
    struct pgw_session_ring r;
    ck_assert_int_eq(pgw_session_secret_read(secret, T0, &r, &err), 0);
    ck_assert_str_eq(r.current.kid, a.kid);
    ck_assert_int_eq(r.current.created, T0);
    ck_assert_str_eq(r.current.pub_pem, a.pub_pem);
    ck_assert_ptr_null(r.previous.kid);
    ck_assert_uint_eq(json_object_size(r.revoked), 0);
    pgw_session_ring_dispose(&r);
    /* rotate: previous := current */
    json_t *before = json_deep_copy(secret);
    json_object_set_new(before, "metadata", json_pack("{s:s,s:s}", "name", "pgwarden-api-signing", "resourceVersion", "41"));
    json_t *after = json_deep_copy(before);
    pgw_session_secret_rotate(after, &b);
    ck_assert_int_eq(pgw_session_secret_read(after, T0, &r, &err), 0);
    ck_assert_str_eq(r.current.kid, b.kid);
    ck_assert_int_eq(r.current.created, T0 + 500);
    ck_assert_str_eq(r.previous.kid, a.kid);
    ck_assert_str_eq(r.previous.pub_pem, a.pub_pem);
    pgw_session_ring_dispose(&r);
    /* the patch: the changed data keys, and the resourceVersion read (409 if someone wrote since) */
    json_t *patch = pgw_session_secret_patch(before, after);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(patch, "metadata"), "resourceVersion")), "41");
    json_t *pd = json_object_get(patch, "data");
    ck_assert_uint_eq(json_object_size(pd), 6);
    ck_assert_str_eq(json_string_value(json_object_get(pd, "previous.kid")), data_str(before, "current.kid"));
    ck_assert_str_eq(json_string_value(json_object_get(pd, "current.kid")), data_str(after, "current.kid"));
    json_decref(patch);
    /* replace (no usable key): previous goes, as null in the patch */
    json_t *replaced = json_deep_copy(after);
    pgw_session_secret_replace(replaced, &a);
    ck_assert_ptr_null(data_str(replaced, "previous.pem"));
    patch = pgw_session_secret_patch(after, replaced);
    ck_assert(json_is_null(json_object_get(json_object_get(patch, "data"), "previous.pem")));
    ck_assert(json_is_null(json_object_get(json_object_get(patch, "data"), "previous.kid")));
    json_decref(patch);
    json_decref(replaced);
    json_decref(after);
    json_decref(before);
    json_decref(secret);
    pgw_session_key_dispose(&a);
    pgw_session_key_dispose(&b);
}
END_TEST

START_TEST(secret_unreadable_keys)
{
    struct pgw_session_ring r;
    char *err = NULL;
    /* no data, garbage PEM, a P-384 key, an RSA key */
    EVP_PKEY *p384 = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *bad[] = {p384, rsa};
    json_t *empty = json_pack("{s:{}}", "data");
    ck_assert_int_eq(pgw_session_secret_read(empty, T0, &r, &err), -1);
    ck_assert_ptr_nonnull(err);
    free(err);
    json_t *garbage = json_pack("{s:{s:s}}", "data", "current.pem", "bm90IGEga2V5");
    ck_assert_int_eq(pgw_session_secret_read(garbage, T0, &r, &err), -1);
    free(err);
    ck_assert_uint_eq(ERR_peek_error(), 0); /* the PEM parser's complaints are not left for the TLS code */
    for (size_t i = 0; i != 2; ++i) {
        BIO *bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(bio, bad[i], NULL, NULL, 0, NULL, NULL);
        char *pem = NULL;
        long len = BIO_get_mem_data(bio, &pem);
        struct pgw_session_key k;
        ck_assert_int_eq(pgw_session_key_from_pem(&k, pem, (size_t)len, NULL, T0, &err), -1);
        ck_assert_ptr_nonnull(err);
        free(err);
        BIO_free(bio);
        EVP_PKEY_free(bad[i]);
    }
    /* a SEC1 ("EC PRIVATE KEY") PEM of a P-256 key loads, with the kid of the same key in PKCS#8 */
    struct pgw_session_key k = new_key(T0), again;
    EVP_PKEY *pkey = read_priv(&k);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    ck_assert_ptr_nonnull(memmem(pem, (size_t)len, "EC PRIVATE KEY", 14)); /* a BIO's memory is not NUL-terminated */
    ck_assert_int_eq(pgw_session_key_from_pem(&again, pem, (size_t)len, NULL, T0, &err), 0);
    ck_assert_str_eq(again.kid, k.kid);
    ck_assert_str_eq(again.pub_pem, k.pub_pem);
    /* an unreadable previous or revoked list is dropped, the current key still loads */
    json_t *s = pgw_session_secret_new("ns", &k);
    json_object_set_new(json_object_get(s, "data"), "previous.pem", json_string("bm90IGEga2V5"));
    json_object_set_new(json_object_get(s, "data"), "revoked", json_string("bm90IGpzb24="));
    ck_assert_int_eq(pgw_session_secret_read(s, T0, &r, &err), 0);
    ck_assert_ptr_null(r.previous.kid);
    ck_assert_uint_eq(json_object_size(r.revoked), 0);
    pgw_session_ring_dispose(&r);
    json_decref(s);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    pgw_session_key_dispose(&again);
    pgw_session_key_dispose(&k);
    json_decref(garbage);
    json_decref(empty);
}
END_TEST

START_TEST(rotation_decision)
{
    struct pgw_session_ring r = {0};
    r.current.created = T0;
    ck_assert(!pgw_session_needs_rotation(&r, T0, 86400));
    ck_assert(!pgw_session_needs_rotation(&r, T0 + 86399, 86400));
    ck_assert(pgw_session_needs_rotation(&r, T0 + 86400, 86400));
    r.current.created = 0; /* no readable creation time: rotate once to get one */
    ck_assert(pgw_session_needs_rotation(&r, T0, 86400));
}
END_TEST

START_TEST(revocations_merge_prune_and_store)
{
    json_t *mine = q("{'a': 2000000000, 'b': 100, 'c': 'x', 'd': 1893456100}");
    pgw_session_revoked_prune(mine, T0);
    json_t *want = q("{'a': 2000000000, 'd': 1893456100}");
    ck_assert(json_equal(mine, want));
    json_t *theirs = q("{'d': 1893456200, 'e': 1893456300, 'f': 5}");
    pgw_session_revoked_merge(mine, theirs, T0);
    json_t *want2 = q("{'a': 2000000000, 'd': 1893456200, 'e': 1893456300}");
    ck_assert(json_equal(mine, want2));
    /* into a Secret and back */
    struct pgw_session_key k = new_key(T0);
    json_t *s = pgw_session_secret_new("ns", &k);
    ck_assert_int_eq(pgw_session_secret_set_revoked(s, mine), 0);
    struct pgw_session_ring r;
    char *err = NULL;
    ck_assert_int_eq(pgw_session_secret_read(s, T0, &r, &err), 0);
    ck_assert(json_equal(r.revoked, want2));
    pgw_session_ring_dispose(&r);
    /* read later, the expired entries are gone */
    ck_assert_int_eq(pgw_session_secret_read(s, (time_t)1893456250, &r, &err), 0);
    json_t *want3 = q("{'a': 2000000000, 'e': 1893456300}");
    ck_assert(json_equal(r.revoked, want3));
    pgw_session_ring_dispose(&r);
    /* a list past the cap is refused and the Secret left as it was */
    json_t *big = json_object();
    for (int i = 0; i != 20000; ++i) {
        char jti[40];
        snprintf(jti, sizeof(jti), "%032x", i);
        json_object_set_new(big, jti, json_integer(2000000000));
    }
    const char *kept = data_str(s, "revoked");
    char *kept_copy = pgw_strdup(kept);
    ck_assert_int_eq(pgw_session_secret_set_revoked(s, big), -1);
    ck_assert_str_eq(data_str(s, "revoked"), kept_copy);
    free(kept_copy);
    json_decref(big);
    json_decref(s);
    pgw_session_key_dispose(&k);
    json_decref(want3);
    json_decref(want2);
    json_decref(want);
    json_decref(theirs);
    json_decref(mine);
}
END_TEST

START_TEST(base64url_decoding)
{
    size_t n = 0;
    char *s = pgw_base64url_decode("_-8", 3, &n); /* 0xff 0xef: both url-only characters */
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq((unsigned char)s[0], 0xff);
    ck_assert_uint_eq((unsigned char)s[1], 0xef);
    free(s);
    ck_assert_ptr_null(pgw_base64url_decode("ab+c", 4, &n));
    ck_assert_ptr_null(pgw_base64url_decode("abc=", 4, &n));
    ck_assert_ptr_null(pgw_base64url_decode("abcde", 5, &n));
}
END_TEST

/* ---- the keyring over a stand-in Kubernetes API ---------------------------------- */

/*
 * Just enough of the Kubernetes API for one Secret: GET, POST (409 when it
 * exists), merge-patch PATCH (409 when metadata.resourceVersion is stale).
 * Hooks let a test play "another replica" between two requests.
 */
#define SECRET_PATH "/api/v1/namespaces/pgw/secrets/pgwarden-api-signing"

struct fake_api {
    pthread_mutex_t lock;
    int fd, stop;
    pthread_t thread;
    json_t *secret; /* NULL: none */
    int rv;
    int gets, posts, patches;
    int down;                             /* answer 503 to everything */
    json_t *on_post;                      /* stored (as another replica's) right before the next POST, which then gets 409 */
    void (*before_patch)(json_t *secret); /* run on the stored Secret right before the next PATCH */
};

static void fake_answer(int c, int status, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
             strlen(text));
    ssize_t w = write(c, head, strlen(head));
    w = write(c, text, strlen(text));
    (void)w;
    free(text);
}

static void fake_status(int c, int code, const char *reason)
{
    json_t *st = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1", "status", "Failure", "reason", reason,
                           "message", reason, "code", code);
    fake_answer(c, code, st);
    json_decref(st);
}

static void fake_store(struct fake_api *f, json_t *secret)
{
    char rv[16];
    snprintf(rv, sizeof(rv), "%d", ++f->rv);
    json_object_set_new(json_object_get(secret, "metadata"), "resourceVersion", json_string(rv));
    json_decref(f->secret);
    f->secret = secret;
}

static void fake_handle(struct fake_api *f, int c, const char *method, const char *path, json_t *body)
{
    pthread_mutex_lock(&f->lock);
    if (f->down) {
        fake_status(c, 503, "ServiceUnavailable");
    } else if (strcmp(method, "GET") == 0 && strcmp(path, SECRET_PATH) == 0) {
        f->gets++;
        if (f->secret != NULL)
            fake_answer(c, 200, f->secret);
        else
            fake_status(c, 404, "NotFound");
    } else if (strcmp(method, "POST") == 0 && strcmp(path, "/api/v1/namespaces/pgw/secrets") == 0) {
        f->posts++;
        if (f->on_post != NULL) {
            fake_store(f, f->on_post);
            f->on_post = NULL;
        }
        if (f->secret != NULL) {
            fake_status(c, 409, "AlreadyExists");
        } else {
            fake_store(f, json_deep_copy(body));
            fake_answer(c, 201, f->secret);
        }
    } else if (strcmp(method, "PATCH") == 0 && strcmp(path, SECRET_PATH) == 0) {
        f->patches++;
        if (f->before_patch != NULL && f->secret != NULL) {
            f->before_patch(f->secret);
            f->before_patch = NULL;
            fake_store(f, json_deep_copy(f->secret)); /* a write of its own: a new resourceVersion */
        }
        const char *want = json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
        const char *have = json_string_value(json_object_get(json_object_get(f->secret, "metadata"), "resourceVersion"));
        if (f->secret == NULL) {
            fake_status(c, 404, "NotFound");
        } else if (want != NULL && strcmp(want, have) != 0) {
            fake_status(c, 409, "Conflict");
        } else {
            json_t *next = json_deep_copy(f->secret);
            json_object_del(body, "metadata");
            merge(next, body);
            fake_store(f, next);
            fake_answer(c, 200, f->secret);
        }
    } else {
        fake_status(c, 404, "NotFound");
    }
    pthread_mutex_unlock(&f->lock);
}

static void *fake_serve(void *arg)
{
    struct fake_api *f = arg;
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0 || f->stop) {
            if (c >= 0)
                close(c);
            return NULL;
        }
        char req[65536];
        size_t len = 0;
        const char *end = NULL;
        for (;;) {
            ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            req[len] = '\0';
            end = strstr(req, "\r\n\r\n");
            const char *cl = strcasestr(req, "Content-Length:");
            if (end != NULL && len >= (size_t)(end + 4 - req) + (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0))
                break;
        }
        char method[16] = "", path[512] = "";
        sscanf(req, "%15s %511s", method, path);
        json_t *body = end != NULL && end[4] != '\0' ? json_loads(end + 4, 0, NULL) : NULL;
        fake_handle(f, c, method, path, body);
        json_decref(body);
        close(c);
    }
}

static struct pgw_kclient *fake_start(struct fake_api *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(f->fd, 16), 0);
    socklen_t alen = sizeof(a);
    getsockname(f->fd, (struct sockaddr *)&a, &alen);
    pthread_create(&f->thread, NULL, fake_serve, f);
    char server[64];
    snprintf(server, sizeof(server), "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct pgw_kubeconfig kc = {.server = server, .namespace_ = "pgw"};
    struct pgw_kclient_options o = {.qps = -1, .timeout = 5};
    char *err = NULL;
    struct pgw_kclient *c = pgw_kclient_new(&kc, &o, &err);
    ck_assert_ptr_nonnull(c);
    return c;
}

static void fake_stop(struct fake_api *f, struct pgw_kclient *c)
{
    pgw_kclient_free(c);
    f->stop = 1;
    shutdown(f->fd, SHUT_RDWR);
    int poke = socket(AF_INET, SOCK_STREAM, 0); /* accept() may not notice shutdown: connect once to wake it */
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    getsockname(f->fd, (struct sockaddr *)&a, &alen);
    connect(poke, (struct sockaddr *)&a, sizeof(a));
    close(poke);
    pthread_join(f->thread, NULL);
    close(f->fd);
    json_decref(f->secret);
    json_decref(f->on_post);
    pthread_mutex_destroy(&f->lock);
}

/* The kid in a JWT's header. Caller frees. */
static char *kid_of(const char *jwt)
{
    size_t n = 0;
    char *h = pgw_base64url_decode(jwt, (size_t)(strchr(jwt, '.') - jwt), &n);
    json_t *hdr = json_loads(h, 0, NULL);
    char *kid = pgw_strdup(json_string_value(json_object_get(hdr, "kid")));
    json_decref(hdr);
    free(h);
    return kid;
}

static const char *stored(struct fake_api *f, const char *key, char *buf, size_t size)
{
    size_t n = 0;
    char *v = pgw_base64_decode(data_str(f->secret, key), &n);
    snprintf(buf, size, "%s", v != NULL ? v : "");
    free(v);
    return buf;
}

START_TEST(secret_created_once_and_shared)
{
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    struct pgw_session_keys *r1 = pgw_session_keys_new(c, NULL, 900, 86400), *r2 = pgw_session_keys_new(c, "pgw", 900, 86400);
    struct pgw_identity who = alice(2), got;
    char *err = NULL, buf[64];
    time_t exp = 0;
    const char *why = NULL;
    char *jwt = pgw_session_issue(r1, &who, T0, &exp, &err);
    ck_assert_msg(jwt != NULL, "%s", err != NULL ? err : "");
    ck_assert_int_eq(f.posts, 1);
    ck_assert_ptr_nonnull(f.secret);
    char *kid = kid_of(jwt);
    ck_assert_str_eq(stored(&f, "current.kid", buf, sizeof(buf)), kid);
    ck_assert_str_eq(stored(&f, "current.created", buf, sizeof(buf)), "2030-01-01T00:00:00Z");
    /* the second replica reads the same key: no second Secret, the token verifies there */
    ck_assert_int_eq(pgw_session_verify(r2, jwt, T0 + 1, &got, &why), PGW_SESSION_OK);
    ck_assert_int_eq(f.posts, 1);
    pgw_identity_dispose(&got);
    /* within 10 s nothing is read again; after, once */
    int gets = f.gets;
    ck_assert_int_eq(pgw_session_verify(r2, jwt, T0 + 9, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(f.gets, gets);
    ck_assert_int_eq(pgw_session_verify(r2, jwt, T0 + 12, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(f.gets, gets + 1);
    free(kid);
    free(jwt);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(r1);
    pgw_session_keys_free(r2);
    fake_stop(&f, c);
}
END_TEST

START_TEST(secret_create_race_uses_theirs)
{
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    struct pgw_session_key theirs = new_key(T0);
    f.on_post = pgw_session_secret_new("pgw", &theirs); /* the other replica's POST lands first */
    struct pgw_session_keys *r = pgw_session_keys_new(c, NULL, 900, 86400);
    struct pgw_identity who = alice(1);
    char *err = NULL;
    time_t exp = 0;
    char *jwt = pgw_session_issue(r, &who, T0 + 5, &exp, &err);
    ck_assert_msg(jwt != NULL, "%s", err != NULL ? err : "");
    ck_assert_int_eq(f.posts, 1);
    char *kid = kid_of(jwt);
    ck_assert_str_eq(kid, theirs.kid);
    ck_assert(verifies_independently(&theirs, jwt));
    free(kid);
    free(jwt);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(r);
    pgw_session_key_dispose(&theirs);
    fake_stop(&f, c);
}
END_TEST

static struct pgw_session_key race_key;

/* Another replica rotated to race_key between our GET and our PATCH. */
static void rotate_to_race_key(json_t *secret)
{
    pgw_session_secret_rotate(secret, &race_key);
}

START_TEST(secret_rotation_and_conflict)
{
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    const int rot = 3600, life = 10000; /* sessions outlive a rotation here, so only the keys decide */
    struct pgw_session_keys *r1 = pgw_session_keys_new(c, NULL, life, rot), *r2 = pgw_session_keys_new(c, NULL, life, rot);
    struct pgw_identity who = alice(1), got;
    char *err = NULL, buf[64];
    time_t exp = 0;
    const char *why = NULL;
    char *old = pgw_session_issue(r1, &who, T0, &exp, &err);
    char *old_kid = kid_of(old);
    /* due: r1 rotates with one patch; previous := the old key */
    time_t t1 = T0 + rot;
    char *fresh = pgw_session_issue(r1, &who, t1, &exp, &err);
    ck_assert_int_eq(f.patches, 1);
    char *fresh_kid = kid_of(fresh);
    ck_assert_str_ne(fresh_kid, old_kid);
    ck_assert_str_eq(stored(&f, "previous.kid", buf, sizeof(buf)), old_kid);
    ck_assert_str_eq(stored(&f, "current.kid", buf, sizeof(buf)), fresh_kid);
    /* r2 had never read: it verifies both (old through previous) and rotates nothing */
    ck_assert_int_eq(pgw_session_verify(r2, old, t1 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(pgw_session_verify(r2, fresh, t1 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(f.patches, 1);
    /* next rotation races with another replica's: our patch gets 409, we read theirs and keep it */
    race_key = new_key(2 * rot + T0);
    f.before_patch = rotate_to_race_key;
    time_t t2 = T0 + 2 * rot;
    char *third = pgw_session_issue(r1, &who, t2, &exp, &err);
    ck_assert_msg(third != NULL, "%s", err != NULL ? err : "");
    ck_assert_int_eq(f.patches, 2); /* the refused one; the re-read found a fresh key and wrote nothing */
    char *third_kid = kid_of(third);
    ck_assert_str_eq(third_kid, race_key.kid);
    ck_assert_str_eq(stored(&f, "previous.kid", buf, sizeof(buf)), fresh_kid);
    /* two rotations on, the first key no longer verifies anywhere */
    ck_assert_int_eq(pgw_session_verify(r1, old, t2 + 1, &got, &why), PGW_SESSION_INVALID);
    ck_assert_int_eq(pgw_session_verify(r1, fresh, t2 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    ck_assert_int_eq(pgw_session_verify(r1, third, t2 + 1, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    free(third_kid);
    free(third);
    free(fresh_kid);
    free(fresh);
    free(old_kid);
    free(old);
    pgw_session_key_dispose(&race_key);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(r1);
    pgw_session_keys_free(r2);
    fake_stop(&f, c);
}
END_TEST

START_TEST(secret_unknown_kid_forces_one_read)
{
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    struct pgw_session_keys *r = pgw_session_keys_new(c, NULL, 900, 86400);
    struct pgw_identity who = alice(1), got;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    ck_assert_int_eq(pgw_session_keys_load(r, T0, &err), 0);
    /* another replica rotates to z and signs with it, all within our 10 s */
    struct pgw_session_key z = new_key(T0 + 1);
    pthread_mutex_lock(&f.lock);
    pgw_session_secret_rotate(f.secret, &z);
    pthread_mutex_unlock(&f.lock);
    char *by_z = pgw_session_jwt_sign(&z, &who, T0 + 1, 900, &exp, &err);
    int gets = f.gets;
    ck_assert_int_eq(pgw_session_verify(r, by_z, T0 + 2, &got, &why), PGW_SESSION_OK);
    ck_assert_int_eq(f.gets, gets + 1);
    pgw_identity_dispose(&got);
    /* kids nobody has: one forced read a second at most */
    struct pgw_session_key stranger = new_key(T0);
    char *forged = pgw_session_jwt_sign(&stranger, &who, T0, 900, &exp, &err);
    gets = f.gets;
    ck_assert_int_eq(pgw_session_verify(r, forged, T0 + 3, &got, &why), PGW_SESSION_INVALID);
    ck_assert_int_eq(pgw_session_verify(r, forged, T0 + 3, &got, &why), PGW_SESSION_INVALID);
    ck_assert_int_eq(pgw_session_verify(r, forged, T0 + 3, &got, &why), PGW_SESSION_INVALID);
    ck_assert_str_eq(why, "invalid session token");
    ck_assert_int_eq(f.gets, gets + 1);
    ck_assert_int_eq(pgw_session_verify(r, forged, T0 + 4, &got, &why), PGW_SESSION_INVALID);
    ck_assert_int_eq(f.gets, gets + 2);
    free(forged);
    free(by_z);
    pgw_session_key_dispose(&stranger);
    pgw_session_key_dispose(&z);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(r);
    fake_stop(&f, c);
}
END_TEST

static void other_replica_revokes(json_t *secret)
{
    json_t *revoked = json_pack("{s:I}", "feedfacefeedfacefeedfacefeedface", (json_int_t)time(NULL) + 600);
    pgw_session_secret_set_revoked(secret, revoked);
    json_decref(revoked);
}

START_TEST(secret_logout_reaches_the_other_replica)
{
    time_t now = time(NULL); /* revocation prunes by the real clock */
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    struct pgw_session_keys *r1 = pgw_session_keys_new(c, NULL, 900, 86400), *r2 = pgw_session_keys_new(c, NULL, 900, 86400);
    struct pgw_identity who = alice(1), got, got2;
    char *err = NULL;
    time_t exp = 0;
    const char *why = NULL;
    char *jwt = pgw_session_issue(r1, &who, now, &exp, &err);
    ck_assert_int_eq(pgw_session_verify(r2, jwt, now, &got, &why), PGW_SESSION_OK);
    /* logout on r2, racing with a logout on a third replica: 409 once, then both are in the list */
    f.before_patch = other_replica_revokes;
    ck_assert_msg(pgw_session_revoke(r2, &got, &err) == 0, "%s", err != NULL ? err : "");
    ck_assert_int_eq(f.patches, 2);
    size_t n = 0;
    char *text = pgw_base64_decode(data_str(f.secret, "revoked"), &n);
    json_t *list = json_loads(text, 0, NULL);
    ck_assert_uint_eq(json_object_size(list), 2);
    ck_assert(json_is_integer(json_object_get(list, got.jti)));
    ck_assert_int_eq(json_integer_value(json_object_get(list, got.jti)), exp);
    ck_assert_ptr_nonnull(json_object_get(list, "feedfacefeedfacefeedfacefeedface"));
    json_decref(list);
    free(text);
    /* r1 learns it at its next read (10 s on) */
    ck_assert_int_eq(pgw_session_verify(r1, jwt, now + 1, &got2, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got2);
    ck_assert_int_eq(pgw_session_verify(r1, jwt, now + 11, &got2, &why), PGW_SESSION_REVOKED);
    ck_assert_str_eq(why, "session ended by logout");
    free(jwt);
    pgw_identity_dispose(&got);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(r1);
    pgw_session_keys_free(r2);
    fake_stop(&f, c);
}
END_TEST

START_TEST(secret_outage_and_corruption)
{
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    struct pgw_session_keys *r = pgw_session_keys_new(c, NULL, 900, 86400);
    struct pgw_identity who = alice(1), got;
    char *err = NULL, buf[64];
    time_t exp = 0;
    const char *why = NULL;
    /* no API and no keys yet: no session, a reason */
    f.down = 1;
    ck_assert_ptr_null(pgw_session_issue(r, &who, T0, &exp, &err));
    ck_assert_ptr_nonnull(strstr(err, "503"));
    free(err);
    f.down = 0;
    char *jwt = pgw_session_issue(r, &who, T0 + 2, &exp, &err);
    ck_assert_ptr_nonnull(jwt);
    /* the API goes away: the keys held keep working */
    f.down = 1;
    char *again = pgw_session_issue(r, &who, T0 + 30, &exp, &err);
    ck_assert_ptr_nonnull(again);
    ck_assert_int_eq(pgw_session_verify(r, jwt, T0 + 60, &got, &why), PGW_SESSION_OK);
    pgw_identity_dispose(&got);
    f.down = 0;
    /* someone broke the Secret: the next read replaces the key (and drops previous) */
    pthread_mutex_lock(&f.lock);
    json_object_set_new(json_object_get(f.secret, "data"), "current.pem", json_string("bm90IGEga2V5"));
    json_object_set_new(json_object_get(f.secret, "data"), "previous.kid", json_string("eA=="));
    pthread_mutex_unlock(&f.lock);
    char *after = pgw_session_issue(r, &who, T0 + 100, &exp, &err);
    ck_assert_ptr_nonnull(after);
    char *kid = kid_of(after);
    ck_assert_str_eq(stored(&f, "current.kid", buf, sizeof(buf)), kid);
    ck_assert_ptr_null(data_str(f.secret, "previous.kid"));
    free(kid);
    free(after);
    free(again);
    free(jwt);
    pgw_identity_dispose(&who);
    pgw_session_keys_free(r);
    fake_stop(&f, c);
}
END_TEST

struct hammer {
    struct pgw_session_keys *keys;
    int ok, revoked;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    struct pgw_identity who = alice(2);
    for (int i = 0; i != 60; ++i) {
        time_t now = T0 + 3 * i; /* a read of the Secret every few rounds */
        char *err = NULL;
        time_t exp = 0;
        const char *why = NULL;
        char *jwt = pgw_session_issue(h->keys, &who, now, &exp, &err);
        struct pgw_identity got;
        if (jwt != NULL && pgw_session_verify(h->keys, jwt, now + 1, &got, &why) == PGW_SESSION_OK) {
            /* every few rounds, log out and see it take */
            if (i % 5 == 0 && pgw_session_revoke(h->keys, &got, &err) == 0 &&
                pgw_session_verify(h->keys, jwt, now + 1, &(struct pgw_identity){0}, &why) == PGW_SESSION_REVOKED)
                h->revoked++;
            h->ok++;
            pgw_identity_dispose(&got);
        }
        free(err);
        free(jwt);
    }
    pgw_identity_dispose(&who);
    return NULL;
}

START_TEST(secret_two_threads)
{
    /*
     * The API's two threads on one keyring, reading the Secret and logging out while they sign and check.
     * (Rotation races are the sequential tests' job: here each thread's clock is its own, and one far
     * ahead could rotate twice between another's issue and verify.)
     */
    struct fake_api f;
    struct pgw_kclient *c = fake_start(&f);
    struct pgw_session_keys *r = pgw_session_keys_new(c, NULL, 900, 86400);
    struct hammer h[2] = {{.keys = r}, {.keys = r}};
    pthread_t t[2];
    for (int i = 0; i != 2; ++i)
        pthread_create(&t[i], NULL, hammer_run, &h[i]);
    for (int i = 0; i != 2; ++i)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(h[0].ok, 60);
    ck_assert_int_eq(h[1].ok, 60);
    ck_assert_int_eq(h[0].revoked, 12);
    ck_assert_int_eq(h[1].revoked, 12);
    ck_assert_int_le(f.posts, 2);    /* both may find no Secret at the start; the second create gets 409 */
    ck_assert_int_ge(f.patches, 24); /* each logout wrote to the Secret (409s retried) */
    pgw_session_keys_free(r);
    fake_stop(&f, c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_session");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, issue_verify_round_trip);
    tcase_add_test(tc, expiry_and_future_iat);
    tcase_add_test(tc, tampered_payload_and_signature);
    tcase_add_test(tc, alg_none_and_hs256_with_the_public_key);
    tcase_add_test(tc, interop_with_openssl);
    tcase_add_test(tc, unknown_kid_and_previous_key);
    tcase_add_test(tc, groups_none_and_many);
    tcase_add_test(tc, local_keyring_rotation);
    tcase_add_test(tc, local_keyring_logout);
    tcase_add_test(tc, secret_new_read_rotate_replace);
    tcase_add_test(tc, secret_unreadable_keys);
    tcase_add_test(tc, rotation_decision);
    tcase_add_test(tc, revocations_merge_prune_and_store);
    tcase_add_test(tc, base64url_decoding);
    tcase_add_test(tc, secret_created_once_and_shared);
    tcase_add_test(tc, secret_create_race_uses_theirs);
    tcase_add_test(tc, secret_rotation_and_conflict);
    tcase_add_test(tc, secret_unknown_kid_forces_one_read);
    tcase_add_test(tc, secret_logout_reaches_the_other_replica);
    tcase_add_test(tc, secret_outage_and_corruption);
    tcase_add_test(tc, secret_two_threads);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
