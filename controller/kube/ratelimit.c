/*
 * Token bucket with reservations: tokens may go negative, and a negative
 * balance is the queue of callers already promised a future token.
 */
#include "controller/kube/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/xalloc.h"

struct pgw_ratelimit {
    pthread_mutex_t lock;
    double qps;
    double burst;
    double tokens; /* may be negative: reserved tokens not yet refilled */
    double last;   /* clock value of the last refill */
    double (*now)(void *);
    void *now_ctx;
};

double pgw_monotonic_now(void *unused)
{
    (void)unused;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct pgw_ratelimit *pgw_ratelimit_new(double qps, int burst, double (*now)(void *), void *now_ctx)
{
    struct pgw_ratelimit *rl = pgw_calloc(1, sizeof(*rl));
    pthread_mutex_init(&rl->lock, NULL);
    rl->qps = qps;
    rl->burst = burst < 1 ? 1 : burst;
    rl->now = now != NULL ? now : pgw_monotonic_now;
    rl->now_ctx = now_ctx;
    rl->tokens = rl->burst;
    rl->last = rl->now(rl->now_ctx);
    return rl;
}

void pgw_ratelimit_free(struct pgw_ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

double pgw_ratelimit_reserve(struct pgw_ratelimit *rl)
{
    if (rl->qps <= 0)
        return 0;
    pthread_mutex_lock(&rl->lock);
    double t = rl->now(rl->now_ctx);
    if (t > rl->last) { /* a clock that steps back never adds tokens */
        rl->tokens += (t - rl->last) * rl->qps;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last = t;
    }
    rl->tokens -= 1;
    double wait = rl->tokens >= 0 ? 0 : -rl->tokens / rl->qps;
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

void pgw_ratelimit_wait(struct pgw_ratelimit *rl)
{
    double wait = pgw_ratelimit_reserve(rl);
    if (wait <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
