#include "cli/not_yet.h"

#include <stdio.h>
#include <string.h>

int pgw_cli_not_yet(const char *name, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: pgwarden %s\n\nNot available in this build yet.\n", name);
        return 0;
    }
    fprintf(stderr, "pgwarden %s: not available in this build yet\n", name);
    return 2;
}
