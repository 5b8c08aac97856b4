/*
 * Subcommands of the pgwarden binary (DESIGN.md §1). Each takes the arguments
 * after its own name (argv[0] is the subcommand) and returns the exit code.
 */
#ifndef PGW_CLI_COMMANDS_H
#define PGW_CLI_COMMANDS_H

struct pgw_kclient;

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
/* 1 when the configuration asks for the controller (on, or auto with a Kubernetes API), 0 when not, -1 when invalid. */
int pgw_cli_controller_wanted(const struct pgw_config *cfg);
/* A Kubernetes client from in-cluster config or --kubeconfig, or NULL (logged). Free with pgw_kclient_free. */
struct pgw_kclient *pgw_cli_kube_client(const struct pgw_config *cfg);

int pgw_cli_controller_start(const struct pgw_config *cfg, const char *ca_file, void (*on_ready)(void *, int), void *ready_ctx,
                             struct pgw_controller **out);

#endif
