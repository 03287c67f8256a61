/* Falco JSON output -> alerts, "Binary drift detected" alerts and process
 * events (docs/ingestion.md has the field mapping). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "ingest_json.h"
#include "ingest_parse.h"
#include "jsonw.h"

#define FALCO_PATH_MAX 4096 /* PATH_MAX: executable and file paths */
#define FALCO_IP_MAX 64
#define FALCO_MAX_TAGS 64
#define FALCO_MAX_FIELDS 512 /* members of output_fields */
#define FALCO_ANCESTORS 8    /* proc.aname[2] .. proc.aname[9] */

/* One event's fields, borrowed from the loaded JSON. */
struct fev {
    json_t *ev;
    json_t *of; /* output_fields, may be NULL */
    const char *rule, *priority, *output, *message, *source, *hostname, *uuid;
    json_t *tags;
    const char *time_text;
    char time_buf[32];
    long long ms;
    enum severity sev;
    /* output_fields */
    const char *pod, *ns, *cid, *cname, *repo, *tag, *image_full;
    json_t *labels;
    const char *proc_name, *cmdline, *exepath, *exe, *pname, *pcmdline, *user;
    const char *fd_name, *fd_dir, *sip, *rip, *cip, *lip, *cont_ip, *arg_addr, *arg_flags;
    const char *evt_type, *evt_res, *ka_user, *ka_ns;
    const char *aname[FALCO_ANCESTORS];
    long long pid, ppid, sport, cport;
    int has_pid, has_ppid, has_sport, has_cport;
    int upper, memfd;
    /* derived */
    char image[ALERT_NAME_MAX]; /* repository[:tag], "" when unknown */
    int in_container;           /* container.id present and not "host" */
};

/* A member of output_fields: its key, and its name in rejections (spelt
 * out here: formatting it per event and field was measurable). */
#define OF(key) key, "output_fields." key

/* String members of output_fields: names, size limit, where it goes. */
static const struct {
    const char *key, *field;
    size_t size;
    size_t off;
} of_strings[] = {
    {OF("k8s.pod.name"), ALERT_NAME_MAX, offsetof(struct fev, pod)},
    {OF("k8s.ns.name"), ALERT_NAME_MAX, offsetof(struct fev, ns)},
    {OF("container.id"), sizeof(((struct proc_event *)0)->container_id), offsetof(struct fev, cid)},
    {OF("container.name"), ALERT_NAME_MAX, offsetof(struct fev, cname)},
    {OF("container.image.repository"), ALERT_NAME_MAX, offsetof(struct fev, repo)},
    {OF("container.image.tag"), ALERT_NAME_MAX, offsetof(struct fev, tag)},
    {OF("container.image"), ALERT_NAME_MAX, offsetof(struct fev, image_full)},
    {OF("container.ip"), FALCO_IP_MAX, offsetof(struct fev, cont_ip)},
    {OF("proc.name"), ALERT_NAME_MAX, offsetof(struct fev, proc_name)},
    {OF("proc.cmdline"), ALERT_TEXT_MAX, offsetof(struct fev, cmdline)},
    {OF("proc.exepath"), FALCO_PATH_MAX, offsetof(struct fev, exepath)},
    {OF("proc.exe"), FALCO_PATH_MAX, offsetof(struct fev, exe)},
    {OF("proc.pname"), ALERT_NAME_MAX, offsetof(struct fev, pname)},
    {OF("proc.pcmdline"), ALERT_TEXT_MAX, offsetof(struct fev, pcmdline)},
    {OF("user.name"), ALERT_NAME_MAX, offsetof(struct fev, user)},
    {OF("fd.name"), FALCO_PATH_MAX, offsetof(struct fev, fd_name)},
    {OF("fd.directory"), FALCO_PATH_MAX, offsetof(struct fev, fd_dir)},
    {OF("fd.sip"), FALCO_IP_MAX, offsetof(struct fev, sip)},
    {OF("fd.rip"), FALCO_IP_MAX, offsetof(struct fev, rip)},
    {OF("fd.cip"), FALCO_IP_MAX, offsetof(struct fev, cip)},
    {OF("fd.lip"), FALCO_IP_MAX, offsetof(struct fev, lip)},
    {OF("evt.arg.addr"), ALERT_NAME_MAX, offsetof(struct fev, arg_addr)},
    {OF("evt.arg.flags"), ALERT_TEXT_MAX, offsetof(struct fev, arg_flags)},
    {OF("evt.type"), ALERT_NAME_MAX, offsetof(struct fev, evt_type)},
    {OF("evt.res"), ALERT_NAME_MAX, offsetof(struct fev, evt_res)},
    {OF("ka.user.name"), ALERT_NAME_MAX, offsetof(struct fev, ka_user)},
    {OF("ka.target.namespace"), ALERT_NAME_MAX, offsetof(struct fev, ka_ns)},
};

static const struct {
    const char *name;
    enum severity sev;
} priorities[] = {
    {"Emergency", SEV_HIGH},
    {"Alert", SEV_HIGH},
    {"Critical", SEV_HIGH},
    {"Error", SEV_HIGH},
    {"Warning", SEV_MEDIUM},
    {"Notice", SEV_LOW},
    {"Informational", SEV_INFORMATIONAL},
    {"Info", SEV_INFORMATIONAL},
    {"Debug", SEV_INFORMATIONAL},
};

