/* The inventory, Trivy scans and critical assets: every write recomputes
 * the attack paths it can change (svc_paths_refresh) before it commits, so
 * a 2xx means the paths are current too. */
#include "svc_inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest_json.h"
#include "store_incidents.h"
#include "svc_audit.h"

/* Edge kinds the inventory accepts (docs/inventory.md says what each means;
 * svc_paths.c walks uses-identity, member-of and can-access). */
static const char *const edge_kinds[] = {
    "exposed-to-internet", "routes-to",  "uses-identity",  "can-access",
    "member-of",           "runs-on",    "runs-in",        "in-namespace",
    "in-cluster",          "from-image", "hosted-in",      "manages",
    "talked-to",           "accessed",   "connected-from", NULL,
};

static const char *const top_keys[] = {"entities", "edges", NULL};
static const char *const entity_keys[] = {"kind", "key", "name", "properties", "critical", NULL};
static const char *const edge_keys[] = {"from", "to", "kind", "properties", NULL};

int svc_inventory_edge_kind_ok(const char *kind)
{
    return ingest_one_of(kind, edge_kinds);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void svc_inventory_batch_release(struct inventory_batch *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; b->edges != NULL && i < b->n_edges; i++) {
        free(b->edges[i].props);
    }
    free(b->edges);
    free(b->entities);
    json_decref(b->doc);
    memset(b, 0, sizeof(*b));
}

/* ---- parsing ---- */

static enum stk_err strict(struct ingest_ctx *c, const json_t *obj, const char *where,
                           const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!ingest_one_of(k, keys)) {
            return ingest_fail(c, STK_EINVAL, "%s%.64s: unknown key", where, k);
        }
    }
    return STK_OK;
}

/* Kinds whose keys start with their cluster: "pod:C/NS/NAME". */
static int keyed_by_cluster(int k)
{
    return k == ENT_NAMESPACE || k == ENT_NODE || k == ENT_POD || k == ENT_CONTAINER ||
           k == ENT_DEPLOYMENT || k == ENT_SERVICE;
}

/* The cluster a key names ("" for none or "-"). */
static void cluster_of_key(int kind, const char *key, char *out, size_t n)
{
    const char *rest = strchr(key, ':');
    out[0] = '\0';
    if (rest == NULL) {
        return;
    }
    rest++;
    size_t len = kind == ENT_CLUSTER ? strlen(rest)
                 : keyed_by_cluster(kind) && strchr(rest, '/') != NULL
                     ? (size_t)(strchr(rest, '/') - rest)
                     : 0;
    if (len > 0 && len < n && !(len == 1 && rest[0] == '-')) {
        memcpy(out, rest, len);
        out[len] = '\0';
    }
}

/* The entity kind a key starts with ("pod:..."), -1 when none. */
static int kind_of_key(const char *key)
{
    char kind[32];
    const char *colon = strchr(key, ':');
    if (colon == NULL || (size_t)(colon - key) >= sizeof(kind)) {
        return -1;
    }
    memcpy(kind, key, (size_t)(colon - key));
    kind[colon - key] = '\0';
    return alert_entity_kind_parse(kind);
}

/* A token bound to a cluster may only describe that cluster's entities. */
static enum stk_err check_bound(struct ingest_ctx *c, const char *bound, int kind, const char *key,
                                const char *field)
{
    char cl[ALERT_CLUSTER_MAX * 4];
    if (bound[0] == '\0' || kind < 0) {
        return STK_OK;
    }
    cluster_of_key(kind, key, cl, sizeof(cl));
    if (cl[0] == '\0' || strcmp(cl, bound) == 0) {
        return STK_OK;
    }
    return ingest_fail(c, STK_EFORBIDDEN, "%s: names cluster \"%.64s\", not this request's \"%s\"",
                       field, cl, bound);
}

