/* SQL for image_scans, image_scan_entities and image_vulnerabilities (Trivy
 * reports), the inventory's updates of entity names and properties, and the
 * reads the entity pane joins across tables (an entity's alerts, incidents
 * and vulnerability counts). */
#ifndef STK_STORE_INVENTORY_H
#define STK_STORE_INVENTORY_H

#include "db.h"

/* Vulnerability severities, in Trivy's order (stored as these numbers). */
enum vuln_severity {
    VULN_UNKNOWN = 0,
    VULN_LOW,
    VULN_MEDIUM,
    VULN_HIGH,
    VULN_CRITICAL,
    VULN_SEV_N
};

/* "unknown", "low", ... as the API spells them; "" when out of range. */
const char *store_inventory_severity_name(int s);

#define SCAN_DIGEST_MAX 320 /* "ref:" + an image reference, or sha256:<64 hex> */
#define SCAN_TEXT_MAX 256

struct image_scan {
    long long id;
    char digest[SCAN_DIGEST_MAX];
    char artifact[SCAN_TEXT_MAX];
    char image_id[SCAN_TEXT_MAX];
    char os[SCAN_TEXT_MAX];
    long long report_time; /* the report's CreatedAt (ms), 0 when absent */
    long long scanned_at;  /* ms */
    long long counts[VULN_SEV_N];
    long long entity_id; /* in per-entity lists: the image entity this scan is current for */
};

/* One finding, borrowed strings (any may be "" but not NULL). */
struct vuln_in {
    const char *vuln_id, *package, *installed, *fixed, *title, *url;
    int severity; /* enum vuln_severity */
};

struct vuln_row {
    char vuln_id[SCAN_TEXT_MAX];
    char package[SCAN_TEXT_MAX];
    char installed[SCAN_TEXT_MAX];
    char fixed[1024];
    int severity;
    char title[1024];
    char url[2048];
};

/* ---- scans ---- */

/* The scan with `digest`; STK_ENOTFOUND (no message) when there is none. */
enum stk_err store_inventory_scan_find(struct db *db, const char *digest, struct image_scan *out,
                                       struct stk_error *err);
/* Inserts a scan (counts zero) or rewrites the facts of the one with the
 * same digest; `*id` is its id. */
enum stk_err store_inventory_scan_put(struct db *db, const struct image_scan *s, long long *id,
                                      struct stk_error *err);
/* Deletes every vulnerability of scan `id`. */
enum stk_err store_inventory_scan_clear(struct db *db, long long id, struct stk_error *err);
/* Adds one finding; a second with the same id, package and installed
 * version is ignored. */
enum stk_err store_inventory_vuln_add(struct db *db, long long scan_id, const struct vuln_in *v,
                                      struct stk_error *err);
/* Recounts scan `id` by severity from its stored findings. */
enum stk_err store_inventory_scan_recount(struct db *db, long long id, struct stk_error *err);
/* Makes scan `scan_id` the current one of image entity `entity_id`. */
enum stk_err store_inventory_scan_link(struct db *db, long long entity_id, long long scan_id,
                                       struct stk_error *err);
/* The image entities scan `scan_id` is current for, at most `limit`. Caller
 * owns `*ids` (free()). */
enum stk_err store_inventory_scan_entities(struct db *db, long long scan_id, int limit,
                                           long long **ids, size_t *count, struct stk_error *err);
/* Deletes the scans no image entity points at any more. */
enum stk_err store_inventory_scans_gc(struct db *db, struct stk_error *err);

/* The scans of the images entity `id` runs: its own scan when it is an
 * image, the images of its from-image edges, and those of the containers
 * that run in it (runs-in edges), each once. Caller owns `*list` (free()). */
enum stk_err store_inventory_entity_scans(struct db *db, long long id, struct image_scan **list,
                                          size_t *count, struct stk_error *err);
/* Findings of those scans at `min_severity` or above, most severe first,
 * then by id, at most `limit`. Caller owns `*rows` (free()). */
enum stk_err store_inventory_entity_vulns(struct db *db, long long id, int min_severity, int limit,
                                          struct vuln_row **rows, size_t *count,
                                          struct stk_error *err);
/* Workloads (sources of from-image edges) running an image whose current
 * scan has a high or critical finding, by id. Caller owns `*ids`. */
enum stk_err store_inventory_vulnerable_workloads(struct db *db, long long **ids, size_t *count,
                                                  struct stk_error *err);

/* ---- entities ---- */

/* Rewrites the name and properties (JSON text) of entity `id` and moves
 * last_seen forward to `seen_ms`. */
enum stk_err store_inventory_entity_update(struct db *db, long long id, const char *name,
                                           const char *props, long long seen_ms,
                                           struct stk_error *err);

/* An alert as the entity pane lists it. */
struct entity_alert {
    long long id, incident_id;
    int provider, severity, tactic; /* enum provider, severity, tactic */
    char rule[256];
    char title[256];
    long long first_ts, last_ts;
};
/* The alerts involving `id`, latest activity first, at most `limit`, and
 * how many there are in all. Caller owns `*rows` (free()). */
enum stk_err store_inventory_entity_alerts(struct db *db, long long id, int limit,
                                           struct entity_alert **rows, size_t *count,
                                           long long *total, struct stk_error *err);

/* An incident as the entity pane lists it. */
struct entity_incident {
    long long id;
    char title[512];
    int severity, status, high_impact;
    long long alert_count;   /* the incident's */
    long long entity_alerts; /* of those, the alerts involving the entity */
    long long last_ts;
};
/* The incidents involving `id` (merged ones left out): open ones (active,
 * in progress) first, then by latest activity, at most `limit`. Caller owns
 * `*rows` (free()). */
enum stk_err store_inventory_entity_incidents(struct db *db, long long id, int limit,
                                              struct entity_incident **rows, size_t *count,
                                              struct stk_error *err);

#endif
