#include "svc_graph.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_graph.h"
#include "store_incidents.h"

/* A cache entry: a rendered document, or (format LAYOUT) a laid-out model
 * the documents are rendered from without Graphviz. */
#define LAYOUT GRAPH_FORMAT_N

struct graph_doc {
    atomic_int refs; /* the cache's and each caller's */
    unsigned char hash[GRAPH_HASH_BYTES];
    int grouped;
    int format;                    /* enum graph_format, or LAYOUT */
    char *data;                    /* documents */
    struct graph_model *layout;    /* LAYOUT: read-only once cached */
    size_t len;                    /* bytes held, for the cache's bound */
    struct graph_doc *prev, *next; /* most recently used first */
};

/* Which content hash an incident had when a connection last built its
 * model, and the connection's stamp then: while the stamp is unchanged
 * nothing was written, so the hash still holds and the model need not be
 * read again. Keyed by the connection (each worker has its own; they live
 * as long as the server, and so does the cache). */
#define MEMO_SLOTS 1024 /* direct-mapped: a collision just forgets */

struct memo {
    const struct db *db; /* NULL: empty */
    long long incident_id;
    struct graph_stamp stamp;
    unsigned char hash[GRAPH_HASH_BYTES];
};

struct graph_cache {
    pthread_mutex_t lock;        /* guards the list, totals and memo; never held while rendering */
    pthread_mutex_t gv_lock;     /* serialises Graphviz: `engine` and every layout */
    struct graph_engine *engine; /* made on first use, under gv_lock */
    struct graph_doc *head, *tail;
    size_t entries, bytes;
    size_t max_entries, max_bytes;
    struct memo *memo; /* MEMO_SLOTS */
};

static void doc_put(struct graph_doc *d)
{
    if (d != NULL && atomic_fetch_sub(&d->refs, 1) == 1) {
        free(d->data);
        if (d->layout != NULL) {
            graph_model_release(d->layout);
            free(d->layout);
        }
        free(d);
    }
}

enum stk_err svc_graph_cache_new(size_t max_entries, size_t max_bytes, struct graph_cache **out,
                                 struct stk_error *err)
{
    *out = NULL;
    struct graph_cache *c = calloc(1, sizeof(*c));
    struct memo *memo = calloc(MEMO_SLOTS, sizeof(*memo));
    if (c == NULL || memo == NULL) {
        free(c);
        free(memo);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    c->memo = memo;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->memo);
        free(c);
        return stk_error_set(err, STK_ENOMEM, "cannot create the graph cache lock");
    }
    if (pthread_mutex_init(&c->gv_lock, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c->memo);
        free(c);
        return stk_error_set(err, STK_ENOMEM, "cannot create the Graphviz lock");
    }
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    *out = c;
    return STK_OK;
}

static void unlink_doc(struct graph_cache *c, struct graph_doc *d)
{
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        c->head = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    } else {
        c->tail = d->prev;
    }
    d->prev = d->next = NULL;
    c->entries--;
    c->bytes -= d->len;
}

void svc_graph_cache_clear(struct graph_cache *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->head != NULL) {
        struct graph_doc *d = c->head;
        unlink_doc(c, d);
        doc_put(d);
    }
    memset(c->memo, 0, MEMO_SLOTS * sizeof(*c->memo));
    pthread_mutex_unlock(&c->lock);
}

void svc_graph_cache_free(struct graph_cache *c)
{
    if (c == NULL) {
        return;
    }
    svc_graph_cache_clear(c);
    graph_engine_free(c->engine);
    pthread_mutex_destroy(&c->gv_lock);
    pthread_mutex_destroy(&c->lock);
    free(c->memo);
    free(c);
}

void svc_graph_cache_usage(struct graph_cache *c, size_t *entries, size_t *bytes)
{
    pthread_mutex_lock(&c->lock);
    *entries = c->entries;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}

/* The cached document for (hash, grouped, format) with a reference for the
 * caller, moved to the front; NULL if there is none. */
