#include "http.h"

#include <civetweb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <time.h>

#include "app.h"
#include "log.h"

/* No inline script or style anywhere: pages load modules from /web and
 * stylesheets from /static. frame-ancestors stops click-jacking of the action buttons. */
const char *const http_security_headers =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n"
    "Permissions-Policy: camera=(), microphone=(), geolocation=()\r\n";

int http_status_for(enum stk_err code)
{
    switch (code) {
    case STK_OK:
        return 200;
    case STK_EINVAL:
        return 400;
    case STK_EAUTH:
        return 401;
    case STK_EFORBIDDEN:
        return 403;
    case STK_ENOTFOUND:
        return 404;
    case STK_ECONFLICT:
        return 409;
    case STK_ETOOBIG:
        return 413;
    case STK_ELIMIT:
        return 429;
    case STK_EDB:
    case STK_ENOMEM:
    case STK_EIO:
    case STK_ECRYPTO:
    case STK_EINTERNAL:
        return 500;
    }
    return 500;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* Whether this response ends the connection: the client asked for it
 * (Connection: close, or HTTP/1.0 without keep-alive), the server is
 * shutting down, or the request has a body we did not read, which civetweb
 * would otherwise have to drain. */
static int has_unread_body(struct http_req *r)
{
    if (r->body_consumed) {
        return 0;
    }
    long long cl = r->ri->content_length;
    const char *te = mg_get_header(r->conn, "Transfer-Encoding");
    return cl > 0 || (te != NULL && strcasecmp(te, "identity") != 0);
}

/* Both Content-Length and Transfer-Encoding, or several Content-Length
 * headers: the body's end is open to interpretation. */
static int ambiguous_length(struct http_req *r)
{
    int lengths = 0, encodings = 0;
    for (int i = 0; i < r->ri->num_headers; i++) {
        lengths += strcasecmp(r->ri->http_headers[i].name, "Content-Length") == 0;
        encodings += strcasecmp(r->ri->http_headers[i].name, "Transfer-Encoding") == 0;
    }
    return lengths > 1 || encodings > 1 || (lengths && encodings);
}

static int must_close(struct http_req *r)
{
    if (ambiguous_length(r)) {
        return 1;
    }
    const char *conn = mg_get_header(r->conn, "Connection");
    if (conn != NULL && strcasestr(conn, "close") != NULL) {
        return 1;
    }
    if (strcmp(r->ri->http_version, "1.1") != 0 &&
        (conn == NULL || strcasestr(conn, "keep-alive") == NULL)) {
        return 1;
    }
    if (atomic_load(&r->app->draining)) {
        return 1;
    }
    return has_unread_body(r);
}

/* mg_write() until everything is out; returns the bytes written. */
static size_t write_all(struct mg_connection *conn, const char *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done > (1u << 30) ? (1u << 30) : len - done;
        int n = mg_write(conn, p + done, chunk);
        if (n <= 0) {
            break;
        }
        done += (size_t)n;
    }
    return done;
}

/* Reads and throws away a request body the handler did not read, up to
 * DRAIN_MAX bytes, so that the answer can keep the connection and a client
 * (or a proxy) still sending the body does not see its write fail. Returns
 * 1 when the body was fully drained. */
#define DRAIN_MAX (32LL * 1024 * 1024)
static int drain_body(struct http_req *r)
{
    long long cl = r->ri->content_length;
    if (cl > DRAIN_MAX) {
        return 0;
    }
    char sink[16384];
    long long total = 0;
    for (;;) {
        int n = mg_read(r->conn, sink, sizeof(sink));
        if (n < 0) {
            return 0;
        }
        if (n == 0) {
            break;
        }
        total += n;
        if (total > DRAIN_MAX) {
            return 0;
        }
    }
    r->body_consumed = 1;
    return 1;
}

/* Appends `n` bytes to the response head at `*at`, if they fit in `end`. */
static int put(char **at, const char *end, const char *s, size_t n)
{
    if ((size_t)(end - *at) < n) {
        return 0;
    }
    memcpy(*at, s, n);
    *at += n;
    return 1;
}

