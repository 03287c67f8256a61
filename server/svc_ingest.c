/* Correlation, and why it is both incremental and order-independent.
 *
 * Two alerts are linked when they share a correlating entity (pod,
 * container, identity, IP: within the correlation window; a namespace:
 * within the shorter namespace window). Incidents are the connected groups
 * of linked alerts. We keep this invariant for every entity e: any two
 * linking alerts involving e whose times are within e's window of each
 * other are in the same incident. Then the linking alerts of e inside
 * [t - W, t] all share one incident (their gaps are all <= W), and so do
 * those inside [t, t + W]; so a new alert at t only needs the nearest
 * linking alert on each side, per entity: two index probes, whatever the
 * size of the data. Joining (and merging) those incidents restores the
 * invariant, and the final grouping is the connected components whatever
 * the arrival order.
 *
 * Linking alerts: not pinned by an analyst, and not in a resolved incident
 * (alert_entities.corr). */
#include "svc_ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_alerts.h"
#include "store_edges.h"
#include "store_entities.h"
#include "store_incidents.h"
#include "svc_audit.h"
#include "svc_incidents.h"
#include "svc_paths.h"

static int identity_too_common(const char *name);

int svc_ingest_entity_rank(int kind, const char *name)
{
    /* An identity every request carries names nothing: rank it low. */
    if (kind == ENT_IDENTITY && identity_too_common(name)) {
        return 1;
    }
    return svc_ingest_kind_rank(kind);
}

int svc_ingest_kind_rank(int kind)
{
    static const int rank[ENT_KIND_N] = {
        [ENT_POD] = 12,           [ENT_CONTAINER] = 11, [ENT_IDENTITY] = 10, [ENT_IP] = 9,
        [ENT_CLOUD_RESOURCE] = 8, [ENT_DEPLOYMENT] = 7, [ENT_SERVICE] = 6,   [ENT_NODE] = 5,
        [ENT_NAMESPACE] = 4,      [ENT_IMAGE] = 3,      [ENT_REGISTRY] = 2,  [ENT_CLUSTER] = 1,
    };
    return kind >= 0 && kind < ENT_KIND_N ? rank[kind] : 0;
}

/* Identities every request of a cluster carries: linking on them would
 * glue unrelated incidents together. */
static int identity_too_common(const char *name)
{
    static const char *const exact[] = {
        "system:anonymous",      "system:apiserver",  "system:kube-controller-manager",
        "system:kube-scheduler", "system:kube-proxy", "kubernetes-admin",
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (strcmp(name, exact[i]) == 0) {
            return 1;
        }
    }
    return strncmp(name, "system:node:", 12) == 0;
}

static long long window_for(const struct ingest_settings *s, const struct entity_ref *e)
{
    switch (e->kind) {
    case ENT_POD:
    case ENT_CONTAINER:
    case ENT_IP:
        return s->window_ms;
    case ENT_IDENTITY:
        return identity_too_common(e->name) ? 0 : s->window_ms;
    case ENT_NAMESPACE:
        return s->ns_window_ms;
    default:
        return 0;
    }
}

/* The cluster an entity belongs to, from its key ("pod:C/ns/name"). */
void svc_ingest_entity_cluster(const struct entity_ref *e, const char *alert_cluster, char *out,
                               size_t n)
{
    out[0] = '\0';
    if (e->kind == ENT_CLUSTER) {
        snprintf(out, n, "%.*s", (int)(n - 1), e->name);
        return;
    }
    const char *colon = strchr(e->key, ':');
    size_t cl = strlen(alert_cluster);
    if (colon != NULL && cl > 0 && strncmp(colon + 1, alert_cluster, cl) == 0 &&
        colon[1 + cl] == '/') {
        snprintf(out, n, "%s", alert_cluster);
    }
}

