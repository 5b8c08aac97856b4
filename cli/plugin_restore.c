/*
 * `kubectl pgwarden restore CLUSTER --into NEW [--to TIME | --lsn LSN |
 * --immediate] [--backup NAME]`: creates a PostgresRestore named NEW (the
 * same object as examples/restore-pitr.yaml), which makes the new cluster NEW
 * from CLUSTER's backups; CLUSTER is never touched (docs/backups.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/plugin.h"
#include "common/object.h"
#include "specs/actions.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden restore CLUSTER --into NEW [--to TIME | --lsn LSN | --immediate]\n"
                "                                [--backup BACKUP] [--instances N] [--wait [--timeout SECONDS]]\n\n"
                "Creates the PostgresRestore NEW: a new cluster NEW from CLUSTER's backups, replayed up to TIME\n"
                "(RFC 3339, e.g. 2026-12-05T00:10:00Z) or LSN, or only to the end of the backup (--immediate);\n"
                "with no target, to the end of the archived WAL. --backup picks the PostgresBackup to start\n"
                "from (default: the latest that fits). --instances sets the new cluster's instances (default:\n"
                "CLUSTER's). --wait waits until the restore Succeeded or Failed.\n");
}

int pgw_plugin_restore(struct pgw_plugin *p, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"into", required_argument, NULL, 'i'},    {"to", required_argument, NULL, 't'},
        {"lsn", required_argument, NULL, 'l'},     {"immediate", no_argument, NULL, 'I'},
        {"backup", required_argument, NULL, 'b'},  {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 'T'}, {"instances", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *into = NULL, *time = NULL, *lsn = NULL, *backup = NULL, *instances = NULL;
    int immediate = 0, wait = 0, c;
    double timeout = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            into = optarg;
            break;
        case 't':
            time = optarg;
            break;
        case 'l':
            lsn = optarg;
            break;
        case 'I':
            immediate = 1;
            break;
        case 'b':
            backup = optarg;
            break;
        case 'w':
            wait = 1;
            break;
        case 'T':
            timeout = atof(optarg);
            break;
        case 'n':
            instances = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || into == NULL) {
        if (into == NULL && optind + 1 == argc)
            fprintf(stderr, "error: --into NEW names the cluster to create\n\n");
        usage(stderr);
        return 2;
    }
    struct pgw_restore_request req = {
        .cluster = argv[optind], .into = into, .time = time, .lsn = lsn, .immediate = immediate, .backup = backup};
    if (instances != NULL) {
        char *end = NULL;
        req.instances = strtoll(instances, &end, 10);
        req.has_instances = 1;
        if (end == instances || *end != '\0') {
            fprintf(stderr, "error: --instances takes a number\n");
            return 2;
        }
    }
    const char *why;
    json_t *restore = pgw_action_restore(p->ns, &req, &why);
    if (restore == NULL) {
        fprintf(stderr, "error: at most one of --to, --lsn and --immediate\n");
        return 2;
    }
    int rc = pgw_plugin_create(p, "PostgresRestore", restore);
    json_decref(restore);
    if (rc != 0)
        return rc;
    printf("%s\n", into);
    fflush(stdout);
    if (wait) {
        json_t *done = pgw_plugin_wait_phase(p, "PostgresRestore", into, timeout);
        const char *phase = pgw_obj_str_at(done, "status.phase"), *msg = pgw_obj_str_at(done, "status.message");
        if (phase == NULL || strcmp(phase, "Succeeded") != 0) {
            if (done != NULL)
                fprintf(stderr, "error: restore %s failed%s%s\n", into, msg != NULL ? ": " : "", msg != NULL ? msg : "");
            rc = 1;
        } else {
            const char *to = pgw_obj_str_at(done, "status.restoredTo");
            fprintf(stderr, "restore %s Succeeded: cluster %s%s%s\n", into, pgw_obj_str_at(done, "status.clusterName") ?: into,
                    to != NULL ? ", restored to " : "", to != NULL ? to : "");
        }
        json_decref(done);
    }
    return rc;
}
