/* The gateway's poll loop (gateway_int.h): one thread, non-blocking
 * sockets, mbedTLS driven step by step, so that a slow or hostile peer
 * costs its own slot and nothing else. Never touches SQLite. */
#include <arpa/inet.h>
#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "gateway_int.h"
#include "log.h"

/* Plaintext read from one connection per turn, so one busy agent cannot
 * starve the others. */
#define READ_BUDGET (64u * 1024u)
#define ACCEPTS_PER_TURN 64
/* After accept() failed for want of descriptors, wait this long. */
#define ACCEPT_BACKOFF_MS 100
#define SCAN_EVERY_MS 200

enum conn_state {
    CONN_HANDSHAKE, /* TLS handshake in progress */
    CONN_AUTHING,   /* verified certificate: waiting for the dispatch thread's verdict */
    CONN_ENROLL,    /* no certificate: may send one enroll frame */
    CONN_ENROLLING, /* that frame is with the dispatch thread */
    CONN_READY,     /* a known agent: hello, then anything */
    CONN_CLOSING,   /* flushing a last frame, then closed */
};

struct conn {
    uint64_t id; /* generation << 32 | slot */
    int fd;
    enum conn_state state;
    mbedtls_ssl_context ssl;
    struct frame_reader fr;
    struct gw_cmd *out_head; /* frames to write, oldest first */
    struct gw_cmd *out_tail;
    size_t out_bytes;
    int hs_events; /* POLLIN or POLLOUT: what the handshake waits for */
    int hello_done;
    int close_after;     /* CONN_CLOSING: close once the queue is written */
    int logged;          /* its end was logged already (a refusal with details) */
    enum conn_state was; /* CONN_CLOSING: the state it was refused in */
    long long accepted_ms;
    long long last_rx_ms;
    long long deadline_ms; /* 0: none (CONN_READY uses the heartbeat) */
    const char *close_reason;
    struct agent_peer peer;
};

struct gw_loop {
    struct conn **slots;
    uint32_t *gens;
    uint32_t *free_slots; /* stack */
    size_t nfree;
    size_t nconns;
    struct pollfd *pfd;
    uint64_t *pconn; /* connection id per pfd entry */
    long long accept_after_ms;
    long long last_scan_ms;
    int paused; /* the dispatch queue is full: not reading */
    unsigned char buf[16384];
};

/* ---- mbedTLS I/O over a non-blocking socket ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    int fd = *(int *)ctx;
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    if (errno == EPIPE || errno == ECONNRESET) {
        return MBEDTLS_ERR_NET_CONN_RESET;
    }
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    int fd = *(int *)ctx;
    ssize_t n = recv(fd, buf, len, 0);
    if (n >= 0) {
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (errno == ECONNRESET || errno == EPIPE) {
        return MBEDTLS_ERR_NET_CONN_RESET;
    }
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* ---- connection table ---- */

static struct conn *conn_get(struct gw_loop *l, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (id == 0 || slot >= (uint32_t)(l->nfree + l->nconns)) {
        return NULL;
    }
    struct conn *c = l->slots[slot];
    return c != NULL && c->id == id ? c : NULL;
}

static const char *state_name(enum conn_state s)
{
    static const char *const names[] = {"handshake", "authing", "enroll",
                                        "enrolling", "ready",   "closing"};
    return names[s];
}

static void peer_address(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%d", ip, port);
    } else {
        snprintf(out, n, "unknown");
    }
}

/* Ends `c`: one log line, the disconnect for the dispatch thread when the
 * agent had said hello, and every resource. */
