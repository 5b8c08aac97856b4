/*
 * The client side of a SCRAM-SHA-256 exchange (RFC 5802 §3, RFC 7677),
 * without channel binding ("n,,"), as PostgreSQL's SASL authentication
 * carries it. Internal to controller/pg (pgconn.c) and its tests: the
 * nonce can be given so the RFC 7677 test vector can be replayed.
 *
 * Flow: client_first -> (server-first from the server) -> client_final ->
 * (server-final) -> verify. verify checks the server's signature: a server
 * that does not know the password's verifier cannot pass it, so a man in the
 * middle that only relays cannot impersonate the database.
 */
#ifndef PGW_CONTROLLER_PG_SCRAM_EXCHANGE_H
#define PGW_CONTROLLER_PG_SCRAM_EXCHANGE_H

#include <stddef.h>

#define PGW_SCRAM_KEY_LEN 32
/* A server asking for more iterations than this is refused: PBKDF2 cannot be interrupted by
 * the connection's timeout, and 4096 (PostgreSQL 15's fixed count) takes about a millisecond. */
#define PGW_SCRAM_MAX_ITERATIONS 1000000

/* One exchange. Every pointer member is owned by it; pgw_scram_client_dispose frees them. */
struct pgw_scram_client {
    char *password;          /* copy, wiped on dispose */
    char *client_nonce;      /* printable, no ',' */
    char *client_first_bare; /* "n=<user>,r=<client nonce>" */
    char *auth_message;      /* client-first-bare,server-first,client-final-without-proof */
    unsigned char server_key[PGW_SCRAM_KEY_LEN];
    int state; /* 0 new, 1 first sent, 2 final sent, 3 verified */
};

/* Starts an exchange: returns the client-first-message "n,,n=<user>,r=<nonce>" (malloc'd, caller
 * frees). `nonce` NULL draws 18 random bytes (base64, 24 characters); tests pass RFC 7677's.
 * PostgreSQL ignores the user name here (it has the startup packet's) and libpq sends it empty. */
char *pgw_scram_client_first(struct pgw_scram_client *c, const char *user, const char *password, const char *nonce);
/* Reads the server-first-message (len bytes, not NUL-terminated) and returns the
 * client-final-message with the proof (malloc'd), or NULL with *err (malloc'd): a nonce that
 * does not extend ours, a bad salt, iterations out of range, a malformed message. */
char *pgw_scram_client_final(struct pgw_scram_client *c, const char *server_first, size_t len, char **err);
/* Checks the server-final-message "v=<signature>" (or "e=<error>"). 0 when the signature is the
 * one the password implies, -1 with *err otherwise. */
int pgw_scram_client_verify(struct pgw_scram_client *c, const char *server_final, size_t len, char **err);
void pgw_scram_client_dispose(struct pgw_scram_client *c);

/* pgw_scram_verifier with a given salt: the pinned tests compare with a known verifier. */
char *pgw_scram_verifier_salted(const char *password, int iterations, const unsigned char *salt, size_t salt_len);

#endif
