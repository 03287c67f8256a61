/* server/svc_paths.c: the attack path search on in-memory graphs (edge
 * kinds, cycles, the hop bound, the per-entry bound, dense graphs), and on
 * an in-memory database through the inventory: the demo's path with its
 * risk factors and remediation, path ids kept across recomputations, paths
 * removed when their target loses its crown, and incremental recomputation
 * giving exactly what a full recomputation gives over many random
 * changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "db.h"
#include "migrate.h"
#include "svc_inventory.h"
#include "svc_paths.h"

static const struct actor tester = {.name = "tester", .kind = "user", .ip = "127.0.0.1"};
static const struct paths_settings defaults = {.max_hops = 6, .max_per_entry = PATHS_PER_ENTRY};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static struct pgraph *graph(void)
{
    struct pgraph *g = NULL;
    assert_int_equal(svc_paths_graph_new(NULL, &g, NULL), STK_OK);
    return g;
}

static void edge(struct pgraph *g, long long a, long long b, const char *kind)
{
    assert_int_equal(svc_paths_graph_add_edge(g, a, b, kind, NULL), STK_OK);
}

static void crown(struct pgraph *g, long long id)
{
    assert_int_equal(svc_paths_graph_set_critical(g, id, 1, NULL), STK_OK);
}

static size_t search(struct pgraph *g, long long entry, int hops, int per_entry,
                     struct path_hit **hits)
{
    struct paths_settings s = {.max_hops = hops, .max_per_entry = per_entry};
    size_t n = 0;
    assert_int_equal(svc_paths_search(g, entry, &s, hits, &n, NULL), STK_OK);
    return n;
}

/* ---- the search ---- */

static void chain_follows_traversal_kinds_only(void **state)
{
    (void)state;
    struct pgraph *g = graph();
    edge(g, 1, 2, "uses-identity");
    edge(g, 2, 3, "member-of");
    edge(g, 3, 4, "can-access");
    edge(g, 1, 5, "runs-on"); /* not walked */
    edge(g, 1, 6, "talked-to");
    crown(g, 4);
    crown(g, 5);
    crown(g, 6);
    struct path_hit *hits;
    size_t n = search(g, 1, 6, 20, &hits);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].n, 4);
    const long long ids[] = {1, 2, 3, 4};
    const char *kinds[] = {"uses-identity", "member-of", "can-access"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(hits[0].ids[i], ids[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(hits[0].kinds[i], kinds[i]);
    }
    svc_paths_hits_free(hits, n);
    assert_true(svc_paths_is_traversal("can-access"));
    assert_false(svc_paths_is_traversal("routes-to"));
    svc_paths_graph_free(g);
}

static void cycles_end_where_they_started(void **state)
{
    (void)state;
    struct pgraph *g = graph();
    edge(g, 1, 2, "uses-identity");
    edge(g, 2, 3, "can-access");
    edge(g, 3, 1, "can-access");
    edge(g, 3, 3, "member-of");
    edge(g, 2, 1, "member-of");
    edge(g, 3, 4, "can-access");
    crown(g, 4);
    crown(g, 1); /* the entry itself is never its own target */
    struct path_hit *hits;
    size_t n = search(g, 1, 16, 20, &hits);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].n, 4);
    assert_int_equal(hits[0].ids[3], 4);
    svc_paths_hits_free(hits, n);

    /* Searching from inside the cycle reaches the crowned entry point too. */
    n = search(g, 2, 16, 20, &hits);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].ids[1], 1); /* nearest first: 2 -> 1 */
    assert_int_equal(hits[1].n, 3);      /* 2 -> 3 -> 4 */
    svc_paths_hits_free(hits, n);
    svc_paths_graph_free(g);
}

static void hop_bound(void **state)
{
    (void)state;
    struct pgraph *g = graph();
    for (long long i = 1; i < 10; i++) {
        edge(g, i, i + 1, "can-access");
    }
    crown(g, 8); /* seven edges from 1 */
    struct path_hit *hits;
    assert_int_equal(search(g, 1, 6, 20, &hits), 0);
    svc_paths_hits_free(hits, 0);
    size_t n = search(g, 1, 7, 20, &hits);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].n, 8);
    svc_paths_hits_free(hits, n);
    n = search(g, 2, 6, 20, &hits);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].n, 7);
    svc_paths_hits_free(hits, n);
    svc_paths_graph_free(g);
}

