/*
 * Pieces shared by the files of the certs module (not part of its public API).
 *
 * generate.c builds keys and certificates, check.c judges existing ones,
 * files.c reads and atomically writes PEM files, ensure.c ties them together.
 * OpenSSL objects returned here are owned by the caller (X509_free,
 * EVP_PKEY_free); strings are malloc'd and freed by the caller.
 */
#ifndef PGW_CERTS_INTERNAL_H
#define PGW_CERTS_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <time.h>

#include "certs/certs.h"
#include "certs/files.h"

/* File names inside the certificate directory. */
#define PGW_CERTS_CA_CRT "ca.crt"
#define PGW_CERTS_CA_KEY "ca.key"
#define PGW_CERTS_TLS_CRT "tls.crt"
#define PGW_CERTS_TLS_KEY "tls.key"

/* How far notBefore is set in the past, to tolerate clock skew between nodes. */
#define PGW_CERTS_BACKDATE_SECONDS 300

/* Number of DNS names in a serving certificate (see pgw_certs_dns_names). */
#define PGW_CERTS_DNS_COUNT 5
/* IP addresses in a serving certificate, NULL-terminated: 127.0.0.1 and ::1. */
extern const char *const pgw_certs_ips[];

/*
 * The DNS names a serving certificate for opts carries: <svc>, <svc>.<ns>,
 * <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local, localhost. Fills names[]
 * with malloc'd strings the caller frees.
 */
void pgw_certs_dns_names(const struct pgw_certs_options *opts, char *names[PGW_CERTS_DNS_COUNT]);

/* opts->now, or the current time when it is 0. */
time_t pgw_certs_now(const struct pgw_certs_options *opts);

/* Checks service, namespace and lifetimes. Returns 0 or -1 with *err. */
int pgw_certs_check_options(const struct pgw_certs_options *opts, char **err);

/* First certificate of a PEM file, or NULL with *err. */
X509 *pgw_certs_load_cert(const char *path, char **err);
/* Unencrypted PEM private key (never prompts for a passphrase), or NULL with *err. */
EVP_PKEY *pgw_certs_load_key(const char *path, char **err);

/* The first certificate, or the (unencrypted) private key, of PEM text; NULL when there is none. */
X509 *pgw_certs_cert_from_pem(const char *pem);
EVP_PKEY *pgw_certs_key_from_pem(const char *pem);

/* ASN1_TIME → epoch seconds. Returns 0 or -1. */
int pgw_certs_asn1_to_time(const ASN1_TIME *t, time_t *out);

/* PEM encodings as malloc'd strings (caller frees), or NULL. */
char *pgw_certs_cert_pem(X509 *cert, size_t *len);
char *pgw_certs_key_pem(EVP_PKEY *key, size_t *len);

/* A fresh self-signed CA (cert and key) valid from now - backdate to now + opts->ca_days. Returns 0 or -1 with *err. */
int pgw_certs_make_ca(const struct pgw_certs_options *opts, X509 **cert, EVP_PKEY **key, char **err);

/*
 * A fresh serving certificate signed by ca_cert/ca_key, valid from
 * now - backdate to min(now + opts->leaf_days, CA's notAfter). Returns 0 or -1 with *err.
 */
int pgw_certs_make_leaf(const struct pgw_certs_options *opts, X509 *ca_cert, EVP_PKEY *ca_key, X509 **cert, EVP_PKEY **key,
                        char **err);

/*
 * Writes one pair into dir: the key (0600) first, then the certificate (0644),
 * each atomically. Returns 0 or -1 with *err.
 */
int pgw_certs_write_pair(const char *dir, const char *crt_name, const char *key_name, X509 *cert, EVP_PKEY *key, char **err);

/*
 * Why `ca` cannot be kept as the CA at `now` (static string), or NULL when it
 * is a usable CA for `key` that is not yet due for renewal.
 */
const char *pgw_certs_ca_problem(X509 *ca, EVP_PKEY *key, time_t now);

/*
 * Why `leaf` cannot be kept as the serving certificate for `opts` at `now`
 * (static string), or NULL when it matches `key`, is signed by `ca`, covers
 * every expected name and is not yet due for renewal.
 */
const char *pgw_certs_leaf_problem(X509 *leaf, EVP_PKEY *key, X509 *ca, const struct pgw_certs_options *opts, time_t now);

#endif
