/* /api/v1/incidents, /api/v1/alerts, /api/v1/entities: the queue, the
 * incident record and triage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "app.h"
#include "http_handlers.h"
#include "log.h"
#include "svc_incidents.h"

#define MAX_STORY_ALERTS 1000
#define MAX_IDS 200

static const char *const status_names[] = {"active", "in_progress", "resolved", "merged"};

static json_t *names_of_mask(unsigned mask, int n, const char *(*name)(int))
{
    json_t *a = json_array();
    for (int i = 0; a != NULL && i < n; i++) {
        if (mask & (1u << i)) {
            json_array_append_new(a, json_string(name(i)));
        }
    }
    return a;
}

static const char *tactic_name(int t)
{
    return alert_tactic_name(t);
}

static const char *provider_name(int p)
{
    return alert_provider_name(p);
}

static json_t *json_text(const char *text, const char *fallback)
{
    json_error_t jerr;
    json_t *v = json_loads(text && text[0] ? text : fallback, 0, &jerr);
    return v ? v : json_loads(fallback, 0, &jerr);
}

static json_t *incident_json(const struct incident *in)
{
    unsigned tactics = in->tactics & ~1u; /* bit 0 is TACTIC_NONE */
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:I, s:I, s:o, s:o, s:o, s:o,"
        " s:o}",
        "id", (json_int_t)in->id, "title", in->title, "severity",
        alert_severity_name(in->severity), "status",
        in->status >= 0 && in->status < INC_STATUS_N ? status_names[in->status] : "",
        "assignee", in->assignee, "classification",
        alert_classification_name(in->classification), "determination", in->determination,
        "tags", json_text(in->tags, "[]"), "sources",
        names_of_mask(in->sources, PROV_N, provider_name), "tactics",
        names_of_mask(tactics, TACTIC_N, tactic_name), "high_impact", in->high_impact,
        "alert_count", (json_int_t)in->alert_count, "entity_count", (json_int_t)in->entity_count,
        "clusters", json_text(in->clusters, "[]"), "first_activity",
        http_json_time_ms(in->first_ts), "last_activity", http_json_time_ms(in->last_ts),
        "created_at", http_json_time_ms(in->created_at), "updated_at",
        http_json_time_ms(in->updated_at));
    if (o != NULL) {
        json_object_set_new(o, "merged_into",
                            in->merged_into ? json_integer(in->merged_into) : json_null());
    }
    return o;
}

static json_t *entity_json(const struct entity *e, int with_props)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)e->id, "kind",
                          alert_entity_kind_name(e->kind), "key", e->key, "name", e->name,
                          "cluster", e->cluster, "critical", e->critical);
    if (o != NULL && with_props) {
        json_object_set_new(o, "properties", json_text(e->props, "{}"));
        json_object_set_new(o, "alert_count", json_integer(e->alert_count));
        json_object_set_new(o, "first_seen", http_json_time_ms(e->first_seen));
        json_object_set_new(o, "last_seen", http_json_time_ms(e->last_seen));
    }
    return o;
}

static json_t *alert_json(const struct alert_row *a, const struct entity *ents, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        json_array_append_new(list, entity_json(&ents[i], 0));
    }
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:o,"
                     " s:o}",
                     "id", (json_int_t)a->id, "incident_id", (json_int_t)a->incident_id,
                     "provider", alert_provider_name(a->provider), "rule", a->rule, "title",
                     a->title, "description", a->description ? a->description : "", "severity",
                     alert_severity_name(a->severity), "tactic", alert_tactic_name(a->tactic),
                     "technique", a->technique, "first_activity", http_json_time_ms(a->first_ts),
                     "last_activity", http_json_time_ms(a->last_ts), "cluster", a->cluster,
                     "pinned", a->pinned, "entities", list, "evidence",
                     json_text(a->evidence, "{}"));
}

static json_t *note_json(const struct incident_note *n, int history)
{
    if (history) {
        return json_pack("{s:I, s:o, s:s, s:s, s:s, s:o}", "id", (json_int_t)n->id, "time",
                         http_json_time_ms(n->ts), "actor", n->actor, "kind", n->kind,
                         "summary", n->text ? n->text : "", "details",
                         json_text(n->details, "{}"));
    }
    return json_pack("{s:I, s:s, s:o, s:s}", "id", (json_int_t)n->id, "author", n->actor,
                     "time", http_json_time_ms(n->ts), "text", n->text ? n->text : "");
}

