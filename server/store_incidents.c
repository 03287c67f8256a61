#include "store_incidents.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INCIDENT_COLUMNS                                                                           \
    "id, title, severity, status, assignee, classification, determination, tags, sources,"         \
    " tactics, high_impact, alert_count, entity_count, coalesce(main_entity, 0), main_count,"      \
    " clusters, first_ts, last_ts, created_at, updated_at, coalesce(merged_into, 0)"               \
    " FROM incidents"

/* Filters shared by every listing variant; ?1/?2 (status) and the keyset
 * condition differ per variant. The IN sub-selects are only evaluated when
 * their filter is set. */
#define LIST_FILTERS                                                                               \
    " AND (?3 = 0 OR (?3 >> severity) & 1)"                                                        \
    " AND (?4 = 0 OR (sources & ?4) != 0)"                                                         \
    " AND (?5 IS NULL OR assignee = ?5)"                                                           \
    " AND (?6 = 0 OR (?6 >> classification) & 1)"                                                  \
    " AND (?7 = 0 OR id IN (SELECT incident_id FROM incident_entities WHERE entity_id = ?7))"      \
    " AND (?8 = 0 OR last_ts >= ?8) AND (?9 = 0 OR first_ts <= ?9)"                                \
    " AND (?10 IS NULL OR title LIKE ?10 ESCAPE '\\' OR id IN (SELECT ie.incident_id"              \
    " FROM incident_entities ie JOIN entities e ON e.id = ie.entity_id"                            \
    " WHERE e.name LIKE ?10 ESCAPE '\\'))"

#define BY_STATUS " WHERE status = ?1 AND ?2 = ?2"
#define BY_MASK " WHERE ?1 = ?1 AND status < 3 AND (?2 = 0 OR (?2 >> status) & 1)"
#define PAGE_ACTIVITY                                                                              \
    " AND ?13 = ?13 AND (last_ts, id) < (?11, ?12) ORDER BY last_ts DESC, id DESC LIMIT ?14"
#define PAGE_SEVERITY                                                                              \
    " AND (severity, last_ts, id) < (?13, ?11, ?12)"                                               \
    " ORDER BY severity DESC, last_ts DESC, id DESC LIMIT ?14"
#define PAGE_ALERTS                                                                                \
    " AND ?11 = ?11 AND (alert_count, id) < (?13, ?12) ORDER BY alert_count DESC, id DESC"         \
    " LIMIT ?14"

