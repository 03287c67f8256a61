/* The incident graph (graph.c, graph_render.c, svc_graph.c): grouping and
 * its stability, the content hash, escaping of hostile labels, layouts of
 * empty, tiny and large graphs inside the viewBox, well-formed SVG, the
 * JSON shape, and the service on an in-memory database with its cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first. */
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "db.h"
#include "graph.h"
#include "migrate.h"
#include "svc_graph.h"
#include "svc_ingest.h"

/* ---- helpers ---- */

static struct graph_engine *engine(void)
{
    static struct graph_engine *e; /* one per test binary: gvContext() is slow */
    if (e == NULL) {
        assert_int_equal(graph_engine_new(&e, NULL), STK_OK);
    }
    return e;
}

static void node(struct graph_model *m, long long id, int kind, const char *key, int sev)
{
    const char *slash = strrchr(key, '/');
    const char *name = slash ? slash + 1 : strchr(key, ':') + 1;
    assert_int_equal(graph_model_add_node(m, id, kind, key, name, 0, 0, sev, 0), STK_OK);
}

static void edge(struct graph_model *m, long long a, long long b, const char *kind)
{
    assert_int_equal(graph_model_add_edge(m, a, b, kind), STK_OK);
}

/* A cluster, namespace "shop" with `pods` pods (each with its container,
 * all from one image in one registry, all talking to one IP), namespace
 * "ops" with one pod. Nodes are added in an order that depends on `seed`,
 * so tests can check that the order does not matter. Ids: cluster 1,
 * namespaces 2-3, image 4, registry 5, ip 6, ops pod 7, its container 8,
 * shop pods 100+i, containers 1000+i. */
static void shop(struct graph_model *m, int pods, unsigned seed)
{
    graph_model_init(m);
    int n = 8 + 2 * pods;
    int *order = malloc((size_t)n * sizeof(int));
    assert_non_null(order);
    for (int i = 0; i < n; i++) {
        order[i] = i;
    }
    for (int i = n - 1; seed != 0 && i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int)(seed % (unsigned)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    char key[64];
    for (int k = 0; k < n; k++) {
        int i = order[k];
        switch (i) {
        case 0:
            node(m, 1, ENT_CLUSTER, "cluster:c1", -1);
            break;
        case 1:
            node(m, 2, ENT_NAMESPACE, "namespace:c1/shop", -1);
            break;
        case 2:
            node(m, 3, ENT_NAMESPACE, "namespace:c1/ops", -1);
            break;
        case 3:
            node(m, 4, ENT_IMAGE, "image:reg.example/shop:1.0", -1);
            break;
        case 4:
            node(m, 5, ENT_REGISTRY, "registry:reg.example", -1);
            break;
        case 5:
            node(m, 6, ENT_IP, "ip:203.0.113.9", SEV_HIGH);
            break;
        case 6:
            node(m, 7, ENT_POD, "pod:c1/ops/toolbox", SEV_LOW);
            break;
        case 7:
            node(m, 8, ENT_CONTAINER, "container:c1/tb0", SEV_LOW);
            break;
        default:
            if (i - 8 < pods) {
                snprintf(key, sizeof(key), "pod:c1/shop/web-%03d", i - 8);
                node(m, 100 + (i - 8), ENT_POD, key, (i - 8) % 4);
            } else {
                snprintf(key, sizeof(key), "container:c1/c%03d", i - 8 - pods);
                node(m, 1000 + (i - 8 - pods), ENT_CONTAINER, key, SEV_MEDIUM);
            }
        }
    }
    free(order);
    edge(m, 2, 1, "in-cluster");
    edge(m, 3, 1, "in-cluster");
    edge(m, 4, 5, "hosted-in");
    edge(m, 7, 3, "in-namespace");
    edge(m, 8, 7, "runs-in");
    edge(m, 8, 4, "from-image");
    for (int i = pods - 1; i >= 0; i--) {
        edge(m, 100 + i, 2, "in-namespace");
        edge(m, 1000 + i, 100 + i, "runs-in");
        edge(m, 1000 + i, 4, "from-image");
        edge(m, 100 + i, 6, "talked-to");
    }
}

static const struct graph_node *find_node(const struct graph_model *m, long long id)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (m->nodes[i].id == id) {
            return &m->nodes[i];
        }
    }
    return NULL;
}

/* The node whose members include `id` (or that is `id`). */
static const struct graph_node *holder(const struct graph_model *m, long long id)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct graph_node *n = &m->nodes[i];
        if (n->id == id) {
            return n;
        }
        for (long long k = 0; n->members && k < n->count; k++) {
            if (n->members[k] == id) {
                return n;
            }
        }
    }
    return NULL;
}

static char *render(struct graph_model *m, size_t *len)
{
    char *svg = NULL;
    assert_int_equal(graph_layout(engine(), m, NULL), STK_OK);
    assert_int_equal(graph_render_svg(m, &svg, len, NULL), STK_OK);
    assert_non_null(svg);
    assert_int_equal(strlen(svg), *len);
    return svg;
}

/* A small XML well-formedness check for what graph_render_svg() writes:
 * balanced tags, quoted attributes without '<', known entities only, no
 * control characters but tab and newline, nothing outside the root. */