/* ---- the queue ---- */

/* Parses a comma list of names into a bit mask; -1 on an unknown name. */
static long parse_mask(const char *list, int (*parse)(const char *))
{
    long mask = 0;
    char buf[HTTP_PARAM_MAX];
    snprintf(buf, sizeof(buf), "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        int v = parse(tok);
        if (v < 0 || v > 30) {
            return -1;
        }
        mask |= 1L << v;
    }
    return mask;
}

static int parse_status(const char *s)
{
    for (int i = 0; i < INC_MERGED; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static int parse_class(const char *s)
{
    return strcmp(s, "none") == 0 ? CLASS_NONE : alert_classification_parse(s);
}

/* Builds "%text%" with LIKE's wildcards escaped. */
static void like_pattern(const char *q, char *out, size_t n)
{
    size_t j = 0;
    out[j++] = '%';
    for (size_t i = 0; q[i] != '\0' && j + 4 < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\') {
            out[j++] = '\\';
        }
        out[j++] = q[i];
    }
    out[j++] = '%';
    out[j] = '\0';
}

struct list_query {
    struct incident_filter f;
    char assignee[64];
    char cluster[128];
    char like[512];
};

/* Fills `q` from the query string; NULL, or the message of what is wrong. */
static const char *parse_list_query(const struct http_req *r, struct list_query *q)
{
    memset(q, 0, sizeof(*q));
    struct incident_filter *f = &q->f;
    f->status = -1;
    f->limit = 50;
    char v[HTTP_PARAM_MAX];
    long m;
    if (http_query(r, "status", v, sizeof(v)) > 0) {
        if ((m = parse_mask(v, parse_status)) < 0) {
            return "status: expected active, in_progress or resolved (comma-separated)";
        }
        f->status_mask = (unsigned)m;
        if (__builtin_popcountl(m) == 1) {
            f->status = __builtin_ctzl(m);
        }
    }
    if (http_query(r, "severity", v, sizeof(v)) > 0) {
        if ((m = parse_mask(v, alert_severity_parse)) < 0) {
            return "severity: expected informational, low, medium or high (comma-separated)";
        }
        f->severity_mask = (unsigned)m;
    }
    if (http_query(r, "source", v, sizeof(v)) > 0) {
        if ((m = parse_mask(v, alert_provider_parse)) < 0) {
            return "source: expected falco, k8s-audit, stockade-rules or api (comma-separated)";
        }
        f->source_mask = (unsigned)m;
    }
    if (http_query(r, "classification", v, sizeof(v)) > 0) {
        if ((m = parse_mask(v, parse_class)) < 0) {
            return "classification: expected true_positive, informational, false_positive or "
                   "none (comma-separated)";
        }
        f->class_mask = (unsigned)m;
    }
    int has = http_query(r, "assignee", q->assignee, sizeof(q->assignee));
    if (has < 0) {
        return "assignee: too long";
    }
    if (has > 0) {
        if (strcmp(q->assignee, "me") == 0) {
            snprintf(q->assignee, sizeof(q->assignee), "%.63s", r->who.name);
        } else if (strcmp(q->assignee, "unassigned") == 0) {
            q->assignee[0] = '\0';
        }
        f->assignee = q->assignee;
    }
    has = http_query(r, "cluster", q->cluster, sizeof(q->cluster));
    if (has < 0) {
        return "cluster: too long";
    }
    f->cluster = has > 0 && q->cluster[0] ? q->cluster : NULL;
    if (http_query(r, "since", v, sizeof(v)) > 0 && (f->since = http_parse_time_ms(v)) < 0) {
        return "since: expected an RFC 3339 time";
    }
    if (http_query(r, "until", v, sizeof(v)) > 0 && (f->until = http_parse_time_ms(v)) < 0) {
        return "until: expected an RFC 3339 time";
    }
    has = http_query(r, "q", v, sizeof(v));
    if (has < 0 || (has > 0 && strlen(v) > 200)) {
        return "q: at most 200 characters";
    }
    if (has > 0 && v[0] != '\0') {
        like_pattern(v, q->like, sizeof(q->like));
        f->text_like = q->like;
    }
    if (http_query(r, "sort", v, sizeof(v)) > 0) {
        static const char *const sorts[] = {"activity", "severity", "alerts"};
        f->sort = -1;
        for (int i = 0; i < SORT_N; i++) {
            f->sort = strcmp(v, sorts[i]) == 0 ? i : f->sort;
        }
        if (f->sort < 0) {
            return "sort: expected activity, severity or alerts";
        }
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
        if (sscanf(v, "%lld.%lld.%lld%c", &f->cur_key, &f->cur_ts, &f->cur_id, &tail) != 3) {
            return "cursor: not a cursor this server issued";
        }
        f->has_cursor = 1;
    }
    return NULL;
}

static json_t *facets_json(const struct incident_facets *fc)
{
    json_t *st = json_object(), *sev = json_object(), *src = json_object(),
           *cls = json_object(), *asg = json_object();
    for (int i = 0; i < INC_MERGED; i++) {
        json_object_set_new(st, status_names[i], json_integer(fc->status[i]));
    }
    for (int i = 0; i < SEV_N; i++) {
        json_object_set_new(sev, alert_severity_name(i), json_integer(fc->severity[i]));
    }
    for (int i = 0; i < PROV_N; i++) {
        json_object_set_new(src, alert_provider_name(i), json_integer(fc->source[i]));
    }
    for (int i = 0; i < CLASS_N; i++) {
        json_object_set_new(cls, i == CLASS_NONE ? "none" : alert_classification_name(i),
                            json_integer(fc->classification[i]));
    }
    for (int i = 0; i < fc->n_assignees; i++) {
        json_object_set_new(asg, fc->assignee[i].name, json_integer(fc->assignee[i].n));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "status", st, "severity", sev, "source", src,
                     "classification", cls, "assignee", asg);
}

int http_incidents_list(struct http_req *r)
{
    struct list_query q;
    const char *bad = parse_list_query(r, &q);
    if (bad != NULL) {
        return http_reply_error(r, STK_EINVAL, bad);
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct incident_page page;
    enum stk_err rc = svc_incidents_list(r->db, &q.f, &page, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incidents_list_failed");
    }
    json_t *items = json_array();
    for (size_t i = 0; i < page.count; i++) {
        json_array_append_new(items, incident_json(&page.rows[i]));
    }
    json_t *next = json_null();
    if (page.has_more && page.count > 0) {
        const struct incident *last = &page.rows[page.count - 1];
        long long key = q.f.sort == SORT_SEVERITY ? last->severity
                        : q.f.sort == SORT_ALERTS ? last->alert_count
                                                  : 0;
        char cursor[80];
        snprintf(cursor, sizeof(cursor), "%lld.%lld.%lld", key, last->last_ts, last->id);
        json_decref(next);
        next = json_string(cursor);
    }
    json_t *body = json_pack("{s:o, s:o, s:o, s:b}", "items", items, "next_cursor", next,
                             "counts", facets_json(&page.facets), "counts_exact",
                             page.facets.exact);
    svc_incidents_page_release(&page);
    return http_reply_json(r, 200, body);
}

/* ---- one incident ---- */

static long long id_param(const struct http_req *r)
{
    return http_parse_id(r->params[0]);
}

int http_incidents_get(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct incident_detail d;
    enum stk_err rc = svc_incidents_get(r->db, id, MAX_STORY_ALERTS, &d, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incident_get_failed");
    }
    json_t *body = incident_json(&d.in);
    json_t *alerts = json_array(), *ents = json_array(), *comments = json_array(),
           *hist = json_array();
    for (size_t i = 0; i < d.n_alerts; i++) {
        json_array_append_new(alerts, alert_json(&d.alerts[i], d.alert_entities[i],
                                                 d.n_alert_entities[i]));
    }
    for (size_t i = 0; i < d.n_entities; i++) {
        json_array_append_new(ents, entity_json(&d.entities[i], 1));
    }
    for (size_t i = 0; i < d.n_comments; i++) {
        json_array_append_new(comments, note_json(&d.comments[i], 0));
    }
    for (size_t i = 0; i < d.n_history; i++) {
        json_array_append_new(hist, note_json(&d.history[i], 1));
    }
    if (body != NULL) {
        json_object_set_new(body, "alerts", alerts);
        json_object_set_new(body, "alerts_truncated", json_boolean(d.alerts_truncated));
        json_object_set_new(body, "entities", ents);
        json_object_set_new(body, "comments", comments);
        json_object_set_new(body, "history", hist);
    }
    svc_incidents_detail_release(&d);
    return http_reply_json(r, 200, body);
}

/* Characters (code points) of valid UTF-8 text, as jansson guarantees. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

/* Reads the PATCH body into `ch`; NULL, or what is wrong. */
static const char *parse_change(json_t *in, struct incident_change *ch)
{
    static const char *const keys[] = {"status", "assignee", "classification", "determination",
                                       "tags"};
    memset(ch, 0, sizeof(*ch));
    if (!http_json_keys_ok(in, keys, 5) || json_object_size(in) == 0) {
        return "expected an object with any of status, assignee, classification, "
               "determination, tags";
    }
    json_t *v;
    if ((v = json_object_get(in, "status")) != NULL) {
        ch->has_status = 1;
        ch->status = json_is_string(v) ? parse_status(json_string_value(v)) : -1;
        if (ch->status < 0) {
            return "status: expected active, in_progress or resolved";
        }
    }
    if ((v = json_object_get(in, "assignee")) != NULL) {
        if (!json_is_string(v) || json_string_length(v) >= sizeof(ch->assignee)) {
            return "assignee: expected a user name";
        }
        ch->has_assignee = 1;
        snprintf(ch->assignee, sizeof(ch->assignee), "%s", json_string_value(v));
    }
    if ((v = json_object_get(in, "classification")) != NULL) {
        ch->has_classification = 1;
        ch->classification = json_is_null(v) ? CLASS_NONE
                             : json_is_string(v) ? parse_class(json_string_value(v))
                                                 : -1;
        if (json_is_string(v) && json_string_length(v) == 0) {
            ch->classification = CLASS_NONE;
        }
        if (ch->classification < 0) {
            return "classification: expected true_positive, informational or false_positive";
        }
    }
    if ((v = json_object_get(in, "determination")) != NULL) {
        if (!(json_is_string(v) || json_is_null(v)) ||
            json_string_length(v) >= sizeof(ch->determination)) {
            return "determination: expected a determination name";
        }
        ch->has_determination = 1;
        snprintf(ch->determination, sizeof(ch->determination), "%s",
                 json_is_string(v) ? json_string_value(v) : "");
    }
    if ((v = json_object_get(in, "tags")) != NULL) {
        if (!json_is_array(v) || json_array_size(v) > 20) {
            return "tags: expected an array of at most 20 strings";
        }
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t)
        {
            if (!json_is_string(t) || utf8_chars(json_string_value(t)) == 0 ||
                utf8_chars(json_string_value(t)) > 40) {
                return "tags: each tag is a string of 1 to 40 characters";
            }
        }
        char *text = json_dumps(v, JSON_COMPACT);
        if (text == NULL || strlen(text) >= sizeof(ch->tags)) {
            free(text);
            return "tags: too long";
        }
        ch->has_tags = 1;
        memcpy(ch->tags, text, strlen(text) + 1);
        free(text);
    }
    return NULL;
}

int http_incidents_update(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    struct incident_change ch;
    const char *bad = parse_change(in, &ch);
    json_decref(in);
    if (bad != NULL) {
        return http_reply_error(r, STK_EINVAL, bad);
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    struct incident out;
    enum stk_err rc = svc_incidents_update(r->db, &by, id, &ch, &out, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incident_update_failed");
    }
    return http_reply_json(r, 200, incident_json(&out));
}

int http_incidents_comment(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"text"};
    json_t *text = json_object_get(in, "text");
    if (!http_json_keys_ok(in, keys, 1) || !json_is_string(text) ||
        json_string_length(text) == 0 || json_string_length(text) > 10000) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL, "expected {\"text\": 1 to 10000 characters}");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    struct incident_note note;
    enum stk_err rc = svc_incidents_comment(r->db, &by, id, json_string_value(text), &note, &err);
    json_decref(in);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incident_comment_failed");
    }
    json_t *body = note_json(&note, 0);
    free(note.text);
    return http_reply_json(r, 201, body);
}

