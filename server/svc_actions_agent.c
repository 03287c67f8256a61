/* Actions moved along by what agents answer and by the clock
 * (svc_actions.h, second half): ack, result, tamper, expiry, timed
 * releases. Runs on the gateway's dispatch thread. */
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "ingest_parse.h"
#include "log.h"
#include "store_entities.h"
#include "store_incidents.h"
#include "svc_actions.h"
#include "svc_actions_int.h"
#include "svc_audit.h"
#include "svc_ingest.h"

#define RESULT_DETAILS_MAX (64 * 1024) /* bytes of an agent's details kept */
#define EVIDENCE_MAX (1024 * 1024)     /* bytes of evidence kept (the frame limit) */
#define TICK_BATCH 200

static void agent_actor(const char *cluster, char *name, size_t n, struct actor *by)
{
    snprintf(name, n, "agent:%s", cluster);
    by->name = name;
    by->kind = "agent";
    by->ip = "gateway";
}

/* The action a frame names, which must belong to the agent's cluster. */
static enum stk_err frame_action(struct db *db, const char *cluster, json_t *msg, struct action *a,
                                 struct stk_error *err)
{
    memset(a, 0, sizeof(*a));
    json_t *id = json_object_get(msg, "id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0) {
        return stk_error_set(err, STK_EINVAL, "id: an action id is required");
    }
    enum stk_err rc = store_actions_get(db, json_integer_value(id), a, err);
    if (rc == STK_OK && strcmp(a->cluster, cluster) != 0) {
        store_action_release(a);
        memset(a, 0, sizeof(*a));
        return stk_error_set(err, STK_EFORBIDDEN, "action %lld is not for cluster %s",
                             (long long)json_integer_value(id), cluster);
    }
    return rc;
}

enum stk_err svc_actions_on_ack(struct app *app, struct db *db, const char *cluster, json_t *msg,
                                struct stk_error *err)
{
    (void)app;
    struct action a;
    enum stk_err rc = frame_action(db, cluster, msg, &a, err);
    if (rc != STK_OK) {
        return rc;
    }
    int changed = 0;
    struct action_move m = {.to = NULL, .ts = svc_actions_now_ms(), .ack = 1};
    rc = store_actions_move(db, a.id, ",pending,dispatched,", &m, &changed, err);
    store_action_release(&a);
    return rc;
}

/* What a success changes beyond the action: the isolation record, the pod's
 * reported state and its entity's properties. */
static enum stk_err apply_success(struct db *db, const struct action *a, long long now,
                                  struct stk_error *err)
{
    char key[600];
    snprintf(key, sizeof(key), "pod:%s/%s/%s", a->cluster, a->ns, a->pod);
    enum stk_err rc = STK_OK;
    const char *patch = NULL;
    char buf[256];
    if (strcmp(a->type, "isolate") == 0) {
        struct isolation iso = {.action_id = a->id,
                                .since = now,
                                .until = a->isolate_for_s > 0 ? now + a->isolate_for_s * 1000 : 0};
        snprintf(iso.cluster, sizeof(iso.cluster), "%s", a->cluster);
        snprintf(iso.ns, sizeof(iso.ns), "%s", a->ns);
        snprintf(iso.pod, sizeof(iso.pod), "%s", a->pod);
        rc = store_actions_isolation_put(db, &iso, err);
        if (rc == STK_OK) {
            rc = store_clusters_pod_set(db, a->cluster, a->ns, a->pod, NULL, 1, err);
        }
        snprintf(buf, sizeof(buf),
                 "{\"isolated\":true,\"isolation\":{\"action_id\":%lld,\"since\":%lld,"
                 "\"until\":%lld}}",
                 a->id, now, iso.until);
        patch = buf;
    } else if (strcmp(a->type, "release") == 0) {
        rc = store_actions_isolation_delete(db, a->cluster, a->ns, a->pod, err);
        if (rc == STK_OK) {
            rc = store_clusters_pod_set(db, a->cluster, a->ns, a->pod, NULL, 0, err);
        }
        patch = "{\"isolated\":false,\"isolation\":null}";
    } else {
        rc = store_actions_isolation_delete(db, a->cluster, a->ns, a->pod, err);
        if (rc == STK_OK) {
            rc = store_clusters_pod_set(db, a->cluster, a->ns, a->pod, "Deleted", 0, err);
        }
        patch = "{\"phase\":\"Deleted\",\"status\":\"Deleted\",\"isolated\":false,"
                "\"isolation\":null}";
    }
    int changed = 0;
    if (rc == STK_OK) {
        rc = store_entities_merge_props(db, key, patch, &changed, err);
    }
    return rc;
}

