/* Text cleaning and escaping, and the SVG and JSON renderings of a laid-out
 * graph (graph.h). Every byte of outside text goes through put_text(). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "graph.h"

/* Geometry in SVG units, inside the boxes graph.c sized. */
#define NODE_R 18.0   /* the node's disc */
#define RING_R 22.5   /* the severity ring */
#define LABEL_DY 37.0 /* label baseline below the centre */
#define ARROW_LEN 7.0
#define PAD 16.0
#define LEGEND_H 90.0
#define LEGEND_W 640.0

static const char *const sev_class[SEV_N] = {"sev-informational", "sev-low", "sev-medium",
                                             "sev-high"};
static const char *const sev_colour[SEV_N] = {"#6b7785", "#b58900", "#e3670c", "#c50f1f"};
static const char *const sev_label[SEV_N] = {"Informational", "Low", "Medium", "High"};

#define DARK_FILL "#1e2b3c"
#define DARK_STROKE "#0b121b"
#define LIGHT_FILL "#ffffff"
#define LIGHT_STROKE "#7a8899"
#define EDGE_COLOUR "#8a96a6"
#define TEXT_COLOUR "#1b2430"
#define BADGE_COLOUR "#0f6cbd"
#define CROWN_PATH "M3 8l4.5 4L12 5l4.5 7L21 8l-2 11H5z"

/* Container resources are drawn dark, the rest light (the rule). */
static int kind_is_dark(int kind)
{
    return kind == ENT_CLUSTER || kind == ENT_NAMESPACE || kind == ENT_NODE || kind == ENT_POD ||
           kind == ENT_CONTAINER || kind == ENT_DEPLOYMENT || kind == ENT_IMAGE ||
           kind == ENT_REGISTRY;
}

/* Tenths, rounded half away from zero (the server does not link libm). */
static long long tenths(double v)
{
    return (long long)(v * 10.0 + (v < 0 ? -0.5 : 0.5));
}

/* Newton's method from above: decreases monotonically to the root. */
static double square_root(double x)
{
    if (!(x > 0)) {
        return 0;
    }
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 200; i++) {
        double next = 0.5 * (r + x / r);
        if (next >= r) {
            break;
        }
        r = next;
    }
    return r;
}

double graph_point_dist(struct graph_point a, struct graph_point b)
{
    double dx = a.x - b.x, dy = a.y - b.y;
    return square_root(dx * dx + dy * dy);
}

static double dist(struct graph_point a, struct graph_point b)
{
    return graph_point_dist(a, b);
}

/* ---- text ---- */

/* Decodes one UTF-8 character at *p (not at the NUL) and advances. Invalid
 * sequences (overlong, surrogates, past U+10FFFF, cut short) give U+FFFD
 * and consume one byte. */
static uint32_t next_char(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int len = c < 0x80             ? 1
              : (c & 0xe0) == 0xc0 ? 2
              : (c & 0xf0) == 0xe0 ? 3
              : (c & 0xf8) == 0xf0 ? 4
                                   : 0;
    if (len == 1) {
        *p = s + 1;
        return c;
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t v = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            len = 0;
            break;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (len == 0 || v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *p = s + 1;
        return 0xfffd;
    }
    *p = s + len;
    return v;
}

/* What a character becomes on screen: 0 dropped, ' ' for white space
 * controls, U+FFFD for non-characters. */
static uint32_t shown_char(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') {
        return ' ';
    }
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
        return 0;
    }
    return c == 0xfffe || c == 0xffff ? 0xfffd : c;
}

