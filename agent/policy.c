/* Action rules that need no cluster (policy.h). */
#include "policy.h"

#include "isolation.h"
#include "precond.h"

#include <ctype.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void policy_image_version(const char *image, char *out, size_t n)
{
    out[0] = '\0';
    if (image == NULL) {
        return;
    }
    size_t len = strcspn(image, "@"); /* a digest pins bytes, the tag names the version */
    const char *slash = NULL;
    for (size_t i = 0; i < len; i++) {
        if (image[i] == '/') {
            slash = image + i;
        }
    }
    const char *colon = NULL;
    for (const char *p = slash ? slash : image; p < image + len; p++) {
        if (*p == ':') {
            colon = p;
        }
    }
    if (colon == NULL) {
        return;
    }
    const char *tag = colon + 1;
    size_t tl = (size_t)(image + len - tag);
    if (tl > 0 && (tag[0] == 'v' || tag[0] == 'V')) {
        tag++;
        tl--;
    }
    if (tl == 0 || tl >= n) {
        return;
    }
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = (unsigned char)tag[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != '+') {
            return;
        }
    }
    memcpy(out, tag, tl);
    out[tl] = '\0';
}

/* The image of the plugin's own container in `pod` (the first container
 * when none has the expected name). */
static const char *plugin_image(const json_t *pod, const char *container)
{
    const json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
    size_t i;
    const json_t *c;
    json_array_foreach(cs, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (name != NULL && strcmp(name, container) == 0) {
            return json_string_value(json_object_get(c, "image"));
        }
    }
    return json_string_value(json_object_get(json_array_get(cs, 0), "image"));
}

void policy_detect_plugin(const json_t *pods, struct net_plugin *out)
{
    snprintf(out->name, sizeof(out->name), "none");
    out->version[0] = '\0';
    for (size_t p = 0; p < PRECOND_N_PLUGINS; p++) {
        int found = 0;
        int known = 0;
        struct semver lowest = {0};
        char lowest_text[64] = "";
        size_t i;
        const json_t *pod;
        json_array_foreach(pods, i, pod)
        {
            const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
            const char *app = json_string_value(json_object_get(labels, "k8s-app"));
            if (app == NULL || strcmp(app, precond_plugins[p].k8s_app) != 0) {
                continue;
            }
            found = 1;
            char tag[64];
            struct semver v;
            policy_image_version(plugin_image(pod, precond_plugins[p].container), tag, sizeof(tag));
            if (precond_version_parse(tag, &v) != 0) {
                continue;
            }
            /* During a rolling upgrade the oldest pod is what may not enforce. */
            if (!known || precond_version_cmp(&v, &lowest) < 0) {
                lowest = v;
                snprintf(lowest_text, sizeof(lowest_text), "%s", tag);
                known = 1;
            }
        }
        if (found) {
            snprintf(out->name, sizeof(out->name), "%s", precond_plugins[p].name);
            snprintf(out->version, sizeof(out->version), "%s", lowest_text);
            return;
        }
    }
}

int policy_pod_active(const json_t *pod, char *state, size_t n)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    if (json_is_string(json_object_get(meta, "deletionTimestamp"))) {
        snprintf(state, n, "Terminating");
        return 0;
    }
    snprintf(state, n, "%s", phase && phase[0] ? phase : "Unknown");
    return phase != NULL && (strcmp(phase, "Running") == 0 || strcmp(phase, "Pending") == 0);
}

void policy_isolation_key(const char *name, char out[STK_ISOLATION_KEY_MAX])
{
    isolation_key(name, out);
}

void policy_name(const char *key, char out[STK_POLICY_NAME_MAX])
{
    isolation_policy_name(key, out);
}

json_t *policy_labels(const char *key)
{
    return isolation_selector(key);
}

json_t *policy_labels_patch(const char *key, int remove)
{
    return isolation_label_patch(key, remove);
}

int policy_pod_labelled(const json_t *pod, const char *key)
{
    const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    const char *a = json_string_value(json_object_get(labels, STK_LABEL_ISOLATED));
    const char *b = json_string_value(json_object_get(labels, STK_LABEL_ISOLATION));
    return a != NULL && b != NULL && strcmp(a, "true") == 0 && strcmp(b, key) == 0;
}

json_t *policy_object(const char *ns, const char *key)
{
    return isolation_policy(ns, key);
}

static int empty_rules(const json_t *rules)
{
    return rules == NULL || json_is_null(rules) ||
           (json_is_array(rules) && json_array_size(rules) == 0);
}

int policy_object_intact(const json_t *obj, const char *key)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *sel = json_object_get(spec, "podSelector");
    json_t *want = policy_labels(key);
    int ok = want != NULL && json_equal(json_object_get(sel, "matchLabels"), want) &&
             empty_rules(json_object_get(sel, "matchExpressions")) &&
             empty_rules(json_object_get(spec, "ingress")) &&
             empty_rules(json_object_get(spec, "egress"));
    json_decref(want);
    if (!ok) {
        return 0;
    }
    int ingress = 0;
    int egress = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(spec, "policyTypes"), i, t)
    {
        const char *s = json_string_value(t);
        ingress |= s != NULL && strcmp(s, "Ingress") == 0;
        egress |= s != NULL && strcmp(s, "Egress") == 0;
    }
    return ingress && egress;
}
