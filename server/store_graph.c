#include "store_graph.h"

#include <string.h>

/* The incident's entities, and the outside entities linked to two or more
 * of them (by smallest id, at most ?2). */
#define GRAPH_CTE                                                                                  \
    "WITH inc(id) AS (SELECT entity_id FROM incident_entities WHERE incident_id = ?1),"            \
    " links(other, inner) AS ("                                                                    \
    "SELECT dst, src FROM edges WHERE src IN (SELECT id FROM inc)"                                 \
    " AND dst NOT IN (SELECT id FROM inc)"                                                         \
    " UNION SELECT src, dst FROM edges WHERE dst IN (SELECT id FROM inc)"                          \
    " AND src NOT IN (SELECT id FROM inc)),"                                                       \
    " conn(id) AS (SELECT other FROM links GROUP BY other HAVING count(*) >= 2"                    \
    " ORDER BY other LIMIT ?2) "

#define GRAPH_ENTITY_COLUMNS                                                                       \
    "e.id, e.kind, e.key, e.name, e.critical,"                                                     \
    " EXISTS (SELECT 1 FROM attack_path_members m WHERE m.entity_id = e.id)"

enum {
    SQL_ENTITIES,
    SQL_CONNECTORS,
    SQL_EDGES,
    SQL_DATA_VERSION,
    SQL_N_,
};

/* In SQL_EDGES, the unary + keeps SQLite from probing the (src, dst)
 * index once per pair of ids (4 million probes for 2,000 entities, 0.44 s):
 * dst is tested against the list instead, one probe per edge. */
static const char *const sql[SQL_N_] = {
    /* Severity from this incident's alerts only: starting from them keeps
     * the cost to the incident's size, where starting from an entity (a
     * cluster) would visit every alert that ever named it. */
    [SQL_ENTITIES] = "SELECT " GRAPH_ENTITY_COLUMNS ", coalesce(s.sev, -1)"
                     " FROM incident_entities ie JOIN entities e ON e.id = ie.entity_id"
                     " LEFT JOIN (SELECT ae.entity_id AS eid, max(a.severity) AS sev"
                     " FROM alerts a JOIN alert_entities ae ON ae.alert_id = a.id"
                     " WHERE a.incident_id = ?1 GROUP BY ae.entity_id) s ON s.eid = e.id"
                     " WHERE ie.incident_id = ?1 ORDER BY e.id LIMIT ?2",
    [SQL_CONNECTORS] = GRAPH_CTE "SELECT " GRAPH_ENTITY_COLUMNS ", -1"
                                 " FROM conn JOIN entities e ON e.id = conn.id ORDER BY e.id",
    [SQL_EDGES] = GRAPH_CTE ", v(id) AS (SELECT id FROM inc UNION SELECT id FROM conn)"
                            " SELECT src, dst, kind FROM edges"
                            " WHERE src IN (SELECT id FROM v) AND +dst IN (SELECT id FROM v)"
                            " ORDER BY src, dst, kind LIMIT ?3",
    [SQL_DATA_VERSION] = "PRAGMA data_version",
};

static void row_to_entity(sqlite3_stmt *st, void *elem)
{
    struct graph_entity_row *r = elem;
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->kind = sqlite3_column_int(st, 1);
    db_column_copy(st, 2, r->key, sizeof(r->key));
    db_column_copy(st, 3, r->name, sizeof(r->name));
    r->critical = sqlite3_column_int(st, 4);
    r->on_path = sqlite3_column_int(st, 5);
    r->severity = sqlite3_column_int(st, 6);
}

static void row_to_edge(sqlite3_stmt *st, void *elem)
{
    struct graph_edge_row *r = elem;
    memset(r, 0, sizeof(*r));
    r->src = sqlite3_column_int64(st, 0);
    r->dst = sqlite3_column_int64(st, 1);
    db_column_copy(st, 2, r->kind, sizeof(r->kind));
}

static enum stk_err collect(struct db *db, int which, long long id, int a, int b, size_t elem_size,
                            void (*row)(sqlite3_stmt *, void *), void **out, size_t *count,
                            struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[which], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, a);
    if (which == SQL_EDGES) {
        sqlite3_bind_int(st, 3, b);
    }
    return db_collect(db, st, elem_size, row, out, count, "reading the incident graph", err);
}

enum stk_err store_graph_entities(struct db *db, long long incident_id, int limit,
                                  struct graph_entity_row **rows, size_t *count,
                                  struct stk_error *err)
{
    void *out = NULL;
    enum stk_err rc = collect(db, SQL_ENTITIES, incident_id, limit, 0, sizeof(**rows),
                              row_to_entity, &out, count, err);
    *rows = out;
    return rc;
}

enum stk_err store_graph_connectors(struct db *db, long long incident_id, int max_connectors,
                                    struct graph_entity_row **rows, size_t *count,
                                    struct stk_error *err)
{
    void *out = NULL;
    enum stk_err rc = collect(db, SQL_CONNECTORS, incident_id, max_connectors, 0, sizeof(**rows),
                              row_to_entity, &out, count, err);
    *rows = out;
    return rc;
}

enum stk_err store_graph_edges(struct db *db, long long incident_id, int max_connectors, int limit,
                               struct graph_edge_row **rows, size_t *count, struct stk_error *err)
{
    void *out = NULL;
    enum stk_err rc = collect(db, SQL_EDGES, incident_id, max_connectors, limit, sizeof(**rows),
                              row_to_edge, &out, count, err);
    *rows = out;
    return rc;
}

enum stk_err store_graph_stamp(struct db *db, struct graph_stamp *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_DATA_VERSION], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_done(st);
        return db_fail(db, rc, "reading the data version", err);
    }
    out->data_version = sqlite3_column_int64(st, 0);
    out->changes = sqlite3_total_changes64(db_handle(db));
    db_done(st);
    return STK_OK;
}