const struct ingest_edge_rule svc_ingest_edge_rules[] = {
    {ENT_CONTAINER, ENT_POD, "runs-in"},
    {ENT_POD, ENT_NAMESPACE, "in-namespace"},
    {ENT_NAMESPACE, ENT_CLUSTER, "in-cluster"},
    {ENT_NODE, ENT_CLUSTER, "in-cluster"},
    {ENT_POD, ENT_NODE, "runs-on"},
    {ENT_CONTAINER, ENT_IMAGE, "from-image"},
    {ENT_IMAGE, ENT_REGISTRY, "hosted-in"},
    {ENT_POD, ENT_IP, "talked-to"},
    {ENT_POD, ENT_CLOUD_RESOURCE, "accessed"},
    {ENT_IDENTITY, ENT_CLOUD_RESOURCE, "accessed"},
    {ENT_IDENTITY, ENT_IP, "connected-from"},
};
const size_t svc_ingest_edge_rule_count =
    sizeof(svc_ingest_edge_rules) / sizeof(svc_ingest_edge_rules[0]);
#define edge_rules svc_ingest_edge_rules
#define EDGE_RULES svc_ingest_edge_rule_count

/* An incident being changed by this batch, written back once at the end. */
struct inc_state {
    struct incident in;
    int main_kind; /* -1: none */
    char main_key[ALERT_KEY_MAX];
    char main_name[ALERT_NAME_MAX];
    char main_cluster[ALERT_CLUSTER_MAX];
    char single[ALERT_NAME_MAX]; /* title of its only alert */
    int dirty;
};

#define STATE_SLOTS 32
#define TOUCH_SLOTS 4096 /* power of two */
#define TOUCH_FLUSH_AT 3000

struct touch_slot {
    long long id; /* 0: empty */
    long long ts;
};

/* An entity already resolved in this batch (its key is borrowed from the
 * batch, which outlives the context). */
struct entity_slot {
    const char *key; /* NULL: empty */
    unsigned long long hash;
    long long id;
    int critical;
};
#define ENTITY_SLOTS 2048 /* power of two; the cache stops growing at 3/4 */

/* Alerts added to an (incident, entity) pair in this batch, written once:
 * `base` is the stored count when the batch first met the pair. */
struct ie_slot {
    long long incident; /* 0: empty */
    long long entity;
    long long base, delta;
};
#define IE_SLOTS 4096 /* power of two; flushed at 3/4 */

/* An edge seen in this batch, written once at the end. */
struct edge_slot {
    long long src; /* 0: empty */
    long long dst;
    int rule;
    long long ts;
};

struct ingest_ctx {
    struct db *db;
    const struct ingest_settings *s;
    long long now;
    struct inc_state *states; /* STATE_SLOTS */
    int n_states;
    struct ingest_result *res;
    struct stk_error *err;
    struct touch_slot *touches; /* TOUCH_SLOTS */
    int n_touches;
    struct edge_slot *edges; /* TOUCH_SLOTS */
    int n_edges;
    struct entity_slot *entities; /* ENTITY_SLOTS */
    int n_entities;
    struct ie_slot *ies; /* IE_SLOTS */
    int n_ies;
    /* Workloads and images seen for the first time: attack paths may now
     * start from them (a pod running an image Trivy found vulnerable). */
    long long *fresh;
    size_t n_fresh, cap_fresh;
};

static enum stk_err note_fresh(struct ingest_ctx *c, int kind, long long id)
{
    if (kind != ENT_POD && kind != ENT_CONTAINER && kind != ENT_IMAGE && kind != ENT_DEPLOYMENT) {
        return STK_OK;
    }
    if (c->n_fresh == c->cap_fresh) {
        size_t cap = c->cap_fresh ? c->cap_fresh * 2 : 64;
        long long *grown = realloc(c->fresh, cap * sizeof(*grown));
        if (grown == NULL) {
            return stk_error_set(c->err, STK_ENOMEM, "out of memory");
        }
        c->fresh = grown;
        c->cap_fresh = cap;
    }
    c->fresh[c->n_fresh++] = id;
    return STK_OK;
}

