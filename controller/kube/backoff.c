/*
 * Exponential backoff with bounded jitter (contract in backoff.h).
 *
 * Why jitter: a thousand watches must not reconnect in lock-step after an API
 * server restart. Every delay stays within [initial, max]; the random source
 * is injectable so tests are exact.
 */
#include "controller/kube/backoff.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double default_random(void *ctx)
{
    return erand48((unsigned short *)ctx);
}

void pgw_backoff_init(struct pgw_backoff *b, double initial, double max, double (*random)(void *), void *random_ctx)
{
    b->initial = initial > 0 ? initial : PGW_BACKOFF_INITIAL;
    b->max = max > 0 ? max : PGW_BACKOFF_MAX;
    if (b->max < b->initial)
        b->max = b->initial;
    b->factor = 2.0;
    b->jitter = PGW_BACKOFF_JITTER;
    b->base = b->initial;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long mix = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^ (unsigned long)(size_t)b;
    b->seed[0] = (unsigned short)mix;
    b->seed[1] = (unsigned short)(mix >> 16);
    b->seed[2] = (unsigned short)(mix >> 32);
    if (random != NULL) {
        b->random = random;
        b->random_ctx = random_ctx;
    } else {
        b->random = default_random;
        b->random_ctx = b->seed;
    }
}

double pgw_backoff_next(struct pgw_backoff *b)
{
    double r = b->random(b->random_ctx);
    if (!(r >= 0) || r >= 1) /* also catches NaN from a broken source */
        r = 0;
    double delay;
    if (b->base < b->max) {
        delay = b->base * (1 + b->jitter * r);
        if (delay > b->max)
            delay = b->max;
        b->base *= b->factor;
        if (b->base > b->max)
            b->base = b->max;
    } else {
        delay = b->max * (1 - b->jitter * r);
        if (delay < b->initial)
            delay = b->initial;
    }
    return delay;
}

void pgw_backoff_reset(struct pgw_backoff *b)
{
    b->base = b->initial;
}
