/* The tamper-evident audit log: every state-changing request appends one
 * entry whose hash covers the entry and the previous entry's hash. */
#ifndef STK_SVC_AUDIT_H
#define STK_SVC_AUDIT_H

#include <jansson.h>

#include "db.h"
#include "store_audit.h"

struct audit_event {
    const char *actor;      /* "alice", "token:falco", "cli:root", "system" */
    const char *actor_kind; /* user | token | cli | system | anonymous */
    const char *source_ip;
    const char *action;     /* "auth.login", "user.create", ... */
    const char *target;     /* what it acted on, "" if nothing */
    const char *outcome;    /* success | failure | denied */
    const json_t *details;  /* borrowed object, may be NULL; never secrets */
};

/* Appends `ev`. Inside an open transaction the entry commits with the
 * caller's change; otherwise it runs in a transaction of its own. */
enum stk_err svc_audit_append(struct db *db, const struct audit_event *ev, struct stk_error *err);

/* The hash of `row` given its fields and row->prev_hash (hex, 65 bytes).
 * Encoding: BLAKE2b-256 of "stockade-audit-v1" and then each of id, ts,
 * actor, actor_kind, source_ip, action, target, outcome, details and
 * prev_hash as an 8-byte little-endian length followed by the bytes (id and
 * ts in decimal). */
void svc_audit_hash(const struct audit_row *row, char out[65]);

struct audit_verify {
    long long count;  /* entries checked */
    long long bad_id; /* first entry that does not verify, 0 when all do */
    char reason[160];
    char head[65];    /* hash of the newest entry: anchor it elsewhere */
};

/* Walks the whole chain in id order. STK_OK with bad_id == 0 when intact. */
enum stk_err svc_audit_verify(struct db *db, struct audit_verify *out, struct stk_error *err);

#endif