static void count_bound_keeps_the_nearest(void **state)
{
    (void)state;
    struct pgraph *g = graph();
    edge(g, 1, 100, "uses-identity");
    edge(g, 100, 101, "can-access");
    crown(g, 101);
    for (long long t = 2; t < 52; t++) {
        edge(g, 1, t, "can-access");
        crown(g, t);
    }
    struct path_hit *hits;
    size_t n = search(g, 1, 6, 20, &hits);
    assert_int_equal(n, 20);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(hits[i].n, 2);
    }
    svc_paths_hits_free(hits, n);
    n = search(g, 1, 6, 5, &hits);
    assert_int_equal(n, 5);
    svc_paths_hits_free(hits, n);
    n = search(g, 1, 6, 60, &hits);
    assert_int_equal(n, 51);
    assert_int_equal(hits[50].n, 3); /* the far one last */
    svc_paths_hits_free(hits, n);
    svc_paths_graph_free(g);
}

/* 200 entities, each linked to every other: far more simple paths than
 * could ever be listed, but each search visits every entity once. */
static void dense_graph_is_fast_and_bounded(void **state)
{
    (void)state;
    const long long N = 200;
    struct pgraph *g = graph();
    for (long long a = 1; a <= N; a++) {
        for (long long b = 1; b <= N; b++) {
            if (a != b) {
                edge(g, a, b, a % 3 == 0 ? "member-of" : "can-access");
            }
        }
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct path_hit *hits;
    /* No target: every search walks the whole graph and finds nothing. */
    for (long long e = 1; e <= N; e++) {
        assert_int_equal(search(g, e, 6, 20, &hits), 0);
        svc_paths_hits_free(hits, 0);
    }
    /* One target: one path, the direct edge. */
    crown(g, N);
    for (long long e = 1; e < N; e++) {
        size_t n = search(g, e, 6, 20, &hits);
        assert_int_equal(n, 1);
        assert_int_equal(hits[0].n, 2);
        svc_paths_hits_free(hits, n);
    }
    /* Every entity crowned: the bound holds. */
    for (long long t = 1; t <= N; t++) {
        crown(g, t);
    }
    size_t total = 0;
    for (long long e = 1; e <= N; e++) {
        size_t n = search(g, e, 6, 20, &hits);
        assert_int_equal(n, 20);
        total += n;
        svc_paths_hits_free(hits, n);
    }
    assert_int_equal(total, 20 * N);
    double took = seconds_since(&t0);
    /* 600 searches over 39,800 edges: a fraction of a second even under
     * the sanitizers; minutes if the search enumerated simple paths. */
    assert_true(took < 10.0);
    svc_paths_graph_free(g);
}

/* ---- on a database, through the inventory ---- */

static int setup_db(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db, NULL), STK_OK);
    assert_int_equal(migrate_apply(db, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    *state = db;
    return 0;
}

static int teardown_db(void **state)
{
    db_free(*state);
    return 0;
}

static void post(struct db *db, const char *body, struct inventory_result *res)
{
    struct inventory_batch b;
    struct ingest_reject rej;
    struct stk_error err;
    stk_error_clear(&err);
    if (svc_inventory_parse(body, strlen(body), "", &b, &rej) != STK_OK) {
        fail_msg("parse: %s", rej.reason);
    }
    struct inventory_result local;
    enum stk_err rc =
        svc_inventory_apply(db, &defaults, &b, &tester, res ? res : &local, &rej, &err);
    if (rc != STK_OK) {
        fail_msg("apply: %s %s", rej.reason, err.msg);
    }
    svc_inventory_batch_release(&b);
}

/* Takes `doc` (an inventory object) and posts it. */
static void post_json(struct db *db, json_t *doc)
{
    assert_non_null(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    post(db, text, NULL);
    free(text);
    json_decref(doc);
}

static void trivy(struct db *db, const char *image, const char *digest, int critical, int high)
{
    json_t *vulns = json_array();
    for (int i = 0; i < critical + high; i++) {
        char id[32];
        snprintf(id, sizeof(id), "CVE-2024-%04d", i);
        json_array_append_new(vulns,
                              json_pack("{s:s, s:s, s:s}", "VulnerabilityID", id, "PkgName", "pkg",
                                        "Severity", i < critical ? "CRITICAL" : "HIGH"));
    }
    json_t *doc = json_pack("{s:i, s:s, s:{s:[s], s:[s+]}, s:[{s:s, s:o}]}", "SchemaVersion", 2,
                            "ArtifactName", image, "Metadata", "RepoTags", image, "RepoDigests",
                            "repo@", digest, "Results", "Target", "t", "Vulnerabilities", vulns);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct trivy_report r;
    struct ingest_reject rej;
    assert_int_equal(ingest_trivy_parse(text, strlen(text), &r, &rej), STK_OK);
    free(text);
    struct trivy_result res;
    struct stk_error err;
    stk_error_clear(&err);
    if (svc_inventory_trivy(db, &defaults, &r, NULL, &tester, &res, &err) != STK_OK) {
        fail_msg("trivy: %s", err.msg);
    }
    ingest_trivy_release(&r);
}

static long long entity_id(struct db *db, const char *key)
{
    long long id = 0;
    assert_int_equal(svc_paths_entity_id(db, key, &id, NULL), STK_OK);
    return id;
}

static struct path_page all_paths(struct db *db)
{
    struct path_filter f = {.limit = 100000};
    struct path_page page;
    assert_int_equal(svc_paths_list(db, &f, &page, NULL), STK_OK);
    return page;
}

static const char demo_inventory[] =
    "{\"entities\":["
    "{\"kind\":\"service\",\"key\":\"service:c/shop/web\",\"name\":\"shop/web\","
    "\"properties\":{\"type\":\"LoadBalancer\"}},"
    "{\"kind\":\"pod\",\"key\":\"pod:c/shop/web-1\"},"
    "{\"kind\":\"image\",\"key\":\"image:reg.example/web:1\",\"name\":\"reg.example/web:1\"},"
    "{\"kind\":\"identity\",\"key\":\"identity:mi-web\",\"properties\":{\"type\":\"managed "
    "identity\"}},"
    "{\"kind\":\"cloud-resource\",\"key\":\"cloud-resource:azure/sa/orders\",\"name\":\"orders\","
    "\"properties\":{\"type\":\"Storage account\"},\"critical\":true}],"
    "\"edges\":["
    "{\"from\":\"service:c/shop/web\",\"to\":\"internet:\",\"kind\":\"exposed-to-internet\"},"
    "{\"from\":\"service:c/shop/web\",\"to\":\"pod:c/shop/web-1\",\"kind\":\"routes-to\"},"
    "{\"from\":\"pod:c/shop/web-1\",\"to\":\"image:reg.example/web:1\",\"kind\":\"from-image\"},"
    "{\"from\":\"pod:c/shop/web-1\",\"to\":\"identity:mi-web\",\"kind\":\"uses-identity\"},"
    "{\"from\":\"identity:mi-web\",\"to\":\"cloud-resource:azure/sa/orders\",\"kind\":"
    "\"can-access\",\"properties\":{\"role\":\"Storage Blob Data Contributor\"}}]}";

static void demo_path_risk_factors_and_remediation(void **state)
{
    struct db *db = *state;
    post(db, demo_inventory, NULL);
    struct path_page page = all_paths(db);
    assert_int_equal(page.count, 1);
    struct attack_path *p = &page.rows[0];
    assert_int_equal(p->risk, RISK_HIGH); /* exposed, no scan yet */
    assert_int_equal(p->hops, 2);
    assert_int_equal(p->entry, entity_id(db, "pod:c/shop/web-1"));
    assert_int_equal(p->target, entity_id(db, "cloud-resource:azure/sa/orders"));
    long long first_id = p->id;
    svc_paths_page_release(&page);

    trivy(db, "reg.example/web:1", "sha256:aaaa", 0, 3);
    page = all_paths(db);
    assert_int_equal(page.count, 1);
    p = &page.rows[0];
    assert_int_equal(p->id, first_id); /* same path, recomputed in place */
    assert_int_equal(p->risk, RISK_CRITICAL);
    assert_string_equal(p->title, "Internet-exposed pod web-1 with high-severity vulnerabilities "
                                  "can reach Storage account orders");
    json_error_t jerr;
    json_t *steps = json_loads(p->steps, 0, &jerr);
    assert_int_equal(json_array_size(steps), 3);
    char *s0 = json_dumps(json_array_get(steps, 0), 0);
    assert_non_null(strstr(s0, "Exposed to the internet through service shop/web"));
    assert_non_null(strstr(s0, "Runs images with 3 high-severity vulnerabilities (CVE-2024-0000"));
    assert_non_null(strstr(s0, "Remove the public IP / put the service behind an ingress with "
                               "authentication"));
    assert_non_null(strstr(s0, "Patch the image: 0 critical, 3 high vulnerabilities (CVE-"));
    char *s2 = json_dumps(json_array_get(steps, 2), 0);
    assert_non_null(strstr(s2, "mi-web can access orders (role Storage Blob Data Contributor)"));
    assert_non_null(strstr(s2, "Scope the managed identity's role assignment to the resources it "
                               "needs"));
    assert_non_null(strstr(s2, "\"critical-asset\""));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(steps, 1), "edge"), "kind")),
                        "uses-identity");
    free(s0);
    free(s2);
    json_decref(steps);
    svc_paths_page_release(&page);

    /* Every entity of the path is a member (the graph's badge). */
    struct path_filter f = {.member = entity_id(db, "identity:mi-web"), .limit = 10};
    assert_int_equal(svc_paths_list(db, &f, &page, NULL), STK_OK);
    assert_int_equal(page.count, 1);
    svc_paths_page_release(&page);
    f.member = entity_id(db, "service:c/shop/web");
    assert_int_equal(svc_paths_list(db, &f, &page, NULL), STK_OK);
    assert_int_equal(page.count, 0); /* exposure, not a step */
    svc_paths_page_release(&page);

    /* Posting the same inventory again changes nothing. */
    struct inventory_result res;
    post(db, demo_inventory, &res);
    assert_int_equal(res.entities_created + res.entities_changed, 0);
    assert_int_equal(res.edges_created + res.edges_changed, 0);
    assert_int_equal(res.paths.entities_checked, 0);
    page = all_paths(db);
    assert_int_equal(page.count, 1);
    assert_int_equal(page.rows[0].id, first_id);
    svc_paths_page_release(&page);
}

