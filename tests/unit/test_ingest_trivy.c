/* server/ingest_trivy.c: both Trivy samples in shared/samples/trivy parse
 * into the right image facts and findings; names and digests; tolerated
 * unknown keys and nulls; and malformed reports (wrong schema version,
 * missing or mistyped fields, unknown severities, huge arrays, deep
 * nesting, bad JSON), each refused whole with the field named and nothing
 * left in the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "ingest_trivy.h"

#define SAMPLES STK_SOURCE_DIR "/../shared/samples/trivy/"

static void parse_ok(const char *text, struct trivy_report *r)
{
    struct ingest_reject rej;
    enum stk_err rc = ingest_trivy_parse(text, strlen(text), r, &rej);
    if (rc != STK_OK) {
        fail_msg("refused: %s", rej.reason);
    }
    assert_int_equal(rej.index, -1);
}

/* Asserts `text` is refused with `code` and a reason containing `needle`,
 * and that nothing is left in the report. */
static void refused(const char *text, size_t len, enum stk_err code, const char *needle)
{
    struct trivy_report r;
    struct ingest_reject rej;
    memset(&r, 0x5a, sizeof(r));
    enum stk_err rc = ingest_trivy_parse(text, len, &r, &rej);
    if (rc != code || strstr(rej.reason, needle) == NULL) {
        fail_msg("expected %d with \"%s\", got %d \"%s\"", code, needle, rc, rej.reason);
    }
    assert_int_equal(rej.index, -1);
    assert_null(r.doc);
    assert_null(r.vulns);
    assert_int_equal(r.n_vulns, 0);
    assert_int_equal(r.n_tags, 0);
}

static void refused_str(const char *text, enum stk_err code, const char *needle)
{
    refused(text, strlen(text), code, needle);
}

static void sample_alpine_310(void **state)
{
    (void)state;
    size_t len;
    char *body = read_file(SAMPLES "trivy-alpine-310.json", &len);
    struct trivy_report r;
    struct ingest_reject rej;
    assert_int_equal(ingest_trivy_parse(body, len, &r, &rej), STK_OK);
    free(body);
    assert_string_equal(r.artifact, "testdata/fixtures/images/alpine-310.tar.gz");
    assert_string_equal(r.image_id,
                        "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4");
    assert_string_equal(r.digest, "");
    assert_int_equal(r.n_tags, 0);
    assert_string_equal(r.os, "alpine 3.10.2");
    assert_true(r.created_ms > 1600000000000LL);
    assert_int_equal(r.n_vulns, 4);
    assert_int_equal(r.counts[TRIVY_MEDIUM], 4);
    assert_int_equal(r.counts[TRIVY_CRITICAL] + r.counts[TRIVY_HIGH] + r.counts[TRIVY_LOW], 0);
    assert_string_equal(r.vulns[0].id, "CVE-2019-1549");
    assert_string_equal(r.vulns[0].package, "libcrypto1.1");
    assert_string_equal(r.vulns[0].installed, "1.1.1c-r0");
    assert_string_equal(r.vulns[0].fixed, "1.1.1d-r0");
    assert_string_equal(r.vulns[0].title, "openssl: information disclosure in fork()");
    assert_string_equal(r.vulns[0].url, "https://avd.aquasec.com/nvd/cve-2019-1549");
    assert_int_equal(r.vulns[0].severity, TRIVY_MEDIUM);
    ingest_trivy_release(&r);
    assert_null(r.doc);
    ingest_trivy_release(&r); /* twice is harmless */
}

static void sample_alpine_39_old_format(void **state)
{
    (void)state;
    size_t len;
    char *body = read_file(SAMPLES "trivy-alpine-39-high-critical.json", &len);
    struct trivy_report r;
    struct ingest_reject rej;
    assert_int_equal(ingest_trivy_parse(body, len, &r, &rej), STK_OK);
    free(body);
    assert_int_equal(r.created_ms, 0); /* no CreatedAt in the older format */
    assert_string_equal(r.os, "alpine 3.9.4");
    assert_int_equal(r.n_vulns, 2);
    assert_int_equal(r.counts[TRIVY_CRITICAL], 2);
    assert_string_equal(r.vulns[0].id, "CVE-2019-14697");
    assert_string_equal(r.vulns[0].package, "musl");
    assert_string_equal(r.vulns[1].package, "musl-utils");
    assert_string_equal(r.vulns[0].title, ""); /* no Title: "" */
    ingest_trivy_release(&r);
}

