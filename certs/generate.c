/*
 * Key and certificate generation with OpenSSL 3 (no shelling out).
 *
 * The CA and the serving certificate are both ECDSA P-256 and signed with
 * SHA-256: small, fast handshakes, and accepted by every kube-apiserver. Serial
 * numbers are 128 random bits, so a regenerated certificate never repeats an
 * earlier serial. notBefore is set a few minutes in the past so that an
 * apiserver whose clock lags ours accepts a certificate we just issued.
 */
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "certs/internal.h"
#include "common/xalloc.h"

/* Formats the first queued OpenSSL error after `what` and clears the queue. */
static char *openssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    char *msg = pgw_asprintf("%s: %s", what, reason != NULL ? reason : "OpenSSL error");
    ERR_clear_error();
    return msg;
}

static EVP_PKEY *new_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int set_random_serial(X509 *x)
{
    unsigned char buf[16];
    if (RAND_bytes(buf, sizeof(buf)) != 1)
        return -1;
    buf[0] &= 0x7f; /* positive, as RFC 5280 requires */
    buf[0] |= 0x40; /* and never shorter than 16 bytes, never zero */
    BIGNUM *bn = BN_bin2bn(buf, sizeof(buf), NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int set_validity(X509 *x, time_t not_before, time_t not_after)
{
    if (ASN1_TIME_set(X509_getm_notBefore(x), not_before) == NULL)
        return -1;
    if (ASN1_TIME_set(X509_getm_notAfter(x), not_after) == NULL)
        return -1;
    return 0;
}

static int set_subject(X509 *x, const char *cn)
{
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"pgwarden", -1, -1, 0) != 1)
        return -1;
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
        return -1;
    return 0;
}

/* Adds one extension given in openssl.cnf syntax, e.g. "critical,CA:TRUE". */
static int add_ext(X509V3_CTX *ctx, X509 *x, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static int san_name_ok(const char *name);
static int given_or_new_ca(const struct pgw_certs_options *ca_opts, const char *crt_pem, const char *key_pem, X509 **ca,
                           EVP_PKEY **key, char **err);

/* Builds the subjectAltName from structures (not config strings), so no name can inject syntax. */
static int add_sans(X509 *x, const struct pgw_certs_options *opts)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    char *dns[PGW_CERTS_DNS_COUNT];
    pgw_certs_dns_names(opts, dns);
    int ok = gens != NULL;
    for (size_t i = 0; ok && i != PGW_CERTS_DNS_COUNT + opts->extra_dns_count; ++i) {
        const char *name = i < PGW_CERTS_DNS_COUNT ? dns[i] : opts->extra_dns[i - PGW_CERTS_DNS_COUNT];
        if (!san_name_ok(name)) {
            ok = 0;
            break;
        }
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        if (gen == NULL || ia5 == NULL || ASN1_STRING_set(ia5, name, -1) != 1) {
            GENERAL_NAME_free(gen);
            ASN1_IA5STRING_free(ia5);
            ok = 0;
            break;
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
        if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
            GENERAL_NAME_free(gen);
            ok = 0;
        }
    }
    for (size_t i = 0; ok && pgw_certs_ips[i] != NULL; ++i) {
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(pgw_certs_ips[i]);
        if (gen == NULL || ip == NULL) {
            GENERAL_NAME_free(gen);
            ASN1_OCTET_STRING_free(ip);
            ok = 0;
            break;
        }
        GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
        if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
            GENERAL_NAME_free(gen);
            ok = 0;
        }
    }
    if (ok)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    for (size_t i = 0; i != PGW_CERTS_DNS_COUNT; ++i)
        free(dns[i]);
    return ok ? 0 : -1;
}

