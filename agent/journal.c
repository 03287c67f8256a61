/* The replay journal (journal.h). */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "stk_tls.h"

#define JOURNAL_FILE_MAX (256u * 1024 * 1024)
#define PATH_BYTES 4096

static void entry_free(struct journal_entry *e)
{
    free(e->status);
    free(e->reason);
    json_decref(e->details);
    memset(e, 0, sizeof(*e));
}

static int journal_path(const struct journal *j, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/journal", j->dir);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static int evidence_path(const struct journal *j, long long id, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/evidence-%lld.json", j->dir, id);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static void drop_evidence(const struct journal *j, long long id)
{
    char p[PATH_BYTES];
    if (j->dir != NULL && evidence_path(j, id, p, sizeof(p)) == 0) {
        unlink(p);
    }
}

/* Appends `e` as one JSON line to `b`. */
static enum stk_err entry_line(const struct journal_entry *e, struct buf *b)
{
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:O?, s:b}", "id", (json_int_t)e->id, "t",
                          (json_int_t)e->t_ms, "status", e->status, "reason", e->reason, "details",
                          e->details, "evidence", e->has_evidence);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        return STK_ENOMEM;
    }
    enum stk_err rc = buf_append_str(b, text);
    if (rc == STK_OK) {
        rc = buf_append(b, "\n", 1);
    }
    free(text);
    return rc;
}

static enum stk_err rewrite(struct journal *j, struct stk_error *err)
{
    if (j->dir == NULL) {
        return STK_OK;
    }
    struct buf b;
    buf_init(&b, JOURNAL_FILE_MAX);
    enum stk_err rc = STK_OK;
    for (size_t i = 0; i < j->n && rc == STK_OK; i++) {
        rc = entry_line(&j->entries[i], &b);
    }
    char p[PATH_BYTES];
    if (rc != STK_OK) {
        rc = stk_error_set(err, rc, "journal: out of memory");
    } else if (journal_path(j, p, sizeof(p)) != 0) {
        rc = stk_error_set(err, STK_EIO, "journal: path too long");
    } else {
        rc = stk_tls_write_file(p, b.data ? b.data : "", b.len, 0600, err);
    }
    buf_release(&b);
    if (rc == STK_OK) {
        j->appended = 0;
    }
    return rc;
}

static enum stk_err push(struct journal *j, struct journal_entry *e)
{
    if (j->n == STK_JOURNAL_MAX) {
        drop_evidence(j, j->entries[0].id);
        entry_free(&j->entries[0]);
        memmove(j->entries, j->entries + 1, (j->n - 1) * sizeof(*j->entries));
        j->n--;
    }
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct journal_entry *grown = realloc(j->entries, cap * sizeof(*grown));
        if (grown == NULL) {
            return STK_ENOMEM;
        }
        j->entries = grown;
        j->cap = cap;
    }
    j->entries[j->n++] = *e;
    memset(e, 0, sizeof(*e));
    return STK_OK;
}

