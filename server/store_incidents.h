/* SQL for incidents, incident_entities, incident_cube, incident_history and
 * incident_comments. */
#ifndef STK_STORE_INCIDENTS_H
#define STK_STORE_INCIDENTS_H

#include "db.h"
#include "store_entities.h"

enum incident_status { INC_ACTIVE = 0, INC_IN_PROGRESS, INC_RESOLVED, INC_MERGED, INC_STATUS_N };

#define INCIDENT_TITLE_MAX 512
#define INCIDENT_TAGS_MAX 1024    /* JSON array text */
#define INCIDENT_CLUSTERS_MAX 512 /* JSON array text */

struct incident {
    long long id;
    char title[INCIDENT_TITLE_MAX];
    int severity; /* enum severity */
    int status;   /* enum incident_status */
    char assignee[64];
    int classification; /* enum classification */
    char determination[64];
    char tags[INCIDENT_TAGS_MAX];
    unsigned sources; /* 1 << enum provider */
    unsigned tactics; /* 1 << enum tactic */
    int high_impact;
    long long alert_count, entity_count;
    long long main_entity, main_count;
    char clusters[INCIDENT_CLUSTERS_MAX];
    long long first_ts, last_ts, created_at, updated_at;
    long long merged_into;
};

/* Inserts `in` (id ignored). */
enum stk_err store_incidents_insert(struct db *db, const struct incident *in, long long *id,
                                    struct stk_error *err);
enum stk_err store_incidents_get(struct db *db, long long id, struct incident *out,
                                 struct stk_error *err);
/* Writes the machine-kept fields: title, severity, sources, tactics,
 * high_impact, counts, main entity, clusters, times. */
enum stk_err store_incidents_save_aggregates(struct db *db, const struct incident *in,
                                             struct stk_error *err);
/* Writes the analyst-kept fields: status, assignee, classification,
 * determination, tags, updated_at. */
enum stk_err store_incidents_save_triage(struct db *db, const struct incident *in,
                                         struct stk_error *err);
/* Marks `id` merged into `into`. */
enum stk_err store_incidents_mark_merged(struct db *db, long long id, long long into,
                                         long long now, struct stk_error *err);

/* Adds `n` alerts' worth of `entity_id` to an incident (creating the link). */
enum stk_err store_incidents_add_entity(struct db *db, long long incident_id, long long entity_id,
                                        long long n, struct stk_error *err);
/* How many alerts of the incident involve the entity (0: none). */
enum stk_err store_incidents_entity_count(struct db *db, long long incident_id,
                                          long long entity_id, long long *count,
                                          struct stk_error *err);
/* Rebuilds incident_entities of `id` from its alerts (after moves). */
enum stk_err store_incidents_rebuild_entities(struct db *db, long long id,
                                              struct stk_error *err);
/* Moves incident_entities rows of `from` into `to`, summing counts. */
enum stk_err store_incidents_move_entities(struct db *db, long long from, long long to,
                                           struct stk_error *err);

/* Per-alert facts an incident's aggregates are recomputed from. */
struct incident_alert_fact {
    int severity, tactic, provider;
    long long first_ts, last_ts;
};
/* Calls `fn` for each alert of the incident. */
enum stk_err store_incidents_each_alert(struct db *db, long long id,
                                        void (*fn)(const struct incident_alert_fact *f, void *ctx),
                                        void *ctx, struct stk_error *err);
/* The entities of an incident, most alerts first, at most `limit`, with
 * entity.alert_count set to the per-incident count. Caller owns `*list`
 * (store_entities_free()). */
enum stk_err store_incidents_entities(struct db *db, long long id, int limit,
                                      struct entity **list, size_t *count, struct stk_error *err);
/* Recomputes high_impact of every incident that involves `entity_id`. */
enum stk_err store_incidents_refresh_impact(struct db *db, long long entity_id,
                                            struct stk_error *err);

/* Queue listing. */
enum incident_sort { SORT_ACTIVITY = 0, SORT_SEVERITY, SORT_ALERTS, SORT_N };

struct incident_filter {
    int status;               /* one status (uses the index), or -1 */
    unsigned status_mask;     /* when status < 0: 1 << status; 0 = all but merged */
    unsigned severity_mask;   /* 0 = any */
    unsigned source_mask;     /* incidents with any of these providers; 0 = any */
    unsigned class_mask;      /* 1 << classification (CLASS_NONE included); 0 = any */
    const char *assignee;     /* NULL = any, "" = unassigned */
    const char *cluster;      /* cluster name or NULL; svc resolves it to cluster_entity */
    long long cluster_entity; /* 0 = any */
    long long since, until;   /* activity overlapping [since, until]; 0 = open */
    const char *text_like;    /* LIKE pattern with '\' escapes, or NULL */
    int sort;                 /* enum incident_sort */
    int has_cursor;
    long long cur_key, cur_ts, cur_id; /* keyset: sort value, last_ts, id of the last row */
    int limit;
};

/* One page. Caller owns `*rows` (free()). */
enum stk_err store_incidents_list(struct db *db, const struct incident_filter *f,
                                  struct incident **rows, size_t *count, struct stk_error *err);

/* A group of incidents sharing the facet dimensions, with its size. */
struct incident_cell {
    int status, severity, classification;
    char assignee[64];
    unsigned sources;
    long long n;
};
/* The counters table (every incident, kept by triggers). Caller owns
 * `*cells` (free()). */
enum stk_err store_incidents_cube(struct db *db, struct incident_cell **cells, size_t *count,
                                  struct stk_error *err);
/* The same cells computed from at most `cap` incidents matching only the
 * filters the cube cannot answer (cluster, time, text); `*capped` is set
 * when there were more. */
enum stk_err store_incidents_scan_cells(struct db *db, const struct incident_filter *f, int cap,
                                        struct incident_cell **cells, size_t *count, int *capped,
                                        struct stk_error *err);

/* History and comments. */
struct incident_note {
    long long id, incident_id, ts;
    char actor[64];
    char kind[32]; /* history kind; "comment" for comments */
    char *text;    /* history summary or comment text; owned */
    char *details; /* JSON text (history only); owned, may be NULL */
};
void store_incident_notes_free(struct incident_note *list, size_t n);

enum stk_err store_incidents_history_add(struct db *db, long long incident_id, long long ts,
                                         const char *actor, const char *kind,
                                         const char *summary, const char *details,
                                         struct stk_error *err);
/* Newest first, at most `limit`. Caller owns `*list`. */
enum stk_err store_incidents_history(struct db *db, long long incident_id, int limit,
                                     struct incident_note **list, size_t *count,
                                     struct stk_error *err);
enum stk_err store_incidents_comment_add(struct db *db, long long incident_id, long long ts,
                                         const char *author, const char *text, long long *id,
                                         struct stk_error *err);
/* Oldest first, at most `limit`. Caller owns `*list`. */
enum stk_err store_incidents_comments(struct db *db, long long incident_id, int limit,
                                      struct incident_note **list, size_t *count,
                                      struct stk_error *err);

#endif
