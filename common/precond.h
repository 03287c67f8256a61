/* The cluster preconditions of the response actions (SPEC section 6),
 * shared by the server (checked from what the agent reported) and the agent
 * (checked again against the live API), so both refuse in the same words. */
#ifndef STK_PRECOND_H
#define STK_PRECOND_H

#include <stddef.h>

#include "err.h"

/* The minimum Kubernetes version for isolate. */
#define PRECOND_K8S_MAJOR 1
#define PRECOND_K8S_MINOR 27

struct semver {
    int major;
    int minor;
    int patch;
};

/* Parses "v1.27.3", "1.26.0-gke.100", "1.29.4+k3s1", "v3.24.1", "1.13" into
 * numbers: an optional v, two or three dot-separated numbers, and anything
 * after a '-' or '+' ignored (vendor builds such as "-gke.12" are the
 * release they name). Returns 0, or -1 for anything else. */
int precond_version_parse(const char *s, struct semver *out);

/* <0, 0, >0 as a is older, equal, newer than b. */
int precond_version_cmp(const struct semver *a, const struct semver *b);

/* The network policy plugin of a cluster. */
struct net_plugin {
    char name[16];    /* "azure-npm", "calico", "cilium", "aws-node" or "none" */
    char version[64]; /* the image tag without a leading v; "" when unknown */
};

/* The minimum version of plugin `name` able to enforce the isolation
 * policy ("3.24.1" for calico), NULL for an unknown plugin or "none". */
const char *precond_plugin_minimum(const char *name);

/* A network policy plugin Stockade knows: how the agent finds it and the
 * version from which it enforces the isolation policy. */
struct precond_plugin {
    const char *name;      /* plugin, as reported */
    const char *k8s_app;   /* its pods' k8s-app label */
    const char *container; /* the container whose image tag is the version */
    const char *minimum;
};
/* In order of preference when several are found. */
extern const struct precond_plugin precond_plugins[];
#define PRECOND_N_PLUGINS 4

/* Checks the cluster preconditions of isolate: Kubernetes `k8s_version`
 * (gitVersion) at least 1.27 and a plugin at or above its minimum.
 * STK_OK, or STK_EFORBIDDEN with the reason for an analyst in `why`
 * ("isolate needs Kubernetes 1.27 or later; cluster prod-aks runs 1.26"). */
enum stk_err precond_check_isolate(const char *cluster, const char *k8s_version,
                                   const struct net_plugin *plugin, struct stk_error *why);

#endif
