/* The agent's session with the gateway (agent.h). */
#include "agent.h"

#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "conn.h"
#include "journal.h"
#include "log.h"
#include "policy.h"
#include "state.h"
#include "stk_tls.h"

#define CMD_QUEUE_MAX 100 /* commands waiting for the worker */
#define OUTBOX_MAX 100    /* tamper reports kept while disconnected */
#define FACTS_FRAME_MAX (STK_FRAME_MAX - 4096)
#define HELLO_WAIT_MS 3000 /* longest wait for facts before the hello goes without */

enum job_kind {
    JOB_FACTS,
    JOB_COMMAND,
    JOB_TAMPER,
};

struct job {
    struct worker_job w; /* first: the pool sees this */
    struct agent *a;
    enum job_kind kind;
    struct job *next; /* in the agent's done queue */
    /* in */
    struct command cmd;
    struct watch_entry *watch;
    size_t nwatch;
    /* out */
    json_t *facts;
    char *facts_text; /* compact, sorted keys: compared to what was sent */
    struct stk_error err;
    struct action_result result;
    json_t *reports; /* tamper frames */
    json_t *gone;    /* [[ns, pod], ...] */
    size_t failed_checks;
    int discarded; /* never ran: the pool stopped first */
};

struct queued_cmd {
    struct command cmd;
    struct queued_cmd *next;
};

struct agent {
    struct agent_config cfg;
    char cluster[STK_AGENT_CLUSTER_MAX];
    unsigned char pk[STK_CMD_PK_BYTES];
    struct kube kube;

    struct stk_tls_rng rng;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;

    struct conn conn;
    int hello_sent;
    int welcomed;
    int heartbeat_s;
    int64_t hello_deadline;
    int64_t open_at; /* when the handshake finished, 0 before */
    int64_t next_ping;
    int64_t last_pong;
    int64_t reconnect_at;
    int attempt;

    struct journal journal;
    struct watch_set watch;
    json_t *facts;    /* the latest facts collected */
    char *facts_text; /* ... as text */
    char *sent_text;  /* what the gateway was last told */
    int facts_tried;  /* a collection has ended (facts or facts_error) */
    char facts_error[STK_ERROR_MSG_MAX];
    int64_t next_facts;
    int64_t next_tamper;
    int want_facts;
    int want_tamper;

    struct queued_cmd *q_head;
    struct queued_cmd *q_tail;
    size_t q_len;
    long long running_id;
    int busy; /* a job of this agent is at the worker */

    pthread_mutex_t mu; /* guards done_head/done_tail */
    struct job *done_head;
    struct job *done_tail;
    int wake_fd;

    struct worker *worker;
    int own_worker;
    json_t *outbox; /* tamper frames waiting for a session */

    int failed;
    char fail_msg[STK_ERROR_MSG_MAX];
};

int64_t agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t agent_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void agent_config_init(struct agent_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->facts_interval_ms = 30000;
    cfg->tamper_interval_ms = 5000;
    cfg->backoff_min_ms = 1000;
    cfg->backoff_max_ms = 60000;
    cfg->connect_timeout_ms = 10000;
    cfg->heartbeat_s = 15;
}

enum stk_err agent_state_cluster(const char *state_dir, char out[STK_AGENT_CLUSTER_MAX],
                                 struct stk_error *err)
{
    return state_read_cluster(state_dir, out, err);
}

/* ------------------------------------------------------------------------ */
/* Jobs (the run functions execute on a worker thread) */

static void post_done(struct job *job)
{
    struct agent *a = job->a;
    pthread_mutex_lock(&a->mu);
    job->next = NULL;
    if (a->done_tail != NULL) {
        a->done_tail->next = job;
    } else {
        a->done_head = job;
    }
    a->done_tail = job;
    pthread_mutex_unlock(&a->mu);
    uint64_t one = 1;
    ssize_t w = write(a->wake_fd, &one, sizeof(one));
    (void)w; /* an eventfd at its maximum is readable anyway */
}

static void job_free(struct job *job)
{
    json_decref(job->facts);
    free(job->facts_text);
    action_result_release(&job->result);
    json_decref(job->reports);
    json_decref(job->gone);
    free(job->watch);
    free(job);
}

