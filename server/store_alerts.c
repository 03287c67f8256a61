#include "store_alerts.h"

#include <stdlib.h>
#include <string.h>

#define ALERT_COLUMNS                                                                              \
    "id, incident_id, provider, rule, title, description, severity, tactic, technique,"            \
    " first_ts, last_ts, cluster, evidence, pinned, created_at FROM alerts"

enum {
    SQL_EXISTS,
    SQL_INSERT,
    SQL_LINK,
    SQL_BEFORE,
    SQL_AFTER,
    SQL_BY_ID,
    SQL_BY_INCIDENT,
    SQL_ENTITIES,
    SQL_PIN,
    SQL_UNLINK,
    SQL_REASSIGN,
    SQL_SET_LINKING,
    SQL_BEHAVIOUR,
    SQL_PROC,
    SQL_AUDIT,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_EXISTS] = "SELECT 1 FROM alerts WHERE ikey = ?",
    [SQL_INSERT] = "INSERT INTO alerts (ikey, incident_id, provider, rule, title, description,"
                   " severity, tactic, technique, first_ts, last_ts, cluster, evidence, pinned,"
                   " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
    [SQL_LINK] = "INSERT OR IGNORE INTO alert_entities (alert_id, entity_id, ts, corr)"
                 " VALUES (?, ?, ?, 1)",
    /* The nearest linking alert on each side is enough: all linking alerts
     * of one entity within one window of each other already share an
     * incident (svc_ingest.c explains the invariant). */
    [SQL_BEFORE] = "SELECT a.incident_id FROM alert_entities ae JOIN alerts a ON a.id = ae.alert_id"
                   " WHERE ae.entity_id = ?1 AND ae.corr = 1 AND ae.ts <= ?2 AND ae.ts >= ?3"
                   " ORDER BY ae.ts DESC LIMIT 1",
    [SQL_AFTER] = "SELECT a.incident_id FROM alert_entities ae JOIN alerts a ON a.id = ae.alert_id"
                  " WHERE ae.entity_id = ?1 AND ae.corr = 1 AND ae.ts >= ?2 AND ae.ts <= ?3"
                  " ORDER BY ae.ts ASC LIMIT 1",
    [SQL_BY_ID] = "SELECT " ALERT_COLUMNS " WHERE id = ?",
    [SQL_BY_INCIDENT] = "SELECT " ALERT_COLUMNS " WHERE incident_id = ? ORDER BY first_ts, id"
                        " LIMIT ?",
    [SQL_ENTITIES] = "SELECT " ENTITY_SELECT " FROM alert_entities ae"
                     " JOIN entities e ON e.id = ae.entity_id WHERE ae.alert_id = ?"
                     " ORDER BY e.kind, e.key",
    [SQL_PIN] = "UPDATE alerts SET incident_id = ?2, pinned = 1 WHERE id = ?1",
    [SQL_UNLINK] = "UPDATE alert_entities SET corr = 0 WHERE alert_id = ?",
    [SQL_REASSIGN] = "UPDATE alerts SET incident_id = ?2 WHERE incident_id = ?1",
    [SQL_SET_LINKING] = "UPDATE alert_entities SET corr = ?2 WHERE corr != ?2 AND alert_id IN"
                        " (SELECT id FROM alerts WHERE incident_id = ?1 AND pinned = 0)",
    [SQL_BEHAVIOUR] = "INSERT OR IGNORE INTO behaviour_seen (key, first_ts) VALUES (?, ?)",
    [SQL_PROC] = "INSERT OR IGNORE INTO CloudProcessEvents (ikey, Timestamp, ClusterName,"
                 " KubernetesNamespace, KubernetesPodName, ContainerName, ContainerId,"
                 " ContainerImageName, ProcessId, ProcessName, ProcessCommandLine, FolderPath,"
                 " FileName, ParentProcessId, ParentProcessName, AccountName, IsBinaryDrift)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [SQL_AUDIT] = "INSERT OR IGNORE INTO CloudAuditEvents (ikey, Timestamp, ClusterName,"
                  " OperationName, Verb, ResourceKind, ResourceNamespace, ResourceName, UserName,"
                  " UserGroups, SourceIPs, UserAgent, ResponseCode, RawEventData)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
};

void store_alert_release(struct alert_row *a)
{
    if (a != NULL) {
        free(a->description);
        free(a->evidence);
        a->description = NULL;
        a->evidence = NULL;
    }
}

void store_alerts_free(struct alert_row *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        store_alert_release(&list[i]);
    }
    free(list);
}

void store_alerts_ikey(unsigned char out[ALERT_IKEY_LEN], long long ts,
                       const unsigned char hash[16])
{
    unsigned long long u = (unsigned long long)ts;
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
    memcpy(out + 8, hash, 16);
}

