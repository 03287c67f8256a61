#include "graph.h"

#include <dlfcn.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"

/* Bumped whenever the layout or the rendering changes, so that a new
 * server never answers 304 for bytes an old one produced. */
#define GRAPH_RENDER_VERSION "stockade-graph-3"

/* Geometry in SVG units (= Graphviz points); graph_render.c draws in the
 * boxes sized here. */
#define CLIP_R 25.0 /* edges stop at this distance from a node's centre */
#define NODE_H 78.0 /* disc, ring, crown above, label below */
#define CHAR_W 6.2  /* average glyph width at 11px, for sizing boxes */
#define PAD 16.0
#define GRAPH_LAYOUT_STACK (64u << 20) /* reserved, touched only as deep as dot goes */
#define REFINE_MAX 100 /* grouping rounds; the partition is usually stable in < 10 */

static const char *const plural[ENT_KIND_N] = {
    [ENT_CLUSTER] = "clusters",
    [ENT_NAMESPACE] = "namespaces",
    [ENT_NODE] = "nodes",
    [ENT_POD] = "pods",
    [ENT_CONTAINER] = "containers",
    [ENT_DEPLOYMENT] = "deployments",
    [ENT_SERVICE] = "services",
    [ENT_IMAGE] = "images",
    [ENT_REGISTRY] = "registries",
    [ENT_IDENTITY] = "identities",
    [ENT_IP] = "IPs",
    [ENT_CLOUD_RESOURCE] = "cloud resources",
};

const char *graph_kind_plural(int kind)
{
    return kind >= 0 && kind < ENT_KIND_N ? plural[kind] : "entities";
}

/* ---- the model ---- */

/* qsort() that accepts an empty (NULL) array, which qsort itself may not
 * be given. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) {
        qsort(base, n, size, cmp);
    }
}

void graph_model_init(struct graph_model *m)
{
    memset(m, 0, sizeof(*m));
}

void graph_model_release(struct graph_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        free(m->nodes[i].key);
        free(m->nodes[i].name);
        free(m->nodes[i].members);
    }
    for (size_t i = 0; i < m->n_edges; i++) {
        free(m->edges[i].pts);
    }
    free(m->nodes);
    free(m->edges);
    graph_model_init(m);
}

static enum stk_err grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return STK_OK;
    }
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * elem);
    if (p == NULL) {
        return STK_ENOMEM;
    }
    *arr = p;
    *cap = c;
    return STK_OK;
}

/* Appends a node taking over `key`, `name` and `members` (freed on failure). */
static enum stk_err add_node_take(struct graph_model *m, const struct graph_node *tmpl)
{
    enum stk_err rc = STK_OK;
    if (m->n_nodes >= GRAPH_MAX_ENTITIES + GRAPH_MAX_CONNECTORS) {
        rc = STK_ETOOBIG;
    } else if (tmpl->key == NULL || tmpl->name == NULL) {
        rc = STK_ENOMEM;
    } else {
        rc = grow((void **)&m->nodes, &m->cap_nodes, m->n_nodes, sizeof(*m->nodes));
    }
    if (rc != STK_OK) {
        free(tmpl->key);
        free(tmpl->name);
        free(tmpl->members);
        return rc;
    }
    m->nodes[m->n_nodes++] = *tmpl;
    m->canonical = 0;
    m->laid_out = 0;
    return STK_OK;
}

enum stk_err graph_model_add_node(struct graph_model *m, long long id, int kind, const char *key,
                                  const char *name, int critical, int on_path, int severity,
                                  int context)
{
    if (kind < 0 || kind >= ENT_KIND_N || severity < -1 || severity >= SEV_N) {
        return STK_EINVAL;
    }
    struct graph_node n = {.id = id,
                           .kind = kind,
                           .key = strdup(key ? key : ""),
                           .name = strdup(name ? name : ""),
                           .critical = !!critical,
                           .on_path = !!on_path,
                           .context = !!context,
                           .severity = severity,
                           .count = 1};
    return add_node_take(m, &n);
}

enum stk_err graph_model_add_edge(struct graph_model *m, long long from, long long to,
                                  const char *kind)
{
    if (m->n_edges >= GRAPH_MAX_EDGES) {
        return STK_ETOOBIG;
    }
    if (grow((void **)&m->edges, &m->cap_edges, m->n_edges, sizeof(*m->edges)) != STK_OK) {
        return STK_ENOMEM;
    }
    struct graph_edge *e = &m->edges[m->n_edges++];
    memset(e, 0, sizeof(*e));
    e->from = from;
    e->to = to;
    e->count = 1;
    snprintf(e->kind, sizeof(e->kind), "%s", kind ? kind : "");
    m->canonical = 0;
    m->laid_out = 0;
    return STK_OK;
}

static int node_cmp(const void *pa, const void *pb)
{
    const struct graph_node *a = pa, *b = pb;
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    int c = strcmp(a->key, b->key);
    return c != 0 ? c : (a->id < b->id ? -1 : a->id > b->id);
}