static void crown_removed_path_removed(void **state)
{
    struct db *db = *state;
    post(db, demo_inventory, NULL);
    struct path_page page = all_paths(db);
    assert_int_equal(page.count, 1);
    svc_paths_page_release(&page);
    struct entity e;
    long long target = entity_id(db, "cloud-resource:azure/sa/orders");
    assert_int_equal(svc_inventory_set_critical(db, &defaults, &tester, target, 0, &e, NULL),
                     STK_OK);
    store_entity_release(&e);
    page = all_paths(db);
    assert_int_equal(page.count, 0);
    svc_paths_page_release(&page);
    post(db,
         "{\"entities\":[{\"kind\":\"cloud-resource\",\"key\":\"cloud-resource:azure/sa/orders\","
         "\"critical\":true}]}",
         NULL);
    page = all_paths(db);
    assert_int_equal(page.count, 1);
    svc_paths_page_release(&page);
    /* The exposure goes (the service's properties say so, the edge stays)
     * only when the edge is gone; a vulnerable image keeps it an entry. */
    trivy(db, "reg.example/web:1", "sha256:bbbb", 2, 0);
    page = all_paths(db);
    assert_int_equal(page.count, 1);
    assert_int_equal(page.rows[0].risk, RISK_CRITICAL);
    svc_paths_page_release(&page);
    /* A clean rebuild of the same tag: the tag moves to the new digest. */
    trivy(db, "reg.example/web:1", "sha256:cccc", 0, 0);
    page = all_paths(db);
    assert_int_equal(page.count, 1);
    assert_int_equal(page.rows[0].risk, RISK_HIGH);
    svc_paths_page_release(&page);
}

