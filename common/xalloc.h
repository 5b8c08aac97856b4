/*
 * Allocation helpers that abort on out-of-memory.
 *
 * A webhook that keeps running after a failed malloc would answer with partial
 * objects; aborting lets Kubernetes restart the replica and the other replica
 * serve. Everything returned is owned by the caller and released with free().
 */
#ifndef PGW_COMMON_XALLOC_H
#define PGW_COMMON_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *pgw_malloc(size_t size);
void *pgw_calloc(size_t count, size_t size);
void *pgw_realloc(void *ptr, size_t size);
char *pgw_strdup(const char *s);
char *pgw_strndup(const char *s, size_t n);
char *pgw_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *pgw_vasprintf(const char *fmt, va_list ap);

#endif
