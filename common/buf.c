#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static enum stk_err reserve(struct buf *b, size_t extra)
{
    /* The second test keeps len + extra + 1 from wrapping when max is SIZE_MAX. */
    if (extra > b->max || b->len > b->max - extra || b->len + extra == (size_t)-1) {
        return STK_ETOOBIG;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return STK_OK;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        return STK_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return STK_OK;
}

enum stk_err buf_append(struct buf *b, const void *data, size_t len)
{
    enum stk_err rc = reserve(b, len);
    if (rc != STK_OK) {
        return rc;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return STK_OK;
}

enum stk_err buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum stk_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return STK_EINVAL;
    }
    enum stk_err rc = reserve(b, (size_t)n);
    if (rc != STK_OK) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return STK_OK;
}

enum stk_err buf_append_html(struct buf *b, const char *s, size_t len)
{
    size_t start = b->len;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *ent = NULL;
        switch (s[i]) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        default:
            continue;
        }
        enum stk_err rc = buf_append(b, s + run, i - run);
        if (rc == STK_OK) {
            rc = buf_append_str(b, ent);
        }
        if (rc != STK_OK) {
            b->len = start;
            if (b->data != NULL) {
                b->data[start] = '\0';
            }
            return rc;
        }
        run = i + 1;
    }
    enum stk_err rc = buf_append(b, s + run, len - run);
    if (rc != STK_OK) {
        b->len = start;
        if (b->data != NULL) {
            b->data[start] = '\0';
        }
    }
    return rc;
}

char *buf_take(struct buf *b)
{
    char *p = b->data;
    if (p == NULL) {
        p = calloc(1, 1);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
