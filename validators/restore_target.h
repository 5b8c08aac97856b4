/*
 * Recovery targets, shared by PostgresRestore.spec.target and
 * PostgresCluster.spec.bootstrap.restore.target: at most one of time (RFC 3339,
 * not in the future), lsn (X/X), xid (positive integer), name (restore point)
 * or immediate: true. None means "replay to the end of the archived WAL".
 */
#ifndef PGW_VALIDATORS_RESTORE_TARGET_H
#define PGW_VALIDATORS_RESTORE_TARGET_H

#include <jansson.h>

#include "common/errors.h"
#include "common/request.h"

void pgw_restore_target_validate(const json_t *target, const char *path, const struct pgw_request_ctx *ctx,
                                 struct pgw_errors *errs);

#endif
