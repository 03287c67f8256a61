/* Thread pool for Kubernetes calls (worker.h). */
#include "worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#define WORKER_THREADS_MAX 64

struct worker {
    pthread_mutex_t mu; /* guards head, tail, stopping */
    pthread_cond_t cv;
    struct worker_job *head;
    struct worker_job *tail;
    int stopping;
    int n;
    pthread_t threads[WORKER_THREADS_MAX];
};

static void *thread_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->stopping) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->stopping) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        struct worker_job *job = w->head;
        w->head = job->next;
        if (w->head == NULL) {
            w->tail = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        job->next = NULL;
        job->run(job);
    }
}

enum stk_err worker_new(int threads, struct worker **out, struct stk_error *err)
{
    *out = NULL;
    if (threads < 1 || threads > WORKER_THREADS_MAX) {
        return stk_error_set(err, STK_EINVAL, "worker threads: want 1 to %d", WORKER_THREADS_MAX);
    }
    struct worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&w->threads[i], NULL, thread_main, w) != 0) {
            break;
        }
        w->n++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (w->n != threads) {
        worker_free(w);
        return stk_error_set(err, STK_ENOMEM, "cannot start the worker threads");
    }
    *out = w;
    return STK_OK;
}

void worker_submit(struct worker *w, struct worker_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail != NULL) {
        w->tail->next = job;
    } else {
        w->head = job;
    }
    w->tail = job;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void worker_free(struct worker *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    struct worker_job *queued = w->head;
    w->head = NULL;
    w->tail = NULL;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++) {
        pthread_join(w->threads[i], NULL);
    }
    while (queued != NULL) {
        struct worker_job *next = queued->next;
        queued->discard(queued);
        queued = next;
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
