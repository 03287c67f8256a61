/* Cluster preconditions of the response actions (precond.h). */
#include "precond.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* SPEC section 6: the versions from which each plugin enforces a policy
 * that denies everything. In order of preference when several are found:
 * a policy engine chained on a CNI (calico on aws-node) is the enforcer. */
const struct precond_plugin precond_plugins[PRECOND_N_PLUGINS] = {
    {"cilium", "cilium", "cilium-agent", "1.13.1"},
    {"calico", "calico-node", "calico-node", "3.24.1"},
    {"azure-npm", "azure-npm", "azure-npm", "1.5.34"},
    {"aws-node", "aws-node", "aws-node", "1.15.1"},
};

int precond_version_parse(const char *s, struct semver *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return -1;
    }
    if (*s == 'v' || *s == 'V') {
        s++;
    }
    int parts[3] = {0, 0, 0};
    int n = 0;
    while (n < 3) {
        if (!isdigit((unsigned char)*s)) {
            return -1;
        }
        long v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            if (++digits > 6) {
                return -1;
            }
            v = v * 10 + (*s - '0');
            s++;
        }
        parts[n++] = (int)v;
        if (*s != '.') {
            break;
        }
        s++;
    }
    if (n < 2 || (*s != '\0' && *s != '-' && *s != '+')) {
        return -1;
    }
    out->major = parts[0];
    out->minor = parts[1];
    out->patch = parts[2];
    return 0;
}

int precond_version_cmp(const struct semver *a, const struct semver *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->patch != b->patch) {
        return a->patch < b->patch ? -1 : 1;
    }
    return 0;
}

const char *precond_plugin_minimum(const char *name)
{
    for (size_t i = 0; i < PRECOND_N_PLUGINS; i++) {
        if (strcmp(precond_plugins[i].name, name) == 0) {
            return precond_plugins[i].minimum;
        }
    }
    return NULL;
}

enum stk_err precond_check_isolate(const char *cluster, const char *k8s_version,
                                   const struct net_plugin *plugin, struct stk_error *why)
{
    struct semver k;
    if (precond_version_parse(k8s_version, &k) != 0) {
        return stk_error_set(why, STK_EFORBIDDEN,
                             "isolate needs Kubernetes %d.%d or later; cluster %s reports a "
                             "version that cannot be read (\"%.60s\")",
                             PRECOND_K8S_MAJOR, PRECOND_K8S_MINOR, cluster,
                             k8s_version ? k8s_version : "");
    }
    if (k.major < PRECOND_K8S_MAJOR ||
        (k.major == PRECOND_K8S_MAJOR && k.minor < PRECOND_K8S_MINOR)) {
        return stk_error_set(why, STK_EFORBIDDEN,
                             "isolate needs Kubernetes %d.%d or later; cluster %s runs %d.%d",
                             PRECOND_K8S_MAJOR, PRECOND_K8S_MINOR, cluster, k.major, k.minor);
    }
    const char *min = precond_plugin_minimum(plugin->name);
    if (min == NULL) {
        return stk_error_set(why, STK_EFORBIDDEN,
                             "isolate needs a network policy enforcer (azure-npm 1.5.34, calico "
                             "3.24.1, cilium 1.13.1 or aws-node 1.15.1 or later); cluster %s has "
                             "none, so a NetworkPolicy would not be enforced",
                             cluster);
    }
    struct semver have;
    struct semver need;
    (void)precond_version_parse(min, &need);
    if (precond_version_parse(plugin->version, &have) != 0) {
        return stk_error_set(why, STK_EFORBIDDEN,
                             "isolate needs %s %s or later on cluster %s: the version of %s "
                             "cannot be read from its image tag",
                             plugin->name, min, cluster, plugin->name);
    }
    if (precond_version_cmp(&have, &need) < 0) {
        return stk_error_set(why, STK_EFORBIDDEN,
                             "isolate needs %s %s or later on cluster %s: %s %s is older than %s",
                             plugin->name, min, cluster, plugin->name, plugin->version, min);
    }
    return STK_OK;
}
