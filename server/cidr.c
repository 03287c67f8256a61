/* Address ranges (IPv4 and IPv6 CIDRs) for the anonymising-proxy rule. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_parse.h"

/* A list longer than this is a configuration mistake, not a proxy list. */
#define CIDR_MAX_ENTRIES 100000
#define CIDR_ENTRY_MAX 64

struct cidr {
    unsigned char addr[16]; /* IPv4 ranges are stored as ::ffff:a.b.c.d/96+n */
    int prefix;             /* in bits of the 128-bit form */
};

struct cidr_list {
    struct cidr *items;
    size_t n, cap;
};

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses an address into its 128-bit form; `*v4` tells the family. */
static int parse_addr(const char *s, unsigned char out[16], int *v4)
{
    unsigned char a4[4];
    if (inet_pton(AF_INET, s, a4) == 1) {
        memcpy(out, v4_mapped, 12);
        memcpy(out + 12, a4, 4);
        *v4 = 1;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *v4 = 0;
        return 0;
    }
    return -1;
}

static void mask(unsigned char a[16], int prefix)
{
    for (int i = 0; i < 16; i++) {
        int bits = prefix - i * 8;
        if (bits >= 8) {
            continue;
        }
        a[i] &= bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
    }
}

/* Parses "addr" or "addr/len" into `c`; -1 if malformed. */
static int parse_entry(const char *s, struct cidr *c)
{
    char addr[CIDR_ENTRY_MAX];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr)) {
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    int v4;
    if (parse_addr(addr, c->addr, &v4) != 0) {
        return -1;
    }
    int max = v4 ? 32 : 128;
    int len = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        if (*p == '\0' || strlen(p) > 3) {
            return -1;
        }
        len = 0;
        for (; *p != '\0'; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }
            len = len * 10 + (*p - '0');
        }
        if (len > max) {
            return -1;
        }
    }
    c->prefix = v4 ? 96 + len : len;
    /* Host bits are ignored: "10.1.2.3/8" means 10.0.0.0/8. */
    mask(c->addr, c->prefix);
    return 0;
}

static int is_sep(char ch)
{
    return ch == ',' || ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t';
}

enum stk_err cidr_list_parse(const char *text, struct cidr_list **out, struct stk_error *err)
{
    enum stk_err rc = STK_OK;
    *out = NULL;
    struct cidr_list *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    const char *p = text != NULL ? text : "";
    size_t entry = 0;
    while (*p != '\0') {
        if (is_sep(*p)) {
            p++;
            continue;
        }
        if (*p == '#') {
            while (*p != '\0' && *p != '\n') {
                p++;
            }
            continue;
        }
        const char *start = p;
        while (*p != '\0' && !is_sep(*p) && *p != '#') {
            p++;
        }
        size_t n = (size_t)(p - start);
        entry++;
        char tok[CIDR_ENTRY_MAX];
        struct cidr c;
        if (n >= sizeof(tok)) {
            rc =
                stk_error_set(err, STK_EINVAL, "entry %zu: \"%.40s...\" is too long", entry, start);
            goto out;
        }
        memcpy(tok, start, n);
        tok[n] = '\0';
        if (parse_entry(tok, &c) != 0) {
            rc = stk_error_set(err, STK_EINVAL,
                               "entry %zu: \"%s\" is not an IP address or CIDR range", entry, tok);
            goto out;
        }
        if (l->n == CIDR_MAX_ENTRIES) {
            rc = stk_error_set(err, STK_EINVAL, "more than %d entries", CIDR_MAX_ENTRIES);
            goto out;
        }
        if (l->n == l->cap) {
            size_t ncap = l->cap == 0 ? 16 : l->cap * 2;
            struct cidr *items = realloc(l->items, ncap * sizeof(*items));
            if (items == NULL) {
                rc = stk_error_set(err, STK_ENOMEM, "out of memory");
                goto out;
            }
            l->items = items;
            l->cap = ncap;
        }
        l->items[l->n++] = c;
    }
    *out = l;
    l = NULL;
out:
    cidr_list_free(l);
    return rc;
}

void cidr_list_free(struct cidr_list *l)
{
    if (l == NULL) {
        return;
    }
    free(l->items);
    free(l);
}

int cidr_list_contains(const struct cidr_list *l, const char *ip)
{
    unsigned char a[16];
    int v4;
    if (l == NULL || ip == NULL || parse_addr(ip, a, &v4) != 0) {
        return 0;
    }
    for (size_t i = 0; i < l->n; i++) {
        unsigned char m[16];
        memcpy(m, a, 16);
        mask(m, l->items[i].prefix);
        if (memcmp(m, l->items[i].addr, 16) == 0) {
            return 1;
        }
    }
    return 0;
}