static enum stk_err keep_evidence(struct db *db, long long id, json_t *evidence,
                                  struct stk_error *err)
{
    char *text = json_dumps(evidence, JSON_COMPACT);
    if (text == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    size_t len = strlen(text);
    enum stk_err rc = STK_OK;
    if (len > EVIDENCE_MAX) {
        rc = stk_error_set(err, STK_EINVAL, "evidence: over %d bytes", EVIDENCE_MAX);
    } else {
        unsigned char d[32];
        char hex[65];
        mbedtls_sha256_ret((const unsigned char *)text, len, d, 0);
        for (int i = 0; i < 32; i++) {
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        }
        rc = store_actions_evidence_put(db, id, text, len, hex, err);
    }
    free(text);
    return rc;
}

struct result_in {
    const char *status; /* succeeded | failed */
    char reason[ACTION_REASON_MAX + 1];
    char *details; /* compact JSON, owned */
    json_t *evidence;
    int replay;
};

static enum stk_err parse_result(json_t *msg, struct result_in *r, struct stk_error *err)
{
    memset(r, 0, sizeof(*r));
    const char *st = json_string_value(json_object_get(msg, "status"));
    const char *reason = json_string_value(json_object_get(msg, "reason"));
    json_t *details = json_object_get(msg, "details");
    r->evidence = json_object_get(msg, "evidence");
    r->replay = json_is_true(json_object_get(msg, "replay"));
    if (st == NULL ||
        (strcmp(st, "succeeded") != 0 && strcmp(st, "failed") != 0 && strcmp(st, "refused") != 0)) {
        return stk_error_set(err, STK_EINVAL, "status: succeeded, failed or refused");
    }
    if ((details != NULL && !json_is_object(details)) ||
        (r->evidence != NULL && !json_is_object(r->evidence))) {
        return stk_error_set(err, STK_EINVAL, "details and evidence must be objects");
    }
    r->status = strcmp(st, "succeeded") == 0 ? "succeeded" : "failed";
    if (strcmp(st, "refused") == 0) {
        snprintf(r->reason, sizeof(r->reason), "the agent refused the command: %s",
                 reason ? reason : "no reason given");
    } else {
        snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
    }
    if (strcmp(r->status, "failed") == 0 && r->reason[0] == '\0') {
        snprintf(r->reason, sizeof(r->reason), "the agent reported a failure without a reason");
    }
    if (strcmp(r->status, "succeeded") == 0) {
        r->reason[0] = '\0';
    }
    r->details = details ? json_dumps(details, JSON_COMPACT) : strdup("{}");
    if (r->details != NULL && strlen(r->details) > RESULT_DETAILS_MAX) {
        free(r->details);
        r->details = strdup("{\"truncated\":true}");
    }
    return r->details ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
}

enum stk_err svc_actions_on_result(struct app *app, struct db *db, const char *cluster, json_t *msg,
                                   struct stk_error *err)
{
    (void)app;
    struct result_in in;
    enum stk_err rc = parse_result(msg, &in, err);
    if (rc != STK_OK) {
        free(in.details);
        return rc;
    }
    rc = db_begin(db, err);
    if (rc != STK_OK) {
        free(in.details);
        return rc;
    }
    struct action a;
    rc = frame_action(db, cluster, msg, &a, err);
    long long now = svc_actions_now_ms();
    int changed = 0;
    if (rc == STK_OK) {
        struct action_move m = {
            .to = in.status, .ts = now, .failure_reason = in.reason, .result = in.details};
        rc = store_actions_move(db, a.id, ",pending,dispatched,", &m, &changed, err);
    }
    if (rc == STK_OK && changed) {
        snprintf(a.status, sizeof(a.status), "%s", in.status);
        if (strcmp(in.status, "succeeded") == 0) {
            rc = apply_success(db, &a, now, err);
        }
        if (rc == STK_OK && in.evidence != NULL) {
            rc = keep_evidence(db, a.id, in.evidence, err);
        }
        char name[96], summary[900];
        struct actor by;
        agent_actor(cluster, name, sizeof(name), &by);
        if (strcmp(in.status, "succeeded") == 0) {
            snprintf(summary, sizeof(summary), "%s of pod %s succeeded", svc_actions_verb(a.type),
                     a.pod);
        } else {
            snprintf(summary, sizeof(summary), "%s of pod %s failed: %s", svc_actions_verb(a.type),
                     a.pod, in.reason);
        }
        if (rc == STK_OK) {
            rc = svc_actions_history(db, &a, name, "action", summary, err);
        }
        if (rc == STK_OK) {
            rc = svc_actions_audit(db, &by, "action.result", a.id,
                                   strcmp(in.status, "succeeded") == 0 ? "success" : "failure",
                                   json_pack("{s:s, s:s, s:b}", "status", in.status, "reason",
                                             in.reason, "replay", in.replay),
                                   err);
        }
    }
    store_action_release(&a);
    free(in.details);
    if (rc == STK_OK && !changed) {
        /* A replayed answer, or one for an action that was already ended
         * (expired, cancelled): nothing to change. */
        db_rollback(db);
        return STK_OK;
    }
    return svc_actions_finish(db, rc, err);
}

/* ---- tamper ---- */

static enum stk_err raise_tamper_alert(struct app *app, struct db *db, const char *cluster,
                                       const char *ns, const char *pod, const char *what,
                                       int restored, long long now, struct stk_error *err)
{
    char key[600];
    snprintf(key, sizeof(key), "pod:%s/%s/%s", cluster, ns, pod);
    char nskey[400];
    snprintf(nskey, sizeof(nskey), "namespace:%s/%s", cluster, ns);
    char id[200];
    snprintf(id, sizeof(id), "tamper:%s/%s/%s/%lld", cluster, ns, pod, now);
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[40];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char desc[700];
    snprintf(desc, sizeof(desc),
             "While Stockade held pod %s isolated, someone changed its isolation: %s. %s", pod,
             what, restored ? "The agent restored it." : "The agent could not restore it.");
    json_t *alert = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:b}}",
        "id", id, "provider", "stockade-rules", "rule", "Isolation tampered with", "title",
        "Isolation tampered with", "description", desc, "severity", "high", "tactic",
        "defense_evasion", "first_activity", ts, "cluster", cluster, "entities", "kind", "pod",
        "key", key, "kind", "namespace", "key", nskey, "evidence", "change", what, "restored",
        restored);
    char *body = alert ? json_dumps(alert, JSON_COMPACT) : NULL;
    json_decref(alert);
    if (body == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    struct ingest_batch b;
    ingest_batch_init(&b);
    struct ingest_reject rej = {.index = -1, .reason = ""};
    enum stk_err rc = ingest_parse_alerts(body, strlen(body), cluster, &b, &rej);
    free(body);
    if (rc != STK_OK) {
        ingest_batch_release(&b);
        return stk_error_set(err, rc, "tamper alert: %s", rej.reason);
    }
    struct ingest_settings s = {
        .window_ms = app->cfg.correlation_window_s * 1000LL,
        .ns_window_ms = app->cfg.correlation_ns_window_s * 1000LL,
        .path_max_hops = (int)app->cfg.attack_path_max_hops,
    };
    char name[96];
    struct actor by;
    agent_actor(cluster, name, sizeof(name), &by);
    struct ingest_result res;
    rc = svc_ingest_store(db, &s, &b, &by, "agent", &res, err);
    ingest_batch_release(&b);
    return rc;
}