static struct graph_doc *lookup(struct graph_cache *c, const unsigned char *hash, int grouped,
                                int format)
{
    pthread_mutex_lock(&c->lock);
    struct graph_doc *d = c->head;
    while (d != NULL && (d->grouped != grouped || d->format != format ||
                         memcmp(d->hash, hash, GRAPH_HASH_BYTES) != 0)) {
        d = d->next;
    }
    if (d != NULL) {
        atomic_fetch_add(&d->refs, 1);
        if (d != c->head) {
            unlink_doc(c, d);
            c->entries++;
            c->bytes += d->len;
            d->next = c->head;
            c->head->prev = d;
            c->head = d;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return d;
}

/* Puts `d` (one reference, the caller's) in the cache, which takes a
 * reference of its own, and evicts the least recently used past the
 * bounds. A document bigger than the whole cache is not kept. */
static void insert(struct graph_cache *c, struct graph_doc *d)
{
    if (d->len > c->max_bytes || c->max_entries == 0) {
        return;
    }
    atomic_fetch_add(&d->refs, 1);
    pthread_mutex_lock(&c->lock);
    d->prev = NULL;
    d->next = c->head;
    if (c->head != NULL) {
        c->head->prev = d;
    } else {
        c->tail = d;
    }
    c->head = d;
    c->entries++;
    c->bytes += d->len;
    while (c->tail != NULL && c->tail != d &&
           (c->entries > c->max_entries || c->bytes > c->max_bytes)) {
        struct graph_doc *old = c->tail;
        unlink_doc(c, old);
        doc_put(old);
    }
    pthread_mutex_unlock(&c->lock);
}

static struct memo *memo_slot(struct graph_cache *c, const struct db *db, long long id)
{
    uint64_t h =
        (uint64_t)(uintptr_t)db * 0x9e3779b97f4a7c15ull ^ (uint64_t)id * 0xff51afd7ed558ccdull;
    return &c->memo[(h >> 32) & (MEMO_SLOTS - 1)];
}

/* 1 and the hash when `db` saw incident `id` with this very stamp. */
static int memo_get(struct graph_cache *c, const struct db *db, long long id,
                    const struct graph_stamp *stamp, unsigned char *hash)
{
    pthread_mutex_lock(&c->lock);
    const struct memo *m = memo_slot(c, db, id);
    int hit = m->db == db && m->incident_id == id && m->stamp.data_version == stamp->data_version &&
              m->stamp.changes == stamp->changes;
    if (hit) {
        memcpy(hash, m->hash, GRAPH_HASH_BYTES);
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* `stamp` must have been taken before the model `hash` came from was read:
 * then a write in between changes the next stamp and the entry is not
 * used. */
static void memo_put(struct graph_cache *c, const struct db *db, long long id,
                     const struct graph_stamp *stamp, const unsigned char *hash)
{
    pthread_mutex_lock(&c->lock);
    struct memo *m = memo_slot(c, db, id);
    m->db = db;
    m->incident_id = id;
    m->stamp = *stamp;
    memcpy(m->hash, hash, GRAPH_HASH_BYTES);
    pthread_mutex_unlock(&c->lock);
}

enum stk_err svc_graph_model(struct db *db, long long incident_id, struct graph_model *out,
                             struct stk_error *err)
{
    graph_model_init(out);
    struct graph_entity_row *ents = NULL, *conns = NULL;
    struct graph_edge_row *edges = NULL;
    size_t n_ents = 0, n_conns = 0, n_edges = 0;
    struct incident in;
    enum stk_err rc = db_read_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    rc = store_incidents_get(db, incident_id, &in, err);
    if (rc == STK_OK) {
        rc = store_graph_entities(db, incident_id, GRAPH_MAX_ENTITIES + 1, &ents, &n_ents, err);
    }
    if (rc == STK_OK && n_ents > GRAPH_MAX_ENTITIES) {
        rc = stk_error_set(err, STK_ETOOBIG,
                           "the incident has more than %d entities, the most a graph shows",
                           GRAPH_MAX_ENTITIES);
    }
    if (rc == STK_OK) {
        rc = store_graph_connectors(db, incident_id, GRAPH_MAX_CONNECTORS, &conns, &n_conns, err);
    }
    if (rc == STK_OK) {
        rc = store_graph_edges(db, incident_id, GRAPH_MAX_CONNECTORS, GRAPH_MAX_EDGES + 1, &edges,
                               &n_edges, err);
    }
    if (rc == STK_OK && n_edges > GRAPH_MAX_EDGES) {
        rc = stk_error_set(err, STK_ETOOBIG,
                           "the incident's entities have more than %d relations, the most a "
                           "graph shows",
                           GRAPH_MAX_EDGES);
    }
    db_read_end(db);
    for (size_t i = 0; rc == STK_OK && i < n_ents + n_conns; i++) {
        const struct graph_entity_row *e = i < n_ents ? &ents[i] : &conns[i - n_ents];
        rc = graph_model_add_node(out, e->id, e->kind, e->key, e->name, e->critical, e->on_path,
                                  e->severity >= 0 && e->severity <= 3 ? e->severity : -1,
                                  i >= n_ents);
        if (rc == STK_EINVAL) {
            /* A kind this server does not know (a newer writer): leave it out. */
            rc = STK_OK;
        }
    }
    for (size_t i = 0; rc == STK_OK && i < n_edges; i++) {
        rc = graph_model_add_edge(out, edges[i].src, edges[i].dst, edges[i].kind);
    }
    if (rc == STK_OK) {
        rc = graph_model_canonicalize(out);
    }
    free(ents);
    free(conns);
    free(edges);
    if (rc != STK_OK) {
        graph_model_release(out);
        if (rc == STK_ENOMEM) {
            stk_error_set(err, rc, "out of memory");
        }
    }
    return rc;
}

int svc_graph_etag_matches(const char *list, const char *etag)
{
    if (list == NULL) {
        return 0;
    }
    size_t elen = strlen(etag);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '*') {
            return 1;
        }
        /* If-None-Match compares weakly (RFC 9110 13.1.2): W/ is ignored. */
        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        const char *end = p;
        if (*end == '"') {
            end = strchr(end + 1, '"');
            end = end ? end + 1 : p + strlen(p);
        } else {
            while (*end != '\0' && *end != ',') {
                end++;
            }
        }
        if ((size_t)(end - p) == elen && memcmp(p, etag, elen) == 0) {
            return 1;
        }
        if (end == p) {
            break;
        }
        p = end;
    }
    return 0;
}

static const char *const format_name[GRAPH_FORMAT_N] = {"svg", "json"};

static struct graph_doc *doc_new(const unsigned char *hash, int grouped, int format)
{
    struct graph_doc *d = calloc(1, sizeof(*d));
    if (d != NULL) {
        atomic_init(&d->refs, 1);
        memcpy(d->hash, hash, GRAPH_HASH_BYTES);
        d->grouped = grouped;
        d->format = format;
    }
    return d;
}

/* Roughly what a laid-out model holds in memory. */
static size_t layout_bytes(const struct graph_model *m)
{
    size_t n = sizeof(*m) + m->n_nodes * sizeof(*m->nodes) + m->n_edges * sizeof(*m->edges);
    for (size_t i = 0; i < m->n_nodes; i++) {
        n += strlen(m->nodes[i].key) + strlen(m->nodes[i].name) + 2 +
             (m->nodes[i].members ? (size_t)m->nodes[i].count * sizeof(long long) : 0);
    }
    for (size_t i = 0; i < m->n_edges; i++) {
        n += m->edges[i].n_pts * sizeof(struct graph_point);
    }
    return n;
}

/* The laid-out model of (hash, grouped): cached, or laid out now from `m`
 * (taken over: `m` is left empty) under the Graphviz lock and cached.
 * Another request may have laid the same graph out while this one waited
 * for the lock: then its layout is used. */
static enum stk_err layout_of(struct graph_cache *c, struct graph_model *m,
                              const unsigned char *hash, int grouped, struct graph_doc **out,
                              struct stk_error *err)
{
    enum stk_err rc = STK_OK;
    pthread_mutex_lock(&c->gv_lock);
    *out = lookup(c, hash, grouped, LAYOUT);
    if (*out == NULL && c->engine == NULL) {
        rc = graph_engine_new(&c->engine, err);
    }
    if (*out == NULL && rc == STK_OK) {
        rc = graph_layout(c->engine, m, err);
    }
    pthread_mutex_unlock(&c->gv_lock);
    if (*out != NULL || rc != STK_OK) {
        return rc;
    }
    struct graph_doc *d = doc_new(hash, grouped, LAYOUT);
    struct graph_model *owned = malloc(sizeof(*owned));
    if (d == NULL || owned == NULL) {
        free(d);
        free(owned);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    *owned = *m;
    graph_model_init(m);
    d->layout = owned;
    d->len = layout_bytes(owned);
    insert(c, d);
    *out = d;
    return STK_OK;
}

/* Renders `q->format` from a cached layout and caches the document. */
static enum stk_err render(struct graph_cache *c, const struct graph_doc *lay,
                           const struct graph_query *q, struct graph_doc **out,
                           struct stk_error *err)
{
    *out = NULL;
    struct graph_doc *d = doc_new(lay->hash, q->grouped, (int)q->format);
    if (d == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    enum stk_err rc = q->format == GRAPH_FORMAT_SVG
                          ? graph_render_svg(lay->layout, &d->data, &d->len, err)
                          : graph_render_json(lay->layout, q->grouped, &d->data, &d->len, err);
    if (rc != STK_OK) {
        doc_put(d);
        return rc;
    }
    insert(c, d);
    *out = d;
    return STK_OK;
}

/* The model of the incident and its hash. */
static enum stk_err build(struct db *db, long long id, struct graph_model *raw, unsigned char *hash,
                          struct stk_error *err)
{
    graph_model_release(raw);
    enum stk_err rc = svc_graph_model(db, id, raw, err);
    if (rc == STK_OK) {
        rc = graph_model_hash(raw, hash);
        if (rc != STK_OK) {
            stk_error_set(err, rc, "out of memory");
        }
    }
    return rc;
}

static void make_etag(struct graph_result *out, const unsigned char *hash,
                      const struct graph_query *q)
{
    char hex[2 * GRAPH_HASH_BYTES + 1];
    for (int i = 0; i < GRAPH_HASH_BYTES; i++) {
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    }
    snprintf(out->etag, sizeof(out->etag), "\"%s.g%d.%s\"", hex, q->grouped ? 1 : 0,
             format_name[q->format]);
}

enum stk_err svc_graph_get(struct graph_cache *c, struct db *db, const struct graph_query *q,
                           struct graph_result *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (q->format < 0 || q->format >= GRAPH_FORMAT_N) {
        return stk_error_set(err, STK_EINVAL, "unknown graph format");
    }
    struct graph_model raw, grouped;
    graph_model_init(&raw);
    graph_model_init(&grouped);
    unsigned char hash[GRAPH_HASH_BYTES];
    struct graph_doc *lay = NULL;
    enum stk_err rc = STK_OK;
    /* The stamp comes first: the model read after it is at least as new. */
    struct graph_stamp stamp;
    int stamped = store_graph_stamp(db, &stamp, NULL) == STK_OK;
    int have_model = 0;
    if (!stamped || !memo_get(c, db, q->incident_id, &stamp, hash)) {
        rc = build(db, q->incident_id, &raw, hash, err);
        if (rc != STK_OK) {
            goto out;
        }
        have_model = 1;
        if (stamped) {
            memo_put(c, db, q->incident_id, &stamp, hash);
        }
    }
    make_etag(out, hash, q);
    if (svc_graph_etag_matches(q->if_none_match, out->etag)) {
        out->not_modified = 1;
        goto out;
    }
    out->doc = lookup(c, hash, q->grouped, (int)q->format);
    if (out->doc != NULL) {
        goto out;
    }
    lay = lookup(c, hash, q->grouped, LAYOUT);
    if (lay == NULL && !have_model) {
        /* Known hash, nothing cached for it any more: read the model. */
        rc = build(db, q->incident_id, &raw, hash, err);
        if (rc != STK_OK) {
            goto out;
        }
        make_etag(out, hash, q);
        out->doc = lookup(c, hash, q->grouped, (int)q->format);
        if (out->doc != NULL) {
            goto out;
        }
        lay = lookup(c, hash, q->grouped, LAYOUT);
    }
    if (lay == NULL) {
        struct graph_model *m = &raw;
        if (q->grouped) {
            rc = graph_model_group(&raw, &grouped, err);
            m = &grouped;
        }
        if (rc == STK_OK && m->n_nodes > GRAPH_LAYOUT_MAX_NODES) {
            rc = stk_error_set(err, STK_ETOOBIG, "the graph has %zu nodes%s; at most %d are drawn",
                               m->n_nodes, q->grouped ? " even grouped" : " (ask for grouped=1)",
                               GRAPH_LAYOUT_MAX_NODES);
        }
        if (rc == STK_OK) {
            rc = layout_of(c, m, hash, q->grouped, &lay, err);
        }
    }
    if (rc == STK_OK) {
        rc = render(c, lay, q, &out->doc, err);
    }
out:
    doc_put(lay);
    graph_model_release(&raw);
    graph_model_release(&grouped);
    if (out->doc != NULL) {
        out->data = out->doc->data;
        out->len = out->doc->len;
    }
    return rc;
}

void svc_graph_result_release(struct graph_result *r)
{
    doc_put(r->doc);
    r->doc = NULL;
    r->data = NULL;
    r->len = 0;
}
