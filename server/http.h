/* Request context and the one place where responses are written: status
 * line, security headers, JSON error envelope, body limits, access log. */
#ifndef STK_HTTP_H
#define STK_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "identity.h"

struct app;
struct db;
struct mg_connection;
struct mg_request_info;
struct route;
struct worker;

#define HTTP_MAX_PARAMS 4
#define HTTP_PARAM_MAX 256
#define HTTP_PATH_MAX 4096 /* longer decoded paths are refused */

/* One request in flight. Lives on the worker's stack for the request. */
struct http_req {
    struct app *app;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    struct worker *worker; /* this civetweb worker's own state, or NULL */
    struct db *db;         /* the worker's connection; NULL if it could not open */
    const struct route *route;
    const char *method; /* "HEAD" requests run GET handlers with no body sent */
    const char *path;   /* decoded path, no query; NULL if undecodable */
    int is_head;
    int is_api;         /* /api/... and /healthz answer JSON errors */
    char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX];
    int nparams;
    int body_consumed;  /* set once the body was read (or there was none) */
    struct principal who; /* kind PRINCIPAL_NONE until authenticated */
    int identified;       /* http_identify() ran */
    /* Filled by the reply functions for the access log. */
    int status;
    size_t bytes_out;
    struct timespec started;
};

/* Maps an error code to its HTTP status (the only place that does). */
int http_status_for(enum stk_err code);

/* Writes a complete response: status, the security headers, `ctype`,
 * Content-Length, then `extra_headers` (zero or more "Name: value\r\n"
 * lines, may be NULL), then `body` unless the request is HEAD.
 * Returns the status, to be returned by the handler. */
int http_reply(struct http_req *r, int status, const char *ctype, const char *extra_headers,
               const void *body, size_t len);

/* Serialises `body` (reference taken over, may be NULL for "{}") and sends it
 * as application/json; charset=utf-8. */
int http_reply_json(struct http_req *r, int status, json_t *body);

/* Sends the error envelope {"error":{"code","message"}} with the status
 * http_status_for(code). `message` is shown to the client: keep details
 * for the log. */
int http_reply_error(struct http_req *r, enum stk_err code, const char *message);

/* Same with an explicit status and code string (404 "not_found", 405 ...). */
int http_reply_error_status(struct http_req *r, int status, const char *code,
                            const char *message);

/* Same with extra "Name: value\r\n" header lines (Allow, Retry-After; at
 * most ~480 bytes). */
int http_reply_error_with(struct http_req *r, int status, const char *code, const char *message,
                          const char *extra_headers);

/* http_reply_json() with extra header lines, as above. */
int http_reply_json_with(struct http_req *r, int status, json_t *body,
                         const char *extra_headers);

/* Sends an HTML page. */
int http_reply_html(struct http_req *r, int status, const char *html, size_t len);

/* Reads the whole request body, at most cfg.max_body bytes (STK_ETOOBIG past
 * that). Caller owns `*out` (NUL-terminated, free()). */
enum stk_err http_read_body(struct http_req *r, char **out, size_t *len, struct stk_error *err);

/* Reads the body as one JSON value (JSON_REJECT_DUPLICATES, bounded depth).
 * On failure replies 400/413 itself and returns the status as a negative
 * number; on success returns 0 and the caller owns `*out`. Typical use:
 *     json_t *in; int st = http_read_json(r, &in); if (st < 0) return -st; */
int http_read_json(struct http_req *r, json_t **out);

/* Query-string parameter `name`, decoded, into `out`. 1 if present, 0 if
 * absent, -1 if too long or malformed. */
int http_query(const struct http_req *r, const char *name, char *out, size_t n);

/* A request header, or NULL. */
const char *http_header(const struct http_req *r, const char *name);

/* Identifies the caller from "Authorization: Bearer" or the session cookie
 * into r->who (left PRINCIPAL_NONE when neither is given). Returns 0, or
 * the status of the 401 it already sent for a malformed or refused
 * credential. Idempotent. */
int http_identify(struct http_req *r);

/* The policy for browser sessions from the configuration. */
struct auth_policy;
void http_auth_policy(const struct http_req *r, struct auth_policy *out);

/* RFC 3339 UTC text for `secs` since the epoch (json null for 0), and the
 * same for milliseconds. Caller owns the result. */
json_t *http_json_time(long long secs);
json_t *http_json_time_ms(long long ms);

/* Parses an RFC 3339 time ("2026-11-22T10:00:00Z", fraction and offset
 * allowed) or integer milliseconds into milliseconds. -1 if malformed. */
long long http_parse_time_ms(const char *s);

/* Parses a positive decimal id. -1 if not one. */
long long http_parse_id(const char *s);

/* True when `obj` is an object whose keys are all in `keys` (strict
 * request bodies: an unknown key is an error). */
int http_json_keys_ok(const json_t *obj, const char *const *keys, size_t n);

/* Voids every worker's cached sessions at once; call after any change that
 * ends or alters sessions (http_auth.c). */
void http_session_cache_invalidate(struct app *app);

/* Who made the request, for the audit log (borrowed from `r`). */
struct actor http_actor(const struct http_req *r);
/* Replies to a failed svc_* call: the error's own message for client
 * errors; internal errors are logged as `event` and answered generically. */
int http_reply_svc_error(struct http_req *r, enum stk_err rc, const struct stk_error *err,
                         const char *event);
/* The ingestion error envelope {"error":{"code","message","index"}} with
 * the status http_status_for(rc); `index` < 0 leaves it out (the body as a
 * whole is at fault). */
int http_reply_rejected(struct http_req *r, enum stk_err rc, long index, const char *reason);
/* True for a cluster name: 1 to 63 letters, digits, '-', '_' or '.'. */
int http_cluster_name_ok(const char *s);
/* The cluster a machine request speaks for: the token's binding, else
 * ?cluster=, else "". Returns 0, or the status of the error reply it sent
 * (400 malformed, 403 another cluster than the token's). */
int http_request_cluster(struct http_req *r, char *out, size_t n);
/* The client's address as text. */
const char *http_remote(const struct http_req *r);

/* The security headers every response carries (also used for civetweb's
 * own error pages). */
extern const char *const http_security_headers;

#endif
