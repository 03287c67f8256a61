/* SQL for the edges table: typed relations between entities. */
#ifndef STK_STORE_EDGES_H
#define STK_STORE_EDGES_H

#include "db.h"

#define EDGE_KIND_MAX 32

struct edge {
    long long id, src, dst;
    char kind[EDGE_KIND_MAX];
    char source[16];
    char *props; /* JSON text, owned */
    long long first_seen, last_seen;
};

/* Releases `n` edges and the array. Accepts NULL. */
void store_edges_free(struct edge *list, size_t n);

/* Inserts the edge or moves its last_seen forward (never back). `props`
 * (JSON text, may be NULL) replaces the stored properties when given. */
enum stk_err store_edges_upsert(struct db *db, long long src, long long dst, const char *kind,
                                const char *source, const char *props, long long seen_ms,
                                struct stk_error *err);
/* Edges whose two ends are both in incident `incident_id`'s entities, at
 * most `limit`. Caller owns `*list`. */
enum stk_err store_edges_of_incident(struct db *db, long long incident_id, int limit,
                                     struct edge **list, size_t *count, struct stk_error *err);
/* Edges from or to `entity_id`, at most `limit`. Caller owns `*list`. */
enum stk_err store_edges_of_entity(struct db *db, long long entity_id, int limit,
                                   struct edge **list, size_t *count, struct stk_error *err);

/* The edge (src, dst, kind): `*found` 1 and `*props` its properties (JSON
 * text, caller frees), or `*found` 0 and `*props` NULL. */
enum stk_err store_edges_find(struct db *db, long long src, long long dst, const char *kind,
                              int *found, char **props, struct stk_error *err);
/* The other ends of the `kind` edges of `id`: their destinations (edges
 * from `id`), or with `reverse` their sources (edges to `id`), by id, at most
 * `limit`. Caller owns `*ids` (free()). */
enum stk_err store_edges_ends(struct db *db, long long id, const char *kind, int reverse,
                              int limit, long long **ids, size_t *count, struct stk_error *err);

#endif
