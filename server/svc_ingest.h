/* Storing an ingestion batch: alerts, hunting rows and the correlation of
 * alerts into incidents, all in one transaction (a 2xx means all of it is
 * committed, a failure leaves nothing behind). */
#ifndef STK_SVC_INGEST_H
#define STK_SVC_INGEST_H

#include "alert.h"
#include "db.h"
#include "identity.h"

struct ingest_settings {
    long long window_ms;    /* alerts sharing a pod, container, identity or IP */
    long long ns_window_ms; /* alerts sharing only a cluster and namespace */
    int path_max_hops;      /* attack paths: see svc_paths.h (0: do not refresh) */
};

struct ingest_result {
    long alerts_new;        /* stored now */
    long alerts_duplicate;  /* already stored (same idempotency key) */
    long alerts_suppressed; /* novelty rules: behaviour seen before */
    long incidents_created;
    long incidents_merged;
    long procs;  /* process events in the batch */
    long audits; /* audit events in the batch */
};

/* Stores `b` and correlates its alerts. `what` names the source for the
 * audit entry ("falco", "k8s-audit", "alerts"). */
enum stk_err svc_ingest_store(struct db *db, const struct ingest_settings *s,
                              const struct ingest_batch *b, const struct actor *by,
                              const char *what, struct ingest_result *out, struct stk_error *err);

/* The relations an alert implies between the entities it names together
 * ("the container runs in the pod"): from kind, to kind, edge kind. */
struct ingest_edge_rule {
    int from, to;
    const char *kind;
};
extern const struct ingest_edge_rule svc_ingest_edge_rules[];
extern const size_t svc_ingest_edge_rule_count;

/* The cluster an entity of an alert belongs to, from its key
 * ("pod:C/ns/name" with C the alert's cluster), into `out`; "" if none. */
void svc_ingest_entity_cluster(const struct entity_ref *e, const char *alert_cluster, char *out,
                               size_t n);

/* How strongly an entity kind names an incident (pod highest); used for the
 * incident's main entity. */
int svc_ingest_kind_rank(int kind);
/* The same for one entity: identities every request carries
 * (system:anonymous, system:node:...) rank lowest. */
int svc_ingest_entity_rank(int kind, const char *name);

#endif
