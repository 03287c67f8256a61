/* The one struct that holds all server state (STYLE section 8). */
#ifndef STK_APP_H
#define STK_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "config.h"
#include "identity.h"
#include "migrate.h"

struct mg_context;
struct tmpl_set;
struct static_files;
struct login_gate;
struct cidr_list;
struct db;
struct graph_cache;
struct gateway;

struct app {
    struct config cfg;
    const struct migration_set *migrations;
    int schema_version;           /* what migrate_apply() left the database at */
    struct mg_context *http;      /* civetweb, NULL until started */
    struct tmpl_set *templates;   /* parsed templates/, read-only after start */
    struct static_files *statics; /* /static and /web file server */
    struct login_gate *login_gate; /* password checks in flight */
    struct cidr_list *proxies;     /* anonymising proxies, read-only after start */
    struct graph_cache *graphs;    /* rendered incident graphs, LRU; its own locks (svc_graph.c) */
    struct gateway *gateway;       /* the agent gateway (gateway.h); NULL when not started */
    char agent_ca_pin[65];         /* SHA-256 of the agent CA's public key; set by gateway_start */
    unsigned char command_sk[64];  /* Ed25519 key that signs agent commands (cmd_sign.h) */
    int command_key_loaded;        /* command_sk holds a key; wiped at exit */
    atomic_uint session_epoch;    /* bumped to void every cached session */
    char listen_url[160];         /* http://ADDR:PORT actually bound */
    atomic_int inflight;          /* requests inside the dispatcher */
    atomic_int draining;          /* set at shutdown: answer with Connection: close */
};

/* What one civetweb worker thread owns: its database connection and the
 * sessions it resolved lately (http_auth.c). No other thread touches it. */
#define WORKER_SESSION_SLOTS 64
#define WORKER_SESSION_MS 1000

/* Holds the session token itself (wiped when the worker ends): matching a
 * cached entry then costs a constant-time compare, not a hash. */
struct worker_session {
    char token[48]; /* the cookie value; "" when empty */
    struct principal who;
    long long until_ms; /* CLOCK_MONOTONIC */
    unsigned epoch;
};

struct worker {
    struct db *db;
    struct worker_session sessions[WORKER_SESSION_SLOTS];
};

#endif
