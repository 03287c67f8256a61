/* Response actions (svc_actions.h).
 *
 * Concurrency: requests run on civetweb workers, agent frames and the clock
 * on the gateway's dispatch thread, each with its own connection. Every
 * status change is a conditional UPDATE (store_actions_move(): "only while
 * the status is one of ..."), so a result that overtakes the worker's
 * "dispatched" mark, or a cancel racing a dispatch, cannot move an action
 * backwards or end it twice. */
#include "svc_actions.h"
#include "svc_actions_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cmd_sign.h"
#include "gateway.h"
#include "isolation.h"
#include "log.h"
#include "precond.h"
#include "store_entities.h"
#include "store_incidents.h"
#include "svc_audit.h"

#define DISPATCH_GRACE_MS (120 * 1000) /* a dispatched action gets this long past expiry */
#define FLUSH_MAX 500                  /* actions sent to an agent at hello */

long long svc_actions_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void svc_actions_settings(const struct app *app, struct actions_settings *out)
{
    out->queue_ttl_ms = app->cfg.action_queue_ttl_s * 1000LL;
    out->two_person = app->cfg.two_person_rule != 0;
}

/* ---- preconditions ---- */

static int pod_active(const char *phase)
{
    return strcmp(phase, "Running") == 0 || strcmp(phase, "Pending") == 0;
}

static enum stk_err refuse(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum stk_err refuse(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return STK_ECONFLICT;
}

static enum stk_err check_agent(const struct precheck_input *in, char *why, size_t n)
{
    const char *c = in->req->cluster;
    if (in->facts == NULL) {
        return refuse(why, n, "no agent connected for cluster %s (none has ever reported)", c);
    }
    long long ago = in->now - in->facts->last_seen_at;
    if (!in->agent_connected && ago > in->queue_ttl_ms) {
        if (ago < 120000) {
            return refuse(why, n, "no agent connected for cluster %s (last seen %lld seconds ago)",
                          c, ago / 1000);
        }
        return refuse(why, n, "no agent connected for cluster %s (last seen %lld minutes ago)", c,
                      ago / 60000);
    }
    return STK_OK;
}

static enum stk_err check_isolate(const struct precheck_input *in, char *why, size_t n)
{
    const struct cluster_facts *f = in->facts;
    if (f->kubernetes_version[0] == '\0') {
        return refuse(why, n, "the agent of cluster %s has not reported its Kubernetes version",
                      in->req->cluster);
    }
    struct net_plugin np;
    memset(&np, 0, sizeof(np));
    snprintf(np.name, sizeof(np.name), "%.15s", f->np_plugin);
    snprintf(np.version, sizeof(np.version), "%s", f->np_version);
    struct stk_error e;
    stk_error_clear(&e);
    if (precond_check_isolate(in->req->cluster, f->kubernetes_version, &np, &e) != STK_OK) {
        return refuse(why, n, "%s", e.msg);
    }
    return STK_OK;
}

enum stk_err svc_actions_precheck(const struct precheck_input *in, char *why, size_t n)
{
    const struct action_request *r = in->req;
    why[0] = '\0';
    enum stk_err rc = check_agent(in, why, n);
    if (rc != STK_OK) {
        return rc;
    }
    if (strcmp(r->type, "release") == 0) {
        if (!in->isolated && (in->pod == NULL || !in->pod->isolated)) {
            return refuse(why, n, "pod %s is not isolated", r->pod);
        }
        return STK_OK;
    }
    if (in->pod == NULL && !in->facts->truncated) {
        return refuse(why, n, "pod %s/%s was not reported by the agent of cluster %s", r->ns,
                      r->pod, r->cluster);
    }
    /* A cluster too big for one report: the agent checks the pod live. */
    if (in->pod != NULL && !pod_active(in->pod->phase)) {
        return refuse(why, n, "pod %s is not active (%s)", r->pod, in->pod->phase);
    }
    if (strcmp(r->type, "isolate") == 0) {
        return check_isolate(in, why, n);
    }
    return STK_OK;
}

/* ---- checking a request ---- */

static int name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.')) {
            return 0;
        }
    }
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

static int cluster_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

