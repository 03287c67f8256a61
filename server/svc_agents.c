/* Agent frames to domain changes (svc_agents.h): facts become the
 * cluster's reported state (cluster_facts, cluster_pods, which the action
 * preconditions read) and the properties of the cluster and pod entities
 * (which the entity pane shows); results, acks and tamper reports go to
 * svc_actions. */
#include "svc_agents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "app.h"
#include "log.h"
#include "store_clusters.h"
#include "store_entities.h"
#include "svc_actions.h"

#define FACTS_MAX_PODS 20000
#define FACTS_MAX_SERVICES 5000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* `s` when it is a string of at most `max` bytes, else "". */
static const char *str_or_empty(json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    return s != NULL && strlen(s) <= max ? s : "";
}

static enum stk_err check_pod(json_t *p, size_t i, struct stk_error *err)
{
    const char *ns = json_string_value(json_object_get(p, "namespace"));
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *phase = json_string_value(json_object_get(p, "phase"));
    json_t *labels = json_object_get(p, "labels");
    if (!json_is_object(p) || ns == NULL || name == NULL || ns[0] == '\0' || name[0] == '\0' ||
        strlen(ns) > 253 || strlen(name) > 253 || (phase != NULL && strlen(phase) > 31) ||
        (labels != NULL && !json_is_object(labels))) {
        return stk_error_set(err, STK_EINVAL, "facts.pods[%zu]: namespace and name required", i);
    }
    return STK_OK;
}

static enum stk_err check_facts(json_t *facts, struct stk_error *err)
{
    if (!json_is_object(facts)) {
        return stk_error_set(err, STK_EINVAL, "facts: an object is required");
    }
    json_t *pods = json_object_get(facts, "pods");
    json_t *svcs = json_object_get(facts, "services");
    if ((pods != NULL && !json_is_array(pods)) || (svcs != NULL && !json_is_array(svcs))) {
        return stk_error_set(err, STK_EINVAL, "facts: pods and services must be arrays");
    }
    if (json_array_size(pods) > FACTS_MAX_PODS || json_array_size(svcs) > FACTS_MAX_SERVICES) {
        return stk_error_set(err, STK_EINVAL, "facts: over %d pods or %d services", FACTS_MAX_PODS,
                             FACTS_MAX_SERVICES);
    }
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        enum stk_err rc = check_pod(p, i, err);
        if (rc != STK_OK) {
            return rc;
        }
    }
    return STK_OK;
}