static void job_run(struct worker_job *wj)
{
    struct job *job = (struct job *)wj;
    struct agent *a = job->a;
    if (job->kind == JOB_FACTS) {
        if (actions_facts(&a->kube, a->cfg.cloud, &job->facts, &job->err) == STK_OK) {
            if (actions_facts_fit(job->facts, FACTS_FRAME_MAX) != 0) {
                json_decref(job->facts);
                job->facts = NULL;
                stk_error_set(&job->err, STK_ETOOBIG, "facts do not fit in a frame");
            } else {
                job->facts_text = json_dumps(job->facts, JSON_COMPACT | JSON_SORT_KEYS);
            }
        }
    } else if (job->kind == JOB_COMMAND) {
        struct action_target t = {.cluster = a->cluster, .ns = job->cmd.ns, .pod = job->cmd.pod};
        actions_run(&a->kube, job->cmd.action, &t, &job->result);
    } else {
        job->reports = json_array();
        job->gone = json_array();
        for (size_t i = 0; i < job->nwatch; i++) {
            const struct watch_entry *e = &job->watch[i];
            json_t *report = NULL;
            int gone = 0;
            struct stk_error e2 = {0};
            if (actions_tamper_check(&a->kube, e->ns, e->pod, e->key, &report, &gone, &e2) !=
                STK_OK) {
                job->failed_checks++;
                snprintf(job->err.msg, sizeof(job->err.msg), "%s", e2.msg);
                continue;
            }
            if (report != NULL) {
                json_array_append_new(job->reports, report);
            }
            if (gone) {
                json_array_append_new(job->gone, json_pack("[s, s]", e->ns, e->pod));
            }
        }
    }
    post_done(job);
}

static void job_discard(struct worker_job *wj)
{
    /* The pool stopped before running it: hand it back as done so the
     * agent stops waiting for it. */
    struct job *job = (struct job *)wj;
    job->discarded = 1;
    post_done(job);
}

static struct job *job_new(struct agent *a, enum job_kind kind)
{
    struct job *job = calloc(1, sizeof(*job));
    if (job != NULL) {
        job->w.run = job_run;
        job->w.discard = job_discard;
        job->a = a;
        job->kind = kind;
    }
    return job;
}

/* ------------------------------------------------------------------------ */
/* Sending */

static void log_reason(enum stk_log_level lvl, const char *event, const char *fmt_prefix,
                       const char *reason)
{
    char clean[600];
    log_clean(reason, clean, sizeof(clean));
    log_event(lvl, event, "%s reason=%s", fmt_prefix, clean);
}

static void disconnect(struct agent *a, const char *why, int64_t now);

/* Sends `msg` (taken) when in a session; a failure ends the session. */
static void send_take(struct agent *a, json_t *msg, int64_t now)
{
    struct stk_error e = {0};
    if (msg == NULL) {
        log_event(STK_LOG_ERROR, "send_failed", "reason=out_of_memory");
        return;
    }
    if (conn_is_open(&a->conn) && conn_send(&a->conn, msg, &e) != STK_OK) {
        json_decref(msg);
        disconnect(a, e.msg, now);
        return;
    }
    json_decref(msg);
}

static void send_hello(struct agent *a, int64_t now)
{
    json_t *hello =
        json_pack("{s:s, s:s}", "type", "hello", "agent_version", STK_AGENT_VERSION_STRING);
    if (hello != NULL && a->facts != NULL) {
        json_object_set(hello, "facts", a->facts);
    } else if (hello != NULL) {
        json_object_set_new(hello, "facts_error",
                            json_string(a->facts_error[0] ? a->facts_error : "no facts yet"));
    }
    a->hello_sent = 1;
    a->hello_deadline = now + a->cfg.connect_timeout_ms;
    free(a->sent_text);
    a->sent_text = a->facts_text ? strdup(a->facts_text) : NULL;
    send_take(a, hello, now);
}

static void send_result(struct agent *a, long long id, const char *status, const char *reason,
                        json_t *details, json_t *evidence, int replay, int64_t now)
{
    if (!a->welcomed) {
        return; /* the server asks again after reconnecting; the journal answers */
    }
    json_t *r = command_result(id, status, reason, details, evidence, replay);
    /* A result over the frame limit (a huge evidence) goes without it
     * rather than not at all. */
    if (r != NULL && evidence != NULL && json_dumpb(r, NULL, 0, JSON_COMPACT) > STK_FRAME_MAX) {
        json_object_del(r, "evidence");
        json_object_set_new(r, "evidence_omitted", json_string("over the frame limit"));
    }
    send_take(a, r, now);
}

