#include "cli/options.h"

#include <stdio.h>
#include <stdlib.h>

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
