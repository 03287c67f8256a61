/* Name tables of the alert enums, the batch arrays and the idempotency key. */
#include "alert.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *const severity_names[SEV_N] = {"informational", "low", "medium", "high"};

static const char *const tactic_names[TACTIC_N] = {
    "",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
};

static const char *const tactic_labels[TACTIC_N] = {
    "",
    "Initial access",
    "Execution",
    "Persistence",
    "Privilege escalation",
    "Defense evasion",
    "Credential access",
    "Discovery",
    "Lateral movement",
    "Collection",
    "Command and control",
    "Exfiltration",
    "Impact",
};

/* MITRE ATT&CK enterprise tactic ids (TA0010 and TA0011 are out of
 * numeric order: exfiltration is TA0010, command and control TA0011). */
static const char *const tactic_ids[TACTIC_N] = {
    "",       "TA0001", "TA0002", "TA0003", "TA0004", "TA0005", "TA0006",
    "TA0007", "TA0008", "TA0009", "TA0011", "TA0010", "TA0040",
};

static const char *const provider_names[PROV_N] = {"falco", "k8s-audit", "stockade-rules", "api"};
static const char *const provider_labels[PROV_N] = {"Falco", "Kubernetes audit", "Stockade rules",
                                                    "API"};

static const char *const entity_kind_names[ENT_KIND_N] = {
    "cluster", "namespace", "node",     "pod",      "container", "deployment",
    "service", "image",     "registry", "identity", "ip",        "cloud-resource",
};

static const char *const class_names[CLASS_N] = {"", "true_positive", "informational",
                                                 "false_positive"};
static const char *const class_labels[CLASS_N] = {
    "", "True positive", "Informational, expected activity", "False positive"};

static const char *const det_true_positive[] = {
    "multi_stage_attack",
    "malicious_user_activity",
    "malware",
    "phishing",
    "unwanted_software",
    "other",
    NULL,
};
static const char *const det_informational[] = {
    "security_testing", "line_of_business_application", "confirmed_activity", "other", NULL,
};
static const char *const det_false_positive[] = {"not_malicious", "not_enough_data", "other", NULL};
static const char *const det_none[] = {NULL};

static const struct {
    const char *name;
    const char *label;
} det_labels[] = {
    {"multi_stage_attack", "Multi-stage attack"},
    {"malicious_user_activity", "Malicious user activity"},
    {"malware", "Malware"},
    {"phishing", "Phishing"},
    {"unwanted_software", "Unwanted software"},
    {"security_testing", "Security testing"},
    {"line_of_business_application", "Line-of-business application"},
    {"confirmed_activity", "Confirmed activity"},
    {"not_malicious", "Not malicious"},
    {"not_enough_data", "Not enough data to validate"},
    {"other", "Other"},
};

/* Parent technique id -> tactic. Techniques that serve several tactics are
 * listed under the one our rules and Falco's rules mean by them (T1078
 * valid accounts: initial access). */
