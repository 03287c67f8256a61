/* The agent gateway: the mutual-TLS listener where cluster agents connect
 * (docs/agents.md). One thread polls every connection (non-blocking
 * mbedTLS), so idle agents cost memory, not threads, and a slow or hostile
 * agent cannot stall the others. Frames from agents are handed to a second
 * thread, which owns a database connection and calls the svc_agents_on_*
 * hooks in arrival order; the poll loop never touches SQLite. */
#ifndef STK_GATEWAY_H
#define STK_GATEWAY_H

#include "err.h"

struct app;
struct gateway;

/* Creates the CA, gateway certificate and command key in app->cfg.data_dir
 * when missing, binds app->cfg.agent_listen and starts the threads.
 * Caller frees with gateway_free(). */
enum stk_err gateway_start(struct app *app, struct gateway **out, struct stk_error *err);

/* Closes every connection, stops the threads, frees. Accepts NULL. */
void gateway_free(struct gateway *gw);

/* "ADDR:PORT" actually bound (port 0 resolved), for the startup line. */
const char *gateway_address(const struct gateway *gw);

/* Queues one frame (a JSON object's text, copied) for the agent of
 * `cluster`. Any thread. STK_ENOTFOUND when no agent of that cluster is
 * connected (after its hello), STK_ETOOBIG over the frame limit,
 * STK_ELIMIT when that agent's send queue is full (a stuck reader). */
enum stk_err gateway_send(struct gateway *gw, const char *cluster, const char *json, size_t len);

/* 1 when an agent of `cluster` is connected and said hello. Any thread. */
int gateway_connected(struct gateway *gw, const char *cluster);

/* Drops the connection of agent `agent_id` now (after a revoke through the
 * API). Any thread; a no-op when it is not connected. */
void gateway_kick(struct gateway *gw, long long agent_id);

#endif
