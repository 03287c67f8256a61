#include "svc_incidents.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "store_users.h"
#include "svc_audit.h"
#include "svc_ingest.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kind_label(int kind, char *out, size_t n)
{
    if (kind == ENT_IP) {
        snprintf(out, n, "IP");
        return;
    }
    snprintf(out, n, "%s", alert_entity_kind_name(kind));
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '-') {
            *p = ' ';
        }
    }
}

void svc_incidents_title(struct incident *in, const char *single, int main_kind,
                         const char *main_name, const char *main_cluster)
{
    char head[400] = "";
    int n_tactics = __builtin_popcount(in->tactics);
    if (in->alert_count <= 1 && single != NULL && single[0] != '\0') {
        snprintf(head, sizeof(head), "%s", single);
    } else if (n_tactics >= 2) {
        size_t used = (size_t)snprintf(head, sizeof(head), "Multi-stage incident involving ");
        int listed = 0;
        for (int t = 1; t < TACTIC_N && used < sizeof(head); t++) {
            if (in->tactics & (1u << t)) {
                used += (size_t)snprintf(head + used, sizeof(head) - used, "%s%s",
                                         listed++ ? " & " : "", alert_tactic_label(t));
            }
        }
    } else if (n_tactics == 1) {
        for (int t = 1; t < TACTIC_N; t++) {
            if (in->tactics & (1u << t)) {
                snprintf(head, sizeof(head), "%s incident", alert_tactic_label(t));
            }
        }
    } else {
        snprintf(head, sizeof(head), "Multiple alerts");
    }
    char kind[32];
    if (main_kind == ENT_CLUSTER) {
        snprintf(in->title, sizeof(in->title), "%s in %s", head, main_name);
    } else if (main_kind >= 0 && main_cluster != NULL && main_cluster[0] != '\0') {
        kind_label(main_kind, kind, sizeof(kind));
        snprintf(in->title, sizeof(in->title), "%s on %s %s in %s", head, kind, main_name,
                 main_cluster);
    } else if (main_kind >= 0) {
        kind_label(main_kind, kind, sizeof(kind));
        snprintf(in->title, sizeof(in->title), "%s on %s %s", head, kind, main_name);
    } else {
        snprintf(in->title, sizeof(in->title), "%s", head);
    }
}

static void fold_alert(const struct incident_alert_fact *f, void *ctx)
{
    struct incident *in = ctx;
    in->alert_count++;
    if (f->severity > in->severity) {
        in->severity = f->severity;
    }
    if (f->tactic > 0 && f->tactic < TACTIC_N) {
        in->tactics |= 1u << f->tactic;
    }
    if (f->provider >= 0 && f->provider < PROV_N) {
        in->sources |= 1u << f->provider;
    }
    if (f->first_ts < in->first_ts) {
        in->first_ts = f->first_ts;
    }
    if (f->last_ts > in->last_ts) {
        in->last_ts = f->last_ts;
    }
}

