/* /api/v1/actions: response actions and the Action center (docs/actions.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http.h"
#include "http_handlers.h"
#include "svc_actions.h"

#define LIST_MAX 200
#define LIST_DEFAULT 50

static long long id_param(const struct http_req *r)
{
    return r->nparams > 0 ? http_parse_id(r->params[0]) : -1;
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Reads the request body into `req` (borrowing from `in`). 0, or the
 * status of the error already sent. */
static int read_request(struct http_req *r, json_t *in, struct action_request *req, int *dry_run)
{
    static const char *const keys[] = {"type",        "target",        "comment",
                                       "incident_id", "isolate_for_s", "dry_run"};
    static const char *const tkeys[] = {"cluster", "namespace", "pod"};
    json_t *target = json_object_get(in, "target");
    json_t *inc = json_object_get(in, "incident_id");
    json_t *dur = json_object_get(in, "isolate_for_s");
    json_t *dry = json_object_get(in, "dry_run");
    if (!http_json_keys_ok(in, keys, 6) || !json_is_object(target) ||
        !http_json_keys_ok(target, tkeys, 3)) {
        return http_reply_error(r, STK_EINVAL,
                                "expected {\"type\", \"target\": {\"cluster\", \"namespace\", "
                                "\"pod\"}, \"comment\"} and optionally incident_id, "
                                "isolate_for_s, dry_run");
    }
    if ((inc != NULL && !json_is_null(inc) && !json_is_integer(inc)) ||
        (dur != NULL && !json_is_integer(dur)) || (dry != NULL && !json_is_boolean(dry)) ||
        !json_is_string(json_object_get(in, "type"))) {
        return http_reply_error(r, STK_EINVAL,
                                "type must be a string, incident_id and isolate_for_s integers, "
                                "dry_run a boolean");
    }
    memset(req, 0, sizeof(*req));
    req->type = str_of(in, "type");
    req->cluster = str_of(target, "cluster");
    req->ns = str_of(target, "namespace");
    req->pod = str_of(target, "pod");
    req->comment = str_of(in, "comment");
    req->incident_id = json_is_integer(inc) ? json_integer_value(inc) : 0;
    req->isolate_for_s = dur ? json_integer_value(dur) : 0;
    *dry_run = json_is_true(dry);
    if (*dry_run && req->comment == NULL) {
        req->comment = "dry run";
    }
    return 0;
}

int http_actions_create(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    struct action_request req;
    int dry_run = 0;
    st = read_request(r, in, &req, &dry_run);
    if (st != 0) {
        json_decref(in);
        return st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    if (dry_run) {
        json_t *plan = NULL;
        enum stk_err rc = svc_actions_plan(r->app, r->db, &req, &plan, &err);
        json_decref(in);
        return rc == STK_OK ? http_reply_json(r, 200, plan)
                            : http_reply_svc_error(r, rc, &err, "action_plan_failed");
    }
    struct actor by = http_actor(r);
    struct action a;
    enum stk_err rc = svc_actions_request(r->app, r->db, &req, &by, &a, &err);
    json_decref(in);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "action_request_failed");
    }
    json_t *out = svc_actions_to_json(&a);
    store_action_release(&a);
    return http_reply_json(r, 202, out);
}

/* ",a,b," from "a,b" when every word is one of `allowed`; 0 on success. */
static int csv_filter(const char *q, const char *const *allowed, size_t n, char *out, size_t size)
{
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", q);
    size_t len = 1;
    snprintf(out, size, ",");
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
        int ok = 0;
        for (size_t i = 0; i < n; i++) {
            ok |= strcmp(w, allowed[i]) == 0;
        }
        if (!ok || len + strlen(w) + 2 > size) {
            return -1;
        }
        len += (size_t)snprintf(out + len, size - len, "%s,", w);
    }
    return len > 1 ? 0 : -1;
}

struct list_query {
    char statuses[160], types[64], cluster[HTTP_PARAM_MAX], by[HTTP_PARAM_MAX], q[HTTP_PARAM_MAX];
    char num[32];
};

static int read_filter(struct http_req *r, struct list_query *lq, struct action_filter *f)
{
    static const char *const statuses[] = {"awaiting_approval", "pending", "dispatched",
                                           "succeeded",         "failed",  "cancelled"};
    static const char *const types[] = {"isolate", "terminate", "release"};
    memset(f, 0, sizeof(*f));
    f->limit = LIST_DEFAULT;
    char v[HTTP_PARAM_MAX];
    if (http_query(r, "status", v, sizeof(v)) == 1) {
        if (csv_filter(v, statuses, 6, lq->statuses, sizeof(lq->statuses)) != 0) {
            return http_reply_error(r, STK_EINVAL,
                                    "status: a comma-separated list of "
                                    "awaiting_approval, pending, dispatched, succeeded, failed, "
                                    "cancelled");
        }
        f->statuses = lq->statuses;
    }
    if (http_query(r, "type", v, sizeof(v)) == 1) {
        if (csv_filter(v, types, 3, lq->types, sizeof(lq->types)) != 0) {
            return http_reply_error(r, STK_EINVAL, "type: isolate, terminate or release");
        }
        f->types = lq->types;
    }
    if (http_query(r, "cluster", lq->cluster, sizeof(lq->cluster)) == 1) {
        f->cluster = lq->cluster;
    }
    if (http_query(r, "requested_by", lq->by, sizeof(lq->by)) == 1) {
        f->requested_by = lq->by;
    }
    if (http_query(r, "q", lq->q, sizeof(lq->q)) == 1 && lq->q[0] != '\0') {
        f->text = lq->q;
    }
    struct {
        const char *name;
        long long *dst;
        long long max;
    } nums[] = {{"incident_id", &f->incident_id, 0}, {"cursor", &f->before_id, 0}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (http_query(r, nums[i].name, lq->num, sizeof(lq->num)) == 1) {
            *nums[i].dst = http_parse_id(lq->num);
            if (*nums[i].dst < 0) {
                return http_reply_error(r, STK_EINVAL, "incident_id and cursor are ids");
            }
        }
    }
    if (http_query(r, "limit", lq->num, sizeof(lq->num)) == 1) {
        long long l = http_parse_id(lq->num);
        if (l < 1 || l > LIST_MAX) {
            return http_reply_error(r, STK_EINVAL, "limit: 1 to 200");
        }
        f->limit = (int)l;
    }
    return 0;
}

