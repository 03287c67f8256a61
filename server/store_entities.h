/* SQL for the entities table. */
#ifndef STK_STORE_ENTITIES_H
#define STK_STORE_ENTITIES_H

#include <sqlite3.h>

#include "db.h"

struct entity {
    long long id;
    int kind; /* enum entity_kind */
    char key[512];
    char name[256];
    char cluster[128];
    char *props; /* JSON text, owned; free with store_entity_release() */
    int critical;
    long long first_seen, last_seen; /* ms */
    long long alert_count;           /* in lists by incident: alerts of that incident */
};

void store_entity_release(struct entity *e);
/* Fills `elem` (a struct entity) from a row whose columns are, in order:
 * id, kind, key, name, cluster, props, critical, first_seen, last_seen
 * (ENTITY_SELECT below); extra columns after them are left to the caller.
 * For db_collect(). */
void store_entity_from_row(sqlite3_stmt *st, void *elem);
#define ENTITY_SELECT                                                                           \
    "e.id, e.kind, e.key, e.name, e.cluster, e.props, e.critical, e.first_seen, e.last_seen"

/* Releases `n` entities and the array. Accepts NULL. */
void store_entities_free(struct entity *list, size_t n);

/* The id and critical flag of the entity with `key`; STK_ENOTFOUND (no
 * message) when there is none. */
enum stk_err store_entities_find(struct db *db, const char *key, long long *id, int *critical,
                                 struct stk_error *err);
/* Inserts a new entity (`props` JSON text, may be NULL) seen at `seen_ms`. */
enum stk_err store_entities_insert(struct db *db, int kind, const char *key, const char *name,
                                   const char *cluster, const char *props, long long seen_ms,
                                   long long *id, struct stk_error *err);
/* Moves last_seen forward to `seen_ms` (never back). */
enum stk_err store_entities_touch(struct db *db, long long id, long long seen_ms,
                                  struct stk_error *err);
/* Caller owns `out` contents (store_entity_release()). */
enum stk_err store_entities_get(struct db *db, long long id, struct entity *out,
                                struct stk_error *err);
enum stk_err store_entities_get_by_key(struct db *db, const char *key, struct entity *out,
                                       struct stk_error *err);
enum stk_err store_entities_set_critical(struct db *db, long long id, int critical,
                                         struct stk_error *err);
/* Merges the JSON object `patch` into the properties of the entity with
 * `key` (RFC 7396: keys replace, null removes). `*changed` is 0 when there
 * is no such entity. */
enum stk_err store_entities_merge_props(struct db *db, const char *key, const char *patch,
                                        int *changed, struct stk_error *err);

#endif
