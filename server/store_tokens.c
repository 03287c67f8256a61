#include "store_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_COLUMNS                                                                           \
    "id, name, prefix, permissions, coalesce(cluster, ''), created_by, created_at,"             \
    " coalesce(expires_at, 0), coalesce(revoked_at, 0), coalesce(last_used_at, 0)"              \
    " FROM api_tokens"

enum {
    SQL_INSERT,
    SQL_BY_HASH,
    SQL_BY_ID,
    SQL_LIST,
    SQL_REVOKE,
    SQL_TOUCH,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_INSERT] = "INSERT INTO api_tokens (name, token_hash, prefix, permissions, cluster,"
                   " created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [SQL_BY_HASH] = "SELECT " TOKEN_COLUMNS " WHERE token_hash = ?",
    [SQL_BY_ID] = "SELECT " TOKEN_COLUMNS " WHERE id = ?",
    [SQL_LIST] = "SELECT " TOKEN_COLUMNS " ORDER BY id DESC",
    [SQL_REVOKE] = "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [SQL_TOUCH] = "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
};

/* Fills one element of a db_collect() array. */
static void row_to_token(sqlite3_stmt *st, void *elem)
{
    struct api_token *t = elem;
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, t->name, sizeof(t->name));
    db_column_copy(st, 2, t->prefix, sizeof(t->prefix));
    t->perms = (unsigned)sqlite3_column_int64(st, 3);
    db_column_copy(st, 4, t->cluster, sizeof(t->cluster));
    db_column_copy(st, 5, t->created_by, sizeof(t->created_by));
    t->created_at = sqlite3_column_int64(st, 6);
    t->expires_at = sqlite3_column_int64(st, 7);
    t->revoked_at = sqlite3_column_int64(st, 8);
    t->last_used_at = sqlite3_column_int64(st, 9);
}

enum stk_err store_tokens_insert(struct db *db, const char *name, const char *token_hash,
                                 const char *prefix, unsigned perms, const char *cluster,
                                 const char *created_by, long long now, long long expires_at,
                                 long long *id, struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, (int)perms);
    if (cluster != NULL && cluster[0] != '\0') {
        sqlite3_bind_text(st, 5, cluster, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 5);
    }
    sqlite3_bind_text(st, 6, created_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    if (expires_at > 0) {
        sqlite3_bind_int64(st, 8, expires_at);
    } else {
        sqlite3_bind_null(st, 8);
    }
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "creating a token", err);
    }
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return STK_OK;
}

static enum stk_err get_one(struct db *db, int which, const char *hash, long long id,
                            struct api_token *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (hash != NULL) {
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, id);
    }
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_token(st, out);
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such token");
    } else {
        rc = db_fail(db, src, "reading a token", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_tokens_get_by_hash(struct db *db, const char *token_hash,
                                      struct api_token *out, struct stk_error *err)
{
    return get_one(db, SQL_BY_HASH, token_hash, 0, out, err);
}

enum stk_err store_tokens_list(struct db *db, struct api_token **out, size_t *count,
                               struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    return db_collect(db, st, sizeof(struct api_token), row_to_token, (void **)out, count,
                      "listing tokens", err);
}

/* Runs an UPDATE taking (?1 id, ?2 time). */
static enum stk_err update_at(struct db *db, int which, long long id, long long now,
                              const char *what, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    int src = sqlite3_step(st);
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, what, err);
}

enum stk_err store_tokens_revoke(struct db *db, long long id, long long now, struct api_token *out,
                                 struct stk_error *err)
{
    enum stk_err rc = update_at(db, SQL_REVOKE, id, now, "revoking a token", err);
    if (rc != STK_OK) {
        return rc;
    }
    if (sqlite3_changes(db_handle(db)) == 0) {
        return stk_error_set(err, STK_ENOTFOUND, "no active token with id %lld", id);
    }
    return get_one(db, SQL_BY_ID, NULL, id, out, err);
}

enum stk_err store_tokens_touch(struct db *db, long long id, long long now,
                                struct stk_error *err)
{
    return update_at(db, SQL_TOUCH, id, now, "updating a token", err);
}
