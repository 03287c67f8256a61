/* Kubernetes audit webhook EventList -> CloudAuditEvents rows; the
 * detection rules live in ingest_audit_rules.c (docs/ingestion.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_audit.h"

#define AUDIT_MAX_GROUPS 256
#define AUDIT_MAX_IPS 32
#define AUDIT_IP_MAX 64
#define AUDIT_MAX_ANNOTATIONS 256
#define AUDIT_PATH_MAX 200 /* non-resource paths in the operation name */

/* ---- reading ------------------------------------------------------------ */

static enum stk_err read_string_array(struct ingest_ctx *c, const json_t *arr, const char *field,
                                      size_t size)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            return ingest_fail(c, STK_EINVAL, "%s[%zu]: expected a string", field, i);
        }
        if (json_string_length(v) >= size) {
            return ingest_fail(c, STK_EINVAL, "%s[%zu]: longer than %zu bytes", field, i, size - 1);
        }
    }
    return STK_OK;
}

static const char *const stages[] = {"RequestReceived", "ResponseStarted", "ResponseComplete",
                                     "Panic", NULL};
static const char *const versions[] = {"audit.k8s.io/v1", "audit.k8s.io/v1beta1", NULL};

static enum stk_err read_user(struct ingest_ctx *c, struct audit_event *e)
{
    json_t *user;
    enum stk_err rc = ingest_object(c, e->ev, "user", "user", INGEST_REQUIRED, &user);
    if (rc == STK_OK) {
        rc = ingest_str(c, user, "username", "user.username", ALERT_NAME_MAX, INGEST_REQUIRED,
                        &e->user);
    }
    if (rc == STK_OK) {
        rc = ingest_array(c, user, "groups", "user.groups", 0, AUDIT_MAX_GROUPS, &e->groups);
    }
    if (rc == STK_OK) {
        rc = read_string_array(c, e->groups, "user.groups", ALERT_NAME_MAX);
    }
    json_t *imp;
    const char *imp_name;
    if (rc == STK_OK) {
        rc = ingest_object(c, e->ev, "impersonatedUser", "impersonatedUser", 0, &imp);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, imp, "username", "impersonatedUser.username", ALERT_NAME_MAX, 0,
                        &imp_name);
    }
    return rc;
}

static enum stk_err read_object_ref(struct ingest_ctx *c, struct audit_event *e)
{
    json_t *ref;
    const char *ignored;
    enum stk_err rc = ingest_object(c, e->ev, "objectRef", "objectRef", 0, &ref);
    if (rc == STK_OK) {
        rc = ingest_str(c, ref, "resource", "objectRef.resource", ALERT_NAME_MAX, 0, &e->resource);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, ref, "subresource", "objectRef.subresource", ALERT_NAME_MAX, 0,
                        &e->subresource);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, ref, "namespace", "objectRef.namespace", ALERT_NAME_MAX, 0, &e->ns);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, ref, "name", "objectRef.name", ALERT_NAME_MAX, 0, &e->name);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, ref, "apiGroup", "objectRef.apiGroup", ALERT_NAME_MAX, 0, &ignored);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, ref, "apiVersion", "objectRef.apiVersion", ALERT_NAME_MAX, 0, &ignored);
    }
    if (rc != STK_OK || e->resource == NULL) {
        return rc;
    }
    const char *sub = e->subresource != NULL && e->subresource[0] != '\0' ? e->subresource : NULL;
    int n = snprintf(e->resource_kind, sizeof(e->resource_kind), "%s%s%s", e->resource,
                     sub != NULL ? "/" : "", sub != NULL ? sub : "");
    if (n < 0 || (size_t)n >= sizeof(e->resource_kind)) {
        return ingest_fail(c, STK_EINVAL,
                           "objectRef.subresource: resource/subresource exceeds "
                           "%d bytes",
                           ALERT_NAME_MAX - 1);
    }
    return STK_OK;
}

