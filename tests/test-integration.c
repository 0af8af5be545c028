/* The connection engine and the POSIX transport against real FastCGI
 * applications started by the test: app-echo (libfcgi), app-mpx (an
 * independent multiplexing implementation that checks every byte we send)
 * and PHP-FPM. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app-common.h"
#include "fcgiclient/conn.h"
#include "fcgiclient/error.h"
#include "fcgiclient/posix.h"
#include "harness.h"
#include "testutil.h"

#define SEC 1000000000ull

struct resp {
    int heads, ends, values;
    int status;
    char hdrs[4096];
    char *body;
    size_t body_len, body_cap;
    char err[4096];
    char vals[512];
    struct fcgic_result res;
    /* streamed request body */
    const unsigned char *src;
    size_t src_len, src_off, chunk;
    struct fcgic_conn *abort_on_head;
    uint16_t id;
};

static void resp_reset(struct resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int on_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *h)
{
    struct resp *r = ud;
    (void)c;
    r->heads++;
    r->status = h->status;
    for (size_t i = 0; i < h->nheaders; i++) {
        size_t l = strlen(r->hdrs);
        snprintf(r->hdrs + l, sizeof r->hdrs - l, "%.*s=%.*s|", (int)h->headers[i].name_len, h->headers[i].name,
                 (int)h->headers[i].value_len, h->headers[i].value);
    }
    for (size_t i = 0; i < h->nvariables; i++) {
        size_t l = strlen(r->hdrs);
        snprintf(r->hdrs + l, sizeof r->hdrs - l, "Variable-%.*s=%.*s|", (int)h->variables[i].name_len,
                 h->variables[i].name, (int)h->variables[i].value_len, h->variables[i].value);
    }
    return 0;
}

static int on_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    struct resp *r = ud;
    (void)c;
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = (r->body_len + n + 1) * 2;
        char *b = realloc(r->body, cap);
        ck_assert_ptr_nonnull(b);
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, d, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return 0;
}

static int on_stderr(struct fcgic_conn *c, void *ud, const char *l, size_t n)
{
    struct resp *r = ud;
    (void)c;
    size_t k = strlen(r->err);
    snprintf(r->err + k, sizeof r->err - k, "[%.*s]", (int)n, l);
    return 0;
}

static void on_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct resp *r = ud;
    (void)c;
    r->ends++;
    r->res = *res;
}

static int body_read(struct fcgic_conn *c, void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct resp *r = ud;
    (void)c;
    (void)stream;
    if (r->src_off == r->src_len)
        return FCGIC_BODY_EOF;
    size_t k = r->src_len - r->src_off < r->chunk ? r->src_len - r->src_off : r->chunk;
    chunk->ptr = (const char *)r->src + r->src_off;
    chunk->len = k;
    r->src_off += k;
    return FCGIC_BODY_CHUNK;
}

static void on_values(struct fcgic_conn *c, void *ud, const struct fcgic_param *p, size_t n)
{
    struct resp *r = ud;
    (void)c;
    r->values++;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(r->vals);
        snprintf(r->vals + l, sizeof r->vals - l, "%.*s=%.*s|", (int)p[i].name_len, p[i].name, (int)p[i].value_len,
                 p[i].value);
    }
}

static const struct fcgic_conn_callbacks cbs = {.version = FCGIC_CONN_CALLBACKS_VERSION, .on_head = on_head,
                                               .on_body = on_body, .on_stderr = on_stderr, .on_end = on_end,
                                               .body_read = body_read, .on_values = on_values};

/* Request parameters for `uri` (path?query). */
struct params {
    struct fcgic_param p[8];
    size_t n;
    char query[512];
};

static void mkparams(struct params *ps, const char *method, const char *query, const char *script)
{
    snprintf(ps->query, sizeof ps->query, "%s", query);
    ps->n = 0;
    ps->p[ps->n++] = (struct fcgic_param){"REQUEST_METHOD", 14, method, strlen(method)};
    ps->p[ps->n++] = (struct fcgic_param){"QUERY_STRING", 12, ps->query, strlen(ps->query)};
    ps->p[ps->n++] = (struct fcgic_param){"SCRIPT_FILENAME", 15, script, strlen(script)};
    ps->p[ps->n++] = (struct fcgic_param){"SERVER_PROTOCOL", 15, "HTTP/1.1", 8};
    ps->p[ps->n++] = (struct fcgic_param){"GATEWAY_INTERFACE", 17, "CGI/1.1", 7};
}

