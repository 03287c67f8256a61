/* The agent gateway: start and stop, the thread-safe API and the dispatch
 * thread (gateway.h, gateway_int.h). The poll loop is gateway_loop.c. */
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "cmd_sign.h"
#include "frame.h"
#include "gateway_int.h"
#include "log.h"
#include "store_agents.h"
#include "svc_enroll.h"

/* ---- helpers shared with the loop ---- */

long long gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gw_wake(struct gateway *gw)
{
    uint64_t one = 1;
    /* A full counter (EAGAIN) still wakes the loop. */
    ssize_t n = write(gw->wake_fd, &one, sizeof(one));
    (void)n;
}

struct gw_cmd *gw_frame_new(const char *json, size_t len)
{
    unsigned char hdr[STK_FRAME_HEADER];
    if (frame_header(len, hdr) != STK_OK) {
        return NULL;
    }
    struct gw_cmd *c = calloc(1, sizeof(*c) + STK_FRAME_HEADER + len);
    if (c == NULL) {
        return NULL;
    }
    c->kind = GW_CMD_SEND;
    memcpy(c->data, hdr, STK_FRAME_HEADER);
    memcpy(c->data + STK_FRAME_HEADER, json, len);
    c->len = STK_FRAME_HEADER + len;
    return c;
}

struct gw_cmd *gw_frame_json(json_t *obj)
{
    if (obj == NULL) {
        return NULL;
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL) {
        return NULL;
    }
    struct gw_cmd *c = gw_frame_new(text, strlen(text));
    free(text);
    return c;
}

void gw_post(struct gateway *gw, struct gw_cmd *c)
{
    c->next = NULL;
    pthread_mutex_lock(&gw->lock);
    if (gw->cmd_tail != NULL) {
        gw->cmd_tail->next = c;
    } else {
        gw->cmd_head = c;
    }
    gw->cmd_tail = c;
    pthread_mutex_unlock(&gw->lock);
    gw_wake(gw);
}

struct gw_cmd *gw_cmds_take(struct gateway *gw)
{
    pthread_mutex_lock(&gw->lock);
    struct gw_cmd *all = gw->cmd_head;
    gw->cmd_head = gw->cmd_tail = NULL;
    pthread_mutex_unlock(&gw->lock);
    return all;
}

static int queue_over(const struct gateway *gw, size_t items, size_t bytes)
{
    return gw->q_items >= items || gw->q_bytes >= bytes;
}

void gw_enqueue(struct gateway *gw, struct gw_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&gw->qlock);
    if (gw->q_tail != NULL) {
        gw->q_tail->next = it;
    } else {
        gw->q_head = it;
    }
    gw->q_tail = it;
    gw->q_items++;
    gw->q_bytes += it->bytes;
    if (queue_over(gw, GW_QUEUE_ITEMS_MAX, GW_QUEUE_BYTES_MAX)) {
        gw->q_full = 1;
    }
    pthread_cond_signal(&gw->qcond);
    pthread_mutex_unlock(&gw->qlock);
}

int gw_queue_full(struct gateway *gw)
{
    pthread_mutex_lock(&gw->qlock);
    int full = gw->q_full;
    pthread_mutex_unlock(&gw->qlock);
    return full;
}

static struct gw_live *live_find_cluster(struct gateway *gw, const char *cluster)
{
    for (size_t i = 0; i < gw->nlive; i++) {
        if (strcmp(gw->live[i].cluster, cluster) == 0) {
            return &gw->live[i];
        }
    }
    return NULL;
}

static struct gw_live *live_find_conn(struct gateway *gw, uint64_t conn)
{
    for (size_t i = 0; i < gw->nlive; i++) {
        if (gw->live[i].conn == conn) {
            return &gw->live[i];
        }
    }
    return NULL;
}

uint64_t gw_live_add(struct gateway *gw, const char *cluster, long long agent_id, uint64_t conn)
{
    uint64_t replaced = 0;
    pthread_mutex_lock(&gw->lock);
    struct gw_live *l = live_find_cluster(gw, cluster);
    if (l != NULL) {
        replaced = l->conn;
    } else if (gw->nlive < gw->max_conns) {
        l = &gw->live[gw->nlive++];
        snprintf(l->cluster, sizeof(l->cluster), "%s", cluster);
    }
    if (l != NULL) {
        l->agent_id = agent_id;
        l->conn = conn;
        l->queued = 0;
    }
    pthread_mutex_unlock(&gw->lock);
    return replaced;
}

