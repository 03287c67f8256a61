/* HTML pages: the application shell rendered from templates/. */
#include <civetweb.h>
#include <jansson.h>
#include <string.h>

#include "app.h"
#include "http.h"
#include "http_handlers.h"
#include "log.h"
#include "svc_auth.h"
#include "tmpl.h"
#include "version.h"

#define MAX_PAGE_BYTES (4 * 1024 * 1024)

static const struct {
    const char *path;
    const char *label;
    const char *icon;
    const char *page; /* template pages/<page>.html */
} nav[] = {
    {"/incidents", "Incidents", "incidents", "incidents"},
    {"/action-center", "Action center", "actions", "action-center"},
    {"/hunting", "Hunting", "hunting", "hunting"},
    {"/attack-paths", "Attack paths", "paths", "attack-paths"},
    {"/settings", "Settings", "settings", "settings"},
};

/* The context every page shares: title, version, navigation with the
 * current entry marked, and the signed-in user with what they may do (the
 * browser greys out what the server would refuse). Caller owns the result. */
static json_t *page_context(const struct http_req *r, const char *current_path, const char *title)
{
    json_t *items = json_array();
    json_t *ctx = json_object();
    if (items == NULL || ctx == NULL) {
        json_decref(items);
        json_decref(ctx);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++) {
        json_t *it = json_pack("{s:s, s:s, s:s, s:b}", "href", nav[i].path, "label", nav[i].label,
                               "icon", nav[i].icon, "current",
                               strcmp(nav[i].path, current_path) == 0);
        if (it == NULL || json_array_append_new(items, it) != 0) {
            json_decref(items);
            json_decref(ctx);
            return NULL;
        }
    }
    if (json_object_set_new(ctx, "nav", items) != 0 ||
        json_object_set_new(ctx, "title", json_string(title)) != 0 ||
        json_object_set_new(ctx, "version", json_string(STK_VERSION)) != 0) {
        json_decref(ctx);
        return NULL;
    }
    if (r->who.kind == PRINCIPAL_USER) {
        unsigned p = r->who.perms;
        json_t *user = json_pack(
            "{s:s, s:s, s:s, s:o, s:{s:b, s:b, s:b, s:b, s:b}}", "name", r->who.name, "role",
            r->who.role, "csrf_token", r->who.csrf_token, "permissions",
            svc_auth_perms_to_json(p), "can", "alerts_read", (p & PERMBIT_ALERTS_READ) != 0,
            "alerts_manage", (p & PERMBIT_ALERTS_MANAGE) != 0, "response_read",
            (p & PERMBIT_RESPONSE_READ) != 0, "response_manage",
            (p & PERMBIT_RESPONSE_MANAGE) && (p & PERMBIT_ALERTS_MANAGE), "admin",
            (p & PERMBIT_ADMIN) != 0);
        if (user == NULL || json_object_set_new(ctx, "user", user) != 0) {
            json_decref(ctx);
            return NULL;
        }
        char csv[128];
        svc_auth_perms_to_csv(p, csv, sizeof(csv));
        json_object_set_new(ctx, "permissions_csv", json_string(csv));
    }
    return ctx;
}

/* Renders template `name` with `ctx` (reference taken over) and sends it. */
static int render_page(struct http_req *r, int status, const char *name, json_t *ctx)
{
    if (ctx == NULL) {
        return http_reply_error(r, STK_ENOMEM, "out of memory");
    }
    struct buf out;
    buf_init(&out, MAX_PAGE_BYTES);
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = tmpl_render(r->app->templates, name, ctx, &out, &err);
    json_decref(ctx);
    int st;
    if (rc != STK_OK) {
        log_event(STK_LOG_ERROR, "template_failed", "template=%s error=\"%s\"", name, err.msg);
        st = http_reply_error(r, STK_EINTERNAL, "the page could not be rendered");
    } else {
        st = http_reply_html(r, status, out.data ? out.data : "", out.len);
    }
    buf_release(&out);
    return st;
}

int http_pages_root(struct http_req *r)
{
    return http_reply(r, 302, "text/plain; charset=utf-8", "Location: /incidents\r\n", NULL, 0);
}

int http_pages_shell(struct http_req *r)
{
    for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++) {
        if (strcmp(r->path, nav[i].path) == 0) {
            char name[64];
            snprintf(name, sizeof(name), "pages/%s", nav[i].page);
            return render_page(r, 200, name, page_context(r, nav[i].path, nav[i].label));
        }
    }
    return http_reply_error_status(r, 404, "not_found", "no such page");
}

int http_pages_login(struct http_req *r)
{
    if (http_identify(r) == 0 && r->who.kind == PRINCIPAL_USER) {
        return http_reply(r, 302, "text/plain; charset=utf-8",
                          "Location: /incidents\r\nCache-Control: no-store\r\n", NULL, 0);
    }
    if (r->status != 0) {
        return r->status;
    }
    json_t *ctx = json_pack("{s:s, s:s}", "title", "Sign in", "version", STK_VERSION);
    return render_page(r, 200, "pages/login", ctx);
}

int http_pages_settings(struct http_req *r)
{
    return render_page(r, 200, "pages/settings", page_context(r, "/settings", "Settings"));
}

int http_pages_audit(struct http_req *r)
{
    return render_page(r, 200, "pages/audit", page_context(r, "/settings", "Audit log"));
}

int http_pages_error(struct http_req *r, int status, const char *title, const char *message)
{
    json_t *ctx = page_context(r, "", title);
    if (ctx != NULL) {
        json_object_set_new(ctx, "message", json_string(message));
        json_object_set_new(ctx, "status", json_integer(status));
    }
    return render_page(r, status, "pages/error", ctx);
}

/* /incidents/{id}, /incidents/{id}/report, /alerts/{id} and
 * /attack-paths/{id}: the page fetches the record itself; a malformed id is
 * a 404 page. `section` is the navigation entry marked current. */
static int record_page(struct http_req *r, const char *tmpl, const char *title, const char *key,
                       const char *section)
{
    long long id = http_parse_id(r->params[0]);
    if (id < 0) {
        return http_pages_error(r, 404, "Not found", "There is no such page.");
    }
    json_t *ctx = page_context(r, section, title);
    if (ctx != NULL) {
        json_object_set_new(ctx, key, json_integer(id));
    }
    return render_page(r, 200, tmpl, ctx);
}

int http_pages_incident(struct http_req *r)
{
    return record_page(r, "pages/incident", "Incident", "incident_id", "/incidents");
}

int http_pages_report(struct http_req *r)
{
    /* The same address serves the report as JSON to clients asking for it. */
    const char *accept = http_header(r, "Accept");
    if (accept != NULL && strstr(accept, "application/json") != NULL &&
        strstr(accept, "text/html") == NULL) {
        return http_incidents_report(r);
    }
    return record_page(r, "pages/report", "Incident report", "incident_id", "/incidents");
}

int http_pages_alert(struct http_req *r)
{
    return record_page(r, "pages/alert", "Alert", "alert_id", "/incidents");
}

int http_pages_attack_path(struct http_req *r)
{
    return record_page(r, "pages/attack-path", "Attack path", "path_id", "/attack-paths");
}
