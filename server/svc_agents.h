/* What the server does with what agents say (docs/agents.md): facts become
 * the cluster entity's properties and inventory, results and tamper
 * reports move actions along. Called by the gateway's dispatch thread, in
 * the order frames arrived, with that thread's own database connection. */
#ifndef STK_SVC_AGENTS_H
#define STK_SVC_AGENTS_H

#include <jansson.h>

#include "db.h"
#include "err.h"

struct app;

/* Who is on the other end of a verified connection. */
struct agent_peer {
    long long agent_id;
    char cluster[65];
    char address[64]; /* "IP:PORT" */
};

/* The agent said hello (`msg` is the whole frame, borrowed). The gateway has
 * already answered `welcome`; this records the facts and the connection and
 * sends the cluster's pending commands through gateway_send(). */
enum stk_err svc_agents_on_hello(struct app *app, struct db *db, const struct agent_peer *peer,
                                 json_t *msg, struct stk_error *err);

/* Any later frame except ping (facts, ack, result, tamper). An error return
 * is logged by the caller; the connection stays up unless the frame broke
 * the protocol (STK_EINVAL: the gateway answers an error frame). */
enum stk_err svc_agents_on_frame(struct app *app, struct db *db, const struct agent_peer *peer,
                                 const char *type, json_t *msg, struct stk_error *err);

/* The connection ended (closed, timed out, kicked). */
void svc_agents_on_disconnect(struct app *app, struct db *db, const struct agent_peer *peer);

/* Once a second on the dispatch thread: fails pending actions whose expiry
 * passed ("agent offline"), releases timed isolations that are due. */
void svc_agents_tick(struct app *app, struct db *db);

#endif
