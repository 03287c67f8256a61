/* SQL for the sessions table. Tokens are stored as their hash only. */
#ifndef STK_STORE_SESSIONS_H
#define STK_STORE_SESSIONS_H

#include "db.h"
#include "identity.h"

enum stk_err store_sessions_insert(struct db *db, const char *token_hash, long long user_id,
                                   const char *csrf_token, long long now, long long expires_at,
                                   const char *source_ip, const char *user_agent, long long *id,
                                   struct stk_error *err);

/* The session with that token hash, with its user, role and permissions.
 * STK_ENOTFOUND when there is none. */
enum stk_err store_sessions_get(struct db *db, const char *token_hash, struct session *out,
                                struct stk_error *err);

enum stk_err store_sessions_touch(struct db *db, long long id, long long now,
                                  struct stk_error *err);
enum stk_err store_sessions_delete(struct db *db, long long id, struct stk_error *err);
enum stk_err store_sessions_delete_for_user(struct db *db, long long user_id,
                                            struct stk_error *err);

/* Deletes sessions past their absolute expiry or idle since `idle_before`. */
enum stk_err store_sessions_purge(struct db *db, long long now, long long idle_before,
                                  struct stk_error *err);

#endif
