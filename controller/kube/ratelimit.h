/*
 * Token-bucket limiter for requests to the API server (DESIGN.md §6).
 *
 * client-go's defaults (5 QPS, burst 10) would make a controller that owns a
 * thousand clusters take minutes to resync, so ours default to 50 QPS with a
 * burst of 100 (configurable). The bucket refills continuously from a
 * monotonic clock; a caller that finds it empty reserves the next token and
 * sleeps until it is due, so callers are served in arrival order and the
 * long-run rate never exceeds qps.
 *
 * Thread-safe. The clock is injectable so tests never sleep.
 */
#ifndef PGW_CONTROLLER_KUBE_RATELIMIT_H
#define PGW_CONTROLLER_KUBE_RATELIMIT_H

#define PGW_RATELIMIT_DEFAULT_QPS 50.0
#define PGW_RATELIMIT_DEFAULT_BURST 100

struct pgw_ratelimit;

/* Monotonic seconds. */
double pgw_monotonic_now(void *unused);

/*
 * qps <= 0 disables limiting; burst < 1 is taken as 1. now: NULL for the
 * monotonic clock. The caller frees the result with pgw_ratelimit_free.
 */
struct pgw_ratelimit *pgw_ratelimit_new(double qps, int burst, double (*now)(void *), void *now_ctx);
void pgw_ratelimit_free(struct pgw_ratelimit *rl);

/* Takes one token; returns how many seconds the caller must wait before using it (0 when available now). */
double pgw_ratelimit_reserve(struct pgw_ratelimit *rl);
/* pgw_ratelimit_reserve, then sleeps for the returned time. */
void pgw_ratelimit_wait(struct pgw_ratelimit *rl);

#endif
