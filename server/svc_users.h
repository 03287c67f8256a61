/* Managing users, roles and API tokens. Every change is audited in the
 * same transaction as the change itself. */
#ifndef STK_SVC_USERS_H
#define STK_SVC_USERS_H

#include <stddef.h>

#include "db.h"
#include "identity.h"

/* Adds a user with role `role`. STK_EINVAL for a bad name or password,
 * STK_ENOTFOUND for an unknown role, STK_ECONFLICT for a taken name. */
enum stk_err svc_users_create(struct db *db, const struct actor *by, const char *username,
                              const char *role, const char *password, size_t password_len,
                              struct user *out, struct stk_error *err);

/* Creates the first admin when no user exists yet, with a random password
 * written to `password_out` (shown once). `*created` says whether it did. */
enum stk_err svc_users_bootstrap_admin(struct db *db, char password_out[32], int *created,
                                       struct stk_error *err);

/* What svc_users_update() changes; NULL / 0 members are left alone. */
struct user_change {
    const char *role;
    int set_disabled; /* apply `disabled` */
    int disabled;
    const char *password;
    size_t password_len;
};

/* Applies every change in `c` in one transaction, or none of them. A new
 * role, being disabled and a new password end every session of the user at
 * once. Refuses (STK_ECONFLICT) to leave no enabled admin; STK_ENOTFOUND
 * for an unknown user or role; STK_EINVAL for a bad password or an empty
 * change. Each change is audited. */
enum stk_err svc_users_update(struct db *db, const struct actor *by, const char *username,
                              const struct user_change *c, struct user *out,
                              struct stk_error *err);

/* One-change shorthands for svc_users_update(). */
enum stk_err svc_users_set_role(struct db *db, const struct actor *by, const char *username,
                                const char *role, struct user *out, struct stk_error *err);
enum stk_err svc_users_set_disabled(struct db *db, const struct actor *by, const char *username,
                                    int disabled, struct user *out, struct stk_error *err);
enum stk_err svc_users_set_password(struct db *db, const struct actor *by, const char *username,
                                    const char *password, size_t len, struct stk_error *err);

/* Changes the caller's own password after checking the current one. */
enum stk_err svc_users_change_own_password(struct db *db, const struct actor *by, long long user_id,
                                           const char *current, size_t current_len,
                                           const char *password, size_t len,
                                           struct stk_error *err);

/* Adds a custom role. */
enum stk_err svc_roles_create(struct db *db, const struct actor *by, const char *name,
                              const char *description, unsigned perms, struct role *out,
                              struct stk_error *err);

/* Creates an API token. `ttl_s` 0 means no expiry; `cluster` may be NULL.
 * The token (secret, shown once) goes to `secret` (80 bytes). */
enum stk_err svc_tokens_create(struct db *db, const struct actor *by, const char *name,
                               unsigned perms, long long ttl_s, const char *cluster,
                               char secret[80], struct api_token *out, struct stk_error *err);

enum stk_err svc_tokens_revoke(struct db *db, const struct actor *by, long long id,
                               struct api_token *out, struct stk_error *err);

/* Parses "30d", "12h", "45m", "90s" or plain seconds; 1 s .. 10 years. */
enum stk_err svc_parse_ttl(const char *s, long long *seconds, struct stk_error *err);

#endif
