/* A small pool of threads for the Kubernetes calls, so that a slow API
 * server never stalls the connection's loop (heartbeats go on while an
 * action runs). Jobs carry their own code; whoever submits a job gets its
 * result back through the job's own `run` (which posts it to its owner).
 * One pool can serve many agents. */
#ifndef STK_AGENT_WORKER_H
#define STK_AGENT_WORKER_H

#include "err.h"

struct worker_job {
    struct worker_job *next;
    /* Runs on a pool thread; owns the job from then on. */
    void (*run)(struct worker_job *job);
    /* Called instead of run for a job still queued when the pool stops. */
    void (*discard)(struct worker_job *job);
};

struct worker;

/* Starts `threads` threads (1..64). Signals are blocked in them, so that
 * SIGTERM reaches the thread that polls. Free with worker_free(). */
enum stk_err worker_new(int threads, struct worker **out, struct stk_error *err);

/* Queues `job`; the pool owns it from now on. */
void worker_submit(struct worker *w, struct worker_job *job);

/* Lets running jobs finish, discards queued ones, joins, frees. Accepts
 * NULL. */
void worker_free(struct worker *w);

#endif
