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

#endif
