/* A growable byte buffer with a hard cap (curl's dynbuf, in spirit).
 * The contents are always NUL-terminated. After a failed append the buffer
 * keeps what it had before that call. */
#ifndef STK_BUF_H
#define STK_BUF_H

#include <stddef.h>

#include "err.h"

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass this fail with STK_ETOOBIG */
};

/* Fills `b` as empty with cap `max` bytes. Free with buf_release(). */
void buf_init(struct buf *b, size_t max);

/* Frees the contents; `b` is empty again and may be reused. */
void buf_release(struct buf *b);

/* Empties the buffer but keeps its memory. */
void buf_reset(struct buf *b);

enum stk_err buf_append(struct buf *b, const void *data, size_t len);
enum stk_err buf_append_str(struct buf *b, const char *s);
enum stk_err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `s` (length `len`) with &, <, >, " and ' replaced by entities. */
enum stk_err buf_append_html(struct buf *b, const char *s, size_t len);

/* Returns the contents and empties `b`. Caller owns the result (free()),
 * which is never NULL on success: an empty buffer gives "". */
char *buf_take(struct buf *b);

#endif
