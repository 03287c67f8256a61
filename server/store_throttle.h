/* SQL for login_throttle: failed-login counters per user and per address. */
#ifndef STK_STORE_THROTTLE_H
#define STK_STORE_THROTTLE_H

#include "db.h"

/* 0 failures and 0 blocked_until when the key has no row. */
enum stk_err store_throttle_get(struct db *db, const char *key, long long *failures,
                                long long *blocked_until, struct stk_error *err);
enum stk_err store_throttle_put(struct db *db, const char *key, long long failures,
                                long long now, long long blocked_until, struct stk_error *err);
enum stk_err store_throttle_clear(struct db *db, const char *key, struct stk_error *err);

#endif