/* Reads {"<key>": [ids]} (1..MAX_IDS positive integers) into `ids`. */
static int read_ids(struct http_req *r, const char *key, long long *ids, size_t *n)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return st;
    }
    const char *const keys[] = {key};
    json_t *list = json_object_get(in, key);
    size_t i;
    json_t *v;
    int ok = http_json_keys_ok(in, keys, 1) && json_is_array(list) &&
             json_array_size(list) > 0 && json_array_size(list) <= MAX_IDS;
    *n = 0;
    json_array_foreach(list, i, v)
    {
        ok = ok && json_is_integer(v) && json_integer_value(v) > 0;
        if (ok) {
            ids[(*n)++] = json_integer_value(v);
        }
    }
    json_decref(in);
    if (!ok) {
        char msg[120];
        snprintf(msg, sizeof(msg), "expected {\"%s\": [1 to %d ids]}", key, MAX_IDS);
        return -http_reply_error(r, STK_EINVAL, msg);
    }
    return 0;
}

int http_incidents_merge(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    long long ids[MAX_IDS];
    size_t n = 0;
    int st = read_ids(r, "incident_ids", ids, &n);
    if (st < 0) {
        return -st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    struct incident out;
    enum stk_err rc = svc_incidents_merge(r->db, &by, id, ids, n, &out, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incident_merge_failed");
    }
    return http_reply_json(r, 200, incident_json(&out));
}

int http_incidents_split(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    long long ids[MAX_IDS];
    size_t n = 0;
    int st = read_ids(r, "alert_ids", ids, &n);
    if (st < 0) {
        return -st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    struct incident out;
    enum stk_err rc = svc_incidents_split(r->db, &by, id, ids, n, &out, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incident_split_failed");
    }
    return http_reply_json(r, 201, incident_json(&out));
}

int http_incidents_report(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    struct stk_error err;
    stk_error_clear(&err);
    json_t *report = NULL;
    struct incident in;
    enum stk_err rc = svc_incidents_report(r->db, id, &in, &report, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "incident_report_failed");
    }
    json_object_set_new(report, "incident", incident_json(&in));
    return http_reply_json(r, 200, report);
}

/* ---- alerts and entities ---- */

int http_alerts_get(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such alert");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct alert_row a;
    struct entity *ents = NULL;
    size_t n = 0;
    enum stk_err rc = svc_alerts_get(r->db, id, &a, &ents, &n, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "alert_get_failed");
    }
    json_t *body = alert_json(&a, ents, n);
    store_alert_release(&a);
    store_entities_free(ents, n);
    return http_reply_json(r, 200, body);
}

