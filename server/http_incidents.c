/* /api/v1/incidents, /api/v1/alerts: the queue, the incident record and
 * triage (entities: http_entities.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "app.h"
#include "http_handlers.h"
#include "jsonw.h"
#include "log.h"
#include "svc_incidents.h"

#define MAX_STORY_ALERTS 1000
#define MAX_IDS 200

static const char *const status_names[] = {"active", "in_progress", "resolved", "merged"};

#define MAX_JSON_BYTES (64u << 20)

static void w_names_of_mask(struct jw *w, unsigned mask, int n, const char *(*name)(int))
{
    jw_array(w);
    for (int i = 0; i < n; i++) {
        if (mask & (1u << i)) {
            jw_str(w, name(i));
        }
    }
    jw_end(w);
}

static const char *tactic_name(int t)
{
    return alert_tactic_name(t);
}

static const char *provider_name(int p)
{
    return alert_provider_name(p);
}

/* The fields of an incident summary, inside an open object. */
static void w_incident_fields(struct jw *w, const struct incident *in)
{
    jw_key(w, "id");
    jw_int(w, in->id);
    jw_key(w, "title");
    jw_str(w, in->title);
    jw_key(w, "severity");
    jw_str(w, alert_severity_name(in->severity));
    jw_key(w, "status");
    jw_str(w, in->status >= 0 && in->status < INC_STATUS_N ? status_names[in->status] : "");
    jw_key(w, "assignee");
    jw_str(w, in->assignee);
    jw_key(w, "classification");
    jw_str(w, alert_classification_name(in->classification));
    jw_key(w, "determination");
    jw_str(w, in->determination);
    jw_key(w, "tags");
    jw_raw(w, in->tags, "[]");
    jw_key(w, "sources");
    w_names_of_mask(w, in->sources, PROV_N, provider_name);
    jw_key(w, "tactics");
    w_names_of_mask(w, in->tactics & ~1u, TACTIC_N, tactic_name); /* bit 0: no tactic */
    jw_key(w, "high_impact");
    jw_bool(w, in->high_impact);
    jw_key(w, "alert_count");
    jw_int(w, in->alert_count);
    jw_key(w, "entity_count");
    jw_int(w, in->entity_count);
    jw_key(w, "clusters");
    jw_raw(w, in->clusters, "[]");
    jw_key(w, "first_activity");
    jw_time_ms(w, in->first_ts);
    jw_key(w, "last_activity");
    jw_time_ms(w, in->last_ts);
    jw_key(w, "created_at");
    jw_time_ms(w, in->created_at);
    jw_key(w, "updated_at");
    jw_time_ms(w, in->updated_at);
    jw_key(w, "merged_into");
    if (in->merged_into != 0) {
        jw_int(w, in->merged_into);
    } else {
        jw_null(w);
    }
}

static void w_entity(struct jw *w, const struct entity *e, int with_props)
{
    jw_object(w);
    jw_key(w, "id");
    jw_int(w, e->id);
    jw_key(w, "kind");
    jw_str(w, alert_entity_kind_name(e->kind));
    jw_key(w, "key");
    jw_str(w, e->key);
    jw_key(w, "name");
    jw_str(w, e->name);
    jw_key(w, "cluster");
    jw_str(w, e->cluster);
    jw_key(w, "critical");
    jw_bool(w, e->critical);
    if (with_props) {
        jw_key(w, "properties");
        jw_raw(w, e->props, "{}");
        jw_key(w, "alert_count");
        jw_int(w, e->alert_count);
        jw_key(w, "first_seen");
        jw_time_ms(w, e->first_seen);
        jw_key(w, "last_seen");
        jw_time_ms(w, e->last_seen);
    }
    jw_end(w);
}

static void w_alert(struct jw *w, const struct alert_row *a, const struct entity *ents, size_t n)
{
    jw_object(w);
    jw_key(w, "id");
    jw_int(w, a->id);
    jw_key(w, "incident_id");
    jw_int(w, a->incident_id);
    jw_key(w, "provider");
    jw_str(w, alert_provider_name(a->provider));
    jw_key(w, "rule");
    jw_str(w, a->rule);
    jw_key(w, "title");
    jw_str(w, a->title);
    jw_key(w, "description");
    jw_str(w, a->description);
    jw_key(w, "severity");
    jw_str(w, alert_severity_name(a->severity));
    jw_key(w, "tactic");
    jw_str(w, alert_tactic_name(a->tactic));
    jw_key(w, "technique");
    jw_str(w, a->technique);
    jw_key(w, "first_activity");
    jw_time_ms(w, a->first_ts);
    jw_key(w, "last_activity");
    jw_time_ms(w, a->last_ts);
    jw_key(w, "cluster");
    jw_str(w, a->cluster);
    jw_key(w, "pinned");
    jw_bool(w, a->pinned);
    jw_key(w, "entities");
    jw_array(w);
    for (size_t i = 0; i < n; i++) {
        w_entity(w, &ents[i], 0);
    }
    jw_end(w);
    jw_key(w, "evidence");
    jw_raw(w, a->evidence, "{}");
    jw_end(w);
}

