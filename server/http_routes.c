#include "http_routes.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http_handlers.h"
#include "log.h"
#include "stk_crypto.h"
#include "svc_auth.h"

const struct route http_route_table[] = {
    {"GET", "/healthz", PERM_PUBLIC, http_system_healthz},
    {"GET", "/api/v1/version", PERM_PUBLIC, http_system_version},
    {"GET", "/static/*", PERM_PUBLIC, http_static_serve},
    {"GET", "/web/*", PERM_PUBLIC, http_static_serve},

    {"POST", "/api/v1/auth/login", PERM_PUBLIC, http_auth_login},
    {"POST", "/api/v1/auth/logout", PERM_SIGNED_IN, http_auth_logout},
    {"GET", "/api/v1/auth/me", PERM_SIGNED_IN, http_auth_me},
    {"POST", "/api/v1/auth/password", PERM_SIGNED_IN, http_auth_password},

    {"GET", "/api/v1/users", PERM_ADMIN, http_admin_users_list},
    {"POST", "/api/v1/users", PERM_ADMIN, http_admin_users_create},
    {"PATCH", "/api/v1/users/{username}", PERM_ADMIN, http_admin_users_update},
    {"GET", "/api/v1/roles", PERM_ADMIN, http_admin_roles_list},
    {"POST", "/api/v1/roles", PERM_ADMIN, http_admin_roles_create},
    {"GET", "/api/v1/tokens", PERM_ADMIN, http_admin_tokens_list},
    {"POST", "/api/v1/tokens", PERM_ADMIN, http_admin_tokens_create},
    {"DELETE", "/api/v1/tokens/{id}", PERM_ADMIN, http_admin_tokens_revoke},
    {"GET", "/api/v1/audit", PERM_ADMIN, http_admin_audit_list},
    {"GET", "/api/v1/agents", PERM_ADMIN, http_agents_list},
    {"POST", "/api/v1/agents/enroll-tokens", PERM_ADMIN, http_agents_enroll_token},
    {"POST", "/api/v1/agents/{id}/revoke", PERM_ADMIN, http_agents_revoke},

    {"POST", "/api/v1/ingest/falco", PERM_ALERTS_MANAGE, http_ingest_falco},
    {"POST", "/api/v1/ingest/k8s-audit", PERM_ALERTS_MANAGE, http_ingest_k8s_audit},
    {"POST", "/api/v1/alerts", PERM_ALERTS_MANAGE, http_ingest_alerts},
    {"POST", "/api/v1/ingest/trivy", PERM_ALERTS_MANAGE, http_ingest_trivy},
    {"POST", "/api/v1/inventory", PERM_ALERTS_MANAGE, http_inventory_post},

    {"GET", "/api/v1/incidents", PERM_ALERTS_READ, http_incidents_list},
    {"GET", "/api/v1/incidents/{id}", PERM_ALERTS_READ, http_incidents_get},
    {"PATCH", "/api/v1/incidents/{id}", PERM_ALERTS_MANAGE, http_incidents_update},
    {"POST", "/api/v1/incidents/{id}/comments", PERM_ALERTS_MANAGE, http_incidents_comment},
    {"POST", "/api/v1/incidents/{id}/merge", PERM_ALERTS_MANAGE, http_incidents_merge},
    {"POST", "/api/v1/incidents/{id}/split", PERM_ALERTS_MANAGE, http_incidents_split},
    {"GET", "/api/v1/incidents/{id}/report", PERM_ALERTS_READ, http_incidents_report},
    {"GET", "/api/v1/incidents/{id}/graph.svg", PERM_ALERTS_READ, http_graph_svg},
    {"GET", "/api/v1/incidents/{id}/graph", PERM_ALERTS_READ, http_graph_json},
    {"GET", "/api/v1/alerts/{id}", PERM_ALERTS_READ, http_alerts_get},
    {"POST", "/api/v1/alerts/{id}/move", PERM_ALERTS_MANAGE, http_alerts_move},
    {"GET", "/api/v1/entities/{id}", PERM_ALERTS_READ, http_entities_get},
    {"PATCH", "/api/v1/entities/{id}", PERM_ALERTS_MANAGE, http_entities_update},
    {"GET", "/api/v1/assignees", PERM_ALERTS_READ, http_incidents_assignees},
    {"GET", "/api/v1/classifications", PERM_ALERTS_READ, http_incidents_classifications},
    {"GET", "/api/v1/attack-paths", PERM_ALERTS_READ, http_attack_paths_list},
    {"POST", "/api/v1/attack-paths/recompute", PERM_ALERTS_MANAGE, http_attack_paths_recompute},
    {"GET", "/api/v1/attack-paths/{id}", PERM_ALERTS_READ, http_attack_paths_get},

    {"GET", "/api/v1/actions", PERM_RESPONSE_READ, http_actions_list},
    {"POST", "/api/v1/actions", PERM_RESPONSE_MANAGE, http_actions_create},
    {"GET", "/api/v1/actions/{id}", PERM_RESPONSE_READ, http_actions_get},
    {"POST", "/api/v1/actions/{id}/cancel", PERM_RESPONSE_MANAGE, http_actions_cancel},
    {"POST", "/api/v1/actions/{id}/approve", PERM_RESPONSE_MANAGE, http_actions_approve},
    {"POST", "/api/v1/actions/{id}/reject", PERM_RESPONSE_MANAGE, http_actions_reject},
    {"POST", "/api/v1/actions/{id}/comments", PERM_RESPONSE_MANAGE, http_actions_comment},
    {"GET", "/api/v1/actions/{id}/evidence", PERM_RESPONSE_READ, http_actions_evidence},

    {"GET", "/login", PERM_PUBLIC, http_pages_login},
    {"GET", "/", PERM_SIGNED_IN, http_pages_root},
    {"GET", "/incidents", PERM_ALERTS_READ, http_pages_shell},
    {"GET", "/incidents/{id}", PERM_ALERTS_READ, http_pages_incident},
    {"GET", "/incidents/{id}/report", PERM_ALERTS_READ, http_pages_report},
    {"GET", "/alerts/{id}", PERM_ALERTS_READ, http_pages_alert},
    {"GET", "/action-center", PERM_RESPONSE_READ, http_pages_shell},
    {"GET", "/hunting", PERM_ALERTS_READ, http_pages_shell},
    {"GET", "/attack-paths", PERM_ALERTS_READ, http_pages_shell},
    {"GET", "/attack-paths/{id}", PERM_ALERTS_READ, http_pages_attack_path},
    {"GET", "/settings", PERM_SIGNED_IN, http_pages_settings},
    {"GET", "/settings/audit", PERM_ADMIN, http_pages_audit},
};