enum stk_err svc_actions_on_tamper(struct app *app, struct db *db, const char *cluster, json_t *msg,
                                   struct stk_error *err)
{
    const char *ns = json_string_value(json_object_get(msg, "namespace"));
    const char *pod = json_string_value(json_object_get(msg, "pod"));
    const char *what = json_string_value(json_object_get(msg, "what"));
    int restored = json_is_true(json_object_get(msg, "restored"));
    if (ns == NULL || pod == NULL || strlen(ns) > 253 || strlen(pod) > 253 || ns[0] == '\0' ||
        pod[0] == '\0') {
        return stk_error_set(err, STK_EINVAL, "namespace and pod are required");
    }
    char change[300];
    snprintf(change, sizeof(change), "%s", what && what[0] ? what : "the isolation was changed");
    long long now = svc_actions_now_ms();
    enum stk_err rc = raise_tamper_alert(app, db, cluster, ns, pod, change, restored, now, err);
    if (rc != STK_OK) {
        return rc;
    }
    struct isolation iso;
    if (store_actions_isolation_get(db, cluster, ns, pod, &iso, NULL) != STK_OK) {
        return STK_OK;
    }
    struct action a;
    if (db_begin(db, err) != STK_OK) {
        return err ? err->code : STK_EDB;
    }
    rc = store_actions_get(db, iso.action_id, &a, err);
    if (rc == STK_OK) {
        char name[96], summary[600];
        struct actor by;
        agent_actor(cluster, name, sizeof(name), &by);
        snprintf(summary, sizeof(summary), "Isolation of pod %s tampered with (%s); %s", pod,
                 change, restored ? "restored by the agent" : "the agent could not restore it");
        rc = svc_actions_history(db, &a, name, "action", summary, err);
        if (rc == STK_OK) {
            rc = svc_actions_audit(db, &by, "action.tamper", a.id, restored ? "success" : "failure",
                                   json_pack("{s:s, s:b}", "change", change, "restored", restored),
                                   err);
        }
        store_action_release(&a);
    }
    return svc_actions_finish(db, rc, err);
}

