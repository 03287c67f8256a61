/* POST /api/v1/inventory, POST /api/v1/ingest/trivy and /api/v1/attack-paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http_handlers.h"
#include "svc_inventory.h"

static struct paths_settings paths_settings(const struct http_req *r)
{
    return (struct paths_settings){.max_hops = (int)r->app->cfg.attack_path_max_hops,
                                   .max_per_entry = PATHS_PER_ENTRY};
}

static json_t *paths_json(const struct paths_stats *s)
{
    return json_pack("{s:I, s:I, s:I}", "entities_checked", (json_int_t)s->entities_checked,
                     "entry_points", (json_int_t)s->entry_points, "paths", (json_int_t)s->paths);
}

int http_inventory_post(struct http_req *r)
{
    char cluster[128];
    int st = http_request_cluster(r, cluster, sizeof(cluster));
    if (st != 0) {
        return st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    char *body = NULL;
    size_t len = 0;
    enum stk_err rc = http_read_body(r, &body, &len, &err);
    if (rc != STK_OK) {
        return http_reply_error(r, rc, err.msg);
    }
    struct inventory_batch b;
    struct ingest_reject rej;
    rc = svc_inventory_parse(body, len, cluster, &b, &rej);
    free(body);
    if (rc != STK_OK) {
        return http_reply_rejected(r, rc, rej.index, rej.reason);
    }
    struct paths_settings ps = paths_settings(r);
    struct actor by = http_actor(r);
    struct inventory_result res;
    rc = svc_inventory_apply(r->db, &ps, &b, &by, &res, &rej, &err);
    svc_inventory_batch_release(&b);
    if (rc != STK_OK) {
        return rej.reason[0] != '\0' ? http_reply_rejected(r, rc, rej.index, rej.reason)
                                     : http_reply_svc_error(r, rc, &err, "inventory_failed");
    }
    return http_reply_json(
        r, 200,
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "entities", (json_int_t)res.entities,
                  "entities_created", (json_int_t)res.entities_created, "entities_changed",
                  (json_int_t)res.entities_changed, "edges", (json_int_t)res.edges, "edges_created",
                  (json_int_t)res.edges_created, "edges_changed", (json_int_t)res.edges_changed,
                  "attack_paths", paths_json(&res.paths)));
}

/* ?image=REF names the image when the report cannot (a scanned tarball). */
static const char *image_param(const struct http_req *r, char *buf, size_t n)
{
    int has = http_query(r, "image", buf, n);
    if (has < 0) {
        return "";
    }
    if (has == 0) {
        return NULL;
    }
    for (const char *p = buf; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return "";
        }
    }
    return buf[0] != '\0' ? buf : "";
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

int http_ingest_trivy(struct http_req *r)
{
    char image_buf[ALERT_NAME_MAX];
    const char *image = image_param(r, image_buf, sizeof(image_buf));
    if (image != NULL && image[0] == '\0') {
        return http_reply_error(r, STK_EINVAL,
                                "image: expected an image reference of 1 to 255 bytes without "
                                "spaces");
    }
    struct stk_error err;
    stk_error_clear(&err);
    char *body = NULL;
    size_t len = 0;
    enum stk_err rc = http_read_body(r, &body, &len, &err);
    if (rc != STK_OK) {
        return http_reply_error(r, rc, err.msg);
    }
    struct trivy_report rep;
    struct ingest_reject rej;
    rc = ingest_trivy_parse(body, len, &rep, &rej);
    free(body);
    if (rc != STK_OK) {
        return http_reply_rejected(r, rc, rej.index, rej.reason);
    }
    struct paths_settings ps = paths_settings(r);
    struct actor by = http_actor(r);
    struct trivy_result res;
    rc = svc_inventory_trivy(r->db, &ps, &rep, image, &by, &res, &err);
    json_t *images = json_array();
    for (size_t i = 0; rc == STK_OK && i < res.n_images; i++) {
        json_array_append_new(images, json_pack("{s:I, s:s+}", "id", (json_int_t)res.images[i],
                                                "key", "image:", res.image_names[i]));
    }
    ingest_trivy_release(&rep);
    if (rc != STK_OK) {
        json_decref(images);
        return http_reply_svc_error(r, rc, &err, "trivy_failed");
    }
    return http_reply_json(
        r, 200,
        json_pack("{s:I, s:s, s:b, s:o, s:o, s:o}", "scan_id", (json_int_t)res.scan_id, "digest",
                  res.digest, "replaced", res.replaced, "images", images, "vulnerabilities",
                  counts_json(res.counts), "attack_paths", paths_json(&res.paths)));
}

/* ---- attack paths ---- */

/* The stored path with its steps as JSON: entry and target are the first
 * and last step's entities. */
