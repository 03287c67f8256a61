#include "http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "http.h"
#include "http_handlers.h"
#include "log.h"

#define MAX_SERVED_BYTES (16 * 1024 * 1024)
#define CACHE_SLOTS 256

/* Entries are shared by reference count so that no lock is held while a
 * response goes out to a possibly slow client. */
struct cached {
    atomic_int refs;
    char *rel;  /* "static/css/app.css" */
    char *data;
    size_t len;
    struct timespec mtime;
    char etag[40];
    char last_modified[40];
    const char *mime;
};

struct static_files {
    char root[PATH_MAX];         /* realpath of assets_dir */
    pthread_rwlock_t lock;       /* guards cache */
    struct cached *cache[CACHE_SLOTS];
};

static const struct {
    const char *ext;
    const char *mime;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static void cached_put(struct cached *c);

const char *http_static_mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot != NULL) {
        for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++) {
            if (strcasecmp(dot, mime_types[i].ext) == 0) {
                return mime_types[i].mime;
            }
        }
    }
    return "application/octet-stream";
}

int http_static_path_ok(const char *rel)
{
    size_t len = strlen(rel);
    if (len == 0 || len > 255) {
        return 0;
    }
    int seg_start = 1;
    for (const char *p = rel; *p; p++) {
        char c = *p;
        if (c == '/') {
            if (seg_start) {
                return 0; /* empty segment */
            }
            seg_start = 1;
            continue;
        }
        if (seg_start && c == '.') {
            return 0; /* hidden files, "." and ".." */
        }
        seg_start = 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return !seg_start;
}

enum stk_err http_static_new(const char *assets_dir, struct static_files **out,
                             struct stk_error *err)
{
    *out = NULL;
    struct static_files *sf = calloc(1, sizeof(*sf));
    if (sf == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    if (realpath(assets_dir, sf->root) == NULL) {
        enum stk_err rc = stk_error_set(err, STK_EIO, "%s: %s", assets_dir, strerror(errno));
        free(sf);
        return rc;
    }
    pthread_rwlock_init(&sf->lock, NULL);
    *out = sf;
    return STK_OK;
}

void http_static_free(struct static_files *sf)
{
    if (sf == NULL) {
        return;
    }
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        cached_put(sf->cache[i]);
    }
    pthread_rwlock_destroy(&sf->lock);
    free(sf);
}

/* Drops one reference; the last one frees the entry. Accepts NULL. */
static void cached_put(struct cached *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1) {
        free(c->rel);
        free(c->data);
        free(c);
    }
}

static size_t slot_of(const char *rel)
{
    size_t h = 5381;
    for (const char *p = rel; *p; p++) {
        h = h * 33 + (unsigned char)*p;
    }
    return h % CACHE_SLOTS;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Reads the file at `abs` (already known to be a regular file inside the
 * root) into a new entry holding one reference. */
static enum stk_err load(const char *abs, const char *rel, const struct stat *st,
                         struct cached **out)
{
    *out = NULL;
    struct cached *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return STK_ENOMEM;
    }
    atomic_init(&c->refs, 1);
    enum stk_err rc = STK_OK;
    int fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        rc = STK_ENOTFOUND;
        goto out;
    }
    size_t len = (size_t)st->st_size;
    c->data = malloc(len + 1);
    c->rel = strdup(rel);
    if (c->data == NULL || c->rel == NULL) {
        rc = STK_ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, c->data + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = STK_EIO;
            goto out;
        }
        got += (size_t)n;
    }
    c->len = len;
    c->mtime = st->st_mtim;
    unsigned char h[16];
    crypto_generichash(h, sizeof(h), (const unsigned char *)c->data, len, NULL, 0);
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    snprintf(c->etag, sizeof(c->etag), "\"%.32s\"", hex);
    struct tm tm;
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    strftime(c->last_modified, sizeof(c->last_modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    c->mime = http_static_mime(rel);
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != STK_OK) {
        cached_put(c);
        return rc;
    }
    *out = c;
    return STK_OK;
}

/* True when the client's copy (If-None-Match, else If-Modified-Since) is
 * still current. */
static int not_modified(struct http_req *r, const struct cached *c)
{
    const char *inm = http_header(r, "If-None-Match");
    if (inm != NULL) {
        return strcmp(inm, "*") == 0 || strstr(inm, c->etag) != NULL;
    }
    const char *ims = http_header(r, "If-Modified-Since");
    if (ims != NULL) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (end != NULL && *end == '\0') {
            return c->mtime.tv_sec <= timegm(&tm);
        }
    }
    return 0;
}

static int send_cached(struct http_req *r, const struct cached *c)
{
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: no-cache\r\n",
             c->etag, c->last_modified);
    if (not_modified(r, c)) {
        return http_reply(r, 304, c->mime, hdr, NULL, 0);
    }
    return http_reply(r, 200, c->mime, hdr, c->data, c->len);
}

int http_static_serve(struct http_req *r)
{
    struct static_files *sf = r->app->statics;
    /* r->path is "/static/..." or "/web/..."; keep the folder in rel. */
    const char *rel = r->path + 1;
    const char *slash = strchr(rel, '/');
    if (slash == NULL || !http_static_path_ok(slash + 1)) {
        return http_reply_error_status(r, 404, "not_found", "no such file");
    }
    char abs[PATH_MAX + 300];
    snprintf(abs, sizeof(abs), "%s/%s", sf->root, rel);
    struct stat st;
    if (lstat(abs, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SERVED_BYTES) {
        return http_reply_error_status(r, 404, "not_found", "no such file");
    }
    /* A symlinked parent folder could still lead out of the served folder
     * (static/ or web/), to templates/ or the database beside them. */
    char real[PATH_MAX], folder[PATH_MAX + 16];
    snprintf(folder, sizeof(folder), "%s/%.*s/", sf->root, (int)(slash - rel), rel);
    size_t flen = strlen(folder);
    if (realpath(abs, real) == NULL || strncmp(real, folder, flen) != 0) {
        return http_reply_error_status(r, 404, "not_found", "no such file");
    }
    size_t slot = slot_of(rel);
    struct cached *c = NULL;
    pthread_rwlock_rdlock(&sf->lock);
    c = sf->cache[slot];
    if (c != NULL && strcmp(c->rel, rel) == 0 && c->len == (size_t)st.st_size &&
        same_time(&c->mtime, &st.st_mtim)) {
        atomic_fetch_add(&c->refs, 1);
    } else {
        c = NULL;
    }
    pthread_rwlock_unlock(&sf->lock);

    if (c == NULL) {
        enum stk_err rc = load(real, rel, &st, &c);
        if (rc != STK_OK) {
            return rc == STK_ENOTFOUND
                       ? http_reply_error_status(r, 404, "not_found", "no such file")
                       : http_reply_error(r, rc, "could not read the file");
        }
        atomic_fetch_add(&c->refs, 1); /* one for the cache, one for us */
        pthread_rwlock_wrlock(&sf->lock);
        struct cached *old = sf->cache[slot];
        sf->cache[slot] = c;
        pthread_rwlock_unlock(&sf->lock);
        cached_put(old);
    }
    int status = send_cached(r, c);
    cached_put(c);
    return status;
}