enum {
    SQL_INSERT,
    SQL_GET,
    SQL_SAVE_AGG,
    SQL_SAVE_TRIAGE,
    SQL_MARK_MERGED,
    SQL_ADD_ENTITY,
    SQL_ENTITY_COUNT,
    SQL_CLEAR_ENTITIES,
    SQL_REBUILD_ENTITIES,
    SQL_MOVE_ENTITIES,
    SQL_EACH_ALERT,
    SQL_ENTITIES,
    SQL_REFRESH_IMPACT,
    SQL_LIST_ACT_STATUS,
    SQL_LIST_ACT_MASK,
    SQL_LIST_SEV_STATUS,
    SQL_LIST_SEV_MASK,
    SQL_LIST_ALERTS_STATUS,
    SQL_LIST_ALERTS_MASK,
    SQL_CUBE,
    SQL_SCAN_CELLS,
    SQL_HISTORY_ADD,
    SQL_HISTORY,
    SQL_COMMENT_ADD,
    SQL_COMMENTS,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_INSERT] = "INSERT INTO incidents (title, severity, status, assignee, classification,"
                   " determination, tags, sources, tactics, high_impact, alert_count,"
                   " entity_count, main_entity, main_count, clusters, first_ts, last_ts,"
                   " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                   " nullif(?, 0), ?, ?, ?, ?, ?, ?)",
    [SQL_GET] = "SELECT " INCIDENT_COLUMNS " WHERE id = ?",
    [SQL_SAVE_AGG] = "UPDATE incidents SET title = ?2, severity = ?3, sources = ?4, tactics = ?5,"
                     " high_impact = ?6, alert_count = ?7, entity_count = ?8,"
                     " main_entity = nullif(?9, 0), main_count = ?10, clusters = ?11,"
                     " first_ts = ?12, last_ts = ?13, updated_at = ?14 WHERE id = ?1",
    [SQL_SAVE_TRIAGE] = "UPDATE incidents SET status = ?2, assignee = ?3, classification = ?4,"
                        " determination = ?5, tags = ?6, updated_at = ?7 WHERE id = ?1",
    [SQL_MARK_MERGED] = "UPDATE incidents SET status = 3, merged_into = ?2, alert_count = 0,"
                        " entity_count = 0, updated_at = ?3 WHERE id = ?1",
    [SQL_ADD_ENTITY] = "INSERT INTO incident_entities (incident_id, entity_id, alert_count)"
                       " VALUES (?1, ?2, ?3) ON CONFLICT (incident_id, entity_id)"
                       " DO UPDATE SET alert_count = alert_count + ?3",
    [SQL_ENTITY_COUNT] = "SELECT alert_count FROM incident_entities"
                         " WHERE incident_id = ? AND entity_id = ?",
    [SQL_CLEAR_ENTITIES] = "DELETE FROM incident_entities WHERE incident_id = ?",
    [SQL_REBUILD_ENTITIES] = "INSERT INTO incident_entities (incident_id, entity_id, alert_count)"
                             " SELECT ?1, ae.entity_id, count(*) FROM alerts a"
                             " JOIN alert_entities ae ON ae.alert_id = a.id"
                             " WHERE a.incident_id = ?1 GROUP BY ae.entity_id",
    [SQL_MOVE_ENTITIES] = "INSERT INTO incident_entities (incident_id, entity_id, alert_count)"
                          " SELECT ?2, entity_id, alert_count FROM incident_entities"
                          " WHERE incident_id = ?1 AND true ON CONFLICT (incident_id, entity_id)"
                          " DO UPDATE SET alert_count = alert_count + excluded.alert_count",
    [SQL_EACH_ALERT] = "SELECT severity, tactic, provider, first_ts, last_ts FROM alerts"
                       " WHERE incident_id = ?",
    [SQL_ENTITIES] = "SELECT " ENTITY_SELECT ", ie.alert_count FROM incident_entities ie"
                     " JOIN entities e ON e.id = ie.entity_id WHERE ie.incident_id = ?"
                     " ORDER BY ie.alert_count DESC, e.kind, e.key LIMIT ?",
    [SQL_REFRESH_IMPACT] = "UPDATE incidents SET high_impact = EXISTS (SELECT 1"
                           " FROM incident_entities ie JOIN entities e ON e.id = ie.entity_id"
                           " WHERE ie.incident_id = incidents.id AND e.critical = 1)"
                           " WHERE id IN (SELECT incident_id FROM incident_entities"
                           " WHERE entity_id = ?)",
    [SQL_LIST_ACT_STATUS] = "SELECT " INCIDENT_COLUMNS BY_STATUS LIST_FILTERS PAGE_ACTIVITY,
    [SQL_LIST_ACT_MASK] = "SELECT " INCIDENT_COLUMNS BY_MASK LIST_FILTERS PAGE_ACTIVITY,
    [SQL_LIST_SEV_STATUS] = "SELECT " INCIDENT_COLUMNS BY_STATUS LIST_FILTERS PAGE_SEVERITY,
    [SQL_LIST_SEV_MASK] = "SELECT " INCIDENT_COLUMNS BY_MASK LIST_FILTERS PAGE_SEVERITY,
    [SQL_LIST_ALERTS_STATUS] = "SELECT " INCIDENT_COLUMNS BY_STATUS LIST_FILTERS PAGE_ALERTS,
    [SQL_LIST_ALERTS_MASK] = "SELECT " INCIDENT_COLUMNS BY_MASK LIST_FILTERS PAGE_ALERTS,
    [SQL_CUBE] = "SELECT status, severity, classification, assignee, sources, n"
                 " FROM incident_cube WHERE n > 0 AND status < 3",
    /* Only the filters the cube cannot answer; the facet ones are applied in
     * C so that each facet can leave its own out. */
    [SQL_SCAN_CELLS] = "SELECT status, severity, classification, assignee, sources, 1"
                       " FROM incidents WHERE status < 3"
                       " AND (?7 = 0 OR id IN (SELECT incident_id FROM incident_entities"
                       " WHERE entity_id = ?7))"
                       " AND (?8 = 0 OR last_ts >= ?8) AND (?9 = 0 OR first_ts <= ?9)"
                       " AND (?10 IS NULL OR title LIKE ?10 ESCAPE '\\' OR id IN"
                       " (SELECT ie.incident_id FROM incident_entities ie"
                       " JOIN entities e ON e.id = ie.entity_id"
                       " WHERE e.name LIKE ?10 ESCAPE '\\')) LIMIT ?1",
    [SQL_HISTORY_ADD] = "INSERT INTO incident_history (incident_id, ts, actor, kind, summary,"
                        " details) VALUES (?, ?, ?, ?, ?, coalesce(?, '{}'))",
    [SQL_HISTORY] = "SELECT id, incident_id, ts, actor, kind, summary, details"
                    " FROM incident_history WHERE incident_id = ? ORDER BY id DESC LIMIT ?",
    [SQL_COMMENT_ADD] = "INSERT INTO incident_comments (incident_id, ts, author, text)"
                        " VALUES (?, ?, ?, ?)",
    [SQL_COMMENTS] = "SELECT id, incident_id, ts, author, 'comment', text, NULL"
                     " FROM incident_comments WHERE incident_id = ? ORDER BY id LIMIT ?",
};