static enum stk_err check_request(const struct action_request *r, struct stk_error *err)
{
    if (r->type == NULL || (strcmp(r->type, "isolate") != 0 && strcmp(r->type, "terminate") != 0 &&
                            strcmp(r->type, "release") != 0)) {
        return stk_error_set(err, STK_EINVAL, "type: must be isolate, terminate or release");
    }
    if (!cluster_ok(r->cluster)) {
        return stk_error_set(err, STK_EINVAL,
                             "target.cluster: 1 to 63 letters, digits, '-', '_' or '.'");
    }
    if (!name_ok(r->ns, 63)) {
        return stk_error_set(err, STK_EINVAL, "target.namespace: not a Kubernetes namespace name");
    }
    if (!name_ok(r->pod, 253)) {
        return stk_error_set(err, STK_EINVAL, "target.pod: not a Kubernetes pod name");
    }
    size_t clen = r->comment ? strlen(r->comment) : 0;
    if (clen == 0 || clen > ACTION_COMMENT_MAX) {
        return stk_error_set(err, STK_EINVAL, "comment: a reason of 1 to %d bytes is required",
                             ACTION_COMMENT_MAX);
    }
    if (r->isolate_for_s < 0 || r->isolate_for_s > ACTION_MAX_ISOLATE_S ||
        (r->isolate_for_s > 0 && strcmp(r->type, "isolate") != 0)) {
        return stk_error_set(err, STK_EINVAL,
                             "isolate_for_s: 0 to %lld seconds, and only for isolate",
                             ACTION_MAX_ISOLATE_S);
    }
    if (r->incident_id < 0) {
        return stk_error_set(err, STK_EINVAL, "incident_id: not an incident id");
    }
    return STK_OK;
}

/* What the store knows of the target, for the preconditions. */
struct target_state {
    struct cluster_facts facts;
    int has_facts;
    struct cluster_pod pod;
    int has_pod;
    int isolated;
};

static void target_release(struct target_state *t)
{
    free(t->pod.labels);
    t->pod.labels = NULL;
}

static enum stk_err read_target(struct db *db, const struct action_request *r,
                                struct target_state *t, struct stk_error *err)
{
    memset(t, 0, sizeof(*t));
    enum stk_err rc = store_clusters_get(db, r->cluster, &t->facts, err);
    t->has_facts = rc == STK_OK;
    if (rc == STK_ENOTFOUND) {
        rc = STK_OK;
    }
    if (rc == STK_OK) {
        rc = store_clusters_pod(db, r->cluster, r->ns, r->pod, &t->pod, err);
        t->has_pod = rc == STK_OK;
        rc = rc == STK_ENOTFOUND ? STK_OK : rc;
    }
    if (rc == STK_OK) {
        struct isolation iso;
        rc = store_actions_isolation_get(db, r->cluster, r->ns, r->pod, &iso, err);
        t->isolated = rc == STK_OK;
        rc = rc == STK_ENOTFOUND ? STK_OK : rc;
    }
    if (rc != STK_OK) {
        target_release(t);
    }
    return rc;
}

static int connected(struct app *app, const char *cluster)
{
    return app->gateway != NULL && gateway_connected(app->gateway, cluster);
}

static enum stk_err precheck_target(struct app *app, const struct action_request *r,
                                    const struct target_state *t, long long now, char *why,
                                    size_t n)
{
    struct actions_settings s;
    svc_actions_settings(app, &s);
    struct precheck_input in = {
        .req = r,
        .facts = t->has_facts ? &t->facts : NULL,
        .pod = t->has_pod ? &t->pod : NULL,
        .isolated = t->isolated,
        .agent_connected = connected(app, r->cluster),
        .now = now,
        .queue_ttl_ms = s.queue_ttl_ms,
    };
    return svc_actions_precheck(&in, why, n);
}

/* ---- audit and history ---- */

enum stk_err svc_actions_audit(struct db *db, const struct actor *by, const char *what,
                               long long id, const char *outcome, json_t *details_taken,
                               struct stk_error *err)
{
    char target[48];
    snprintf(target, sizeof(target), "action:%lld", id);
    struct audit_event ev = {
        .actor = by->name,
        .actor_kind = by->kind,
        .source_ip = by->ip,
        .action = what,
        .target = id > 0 ? target : "",
        .outcome = outcome,
        .details = details_taken,
    };
    enum stk_err rc = svc_audit_append(db, &ev, err);
    json_decref(details_taken);
    return rc;
}

