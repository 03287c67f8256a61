/* Trivy JSON image reports (SchemaVersion 2). */
#include "ingest_trivy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest_json.h"

#define NAME_LIMIT ALERT_NAME_MAX /* image names become entity names and keys */
#define TEXT_LIMIT 256
#define FIXED_LIMIT 1024
#define TITLE_LIMIT 1024
#define URL_LIMIT 2048
#define TARGET_LIMIT 4096

const char *ingest_trivy_severity_name(int s)
{
    static const char *const names[TRIVY_SEV_N] = {"unknown", "low", "medium", "high", "critical"};
    return s >= 0 && s < TRIVY_SEV_N ? names[s] : "";
}

static int severity_of(const char *s)
{
    static const char *const names[TRIVY_SEV_N] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    for (int i = 0; i < TRIVY_SEV_N; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void ingest_trivy_release(struct trivy_report *r)
{
    if (r == NULL) {
        return;
    }
    json_decref(r->doc);
    free(r->vulns);
    memset(r, 0, sizeof(*r));
}

/* A JSON array member that must hold at most `max` items; more is 413. */
static enum stk_err bounded_array(struct ingest_ctx *c, const json_t *obj, const char *key,
                                  const char *field, size_t max, json_t **out)
{
    enum stk_err rc = ingest_array(c, obj, key, field, 0, (size_t)-1, out);
    if (rc == STK_OK && *out != NULL && json_array_size(*out) > max) {
        size_t n = json_array_size(*out);
        *out = NULL;
        return ingest_fail(c, STK_ETOOBIG, "%s: %zu items exceeds the limit of %zu", field, n, max);
    }
    return rc;
}

/* "repo@sha256:..." -> "sha256:..." (a pointer into `s`), NULL without '@'. */
static const char *digest_of(const char *s)
{
    const char *at = strrchr(s, '@');
    return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

static enum stk_err read_names(struct ingest_ctx *c, const json_t *meta, struct trivy_report *r)
{
    json_t *list;
    char field[64];
    enum stk_err rc =
        bounded_array(c, meta, "RepoTags", "Metadata.RepoTags", TRIVY_MAX_NAMES, &list);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (rc != STK_OK) {
            break;
        }
        snprintf(field, sizeof(field), "Metadata.RepoTags[%zu]", i);
        if (!json_is_string(v)) {
            return ingest_fail(c, STK_EINVAL, "%s: expected a string", field);
        }
        size_t n = json_string_length(v);
        if (n == 0 || n >= NAME_LIMIT) {
            return ingest_fail(c, STK_EINVAL, "%s: expected 1 to %d bytes", field, NAME_LIMIT - 1);
        }
        r->tags[r->n_tags++] = json_string_value(v);
    }
    if (rc == STK_OK) {
        rc = bounded_array(c, meta, "RepoDigests", "Metadata.RepoDigests", TRIVY_MAX_NAMES, &list);
    }
    json_array_foreach(list, i, v)
    {
        if (rc != STK_OK) {
            break;
        }
        snprintf(field, sizeof(field), "Metadata.RepoDigests[%zu]", i);
        if (!json_is_string(v)) {
            return ingest_fail(c, STK_EINVAL, "%s: expected a string", field);
        }
        const char *d = digest_of(json_string_value(v));
        if (d == NULL || strlen(d) >= TEXT_LIMIT) {
            return ingest_fail(c, STK_EINVAL, "%s: expected REPOSITORY@DIGEST", field);
        }
        if (i == 0) {
            r->digest = d;
        }
    }
    return rc;
}

static enum stk_err read_metadata(struct ingest_ctx *c, const json_t *doc, struct trivy_report *r)
{
    json_t *meta, *os;
    const char *family = NULL, *name = NULL;
    enum stk_err rc = ingest_object(c, doc, "Metadata", "Metadata", 0, &meta);
    if (rc == STK_OK) {
        rc = ingest_str(c, meta, "ImageID", "Metadata.ImageID", TEXT_LIMIT, 0, &r->image_id);
    }
    if (rc == STK_OK) {
        rc = read_names(c, meta, r);
    }
    if (rc == STK_OK) {
        rc = ingest_object(c, meta, "OS", "Metadata.OS", 0, &os);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, os, "Family", "Metadata.OS.Family", 128, 0, &family);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, os, "Name", "Metadata.OS.Name", 120, 0, &name);
    }
    if (rc == STK_OK) {
        snprintf(r->os, sizeof(r->os), "%s%s%s", family ? family : "", family && name ? " " : "",
                 name ? name : "");
    }
    return rc;
}