static void conn_close(struct gateway *gw, struct conn *c, const char *reason)
{
    struct gw_loop *l = gw->loop;
    if (reason == NULL) {
        reason = c->close_reason ? c->close_reason : "closed";
    }
    long long now = gw_now_ms();
    if (c->logged) {
        /* said already, with more detail than we have here */
    } else if (c->peer.agent_id != 0) {
        log_event(STK_LOG_INFO, "agent_disconnected",
                  "agent=%lld cluster=%s address=%s reason=%s connected_s=%lld", c->peer.agent_id,
                  c->peer.cluster, c->peer.address, reason, (now - c->accepted_ms) / 1000);
    } else {
        /* Anything that ends before we knew the agent is a refusal. */
        log_event(STK_LOG_INFO, "agent_refused", "address=%s reason=%s state=%s", c->peer.address,
                  reason, state_name(c->state == CONN_CLOSING ? c->was : c->state));
    }
    if (c->hello_done) {
        gw_live_remove(gw, c->id);
        struct gw_item *it = calloc(1, sizeof(*it));
        if (it != NULL) {
            it->kind = GW_ITEM_DISCONNECT;
            it->conn = c->id;
            it->peer = c->peer;
            gw_enqueue(gw, it);
        } else {
            log_event(STK_LOG_ERROR, "agent_disconnect_lost", "agent=%lld", c->peer.agent_id);
        }
    }
    /* Best effort and non-blocking; mbedTLS sends nothing before the
     * handshake is over. */
    mbedtls_ssl_close_notify(&c->ssl);
    close(c->fd);
    mbedtls_ssl_free(&c->ssl);
    frame_reader_release(&c->fr);
    for (struct gw_cmd *q = c->out_head, *next; q != NULL; q = next) {
        next = q->next;
        free(q);
    }
    uint32_t slot = (uint32_t)c->id;
    l->slots[slot] = NULL;
    l->free_slots[l->nfree++] = slot;
    l->nconns--;
    free(c);
}

/* ---- writing ---- */

/* Writes what is queued until the socket would block. -1 when the
 * connection failed (the caller closes it). */
static int conn_flush(struct gateway *gw, struct conn *c)
{
    while (c->out_head != NULL) {
        struct gw_cmd *q = c->out_head;
        int ret = mbedtls_ssl_write(&c->ssl, q->data + q->off, q->len - q->off);
        if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
            return 0; /* called again with the same arguments, as mbedTLS requires */
        }
        if (ret < 0) {
            c->close_reason = "write_failed";
            return -1;
        }
        q->off += (size_t)ret;
        if (q->off < q->len) {
            continue;
        }
        c->out_head = q->next;
        if (c->out_head == NULL) {
            c->out_tail = NULL;
        }
        c->out_bytes -= q->len;
        if (q->accounted) {
            gw_live_written(gw, c->id, q->len);
        }
        free(q);
    }
    return 0;
}

/* Queues the frame `q` (taken) on `c`. -1 when the queue is over its
 * bound: the peer does not read and is dropped. */
static int conn_queue(struct conn *c, struct gw_cmd *q)
{
    if (c->out_bytes + q->len > GW_OUT_MAX) {
        free(q);
        c->close_reason = "send_queue_full";
        return -1;
    }
    q->next = NULL;
    q->off = 0;
    if (c->out_tail != NULL) {
        c->out_tail->next = q;
    } else {
        c->out_head = q;
    }
    c->out_tail = q;
    c->out_bytes += q->len;
    return 0;
}

/* Queues `obj` (taken) as a frame and writes what it can. -1: close. */
static int conn_send_json(struct gateway *gw, struct conn *c, json_t *obj)
{
    struct gw_cmd *q = gw_frame_json(obj);
    if (q == NULL) {
        c->close_reason = "out_of_memory";
        return -1;
    }
    if (conn_queue(c, q) != 0) {
        return -1;
    }
    return conn_flush(gw, c);
}

/* Puts `c` in CONN_CLOSING: it reads nothing more, and gateway_send()
 * no longer reaches it. */
static void conn_closing(struct gateway *gw, struct conn *c)
{
    if (c->hello_done) {
        gw_live_remove(gw, c->id);
    }
    c->was = c->state == CONN_CLOSING ? c->was : c->state;
    c->state = CONN_CLOSING;
    c->close_after = 1;
    c->deadline_ms = gw_now_ms() + GW_CLOSE_GRACE_MS;
}

/* Sends an error frame and closes once it is written. */
static void conn_refuse(struct gateway *gw, struct conn *c, const char *code, const char *message,
                        const char *reason)
{
    c->close_reason = reason;
    conn_closing(gw, c);
    json_t *e = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
    if (conn_send_json(gw, c, e) != 0 || c->out_head == NULL) {
        conn_close(gw, c, NULL);
    }
}

/* ---- frames ---- */

