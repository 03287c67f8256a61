/* Attack paths: from entry points (internet-exposed workloads, workloads
 * running images with high or critical vulnerabilities) through identities
 * to critical assets, each step with its risk factors and remediation.
 * docs/inventory.md states the rules; the short version:
 *
 * - Traversal edges: uses-identity, member-of, can-access (what an attacker
 *   holding the source can use).
 * - Search: breadth-first from each entry point, at most max_hops edges,
 *   each entity once (cycles end there), the nearest max_per_entry critical
 *   assets (ties by entity id), at most PATHS_MAX_VISITED entities per entry.
 * - Incremental: after a change, only the entry points within max_hops
 *   (backwards over traversal edges) of a changed entity, and those whose
 *   stored paths run through one, are searched again. */
#ifndef STK_SVC_PATHS_H
#define STK_SVC_PATHS_H

#include "db.h"
#include "store_paths.h"

enum path_risk { RISK_LOW = 0, RISK_MEDIUM, RISK_HIGH, RISK_CRITICAL, RISK_N };

/* "low" .. "critical"; "" when out of range. */
const char *svc_paths_risk_name(int risk);
/* The level of a name, -1 when unknown. */
int svc_paths_risk_parse(const char *s);

#define PATHS_PER_ENTRY 20      /* default max_per_entry */
#define PATHS_MAX_VISITED 50000 /* entities one search may visit */
#define PATHS_INTERNET_KEY "internet:"

struct paths_settings {
    int max_hops;      /* attack_path_max_hops, 1 to 16 */
    int max_per_entry; /* paths kept per entry point */
};

/* What a recomputation did. */
struct paths_stats {
    long entities_checked; /* candidates whose paths were recomputed */
    long entry_points;     /* of those, entry points */
    long paths;            /* paths stored for them */
};

/* True when edges of `kind` are walked by the search. */
int svc_paths_is_traversal(const char *kind);

/* ---- the search, on any graph ---- */

struct pgraph;

/* A graph read lazily from `db` (edges of traversal kinds, the crowns of
 * their destinations), or with `db` NULL an in-memory graph the caller
 * builds with svc_paths_graph_add_edge(). Caller owns `*out`
 * (svc_paths_graph_free()). */
enum stk_err svc_paths_graph_new(struct db *db, struct pgraph **out, struct stk_error *err);
void svc_paths_graph_free(struct pgraph *g);
/* In-memory graphs: adds an edge (edges of other than traversal kinds are
 * ignored) and sets an entity's crown. */
enum stk_err svc_paths_graph_add_edge(struct pgraph *g, long long src, long long dst,
                                      const char *kind, struct stk_error *err);
enum stk_err svc_paths_graph_set_critical(struct pgraph *g, long long id, int critical,
                                          struct stk_error *err);

/* One path found: `n` entity ids from the entry to the critical asset and
 * the n - 1 edge kinds between them (static strings). */
struct path_hit {
    size_t n;
    long long *ids;
    const char **kinds;
};
void svc_paths_hits_free(struct path_hit *hits, size_t n);
/* The paths from `entry`: at most s->max_per_entry, each at most
 * s->max_hops edges, nearest critical asset first. Caller owns `*hits`. */
enum stk_err svc_paths_search(struct pgraph *g, long long entry, const struct paths_settings *s,
                              struct path_hit **hits, size_t *count, struct stk_error *err);

/* ---- stored paths (inside the caller's transaction) ---- */

/* Recomputes the paths of every entry point whose paths can depend on the
 * `n` entities in `changed` (the incremental rule above). `now` stamps
 * them. */
enum stk_err svc_paths_refresh(struct db *db, const struct paths_settings *s,
                               const long long *changed, size_t n, long long now,
                               struct paths_stats *stats, struct stk_error *err);
/* Recomputes every path from scratch. */
enum stk_err svc_paths_recompute_all(struct db *db, const struct paths_settings *s, long long now,
                                     struct paths_stats *stats, struct stk_error *err);

/* ---- the API ---- */

struct path_page {
    struct attack_path *rows;
    size_t count;
    int has_more;
    long long counts[RISK_N]; /* per risk level, with the other filters */
};
void svc_paths_page_release(struct path_page *p);
/* One page under `f` (limit honoured). */
enum stk_err svc_paths_list(struct db *db, const struct path_filter *f, struct path_page *out,
                            struct stk_error *err);
/* One path. Caller owns `out` contents (store_path_release()). */
enum stk_err svc_paths_get(struct db *db, long long id, struct attack_path *out,
                           struct stk_error *err);
/* Whether entity `id` is exposed to the internet: 1 by an edge of its own,
 * 2 through a service that routes to it (its name in `via`), else 0. */
enum stk_err svc_paths_exposure(struct db *db, long long id, int *exposed, char *via,
                                size_t via_size, struct stk_error *err);
/* The id of the entity with `key`; STK_ENOTFOUND when there is none. */
enum stk_err svc_paths_entity_id(struct db *db, const char *key, long long *id,
                                 struct stk_error *err);

#endif