static void w_note(struct jw *w, const struct incident_note *n, int history)
{
    jw_object(w);
    jw_key(w, "id");
    jw_int(w, n->id);
    jw_key(w, history ? "actor" : "author");
    jw_str(w, n->actor);
    jw_key(w, "time");
    jw_time_ms(w, n->ts);
    if (history) {
        jw_key(w, "kind");
        jw_str(w, n->kind);
        jw_key(w, "summary");
        jw_str(w, n->text);
        jw_key(w, "details");
        jw_raw(w, n->details, "{}");
    } else {
        jw_key(w, "text");
        jw_str(w, n->text);
    }
    jw_end(w);
}

/* Sends what `w` wrote into `b` (released here). */
static int reply_written(struct http_req *r, int status, struct buf *b, const struct jw *w)
{
    int st;
    if (w->rc != STK_OK || w->depth != 0) {
        log_event(STK_LOG_ERROR, "json_encode_failed", "status=%d bytes=%zu", status, b->len);
        st = http_reply_error(r, STK_EINTERNAL, "could not encode the response");
    } else {
        st = http_reply(r, status, "application/json; charset=utf-8", "Cache-Control: no-store\r\n",
                        b->data, b->len);
    }
    buf_release(b);
    return st;
}

static int reply_incident(struct http_req *r, int status, const struct incident *in)
{
    struct buf b;
    buf_init(&b, MAX_JSON_BYTES);
    struct jw w;
    jw_init(&w, &b);
    jw_object(&w);
    w_incident_fields(&w, in);
    jw_end(&w);
    return reply_written(r, status, &b, &w);
}

static int reply_alert(struct http_req *r, const struct alert_row *a, const struct entity *ents,
                       size_t n)
{
    struct buf b;
    buf_init(&b, MAX_JSON_BYTES);
    struct jw w;
    jw_init(&w, &b);
    w_alert(&w, a, ents, n);
    return reply_written(r, 200, &b, &w);
}

/* The incident summary as a jansson value, for replies built with jansson
 * (the report). NULL on failure. */