static void enqueue_msg(struct gateway *gw, struct conn *c, enum gw_item_kind kind, json_t *msg,
                        size_t bytes)
{
    struct gw_item *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        json_decref(msg);
        log_event(STK_LOG_ERROR, "agent_frame_lost", "agent=%lld reason=out_of_memory",
                  c->peer.agent_id);
        return;
    }
    it->kind = kind;
    it->conn = c->id;
    it->peer = c->peer;
    it->msg = msg;
    it->bytes = bytes + sizeof(*it);
    gw_enqueue(gw, it);
}

/* hello: take over the cluster from an older connection, hand the frame
 * to the dispatch thread, answer welcome. 0, or -1 when `c` was closed. */
static int on_hello(struct gateway *gw, struct conn *c, json_t *msg, size_t bytes)
{
    /* One live connection per cluster: the newer one wins (the older is
     * most likely a half-dead link the agent already gave up on). Its
     * disconnect is queued before this hello, so the hooks see them in
     * that order. Registered before welcome is written: an agent that
     * has its welcome is reachable through gateway_send(). */
    uint64_t older = gw_live_add(gw, c->peer.cluster, c->peer.agent_id, c->id);
    struct conn *o = older ? conn_get(gw->loop, older) : NULL;
    if (o != NULL && o != c) {
        conn_close(gw, o, "replaced");
    }
    c->hello_done = 1;
    log_event(STK_LOG_INFO, "agent_connected", "agent=%lld cluster=%s address=%s", c->peer.agent_id,
              c->peer.cluster, c->peer.address);
    /* Whatever the hooks send goes through this thread after we return,
     * so welcome is still the first frame on the wire. */
    enqueue_msg(gw, c, GW_ITEM_HELLO, msg, bytes);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long server_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    json_t *welcome = json_pack(
        "{s:s, s:s, s:I, s:I}", "type", "welcome", "cluster", c->peer.cluster, "heartbeat_s",
        (json_int_t)(gw->heartbeat_ms / 1000), "server_time", (json_int_t)server_ms);
    if (conn_send_json(gw, c, welcome) != 0) {
        conn_close(gw, c, NULL);
        return -1;
    }
    return 0;
}

/* One whole frame from `c` (payload taken). 0, or -1 when `c` was closed
 * or stopped reading. */
static int on_frame(struct gateway *gw, struct conn *c, char *payload, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    free(payload);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!json_is_object(msg) || type == NULL) {
        json_decref(msg);
        conn_refuse(gw, c, "protocol", "a frame must be a JSON object with a string type",
                    "bad_frame");
        return -1;
    }
    if (c->state == CONN_ENROLL) {
        if (strcmp(type, "enroll") != 0) {
            json_decref(msg);
            conn_refuse(gw, c, "protocol",
                        "a connection without a client certificate may only enroll",
                        "not_enrolled");
            return -1;
        }
        c->state = CONN_ENROLLING;
        c->deadline_ms = gw_now_ms() + GW_ENROLL_ANSWER_MS;
        enqueue_msg(gw, c, GW_ITEM_ENROLL, msg, len);
        return -1;
    }
    if (!c->hello_done) {
        if (strcmp(type, "hello") != 0) {
            json_decref(msg);
            conn_refuse(gw, c, "protocol", "the first frame must be hello", "no_hello");
            return -1;
        }
        return on_hello(gw, c, msg, len);
    }
    if (strcmp(type, "ping") == 0) {
        json_t *pong = json_pack("{s:s}", "type", "pong");
        json_t *t = json_object_get(msg, "t");
        if (pong != NULL && t != NULL) {
            json_object_set(pong, "t", t);
        }
        json_decref(msg);
        if (conn_send_json(gw, c, pong) != 0) {
            conn_close(gw, c, NULL);
            return -1;
        }
        return 0;
    }
    if (strcmp(type, "facts") == 0 || strcmp(type, "ack") == 0 || strcmp(type, "result") == 0 ||
        strcmp(type, "tamper") == 0) {
        enqueue_msg(gw, c, GW_ITEM_FRAME, msg, len);
        return 0;
    }
    if (strcmp(type, "hello") == 0) {
        json_decref(msg);
        conn_refuse(gw, c, "protocol", "hello was already sent", "hello_twice");
        return -1;
    }
    /* Newer agents may send more: refuse the frame, keep the connection. */
    json_decref(msg);
    json_t *e = json_pack("{s:s, s:s, s:s}", "type", "error", "code", "unknown_type", "message",
                          "unknown message type");
    if (conn_send_json(gw, c, e) != 0) {
        conn_close(gw, c, NULL);
        return -1;
    }
    return 0;
}

