/* The real Kubernetes API behind struct kube (kube.h), over k8s_http. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "k8s_http.h"
#include "kube.h"

#define PATH_MAX_BYTES 2048
#define LOG_FETCH_MAX (2u * 1024 * 1024) /* a tail of 200 lines bigger than this is refetched */

/* Percent-encodes `s` for a query value. */
static enum stk_err append_query_value(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        enum stk_err rc;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = buf_append(b, p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_append(b, e, 3);
        }
        if (rc != STK_OK) {
            return rc;
        }
    }
    return STK_OK;
}

/* The collection path of `kind` in `ns` (NULL: all namespaces), plus
 * "/NAME" when `name` is not NULL. Names are checked, never escaped: a
 * name Kubernetes would not accept is refused here. */
static enum stk_err kind_path(struct buf *b, enum kube_kind kind, const char *ns, const char *name,
                              struct stk_error *err)
{
    if (ns != NULL && !kube_name_is_label(ns)) {
        return stk_error_set(err, STK_EINVAL, "not a namespace name");
    }
    if (name != NULL && !kube_name_is_subdomain(name)) {
        return stk_error_set(err, STK_EINVAL, "not a Kubernetes object name");
    }
    const char *group = kind == KUBE_NETWORK_POLICY ? "/apis/networking.k8s.io/v1" : "/api/v1";
    enum stk_err rc = ns != NULL
                          ? buf_printf(b, "%s/namespaces/%s/%s", group, ns, kube_kind_plural(kind))
                          : buf_printf(b, "%s/%s", group, kube_kind_plural(kind));
    if (rc == STK_OK && name != NULL) {
        rc = buf_printf(b, "/%s", name);
    }
    if (rc != STK_OK) {
        return stk_error_set(err, STK_EINVAL, "request path too long");
    }
    return STK_OK;
}

/* Sends the request; a 2xx gives the body parsed as JSON (when `out` is
 * not NULL), anything else the Status as an error. */
static enum stk_err call(struct k8s_http *c, const char *method, const char *path,
                         const char *ctype, json_t *body, json_t **out, struct stk_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    struct k8s_http_resp resp;
    enum stk_err rc =
        k8s_http_request(c, method, path, ctype, text, text ? strlen(text) : 0, 0, &resp, err);
    free(text);
    if (rc != STK_OK) {
        return rc;
    }
    if (resp.status < 200 || resp.status > 299) {
        rc = k8s_status_error(resp.status, resp.body, resp.len, NULL, err);
        k8s_http_resp_release(&resp);
        return rc;
    }
    if (out != NULL) {
        json_error_t je;
        *out = json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, &je);
        if (*out == NULL || !json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = stk_error_set(err, STK_EINVAL, "Kubernetes API sent malformed JSON for %s %s: %s",
                               method, path, je.text[0] ? je.text : "not an object");
        }
    }
    k8s_http_resp_release(&resp);
    return rc;
}

static enum stk_err api_version(void *ctx, char *out, size_t n, struct stk_error *err)
{
    json_t *v = NULL;
    out[0] = '\0';
    enum stk_err rc = call(ctx, "GET", "/version", NULL, NULL, &v, err);
    if (rc != STK_OK) {
        return rc;
    }
    const char *git = json_string_value(json_object_get(v, "gitVersion"));
    if (git == NULL || git[0] == '\0' || strlen(git) >= n) {
        rc = stk_error_set(err, STK_EINVAL, "Kubernetes API /version has no gitVersion");
    } else {
        snprintf(out, n, "%s", git);
    }
    json_decref(v);
    return rc;
}