#define PREPARE(st, which)                                                                         \
    sqlite3_stmt *st = db_stmt(db, sql[which], err);                                               \
    if (st == NULL) {                                                                              \
        return err ? err->code : STK_EDB;                                                          \
    }

static void row_to_incident(sqlite3_stmt *st, void *elem)
{
    struct incident *in = elem;
    memset(in, 0, sizeof(*in));
    in->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, in->title, sizeof(in->title));
    in->severity = sqlite3_column_int(st, 2);
    in->status = sqlite3_column_int(st, 3);
    db_column_copy(st, 4, in->assignee, sizeof(in->assignee));
    in->classification = sqlite3_column_int(st, 5);
    db_column_copy(st, 6, in->determination, sizeof(in->determination));
    db_column_copy(st, 7, in->tags, sizeof(in->tags));
    in->sources = (unsigned)sqlite3_column_int64(st, 8);
    in->tactics = (unsigned)sqlite3_column_int64(st, 9);
    in->high_impact = sqlite3_column_int(st, 10);
    in->alert_count = sqlite3_column_int64(st, 11);
    in->entity_count = sqlite3_column_int64(st, 12);
    in->main_entity = sqlite3_column_int64(st, 13);
    in->main_count = sqlite3_column_int64(st, 14);
    db_column_copy(st, 15, in->clusters, sizeof(in->clusters));
    in->first_ts = sqlite3_column_int64(st, 16);
    in->last_ts = sqlite3_column_int64(st, 17);
    in->created_at = sqlite3_column_int64(st, 18);
    in->updated_at = sqlite3_column_int64(st, 19);
    in->merged_into = sqlite3_column_int64(st, 20);
}

enum stk_err store_incidents_insert(struct db *db, const struct incident *in, long long *id,
                                    struct stk_error *err)
{
    *id = 0;
    PREPARE(st, SQL_INSERT);
    sqlite3_bind_text(st, 1, in->title, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, in->severity);
    sqlite3_bind_int(st, 3, in->status);
    sqlite3_bind_text(st, 4, in->assignee, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, in->classification);
    sqlite3_bind_text(st, 6, in->determination, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, in->tags[0] ? in->tags : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, in->sources);
    sqlite3_bind_int64(st, 9, in->tactics);
    sqlite3_bind_int(st, 10, in->high_impact);
    sqlite3_bind_int64(st, 11, in->alert_count);
    sqlite3_bind_int64(st, 12, in->entity_count);
    sqlite3_bind_int64(st, 13, in->main_entity);
    sqlite3_bind_int64(st, 14, in->main_count);
    sqlite3_bind_text(st, 15, in->clusters[0] ? in->clusters : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 16, in->first_ts);
    sqlite3_bind_int64(st, 17, in->last_ts);
    sqlite3_bind_int64(st, 18, in->created_at);
    sqlite3_bind_int64(st, 19, in->updated_at);
    enum stk_err rc = db_run(db, st, "creating an incident", err);
    if (rc == STK_OK) {
        *id = sqlite3_last_insert_rowid(db_handle(db));
    }
    return rc;
}

