/* ingest_raw: the storage limit bench/ingest.sh compares ingestion with.
 *
 *   ingest_raw DB EVENTS BATCH T0_MS CLUSTER   insert, print one result line
 *   ingest_raw --count DB                      print the row counts
 *   ingest_raw --svc DB EVENTS BATCH T0_MS CLUSTER
 *       the server's own parse + svc_ingest_store() in process (no HTTP),
 *       timed by part, with the time of each SQL statement on stderr
 *
 * DB must be freshly migrated (`stockade migrate --db DB`). The program
 * builds the very same request bodies ingest_client sends
 * (bench/ingest_gen.h) and parses them with the server's own Falco parser,
 * batch by batch, outside the timed part; then, timed, it writes the rows
 * svc_ingest_store() writes for those events with plain prepared
 * statements, one transaction per batch, through db_open() (the server's
 * pragmas):
 *   - a CloudProcessEvents row per process event;
 *   - per alert: an entities row for each entity not seen before, the
 *     alerts row, an alert_entities row per entity; per batch, an
 *     incident_entities upsert per (incident, entity) pair;
 *   - a new incident (and its "created" history row) the first time a
 *     namespace is seen: the grouping the correlation arrives at for these
 *     events, known here without asking the database;
 *   - once per batch: one edges upsert per distinct relation the batch's
 *     alerts imply (container runs in pod, ...), one last_seen UPDATE per
 *     entity the batch saw again (the server, too, writes both once per
 *     batch), one UPDATE of the aggregates of each incident the batch
 *     touched, and one audit_log entry (hash-chained).
 * What it leaves out is exactly the work the server does on top: HTTP,
 * JSON parsing, the idempotency lookup, the correlation probes and reading
 * entities and incidents back. Ids are kept in memory.
 * Prints: events=N alerts=N batches=N seconds=S events_per_s=R prep_s=S
 * and, on stderr, the time spent in each statement and in COMMIT. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "ingest_gen.h"
#include "ingest_parse.h"
#include "store_alerts.h"
#include "store_audit.h"
#include "store_incidents.h"
#include "svc_audit.h"
#include "svc_incidents.h"
#include "svc_ingest.h"

static void die(sqlite3 *h, const char *what)
{
    fprintf(stderr, "ingest_raw: %s: %s\n", what, h ? sqlite3_errmsg(h) : "failed");
    exit(1);
}

/* ---- small open-addressing maps ---- */

struct smap { /* entity key -> id */
    char **keys;
    long long *vals;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) {
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    }
    return h;
}

static long long *smap_slot(struct smap *m, const char *key, int *found)
{
    if (m->cap == 0 || (m->n + 1) * 2 > m->cap) {
        struct smap g = {calloc(m->cap ? m->cap * 2 : 4096, sizeof(char *)),
                         calloc(m->cap ? m->cap * 2 : 4096, sizeof(long long)),
                         m->cap ? m->cap * 2 : 4096, 0};
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i] != NULL) {
                int f;
                *smap_slot(&g, m->keys[i], &f) = m->vals[i];
                free(m->keys[i]);
            }
        }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] != NULL) {
        if (strcmp(m->keys[i], key) == 0) {
            *found = 1;
            return &m->vals[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    *found = 0;
    m->keys[i] = strdup(key);
    m->n++;
    m->vals[i] = 0;
    return &m->vals[i];
}

struct imap { /* (incident, entity) -> alert count */
    uint64_t *keys;
    long long *vals;
    size_t cap, n;
};

static long long *imap_slot(struct imap *m, uint64_t key)
{
    if (m->cap == 0 || (m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        struct imap g = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(long long)), cap, 0};
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i] != 0) {
                *imap_slot(&g, m->keys[i]) = m->vals[i];
            }
        }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = (size_t)(gen_mix(key) & (m->cap - 1));
    while (m->keys[i] != 0 && m->keys[i] != key) {
        i = (i + 1) & (m->cap - 1);
    }
    if (m->keys[i] == 0) {
        m->keys[i] = key;
        m->n++;
    }
    return &m->vals[i];
}

/* ---- one incident per namespace, aggregates kept in memory ---- */