static int edge_cmp(const void *pa, const void *pb)
{
    const struct graph_edge *a = pa, *b = pb;
    if (a->from != b->from) {
        return a->from < b->from ? -1 : 1;
    }
    if (a->to != b->to) {
        return a->to < b->to ? -1 : 1;
    }
    return strcmp(a->kind, b->kind);
}

/* Node ids in ascending order with their index, for lookups. */
struct id_slot {
    long long id;
    size_t idx;
};

static int slot_cmp(const void *pa, const void *pb)
{
    const struct id_slot *a = pa, *b = pb;
    if (a->id != b->id) {
        return a->id < b->id ? -1 : 1;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int slot_id_cmp(const void *pa, const void *pb)
{
    const struct id_slot *a = pa, *b = pb;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Sorted (id, index) pairs of `m`'s nodes. Caller frees. */
static struct id_slot *id_index(const struct graph_model *m)
{
    struct id_slot *s = malloc((m->n_nodes ? m->n_nodes : 1) * sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        s[i] = (struct id_slot){m->nodes[i].id, i};
    }
    sort(s, m->n_nodes, sizeof(*s), slot_cmp);
    return s;
}

/* The index of node `id`, or -1. */
static long find_id(const struct id_slot *s, size_t n, long long id)
{
    struct id_slot key = {id, 0};
    const struct id_slot *hit = bsearch(&key, s, n, sizeof(*s), slot_id_cmp);
    return hit ? (long)hit->idx : -1;
}

enum stk_err graph_model_canonicalize(struct graph_model *m)
{
    if (m->canonical) {
        return STK_OK;
    }
    sort(m->nodes, m->n_nodes, sizeof(*m->nodes), node_cmp);
    struct id_slot *ids = id_index(m);
    if (ids == NULL) {
        return STK_ENOMEM;
    }
    /* A node id given twice is kept once: the first in canonical order. */
    for (size_t i = 1; i < m->n_nodes; i++) {
        if (ids[i].id == ids[i - 1].id) {
            struct graph_node *d = &m->nodes[ids[i].idx];
            free(d->key);
            free(d->name);
            free(d->members);
            d->key = NULL;
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (m->nodes[i].key != NULL) {
            m->nodes[w++] = m->nodes[i];
        }
    }
    m->n_nodes = w;
    free(ids);
    ids = id_index(m);
    if (ids == NULL) {
        return STK_ENOMEM;
    }
    w = 0;
    for (size_t i = 0; i < m->n_edges; i++) {
        struct graph_edge *e = &m->edges[i];
        if (find_id(ids, m->n_nodes, e->from) < 0 || find_id(ids, m->n_nodes, e->to) < 0) {
            free(e->pts);
            continue;
        }
        m->edges[w++] = *e;
    }
    m->n_edges = w;
    free(ids);
    sort(m->edges, m->n_edges, sizeof(*m->edges), edge_cmp);
    w = 0;
    for (size_t i = 0; i < m->n_edges; i++) {
        if (w > 0 && edge_cmp(&m->edges[w - 1], &m->edges[i]) == 0) {
            m->edges[w - 1].count += m->edges[i].count;
            free(m->edges[i].pts);
            continue;
        }
        m->edges[w++] = m->edges[i];
    }
    m->n_edges = w;
    m->canonical = 1;
    return STK_OK;
}

/* ---- grouping ---- */

/* One neighbour as seen from a node: relation, direction, neighbour. */
struct adj {
    uint32_t kind; /* index into the sorted relation names */
    uint32_t dir;  /* 0: out, 1: in */
    size_t nbr;
};

struct refine {
    size_t n;
    const struct graph_node *nodes;
    size_t *adj_start; /* n + 1 offsets into adj and sig */
    struct adj *adj;
    size_t *block; /* the current partition */
    size_t *next;  /* the next one */
    uint64_t *sig; /* per node: (kind, dir, neighbour's block, one or several) packed, sorted */
    size_t *sig_len;
    size_t *order;
};

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Orders nodes by (block, signature); 0 when they belong together. */
static int class_cmp(const struct refine *r, size_t a, size_t b)
{
    if (r->block[a] != r->block[b]) {
        return r->block[a] < r->block[b] ? -1 : 1;
    }
    size_t la = r->sig_len[a], lb = r->sig_len[b];
    const uint64_t *sa = r->sig + r->adj_start[a], *sb = r->sig + r->adj_start[b];
    for (size_t i = 0; i < la && i < lb; i++) {
        if (sa[i] != sb[i]) {
            return sa[i] < sb[i] ? -1 : 1;
        }
    }
    return la < lb ? -1 : la > lb;
}

static int by_class(const void *pa, const void *pb, void *ctx)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = class_cmp(ctx, a, b);
    return c != 0 ? c : (a < b ? -1 : a > b); /* ties keep canonical order */
}

/* The starting partition: kind and the flags a group must share. */
static int by_flags(const void *pa, const void *pb, void *ctx)
{
    const struct graph_node *n = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const struct graph_node *x = &n[a], *y = &n[b];
    int c = x->kind != y->kind           ? x->kind - y->kind
            : x->critical != y->critical ? x->critical - y->critical
            : x->on_path != y->on_path   ? x->on_path - y->on_path
            : x->context != y->context   ? x->context - y->context
                                         : 0;
    return c != 0 ? c : (a < b ? -1 : a > b);
}

static int same_flags(const struct graph_node *x, const struct graph_node *y)
{
    return x->kind == y->kind && x->critical == y->critical && x->on_path == y->on_path &&
           x->context == y->context;
}

/* One refinement round into r->next; returns the number of blocks. */
static size_t refine_round(struct refine *r)
{
    const uint64_t count_bits = (1u << 20) - 1;
    for (size_t i = 0; i < r->n; i++) {
        size_t s = r->adj_start[i], e = r->adj_start[i + 1];
        for (size_t k = s; k < e; k++) {
            const struct adj *a = &r->adj[k];
            r->sig[k] = ((uint64_t)a->kind << 48) | ((uint64_t)a->dir << 47) |
                        ((uint64_t)r->block[a->nbr] << 20);
        }
        sort(r->sig + s, e - s, sizeof(uint64_t), u64_cmp);
        /* One or several neighbours in each (relation, direction, group):
         * the address every pod talked to is not like an address one pod
         * talked to, but a namespace of 3 pods is like one of 5 (exact
         * counts would leave almost every entity of a real incident alone). */
        size_t len = 0;
        for (size_t k = s; k < e; k++) {
            if (len > 0 && (r->sig[s + len - 1] & ~count_bits) == r->sig[k]) {
                r->sig[s + len - 1] |= 2;
            } else {
                r->sig[s + len++] = r->sig[k] | 1;
            }
        }
        r->sig_len[i] = len;
        r->order[i] = i;
    }
    qsort_r(r->order, r->n, sizeof(size_t), by_class, r);
    size_t blocks = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (i == 0 || class_cmp(r, r->order[i - 1], r->order[i]) != 0) {
            blocks++;
        }
        r->next[r->order[i]] = blocks - 1;
    }
    return blocks;
}

static int str_ptr_cmp(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int ll_cmp(const void *pa, const void *pb)
{
    long long a = *(const long long *)pa, b = *(const long long *)pb;
    return a < b ? -1 : a > b;
}

/* Fills r->adj from the edges of canonical `m`. */
static enum stk_err build_adjacency(const struct graph_model *m, struct refine *r)
{
    enum stk_err rc = STK_ENOMEM;
    struct id_slot *ids = id_index(m);
    const char **kinds = malloc((m->n_edges ? m->n_edges : 1) * sizeof(*kinds));
    size_t *fill = calloc(r->n + 1, sizeof(*fill));
    if (ids == NULL || kinds == NULL || fill == NULL) {
        goto out;
    }
    size_t nk = 0;
    for (size_t i = 0; i < m->n_edges; i++) {
        kinds[nk++] = m->edges[i].kind;
    }
    sort(kinds, nk, sizeof(*kinds), str_ptr_cmp);
    size_t u = 0;
    for (size_t i = 0; i < nk; i++) {
        if (u == 0 || strcmp(kinds[u - 1], kinds[i]) != 0) {
            kinds[u++] = kinds[i];
        }
    }
    nk = u;
    for (size_t i = 0; i < m->n_edges; i++) {
        r->adj_start[find_id(ids, m->n_nodes, m->edges[i].from) + 1]++;
        r->adj_start[find_id(ids, m->n_nodes, m->edges[i].to) + 1]++;
    }
    for (size_t i = 0; i < r->n; i++) {
        r->adj_start[i + 1] += r->adj_start[i];
    }
    for (size_t i = 0; i < m->n_edges; i++) {
        const struct graph_edge *e = &m->edges[i];
        const char *key = e->kind;
        const char **hit = bsearch(&key, kinds, nk, sizeof(*kinds), str_ptr_cmp);
        uint32_t k = (uint32_t)(hit - kinds);
        size_t a = (size_t)find_id(ids, m->n_nodes, e->from);
        size_t b = (size_t)find_id(ids, m->n_nodes, e->to);
        r->adj[r->adj_start[a] + fill[a]++] = (struct adj){k, 0, b};
        r->adj[r->adj_start[b] + fill[b]++] = (struct adj){k, 1, a};
    }
    rc = STK_OK;
out:
    free(ids);
    free(kinds);
    free(fill);
    return rc;
}

/* The partition of canonical `m` into r->block (ids 0..blocks-1). */
static enum stk_err partition(const struct graph_model *m, struct refine *r, size_t *blocks)
{
    size_t n = m->n_nodes;
    r->n = n;
    r->nodes = m->nodes;
    r->adj_start = calloc(n + 1, sizeof(size_t));
    r->adj = malloc((2 * m->n_edges + 1) * sizeof(struct adj));
    r->sig = malloc((2 * m->n_edges + 1) * sizeof(uint64_t));
    r->block = malloc(n * sizeof(size_t));
    r->next = malloc(n * sizeof(size_t));
    r->sig_len = malloc(n * sizeof(size_t));
    r->order = malloc(n * sizeof(size_t));
    if (r->adj_start == NULL || r->adj == NULL || r->sig == NULL || r->block == NULL ||
        r->next == NULL || r->sig_len == NULL || r->order == NULL ||
        build_adjacency(m, r) != STK_OK) {
        return STK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        r->order[i] = i;
    }
    qsort_r(r->order, n, sizeof(size_t), by_flags, (void *)m->nodes);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !same_flags(&m->nodes[r->order[i - 1]], &m->nodes[r->order[i]])) {
            count++;
        }
        r->block[r->order[i]] = count - 1;
    }
    /* Blocks only ever split: the partition is stable once a round keeps
     * their number. */
    for (int round = 0; round < REFINE_MAX; round++) {
        size_t next = refine_round(r);
        size_t *t = r->block;
        r->block = r->next;
        r->next = t;
        if (next == count) {
            break;
        }
        count = next;
    }
    *blocks = count;
    return STK_OK;
}

static void refine_release(struct refine *r)
{
    free(r->adj_start);
    free(r->adj);
    free(r->sig);
    free(r->block);
    free(r->next);
    free(r->sig_len);
    free(r->order);
}

/* Adds the node for block `b` to `out`: the member itself, or a group. */
static enum stk_err add_block_node(struct graph_model *out, const struct graph_model *in,
                                   const struct refine *r, size_t first, size_t size, int severity,
                                   long long group_id)
{
    const struct graph_node *f = &in->nodes[first];
    if (size == 1) {
        struct graph_node n = *f;
        n.key = strdup(f->key);
        n.name = strdup(f->name);
        n.members = NULL;
        return add_node_take(out, &n);
    }
    struct graph_node g = {.id = group_id,
                           .kind = f->kind,
                           .critical = f->critical,
                           .on_path = f->on_path,
                           .context = f->context,
                           .severity = severity,
                           .count = (long long)size};
    g.members = malloc(size * sizeof(long long));
    size_t k = 0;
    for (size_t i = first; g.members != NULL && i < in->n_nodes; i++) {
        if (r->block[i] == r->block[first]) {
            g.members[k++] = in->nodes[i].id;
        }
    }
    if (g.members != NULL) {
        sort(g.members, k, sizeof(long long), ll_cmp);
    }
    const char *kname = alert_entity_kind_name(f->kind);
    size_t klen = strlen(kname) + strlen(f->key) + 16;
    g.key = malloc(klen);
    g.name = malloc(64);
    if (g.key != NULL) {
        snprintf(g.key, klen, "group:%s:%s", kname, f->key);
    }
    if (g.name != NULL) {
        snprintf(g.name, 64, "%zu %s", size, graph_kind_plural(f->kind));
    }
    if (g.members == NULL) {
        free(g.key);
        g.key = NULL;
    }
    return add_node_take(out, &g);
}

enum stk_err graph_model_group(struct graph_model *in, struct graph_model *out,
                               struct stk_error *err)
{
    graph_model_init(out);
    enum stk_err rc = graph_model_canonicalize(in);
    if (rc != STK_OK || in->n_nodes == 0) {
        out->canonical = rc == STK_OK;
        return rc == STK_OK ? STK_OK : stk_error_set(err, rc, "out of memory");
    }
    struct refine r;
    memset(&r, 0, sizeof(r));
    size_t blocks = 0;
    size_t *size = NULL, *first = NULL;
    int *sev = NULL;
    long long *out_id = NULL;
    rc = partition(in, &r, &blocks);
    if (rc == STK_OK) {
        size = calloc(blocks, sizeof(*size));
        first = malloc(blocks * sizeof(*first));
        sev = malloc(blocks * sizeof(*sev));
        out_id = malloc(blocks * sizeof(*out_id));
        rc = size && first && sev && out_id ? STK_OK : STK_ENOMEM;
    }
    for (size_t i = 0; rc == STK_OK && i < in->n_nodes; i++) {
        size_t b = r.block[i];
        if (size[b]++ == 0) {
            first[b] = i;
            sev[b] = -1;
        }
        sev[b] = in->nodes[i].severity > sev[b] ? in->nodes[i].severity : sev[b];
    }
    /* Blocks in the canonical order of their first member, so the ids and
     * the output are a function of the model alone. */
    long long groups = 0;
    for (size_t i = 0; rc == STK_OK && i < in->n_nodes; i++) {
        size_t b = r.block[i];
        if (first[b] != i) {
            continue;
        }
        out_id[b] = size[b] == 1 ? in->nodes[i].id : -(1 + groups++);
        rc = add_block_node(out, in, &r, i, size[b], sev[b], out_id[b]);
    }
    /* Each edge between the nodes of its two ends' blocks; canonicalize()
     * then merges those that coincide, adding up their counts. */
    struct id_slot *ids = rc == STK_OK ? id_index(in) : NULL;
    if (rc == STK_OK && ids == NULL) {
        rc = STK_ENOMEM;
    }
    for (size_t i = 0; rc == STK_OK && i < in->n_edges; i++) {
        const struct graph_edge *e = &in->edges[i];
        rc = graph_model_add_edge(out, out_id[r.block[find_id(ids, in->n_nodes, e->from)]],
                                  out_id[r.block[find_id(ids, in->n_nodes, e->to)]], e->kind);
        if (rc == STK_OK) {
            out->edges[out->n_edges - 1].count = e->count;
        }
    }
    free(ids);
    if (rc == STK_OK) {
        rc = graph_model_canonicalize(out);
    }
    refine_release(&r);
    free(size);
    free(first);
    free(sev);
    free(out_id);
    if (rc != STK_OK) {
        graph_model_release(out);
        return stk_error_set(err, rc,
                             rc == STK_ETOOBIG ? "the graph is too large" : "out of memory");
    }
    return STK_OK;
}

/* ---- the content hash ---- */

static void put_u64(struct buf *b, uint64_t v, enum stk_err *rc)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++) {
        le[i] = (unsigned char)(v >> (8 * i));
    }
    if (*rc == STK_OK) {
        *rc = buf_append(b, le, sizeof(le));
    }
}

