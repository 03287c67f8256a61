/* A streaming JSON writer for the hot paths: the incident queue and the
 * incident record, where building a jansson tree per request cost more than
 * the queries (MEASURED.md: ~110 us of jansson per page), and the evidence
 * of each ingested Falco alert (a tree, its json_dumps() and its freeing
 * were ~20% of the server's CPU per event). Everything else builds JSON
 * with jansson (STYLE section 6); this writer is the one exception, and it
 * never formats JSON with printf: strings go through jw_str(), which
 * escapes them per RFC 8259 exactly as json_dumps() does, jw_json() writes
 * a jansson value, and jw_raw() only takes JSON text that this server
 * produced itself with json_dumps().
 *
 *     struct jw w;
 *     jw_init(&w, &buf);
 *     jw_object(&w);
 *     jw_key(&w, "id"); jw_int(&w, 12);
 *     jw_end(&w);
 *     if (w.rc != STK_OK) ...   (the buffer's cap was hit, or misuse)
 */
#ifndef STK_JSONW_H
#define STK_JSONW_H

#include <jansson.h>

#include "buf.h"
#include "err.h"

#define JW_MAX_DEPTH 32

struct jw {
    struct buf *b;
    enum stk_err rc; /* first failure; later calls do nothing */
    int depth;
    char open[JW_MAX_DEPTH]; /* '{' or '[' per level */
    int count[JW_MAX_DEPTH]; /* values written at each level */
    int after_key;           /* a key was written; its value comes next */
};

void jw_init(struct jw *w, struct buf *b);
void jw_object(struct jw *w);
void jw_array(struct jw *w);
/* Closes the innermost object or array. */
void jw_end(struct jw *w);
/* An object key (escaped like a string). */
void jw_key(struct jw *w, const char *key);
/* A string: quotes, escapes for '"', '\\' and control characters (the
 * bytes json_dumps() writes for the same string); bytes that are not valid
 * UTF-8 become U+FFFD. */
void jw_str(struct jw *w, const char *s);
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A jansson value, byte for byte as json_dumps(v, JSON_COMPACT) writes it
 * (members in insertion order). Its nesting is the caller's to bound (the
 * parsers' pre-scan does); it does not count against JW_MAX_DEPTH. */
void jw_json(struct jw *w, const json_t *v);
/* Trusted JSON text (our own json_dumps() output read back from the
 * database); `fallback` ("{}", "[]") when `json` is NULL or empty. */
void jw_raw(struct jw *w, const char *json, const char *fallback);
/* RFC 3339 UTC with milliseconds, or null for ms <= 0. */
void jw_time_ms(struct jw *w, long long ms);

#endif
