/* The posture inventory: entities and edges posted by agents and scripts
 * (POST /api/v1/inventory), Trivy image scans (POST /api/v1/ingest/trivy),
 * critical assets, and the entity pane (GET /api/v1/entities/{id}). Every
 * change recomputes the attack paths it can affect (svc_paths.h) in the
 * same transaction, and is audited once. docs/inventory.md has the format
 * and the rules. */
#ifndef STK_SVC_INVENTORY_H
#define STK_SVC_INVENTORY_H

#include <jansson.h>

#include "alert.h"
#include "db.h"
#include "identity.h"
#include "ingest_trivy.h"
#include "store_edges.h"
#include "store_entities.h"
#include "store_inventory.h"
#include "svc_paths.h"

#define INVENTORY_MAX_ENTITIES 5000
#define INVENTORY_MAX_EDGES 20000
#define INVENTORY_PROPS_MAX 65536 /* bytes of one entity's or edge's properties (compact JSON) */

/* ---- POST /api/v1/inventory ---- */

struct inv_entity {
    int kind;         /* enum entity_kind */
    const char *key;  /* borrowed from the batch's document */
    const char *name; /* NULL: unchanged (new entities: the key's last part) */
    json_t *props;    /* borrowed object; NULL: unchanged */
    int critical;     /* -1: unchanged */
};

struct inv_edge {
    const char *from, *to, *kind; /* borrowed */
    char *props;                  /* owned compact JSON text; NULL: unchanged */
};

struct inventory_batch {
    json_t *doc; /* owns the borrowed strings */
    struct inv_entity *entities;
    size_t n_entities;
    struct inv_edge *edges;
    size_t n_edges;
};

void svc_inventory_batch_release(struct inventory_batch *b);

/* Parses and checks an inventory body (strict keys). `bound_cluster` ("" for
 * none) is the cluster the caller's token is bound to: keys naming another
 * cluster are STK_EFORBIDDEN. On failure `out` is empty and `rej` names the
 * first bad element ("entities[3].key: ...", index 3): STK_EINVAL,
 * STK_ETOOBIG past the limits above, STK_EFORBIDDEN, STK_ENOMEM. */
enum stk_err svc_inventory_parse(const char *body, size_t len, const char *bound_cluster,
                                 struct inventory_batch *out, struct ingest_reject *rej);

/* True when `kind` is an edge kind the inventory accepts. */
int svc_inventory_edge_kind_ok(const char *kind);

struct inventory_result {
    long entities, entities_created, entities_changed;
    long edges, edges_created, edges_changed;
    struct paths_stats paths;
};

/* Stores `b` in one transaction: entity properties merged (top-level keys
 * replace, null removes), crowns set (incident impact refreshed), edges
 * upserted, attack paths of what changed recomputed, one audit entry. An
 * edge whose end is neither in the batch nor stored is STK_EINVAL with
 * `rej` set (index into edges); nothing is stored then. Other failures
 * leave `rej->reason` empty and say why in `err`. */
enum stk_err svc_inventory_apply(struct db *db, const struct paths_settings *ps,
                                 const struct inventory_batch *b, const struct actor *by,
                                 struct inventory_result *out, struct ingest_reject *rej,
                                 struct stk_error *err);

/* ---- POST /api/v1/ingest/trivy ---- */

#define TRIVY_IMAGES_MAX TRIVY_MAX_NAMES

struct trivy_result {
    long long scan_id;
    char digest[SCAN_DIGEST_MAX];
    int replaced; /* a scan of this digest existed */
    long long counts[VULN_SEV_N];
    long long images[TRIVY_IMAGES_MAX];        /* image entity ids, in report order */
    const char *image_names[TRIVY_IMAGES_MAX]; /* borrowed from the report or `image` */
    size_t n_images;
    struct paths_stats paths;
};

/* Stores `r` as the scan of its digest, replacing a previous scan of that
 * digest, links it to its image entities (image:REPO:TAG from RepoTags, or
 * `image` when not NULL, else ArtifactName; created when new) and
 * recomputes the attack paths of the workloads running them. One
 * transaction, one audit entry. */
enum stk_err svc_inventory_trivy(struct db *db, const struct paths_settings *ps,
                                 const struct trivy_report *r, const char *image,
                                 const struct actor *by, struct trivy_result *out,
                                 struct stk_error *err);

/* ---- recomputation on request ---- */

/* Recomputes every attack path (after alerts brought edges the inventory
 * did not: ingestion does not trigger a recomputation); audited as
 * attack_paths.recompute. */
enum stk_err svc_inventory_recompute_paths(struct db *db, const struct paths_settings *ps,
                                           const struct actor *by, struct paths_stats *out,
                                           struct stk_error *err);

/* ---- critical assets ---- */

/* Marks entity `id` critical (or not), refreshes the impact of its
 * incidents and recomputes the attack paths that can reach it; audited as
 * entity.critical. Caller owns `out` contents (store_entity_release()). */
enum stk_err svc_inventory_set_critical(struct db *db, const struct paths_settings *ps,
                                        const struct actor *by, long long id, int critical,
                                        struct entity *out, struct stk_error *err);

/* ---- the entity pane ---- */

#define PANE_ALERTS 50
#define PANE_INCIDENTS 50
#define PANE_EDGES 200
#define PANE_VULNS 20
#define PANE_PATHS 20

struct entity_pane {
    struct entity e;
    json_t *details; /* kind-specific facts ({"namespace","node",...}); owned */
    int internet_exposed;
    int has_vulns; /* images and workloads */
    long long vulns[VULN_SEV_N];
    struct image_scan *scans;   /* entity_id: the image entity each is current for */
    struct entity *scan_images; /* parallel to scans */
    size_t n_scans;
    struct vuln_row *top; /* most severe findings first */
    size_t n_top;
    struct entity_alert *alerts; /* latest first */
    size_t n_alerts;
    long long alerts_total;
    struct entity_incident *incidents; /* open first */
    size_t n_incidents;
    struct edge *edges;
    struct entity *neighbours; /* parallel to edges: the other end */
    size_t n_edges;
    struct attack_path *paths; /* through this entity, highest risk first */
    size_t n_paths;
    long long path_counts[RISK_N];
};

/* Everything the side pane shows about entity `id`. Caller releases `out`
 * with svc_inventory_pane_release(). */
enum stk_err svc_inventory_pane(struct db *db, long long id, struct entity_pane *out,
                                struct stk_error *err);
void svc_inventory_pane_release(struct entity_pane *p);

#endif
