/*
 * The reflector loop; see watch.h. The store is a jansson object keyed by
 * "namespace/name" holding the last object seen, which is what a relist
 * compares against to find deletions missed while disconnected.
 */
#include "controller/kube/watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "controller/kube/backoff.h"
#include "controller/kube/ratelimit.h"

struct pgw_watch {
    struct pgw_kclient *client;
    const struct pgw_resource *resource;
    char *namespace_, *label_selector;
    long page_size;
    int timeout_seconds;
    void (*transform)(json_t *obj);
    struct pgw_watch_handlers h;
    struct pgw_backoff backoff;
    json_t *store;
    char *rv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int stopping;
    struct pgw_watch_stats stats;
    /* per watch request */
    int need_list;
    int stream_failed;
    unsigned long events_seen;
};

static char *store_key(json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    if (name == NULL)
        return NULL;
    return pgw_asprintf("%s/%s", ns != NULL ? ns : "", name);
}

static const char *rv_of(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void set_rv(struct pgw_watch *w, const char *rv)
{
    if (rv == NULL || rv[0] == '\0')
        return;
    free(w->rv);
    w->rv = pgw_strdup(rv);
}

static void bump(struct pgw_watch *w, unsigned long *counter)
{
    pthread_mutex_lock(&w->lock);
    ++*counter;
    pthread_mutex_unlock(&w->lock);
}

static void emit(struct pgw_watch *w, enum pgw_watch_type type, json_t *obj)
{
    if (w->h.on_event != NULL)
        w->h.on_event(w->h.ctx, type, obj);
}

/* Sleeps up to `seconds` unless stopped. */
static void pause_for(struct pgw_watch *w, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double frac = (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec += (time_t)frac;
    ts.tv_nsec = (long)((frac - (double)(time_t)frac) * 1e9);
    pthread_mutex_lock(&w->lock);
    while (!atomic_load(&w->stopping) && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
        ;
    pthread_mutex_unlock(&w->lock);
}

static void fail_and_wait(struct pgw_watch *w, const char *what, const struct pgw_kresult *res)
{
    bump(w, &w->stats.failures);
    double delay = pgw_backoff_next(&w->backoff);
    json_t *fields = pgw_json_pack("{s:s,s:s,s:I,s:f}", "resource", w->resource->plural, "op", what, "status",
                                   (json_int_t)(res != NULL ? res->http_status : 0), "retryIn", delay);
    if (res != NULL && res->message != NULL)
        json_object_set_new(fields, "error", json_string(res->message));
    pgw_log(PGW_LOG_WARN, "watch failed; backing off", fields);
    pause_for(w, delay);
}

/* The server no longer has our resourceVersion (410 Gone: compaction, or a restarted
 * apiserver's fresh watch cache): list again. Logged, as it is the one sign of it. */
static void expired(struct pgw_watch *w)
{
    bump(w, &w->stats.gone);
    w->need_list = 1;
    pgw_log(PGW_LOG_INFO, "watch expired (410 Gone); listing again",
            pgw_json_pack("{s:s,s:s}", "resource", w->resource->plural, "resourceVersion", w->rv != NULL ? w->rv : ""));
}

/* LIST everything and reconcile the store with it. Returns 0, or the failed outcome. */
static int relist(struct pgw_watch *w)
{
    struct pgw_klist_options lo = {.label_selector = w->label_selector, .limit = w->page_size};
    struct pgw_kresult res;
    int rc = pgw_kclient_list_all(w->client, w->resource, w->namespace_, &lo, &res);
    if (rc != PGW_K_OK) {
        if (rc == PGW_K_GONE)
            bump(w, &w->stats.gone);
        fail_and_wait(w, "list", &res);
        pgw_kresult_dispose(&res);
        return rc;
    }
    char api_version[128];
    pgw_resource_api_version(w->resource, api_version, sizeof(api_version));
    json_t *fresh = json_object(), *item;
    size_t i;
    json_array_foreach(json_object_get(res.body, "items"), i, item)
    {
        char *key = store_key(item);
        if (key == NULL)
            continue;
        if (json_object_get(item, "kind") == NULL)
            json_object_set_new(item, "kind", json_string(w->resource->kind));
        if (json_object_get(item, "apiVersion") == NULL)
            json_object_set_new(item, "apiVersion", json_string(api_version));
        if (w->transform != NULL)
            w->transform(item);
        json_t *old = json_object_get(w->store, key);
        json_object_set(fresh, key, item);
        if (old == NULL) {
            emit(w, PGW_WATCH_ADDED, item);
        } else {
            const char *a = rv_of(old), *b = rv_of(item);
            if (a == NULL || b == NULL || strcmp(a, b) != 0)
                emit(w, PGW_WATCH_MODIFIED, item);
        }
        free(key);
    }
    const char *key;
    json_t *old;
    json_object_foreach(w->store, key, old)
    {
        if (json_object_get(fresh, key) == NULL)
            emit(w, PGW_WATCH_DELETED, old);
    }
    json_decref(w->store);
    w->store = fresh;
    set_rv(w, json_string_value(json_object_get(json_object_get(res.body, "metadata"), "resourceVersion")));
    pgw_kresult_dispose(&res);
    bump(w, &w->stats.lists);
    pgw_backoff_reset(&w->backoff);
    if (w->h.on_synced != NULL)
        w->h.on_synced(w->h.ctx);
    return 0;
}

static int on_event(void *ctx, enum pgw_watch_type type, json_t *object)
{
    struct pgw_watch *w = ctx;
    ++w->events_seen;
    if (type == PGW_WATCH_ERROR) {
        long code = (long)json_integer_value(json_object_get(object, "code"));
        if (code == 410) {
            expired(w);
        } else {
            w->stream_failed = 1;
        }
        return 1;
    }
    set_rv(w, rv_of(object));
    if (type == PGW_WATCH_BOOKMARK)
        return 0;
    char *key = store_key(object);
    if (key == NULL)
        return 0;
    if (w->transform != NULL)
        w->transform(object);
    if (type == PGW_WATCH_DELETED)
        json_object_del(w->store, key);
    else
        json_object_set(w->store, key, object);
    free(key);
    emit(w, type, object);
    return 0;
}

struct st_stream_ctx_t {
    struct pgw_watch *w;
    struct pgw_watch_stream *parser;
};

static int on_data(void *arg, const char *data, size_t len)
{
    struct st_stream_ctx_t *s = arg;
    int rc = pgw_watch_stream_feed(s->parser, data, len);
    if (rc == 1)
        return 1; /* an ERROR event ended it */
    if (rc != PGW_WATCH_STREAM_OK) {
        pgw_log(PGW_LOG_WARN, "unreadable watch event; listing again",
                pgw_json_pack("{s:s,s:i}", "resource", s->w->resource->plural, "code", rc));
        s->w->need_list = 1;
        return 1;
    }
    return atomic_load(&s->w->stopping);
}

static int should_stop(void *arg)
{
    struct st_stream_ctx_t *s = arg;
    return atomic_load(&s->w->stopping);
}

static void watch_once(struct pgw_watch *w)
{
    char *path = pgw_kclient_path(w->resource, w->namespace_, NULL, NULL);
    char *rv = pgw_kclient_escape(w->rv != NULL ? w->rv : "");
    char *query =
        pgw_asprintf("%s?watch=true&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d", path, rv, w->timeout_seconds);
    free(rv);
    free(path);
    if (w->label_selector != NULL) {
        char *sel = pgw_kclient_escape(w->label_selector);
        char *q = pgw_asprintf("%s&labelSelector=%s", query, sel);
        free(sel);
        free(query);
        query = q;
    }
    struct st_stream_ctx_t s = {.w = w, .parser = pgw_watch_stream_new(0, on_event, w)};
    w->stream_failed = 0;
    w->events_seen = 0;
    bump(w, &w->stats.watches);
    double started = pgw_monotonic_now(NULL);
    struct pgw_kresult res;
    int rc = pgw_kclient_stream(w->client, query, on_data, should_stop, &s, w->timeout_seconds + 30, &res);
    int cut = pgw_watch_stream_pending(s.parser) != 0;
    pgw_watch_stream_free(s.parser);
    free(query);
    if (atomic_load(&w->stopping)) {
        /* nothing */
    } else if (rc == PGW_K_GONE) {
        expired(w);
    } else if (w->need_list) {
        /* 410 as an ERROR event, or an unreadable event: relist now */
    } else if (rc != PGW_K_OK || w->stream_failed || cut) {
        fail_and_wait(w, "watch", &res);
    } else if (w->events_seen == 0 && pgw_monotonic_now(NULL) - started < 1.0) {
        fail_and_wait(w, "watch closed at once", &res); /* never spin on a server that hangs up */
    } else {
        pgw_backoff_reset(&w->backoff);
    }
    pgw_kresult_dispose(&res);
}

static void *run(void *arg)
{
    struct pgw_watch *w = arg;
    w->need_list = 1;
    while (!atomic_load(&w->stopping)) {
        if (w->need_list) {
            if (relist(w) != 0)
                continue;
            w->need_list = 0;
        }
        watch_once(w);
    }
    return NULL;
}

struct pgw_watch *pgw_watch_start(struct pgw_kclient *c, const struct pgw_watch_options *opts, const struct pgw_watch_handlers *h)
{
    struct pgw_watch *w = pgw_calloc(1, sizeof(*w));
    w->client = c;
    w->resource = opts->resource;
    w->namespace_ = opts->namespace_ != NULL && opts->namespace_[0] != '\0' ? pgw_strdup(opts->namespace_) : NULL;
    w->label_selector = opts->label_selector != NULL && opts->label_selector[0] != '\0' ? pgw_strdup(opts->label_selector) : NULL;
    w->page_size = opts->page_size > 0 ? opts->page_size : 500;
    w->transform = opts->transform;
    w->timeout_seconds = opts->timeout_seconds > 0 ? opts->timeout_seconds : 300;
    w->h = *h;
    pgw_backoff_init(&w->backoff, opts->backoff_initial, opts->backoff_max, NULL, NULL);
    w->store = json_object();
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        json_decref(w->store);
        free(w->namespace_);
        free(w->label_selector);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void pgw_watch_stop(struct pgw_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stopping, 1);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    json_decref(w->store);
    free(w->rv);
    free(w->namespace_);
    free(w->label_selector);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

struct pgw_watch_stats pgw_watch_get_stats(struct pgw_watch *w)
{
    pthread_mutex_lock(&w->lock);
    struct pgw_watch_stats stats = w->stats;
    pthread_mutex_unlock(&w->lock);
    return stats;
}
