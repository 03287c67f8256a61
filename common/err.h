/* Error codes shared by the server and the agent (STYLE section 3). */
#ifndef STK_ERR_H
#define STK_ERR_H

#include <stddef.h>

enum stk_err {
    STK_OK = 0,
    STK_EINVAL,
    STK_ENOTFOUND,
    STK_ECONFLICT,
    STK_EAUTH,
    STK_EFORBIDDEN,
    STK_ETOOBIG,
    STK_ELIMIT, /* throttled: try again later */
    STK_EDB,
    STK_ENOMEM,
    STK_EIO,
    STK_ECRYPTO,
    STK_EINTERNAL,
};

#define STK_ERROR_MSG_MAX 512

/* Optional out-parameter that carries a human-readable reason with a code.
 * Callers may pass NULL wherever a `struct stk_error *` is accepted. */
struct stk_error {
    enum stk_err code;
    char msg[STK_ERROR_MSG_MAX];
};

/* Records `code` and a printf-style message in `err` (when not NULL) and
 * returns `code`, so a failure path can be `return stk_error_set(...)`. */
enum stk_err stk_error_set(struct stk_error *err, enum stk_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears `err` (when not NULL) to STK_OK and an empty message. */
void stk_error_clear(struct stk_error *err);

/* Stable lower-case name of a code ("invalid", "not_found", ...), used as the
 * `code` of the API error envelope. Never NULL. */
const char *stk_err_name(enum stk_err code);

#endif
