/*
 * certs_aged DIR DAYS_AGO: writes a CA and serving certificate into DIR as if
 * generated DAYS_AGO days ago (CA 3650 days, leaf 365 days), so tests can see
 * the server renew a certificate near the end of its life without waiting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "certs/certs.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: certs_aged DIR DAYS_AGO\n");
        return 2;
    }
    struct pgw_certs_options opts = {.service = "pgwarden-webhook",
                                     .namespace = "pgwarden-system",
                                     .ca_days = 3650,
                                     .leaf_days = 365,
                                     .now = time(NULL) - (time_t)atoi(argv[2]) * 86400};
    char *err = NULL;
    if (pgw_certs_generate(argv[1], &opts, &err) != 0) {
        fprintf(stderr, "certs_aged: %s\n", err);
        free(err);
        return 1;
    }
    return 0;
}
