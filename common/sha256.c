#include "common/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256; /* lives for the process */

static void fetch(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256 == NULL)
        abort(); /* OpenSSL without SHA-256 cannot run anything we do */
}

void pgw_sha256(const void *data, size_t len, unsigned char out[PGW_SHA256_LEN])
{
    pthread_once(&once, fetch);
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, sha256, NULL) != 1 || n != PGW_SHA256_LEN)
        abort();
}

void pgw_sha256_hex(const void *data, size_t len, size_t nbytes, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[PGW_SHA256_LEN];
    pgw_sha256(data, len, md);
    if (nbytes > PGW_SHA256_LEN)
        nbytes = PGW_SHA256_LEN;
    for (size_t i = 0; i != nbytes; ++i) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * nbytes] = '\0';
}
