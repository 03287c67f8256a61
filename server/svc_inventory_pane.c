/* The entity side pane: one entity with what surrounds it (alerts,
 * incidents, edges and their other ends, vulnerabilities, attack paths),
 * read in one snapshot, and the facts of its kind picked from its
 * properties and edges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_inventory.h"

void svc_inventory_pane_release(struct entity_pane *p)
{
    if (p == NULL) {
        return;
    }
    store_entity_release(&p->e);
    json_decref(p->details);
    free(p->scans);
    store_entities_free(p->scan_images, p->n_scans);
    free(p->top);
    free(p->alerts);
    free(p->incidents);
    store_edges_free(p->edges, p->n_edges);
    store_entities_free(p->neighbours, p->n_edges);
    store_paths_free(p->paths, p->n_paths);
    memset(p, 0, sizeof(*p));
}

/* The first of `names` present (and not null) in `props`, or null. New
 * reference. */
static json_t *pick(const json_t *props, const char *const *names)
{
    for (const char *const *n = names; *n != NULL; n++) {
        json_t *v = json_object_get(props, *n);
        if (v != NULL && !json_is_null(v)) {
            return json_incref(v);
        }
    }
    return json_null();
}

#define PICK(...) pick(props, (const char *const[]){__VA_ARGS__, NULL})

/* Part `i` (0-based, '/'-separated) of the key after "kind:", or null. */
static json_t *key_part(const char *key, int i)
{
    const char *p = strchr(key, ':');
    p = p != NULL ? p + 1 : key;
    for (; i > 0 && p != NULL; i--) {
        p = strchr(p, '/');
        p = p != NULL ? p + 1 : NULL;
    }
    if (p == NULL) {
        return json_null();
    }
    const char *end = strchr(p, '/');
    return json_stringn(p, end != NULL ? (size_t)(end - p) : strlen(p));
}

/* `v` unless it is null, else `fallback` (both new references). */
static json_t *either(json_t *v, json_t *fallback)
{
    if (!json_is_null(v)) {
        json_decref(fallback);
        return v;
    }
    json_decref(v);
    return fallback;
}

static int has_string(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return 1;
        }
    }
    return 0;
}

static void add_string(json_t *list, const char *s)
{
    if (s != NULL && s[0] != '\0' && !has_string(list, s) && json_array_size(list) < 64) {
        json_array_append_new(list, json_string(s));
    }
}

/* The name of the first neighbour over an edge of `kind` going out of the
 * entity, or null. */
static json_t *neighbour_named(const struct entity_pane *p, const char *kind)
{
    for (size_t i = 0; i < p->n_edges; i++) {
        if (p->edges[i].src == p->e.id && strcmp(p->edges[i].kind, kind) == 0) {
            return json_string(p->neighbours[i].name);
        }
    }
    return json_null();
}

/* The images a workload runs, from its properties, its from-image edges and
 * the scans found for it. */
static json_t *images_of(const struct entity_pane *p, const json_t *props)
{
    json_t *list = json_array();
    if (list == NULL) {
        return NULL;
    }
    add_string(list, json_string_value(json_object_get(props, "image")));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(props, "images"), i, v)
    {
        add_string(list, json_string_value(v));
    }
    for (i = 0; i < p->n_edges; i++) {
        if (p->edges[i].src == p->e.id && strcmp(p->edges[i].kind, "from-image") == 0) {
            add_string(list, p->neighbours[i].name);
        }
    }
    for (i = 0; i < p->n_scans; i++) {
        add_string(list, p->scan_images[i].name);
    }
    return list;
}

static json_t *pod_details(const struct entity_pane *p, const json_t *props)
{
    const char *key = p->e.key;
    json_t *isolated = json_object_get(props, "isolated");
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}}",
                     "cluster", either(PICK("cluster"), key_part(key, 0)), "namespace",
                     either(PICK("namespace"), key_part(key, 1)), "node",
                     either(PICK("node", "node_name"), neighbour_named(p, "runs-on")), "images",
                     images_of(p, props), "labels", either(PICK("labels"), json_object()), "status",
                     PICK("status", "phase"), "isolated", json_is_true(isolated), "restarts",
                     PICK("restarts", "restart_count"), "ip", PICK("ip", "pod_ip"),
                     "service_account", PICK("service_account", "serviceAccountName"), "owner",
                     PICK("owner", "deployment"), "response_target", "cluster", key_part(key, 0),
                     "namespace", key_part(key, 1), "pod", key_part(key, 2));
}

