/* The Kubernetes API's HTTP responses: an incremental HTTP/1.1 response
 * parser and Status objects turned into errors (k8s_http.h). Kept apart
 * from the client so that tests and fuzzers drive it without a socket. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "k8s_http.h"

#define LINE_MAX_BYTES 1024   /* chunk-size line */
#define TRAILER_LINE_MAX 8192 /* one trailer field */
#define SNIPPET_MAX 160       /* bytes of a non-Status error body quoted in a message */

/* ------------------------------------------------------------------------ */
/* Response parser */

void k8s_resp_parser_init(struct k8s_resp_parser *p, size_t body_max)
{
    memset(p, 0, sizeof(*p));
    p->state = K8S_RESP_HEAD;
    buf_init(&p->head, K8S_HTTP_HEAD_MAX);
    buf_init(&p->line, TRAILER_LINE_MAX);
    buf_init(&p->body, body_max);
}

void k8s_resp_parser_release(struct k8s_resp_parser *p)
{
    buf_release(&p->head);
    buf_release(&p->line);
    buf_release(&p->body);
}

static int ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* Trims optional whitespace (SP, HTAB) around [*s, *s + *n). */
static void trim_ows(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) {
        (*n)--;
    }
}

/* 1 if the comma-separated list `v` (length n) holds `token`, any case. */
static int list_has(const char *v, size_t n, const char *token)
{
    while (n > 0) {
        const char *comma = memchr(v, ',', n);
        size_t item = comma ? (size_t)(comma - v) : n;
        const char *s = v;
        size_t sl = item;
        trim_ows(&s, &sl);
        if (ieq(s, sl, token)) {
            return 1;
        }
        if (comma == NULL) {
            break;
        }
        v = comma + 1;
        n -= item + 1;
    }
    return 0;
}

struct head_fields {
    int have_len;
    unsigned long long len;
    int chunked;
    int te_other;
    int conn_close;
    int conn_keep;
};

static enum stk_err header_line(struct k8s_resp_parser *p, struct head_fields *h, const char *l,
                                size_t n, struct stk_error *err)
{
    if (n > 0 && (l[0] == ' ' || l[0] == '\t')) {
        return stk_error_set(err, STK_EINVAL,
                             "Kubernetes API sent a malformed response: folded header line");
    }
    const char *colon = memchr(l, ':', n);
    if (colon == NULL || colon == l) {
        return stk_error_set(
            err, STK_EINVAL,
            "Kubernetes API sent a malformed response: header line without a name");
    }
    size_t nl = (size_t)(colon - l);
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)l[i];
        if (c <= ' ' || c >= 0x7f) {
            return stk_error_set(err, STK_EINVAL,
                                 "Kubernetes API sent a malformed response: bad header name");
        }
    }
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    trim_ows(&v, &vl);
    if (ieq(l, nl, "content-length")) {
        if (vl == 0 || vl > 18 || strspn(v, "0123456789") < vl) {
            return stk_error_set(err, STK_EINVAL,
                                 "Kubernetes API sent a malformed response: bad Content-Length");
        }
        unsigned long long x = 0;
        for (size_t i = 0; i < vl; i++) {
            x = x * 10 + (unsigned)(v[i] - '0');
        }
        if (h->have_len && h->len != x) {
            return stk_error_set(err, STK_EINVAL,
                                 "Kubernetes API sent a malformed response: two Content-Lengths");
        }
        h->have_len = 1;
        h->len = x;
    } else if (ieq(l, nl, "transfer-encoding")) {
        /* We send no TE header, so "chunked" alone is all a server may use. */
        if (ieq(v, vl, "chunked")) {
            h->chunked = 1;
        } else {
            h->te_other = 1;
        }
    } else if (ieq(l, nl, "connection")) {
        h->conn_close |= list_has(v, vl, "close");
        h->conn_keep |= list_has(v, vl, "keep-alive");
    } else if (ieq(l, nl, "content-type")) {
        size_t c = vl < sizeof(p->content_type) - 1 ? vl : sizeof(p->content_type) - 1;
        memcpy(p->content_type, v, c);
        p->content_type[c] = '\0';
    }
    return STK_OK;
}

