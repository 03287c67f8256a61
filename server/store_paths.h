/* SQL for attack_paths and attack_path_members, and the reads of edges and
 * entities the attack path search walks (svc_paths.c). */
#ifndef STK_STORE_PATHS_H
#define STK_STORE_PATHS_H

#include "db.h"
#include "store_edges.h"

#define PATH_KEY_LEN 16
#define PATH_TITLE_MAX 512

struct attack_path {
    long long id;
    unsigned char key[PATH_KEY_LEN];
    long long entry, target;
    int risk; /* 0 low .. 3 critical */
    int score;
    int hops;
    char title[PATH_TITLE_MAX];
    char *steps; /* JSON array text, owned */
    long long computed_at;
};

/* Frees the steps of `n` paths and the array. Accepts NULL. */
void store_paths_free(struct attack_path *list, size_t n);
/* Frees p->steps. */
void store_path_release(struct attack_path *p);

/* Caller owns `out` contents (store_path_release()). STK_ENOTFOUND when
 * there is no such path. */
enum stk_err store_paths_get(struct db *db, long long id, struct attack_path *out,
                             struct stk_error *err);

struct path_filter {
    unsigned risk_mask; /* 1 << risk; 0 = any */
    long long target;   /* entity id, 0 = any */
    long long entry;    /* entity id, 0 = any */
    long long member;   /* paths through this entity, 0 = any */
    int has_cursor;
    int cur_risk;
    long long cur_id;
    int limit;
};
/* One page, highest risk first, then newest id first (keyset on risk and
 * id). Caller owns `*rows` (store_paths_free()). */
enum stk_err store_paths_list(struct db *db, const struct path_filter *f, struct attack_path **rows,
                              size_t *count, struct stk_error *err);
/* Paths per risk level under `f` (risk_mask, cursor and limit ignored). */
enum stk_err store_paths_counts(struct db *db, const struct path_filter *f, long long counts[4],
                                struct stk_error *err);

/* ---- writes (inside the caller's transaction) ---- */

/* Ids and keys of the paths starting at `entry`. Caller owns `*rows`
 * (store_paths_free(); steps are NULL). */
enum stk_err store_paths_of_entry(struct db *db, long long entry, struct attack_path **rows,
                                  size_t *count, struct stk_error *err);
/* Inserts `p` (`*created` 1) or, when a path with its key exists, rewrites
 * it in place if its risk, title or steps differ (computed_at then moves);
 * `*id` is the path's id. */
enum stk_err store_paths_put(struct db *db, const struct attack_path *p, long long *id,
                             int *created, struct stk_error *err);
/* Deletes path `id` and its members. */
enum stk_err store_paths_delete(struct db *db, long long id, struct stk_error *err);
/* Replaces the members of path `id` with `ids` (duplicates ignored). */
enum stk_err store_paths_set_members(struct db *db, long long id, const long long *ids, size_t n,
                                     struct stk_error *err);
/* Distinct entry points of the paths that run through `entity_id` (or, with
 * 0, of every path). Caller owns `*ids` (free()). */
enum stk_err store_paths_entries(struct db *db, long long entity_id, long long **ids, size_t *count,
                                 struct stk_error *err);

/* ---- the graph the search walks ---- */

#define PATH_KINDS_MAX 4

/* One edge of a traversal kind. */
struct path_arc {
    long long other; /* the destination (or, reading backwards, the source) */
    char kind[EDGE_KIND_MAX];
    int other_critical; /* the destination's crown; 0 when reading backwards */
};
/* Edges of the `n_kinds` (at most PATH_KINDS_MAX) `kinds` from `id`, by
 * destination then kind, or with `reverse` the edges to `id` by source.
 * Caller owns `*arcs` (free()). */
enum stk_err store_paths_arcs(struct db *db, long long id, const char *const *kinds, int n_kinds,
                              int reverse, struct path_arc **arcs, size_t *count,
                              struct stk_error *err);

#endif
