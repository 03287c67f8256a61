/* Helpers shared by the ingestion parsers (ingest_falco.c, ingest_audit.c,
 * ingest_alerts.c): a bounded pre-scan and loader for request bodies, typed
 * field readers whose rejections name the field, RFC 3339 times and
 * IP-address checks. No SQL, no civetweb. */
#ifndef STK_INGEST_JSON_H
#define STK_INGEST_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "alert.h"
#include "err.h"

/* Deepest nesting of arrays and objects accepted in a body. */
#define INGEST_MAX_DEPTH 64

/* Where a parser is: the element being read (for rejections) and the clock,
 * read once per request by ingest_ctx_init(). */
struct ingest_ctx {
    struct ingest_reject *rej;
    long index; /* element being read; -1 for the body as a whole */
    long long now_ms;
};

/* Fills `c` for one request: index -1, now_ms from the real-time clock (the
 * only place the ingestion code reads a clock), `rej` cleared. */
void ingest_ctx_init(struct ingest_ctx *c, struct ingest_reject *rej);

/* Records "element N: <message>" (or just the message for index -1) in the
 * reject and returns `code`. */
enum stk_err ingest_fail(struct ingest_ctx *c, enum stk_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What one cheap pass over a body's bytes found (strings are skipped). */
struct ingest_scan {
    int first;         /* first non-blank byte, 0 for a blank body */
    size_t top_values; /* JSON values at the top level (NDJSON lines) */
    size_t elements;   /* a top-level array counts its items, any other value 1 */
    size_t big_ints;   /* integer literals outside the int64 range */
};

/* Scans `body` without allocating: rejects nesting deeper than
 * INGEST_MAX_DEPTH (STK_EINVAL, naming the element it happened in) and
 * counts elements so callers can refuse oversized batches before parsing. */
enum stk_err ingest_scan_body(struct ingest_ctx *c, const char *body, size_t len,
                              struct ingest_scan *out);

/* Element index (as ingest_scan_body counts them) of byte offset `pos`;
 * -1 when `pos` lies after the end of the first top-level value. */
long ingest_element_at(const char *body, size_t len, size_t pos);

/* A copy of `body` with every integer literal that does not fit int64
 * (jansson refuses those: "too big integer") wrapped in quotes, so Falco's
 * unsigned 64-bit fields load as strings while int64 values such as
 * nanosecond times stay exact integers. Caller frees `*out`. STK_ENOMEM. */
enum stk_err ingest_quote_big_ints(const char *body, size_t len, char **out, size_t *out_len);

/* Loads one object or array from `text` (JSON_REJECT_DUPLICATES; invalid
 * UTF-8 refused by jansson). With `stream`, stops after the first value and
 * sets `*used` to the bytes read; otherwise the whole text must be one
 * value. On failure returns NULL and writes a reason to `why`. Caller owns
 * the result. The caller must have run ingest_scan_body() on `text` first. */
json_t *ingest_load(const char *text, size_t len, int stream, size_t *used, char *why,
                    size_t why_size);

/* Flags of the field readers. */
#define INGEST_REQUIRED 0x1 /* absent or null is an error */
#define INGEST_NA 0x2       /* the string "<NA>" means absent (Falco) */
#define INGEST_NONEMPTY 0x4 /* "" is an error */

/* Typed readers of member `key` of `obj` (`obj` may be NULL: all absent).
 * `field` names the member in rejections ("output_fields.proc.pid"). JSON
 * null is absent. A value of the wrong type, or a string of `size` bytes or
 * more, is STK_EINVAL with the field named; nothing is ever truncated. */
enum stk_err ingest_str(struct ingest_ctx *c, const json_t *obj, const char *key, const char *field,
                        size_t size, int flags, const char **out);
/* As ingest_str, copied into `buf` of `size` bytes ("" when absent). */
enum stk_err ingest_str_copy(struct ingest_ctx *c, const json_t *obj, const char *key,
                             const char *field, char *buf, size_t size, int flags);
/* As ingest_str, into a new string (NULL when absent). Caller frees. */
enum stk_err ingest_str_dup(struct ingest_ctx *c, const json_t *obj, const char *key,
                            const char *field, size_t size, int flags, char **out);
/* `*present` is 0 when absent (then `*out` is untouched). */
enum stk_err ingest_int(struct ingest_ctx *c, const json_t *obj, const char *key, const char *field,
                        int flags, long long *out, int *present);
enum stk_err ingest_bool(struct ingest_ctx *c, const json_t *obj, const char *key,
                         const char *field, int flags, int *out);
/* Borrowed object or array, NULL when absent. */
enum stk_err ingest_object(struct ingest_ctx *c, const json_t *obj, const char *key,
                           const char *field, int flags, json_t **out);
enum stk_err ingest_array(struct ingest_ctx *c, const json_t *obj, const char *key,
                          const char *field, int flags, size_t max_items, json_t **out);

/* Parses RFC 3339 ("2024-05-07T18:54:19.341081180Z", "...+02:00", up to
 * nanoseconds) into nanoseconds since the epoch. 0 on success, -1 if
 * malformed. */
int ingest_parse_rfc3339(const char *s, long long *ns);

/* Checks that `ns` lies between 2000-01-01 and one day past the clock, and
 * gives it in ms. `text` is how the value appeared, for the message. */
enum stk_err ingest_time_check(struct ingest_ctx *c, const char *field, const char *text,
                               long long ns, long long *ms);
/* Reads an RFC 3339 string member and checks its range. `*text` (borrowed,
 * may be NULL) is the string read; `*ms` is 0 when absent. */
enum stk_err ingest_time(struct ingest_ctx *c, const json_t *obj, const char *key,
                         const char *field, int flags, long long *ms, const char **text);

/* True when `s` is a textual IPv4 or IPv6 address. */
int ingest_is_ip(const char *s);
/* True for loopback and unspecified addresses (127/8, ::1, 0.0.0.0, ::). */
int ingest_ip_is_local(const char *s);

/* Adds an entity whose key is built from `fmt`, naming `what` in the
 * rejection when the key or name is too long. A full alert is not an
 * error: the entity is skipped (evidence keeps the full facts). `*out` (may
 * be NULL) gets the entity or NULL. */
enum stk_err ingest_entity(struct ingest_ctx *c, struct alert_in *a, enum entity_kind kind,
                           const char *name, struct entity_ref **out, const char *what,
                           const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Copies `src` (may be NULL: nothing copied) into `dst` of `size` bytes.
 * Callers have checked the length when reading: a source that does not fit
 * is a programmer error and is not copied. */
void ingest_copy(char *dst, size_t size, const char *src);

/* True when `s` (may be NULL) is one of the NULL-terminated `list`. */
int ingest_one_of(const char *s, const char *const *list);

/* Lower-case hex of a 16-byte key into `out` (33 bytes). */
void ingest_key_hex(const unsigned char key[16], char out[33]);

/* jansson setters that skip absent values: return 0 or -1 on ENOMEM. */
int ingest_set_str(json_t *obj, const char *key, const char *value);
int ingest_set_int(json_t *obj, const char *key, long long value);
/* Sets `value` (taking the reference) unless it is an empty object or
 * array (then it is freed). -1 when `value` is NULL (a failed allocation)
 * or the set fails. */
int ingest_set_nonempty(json_t *obj, const char *key, json_t *value);

#endif
