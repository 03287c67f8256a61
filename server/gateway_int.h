/* What the gateway's two halves share: gateway.c (start and stop, the
 * thread-safe API, the dispatch thread) and gateway_loop.c (the poll loop
 * over the listener and every TLS connection). No other module includes
 * this.
 *
 * Threads and what they own:
 * - the loop thread owns every connection and its mbedTLS context; other
 *   threads reach a connection only by posting a gw_cmd (by connection id)
 *   and waking the loop through the eventfd;
 * - the dispatch thread owns gw->db and calls the svc_agents_on_* hooks;
 *   the loop hands it gw_items through a bounded queue;
 * - gw->lock guards the command list and the live registry (which cluster
 *   is on which connection), gw->qlock the dispatch queue. Neither is held
 *   while the other is taken. */
#ifndef STK_GATEWAY_INT_H
#define STK_GATEWAY_INT_H

#include <jansson.h>
#include <mbedtls/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gateway.h"
#include "gateway_ca.h"
#include "stk_tls.h"
#include "svc_agents.h"

/* Bytes gateway_send() may have queued for one agent and not yet written. */
#define GW_SEND_QUEUE_MAX (4u << 20)
/* Bytes queued to one connection from every source (pongs included);
 * past this the peer is not reading and is dropped. */
#define GW_OUT_MAX (8u << 20)
/* The dispatch queue: past either bound the loop stops reading from
 * agents (TCP pushes back on them) until it drains to half. */
#define GW_QUEUE_ITEMS_MAX 4096
#define GW_QUEUE_BYTES_MAX (64u << 20)
/* Time a connection gets to flush its last frame before it is closed. */
#define GW_CLOSE_GRACE_MS 5000
/* Time the dispatch thread gets to answer an enrollment. */
#define GW_ENROLL_ANSWER_MS 30000
/* How often the dispatch thread looks for revoked agents, and writes
 * last_seen_at of the connected ones. */
#define GW_REVOKE_POLL_MS 1000
#define GW_TOUCH_MS 30000

/* Loop -> dispatch thread. */
enum gw_item_kind {
    GW_ITEM_AUTH,       /* a verified certificate: look up `serial` */
    GW_ITEM_ENROLL,     /* the one frame of a connection without a certificate */
    GW_ITEM_HELLO,      /* an agent said hello (the loop answered welcome) */
    GW_ITEM_FRAME,      /* facts, ack, result, tamper */
    GW_ITEM_DISCONNECT, /* a connection that had said hello ended */
};

struct gw_item {
    struct gw_item *next;
    enum gw_item_kind kind;
    uint64_t conn;
    struct agent_peer peer; /* address always; agent and cluster once known */
    char serial[STK_TLS_SERIAL_HEX];
    json_t *msg;  /* owned; NULL for AUTH and DISCONNECT */
    size_t bytes; /* what it counts against GW_QUEUE_BYTES_MAX */
};

/* Any thread -> loop. */
enum gw_cmd_kind {
    GW_CMD_SEND,    /* write `data` (a whole frame) to connection `conn` */
    GW_CMD_VERDICT, /* the answer to a GW_ITEM_AUTH */
    GW_CMD_KICK,    /* drop the connections of `agent_id` */
};

enum gw_verdict {
    GW_VERDICT_OK,
    GW_VERDICT_REVOKED,
    GW_VERDICT_UNKNOWN,
};

/* Also the unit of a connection's send queue: one frame, written from
 * data + off. */
struct gw_cmd {
    struct gw_cmd *next;
    enum gw_cmd_kind kind;
    uint64_t conn;
    long long agent_id;
    char cluster[sizeof(((struct agent_peer *)0)->cluster)];
    enum gw_verdict verdict;
    int close_after; /* SEND: close the connection once this is written */
    int revoked;     /* KICK: tell the agent {"code":"revoked"} first */
    int accounted;   /* SEND: counts against the live entry's queue (gateway_send) */
    size_t len;
    size_t off;
    unsigned char data[];
};

/* An agent that said hello: who gateway_send() reaches for a cluster. */
struct gw_live {
    char cluster[sizeof(((struct agent_peer *)0)->cluster)];
    long long agent_id;
    uint64_t conn;
    size_t queued; /* accounted bytes posted and not yet written */
};

struct gw_loop;

struct gateway {
    struct app *app;
    struct gateway_ca *ca;
    struct stk_tls_rng rng; /* the loop's: handshakes */
    mbedtls_ssl_config conf;
    char command_pk_b64[48];
    int listen_fd;
    int wake_fd; /* eventfd: anything for the loop */
    char address[96];
    long long heartbeat_ms;
    long long handshake_ms;
    size_t max_conns;

    atomic_int stop_loop;
    atomic_int stop_dispatch;
    pthread_t loop_thread;
    pthread_t dispatch_thread;
    int loop_started;
    int dispatch_started;
    struct gw_loop *loop;

    pthread_mutex_t lock; /* cmd list and live registry */
    struct gw_cmd *cmd_head;
    struct gw_cmd *cmd_tail;
    struct gw_live *live;
    size_t nlive;

    pthread_mutex_t qlock; /* dispatch queue */
    pthread_cond_t qcond;
    struct gw_item *q_head;
    struct gw_item *q_tail;
    size_t q_items;
    size_t q_bytes;
    int q_full; /* the loop was told to stop reading */

    struct db *db; /* the dispatch thread's */
};

/* gateway.c, for the loop. */

/* Wakes the loop (eventfd). */
void gw_wake(struct gateway *gw);

/* A SEND command carrying `json` (`len` bytes) framed; NULL when out of
 * memory or the frame is too large. Caller owns it. */
struct gw_cmd *gw_frame_new(const char *json, size_t len);

/* The same for a JSON value (compact text); takes `obj`. */
struct gw_cmd *gw_frame_json(json_t *obj);

/* Appends `c` to the loop's command list (takes it) and wakes the loop. */
void gw_post(struct gateway *gw, struct gw_cmd *c);

/* Takes every pending command, oldest first. */
struct gw_cmd *gw_cmds_take(struct gateway *gw);

/* Queues `it` for the dispatch thread (takes it; never fails: the loop
 * keeps the queue bounded by not reading while gw_queue_full()). */
void gw_enqueue(struct gateway *gw, struct gw_item *it);

/* 1 while the dispatch queue is over its bounds; the dispatch thread wakes
 * the loop when it has drained to half. */
int gw_queue_full(struct gateway *gw);

/* Records that connection `conn` of `agent_id` speaks for `cluster`;
 * returns the connection it replaces (0 when none). */
uint64_t gw_live_add(struct gateway *gw, const char *cluster, long long agent_id, uint64_t conn);

/* Forgets connection `conn` (no-op when it is not registered). */
void gw_live_remove(struct gateway *gw, uint64_t conn);

/* `bytes` of accounted frames to `conn` were written. */
void gw_live_written(struct gateway *gw, uint64_t conn, size_t bytes);

/* gateway_loop.c */

enum stk_err gw_loop_new(struct gateway *gw, struct gw_loop **out, struct stk_error *err);
/* Closes what is left and frees. Accepts NULL. */
void gw_loop_free(struct gateway *gw, struct gw_loop *loop);
/* The loop thread: runs until gw->stop_loop, then closes every connection. */
void *gw_loop_run(void *arg);

/* Milliseconds of CLOCK_MONOTONIC. */
long long gw_now_ms(void);

#endif