static enum stk_err read_vuln(struct ingest_ctx *c, const json_t *v, const char *where,
                              struct trivy_vuln *out)
{
    char field[160];
    const char *sev;
#define FIELD(name) (snprintf(field, sizeof(field), "%s.%s", where, name), field)
    if (!json_is_object(v)) {
        return ingest_fail(c, STK_EINVAL, "%s: expected an object", where);
    }
    enum stk_err rc = ingest_str(c, v, "VulnerabilityID", FIELD("VulnerabilityID"), TEXT_LIMIT,
                                 INGEST_REQUIRED | INGEST_NONEMPTY, &out->id);
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "PkgName", FIELD("PkgName"), TEXT_LIMIT,
                        INGEST_REQUIRED | INGEST_NONEMPTY, &out->package);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "InstalledVersion", FIELD("InstalledVersion"), TEXT_LIMIT, 0,
                        &out->installed);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "FixedVersion", FIELD("FixedVersion"), FIXED_LIMIT, 0, &out->fixed);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "Title", FIELD("Title"), TITLE_LIMIT, 0, &out->title);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "PrimaryURL", FIELD("PrimaryURL"), URL_LIMIT, 0, &out->url);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, v, "Severity", FIELD("Severity"), 32, INGEST_REQUIRED, &sev);
    }
    if (rc == STK_OK) {
        out->severity = severity_of(sev);
        if (out->severity < 0) {
            return ingest_fail(c, STK_EINVAL,
                               "%s: \"%.32s\" is not CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", field,
                               sev);
        }
    }
#undef FIELD
    out->installed = out->installed ? out->installed : "";
    out->fixed = out->fixed ? out->fixed : "";
    out->title = out->title ? out->title : "";
    out->url = out->url ? out->url : "";
    return rc;
}

/* Counts the findings first, so a huge report is refused before anything
 * is allocated for it. */
static enum stk_err count_vulns(struct ingest_ctx *c, const json_t *results, size_t *total)
{
    size_t i;
    json_t *res;
    char field[64];
    *total = 0;
    json_array_foreach(results, i, res)
    {
        json_t *list;
        snprintf(field, sizeof(field), "Results[%zu]", i);
        if (!json_is_object(res)) {
            return ingest_fail(c, STK_EINVAL, "%s: expected an object", field);
        }
        snprintf(field, sizeof(field), "Results[%zu].Vulnerabilities", i);
        enum stk_err rc = ingest_array(c, res, "Vulnerabilities", field, 0, (size_t)-1, &list);
        if (rc != STK_OK) {
            return rc;
        }
        *total += json_array_size(list);
        if (*total > TRIVY_MAX_VULNS) {
            return ingest_fail(c, STK_ETOOBIG, "%s: more than %d vulnerabilities in the report",
                               field, TRIVY_MAX_VULNS);
        }
    }
    return STK_OK;
}

static enum stk_err read_results(struct ingest_ctx *c, const json_t *doc, struct trivy_report *r)
{
    json_t *results;
    size_t total;
    enum stk_err rc = bounded_array(c, doc, "Results", "Results", TRIVY_MAX_RESULTS, &results);
    if (rc == STK_OK) {
        rc = count_vulns(c, results, &total);
    }
    if (rc != STK_OK || total == 0) {
        return rc;
    }
    r->vulns = calloc(total, sizeof(*r->vulns));
    if (r->vulns == NULL) {
        return ingest_fail(c, STK_ENOMEM, "out of memory");
    }
    size_t i, j;
    json_t *res, *v;
    char where[96];
    json_array_foreach(results, i, res)
    {
        const char *target;
        snprintf(where, sizeof(where), "Results[%zu].Target", i);
        rc = ingest_str(c, res, "Target", where, TARGET_LIMIT, 0, &target);
        json_array_foreach(json_object_get(res, "Vulnerabilities"), j, v)
        {
            if (rc != STK_OK) {
                return rc;
            }
            snprintf(where, sizeof(where), "Results[%zu].Vulnerabilities[%zu]", i, j);
            struct trivy_vuln *out = &r->vulns[r->n_vulns];
            rc = read_vuln(c, v, where, out);
            if (rc == STK_OK) {
                r->counts[out->severity]++;
                r->n_vulns++;
            }
        }
        if (rc != STK_OK) {
            return rc;
        }
    }
    return STK_OK;
}