static int put_char(struct buf *b, uint32_t c, int xml)
{
    char tmp[8];
    size_t n = 0;
    const char *ent = NULL;
    if (xml) {
        ent = c == '&'    ? "&amp;"
              : c == '<'  ? "&lt;"
              : c == '>'  ? "&gt;"
              : c == '"'  ? "&quot;"
              : c == '\'' ? "&#39;"
                          : NULL;
    }
    if (ent != NULL) {
        return buf_append_str(b, ent) == STK_OK;
    }
    if (c < 0x80) {
        tmp[n++] = (char)c;
    } else if (c < 0x800) {
        tmp[n++] = (char)(0xc0 | (c >> 6));
        tmp[n++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        tmp[n++] = (char)(0xe0 | (c >> 12));
        tmp[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[n++] = (char)(0x80 | (c & 0x3f));
    } else {
        tmp[n++] = (char)(0xf0 | (c >> 18));
        tmp[n++] = (char)(0x80 | ((c >> 12) & 0x3f));
        tmp[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
        tmp[n++] = (char)(0x80 | (c & 0x3f));
    }
    return buf_append(b, tmp, n) == STK_OK;
}

/* Appends the shown form of `s`, XML-escaped when `xml`; cut to
 * `max_chars` characters (0: no cut), the last being an ellipsis. */
static enum stk_err put_text(struct buf *b, const char *s, size_t max_chars, int xml)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t shown = 0, mark = b->len;
    while (*p != '\0') {
        uint32_t c = shown_char(next_char(&p));
        if (c == 0) {
            continue;
        }
        if (max_chars > 0 && shown == max_chars) {
            /* One character too many: drop back to max_chars - 1 and end
             * with the ellipsis. */
            b->len = mark;
            b->data[mark] = '\0';
            return put_char(b, 0x2026, 0) ? STK_OK : STK_ENOMEM;
        }
        if (!put_char(b, c, xml)) {
            return STK_ETOOBIG;
        }
        if (++shown + 1 == max_chars) {
            mark = b->len;
        }
    }
    return STK_OK;
}

enum stk_err graph_xml_escape(struct buf *b, const char *s, size_t max_chars)
{
    return put_text(b, s, max_chars, 1);
}

enum stk_err graph_text_clean(struct buf *b, const char *s, size_t max_chars)
{
    return put_text(b, s, max_chars, 0);
}

size_t graph_label_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p != '\0' && n < GRAPH_LABEL_DISPLAY) {
        n += shown_char(next_char(&p)) != 0;
    }
    return n;
}

/* ---- SVG ---- */

struct out {
    struct buf b;
    enum stk_err rc;
};

static void lit(struct out *o, const char *s)
{
    if (o->rc == STK_OK) {
        o->rc = buf_append_str(&o->b, s);
    }
}

/* A coordinate with one decimal ("12.5", "-3", "7"): snprintf with %f
 * costs too much at thousands of numbers per graph. */
static void num(struct out *o, double v)
{
    char tmp[32], *p = tmp + sizeof(tmp);
    long long t = tenths(v);
    int neg = t < 0;
    unsigned long long u = neg ? (unsigned long long)-t : (unsigned long long)t;
    unsigned frac = (unsigned)(u % 10);
    u /= 10;
    if (frac != 0) {
        *--p = (char)('0' + frac);
        *--p = '.';
    }
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (neg) {
        *--p = '-';
    }
    if (o->rc == STK_OK) {
        o->rc = buf_append(&o->b, p, (size_t)(tmp + sizeof(tmp) - p));
    }
}

static void integer(struct out *o, long long v)
{
    if (o->rc == STK_OK) {
        o->rc = buf_printf(&o->b, "%lld", v);
    }
}

static void text(struct out *o, const char *s, size_t max_chars)
{
    if (o->rc == STK_OK) {
        o->rc = put_text(&o->b, s, max_chars, 1);
    }
}

