/* SQL for alerts, alert_entities, behaviour_seen and the hunting tables. */
#ifndef STK_STORE_ALERTS_H
#define STK_STORE_ALERTS_H

#include "alert.h"
#include "db.h"
#include "store_entities.h"

#define ALERT_IKEY_LEN 24 /* 8-byte big-endian time + 16-byte hash */

struct alert_row {
    long long id;
    long long incident_id;
    int provider; /* enum provider */
    char rule[ALERT_NAME_MAX];
    char title[ALERT_NAME_MAX];
    char *description; /* owned */
    int severity;      /* enum severity */
    int tactic;        /* enum tactic */
    char technique[ALERT_TECHNIQUE_MAX];
    long long first_ts, last_ts;
    char cluster[ALERT_CLUSTER_MAX];
    char *evidence; /* owned JSON text */
    int pinned;
    long long created_at;
};

void store_alert_release(struct alert_row *a);
/* Releases `n` rows and the array. Accepts NULL. */
void store_alerts_free(struct alert_row *list, size_t n);

/* Sets `*exists` when an alert with this idempotency key is stored. */
enum stk_err store_alerts_exists(struct db *db, const unsigned char ikey[ALERT_IKEY_LEN],
                                 int *exists, struct stk_error *err);
/* Inserts `a` (its id is ignored) and returns the new id. */
enum stk_err store_alerts_insert(struct db *db, const unsigned char ikey[ALERT_IKEY_LEN],
                                 const struct alert_row *a, long long *id, struct stk_error *err);
/* Records that alert `alert_id` (activity time `ts`) involves `entity_id`. */
enum stk_err store_alerts_link(struct db *db, long long alert_id, long long entity_id,
                               long long ts, struct stk_error *err);
/* The incidents of the nearest linking alerts involving `entity_id` before
 * and after `ts` within `window_ms` (0 when none). */
enum stk_err store_alerts_neighbours(struct db *db, long long entity_id, long long ts,
                                     long long window_ms, long long *before, long long *after,
                                     struct stk_error *err);

/* Caller owns `out` contents (store_alert_release()). */
enum stk_err store_alerts_get(struct db *db, long long id, struct alert_row *out,
                              struct stk_error *err);
/* The alerts of an incident, oldest first, at most `limit`. Caller owns
 * `*rows` (store_alerts_free()). */
enum stk_err store_alerts_by_incident(struct db *db, long long incident_id, int limit,
                                      struct alert_row **rows, size_t *count,
                                      struct stk_error *err);
/* The entities an alert involves. Caller owns `*list` (store_entities_free()). */
enum stk_err store_alerts_entities(struct db *db, long long alert_id, struct entity **list,
                                   size_t *count, struct stk_error *err);

/* Puts one alert into `incident_id` by an analyst's hand: it becomes
 * pinned and stops linking new alerts. */
enum stk_err store_alerts_pin_to(struct db *db, long long alert_id, long long incident_id,
                                 struct stk_error *err);
/* Moves every alert of incident `from` into `to` (merges). */
enum stk_err store_alerts_reassign(struct db *db, long long from, long long to,
                                   struct stk_error *err);
/* Lets the unpinned alerts of an incident link new alerts (corr 1) or not
 * (corr 0, while it is resolved). */
enum stk_err store_alerts_set_linking(struct db *db, long long incident_id, int corr,
                                      struct stk_error *err);

/* Records behaviour `key`; `*novel` is 1 the first time it is seen. */
enum stk_err store_behaviour_seen(struct db *db, const char *key, long long ts, int *novel,
                                  struct stk_error *err);

/* Hunting rows; duplicates (same key) are ignored. */
enum stk_err store_hunting_insert_proc(struct db *db, const struct proc_event *p,
                                       struct stk_error *err);
enum stk_err store_hunting_insert_audit(struct db *db, const struct audit_k8s_event *e,
                                        struct stk_error *err);

/* The 24-byte index key of an alert from its time and hash. */
void store_alerts_ikey(unsigned char out[ALERT_IKEY_LEN], long long ts,
                       const unsigned char hash[16]);

#endif
