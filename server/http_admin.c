/* Administration API: users, roles, API tokens and the audit log. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http.h"
#include "http_handlers.h"
#include "log.h"
#include "store_audit.h"
#include "store_roles.h"
#include "store_tokens.h"
#include "store_users.h"
#include "svc_auth.h"
#include "svc_users.h"

#define AUDIT_PAGE_MAX 200

static struct actor actor_of(const struct http_req *r)
{
    return http_actor(r);
}

static int reply_svc_error(struct http_req *r, enum stk_err rc, const struct stk_error *err)
{
    return http_reply_svc_error(r, rc, err, "admin_failed");
}

static json_t *user_json(const struct user *u)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:b, s:o, s:o}", "id", (json_int_t)u->id, "username",
                     u->username, "role", u->role, "permissions", svc_auth_perms_to_json(u->perms),
                     "disabled", u->disabled, "created_at", http_json_time(u->created_at),
                     "last_login_at", http_json_time(u->last_login_at));
}

static json_t *role_json(const struct role *ro)
{
    return json_pack("{s:I, s:s, s:s, s:b, s:o}", "id", (json_int_t)ro->id, "name", ro->name,
                     "description", ro->description, "builtin", ro->builtin, "permissions",
                     svc_auth_perms_to_json(ro->perms));
}

static json_t *token_json(const struct api_token *t)
{
    long long now = (long long)time(NULL);
    const char *status = t->revoked_at ? "revoked"
                         : (t->expires_at && now >= t->expires_at) ? "expired"
                                                                   : "active";
    return json_pack("{s:I, s:s, s:s, s:o, s:s?, s:s, s:o, s:o, s:o, s:o, s:s}", "id",
                     (json_int_t)t->id, "name", t->name, "prefix", t->prefix, "permissions",
                     svc_auth_perms_to_json(t->perms), "cluster",
                     t->cluster[0] ? t->cluster : NULL, "created_by", t->created_by,
                     "created_at", http_json_time(t->created_at), "expires_at",
                     http_json_time(t->expires_at), "revoked_at", http_json_time(t->revoked_at),
                     "last_used_at", http_json_time(t->last_used_at), "status", status);
}

/* Wraps a list in {"items": [...]}. `items` is taken over. */
static int reply_items(struct http_req *r, json_t *items)
{
    if (items == NULL) {
        return http_reply_error(r, STK_ENOMEM, "out of memory");
    }
    return http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

int http_admin_users_list(struct http_req *r)
{
    struct user *users = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = store_users_list(r->db, &users, &n, &err);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        json_array_append_new(items, user_json(&users[i]));
    }
    for (size_t i = 0; i < n; i++) {
        sodium_memzero(users[i].password_hash, sizeof(users[i].password_hash));
    }
    free(users);
    return reply_items(r, items);
}

int http_admin_users_create(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"username", "role", "password"};
    const char *name = json_string_value(json_object_get(in, "username"));
    const char *role = json_string_value(json_object_get(in, "role"));
    json_t *pw = json_object_get(in, "password");
    if (!http_json_keys_ok(in, keys, 3) || name == NULL || role == NULL || !json_is_string(pw)) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL,
                                "expected {\"username\", \"role\", \"password\"} as strings");
    }
    struct actor by = actor_of(r);
    struct user u;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_users_create(r->db, &by, name, role, json_string_value(pw),
                                       json_string_length(pw), &u, &err);
    sodium_memzero((char *)json_string_value(pw), json_string_length(pw));
    json_decref(in);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    return http_reply_json(r, 201, user_json(&u));
}

int http_admin_users_update(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"role", "disabled", "password"};
    json_t *role = json_object_get(in, "role");
    json_t *disabled = json_object_get(in, "disabled");
    json_t *pw = json_object_get(in, "password");
    if (!http_json_keys_ok(in, keys, 3) || json_object_size(in) == 0 ||
        (role && !json_is_string(role)) || (disabled && !json_is_boolean(disabled)) ||
        (pw && !json_is_string(pw))) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL,
                                "expected any of {\"role\": string, \"disabled\": boolean, "
                                "\"password\": string}");
    }
    struct actor by = actor_of(r);
    struct user_change c = {
        .role = role ? json_string_value(role) : NULL,
        .set_disabled = disabled != NULL,
        .disabled = json_is_true(disabled),
        .password = pw ? json_string_value(pw) : NULL,
        .password_len = pw ? json_string_length(pw) : 0,
    };
    struct user u;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_users_update(r->db, &by, r->params[0], &c, &u, &err);
    http_session_cache_invalidate(r->app);
    if (pw != NULL) {
        sodium_memzero((char *)json_string_value(pw), json_string_length(pw));
    }
    json_decref(in);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    return http_reply_json(r, 200, user_json(&u));
}

int http_admin_roles_list(struct http_req *r)
{
    struct role *roles = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = store_roles_list(r->db, &roles, &n, &err);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        json_array_append_new(items, role_json(&roles[i]));
    }
    free(roles);
    return reply_items(r, items);
}

int http_admin_roles_create(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"name", "permissions", "description"};
    const char *name = json_string_value(json_object_get(in, "name"));
    json_t *desc = json_object_get(in, "description");
    struct stk_error err;
    stk_error_clear(&err);
    unsigned perms = 0;
    if (!http_json_keys_ok(in, keys, 3) || name == NULL || (desc && !json_is_string(desc))) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL,
                                "expected {\"name\": string, \"permissions\": [names], "
                                "\"description\": string}");
    }
    enum stk_err rc = svc_auth_perms_from_json(json_object_get(in, "permissions"), &perms, &err);
    struct role ro;
    if (rc == STK_OK) {
        struct actor by = actor_of(r);
        rc = svc_roles_create(r->db, &by, name, desc ? json_string_value(desc) : "", perms, &ro,
                              &err);
    }
    json_decref(in);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    return http_reply_json(r, 201, role_json(&ro));
}