static void names_digests_and_tolerance(void **state)
{
    (void)state;
    struct trivy_report r;
    parse_ok("{\"SchemaVersion\":2,\"ArtifactName\":\"reg.example/app:1\",\"ArtifactType\":"
             "\"container_image\",\"Future\":{\"x\":[1,2]},\"Metadata\":{\"RepoTags\":"
             "[\"reg.example/app:1\",\"reg.example/app:latest\"],\"RepoDigests\":"
             "[\"reg.example/app@sha256:abcd\"],\"ImageConfig\":{\"big\":"
             "18446744073709551615}},\"Results\":[{\"Target\":\"t\",\"Vulnerabilities\":null},"
             "{\"Target\":\"u\",\"Class\":\"lang-pkgs\",\"Vulnerabilities\":[{"
             "\"VulnerabilityID\":\"GHSA-1\",\"PkgName\":\"left-pad\",\"Severity\":\"high\","
             "\"Whatever\":true}]}]}",
             &r);
    assert_int_equal(r.n_tags, 2);
    assert_string_equal(r.tags[1], "reg.example/app:latest");
    assert_string_equal(r.digest, "sha256:abcd");
    assert_string_equal(r.image_id, "");
    assert_int_equal(r.n_vulns, 1);
    assert_int_equal(r.vulns[0].severity, TRIVY_HIGH); /* any case */
    assert_string_equal(r.vulns[0].installed, "");
    ingest_trivy_release(&r);

    /* A clean image: no Results at all. */
    parse_ok("{\"SchemaVersion\":2,\"ArtifactName\":\"clean:1\"}", &r);
    assert_int_equal(r.n_vulns, 0);
    assert_null(r.vulns);
    ingest_trivy_release(&r);
}

static void malformed_reports(void **state)
{
    (void)state;
    refused_str("", STK_EINVAL, "empty body");
    refused_str("   \n", STK_EINVAL, "empty body");
    refused_str("[]", STK_EINVAL, "expected one Trivy JSON report");
    refused_str("{} {}", STK_EINVAL, "expected one Trivy JSON report");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\"} x", STK_EINVAL,
                "expected one Trivy JSON report");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\"", STK_EINVAL, "malformed JSON");
    refused_str("{\"SchemaVersion\":2,\"SchemaVersion\":2,\"ArtifactName\":\"a\"}", STK_EINVAL,
                "malformed JSON");
    refused_str("{\"ArtifactName\":\"a\"}", STK_EINVAL, "SchemaVersion: is required");
    refused_str("{\"SchemaVersion\":1,\"ArtifactName\":\"a\"}", STK_EINVAL,
                "SchemaVersion: 1 is not supported");
    refused_str("{\"SchemaVersion\":\"2\",\"ArtifactName\":\"a\"}", STK_EINVAL,
                "SchemaVersion: expected an integer");
    refused_str("{\"SchemaVersion\":2}", STK_EINVAL, "ArtifactName: is required");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":7}", STK_EINVAL,
                "ArtifactName: expected a string");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"\"}", STK_EINVAL,
                "ArtifactName: must not be empty");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"ArtifactType\":\"filesystem\"}",
                STK_EINVAL, "ArtifactType: \"filesystem\" is not an image report");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"CreatedAt\":\"yesterday\"}",
                STK_EINVAL, "CreatedAt");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Metadata\":[]}", STK_EINVAL,
                "Metadata: expected an object");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Metadata\":{\"RepoTags\":[1]}}",
                STK_EINVAL, "Metadata.RepoTags[0]: expected a string");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Metadata\":{\"RepoDigests\":"
                "[\"no-at-sign\"]}}",
                STK_EINVAL, "Metadata.RepoDigests[0]: expected REPOSITORY@DIGEST");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":{}}", STK_EINVAL,
                "Results: expected an array");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[3]}", STK_EINVAL,
                "Results[0]: expected an object");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{\"Vulnerabilities\":"
                "[{\"PkgName\":\"p\",\"Severity\":\"LOW\"}]}]}",
                STK_EINVAL, "Results[0].Vulnerabilities[0].VulnerabilityID: is required");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{},{\"Vulnerabilities\":"
                "[{\"VulnerabilityID\":\"C\",\"PkgName\":\"p\",\"Severity\":\"SEVERE\"}]}]}",
                STK_EINVAL, "Results[1].Vulnerabilities[0].Severity: \"SEVERE\" is not");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{\"Vulnerabilities\":"
                "[{\"VulnerabilityID\":\"C\",\"PkgName\":\"p\",\"Severity\":4}]}]}",
                STK_EINVAL, "Severity: expected a string");
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{\"Vulnerabilities\":"
                "[{\"VulnerabilityID\":\"C\",\"PkgName\":\"p\"}]}]}",
                STK_EINVAL, "Severity: is required");
    /* Invalid UTF-8 inside a string. */
    refused_str("{\"SchemaVersion\":2,\"ArtifactName\":\"\xff\"}", STK_EINVAL, "malformed JSON");
}

