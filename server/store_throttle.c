#include "store_throttle.h"

enum {
    SQL_GET,
    SQL_PUT,
    SQL_CLEAR,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_GET] = "SELECT failures, blocked_until FROM login_throttle WHERE key = ?",
    [SQL_PUT] = "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until)"
                " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE SET"
                " failures = ?2, last_failure_at = ?3, blocked_until = ?4",
    [SQL_CLEAR] = "DELETE FROM login_throttle WHERE key = ?",
};

enum stk_err store_throttle_get(struct db *db, const char *key, long long *failures,
                                long long *blocked_until, struct stk_error *err)
{
    *failures = 0;
    *blocked_until = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_GET], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *failures = sqlite3_column_int64(st, 0);
        *blocked_until = sqlite3_column_int64(st, 1);
    } else if (src != SQLITE_DONE) {
        rc = db_fail(db, src, "reading login throttle", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_throttle_put(struct db *db, const char *key, long long failures,
                                long long now, long long blocked_until, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_PUT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, failures);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, blocked_until);
    int src = sqlite3_step(st);
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, "recording a failed login", err);
}

enum stk_err store_throttle_clear(struct db *db, const char *key, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_CLEAR], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, "clearing login throttle", err);
}
