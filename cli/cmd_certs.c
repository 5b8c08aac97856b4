/*
 * `pgwarden certs generate --service S --namespace N --out DIR [--ca-days N] [--days N]`
 *
 * Writes a fresh CA and serving certificate for installs that manage the
 * webhook certificate outside the server (a Secret, a GitOps repository), and
 * prints the caBundle (base64 of ca.crt) for the webhook configurations, so
 * that `caBundle: $(pgwarden certs generate ...)` works in a script.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/certs.h"
#include "certs/files.h"
#include "cli/commands.h"
#include "common/base64.h"
#include "common/xalloc.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: pgwarden certs generate --service NAME --namespace NAMESPACE --out DIR\n"
                "                               [--ca-days N] [--days N]\n\n"
                "Generates an ECDSA P-256 CA and a serving certificate it signs, for the Service\n"
                "NAME in NAMESPACE (SANs: NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc,\n"
                "NAME.NAMESPACE.svc.cluster.local, localhost, 127.0.0.1, ::1). Writes ca.crt,\n"
                "ca.key, tls.crt and tls.key into DIR (created if missing; keys are mode 0600) and\n"
                "prints the caBundle, the base64 of ca.crt, on stdout.\n\n"
                "options:\n"
                "  --service NAME        the webhook Service name\n"
                "  --namespace NAMESPACE its namespace\n"
                "  --out DIR             output directory\n"
                "  --ca-days N           CA lifetime in days (default 3650)\n"
                "  --days N              serving certificate lifetime in days (default 365)\n\n"
                "Exit 0 on success, 2 on usage or I/O errors.\n");
}

static int parse_days(const char *flag, const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 36500) {
        fprintf(stderr, "pgwarden certs generate: %s must be a number of days between 1 and 36500, got \"%s\"\n", flag, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int generate(int argc, char **argv)
{
    static const struct option longopts[] = {{"service", required_argument, NULL, 's'},
                                             {"namespace", required_argument, NULL, 'n'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"ca-days", required_argument, NULL, 'C'},
                                             {"days", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct pgw_certs_options opts = {.ca_days = 3650, .leaf_days = 365};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:n:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            opts.service = optarg;
            break;
        case 'n':
            opts.namespace = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'C':
            if (parse_days("--ca-days", optarg, &opts.ca_days) != 0)
                return 2;
            break;
        case 'd':
            if (parse_days("--days", optarg, &opts.leaf_days) != 0)
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "pgwarden certs generate: unexpected argument \"%s\" (see -h)\n", argv[optind]);
        return 2;
    }
    if (opts.service == NULL || opts.namespace == NULL || out == NULL || *out == '\0') {
        fprintf(stderr, "pgwarden certs generate: --service, --namespace and --out are required (see -h)\n");
        return 2;
    }
    char *err = NULL;
    if (pgw_certs_generate(out, &opts, &err) != 0) {
        fprintf(stderr, "pgwarden certs generate: %s\n", err);
        free(err);
        return 2;
    }
    char *ca_path = pgw_asprintf("%s/ca.crt", out);
    char *pem = pgw_certs_read_file(ca_path, &err);
    free(ca_path);
    if (pem == NULL) {
        fprintf(stderr, "pgwarden certs generate: %s\n", err);
        free(err);
        return 2;
    }
    size_t len = strlen(pem);
    char *b64 = pgw_base64_encode(pem, len);
    int rc = printf("%s\n", b64) < 0 || fflush(stdout) != 0 ? 2 : 0;
    if (rc != 0)
        fprintf(stderr, "pgwarden certs generate: cannot write the caBundle to stdout\n");
    free(b64);
    free(pem);
    return rc;
}

int pgw_cmd_certs(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "generate") == 0)
        return generate(argc - 1, argv + 1);
    fprintf(stderr, "pgwarden certs: unknown subcommand \"%s\" (see -h)\n", argv[1]);
    return 2;
}