static const struct {
    const char *id;
    enum tactic tactic;
} technique_tactics[] = {
    {"T1003", TACTIC_CREDENTIAL_ACCESS},
    {"T1005", TACTIC_COLLECTION},
    {"T1014", TACTIC_DEFENSE_EVASION},
    {"T1021", TACTIC_LATERAL_MOVEMENT},
    {"T1027", TACTIC_DEFENSE_EVASION},
    {"T1036", TACTIC_DEFENSE_EVASION},
    {"T1041", TACTIC_EXFILTRATION},
    {"T1046", TACTIC_DISCOVERY},
    {"T1048", TACTIC_EXFILTRATION},
    {"T1053", TACTIC_PERSISTENCE},
    {"T1055", TACTIC_PRIVILEGE_ESCALATION},
    {"T1057", TACTIC_DISCOVERY},
    {"T1059", TACTIC_EXECUTION},
    {"T1068", TACTIC_PRIVILEGE_ESCALATION},
    {"T1069", TACTIC_DISCOVERY},
    {"T1070", TACTIC_DEFENSE_EVASION},
    {"T1071", TACTIC_COMMAND_AND_CONTROL},
    {"T1078", TACTIC_INITIAL_ACCESS},
    {"T1082", TACTIC_DISCOVERY},
    {"T1083", TACTIC_DISCOVERY},
    {"T1087", TACTIC_DISCOVERY},
    {"T1090", TACTIC_COMMAND_AND_CONTROL},
    {"T1095", TACTIC_COMMAND_AND_CONTROL},
    {"T1098", TACTIC_PERSISTENCE},
    {"T1105", TACTIC_COMMAND_AND_CONTROL},
    {"T1106", TACTIC_EXECUTION},
    {"T1110", TACTIC_CREDENTIAL_ACCESS},
    {"T1133", TACTIC_INITIAL_ACCESS},
    {"T1136", TACTIC_PERSISTENCE},
    {"T1190", TACTIC_INITIAL_ACCESS},
    {"T1203", TACTIC_EXECUTION},
    {"T1204", TACTIC_EXECUTION},
    {"T1485", TACTIC_IMPACT},
    {"T1489", TACTIC_IMPACT},
    {"T1490", TACTIC_IMPACT},
    {"T1495", TACTIC_IMPACT},
    {"T1496", TACTIC_IMPACT},
    {"T1498", TACTIC_IMPACT},
    {"T1499", TACTIC_IMPACT},
    {"T1525", TACTIC_PERSISTENCE},
    {"T1528", TACTIC_CREDENTIAL_ACCESS},
    {"T1530", TACTIC_COLLECTION},
    {"T1543", TACTIC_PERSISTENCE},
    {"T1546", TACTIC_PERSISTENCE},
    {"T1547", TACTIC_PERSISTENCE},
    {"T1548", TACTIC_PRIVILEGE_ESCALATION},
    {"T1552", TACTIC_CREDENTIAL_ACCESS},
    {"T1554", TACTIC_PERSISTENCE},
    {"T1555", TACTIC_CREDENTIAL_ACCESS},
    {"T1556", TACTIC_CREDENTIAL_ACCESS},
    {"T1557", TACTIC_CREDENTIAL_ACCESS},
    {"T1560", TACTIC_COLLECTION},
    {"T1562", TACTIC_DEFENSE_EVASION},
    {"T1564", TACTIC_DEFENSE_EVASION},
    {"T1565", TACTIC_IMPACT},
    {"T1570", TACTIC_LATERAL_MOVEMENT},
    {"T1571", TACTIC_COMMAND_AND_CONTROL},
    {"T1572", TACTIC_COMMAND_AND_CONTROL},
    {"T1573", TACTIC_COMMAND_AND_CONTROL},
    {"T1574", TACTIC_PERSISTENCE},
    {"T1580", TACTIC_DISCOVERY},
    {"T1609", TACTIC_EXECUTION},
    {"T1610", TACTIC_EXECUTION},
    {"T1611", TACTIC_PRIVILEGE_ESCALATION},
    {"T1612", TACTIC_DEFENSE_EVASION},
    {"T1613", TACTIC_DISCOVERY},
    {"T1620", TACTIC_DEFENSE_EVASION},
};

static const char *name_of(const char *const *table, int n, int v)
{
    if (v < 0 || v >= n) {
        return "";
    }
    return table[v];
}

