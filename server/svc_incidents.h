/* Incidents: the queue, the incident record, triage and the analyst's
 * corrections to correlation (merge, move, split), critical assets and the
 * incident report. */
#ifndef STK_SVC_INCIDENTS_H
#define STK_SVC_INCIDENTS_H

#include <jansson.h>

#include "db.h"
#include "identity.h"
#include "store_alerts.h"
#include "store_incidents.h"

/* Writes in->title from its tactics and counts and the main entity
 * (kind/name/cluster; kind < 0 when there is none). `single` is the alert
 * title used while the incident holds one alert. */
void svc_incidents_title(struct incident *in, const char *single, int main_kind,
                         const char *main_name, const char *main_cluster);
/* Recomputes every machine-kept field of incident `id` from its alerts and
 * entities and saves it (after merges, moves and splits). */
enum stk_err svc_incidents_recompute(struct db *db, long long id, long long now,
                                     struct stk_error *err);
/* Merges incident `from` into `into` (alerts, entities, history on both).
 * Inside the caller's transaction. */
enum stk_err svc_incidents_merge_into(struct db *db, long long from, long long into,
                                      const char *actor, long long now, struct stk_error *err);

/* The queue. */
struct incident_facets {
    long long status[INC_STATUS_N];
    long long severity[4];
    long long source[4];
    long long classification[4];
    struct {
        char name[64];
        long long n;
    } assignee[32];
    int n_assignees;
    int exact;
};

struct incident_page {
    struct incident *rows;
    size_t count;
    int has_more; /* a next page exists: its cursor is built from the last row */
    struct incident_facets facets;
};
void svc_incidents_page_release(struct incident_page *p);
/* Lists one page under `f` (limit honoured) and the counts per facet value
 * with every other filter applied. */
enum stk_err svc_incidents_list(struct db *db, const struct incident_filter *f,
                                struct incident_page *out, struct stk_error *err);

/* The full record. */
struct incident_detail {
    struct incident in;
    struct alert_row *alerts;
    size_t n_alerts;
    int alerts_truncated;
    struct entity **alert_entities; /* per alert */
    size_t *n_alert_entities;
    struct entity *entities;
    size_t n_entities;
    struct incident_note *comments;
    size_t n_comments;
    struct incident_note *history;
    size_t n_history;
};
void svc_incidents_detail_release(struct incident_detail *d);
/* `max_alerts` bounds the alerts loaded. */
enum stk_err svc_incidents_get(struct db *db, long long id, int max_alerts,
                               struct incident_detail *out, struct stk_error *err);

/* One alert with its entities. */
enum stk_err svc_alerts_get(struct db *db, long long id, struct alert_row *out,
                            struct entity **entities, size_t *n, struct stk_error *err);

/* Triage: any subset of the fields. */
struct incident_change {
    int has_status, status;
    int has_assignee;
    char assignee[64];
    int has_classification, classification;
    int has_determination;
    char determination[64];
    int has_tags;
    char tags[INCIDENT_TAGS_MAX]; /* JSON array text, validated by the caller */
};
enum stk_err svc_incidents_update(struct db *db, const struct actor *by, long long id,
                                  const struct incident_change *ch, struct incident *out,
                                  struct stk_error *err);
enum stk_err svc_incidents_comment(struct db *db, const struct actor *by, long long id,
                                   const char *text, struct incident_note *out,
                                   struct stk_error *err);
/* Merges each of `ids` into `into`. */
enum stk_err svc_incidents_merge(struct db *db, const struct actor *by, long long into,
                                 const long long *ids, size_t n, struct incident *out,
                                 struct stk_error *err);
/* Moves one alert into another incident (pinned there). */
enum stk_err svc_alerts_move(struct db *db, const struct actor *by, long long alert_id,
                             long long incident_id, struct alert_row *out,
                             struct stk_error *err);
/* Splits `alert_ids` of incident `id` into a new incident. */
enum stk_err svc_incidents_split(struct db *db, const struct actor *by, long long id,
                                 const long long *alert_ids, size_t n, struct incident *out,
                                 struct stk_error *err);

/* Enabled users holding Alerts: Manage (who incidents can be assigned to),
 * by name, password hashes wiped. Caller owns `*out` (free()). */
enum stk_err svc_incidents_assignees(struct db *db, struct user **out, size_t *count,
                                     struct stk_error *err);

/* The deterministic report of an incident: the same alerts give the same
 * report, byte for byte (svc_report.c). `*in` receives the incident; caller
 * owns `*out`: {"summary","sections":[...],"entities":[...],"responses":[...]}. */
enum stk_err svc_incidents_report(struct db *db, long long id, struct incident *in, json_t **out,
                                  struct stk_error *err);

#endif