static void row_to_alert(sqlite3_stmt *st, void *elem)
{
    struct alert_row *a = elem;
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    a->incident_id = sqlite3_column_int64(st, 1);
    a->provider = sqlite3_column_int(st, 2);
    db_column_copy(st, 3, a->rule, sizeof(a->rule));
    db_column_copy(st, 4, a->title, sizeof(a->title));
    const char *d = (const char *)sqlite3_column_text(st, 5);
    a->description = strdup(d ? d : "");
    a->severity = sqlite3_column_int(st, 6);
    a->tactic = sqlite3_column_int(st, 7);
    db_column_copy(st, 8, a->technique, sizeof(a->technique));
    a->first_ts = sqlite3_column_int64(st, 9);
    a->last_ts = sqlite3_column_int64(st, 10);
    db_column_copy(st, 11, a->cluster, sizeof(a->cluster));
    const char *ev = (const char *)sqlite3_column_text(st, 12);
    a->evidence = strdup(ev ? ev : "{}");
    a->pinned = sqlite3_column_int(st, 13);
    a->created_at = sqlite3_column_int64(st, 14);
}

#define PREPARE(st, which)                                                                         \
    sqlite3_stmt *st = db_stmt(db, sql[which], err);                                               \
    if (st == NULL) {                                                                              \
        return err ? err->code : STK_EDB;                                                          \
    }

enum stk_err store_alerts_exists(struct db *db, const unsigned char ikey[ALERT_IKEY_LEN],
                                 int *exists, struct stk_error *err)
{
    *exists = 0;
    PREPARE(st, SQL_EXISTS);
    sqlite3_bind_blob(st, 1, ikey, ALERT_IKEY_LEN, SQLITE_STATIC);
    int src = sqlite3_step(st);
    db_done(st);
    if (src == SQLITE_ROW) {
        *exists = 1;
        return STK_OK;
    }
    return src == SQLITE_DONE ? STK_OK : db_fail(db, src, "looking up an alert", err);
}

enum stk_err store_alerts_insert(struct db *db, const unsigned char ikey[ALERT_IKEY_LEN],
                                 const struct alert_row *a, long long *id, struct stk_error *err)
{
    *id = 0;
    PREPARE(st, SQL_INSERT);
    sqlite3_bind_blob(st, 1, ikey, ALERT_IKEY_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->incident_id);
    sqlite3_bind_int(st, 3, a->provider);
    sqlite3_bind_text(st, 4, a->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->description ? a->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, a->severity);
    sqlite3_bind_int(st, 8, a->tactic);
    sqlite3_bind_text(st, 9, a->technique, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, a->first_ts);
    sqlite3_bind_int64(st, 11, a->last_ts);
    sqlite3_bind_text(st, 12, a->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, a->evidence ? a->evidence : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 14, a->created_at);
    enum stk_err rc = db_run(db, st, "inserting an alert", err);
    if (rc == STK_OK) {
        *id = sqlite3_last_insert_rowid(db_handle(db));
    }
    return rc;
}

enum stk_err store_alerts_link(struct db *db, long long alert_id, long long entity_id, long long ts,
                               struct stk_error *err)
{
    PREPARE(st, SQL_LINK);
    sqlite3_bind_int64(st, 1, alert_id);
    sqlite3_bind_int64(st, 2, entity_id);
    sqlite3_bind_int64(st, 3, ts);
    return db_run(db, st, "linking an alert to an entity", err);
}

static enum stk_err neighbour(struct db *db, int which, long long entity_id, long long ts,
                              long long bound, long long *incident, struct stk_error *err)
{
    *incident = 0;
    PREPARE(st, which);
    sqlite3_bind_int64(st, 1, entity_id);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_int64(st, 3, bound);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *incident = sqlite3_column_int64(st, 0);
    }
    db_done(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        return db_fail(db, src, "correlating an alert", err);
    }
    return STK_OK;
}

enum stk_err store_alerts_neighbours(struct db *db, long long entity_id, long long ts,
                                     long long window_ms, long long *before, long long *after,
                                     struct stk_error *err)
{
    *after = 0;
    enum stk_err rc = neighbour(db, SQL_BEFORE, entity_id, ts, ts - window_ms, before, err);
    if (rc == STK_OK) {
        rc = neighbour(db, SQL_AFTER, entity_id, ts, ts + window_ms, after, err);
    }
    return rc;
}

