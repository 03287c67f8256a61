/* SQL for cluster_facts and cluster_pods. */
#include "store_clusters.h"

#include <stdlib.h>
#include <string.h>

enum {
    SQL_PUT,
    SQL_GET,
    SQL_SEEN,
    SQL_PODS_CLEAR,
    SQL_POD_PUT,
    SQL_POD_SET,
    SQL_POD_GET,
    SQL_PODS_MATCHING,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_PUT] = "INSERT INTO cluster_facts (cluster, agent_id, agent_version, kubernetes_version,"
                " cloud, np_plugin, np_version, pods, reported_at, connected, last_seen_at,"
                " address, truncated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                " ?13) ON CONFLICT (cluster) DO UPDATE SET agent_id = ?2, agent_version = ?3,"
                " kubernetes_version = ?4, cloud = ?5, np_plugin = ?6, np_version = ?7,"
                " pods = ?8, reported_at = ?9, connected = ?10, last_seen_at = ?11,"
                " address = ?12, truncated = ?13",
    [SQL_GET] = "SELECT cluster, agent_id, agent_version, kubernetes_version, cloud, np_plugin,"
                " np_version, pods, reported_at, connected, last_seen_at, address, truncated"
                " FROM cluster_facts WHERE cluster = ?",
    [SQL_SEEN] = "UPDATE cluster_facts SET connected = ?2, last_seen_at = max(last_seen_at, ?3)"
                 " WHERE cluster = ?1",
    [SQL_PODS_CLEAR] = "DELETE FROM cluster_pods WHERE cluster = ?",
    [SQL_POD_PUT] = "INSERT OR REPLACE INTO cluster_pods (cluster, namespace, name, phase, labels,"
                    " isolated) VALUES (?, ?, ?, ?, ?, ?)",
    [SQL_POD_SET] = "UPDATE cluster_pods SET phase = coalesce(?4, phase), isolated = ?5"
                    " WHERE cluster = ?1 AND namespace = ?2 AND name = ?3",
    [SQL_POD_GET] = "SELECT namespace, name, phase, labels, isolated FROM cluster_pods"
                    " WHERE cluster = ? AND namespace = ? AND name = ?",
    /* Every selector pair must be among the pod's labels. */
    [SQL_PODS_MATCHING] = "SELECT p.name FROM cluster_pods p WHERE p.cluster = ?1"
                          " AND p.namespace = ?2 AND NOT EXISTS (SELECT 1 FROM json_each(?3) s"
                          " WHERE json_extract(p.labels, '$.\"' || s.key || '\"')"
                          " IS NOT s.value) ORDER BY p.name LIMIT ?4",
};

#define PREPARE(st, which)                                                                         \
    sqlite3_stmt *st = db_stmt(db, sql[which], err);                                               \
    if (st == NULL) {                                                                              \
        return err ? err->code : STK_EDB;                                                          \
    }

enum stk_err store_clusters_put(struct db *db, const struct cluster_facts *f, struct stk_error *err)
{
    PREPARE(st, SQL_PUT);
    sqlite3_bind_text(st, 1, f->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->agent_id);
    sqlite3_bind_text(st, 3, f->agent_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f->kubernetes_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, f->cloud, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, f->np_plugin[0] ? f->np_plugin : "none", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, f->np_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, f->pods);
    sqlite3_bind_int64(st, 9, f->reported_at);
    sqlite3_bind_int(st, 10, f->connected);
    sqlite3_bind_int64(st, 11, f->last_seen_at);
    sqlite3_bind_text(st, 12, f->address, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 13, f->truncated != 0);
    return db_run(db, st, "put cluster facts", err);
}

enum stk_err store_clusters_get(struct db *db, const char *cluster, struct cluster_facts *out,
                                struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    PREPARE(st, SQL_GET);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        db_column_copy(st, 0, out->cluster, sizeof(out->cluster));
        out->agent_id = sqlite3_column_int64(st, 1);
        db_column_copy(st, 2, out->agent_version, sizeof(out->agent_version));
        db_column_copy(st, 3, out->kubernetes_version, sizeof(out->kubernetes_version));
        db_column_copy(st, 4, out->cloud, sizeof(out->cloud));
        db_column_copy(st, 5, out->np_plugin, sizeof(out->np_plugin));
        db_column_copy(st, 6, out->np_version, sizeof(out->np_version));
        out->pods = sqlite3_column_int64(st, 7);
        out->reported_at = sqlite3_column_int64(st, 8);
        out->connected = sqlite3_column_int(st, 9);
        out->last_seen_at = sqlite3_column_int64(st, 10);
        db_column_copy(st, 11, out->address, sizeof(out->address));
        out->truncated = sqlite3_column_int(st, 12);
    }
    db_done(st);
    if (rc == SQLITE_ROW) {
        return STK_OK;
    }
    return rc == SQLITE_DONE ? STK_ENOTFOUND : db_fail(db, rc, "get cluster facts", err);
}

enum stk_err store_clusters_seen(struct db *db, const char *cluster, int connected, long long ts,
                                 struct stk_error *err)
{
    PREPARE(st, SQL_SEEN);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, connected);
    sqlite3_bind_int64(st, 3, ts);
    return db_run(db, st, "cluster seen", err);
}

enum stk_err store_clusters_pods_clear(struct db *db, const char *cluster, struct stk_error *err)
{
    PREPARE(st, SQL_PODS_CLEAR);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    return db_run(db, st, "clear cluster pods", err);
}

enum stk_err store_clusters_pod_put(struct db *db, const char *cluster, const struct cluster_pod *p,
                                    struct stk_error *err)
{
    PREPARE(st, SQL_POD_PUT);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->phase, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, p->labels ? p->labels : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, p->isolated);
    return db_run(db, st, "put cluster pod", err);
}

enum stk_err store_clusters_pod_set(struct db *db, const char *cluster, const char *ns,
                                    const char *name, const char *phase, int isolated,
                                    struct stk_error *err)
{
    PREPARE(st, SQL_POD_SET);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    if (phase != NULL) {
        sqlite3_bind_text(st, 4, phase, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 5, isolated);
    return db_run(db, st, "set cluster pod", err);
}

enum stk_err store_clusters_pod(struct db *db, const char *cluster, const char *ns,
                                const char *name, struct cluster_pod *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    PREPARE(st, SQL_POD_GET);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        db_column_copy(st, 0, out->ns, sizeof(out->ns));
        db_column_copy(st, 1, out->name, sizeof(out->name));
        db_column_copy(st, 2, out->phase, sizeof(out->phase));
        const char *labels = (const char *)sqlite3_column_text(st, 3);
        out->labels = strdup(labels ? labels : "{}");
        out->isolated = sqlite3_column_int(st, 4);
    }
    db_done(st);
    if (rc == SQLITE_ROW) {
        return out->labels ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    return rc == SQLITE_DONE ? STK_ENOTFOUND : db_fail(db, rc, "get cluster pod", err);
}

static void row_to_name(sqlite3_stmt *st, void *elem)
{
    db_column_copy(st, 0, elem, 254);
}

enum stk_err store_clusters_pods_matching(struct db *db, const char *cluster, const char *ns,
                                          const char *selector, int limit, char (**names)[254],
                                          size_t *count, struct stk_error *err)
{
    *names = NULL;
    *count = 0;
    PREPARE(st, SQL_PODS_MATCHING);
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, selector, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, limit);
    return db_collect(db, st, 254, row_to_name, (void **)names, count, "matching pods", err);
}