static int entity_ok(const char *p)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        if (strncmp(p, ents[i], strlen(ents[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

static void assert_well_formed(const char *s)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        assert_true(c >= 0x20 || c == '\n' || c == '\t');
        if (c == '&') {
            assert_true(entity_ok(p));
            p++;
            continue;
        }
        if (c == '>') {
            fail_msg("stray '>' in text at %.40s", p);
        }
        if (c != '<') {
            if (depth == 0) {
                assert_true(c == '\n');
            }
            p++;
            continue;
        }
        p++;
        int closing = *p == '/';
        p += closing;
        char name[32];
        size_t n = 0;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
            assert_true(n + 1 < sizeof(name));
            name[n++] = *p++;
        }
        name[n] = '\0';
        assert_true(n > 0);
        if (closing) {
            assert_int_equal(*p, '>');
            assert_true(depth > 0);
            assert_string_equal(stack[depth - 1], name);
            depth--;
            p++;
            continue;
        }
        for (;;) {
            while (*p == ' ') {
                p++;
            }
            if (*p == '>' || (p[0] == '/' && p[1] == '>')) {
                break;
            }
            while ((*p >= 'a' && *p <= 'z') || *p == '-' || *p == ':' || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9')) {
                p++;
            }
            assert_int_equal(*p, '=');
            assert_int_equal(p[1], '"');
            p += 2;
            while (*p != '"') {
                assert_true(*p != '\0' && *p != '<');
                assert_true((unsigned char)*p >= 0x20);
                if (*p == '&') {
                    assert_true(entity_ok(p));
                }
                p++;
            }
            p++;
        }
        if (*p == '/') {
            p += 2;
            roots += depth == 0;
            continue;
        }
        p++;
        roots += depth == 0;
        assert_true(depth < 64);
        snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
    }
    assert_int_equal(depth, 0);
    assert_int_equal(roots, 1);
}

/* ---- grouping ---- */

static void test_group_collapses_similar(void **state)
{
    (void)state;
    struct graph_model m, g;
    shop(&m, 12, 0);
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    /* 12 shop pods become one node, so do their 12 containers (each has
     * its own pod, but those pods are alike); the ops pod, which lives in
     * another namespace, and its container stay themselves. */
    const struct graph_node *pods = holder(&g, 100);
    assert_non_null(pods);
    assert_true(pods->id < 0);
    assert_int_equal(pods->count, 12);
    assert_string_equal(pods->name, "12 pods");
    assert_int_equal(pods->kind, ENT_POD);
    assert_int_equal(pods->severity, SEV_HIGH); /* the max of its members */
    for (int i = 0; i < 12; i++) {
        assert_ptr_equal(holder(&g, 100 + i), pods);
        assert_int_equal(pods->members[i], 100 + i); /* ascending */
    }
    const struct graph_node *ctrs = holder(&g, 1000);
    assert_int_equal(ctrs->count, 12);
    assert_string_equal(ctrs->name, "12 containers");
    assert_int_equal(holder(&g, 7)->id, 7);
    assert_int_equal(holder(&g, 8)->id, 8);
    /* 8 single entities + 2 groups; one edge per relation and group pair,
     * counting the entity edges it stands for. */
    assert_int_equal(g.n_nodes, 10);
    int seen = 0;
    for (size_t i = 0; i < g.n_edges; i++) {
        const struct graph_edge *e = &g.edges[i];
        if (e->from == ctrs->id && e->to == pods->id) {
            assert_string_equal(e->kind, "runs-in");
            assert_int_equal(e->count, 12);
            seen++;
        }
        if (e->from == pods->id && e->to == 6) {
            assert_string_equal(e->kind, "talked-to");
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    assert_int_equal(g.n_edges, 10);
    graph_model_release(&m);
    graph_model_release(&g);
}

static void test_group_is_stable(void **state)
{
    (void)state;
    /* The same graph given in different orders: same groups, same ids,
     * same hash, same SVG bytes. */
    char *first = NULL;
    size_t first_len = 0;
    unsigned char h0[GRAPH_HASH_BYTES];
    for (unsigned seed = 0; seed < 4; seed++) {
        struct graph_model m, g;
        shop(&m, 30, seed * 7919u);
        assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
        unsigned char h[GRAPH_HASH_BYTES];
        assert_int_equal(graph_model_hash(&g, h), STK_OK);
        size_t len = 0;
        char *svg = render(&g, &len);
        if (first == NULL) {
            first = svg;
            first_len = len;
            memcpy(h0, h, sizeof(h));
        } else {
            assert_memory_equal(h, h0, sizeof(h));
            assert_int_equal(len, first_len);
            assert_memory_equal(svg, first, len);
            free(svg);
        }
        /* Twice on the same model: same bytes. */
        size_t len2 = 0;
        char *again = render(&g, &len2);
        assert_int_equal(len2, first_len);
        assert_memory_equal(again, first, len2);
        free(again);
        graph_model_release(&m);
        graph_model_release(&g);
    }
    free(first);
}

static void test_group_keeps_different_apart(void **state)
{
    (void)state;
    struct graph_model m, g;
    shop(&m, 6, 0);
    /* Pod 103 also talked to another IP, pod 104 is critical: neither is
     * like the others any more, nor are their containers. */
    node(&m, 9, ENT_IP, "ip:198.51.100.7", -1);
    edge(&m, 103, 9, "talked-to");
    for (size_t i = 0; i < m.n_nodes; i++) {
        if (m.nodes[i].id == 104) {
            m.nodes[i].critical = 1;
        }
    }
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(holder(&g, 103)->id, 103);
    assert_int_equal(holder(&g, 104)->id, 104);
    assert_int_equal(holder(&g, 1003)->id, 1003);
    assert_int_equal(holder(&g, 1004)->id, 1004);
    assert_int_equal(holder(&g, 100)->count, 4);
    assert_int_equal(holder(&g, 1000)->count, 4);
    assert_true(find_node(&g, 104)->critical);
    graph_model_release(&m);
    graph_model_release(&g);

    /* The address every pod talked to is not like the addresses one pod
     * each talked to, though all are "talked to by a pod". */
    shop(&m, 5, 0);
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ip:198.51.100.%d", i);
        node(&m, 20 + i, ENT_IP, key, -1);
        edge(&m, 100 + i, 20 + i, "talked-to");
    }
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(holder(&g, 6)->id, 6);
    assert_int_equal(holder(&g, 20)->count, 5);
    assert_int_equal(holder(&g, 100)->count, 5);
    graph_model_release(&m);
    graph_model_release(&g);

    /* Entities with identical neighbour sets always share a group. */
    graph_model_init(&m);
    node(&m, 1, ENT_POD, "pod:c/n/p", -1);
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ip:10.0.0.%d", i);
        node(&m, 10 + i, ENT_IP, key, i == 2 ? SEV_MEDIUM : -1);
        edge(&m, 1, 10 + i, "talked-to");
    }
    node(&m, 20, ENT_IDENTITY, "identity:c/sa", -1); /* another kind: alone */
    edge(&m, 1, 20, "talked-to");
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(g.n_nodes, 3);
    assert_int_equal(holder(&g, 12)->count, 5);
    assert_string_equal(holder(&g, 12)->name, "5 IPs");
    assert_int_equal(holder(&g, 12)->severity, SEV_MEDIUM);
    assert_int_equal(holder(&g, 20)->id, 20);
    graph_model_release(&m);
    graph_model_release(&g);
}

static void test_group_empty_and_single(void **state)
{
    (void)state;
    struct graph_model m, g;
    graph_model_init(&m);
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(g.n_nodes, 0);
    graph_model_release(&g);
    node(&m, 5, ENT_POD, "pod:c/n/only", SEV_HIGH);
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(g.n_nodes, 1);
    assert_int_equal(g.nodes[0].id, 5);
    assert_null(g.nodes[0].members);
    graph_model_release(&m);
    graph_model_release(&g);
}

/* ---- the model and its hash ---- */

static void test_canonical_and_hash(void **state)
{
    (void)state;
    struct graph_model a, b;
    shop(&a, 5, 0);
    shop(&b, 5, 12345);
    /* Duplicate nodes and dangling edges disappear. */
    edge(&b, 100, 99999, "talked-to");
    node(&b, 1, ENT_CLUSTER, "cluster:c1", -1);
    unsigned char ha[GRAPH_HASH_BYTES], hb[GRAPH_HASH_BYTES];
    assert_int_equal(graph_model_hash(&a, ha), STK_OK);
    assert_int_equal(graph_model_hash(&b, hb), STK_OK);
    assert_int_equal(a.n_nodes, b.n_nodes);
    assert_int_equal(a.n_edges, b.n_edges);
    assert_memory_equal(ha, hb, sizeof(ha));
    /* A repeated edge is kept once and counted twice. */
    edge(&b, 100, 2, "in-namespace");
    assert_int_equal(graph_model_canonicalize(&b), STK_OK);
    assert_int_equal(a.n_edges, b.n_edges);
    for (size_t i = 0; i < b.n_edges; i++) {
        assert_int_equal(b.edges[i].count, b.edges[i].from == 100 && b.edges[i].to == 2 ? 2 : 1);
    }
    for (size_t i = 1; i < a.n_nodes; i++) {
        assert_true(a.nodes[i - 1].kind <= a.nodes[i].kind);
    }
    /* Any change of content changes the hash: a name, a severity, an
     * edge, a flag. */
    free(b.nodes[0].name);
    b.nodes[0].name = strdup("renamed");
    b.canonical = 0;
    assert_int_equal(graph_model_hash(&b, hb), STK_OK);
    assert_memory_not_equal(ha, hb, sizeof(ha));
    graph_model_release(&b);

    shop(&b, 5, 0);
    b.nodes[3].severity = SEV_HIGH == b.nodes[3].severity ? SEV_LOW : SEV_HIGH;
    b.canonical = 0;
    assert_int_equal(graph_model_hash(&b, hb), STK_OK);
    assert_memory_not_equal(ha, hb, sizeof(ha));
    graph_model_release(&b);

    shop(&b, 5, 0);
    edge(&b, 7, 6, "talked-to");
    assert_int_equal(graph_model_hash(&b, hb), STK_OK);
    assert_memory_not_equal(ha, hb, sizeof(ha));
    graph_model_release(&b);

    shop(&b, 5, 0);
    for (size_t i = 0; i < b.n_nodes; i++) {
        b.nodes[i].on_path = b.nodes[i].id == 4;
    }
    b.canonical = 0;
    assert_int_equal(graph_model_hash(&b, hb), STK_OK);
    assert_memory_not_equal(ha, hb, sizeof(ha));
    graph_model_release(&b);
    graph_model_release(&a);
}

static void test_model_errors(void **state)
{
    (void)state;
    struct graph_model m;
    graph_model_init(&m);
    assert_int_equal(graph_model_add_node(&m, 1, ENT_KIND_N, "x", "x", 0, 0, -1, 0), STK_EINVAL);
    assert_int_equal(graph_model_add_node(&m, 1, -1, "x", "x", 0, 0, -1, 0), STK_EINVAL);
    assert_int_equal(graph_model_add_node(&m, 1, ENT_POD, "x", "x", 0, 0, 4, 0), STK_EINVAL);
    assert_int_equal(m.n_nodes, 0);
    char key[32];
    for (int i = 0; i < GRAPH_MAX_ENTITIES + GRAPH_MAX_CONNECTORS; i++) {
        snprintf(key, sizeof(key), "ip:%d", i);
        assert_int_equal(graph_model_add_node(&m, i + 1, ENT_IP, key, key, 0, 0, -1, 0), STK_OK);
    }
    assert_int_equal(graph_model_add_node(&m, 0, ENT_IP, "ip:x", "x", 0, 0, -1, 0), STK_ETOOBIG);
    assert_int_equal(m.n_nodes, GRAPH_MAX_ENTITIES + GRAPH_MAX_CONNECTORS);
    /* Too many nodes to lay out. */
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(graph_layout(engine(), &m, &err), STK_ETOOBIG);
    assert_false(m.laid_out);
    assert_non_null(strstr(err.msg, "2500"));
    char *out = (char *)"untouched";
    size_t len = 7;
    assert_int_equal(graph_render_svg(&m, &out, &len, NULL), STK_EINVAL);
    assert_null(out);
    assert_int_equal(len, 0);
    out = (char *)"untouched";
    assert_int_equal(graph_render_json(&m, 0, &out, &len, NULL), STK_EINVAL);
    assert_null(out);
    graph_model_release(&m);
}

/* ---- escaping ---- */

static void check_escape(const char *in, size_t max, const char *want)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(graph_xml_escape(&b, in, max), STK_OK);
    assert_string_equal(b.data ? b.data : "", want);
    buf_release(&b);
}

