/* Bounded loading and typed reading of ingestion bodies (ingest_json.h). */
#include "ingest_json.h"

#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS_2000 946684800000LL /* 2000-01-01T00:00:00Z */
#define MS_DAY 86400000LL

void ingest_ctx_init(struct ingest_ctx *c, struct ingest_reject *rej)
{
    struct timespec ts;
    c->rej = rej;
    c->index = -1;
    c->now_ms = 0;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        c->now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    rej->index = -1;
    rej->reason[0] = '\0';
}

enum stk_err ingest_fail(struct ingest_ctx *c, enum stk_err code, const char *fmt, ...)
{
    struct ingest_reject *r = c->rej;
    size_t off = 0;
    r->index = c->index;
    if (c->index >= 0) {
        int n = snprintf(r->reason, sizeof(r->reason), "element %ld: ", c->index);
        off = n > 0 ? (size_t)n : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason + off, sizeof(r->reason) - off, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- pre-scan ---------------------------------------------------------- */

static int is_token_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '-' || ch == '+' || ch == '.';
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* An integer literal (valid JSON form) whose value does not fit int64. */
static int is_big_int(const char *p, size_t n)
{
    int neg = 0;
    if (n > 0 && p[0] == '-') {
        neg = 1;
        p++;
        n--;
    }
    if (n == 0 || (n > 1 && p[0] == '0')) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }
    if (n != 19) {
        return n > 19;
    }
    return strncmp(p, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0;
}

struct scanner {
    int depth;
    int top_array;   /* the current top-level value is an array */
    int expect_item; /* inside a top-level array, after '[' or ',' */
    int closed;      /* a top-level value has ended */
    struct ingest_scan s;
};

/* Accounts for a value (bracket, string or bare token) starting at the
 * current depth. */
static void value_start(struct scanner *sc, char ch)
{
    if (sc->depth == 0) {
        sc->s.top_values++;
        sc->top_array = ch == '[';
        if (!sc->top_array) {
            sc->s.elements++;
        }
        sc->expect_item = sc->top_array;
    } else if (sc->depth == 1 && sc->top_array && sc->expect_item) {
        sc->s.elements++;
        sc->expect_item = 0;
    }
}

/* Where the string whose contents start at `i` ends: its closing quote,
 * the first one after an even number of backslashes (`stop` if none).
 * Bodies are mostly strings: memchr finds the quotes. */
static size_t string_end(const char *body, size_t i, size_t stop)
{
    size_t start = i;
    while (i < stop) {
        const char *q = memchr(body + i, '"', stop - i);
        if (q == NULL) {
            break;
        }
        size_t at = (size_t)(q - body), n = 0;
        while (at - n > start && body[at - n - 1] == '\\') {
            n++;
        }
        if (n % 2 == 0) {
            return at;
        }
        i = at + 1;
    }
    return stop;
}

/* Scans up to `stop` bytes. Returns 1 when nesting passed the limit (the
 * scan stops there), else 0. */
static int scan(const char *body, size_t len, size_t stop, struct scanner *sc)
{
    memset(sc, 0, sizeof(*sc));
    if (stop > len) {
        stop = len;
    }
    for (size_t i = 0; i < stop; i++) {
        char ch = body[i];
        if (is_blank(ch)) {
            continue;
        }
        if (sc->s.first == 0) {
            sc->s.first = (unsigned char)ch;
        }
        if (ch == '"') {
            value_start(sc, ch);
            i = string_end(body, i + 1, stop);
            continue;
        }
        if (is_token_char(ch)) {
            size_t j = i;
            while (j < len && is_token_char(body[j])) {
                j++;
            }
            value_start(sc, ch);
            if (is_big_int(body + i, j - i)) {
                sc->s.big_ints++;
            }
            i = j - 1;
            continue;
        }
        switch (ch) {
        case '[':
        case '{':
            value_start(sc, ch);
            sc->depth++;
            if (sc->depth > INGEST_MAX_DEPTH) {
                return 1;
            }
            break;
        case ']':
        case '}':
            if (sc->depth > 0) {
                sc->depth--;
                sc->closed |= sc->depth == 0;
            }
            if (sc->depth == 1 && sc->top_array) {
                sc->expect_item = 0;
            }
            break;
        case ',':
            if (sc->depth == 1 && sc->top_array) {
                sc->expect_item = 1;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

enum stk_err ingest_scan_body(struct ingest_ctx *c, const char *body, size_t len,
                              struct ingest_scan *out)
{
    struct scanner sc;
    int deep = scan(body, len, len, &sc);
    *out = sc.s;
    if (deep) {
        long saved = c->index;
        c->index = sc.s.elements > 0 ? (long)sc.s.elements - 1 : -1;
        enum stk_err rc =
            ingest_fail(c, STK_EINVAL, "nesting deeper than %d levels", INGEST_MAX_DEPTH);
        c->index = saved;
        return rc;
    }
    return STK_OK;
}

long ingest_element_at(const char *body, size_t len, size_t pos)
{
    struct scanner sc;
    scan(body, len, pos, &sc);
    /* Past the end of the first value: the body as a whole is bad. */
    if (sc.closed) {
        return -1;
    }
    return sc.s.elements > 0 ? (long)sc.s.elements - 1 : -1;
}

enum stk_err ingest_quote_big_ints(const char *body, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    struct scanner sc;
    scan(body, len, len, &sc);
    size_t cap = len + 2 * sc.s.big_ints + 1;
    char *dst = malloc(cap);
    if (dst == NULL) {
        return STK_ENOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = body[i];
        if (ch == '"') {
            size_t j = i + 1;
            while (j < len && body[j] != '"') {
                j += body[j] == '\\' ? 2 : 1;
            }
            j = j < len ? j + 1 : len;
            memcpy(dst + o, body + i, j - i);
            o += j - i;
            i = j - 1;
            continue;
        }
        if (is_token_char(ch)) {
            size_t j = i;
            while (j < len && is_token_char(body[j])) {
                j++;
            }
            int big = is_big_int(body + i, j - i);
            if (big) {
                dst[o++] = '"';
            }
            memcpy(dst + o, body + i, j - i);
            o += j - i;
            if (big) {
                dst[o++] = '"';
            }
            i = j - 1;
            continue;
        }
        dst[o++] = ch;
    }
    dst[o] = '\0';
    *out = dst;
    *out_len = o;
    return STK_OK;
}

json_t *ingest_load(const char *text, size_t len, int stream, size_t *used, char *why,
                    size_t why_size)
{
    json_error_t jerr;
    size_t flags = JSON_REJECT_DUPLICATES | (stream ? JSON_DISABLE_EOF_CHECK : 0);
    json_t *v = json_loadb(text, len, flags, &jerr);
    if (v == NULL) {
        snprintf(why, why_size, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        if (used != NULL) {
            *used = jerr.position > 0 ? (size_t)jerr.position : 0;
        }
        return NULL;
    }
    if (used != NULL) {
        *used = jerr.position > 0 ? (size_t)jerr.position : len;
    }
    return v;
}

/* ---- field readers ------------------------------------------------------ */

/* The member, or NULL when absent or null. */
static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

static int is_na(const json_t *v, int flags)
{
    return (flags & INGEST_NA) != 0 && json_is_string(v) &&
           strcmp(json_string_value(v), "<NA>") == 0;
}

static enum stk_err absent(struct ingest_ctx *c, const char *field, int flags)
{
    if (flags & INGEST_REQUIRED) {
        return ingest_fail(c, STK_EINVAL, "%s: is required", field);
    }
    return STK_OK;
}

enum stk_err ingest_str(struct ingest_ctx *c, const json_t *obj, const char *key, const char *field,
                        size_t size, int flags, const char **out)
{
    *out = NULL;
    json_t *v = member(obj, key);
    if (v == NULL || is_na(v, flags)) {
        return absent(c, field, flags);
    }
    if (!json_is_string(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected a string", field);
    }
    size_t n = json_string_length(v);
    if (n >= size) {
        return ingest_fail(c, STK_EINVAL, "%s: %zu bytes exceeds the limit of %zu", field, n,
                           size - 1);
    }
    if (n == 0 && (flags & INGEST_NONEMPTY)) {
        return ingest_fail(c, STK_EINVAL, "%s: must not be empty", field);
    }
    *out = json_string_value(v);
    return STK_OK;
}

enum stk_err ingest_str_copy(struct ingest_ctx *c, const json_t *obj, const char *key,
                             const char *field, char *buf, size_t size, int flags)
{
    const char *s;
    buf[0] = '\0';
    enum stk_err rc = ingest_str(c, obj, key, field, size, flags, &s);
    if (rc == STK_OK && s != NULL) {
        memcpy(buf, s, strlen(s) + 1);
    }
    return rc;
}

enum stk_err ingest_str_dup(struct ingest_ctx *c, const json_t *obj, const char *key,
                            const char *field, size_t size, int flags, char **out)
{
    const char *s;
    *out = NULL;
    enum stk_err rc = ingest_str(c, obj, key, field, size, flags, &s);
    if (rc != STK_OK || s == NULL) {
        return rc;
    }
    *out = strdup(s);
    if (*out == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    return STK_OK;
}

enum stk_err ingest_int(struct ingest_ctx *c, const json_t *obj, const char *key, const char *field,
                        int flags, long long *out, int *present)
{
    *present = 0;
    json_t *v = member(obj, key);
    if (v == NULL || is_na(v, flags)) {
        return absent(c, field, flags);
    }
    if (!json_is_integer(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected an integer", field);
    }
    *out = (long long)json_integer_value(v);
    *present = 1;
    return STK_OK;
}

enum stk_err ingest_bool(struct ingest_ctx *c, const json_t *obj, const char *key,
                         const char *field, int flags, int *out)
{
    *out = 0;
    json_t *v = member(obj, key);
    if (v == NULL || is_na(v, flags)) {
        return absent(c, field, flags);
    }
    if (!json_is_boolean(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected true or false", field);
    }
    *out = json_is_true(v);
    return STK_OK;
}

enum stk_err ingest_object(struct ingest_ctx *c, const json_t *obj, const char *key,
                           const char *field, int flags, json_t **out)
{
    *out = NULL;
    json_t *v = member(obj, key);
    if (v == NULL || is_na(v, flags)) {
        return absent(c, field, flags);
    }
    if (!json_is_object(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected an object", field);
    }
    *out = v;
    return STK_OK;
}

enum stk_err ingest_array(struct ingest_ctx *c, const json_t *obj, const char *key,
                          const char *field, int flags, size_t max_items, json_t **out)
{
    *out = NULL;
    json_t *v = member(obj, key);
    if (v == NULL || is_na(v, flags)) {
        return absent(c, field, flags);
    }
    if (!json_is_array(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected an array", field);
    }
    if (json_array_size(v) > max_items) {
        return ingest_fail(c, STK_EINVAL, "%s: %zu items exceeds the limit of %zu", field,
                           json_array_size(v), max_items);
    }
    *out = v;
    return STK_OK;
}

/* ---- time --------------------------------------------------------------- */

/* Reads exactly `n` digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9') {
            return -1;
        }
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char ch)
{
    if (**p != ch) {
        return -1;
    }
    (*p)++;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int ingest_parse_rfc3339(const char *s, long long *ns)
{
    const char *p = s;
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    long long frac = 0;
    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d)) {
        return -1;
    }
    if (*p != 'T' && *p != 't') {
        return -1;
    }
    p++;
    if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') ||
        digits(&p, 2, &se)) {
        return -1;
    }
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n == 9) {
                return -1;
            }
            frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0) {
            return -1;
        }
        for (; n < 9; n++) {
            frac *= 10;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 23 || om > 59) {
            return -1;
        }
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 60) {
        return -1;
    }
    long long secs = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + se;
    secs -= sign * (oh * 3600LL + om * 60LL);
    /* Years past 2262 do not fit int64 nanoseconds; they are out of range
     * anyway, so saturate and let the range check refuse them. */
    if (secs > LLONG_MAX / 1000000000LL - 1) {
        *ns = LLONG_MAX;
    } else if (secs < LLONG_MIN / 1000000000LL + 1) {
        *ns = LLONG_MIN;
    } else {
        *ns = secs * 1000000000LL + frac;
    }
    return 0;
}

enum stk_err ingest_time_check(struct ingest_ctx *c, const char *field, const char *text,
                               long long ns, long long *ms)
{
    long long v = ns / 1000000;
    if (ns < 0 || v < MS_2000 || v > c->now_ms + MS_DAY) {
        return ingest_fail(c, STK_EINVAL, "%s: %.64s is out of range", field, text);
    }
    *ms = v;
    return STK_OK;
}

enum stk_err ingest_time(struct ingest_ctx *c, const json_t *obj, const char *key,
                         const char *field, int flags, long long *ms, const char **text)
{
    const char *s;
    long long ns;
    *ms = 0;
    *text = NULL;
    enum stk_err rc = ingest_str(c, obj, key, field, 64, flags, &s);
    if (rc != STK_OK || s == NULL) {
        return rc;
    }
    if (ingest_parse_rfc3339(s, &ns) != 0) {
        return ingest_fail(c, STK_EINVAL, "%s: \"%.64s\" is not an RFC 3339 time", field, s);
    }
    rc = ingest_time_check(c, field, s, ns, ms);
    if (rc == STK_OK) {
        *text = s;
    }
    return rc;
}

/* ---- addresses, entities, JSON output ----------------------------------- */

int ingest_is_ip(const char *s)
{
    unsigned char a[16];
    return s != NULL && (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1);
}

int ingest_ip_is_local(const char *s)
{
    unsigned char a[16];
    static const unsigned char zero[16];
    if (inet_pton(AF_INET, s, a) == 1) {
        return a[0] == 127 || memcmp(a, zero, 4) == 0;
    }
    if (inet_pton(AF_INET6, s, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) {
            return 1;
        }
        return memcmp(a, mapped, 12) == 0 && (a[12] == 127 || memcmp(a + 12, zero, 4) == 0);
    }
    return 0;
}

enum stk_err ingest_entity(struct ingest_ctx *c, struct alert_in *a, enum entity_kind kind,
                           const char *name, struct entity_ref **out, const char *what,
                           const char *fmt, ...)
{
    char key[ALERT_KEY_MAX];
    if (out != NULL) {
        *out = NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(key, sizeof(key), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(key)) {
        return ingest_fail(c, STK_EINVAL, "%s: the %s entity key exceeds %d bytes", what,
                           alert_entity_kind_name(kind), ALERT_KEY_MAX - 1);
    }
    if (name != NULL && strlen(name) >= ALERT_NAME_MAX) {
        return ingest_fail(c, STK_EINVAL, "%s: the %s entity name exceeds %d bytes", what,
                           alert_entity_kind_name(kind), ALERT_NAME_MAX - 1);
    }
    struct entity_ref *e = alert_add_entity(a, kind, key, name);
    if (e == NULL && a->n_entities < ALERT_MAX_ENTITIES) {
        /* Not full: the default name (the key's last part) was too long,
         * or memory ran out. */
        if (name == NULL && strlen(alert_entity_default_name(key)) >= ALERT_NAME_MAX) {
            return ingest_fail(c, STK_EINVAL, "%s: the %s entity name exceeds %d bytes", what,
                               alert_entity_kind_name(kind), ALERT_NAME_MAX - 1);
        }
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    if (out != NULL) {
        *out = e;
    }
    return STK_OK;
}

void ingest_copy(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    assert(n < size);
    if (src != NULL && n < size) {
        memcpy(dst, src, n + 1);
    }
}

int ingest_one_of(const char *s, const char *const *list)
{
    for (; s != NULL && *list != NULL; list++) {
        if (strcmp(s, *list) == 0) {
            return 1;
        }
    }
    return 0;
}

void ingest_key_hex(const unsigned char key[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[key[i] >> 4];
        out[2 * i + 1] = hex[key[i] & 15];
    }
    out[32] = '\0';
}

int ingest_set_str(json_t *obj, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return 0;
    }
    return json_object_set_new(obj, key, json_string(value));
}

int ingest_set_int(json_t *obj, const char *key, long long value)
{
    return json_object_set_new(obj, key, json_integer((json_int_t)value));
}

int ingest_set_nonempty(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL) {
        return -1;
    }
    if ((json_is_object(value) && json_object_size(value) == 0) ||
        (json_is_array(value) && json_array_size(value) == 0)) {
        json_decref(value);
        return 0;
    }
    return json_object_set_new(obj, key, value);
}
