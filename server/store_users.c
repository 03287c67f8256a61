#include "store_users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_COLUMNS                                                                            \
    "u.id, u.username, u.role_id, r.name, u.disabled, u.created_at,"                            \
    " coalesce(u.last_login_at, 0), u.password_hash,"                                           \
    " (SELECT coalesce(sum(p.bit), 0) FROM role_permissions rp"                                 \
    "  JOIN permissions p ON p.name = rp.permission WHERE rp.role_id = u.role_id)"              \
    " FROM users u JOIN roles r ON r.id = u.role_id"

enum {
    SQL_COUNT,
    SQL_INSERT,
    SQL_BY_NAME,
    SQL_BY_ID,
    SQL_LIST,
    SQL_SET_ROLE,
    SQL_SET_DISABLED,
    SQL_SET_PASSWORD,
    SQL_TOUCH_LOGIN,
    SQL_COUNT_WITH_PERM,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_COUNT] = "SELECT count(*) FROM users",
    [SQL_INSERT] = "INSERT INTO users (username, role_id, password_hash, created_at, updated_at)"
                   " VALUES (?, ?, ?, ?, ?4)",
    [SQL_BY_NAME] = "SELECT " USER_COLUMNS " WHERE u.username = ?",
    [SQL_BY_ID] = "SELECT " USER_COLUMNS " WHERE u.id = ?",
    [SQL_LIST] = "SELECT " USER_COLUMNS " ORDER BY u.username",
    [SQL_SET_ROLE] = "UPDATE users SET role_id = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_SET_DISABLED] = "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_SET_PASSWORD] = "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
    [SQL_TOUCH_LOGIN] = "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
    [SQL_COUNT_WITH_PERM] =
        "SELECT count(*) FROM users u WHERE u.disabled = 0 AND EXISTS ("
        " SELECT 1 FROM role_permissions rp JOIN permissions p ON p.name = rp.permission"
        " WHERE rp.role_id = u.role_id AND p.bit = ?)",
};

/* Fills one element of a db_collect() array. */
static void row_to_user(sqlite3_stmt *st, void *elem)
{
    struct user *u = elem;
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, u->username, sizeof(u->username));
    u->role_id = sqlite3_column_int64(st, 2);
    db_column_copy(st, 3, u->role, sizeof(u->role));
    u->disabled = sqlite3_column_int(st, 4);
    u->created_at = sqlite3_column_int64(st, 5);
    u->last_login_at = sqlite3_column_int64(st, 6);
    db_column_copy(st, 7, u->password_hash, sizeof(u->password_hash));
    u->perms = (unsigned)sqlite3_column_int64(st, 8);
}

static enum stk_err count_query(struct db *db, int which, const unsigned *bit, long long *count,
                                struct stk_error *err)
{
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (bit != NULL) {
        sqlite3_bind_int(st, 1, (int)*bit);
    }
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
    } else {
        rc = db_fail(db, src, "counting users", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_users_count(struct db *db, long long *count, struct stk_error *err)
{
    return count_query(db, SQL_COUNT, NULL, count, err);
}

enum stk_err store_users_count_with_perm(struct db *db, unsigned perm_bit, long long *count,
                                         struct stk_error *err)
{
    return count_query(db, SQL_COUNT_WITH_PERM, &perm_bit, count, err);
}

enum stk_err store_users_insert(struct db *db, const char *username, long long role_id,
                                const char *password_hash, long long now, long long *id,
                                struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, role_id);
    sqlite3_bind_text(st, 3, password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        if ((src & 0xff) == SQLITE_CONSTRAINT) {
            return stk_error_set(err, STK_ECONFLICT, "user '%s' already exists", username);
        }
        return db_fail(db, src, "adding a user", err);
    }
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return STK_OK;
}

static enum stk_err get_one(struct db *db, int which, const char *name, long long id,
                            struct user *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (name != NULL) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, id);
    }
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_user(st, out);
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such user");
    } else {
        rc = db_fail(db, src, "reading a user", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_users_get_by_name(struct db *db, const char *username, struct user *out,
                                     struct stk_error *err)
{
    return get_one(db, SQL_BY_NAME, username, 0, out, err);
}

enum stk_err store_users_get(struct db *db, long long id, struct user *out, struct stk_error *err)
{
    return get_one(db, SQL_BY_ID, NULL, id, out, err);
}

enum stk_err store_users_list(struct db *db, struct user **out, size_t *count,
                              struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    return db_collect(db, st, sizeof(struct user), row_to_user, (void **)out, count,
                      "listing users", err);
}

static enum stk_err update(struct db *db, int which, long long id, long long v_int,
                           const char *v_text, long long now, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    if (v_text != NULL) {
        sqlite3_bind_text(st, 2, v_text, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 2, v_int);
    }
    if (which != SQL_TOUCH_LOGIN) {
        sqlite3_bind_int64(st, 3, now);
    }
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "updating a user", err);
    }
    if (sqlite3_changes(db_handle(db)) == 0) {
        return stk_error_set(err, STK_ENOTFOUND, "no such user");
    }
    return STK_OK;
}

enum stk_err store_users_set_role(struct db *db, long long id, long long role_id, long long now,
                                  struct stk_error *err)
{
    return update(db, SQL_SET_ROLE, id, role_id, NULL, now, err);
}

enum stk_err store_users_set_disabled(struct db *db, long long id, int disabled, long long now,
                                      struct stk_error *err)
{
    return update(db, SQL_SET_DISABLED, id, disabled ? 1 : 0, NULL, now, err);
}

enum stk_err store_users_set_password(struct db *db, long long id, const char *hash,
                                      long long now, struct stk_error *err)
{
    return update(db, SQL_SET_PASSWORD, id, 0, hash, now, err);
}

enum stk_err store_users_touch_login(struct db *db, long long id, long long now,
                                     struct stk_error *err)
{
    return update(db, SQL_TOUCH_LOGIN, id, now, NULL, now, err);
}
