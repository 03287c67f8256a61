/* The wording of attack paths (svc_paths.c): what a step says about its
 * entity, its risk factors and remediation, and the risk score. Part of the
 * svc_paths module; docs/inventory.md lists the texts. */
#ifndef STK_SVC_PATHS_FACTS_H
#define STK_SVC_PATHS_FACTS_H

#include <jansson.h>

#include "alert.h"
#include "db.h"

struct path_facts {
    int kind; /* enum entity_kind */
    char key[ALERT_KEY_MAX];
    char name[ALERT_NAME_MAX];
    char label[ALERT_NAME_MAX]; /* props.type ("managed identity"), else the kind name */
    int critical;
    int exposed;              /* 0 no, 1 directly, 2 through a service */
    char via[ALERT_NAME_MAX]; /* the service it is exposed through */
    long long vuln_critical, vuln_high;
    char cves[200]; /* up to three ids of the worst findings, ", "-separated */
};

/* Reads the facts of entity `id`; `internet` is the id of the "internet:"
 * pseudo-entity (0 when there is none). */
enum stk_err svc_paths_facts_load(struct db *db, long long internet, long long id,
                                  struct path_facts *f, struct stk_error *err);

/* True for an entry point: a workload, node or cloud resource exposed to
 * the internet, or a workload running an image with high or critical
 * findings. */
int svc_paths_facts_is_entry(const struct path_facts *f);

/* One step as stored: {"entity","edge","risk_factors","remediation"} for
 * entity `f` (id `id`) reached from `prev` over an edge of `kind` (NULL for
 * the entry point) with properties `edge_props` (may be NULL). Raises
 * `*exposed` and `*vuln` (3 critical, 2 high findings) for the score. NULL
 * on ENOMEM. Caller owns the result. */
json_t *svc_paths_facts_step(const struct path_facts *f, long long id,
                             const struct path_facts *prev, const char *kind, json_t *edge_props,
                             int *exposed, int *vuln);

/* The risk level (enum path_risk) of a path, and its points in `*score`. */
int svc_paths_facts_risk(int exposed, int vuln, int hops, int *score);

#endif
