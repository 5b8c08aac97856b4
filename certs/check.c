/*
 * Judging existing certificates: is a pair usable, is a CA or a serving
 * certificate still good enough to keep, is it time to renew.
 *
 * Renewal starts when less than a third of the lifetime remains (DESIGN.md §8):
 * with the default 365-day serving certificate that leaves four months of
 * slack for a replica that is down or a poll that keeps failing.
 */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "certs/internal.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

int pgw_certs_needs_renewal(time_t not_before, time_t not_after, time_t now)
{
    if (not_after <= not_before || now >= not_after)
        return 1;
    /* remaining < lifetime / 3, without rounding */
    return (not_after - now) * 3 < (not_after - not_before);
}

static int validity(X509 *x, time_t *not_before, time_t *not_after)
{
    return pgw_certs_asn1_to_time(X509_get0_notBefore(x), not_before) == 0 &&
                   pgw_certs_asn1_to_time(X509_get0_notAfter(x), not_after) == 0
               ? 0
               : -1;
}

/* X509_check_private_key leaves errors on the thread's queue on mismatch; drop them. */
static int key_matches(X509 *x, EVP_PKEY *key)
{
    int ok = X509_check_private_key(x, key) == 1;
    ERR_clear_error();
    return ok;
}

int pgw_certs_check_pair(const char *cert_file, const char *key_file, time_t *not_after, char **err)
{
    X509 *cert = pgw_certs_load_cert(cert_file, err);
    if (cert == NULL)
        return -1;
    EVP_PKEY *key = pgw_certs_load_key(key_file, err);
    if (key == NULL) {
        X509_free(cert);
        return -1;
    }
    int rc = -1;
    time_t nb, na, now = time(NULL);
    char when[32];
    if (!key_matches(cert, key)) {
        *err = pgw_asprintf("%s does not match %s", key_file, cert_file);
    } else if (validity(cert, &nb, &na) != 0) {
        *err = pgw_asprintf("%s: unreadable validity period", cert_file);
    } else if (now < nb) {
        *err = pgw_asprintf("%s is not valid before %s", cert_file, pgw_rfc3339_format(nb, when, sizeof(when)));
    } else if (now > na) {
        *err = pgw_asprintf("%s expired at %s", cert_file, pgw_rfc3339_format(na, when, sizeof(when)));
    } else {
        *not_after = na;
        rc = 0;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* Shared tail of both judgements: the validity window at `now`. */
static const char *lifetime_problem(X509 *x, time_t now)
{
    time_t nb, na;
    if (validity(x, &nb, &na) != 0)
        return "unreadable validity period";
    if (now < nb)
        return "not valid yet";
    if (now > na)
        return "expired";
    if (pgw_certs_needs_renewal(nb, na, now))
        return "less than a third of its lifetime remains";
    return NULL;
}

const char *pgw_certs_ca_problem(X509 *ca, EVP_PKEY *key, time_t now)
{
    if (!key_matches(ca, key))
        return "ca.key does not match ca.crt";
    /* X509_check_ca: CA:TRUE basic constraints, and keyCertSign when keyUsage is present. */
    if (X509_check_ca(ca) != 1)
        return "ca.crt is not a CA certificate";
    int self_signed = X509_verify(ca, X509_get0_pubkey(ca)) == 1;
    ERR_clear_error();
    if (!self_signed)
        return "ca.crt is not self-signed";
    return lifetime_problem(ca, now);
}

const char *pgw_certs_leaf_problem(X509 *leaf, EVP_PKEY *key, X509 *ca, const struct pgw_certs_options *opts, time_t now)
{
    if (!key_matches(leaf, key))
        return "tls.key does not match tls.crt";
    /* Issuer name, authority key id and the CA's key usage must line up... */
    int issued = X509_check_issued(ca, leaf) == X509_V_OK;
    /* ...and the signature must verify with the CA's key. */
    int signed_by_ca = issued && X509_verify(leaf, X509_get0_pubkey(ca)) == 1;
    ERR_clear_error();
    if (!signed_by_ca)
        return "tls.crt is not signed by the current CA";
    if (X509_check_ca(leaf) != 0)
        return "tls.crt is a CA certificate";
    char *dns[PGW_CERTS_DNS_COUNT];
    pgw_certs_dns_names(opts, dns);
    int covered = 1;
    for (size_t i = 0; i != PGW_CERTS_DNS_COUNT; ++i) {
        unsigned flags = X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
        if (X509_check_host(leaf, dns[i], 0, flags, NULL) != 1)
            covered = 0;
        free(dns[i]);
    }
    for (size_t i = 0; covered && pgw_certs_ips[i] != NULL; ++i)
        if (X509_check_ip_asc(leaf, pgw_certs_ips[i], 0) != 1)
            covered = 0;
    ERR_clear_error();
    if (!covered)
        return "tls.crt does not cover every name of the service";
    return lifetime_problem(leaf, now);
}