/* Compact JSON of `props` (an object), at most INVENTORY_PROPS_MAX bytes. */
static enum stk_err props_text(struct ingest_ctx *c, const json_t *props, const char *field,
                               char **out)
{
    *out = json_dumps(props, JSON_COMPACT);
    if (*out == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    if (strlen(*out) > INVENTORY_PROPS_MAX) {
        size_t n = strlen(*out);
        free(*out);
        *out = NULL;
        return ingest_fail(c, STK_ETOOBIG, "%s: %zu bytes exceeds the limit of %d", field, n,
                           INVENTORY_PROPS_MAX);
    }
    return STK_OK;
}

static enum stk_err read_entity(struct ingest_ctx *c, const json_t *v, size_t i, const char *bound,
                                json_t *seen, struct inv_entity *e)
{
    char where[48], field[64];
    const char *kind;
    snprintf(where, sizeof(where), "entities[%zu]", i);
    if (!json_is_object(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected an object", where);
    }
    snprintf(field, sizeof(field), "%s.", where);
    enum stk_err rc = strict(c, v, field, entity_keys);
    snprintf(field, sizeof(field), "%s.kind", where);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "kind", field, 32, INGEST_REQUIRED, &kind);
    }
    e->kind = rc == STK_OK ? alert_entity_kind_parse(kind) : -1;
    if (rc == STK_OK && e->kind < 0) {
        return ingest_fail(c, STK_EINVAL, "%s: \"%.32s\" is not an entity kind", field, kind);
    }
    snprintf(field, sizeof(field), "%s.key", where);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "key", field, ALERT_KEY_MAX, INGEST_REQUIRED, &e->key);
    }
    size_t plen = rc == STK_OK ? strlen(kind) : 0;
    if (rc == STK_OK &&
        (strncmp(e->key, kind, plen) != 0 || e->key[plen] != ':' || e->key[plen + 1] == '\0')) {
        return ingest_fail(c, STK_EINVAL, "%s: must start with \"%s:\"", field, kind);
    }
    if (rc == STK_OK && json_object_get(seen, e->key) != NULL) {
        return ingest_fail(c, STK_EINVAL, "%s: \"%.64s\" appears twice", field, e->key);
    }
    if (rc == STK_OK) {
        rc = check_bound(c, bound, e->kind, e->key, field);
    }
    snprintf(field, sizeof(field), "%s.name", where);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "name", field, ALERT_NAME_MAX, INGEST_NONEMPTY, &e->name);
    }
    if (rc == STK_OK && e->name == NULL) {
        const char *slash = strrchr(e->key, '/');
        const char *last = slash != NULL ? slash + 1 : e->key + plen + 1;
        if (strlen(last) == 0 || strlen(last) >= ALERT_NAME_MAX) {
            return ingest_fail(c, STK_EINVAL,
                               "%s: is required when the key's last part is "
                               "empty or longer than %d bytes",
                               field, ALERT_NAME_MAX - 1);
        }
    }
    snprintf(field, sizeof(field), "%s.properties", where);
    if (rc == STK_OK) {
        rc = ingest_object(c, v, "properties", field, 0, &e->props);
    }
    char *text = NULL;
    if (rc == STK_OK && e->props != NULL) {
        rc = props_text(c, e->props, field, &text);
        free(text);
    }
    snprintf(field, sizeof(field), "%s.critical", where);
    if (rc == STK_OK) {
        e->critical = -1;
        if (json_object_get(v, "critical") != NULL &&
            !json_is_null(json_object_get(v, "critical"))) {
            rc = ingest_bool(c, v, "critical", field, 0, &e->critical);
        }
    }
    if (rc == STK_OK && json_object_set_new(seen, e->key, json_true()) != 0) {
        rc = ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    return rc;
}

static enum stk_err read_end(struct ingest_ctx *c, const json_t *v, const char *key,
                             const char *where, const char *bound, const char **out)
{
    char field[64];
    snprintf(field, sizeof(field), "%s.%s", where, key);
    enum stk_err rc =
        ingest_str(c, v, key, field, ALERT_KEY_MAX, INGEST_REQUIRED | INGEST_NONEMPTY, out);
    if (rc == STK_OK) {
        rc = check_bound(c, bound, kind_of_key(*out), *out, field);
    }
    return rc;
}