static void test_escape(void **state)
{
    (void)state;
    check_escape("<script>alert('x')</script>", 0,
                 "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    check_escape("a&b\"c'd<e>f", 0, "a&amp;b&quot;c&#39;d&lt;e&gt;f");
    check_escape("&amp;", 0, "&amp;amp;");
    check_escape("a\x01\x02\x1b[31mb\tc\nd\re\x7f", 0, "a[31mb c d e");
    check_escape("bad \xff\xfe utf8 \xc0\xaf \xed\xa0\x80 cut \xe2\x82", 0,
                 "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd"
                 "\xef\xbf\xbd\xef\xbf\xbd cut \xef\xbf\xbd\xef\xbf\xbd");
    check_escape("non-char \xef\xbf\xbe", 0, "non-char \xef\xbf\xbd");
    check_escape("C1 \xc2\x85 gone, \xc3\xa9 stays", 0, "C1  gone, \xc3\xa9 stays");
    check_escape("", 0, "");
    check_escape(NULL, 0, "");

    /* Cut at 48 characters on a character boundary, the 48th an ellipsis. */
    char in[200], want[200];
    memset(in, 'x', 48);
    in[48] = '\0';
    check_escape(in, 48, in);
    memset(in, 'x', 49);
    in[49] = '\0';
    memset(want, 'x', 47);
    strcpy(want + 47, "\xe2\x80\xa6");
    check_escape(in, 48, want);
    char wide[256] = "", wide_want[256] = "";
    for (int i = 0; i < 60; i++) {
        strcat(wide, "\xc3\xa9");
        if (i < 47) {
            strcat(wide_want, "\xc3\xa9");
        }
    }
    strcat(wide_want, "\xe2\x80\xa6");
    check_escape(wide, 48, wide_want);
    /* Entities count as one character each. */
    memset(in, '&', 60);
    in[60] = '\0';
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(graph_xml_escape(&b, in, 48), STK_OK);
    assert_int_equal(b.len, 47 * 5 + 3);
    buf_release(&b);
    /* Dropped controls do not count. */
    check_escape("\x01\x01\x01xx", 2, "xx");
    /* 10,000 characters pass whole without a limit. */
    char *big = malloc(10001);
    assert_non_null(big);
    memset(big, 'A', 10000);
    big[10000] = '\0';
    buf_init(&b, 1 << 20);
    assert_int_equal(graph_xml_escape(&b, big, 0), STK_OK);
    assert_int_equal(b.len, 10000);
    buf_release(&b);
    free(big);
    assert_int_equal(graph_label_chars("\x01\x02"
                                       "ab\xc3\xa9"),
                     3);
}

