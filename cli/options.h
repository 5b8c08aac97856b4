/*
 * Shared command-line plumbing: configuration loading in the documented order.
 */
#ifndef PGW_CLI_OPTIONS_H
#define PGW_CLI_OPTIONS_H

struct pgw_config;

/*
 * Defaults, then the config file (`file`, or $PGWARDEN_CONFIG when NULL), then
 * PGWARDEN_* environment. Flags are applied by the caller afterwards. Prints
 * errors to stderr. Returns 0 or -1 (cfg is then already disposed).
 */
int pgw_cli_load_config(struct pgw_config *cfg, const char *file);

struct option;

/*
 * The settings commands (serve, controller): loads the configuration in the
 * documented order, then applies every flag of `longopts` (all long-only,
 * has_arg required, except "help") as the config setting keys[i] names
 * (NULL: no setting, e.g. --config, already used). Also sets the log level.
 * Returns 0, 1 when -h/--help was given (the caller prints usage; cfg is
 * not loaded), or -1 after printing "pgwarden <command>: ..." (cfg disposed).
 */
int pgw_cli_parse_settings(const char *command, int argc, char **argv, const struct option *longopts, const char *const *keys,
                           struct pgw_config *cfg);

#endif