/* The cluster entity's properties, created when the cluster is new. */
static enum stk_err cluster_entity(struct db *db, const struct cluster_facts *f, long long now,
                                   struct stk_error *err)
{
    char key[96];
    snprintf(key, sizeof(key), "cluster:%s", f->cluster);
    json_t *props = json_pack("{s:s, s:s, s:s, s:s, s:{s:b, s:I, s:s, s:s}}", "kubernetes_version",
                              f->kubernetes_version, "cloud", f->cloud, "network_policy",
                              f->np_plugin, "network_policy_version", f->np_version, "agent",
                              "connected", f->connected, "last_seen", (json_int_t)f->last_seen_at,
                              "version", f->agent_version, "address", f->address);
    char *patch = props ? json_dumps(props, JSON_COMPACT) : NULL;
    json_decref(props);
    if (patch == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    int changed = 0;
    enum stk_err rc = store_entities_merge_props(db, key, patch, &changed, err);
    if (rc == STK_OK && !changed) {
        long long id = 0;
        rc = store_entities_insert(db, ENT_CLUSTER, key, f->cluster, f->cluster, patch, now, &id,
                                   err);
    }
    free(patch);
    return rc;
}

/* One reported pod: its row for the preconditions, and the properties of
 * its entity when Stockade already knows it (alerts or inventory named it;
 * a quiet cluster's thousands of pods do not become entities). */
static enum stk_err put_pod(struct db *db, const char *cluster, json_t *p, struct stk_error *err)
{
    struct cluster_pod row;
    memset(&row, 0, sizeof(row));
    snprintf(row.ns, sizeof(row.ns), "%s", json_string_value(json_object_get(p, "namespace")));
    snprintf(row.name, sizeof(row.name), "%s", json_string_value(json_object_get(p, "name")));
    const char *phase = str_or_empty(json_object_get(p, "phase"), 31);
    snprintf(row.phase, sizeof(row.phase), "%.31s", phase[0] ? phase : "Unknown");
    json_t *labels = json_object_get(p, "labels");
    row.labels = labels ? json_dumps(labels, JSON_COMPACT) : strdup("{}");
    row.isolated = json_is_true(json_object_get(p, "isolated"));
    if (row.labels == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    enum stk_err rc = store_clusters_pod_put(db, cluster, &row, err);
    json_t *images = json_object_get(p, "images");
    json_t *restarts = json_object_get(p, "restarts");
    json_t *props = json_pack(
        "{s:s, s:s, s:o, s:s, s:O, s:O, s:b}", "phase", row.phase, "status", row.phase, "labels",
        json_loads(row.labels, 0, NULL), "node", str_or_empty(json_object_get(p, "node"), 253),
        "images", json_is_array(images) ? images : json_null(), "restarts",
        json_is_integer(restarts) ? restarts : json_null(), "isolated", row.isolated);
    char *patch = props ? json_dumps(props, JSON_COMPACT) : NULL;
    json_decref(props);
    if (rc == STK_OK && patch == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    if (rc == STK_OK) {
        char key[600];
        snprintf(key, sizeof(key), "pod:%s/%s/%s", cluster, row.ns, row.name);
        int changed = 0;
        rc = store_entities_merge_props(db, key, patch, &changed, err);
    }
    free(patch);
    free(row.labels);
    return rc;
}

static enum stk_err store_facts(struct db *db, const struct agent_peer *peer, json_t *msg,
                                json_t *facts, struct stk_error *err)
{
    long long now = now_ms();
    struct cluster_facts f;
    memset(&f, 0, sizeof(f));
    snprintf(f.cluster, sizeof(f.cluster), "%s", peer->cluster);
    f.agent_id = peer->agent_id;
    const char *av = str_or_empty(json_object_get(msg, "agent_version"), 31);
    json_t *np = json_object_get(facts, "network_policy");
    snprintf(f.agent_version, sizeof(f.agent_version), "%s", av);
    snprintf(f.kubernetes_version, sizeof(f.kubernetes_version), "%s",
             str_or_empty(json_object_get(facts, "kubernetes_version"), 63));
    snprintf(f.cloud, sizeof(f.cloud), "%s", str_or_empty(json_object_get(facts, "cloud"), 31));
    snprintf(f.np_plugin, sizeof(f.np_plugin), "%s",
             str_or_empty(json_object_get(np, "plugin"), 31));
    snprintf(f.np_version, sizeof(f.np_version), "%s",
             str_or_empty(json_object_get(np, "version"), 63));
    json_t *pods = json_object_get(facts, "pods");
    f.pods = (long long)json_array_size(pods);
    f.truncated = json_is_true(json_object_get(facts, "truncated"));
    f.reported_at = now;
    f.connected = 1;
    f.last_seen_at = now;
    snprintf(f.address, sizeof(f.address), "%s", peer->address);

    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    struct cluster_facts old;
    if (!av[0] && store_clusters_get(db, peer->cluster, &old, NULL) == STK_OK) {
        snprintf(f.agent_version, sizeof(f.agent_version), "%s", old.agent_version);
    }
    rc = store_clusters_put(db, &f, err);
    if (rc == STK_OK) {
        rc = cluster_entity(db, &f, now, err);
    }
    if (rc == STK_OK) {
        rc = store_clusters_pods_clear(db, peer->cluster, err);
    }
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        if (rc != STK_OK) {
            break;
        }
        rc = put_pod(db, peer->cluster, p, err);
    }
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    if (rc != STK_OK) {
        db_rollback(db);
    }
    return rc;
}

enum stk_err svc_agents_on_hello(struct app *app, struct db *db, const struct agent_peer *peer,
                                 json_t *msg, struct stk_error *err)
{
    json_t *facts = json_object_get(msg, "facts");
    enum stk_err rc = STK_OK;
    if (facts == NULL) {
        /* The agent could not read its cluster in time (facts_error): its
         * facts follow in a frame of their own; the connection counts now. */
        rc = store_clusters_seen(db, peer->cluster, 1, now_ms(), err);
        log_event(STK_LOG_WARN, "agent_hello_without_facts", "cluster=%s error=\"%.200s\"",
                  peer->cluster, str_or_empty(json_object_get(msg, "facts_error"), 200));
    } else {
        rc = check_facts(facts, err);
        if (rc == STK_OK) {
            rc = store_facts(db, peer, msg, facts, err);
        }
    }
    log_event(STK_LOG_INFO, "agent_hello", "agent=%lld cluster=%s pods=%zu ok=%d", peer->agent_id,
              peer->cluster, json_array_size(json_object_get(facts, "pods")), rc == STK_OK);
    /* Pending actions go out even when the facts were refused: the agent
     * checks its preconditions against the live cluster anyway. */
    svc_actions_flush(app, db, peer->cluster);
    return rc;
}

enum stk_err svc_agents_on_frame(struct app *app, struct db *db, const struct agent_peer *peer,
                                 const char *type, json_t *msg, struct stk_error *err)
{
    if (strcmp(type, "facts") == 0) {
        json_t *facts = json_object_get(msg, "facts");
        enum stk_err rc = check_facts(facts, err);
        return rc == STK_OK ? store_facts(db, peer, msg, facts, err) : rc;
    }
    if (strcmp(type, "ack") == 0) {
        return svc_actions_on_ack(app, db, peer->cluster, msg, err);
    }
    if (strcmp(type, "result") == 0) {
        return svc_actions_on_result(app, db, peer->cluster, msg, err);
    }
    if (strcmp(type, "tamper") == 0) {
        return svc_actions_on_tamper(app, db, peer->cluster, msg, err);
    }
    return stk_error_set(err, STK_EINVAL, "unknown frame type '%.40s'", type);
}

void svc_agents_on_disconnect(struct app *app, struct db *db, const struct agent_peer *peer)
{
    (void)app;
    struct stk_error err;
    stk_error_clear(&err);
    long long now = now_ms();
    char key[96], patch[128];
    snprintf(key, sizeof(key), "cluster:%s", peer->cluster);
    snprintf(patch, sizeof(patch), "{\"agent\":{\"connected\":false,\"last_seen\":%lld}}", now);
    int changed = 0;
    enum stk_err rc = db_begin(db, &err);
    if (rc == STK_OK) {
        rc = store_clusters_seen(db, peer->cluster, 0, now, &err);
    }
    if (rc == STK_OK) {
        rc = store_entities_merge_props(db, key, patch, &changed, &err);
    }
    if (rc == STK_OK) {
        rc = db_commit(db, &err);
    }
    if (rc != STK_OK) {
        db_rollback(db);
        log_event(STK_LOG_ERROR, "agent_disconnect_record_failed", "cluster=%s reason=\"%s\"",
                  peer->cluster, err.msg);
    }
}

void svc_agents_tick(struct app *app, struct db *db)
{
    svc_actions_tick(app, db, now_ms());
}
