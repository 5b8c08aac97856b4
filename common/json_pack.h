/*
 * A json_pack that cannot fail silently. jansson's json_pack returns NULL on a
 * format/argument mismatch (or a NULL string for "s"), and
 * json_object_set_new(x, "spec", NULL) then drops the field without a word.
 * pgw_json_pack reports the failure with the caller's file and line and
 * jansson's reason, then returns NULL as json_pack does, so a mistake shows up
 * in the log and in the tests instead of as a missing field.
 *
 * Use it for every pack; prefer several small named builders over one big
 * format string.
 */
#ifndef PGW_COMMON_JSON_PACK_H
#define PGW_COMMON_JSON_PACK_H

#include <jansson.h>

/* The function behind pgw_json_pack; call the macro. New reference, or NULL after reporting. */
json_t *pgw_json_pack_at(const char *file, int line, const char *fmt, ...);

/* How many packs failed since the process started (tests assert it stays 0). */
unsigned long pgw_json_pack_failures(void);

/* json_pack(fmt, ...) that reports file and line on failure. */
#define pgw_json_pack(...) pgw_json_pack_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
