#include "store_roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_COLUMNS                                                                            \
    "r.id, r.name, r.description, r.builtin,"                                                   \
    " (SELECT coalesce(sum(p.bit), 0) FROM role_permissions rp"                                 \
    "  JOIN permissions p ON p.name = rp.permission WHERE rp.role_id = r.id)"                   \
    " FROM roles r"

enum {
    SQL_BY_NAME,
    SQL_LIST,
    SQL_INSERT,
    SQL_GRANT,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_BY_NAME] = "SELECT " ROLE_COLUMNS " WHERE r.name = ?",
    [SQL_LIST] = "SELECT " ROLE_COLUMNS " ORDER BY r.id",
    [SQL_INSERT] = "INSERT INTO roles (name, description, builtin, created_at) VALUES (?, ?, 0, ?)",
    [SQL_GRANT] = "INSERT INTO role_permissions (role_id, permission)"
                  " SELECT ?1, name FROM permissions WHERE (bit & ?2) != 0",
};

/* Fills one element of a db_collect() array. */
static void row_to_role(sqlite3_stmt *st, void *elem)
{
    struct role *r = elem;
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, r->name, sizeof(r->name));
    db_column_copy(st, 2, r->description, sizeof(r->description));
    r->builtin = sqlite3_column_int(st, 3);
    r->perms = (unsigned)sqlite3_column_int64(st, 4);
}

enum stk_err store_roles_get_by_name(struct db *db, const char *name, struct role *out,
                                     struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_BY_NAME], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_role(st, out);
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no role named '%s'", name);
    } else {
        rc = db_fail(db, src, "reading a role", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_roles_list(struct db *db, struct role **out, size_t *count,
                              struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    return db_collect(db, st, sizeof(struct role), row_to_role, (void **)out, count,
                      "listing roles", err);
}

enum stk_err store_roles_insert(struct db *db, const char *name, const char *description,
                                unsigned perms, long long now, long long *id,
                                struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        if ((src & 0xff) == SQLITE_CONSTRAINT) {
            return stk_error_set(err, STK_ECONFLICT, "role '%s' already exists", name);
        }
        return db_fail(db, src, "adding a role", err);
    }
    long long rid = sqlite3_last_insert_rowid(db_handle(db));
    st = db_stmt(db, sql[SQL_GRANT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int(st, 2, (int)perms);
    src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "granting permissions", err);
    }
    *id = rid;
    return STK_OK;
}
