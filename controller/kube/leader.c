/*
 * Lease-based leader election; see leader.h. The state machine (tick) only
 * talks to the store and the clocks; the thread runner around it sleeps on a
 * condition variable so stop is prompt.
 */
#include "controller/kube/leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "common/json_pack.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "controller/kube/ratelimit.h"

struct pgw_leader {
    struct pgw_leader_options opts;
    struct pgw_lease_store store;
    pthread_mutex_t lock; /* guards leading/last_renew for readers on other threads */
    int leading;
    double last_renew; /* monotonic time of the last successful acquire/renew */
    struct pgw_lease_record observed;
    double observed_time; /* monotonic time when `observed` last changed */
    int have_observed;
    /* thread runner */
    pthread_t thread;
    pthread_cond_t cond;
    int running, stopping;
};

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pgw_leader *global_leader;

static double real_wall(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pgw_lease_record_dispose(struct pgw_lease_record *r)
{
    free(r->holder);
    free(r->acquire_time);
    free(r->renew_time);
    free(r->resource_version);
    memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? pgw_strdup(s) : NULL;
}

static void record_copy(struct pgw_lease_record *dst, const struct pgw_lease_record *src)
{
    pgw_lease_record_dispose(dst);
    dst->holder = dup_or_null(src->holder);
    dst->duration = src->duration;
    dst->acquire_time = dup_or_null(src->acquire_time);
    dst->renew_time = dup_or_null(src->renew_time);
    dst->transitions = src->transitions;
    dst->resource_version = dup_or_null(src->resource_version);
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* Same Lease spec (the resourceVersion alone changing does not count as a renewal). */
static int record_same(const struct pgw_lease_record *a, const struct pgw_lease_record *b)
{
    return str_eq(a->holder, b->holder) && a->duration == b->duration && str_eq(a->acquire_time, b->acquire_time) &&
           str_eq(a->renew_time, b->renew_time) && a->transitions == b->transitions;
}

char *pgw_leader_format_microtime(double unix_seconds, char *buf, unsigned long bufsize)
{
    time_t secs = (time_t)unix_seconds;
    long micros = (long)((unix_seconds - (double)secs) * 1e6);
    if (micros < 0)
        micros = 0;
    if (micros > 999999)
        micros = 999999;
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* Checked: the compiler cannot know gmtime's fields stay small (an int year
     * may take 11 digits), and a cut-off stamp must not reach the API as a time. */
    int n = snprintf(buf, bufsize, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, micros);
    if (n < 0 || (unsigned long)n >= bufsize) {
        if (bufsize > 0)
            buf[0] = '\0';
        return NULL;
    }
    return buf;
}

struct pgw_leader *pgw_leader_new(const struct pgw_leader_options *opts, const struct pgw_lease_store *store)
{
    struct pgw_leader *l = pgw_calloc(1, sizeof(*l));
    l->opts = *opts;
    l->opts.identity = pgw_strdup(opts->identity != NULL ? opts->identity : "pgwarden");
    if (!(l->opts.lease_duration > 0))
        l->opts.lease_duration = PGW_LEADER_LEASE_DURATION;
    if (!(l->opts.renew_deadline > 0))
        l->opts.renew_deadline = PGW_LEADER_RENEW_DEADLINE;
    if (!(l->opts.retry_period > 0))
        l->opts.retry_period = PGW_LEADER_RETRY_PERIOD;
    if (l->opts.now == NULL)
        l->opts.now = pgw_monotonic_now;
    if (l->opts.wall == NULL)
        l->opts.wall = real_wall;
    l->store = *store;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (l->opts.global) {
        pthread_mutex_lock(&global_lock);
        global_leader = l;
        pthread_mutex_unlock(&global_lock);
        pgw_metrics_set_leader(0);
    }
    return l;
}

void pgw_leader_free(struct pgw_leader *l)
{
    if (l == NULL)
        return;
    if (l->running)
        pgw_leader_stop(l);
    pthread_mutex_lock(&global_lock);
    if (global_leader == l)
        global_leader = NULL;
    pthread_mutex_unlock(&global_lock);
    pgw_lease_record_dispose(&l->observed);
    free((char *)l->opts.identity);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static void set_leading(struct pgw_leader *l, int leading, double renewed_at)
{
    pthread_mutex_lock(&l->lock);
    int was = l->leading;
    l->leading = leading;
    if (leading)
        l->last_renew = renewed_at;
    pthread_mutex_unlock(&l->lock);
    if (l->opts.global)
        pgw_metrics_set_leader(leading);
    if (was == leading)
        return;
    json_t *fields = pgw_json_pack("{s:s}", "identity", l->opts.identity);
    pgw_log(PGW_LOG_INFO, leading ? "started leading" : "stopped leading", fields);
    if (leading && l->opts.on_started_leading != NULL)
        l->opts.on_started_leading(l->opts.cb_ctx);
    if (!leading && l->opts.on_stopped_leading != NULL)
        l->opts.on_stopped_leading(l->opts.cb_ctx);
}

int pgw_leader_leading(struct pgw_leader *l)
{
    pthread_mutex_lock(&l->lock);
    int ok = l->leading && l->opts.now(l->opts.clock_ctx) - l->last_renew < l->opts.renew_deadline;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

double pgw_leader_write_budget(struct pgw_leader *l)
{
    pthread_mutex_lock(&l->lock);
    double left = l->leading ? l->last_renew + l->opts.lease_duration - 1.0 - l->opts.now(l->opts.clock_ctx) : 0;
    pthread_mutex_unlock(&l->lock);
    return left > 0 ? left : 0;
}

double pgw_leader_global_write_budget(void)
{
    pthread_mutex_lock(&global_lock);
    double left = global_leader != NULL ? pgw_leader_write_budget(global_leader) : -1;
    pthread_mutex_unlock(&global_lock);
    return left;
}

int pgw_leader_is_leading(void)
{
    pthread_mutex_lock(&global_lock);
    int ok = global_leader == NULL || pgw_leader_leading(global_leader);
    pthread_mutex_unlock(&global_lock);
    return ok;
}

/* Notes the record we just read (or wrote); the expiry clock restarts only when it changed. */
static void observe(struct pgw_leader *l, const struct pgw_lease_record *rec, double t)
{
    if (!l->have_observed || !record_same(&l->observed, rec))
        l->observed_time = t;
    record_copy(&l->observed, rec);
    l->have_observed = 1;
}

/*
 * client-go's tryAcquireOrRenew. Returns 1 when we hold the lease after the
 * call, 0 when someone else validly holds it or the write lost a race, -1 on
 * store errors.
 */
static int try_acquire_or_renew(struct pgw_leader *l)
{
    double t = l->opts.now(l->opts.clock_ctx);
    char stamp[40];
    pgw_leader_format_microtime(l->opts.wall(l->opts.clock_ctx), stamp, sizeof(stamp));
    struct pgw_lease_record cur = {0};
    int rc = l->store.get(l->store.ctx, &cur);
    if (rc == PGW_LEASE_NOT_FOUND) {
        struct pgw_lease_record rec = {.holder = (char *)l->opts.identity,
                                       .duration = (int)l->opts.lease_duration,
                                       .acquire_time = stamp,
                                       .renew_time = stamp};
        rc = l->store.create(l->store.ctx, &rec);
        if (rc == PGW_LEASE_OK)
            observe(l, &rec, t);
        free(rec.resource_version);
        return rc == PGW_LEASE_OK ? 1 : rc == PGW_LEASE_CONFLICT ? 0 : -1;
    }
    if (rc != PGW_LEASE_OK) {
        pgw_lease_record_dispose(&cur);
        return -1;
    }
    observe(l, &cur, t);
    int mine = str_eq(cur.holder, l->opts.identity);
    int held = cur.holder != NULL && cur.holder[0] != '\0';
    double duration = cur.duration > 0 ? cur.duration : l->opts.lease_duration;
    if (held && !mine && l->observed_time + duration > t) {
        pgw_lease_record_dispose(&cur);
        return 0; /* someone else holds an unexpired lease */
    }
    struct pgw_lease_record rec = {.holder = (char *)l->opts.identity,
                                   .duration = (int)l->opts.lease_duration,
                                   .acquire_time = mine && cur.acquire_time != NULL ? cur.acquire_time : stamp,
                                   .renew_time = stamp,
                                   .transitions = mine ? cur.transitions : cur.transitions + 1,
                                   .resource_version = pgw_strdup(cur.resource_version != NULL ? cur.resource_version : "")};
    rc = l->store.update(l->store.ctx, &rec);
    if (rc == PGW_LEASE_OK)
        observe(l, &rec, t);
    free(rec.resource_version);
    pgw_lease_record_dispose(&cur);
    return rc == PGW_LEASE_OK ? 1 : rc == PGW_LEASE_CONFLICT ? 0 : -1;
}

double pgw_leader_tick(struct pgw_leader *l)
{
    double t = l->opts.now(l->opts.clock_ctx);
    int ok = try_acquire_or_renew(l);
    pthread_mutex_lock(&l->lock);
    int was_leading = l->leading;
    double last = l->last_renew;
    pthread_mutex_unlock(&l->lock);
    if (ok == 1) {
        set_leading(l, 1, t);
    } else if (was_leading) {
        /* Another holder means we lost it already; otherwise keep trying until the deadline. */
        int other = ok == 0 && l->have_observed && !str_eq(l->observed.holder, l->opts.identity);
        if (other || l->opts.now(l->opts.clock_ctx) - last >= l->opts.renew_deadline)
            set_leading(l, 0, 0);
    }
    return l->opts.retry_period;
}

void pgw_leader_release(struct pgw_leader *l)
{
    pthread_mutex_lock(&l->lock);
    int leading = l->leading;
    pthread_mutex_unlock(&l->lock);
    if (!leading)
        return;
    set_leading(l, 0, 0);
    if (!l->have_observed || !str_eq(l->observed.holder, l->opts.identity))
        return;
    char stamp[40];
    pgw_leader_format_microtime(l->opts.wall(l->opts.clock_ctx), stamp, sizeof(stamp));
    struct pgw_lease_record rec = {.holder = "",
                                   .duration = 1,
                                   .acquire_time = stamp,
                                   .renew_time = stamp,
                                   .transitions = l->observed.transitions,
                                   .resource_version = dup_or_null(l->observed.resource_version)};
    if (l->store.update(l->store.ctx, &rec) == PGW_LEASE_OK)
        observe(l, &rec, l->opts.now(l->opts.clock_ctx));
    free(rec.resource_version);
}

/* ---- thread runner ------------------------------------------------------ */

static void *run(void *arg)
{
    struct pgw_leader *l = arg;
    unsigned short seed[3] = {(unsigned short)getpid(), (unsigned short)(size_t)l, (unsigned short)time(NULL)};
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        pthread_mutex_unlock(&l->lock);
        double wait = pgw_leader_tick(l);
        pthread_mutex_lock(&l->lock);
        if (l->leading == 0)
            wait *= 1.0 + 0.2 * erand48(seed); /* candidates spread out, as client-go's JitterUntil */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double frac = (double)ts.tv_nsec / 1e9 + wait;
        ts.tv_sec += (time_t)frac;
        ts.tv_nsec = (long)((frac - (double)(time_t)frac) * 1e9);
        if (!l->stopping)
            pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    pthread_mutex_unlock(&l->lock);
    pgw_leader_release(l);
    return NULL;
}

int pgw_leader_start(struct pgw_leader *l)
{
    l->stopping = 0;
    if (pthread_create(&l->thread, NULL, run, l) != 0)
        return -1;
    l->running = 1;
    return 0;
}

void pgw_leader_stop(struct pgw_leader *l)
{
    if (!l->running)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    l->running = 0;
}
