/* What the agent needs from a Kubernetes cluster, as a table of functions,
 * with two implementations: the real API over HTTPS (kube_api.c) and the
 * built-in fake cluster of --simulate (sim.c). The actions (actions.c) are
 * written once against this table.
 *
 * Every function returns enum stk_err and, on failure, the API's own words
 * in `err` ("pods \"web-7f9\" not found (404 NotFound)", "Kubernetes API did
 * not answer within 10 s"): STK_ENOTFOUND for 404, STK_ECONFLICT for 409,
 * STK_EFORBIDDEN for 403, STK_EAUTH for 401, STK_EIO for transport
 * failures and 5xx, STK_EINVAL for a malformed answer. Objects are jansson
 * values; the caller owns every `json_t **out` (json_decref) and every
 * `char **out` (free). After a failure, outputs are NULL.
 *
 * One `struct kube` is used by one thread at a time. */
#ifndef STK_AGENT_KUBE_H
#define STK_AGENT_KUBE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

enum kube_kind {
    KUBE_POD = 0,
    KUBE_SERVICE,
    KUBE_NETWORK_POLICY,
};

struct kube_ops {
    /* GET /version: `gitVersion` as the server says it ("v1.29.4"). */
    enum stk_err (*version)(void *ctx, char *out, size_t n, struct stk_error *err);
    /* One page of a list. `ns` NULL: all namespaces; `selector` NULL: no
     * label selector; `cont` "" for the first page. `*items` receives the
     * page's array, `*next` the continue token ("" after the last page). */
    enum stk_err (*list)(void *ctx, enum kube_kind kind, const char *ns, const char *selector,
                         size_t limit, const char *cont, json_t **items, char **next,
                         struct stk_error *err);
    enum stk_err (*get)(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                        json_t **out, struct stk_error *err);
    /* POST; STK_ECONFLICT when the name exists (409 AlreadyExists). */
    enum stk_err (*create)(void *ctx, enum kube_kind kind, const char *ns, json_t *obj,
                           json_t **out, struct stk_error *err);
    /* PUT of the whole object (metadata.resourceVersion guards it). */
    enum stk_err (*replace)(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                            json_t *obj, json_t **out, struct stk_error *err);
    /* PATCH application/merge-patch+json (RFC 7386: null deletes). */
    enum stk_err (*patch)(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                          json_t *merge_patch, json_t **out, struct stk_error *err);
    /* DELETE; `uid` (may be NULL) makes it a precondition, so that a new
     * object of the same name is never deleted by mistake (409). */
    enum stk_err (*remove)(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                           const char *uid, struct stk_error *err);
    /* The last `tail_lines` lines of a container's log, at most
     * `max_bytes` of it (the end is kept). */
    enum stk_err (*log)(void *ctx, const char *ns, const char *pod, const char *container,
                        unsigned tail_lines, size_t max_bytes, char **out, size_t *len,
                        struct stk_error *err);
    /* Frees ctx. */
    void (*free)(void *ctx);
};

struct kube {
    const struct kube_ops *ops;
    void *ctx;
    const char *name; /* "kubernetes" or "simulate" */
};

/* Frees the backend's context. Accepts NULL. */
void kube_free(struct kube *k);

/* Kubernetes' kind names, for messages ("pods", "networkpolicies"). */
const char *kube_kind_plural(enum kube_kind kind);

/* Lists every page (limit 500 per page) into one array of at most `max`
 * items; `*truncated` (may be NULL) says whether there were more. */
enum stk_err kube_list_all(struct kube *k, enum kube_kind kind, const char *ns,
                           const char *selector, size_t max, json_t **items, int *truncated,
                           struct stk_error *err);

/* 1 if `s` is a DNS-1123 label (namespaces, container names): at most 63
 * of [a-z0-9-], starting and ending with [a-z0-9]. */
int kube_name_is_label(const char *s);

/* 1 if `s` is a DNS-1123 subdomain as Kubernetes checks it (pod and policy
 * names): at most 253 of [a-z0-9.-], each dot-separated part starting and
 * ending with [a-z0-9]. */
int kube_name_is_subdomain(const char *s);

/* The real API. `opts` as for k8s_http_new() (k8s_http.h). */
struct k8s_http_opts;
enum stk_err kube_api_new(const struct k8s_http_opts *opts, struct kube *out,
                          struct stk_error *err);

#endif
