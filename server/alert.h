/* The normalised alert model every ingestion format produces, and the name
 * tables of its enums (severity, tactic, provider, entity kind,
 * classification). No SQL, no civetweb: parsers fill a struct ingest_batch,
 * svc_ingest stores it. */
#ifndef STK_ALERT_H
#define STK_ALERT_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

enum severity { SEV_INFORMATIONAL = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_N };

/* Kill-chain order (the report's section order). */
enum tactic {
    TACTIC_NONE = 0,
    TACTIC_INITIAL_ACCESS,
    TACTIC_EXECUTION,
    TACTIC_PERSISTENCE,
    TACTIC_PRIVILEGE_ESCALATION,
    TACTIC_DEFENSE_EVASION,
    TACTIC_CREDENTIAL_ACCESS,
    TACTIC_DISCOVERY,
    TACTIC_LATERAL_MOVEMENT,
    TACTIC_COLLECTION,
    TACTIC_COMMAND_AND_CONTROL,
    TACTIC_EXFILTRATION,
    TACTIC_IMPACT,
    TACTIC_N
};

/* The "service source" of an alert; incidents keep the set as a bitmask
 * (1 << provider). */
enum provider { PROV_FALCO = 0, PROV_K8S_AUDIT, PROV_STOCKADE_RULES, PROV_API, PROV_N };

enum entity_kind {
    ENT_CLUSTER = 0,
    ENT_NAMESPACE,
    ENT_NODE,
    ENT_POD,
    ENT_CONTAINER,
    ENT_DEPLOYMENT,
    ENT_SERVICE,
    ENT_IMAGE,
    ENT_REGISTRY,
    ENT_IDENTITY,
    ENT_IP,
    ENT_CLOUD_RESOURCE,
    ENT_KIND_N
};

enum classification { CLASS_NONE = 0, CLASS_TRUE_POSITIVE, CLASS_INFORMATIONAL,
                      CLASS_FALSE_POSITIVE, CLASS_N };

/* Names as the API spells them ("informational", "credential_access",
 * "k8s-audit", "cloud-resource", "true_positive"), and display labels
 * ("Credential access", "Stockade rules", "True positive"). Out-of-range
 * values give "". */
const char *alert_severity_name(enum severity s);
const char *alert_tactic_name(enum tactic t);
const char *alert_tactic_label(enum tactic t);
const char *alert_provider_name(enum provider p);
const char *alert_provider_label(enum provider p);
const char *alert_entity_kind_name(enum entity_kind k);
const char *alert_classification_name(enum classification c);
const char *alert_classification_label(enum classification c);

/* Parse a name back (case-sensitive API names; tactics also accept the
 * display label, "TA0002" ids and "mitre_execution" tags). -1 if unknown. */
int alert_severity_parse(const char *s);
int alert_tactic_parse(const char *s);
int alert_provider_parse(const char *s);
int alert_entity_kind_parse(const char *s);
int alert_classification_parse(const char *s);

/* True when `determination` (API name, e.g. "multi_stage_attack") is allowed
 * for `c` (SPEC section 4). The list for each classification is returned by
 * alert_determinations() as a NULL-terminated array of API names; labels via
 * alert_determination_label(). */
int alert_determination_ok(enum classification c, const char *determination);
const char *const *alert_determinations(enum classification c);
const char *alert_determination_label(const char *determination);

/* The tactic of a MITRE technique id ("T1059.004" -> Execution) for the
 * techniques our rules and common Falco rules use; TACTIC_NONE if unknown. */
enum tactic alert_tactic_of_technique(const char *technique);

/* Size limits of the fixed fields below. Longer values are refused by the
 * parsers with a message naming the field (never silently cut). */
#define ALERT_KEY_MAX 512   /* entity key, with its terminator */
#define ALERT_NAME_MAX 256  /* display names, rule names, titles */
#define ALERT_CLUSTER_MAX 128
#define ALERT_TECHNIQUE_MAX 32
#define ALERT_MAX_ENTITIES 16
#define ALERT_TEXT_MAX 65536 /* description, command lines */

/* One entity an alert involves. `key` is the stable identity:
 *   cluster:C  namespace:C/NS  node:C/NAME  pod:C/NS/NAME
 *   container:C/ID  deployment:C/NS/NAME  service:C/NS/NAME
 *   image:REPO[:TAG|@DIGEST]  registry:HOST  identity:C/NAME (Kubernetes
 *   users and service accounts) or identity:NAME (cloud principals)
 *   ip:ADDR  cloud-resource:PROVIDER/ID
 * where C is the cluster name. `key` and `name` (shorter than
 * ALERT_KEY_MAX and ALERT_NAME_MAX) are owned by the alert (its `strs`) and
 * never move while it lives. Display facts ({"namespace","image",
 * "labels",...}) are in `props` (owned, may be NULL) or, written directly
 * as compact JSON, in `props_json` (in `strs`, may be NULL): parsers set
 * one of the two. */
struct entity_ref {
    enum entity_kind kind;
    const char *key;
    const char *name;
    json_t *props;
    const char *props_json;
};

/* Where an alert keeps its entities' strings (alert.c): blocks that stay
 * put while the batch's alerts array grows and moves, so the store can
 * borrow keys. */
struct alert_strs;

/* One normalised alert. Strings are fixed buffers except `description`
 * (owned, may be NULL), the entity keys and names, `evidence` (owned
 * object, may be NULL) and `evidence_json` (owned, may be NULL): parsers
 * set one of the two, the text when they write it directly (Falco, the
 * busiest format), and the store keeps `evidence_json` when set. */
