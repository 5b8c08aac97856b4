/*
 * What a serving certificate must say and when: the names and addresses it
 * covers, the clock it is judged by, the options it is built from, and the
 * conversion of its ASN.1 validity times.
 *
 * generate.c (making certificates) and check.c (judging them) both need these
 * facts; keeping them here lets each of the two depend on this file instead of
 * on the other.
 */
#include <string.h>

#include "certs/internal.h"
#include "common/names.h"
#include "common/xalloc.h"

#define MAX_DAYS 36500

const char *const pgw_certs_ips[] = {"127.0.0.1", "::1", NULL};

time_t pgw_certs_now(const struct pgw_certs_options *opts)
{
    return opts->now != 0 ? opts->now : time(NULL);
}

void pgw_certs_dns_names(const struct pgw_certs_options *opts, char *names[PGW_CERTS_DNS_COUNT])
{
    names[0] = pgw_strdup(opts->service);
    names[1] = pgw_asprintf("%s.%s", opts->service, opts->namespace);
    names[2] = pgw_asprintf("%s.%s.svc", opts->service, opts->namespace);
    names[3] = pgw_asprintf("%s.%s.svc.cluster.local", opts->service, opts->namespace);
    names[4] = pgw_strdup("localhost");
}

int pgw_certs_check_options(const struct pgw_certs_options *opts, char **err)
{
    if (opts->service == NULL || pgw_dns1123_label(opts->service, NULL) != 0) {
        *err = pgw_asprintf("service \"%s\" is not a DNS label (lowercase letters, digits and '-', at most 63)",
                            opts->service != NULL ? opts->service : "");
        return -1;
    }
    if (opts->namespace == NULL || pgw_dns1123_label(opts->namespace, NULL) != 0) {
        *err = pgw_asprintf("namespace \"%s\" is not a DNS label (lowercase letters, digits and '-', at most 63)",
                            opts->namespace != NULL ? opts->namespace : "");
        return -1;
    }
    if (opts->ca_days < 1 || opts->ca_days > MAX_DAYS) {
        *err = pgw_asprintf("CA lifetime must be between 1 and %d days, got %d", MAX_DAYS, opts->ca_days);
        return -1;
    }
    if (opts->leaf_days < 1 || opts->leaf_days > MAX_DAYS) {
        *err = pgw_asprintf("certificate lifetime must be between 1 and %d days, got %d", MAX_DAYS, opts->leaf_days);
        return -1;
    }
    return 0;
}

int pgw_certs_asn1_to_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = timegm(&tm);
    return 0;
}
