#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store_migrations.h"

/* Generated at build time from migrations/NNNN_*.sql (cmake/embed_migrations.cmake). */
extern const struct migration_set stk_builtin_migration_set;

#define MAX_MIGRATIONS 10000
#define MAX_MIGRATION_BYTES (16 * 1024 * 1024)

const struct migration_set *migrate_builtin(void)
{
    return &stk_builtin_migration_set;
}

void migrate_checksum(const char *text, size_t len, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)text, len, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

/* Parses the leading NNNN of "NNNN_verb_noun.sql"; -1 if not of that form. */
static int file_version(const char *name)
{
    size_t len = strlen(name);
    if (len < 10 || strcmp(name + len - 4, ".sql") != 0) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)name[i])) {
            return -1;
        }
    }
    if (name[4] != '_') {
        return -1;
    }
    return (name[0] - '0') * 1000 + (name[1] - '0') * 100 + (name[2] - '0') * 10 + (name[3] - '0');
}

static int by_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static enum stk_err check_sequence(const struct migration *items, size_t count, const char *where,
                                   struct stk_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (items[i].version != (int)i + 1) {
            return stk_error_set(err, STK_EINVAL,
                                 "%s: migration %s has version %d, expected %zu (versions must "
                                 "run 1, 2, 3... with no gap or duplicate)",
                                 where, items[i].name, items[i].version, i + 1);
        }
    }
    return STK_OK;
}

/* Storage behind a set loaded from disk: the array and each name and text. */
struct owned_set {
    struct migration *items;
    size_t count;
};

static void owned_free(struct owned_set *o)
{
    if (o == NULL) {
        return;
    }
    for (size_t i = 0; i < o->count; i++) {
        free((char *)o->items[i].name);
        free((char *)o->items[i].sql);
    }
    free(o->items);
    free(o);
}

static enum stk_err read_file(const char *path, char **out, size_t *len, struct stk_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return stk_error_set(err, STK_EIO, "%s: %s", path, strerror(errno));
    }
    enum stk_err rc = STK_OK;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = stk_error_set(err, STK_EIO, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size > MAX_MIGRATION_BYTES) {
        rc = stk_error_set(err, STK_ETOOBIG, "%s: larger than %d bytes", path, MAX_MIGRATION_BYTES);
        goto out;
    }
    /* One byte more than the size, to notice a file that grew meanwhile. */
    buf = malloc((size_t)st.st_size + 2);
    if (buf == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size + 1, f);
    if (ferror(f) || n != (size_t)st.st_size) {
        rc = stk_error_set(err, STK_EIO, "%s: read error or changed while read", path);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

enum stk_err migrate_load_dir(const char *dir, struct migration_set *out, struct stk_error *err)
{
    memset(out, 0, sizeof(*out));
    enum stk_err rc = STK_OK;
    struct owned_set *o = calloc(1, sizeof(*o));
    DIR *d = opendir(dir);
    if (o == NULL) {
        rc = stk_error_set(err, STK_ENOMEM, "out of memory");
        goto out;
    }
    if (d == NULL) {
        rc = stk_error_set(err, STK_EIO, "%s: %s", dir, strerror(errno));
        goto out;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int version = file_version(e->d_name);
        if (version < 0) {
            continue;
        }
        if (o->count == MAX_MIGRATIONS) {
            rc = stk_error_set(err, STK_ETOOBIG, "%s: too many migrations", dir);
            goto out;
        }
        if (o->count == cap) {
            cap = cap ? cap * 2 : 16;
            struct migration *grown = realloc(o->items, cap * sizeof(*grown));
            if (grown == NULL) {
                rc = stk_error_set(err, STK_ENOMEM, "out of memory");
                goto out;
            }
            o->items = grown;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct migration *m = &o->items[o->count];
        memset(m, 0, sizeof(*m));
        m->version = version;
        m->name = strdup(e->d_name);
        if (m->name == NULL) {
            rc = stk_error_set(err, STK_ENOMEM, "out of memory");
            goto out;
        }
        o->count++;
        char *text = NULL;
        rc = read_file(path, &text, &m->sql_len, err);
        if (rc != STK_OK) {
            goto out;
        }
        m->sql = text;
    }
    if (o->count > 0) {
        qsort(o->items, o->count, sizeof(*o->items), by_version);
    }
    rc = check_sequence(o->items, o->count, dir, err);
out:
    if (d != NULL) {
        closedir(d);
    }
    if (rc != STK_OK) {
        owned_free(o);
        return rc;
    }
    out->items = o->items;
    out->count = o->count;
    out->owned = o;
    return STK_OK;
}

void migrate_set_release(struct migration_set *set)
{
    if (set != NULL) {
        owned_free(set->owned);
        memset(set, 0, sizeof(*set));
    }
}

/* Compares what the database says was applied with the set we have. */
static enum stk_err check_applied(const struct applied_migration *applied, size_t n_applied,
                                  const struct migration_set *set, struct stk_error *err)
{
    for (size_t i = 0; i < n_applied; i++) {
        const struct applied_migration *a = &applied[i];
        if (a->version > (int)set->count) {
            return stk_error_set(err, STK_ECONFLICT,
                                 "database schema version %d (%s) is newer than this stockade "
                                 "knows (version %zu); upgrade stockade or use the right database",
                                 applied[n_applied - 1].version, applied[n_applied - 1].name,
                                 set->count);
        }
        if (a->version != (int)i + 1) {
            return stk_error_set(err, STK_ECONFLICT,
                                 "database records migration %d but not migration %zu; the schema "
                                 "history is damaged",
                                 a->version, i + 1);
        }
        const struct migration *m = &set->items[i];
        char sum[65];
        migrate_checksum(m->sql, m->sql_len, sum);
        if (strcmp(a->name, m->name) != 0) {
            return stk_error_set(err, STK_ECONFLICT,
                                 "migration %d was applied as %s but is now named %s", a->version,
                                 a->name, m->name);
        }
        if (strcmp(a->checksum, sum) != 0) {
            return stk_error_set(err, STK_ECONFLICT,
                                 "migration %s was altered after it was applied (checksum "
                                 "recorded %.12s..., file now %.12s...); migrations only move "
                                 "forward: restore the file and add a new migration",
                                 m->name, a->checksum, sum);
        }
    }
    return STK_OK;
}

enum stk_err migrate_apply(struct db *db, const struct migration_set *set, int *applied,
                           int *version, struct stk_error *err)
{
    if (applied != NULL) {
        *applied = 0;
    }
    if (version != NULL) {
        *version = 0;
    }
    struct applied_migration *done = NULL;
    size_t n_done = 0;
    enum stk_err rc = check_sequence(set->items, set->count, "migrations", err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = store_migrations_ensure(db, err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = store_migrations_list(db, &done, &n_done, err);
    if (rc != STK_OK) {
        goto out;
    }
    rc = check_applied(done, n_done, set, err);
    if (rc != STK_OK) {
        goto out;
    }
    int count = 0;
    for (size_t i = n_done; i < set->count; i++) {
        const struct migration *m = &set->items[i];
        char sum[65];
        migrate_checksum(m->sql, m->sql_len, sum);
        int ran = 0;
        rc = store_migrations_run(db, m->version, m->name, m->sql, sum, &ran, err);
        if (rc != STK_OK) {
            goto out;
        }
        if (ran) {
            log_event(STK_LOG_INFO, "migration_applied", "version=%d name=%s", m->version,
                      m->name);
            count++;
        }
    }
    if (applied != NULL) {
        *applied = count;
    }
    if (version != NULL) {
        *version = (int)set->count;
    }
out:
    free(done);
    return rc;
}
