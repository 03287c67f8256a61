#include "store_entities.h"

#include <stdlib.h>
#include <string.h>

#define ENTITY_COLUMNS \
    "id, kind, key, name, cluster, props, critical, first_seen, last_seen FROM entities"

enum {
    SQL_FIND,
    SQL_INSERT,
    SQL_TOUCH,
    SQL_BY_ID,
    SQL_BY_KEY,
    SQL_SET_CRITICAL,
    SQL_MERGE_PROPS,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_FIND] = "SELECT id, critical FROM entities WHERE key = ?",
    [SQL_INSERT] = "INSERT INTO entities (kind, key, name, cluster, props, first_seen, last_seen)"
                   " VALUES (?, ?, ?, ?, coalesce(?, '{}'), ?6, ?6)",
    [SQL_TOUCH] = "UPDATE entities SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2",
    [SQL_BY_ID] = "SELECT " ENTITY_COLUMNS " WHERE id = ?",
    [SQL_BY_KEY] = "SELECT " ENTITY_COLUMNS " WHERE key = ?",
    [SQL_SET_CRITICAL] = "UPDATE entities SET critical = ?2 WHERE id = ?1",
    /* RFC 7396 merge: top-level keys replace, null removes. */
    [SQL_MERGE_PROPS] = "UPDATE entities SET props = json_patch(props, ?2) WHERE key = ?1",
};

void store_entity_release(struct entity *e)
{
    if (e != NULL) {
        free(e->props);
        e->props = NULL;
    }
}

void store_entities_free(struct entity *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        store_entity_release(&list[i]);
    }
    free(list);
}

void store_entity_from_row(sqlite3_stmt *st, void *elem)
{
    struct entity *e = elem;
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(st, 0);
    e->kind = sqlite3_column_int(st, 1);
    db_column_copy(st, 2, e->key, sizeof(e->key));
    db_column_copy(st, 3, e->name, sizeof(e->name));
    db_column_copy(st, 4, e->cluster, sizeof(e->cluster));
    const char *props = (const char *)sqlite3_column_text(st, 5);
    e->props = strdup(props ? props : "{}");
    e->critical = sqlite3_column_int(st, 6);
    e->first_seen = sqlite3_column_int64(st, 7);
    e->last_seen = sqlite3_column_int64(st, 8);
}

enum stk_err store_entities_find(struct db *db, const char *key, long long *id, int *critical,
                                 struct stk_error *err)
{
    *id = 0;
    *critical = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_FIND], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *critical = sqlite3_column_int(st, 1);
    }
    db_done(st);
    if (src == SQLITE_ROW) {
        return STK_OK;
    }
    return src == SQLITE_DONE ? STK_ENOTFOUND : db_fail(db, src, "finding an entity", err);
}

enum stk_err store_entities_insert(struct db *db, int kind, const char *key, const char *name,
                                   const char *cluster, const char *props, long long seen_ms,
                                   long long *id, struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cluster ? cluster : "", -1, SQLITE_STATIC);
    if (props != NULL) {
        sqlite3_bind_text(st, 5, props, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 6, seen_ms);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "inserting an entity", err);
    }
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return STK_OK;
}

enum stk_err store_entities_touch(struct db *db, long long id, long long seen_ms,
                                  struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_TOUCH], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, seen_ms);
    int src = sqlite3_step(st);
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, "touching an entity", err);
}

static enum stk_err get_one(struct db *db, int which, long long id, const char *key,
                            struct entity *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (key != NULL) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, id);
    }
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        store_entity_from_row(st, out);
        if (out->props == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such entity");
    } else {
        rc = db_fail(db, src, "reading an entity", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_entities_get(struct db *db, long long id, struct entity *out,
                                struct stk_error *err)
{
    return get_one(db, SQL_BY_ID, id, NULL, out, err);
}

enum stk_err store_entities_get_by_key(struct db *db, const char *key, struct entity *out,
                                       struct stk_error *err)
{
    return get_one(db, SQL_BY_KEY, 0, key, out, err);
}

enum stk_err store_entities_set_critical(struct db *db, long long id, int critical,
                                         struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_SET_CRITICAL], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, critical ? 1 : 0);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "marking an entity critical", err);
    }
    if (sqlite3_changes(db_handle(db)) == 0) {
        return stk_error_set(err, STK_ENOTFOUND, "no such entity");
    }
    return STK_OK;
}

enum stk_err store_entities_merge_props(struct db *db, const char *key, const char *patch,
                                        int *changed, struct stk_error *err)
{
    *changed = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_MERGE_PROPS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, patch, -1, SQLITE_STATIC);
    enum stk_err rc = db_run(db, st, "merging entity properties", err);
    if (rc == STK_OK) {
        *changed = sqlite3_changes(db_handle(db)) > 0;
    }
    return rc;
}