static json_t *incident_json(const struct incident *in)
{
    struct buf b;
    buf_init(&b, MAX_JSON_BYTES);
    struct jw w;
    jw_init(&w, &b);
    jw_object(&w);
    w_incident_fields(&w, in);
    jw_end(&w);
    json_error_t jerr;
    json_t *v = w.rc == STK_OK ? json_loadb(b.data, b.len, 0, &jerr) : NULL;
    buf_release(&b);
    return v;
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

static void w_count(struct jw *w, const char *name, long long n)
{
    jw_key(w, name);
    jw_int(w, n);
}

static void w_facets(struct jw *w, const struct incident_facets *fc)
{
    jw_object(w);
    jw_key(w, "status");
    jw_object(w);
    for (int i = 0; i < INC_MERGED; i++) {
        w_count(w, status_names[i], fc->status[i]);
    }
    jw_end(w);
    jw_key(w, "severity");
    jw_object(w);
    for (int i = 0; i < SEV_N; i++) {
        w_count(w, alert_severity_name(i), fc->severity[i]);
    }
    jw_end(w);
    jw_key(w, "source");
    jw_object(w);
    for (int i = 0; i < PROV_N; i++) {
        w_count(w, alert_provider_name(i), fc->source[i]);
    }
    jw_end(w);
    jw_key(w, "classification");
    jw_object(w);
    for (int i = 0; i < CLASS_N; i++) {
        w_count(w, i == CLASS_NONE ? "none" : alert_classification_name(i), fc->classification[i]);
    }
    jw_end(w);
    jw_key(w, "assignee");
    jw_object(w);
    for (int i = 0; i < fc->n_assignees; i++) {
        w_count(w, fc->assignee[i].name, fc->assignee[i].n);
    }
    jw_end(w);
    jw_end(w);
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
    struct buf b;
    buf_init(&b, MAX_JSON_BYTES);
    struct jw w;
    jw_init(&w, &b);
    jw_object(&w);
    jw_key(&w, "items");
    jw_array(&w);
    for (size_t i = 0; i < page.count; i++) {
        jw_object(&w);
        w_incident_fields(&w, &page.rows[i]);
        jw_end(&w);
    }
    jw_end(&w);
    jw_key(&w, "next_cursor");
    if (page.has_more && page.count > 0) {
        const struct incident *last = &page.rows[page.count - 1];
        long long key = q.f.sort == SORT_SEVERITY ? last->severity
                        : q.f.sort == SORT_ALERTS ? last->alert_count
                                                  : 0;
        char cursor[80];
        snprintf(cursor, sizeof(cursor), "%lld.%lld.%lld", key, last->last_ts, last->id);
        jw_str(&w, cursor);
    } else {
        jw_null(&w);
    }
    jw_key(&w, "counts");
    w_facets(&w, &page.facets);
    jw_key(&w, "counts_exact");
    jw_bool(&w, page.facets.exact);
    jw_end(&w);
    svc_incidents_page_release(&page);
    return reply_written(r, 200, &b, &w);
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
    struct buf b;
    buf_init(&b, MAX_JSON_BYTES);
    struct jw w;
    jw_init(&w, &b);
    jw_object(&w);
    w_incident_fields(&w, &d.in);
    jw_key(&w, "alerts");
    jw_array(&w);
    for (size_t i = 0; i < d.n_alerts; i++) {
        w_alert(&w, &d.alerts[i], d.alert_entities[i], d.n_alert_entities[i]);
    }
    jw_end(&w);
    jw_key(&w, "alerts_truncated");
    jw_bool(&w, d.alerts_truncated);
    jw_key(&w, "entities");
    jw_array(&w);
    for (size_t i = 0; i < d.n_entities; i++) {
        w_entity(&w, &d.entities[i], 1);
    }
    jw_end(&w);
    jw_key(&w, "comments");
    jw_array(&w);
    for (size_t i = 0; i < d.n_comments; i++) {
        w_note(&w, &d.comments[i], 0);
    }
    jw_end(&w);
    jw_key(&w, "history");
    jw_array(&w);
    for (size_t i = 0; i < d.n_history; i++) {
        w_note(&w, &d.history[i], 1);
    }
    jw_end(&w);
    jw_end(&w);
    svc_incidents_detail_release(&d);
    return reply_written(r, 200, &b, &w);
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
        ch->classification = json_is_null(v)     ? CLASS_NONE
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
    return reply_incident(r, 200, &out);
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
    if (!http_json_keys_ok(in, keys, 1) || !json_is_string(text) || json_string_length(text) == 0 ||
        json_string_length(text) > 10000) {
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
    struct buf b;
    buf_init(&b, MAX_JSON_BYTES);
    struct jw w;
    jw_init(&w, &b);
    w_note(&w, &note, 0);
    free(note.text);
    return reply_written(r, 201, &b, &w);
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
    int ok = http_json_keys_ok(in, keys, 1) && json_is_array(list) && json_array_size(list) > 0 &&
             json_array_size(list) <= MAX_IDS;
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

/* Merge and split: {"<key>": [ids]} applied to incident {id} by `fn`,
 * answered with the incident `fn` returns. */
static int incident_ids_change(struct http_req *r, const char *key, int status,
                               enum stk_err (*fn)(struct db *, const struct actor *, long long,
                                                  const long long *, size_t, struct incident *,
                                                  struct stk_error *),
                               const char *event)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    long long ids[MAX_IDS];
    size_t n = 0;
    int st = read_ids(r, key, ids, &n);
    if (st < 0) {
        return -st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    struct incident out;
    enum stk_err rc = fn(r->db, &by, id, ids, n, &out, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, event);
    }
    return reply_incident(r, status, &out);
}

int http_incidents_merge(struct http_req *r)
{
    return incident_ids_change(r, "incident_ids", 200, svc_incidents_merge,
                               "incident_merge_failed");
}

int http_incidents_split(struct http_req *r)
{
    return incident_ids_change(r, "alert_ids", 201, svc_incidents_split, "incident_split_failed");
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

/* ---- alerts ---- */

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
    int st = reply_alert(r, &a, ents, n);
    store_alert_release(&a);
    store_entities_free(ents, n);
    return st;
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
    st = reply_alert(r, &a, NULL, 0);
    store_alert_release(&a);
    return st;
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
        json_array_append_new(
            items, json_pack("{s:s, s:s}", "username", users[i].username, "role", users[i].role));
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
            json_array_append_new(
                dets, json_pack("{s:s, s:s}", "name", *d, "label", alert_determination_label(*d)));
        }
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:o}", "name", alert_classification_name(c), "label",
                             alert_classification_label(c), "determinations", dets));
    }
    return http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}