/* ------------------------------------------------------------------------ */
/* Session */

static int backoff_ms(struct agent *a)
{
    int64_t d = a->cfg.backoff_min_ms;
    for (int i = 0; i < a->attempt && d < a->cfg.backoff_max_ms; i++) {
        d *= 2;
    }
    if (d > a->cfg.backoff_max_ms) {
        d = a->cfg.backoff_max_ms;
    }
    if (a->attempt < 30) {
        a->attempt++;
    }
    /* ±20 %, so that agents dropped together do not come back together. */
    uint32_t r = randombytes_uniform(4001);
    return (int)(d * (8000 + (int64_t)r) / 10000);
}

static void disconnect(struct agent *a, const char *why, int64_t now)
{
    int was = a->conn.state != CONN_IDLE;
    conn_close(&a->conn);
    a->hello_sent = 0;
    a->welcomed = 0;
    if (a->failed) {
        return;
    }
    int delay = backoff_ms(a);
    a->reconnect_at = now + delay;
    if (was) {
        char clean[600];
        log_clean(why, clean, sizeof(clean));
        log_event(STK_LOG_WARN, "disconnected", "server=%s reason=%s retry_ms=%d", a->cfg.server,
                  clean, delay);
    }
}

static void queue_command(struct agent *a, const struct command *cmd)
{
    struct queued_cmd *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return;
    }
    q->cmd = *cmd;
    if (a->q_tail != NULL) {
        a->q_tail->next = q;
    } else {
        a->q_head = q;
    }
    a->q_tail = q;
    a->q_len++;
}

static int command_known(const struct agent *a, long long id)
{
    if (a->running_id == id) {
        return 1;
    }
    for (const struct queued_cmd *q = a->q_head; q != NULL; q = q->next) {
        if (q->cmd.id == id) {
            return 1;
        }
    }
    return 0;
}

static void on_command(struct agent *a, const json_t *frame, int64_t now)
{
    struct command cmd;
    struct stk_error why = {0};
    int is_signed = 0;
    int64_t wall = agent_wall_ms();
    enum command_verdict v =
        command_check(a->pk, a->cluster, frame, &a->journal, wall, &cmd, &is_signed, &why);
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "id=%lld", cmd.id);
    if (v == CMD_IGNORE) {
        log_reason(STK_LOG_WARN, "command_ignored", prefix, why.msg);
        return;
    }
    if (v == CMD_REFUSED) {
        log_reason(STK_LOG_WARN, "command_refused", prefix, why.msg);
        if (is_signed) {
            struct stk_error e = {0};
            if (journal_record(&a->journal, cmd.id, wall, "refused", why.msg, NULL, NULL, &e) !=
                STK_OK) {
                log_reason(STK_LOG_ERROR, "journal_failed", prefix, e.msg);
            }
        }
        send_result(a, cmd.id, "refused", why.msg, NULL, NULL, 0, now);
        return;
    }
    if (v == CMD_REPLAY) {
        const struct journal_entry *e = journal_find(&a->journal, cmd.id, wall);
        json_t *evidence = e->has_evidence ? journal_evidence(&a->journal, cmd.id) : NULL;
        log_event(STK_LOG_INFO, "command_replayed", "id=%lld status=%s", cmd.id, e->status);
        send_result(a, cmd.id, e->status, e->reason, e->details, evidence, 1, now);
        json_decref(evidence);
        return;
    }
    if (command_known(a, cmd.id)) {
        log_event(STK_LOG_INFO, "command_duplicate", "id=%lld", cmd.id);
        send_take(a, command_ack(cmd.id), now);
        return;
    }
    if (a->q_len >= CMD_QUEUE_MAX) {
        send_result(a, cmd.id, "refused", "the agent has too many commands waiting", NULL, NULL, 0,
                    now);
        return;
    }
    log_event(STK_LOG_INFO, "command_accepted", "id=%lld action=%s namespace=%s pod=%s", cmd.id,
              action_kind_name(cmd.action), cmd.ns, cmd.pod);
    send_take(a, command_ack(cmd.id), now);
    queue_command(a, &cmd);
}