int http_actions_list(struct http_req *r)
{
    struct list_query lq;
    struct action_filter f;
    memset(&lq, 0, sizeof(lq));
    int st = read_filter(r, &lq, &f);
    if (st != 0) {
        return st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct action *list = NULL;
    size_t n = 0;
    f.limit += 1; /* one more tells whether there is a next page */
    enum stk_err rc = store_actions_list(r->db, &f, &list, &n, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "action_list_failed");
    }
    size_t shown = n > (size_t)(f.limit - 1) ? (size_t)(f.limit - 1) : n;
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < shown; i++) {
        json_array_append_new(items, svc_actions_to_json(&list[i]));
    }
    json_t *next = n > shown && shown > 0 ? json_sprintf("%lld", list[shown - 1].id) : json_null();
    store_actions_free(list, n);
    return http_reply_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

int http_actions_get(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such action");
    }
    struct stk_error err;
    stk_error_clear(&err);
    json_t *out = NULL;
    enum stk_err rc = svc_actions_get_json(r->app, r->db, id, &out, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "action_get_failed");
    }
    return http_reply_json(r, 200, out);
}

/* Reads {"comment"?: text} or {"text": text}; NULL comment when absent. */
static int read_text(struct http_req *r, const char *key, json_t **in, const char **text)
{
    int st = http_read_json(r, in);
    if (st < 0) {
        return -st;
    }
    const char *const keys[] = {key};
    json_t *v = json_object_get(*in, key);
    if (!json_is_object(*in) || !http_json_keys_ok(*in, keys, 1) ||
        (v != NULL && !json_is_string(v))) {
        json_decref(*in);
        *in = NULL;
        char msg[96];
        snprintf(msg, sizeof(msg), "expected {\"%s\": text}", key);
        return http_reply_error(r, STK_EINVAL, msg);
    }
    *text = json_string_value(v);
    return 0;
}

static int decide(struct http_req *r, int what)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such action");
    }
    json_t *in = NULL;
    const char *comment = NULL;
    int st = read_text(r, "comment", &in, &comment);
    if (st != 0) {
        return st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    enum stk_err rc = what == 0   ? svc_actions_cancel(r->app, r->db, id, &by, comment, &err)
                      : what == 1 ? svc_actions_decide(r->app, r->db, id, 1, &by, comment, &err)
                                  : svc_actions_decide(r->app, r->db, id, 0, &by, comment, &err);
    json_decref(in);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "action_decision_failed");
    }
    return http_actions_get(r);
}

int http_actions_cancel(struct http_req *r)
{
    return decide(r, 0);
}

int http_actions_approve(struct http_req *r)
{
    return decide(r, 1);
}

int http_actions_reject(struct http_req *r)
{
    return decide(r, 2);
}

int http_actions_comment(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such action");
    }
    json_t *in = NULL;
    const char *text = NULL;
    int st = read_text(r, "text", &in, &text);
    if (st != 0) {
        return st;
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct actor by = http_actor(r);
    long long cid = 0;
    enum stk_err rc = svc_actions_comment(r->db, id, &by, text, &cid, &err);
    /* `text` is borrowed from `in`: answer before letting go of it. */
    json_t *out = rc == STK_OK ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)cid, "author",
                                           by.name, "text", text)
                               : NULL;
    json_decref(in);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "action_comment_failed");
    }
    return http_reply_json(r, 201, out);
}

int http_actions_evidence(struct http_req *r)
{
    long long id = id_param(r);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such action");
    }
    struct stk_error err;
    stk_error_clear(&err);
    char *json = NULL;
    size_t len = 0;
    char sha[65];
    enum stk_err rc = store_actions_evidence_get(r->db, id, &json, &len, sha, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "action_evidence_failed");
    }
    char headers[256];
    snprintf(headers, sizeof(headers),
             "Content-Disposition: attachment; filename=\"action-%lld-evidence.json\"\r\n"
             "X-Content-SHA256: %s\r\nCache-Control: no-store\r\n",
             id, sha);
    int status = http_reply(r, 200, "application/json; charset=utf-8", headers, json, len);
    free(json);
    return status;
}