void gw_live_remove(struct gateway *gw, uint64_t conn)
{
    pthread_mutex_lock(&gw->lock);
    struct gw_live *l = live_find_conn(gw, conn);
    if (l != NULL) {
        *l = gw->live[--gw->nlive];
    }
    pthread_mutex_unlock(&gw->lock);
}

void gw_live_written(struct gateway *gw, uint64_t conn, size_t bytes)
{
    pthread_mutex_lock(&gw->lock);
    struct gw_live *l = live_find_conn(gw, conn);
    if (l != NULL) {
        l->queued = l->queued > bytes ? l->queued - bytes : 0;
    }
    pthread_mutex_unlock(&gw->lock);
}

/* ---- the API (gateway.h) ---- */

const char *gateway_address(const struct gateway *gw)
{
    return gw->address;
}

enum stk_err gateway_send(struct gateway *gw, const char *cluster, const char *json, size_t len)
{
    if (len == 0 || len > STK_FRAME_MAX) {
        return STK_ETOOBIG;
    }
    struct gw_cmd *c = gw_frame_new(json, len);
    if (c == NULL) {
        return STK_ENOMEM;
    }
    c->accounted = 1;
    enum stk_err rc = STK_OK;
    pthread_mutex_lock(&gw->lock);
    struct gw_live *l = live_find_cluster(gw, cluster);
    if (l == NULL) {
        rc = STK_ENOTFOUND;
    } else if (l->queued + c->len > GW_SEND_QUEUE_MAX) {
        rc = STK_ELIMIT;
    } else {
        l->queued += c->len;
        c->conn = l->conn;
        if (gw->cmd_tail != NULL) {
            gw->cmd_tail->next = c;
        } else {
            gw->cmd_head = c;
        }
        gw->cmd_tail = c;
    }
    pthread_mutex_unlock(&gw->lock);
    if (rc != STK_OK) {
        free(c);
        return rc;
    }
    gw_wake(gw);
    return STK_OK;
}

int gateway_connected(struct gateway *gw, const char *cluster)
{
    pthread_mutex_lock(&gw->lock);
    int found = live_find_cluster(gw, cluster) != NULL;
    pthread_mutex_unlock(&gw->lock);
    return found;
}

static void post_kick(struct gateway *gw, long long agent_id, int revoked)
{
    struct gw_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_event(STK_LOG_ERROR, "gateway_kick_failed", "agent=%lld reason=out_of_memory",
                  agent_id);
        return;
    }
    c->kind = GW_CMD_KICK;
    c->agent_id = agent_id;
    c->revoked = revoked;
    gw_post(gw, c);
}

void gateway_kick(struct gateway *gw, long long agent_id)
{
    post_kick(gw, agent_id, 0);
}

/* ---- the dispatch thread ---- */

static void post_frame(struct gateway *gw, uint64_t conn, json_t *obj, int close_after)
{
    struct gw_cmd *c = gw_frame_json(obj);
    if (c == NULL) {
        log_event(STK_LOG_ERROR, "gateway_send_failed", "conn=%llu reason=out_of_memory",
                  (unsigned long long)conn);
        return;
    }
    c->conn = conn;
    c->close_after = close_after;
    gw_post(gw, c);
}

static void post_verdict(struct gateway *gw, uint64_t conn, enum gw_verdict v,
                         const struct agent *a)
{
    struct gw_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_event(STK_LOG_ERROR, "gateway_verdict_failed", "conn=%llu reason=out_of_memory",
                  (unsigned long long)conn);
        return; /* the handshake deadline closes the connection */
    }
    c->kind = GW_CMD_VERDICT;
    c->conn = conn;
    c->verdict = v;
    if (a != NULL) {
        c->agent_id = a->id;
        snprintf(c->cluster, sizeof(c->cluster), "%s", a->cluster);
    }
    gw_post(gw, c);
}