enum stk_err store_incidents_get(struct db *db, long long id, struct incident *out,
                                 struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    PREPARE(st, SQL_GET);
    sqlite3_bind_int64(st, 1, id);
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_incident(st, out);
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such incident");
    } else {
        rc = db_fail(db, src, "reading an incident", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_incidents_save_aggregates(struct db *db, const struct incident *in,
                                             struct stk_error *err)
{
    PREPARE(st, SQL_SAVE_AGG);
    sqlite3_bind_int64(st, 1, in->id);
    sqlite3_bind_text(st, 2, in->title, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, in->severity);
    sqlite3_bind_int64(st, 4, in->sources);
    sqlite3_bind_int64(st, 5, in->tactics);
    sqlite3_bind_int(st, 6, in->high_impact);
    sqlite3_bind_int64(st, 7, in->alert_count);
    sqlite3_bind_int64(st, 8, in->entity_count);
    sqlite3_bind_int64(st, 9, in->main_entity);
    sqlite3_bind_int64(st, 10, in->main_count);
    sqlite3_bind_text(st, 11, in->clusters[0] ? in->clusters : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, in->first_ts);
    sqlite3_bind_int64(st, 13, in->last_ts);
    sqlite3_bind_int64(st, 14, in->updated_at);
    return db_run(db, st, "updating an incident", err);
}

enum stk_err store_incidents_save_triage(struct db *db, const struct incident *in,
                                         struct stk_error *err)
{
    PREPARE(st, SQL_SAVE_TRIAGE);
    sqlite3_bind_int64(st, 1, in->id);
    sqlite3_bind_int(st, 2, in->status);
    sqlite3_bind_text(st, 3, in->assignee, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, in->classification);
    sqlite3_bind_text(st, 5, in->determination, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, in->tags[0] ? in->tags : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, in->updated_at);
    return db_run(db, st, "updating an incident", err);
}

enum stk_err store_incidents_mark_merged(struct db *db, long long id, long long into, long long now,
                                         struct stk_error *err)
{
    PREPARE(st, SQL_MARK_MERGED);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, into);
    sqlite3_bind_int64(st, 3, now);
    return db_run(db, st, "merging an incident", err);
}

enum stk_err store_incidents_add_entity(struct db *db, long long incident_id, long long entity_id,
                                        long long n, struct stk_error *err)
{
    PREPARE(st, SQL_ADD_ENTITY);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int64(st, 2, entity_id);
    sqlite3_bind_int64(st, 3, n);
    return db_run(db, st, "linking an incident entity", err);
}

enum stk_err store_incidents_entity_count(struct db *db, long long incident_id, long long entity_id,
                                          long long *count, struct stk_error *err)
{
    *count = 0;
    PREPARE(st, SQL_ENTITY_COUNT);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int64(st, 2, entity_id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
    }
    db_done(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        return db_fail(db, src, "counting an incident entity", err);
    }
    return STK_OK;
}

enum stk_err store_incidents_rebuild_entities(struct db *db, long long id, struct stk_error *err)
{
    enum stk_err rc =
        db_run_ids(db, sql[SQL_CLEAR_ENTITIES], "clearing incident entities", 1, id, 0, err);
    if (rc != STK_OK) {
        return rc;
    }
    return db_run_ids(db, sql[SQL_REBUILD_ENTITIES], "rebuilding incident entities", 1, id, 0, err);
}

enum stk_err store_incidents_move_entities(struct db *db, long long from, long long to,
                                           struct stk_error *err)
{
    enum stk_err rc =
        db_run_ids(db, sql[SQL_MOVE_ENTITIES], "moving incident entities", 2, from, to, err);
    if (rc != STK_OK) {
        return rc;
    }
    return db_run_ids(db, sql[SQL_CLEAR_ENTITIES], "clearing incident entities", 1, from, 0, err);
}

enum stk_err store_incidents_each_alert(struct db *db, long long id,
                                        void (*fn)(const struct incident_alert_fact *f, void *ctx),
                                        void *ctx, struct stk_error *err)
{
    PREPARE(st, SQL_EACH_ALERT);
    sqlite3_bind_int64(st, 1, id);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct incident_alert_fact f = {
            .severity = sqlite3_column_int(st, 0),
            .tactic = sqlite3_column_int(st, 1),
            .provider = sqlite3_column_int(st, 2),
            .first_ts = sqlite3_column_int64(st, 3),
            .last_ts = sqlite3_column_int64(st, 4),
        };
        fn(&f, ctx);
    }
    db_done(st);
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, "reading incident alerts", err);
}

