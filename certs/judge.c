/*
 * Judging a certificate kept in a Secret (PEM text, not files): keep it, or
 * issue a new one. The controller renders a cluster's certificates once and
 * keeps them; this is what tells it that one must be replaced.
 *
 * A certificate is replaced when it does not parse, does not match its key,
 * is not signed by the CA shipped beside it (clients verify with that CA), does
 * not carry every name it must (a Service renamed, a name added by a newer
 * pgwarden), or when less than a third of its lifetime or of the CA's remains
 * (DESIGN.md §8, the same rule as the webhook's own certificate). Names are
 * compared as SAN strings, exactly: a wildcard SAN is a name like any other.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "certs/internal.h"

X509 *pgw_certs_cert_from_pem(const char *pem)
{
    BIO *b = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

EVP_PKEY *pgw_certs_key_from_pem(const char *pem)
{
    BIO *b = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"") : NULL;
    BIO_free(b);
    return k;
}

static int has_dns_san(X509 *x, const char *name)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int found = 0;
    for (int i = 0; !found && i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
        int n = ASN1_STRING_length(g->d.dNSName);
        found = n >= 0 && (size_t)n == strlen(name) && memcmp(s, name, (size_t)n) == 0;
    }
    GENERAL_NAMES_free(sans);
    return found;
}

/* When the renewal window of [nb, na] opens: two thirds into the lifetime. */
static time_t renewal_time(time_t nb, time_t na)
{
    return na <= nb ? nb : na - (na - nb) / 3;
}

const char *pgw_certs_pem_problem(const struct pgw_certs_pem_check *c, time_t *renew_at)
{
    const char *problem = NULL;
    X509 *ca = pgw_certs_cert_from_pem(c->ca_crt), *leaf = pgw_certs_cert_from_pem(c->crt);
    EVP_PKEY *key = pgw_certs_key_from_pem(c->key);
    time_t ca_nb, ca_na, nb, na;
    if (ca == NULL)
        problem = "no readable CA certificate";
    else if (leaf == NULL)
        problem = "no readable certificate";
    else if (key == NULL)
        problem = "no readable private key";
    else if (X509_check_private_key(leaf, key) != 1)
        problem = "the private key does not match the certificate";
    else if (X509_check_ca(ca) != 1)
        problem = "the CA certificate is not a CA";
    else if (X509_check_issued(ca, leaf) != X509_V_OK || X509_verify(leaf, X509_get0_pubkey(ca)) != 1)
        problem = "the certificate is not signed by the CA in the Secret";
    else if (pgw_certs_asn1_to_time(X509_get0_notBefore(ca), &ca_nb) != 0 ||
             pgw_certs_asn1_to_time(X509_get0_notAfter(ca), &ca_na) != 0 ||
             pgw_certs_asn1_to_time(X509_get0_notBefore(leaf), &nb) != 0 ||
             pgw_certs_asn1_to_time(X509_get0_notAfter(leaf), &na) != 0)
        problem = "unreadable validity period";
    ERR_clear_error();
    for (size_t i = 0; problem == NULL && i != c->dns_count; ++i)
        if (!has_dns_san(leaf, c->dns[i]))
            problem = "the certificate does not cover every name it must";
    if (problem == NULL) {
        time_t at = renewal_time(nb, na), ca_at = renewal_time(ca_nb, ca_na);
        if (ca_at < at)
            at = ca_at;
        if (c->now >= na || c->now >= ca_na)
            problem = "the certificate has expired";
        else if (c->now < nb)
            problem = "the certificate is not valid yet";
        else if (pgw_certs_needs_renewal(nb, na, c->now) || pgw_certs_needs_renewal(ca_nb, ca_na, c->now))
            problem = "less than a third of the certificate's lifetime remains";
        else if (renew_at != NULL)
            *renew_at = at;
    }
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(key);
    return problem;
}

char *pgw_certs_pem_first_valid(const char *pem, time_t now)
{
    X509 *x = pgw_certs_cert_from_pem(pem);
    time_t nb, na;
    char *out = NULL;
    if (x != NULL && pgw_certs_asn1_to_time(X509_get0_notBefore(x), &nb) == 0 &&
        pgw_certs_asn1_to_time(X509_get0_notAfter(x), &na) == 0 && nb <= now && now < na)
        out = pgw_certs_cert_pem(x, NULL);
    X509_free(x);
    ERR_clear_error();
    return out;
}

const char *pgw_certs_ca_pem_problem(const char *ca_crt, const char *ca_key, time_t now, time_t *renew_at)
{
    X509 *ca = pgw_certs_cert_from_pem(ca_crt);
    EVP_PKEY *key = pgw_certs_key_from_pem(ca_key);
    time_t nb, na;
    const char *problem = ca == NULL    ? "no readable CA certificate"
                          : key == NULL ? "no readable CA key"
                                        : pgw_certs_ca_problem(ca, key, now);
    if (problem == NULL && renew_at != NULL && pgw_certs_asn1_to_time(X509_get0_notBefore(ca), &nb) == 0 &&
        pgw_certs_asn1_to_time(X509_get0_notAfter(ca), &na) == 0)
        *renew_at = renewal_time(nb, na);
    X509_free(ca);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return problem;
}
