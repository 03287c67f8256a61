/* SQL for the audit_log table. */
#ifndef STK_STORE_AUDIT_H
#define STK_STORE_AUDIT_H

#include <sqlite3.h>

#include "db.h"

/* One row. In rows read back every string is owned by the row. */
struct audit_row {
    long long id;
    long long ts;
    char *actor;
    char *actor_kind;
    char *source_ip;
    char *action;
    char *target;
    char *outcome;
    char *details; /* JSON text as stored */
    char prev_hash[65];
    char hash[65];
};

/* Frees the strings of `row`. Accepts a zeroed row. */
void store_audit_row_release(struct audit_row *row);

struct audit_filter {
    const char *actor;   /* exact, or NULL */
    const char *action;  /* prefix ("user." matches user.create), or NULL */
    const char *outcome; /* exact, or NULL */
    long long since_ms;  /* 0: no bound */
    long long until_ms;  /* 0: no bound */
    long long before_id; /* keyset cursor: ids below this; 0: from the newest */
    int limit;           /* 1..500 */
};

/* Id and hash of the newest entry; 0 and 64 zeros when the log is empty. */
enum stk_err store_audit_last(struct db *db, long long *id, char hash[65], struct stk_error *err);

/* Inserts `row` as given (id included). */
enum stk_err store_audit_insert(struct db *db, const struct audit_row *row, struct stk_error *err);

/* Calls `fn` for every entry in id order with a borrowed row; stops early
 * when `fn` returns non-zero (and returns STK_OK). */
enum stk_err store_audit_each(struct db *db, int (*fn)(const struct audit_row *row, void *ctx),
                              void *ctx, struct stk_error *err);

/* Newest-first page matching `f`. Caller owns `*rows` (release each row,
 * then free the array). */
enum stk_err store_audit_list(struct db *db, const struct audit_filter *f, struct audit_row **rows,
                              size_t *count, struct stk_error *err);

#endif