int http_reply(struct http_req *r, int status, const char *ctype, const char *extra_headers,
               const void *body, size_t len)
{
    /* Only an unambiguous body is drained: one Content-Length, no
     * Transfer-Encoding (request smuggling), on a method that carries a
     * body. Anything else closes the connection instead. */
    if (has_unread_body(r) && !ambiguous_length(r) && strcmp(r->method, "GET") != 0 &&
        !r->is_head) {
        drain_body(r);
    }
    int close = must_close(r);
    if (close) {
        mg_disable_connection_keep_alive(r->conn);
    }
    /* Status line, headers and a small body leave in one write: with
     * TCP_NODELAY each separate write would be its own packet. The head is
     * assembled with memcpy (this runs for every request); a large body is
     * written on its own rather than copied. */
    int send_body = !r->is_head && len > 0 && status != 304 && status != 204;
    int inline_body = send_body && len <= 64 * 1024;
    size_t extra = extra_headers ? strlen(extra_headers) : 0;
    const char *type = ctype ? ctype : "application/octet-stream";
    size_t cap = 1024 + strlen(http_security_headers) + strlen(type) + extra +
                 (inline_body ? len : 0);
    char stack[16384];
    char *head = cap <= sizeof(stack) ? stack : malloc(cap);
    if (head == NULL) {
        r->status = 500;
        return 500;
    }
    char *at = head;
    const char *end = head + cap;
    char line[96];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    int ok = put(&at, end, line, (size_t)n) &&
             put(&at, end, http_security_headers, strlen(http_security_headers)) &&
             put(&at, end, "Content-Type: ", 14) && put(&at, end, type, strlen(type)) &&
             put(&at, end, "\r\n", 2);
    /* 304 and 204 carry no body and no Content-Length (RFC 9110 8.6). */
    if (ok && status != 304 && status != 204) {
        n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
        ok = put(&at, end, line, (size_t)n);
    }
    static const char keep[] = "Connection: keep-alive\r\n";
    static const char shut[] = "Connection: close\r\n";
    ok = ok &&
         (close ? put(&at, end, shut, sizeof(shut) - 1) : put(&at, end, keep, sizeof(keep) - 1));
    ok = ok && put(&at, end, extra_headers ? extra_headers : "", extra) && put(&at, end, "\r\n", 2);
    if (ok && inline_body) {
        ok = put(&at, end, body, len);
    }
    if (ok) {
        r->bytes_out += write_all(r->conn, head, (size_t)(at - head));
        if (send_body && !inline_body) {
            r->bytes_out += write_all(r->conn, body, len);
        }
    }
    if (head != stack) {
        free(head);
    }
    r->status = status;
    return status;
}

int http_reply_json_with(struct http_req *r, int status, json_t *body, const char *extra_headers)
{
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    } else {
        text = strdup("{}");
    }
    if (text == NULL) {
        log_event(STK_LOG_ERROR, "json_encode_failed", "status=%d", status);
        static const char oom[] = "{\"error\":{\"code\":\"internal_error\",\"message\":"
                                  "\"could not encode the response\"}}";
        return http_reply(r, 500, "application/json; charset=utf-8", "Cache-Control: no-store\r\n",
                          oom, sizeof(oom) - 1);
    }
    char headers[512];
    snprintf(headers, sizeof(headers), "Cache-Control: no-store\r\n%s",
             extra_headers ? extra_headers : "");
    int st = http_reply(r, status, "application/json; charset=utf-8", headers, text, strlen(text));
    free(text);
    return st;
}

int http_reply_json(struct http_req *r, int status, json_t *body)
{
    return http_reply_json_with(r, status, body, NULL);
}

int http_reply_error_with(struct http_req *r, int status, const char *code, const char *message,
                          const char *extra_headers)
{
    json_t *env = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
    return http_reply_json_with(r, status, env, extra_headers);
}

int http_reply_error_status(struct http_req *r, int status, const char *code,
                            const char *message)
{
    return http_reply_error_with(r, status, code, message, NULL);
}

int http_reply_error(struct http_req *r, enum stk_err code, const char *message)
{
    return http_reply_error_status(r, http_status_for(code), stk_err_name(code), message);
}

int http_reply_html(struct http_req *r, int status, const char *html, size_t len)
{
    return http_reply(r, status, "text/html; charset=utf-8", "Cache-Control: no-store\r\n", html,
                      len);
}

enum stk_err http_read_body(struct http_req *r, char **out, size_t *len, struct stk_error *err)
{
    *out = NULL;
    *len = 0;
    size_t max = (size_t)r->app->cfg.max_body;
    long long cl = r->ri->content_length;
    if (cl > 0 && (unsigned long long)cl > max) {
        return stk_error_set(err, STK_ETOOBIG, "request body is %lld bytes; the limit is %zu", cl,
                             max);
    }
    struct buf b;
    buf_init(&b, max);
    enum stk_err rc = STK_OK;
    char chunk[16384];
    for (;;) {
        int n = mg_read(r->conn, chunk, sizeof(chunk));
        if (n < 0) {
            rc = stk_error_set(err, STK_EINVAL, "could not read the request body");
            goto out;
        }
        if (n == 0) {
            break;
        }
        rc = buf_append(&b, chunk, (size_t)n);
        if (rc == STK_ETOOBIG) {
            rc = stk_error_set(err, STK_ETOOBIG, "request body is larger than the limit of %zu "
                                                 "bytes", max);
            goto out;
        }
        if (rc != STK_OK) {
            rc = stk_error_set(err, rc, "out of memory reading the request body");
            goto out;
        }
    }
    r->body_consumed = 1;
    *len = b.len;
    *out = buf_take(&b);
    if (*out == NULL) {
        *len = 0;
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
    }
out:
    buf_release(&b);
    return rc;
}