static void test_svg_hostile_labels(void **state)
{
    (void)state;
    char *big = malloc(10001);
    assert_non_null(big);
    for (int i = 0; i < 10000; i++) {
        big[i] = "<&\"'>A"[i % 6];
    }
    big[10000] = '\0';
    const char *names[] = {"<script>alert(1)</script>",
                           "\"><img src=x onerror=alert(1)>",
                           "a & b",
                           "'single' \"double\"",
                           "ctl\x01\x02\x03\x1f\x7f end",
                           "]]><!-- -->",
                           "\xff\xfe broken",
                           big};
    struct graph_model m;
    graph_model_init(&m);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char key[32];
        snprintf(key, sizeof(key), "pod:c/n/%zu", i);
        assert_int_equal(graph_model_add_node(&m, (long long)i + 1, ENT_POD, key, names[i], i == 0,
                                              i == 1, (int)(i % 5) - 1, 0),
                         STK_OK);
        if (i > 0) {
            edge(&m, (long long)i, (long long)i + 1, i == 3 ? "<b>\"rel\"&'x'" : "talked-to");
        }
    }
    assert_int_equal(graph_model_add_node(&m, 50, ENT_IP, "ip:<x>", big, 0, 0, -1, 0), STK_OK);
    size_t len = 0;
    char *svg = render(&m, &len);
    assert_well_formed(svg);
    assert_null(strstr(svg, "<script"));
    assert_null(strstr(svg, "<img"));
    assert_null(strstr(svg, "<!--"));
    assert_null(strstr(svg, "]]>"));
    assert_null(strstr(svg, "style"));
    assert_non_null(strstr(svg, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(svg, "ctl end"));
    /* The edge kind is escaped as text and reduced to a safe class name. */
    assert_non_null(strstr(svg, "&lt;b&gt;&quot;rel&quot;&amp;&#39;x&#39;"));
    assert_non_null(strstr(svg, "class=\"edge rel--b--rel---x-\""));
    /* The full 10,000 characters are in <title>, escaped; the display label
     * is cut at 48 characters with an ellipsis. */
    struct buf want;
    buf_init(&want, 1 << 20);
    assert_int_equal(graph_xml_escape(&want, big, 0), STK_OK);
    assert_non_null(strstr(svg, want.data));
    buf_reset(&want);
    buf_append_str(&want, "<text class=\"label\"");
    assert_non_null(strstr(svg, want.data));
    buf_reset(&want);
    assert_int_equal(graph_xml_escape(&want, big, 48), STK_OK);
    buf_append_str(&want, "</text>");
    assert_non_null(strstr(svg, want.data));
    buf_release(&want);
    /* Classes, flags, icons, legend. */
    assert_non_null(strstr(svg, "class=\"node kind-pod dark critical\""));
    assert_non_null(strstr(svg, "class=\"node kind-pod dark sev-informational on-path\""));
    assert_non_null(strstr(svg, "class=\"node kind-ip light\""));
    assert_non_null(strstr(svg, "href=\"/static/icons/kind-pod.svg\""));
    assert_non_null(strstr(svg, "class=\"crown\""));
    assert_non_null(strstr(svg, "class=\"badge\""));
    assert_non_null(strstr(svg, "class=\"legend\""));
    assert_non_null(strstr(svg, "tabindex=\"0\" role=\"button\""));

    /* The JSON carries the same text, cleaned, and parses. */
    char *js = NULL;
    assert_int_equal(graph_render_json(&m, 0, &js, &len, NULL), STK_OK);
    json_error_t jerr;
    json_t *root = json_loads(js, 0, &jerr);
    assert_non_null(root);
    json_t *nodes = json_object_get(root, "nodes");
    assert_int_equal(json_array_size(nodes), m.n_nodes);
    int found = 0;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *n = json_array_get(nodes, i);
        const char *name = json_string_value(json_object_get(n, "name"));
        if (strcmp(name, "<script>alert(1)</script>") == 0) {
            found++;
            assert_true(json_is_true(json_object_get(n, "critical")));
        }
        if (strcmp(name, "ctl end") == 0) {
            found++;
        }
        if (strlen(name) == 10000) {
            found++;
            assert_int_equal(graph_label_chars(json_string_value(json_object_get(n, "label"))), 48);
        }
    }
    assert_int_equal(found, 4);
    json_decref(root);
    free(js);
    free(svg);
    free(big);
    graph_model_release(&m);
}

