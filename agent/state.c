/* The state directory (state.h). */
#include "state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stk_tls.h"

#define SMALL_FILE_MAX 4096

enum stk_err state_dir_prepare(const char *dir, struct stk_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT) {
            return stk_error_set(err, STK_EIO, "state directory %s: %s", dir, strerror(errno));
        }
        if (mkdir(dir, 0700) != 0) {
            return stk_error_set(err, STK_EIO, "cannot create state directory %s: %s", dir,
                                 strerror(errno));
        }
        return STK_OK;
    }
    if (!S_ISDIR(st.st_mode)) {
        return stk_error_set(err, STK_EIO, "state directory %s is not a directory", dir);
    }
    if ((st.st_mode & 077) != 0) {
        return stk_error_set(err, STK_EIO,
                             "state directory %s is open to others (mode %03o); chmod 700 it", dir,
                             (unsigned)(st.st_mode & 0777));
    }
    if (access(dir, W_OK | X_OK) != 0) {
        return stk_error_set(err, STK_EIO, "state directory %s: %s", dir, strerror(errno));
    }
    return STK_OK;
}

int state_path(const char *dir, const char *name, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/%s", dir, name);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

int state_enrolled(const char *dir)
{
    char p[4096];
    return state_path(dir, "agent.crt", p, sizeof(p)) == 0 && access(p, F_OK) == 0;
}

int state_cluster_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < STK_AGENT_CLUSTER_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Reads a small text file, trailing whitespace trimmed. */
static enum stk_err read_small(const char *dir, const char *name, char *out, size_t n,
                               struct stk_error *err)
{
    char p[4096];
    if (state_path(dir, name, p, sizeof(p)) != 0) {
        return stk_error_set(err, STK_EIO, "%s/%s: path too long", dir, name);
    }
    FILE *f = fopen(p, "rb");
    if (f == NULL) {
        return stk_error_set(err, STK_EIO, "%s: %s", p, strerror(errno));
    }
    size_t got = fread(out, 1, n - 1, f);
    int too_long = got == n - 1 && fgetc(f) != EOF;
    fclose(f);
    if (too_long) {
        return stk_error_set(err, STK_EINVAL, "%s: too long", p);
    }
    while (got > 0 && (out[got - 1] == '\n' || out[got - 1] == '\r' || out[got - 1] == ' ')) {
        got--;
    }
    out[got] = '\0';
    return STK_OK;
}

enum stk_err state_read_cluster(const char *dir, char out[STK_AGENT_CLUSTER_MAX],
                                struct stk_error *err)
{
    char text[256];
    enum stk_err rc = read_small(dir, "cluster", text, sizeof(text), err);
    if (rc != STK_OK) {
        out[0] = '\0';
        return rc;
    }
    if (!state_cluster_name_ok(text)) {
        out[0] = '\0';
        return stk_error_set(err, STK_EINVAL, "%s/cluster: not a cluster name", dir);
    }
    memcpy(out, text, strlen(text) + 1); /* state_cluster_name_ok() bounded it */
    return STK_OK;
}

enum stk_err state_read_command_pk(const char *dir, unsigned char pk[STK_CMD_PK_BYTES],
                                   struct stk_error *err)
{
    char text[256];
    enum stk_err rc = read_small(dir, "command.pub", text, sizeof(text), err);
    if (rc == STK_OK && cmd_pk_decode(text, pk) != STK_OK) {
        rc = stk_error_set(err, STK_EINVAL, "%s/command.pub: not a base64 Ed25519 public key", dir);
    }
    return rc;
}

enum stk_err state_write(const char *dir, const char *name, const char *text, struct stk_error *err)
{
    char p[4096];
    if (state_path(dir, name, p, sizeof(p)) != 0) {
        return stk_error_set(err, STK_EIO, "%s/%s: path too long", dir, name);
    }
    return stk_tls_write_file(p, text, strlen(text), 0600, err);
}

/* ------------------------------------------------------------------------ */
/* The isolated pods */

static enum stk_err watch_save(struct watch_set *w, struct stk_error *err)
{
    if (w->path == NULL) {
        return STK_OK;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < w->n; i++) {
        if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "namespace", w->v[i].ns, "pod",
                                                 w->v[i].pod, "key", w->v[i].key)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (text == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    enum stk_err rc = stk_tls_write_file(w->path, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

static enum stk_err push(struct watch_set *w, const char *ns, const char *pod, const char *key)
{
    if (strlen(ns) >= sizeof(w->v[0].ns) || strlen(pod) >= sizeof(w->v[0].pod) ||
        strlen(key) >= sizeof(w->v[0].key)) {
        return STK_EINVAL;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct watch_entry *g = realloc(w->v, cap * sizeof(*g));
        if (g == NULL) {
            return STK_ENOMEM;
        }
        w->v = g;
        w->cap = cap;
    }
    struct watch_entry *e = &w->v[w->n++];
    snprintf(e->ns, sizeof(e->ns), "%s", ns);
    snprintf(e->pod, sizeof(e->pod), "%s", pod);
    snprintf(e->key, sizeof(e->key), "%s", key);
    return STK_OK;
}

enum stk_err watch_load(struct watch_set *w, const char *dir, struct stk_error *err)
{
    memset(w, 0, sizeof(*w));
    if (dir == NULL) {
        return STK_OK;
    }
    char p[4096];
    if (state_path(dir, "isolated", p, sizeof(p)) != 0) {
        return stk_error_set(err, STK_EIO, "%s/isolated: path too long", dir);
    }
    w->path = strdup(p);
    if (w->path == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    if (access(p, F_OK) != 0) {
        return STK_OK;
    }
    json_error_t je;
    json_t *arr = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_array(arr)) {
        json_decref(arr);
        watch_release(w);
        return stk_error_set(err, STK_EIO, "%s: %s", p, je.text[0] ? je.text : "not a list");
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        const char *ns = json_string_value(json_object_get(o, "namespace"));
        const char *pod = json_string_value(json_object_get(o, "pod"));
        const char *key = json_string_value(json_object_get(o, "key"));
        if (ns != NULL && pod != NULL && key != NULL) {
            (void)push(w, ns, pod, key);
        }
    }
    json_decref(arr);
    return STK_OK;
}

void watch_release(struct watch_set *w)
{
    free(w->v);
    free(w->path);
    memset(w, 0, sizeof(*w));
}

enum stk_err watch_add(struct watch_set *w, const char *ns, const char *pod, const char *key,
                       struct stk_error *err)
{
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->v[i].ns, ns) == 0 && strcmp(w->v[i].pod, pod) == 0) {
            return STK_OK;
        }
    }
    enum stk_err rc = push(w, ns, pod, key);
    if (rc != STK_OK) {
        return stk_error_set(err, rc, "cannot watch %s/%s", ns, pod);
    }
    return watch_save(w, err);
}

enum stk_err watch_remove(struct watch_set *w, const char *ns, const char *pod,
                          struct stk_error *err)
{
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->v[i].ns, ns) == 0 && strcmp(w->v[i].pod, pod) == 0) {
            w->v[i] = w->v[w->n - 1];
            w->n--;
            return watch_save(w, err);
        }
    }
    return STK_OK;
}