int http_admin_tokens_list(struct http_req *r)
{
    struct api_token *toks = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = store_tokens_list(r->db, &toks, &n, &err);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        json_array_append_new(items, token_json(&toks[i]));
    }
    free(toks);
    return reply_items(r, items);
}

int http_admin_tokens_create(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"name", "permissions", "ttl", "cluster"};
    const char *name = json_string_value(json_object_get(in, "name"));
    json_t *ttl = json_object_get(in, "ttl");
    json_t *cluster = json_object_get(in, "cluster");
    if (!http_json_keys_ok(in, keys, 4) || name == NULL || (ttl && !json_is_string(ttl)) ||
        (cluster && !json_is_string(cluster))) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL,
                                "expected {\"name\": string, \"permissions\": [names], \"ttl\": "
                                "\"30d\", \"cluster\": string}");
    }
    struct stk_error err;
    stk_error_clear(&err);
    unsigned perms = 0;
    long long ttl_s = 0;
    enum stk_err rc = svc_auth_perms_from_json(json_object_get(in, "permissions"), &perms, &err);
    if (rc == STK_OK && ttl != NULL) {
        rc = svc_parse_ttl(json_string_value(ttl), &ttl_s, &err);
    }
    char secret[80] = "";
    struct api_token t;
    if (rc == STK_OK) {
        struct actor by = actor_of(r);
        rc = svc_tokens_create(r->db, &by, name, perms, ttl_s,
                               cluster ? json_string_value(cluster) : NULL, secret, &t, &err);
    }
    json_decref(in);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    json_t *body = token_json(&t);
    if (body != NULL) {
        json_object_set_new(body, "token", json_string(secret));
    }
    sodium_memzero(secret, sizeof(secret));
    return http_reply_json(r, 201, body);
}

int http_admin_tokens_revoke(struct http_req *r)
{
    long long id = http_parse_id(r->params[0]);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such token");
    }
    struct actor by = actor_of(r);
    struct api_token t;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_tokens_revoke(r->db, &by, id, &t, &err);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    return http_reply_json(r, 200, token_json(&t));
}

static json_t *audit_json(const struct audit_row *a)
{
    json_error_t jerr;
    json_t *details = json_loads(a->details, 0, &jerr);
    return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "id",
                     (json_int_t)a->id, "time", http_json_time_ms(a->ts), "actor", a->actor,
                     "actor_kind", a->actor_kind, "source_ip", a->source_ip, "action", a->action,
                     "target", a->target, "outcome", a->outcome, "details",
                     details ? details : json_object(), "prev_hash", a->prev_hash, "hash",
                     a->hash);
}

int http_admin_audit_list(struct http_req *r)
{
    char actor[80] = "", action[80] = "", outcome[16] = "", since[48] = "", until[48] = "";
    char cursor[24] = "", limit[8] = "";
    if (http_query(r, "actor", actor, sizeof(actor)) < 0 ||
        http_query(r, "action", action, sizeof(action)) < 0 ||
        http_query(r, "outcome", outcome, sizeof(outcome)) < 0 ||
        http_query(r, "since", since, sizeof(since)) < 0 ||
        http_query(r, "until", until, sizeof(until)) < 0 ||
        http_query(r, "cursor", cursor, sizeof(cursor)) < 0 ||
        http_query(r, "limit", limit, sizeof(limit)) < 0) {
        return http_reply_error(r, STK_EINVAL, "a query parameter is too long");
    }
    struct audit_filter f = {.actor = actor, .action = action, .outcome = outcome, .limit = 50};
    if (outcome[0] && strcmp(outcome, "success") != 0 && strcmp(outcome, "failure") != 0 &&
        strcmp(outcome, "denied") != 0) {
        return http_reply_error(r, STK_EINVAL, "outcome must be success, failure or denied");
    }
    if ((since[0] && (f.since_ms = http_parse_time_ms(since)) < 0) ||
        (until[0] && (f.until_ms = http_parse_time_ms(until)) < 0)) {
        return http_reply_error(r, STK_EINVAL,
                                "since and until take RFC 3339 times or milliseconds");
    }
    if (cursor[0] && (f.before_id = http_parse_id(cursor)) < 0) {
        return http_reply_error(r, STK_EINVAL, "cursor is not valid");
    }
    if (limit[0]) {
        long long l = http_parse_id(limit);
        if (l < 1 || l > AUDIT_PAGE_MAX) {
            return http_reply_error(r, STK_EINVAL, "limit must be 1 to 200");
        }
        f.limit = (int)l;
    }
    struct audit_row *rows = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    /* One row more than asked tells whether an older page exists. */
    int page = f.limit;
    f.limit = page + 1;
    enum stk_err rc = store_audit_list(r->db, &f, &rows, &n, &err);
    if (rc != STK_OK) {
        return reply_svc_error(r, rc, &err);
    }
    long long next = 0;
    if (n > (size_t)page) {
        store_audit_row_release(&rows[page]);
        n = (size_t)page;
        next = rows[n - 1].id;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        if (items != NULL) {
            json_array_append_new(items, audit_json(&rows[i]));
        }
        store_audit_row_release(&rows[i]);
    }
    free(rows);
    if (items == NULL) {
        return http_reply_error(r, STK_ENOMEM, "out of memory");
    }
    char next_s[24];
    snprintf(next_s, sizeof(next_s), "%lld", next);
    return http_reply_json(r, 200,
                           json_pack("{s:o, s:s?}", "items", items, "next_cursor",
                                     next ? next_s : NULL));
}
