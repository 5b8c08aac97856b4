/*
 * `kubectl pgwarden backup CLUSTER [--type full|diff|incr] [--wait]`: creates
 * a PostgresBackup, the same object as examples/backup.yaml, and prints its
 * name. The controller runs it (docs/backups.md); --wait follows it to the end.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/plugin.h"
#include "common/object.h"
#include "common/xalloc.h"
#include "specs/actions.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: kubectl pgwarden backup CLUSTER [--type full|diff|incr] [--name NAME] [--wait [--timeout SECONDS]]\n\n"
                "Creates a PostgresBackup of the cluster (as `kubectl apply` of examples/backup.yaml would) and\n"
                "prints its name: NAME, or CLUSTER-TYPE-YYYYMMDDHHMMSS (UTC). --type defaults to full. With --wait\n"
                "it waits until the backup Succeeded (exit 0) or Failed (exit 1, with its message).\n");
}

int pgw_plugin_backup(struct pgw_plugin *p, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"type", required_argument, NULL, 't'},    {"name", required_argument, NULL, 'N'}, {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *type = "full", *name = NULL;
    int wait = 0, c;
    double timeout = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            type = optarg;
            break;
        case 'N':
            name = optarg;
            break;
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
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *cluster = argv[optind];
    if (!pgw_action_backup_type_ok(type)) {
        fprintf(stderr, "error: --type must be full, diff or incr\n");
        return 2;
    }
    json_t *obj = pgw_plugin_get_cluster(p, cluster);
    if (obj == NULL)
        return 1;
    json_decref(obj);
    char *generated = NULL;
    if (name == NULL)
        name = generated = pgw_action_backup_name(cluster, type, time(NULL));
    json_t *backup = pgw_action_backup(p->ns, cluster, type, name, 0);
    int rc = pgw_plugin_create(p, "PostgresBackup", backup);
    json_decref(backup);
    if (rc == 0) {
        printf("%s\n", name);
        fflush(stdout);
    }
    if (rc == 0 && wait) {
        json_t *done = pgw_plugin_wait_phase(p, "PostgresBackup", name, timeout);
        const char *phase = pgw_obj_str_at(done, "status.phase");
        if (phase == NULL || strcmp(phase, "Succeeded") != 0) {
            const char *msg = pgw_obj_str_at(done, "status.message");
            if (done != NULL)
                fprintf(stderr, "error: backup %s failed%s%s\n", name, msg != NULL ? ": " : "", msg != NULL ? msg : "");
            rc = 1;
        } else {
            const json_t *size = pgw_obj_at(done, "status.sizeBytes");
            char buf[32] = "";
            if (json_is_integer(size))
                pgw_plugin_format_bytes((long long)json_integer_value(size), buf, sizeof(buf));
            fprintf(stderr, "backup %s Succeeded: %s%s%s\n", name, pgw_obj_str_at(done, "status.backupLabel") ?: "",
                    buf[0] != '\0' ? ", " : "", buf);
        }
        json_decref(done);
    }
    free(generated);
    return rc;
}