enum stk_err svc_incidents_recompute(struct db *db, long long id, long long now,
                                     struct stk_error *err)
{
    struct incident in;
    enum stk_err rc = store_incidents_get(db, id, &in, err);
    if (rc != STK_OK) {
        return rc;
    }
    long long first = in.first_ts, last = in.last_ts;
    in.severity = 0;
    in.tactics = 0;
    in.sources = 0;
    in.alert_count = 0;
    in.first_ts = INT64_MAX;
    in.last_ts = 0;
    rc = store_incidents_each_alert(db, id, fold_alert, &in, err);
    if (rc != STK_OK) {
        return rc;
    }
    if (in.alert_count == 0) {
        in.first_ts = first;
        in.last_ts = last;
    }
    struct entity *ents = NULL;
    size_t n = 0;
    rc = store_incidents_entities(db, id, INT32_MAX, &ents, &n, err);
    if (rc != STK_OK) {
        return rc;
    }
    in.entity_count = (long long)n;
    in.high_impact = 0;
    in.main_entity = 0;
    in.main_count = 0;
    snprintf(in.clusters, sizeof(in.clusters), "[]");
    const struct entity *main = NULL;
    json_t *clusters = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct entity *e = &ents[i];
        in.high_impact |= e->critical != 0;
        if (e->kind == ENT_CLUSTER && json_array_size(clusters) < 8) {
            json_array_append_new(clusters, json_string(e->name));
        }
        int better = main == NULL;
        if (!better) {
            int r = svc_ingest_entity_rank(e->kind, e->name);
            int cur = svc_ingest_entity_rank(main->kind, main->name);
            better = r != cur ? r > cur
                              : (e->alert_count != main->alert_count
                                     ? e->alert_count > main->alert_count
                                     : strcmp(e->key, main->key) < 0);
        }
        if (better) {
            main = e;
        }
    }
    char *text = clusters ? json_dumps(clusters, JSON_COMPACT) : NULL;
    if (text != NULL && strlen(text) < sizeof(in.clusters)) {
        memcpy(in.clusters, text, strlen(text) + 1);
    }
    free(text);
    json_decref(clusters);
    char single[ALERT_NAME_MAX] = "";
    if (in.alert_count == 1) {
        struct alert_row *one = NULL;
        size_t n_one = 0;
        rc = store_alerts_by_incident(db, id, 1, &one, &n_one, err);
        if (rc == STK_OK && n_one == 1) {
            snprintf(single, sizeof(single), "%s", one[0].title);
        }
        store_alerts_free(one, n_one);
    }
    if (rc == STK_OK && in.alert_count > 0) {
        if (main != NULL) {
            in.main_entity = main->id;
            in.main_count = main->alert_count;
        }
        svc_incidents_title(&in, single, main ? main->kind : -1, main ? main->name : "",
                            main ? main->cluster : "");
    }
    in.updated_at = now;
    if (rc == STK_OK) {
        rc = store_incidents_save_aggregates(db, &in, err);
    }
    store_entities_free(ents, n);
    return rc;
}