static enum stk_err read_times(struct ingest_ctx *c, struct audit_event *e)
{
    long long received, old, stage;
    const char *t1, *t2, *t3;
    enum stk_err rc = ingest_time(c, e->ev, "requestReceivedTimestamp", "requestReceivedTimestamp",
                                  0, &received, &t1);
    if (rc == STK_OK) {
        rc = ingest_time(c, e->ev, "timestamp", "timestamp", 0, &old, &t2);
    }
    if (rc == STK_OK) {
        rc = ingest_time(c, e->ev, "stageTimestamp", "stageTimestamp", 0, &stage, &t3);
    }
    if (rc != STK_OK) {
        return rc;
    }
    if (t1 == NULL && t2 == NULL) {
        return ingest_fail(c, STK_EINVAL, "requestReceivedTimestamp: is required");
    }
    e->ms = t3 != NULL ? stage : t1 != NULL ? received : old;
    return STK_OK;
}

static enum stk_err read_event(struct ingest_ctx *c, struct audit_event *e)
{
    const char *kind, *version, *ignored;
    json_t *status;
    if (!json_is_object(e->ev)) {
        return ingest_fail(c, STK_EINVAL, "expected an object");
    }
    enum stk_err rc = ingest_str(c, e->ev, "kind", "kind", ALERT_NAME_MAX, 0, &kind);
    if (rc == STK_OK && kind != NULL && strcmp(kind, "Event") != 0) {
        return ingest_fail(c, STK_EINVAL, "kind: expected \"Event\"");
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "apiVersion", "apiVersion", ALERT_NAME_MAX, 0, &version);
    }
    if (rc == STK_OK && version != NULL && !ingest_one_of(version, versions)) {
        return ingest_fail(c, STK_EINVAL, "apiVersion: \"%.64s\" is not audit.k8s.io/v1", version);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "auditID", "auditID", ALERT_NAME_MAX,
                        INGEST_REQUIRED | INGEST_NONEMPTY, &e->audit_id);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "stage", "stage", ALERT_NAME_MAX, INGEST_REQUIRED, &e->stage);
    }
    if (rc == STK_OK && !ingest_one_of(e->stage, stages)) {
        return ingest_fail(c, STK_EINVAL, "stage: \"%.64s\" is not an audit stage", e->stage);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "verb", "verb", sizeof(((struct audit_k8s_event *)0)->verb),
                        INGEST_REQUIRED | INGEST_NONEMPTY, &e->verb);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "level", "level", ALERT_NAME_MAX, 0, &ignored);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "requestURI", "requestURI", ALERT_TEXT_MAX, 0, &e->uri);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, e->ev, "userAgent", "userAgent", 1024, 0, &e->user_agent);
    }
    if (rc == STK_OK) {
        rc = read_user(c, e);
    }
    if (rc == STK_OK) {
        rc = ingest_array(c, e->ev, "sourceIPs", "sourceIPs", 0, AUDIT_MAX_IPS, &e->ips);
    }
    if (rc == STK_OK) {
        rc = read_string_array(c, e->ips, "sourceIPs", AUDIT_IP_MAX);
    }
    if (rc == STK_OK) {
        rc = read_object_ref(c, e);
    }
    if (rc == STK_OK) {
        rc = ingest_object(c, e->ev, "responseStatus", "responseStatus", 0, &status);
    }
    if (rc == STK_OK) {
        rc = ingest_int(c, status, "code", "responseStatus.code", 0, &e->code, &e->has_code);
    }
    if (rc == STK_OK && e->has_code && (e->code < 0 || e->code > 999)) {
        return ingest_fail(c, STK_EINVAL, "responseStatus.code: %lld is not an HTTP status",
                           e->code);
    }
    if (rc == STK_OK) {
        rc = ingest_object(c, e->ev, "annotations", "annotations", 0, &e->annotations);
    }
    if (rc == STK_OK && json_object_size(e->annotations) > AUDIT_MAX_ANNOTATIONS) {
        return ingest_fail(c, STK_EINVAL, "annotations: more than %d members",
                           AUDIT_MAX_ANNOTATIONS);
    }
    if (rc == STK_OK) {
        rc = read_times(c, e);
    }
    if (rc == STK_OK) {
        /* Objects as the client sent them: any JSON. Their insides are read
         * leniently by the rules below (see lookups). */
        e->req_obj = json_object_get(e->ev, "requestObject");
        e->resp_obj = json_object_get(e->ev, "responseObject");
    }
    return rc;
}