static void row_to_incident_entity(sqlite3_stmt *st, void *elem)
{
    store_entity_from_row(st, elem);
    ((struct entity *)elem)->alert_count = sqlite3_column_int64(st, 9);
}

enum stk_err store_incidents_entities(struct db *db, long long id, int limit, struct entity **list,
                                      size_t *count, struct stk_error *err)
{
    *list = NULL;
    *count = 0;
    PREPARE(st, SQL_ENTITIES);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct entity), row_to_incident_entity, &out, count,
                                 "listing incident entities", err);
    *list = out;
    for (size_t i = 0; rc == STK_OK && i < *count; i++) {
        if ((*list)[i].props == NULL) {
            store_entities_free(*list, *count);
            *list = NULL;
            *count = 0;
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

enum stk_err store_incidents_refresh_impact(struct db *db, long long entity_id,
                                            struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_REFRESH_IMPACT], "updating incident impact", 1, entity_id, 0,
                      err);
}

static void bind_filters(sqlite3_stmt *st, const struct incident_filter *f)
{
    sqlite3_bind_int(st, 1, f->status);
    sqlite3_bind_int64(st, 2, f->status_mask);
    sqlite3_bind_int64(st, 3, f->severity_mask);
    sqlite3_bind_int64(st, 4, f->source_mask);
    if (f->assignee != NULL) {
        sqlite3_bind_text(st, 5, f->assignee, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 5);
    }
    sqlite3_bind_int64(st, 6, f->class_mask);
    sqlite3_bind_int64(st, 7, f->cluster_entity);
    sqlite3_bind_int64(st, 8, f->since);
    sqlite3_bind_int64(st, 9, f->until);
    if (f->text_like != NULL) {
        sqlite3_bind_text(st, 10, f->text_like, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 10);
    }
}

enum stk_err store_incidents_list(struct db *db, const struct incident_filter *f,
                                  struct incident **rows, size_t *count, struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    static const int variant[SORT_N][2] = {
        [SORT_ACTIVITY] = {SQL_LIST_ACT_MASK, SQL_LIST_ACT_STATUS},
        [SORT_SEVERITY] = {SQL_LIST_SEV_MASK, SQL_LIST_SEV_STATUS},
        [SORT_ALERTS] = {SQL_LIST_ALERTS_MASK, SQL_LIST_ALERTS_STATUS},
    };
    int sort = f->sort >= 0 && f->sort < SORT_N ? f->sort : SORT_ACTIVITY;
    PREPARE(st, variant[sort][f->status >= 0]);
    bind_filters(st, f);
    sqlite3_bind_int64(st, 11, f->has_cursor ? f->cur_ts : INT64_MAX);
    sqlite3_bind_int64(st, 12, f->has_cursor ? f->cur_id : INT64_MAX);
    sqlite3_bind_int64(st, 13, f->has_cursor ? f->cur_key : INT64_MAX);
    sqlite3_bind_int(st, 14, f->limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct incident), row_to_incident, &out, count,
                                 "listing incidents", err);
    *rows = out;
    return rc;
}

static void row_to_cell(sqlite3_stmt *st, void *elem)
{
    struct incident_cell *c = elem;
    memset(c, 0, sizeof(*c));
    c->status = sqlite3_column_int(st, 0);
    c->severity = sqlite3_column_int(st, 1);
    c->classification = sqlite3_column_int(st, 2);
    db_column_copy(st, 3, c->assignee, sizeof(c->assignee));
    c->sources = (unsigned)sqlite3_column_int64(st, 4);
    c->n = sqlite3_column_int64(st, 5);
}