int pgw_certs_make_ca(const struct pgw_certs_options *opts, X509 **cert, EVP_PKEY **key, char **err)
{
    time_t now = pgw_certs_now(opts);
    EVP_PKEY *pkey = new_key();
    X509 *x = X509_new();
    X509V3_CTX ctx;
    if (pkey == NULL || x == NULL)
        goto fail;
    if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) != 0 ||
        set_validity(x, now - PGW_CERTS_BACKDATE_SECONDS, now + (time_t)opts->ca_days * 86400) != 0 ||
        set_subject(x, "pgwarden webhook CA") != 0 || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        X509_set_pubkey(x, pkey) != 1)
        goto fail;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (add_ext(&ctx, x, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
        add_ext(&ctx, x, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
        add_ext(&ctx, x, NID_subject_key_identifier, "hash") != 0)
        goto fail;
    if (X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto fail;
    *cert = x;
    *key = pkey;
    return 0;
fail:
    *err = openssl_error("cannot create the CA");
    X509_free(x);
    EVP_PKEY_free(pkey);
    return -1;
}

int pgw_certs_make_leaf(const struct pgw_certs_options *opts, X509 *ca_cert, EVP_PKEY *ca_key, X509 **cert, EVP_PKEY **key,
                        char **err)
{
    time_t now = pgw_certs_now(opts), not_after = now + (time_t)opts->leaf_days * 86400, ca_not_after;
    /* A certificate cannot outlive the CA that vouches for it. */
    if (pgw_certs_asn1_to_time(X509_get0_notAfter(ca_cert), &ca_not_after) == 0 && ca_not_after < not_after)
        not_after = ca_not_after;
    /* CN is informational (clients match SANs) and limited to 64 characters. */
    char *cn = pgw_asprintf("%s.%s.svc", opts->service, opts->namespace);
    if (strlen(cn) > 64) {
        free(cn);
        cn = pgw_strdup(opts->service);
    }
    EVP_PKEY *pkey = new_key();
    X509 *x = X509_new();
    X509V3_CTX ctx;
    if (pkey == NULL || x == NULL)
        goto fail;
    if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) != 0 ||
        set_validity(x, now - PGW_CERTS_BACKDATE_SECONDS, not_after) != 0 || set_subject(x, cn) != 0 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca_cert)) != 1 || X509_set_pubkey(x, pkey) != 1)
        goto fail;
    X509V3_set_ctx(&ctx, ca_cert, x, NULL, NULL, 0);
    if (add_ext(&ctx, x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(&ctx, x, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(&ctx, x, NID_ext_key_usage, "serverAuth") != 0 || add_ext(&ctx, x, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(&ctx, x, NID_authority_key_identifier, "keyid:always") != 0 || add_sans(x, opts) != 0)
        goto fail;
    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        goto fail;
    free(cn);
    *cert = x;
    *key = pkey;
    return 0;
fail:
    *err = openssl_error("cannot create the serving certificate");
    free(cn);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return -1;
}

int pgw_certs_generate(const char *dir, const struct pgw_certs_options *opts, char **err)
{
    if (pgw_certs_check_options(opts, err) != 0 || pgw_certs_make_dir(dir, err) != 0)
        return -1;
    X509 *ca = NULL, *leaf = NULL;
    EVP_PKEY *ca_key = NULL, *leaf_key = NULL;
    int rc = -1;
    if (pgw_certs_make_ca(opts, &ca, &ca_key, err) != 0 || pgw_certs_make_leaf(opts, ca, ca_key, &leaf, &leaf_key, err) != 0)
        goto out;
    /* ca.key, ca.crt, tls.key, tls.crt: see certs.h for why this order. */
    if (pgw_certs_write_pair(dir, PGW_CERTS_CA_CRT, PGW_CERTS_CA_KEY, ca, ca_key, err) != 0 ||
        pgw_certs_write_pair(dir, PGW_CERTS_TLS_CRT, PGW_CERTS_TLS_KEY, leaf, leaf_key, err) != 0)
        goto out;
    rc = 0;
out:
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    return rc;
}

/* PEM text of a certificate and, when key_pem is not NULL, of its key (both malloc'd).
 * 0, or -1 when OpenSSL cannot encode them (what was made is left for the caller to free). */
static int to_pem(X509 *cert, EVP_PKEY *key, char **crt_pem, char **key_pem)
{
    size_t len;
    *crt_pem = pgw_certs_cert_pem(cert, &len);
    if (key_pem != NULL)
        *key_pem = pgw_certs_key_pem(key, &len);
    return *crt_pem == NULL || (key_pem != NULL && *key_pem == NULL) ? -1 : 0;
}

/* A private key's PEM text is wiped before it goes back to the allocator. */
static void free_key_pem(char *pem)
{
    if (pem != NULL)
        OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
}

/* The given CA (PEM), or a new one when none is given. */
static int given_or_new_ca(const struct pgw_certs_options *ca_opts, const char *crt_pem, const char *key_pem, X509 **ca,
                           EVP_PKEY **key, char **err)
{
    if (crt_pem == NULL || key_pem == NULL)
        return pgw_certs_make_ca(ca_opts, ca, key, err);
    *ca = pgw_certs_cert_from_pem(crt_pem);
    *key = pgw_certs_key_from_pem(key_pem);
    if (*ca != NULL && *key != NULL && X509_check_private_key(*ca, *key) == 1)
        return 0;
    ERR_clear_error();
    X509_free(*ca);
    EVP_PKEY_free(*key);
    *ca = NULL;
    *key = NULL;
    *err = pgw_strdup("the CA to sign with does not parse or does not match its key");
    return -1;
}

int pgw_certs_issue_ca_pem(const struct pgw_certs_options *opts, struct pgw_certs_pem *out, char **err)
{
    memset(out, 0, sizeof(*out));
    if (pgw_certs_check_options(opts, err) != 0)
        return -1;
    X509 *ca = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;
    if (pgw_certs_make_ca(opts, &ca, &key, err) != 0)
        goto out;
    if (to_pem(ca, key, &out->ca_crt, &out->ca_key) != 0) {
        *err = openssl_error("cannot encode the CA");
        pgw_certs_pem_free(out);
        goto out;
    }
    rc = 0;
out:
    X509_free(ca);
    EVP_PKEY_free(key);
    return rc;
}

int pgw_certs_issue_pem(const struct pgw_certs_options *opts, struct pgw_certs_pem *out, char **err)
{
    memset(out, 0, sizeof(*out));
    if (pgw_certs_check_options(opts, err) != 0)
        return -1;
    X509 *ca = NULL, *leaf = NULL;
    EVP_PKEY *ca_key = NULL, *leaf_key = NULL;
    int rc = -1;
    if (given_or_new_ca(opts, opts->ca_crt_pem, opts->ca_key_pem, &ca, &ca_key, err) != 0 ||
        pgw_certs_make_leaf(opts, ca, ca_key, &leaf, &leaf_key, err) != 0)
        goto out;
    if (to_pem(ca, NULL, &out->ca_crt, NULL) != 0 || to_pem(leaf, leaf_key, &out->tls_crt, &out->tls_key) != 0) {
        *err = openssl_error("cannot encode the certificates");
        pgw_certs_pem_free(out);
        goto out;
    }
    rc = 0;
out:
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    return rc;
}

void pgw_certs_pem_free(struct pgw_certs_pem *pem)
{
    free(pem->ca_crt);
    free(pem->tls_crt);
    free_key_pem(pem->tls_key);
    free_key_pem(pem->ca_key);
    memset(pem, 0, sizeof(*pem));
}

/* --- mutual TLS (pgw_certs_issue_mtls_pem) ------------------------------------ */

/* A DNS name for a SAN: lowercase letters, digits, '-' and '.', at most 253
 * bytes, optionally starting with "*." (a wildcard of one label). */
static int san_name_ok(const char *name)
{
    if (name == NULL)
        return 0;
    const char *p = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
    size_t n = strlen(p);
    if (n == 0 || n > 253 || p[0] == '.' || p[n - 1] == '.' || p[0] == '-')
        return 0;
    for (; *p; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static int add_dns_sans(X509 *x, const char *const *names, size_t count)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int ok = gens != NULL;
    for (size_t i = 0; ok && i != count; ++i) {
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        if (gen == NULL || ia5 == NULL || ASN1_STRING_set(ia5, names[i], -1) != 1) {
            GENERAL_NAME_free(gen);
            ASN1_IA5STRING_free(ia5);
            ok = 0;
            break;
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
        if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
            GENERAL_NAME_free(gen);
            ok = 0;
        }
    }
    if (ok)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok ? 0 : -1;
}

/* A leaf signed by ca for `eku` ("serverAuth" or "clientAuth"), with DNS SANs when count > 0. */
static int make_mtls_leaf(const struct pgw_certs_mtls_options *opts, X509 *ca_cert, EVP_PKEY *ca_key, const char *cn,
                          const char *eku, const char *const *dns, size_t count, X509 **cert, EVP_PKEY **key)
{
    time_t now = opts->now != 0 ? opts->now : time(NULL), not_after = now + (time_t)opts->leaf_days * 86400, ca_not_after;
    if (pgw_certs_asn1_to_time(X509_get0_notAfter(ca_cert), &ca_not_after) == 0 && ca_not_after < not_after)
        not_after = ca_not_after;
    EVP_PKEY *pkey = new_key();
    X509 *x = X509_new();
    X509V3_CTX ctx;
    if (pkey == NULL || x == NULL)
        goto fail;
    if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x) != 0 ||
        set_validity(x, now - PGW_CERTS_BACKDATE_SECONDS, not_after) != 0 || set_subject(x, cn) != 0 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca_cert)) != 1 || X509_set_pubkey(x, pkey) != 1)
        goto fail;
    X509V3_set_ctx(&ctx, ca_cert, x, NULL, NULL, 0);
    if (add_ext(&ctx, x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(&ctx, x, NID_key_usage, "critical,digitalSignature") != 0 || add_ext(&ctx, x, NID_ext_key_usage, eku) != 0 ||
        add_ext(&ctx, x, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(&ctx, x, NID_authority_key_identifier, "keyid:always") != 0 || (count > 0 && add_dns_sans(x, dns, count) != 0))
        goto fail;
    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        goto fail;
    *cert = x;
    *key = pkey;
    return 0;
fail:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return -1;
}

int pgw_certs_issue_mtls_pem(const struct pgw_certs_mtls_options *opts, struct pgw_certs_mtls_pem *out, char **err)
{
    memset(out, 0, sizeof(*out));
    if (opts->server_dns == NULL || opts->server_dns_count == 0) {
        *err = pgw_strdup("the server certificate needs at least one DNS name");
        return -1;
    }
    for (size_t i = 0; i != opts->server_dns_count; ++i)
        if (!san_name_ok(opts->server_dns[i])) {
            *err = pgw_asprintf("\"%s\" is not a DNS name for a certificate", opts->server_dns[i] ? opts->server_dns[i] : "");
            return -1;
        }
    const char *server_cn = opts->server_cn != NULL ? opts->server_cn : opts->server_dns[0];
    if (opts->client_cn == NULL || opts->client_cn[0] == '\0' || strlen(opts->client_cn) > 64 || strlen(server_cn) > 64) {
        *err = pgw_strdup("a certificate's common name must be 1-64 bytes");
        return -1;
    }
    /* The CA's lifetime and clock checks are pgw_certs_make_ca's, through placeholder names. */
    struct pgw_certs_options ca_opts = {
        .service = "ca", .namespace = "ca", .ca_days = opts->ca_days, .leaf_days = opts->leaf_days, .now = opts->now};
    if (pgw_certs_check_options(&ca_opts, err) != 0)
        return -1;
    X509 *ca = NULL, *server = NULL, *client = NULL;
    EVP_PKEY *ca_key = NULL, *server_key = NULL, *client_key = NULL;
    int rc = -1;
    if (given_or_new_ca(&ca_opts, opts->ca_crt_pem, opts->ca_key_pem, &ca, &ca_key, err) != 0)
        goto out;
    if (make_mtls_leaf(opts, ca, ca_key, server_cn, "serverAuth", opts->server_dns, opts->server_dns_count, &server, &server_key) !=
            0 ||
        make_mtls_leaf(opts, ca, ca_key, opts->client_cn, "clientAuth", NULL, 0, &client, &client_key) != 0) {
        *err = openssl_error("cannot create the mutual TLS certificates");
        goto out;
    }
    if (to_pem(ca, NULL, &out->ca_crt, NULL) != 0 || to_pem(server, server_key, &out->server_crt, &out->server_key) != 0 ||
        to_pem(client, client_key, &out->client_crt, &out->client_key) != 0) {
        *err = openssl_error("cannot encode the certificates");
        pgw_certs_mtls_pem_free(out);
        goto out;
    }
    rc = 0;
out:
    X509_free(ca);
    X509_free(server);
    X509_free(client);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
    return rc;
}

void pgw_certs_mtls_pem_free(struct pgw_certs_mtls_pem *pem)
{
    free(pem->ca_crt);
    free(pem->server_crt);
    free_key_pem(pem->server_key);
    free(pem->client_crt);
    free_key_pem(pem->client_key);
    memset(pem, 0, sizeof(*pem));
}
