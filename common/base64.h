/*
 * Standard base64 (RFC 4648 §4), the form Kubernetes uses for Secret data,
 * caBundles, kubeconfig *-data fields and AdmissionReview patches.
 */
#ifndef PGW_COMMON_BASE64_H
#define PGW_COMMON_BASE64_H

#include <stddef.h>

/* Length of the padded encoding of len bytes (without the NUL). */
size_t pgw_base64_encoded_len(size_t len);

/* Encodes with padding, on one line. Returns a malloc'd NUL-terminated string; the caller frees. */
char *pgw_base64_encode(const void *data, size_t len);

/* Decodes (whitespace ignored). Returns a malloc'd NUL-terminated buffer and its length, or NULL when invalid. */
char *pgw_base64_decode(const char *in, size_t *out_len);

#endif