static int priority_of(const char *s, enum severity *out)
{
    for (size_t i = 0; i < sizeof(priorities) / sizeof(priorities[0]); i++) {
        if (strcasecmp(priorities[i].name, s) == 0) {
            *out = priorities[i].sev;
            return 0;
        }
    }
    return -1;
}

/* "T1059" or "T1059.004". */
static int is_technique(const char *s)
{
    for (int i = 1; i <= 4; i++) {
        if (s[0] != 'T' || s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    if (s[5] == '\0') {
        return 1;
    }
    if (s[5] != '.') {
        return 0;
    }
    for (int i = 6; i <= 8; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return s[9] == '\0';
}

/* A tactic tag: "mitre_execution" or "TA0002". */
static enum tactic tag_tactic(const char *tag)
{
    if (strncmp(tag, "mitre_", 6) != 0 && strncmp(tag, "TA", 2) != 0) {
        return TACTIC_NONE;
    }
    int t = alert_tactic_parse(tag);
    return t > 0 ? (enum tactic)t : TACTIC_NONE;
}

static enum stk_err read_top(struct ingest_ctx *c, struct fev *f)
{
    enum stk_err rc;
    rc = ingest_str(c, f->ev, "rule", "rule", ALERT_NAME_MAX, INGEST_REQUIRED | INGEST_NONEMPTY,
                    &f->rule);
    if (rc == STK_OK) {
        rc = ingest_str(c, f->ev, "priority", "priority", 32, INGEST_REQUIRED, &f->priority);
    }
    if (rc == STK_OK && priority_of(f->priority, &f->sev) != 0) {
        return ingest_fail(c, STK_EINVAL, "priority: \"%.64s\" is not a Falco priority",
                           f->priority);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, f->ev, "output", "output", ALERT_TEXT_MAX, 0, &f->output);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, f->ev, "message", "message", ALERT_TEXT_MAX, 0, &f->message);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, f->ev, "source", "source", ALERT_NAME_MAX, 0, &f->source);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, f->ev, "hostname", "hostname", ALERT_NAME_MAX, 0, &f->hostname);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, f->ev, "uuid", "uuid", ALERT_NAME_MAX, 0, &f->uuid);
    }
    if (rc == STK_OK) {
        rc = ingest_object(c, f->ev, "output_fields", "output_fields", 0, &f->of);
    }
    if (rc == STK_OK) {
        rc = ingest_array(c, f->ev, "tags", "tags", 0, FALCO_MAX_TAGS, &f->tags);
    }
    if (rc != STK_OK) {
        return rc;
    }
    size_t i;
    json_t *t;
    json_array_foreach(f->tags, i, t)
    {
        if (!json_is_string(t)) {
            return ingest_fail(c, STK_EINVAL, "tags[%zu]: expected a string", i);
        }
        if (json_string_length(t) >= ALERT_NAME_MAX) {
            return ingest_fail(c, STK_EINVAL, "tags[%zu]: longer than %d bytes", i,
                               ALERT_NAME_MAX - 1);
        }
    }
    return STK_OK;
}

/* The longest string anywhere inside `v` (nesting is bounded by the
 * pre-scan, so the recursion is too). */
static size_t longest_string(const json_t *v)
{
    size_t max = 0, n, i;
    const char *k;
    json_t *m;
    if (json_is_string(v)) {
        return json_string_length(v);
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m)
        {
            n = longest_string(m);
            max = n > max ? n : max;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            n = longest_string(m);
            max = n > max ? n : max;
        }
    }
    return max;
}

/* Checks the size of output_fields and of every string in it: the whole
 * object goes into the evidence. */
static enum stk_err check_output_fields(struct ingest_ctx *c, const json_t *of)
{
    if (json_object_size(of) > FALCO_MAX_FIELDS) {
        return ingest_fail(c, STK_EINVAL, "output_fields: %zu members exceeds the limit of %d",
                           json_object_size(of), FALCO_MAX_FIELDS);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)of, k, v)
    {
        size_t n = longest_string(v);
        if (n >= ALERT_TEXT_MAX) {
            return ingest_fail(c, STK_EINVAL,
                               "output_fields.%.64s: %zu bytes exceeds the limit of %d", k, n,
                               ALERT_TEXT_MAX - 1);
        }
    }
    return STK_OK;
}

