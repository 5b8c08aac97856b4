/*
 * Request-scoped memory for jansson values, the way h2o gives each request a
 * pool: between pgw_json_arena_begin() and pgw_json_arena_end() every jansson
 * allocation made by the calling thread comes from that thread's arena, frees
 * are no-ops, and end() takes it all back at once.
 *
 * Why: an admission review builds and drops a few thousand small values (the
 * parsed review, the edited copy, the patch, the response), and malloc/free
 * was over a third of its instructions.
 *
 * The rule for callers: no jansson value, and no text from json_dumps(), made
 * inside the scope may outlive it. Code that may run inside a scope calls
 * pgw_json_dumps() instead of json_dumps(), so the text is malloc'd. Other threads, and
 * this thread outside a scope, use malloc and free as before. Under
 * AddressSanitizer freed and reset arena memory is poisoned, so a value that
 * escapes the scope is reported where it is next touched.
 */
#ifndef PGW_COMMON_JSON_ARENA_H
#define PGW_COMMON_JSON_ARENA_H

#include <stddef.h>

#include <jansson.h>

/* Installs the arena-aware allocator in jansson. Call once, before threads start. */
void pgw_json_arena_install(void);

/* Opens a scope on this thread. Scopes nest; only the outermost end() resets. */
void pgw_json_arena_begin(void);
void pgw_json_arena_end(void);

/* json_dumps(), but the text is always malloc'd (inside a scope too): the caller frees it with free(). */
char *pgw_json_dumps(const json_t *value, size_t flags);

/* How many chunks this thread's arena has allocated so far (tests: a steady stream allocates none). */
unsigned long pgw_json_arena_chunks_made(void);

#endif
