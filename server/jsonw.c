#include "jsonw.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void jw_init(struct jw *w, struct buf *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

static void put(struct jw *w, const char *s, size_t n)
{
    struct buf *b = w->b;
    if (w->rc != STK_OK) {
        return;
    }
    /* Most pieces are a few bytes and fit: skip buf_append's checks. */
    if (b->data != NULL && n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    w->rc = buf_append(b, s, n);
}

/* The separator before a value (or a key) at the current level. */
static void before_value(struct jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->open[w->depth - 1] == '{') {
            w->rc = w->rc == STK_OK ? STK_EINTERNAL : w->rc; /* value without a key */
            return;
        }
        if (w->count[w->depth - 1]++ > 0) {
            put(w, ",", 1);
        }
    }
}

static void open_level(struct jw *w, char c)
{
    before_value(w);
    if (w->depth == JW_MAX_DEPTH) {
        w->rc = w->rc == STK_OK ? STK_EINTERNAL : w->rc;
        return;
    }
    w->open[w->depth] = c;
    w->count[w->depth++] = 0;
    put(w, &c, 1);
}

void jw_object(struct jw *w)
{
    open_level(w, '{');
}

void jw_array(struct jw *w)
{
    open_level(w, '[');
}

void jw_end(struct jw *w)
{
    if (w->depth == 0 || w->after_key) {
        w->rc = w->rc == STK_OK ? STK_EINTERNAL : w->rc;
        return;
    }
    char c = w->open[--w->depth] == '{' ? '}' : ']';
    put(w, &c, 1);
}

/* Length of the valid UTF-8 sequence at `s` (1 to 4, at most `avail`), or
 * 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4 || n > avail) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    unsigned cp = n == 2   ? (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)
                  : n == 3 ? (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu)
                           : (s[0] & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 |
                                 (s[3] & 0x3Fu);
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return n;
}

/* Bytes a JSON string holds as they are: printable ASCII but '"' and '\\'
 * (0x80 and up are checked as UTF-8). */
static int plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The `len` bytes at `text` as a JSON string. The escapes are json_dumps()'s
 * (short forms, else upper-case \u00XX), so evidence written here is the
 * same text jansson wrote for it. */
static void quoted(struct jw *w, const char *text, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)text;
    const unsigned char *end = s + len;
    put(w, "\"", 1);
    const unsigned char *run = s;
    while (s < end && w->rc == STK_OK) {
        if (plain(*s)) {
            s++;
            continue;
        }
        size_t n = *s >= 0x80 ? utf8_len(s, (size_t)(end - s)) : 1;
        if (n > 1) {
            s += n;
            continue;
        }
        put(w, (const char *)run, (size_t)(s - run));
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        if (n == 0) {
            put(w, "\xEF\xBF\xBD", 3); /* U+FFFD */
        } else if (*s == '"' || *s == '\\') {
            esc[1] = (char)*s;
            put(w, esc, 2);
        } else if (*s == '\n' || *s == '\r' || *s == '\t' || *s == '\b' || *s == '\f') {
            esc[1] = *s == '\n'   ? 'n'
                     : *s == '\r' ? 'r'
                     : *s == '\t' ? 't'
                     : *s == '\b' ? 'b'
                                  : 'f';
            put(w, esc, 2);
        } else {
            esc[1] = 'u';
            esc[4] = hex[*s >> 4];
            esc[5] = hex[*s & 0xF];
            put(w, esc, 6);
        }
        s++;
        run = s;
    }
    put(w, (const char *)run, (size_t)(s - run));
    put(w, "\"", 1);
}

void jw_key(struct jw *w, const char *key)
{
    if (w->depth == 0 || w->open[w->depth - 1] != '{' || w->after_key) {
        w->rc = w->rc == STK_OK ? STK_EINTERNAL : w->rc;
        return;
    }
    if (w->count[w->depth - 1]++ > 0) {
        put(w, ",", 1);
    }
    quoted(w, key != NULL ? key : "", key != NULL ? strlen(key) : 0);
    put(w, ":", 1);
    w->after_key = 1;
}

void jw_str(struct jw *w, const char *s)
{
    before_value(w);
    quoted(w, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void jw_int(struct jw *w, long long v)
{
    before_value(w);
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", v);
    put(w, num, (size_t)n);
}

void jw_bool(struct jw *w, int v)
{
    before_value(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
    before_value(w);
    put(w, "null", 4);
}

/* A jansson value without the separator before it; recursion is bounded by
 * the value's nesting (jw_json's contract). */
static void json_value(struct jw *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put(w, "{", 1);
        for (void *it = json_object_iter((json_t *)v); it != NULL && w->rc == STK_OK;) {
            quoted(w, json_object_iter_key(it), json_object_iter_key_len(it));
            put(w, ":", 1);
            json_value(w, json_object_iter_value(it));
            it = json_object_iter_next((json_t *)v, it);
            if (it != NULL) {
                put(w, ",", 1);
            }
        }
        put(w, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(w, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && w->rc == STK_OK; i++) {
            if (i > 0) {
                put(w, ",", 1);
            }
            json_value(w, json_array_get(v, i));
        }
        put(w, "]", 1);
        break;
    case JSON_STRING:
        quoted(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        char num[24];
        int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(w, num, (size_t)n);
        break;
    }
    case JSON_REAL: {
        /* Reals as jansson spells them (its precision and exponent form):
         * rare in what we write, so its slower path is fine. */
        char num[64];
        size_t n = json_dumpb(v, num, sizeof(num), JSON_ENCODE_ANY | JSON_COMPACT);
        if (n == 0 || n > sizeof(num)) {
            w->rc = w->rc == STK_OK ? STK_EINTERNAL : w->rc;
            return;
        }
        put(w, num, n);
        break;
    }
    case JSON_TRUE:
        put(w, "true", 4);
        break;
    case JSON_FALSE:
        put(w, "false", 5);
        break;
    case JSON_NULL:
        put(w, "null", 4);
        break;
    }
}

void jw_json(struct jw *w, const json_t *v)
{
    before_value(w);
    if (v == NULL) {
        w->rc = w->rc == STK_OK ? STK_EINTERNAL : w->rc;
        return;
    }
    json_value(w, v);
}

void jw_raw(struct jw *w, const char *json, const char *fallback)
{
    before_value(w);
    const char *t = json != NULL && json[0] != '\0' ? json : fallback;
    put(w, t, strlen(t));
}

void jw_time_ms(struct jw *w, long long ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
        jw_null(w);
        return;
    }
    char text[64];
    int n =
        snprintf(text, sizeof(text), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ\"", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
    before_value(w);
    put(w, text, (size_t)n);
}