int http_alerts_move(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such alert");
    }
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"incident_id"};
    json_t *to = json_object_get(in, "incident_id");
    long long target = json_is_integer(to) ? json_integer_value(to) : -1;
    int ok = http_json_keys_ok(in, keys, 1) && target > 0;
    json_decref(in);
    if (!ok) {
        return http_reply_error(r, STK_EINVAL, "expected {\"incident_id\": id}");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    struct alert_row a;
    enum stk_err rc = svc_alerts_move(r->db, &by, id, target, &a, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "alert_move_failed");
    }
    json_t *body = alert_json(&a, NULL, 0);
    store_alert_release(&a);
    return http_reply_json(r, 200, body);
}

int http_entities_get(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such entity");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct entity e;
    enum stk_err rc = svc_entities_get(r->db, id, &e, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "entity_get_failed");
    }
    json_t *body = entity_json(&e, 1);
    store_entity_release(&e);
    return http_reply_json(r, 200, body);
}

int http_entities_update(struct http_req *r)
{
    long long id = id_param(r);
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
    struct actor by = http_actor(r);
    struct entity e;
    enum stk_err rc = svc_entities_set_critical(r->db, &by, id, critical, &e, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "entity_update_failed");
    }
    json_t *body = entity_json(&e, 1);
    store_entity_release(&e);
    return http_reply_json(r, 200, body);
}

int http_incidents_assignees(struct http_req *r)
{
    struct stk_error err;
    stk_error_clear(&err);
    struct user *users = NULL;
    size_t n = 0;
    enum stk_err rc = svc_incidents_assignees(r->db, &users, &n, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "assignees_failed");
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, json_pack("{s:s, s:s}", "username", users[i].username,
                                                "role", users[i].role));
    }
    free(users);
    return http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

int http_incidents_classifications(struct http_req *r)
{
    json_t *items = json_array();
    for (int c = CLASS_TRUE_POSITIVE; c < CLASS_N; c++) {
        json_t *dets = json_array();
        for (const char *const *d = alert_determinations(c); d != NULL && *d != NULL; d++) {
            json_array_append_new(dets, json_pack("{s:s, s:s}", "name", *d, "label",
                                                  alert_determination_label(*d)));
        }
        json_array_append_new(items, json_pack("{s:s, s:s, s:o}", "name",
                                               alert_classification_name(c), "label",
                                               alert_classification_label(c), "determinations",
                                               dets));
    }
    return http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
