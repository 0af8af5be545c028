/* CGI response parser: header block rules (RFC 3875 section 6, Apache's
 * observed behaviour), input split at every byte, caps and errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "fcgiclient/cgi.h"
#include "fcgiclient/error.h"
#include "testutil.h"

struct parsed {
    int rc;
    int heads;
    int status, status_explicit, location_local, no_header_block;
    char reason[64];
    char location[128];
    char headers[1024]; /* "Name=Value|" each */
    char vars[256];
    char body[1024];
    size_t body_len;
};

static void record(struct parsed *out, const struct fcgic_cgi_event *ev)
{
    if (ev->kind == FCGIC_CGI_HEAD) {
        const struct fcgic_response_head *h = ev->head;
        out->heads++;
        out->status = h->status;
        out->status_explicit = h->status_explicit;
        out->location_local = h->location_local;
        out->no_header_block = h->no_header_block;
        snprintf(out->reason, sizeof out->reason, "%.*s", (int)h->reason.len, h->reason.ptr ? h->reason.ptr : "");
        snprintf(out->location, sizeof out->location, "%.*s", (int)h->location.len,
                 h->location.ptr ? h->location.ptr : "");
        for (size_t i = 0; i < h->nheaders; i++) {
            size_t l = strlen(out->headers);
            snprintf(out->headers + l, sizeof out->headers - l, "%.*s=%.*s|", (int)h->headers[i].name_len,
                     h->headers[i].name, (int)h->headers[i].value_len, h->headers[i].value);
        }
        for (size_t i = 0; i < h->nvariables; i++) {
            size_t l = strlen(out->vars);
            snprintf(out->vars + l, sizeof out->vars - l, "%.*s=%.*s|", (int)h->variables[i].name_len,
                     h->variables[i].name, (int)h->variables[i].value_len, h->variables[i].value);
        }
    } else {
        ck_assert_uint_le(out->body_len + ev->len, sizeof out->body);
        memcpy(out->body + out->body_len, ev->data, ev->len);
        out->body_len += ev->len;
    }
}

/* Parse `in` fed in pieces of `step` bytes (0 = all at once). */
static void parse(const char *in, size_t len, size_t step, const struct fcgic_cgi_options *o, struct parsed *out)
{
    memset(out, 0, sizeof *out);
    struct fcgic_cgi_parser *p;
    ck_assert_int_eq(fcgic_cgi_parser_new(&p, o, NULL), 0);
    size_t pos = 0;
    while (pos < len) {
        size_t n = step ? (len - pos < step ? len - pos : step) : len - pos;
        size_t off = 0;
        while (off < n) {
            struct fcgic_cgi_event ev;
            size_t used;
            int r = fcgic_cgi_parser_next(p, in + pos + off, n - off, &used, &ev);
            if (r < 0) {
                out->rc = r;
                fcgic_cgi_parser_free(p);
                return;
            }
            off += used;
            if (r == 1)
                record(out, &ev);
        }
        pos += n;
    }
    for (;;) {
        struct fcgic_cgi_event ev;
        int r = fcgic_cgi_parser_finish(p, &ev);
        if (r < 0)
            out->rc = r;
        if (r <= 0)
            break;
        record(out, &ev);
    }
    fcgic_cgi_parser_free(p);
}

/* Same result whether fed whole, in 1-byte or in 3-byte pieces. */
static void parse_all_ways(const char *in, const struct fcgic_cgi_options *o, struct parsed *out)
{
    size_t len = strlen(in);
    struct parsed a, b;
    parse(in, len, 0, o, out);
    parse(in, len, 1, o, &a);
    parse(in, len, 3, o, &b);
    ck_assert_int_eq(a.rc, out->rc);
    ck_assert_int_eq(b.rc, out->rc);
    ck_assert_str_eq(a.headers, out->headers);
    ck_assert_str_eq(b.headers, out->headers);
    ck_assert_int_eq(a.status, out->status);
    ck_assert_uint_eq(a.body_len, out->body_len);
    ck_assert_mem_eq(a.body, out->body, out->body_len);
    ck_assert_mem_eq(b.body, out->body, out->body_len);
}

