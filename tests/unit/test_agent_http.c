/* agent/k8s_resp.c and the IP SAN check of agent/k8s_http.c: the HTTP/1.1
 * response parser (Content-Length, chunked, any split of the bytes,
 * malformed framing, caps) and Kubernetes Status objects turned into
 * errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/x509_crt.h>

#include "k8s_http.h"

/* Feeds `text` in pieces of `step` bytes (0: all at once). Returns the
 * parser's verdict; `p` keeps the outcome. */
static enum stk_err feed(struct k8s_resp_parser *p, const char *text, size_t step,
                         struct stk_error *err)
{
    size_t len = strlen(text);
    size_t pos = 0;
    while (pos < len && p->state != K8S_RESP_DONE) {
        size_t n = step == 0 ? len - pos : (step < len - pos ? step : len - pos);
        size_t used = 0;
        enum stk_err rc = k8s_resp_parser_feed(p, text + pos, n, &used, err);
        if (rc != STK_OK) {
            return rc;
        }
        assert_true(used <= n);
        pos += used;
        if (used < n) {
            break; /* the response ended inside this piece */
        }
    }
    return STK_OK;
}

static const char CL_RESPONSE[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: 13\r\n"
                                  "\r\n"
                                  "{\"kind\":\"x\"}\n";

static const char CHUNKED_RESPONSE[] = "HTTP/1.1 201 Created\r\n"
                                       "Content-Type: application/json\r\n"
                                       "Transfer-Encoding: chunked\r\n"
                                       "\r\n"
                                       "5\r\n{\"a\":\r\n"
                                       "A;ext=1\r\n\"bcdefghi\"\r\n"
                                       "1 \r\n}\r\n"
                                       "0\r\n"
                                       "X-Trailer: yes\r\n"
                                       "\r\n";

static void content_length_any_split(void **state)
{
    (void)state;
    for (size_t step = 0; step < 20; step++) {
        struct k8s_resp_parser p;
        k8s_resp_parser_init(&p, 1024);
        struct stk_error err = {0};
        assert_int_equal(feed(&p, CL_RESPONSE, step, &err), STK_OK);
        assert_int_equal(p.state, K8S_RESP_DONE);
        assert_int_equal(p.status, 200);
        assert_true(p.keep_alive);
        assert_string_equal(p.content_type, "application/json");
        assert_int_equal(p.body.len, 13);
        assert_memory_equal(p.body.data, "{\"kind\":\"x\"}\n", 13);
        k8s_resp_parser_release(&p);
    }
}

static void chunked_any_split(void **state)
{
    (void)state;
    for (size_t step = 0; step < 12; step++) {
        struct k8s_resp_parser p;
        k8s_resp_parser_init(&p, 1024);
        struct stk_error err = {0};
        assert_int_equal(feed(&p, CHUNKED_RESPONSE, step, &err), STK_OK);
        assert_int_equal(p.state, K8S_RESP_DONE);
        assert_int_equal(p.status, 201);
        assert_string_equal(p.body.data, "{\"a\":\"bcdefghi\"}");
        k8s_resp_parser_release(&p);
    }
}

static void stops_at_end_of_response(void **state)
{
    (void)state;
    char two[512];
    snprintf(two, sizeof(two), "%s%s", CL_RESPONSE, CL_RESPONSE);
    struct k8s_resp_parser p;
    k8s_resp_parser_init(&p, 1024);
    size_t used = 0;
    assert_int_equal(k8s_resp_parser_feed(&p, two, strlen(two), &used, NULL), STK_OK);
    assert_int_equal(used, strlen(CL_RESPONSE));
    assert_int_equal(p.state, K8S_RESP_DONE);
    k8s_resp_parser_release(&p);
}

static void interim_and_no_body_statuses(void **state)
{
    (void)state;
    struct k8s_resp_parser p;
    k8s_resp_parser_init(&p, 1024);
    assert_int_equal(feed(&p,
                          "HTTP/1.1 100 Continue\r\n\r\n"
                          "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                          0, NULL),
                     STK_OK);
    assert_int_equal(p.state, K8S_RESP_DONE);
    assert_int_equal(p.status, 204);
    assert_int_equal(p.body.len, 0);
    k8s_resp_parser_release(&p);
}

static void close_delimited_and_http10(void **state)
{
    (void)state;
    struct k8s_resp_parser p;
    k8s_resp_parser_init(&p, 1024);
    assert_int_equal(feed(&p, "HTTP/1.0 200 OK\nContent-Type: text/plain\n\nline one\n", 0, NULL),
                     STK_OK);
    assert_int_equal(p.state, K8S_RESP_BODY_CLOSE);
    assert_false(p.keep_alive);
    assert_int_equal(k8s_resp_parser_eof(&p, NULL), STK_OK);
    assert_string_equal(p.body.data, "line one\n");
    k8s_resp_parser_release(&p);

    /* A Content-Length body cut short is an error, not a short body. */
    struct stk_error err = {0};
    k8s_resp_parser_init(&p, 1024);
    assert_int_equal(feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, NULL), STK_OK);
    assert_int_equal(k8s_resp_parser_eof(&p, &err), STK_EIO);
    assert_string_equal(err.msg, "connection closed mid-response");
    k8s_resp_parser_release(&p);
}

static void connection_close_and_smuggling(void **state)
{
    (void)state;
    struct k8s_resp_parser p;
    k8s_resp_parser_init(&p, 1024);
    assert_int_equal(feed(&p,
                          "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
                          "Content-Length: 0\r\n\r\n",
                          0, NULL),
                     STK_OK);
    assert_int_equal(p.state, K8S_RESP_DONE);
    assert_false(p.keep_alive);
    k8s_resp_parser_release(&p);

    /* Both framings: chunked wins and the connection is not reused. */
    k8s_resp_parser_init(&p, 1024);
    assert_int_equal(feed(&p,
                          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                          0, NULL),
                     STK_OK);
    assert_int_equal(p.state, K8S_RESP_DONE);
    assert_string_equal(p.body.data, "ok");
    assert_false(p.keep_alive);
    k8s_resp_parser_release(&p);
}

static void expect_malformed(const char *text, enum stk_err code, const char *words)
{
    struct k8s_resp_parser p;
    k8s_resp_parser_init(&p, 64);
    struct stk_error err = {0};
    assert_int_equal(feed(&p, text, 0, &err), code);
    assert_non_null(strstr(err.msg, words));
    k8s_resp_parser_release(&p);
}

static void malformed_responses(void **state)
{
    (void)state;
    expect_malformed("HTTP/2 200 OK\r\n\r\n", STK_EINVAL, "bad status line");
    expect_malformed("HTTP/1.1 20 OK\r\n\r\n", STK_EINVAL, "bad status line");
    expect_malformed("garbage\r\n\r\n", STK_EINVAL, "bad status line");
    expect_malformed("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", STK_EINVAL, "header");
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", STK_EINVAL,
                     "bad Content-Length");
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", STK_EINVAL,
                     "bad Content-Length");
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                     STK_EINVAL, "two Content-Lengths");
    expect_malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", STK_EINVAL,
                     "Transfer-Encoding");
    expect_malformed("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", STK_EINVAL, "folded");
    expect_malformed("HTTP/1.1 101 Switching\r\n\r\n", STK_EINVAL, "101");
    /* Chunk sizes: not hex, empty, negative, overflowing, too long a line. */
    const char *te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *bad[] = {"zz\r\nabc", "\r\n", "-5\r\nabcde\r\n", "1000000000000000000\r\n",
                         "5x\r\nabcde\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s%s", te, bad[i]);
        expect_malformed(text, STK_EINVAL, "chunk size");
    }
    char longline[2000];
    memset(longline, '0', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    char text[2200];
    snprintf(text, sizeof(text), "%s1;%s\r\n", te, longline);
    expect_malformed(text, STK_EINVAL, "chunk size line too long");
    /* Chunk data must end with CRLF. */
    snprintf(text, sizeof(text), "%s3\r\nabcX\r\n", te);
    expect_malformed(text, STK_EINVAL, "CRLF");
}