static int ended(void *ud)
{
    return ((struct resp *)ud)->ends > 0;
}

/* Submit on c and run the loop until the request ends. */
static void run(struct fcgic_posix *px, struct fcgic_conn *c, const struct fcgic_request *req, struct resp *r)
{
    ck_assert_int_eq(fcgic_conn_submit(c, req, r, &r->id, fcgic_posix_now()), 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(px, ended, r, 20 * SEC), 0);
}

static struct fcgic_posix *mkposix(void)
{
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    return px;
}

static struct fcgic_conn *open_conn(struct fcgic_posix *px, const char *url, int keep, unsigned mpx, void *ud)
{
    struct fcgic_conn_options o = {0};
    o.keep_conn = keep;
    o.max_requests = mpx;
    o.connect_timeout_ns = 5 * SEC;
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_posix_open(px, url, &o, &cbs, ud, &c, fcgic_posix_now()), 0);
    return c;
}

static long header_num(const struct resp *r, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s=", name);
    const char *p = strstr(r->hdrs, key);
    return p ? atol(p + strlen(key)) : -1;
}

static void check_get(enum harness_transport t)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, t, "app-echo", NULL), 0);
    struct fcgic_posix *px = mkposix();
    static struct resp r;
    resp_reset(&r);
    struct fcgic_conn *c = open_conn(px, app->url, 0, 1, NULL);
    struct params ps;
    mkparams(&ps, "GET", "stderr=hello+there&app_status=3", "/srv/app.php");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.res.error, 0);
    ck_assert_int_eq(r.res.got_end_request, 1);
    ck_assert_uint_eq(r.res.app_status, 3);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.hdrs, "Content-Type=text/plain|"));
    ck_assert_str_eq(r.err, "[hello there][second stderr line]");
    /* The application received the params in our order. */
    const char *want = "REQUEST_METHOD=GET\nQUERY_STRING=stderr=hello+there&app_status=3\n"
                       "SCRIPT_FILENAME=/srv/app.php\nSERVER_PROTOCOL=HTTP/1.1\nGATEWAY_INTERFACE=CGI/1.1\n"
                       "STDIN-BYTES=0\nSTDIN-FNV1A64=cbf29ce484222325\n";
    ck_assert_str_eq(r.body, want);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    resp_reset(&r);
    harness_app_stop(app);
}

START_TEST(test_get_tcp)
{
    check_get(HARNESS_TCP);
}
END_TEST

START_TEST(test_get_unix)
{
    check_get(HARNESS_UNIX);
}
END_TEST

START_TEST(test_post_1mib_streamed)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);
    struct fcgic_posix *px = mkposix();
    size_t len = 1u << 20;
    unsigned char *src = malloc(len);
    for (size_t i = 0; i < len; i++)
        src[i] = (unsigned char)(i * 7 + (i >> 9));
    char want[64];
    snprintf(want, sizeof want, "STDIN-FNV1A64=%016llx\n",
             (unsigned long long)app_fnv1a64(APP_FNV1A64_INIT, src, len));
    for (int mode = 0; mode < 2; mode++) {
        static struct resp r;
        resp_reset(&r);
        r.src = src;
        r.src_len = len;
        r.chunk = 100000; /* not a multiple of the record size */
        struct fcgic_conn *c = open_conn(px, app->url, 0, 1, NULL);
        struct params ps;
        mkparams(&ps, "POST", "", "/srv/upload");
        struct fcgic_request req = {0};
        req.params = ps.p;
        req.nparams = ps.n;
        if (mode == 0) {
            req.stdin_mode = FCGIC_BODY_STREAM;
        } else {
            req.stdin_mode = FCGIC_BODY_BUFFER;
            req.stdin_data = src;
            req.stdin_len = len;
        }
        run(px, c, &req, &r);
        ck_assert_int_eq(r.res.error, 0);
        ck_assert_uint_eq(r.res.stdin_bytes, len);
        ck_assert_ptr_nonnull(strstr(r.body, "STDIN-BYTES=1048576\n"));
        ck_assert_ptr_nonnull(strstr(r.body, want));
        fcgic_posix_close(px, c);
        resp_reset(&r);
    }
    free(src);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_keepalive_1000)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_UNIX, "app-echo", NULL), 0);
    struct fcgic_posix *px = mkposix();
    struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
    static struct resp r;
    struct params ps;
    mkparams(&ps, "GET", "size=100", "/srv/x");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    for (int i = 1; i <= 1000; i++) {
        resp_reset(&r);
        run(px, c, &req, &r);
        ck_assert_int_eq(r.res.error, 0);
        ck_assert_uint_eq(r.body_len, 100);
        ck_assert_int_eq(header_num(&r, "X-Req-On-Conn"), i);
        ck_assert_uint_eq(r.id, i); /* libfcgi takes a new id on each request */
        ck_assert_int_eq(header_num(&r, "X-Conn-Count"), 1);
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
    }
    resp_reset(&r);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_answer_before_input)
{
    /* app-echo writes its whole response before reading STDIN; we keep
     * sending 4 MiB while reading its answer. */
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);
    struct fcgic_posix *px = mkposix();
    size_t len = 4u << 20;
    unsigned char *src = calloc(1, len);
    static struct resp r;
    resp_reset(&r);
    r.src = src;
    r.src_len = len;
    r.chunk = 65536;
    struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
    struct params ps;
    mkparams(&ps, "POST", "early=1&size=300000", "/srv/x");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    req.stdin_mode = FCGIC_BODY_STREAM;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.res.error, 0);
    ck_assert_uint_eq(r.body_len, 300000);
    ck_assert_int_eq(r.res.body_sent, 1);
    ck_assert_uint_eq(r.res.stdin_bytes, len);
    resp_reset(&r);
    fcgic_posix_close(px, c);
    free(src);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

