/* The one route table (STYLE section 7) and the dispatcher civetweb calls
 * for every request. */
#ifndef STK_HTTP_ROUTES_H
#define STK_HTTP_ROUTES_H

#include <stddef.h>

#include "http.h"

struct mg_connection;

/* `pattern` segments are literal, "{name}" (one segment captured into
 * http_req.params in order), or a final "*" that matches the rest of the
 * path (captured too). */
struct route {
    const char *method;
    const char *pattern;
    enum perm perm;
    int (*handler)(struct http_req *r);
};

extern const struct route http_route_table[];
extern const size_t http_route_count;

enum route_match {
    ROUTE_FOUND,
    ROUTE_NO_PATH,   /* 404 */
    ROUTE_NO_METHOD, /* 405: the path exists for other methods */
};

/* Finds the route for `method` and `path`. On ROUTE_FOUND `*out` is the route
 * and `params` holds the captured segments; on ROUTE_NO_METHOD `allow` gets
 * the methods the path accepts ("GET, POST"). */
enum route_match http_routes_match(const char *method, const char *path, const struct route **out,
                                   char params[][HTTP_PARAM_MAX], int *nparams, char *allow,
                                   size_t allow_len);

/* civetweb request handler registered for "/"; cbdata is the struct app. */
int http_routes_dispatch(struct mg_connection *conn, void *cbdata);

/* civetweb's http_error callback: its own errors (bad request line, ...)
 * get our envelope and security headers too. */
int http_routes_civetweb_error(struct mg_connection *conn, int status, const char *msg);

#endif
