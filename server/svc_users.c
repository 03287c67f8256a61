#include "svc_users.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stk_crypto.h"
#include "store_roles.h"
#include "store_sessions.h"
#include "store_tokens.h"
#include "store_users.h"
#include "svc_audit.h"
#include "svc_auth.h"

static long long now_s(void)
{
    return (long long)time(NULL);
}

/* Appends the audit entry for a change made in the open transaction. */
static enum stk_err audit(struct db *db, const struct actor *by, const char *action,
                          const char *target, json_t *details_taken, struct stk_error *err)
{
    struct audit_event ev = {
        .actor = by->name, .actor_kind = by->kind, .source_ip = by->ip,
        .action = action, .target = target, .outcome = "success", .details = details_taken,
    };
    enum stk_err rc = svc_audit_append(db, &ev, err);
    json_decref(details_taken);
    return rc;
}

/* Audits a refused change in a transaction of its own. */
static void audit_refusal(struct db *db, const struct actor *by, const char *action,
                          const char *target, const char *reason)
{
    json_t *details = json_pack("{s:s}", "reason", reason);
    struct audit_event ev = {
        .actor = by->name, .actor_kind = by->kind, .source_ip = by->ip,
        .action = action, .target = target, .outcome = "failure", .details = details,
    };
    svc_audit_append(db, &ev, NULL);
    json_decref(details);
}

static enum stk_err finish(struct db *db, enum stk_err rc, struct stk_error *err)
{
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    db_rollback(db);
    return rc;
}

enum stk_err svc_users_create(struct db *db, const struct actor *by, const char *username,
                              const char *role, const char *password, size_t password_len,
                              struct user *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!svc_auth_name_ok(username)) {
        return stk_error_set(err, STK_EINVAL,
                             "user names are 1 to %d letters, digits, '.', '_', '-' or '@'",
                             STK_NAME_MAX);
    }
    enum stk_err rc = svc_auth_password_ok(password, password_len, err);
    if (rc != STK_OK) {
        return rc;
    }
    char hash[STK_PASSWORD_HASH_MAX];
    if (stk_crypto_password_hash(password, password_len, hash) != STK_OK) {
        return stk_error_set(err, STK_ENOMEM, "could not hash the password");
    }
    rc = db_begin(db, err);
    if (rc != STK_OK) {
        goto out;
    }
    struct role r;
    rc = store_roles_get_by_name(db, role, &r, err);
    long long id = 0;
    if (rc == STK_OK) {
        rc = store_users_insert(db, username, r.id, hash, now_s(), &id, err);
    }
    if (rc == STK_OK) {
        rc = audit(db, by, "user.create", username, json_pack("{s:s}", "role", r.name), err);
    }
    if (rc == STK_OK) {
        rc = store_users_get(db, id, out, err);
    }
    rc = finish(db, rc, err);
out:
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(out->password_hash, sizeof(out->password_hash));
    return rc;
}

enum stk_err svc_users_bootstrap_admin(struct db *db, char password_out[32], int *created,
                                       struct stk_error *err)
{
    *created = 0;
    password_out[0] = '\0';
    long long n = 0;
    enum stk_err rc = store_users_count(db, &n, err);
    if (rc != STK_OK || n > 0) {
        return rc;
    }
    char token[48];
    stk_crypto_random_token("", token, sizeof(token));
    snprintf(password_out, 32, "%.24s", token);
    sodium_memzero(token, sizeof(token));
    struct actor system = {.name = "system", .kind = "system", .ip = "local"};
    struct user u;
    rc = svc_users_create(db, &system, "admin", "admin", password_out, strlen(password_out), &u,
                          err);
    if (rc != STK_OK) {
        sodium_memzero(password_out, 32);
        return rc;
    }
    *created = 1;
    return STK_OK;
}

