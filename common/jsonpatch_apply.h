/*
 * The one JSON Patch (RFC 6902) applier of the project, with JSON Pointer
 * (RFC 6901) resolution. Used by `pgwarden admit` to turn a mutating
 * response into the defaulted object, exactly as kube-apiserver would.
 */
#ifndef PGW_COMMON_JSONPATCH_APPLY_H
#define PGW_COMMON_JSONPATCH_APPLY_H

#include <jansson.h>

/*
 * Applies `patch` (an array of operations: add, remove, replace, move, copy,
 * test) to a copy of `doc`. Returns the new document (caller decrefs), or NULL
 * with a message in *err (caller frees) naming the failing operation. `doc` is
 * never modified; a failed patch applies nothing.
 */
json_t *pgw_jsonpatch_apply(const json_t *doc, const json_t *patch, char **err);

#endif