int http_read_json(struct http_req *r, json_t **out)
{
    *out = NULL;
    struct stk_error err;
    stk_error_clear(&err);
    char *body = NULL;
    size_t len = 0;
    enum stk_err rc = http_read_body(r, &body, &len, &err);
    if (rc != STK_OK) {
        return -http_reply_error(r, rc, err.msg);
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    free(body);
    if (v == NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg), "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return -http_reply_error_status(r, 400, "malformed_json", msg);
    }
    *out = v;
    return 0;
}

int http_query(const struct http_req *r, const char *name, char *out, size_t n)
{
    const char *qs = r->ri->query_string;
    if (qs == NULL || n == 0) {
        return 0;
    }
    int got = mg_get_var(qs, strlen(qs), name, out, n);
    if (got == -1) {
        return 0;
    }
    if (got < 0) {
        return -1;
    }
    return 1;
}

const char *http_header(const struct http_req *r, const char *name)
{
    return mg_get_header(r->conn, name);
}

json_t *http_json_time_ms(long long ms)
{
    if (ms <= 0) {
        return json_null();
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        return json_null();
    }
    char buf[96];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
    return json_string(buf);
}

json_t *http_json_time(long long secs)
{
    if (secs <= 0) {
        return json_null();
    }
    return http_json_time_ms(secs * 1000);
}

long long http_parse_time_ms(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 40) {
        return -1;
    }
    int digits = 1;
    for (const char *p = s; *p; p++) {
        digits = digits && isdigit((unsigned char)*p);
    }
    if (digits) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        return errno == 0 ? v : -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL) {
        return -1;
    }
    long long ms = 0;
    if (*end == '.') {
        long long scale = 100;
        for (end++; isdigit((unsigned char)*end); end++) {
            ms += (*end - '0') * scale;
            scale /= 10;
        }
    }
    long long offset = 0;
    if (*end == 'Z' || *end == 'z') {
        end++;
    } else if ((*end == '+' || *end == '-') && isdigit((unsigned char)end[1]) &&
               isdigit((unsigned char)end[2]) && end[3] == ':' && isdigit((unsigned char)end[4]) &&
               isdigit((unsigned char)end[5])) {
        int sign = *end == '-' ? -1 : 1;
        offset = sign * (((end[1] - '0') * 10 + (end[2] - '0')) * 3600 +
                         ((end[4] - '0') * 10 + (end[5] - '0')) * 60);
        end += 6;
    } else {
        return -1;
    }
    if (*end != '\0') {
        return -1;
    }
    time_t t = timegm(&tm);
    if (t == (time_t)-1) {
        return -1;
    }
    return ((long long)t - offset) * 1000 + ms;
}

long long http_parse_id(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 18) {
        return -1;
    }
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v > 0 ? v : -1;
}

int http_json_keys_ok(const json_t *obj, const char *const *keys, size_t n)
{
    if (!json_is_object(obj)) {
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < n && !known; i++) {
            known = strcmp(k, keys[i]) == 0;
        }
        if (!known) {
            return 0;
        }
    }
    return 1;
}

struct actor http_actor(const struct http_req *r)
{
    struct actor a = {
        .name = r->who.name,
        .kind = r->who.kind == PRINCIPAL_TOKEN ? "token" : "user",
        .ip = http_remote(r),
    };
    return a;
}

int http_reply_svc_error(struct http_req *r, enum stk_err rc, const struct stk_error *err,
                         const char *event)
{
    if (http_status_for(rc) >= 500) {
        log_event(STK_LOG_ERROR, event, "error=\"%s\"", err->msg);
        return http_reply_error(r, rc, "the change could not be made");
    }
    return http_reply_error(r, rc, err->msg);
}

int http_reply_rejected(struct http_req *r, enum stk_err rc, long index, const char *reason)
{
    json_t *e = json_pack("{s:s, s:s}", "code", stk_err_name(rc), "message", reason);
    if (e != NULL && index >= 0) {
        json_object_set_new(e, "index", json_integer(index));
    }
    return http_reply_json(r, http_status_for(rc), json_pack("{s:o}", "error", e));
}

int http_cluster_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 63 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

int http_request_cluster(struct http_req *r, char *out, size_t n)
{
    char q[128] = "";
    int has = http_query(r, "cluster", q, sizeof(q));
    if (has < 0 || (has > 0 && !http_cluster_name_ok(q))) {
        return http_reply_error(r, STK_EINVAL,
                                "cluster: expected 1 to 63 letters, digits, '-', '_' or '.'");
    }
    const char *bound = r->who.cluster;
    if (bound[0] != '\0' && has > 0 && strcmp(q, bound) != 0) {
        return http_reply_error(r, STK_EFORBIDDEN, "this token is bound to another cluster");
    }
    snprintf(out, n, "%s", bound[0] != '\0' ? bound : q);
    return 0;
}