static enum stk_err edges_flush(struct ingest_ctx *c)
{
    for (int i = 0; i < TOUCH_SLOTS && c->n_edges > 0; i++) {
        struct edge_slot *e = &c->edges[i];
        if (e->src != 0) {
            enum stk_err rc = store_edges_upsert(c->db, e->src, e->dst, edge_rules[e->rule].kind,
                                                 "alert", NULL, e->ts, c->err);
            if (rc != STK_OK) {
                return rc;
            }
            e->src = 0;
            c->n_edges--;
        }
    }
    return STK_OK;
}

static enum stk_err edge_seen(struct ingest_ctx *c, long long src, long long dst, int rule,
                              long long ts)
{
    unsigned long long k = (unsigned long long)src * 0x9E3779B97F4A7C15ull ^
                           (unsigned long long)dst * 0xC2B2AE3D27D4EB4Full ^ (unsigned)rule;
    unsigned h = (unsigned)(k >> 40);
    for (unsigned i = 0;; i++) {
        struct edge_slot *e = &c->edges[(h + i) & (TOUCH_SLOTS - 1)];
        if (e->src == src && e->dst == dst && e->rule == rule) {
            e->ts = ts > e->ts ? ts : e->ts;
            return STK_OK;
        }
        if (e->src == 0) {
            *e = (struct edge_slot){.src = src, .dst = dst, .rule = rule, .ts = ts};
            break;
        }
    }
    return ++c->n_edges >= TOUCH_FLUSH_AT ? edges_flush(c) : STK_OK;
}

/* Records the relations between the entities of one alert. */
static enum stk_err alert_edges(struct ingest_ctx *c, const struct alert_in *a,
                                const long long *ids)
{
    for (size_t r = 0; r < EDGE_RULES; r++) {
        for (int i = 0; i < a->n_entities; i++) {
            if ((int)a->entities[i].kind != edge_rules[r].from) {
                continue;
            }
            for (int j = 0; j < a->n_entities; j++) {
                if ((int)a->entities[j].kind == edge_rules[r].to && ids[i] != ids[j]) {
                    enum stk_err rc = edge_seen(c, ids[i], ids[j], (int)r, a->last_ms);
                    if (rc != STK_OK) {
                        return rc;
                    }
                }
            }
        }
    }
    return STK_OK;
}

static enum stk_err touch_flush(struct ingest_ctx *c)
{
    for (int i = 0; i < TOUCH_SLOTS && c->n_touches > 0; i++) {
        struct touch_slot *t = &c->touches[i];
        if (t->id != 0) {
            enum stk_err rc = store_entities_touch(c->db, t->id, t->ts, c->err);
            if (rc != STK_OK) {
                return rc;
            }
            t->id = 0;
            c->n_touches--;
        }
    }
    return STK_OK;
}

static enum stk_err touch(struct ingest_ctx *c, long long id, long long ts)
{
    unsigned h = (unsigned)((unsigned long long)id * 0x9E3779B97F4A7C15ull >> 40);
    for (unsigned i = 0;; i++) {
        struct touch_slot *t = &c->touches[(h + i) & (TOUCH_SLOTS - 1)];
        if (t->id == id) {
            t->ts = ts > t->ts ? ts : t->ts;
            return STK_OK;
        }
        if (t->id == 0) {
            t->id = id;
            t->ts = ts;
            break;
        }
    }
    return ++c->n_touches >= TOUCH_FLUSH_AT ? touch_flush(c) : STK_OK;
}

/* Writes every pending (incident, entity) count. Before a merge rewrites
 * incident_entities, and at the end of the batch. */
