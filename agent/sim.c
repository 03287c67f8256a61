/* The --simulate fake cluster (sim.h). */
#include "sim.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "policy.h"

/* ------------------------------------------------------------------------ */
/* The demo clusters (names as in tests/fixtures/demo) */

struct sim_pod {
    const char *ns;
    const char *name;
    const char *container;
    const char *image;
    const char *app;        /* label app (or k8s-app in kube-system) */
    const char *owner_hash; /* pod-template-hash: a Deployment re-creates it; NULL: none */
    int node;               /* index into the cluster's nodes */
    int restarts;
};

struct sim_svc {
    const char *ns;
    const char *name;
    const char *type;
    const char *cluster_ip;
    const char *external_ip; /* NULL: none */
    int port;
    const char *app; /* selector app= */
};

struct sim_cluster {
    const char *name;
    const char *version;
    const char *nodes[3];
    const struct sim_pod *pods;
    const struct sim_svc *svcs;
};

static const struct sim_pod prod_aks_pods[] = {
    {"storefront", "web-7f9c6d8b5-x2kqp", "web", "acmeprodacr.azurecr.io/storefront/web:2.14.1",
     "web", "7f9c6d8b5", 2, 0},
    {"storefront", "web-7f9c6d8b5-m8r4t", "web", "acmeprodacr.azurecr.io/storefront/web:2.14.1",
     "web", "7f9c6d8b5", 0, 0},
    {"storefront", "web-7f9c6d8b5-p6vzn", "web", "acmeprodacr.azurecr.io/storefront/web:2.14.1",
     "web", "7f9c6d8b5", 1, 0},
    {"ops", "ops-toolbox-6c9d7f5b4-tq8zn", "toolbox",
     "acmeprodacr.azurecr.io/platform/toolbox:2024.10", "ops-toolbox", "6c9d7f5b4", 1, 0},
    {"kube-system", "azure-npm-7xk2p", "azure-npm",
     "mcr.microsoft.com/containernetworking/azure-npm:v1.5.37", "azure-npm", NULL, 0, 0},
    {"kube-system", "azure-npm-q9w4d", "azure-npm",
     "mcr.microsoft.com/containernetworking/azure-npm:v1.5.37", "azure-npm", NULL, 1, 0},
    {"kube-system", "azure-npm-z5h8c", "azure-npm",
     "mcr.microsoft.com/containernetworking/azure-npm:v1.5.37", "azure-npm", NULL, 2, 0},
    {"kube-system", "coredns-6d4b75cb6d-8fxq2", "coredns",
     "mcr.microsoft.com/oss/kubernetes/coredns:v1.9.4", "kube-dns", "6d4b75cb6d", 0, 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct sim_svc prod_aks_svcs[] = {
    {"storefront", "web", "LoadBalancer", "10.0.142.17", "198.51.100.80", 443, "web"},
    {"kube-system", "kube-dns", "ClusterIP", "10.0.0.10", NULL, 53, "kube-dns"},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const struct sim_pod payments_eks_pods[] = {
    {"payments", "ledger-api-6d5f8b7c9-m4zqt", "ledger-api",
     "111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments/ledger-api:3.8.0", "ledger-api",
     "6d5f8b7c9", 0, 0},
    {"payments", "report-gen-7b8c6d5f4-w9xkr", "report-gen",
     "111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments/report-gen:0.9.2", "report-gen",
     "7b8c6d5f4", 1, 0},
    {"payments", "batch-worker-5c7d9f6b8-h2lpv", "worker",
     "111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments/batch-worker:1.12.4", "batch-worker",
     "5c7d9f6b8", 2, 1},
    {"cache", "redis-0", "redis", "docker.io/library/redis:7.2.4", "redis", NULL, 1, 0},
    {"kube-system", "aws-node-4kq9v", "aws-node",
     "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.3-eksbuild.1", "aws-node",
     NULL, 0, 0},
    {"kube-system", "aws-node-b7m2x", "aws-node",
     "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.3-eksbuild.1", "aws-node",
     NULL, 1, 0},
    {"kube-system", "aws-node-t3n8w", "aws-node",
     "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.3-eksbuild.1", "aws-node",
     NULL, 2, 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct sim_svc payments_eks_svcs[] = {
    {"payments", "ledger-api", "ClusterIP", "172.20.88.14", NULL, 8080, "ledger-api"},
    {"cache", "redis", "ClusterIP", "172.20.40.3", NULL, 6379, "redis"},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const struct sim_pod dev_gke_pods[] = {
    {"sandbox", "netshoot-debug", "netshoot", "nicolaka/netshoot:v0.13", "netshoot", NULL, 0, 0},
    {"web-preview", "preview-pr-1432-7d9f8c6b5-kx7vz", "web", "docker.io/library/nginx:1.27-alpine",
     "preview-pr-1432", "7d9f8c6b5", 1, 0},
    {"kube-system", "calico-node-2mzq7", "calico-node", "gke.gcr.io/calico/node:v3.26.3-gke.12",
     "calico-node", NULL, 0, 0},
    {"kube-system", "calico-node-j8d4r", "calico-node", "gke.gcr.io/calico/node:v3.26.3-gke.12",
     "calico-node", NULL, 1, 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct sim_svc dev_gke_svcs[] = {
    {"web-preview", "preview-pr-1432", "LoadBalancer", "10.28.4.19", "203.0.113.140", 80,
     "preview-pr-1432"},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const struct sim_pod generic_pods[] = {
    {"default", "web-5d8f7c9b6-k2v7p", "web", "docker.io/library/nginx:1.27", "web", "5d8f7c9b6", 0,
     0},
    {"default", "api-6b9c8d7f5-q4x8z", "api", "docker.io/library/python:3.12-slim", "api",
     "6b9c8d7f5", 1, 0},
    {"kube-system", "calico-node-x4k2m", "calico-node", "docker.io/calico/node:v3.26.1",
     "calico-node", NULL, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct sim_svc generic_svcs[] = {
    {"default", "web", "LoadBalancer", "10.96.14.2", "203.0.113.10", 80, "web"},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

static const struct sim_cluster clusters[] = {
    {"prod-aks",
     "v1.29.7",
     {"aks-nodepool1-31718369-vmss000000", "aks-nodepool1-31718369-vmss000001",
      "aks-nodepool1-31718369-vmss000002"},
     prod_aks_pods,
     prod_aks_svcs},
    {"payments-eks",
     "v1.30.4-eks-a737599",
     {"ip-10-0-12-34.eu-west-1.compute.internal", "ip-10-0-47-81.eu-west-1.compute.internal",
      "ip-10-0-90-12.eu-west-1.compute.internal"},
     payments_eks_pods,
     payments_eks_svcs},
    {"dev-gke",
     "v1.30.5-gke.1014001",
     {"gke-dev-gke-default-pool-1a2b3c4d-x7k9", "gke-dev-gke-default-pool-1a2b3c4d-m3p8",
      "gke-dev-gke-default-pool-1a2b3c4d-q2w5"},
     dev_gke_pods,
     dev_gke_svcs},
};

static const struct sim_cluster generic_cluster = {
    "demo", "v1.29.4", {"node-1", "node-2", "node-3"}, generic_pods, generic_svcs};

/* ------------------------------------------------------------------------ */
/* State */

struct sim {
    pthread_mutex_t mu;
    char version[64];
    json_t *objs[3]; /* per enum kube_kind: an array of objects */
    unsigned long long rv;
    const struct sim_cluster *cluster;
};

static void timestamp(char out[32], long long ago_s)
{
    time_t t = time(NULL) - (time_t)ago_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void new_uid(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void set_rv(struct sim *s, json_t *obj)
{
    char rv[24];
    snprintf(rv, sizeof(rv), "%llu", ++s->rv);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
}

static json_t *make_pod(struct sim *s, const struct sim_pod *p, const char *name, int idx)
{
    char uid[37];
    char created[32];
    char ip[24];
    new_uid(uid);
    timestamp(created, 86400L * 3 + idx * 600L);
    snprintf(ip, sizeof(ip), "10.244.%d.%d", p->node, 10 + idx);
    int system = strcmp(p->ns, "kube-system") == 0;
    json_t *labels = json_pack("{s:s}", system ? "k8s-app" : "app", p->app);
    if (labels != NULL && p->owner_hash != NULL) {
        json_object_set_new(labels, "pod-template-hash", json_string(p->owner_hash));
    }
    json_t *pod = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:o}, s:{s:s, s:s, s:[{s:s, s:s}]}, "
        "s:{s:s, s:s, s:s, s:[{s:s, s:s, s:b, s:i, s:{s:{s:s}}}]}}",
        "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", p->ns, "uid", uid,
        "creationTimestamp", created, "labels", labels ? labels : json_object(), "spec", "nodeName",
        s->cluster->nodes[p->node], "serviceAccountName", "default", "containers", "name",
        p->container, "image", p->image, "status", "phase", "Running", "podIP", ip, "startTime",
        created, "containerStatuses", "name", p->container, "image", p->image, "ready", 1,
        "restartCount", p->restarts, "state", "running", "startedAt", created);
    if (pod != NULL) {
        set_rv(s, pod);
    }
    return pod;
}

static json_t *make_service(struct sim *s, const struct sim_svc *v)
{
    char uid[37];
    new_uid(uid);
    json_t *svc =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:[{s:i, s:s}], s:{s:s}}, s:{}}",
                  "apiVersion", "v1", "kind", "Service", "metadata", "name", v->name, "namespace",
                  v->ns, "uid", uid, "spec", "type", v->type, "clusterIP", v->cluster_ip, "ports",
                  "port", v->port, "protocol", "TCP", "selector", "app", v->app, "status");
    if (svc != NULL && v->external_ip != NULL) {
        json_object_set_new(json_object_get(svc, "status"), "loadBalancer",
                            json_pack("{s:[{s:s}]}", "ingress", "ip", v->external_ip));
    }
    if (svc != NULL) {
        set_rv(s, svc);
    }
    return svc;
}

/* ------------------------------------------------------------------------ */
/* Merge patch and selectors */

int sim_merge_patch(json_t *target, const json_t *patch)
{
    if (!json_is_object(target) || !json_is_object(patch)) {
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)patch, key, val)
    {
        if (json_is_null(val)) {
            json_object_del(target, key);
        } else if (json_is_object(val)) {
            json_t *child = json_object_get(target, key);
            if (!json_is_object(child)) {
                child = json_object();
                if (child == NULL || json_object_set_new(target, key, child) != 0) {
                    return -1;
                }
            }
            if (sim_merge_patch(child, val) != 0) {
                return -1;
            }
        } else if (json_object_set_new(target, key, json_deep_copy(val)) != 0) {
            return -1;
        }
    }
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && **s == ' ') {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && (*s)[*n - 1] == ' ') {
        (*n)--;
    }
}

/* 1 if `v` (length n) is in the parenthesised comma list `set`. */
static int in_set(const char *set, size_t sn, const char *v)
{
    const char *p = set;
    const char *end = set + sn;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        const char *item = p;
        size_t il = (size_t)(e - p);
        trim(&item, &il);
        if (v != NULL && strlen(v) == il && strncmp(item, v, il) == 0) {
            return 1;
        }
        p = e + 1;
    }
    return 0;
}

/* One requirement of a selector: 1 match, 0 no match, -1 malformed. */
static int requirement(const char *r, size_t n, const json_t *labels)
{
    char key[320];
    trim(&r, &n);
    if (n == 0) {
        return -1;
    }
    int negate = r[0] == '!';
    if (negate) {
        r++;
        n--;
        trim(&r, &n);
    }
    size_t kl = strcspn(r, " =!");
    if (kl > n) {
        kl = n;
    }
    if (kl == 0 || kl >= sizeof(key)) {
        return -1;
    }
    memcpy(key, r, kl);
    key[kl] = '\0';
    const char *have = json_string_value(json_object_get(labels, key));
    const char *rest = r + kl;
    size_t rl = n - kl;
    trim(&rest, &rl);
    if (rl == 0) {
        return negate ? have == NULL : have != NULL;
    }
    if (negate) {
        return -1;
    }
    int ne = 0;
    if (rl >= 2 && strncmp(rest, "!=", 2) == 0) {
        ne = 1;
        rest += 2;
        rl -= 2;
    } else if (rl >= 2 && strncmp(rest, "==", 2) == 0) {
        rest += 2;
        rl -= 2;
    } else if (rest[0] == '=') {
        rest++;
        rl--;
    } else {
        int notin = rl > 6 && strncmp(rest, "notin ", 6) == 0;
        int in = rl > 3 && strncmp(rest, "in ", 3) == 0;
        if (!in && !notin) {
            return -1;
        }
        rest += notin ? 6 : 3;
        rl -= notin ? 6 : 3;
        trim(&rest, &rl);
        if (rl < 2 || rest[0] != '(' || rest[rl - 1] != ')') {
            return -1;
        }
        int found = in_set(rest + 1, rl - 2, have);
        return notin ? !found : found;
    }
    trim(&rest, &rl);
    int eq = have != NULL && strlen(have) == rl && strncmp(have, rest, rl) == 0;
    return ne ? !eq : eq;
}

int sim_selector_matches(const char *selector, const json_t *labels)
{
    const char *p = selector;
    int result = 1;
    while (*p) {
        /* Commas inside "in (a,b)" do not end a requirement. */
        size_t n = 0;
        int depth = 0;
        while (p[n] && (p[n] != ',' || depth > 0)) {
            depth += p[n] == '(' ? 1 : (p[n] == ')' ? -1 : 0);
            n++;
        }
        int m = requirement(p, n, labels);
        if (m < 0) {
            return -1;
        }
        result &= m;
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return result;
}

/* ------------------------------------------------------------------------ */
/* The operations */

static const char *resource_name(enum kube_kind kind)
{
    return kind == KUBE_NETWORK_POLICY ? "networkpolicies.networking.k8s.io"
                                       : kube_kind_plural(kind);
}

static json_t *find(struct sim *s, enum kube_kind kind, const char *ns, const char *name,
                    size_t *index)
{
    size_t i;
    json_t *o;
    json_array_foreach(s->objs[kind], i, o)
    {
        const json_t *meta = json_object_get(o, "metadata");
        const char *n = json_string_value(json_object_get(meta, "name"));
        const char *x = json_string_value(json_object_get(meta, "namespace"));
        if (n && x && strcmp(n, name) == 0 && strcmp(x, ns) == 0) {
            if (index != NULL) {
                *index = i;
            }
            return o;
        }
    }
    return NULL;
}

static enum stk_err not_found(enum kube_kind kind, const char *name, struct stk_error *err)
{
    return stk_error_set(err, STK_ENOTFOUND, "%s \"%s\" not found (404 NotFound)",
                         resource_name(kind), name);
}

static enum stk_err sim_version(void *ctx, char *out, size_t n, struct stk_error *err)
{
    struct sim *s = ctx;
    (void)err;
    snprintf(out, n, "%s", s->version);
    return STK_OK;
}

static enum stk_err sim_list(void *ctx, enum kube_kind kind, const char *ns, const char *selector,
                             size_t limit, const char *cont, json_t **items, char **next,
                             struct stk_error *err)
{
    struct sim *s = ctx;
    (void)limit;
    (void)cont;
    *items = json_array();
    *next = strdup("");
    enum stk_err rc = STK_OK;
    if (*items == NULL || *next == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    size_t i;
    json_t *o;
    json_array_foreach(s->objs[kind], i, o)
    {
        const json_t *meta = json_object_get(o, "metadata");
        const char *x = json_string_value(json_object_get(meta, "namespace"));
        if (ns != NULL && (x == NULL || strcmp(x, ns) != 0)) {
            continue;
        }
        if (selector != NULL) {
            int m = sim_selector_matches(selector, json_object_get(meta, "labels"));
            if (m < 0) {
                rc =
                    stk_error_set(err, STK_EINVAL,
                                  "unable to parse requirement: %.200s (400 BadRequest)", selector);
                break;
            }
            if (m == 0) {
                continue;
            }
        }
        json_array_append_new(*items, json_deep_copy(o));
    }
    pthread_mutex_unlock(&s->mu);
out:
    if (rc != STK_OK) {
        json_decref(*items);
        free(*next);
        *items = NULL;
        *next = NULL;
    }
    return rc;
}

static enum stk_err sim_get(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                            json_t **out, struct stk_error *err)
{
    struct sim *s = ctx;
    pthread_mutex_lock(&s->mu);
    json_t *o = find(s, kind, ns, name, NULL);
    *out = o ? json_deep_copy(o) : NULL;
    pthread_mutex_unlock(&s->mu);
    return *out ? STK_OK : not_found(kind, name, err);
}

static enum stk_err sim_create(void *ctx, enum kube_kind kind, const char *ns, json_t *obj,
                               json_t **out, struct stk_error *err)
{
    struct sim *s = ctx;
    *out = NULL;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (name == NULL || !kube_name_is_subdomain(name)) {
        return stk_error_set(err, STK_EINVAL, "%s is invalid: metadata.name (422 Invalid)",
                             resource_name(kind));
    }
    enum stk_err rc = STK_OK;
    pthread_mutex_lock(&s->mu);
    if (find(s, kind, ns, name, NULL) != NULL) {
        rc = stk_error_set(err, STK_ECONFLICT, "%s \"%s\" already exists (409 AlreadyExists)",
                           resource_name(kind), name);
        goto out;
    }
    json_t *copy = json_deep_copy(obj);
    char uid[37];
    char created[32];
    new_uid(uid);
    timestamp(created, 0);
    json_t *meta = json_object_get(copy, "metadata");
    if (copy == NULL || meta == NULL) {
        json_decref(copy);
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(meta, "namespace", json_string(ns));
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(created));
    set_rv(s, copy);
    *out = json_deep_copy(copy);
    json_array_append_new(s->objs[kind], copy);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static enum stk_err sim_replace(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                                json_t *obj, json_t **out, struct stk_error *err)
{
    struct sim *s = ctx;
    *out = NULL;
    enum stk_err rc = STK_OK;
    pthread_mutex_lock(&s->mu);
    size_t idx = 0;
    json_t *old = find(s, kind, ns, name, &idx);
    if (old == NULL) {
        rc = not_found(kind, name, err);
        goto out;
    }
    json_t *copy = json_deep_copy(obj);
    json_t *meta = json_object_get(copy, "metadata");
    if (meta == NULL) {
        json_decref(copy);
        rc = stk_error_set(err, STK_EINVAL, "%s \"%s\" is invalid: no metadata (422 Invalid)",
                           resource_name(kind), name);
        goto out;
    }
    const json_t *old_meta = json_object_get(old, "metadata");
    json_object_set(meta, "uid", json_object_get(old_meta, "uid"));
    json_object_set(meta, "creationTimestamp", json_object_get(old_meta, "creationTimestamp"));
    json_object_set_new(meta, "name", json_string(name));
    json_object_set_new(meta, "namespace", json_string(ns));
    set_rv(s, copy);
    *out = json_deep_copy(copy);
    json_array_set_new(s->objs[kind], idx, copy);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static enum stk_err sim_patch(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                              json_t *merge_patch, json_t **out, struct stk_error *err)
{
    struct sim *s = ctx;
    *out = NULL;
    enum stk_err rc = STK_OK;
    pthread_mutex_lock(&s->mu);
    json_t *o = find(s, kind, ns, name, NULL);
    if (o == NULL) {
        rc = not_found(kind, name, err);
    } else if (sim_merge_patch(o, merge_patch) != 0) {
        rc = stk_error_set(err, STK_EINVAL, "the patch is not a JSON object (400 BadRequest)");
    } else {
        set_rv(s, o);
        *out = json_deep_copy(o);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* A pod its Deployment owns comes back under a new name, as in a real
 * cluster, without the isolation labels. */
static void recreate(struct sim *s, const json_t *gone)
{
    const json_t *meta = json_object_get(gone, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const json_t *labels = json_object_get(meta, "labels");
    if (json_object_get(labels, "pod-template-hash") == NULL || name == NULL) {
        return;
    }
    const char *dash = strrchr(name, '-');
    if (dash == NULL) {
        return;
    }
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char suffix[6];
    for (int i = 0; i < 5; i++) {
        suffix[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    }
    suffix[5] = '\0';
    char fresh[254];
    snprintf(fresh, sizeof(fresh), "%.*s-%s", (int)(dash - name), name, suffix);
    json_t *pod = json_deep_copy(gone);
    json_t *m = json_object_get(pod, "metadata");
    if (pod == NULL || m == NULL) {
        json_decref(pod);
        return;
    }
    char uid[37];
    char created[32];
    new_uid(uid);
    timestamp(created, 0);
    json_object_set_new(m, "name", json_string(fresh));
    json_object_set_new(m, "uid", json_string(uid));
    json_object_set_new(m, "creationTimestamp", json_string(created));
    json_t *l = json_object_get(m, "labels");
    json_object_del(l, STK_LABEL_ISOLATED);
    json_object_del(l, STK_LABEL_ISOLATION);
    json_t *st = json_object_get(
        json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0),
        "restartCount");
    if (st != NULL) {
        json_integer_set(st, 0);
    }
    set_rv(s, pod);
    json_array_append_new(s->objs[KUBE_POD], pod);
}

static enum stk_err sim_remove(void *ctx, enum kube_kind kind, const char *ns, const char *name,
                               const char *uid, struct stk_error *err)
{
    struct sim *s = ctx;
    enum stk_err rc = STK_OK;
    pthread_mutex_lock(&s->mu);
    size_t idx = 0;
    json_t *o = find(s, kind, ns, name, &idx);
    if (o == NULL) {
        rc = not_found(kind, name, err);
        goto out;
    }
    const char *have = json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));
    if (uid != NULL && (have == NULL || strcmp(uid, have) != 0)) {
        rc = stk_error_set(err, STK_ECONFLICT,
                           "Precondition failed: UID in precondition: %s, UID in object meta: %s "
                           "(409 Conflict)",
                           uid, have ? have : "");
        goto out;
    }
    json_t *gone = json_incref(o);
    json_array_remove(s->objs[kind], idx);
    if (kind == KUBE_POD) {
        recreate(s, gone);
    }
    json_decref(gone);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* A log made up for the container: requests, and for the pod the demo's
 * story happens in, what the attacker's shell left behind. */
static enum stk_err sim_log(void *ctx, const char *ns, const char *pod, const char *container,
                            unsigned tail_lines, size_t max_bytes, char **out, size_t *len,
                            struct stk_error *err)
{
    struct sim *s = ctx;
    *out = NULL;
    *len = 0;
    json_t *o = NULL;
    enum stk_err rc = sim_get(s, KUBE_POD, ns, pod, &o, err);
    if (rc != STK_OK) {
        return rc;
    }
    int has = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(o, "spec"), "containers"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        has |= n != NULL && strcmp(n, container) == 0;
    }
    json_decref(o);
    if (!has) {
        return stk_error_set(err, STK_EINVAL,
                             "container %s is not valid for pod %s (400 BadRequest)", container,
                             pod);
    }
    struct buf b;
    buf_init(&b, 1u << 20);
    unsigned total = 240;
    unsigned first = total > tail_lines ? total - tail_lines : 0;
    for (unsigned n = first; n < total && rc == STK_OK; n++) {
        char ts[32];
        timestamp(ts, (long long)(total - n) * 30);
        if (n == total - 3 && strncmp(pod, "web-7f9c6d8b5-x2kqp", 19) == 0) {
            rc = buf_printf(&b, "%s sh: cat /etc/kubernetes/azure.json\n", ts);
        } else if (n == total - 2 && strncmp(pod, "web-7f9c6d8b5-x2kqp", 19) == 0) {
            rc = buf_printf(&b,
                            "%s sh: curl -s -H Metadata:true http://169.254.169.254/metadata/"
                            "identity/oauth2/token\n",
                            ts);
        } else {
            rc = buf_printf(&b, "%s %s: 10.244.0.%u \"GET /healthz HTTP/1.1\" 200 2 (%.40s)\n", ts,
                            container, 1 + n % 200, s->cluster->name);
        }
    }
    if (rc != STK_OK) {
        buf_release(&b);
        return stk_error_set(err, rc, "out of memory");
    }
    size_t keep = b.len > max_bytes ? max_bytes : b.len;
    *out = malloc(keep + 1);
    if (*out == NULL) {
        buf_release(&b);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    memcpy(*out, b.data + (b.len - keep), keep);
    (*out)[keep] = '\0';
    *len = keep;
    buf_release(&b);
    return STK_OK;
}

static void sim_free(void *ctx)
{
    struct sim *s = ctx;
    if (s == NULL) {
        return;
    }
    for (int k = 0; k < 3; k++) {
        json_decref(s->objs[k]);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct kube_ops sim_ops = {
    .version = sim_version,
    .list = sim_list,
    .get = sim_get,
    .create = sim_create,
    .replace = sim_replace,
    .patch = sim_patch,
    .remove = sim_remove,
    .log = sim_log,
    .free = sim_free,
};

/* Applies --sim-network-policy PLUGIN[:VERSION] to the kube-system pods. */
static enum stk_err override_plugin(struct sim *s, const char *spec, struct stk_error *err)
{
    char name[32];
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nl == 0 || nl >= sizeof(name)) {
        return stk_error_set(err, STK_EINVAL, "--sim-network-policy %s: bad plugin", spec);
    }
    memcpy(name, spec, nl);
    name[nl] = '\0';
    static const char *const apps[][2] = {{"azure-npm", "azure-npm"},
                                          {"calico", "calico-node"},
                                          {"cilium", "cilium"},
                                          {"aws-node", "aws-node"},
                                          {"none", NULL}};
    const char *app = NULL;
    int known = 0;
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        if (strcmp(apps[i][0], name) == 0) {
            app = apps[i][1];
            known = 1;
        }
    }
    if (!known || (app != NULL && colon == NULL)) {
        return stk_error_set(err, STK_EINVAL,
                             "--sim-network-policy %s: want none, or azure-npm, calico, cilium "
                             "or aws-node with :VERSION",
                             spec);
    }
    /* Drop every plugin pod, then add one of the chosen plugin. */
    json_t *pods = s->objs[KUBE_POD];
    for (size_t i = json_array_size(pods); i > 0; i--) {
        const json_t *labels =
            json_object_get(json_object_get(json_array_get(pods, i - 1), "metadata"), "labels");
        const char *a = json_string_value(json_object_get(labels, "k8s-app"));
        if (a != NULL && strcmp(a, "kube-dns") != 0) {
            json_array_remove(pods, i - 1);
        }
    }
    if (app == NULL) {
        return STK_OK;
    }
    char image[160];
    snprintf(image, sizeof(image), "registry.example/%s:v%.60s", name, colon + 1);
    const char *container = strcmp(name, "cilium") == 0   ? "cilium-agent"
                            : strcmp(name, "calico") == 0 ? "calico-node"
                                                          : name;
    struct sim_pod p = {"kube-system", NULL, container, image, app, NULL, 0, 0};
    char pname[64];
    snprintf(pname, sizeof(pname), "%s-sim01", app);
    json_t *pod = make_pod(s, &p, pname, 99);
    if (pod == NULL || json_array_append_new(pods, pod) != 0) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    return STK_OK;
}

enum stk_err sim_new(const struct sim_opts *opts, struct kube *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct sim *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    s->cluster = &generic_cluster;
    for (size_t i = 0; i < sizeof(clusters) / sizeof(clusters[0]); i++) {
        if (opts->cluster != NULL && strcmp(clusters[i].name, opts->cluster) == 0) {
            s->cluster = &clusters[i];
        }
    }
    enum stk_err rc = STK_OK;
    struct semver v;
    const char *version = opts->k8s_version ? opts->k8s_version : s->cluster->version;
    if (precond_version_parse(version, &v) != 0 || strlen(version) >= sizeof(s->version)) {
        rc = stk_error_set(err, STK_EINVAL, "--sim-k8s-version %s: not a version", version);
        goto out;
    }
    snprintf(s->version, sizeof(s->version), "%s", version);
    for (int k = 0; k < 3; k++) {
        s->objs[k] = json_array();
        if (s->objs[k] == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
            goto out;
        }
    }
    int idx = 0;
    for (const struct sim_pod *p = s->cluster->pods; p->ns != NULL; p++, idx++) {
        if (json_array_append_new(s->objs[KUBE_POD], make_pod(s, p, p->name, idx)) != 0) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (const struct sim_svc *v2 = s->cluster->svcs; v2->ns != NULL; v2++) {
        if (json_array_append_new(s->objs[KUBE_SERVICE], make_service(s, v2)) != 0) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (opts->plugin != NULL) {
        rc = override_plugin(s, opts->plugin, err);
    }
out:
    if (rc != STK_OK) {
        sim_free(s);
        return rc;
    }
    out->ops = &sim_ops;
    out->ctx = s;
    out->name = "simulate";
    return STK_OK;
}