static void on_welcome(struct agent *a, const json_t *msg, int64_t now)
{
    json_t *hb = json_object_get(msg, "heartbeat_s");
    if (json_is_integer(hb) && json_integer_value(hb) >= 1 && json_integer_value(hb) <= 3600) {
        a->heartbeat_s = (int)json_integer_value(hb);
    }
    const char *cluster = json_string_value(json_object_get(msg, "cluster"));
    if (cluster != NULL && strcmp(cluster, a->cluster) != 0) {
        char clean[80];
        log_event(STK_LOG_WARN, "cluster_mismatch", "ours=%s server=%s", a->cluster,
                  log_clean(cluster, clean, sizeof(clean)));
    }
    a->welcomed = 1;
    a->attempt = 0;
    a->last_pong = now;
    a->next_ping = now + (int64_t)a->heartbeat_s * 1000;
    log_event(STK_LOG_INFO, "connected", "server=%s cluster=%s heartbeat_s=%d", a->cfg.server,
              a->cluster, a->heartbeat_s);
    /* Tamper reports made while away go now, oldest first. */
    size_t i;
    json_t *f;
    json_array_foreach(a->outbox, i, f)
    {
        send_take(a, json_incref(f), now);
    }
    json_array_clear(a->outbox);
    /* Facts that changed after the hello went out. */
    if (a->facts_text != NULL && (a->sent_text == NULL || strcmp(a->sent_text, a->facts_text))) {
        free(a->sent_text);
        a->sent_text = strdup(a->facts_text);
        send_take(a, json_pack("{s:s, s:O}", "type", "facts", "facts", a->facts), now);
    }
}

/* The frame callback of the connection. */
static enum stk_err on_frame(void *arg, char *payload, size_t len, struct stk_error *err)
{
    struct agent *a = arg;
    int64_t now = agent_now_ms();
    json_t *msg = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    free(payload);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!json_is_object(msg) || type == NULL) {
        json_decref(msg);
        return stk_error_set(err, STK_EINVAL,
                             "the gateway sent a frame that is not a JSON "
                             "object with a type");
    }
    enum stk_err rc = STK_OK;
    if (strcmp(type, "welcome") == 0) {
        on_welcome(a, msg, now);
    } else if (strcmp(type, "pong") == 0) {
        a->last_pong = now;
    } else if (strcmp(type, "command") == 0) {
        on_command(a, msg, now);
    } else if (strcmp(type, "error") == 0) {
        const char *code = json_string_value(json_object_get(msg, "code"));
        const char *message = json_string_value(json_object_get(msg, "message"));
        char c1[64];
        char c2[400];
        log_clean(code, c1, sizeof(c1));
        log_clean(message, c2, sizeof(c2));
        log_event(STK_LOG_WARN, "gateway_error", "code=%s message=%s", c1, c2);
        if (code != NULL && strcmp(code, "revoked") == 0) {
            a->failed = 1;
            snprintf(a->fail_msg, sizeof(a->fail_msg),
                     "the server revoked this agent's certificate; enroll it again with a new "
                     "token (after emptying %s)",
                     a->cfg.state_dir);
            rc = stk_error_set(err, STK_EAUTH, "certificate revoked");
        } else if (code != NULL && strcmp(code, "unknown_type") != 0) {
            rc = stk_error_set(err, STK_EIO, "the gateway refused: %s", message ? message : code);
        }
    } else {
        send_take(a,
                  json_pack("{s:s, s:s, s:s}", "type", "error", "code", "unknown_type", "message",
                            "this agent does not know that frame type"),
                  now);
    }
    json_decref(msg);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Completed jobs */

