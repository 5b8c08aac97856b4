/*
 * A fixed pool of threads over one FIFO of jobs (see workers.h): a mutex, a
 * condition variable, and a stop flag that lets the threads drain the queue
 * before they exit, so no queued request is left without an answer.
 */
#include "api/workers.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/xalloc.h"

struct pgw_api_workers {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct pgw_api_job *head, *tail;
    int stopping;
    unsigned n;
    pthread_t *tids;
};

static void *worker_main(void *arg)
{
    struct pgw_api_workers *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->ready, &w->lock);
        struct pgw_api_job *job = w->head;
        if (job == NULL)
            break; /* stopping, and nothing left */
        w->head = job->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        job->run(job);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct pgw_api_workers *pgw_api_workers_start(unsigned n)
{
    struct pgw_api_workers *w = pgw_calloc(1, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->ready, NULL);
    w->tids = pgw_calloc(n, sizeof(w->tids[0]));
    while (w->n != n && pthread_create(&w->tids[w->n], NULL, worker_main, w) == 0)
        ++w->n;
    if (w->n == 0) {
        pgw_api_workers_stop(w);
        return NULL;
    }
    return w;
}

void pgw_api_workers_submit(struct pgw_api_workers *w, struct pgw_api_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail != NULL)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->ready);
    pthread_mutex_unlock(&w->lock);
}

void pgw_api_workers_stop(struct pgw_api_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->ready);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i != w->n; ++i)
        pthread_join(w->tids[i], NULL);
    pthread_cond_destroy(&w->ready);
    pthread_mutex_destroy(&w->lock);
    free(w->tids);
    free(w);
}
