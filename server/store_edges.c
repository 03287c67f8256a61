#include "store_edges.h"

#include <stdlib.h>
#include <string.h>

#define EDGE_COLUMNS "id, src, dst, kind, source, props, first_seen, last_seen FROM edges"

enum {
    SQL_UPSERT,
    SQL_OF_INCIDENT,
    SQL_OF_ENTITY,
    SQL_FIND,
    SQL_DSTS,
    SQL_SRCS,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_UPSERT] = "INSERT INTO edges (src, dst, kind, source, props, first_seen, last_seen)"
                   " VALUES (?1, ?2, ?3, ?4, coalesce(?5, '{}'), ?6, ?6)"
                   " ON CONFLICT (src, dst, kind) DO UPDATE SET"
                   " last_seen = max(last_seen, excluded.last_seen),"
                   " props = CASE WHEN ?5 IS NULL THEN props ELSE excluded.props END",
    /* "+dst": probe the index by src only and filter dst, instead of one
     * probe per (src, dst) pair (quadratic in the incident's entities). */
    [SQL_OF_INCIDENT] = "SELECT " EDGE_COLUMNS " WHERE src IN (SELECT entity_id"
                        " FROM incident_entities WHERE incident_id = ?1) AND +dst IN"
                        " (SELECT entity_id FROM incident_entities WHERE incident_id = ?1)"
                        " ORDER BY src, dst, kind LIMIT ?2",
    [SQL_OF_ENTITY] = "SELECT * FROM (SELECT " EDGE_COLUMNS " WHERE src = ?1 UNION SELECT "
                      EDGE_COLUMNS " WHERE dst = ?1) ORDER BY src, dst, kind LIMIT ?2",
    [SQL_FIND] = "SELECT props FROM edges WHERE src = ?1 AND dst = ?2 AND kind = ?3",
    [SQL_DSTS] = "SELECT dst FROM edges WHERE src = ?1 AND kind = ?2 ORDER BY dst LIMIT ?3",
    [SQL_SRCS] = "SELECT src FROM edges WHERE dst = ?1 AND kind = ?2 ORDER BY src LIMIT ?3",
};

void store_edges_free(struct edge *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        free(list[i].props);
    }
    free(list);
}

static void row_to_edge(sqlite3_stmt *st, void *elem)
{
    struct edge *e = elem;
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(st, 0);
    e->src = sqlite3_column_int64(st, 1);
    e->dst = sqlite3_column_int64(st, 2);
    db_column_copy(st, 3, e->kind, sizeof(e->kind));
    db_column_copy(st, 4, e->source, sizeof(e->source));
    const char *p = (const char *)sqlite3_column_text(st, 5);
    e->props = strdup(p ? p : "{}");
    e->first_seen = sqlite3_column_int64(st, 6);
    e->last_seen = sqlite3_column_int64(st, 7);
}

enum stk_err store_edges_upsert(struct db *db, long long src, long long dst, const char *kind,
                                const char *source, const char *props, long long seen_ms,
                                struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_UPSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, src);
    sqlite3_bind_int64(st, 2, dst);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
    if (props != NULL) {
        sqlite3_bind_text(st, 5, props, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 6, seen_ms);
    return db_run(db, st, "storing an edge", err);
}

static enum stk_err collect(struct db *db, int which, long long id, int limit, struct edge **list,
                            size_t *count, struct stk_error *err)
{
    *list = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct edge), row_to_edge, &out, count,
                                 "listing edges", err);
    *list = out;
    for (size_t i = 0; rc == STK_OK && i < *count; i++) {
        if ((*list)[i].props == NULL) {
            store_edges_free(*list, *count);
            *list = NULL;
            *count = 0;
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

enum stk_err store_edges_of_incident(struct db *db, long long incident_id, int limit,
                                     struct edge **list, size_t *count, struct stk_error *err)
{
    return collect(db, SQL_OF_INCIDENT, incident_id, limit, list, count, err);
}

enum stk_err store_edges_of_entity(struct db *db, long long entity_id, int limit,
                                   struct edge **list, size_t *count, struct stk_error *err)
{
    return collect(db, SQL_OF_ENTITY, entity_id, limit, list, count, err);
}

enum stk_err store_edges_find(struct db *db, long long src, long long dst, const char *kind,
                              int *found, char **props, struct stk_error *err)
{
    *found = 0;
    *props = NULL;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_FIND], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, src);
    sqlite3_bind_int64(st, 2, dst);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    enum stk_err rc = STK_OK;
    int src_rc = sqlite3_step(st);
    if (src_rc == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        *props = strdup(p ? p : "{}");
        *found = *props != NULL;
        if (*props == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    } else if (src_rc != SQLITE_DONE) {
        rc = db_fail(db, src_rc, "finding an edge", err);
    }
    db_done(st);
    return rc;
}

static void row_to_id(sqlite3_stmt *st, void *elem)
{
    *(long long *)elem = sqlite3_column_int64(st, 0);
}

enum stk_err store_edges_ends(struct db *db, long long id, const char *kind, int reverse,
                              int limit, long long **ids, size_t *count, struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[reverse ? SQL_SRCS : SQL_DSTS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(long long), row_to_id, &out, count,
                                 "listing edge ends", err);
    *ids = out;
    return rc;
}
