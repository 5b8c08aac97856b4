/*
 * pgwarden: entry point and subcommand dispatch (DESIGN.md §1).
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/plugin.h"
#include "common/json_arena.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", pgw_cmd_serve, "run the admission webhook (and the controller when a Kubernetes API is reachable)"},
    {"review", pgw_cmd_review, "answer one AdmissionReview from stdin through the webhook pipeline"},
    {"admit", pgw_cmd_admit, "validate and default manifests offline"},
    {"render", pgw_cmd_render, "print the child objects the controller would apply for a cluster"},
    {"certs", pgw_cmd_certs, "generate the webhook CA and serving certificate"},
    {"controller", pgw_cmd_controller, "run the controller only"},
    {"plugin", pgw_cmd_plugin, "the kubectl plugin's commands (the binary run as kubectl-pgwarden)"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: pgwarden <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i != sizeof(commands) / sizeof(commands[0]); ++i)
        fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "  %-11s %s\n\nEvery command accepts -h.\n", "version", "print the version");
}

/*
 * Allocations of 128 KiB and more (a large pod's request body, its parsed
 * strings, a big response) get their own mapping, returned to the system when
 * freed. glibc's default raises this threshold after the first such block is
 * freed and then serves the next ones from the heap, so RSS creeps up to the
 * largest burst of big requests seen (measured with scripts/soak).
 */
#define MMAP_THRESHOLD (128 * 1024)

int main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    pgw_json_arena_install();
    /* Installed as kubectl-pgwarden (a symlink), kubectl runs it as the plugin `kubectl pgwarden`. */
    const char *base = strrchr(argv[0], '/');
    if (strcmp(base != NULL ? base + 1 : argv[0], PGW_PLUGIN_NAME) == 0)
        return pgw_cmd_plugin(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        if (argc > 2 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
            printf("usage: pgwarden version\n\nPrints the version.\n");
            return 0;
        }
        printf("pgwarden %s\n", PGW_VERSION);
        return 0;
    }
    for (size_t i = 0; i != sizeof(commands) / sizeof(commands[0]); ++i)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pgwarden: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return 2;
}
