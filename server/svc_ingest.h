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

/* How strongly an entity kind names an incident (pod highest); used for the
 * incident's main entity. */
int svc_ingest_kind_rank(int kind);
/* The same for one entity: identities every request carries
 * (system:anonymous, system:node:...) rank lowest. */
int svc_ingest_entity_rank(int kind, const char *name);

#endif
