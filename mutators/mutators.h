/*
 * Mutators: pure functions that edit a copy of an object in place.
 *
 * They never build patches (common/jsonpatch.c diffs before→after) and never do
 * I/O. Each default is applied only where the user left the field unset, so a
 * second run over the result changes nothing. A mutator may add warnings, and
 * errors only when the object cannot be defaulted at all.
 */
#ifndef PGW_MUTATORS_H
#define PGW_MUTATORS_H

#include <jansson.h>

#include "common/errors.h"
#include "common/request.h"

typedef void (*pgw_mutator_fn)(json_t *object, const struct pgw_request_ctx *ctx, struct pgw_errors *errs);

void pgw_mutate_pod(json_t *pod, const struct pgw_request_ctx *ctx, struct pgw_errors *errs);
/*
 * The copy pgw_mutate_pod edits, without copying the whole pod: the root,
 * metadata, metadata.annotations, spec, spec.containers and spec.volumes are
 * shallow copies (the only nodes the injectors change: they set keys there and
 * append new containers and volumes); every other node is shared with `pod`
 * and only read. Shared nodes also let the differ skip them by identity.
 * test_pod_mutator checks on every case that `pod` stays unchanged and that
 * the result equals mutating a deep copy. Caller decrefs.
 */
json_t *pgw_pod_copy_for_edit(const json_t *pod);
void pgw_mutate_postgrescluster(json_t *cluster, const struct pgw_request_ctx *ctx, struct pgw_errors *errs);
void pgw_mutate_postgresbackup(json_t *backup, const struct pgw_request_ctx *ctx, struct pgw_errors *errs);
void pgw_mutate_postgresrestore(json_t *restore, const struct pgw_request_ctx *ctx, struct pgw_errors *errs);

#endif
