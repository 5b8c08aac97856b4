/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: the verifier
 * pgwarden stores with ALTER ROLE ... PASSWORD, so a plaintext password
 * never travels to the server nor lands in its log. The client side of the
 * exchange is in scram_exchange.h (used by pgconn.c).
 */
#ifndef PGW_CONTROLLER_PG_SCRAM_H
#define PGW_CONTROLLER_PG_SCRAM_H

/* PostgreSQL's default (scram_iterations, and its only value before 16). */
#define PGW_SCRAM_ITERATIONS 4096

/* A SCRAM-SHA-256 verifier "SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>" for
 * ALTER ROLE ... PASSWORD, so a plaintext password never travels or lands in a log. A random 16-byte
 * salt. The password is used as its raw UTF-8 bytes (see scram.c on SASLprep). Caller frees; NULL
 * when iterations < 1 or the random generator fails. */
char *pgw_scram_verifier(const char *password, int iterations);

#endif