const size_t http_route_count = sizeof(http_route_table) / sizeof(http_route_table[0]);

/* Matches `path` against `pattern`; fills params on success. */
static int match_pattern(const char *pattern, const char *path, char params[][HTTP_PARAM_MAX],
                         int *nparams)
{
    const char *p = pattern;
    const char *s = path;
    int np = 0;
    while (*p != '\0') {
        if (p[0] == '*' && p[1] == '\0') {
            if (np == HTTP_MAX_PARAMS || strlen(s) >= HTTP_PARAM_MAX * 4) {
                return 0;
            }
            size_t len = strlen(s);
            len = len < HTTP_PARAM_MAX ? len : HTTP_PARAM_MAX - 1;
            memcpy(params[np], s, len);
            params[np++][len] = '\0';
            *nparams = np;
            /* The rest of a long path does not fit in a param: let the
             * handler see the full path through r->path instead. */
            return 1;
        }
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (close == NULL || len == 0 || len >= HTTP_PARAM_MAX || np == HTTP_MAX_PARAMS) {
                return 0;
            }
            memcpy(params[np], s, len);
            params[np][len] = '\0';
            np++;
            p = close + 1;
            s += len;
            continue;
        }
        if (*p != *s) {
            return 0;
        }
        p++;
        s++;
    }
    if (*s != '\0') {
        return 0;
    }
    *nparams = np;
    return 1;
}

