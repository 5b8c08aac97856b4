/*
 * Placeholder until the parameter catalog lands: accepts everything.
 */
#include "validators/pg_params.h"

void pgw_pg_params_validate(const json_t *params, int major, const char *path, struct pgw_errors *errs)
{
    (void)params;
    (void)major;
    (void)path;
    (void)errs;
}

int pgw_pg_param_bytes(int major, const char *name, const char *value, int64_t *bytes)
{
    (void)major;
    (void)name;
    (void)value;
    (void)bytes;
    return -1;
}
