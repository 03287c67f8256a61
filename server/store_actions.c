/* SQL for actions, action_comments, action_evidence and isolations. */
#include "store_actions.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ACTION_COLUMNS                                                                             \
    "a.id, a.type, a.status, a.origin, a.cluster, a.namespace, a.pod,"                             \
    " coalesce(a.entity_id, 0), coalesce(a.incident_id, 0), a.requested_by, a.comment,"            \
    " a.isolate_for_s, a.approved_by, a.decided_by, a.created_at, a.dispatched_at,"                \
    " a.acked_at, a.finished_at, a.expires_at, a.failure_reason, a.result,"                        \
    " coalesce((SELECT bytes FROM action_evidence v WHERE v.action_id = a.id), 0)"                 \
    " FROM actions a"

enum {
    SQL_INSERT,
    SQL_GET,
    SQL_LIST,
    SQL_MOVE,
    SQL_BY_CLUSTER,
    SQL_OVERDUE,
    SQL_COMMENT_ADD,
    SQL_COMMENTS,
    SQL_EVIDENCE_PUT,
    SQL_EVIDENCE_GET,
    SQL_ISO_PUT,
    SQL_ISO_DELETE,
    SQL_ISO_GET,
    SQL_ISO_DUE,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_INSERT] = "INSERT INTO actions (type, status, origin, cluster, namespace, pod,"
                   " entity_id, incident_id, requested_by, comment, isolate_for_s, created_at,"
                   " expires_at) VALUES (?, ?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), ?, ?, ?,"
                   " ?, ?)",
    [SQL_GET] = "SELECT " ACTION_COLUMNS " WHERE a.id = ?",
    /* The status and cluster filters use their indexes through the id range;
     * the rest is a bounded walk down the primary key. */
    [SQL_LIST] = "SELECT " ACTION_COLUMNS " WHERE a.id < ?1"
                 " AND (?2 IS NULL OR instr(?2, ',' || a.status || ',') > 0)"
                 " AND (?3 IS NULL OR instr(?3, ',' || a.type || ',') > 0)"
                 " AND (?4 IS NULL OR a.cluster = ?4)"
                 " AND (?5 IS NULL OR a.requested_by = ?5)"
                 " AND (?6 = 0 OR a.incident_id = ?6)"
                 " AND (?7 IS NULL OR instr(a.pod, ?7) > 0 OR instr(a.namespace, ?7) > 0"
                 " OR instr(a.comment, ?7) > 0)"
                 " ORDER BY a.id DESC LIMIT ?8",
    [SQL_MOVE] = "UPDATE actions SET status = coalesce(?2, status),"
                 " dispatched_at = CASE WHEN ?2 = 'dispatched' OR (?4 AND dispatched_at = 0) THEN ?3"
                 " ELSE dispatched_at END,"
                 " finished_at = CASE WHEN ?2 IN ('succeeded', 'failed', 'cancelled') THEN ?3"
                 " ELSE finished_at END,"
                 " acked_at = CASE WHEN ?4 THEN ?3 ELSE acked_at END,"
                 " failure_reason = coalesce(?5, failure_reason), result = coalesce(?6, result),"
                 " approved_by = coalesce(?7, approved_by), decided_by = coalesce(?8, decided_by),"
                 " expires_at = CASE WHEN ?9 > 0 THEN ?9 ELSE expires_at END"
                 " WHERE id = ?1 AND instr(?10, ',' || status || ',') > 0",
    [SQL_BY_CLUSTER] = "SELECT " ACTION_COLUMNS " WHERE a.cluster = ?1"
                       " AND instr(?2, ',' || a.status || ',') > 0 ORDER BY a.id LIMIT ?3",
    [SQL_OVERDUE] = "SELECT id FROM actions WHERE status = 'pending' AND expires_at < ?1"
                    " UNION ALL SELECT id FROM actions WHERE status = 'dispatched'"
                    " AND expires_at < ?1 - ?2",
    [SQL_COMMENT_ADD] = "INSERT INTO action_comments (action_id, ts, author, text)"
                        " VALUES (?, ?, ?, ?)",
    [SQL_COMMENTS] = "SELECT id, action_id, ts, author, text FROM action_comments"
                     " WHERE action_id = ? ORDER BY id LIMIT ?",
    [SQL_EVIDENCE_PUT] = "INSERT INTO action_evidence (action_id, content, bytes, sha256)"
                         " VALUES (?, ?, ?, ?) ON CONFLICT (action_id) DO NOTHING",
    [SQL_EVIDENCE_GET] = "SELECT content, sha256 FROM action_evidence WHERE action_id = ?",
    [SQL_ISO_PUT] = "INSERT INTO isolations (cluster, namespace, pod, action_id, since, until)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cluster, namespace, pod) DO UPDATE"
                    " SET action_id = excluded.action_id, since = excluded.since,"
                    " until = excluded.until",
    [SQL_ISO_DELETE] = "DELETE FROM isolations WHERE cluster = ? AND namespace = ? AND pod = ?",
    [SQL_ISO_GET] = "SELECT cluster, namespace, pod, action_id, since, until FROM isolations"
                    " WHERE cluster = ? AND namespace = ? AND pod = ?",
    [SQL_ISO_DUE] = "SELECT cluster, namespace, pod, action_id, since, until FROM isolations"
                    " WHERE until > 0 AND until <= ? ORDER BY until LIMIT ?",
};

