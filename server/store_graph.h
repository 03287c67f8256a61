/* SQL for the incident graph: an incident's entities with the facts the
 * graph shows, the inventory entities that connect them, and the edges
 * among all of these. Read-only; svc_graph.c runs these in one read
 * transaction so they see one snapshot. */
#ifndef STK_STORE_GRAPH_H
#define STK_STORE_GRAPH_H

#include "db.h"
#include "store_edges.h"

struct graph_entity_row {
    long long id;
    int kind; /* enum entity_kind */
    char key[512];
    char name[256];
    int critical;
    int on_path;  /* member of some attack path */
    int severity; /* strongest alert of this incident naming it; -1 none */
};

struct graph_edge_row {
    long long src, dst;
    char kind[EDGE_KIND_MAX];
};

/* The entities of incident `incident_id`, by id, at most `limit`. Caller
 * owns `*rows` (free()). */
enum stk_err store_graph_entities(struct db *db, long long incident_id, int limit,
                                  struct graph_entity_row **rows, size_t *count,
                                  struct stk_error *err);

/* Entities outside the incident that have edges to at least two of its
 * entities (the wider inventory linking them: a node two pods run on), the
 * `max_connectors` smallest ids. severity is -1. Caller owns `*rows`. */
enum stk_err store_graph_connectors(struct db *db, long long incident_id, int max_connectors,
                                    struct graph_entity_row **rows, size_t *count,
                                    struct stk_error *err);

/* Edges whose two ends are among the incident's entities and the
 * connectors above (same `max_connectors`), by (src, dst, kind), at most
 * `limit`. Caller owns `*rows` (free()). */
enum stk_err store_graph_edges(struct db *db, long long incident_id, int max_connectors, int limit,
                               struct graph_edge_row **rows, size_t *count, struct stk_error *err);

/* What the database looked like to this connection: commits by other
 * connections (PRAGMA data_version) and rows this connection changed. Two
 * equal stamps taken on one connection mean nothing was written in between
 * (a change that was rolled back may still change the stamp). */
struct graph_stamp {
    long long data_version;
    long long changes;
};
enum stk_err store_graph_stamp(struct db *db, struct graph_stamp *out, struct stk_error *err);

#endif