static void facts_done(struct agent *a, struct job *job, int64_t now)
{
    a->facts_tried = 1;
    if (job->facts == NULL || job->facts_text == NULL) {
        snprintf(a->facts_error, sizeof(a->facts_error), "%s", job->err.msg);
        log_reason(STK_LOG_WARN, "facts_failed", "backend=kube", job->err.msg);
        return;
    }
    a->facts_error[0] = '\0';
    json_decref(a->facts);
    free(a->facts_text);
    a->facts = json_incref(job->facts);
    a->facts_text = job->facts_text;
    job->facts_text = NULL;
    if (a->welcomed && (a->sent_text == NULL || strcmp(a->sent_text, a->facts_text) != 0)) {
        free(a->sent_text);
        a->sent_text = strdup(a->facts_text);
        log_event(STK_LOG_INFO, "facts_sent", "pods=%zu services=%zu",
                  json_array_size(json_object_get(a->facts, "pods")),
                  json_array_size(json_object_get(a->facts, "services")));
        send_take(a, json_pack("{s:s, s:O}", "type", "facts", "facts", a->facts), now);
    }
}

static void command_done(struct agent *a, struct job *job, int64_t now)
{
    const struct command *c = &job->cmd;
    struct action_result *r = &job->result;
    const char *status = action_status_name(r->status);
    struct stk_error e = {0};
    char prefix[400];
    snprintf(prefix, sizeof(prefix), "id=%lld action=%s namespace=%s pod=%s status=%s", c->id,
             action_kind_name(c->action), c->ns, c->pod, status);
    log_reason(r->status == ACTION_SUCCEEDED ? STK_LOG_INFO : STK_LOG_WARN, "action_done", prefix,
               r->reason);
    if (journal_record(&a->journal, c->id, agent_wall_ms(), status, r->reason, r->details,
                       r->evidence, &e) != STK_OK) {
        log_reason(STK_LOG_ERROR, "journal_failed", prefix, e.msg);
    }
    if (r->status == ACTION_SUCCEEDED) {
        char key[STK_ISOLATION_KEY_MAX];
        policy_isolation_key(c->pod, key);
        enum stk_err rc = c->action == ACTION_ISOLATE ? watch_add(&a->watch, c->ns, c->pod, key, &e)
                                                      : watch_remove(&a->watch, c->ns, c->pod, &e);
        if (rc != STK_OK) {
            log_reason(STK_LOG_ERROR, "watch_save_failed", prefix, e.msg);
        }
        a->want_facts = 1; /* the pod's isolated flag or its existence changed */
    }
    send_result(a, c->id, status, r->reason, r->details, r->evidence, 0, now);
}

static void tamper_done(struct agent *a, struct job *job, int64_t now)
{
    size_t i;
    json_t *v;
    json_array_foreach(job->reports, i, v)
    {
        char prefix[400];
        char what[300];
        snprintf(prefix, sizeof(prefix), "namespace=%s pod=%s restored=%s",
                 json_string_value(json_object_get(v, "namespace")),
                 json_string_value(json_object_get(v, "pod")),
                 json_is_true(json_object_get(v, "restored")) ? "true" : "false");
        log_clean(json_string_value(json_object_get(v, "what")), what, sizeof(what));
        log_event(STK_LOG_WARN, "tamper_detected", "%s what=%s", prefix, what);
        if (a->welcomed) {
            send_take(a, json_incref(v), now);
        } else if (json_array_size(a->outbox) < OUTBOX_MAX) {
            json_array_append(a->outbox, v);
        }
    }
    json_array_foreach(job->gone, i, v)
    {
        const char *ns = json_string_value(json_array_get(v, 0));
        const char *pod = json_string_value(json_array_get(v, 1));
        log_event(STK_LOG_INFO, "watch_stopped", "namespace=%s pod=%s reason=pod_gone", ns, pod);
        struct stk_error e = {0};
        (void)watch_remove(&a->watch, ns, pod, &e);
    }
    if (job->failed_checks > 0) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "failed=%zu", job->failed_checks);
        log_reason(STK_LOG_WARN, "tamper_check_failed", prefix, job->err.msg);
    }
}

static void drain_done(struct agent *a, int64_t now)
{
    uint64_t n;
    ssize_t r = read(a->wake_fd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&a->mu);
    struct job *job = a->done_head;
    a->done_head = NULL;
    a->done_tail = NULL;
    pthread_mutex_unlock(&a->mu);
    while (job != NULL) {
        struct job *next = job->next;
        a->busy = 0;
        if (job->kind == JOB_COMMAND) {
            a->running_id = 0;
        }
        if (job->discarded) {
            /* Not journalled: a command that never ran runs when it comes again. */
        } else if (job->kind == JOB_FACTS) {
            facts_done(a, job, now);
        } else if (job->kind == JOB_COMMAND) {
            command_done(a, job, now);
        } else {
            tamper_done(a, job, now);
        }
        job_free(job);
        job = next;
    }
}