static int conn_reading(const struct conn *c)
{
    return c->state == CONN_READY || c->state == CONN_ENROLL;
}

/* Reads and handles frames until the socket is drained, the budget is
 * spent or the connection stops reading. */
static void conn_read(struct gateway *gw, struct conn *c)
{
    struct gw_loop *l = gw->loop;
    size_t budget = READ_BUDGET;
    while (budget > 0 && conn_reading(c)) {
        if (gw_queue_full(gw)) {
            l->paused = 1;
            return;
        }
        int ret = mbedtls_ssl_read(&c->ssl, l->buf, sizeof(l->buf));
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            return;
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
            ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_NET_CONN_RESET) {
            conn_close(gw, c, "closed_by_peer");
            return;
        }
        if (ret < 0) {
            conn_close(gw, c, "tls_error");
            return;
        }
        c->last_rx_ms = gw_now_ms();
        budget = (size_t)ret >= budget ? 0 : budget - (size_t)ret;
        size_t pos = 0;
        while (pos < (size_t)ret && conn_reading(c)) {
            size_t used = 0, plen = 0;
            char *payload = NULL;
            enum stk_err rc =
                frame_reader_feed(&c->fr, l->buf + pos, (size_t)ret - pos, &used, &payload, &plen);
            pos += used;
            if (rc == STK_ETOOBIG) {
                conn_refuse(gw, c, "protocol", "frame longer than 1 MiB", "frame_too_large");
                return;
            }
            if (rc != STK_OK) {
                conn_refuse(gw, c, "protocol", "empty frame", "empty_frame");
                return;
            }
            if (payload != NULL && on_frame(gw, c, payload, plen) != 0) {
                return;
            }
        }
    }
}

/* ---- handshake ---- */

static void on_handshake_done(struct gateway *gw, struct conn *c)
{
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (peer == NULL) {
        c->state = CONN_ENROLL;
        c->deadline_ms = gw_now_ms() + gw->handshake_ms;
        return;
    }
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    if (flags != 0) {
        /* A certificate that does not verify (another CA, expired, not for
         * clients) is refused outright, not treated as "no certificate". */
        char why[256];
        int n = mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
        for (int i = 0; i < n; i++) {
            if (why[i] == '\n') {
                why[i] = ';';
            }
        }
        char clean[256];
        log_event(STK_LOG_WARN, "agent_refused", "address=%s reason=bad_certificate detail=\"%s\"",
                  c->peer.address, log_clean(why, clean, sizeof(clean)));
        c->logged = 1;
        conn_close(gw, c, "bad_certificate");
        return;
    }
    struct gw_item *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        conn_close(gw, c, "out_of_memory");
        return;
    }
    it->kind = GW_ITEM_AUTH;
    it->conn = c->id;
    it->peer = c->peer;
    stk_tls_crt_serial_hex(peer, it->serial);
    it->bytes = sizeof(*it);
    c->state = CONN_AUTHING;
    c->deadline_ms = gw_now_ms() + gw->handshake_ms;
    gw_enqueue(gw, it);
}

static void conn_handshake(struct gateway *gw, struct conn *c)
{
    int ret = mbedtls_ssl_handshake(&c->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
        c->hs_events = POLLIN;
        return;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->hs_events = POLLOUT;
        return;
    }
    if (ret != 0) {
        char why[160], clean[160];
        mbedtls_strerror(ret, why, sizeof(why));
        log_event(STK_LOG_INFO, "agent_refused", "address=%s reason=handshake error=\"%s\"",
                  c->peer.address, log_clean(why, clean, sizeof(clean)));
        c->logged = 1;
        conn_close(gw, c, "handshake");
        return;
    }
    on_handshake_done(gw, c);
}

/* ---- commands from other threads ---- */