static enum stk_err read_edge(struct ingest_ctx *c, const json_t *v, size_t i, const char *bound,
                              struct inv_edge *e)
{
    char where[48], field[64];
    snprintf(where, sizeof(where), "edges[%zu]", i);
    if (!json_is_object(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected an object", where);
    }
    snprintf(field, sizeof(field), "%s.", where);
    enum stk_err rc = strict(c, v, field, edge_keys);
    if (rc == STK_OK) {
        rc = read_end(c, v, "from", where, bound, &e->from);
    }
    if (rc == STK_OK) {
        rc = read_end(c, v, "to", where, bound, &e->to);
    }
    snprintf(field, sizeof(field), "%s.kind", where);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "kind", field, EDGE_KIND_MAX, INGEST_REQUIRED, &e->kind);
    }
    if (rc == STK_OK && !svc_inventory_edge_kind_ok(e->kind)) {
        return ingest_fail(c, STK_EINVAL, "%s: \"%.32s\" is not an edge kind", field, e->kind);
    }
    if (rc == STK_OK && strcmp(e->from, e->to) == 0) {
        return ingest_fail(c, STK_EINVAL, "%s: from and to are the same entity", where);
    }
    int to_internet = rc == STK_OK && strcmp(e->to, PATHS_INTERNET_KEY) == 0;
    int exposure = rc == STK_OK && strcmp(e->kind, "exposed-to-internet") == 0;
    if (rc == STK_OK && (to_internet != exposure || strcmp(e->from, PATHS_INTERNET_KEY) == 0)) {
        return ingest_fail(c, STK_EINVAL,
                           "%s: exposed-to-internet edges, and only they, go to "
                           "\"" PATHS_INTERNET_KEY "\"",
                           where);
    }
    json_t *props = NULL;
    snprintf(field, sizeof(field), "%s.properties", where);
    if (rc == STK_OK) {
        rc = ingest_object(c, v, "properties", field, 0, &props);
    }
    if (rc == STK_OK && props != NULL) {
        rc = props_text(c, props, field, &e->props);
    }
    return rc;
}

/* The arrays' sizes are checked before any element is read, so a huge batch
 * is refused at once. */
