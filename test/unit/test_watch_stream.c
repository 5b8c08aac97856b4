/*
 * Unit tests for controller/kube/watch_stream: the same byte stream cut at every
 * possible position (and byte by byte) yields the same events; several events
 * per chunk; blank lines and CRLF; oversized lines dropped with resync; bad
 * JSON and bad events reported and skipped; a callback that stops the feed;
 * and a deterministic pseudo-random fuzz that must never crash.
 */
#include "helpers.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "controller/kube/watch_stream.h"

struct collected {
    char log[4096]; /* "TYPE:name;" per event */
    int count;
    int stop_after; /* 0: never */
};

static int collect(void *ctx, enum pgw_watch_type type, json_t *object)
{
    struct collected *c = ctx;
    const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
    size_t used = strlen(c->log);
    snprintf(c->log + used, sizeof(c->log) - used, "%s:%s;", pgw_watch_type_name(type), name != NULL ? name : "-");
    ++c->count;
    return c->stop_after != 0 && c->count >= c->stop_after ? 1 : 0;
}

static const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
                             "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}}}\n"
                             "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\n"
                             "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"8\"}}}\n"
                             "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";
static const char expected[] = "ADDED:a;MODIFIED:a;BOOKMARK:-;DELETED:a;ERROR:-;";

START_TEST(every_split_point_gives_the_same_events)
{
    size_t n = strlen(stream);
    for (size_t cut = 0; cut <= n; ++cut) {
        struct collected c = {.log = ""};
        struct pgw_watch_stream *s = pgw_watch_stream_new(0, collect, &c);
        ck_assert_int_eq(pgw_watch_stream_feed(s, stream, cut), 0);
        ck_assert_int_eq(pgw_watch_stream_feed(s, stream + cut, n - cut), 0);
        ck_assert_msg(strcmp(c.log, expected) == 0, "cut %zu: %s", cut, c.log);
        ck_assert_uint_eq(pgw_watch_stream_pending(s), 0);
        pgw_watch_stream_free(s);
    }
}
END_TEST

START_TEST(byte_by_byte)
{
    struct collected c = {.log = ""};
    struct pgw_watch_stream *s = pgw_watch_stream_new(0, collect, &c);
    for (size_t i = 0; stream[i] != '\0'; ++i)
        ck_assert_int_eq(pgw_watch_stream_feed(s, stream + i, 1), 0);
    ck_assert_str_eq(c.log, expected);
    pgw_watch_stream_free(s);
}
END_TEST

START_TEST(partial_line_is_pending)
{
    struct collected c = {.log = ""};
    struct pgw_watch_stream *s = pgw_watch_stream_new(0, collect, &c);
    ck_assert_int_eq(pgw_watch_stream_feed(s, "{\"type\":\"ADDED\",", 16), 0);
    ck_assert_int_eq(c.count, 0);
    ck_assert_uint_eq(pgw_watch_stream_pending(s), 16);
    pgw_watch_stream_free(s);
}
END_TEST