static void do_auth(struct gateway *gw, struct gw_item *it)
{
    struct stk_error err;
    stk_error_clear(&err);
    struct agent a;
    enum stk_err rc = store_agents_get_by_serial(gw->db, it->serial, &a, &err);
    if (rc == STK_OK) {
        post_verdict(gw, it->conn, a.revoked_at ? GW_VERDICT_REVOKED : GW_VERDICT_OK, &a);
        return;
    }
    if (rc != STK_ENOTFOUND) {
        log_event(STK_LOG_ERROR, "gateway_auth_failed", "address=%s error=\"%s\"", it->peer.address,
                  err.msg);
    }
    post_verdict(gw, it->conn, GW_VERDICT_UNKNOWN, NULL);
}

static json_t *error_frame(const char *code, const char *message)
{
    return json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
}

static const char *msg_string(json_t *msg, const char *key)
{
    const char *s = json_string_value(json_object_get(msg, key));
    return s != NULL ? s : "";
}

static void do_enroll(struct gateway *gw, struct gw_item *it)
{
    struct stk_error err;
    stk_error_clear(&err);
    json_t *csr = json_object_get(it->msg, "csr");
    struct enroll_request req = {
        .token = json_string_value(json_object_get(it->msg, "token")),
        .csr = json_string_value(csr),
        .csr_len = json_string_length(csr),
        .agent_version = msg_string(it->msg, "agent_version"),
        .address = it->peer.address,
    };
    char version[40];
    log_clean(req.agent_version, version, sizeof(version));
    req.agent_version = version;
    struct enroll_result *res = calloc(1, sizeof(*res));
    enum stk_err rc = STK_ENOMEM;
    if (res != NULL && req.csr != NULL) {
        rc = svc_enroll_agent(gw->db, gw->ca, &req, res, &err);
    } else if (res != NULL) {
        rc = stk_error_set(&err, STK_EINVAL, "csr: expected a PEM certificate request");
    }
    if (rc == STK_OK) {
        log_event(STK_LOG_INFO, "agent_enrolled", "agent=%lld cluster=%s address=%s version=%s",
                  res->agent_id, res->cluster, it->peer.address, version);
        post_frame(gw, it->conn,
                   json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", "enrolled", "cluster",
                             res->cluster, "agent_id", (json_int_t)res->agent_id, "cert",
                             res->cert.pem, "ca", gw->ca->ca_pem, "command_key",
                             gw->command_pk_b64),
                   1);
    } else {
        int refused = rc == STK_EAUTH || rc == STK_EINVAL;
        char reason[256];
        log_event(refused ? STK_LOG_WARN : STK_LOG_ERROR, "agent_refused",
                  "reason=enroll_refused address=%s error=\"%s\"", it->peer.address,
                  log_clean(err.msg, reason, sizeof(reason)));
        post_frame(gw, it->conn,
                   error_frame("enroll_refused",
                               refused ? err.msg : "the server could not enroll the agent"),
                   1);
    }
    free(res);
}

static void do_hello(struct gateway *gw, struct gw_item *it)
{
    struct stk_error err;
    stk_error_clear(&err);
    char version[40];
    log_clean(msg_string(it->msg, "agent_version"), version, sizeof(version));
    if (store_agents_set_connected(gw->db, it->peer.agent_id, 1, it->peer.address, version,
                                   (long long)time(NULL), &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "agent_record_failed", "agent=%lld error=\"%s\"",
                  it->peer.agent_id, err.msg);
        stk_error_clear(&err);
    }
    if (svc_agents_on_hello(gw->app, gw->db, &it->peer, it->msg, &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "agent_hello_failed", "agent=%lld cluster=%s error=\"%s\"",
                  it->peer.agent_id, it->peer.cluster, err.msg);
    }
}

static void do_frame(struct gateway *gw, struct gw_item *it)
{
    struct stk_error err;
    stk_error_clear(&err);
    const char *type = msg_string(it->msg, "type");
    enum stk_err rc = svc_agents_on_frame(gw->app, gw->db, &it->peer, type, it->msg, &err);
    if (rc == STK_OK) {
        return;
    }
    char clean[256];
    log_event(rc == STK_EINVAL ? STK_LOG_WARN : STK_LOG_ERROR, "agent_frame_failed",
              "agent=%lld cluster=%s type=%s code=%s error=\"%s\"", it->peer.agent_id,
              it->peer.cluster, type, stk_err_name(rc), log_clean(err.msg, clean, sizeof(clean)));
    if (rc == STK_EINVAL) {
        /* The frame broke the protocol (svc_agents.h): say so and close. */
        post_frame(gw, it->conn, error_frame("protocol", err.msg[0] ? err.msg : "bad frame"), 1);
    }
}

