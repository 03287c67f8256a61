#include "store_migrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    SQL_CREATE,
    SQL_LIST,
    SQL_INSERT,
    SQL_VERSION,
    SQL_COUNT_,
};

static const char *const sql[SQL_COUNT_] = {
    [SQL_CREATE] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER PRIMARY KEY NOT NULL,"
                   " name TEXT NOT NULL,"
                   " checksum TEXT NOT NULL,"
                   " applied_at INTEGER NOT NULL) STRICT",
    [SQL_LIST] = "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
    [SQL_INSERT] = "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                   " VALUES (?, ?, ?, ?)",
    [SQL_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
};

enum stk_err store_migrations_ensure(struct db *db, struct stk_error *err)
{
    /* Not cached: the statement is run once and its table may not exist
     * when other statements are prepared. */
    char *msg = NULL;
    int rc = sqlite3_exec(db_handle(db), sql[SQL_CREATE], NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        enum stk_err e = stk_error_set(err, store_err_from_sqlite(rc),
                                       "creating schema_migrations: %s", msg ? msg : "");
        sqlite3_free(msg);
        return e;
    }
    return STK_OK;
}

/* Fills one element of a db_collect() array. */
static void row_to_applied(sqlite3_stmt *st, void *elem)
{
    struct applied_migration *m = elem;
    m->version = sqlite3_column_int(st, 0);
    db_column_copy(st, 1, m->name, sizeof(m->name));
    db_column_copy(st, 2, m->checksum, sizeof(m->checksum));
}

enum stk_err store_migrations_list(struct db *db, struct applied_migration **out, size_t *count,
                                   struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    return db_collect(db, st, sizeof(struct applied_migration), row_to_applied, (void **)out,
                      count, "reading schema_migrations", err);
}

/* sqlite3 authorizer: refuses BEGIN, COMMIT/END and ROLLBACK and notes it
 * in `*denied`. A migration that ended the transaction it runs in would
 * leave its first half applied but unrecorded when a later statement fails. */
static int deny_transaction_control(void *denied, int action, const char *a, const char *b,
                                    const char *c, const char *d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    if (action == SQLITE_TRANSACTION) {
        *(int *)denied = 1;
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

enum stk_err store_migrations_run(struct db *db, int version, const char *name, const char *text,
                                  const char *checksum, int *ran, struct stk_error *err)
{
    *ran = 0;
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    /* Another process may have applied it since we looked: now that we
     * hold the write lock, look again. */
    int current = 0;
    rc = store_migrations_version(db, &current, err);
    if (rc != STK_OK || current >= version) {
        goto out;
    }
    char *msg = NULL;
    int denied = 0;
    sqlite3_set_authorizer(db_handle(db), deny_transaction_control, &denied);
    int src = sqlite3_exec(db_handle(db), text, NULL, NULL, &msg);
    sqlite3_set_authorizer(db_handle(db), NULL, NULL);
    if (src != SQLITE_OK) {
        rc = stk_error_set(err, store_err_from_sqlite(src), "migration %s failed: %s", name,
                           denied ? "BEGIN, COMMIT and ROLLBACK are not allowed: each migration "
                                    "already runs in its own transaction"
                           : msg  ? msg
                                  : sqlite3_errstr(src));
        sqlite3_free(msg);
        goto out;
    }
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        rc = err ? err->code : STK_EDB;
        goto out;
    }
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, checksum, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        rc = db_fail(db, src, "recording migration", err);
        goto out;
    }
    rc = db_commit(db, err);
    if (rc == STK_OK) {
        *ran = 1;
    }
out:
    if (rc != STK_OK) {
        db_rollback(db);
    }
    return rc;
}

enum stk_err store_migrations_version(struct db *db, int *version, struct stk_error *err)
{
    *version = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_VERSION], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    int src = sqlite3_step(st);
    enum stk_err rc = STK_OK;
    if (src == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
    } else {
        rc = db_fail(db, src, "reading schema version", err);
    }
    db_done(st);
    return rc;
}
