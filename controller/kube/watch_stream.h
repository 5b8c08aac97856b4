/*
 * Parser for the body of a Kubernetes watch: one JSON event per line,
 *
 *     {"type":"ADDED","object":{...}}\n{"type":"BOOKMARK","object":{...}}\n
 *
 * delivered in whatever chunks the network produces. Pure and I/O-free so it
 * can be fed arbitrary bytes (and fuzzed): events split across chunks are
 * reassembled, several events in one chunk are all delivered, and a line that
 * grows past the cap is dropped with an error instead of eating memory.
 *
 * A bad line (oversized, not JSON, not an event) is reported and skipped; the
 * parser resynchronises at the next newline. The watch treats any error as a
 * reason to restart the watch, since an event it could not read is lost.
 */
#ifndef PGW_CONTROLLER_KUBE_WATCH_STREAM_H
#define PGW_CONTROLLER_KUBE_WATCH_STREAM_H

#include <stddef.h>
#include <jansson.h>

#define PGW_WATCH_STREAM_DEFAULT_MAX_LINE (16u << 20)

enum pgw_watch_type { PGW_WATCH_ADDED, PGW_WATCH_MODIFIED, PGW_WATCH_DELETED, PGW_WATCH_BOOKMARK, PGW_WATCH_ERROR };

enum {
    PGW_WATCH_STREAM_OK = 0,
    PGW_WATCH_STREAM_TOO_LONG = -1, /* a line exceeded max_line */
    PGW_WATCH_STREAM_BAD_JSON = -2, /* a line was not a JSON object */
    PGW_WATCH_STREAM_BAD_EVENT = -3 /* JSON, but no known "type" or no object "object" */
};

/* Called once per complete event. `object` is borrowed for the call (incref to keep it). Non-zero stops the feed
 * (and is returned by pgw_watch_stream_feed, so use values that are not error codes, e.g. 1). */
typedef int (*pgw_watch_stream_cb)(void *ctx, enum pgw_watch_type type, json_t *object);

struct pgw_watch_stream;

/* max_line 0 selects the default. Freed with pgw_watch_stream_free. */
struct pgw_watch_stream *pgw_watch_stream_new(size_t max_line, pgw_watch_stream_cb cb, void *ctx);
void pgw_watch_stream_free(struct pgw_watch_stream *s);

/*
 * Feeds `len` bytes. Returns PGW_WATCH_STREAM_OK, the first error met in this
 * chunk (parsing continues after it), or the callback's non-zero value (then
 * the rest of the chunk is dropped).
 */
int pgw_watch_stream_feed(struct pgw_watch_stream *s, const char *data, size_t len);
/* Bytes held of an incomplete line (a stream that ends with pending bytes was cut). */
size_t pgw_watch_stream_pending(const struct pgw_watch_stream *s);
const char *pgw_watch_type_name(enum pgw_watch_type type);

#endif
