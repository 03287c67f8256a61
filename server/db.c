#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Open-addressed table of prepared statements keyed by SQL text address.
 * Sized well above the number of statements the program has. */
#define STMT_SLOTS 1024

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *st;
};

struct memo {
    unsigned version;
    void *data; /* NULL: empty */
    size_t len;
};

struct db {
    sqlite3 *h;
    struct stmt_slot slots[STMT_SLOTS];
    struct memo memos[DB_MEMO_N];
};

void db_global_init(void)
{
    /* Memory statistics take a global mutex on every allocation, which the
     * many worker threads then fight over; nothing reads them. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The connection's view of the database version: it changes whenever any
 * connection (this one too) commits a change. 0 when unknown. */
static unsigned data_version(struct db *db)
{
    unsigned v = 0;
    if (sqlite3_file_control(db->h, "main", SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK) {
        return 0;
    }
    return v;
}

const void *db_memo_get(struct db *db, int slot, size_t *len)
{
    *len = 0;
    struct memo *m = &db->memos[slot];
    unsigned v = data_version(db);
    if (m->data == NULL || v == 0 || v != m->version) {
        return NULL;
    }
    *len = m->len;
    return m->data;
}

void db_memo_put(struct db *db, int slot, const void *data, size_t len)
{
    struct memo *m = &db->memos[slot];
    free(m->data);
    m->data = NULL;
    unsigned v = data_version(db);
    if (v == 0 || len == 0) {
        return;
    }
    m->data = malloc(len);
    if (m->data != NULL) {
        memcpy(m->data, data, len);
        m->len = len;
        m->version = v;
    }
}

enum stk_err store_err_from_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return STK_OK;
    case SQLITE_CONSTRAINT:
        return STK_ECONFLICT;
    case SQLITE_NOMEM:
        return STK_ENOMEM;
    case SQLITE_NOTFOUND:
        return STK_ENOTFOUND;
    case SQLITE_TOOBIG:
        return STK_ETOOBIG;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        return STK_EIO;
    default:
        return STK_EDB;
    }
}

enum stk_err db_fail(struct db *db, int rc, const char *what, struct stk_error *err)
{
    return stk_error_set(err, store_err_from_sqlite(rc), "%s: %s", what,
                         db != NULL && db->h != NULL ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
}

static enum stk_err exec(struct db *db, const char *sql, struct stk_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        enum stk_err e = stk_error_set(err, store_err_from_sqlite(rc), "%s: %s", sql,
                                       msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return e;
    }
    return STK_OK;
}

enum stk_err db_open(const char *path, struct db **out, struct stk_error *err)
{
    *out = NULL;
    struct db *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    enum stk_err rc = STK_OK;
    int src = sqlite3_open_v2(path, &db->h,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        rc = stk_error_set(err, STK_EIO, "cannot open database %s: %s", path,
                           db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(src));
        goto out;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 5000);
    /* Keep each prepared plan: otherwise binding a LIKE pattern marks the
     * statement for re-preparation on every request. */
    sqlite3_db_config(db->h, SQLITE_DBCONFIG_ENABLE_QPSG, 1, NULL);
    /* WAL lets readers run beside the one writer; NORMAL sync in WAL mode
     * keeps every committed transaction across a crash of the process (the
     * case a 2xx promises); only an OS crash can lose the last commits. */
    static const char *const pragmas[] = {
        "PRAGMA journal_mode=WAL",   "PRAGMA synchronous=NORMAL",  "PRAGMA foreign_keys=ON",
        "PRAGMA temp_store=MEMORY",  "PRAGMA mmap_size=268435456", "PRAGMA cache_size=-16000",
    };
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        rc = exec(db, pragmas[i], err);
        if (rc != STK_OK) {
            goto out;
        }
    }
out:
    if (rc != STK_OK) {
        db_free(db);
        return rc;
    }
    *out = db;
    return STK_OK;
}

void db_free(struct db *db)
{
    if (db == NULL) {
        return;
    }
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        if (db->slots[i].st != NULL) {
            sqlite3_finalize(db->slots[i].st);
        }
    }
    for (size_t i = 0; i < DB_MEMO_N; i++) {
        free(db->memos[i].data);
    }
    if (db->h != NULL) {
        sqlite3_close_v2(db->h);
    }
    free(db);
}

sqlite3 *db_handle(struct db *db)
{
    return db->h;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql, struct stk_error *err)
{
    uintptr_t key = (uintptr_t)sql;
    size_t i = (size_t)((key >> 3) * 0x9E3779B97F4A7C15ull >> 54) % STMT_SLOTS;
    for (size_t n = 0; n < STMT_SLOTS; n++, i = (i + 1) % STMT_SLOTS) {
        struct stmt_slot *s = &db->slots[i];
        if (s->sql == sql) {
            return s->st;
        }
        if (s->sql == NULL) {
            sqlite3_stmt *st = NULL;
            int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
            if (rc != SQLITE_OK) {
                log_event(STK_LOG_ERROR, "db_prepare_failed", "error=\"%s\"",
                          sqlite3_errmsg(db->h));
                db_fail(db, rc, "prepare", err);
                return NULL;
            }
            s->sql = sql;
            s->st = st;
            return st;
        }
    }
    stk_error_set(err, STK_EINTERNAL, "statement cache full");
    return NULL;
}

void db_done(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

enum stk_err db_begin(struct db *db, struct stk_error *err)
{
    return exec(db, "BEGIN IMMEDIATE", err);
}

enum stk_err db_read_begin(struct db *db, struct stk_error *err)
{
    return exec(db, "BEGIN DEFERRED", err);
}

void db_read_end(struct db *db)
{
    if (!sqlite3_get_autocommit(db->h)) {
        sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    }
}

enum stk_err db_commit(struct db *db, struct stk_error *err)
{
    enum stk_err rc = exec(db, "COMMIT", err);
    if (rc != STK_OK) {
        db_rollback(db);
    }
    return rc;
}

void db_rollback(struct db *db)
{
    if (!sqlite3_get_autocommit(db->h)) {
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    }
}

enum stk_err db_checkpoint(struct db *db, struct stk_error *err)
{
    return exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", err);
}

enum stk_err db_collect(struct db *db, sqlite3_stmt *st, size_t elem_size,
                        void (*row)(sqlite3_stmt *st, void *elem), void **out, size_t *count,
                        const char *what, struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    enum stk_err rc = STK_OK;
    char *items = NULL;
    size_t n = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char *grown = realloc(items, cap * elem_size);
            if (grown == NULL) {
                rc = stk_error_set(err, STK_ENOMEM, "out of memory");
                goto out;
            }
            items = grown;
        }
        row(st, items + n * elem_size);
        n++;
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(db, src, what, err);
    }
out:
    db_done(st);
    if (rc != STK_OK) {
        free(items);
        return rc;
    }
    *out = items;
    *count = n;
    return STK_OK;
}

enum stk_err db_run(struct db *db, sqlite3_stmt *st, const char *what, struct stk_error *err)
{
    int src = sqlite3_step(st);
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, what, err);
}

enum stk_err db_run_ids(struct db *db, const char *sql, const char *what, int n, long long a,
                        long long b, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql, err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (n > 0) {
        sqlite3_bind_int64(st, 1, a);
    }
    if (n > 1) {
        sqlite3_bind_int64(st, 2, b);
    }
    return db_run(db, st, what, err);
}

void db_column_copy(sqlite3_stmt *st, int col, char *dst, size_t n)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", s ? s : "");
}