static json_t *path_json(const struct attack_path *p)
{
    json_error_t jerr;
    json_t *steps = json_loads(p->steps, 0, &jerr);
    if (!json_is_array(steps)) {
        json_decref(steps);
        steps = json_array();
    }
    json_t *first = json_object_get(json_array_get(steps, 0), "entity");
    json_t *last = json_object_get(json_array_get(steps, json_array_size(steps) - 1), "entity");
    return json_pack("{s:I, s:s, s:i, s:s, s:i, s:O?, s:O?, s:o, s:o}", "id", (json_int_t)p->id,
                     "risk", svc_paths_risk_name(p->risk), "score", p->score, "title", p->title,
                     "hops", p->hops, "entry", first, "target", last, "steps", steps, "computed_at",
                     http_json_time_ms(p->computed_at));
}

/* An entity named by id or by key; -1 (matches nothing) for an unknown
 * key. NULL, or what is wrong. */
static const char *entity_param(struct http_req *r, const char *name, long long *out)
{
    char v[HTTP_PARAM_MAX * 2];
    *out = 0;
    int has = http_query(r, name, v, sizeof(v));
    if (has < 0) {
        return "too long";
    }
    if (has == 0 || v[0] == '\0') {
        return NULL;
    }
    if (v[0] >= '0' && v[0] <= '9') {
        *out = http_parse_id(v);
        return *out > 0 ? NULL : "expected an entity id or key";
    }
    enum stk_err rc = svc_paths_entity_id(r->db, v, out, NULL);
    if (rc == STK_ENOTFOUND) {
        *out = -1;
        return NULL;
    }
    return rc == STK_OK ? NULL : "could not be looked up";
}

/* Fills `f` from the query string; NULL, or the message of what is wrong. */
static const char *parse_path_query(struct http_req *r, struct path_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->limit = 50;
    char v[HTTP_PARAM_MAX];
    if (http_query(r, "risk", v, sizeof(v)) > 0) {
        char *save = NULL;
        for (char *t = strtok_r(v, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            int risk = svc_paths_risk_parse(t);
            if (risk < 0) {
                return "risk: expected low, medium, high or critical (comma-separated)";
            }
            f->risk_mask |= 1u << risk;
        }
    }
    if (entity_param(r, "target", &f->target) != NULL) {
        return "target: expected an entity id or key";
    }
    if (entity_param(r, "entry", &f->entry) != NULL) {
        return "entry: expected an entity id or key";
    }
    if (entity_param(r, "entity", &f->member) != NULL) {
        return "entity: expected an entity id or key";
    }
    if (http_query(r, "limit", v, sizeof(v)) > 0) {
        long long l = http_parse_id(v);
        if (l < 1 || l > 200) {
            return "limit: expected 1 to 200";
        }
        f->limit = (int)l;
    }
    if (http_query(r, "cursor", v, sizeof(v)) > 0) {
        char tail;
        if (sscanf(v, "%d.%lld%c", &f->cur_risk, &f->cur_id, &tail) != 2 || f->cur_risk < 0 ||
            f->cur_risk >= RISK_N || f->cur_id < 1) {
            return "cursor: not a cursor this server issued";
        }
        f->has_cursor = 1;
    }
    return NULL;
}

int http_attack_paths_list(struct http_req *r)
{
    struct path_filter f;
    const char *bad = parse_path_query(r, &f);
    if (bad != NULL) {
        return http_reply_error(r, STK_EINVAL, bad);
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct path_page page;
    enum stk_err rc = svc_paths_list(r->db, &f, &page, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "attack_paths_list_failed");
    }
    json_t *items = json_array(), *counts = json_object(), *next = json_null();
    for (size_t i = 0; i < page.count; i++) {
        json_array_append_new(items, path_json(&page.rows[i]));
    }
    for (int risk = 0; risk < RISK_N; risk++) {
        json_object_set_new(counts, svc_paths_risk_name(risk), json_integer(page.counts[risk]));
    }
    if (page.has_more && page.count > 0) {
        const struct attack_path *last = &page.rows[page.count - 1];
        char cursor[48];
        snprintf(cursor, sizeof(cursor), "%d.%lld", last->risk, last->id);
        json_decref(next);
        next = json_string(cursor);
    }
    svc_paths_page_release(&page);
    return http_reply_json(
        r, 200,
        json_pack("{s:o, s:o, s:o}", "items", items, "next_cursor", next, "counts", counts));
}

int http_attack_paths_get(struct http_req *r)
{
    long long id = http_parse_id(r->params[0]);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such attack path");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct attack_path p;
    enum stk_err rc = svc_paths_get(r->db, id, &p, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "attack_path_get_failed");
    }
    json_t *body = path_json(&p);
    store_path_release(&p);
    return http_reply_json(r, 200, body);
}

int http_attack_paths_recompute(struct http_req *r)
{
    struct stk_error err;
    stk_error_clear(&err);
    struct paths_settings ps = paths_settings(r);
    struct actor by = http_actor(r);
    struct paths_stats stats;
    enum stk_err rc = svc_inventory_recompute_paths(r->db, &ps, &by, &stats, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "attack_paths_recompute_failed");
    }
    return http_reply_json(r, 200, json_pack("{s:o}", "attack_paths", paths_json(&stats)));
}