static void on_verdict(struct gateway *gw, struct gw_cmd *cmd)
{
    struct conn *c = conn_get(gw->loop, cmd->conn);
    if (c == NULL || c->state != CONN_AUTHING) {
        return;
    }
    if (cmd->verdict == GW_VERDICT_UNKNOWN) {
        conn_close(gw, c, "unknown_certificate");
        return;
    }
    if (cmd->verdict == GW_VERDICT_REVOKED) {
        log_event(STK_LOG_WARN, "agent_refused", "agent=%lld cluster=%s address=%s reason=revoked",
                  cmd->agent_id, cmd->cluster, c->peer.address);
        c->logged = 1;
        conn_refuse(gw, c, "revoked", "this agent's certificate was revoked", "revoked");
        return;
    }
    c->peer.agent_id = cmd->agent_id;
    snprintf(c->peer.cluster, sizeof(c->peer.cluster), "%s", cmd->cluster);
    c->state = CONN_READY;
    c->deadline_ms = 0;
    c->last_rx_ms = gw_now_ms();
    /* Frames may already wait in mbedTLS's buffer: read them now. */
    conn_read(gw, c);
}

static void on_kick(struct gateway *gw, struct gw_cmd *cmd)
{
    struct gw_loop *l = gw->loop;
    size_t cap = l->nfree + l->nconns;
    for (size_t i = 0; i < cap; i++) {
        struct conn *c = l->slots[i];
        if (c == NULL || c->peer.agent_id != cmd->agent_id || c->state == CONN_CLOSING) {
            continue;
        }
        if (cmd->revoked) {
            conn_refuse(gw, c, "revoked", "this agent's certificate was revoked", "revoked");
        } else {
            conn_close(gw, c, "kicked");
        }
    }
}

static void on_send(struct gateway *gw, struct gw_cmd *cmd)
{
    struct conn *c = conn_get(gw->loop, cmd->conn);
    if (c == NULL || (c->state == CONN_CLOSING && !cmd->close_after)) {
        free(cmd);
        return;
    }
    int close_after = cmd->close_after;
    if (c->state == CONN_ENROLLING) {
        c->logged = 1; /* the dispatch thread logged the enrollment's outcome */
    }
    if (conn_queue(c, cmd) != 0 || conn_flush(gw, c) != 0) {
        conn_close(gw, c, NULL);
        return;
    }
    if (close_after) {
        conn_closing(gw, c);
        if (c->out_head == NULL) {
            conn_close(gw, c, NULL);
        }
    }
}

static void run_commands(struct gateway *gw)
{
    struct gw_cmd *all = gw_cmds_take(gw);
    while (all != NULL) {
        struct gw_cmd *cmd = all;
        all = all->next;
        cmd->next = NULL;
        switch (cmd->kind) {
        case GW_CMD_SEND:
            on_send(gw, cmd); /* takes cmd */
            continue;
        case GW_CMD_VERDICT:
            on_verdict(gw, cmd);
            break;
        case GW_CMD_KICK:
            on_kick(gw, cmd);
            break;
        }
        free(cmd);
    }
}

/* ---- accepting ---- */

static void accept_some(struct gateway *gw)
{
    struct gw_loop *l = gw->loop;
    for (int i = 0; i < ACCEPTS_PER_TURN && l->nfree > 0; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(gw->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_event(STK_LOG_WARN, "gateway_accept_failed", "error=\"%s\" connections=%zu",
                          strerror(errno), l->nconns);
                l->accept_after_ms = gw_now_ms() + ACCEPT_BACKOFF_MS;
            }
            return;
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            return;
        }
        stk_tls_set_nodelay(fd);
        c->fd = fd;
        peer_address(&ss, c->peer.address, sizeof(c->peer.address));
        mbedtls_ssl_init(&c->ssl);
        frame_reader_init(&c->fr, STK_FRAME_MAX);
        int ret = mbedtls_ssl_setup(&c->ssl, &gw->conf);
        if (ret != 0) {
            mbedtls_ssl_free(&c->ssl);
            close(fd);
            free(c);
            log_event(STK_LOG_ERROR, "gateway_accept_failed", "error=ssl_setup code=-0x%04x",
                      (unsigned)-ret);
            return;
        }
        mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
        uint32_t slot = l->free_slots[--l->nfree];
        l->gens[slot]++;
        c->id = (uint64_t)l->gens[slot] << 32 | slot;
        c->state = CONN_HANDSHAKE;
        c->hs_events = POLLIN;
        c->accepted_ms = gw_now_ms();
        c->last_rx_ms = c->accepted_ms;
        c->deadline_ms = c->accepted_ms + gw->handshake_ms;
        l->slots[slot] = c;
        l->nconns++;
    }
}

