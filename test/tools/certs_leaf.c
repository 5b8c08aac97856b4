/*
 * certs_leaf DIR: issues a new serving certificate (tls.crt, tls.key) in DIR
 * signed by the CA already there (ca.crt, ca.key), replacing any serving
 * certificate DIR holds. For tests that rotate the leaf but keep the CA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "certs/certs.h"
#include "common/xalloc.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: certs_leaf DIR\n");
        return 2;
    }
    struct pgw_certs_options opts = {
        .service = "pgwarden-webhook", .namespace = "pgwarden-system", .ca_days = 3650, .leaf_days = 365};
    char *crt = pgw_asprintf("%s/tls.crt", argv[1]), *key = pgw_asprintf("%s/tls.key", argv[1]);
    unlink(crt); /* pgw_certs_ensure keeps a good CA and issues a leaf where none is */
    unlink(key);
    free(crt);
    free(key);
    char *err = NULL;
    int changed = 0;
    if (pgw_certs_ensure(argv[1], &opts, &changed, &err) != 0) {
        fprintf(stderr, "certs_leaf: %s\n", err);
        free(err);
        return 1;
    }
    return 0;
}