/* Gives the worker the next job: commands first, then the tamper check,
 * then facts. One job per agent at a time. */
static void schedule(struct agent *a)
{
    if (a->busy) {
        return;
    }
    struct job *job = NULL;
    if (a->q_head != NULL) {
        struct queued_cmd *q = a->q_head;
        a->q_head = q->next;
        if (a->q_head == NULL) {
            a->q_tail = NULL;
        }
        a->q_len--;
        job = job_new(a, JOB_COMMAND);
        if (job != NULL) {
            job->cmd = q->cmd;
            a->running_id = q->cmd.id;
        }
        free(q);
    } else if (a->want_tamper && a->watch.n > 0) {
        job = job_new(a, JOB_TAMPER);
        if (job != NULL) {
            job->watch = malloc(a->watch.n * sizeof(*job->watch));
            if (job->watch == NULL) {
                free(job);
                return;
            }
            memcpy(job->watch, a->watch.v, a->watch.n * sizeof(*job->watch));
            job->nwatch = a->watch.n;
            a->want_tamper = 0;
        }
    } else if (a->want_facts) {
        job = job_new(a, JOB_FACTS);
        a->want_facts = 0;
    }
    if (job != NULL) {
        a->busy = 1;
        worker_submit(a->worker, &job->w);
    }
}

/* ------------------------------------------------------------------------ */
/* The loop's interface */

