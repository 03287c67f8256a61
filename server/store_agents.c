#include "store_agents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_COLUMNS                                                                              \
    "id, cluster, cert_serial, cert_sha256, cert_expires_at, agent_version, enroll_token_id,"      \
    " enrolled_by, enrolled_from, enrolled_at, coalesce(revoked_at, 0),"                           \
    " coalesce(revoked_by, ''), connected, coalesce(last_seen_at, 0), last_address FROM agents"

#define TOKEN_COLUMNS                                                                              \
    "id, cluster, created_by, created_at, expires_at, coalesce(used_at, 0),"                       \
    " coalesce(used_by_agent, 0) FROM agent_enroll_tokens"

enum {
    SQL_TOKEN_INSERT,
    SQL_TOKEN_BY_HASH,
    SQL_TOKEN_CONSUME,
    SQL_INSERT,
    SQL_BY_ID,
    SQL_BY_SERIAL,
    SQL_LIST,
    SQL_REVOKE,
    SQL_REVOKED_SINCE,
    SQL_SET_CONNECTED,
    SQL_TOUCH,
    SQL_RESET_CONNECTED,
    SQL_N_,
};

static const char *const sql[SQL_N_] = {
    [SQL_TOKEN_INSERT] = "INSERT INTO agent_enroll_tokens (secret_hash, cluster, created_by,"
                         " created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    [SQL_TOKEN_BY_HASH] = "SELECT " TOKEN_COLUMNS " WHERE secret_hash = ?",
    [SQL_TOKEN_CONSUME] = "UPDATE agent_enroll_tokens SET used_at = ?3, used_by_agent = ?2"
                          " WHERE id = ?1 AND used_at IS NULL AND expires_at > ?3",
    [SQL_INSERT] = "INSERT INTO agents (cluster, cert_serial, cert_sha256, cert_expires_at,"
                   " agent_version, enroll_token_id, enrolled_by, enrolled_from, enrolled_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [SQL_BY_ID] = "SELECT " AGENT_COLUMNS " WHERE id = ?",
    [SQL_BY_SERIAL] = "SELECT " AGENT_COLUMNS " WHERE cert_serial = ?",
    [SQL_LIST] = "SELECT " AGENT_COLUMNS " ORDER BY id DESC",
    [SQL_REVOKE] = "UPDATE agents SET revoked_at = ?2, revoked_by = ?3, connected = 0"
                   " WHERE id = ?1 AND revoked_at IS NULL",
    [SQL_REVOKED_SINCE] = "SELECT id FROM agents WHERE revoked_at >= ? ORDER BY id",
    [SQL_SET_CONNECTED] = "UPDATE agents SET connected = ?2, last_seen_at = ?3,"
                          " last_address = coalesce(?4, last_address),"
                          " agent_version = coalesce(?5, agent_version) WHERE id = ?1",
    [SQL_TOUCH] = "UPDATE agents SET last_seen_at = ?2 WHERE id = ?1",
    [SQL_RESET_CONNECTED] = "UPDATE agents SET connected = 0 WHERE connected = 1",
};

static void row_to_agent(sqlite3_stmt *st, void *elem)
{
    struct agent *a = elem;
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, a->cluster, sizeof(a->cluster));
    db_column_copy(st, 2, a->cert_serial, sizeof(a->cert_serial));
    db_column_copy(st, 3, a->cert_sha256, sizeof(a->cert_sha256));
    a->cert_expires_at = sqlite3_column_int64(st, 4);
    db_column_copy(st, 5, a->agent_version, sizeof(a->agent_version));
    a->enroll_token_id = sqlite3_column_int64(st, 6);
    db_column_copy(st, 7, a->enrolled_by, sizeof(a->enrolled_by));
    db_column_copy(st, 8, a->enrolled_from, sizeof(a->enrolled_from));
    a->enrolled_at = sqlite3_column_int64(st, 9);
    a->revoked_at = sqlite3_column_int64(st, 10);
    db_column_copy(st, 11, a->revoked_by, sizeof(a->revoked_by));
    a->connected = sqlite3_column_int(st, 12);
    a->last_seen_at = sqlite3_column_int64(st, 13);
    db_column_copy(st, 14, a->last_address, sizeof(a->last_address));
}

static void row_to_token(sqlite3_stmt *st, void *elem)
{
    struct enroll_token *t = elem;
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    db_column_copy(st, 1, t->cluster, sizeof(t->cluster));
    db_column_copy(st, 2, t->created_by, sizeof(t->created_by));
    t->created_at = sqlite3_column_int64(st, 3);
    t->expires_at = sqlite3_column_int64(st, 4);
    t->used_at = sqlite3_column_int64(st, 5);
    t->used_by_agent = sqlite3_column_int64(st, 6);
}

/* Steps a bound statement that returns at most one row into `out` via
 * `row`; STK_ENOTFOUND with `missing` when there is none. Resets `st`. */