/* ---- the loop ---- */

static short conn_events(const struct gw_loop *l, const struct conn *c)
{
    short ev = 0;
    if (c->state == CONN_HANDSHAKE) {
        return (short)c->hs_events;
    }
    if (c->out_head != NULL) {
        ev |= POLLOUT;
    }
    if (conn_reading(c) && !l->paused) {
        ev |= POLLIN;
    }
    return ev;
}

/* Closes connections past their deadline or silent too long. */
static void scan_timeouts(struct gateway *gw, long long now)
{
    struct gw_loop *l = gw->loop;
    size_t cap = l->nfree + l->nconns;
    for (size_t i = 0; i < cap; i++) {
        struct conn *c = l->slots[i];
        if (c == NULL) {
            continue;
        }
        if (c->state == CONN_READY) {
            if (!l->paused && now - c->last_rx_ms > 3 * gw->heartbeat_ms) {
                conn_close(gw, c, "heartbeat_timeout");
            }
            continue;
        }
        if (c->deadline_ms != 0 && now >= c->deadline_ms) {
            static const char *const why[] = {
                "handshake_timeout",     "auth_timeout", "enroll_timeout",
                "enroll_answer_timeout", "ready",        "close_timeout"};
            if (c->state == CONN_CLOSING) {
                c->close_reason = c->close_reason ? c->close_reason : why[c->state];
                conn_close(gw, c, NULL);
            } else {
                conn_close(gw, c, why[c->state]);
            }
        }
    }
}

static void service(struct gateway *gw, struct conn *c, short revents)
{
    struct gw_loop *l = gw->loop;
    if (c->state == CONN_HANDSHAKE) {
        if (revents & (POLLERR | POLLNVAL)) {
            conn_close(gw, c, "socket_error");
            return;
        }
        conn_handshake(gw, c);
        return;
    }
    if ((revents & POLLOUT) && conn_flush(gw, c) != 0) {
        conn_close(gw, c, NULL);
        return;
    }
    if (c->state == CONN_CLOSING && c->out_head == NULL) {
        conn_close(gw, c, NULL);
        return;
    }
    if (conn_reading(c) && !l->paused &&
        ((revents & (POLLIN | POLLHUP | POLLERR)) || mbedtls_ssl_check_pending(&c->ssl))) {
        conn_read(gw, c);
        return;
    }
    if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
        conn_close(gw, c, "closed_by_peer");
    }
}

/* Milliseconds poll() may sleep: until the next deadline, at most 1 s; 0
 * when mbedTLS holds data already read from a socket. */
static int poll_timeout(struct gateway *gw, long long now)
{
    struct gw_loop *l = gw->loop;
    long long wait = 1000;
    size_t cap = l->nfree + l->nconns;
    for (size_t i = 0; i < cap; i++) {
        struct conn *c = l->slots[i];
        if (c == NULL) {
            continue;
        }
        if (conn_reading(c) && !l->paused && mbedtls_ssl_check_pending(&c->ssl)) {
            return 0;
        }
        long long due =
            c->state == CONN_READY ? c->last_rx_ms + 3 * gw->heartbeat_ms + 1 : c->deadline_ms;
        if (due != 0 && due - now < wait) {
            wait = due - now;
        }
    }
    if (l->accept_after_ms > now && l->accept_after_ms - now < wait) {
        wait = l->accept_after_ms - now;
    }
    return wait < 0 ? 0 : (int)wait;
}

static void resume_reading(struct gateway *gw, long long now)
{
    struct gw_loop *l = gw->loop;
    l->paused = 0;
    /* Silence while we were not reading is ours, not the agents'. */
    size_t cap = l->nfree + l->nconns;
    for (size_t i = 0; i < cap; i++) {
        if (l->slots[i] != NULL && l->slots[i]->state == CONN_READY) {
            l->slots[i]->last_rx_ms = now;
        }
    }
}

