/* SQLite connections and their prepared-statement caches.
 *
 * One `struct db` per thread: every civetweb worker opens its own at thread
 * start, the CLI opens one. Statements are prepared once per connection
 * (SQLITE_PREPARE_PERSISTENT) and looked up by the address of their SQL
 * text, which lives in the static array at the top of each store_*.c. */
#ifndef STK_DB_H
#define STK_DB_H

#include <sqlite3.h>

#include "err.h"

struct db;

/* Process-wide SQLite settings; call once before any other db_* call. */
void db_global_init(void);

/* Opens (creating if needed) the database at `path` with WAL, foreign keys,
 * a busy timeout and synchronous=NORMAL. ":memory:" works for tests.
 * Caller owns `*out`; free with db_free(). */
enum stk_err db_open(const char *path, struct db **out, struct stk_error *err);

/* Finalizes cached statements and closes the connection. Accepts NULL. */
void db_free(struct db *db);

/* The raw handle, for the store layer only. */
sqlite3 *db_handle(struct db *db);

/* Returns the cached statement for `sql` (which must have static storage
 * duration), preparing it on first use. The statement is reset and its
 * bindings cleared: the caller binds, steps, then calls db_done(). NULL on
 * failure with the reason in `err`. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql, struct stk_error *err);

/* Resets `st` and clears its bindings. Accepts NULL. */
void db_done(sqlite3_stmt *st);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback is safe to call when no
 * transaction is open. */
enum stk_err db_begin(struct db *db, struct stk_error *err);
enum stk_err db_commit(struct db *db, struct stk_error *err);
void db_rollback(struct db *db);

/* A read transaction: several reads share one snapshot and pay the WAL
 * lock once. End it with db_read_end() (safe when none is open). */
enum stk_err db_read_begin(struct db *db, struct stk_error *err);
void db_read_end(struct db *db);
/* Per-connection memos of query results, valid while the database is
 * unchanged (any commit by any connection voids them). */
enum { DB_MEMO_INCIDENT_CUBE, DB_MEMO_N };
/* The memo of `slot` and its length, or NULL when absent or stale. Call
 * inside the read transaction whose snapshot the memo should match. */
const void *db_memo_get(struct db *db, int slot, size_t *len);
/* Stores a copy of `data` as the memo of `slot` for the current version. */
void db_memo_put(struct db *db, int slot, const void *data, size_t len);
/* Runs PRAGMA wal_checkpoint(TRUNCATE). */
enum stk_err db_checkpoint(struct db *db, struct stk_error *err);

/* Steps `st` (bound by the caller) to its end and collects every row into
 * a new array of `elem_size` elements, each filled by `row`. Resets `st`
 * either way. Caller owns `*out` (free()); on failure it is NULL and
 * `*count` 0. `what` names the query in the error message. */
enum stk_err db_collect(struct db *db, sqlite3_stmt *st, size_t elem_size,
                        void (*row)(sqlite3_stmt *st, void *elem), void **out, size_t *count,
                        const char *what, struct stk_error *err);

/* Steps `st` (bound by the caller) once, expecting no row, and resets it.
 * `what` names the statement in the error message. */
enum stk_err db_run(struct db *db, sqlite3_stmt *st, const char *what, struct stk_error *err);
/* Runs the cached statement `sql` with `n` (0 to 2) integer parameters ?1 = a
 * and ?2 = b, to completion. */
enum stk_err db_run_ids(struct db *db, const char *sql, const char *what, int n, long long a,
                        long long b, struct stk_error *err);
/* Copies text column `col` into `dst` (size `n`, always terminated; NULL
 * becomes ""). */
void db_column_copy(sqlite3_stmt *st, int col, char *dst, size_t n);

/* Translates an SQLite result code (STYLE: once, at the boundary). */
enum stk_err store_err_from_sqlite(int rc);

/* Sets `err` from the connection's last error and returns the mapped code. */
enum stk_err db_fail(struct db *db, int rc, const char *what, struct stk_error *err);

#endif