/* Would this change leave no enabled user with Administration? */
static enum stk_err guard_last_admin(struct db *db, const struct user *u, unsigned new_perms,
                                     int new_disabled, struct stk_error *err)
{
    int was_admin = (u->perms & PERMBIT_ADMIN) && !u->disabled;
    int stays_admin = (new_perms & PERMBIT_ADMIN) && !new_disabled;
    if (!was_admin || stays_admin) {
        return STK_OK;
    }
    long long admins = 0;
    enum stk_err rc = store_users_count_with_perm(db, PERMBIT_ADMIN, &admins, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (admins <= 1) {
        return stk_error_set(err, STK_ECONFLICT,
                             "'%s' is the last enabled administrator; make another admin first",
                             u->username);
    }
    return STK_OK;
}

enum stk_err svc_users_update(struct db *db, const struct actor *by, const char *username,
                              const struct user_change *c, struct user *out,
                              struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (c->role == NULL && !c->set_disabled && c->password == NULL) {
        return stk_error_set(err, STK_EINVAL, "nothing to change");
    }
    char hash[STK_PASSWORD_HASH_MAX] = "";
    enum stk_err rc = STK_OK;
    if (c->password != NULL) {
        rc = svc_auth_password_ok(c->password, c->password_len, err);
        if (rc != STK_OK) {
            return rc;
        }
        /* Hash before the transaction: 85 ms of CPU must not hold the lock. */
        if (stk_crypto_password_hash(c->password, c->password_len, hash) != STK_OK) {
            return stk_error_set(err, STK_ENOMEM, "could not hash the password");
        }
    }
    const char *refused_action = NULL;
    rc = db_begin(db, err);
    if (rc != STK_OK) {
        goto out;
    }
    struct user u;
    struct role r;
    memset(&r, 0, sizeof(r));
    long long now = now_s();
    rc = store_users_get_by_name(db, username, &u, err);
    if (rc == STK_OK && c->role != NULL) {
        rc = store_roles_get_by_name(db, c->role, &r, err);
    }
    if (rc == STK_OK) {
        unsigned perms = c->role != NULL ? r.perms : u.perms;
        int disabled = c->set_disabled ? c->disabled : u.disabled;
        rc = guard_last_admin(db, &u, perms, disabled, err);
        if (rc == STK_ECONFLICT) {
            refused_action = c->set_disabled && c->disabled ? "user.disable" : "user.set_role";
        }
    }
    if (rc == STK_OK && c->role != NULL) {
        rc = store_users_set_role(db, u.id, r.id, now, err);
        if (rc == STK_OK) {
            rc = audit(db, by, "user.set_role", u.username,
                       json_pack("{s:s, s:s}", "from", u.role, "to", r.name), err);
        }
    }
    if (rc == STK_OK && c->set_disabled) {
        rc = store_users_set_disabled(db, u.id, c->disabled, now, err);
        if (rc == STK_OK) {
            rc = audit(db, by, c->disabled ? "user.disable" : "user.enable", u.username, NULL,
                       err);
        }
    }
    if (rc == STK_OK && c->password != NULL) {
        rc = store_users_set_password(db, u.id, hash, now, err);
        if (rc == STK_OK) {
            rc = audit(db, by, "user.set_password", u.username, NULL, err);
        }
    }
    /* A new role, being disabled and a new password all end the user's
     * sessions at once; enabling does not need to. */
    if (rc == STK_OK && (c->role != NULL || (c->set_disabled && c->disabled) || c->password)) {
        rc = store_sessions_delete_for_user(db, u.id, err);
    }
    if (rc == STK_OK) {
        rc = store_users_get(db, u.id, out, err);
    }
    rc = finish(db, rc, err);
    if (refused_action != NULL) {
        audit_refusal(db, by, refused_action, username, err ? err->msg : "refused");
    }
out:
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(out->password_hash, sizeof(out->password_hash));
    return rc;
}

enum stk_err svc_users_set_role(struct db *db, const struct actor *by, const char *username,
                                const char *role, struct user *out, struct stk_error *err)
{
    struct user_change c = {.role = role};
    return svc_users_update(db, by, username, &c, out, err);
}

enum stk_err svc_users_set_disabled(struct db *db, const struct actor *by, const char *username,
                                    int disabled, struct user *out, struct stk_error *err)
{
    struct user_change c = {.set_disabled = 1, .disabled = disabled ? 1 : 0};
    return svc_users_update(db, by, username, &c, out, err);
}

enum stk_err svc_users_set_password(struct db *db, const struct actor *by, const char *username,
                                    const char *password, size_t len, struct stk_error *err)
{
    struct user_change c = {.password = password, .password_len = len};
    struct user u;
    return svc_users_update(db, by, username, &c, &u, err);
}

enum stk_err svc_users_change_own_password(struct db *db, const struct actor *by, long long user_id,
                                           const char *current, size_t current_len,
                                           const char *password, size_t len,
                                           struct stk_error *err)
{
    struct user u;
    enum stk_err rc = store_users_get(db, user_id, &u, err);
    if (rc != STK_OK) {
        return rc;
    }
    int ok = current_len <= STK_PASSWORD_MAX &&
             stk_crypto_password_verify(u.password_hash, current, current_len);
    sodium_memzero(u.password_hash, sizeof(u.password_hash));
    if (!ok) {
        audit_refusal(db, by, "user.set_password", u.username, "current password wrong");
        return stk_error_set(err, STK_EFORBIDDEN, "the current password is not right");
    }
    return svc_users_set_password(db, by, u.username, password, len, err);
}

enum stk_err svc_roles_create(struct db *db, const struct actor *by, const char *name,
                              const char *description, unsigned perms, struct role *out,
                              struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!svc_auth_name_ok(name)) {
        return stk_error_set(err, STK_EINVAL,
                             "role names are 1 to %d letters, digits, '.', '_', '-' or '@'",
                             STK_NAME_MAX);
    }
    if (strlen(description) > 200) {
        return stk_error_set(err, STK_EINVAL, "description is limited to 200 bytes");
    }
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    long long id = 0;
    rc = store_roles_insert(db, name, description, perms, now_s(), &id, err);
    if (rc == STK_OK) {
        rc = audit(db, by, "role.create", name,
                   json_pack("{s:o}", "permissions", svc_auth_perms_to_json(perms)), err);
    }
    if (rc == STK_OK) {
        rc = store_roles_get_by_name(db, name, out, err);
    }
    return finish(db, rc, err);
}