/* ---- layout ---- */

static void assert_inside(const struct graph_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct graph_node *n = &m->nodes[i];
        assert_true(n->w > 0 && n->h > 0);
        assert_true(n->x - n->w / 2 >= -0.5 && n->x + n->w / 2 <= m->width + 0.5);
        assert_true(n->y - n->h / 2 >= -0.5 && n->y + n->h / 2 <= m->height + 0.5);
    }
    for (size_t i = 0; i < m->n_edges; i++) {
        const struct graph_edge *e = &m->edges[i];
        assert_true(e->n_pts == 0 || (e->n_pts - 1) % 3 == 0);
        /* Control points may lie outside; the curve itself may not. */
        for (size_t k = 0; k + 3 < e->n_pts; k += 3) {
            const struct graph_point *p = &e->pts[k];
            for (int step = 0; step <= 8; step++) {
                double t = step / 8.0, u = 1 - t;
                double x = u * u * u * p[0].x + 3 * u * u * t * p[1].x + 3 * u * t * t * p[2].x +
                           t * t * t * p[3].x;
                double y = u * u * u * p[0].y + 3 * u * u * t * p[1].y + 3 * u * t * t * p[2].y +
                           t * t * t * p[3].y;
                assert_true(x >= -1 && x <= m->width + 1);
                assert_true(y >= -1 && y <= m->height + 1);
            }
        }
    }
}

/* The viewBox's width and height as rendered. */
static void viewbox(const char *svg, double *w, double *h)
{
    const char *v = strstr(svg, "viewBox=\"0 0 ");
    assert_non_null(v);
    assert_int_equal(sscanf(v + 13, "%lf %lf", w, h), 2);
}

static void test_layout_sizes(void **state)
{
    (void)state;
    struct graph_model m;
    size_t len = 0;
    double w, h;

    graph_model_init(&m);
    char *svg = render(&m, &len);
    assert_well_formed(svg);
    assert_non_null(strstr(svg, "No entities in this incident"));
    assert_non_null(strstr(svg, "class=\"legend\""));
    free(svg);
    graph_model_release(&m);

    graph_model_init(&m);
    node(&m, 42, ENT_CLOUD_RESOURCE, "cloud-resource:gcp/orders-db", SEV_HIGH);
    svg = render(&m, &len);
    assert_well_formed(svg);
    assert_inside(&m);
    viewbox(svg, &w, &h);
    assert_true(m.width <= w && m.height <= h);
    assert_non_null(strstr(svg, "data-id=\"42\""));
    assert_non_null(strstr(svg, "kind-cloud-resource light sev-high"));
    free(svg);
    graph_model_release(&m);

    /* 600 shop pods: 1,208 nodes, every one inside the viewBox; the edges
     * stop at the discs and carry arrows. */
    shop(&m, 600, 3);
    svg = render(&m, &len);
    assert_inside(&m);
    viewbox(svg, &w, &h);
    assert_true(m.width <= w && m.height <= h);
    assert_well_formed(svg);
    int arrows = 0;
    for (size_t i = 0; i < m.n_edges; i++) {
        arrows += m.edges[i].arrow;
    }
    assert_int_equal(arrows, (int)m.n_edges);
    free(svg);

    /* And grouped it is small. */
    struct graph_model g;
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(g.n_nodes, 10);
    svg = render(&g, &len);
    assert_inside(&g);
    assert_non_null(strstr(svg, "600 pods"));
    assert_non_null(strstr(svg, " group\""));
    free(svg);
    graph_model_release(&g);
    graph_model_release(&m);
}

