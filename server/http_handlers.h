/* Handlers the route table points at, grouped by the file that holds them. */
#ifndef STK_HTTP_HANDLERS_H
#define STK_HTTP_HANDLERS_H

#include <jansson.h>

#include "http.h"

/* http_system.c */
int http_system_healthz(struct http_req *r);
int http_system_version(struct http_req *r);

/* http_static.c: GET /static/... and /web/... */
int http_static_serve(struct http_req *r);

/* http_pages.c */
int http_pages_root(struct http_req *r);
int http_pages_shell(struct http_req *r);

/* http_auth.c */
int http_auth_login(struct http_req *r);
int http_auth_logout(struct http_req *r);
int http_auth_me(struct http_req *r);
int http_auth_password(struct http_req *r);
/* {"id","username","role","kind","permissions"} of `who`; caller owns it. */
json_t *http_user_json(const struct principal *who);

/* http_admin.c: users, roles, API tokens, audit log (Administration) */
int http_admin_users_list(struct http_req *r);
int http_admin_users_create(struct http_req *r);
int http_admin_users_update(struct http_req *r);
int http_admin_roles_list(struct http_req *r);
int http_admin_roles_create(struct http_req *r);
int http_admin_tokens_list(struct http_req *r);
int http_admin_tokens_create(struct http_req *r);
int http_admin_tokens_revoke(struct http_req *r);
int http_admin_audit_list(struct http_req *r);

/* http_pages.c */
int http_pages_login(struct http_req *r);
int http_pages_settings(struct http_req *r);
int http_pages_audit(struct http_req *r);
int http_pages_incident(struct http_req *r);
int http_pages_report(struct http_req *r);
int http_pages_alert(struct http_req *r);
int http_pages_attack_path(struct http_req *r);
/* Renders the HTML page for an error status (403 "Requires ...", 404). */
int http_pages_error(struct http_req *r, int status, const char *title, const char *message);

/* http_ingest.c: ingestion (Alerts: Manage) */
int http_ingest_falco(struct http_req *r);
int http_ingest_k8s_audit(struct http_req *r);
int http_ingest_alerts(struct http_req *r);

/* http_incidents.c: the queue, incidents, alerts, triage */
int http_incidents_list(struct http_req *r);
int http_incidents_get(struct http_req *r);
int http_incidents_update(struct http_req *r);
int http_incidents_comment(struct http_req *r);
int http_incidents_merge(struct http_req *r);
int http_incidents_split(struct http_req *r);
int http_incidents_report(struct http_req *r);
int http_alerts_get(struct http_req *r);
int http_alerts_move(struct http_req *r);
int http_incidents_assignees(struct http_req *r);
int http_incidents_classifications(struct http_req *r);

/* http_entities.c: the entity side pane, critical assets */
int http_entities_get(struct http_req *r);
int http_entities_update(struct http_req *r);

/* http_inventory.c: inventory and Trivy ingestion (Alerts: Manage), attack
 * paths */
int http_inventory_post(struct http_req *r);
int http_ingest_trivy(struct http_req *r);
int http_attack_paths_list(struct http_req *r);
int http_attack_paths_get(struct http_req *r);
int http_attack_paths_recompute(struct http_req *r);

/* http_agents.c: enrolled agents and enrollment tokens (Administration) */
int http_agents_list(struct http_req *r);
int http_agents_revoke(struct http_req *r);
int http_agents_enroll_token(struct http_req *r);

/* http_graph.c: the incident graph (SVG and JSON) */
int http_graph_svg(struct http_req *r);
int http_graph_json(struct http_req *r);

/* http_actions.c */
int http_actions_list(struct http_req *r);
int http_actions_create(struct http_req *r);
int http_actions_get(struct http_req *r);
int http_actions_cancel(struct http_req *r);
int http_actions_approve(struct http_req *r);
int http_actions_reject(struct http_req *r);
int http_actions_comment(struct http_req *r);
int http_actions_evidence(struct http_req *r);

#endif
