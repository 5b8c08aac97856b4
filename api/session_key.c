/*
 * EC P-256 keys for session JWTs (contract in session_key.h), with OpenSSL 3
 * EVP. The kid is derived from the public key so two replicas that load the
 * same Secret agree on it even if current.kid was lost.
 */
#include "api/session_key.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"
#include "common/xalloc.h"

void pgw_session_key_dispose(struct pgw_session_key *k)
{
    if (k->priv_pem != NULL)
        OPENSSL_cleanse(k->priv_pem, k->priv_len);
    free(k->priv_pem);
    free(k->pub_pem);
    free(k->kid);
    memset(k, 0, sizeof(*k));
}

void pgw_session_key_move(struct pgw_session_key *dst, struct pgw_session_key *src)
{
    pgw_session_key_dispose(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

static char *dup_len(const char *s, size_t len)
{
    char *d = pgw_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void pgw_session_key_copy(struct pgw_session_key *dst, const struct pgw_session_key *src)
{
    memset(dst, 0, sizeof(*dst));
    if (src->kid == NULL)
        return;
    dst->kid = pgw_strdup(src->kid);
    dst->priv_pem = dup_len(src->priv_pem, src->priv_len);
    dst->priv_len = src->priv_len;
    dst->pub_pem = dup_len(src->pub_pem, src->pub_len);
    dst->pub_len = src->pub_len;
    dst->created = src->created;
}

/* The bytes written to a memory BIO, as a NUL-terminated copy. */
static char *bio_text(BIO *bio, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    *len = n > 0 ? (size_t)n : 0;
    return dup_len(data != NULL ? data : "", *len);
}

/* Fills out from pkey (borrowed): PEMs and kid. 0 or -1. */
static int fill(struct pgw_session_key *out, EVP_PKEY *pkey, const char *kid, time_t created, char **err)
{
    memset(out, 0, sizeof(*out));
    BIO *priv = BIO_new(BIO_s_secmem()), *pub = BIO_new(BIO_s_mem());
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(pkey, &der);
    if (priv == NULL || pub == NULL || der_len <= 0 || PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(pub, pkey) != 1) {
        BIO_free(priv);
        BIO_free(pub);
        OPENSSL_free(der);
        ERR_clear_error(); /* the queue is per thread: leave nothing for the TLS code that runs next */
        *err = pgw_strdup("session key: cannot encode the key");
        return -1;
    }
    out->priv_pem = bio_text(priv, &out->priv_len);
    out->pub_pem = bio_text(pub, &out->pub_len);
    if (kid != NULL && kid[0] != '\0') {
        out->kid = pgw_strdup(kid);
    } else {
        char hex[PGW_SESSION_KID_LEN + 1];
        pgw_sha256_hex(der, (size_t)der_len, PGW_SESSION_KID_LEN / 2, hex);
        out->kid = pgw_strdup(hex);
    }
    out->created = created;
    BIO_free(priv); /* a secure-heap BIO: cleansed on free */
    BIO_free(pub);
    OPENSSL_free(der);
    return 0;
}

int pgw_session_key_generate(struct pgw_session_key *out, time_t created, char **err)
{
    *err = NULL;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (pkey == NULL) {
        memset(out, 0, sizeof(*out));
        ERR_clear_error();
        *err = pgw_strdup("session key: EC P-256 key generation failed");
        return -1;
    }
    int rc = fill(out, pkey, NULL, created, err);
    EVP_PKEY_free(pkey);
    return rc;
}

static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t len = 0;
    return EVP_PKEY_is_a(pkey, "EC") &&
           EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) == 1 &&
           (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0);
}

int pgw_session_key_from_pem(struct pgw_session_key *out, const char *pem, size_t len, const char *kid, time_t created, char **err)
{
    *err = NULL;
    memset(out, 0, sizeof(*out));
    if (len > 16384) {
        *err = pgw_strdup("session key: PEM too large");
        return -1;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (pkey == NULL || !is_p256(pkey)) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        *err = pgw_strdup("session key: not an EC P-256 private key in PEM");
        return -1;
    }
    int rc = fill(out, pkey, kid, created, err);
    EVP_PKEY_free(pkey);
    return rc;
}