static enum stk_err ies_flush(struct ingest_ctx *c)
{
    for (int i = 0; i < IE_SLOTS && c->n_ies > 0; i++) {
        struct ie_slot *e = &c->ies[i];
        if (e->incident != 0) {
            enum stk_err rc =
                e->delta == 0
                    ? STK_OK
                    : store_incidents_add_entity(c->db, e->incident, e->entity, e->delta, c->err);
            if (rc != STK_OK) {
                return rc;
            }
            e->incident = 0;
            c->n_ies--;
        }
    }
    return STK_OK;
}

/* Counts one more alert of `incident` involving `entity`; `*count` is the
 * new total. */
static enum stk_err ies_add(struct ingest_ctx *c, long long incident, long long entity,
                            long long *count)
{
    unsigned long long k = (unsigned long long)incident * 0x9E3779B97F4A7C15ull ^
                           (unsigned long long)entity * 0xC2B2AE3D27D4EB4Full;
    unsigned h = (unsigned)(k >> 40);
    for (unsigned i = 0;; i++) {
        struct ie_slot *e = &c->ies[(h + i) & (IE_SLOTS - 1)];
        if (e->incident == incident && e->entity == entity) {
            *count = e->base + ++e->delta;
            return STK_OK;
        }
        if (e->incident == 0) {
            if (c->n_ies >= IE_SLOTS * 3 / 4) {
                enum stk_err rc = ies_flush(c);
                return rc == STK_OK ? ies_add(c, incident, entity, count) : rc;
            }
            long long base = 0;
            enum stk_err rc = store_incidents_entity_count(c->db, incident, entity, &base, c->err);
            if (rc != STK_OK) {
                return rc;
            }
            *e = (struct ie_slot){.incident = incident, .entity = entity, .base = base, .delta = 1};
            c->n_ies++;
            *count = base + 1;
            return STK_OK;
        }
    }
}

static enum stk_err flush_state(struct ingest_ctx *c, struct inc_state *st)
{
    if (!st->dirty) {
        return STK_OK;
    }
    svc_incidents_title(&st->in, st->single, st->main_kind, st->main_name, st->main_cluster);
    st->in.updated_at = c->now;
    st->dirty = 0;
    return store_incidents_save_aggregates(c->db, &st->in, c->err);
}

static enum stk_err flush_all(struct ingest_ctx *c)
{
    for (int i = 0; i < c->n_states; i++) {
        enum stk_err rc = flush_state(c, &c->states[i]);
        if (rc != STK_OK) {
            return rc;
        }
    }
    c->n_states = 0;
    return STK_OK;
}

/* Forgets the cached state of `id` after writing it (before a merge
 * rewrites the row behind our back). */
static enum stk_err drop_state(struct ingest_ctx *c, long long id)
{
    for (int i = 0; i < c->n_states; i++) {
        if (c->states[i].in.id == id) {
            enum stk_err rc = flush_state(c, &c->states[i]);
            c->states[i] = c->states[--c->n_states];
            return rc;
        }
    }
    return STK_OK;
}

static enum stk_err load_state(struct ingest_ctx *c, long long id, struct inc_state **out)
{
    *out = NULL;
    for (int i = 0; i < c->n_states; i++) {
        if (c->states[i].in.id == id) {
            *out = &c->states[i];
            return STK_OK;
        }
    }
    if (c->n_states == STATE_SLOTS) {
        enum stk_err rc = flush_all(c);
        if (rc != STK_OK) {
            return rc;
        }
    }
    struct inc_state *st = &c->states[c->n_states];
    memset(st, 0, sizeof(*st));
    enum stk_err rc = store_incidents_get(c->db, id, &st->in, c->err);
    if (rc != STK_OK) {
        return rc;
    }
    st->main_kind = -1;
    if (st->in.main_entity != 0) {
        struct entity e;
        rc = store_entities_get(c->db, st->in.main_entity, &e, c->err);
        if (rc != STK_OK) {
            return rc;
        }
        st->main_kind = e.kind;
        snprintf(st->main_key, sizeof(st->main_key), "%s", e.key);
        snprintf(st->main_name, sizeof(st->main_name), "%s", e.name);
        snprintf(st->main_cluster, sizeof(st->main_cluster), "%s", e.cluster);
        store_entity_release(&e);
    }
    c->n_states++;
    *out = st;
    return STK_OK;
}

