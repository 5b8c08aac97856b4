/*
 * Exponential backoff with jitter for reconnecting watches (DESIGN.md §6).
 *
 * A thousand clusters' worth of watches must not reconnect in lock-step after
 * an API server restart, so every delay is jittered. Delays start at 0.8 s,
 * double on every failure and stop growing at 30 s; the jitter widens each
 * delay upwards by up to 25% below the cap and downwards by up to 25% at the
 * cap, so every delay stays within [initial, max].
 *
 * Pure: the random source is injectable (tests pass a fixed sequence). The
 * struct is plain data owned by the caller; it is not thread-safe (one per
 * watch thread).
 */
#ifndef PGW_CONTROLLER_KUBE_BACKOFF_H
#define PGW_CONTROLLER_KUBE_BACKOFF_H

#define PGW_BACKOFF_INITIAL 0.8
#define PGW_BACKOFF_MAX 30.0
#define PGW_BACKOFF_JITTER 0.25

struct pgw_backoff {
    double initial, max, factor, jitter;
    double base; /* the un-jittered delay the next call starts from */
    /* Returns a number in [0, 1). NULL: an internal erand48 seeded at init. */
    double (*random)(void *ctx);
    void *random_ctx;
    unsigned short seed[3];
};

/* initial/max <= 0 select the defaults. random may be NULL. */
void pgw_backoff_init(struct pgw_backoff *b, double initial, double max, double (*random)(void *), void *random_ctx);
/* The delay (seconds) to wait before the next attempt; grows the base. */
double pgw_backoff_next(struct pgw_backoff *b);
/* After a success: the next failure waits `initial` again. */
void pgw_backoff_reset(struct pgw_backoff *b);

#endif
