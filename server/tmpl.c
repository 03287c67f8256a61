#include "tmpl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PARTIAL_DEPTH 16
#define MAX_SECTION_DEPTH 64
#define MAX_STACK (MAX_SECTION_DEPTH * MAX_PARTIAL_DEPTH + 2)
#define MAX_TEMPLATE_BYTES (4 * 1024 * 1024)
#define MAX_TEMPLATES 512

enum node_kind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

struct node {
    enum node_kind kind;
    const char *text; /* N_TEXT: into the template's copy of its source */
    size_t len;
    char *name;        /* tag name for everything else */
    struct node *kids; /* sections */
    size_t nkids;
};

struct tmpl {
    char *name;
    char *source;
    struct node *nodes;
    size_t nnodes;
};

struct tmpl_set {
    struct tmpl *items;
    size_t count;
};

static void nodes_free(struct node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(nodes[i].name);
        nodes_free(nodes[i].kids, nodes[i].nkids);
    }
    free(nodes);
}

static void tmpl_release(struct tmpl *t)
{
    free(t->name);
    free(t->source);
    nodes_free(t->nodes, t->nnodes);
}

enum stk_err tmpl_set_new(struct tmpl_set **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? STK_OK : STK_ENOMEM;
}

void tmpl_set_free(struct tmpl_set *set)
{
    if (set == NULL) {
        return;
    }
    for (size_t i = 0; i < set->count; i++) {
        tmpl_release(&set->items[i]);
    }
    free(set->items);
    free(set);
}

static const struct tmpl *find(const struct tmpl_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->items[i].name, name) == 0) {
            return &set->items[i];
        }
    }
    return NULL;
}

int tmpl_set_has(const struct tmpl_set *set, const char *name)
{
    return find(set, name) != NULL;
}

/* ---- parsing ---- */

struct parser {
    const char *src;
    size_t len;
    size_t pos;
    const char *tname;
    struct stk_error *err;
};

static int line_of(const struct parser *p, size_t pos)
{
    int line = 1;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        line += p->src[i] == '\n';
    }
    return line;
}

static enum stk_err push_node(struct node **nodes, size_t *n, size_t *cap, struct node nd)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        struct node *grown = realloc(*nodes, c * sizeof(*grown));
        if (grown == NULL) {
            return STK_ENOMEM;
        }
        *nodes = grown;
        *cap = c;
    }
    (*nodes)[(*n)++] = nd;
    return STK_OK;
}

static int valid_name(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/')) {
            return 0;
        }
    }
    return 1;
}

/* Copies the trimmed tag body [from, to) into a new string. */
static char *tag_name(const char *from, const char *to)
{
    while (from < to && (*from == ' ' || *from == '\t')) {
        from++;
    }
    while (to > from && (to[-1] == ' ' || to[-1] == '\t')) {
        to--;
    }
    size_t n = (size_t)(to - from);
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, from, n);
        s[n] = '\0';
    }
    return s;
}

/* Parses until end of input (close == NULL) or {{/close}}; `open_pos` is
 * where the section's opening tag starts, for the error message. */
