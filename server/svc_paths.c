/* Attack paths. The rules (entry points, traversal edges, risk, bounds and
 * the incremental rule) are in svc_paths.h and docs/inventory.md.
 *
 * Why breadth-first with one visit per entity: a dense graph (every entity
 * linked to every other) has more simple paths than any server can list,
 * but only as many shortest paths from one entry point as it has entities.
 * BFS visits each entity once, so one search costs O(entities + edges)
 * within max_hops, cycles end at an entity already seen, and the nearest
 * critical assets come first, so keeping the first max_per_entry is both
 * the bound and the ranking. The graph is read lazily from the database:
 * a search reads the edges of the entities it reaches, not the whole
 * inventory, and one recomputation reads each entity's edges once. */
#include "svc_paths.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "store_entities.h"
#include "store_inventory.h"
#include "svc_paths_facts.h"

static const char *const traversal[] = {"uses-identity", "member-of", "can-access"};
#define N_TRAVERSAL 3
#define ENDS_LIMIT 100000 /* edges of one kind read per entity */

const char *svc_paths_risk_name(int risk)
{
    static const char *const names[RISK_N] = {"low", "medium", "high", "critical"};
    return risk >= 0 && risk < RISK_N ? names[risk] : "";
}

int svc_paths_risk_parse(const char *s)
{
    for (int r = 0; r < RISK_N; r++) {
        if (strcmp(s, svc_paths_risk_name(r)) == 0) {
            return r;
        }
    }
    return -1;
}