static void test_json_shape(void **state)
{
    (void)state;
    struct graph_model m, g;
    shop(&m, 4, 0);
    assert_int_equal(graph_model_group(&m, &g, NULL), STK_OK);
    assert_int_equal(graph_layout(engine(), &g, NULL), STK_OK);
    char *js = NULL;
    size_t len = 0;
    assert_int_equal(graph_render_json(&g, 1, &js, &len, NULL), STK_OK);
    assert_int_equal(strlen(js), len);
    json_error_t jerr;
    json_t *root = json_loads(js, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(root);
    assert_true(json_is_true(json_object_get(root, "grouped")));
    assert_true(json_real_value(json_object_get(root, "width")) > 0);
    json_t *nodes = json_object_get(root, "nodes"), *edges = json_object_get(root, "edges");
    assert_int_equal(json_array_size(nodes), g.n_nodes);
    assert_int_equal(json_array_size(edges), g.n_edges);
    int groups = 0;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *n = json_array_get(nodes, i);
        const char *keys[] = {"id",      "kind",    "key",      "name",  "label",
                              "x",       "y",       "w",        "h",     "critical",
                              "on_path", "context", "severity", "count", "members"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            assert_non_null(json_object_get(n, keys[k]));
        }
        assert_int_equal(json_object_size(n), sizeof(keys) / sizeof(keys[0]));
        if (json_integer_value(json_object_get(n, "id")) < 0) {
            groups++;
            assert_int_equal(json_array_size(json_object_get(n, "members")),
                             json_integer_value(json_object_get(n, "count")));
        } else {
            assert_true(json_is_null(json_object_get(n, "members")));
        }
    }
    assert_int_equal(groups, 2);
    json_t *e = json_array_get(edges, 0);
    assert_true(json_array_size(json_object_get(e, "points")) >= 4);
    assert_int_equal(json_array_size(json_object_get(e, "arrow")), 2);
    assert_int_equal(json_array_size(json_object_get(e, "label_at")), 2);
    json_decref(root);
    free(js);
    graph_model_release(&m);
    graph_model_release(&g);
}

static void test_write_dot(void **state)
{
    (void)state;
    struct graph_model m;
    shop(&m, 3, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(graph_write_dot(&m, f, NULL), STK_OK);
    fclose(f);
    assert_non_null(strstr(text, "digraph incident"));
    assert_non_null(strstr(text, "rankdir=LR"));
    assert_non_null(strstr(text, "web-000"));
    free(text);
    graph_model_release(&m);
}

/* ---- the service ---- */

static const struct actor tester = {.name = "tester", .kind = "user", .ip = "127.0.0.1"};

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

/* Stores one alert at `t` naming "kind|key|name" entities. */
static void ingest(struct db *db, const char *id, long long t, int severity,
                   const char *const *ents)
{
    struct ingest_batch b;
    ingest_batch_init(&b);
    struct alert_in *a = ingest_batch_add_alert(&b);
    assert_non_null(a);
    const char *parts[] = {id};
    alert_key(a->key, parts, 1);
    a->provider = PROV_API;
    snprintf(a->rule, sizeof(a->rule), "test");
    snprintf(a->title, sizeof(a->title), "Alert %s", id);
    a->severity = severity;
    a->first_ms = a->last_ms = t;
    snprintf(a->cluster, sizeof(a->cluster), "c1");
    for (const char *const *e = ents; *e != NULL; e++) {
        char kind[32], key[256], name[256];
        assert_int_equal(sscanf(*e, "%31[^|]|%255[^|]|%255[^\n]", kind, key, name), 3);
        assert_non_null(alert_add_entity(a, alert_entity_kind_parse(kind), key, name));
    }
    struct ingest_settings s = {.window_ms = 24LL * 3600000, .ns_window_ms = 1800000};
    struct ingest_result res;
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(svc_ingest_store(db, &s, &b, &tester, "alerts", &res, &err), STK_OK);
    ingest_batch_release(&b);
}

static long long only_incident(struct db *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db_handle(db), "SELECT id FROM incidents WHERE status < 3",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long id = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    return id;
}

#define T0 1790000000000LL

static void test_svc_model_and_cache(void **state)
{
    struct db *db = *state;
    const char *a1[] = {"cluster|cluster:c1|c1",
                        "namespace|namespace:c1/shop|shop",
                        "pod|pod:c1/shop/web|web <b>&amp;</b>",
                        "container|container:c1/abc|nginx",
                        "ip|ip:203.0.113.9|203.0.113.9",
                        NULL};
    const char *a2[] = {"cluster|cluster:c1|c1", "pod|pod:c1/shop/web|web <b>&amp;</b>",
                        "identity|identity:c1/sa|sa", NULL};
    ingest(db, "a1", T0, SEV_LOW, a1);
    ingest(db, "a2", T0 + 1000, SEV_HIGH, a2);
    long long inc = only_incident(db);

    struct graph_model m;
    struct stk_error err;
    stk_error_clear(&err);
    assert_int_equal(svc_graph_model(db, inc, &m, &err), STK_OK);
    assert_int_equal(m.n_nodes, 6);
    int pods = 0;
    for (size_t i = 0; i < m.n_nodes; i++) {
        const struct graph_node *n = &m.nodes[i];
        if (n->kind == ENT_POD) {
            pods++;
            assert_string_equal(n->name, "web <b>&amp;</b>");
            assert_int_equal(n->severity, SEV_HIGH); /* the strongest alert naming it */
        }
        if (n->kind == ENT_CONTAINER || n->kind == ENT_IP) {
            assert_int_equal(n->severity, SEV_LOW);
        }
        assert_false(n->context);
    }
    assert_int_equal(pods, 1);
    /* runs-in, in-namespace, in-cluster, talked-to (the edges ingestion
     * writes for the entities an alert names together). */
    assert_true(m.n_edges >= 4);
    graph_model_release(&m);

    assert_int_equal(svc_graph_model(db, 999999, &m, &err), STK_ENOTFOUND);
    assert_int_equal(m.n_nodes, 0);

    struct graph_cache *c = NULL;
    assert_int_equal(svc_graph_cache_new(8, 1 << 24, &c, NULL), STK_OK);
    struct graph_query q = {.incident_id = inc, .grouped = 1, .format = GRAPH_FORMAT_SVG};
    struct graph_result r1, r2, r3;
    assert_int_equal(svc_graph_get(c, db, &q, &r1, &err), STK_OK);
    assert_non_null(r1.data);
    assert_well_formed(r1.data);
    size_t entries = 0, bytes = 0;
    svc_graph_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 2); /* the layout and the SVG rendered from it */
    assert_int_equal(svc_graph_get(c, db, &q, &r2, &err), STK_OK);
    assert_ptr_equal(r2.data, r1.data); /* served from the cache */
    assert_string_equal(r1.etag, r2.etag);
    /* The client holding it gets no document. */
    q.if_none_match = r1.etag;
    assert_int_equal(svc_graph_get(c, db, &q, &r3, &err), STK_OK);
    assert_true(r3.not_modified);
    assert_null(r3.data);
    svc_graph_result_release(&r3);
    /* JSON is rendered from the cached layout; ungrouped is a layout of
     * its own. */
    q.if_none_match = NULL;
    q.format = GRAPH_FORMAT_JSON;
    assert_int_equal(svc_graph_get(c, db, &q, &r3, &err), STK_OK);
    assert_string_not_equal(r3.etag, r1.etag);
    svc_graph_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 3);
    svc_graph_result_release(&r3);
    q.grouped = 0;
    assert_int_equal(svc_graph_get(c, db, &q, &r3, &err), STK_OK);
    svc_graph_result_release(&r3);
    svc_graph_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 5);

    /* A change of the incident gives a new hash, so a new document. */
    const char *a3[] = {"cluster|cluster:c1|c1", "pod|pod:c1/shop/web|web <b>&amp;</b>",
                        "ip|ip:198.51.100.1|198.51.100.1", NULL};
    ingest(db, "a3", T0 + 2000, SEV_MEDIUM, a3);
    q.grouped = 1;
    q.format = GRAPH_FORMAT_SVG;
    q.if_none_match = r1.etag;
    assert_int_equal(svc_graph_get(c, db, &q, &r3, &err), STK_OK);
    assert_false(r3.not_modified);
    assert_string_not_equal(r3.etag, r1.etag);
    assert_non_null(strstr(r3.data, "198.51.100.1"));
    svc_graph_result_release(&r3);
    /* Critical flag: also a change. */
    struct graph_result r4;
    sqlite3_exec(db_handle(db), "UPDATE entities SET critical = 1 WHERE kind = 3", NULL, NULL,
                 NULL);
    q.if_none_match = NULL;
    assert_int_equal(svc_graph_get(c, db, &q, &r4, &err), STK_OK);
    assert_non_null(strstr(r4.data, "class=\"crown\""));
    svc_graph_result_release(&r4);

    /* The bounds hold: 8 entries at most; the oldest went first. */
    svc_graph_cache_usage(c, &entries, &bytes);
    assert_true(entries <= 8);
    svc_graph_result_release(&r1);
    svc_graph_result_release(&r2);

    q.incident_id = 999999;
    assert_int_equal(svc_graph_get(c, db, &q, &r3, &err), STK_ENOTFOUND);
    assert_null(r3.doc);
    svc_graph_result_release(&r3);
    svc_graph_cache_clear(c);
    svc_graph_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 0);
    assert_int_equal(bytes, 0);
    svc_graph_cache_free(c);
}