static int all_ended(void *ud)
{
    struct resp *r = ud;
    for (int i = 0; i < 8; i++)
        if (r[i].ends == 0)
            return 0;
    return 1;
}

START_TEST(test_multiplexed_app_mpx)
{
    const char *args[] = {"--padding", NULL};
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-mpx", args), 0);
    struct fcgic_posix *px = mkposix();
    static struct resp vr;
    resp_reset(&vr);
    struct fcgic_conn *c = open_conn(px, app->url, 1, 8, &vr);
    /* GET_VALUES first: the application says it multiplexes. */
    const char *names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    ck_assert_int_eq(fcgic_conn_get_values(c, names, 3), 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    for (int i = 0; i < 100 && vr.values == 0; i++)
        fcgic_posix_run(px, SEC / 10);
    ck_assert_str_eq(vr.vals, "FCGI_MAX_CONNS=100|FCGI_MAX_REQS=100|FCGI_MPXS_CONNS=1|");
    static struct resp r[8];
    struct params ps[8];
    for (int i = 0; i < 8; i++) {
        resp_reset(&r[i]);
        char q[64];
        snprintf(q, sizeof q, "order=reverse&batch=8&size=%d&tiny=%d", 5000 + i, i % 2);
        mkparams(&ps[i], "GET", q, "/srv/m");
        struct fcgic_request req = {0};
        req.params = ps[i].p;
        req.nparams = ps[i].n;
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &r[i], &r[i].id, fcgic_posix_now()), 0);
    }
    ck_assert_uint_eq(fcgic_conn_active(c), 8);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(px, all_ended, r, 20 * SEC), 0);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(r[i].res.error, 0);
        ck_assert_uint_eq(r[i].body_len, 5000u + (unsigned)i);
        for (size_t k = 0; k < r[i].body_len; k++)
            ck_assert_uint_eq((unsigned char)r[i].body[k], app_pattern_byte(k));
        ck_assert_int_eq(header_num(&r[i], "X-Request-Id"), r[i].id);
        ck_assert_int_eq(header_num(&r[i], "X-Conn-Count"), 1);
        resp_reset(&r[i]);
    }
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_abort_request)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-mpx", NULL), 0);
    struct fcgic_posix *px = mkposix();
    struct fcgic_conn *c = open_conn(px, app->url, 1, 2, NULL);
    static struct resp r, r2;
    resp_reset(&r);
    resp_reset(&r2);
    struct params ps, ps2;
    mkparams(&ps, "GET", "delay_ms=3000", "/srv/slow");
    mkparams(&ps2, "GET", "size=10", "/srv/fast");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &r, &r.id, fcgic_posix_now()), 0);
    req.params = ps2.p;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &r2, &r2.id, fcgic_posix_now()), 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(px, ended, &r2, 10 * SEC), 0);
    /* Cancel: on_end before fcgic_conn_abort() returns; the connection is
     * retired (app-mpx would answer the aborted request after 3 s). */
    ck_assert_int_eq(fcgic_conn_abort(c, r.id), 0);
    ck_assert_int_eq(r.ends, 1);
    ck_assert_int_eq(r.res.error, FCGIC_E_ABORTED);
    ck_assert_int_eq(r.res.aborted, 1);
    ck_assert_int_eq(r.heads, 0);
    ck_assert_uint_eq(r2.body_len, 10);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    fcgic_posix_close(px, c);
    /* polite_abort: ABORT_REQUEST, and the application's own END_REQUEST
     * ends it; the connection stays good for another request. */
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    o.max_requests = 2;
    o.polite_abort = 1;
    ck_assert_int_eq(fcgic_posix_open(px, app->url, &o, &cbs, NULL, &c, fcgic_posix_now()), 0);
    resp_reset(&r);
    req.params = ps.p;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &r, &r.id, fcgic_posix_now()), 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run(px, SEC / 10), 0);
    uint64_t t0 = fcgic_posix_now();
    ck_assert_int_eq(fcgic_conn_abort(c, r.id), 0);
    ck_assert_int_eq(r.ends, 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(px, ended, &r, 10 * SEC), 0);
    ck_assert_uint_lt(fcgic_posix_now() - t0, 2 * SEC); /* did not wait for the 3 s answer */
    ck_assert_int_eq(r.res.aborted, 1);
    ck_assert_int_eq(r.res.got_end_request, 1);
    ck_assert_uint_eq(r.res.app_status, 1);
    ck_assert_int_eq(r.heads, 0);
    resp_reset(&r2);
    req.params = ps2.p;
    run(px, c, &req, &r2);
    ck_assert_int_eq(r2.res.error, 0);
    resp_reset(&r);
    resp_reset(&r2);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_peer_closed_and_timeout)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);
    struct fcgic_posix *px = mkposix();
    static struct resp r;
    resp_reset(&r);
    struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
    struct params ps;
    mkparams(&ps, "GET", "close=1&size=1000", "/srv/x");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.res.error, FCGIC_E_PEER_CLOSED);
    ck_assert_int_eq(r.res.response_started, 1);
    ck_assert_int_eq(r.res.got_end_request, 0);
    fcgic_posix_close(px, c);
    /* Idle timeout while the application sleeps. */
    resp_reset(&r);
    c = open_conn(px, app->url, 1, 1, NULL);
    mkparams(&ps, "GET", "sleep_ms=1500", "/srv/x");
    req.params = ps.p;
    req.timeouts.first_byte = SEC / 5;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.res.error, FCGIC_E_TIMEOUT_FIRST_BYTE);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE); /* not reusable: close it */
    ck_assert_uint_eq(fcgic_conn_active(c), 1);              /* the aborted request is still out */
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &r, NULL, fcgic_posix_now()), FCGIC_E_BUSY);
    fcgic_posix_close(px, c);
    resp_reset(&r);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_roles)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);
    struct fcgic_posix *px = mkposix();
    static struct resp r;
    resp_reset(&r);
    struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
    struct fcgic_param ap[2] = {FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                FCGIC_PARAM_LIT("HTTP_AUTHORIZATION", "Basic YWxpY2U6eA==")};
    struct fcgic_request req = {0};
    req.role = FCGIC_ROLE_AUTHORIZER;
    req.params = ap;
    req.nparams = 2;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.hdrs, "Variable-AUTH_USER=alice|"));
    ck_assert_ptr_nonnull(strstr(r.hdrs, "X-Fcgi-Role=AUTHORIZER|"));
    resp_reset(&r);
    req.nparams = 1;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.status, 401);
    resp_reset(&r);
    /* FILTER: the DATA stream comes back as the body. */
    struct fcgic_param fp[2] = {FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                FCGIC_PARAM_LIT("FCGI_DATA_LAST_MOD", "1700000000")};
    static const char data[] = "file contents to filter";
    req.role = FCGIC_ROLE_FILTER;
    req.params = fp;
    req.nparams = 2;
    req.stdin_mode = FCGIC_BODY_BUFFER;
    req.stdin_data = "in";
    req.stdin_len = 2;
    req.data_mode = FCGIC_BODY_BUFFER;
    req.data = data;
    req.data_len = sizeof data - 1;
    run(px, c, &req, &r);
    ck_assert_int_eq(r.res.error, 0);
    ck_assert_str_eq(r.body, data);
    ck_assert_ptr_nonnull(strstr(r.hdrs, "X-Data-Length=23|"));
    ck_assert_ptr_nonnull(strstr(r.hdrs, "X-Data-Last-Mod=1700000000|"));
    ck_assert_ptr_nonnull(strstr(r.hdrs, "X-Stdin-Bytes=2|"));
    resp_reset(&r);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