static enum stk_err get_one(struct db *db, sqlite3_stmt *st, void (*row)(sqlite3_stmt *, void *),
                            void *out, const char *missing, struct stk_error *err)
{
    enum stk_err rc = STK_OK;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        row(st, out);
    } else if (src == SQLITE_DONE) {
        rc = stk_error_set(err, STK_ENOTFOUND, "%s", missing);
    } else {
        rc = db_fail(db, src, "reading an agent", err);
    }
    db_done(st);
    return rc;
}

enum stk_err store_agents_token_insert(struct db *db, const char *secret_hash, const char *cluster,
                                       const char *created_by, long long now, long long expires_at,
                                       long long *id, struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_TOKEN_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, secret_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, created_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, expires_at);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "creating an enrollment token", err);
    }
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return STK_OK;
}

enum stk_err store_agents_token_get_by_hash(struct db *db, const char *secret_hash,
                                            struct enroll_token *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_TOKEN_BY_HASH], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, secret_hash, -1, SQLITE_STATIC);
    return get_one(db, st, row_to_token, out, "no such enrollment token", err);
}

enum stk_err store_agents_token_consume(struct db *db, long long id, long long agent_id,
                                        long long now, struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_TOKEN_CONSUME], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, agent_id);
    sqlite3_bind_int64(st, 3, now);
    enum stk_err rc = db_run(db, st, "using an enrollment token", err);
    if (rc == STK_OK && sqlite3_changes(db_handle(db)) == 0) {
        rc = stk_error_set(err, STK_ECONFLICT, "the enrollment token is used or expired");
    }
    return rc;
}

enum stk_err store_agents_insert(struct db *db, const struct agent *a, long long *id,
                                 struct stk_error *err)
{
    *id = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_INSERT], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, a->cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->cert_serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->cert_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, a->cert_expires_at);
    sqlite3_bind_text(st, 5, a->agent_version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, a->enroll_token_id);
    sqlite3_bind_text(st, 7, a->enrolled_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, a->enrolled_from, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, a->enrolled_at);
    int src = sqlite3_step(st);
    db_done(st);
    if (src != SQLITE_DONE) {
        return db_fail(db, src, "recording an agent", err);
    }
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return STK_OK;
}

enum stk_err store_agents_get(struct db *db, long long id, struct agent *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_BY_ID], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    return get_one(db, st, row_to_agent, out, "no such agent", err);
}

enum stk_err store_agents_get_by_serial(struct db *db, const char *serial, struct agent *out,
                                        struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = db_stmt(db, sql[SQL_BY_SERIAL], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
    return get_one(db, st, row_to_agent, out, "no agent has that certificate", err);
}

enum stk_err store_agents_list(struct db *db, struct agent **out, size_t *count,
                               struct stk_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_LIST], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    return db_collect(db, st, sizeof(struct agent), row_to_agent, (void **)out, count,
                      "listing agents", err);
}

enum stk_err store_agents_revoke(struct db *db, long long id, const char *by, long long now,
                                 struct agent *out, struct stk_error *err)
{
    enum stk_err rc = store_agents_get(db, id, out, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (out->revoked_at != 0) {
        return stk_error_set(err, STK_ECONFLICT, "agent %lld is already revoked", id);
    }
    sqlite3_stmt *st = db_stmt(db, sql[SQL_REVOKE], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
    rc = db_run(db, st, "revoking an agent", err);
    if (rc != STK_OK) {
        return rc;
    }
    return store_agents_get(db, id, out, err);
}

static void row_to_id(sqlite3_stmt *st, void *elem)
{
    *(long long *)elem = sqlite3_column_int64(st, 0);
}

enum stk_err store_agents_revoked_since(struct db *db, long long since, long long **ids,
                                        size_t *count, struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    sqlite3_stmt *st = db_stmt(db, sql[SQL_REVOKED_SINCE], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, since);
    return db_collect(db, st, sizeof(long long), row_to_id, (void **)ids, count,
                      "listing revoked agents", err);
}

enum stk_err store_agents_set_connected(struct db *db, long long id, int connected,
                                        const char *address, const char *version, long long now,
                                        struct stk_error *err)
{
    sqlite3_stmt *st = db_stmt(db, sql[SQL_SET_CONNECTED], err);
    if (st == NULL) {
        return err ? err->code : STK_EDB;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, connected ? 1 : 0);
    sqlite3_bind_int64(st, 3, now);
    if (address != NULL) {
        sqlite3_bind_text(st, 4, address, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 4);
    }
    if (version != NULL) {
        sqlite3_bind_text(st, 5, version, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 5);
    }
    return db_run(db, st, "recording an agent connection", err);
}

enum stk_err store_agents_touch(struct db *db, long long id, long long now, struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_TOUCH], "touching an agent", 2, id, now, err);
}

enum stk_err store_agents_reset_connected(struct db *db, struct stk_error *err)
{
    return db_run_ids(db, sql[SQL_RESET_CONNECTED], "resetting agent connections", 0, 0, 0, err);
}
