/*
 * `kubectl pgwarden switchover CLUSTER INSTANCE [--wait]`: asks for a
 * switchover with the annotation pgwarden.io/switchover (docs/operations.md),
 * as `kubectl annotate` would. The webhook checks the request (an instance
 * that exists, not the primary, not a single instance) and its denial is
 * printed verbatim; the controller carries it out and removes the annotation.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/plugin.h"
#include "common/object.h"
#include "specs/operations.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden switchover CLUSTER INSTANCE [--wait [--timeout SECONDS]]\n\n"
                "Makes the replica INSTANCE (a pod name, e.g. main-1) the primary: sets the annotation\n" PGW_ANNOTATION_SWITCHOVER
                "=INSTANCE on the cluster. The controller waits until that replica may take over\n"
                "(ready, streaming, caught up), then Patroni hands the primary over. --wait waits until\n"
                "INSTANCE is the primary (default timeout 300 s).\n");
}

int pgw_plugin_switchover(struct pgw_plugin *p, int argc, char **argv)
{
    static const struct option longopts[] = {{"wait", no_argument, NULL, 'w'},
                                             {"timeout", required_argument, NULL, 'T'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int wait = 0, c;
    double timeout = 300;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wait = 1;
            break;
        case 'T':
            timeout = atof(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 2 != argc) {
        usage(stderr);
        return 2;
    }
    const char *cluster = argv[optind], *instance = argv[optind + 1];
    if (pgw_plugin_annotate_cluster(p, cluster, PGW_ANNOTATION_SWITCHOVER, instance) != 0)
        return 1;
    printf("switchover of %s to %s requested\n", cluster, instance);
    fflush(stdout);
    if (!wait)
        return 0;
    for (double waited = 0;; waited += 1) {
        json_t *obj = pgw_plugin_get_cluster(p, cluster);
        if (obj == NULL)
            return 1;
        const char *primary = pgw_obj_str_at(obj, "status.primary");
        int pending = pgw_obj_at(obj, "metadata.annotations") != NULL &&
                      json_object_get(pgw_obj_at(obj, "metadata.annotations"), PGW_ANNOTATION_SWITCHOVER) != NULL;
        int done = primary != NULL && strcmp(primary, instance) == 0 && !pending;
        json_decref(obj);
        if (done) {
            printf("%s is the primary of %s\n", instance, cluster);
            return 0;
        }
        if (waited >= timeout) {
            fprintf(stderr, "error: %s is not the primary of %s after %.0f s (see kubectl pgwarden status %s)\n", instance, cluster,
                    timeout, cluster);
            return 1;
        }
        struct timespec ts = {.tv_sec = 1};
        nanosleep(&ts, NULL);
    }
}
