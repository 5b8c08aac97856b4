/*
 * SCRAM-SHA-256 for PostgreSQL: the verifier pgwarden stores for a role, and
 * the client side of the login exchange (scram_exchange.h).
 *
 * Both derive the same keys from (password, salt, iterations), so that step
 * is written once (derive_keys):
 *   SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
 *   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = SHA-256(ClientKey)
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 * The verifier keeps StoredKey and ServerKey, which let the server check a
 * login but not log in; the login proves ClientKey without sending it.
 *
 * SASLprep (RFC 4013), as PostgreSQL applies it (src/common/saslprep.c): a
 * pure-ASCII password is used unchanged (even its control characters); a
 * non-ASCII one is mapped (non-ASCII spaces to ' ', soft hyphens and other
 * "mapped to nothing" characters dropped) and NFKC-normalised, and when it is
 * not valid UTF-8 or holds a prohibited character the server and libpq both
 * fall back to the raw bytes. pgwarden does not normalise: it uses the raw
 * UTF-8 bytes, for the verifier and for its own login alike, so the two
 * always agree. Generated passwords are ASCII, so nothing changes for them.
 * A user-supplied non-ASCII password that SASLprep would change (say one with
 * a no-break space or a compatibility character such as "ﬁ") would not match
 * what libpq computes from the same text; an already-normalised one (NFC
 * letters such as "é") does.
 */
#include "controller/pg/scram.h"
#include "controller/pg/scram_exchange.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/base64.h"
#include "common/sha256.h"
#include "common/xalloc.h"

#define SALT_LEN 16
#define NONCE_RAW_LEN 18

struct keys {
    unsigned char client[PGW_SCRAM_KEY_LEN], stored[PGW_SCRAM_KEY_LEN], server[PGW_SCRAM_KEY_LEN];
};

static int hmac(const unsigned char *key, const void *data, size_t len, unsigned char out[PGW_SCRAM_KEY_LEN])
{
    unsigned int out_len = 0;
    return HMAC(EVP_sha256(), key, PGW_SCRAM_KEY_LEN, data, len, out, &out_len) != NULL && out_len == PGW_SCRAM_KEY_LEN ? 0 : -1;
}

static int derive_keys(const char *password, const unsigned char *salt, size_t salt_len, int iterations, struct keys *k)
{
    unsigned char salted[PGW_SCRAM_KEY_LEN];
    int rc = -1;
    if (salt_len > INT_MAX || iterations < 1)
        return -1;
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations, EVP_sha256(), sizeof(salted), salted) ==
            1 &&
        hmac(salted, "Client Key", 10, k->client) == 0 && hmac(salted, "Server Key", 10, k->server) == 0) {
        pgw_sha256(k->client, sizeof(k->client), k->stored);
        rc = 0;
    }
    OPENSSL_cleanse(salted, sizeof(salted));
    return rc;
}

char *pgw_scram_verifier_salted(const char *password, int iterations, const unsigned char *salt, size_t salt_len)
{
    struct keys k;
    if (password == NULL || derive_keys(password, salt, salt_len, iterations, &k) != 0)
        return NULL;
    char *salt64 = pgw_base64_encode(salt, salt_len);
    char *stored64 = pgw_base64_encode(k.stored, sizeof(k.stored));
    char *server64 = pgw_base64_encode(k.server, sizeof(k.server));
    char *out = pgw_asprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, salt64, stored64, server64);
    free(salt64);
    free(stored64);
    free(server64);
    OPENSSL_cleanse(&k, sizeof(k));
    return out;
}

char *pgw_scram_verifier(const char *password, int iterations)
{
    unsigned char salt[SALT_LEN];
    if (iterations < 1 || RAND_bytes(salt, sizeof(salt)) != 1)
        return NULL;
    return pgw_scram_verifier_salted(password, iterations, salt, sizeof(salt));
}

/* --- the client exchange --- */

