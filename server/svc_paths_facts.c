/* What a path step says about an entity (its kind, name, exposure and
 * vulnerabilities), the risk factors and remediation of each step, and the
 * risk score: the wording of attack paths, kept apart from the search. */
#include "svc_paths_facts.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "store_edges.h"
#include "store_entities.h"
#include "store_inventory.h"
#include "svc_paths.h"

#define ENDS_LIMIT 100000 /* services read per workload */
#define TEXT_MAX 8192     /* one risk factor or remediation text */

static int is_workload(int kind)
{
    return kind == ENT_POD || kind == ENT_CONTAINER || kind == ENT_DEPLOYMENT;
}

/* Services, addresses, images and the like lead to entry points; they are
 * not entry points themselves. */
static int is_entry_kind(int kind)
{
    return is_workload(kind) || kind == ENT_NODE || kind == ENT_CLOUD_RESOURCE;
}

/* Whether `id` is exposed: an exposed-to-internet edge of its own (1), or
 * one of a service that routes to it (2, with the service's name in `via`). */
static enum stk_err exposure_of(struct db *db, long long internet, long long id, int *exposed,
                                char *via, size_t via_size, struct stk_error *err)
{
    char *props = NULL;
    int found = 0;
    *exposed = 0;
    via[0] = '\0';
    if (internet == 0) {
        return STK_OK;
    }
    enum stk_err rc =
        store_edges_find(db, id, internet, "exposed-to-internet", &found, &props, err);
    free(props);
    if (rc != STK_OK || found) {
        *exposed = found;
        return rc;
    }
    long long *srcs = NULL;
    size_t n = 0;
    rc = store_edges_ends(db, id, "routes-to", 1, ENDS_LIMIT, &srcs, &n, err);
    for (size_t i = 0; rc == STK_OK && i < n && !found; i++) {
        rc = store_edges_find(db, srcs[i], internet, "exposed-to-internet", &found, &props, err);
        free(props);
        props = NULL;
        if (rc == STK_OK && found) {
            struct entity e;
            rc = store_entities_get(db, srcs[i], &e, err);
            if (rc == STK_OK) {
                *exposed = 2;
                snprintf(via, via_size, "%s", e.name);
            }
            store_entity_release(&e);
        }
    }
    free(srcs);
    return rc;
}

enum stk_err svc_paths_exposure(struct db *db, long long id, int *exposed, char *via,
                                size_t via_size, struct stk_error *err)
{
    long long internet = 0;
    int critical;
    *exposed = 0;
    via[0] = '\0';
    enum stk_err rc = store_entities_find(db, PATHS_INTERNET_KEY, &internet, &critical, err);
    if (rc == STK_ENOTFOUND) {
        return STK_OK;
    }
    return rc == STK_OK ? exposure_of(db, internet, id, exposed, via, via_size, err) : rc;
}

static enum stk_err vulnerabilities(struct db *db, long long id, struct path_facts *f,
                                    struct stk_error *err)
{
    struct image_scan *scans = NULL;
    size_t n = 0;
    enum stk_err rc = store_inventory_entity_scans(db, id, &scans, &n, err);
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        f->vuln_critical += scans[i].counts[VULN_CRITICAL];
        f->vuln_high += scans[i].counts[VULN_HIGH];
    }
    free(scans);
    if (rc != STK_OK || f->vuln_critical + f->vuln_high == 0) {
        return rc;
    }
    struct vuln_row *rows = NULL;
    rc = store_inventory_entity_vulns(db, id, VULN_HIGH, 32, &rows, &n, err);
    int listed = 0;
    for (size_t i = 0; rc == STK_OK && i < n && listed < 3; i++) {
        if (strstr(f->cves, rows[i].vuln_id) != NULL ||
            strlen(f->cves) + strlen(rows[i].vuln_id) + 3 > sizeof(f->cves)) {
            continue;
        }
        if (listed > 0) {
            strcat(f->cves, ", ");
        }
        strcat(f->cves, rows[i].vuln_id);
        listed++;
    }
    free(rows);
    return rc;
}

enum stk_err svc_paths_facts_load(struct db *db, long long internet, long long id,
                                  struct path_facts *f, struct stk_error *err)
{
    memset(f, 0, sizeof(*f));
    struct entity e;
    enum stk_err rc = store_entities_get(db, id, &e, err);
    if (rc == STK_OK) {
        f->kind = e.kind;
        f->critical = e.critical;
        snprintf(f->key, sizeof(f->key), "%s", e.key);
        snprintf(f->name, sizeof(f->name), "%s", e.name);
        json_error_t jerr;
        json_t *props = json_loads(e.props, 0, &jerr);
        const char *type = json_string_value(json_object_get(props, "type"));
        snprintf(f->label, sizeof(f->label), "%s",
                 type != NULL && type[0] != '\0' ? type : alert_entity_kind_name(e.kind));
        json_decref(props);
    }
    store_entity_release(&e);
    if (rc == STK_OK && is_entry_kind(f->kind)) {
        rc = exposure_of(db, internet, id, &f->exposed, f->via, sizeof(f->via), err);
    }
    if (rc == STK_OK && is_workload(f->kind)) {
        rc = vulnerabilities(db, id, f, err);
    }
    return rc;
}

int svc_paths_facts_is_entry(const struct path_facts *f)
{
    return is_entry_kind(f->kind) &&
           (f->exposed || (is_workload(f->kind) && f->vuln_critical + f->vuln_high > 0));
}

/* ---- one path: steps, risk, title ---- */

