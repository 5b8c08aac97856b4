/*
 * Per-thread bump arena behind jansson's allocator; see json_arena.h.
 *
 * Each block carries a 16-byte header holding its size, so a free inside the
 * scope can poison exactly that block under AddressSanitizer (a bump arena
 * never reuses memory within a scope, so every use after free is caught). The
 * arena keeps one chunk between scopes, sized to what the last scope needed
 * but at most 4 MiB (a 200 KB pod's review needs 3), so a stream of reviews
 * neither maps nor faults in memory per review; a bigger one-off object (a
 * 12 MB review) does not stay pinned.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/json_arena.h"
#include "common/sanitizer.h"
#include "common/xalloc.h"

#define FIRST_CHUNK_BYTES (64 * 1024)
#define KEPT_CHUNK_MAX (4 * 1024 * 1024)
#define HEADER_BYTES 16

struct st_chunk_t {
    struct st_chunk_t *next; /* older chunk */
    size_t size;             /* bytes in data[] */
    size_t used;
    _Alignas(16) char data[];
};

struct st_arena_t {
    struct st_chunk_t *chunks; /* newest first; only one between scopes */
    unsigned depth;
};

static _Thread_local struct st_arena_t *tls_arena;
static _Thread_local unsigned long tls_chunks_made;
static pthread_key_t arena_key;
static pthread_once_t arena_key_once = PTHREAD_ONCE_INIT;

static struct st_chunk_t *chunk_new(size_t size, struct st_chunk_t *next)
{
    struct st_chunk_t *c = pgw_malloc(sizeof(*c) + size);
    ++tls_chunks_made;
    c->next = next;
    c->size = size;
    c->used = 0;
    pgw_asan_poison(c->data, size);
    return c;
}

static void chunk_free(struct st_chunk_t *c)
{
    pgw_asan_unpoison(c->data, c->size);
    free(c);
}

static void on_thread_exit(void *p)
{
    struct st_arena_t *a = p;
    while (a->chunks != NULL) {
        struct st_chunk_t *c = a->chunks;
        a->chunks = c->next;
        chunk_free(c);
    }
    free(a);
}

static void make_key(void)
{
    pthread_key_create(&arena_key, on_thread_exit);
}

static int owns(const struct st_arena_t *a, const void *p)
{
    for (const struct st_chunk_t *c = a->chunks; c != NULL; c = c->next)
        if ((const char *)p >= c->data && (const char *)p < c->data + c->size)
            return 1;
    return 0;
}

static void *arena_alloc(struct st_arena_t *a, size_t size)
{
    size_t need = HEADER_BYTES + ((size + 15) & ~(size_t)15);
    struct st_chunk_t *c = a->chunks;
    if (c->size - c->used < need) {
        size_t grow = c->size * 2;
        while (grow < need)
            grow *= 2;
        c = a->chunks = chunk_new(grow, c);
    }
    char *block = c->data + c->used;
    c->used += need;
    pgw_asan_unpoison(block, need);
    memcpy(block, &size, sizeof(size));
    pgw_asan_poison(block, HEADER_BYTES);
    return block + HEADER_BYTES;
}

static void *on_malloc(size_t size)
{
    struct st_arena_t *a = tls_arena;
    if (a != NULL && a->depth != 0)
        return arena_alloc(a, size);
    return malloc(size);
}

static void on_free(void *p)
{
    struct st_arena_t *a = tls_arena;
    if (p != NULL && a != NULL && a->depth != 0 && owns(a, p)) {
        size_t size;
        pgw_asan_unpoison((char *)p - HEADER_BYTES, HEADER_BYTES);
        memcpy(&size, (char *)p - HEADER_BYTES, sizeof(size));
        pgw_asan_poison((char *)p - HEADER_BYTES, HEADER_BYTES + size);
        return;
    }
    free(p);
}

void pgw_json_arena_install(void)
{
    json_set_alloc_funcs(on_malloc, on_free);
}

void pgw_json_arena_begin(void)
{
    struct st_arena_t *a = tls_arena;
    if (a == NULL) {
        pthread_once(&arena_key_once, make_key);
        a = pgw_calloc(1, sizeof(*a));
        a->chunks = chunk_new(FIRST_CHUNK_BYTES, NULL);
        pthread_setspecific(arena_key, a);
        tls_arena = a;
    }
    ++a->depth;
}

void pgw_json_arena_end(void)
{
    struct st_arena_t *a = tls_arena;
    if (a == NULL || a->depth == 0 || --a->depth != 0)
        return;
    if (a->chunks->next != NULL) {
        /* Outgrown: the next scope gets one chunk as big as this one needed (up to a cap), so a steady
         * stream of reviews neither maps nor faults in memory per review. */
        size_t total = 0;
        while (a->chunks != NULL) {
            struct st_chunk_t *c = a->chunks;
            a->chunks = c->next;
            total += c->size;
            chunk_free(c);
        }
        a->chunks = chunk_new(total < KEPT_CHUNK_MAX ? total : KEPT_CHUNK_MAX, NULL);
        return;
    }
    pgw_asan_poison(a->chunks->data, a->chunks->size);
    a->chunks->used = 0;
}

unsigned long pgw_json_arena_chunks_made(void)
{
    return tls_chunks_made;
}

char *pgw_json_dumps(const json_t *value, size_t flags)
{
    char *text = json_dumps(value, flags);
    struct st_arena_t *a = tls_arena;
    if (text == NULL || a == NULL || a->depth == 0) /* outside a scope json_dumps already malloc'd it */
        return text;
    char *copy = pgw_strdup(text);
    on_free(text);
    return copy;
}