#define PREPARE(st, which)                                                                         \
    sqlite3_stmt *st = db_stmt(db, sql[which], err);                                               \
    if (st == NULL) {                                                                              \
        return err ? err->code : STK_EDB;                                                          \
    }

void store_action_release(struct action *a)
{
    if (a != NULL) {
        free(a->result);
        a->result = NULL;
    }
}

void store_actions_free(struct action *list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        store_action_release(&list[i]);
    }
    free(list);
}

static void row_to_action(sqlite3_stmt *st, void *elem)
{
    struct action *a = elem;
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, a->type, sizeof(a->type));
    db_column_copy(st, 2, a->status, sizeof(a->status));
    db_column_copy(st, 3, a->origin, sizeof(a->origin));
    db_column_copy(st, 4, a->cluster, sizeof(a->cluster));
    db_column_copy(st, 5, a->ns, sizeof(a->ns));
    db_column_copy(st, 6, a->pod, sizeof(a->pod));
    a->entity_id = sqlite3_column_int64(st, 7);
    a->incident_id = sqlite3_column_int64(st, 8);
    db_column_copy(st, 9, a->requested_by, sizeof(a->requested_by));
    db_column_copy(st, 10, a->comment, sizeof(a->comment));
    a->isolate_for_s = sqlite3_column_int64(st, 11);
    db_column_copy(st, 12, a->approved_by, sizeof(a->approved_by));
    db_column_copy(st, 13, a->decided_by, sizeof(a->decided_by));
    a->created_at = sqlite3_column_int64(st, 14);
    a->dispatched_at = sqlite3_column_int64(st, 15);
    a->acked_at = sqlite3_column_int64(st, 16);
    a->finished_at = sqlite3_column_int64(st, 17);
    a->expires_at = sqlite3_column_int64(st, 18);
    db_column_copy(st, 19, a->failure_reason, sizeof(a->failure_reason));
    const char *res = (const char *)sqlite3_column_text(st, 20);
    a->result = strdup(res ? res : "{}"); /* NULL on ENOMEM: readers treat it as "{}" */
    a->evidence_bytes = sqlite3_column_int64(st, 21);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    }
}

enum stk_err store_actions_insert(struct db *db, const struct action *a, long long *id,
                                  struct stk_error *err)
{
    *id = 0;
    PREPARE(st, SQL_INSERT);
    sqlite3_bind_text(st, 1, a->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->origin[0] ? a->origin : "user", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->pod, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, a->entity_id);
    sqlite3_bind_int64(st, 8, a->incident_id);
    sqlite3_bind_text(st, 9, a->requested_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, a->comment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, a->isolate_for_s);
    sqlite3_bind_int64(st, 12, a->created_at);
    sqlite3_bind_int64(st, 13, a->expires_at);
    enum stk_err rc = db_run(db, st, "insert action", err);
    if (rc == STK_OK) {
        *id = sqlite3_last_insert_rowid(db_handle(db));
    }
    return rc;
}

