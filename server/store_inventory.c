#include "store_inventory.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_COLUMNS                                                                               \
    "s.id, s.digest, s.artifact, s.image_id, s.os, s.report_time, s.scanned_at, s.unknown,"        \
    " s.low, s.medium, s.high, s.critical"

/* The image entities entity ?1 runs: itself, its from-image images and
 * those of the containers that run in it. */
#define IMAGES_OF                                                                                  \
    "WITH imgs(id) AS (SELECT ?1 UNION SELECT dst FROM edges WHERE src = ?1 AND"                   \
    " kind = 'from-image' UNION SELECT i.dst FROM edges c JOIN edges i ON i.src = c.src"           \
    " AND i.kind = 'from-image' WHERE c.dst = ?1 AND c.kind = 'runs-in') "

enum {
    SQL_SCAN_FIND,
    SQL_SCAN_INSERT,
    SQL_SCAN_UPDATE,
    SQL_SCAN_CLEAR,
    SQL_VULN_ADD,
    SQL_SCAN_RECOUNT,
    SQL_SCAN_LINK,
    SQL_SCAN_ENTITIES,
    SQL_SCANS_GC,
    SQL_ENTITY_SCANS,
    SQL_ENTITY_VULNS,
    SQL_VULNERABLE_WORKLOADS,
    SQL_ENTITY_UPDATE,
    SQL_ENTITY_ALERTS,
    SQL_ENTITY_ALERT_COUNT,
    SQL_ENTITY_INCIDENTS,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_SCAN_FIND] = "SELECT " SCAN_COLUMNS ", 0 FROM image_scans s WHERE s.digest = ?",
    [SQL_SCAN_INSERT] = "INSERT INTO image_scans (digest, artifact, image_id, os, report_time,"
                        " scanned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_SCAN_UPDATE] = "UPDATE image_scans SET artifact = ?2, image_id = ?3, os = ?4,"
                        " report_time = ?5, scanned_at = ?6 WHERE id = ?1",
    [SQL_SCAN_CLEAR] = "DELETE FROM image_vulnerabilities WHERE scan_id = ?",
    [SQL_VULN_ADD] = "INSERT OR IGNORE INTO image_vulnerabilities (scan_id, vuln_id, package,"
                     " installed, fixed, severity, title, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [SQL_SCAN_RECOUNT] =
        "UPDATE image_scans SET"
        " unknown = (SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ?1 AND severity = "
        "0),"
        " low = (SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ?1 AND severity = 1),"
        " medium = (SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ?1 AND severity = "
        "2),"
        " high = (SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ?1 AND severity = 3),"
        " critical = (SELECT count(*) FROM image_vulnerabilities WHERE scan_id = ?1"
        " AND severity = 4) WHERE id = ?1",
    [SQL_SCAN_LINK] = "INSERT INTO image_scan_entities (entity_id, scan_id) VALUES (?1, ?2)"
                      " ON CONFLICT (entity_id) DO UPDATE SET scan_id = excluded.scan_id",
    [SQL_SCAN_ENTITIES] = "SELECT entity_id FROM image_scan_entities WHERE scan_id = ?1"
                          " ORDER BY entity_id LIMIT ?2",
    [SQL_SCANS_GC] = "DELETE FROM image_scans WHERE id NOT IN"
                     " (SELECT scan_id FROM image_scan_entities)",
    [SQL_ENTITY_SCANS] =
        IMAGES_OF "SELECT " SCAN_COLUMNS ", ise.entity_id FROM imgs"
                  " JOIN image_scan_entities ise ON ise.entity_id = imgs.id"
                  " JOIN image_scans s ON s.id = ise.scan_id ORDER BY ise.entity_id",
    [SQL_ENTITY_VULNS] =
        IMAGES_OF "SELECT v.vuln_id, v.package, v.installed, v.fixed,"
                  " v.severity, v.title, v.url FROM image_vulnerabilities v"
                  " WHERE v.scan_id IN (SELECT ise.scan_id FROM imgs JOIN"
                  " image_scan_entities ise ON ise.entity_id = imgs.id)"
                  " AND v.severity >= ?2 ORDER BY v.severity DESC, v.vuln_id, v.package"
                  " LIMIT ?3",
    [SQL_VULNERABLE_WORKLOADS] = "SELECT DISTINCT e.src FROM image_scans s"
                                 " JOIN image_scan_entities ise ON ise.scan_id = s.id"
                                 " JOIN edges e ON e.dst = ise.entity_id AND e.kind = 'from-image'"
                                 " WHERE s.critical + s.high > 0 ORDER BY e.src",
    [SQL_ENTITY_UPDATE] = "UPDATE entities SET name = ?2, props = ?3,"
                          " last_seen = max(last_seen, ?4) WHERE id = ?1",
    [SQL_ENTITY_ALERTS] = "SELECT a.id, a.incident_id, a.provider, a.severity, a.tactic, a.rule,"
                          " a.title, a.first_ts, a.last_ts FROM alert_entities ae"
                          " JOIN alerts a ON a.id = ae.alert_id WHERE ae.entity_id = ?1"
                          " ORDER BY a.last_ts DESC, a.id DESC LIMIT ?2",
    [SQL_ENTITY_ALERT_COUNT] = "SELECT count(*) FROM alert_entities WHERE entity_id = ?",
    [SQL_ENTITY_INCIDENTS] = "SELECT i.id, i.title, i.severity, i.status, i.high_impact,"
                             " i.alert_count, ie.alert_count, i.last_ts FROM incident_entities ie"
                             " JOIN incidents i ON i.id = ie.incident_id WHERE ie.entity_id = ?1"
                             " AND i.status != 3 ORDER BY i.status = 2, i.last_ts DESC, i.id DESC"
                             " LIMIT ?2",
};