static void caps(void **state)
{
    (void)state;
    /* Announced body over the cap: refused before reading it. */
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", STK_ETOOBIG, "over 64 bytes");
    /* Chunks adding up past the cap. */
    expect_malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "20\r\n0123456789abcdef0123456789abcdef\r\n"
                     "21\r\n",
                     STK_ETOOBIG, "over 64 bytes");
    /* Close-delimited body past the cap. */
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char text[400];
    snprintf(text, sizeof(text), "HTTP/1.0 200 OK\r\n\r\n%s", big);
    expect_malformed(text, STK_ETOOBIG, "over 64 bytes");
    /* Endless headers. */
    size_t n = K8S_HTTP_HEAD_MAX + 100;
    char *head = malloc(n + 1);
    assert_non_null(head);
    memcpy(head, "HTTP/1.1 200 OK\r\n", 17);
    for (size_t i = 17; i < n; i++) {
        head[i] = (i % 40 == 39) ? '\n' : 'h';
    }
    head[n] = '\0';
    expect_malformed(head, STK_ETOOBIG, "headers over");
    free(head);
}

static void status_objects(void **state)
{
    (void)state;
    /* shared/samples/k8s-api/status-404-notfound-api-conventions.json */
    const char *nf =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"pods \\\"grafana\\\" not found\",\"reason\":\"NotFound\","
        "\"details\":{\"name\":\"grafana\",\"kind\":\"pods\"},\"code\":404}";
    struct stk_error err = {0};
    char reason[64];
    assert_int_equal(k8s_status_error(404, nf, strlen(nf), reason, &err), STK_ENOTFOUND);
    assert_string_equal(err.msg, "pods \"grafana\" not found (404 NotFound)");
    assert_string_equal(reason, "NotFound");

    const char *ae =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
        "\"Failure\",\"message\":\"networkpolicies.networking.k8s.io \\\"p\\\" already "
        "exists\",\"reason\":\"AlreadyExists\",\"code\":409}";
    assert_int_equal(k8s_status_error(409, ae, strlen(ae), reason, &err), STK_ECONFLICT);
    assert_string_equal(reason, "AlreadyExists");
    assert_string_equal(
        err.msg, "networkpolicies.networking.k8s.io \"p\" already exists (409 AlreadyExists)");

    const char *fb = "{\"kind\":\"Status\",\"message\":\"pods is forbidden: User \\\"x\\\" cannot "
                     "list\\nresource\",\"reason\":\"Forbidden\",\"code\":403}";
    assert_int_equal(k8s_status_error(403, fb, strlen(fb), NULL, &err), STK_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "pods is forbidden"));
    assert_null(strchr(err.msg, '\n')); /* control bytes from the network are blanked */

    assert_int_equal(k8s_status_error(401, "", 0, NULL, &err), STK_EAUTH);
    assert_string_equal(err.msg, "Kubernetes API answered HTTP 401");

    const char *html = "<html><body>502 Bad Gateway</body></html>";
    assert_int_equal(k8s_status_error(502, html, strlen(html), reason, &err), STK_EIO);
    assert_string_equal(err.msg, "Kubernetes API answered HTTP 502: <html><body>502 Bad "
                                 "Gateway</body></html>");
    assert_string_equal(reason, "");

    const char *noreason = "{\"kind\":\"Status\",\"code\":500}";
    assert_int_equal(k8s_status_error(500, noreason, strlen(noreason), NULL, &err), STK_EIO);
    assert_string_equal(err.msg, "Kubernetes API answered 500");
    assert_int_equal(k8s_status_error(429, "{}", 2, NULL, &err), STK_ELIMIT);
    assert_int_equal(k8s_status_error(422, "null", 4, NULL, &err), STK_EINVAL);
}