static int kind_index(const char *kind)
{
    for (int i = 0; i < N_TRAVERSAL; i++) {
        if (strcmp(kind, traversal[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int svc_paths_is_traversal(const char *kind)
{
    return kind_index(kind) >= 0;
}

/* ---- the graph ---- */

struct parc {
    size_t to; /* node index */
    unsigned char kind;
};

struct arcs {
    struct parc *a;
    size_t n, cap;
    int loaded;
};

struct pnode {
    long long id;
    int critical;
    struct arcs out, in;
    /* search state, valid while gen == the graph's */
    unsigned gen;
    size_t parent;
    unsigned char parent_kind;
    int depth;
    struct path_facts *facts;
};

struct pgraph {
    struct db *db;
    long long internet; /* the "internet:" entity, 0 when there is none */
    struct pnode *nodes;
    size_t n, cap;
    size_t *slots; /* node index + 1 by hash of the id; 0 is empty */
    size_t n_slots;
    unsigned gen;
    size_t *queue;
    size_t qcap;
};

enum stk_err svc_paths_graph_new(struct db *db, struct pgraph **out, struct stk_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    (*out)->db = db;
    return STK_OK;
}

void svc_paths_graph_free(struct pgraph *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        free(g->nodes[i].out.a);
        free(g->nodes[i].in.a);
        free(g->nodes[i].facts);
    }
    free(g->nodes);
    free(g->slots);
    free(g->queue);
    free(g);
}

static size_t slot_of(long long id, size_t n_slots)
{
    unsigned long long h = (unsigned long long)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (n_slots - 1);
}

static enum stk_err rehash(struct pgraph *g, struct stk_error *err)
{
    size_t n = g->n_slots ? g->n_slots * 2 : 256;
    size_t *slots = calloc(n, sizeof(*slots));
    if (slots == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n; i++) {
        size_t s = slot_of(g->nodes[i].id, n);
        while (slots[s] != 0) {
            s = (s + 1) & (n - 1);
        }
        slots[s] = i + 1;
    }
    free(g->slots);
    g->slots = slots;
    g->n_slots = n;
    return STK_OK;
}

/* The index of entity `id`, added when new (which may move g->nodes). */
static enum stk_err node_of(struct pgraph *g, long long id, size_t *idx, struct stk_error *err)
{
    if (g->n_slots > 0) {
        for (size_t s = slot_of(id, g->n_slots); g->slots[s] != 0; s = (s + 1) & (g->n_slots - 1)) {
            if (g->nodes[g->slots[s] - 1].id == id) {
                *idx = g->slots[s] - 1;
                return STK_OK;
            }
        }
    }
    if ((g->n + 1) * 2 > g->n_slots && rehash(g, err) != STK_OK) {
        return STK_ENOMEM;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        struct pnode *grown = realloc(g->nodes, cap * sizeof(*grown));
        if (grown == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        g->nodes = grown;
        g->cap = cap;
    }
    struct pnode *p = &g->nodes[g->n];
    memset(p, 0, sizeof(*p));
    p->id = id;
    /* An in-memory graph is complete as built. */
    p->out.loaded = p->in.loaded = g->db == NULL;
    size_t s = slot_of(id, g->n_slots);
    while (g->slots[s] != 0) {
        s = (s + 1) & (g->n_slots - 1);
    }
    g->slots[s] = g->n + 1;
    *idx = g->n++;
    return STK_OK;
}

static enum stk_err arc_add(struct arcs *l, size_t to, int kind, struct stk_error *err)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->a[i].to == to && l->a[i].kind == kind) {
            return STK_OK;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct parc *grown = realloc(l->a, cap * sizeof(*grown));
        if (grown == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        l->a = grown;
        l->cap = cap;
    }
    l->a[l->n++] = (struct parc){.to = to, .kind = (unsigned char)kind};
    return STK_OK;
}

enum stk_err svc_paths_graph_add_edge(struct pgraph *g, long long src, long long dst,
                                      const char *kind, struct stk_error *err)
{
    int k = kind_index(kind);
    size_t a, b;
    if (k < 0) {
        return STK_OK;
    }
    enum stk_err rc = node_of(g, src, &a, err);
    if (rc == STK_OK) {
        rc = node_of(g, dst, &b, err);
    }
    if (rc == STK_OK) {
        rc = arc_add(&g->nodes[a].out, b, k, err);
    }
    if (rc == STK_OK) {
        rc = arc_add(&g->nodes[b].in, a, k, err);
    }
    return rc;
}

enum stk_err svc_paths_graph_set_critical(struct pgraph *g, long long id, int critical,
                                          struct stk_error *err)
{
    size_t a;
    enum stk_err rc = node_of(g, id, &a, err);
    if (rc == STK_OK) {
        g->nodes[a].critical = critical != 0;
    }
    return rc;
}

/* Reads the edges of node `idx` (forward, or with `reverse` backward) from
 * the database the first time they are needed. Forward edges also bring
 * their destinations' crowns. */
static enum stk_err load_arcs(struct pgraph *g, size_t idx, int reverse, struct stk_error *err)
{
    struct arcs *l = reverse ? &g->nodes[idx].in : &g->nodes[idx].out;
    if (l->loaded) {
        return STK_OK;
    }
    struct path_arc *list = NULL;
    size_t n = 0;
    enum stk_err rc =
        store_paths_arcs(g->db, g->nodes[idx].id, traversal, N_TRAVERSAL, reverse, &list, &n, err);
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        int k = kind_index(list[i].kind);
        size_t v;
        if (k < 0) {
            continue;
        }
        rc = node_of(g, list[i].other, &v, err);
        if (rc != STK_OK) {
            break;
        }
        if (!reverse) {
            g->nodes[v].critical = list[i].other_critical != 0;
        }
        l = reverse ? &g->nodes[idx].in : &g->nodes[idx].out;
        rc = arc_add(l, v, k, err);
    }
    free(list);
    if (rc == STK_OK) {
        (reverse ? &g->nodes[idx].in : &g->nodes[idx].out)->loaded = 1;
    }
    return rc;
}

static enum stk_err push(struct pgraph *g, size_t *tail, size_t idx, struct stk_error *err)
{
    if (*tail == g->qcap) {
        size_t cap = g->qcap ? g->qcap * 2 : 256;
        size_t *grown = realloc(g->queue, cap * sizeof(*grown));
        if (grown == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        g->queue = grown;
        g->qcap = cap;
    }
    g->queue[(*tail)++] = idx;
    return STK_OK;
}

/* ---- the search ---- */

void svc_paths_hits_free(struct path_hit *hits, size_t n)
{
    for (size_t i = 0; hits != NULL && i < n; i++) {
        free(hits[i].ids);
        free(hits[i].kinds);
    }
    free(hits);
}

/* The path to node `v` along the parents the search left. */
static enum stk_err hit_of(const struct pgraph *g, size_t v, struct path_hit *h,
                           struct stk_error *err)
{
    h->n = (size_t)g->nodes[v].depth + 1;
    h->ids = calloc(h->n, sizeof(*h->ids));
    h->kinds = calloc(h->n, sizeof(*h->kinds));
    if (h->ids == NULL || h->kinds == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = h->n; i-- > 0;) {
        h->ids[i] = g->nodes[v].id;
        if (i > 0) {
            h->kinds[i - 1] = traversal[g->nodes[v].parent_kind];
            v = g->nodes[v].parent;
        }
    }
    return STK_OK;
}

enum stk_err svc_paths_search(struct pgraph *g, long long entry, const struct paths_settings *s,
                              struct path_hit **hits, size_t *count, struct stk_error *err)
{
    *hits = NULL;
    *count = 0;
    size_t start, head = 0, tail = 0, visited = 1;
    int max = s->max_per_entry > 0 ? s->max_per_entry : PATHS_PER_ENTRY;
    struct path_hit *found = calloc((size_t)max, sizeof(*found));
    if (found == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    size_t n = 0;
    enum stk_err rc = node_of(g, entry, &start, err);
    unsigned gen = ++g->gen;
    if (rc == STK_OK) {
        g->nodes[start].gen = gen;
        g->nodes[start].depth = 0;
        rc = push(g, &tail, start, err);
    }
    while (rc == STK_OK && head < tail && n < (size_t)max && visited < PATHS_MAX_VISITED) {
        size_t u = g->queue[head++];
        if (g->nodes[u].depth >= s->max_hops) {
            continue;
        }
        rc = load_arcs(g, u, 0, err);
        /* No node is added below, so g->nodes stays where it is. */
        const struct arcs *l = &g->nodes[u].out;
        for (size_t i = 0; rc == STK_OK && i < l->n; i++) {
            struct pnode *v = &g->nodes[l->a[i].to];
            if (v->gen == gen) {
                continue;
            }
            v->gen = gen;
            v->parent = u;
            v->parent_kind = l->a[i].kind;
            v->depth = g->nodes[u].depth + 1;
            if (v->critical) {
                rc = hit_of(g, l->a[i].to, &found[n], err);
                n++;
                if (n == (size_t)max) {
                    break;
                }
            }
            if (++visited >= PATHS_MAX_VISITED) {
                break;
            }
            if (rc == STK_OK) {
                rc = push(g, &tail, l->a[i].to, err);
            }
        }
    }
    if (rc != STK_OK) {
        svc_paths_hits_free(found, n);
        return rc;
    }
    *hits = found;
    *count = n;
    return STK_OK;
}

/* Marks (with a new generation) every node within `hops` edges backwards of
 * the `n` nodes in `from`, and returns their ids. Caller owns `*ids`. */
static enum stk_err reverse_reach(struct pgraph *g, const size_t *from, size_t n, int hops,
                                  long long **ids, size_t *count, struct stk_error *err)
{
    *ids = NULL;
    *count = 0;
    size_t head = 0, tail = 0;
    unsigned gen = ++g->gen;
    enum stk_err rc = STK_OK;
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        if (g->nodes[from[i]].gen != gen) {
            g->nodes[from[i]].gen = gen;
            g->nodes[from[i]].depth = 0;
            rc = push(g, &tail, from[i], err);
        }
    }
    while (rc == STK_OK && head < tail) {
        size_t u = g->queue[head++];
        if (g->nodes[u].depth >= hops) {
            continue;
        }
        rc = load_arcs(g, u, 1, err);
        const struct arcs *l = &g->nodes[u].in;
        for (size_t i = 0; rc == STK_OK && i < l->n; i++) {
            struct pnode *v = &g->nodes[l->a[i].to];
            if (v->gen != gen) {
                v->gen = gen;
                v->depth = g->nodes[u].depth + 1;
                rc = push(g, &tail, l->a[i].to, err);
            }
        }
    }
    if (rc == STK_OK && tail > 0) {
        *ids = calloc(tail, sizeof(**ids));
        if (*ids == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < tail; i++) {
            (*ids)[i] = g->nodes[g->queue[i]].id;
        }
        *count = tail;
    }
    return rc;
}

/* The facts of node `idx`, read once per recomputation. */
static enum stk_err facts_of(struct pgraph *g, size_t idx, const struct path_facts **out,
                             struct stk_error *err)
{
    *out = g->nodes[idx].facts;
    if (*out != NULL) {
        return STK_OK;
    }
    struct path_facts *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    enum stk_err rc = svc_paths_facts_load(g->db, g->internet, g->nodes[idx].id, f, err);
    if (rc != STK_OK) {
        free(f);
        return rc;
    }
    g->nodes[idx].facts = f;
    *out = f;
    return STK_OK;
}

struct refresh {
    struct db *db;
    const struct paths_settings *s;
    struct pgraph *g;
    long long now;
    struct paths_stats *stats;
    struct stk_error *err;
};

/* Builds the stored form of `h` into `p` (steps owned by p). */
static enum stk_err build_path(struct refresh *x, const struct path_hit *h, struct attack_path *p)
{
    memset(p, 0, sizeof(*p));
    json_t *steps = json_array();
    const struct path_facts *prev = NULL, *f = NULL, *entry = NULL;
    int exposed = 0, vuln = 0;
    enum stk_err rc = steps ? STK_OK : stk_error_set(x->err, STK_ENOMEM, "out of memory");
    const char *parts[2 * 17 + 1];
    char ids[17][24];
    size_t np = 0;
    parts[np++] = "attack-path";
    for (size_t i = 0; rc == STK_OK && i < h->n && i < 17; i++) {
        size_t idx;
        rc = node_of(x->g, h->ids[i], &idx, x->err);
        if (rc == STK_OK) {
            rc = facts_of(x->g, idx, &f, x->err);
        }
        char *props = NULL;
        int found = 0;
        if (rc == STK_OK && i > 0) {
            rc = store_edges_find(x->db, h->ids[i - 1], h->ids[i], h->kinds[i - 1], &found, &props,
                                  x->err);
        }
        json_error_t jerr;
        json_t *eprops = props != NULL ? json_loads(props, 0, &jerr) : NULL;
        free(props);
        json_t *step =
            rc == STK_OK ? svc_paths_facts_step(f, h->ids[i], prev, i > 0 ? h->kinds[i - 1] : NULL,
                                                eprops, &exposed, &vuln)
                         : NULL;
        json_decref(eprops);
        if (rc == STK_OK && (step == NULL || json_array_append_new(steps, step) != 0)) {
            rc = stk_error_set(x->err, STK_ENOMEM, "out of memory");
        }
        snprintf(ids[i], sizeof(ids[i]), "%lld", h->ids[i]);
        parts[np++] = ids[i];
        if (i > 0) {
            parts[np++] = h->kinds[i - 1];
        }
        entry = i == 0 ? f : entry;
        prev = f;
    }
    if (rc == STK_OK) {
        p->hops = (int)h->n - 1;
        p->entry = h->ids[0];
        p->target = h->ids[h->n - 1];
        p->risk = svc_paths_facts_risk(exposed, vuln, p->hops, &p->score);
        p->computed_at = x->now;
        alert_key(p->key, parts, np);
        snprintf(p->title, sizeof(p->title), "%s%s %.150s%s can reach %.60s %.150s",
                 exposed ? "Internet-exposed " : "", alert_entity_kind_name(entry->kind),
                 entry->name,
                 entry->vuln_critical > 0 ? " with critical vulnerabilities"
                 : entry->vuln_high > 0   ? " with high-severity vulnerabilities"
                                          : "",
                 f->label, f->name);
        p->steps = json_dumps(steps, JSON_COMPACT);
        if (p->steps == NULL) {
            rc = stk_error_set(x->err, STK_ENOMEM, "out of memory");
        }
    }
    json_decref(steps);
    return rc;
}

static int has_key(const unsigned char (*keys)[PATH_KEY_LEN], size_t n, const unsigned char *k)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(keys[i], k, PATH_KEY_LEN) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Searches again from `id` and replaces its stored paths: paths found
 * again keep their ids, the others go. */
static enum stk_err recompute_entry(struct refresh *x, long long id)
{
    size_t idx;
    const struct path_facts *f;
    struct attack_path *old = NULL;
    size_t n_old = 0, n_hits = 0, n_keys = 0;
    struct path_hit *hits = NULL;
    unsigned char(*keys)[PATH_KEY_LEN] = NULL;
    enum stk_err rc = node_of(x->g, id, &idx, x->err);
    if (rc == STK_OK) {
        rc = facts_of(x->g, idx, &f, x->err);
    }
    if (rc == STK_OK) {
        rc = store_paths_of_entry(x->db, id, &old, &n_old, x->err);
    }
    x->stats->entities_checked++;
    if (rc == STK_OK && svc_paths_facts_is_entry(f)) {
        x->stats->entry_points++;
        rc = svc_paths_search(x->g, id, x->s, &hits, &n_hits, x->err);
    }
    if (rc == STK_OK && n_hits > 0) {
        keys = calloc(n_hits, sizeof(*keys));
        rc = keys ? STK_OK : stk_error_set(x->err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == STK_OK && i < n_hits; i++) {
        struct attack_path p;
        long long pid;
        int created = 0;
        rc = build_path(x, &hits[i], &p);
        if (rc == STK_OK) {
            rc = store_paths_put(x->db, &p, &pid, &created, x->err);
        }
        /* The key hashes the path's entities, so a path found again has
         * the members it had. */
        if (rc == STK_OK && created) {
            rc = store_paths_set_members(x->db, pid, hits[i].ids, hits[i].n, x->err);
        }
        if (rc == STK_OK) {
            memcpy(keys[n_keys++], p.key, PATH_KEY_LEN);
            x->stats->paths++;
        }
        store_path_release(&p);
    }
    for (size_t i = 0; rc == STK_OK && i < n_old; i++) {
        if (!has_key((const unsigned char(*)[PATH_KEY_LEN])keys, n_keys, old[i].key)) {
            rc = store_paths_delete(x->db, old[i].id, x->err);
        }
    }
    free(keys);
    svc_paths_hits_free(hits, n_hits);
    store_paths_free(old, n_old);
    return rc;
}

/* ---- the set of entities to recompute ---- */

struct idset {
    long long *ids;
    size_t n, cap;
};

static enum stk_err idset_add(struct idset *s, const long long *ids, size_t n,
                              struct stk_error *err)
{
    if (s->n + n > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + n) {
            cap *= 2;
        }
        long long *grown = realloc(s->ids, cap * sizeof(*grown));
        if (grown == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        s->ids = grown;
        s->cap = cap;
    }
    if (n > 0) {
        memcpy(s->ids + s->n, ids, n * sizeof(*ids));
    }
    s->n += n;
    return STK_OK;
}

static int by_id(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void idset_sort_unique(struct idset *s)
{
    if (s->n == 0) {
        return;
    }
    qsort(s->ids, s->n, sizeof(*s->ids), by_id);
    size_t k = 1;
    for (size_t i = 1; i < s->n; i++) {
        if (s->ids[i] != s->ids[k - 1]) {
            s->ids[k++] = s->ids[i];
        }
    }
    s->n = k;
}

/* Adds the other ends of `id`'s `kind` edges (forward or `reverse`). */
static enum stk_err add_ends(struct refresh *x, struct idset *s, long long id, const char *kind,
                             int reverse)
{
    long long *ends = NULL;
    size_t n = 0;
    enum stk_err rc = store_edges_ends(x->db, id, kind, reverse, ENDS_LIMIT, &ends, &n, x->err);
    if (rc == STK_OK) {
        rc = idset_add(s, ends, n, x->err);
    }
    free(ends);
    return rc;
}

/* Entities whose entry facts follow from those of `id`: what a service
 * routes to, the pod a container runs in, the workloads of an image (and
 * their pods). */
static enum stk_err add_dependents(struct refresh *x, struct idset *s, long long id)
{
    struct idset users = {0};
    enum stk_err rc = add_ends(x, s, id, "routes-to", 0);
    if (rc == STK_OK) {
        rc = add_ends(x, s, id, "runs-in", 0);
    }
    if (rc == STK_OK) {
        rc = add_ends(x, &users, id, "from-image", 1);
    }
    for (size_t i = 0; rc == STK_OK && i < users.n; i++) {
        rc = add_ends(x, s, users.ids[i], "runs-in", 0);
    }
    if (rc == STK_OK) {
        rc = idset_add(s, users.ids, users.n, x->err);
    }
    free(users.ids);
    return rc;
}

static enum stk_err refresh_begin(struct refresh *x, struct db *db, const struct paths_settings *s,
                                  long long now, struct paths_stats *stats, struct stk_error *err)
{
    memset(stats, 0, sizeof(*stats));
    *x = (struct refresh){.db = db, .s = s, .now = now, .stats = stats, .err = err};
    enum stk_err rc = svc_paths_graph_new(db, &x->g, err);
    int critical;
    if (rc == STK_OK) {
        rc = store_entities_find(db, PATHS_INTERNET_KEY, &x->g->internet, &critical, err);
        rc = rc == STK_ENOTFOUND ? STK_OK : rc;
    }
    return rc;
}

static enum stk_err recompute_set(struct refresh *x, struct idset *todo)
{
    idset_sort_unique(todo);
    enum stk_err rc = STK_OK;
    for (size_t i = 0; rc == STK_OK && i < todo->n; i++) {
        rc = recompute_entry(x, todo->ids[i]);
    }
    return rc;
}

enum stk_err svc_paths_refresh(struct db *db, const struct paths_settings *s,
                               const long long *changed, size_t n, long long now,
                               struct paths_stats *stats, struct stk_error *err)
{
    struct refresh x;
    struct idset seeds = {0}, todo = {0};
    size_t *idx = NULL;
    long long *reach = NULL;
    size_t n_reach = 0;
    enum stk_err rc = refresh_begin(&x, db, s, now, stats, err);
    if (rc == STK_OK) {
        rc = idset_add(&seeds, changed, n, err);
    }
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        rc = add_dependents(&x, &seeds, changed[i]);
    }
    idset_sort_unique(&seeds);
    if (rc == STK_OK && seeds.n > 0) {
        idx = calloc(seeds.n, sizeof(*idx));
        rc = idx ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == STK_OK && i < seeds.n; i++) {
        rc = node_of(x.g, seeds.ids[i], &idx[i], err);
    }
    if (rc == STK_OK) {
        rc = reverse_reach(x.g, idx, seeds.n, s->max_hops, &reach, &n_reach, err);
    }
    if (rc == STK_OK) {
        rc = idset_add(&todo, reach, n_reach, err);
    }
    /* Entry points whose stored paths ran through a changed entity, in
     * case an edge they used is gone. */
    for (size_t i = 0; rc == STK_OK && i < seeds.n; i++) {
        long long *entries = NULL;
        size_t m = 0;
        rc = store_paths_entries(db, seeds.ids[i], &entries, &m, err);
        if (rc == STK_OK) {
            rc = idset_add(&todo, entries, m, err);
        }
        free(entries);
    }
    if (rc == STK_OK) {
        rc = recompute_set(&x, &todo);
    }
    free(reach);
    free(idx);
    free(seeds.ids);
    free(todo.ids);
    svc_paths_graph_free(x.g);
    return rc;
}

enum stk_err svc_paths_recompute_all(struct db *db, const struct paths_settings *s, long long now,
                                     struct paths_stats *stats, struct stk_error *err)
{
    struct refresh x;
    struct idset todo = {0}, exposed = {0};
    long long *ids = NULL;
    size_t n = 0;
    enum stk_err rc = refresh_begin(&x, db, s, now, stats, err);
    if (rc == STK_OK && x.g->internet != 0) {
        rc = add_ends(&x, &exposed, x.g->internet, "exposed-to-internet", 1);
    }
    for (size_t i = 0; rc == STK_OK && i < exposed.n; i++) {
        rc = add_ends(&x, &todo, exposed.ids[i], "routes-to", 0);
    }
    if (rc == STK_OK) {
        rc = idset_add(&todo, exposed.ids, exposed.n, err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_vulnerable_workloads(db, &ids, &n, err);
    }
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        rc = add_ends(&x, &todo, ids[i], "runs-in", 0);
    }
    if (rc == STK_OK) {
        rc = idset_add(&todo, ids, n, err);
    }
    free(ids);
    ids = NULL;
    if (rc == STK_OK) {
        rc = store_paths_entries(db, 0, &ids, &n, err);
    }
    if (rc == STK_OK) {
        rc = idset_add(&todo, ids, n, err);
    }
    if (rc == STK_OK) {
        rc = recompute_set(&x, &todo);
    }
    free(ids);
    free(exposed.ids);
    free(todo.ids);
    svc_paths_graph_free(x.g);
    return rc;
}

/* ---- the API ---- */

void svc_paths_page_release(struct path_page *p)
{
    store_paths_free(p->rows, p->count);
    p->rows = NULL;
    p->count = 0;
}

enum stk_err svc_paths_list(struct db *db, const struct path_filter *f, struct path_page *out,
                            struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct path_filter one_more = *f;
    one_more.limit = f->limit + 1;
    enum stk_err rc = db_read_begin(db, err);
    if (rc == STK_OK) {
        rc = store_paths_list(db, &one_more, &out->rows, &out->count, err);
    }
    if (rc == STK_OK && out->count > (size_t)f->limit) {
        out->has_more = 1;
        store_path_release(&out->rows[f->limit]);
        out->count = (size_t)f->limit;
    }
    if (rc == STK_OK) {
        rc = store_paths_counts(db, f, out->counts, err);
    }
    db_read_end(db);
    if (rc != STK_OK) {
        svc_paths_page_release(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

enum stk_err svc_paths_get(struct db *db, long long id, struct attack_path *out,
                           struct stk_error *err)
{
    return store_paths_get(db, id, out, err);
}

enum stk_err svc_paths_entity_id(struct db *db, const char *key, long long *id,
                                 struct stk_error *err)
{
    int critical;
    enum stk_err rc = store_entities_find(db, key, id, &critical, err);
    if (rc == STK_ENOTFOUND) {
        return stk_error_set(err, STK_ENOTFOUND, "no such entity");
    }
    return rc;
}
