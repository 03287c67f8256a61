#include "http_routes.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http_handlers.h"
#include "log.h"

const struct route http_route_table[] = {
    {"GET", "/healthz", PERM_PUBLIC, http_system_healthz},
    {"GET", "/api/v1/version", PERM_PUBLIC, http_system_version},
    {"GET", "/static/*", PERM_PUBLIC, http_static_serve},
    {"GET", "/web/*", PERM_PUBLIC, http_static_serve},
    {"GET", "/", PERM_PUBLIC, http_pages_root},
    {"GET", "/incidents", PERM_PUBLIC, http_pages_shell},
    {"GET", "/action-center", PERM_PUBLIC, http_pages_shell},
    {"GET", "/hunting", PERM_PUBLIC, http_pages_shell},
    {"GET", "/attack-paths", PERM_PUBLIC, http_pages_shell},
    {"GET", "/settings", PERM_PUBLIC, http_pages_shell},
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
            snprintf(params[np++], HTTP_PARAM_MAX, "%s", s);
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
            snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", rt->method);
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
    log_event(STK_LOG_INFO, "http_request", "method=%s path=%s status=%d bytes=%zu dur_us=%ld remote=%s",
              log_clean(r->ri->request_method, method, sizeof(method)),
              log_clean(r->ri->local_uri_raw ? r->ri->local_uri_raw : r->path, path, sizeof(path)),
              r->status, r->bytes_out,
              elapsed_us(&r->started), r->ri->remote_addr);
}

/* Paths must be absolute and free of NUL and backslashes; dot segments
 * were already resolved by civetweb in local_uri, but the raw form tells
 * us a client tried. */
static int path_is_clean(const struct mg_request_info *ri)
{
    const char *raw = ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri;
    if (raw == NULL || raw[0] != '/') {
        return 0;
    }
    for (const char *p = raw; *p; p++) {
        if (*p == '\\') {
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

static int handle(struct http_req *r)
{
    if (!path_is_clean(r->ri)) {
        return http_reply_error_status(r, 400, "invalid_path", "the request path is not valid");
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
        json_t *env = json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message",
                                "this method is not allowed here");
        char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
        json_decref(env);
        int st = http_reply(r, 405, "application/json; charset=utf-8", hdr, text ? text : "{}",
                            text ? strlen(text) : 2);
        free(text);
        return st;
    }
    r->route = rt;
    if (rt->perm != PERM_PUBLIC) {
        return http_reply_error_status(r, 401, "unauthorized", "sign in first");
    }
    return rt->handler(r);
}

int http_routes_dispatch(struct mg_connection *conn, void *cbdata)
{
    struct http_req r;
    memset(&r, 0, sizeof(r));
    clock_gettime(CLOCK_MONOTONIC, &r.started);
    r.app = cbdata;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.db = mg_get_thread_pointer(conn);
    r.method = r.ri->request_method;
    r.is_head = strcmp(r.method, "HEAD") == 0;
    r.path = r.ri->local_uri ? r.ri->local_uri : "/";
    r.is_api = strncmp(r.path, "/api/", 5) == 0 || strcmp(r.path, "/healthz") == 0;
    r.body_consumed = r.ri->content_length == 0;
    int status = handle(&r);
    if (r.status == 0) {
        r.status = status;
    }
    access_log(&r);
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
