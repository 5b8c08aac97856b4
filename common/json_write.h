/*
 * Compact JSON text of a jansson value: the same bytes as
 * json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY), written
 * in one pass into one growing buffer. jansson's dumper escapes and validates
 * every string byte by byte through a callback; strings here are copied in
 * runs between the few bytes that need an escape. Admission responses are
 * mostly a base64 patch, so this is most of their serialisation cost.
 * test_json_write and fuzz_jsonpatch compare the output with json_dumps.
 */
#ifndef PGW_COMMON_JSON_WRITE_H
#define PGW_COMMON_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

/* The text (malloc'd, NUL-terminated; the caller frees) and its length in *len. */
char *pgw_json_write(const json_t *v, size_t *len);

#endif