static int index_of(const char *const *table, int n, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(table[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

const char *alert_severity_name(enum severity s)
{
    return name_of(severity_names, SEV_N, (int)s);
}

const char *alert_tactic_name(enum tactic t)
{
    return name_of(tactic_names, TACTIC_N, (int)t);
}

const char *alert_tactic_label(enum tactic t)
{
    return name_of(tactic_labels, TACTIC_N, (int)t);
}

const char *alert_provider_name(enum provider p)
{
    return name_of(provider_names, PROV_N, (int)p);
}

const char *alert_provider_label(enum provider p)
{
    return name_of(provider_labels, PROV_N, (int)p);
}

const char *alert_entity_kind_name(enum entity_kind k)
{
    return name_of(entity_kind_names, ENT_KIND_N, (int)k);
}

const char *alert_classification_name(enum classification c)
{
    return name_of(class_names, CLASS_N, (int)c);
}

const char *alert_classification_label(enum classification c)
{
    return name_of(class_labels, CLASS_N, (int)c);
}

int alert_severity_parse(const char *s)
{
    return index_of(severity_names, SEV_N, s);
}

int alert_tactic_parse(const char *s)
{
    int t = index_of(tactic_names, TACTIC_N, s);
    if (t < 0) {
        t = index_of(tactic_labels, TACTIC_N, s);
    }
    if (t < 0) {
        t = index_of(tactic_ids, TACTIC_N, s);
    }
    if (t < 0 && s != NULL && strncmp(s, "mitre_", 6) == 0) {
        t = index_of(tactic_names, TACTIC_N, s + 6);
    }
    return t;
}

int alert_provider_parse(const char *s)
{
    return index_of(provider_names, PROV_N, s);
}

int alert_entity_kind_parse(const char *s)
{
    return index_of(entity_kind_names, ENT_KIND_N, s);
}

int alert_classification_parse(const char *s)
{
    return index_of(class_names, CLASS_N, s);
}

const char *const *alert_determinations(enum classification c)
{
    switch (c) {
    case CLASS_TRUE_POSITIVE:
        return det_true_positive;
    case CLASS_INFORMATIONAL:
        return det_informational;
    case CLASS_FALSE_POSITIVE:
        return det_false_positive;
    default:
        return det_none;
    }
}

int alert_determination_ok(enum classification c, const char *determination)
{
    if (determination == NULL) {
        return 0;
    }
    for (const char *const *d = alert_determinations(c); *d != NULL; d++) {
        if (strcmp(*d, determination) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *alert_determination_label(const char *determination)
{
    if (determination == NULL) {
        return "";
    }
    for (size_t i = 0; i < sizeof(det_labels) / sizeof(det_labels[0]); i++) {
        if (strcmp(det_labels[i].name, determination) == 0) {
            return det_labels[i].label;
        }
    }
    return "";
}

enum tactic alert_tactic_of_technique(const char *technique)
{
    /* "T" + 4 digits, optionally ".NNN": compare the parent id only. */
    if (technique == NULL || technique[0] != 'T') {
        return TACTIC_NONE;
    }
    for (int i = 1; i <= 4; i++) {
        if (technique[i] < '0' || technique[i] > '9') {
            return TACTIC_NONE;
        }
    }
    if (technique[5] != '\0' && technique[5] != '.') {
        return TACTIC_NONE;
    }
    for (size_t i = 0; i < sizeof(technique_tactics) / sizeof(technique_tactics[0]); i++) {
        if (strncmp(technique_tactics[i].id, technique, 5) == 0) {
            return technique_tactics[i].tactic;
        }
    }
    return TACTIC_NONE;
}

/* A block of an alert's strings: `used` of `cap` bytes of `data`. */
struct alert_strs {
    struct alert_strs *next;
    size_t used, cap;
    char data[];
};

void ingest_batch_init(struct ingest_batch *b)
{
    memset(b, 0, sizeof(*b));
}

void alert_release(struct alert_in *a)
{
    free(a->description);
    json_decref(a->evidence);
    free(a->evidence_json);
    for (int i = 0; i < a->n_entities; i++) {
        json_decref(a->entities[i].props);
    }
    while (a->strs != NULL) {
        struct alert_strs *next = a->strs->next;
        free(a->strs);
        a->strs = next;
    }
    memset(a, 0, sizeof(*a));
}

void ingest_batch_release(struct ingest_batch *b)
{
    for (size_t i = 0; i < b->n_alerts; i++) {
        alert_release(&b->alerts[i]);
    }
    for (size_t i = 0; i < b->n_procs; i++) {
        free(b->procs[i].cmdline);
    }
    for (size_t i = 0; i < b->n_audits; i++) {
        free(b->audits[i].user_groups);
        free(b->audits[i].source_ips);
        free(b->audits[i].raw);
    }
    free(b->alerts);
    free(b->procs);
    free(b->audits);
    ingest_batch_init(b);
}

/* Grows the array `*items` (`*cap` elements of `size` bytes) to hold at
 * least `want` elements, at most INGEST_MAX_ELEMENTS. */
static enum stk_err grow_to(void **items, size_t *cap, size_t size, size_t want)
{
    if (want > INGEST_MAX_ELEMENTS) {
        want = INGEST_MAX_ELEMENTS;
    }
    if (want <= *cap) {
        return STK_OK;
    }
    void *p = realloc(*items, want * size);
    if (p == NULL) {
        return STK_ENOMEM;
    }
    *items = p;
    *cap = want;
    return STK_OK;
}

/* Appends one zeroed element of `size` bytes to the array `*items` (with
 * `*n` used of `*cap`), growing it geometrically up to the element cap. */
static void *grow_add(void **items, size_t *n, size_t *cap, size_t size)
{
    if (*n >= INGEST_MAX_ELEMENTS) {
        return NULL;
    }
    if (*n == *cap && grow_to(items, cap, size, *cap == 0 ? 8 : *cap * 2) != STK_OK) {
        return NULL;
    }
    char *e = (char *)*items + *n * size;
    memset(e, 0, size);
    (*n)++;
    return e;
}

enum stk_err ingest_batch_reserve(struct ingest_batch *b, size_t alerts, size_t procs)
{
    void *items = b->alerts;
    enum stk_err rc = grow_to(&items, &b->cap_alerts, sizeof(*b->alerts), b->n_alerts + alerts);
    b->alerts = items;
    if (rc == STK_OK) {
        items = b->procs;
        rc = grow_to(&items, &b->cap_procs, sizeof(*b->procs), b->n_procs + procs);
        b->procs = items;
    }
    return rc;
}

struct alert_in *ingest_batch_add_alert(struct ingest_batch *b)
{
    void *items = b->alerts;
    struct alert_in *a = grow_add(&items, &b->n_alerts, &b->cap_alerts, sizeof(*a));
    b->alerts = items;
    return a;
}

struct proc_event *ingest_batch_add_proc(struct ingest_batch *b)
{
    void *items = b->procs;
    struct proc_event *p = grow_add(&items, &b->n_procs, &b->cap_procs, sizeof(*p));
    b->procs = items;
    if (p != NULL) {
        p->pid = -1;
        p->ppid = -1;
    }
    return p;
}

struct audit_k8s_event *ingest_batch_add_audit(struct ingest_batch *b)
{
    void *items = b->audits;
    struct audit_k8s_event *e = grow_add(&items, &b->n_audits, &b->cap_audits, sizeof(*e));
    b->audits = items;
    return e;
}

/* Bytes of the first block of an alert's strings: a Falco alert's (7
 * keys and names, a pod's and a container's display facts: at most ~700
 * bytes) fit in one. */
#define STRS_FIRST_BLOCK 1024

/* A copy of `s` (`len` bytes and a terminator) in the alert's blocks. */
static const char *strs_copy(struct alert_in *a, const char *s, size_t len)
{
    struct alert_strs *blk = a->strs;
    if (blk == NULL || blk->cap - blk->used < len + 1) {
        size_t cap = blk == NULL ? STRS_FIRST_BLOCK - sizeof(*blk) : blk->cap * 2;
        cap = cap < len + 1 ? len + 1 : cap;
        blk = malloc(sizeof(*blk) + cap);
        if (blk == NULL) {
            return NULL;
        }
        blk->next = a->strs;
        blk->used = 0;
        blk->cap = cap;
        a->strs = blk;
    }
    char *out = blk->data + blk->used;
    memcpy(out, s, len);
    out[len] = '\0';
    blk->used += len + 1;
    return out;
}

const char *alert_entity_default_name(const char *key)
{
    const char *slash = strrchr(key, '/');
    const char *colon = strchr(key, ':');
    return slash != NULL ? slash + 1 : colon != NULL ? colon + 1 : key;
}

struct entity_ref *alert_add_entity(struct alert_in *a, enum entity_kind kind, const char *key,
                                    const char *name)
{
    if (key == NULL || (int)kind < 0 || kind >= ENT_KIND_N) {
        return NULL;
    }
    for (int i = 0; i < a->n_entities; i++) {
        if (strcmp(a->entities[i].key, key) == 0) {
            return &a->entities[i];
        }
    }
    if (a->n_entities >= ALERT_MAX_ENTITIES) {
        return NULL;
    }
    size_t klen = strlen(key);
    /* The default name is the key's last part: it shares the key's copy. */
    size_t name_at = name == NULL ? (size_t)(alert_entity_default_name(key) - key) : 0;
    size_t nlen = strlen(name != NULL ? name : key + name_at);
    if (klen >= ALERT_KEY_MAX || nlen >= ALERT_NAME_MAX) {
        return NULL;
    }
    const char *k = strs_copy(a, key, klen);
    if (k == NULL) {
        return NULL;
    }
    const char *n = name == NULL ? k + name_at : strs_copy(a, name, nlen);
    if (n == NULL) {
        return NULL;
    }
    struct entity_ref *e = &a->entities[a->n_entities++];
    *e = (struct entity_ref){.kind = kind, .key = k, .name = n};
    return e;
}

enum stk_err alert_entity_set_props_json(struct alert_in *a, struct entity_ref *e, const char *json,
                                         size_t len)
{
    e->props_json = strs_copy(a, json, len);
    return e->props_json != NULL ? STK_OK : STK_ENOMEM;
}

void alert_key(unsigned char out[16], const char *const *parts, size_t n)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] != NULL ? parts[i] : "";
        crypto_generichash_update(&st, (const unsigned char *)p, strlen(p) + 1);
    }
    crypto_generichash_final(&st, out, 16);
}
