/* The incident graph: a model of entities and relations, grouping of
 * similar entities, a content hash, a Graphviz `dot` layout and our own SVG
 * and JSON renderings of the laid-out model.
 *
 * Pure: no SQL, no civetweb. Everything a label carries comes from outside
 * input and is escaped here, nowhere else. The same model always gives the
 * same groups, the same layout and the same bytes.
 *
 * Graphviz keeps process-wide state (its error hooks, the layout engines'
 * statics): graph_layout() and the graph_engine functions must be
 * serialised by the caller (svc_graph.c holds graph_cache's gv_lock). The
 * other functions are reentrant. */
#ifndef STK_GRAPH_H
#define STK_GRAPH_H

#include <stdio.h>

#include "buf.h"
#include "err.h"

/* Hard caps (STYLE 4): entities fetched for one graph, edges among them,
 * inventory entities that connect them, and nodes given to one layout.
 * dot takes ~6 s for 3,000 nodes (MEASURED.md): bigger graphs are drawn
 * grouped or not at all. */
#define GRAPH_MAX_ENTITIES 5000
#define GRAPH_MAX_EDGES 20000
#define GRAPH_MAX_CONNECTORS 100
#define GRAPH_LAYOUT_MAX_NODES 2500

#define GRAPH_HASH_BYTES 32 /* BLAKE2b-256 */
#define GRAPH_EDGE_KIND_MAX 32
#define GRAPH_LABEL_DISPLAY 48 /* characters shown on a node; <title> has all */
/* Rendered documents are refused (STK_ETOOBIG) past this size. */
#define GRAPH_RENDER_MAX (64u << 20)

struct graph_node {
    long long id;       /* entity id; negative for a group */
    int kind;           /* enum entity_kind */
    char *key;          /* owned; a group's is "group:KIND:FIRST-MEMBER-KEY" */
    char *name;         /* owned; a group's is "12 pods" */
    int critical;       /* crown; a group has it when any member has */
    int on_path;        /* on an attack path (blue badge); any member */
    int context;        /* not in the incident: an inventory entity that connects two of its own */
    int severity;       /* enum severity of the strongest alert on it; -1 none. Groups: max */
    long long count;    /* 1, or the group size */
    long long *members; /* a group's member entity ids, ascending; owned; NULL otherwise */
    /* Filled by graph_layout(), in SVG units (y grows downwards): the
     * centre of the node's box and its size. */
    double x, y, w, h;
};

struct graph_point {
    double x, y;
};

struct graph_edge {
    long long from, to;             /* node ids */
    char kind[GRAPH_EDGE_KIND_MAX]; /* the relation: "runs-in", "talked-to" ... */
    long long count;                /* entity edges it stands for (groups) */
    /* Filled by graph_layout(): the cubic Bezier control points (1 + 3k
     * points, owned; none when the two discs overlap), the arrow's tip
     * when it has one, and where the relation label goes. */
    struct graph_point *pts;
    size_t n_pts;
    int arrow;
    double ax, ay;
    double lx, ly;
};

struct graph_model {
    struct graph_node *nodes;
    size_t n_nodes, cap_nodes;
    struct graph_edge *edges;
    size_t n_edges, cap_edges;
    int canonical; /* nodes sorted by (kind, key, id), edges by (from, to, kind), unique */
    int laid_out;
    double width, height; /* the layout's bounding box */
};

/* Fills `m` as an empty model. */
void graph_model_init(struct graph_model *m);
/* Frees everything `m` owns; `m` is empty again. */
void graph_model_release(struct graph_model *m);

/* Appends a node, copying `key` and `name` (any length, any bytes; shown
 * escaped). `severity` is -1 or an enum severity. STK_EINVAL for a kind
 * out of range, STK_ETOOBIG past GRAPH_MAX_ENTITIES + GRAPH_MAX_CONNECTORS
 * nodes, STK_ENOMEM; `m` is unchanged on failure. */
enum stk_err graph_model_add_node(struct graph_model *m, long long id, int kind, const char *key,
                                  const char *name, int critical, int on_path, int severity,
                                  int context);
/* Appends an edge between node ids (checked by graph_model_canonicalize()).
 * `kind` longer than GRAPH_EDGE_KIND_MAX - 1 bytes is cut. STK_ETOOBIG
 * past GRAPH_MAX_EDGES, STK_ENOMEM; `m` is unchanged on failure. */
enum stk_err graph_model_add_edge(struct graph_model *m, long long from, long long to,
                                  const char *kind);