/* ---- the audit row ------------------------------------------------------- */

static enum stk_err dump_array(struct ingest_ctx *c, const json_t *arr, char **out)
{
    *out = arr != NULL ? json_dumps(arr, JSON_COMPACT) : strdup("[]");
    return *out != NULL ? STK_OK : ingest_fail(c, STK_ENOMEM, "out of memory");
}

/* "create pods/exec", or "get /healthz" for non-resource requests. */
enum stk_err audit_operation(struct ingest_ctx *c, const struct audit_event *e, char *out,
                             size_t size)
{
    const char *what = e->resource_kind;
    char path[AUDIT_PATH_MAX + 1];
    if (what[0] == '\0' && e->uri != NULL) {
        size_t n = strcspn(e->uri, "?");
        if (n > AUDIT_PATH_MAX) {
            return ingest_fail(c, STK_EINVAL, "requestURI: the path exceeds %d bytes",
                               AUDIT_PATH_MAX);
        }
        memcpy(path, e->uri, n);
        path[n] = '\0';
        what = path;
    }
    int n = snprintf(out, size, "%s%s%s", e->verb, what[0] != '\0' ? " " : "", what);
    if (n < 0 || (size_t)n >= size) {
        return ingest_fail(c, STK_EINVAL,
                           "objectRef.resource: the operation name exceeds %zu "
                           "bytes",
                           size - 1);
    }
    return STK_OK;
}