static enum stk_err read_output_fields(struct ingest_ctx *c, struct fev *f)
{
    static const char *const anames[FALCO_ANCESTORS][2] = {
        {OF("proc.aname[2]")}, {OF("proc.aname[3]")}, {OF("proc.aname[4]")}, {OF("proc.aname[5]")},
        {OF("proc.aname[6]")}, {OF("proc.aname[7]")}, {OF("proc.aname[8]")}, {OF("proc.aname[9]")},
    };
    enum stk_err rc = check_output_fields(c, f->of);
    for (size_t i = 0; rc == STK_OK && i < sizeof(of_strings) / sizeof(of_strings[0]); i++) {
        const char **dst = (const char **)((char *)f + of_strings[i].off);
        rc = ingest_str(c, f->of, of_strings[i].key, of_strings[i].field, of_strings[i].size,
                        INGEST_NA, dst);
    }
    for (int i = 0; rc == STK_OK && i < FALCO_ANCESTORS; i++) {
        rc = ingest_str(c, f->of, anames[i][0], anames[i][1], ALERT_NAME_MAX, INGEST_NA,
                        &f->aname[i]);
    }
    if (rc == STK_OK) {
        rc = ingest_int(c, f->of, "proc.pid", "output_fields.proc.pid", INGEST_NA, &f->pid,
                        &f->has_pid);
    }
    if (rc == STK_OK) {
        rc = ingest_int(c, f->of, "proc.ppid", "output_fields.proc.ppid", INGEST_NA, &f->ppid,
                        &f->has_ppid);
    }
    if (rc == STK_OK) {
        rc = ingest_int(c, f->of, "fd.sport", "output_fields.fd.sport", INGEST_NA, &f->sport,
                        &f->has_sport);
    }
    if (rc == STK_OK) {
        rc = ingest_int(c, f->of, "fd.cport", "output_fields.fd.cport", INGEST_NA, &f->cport,
                        &f->has_cport);
    }
    if (rc == STK_OK) {
        rc = ingest_bool(c, f->of, "proc.is_exe_upper_layer",
                         "output_fields.proc.is_exe_upper_layer", INGEST_NA, &f->upper);
    }
    if (rc == STK_OK) {
        rc = ingest_bool(c, f->of, "proc.is_exe_from_memfd", "output_fields.proc.is_exe_from_memfd",
                         INGEST_NA, &f->memfd);
    }
    if (rc == STK_OK) {
        json_t *l = f->of != NULL ? json_object_get(f->of, "k8s.pod.labels") : NULL;
        int na = json_is_string(l) && strcmp(json_string_value(l), "<NA>") == 0;
        f->labels = json_is_null(l) || na ? NULL : l;
    }
    return rc;
}

/* The event time: `time` (RFC 3339), else output_fields.evt.time or
 * evt.time.iso8601 (integer nanoseconds). */
static enum stk_err read_time(struct ingest_ctx *c, struct fev *f)
{
    const char *text;
    enum stk_err rc = ingest_time(c, f->ev, "time", "time", 0, &f->ms, &text);
    if (rc != STK_OK || text != NULL) {
        f->time_text = text;
        return rc;
    }
    static const char *const keys[][2] = {{OF("evt.time")}, {OF("evt.time.iso8601")}};
    for (size_t i = 0; i < 2; i++) {
        const char *field = keys[i][1];
        long long ns;
        int present;
        rc = ingest_int(c, f->of, keys[i][0], field, INGEST_NA, &ns, &present);
        if (rc != STK_OK) {
            return rc;
        }
        if (present) {
            snprintf(f->time_buf, sizeof(f->time_buf), "%lld", ns);
            f->time_text = f->time_buf;
            return ingest_time_check(c, field, f->time_buf, ns, &f->ms);
        }
    }
    return ingest_fail(c, STK_EINVAL, "time: is required (or output_fields.evt.time)");
}

/* Derived facts: the image reference and whether this is a container. */
static enum stk_err derive(struct ingest_ctx *c, struct fev *f)
{
    f->in_container = f->cid != NULL && f->cid[0] != '\0' && strcmp(f->cid, "host") != 0;
    if (f->repo != NULL && f->repo[0] != '\0') {
        const char *sep = f->tag != NULL && f->tag[0] != '\0' ? ":" : "";
        int n = snprintf(f->image, sizeof(f->image), "%s%s%s", f->repo, sep,
                         sep[0] != '\0' ? f->tag : "");
        if (n < 0 || (size_t)n >= sizeof(f->image)) {
            return ingest_fail(c, STK_EINVAL,
                               "output_fields.container.image.tag: the image "
                               "reference exceeds %d bytes",
                               ALERT_NAME_MAX - 1);
        }
    } else if (f->image_full != NULL) {
        memcpy(f->image, f->image_full, strlen(f->image_full) + 1);
    }
    if (f->exepath == NULL) {
        f->exepath = f->exe;
    }
    const char *dir = f->exepath != NULL ? strrchr(f->exepath, '/') : NULL;
    if (dir != NULL && (size_t)(dir - f->exepath) >= sizeof(((struct proc_event *)0)->folder)) {
        return ingest_fail(c, STK_EINVAL,
                           "output_fields.proc.exepath: the directory exceeds "
                           "%zu bytes",
                           sizeof(((struct proc_event *)0)->folder) - 1);
    }
    if (dir != NULL && strlen(dir + 1) >= ALERT_NAME_MAX) {
        return ingest_fail(c, STK_EINVAL,
                           "output_fields.proc.exepath: the file name exceeds "
                           "%d bytes",
                           ALERT_NAME_MAX - 1);
    }
    return STK_OK;
}

/* Executing a binary that was not part of the image: the overlayfs upper
 * layer or a memfd (Falco's evt.arg.flags on execve, or the proc fields). */
static int has_flag(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = flags; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '|');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, flag, n) == 0) {
            return 1;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

static int is_drift(const struct fev *f)
{
    return f->upper || f->memfd || has_flag(f->arg_flags, "EXE_UPPER_LAYER") ||
           has_flag(f->arg_flags, "EXE_FROM_MEMFD");
}

/* The address part of `s` into `out`; -1 when it is not an IP address.
 * With `port`, `s` ends in ":PORT" ("1.2.3.4:80", "[2001:db8::1]:80", or
 * Falco's unbracketed "2001:db8::1:80", where only the known port makes the
 * split unambiguous); without, it is a bare address. */
static int host_of(const char *s, int port, char *out, size_t size)
{
    size_t n = strlen(s);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL) {
            return -1;
        }
        s++;
        n = (size_t)(end - s);
    } else if (port) {
        const char *colon = strrchr(s, ':');
        if (colon == NULL || colon[1] == '\0') {
            return -1;
        }
        for (const char *p = colon + 1; *p != '\0'; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }
        }
        n = (size_t)(colon - s);
    }
    if (n >= size) {
        return -1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return ingest_is_ip(out) ? 0 : -1;
}