/* A relation as a class name: lower-case letters, digits and '-' only. */
static void class_word(struct out *o, const char *s)
{
    char tmp[GRAPH_EDGE_KIND_MAX];
    size_t n = 0;
    for (; *s != '\0' && n + 1 < sizeof(tmp); s++) {
        char c = *s;
        tmp[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c
                   : c >= 'A' && c <= 'Z'                           ? (char)(c - 'A' + 'a')
                                                                    : '-';
    }
    tmp[n] = '\0';
    lit(o, tmp);
}

static void attr_num(struct out *o, const char *name, double v)
{
    lit(o, " ");
    lit(o, name);
    lit(o, "=\"");
    num(o, v);
    lit(o, "\"");
}

static void circle(struct out *o, double cx, double cy, double r, const char *rest)
{
    lit(o, "<circle");
    attr_num(o, "cx", cx);
    attr_num(o, "cy", cy);
    attr_num(o, "r", r);
    lit(o, rest);
    lit(o, "/>");
}

static void crown(struct out *o, double x, double y)
{
    lit(o, "<path class=\"crown\" transform=\"translate(");
    num(o, x);
    lit(o, ",");
    num(o, y);
    lit(o, ") scale(0.62)\" d=\"" CROWN_PATH "\" fill=\"#f2b01e\" stroke=\"#8a5a00\" "
           "stroke-width=\"1.5\" stroke-linejoin=\"round\"/>");
}

static void badge(struct out *o, double x, double y)
{
    lit(o, "<g class=\"badge\">");
    circle(o, x, y, 7, " fill=\"" BADGE_COLOUR "\" stroke=\"#ffffff\" stroke-width=\"1.5\"");
    lit(o, "<path d=\"M");
    num(o, x - 3.5);
    lit(o, ",");
    num(o, y + 2);
    lit(o, "l2.5-3 2 2 2.5-3.5\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"1.4\" "
           "stroke-linecap=\"round\" stroke-linejoin=\"round\"/></g>");
}

/* The disc of a node of `kind` (a group also gets one behind it). */
static void disc(struct out *o, int kind, int context, double cx, double cy, double r,
                 const char *cls)
{
    int dark = kind_is_dark(kind);
    lit(o, "<circle class=\"");
    lit(o, cls);
    lit(o, "\"");
    attr_num(o, "cx", cx);
    attr_num(o, "cy", cy);
    attr_num(o, "r", r);
    lit(o, dark ? " fill=\"" DARK_FILL "\" stroke=\"" DARK_STROKE "\""
                : " fill=\"" LIGHT_FILL "\" stroke=\"" LIGHT_STROKE "\"");
    lit(o,
        context ? " stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>" : " stroke-width=\"1.5\"/>");
}

static void icon(struct out *o, int kind, double cx, double cy, double size)
{
    lit(o, "<image href=\"/static/icons/kind-");
    lit(o, alert_entity_kind_name(kind));
    lit(o, ".svg\"");
    attr_num(o, "x", cx - size / 2);
    attr_num(o, "y", cy - size / 2);
    attr_num(o, "width", size);
    attr_num(o, "height", size);
    lit(o, "/>");
}

static void node_svg(struct out *o, const struct graph_node *n)
{
    const char *kname = alert_entity_kind_name(n->kind);
    int sev = n->severity >= 0 && n->severity < SEV_N ? n->severity : -1;
    lit(o, "<g class=\"node kind-");
    lit(o, kname);
    lit(o, kind_is_dark(n->kind) ? " dark" : " light");
    if (sev >= 0) {
        lit(o, " ");
        lit(o, sev_class[sev]);
    }
    lit(o, n->critical ? " critical" : "");
    lit(o, n->on_path ? " on-path" : "");
    lit(o, n->members ? " group" : "");
    lit(o, n->context ? " context" : "");
    lit(o, "\" data-id=\"");
    integer(o, n->id);
    lit(o, "\" data-kind=\"");
    lit(o, kname);
    lit(o, "\" data-count=\"");
    integer(o, n->count);
    lit(o, "\" tabindex=\"0\" role=\"button\" aria-label=\"");
    text(o, n->name, GRAPH_LABEL_DISPLAY);
    lit(o, ", ");
    lit(o, kname);
    if (sev >= 0) {
        lit(o, ", ");
        lit(o, alert_severity_name(sev));
        lit(o, " severity");
    }
    lit(o, n->critical ? ", critical asset" : "");
    lit(o, n->on_path ? ", on an attack path" : "");
    lit(o, "\"><title>");
    text(o, n->name, 0);
    lit(o, " (");
    text(o, n->key, 0);
    lit(o, ")");
    if (sev >= 0) {
        lit(o, "\nHighest alert severity: ");
        lit(o, alert_severity_name(sev));
    }
    lit(o, n->critical ? "\nCritical asset" : "");
    lit(o, n->on_path ? "\nOn an attack path" : "");
    lit(o, n->context ? "\nNot in this incident: connects entities that are" : "");
    lit(o, n->members ? "\nA group: ungroup to see each one" : "");
    lit(o, "</title>");
    if (n->members != NULL) {
        disc(o, n->kind, n->context, n->x + 5, n->y - 5, NODE_R, "stack");
    }
    if (sev >= 0) {
        lit(o, "<circle class=\"ring\"");
        attr_num(o, "cx", n->x);
        attr_num(o, "cy", n->y);
        attr_num(o, "r", RING_R);
        lit(o, " fill=\"none\" stroke=\"");
        lit(o, sev_colour[sev]);
        lit(o, "\" stroke-width=\"3\"/>");
    }
    disc(o, n->kind, n->context, n->x, n->y, NODE_R, "disc");
    icon(o, n->kind, n->x, n->y, 20);
    lit(o, "<text class=\"label\"");
    attr_num(o, "x", n->x);
    attr_num(o, "y", n->y + LABEL_DY);
    lit(o, " text-anchor=\"middle\">");
    text(o, n->name, GRAPH_LABEL_DISPLAY);
    lit(o, "</text>");
    if (n->critical) {
        crown(o, n->x + 6, n->y - 35);
    }
    if (n->on_path) {
        badge(o, n->x + 15, n->y + 14);
    }
    lit(o, "</g>\n");
}

static void edge_svg(struct out *o, const struct graph_edge *e)
{
    lit(o, "<g class=\"edge rel-");
    class_word(o, e->kind);
    lit(o, "\" data-from=\"");
    integer(o, e->from);
    lit(o, "\" data-to=\"");
    integer(o, e->to);
    lit(o, "\">");
    if (e->n_pts >= 4) {
        lit(o, "<path d=\"M");
        num(o, e->pts[0].x);
        lit(o, ",");
        num(o, e->pts[0].y);
        for (size_t i = 1; i < e->n_pts; i++) {
            lit(o, (i - 1) % 3 == 0 ? "C" : " ");
            num(o, e->pts[i].x);
            lit(o, ",");
            num(o, e->pts[i].y);
        }
        lit(o, "\" fill=\"none\" stroke=\"" EDGE_COLOUR "\" stroke-width=\"1.3\"/>");
    }
    if (e->arrow) {
        const struct graph_point *p = e->pts;
        size_t n = e->n_pts;
        struct graph_point from = dist(p[n - 1], p[n - 2]) >= 0.5 ? p[n - 2] : p[n - 4];
        double d = dist(p[n - 1], from);
        double ux = (p[n - 1].x - from.x) / d, uy = (p[n - 1].y - from.y) / d;
        double bx = e->ax - ux * ARROW_LEN, by = e->ay - uy * ARROW_LEN;
        lit(o, "<path class=\"arrow\" d=\"M");
        num(o, e->ax);
        lit(o, ",");
        num(o, e->ay);
        lit(o, "L");
        num(o, bx - uy * 3.5);
        lit(o, ",");
        num(o, by + ux * 3.5);
        lit(o, "L");
        num(o, bx + uy * 3.5);
        lit(o, ",");
        num(o, by - ux * 3.5);
        lit(o, "Z\" fill=\"" EDGE_COLOUR "\"/>");
    }
    lit(o, "<text");
    attr_num(o, "x", e->lx);
    attr_num(o, "y", e->ly - 3);
    lit(o, " text-anchor=\"middle\" font-size=\"10\" fill=\"#4a5565\" stroke=\"#ffffff\" "
           "stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">");
    text(o, e->kind, 0);
    lit(o, "</text></g>\n");
}

static void legend_text(struct out *o, double x, double y, const char *s)
{
    lit(o, "<text");
    attr_num(o, "x", x);
    attr_num(o, "y", y + 4);
    lit(o, ">");
    lit(o, s);
    lit(o, "</text>");
}

static void legend(struct out *o, double y)
{
    lit(o, "<g class=\"legend\" aria-label=\"Legend\">");
    lit(o, "<line x1=\"0\" x2=\"100%\"");
    attr_num(o, "y1", y);
    attr_num(o, "y2", y);
    lit(o, " stroke=\"#d5dbe3\"/>");
    double r1 = y + 20, r2 = y + 46;
    disc(o, ENT_POD, 0, PAD + 7, r1, 7, "swatch");
    legend_text(o, PAD + 22, r1, "Container resources");
    disc(o, ENT_IDENTITY, 0, PAD + 167, r1, 7, "swatch");
    legend_text(o, PAD + 182, r1, "Identities, services, IPs, cloud");
    crown(o, PAD + 388, r1 - 8);
    legend_text(o, PAD + 406, r1, "Critical asset");
    badge(o, PAD + 508, r1);
    legend_text(o, PAD + 520, r1, "On an attack path");
    legend_text(o, PAD, r2, "Highest alert severity:");
    double x = PAD + 140;
    for (int s = SEV_N - 1; s >= 0; s--) {
        lit(o, "<circle");
        attr_num(o, "cx", x);
        attr_num(o, "cy", r2);
        lit(o, " r=\"6\" fill=\"none\" stroke=\"");
        lit(o, sev_colour[s]);
        lit(o, "\" stroke-width=\"3\"/>");
        legend_text(o, x + 11, r2, sev_label[s]);
        x += 100;
    }
    double r3 = y + 72;
    disc(o, ENT_POD, 0, PAD + 10, r3 - 3, 7, "swatch");
    disc(o, ENT_POD, 0, PAD + 7, r3, 7, "swatch");
    legend_text(o, PAD + 22, r3, "Similar entities, grouped");
    disc(o, ENT_IDENTITY, 1, PAD + 207, r3, 7, "swatch");
    legend_text(o, PAD + 222, r3, "Not in the incident; links entities that are");
    lit(o, "</g>\n");
}

static enum stk_err finish(struct out *o, char **out, size_t *len, struct stk_error *err)
{
    if (o->rc != STK_OK) {
        buf_release(&o->b);
        return stk_error_set(
            err, o->rc, o->rc == STK_ETOOBIG ? "the rendered graph is too large" : "out of memory");
    }
    *len = o->b.len;
    *out = buf_take(&o->b);
    return *out ? STK_OK : stk_error_set(err, STK_ENOMEM, "out of memory");
}

enum stk_err graph_render_svg(const struct graph_model *m, char **out, size_t *len,
                              struct stk_error *err)
{
    *out = NULL;
    *len = 0;
    if (!m->laid_out) {
        return stk_error_set(err, STK_EINVAL, "the graph is not laid out");
    }
    struct out o = {.rc = STK_OK};
    buf_init(&o.b, GRAPH_RENDER_MAX);
    double gh = m->n_nodes ? m->height : 60;
    double w = m->width > LEGEND_W ? m->width : LEGEND_W, h = gh + LEGEND_H;
    lit(&o, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"stk-graph\" viewBox=\"0 0 ");
    num(&o, w);
    lit(&o, " ");
    num(&o, h);
    lit(&o, "\"");
    attr_num(&o, "width", w);
    attr_num(&o, "height", h);
    lit(&o, " font-family=\"system-ui, -apple-system, Segoe UI, Roboto, sans-serif\" "
            "font-size=\"11\" fill=\"" TEXT_COLOUR "\">\n<title>Incident graph: ");
    integer(&o, (long long)m->n_nodes);
    lit(&o, m->n_nodes == 1 ? " node, " : " nodes, ");
    integer(&o, (long long)m->n_edges);
    lit(&o, m->n_edges == 1 ? " relation</title>\n" : " relations</title>\n");
    lit(&o, "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    if (m->n_nodes == 0) {
        lit(&o, "<text class=\"empty\" x=\"50%\" y=\"34\" text-anchor=\"middle\">"
                "No entities in this incident</text>\n");
    }
    lit(&o, "<g class=\"edges\">\n");
    for (size_t i = 0; i < m->n_edges; i++) {
        edge_svg(&o, &m->edges[i]);
    }
    lit(&o, "</g>\n<g class=\"nodes\">\n");
    for (size_t i = 0; i < m->n_nodes; i++) {
        node_svg(&o, &m->nodes[i]);
    }
    lit(&o, "</g>\n");
    legend(&o, gh);
    lit(&o, "</svg>\n");
    return finish(&o, out, len, err);
}

/* ---- JSON ---- */

static json_t *jnum(double v)
{
    return json_real((double)tenths(v) / 10.0);
}

static json_t *jtext(const char *s, size_t max_chars)
{
    struct buf b;
    buf_init(&b, GRAPH_RENDER_MAX);
    json_t *v = NULL;
    if (put_text(&b, s, max_chars, 0) == STK_OK) {
        v = json_stringn(b.data ? b.data : "", b.len);
    }
    buf_release(&b);
    return v;
}

static json_t *node_json(const struct graph_node *n)
{
    json_t *members = json_array();
    for (long long k = 0; members != NULL && n->members != NULL && k < n->count; k++) {
        if (json_array_append_new(members, json_integer(n->members[k])) != 0) {
            json_decref(members);
            members = NULL;
        }
    }
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:o, s:I, "
                     "s:o}",
                     "id", (json_int_t)n->id, "kind", alert_entity_kind_name(n->kind), "key",
                     jtext(n->key, 0), "name", jtext(n->name, 0), "label",
                     jtext(n->name, GRAPH_LABEL_DISPLAY), "x", jnum(n->x), "y", jnum(n->y), "w",
                     jnum(n->w), "h", jnum(n->h), "critical", n->critical, "on_path", n->on_path,
                     "context", n->context, "severity",
                     n->severity >= 0 ? json_string(alert_severity_name(n->severity)) : json_null(),
                     "count", (json_int_t)n->count, "members",
                     n->members ? members : (json_decref(members), json_null()));
}

static json_t *point(double x, double y)
{
    return json_pack("[o, o]", jnum(x), jnum(y));
}

static json_t *edge_json(const struct graph_edge *e)
{
    json_t *pts = json_array();
    for (size_t i = 0; pts != NULL && i < e->n_pts; i++) {
        if (json_array_append_new(pts, point(e->pts[i].x, e->pts[i].y)) != 0) {
            json_decref(pts);
            pts = NULL;
        }
    }
    return json_pack("{s:I, s:I, s:o, s:I, s:o, s:o, s:o}", "from", (json_int_t)e->from, "to",
                     (json_int_t)e->to, "kind", jtext(e->kind, 0), "count", (json_int_t)e->count,
                     "points", pts, "arrow", e->arrow ? point(e->ax, e->ay) : json_null(),
                     "label_at", point(e->lx, e->ly));
}

enum stk_err graph_render_json(const struct graph_model *m, int grouped, char **out, size_t *len,
                               struct stk_error *err)
{
    *out = NULL;
    *len = 0;
    if (!m->laid_out) {
        return stk_error_set(err, STK_EINVAL, "the graph is not laid out");
    }
    json_t *nodes = json_array(), *edges = json_array();
    int ok = nodes != NULL && edges != NULL;
    for (size_t i = 0; ok && i < m->n_nodes; i++) {
        ok = json_array_append_new(nodes, node_json(&m->nodes[i])) == 0;
    }
    for (size_t i = 0; ok && i < m->n_edges; i++) {
        ok = json_array_append_new(edges, edge_json(&m->edges[i])) == 0;
    }
    json_t *root =
        ok ? json_pack("{s:o, s:o, s:b, s:o, s:o}", "width", jnum(m->width), "height",
                       jnum(m->height), "grouped", grouped, "nodes", nodes, "edges", edges)
           : NULL;
    if (root == NULL) {
        if (!ok) {
            json_decref(nodes);
            json_decref(edges);
        }
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    char *text_out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (text_out == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    *out = text_out;
    *len = strlen(text_out);
    return STK_OK;
}
