/*
 * Server TLS context and the hot-reloadable certificate store.
 */
#include "webhook/tls.h"

#include <errno.h>
#include <h2o.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/xalloc.h"

struct st_pgw_cert_pair_t {
    X509 *leaf;
    STACK_OF(X509) * chain; /* intermediates following the leaf in the PEM file */
    EVP_PKEY *key;
    time_t not_after;
};

struct pgw_tls_store {
    char *cert_file, *key_file;
    pthread_rwlock_t lock; /* guards `current`; readers are handshakes */
    struct st_pgw_cert_pair_t current;
    struct stat cert_stat, key_stat; /* of the files last loaded or rejected */
};

static void pair_clear(struct st_pgw_cert_pair_t *p)
{
    X509_free(p->leaf);
    sk_X509_pop_free(p->chain, X509_free);
    EVP_PKEY_free(p->key);
    memset(p, 0, sizeof(*p));
}

static char *openssl_error(const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return pgw_asprintf("%s %s%s%s", what, file, buf[0] ? ": " : "", buf);
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static int pair_load(struct st_pgw_cert_pair_t *p, const char *cert_file, const char *key_file, char **err)
{
    memset(p, 0, sizeof(*p));
    BIO *bio = BIO_new_file(cert_file, "r");
    if (bio == NULL) {
        *err = pgw_asprintf("cannot open %s: %s", cert_file, strerror(errno));
        ERR_clear_error();
        return -1;
    }
    p->leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (p->leaf == NULL) {
        *err = openssl_error("no PEM certificate in", cert_file);
        BIO_free(bio);
        return -1;
    }
    p->chain = sk_X509_new_null();
    X509 *extra;
    while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(p->chain, extra);
    ERR_clear_error(); /* the loop ends on "no start line" */
    BIO_free(bio);

    bio = BIO_new_file(key_file, "r");
    if (bio == NULL) {
        *err = pgw_asprintf("cannot open %s: %s", key_file, strerror(errno));
        ERR_clear_error();
        goto fail;
    }
    p->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (p->key == NULL) {
        *err = openssl_error("no PEM private key in", key_file);
        goto fail;
    }
    if (X509_check_private_key(p->leaf, p->key) != 1) {
        ERR_clear_error();
        *err = pgw_asprintf("%s does not match the certificate in %s", key_file, cert_file);
        goto fail;
    }
    time_t now = time(NULL), not_before = asn1_to_time(X509_get0_notBefore(p->leaf));
    p->not_after = asn1_to_time(X509_get0_notAfter(p->leaf));
    if (p->not_after <= now) {
        *err = pgw_asprintf("the certificate in %s has expired", cert_file);
        goto fail;
    }
    if (not_before > now + 300) {
        *err = pgw_asprintf("the certificate in %s is not valid yet", cert_file);
        goto fail;
    }
    return 0;
fail:
    pair_clear(p);
    return -1;
}

struct pgw_tls_store *pgw_tls_store_new(const char *cert_file, const char *key_file)
{
    struct pgw_tls_store *s = pgw_calloc(1, sizeof(*s));
    s->cert_file = pgw_strdup(cert_file);
    s->key_file = pgw_strdup(key_file);
    pthread_rwlock_init(&s->lock, NULL);
    return s;
}

void pgw_tls_store_free(struct pgw_tls_store *s)
{
    if (s == NULL)
        return;
    pair_clear(&s->current);
    pthread_rwlock_destroy(&s->lock);
    free(s->cert_file);
    free(s->key_file);
    free(s);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int pgw_tls_store_reload(struct pgw_tls_store *s, int force, char **err)
{
    struct stat cs, ks;
    if (stat(s->cert_file, &cs) != 0 || stat(s->key_file, &ks) != 0) {
        *err = pgw_asprintf("cannot stat %s or %s: %s", s->cert_file, s->key_file, strerror(errno));
        return -1;
    }
    /* Only the poller thread calls reload, so reading the stats needs no lock. */
    if (!force && same_file(&cs, &s->cert_stat) && same_file(&ks, &s->key_stat))
        return 0;
    s->cert_stat = cs;
    s->key_stat = ks;
    struct st_pgw_cert_pair_t fresh;
    if (pair_load(&fresh, s->cert_file, s->key_file, err) != 0)
        return -1;
    pthread_rwlock_wrlock(&s->lock);
    struct st_pgw_cert_pair_t old = s->current;
    s->current = fresh;
    pthread_rwlock_unlock(&s->lock);
    pair_clear(&old); /* handshakes hold their own references */
    return 1;
}

time_t pgw_tls_store_not_after(struct pgw_tls_store *s)
{
    pthread_rwlock_rdlock(&s->lock);
    time_t t = s->current.not_after;
    pthread_rwlock_unlock(&s->lock);
    return t;
}

/* Certificate callback: gives the handshake the current pair (SSL_use_* take their own references). */
static int on_select_certificate(SSL *ssl, void *arg)
{
    struct pgw_tls_store *s = arg;
    int ok = 0;
    pthread_rwlock_rdlock(&s->lock);
    if (s->current.leaf != NULL)
        ok = SSL_use_certificate(ssl, s->current.leaf) == 1 && SSL_use_PrivateKey(ssl, s->current.key) == 1 &&
             SSL_set1_chain(ssl, s->current.chain) == 1;
    pthread_rwlock_unlock(&s->lock);
    return ok;
}

SSL_CTX *pgw_tls_context_new(struct pgw_tls_store *store, const char *client_ca_file, char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        *err = openssl_error("cannot create the TLS context", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2: forward secrecy and AEAD only. TLS 1.3 suites are all strong; keep OpenSSL's. */
    SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                                 "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305");
    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
    static const unsigned char sid_ctx[] = "pgwarden";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_cert_cb(ctx, on_select_certificate, store);
    /* kube-apiserver speaks HTTP/1.1 to webhooks; never negotiate h2. */
    static const h2o_iovec_t alpn[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
    h2o_ssl_register_alpn_protocols(ctx, alpn);
    if (client_ca_file != NULL && client_ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, client_ca_file, NULL) != 1) {
            *err = openssl_error("cannot load client CA", client_ca_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
}