/* RFC 5802 saslname: ',' and '=' escaped as =2C and =3D. */
static char *saslname(const char *user)
{
    size_t n = 1;
    for (const char *p = user; *p; p++)
        n += (*p == ',' || *p == '=') ? 3 : 1;
    char *out = pgw_malloc(n), *o = out;
    for (const char *p = user; *p; p++) {
        if (*p == ',' || *p == '=') {
            memcpy(o, *p == ',' ? "=2C" : "=3D", 3);
            o += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

char *pgw_scram_client_first(struct pgw_scram_client *c, const char *user, const char *password, const char *nonce)
{
    memset(c, 0, sizeof(*c));
    if (password == NULL)
        return NULL;
    if (nonce != NULL) {
        c->client_nonce = pgw_strdup(nonce);
    } else {
        unsigned char raw[NONCE_RAW_LEN];
        if (RAND_bytes(raw, sizeof(raw)) != 1)
            return NULL;
        c->client_nonce = pgw_base64_encode(raw, sizeof(raw)); /* base64 holds no ',' */
    }
    c->password = pgw_strdup(password);
    char *name = saslname(user ? user : "");
    c->client_first_bare = pgw_asprintf("n=%s,r=%s", name, c->client_nonce);
    free(name);
    c->state = 1;
    return pgw_asprintf("n,,%s", c->client_first_bare);
}

/* The value of attribute `attr` at *p ("x=value," or "x=value<end>"), malloc'd; advances *p past it. */
static char *take_attr(const char **p, const char *end, char attr)
{
    if (end - *p < 2 || (*p)[0] != attr || (*p)[1] != '=')
        return NULL;
    const char *v = *p + 2, *e = v;
    while (e < end && *e != ',')
        e++;
    *p = e < end ? e + 1 : e;
    return pgw_strndup(v, (size_t)(e - v));
}

static char *fail(char **err, const char *msg)
{
    if (err)
        *err = pgw_strdup(msg);
    return NULL;
}

char *pgw_scram_client_final(struct pgw_scram_client *c, const char *server_first, size_t len, char **err)
{
    if (c->state != 1)
        return fail(err, "SCRAM: server-first-message out of order");
    if (memchr(server_first, '\0', len) != NULL)
        return fail(err, "SCRAM: malformed server-first-message");
    const char *p = server_first, *end = server_first + len;
    char *out = NULL, *nonce = NULL, *salt64 = NULL, *iter = NULL, *salt = NULL, *without_proof = NULL;
    size_t salt_len = 0;
    struct keys k;
    memset(&k, 0, sizeof(k));
    if (len >= 2 && p[0] == 'm' && p[1] == '=') {
        fail(err, "SCRAM: the server requires an extension we do not know");
        goto done;
    }
    nonce = take_attr(&p, end, 'r');
    salt64 = take_attr(&p, end, 's');
    iter = take_attr(&p, end, 'i');
    if (nonce == NULL || salt64 == NULL || iter == NULL) {
        fail(err, "SCRAM: malformed server-first-message");
        goto done;
    }
    size_t cn = strlen(c->client_nonce);
    if (strlen(nonce) <= cn || strncmp(nonce, c->client_nonce, cn) != 0) {
        fail(err, "SCRAM: the server's nonce does not extend ours");
        goto done;
    }
    for (const char *q = nonce; *q; q++) {
        if (*q < 0x21 || *q > 0x7e) {
            fail(err, "SCRAM: the server's nonce is not printable");
            goto done;
        }
    }
    char *iter_end = NULL;
    long iterations = strtol(iter, &iter_end, 10);
    if (iter[0] < '1' || iter[0] > '9' || *iter_end != '\0' || iterations < 1 || iterations > PGW_SCRAM_MAX_ITERATIONS) {
        fail(err, "SCRAM: the server's iteration count is out of range");
        goto done;
    }
    salt = pgw_base64_decode(salt64, &salt_len);
    if (salt == NULL || salt_len == 0) {
        fail(err, "SCRAM: the server's salt is not base64");
        goto done;
    }
    if (derive_keys(c->password, (const unsigned char *)salt, salt_len, (int)iterations, &k) != 0) {
        fail(err, "SCRAM: key derivation failed");
        goto done;
    }
    without_proof = pgw_asprintf("c=biws,r=%s", nonce); /* biws = base64("n,,"): no channel binding */
    c->auth_message = pgw_asprintf("%s,%.*s,%s", c->client_first_bare, (int)len, server_first, without_proof);
    unsigned char signature[PGW_SCRAM_KEY_LEN], proof[PGW_SCRAM_KEY_LEN];
    if (hmac(k.stored, c->auth_message, strlen(c->auth_message), signature) != 0) {
        fail(err, "SCRAM: HMAC failed");
        goto done;
    }
    for (size_t i = 0; i < sizeof(proof); i++)
        proof[i] = k.client[i] ^ signature[i];
    char *proof64 = pgw_base64_encode(proof, sizeof(proof));
    out = pgw_asprintf("%s,p=%s", without_proof, proof64);
    free(proof64);
    memcpy(c->server_key, k.server, sizeof(c->server_key));
    c->state = 2;
    OPENSSL_cleanse(proof, sizeof(proof));
done:
    OPENSSL_cleanse(&k, sizeof(k));
    free(nonce);
    free(salt64);
    free(iter);
    free(salt);
    free(without_proof);
    return out;
}

int pgw_scram_client_verify(struct pgw_scram_client *c, const char *server_final, size_t len, char **err)
{
    if (c->state != 2) {
        fail(err, "SCRAM: server-final-message out of order");
        return -1;
    }
    const char *p = server_final, *end = server_final + len;
    if (len >= 2 && p[0] == 'e' && p[1] == '=') {
        size_t n = len - 2 > 200 ? 200 : len - 2;
        if (err)
            *err = pgw_asprintf("SCRAM: the server refused: %.*s", (int)n, p + 2);
        return -1;
    }
    char *v64 = take_attr(&p, end, 'v');
    size_t v_len = 0;
    char *v = v64 ? pgw_base64_decode(v64, &v_len) : NULL;
    unsigned char expected[PGW_SCRAM_KEY_LEN];
    int rc = -1;
    if (v == NULL) {
        fail(err, "SCRAM: malformed server-final-message");
    } else if (hmac(c->server_key, c->auth_message, strlen(c->auth_message), expected) != 0) {
        fail(err, "SCRAM: HMAC failed");
    } else if (v_len != sizeof(expected) || CRYPTO_memcmp(v, expected, sizeof(expected)) != 0) {
        fail(err, "SCRAM: the server's signature is wrong (it does not know this role's verifier)");
    } else {
        c->state = 3;
        rc = 0;
    }
    free(v64);
    free(v);
    return rc;
}

void pgw_scram_client_dispose(struct pgw_scram_client *c)
{
    if (c->password) {
        OPENSSL_cleanse(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->client_nonce);
    free(c->client_first_bare);
    free(c->auth_message);
    OPENSSL_cleanse(c->server_key, sizeof(c->server_key));
    memset(c, 0, sizeof(*c));
}