static enum stk_err api_list(void *ctx, enum kube_kind kind, const char *ns, const char *selector,
                             size_t limit, const char *cont, json_t **items, char **next,
                             struct stk_error *err)
{
    *items = NULL;
    *next = NULL;
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    json_t *list = NULL;
    enum stk_err rc = kind_path(&path, kind, ns, NULL, err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = buf_printf(&path, "?limit=%zu", limit);
    if (rc == STK_OK && selector != NULL) {
        rc = buf_append_str(&path, "&labelSelector=");
        if (rc == STK_OK) {
            rc = append_query_value(&path, selector);
        }
    }
    if (rc == STK_OK && cont != NULL && cont[0] != '\0') {
        rc = buf_append_str(&path, "&continue=");
        if (rc == STK_OK) {
            rc = append_query_value(&path, cont);
        }
    }
    if (rc != STK_OK) {
        rc = stk_error_set(err, STK_EINVAL, "request path too long");
        goto out;
    }
    rc = call(ctx, "GET", path.data, NULL, NULL, &list, err);
    if (rc != STK_OK) {
        goto out;
    }
    json_t *arr = json_object_get(list, "items");
    if (json_is_null(arr) || arr == NULL) {
        arr = NULL; /* Go encodes an empty list as null */
    } else if (!json_is_array(arr)) {
        rc = stk_error_set(err, STK_EINVAL, "Kubernetes API list of %s has no items array",
                           kube_kind_plural(kind));
        goto out;
    }
    const char *c =
        json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"));
    *next = strdup(c ? c : "");
    *items = arr ? json_incref(arr) : json_array();
    if (*next == NULL || *items == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
    }
out:
    if (rc != STK_OK) {
        json_decref(*items);
        *items = NULL;
        free(*next);
        *next = NULL;
    }
    json_decref(list);
    buf_release(&path);
    return rc;
}

static enum stk_err api_get(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                            json_t **out, struct stk_error *err)
{
    *out = NULL;
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    enum stk_err rc = kind_path(&path, kind, ns, name, err);
    if (rc == STK_OK) {
        rc = call(ctx, "GET", path.data, NULL, NULL, out, err);
    }
    buf_release(&path);
    return rc;
}

static enum stk_err api_create(void *ctx, enum kube_kind kind, const char *ns, json_t *obj,
                               json_t **out, struct stk_error *err)
{
    *out = NULL;
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    enum stk_err rc = kind_path(&path, kind, ns, NULL, err);
    if (rc == STK_OK) {
        rc = call(ctx, "POST", path.data, "application/json", obj, out, err);
    }
    buf_release(&path);
    return rc;
}

static enum stk_err api_replace(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                                json_t *obj, json_t **out, struct stk_error *err)
{
    *out = NULL;
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    enum stk_err rc = kind_path(&path, kind, ns, name, err);
    if (rc == STK_OK) {
        rc = call(ctx, "PUT", path.data, "application/json", obj, out, err);
    }
    buf_release(&path);
    return rc;
}

static enum stk_err api_patch(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                              json_t *merge_patch, json_t **out, struct stk_error *err)
{
    *out = NULL;
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    enum stk_err rc = kind_path(&path, kind, ns, name, err);
    if (rc == STK_OK) {
        rc = call(ctx, "PATCH", path.data, "application/merge-patch+json", merge_patch, out, err);
    }
    buf_release(&path);
    return rc;
}

static enum stk_err api_remove(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                               const char *uid, struct stk_error *err)
{
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    json_t *opts = NULL;
    enum stk_err rc = kind_path(&path, kind, ns, name, err);
    if (rc == STK_OK && uid != NULL) {
        opts = json_pack("{s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
                         "preconditions", "uid", uid);
        if (opts == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    if (rc == STK_OK) {
        rc = call(ctx, "DELETE", path.data, opts ? "application/json" : NULL, opts, NULL, err);
    }
    json_decref(opts);
    buf_release(&path);
    return rc;
}

static enum stk_err api_log(void *ctx, const char *ns, const char *pod, const char *container,
                            unsigned tail_lines, size_t max_bytes, char **out, size_t *len,
                            struct stk_error *err)
{
    *out = NULL;
    *len = 0;
    if (!kube_name_is_label(container)) {
        return stk_error_set(err, STK_EINVAL, "not a container name");
    }
    struct buf path;
    buf_init(&path, PATH_MAX_BYTES);
    struct k8s_http_resp resp = {0};
    enum stk_err rc = kind_path(&path, KUBE_POD, ns, pod, err);
    if (rc != STK_OK) {
        goto out;
    }
    size_t base = path.len;
    if (buf_printf(&path, "/log?container=%s&tailLines=%u", container, tail_lines) != STK_OK) {
        rc = stk_error_set(err, STK_EINVAL, "request path too long");
        goto out;
    }
    /* The kubelet cannot tail by bytes (limitBytes counts from the start of
     * what it sends), so take the whole tail when it is reasonable and keep
     * its end; only a monstrous tail is fetched again with limitBytes. */
    rc = k8s_http_request(ctx, "GET", path.data, NULL, NULL, 0, LOG_FETCH_MAX, &resp, err);
    if (rc == STK_ETOOBIG) {
        path.len = base;
        path.data[base] = '\0';
        if (buf_printf(&path, "/log?container=%s&tailLines=%u&limitBytes=%zu", container,
                       tail_lines, max_bytes) != STK_OK) {
            rc = stk_error_set(err, STK_EINVAL, "request path too long");
            goto out;
        }
        rc = k8s_http_request(ctx, "GET", path.data, NULL, NULL, 0, LOG_FETCH_MAX, &resp, err);
    }
    if (rc != STK_OK) {
        goto out;
    }
    if (resp.status < 200 || resp.status > 299) {
        rc = k8s_status_error(resp.status, resp.body, resp.len, NULL, err);
        goto out;
    }
    size_t keep = resp.len > max_bytes ? max_bytes : resp.len;
    *out = malloc(keep + 1);
    if (*out == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*out, resp.body + (resp.len - keep), keep);
    (*out)[keep] = '\0';
    *len = keep;
out:
    k8s_http_resp_release(&resp);
    buf_release(&path);
    return rc;
}

static void api_free(void *ctx)
{
    k8s_http_free(ctx);
}

static const struct kube_ops api_ops = {
    .version = api_version,
    .list = api_list,
    .get = api_get,
    .create = api_create,
    .replace = api_replace,
    .patch = api_patch,
    .remove = api_remove,
    .log = api_log,
    .free = api_free,
};

enum stk_err kube_api_new(const struct k8s_http_opts *opts, struct kube *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct k8s_http *c = NULL;
    enum stk_err rc = k8s_http_new(opts, &c, err);
    if (rc != STK_OK) {
        return rc;
    }
    out->ops = &api_ops;
    out->ctx = c;
    out->name = "kubernetes";
    return STK_OK;
}
