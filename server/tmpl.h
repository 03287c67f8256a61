/* A small logic-less HTML template engine (a subset of Mustache).
 *
 *   {{name}} {{a.b}} {{.}}   value, HTML-escaped
 *   {{{name}}} {{& name}}    value, raw (only for HTML we built ourselves)
 *   {{#name}}..{{/name}}     array: once per element; object: once, inside it;
 *                            true / non-empty string / non-zero number: once
 *   {{^name}}..{{/name}}     once when name is missing, false, null, empty
 *   {{> partial}}            another template of the set, same context
 *   {{! comment}}
 *
 * Names resolve against the context stack, innermost first. Values are
 * jansson: strings as they are, integers and reals as numbers, true as
 * "true", anything else as nothing. */
#ifndef STK_TMPL_H
#define STK_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct tmpl_set;

/* An empty set. Caller owns `*out`; free with tmpl_set_free(). */
enum stk_err tmpl_set_new(struct tmpl_set **out);

/* Parses `text` and adds it to `set` as `name`. Syntax errors (unclosed tag
 * or section, mismatched close, unknown name) fail with the name and line
 * in `err`, and the set is unchanged. */
enum stk_err tmpl_set_add(struct tmpl_set *set, const char *name, const char *text, size_t len,
                          struct stk_error *err);

/* Loads every *.html below `dir` (one level of subfolders: "pages/x.html"
 * becomes "pages/x"). Caller owns `*out`; free with tmpl_set_free(). */
enum stk_err tmpl_set_load(const char *dir, struct tmpl_set **out, struct stk_error *err);

/* Frees the set. Accepts NULL. */
void tmpl_set_free(struct tmpl_set *set);

/* True if `name` is in the set. */
int tmpl_set_has(const struct tmpl_set *set, const char *name);

/* Renders template `name` with `ctx` (borrowed) appended to `out`. Unknown
 * templates are STK_ENOTFOUND; a partial nested deeper than 16 levels is
 * STK_EINVAL; output past out->max is STK_ETOOBIG. On failure `out` keeps
 * what it had before the call. */
enum stk_err tmpl_render(const struct tmpl_set *set, const char *name, const json_t *ctx,
                         struct buf *out, struct stk_error *err);

#endif
