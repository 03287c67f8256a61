/* SQL for the agents and agent_enroll_tokens tables (migrations/0006).
 * Enrollment tokens are stored as the hash of their secret only. */
#ifndef STK_STORE_AGENTS_H
#define STK_STORE_AGENTS_H

#include <stddef.h>

#include "db.h"

#define STK_AGENT_CLUSTER_MAX 64 /* bytes of a cluster name */

struct agent {
    long long id;
    char cluster[STK_AGENT_CLUSTER_MAX + 1];
    char cert_serial[41]; /* lower-case hex */
    char cert_sha256[65];
    long long cert_expires_at;
    char agent_version[33];
    long long enroll_token_id;
    char enrolled_by[80];
    char enrolled_from[64];
    long long enrolled_at;
    long long revoked_at; /* 0: valid */
    char revoked_by[80];
    int connected;
    long long last_seen_at; /* 0: never */
    char last_address[64];
};

struct enroll_token {
    long long id;
    char cluster[STK_AGENT_CLUSTER_MAX + 1];
    char created_by[80];
    long long created_at;
    long long expires_at;
    long long used_at;       /* 0: unused */
    long long used_by_agent; /* 0: unused */
};

enum stk_err store_agents_token_insert(struct db *db, const char *secret_hash, const char *cluster,
                                       const char *created_by, long long now, long long expires_at,
                                       long long *id, struct stk_error *err);

/* STK_ENOTFOUND when no token has that hash. */
enum stk_err store_agents_token_get_by_hash(struct db *db, const char *secret_hash,
                                            struct enroll_token *out, struct stk_error *err);

/* Marks token `id` used by `agent_id` at `now`, only if it is unused and
 * not expired at `now`: STK_ECONFLICT otherwise (a concurrent enrollment
 * won). Call inside the transaction that inserted the agent. */
enum stk_err store_agents_token_consume(struct db *db, long long id, long long agent_id,
                                        long long now, struct stk_error *err);

/* Inserts `a` (id, revoked_*, connected and last_* ignored); `*id` gets
 * the new id. STK_ECONFLICT on a duplicate serial. */
enum stk_err store_agents_insert(struct db *db, const struct agent *a, long long *id,
                                 struct stk_error *err);

/* STK_ENOTFOUND when there is no such agent. */
enum stk_err store_agents_get(struct db *db, long long id, struct agent *out,
                              struct stk_error *err);
enum stk_err store_agents_get_by_serial(struct db *db, const char *serial, struct agent *out,
                                        struct stk_error *err);

/* Newest first. Caller owns `*out` (free()). */
enum stk_err store_agents_list(struct db *db, struct agent **out, size_t *count,
                               struct stk_error *err);

/* Marks agent `id` revoked. STK_ENOTFOUND when there is no such agent,
 * STK_ECONFLICT when it already is revoked. `out` gets the row after. */
enum stk_err store_agents_revoke(struct db *db, long long id, const char *by, long long now,
                                 struct agent *out, struct stk_error *err);

/* Ids of agents revoked at or after `since`. Caller owns `*ids` (free()). */
enum stk_err store_agents_revoked_since(struct db *db, long long since, long long **ids,
                                        size_t *count, struct stk_error *err);

/* Records a connection (connected 1, `address`, `version` when not NULL)
 * or its end (connected 0); both set last_seen_at to `now`. */
enum stk_err store_agents_set_connected(struct db *db, long long id, int connected,
                                        const char *address, const char *version, long long now,
                                        struct stk_error *err);

/* last_seen_at = now for a connected agent. */
enum stk_err store_agents_touch(struct db *db, long long id, long long now, struct stk_error *err);

/* connected = 0 for every agent (at gateway start: nothing is connected). */
enum stk_err store_agents_reset_connected(struct db *db, struct stk_error *err);

#endif