const char *svc_actions_verb(const char *type)
{
    return strcmp(type, "isolate") == 0     ? "Isolation"
           : strcmp(type, "terminate") == 0 ? "Termination"
                                            : "Release from isolation";
}

/* Notes `summary` in the history of the action's incident (if any). */
enum stk_err svc_actions_history(struct db *db, const struct action *a, const char *actor,
                                 const char *kind, const char *summary, struct stk_error *err)
{
    if (a->incident_id <= 0) {
        return STK_OK;
    }
    json_t *d =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "action_id", (json_int_t)a->id, "type", a->type,
                  "status", a->status, "cluster", a->cluster, "namespace", a->ns, "pod", a->pod);
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    enum stk_err rc = store_incidents_history_add(db, a->incident_id, svc_actions_now_ms(), actor,
                                                  kind, summary, text, err);
    free(text);
    return rc;
}

enum stk_err svc_actions_finish(struct db *db, enum stk_err rc, struct stk_error *err)
{
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    if (rc != STK_OK) {
        db_rollback(db);
    }
    return rc;
}

/* ---- sending ---- */

/* The signed command frame for `a`. Caller frees. */
static char *command_frame(struct app *app, const struct action *a)
{
    json_t *payload =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:I}}", "id", (json_int_t)a->id, "action",
                  a->type, "cluster", a->cluster, "namespace", a->ns, "pod", a->pod, "issued_at",
                  (json_int_t)svc_actions_now_ms(), "expires_at", (json_int_t)a->expires_at,
                  "params", "isolate_for_s", (json_int_t)a->isolate_for_s);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (text == NULL) {
        return NULL;
    }
    char sig[STK_CMD_SIG_B64_MAX];
    cmd_sign(app->command_sk, text, strlen(text), sig);
    json_t *frame = json_pack("{s:s, s:s, s:s}", "type", "command", "payload", text, "sig", sig);
    free(text);
    char *out = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
    json_decref(frame);
    return out;
}

/* Sends `a` if its agent is connected and marks it dispatched. Failures
 * leave it pending: the next hello or the expiry takes over. */
static void dispatch(struct app *app, struct db *db, const struct action *a)
{
    if (app->gateway == NULL || !app->command_key_loaded) {
        return;
    }
    char *frame = command_frame(app, a);
    if (frame == NULL) {
        log_event(STK_LOG_ERROR, "action_dispatch_failed", "action=%lld reason=\"out of memory\"",
                  a->id);
        return;
    }
    enum stk_err rc = gateway_send(app->gateway, a->cluster, frame, strlen(frame));
    free(frame);
    if (rc != STK_OK) {
        log_event(STK_LOG_INFO, "action_queued", "action=%lld cluster=%s reason=%s", a->id,
                  a->cluster, stk_err_name(rc));
        return;
    }
    struct stk_error err;
    stk_error_clear(&err);
    int changed = 0;
    struct action_move m = {.to = "dispatched", .ts = svc_actions_now_ms()};
    rc = store_actions_move(db, a->id, ",pending,", &m, &changed, &err);
    if (rc != STK_OK) {
        log_event(STK_LOG_ERROR, "action_dispatch_mark_failed", "action=%lld reason=\"%s\"", a->id,
                  err.msg);
    }
    log_event(STK_LOG_INFO, "action_dispatched", "action=%lld type=%s cluster=%s", a->id, a->type,
              a->cluster);
}

void svc_actions_flush(struct app *app, struct db *db, const char *cluster)
{
    struct action *list = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    if (store_actions_by_cluster(db, cluster, ",pending,dispatched,", FLUSH_MAX, &list, &n, &err) !=
        STK_OK) {
        log_event(STK_LOG_ERROR, "action_flush_failed", "cluster=%s reason=\"%s\"", cluster,
                  err.msg);
        return;
    }
    long long now = svc_actions_now_ms();
    for (size_t i = 0; i < n; i++) {
        /* Expired ones are the clock's to fail; the agent would refuse them. */
        if (list[i].expires_at > now) {
            dispatch(app, db, &list[i]);
        }
    }
    store_actions_free(list, n);
}

