/*
 * Self-managed certificates: an ECDSA P-256 CA and a serving certificate it signs.
 *
 * Generation uses OpenSSL's API directly (no shelling out). The serving
 * certificate's SANs are <svc>, <svc>.<ns>, <svc>.<ns>.svc,
 * <svc>.<ns>.svc.cluster.local, localhost and 127.0.0.1. Files are written as
 * PEM: ca.crt, ca.key (0600), tls.crt (leaf), tls.key (0600).
 */
#ifndef PGW_CERTS_H
#define PGW_CERTS_H

#include <time.h>

struct pgw_certs_options {
    const char *service;   /* "pgwarden-webhook" */
    const char *namespace; /* "pgwarden-system" */
    int ca_days;           /* CA lifetime, e.g. 3650 */
    int leaf_days;         /* serving certificate lifetime, e.g. 365 */
};

/*
 * Ensures `dir` holds a usable CA and serving certificate, generating or
 * renewing what is missing, invalid, or within the last third of its lifetime.
 * An existing CA that is still good is kept, so the caBundle stays stable.
 * Sets *changed to 1 when it wrote anything. Returns 0, or -1 with *err (caller frees).
 */
int pgw_certs_ensure(const char *dir, const struct pgw_certs_options *opts, int *changed, char **err);

/* Always generates a fresh CA and serving certificate into `dir`. Returns 0 or -1 with *err. */
int pgw_certs_generate(const char *dir, const struct pgw_certs_options *opts, char **err);

/*
 * Checks that cert_file and key_file form a usable pair (PEM parses, the key
 * matches, the certificate is currently valid). Fills *not_after. Returns 0 or -1 with *err.
 */
int pgw_certs_check_pair(const char *cert_file, const char *key_file, time_t *not_after, char **err);

/* 1 when less than a third of [not_before, not_after] remains at `now`. */
int pgw_certs_needs_renewal(time_t not_before, time_t not_after, time_t now);

/* Reads a PEM file into a malloc'd string (caller frees), or NULL with *err. */
char *pgw_certs_read_file(const char *path, char **err);

#endif
