/*
 * Subcommands whose issues have not landed yet. Each says so plainly.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static int not_yet(const char *name, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: pgwarden %s\n\nNot available in this build yet.\n", name);
        return 0;
    }
    fprintf(stderr, "pgwarden %s: not available in this build yet\n", name);
    return 2;
}

int pgw_cmd_admit(int argc, char **argv)
{
    return not_yet("admit", argc, argv);
}

int pgw_cmd_render(int argc, char **argv)
{
    return not_yet("render", argc, argv);
}

int pgw_cmd_controller(int argc, char **argv)
{
    return not_yet("controller", argc, argv);
}

int pgw_cmd_certs(int argc, char **argv)
{
    return not_yet("certs", argc, argv);
}

int pgw_cmd_serve(int argc, char **argv)
{
    return not_yet("serve", argc, argv);
}
