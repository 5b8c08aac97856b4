/*
 * `pgwarden review --path P < review.json`: the HTTPS pipeline on stdin/stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/read_all.h"
#include "common/xalloc.h"
#include "webhook/admission.h"

#define MAX_BODY (8u << 20)

int pgw_cmd_review(int argc, char **argv)
{
    static const struct option longopts[] = {{"path", required_argument, NULL, 'p'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *path = NULL, *config_file = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            path = optarg;
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'h':
            printf("usage: pgwarden review --path PATH [--config FILE] < review.json\n\n"
                   "Reads an AdmissionReview from stdin and writes the response to stdout, through\n"
                   "exactly the pipeline of the HTTPS server. Exit 0 when a response was written\n"
                   "(allowed or denied), 1 when the review was rejected as malformed, 2 on usage errors.\n\n"
                   "paths:\n");
            for (const pgw_admission_route_t *r = pgw_admission_routes; r->path != NULL; ++r)
                printf("  %s\n", r->path);
            return 0;
        default:
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "pgwarden review: --path is required (see -h)\n");
        return 2;
    }
    const pgw_admission_route_t *route = pgw_admission_route_find(path, strlen(path));
    if (route == NULL) {
        fprintf(stderr, "pgwarden review: unknown path \"%s\" (see -h)\n", path);
        return 2;
    }
    struct pgw_config cfg;
    if (pgw_cli_load_config(&cfg, config_file) != 0)
        return 2;

    size_t len = 0;
    char *body = pgw_read_all(stdin, MAX_BODY, &len);
    int rc;
    if (body == NULL) {
        fprintf(stderr, "pgwarden review: cannot read the request body from stdin: %m\n");
        rc = 1;
    } else if (len > MAX_BODY) {
        fprintf(stderr, "pgwarden review: request body exceeds 8 MiB\n");
        rc = 1;
    } else {
        struct pgw_admission_outcome out;
        pgw_admission_handle(route, body, len, &cfg, time(NULL), &out);
        fwrite(out.body, 1, out.body_len, stdout);
        fputc('\n', stdout);
        rc = out.http_status == 200 ? 0 : 1;
        free(out.body);
    }
    free(body);
    pgw_config_dispose(&cfg);
    return rc;
}
