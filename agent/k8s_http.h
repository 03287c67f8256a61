/* An HTTPS client for the Kubernetes API (mbedTLS): verifies the API
 * server against a CA file (IP SANs included, which mbedTLS 2.28 does not
 * check by itself), sends a bearer token, speaks HTTP/1.1 with keep-alive,
 * Content-Length and chunked bodies, and gives every request a deadline so
 * that an API server that hangs fails the request instead of blocking the
 * agent ("Kubernetes API did not answer within 10 s").
 *
 * One `struct k8s_http` holds one connection and is used by one thread at
 * a time. */
#ifndef STK_AGENT_K8S_HTTP_H
#define STK_AGENT_K8S_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define K8S_HTTP_TIMEOUT_MS 10000             /* per request, connect included */
#define K8S_HTTP_BODY_MAX (16u * 1024 * 1024) /* default response body cap */
#define K8S_HTTP_HEAD_MAX (32u * 1024)        /* status line + headers */

/* In-cluster defaults (the service account mount). */
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* ---- Response parser (exposed for tests) ---- */

enum k8s_resp_state {
    K8S_RESP_HEAD = 0,
    K8S_RESP_BODY_LEN,   /* Content-Length body */
    K8S_RESP_BODY_CLOSE, /* body runs to the end of the connection */
    K8S_RESP_CHUNK_SIZE,
    K8S_RESP_CHUNK_DATA,
    K8S_RESP_CHUNK_CRLF,
    K8S_RESP_TRAILER,
    K8S_RESP_DONE,
};

/* Incremental HTTP/1.1 response parser: feed it the bytes as they arrive
 * (any split), read `status` and `body` once `state` is K8S_RESP_DONE. */
struct k8s_resp_parser {
    enum k8s_resp_state state;
    int head_only; /* the request was HEAD: no body whatever the headers say */
    int status;
    int keep_alive;               /* the connection may carry another request */
    int cr;                       /* a CR after chunk data was seen */
    unsigned long long remaining; /* bytes left in the body or the chunk */
    char content_type[128];
    struct buf head; /* header bytes of the response being read */
    struct buf line; /* a chunk-size or trailer line being read */
    struct buf body; /* decoded body, capped */
};

/* Fills `p` for one response with a body cap of `body_max` bytes.
 * Release with k8s_resp_parser_release(). */
void k8s_resp_parser_init(struct k8s_resp_parser *p, size_t body_max);
void k8s_resp_parser_release(struct k8s_resp_parser *p);

/* Consumes up to `len` bytes of `data`, stopping at the end of the
 * response; `*used` says how many were consumed (bytes after a complete
 * response belong to nobody: we never pipeline). STK_EINVAL with the
 * reason for a malformed response, STK_ETOOBIG when the headers or the body
 * pass their caps, STK_ENOMEM. After an error the parser is only good for
 * release. */
enum stk_err k8s_resp_parser_feed(struct k8s_resp_parser *p, const char *data, size_t len,
                                  size_t *used, struct stk_error *err);

/* The peer closed the connection: completes a body that runs to the end of
 * the connection; STK_EIO "connection closed mid-response" otherwise
 * (unless the response was already complete). */
enum stk_err k8s_resp_parser_eof(struct k8s_resp_parser *p, struct stk_error *err);

/* ---- Kubernetes Status objects ---- */

/* Turns a non-2xx response into the error the API meant: the code from
 * the status (404 STK_ENOTFOUND, 409 STK_ECONFLICT, 401 STK_EAUTH, 403
 * STK_EFORBIDDEN, 400/422 STK_EINVAL, 429 STK_ELIMIT, else STK_EIO) and a
 * message from the body's Status object ("pods \"web-7f9\" not found
 * (404 NotFound)"), or the status and the start of the body when it is not
 * one. `reason_out` (size 64, may be NULL) receives the Status reason
 * ("AlreadyExists"), "" without one. Returns the code. */
enum stk_err k8s_status_error(int status, const char *body, size_t len, char *reason_out,
                              struct stk_error *err);

/* ---- Client ---- */

struct k8s_http_opts {
    const char *server;     /* "https://HOST[:PORT]"; NULL: in-cluster from the environment */
    const char *token_file; /* NULL: in-cluster default; read again every minute */
    const char *ca_file;    /* NULL: in-cluster default */
    int timeout_ms;         /* 0: K8S_HTTP_TIMEOUT_MS */
};

struct k8s_http;

/* Reads the CA file and the token, parses the server address. Nothing is
 * dialled yet. STK_EINVAL for a bad URL, STK_EIO for unreadable files,
 * STK_ECRYPTO for a CA file that does not parse; the message names the
 * file. Caller frees with k8s_http_free(). */
enum stk_err k8s_http_new(const struct k8s_http_opts *opts, struct k8s_http **out,
                          struct stk_error *err);

/* Closes the connection, wipes the token, frees. Accepts NULL. */
void k8s_http_free(struct k8s_http *c);

/* "HOST:PORT" of the API server, for messages. */
const char *k8s_http_address(const struct k8s_http *c);

/* The per-request deadline in milliseconds. */
int k8s_http_timeout_ms(const struct k8s_http *c);

struct k8s_http_resp {
    int status;
    char *body; /* NUL-terminated; caller frees with free() */
    size_t len;
};

/* Sends `method` `path` (origin form, already escaped) with `body` (may be
 * NULL) of type `content_type`, and reads the response, its body capped at
 * `body_max` bytes (0: K8S_HTTP_BODY_MAX). Any HTTP status is STK_OK here:
 * the caller looks at resp->status (see k8s_status_error()). Transport
 * failures: STK_EIO with "Kubernetes API did not answer within N s",
 * "cannot reach the Kubernetes API at HOST:PORT: ...", "Kubernetes API
 * certificate not trusted: ..."; STK_ETOOBIG for a body over the cap;
 * STK_EINVAL for a malformed response. On failure resp is zeroed. */
enum stk_err k8s_http_request(struct k8s_http *c, const char *method, const char *path,
                              const char *content_type, const char *body, size_t body_len,
                              size_t body_max, struct k8s_http_resp *resp, struct stk_error *err);

void k8s_http_resp_release(struct k8s_http_resp *resp);

/* 1 if `host` (no brackets) is in the IP SANs of certificate `crt` (a
 * const mbedtls_x509_crt *; void to keep mbedTLS out of this header). */
int k8s_http_crt_has_ip(const void *crt, const char *host);

#endif