struct alert_in {
    unsigned char key[16]; /* idempotency: equal keys are one alert */
    enum provider provider;
    char rule[ALERT_NAME_MAX];
    char title[ALERT_NAME_MAX];
    char *description;
    enum severity severity;
    enum tactic tactic;
    char technique[ALERT_TECHNIQUE_MAX];
    long long first_ms; /* activity times, ms since the epoch */
    long long last_ms;
    char cluster[ALERT_CLUSTER_MAX]; /* "" when unknown */
    struct entity_ref entities[ALERT_MAX_ENTITIES];
    int n_entities;
    struct alert_strs *strs; /* owned: the entities' keys, names and props_json */
    json_t *evidence;        /* raw event fields: {"process":..,"parent":..,...} */
    char *evidence_json;     /* the same as compact JSON text */
    /* When not "", the alert is kept only if this behaviour has never been
     * seen before ("secret-read:C/system:serviceaccount:ns:sa"); svc_ingest
     * records it. Used by rules that flag what an identity is not used to. */
    char novelty[ALERT_KEY_MAX];
};

/* A process event for the CloudProcessEvents hunting table. */
struct proc_event {
    unsigned char key[16];
    long long ts_ms;
    char cluster[ALERT_CLUSTER_MAX];
    char ns[ALERT_NAME_MAX];
    char pod[ALERT_NAME_MAX];
    char container_name[ALERT_NAME_MAX];
    char container_id[80];
    char image[ALERT_NAME_MAX];
    long long pid;  /* -1 when unknown */
    long long ppid; /* -1 when unknown */
    char process_name[ALERT_NAME_MAX];
    char *cmdline; /* owned, may be NULL */
    char folder[1024];
    char file[ALERT_NAME_MAX];
    char parent_name[ALERT_NAME_MAX];
    char account[ALERT_NAME_MAX];
    int drift;
};

/* One Kubernetes audit event for the CloudAuditEvents hunting table. */
struct audit_k8s_event {
    unsigned char key[16]; /* from auditID and stage */
    long long ts_ms;
    char cluster[ALERT_CLUSTER_MAX];
    char operation[ALERT_NAME_MAX]; /* "create pods/exec" */
    char verb[32];
    char resource_kind[ALERT_NAME_MAX]; /* "pods", "secrets" ... with subresource */
    char resource_ns[ALERT_NAME_MAX];
    char resource_name[ALERT_NAME_MAX];
    char user_name[ALERT_NAME_MAX];
    char *user_groups; /* owned JSON array text */
    char *source_ips;  /* owned JSON array text */
    char user_agent[1024]; /* Kubernetes allows user agents this long */
    int response_code; /* 0 when absent */
    char *raw;         /* owned: the event as compact JSON */
};

/* What one ingestion request produced. */
struct ingest_batch {
    struct alert_in *alerts;
    size_t n_alerts, cap_alerts;
    struct proc_event *procs;
    size_t n_procs, cap_procs;
    struct audit_k8s_event *audits;
    size_t n_audits, cap_audits;
};

/* Where a batch was rejected: the element index (0-based, -1 for the
 * request as a whole) and the reason. */
struct ingest_reject {
    long index;
    char reason[256];
};

/* Hard cap on elements in one request (alerts or events in). */
#define INGEST_MAX_ELEMENTS 5000

void ingest_batch_init(struct ingest_batch *b);
/* Frees everything the batch owns; the batch can be reused after init. */
void ingest_batch_release(struct ingest_batch *b);
/* Makes room for `alerts` more alerts and `procs` more process events
 * (capped at INGEST_MAX_ELEMENTS each), so a parser that knows its element
 * count grows each array once. STK_ENOMEM. */
enum stk_err ingest_batch_reserve(struct ingest_batch *b, size_t alerts, size_t procs);
/* Appends a zeroed element and returns it (NULL on ENOMEM or when the
 * batch already holds INGEST_MAX_ELEMENTS of that kind). */
struct alert_in *ingest_batch_add_alert(struct ingest_batch *b);
struct proc_event *ingest_batch_add_proc(struct ingest_batch *b);
struct audit_k8s_event *ingest_batch_add_audit(struct ingest_batch *b);

/* Adds an entity to `a` unless one with the same key is already there.
 * `name` may be NULL (then the last path part of the key). Both are copied
 * into `a->strs`. Returns the entity or NULL when the alert is full, the
 * key/name is too long or memory runs out. */
struct entity_ref *alert_add_entity(struct alert_in *a, enum entity_kind kind, const char *key,
                                    const char *name);
/* Sets the display facts of `e` (an entity of `a`) to the `len` bytes of
 * JSON text at `json`, copied into the alert's strings. STK_ENOMEM. */
enum stk_err alert_entity_set_props_json(struct alert_in *a, struct entity_ref *e, const char *json,
                                         size_t len);

/* Frees what `a` owns (description, evidence, entity strings and props)
 * and zeroes it. Alerts of a batch are released by ingest_batch_release();
 * this is for an alert filled on its own. */
void alert_release(struct alert_in *a);

/* The name an entity gets when none is given: the part of `key` after its
 * last '/', else after its first ':', else the whole key (borrowed). */
const char *alert_entity_default_name(const char *key);

/* BLAKE2b-128 of the concatenation of the NUL-terminated strings in
 * `parts` (each followed by its terminator), for idempotency keys. */
void alert_key(unsigned char out[16], const char *const *parts, size_t n);

#endif