enum stk_err store_actions_get(struct db *db, long long id, struct action *out,
                               struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    PREPARE(st, SQL_GET);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_to_action(st, out);
        db_done(st);
        return STK_OK;
    }
    db_done(st);
    if (rc == SQLITE_DONE) {
        return stk_error_set(err, STK_ENOTFOUND, "no action %lld", id);
    }
    return db_fail(db, rc, "get action", err);
}

enum stk_err store_actions_list(struct db *db, const struct action_filter *f, struct action **out,
                                size_t *count, struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    PREPARE(st, SQL_LIST);
    sqlite3_bind_int64(st, 1, f->before_id > 0 ? f->before_id : INT64_MAX);
    bind_text_or_null(st, 2, f->statuses);
    bind_text_or_null(st, 3, f->types);
    bind_text_or_null(st, 4, f->cluster);
    bind_text_or_null(st, 5, f->requested_by);
    sqlite3_bind_int64(st, 6, f->incident_id);
    bind_text_or_null(st, 7, f->text);
    sqlite3_bind_int(st, 8, f->limit);
    return db_collect(db, st, sizeof(struct action), row_to_action, (void **)out, count,
                      "list actions", err);
}

enum stk_err store_actions_move(struct db *db, long long id, const char *from,
                                const struct action_move *m, int *changed, struct stk_error *err)
{
    *changed = 0;
    PREPARE(st, SQL_MOVE);
    sqlite3_bind_int64(st, 1, id);
    bind_text_or_null(st, 2, m->to);
    sqlite3_bind_int64(st, 3, m->ts);
    sqlite3_bind_int(st, 4, m->ack != 0);
    bind_text_or_null(st, 5, m->failure_reason);
    bind_text_or_null(st, 6, m->result);
    bind_text_or_null(st, 7, m->approved_by);
    bind_text_or_null(st, 8, m->decided_by);
    sqlite3_bind_int64(st, 9, m->expires_at);
    sqlite3_bind_text(st, 10, from, -1, SQLITE_STATIC);
    enum stk_err rc = db_run(db, st, "move action", err);
    if (rc == STK_OK) {
        *changed = sqlite3_changes(db_handle(db)) > 0;
    }
    return rc;
}

enum stk_err store_actions_by_cluster(struct db *db, const char *cluster, const char *statuses,
                                      int limit, struct action **out, size_t *count,
                                      struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    PREPARE(st, SQL_BY_CLUSTER);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, statuses, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, limit);
    return db_collect(db, st, sizeof(struct action), row_to_action, (void **)out, count,
                      "cluster actions", err);
}

static void row_to_id(sqlite3_stmt *st, void *elem)
{
    *(long long *)elem = sqlite3_column_int64(st, 0);
}

enum stk_err store_actions_overdue(struct db *db, long long now, long long grace_ms,
                                   long long **ids, size_t *count, struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    PREPARE(st, SQL_OVERDUE);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, grace_ms);
    return db_collect(db, st, sizeof(long long), row_to_id, (void **)ids, count, "overdue actions",
                      err);
}

