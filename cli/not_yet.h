/*
 * Placeholder for subcommands whose issue has not landed: says so plainly.
 */
#ifndef PGW_CLI_NOT_YET_H
#define PGW_CLI_NOT_YET_H

int pgw_cli_not_yet(const char *name, int argc, char **argv);

#endif
