/* Agents API (Administration): the enrolled agents, revoking one, and
 * enrollment tokens for the browser and scripts (docs/agents.md). */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "gateway.h"
#include "http.h"
#include "http_handlers.h"
#include "store_agents.h"
#include "svc_enroll.h"

static json_t *agent_json(const struct agent *a)
{
    const char *status = a->revoked_at ? "revoked" : a->connected ? "connected" : "offline";
    return json_pack("{s:I, s:s, s:s, s:b, s:o, s:s?, s:s, s:o, s:s, s:s, s:o, s:s?, s:s, s:o}",
                     "id", (json_int_t)a->id, "cluster", a->cluster, "status", status, "connected",
                     a->connected && !a->revoked_at, "last_seen_at",
                     http_json_time(a->last_seen_at), "address",
                     a->last_address[0] ? a->last_address : NULL, "agent_version", a->agent_version,
                     "enrolled_at", http_json_time(a->enrolled_at), "enrolled_by", a->enrolled_by,
                     "enrolled_from", a->enrolled_from, "revoked_at", http_json_time(a->revoked_at),
                     "revoked_by", a->revoked_at ? a->revoked_by : NULL, "cert_serial",
                     a->cert_serial, "cert_expires_at", http_json_time(a->cert_expires_at));
}

int http_agents_list(struct http_req *r)
{
    struct agent *agents = NULL;
    size_t n = 0;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = store_agents_list(r->db, &agents, &n, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "agents_list_failed");
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        if (json_array_append_new(items, agent_json(&agents[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    free(agents);
    if (items == NULL) {
        return http_reply_error(r, STK_ENOMEM, "out of memory");
    }
    return http_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

int http_agents_revoke(struct http_req *r)
{
    long long id = http_parse_id(r->params[0]);
    if (id < 0) {
        return http_reply_error(r, STK_ENOTFOUND, "no such agent");
    }
    struct actor by = http_actor(r);
    struct agent a;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_enroll_revoke(r->db, &by, id, &a, &err);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "agent_revoke_failed");
    }
    /* At once, rather than at the gateway's next look (within 2 s). */
    if (r->app->gateway != NULL) {
        gateway_kick(r->app->gateway, id);
    }
    return http_reply_json(r, 200, agent_json(&a));
}

int http_agents_enroll_token(struct http_req *r)
{
    json_t *in = NULL;
    int st = http_read_json(r, &in);
    if (st < 0) {
        return -st;
    }
    static const char *const keys[] = {"cluster", "ttl_s"};
    const char *cluster = json_string_value(json_object_get(in, "cluster"));
    json_t *ttl = json_object_get(in, "ttl_s");
    if (!http_json_keys_ok(in, keys, 2) || cluster == NULL || (ttl && !json_is_integer(ttl))) {
        json_decref(in);
        return http_reply_error(r, STK_EINVAL,
                                "expected {\"cluster\": string, \"ttl_s\": seconds (default "
                                "3600)}");
    }
    long long ttl_s = ttl ? (long long)json_integer_value(ttl) : SVC_ENROLL_TTL_DEFAULT;
    struct actor by = http_actor(r);
    char token[STK_ENROLL_TOKEN_MAX];
    long long id = 0, expires_at = 0;
    struct stk_error err;
    stk_error_clear(&err);
    enum stk_err rc = svc_enroll_token_create(r->db, &by, r->app->agent_ca_pin, cluster, ttl_s,
                                              token, &id, &expires_at, &err);
    json_t *body = NULL;
    if (rc == STK_OK) {
        body = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id, "cluster", cluster, "token",
                         token, "expires_at", http_json_time(expires_at));
    }
    sodium_memzero(token, sizeof(token));
    json_decref(in);
    if (rc != STK_OK) {
        return http_reply_svc_error(r, rc, &err, "enroll_token_failed");
    }
    return http_reply_json(r, 201, body);
}
