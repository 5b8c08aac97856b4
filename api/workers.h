/*
 * The API's worker threads: where a request that waits on the Kubernetes
 * API (or on the session keys' Secret) runs, so the event loops only parse,
 * route and send, and one slow call never holds up the other connections of
 * its loop. A job is queued by a loop and run by the first free worker;
 * the job's run function hands its result back to the loop (h2o's
 * multithread queue, api/server.c). FIFO; thread-safe.
 */
#ifndef PGW_API_WORKERS_H
#define PGW_API_WORKERS_H

#include <stddef.h>

struct pgw_api_job {
    struct pgw_api_job *next; /* the queue's; owned by it */
    void (*run)(struct pgw_api_job *job);
};

struct pgw_api_workers;

/* Starts n threads. Returns NULL when none could be started. */
struct pgw_api_workers *pgw_api_workers_start(unsigned n);
/* Queues job (borrowed until its run function is called). */
void pgw_api_workers_submit(struct pgw_api_workers *w, struct pgw_api_job *job);
/* Runs what is queued, then joins the threads and frees. */
void pgw_api_workers_stop(struct pgw_api_workers *w);

#endif
