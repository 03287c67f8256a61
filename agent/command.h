/* Commands from the server (docs/agents.md, "Commands"): the checks a
 * `command` frame must pass before anything happens in the cluster, and
 * the `ack` and `result` frames that answer it. */
#ifndef STK_AGENT_COMMAND_H
#define STK_AGENT_COMMAND_H

#include <jansson.h>
#include <stdint.h>

#include "actions.h"
#include "cmd_sign.h"
#include "err.h"
#include "journal.h"

#define STK_AGENT_CLUSTER_MAX 65

struct command {
    long long id; /* 0 when the payload had none */
    enum action_kind action;
    char cluster[STK_AGENT_CLUSTER_MAX];
    char ns[64];
    char pod[254];
    int64_t issued_at;
    int64_t expires_at;
};

enum command_verdict {
    CMD_RUN,     /* carry it out */
    CMD_REFUSED, /* answer `refused` with the reason; journal it when `signed` */
    CMD_REPLAY,  /* already carried out: answer with the journal's outcome */
    CMD_IGNORE,  /* nothing to answer (no id to answer with); log the reason */
};

/* Checks the `command` frame `frame` in this order: the signature of its
 * payload by `pk` ("command signature invalid"), the payload's shape
 * ("command malformed: ..."), its cluster against `cluster` ("command is
 * for cluster X; this agent serves Y"), the journal `j` (CMD_REPLAY), and
 * its expiry against `now_ms` ("command expired"). Fills `out` as far as
 * the payload could be read (out->id 0 when not at all) and `why` with the
 * reason of a refusal; `*is_signed` says whether the signature held. */
enum command_verdict command_check(const unsigned char pk[STK_CMD_PK_BYTES], const char *cluster,
                                   const json_t *frame, const struct journal *j, int64_t now_ms,
                                   struct command *out, int *is_signed, struct stk_error *why);

/* {"type":"ack","id":ID}. New reference; NULL when out of memory. */
json_t *command_ack(long long id);

/* {"type":"result","id","status","reason","details","evidence"?,"replay"}.
 * `details` and `evidence` are copied (references taken), may be NULL. */
json_t *command_result(long long id, const char *status, const char *reason, json_t *details,
                       json_t *evidence, int replay);

#endif
