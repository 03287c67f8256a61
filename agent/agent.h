/* The agent: enrollment, then one session with the gateway at a time
 * (docs/agents.md): hello with the cluster's facts, facts again when they
 * change, ping/pong, reconnection with jittered exponential backoff,
 * signed commands checked, acknowledged, carried out on a worker thread,
 * journalled and answered, and the tamper watch of isolated pods.
 *
 * A `struct agent` is a state machine a poll loop drives (agent_pollfds,
 * agent_timeout_ms, agent_dispatch), so one thread can drive many agents
 * (benches), or agent_run() drives one until told to stop. */
#ifndef STK_AGENT_AGENT_H
#define STK_AGENT_AGENT_H

#include <poll.h>
#include <stdint.h>

#include "command.h"
#include "err.h"
#include "kube.h"
#include "worker.h"

#define STK_AGENT_VERSION_STRING "0.1.0"
#define STK_AGENT_POLLFDS 2 /* fds one agent polls: the connection, its wake-up */

struct agent_config {
    const char *server;       /* gateway "HOST:PORT" */
    const char *state_dir;    /* see docs/agents.md "Keys and files" */
    const char *enroll_token; /* NULL once enrolled */
    const char *cloud;        /* facts' cloud; NULL: guessed */
    int facts_interval_ms;    /* how often the cluster is polled for facts (30 s) */
    int tamper_interval_ms;   /* how often isolated pods are checked (5 s) */
    int backoff_min_ms;       /* first reconnection delay (1 s) */
    int backoff_max_ms;       /* longest reconnection delay (60 s) */
    int connect_timeout_ms;   /* TCP + TLS + welcome (10 s) */
    int heartbeat_s;          /* until the welcome says otherwise (15) */
    struct worker *worker;    /* a shared pool; NULL: the agent starts its own thread */
};

/* The defaults above. Strings are borrowed: they must outlive the agent. */
void agent_config_init(struct agent_config *cfg);

/* Makes the state directory ready and, when there is no agent.crt yet,
 * enrolls with cfg->enroll_token (docs/agents.md "Enrollment"), retrying
 * network failures with backoff until `stop_fd` (may be -1) is readable.
 * Errors: STK_EIO for the state directory, STK_EINVAL for a missing or
 * malformed token, STK_EAUTH when the server CA does not match the token
 * or the server refused the token; the reason in `err`. */
enum stk_err agent_prepare(const struct agent_config *cfg, int stop_fd, struct stk_error *err);

/* The enrollment alone (agent_prepare() calls it). */
enum stk_err agent_enroll(const struct agent_config *cfg, int stop_fd, struct stk_error *err);

/* The cluster name the state directory was enrolled for. */
enum stk_err agent_state_cluster(const char *state_dir, char out[STK_AGENT_CLUSTER_MAX],
                                 struct stk_error *err);

struct agent;

/* Loads the state (certificate, key, pinned CA, command key, journal,
 * isolated pods) and takes over `*k` (zeroed on return, whatever the
 * outcome). Nothing is dialled yet. Free with agent_free(). */
enum stk_err agent_new(const struct agent_config *cfg, struct kube *k, struct agent **out,
                       struct stk_error *err);

/* Waits for an action in progress to end, closes the connection, frees.
 * Accepts NULL. */
void agent_free(struct agent *a);

/* The fds to poll (at most STK_AGENT_POLLFDS) into `fds`; returns how many. */
int agent_pollfds(struct agent *a, struct pollfd *fds, int max);

/* Milliseconds until the agent's next timer, from `now_ms` (monotonic). */
int agent_timeout_ms(const struct agent *a, int64_t now_ms);

/* Handles what poll reported for the fds agent_pollfds() gave (in the
 * same order), then timers. */
void agent_dispatch(struct agent *a, const struct pollfd *fds, int n, int64_t now_ms);

/* 1 when the agent must stop for good (its certificate was revoked); the
 * reason in `err`. */
int agent_failed(const struct agent *a, struct stk_error *err);

/* 1 while the agent is in a session the gateway welcomed. */
int agent_connected(const struct agent *a);

/* Drives `a` until `stop_fd` (may be -1) is readable or the agent fails
 * for good (STK_EAUTH, reason in `err`). */
enum stk_err agent_run(struct agent *a, int stop_fd, struct stk_error *err);

/* Monotonic milliseconds, and wall-clock milliseconds since the epoch. */
int64_t agent_now_ms(void);
int64_t agent_wall_ms(void);

#endif
