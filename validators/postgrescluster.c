/*
 * Validation rules for postgrescluster objects (DESIGN.md §3). Allow-all until the API issue fills it in.
 */
#include "validators/validators.h"

void pgw_validate_postgrescluster(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                       struct pgw_errors *errs)
{
    (void)object;
    (void)old_object;
    (void)ctx;
    (void)errs;
}
