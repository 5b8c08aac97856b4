/*
 * Self-managed certificates: an ECDSA P-256 CA and a serving certificate it signs.
 *
 * Generation uses OpenSSL's API directly (no shelling out). The serving
 * certificate's SANs are <svc>, <svc>.<ns>, <svc>.<ns>.svc,
 * <svc>.<ns>.svc.cluster.local, localhost, 127.0.0.1 and ::1. Files are written
 * as PEM: ca.crt (0644), ca.key (0600), tls.crt (leaf, 0644), tls.key (0600).
 *
 * Every file is replaced atomically (temporary file, fsync, rename), and in
 * this order: ca.key, ca.crt, tls.key, tls.crt. A poller that sees a new
 * tls.crt therefore also sees its tls.key. Between the two renames it can see
 * a new tls.key with the old tls.crt: pgw_certs_check_pair rejects that pair
 * as mismatched and the next poll, after tls.crt is renamed, succeeds. A crash
 * half-way leaves a leaf that does not chain to ca.crt or does not match its
 * key, which the next pgw_certs_ensure detects and reissues.
 */
#ifndef PGW_CERTS_H
#define PGW_CERTS_H

#include <stddef.h>
#include <time.h>

struct pgw_certs_options {
    const char *service;   /* "pgwarden-webhook" */
    const char *namespace; /* "pgwarden-system" */
    int ca_days;           /* CA lifetime, e.g. 3650 */
    int leaf_days;         /* serving certificate lifetime, e.g. 365 */
    time_t now;            /* 0: the current time; tests set it to move the clock without sleeping */
    /* More DNS SANs after the service's (a leading "*." allowed): a cluster's other Services and pods. */
    const char *const *extra_dns;
    size_t extra_dns_count;
    /* pgw_certs_issue_pem: sign with this CA (PEM) instead of a new one; both or neither. */
    const char *ca_crt_pem;
    const char *ca_key_pem;
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

/* A CA and a serving certificate it signs, as PEM text; every string is malloc'd. */
struct pgw_certs_pem {
    char *ca_crt;
    char *tls_crt;
    char *tls_key;
    char *ca_key; /* pgw_certs_issue_ca_pem only */
};

/* A new CA alone (ca_crt, ca_key) for opts->ca_days, to sign a cluster's certificates across renewals. */
int pgw_certs_issue_ca_pem(const struct pgw_certs_options *opts, struct pgw_certs_pem *out, char **err);
/* Why the CA pair must be issued again (static string: unusable, or less than a third of its life left), or NULL
 * to keep it, with *renew_at when it will be due. */
const char *pgw_certs_ca_pem_problem(const char *ca_crt, const char *ca_key, time_t now, time_t *renew_at);

/*
 * Issues a fresh CA and serving certificate for opts in memory (the CA key is
 * dropped: nothing signs with it again, a renewal issues a new pair). Used for
 * the certificates the controller keeps in Secrets. Returns 0, or -1 with *err.
 */
int pgw_certs_issue_pem(const struct pgw_certs_options *opts, struct pgw_certs_pem *out, char **err);
void pgw_certs_pem_free(struct pgw_certs_pem *pem);

/*
 * Mutual TLS between a server and one client: a CA of its own signs a server
 * certificate (extendedKeyUsage serverAuth, the given DNS names as SANs, a
 * leading "*." allowed) and a client certificate (clientAuth, subject CN
 * client_cn, which a server can authorize by name). The CA key is dropped, as
 * in pgw_certs_issue_pem. Used for pgBackRest: the pods' `pgbackrest server`
 * and the backup Jobs that reach it.
 */
struct pgw_certs_mtls_options {
    const char *server_cn;         /* informational; clients match the SANs */
    const char *const *server_dns; /* at least one */
    size_t server_dns_count;
    const char *client_cn; /* 1-64 bytes */
    int ca_days;
    int leaf_days;
    time_t now;             /* 0: the current time */
    const char *ca_crt_pem; /* sign with this CA (PEM) instead of a new one; both or neither */
    const char *ca_key_pem;
};

struct pgw_certs_mtls_pem {
    char *ca_crt;
    char *server_crt;
    char *server_key;
    char *client_crt;
    char *client_key;
};

/* Returns 0, or -1 with *err (caller frees) for bad options or an OpenSSL failure. */
int pgw_certs_issue_mtls_pem(const struct pgw_certs_mtls_options *opts, struct pgw_certs_mtls_pem *out, char **err);
void pgw_certs_mtls_pem_free(struct pgw_certs_mtls_pem *pem);

/*
 * A certificate kept in a Secret, as PEM text, and what it must be: signed by
 * ca_crt, matching key, carrying each of dns[] as a SAN (compared exactly, so
 * "*.x" is just a name), with more than a third of its lifetime and of the
 * CA's left at `now`.
 */
struct pgw_certs_pem_check {
    const char *ca_crt;
    const char *crt;
    const char *key;
    const char *const *dns;
    size_t dns_count;
    time_t now;
};

/*
 * Why the certificate must be issued again (a static string), or NULL to keep
 * it; then *renew_at (when not NULL) is when it will need renewal (two thirds
 * into the shorter-lived of the certificate and its CA). Pure: no I/O.
 */
const char *pgw_certs_pem_problem(const struct pgw_certs_pem_check *c, time_t *renew_at);

/* The first certificate of a PEM text, re-encoded, when it is valid at `now`; else NULL. malloc'd. */
char *pgw_certs_pem_first_valid(const char *pem, time_t now);

#endif
