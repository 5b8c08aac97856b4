/*
 * AddressSanitizer hooks for code that manages its own memory (the JSON
 * arena): PGW_ASAN is 1 in sanitizer builds (gcc or clang), and the poison
 * helpers are no-ops elsewhere.
 */
#ifndef PGW_COMMON_SANITIZER_H
#define PGW_COMMON_SANITIZER_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define PGW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PGW_ASAN 1
#endif
#endif
#ifndef PGW_ASAN
#define PGW_ASAN 0
#endif

#if PGW_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Marks memory unusable (or usable again) for ASan. */
static inline void pgw_asan_poison(const void *p, size_t n)
{
#if PGW_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p, (void)n;
#endif
}

static inline void pgw_asan_unpoison(const void *p, size_t n)
{
#if PGW_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p, (void)n;
#endif
}

#endif
