#include "err.h"

#include <stdarg.h>
#include <stdio.h>

enum stk_err stk_error_set(struct stk_error *err, enum stk_err code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void stk_error_clear(struct stk_error *err)
{
    if (err != NULL) {
        err->code = STK_OK;
        err->msg[0] = '\0';
    }
}

const char *stk_err_name(enum stk_err code)
{
    switch (code) {
    case STK_OK:
        return "ok";
    case STK_EINVAL:
        return "invalid_request";
    case STK_ENOTFOUND:
        return "not_found";
    case STK_ECONFLICT:
        return "conflict";
    case STK_EAUTH:
        return "unauthorized";
    case STK_EFORBIDDEN:
        return "forbidden";
    case STK_ETOOBIG:
        return "too_large";
    case STK_ELIMIT:
        return "too_many_requests";
    case STK_EDB:
        return "database_error";
    case STK_ENOMEM:
        return "out_of_memory";
    case STK_EIO:
        return "io_error";
    case STK_ECRYPTO:
        return "crypto_error";
    case STK_EINTERNAL:
        return "internal_error";
    }
    return "internal_error";
}