/* openssl req -x509 ... -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,IP:10.0.0.1 */
static const char SAN_CERT[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBvTCCAWOgAwIBAgIUMhMkHyV+BWvJCfwGOiUVVc9WLXswCgYIKoZIzj0EAwIw\n"
                               "GTEXMBUGA1UEAwwOa3ViZS1hcGlzZXJ2ZXIwHhcNMjYxMTIyMTcxMDA5WhcNMzYx\n"
                               "MTE5MTcxMDA5WjAZMRcwFQYDVQQDDA5rdWJlLWFwaXNlcnZlcjBZMBMGByqGSM49\n"
                               "AgEGCCqGSM49AwEHA0IABNPl/FN7Zu1sQbThzCCFrTUiqE+lvh/ZLxq0ejnOgTZm\n"
                               "N2BK2fryJpGGuuObAZWojMSeBIQYxblwEHIuFEB+gDyjgYgwgYUwHQYDVR0OBBYE\n"
                               "FKzDMfJ82BSsnLQG81KMzKKsFh8zMB8GA1UdIwQYMBaAFKzDMfJ82BSsnLQG81KM\n"
                               "zKKsFh8zMA8GA1UdEwEB/wQFMAMBAf8wMgYDVR0RBCswKYIJbG9jYWxob3N0hwR/\n"
                               "AAABhxAAAAAAAAAAAAAAAAAAAAABhwQKAAABMAoGCCqGSM49BAMCA0gAMEUCIEP4\n"
                               "7U9ebWnzLQSKKOmGfi68Xq+5Eewk33Lk8KqK7oOvAiEAq3G76Sgkm+s6uISrj87f\n"
                               "ohf5u+2i6XQJLymU8TFq0xg=\n"
                               "-----END CERTIFICATE-----\n";

static void ip_sans(void **state)
{
    (void)state;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(
        mbedtls_x509_crt_parse(&crt, (const unsigned char *)SAN_CERT, sizeof(SAN_CERT)), 0);
    assert_true(k8s_http_crt_has_ip(&crt, "127.0.0.1"));
    assert_true(k8s_http_crt_has_ip(&crt, "10.0.0.1"));
    assert_true(k8s_http_crt_has_ip(&crt, "::1"));
    assert_false(k8s_http_crt_has_ip(&crt, "10.0.0.2"));
    assert_false(k8s_http_crt_has_ip(&crt, "127.0.0.2"));
    assert_false(k8s_http_crt_has_ip(&crt, "localhost")); /* a name is not an address */
    assert_false(k8s_http_crt_has_ip(&crt, "::2"));
    mbedtls_x509_crt_free(&crt);
}

static void client_options(void **state)
{
    (void)state;
    struct k8s_http *c = (struct k8s_http *)1;
    struct stk_error err = {0};
    struct k8s_http_opts o = {
        .server = "http://127.0.0.1:6443", .token_file = "/nonexistent", .ca_file = "/nonexistent"};
    assert_int_equal(k8s_http_new(&o, &c, &err), STK_EINVAL);
    assert_null(c);
    assert_non_null(strstr(err.msg, "https://"));
    o.server = "https://127.0.0.1:99999";
    assert_int_equal(k8s_http_new(&o, &c, &err), STK_EINVAL);
    assert_non_null(strstr(err.msg, "bad port"));
    o.server = "https://127.0.0.1:6443/api";
    assert_int_equal(k8s_http_new(&o, &c, &err), STK_EINVAL);
    o.server = "https://[::1]:6443";
    assert_int_equal(k8s_http_new(&o, &c, &err), STK_EIO); /* the token file is missing */
    assert_non_null(strstr(err.msg, "/nonexistent"));
    assert_null(c);
}

/* A small deterministic fuzzer: the two valid responses above with bytes
 * flipped, dropped or repeated, fed in random pieces. The parser must end
 * every one with a known code, never past its caps (ASan watches memory). */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void mutated_responses(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789abcdefABCDEF\r\n :;-HTTP/1.chunkedContent-Length";
    uint32_t seed = 0x9e3779b9u;
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        const char *base = (iter & 1) ? CHUNKED_RESPONSE : CL_RESPONSE;
        size_t len = strlen(base);
        memcpy(buf, base, len);
        int edits = 1 + (int)(rnd(&seed) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rnd(&seed) % len;
            switch (rnd(&seed) % 3) {
            case 0:
                buf[at] = alphabet[rnd(&seed) % (sizeof(alphabet) - 1)];
                break;
            case 1:
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default:
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    len++;
                }
                break;
            }
        }
        struct k8s_resp_parser p;
        k8s_resp_parser_init(&p, 48);
        struct stk_error err = {0};
        size_t pos = 0;
        enum stk_err rc = STK_OK;
        while (pos < len && rc == STK_OK && p.state != K8S_RESP_DONE) {
            size_t n = 1 + rnd(&seed) % 17;
            n = n > len - pos ? len - pos : n;
            size_t used = 0;
            rc = k8s_resp_parser_feed(&p, buf + pos, n, &used, &err);
            assert_true(used <= n);
            pos += used;
        }
        if (rc == STK_OK && p.state != K8S_RESP_DONE) {
            rc = k8s_resp_parser_eof(&p, &err);
        }
        assert_true(rc == STK_OK || rc == STK_EINVAL || rc == STK_ETOOBIG || rc == STK_EIO);
        assert_true(p.body.len <= 48);
        if (rc != STK_OK) {
            assert_true(err.msg[0] != '\0');
        } else {
            assert_int_equal(p.state, K8S_RESP_DONE);
        }
        k8s_resp_parser_release(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_any_split),
        cmocka_unit_test(chunked_any_split),
        cmocka_unit_test(stops_at_end_of_response),
        cmocka_unit_test(interim_and_no_body_statuses),
        cmocka_unit_test(close_delimited_and_http10),
        cmocka_unit_test(connection_close_and_smuggling),
        cmocka_unit_test(malformed_responses),
        cmocka_unit_test(caps),
        cmocka_unit_test(status_objects),
        cmocka_unit_test(ip_sans),
        cmocka_unit_test(client_options),
        cmocka_unit_test(mutated_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