static void test_svc_connectors(void **state)
{
    struct db *db = *state;
    /* Two pods of the incident run on node n1, which no alert of the
     * incident names: the inventory edge brings it in as context. */
    const char *a1[] = {"pod|pod:c1/a/p1|p1", "ip|ip:192.0.2.1|192.0.2.1", NULL};
    const char *a2[] = {"pod|pod:c1/a/p2|p2", "ip|ip:192.0.2.1|192.0.2.1", NULL};
    ingest(db, "b1", T0, SEV_LOW, a1);
    ingest(db, "b2", T0 + 1, SEV_LOW, a2);
    long long inc = only_incident(db);
    const char *sql =
        "INSERT INTO entities (kind, key, name, first_seen, last_seen) VALUES (2, 'node:c1/n1',"
        " 'n1', 0, 0);"
        "INSERT INTO edges (src, dst, kind, source, first_seen, last_seen) SELECT e.id, n.id,"
        " 'runs-on', 'inventory', 0, 0 FROM entities e, entities n WHERE e.kind = 3 AND"
        " n.key = 'node:c1/n1';";
    assert_int_equal(sqlite3_exec(db_handle(db), sql, NULL, NULL, NULL), SQLITE_OK);
    struct graph_model m;
    assert_int_equal(svc_graph_model(db, inc, &m, NULL), STK_OK);
    int context = 0, runs_on = 0;
    for (size_t i = 0; i < m.n_nodes; i++) {
        context += m.nodes[i].context;
        if (m.nodes[i].context) {
            assert_string_equal(m.nodes[i].key, "node:c1/n1");
            assert_int_equal(m.nodes[i].severity, -1);
        }
    }
    for (size_t i = 0; i < m.n_edges; i++) {
        runs_on += strcmp(m.edges[i].kind, "runs-on") == 0;
    }
    assert_int_equal(context, 1);
    assert_int_equal(runs_on, 2);
    graph_model_release(&m);
}

/* Two connections to one file, as two workers: what one writes, the
 * other's cached answer reflects at once. */