static enum stk_err create_incident(struct ingest_ctx *c, const struct alert_in *a, long long *id)
{
    struct incident in;
    memset(&in, 0, sizeof(in));
    snprintf(in.title, sizeof(in.title), "%s", a->title);
    in.severity = a->severity;
    in.status = INC_ACTIVE;
    in.first_ts = a->first_ms;
    in.last_ts = a->last_ms;
    in.created_at = c->now;
    in.updated_at = c->now;
    enum stk_err rc = store_incidents_insert(c->db, &in, id, c->err);
    if (rc == STK_OK) {
        char summary[ALERT_NAME_MAX + 40];
        snprintf(summary, sizeof(summary), "Created from alert \"%s\"", a->title);
        rc = store_incidents_history_add(c->db, *id, c->now, "system", "created", summary, NULL,
                                         c->err);
    }
    if (rc == STK_OK) {
        c->res->incidents_created++;
    }
    return rc;
}

/* Adds a cluster name to the incident's JSON list (at most 8 kept). */
static void add_cluster(struct incident *in, const char *name)
{
    json_error_t jerr;
    json_t *list = json_loads(in->clusters[0] ? in->clusters : "[]", 0, &jerr);
    if (!json_is_array(list) || json_array_size(list) >= 8) {
        json_decref(list);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (strcmp(json_string_value(v) ? json_string_value(v) : "", name) == 0) {
            json_decref(list);
            return;
        }
    }
    json_array_append_new(list, json_string(name));
    char *text = json_dumps(list, JSON_COMPACT);
    if (text != NULL && strlen(text) < sizeof(in->clusters)) {
        memcpy(in->clusters, text, strlen(text) + 1);
    }
    free(text);
    json_decref(list);
}

/* True when (rank, count, key) beats the incident's main entity. */
static int better_main(const struct inc_state *st, int kind, const char *name, long long count,
                       const char *key)
{
    if (st->main_kind < 0) {
        return 1;
    }
    int r = svc_ingest_entity_rank(kind, name);
    int cur = svc_ingest_entity_rank(st->main_kind, st->main_name);
    if (r != cur) {
        return r > cur;
    }
    if (count != st->in.main_count) {
        return count > st->in.main_count;
    }
    return strcmp(key, st->main_key) < 0;
}

static enum stk_err add_to_incident(struct ingest_ctx *c, struct inc_state *st,
                                    const struct alert_in *a, const long long *ids,
                                    const int *critical)
{
    struct incident *in = &st->in;
    if (in->alert_count == 0) {
        snprintf(st->single, sizeof(st->single), "%s", a->title);
    }
    in->alert_count++;
    if ((int)a->severity > in->severity) {
        in->severity = a->severity;
    }
    if (a->tactic != TACTIC_NONE) {
        in->tactics |= 1u << a->tactic;
    }
    in->sources |= 1u << a->provider;
    if (a->first_ms < in->first_ts) {
        in->first_ts = a->first_ms;
    }
    if (a->last_ms > in->last_ts) {
        in->last_ts = a->last_ms;
    }
    for (int i = 0; i < a->n_entities; i++) {
        const struct entity_ref *e = &a->entities[i];
        long long count = 0;
        enum stk_err rc = ies_add(c, in->id, ids[i], &count);
        if (rc != STK_OK) {
            return rc;
        }
        if (count == 1) {
            in->entity_count++;
            if (e->kind == ENT_CLUSTER) {
                add_cluster(in, e->name);
            }
        }
        if (critical[i]) {
            in->high_impact = 1;
        }
        if (ids[i] == in->main_entity) {
            in->main_count = count;
        } else if (better_main(st, e->kind, e->name, count, e->key)) {
            in->main_entity = ids[i];
            in->main_count = count;
            st->main_kind = e->kind;
            snprintf(st->main_key, sizeof(st->main_key), "%s", e->key);
            snprintf(st->main_name, sizeof(st->main_name), "%s", e->name);
            svc_ingest_entity_cluster(e, a->cluster, st->main_cluster, sizeof(st->main_cluster));
        }
    }
    st->dirty = 1;
    return STK_OK;
}

