/* graph_bench: the incident graph's render times, for bench/graph.sh.
 *
 *   graph_bench OUT_DIR [RUNS]
 *
 * Seeds OUT_DIR/graph-bench.db (new each run) through the ingestion
 * service, svc_ingest_store(), with one incident per size in SIZES, of
 * exactly that many entities, shaped like real ones: a cluster, its
 * namespaces and nodes, pods each with its container, images from two
 * registries, service accounts, the attacker's address every pod talked
 * to (it is what correlates the alerts into one incident) and a few other
 * addresses. Each pod's alert names ten or so of these (at most 16, the
 * ingestion limit), so the edges are the ones ingestion writes.
 *
 * Then, for each incident, through svc_graph_get() (the API's service
 * call: model from SQLite, hash, cache, group, layout, render):
 *   - cold: the cache cleared before each call, ungrouped and grouped SVG;
 *   - cached: the same call when the cache holds the document, and when
 *     it does but something was written to the database since (any write
 *     makes the service read the incident's model again to know its hash);
 * the median of RUNS (default 5) cold calls and of 200 cached ones, the
 * parts of an ungrouped cold call (model from SQLite, dot layout, SVG) and
 * the JSON rendering a later request makes from the cached layout, and
 * the model as a DOT file OUT_DIR/graph-N.dot for `dot -Tsvg`.
 *
 * Prints one tab-separated line per size on stdout:
 *   entities edges grouped_nodes cold_ms cold_grouped_ms cached_ms
 *   cached_grouped_ms cached_after_write_ms model_ms layout_ms svg_ms json_ms
 *   svg_bytes
 * and progress on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "db.h"
#include "graph.h"
#include "migrate.h"
#include "svc_graph.h"
#include "svc_ingest.h"

static const int SIZES[] = {20, 100, 300, 1000, 2000};
#define N_SIZES (sizeof(SIZES) / sizeof(SIZES[0]))
#define CACHED_CALLS 200
#define T0 1790000000000LL /* 2026-09-21 */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const struct stk_error *err)
{
    fprintf(stderr, "graph_bench: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void add(struct alert_in *a, int kind, const char *key, const char *name)
{
    if (alert_add_entity(a, kind, key, name) == NULL) {
        fprintf(stderr, "graph_bench: alert full at %s\n", key);
        exit(1);
    }
}

/* The incident of `n` entities in cluster "bN", stored through svc_ingest. */
static void seed(struct db *db, int n)
{
    int ns = n / 60 > 0 ? n / 60 : 1, nodes = n / 80 > 0 ? n / 80 : 1, regs = 2;
    int images = n / 40 > 2 ? n / 40 : 2, ids = n / 100 > 0 ? n / 100 : 1;
    int fixed = 1 + ns + nodes + regs + images + 1 + ids;
    int rest = n - fixed, pods = rest * 45 / 100, ips = rest - 2 * pods;
    char c[32];
    snprintf(c, sizeof(c), "b%d", n);
    struct ingest_batch b;
    ingest_batch_init(&b);
    char key[ALERT_KEY_MAX], name[ALERT_NAME_MAX];
    for (int i = 0; i < pods; i++) {
        struct alert_in *a = ingest_batch_add_alert(&b);
        if (a == NULL) {
            die("batch", NULL);
        }
        char id[64];
        snprintf(id, sizeof(id), "graph-bench-%s-%d", c, i);
        const char *parts[] = {id};
        alert_key(a->key, parts, 1);
        a->provider = PROV_FALCO;
        snprintf(a->rule, sizeof(a->rule), "Terminal shell in container");
        snprintf(a->title, sizeof(a->title), "Shell in pod %d", i);
        a->severity = i % 4;
        a->tactic = TACTIC_EXECUTION;
        a->first_ms = a->last_ms = T0 + i * 1000LL;
        snprintf(a->cluster, sizeof(a->cluster), "%s", c);
        snprintf(key, sizeof(key), "cluster:%s", c);
        add(a, ENT_CLUSTER, key, c);
        snprintf(key, sizeof(key), "namespace:%s/team-%d", c, i % ns);
        add(a, ENT_NAMESPACE, key, NULL);
        snprintf(key, sizeof(key), "node:%s/aks-pool-%d", c, i % nodes);
        add(a, ENT_NODE, key, NULL);
        snprintf(key, sizeof(key), "pod:%s/team-%d/web-%d-7f9c6d8b5", c, i % ns, i);
        add(a, ENT_POD, key, NULL);
        snprintf(key, sizeof(key), "container:%s/%08x%08x", c, (unsigned)i * 2654435761u,
                 (unsigned)i);
        snprintf(name, sizeof(name), "app-%d", i);
        add(a, ENT_CONTAINER, key, name);
        int img = i % images;
        snprintf(name, sizeof(name), "registry-%d.example.com/%s/app-%d:1.%d", img % regs, c, img,
                 img);
        snprintf(key, sizeof(key), "image:%s", name);
        add(a, ENT_IMAGE, key, name);
        snprintf(key, sizeof(key), "registry:registry-%d.%s.example.com", img % regs, c);
        add(a, ENT_REGISTRY, key, NULL);
        /* Every name is the incident's own: sizes do not correlate. */
        snprintf(key, sizeof(key), "ip:198.18.%d.%d", n / 256, n % 256);
        add(a, ENT_IP, key, key + 3);
        snprintf(key, sizeof(key), "identity:%s/system:serviceaccount:shared:sa-%d", c, i % ids);
        snprintf(name, sizeof(name), "sa-%d", i % ids);
        add(a, ENT_IDENTITY, key, name);
        for (int k = i; k < ips; k += pods) {
            snprintf(key, sizeof(key), "ip:10.%d.%d.%d", n / 100, k / 250, k % 250);
            add(a, ENT_IP, key, key + 3);
        }
    }
    struct ingest_settings s = {.window_ms = 24 * 3600000LL, .ns_window_ms = 1800000LL};
    struct actor by = {.name = "graph-bench", .kind = "token", .ip = "127.0.0.1"};
    struct ingest_result res;
    struct stk_error err;
    stk_error_clear(&err);
    if (svc_ingest_store(db, &s, &b, &by, "alerts", &res, &err) != STK_OK) {
        die("ingest", &err);
    }
    ingest_batch_release(&b);
}

/* The incident holding the entity "cluster:bN" (the one seed(n) made). */
static long long incident_of(struct db *db, int n)
{
    sqlite3_stmt *st = NULL;
    char key[64];
    snprintf(key, sizeof(key), "cluster:b%d", n);
    if (sqlite3_prepare_v2(db_handle(db),
                           "SELECT ie.incident_id, i.entity_count FROM incident_entities ie"
                           " JOIN entities e ON e.id = ie.entity_id"
                           " JOIN incidents i ON i.id = ie.incident_id WHERE e.key = ?1"
                           " AND i.status < 3",
                           -1, &st, NULL) != SQLITE_OK) {
        die("query", NULL);
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    long long id = -1, count = 0;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        count = sqlite3_column_int64(st, 1);
        rows++;
    }
    sqlite3_finalize(st);
    if (rows != 1 || count != n) {
        fprintf(stderr, "graph_bench: size %d: %d incidents, %lld entities\n", n, rows, count);
        exit(1);
    }
    return id;
}

static double timed_get(struct graph_cache *c, struct db *db, long long id, int grouped, int clear,
                        size_t *bytes)
{
    struct graph_query q = {.incident_id = id, .grouped = grouped, .format = GRAPH_FORMAT_SVG};
    struct graph_result r;
    struct stk_error err;
    stk_error_clear(&err);
    if (clear) {
        svc_graph_cache_clear(c);
    }
    double t = now_ms();
    if (svc_graph_get(c, db, &q, &r, &err) != STK_OK) {
        die("svc_graph_get", &err);
    }
    t = now_ms() - t;
    if (bytes != NULL) {
        *bytes = r.len;
    }
    svc_graph_result_release(&r);
    return t;
}

/* The parts of an ungrouped cold call, measured one by one. */
static void parts(struct db *db, struct graph_engine *eng, long long id, double *model_ms,
                  double *layout_ms, double *svg_ms, double *json_ms)
{
    struct graph_model m;
    struct stk_error err;
    stk_error_clear(&err);
    double t = now_ms();
    if (svc_graph_model(db, id, &m, &err) != STK_OK) {
        die("model", &err);
    }
    *model_ms = now_ms() - t;
    t = now_ms();
    if (graph_layout(eng, &m, &err) != STK_OK) {
        die("layout", &err);
    }
    *layout_ms = now_ms() - t;
    char *svg = NULL;
    size_t len = 0;
    t = now_ms();
    if (graph_render_svg(&m, &svg, &len, &err) != STK_OK) {
        die("render", &err);
    }
    *svg_ms = now_ms() - t;
    free(svg);
    t = now_ms();
    if (graph_render_json(&m, 0, &svg, &len, &err) != STK_OK) {
        die("render", &err);
    }
    *json_ms = now_ms() - t;
    free(svg);
    graph_model_release(&m);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: graph_bench OUT_DIR [RUNS]\n");
        return 2;
    }
    const char *dir = argv[1];
    int runs = argc == 3 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100) {
        fprintf(stderr, "graph_bench: RUNS must be 1..100\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/graph-bench.db", dir);
    static const char *const stale[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s%s", path, stale[i]);
        unlink(p);
    }
    struct db *db = NULL;
    struct stk_error err;
    stk_error_clear(&err);
    if (db_open(path, &db, &err) != STK_OK ||
        migrate_apply(db, migrate_builtin(), NULL, NULL, &err) != STK_OK) {
        die("database", &err);
    }
    if (sqlite3_exec(db_handle(db), "CREATE TEMP TABLE bench_writes (x)", NULL, NULL, NULL) !=
        SQLITE_OK) {
        die("temp table", NULL);
    }
    long long ids[N_SIZES];
    for (size_t i = 0; i < N_SIZES; i++) {
        fprintf(stderr, "[graph] seeding an incident of %d entities\n", SIZES[i]);
        seed(db, SIZES[i]);
        ids[i] = incident_of(db, SIZES[i]);
    }
    struct graph_cache *cache = NULL;
    struct graph_engine *eng = NULL;
    if (svc_graph_cache_new(SVC_GRAPH_CACHE_ENTRIES, SVC_GRAPH_CACHE_BYTES, &cache, &err) !=
            STK_OK ||
        graph_engine_new(&eng, &err) != STK_OK) {
        die("graph cache", &err);
    }
    /* Warm up: Graphviz's plugin, SQLite's statements and page cache. */
    timed_get(cache, db, ids[0], 0, 1, NULL);
    timed_get(cache, db, ids[0], 1, 1, NULL);

    for (size_t i = 0; i < N_SIZES; i++) {
        int n = SIZES[i];
        long long id = ids[i];
        struct graph_model m, g;
        if (svc_graph_model(db, id, &m, &err) != STK_OK ||
            graph_model_group(&m, &g, &err) != STK_OK) {
            die("model", &err);
        }
        snprintf(path, sizeof(path), "%s/graph-%d.dot", dir, n);
        FILE *f = fopen(path, "w");
        if (f == NULL || graph_write_dot(&m, f, &err) != STK_OK || fclose(f) != 0) {
            die(path, &err);
        }
        fprintf(stderr, "[graph] %d entities: %zu edges, %zu nodes grouped\n", n, m.n_edges,
                g.n_nodes);
        double cold[100], cold_g[100], hot[CACHED_CALLS], hot_g[CACHED_CALLS];
        double warm[CACHED_CALLS];
        double pm[100], pl[100], ps[100], pj[100];
        size_t bytes = 0;
        for (int r = 0; r < runs; r++) {
            cold[r] = timed_get(cache, db, id, 0, 1, &bytes);
            cold_g[r] = timed_get(cache, db, id, 1, 1, NULL);
            parts(db, eng, id, &pm[r], &pl[r], &ps[r], &pj[r]);
        }
        timed_get(cache, db, id, 0, 0, NULL);
        timed_get(cache, db, id, 1, 0, NULL);
        for (int r = 0; r < CACHED_CALLS; r++) {
            hot[r] = timed_get(cache, db, id, 0, 0, NULL);
            hot_g[r] = timed_get(cache, db, id, 1, 0, NULL);
        }
        for (int r = 0; r < CACHED_CALLS; r++) {
            if (sqlite3_exec(db_handle(db), "INSERT INTO bench_writes VALUES (1)", NULL, NULL,
                             NULL) != SQLITE_OK) {
                die("write", NULL);
            }
            warm[r] = timed_get(cache, db, id, 1, 0, NULL);
        }
        printf("%d\t%zu\t%zu\t%.1f\t%.1f\t%.3f\t%.3f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t%zu\n", n,
               m.n_edges, g.n_nodes, median(cold, runs), median(cold_g, runs),
               median(hot, CACHED_CALLS), median(hot_g, CACHED_CALLS), median(warm, CACHED_CALLS),
               median(pm, runs), median(pl, runs), median(ps, runs), median(pj, runs), bytes);
        fflush(stdout);
        graph_model_release(&m);
        graph_model_release(&g);
    }
    graph_engine_free(eng);
    svc_graph_cache_free(cache);
    db_free(db);
    return 0;
}
