/*
 * SHA-256 with the OpenSSL digest fetched once per process.
 *
 * EVP_Digest(..., EVP_sha256(), ...) looks the algorithm up in the provider
 * store on every call; on the admission hot path that lookup cost more than
 * the rest of sidecar injection. Thread-safe.
 */
#ifndef PGW_COMMON_SHA256_H
#define PGW_COMMON_SHA256_H

#include <stddef.h>

#define PGW_SHA256_LEN 32

void pgw_sha256(const void *data, size_t len, unsigned char out[PGW_SHA256_LEN]);
/* Lower-case hex of the first `nbytes` bytes of the digest into `hex` (2 * nbytes + 1 bytes). */
void pgw_sha256_hex(const void *data, size_t len, size_t nbytes, char *hex);

#endif
