/* `pgwarden serve`: not available yet (see its issue). */
#include "cli/commands.h"
#include "cli/not_yet.h"

int pgw_cmd_serve(int argc, char **argv)
{
    return pgw_cli_not_yet("serve", argc, argv);
}