static enum stk_err parse_list(struct parser *p, const char *close, size_t open_pos, int depth,
                               struct node **out, size_t *nout)
{
    struct node *nodes = NULL;
    size_t n = 0, cap = 0;
    enum stk_err rc = STK_OK;
    *out = NULL;
    *nout = 0;
    if (depth > MAX_SECTION_DEPTH) {
        rc = stk_error_set(p->err, STK_EINVAL, "%s:%d: sections nested too deeply", p->tname,
                           line_of(p, p->pos));
        goto out;
    }
    for (;;) {
        const char *start = p->src + p->pos;
        const char *open = NULL;
        for (size_t i = p->pos; i + 1 < p->len; i++) {
            if (p->src[i] == '{' && p->src[i + 1] == '{') {
                open = p->src + i;
                break;
            }
        }
        size_t textlen = open ? (size_t)(open - start) : p->len - p->pos;
        if (textlen > 0) {
            struct node t = {.kind = N_TEXT, .text = start, .len = textlen};
            rc = push_node(&nodes, &n, &cap, t);
            if (rc != STK_OK) {
                goto out;
            }
        }
        if (open == NULL) {
            p->pos = p->len;
            if (close != NULL) {
                rc = stk_error_set(p->err, STK_EINVAL, "%s:%d: section '%s' is never closed",
                                   p->tname, line_of(p, open_pos), close);
            }
            goto out;
        }
        size_t tag_pos = (size_t)(open - p->src);
        int triple = tag_pos + 2 < p->len && p->src[tag_pos + 2] == '{';
        const char *body = open + (triple ? 3 : 2);
        const char *end_mark = triple ? "}}}" : "}}";
        const char *end = NULL;
        for (const char *q = body; q + strlen(end_mark) <= p->src + p->len; q++) {
            if (strncmp(q, end_mark, strlen(end_mark)) == 0) {
                end = q;
                break;
            }
        }
        if (end == NULL) {
            rc = stk_error_set(p->err, STK_EINVAL, "%s:%d: unclosed tag", p->tname,
                               line_of(p, tag_pos));
            goto out;
        }
        p->pos = (size_t)(end - p->src) + strlen(end_mark);
        char sigil = triple ? '{' : *body;
        const char *nbeg = body;
        if (!triple && (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '>' ||
                        sigil == '&' || sigil == '!')) {
            nbeg++;
        }
        if (sigil == '!') {
            continue;
        }
        char *name = tag_name(nbeg, end);
        if (name == NULL) {
            rc = STK_ENOMEM;
            goto out;
        }
        if (!valid_name(name)) {
            rc = stk_error_set(p->err, STK_EINVAL, "%s:%d: bad tag name '%s'", p->tname,
                               line_of(p, tag_pos), name);
            free(name);
            goto out;
        }
        if (sigil == '/') {
            int ok = close != NULL && strcmp(name, close) == 0;
            if (!ok) {
                rc = stk_error_set(p->err, STK_EINVAL, "%s:%d: '{{/%s}}' closes %s", p->tname,
                                   line_of(p, tag_pos), name, close ? close : "nothing");
            }
            free(name);
            goto out;
        }
        struct node nd = {.name = name};
        if (sigil == '#' || sigil == '^') {
            nd.kind = sigil == '#' ? N_SECTION : N_INVERTED;
            rc = parse_list(p, name, tag_pos, depth + 1, &nd.kids, &nd.nkids);
            if (rc != STK_OK) {
                free(name);
                goto out;
            }
        } else if (sigil == '>') {
            nd.kind = N_PARTIAL;
        } else if (sigil == '&' || sigil == '{') {
            nd.kind = N_RAW;
        } else {
            nd.kind = N_VAR;
        }
        rc = push_node(&nodes, &n, &cap, nd);
        if (rc != STK_OK) {
            nodes_free(nd.kids, nd.nkids);
            free(name);
            goto out;
        }
    }
out:
    if (rc != STK_OK) {
        nodes_free(nodes, n);
        return rc;
    }
    *out = nodes;
    *nout = n;
    return STK_OK;
}

