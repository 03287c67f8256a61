/* GET /api/v1/incidents/{id}/graph.svg and /graph: the incident graph,
 * rendered on the server, as SVG and as JSON for the browser. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "http_handlers.h"
#include "svc_graph.h"

/* Opened directly, the SVG is a document of its own. This policy comes on
 * top of the one every response carries (browsers enforce all the policies
 * they get) and allows nothing but same-origin images, the kind icons: the
 * SVG styles with presentation attributes only, so it needs no style-src
 * and shows the same inside a page whose policy forbids inline style. */
#define SVG_HEADERS                                                                                \
    "Content-Security-Policy: default-src 'none'; img-src 'self'; style-src 'none'; "              \
    "frame-ancestors 'none'\r\n"

/* Step 1: the id and ?grouped=1 (default) or 0. Returns 0, or the status of
 * the error already sent. */
static int parse(struct http_req *r, enum graph_format format, struct graph_query *q)
{
    memset(q, 0, sizeof(*q));
    q->incident_id = http_parse_id(r->params[0]);
    if (q->incident_id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such incident");
    }
    char grouped[8];
    int has = http_query(r, "grouped", grouped, sizeof(grouped));
    if (has < 0 || (has == 1 && strcmp(grouped, "0") != 0 && strcmp(grouped, "1") != 0)) {
        return http_reply_error(r, STK_EINVAL, "grouped must be 0 or 1");
    }
    q->grouped = has == 0 || grouped[0] == '1';
    q->format = format;
    q->if_none_match = http_header(r, "If-None-Match");
    return 0;
}

static int serve(struct http_req *r, enum graph_format format)
{
    struct graph_query q;
    int st = parse(r, format, &q);
    if (st != 0) {
        return st;
    }
    if (r->db == NULL) {
        return http_reply_error_status(r, 503, "unavailable", "database connection unavailable");
    }
    struct stk_error err;
    stk_error_clear(&err);
    struct graph_result res;
    enum stk_err rc = svc_graph_get(r->app->graphs, r->db, &q, &res, &err);
    if (rc != STK_OK) {
        svc_graph_result_release(&res);
        return http_reply_svc_error(r, rc, &err, "incident_graph_failed");
    }
    /* Browsers may keep it but must ask again: the ETag is the content
     * hash, so an unchanged incident costs a 304. */
    char headers[512];
    snprintf(headers, sizeof(headers), "%sCache-Control: private, no-cache\r\nETag: %s\r\n",
             format == GRAPH_FORMAT_SVG ? SVG_HEADERS : "", res.etag);
    const char *ctype = format == GRAPH_FORMAT_SVG ? "image/svg+xml; charset=utf-8"
                                                   : "application/json; charset=utf-8";
    st = http_reply(r, res.not_modified ? 304 : 200, ctype, headers, res.data, res.len);
    svc_graph_result_release(&res);
    return st;
}

int http_graph_svg(struct http_req *r)
{
    return serve(r, GRAPH_FORMAT_SVG);
}

int http_graph_json(struct http_req *r)
{
    return serve(r, GRAPH_FORMAT_JSON);
}