/* The incidents an alert links to, smallest id first, without repeats. */
static enum stk_err find_links(struct ingest_ctx *c, const struct alert_in *a, const long long *ids,
                               long long *found, int *n_found)
{
    *n_found = 0;
    for (int i = 0; i < a->n_entities; i++) {
        long long w = window_for(c->s, &a->entities[i]);
        if (w <= 0) {
            continue;
        }
        long long near[2];
        enum stk_err rc =
            store_alerts_neighbours(c->db, ids[i], a->first_ms, w, &near[0], &near[1], c->err);
        if (rc != STK_OK) {
            return rc;
        }
        for (int k = 0; k < 2; k++) {
            int seen = near[k] == 0;
            for (int j = 0; j < *n_found && !seen; j++) {
                seen = found[j] == near[k];
            }
            if (!seen) {
                int j = (*n_found)++;
                while (j > 0 && found[j - 1] > near[k]) {
                    found[j] = found[j - 1];
                    j--;
                }
                found[j] = near[k];
            }
        }
    }
    return STK_OK;
}

static unsigned long long key_hash(const char *s)
{
    unsigned long long h = 1469598103934665603ull; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

/* The cached slot of `key`, or the empty slot where it would go. */
static struct entity_slot *entity_slot(struct ingest_ctx *c, const char *key, unsigned long long h)
{
    for (unsigned i = 0;; i++) {
        struct entity_slot *e = &c->entities[(h + i) & (ENTITY_SLOTS - 1)];
        if (e->key == NULL || (e->hash == h && strcmp(e->key, key) == 0)) {
            return e;
        }
    }
}

/* Finds or creates an entity. Its last_seen moves forward once per batch
 * (touch_flush), not once per alert: hot entities are in most alerts. */
static enum stk_err resolve_entity(struct ingest_ctx *c, const struct alert_in *a,
                                   const struct entity_ref *e, long long *id, int *critical)
{
    unsigned long long h = key_hash(e->key);
    struct entity_slot *slot = entity_slot(c, e->key, h);
    if (slot->key != NULL) {
        *id = slot->id;
        *critical = slot->critical;
        return touch(c, *id, a->last_ms);
    }
    enum stk_err rc = store_entities_find(c->db, e->key, id, critical, c->err);
    if (rc == STK_OK && c->n_entities < ENTITY_SLOTS * 3 / 4) {
        *slot = (struct entity_slot){.key = e->key, .hash = h, .id = *id, .critical = *critical};
        c->n_entities++;
    }
    if (rc == STK_OK) {
        return touch(c, *id, a->last_ms);
    }
    if (rc != STK_ENOTFOUND) {
        return rc;
    }
    char cluster[ALERT_CLUSTER_MAX];
    svc_ingest_entity_cluster(e, a->cluster, cluster, sizeof(cluster));
    char *dumped =
        e->props_json == NULL && e->props != NULL ? json_dumps(e->props, JSON_COMPACT) : NULL;
    rc = store_entities_insert(c->db, e->kind, e->key, e->name, cluster,
                               e->props_json != NULL ? e->props_json : dumped, a->last_ms, id,
                               c->err);
    free(dumped);
    if (rc == STK_OK && c->n_entities < ENTITY_SLOTS * 3 / 4) {
        *slot = (struct entity_slot){.key = e->key, .hash = h, .id = *id, .critical = 0};
        c->n_entities++;
    }
    return rc == STK_OK ? note_fresh(c, e->kind, *id) : rc;
}

static enum stk_err store_one(struct ingest_ctx *c, const struct alert_in *a, const char *evidence)
{
    unsigned char ikey[ALERT_IKEY_LEN];
    store_alerts_ikey(ikey, a->first_ms, a->key);
    int exists = 0;
    enum stk_err rc = store_alerts_exists(c->db, ikey, &exists, c->err);
    if (rc != STK_OK || exists) {
        c->res->alerts_duplicate += exists;
        return rc;
    }
    if (a->novelty[0] != '\0') {
        int novel = 0;
        rc = store_behaviour_seen(c->db, a->novelty, a->first_ms, &novel, c->err);
        if (rc != STK_OK || !novel) {
            c->res->alerts_suppressed += !novel;
            return rc;
        }
    }
    long long ids[ALERT_MAX_ENTITIES];
    int critical[ALERT_MAX_ENTITIES];
    for (int i = 0; i < a->n_entities; i++) {
        rc = resolve_entity(c, a, &a->entities[i], &ids[i], &critical[i]);
        if (rc != STK_OK) {
            return rc;
        }
    }
    long long links[ALERT_MAX_ENTITIES * 2];
    int n_links = 0;
    rc = find_links(c, a, ids, links, &n_links);
    if (rc != STK_OK) {
        return rc;
    }
    long long target = 0;
    if (n_links == 0) {
        rc = create_incident(c, a, &target);
    } else {
        /* The oldest incident survives; the others merge into it. */
        target = links[0];
        for (int i = 1; i < n_links && rc == STK_OK; i++) {
            rc = drop_state(c, links[i]);
            if (rc == STK_OK) {
                rc = drop_state(c, target);
            }
            if (rc == STK_OK) {
                rc = ies_flush(c);
            }
            if (rc == STK_OK) {
                rc = svc_incidents_merge_into(c->db, links[i], target, "system", c->now, c->err);
            }
            c->res->incidents_merged++;
        }
    }
    if (rc != STK_OK) {
        return rc;
    }
    struct alert_row row;
    memset(&row, 0, sizeof(row));
    row.incident_id = target;
    row.provider = a->provider;
    snprintf(row.rule, sizeof(row.rule), "%s", a->rule);
    snprintf(row.title, sizeof(row.title), "%s", a->title);
    row.description = a->description;
    row.severity = a->severity;
    row.tactic = a->tactic;
    snprintf(row.technique, sizeof(row.technique), "%s", a->technique);
    row.first_ts = a->first_ms;
    row.last_ts = a->last_ms;
    snprintf(row.cluster, sizeof(row.cluster), "%s", a->cluster);
    row.evidence = (char *)evidence;
    row.created_at = c->now;
    long long alert_id = 0;
    rc = store_alerts_insert(c->db, ikey, &row, &alert_id, c->err);
    for (int i = 0; rc == STK_OK && i < a->n_entities; i++) {
        rc = store_alerts_link(c->db, alert_id, ids[i], a->first_ms, c->err);
    }
    if (rc == STK_OK) {
        rc = alert_edges(c, a, ids);
    }
    struct inc_state *st = NULL;
    if (rc == STK_OK) {
        rc = load_state(c, target, &st);
    }
    if (rc == STK_OK) {
        rc = add_to_incident(c, st, a, ids, critical);
    }
    if (rc == STK_OK) {
        c->res->alerts_new++;
    }
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum stk_err svc_ingest_store(struct db *db, const struct ingest_settings *s,
                              const struct ingest_batch *b, const struct actor *by,
                              const char *what, struct ingest_result *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct inc_state *states = calloc(STATE_SLOTS, sizeof(*states));
    struct touch_slot *touches = calloc(TOUCH_SLOTS, sizeof(*touches));
    struct edge_slot *edges = calloc(TOUCH_SLOTS, sizeof(*edges));
    struct entity_slot *entities = calloc(ENTITY_SLOTS, sizeof(*entities));
    struct ie_slot *ies = calloc(IE_SLOTS, sizeof(*ies));
    if (states == NULL || touches == NULL || edges == NULL || entities == NULL || ies == NULL) {
        free(states);
        free(touches);
        free(edges);
        free(entities);
        free(ies);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    struct ingest_ctx c = {
        .db = db,
        .s = s,
        .now = now_ms(),
        .states = states,
        .res = out,
        .err = err,
        .touches = touches,
        .edges = edges,
        .entities = entities,
        .ies = ies,
    };
    /* Serialise outside the write transaction, which one batch at a time
     * holds: only what must be serial runs inside it. */
    char **evidence = b->n_alerts ? calloc(b->n_alerts, sizeof(*evidence)) : NULL;
    if (b->n_alerts > 0 && evidence == NULL) {
        free(states);
        free(touches);
        free(edges);
        free(entities);
        free(ies);
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < b->n_alerts; i++) {
        if (b->alerts[i].evidence_json == NULL && b->alerts[i].evidence != NULL) {
            evidence[i] = json_dumps(b->alerts[i].evidence, JSON_COMPACT);
        }
    }
    enum stk_err rc = db_begin(db, err);
    for (size_t i = 0; rc == STK_OK && i < b->n_procs; i++) {
        rc = store_hunting_insert_proc(db, &b->procs[i], err);
    }
    for (size_t i = 0; rc == STK_OK && i < b->n_audits; i++) {
        rc = store_hunting_insert_audit(db, &b->audits[i], err);
    }
    for (size_t i = 0; rc == STK_OK && i < b->n_alerts; i++) {
        const struct alert_in *a = &b->alerts[i];
        rc = store_one(&c, a, a->evidence_json != NULL ? a->evidence_json : evidence[i]);
    }
    if (rc == STK_OK) {
        rc = flush_all(&c);
    }
    if (rc == STK_OK) {
        rc = ies_flush(&c);
    }
    if (rc == STK_OK) {
        rc = touch_flush(&c);
    }
    if (rc == STK_OK) {
        rc = edges_flush(&c);
    }
    if (rc == STK_OK && c.n_fresh > 0 && s->path_max_hops > 0) {
        struct paths_settings ps = {.max_hops = s->path_max_hops, .max_per_entry = PATHS_PER_ENTRY};
        struct paths_stats stats;
        rc = svc_paths_refresh(db, &ps, c.fresh, c.n_fresh, c.now, &stats, err);
    }
    out->procs = (long)b->n_procs;
    out->audits = (long)b->n_audits;
    if (rc == STK_OK) {
        char target[64];
        snprintf(target, sizeof(target), "ingest:%s", what);
        json_t *details =
            json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "alerts_new", (int)out->alerts_new,
                      "alerts_duplicate", (int)out->alerts_duplicate, "alerts_suppressed",
                      (int)out->alerts_suppressed, "incidents_created", (int)out->incidents_created,
                      "incidents_merged", (int)out->incidents_merged, "process_events",
                      (int)out->procs, "audit_events", (int)out->audits);
        char action[64];
        snprintf(action, sizeof(action), "ingest.%s", what);
        struct audit_event ev = {
            .actor = by->name,
            .actor_kind = by->kind,
            .source_ip = by->ip,
            .action = action,
            .target = target,
            .outcome = "success",
            .details = details,
        };
        rc = svc_audit_append(db, &ev, err);
        json_decref(details);
    }
    if (rc == STK_OK) {
        rc = db_commit(db, err);
    }
    if (rc != STK_OK) {
        db_rollback(db);
        memset(out, 0, sizeof(*out));
    }
    free(states);
    free(touches);
    free(edges);
    free(entities);
    free(ies);
    free(c.fresh);
    for (size_t i = 0; evidence != NULL && i < b->n_alerts; i++) {
        free(evidence[i]);
    }
    free(evidence);
    return rc;
}
