/*
 * TLS for the webhook listener: one SSL_CTX shared by every event loop, and a
 * certificate store that can be swapped while the server runs.
 *
 * Hot reload: the SSL_CTX carries no certificate of its own. A certificate
 * callback hands each new handshake the store's current certificate and key,
 * so a reload affects only handshakes that start after it; established
 * connections keep the certificate they negotiated. A new pair is loaded and
 * checked completely (PEM, key matches, currently valid) before it replaces
 * the old one, so a bad file never takes the server down.
 */
#ifndef PGW_WEBHOOK_TLS_H
#define PGW_WEBHOOK_TLS_H

#include <openssl/ssl.h>
#include <time.h>

struct pgw_tls_store;

/* Creates a store for cert_file/key_file. Does not load; call pgw_tls_store_reload. Caller frees with _free. */
struct pgw_tls_store *pgw_tls_store_new(const char *cert_file, const char *key_file);
void pgw_tls_store_free(struct pgw_tls_store *store);

/*
 * Loads the files if they changed since the last load (by mtime, size and
 * inode), or unconditionally when `force`. Returns 1 when a new certificate is
 * now in use, 0 when nothing changed, -1 when the files are bad (the old
 * certificate stays; *err says why, caller frees).
 */
int pgw_tls_store_reload(struct pgw_tls_store *store, int force, char **err);
/* notAfter of the certificate in use, or 0 before the first successful load. */
time_t pgw_tls_store_not_after(struct pgw_tls_store *store);

/*
 * Creates the server SSL_CTX: TLS 1.2+, HTTP/1.1 ALPN only, ECDHE AEAD ciphers,
 * no compression, no renegotiation, session resumption on. When client_ca_file
 * is set, clients must present a certificate it signed. Returns NULL with *err.
 */
SSL_CTX *pgw_tls_context_new(struct pgw_tls_store *store, const char *client_ca_file, char **err);

#endif
