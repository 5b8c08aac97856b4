/*
 * Defaults for postgrescluster objects (DESIGN.md §3). Allow-all until the API issue fills it in.
 */
#include "mutators/mutators.h"

void pgw_mutate_postgrescluster(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    (void)object;
    (void)ctx;
    (void)errs;
}