/* A caller built against a newer header than the library knows. */
START_TEST(test_options_version)
{
    struct fcgic_cgi_options o = {.version = FCGIC_CGI_OPTIONS_VERSION + 1};
    struct fcgic_cgi_parser *p = NULL;
    ck_assert_int_eq(fcgic_cgi_parser_new(&p, &o, NULL), FCGIC_E_INVAL);
    o.version = 0; /* means 1 */
    ck_assert_int_eq(fcgic_cgi_parser_new(&p, &o, NULL), 0);
    fcgic_cgi_parser_free(p);
}
END_TEST

START_TEST(test_basic)
{
    struct parsed r;
    parse_all_ways("Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-A:  b c \t\r\n\r\nbody", NULL, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(r.status_explicit, 1);
    ck_assert_str_eq(r.reason, "Not Found");
    ck_assert_str_eq(r.headers, "Status=404 Not Found|Content-Type=text/plain|X-A=b c|");
    ck_assert_str_eq(r.body, "body");
}
END_TEST

START_TEST(test_status_forms)
{
    struct parsed r;
    parse_all_ways("Status: 418\r\n\r\n", NULL, &r); /* Apache: "HTTP/1.1 418 " */
    ck_assert_int_eq(r.status, 418);
    ck_assert_str_eq(r.reason, "");
    parse_all_ways("Content-Type: text/html\n\n<p>", NULL, &r); /* bare LF */
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.status_explicit, 0);
    ck_assert_str_eq(r.body, "<p>");
    const char *bad[] = {"Status: 99\r\n\r\n", "Status: 600 X\r\n\r\n", "Status: 2000\r\n\r\n", "Status: abc\r\n\r\n",
                         "Status: 200 OK\r\nStatus: 404 No\r\n\r\n", "Status:\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_all_ways(bad[i], NULL, &r);
        ck_assert_msg(r.rc == FCGIC_E_CGI_BAD_STATUS, "%s gave %d", bad[i], r.rc);
    }
}
END_TEST

