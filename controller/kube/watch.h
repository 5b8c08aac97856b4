/*
 * List+watch of one resource (DESIGN.md §6), after client-go's reflector.
 *
 * A watch thread LISTs (paginated, `limit`/`continue`), then WATCHes from the
 * list's resourceVersion with allowWatchBookmarks=true and a server-side
 * timeoutSeconds, and keeps the last resourceVersion seen (from events and
 * BOOKMARKs) so that a dropped connection resumes where it stopped.
 *   - 410 Gone (as HTTP status or as an ERROR event) means the version is too
 *     old: list again. A relist compares with what we had and reports objects
 *     that vanished meanwhile as DELETED, then calls on_synced.
 *   - Connection errors and other failures wait with exponential backoff
 *     (0.8 s doubling to 30 s, jittered) before trying again.
 *   - An unreadable event line means an event may be lost: list again.
 *
 * Callbacks run on the watch thread; objects are borrowed for the call
 * (json_incref to keep one). List items get apiVersion and kind filled in.
 */
#ifndef PGW_CONTROLLER_KUBE_WATCH_H
#define PGW_CONTROLLER_KUBE_WATCH_H

#include "controller/kube/kclient.h"
#include "controller/kube/watch_stream.h"

struct pgw_watch_handlers {
    /* type: PGW_WATCH_ADDED, _MODIFIED or _DELETED (a DELETED object is the last state we knew). */
    void (*on_event)(void *ctx, enum pgw_watch_type type, json_t *object);
    /* After every (re)list has been delivered. */
    void (*on_synced)(void *ctx);
    void *ctx;
};

struct pgw_watch_options {
    const struct pgw_resource *resource;
    const char *namespace_;              /* NULL or "": all namespaces */
    const char *label_selector;          /* may be NULL */
    long page_size;                      /* LIST limit; 0 → 500 */
    int timeout_seconds;                 /* WATCH timeoutSeconds; 0 → 300 */
    double backoff_initial, backoff_max; /* 0 → 0.8 s / 30 s */
    void (*transform)(json_t *obj);      /* NULL, or trims each object in place before it is stored and handed on */
};

struct pgw_watch_stats {
    unsigned long lists;    /* completed (re)lists */
    unsigned long watches;  /* WATCH requests made */
    unsigned long gone;     /* 410s seen */
    unsigned long failures; /* failed requests and broken streams */
};

struct pgw_watch;

/* Starts the thread. Strings in opts are copied; client and handlers must outlive the watch. NULL on failure. */
struct pgw_watch *pgw_watch_start(struct pgw_kclient *c, const struct pgw_watch_options *opts, const struct pgw_watch_handlers *h);
/* Stops the thread (within about a second), joins and frees. */
void pgw_watch_stop(struct pgw_watch *w);
struct pgw_watch_stats pgw_watch_get_stats(struct pgw_watch *w);

#endif