struct inc {
    char group[ALERT_KEY_MAX];
    struct incident in;
    int main_kind;
    char main_key[ALERT_KEY_MAX], main_name[ALERT_NAME_MAX], main_cluster[ALERT_CLUSTER_MAX];
    char single[ALERT_NAME_MAX];
    int dirty;
};

#define edge_rules svc_ingest_edge_rules
#define EDGE_RULES svc_ingest_edge_rule_count

/* A parsed alert, ready to write. */
struct prepared {
    unsigned char ikey[ALERT_IKEY_LEN];
    char *evidence;
    char *props[ALERT_MAX_ENTITIES];
    char ecluster[ALERT_MAX_ENTITIES][ALERT_CLUSTER_MAX];
    char group[ALERT_KEY_MAX];
};

enum {
    S_EDGE,
    S_PROC,
    S_ENTITY,
    S_TOUCH,
    S_ALERT,
    S_LINK,
    S_INC_ENT,
    S_INC_NEW,
    S_HISTORY,
    S_INC_SAVE,
    S_AUDIT,
    S_N
};
static const char *const sql[S_N] = {
    [S_EDGE] = "INSERT INTO edges (src, dst, kind, source, props, first_seen, last_seen)"
               " VALUES (?1, ?2, ?3, 'alert', '{}', ?4, ?4) ON CONFLICT (src, dst, kind)"
               " DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
    [S_PROC] = "INSERT INTO CloudProcessEvents (ikey, Timestamp, ClusterName,"
               " KubernetesNamespace, KubernetesPodName, ContainerName, ContainerId,"
               " ContainerImageName, ProcessId, ProcessName, ProcessCommandLine, FolderPath,"
               " FileName, ParentProcessId, ParentProcessName, AccountName, IsBinaryDrift)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [S_ENTITY] = "INSERT INTO entities (kind, key, name, cluster, props, first_seen, last_seen)"
                 " VALUES (?1, ?2, ?3, ?4, coalesce(?5, '{}'), ?6, ?6)",
    [S_TOUCH] = "UPDATE entities SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2",
    [S_ALERT] = "INSERT INTO alerts (ikey, incident_id, provider, rule, title, description,"
                " severity, tactic, technique, first_ts, last_ts, cluster, evidence, pinned,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
    [S_LINK] = "INSERT INTO alert_entities (alert_id, entity_id, ts, corr) VALUES (?, ?, ?, 1)",
    [S_INC_ENT] = "INSERT INTO incident_entities (incident_id, entity_id, alert_count)"
                  " VALUES (?1, ?2, ?3) ON CONFLICT (incident_id, entity_id)"
                  " DO UPDATE SET alert_count = alert_count + ?3",
    [S_INC_NEW] = "INSERT INTO incidents (title, severity, status, first_ts, last_ts, created_at,"
                  " updated_at) VALUES (?, ?, 0, ?, ?, ?, ?)",
    [S_HISTORY] = "INSERT INTO incident_history (incident_id, ts, actor, kind, summary, details)"
                  " VALUES (?, ?, 'system', 'created', ?, '{}')",
    [S_INC_SAVE] = "UPDATE incidents SET title = ?2, severity = ?3, sources = ?4, tactics = ?5,"
                   " high_impact = ?6, alert_count = ?7, entity_count = ?8,"
                   " main_entity = nullif(?9, 0), main_count = ?10, clusters = ?11,"
                   " first_ts = ?12, last_ts = ?13, updated_at = ?14 WHERE id = ?1",
    [S_AUDIT] = "INSERT INTO audit_log (id, ts, actor, actor_kind, source_ip, action, target,"
                " outcome, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
};

static sqlite3 *H;
static sqlite3_stmt *ST[S_N];

static double now_s(void);
static double ST_TIME[S_N];
static long long ST_COUNT[S_N];