enum route_match http_routes_match(const char *method, const char *path, const struct route **out,
                                   char params[][HTTP_PARAM_MAX], int *nparams, char *allow,
                                   size_t allow_len)
{
    *out = NULL;
    *nparams = 0;
    if (allow_len > 0) {
        allow[0] = '\0';
    }
    int path_seen = 0;
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *rt = &http_route_table[i];
        char tmp[HTTP_MAX_PARAMS][HTTP_PARAM_MAX];
        int n = 0;
        if (!match_pattern(rt->pattern, path, tmp, &n)) {
            continue;
        }
        if (strcmp(rt->method, method) == 0) {
            memcpy(params, tmp, sizeof(tmp));
            *nparams = n;
            *out = rt;
            return ROUTE_FOUND;
        }
        if (allow_len > 0 && strstr(allow, rt->method) == NULL) {
            size_t used = strlen(allow);
            /* Every GET route answers HEAD too. */
            snprintf(allow + used, allow_len - used, "%s%s%s", used ? ", " : "", rt->method,
                     strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
        }
        path_seen = 1;
    }
    return path_seen ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

static long elapsed_us(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000000L + (now.tv_nsec - since->tv_nsec) / 1000L;
}

static void access_log(const struct http_req *r)
{
    char method[16], path[512];
    log_event(STK_LOG_INFO, "http_request",
              "method=%s path=%s status=%d bytes=%zu dur_us=%ld remote=%s",
              log_clean(r->ri->request_method, method, sizeof(method)),
              log_clean(r->ri->local_uri_raw ? r->ri->local_uri_raw : "-", path, sizeof(path)),
              r->status, r->bytes_out, elapsed_us(&r->started), r->ri->remote_addr);
}

/* A decoded path must be absolute, free of control bytes and backslashes,
 * and have no "." or ".." segment: nothing downstream has to think about
 * traversal. */
static int path_is_clean(const char *path)
{
    if (path[0] != '/') {
        return 0;
    }
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\') {
            return 0;
        }
        if (p[0] == '/' && p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')) {
            return 0;
        }
        if (p[0] == '/' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) {
            return 0;
        }
    }
    return 1;
}

static int is_safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* A browser sends Origin with every state-changing request; one from
 * another site is refused whatever the credentials (CSRF defence in depth
 * beside SameSite=Strict and the X-CSRF-Token check). */
static int origin_ok(const struct http_req *r)
{
    const char *origin = http_header(r, "Origin");
    if (origin == NULL) {
        return 1;
    }
    const char *pub = r->app->cfg.public_url;
    if (pub[0] != '\0') {
        size_t n = strlen(origin);
        return strncmp(pub, origin, n) == 0 && (pub[n] == '\0' || pub[n] == '/');
    }
    const char *host = http_header(r, "Host");
    if (host == NULL) {
        return 0;
    }
    const char *rest = NULL;
    if (strncmp(origin, "http://", 7) == 0) {
        rest = origin + 7;
    } else if (strncmp(origin, "https://", 8) == 0) {
        rest = origin + 8; /* behind a TLS proxy without --public-url */
    }
    return rest != NULL && strcmp(rest, host) == 0;
}

/* Pages answer a missing sign-in with a redirect to /login and a missing
 * permission with an HTML page; the API answers with the JSON envelope. */
