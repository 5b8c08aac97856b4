/*
 * Fuzzes the watch-stream line parser with the property the watch depends
 * on: the events delivered do not depend on how the network chunked the
 * bytes.
 *
 * Input: the first byte sets the chunk-size pattern, the rest is the stream.
 * The stream is fed once whole and once in chunks of 1..16 bytes, both with a
 * small line cap (so the oversized-line path runs); the two event logs
 * (type and serialised object) must be identical.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_pack.h"
#include "controller/kube/watch_stream.h"

#define MAX_LINE 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st_log_t {
    json_t *events;
};

static int on_event(void *ctx, enum pgw_watch_type type, json_t *object)
{
    struct st_log_t *log = ctx;
    json_array_append_new(log->events, pgw_json_pack("[s,O]", pgw_watch_type_name(type), object));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pattern = data[0];
    const char *stream = (const char *)data + 1;
    size_t len = size - 1;

    struct st_log_t whole = {json_array()}, chunked = {json_array()};
    struct pgw_watch_stream *a = pgw_watch_stream_new(MAX_LINE, on_event, &whole);
    pgw_watch_stream_feed(a, stream, len);
    struct pgw_watch_stream *b = pgw_watch_stream_new(MAX_LINE, on_event, &chunked);
    for (size_t off = 0, i = 0; off < len; ++i) {
        size_t n = 1 + ((pattern >> (i % 8)) ^ i) % 16;
        if (n > len - off)
            n = len - off;
        pgw_watch_stream_feed(b, stream + off, n);
        off += n;
    }
    if (pgw_watch_stream_pending(a) > MAX_LINE || pgw_watch_stream_pending(b) > MAX_LINE)
        abort();
    if (!json_equal(whole.events, chunked.events)) {
        char *x = json_dumps(whole.events, 0), *y = json_dumps(chunked.events, 0);
        fprintf(stderr, "chunking changed the events:\nwhole:   %s\nchunked: %s\n", x, y);
        abort();
    }
    pgw_watch_stream_free(a);
    pgw_watch_stream_free(b);
    json_decref(whole.events);
    json_decref(chunked.events);
    return 0;
}
