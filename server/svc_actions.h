/* Response actions (docs/actions.md, SPEC section 6): requests checked
 * against the cluster's reported facts, stored, signed and sent to the
 * cluster's agent through the gateway; their lifecycle (awaiting approval,
 * pending, dispatched, succeeded, failed, cancelled), comments, evidence,
 * timed isolations. Every change is audited and, when the action came from
 * an incident, written into the incident's history. */
#ifndef STK_SVC_ACTIONS_H
#define STK_SVC_ACTIONS_H

#include <jansson.h>

#include "db.h"
#include "identity.h"
#include "store_actions.h"
#include "store_clusters.h"

struct app;

#define ACTION_MAX_ISOLATE_S (30LL * 86400) /* longest timed isolation */

/* What the policy of a request depends on (from the configuration). */
struct actions_settings {
    long long queue_ttl_ms; /* undelivered actions fail after this ("agent offline") */
    int two_person;         /* terminate waits for a second responder's approval */
};

void svc_actions_settings(const struct app *app, struct actions_settings *out);

struct action_request {
    const char *type; /* isolate | terminate | release */
    const char *cluster, *ns, *pod;
    const char *comment;     /* the reason, 1..ACTION_COMMENT_MAX bytes */
    long long incident_id;   /* 0: none */
    long long isolate_for_s; /* isolate only; 0: until released */
};

/* ---- preconditions (pure: no database, no clock) ---- */

/* What the server knows of the target when the request arrives. */
struct precheck_input {
    const struct action_request *req;
    const struct cluster_facts *facts; /* NULL: the cluster's agent never reported */
    const struct cluster_pod *pod;     /* NULL: the agent did not report this pod */
    int isolated;                      /* Stockade holds an isolation of the pod */
    int agent_connected;               /* an agent of the cluster is connected now */
    long long now, queue_ttl_ms;
};

/* STK_OK when the action may go ahead, else STK_ECONFLICT with the failed
 * precondition in words an analyst can act on in `why` ("isolate needs
 * Kubernetes 1.27 or later; cluster prod-aks runs 1.26"). */
enum stk_err svc_actions_precheck(const struct precheck_input *in, char *why, size_t n);

/* ---- requests ---- */

/* Checks `req` (STK_EINVAL with the field named for malformed input), its
 * preconditions (STK_ECONFLICT with the reason), stores the action, and
 * sends it to the agent when one is connected (else it waits, pending, for
 * queue_ttl_ms). `out` receives the stored action (caller releases). A
 * refusal is audited too (outcome "denied"). */
enum stk_err svc_actions_request(struct app *app, struct db *db, const struct action_request *req,
                                 const struct actor *by, struct action *out, struct stk_error *err);

/* The same, for requests the server makes itself: `origin` "timer" marks
 * the release that ends a timed isolation. */
enum stk_err svc_actions_request_origin(struct app *app, struct db *db,
                                        const struct action_request *req, const struct actor *by,
                                        const char *origin, struct action *out,
                                        struct stk_error *err);

/* The dry run of an isolate or terminate: the preconditions as they stand
 * and, for isolate, the exact label patch and NetworkPolicy the agent will
 * apply and the pods of the namespace the policy's selector will match.
 * Caller owns `*out`. STK_EINVAL for malformed input; a failed
 * precondition is not an error here (it is in the plan, "allowed": false). */
enum stk_err svc_actions_plan(struct app *app, struct db *db, const struct action_request *req,
                              json_t **out, struct stk_error *err);

/* Cancels a pending or awaiting-approval action (STK_ECONFLICT once it was
 * dispatched or ended). */
enum stk_err svc_actions_cancel(struct app *app, struct db *db, long long id,
                                const struct actor *by, const char *comment, struct stk_error *err);

/* Two-person rule: approve (then it is dispatched) or reject (cancelled)
 * an action awaiting approval. The requester cannot decide on their own
 * request (STK_EFORBIDDEN). */
enum stk_err svc_actions_decide(struct app *app, struct db *db, long long id, int approve,
                                const struct actor *by, const char *comment, struct stk_error *err);

enum stk_err svc_actions_comment(struct db *db, long long id, const struct actor *by,
                                 const char *text, long long *comment_id, struct stk_error *err);

/* The full record as the API shows it: the action, its comments, whether
 * evidence is attached, and what may be done with it now. Caller owns. */
enum stk_err svc_actions_get_json(struct app *app, struct db *db, long long id, json_t **out,
                                  struct stk_error *err);

/* One action as a JSON object (lists and records). Caller owns. */
json_t *svc_actions_to_json(const struct action *a);

/* ---- from the agents (svc_agents.c) and the clock ---- */

/* Signs and sends every pending or dispatched action of `cluster` (an agent
 * just said hello). */
void svc_actions_flush(struct app *app, struct db *db, const char *cluster);

/* An `ack` or `result` frame from the agent of `cluster`. Frames naming
 * actions of other clusters are refused with STK_EFORBIDDEN. */
enum stk_err svc_actions_on_ack(struct app *app, struct db *db, const char *cluster, json_t *msg,
                                struct stk_error *err);
enum stk_err svc_actions_on_result(struct app *app, struct db *db, const char *cluster, json_t *msg,
                                   struct stk_error *err);

/* A `tamper` frame: raises the "Isolation tampered with" alert (high) on the
 * pod and notes it in the isolating action's incident. */
enum stk_err svc_actions_on_tamper(struct app *app, struct db *db, const char *cluster, json_t *msg,
                                   struct stk_error *err);

/* Fails overdue actions and starts the releases of timed isolations that
 * are due. */
void svc_actions_tick(struct app *app, struct db *db, long long now);

#endif
