/*
 * The work queue (guarantees in workqueue.h), after client-go's rate-limited
 * delaying queue.
 *
 * Why these rules: a key waits at most once and is never held by two workers,
 * so a burst of events for one cluster costs one reconcile, and a reconcile
 * never races itself; failures back off per key, so one broken cluster
 * cannot starve the rest. One mutex, one condition variable, an injectable
 * clock for tests.
 */
#include "controller/kube/workqueue.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/kube/ratelimit.h"

struct st_wq_entry_t {
    char *key;
    uint64_t hash;
    struct st_wq_entry_t *chain;                 /* next in the hash bucket */
    struct st_wq_entry_t *fifo_prev, *fifo_next; /* valid while in_fifo */
    int in_fifo;
    int dirty;       /* must be processed (again) */
    int processing;  /* a worker holds it */
    int requeues;    /* failures since the last forget */
    long heap_index; /* -1 when not delayed */
    double ready_at;
};

struct pgw_workqueue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pgw_workqueue_options opts;
    struct st_wq_entry_t **buckets;
    size_t nbuckets, nentries;
    struct st_wq_entry_t *fifo_head, *fifo_tail;
    long fifo_len;
    struct st_wq_entry_t **heap;
    size_t heap_len, heap_cap;
    int shutting_down;
};

/* ---- hash table --------------------------------------------------------- */

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *key != '\0'; ++key)
        h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return h;
}

static struct st_wq_entry_t *lookup(struct pgw_workqueue *q, const char *key, int create)
{
    uint64_t h = hash_key(key);
    for (struct st_wq_entry_t *e = q->buckets[h & (q->nbuckets - 1)]; e != NULL; e = e->chain)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    if (q->nentries >= q->nbuckets) { /* grow at load factor 1 */
        size_t n = q->nbuckets * 2;
        struct st_wq_entry_t **b = pgw_calloc(n, sizeof(*b));
        for (size_t i = 0; i != q->nbuckets; ++i) {
            struct st_wq_entry_t *e = q->buckets[i];
            while (e != NULL) {
                struct st_wq_entry_t *next = e->chain;
                e->chain = b[e->hash & (n - 1)];
                b[e->hash & (n - 1)] = e;
                e = next;
            }
        }
        free(q->buckets);
        q->buckets = b;
        q->nbuckets = n;
    }
    struct st_wq_entry_t *e = pgw_calloc(1, sizeof(*e));
    e->key = pgw_strdup(key);
    e->hash = h;
    e->heap_index = -1;
    e->chain = q->buckets[h & (q->nbuckets - 1)];
    q->buckets[h & (q->nbuckets - 1)] = e;
    ++q->nentries;
    return e;
}

/* Frees the entry when nothing refers to it any more. */
static void maybe_release(struct pgw_workqueue *q, struct st_wq_entry_t *e)
{
    if (e->dirty || e->processing || e->in_fifo || e->heap_index >= 0 || e->requeues != 0)
        return;
    struct st_wq_entry_t **p = &q->buckets[e->hash & (q->nbuckets - 1)];
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    --q->nentries;
    free(e->key);
    free(e);
}

/* ---- FIFO --------------------------------------------------------------- */

static void fifo_push(struct pgw_workqueue *q, struct st_wq_entry_t *e)
{
    e->in_fifo = 1;
    e->fifo_next = NULL;
    e->fifo_prev = q->fifo_tail;
    if (q->fifo_tail != NULL)
        q->fifo_tail->fifo_next = e;
    else
        q->fifo_head = e;
    q->fifo_tail = e;
    ++q->fifo_len;
}

static struct st_wq_entry_t *fifo_pop(struct pgw_workqueue *q)
{
    struct st_wq_entry_t *e = q->fifo_head;
    if (e == NULL)
        return NULL;
    q->fifo_head = e->fifo_next;
    if (q->fifo_head != NULL)
        q->fifo_head->fifo_prev = NULL;
    else
        q->fifo_tail = NULL;
    e->in_fifo = 0;
    --q->fifo_len;
    return e;
}

/* ---- delay heap --------------------------------------------------------- */

