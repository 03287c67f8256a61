#include "store_sessions.h"

#include <stdio.h>
#include <string.h>

enum {
    SQL_INSERT,
    SQL_GET,
    SQL_TOUCH,
    SQL_DELETE,
    SQL_DELETE_USER,
    SQL_PURGE,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_INSERT] = "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at,"
                   " last_seen_at, expires_at, source_ip, user_agent)"
                   " VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
    [SQL_GET] = "SELECT s.id, s.user_id, s.csrf_token, s.last_seen_at, s.expires_at,"
                " u.username, u.role_id, r.name, u.disabled,"
                " (SELECT coalesce(sum(p.bit), 0) FROM role_permissions rp"
                "  JOIN permissions p ON p.name = rp.permission WHERE rp.role_id = u.role_id)"
                " FROM sessions s JOIN users u ON u.id = s.user_id"
                " JOIN roles r ON r.id = u.role_id WHERE s.token_hash = ?",
    [SQL_TOUCH] = "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1",
    [SQL_DELETE] = "DELETE FROM sessions WHERE id = ?",
    [SQL_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?",
    [SQL_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2",
};

static void row_to_session(sqlite3_stmt *st, struct session *s)
{
    memset(s, 0, sizeof(*s));
    s->id = sqlite3_column_int64(st, 0);
    s->user_id = sqlite3_column_int64(st, 1);
    db_column_copy(st, 2, s->csrf_token, sizeof(s->csrf_token));
    s->last_seen_at = sqlite3_column_int64(st, 3);
    s->expires_at = sqlite3_column_int64(st, 4);
    s->user.id = s->user_id;
    db_column_copy(st, 5, s->user.username, sizeof(s->user.username));
    s->user.role_id = sqlite3_column_int64(st, 6);
    db_column_copy(st, 7, s->user.role, sizeof(s->user.role));
    s->user.disabled = sqlite3_column_int(st, 8);
    s->user.perms = (unsigned)sqlite3_column_int64(st, 9);
}

enum stk_err store_sessions_insert(struct db *db, const char *token_hash, long long user_id,
                                   const char *csrf_token, long long now, long long expires_at,
                                   const char *source_ip, const char *user_agent, long long *id,
                                   struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, csrf_token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, expires_at);
    sqlite3_bind_text(st, 6, source_ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, user_agent, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "creating a session", err);
    }
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return STK_OK;
}

enum stk_err store_sessions_get(struct db *db, const char *token_hash, struct session *out,
                                struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_GET], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_session(st, out);
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such session");
    } else {
        rc = db_fail(db, src, "reading a session", err);
    }
    db_done(st);
    return rc;
}

static enum stk_err run_id(struct db *db, int which, long long id, const long long *now,
                           struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    if (now != NULL) {
        sqlite3_bind_int64(st, 2, *now);
    }
    int src = sqlite3_step(st);
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, "updating sessions", err);
}

enum stk_err store_sessions_touch(struct db *db, long long id, long long now,
                                  struct stk_error *err)
{
    return run_id(db, SQL_TOUCH, id, &now, err);
}

enum stk_err store_sessions_delete(struct db *db, long long id, struct stk_error *err)
{
    return run_id(db, SQL_DELETE, id, NULL, err);
}

enum stk_err store_sessions_delete_for_user(struct db *db, long long user_id,
                                            struct stk_error *err)
{
    return run_id(db, SQL_DELETE_USER, user_id, NULL, err);
}

enum stk_err store_sessions_purge(struct db *db, long long now, long long idle_before,
                                  struct stk_error *err)
{
    return run_id(db, SQL_PURGE, now, &idle_before, err);
}