static json_t *details_of(const struct entity_pane *p, const json_t *props)
{
    const char *key = p->e.key;
    switch (p->e.kind) {
    case ENT_POD:
        return pod_details(p, props);
    case ENT_CLUSTER:
        return json_pack("{s:o, s:o, s:o, s:{s:o, s:o}, s:o}", "cloud", PICK("cloud"), "region",
                         PICK("region", "location"), "kubernetes_version",
                         PICK("kubernetes_version", "version"), "network_policy", "plugin",
                         PICK("network_policy", "network_policy_plugin"), "version",
                         PICK("network_policy_version"), "agent", PICK("agent"));
    case ENT_SERVICE:
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "cluster", key_part(key, 0),
                         "namespace", either(PICK("namespace"), key_part(key, 1)), "type",
                         PICK("type"), "cluster_ip", PICK("cluster_ip"), "external_ip",
                         PICK("external_ip", "public_ip"), "ports", PICK("ports"),
                         "internet_exposed", p->internet_exposed != 0);
    case ENT_IMAGE:
    case ENT_CONTAINER:
    case ENT_DEPLOYMENT:
        return json_pack("{s:o, s:o, s:o, s:o, s:o}", "namespace", PICK("namespace"), "images",
                         images_of(p, props), "digest", PICK("digest"), "os", PICK("os"),
                         "registry", neighbour_named(p, "hosted-in"));
    case ENT_REGISTRY:
        return json_pack("{s:s}", "host", p->e.name);
    case ENT_IDENTITY:
        return json_pack("{s:o, s:o, s:o}", "type", PICK("type", "kind"), "cloud", PICK("cloud"),
                         "cluster", p->e.cluster[0] ? json_string(p->e.cluster) : json_null());
    case ENT_IP:
        return json_pack("{s:s, s:b, s:o}", "address", p->e.name, "anonymising_proxy",
                         json_is_true(json_object_get(props, "anonymising_proxy")), "service",
                         PICK("service", "cloud"));
    case ENT_CLOUD_RESOURCE:
        return json_pack("{s:o, s:o, s:o, s:o}", "provider", PICK("provider", "cloud"), "type",
                         PICK("type"), "group", PICK("resource_group", "project"), "region",
                         PICK("region", "location"));
    default:
        return json_pack("{s:o}", "cluster",
                         p->e.cluster[0] ? json_string(p->e.cluster) : json_null());
    }
}

static int runs_images(int kind)
{
    return kind == ENT_IMAGE || kind == ENT_POD || kind == ENT_CONTAINER || kind == ENT_DEPLOYMENT;
}

static enum stk_err read_vulns(struct db *db, struct entity_pane *p, struct stk_error *err)
{
    p->has_vulns = 1;
    enum stk_err rc = store_inventory_entity_scans(db, p->e.id, &p->scans, &p->n_scans, err);
    if (rc == STK_OK && p->n_scans > 0) {
        p->scan_images = calloc(p->n_scans, sizeof(*p->scan_images));
        rc = p->scan_images ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == STK_OK && i < p->n_scans; i++) {
        for (int s = 0; s < VULN_SEV_N; s++) {
            p->vulns[s] += p->scans[i].counts[s];
        }
        rc = store_entities_get(db, p->scans[i].entity_id, &p->scan_images[i], err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_entity_vulns(db, p->e.id, VULN_UNKNOWN, PANE_VULNS, &p->top, &p->n_top,
                                          err);
    }
    return rc;
}

static enum stk_err read_edges(struct db *db, struct entity_pane *p, struct stk_error *err)
{
    enum stk_err rc = store_edges_of_entity(db, p->e.id, PANE_EDGES, &p->edges, &p->n_edges, err);
    if (rc == STK_OK && p->n_edges > 0) {
        p->neighbours = calloc(p->n_edges, sizeof(*p->neighbours));
        rc = p->neighbours ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == STK_OK && i < p->n_edges; i++) {
        long long other = p->edges[i].src == p->e.id ? p->edges[i].dst : p->edges[i].src;
        rc = store_entities_get(db, other, &p->neighbours[i], err);
    }
    return rc;
}

enum stk_err svc_inventory_pane(struct db *db, long long id, struct entity_pane *out,
                                struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    char via[ALERT_NAME_MAX];
    enum stk_err rc = db_read_begin(db, err);
    if (rc == STK_OK) {
        rc = store_entities_get(db, id, &out->e, err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_entity_alerts(db, id, PANE_ALERTS, &out->alerts, &out->n_alerts,
                                           &out->alerts_total, err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_entity_incidents(db, id, PANE_INCIDENTS, &out->incidents,
                                              &out->n_incidents, err);
    }
    if (rc == STK_OK) {
        rc = read_edges(db, out, err);
    }
    if (rc == STK_OK) {
        rc = svc_paths_exposure(db, id, &out->internet_exposed, via, sizeof(via), err);
    }
    if (rc == STK_OK && runs_images(out->e.kind)) {
        rc = read_vulns(db, out, err);
    }
    struct path_filter f = {.member = id, .limit = PANE_PATHS};
    if (rc == STK_OK) {
        rc = store_paths_list(db, &f, &out->paths, &out->n_paths, err);
    }
    if (rc == STK_OK) {
        rc = store_paths_counts(db, &f, out->path_counts, err);
    }
    db_read_end(db);
    if (rc == STK_OK) {
        json_error_t jerr;
        json_t *props = json_loads(out->e.props, 0, &jerr);
        out->details = details_of(out, props);
        json_decref(props);
        rc = out->details ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    if (rc != STK_OK) {
        svc_inventory_pane_release(out);
    }
    return rc;
}