static const struct {
    const char *input;
    int ret;
    const char *log;
} table[] = {
    {"\n\n  \r\n", PGW_WATCH_STREAM_OK, ""},
    {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\r\n", PGW_WATCH_STREAM_OK, "ADDED:x;"},
    {"not json\n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"y\"}}}\n", PGW_WATCH_STREAM_BAD_JSON, "ADDED:y;"},
    {"[1,2]\n", PGW_WATCH_STREAM_BAD_JSON, ""},
    {"{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}\n", PGW_WATCH_STREAM_BAD_JSON, ""},
    {"{\"type\":\"RENAMED\",\"object\":{}}\n", PGW_WATCH_STREAM_BAD_EVENT, ""},
    {"{\"type\":\"ADDED\",\"object\":[]}\n", PGW_WATCH_STREAM_BAD_EVENT, ""},
    {"{\"type\":\"ADDED\"}\n", PGW_WATCH_STREAM_BAD_EVENT, ""},
    {"{\"type\":5,\"object\":{}}\n", PGW_WATCH_STREAM_BAD_EVENT, ""},
    {"{\"object\":{}}\n{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"z\"}}}\n", PGW_WATCH_STREAM_BAD_EVENT,
     "DELETED:z;"},
};

START_TEST(table_of_lines)
{
    for (size_t i = 0; i != sizeof(table) / sizeof(table[0]); ++i) {
        struct collected c = {.log = ""};
        struct pgw_watch_stream *s = pgw_watch_stream_new(0, collect, &c);
        ck_assert_msg(pgw_watch_stream_feed(s, table[i].input, strlen(table[i].input)) == table[i].ret, "row %zu", i);
        ck_assert_msg(strcmp(c.log, table[i].log) == 0, "row %zu: %s", i, c.log);
        pgw_watch_stream_free(s);
    }
}
END_TEST

START_TEST(oversized_line_dropped_and_resynced)
{
    struct collected c = {.log = ""};
    struct pgw_watch_stream *s = pgw_watch_stream_new(64, collect, &c);
    char big[200];
    memset(big, 'x', sizeof(big));
    /* across chunks: 40 bytes carried, then 160 more overflow, then the rest of the line arrives later */
    ck_assert_int_eq(pgw_watch_stream_feed(s, big, 40), 0);
    ck_assert_int_eq(pgw_watch_stream_feed(s, big, 160), PGW_WATCH_STREAM_TOO_LONG);
    ck_assert_uint_eq(pgw_watch_stream_pending(s), 0);
    ck_assert_int_eq(pgw_watch_stream_feed(s, big, 100), 0); /* still inside the dropped line */
    const char *next = "yyy\n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\n";
    ck_assert_int_eq(pgw_watch_stream_feed(s, next, strlen(next)), 0);
    ck_assert_str_eq(c.log, "ADDED:ok;");
    /* a too-long line complete inside one chunk */
    char line[128];
    memset(line, 'z', sizeof(line));
    line[100] = '\n';
    ck_assert_int_eq(pgw_watch_stream_feed(s, line, 101), PGW_WATCH_STREAM_TOO_LONG);
    ck_assert_int_eq(pgw_watch_stream_feed(s, next + 4, strlen(next + 4)), 0);
    ck_assert_str_eq(c.log, "ADDED:ok;ADDED:ok;");
    pgw_watch_stream_free(s);
}
END_TEST

START_TEST(callback_stops_feed)
{
    struct collected c = {.log = "", .stop_after = 2};
    struct pgw_watch_stream *s = pgw_watch_stream_new(0, collect, &c);
    ck_assert_int_eq(pgw_watch_stream_feed(s, stream, strlen(stream)), 1);
    ck_assert_str_eq(c.log, "ADDED:a;MODIFIED:a;");
    pgw_watch_stream_free(s);
}
END_TEST

START_TEST(fuzz_never_crashes)
{
    /* Mutates the valid stream and feeds it in random chunks; only asserts sanity (no crash, bounded memory). */
    unsigned long state = 12345;
    size_t n = strlen(stream);
    char *buf = pgw_malloc(n * 2);
    for (int round = 0; round != 3000; ++round) {
        memcpy(buf, stream, n);
        memcpy(buf + n, stream, n);
        for (int k = 0; k != 8; ++k) {
            state = state * 6364136223846793005ul + 1442695040888963407ul;
            buf[(state >> 33) % (2 * n)] = (char)(state >> 17);
        }
        struct collected c = {.log = ""};
        struct pgw_watch_stream *s = pgw_watch_stream_new(128, collect, &c);
        size_t off = 0;
        while (off < 2 * n) {
            state = state * 6364136223846793005ul + 1442695040888963407ul;
            size_t len = 1 + (state >> 40) % 64;
            if (len > 2 * n - off)
                len = 2 * n - off;
            int rc = pgw_watch_stream_feed(s, buf + off, len);
            ck_assert(rc <= 0);
            ck_assert_uint_le(pgw_watch_stream_pending(s), 128);
            off += len;
        }
        ck_assert_int_le(c.count, 10);
        pgw_watch_stream_free(s);
    }
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watch_stream");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_split_point_gives_the_same_events);
    tcase_add_test(tc, byte_by_byte);
    tcase_add_test(tc, partial_line_is_pending);
    tcase_add_test(tc, table_of_lines);
    tcase_add_test(tc, oversized_line_dropped_and_resynced);
    tcase_add_test(tc, callback_stops_feed);
    tcase_add_test(tc, fuzz_never_crashes);
    suite_add_tcase(s, tc);
    return pgw_run_suite(s);
}