/* Parses one line; 0 and `*e` filled, or -1. */
static int parse_line(const char *line, size_t len, struct journal_entry *e)
{
    memset(e, 0, sizeof(*e));
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *id = json_object_get(o, "id");
    json_t *t = json_object_get(o, "t");
    const char *status = json_string_value(json_object_get(o, "status"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    json_t *details = json_object_get(o, "details");
    if (json_is_null(details)) {
        details = NULL;
    }
    int ok = json_is_integer(id) && json_is_integer(t) && status != NULL && reason != NULL &&
             (details == NULL || json_is_object(details));
    if (ok) {
        e->id = json_integer_value(id);
        e->t_ms = json_integer_value(t);
        e->status = strdup(status);
        e->reason = strdup(reason);
        e->details = details ? json_incref(details) : NULL;
        e->has_evidence = json_is_true(json_object_get(o, "evidence"));
        ok = e->status != NULL && e->reason != NULL;
    }
    json_decref(o);
    if (!ok) {
        entry_free(e);
        return -1;
    }
    return 0;
}

/* Removes evidence files no entry refers to (left by a crash between
 * writing the evidence and the journal line). */
static void sweep_evidence(const struct journal *j)
{
    DIR *d = opendir(j->dir);
    if (d == NULL) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long long id = 0;
        char tail[8] = "";
        if (sscanf(de->d_name, "evidence-%lld.%7s", &id, tail) != 2 || strcmp(tail, "json") != 0) {
            continue;
        }
        int known = 0;
        for (size_t i = 0; i < j->n && !known; i++) {
            known = j->entries[i].id == id && j->entries[i].has_evidence;
        }
        if (!known) {
            drop_evidence(j, id);
        }
    }
    closedir(d);
}

enum stk_err journal_open(struct journal *j, const char *dir, int64_t now_ms, struct stk_error *err)
{
    memset(j, 0, sizeof(*j));
    if (dir == NULL) {
        return STK_OK;
    }
    j->dir = strdup(dir);
    if (j->dir == NULL) {
        return stk_error_set(err, STK_ENOMEM, "out of memory");
    }
    char p[PATH_BYTES];
    if (journal_path(j, p, sizeof(p)) != 0) {
        journal_release(j);
        return stk_error_set(err, STK_EIO, "journal: path too long");
    }
    FILE *f = fopen(p, "rb");
    if (f == NULL && errno == ENOENT) {
        sweep_evidence(j);
        return STK_OK;
    }
    if (f == NULL) {
        enum stk_err rc = stk_error_set(err, STK_EIO, "%s: %s", p, strerror(errno));
        journal_release(j);
        return rc;
    }
    size_t dropped = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    enum stk_err rc = STK_OK;
    while ((len = getline(&line, &cap, f)) > 0) {
        struct journal_entry e;
        if (parse_line(line, (size_t)len, &e) != 0) {
            dropped++;
            continue;
        }
        if (now_ms - e.t_ms > STK_JOURNAL_TTL_MS) {
            drop_evidence(j, e.id);
            entry_free(&e);
            dropped++;
            continue;
        }
        if (push(j, &e) != STK_OK) {
            entry_free(&e);
            rc = stk_error_set(err, STK_ENOMEM, "journal: out of memory");
            break;
        }
    }
    free(line);
    fclose(f);
    if (rc == STK_OK && dropped > 0) {
        log_event(STK_LOG_INFO, "journal_compacted", "kept=%zu dropped=%zu", j->n, dropped);
        rc = rewrite(j, err);
    }
    if (rc != STK_OK) {
        journal_release(j);
        return rc;
    }
    sweep_evidence(j);
    return STK_OK;
}

void journal_release(struct journal *j)
{
    for (size_t i = 0; i < j->n; i++) {
        entry_free(&j->entries[i]);
    }
    free(j->entries);
    free(j->dir);
    memset(j, 0, sizeof(*j));
}

const struct journal_entry *journal_find(const struct journal *j, long long id, int64_t now_ms)
{
    for (size_t i = j->n; i > 0; i--) {
        const struct journal_entry *e = &j->entries[i - 1];
        if (e->id == id) {
            return now_ms - e->t_ms > STK_JOURNAL_TTL_MS ? NULL : e;
        }
    }
    return NULL;
}

enum stk_err journal_record(struct journal *j, long long id, int64_t now_ms, const char *status,
                            const char *reason, const json_t *details, const json_t *evidence,
                            struct stk_error *err)
{
    struct journal_entry e = {
        .id = id,
        .t_ms = now_ms,
        .status = strdup(status),
        .reason = strdup(reason),
        .details = details ? json_deep_copy(details) : NULL,
        .has_evidence = evidence != NULL,
    };
    if (e.status == NULL || e.reason == NULL || (details != NULL && e.details == NULL)) {
        entry_free(&e);
        return stk_error_set(err, STK_ENOMEM, "journal: out of memory");
    }
    struct buf line;
    buf_init(&line, JOURNAL_FILE_MAX);
    enum stk_err rc = entry_line(&e, &line);
    if (rc == STK_OK) {
        rc = push(j, &e);
    }
    if (rc != STK_OK) {
        entry_free(&e);
        buf_release(&line);
        return stk_error_set(err, STK_ENOMEM, "journal: out of memory");
    }
    if (j->dir == NULL) {
        buf_release(&line);
        return STK_OK;
    }
    char p[PATH_BYTES];
    /* The evidence first: a journal line never names evidence that is not
     * on disk. */
    if (evidence != NULL) {
        char *text = json_dumps(evidence, JSON_COMPACT);
        if (text == NULL || evidence_path(j, id, p, sizeof(p)) != 0) {
            rc = stk_error_set(err, STK_EIO, "journal: cannot store the evidence of %lld", id);
        } else {
            rc = stk_tls_write_file(p, text, strlen(text), 0600, err);
        }
        free(text);
    }
    if (rc == STK_OK && journal_path(j, p, sizeof(p)) != 0) {
        rc = stk_error_set(err, STK_EIO, "journal: path too long");
    }
    if (rc == STK_OK) {
        int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = stk_error_set(err, STK_EIO, "%s: %s", p, strerror(errno));
        } else {
            ssize_t w = write(fd, line.data, line.len);
            int synced = fdatasync(fd) == 0;
            if (w != (ssize_t)line.len || !synced) {
                rc = stk_error_set(err, STK_EIO, "%s: %s", p,
                                   w < 0 || !synced ? strerror(errno) : "short write");
            }
            close(fd);
        }
    }
    buf_release(&line);
    if (rc == STK_OK && ++j->appended > j->n + 1000) {
        journal_expire(j, now_ms);
        rc = rewrite(j, err);
    }
    return rc;
}

json_t *journal_evidence(const struct journal *j, long long id)
{
    char p[PATH_BYTES];
    if (j->dir == NULL || evidence_path(j, id, p, sizeof(p)) != 0) {
        return NULL;
    }
    return json_load_file(p, JSON_REJECT_DUPLICATES, NULL);
}

void journal_expire(struct journal *j, int64_t now_ms)
{
    size_t keep = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (now_ms - j->entries[i].t_ms > STK_JOURNAL_TTL_MS) {
            if (j->entries[i].has_evidence) {
                drop_evidence(j, j->entries[i].id);
            }
            entry_free(&j->entries[i]);
            continue;
        }
        j->entries[keep++] = j->entries[i];
    }
    j->n = keep;
}
