/* The stateless detection rules over Kubernetes audit events
 * (docs/ingestion.md lists them with their ids, titles and MITRE mapping). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ingest_audit.h"

#define SUMMARY_MAX_ITEMS 16

/* ---- lenient lookups inside request/response objects --------------------- */

/* requestObject and responseObject hold what a client sent, recorded
 * verbatim by the API server even when it refused the request. A value of
 * the wrong type there means "does not match"; refusing the batch instead
 * would let one crafted request drop every event sent with it. */
static const char *obj_str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) && json_string_length(v) < ALERT_NAME_MAX ? json_string_value(v)
                                                                       : NULL;
}

static json_t *obj_get(const json_t *obj, const char *key)
{
    return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

static int obj_true(const json_t *obj, const char *key)
{
    return json_is_true(obj_get(obj, key));
}

/* ---- detection rules ----------------------------------------------------- */

struct rule {
    const char *id;
    const char *title;
    enum severity severity;
    enum tactic tactic;
    const char *technique;
};

static const struct rule rule_cluster_admin = {"k8s.cluster_admin_binding",
                                               "Cluster-admin role binding created", SEV_HIGH,
                                               TACTIC_PRIVILEGE_ESCALATION, "T1098"};
static const struct rule rule_cluster_admin_changed = {
    "k8s.cluster_admin_binding", "Role binding changed to grant cluster-admin", SEV_HIGH,
    TACTIC_PRIVILEGE_ESCALATION, "T1098"};
static const struct rule rule_exec = {"k8s.pod_exec", "Command executed in a pod through the API",
                                      SEV_MEDIUM, TACTIC_EXECUTION, "T1609"};
static const struct rule rule_attach = {"k8s.pod_attach",
                                        "Attached to a pod's container through the API", SEV_MEDIUM,
                                        TACTIC_EXECUTION, "T1609"};
static const struct rule rule_secret = {"k8s.secret_read_by_service_account",
                                        "Secret read by a service account not used to it",
                                        SEV_MEDIUM, TACTIC_CREDENTIAL_ACCESS, "T1552.007"};
static const struct rule rule_anonymous = {"k8s.anonymous_request",
                                           "Anonymous request to the Kubernetes API succeeded",
                                           SEV_HIGH, TACTIC_INITIAL_ACCESS, "T1078.001"};
static const struct rule rule_privileged = {"k8s.privileged_pod", "Privileged pod created",
                                            SEV_HIGH, TACTIC_PRIVILEGE_ESCALATION, "T1611"};
static const struct rule rule_hostpath = {"k8s.hostpath_pod", "Pod with a hostPath volume created",
                                          SEV_HIGH, TACTIC_PRIVILEGE_ESCALATION, "T1611"};
static const struct rule rule_host_ns = {"k8s.host_namespace_pod",
                                         "Pod sharing the host's namespaces created", SEV_MEDIUM,
                                         TACTIC_PRIVILEGE_ESCALATION, "T1611"};
static const struct rule rule_proxy = {"k8s.anonymising_proxy",
                                       "Kubernetes API request from an anonymising proxy", SEV_HIGH,
                                       TACTIC_INITIAL_ACCESS, "T1090.003"};

static int is_2xx(const struct audit_event *e)
{
    return e->has_code && e->code >= 200 && e->code < 300;
}

/* Success, or a response not recorded (stage before the status). */
static int not_failed(const struct audit_event *e)
{
    return !e->has_code || e->code == 101 || is_2xx(e);
}

static int is_exec_like(const struct audit_event *e)
{
    return e->resource != NULL && strcmp(e->resource, "pods") == 0 && e->subresource != NULL &&
           (strcmp(e->subresource, "exec") == 0 || strcmp(e->subresource, "attach") == 0);
}

/* The stage at which a request is judged: ResponseComplete, or for exec and
 * attach (long-running, often only ResponseStarted is logged) also
 * ResponseStarted. Alert keys leave the stage out, so both stages of one
 * request make the same alert. */
static int judged(const struct audit_event *e)
{
    return strcmp(e->stage, "ResponseComplete") == 0 ||
           (is_exec_like(e) && strcmp(e->stage, "ResponseStarted") == 0);
}

static int no_subresource(const struct audit_event *e)
{
    return e->subresource == NULL || e->subresource[0] == '\0';
}

static int resource_is(const struct audit_event *e, const char *r)
{
    return e->resource != NULL && strcmp(e->resource, r) == 0;
}

/* The object a rule reads: the request's when it is an object, else the
 * response's. */
static const json_t *subject_object(const struct audit_event *e)
{
    return json_is_object(e->req_obj) ? e->req_obj : e->resp_obj;
}

static json_t *summary_items(const json_t *arr, const char *const *keys)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    if (out == NULL || !json_is_array(arr)) {
        return out;
    }
    json_array_foreach(arr, i, v)
    {
        if (i >= SUMMARY_MAX_ITEMS) {
            break;
        }
        json_t *item = json_object();
        if (item == NULL || json_array_append_new(out, item) != 0) {
            json_decref(out);
            return NULL;
        }
        for (const char *const *k = keys; *k != NULL; k++) {
            if (ingest_set_str(item, *k, obj_str(v, *k)) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        json_t *sc = obj_get(v, "securityContext");
        if (obj_true(sc, "privileged") &&
            json_object_set_new(item, "privileged", json_true()) != 0) {
            json_decref(out);
            return NULL;
        }
        const char *host_path = obj_str(obj_get(v, "hostPath"), "path");
        if (host_path != NULL && ingest_set_str(item, "hostPath", host_path) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* A bounded summary of a Kubernetes object: identity, role binding and pod
 * security facts, at most SUMMARY_MAX_ITEMS of each list. */
static json_t *summary(const json_t *obj)
{
    static const char *const subject_keys[] = {"kind", "name", "namespace", NULL};
    static const char *const container_keys[] = {"name", "image", NULL};
    static const char *const volume_keys[] = {"name", NULL};
    static const char *const ref_keys[] = {"apiGroup", "kind", "name", NULL};
    if (!json_is_object(obj)) {
        return json_object();
    }
    json_t *s = json_object();
    if (s == NULL) {
        return NULL;
    }
    const json_t *meta = obj_get(obj, "metadata");
    const json_t *spec = obj_get(obj, "spec");
    int bad = ingest_set_str(s, "kind", obj_str(obj, "kind"));
    bad |= ingest_set_str(s, "apiVersion", obj_str(obj, "apiVersion"));
    bad |= ingest_set_str(s, "name", obj_str(meta, "name"));
    bad |= ingest_set_str(s, "namespace", obj_str(meta, "namespace"));
    const json_t *ref = obj_get(obj, "roleRef");
    if (json_is_object(ref)) {
        json_t *r = json_object();
        for (const char *const *k = ref_keys; r != NULL && *k != NULL; k++) {
            bad |= ingest_set_str(r, *k, obj_str(ref, *k));
        }
        bad |= ingest_set_nonempty(s, "roleRef", r);
    }
    if (json_is_array(obj_get(obj, "subjects"))) {
        bad |= ingest_set_nonempty(s, "subjects",
                                   summary_items(obj_get(obj, "subjects"), subject_keys));
    }
    if (json_is_object(spec)) {
        static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
        for (size_t i = 0; i < 3; i++) {
            if (json_is_array(obj_get(spec, lists[i]))) {
                bad |= ingest_set_nonempty(s, lists[i],
                                           summary_items(obj_get(spec, lists[i]), container_keys));
            }
        }
        if (json_is_array(obj_get(spec, "volumes"))) {
            bad |= ingest_set_nonempty(s, "volumes",
                                       summary_items(obj_get(spec, "volumes"), volume_keys));
        }
        static const char *const flags[] = {"hostPID", "hostNetwork", "hostIPC"};
        for (size_t i = 0; i < 3; i++) {
            if (obj_true(spec, flags[i])) {
                bad |= json_object_set_new(s, flags[i], json_true());
            }
        }
        bad |= ingest_set_str(s, "serviceAccountName", obj_str(spec, "serviceAccountName"));
    }
    if (bad) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static json_t *request_evidence(const struct audit_event *e)
{
    json_t *r = json_object();
    if (r == NULL) {
        return NULL;
    }
    int bad = ingest_set_str(r, "audit_id", e->audit_id);
    bad |= ingest_set_str(r, "stage", e->stage);
    bad |= ingest_set_str(r, "verb", e->verb);
    bad |= ingest_set_str(r, "uri", e->uri);
    bad |= ingest_set_str(r, "resource", e->resource_kind);
    bad |= ingest_set_str(r, "namespace", e->ns);
    bad |= ingest_set_str(r, "name", e->name);
    bad |= ingest_set_str(r, "user", e->user);
    bad |= json_object_set_new(r, "groups", e->groups ? json_deep_copy(e->groups) : json_array());
    bad |= json_object_set_new(r, "source_ips", e->ips ? json_deep_copy(e->ips) : json_array());
    bad |= ingest_set_str(r, "user_agent", e->user_agent);
    if (e->has_code) {
        bad |= ingest_set_int(r, "response_code", e->code);
    }
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

static int alert_seen(const struct ingest_batch *out, const unsigned char key[16])
{
    for (size_t i = 0; i < out->n_alerts; i++) {
        if (memcmp(out->alerts[i].key, key, 16) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Starts an alert of `r` for event `e` with the entities every rule has
 * (cluster, namespace, the user, the target pod, the source addresses) and
 * the evidence. `*out_a` is NULL when the same alert is already in the
 * batch (both stages of an exec). */
static enum stk_err start_alert(struct ingest_ctx *c, const struct detect_config *cfg,
                                const struct audit_event *e, const char *cluster,
                                const struct rule *r, struct ingest_batch *out,
                                struct alert_in **out_a)
{
    unsigned char key[16];
    const char *parts[] = {"k8s-audit-rule", cluster, r->id, e->audit_id};
    *out_a = NULL;
    alert_key(key, parts, 4);
    if (alert_seen(out, key)) {
        return STK_OK;
    }
    if (out->n_alerts >= INGEST_MAX_ELEMENTS) {
        return ingest_fail(c, STK_ETOOBIG,
                           "the batch yields more than %d alerts; send fewer "
                           "events per request",
                           INGEST_MAX_ELEMENTS);
    }
    struct alert_in *a = ingest_batch_add_alert(out);
    if (a == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    memcpy(a->key, key, sizeof(key));
    a->provider = PROV_K8S_AUDIT;
    snprintf(a->rule, sizeof(a->rule), "%s", r->id);
    snprintf(a->title, sizeof(a->title), "%s", r->title);
    a->severity = r->severity;
    a->tactic = r->tactic;
    snprintf(a->technique, sizeof(a->technique), "%s", r->technique);
    a->first_ms = a->last_ms = e->ms;
    ingest_copy(a->cluster, sizeof(a->cluster), cluster);

    const char *ck = cluster[0] != '\0' ? cluster : "-";
    const char *ns = e->ns != NULL && e->ns[0] != '\0' ? e->ns : NULL;
    enum stk_err rc = STK_OK;
    if (cluster[0] != '\0') {
        rc = ingest_entity(c, a, ENT_CLUSTER, cluster, NULL, "cluster", "cluster:%s", cluster);
    }
    if (rc == STK_OK && ns != NULL) {
        rc = ingest_entity(c, a, ENT_NAMESPACE, ns, NULL, "objectRef.namespace", "namespace:%s/%s",
                           ck, ns);
    }
    if (rc == STK_OK && e->user[0] != '\0') {
        rc = ingest_entity(c, a, ENT_IDENTITY, e->user, NULL, "user.username", "identity:%s/%s", ck,
                           e->user);
    }
    /* A pod created from generateName has its name in the response only. */
    const char *pod = e->name != NULL && e->name[0] != '\0'
                          ? e->name
                          : obj_str(obj_get(e->resp_obj, "metadata"), "name");
    if (rc == STK_OK && resource_is(e, "pods") && pod != NULL && pod[0] != '\0') {
        struct entity_ref *p;
        rc = ingest_entity(c, a, ENT_POD, pod, &p, "objectRef.name", "pod:%s/%s/%s", ck,
                           ns != NULL ? ns : "-", pod);
        if (rc == STK_OK && p != NULL && p->props == NULL) {
            p->props = json_object();
            if (p->props == NULL || ingest_set_str(p->props, "namespace", ns) != 0 ||
                ingest_set_str(p->props, "cluster", cluster) != 0) {
                rc = ingest_fail(c, STK_ENOMEM, "out of memory");
            }
        }
    }
    size_t i;
    json_t *ip;
    json_array_foreach(e->ips, i, ip)
    {
        const char *addr = json_string_value(ip);
        struct entity_ref *ent;
        if (rc != STK_OK || !ingest_is_ip(addr)) {
            continue;
        }
        rc = ingest_entity(c, a, ENT_IP, addr, &ent, "sourceIPs", "ip:%s", addr);
        if (rc == STK_OK && ent != NULL && ent->props == NULL && cfg != NULL &&
            cidr_list_contains(cfg->proxies, addr)) {
            ent->props = json_pack("{s:b}", "anonymising_proxy", 1);
            if (ent->props == NULL) {
                rc = ingest_fail(c, STK_ENOMEM, "out of memory");
            }
        }
    }
    if (rc != STK_OK) {
        return rc;
    }
    a->evidence = json_object();
    int bad = a->evidence == NULL;
    if (!bad) {
        bad |= ingest_set_nonempty(a->evidence, "request", request_evidence(e));
        if (e->annotations != NULL) {
            bad |= json_object_set_new(a->evidence, "annotations", json_deep_copy(e->annotations));
        }
        bad |= ingest_set_nonempty(a->evidence, "object", summary(subject_object(e)));
    }
    if (bad) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    *out_a = a;
    return STK_OK;
}

static enum stk_err set_description(struct ingest_ctx *c, struct alert_in *a, struct buf *b)
{
    if (b->data == NULL) {
        buf_release(b);
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    a->description = buf_take(b);
    buf_release(b);
    return a->description != NULL ? STK_OK : ingest_fail(c, STK_ENOMEM, "out of memory");
}

/* Where the target of a request lives, for descriptions: "ns/name". */
static const char *target(const struct audit_event *e, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", e->ns != NULL && e->ns[0] != '\0' ? e->ns : "",
             e->ns != NULL && e->ns[0] != '\0' ? "/" : "", e->name != NULL ? e->name : "");
    return buf;
}

/* 1: a (Cluster)RoleBinding that grants the cluster-admin ClusterRole. */
static enum stk_err rule_binding(struct ingest_ctx *c, const struct detect_config *cfg,
                                 const struct audit_event *e, const char *cluster,
                                 struct ingest_batch *out)
{
    static const char *const verbs[] = {"create", "update", "patch", NULL};
    if (!ingest_one_of(e->verb, verbs) || !no_subresource(e) || !not_failed(e) ||
        !(resource_is(e, "clusterrolebindings") || resource_is(e, "rolebindings"))) {
        return STK_OK;
    }
    const json_t *obj = NULL;
    const json_t *cands[] = {e->req_obj, e->resp_obj};
    for (size_t i = 0; i < 2 && obj == NULL; i++) {
        const json_t *ref = obj_get(cands[i], "roleRef");
        const char *kind = obj_str(ref, "kind");
        const char *name = obj_str(ref, "name");
        if (name != NULL && strcmp(name, "cluster-admin") == 0 &&
            (kind == NULL || strcmp(kind, "ClusterRole") == 0)) {
            obj = cands[i];
        }
    }
    if (obj == NULL) {
        return STK_OK;
    }
    struct alert_in *a;
    const struct rule *r =
        strcmp(e->verb, "create") == 0 ? &rule_cluster_admin : &rule_cluster_admin_changed;
    enum stk_err rc = start_alert(c, cfg, e, cluster, r, out, &a);
    if (rc != STK_OK || a == NULL) {
        return rc;
    }
    const char *ck = cluster[0] != '\0' ? cluster : "-";
    struct buf b;
    char where[2 * ALERT_NAME_MAX];
    buf_init(&b, ALERT_TEXT_MAX);
    buf_printf(&b, "%s %s %s %s granting the cluster-admin ClusterRole to", e->user,
               strcmp(e->verb, "create") == 0 ? "created" : "changed",
               resource_is(e, "clusterrolebindings") ? "ClusterRoleBinding" : "RoleBinding",
               target(e, where, sizeof(where)));
    size_t i;
    json_t *s;
    size_t n = 0;
    json_array_foreach(obj_get(obj, "subjects"), i, s)
    {
        const char *kind = obj_str(s, "kind");
        const char *name = obj_str(s, "name");
        const char *sns = obj_str(s, "namespace");
        if (kind == NULL || name == NULL || rc != STK_OK) {
            continue;
        }
        struct entity_ref *ent = NULL;
        if (strcmp(kind, "ServiceAccount") == 0) {
            rc = ingest_entity(c, a, ENT_IDENTITY, NULL, &ent, "roleRef.subjects",
                               "identity:%s/system:serviceaccount:%s:%s", ck,
                               sns != NULL ? sns : "", name);
        } else {
            rc = ingest_entity(c, a, ENT_IDENTITY, name, &ent, "roleRef.subjects", "identity:%s/%s",
                               ck, name);
        }
        if (rc == STK_OK && ent != NULL && ent->props == NULL) {
            ent->props = json_pack("{s:s}", "kind", kind);
            if (ent->props == NULL) {
                rc = ingest_fail(c, STK_ENOMEM, "out of memory");
            }
        }
        if (n < 8) {
            buf_printf(&b, "%s %s %s%s%s", n > 0 ? "," : "", kind, sns != NULL ? sns : "",
                       sns != NULL ? "/" : "", name);
        }
        n++;
    }
    if (n > 8) {
        buf_printf(&b, " and %zu more", n - 8);
    } else if (n == 0) {
        buf_printf(&b, " no subject yet");
    }
    if (rc != STK_OK) {
        buf_release(&b);
        return rc;
    }
    return set_description(c, a, &b);
}

/* Decodes one query-string value ("%2F" and "+"). Only printable ASCII
 * escapes are decoded, so the result stays valid UTF-8. */
static void url_decode(const char *s, size_t n, struct buf *b)
{
    static const char hex[] = "0123456789abcdef0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        char ch = s[i] == '+' ? ' ' : s[i];
        const char *hi = ch == '%' && i + 2 < n ? strchr(hex, s[i + 1]) : NULL;
        const char *lo = hi != NULL ? strchr(hex, s[i + 2]) : NULL;
        if (hi != NULL && lo != NULL && s[i + 1] != '\0' && s[i + 2] != '\0') {
            int v = (int)((hi - hex) % 16) * 16 + (int)((lo - hex) % 16);
            if (v >= 0x20 && v < 0x7f) {
                ch = (char)v;
                i += 2;
            }
        }
        buf_append(b, &ch, 1);
    }
}

/* The values of `name` in the query of `uri`, decoded and joined by
 * spaces ("command=sh&command=-c" -> "sh -c"). */
static void query_values(const char *uri, const char *name, struct buf *b)
{
    const char *q = uri != NULL ? strchr(uri, '?') : NULL;
    size_t nlen = strlen(name);
    while (q != NULL) {
        q++;
        size_t n = strcspn(q, "&");
        if (n > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
            if (b->len > 0) {
                buf_append(b, " ", 1);
            }
            url_decode(q + nlen + 1, n - nlen - 1, b);
        }
        q = q[n] == '&' ? q + n : NULL;
    }
}

/* 2: exec or attach into a pod. */
static enum stk_err rule_exec_attach(struct ingest_ctx *c, const struct detect_config *cfg,
                                     const struct audit_event *e, const char *cluster,
                                     struct ingest_batch *out)
{
    if (!is_exec_like(e) || !not_failed(e) ||
        (strcmp(e->verb, "create") != 0 && strcmp(e->verb, "get") != 0)) {
        return STK_OK;
    }
    int exec = strcmp(e->subresource, "exec") == 0;
    struct alert_in *a;
    enum stk_err rc = start_alert(c, cfg, e, cluster, exec ? &rule_exec : &rule_attach, out, &a);
    if (rc != STK_OK || a == NULL) {
        return rc;
    }
    struct buf cmd, cont, b;
    char where[2 * ALERT_NAME_MAX];
    buf_init(&cmd, ALERT_NAME_MAX * 4);
    buf_init(&cont, ALERT_NAME_MAX);
    buf_init(&b, ALERT_TEXT_MAX);
    query_values(e->uri, "command", &cmd);
    query_values(e->uri, "container", &cont);
    /* kubectl repeats container= (see the exec sample): keep the first. */
    if (cont.data != NULL && strchr(cont.data, ' ') != NULL) {
        *strchr(cont.data, ' ') = '\0';
    }
    target(e, where, sizeof(where));
    if (exec) {
        buf_printf(&b, "%s ran \"%s\" in pod %s", e->user, cmd.data != NULL ? cmd.data : "", where);
    } else {
        buf_printf(&b, "%s attached to pod %s", e->user, where);
    }
    if (cont.data != NULL && cont.data[0] != '\0') {
        buf_printf(&b, " (container %s)", cont.data);
    }
    json_t *x = json_object();
    int bad = x == NULL;
    if (!bad) {
        bad |= ingest_set_str(x, "command", cmd.data);
        bad |= ingest_set_str(x, "container", cont.data);
        bad |= ingest_set_nonempty(a->evidence, exec ? "exec" : "attach", x);
    }
    buf_release(&cmd);
    buf_release(&cont);
    if (bad) {
        buf_release(&b);
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    return set_description(c, a, &b);
}

/* 3: a service account reads secrets (kept only the first time). */
static enum stk_err rule_secret_read(struct ingest_ctx *c, const struct detect_config *cfg,
                                     const struct audit_event *e, const char *cluster,
                                     struct ingest_batch *out)
{
    static const char *const verbs[] = {"get", "list", "watch", NULL};
    if (!resource_is(e, "secrets") || !no_subresource(e) || !ingest_one_of(e->verb, verbs) ||
        !is_2xx(e) || strncmp(e->user, "system:serviceaccount:", 22) != 0) {
        return STK_OK;
    }
    struct alert_in *a;
    enum stk_err rc = start_alert(c, cfg, e, cluster, &rule_secret, out, &a);
    if (rc != STK_OK || a == NULL) {
        return rc;
    }
    snprintf(a->novelty, sizeof(a->novelty), "secret-read:%s/%s",
             cluster[0] != '\0' ? cluster : "-", e->user);
    struct buf b;
    char where[2 * ALERT_NAME_MAX];
    buf_init(&b, ALERT_TEXT_MAX);
    if (e->name != NULL && e->name[0] != '\0') {
        buf_printf(&b,
                   "Service account %s read secret %s (%s), the first secret read seen "
                   "from it",
                   e->user, target(e, where, sizeof(where)), e->verb);
    } else {
        buf_printf(&b,
                   "Service account %s ran %s on secrets%s%s, the first secret read seen "
                   "from it",
                   e->user, e->verb, e->ns != NULL ? " in namespace " : "",
                   e->ns != NULL ? e->ns : "");
    }
    return set_description(c, a, &b);
}

/* Health and version endpoints answer anonymous requests by design. */
static int is_health_path(const char *uri)
{
    static const char *const paths[] = {"/healthz", "/livez", "/readyz", "/version", NULL};
    if (uri == NULL) {
        return 0;
    }
    for (const char *const *p = paths; *p != NULL; p++) {
        size_t n = strlen(*p);
        if (strncmp(uri, *p, n) == 0 && (uri[n] == '\0' || uri[n] == '/' || uri[n] == '?')) {
            return 1;
        }
    }
    return 0;
}

/* 4: an unauthenticated request that succeeded. */
static enum stk_err rule_anon(struct ingest_ctx *c, const struct detect_config *cfg,
                              const struct audit_event *e, const char *cluster,
                              struct ingest_batch *out)
{
    int anon = strcmp(e->user, "system:anonymous") == 0;
    size_t i;
    json_t *g;
    json_array_foreach(e->groups, i, g)
    {
        anon |= strcmp(json_string_value(g), "system:unauthenticated") == 0;
    }
    if (!anon || !is_2xx(e) || is_health_path(e->uri)) {
        return STK_OK;
    }
    struct alert_in *a;
    enum stk_err rc = start_alert(c, cfg, e, cluster, &rule_anonymous, out, &a);
    if (rc != STK_OK || a == NULL) {
        return rc;
    }
    struct buf b;
    buf_init(&b, ALERT_TEXT_MAX);
    buf_printf(&b, "An unauthenticated request (%s) succeeded with HTTP %lld: %s %s", e->user,
               e->code, e->verb, e->uri != NULL ? e->uri : e->resource_kind);
    return set_description(c, a, &b);
}

/* 5: a pod created privileged, with a hostPath volume or in host namespaces. */
static enum stk_err rule_pod_security(struct ingest_ctx *c, const struct detect_config *cfg,
                                      const struct audit_event *e, const char *cluster,
                                      struct ingest_batch *out)
{
    if (strcmp(e->verb, "create") != 0 || !resource_is(e, "pods") || !no_subresource(e) ||
        !not_failed(e)) {
        return STK_OK;
    }
    const json_t *spec = obj_get(subject_object(e), "spec");
    if (!json_is_object(spec)) {
        return STK_OK;
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    const char *privileged = NULL, *host_path = NULL;
    for (size_t l = 0; l < 3 && privileged == NULL; l++) {
        size_t i;
        json_t *ct;
        json_array_foreach(obj_get(spec, lists[l]), i, ct)
        {
            if (obj_true(obj_get(ct, "securityContext"), "privileged")) {
                const char *name = obj_str(ct, "name");
                privileged = name != NULL ? name : "(unnamed)";
                break;
            }
        }
    }
    size_t i;
    json_t *vol;
    json_array_foreach(obj_get(spec, "volumes"), i, vol)
    {
        if (json_is_object(obj_get(vol, "hostPath"))) {
            const char *p = obj_str(obj_get(vol, "hostPath"), "path");
            host_path = p != NULL ? p : "(no path)";
            break;
        }
    }
    int pid = obj_true(spec, "hostPID"), net = obj_true(spec, "hostNetwork");
    int ipc = obj_true(spec, "hostIPC");
    const struct rule *r = privileged != NULL  ? &rule_privileged
                           : host_path != NULL ? &rule_hostpath
                           : pid || net || ipc ? &rule_host_ns
                                               : NULL;
    if (r == NULL) {
        return STK_OK;
    }
    struct alert_in *a;
    enum stk_err rc = start_alert(c, cfg, e, cluster, r, out, &a);
    if (rc != STK_OK || a == NULL) {
        return rc;
    }
    struct buf b;
    char where[2 * ALERT_NAME_MAX];
    const char *meta_name = obj_str(obj_get(subject_object(e), "metadata"), "name");
    buf_init(&b, ALERT_TEXT_MAX);
    target(e, where, sizeof(where));
    buf_printf(&b, "%s created pod %s%s", e->user, where,
               e->name == NULL && meta_name != NULL ? meta_name : "");
    const char *sep = " with";
    if (privileged != NULL) {
        buf_printf(&b, "%s privileged container %s", sep, privileged);
        sep = ",";
    }
    if (host_path != NULL) {
        buf_printf(&b, "%s hostPath volume %s", sep, host_path);
        sep = ",";
    }
    if (pid || net || ipc) {
        const char *names[3];
        int n = 0;
        if (pid) {
            names[n++] = "PID";
        }
        if (net) {
            names[n++] = "network";
        }
        if (ipc) {
            names[n++] = "IPC";
        }
        buf_printf(&b, "%s the host's %s", sep, names[0]);
        for (int k = 1; k < n; k++) {
            buf_printf(&b, "%s%s", k == n - 1 ? " and " : ", ", names[k]);
        }
        buf_printf(&b, " namespace%s", n > 1 ? "s" : "");
    }
    return set_description(c, a, &b);
}

/* 6: a request from an address listed as an anonymising proxy. */
static enum stk_err rule_anon_proxy(struct ingest_ctx *c, const struct detect_config *cfg,
                                    const struct audit_event *e, const char *cluster,
                                    struct ingest_batch *out)
{
    const char *hit = NULL;
    size_t i;
    json_t *ip;
    if (cfg == NULL || cfg->proxies == NULL) {
        return STK_OK;
    }
    json_array_foreach(e->ips, i, ip)
    {
        if (hit == NULL && cidr_list_contains(cfg->proxies, json_string_value(ip))) {
            hit = json_string_value(ip);
        }
    }
    if (hit == NULL) {
        return STK_OK;
    }
    struct alert_in *a;
    enum stk_err rc = start_alert(c, cfg, e, cluster, &rule_proxy, out, &a);
    if (rc != STK_OK || a == NULL) {
        return rc;
    }
    struct buf b;
    char op[ALERT_NAME_MAX];
    buf_init(&b, ALERT_TEXT_MAX);
    if (audit_operation(c, e, op, sizeof(op)) != STK_OK) {
        buf_release(&b);
        return STK_EINVAL;
    }
    buf_printf(&b, "%s sent \"%s\" from %s, an address listed as an anonymising proxy", e->user, op,
               hit);
    return set_description(c, a, &b);
}

typedef enum stk_err (*rule_fn)(struct ingest_ctx *, const struct detect_config *,
                                const struct audit_event *, const char *, struct ingest_batch *);

static const rule_fn rules[] = {rule_binding, rule_exec_attach,  rule_secret_read,
                                rule_anon,    rule_pod_security, rule_anon_proxy};

enum stk_err audit_rules_apply(struct ingest_ctx *c, const struct detect_config *cfg,
                               const struct audit_event *e, const char *cluster,
                               struct ingest_batch *out)
{
    enum stk_err rc = STK_OK;
    for (size_t i = 0; rc == STK_OK && judged(e) && i < sizeof(rules) / sizeof(rules[0]); i++) {
        rc = rules[i](c, cfg, e, cluster, out);
    }
    return rc;
}