/* ---- incremental == full ---- */

struct snap {
    char **rows;
    size_t n;
};

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every stored path as text, sorted, without its computation time. */
static struct snap snapshot(struct db *db)
{
    struct path_page page = all_paths(db);
    struct snap s = {.rows = calloc(page.count + 1, sizeof(char *)), .n = page.count};
    assert_non_null(s.rows);
    for (size_t i = 0; i < page.count; i++) {
        const struct attack_path *p = &page.rows[i];
        char key[2 * PATH_KEY_LEN + 1];
        for (int k = 0; k < PATH_KEY_LEN; k++) {
            snprintf(key + 2 * k, 3, "%02x", p->key[k]);
        }
        size_t len = strlen(p->steps) + strlen(p->title) + 200;
        s.rows[i] = malloc(len);
        assert_non_null(s.rows[i]);
        snprintf(s.rows[i], len, "%s %lld %lld %lld %d %d %d %s %s", key, p->id, p->entry,
                 p->target, p->risk, p->score, p->hops, p->title, p->steps);
    }
    qsort(s.rows, s.n, sizeof(char *), by_text);
    svc_paths_page_release(&page);
    return s;
}

static void snap_free(struct snap *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rows[i]);
    }
    free(s->rows);
}

static unsigned rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

#define R_PODS 12
#define R_CONTAINERS 6
#define R_SERVICES 4
#define R_IDS 14
#define R_RES 10
#define R_IMAGES 4