static enum stk_err add_row(struct ingest_ctx *c, const struct audit_event *e, const char *cluster,
                            struct ingest_batch *out)
{
    struct audit_k8s_event *r = ingest_batch_add_audit(out);
    if (r == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    /* Scoped by cluster, as every key: a token of one cluster replaying
     * another's audit IDs must not suppress that cluster's rows. */
    const char *parts[] = {"k8s-audit", cluster, e->audit_id, e->stage};
    alert_key(r->key, parts, 4);
    r->ts_ms = e->ms;
    ingest_copy(r->cluster, sizeof(r->cluster), cluster);
    enum stk_err rc = audit_operation(c, e, r->operation, sizeof(r->operation));
    if (rc != STK_OK) {
        return rc;
    }
    ingest_copy(r->verb, sizeof(r->verb), e->verb);
    ingest_copy(r->resource_kind, sizeof(r->resource_kind), e->resource_kind);
    ingest_copy(r->resource_ns, sizeof(r->resource_ns), e->ns);
    ingest_copy(r->resource_name, sizeof(r->resource_name), e->name);
    ingest_copy(r->user_name, sizeof(r->user_name), e->user);
    ingest_copy(r->user_agent, sizeof(r->user_agent), e->user_agent);
    r->response_code = e->has_code ? (int)e->code : 0;
    rc = dump_array(c, e->groups, &r->user_groups);
    if (rc == STK_OK) {
        rc = dump_array(c, e->ips, &r->source_ips);
    }
    if (rc == STK_OK) {
        r->raw = json_dumps(e->ev, JSON_COMPACT);
        if (r->raw == NULL) {
            rc = ingest_fail(c, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

static enum stk_err parse_event(struct ingest_ctx *c, const struct detect_config *cfg, json_t *ev,
                                const char *cluster, struct ingest_batch *out)
{
    struct audit_event e;
    memset(&e, 0, sizeof(e));
    e.ev = ev;
    enum stk_err rc = read_event(c, &e);
    if (rc == STK_OK) {
        rc = add_row(c, &e, cluster, out);
    }
    if (rc == STK_OK) {
        rc = audit_rules_apply(c, cfg, &e, cluster, out);
    }
    return rc;
}

/* The events of the body: an EventList's items or a single Event. */
static enum stk_err events_of(struct ingest_ctx *c, json_t *doc, json_t **items, int *single)
{
    const char *kind, *version;
    *items = NULL;
    *single = 0;
    if (!json_is_object(doc)) {
        return ingest_fail(c, STK_EINVAL, "expected an EventList object");
    }
    enum stk_err rc = ingest_str(c, doc, "kind", "kind", ALERT_NAME_MAX, INGEST_REQUIRED, &kind);
    if (rc == STK_OK) {
        rc = ingest_str(c, doc, "apiVersion", "apiVersion", ALERT_NAME_MAX, 0, &version);
    }
    if (rc != STK_OK) {
        return rc;
    }
    if (strcmp(kind, "Event") == 0) {
        *single = 1;
        return STK_OK;
    }
    if (strcmp(kind, "EventList") != 0) {
        return ingest_fail(c, STK_EINVAL, "kind: \"%.64s\" is not EventList or Event", kind);
    }
    if (version != NULL && !ingest_one_of(version, versions)) {
        return ingest_fail(c, STK_EINVAL, "apiVersion: \"%.64s\" is not audit.k8s.io/v1", version);
    }
    json_t *v = json_object_get(doc, "items");
    if (!json_is_array(v)) {
        return ingest_fail(c, STK_EINVAL, "items: expected an array");
    }
    if (json_array_size(v) > INGEST_MAX_ELEMENTS) {
        return ingest_fail(c, STK_ETOOBIG, "batch of %zu elements exceeds the limit of %d",
                           json_array_size(v), INGEST_MAX_ELEMENTS);
    }
    *items = v;
    return STK_OK;
}

enum stk_err ingest_parse_k8s_audit(const char *body, size_t len, const char *cluster,
                                    const struct detect_config *cfg, struct ingest_batch *out,
                                    struct ingest_reject *rej)
{
    struct ingest_ctx c;
    struct ingest_scan scan;
    char *quoted = NULL;
    size_t qlen = 0;
    json_t *doc = NULL;
    enum stk_err rc;
    ingest_ctx_init(&c, rej);
    if (cluster == NULL) {
        cluster = "";
    }
    if (strlen(cluster) >= ALERT_CLUSTER_MAX) {
        rc = ingest_fail(&c, STK_EINVAL, "cluster: longer than %d bytes", ALERT_CLUSTER_MAX - 1);
        goto out;
    }
    rc = ingest_scan_body(&c, body, len, &scan);
    if (rc != STK_OK) {
        /* The scan counts top-level values; an EventList is one. */
        rc = ingest_fail(&c, rc, "nesting deeper than %d levels", INGEST_MAX_DEPTH);
        goto out;
    }
    if (scan.first == 0) {
        rc = ingest_fail(&c, STK_EINVAL, "empty body");
        goto out;
    }
    if (scan.first != '{') {
        rc = ingest_fail(&c, STK_EINVAL, "expected an EventList object");
        goto out;
    }
    if (scan.big_ints > 0) {
        rc = ingest_quote_big_ints(body, len, &quoted, &qlen);
        if (rc != STK_OK) {
            rc = ingest_fail(&c, rc, "out of memory");
            goto out;
        }
        body = quoted;
        len = qlen;
    }
    char why[200];
    doc = ingest_load(body, len, 0, NULL, why, sizeof(why));
    if (doc == NULL) {
        rc = ingest_fail(&c, STK_EINVAL, "%s", why);
        goto out;
    }
    json_t *items;
    int single;
    rc = events_of(&c, doc, &items, &single);
    if (rc != STK_OK) {
        goto out;
    }
    if (single) {
        c.index = 0;
        rc = parse_event(&c, cfg, doc, cluster, out);
        goto out;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(items, i, ev)
    {
        c.index = (long)i;
        rc = parse_event(&c, cfg, ev, cluster, out);
        if (rc != STK_OK) {
            break;
        }
    }
out:
    json_decref(doc);
    free(quoted);
    if (rc != STK_OK) {
        ingest_batch_release(out);
    }
    return rc;
}