int agent_pollfds(struct agent *a, struct pollfd *fds, int max)
{
    int n = 0;
    if (n < max) {
        fds[n++] = (struct pollfd){.fd = a->wake_fd, .events = POLLIN};
    }
    if (n < max) {
        short ev = conn_events(&a->conn);
        fds[n++] = (struct pollfd){.fd = ev ? conn_fd(&a->conn) : -1, .events = ev};
    }
    return n;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int agent_timeout_ms(const struct agent *a, int64_t now)
{
    int64_t next = now + 60000;
    if (a->conn.state == CONN_IDLE) {
        next = min64(next, a->reconnect_at);
    } else if (a->conn.state != CONN_OPEN) {
        next = min64(next, a->conn.deadline_ms + 1);
    } else if (!a->hello_sent) {
        next = min64(next, (a->open_at ? a->open_at : now) + HELLO_WAIT_MS);
    } else if (!a->welcomed) {
        next = min64(next, a->hello_deadline + 1);
    } else {
        next = min64(next, a->next_ping);
    }
    next = min64(next, a->next_facts);
    if (a->watch.n > 0) {
        next = min64(next, a->next_tamper);
    }
    int64_t d = next - now;
    return d < 0 ? 0 : (int)d;
}

static void timers(struct agent *a, int64_t now)
{
    if (now >= a->next_facts) {
        a->want_facts = 1;
        a->next_facts = now + a->cfg.facts_interval_ms;
    }
    if (now >= a->next_tamper) {
        a->want_tamper = a->watch.n > 0;
        a->next_tamper = now + a->cfg.tamper_interval_ms;
    }
    if (a->failed) {
        return;
    }
    if (a->conn.state == CONN_IDLE && now >= a->reconnect_at) {
        struct stk_error e = {0};
        log_event(STK_LOG_INFO, "connecting", "server=%s", a->cfg.server);
        if (conn_start(&a->conn, a->cfg.server, &a->conf, now, a->cfg.connect_timeout_ms, &e) !=
            STK_OK) {
            log_reason(STK_LOG_WARN, "connect_failed", "", e.msg);
            disconnect(a, e.msg, now);
        }
        a->open_at = 0;
        return;
    }
    if (conn_is_open(&a->conn) && !a->hello_sent) {
        if (a->open_at == 0) {
            a->open_at = now;
        }
        /* The hello carries the facts, but a slow API server must not keep
         * the gateway waiting: facts can follow in their own frame. */
        if (a->facts_tried || now - a->open_at >= HELLO_WAIT_MS) {
            send_hello(a, now);
        }
    }
    if (conn_is_open(&a->conn) && a->hello_sent && !a->welcomed && now > a->hello_deadline) {
        disconnect(a, "the gateway did not answer the hello", now);
        return;
    }
    if (a->welcomed) {
        int64_t hb = (int64_t)a->heartbeat_s * 1000;
        if (now - a->last_pong > 2 * hb) {
            char why[96];
            snprintf(why, sizeof(why), "no pong for %lld s",
                     (long long)(now - a->last_pong) / 1000);
            disconnect(a, why, now);
            return;
        }
        if (now >= a->next_ping) {
            a->next_ping = now + hb;
            send_take(a, json_pack("{s:s, s:I}", "type", "ping", "t", (json_int_t)agent_wall_ms()),
                      now);
        }
    }
}

void agent_dispatch(struct agent *a, const struct pollfd *fds, int n, int64_t now)
{
    if (n >= 1 && (fds[0].revents & POLLIN)) {
        drain_done(a, now);
    }
    if (a->conn.state != CONN_IDLE) {
        short rev = n >= 2 && fds[1].fd == conn_fd(&a->conn) ? fds[1].revents : 0;
        struct stk_error e = {0};
        if (conn_progress(&a->conn, rev, now, on_frame, a, &e) != STK_OK) {
            disconnect(a, e.msg, now);
        }
    }
    timers(a, now);
    schedule(a);
    /* What the frames and timers queued goes out now rather than after the
     * next poll. */
    if (conn_is_open(&a->conn) && conn_pending(&a->conn) > 0) {
        struct stk_error e = {0};
        if (conn_progress(&a->conn, 0, now, on_frame, a, &e) != STK_OK) {
            disconnect(a, e.msg, now);
        }
    }
}

int agent_failed(const struct agent *a, struct stk_error *err)
{
    if (a->failed) {
        stk_error_set(err, STK_EAUTH, "%s", a->fail_msg);
    }
    return a->failed;
}

int agent_connected(const struct agent *a)
{
    return a->welcomed;
}

enum stk_err agent_run(struct agent *a, int stop_fd, struct stk_error *err)
{
    log_event(STK_LOG_INFO, "agent_started",
              "version=" STK_AGENT_VERSION_STRING " cluster=%s server=%s backend=%s isolated=%zu",
              a->cluster, a->cfg.server, a->kube.name, a->watch.n);
    for (;;) {
        struct pollfd fds[STK_AGENT_POLLFDS + 1];
        int n = agent_pollfds(a, fds, STK_AGENT_POLLFDS);
        fds[n] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
        int timeout = agent_timeout_ms(a, agent_now_ms());
        int r = poll(fds, (nfds_t)n + 1, timeout);
        if (r < 0 && errno != EINTR) {
            return stk_error_set(err, STK_EIO, "poll: %s", strerror(errno));
        }
        if (r > 0 && (fds[n].revents & POLLIN)) {
            log_event(STK_LOG_INFO, "agent_stopping", "reason=signal");
            return STK_OK;
        }
        if (r < 0) {
            for (int i = 0; i <= n; i++) {
                fds[i].revents = 0;
            }
        }
        agent_dispatch(a, fds, n, agent_now_ms());
        if (agent_failed(a, err)) {
            log_reason(STK_LOG_ERROR, "agent_failed", "", a->fail_msg);
            return STK_EAUTH;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Setup */

static enum stk_err load_tls(struct agent *a, struct stk_error *err)
{
    char p[4096];
    const char *dir = a->cfg.state_dir;
    enum stk_err rc = stk_tls_rng_init(&a->rng, "stockade-agent", err);
    if (rc == STK_OK) {
        rc = state_path(dir, "ca.crt", p, sizeof(p)) == 0
                 ? stk_tls_crt_load(&a->ca, p, err)
                 : stk_error_set(err, STK_EIO, "state directory path too long");
    }
    if (rc == STK_OK && state_path(dir, "agent.crt", p, sizeof(p)) == 0) {
        rc = stk_tls_crt_load(&a->crt, p, err);
    }
    if (rc == STK_OK && state_path(dir, "agent.key", p, sizeof(p)) == 0) {
        rc = stk_tls_key_load(&a->key, p, err);
    }
    if (rc == STK_OK && mbedtls_pk_check_pair(&a->crt.pk, &a->key) != 0) {
        rc = stk_error_set(err, STK_ECRYPTO, "%s/agent.crt does not belong to agent.key", dir);
    }
    if (rc == STK_OK) {
        rc = stk_tls_conf_defaults(&a->conf, MBEDTLS_SSL_IS_CLIENT, &a->rng, err);
    }
    if (rc == STK_OK) {
        /* The pinned CA is the only trust anchor for the gateway. */
        mbedtls_ssl_conf_authmode(&a->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&a->conf, &a->ca, NULL);
        int ret = mbedtls_ssl_conf_own_cert(&a->conf, &a->crt, &a->key);
        if (ret != 0) {
            rc = stk_tls_fail(err, STK_ECRYPTO, "agent certificate", ret);
        }
    }
    return rc;
}

enum stk_err agent_new(const struct agent_config *cfg, struct kube *k, struct agent **out,
                       struct stk_error *err)
{
    *out = NULL;
    struct agent *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        kube_free(k);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    a->cfg = *cfg;
    a->kube = *k;
    memset(k, 0, sizeof(*k));
    a->wake_fd = -1;
    a->heartbeat_s = cfg->heartbeat_s > 0 ? cfg->heartbeat_s : 15;
    pthread_mutex_init(&a->mu, NULL);
    mbedtls_ssl_config_init(&a->conf);
    mbedtls_x509_crt_init(&a->ca);
    mbedtls_x509_crt_init(&a->crt);
    mbedtls_pk_init(&a->key);
    conn_init(&a->conn);
    enum stk_err rc = state_read_cluster(cfg->state_dir, a->cluster, err);
    if (rc == STK_OK) {
        rc = state_read_command_pk(cfg->state_dir, a->pk, err);
    }
    if (rc == STK_OK) {
        rc = load_tls(a, err);
    }
    if (rc == STK_OK) {
        rc = journal_open(&a->journal, cfg->state_dir, agent_wall_ms(), err);
    }
    if (rc == STK_OK) {
        rc = watch_load(&a->watch, cfg->state_dir, err);
    }
    if (rc == STK_OK) {
        a->outbox = json_array();
        a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (a->outbox == NULL || a->wake_fd < 0) {
            rc = stk_error_set(err, STK_ENOMEM, "cannot set up the agent's wake-up");
        }
    }
    if (rc == STK_OK && cfg->worker != NULL) {
        a->worker = cfg->worker;
    } else if (rc == STK_OK) {
        rc = worker_new(1, &a->worker, err);
        a->own_worker = rc == STK_OK;
    }
    if (rc != STK_OK) {
        agent_free(a);
        return rc;
    }
    int64_t now = agent_now_ms();
    a->reconnect_at = now;
    a->next_facts = now;
    a->next_tamper = now + a->cfg.tamper_interval_ms;
    a->want_facts = 1;
    *out = a;
    return STK_OK;
}

void agent_free(struct agent *a)
{
    if (a == NULL) {
        return;
    }
    if (a->own_worker) {
        worker_free(a->worker); /* lets a running job end, hands back queued ones */
        a->worker = NULL;
    }
    /* A shared pool may still run this agent's job: wait for it. */
    while (a->busy && a->wake_fd >= 0) {
        struct pollfd p = {.fd = a->wake_fd, .events = POLLIN};
        (void)poll(&p, 1, 1000);
        drain_done(a, agent_now_ms());
    }
    if (a->wake_fd >= 0) {
        drain_done(a, agent_now_ms());
    }
    conn_close(&a->conn);
    while (a->q_head != NULL) {
        struct queued_cmd *q = a->q_head;
        a->q_head = q->next;
        free(q);
    }
    if (a->wake_fd >= 0) {
        close(a->wake_fd);
    }
    json_decref(a->outbox);
    json_decref(a->facts);
    free(a->facts_text);
    free(a->sent_text);
    journal_release(&a->journal);
    watch_release(&a->watch);
    kube_free(&a->kube);
    mbedtls_ssl_config_free(&a->conf);
    mbedtls_x509_crt_free(&a->ca);
    mbedtls_x509_crt_free(&a->crt);
    mbedtls_pk_free(&a->key);
    stk_tls_rng_release(&a->rng);
    sodium_memzero(a->pk, sizeof(a->pk));
    pthread_mutex_destroy(&a->mu);
    free(a);
}