/* ---- requests ---- */

static enum stk_err store_request(struct app *app, struct db *db, const struct action_request *r,
                                  const struct actor *by, const char *origin, long long now,
                                  struct action *a, struct stk_error *err)
{
    struct actions_settings s;
    svc_actions_settings(app, &s);
    memset(a, 0, sizeof(*a));
    snprintf(a->type, sizeof(a->type), "%s", r->type);
    int approval = s.two_person && strcmp(r->type, "terminate") == 0;
    snprintf(a->status, sizeof(a->status), "%s", approval ? "awaiting_approval" : "pending");
    snprintf(a->origin, sizeof(a->origin), "%s", origin);
    snprintf(a->cluster, sizeof(a->cluster), "%s", r->cluster);
    snprintf(a->ns, sizeof(a->ns), "%s", r->ns);
    snprintf(a->pod, sizeof(a->pod), "%s", r->pod);
    snprintf(a->requested_by, sizeof(a->requested_by), "%s", by->name);
    snprintf(a->comment, sizeof(a->comment), "%s", r->comment);
    a->isolate_for_s = r->isolate_for_s;
    a->created_at = now;
    /* Approval may take a while; the queue clock starts when it is given. */
    a->expires_at = now + s.queue_ttl_ms;

    char key[600];
    snprintf(key, sizeof(key), "pod:%s/%s/%s", r->cluster, r->ns, r->pod);
    int critical = 0;
    enum stk_err rc = store_entities_find(db, key, &a->entity_id, &critical, NULL);
    if (rc == STK_ENOTFOUND) {
        a->entity_id = 0;
        rc = STK_OK;
    }
    a->incident_id = r->incident_id;
    if (rc == STK_OK) {
        rc = store_actions_insert(db, a, &a->id, err);
    }
    if (rc == STK_OK) {
        char summary[ACTION_COMMENT_MAX + 400];
        snprintf(summary, sizeof(summary), "%s of pod %s requested%s: %s",
                 svc_actions_verb(a->type), a->pod,
                 approval ? " (awaiting a second responder's approval)" : "", a->comment);
        rc = svc_actions_history(db, a, by->name, "action", summary, err);
    }
    if (rc == STK_OK) {
        rc = svc_actions_audit(db, by, "action.request", a->id, "success",
                               json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", a->type,
                                         "cluster", a->cluster, "namespace", a->ns, "pod", a->pod,
                                         "comment", a->comment, "isolate_for_s",
                                         (json_int_t)a->isolate_for_s),
                               err);
    }
    return rc;
}

static void audit_refusal(struct db *db, const struct action_request *r, const struct actor *by,
                          const char *why)
{
    struct stk_error err;
    stk_error_clear(&err);
    if (svc_actions_audit(db, by, "action.request", 0, "denied",
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", r->type, "cluster",
                                    r->cluster, "namespace", r->ns, "pod", r->pod, "reason", why),
                          &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "audit_failed", "what=action.request reason=\"%s\"", err.msg);
    }
}

enum stk_err svc_actions_request(struct app *app, struct db *db, const struct action_request *r,
                                 const struct actor *by, struct action *out, struct stk_error *err)
{
    return svc_actions_request_origin(app, db, r, by, "user", out, err);
}

