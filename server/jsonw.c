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
    if (w->rc == STK_OK) {
        w->rc = buf_append(w->b, s, n);
    }
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

/* Length of the valid UTF-8 sequence at `s` (1 to 4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4) {
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

static void quoted(struct jw *w, const char *text)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    put(w, "\"", 1);
    const unsigned char *run = s;
    while (*s != '\0' && w->rc == STK_OK) {
        size_t n = utf8_len(s);
        if (n == 1 && *s >= 0x20 && *s != '"' && *s != '\\') {
            s++;
            continue;
        }
        if (n > 1) {
            s += n;
            continue;
        }
        put(w, (const char *)run, (size_t)(s - run));
        char esc[8];
        if (n == 0) {
            put(w, "\xEF\xBF\xBD", 3); /* U+FFFD */
        } else if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*s;
            put(w, esc, 2);
        } else if (*s == '\n' || *s == '\r' || *s == '\t' || *s == '\b' || *s == '\f') {
            esc[0] = '\\';
            esc[1] = *s == '\n'   ? 'n'
                     : *s == '\r' ? 'r'
                     : *s == '\t' ? 't'
                     : *s == '\b' ? 'b'
                                  : 'f';
            put(w, esc, 2);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", *s);
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
    quoted(w, key);
    put(w, ":", 1);
    w->after_key = 1;
}

void jw_str(struct jw *w, const char *s)
{
    before_value(w);
    quoted(w, s);
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
