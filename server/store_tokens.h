/* SQL for the api_tokens table. Tokens are stored as their hash only. */
#ifndef STK_STORE_TOKENS_H
#define STK_STORE_TOKENS_H

#include <stddef.h>

#include "db.h"
#include "identity.h"

/* `cluster` may be NULL; `expires_at` 0 means never. */
enum stk_err store_tokens_insert(struct db *db, const char *name, const char *token_hash,
                                 const char *prefix, unsigned perms, const char *cluster,
                                 const char *created_by, long long now, long long expires_at,
                                 long long *id, struct stk_error *err);

/* STK_ENOTFOUND when no token has that hash. */
enum stk_err store_tokens_get_by_hash(struct db *db, const char *token_hash,
                                      struct api_token *out, struct stk_error *err);

/* Newest first. Caller owns `*out` (free()). */
enum stk_err store_tokens_list(struct db *db, struct api_token **out, size_t *count,
                               struct stk_error *err);

/* STK_ENOTFOUND when there is no such active token. */
enum stk_err store_tokens_revoke(struct db *db, long long id, long long now, struct api_token *out,
                                 struct stk_error *err);

enum stk_err store_tokens_touch(struct db *db, long long id, long long now,
                                struct stk_error *err);

#endif