/* Parses the complete head in p->head and picks how the body is framed. */
static enum stk_err parse_head(struct k8s_resp_parser *p, struct stk_error *err)
{
    const char *s = p->head.data;
    size_t n = p->head.len;
    const char *eol = memchr(s, '\n', n);
    size_t sl = (size_t)(eol - s);
    if (sl > 0 && s[sl - 1] == '\r') {
        sl--;
    }
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (sl < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
        !isdigit((unsigned char)s[11]) || (sl > 12 && s[12] != ' ') || s[9] == '0') {
        return stk_error_set(err, STK_EINVAL,
                             "Kubernetes API sent a malformed response: bad status line");
    }
    int http11 = s[7] == '1';
    p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    struct head_fields h = {0};
    p->content_type[0] = '\0';
    const char *pos = eol + 1;
    const char *end = s + n;
    while (pos < end) {
        const char *e = memchr(pos, '\n', (size_t)(end - pos));
        size_t ll = (size_t)(e - pos);
        if (ll > 0 && pos[ll - 1] == '\r') {
            ll--;
        }
        if (ll == 0) {
            break; /* the blank line that ends the head */
        }
        enum stk_err rc = header_line(p, &h, pos, ll, err);
        if (rc != STK_OK) {
            return rc;
        }
        pos = e + 1;
    }
    if (h.te_other) {
        return stk_error_set(
            err, STK_EINVAL,
            "Kubernetes API sent a malformed response: unsupported Transfer-Encoding");
    }
    p->keep_alive = http11 ? !h.conn_close : (h.conn_keep && !h.conn_close);
    if (p->status >= 100 && p->status < 200) {
        if (p->status == 101) {
            return stk_error_set(err, STK_EINVAL,
                                 "Kubernetes API sent a malformed response: unexpected 101");
        }
        buf_reset(&p->head); /* an interim response; the real one follows */
        return STK_OK;
    }
    if (p->head_only || p->status == 204 || p->status == 304) {
        p->state = K8S_RESP_DONE;
    } else if (h.chunked) {
        /* Both framings at once is how request smuggling starts: believe
         * chunked, but never reuse the connection. */
        if (h.have_len) {
            p->keep_alive = 0;
        }
        p->state = K8S_RESP_CHUNK_SIZE;
        buf_reset(&p->line);
    } else if (h.have_len) {
        if (h.len > p->body.max) {
            return stk_error_set(err, STK_ETOOBIG, "response body over %zu bytes", p->body.max);
        }
        p->remaining = h.len;
        p->state = h.len == 0 ? K8S_RESP_DONE : K8S_RESP_BODY_LEN;
    } else {
        p->keep_alive = 0;
        p->state = K8S_RESP_BODY_CLOSE;
    }
    return STK_OK;
}

static enum stk_err body_append(struct k8s_resp_parser *p, const char *d, size_t n,
                                struct stk_error *err)
{
    enum stk_err rc = buf_append(&p->body, d, n);
    if (rc == STK_ETOOBIG) {
        return stk_error_set(err, rc, "response body over %zu bytes", p->body.max);
    }
    if (rc != STK_OK) {
        return stk_error_set(err, rc, "out of memory reading the response");
    }
    return STK_OK;
}

/* Parses the chunk-size line in p->line: hex digits, then optional
 * whitespace and chunk extensions (ignored). */