static enum stk_err read_batch(struct ingest_ctx *c, const json_t *doc, const char *bound,
                               struct inventory_batch *b, long *at)
{
    json_t *ents = NULL, *edges = NULL, *seen = NULL;
    if (!json_is_object(doc) || json_object_size(doc) == 0) {
        return ingest_fail(c, STK_EINVAL, "expected {\"entities\":[...],\"edges\":[...]}");
    }
    enum stk_err rc = strict(c, doc, "", top_keys);
    if (rc == STK_OK) {
        rc = ingest_array(c, doc, "entities", "entities", 0, (size_t)-1, &ents);
    }
    if (rc == STK_OK) {
        rc = ingest_array(c, doc, "edges", "edges", 0, (size_t)-1, &edges);
    }
    if (rc == STK_OK && json_array_size(ents) > INVENTORY_MAX_ENTITIES) {
        return ingest_fail(c, STK_ETOOBIG, "entities: %zu items exceeds the limit of %d",
                           json_array_size(ents), INVENTORY_MAX_ENTITIES);
    }
    if (rc == STK_OK && json_array_size(edges) > INVENTORY_MAX_EDGES) {
        return ingest_fail(c, STK_ETOOBIG, "edges: %zu items exceeds the limit of %d",
                           json_array_size(edges), INVENTORY_MAX_EDGES);
    }
    if (rc != STK_OK) {
        return rc;
    }
    b->entities = calloc(json_array_size(ents) + 1, sizeof(*b->entities));
    b->edges = calloc(json_array_size(edges) + 1, sizeof(*b->edges));
    seen = json_object();
    if (b->entities == NULL || b->edges == NULL || seen == NULL) {
        json_decref(seen);
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *v;
    json_array_foreach(ents, i, v)
    {
        *at = (long)i;
        rc = read_entity(c, v, i, bound, seen, &b->entities[i]);
        if (rc != STK_OK) {
            break;
        }
        b->n_entities++;
    }
    json_decref(seen);
    json_array_foreach(edges, i, v)
    {
        if (rc != STK_OK) {
            break;
        }
        *at = (long)i;
        rc = read_edge(c, v, i, bound, &b->edges[i]);
        b->n_edges++;
    }
    return rc;
}

enum stk_err svc_inventory_parse(const char *body, size_t len, const char *bound_cluster,
                                 struct inventory_batch *out, struct ingest_reject *rej)
{
    struct ingest_ctx c;
    struct ingest_scan scan;
    memset(out, 0, sizeof(*out));
    ingest_ctx_init(&c, rej);
    /* The scan names the element of a top-level array, which this body has
     * not: it is one object. */
    struct ingest_reject scratch;
    struct ingest_ctx sc;
    ingest_ctx_init(&sc, &scratch);
    enum stk_err rc = ingest_scan_body(&sc, body, len, &scan);
    if (rc != STK_OK) {
        rc = ingest_fail(&c, rc, "nesting deeper than %d levels", INGEST_MAX_DEPTH);
    }
    if (rc == STK_OK && scan.first == 0) {
        rc = ingest_fail(&c, STK_EINVAL, "empty body");
    }
    if (rc == STK_OK && (scan.first != '{' || scan.top_values != 1)) {
        rc = ingest_fail(&c, STK_EINVAL, "expected {\"entities\":[...],\"edges\":[...]}");
    }
    if (rc == STK_OK) {
        char why[200];
        out->doc = ingest_load(body, len, 0, NULL, why, sizeof(why));
        if (out->doc == NULL) {
            rc = ingest_fail(&c, STK_EINVAL, "%s", why);
        }
    }
    /* Messages name the array and the element ("edges[3].kind: ..."); the
     * index is the element's position in its array. The shared readers
     * run with no index of their own, so they do not prefix "element N". */
    if (rc == STK_OK) {
        long at = -1;
        rc = read_batch(&c, out->doc, bound_cluster ? bound_cluster : "", out, &at);
        rej->index = rc == STK_OK ? -1 : at;
    }
    if (rc != STK_OK) {
        svc_inventory_batch_release(out);
    }
    return rc;
}

/* ---- storing ---- */

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

/* One audit entry; takes `details`. */
static enum stk_err audit(struct db *db, const struct actor *by, const char *action,
                          const char *target, json_t *details, struct stk_error *err)
{
    struct audit_event ev = {
        .actor = by->name,
        .actor_kind = by->kind,
        .source_ip = by->ip,
        .action = action,
        .target = target,
        .outcome = "success",
        .details = details,
    };
    enum stk_err rc = details != NULL ? svc_audit_append(db, &ev, err)
                                      : stk_error_set(err, STK_ENOMEM, "out of memory");
    json_decref(details);
    return rc;
}

struct idlist {
    long long *ids;
    size_t n, cap;
};

static enum stk_err idlist_add(struct idlist *l, long long id, struct stk_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        long long *grown = realloc(l->ids, cap * sizeof(*grown));
        if (grown == NULL) {
            return stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        l->ids = grown;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return STK_OK;
}

/* What storing one entity did. */
struct put_result {
    long long id;
    int created, changed;
};

/* `stored` with `patch`'s top-level keys applied: a value replaces, null
 * removes. Caller owns the result (NULL on ENOMEM). */
static json_t *merge_props(const char *stored, const json_t *patch)
{
    json_error_t jerr;
    json_t *out = json_loads(stored != NULL && stored[0] ? stored : "{}", 0, &jerr);
    if (!json_is_object(out)) {
        json_decref(out);
        out = json_object();
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        if (out == NULL) {
            break;
        }
        if (json_is_null(v)) {
            json_object_del(out, k);
        } else if (json_object_set(out, k, v) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

/* Inserts or updates one entity; a merge past INVENTORY_PROPS_MAX is
 * STK_ETOOBIG with the reason in `err`. */
static enum stk_err put_entity(struct db *db, const struct inv_entity *e, long long now,
                               struct put_result *res, struct stk_error *err)
{
    long long id = 0;
    int critical = 0;
    struct entity cur;
    memset(res, 0, sizeof(*res));
    memset(&cur, 0, sizeof(cur));
    enum stk_err rc = store_entities_find(db, e->key, &id, &critical, err);
    if (rc != STK_OK && rc != STK_ENOTFOUND) {
        return rc;
    }
    int fresh = rc == STK_ENOTFOUND;
    if (!fresh) {
        rc = store_entities_get(db, id, &cur, err);
    }
    json_t *merged = NULL, *before = NULL;
    char *text = NULL;
    if (rc == STK_OK || fresh) {
        json_error_t jerr;
        before = json_loads(fresh ? "{}" : cur.props, 0, &jerr);
        merged = e->props != NULL ? merge_props(fresh ? "{}" : cur.props, e->props)
                                  : json_incref(before);
        text = merged != NULL ? json_dumps(merged, JSON_COMPACT) : NULL;
        rc = text != NULL ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    if (rc == STK_OK && strlen(text) > INVENTORY_PROPS_MAX) {
        rc = stk_error_set(err, STK_ETOOBIG,
                           "properties: merged with the stored ones, %zu bytes exceeds the "
                           "limit of %d",
                           strlen(text), INVENTORY_PROPS_MAX);
    }
    const char *name = e->name;
    if (name == NULL) {
        const char *slash = strrchr(e->key, '/');
        name = fresh ? (slash != NULL ? slash + 1 : strchr(e->key, ':') + 1) : cur.name;
    }
    if (rc == STK_OK && fresh) {
        char cl[ALERT_CLUSTER_MAX * 4];
        cluster_of_key(e->kind, e->key, cl, sizeof(cl));
        rc = store_entities_insert(db, e->kind, e->key, name, cl, text, now, &id, err);
        res->created = res->changed = 1;
    } else if (rc == STK_OK) {
        int differs = strcmp(name, cur.name) != 0 || !json_equal(merged, before);
        rc = differs ? store_inventory_entity_update(db, id, name, text, now, err)
                     : store_entities_touch(db, id, now, err);
        res->changed = differs;
    }
    if (rc == STK_OK && e->critical >= 0 && e->critical != critical) {
        rc = store_entities_set_critical(db, id, e->critical, err);
        if (rc == STK_OK && !fresh) {
            rc = store_incidents_refresh_impact(db, id, err);
        }
        res->changed = 1;
    }
    res->id = id;
    free(text);
    json_decref(merged);
    json_decref(before);
    store_entity_release(&cur);
    return rc;
}

/* The pseudo-entity every exposed-to-internet edge goes to. */
static enum stk_err internet_entity(struct db *db, long long now, long long *id,
                                    struct stk_error *err)
{
    int critical;
    enum stk_err rc = store_entities_find(db, PATHS_INTERNET_KEY, id, &critical, err);
    if (rc == STK_ENOTFOUND) {
        rc = store_entities_insert(db, ENT_IP, PATHS_INTERNET_KEY, "Internet", "",
                                   "{\"pseudo\":true,\"ranges\":[\"0.0.0.0/0\",\"::/0\"]}", now, id,
                                   err);
    }
    return rc;
}

/* The id of `key` from the batch's entities (`map`), the pseudo-entity or
 * the database; 0 when there is none. */
static enum stk_err resolve(struct db *db, json_t *map, const char *key, long long now,
                            long long *id, struct stk_error *err)
{
    json_t *v = json_object_get(map, key);
    int critical;
    if (v != NULL) {
        *id = json_integer_value(v);
        return STK_OK;
    }
    enum stk_err rc = strcmp(key, PATHS_INTERNET_KEY) == 0
                          ? internet_entity(db, now, id, err)
                          : store_entities_find(db, key, id, &critical, err);
    if (rc == STK_ENOTFOUND) {
        *id = 0;
        return STK_OK;
    }
    if (rc == STK_OK && json_object_set_new(map, key, json_integer(*id)) != 0) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    return rc;
}

static int props_equal(const char *a, const char *b)
{
    json_error_t jerr;
    json_t *x = json_loads(a ? a : "{}", 0, &jerr), *y = json_loads(b ? b : "{}", 0, &jerr);
    int eq = x != NULL && y != NULL && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static enum stk_err put_edge(struct db *db, json_t *map, const struct inv_edge *e, size_t j,
                             long long now, struct idlist *changed, struct inventory_result *out,
                             struct ingest_reject *rej, struct stk_error *err)
{
    long long src = 0, dst = 0;
    enum stk_err rc = resolve(db, map, e->from, now, &src, err);
    if (rc == STK_OK) {
        rc = resolve(db, map, e->to, now, &dst, err);
    }
    if (rc == STK_OK && (src == 0 || dst == 0)) {
        rej->index = (long)j;
        snprintf(rej->reason, sizeof(rej->reason),
                 "edges[%zu].%s: no entity \"%.100s\" in this request or stored", j,
                 src == 0 ? "from" : "to", src == 0 ? e->from : e->to);
        return STK_EINVAL;
    }
    char *old = NULL;
    int found = 0;
    if (rc == STK_OK) {
        rc = store_edges_find(db, src, dst, e->kind, &found, &old, err);
    }
    int differs = rc == STK_OK && (!found || (e->props != NULL && !props_equal(old, e->props)));
    free(old);
    if (differs) {
        out->edges_created += !found;
        out->edges_changed += found;
        rc = idlist_add(changed, src, err);
        if (rc == STK_OK) {
            rc = idlist_add(changed, dst, err);
        }
    }
    if (rc == STK_OK) {
        rc = store_edges_upsert(db, src, dst, e->kind, "inventory", e->props, now, err);
    }
    return rc;
}

enum stk_err svc_inventory_apply(struct db *db, const struct paths_settings *ps,
                                 const struct inventory_batch *b, const struct actor *by,
                                 struct inventory_result *out, struct ingest_reject *rej,
                                 struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    rej->index = -1;
    rej->reason[0] = '\0';
    long long now = now_ms();
    struct idlist changed = {0};
    json_t *map = json_object();
    enum stk_err rc = map ? db_begin(db, err) : stk_error_set(err, STK_ENOMEM, "out of memory");
    for (size_t i = 0; rc == STK_OK && i < b->n_entities; i++) {
        struct put_result res;
        rc = put_entity(db, &b->entities[i], now, &res, err);
        if (rc == STK_ETOOBIG) {
            rej->index = (long)i;
            snprintf(rej->reason, sizeof(rej->reason), "entities[%zu].%.200s", i,
                     err != NULL ? err->msg : "properties: too large");
        }
        if (rc == STK_OK && json_object_set_new(map, b->entities[i].key, json_integer(res.id))) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        }
        if (rc == STK_OK && res.changed) {
            rc = idlist_add(&changed, res.id, err);
        }
        out->entities_created += res.created;
        out->entities_changed += res.changed && !res.created;
    }
    for (size_t j = 0; rc == STK_OK && j < b->n_edges; j++) {
        rc = put_edge(db, map, &b->edges[j], j, now, &changed, out, rej, err);
    }
    if (rc == STK_OK) {
        rc = svc_paths_refresh(db, ps, changed.ids, changed.n, now, &out->paths, err);
    }
    out->entities = (long)b->n_entities;
    out->edges = (long)b->n_edges;
    if (rc == STK_OK) {
        rc = audit(db, by, "inventory.update", "inventory",
                   json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "entities",
                             (int)out->entities, "entities_created", (int)out->entities_created,
                             "entities_changed", (int)out->entities_changed, "edges",
                             (int)out->edges, "edges_created", (int)out->edges_created,
                             "edges_changed", (int)out->edges_changed, "entry_points_checked",
                             (int)out->paths.entities_checked, "attack_paths",
                             (int)out->paths.paths),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
    }
    json_decref(map);
    free(changed.ids);
    return rc;
}

/* ---- Trivy ---- */

_Static_assert((int)TRIVY_CRITICAL == (int)VULN_CRITICAL &&
                   (int)TRIVY_UNKNOWN == (int)VULN_UNKNOWN && (int)TRIVY_SEV_N == (int)VULN_SEV_N,
               "Trivy severities are stored as they are numbered");

/* Links the scan to image entity `name` (created when new) and records its
 * facts (digest, image id, OS) in the entity's properties. */
static enum stk_err link_image(struct db *db, const struct trivy_report *r, const char *name,
                               const char *digest, long long scan_id, long long now, long long *id,
                               struct stk_error *err)
{
    char key[ALERT_KEY_MAX];
    snprintf(key, sizeof(key), "image:%s", name);
    json_t *props =
        json_pack("{s:s, s:s, s:s}", "digest", digest, "image_id", r->image_id, "os", r->os);
    if (props == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    struct inv_entity e = {
        .kind = ENT_IMAGE, .key = key, .name = name, .props = props, .critical = -1};
    struct put_result res;
    enum stk_err rc = put_entity(db, &e, now, &res, err);
    json_decref(props);
    if (rc == STK_OK) {
        rc = store_inventory_scan_link(db, res.id, scan_id, err);
    }
    *id = res.id;
    return rc;
}

enum stk_err svc_inventory_trivy(struct db *db, const struct paths_settings *ps,
                                 const struct trivy_report *r, const char *image,
                                 const struct actor *by, struct trivy_result *out,
                                 struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *names[TRIVY_IMAGES_MAX];
    size_t n = 0;
    if (image != NULL) {
        names[n++] = image;
    }
    for (size_t i = 0; image == NULL && i < r->n_tags && n < TRIVY_IMAGES_MAX; i++) {
        names[n++] = r->tags[i];
    }
    if (n == 0) {
        names[n++] = r->artifact;
    }
    struct image_scan s;
    memset(&s, 0, sizeof(s));
    snprintf(s.digest, sizeof(s.digest), "%s%s",
             r->digest[0]     ? ""
             : r->image_id[0] ? ""
                              : "ref:",
             r->digest[0]     ? r->digest
             : r->image_id[0] ? r->image_id
                              : names[0]);
    snprintf(s.artifact, sizeof(s.artifact), "%s", r->artifact);
    snprintf(s.image_id, sizeof(s.image_id), "%s", r->image_id);
    snprintf(s.os, sizeof(s.os), "%s", r->os);
    s.report_time = r->created_ms;
    s.scanned_at = now_ms();
    struct image_scan cur;
    struct idlist changed = {0};
    long long *linked = NULL;
    size_t n_linked = 0;
    enum stk_err rc = db_begin(db, err);
    if (rc == STK_OK) {
        rc = store_inventory_scan_find(db, s.digest, &cur, err);
        out->replaced = rc == STK_OK;
        rc = rc == STK_ENOTFOUND ? STK_OK : rc;
    }
    if (rc == STK_OK) {
        rc = store_inventory_scan_put(db, &s, &out->scan_id, err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_scan_clear(db, out->scan_id, err);
    }
    for (size_t i = 0; rc == STK_OK && i < r->n_vulns; i++) {
        const struct trivy_vuln *v = &r->vulns[i];
        struct vuln_in in = {.vuln_id = v->id,
                             .package = v->package,
                             .installed = v->installed,
                             .fixed = v->fixed,
                             .title = v->title,
                             .url = v->url,
                             .severity = v->severity};
        rc = store_inventory_vuln_add(db, out->scan_id, &in, err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_scan_recount(db, out->scan_id, err);
    }
    for (size_t i = 0; rc == STK_OK && i < n; i++) {
        rc =
            link_image(db, r, names[i], s.digest, out->scan_id, s.scanned_at, &out->images[i], err);
        out->image_names[i] = names[i];
        out->n_images = i + 1;
    }
    /* Every image this scan is now current for changed, and with them the
     * workloads that run them (svc_paths_refresh follows from-image). */
    if (rc == STK_OK) {
        rc = store_inventory_scan_entities(db, out->scan_id, 100000, &linked, &n_linked, err);
    }
    for (size_t i = 0; rc == STK_OK && i < n_linked; i++) {
        rc = idlist_add(&changed, linked[i], err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_scans_gc(db, err);
    }
    if (rc == STK_OK) {
        rc = svc_paths_refresh(db, ps, changed.ids, changed.n, s.scanned_at, &out->paths, err);
    }
    if (rc == STK_OK) {
        rc = store_inventory_scan_find(db, s.digest, &cur, err);
    }
    if (rc == STK_OK) {
        memcpy(out->counts, cur.counts, sizeof(out->counts));
        snprintf(out->digest, sizeof(out->digest), "%s", s.digest);
        char target[ALERT_KEY_MAX];
        snprintf(target, sizeof(target), "image:%s", names[0]);
        rc = audit(db, by, "ingest.trivy", target,
                   json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "digest", s.digest, "replaced",
                             out->replaced, "critical", (json_int_t)cur.counts[VULN_CRITICAL],
                             "high", (json_int_t)cur.counts[VULN_HIGH], "medium",
                             (json_int_t)cur.counts[VULN_MEDIUM], "low",
                             (json_int_t)cur.counts[VULN_LOW], "unknown",
                             (json_int_t)cur.counts[VULN_UNKNOWN]),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
    }
    free(linked);
    free(changed.ids);
    return rc;
}

/* ---- recomputation on request ---- */

enum stk_err svc_inventory_recompute_paths(struct db *db, const struct paths_settings *ps,
                                           const struct actor *by, struct paths_stats *out,
                                           struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = db_begin(db, err);
    if (rc == STK_OK) {
        rc = svc_paths_recompute_all(db, ps, now_ms(), out, err);
    }
    if (rc == STK_OK) {
        rc = audit(db, by, "attack_paths.recompute", "attack_paths",
                   json_pack("{s:i, s:i, s:i}", "entities_checked", (int)out->entities_checked,
                             "entry_points", (int)out->entry_points, "attack_paths",
                             (int)out->paths),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- critical assets ---- */

enum stk_err svc_inventory_set_critical(struct db *db, const struct paths_settings *ps,
                                        const struct actor *by, long long id, int critical,
                                        struct entity *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    struct paths_stats stats;
    enum stk_err rc = db_begin(db, err);
    if (rc == STK_OK) {
        rc = store_entities_set_critical(db, id, critical, err);
    }
    if (rc == STK_OK) {
        rc = store_incidents_refresh_impact(db, id, err);
    }
    if (rc == STK_OK) {
        rc = svc_paths_refresh(db, ps, &id, 1, now_ms(), &stats, err);
    }
    if (rc == STK_OK) {
        rc = store_entities_get(db, id, out, err);
    }
    if (rc == STK_OK) {
        char target[48];
        snprintf(target, sizeof(target), "entity:%lld", id);
        rc = audit(db, by, "entity.critical", target,
                   json_pack("{s:s, s:b, s:i}", "key", out->key, "critical", critical,
                             "attack_paths", (int)stats.paths),
                   err);
    }
    rc = finish(db, rc, err);
    if (rc != STK_OK) {
        store_entity_release(out);
    }
    return rc;
}
