/*
 * Newline-delimited JSON watch events (contract in watch_stream.h).
 *
 * Why a separate, pure parser: the network splits and merges events at any
 * byte, so reassembly is where bugs hide; pure code can be fed arbitrary
 * chunks by unit tests and the fuzzer. An oversized or unreadable line is
 * reported and skipped, and the watch restarts, since that event is lost.
 */
#include "controller/kube/watch_stream.h"

#include <string.h>

#include "common/json_read.h"
#include "common/xalloc.h"

struct pgw_watch_stream {
    size_t max_line;
    pgw_watch_stream_cb cb;
    void *ctx;
    char *buf; /* the start of an incomplete line */
    size_t len, cap;
    int skipping; /* the current line went over max_line: drop bytes up to the next newline */
    int stop;     /* the callback's non-zero value, if any */
};

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *pgw_watch_type_name(enum pgw_watch_type type)
{
    return (unsigned)type < 5 ? type_names[type] : "UNKNOWN";
}

struct pgw_watch_stream *pgw_watch_stream_new(size_t max_line, pgw_watch_stream_cb cb, void *ctx)
{
    struct pgw_watch_stream *s = pgw_calloc(1, sizeof(*s));
    s->max_line = max_line != 0 ? max_line : PGW_WATCH_STREAM_DEFAULT_MAX_LINE;
    s->cb = cb;
    s->ctx = ctx;
    return s;
}

void pgw_watch_stream_free(struct pgw_watch_stream *s)
{
    if (s == NULL)
        return;
    free(s->buf);
    free(s);
}

size_t pgw_watch_stream_pending(const struct pgw_watch_stream *s)
{
    return s->len;
}

/* One complete line (without its newline). Returns an error code; a callback that stops sets s->stop. */
static int on_line(struct pgw_watch_stream *s, const char *line, size_t len)
{
    size_t i = 0;
    while (i != len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        ++i;
    if (i == len)
        return PGW_WATCH_STREAM_OK; /* blank line */
    json_error_t jerr;
    json_t *event = pgw_json_read(line, len, &jerr); /* events are objects: anything else is refused below */
    if (event == NULL || !json_is_object(event)) {
        json_decref(event);
        return PGW_WATCH_STREAM_BAD_JSON;
    }
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *object = json_object_get(event, "object");
    int ret = PGW_WATCH_STREAM_BAD_EVENT;
    if (type != NULL && json_is_object(object)) {
        for (int t = 0; t != 5; ++t) {
            if (strcmp(type, type_names[t]) == 0) {
                ret = PGW_WATCH_STREAM_OK;
                s->stop = s->cb(s->ctx, (enum pgw_watch_type)t, object);
                break;
            }
        }
    }
    json_decref(event);
    return ret;
}

static void carry(struct pgw_watch_stream *s, const char *data, size_t len)
{
    if (s->len + len > s->cap) {
        size_t cap = s->cap != 0 ? s->cap : 4096;
        while (cap < s->len + len)
            cap *= 2;
        s->buf = pgw_realloc(s->buf, cap);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
}

/* Forgets the carried line and, when it grew big, its buffer too. */
static void drop_carry(struct pgw_watch_stream *s)
{
    s->len = 0;
    if (s->cap > (1u << 20)) {
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
}

int pgw_watch_stream_feed(struct pgw_watch_stream *s, const char *data, size_t len)
{
    int first_error = PGW_WATCH_STREAM_OK;
    while (len != 0) {
        const char *nl = memchr(data, '\n', len);
        size_t part = nl != NULL ? (size_t)(nl - data) : len;
        int ret = PGW_WATCH_STREAM_OK;
        if (s->skipping) {
            if (nl != NULL)
                s->skipping = 0;
        } else if (s->len + part > s->max_line) {
            drop_carry(s);
            s->skipping = nl == NULL;
            ret = PGW_WATCH_STREAM_TOO_LONG;
        } else if (nl == NULL) {
            carry(s, data, part);
        } else if (s->len == 0) {
            ret = on_line(s, data, part);
        } else {
            carry(s, data, part);
            ret = on_line(s, s->buf, s->len);
            drop_carry(s);
        }
        if (s->stop != 0) {
            int stop = s->stop;
            s->stop = 0;
            return stop;
        }
        if (ret != PGW_WATCH_STREAM_OK && first_error == PGW_WATCH_STREAM_OK)
            first_error = ret;
        if (nl == NULL)
            break;
        data = nl + 1;
        len -= part + 1;
    }
    return first_error;
}