/* fd.name of a socket: "client:port->server:port" (or "address:port"). */
static int fd_is_network(const char *name)
{
    char host[FALCO_IP_MAX];
    return name != NULL &&
           (strstr(name, "->") != NULL || host_of(name, 1, host, sizeof(host)) == 0);
}

static enum stk_err add_ip(struct ingest_ctx *c, struct alert_in *a, const struct fev *f,
                           const char *addr, int port)
{
    char host[FALCO_IP_MAX];
    if (addr == NULL || host_of(addr, port, host, sizeof(host)) != 0 || ingest_ip_is_local(host)) {
        return STK_OK;
    }
    /* The local side of the connection is the container itself. */
    if ((f->lip != NULL && strcmp(host, f->lip) == 0) ||
        (f->cont_ip != NULL && strcmp(host, f->cont_ip) == 0)) {
        return STK_OK;
    }
    return ingest_entity(c, a, ENT_IP, host, NULL, "ip", "ip:%s", host);
}

/* "docker.io" for Docker Hub names without a registry host. */
static void registry_of(const char *image, char *out, size_t size)
{
    const char *slash = strchr(image, '/');
    size_t n = slash != NULL ? (size_t)(slash - image) : 0;
    int host = n > 0 && (memchr(image, '.', n) != NULL || memchr(image, ':', n) != NULL ||
                         (n == 9 && strncmp(image, "localhost", 9) == 0));
    if (!host || n >= size) {
        snprintf(out, size, "docker.io");
        return;
    }
    memcpy(out, image, n);
    out[n] = '\0';
}

/* One JSON object written lazily: its key (if `name`) and brace come with
 * its first member, so an object with nothing in it leaves no trace (as
 * the jansson trees these replace left out empty objects). */
struct section {
    struct jw *w;
    const char *name; /* NULL: a top-level object */
    int open;
};

static void sect_key(struct section *s, const char *key)
{
    if (!s->open) {
        if (s->name != NULL) {
            jw_key(s->w, s->name);
        }
        jw_object(s->w);
        s->open = 1;
    }
    jw_key(s->w, key);
}

/* Absent and empty strings are left out. */
static void sect_str(struct section *s, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0') {
        sect_key(s, key);
        jw_str(s->w, value);
    }
}

static void sect_int(struct section *s, const char *key, int present, long long value)
{
    if (present) {
        sect_key(s, key);
        jw_int(s->w, value);
    }
}

static void sect_end(struct section *s)
{
    if (s->open) {
        jw_end(s->w);
    }
}

/* Starts the display facts of an entity: an object written into `scratch`. */
static struct section props_begin(struct jw *w, struct buf *scratch)
{
    buf_reset(scratch);
    jw_init(w, scratch);
    return (struct section){w, NULL, 0};
}

/* Ends them and keeps them as the props of `e` (none when empty). */
static enum stk_err props_keep(struct ingest_ctx *c, struct alert_in *a, struct entity_ref *e,
                               struct section *props)
{
    sect_end(props);
    const struct buf *b = props->w->b;
    if (props->w->rc != STK_OK) {
        return ingest_fail(c, props->w->rc, "cannot write the entity's properties (%s)",
                           stk_err_name(props->w->rc));
    }
    if (props->open && alert_entity_set_props_json(a, e, b->data, b->len) != STK_OK) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    return STK_OK;
}