static int contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s != '\0'; s++) {
        if (strncasecmp(s, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Appends {"code","text"} built from a printf format. */
static int add_factor(json_t *list, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_factor(json_t *list, const char *code, const char *fmt, ...)
{
    char text[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s, s:s}", "code", code, "text", text);
    return o == NULL || json_array_append_new(list, o) != 0;
}

static int add_remedy(struct buf *b, const char *text)
{
    return buf_printf(b, "%s%s.", b->len > 0 ? " " : "", text) != STK_OK;
}

/* The risk factors and remediation of step `i` (entity `f`, reached from
 * `prev` over an edge of `kind` with properties `edge_props`). Sets
 * `*exposed` and `*vuln` (3 critical, 2 high) for the score. */
json_t *svc_paths_facts_step(const struct path_facts *f, long long id,
                             const struct path_facts *prev, const char *kind, json_t *edge_props,
                             int *exposed, int *vuln)
{
    json_t *factors = json_array();
    struct buf rem;
    buf_init(&rem, TEXT_MAX);
    int bad = factors == NULL;
    if (kind == NULL && f->exposed) {
        *exposed = 1;
        bad |= f->exposed == 2 ? add_factor(factors, "internet-exposed",
                                            "Exposed to the internet through service %s", f->via)
                               : add_factor(factors, "internet-exposed", "Exposed to the internet");
        bad |= add_remedy(&rem, "Remove the public IP / put the service behind an ingress with "
                                "authentication");
    }
    if (f->vuln_critical + f->vuln_high > 0) {
        *vuln = f->vuln_critical > 0 ? 3 : (*vuln > 2 ? *vuln : 2);
        char counts[96];
        if (f->vuln_critical > 0 && f->vuln_high > 0) {
            snprintf(counts, sizeof(counts), "%lld critical and %lld high-severity",
                     f->vuln_critical, f->vuln_high);
        } else {
            snprintf(counts, sizeof(counts), "%lld %s", f->vuln_critical + f->vuln_high,
                     f->vuln_critical > 0 ? "critical" : "high-severity");
        }
        bad |= add_factor(factors, "vulnerable-image", "Runs images with %s vulnerabilities (%s)",
                          counts, f->cves);
        char text[400];
        snprintf(text, sizeof(text),
                 "Patch the image: %lld critical, %lld high vulnerabilities (%s)", f->vuln_critical,
                 f->vuln_high, f->cves);
        bad |= add_remedy(&rem, text);
    }
    const char *role = json_string_value(json_object_get(edge_props, "role"));
    if (kind != NULL && strcmp(kind, "uses-identity") == 0) {
        bad |= add_factor(factors, "workload-identity", "%s %s can act as %s %s", prev->label,
                          prev->name, f->label, f->name);
        bad |= add_remedy(&rem, "Give the workload an identity of its own with only the "
                                "permissions it needs, or stop mounting the identity's token "
                                "(automountServiceAccountToken: false)");
    } else if (kind != NULL && strcmp(kind, "member-of") == 0) {
        bad |= add_factor(factors, "group-membership",
                          "%s is a member of %s and inherits its "
                          "access",
                          prev->name, f->name);
        char text[600];
        snprintf(text, sizeof(text), "Remove %s from %s, or narrow the group's permissions",
                 prev->name, f->name);
        bad |= add_remedy(&rem, text);
    } else if (kind != NULL) {
        bad |= role != NULL
                   ? add_factor(factors, "can-access", "%s can access %s (role %s)", prev->name,
                                f->name, role)
                   : add_factor(factors, "can-access", "%s can access %s", prev->name, f->name);
        bad |= add_remedy(&rem, prev->kind != ENT_IDENTITY
                                    ? "Restrict network access from the workload to the resource "
                                      "(NetworkPolicy, firewall rules)"
                                : contains_ci(prev->label, "managed identity")
                                    ? "Scope the managed identity's role assignment to the "
                                      "resources it needs"
                                    : "Scope the identity's role assignment to the resources it "
                                      "needs");
    }
    if (kind != NULL && f->critical) {
        bad |=
            add_factor(factors, "critical-asset", "%s %s is a critical asset", f->label, f->name);
    }
    json_t *edge = kind == NULL ? json_null()
                                : json_pack("{s:s, s:o}", "kind", kind, "properties",
                                            edge_props ? json_incref(edge_props) : json_object());
    json_t *step =
        json_pack("{s:{s:I, s:s, s:s, s:s, s:s, s:b}, s:o, s:o, s:o}", "entity", "id",
                  (json_int_t)id, "kind", alert_entity_kind_name(f->kind), "key", f->key, "name",
                  f->name, "label", f->label, "critical", f->critical, "edge", edge, "risk_factors",
                  factors, "remediation", rem.len > 0 ? json_string(rem.data) : json_null());
    buf_release(&rem);
    if (bad) {
        json_decref(step);
        return NULL;
    }
    return step;
}

/* Points: exposure 3; critical vulnerabilities 3, high 2; a critical
 * target 1; four hops or more -1. Levels: 6 critical, 4 high, 3 medium. */
int svc_paths_facts_risk(int exposed, int vuln, int hops, int *score)
{
    *score = (exposed ? 3 : 0) + vuln + 1 - (hops >= 4 ? 1 : 0);
    return *score >= 6   ? RISK_CRITICAL
           : *score >= 4 ? RISK_HIGH
           : *score >= 3 ? RISK_MEDIUM
                         : RISK_LOW;
}
