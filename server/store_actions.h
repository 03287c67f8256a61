/* SQL for actions, action_comments, action_evidence and isolations
 * (migrations/0007_create_actions.sql). */
#ifndef STK_STORE_ACTIONS_H
#define STK_STORE_ACTIONS_H

#include "db.h"

#define ACTION_COMMENT_MAX 2000 /* bytes of a reason or comment */
#define ACTION_REASON_MAX 512   /* bytes of a failure reason */

struct action {
    long long id;
    char type[16];   /* isolate | terminate | release */
    char status[24]; /* awaiting_approval | pending | dispatched | succeeded | failed | cancelled */
    char origin[8];  /* user | timer */
    char cluster[64];
    char ns[254];
    char pod[254];
    long long entity_id, incident_id; /* 0: none */
    char requested_by[80];
    char comment[ACTION_COMMENT_MAX + 1];
    long long isolate_for_s;
    char approved_by[80];
    char decided_by[80];
    long long created_at, dispatched_at, acked_at, finished_at, expires_at; /* ms, 0: not yet */
    char failure_reason[ACTION_REASON_MAX + 1];
    char *result;             /* JSON object text, owned; store_action_release() */
    long long evidence_bytes; /* 0: no evidence */
};

void store_action_release(struct action *a);
void store_actions_free(struct action *list, size_t n);

/* Inserts `a` (id, result and evidence ignored); `*id` receives the new id. */
enum stk_err store_actions_insert(struct db *db, const struct action *a, long long *id,
                                  struct stk_error *err);

/* Caller owns `out` contents. STK_ENOTFOUND when there is no such action. */
enum stk_err store_actions_get(struct db *db, long long id, struct action *out,
                               struct stk_error *err);

struct action_filter {
    const char *statuses; /* ",pending,failed," or NULL for all */
    const char *types;    /* ",isolate," or NULL */
    const char *cluster;  /* NULL: any */
    const char *requested_by;
    long long incident_id; /* 0: any */
    const char *text;      /* substring of namespace, pod or comment; NULL: any */
    long long before_id;   /* keyset: ids below this; 0: from the newest */
    int limit;
};

/* Newest first. Caller owns `*out` (store_actions_free()). */
enum stk_err store_actions_list(struct db *db, const struct action_filter *f, struct action **out,
                                size_t *count, struct stk_error *err);

/* A status change, applied only while the action's status is one of
 * `from` (",pending,dispatched,"). NULL fields are left as they are. The
 * time `ts` goes to dispatched_at for "dispatched", to finished_at for
 * succeeded/failed/cancelled, to acked_at when `ack` is set (then `to` may
 * be NULL: status unchanged). `*changed` is 1 when the row moved. */
struct action_move {
    const char *to;
    long long ts;
    int ack;
    const char *failure_reason;
    const char *result; /* JSON object text */
    const char *approved_by;
    const char *decided_by;
    long long expires_at; /* 0: unchanged */
};
enum stk_err store_actions_move(struct db *db, long long id, const char *from,
                                const struct action_move *m, int *changed, struct stk_error *err);

/* Actions of `cluster` in one of `statuses`, oldest first, at most `limit`. */
enum stk_err store_actions_by_cluster(struct db *db, const char *cluster, const char *statuses,
                                      int limit, struct action **out, size_t *count,
                                      struct stk_error *err);

/* Ids of pending actions whose expiry passed before `now`, and of dispatched
 * ones whose expiry passed before `now - grace_ms`. Caller owns `*ids`. */
enum stk_err store_actions_overdue(struct db *db, long long now, long long grace_ms,
                                   long long **ids, size_t *count, struct stk_error *err);

/* ---- comments ---- */
struct action_comment {
    long long id, action_id, ts;
    char author[80];
    char text[ACTION_COMMENT_MAX + 1];
};
enum stk_err store_actions_comment_add(struct db *db, long long action_id, long long ts,
                                       const char *author, const char *text, long long *id,
                                       struct stk_error *err);
/* Oldest first, at most `limit`. Caller owns `*out` (free()). */
enum stk_err store_actions_comments(struct db *db, long long action_id, int limit,
                                    struct action_comment **out, size_t *count,
                                    struct stk_error *err);

/* ---- evidence ---- */
enum stk_err store_actions_evidence_put(struct db *db, long long action_id, const char *json,
                                        size_t len, const char *sha256_hex, struct stk_error *err);
/* Caller owns `*json` (free()). STK_ENOTFOUND when the action has none. */
enum stk_err store_actions_evidence_get(struct db *db, long long action_id, char **json,
                                        size_t *len, char sha256_hex[65], struct stk_error *err);

/* ---- isolations ---- */
struct isolation {
    char cluster[64];
    char ns[254];
    char pod[254];
    long long action_id, since, until; /* until 0: no expiry */
};
enum stk_err store_actions_isolation_put(struct db *db, const struct isolation *iso,
                                         struct stk_error *err);
enum stk_err store_actions_isolation_delete(struct db *db, const char *cluster, const char *ns,
                                            const char *pod, struct stk_error *err);
/* STK_ENOTFOUND (no message) when the pod is not isolated. */
enum stk_err store_actions_isolation_get(struct db *db, const char *cluster, const char *ns,
                                         const char *pod, struct isolation *out,
                                         struct stk_error *err);
/* Isolations with an expiry at or before `now`, at most `limit`. Caller
 * owns `*out` (free()). */
enum stk_err store_actions_isolations_due(struct db *db, long long now, int limit,
                                          struct isolation **out, size_t *count,
                                          struct stk_error *err);

#endif
