/* Files under static/ and web/, served with their MIME type, a strong ETag,
 * Last-Modified and revalidation (304). No directory listing, no hidden
 * files, nothing outside the two folders. */
#ifndef STK_HTTP_STATIC_H
#define STK_HTTP_STATIC_H

#include "err.h"

struct static_files;

/* Serves `assets_dir`/static and `assets_dir`/web. Caller owns `*out`;
 * free with http_static_free(). */
enum stk_err http_static_new(const char *assets_dir, struct static_files **out,
                             struct stk_error *err);

/* Frees the file server and its cache. Accepts NULL. */
void http_static_free(struct static_files *sf);

/* The MIME type for a file name, by its extension. Never NULL. */
const char *http_static_mime(const char *name);

/* Checks a path below the served folder ("css/app.css"): non-empty segments
 * of letters, digits, '.', '_' and '-', none starting with '.', at most 255
 * bytes. Returns 1 if acceptable. */
int http_static_path_ok(const char *rel);

#endif