START_TEST(test_location)
{
    struct parsed r;
    parse_all_ways("Location: http://example.test/x\r\n\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 302); /* RFC 3875 client redirect */
    ck_assert_int_eq(r.location_local, 0);
    ck_assert_str_eq(r.location, "http://example.test/x");
    parse_all_ways("Location: /local/path\r\n\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.location_local, 1);
    parse_all_ways("Status: 301 Moved\r\nLocation: http://e.test/\r\n\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 301);
}
END_TEST

START_TEST(test_bad_headers)
{
    const char *bad[] = {
        "Content-Type: text/plain\r\nGarbage line\r\n\r\nbody", /* Apache: 500 */
        "HTTP/1.1 202 Accepted\r\n\r\n",                        /* Apache: 500 */
        "X-A: 1\r\n folded\r\n\r\n",
        ": novalue\r\n\r\n",
        "Bad Name: x\r\n\r\n",
        "X-A: a\rb\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct parsed r;
        parse_all_ways(bad[i], NULL, &r);
        ck_assert_msg(r.rc == FCGIC_E_CGI_BAD_HEADER, "case %zu gave %d", i, r.rc);
    }
    struct parsed r;
    const char nul[] = "X-A: a\0b\r\n\r\n";
    parse(nul, sizeof nul - 1, 1, NULL, &r);
    ck_assert_int_eq(r.rc, FCGIC_E_CGI_BAD_HEADER);
}
END_TEST

START_TEST(test_no_header_block)
{
    struct parsed r;
    struct fcgic_cgi_options lenient = {0};
    lenient.lenient_header_block = 1;
    /* Default: output whose header block never ends is an error, and so is
     * no output at all. */
    parse_all_ways("BAD", NULL, &r);
    ck_assert_int_eq(r.rc, FCGIC_E_CGI_NO_HEADERS);
    ck_assert_int_eq(r.heads, 0);
    parse_all_ways("X: y\r\n", NULL, &r);
    ck_assert_int_eq(r.rc, FCGIC_E_CGI_NO_HEADERS);
    parse_all_ways("", NULL, &r);
    ck_assert_int_eq(r.rc, FCGIC_E_CGI_NO_HEADERS);
    ck_assert_int_eq(r.heads, 0);
    /* Two blank lines: an empty header block, valid in both modes. */
    parse_all_ways("\r\n\r\nbody", NULL, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.no_header_block, 0);
    ck_assert_str_eq(r.body, "body");
    /* Lenient (Apache): a leading blank line does not end the block; the
     * output is sent whole as the body. */
    parse_all_ways("\r\nbody only", &lenient, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_int_eq(r.no_header_block, 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 11);
    ck_assert_mem_eq(r.body, "\r\nbody only", 11);
    /* Lenient, nothing at all: empty 200. */
    parse_all_ways("", &lenient, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_uint_eq(r.body_len, 0);
}
END_TEST

START_TEST(test_interim_status)
{
    /* A FastCGI response has one final header block: 1xx codes, 600 and
     * words are not final statuses. */
    static const char *const bad[] = {
        "Status: 100 Continue\r\n\r\n",       "Status: 101 Switching Protocols\r\n\r\n",
        "Status: 103 Early Hints\r\n\r\n",    "Status: 199\r\n\r\n",
        "Status: 600\r\n\r\n",                "Status: abc\r\n\r\n",
        "Status: 20\r\n\r\n",                 "Status: 2000\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct parsed r;
        parse_all_ways(bad[i], NULL, &r);
        ck_assert_msg(r.rc == FCGIC_E_CGI_BAD_STATUS, "case %zu gave %d", i, r.rc);
        ck_assert_int_eq(r.heads, 0);
    }
    struct parsed r;
    parse_all_ways("Status: 599 X\r\n\r\n", NULL, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.status, 599);
    parse_all_ways("Status: 200\r\n\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(test_finish_is_final)
{
    /* Once fcgic_cgi_parser_finish() has returned 0 the response is over:
     * calling it again yields no event (it must not hand out the buffered
     * header bytes as a body). */
    const char *parts[] = {"X-A: 1\r\n", "\r\nbody"}; /* the block straddles calls */
    struct fcgic_cgi_parser *p;
    ck_assert_int_eq(fcgic_cgi_parser_new(&p, NULL, NULL), 0);
    struct fcgic_cgi_event ev;
    size_t used;
    ck_assert_int_eq(fcgic_cgi_parser_next(p, parts[0], strlen(parts[0]), &used, &ev), 0);
    ck_assert_uint_eq(used, strlen(parts[0]));
    ck_assert_int_eq(fcgic_cgi_parser_next(p, parts[1], strlen(parts[1]), &used, &ev), 1);
    ck_assert_int_eq(ev.kind, FCGIC_CGI_HEAD);
    ck_assert_uint_eq(used, 2);
    ck_assert_int_eq(fcgic_cgi_parser_next(p, parts[1] + 2, 4, &used, &ev), 1);
    ck_assert_int_eq(ev.kind, FCGIC_CGI_BODY);
    ck_assert_int_eq(fcgic_cgi_parser_finish(p, &ev), 0);
    ck_assert_int_eq(fcgic_cgi_parser_finish(p, &ev), 0);
    fcgic_cgi_parser_free(p);
    /* Same for output without a header block (lenient): HEAD, BODY, then
     * nothing. */
    struct fcgic_cgi_options lenient = {0};
    lenient.lenient_header_block = 1;
    ck_assert_int_eq(fcgic_cgi_parser_new(&p, &lenient, NULL), 0);
    ck_assert_int_eq(fcgic_cgi_parser_next(p, "no block", 8, &used, &ev), 0);
    ck_assert_int_eq(fcgic_cgi_parser_finish(p, &ev), 1);
    ck_assert_int_eq(ev.kind, FCGIC_CGI_HEAD);
    ck_assert_int_eq(fcgic_cgi_parser_finish(p, &ev), 1);
    ck_assert_int_eq(ev.kind, FCGIC_CGI_BODY);
    ck_assert_uint_eq(ev.len, 8);
    ck_assert_int_eq(fcgic_cgi_parser_finish(p, &ev), 0);
    ck_assert_int_eq(fcgic_cgi_parser_finish(p, &ev), 0);
    fcgic_cgi_parser_free(p);
}
END_TEST

START_TEST(test_caps)
{
    static char big[12000];
    memcpy(big, "X-Long: ", 8);
    memset(big + 8, 'a', 10000);
    memcpy(big + 10008, "\r\n\r\n", 5);
    struct fcgic_cgi_options o = {0};
    o.max_header_bytes = 8192;
    struct parsed r;
    parse_all_ways(big, &o, &r);
    ck_assert_int_eq(r.rc, FCGIC_E_HEADERS_TOO_BIG);
    o.max_header_bytes = 0;
    parse_all_ways(big, &o, &r); /* default 32 KiB takes it */
    ck_assert_int_eq(r.rc, 0);
    o.max_headers = 2;
    parse_all_ways("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", &o, &r);
    ck_assert_int_eq(r.rc, FCGIC_E_HEADERS_TOO_BIG);
    /* 100 headers are fine by default (Apache takes them). */
    static char many[4096];
    many[0] = 0;
    for (int i = 0; i < 100; i++)
        sprintf(many + strlen(many), "X-H%d: v%d\r\n", i, i);
    strcat(many, "\r\n");
    parse_all_ways(many, NULL, &r);
    ck_assert_int_eq(r.rc, 0);
}
END_TEST

START_TEST(test_authorizer_variables)
{
    struct fcgic_cgi_options o = {0};
    o.authorizer = 1;
    struct parsed r;
    parse_all_ways("Status: 200\r\nVariable-AUTH_USER: alice\r\nX-A: 1\r\nvariable-ROLE: admin\r\n\r\n", &o, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.headers, "Status=200|X-A=1|");
    ck_assert_str_eq(r.vars, "AUTH_USER=alice|ROLE=admin|");
    parse_all_ways("Variable-AUTH_USER: alice\r\n\r\n", NULL, &r); /* not an authorizer: plain header */
    ck_assert_str_eq(r.headers, "Variable-AUTH_USER=alice|");
}
END_TEST

START_TEST(test_reset_and_alloc)
{
    const char *in = "Status: 201 Created\r\nContent-Type: text/plain\r\n\r\ncreated";
    for (long n = 1; n < 40; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct fcgic_cgi_parser *p = NULL;
        int rc = fcgic_cgi_parser_new(&p, NULL, &fa.mem);
        /* byte by byte forces the header buffer */
        for (size_t i = 0; rc >= 0 && i < strlen(in); i++) {
            struct fcgic_cgi_event ev;
            size_t used;
            rc = fcgic_cgi_parser_next(p, in + i, 1, &used, &ev);
        }
        if (rc < 0)
            ck_assert_int_eq(rc, FCGIC_E_NOMEM);
        if (p) {
            fcgic_cgi_parser_reset(p);
            struct fcgic_cgi_event ev;
            size_t used;
            int r2 = fcgic_cgi_parser_next(p, in, strlen(in), &used, &ev);
            ck_assert(r2 == 1 || r2 == FCGIC_E_NOMEM);
        }
        fcgic_cgi_parser_free(p);
        ck_assert_int_eq(fa.live, 0);
        if (!fa.failed)
            break;
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cgi");
    TCase *tc = tcase_create("headers");
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_options_version);
    tcase_add_test(tc, test_status_forms);
    tcase_add_test(tc, test_location);
    tcase_add_test(tc, test_bad_headers);
    tcase_add_test(tc, test_no_header_block);
    tcase_add_test(tc, test_interim_status);
    tcase_add_test(tc, test_finish_is_final);
    tcase_add_test(tc, test_caps);
    suite_add_tcase(s, tc);
    tc = tcase_create("authorizer");
    tcase_add_test(tc, test_authorizer_variables);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_reset_and_alloc);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
