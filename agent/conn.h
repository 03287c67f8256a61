/* One TLS connection to the agent gateway, carrying frames (common/frame.h),
 * as a non-blocking state machine a poll loop drives: conn_events() says
 * what to poll for, conn_progress() does whatever the socket allows and
 * hands complete frames to a callback. Nothing blocks, so one thread can
 * drive many connections (benches run many agents in one process).
 *
 * The TLS configuration (trust anchor, own certificate, the name
 * "stockade-gateway") belongs to the caller and must outlive the
 * connection. */
#ifndef STK_AGENT_CONN_H
#define STK_AGENT_CONN_H

#include <jansson.h>
#include <mbedtls/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "frame.h"

#define STK_CONN_OUT_MAX (8u * 1024 * 1024) /* bytes queued for the gateway */

enum conn_state {
    CONN_IDLE = 0,
    CONN_CONNECTING,
    CONN_HANDSHAKE,
    CONN_OPEN,
};

struct conn {
    enum conn_state state;
    int fd;
    int ssl_set; /* ssl holds a context to free */
    mbedtls_ssl_context ssl;
    int want_write; /* the last TLS call is waiting for the socket to take bytes */
    struct frame_reader reader;
    struct buf out;      /* framed bytes not yet written */
    size_t out_off;      /* how many of them are */
    size_t wlen;         /* length of a write mbedTLS asked to repeat, 0: none */
    int64_t deadline_ms; /* for connect + handshake */
    char peer[300];      /* HOST:PORT, for messages */
};

/* Fills `c` idle. */
void conn_init(struct conn *c);

/* Starts connecting to `hostport` ("HOST:PORT", "[v6]:PORT"). The handshake
 * must finish within `timeout_ms` of `now_ms`. STK_EINVAL for a malformed
 * address, STK_EIO when it does not resolve or the socket fails. */
enum stk_err conn_start(struct conn *c, const char *hostport, const mbedtls_ssl_config *conf,
                        int64_t now_ms, int timeout_ms, struct stk_error *err);

/* The fd to poll (-1 when idle) and the events to poll it for. */
int conn_fd(const struct conn *c);
short conn_events(const struct conn *c);

/* The frame callback: takes `payload` (free() it); a non-OK return ends
 * the connection with that error. */
typedef enum stk_err (*conn_frame_fn)(void *arg, char *payload, size_t len, struct stk_error *err);

/* Moves the connection on after poll said `revents` (0 is fine: it checks
 * the deadline and writes what is queued). Complete frames go to `fn`. A
 * non-OK return means the connection is over (the reason in `err`: "cannot
 * reach the gateway at H:P: ...", "gateway certificate not trusted: ...",
 * "gateway closed the connection", a frame error); call conn_close(). */
enum stk_err conn_progress(struct conn *c, short revents, int64_t now_ms, conn_frame_fn fn,
                           void *arg, struct stk_error *err);

/* Queues `msg` as one frame. STK_ETOOBIG over the frame limit, STK_ELIMIT
 * when too much is queued already (the gateway does not read). */
enum stk_err conn_send(struct conn *c, const json_t *msg, struct stk_error *err);

/* 1 when the handshake is done. */
int conn_is_open(const struct conn *c);

/* Bytes queued and not yet written. */
size_t conn_pending(const struct conn *c);

/* The certificate chain the gateway sent (after the handshake), or NULL. */
const mbedtls_x509_crt *conn_peer_chain(const struct conn *c);

/* Closes the socket and frees everything; `c` is idle again. */
void conn_close(struct conn *c);

/* Splits "HOST:PORT" / "[v6]:PORT" into host (no brackets) and port.
 * -1 when malformed. */
int conn_split_hostport(const char *hostport, char *host, size_t hn, char *port, size_t pn);

#endif
