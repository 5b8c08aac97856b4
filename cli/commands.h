/*
 * Subcommands of the pgwarden binary (DESIGN.md §1). Each takes the arguments
 * after its own name (argv[0] is the subcommand) and returns the exit code.
 */
#ifndef PGW_CLI_COMMANDS_H
#define PGW_CLI_COMMANDS_H

int pgw_cmd_serve(int argc, char **argv);
int pgw_cmd_review(int argc, char **argv);
int pgw_cmd_admit(int argc, char **argv);
int pgw_cmd_render(int argc, char **argv);
int pgw_cmd_certs(int argc, char **argv);
int pgw_cmd_controller(int argc, char **argv);

#endif