static void do_disconnect(struct gateway *gw, struct gw_item *it)
{
    struct stk_error err;
    stk_error_clear(&err);
    if (store_agents_set_connected(gw->db, it->peer.agent_id, 0, NULL, NULL, (long long)time(NULL),
                                   &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "agent_record_failed", "agent=%lld error=\"%s\"",
                  it->peer.agent_id, err.msg);
    }
    svc_agents_on_disconnect(gw->app, gw->db, &it->peer);
}

static void item_free(struct gw_item *it)
{
    json_decref(it->msg);
    free(it);
}

static void dispatch_one(struct gateway *gw, struct gw_item *it)
{
    switch (it->kind) {
    case GW_ITEM_AUTH:
        do_auth(gw, it);
        break;
    case GW_ITEM_ENROLL:
        do_enroll(gw, it);
        break;
    case GW_ITEM_HELLO:
        do_hello(gw, it);
        break;
    case GW_ITEM_FRAME:
        do_frame(gw, it);
        break;
    case GW_ITEM_DISCONNECT:
        do_disconnect(gw, it);
        break;
    }
}

/* Drops the live connections of agents revoked since the last look (by
 * anyone: the API, or `stockade agent revoke` in another process). The
 * window overlaps the previous one; kicking twice is harmless. */
static void poll_revocations(struct gateway *gw, long long *since)
{
    long long now = (long long)time(NULL);
    long long *ids = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    if (store_agents_revoked_since(gw->db, *since - 2, &ids, &n, &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "gateway_revocation_check_failed", "error=\"%s\"", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        post_kick(gw, ids[i], 1);
    }
    free(ids);
    *since = now;
}

/* last_seen_at of every connected agent, in one transaction. */
static void touch_live(struct gateway *gw)
{
    pthread_mutex_lock(&gw->lock);
    size_t n = gw->nlive;
    long long *ids = n ? malloc(n * sizeof(*ids)) : NULL;
    for (size_t i = 0; ids != NULL && i < n; i++) {
        ids[i] = gw->live[i].agent_id;
    }
    pthread_mutex_unlock(&gw->lock);
    if (ids == NULL) {
        return;
    }
    struct stk_error err;
    stk_error_clear(&err);
    long long now = (long long)time(NULL);
    enum stk_err rc = db_begin(gw->db, &err);
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        rc = store_agents_touch(gw->db, ids[i], now, &err);
    }
    if (rc == STK_OK) {
        rc = db_commit(gw->db, &err);
    }
    db_rollback(gw->db);
    if (rc != STK_OK) {
        log_event(STK_LOG_WARN, "agent_touch_failed", "agents=%zu error=\"%s\"", n, err.msg);
    }
    free(ids);
}

static void *dispatch_run(void *arg)
{
    struct gateway *gw = arg;
    long long next_tick = gw_now_ms() + GW_REVOKE_POLL_MS;
    long long next_touch = gw_now_ms() + GW_TOUCH_MS;
    long long revoked_since = (long long)time(NULL);
    for (;;) {
        pthread_mutex_lock(&gw->qlock);
        while (gw->q_head == NULL && !atomic_load(&gw->stop_dispatch) && gw_now_ms() < next_tick) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&gw->qcond, &gw->qlock, &until);
        }
        struct gw_item *it = gw->q_head;
        int resume = 0;
        if (it != NULL) {
            gw->q_head = it->next;
            if (gw->q_head == NULL) {
                gw->q_tail = NULL;
            }
            gw->q_items--;
            gw->q_bytes -= it->bytes;
            if (gw->q_full && !queue_over(gw, GW_QUEUE_ITEMS_MAX / 2, GW_QUEUE_BYTES_MAX / 2)) {
                gw->q_full = 0;
                resume = 1;
            }
        }
        int stopping = atomic_load(&gw->stop_dispatch);
        pthread_mutex_unlock(&gw->qlock);
        if (resume) {
            gw_wake(gw);
        }
        if (it != NULL) {
            dispatch_one(gw, it);
            item_free(it);
        } else if (stopping) {
            break;
        }
        long long now = gw_now_ms();
        if (now >= next_tick && !stopping) {
            next_tick = now + GW_REVOKE_POLL_MS;
            svc_agents_tick(gw->app, gw->db);
            poll_revocations(gw, &revoked_since);
        }
        if (now >= next_touch && !stopping) {
            next_touch = now + GW_TOUCH_MS;
            touch_live(gw);
        }
    }
    return NULL;
}