static enum stk_err read_report(struct ingest_ctx *c, const json_t *doc, struct trivy_report *r)
{
    long long version = 0;
    int present = 0;
    const char *type, *created;
    if (!json_is_object(doc)) {
        return ingest_fail(c, STK_EINVAL, "expected a Trivy JSON report (an object)");
    }
    enum stk_err rc =
        ingest_int(c, doc, "SchemaVersion", "SchemaVersion", INGEST_REQUIRED, &version, &present);
    if (rc == STK_OK && version != 2) {
        return ingest_fail(c, STK_EINVAL, "SchemaVersion: %lld is not supported (expected 2)",
                           version);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, doc, "ArtifactName", "ArtifactName", NAME_LIMIT,
                        INGEST_REQUIRED | INGEST_NONEMPTY, &r->artifact);
    }
    if (rc == STK_OK) {
        rc = ingest_str(c, doc, "ArtifactType", "ArtifactType", 64, 0, &type);
    }
    if (rc == STK_OK && type != NULL && strcmp(type, "container_image") != 0) {
        return ingest_fail(c, STK_EINVAL,
                           "ArtifactType: \"%.64s\" is not an image report (expected "
                           "container_image)",
                           type);
    }
    if (rc == STK_OK) {
        rc = ingest_time(c, doc, "CreatedAt", "CreatedAt", 0, &r->created_ms, &created);
    }
    if (rc == STK_OK) {
        rc = read_metadata(c, doc, r);
    }
    if (rc == STK_OK) {
        rc = read_results(c, doc, r);
    }
    r->image_id = r->image_id ? r->image_id : "";
    r->digest = r->digest ? r->digest : "";
    return rc;
}

enum stk_err ingest_trivy_parse(const char *body, size_t len, struct trivy_report *out,
                                struct ingest_reject *rej)
{
    struct ingest_ctx c;
    struct ingest_scan scan;
    char *quoted = NULL;
    enum stk_err rc;
    memset(out, 0, sizeof(*out));
    ingest_ctx_init(&c, rej);
    struct ingest_reject scratch;
    struct ingest_ctx sc;
    ingest_ctx_init(&sc, &scratch);
    rc = ingest_scan_body(&sc, body, len, &scan);
    if (rc != STK_OK) {
        rc = ingest_fail(&c, rc, "nesting deeper than %d levels", INGEST_MAX_DEPTH);
    }
    if (rc == STK_OK && scan.first == 0) {
        rc = ingest_fail(&c, STK_EINVAL, "empty body");
    }
    if (rc == STK_OK && (scan.first != '{' || scan.top_values != 1)) {
        rc = ingest_fail(&c, STK_EINVAL, "expected one Trivy JSON report (an object)");
    }
    /* Integers past int64 (none in Trivy's own fields) load as strings
     * rather than failing the whole report. */
    if (rc == STK_OK && scan.big_ints > 0) {
        size_t qlen;
        if (ingest_quote_big_ints(body, len, &quoted, &qlen) != STK_OK) {
            rc = ingest_fail(&c, STK_ENOMEM, "out of memory");
        } else {
            body = quoted;
            len = qlen;
        }
    }
    if (rc == STK_OK) {
        char why[200];
        out->doc = ingest_load(body, len, 0, NULL, why, sizeof(why));
        if (out->doc == NULL) {
            rc = ingest_fail(&c, STK_EINVAL, "%s", why);
        }
    }
    if (rc == STK_OK) {
        rc = read_report(&c, out->doc, out);
    }
    free(quoted);
    rej->index = -1;
    if (rc != STK_OK) {
        ingest_trivy_release(out);
    }
    return rc;
}
