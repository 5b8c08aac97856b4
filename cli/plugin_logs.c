/*
 * `kubectl pgwarden logs CLUSTER [INSTANCE] [-c CONTAINER] [-f]`: the logs of
 * the cluster's instances, through kubectl itself (`kubectl logs`), so
 * following several pods, reconnecting and the user's credentials all work as
 * kubectl's own. Without INSTANCE every instance's lines come, each prefixed
 * with its pod; the selector is the cluster's label plus the database
 * component, which leaves out the pods of backup Jobs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/plugin.h"
#include "common/xalloc.h"
#include "specs/pod_layout.h"

#define MAX_ARGS 32

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden logs CLUSTER [INSTANCE] [-c CONTAINER] [-f] [--tail N] [--since DURATION] [--previous]\n\n"
                "Prints the logs of the cluster's instances (every instance, each line prefixed with its pod,\n"
                "or only INSTANCE) by running `kubectl logs`; CONTAINER is postgres (Patroni and PostgreSQL,\n"
                "the default), pgbouncer, exporter or pgbackrest. $KUBECTL names kubectl if not on PATH.\n");
}

int pgw_plugin_logs(struct pgw_plugin *p, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"container", required_argument, NULL, 'c'},
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, 't'},
        {"since", required_argument, NULL, 's'},
        {"previous", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *container = PGW_POD_CONTAINER_POSTGRES, *tail = NULL, *since = NULL;
    int follow = 0, previous = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:fph", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            container = optarg;
            break;
        case 'f':
            follow = 1;
            break;
        case 't':
            tail = optarg;
            break;
        case 's':
            since = optarg;
            break;
        case 'p':
            previous = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        usage(stderr);
        return 2;
    }
    const char *cluster = argv[optind], *instance = argc - optind == 2 ? argv[optind + 1] : NULL;
    json_t *obj = pgw_plugin_get_cluster(p, cluster); /* a clear "not found" rather than "no resources" */
    if (obj == NULL)
        return 1;
    json_decref(obj);

    const char *kubectl = getenv("KUBECTL") != NULL && getenv("KUBECTL")[0] != '\0' ? getenv("KUBECTL") : "kubectl";
    char *selector = pgw_asprintf("%s=%s,app.kubernetes.io/component=database", PGW_POD_LABEL_CLUSTER, cluster);
    char *tail_arg = tail != NULL ? pgw_asprintf("--tail=%s", tail) : NULL,
         *since_arg = since != NULL ? pgw_asprintf("--since=%s", since) : NULL;
    const char *args[MAX_ARGS];
    int n = 0;
    args[n++] = kubectl;
    args[n++] = "logs";
    if (p->globals->kubeconfig != NULL) {
        args[n++] = "--kubeconfig";
        args[n++] = p->globals->kubeconfig;
    }
    if (p->globals->context != NULL) {
        args[n++] = "--context";
        args[n++] = p->globals->context;
    }
    args[n++] = "-n";
    args[n++] = p->ns;
    if (instance != NULL) {
        args[n++] = instance;
    } else {
        args[n++] = "-l";
        args[n++] = selector;
        args[n++] = "--prefix";
        args[n++] = "--max-log-requests=16"; /* an instance per stream when following; 16 is spec.instances' maximum */
    }
    args[n++] = "-c";
    args[n++] = container;
    if (follow)
        args[n++] = "-f";
    if (previous)
        args[n++] = "--previous";
    if (tail_arg != NULL)
        args[n++] = tail_arg;
    if (since_arg != NULL)
        args[n++] = since_arg;
    args[n] = NULL;
    fflush(NULL);
    execvp(kubectl, (char *const *)args);
    fprintf(stderr, "error: %s: %s (logs are read with kubectl; set $KUBECTL)\n", kubectl, strerror(errno));
    free(selector);
    free(tail_arg);
    free(since_arg);
    return 1;
}