/* `scratch` holds the entities' display facts while they are written. */
static enum stk_err build_entities(struct ingest_ctx *c, struct alert_in *a, const struct fev *f,
                                   const char *cluster, struct buf *scratch)
{
    const char *ck = cluster[0] != '\0' ? cluster : "-";
    const char *ns = f->ns != NULL ? f->ns : f->ka_ns;
    struct entity_ref *e;
    enum stk_err rc = STK_OK;
    if (cluster[0] != '\0') {
        rc = ingest_entity(c, a, ENT_CLUSTER, cluster, NULL, "cluster", "cluster:%s", cluster);
    }
    if (rc == STK_OK && ns != NULL && ns[0] != '\0') {
        rc = ingest_entity(c, a, ENT_NAMESPACE, ns, NULL, "output_fields.k8s.ns.name",
                           "namespace:%s/%s", ck, ns);
    }
    if (rc == STK_OK && f->hostname != NULL && f->hostname[0] != '\0' &&
        (f->in_container || f->pod != NULL)) {
        rc = ingest_entity(c, a, ENT_NODE, f->hostname, NULL, "hostname", "node:%s/%s", ck,
                           f->hostname);
    }
    if (rc == STK_OK && f->pod != NULL && f->pod[0] != '\0') {
        rc = ingest_entity(c, a, ENT_POD, f->pod, &e, "output_fields.k8s.pod.name", "pod:%s/%s/%s",
                           ck, ns != NULL && ns[0] != '\0' ? ns : "-", f->pod);
        if (rc == STK_OK && e != NULL && e->props_json == NULL) {
            struct jw w;
            struct section props = props_begin(&w, scratch);
            sect_str(&props, "namespace", ns);
            sect_str(&props, "cluster", cluster);
            sect_str(&props, "image", f->image);
            sect_str(&props, "container_id", f->in_container ? f->cid : NULL);
            if (f->labels != NULL) {
                sect_key(&props, "labels");
                jw_json(&w, f->labels);
            }
            rc = props_keep(c, a, e, &props);
        }
    }
    if (rc == STK_OK && f->in_container) {
        const char *name = f->cname != NULL && f->cname[0] != '\0' ? f->cname : f->cid;
        rc = ingest_entity(c, a, ENT_CONTAINER, name, &e, "output_fields.container.id",
                           "container:%s/%s", ck, f->cid);
        if (rc == STK_OK && e != NULL && e->props_json == NULL) {
            struct jw w;
            struct section props = props_begin(&w, scratch);
            sect_str(&props, "image", f->image);
            sect_str(&props, "pod", f->pod);
            sect_str(&props, "namespace", ns);
            rc = props_keep(c, a, e, &props);
        }
    }
    if (rc == STK_OK && f->image[0] != '\0') {
        char reg[ALERT_NAME_MAX];
        rc = ingest_entity(c, a, ENT_IMAGE, f->image, NULL, "output_fields.container.image",
                           "image:%s", f->image);
        registry_of(f->image, reg, sizeof(reg));
        if (rc == STK_OK) {
            rc = ingest_entity(c, a, ENT_REGISTRY, reg, NULL, "output_fields.container.image",
                               "registry:%s", reg);
        }
    }
    const char *remotes[] = {f->rip, f->sip, f->arg_addr, NULL};
    const char *arrow = f->fd_name != NULL ? strstr(f->fd_name, "->") : NULL;
    remotes[3] = arrow != NULL ? arrow + 2 : NULL;
    for (size_t i = 0; rc == STK_OK && i < 4; i++) {
        rc = add_ip(c, a, f, remotes[i], i >= 2);
    }
    if (rc == STK_OK && f->ka_user != NULL && f->ka_user[0] != '\0') {
        rc = ingest_entity(c, a, ENT_IDENTITY, f->ka_user, NULL, "output_fields.ka.user.name",
                           "identity:%s/%s", ck, f->ka_user);
    }
    return rc;
}

/* The members of the evidence object of an event's alerts. */
static void write_evidence(struct jw *w, const struct fev *f)
{
    struct section proc = {w, "process", 0};
    sect_str(&proc, "name", f->proc_name);
    sect_str(&proc, "cmdline", f->cmdline);
    sect_str(&proc, "exepath", f->exepath);
    sect_int(&proc, "pid", f->has_pid, f->pid);
    sect_str(&proc, "user", f->user);
    sect_end(&proc);

    struct section parent = {w, "parent", 0};
    sect_str(&parent, "name", f->pname);
    sect_int(&parent, "pid", f->has_ppid, f->ppid);
    sect_str(&parent, "cmdline", f->pcmdline);
    if (f->aname[0] != NULL) {
        sect_key(&parent, "ancestors");
        jw_array(w);
        for (int i = 0; i < FALCO_ANCESTORS && f->aname[i] != NULL; i++) {
            jw_str(w, f->aname[i]);
        }
        jw_end(w);
    }
    sect_end(&parent);

    int net_fd = fd_is_network(f->fd_name);
    struct section file = {w, "file", 0};
    sect_str(&file, "name", net_fd ? NULL : f->fd_name);
    sect_str(&file, "directory", f->fd_dir);
    sect_end(&file);

    struct section cont = {w, "container", 0};
    sect_str(&cont, "id", f->cid);
    sect_str(&cont, "name", f->cname);
    sect_str(&cont, "image", f->image);
    sect_end(&cont);

    struct section pod = {w, "pod", 0};
    sect_str(&pod, "name", f->pod);
    sect_str(&pod, "namespace", f->ns);
    sect_end(&pod);

    struct section net = {w, "network", 0};
    sect_str(&net, "connection", net_fd ? f->fd_name : NULL);
    sect_str(&net, "remote_ip", f->rip);
    sect_str(&net, "server_ip", f->sip);
    sect_int(&net, "server_port", f->has_sport, f->sport);
    sect_str(&net, "client_ip", f->cip);
    sect_int(&net, "client_port", f->has_cport, f->cport);
    sect_str(&net, "local_ip", f->lip);
    sect_str(&net, "address", f->arg_addr);
    sect_end(&net);

    struct section falco = {w, "falco", 0};
    sect_str(&falco, "rule", f->rule);
    sect_str(&falco, "priority", f->priority);
    sect_str(&falco, "source", f->source);
    if (f->tags != NULL) {
        sect_key(&falco, "tags");
        jw_json(w, f->tags);
    }
    sect_str(&falco, "hostname", f->hostname);
    sect_str(&falco, "uuid", f->uuid);
    sect_str(&falco, "event_type", f->evt_type);
    if (f->of != NULL) {
        sect_key(&falco, "output_fields");
        jw_json(w, f->of);
    }
    sect_end(&falco);
}

/* The "drift" member of a drift alert's evidence. */
static void write_drift(struct jw *w, const struct fev *f)
{
    struct section drift = {w, "drift", 0};
    sect_str(&drift, "executable", f->exepath);
    sect_key(&drift, "upper_layer");
    jw_bool(w, f->upper || has_flag(f->arg_flags, "EXE_UPPER_LAYER"));
    sect_key(&drift, "from_memfd");
    jw_bool(w, f->memfd || has_flag(f->arg_flags, "EXE_FROM_MEMFD"));
    sect_str(&drift, "flags", f->arg_flags);
    sect_str(&drift, "falco_rule", f->rule);
    sect_end(&drift);
}