static void heap_set(struct pgw_workqueue *q, size_t i, struct st_wq_entry_t *e)
{
    q->heap[i] = e;
    e->heap_index = (long)i;
}

static void heap_up(struct pgw_workqueue *q, size_t i)
{
    struct st_wq_entry_t *e = q->heap[i];
    while (i != 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent]->ready_at <= e->ready_at)
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, e);
}

static void heap_down(struct pgw_workqueue *q, size_t i)
{
    struct st_wq_entry_t *e = q->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->heap_len)
            break;
        if (child + 1 < q->heap_len && q->heap[child + 1]->ready_at < q->heap[child]->ready_at)
            ++child;
        if (e->ready_at <= q->heap[child]->ready_at)
            break;
        heap_set(q, i, q->heap[child]);
        i = child;
    }
    heap_set(q, i, e);
}

static void heap_push(struct pgw_workqueue *q, struct st_wq_entry_t *e)
{
    if (q->heap_len == q->heap_cap) {
        q->heap_cap = q->heap_cap != 0 ? q->heap_cap * 2 : 16;
        q->heap = pgw_realloc(q->heap, q->heap_cap * sizeof(*q->heap));
    }
    heap_set(q, q->heap_len++, e);
    heap_up(q, q->heap_len - 1);
}

static struct st_wq_entry_t *heap_pop(struct pgw_workqueue *q)
{
    struct st_wq_entry_t *top = q->heap[0];
    top->heap_index = -1;
    if (--q->heap_len != 0) {
        q->heap[0] = q->heap[q->heap_len];
        heap_down(q, 0);
    }
    return top;
}

/* ---- queue operations (lock held) --------------------------------------- */

static double now(struct pgw_workqueue *q)
{
    return q->opts.now(q->opts.now_ctx);
}

static void publish_depth(struct pgw_workqueue *q)
{
    if (q->opts.export_metrics)
        pgw_metrics_set_workqueue_depth(q->fifo_len);
}

static void add_locked(struct pgw_workqueue *q, struct st_wq_entry_t *e)
{
    if (e->dirty)
        return;
    e->dirty = 1;
    if (!e->processing) {
        fifo_push(q, e);
        pthread_cond_signal(&q->cond);
    }
}

/* Moves every delayed entry whose time has come to the FIFO. */
static void promote_due(struct pgw_workqueue *q)
{
    double t = now(q);
    while (q->heap_len != 0 && q->heap[0]->ready_at <= t)
        add_locked(q, heap_pop(q));
}

static void add_after_locked(struct pgw_workqueue *q, const char *key, double seconds)
{
    struct st_wq_entry_t *e = lookup(q, key, 1);
    if (!(seconds > 0)) {
        add_locked(q, e);
        return;
    }
    double at = now(q) + seconds;
    if (e->heap_index < 0) {
        e->ready_at = at;
        heap_push(q, e);
        pthread_cond_signal(&q->cond); /* a sleeping get may need to wake earlier */
    } else if (at < e->ready_at) {
        e->ready_at = at;
        heap_up(q, (size_t)e->heap_index);
        pthread_cond_signal(&q->cond);
    }
}

/* ---- public API --------------------------------------------------------- */

struct pgw_workqueue *pgw_workqueue_new(const struct pgw_workqueue_options *opts)
{
    struct pgw_workqueue *q = pgw_calloc(1, sizeof(*q));
    if (opts != NULL)
        q->opts = *opts;
    if (!(q->opts.base_delay > 0))
        q->opts.base_delay = PGW_WORKQUEUE_BASE_DELAY;
    if (!(q->opts.max_delay > 0))
        q->opts.max_delay = PGW_WORKQUEUE_MAX_DELAY;
    if (q->opts.now == NULL)
        q->opts.now = pgw_monotonic_now;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    q->nbuckets = 64;
    q->buckets = pgw_calloc(q->nbuckets, sizeof(*q->buckets));
    publish_depth(q);
    return q;
}

