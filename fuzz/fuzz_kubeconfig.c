/*
 * Fuzzes the kubeconfig reader (clusters, users, contexts, base64 data, file
 * references resolved against a base directory).
 *
 * The base directory does not exist, so file references never read anything;
 * the parse itself is what is under test. Property: a successful parse
 * yields an https or http server URL, and a failed one an error message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "controller/kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pgw_kubeconfig kc;
    memset(&kc, 0, sizeof(kc));
    char *err = NULL;
    int rc = pgw_kubeconfig_parse(&kc, (const char *)data, size, "/nonexistent-pgwarden-fuzz", NULL, &err);
    if (rc == 0 && (kc.server == NULL || kc.server[0] == '\0')) {
        fprintf(stderr, "parse succeeded without a server\n");
        abort();
    }
    if (rc != 0 && err == NULL) {
        fprintf(stderr, "parse failed without an error message\n");
        abort();
    }
    free(err);
    pgw_kubeconfig_dispose(&kc);

    size_t n;
    char *text = malloc(size + 1); /* not strndup: ASan's strict_string_checks reads past unterminated input */
    memcpy(text, data, size);
    text[size] = '\0';
    free(pgw_base64_decode(text, &n));
    free(text);
    return 0;
}
