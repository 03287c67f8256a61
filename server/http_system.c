/* GET /healthz and GET /api/v1/version. */
#include <jansson.h>

#include "app.h"
#include "http.h"
#include "http_handlers.h"
#include "log.h"
#include "store_migrations.h"
#include "version.h"

int http_system_healthz(struct http_req *r)
{
    if (r->db == NULL) {
        return http_reply_error_status(r, 503, "unavailable", "database connection unavailable");
    }
    struct stk_error err;
    stk_error_clear(&err);
    int version = 0;
    if (store_migrations_version(r->db, &version, &err) != STK_OK) {
        log_event(STK_LOG_ERROR, "healthz_failed", "error=\"%s\"", err.msg);
        return http_reply_error_status(r, 503, "unavailable", "database check failed");
    }
    if (version != r->app->schema_version) {
        log_event(STK_LOG_ERROR, "healthz_failed", "schema_version=%d expected=%d", version,
                  r->app->schema_version);
        return http_reply_error_status(r, 503, "unavailable", "database schema changed underneath");
    }
    static const char ok[] = "{\"status\":\"ok\"}";
    return http_reply(r, 200, "application/json; charset=utf-8", "Cache-Control: no-store\r\n",
                      ok, sizeof(ok) - 1);
}

int http_system_version(struct http_req *r)
{
    json_t *v = json_pack("{s:s, s:s, s:i, s:s}", "name", "stockade", "version", STK_VERSION,
                          "schema_version", r->app->schema_version, "api", "v1");
    if (v == NULL) {
        return http_reply_error(r, STK_ENOMEM, "out of memory");
    }
    return http_reply_json(r, 200, v);
}