enum stk_err store_alerts_get(struct db *db, long long id, struct alert_row *out,
                              struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    PREPARE(st, SQL_BY_ID);
    sqlite3_bind_int64(st, 1, id);
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row_to_alert(st, out);
        if (out->description == NULL || out->evidence == NULL) {
            store_alert_release(out);
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "no such alert");
    } else {
        rc = db_fail(db, src, "reading an alert", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_alerts_by_incident(struct db *db, long long incident_id, int limit,
                                      struct alert_row **rows, size_t *count, struct stk_error *err)
{
    *rows = NULL;
    *count = 0;
    PREPARE(st, SQL_BY_INCIDENT);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int(st, 2, limit);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct alert_row), row_to_alert, &out, count,
                                 "listing alerts", err);
    *rows = out;
    return rc;
}

enum stk_err store_alerts_entities(struct db *db, long long alert_id, struct entity **list,
                                   size_t *count, struct stk_error *err)
{
    *list = NULL;
    *count = 0;
    PREPARE(st, SQL_ENTITIES);
    sqlite3_bind_int64(st, 1, alert_id);
    void *out = NULL;
    enum stk_err rc = db_collect(db, st, sizeof(struct entity), store_entity_from_row, &out, count,
                                 "listing alert entities", err);
    *list = out;
    return rc;
}

enum stk_err store_alerts_pin_to(struct db *db, long long alert_id, long long incident_id,
                                 struct stk_error *err)
{
    enum stk_err rc =
        db_run_ids(db, sql[SQL_PIN], "moving an alert", 2, alert_id, incident_id, err);
    if (rc != STK_OK) {
        return rc;
    }
    return db_run_ids(db, sql[SQL_UNLINK], "unlinking an alert", 1, alert_id, 0, err);
}

enum stk_err store_alerts_reassign(struct db *db, long long from, long long to,
                                   struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_REASSIGN], "moving alerts", 2, from, to, err);
}

enum stk_err store_alerts_set_linking(struct db *db, long long incident_id, int corr,
                                      struct stk_error *err)
{
    PREPARE(st, SQL_SET_LINKING);
    sqlite3_bind_int64(st, 1, incident_id);
    sqlite3_bind_int(st, 2, corr ? 1 : 0);
    return db_run(db, st, "updating alert links", err);
}

enum stk_err store_behaviour_seen(struct db *db, const char *key, long long ts, int *novel,
                                  struct stk_error *err)
{
    *novel = 0;
    PREPARE(st, SQL_BEHAVIOUR);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ts);
    enum stk_err rc = db_run(db, st, "recording a behaviour", err);
    if (rc == STK_OK) {
        *novel = sqlite3_changes(db_handle(db)) > 0;
    }
    return rc;
}

static void bind_opt_int(sqlite3_stmt *st, int col, long long v)
{
    if (v >= 0) {
        sqlite3_bind_int64(st, col, v);
    } else {
        sqlite3_bind_null(st, col);
    }
}

enum stk_err store_hunting_insert_proc(struct db *db, const struct proc_event *p,
                                       struct stk_error *err)
{
    PREPARE(st, SQL_PROC);
    unsigned char ikey[ALERT_IKEY_LEN];
    store_alerts_ikey(ikey, p->ts_ms, p->key);
    sqlite3_bind_blob(st, 1, ikey, ALERT_IKEY_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, p->ts_ms);
    sqlite3_bind_text(st, 3, p->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, p->pod, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, p->container_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, p->container_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, p->image, -1, SQLITE_STATIC);
    bind_opt_int(st, 9, p->pid);
    sqlite3_bind_text(st, 10, p->process_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, p->cmdline ? p->cmdline : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, p->folder, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, p->file, -1, SQLITE_STATIC);
    bind_opt_int(st, 14, p->ppid);
    sqlite3_bind_text(st, 15, p->parent_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, p->account, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 17, p->drift ? 1 : 0);
    return db_run(db, st, "storing a process event", err);
}

enum stk_err store_hunting_insert_audit(struct db *db, const struct audit_k8s_event *e,
                                        struct stk_error *err)
{
    PREPARE(st, SQL_AUDIT);
    unsigned char ikey[ALERT_IKEY_LEN];
    store_alerts_ikey(ikey, e->ts_ms, e->key);
    sqlite3_bind_blob(st, 1, ikey, ALERT_IKEY_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, e->ts_ms);
    sqlite3_bind_text(st, 3, e->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->operation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->verb, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->resource_kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e->resource_ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->resource_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e->user_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, e->user_groups ? e->user_groups : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, e->source_ips ? e->source_ips : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, e->user_agent, -1, SQLITE_STATIC);
    bind_opt_int(st, 13, e->response_code > 0 ? e->response_code : -1);
    sqlite3_bind_text(st, 14, e->raw ? e->raw : "{}", -1, SQLITE_STATIC);
    return db_run(db, st, "storing an audit event", err);
}
