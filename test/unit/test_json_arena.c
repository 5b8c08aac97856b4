/*
 * common/json_arena.c: jansson values made inside a scope come from the
 * thread's arena and are taken back at the outermost end; everything else is
 * malloc'd as before.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdint.h>

#include "common/json_arena.h"
#include "common/json_pack.h"
#include "common/sanitizer.h"

/* Two values made in a scope and never freed: the next scope hands out the first one's memory again. */
START_TEST(end_takes_everything_back)
{
    pgw_json_arena_begin();
    json_t *a = json_integer(1);
    json_t *b = json_integer(2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg((uintptr_t)b > (uintptr_t)a && (uintptr_t)b - (uintptr_t)a < 256, "bump allocation: %p then %p", (void *)a,
                  (void *)b);
    pgw_json_arena_end();

    pgw_json_arena_begin();
    json_t *c = json_integer(3);
    ck_assert_ptr_eq(c, a);
    ck_assert_int_eq(json_integer_value(c), 3);
    pgw_json_arena_end();
}
END_TEST

/* Outside a scope jansson mallocs: such a value is freed for real, also from inside a scope. */
START_TEST(outside_a_scope_is_malloc)
{
    pgw_json_arena_begin();
    json_t *in_arena = json_integer(1);
    pgw_json_arena_end();

    json_t *outside = json_string("kept");
    ck_assert_ptr_ne(outside, in_arena);
    pgw_json_arena_begin();
    json_t *again = json_integer(2);
    ck_assert_ptr_eq(again, in_arena); /* the reset did not touch `outside` */
    ck_assert_str_eq(json_string_value(outside), "kept");
    json_decref(outside); /* malloc'd: LSan reports a leak and ASan a bad free if this went wrong */
    pgw_json_arena_end();
}
END_TEST

/* An inner end leaves the outer scope's values alone. */
START_TEST(scopes_nest)
{
    pgw_json_arena_begin();
    json_t *outer = pgw_json_pack("{s:[i,i]}", "a", 1, 2);
    pgw_json_arena_begin();
    json_t *inner = json_integer(5);
    pgw_json_arena_end();
    json_t *after = json_integer(6);
    ck_assert_msg((uintptr_t)after > (uintptr_t)inner, "no reset at the inner end");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(outer, "a"), 1)), 2);
    json_decref(outer);
    pgw_json_arena_end();
}
END_TEST

/* Makes about `bytes` of small values in a scope and returns the first one's address. */
static void *scope_of(size_t bytes)
{
    pgw_json_arena_begin();
    json_t *arr = json_array();
    for (size_t made = 0; made < bytes; made += 64)
        json_array_append_new(arr, json_integer((json_int_t)made));
    ck_assert_int_eq(json_integer_value(json_array_get(arr, 1)), 64);
    json_decref(arr);
    pgw_json_arena_end();
    return arr;
}

/*
 * A scope bigger than the first chunk grows the arena; the next scopes get one
 * chunk that fits it, so the same work again allocates no memory and its
 * values land at the same addresses, review after review.
 */
START_TEST(outgrown_arena_keeps_one_chunk_that_fits)
{
    unsigned long before = pgw_json_arena_chunks_made();
    scope_of(300 * 1024);
    ck_assert_uint_gt(pgw_json_arena_chunks_made(), before + 1); /* it did outgrow the first chunk */
    void *first = scope_of(300 * 1024);
    unsigned long warm = pgw_json_arena_chunks_made();
    for (int i = 0; i != 3; ++i)
        ck_assert_ptr_eq(scope_of(300 * 1024), first);
    ck_assert_ptr_eq(scope_of(1024), first);
    ck_assert_uint_eq(pgw_json_arena_chunks_made(), warm);
}
END_TEST

/* Values far beyond the kept size (12 MB of strings) are fine; the arena then goes back to its cap. */
START_TEST(big_values_grow_the_arena)
{
    size_t n = 3 * 1024 * 1024;
    char *text = pgw_malloc(n);
    memset(text, 'x', n);
    pgw_json_arena_begin();
    json_t *arr = json_array();
    for (int i = 0; i != 4; ++i)
        json_array_append_new(arr, json_stringn(text, n));
    for (int i = 0; i != 20000; ++i)
        json_array_append_new(arr, json_integer(i));
    ck_assert_int_eq(json_array_size(arr), 20004);
    ck_assert_int_eq(json_string_length(json_array_get(arr, 3)), n);
    ck_assert_int_eq(json_integer_value(json_array_get(arr, 20003)), 19999);
    json_decref(arr);
    pgw_json_arena_end();
    free(text);

    void *first = scope_of(512 * 1024);
    unsigned long warm = pgw_json_arena_chunks_made();
    ck_assert_ptr_eq(scope_of(512 * 1024), first);
    ck_assert_uint_eq(pgw_json_arena_chunks_made(), warm);
}
END_TEST

/* pgw_json_dumps() text is malloc'd inside a scope and out: free() takes it (ASan checks). */
START_TEST(dumps_text_is_malloced)
{
    pgw_json_arena_begin();
    json_t *v = pgw_json_pack("{s:s}", "k", "v");
    char *text = pgw_json_dumps(v, JSON_COMPACT);
    json_decref(v);
    pgw_json_arena_end();
    ck_assert_str_eq(text, "{\"k\":\"v\"}");
    free(text);

    json_t *outside = json_integer(7); /* and outside a scope, where it is json_dumps' own text */
    text = pgw_json_dumps(outside, JSON_ENCODE_ANY);
    ck_assert_str_eq(text, "7");
    free(text);
    json_decref(outside);
}
END_TEST

static void *make_on_other_thread(void *arg)
{
    (void)arg;
    return json_integer(42);
}

/* Another thread's values are not the scope's: they survive its end. */
START_TEST(other_threads_are_untouched)
{
    pgw_json_arena_begin();
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, make_on_other_thread, NULL), 0);
    void *made = NULL;
    pthread_join(t, &made);
    pgw_json_arena_end();
    pgw_json_arena_begin();
    for (int i = 0; i != 1000; ++i)
        json_integer(i);
    pgw_json_arena_end();
    ck_assert_int_eq(json_integer_value(made), 42);
    json_decref(made);
}
END_TEST

#if PGW_ASAN
/* Under ASan freed and reset arena memory is poisoned, so an escaped value is caught where it is used. */
START_TEST(freed_and_reset_memory_is_poisoned)
{
    pgw_json_arena_begin();
    json_t *freed = json_integer(1);
    json_t *live = json_integer(2);
    ck_assert_int_eq(__asan_address_is_poisoned(live), 0);
    json_decref(freed);
    ck_assert_int_eq(__asan_address_is_poisoned(freed), 1);
    pgw_json_arena_end();
    ck_assert_int_eq(__asan_address_is_poisoned(live), 1);
}
END_TEST
#endif

int main(void)
{
    pgw_json_arena_install();
    Suite *s = suite_create("json_arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, end_takes_everything_back);
    tcase_add_test(tc, outside_a_scope_is_malloc);
    tcase_add_test(tc, scopes_nest);
    tcase_add_test(tc, outgrown_arena_keeps_one_chunk_that_fits);
    tcase_add_test(tc, big_values_grow_the_arena);
    tcase_add_test(tc, dumps_text_is_malloced);
    tcase_add_test(tc, other_threads_are_untouched);
#if PGW_ASAN
    tcase_add_test(tc, freed_and_reset_memory_is_poisoned);
#endif
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