void *gw_loop_run(void *arg)
{
    struct gateway *gw = arg;
    struct gw_loop *l = gw->loop;
    while (!atomic_load(&gw->stop_loop)) {
        long long now = gw_now_ms();
        if (l->paused && !gw_queue_full(gw)) {
            resume_reading(gw, now);
        }
        nfds_t n = 0;
        l->pfd[n] = (struct pollfd){.fd = gw->wake_fd, .events = POLLIN};
        l->pconn[n++] = 0;
        int listening = l->nfree > 0 && now >= l->accept_after_ms;
        l->pfd[n] = (struct pollfd){.fd = listening ? gw->listen_fd : -1, .events = POLLIN};
        l->pconn[n++] = 0;
        size_t cap = l->nfree + l->nconns;
        for (size_t i = 0; i < cap; i++) {
            struct conn *c = l->slots[i];
            if (c != NULL) {
                l->pfd[n] = (struct pollfd){.fd = c->fd, .events = conn_events(l, c)};
                l->pconn[n++] = c->id;
            }
        }
        int ready = poll(l->pfd, n, poll_timeout(gw, now));
        if (ready < 0 && errno != EINTR) {
            log_event(STK_LOG_ERROR, "gateway_poll_failed", "error=\"%s\"", strerror(errno));
            struct timespec pause = {0, 100 * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        if (l->pfd[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(gw->wake_fd, &v, sizeof(v));
            (void)r;
        }
        run_commands(gw);
        if (l->pfd[1].revents & POLLIN) {
            accept_some(gw);
        }
        for (nfds_t i = 2; i < n; i++) {
            struct conn *c = conn_get(l, l->pconn[i]);
            if (c == NULL) {
                continue; /* closed earlier in this turn */
            }
            short rev = ready > 0 ? l->pfd[i].revents : 0;
            if (rev != 0 || (conn_reading(c) && mbedtls_ssl_check_pending(&c->ssl))) {
                service(gw, c, rev);
            }
        }
        now = gw_now_ms();
        if (now - l->last_scan_ms >= SCAN_EVERY_MS) {
            l->last_scan_ms = now;
            scan_timeouts(gw, now);
        }
    }
    /* Shutting down: every agent learns by the connection closing, and the
     * dispatch thread gets the disconnects. */
    run_commands(gw);
    size_t cap = l->nfree + l->nconns;
    for (size_t i = 0; i < cap; i++) {
        if (l->slots[i] != NULL) {
            conn_close(gw, l->slots[i], "shutdown");
        }
    }
    return NULL;
}

enum stk_err gw_loop_new(struct gateway *gw, struct gw_loop **out, struct stk_error *err)
{
    *out = NULL;
    size_t max = gw->max_conns;
    struct gw_loop *l = calloc(1, sizeof(*l));
    if (l != NULL) {
        l->slots = calloc(max, sizeof(*l->slots));
        l->gens = calloc(max, sizeof(*l->gens));
        l->free_slots = calloc(max, sizeof(*l->free_slots));
        l->pfd = calloc(max + 2, sizeof(*l->pfd));
        l->pconn = calloc(max + 2, sizeof(*l->pconn));
    }
    if (l == NULL || l->slots == NULL || l->gens == NULL || l->free_slots == NULL ||
        l->pfd == NULL || l->pconn == NULL) {
        gw_loop_free(gw, l);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    /* Slot 0 is handed out last and generations start at 1: no id is 0. */
    for (size_t i = 0; i < max; i++) {
        l->free_slots[i] = (uint32_t)i;
    }
    l->nfree = max;
    *out = l;
    return STK_OK;
}

void gw_loop_free(struct gateway *gw, struct gw_loop *l)
{
    if (l == NULL) {
        return;
    }
    if (l->slots != NULL) {
        size_t cap = l->nfree + l->nconns;
        for (size_t i = 0; i < cap; i++) {
            if (l->slots[i] != NULL) {
                conn_close(gw, l->slots[i], "shutdown");
            }
        }
    }
    free(l->slots);
    free(l->gens);
    free(l->free_slots);
    free(l->pfd);
    free(l->pconn);
    free(l);
}