enum stk_err tmpl_set_add(struct tmpl_set *set, const char *name, const char *text, size_t len,
                          struct stk_error *err)
{
    if (len > MAX_TEMPLATE_BYTES) {
        return stk_error_set(err, STK_ETOOBIG, "%s: template larger than %d bytes", name,
                             MAX_TEMPLATE_BYTES);
    }
    if (set->count >= MAX_TEMPLATES || find(set, name) != NULL) {
        return stk_error_set(err, STK_ECONFLICT, "%s: duplicate template or too many", name);
    }
    struct tmpl t = {0};
    enum stk_err rc = STK_OK;
    t.name = strdup(name);
    t.source = malloc(len + 1);
    if (t.name == NULL || t.source == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(t.source, text, len);
    t.source[len] = '\0';
    struct parser p = {.src = t.source, .len = len, .tname = name, .err = err};
    rc = parse_list(&p, NULL, 0, 0, &t.nodes, &t.nnodes);
    if (rc != STK_OK) {
        goto out;
    }
    struct tmpl *grown = realloc(set->items, (set->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    set->items = grown;
    set->items[set->count++] = t;
    return STK_OK;
out:
    tmpl_release(&t);
    return rc;
}

static enum stk_err load_file(struct tmpl_set *set, const char *path, const char *name,
                              struct stk_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
    }
    enum stk_err rc = STK_OK;
    char *data = malloc(MAX_TEMPLATE_BYTES + 1);
    if (data == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(data, 1, MAX_TEMPLATE_BYTES + 1, f);
    if (ferror(f) || n > MAX_TEMPLATE_BYTES) {
        rc = stk_error_set(err, STK_EIO, "%s: unreadable or too large", path);
        goto out;
    }
    rc = tmpl_set_add(set, name, data, n, err);
out:
    free(data);
    fclose(f);
    return rc;
}

static enum stk_err load_dir(struct tmpl_set *set, const char *dir, const char *prefix, int depth,
                             struct stk_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return stk_error_set(err, STK_EIO, "%s: %s", dir, strerror(errno));
    }
    enum stk_err rc = STK_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096], name[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth == 0) {
                snprintf(name, sizeof(name), "%s%s/", prefix, e->d_name);
                rc = load_dir(set, path, name, depth + 1, err);
            }
        } else {
            size_t l = strlen(e->d_name);
            if (l > 5 && strcmp(e->d_name + l - 5, ".html") == 0) {
                snprintf(name, sizeof(name), "%s%.*s", prefix, (int)(l - 5), e->d_name);
                rc = load_file(set, path, name, err);
            }
        }
        if (rc != STK_OK) {
            break;
        }
    }
    closedir(d);
    return rc;
}

enum stk_err tmpl_set_load(const char *dir, struct tmpl_set **out, struct stk_error *err)
{
    *out = NULL;
    struct tmpl_set *set = NULL;
    if (tmpl_set_new(&set) != STK_OK) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    enum stk_err rc = load_dir(set, dir, "", 0, err);
    if (rc != STK_OK) {
        tmpl_set_free(set);
        return rc;
    }
    *out = set;
    return STK_OK;
}

/* ---- rendering ---- */

struct render {
    const struct tmpl_set *set;
    const json_t *stack[MAX_STACK];
    int depth;
    int partials;
    struct buf *out;
    struct stk_error *err;
};

static const json_t *lookup(const struct render *r, const char *name)
{
    if (strcmp(name, ".") == 0) {
        return r->stack[r->depth - 1];
    }
    char first[256];
    const char *dot = strchr(name, '.');
    size_t flen = dot ? (size_t)(dot - name) : strlen(name);
    if (flen >= sizeof(first)) {
        return NULL;
    }
    memcpy(first, name, flen);
    first[flen] = '\0';
    const json_t *v = NULL;
    for (int i = r->depth - 1; i >= 0 && v == NULL; i--) {
        if (json_is_object(r->stack[i])) {
            v = json_object_get(r->stack[i], first);
        }
    }
    while (v != NULL && dot != NULL) {
        const char *seg = dot + 1;
        dot = strchr(seg, '.');
        size_t slen = dot ? (size_t)(dot - seg) : strlen(seg);
        if (slen >= sizeof(first) || !json_is_object(v)) {
            return NULL;
        }
        memcpy(first, seg, slen);
        first[slen] = '\0';
        v = json_object_get(v, first);
    }
    return v;
}

static int truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE:
        return 1;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return 1;
    default:
        return 0;
    }
}