/* ---- start and stop ---- */

/* Binds and listens on "HOST:PORT" ("[v6]:PORT" too), non-blocking. */
static enum stk_err listen_on(struct gateway *gw, const char *spec, struct stk_error *err)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", spec);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        return stk_error_set(err, STK_EINVAL, "agent_listen: expected ADDR:PORT, got '%s'", spec);
    }
    *colon = '\0';
    const char *port = colon + 1;
    char shown[256]; /* the host as written, brackets and all */
    snprintf(shown, sizeof(shown), "%s", host);
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(h, port, &hints, &res);
    if (gai != 0) {
        return stk_error_set(err, STK_EINVAL, "cannot listen on %s: %s", spec, gai_strerror(gai));
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(res);
        return stk_error_set(err, STK_EIO, "cannot listen on %s: %s", spec, strerror(e));
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int bound = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char serv[16];
        if (getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, serv, sizeof(serv), NI_NUMERICSERV) ==
            0) {
            bound = atoi(serv);
        }
    }
    snprintf(gw->address, sizeof(gw->address), "%.80s:%d", shown, bound);
    gw->listen_fd = fd;
    return STK_OK;
}

/* Each connection holds a descriptor: make room for all of them. */
static void raise_fd_limit(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
        log_event(STK_LOG_WARN, "gateway_fd_limit", "wanted=%zu have=%llu", want,
                  (unsigned long long)rl.rlim_cur);
    }
}

static enum stk_err command_key(struct gateway *gw, struct app *app, struct stk_error *err)
{
    unsigned char pk[STK_CMD_PK_BYTES], sk[STK_CMD_SK_BYTES];
    if (app->command_key_loaded) {
        crypto_sign_ed25519_sk_to_pk(pk, app->command_sk);
    } else {
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/command.key", app->cfg.data_dir) >=
            (int)sizeof(path)) {
            return stk_error_set(err, STK_EINVAL, "data dir path too long");
        }
        enum stk_err rc = cmd_key_load_or_create(path, pk, sk, err);
        sodium_memzero(sk, sizeof(sk));
        if (rc != STK_OK) {
            return rc;
        }
    }
    cmd_pk_encode(pk, gw->command_pk_b64);
    return STK_OK;
}

