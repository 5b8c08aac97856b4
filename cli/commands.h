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

struct pgw_config;
struct pgw_controller;
/* Starts the controller as cfg->controller_mode says (off, on, auto). *out stays NULL when it does not run.
 * ca_file: the CA for webhook caBundle upkeep, or NULL. 0, or -1 after logging why. */
int pgw_cli_controller_start(const struct pgw_config *cfg, const char *ca_file, void (*on_ready)(void *, int), void *ready_ctx,
                             struct pgw_controller **out);

#endif
