#include "store_paths.h"

#include <stdlib.h>
#include <string.h>

#define PATH_COLUMNS                                                                               \
    "id, path_key, entry, target, risk, score, hops, title, steps, computed_at FROM attack_paths"

/* ?1 risk mask, ?2 target, ?3 entry, ?4 member. */
#define PATH_FILTERS                                                                               \
    " WHERE (?1 = 0 OR ((1 << risk) & ?1) != 0) AND (?2 = 0 OR target = ?2)"                       \
    " AND (?3 = 0 OR entry = ?3) AND (?4 = 0 OR id IN (SELECT path_id FROM"                        \
    " attack_path_members WHERE entity_id = ?4))"

/* ?1..?4 the kinds (unused ones NULL, which match nothing). */
#define ARC_KINDS " IN (?1, ?2, ?3, ?4)"

enum {
    SQL_GET,
    SQL_LIST,
    SQL_COUNTS,
    SQL_OF_ENTRY,
    SQL_FIND_KEY,
    SQL_INSERT,
    SQL_UPDATE,
    SQL_DELETE,
    SQL_MEMBERS_CLEAR,
    SQL_MEMBER_ADD,
    SQL_ENTRIES_THROUGH,
    SQL_ENTRIES_ALL,
    SQL_ARCS_OUT,
    SQL_ARCS_IN,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_GET] = "SELECT " PATH_COLUMNS " WHERE id = ?",
    [SQL_LIST] =
        "SELECT " PATH_COLUMNS PATH_FILTERS " AND (?5 = 0 OR risk < ?6 OR (risk = ?6 AND id < ?7))"
        " ORDER BY risk DESC, id DESC LIMIT ?8",
    [SQL_COUNTS] = "SELECT risk, count(*) FROM attack_paths" PATH_FILTERS " GROUP BY risk",
    [SQL_OF_ENTRY] = "SELECT id, path_key, entry, target, risk, score, hops, title, NULL,"
                     " computed_at FROM attack_paths WHERE entry = ? ORDER BY id",
    [SQL_FIND_KEY] = "SELECT id FROM attack_paths WHERE path_key = ?",
    [SQL_INSERT] = "INSERT INTO attack_paths (path_key, entry, target, risk, score, hops, title,"
                   " steps, computed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [SQL_UPDATE] = "UPDATE attack_paths SET entry = ?2, target = ?3, risk = ?4, score = ?5,"
                   " hops = ?6, title = ?7, steps = ?8, computed_at = ?9 WHERE id = ?1"
                   " AND (risk != ?4 OR score != ?5 OR title != ?7 OR steps != ?8)",
    [SQL_DELETE] = "DELETE FROM attack_paths WHERE id = ?",
    [SQL_MEMBERS_CLEAR] = "DELETE FROM attack_path_members WHERE path_id = ?",
    [SQL_MEMBER_ADD] = "INSERT OR IGNORE INTO attack_path_members (path_id, entity_id)"
                       " VALUES (?1, ?2)",
    [SQL_ENTRIES_THROUGH] = "SELECT DISTINCT p.entry FROM attack_path_members m"
                            " JOIN attack_paths p ON p.id = m.path_id WHERE m.entity_id = ?"
                            " ORDER BY p.entry",
    [SQL_ENTRIES_ALL] = "SELECT DISTINCT entry FROM attack_paths ORDER BY entry",
    [SQL_ARCS_OUT] =
        "SELECT e.dst, e.kind, n.critical FROM edges e JOIN entities n"
        " ON n.id = e.dst WHERE e.src = ?5 AND e.kind" ARC_KINDS " ORDER BY e.dst, e.kind",
    [SQL_ARCS_IN] =
        "SELECT src, kind, 0 FROM edges WHERE dst = ?5 AND kind" ARC_KINDS " ORDER BY src, kind",
};

void store_path_release(struct attack_path *p)
{
    if (p != NULL) {
        free(p->steps);
        p->steps = NULL;
    }
}

void store_paths_free(struct attack_path *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        store_path_release(&list[i]);
    }
    free(list);
}

/* Leaves steps NULL when the column is NULL (lists of keys); a failed copy
 * is noticed by check_steps(). */
static void row_to_path(sqlite3_stmt *st, void *elem)
{
    struct attack_path *p = elem;
    memset(p, 0, sizeof(*p));
    p->id = sqlite3_column_int64(st, 0);
    const void *key = sqlite3_column_blob(st, 1);
    if (key != NULL && sqlite3_column_bytes(st, 1) == PATH_KEY_LEN) {
        memcpy(p->key, key, PATH_KEY_LEN);
    }
    p->entry = sqlite3_column_int64(st, 2);
    p->target = sqlite3_column_int64(st, 3);
    p->risk = sqlite3_column_int(st, 4);
    p->score = sqlite3_column_int(st, 5);
    p->hops = sqlite3_column_int(st, 6);
    db_column_copy(st, 7, p->title, sizeof(p->title));
    const char *steps = (const char *)sqlite3_column_text(st, 8);
    p->steps = steps != NULL ? strdup(steps) : NULL;
    p->computed_at = sqlite3_column_int64(st, 9);
}