static enum stk_err emit_value(struct render *r, const json_t *v, int escape)
{
    char num[64];
    const char *s = NULL;
    size_t len = 0;
    if (v == NULL) {
        return STK_OK;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        len = json_string_length(v);
        break;
    case JSON_INTEGER:
        len = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        break;
    case JSON_REAL:
        len = (size_t)snprintf(num, sizeof(num), "%g", json_real_value(v));
        s = num;
        break;
    case JSON_TRUE:
        s = "true";
        len = 4;
        break;
    default:
        return STK_OK;
    }
    return escape ? buf_append_html(r->out, s, len) : buf_append(r->out, s, len);
}

static enum stk_err render_nodes(struct render *r, const struct node *nodes, size_t n);

static enum stk_err push_and_render(struct render *r, const json_t *ctx, const struct node *nd)
{
    if (r->depth >= MAX_STACK) {
        return stk_error_set(r->err, STK_EINVAL, "context nested too deeply");
    }
    r->stack[r->depth++] = ctx;
    enum stk_err rc = render_nodes(r, nd->kids, nd->nkids);
    r->depth--;
    return rc;
}

static enum stk_err render_nodes(struct render *r, const struct node *nodes, size_t n)
{
    enum stk_err rc = STK_OK;
    for (size_t i = 0; i < n && rc == STK_OK; i++) {
        const struct node *nd = &nodes[i];
        const json_t *v = NULL;
        switch (nd->kind) {
        case N_TEXT:
            rc = buf_append(r->out, nd->text, nd->len);
            break;
        case N_VAR:
        case N_RAW:
            rc = emit_value(r, lookup(r, nd->name), nd->kind == N_VAR);
            break;
        case N_SECTION:
            v = lookup(r, nd->name);
            if (v == NULL || !truthy(v)) {
                break;
            }
            if (json_is_array(v)) {
                for (size_t k = 0; k < json_array_size(v) && rc == STK_OK; k++) {
                    rc = push_and_render(r, json_array_get(v, k), nd);
                }
            } else {
                rc = push_and_render(r, v, nd);
            }
            break;
        case N_INVERTED:
            v = lookup(r, nd->name);
            if (v == NULL || !truthy(v)) {
                rc = render_nodes(r, nd->kids, nd->nkids);
            }
            break;
        case N_PARTIAL: {
            const struct tmpl *t = find(r->set, nd->name);
            if (t == NULL) {
                rc = stk_error_set(r->err, STK_ENOTFOUND, "partial '%s' not found", nd->name);
                break;
            }
            if (r->partials >= MAX_PARTIAL_DEPTH) {
                rc = stk_error_set(r->err, STK_EINVAL, "partials nested deeper than %d",
                                   MAX_PARTIAL_DEPTH);
                break;
            }
            r->partials++;
            rc = render_nodes(r, t->nodes, t->nnodes);
            r->partials--;
            break;
        }
        }
    }
    return rc;
}

enum stk_err tmpl_render(const struct tmpl_set *set, const char *name, const json_t *ctx,
                         struct buf *out, struct stk_error *err)
{
    const struct tmpl *t = find(set, name);
    if (t == NULL) {
        return stk_error_set(err, STK_ENOTFOUND, "template '%s' not found", name);
    }
    struct render r = {.set = set, .out = out, .err = err};
    static const char empty[] = "{}";
    json_t *fallback = NULL;
    if (ctx == NULL) {
        fallback = json_loads(empty, 0, NULL);
        ctx = fallback;
    }
    r.stack[r.depth++] = ctx;
    size_t before = out->len;
    enum stk_err rc = render_nodes(&r, t->nodes, t->nnodes);
    /* The buffer reports these two without a message. Set here, not while
     * unwinding, so the caller's `err` is never read before it is written. */
    if (rc == STK_ETOOBIG) {
        stk_error_set(err, rc, "rendered output larger than %zu bytes", out->max);
    } else if (rc == STK_ENOMEM) {
        stk_error_set(err, rc, "out of memory");
    }
    if (rc != STK_OK) {
        out->len = before;
        if (out->data != NULL) {
            out->data[before] = '\0';
        }
    }
    json_decref(fallback);
    return rc;
}
