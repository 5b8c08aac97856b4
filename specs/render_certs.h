/*
 * The certificates a cluster's Secrets hold, issued once and renewed when due
 * (DESIGN.md §8).
 *
 * Issuing a CA and keys costs CPU, and a certificate that exists must be kept
 * (clients trust its CA), so the controller renders certificate Secrets
 * without their data: a Secret annotated pgwarden.io/certificate (ca, server
 * or pgbackrest) is filled by pgw_render_certificate_data only when it is
 * absent or pgw_render_certificate_problem says its certificate must go.
 * The cluster's CA lives in a Secret of its own that no pod mounts, so a
 * renewed certificate is signed by the CA every process already trusts: a
 * PostgreSQL or pgBackRest server still serving the old certificate and a
 * client holding the new one (or the reverse) still verify each other. A Secret
 * annotated pgwarden.io/tls-from=<secret> gets its tls.crt and tls.key from
 * that Secret (PgBouncer serves the server certificate from its own Secret).
 * Everything here is pure apart from the randomness of new keys; `now` is given.
 */
#ifndef PGW_SPECS_RENDER_CERTS_H
#define PGW_SPECS_RENDER_CERTS_H

#include <jansson.h>
#include <time.h>

#define PGW_ANNOTATION_CERTIFICATE "pgwarden.io/certificate"
#define PGW_CERTIFICATE_SERVER "server"         /* <cluster>-server-tls: ca.crt, tls.crt, tls.key */
#define PGW_CERTIFICATE_PGBACKREST "pgbackrest" /* <cluster>-pgbackrest-tls: also client.crt, client.key */
#define PGW_CERTIFICATE_CA "ca"                 /* <cluster>-ca: ca.crt, ca.key; signs the two above, never mounted */
#define PGW_SUFFIX_CLUSTER_CA "-ca"
#define PGW_KEY_CA_KEY "ca.key"
#define PGW_ANNOTATION_TLS_FROM "pgwarden.io/tls-from"

/* The certificate profile of a rendered Secret (borrowed), or NULL when it holds none. */
const char *pgw_render_certificate_kind(const json_t *secret);

/*
 * The DNS names (SANs) the certificate of profile `kind` for cluster `name` in
 * `ns` carries and must keep carrying: a new JSON array of strings, or NULL
 * for an unknown profile. The server certificate covers the read-write, -ro
 * and -r Services and every pod (*.<cluster>-pods), in each DNS search form,
 * plus localhost.
 */
json_t *pgw_render_certificate_names(const char *kind, const char *name, const char *ns);

/*
 * Fresh certificate data for the certificate Secret `secret` (its name,
 * namespace and cluster label say for whom): a new stringData object, or NULL
 * for an unknown profile or an OpenSSL failure. A server or pgbackrest
 * certificate is signed by `ca` (the data of the cluster's CA Secret: ca.crt,
 * ca.key) when given, so a renewal keeps the CA every client and server
 * already trusts; without it, by a CA of its own (`pgwarden render`).
 */
json_t *pgw_render_certificate_data(const json_t *secret, const json_t *ca);

/* The name of the CA Secret that signs certificate Secret `secret` (malloc'd), or NULL for the CA itself. */
char *pgw_render_certificate_ca_name(const json_t *secret);

/*
 * Why the live data of the certificate Secret `secret` (data: key → PEM text,
 * already base64-decoded) must be issued again at `now` (static string), or
 * NULL to keep it, with *renew_at when to look again.
 */
const char *pgw_render_certificate_problem(const json_t *secret, const json_t *data, time_t now, time_t *renew_at);

/*
 * A renewal brings a new CA (its key is never kept). The old CA of `live`,
 * while still valid at `now`, is appended to ca.crt of the new `data`: a
 * client that reads ca.crt after the renewal verifies both the new
 * certificate and the old one a running process serves until it reloads.
 */
void pgw_render_certificate_keep_ca(json_t *data, const json_t *live, time_t now);

#endif