static enum stk_err chunk_size(struct k8s_resp_parser *p, unsigned long long *out,
                               struct stk_error *err)
{
    const char *s = p->line.data ? p->line.data : "";
    size_t n = p->line.len;
    if (n > 0 && s[n - 1] == '\r') {
        n--;
    }
    size_t i = 0;
    unsigned long long v = 0;
    while (i < n && isxdigit((unsigned char)s[i])) {
        /* 15 hex digits are 2^60: past any cap, and no overflow. */
        if (i >= 15) {
            return stk_error_set(err, STK_EINVAL,
                                 "Kubernetes API sent a malformed response: chunk size too long");
        }
        int c = (unsigned char)s[i];
        v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
        i++;
    }
    if (i == 0) {
        return stk_error_set(err, STK_EINVAL,
                             "Kubernetes API sent a malformed response: bad chunk size");
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    if (i < n && s[i] != ';') {
        return stk_error_set(err, STK_EINVAL,
                             "Kubernetes API sent a malformed response: bad chunk size");
    }
    *out = v;
    return STK_OK;
}

enum stk_err k8s_resp_parser_feed(struct k8s_resp_parser *p, const char *data, size_t len,
                                  size_t *used, struct stk_error *err)
{
    size_t pos = 0;
    enum stk_err rc = STK_OK;
    while (pos < len && p->state != K8S_RESP_DONE) {
        switch (p->state) {
        case K8S_RESP_HEAD: {
            char c = data[pos++];
            rc = buf_append(&p->head, &c, 1);
            if (rc != STK_OK) {
                rc = stk_error_set(err, rc, "response headers over %u bytes", K8S_HTTP_HEAD_MAX);
                goto out;
            }
            /* The head ends at an empty line (CRLF CRLF, or bare LFs). */
            const char *h = p->head.data;
            size_t n = p->head.len;
            if (c == '\n' && ((n >= 2 && h[n - 2] == '\n') ||
                              (n >= 4 && memcmp(h + n - 4, "\r\n\r\n", 4) == 0))) {
                rc = parse_head(p, err);
                if (rc != STK_OK) {
                    goto out;
                }
            }
            break;
        }
        case K8S_RESP_BODY_LEN:
        case K8S_RESP_CHUNK_DATA: {
            size_t take = len - pos;
            if (take > p->remaining) {
                take = (size_t)p->remaining;
            }
            rc = body_append(p, data + pos, take, err);
            if (rc != STK_OK) {
                goto out;
            }
            pos += take;
            p->remaining -= take;
            if (p->remaining == 0) {
                p->state = p->state == K8S_RESP_BODY_LEN ? K8S_RESP_DONE : K8S_RESP_CHUNK_CRLF;
                p->cr = 0;
            }
            break;
        }
        case K8S_RESP_BODY_CLOSE:
            rc = body_append(p, data + pos, len - pos, err);
            if (rc != STK_OK) {
                goto out;
            }
            pos = len;
            break;
        case K8S_RESP_CHUNK_CRLF: {
            char c = data[pos++];
            if (c == '\r' && !p->cr) {
                p->cr = 1;
            } else if (c == '\n') {
                p->cr = 0;
                p->state = K8S_RESP_CHUNK_SIZE;
                buf_reset(&p->line);
            } else {
                rc = stk_error_set(
                    err, STK_EINVAL,
                    "Kubernetes API sent a malformed response: chunk not followed by CRLF");
                goto out;
            }
            break;
        }
        case K8S_RESP_CHUNK_SIZE:
        case K8S_RESP_TRAILER: {
            char c = data[pos++];
            if (c != '\n') {
                size_t cap = p->state == K8S_RESP_CHUNK_SIZE ? LINE_MAX_BYTES : TRAILER_LINE_MAX;
                if (p->line.len >= cap || buf_append(&p->line, &c, 1) != STK_OK) {
                    rc = stk_error_set(err, STK_EINVAL,
                                       "Kubernetes API sent a malformed response: %s line too long",
                                       p->state == K8S_RESP_CHUNK_SIZE ? "chunk size" : "trailer");
                    goto out;
                }
                break;
            }
            if (p->state == K8S_RESP_TRAILER) {
                size_t l = p->line.len;
                if (l > 0 && p->line.data[l - 1] == '\r') {
                    l--;
                }
                if (l == 0) {
                    p->state = K8S_RESP_DONE;
                }
                buf_reset(&p->line);
                break;
            }
            unsigned long long size = 0;
            rc = chunk_size(p, &size, err);
            if (rc != STK_OK) {
                goto out;
            }
            buf_reset(&p->line);
            if (size == 0) {
                p->state = K8S_RESP_TRAILER;
            } else if (size > p->body.max - p->body.len) {
                rc = stk_error_set(err, STK_ETOOBIG, "response body over %zu bytes", p->body.max);
                goto out;
            } else {
                p->remaining = size;
                p->state = K8S_RESP_CHUNK_DATA;
            }
            break;
        }
        case K8S_RESP_DONE:
            break;
        }
    }
out:
    *used = pos;
    return rc;
}

enum stk_err k8s_resp_parser_eof(struct k8s_resp_parser *p, struct stk_error *err)
{
    if (p->state == K8S_RESP_BODY_CLOSE) {
        p->state = K8S_RESP_DONE;
    }
    if (p->state != K8S_RESP_DONE) {
        return stk_error_set(err, STK_EIO, "connection closed mid-response");
    }
    return STK_OK;
}

/* ------------------------------------------------------------------------ */
/* Status objects */

/* Copies `s` into `out` (size n) with control bytes replaced by spaces:
 * the text came from the network and will reach logs and the browser. */
static void copy_clean(char *out, size_t n, const char *s, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[j] = '\0';
}

static enum stk_err code_for_status(int status)
{
    switch (status) {
    case 400:
    case 422:
        return STK_EINVAL;
    case 401:
        return STK_EAUTH;
    case 403:
        return STK_EFORBIDDEN;
    case 404:
    case 410:
        return STK_ENOTFOUND;
    case 409:
        return STK_ECONFLICT;
    case 413:
        return STK_ETOOBIG;
    case 429:
        return STK_ELIMIT;
    default:
        return STK_EIO;
    }
}

enum stk_err k8s_status_error(int status, const char *body, size_t len, char *reason_out,
                              struct stk_error *err)
{
    enum stk_err code = code_for_status(status);
    if (reason_out != NULL) {
        reason_out[0] = '\0';
    }
    json_t *root = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(root, "kind"));
    if (kind != NULL && strcmp(kind, "Status") == 0) {
        const char *message = json_string_value(json_object_get(root, "message"));
        const char *reason = json_string_value(json_object_get(root, "reason"));
        char m[360];
        char r[64];
        copy_clean(m, sizeof(m), message ? message : "", message ? strlen(message) : 0);
        copy_clean(r, sizeof(r), reason ? reason : "", reason ? strlen(reason) : 0);
        if (reason_out != NULL) {
            memcpy(reason_out, r, sizeof(r));
        }
        if (m[0] != '\0') {
            stk_error_set(err, code, "%s (%d%s%s)", m, status, r[0] ? " " : "", r);
        } else {
            stk_error_set(err, code, "Kubernetes API answered %d%s%s", status, r[0] ? " " : "", r);
        }
        json_decref(root);
        return code;
    }
    json_decref(root);
    char snippet[SNIPPET_MAX + 1];
    copy_clean(snippet, sizeof(snippet), body ? body : "", len < SNIPPET_MAX ? len : SNIPPET_MAX);
    if (snippet[0] != '\0') {
        return stk_error_set(err, code, "Kubernetes API answered HTTP %d: %s", status, snippet);
    }
    return stk_error_set(err, code, "Kubernetes API answered HTTP %d", status);
}
