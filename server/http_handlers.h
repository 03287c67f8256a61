/* Handlers the route table points at, grouped by the file that holds them. */
#ifndef STK_HTTP_HANDLERS_H
#define STK_HTTP_HANDLERS_H

#include "http.h"

/* http_system.c */
int http_system_healthz(struct http_req *r);
int http_system_version(struct http_req *r);

/* http_static.c: GET /static/... and /web/... */
int http_static_serve(struct http_req *r);

/* http_pages.c */
int http_pages_root(struct http_req *r);
int http_pages_shell(struct http_req *r);

#endif
