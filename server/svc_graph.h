/* The incident graph as the API serves it: the model built from the store,
 * grouped on request, laid out with Graphviz and rendered (graph.c), and
 * an in-memory cache of the renderings keyed by the content hash, so that
 * an unchanged incident is served without Graphviz and a changed one never
 * is served stale. No SQL, no civetweb types. */
#ifndef STK_SVC_GRAPH_H
#define STK_SVC_GRAPH_H

#include <stddef.h>

#include "db.h"
#include "graph.h"

/* Bounds of the cache (STYLE 4): entries (layouts and rendered documents)
 * and their bytes. A 1,000-entity graph renders to 1.7 MB of SVG; its
 * layout holds about 0.6 MB. */
#define SVC_GRAPH_CACHE_ENTRIES 256
#define SVC_GRAPH_CACHE_BYTES (96u << 20)

enum graph_format { GRAPH_FORMAT_SVG = 0, GRAPH_FORMAT_JSON, GRAPH_FORMAT_N };

/* The cache and the Graphviz context with the lock that serialises every
 * Graphviz call (Graphviz is not thread-safe). One per server, in struct
 * app. */
struct graph_cache;

/* Caller owns `*out`; free with svc_graph_cache_free(). */
enum stk_err svc_graph_cache_new(size_t max_entries, size_t max_bytes, struct graph_cache **out,
                                 struct stk_error *err);
/* Frees the cache; documents still held by callers stay valid until they
 * release them. Accepts NULL. */
void svc_graph_cache_free(struct graph_cache *c);
/* Drops every cached document (benchmarks measure cold renders). */
void svc_graph_cache_clear(struct graph_cache *c);
/* Documents and bytes held now. */
void svc_graph_cache_usage(struct graph_cache *c, size_t *entries, size_t *bytes);

/* Builds the ungrouped, canonical model of incident `incident_id`: its
 * entities with their strongest alert severity in this incident, critical
 * and attack-path flags; the inventory entities that connect two or more
 * of them (context); the edges among all of these. STK_ENOTFOUND for an
 * unknown incident; STK_ETOOBIG past GRAPH_MAX_ENTITIES entities or
 * GRAPH_MAX_EDGES edges. Caller releases `out` (graph_model_release()),
 * which is empty on failure. */
enum stk_err svc_graph_model(struct db *db, long long incident_id, struct graph_model *out,
                             struct stk_error *err);

struct graph_query {
    long long incident_id;
    int grouped; /* collapse similar entities (the default view) */
    enum graph_format format;
    const char *if_none_match; /* the client's If-None-Match value, or NULL */
};

/* A rendered document shared with the cache. */
struct graph_doc;

struct graph_result {
    char etag[96];    /* quoted entity tag: content hash, grouping, format */
    int not_modified; /* the client holds this version: no document */
    const char *data; /* the document (borrowed from `doc`) */
    size_t len;
    struct graph_doc *doc;
};

/* The graph of an incident in `q->format`: from the cache when the
 * incident's graph content (hence its hash) is unchanged, else laid out
 * and rendered now (the layout and the document are cached: the other
 * format is then rendered from the same layout). While nothing at all was
 * written to the database since this connection last read the incident's
 * model, the hash is known without reading it again (a cached answer then
 * costs microseconds, not a model read). `out->not_modified` is set
 * instead of a document when `q->if_none_match` names the current entity
 * tag. Errors as svc_graph_model(), and STK_ETOOBIG when the graph to lay
 * out has more than GRAPH_LAYOUT_MAX_NODES nodes. Release `out` with
 * svc_graph_result_release() either way. */
enum stk_err svc_graph_get(struct graph_cache *c, struct db *db, const struct graph_query *q,
                           struct graph_result *out, struct stk_error *err);
void svc_graph_result_release(struct graph_result *r);

/* 1 when the If-None-Match value `list` ("*", or entity tags separated by
 * commas, weak or strong) names `etag` (a quoted tag). */
int svc_graph_etag_matches(const char *list, const char *etag);

#endif
