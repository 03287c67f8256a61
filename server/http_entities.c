/* /api/v1/entities/{id}: the entity side pane and critical assets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http_handlers.h"
#include "svc_inventory.h"

static const char *const status_names[] = {"active", "in_progress", "resolved", "merged"};

static json_t *json_text(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text != NULL && text[0] ? text : "{}", 0, &jerr);
    return v != NULL ? v : json_object();
}

/* The short form other entities appear in (edges, scans). */
static json_t *entity_ref_json(const struct entity *e)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:b}", "id", (json_int_t)e->id, "kind",
                     alert_entity_kind_name(e->kind), "key", e->key, "name", e->name, "critical",
                     e->critical);
}

static json_t *entity_json(const struct entity *e)
{
    json_t *o = entity_ref_json(e);
    if (o != NULL) {
        json_object_set_new(o, "cluster", json_string(e->cluster));
        json_object_set_new(o, "properties", json_text(e->props));
        json_object_set_new(o, "first_seen", http_json_time_ms(e->first_seen));
        json_object_set_new(o, "last_seen", http_json_time_ms(e->last_seen));
    }
    return o;
}

static json_t *counts_json(const long long *c)
{
    long long total = 0;
    for (int s = 0; s < VULN_SEV_N; s++) {
        total += c[s];
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "critical", (json_int_t)c[VULN_CRITICAL],
                     "high", (json_int_t)c[VULN_HIGH], "medium", (json_int_t)c[VULN_MEDIUM], "low",
                     (json_int_t)c[VULN_LOW], "unknown", (json_int_t)c[VULN_UNKNOWN], "total",
                     (json_int_t)total);
}

static json_t *vulns_json(const struct entity_pane *p)
{
    if (!p->has_vulns) {
        return json_null();
    }
    json_t *images = json_array(), *top = json_array();
    for (size_t i = 0; i < p->n_scans; i++) {
        const struct image_scan *s = &p->scans[i];
        json_t *img = entity_ref_json(&p->scan_images[i]);
        json_object_set_new(img, "digest", json_string(s->digest));
        json_object_set_new(img, "os", json_string(s->os));
        json_object_set_new(img, "scanned_at", http_json_time_ms(s->scanned_at));
        json_object_set_new(img, "counts", counts_json(s->counts));
        json_array_append_new(images, img);
    }
    for (size_t i = 0; i < p->n_top; i++) {
        const struct vuln_row *v = &p->top[i];
        json_array_append_new(top, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
                                             v->vuln_id, "package", v->package, "installed",
                                             v->installed, "fixed", v->fixed, "severity",
                                             store_inventory_severity_name(v->severity), "title",
                                             v->title, "url", v->url));
    }
    return json_pack("{s:o, s:o, s:o}", "counts", counts_json(p->vulns), "images", images, "top",
                     top);
}

static json_t *related_json(const struct entity_pane *p)
{
    json_t *alerts = json_array(), *incidents = json_array();
    for (size_t i = 0; i < p->n_alerts; i++) {
        const struct entity_alert *a = &p->alerts[i];
        json_array_append_new(
            alerts,
            json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)a->id,
                      "incident_id", (json_int_t)a->incident_id, "title", a->title, "rule", a->rule,
                      "provider", alert_provider_name(a->provider), "severity",
                      alert_severity_name(a->severity), "tactic", alert_tactic_name(a->tactic),
                      "first_activity", http_json_time_ms(a->first_ts), "last_activity",
                      http_json_time_ms(a->last_ts)));
    }
    for (size_t i = 0; i < p->n_incidents; i++) {
        const struct entity_incident *in = &p->incidents[i];
        json_array_append_new(
            incidents,
            json_pack("{s:I, s:s, s:s, s:s, s:b, s:I, s:I, s:o}", "id", (json_int_t)in->id, "title",
                      in->title, "severity", alert_severity_name(in->severity), "status",
                      in->status >= 0 && in->status < 4 ? status_names[in->status] : "",
                      "high_impact", in->high_impact, "alert_count", (json_int_t)in->alert_count,
                      "entity_alert_count", (json_int_t)in->entity_alerts, "last_activity",
                      http_json_time_ms(in->last_ts)));
    }
    return json_pack("{s:o, s:I, s:o}", "alerts", alerts, "alerts_total",
                     (json_int_t)p->alerts_total, "incidents", incidents);
}

static json_t *graph_json(const struct entity_pane *p)
{
    json_t *edges = json_array(), *paths = json_array(), *counts = json_object();
    for (size_t i = 0; i < p->n_edges; i++) {
        const struct edge *e = &p->edges[i];
        json_array_append_new(edges, json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id",
                                               (json_int_t)e->id, "kind", e->kind, "direction",
                                               e->src == p->e.id ? "out" : "in", "source",
                                               e->source, "properties", json_text(e->props),
                                               "first_seen", http_json_time_ms(e->first_seen),
                                               "last_seen", http_json_time_ms(e->last_seen),
                                               "entity", entity_ref_json(&p->neighbours[i])));
    }
    for (size_t i = 0; i < p->n_paths; i++) {
        const struct attack_path *a = &p->paths[i];
        json_array_append_new(paths, json_pack("{s:I, s:s, s:s, s:i}", "id", (json_int_t)a->id,
                                               "risk", svc_paths_risk_name(a->risk), "title",
                                               a->title, "hops", a->hops));
    }
    for (int r = 0; r < RISK_N; r++) {
        json_object_set_new(counts, svc_paths_risk_name(r), json_integer(p->path_counts[r]));
    }
    return json_pack("{s:o, s:b, s:{s:o, s:o}}", "edges", edges, "edges_truncated",
                     p->n_edges >= PANE_EDGES, "attack_paths", "counts", counts, "items", paths);
}

int http_entities_get(struct http_req *r)
{
    long long id = http_parse_id(r->params[0]);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such entity");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct entity_pane p;
    enum stk_err rc = svc_inventory_pane(r->db, id, &p, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "entity_get_failed");
    }
    json_t *body = entity_json(&p.e);
    json_object_set_new(body, "details", json_incref(p.details));
    json_object_set_new(body, "internet_exposed", json_boolean(p.internet_exposed));
    json_object_set_new(body, "vulnerabilities", vulns_json(&p));
    json_object_update_new(body, related_json(&p));
    json_object_update_new(body, graph_json(&p));
    svc_inventory_pane_release(&p);
    return http_reply_json(r, 200, body);
}

int http_entities_update(struct http_req *r)
{
    long long id = http_parse_id(r->params[0]);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such entity");
    }
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"critical"};
    json_t *crit = json_object_get(in, "critical");
    int ok = http_json_keys_ok(in, keys, 1) && json_is_boolean(crit);
    int critical = json_is_true(crit);
    json_decref(in);
    if (!ok) {
        return http_reply_error(r, STK_EINVAL, "expected {\"critical\": true|false}");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct paths_settings ps = {.max_hops = (int)r->app->cfg.attack_path_max_hops,
                                .max_per_entry = PATHS_PER_ENTRY};
    struct actor by = http_actor(r);
    struct entity e;
    enum stk_err rc = svc_inventory_set_critical(r->db, &ps, &by, id, critical, &e, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "entity_update_failed");
    }
    json_t *body = entity_json(&e);
    json_object_set_new(body, "alert_count", json_integer(e.alert_count));
    store_entity_release(&e);
    return http_reply_json(r, 200, body);
}
