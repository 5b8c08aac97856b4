/*
 * One ES256 signing key of the session keyring: an EC P-256 key pair kept
 * as PEM (libjwt takes PEM: the private key to sign, the public key to
 * verify) with its kid and creation time. Pure: no I/O.
 */
#ifndef PGW_API_SESSION_KEY_H
#define PGW_API_SESSION_KEY_H

#include <stddef.h>
#include <time.h>

#define PGW_SESSION_KID_LEN 16 /* hex characters: the first 8 bytes of SHA-256 over the public key (DER) */

struct pgw_session_key {
    char *kid;      /* owned; NULL: no key in this slot */
    char *priv_pem; /* PKCS#8 PEM; owned, cleansed on dispose */
    size_t priv_len;
    char *pub_pem; /* SubjectPublicKeyInfo PEM; owned */
    size_t pub_len;
    time_t created;
};
void pgw_session_key_dispose(struct pgw_session_key *k);
/* Moves src into dst (dst disposed first); src is left empty. */
void pgw_session_key_move(struct pgw_session_key *dst, struct pgw_session_key *src);
/* A deep copy into dst (dst's members are not freed). */
void pgw_session_key_copy(struct pgw_session_key *dst, const struct pgw_session_key *src);

/* A fresh P-256 key created at `created`. 0, or -1 with *err (caller frees). */
int pgw_session_key_generate(struct pgw_session_key *out, time_t created, char **err);

/*
 * A key from the private key PEM (any form OpenSSL reads: PKCS#8 or SEC1),
 * which must be EC P-256; it is re-encoded as PKCS#8. kid NULL or "": derived
 * from the key. 0, or -1 with *err (caller frees).
 */
int pgw_session_key_from_pem(struct pgw_session_key *out, const char *pem, size_t len, const char *kid, time_t created, char **err);

#endif
