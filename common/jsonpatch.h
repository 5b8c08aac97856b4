/*
 * The one JSON Patch (RFC 6902) producer of the project.
 *
 * Mutators never build patches: they edit a copy of the object, and this differ
 * turns before→after into add/remove/replace operations, with JSON Pointer
 * escaping (RFC 6901: "~" → "~0", "/" → "~1"). Applying the result to `before`
 * (as kube-apiserver does with evanphx/json-patch) yields exactly `after`.
 */
#ifndef PGW_COMMON_JSONPATCH_H
#define PGW_COMMON_JSONPATCH_H

#include <jansson.h>

/*
 * Returns a new JSON array of operations (empty when equal). The caller decrefs it.
 * Operation values hold references to subtrees of `after` instead of copies:
 * do not edit `after` while the patch is in use (decref'ing it is fine).
 */
json_t *pgw_jsonpatch_diff(const json_t *before, const json_t *after);

/* Appends the RFC 6901 escaped form of `token` to the pointer `base`. malloc'd; caller frees. */
char *pgw_jsonpointer_append(const char *base, const char *token);

#endif