/* Puts `m` in canonical form: nodes by (kind, key, id), a node id seen
 * twice kept once, edges by (from, to, kind) without duplicates and
 * without edges whose ends are not nodes. Idempotent. STK_ENOMEM leaves
 * `m` valid but not canonical. */
enum stk_err graph_model_canonicalize(struct graph_model *m);

/* Collapses similar entities of `in` into groups, into `out` (filled by
 * this function; caller releases it with graph_model_release()).
 *
 * Entities are similar when they have the same kind, the same critical,
 * on-path and context flags, and the same neighbours up to grouping: for
 * each relation, direction and group, none, one or several neighbours
 * there (the coarsest such partition, found by colour refinement). So
 * "300 containers runs-in 300 pods" collapse together although each
 * container has its own pod, while the address every pod talked to stays
 * apart from addresses one pod each talked to. Entities with identical
 * neighbour sets always share a group. Groups of one stay the entity
 * itself; a group of N gets the id -(1 + its index), the name "N pods",
 * the largest severity of its members and one edge per (relation, group
 * pair) with `count` the entity edges it stands for. Deterministic: the
 * same model gives the same groups. `in` is canonicalized first. */
enum stk_err graph_model_group(struct graph_model *in, struct graph_model *out,
                               struct stk_error *err);

/* BLAKE2b-256 of the canonical model (every node and edge field above the
 * layout ones, and the renderer's version), so a changed incident or a new
 * renderer gives a new hash. `m` is canonicalized first. */
enum stk_err graph_model_hash(struct graph_model *m, unsigned char out[GRAPH_HASH_BYTES]);

/* A Graphviz context (gvContext() costs milliseconds: keep one). Caller
 * owns `*out`; free with graph_engine_free(). */
struct graph_engine;
enum stk_err graph_engine_new(struct graph_engine **out, struct stk_error *err);
/* Accepts NULL. */
void graph_engine_free(struct graph_engine *e);

/* Lays `m` out with dot (left to right, fixed node sizes from the labels)
 * and fills the layout fields of its nodes and edges. STK_ETOOBIG past
 * GRAPH_LAYOUT_MAX_NODES nodes; STK_EINTERNAL when Graphviz fails. `m` is
 * canonicalized first. An empty model gets an empty layout. */
enum stk_err graph_layout(struct graph_engine *e, struct graph_model *m, struct stk_error *err);

/* Writes the layout input of `m` as a DOT file (the same attributes
 * graph_layout() uses, plus the node labels), for comparing with the dot
 * command line. */
enum stk_err graph_write_dot(struct graph_model *m, FILE *f, struct stk_error *err);

/* graph_render.c: */

/* Renders a laid-out model as a standalone SVG document: no script, no
 * style element or attribute (pages keep a strict style-src), icons from
 * /static/icons/kind-KIND.svg, a legend. Caller owns `*out` (free()),
 * `*len` its length. STK_EINVAL when `m` is not laid out, STK_ETOOBIG
 * past GRAPH_RENDER_MAX, STK_ENOMEM; `*out` NULL on failure. */
enum stk_err graph_render_svg(const struct graph_model *m, char **out, size_t *len,
                              struct stk_error *err);

/* The same graph as JSON for the browser:
 *   {"width","height","grouped","nodes":[{"id","kind","key","name","label",
 *    "x","y","w","h","critical","on_path","context","severity","count",
 *    "members"}],"edges":[{"from","to","kind","count","points":[[x,y]..],
 *    "arrow":[x,y]|null,"label_at":[x,y]}]}
 * `label` is the display text (cut); `name` the full one. Caller owns
 * `*out` (free()). Errors as graph_render_svg(). */
enum stk_err graph_render_json(const struct graph_model *m, int grouped, char **out, size_t *len,
                               struct stk_error *err);

/* Appends `s` to `b` as XML character data safe in text and in quoted
 * attributes: & < > " ' become entities, C0 controls are dropped except
 * tab, CR and LF (which become spaces), invalid UTF-8 and U+FFFE/U+FFFF
 * become U+FFFD. With `max_chars` > 0, text longer than that is cut on a
 * character boundary and ends with an ellipsis. */
enum stk_err graph_xml_escape(struct buf *b, const char *s, size_t max_chars);

/* The same without the XML escaping (JSON, DOT labels). */
enum stk_err graph_text_clean(struct buf *b, const char *s, size_t max_chars);

/* How many characters of `s` a node shows (at most GRAPH_LABEL_DISPLAY). */
size_t graph_label_chars(const char *s);

/* Distance between two points. */
double graph_point_dist(struct graph_point a, struct graph_point b);

/* Plural label of a kind for groups: "pods", "identities", "IPs". */
const char *graph_kind_plural(int kind);

#endif