/* A copy of the `len` bytes at `text` followed by `tail`. NULL on ENOMEM. */
static char *text_dup(const char *text, size_t len, const char *tail)
{
    size_t tlen = strlen(tail);
    char *out = malloc(len + tlen + 1);
    if (out != NULL) {
        memcpy(out, text, len);
        memcpy(out + len, tail, tlen + 1);
    }
    return out;
}

/* Writes the evidence of the event's alert (alerts[first]) and, with
 * `drift`, of its drift alert (alerts[first + 1]): the same object, the
 * latter with a "drift" member more. The text is written straight into
 * `scratch`, as json_dumps() of the same jansson tree would have. */
static enum stk_err set_evidence(struct ingest_ctx *c, struct ingest_batch *out, size_t first,
                                 int drift, const struct fev *f, struct buf *scratch)
{
    struct jw w;
    buf_reset(scratch);
    jw_init(&w, scratch);
    jw_object(&w);
    write_evidence(&w, f);
    size_t base = scratch->len;
    if (drift) {
        write_drift(&w, f);
    }
    jw_end(&w);
    if (w.rc == STK_ETOOBIG) {
        return ingest_fail(c, w.rc, "the evidence of the event exceeds %zu bytes", scratch->max);
    }
    if (w.rc != STK_OK) {
        return ingest_fail(c, w.rc, "cannot write the evidence (%s)", stk_err_name(w.rc));
    }
    struct alert_in *a = &out->alerts[first];
    a->evidence_json =
        drift ? text_dup(scratch->data, base, "}") : text_dup(scratch->data, scratch->len, "");
    if (a->evidence_json == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    if (drift) {
        a[1].evidence_json = text_dup(scratch->data, scratch->len, "");
        if (a[1].evidence_json == NULL) {
            return ingest_fail(c, STK_ENOMEM, "out of memory");
        }
    }
    return STK_OK;
}

/* The output text without Falco's "HH:MM:SS.nnnnnnnnn: Priority " (or
 * "2026-...+0000: Priority ") prefix. */
static const char *strip_prefix(const char *out)
{
    const char *colon = strstr(out, ": ");
    if (colon == NULL || colon == out || colon - out > 40) {
        return out;
    }
    for (const char *p = out; p < colon; p++) {
        if (strchr("0123456789:.-+TZ", *p) == NULL) {
            return out;
        }
    }
    const char *word = colon + 2;
    const char *space = strchr(word, ' ');
    if (space == NULL) {
        return out;
    }
    char pri[16];
    size_t n = (size_t)(space - word);
    enum severity ignored;
    if (n >= sizeof(pri)) {
        return out;
    }
    memcpy(pri, word, n);
    pri[n] = '\0';
    return priority_of(pri, &ignored) == 0 ? space + 1 : out;
}

static enum stk_err new_alert(struct ingest_ctx *c, struct ingest_batch *out, struct alert_in **a)
{
    if (out->n_alerts >= INGEST_MAX_ELEMENTS) {
        return ingest_fail(c, STK_ETOOBIG,
                           "the batch yields more than %d alerts; send fewer "
                           "events per request",
                           INGEST_MAX_ELEMENTS);
    }
    *a = ingest_batch_add_alert(out);
    return *a != NULL ? STK_OK : ingest_fail(c, STK_ENOMEM, "out of memory");
}

static void set_tactic(struct alert_in *a, const struct fev *f)
{
    enum tactic first = TACTIC_NONE;
    int seen[TACTIC_N] = {0};
    size_t i;
    json_t *t;
    json_array_foreach(f->tags, i, t)
    {
        const char *s = json_string_value(t);
        enum tactic tt = tag_tactic(s);
        seen[tt] = 1;
        if (first == TACTIC_NONE) {
            first = tt;
        }
        if (a->technique[0] == '\0' && is_technique(s)) {
            memcpy(a->technique, s, strlen(s) + 1);
        }
    }
    /* Several tactic tags (the miner rule has command_and_control and
     * impact): prefer the one the technique belongs to. */
    enum tactic of_tech = alert_tactic_of_technique(a->technique);
    if (of_tech != TACTIC_NONE && (seen[of_tech] || first == TACTIC_NONE)) {
        a->tactic = of_tech;
    } else {
        a->tactic = first;
    }
}

static enum stk_err fill_alert(struct ingest_ctx *c, struct alert_in *a, const struct fev *f,
                               const char *cluster, struct buf *scratch)
{
    char *dump = NULL;
    const char *text = f->output;
    if (text == NULL && f->of != NULL) {
        dump = json_dumps(f->of, JSON_COMPACT | JSON_SORT_KEYS);
        if (dump == NULL) {
            return ingest_fail(c, STK_ENOMEM, "out of memory");
        }
        text = dump;
    }
    /* Scoped by cluster: the same event text from two clusters is two
     * alerts, and one cluster's token cannot suppress another's alerts. */
    const char *parts[] = {"falco", cluster, f->time_text, f->rule, f->hostname, text};
    alert_key(a->key, parts, 6);
    free(dump);
    a->provider = PROV_FALCO;
    memcpy(a->rule, f->rule, strlen(f->rule) + 1);
    memcpy(a->title, f->rule, strlen(f->rule) + 1);
    const char *desc = f->output != NULL ? strip_prefix(f->output) : f->message;
    if (desc != NULL) {
        a->description = strdup(desc);
        if (a->description == NULL) {
            return ingest_fail(c, STK_ENOMEM, "out of memory");
        }
    }
    a->severity = f->sev;
    set_tactic(a, f);
    a->first_ms = a->last_ms = f->ms;
    memcpy(a->cluster, cluster, strlen(cluster) + 1);
    return build_entities(c, a, f, cluster, scratch);
}

static enum stk_err add_drift(struct ingest_ctx *c, struct ingest_batch *out,
                              const unsigned char first_key[16], const struct fev *f,
                              const char *cluster, struct buf *scratch)
{
    char hex[33];
    struct alert_in *a;
    ingest_key_hex(first_key, hex);
    enum stk_err rc = new_alert(c, out, &a);
    if (rc != STK_OK) {
        return rc;
    }
    const char *parts[] = {hex, "drift"};
    alert_key(a->key, parts, 2);
    a->provider = PROV_STOCKADE_RULES;
    snprintf(a->rule, sizeof(a->rule), "stockade.binary_drift");
    snprintf(a->title, sizeof(a->title), "Binary drift detected");
    a->severity = SEV_HIGH;
    a->tactic = TACTIC_EXECUTION;
    a->first_ms = a->last_ms = f->ms;
    memcpy(a->cluster, cluster, strlen(cluster) + 1);
    rc = build_entities(c, a, f, cluster, scratch);
    if (rc != STK_OK) {
        return rc;
    }

    const char *exe = f->exepath != NULL     ? f->exepath
                      : f->proc_name != NULL ? f->proc_name
                                             : "an executable";
    const char *cont = f->cname != NULL && f->cname[0] != '\0' ? f->cname : f->cid;
    struct buf b;
    buf_init(&b, ALERT_TEXT_MAX);
    int bad = buf_printf(&b, "%s %s", exe,
                         f->memfd || has_flag(f->arg_flags, "EXE_FROM_MEMFD")
                             ? "ran from memory (memfd) and was not part of the image"
                             : "was not part of the image") != STK_OK;
    if (f->in_container) {
        bad |= buf_printf(&b, " of container %s", cont) != STK_OK;
    }
    if (f->image[0] != '\0') {
        bad |= buf_printf(&b, " (%s)", f->image) != STK_OK;
    }
    a->description = bad ? NULL : buf_take(&b);
    buf_release(&b);
    return a->description == NULL ? ingest_fail(c, STK_ENOMEM, "out of memory") : STK_OK;
}

static enum stk_err add_proc(struct ingest_ctx *c, struct ingest_batch *out,
                             const unsigned char key[16], const struct fev *f, const char *cluster)
{
    if (out->n_procs >= INGEST_MAX_ELEMENTS) {
        return ingest_fail(c, STK_ETOOBIG, "the batch yields more than %d process events",
                           INGEST_MAX_ELEMENTS);
    }
    struct proc_event *p = ingest_batch_add_proc(out);
    if (p == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    memcpy(p->key, key, sizeof(p->key));
    p->ts_ms = f->ms;
    ingest_copy(p->cluster, sizeof(p->cluster), cluster);
    ingest_copy(p->ns, sizeof(p->ns), f->ns);
    ingest_copy(p->pod, sizeof(p->pod), f->pod);
    ingest_copy(p->container_name, sizeof(p->container_name), f->cname);
    ingest_copy(p->container_id, sizeof(p->container_id), f->in_container ? f->cid : NULL);
    ingest_copy(p->image, sizeof(p->image), f->image);
    p->pid = f->has_pid ? f->pid : -1;
    p->ppid = f->has_ppid ? f->ppid : -1;
    ingest_copy(p->process_name, sizeof(p->process_name), f->proc_name);
    const char *slash = f->exepath != NULL ? strrchr(f->exepath, '/') : NULL;
    if (slash != NULL) {
        size_t n = slash == f->exepath ? 1 : (size_t)(slash - f->exepath);
        memcpy(p->folder, f->exepath, n);
        p->folder[n] = '\0';
        ingest_copy(p->file, sizeof(p->file), slash + 1);
    } else {
        ingest_copy(p->file, sizeof(p->file), f->exepath != NULL ? f->exepath : f->proc_name);
    }
    ingest_copy(p->parent_name, sizeof(p->parent_name), f->pname);
    ingest_copy(p->account, sizeof(p->account), f->user);
    p->drift = is_drift(f);
    if (f->cmdline != NULL) {
        p->cmdline = strdup(f->cmdline);
        if (p->cmdline == NULL) {
            return ingest_fail(c, STK_ENOMEM, "out of memory");
        }
    }
    return STK_OK;
}

/* `scratch` holds JSON text while it is written (display facts, evidence):
 * one buffer for the whole request. */
static enum stk_err parse_event(struct ingest_ctx *c, json_t *ev, const char *cluster,
                                struct ingest_batch *out, struct buf *scratch)
{
    struct fev f;
    memset(&f, 0, sizeof(f));
    f.ev = ev;
    if (!json_is_object(ev)) {
        return ingest_fail(c, STK_EINVAL, "expected an object");
    }
    enum stk_err rc = read_top(c, &f);
    if (rc == STK_OK) {
        rc = read_output_fields(c, &f);
    }
    if (rc == STK_OK) {
        rc = read_time(c, &f);
    }
    if (rc == STK_OK) {
        rc = derive(c, &f);
    }
    struct alert_in *a = NULL;
    size_t first = out->n_alerts;
    if (rc == STK_OK) {
        rc = new_alert(c, out, &a);
    }
    if (rc == STK_OK) {
        rc = fill_alert(c, a, &f, cluster, scratch);
    }
    /* `a` may move when the drift alert grows the array: copy the key. */
    unsigned char key[16];
    if (rc == STK_OK) {
        memcpy(key, a->key, sizeof(key));
    }
    int drift = is_drift(&f);
    if (rc == STK_OK && drift) {
        rc = add_drift(c, out, key, &f, cluster, scratch);
    }
    if (rc == STK_OK) {
        rc = set_evidence(c, out, first, drift, &f, scratch);
    }
    if (rc == STK_OK && (f.proc_name != NULL || f.cmdline != NULL)) {
        rc = add_proc(c, out, key, &f, cluster);
    }
    return rc;
}

/* A JSON array of events. */
static enum stk_err parse_array(struct ingest_ctx *c, const char *text, size_t len,
                                const char *cluster, struct ingest_batch *out, struct buf *scratch)
{
    char why[200];
    size_t pos = 0;
    json_t *arr = ingest_load(text, len, 0, &pos, why, sizeof(why));
    if (arr == NULL) {
        c->index = ingest_element_at(text, len, pos);
        return ingest_fail(c, STK_EINVAL, "%s", why);
    }
    enum stk_err rc = STK_OK;
    size_t i;
    json_t *ev;
    json_array_foreach(arr, i, ev)
    {
        c->index = (long)i;
        rc = parse_event(c, ev, cluster, out, scratch);
        if (rc != STK_OK) {
            break;
        }
    }
    json_decref(arr);
    return rc;
}

/* One object, or objects separated by newlines (NDJSON; blank lines and
 * pretty-printed objects are fine, two objects on one line are not). */
static enum stk_err parse_stream(struct ingest_ctx *c, const char *text, size_t len,
                                 const char *cluster, struct ingest_batch *out, struct buf *scratch)
{
    size_t pos = 0;
    for (long idx = 0;; idx++) {
        while (pos < len &&
               (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r' || text[pos] == '\n')) {
            pos++;
        }
        if (pos == len) {
            return STK_OK;
        }
        c->index = idx;
        char why[200];
        size_t used = 0;
        json_t *ev = ingest_load(text + pos, len - pos, 1, &used, why, sizeof(why));
        if (ev == NULL) {
            return ingest_fail(c, STK_EINVAL, "%s", why);
        }
        pos += used;
        while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r')) {
            pos++;
        }
        enum stk_err rc = STK_OK;
        if (pos < len && text[pos] != '\n') {
            rc = ingest_fail(c, STK_EINVAL,
                             "unexpected text after the event (events are "
                             "separated by newlines)");
        }
        if (rc == STK_OK) {
            rc = parse_event(c, ev, cluster, out, scratch);
        }
        json_decref(ev);
        if (rc != STK_OK) {
            return rc;
        }
    }
}

enum stk_err ingest_parse_falco(const char *body, size_t len, const char *cluster,
                                struct ingest_batch *out, struct ingest_reject *rej)
{
    struct ingest_ctx c;
    struct ingest_scan scan;
    struct buf scratch;
    char *quoted = NULL;
    size_t qlen = 0;
    enum stk_err rc;
    ingest_ctx_init(&c, rej);
    /* The JSON text written per event: an event's strings appear at most
     * twice in its evidence (a section and output_fields), escaped no
     * longer than in the body. */
    buf_init(&scratch, 4 * len + 65536);
    if (cluster == NULL) {
        cluster = "";
    }
    if (strlen(cluster) >= ALERT_CLUSTER_MAX) {
        rc = ingest_fail(&c, STK_EINVAL, "cluster: longer than %d bytes", ALERT_CLUSTER_MAX - 1);
        goto out;
    }
    rc = ingest_scan_body(&c, body, len, &scan);
    if (rc != STK_OK) {
        goto out;
    }
    if (scan.first == 0) {
        rc = ingest_fail(&c, STK_EINVAL, "empty body");
        goto out;
    }
    if (scan.elements > INGEST_MAX_ELEMENTS) {
        rc = ingest_fail(&c, STK_ETOOBIG, "batch of %zu elements exceeds the limit of %d",
                         scan.elements, INGEST_MAX_ELEMENTS);
        goto out;
    }
    if (scan.big_ints > 0) {
        rc = ingest_quote_big_ints(body, len, &quoted, &qlen);
        if (rc != STK_OK) {
            rc = ingest_fail(&c, rc, "out of memory");
            goto out;
        }
        body = quoted;
        len = qlen;
    }
    /* One growth of each array: an alert and a process event per event,
     * and room for the drift alerts of one event in eight. */
    if (ingest_batch_reserve(out, scan.elements + scan.elements / 8, scan.elements) != STK_OK) {
        rc = ingest_fail(&c, STK_ENOMEM, "out of memory");
        goto out;
    }
    if (scan.first == '[') {
        rc = parse_array(&c, body, len, cluster, out, &scratch);
    } else if (scan.first == '{') {
        rc = parse_stream(&c, body, len, cluster, out, &scratch);
    } else {
        rc = ingest_fail(&c, STK_EINVAL,
                         "expected a JSON object, an array of objects or "
                         "newline-delimited objects");
    }
out:
    free(quoted);
    buf_release(&scratch);
    if (rc != STK_OK) {
        ingest_batch_release(out);
    }
    return rc;
}