const char *store_inventory_severity_name(int s)
{
    static const char *const names[VULN_SEV_N] = {"unknown", "low", "medium", "high", "critical"};
    return s >= 0 && s < VULN_SEV_N ? names[s] : "";
}

/* ---- scans ---- */

static void row_to_scan(sqlite3_stmt *st, void *elem)
{
    struct image_scan *s = elem;
    memset(s, 0, sizeof(*s));
    s->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, s->digest, sizeof(s->digest));
    db_column_copy(st, 2, s->artifact, sizeof(s->artifact));
    db_column_copy(st, 3, s->image_id, sizeof(s->image_id));
    db_column_copy(st, 4, s->os, sizeof(s->os));
    s->report_time = sqlite3_column_int64(st, 5);
    s->scanned_at = sqlite3_column_int64(st, 6);
    for (int i = 0; i < VULN_SEV_N; i++) {
        s->counts[i] = sqlite3_column_int64(st, 7 + i);
    }
    s->entity_id = sqlite3_column_int64(st, 12);
}

enum stk_err store_inventory_scan_find(struct db *db, const char *digest, struct image_scan *out,
                                       struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_SCAN_FIND], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_scan(st, out);
    }
    db_done(st);
    if (src == SQLITE_ROW) {
        return STK_OK;
    }
    return src == SQLITE_DONE ? STK_ENOTFOUND : db_fail(db, src, "finding a scan", err);
}

enum stk_err store_inventory_scan_put(struct db *db, const struct image_scan *s, long long *id,
                                      struct stk_error *err)
{
    *id = 0;
    struct image_scan cur;
    enum stk_err rc = store_inventory_scan_find(db, s->digest, &cur, err);
    if (rc != STK_OK && rc != STK_ENOTFOUND) {
        return rc;
    }
    int insert = rc == STK_ENOTFOUND;
    sqlite3_stmt *st = db_stmt(db, sql[insert ? SQL_SCAN_INSERT : SQL_SCAN_UPDATE], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    if (insert) {
        sqlite3_bind_text(st, 1, s->digest, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, cur.id);
    }
    sqlite3_bind_text(st, 2, s->artifact, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s->image_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->os, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, s->report_time);
    sqlite3_bind_int64(st, 6, s->scanned_at);
    rc = db_run(db, st, "storing a scan", err);
    if (rc == STK_OK) {
        *id = insert ? sqlite3_last_insert_rowid(db_handle(db)) : cur.id;
    }
    return rc;
}

enum stk_err store_inventory_scan_clear(struct db *db, long long id, struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_SCAN_CLEAR], "clearing a scan", 1, id, 0, err);
}

enum stk_err store_inventory_vuln_add(struct db *db, long long scan_id, const struct vuln_in *v,
                                      struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_VULN_ADD], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, scan_id);
    sqlite3_bind_text(st, 2, v->vuln_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, v->package, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, v->installed, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, v->fixed, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, v->severity);
    sqlite3_bind_text(st, 7, v->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, v->url, -1, SQLITE_STATIC);
    return db_run(db, st, "storing a vulnerability", err);
}

enum stk_err store_inventory_scan_recount(struct db *db, long long id, struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_SCAN_RECOUNT], "counting vulnerabilities", 1, id, 0, err);
}

enum stk_err store_inventory_scan_link(struct db *db, long long entity_id, long long scan_id,
                                       struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_SCAN_LINK], "linking a scan", 2, entity_id, scan_id, err);
}

static void row_to_id(sqlite3_stmt *st, void *elem)
{
    *(long long *)elem = sqlite3_column_int64(st, 0);
}

