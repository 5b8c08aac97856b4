/*
 * Sidecar injection into database pods (DESIGN.md §5). Placeholder until the
 * injection issue fills it in: leaves the pod unchanged.
 */
#include "mutators/mutators.h"

void pgw_mutate_pod(json_t *pod, const struct pgw_request_ctx *ctx, struct pgw_errors *errs)
{
    (void)pod;
    (void)ctx;
    (void)errs;
}
