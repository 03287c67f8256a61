#include "store_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SQL_LAST,
    SQL_INSERT,
    SQL_EACH,
    SQL_LIST,
    SQL_COUNT_,
};

static const char *const sql[SQL_COUNT_] = {
    [SQL_LAST] = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
    [SQL_INSERT] = "INSERT INTO audit_log (id, ts, actor, actor_kind, source_ip, action, target,"
                   " outcome, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    [SQL_EACH] = "SELECT id, ts, actor, actor_kind, source_ip, action, target, outcome, details,"
                 " prev_hash, hash FROM audit_log ORDER BY id",
    /* Optional filters are bound as NULL when unused. */
    [SQL_LIST] = "SELECT id, ts, actor, actor_kind, source_ip, action, target, outcome, details,"
                 " prev_hash, hash FROM audit_log"
                 " WHERE (?1 IS NULL OR actor = ?1)"
                 " AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2)"
                 " AND (?3 IS NULL OR outcome = ?3)"
                 " AND (?4 = 0 OR ts >= ?4) AND (?5 = 0 OR ts <= ?5)"
                 " AND (?6 = 0 OR id < ?6)"
                 " ORDER BY id DESC LIMIT ?7",
};

void store_audit_row_release(struct audit_row *row)
{
    free(row->actor);
    free(row->actor_kind);
    free(row->source_ip);
    free(row->action);
    free(row->target);
    free(row->outcome);
    free(row->details);
    memset(row, 0, sizeof(*row));
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return strdup(s ? s : "");
}

static void copy_hash(char dst[65], sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, 65, "%s", s ? s : "");
}

/* Fills `row` with owned copies of the current result row. */
static enum stk_err row_to_audit(sqlite3_stmt *st, struct audit_row *row)
{
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(st, 0);
    row->ts = sqlite3_column_int64(st, 1);
    row->actor = dup_col(st, 2);
    row->actor_kind = dup_col(st, 3);
    row->source_ip = dup_col(st, 4);
    row->action = dup_col(st, 5);
    row->target = dup_col(st, 6);
    row->outcome = dup_col(st, 7);
    row->details = dup_col(st, 8);
    copy_hash(row->prev_hash, st, 9);
    copy_hash(row->hash, st, 10);
    if (!row->actor || !row->actor_kind || !row->source_ip || !row->action || !row->target ||
        !row->outcome || !row->details) {
        store_audit_row_release(row);
        return STK_ENOMEM;
    }
    return STK_OK;
}

enum stk_err store_audit_last(struct db *db, long long *id, char hash[65], struct stk_error *err)
{
    *id = 0;
    memset(hash, '0', 64);
    hash[64] = '\0';
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LAST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        copy_hash(hash, st, 1);
    } else if (src != SQLITE_DONE) {
        rc = db_fail(db, src, "reading the audit head", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_audit_insert(struct db *db, const struct audit_row *row, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, row->id);
    sqlite3_bind_int64(st, 2, row->ts);
    sqlite3_bind_text(st, 3, row->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row->actor_kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, row->source_ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row->outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, row->details, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, row->prev_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, row->hash, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "appending to the audit log", err);
    }
    return STK_OK;
}

enum stk_err store_audit_each(struct db *db, int (*fn)(const struct audit_row *row, void *ctx),
                              void *ctx, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_EACH], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    enum stk_err rc = STK_OK;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_row row;
        rc = row_to_audit(st, &row);
        if (rc != STK_OK) {
            stk_error_set(err, rc, "out of memory");
            break;
        }
        int stop = fn(&row, ctx);
        store_audit_row_release(&row);
        if (stop) {
            break;
        }
    }
    if (rc == STK_OK && src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = db_fail(db, src, "reading the audit log", err);
    }
    db_done(st);
    return rc;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL && v[0] != '\0') {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, i);
    }
}

enum stk_err store_audit_list(struct db *db, const struct audit_filter *f, struct audit_row **rows,
                              size_t *count, struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    enum stk_err rc = STK_OK;
    struct audit_row *items = calloc((size_t)f->limit, sizeof(*items));
    size_t n = 0;
    if (items == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    bind_opt(st, 1, f->actor);
    bind_opt(st, 2, f->action);
    bind_opt(st, 3, f->outcome);
    sqlite3_bind_int64(st, 4, f->since_ms);
    sqlite3_bind_int64(st, 5, f->until_ms);
    sqlite3_bind_int64(st, 6, f->before_id);
    sqlite3_bind_int(st, 7, f->limit);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW && n < (size_t)f->limit) {
        rc = row_to_audit(st, &items[n]);
        if (rc != STK_OK) {
            stk_error_set(err, rc, "out of memory");
            goto out;
        }
        n++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = db_fail(db, src, "listing the audit log", err);
    }
out:
    db_done(st);
    if (rc != STK_OK) {
        for (size_t i = 0; i < n; i++) {
            store_audit_row_release(&items[i]);
        }
        free(items);
        return rc;
    }
    *rows = items;
    *count = n;
    return STK_OK;
}