static void check_php(enum harness_transport t)
{
    struct harness_app *app;
    int rc = harness_php_start(&app, t, 2);
    if (rc == HARNESS_SKIP)
        return;
    ck_assert_int_eq(rc, 0);
    struct fcgic_posix *px = mkposix();
    static struct resp r;
    resp_reset(&r);
    struct fcgic_conn *c = open_conn(px, app->url, 1, 1, &r);
    /* GET_VALUES: PHP-FPM says it does not multiplex. */
    const char *names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    ck_assert_int_eq(fcgic_conn_get_values(c, names, 3), 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    for (int i = 0; i < 100 && r.values == 0; i++)
        fcgic_posix_run(px, SEC / 10);
    ck_assert_int_eq(r.values, 1);
    /* PHP-FPM 8.2 knows only FCGI_MPXS_CONNS and leaves the others out. */
    ck_assert_str_eq(r.vals, "FCGI_MPXS_CONNS=0|");
    char script[4200];
    ck_assert_int_eq(harness_php_script(app, "env.php", script, sizeof script), 0);
    for (int i = 0; i < 3; i++) {
        resp_reset(&r);
        struct params ps;
        mkparams(&ps, "POST", "a=1&b=2", script);
        struct fcgic_param p[8];
        memcpy(p, ps.p, sizeof ps.p[0] * ps.n);
        p[ps.n] = (struct fcgic_param)FCGIC_PARAM_LIT("CONTENT_LENGTH", "5");
        struct fcgic_request req = {0};
        req.params = p;
        req.nparams = ps.n + 1;
        req.stdin_mode = FCGIC_BODY_BUFFER;
        req.stdin_data = "hello";
        req.stdin_len = 5;
        run(px, c, &req, &r);
        ck_assert_int_eq(r.res.error, 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_ptr_nonnull(strstr(r.body, "QUERY_STRING=a=1&b=2\n"));
        ck_assert_ptr_nonnull(strstr(r.body, "STDIN-BYTES=5\n"));
        ck_assert_ptr_nonnull(strstr(r.body, "STDIN-FNV1A64=a430d84680aabd0b\n"));
    }
    resp_reset(&r);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}

START_TEST(test_php_fpm_tcp)
{
    check_php(HARNESS_TCP);
}
END_TEST

START_TEST(test_php_fpm_unix)
{
    check_php(HARNESS_UNIX);
}
END_TEST

/* ---- app-hostile: applications that lie, stall or send bytes late ---- */

/* Run the script `script` (app-hostile's do=) as one request on c. */
static void hostile_req(struct fcgic_posix *px, struct fcgic_conn *c, const char *script, struct resp *r)
{
    struct params ps;
    char q[512];
    snprintf(q, sizeof q, "do=%s", script);
    mkparams(&ps, "GET", q, "/srv/x");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    req.timeouts.total = 60 * SEC; /* far beyond the run_until limit: never the error seen */
    resp_reset(r);
    run(px, c, &req, r);
}

/* A plain request on c must get app-hostile's default answer, with the
 * request id the engine chose. */
static void expect_clean_answer(struct fcgic_posix *px, struct fcgic_conn *c, unsigned nth)
{
    static struct resp r;
    struct params ps;
    mkparams(&ps, "GET", "", "/srv/x");
    struct fcgic_request req = {0};
    req.params = ps.p;
    req.nparams = ps.n;
    resp_reset(&r);
    run(px, c, &req, &r);
    ck_assert_int_eq(r.res.error, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.hdrs, "Status=200 OK|Content-Type=text/plain|");
    char want[64];
    snprintf(want, sizeof want, "req=%u id=%u\n", nth, (unsigned)r.id);
    ck_assert_str_eq(r.body, want);
    resp_reset(&r);
}

static int not_idle(void *ud)
{
    return fcgic_conn_state(ud) != FCGIC_CONN_IDLE;
}

START_TEST(test_hostile_late_records)
{
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-hostile", NULL), 0);
    struct fcgic_posix *px = mkposix();
    static struct resp r1, r2;
    /* A stray STDOUT record for the ended request, sent while the next
     * request runs: it must not become that request's response. */
    static const char *const late[] = {
        "out=Status: 200\\r\\n\\r\\nfirst;outeof;end;sleep=300;out=X-Injected: 1\\r\\n\\r\\nstray",
        "out=Status: 200\\r\\n\\r\\nfirst;outeof;end;sleep=300;raw=0123456789abcdef",
        "out=Status: 200\\r\\n\\r\\nfirst;outeof;end;sleep=300;end",
    };
    static const int late_err[] = {FCGIC_E_AFTER_END, FCGIC_E_BAD_VERSION, FCGIC_E_AFTER_END};
    for (size_t i = 0; i < 3; i++) {
        struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
        hostile_req(px, c, late[i], &r1);
        ck_assert_int_eq(r1.res.error, 0);
        ck_assert_str_eq(r1.body, "first");
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
        struct params ps;
        mkparams(&ps, "GET", "", "/srv/x");
        struct fcgic_request req = {0};
        req.params = ps.p;
        req.nparams = ps.n;
        resp_reset(&r2);
        run(px, c, &req, &r2);
        ck_assert_msg(r2.res.error == late_err[i], "case %zu: %d", i, r2.res.error);
        ck_assert_int_eq(r2.heads, 0);
        ck_assert_uint_eq(r2.body_len, 0);
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_FAILED);
        fcgic_posix_close(px, c);
    }
    /* The same bytes on an idle kept connection retire it by themselves. */
    static const char *const idle[] = {
        "out=Status: 200\\r\\n\\r\\nfirst;outeof;end;out=stray",
        "out=Status: 200\\r\\n\\r\\nfirst;outeof;end;sleep=100;raw=0123456789abcdef",
        "out=Status: 200\\r\\n\\r\\nfirst;outeof;end;sleep=100;rec=10,0,\\x0e\\x02FCGI_MAX_CONNS10",
    };
    static const int idle_err[] = {FCGIC_E_AFTER_END, FCGIC_E_BAD_VERSION, FCGIC_E_UNSOLICITED};
    for (size_t i = 0; i < 3; i++) {
        struct fcgic_conn *c = open_conn(px, app->url, 1, 1, &r1);
        hostile_req(px, c, idle[i], &r1);
        ck_assert_int_eq(r1.res.error, 0);
        ck_assert_int_eq(fcgic_posix_run_until(px, not_idle, c, 20 * SEC), 0);
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_FAILED);
        ck_assert_msg(fcgic_conn_error(c) == idle_err[i], "case %zu: %d", i, fcgic_conn_error(c));
        ck_assert_int_eq(r1.values, 0);
        fcgic_posix_close(px, c);
    }
    resp_reset(&r1);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_hostile_responses)
{
    /* Each case: what the caller gets, and that the next request (on the
     * same connection when it stays reusable, else on a new one) is
     * answered correctly. */
    static const struct {
        const char *script;
        int error, status;
        const char *body;
    } cases[] = {
        /* 1xx is never a final status */
        {"out=Status: 100 Continue\\r\\n\\r\\nStatus: 200 OK\\r\\n\\r\\nreal;outeof;end", FCGIC_E_CGI_BAD_STATUS, 0, ""},
        {"out=Status: 101 Switching Protocols\\r\\n\\r\\n;outeof;end", FCGIC_E_CGI_BAD_STATUS, 0, ""},
        {"out=Status: 103 Early Hints\\r\\nLink: </a>\\r\\n\\r\\nStatus: 200\\r\\n\\r\\nx;outeof;end",
         FCGIC_E_CGI_BAD_STATUS, 0, ""},
        {"out=Status: 600\\r\\n\\r\\n;outeof;end", FCGIC_E_CGI_BAD_STATUS, 0, ""},
        {"out=Status: abc\\r\\n\\r\\n;outeof;end", FCGIC_E_CGI_BAD_STATUS, 0, ""},
        /* no header block */
        {"out=BAD;outeof;end", FCGIC_E_CGI_NO_HEADERS, 0, ""},
        {"outeof;end", FCGIC_E_CGI_NO_HEADERS, 0, ""},
        {"end", FCGIC_E_CGI_NO_HEADERS, 0, ""},
        /* an empty but terminated block is fine */
        {"out=\\r\\n\\r\\n;outeof;end", 0, 200, ""},
        {"out=\\r\\n\\r\\nbody;outeof;end", 0, 200, "body"},
        /* errors at once, even when the application then stalls */
        {"out=Bad Header Line\\r\\n\\r\\n;hang", FCGIC_E_CGI_BAD_HEADER, 0, ""},
        {"out=Status: 100\\r\\n\\r\\n;hang", FCGIC_E_CGI_BAD_STATUS, 0, ""},
        {"out=X-A: 1\\r\\nX-B: 2\\r\\n\\r\\nok;outeof;out=more;end", FCGIC_E_AFTER_STREAM_END, 0, ""},
        /* END_REQUEST with a 16-byte body: the first 8 bytes count */
        {"out=Status: 201\\r\\n\\r\\nok;outeof;rec=3,cur,\\x00\\x00\\x00\\x07\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00",
         0, 201, "ok"},
        /* the application refused: no output expected */
        {"end=0,2", 0, 0, ""},
    };
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_UNIX, "app-hostile", NULL), 0);
    struct fcgic_posix *px = mkposix();
    static struct resp r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
        hostile_req(px, c, cases[i].script, &r);
        ck_assert_msg(r.res.error == cases[i].error, "case %zu: error %d", i, r.res.error);
        if (cases[i].error) {
            ck_assert_msg(r.heads == 0 || cases[i].error == FCGIC_E_AFTER_STREAM_END, "case %zu: a head", i);
            /* reusable only when END_REQUEST closed the exchange */
            ck_assert_msg(r.res.got_end_request || fcgic_conn_state(c) != FCGIC_CONN_IDLE, "case %zu", i);
        } else {
            ck_assert_int_eq(r.status, cases[i].status);
            ck_assert_str_eq(r.body ? r.body : "", cases[i].body);
        }
        if (fcgic_conn_state(c) == FCGIC_CONN_IDLE) {
            expect_clean_answer(px, c, 2);
        } else {
            fcgic_posix_close(px, c);
            c = open_conn(px, app->url, 1, 1, NULL);
            expect_clean_answer(px, c, 1);
        }
        fcgic_posix_close(px, c);
    }
    ck_assert_uint_eq(r.res.app_status, 0);
    ck_assert_int_eq(r.res.protocol_status, FCGIC_OVERLOADED);
    /* Apache's leniency, when asked for: output without a header block is
     * the body of a 200. */
    struct fcgic_conn_options o = {0};
    o.lenient_header_block = 1;
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_posix_open(px, app->url, &o, &cbs, NULL, &c, fcgic_posix_now()), 0);
    hostile_req(px, c, "out=BAD;outeof;end", &r);
    ck_assert_int_eq(r.res.error, 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "BAD");
    fcgic_posix_close(px, c);
    resp_reset(&r);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_rotating_ids)
{
    /* Every request on a kept connection carries a new id; app-hostile
     * echoes the id it saw. */
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-hostile", NULL), 0);
    struct fcgic_posix *px = mkposix();
    struct fcgic_conn *c = open_conn(px, app->url, 1, 1, NULL);
    for (unsigned i = 1; i <= 20; i++)
        expect_clean_answer(px, c, i);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("libfcgi");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_get_tcp);
    tcase_add_test(tc, test_get_unix);
    tcase_add_test(tc, test_post_1mib_streamed);
    tcase_add_test(tc, test_keepalive_1000);
    tcase_add_test(tc, test_answer_before_input);
    tcase_add_test(tc, test_peer_closed_and_timeout);
    tcase_add_test(tc, test_roles);
    suite_add_tcase(s, tc);
    tc = tcase_create("multiplexing");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_multiplexed_app_mpx);
    tcase_add_test(tc, test_abort_request);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hostile_late_records);
    tcase_add_test(tc, test_hostile_responses);
    tcase_add_test(tc, test_rotating_ids);
    suite_add_tcase(s, tc);
    tc = tcase_create("php-fpm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_php_fpm_tcp);
    tcase_add_test(tc, test_php_fpm_unix);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