enum stk_err store_inventory_scan_entities(struct db *db, long long scan_id, int limit,
                                           long long **ids, size_t *count, struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_SCAN_ENTITIES], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, scan_id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(long long), row_to_id, &out, count,
                                 "listing a scan's images", err);
    *ids = out;
    return rc;
}

enum stk_err store_inventory_scans_gc(struct db *db, struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_SCANS_GC], "deleting unused scans", 0, 0, 0, err);
}

enum stk_err store_inventory_entity_scans(struct db *db, long long id, struct image_scan **list,
                                          size_t *count, struct stk_error *err)
{
    *list = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_ENTITY_SCANS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct image_scan), row_to_scan, &out, count,
                                 "listing an entity's scans", err);
    *list = out;
    return rc;
}

static void row_to_vuln(sqlite3_stmt *st, void *elem)
{
    struct vuln_row *v = elem;
    memset(v, 0, sizeof(*v));
    db_column_copy(st, 0, v->vuln_id, sizeof(v->vuln_id));
    db_column_copy(st, 1, v->package, sizeof(v->package));
    db_column_copy(st, 2, v->installed, sizeof(v->installed));
    db_column_copy(st, 3, v->fixed, sizeof(v->fixed));
    v->severity = sqlite3_column_int(st, 4);
    db_column_copy(st, 5, v->title, sizeof(v->title));
    db_column_copy(st, 6, v->url, sizeof(v->url));
}

enum stk_err store_inventory_entity_vulns(struct db *db, long long id, int min_severity, int limit,
                                          struct vuln_row **rows, size_t *count,
                                          struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_ENTITY_VULNS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, min_severity);
    sqlite3_bind_int(st, 3, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct vuln_row), row_to_vuln, &out, count,
                                 "listing an entity's vulnerabilities", err);
    *rows = out;
    return rc;
}

enum stk_err store_inventory_vulnerable_workloads(struct db *db, long long **ids, size_t *count,
                                                  struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_VULNERABLE_WORKLOADS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(long long), row_to_id, &out, count,
                                 "listing vulnerable workloads", err);
    *ids = out;
    return rc;
}

/* ---- entities ---- */

enum stk_err store_inventory_entity_update(struct db *db, long long id, const char *name,
                                           const char *props, long long seen_ms,
                                           struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_ENTITY_UPDATE], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, props, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, seen_ms);
    return db_run(db, st, "updating an entity", err);
}

static void row_to_entity_alert(sqlite3_stmt *st, void *elem)
{
    struct entity_alert *a = elem;
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    a->incident_id = sqlite3_column_int64(st, 1);
    a->provider = sqlite3_column_int(st, 2);
    a->severity = sqlite3_column_int(st, 3);
    a->tactic = sqlite3_column_int(st, 4);
    db_column_copy(st, 5, a->rule, sizeof(a->rule));
    db_column_copy(st, 6, a->title, sizeof(a->title));
    a->first_ts = sqlite3_column_int64(st, 7);
    a->last_ts = sqlite3_column_int64(st, 8);
}

enum stk_err store_inventory_entity_alerts(struct db *db, long long id, int limit,
                                           struct entity_alert **rows, size_t *count,
                                           long long *total, struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    *total = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_ENTITY_ALERT_COUNT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *total = sqlite3_column_int64(st, 0);
    }
    db_done(st);
    if (src != SQLITE_ROW) {
        return db_fail(db, src, "counting an entity's alerts", err);
    }
    st = db_stmt(db, sql[SQL_ENTITY_ALERTS], err);
    if (st == NULL) {
        *total = 0;
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct entity_alert), row_to_entity_alert, &out,
                                 count, "listing an entity's alerts", err);
    *rows = out;
    if (rc != STK_OK) {
        *total = 0;
    }
    return rc;
}

static void row_to_entity_incident(sqlite3_stmt *st, void *elem)
{
    struct entity_incident *in = elem;
    memset(in, 0, sizeof(*in));
    in->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, in->title, sizeof(in->title));
    in->severity = sqlite3_column_int(st, 2);
    in->status = sqlite3_column_int(st, 3);
    in->high_impact = sqlite3_column_int(st, 4);
    in->alert_count = sqlite3_column_int64(st, 5);
    in->entity_alerts = sqlite3_column_int64(st, 6);
    in->last_ts = sqlite3_column_int64(st, 7);
}

enum stk_err store_inventory_entity_incidents(struct db *db, long long id, int limit,
                                              struct entity_incident **rows, size_t *count,
                                              struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_ENTITY_INCIDENTS], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct entity_incident), row_to_entity_incident,
                                 &out, count, "listing an entity's incidents", err);
    *rows = out;
    return rc;
}