static void put_str(struct buf *b, const char *s, enum stk_err *rc)
{
    if (*rc == STK_OK) {
        *rc = buf_append(b, s, strlen(s) + 1);
    }
}

enum stk_err graph_model_hash(struct graph_model *m, unsigned char out[GRAPH_HASH_BYTES])
{
    memset(out, 0, GRAPH_HASH_BYTES);
    enum stk_err rc = graph_model_canonicalize(m);
    if (rc != STK_OK) {
        return rc;
    }
    /* Fixed-width integers and NUL-terminated strings: no two models
     * serialise to the same bytes. */
    struct buf b;
    buf_init(&b, (size_t)-1);
    put_str(&b, GRAPH_RENDER_VERSION, &rc);
    put_u64(&b, m->n_nodes, &rc);
    put_u64(&b, m->n_edges, &rc);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct graph_node *n = &m->nodes[i];
        put_u64(&b, (uint64_t)n->id, &rc);
        put_u64(&b,
                (uint64_t)n->kind | (uint64_t)n->critical << 8 | (uint64_t)n->on_path << 9 |
                    (uint64_t)n->context << 10 | (uint64_t)(n->severity + 1) << 16,
                &rc);
        put_u64(&b, (uint64_t)n->count, &rc);
        put_str(&b, n->key, &rc);
        put_str(&b, n->name, &rc);
        for (long long k = 0; n->members != NULL && k < n->count; k++) {
            put_u64(&b, (uint64_t)n->members[k], &rc);
        }
    }
    for (size_t i = 0; i < m->n_edges; i++) {
        const struct graph_edge *e = &m->edges[i];
        put_u64(&b, (uint64_t)e->from, &rc);
        put_u64(&b, (uint64_t)e->to, &rc);
        put_u64(&b, (uint64_t)e->count, &rc);
        put_str(&b, e->kind, &rc);
    }
    if (rc == STK_OK) {
        crypto_generichash(out, GRAPH_HASH_BYTES, (const unsigned char *)b.data, b.len, NULL, 0);
    }
    buf_release(&b);
    return rc;
}