enum stk_err svc_incidents_merge_into(struct db *db, long long from, long long into,
                                      const char *actor, long long now, struct stk_error *err)
{
    struct incident target;
    enum stk_err rc = store_incidents_get(db, into, &target, err);
    if (rc == STK_OK) {
        rc = store_alerts_reassign(db, from, into, err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_move_entities(db, from, into, err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_mark_merged(db, from, into, now, err);
    }
    if (rc == STK_OK) {
        rc = store_alerts_set_linking(db, into, target.status != INC_RESOLVED, err);
    }
    if (rc == STK_OK) {
        rc = svc_incidents_recompute(db, into, now, err);
    }
    char summary[96], details[96];
    snprintf(details, sizeof(details), "{\"from\":%lld,\"into\":%lld}", from, into);
    if (rc == STK_OK) {
        snprintf(summary, sizeof(summary), "Incident %lld merged into this one", from);
        rc = store_incidents_history_add(db, into, now, actor, "merged", summary, details, err);
    }
    if (rc == STK_OK) {
        snprintf(summary, sizeof(summary), "Merged into incident %lld", into);
        rc = store_incidents_history_add(db, from, now, actor, "merged_into", summary, details,
                                         err);
    }
    return rc;
}

/* ---- the queue ---- */

void svc_incidents_page_release(struct incident_page *p)
{
    free(p->rows);
    p->rows = NULL;
    p->count = 0;
}

enum facet_dim { DIM_STATUS, DIM_SEVERITY, DIM_SOURCE, DIM_CLASS, DIM_ASSIGNEE };

static int cell_passes(const struct incident_cell *c, const struct incident_filter *f, int skip)
{
    if (skip != DIM_STATUS) {
        if (f->status >= 0 ? c->status != f->status
                           : (f->status_mask != 0 && !((f->status_mask >> c->status) & 1))) {
            return 0;
        }
    }
    if (skip != DIM_SEVERITY && f->severity_mask != 0 && !((f->severity_mask >> c->severity) & 1)) {
        return 0;
    }
    if (skip != DIM_SOURCE && f->source_mask != 0 && (c->sources & f->source_mask) == 0) {
        return 0;
    }
    if (skip != DIM_CLASS && f->class_mask != 0 && !((f->class_mask >> c->classification) & 1)) {
        return 0;
    }
    if (skip != DIM_ASSIGNEE && f->assignee != NULL && strcmp(c->assignee, f->assignee) != 0) {
        return 0;
    }
    return 1;
}

static void count_assignee(struct incident_facets *fc, const char *name, long long n)
{
    for (int i = 0; i < fc->n_assignees; i++) {
        if (strcmp(fc->assignee[i].name, name) == 0) {
            fc->assignee[i].n += n;
            return;
        }
    }
    if (fc->n_assignees < (int)(sizeof(fc->assignee) / sizeof(fc->assignee[0]))) {
        snprintf(fc->assignee[fc->n_assignees].name, sizeof(fc->assignee[0].name), "%s", name);
        fc->assignee[fc->n_assignees++].n = n;
    }
}

static void count_cells(struct incident_facets *fc, const struct incident_cell *cells, size_t n,
                        const struct incident_filter *f)
{
    for (size_t i = 0; i < n; i++) {
        const struct incident_cell *c = &cells[i];
        if (c->status < 0 || c->status >= INC_MERGED || c->severity < 0 || c->severity > 3 ||
            c->classification < 0 || c->classification > 3) {
            continue;
        }
        if (cell_passes(c, f, DIM_STATUS)) {
            fc->status[c->status] += c->n;
        }
        if (cell_passes(c, f, DIM_SEVERITY)) {
            fc->severity[c->severity] += c->n;
        }
        if (cell_passes(c, f, DIM_SOURCE)) {
            for (int p = 0; p < PROV_N; p++) {
                fc->source[p] += (c->sources >> p) & 1 ? c->n : 0;
            }
        }
        if (cell_passes(c, f, DIM_CLASS)) {
            fc->classification[c->classification] += c->n;
        }
        if (cell_passes(c, f, DIM_ASSIGNEE)) {
            count_assignee(fc, c->assignee, c->n);
        }
    }
}

enum stk_err svc_incidents_list(struct db *db, const struct incident_filter *f,
                                struct incident_page *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct incident_filter page = *f;
    page.limit = f->limit + 1;
    enum stk_err rc = db_read_begin(db, err);
    if (rc == STK_OK && f->cluster != NULL) {
        char key[ALERT_KEY_MAX];
        snprintf(key, sizeof(key), "cluster:%s", f->cluster);
        struct entity e;
        rc = store_entities_get_by_key(db, key, &e, err);
        if (rc == STK_ENOTFOUND) {
            out->facets.exact = 1;
            db_read_end(db);
            return STK_OK; /* no such cluster: nothing matches */
        }
        page.cluster_entity = e.id;
        store_entity_release(&e);
    }
    if (rc == STK_OK) {
        rc = store_incidents_list(db, &page, &out->rows, &out->count, err);
    }
    if (rc != STK_OK) {
        db_read_end(db);
        return rc;
    }
    if (out->count > (size_t)f->limit) {
        out->count = (size_t)f->limit;
        out->has_more = 1;
    }
    struct incident_cell *cells = NULL;
    size_t n = 0;
    int capped = 0;
    if (page.cluster_entity != 0 || f->since != 0 || f->until != 0 || f->text_like != NULL) {
        rc = store_incidents_scan_cells(db, &page, 10000, &cells, &n, &capped, err);
    } else {
        rc = store_incidents_cube(db, &cells, &n, err);
    }
    db_read_end(db);
    if (rc != STK_OK) {
        svc_incidents_page_release(out);
        return rc;
    }
    count_cells(&out->facets, cells, n, f);
    out->facets.exact = !capped;
    free(cells);
    return STK_OK;
}

/* ---- one incident ---- */

void svc_incidents_detail_release(struct incident_detail *d)
{
    for (size_t i = 0; d->alert_entities != NULL && i < d->n_alerts; i++) {
        store_entities_free(d->alert_entities[i], d->n_alert_entities[i]);
    }
    free(d->alert_entities);
    free(d->n_alert_entities);
    store_alerts_free(d->alerts, d->n_alerts);
    store_entities_free(d->entities, d->n_entities);
    store_incident_notes_free(d->comments, d->n_comments);
    store_incident_notes_free(d->history, d->n_history);
    memset(d, 0, sizeof(*d));
}

enum stk_err svc_incidents_get(struct db *db, long long id, int max_alerts,
                               struct incident_detail *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_read_begin(db, err);
    if (rc == STK_OK) {
        rc = store_incidents_get(db, id, &out->in, err);
    }
    if (rc == STK_OK) {
        rc = store_alerts_by_incident(db, id, max_alerts + 1, &out->alerts, &out->n_alerts, err);
    }
    if (rc == STK_OK && out->n_alerts > (size_t)max_alerts) {
        store_alert_release(&out->alerts[max_alerts]);
        out->n_alerts = (size_t)max_alerts;
        out->alerts_truncated = 1;
    }
    if (rc == STK_OK && out->n_alerts > 0) {
        out->alert_entities = calloc(out->n_alerts, sizeof(*out->alert_entities));
        out->n_alert_entities = calloc(out->n_alerts, sizeof(*out->n_alert_entities));
        if (out->alert_entities == NULL || out->n_alert_entities == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; rc == STK_OK && i < out->n_alerts; i++) {
        rc = store_alerts_entities(db, out->alerts[i].id, &out->alert_entities[i],
                                   &out->n_alert_entities[i], err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_entities(db, id, 2000, &out->entities, &out->n_entities, err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_comments(db, id, 1000, &out->comments, &out->n_comments, err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_history(db, id, 1000, &out->history, &out->n_history, err);
    }
    db_read_end(db);
    if (rc != STK_OK) {
        svc_incidents_detail_release(out);
    }
    return rc;
}

enum stk_err svc_alerts_get(struct db *db, long long id, struct alert_row *out,
                            struct entity **entities, size_t *n, struct stk_error *err)
{
    *entities = NULL;
    *n = 0;
    enum stk_err rc = store_alerts_get(db, id, out, err);
    if (rc == STK_OK) {
        rc = store_alerts_entities(db, id, entities, n, err);
        if (rc != STK_OK) {
            store_alert_release(out);
        }
    }
    return rc;
}

/* ---- analyst changes ---- */

static enum stk_err audit(struct db *db, const struct actor *by, const char *action,
                          long long id, json_t *details_taken, struct stk_error *err)
{
    char target[48];
    snprintf(target, sizeof(target), "incident:%lld", id);
    struct audit_event ev = {
        .actor = by->name, .actor_kind = by->kind, .source_ip = by->ip,
        .action = action, .target = target, .outcome = "success", .details = details_taken,
    };
    enum stk_err rc = svc_audit_append(db, &ev, err);
    json_decref(details_taken);
    return rc;
}

static enum stk_err finish(struct db *db, enum stk_err rc, struct stk_error *err)
{
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    if (rc != STK_OK) {
        db_rollback(db);
    }
    return rc;
}

static const char *status_name(int s)
{
    static const char *const names[] = {"active", "in_progress", "resolved", "merged"};
    return s >= 0 && s < INC_STATUS_N ? names[s] : "";
}

static enum stk_err history(struct db *db, long long id, long long now, const struct actor *by,
                            const char *kind, const char *summary, json_t *details)
{
    char *text = details ? json_dumps(details, JSON_COMPACT) : NULL;
    enum stk_err rc = store_incidents_history_add(db, id, now, by->name, kind, summary, text,
                                                  NULL);
    free(text);
    return rc;
}

static enum stk_err check_change(struct db *db, const struct incident *cur,
                                 const struct incident_change *ch, struct incident *next,
                                 struct stk_error *err)
{
    *next = *cur;
    if (cur->status == INC_MERGED) {
        return stk_error_set(err, STK_ECONFLICT, "incident %lld was merged into incident %lld",
                             cur->id, cur->merged_into);
    }
    if (ch->has_status) {
        next->status = ch->status;
    }
    if (ch->has_assignee) {
        snprintf(next->assignee, sizeof(next->assignee), "%s", ch->assignee);
    }
    if (ch->has_classification) {
        next->classification = ch->classification;
        if (!ch->has_determination && ch->classification != cur->classification) {
            next->determination[0] = '\0';
        }
    }
    if (ch->has_determination) {
        snprintf(next->determination, sizeof(next->determination), "%s", ch->determination);
    }
    if (ch->has_tags) {
        snprintf(next->tags, sizeof(next->tags), "%s", ch->tags);
    }
    if (next->determination[0] != '\0' &&
        !alert_determination_ok(next->classification, next->determination)) {
        return stk_error_set(err, STK_EINVAL, "determination \"%s\" does not fit classification "
                             "\"%s\"", next->determination,
                             next->classification ? alert_classification_label(
                                                        next->classification)
                                                  : "none");
    }
    if (next->status == INC_RESOLVED && next->classification == CLASS_NONE) {
        return stk_error_set(err, STK_EINVAL,
                             "resolving an incident needs a classification (true positive, "
                             "informational or false positive)");
    }
    if (ch->has_assignee && ch->assignee[0] != '\0' &&
        strcmp(ch->assignee, cur->assignee) != 0) {
        struct user u;
        enum stk_err rc = store_users_get_by_name(db, ch->assignee, &u, NULL);
        if (rc == STK_ENOTFOUND || (rc == STK_OK && (u.disabled ||
                                                     !(u.perms & PERMBIT_ALERTS_MANAGE)))) {
            return stk_error_set(err, STK_EINVAL, "cannot assign to \"%s\": no enabled user "
                                 "with Alerts: Manage has that name", ch->assignee);
        }
        if (rc != STK_OK) {
            return stk_error_set(err, rc, "reading users failed");
        }
        /* User names match without regard to case: keep the user's own. */
        snprintf(next->assignee, sizeof(next->assignee), "%.63s", u.username);
    }
    return STK_OK;
}

static enum stk_err record_changes(struct db *db, const struct actor *by,
                                   const struct incident *cur, const struct incident *next,
                                   long long now, json_t *changes)
{
    char summary[256];
    enum stk_err rc = STK_OK;
    if (cur->status != next->status) {
        snprintf(summary, sizeof(summary), "Status changed from %s to %s",
                 status_name(cur->status), status_name(next->status));
        json_object_set_new(changes, "status", json_string(status_name(next->status)));
        rc = history(db, cur->id, now, by, "status", summary, NULL);
    }
    if (rc == STK_OK && strcmp(cur->assignee, next->assignee) != 0) {
        if (next->assignee[0] != '\0') {
            snprintf(summary, sizeof(summary), "Assigned to %s", next->assignee);
        } else {
            snprintf(summary, sizeof(summary), "Unassigned (was %s)", cur->assignee);
        }
        json_object_set_new(changes, "assignee", json_string(next->assignee));
        rc = history(db, cur->id, now, by, "assignee", summary, NULL);
    }
    if (rc == STK_OK && (cur->classification != next->classification ||
                         strcmp(cur->determination, next->determination) != 0)) {
        if (next->classification == CLASS_NONE) {
            snprintf(summary, sizeof(summary), "Classification cleared");
        } else {
            snprintf(summary, sizeof(summary), "Classified as %s%s%s",
                     alert_classification_label(next->classification),
                     next->determination[0] ? " / " : "",
                     next->determination[0] ? alert_determination_label(next->determination)
                                            : "");
        }
        json_object_set_new(changes, "classification",
                            json_string(alert_classification_name(next->classification)));
        json_object_set_new(changes, "determination", json_string(next->determination));
        rc = history(db, cur->id, now, by, "classification", summary, NULL);
    }
    if (rc == STK_OK && strcmp(cur->tags, next->tags) != 0) {
        snprintf(summary, sizeof(summary), "Tags set to %.200s", next->tags);
        json_error_t jerr;
        json_object_set_new(changes, "tags", json_loads(next->tags, 0, &jerr));
        rc = history(db, cur->id, now, by, "tags", summary, NULL);
    }
    return rc;
}

enum stk_err svc_incidents_update(struct db *db, const struct actor *by, long long id,
                                  const struct incident_change *ch, struct incident *out,
                                  struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    struct incident cur, next;
    rc = store_incidents_get(db, id, &cur, err);
    if (rc == STK_OK) {
        rc = check_change(db, &cur, ch, &next, err);
    }
    long long now = now_ms();
    json_t *changes = json_object();
    if (rc == STK_OK) {
        rc = record_changes(db, by, &cur, &next, now, changes);
    }
    if (rc == STK_OK && (cur.status == INC_RESOLVED) != (next.status == INC_RESOLVED)) {
        rc = store_alerts_set_linking(db, id, next.status != INC_RESOLVED, err);
    }
    if (rc == STK_OK && json_object_size(changes) > 0) {
        next.updated_at = now;
        rc = store_incidents_save_triage(db, &next, err);
        if (rc == STK_OK) {
            rc = audit(db, by, "incident.update", id, json_incref(changes), err);
        }
    }
    json_decref(changes);
    rc = finish(db, rc, err);
    if (rc == STK_OK) {
        *out = next;
    }
    return rc;
}

enum stk_err svc_incidents_comment(struct db *db, const struct actor *by, long long id,
                                   const char *text, struct incident_note *out,
                                   struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    struct incident cur;
    long long now = now_ms(), cid = 0;
    rc = store_incidents_get(db, id, &cur, err);
    if (rc == STK_OK && cur.status == INC_MERGED) {
        rc = stk_error_set(err, STK_ECONFLICT, "incident %lld was merged into incident %lld", id,
                           cur.merged_into);
    }
    if (rc == STK_OK) {
        rc = store_incidents_comment_add(db, id, now, by->name, text, &cid, err);
    }
    if (rc == STK_OK) {
        char summary[160];
        snprintf(summary, sizeof(summary), "Comment: %.120s%s", text,
                 strlen(text) > 120 ? "..." : "");
        rc = history(db, id, now, by, "comment", summary, NULL);
    }
    if (rc == STK_OK) {
        rc = audit(db, by, "incident.comment", id, json_pack("{s:I, s:s}", "comment_id",
                                                             (json_int_t)cid, "text", text),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc == STK_OK) {
        out->id = cid;
        out->incident_id = id;
        out->ts = now;
        snprintf(out->actor, sizeof(out->actor), "%s", by->name);
        snprintf(out->kind, sizeof(out->kind), "comment");
        out->text = strdup(text);
        if (out->text == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
    }
    return rc;
}

enum stk_err svc_incidents_merge(struct db *db, const struct actor *by, long long into,
                                 const long long *ids, size_t n, struct incident *out,
                                 struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    long long now = now_ms();
    struct incident target;
    rc = store_incidents_get(db, into, &target, err);
    if (rc == STK_OK && target.status == INC_MERGED) {
        rc = stk_error_set(err, STK_ECONFLICT, "incident %lld was merged into incident %lld",
                           into, target.merged_into);
    }
    json_t *merged = json_array();
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        struct incident other;
        rc = store_incidents_get(db, ids[i], &other, err);
        if (rc == STK_ENOTFOUND) {
            rc = stk_error_set(err, STK_EINVAL, "no incident %lld to merge", ids[i]);
        } else if (rc == STK_OK && (ids[i] == into || other.status == INC_MERGED)) {
            rc = stk_error_set(err, STK_ECONFLICT, "incident %lld cannot be merged into %lld",
                               ids[i], into);
        }
        if (rc == STK_OK) {
            rc = svc_incidents_merge_into(db, ids[i], into, by->name, now, err);
            json_array_append_new(merged, json_integer(ids[i]));
        }
    }
    if (rc == STK_OK) {
        rc = audit(db, by, "incident.merge", into, json_pack("{s:O}", "merged", merged), err);
    }
    json_decref(merged);
    if (rc == STK_OK) {
        rc = store_incidents_get(db, into, out, err);
    }
    return finish(db, rc, err);
}

enum stk_err svc_alerts_move(struct db *db, const struct actor *by, long long alert_id,
                             long long incident_id, struct alert_row *out,
                             struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    long long now = now_ms();
    struct alert_row a;
    struct incident to;
    memset(&a, 0, sizeof(a));
    rc = store_alerts_get(db, alert_id, &a, err);
    if (rc == STK_OK) {
        rc = store_incidents_get(db, incident_id, &to, err);
        if (rc == STK_ENOTFOUND) {
            rc = stk_error_set(err, STK_EINVAL, "no incident %lld to move the alert to",
                               incident_id);
        } else if (rc == STK_OK && to.status == INC_MERGED) {
            rc = stk_error_set(err, STK_ECONFLICT, "incident %lld was merged into %lld",
                               incident_id, to.merged_into);
        } else if (rc == STK_OK && a.incident_id == incident_id) {
            rc = stk_error_set(err, STK_ECONFLICT, "alert %lld is already in incident %lld",
                               alert_id, incident_id);
        }
    }
    long long from = a.incident_id;
    if (rc == STK_OK) {
        rc = store_alerts_pin_to(db, alert_id, incident_id, err);
    }
    for (int pass = 0; rc == STK_OK && pass < 2; pass++) {
        long long id = pass == 0 ? from : incident_id;
        rc = store_incidents_rebuild_entities(db, id, err);
        if (rc == STK_OK) {
            rc = svc_incidents_recompute(db, id, now, err);
        }
    }
    char summary[ALERT_NAME_MAX + 64];
    if (rc == STK_OK) {
        snprintf(summary, sizeof(summary), "Alert \"%s\" moved to incident %lld", a.title,
                 incident_id);
        rc = history(db, from, now, by, "alert_moved_out", summary, NULL);
    }
    if (rc == STK_OK) {
        snprintf(summary, sizeof(summary), "Alert \"%s\" moved here from incident %lld",
                 a.title, from);
        rc = history(db, incident_id, now, by, "alert_moved_in", summary, NULL);
    }
    if (rc == STK_OK) {
        rc = audit(db, by, "alert.move", incident_id,
                   json_pack("{s:I, s:I, s:I}", "alert_id", (json_int_t)alert_id, "from",
                             (json_int_t)from, "to", (json_int_t)incident_id),
                   err);
    }
    store_alert_release(&a);
    if (rc == STK_OK) {
        rc = store_alerts_get(db, alert_id, out, err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        store_alert_release(out);
    }
    return rc;
}

enum stk_err svc_incidents_split(struct db *db, const struct actor *by, long long id,
                                 const long long *alert_ids, size_t n, struct incident *out,
                                 struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    if (n == 0) {
        return stk_error_set(err, STK_EINVAL, "name at least one alert to split out");
    }
    enum stk_err rc = db_begin(db, err);
    if (rc != STK_OK) {
        return rc;
    }
    long long now = now_ms(), new_id = 0;
    struct incident cur;
    rc = store_incidents_get(db, id, &cur, err);
    if (rc == STK_OK && cur.status == INC_MERGED) {
        rc = stk_error_set(err, STK_ECONFLICT, "incident %lld was merged into %lld", id,
                           cur.merged_into);
    }
    if (rc == STK_OK && (long long)n >= cur.alert_count) {
        rc = stk_error_set(err, STK_EINVAL, "a split must leave at least one alert behind");
    }
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        struct alert_row a;
        rc = store_alerts_get(db, alert_ids[i], &a, err);
        if (rc == STK_ENOTFOUND || (rc == STK_OK && a.incident_id != id)) {
            rc = stk_error_set(err, STK_EINVAL, "alert %lld is not in incident %lld",
                               alert_ids[i], id);
        }
        if (rc == STK_OK && new_id == 0) {
            struct incident fresh;
            memset(&fresh, 0, sizeof(fresh));
            snprintf(fresh.title, sizeof(fresh.title), "%s", a.title);
            fresh.status = cur.status == INC_RESOLVED ? INC_ACTIVE : cur.status;
            fresh.first_ts = a.first_ts;
            fresh.last_ts = a.last_ts;
            fresh.created_at = now;
            fresh.updated_at = now;
            rc = store_incidents_insert(db, &fresh, &new_id, err);
        }
        if (rc == STK_OK) {
            rc = store_alerts_pin_to(db, alert_ids[i], new_id, err);
        }
        store_alert_release(&a);
    }
    for (int pass = 0; rc == STK_OK && pass < 2; pass++) {
        long long which = pass == 0 ? id : new_id;
        rc = store_incidents_rebuild_entities(db, which, err);
        if (rc == STK_OK) {
            rc = svc_incidents_recompute(db, which, now, err);
        }
    }
    char summary[96];
    if (rc == STK_OK) {
        snprintf(summary, sizeof(summary), "%zu alert%s split out into incident %lld", n,
                 n == 1 ? "" : "s", new_id);
        rc = history(db, id, now, by, "split", summary, NULL);
    }
    if (rc == STK_OK) {
        snprintf(summary, sizeof(summary), "Created by splitting %zu alert%s out of incident %lld",
                 n, n == 1 ? "" : "s", id);
        rc = history(db, new_id, now, by, "created", summary, NULL);
    }
    if (rc == STK_OK) {
        rc = audit(db, by, "incident.split", id, json_pack("{s:I, s:I}", "new_incident",
                                                           (json_int_t)new_id, "alerts",
                                                           (json_int_t)n),
                   err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_get(db, new_id, out, err);
    }
    return finish(db, rc, err);
}



enum stk_err svc_incidents_assignees(struct db *db, struct user **out, size_t *count,
                                     struct stk_error *err)
{
    enum stk_err rc = store_users_list(db, out, count, err);
    if (rc != STK_OK) {
        return rc;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *count; i++) {
        struct user *u = &(*out)[i];
        if (!u->disabled && (u->perms & PERMBIT_ALERTS_MANAGE)) {
            sodium_memzero(u->password_hash, sizeof(u->password_hash));
            (*out)[kept++] = *u;
        }
    }
    for (size_t i = kept; i < *count; i++) {
        sodium_memzero((*out)[i].password_hash, sizeof((*out)[i].password_hash));
    }
    *count = kept;
    return STK_OK;
}