enum stk_err store_actions_comment_add(struct db *db, long long action_id, long long ts,
                                       const char *author, const char *text, long long *id,
                                       struct stk_error *err)
{
    *id = 0;
    PREPARE(st, SQL_COMMENT_ADD);
    sqlite3_bind_int64(st, 1, action_id);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_text(st, 3, author, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    enum stk_err rc = db_run(db, st, "add action comment", err);
    if (rc == STK_OK) {
        *id = sqlite3_last_insert_rowid(db_handle(db));
    }
    return rc;
}

static void row_to_comment(sqlite3_stmt *st, void *elem)
{
    struct action_comment *c = elem;
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(st, 0);
    c->action_id = sqlite3_column_int64(st, 1);
    c->ts = sqlite3_column_int64(st, 2);
    db_column_copy(st, 3, c->author, sizeof(c->author));
    db_column_copy(st, 4, c->text, sizeof(c->text));
}

enum stk_err store_actions_comments(struct db *db, long long action_id, int limit,
                                    struct action_comment **out, size_t *count,
                                    struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    PREPARE(st, SQL_COMMENTS);
    sqlite3_bind_int64(st, 1, action_id);
    sqlite3_bind_int(st, 2, limit);
    return db_collect(db, st, sizeof(struct action_comment), row_to_comment, (void **)out, count,
                      "action comments", err);
}

enum stk_err store_actions_evidence_put(struct db *db, long long action_id, const char *json,
                                        size_t len, const char *sha256_hex, struct stk_error *err)
{
    PREPARE(st, SQL_EVIDENCE_PUT);
    sqlite3_bind_int64(st, 1, action_id);
    sqlite3_bind_text(st, 2, json, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (long long)len);
    sqlite3_bind_text(st, 4, sha256_hex, -1, SQLITE_STATIC);
    return db_run(db, st, "store evidence", err);
}

enum stk_err store_actions_evidence_get(struct db *db, long long action_id, char **json,
                                        size_t *len, char sha256_hex[65], struct stk_error *err)
{
    *json = NULL;
    *len = 0;
    sha256_hex[0] = '\0';
    PREPARE(st, SQL_EVIDENCE_GET);
    sqlite3_bind_int64(st, 1, action_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_done(st);
        if (rc == SQLITE_DONE) {
            return stk_error_set(err, STK_ENOTFOUND, "action %lld has no evidence", action_id);
        }
        return db_fail(db, rc, "get evidence", err);
    }
    const char *text = (const char *)sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    *json = malloc(n + 1);
    if (*json == NULL) {
        db_done(st);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    memcpy(*json, text ? text : "", n);
    (*json)[n] = '\0';
    *len = n;
    db_column_copy(st, 1, sha256_hex, 65);
    db_done(st);
    return STK_OK;
}

enum stk_err store_actions_isolation_put(struct db *db, const struct isolation *iso,
                                         struct stk_error *err)
{
    PREPARE(st, SQL_ISO_PUT);
    sqlite3_bind_text(st, 1, iso->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, iso->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, iso->pod, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, iso->action_id);
    sqlite3_bind_int64(st, 5, iso->since);
    sqlite3_bind_int64(st, 6, iso->until);
    return db_run(db, st, "put isolation", err);
}

enum stk_err store_actions_isolation_delete(struct db *db, const char *cluster, const char *ns,
                                            const char *pod, struct stk_error *err)
{
    PREPARE(st, SQL_ISO_DELETE);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pod, -1, SQLITE_STATIC);
    return db_run(db, st, "delete isolation", err);
}

static void row_to_isolation(sqlite3_stmt *st, void *elem)
{
    struct isolation *iso = elem;
    memset(iso, 0, sizeof(*iso));
    db_column_copy(st, 0, iso->cluster, sizeof(iso->cluster));
    db_column_copy(st, 1, iso->ns, sizeof(iso->ns));
    db_column_copy(st, 2, iso->pod, sizeof(iso->pod));
    iso->action_id = sqlite3_column_int64(st, 3);
    iso->since = sqlite3_column_int64(st, 4);
    iso->until = sqlite3_column_int64(st, 5);
}

enum stk_err store_actions_isolation_get(struct db *db, const char *cluster, const char *ns,
                                         const char *pod, struct isolation *out,
                                         struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    PREPARE(st, SQL_ISO_GET);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pod, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row_to_isolation(st, out);
    }
    db_done(st);
    if (rc == SQLITE_ROW) {
        return STK_OK;
    }
    return rc == SQLITE_DONE ? STK_ENOTFOUND : db_fail(db, rc, "get isolation", err);
}

enum stk_err store_actions_isolations_due(struct db *db, long long now, int limit,
                                          struct isolation **out, size_t *count,
                                          struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    PREPARE(st, SQL_ISO_DUE);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    return db_collect(db, st, sizeof(struct isolation), row_to_isolation, (void **)out, count,
                      "due isolations", err);
}
