/* Parsers for the ingestion formats: Falco JSON output, the Kubernetes audit
 * webhook's EventList, and Stockade's own alert JSON. Each turns a request
 * body into a struct ingest_batch of normalised alerts and hunting rows, or
 * rejects the whole body with the index and reason of the first bad element.
 * Pure functions: no SQL, no civetweb, no clock (except where noted). */
#ifndef STK_INGEST_PARSE_H
#define STK_INGEST_PARSE_H

#include <stddef.h>

#include "alert.h"
#include "err.h"

/* Addresses flagged as anonymising proxies (IPv4 and IPv6 CIDRs). */
struct cidr_list;

/* Parses "a.b.c.d/n, 2001:db8::/32, 198.51.100.7" (commas or newlines,
 * '#' comments in files). Caller owns `*out`; free with cidr_list_free().
 * An empty text gives an empty list. STK_EINVAL with the bad entry named. */
enum stk_err cidr_list_parse(const char *text, struct cidr_list **out, struct stk_error *err);
void cidr_list_free(struct cidr_list *l);
/* True when the textual address `ip` lies in one of the ranges. */
int cidr_list_contains(const struct cidr_list *l, const char *ip);

/* What the stateless detection rules need to know. */
struct detect_config {
    const struct cidr_list *proxies; /* may be NULL */
};

/* Falco JSON output: one object, a JSON array of objects, or newline-
 * delimited objects. `cluster` (from a bound token or ?cluster=) may be "".
 * On STK_OK `out` holds an alert per event (plus "Binary drift detected"
 * when the event shows drift) and a proc_event per process event. On
 * failure `out` is emptied and `rej` says where and why: STK_EINVAL for bad
 * input, STK_ETOOBIG past INGEST_MAX_ELEMENTS, STK_ENOMEM. */
enum stk_err ingest_parse_falco(const char *body, size_t len, const char *cluster,
                                struct ingest_batch *out, struct ingest_reject *rej);

/* An audit.k8s.io/v1 EventList (a single Event is accepted too). Every event
 * becomes an audit_k8s_event; detection rules add alerts. */
enum stk_err ingest_parse_k8s_audit(const char *body, size_t len, const char *cluster,
                                    const struct detect_config *cfg, struct ingest_batch *out,
                                    struct ingest_reject *rej);

/* Stockade's own alert JSON (docs/alert.schema.json): one object or an
 * array. Strict: unknown keys are refused. An alert's "cluster" applies when
 * `cluster` is ""; naming another cluster than a non-empty `cluster` is
 * STK_EFORBIDDEN (a bound token cannot place alerts in another cluster). */
enum stk_err ingest_parse_alerts(const char *body, size_t len, const char *cluster,
                                 struct ingest_batch *out, struct ingest_reject *rej);

#endif
