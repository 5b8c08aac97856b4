/*
 * Validators: pure functions that collect every field error of an object.
 *
 * `object` is NULL on DELETE; `old_object` is NULL on CREATE. Validators never
 * call the API server: cross-object checks belong to the controller.
 */
#ifndef PGW_VALIDATORS_H
#define PGW_VALIDATORS_H

#include <jansson.h>

#include "common/errors.h"
#include "common/request.h"

typedef void (*pgw_validator_fn)(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                 struct pgw_errors *errs);

void pgw_validate_postgrescluster(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                  struct pgw_errors *errs);
/*
 * What only an admission request is judged by, never the object at rest (the
 * guard): the switchover and restart annotations (validators/cluster_operations.c).
 */
void pgw_validate_postgrescluster_request(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                          struct pgw_errors *errs);
void pgw_validate_postgresbackup(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                 struct pgw_errors *errs);
void pgw_validate_postgresrestore(const json_t *object, const json_t *old_object, const struct pgw_request_ctx *ctx,
                                  struct pgw_errors *errs);

#endif
