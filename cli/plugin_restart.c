/*
 * `kubectl pgwarden restart CLUSTER [INSTANCE|all]`: asks for a restart with
 * the annotation pgwarden.io/restart (docs/operations.md), as `kubectl
 * annotate` would. One instance: a replica is replaced, the primary is first
 * switched over. all: every instance, replicas first, one switchover. The
 * webhook's denial (an instance that does not exist) is printed verbatim.
 */
#include <string.h>

#include "cli/plugin.h"
#include "specs/operations.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden restart CLUSTER [INSTANCE|all]\n\n"
                "Restarts one instance (a pod name, e.g. main-1) or all of them (the default), one at a time\n"
                "and never more than one down: sets the annotation " PGW_ANNOTATION_RESTART "=INSTANCE|all on the\n"
                "cluster. Follow it with `kubectl pgwarden status CLUSTER` (then phase Running again).\n");
}

int pgw_plugin_restart(struct pgw_plugin *p, int argc, char **argv)
{
    if (pgw_plugin_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || argc > 3 || argv[1][0] == '-' || (argc == 3 && argv[2][0] == '-')) {
        usage(stderr);
        return 2;
    }
    const char *cluster = argv[1], *what = argc == 3 ? argv[2] : PGW_RESTART_ALL;
    if (pgw_plugin_annotate_cluster(p, cluster, PGW_ANNOTATION_RESTART, what) != 0)
        return 1;
    if (strcmp(what, PGW_RESTART_ALL) == 0)
        printf("restart of every instance of %s requested\n", cluster);
    else
        printf("restart of %s requested\n", what);
    return 0;
}