enum stk_err svc_actions_request_origin(struct app *app, struct db *db,
                                        const struct action_request *r, const struct actor *by,
                                        const char *origin, struct action *out,
                                        struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = check_request(r, err);
    if (rc != STK_OK) {
        return rc;
    }
    long long now = svc_actions_now_ms();
    rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (r->incident_id > 0) {
        struct incident inc;
        rc = store_incidents_get(db, r->incident_id, &inc, err);
        if (rc == STK_ENOTFOUND) {
            rc = stk_error_set(err, STK_EINVAL, "incident_id: no incident %lld", r->incident_id);
        }
        if (rc != STK_OK) {
            db_rollback(db);
            return rc;
        }
    }
    struct target_state t;
    rc = read_target(db, r, &t, err);
    if (rc != STK_OK) {
        db_rollback(db);
        return rc;
    }
    char why[512];
    rc = precheck_target(app, r, &t, now, why, sizeof(why));
    target_release(&t);
    if (rc != STK_OK) {
        audit_refusal(db, r, by, why);
        if (db_commit(db, NULL) != STK_OK) {
            db_rollback(db);
        }
        log_event(STK_LOG_INFO, "action_refused", "type=%s cluster=%s reason=\"%s\"", r->type,
                  r->cluster, why);
        return stk_error_set(err, rc, "%s", why);
    }
    rc = svc_actions_finish(db, store_request(app, db, r, by, origin, now, out, err), err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (strcmp(out->status, "pending") == 0) {
        dispatch(app, db, out);
    }
    long long id = out->id;
    return store_actions_get(db, id, out, err);
}

enum stk_err svc_actions_plan(struct app *app, struct db *db, const struct action_request *r,
                              json_t **out, struct stk_error *err)
{
    *out = NULL;
    enum stk_err rc = check_request(r, err);
    if (rc != STK_OK) {
        return rc;
    }
    struct target_state t;
    rc = db_read_begin(db, err);
    if (rc == STK_OK) {
        rc = read_target(db, r, &t, err);
    }
    if (rc != STK_OK) {
        db_read_end(db);
        return rc;
    }
    char why[512];
    int allowed = precheck_target(app, r, &t, svc_actions_now_ms(), why, sizeof(why)) == STK_OK;
    json_t *plan = json_pack("{s:s, s:b, s:s, s:{s:s, s:s, s:s}, s:o}", "type", r->type, "allowed",
                             allowed, "reason", allowed ? "" : why, "target", "cluster", r->cluster,
                             "namespace", r->ns, "pod", r->pod, "pod_state",
                             t.has_pod ? json_pack("{s:s, s:b}", "phase", t.pod.phase, "isolated",
                                                   t.pod.isolated || t.isolated)
                                       : json_null());
    if (plan != NULL && strcmp(r->type, "isolate") == 0) {
        char key[ISOLATION_KEY_MAX];
        isolation_key(r->pod, key);
        json_t *selector = isolation_selector(key);
        char *sel_text = selector ? json_dumps(selector, JSON_COMPACT) : NULL;
        char(*names)[254] = NULL;
        size_t n = 0;
        if (sel_text != NULL) {
            rc = store_clusters_pods_matching(db, r->cluster, r->ns, sel_text, 50, &names, &n, err);
        }
        /* The target matches once labelled; others match only if they
         * already carry its labels. */
        json_t *matched = json_array();
        json_array_append_new(matched, json_string(r->pod));
        for (size_t i = 0; i < n; i++) {
            if (strcmp(names[i], r->pod) != 0) {
                json_array_append_new(matched, json_string(names[i]));
            }
        }
        free(names);
        free(sel_text);
        json_decref(selector);
        json_object_set_new(plan, "label_patch", isolation_label_patch(key, 0));
        json_object_set_new(plan, "network_policy", isolation_policy(r->ns, key));
        json_object_set_new(plan, "matched_pods", matched);
        if (t.isolated || (t.has_pod && t.pod.isolated)) {
            json_object_set_new(plan, "note",
                                json_string("the pod is already isolated: the existing policy "
                                            "is kept and no second one is created"));
        }
    } else if (plan != NULL && strcmp(r->type, "terminate") == 0) {
        json_object_set_new(plan, "evidence",
                            json_string("the pod's manifest, status and the last 200 lines of "
                                        "each container's log are captured before deletion"));
    }
    db_read_end(db);
    target_release(&t);
    if (rc != STK_OK || plan == NULL) {
        json_decref(plan);
        return rc != STK_OK ? rc : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    *out = plan;
    return STK_OK;
}

/* ---- decisions ---- */

static enum stk_err move_by(struct db *db, long long id, const char *from,
                            const struct action_move *m, const struct actor *by, const char *what,
                            const char *comment, const char *done, struct action *a,
                            struct stk_error *err)
{
    enum stk_err rc = store_actions_get(db, id, a, err);
    int changed = 0;
    if (rc == STK_OK) {
        rc = store_actions_move(db, id, from, m, &changed, err);
    }
    if (rc == STK_OK && !changed) {
        rc = stk_error_set(err, STK_ECONFLICT, "action %lld is %s", id, a->status);
    }
    if (rc == STK_OK) {
        snprintf(a->status, sizeof(a->status), "%s", m->to);
        char summary[ACTION_COMMENT_MAX + 400];
        snprintf(summary, sizeof(summary), "%s of pod %s %s by %s", svc_actions_verb(a->type),
                 a->pod, done, by->name);
        if (comment != NULL && comment[0] != '\0') {
            size_t l = strlen(summary);
            snprintf(summary + l, sizeof(summary) - l, ": %s", comment);
        }
        rc = svc_actions_history(db, a, by->name, "action", summary, err);
    }
    if (rc == STK_OK) {
        rc = svc_actions_audit(
            db, by, what, id, "success",
            json_pack("{s:s, s:s}", "status", m->to, "comment", comment ? comment : ""), err);
    }
    return rc;
}

static enum stk_err check_comment(const char *comment, int required, struct stk_error *err)
{
    size_t n = comment ? strlen(comment) : 0;
    if ((required && n == 0) || n > ACTION_COMMENT_MAX) {
        return stk_error_set(err, STK_EINVAL, "comment: %s1 to %d bytes",
                             required ? "required, " : "", ACTION_COMMENT_MAX);
    }
    return STK_OK;
}

enum stk_err svc_actions_cancel(struct app *app, struct db *db, long long id,
                                const struct actor *by, const char *comment, struct stk_error *err)
{
    (void)app;
    enum stk_err rc = check_comment(comment, 0, err);
    if (rc != STK_OK || (rc = db_begin(db, err)) != STK_OK) {
        return rc;
    }
    char reason[ACTION_REASON_MAX + 1];
    snprintf(reason, sizeof(reason), "cancelled by %s", by->name);
    struct action_move m = {.to = "cancelled",
                            .ts = svc_actions_now_ms(),
                            .failure_reason = reason,
                            .decided_by = by->name};
    struct action a;
    rc = move_by(db, id, ",pending,awaiting_approval,", &m, by, "action.cancel", comment,
                 "cancelled", &a, err);
    store_action_release(&a);
    return svc_actions_finish(db, rc, err);
}

enum stk_err svc_actions_decide(struct app *app, struct db *db, long long id, int approve,
                                const struct actor *by, const char *comment, struct stk_error *err)
{
    enum stk_err rc = check_comment(comment, !approve, err);
    if (rc != STK_OK || (rc = db_begin(db, err)) != STK_OK) {
        return rc;
    }
    struct action a;
    rc = store_actions_get(db, id, &a, err);
    if (rc == STK_OK && strcmp(a.requested_by, by->name) == 0) {
        rc = stk_error_set(err, STK_EFORBIDDEN,
                           "a second responder must decide: %s requested this action", by->name);
    }
    store_action_release(&a);
    if (rc != STK_OK) {
        db_rollback(db);
        return rc;
    }
    struct actions_settings s;
    svc_actions_settings(app, &s);
    char reason[ACTION_REASON_MAX + 1];
    snprintf(reason, sizeof(reason), "rejected by %s%s%s", by->name, comment ? ": " : "",
             comment ? comment : "");
    struct action_move m = {.ts = svc_actions_now_ms(), .decided_by = by->name};
    if (approve) {
        m.to = "pending";
        m.approved_by = by->name;
        m.expires_at = m.ts + s.queue_ttl_ms;
    } else {
        m.to = "cancelled";
        m.failure_reason = reason;
    }
    rc =
        move_by(db, id, ",awaiting_approval,", &m, by, approve ? "action.approve" : "action.reject",
                comment, approve ? "approved" : "rejected", &a, err);
    store_action_release(&a);
    rc = svc_actions_finish(db, rc, err);
    if (rc == STK_OK && approve && store_actions_get(db, id, &a, NULL) == STK_OK) {
        dispatch(app, db, &a);
        store_action_release(&a);
    }
    return rc;
}

enum stk_err svc_actions_comment(struct db *db, long long id, const struct actor *by,
                                 const char *text, long long *comment_id, struct stk_error *err)
{
    *comment_id = 0;
    enum stk_err rc = check_comment(text, 1, err);
    if (rc != STK_OK || (rc = db_begin(db, err)) != STK_OK) {
        return rc;
    }
    struct action a;
    rc = store_actions_get(db, id, &a, err);
    store_action_release(&a);
    if (rc == STK_OK) {
        rc = store_actions_comment_add(db, id, svc_actions_now_ms(), by->name, text, comment_id,
                                       err);
    }
    if (rc == STK_OK) {
        rc = svc_actions_audit(db, by, "action.comment", id, "success",
                               json_pack("{s:s}", "text", text), err);
    }
    rc = svc_actions_finish(db, rc, err);
    if (rc != STK_OK) {
        *comment_id = 0;
    }
    return rc;
}

/* ---- rendering ---- */

static json_t *ms_or_null(long long ms)
{
    return ms > 0 ? json_integer(ms) : json_null();
}

json_t *svc_actions_to_json(const struct action *a)
{
    json_t *result = json_loads(a->result ? a->result : "{}", 0, NULL);
    long long end = a->finished_at > 0 ? a->finished_at : 0;
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:o, s:o, s:s, s:s, s:I, s:s, s:s, s:o, s:o, "
        "s:o, s:o, s:I, s:s, s:o, s:o, s:b}",
        "id", (json_int_t)a->id, "type", a->type, "status", a->status, "origin", a->origin,
        "target", "cluster", a->cluster, "namespace", a->ns, "pod", a->pod, "entity_id",
        a->entity_id ? json_integer(a->entity_id) : json_null(), "incident_id",
        a->incident_id ? json_integer(a->incident_id) : json_null(), "requested_by",
        a->requested_by, "comment", a->comment, "isolate_for_s", (json_int_t)a->isolate_for_s,
        "approved_by", a->approved_by, "decided_by", a->decided_by, "created_at",
        json_integer(a->created_at), "dispatched_at", ms_or_null(a->dispatched_at), "acked_at",
        ms_or_null(a->acked_at), "finished_at", ms_or_null(a->finished_at), "expires_at",
        (json_int_t)a->expires_at, "failure_reason", a->failure_reason, "duration_ms",
        end > 0 ? json_integer(end - a->created_at) : json_null(), "result",
        result ? result : json_object(), "has_evidence", a->evidence_bytes > 0);
    return o;
}

enum stk_err svc_actions_get_json(struct app *app, struct db *db, long long id, json_t **out,
                                  struct stk_error *err)
{
    (void)app;
    *out = NULL;
    struct action a;
    struct action_comment *comments = NULL;
    size_t n = 0;
    enum stk_err rc = db_read_begin(db, err);
    if (rc == STK_OK) {
        rc = store_actions_get(db, id, &a, err);
    }
    int isolated = 0;
    if (rc == STK_OK) {
        rc = store_actions_comments(db, id, 1000, &comments, &n, err);
        struct isolation iso;
        isolated = rc == STK_OK &&
                   store_actions_isolation_get(db, a.cluster, a.ns, a.pod, &iso, NULL) == STK_OK;
        if (rc != STK_OK) {
            store_action_release(&a);
        }
    }
    db_read_end(db);
    if (rc != STK_OK) {
        return rc;
    }
    json_t *o = svc_actions_to_json(&a);
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        json_array_append_new(list,
                              json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)comments[i].id,
                                        "ts", (json_int_t)comments[i].ts, "author",
                                        comments[i].author, "text", comments[i].text));
    }
    free(comments);
    int can_cancel = strcmp(a.status, "pending") == 0 || strcmp(a.status, "awaiting_approval") == 0;
    if (o != NULL && list != NULL) {
        json_object_set_new(o, "comments", list);
        json_object_set_new(o, "evidence_bytes", json_integer(a.evidence_bytes));
        json_object_set_new(o, "can_cancel", json_boolean(can_cancel));
        json_object_set_new(o, "pod_isolated", json_boolean(isolated));
        list = NULL;
    }
    json_decref(list);
    store_action_release(&a);
    if (o == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    *out = o;
    return STK_OK;
}
