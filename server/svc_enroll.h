/* Agent enrollment and its undoing (docs/agents.md, "Enrollment"):
 * one-time enrollment tokens, issuing an agent its certificate in exchange
 * for one, and revoking agents. Every change is audited. */
#ifndef STK_SVC_ENROLL_H
#define STK_SVC_ENROLL_H

#include "db.h"
#include "gateway_ca.h"
#include "identity.h"
#include "stk_tls.h"
#include "store_agents.h"

#define SVC_ENROLL_TTL_DEFAULT 3600
#define SVC_ENROLL_TTL_MAX (30 * 86400)

/* True for a cluster name: 1 to 63 letters, digits, '-', '_' or '.' (the
 * rule of http_cluster_name_ok(); it also makes a safe certificate CN). */
int svc_enroll_cluster_ok(const char *cluster);

/* Makes an enrollment token for `cluster`, valid `ttl_s` seconds (1 to
 * SVC_ENROLL_TTL_MAX), carrying the CA pin `pin` (gateway_ca.pin). `token`
 * receives the token text (wipe it after use), `*id` and `*expires_at`
 * the stored row's id and end. Audited as agent.enroll_token.create.
 * STK_EINVAL for a bad cluster name or ttl. */
enum stk_err svc_enroll_token_create(struct db *db, const struct actor *by, const char *pin,
                                     const char *cluster, long long ttl_s,
                                     char token[STK_ENROLL_TOKEN_MAX], long long *id,
                                     long long *expires_at, struct stk_error *err);

/* What an `enroll` frame asked for (all borrowed). */
struct enroll_request {
    const char *token;
    const char *csr; /* PEM */
    size_t csr_len;
    const char *agent_version; /* "" when not given */
    const char *address;       /* "IP:PORT" of the connection */
};

struct enroll_result {
    long long agent_id;
    char cluster[STK_AGENT_CLUSTER_MAX + 1];
    struct agent_cert cert;
};

/* Checks the token (shape, this server's pin, known, unused, unexpired),
 * issues the certificate for the token's cluster, and records the agent
 * and the token's use in one transaction (audited as agent.enroll).
 * STK_EAUTH with the reason in words for a refused token, STK_EINVAL for a
 * bad CSR; `out` is zeroed on failure. */
enum stk_err svc_enroll_agent(struct db *db, struct gateway_ca *ca,
                              const struct enroll_request *req, struct enroll_result *out,
                              struct stk_error *err);

/* Revokes agent `id` (audited as agent.revoke). STK_ENOTFOUND, or
 * STK_ECONFLICT when it already is revoked. `out` gets the row after. */
enum stk_err svc_enroll_revoke(struct db *db, const struct actor *by, long long id,
                               struct agent *out, struct stk_error *err);

#endif