static enum stk_err check_steps(struct attack_path **rows, size_t *count, struct stk_error *err)
{
    for (size_t i = 0; i < *count; i++) {
        if ((*rows)[i].steps == NULL) {
            store_paths_free(*rows, *count);
            *rows = NULL;
            *count = 0;
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    return STK_OK;
}

enum stk_err store_paths_get(struct db *db, long long id, struct attack_path *out,
                             struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_GET], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_path(st, out);
        if (out->steps == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such attack path");
    } else {
        rc = db_fail(db, src, "reading an attack path", err);
    }
    db_done(st);
    return rc;
}

static void bind_filter(sqlite3_stmt *st, const struct path_filter *f)
{
    sqlite3_bind_int64(st, 1, f->risk_mask);
    sqlite3_bind_int64(st, 2, f->target);
    sqlite3_bind_int64(st, 3, f->entry);
    sqlite3_bind_int64(st, 4, f->member);
}

enum stk_err store_paths_list(struct db *db, const struct path_filter *f, struct attack_path **rows,
                              size_t *count, struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    bind_filter(st, f);
    sqlite3_bind_int(st, 5, f->has_cursor);
    sqlite3_bind_int(st, 6, f->cur_risk);
    sqlite3_bind_int64(st, 7, f->cur_id);
    sqlite3_bind_int(st, 8, f->limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct attack_path), row_to_path, &out, count,
                                 "listing attack paths", err);
    *rows = out;
    return rc == STK_OK ? check_steps(rows, count, err) : rc;
}

enum stk_err store_paths_counts(struct db *db, const struct path_filter *f, long long counts[4],
                                struct stk_error *err)
{
    memset(counts, 0, 4 * sizeof(counts[0]));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_COUNTS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    struct path_filter any = *f;
    any.risk_mask = 0;
    bind_filter(st, &any);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int risk = sqlite3_column_int(st, 0);
        if (risk >= 0 && risk < 4) {
            counts[risk] = sqlite3_column_int64(st, 1);
        }
    }
    db_done(st);
    if (src != SQLITE_DONE) {
        memset(counts, 0, 4 * sizeof(counts[0]));
        return db_fail(db, src, "counting attack paths", err);
    }
    return STK_OK;
}

enum stk_err store_paths_of_entry(struct db *db, long long entry, struct attack_path **rows,
                                  size_t *count, struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_OF_ENTRY], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, entry);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct attack_path), row_to_path, &out, count,
                                 "listing an entry point's paths", err);
    *rows = out;
    return rc;
}

enum stk_err store_paths_put(struct db *db, const struct attack_path *p, long long *id,
                             int *created, struct stk_error *err)
{
    *id = 0;
    *created = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_FIND_KEY], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_blob(st, 1, p->key, PATH_KEY_LEN, SQLITE_STATIC);
    long long found = 0;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        found = sqlite3_column_int64(st, 0);
    }
    db_done(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        return db_fail(db, src, "finding an attack path", err);
    }
    st = db_stmt(db, sql[found ? SQL_UPDATE : SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (found) {
        sqlite3_bind_int64(st, 1, found);
    } else {
        sqlite3_bind_blob(st, 1, p->key, PATH_KEY_LEN, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 2, p->entry);
    sqlite3_bind_int64(st, 3, p->target);
    sqlite3_bind_int(st, 4, p->risk);
    sqlite3_bind_int(st, 5, p->score);
    sqlite3_bind_int(st, 6, p->hops);
    sqlite3_bind_text(st, 7, p->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, p->steps, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, p->computed_at);
    enum stk_err rc = db_run(db, st, "storing an attack path", err);
    if (rc == STK_OK) {
        *id = found ? found : sqlite3_last_insert_rowid(db_handle(db));
        *created = !found;
    }
    return rc;
}

enum stk_err store_paths_delete(struct db *db, long long id, struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_DELETE], "deleting an attack path", 1, id, 0, err);
}

enum stk_err store_paths_set_members(struct db *db, long long id, const long long *ids, size_t n,
                                     struct stk_error *err)
{
    enum stk_err rc =
        db_run_ids(db, sql[SQL_MEMBERS_CLEAR], "clearing path members", 1, id, 0, err);
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        rc = db_run_ids(db, sql[SQL_MEMBER_ADD], "adding a path member", 2, id, ids[i], err);
    }
    return rc;
}

static void row_to_id(sqlite3_stmt *st, void *elem)
{
    *(long long *)elem = sqlite3_column_int64(st, 0);
}

enum stk_err store_paths_entries(struct db *db, long long entity_id, long long **ids, size_t *count,
                                 struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[entity_id ? SQL_ENTRIES_THROUGH : SQL_ENTRIES_ALL], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (entity_id) {
        sqlite3_bind_int64(st, 1, entity_id);
    }
    void *out = NULL;
    enum stk_err rc =
        db_collect(db, st, sizeof(long long), row_to_id, &out, count, "listing entry points", err);
    *ids = out;
    return rc;
}

static void row_to_arc(sqlite3_stmt *st, void *elem)
{
    struct path_arc *a = elem;
    memset(a, 0, sizeof(*a));
    a->other = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, a->kind, sizeof(a->kind));
    a->other_critical = sqlite3_column_int(st, 2);
}

enum stk_err store_paths_arcs(struct db *db, long long id, const char *const *kinds, int n_kinds,
                              int reverse, struct path_arc **arcs, size_t *count,
                              struct stk_error *err)
{
    *arcs = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[reverse ? SQL_ARCS_IN : SQL_ARCS_OUT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    for (int i = 0; i < n_kinds && i < PATH_KINDS_MAX; i++) {
        sqlite3_bind_text(st, i + 1, kinds[i], -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 5, id);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct path_arc), row_to_arc, &out, count,
                                 "reading the path graph", err);
    *arcs = out;
    return rc;
}