static int refuse(struct http_req *r, int status, const char *code, const char *message)
{
    if (!r->is_api && status == 401 && !strcmp(r->method, "GET")) {
        char hdr[600];
        char next[400];
        snprintf(next, sizeof(next), "%s", r->path);
        snprintf(
            hdr, sizeof(hdr), "Location: /login?next=%s\r\nCache-Control: no-store\r\n",
            strspn(next, "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                    strlen(next)
                ? next
                : "/");
        return http_reply(r, 302, "text/plain; charset=utf-8", hdr, NULL, 0);
    }
    if (!r->is_api) {
        return http_pages_error(r, status, status == 403 ? "Not allowed" : "Sign in", message);
    }
    return http_reply_error_status(r, status, code, message);
}

/* Identification, authorization and CSRF, before any handler runs. */
static int guard(struct http_req *r, const struct route *rt)
{
    if (rt->perm == PERM_UNDECLARED) {
        log_event(STK_LOG_ERROR, "route_undeclared", "pattern=%s", rt->pattern);
        return http_reply_error(r, STK_EINTERNAL, "route has no permission");
    }
    if (!is_safe_method(r->method) && !origin_ok(r)) {
        return refuse(r, 403, "forbidden", "cross-site request refused");
    }
#ifdef STK_BENCH_NOAUTH
    /* Bench build only: measures what authorization costs per request. */
    if (http_header(r, "X-Bench-Noauth") != NULL) {
        r->who.kind = PRINCIPAL_USER;
        r->who.perms = PERMBIT_ALL;
        return rt->handler(r);
    }
#endif
    if (rt->perm == PERM_PUBLIC) {
        return rt->handler(r);
    }
    int st = http_identify(r);
    if (st != 0) {
        return st;
    }
    if (r->who.kind == PRINCIPAL_NONE) {
        return refuse(r, 401, "unauthorized", "sign in first");
    }
    const char *missing = NULL;
    if (!svc_auth_allows(&r->who, rt->perm, &missing)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Requires %s", missing ? missing : "a signed-in user");
        return refuse(r, 403, "forbidden", msg);
    }
    if (r->who.kind == PRINCIPAL_USER && !is_safe_method(r->method)) {
        const char *csrf = http_header(r, "X-CSRF-Token");
        if (csrf == NULL || !stk_crypto_str_equal(csrf, r->who.csrf_token)) {
            return refuse(r, 403, "csrf", "missing or wrong X-CSRF-Token header");
        }
    }
    return rt->handler(r);
}

static int handle(struct http_req *r)
{
    if (r->path == NULL || !path_is_clean(r->path)) {
        return http_reply_error_status(r, 400, "invalid_path", "the request path is not valid");
    }
    if (strcmp(r->ri->http_version, "1.1") == 0 && http_header(r, "Host") == NULL) {
        return http_reply_error_status(r, 400, "missing_host", "HTTP/1.1 requests need a Host");
    }
    char allow[64];
    const struct route *rt = NULL;
    const char *method = r->is_head ? "GET" : r->method;
    enum route_match m =
        http_routes_match(method, r->path, &rt, r->params, &r->nparams, allow, sizeof(allow));
    if (m == ROUTE_NO_PATH) {
        return http_reply_error_status(r, 404, "not_found", "no such resource");
    }
    if (m == ROUTE_NO_METHOD) {
        char hdr[96];
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
        return http_reply_error_with(r, 405, "method_not_allowed",
                                     "this method is not allowed here", hdr);
    }
    r->route = rt;
    return guard(r, rt);
}

int http_routes_dispatch(struct mg_connection *conn, void *cbdata)
{
    struct http_req r;
    memset(&r, 0, sizeof(r));
    clock_gettime(CLOCK_MONOTONIC, &r.started);
    r.app = cbdata;
    atomic_fetch_add(&r.app->inflight, 1);
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.worker = mg_get_thread_pointer(conn);
    r.db = r.worker ? r.worker->db : NULL;
    r.method = r.ri->request_method;
    r.is_head = strcmp(r.method, "HEAD") == 0;
    /* civetweb leaves the path encoded (decode_url=no); decode it here and
     * refuse an encoded NUL, which would otherwise cut the path short. */
    char decoded[HTTP_PATH_MAX];
    const char *raw = r.ri->local_uri_raw ? r.ri->local_uri_raw : r.ri->local_uri;
    int n = raw ? mg_url_decode(raw, (int)strlen(raw), decoded, (int)sizeof(decoded), 0) : -1;
    r.path = n >= 0 && (size_t)n == strlen(decoded) ? decoded : NULL;
    r.is_api = r.path == NULL || strncmp(r.path, "/api/", 5) == 0 ||
               strcmp(r.path, "/healthz") == 0;
    r.body_consumed = r.ri->content_length == 0;
    int status = handle(&r);
    if (r.status == 0) {
        r.status = status;
    }
    access_log(&r);
    atomic_fetch_sub(&r.app->inflight, 1);
    return status > 0 && status < 1000 ? status : 500;
}

int http_routes_civetweb_error(struct mg_connection *conn, int status, const char *msg)
{
    (void)msg;
    char body[160];
    int len = snprintf(body, sizeof(body),
                       "{\"error\":{\"code\":\"http_%d\",\"message\":\"the request could not be "
                       "handled\"}}",
                       status);
    mg_printf(conn,
              "HTTP/1.1 %d Error\r\n%sContent-Type: application/json; charset=utf-8\r\n"
              "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
              status, http_security_headers, len, body);
    return 0;
}
