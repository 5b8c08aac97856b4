#include "common/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

size_t pgw_base64_encoded_len(size_t len)
{
    return 4 * ((len + 2) / 3);
}

char *pgw_base64_encode(const void *data, size_t len)
{
    char *out = pgw_malloc(pgw_base64_encoded_len(len) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

char *pgw_base64_decode(const char *in, size_t *out_len)
{
    size_t n = strlen(in);
    char *out = pgw_malloc(n / 4 * 3 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=') {
            ++pad;
            continue;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        else
            goto bad;
        if (pad != 0)
            goto bad; /* data after padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6 || pad > 2)
        goto bad;
    out[o] = '\0';
    *out_len = o;
    return out;
bad:
    free(out);
    return NULL;
}
