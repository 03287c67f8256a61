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
    memcpy(out, "h-", 2);
    for (int i = 0; i < 20; i++) {
        snprintf(out + 2 + 2 * i, 3, "%02x", d[i]);
    }
}

void isolation_policy_name(const char *pod, char *out, size_t n)
{
    char key[ISOLATION_KEY_MAX];
    isolation_key(pod, key);
    snprintf(out, n, "%s%s", ISOLATION_POLICY_PREFIX, key);
}

json_t *isolation_selector(const char *pod)
{
    char key[ISOLATION_KEY_MAX];
    isolation_key(pod, key);
    return json_pack("{s:s, s:s}", ISOLATION_LABEL, "true", ISOLATION_KEY_LABEL, key);
}

json_t *isolation_policy(const char *ns, const char *pod)
{
    char name[96];
    isolation_policy_name(pod, name, sizeof(name));
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}}, s:{s:{s:o}, s:[s, s]}}",
                     "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata",
                     "name", name, "namespace", ns, "labels", "app.kubernetes.io/managed-by",
                     "stockade", "annotations", "stockade.io/pod", pod, "spec", "podSelector",
                     "matchLabels", isolation_selector(pod), "policyTypes", "Ingress", "Egress");
}

json_t *isolation_label_patch(const char *pod, int remove)
{
    if (remove) {
        return json_pack("{s:{s:{s:n, s:n}}}", "metadata", "labels", ISOLATION_LABEL,
                         ISOLATION_KEY_LABEL);
    }
    return json_pack("{s:{s:o}}", "metadata", "labels", isolation_selector(pod));
}