static void test_svc_other_connection(void **state)
{
    (void)state;
    char dir[] = "/tmp/stk-graph-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/g.db", dir);
    struct db *reader = NULL, *writer = NULL;
    assert_int_equal(db_open(path, &writer, NULL), STK_OK);
    assert_int_equal(migrate_apply(writer, migrate_builtin(), NULL, NULL, NULL), STK_OK);
    assert_int_equal(db_open(path, &reader, NULL), STK_OK);
    const char *a1[] = {"pod|pod:c1/x/p1|p1", "ip|ip:192.0.2.9|192.0.2.9", NULL};
    ingest(writer, "w1", T0, SEV_LOW, a1);
    long long inc = only_incident(writer);

    struct graph_cache *c = NULL;
    assert_int_equal(svc_graph_cache_new(16, 1 << 24, &c, NULL), STK_OK);
    struct graph_query q = {.incident_id = inc, .grouped = 0, .format = GRAPH_FORMAT_JSON};
    struct graph_result r1, r2, r3;
    assert_int_equal(svc_graph_get(c, reader, &q, &r1, NULL), STK_OK);
    assert_int_equal(svc_graph_get(c, reader, &q, &r2, NULL), STK_OK);
    assert_string_equal(r1.etag, r2.etag);
    assert_ptr_equal(r1.data, r2.data);
    /* A new alert through the other connection shows at once... */
    const char *a2[] = {"pod|pod:c1/x/p1|p1", "ip|ip:192.0.2.10|192.0.2.10", NULL};
    ingest(writer, "w2", T0 + 1, SEV_HIGH, a2);
    assert_int_equal(svc_graph_get(c, reader, &q, &r3, NULL), STK_OK);
    assert_string_not_equal(r3.etag, r1.etag);
    assert_non_null(strstr(r3.data, "192.0.2.10"));
    svc_graph_result_release(&r3);
    /* ...nor a change of a flag only. */
    assert_int_equal(svc_graph_get(c, reader, &q, &r3, NULL), STK_OK);
    char before[96];
    snprintf(before, sizeof(before), "%s", r3.etag);
    svc_graph_result_release(&r3);
    assert_int_equal(sqlite3_exec(db_handle(writer),
                                  "UPDATE entities SET critical = 1 WHERE key = 'ip:192.0.2.9'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(svc_graph_get(c, reader, &q, &r3, NULL), STK_OK);
    assert_string_not_equal(r3.etag, before);
    svc_graph_result_release(&r3);
    svc_graph_result_release(&r1);
    svc_graph_result_release(&r2);
    svc_graph_cache_free(c);
    db_free(reader);
    db_free(writer);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Stores alerts naming pod "hub" and addresses `from`..`to`-1, 15 each. */
static void ingest_star(struct db *db, int from, int to)
{
    for (int i = from; i < to; i += 15) {
        char ents[16][64];
        const char *list[17];
        int n = 0;
        snprintf(ents[n], sizeof(ents[n]), "pod|pod:c1/ns/hub|hub");
        list[n] = ents[n];
        n++;
        for (int k = i; k < to && k < i + 15; k++, n++) {
            snprintf(ents[n], sizeof(ents[n]), "ip|ip:10.%d.%d.%d|x", k / 65536, (k / 256) % 256,
                     k % 256);
            list[n] = ents[n];
        }
        list[n] = NULL;
        char id[32];
        snprintf(id, sizeof(id), "star-%d", i);
        ingest(db, id, T0 + i, SEV_LOW, list);
    }
}

static void test_svc_caps(void **state)
{
    struct db *db = *state;
    ingest_star(db, 0, GRAPH_LAYOUT_MAX_NODES + 100);
    long long inc = only_incident(db);
    struct graph_cache *c = NULL;
    assert_int_equal(svc_graph_cache_new(8, 1 << 26, &c, NULL), STK_OK);
    struct graph_query q = {.incident_id = inc, .grouped = 0, .format = GRAPH_FORMAT_SVG};
    struct graph_result r;
    struct stk_error err;
    stk_error_clear(&err);
    /* Too many nodes to draw one by one: grouped only. */
    assert_int_equal(svc_graph_get(c, db, &q, &r, &err), STK_ETOOBIG);
    assert_null(r.doc);
    assert_non_null(strstr(err.msg, "ask for grouped=1"));
    svc_graph_result_release(&r);
    q.grouped = 1;
    assert_int_equal(svc_graph_get(c, db, &q, &r, &err), STK_OK);
    assert_non_null(strstr(r.data, "2600 IPs"));
    svc_graph_result_release(&r);
    /* Past the entity cap: nothing. */
    ingest_star(db, GRAPH_LAYOUT_MAX_NODES + 100, GRAPH_MAX_ENTITIES);
    assert_int_equal(svc_graph_get(c, db, &q, &r, &err), STK_ETOOBIG);
    assert_non_null(strstr(err.msg, "more than 5000 entities"));
    svc_graph_result_release(&r);
    struct graph_model m;
    assert_int_equal(svc_graph_model(db, inc, &m, NULL), STK_ETOOBIG);
    assert_int_equal(m.n_nodes, 0);
    svc_graph_cache_free(c);
}

static void test_etag_matches(void **state)
{
    (void)state;
    const char *tag = "\"abc.g1.svg\"";
    assert_true(svc_graph_etag_matches("\"abc.g1.svg\"", tag));
    assert_true(svc_graph_etag_matches("W/\"abc.g1.svg\"", tag));
    assert_true(svc_graph_etag_matches("\"x\", \"abc.g1.svg\"", tag));
    assert_true(svc_graph_etag_matches("*", tag));
    assert_false(svc_graph_etag_matches(NULL, tag));
    assert_false(svc_graph_etag_matches("", tag));
    assert_false(svc_graph_etag_matches("\"abc.g0.svg\"", tag));
    assert_false(svc_graph_etag_matches("abc.g1.svg", tag));
    assert_false(svc_graph_etag_matches("\"abc.g1.svg", tag));
    assert_false(svc_graph_etag_matches(",,, ,", tag));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_collapses_similar),
        cmocka_unit_test(test_group_is_stable),
        cmocka_unit_test(test_group_keeps_different_apart),
        cmocka_unit_test(test_group_empty_and_single),
        cmocka_unit_test(test_canonical_and_hash),
        cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_svg_hostile_labels),
        cmocka_unit_test(test_layout_sizes),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_write_dot),
        cmocka_unit_test(test_etag_matches),
        cmocka_unit_test_setup_teardown(test_svc_model_and_cache, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_svc_connectors, setup_db, teardown_db),
        cmocka_unit_test(test_svc_other_connection),
        cmocka_unit_test_setup_teardown(test_svc_caps, setup_db, teardown_db),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    graph_engine_free(engine());
    return rc;
}