static void rkey(char *out, size_t n, int kind, int i)
{
    static const char *const prefix[] = {"pod:r/ns/p",  "container:r/c",       "service:r/ns/s",
                                         "identity:id", "cloud-resource:res/", "image:img"};
    snprintf(out, n, "%s%d%s", prefix[kind], i, kind == 5 ? ":1" : "");
}

static int kind_count(int kind)
{
    static const int n[] = {R_PODS, R_CONTAINERS, R_SERVICES, R_IDS, R_RES, R_IMAGES};
    return n[kind];
}

static const char *kind_name(int kind)
{
    static const char *const names[] = {"pod",      "container",      "service",
                                        "identity", "cloud-resource", "image"};
    return names[kind];
}

/* Every entity of the random scenario, once. */
static json_t *all_entities(void)
{
    json_t *ents = json_array();
    char a[64];
    for (int k = 0; k < 6; k++) {
        for (int i = 0; i < kind_count(k); i++) {
            rkey(a, sizeof(a), k, i);
            json_array_append_new(ents, json_pack("{s:s, s:s}", "kind", kind_name(k), "key", a));
        }
    }
    return json_pack("{s:o}", "entities", ents);
}

/* One small random change: a few edges, now and then a crown or a
 * property, so that the incremental rule has something to get wrong. */
static json_t *random_batch(unsigned *seed)
{
    json_t *ents = json_array(), *edges = json_array();
    char a[64], b[64];
    if (rnd(seed) % 3 == 0) {
        int k = rnd(seed) % 2 ? 4 : 3;
        rkey(a, sizeof(a), k, (int)(rnd(seed) % (unsigned)kind_count(k)));
        json_t *e = json_pack("{s:s, s:s}", "kind", kind_name(k), "key", a);
        if (rnd(seed) % 2) {
            json_object_set_new(e, "critical", json_boolean(rnd(seed) % 3 != 0));
        } else {
            json_object_set_new(
                e, "properties",
                json_pack("{s:s}", "type", rnd(seed) % 2 ? "managed identity" : "service account"));
        }
        json_array_append_new(ents, e);
    }
    static const struct {
        int from, to;
        const char *kind;
    } shapes[] = {
        {0, 3, "uses-identity"}, {3, 3, "member-of"},     {3, 3, "can-access"},
        {3, 4, "can-access"},    {0, 4, "can-access"},    {3, 0, "can-access"},
        {2, 0, "routes-to"},     {0, 5, "from-image"},    {1, 5, "from-image"},
        {1, 0, "runs-in"},       {4, 3, "uses-identity"},
    };
    int n_edges = 1 + (int)(rnd(seed) % 3);
    for (int j = 0; j < n_edges; j++) {
        int s = (int)(rnd(seed) % (sizeof(shapes) / sizeof(shapes[0])));
        rkey(a, sizeof(a), shapes[s].from, (int)(rnd(seed) % (unsigned)kind_count(shapes[s].from)));
        rkey(b, sizeof(b), shapes[s].to, (int)(rnd(seed) % (unsigned)kind_count(shapes[s].to)));
        if (strcmp(a, b) != 0) {
            json_array_append_new(edges, json_pack("{s:s, s:s, s:s, s:{s:i}}", "from", a, "to", b,
                                                   "kind", shapes[s].kind, "properties", "w",
                                                   (int)(rnd(seed) % 2)));
        }
    }
    if (rnd(seed) % 6 == 0) {
        rkey(a, sizeof(a), rnd(seed) % 2 ? 2 : 0, (int)(rnd(seed) % 4));
        json_array_append_new(edges, json_pack("{s:s, s:s, s:s}", "from", a, "to",
                                               "internet:", "kind", "exposed-to-internet"));
    }
    return json_pack("{s:o, s:o}", "entities", ents, "edges", edges);
}