enum stk_err store_incidents_cube(struct db *db, struct incident_cell **cells, size_t *count,
                                  struct stk_error *err)
{
    *cells = NULL;
    *count = 0;
    /* The counters change only when incidents do: between changes every
     * request of this connection reuses the cells it read last. */
    size_t len = 0;
    const void *memo = db_memo_get(db, DB_MEMO_INCIDENT_CUBE, &len);
    if (memo != NULL) {
        *cells = malloc(len);
        if (*cells == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        memcpy(*cells, memo, len);
        *count = len / sizeof(struct incident_cell);
        return STK_OK;
    }
    PREPARE(st, SQL_CUBE);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct incident_cell), row_to_cell, &out, count,
                                 "reading incident counts", err);
    *cells = out;
    if (rc == STK_OK) {
        db_memo_put(db, DB_MEMO_INCIDENT_CUBE, out, *count * sizeof(struct incident_cell));
    }
    return rc;
}

enum stk_err store_incidents_scan_cells(struct db *db, const struct incident_filter *f, int cap,
                                        struct incident_cell **cells, size_t *count, int *capped,
                                        struct stk_error *err)
{
    *cells = NULL;
    *capped = 0;
    PREPARE(st, SQL_SCAN_CELLS);
    bind_filters(st, f);
    sqlite3_bind_int(st, 1, cap + 1);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct incident_cell), row_to_cell, &out, count,
                                 "counting incidents", err);
    *cells = out;
    if (rc == STK_OK && *count > (size_t)cap) {
        *count = (size_t)cap;
        *capped = 1;
    }
    return rc;
}

void store_incident_notes_free(struct incident_note *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        free(list[i].text);
        free(list[i].details);
    }
    free(list);
}

static void row_to_note(sqlite3_stmt *st, void *elem)
{
    struct incident_note *n = elem;
    memset(n, 0, sizeof(*n));
    n->id = sqlite3_column_int64(st, 0);
    n->incident_id = sqlite3_column_int64(st, 1);
    n->ts = sqlite3_column_int64(st, 2);
    db_column_copy(st, 3, n->actor, sizeof(n->actor));
    db_column_copy(st, 4, n->kind, sizeof(n->kind));
    const char *text = (const char *)sqlite3_column_text(st, 5);
    n->text = strdup(text ? text : "");
    const char *details = (const char *)sqlite3_column_text(st, 6);
    n->details = details ? strdup(details) : NULL;
}

static enum stk_err collect_notes(struct db *db, int which, long long incident_id, int limit,
                                  struct incident_note **list, size_t *count, struct stk_error *err)
{
    *list = NULL;
    *count = 0;
    PREPARE(st, which);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct incident_note), row_to_note, &out, count,
                                 "listing incident notes", err);
    *list = out;
    for (size_t i = 0; rc == STK_OK && i < *count; i++) {
        if ((*list)[i].text == NULL) {
            store_incident_notes_free(*list, *count);
            *list = NULL;
            *count = 0;
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

enum stk_err store_incidents_history_add(struct db *db, long long incident_id, long long ts,
                                         const char *actor, const char *kind, const char *summary,
                                         const char *details, struct stk_error *err)
{
    PREPARE(st, SQL_HISTORY_ADD);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, summary, -1, SQLITE_STATIC);
    if (details != NULL) {
        sqlite3_bind_text(st, 6, details, -1, SQLITE_STATIC);
    }
    return db_run(db, st, "recording incident history", err);
}

enum stk_err store_incidents_history(struct db *db, long long incident_id, int limit,
                                     struct incident_note **list, size_t *count,
                                     struct stk_error *err)
{
    return collect_notes(db, SQL_HISTORY, incident_id, limit, list, count, err);
}

enum stk_err store_incidents_comment_add(struct db *db, long long incident_id, long long ts,
                                         const char *author, const char *text, long long *id,
                                         struct stk_error *err)
{
    *id = 0;
    PREPARE(st, SQL_COMMENT_ADD);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_text(st, 3, author, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    enum stk_err rc = db_run(db, st, "adding a comment", err);
    if (rc == STK_OK) {
        *id = sqlite3_last_insert_rowid(db_handle(db));
    }
    return rc;
}

enum stk_err store_incidents_comments(struct db *db, long long incident_id, int limit,
                                      struct incident_note **list, size_t *count,
                                      struct stk_error *err)
{
    return collect_notes(db, SQL_COMMENTS, incident_id, limit, list, count, err);
}