static void too_long_strings(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    char *body = malloc(1024);
    assert_non_null(body);
    snprintf(body, 1024, "{\"SchemaVersion\":2,\"ArtifactName\":\"%s\"}", name);
    refused_str(body, STK_EINVAL, "ArtifactName: 299 bytes exceeds the limit of 255");
    snprintf(body, 1024,
             "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{\"Vulnerabilities\":[{"
             "\"VulnerabilityID\":\"%s\",\"PkgName\":\"p\",\"Severity\":\"LOW\"}]}]}",
             name);
    refused_str(body, STK_EINVAL, "Results[0].Vulnerabilities[0].VulnerabilityID: 299 bytes");
    free(body);
}

/* Appends `n` copies of `item` separated by commas to `b` at `*at`. */
static void repeat(char *b, size_t *at, const char *item, int n)
{
    size_t len = strlen(item);
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            b[(*at)++] = ',';
        }
        memcpy(b + *at, item, len);
        *at += len;
    }
}

static void huge_arrays(void **state)
{
    (void)state;
    const char *vuln = "{\"VulnerabilityID\":\"C\",\"PkgName\":\"p\",\"Severity\":\"LOW\"}";
    size_t cap = (size_t)(TRIVY_MAX_VULNS + 10) * (strlen(vuln) + 1) + 4096;
    char *b = malloc(cap);
    assert_non_null(b);

    size_t at = (size_t)sprintf(b, "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{"
                                   "\"Vulnerabilities\":[");
    repeat(b, &at, vuln, TRIVY_MAX_VULNS + 1);
    at += (size_t)sprintf(b + at, "]}]}");
    refused(b, at, STK_ETOOBIG, "more than 20000 vulnerabilities");

    /* The limit counts over all Results. */
    at = (size_t)sprintf(b, "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{"
                            "\"Vulnerabilities\":[");
    repeat(b, &at, vuln, TRIVY_MAX_VULNS / 2);
    at += (size_t)sprintf(b + at, "]},{\"Vulnerabilities\":[");
    repeat(b, &at, vuln, TRIVY_MAX_VULNS / 2 + 1);
    at += (size_t)sprintf(b + at, "]}]}");
    refused(b, at, STK_ETOOBIG, "Results[1].Vulnerabilities: more than 20000");

    /* Exactly at the limit is fine. */
    at = (size_t)sprintf(b, "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{"
                            "\"Vulnerabilities\":[");
    repeat(b, &at, vuln, TRIVY_MAX_VULNS);
    at += (size_t)sprintf(b + at, "]}]}");
    struct trivy_report r;
    struct ingest_reject rej;
    assert_int_equal(ingest_trivy_parse(b, at, &r, &rej), STK_OK);
    assert_int_equal(r.n_vulns, TRIVY_MAX_VULNS);
    ingest_trivy_release(&r);

    at = (size_t)sprintf(b, "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[");
    repeat(b, &at, "{}", TRIVY_MAX_RESULTS + 1);
    at += (size_t)sprintf(b + at, "]}");
    refused(b, at, STK_ETOOBIG, "Results: 1001 items exceeds the limit of 1000");

    at = (size_t)sprintf(b, "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Metadata\":{"
                            "\"RepoTags\":[");
    repeat(b, &at, "\"a:1\"", TRIVY_MAX_NAMES + 1);
    at += (size_t)sprintf(b + at, "]}}");
    refused(b, at, STK_ETOOBIG, "Metadata.RepoTags: 65 items exceeds the limit of 64");

    /* Nesting deeper than 64 levels anywhere, even in keys never read. */
    at = (size_t)sprintf(b, "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"X\":");
    for (int i = 0; i < 100; i++) {
        b[at++] = '[';
    }
    for (int i = 0; i < 100; i++) {
        b[at++] = ']';
    }
    b[at++] = '}';
    refused(b, at, STK_EINVAL, "nesting deeper than 64 levels");
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sample_alpine_310),
        cmocka_unit_test(sample_alpine_39_old_format),
        cmocka_unit_test(names_digests_and_tolerance),
        cmocka_unit_test(malformed_reports),
        cmocka_unit_test(too_long_strings),
        cmocka_unit_test(huge_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