enum stk_err svc_tokens_create(struct db *db, const struct actor *by, const char *name,
                               unsigned perms, long long ttl_s, const char *cluster,
                               char secret[80], struct api_token *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    secret[0] = '\0';
    if (!svc_auth_name_ok(name)) {
        return stk_error_set(err, STK_EINVAL,
                             "token names are 1 to %d letters, digits, '.', '_', '-' or '@'",
                             STK_NAME_MAX);
    }
    if (cluster != NULL && cluster[0] != '\0' && !svc_auth_name_ok(cluster)) {
        return stk_error_set(err, STK_EINVAL, "cluster names are 1 to %d letters, digits, '.', "
                                              "'_', '-' or '@'", STK_NAME_MAX);
    }
    stk_crypto_random_token(STK_API_TOKEN_PREFIX, secret, 80);
    char hash[65], prefix[16];
    stk_crypto_hash_hex(secret, strlen(secret), hash);
    snprintf(prefix, sizeof(prefix), "%.10s", secret);
    long long now = now_s();
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        sodium_memzero(secret, 80);
        return rc;
    }
    long long id = 0;
    rc = store_tokens_insert(db, name, hash, prefix, perms, cluster, by->name, now,
                             ttl_s > 0 ? now + ttl_s : 0, &id, err);
    if (rc == STK_OK) {
        json_t *details = json_pack("{s:o, s:I, s:s?}", "permissions",
                                    svc_auth_perms_to_json(perms), "ttl_s", (json_int_t)ttl_s,
                                    "cluster", (cluster && cluster[0]) ? cluster : NULL);
        char target[32];
        snprintf(target, sizeof(target), "token:%lld", id);
        rc = audit(db, by, "token.create", target, details, err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        sodium_memzero(secret, 80);
        return rc;
    }
    out->id = id;
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->prefix, sizeof(out->prefix), "%s", prefix);
    out->perms = perms;
    snprintf(out->cluster, sizeof(out->cluster), "%s", cluster ? cluster : "");
    snprintf(out->created_by, sizeof(out->created_by), "%s", by->name);
    out->created_at = now;
    out->expires_at = ttl_s > 0 ? now + ttl_s : 0;
    return STK_OK;
}

enum stk_err svc_tokens_revoke(struct db *db, const struct actor *by, long long id,
                               struct api_token *out, struct stk_error *err)
{
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    rc = store_tokens_revoke(db, id, now_s(), out, err);
    if (rc == STK_OK) {
        char target[32];
        snprintf(target, sizeof(target), "token:%lld", id);
        rc = audit(db, by, "token.revoke", target, json_pack("{s:s}", "name", out->name), err);
    }
    return finish(db, rc, err);
}

enum stk_err svc_parse_ttl(const char *s, long long *seconds, struct stk_error *err)
{
    *seconds = 0;
    if (!isdigit((unsigned char)s[0])) {
        return stk_error_set(err, STK_EINVAL, "ttl must be a positive number with s, m, h or d");
    }
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || end == s || n <= 0) {
        return stk_error_set(err, STK_EINVAL, "ttl must be a positive number with s, m, h or d");
    }
    long long mul = 1;
    if (*end != '\0') {
        switch (*end) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        default:
            return stk_error_set(err, STK_EINVAL, "ttl unit must be s, m, h or d");
        }
        if (end[1] != '\0') {
            return stk_error_set(err, STK_EINVAL, "ttl unit must be s, m, h or d");
        }
    }
    const long long max = 10LL * 366 * 86400;
    if (n > max / mul) {
        return stk_error_set(err, STK_EINVAL, "ttl is limited to 10 years");
    }
    *seconds = n * mul;
    return STK_OK;
}
