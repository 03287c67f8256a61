/* SQL for cluster_facts and cluster_pods: what each cluster's agent last
 * reported (docs/agents.md, "facts"). */
#ifndef STK_STORE_CLUSTERS_H
#define STK_STORE_CLUSTERS_H

#include "db.h"

struct cluster_facts {
    char cluster[65];
    long long agent_id;
    char agent_version[32];
    char kubernetes_version[64];
    char cloud[32];
    char np_plugin[32];
    char np_version[64];
    long long pods;
    int truncated; /* the report left pods out: an unreported pod may exist */
    long long reported_at; /* ms; 0: never reported */
    int connected;
    long long last_seen_at; /* ms */
    char address[64];
};

struct cluster_pod {
    char ns[254];
    char name[254];
    char phase[32];
    char *labels; /* JSON object text; owned in results of store_clusters_pod() */
    int isolated;
};

/* Replaces the facts of `f->cluster` (connected and last_seen included). */
enum stk_err store_clusters_put(struct db *db, const struct cluster_facts *f,
                                struct stk_error *err);
/* STK_ENOTFOUND (no message) when the cluster never reported. */
enum stk_err store_clusters_get(struct db *db, const char *cluster, struct cluster_facts *out,
                                struct stk_error *err);
/* Marks the agent of `cluster` connected or not, seen at `ts`. */
enum stk_err store_clusters_seen(struct db *db, const char *cluster, int connected, long long ts,
                                 struct stk_error *err);
/* Clears the pods of `cluster` (before store_clusters_pod_put() for each). */
enum stk_err store_clusters_pods_clear(struct db *db, const char *cluster, struct stk_error *err);
enum stk_err store_clusters_pod_put(struct db *db, const char *cluster, const struct cluster_pod *p,
                                    struct stk_error *err);
/* Sets the phase and isolated flag of one pod (after an action). */
enum stk_err store_clusters_pod_set(struct db *db, const char *cluster, const char *ns,
                                    const char *name, const char *phase, int isolated,
                                    struct stk_error *err);
/* Caller frees out->labels. STK_ENOTFOUND (no message) when not reported. */
enum stk_err store_clusters_pod(struct db *db, const char *cluster, const char *ns,
                                const char *name, struct cluster_pod *out, struct stk_error *err);
/* Names of the pods of `ns` in `cluster` whose labels include every
 * key/value of `selector` (JSON object text), at most `limit`. Caller owns
 * `*names` (free()); each element is 254 bytes. */
enum stk_err store_clusters_pods_matching(struct db *db, const char *cluster, const char *ns,
                                          const char *selector, int limit, char (**names)[254],
                                          size_t *count, struct stk_error *err);

#endif