static enum stk_err tls_setup(struct gateway *gw, struct stk_error *err)
{
    enum stk_err rc = stk_tls_rng_init(&gw->rng, "stockade-gateway", err);
    if (rc == STK_OK) {
        rc = stk_tls_conf_defaults(&gw->conf, MBEDTLS_SSL_IS_SERVER, &gw->rng, err);
    }
    if (rc != STK_OK) {
        return rc;
    }
    /* Optional, not required: a connection without a certificate may
     * enroll (docs/agents.md); the loop decides what each may do. */
    mbedtls_ssl_conf_authmode(&gw->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
    mbedtls_ssl_conf_ca_chain(&gw->conf, &gw->ca->ca, NULL);
    int ret = mbedtls_ssl_conf_own_cert(&gw->conf, &gw->ca->gw_chain, &gw->ca->gw_key);
    if (ret != 0) {
        return stk_tls_fail(err, STK_ECRYPTO, "gateway certificate", ret);
    }
    return STK_OK;
}

/* Starts a thread with every signal blocked: SIGTERM and SIGINT belong to
 * main's sigwait(), which may not have blocked them yet. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

enum stk_err gateway_start(struct app *app, struct gateway **out, struct stk_error *err)
{
    *out = NULL;
    struct gateway *gw = calloc(1, sizeof(*gw));
    if (gw == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    gw->app = app;
    gw->listen_fd = -1;
    gw->wake_fd = -1;
    gw->heartbeat_ms = app->cfg.agent_heartbeat_s * 1000LL;
    gw->handshake_ms = app->cfg.agent_handshake_timeout_s * 1000LL;
    gw->max_conns = (size_t)app->cfg.agent_max_connections;
    pthread_mutex_init(&gw->lock, NULL);
    pthread_mutex_init(&gw->qlock, NULL);
    pthread_cond_init(&gw->qcond, NULL);
    mbedtls_ssl_config_init(&gw->conf);
    enum stk_err rc = STK_OK;
    gw->live = calloc(gw->max_conns, sizeof(*gw->live));
    if (gw->live == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    rc = gateway_ca_open(app->cfg.data_dir, &gw->ca, err);
    if (rc != STK_OK) {
        goto out;
    }
    snprintf(app->agent_ca_pin, sizeof(app->agent_ca_pin), "%s", gw->ca->pin);
    rc = command_key(gw, app, err);
    if (rc == STK_OK) {
        rc = tls_setup(gw, err);
    }
    if (rc == STK_OK) {
        rc = db_open(app->cfg.db, &gw->db, err);
    }
    if (rc == STK_OK) {
        /* Nothing is connected to a gateway that is only starting. */
        rc = store_agents_reset_connected(gw->db, err);
    }
    if (rc != STK_OK) {
        goto out;
    }
    raise_fd_limit(gw->max_conns + 256);
    rc = listen_on(gw, app->cfg.agent_listen, err);
    if (rc != STK_OK) {
        goto out;
    }
    gw->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (gw->wake_fd < 0) {
        rc = stk_error_set(err, STK_EIO, "eventfd: %s", strerror(errno));
        goto out;
    }
    rc = gw_loop_new(gw, &gw->loop, err);
    if (rc != STK_OK) {
        goto out;
    }
    /* The hooks may reach app->gateway (gateway_send) from the first frame. */
    *out = gw;
    if (start_thread(&gw->dispatch_thread, dispatch_run, gw) != 0) {
        rc = stk_error_set(err, STK_EINTERNAL, "cannot start the dispatch thread");
        goto out;
    }
    gw->dispatch_started = 1;
    if (start_thread(&gw->loop_thread, gw_loop_run, gw) != 0) {
        rc = stk_error_set(err, STK_EINTERNAL, "cannot start the gateway thread");
        goto out;
    }
    gw->loop_started = 1;
    log_event(STK_LOG_INFO, "gateway_listening",
              "address=%s max_connections=%zu heartbeat_s=%lld ca_pin=%s", gw->address,
              gw->max_conns, gw->heartbeat_ms / 1000, gw->ca->pin);
out:
    if (rc != STK_OK) {
        *out = NULL;
        gateway_free(gw);
    }
    return rc;
}

void gateway_free(struct gateway *gw)
{
    if (gw == NULL) {
        return;
    }
    /* The loop first: closing its connections queues their disconnects,
     * which the dispatch thread then drains before it stops. */
    if (gw->loop_started) {
        atomic_store(&gw->stop_loop, 1);
        gw_wake(gw);
        pthread_join(gw->loop_thread, NULL);
    }
    if (gw->dispatch_started) {
        pthread_mutex_lock(&gw->qlock);
        atomic_store(&gw->stop_dispatch, 1);
        pthread_cond_signal(&gw->qcond);
        pthread_mutex_unlock(&gw->qlock);
        pthread_join(gw->dispatch_thread, NULL);
    }
    gw_loop_free(gw, gw->loop);
    for (struct gw_cmd *c = gw->cmd_head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    for (struct gw_item *it = gw->q_head, *next; it != NULL; it = next) {
        next = it->next;
        item_free(it);
    }
    if (gw->listen_fd >= 0) {
        close(gw->listen_fd);
    }
    if (gw->wake_fd >= 0) {
        close(gw->wake_fd);
    }
    db_free(gw->db);
    mbedtls_ssl_config_free(&gw->conf);
    stk_tls_rng_release(&gw->rng);
    gateway_ca_free(gw->ca);
    free(gw->live);
    pthread_cond_destroy(&gw->qcond);
    pthread_mutex_destroy(&gw->qlock);
    pthread_mutex_destroy(&gw->lock);
    free(gw);
}
