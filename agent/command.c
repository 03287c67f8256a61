/* Command checks and answers (command.h). */
#include "command.h"

#include <stdio.h>
#include <string.h>

/* Copies string member `key` of `o` into `out` (size n). -1 when missing,
 * not a string, empty or too long. */
static int get_str(const json_t *o, const char *key, char *out, size_t n)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL || s[0] == '\0' || strlen(s) >= n) {
        return -1;
    }
    snprintf(out, n, "%s", s);
    return 0;
}

enum command_verdict command_check(const unsigned char pk[STK_CMD_PK_BYTES], const char *cluster,
                                   const json_t *frame, const struct journal *j, int64_t now_ms,
                                   struct command *out, int *is_signed, struct stk_error *why)
{
    memset(out, 0, sizeof(*out));
    *is_signed = 0;
    const char *payload = json_string_value(json_object_get(frame, "payload"));
    size_t plen = json_string_length(json_object_get(frame, "payload"));
    const char *sig = json_string_value(json_object_get(frame, "sig"));
    /* The id of a payload whose signature fails is read anyway, only to
     * say which command was refused; nothing else of it is trusted. */
    json_t *p = payload ? json_loadb(payload, plen, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *id = json_object_get(p, "id");
    if (json_is_integer(id) && json_integer_value(id) > 0) {
        out->id = json_integer_value(id);
    }
    enum command_verdict v = CMD_REFUSED;
    if (payload == NULL || sig == NULL || !cmd_verify(pk, payload, plen, sig)) {
        stk_error_set(why, STK_EAUTH, "command signature invalid");
        goto out;
    }
    *is_signed = 1;
    const char *action = json_string_value(json_object_get(p, "action"));
    json_t *issued = json_object_get(p, "issued_at");
    json_t *expires = json_object_get(p, "expires_at");
    if (!json_is_object(p)) {
        stk_error_set(why, STK_EINVAL, "command malformed: the payload is not a JSON object");
        goto out;
    }
    if (out->id == 0) {
        stk_error_set(why, STK_EINVAL, "command malformed: no id");
        goto out;
    }
    if (get_str(p, "cluster", out->cluster, sizeof(out->cluster)) != 0 ||
        get_str(p, "namespace", out->ns, sizeof(out->ns)) != 0 ||
        get_str(p, "pod", out->pod, sizeof(out->pod)) != 0 || !json_is_integer(issued) ||
        !json_is_integer(expires)) {
        stk_error_set(why, STK_EINVAL,
                      "command malformed: it needs cluster, namespace, pod, issued_at and "
                      "expires_at");
        goto out;
    }
    out->issued_at = json_integer_value(issued);
    out->expires_at = json_integer_value(expires);
    if (action_kind_parse(action, &out->action) != 0) {
        stk_error_set(why, STK_EINVAL, "command malformed: unknown action \"%.40s\"",
                      action ? action : "");
        goto out;
    }
    if (strcmp(out->cluster, cluster) != 0) {
        stk_error_set(why, STK_EFORBIDDEN, "command is for cluster %s; this agent serves %s",
                      out->cluster, cluster);
        goto out;
    }
    /* A command already carried out is answered from the journal even once
     * it has expired: the server is asking what happened, not asking again. */
    if (j != NULL && journal_find(j, out->id, now_ms) != NULL) {
        v = CMD_REPLAY;
        goto out;
    }
    if (now_ms > out->expires_at) {
        stk_error_set(why, STK_EINVAL, "command expired");
        goto out;
    }
    v = CMD_RUN;
out:
    json_decref(p);
    if (v == CMD_REFUSED && out->id == 0) {
        v = CMD_IGNORE;
    }
    return v;
}

json_t *command_ack(long long id)
{
    return json_pack("{s:s, s:I}", "type", "ack", "id", (json_int_t)id);
}

json_t *command_result(long long id, const char *status, const char *reason, json_t *details,
                       json_t *evidence, int replay)
{
    /* "o" steals the reference, also when json_pack fails. */
    json_t *d = details ? json_incref(details) : json_object();
    json_t *r = json_pack("{s:s, s:I, s:s, s:s, s:o, s:b}", "type", "result", "id", (json_int_t)id,
                          "status", status, "reason", reason, "details", d, "replay", replay);
    if (r != NULL && evidence != NULL && json_object_set(r, "evidence", evidence) != 0) {
        json_decref(r);
        return NULL;
    }
    return r;
}
