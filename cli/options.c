#include "cli/options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"

int pgw_cli_load_config(struct pgw_config *cfg, const char *file)
{
    char *err = NULL;
    pgw_config_init_defaults(cfg);
    if (file == NULL)
        file = getenv("PGWARDEN_CONFIG");
    if ((file != NULL && pgw_config_apply_file(cfg, file, &err) != 0) || pgw_config_apply_env(cfg, &err) != 0) {
        fprintf(stderr, "pgwarden: configuration: %s\n", err);
        free(err);
        pgw_config_dispose(cfg);
        return -1;
    }
    pgw_log_set_level(cfg->log_level);
    return 0;
}

int pgw_cli_parse_settings(const char *command, int argc, char **argv, const struct option *longopts, const char *const *keys,
                           struct pgw_config *cfg)
{
    /* First pass: only --config and -h, so the file applies below the environment and flags. */
    const char *config_file = NULL;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config_file = argv[i] + 9;
    }
    if (pgw_cli_load_config(cfg, config_file) != 0)
        return -1;
    int c, index;
    char *err = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, &index)) != -1) {
        if (c != 0)
            goto fail;
        if (keys[index] != NULL && pgw_config_set(cfg, keys[index], optarg, &err) != 0) {
            fprintf(stderr, "pgwarden %s: %s\n", command, err);
            free(err);
            goto fail;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "pgwarden %s: unexpected argument \"%s\" (see -h)\n", command, argv[optind]);
        goto fail;
    }
    if (pgw_config_check(cfg, &err) != 0) {
        fprintf(stderr, "pgwarden %s: %s\n", command, err);
        free(err);
        goto fail;
    }
    pgw_log_set_level(cfg->log_level);
    return 0;
fail:
    pgw_config_dispose(cfg);
    return -1;
}
