/* Trivy's JSON image report (`trivy image --format json`, SchemaVersion 2):
 * the image's names and digests and its vulnerabilities. Pure: no SQL, no
 * civetweb. Keys Stockade does not read are tolerated (the format grows);
 * what it reads is type- and size-checked, and a bad report is refused whole
 * with the JSON path of the first problem. docs/inventory.md has the
 * mapping. */
#ifndef STK_INGEST_TRIVY_H
#define STK_INGEST_TRIVY_H

#include <jansson.h>
#include <stddef.h>

#include "alert.h"
#include "err.h"

/* Bounds on one report: more is STK_ETOOBIG (413). */
#define TRIVY_MAX_RESULTS 1000
#define TRIVY_MAX_VULNS 20000 /* over all Results */
#define TRIVY_MAX_NAMES 64    /* Metadata.RepoTags, Metadata.RepoDigests */

/* Severities in Trivy's order; the numbers are those stored in
 * image_vulnerabilities.severity. */
enum trivy_severity {
    TRIVY_UNKNOWN = 0,
    TRIVY_LOW,
    TRIVY_MEDIUM,
    TRIVY_HIGH,
    TRIVY_CRITICAL,
    TRIVY_SEV_N
};

/* One finding. Strings borrow from the report's document; absent optional
 * ones are "". */
struct trivy_vuln {
    const char *id;        /* VulnerabilityID */
    const char *package;   /* PkgName */
    const char *installed; /* InstalledVersion */
    const char *fixed;     /* FixedVersion */
    const char *title;     /* Title */
    const char *url;       /* PrimaryURL */
    int severity;          /* enum trivy_severity */
};

struct trivy_report {
    json_t *doc;                       /* owns the strings below */
    const char *artifact;              /* ArtifactName */
    const char *image_id;              /* Metadata.ImageID, "" when absent */
    const char *digest;                /* "sha256:..." of Metadata.RepoDigests[0], "" when absent */
    const char *tags[TRIVY_MAX_NAMES]; /* Metadata.RepoTags */
    size_t n_tags;
    char os[256];         /* "alpine 3.10.2" from Metadata.OS, "" when absent */
    long long created_ms; /* CreatedAt, 0 when absent */
    struct trivy_vuln *vulns;
    size_t n_vulns;
    long long counts[TRIVY_SEV_N]; /* findings per severity as reported */
};

/* Parses one report. On STK_OK the caller owns `out` (ingest_trivy_release()).
 * On failure `out` is empty and `rej` holds the reason (index -1):
 * STK_EINVAL for a malformed report, STK_ETOOBIG past the bounds above,
 * STK_ENOMEM. */
enum stk_err ingest_trivy_parse(const char *body, size_t len, struct trivy_report *out,
                                struct ingest_reject *rej);

/* Frees what `r` owns. Accepts a zeroed or released report. */
void ingest_trivy_release(struct trivy_report *r);

/* "critical", "high", ... as the API spells them; "" when out of range. */
const char *ingest_trivy_severity_name(int s);

#endif
