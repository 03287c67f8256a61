/* Isolation objects (isolation.h). */
#include "isolation.h"

#include <ctype.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <string.h>

static int label_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
            return 0;
        }
    }
    return 1;
}

void isolation_key(const char *pod, char out[ISOLATION_KEY_MAX])
{
    if (label_value_ok(pod)) {
        snprintf(out, ISOLATION_KEY_MAX, "%s", pod);
        return;
    }
    unsigned char d[20];
    mbedtls_sha1_ret((const unsigned char *)pod, strlen(pod), d);
    static const char hex[] = "0123456789abcdef";
    out[0] = 'h';
    out[1] = '-';
    for (int i = 0; i < 20; i++) {
        out[2 + 2 * i] = hex[d[i] >> 4];
        out[3 + 2 * i] = hex[d[i] & 15];
    }
    out[42] = '\0';
}

void isolation_policy_name(const char *key, char out[ISOLATION_POLICY_NAME_MAX])
{
    snprintf(out, ISOLATION_POLICY_NAME_MAX, ISOLATION_POLICY_PREFIX "%s", key);
}

json_t *isolation_selector(const char *key)
{
    return json_pack("{s:s, s:s}", ISOLATION_LABEL, "true", ISOLATION_KEY_LABEL, key);
}

json_t *isolation_policy(const char *ns, const char *key)
{
    char name[ISOLATION_POLICY_NAME_MAX];
    isolation_policy_name(key, name);
    json_t *labels = isolation_selector(key);
    if (labels == NULL) {
        return NULL;
    }
    /* No ingress or egress rules with both policy types: deny all
     * (kubernetes/website network-policy-default-deny-all.yaml, with the
     * selector narrowed to the isolated pod). */
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:{s:o}, s:[s, s]}}", "apiVersion",
                     "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name", name,
                     "namespace", ns, "labels", "app.kubernetes.io/managed-by", "stockade-agent",
                     "spec", "podSelector", "matchLabels", labels, "policyTypes", "Ingress",
                     "Egress");
}

json_t *isolation_label_patch(const char *key, int remove)
{
    if (remove) {
        return json_pack("{s:{s:{s:n, s:n}}}", "metadata", "labels", ISOLATION_LABEL,
                         ISOLATION_KEY_LABEL);
    }
    json_t *labels = isolation_selector(key);
    return labels ? json_pack("{s:{s:o}}", "metadata", "labels", labels) : NULL;
}
