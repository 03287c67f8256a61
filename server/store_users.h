/* SQL for the users table (with each user's role and permission mask). */
#ifndef STK_STORE_USERS_H
#define STK_STORE_USERS_H

#include <stddef.h>

#include "db.h"
#include "identity.h"

enum stk_err store_users_count(struct db *db, long long *count, struct stk_error *err);

/* STK_ECONFLICT when the name is taken (names ignore case). */
enum stk_err store_users_insert(struct db *db, const char *username, long long role_id,
                                const char *password_hash, long long now, long long *id,
                                struct stk_error *err);

/* STK_ENOTFOUND when there is no such user. */
enum stk_err store_users_get_by_name(struct db *db, const char *username, struct user *out,
                                     struct stk_error *err);
enum stk_err store_users_get(struct db *db, long long id, struct user *out, struct stk_error *err);

/* All users by name. Caller owns `*out` (free()). */
enum stk_err store_users_list(struct db *db, struct user **out, size_t *count,
                              struct stk_error *err);

/* Each returns STK_ENOTFOUND when no user has that id. */
enum stk_err store_users_set_role(struct db *db, long long id, long long role_id, long long now,
                                  struct stk_error *err);
enum stk_err store_users_set_disabled(struct db *db, long long id, int disabled, long long now,
                                      struct stk_error *err);
enum stk_err store_users_set_password(struct db *db, long long id, const char *hash,
                                      long long now, struct stk_error *err);
enum stk_err store_users_touch_login(struct db *db, long long id, long long now,
                                     struct stk_error *err);

/* Number of enabled users whose role has `perm_bit`. */
enum stk_err store_users_count_with_perm(struct db *db, unsigned perm_bit, long long *count,
                                         struct stk_error *err);

#endif
