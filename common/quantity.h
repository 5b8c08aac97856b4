/*
 * Kubernetes resource.Quantity, with apimachinery's grammar and semantics.
 *
 *   <quantity> ::= <signedNumber><suffix>
 *   <suffix>   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | e<signedNumber>|E<signedNumber>
 *
 * Values are kept exactly as a scaled decimal (no floating point), so
 * comparisons such as "requests ≤ limits" or "volumes cannot shrink" are exact.
 */
#ifndef PGW_COMMON_QUANTITY_H
#define PGW_COMMON_QUANTITY_H

#include <stdint.h>

struct pgw_quantity {
    /* Exact value = sign * digits * 10^exp10 (binary suffixes are converted exactly). */
    int negative;
    char digits[64]; /* decimal digits of the significand, no leading or trailing zeros ("0" for zero) */
    int exp10;
    int binary;   /* 1 when written with a binary suffix (Ki..Ei): affects canonical form only */
    int exponent; /* 1 when written with e<n>/E<n> (DecimalExponent): affects canonical form only */
};

/* A buffer of this size always holds pgw_quantity_format's output. */
#define PGW_QUANTITY_STRLEN 96

/*
 * Parses `s`. Returns 0, or -1 with a static message in *why that matches
 * apimachinery's ("quantities must match the regular expression
 * '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'").
 */
int pgw_quantity_parse(const char *s, struct pgw_quantity *q, const char **why);
/* -1, 0 or 1. */
int pgw_quantity_cmp(const struct pgw_quantity *a, const struct pgw_quantity *b);
/* Value rounded up to an integer (as Quantity.Value()), saturating at INT64_MAX. */
int64_t pgw_quantity_value(const struct pgw_quantity *q);
/* Value in thousandths rounded up (as Quantity.MilliValue()), saturating. */
int64_t pgw_quantity_milli_value(const struct pgw_quantity *q);
/*
 * Canonical string as Quantity.String() prints it for a computed quantity
 * ("1Gi", "500m", "1k", "1536Mi", "1e3"), into buf (truncated to bufsize;
 * PGW_QUANTITY_STRLEN always suffices). Returns buf.
 */
char *pgw_quantity_format(const struct pgw_quantity *q, char *buf, int bufsize);

#endif