/* ---- layout ---- */

struct graph_engine {
    GVC_t *gvc;
};

/* Exported by libgvc (2.30 and later) but not declared in its public
 * headers: the directory Graphviz loads its plugins from. */
extern char *gvconfig_libdir(GVC_t *gvc);

/* A context with the dot layout plugin alone. gvContext() would read the
 * whole plugin configuration, which costs 4-16 ms and, in Graphviz 2.43,
 * keeps a buffer that is never freed (LeakSanitizer reports it at every
 * exit). The plugin stays loaded for the process's life, as Graphviz's own
 * plugins do: dot keeps work buffers in its statics between layouts. */
static GVC_t *dot_only_context(void)
{
    GVC_t *gvc = gvContextPlugins(NULL, 0);
    const char *dir = gvc ? gvconfig_libdir(gvc) : NULL;
    char path[4096];
    if (dir == NULL ||
        snprintf(path, sizeof(path), "%s/libgvplugin_dot_layout.so.6", dir) >= (int)sizeof(path)) {
        goto fail;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    gvplugin_library_t *dot = lib ? dlsym(lib, "gvplugin_dot_layout_LTX_library") : NULL;
    if (dot == NULL) {
        goto fail;
    }
    gvAddLibrary(gvc, dot);
    return gvc;
fail:
    if (gvc != NULL) {
        gvFreeContext(gvc);
    }
    return NULL;
}

enum stk_err graph_engine_new(struct graph_engine **out, struct stk_error *err)
{
    *out = NULL;
    struct graph_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    /* Graphviz would print warnings on stderr; failures come back as
     * return codes and are logged by the caller. */
    agseterr(AGMAX);
    e->gvc = dot_only_context();
    if (e->gvc == NULL) {
        e->gvc = gvContext(); /* plugins elsewhere: let Graphviz find them */
    }
    if (e->gvc == NULL) {
        free(e);
        return stk_error_set(err, STK_EINTERNAL, "Graphviz could not start");
    }
    *out = e;
    return STK_OK;
}

void graph_engine_free(struct graph_engine *e)
{
    if (e != NULL) {
        gvFreeContext(e->gvc);
        free(e);
    }
}

static double node_width(const struct graph_node *n)
{
    double w = (double)graph_label_chars(n->name) * CHAR_W + 12.0;
    return w < 2 * CLIP_R + 8 ? 2 * CLIP_R + 8 : w;
}

/* The cgraph graph for `m` (canonical): nodes "n<index>" with fixed
 * sizes; edges in model order into `edges` (n_edges slots). With `labels`
 * the node labels are set too (for graph_write_dot()). */
static Agraph_t *build_graph(const struct graph_model *m, Agedge_t **edges, int labels)
{
    Agraph_t *g = agopen("incident", Agdirected, NULL);
    if (g == NULL) {
        return NULL;
    }
    size_t n = m->n_nodes;
    /* Crossing minimisation and network simplex dominate on big graphs
     * (0.6 s and 0.35 s of a 1,000-node layout at mclimit=0.2 nslimit=1).
     * Up to 600 nodes fewer passes cost no crossings (300 nodes: 28,536
     * at 0.2 against 28,503 at 0.5, in half the time); past that they
     * leave more, in pictures that are dense ungrouped anyway (the grouped
     * view is the one to read). */
    agattr(g, AGRAPH, "rankdir", "LR");
    agattr(g, AGRAPH, "nodesep", "0.12");
    agattr(g, AGRAPH, "ranksep", "1.2");
    agattr(g, AGRAPH, "mclimit", n > 1200 ? "0.05" : n > 600 ? "0.1" : n > 200 ? "0.2" : "1");
    agattr(g, AGRAPH, "nslimit", n > 1200 ? "0.3" : n > 600 ? "0.5" : n > 200 ? "1" : "100");
    agattr(g, AGNODE, "shape", "box");
    agattr(g, AGNODE, "fixedsize", "true");
    Agsym_t *label = agattr(g, AGNODE, "label", "");
    Agsym_t *width = agattr(g, AGNODE, "width", "1");
    Agsym_t *height = agattr(g, AGNODE, "height", "1");
    /* Edges run centre to centre; graph_layout() clips them at the disc. */
    agattr(g, AGEDGE, "headclip", "false");
    agattr(g, AGEDGE, "tailclip", "false");
    agattr(g, AGEDGE, "arrowhead", "none");
    Agsym_t *elabel = labels ? agattr(g, AGEDGE, "label", "") : NULL;
    Agnode_t **nodes = malloc((n ? n : 1) * sizeof(*nodes));
    struct id_slot *ids = id_index(m);
    int ok = nodes != NULL && ids != NULL;
    char name[32], num[32];
    for (size_t i = 0; ok && i < n; i++) {
        snprintf(name, sizeof(name), "n%zu", i);
        nodes[i] = agnode(g, name, 1);
        ok = nodes[i] != NULL;
        if (ok) {
            snprintf(num, sizeof(num), "%.4f", node_width(&m->nodes[i]) / 72.0);
            agxset(nodes[i], width, num);
            snprintf(num, sizeof(num), "%.4f", NODE_H / 72.0);
            agxset(nodes[i], height, num);
        }
        if (ok && labels) {
            struct buf t;
            buf_init(&t, 1024);
            ok = graph_text_clean(&t, m->nodes[i].name, GRAPH_LABEL_DISPLAY) == STK_OK;
            agxset(nodes[i], label, t.data ? t.data : "");
            buf_release(&t);
        }
    }
    for (size_t i = 0; ok && i < m->n_edges; i++) {
        long a = find_id(ids, n, m->edges[i].from), b = find_id(ids, n, m->edges[i].to);
        snprintf(name, sizeof(name), "e%zu", i);
        edges[i] = a >= 0 && b >= 0 ? agedge(g, nodes[a], nodes[b], name, 1) : NULL;
        ok = edges[i] != NULL;
        if (ok && elabel != NULL) {
            agxset(edges[i], elabel, (char *)m->edges[i].kind);
        }
    }
    free(nodes);
    free(ids);
    if (!ok) {
        agclose(g);
        return NULL;
    }
    return g;
}

enum stk_err graph_write_dot(struct graph_model *m, FILE *f, struct stk_error *err)
{
    enum stk_err rc = graph_model_canonicalize(m);
    Agedge_t **edges = malloc((m->n_edges ? m->n_edges : 1) * sizeof(*edges));
    Agraph_t *g = rc == STK_OK && edges != NULL ? build_graph(m, edges, 1) : NULL;
    if (g == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
    } else if (agwrite(g, f) != 0) {
        rc = stk_error_set(err, STK_EIO, "could not write the DOT file");
    }
    if (g != NULL) {
        agclose(g);
    }
    free(edges);
    return rc;
}

static struct graph_point bez(const struct graph_point *p, double t)
{
    double u = 1 - t;
    double a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
    return (struct graph_point){a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x,
                                a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y};
}

static double dist(struct graph_point a, struct graph_point b)
{
    return graph_point_dist(a, b);
}

/* Splits cubic `p` at `t` (de Casteljau) keeping the part after t (keep
 * 1) or before it (keep 0), in place. */
static void split(struct graph_point *p, double t, int keep_after)
{
    struct graph_point ab = {p[0].x + (p[1].x - p[0].x) * t, p[0].y + (p[1].y - p[0].y) * t};
    struct graph_point bc = {p[1].x + (p[2].x - p[1].x) * t, p[1].y + (p[2].y - p[1].y) * t};
    struct graph_point cd = {p[2].x + (p[3].x - p[2].x) * t, p[2].y + (p[3].y - p[2].y) * t};
    struct graph_point abc = {ab.x + (bc.x - ab.x) * t, ab.y + (bc.y - ab.y) * t};
    struct graph_point bcd = {bc.x + (cd.x - bc.x) * t, bc.y + (cd.y - bc.y) * t};
    struct graph_point mid = {abc.x + (bcd.x - abc.x) * t, abc.y + (bcd.y - abc.y) * t};
    if (keep_after) {
        p[0] = mid;
        p[1] = bcd;
        p[2] = cd;
    } else {
        p[1] = ab;
        p[2] = abc;
        p[3] = mid;
    }
}

/* The t where segment `p` crosses the circle (c, r), going outwards
 * (`from_start`) or inwards; p[0] inside, p[3] outside for outwards. */
static double crossing(const struct graph_point *p, struct graph_point c, double r, int from_start)
{
    double lo = 0, hi = 1;
    for (int i = 0; i < 32; i++) {
        double mid = (lo + hi) / 2;
        int inside = dist(bez(p, mid), c) < r;
        if (inside == from_start) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return (lo + hi) / 2;
}

/* Clips the spline `p` (1 + 3k points, *n of them) to start outside the
 * tail's circle and end on the head's; *n becomes 0 when nothing shows. */
static void clip_spline(struct graph_point *p, size_t *n, struct graph_point tail,
                        struct graph_point head)
{
    while (*n >= 4 && dist(p[3], tail) < CLIP_R) {
        memmove(p, p + 3, (*n - 3) * sizeof(*p));
        *n -= 3;
    }
    if (*n >= 4 && dist(p[0], tail) < CLIP_R) {
        split(p, crossing(p, tail, CLIP_R, 1), 1);
    }
    while (*n >= 4 && dist(p[*n - 4], head) < CLIP_R) {
        *n -= 3;
    }
    if (*n >= 4 && dist(p[*n - 1], head) < CLIP_R) {
        split(p + *n - 4, crossing(p + *n - 4, head, CLIP_R, 0), 0);
    }
    if (*n < 4) {
        *n = 0;
    }
}

/* Fills edge `e` from Graphviz's spline (centre to centre) or, if there
 * is none, a straight line. */
static enum stk_err edge_geometry(struct graph_edge *e, const splines *spl, struct graph_point tail,
                                  struct graph_point head, double ox, double oy)
{
    size_t n = spl && spl->size > 0 && spl->list[0].size >= 4 ? (size_t)spl->list[0].size : 4;
    struct graph_point *p = malloc(n * sizeof(*p));
    if (p == NULL) {
        return STK_ENOMEM;
    }
    if (spl && spl->size > 0 && spl->list[0].size >= 4) {
        for (size_t i = 0; i < n; i++) {
            p[i] = (struct graph_point){spl->list[0].list[i].x - ox, oy - spl->list[0].list[i].y};
        }
    } else {
        p[0] = tail;
        p[1] = (struct graph_point){tail.x + (head.x - tail.x) / 3, tail.y + (head.y - tail.y) / 3};
        p[2] = (struct graph_point){tail.x + 2 * (head.x - tail.x) / 3,
                                    tail.y + 2 * (head.y - tail.y) / 3};
        p[3] = head;
    }
    clip_spline(p, &n, tail, head);
    free(e->pts);
    e->pts = p;
    e->n_pts = n;
    e->arrow = 0;
    if (n >= 4) {
        /* The arrow's tip is the clipped end; it points along the last
         * control leg (or the chord when that leg is degenerate). */
        struct graph_point tip = p[n - 1], from = p[n - 2];
        if (dist(tip, from) < 0.5) {
            from = p[n - 4];
        }
        e->arrow = dist(tip, from) >= 0.5;
        e->ax = tip.x;
        e->ay = tip.y;
        size_t k = (n - 1) / 3;
        struct graph_point mid = k % 2 == 0 ? p[3 * (k / 2)] : bez(p + 3 * (k / 2), 0.5);
        e->lx = mid.x;
        e->ly = mid.y;
    } else {
        e->lx = (tail.x + head.x) / 2;
        e->ly = (tail.y + head.y) / 2;
    }
    return STK_OK;
}

/* Runs dot on `g` and copies the layout into `m`. */
static enum stk_err run_dot(struct graph_engine *eng, struct graph_model *m, Agraph_t *g,
                            Agedge_t **edges, struct stk_error *err)
{
    if (gvLayout(eng->gvc, g, "dot") != 0) {
        return stk_error_set(err, STK_EINTERNAL, "Graphviz could not lay the graph out");
    }
    boxf bb = GD_bb(g);
    double ox = bb.LL.x - PAD, oy = bb.UR.y + PAD;
    m->width = bb.UR.x - bb.LL.x + 2 * PAD;
    m->height = bb.UR.y - bb.LL.y + 2 * PAD;
    for (Agnode_t *v = agfstnode(g); v != NULL; v = agnxtnode(g, v)) {
        size_t k = (size_t)strtoul(agnameof(v) + 1, NULL, 10); /* "n<index>" */
        struct graph_node *gn = &m->nodes[k < m->n_nodes ? k : 0];
        gn->x = ND_coord(v).x - ox;
        gn->y = oy - ND_coord(v).y;
        gn->w = ND_width(v) * 72.0;
        gn->h = ND_height(v) * 72.0;
    }
    struct id_slot *ids = id_index(m);
    enum stk_err rc = ids ? STK_OK : STK_ENOMEM;
    for (size_t k = 0; rc == STK_OK && k < m->n_edges; k++) {
        struct graph_edge *e = &m->edges[k];
        const struct graph_node *a = &m->nodes[find_id(ids, m->n_nodes, e->from)];
        const struct graph_node *b = &m->nodes[find_id(ids, m->n_nodes, e->to)];
        rc = edge_geometry(e, ED_spl(edges[k]), (struct graph_point){a->x, a->y},
                           (struct graph_point){b->x, b->y}, ox, oy);
    }
    free(ids);
    gvFreeLayout(eng->gvc, g);
    return rc == STK_OK ? STK_OK : stk_error_set(err, rc, "out of memory");
}

struct layout_job {
    struct graph_engine *eng;
    struct graph_model *m;
    struct stk_error *err;
    enum stk_err rc;
};

static void *layout_main(void *arg)
{
    struct layout_job *job = arg;
    struct graph_model *m = job->m;
    Agedge_t **edges = malloc((m->n_edges ? m->n_edges : 1) * sizeof(*edges));
    Agraph_t *g = edges ? build_graph(m, edges, 0) : NULL;
    if (g == NULL) {
        job->rc = stk_error_set(job->err, STK_ENOMEM, "out of memory");
        goto out;
    }
    job->rc = run_dot(job->eng, m, g, edges, job->err);
out:
    if (g != NULL) {
        agclose(g);
    }
    free(edges);
    return NULL;
}

enum stk_err graph_layout(struct graph_engine *eng, struct graph_model *m, struct stk_error *err)
{
    enum stk_err rc = graph_model_canonicalize(m);
    if (rc != STK_OK) {
        return stk_error_set(err, rc, "out of memory");
    }
    if (m->n_nodes > GRAPH_LAYOUT_MAX_NODES) {
        return stk_error_set(err, STK_ETOOBIG, "%zu nodes are more than the %d drawn at once",
                             m->n_nodes, GRAPH_LAYOUT_MAX_NODES);
    }
    m->laid_out = 0;
    if (m->n_nodes == 0) {
        m->width = m->height = 0;
        m->laid_out = 1;
        return STK_OK;
    }
    /* dot recurses as deep as its auxiliary graphs are long (thousands of
     * frames for a rank of 2,000 nodes), deeper than the stacks civetweb
     * gives its workers: the layout runs on a thread of its own. */
    struct layout_job job = {.eng = eng, .m = m, .err = err, .rc = STK_EINTERNAL};
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0) {
        return stk_error_set(err, STK_ENOMEM, "cannot start the layout thread");
    }
    int started = pthread_attr_setstacksize(&attr, GRAPH_LAYOUT_STACK) == 0 &&
                  pthread_create(&t, &attr, layout_main, &job) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        return stk_error_set(err, STK_ENOMEM, "cannot start the layout thread");
    }
    pthread_join(t, NULL);
    m->laid_out = job.rc == STK_OK;
    return job.rc;
}