static void assert_same(const struct snap *x, const struct snap *y, int round)
{
    if (x->n != y->n) {
        fail_msg("round %d: %zu paths incrementally, %zu from scratch", round, x->n, y->n);
    }
    for (size_t i = 0; i < x->n; i++) {
        if (strcmp(x->rows[i], y->rows[i]) != 0) {
            fail_msg("round %d, path %zu:\nincremental: %.600s\nfull:        %.600s", round, i,
                     x->rows[i], y->rows[i]);
        }
    }
}

static void incremental_equals_full(void **state)
{
    struct db *db = *state;
    unsigned seed = 20261122u;
    size_t most = 0;
    long checked = 0, rounds = 0;
    post_json(db, all_entities());
    for (int round = 0; round < 300; round++) {
        int what = (int)(rnd(&seed) % 10);
        char key[64];
        if (what < 7) {
            post_json(db, random_batch(&seed));
        } else if (what < 9) {
            int img = (int)(rnd(&seed) % R_IMAGES);
            char name[32], digest[32];
            snprintf(name, sizeof(name), "img%d:1", img);
            snprintf(digest, sizeof(digest), "sha256:%04x", rnd(&seed) % 3);
            trivy(db, name, digest, (int)(rnd(&seed) % 2), (int)(rnd(&seed) % 3));
        } else {
            rkey(key, sizeof(key), 4, (int)(rnd(&seed) % R_RES));
            long long id = 0;
            if (svc_paths_entity_id(db, key, &id, NULL) == STK_OK) {
                struct entity e;
                assert_int_equal(svc_inventory_set_critical(db, &defaults, &tester, id,
                                                            (int)(rnd(&seed) % 2), &e, NULL),
                                 STK_OK);
                store_entity_release(&e);
            }
        }
        struct snap inc = snapshot(db);
        struct paths_stats st;
        assert_int_equal(db_begin(db, NULL), STK_OK);
        assert_int_equal(svc_paths_recompute_all(db, &defaults, 1, &st, NULL), STK_OK);
        assert_int_equal(db_commit(db, NULL), STK_OK);
        struct snap full = snapshot(db);
        assert_same(&inc, &full, round);
        most = inc.n > most ? inc.n : most;
        snap_free(&inc);
        snap_free(&full);
        checked += st.entry_points;
        rounds++;
    }
    /* The scenario must produce paths to compare, and long ones. */
    assert_true(most >= 20);
    assert_true(checked / rounds >= 3);
}

/* The same through the database: a fully linked graph of exposed pods
 * that are all critical stays bounded per entry point. */
static void dense_inventory_is_bounded(void **state)
{
    struct db *db = *state;
    const int N = 60;
    json_t *ents = json_array(), *edges = json_array();
    char a[32], b[32];
    for (int i = 0; i < N; i++) {
        snprintf(a, sizeof(a), "pod:d/ns/p%d", i);
        json_array_append_new(ents,
                              json_pack("{s:s, s:s, s:b}", "kind", "pod", "key", a, "critical", 1));
        json_array_append_new(edges, json_pack("{s:s, s:s, s:s}", "from", a, "to",
                                               "internet:", "kind", "exposed-to-internet"));
        for (int j = 0; j < N; j++) {
            snprintf(b, sizeof(b), "pod:d/ns/p%d", j);
            if (i != j) {
                json_array_append_new(
                    edges, json_pack("{s:s, s:s, s:s}", "from", a, "to", b, "kind", "can-access"));
            }
        }
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    post_json(db, json_pack("{s:o, s:o}", "entities", ents, "edges", edges));
    struct path_page page = all_paths(db);
    assert_int_equal(page.count, (size_t)N * PATHS_PER_ENTRY);
    for (size_t i = 0; i < page.count; i++) {
        assert_int_equal(page.rows[i].hops, 1);
    }
    svc_paths_page_release(&page);
    assert_true(seconds_since(&t0) < 60.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_follows_traversal_kinds_only),
        cmocka_unit_test(cycles_end_where_they_started),
        cmocka_unit_test(hop_bound),
        cmocka_unit_test(count_bound_keeps_the_nearest),
        cmocka_unit_test(dense_graph_is_fast_and_bounded),
        cmocka_unit_test_setup_teardown(demo_path_risk_factors_and_remediation, setup_db,
                                        teardown_db),
        cmocka_unit_test_setup_teardown(crown_removed_path_removed, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(incremental_equals_full, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(dense_inventory_is_bounded, setup_db, teardown_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
