/* Facts, isolate, terminate, release and the tamper check (actions.h). */
#include "actions.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char *const kind_names[] = {"isolate", "terminate", "release"};
static const char *const status_names[] = {"succeeded", "failed", "refused"};

int action_kind_parse(const char *s, enum action_kind *out)
{
    for (int i = 0; i < 3; i++) {
        if (s != NULL && strcmp(s, kind_names[i]) == 0) {
            *out = (enum action_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *action_kind_name(enum action_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

const char *action_status_name(enum action_status status)
{
    return (unsigned)status < 3 ? status_names[status] : "failed";
}

int action_status_parse(const char *s, enum action_status *out)
{
    for (int i = 0; i < 3; i++) {
        if (s != NULL && strcmp(s, status_names[i]) == 0) {
            *out = (enum action_status)i;
            return 0;
        }
    }
    return -1;
}

void action_result_release(struct action_result *r)
{
    json_decref(r->details);
    json_decref(r->evidence);
    r->details = NULL;
    r->evidence = NULL;
}

static void end(struct action_result *r, enum action_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void end(struct action_result *r, enum action_status status, const char *fmt, ...)
{
    r->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* UTF-8 */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned min;
    unsigned cp;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

char *actions_utf8_clean(const char *s, size_t len, size_t *out_len)
{
    /* Worst case every byte becomes the 3 bytes of U+FFFD. */
    char *out = malloc(len * 3 + 1);
    if (out == NULL) {
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t j = 0;
    for (size_t i = 0; i < len;) {
        size_t l = utf8_seq(p + i, len - i);
        if (l == 0) {
            memcpy(out + j, "\xef\xbf\xbd", 3);
            j += 3;
            i++;
        } else {
            memcpy(out + j, p + i, l);
            j += l;
            i += l;
        }
    }
    out[j] = '\0';
    *out_len = j;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Facts */

static const char *guess_cloud(const char *version, const json_t *pods)
{
    if (strstr(version, "-gke.") != NULL) {
        return "gke";
    }
    if (strstr(version, "-eks-") != NULL) {
        return "eks";
    }
    size_t i;
    const json_t *p;
    json_array_foreach(pods, i, p)
    {
        const char *node =
            json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        if (node == NULL) {
            continue;
        }
        if (strncmp(node, "aks-", 4) == 0) {
            return "aks";
        }
        if (strncmp(node, "gke-", 4) == 0) {
            return "gke";
        }
        size_t n = strlen(node);
        if (n > 17 && strcmp(node + n - 17, ".compute.internal") == 0) {
            return "eks";
        }
    }
    return "other";
}

static json_t *pod_fact(const json_t *pod)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const json_t *spec = json_object_get(pod, "spec");
    const json_t *status = json_object_get(pod, "status");
    const json_t *labels = json_object_get(meta, "labels");
    json_t *images = json_array();
    json_int_t restarts = 0;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        const char *img = json_string_value(json_object_get(c, "image"));
        if (img != NULL) {
            json_array_append_new(images, json_string(img));
        }
    }
    json_array_foreach(json_object_get(status, "containerStatuses"), i, c)
    {
        restarts += json_integer_value(json_object_get(c, "restartCount"));
    }
    const char *iso = json_string_value(json_object_get(labels, STK_LABEL_ISOLATED));
    const char *node = json_string_value(json_object_get(spec, "nodeName"));
    const char *phase = json_string_value(json_object_get(status, "phase"));
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    return json_pack("{s:s?, s:s?, s:s?, s:s, s:s?, s:o, s:o, s:I, s:b}", "namespace",
                     json_string_value(json_object_get(meta, "namespace")), "name",
                     json_string_value(json_object_get(meta, "name")), "uid", uid, "phase",
                     phase ? phase : "Unknown", "node", node, "labels",
                     json_is_object(labels) ? json_incref((json_t *)labels) : json_object(),
                     "images", images ? images : json_array(), "restarts", restarts, "isolated",
                     iso != NULL && strcmp(iso, "true") == 0);
}

static json_t *service_fact(const json_t *svc)
{
    const json_t *meta = json_object_get(svc, "metadata");
    const json_t *spec = json_object_get(svc, "spec");
    const char *type = json_string_value(json_object_get(spec, "type"));
    json_t *ports = json_array();
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        json_array_append_new(ports, json_integer(json_integer_value(json_object_get(p, "port"))));
    }
    /* Reachable from outside the cluster: a load balancer, a node port or
     * external IPs. */
    int external =
        (type != NULL && (strcmp(type, "LoadBalancer") == 0 || strcmp(type, "NodePort") == 0)) ||
        json_array_size(json_object_get(spec, "externalIPs")) > 0;
    const json_t *sel = json_object_get(spec, "selector");
    return json_pack("{s:s?, s:s?, s:s, s:s?, s:b, s:o, s:o}", "namespace",
                     json_string_value(json_object_get(meta, "namespace")), "name",
                     json_string_value(json_object_get(meta, "name")), "type",
                     type ? type : "ClusterIP", "cluster_ip",
                     json_string_value(json_object_get(spec, "clusterIP")), "external", external,
                     "ports", ports ? ports : json_array(), "selector",
                     json_is_object(sel) ? json_incref((json_t *)sel) : json_object());
}

enum stk_err actions_facts(struct kube *k, const char *cloud, json_t **out, struct stk_error *err)
{
    *out = NULL;
    char version[64];
    json_t *sys = NULL;
    json_t *pods = NULL;
    json_t *svcs = NULL;
    json_t *facts = NULL;
    int pods_cut = 0;
    int svcs_cut = 0;
    enum stk_err rc = k->ops->version(k->ctx, version, sizeof(version), err);
    if (rc == STK_OK) {
        rc = kube_list_all(k, KUBE_POD, "kube-system", STK_PLUGIN_SELECTOR, 1000, &sys, NULL, err);
    }
    if (rc == STK_OK) {
        rc = kube_list_all(k, KUBE_POD, NULL, NULL, STK_FACTS_MAX_PODS, &pods, &pods_cut, err);
    }
    if (rc == STK_OK) {
        rc = kube_list_all(k, KUBE_SERVICE, NULL, NULL, STK_FACTS_MAX_SERVICES, &svcs, &svcs_cut,
                           err);
    }
    if (rc != STK_OK) {
        goto out;
    }
    struct net_plugin np;
    policy_detect_plugin(sys, &np);
    json_t *pod_facts = json_array();
    json_t *svc_facts = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(pods, i, o)
    {
        json_array_append_new(pod_facts, pod_fact(o));
    }
    json_array_foreach(svcs, i, o)
    {
        json_array_append_new(svc_facts, service_fact(o));
    }
    facts = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:o}", "kubernetes_version",
                      version[0] == 'v' ? version + 1 : version, "cloud",
                      cloud ? cloud : guess_cloud(version, pods), "network_policy", "plugin",
                      np.name, "version", np.version, "pods", pod_facts ? pod_facts : json_array(),
                      "services", svc_facts ? svc_facts : json_array());
    if (facts == NULL || json_array_size(json_object_get(facts, "pods")) != json_array_size(pods) ||
        json_array_size(json_object_get(facts, "services")) != json_array_size(svcs)) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory building the facts");
        goto out;
    }
    if (pods_cut || svcs_cut) {
        json_object_set_new(facts, "truncated", json_true());
    }
out:
    json_decref(sys);
    json_decref(pods);
    json_decref(svcs);
    if (rc != STK_OK) {
        json_decref(facts);
        return rc;
    }
    *out = facts;
    return STK_OK;
}

static size_t dumped_size(const json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

int actions_facts_fit(json_t *facts, size_t max)
{
    if (dumped_size(facts) <= max) {
        return 0;
    }
    json_object_set_new(facts, "truncated", json_true());
    json_t *pods = json_object_get(facts, "pods");
    json_t *svcs = json_object_get(facts, "services");
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        json_object_del(p, "labels");
    }
    /* Drop a tenth at a time: each pass measures the whole text again. */
    while (dumped_size(facts) > max) {
        size_t np = json_array_size(pods);
        size_t ns = json_array_size(svcs);
        if (np == 0 && ns == 0) {
            return -1;
        }
        json_t *arr = np >= ns ? pods : svcs;
        size_t n = json_array_size(arr);
        size_t drop = n / 10 > 0 ? n / 10 : 1;
        for (size_t d = 0; d < drop; d++) {
            json_array_remove(arr, json_array_size(arr) - 1);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* isolate */

static void isolate(struct kube *k, const struct action_target *t, struct action_result *r)
{
    struct stk_error e = {0};
    char version[64];
    json_t *sys = NULL;
    json_t *pod = NULL;
    json_t *policy = NULL;
    json_t *existing = NULL;
    json_t *applied = NULL;
    json_t *patch = NULL;
    json_t *patched = NULL;
    if (k->ops->version(k->ctx, version, sizeof(version), &e) != STK_OK ||
        kube_list_all(k, KUBE_POD, "kube-system", STK_PLUGIN_SELECTOR, 1000, &sys, NULL, &e) !=
            STK_OK) {
        end(r, ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    struct net_plugin np;
    policy_detect_plugin(sys, &np);
    if (precond_check_isolate(t->cluster, version, &np, &e) != STK_OK) {
        end(r, ACTION_REFUSED, "%s", e.msg);
        goto out;
    }
    enum stk_err rc = k->ops->get(k->ctx, KUBE_POD, t->ns, t->pod, &pod, &e);
    if (rc != STK_OK) {
        end(r, rc == STK_ENOTFOUND ? ACTION_REFUSED : ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    char state[32];
    if (!policy_pod_active(pod, state, sizeof(state))) {
        end(r, ACTION_REFUSED, "pod %s is not active (%s)", t->pod, state);
        goto out;
    }
    char key[STK_ISOLATION_KEY_MAX];
    char name[STK_POLICY_NAME_MAX];
    policy_isolation_key(t->pod, key);
    policy_name(key, name);
    policy = policy_object(t->ns, key);
    if (policy == NULL) {
        end(r, ACTION_FAILED, "out of memory");
        goto out;
    }
    /* The policy first: when the labels land, the pod is cut off at once. */
    const char *how = "created";
    rc = k->ops->create(k->ctx, KUBE_NETWORK_POLICY, t->ns, policy, &applied, &e);
    if (rc == STK_ECONFLICT) {
        how = "reused";
        rc = k->ops->get(k->ctx, KUBE_NETWORK_POLICY, t->ns, name, &existing, &e);
        if (rc == STK_OK && !policy_object_intact(existing, key)) {
            /* Someone changed it: put the deny-all spec back, guarded by
             * the resourceVersion we read. */
            how = "restored";
            json_object_set(
                json_object_get(policy, "metadata"), "resourceVersion",
                json_object_get(json_object_get(existing, "metadata"), "resourceVersion"));
            rc = k->ops->replace(k->ctx, KUBE_NETWORK_POLICY, t->ns, name, policy, &applied, &e);
        }
    }
    if (rc != STK_OK) {
        end(r, ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    int was_labelled = policy_pod_labelled(pod, key);
    patch = policy_labels_patch(key, 0);
    rc = patch ? k->ops->patch(k->ctx, KUBE_POD, t->ns, t->pod, patch, &patched, &e)
               : stk_error_set(&e, STK_ENOMEM, "out of memory");
    if (rc != STK_OK) {
        /* Leave nothing half-done behind: a policy we just made goes. */
        if (strcmp(how, "created") == 0) {
            (void)k->ops->remove(k->ctx, KUBE_NETWORK_POLICY, t->ns, name, NULL, NULL);
        }
        end(r, ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    r->details = json_pack(
        "{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:O?}, s:o?, s:s, s:s?}", "kubernetes_version", version,
        "network_policy_plugin", "plugin", np.name, "version", np.version, "network_policy",
        "namespace", t->ns, "name", name, "spec", json_object_get(policy, "spec"), "labels",
        policy_labels(key), "policy", how, "pod_uid",
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid")));
    if (strcmp(how, "created") == 0 || !was_labelled) {
        end(r, ACTION_SUCCEEDED,
            "pod %s/%s isolated: NetworkPolicy %s denies all its ingress and egress", t->ns, t->pod,
            name);
    } else if (strcmp(how, "restored") == 0) {
        end(r, ACTION_SUCCEEDED,
            "pod %s/%s was already isolated; NetworkPolicy %s had been changed and was restored",
            t->ns, t->pod, name);
    } else {
        end(r, ACTION_SUCCEEDED, "pod %s/%s was already isolated; NetworkPolicy %s reused", t->ns,
            t->pod, name);
    }
out:
    json_decref(sys);
    json_decref(pod);
    json_decref(policy);
    json_decref(existing);
    json_decref(applied);
    json_decref(patch);
    json_decref(patched);
}

/* ------------------------------------------------------------------------ */
/* terminate */

/* Cuts the longest logs (keeping their ends: the latest lines) until the
 * evidence fits in STK_EVIDENCE_MAX bytes of JSON. */
static void evidence_fit(json_t *evidence)
{
    json_t *logs = json_object_get(evidence, "logs");
    while (dumped_size(evidence) > STK_EVIDENCE_MAX) {
        const char *longest = NULL;
        size_t best = 0;
        const char *name;
        json_t *v;
        json_object_foreach(logs, name, v)
        {
            if (json_string_length(v) > best) {
                best = json_string_length(v);
                longest = name;
            }
        }
        json_object_set_new(evidence, "logs_truncated", json_true());
        if (longest == NULL || best < 64) {
            json_object_del(evidence, "manifest");
            json_object_set_new(evidence, "manifest_omitted", json_true());
            if (dumped_size(evidence) > STK_EVIDENCE_MAX) {
                json_object_clear(logs);
            }
            return;
        }
        const char *s = json_string_value(json_object_get(logs, longest));
        size_t cut = best / 2;
        /* Start the kept half at a character boundary. */
        while (cut < best && ((unsigned char)s[cut] & 0xc0) == 0x80) {
            cut++;
        }
        json_object_set_new(logs, longest, json_stringn(s + cut, best - cut));
    }
}

static void capture_logs(struct kube *k, const struct action_target *t, const json_t *pod,
                         json_t *logs, json_t *errors, size_t *count)
{
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    const json_t *spec = json_object_get(pod, "spec");
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            const char *cname = json_string_value(json_object_get(c, "name"));
            if (cname == NULL) {
                continue;
            }
            char *text = NULL;
            size_t len = 0;
            struct stk_error e = {0};
            if (k->ops->log(k->ctx, t->ns, t->pod, cname, STK_EVIDENCE_LOG_LINES,
                            STK_EVIDENCE_LOG_MAX, &text, &len, &e) != STK_OK) {
                json_object_set_new(errors, cname, json_string(e.msg));
                continue;
            }
            size_t clen = 0;
            char *clean = actions_utf8_clean(text, len, &clen);
            free(text);
            if (clean == NULL) {
                json_object_set_new(errors, cname, json_string("out of memory"));
                continue;
            }
            json_object_set_new(logs, cname, json_stringn(clean, clen));
            free(clean);
            (*count)++;
        }
    }
}

static void terminate(struct kube *k, const struct action_target *t, struct action_result *r)
{
    struct stk_error e = {0};
    json_t *pod = NULL;
    enum stk_err rc = k->ops->get(k->ctx, KUBE_POD, t->ns, t->pod, &pod, &e);
    if (rc != STK_OK) {
        end(r, rc == STK_ENOTFOUND ? ACTION_REFUSED : ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    char state[32];
    if (!policy_pod_active(pod, state, sizeof(state))) {
        end(r, ACTION_REFUSED, "pod %s is not active (%s)", t->pod, state);
        goto out;
    }
    json_t *meta = json_object_get(pod, "metadata");
    json_object_del(meta, "managedFields"); /* bookkeeping of field owners, not evidence */
    json_t *logs = json_object();
    json_t *errors = json_object();
    size_t count = 0;
    capture_logs(k, t, pod, logs, errors, &count);
    r->evidence = json_pack("{s:O, s:o}", "manifest", pod, "logs", logs ? logs : json_object());
    if (r->evidence != NULL && json_object_size(errors) > 0) {
        json_object_set(r->evidence, "log_errors", errors);
    }
    if (r->evidence == NULL) {
        json_decref(errors);
        end(r, ACTION_FAILED, "out of memory capturing the evidence");
        goto out;
    }
    evidence_fit(r->evidence);
    /* The uid precondition: a pod re-created under the same name in the
     * meantime (a StatefulSet's) is not the one the evidence is from. */
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    rc = k->ops->remove(k->ctx, KUBE_POD, t->ns, t->pod, uid, &e);
    const char *note = NULL;
    if (rc == STK_ENOTFOUND) {
        note = "the pod was already gone when it was deleted";
    } else if (rc != STK_OK) {
        json_decref(errors);
        end(r, ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    /* An isolated pod leaves its policy behind otherwise. */
    char key[STK_ISOLATION_KEY_MAX];
    char name[STK_POLICY_NAME_MAX];
    policy_isolation_key(t->pod, key);
    policy_name(key, name);
    int policy_removed = 0;
    if (policy_pod_labelled(pod, key)) {
        policy_removed =
            k->ops->remove(k->ctx, KUBE_NETWORK_POLICY, t->ns, name, NULL, NULL) == STK_OK;
    }
    r->details =
        json_pack("{s:{s:s, s:s, s:s?, s:s?}, s:b, s:I, s:I, s:s?}", "pod", "namespace", t->ns,
                  "name", t->pod, "uid", uid, "node",
                  json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName")),
                  "network_policy_removed", policy_removed, "logs_captured", (json_int_t)count,
                  "log_errors", (json_int_t)json_object_size(errors), "note", note);
    json_decref(errors);
    end(r, ACTION_SUCCEEDED,
        "pod %s/%s deleted after capturing its manifest and %zu container log%s", t->ns, t->pod,
        count, count == 1 ? "" : "s");
out:
    json_decref(pod);
}

/* ------------------------------------------------------------------------ */
/* release */

static void release(struct kube *k, const struct action_target *t, struct action_result *r)
{
    struct stk_error e = {0};
    json_t *pod = NULL;
    json_t *patch = NULL;
    json_t *patched = NULL;
    char key[STK_ISOLATION_KEY_MAX];
    char name[STK_POLICY_NAME_MAX];
    policy_isolation_key(t->pod, key);
    policy_name(key, name);
    enum stk_err rc = k->ops->remove(k->ctx, KUBE_NETWORK_POLICY, t->ns, name, NULL, &e);
    if (rc != STK_OK && rc != STK_ENOTFOUND) {
        end(r, ACTION_FAILED, "%s", e.msg);
        goto out;
    }
    const char *policy_state = rc == STK_OK ? "deleted" : "absent";
    const char *labels_state = "absent";
    rc = k->ops->get(k->ctx, KUBE_POD, t->ns, t->pod, &pod, &e);
    if (rc == STK_ENOTFOUND) {
        labels_state = "pod gone";
    } else if (rc != STK_OK) {
        end(r, ACTION_FAILED, "%s", e.msg);
        goto out;
    } else {
        const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
        if (json_object_get(labels, STK_LABEL_ISOLATED) != NULL ||
            json_object_get(labels, STK_LABEL_ISOLATION) != NULL) {
            patch = policy_labels_patch(key, 1);
            rc = patch ? k->ops->patch(k->ctx, KUBE_POD, t->ns, t->pod, patch, &patched, &e)
                       : stk_error_set(&e, STK_ENOMEM, "out of memory");
            if (rc == STK_ENOTFOUND) {
                labels_state = "pod gone";
            } else if (rc != STK_OK) {
                end(r, ACTION_FAILED, "%s", e.msg);
                goto out;
            } else {
                labels_state = "removed";
            }
        }
    }
    int was_isolated = strcmp(policy_state, "deleted") == 0 || strcmp(labels_state, "removed") == 0;
    r->details = json_pack("{s:{s:s, s:s, s:s}, s:s, s:b}", "network_policy", "namespace", t->ns,
                           "name", name, "state", policy_state, "labels", labels_state,
                           "was_isolated", was_isolated);
    if (was_isolated) {
        end(r, ACTION_SUCCEEDED, "pod %s/%s released: NetworkPolicy %s %s, labels %s", t->ns,
            t->pod, name, policy_state, labels_state);
    } else if (strcmp(labels_state, "pod gone") == 0) {
        end(r, ACTION_SUCCEEDED,
            "pod %s/%s no longer exists and had no isolation policy; nothing "
            "to release",
            t->ns, t->pod);
    } else {
        end(r, ACTION_SUCCEEDED, "pod %s/%s was not isolated; nothing to release", t->ns, t->pod);
    }
    if (r->details != NULL && !was_isolated) {
        json_object_set_new(r->details, "note", json_string("the pod was not isolated"));
    }
out:
    json_decref(pod);
    json_decref(patch);
    json_decref(patched);
}

void actions_run(struct kube *k, enum action_kind kind, const struct action_target *t,
                 struct action_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!kube_name_is_label(t->ns) || !kube_name_is_subdomain(t->pod)) {
        end(out, ACTION_REFUSED, "not a valid pod: namespace \"%.63s\", name \"%.253s\"", t->ns,
            t->pod);
    } else if (kind == ACTION_ISOLATE) {
        isolate(k, t, out);
    } else if (kind == ACTION_TERMINATE) {
        terminate(k, t, out);
    } else {
        release(k, t, out);
    }
    if (out->details == NULL) {
        out->details = json_object();
    }
}

/* ------------------------------------------------------------------------ */
/* tamper */

enum stk_err actions_tamper_check(struct kube *k, const char *ns, const char *pod, const char *key,
                                  json_t **report, int *gone, struct stk_error *err)
{
    *report = NULL;
    *gone = 0;
    json_t *p = NULL;
    json_t *pol = NULL;
    json_t *want = NULL;
    json_t *done = NULL;
    json_t *patch = NULL;
    char what[256] = "";
    int restored = 1;
    char failure[STK_ERROR_MSG_MAX] = "";
    char name[STK_POLICY_NAME_MAX];
    policy_name(key, name);
    enum stk_err rc = k->ops->get(k->ctx, KUBE_POD, ns, pod, &p, err);
    if (rc == STK_ENOTFOUND) {
        *gone = 1;
        rc = STK_OK;
        goto out;
    }
    if (rc != STK_OK) {
        goto out;
    }
    rc = k->ops->get(k->ctx, KUBE_NETWORK_POLICY, ns, name, &pol, err);
    if (rc != STK_OK && rc != STK_ENOTFOUND) {
        goto out;
    }
    want = policy_object(ns, key);
    if (want == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    struct stk_error e = {0};
    if (rc == STK_ENOTFOUND) {
        snprintf(what, sizeof(what), "NetworkPolicy %s was deleted", name);
        if (k->ops->create(k->ctx, KUBE_NETWORK_POLICY, ns, want, &done, &e) != STK_OK) {
            restored = 0;
            snprintf(failure, sizeof(failure), "%s", e.msg);
        }
    } else if (!policy_object_intact(pol, key)) {
        snprintf(what, sizeof(what), "NetworkPolicy %s was changed", name);
        json_object_set(json_object_get(want, "metadata"), "resourceVersion",
                        json_object_get(json_object_get(pol, "metadata"), "resourceVersion"));
        if (k->ops->replace(k->ctx, KUBE_NETWORK_POLICY, ns, name, want, &done, &e) != STK_OK) {
            restored = 0;
            snprintf(failure, sizeof(failure), "%s", e.msg);
        }
    }
    rc = STK_OK;
    if (!policy_pod_labelled(p, key)) {
        size_t n = strlen(what);
        snprintf(what + n, sizeof(what) - n, "%sthe isolation labels were removed from the pod",
                 n ? "; " : "");
        patch = policy_labels_patch(key, 0);
        json_decref(done);
        done = NULL;
        if (patch == NULL || k->ops->patch(k->ctx, KUBE_POD, ns, pod, patch, &done, &e) != STK_OK) {
            restored = 0;
            snprintf(failure, sizeof(failure), "%s", patch ? e.msg : "out of memory");
        }
    }
    if (what[0] != '\0') {
        *report = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "tamper", "namespace", ns, "pod",
                            pod, "what", what, "restored", restored);
        if (*report != NULL && !restored) {
            json_object_set_new(*report, "error", json_string(failure));
        }
    }
out:
    json_decref(p);
    json_decref(pol);
    json_decref(want);
    json_decref(done);
    json_decref(patch);
    return rc;
}
