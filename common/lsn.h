/*
 * PostgreSQL log sequence numbers ("16/B374D848": two hex parts of up to 8 digits).
 */
#ifndef PGW_COMMON_LSN_H
#define PGW_COMMON_LSN_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 and the 64-bit LSN in *out, or -1 with a static *why. */
int pgw_lsn_parse(const char *s, uint64_t *out, const char **why);
/* Formats `lsn` as PostgreSQL prints it ("16/B374D848", upper case, no padding) into buf (≥ 18 bytes). Returns buf. */
char *pgw_lsn_format(uint64_t lsn, char *buf, size_t bufsize);

#endif