void pgw_workqueue_free(struct pgw_workqueue *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i != q->nbuckets; ++i) {
        struct st_wq_entry_t *e = q->buckets[i];
        while (e != NULL) {
            struct st_wq_entry_t *next = e->chain;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(q->buckets);
    free(q->heap);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

char *pgw_workqueue_key(const char *kind, const char *namespace_, const char *name)
{
    return pgw_asprintf("%s/%s/%s", kind, namespace_ != NULL ? namespace_ : "", name);
}

void pgw_workqueue_add(struct pgw_workqueue *q, const char *key)
{
    pgw_workqueue_add_after(q, key, 0);
}

void pgw_workqueue_add_after(struct pgw_workqueue *q, const char *key, double seconds)
{
    pthread_mutex_lock(&q->lock);
    if (!q->shutting_down) {
        add_after_locked(q, key, seconds);
        publish_depth(q);
    }
    pthread_mutex_unlock(&q->lock);
}

double pgw_workqueue_add_rate_limited(struct pgw_workqueue *q, const char *key)
{
    double delay = 0;
    pthread_mutex_lock(&q->lock);
    if (!q->shutting_down) {
        struct st_wq_entry_t *e = lookup(q, key, 1);
        delay = q->opts.base_delay * ldexp(1.0, e->requeues < 60 ? e->requeues : 60);
        if (delay > q->opts.max_delay)
            delay = q->opts.max_delay;
        if (e->requeues < 1000000)
            ++e->requeues;
        add_after_locked(q, key, delay);
        publish_depth(q);
    }
    pthread_mutex_unlock(&q->lock);
    return delay;
}

void pgw_workqueue_forget(struct pgw_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct st_wq_entry_t *e = lookup(q, key, 0);
    if (e != NULL) {
        e->requeues = 0;
        maybe_release(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

int pgw_workqueue_num_requeues(struct pgw_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct st_wq_entry_t *e = lookup(q, key, 0);
    int n = e != NULL ? e->requeues : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Hands out the FIFO head (lock held). */
static char *take_locked(struct pgw_workqueue *q)
{
    struct st_wq_entry_t *e = fifo_pop(q);
    e->dirty = 0;
    e->processing = 1;
    publish_depth(q);
    return pgw_strdup(e->key);
}

char *pgw_workqueue_try_get(struct pgw_workqueue *q)
{
    char *key = NULL;
    pthread_mutex_lock(&q->lock);
    if (!q->shutting_down) {
        promote_due(q);
        if (q->fifo_head != NULL)
            key = take_locked(q);
    }
    pthread_mutex_unlock(&q->lock);
    return key;
}

char *pgw_workqueue_get(struct pgw_workqueue *q)
{
    char *key = NULL;
    pthread_mutex_lock(&q->lock);
    while (!q->shutting_down) {
        promote_due(q);
        if (q->fifo_head != NULL) {
            key = take_locked(q);
            break;
        }
        if (q->heap_len == 0) {
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        /* Sleep until the earliest delayed key is due (measured on the queue's clock). */
        double wait = q->heap[0]->ready_at - now(q);
        if (wait > 1.0)
            wait = 1.0; /* bounded, so an injected clock that jumps is noticed */
        if (wait < 0.001)
            wait = 0.001;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double frac = (double)ts.tv_nsec / 1e9 + wait;
        ts.tv_sec += (time_t)frac;
        ts.tv_nsec = (long)((frac - (double)(time_t)frac) * 1e9);
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
    pthread_mutex_unlock(&q->lock);
    return key;
}

void pgw_workqueue_done(struct pgw_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct st_wq_entry_t *e = lookup(q, key, 0);
    if (e != NULL && e->processing) {
        e->processing = 0;
        if (e->dirty && !q->shutting_down) {
            fifo_push(q, e);
            pthread_cond_signal(&q->cond);
            publish_depth(q);
        }
        maybe_release(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

void pgw_workqueue_shutdown(struct pgw_workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutting_down = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

long pgw_workqueue_len(struct pgw_workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    promote_due(q);
    long n = q->fifo_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

long pgw_workqueue_delayed(struct pgw_workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    long n = (long)q->heap_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