static void step(int which, const char *what)
{
    sqlite3_stmt *st = ST[which];
    double t = now_s();
    if (sqlite3_step(st) != SQLITE_DONE) {
        die(H, what);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    ST_TIME[which] += now_s() - t;
    ST_COUNT[which]++;
}

static void exec_sql(const char *s)
{
    if (sqlite3_exec(H, s, NULL, NULL, NULL) != SQLITE_OK) {
        die(H, s);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void bind_opt(sqlite3_stmt *st, int col, long long v)
{
    if (v >= 0) {
        sqlite3_bind_int64(st, col, v);
    } else {
        sqlite3_bind_null(st, col);
    }
}

static int count_mode(const char *path)
{
    sqlite3 *h;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        die(h, path);
    }
    static const char *const q[][2] = {
        {"alerts", "SELECT count(*) FROM alerts"},
        {"alert_entities", "SELECT count(*) FROM alert_entities"},
        {"entities", "SELECT count(*) FROM entities"},
        {"incidents", "SELECT count(*) FROM incidents WHERE status != 3"},
        {"incidents_merged", "SELECT count(*) FROM incidents WHERE status = 3"},
        {"incident_entities", "SELECT count(*) FROM incident_entities"},
        {"incident_alert_sum", "SELECT coalesce(sum(alert_count), 0) FROM incidents"},
        {"incident_history", "SELECT count(*) FROM incident_history"},
        {"edges", "SELECT count(*) FROM edges"},
        {"CloudProcessEvents", "SELECT count(*) FROM CloudProcessEvents"},
        {"audit_log_ingest", "SELECT count(*) FROM audit_log WHERE action LIKE 'ingest.%'"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, q[i][1], -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            die(h, q[i][1]);
        }
        printf("%s%s=%lld", i ? " " : "", q[i][0], (long long)sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
    }
    printf("\n");
    sqlite3_close(h);
    return 0;
}

/* ---- --svc: the server's own path, in process, timed by part ---- */

struct stmt_prof {
    char *sql;               /* copy of the statement text */
    const void *stmt, *text; /* the statement it was last seen on, and its text */
    double s;
    long long n;
};
static struct stmt_prof PROF[256];
static int N_PROF;

static int on_profile(unsigned type, void *ctx, void *p, void *x)
{
    (void)ctx;
    if (type != SQLITE_TRACE_PROFILE) {
        return 0;
    }
    const char *text = sqlite3_sql((sqlite3_stmt *)p);
    if (text == NULL) {
        return 0;
    }
    double s = (double)*(sqlite3_int64 *)x / 1e9;
    struct stmt_prof *hit = NULL;
    /* Persistent statements keep their address: compare pointers first. */
    for (int i = 0; i < N_PROF && hit == NULL; i++) {
        hit = PROF[i].stmt == p && PROF[i].text == text ? &PROF[i] : NULL;
    }
    for (int i = 0; i < N_PROF && hit == NULL; i++) {
        hit = strcmp(PROF[i].sql, text) == 0 ? &PROF[i] : NULL;
    }
    if (hit == NULL && N_PROF < 256) {
        hit = &PROF[N_PROF++];
        *hit = (struct stmt_prof){.sql = strdup(text)};
    }
    if (hit != NULL) {
        hit->stmt = p;
        hit->text = text;
        hit->s += s;
        hit->n++;
    }
    return 0;
}

static int cmp_prof(const void *a, const void *b)
{
    double x = ((const struct stmt_prof *)a)->s, y = ((const struct stmt_prof *)b)->s;
    return x > y ? -1 : x < y;
}

/* What svc_ingest_store() costs per part, without HTTP: prints
 * "events=N seconds=S events_per_s=R parse_s=S store_s=S" and, on stderr,
 * the time of each SQL statement (sqlite3_trace_v2 profile). */
static int svc_mode(const char *path, long long events, int batch, long long t0_ms,
                    const char *cluster)
{
    struct db *db = NULL;
    struct stk_error err;
    stk_error_clear(&err);
    if (db_open(path, &db, &err) != STK_OK) {
        fprintf(stderr, "ingest_raw: %s\n", err.msg);
        return 1;
    }
    sqlite3_trace_v2(db_handle(db), SQLITE_TRACE_PROFILE, on_profile, NULL);
    struct ingest_settings s = {.window_ms = 86400 * 1000LL, .ns_window_ms = 1800 * 1000LL};
    struct actor by = {.name = "token:bench", .kind = "token", .ip = "127.0.0.1"};
    struct gen_buf body = {0};
    double parse_s = 0, store_s = 0;
    long long n_batches = events / batch;
    for (long long k = 0; k < n_batches; k++) {
        body.len = 0;
        long long want = 0;
        gen_batch(&body, k, batch, t0_ms, &want);
        double a0 = now_s();
        struct ingest_batch b;
        ingest_batch_init(&b);
        struct ingest_reject rej;
        if (ingest_parse_falco(body.p, body.len, cluster, &b, &rej) != STK_OK) {
            fprintf(stderr, "ingest_raw: batch %lld: event %ld: %s\n", k, rej.index, rej.reason);
            return 1;
        }
        double a1 = now_s();
        struct ingest_result res;
        if (svc_ingest_store(db, &s, &b, &by, "falco", &res, &err) != STK_OK ||
            res.alerts_new != want) {
            fprintf(stderr, "ingest_raw: batch %lld: %s (%ld new of %lld)\n", k, err.msg,
                    res.alerts_new, want);
            return 1;
        }
        double a2 = now_s();
        ingest_batch_release(&b);
        parse_s += a1 - a0;
        store_s += a2 - a1;
    }
    long long sent = n_batches * batch;
    printf("events=%lld seconds=%.3f events_per_s=%.0f parse_s=%.3f store_s=%.3f "
           "parse_us_per_event=%.1f store_us_per_event=%.1f\n",
           sent, parse_s + store_s, (double)sent / (parse_s + store_s), parse_s, store_s,
           parse_s * 1e6 / (double)sent, store_s * 1e6 / (double)sent);
    double sql_s = 0;
    qsort(PROF, (size_t)N_PROF, sizeof(PROF[0]), cmp_prof);
    for (int i = 0; i < N_PROF; i++) {
        sql_s += PROF[i].s;
    }
    fprintf(stderr, "svc_ingest_store: %.3f s, of which SQL statements %.3f s; per statement:\n",
            store_s, sql_s);
    for (int i = 0; i < N_PROF && i < 12; i++) {
        fprintf(stderr, "%9lld x %6.2f us = %6.3f s (%4.1f%%)  %.72s\n", PROF[i].n,
                PROF[i].s * 1e6 / (double)PROF[i].n, PROF[i].s, 100 * PROF[i].s / store_s,
                PROF[i].sql);
    }
    free(body.p);
    db_free(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--count") == 0) {
        return count_mode(argv[2]);
    }
    if (argc == 7 && strcmp(argv[1], "--svc") == 0) {
        return svc_mode(argv[2], atoll(argv[3]), atoi(argv[4]), atoll(argv[5]), argv[6]);
    }
    if (argc != 6) {
        fprintf(stderr, "usage: ingest_raw DB EVENTS BATCH T0_MS CLUSTER | --count DB\n"
                        "       ingest_raw --svc DB EVENTS BATCH T0_MS CLUSTER\n");
        return 2;
    }
    const char *path = argv[1], *cluster = argv[5];
    long long events = atoll(argv[2]), t0_ms = atoll(argv[4]);
    int batch = atoi(argv[3]);
    if (batch <= 0 || events < batch) {
        fprintf(stderr, "ingest_raw: bad arguments\n");
        return 2;
    }
    struct db *db = NULL;
    struct stk_error err;
    stk_error_clear(&err);
    if (db_open(path, &db, &err) != STK_OK) {
        fprintf(stderr, "ingest_raw: %s\n", err.msg);
        return 1;
    }
    H = db_handle(db);
    for (int i = 0; i < S_N; i++) {
        if (sqlite3_prepare_v3(H, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ST[i], NULL) !=
            SQLITE_OK) {
            die(H, sql[i]);
        }
    }
    long long audit_id = 0;
    char audit_prev[65];
    if (store_audit_last(db, &audit_id, audit_prev, &err) != STK_OK) {
        fprintf(stderr, "ingest_raw: %s\n", err.msg);
        return 1;
    }

    struct smap ents = {0};
    struct imap pairs = {0}, touched = {0}, edges = {0}, ie_delta = {0};
    struct inc incs[64];
    int n_incs = 0;
    long long n_batches = events / batch, alerts_total = 0;
    double timed = 0, prep = 0, commit_s = 0;
    struct gen_buf body = {0};
    struct prepared *pp = calloc((size_t)batch * 2, sizeof(*pp));

    for (long long k = 0; k < n_batches; k++) {
        /* ---- untimed: the body, parsed as the server parses it ---- */
        double p0 = now_s();
        body.len = 0;
        long long batch_alerts = 0;
        gen_batch(&body, k, batch, t0_ms, &batch_alerts);
        struct ingest_batch b;
        ingest_batch_init(&b);
        struct ingest_reject rej;
        if (ingest_parse_falco(body.p, body.len, cluster, &b, &rej) != STK_OK) {
            fprintf(stderr, "ingest_raw: batch %lld: event %ld: %s\n", k, rej.index, rej.reason);
            return 1;
        }
        for (size_t i = 0; i < b.n_alerts; i++) {
            const struct alert_in *a = &b.alerts[i];
            struct prepared *p = &pp[i];
            store_alerts_ikey(p->ikey, a->first_ms, a->key);
            p->evidence = a->evidence_json ? strdup(a->evidence_json)
                          : a->evidence    ? json_dumps(a->evidence, JSON_COMPACT)
                                           : NULL;
            p->group[0] = '\0';
            for (int e = 0; e < a->n_entities; e++) {
                const struct entity_ref *r = &a->entities[e];
                p->props[e] = r->props_json ? strdup(r->props_json)
                              : r->props    ? json_dumps(r->props, JSON_COMPACT)
                                            : NULL;
                svc_ingest_entity_cluster(r, a->cluster, p->ecluster[e], sizeof(p->ecluster[e]));
                if (r->kind == ENT_NAMESPACE) {
                    snprintf(p->group, sizeof(p->group), "%s", r->key);
                }
            }
        }
        long long now = wall_ms();
        prep += now_s() - p0;

        /* ---- timed: the writes ---- */
        double t0 = now_s();
        exec_sql("BEGIN IMMEDIATE");
        for (size_t i = 0; i < b.n_procs; i++) {
            const struct proc_event *pe = &b.procs[i];
            sqlite3_stmt *st = ST[S_PROC];
            unsigned char ikey[ALERT_IKEY_LEN];
            store_alerts_ikey(ikey, pe->ts_ms, pe->key);
            sqlite3_bind_blob(st, 1, ikey, ALERT_IKEY_LEN, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, pe->ts_ms);
            sqlite3_bind_text(st, 3, pe->cluster, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, pe->ns, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 5, pe->pod, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, pe->container_name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 7, pe->container_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 8, pe->image, -1, SQLITE_STATIC);
            bind_opt(st, 9, pe->pid);
            sqlite3_bind_text(st, 10, pe->process_name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 11, pe->cmdline ? pe->cmdline : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 12, pe->folder, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 13, pe->file, -1, SQLITE_STATIC);
            bind_opt(st, 14, pe->ppid);
            sqlite3_bind_text(st, 15, pe->parent_name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 16, pe->account, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 17, pe->drift ? 1 : 0);
            step(S_PROC, "inserting a process event");
        }
        for (size_t i = 0; i < b.n_alerts; i++) {
            const struct alert_in *a = &b.alerts[i];
            struct prepared *p = &pp[i];
            /* The incident: one per namespace group. */
            struct inc *ic = NULL;
            for (int j = 0; j < n_incs && ic == NULL; j++) {
                ic = strcmp(incs[j].group, p->group) == 0 ? &incs[j] : NULL;
            }
            if (ic == NULL) {
                if (n_incs == 64) {
                    fprintf(stderr, "ingest_raw: more than 64 groups\n");
                    return 1;
                }
                ic = &incs[n_incs++];
                memset(ic, 0, sizeof(*ic));
                snprintf(ic->group, sizeof(ic->group), "%s", p->group);
                ic->main_kind = -1;
                sqlite3_stmt *st = ST[S_INC_NEW];
                sqlite3_bind_text(st, 1, a->title, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 2, a->severity);
                sqlite3_bind_int64(st, 3, a->first_ms);
                sqlite3_bind_int64(st, 4, a->last_ms);
                sqlite3_bind_int64(st, 5, now);
                sqlite3_bind_int64(st, 6, now);
                step(S_INC_NEW, "creating an incident");
                ic->in.id = sqlite3_last_insert_rowid(H);
                ic->in.severity = a->severity;
                ic->in.first_ts = a->first_ms;
                ic->in.last_ts = a->last_ms;
                ic->in.created_at = now;
                char summary[ALERT_NAME_MAX + 40];
                snprintf(summary, sizeof(summary), "Created from alert \"%s\"", a->title);
                st = ST[S_HISTORY];
                sqlite3_bind_int64(st, 1, ic->in.id);
                sqlite3_bind_int64(st, 2, now);
                sqlite3_bind_text(st, 3, summary, -1, SQLITE_STATIC);
                step(S_HISTORY, "recording incident history");
            }
            long long ids[ALERT_MAX_ENTITIES];
            for (int e = 0; e < a->n_entities; e++) {
                const struct entity_ref *r = &a->entities[e];
                int found;
                long long *slot = smap_slot(&ents, r->key, &found);
                if (!found) {
                    sqlite3_stmt *st = ST[S_ENTITY];
                    sqlite3_bind_int(st, 1, r->kind);
                    sqlite3_bind_text(st, 2, r->key, -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 4, p->ecluster[e], -1, SQLITE_STATIC);
                    if (p->props[e] != NULL) {
                        sqlite3_bind_text(st, 5, p->props[e], -1, SQLITE_STATIC);
                    }
                    sqlite3_bind_int64(st, 6, a->last_ms);
                    step(S_ENTITY, "inserting an entity");
                    *slot = sqlite3_last_insert_rowid(H);
                } else {
                    /* last_seen moves once per batch, below. */
                    long long *seen = imap_slot(&touched, (uint64_t)*slot);
                    *seen = a->last_ms > *seen ? a->last_ms : *seen;
                }
                ids[e] = *slot;
            }
            sqlite3_stmt *st = ST[S_ALERT];
            sqlite3_bind_blob(st, 1, p->ikey, ALERT_IKEY_LEN, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, ic->in.id);
            sqlite3_bind_int(st, 3, a->provider);
            sqlite3_bind_text(st, 4, a->rule, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 5, a->title, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, a->description ? a->description : "", -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 7, a->severity);
            sqlite3_bind_int(st, 8, a->tactic);
            sqlite3_bind_text(st, 9, a->technique, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 10, a->first_ms);
            sqlite3_bind_int64(st, 11, a->last_ms);
            sqlite3_bind_text(st, 12, a->cluster, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 13, p->evidence ? p->evidence : "{}", -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 14, now);
            step(S_ALERT, "inserting an alert");
            long long alert_id = sqlite3_last_insert_rowid(H);
            for (int e = 0; e < a->n_entities; e++) {
                st = ST[S_LINK];
                sqlite3_bind_int64(st, 1, alert_id);
                sqlite3_bind_int64(st, 2, ids[e]);
                sqlite3_bind_int64(st, 3, a->first_ms);
                step(S_LINK, "linking an alert");
                /* incident_entities: once per pair and batch, like the server. */
                *imap_slot(&ie_delta, ((uint64_t)ic->in.id << 32) | (uint64_t)ids[e]) += 1;
            }
            for (size_t r = 0; r < EDGE_RULES; r++) {
                for (int e = 0; e < a->n_entities; e++) {
                    if ((int)a->entities[e].kind != edge_rules[r].from) {
                        continue;
                    }
                    for (int f = 0; f < a->n_entities; f++) {
                        if ((int)a->entities[f].kind == edge_rules[r].to && ids[e] != ids[f]) {
                            uint64_t key = (uint64_t)ids[e] << 34 | (uint64_t)ids[f] << 4 | r;
                            long long *ts = imap_slot(&edges, key);
                            *ts = a->last_ms > *ts ? a->last_ms : *ts;
                        }
                    }
                }
            }
            /* The aggregates, as add_to_incident() keeps them. */
            struct incident *in = &ic->in;
            if (in->alert_count == 0) {
                snprintf(ic->single, sizeof(ic->single), "%s", a->title);
            }
            in->alert_count++;
            in->severity = (int)a->severity > in->severity ? (int)a->severity : in->severity;
            if (a->tactic != TACTIC_NONE) {
                in->tactics |= 1u << a->tactic;
            }
            in->sources |= 1u << a->provider;
            in->first_ts = a->first_ms < in->first_ts ? a->first_ms : in->first_ts;
            in->last_ts = a->last_ms > in->last_ts ? a->last_ms : in->last_ts;
            for (int e = 0; e < a->n_entities; e++) {
                const struct entity_ref *r = &a->entities[e];
                long long *cnt = imap_slot(&pairs, ((uint64_t)in->id << 32) | (uint64_t)ids[e]);
                if (++*cnt == 1) {
                    in->entity_count++;
                    if (r->kind == ENT_CLUSTER) {
                        snprintf(in->clusters, sizeof(in->clusters), "[\"%.100s\"]", r->name);
                    }
                }
                int rk = svc_ingest_entity_rank(r->kind, r->name);
                int cur =
                    ic->main_kind < 0 ? -1 : svc_ingest_entity_rank(ic->main_kind, ic->main_name);
                if (ids[e] == in->main_entity) {
                    in->main_count = *cnt;
                } else if (rk > cur || (rk == cur && (*cnt > in->main_count ||
                                                      (*cnt == in->main_count &&
                                                       strcmp(r->key, ic->main_key) < 0)))) {
                    in->main_entity = ids[e];
                    in->main_count = *cnt;
                    ic->main_kind = r->kind;
                    snprintf(ic->main_key, sizeof(ic->main_key), "%s", r->key);
                    snprintf(ic->main_name, sizeof(ic->main_name), "%s", r->name);
                    snprintf(ic->main_cluster, sizeof(ic->main_cluster), "%s", p->ecluster[e]);
                }
            }
            ic->dirty = 1;
        }
        for (size_t j = 0; j < edges.cap; j++) {
            if (edges.keys[j] != 0) {
                uint64_t key = edges.keys[j];
                sqlite3_stmt *st = ST[S_EDGE];
                sqlite3_bind_int64(st, 1, (long long)(key >> 34));
                sqlite3_bind_int64(st, 2, (long long)(key >> 4 & 0x3fffffffull));
                sqlite3_bind_text(st, 3, edge_rules[key & 15].kind, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, edges.vals[j]);
                step(S_EDGE, "storing an edge");
                edges.keys[j] = 0;
                edges.vals[j] = 0;
            }
        }
        edges.n = 0;
        for (size_t j = 0; j < touched.cap; j++) {
            if (touched.keys[j] != 0) {
                sqlite3_stmt *st = ST[S_TOUCH];
                sqlite3_bind_int64(st, 1, (long long)touched.keys[j]);
                sqlite3_bind_int64(st, 2, touched.vals[j]);
                step(S_TOUCH, "touching an entity");
                touched.keys[j] = 0;
                touched.vals[j] = 0;
            }
        }
        touched.n = 0;
        for (size_t j = 0; j < ie_delta.cap; j++) {
            if (ie_delta.keys[j] != 0) {
                sqlite3_stmt *st = ST[S_INC_ENT];
                sqlite3_bind_int64(st, 1, (long long)(ie_delta.keys[j] >> 32));
                sqlite3_bind_int64(st, 2, (long long)(ie_delta.keys[j] & 0xffffffffu));
                sqlite3_bind_int64(st, 3, ie_delta.vals[j]);
                step(S_INC_ENT, "linking an incident entity");
                ie_delta.keys[j] = 0;
                ie_delta.vals[j] = 0;
            }
        }
        ie_delta.n = 0;
        for (int j = 0; j < n_incs; j++) {
            struct inc *ic = &incs[j];
            if (!ic->dirty) {
                continue;
            }
            ic->dirty = 0;
            struct incident *in = &ic->in;
            svc_incidents_title(in, ic->single, ic->main_kind, ic->main_name, ic->main_cluster);
            in->updated_at = now;
            sqlite3_stmt *st = ST[S_INC_SAVE];
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
            step(S_INC_SAVE, "updating an incident");
        }
        /* One audit entry per batch, chained like svc_audit_append(). */
        char details[256];
        snprintf(details, sizeof(details),
                 "{\"alerts_duplicate\":0,\"alerts_new\":%zu,\"alerts_suppressed\":0,"
                 "\"audit_events\":0,\"incidents_created\":0,\"incidents_merged\":0,"
                 "\"process_events\":%zu}",
                 b.n_alerts, b.n_procs);
        struct audit_row row = {
            .id = ++audit_id,
            .ts = now,
            .actor = "token:bench",
            .actor_kind = "token",
            .source_ip = "127.0.0.1",
            .action = "ingest.falco",
            .target = "ingest:falco",
            .outcome = "success",
            .details = details,
        };
        memcpy(row.prev_hash, audit_prev, sizeof(row.prev_hash));
        svc_audit_hash(&row, row.hash);
        sqlite3_stmt *st = ST[S_AUDIT];
        sqlite3_bind_int64(st, 1, row.id);
        sqlite3_bind_int64(st, 2, row.ts);
        sqlite3_bind_text(st, 3, row.actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, row.actor_kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, row.source_ip, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, row.action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, row.target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, row.outcome, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, row.details, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, row.prev_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, row.hash, -1, SQLITE_STATIC);
        step(S_AUDIT, "appending to the audit log");
        memcpy(audit_prev, row.hash, sizeof(audit_prev));
        double c0 = now_s();
        exec_sql("COMMIT");
        commit_s += now_s() - c0;
        timed += now_s() - t0;

        alerts_total += (long long)b.n_alerts;
        if ((long long)b.n_alerts != batch_alerts) {
            fprintf(stderr, "ingest_raw: batch %lld: %zu alerts, expected %lld\n", k, b.n_alerts,
                    batch_alerts);
            return 1;
        }
        for (size_t i = 0; i < b.n_alerts; i++) {
            free(pp[i].evidence);
            for (int e = 0; e < b.alerts[i].n_entities; e++) {
                free(pp[i].props[e]);
            }
        }
        ingest_batch_release(&b);
    }
    long long sent = n_batches * batch;
    printf("events=%lld alerts=%lld batches=%lld seconds=%.3f events_per_s=%.0f prep_s=%.2f\n",
           sent, alerts_total, n_batches, timed, (double)sent / timed, prep);
    /* Where the timed part went, per statement (stderr). */
    static const char *const names[S_N] = {
        [S_PROC] = "CloudProcessEvents insert",
        [S_ENTITY] = "entities insert",
        [S_TOUCH] = "entities last_seen update",
        [S_EDGE] = "edges upsert",
        [S_ALERT] = "alerts insert",
        [S_LINK] = "alert_entities insert",
        [S_INC_ENT] = "incident_entities upsert",
        [S_INC_NEW] = "incidents insert",
        [S_HISTORY] = "incident_history insert",
        [S_INC_SAVE] = "incidents update",
        [S_AUDIT] = "audit_log insert",
    };
    for (int i = 0; i < S_N; i++) {
        fprintf(stderr, "ingest_raw: %-26s %9lld x %6.2f us = %6.3f s (%4.1f%%)\n", names[i],
                ST_COUNT[i], ST_COUNT[i] ? ST_TIME[i] * 1e6 / (double)ST_COUNT[i] : 0.0, ST_TIME[i],
                100 * ST_TIME[i] / timed);
        sqlite3_finalize(ST[i]);
    }
    fprintf(stderr, "ingest_raw: %-26s %9lld x %6.2f us = %6.3f s (%4.1f%%)\n", "COMMIT", n_batches,
            commit_s * 1e6 / (double)n_batches, commit_s, 100 * commit_s / timed);
    db_free(db);
    free(pp);
    free(body.p);
    return 0;
}