/* ---- the clock ---- */

static void expire(struct db *db, long long id, long long now)
{
    struct stk_error err;
    stk_error_clear(&err);
    if (db_begin(db, &err) != STK_OK) {
        return;
    }
    struct action a;
    enum stk_err rc = store_actions_get(db, id, &a, &err);
    int changed = 0;
    char reason[ACTION_REASON_MAX + 1];
    if (rc == STK_OK) {
        int pending = strcmp(a.status, "pending") == 0;
        if (pending) {
            snprintf(reason, sizeof(reason),
                     "agent offline: no agent of cluster %s took the action before it expired",
                     a.cluster);
        } else {
            snprintf(reason, sizeof(reason),
                     "no result from the agent of cluster %s before the action expired", a.cluster);
        }
        struct action_move m = {.to = "failed", .ts = now, .failure_reason = reason};
        rc = store_actions_move(db, id, pending ? ",pending," : ",dispatched,", &m, &changed, &err);
    }
    if (rc == STK_OK && changed) {
        snprintf(a.status, sizeof(a.status), "failed");
        char summary[ACTION_REASON_MAX + 400];
        snprintf(summary, sizeof(summary), "%s of pod %s failed: %s", svc_actions_verb(a.type),
                 a.pod, reason);
        rc = svc_actions_history(db, &a, "system", "action", summary, &err);
        struct actor sys = {.name = "system", .kind = "system", .ip = "local"};
        if (rc == STK_OK) {
            rc = svc_actions_audit(db, &sys, "action.expire", id, "failure",
                                   json_pack("{s:s}", "reason", reason), &err);
        }
    }
    store_action_release(&a);
    if (svc_actions_finish(db, rc, &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "action_expire_failed", "action=%lld reason=\"%s\"", id, err.msg);
    } else if (changed) {
        log_event(STK_LOG_INFO, "action_expired", "action=%lld", id);
    }
}

static void release_due(struct app *app, struct db *db, const struct isolation *iso)
{
    struct stk_error err;
    stk_error_clear(&err);
    /* The timer is spent before the release is asked for: a release that
     * fails (the pod is gone, the agent too) leaves the pod isolated without
     * a timer and says so in the history, instead of retrying every second. */
    struct isolation spent = *iso;
    spent.until = 0;
    if (store_actions_isolation_put(db, &spent, &err) != STK_OK) {
        return;
    }
    struct action src;
    long long incident = 0;
    long long for_s = 0;
    if (store_actions_get(db, iso->action_id, &src, NULL) == STK_OK) {
        incident = src.incident_id;
        for_s = src.isolate_for_s;
        store_action_release(&src);
    }
    char comment[200];
    snprintf(comment, sizeof(comment), "timed isolation ended (isolated for %lld s by action %lld)",
             for_s, iso->action_id);
    struct action_request r = {.type = "release",
                               .cluster = iso->cluster,
                               .ns = iso->ns,
                               .pod = iso->pod,
                               .comment = comment,
                               .incident_id = incident};
    struct actor sys = {.name = "system", .kind = "system", .ip = "local"};
    struct action out;
    enum stk_err rc = svc_actions_request_origin(app, db, &r, &sys, "timer", &out, &err);
    if (rc == STK_OK) {
        store_action_release(&out);
        return;
    }
    log_event(STK_LOG_WARN, "timed_release_failed", "cluster=%s pod=%s/%s reason=\"%s\"",
              iso->cluster, iso->ns, iso->pod, err.msg);
}

void svc_actions_tick(struct app *app, struct db *db, long long now)
{
    long long *ids = NULL;
    size_t n = 0;
    if (store_actions_overdue(db, now, 120 * 1000, &ids, &n, NULL) == STK_OK) {
        for (size_t i = 0; i < n; i++) {
            expire(db, ids[i], now);
        }
    }
    free(ids);
    struct isolation *due = NULL;
    n = 0;
    if (store_actions_isolations_due(db, now, TICK_BATCH, &due, &n, NULL) == STK_OK) {
        for (size_t i = 0; i < n; i++) {
            release_due(app, db, &due[i]);
        }
    }
    free(due);
}
