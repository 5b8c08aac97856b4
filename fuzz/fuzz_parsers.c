/*
 * Fuzzes the small string parsers that guard spec fields: Kubernetes
 * quantities, cron schedules, RFC 3339 timestamps, PostgreSQL LSNs and
 * Kubernetes names/labels.
 *
 * Input: the first byte picks the parser; the rest is the string (cut at the
 * first NUL, as a JSON string from the API could not carry one anyway).
 *
 * Round-trip properties: a quantity, timestamp or LSN that parses formats to
 * a string that parses back to the same value; every "valid" name has no
 * error messages and every invalid one has at least one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cron.h"
#include "common/lsn.h"
#include "common/names.h"
#include "common/quantity.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const char *input)
{
    if (!ok) {
        fprintf(stderr, "property violated: %s (input \"%s\")\n", what, input);
        abort();
    }
}

static void fuzz_quantity(const char *s)
{
    struct pgw_quantity q, back;
    const char *why = NULL;
    if (pgw_quantity_parse(s, &q, &why) != 0)
        return;
    char buf[PGW_QUANTITY_STRLEN];
    char *text = pgw_quantity_format(&q, buf, sizeof(buf));
    check(text != NULL, "a parsed quantity formats", s);
    check(pgw_quantity_parse(text, &back, &why) == 0, "a formatted quantity parses back", s);
    check(pgw_quantity_cmp(&q, &back) == 0, "a formatted quantity keeps its value", s);
    (void)pgw_quantity_value(&q);
    (void)pgw_quantity_milli_value(&q);
}

static void fuzz_cron(const char *s)
{
    char *why = NULL;
    int rc = pgw_cron_validate(s, &why);
    check(rc == 0 || why != NULL, "a rejected schedule says why", s);
    free(why);
}

static void fuzz_timestamp(const char *s)
{
    time_t t, back;
    const char *why = NULL;
    if (pgw_rfc3339_parse(s, &t, &why) != 0)
        return;
    if (t < -62167219200 || t > 253402300799) /* an offset moved it outside years 0000..9999: not writable */
        return;
    char buf[64];
    char *text = pgw_rfc3339_format(t, buf, sizeof(buf));
    check(pgw_rfc3339_parse(text, &back, &why) == 0 && back == t, "a formatted timestamp parses back", s);
}

static void fuzz_lsn(const char *s)
{
    uint64_t v, back;
    const char *why = NULL;
    if (pgw_lsn_parse(s, &v, &why) != 0)
        return;
    char buf[32];
    char *text = pgw_lsn_format(v, buf, sizeof(buf));
    check(text != NULL && pgw_lsn_parse(text, &back, &why) == 0 && back == v, "a formatted LSN parses back", s);
}

static void fuzz_names(const char *s)
{
    static int (*const single[])(const char *, const char **) = {pgw_dns1123_label, pgw_dns1123_subdomain, pgw_dns1035_label,
                                                                 pgw_label_key, pgw_label_value};
    for (int kind = 0; kind != 5; ++kind) {
        const char *msgs[PGW_NAMES_MAX_ERRORS], *why = NULL;
        int n = pgw_names_check((enum pgw_name_kind)kind, s, msgs, PGW_NAMES_MAX_ERRORS);
        int ok = single[kind](s, &why);
        check(n >= 0 && n <= PGW_NAMES_MAX_ERRORS, "error count in range", s);
        check((ok == 0) == (n == 0), "single check and full check agree", s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = pgw_malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        fuzz_quantity(s);
        break;
    case 1:
        fuzz_cron(s);
        break;
    case 2:
        fuzz_timestamp(s);
        break;
    case 3:
        fuzz_lsn(s);
        break;
    default:
        fuzz_names(s);
        break;
    }
    free(s);
    return 0;
}
