/* Proof that the integration-test peers work before the library's own
 * integration tests rely on them: app-echo (libfcgi), app-mpx (hand-written,
 * multiplexing, strict) and PHP-FPM, started through tests/harness.c and driven
 * by a tiny blocking FastCGI client written here (independently of the library,
 * on raw sockets). PHP-FPM tests are left out, with a note, when php-fpm is not
 * installed. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app-common.h"
#include "harness.h"
#include "testutil.h"

/* ---- tiny FastCGI client ---- */

enum { BEGIN = 1, ABORT, END, PARAMS, STDIN_, STDOUT_, STDERR_, DATA, GET_VALUES, GET_VALUES_RESULT,
       UNKNOWN_TYPE };
enum { RESPONDER = 1, AUTHORIZER, FILTER };

struct tbuf {
    unsigned char *p; /* always NUL-terminated after len */
    size_t len, cap;
};

static void tb_add(struct tbuf *b, const void *p, size_t n)
{
    if (b->cap < b->len + n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n > 0 && p != NULL)
        memcpy(b->p + b->len, p, n); /* p == NULL: reserve n bytes */
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_free(struct tbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static const char *tb_str(struct tbuf *b)
{
    if (b->p == NULL)
        tb_add(b, "", 0);
    return (const char *)b->p;
}

static void put_record(struct tbuf *b, unsigned type, unsigned id, const void *data, size_t len)
{
    const unsigned char *p = data;
    do {
        size_t n = len > 65535 ? 65535 : len;
        unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                              (unsigned char)(n >> 8), (unsigned char)n, 0, 0};
        tb_add(b, h, 8);
        tb_add(b, p, n);
        p += n;
        len -= n;
    } while (len > 0);
}

static void put_len(struct tbuf *b, size_t n)
{
    if (n < 128) {
        unsigned char c = (unsigned char)n;
        tb_add(b, &c, 1);
    } else {
        unsigned char c[4] = {(unsigned char)(0x80 | (n >> 24)), (unsigned char)(n >> 16),
                              (unsigned char)(n >> 8), (unsigned char)n};
        tb_add(b, c, 4);
    }
}

/* params: name, value, name, value, ..., NULL */
static void put_params(struct tbuf *b, unsigned id, const char *const *params)
{
    struct tbuf pairs = {0};
    for (size_t i = 0; params != NULL && params[i] != NULL; i += 2) {
        put_len(&pairs, strlen(params[i]));
        put_len(&pairs, strlen(params[i + 1]));
        tb_add(&pairs, params[i], strlen(params[i]));
        tb_add(&pairs, params[i + 1], strlen(params[i + 1]));
    }
    if (pairs.len > 0)
        put_record(b, PARAMS, id, pairs.p, pairs.len);
    put_record(b, PARAMS, id, NULL, 0);
    tb_free(&pairs);
}

static void put_begin(struct tbuf *b, unsigned id, unsigned role, int keep)
{
    unsigned char body[8] = {0, (unsigned char)role, keep ? 1 : 0, 0, 0, 0, 0, 0};
    put_record(b, BEGIN, id, body, 8);
}

static void put_stream(struct tbuf *b, unsigned type, unsigned id, const void *data, size_t len)
{
    if (len > 0)
        put_record(b, type, id, data, len);
    put_record(b, type, id, NULL, 0);
}

static void put_request(struct tbuf *b, unsigned id, unsigned role, int keep,
                        const char *const *params, const void *in, size_t inlen)
{
    put_begin(b, id, role, keep);
    put_params(b, id, params);
    put_stream(b, STDIN_, id, in, inlen);
}

static void send_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* 1 = full, 0 = EOF before any byte, -1 = error or EOF mid-way. */
static int recv_full(int fd, void *data, size_t len)
{
    unsigned char *p = data;
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && got == 0)
            return 0;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 1;
}

struct rec {
    unsigned type, id;
    struct tbuf content;
};

/* 1 = a record, 0 = clean EOF. Padding is read and dropped. */
static int read_record(int fd, struct rec *r)
{
    unsigned char h[8], pad[255];
    int rc = recv_full(fd, h, 8);
    if (rc == 0)
        return 0;
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(h[0], 1);
    r->type = h[1];
    r->id = (unsigned)h[2] << 8 | h[3];
    size_t clen = (size_t)h[4] << 8 | h[5];
    r->content.len = 0;
    tb_add(&r->content, NULL, 0);
    if (clen > 0) {
        tb_add(&r->content, NULL, clen);
        ck_assert_int_eq(recv_full(fd, r->content.p, clen), 1);
        r->content.p[clen] = '\0';
    }
    if (h[6] > 0)
        ck_assert_int_eq(recv_full(fd, pad, h[6]), 1);
    return 1;
}

struct resp {
    struct tbuf out, err;
    int ended;
    unsigned app_status, proto_status;
};

static void resp_free(struct resp *r)
{
    tb_free(&r->out);
    tb_free(&r->err);
}

/* Read records until `want` requests (ids 1..n, resps[id-1]) have ended.
 * Optionally record the STDOUT/END sequence as "o1 o2 e2 ..." in trace. */
static void read_responses(int fd, struct resp *resps, unsigned n, unsigned want, struct tbuf *trace)
{
    struct rec r = {0};
    unsigned ended = 0;
    while (ended < want) {
        int rc = read_record(fd, &r);
        ck_assert_msg(rc == 1, "EOF before END_REQUEST");
        ck_assert_uint_ge(r.id, 1);
        ck_assert_uint_le(r.id, n);
        struct resp *x = &resps[r.id - 1];
        char t[32];
        switch (r.type) {
        case STDOUT_:
            tb_add(&x->out, r.content.p, r.content.len);
            if (trace != NULL && r.content.len > 0) {
                snprintf(t, sizeof(t), "o%u ", r.id);
                tb_add(trace, t, strlen(t));
            }
            break;
        case STDERR_:
            tb_add(&x->err, r.content.p, r.content.len);
            break;
        case END:
            ck_assert_uint_eq(r.content.len, 8);
            ck_assert(!x->ended);
            x->ended = 1;
            x->app_status = (unsigned)r.content.p[0] << 24 | (unsigned)r.content.p[1] << 16 |
                            (unsigned)r.content.p[2] << 8 | r.content.p[3];
            x->proto_status = r.content.p[4];
            ended++;
            if (trace != NULL) {
                snprintf(t, sizeof(t), "e%u ", r.id);
                tb_add(trace, t, strlen(t));
            }
            break;
        default:
            ck_abort_msg("unexpected record type %u", r.type);
        }
    }
    tb_free(&r.content);
}

/* One request on a fresh connection (id 1, no keep-conn), closed afterwards. */
static void roundtrip(const struct harness_app *app, unsigned role, const char *const *params,
                      const void *in, size_t inlen, struct resp *out)
{
    struct tbuf req = {0};
    int fd = harness_app_connect(app);
    ck_assert_msg(fd >= 0, "connect %s: %s", app->url, strerror(-fd));
    put_request(&req, 1, role, 0, params, in, inlen);
    send_all(fd, req.p, req.len);
    memset(out, 0, sizeof(*out));
    read_responses(fd, out, 1, 1, NULL);
    close(fd);
    tb_free(&req);
}

/* Value of a response header line "Name: value" in a CGI header block. */
static long header_num(const char *resp, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *p = strstr(resp, key);
    ck_assert_msg(p != NULL, "no header %s in %s", name, resp);
    return strtol(p + strlen(key), NULL, 10);
}

static const char *const get_params[] = {
    "REQUEST_METHOD", "GET", "QUERY_STRING", "", "SCRIPT_NAME", "/t",
    "SERVER_PROTOCOL", "HTTP/1.1", NULL};

/* ---- app-echo ---- */

START_TEST(test_echo_get)
{
    enum harness_transport t = _i ? HARNESS_UNIX : HARNESS_TCP;
    struct harness_app *app = NULL;
    struct resp r;
    char expect[1024];
    ck_assert_int_eq(harness_app_start(&app, t, "app-echo", NULL), 0);
    if (t == HARNESS_TCP) {
        ck_assert_str_eq(app->host, "127.0.0.1");
        ck_assert_int_gt(app->port, 0);
        snprintf(expect, sizeof(expect), "fcgi://127.0.0.1:%d", app->port);
    } else {
        ck_assert_int_eq(strncmp(app->path, "/tmp/fcgic-h-", 13), 0);
        snprintf(expect, sizeof(expect), "unix:%s|fcgi://localhost", app->path);
    }
    ck_assert_str_eq(app->url, expect);

    roundtrip(app, RESPONDER, get_params, NULL, 0, &r);
    snprintf(expect, sizeof(expect),
             "Status: 200 OK\r\n"
             "Content-Type: text/plain\r\n"
             "X-Conn-Count: 1\r\n"
             "X-Conn-Id: 1\r\n"
             "X-Req-On-Conn: 1\r\n"
             "X-Pid: %ld\r\n"
             "X-Fcgi-Role: RESPONDER\r\n"
             "\r\n"
             "REQUEST_METHOD=GET\n"
             "QUERY_STRING=\n"
             "SCRIPT_NAME=/t\n"
             "SERVER_PROTOCOL=HTTP/1.1\n"
             "STDIN-BYTES=0\n"
             "STDIN-FNV1A64=cbf29ce484222325\n",
             (long)app->pid);
    ck_assert_str_eq(tb_str(&r.out), expect);
    ck_assert_uint_eq(r.err.len, 0);
    ck_assert_uint_eq(r.app_status, 0);
    ck_assert_uint_eq(r.proto_status, 0);
    resp_free(&r);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_echo_connection_counts)
{
    struct harness_app *app = NULL;
    struct tbuf req = {0};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    for (long i = 1; i <= 3; i++) {
        struct resp r = {0};
        req.len = 0;
        put_request(&req, 1, RESPONDER, 1, get_params, NULL, 0);
        send_all(fd, req.p, req.len);
        read_responses(fd, &r, 1, 1, NULL);
        ck_assert_int_eq(header_num(tb_str(&r.out), "X-Conn-Count"), 1);
        ck_assert_int_eq(header_num(tb_str(&r.out), "X-Conn-Id"), 1);
        ck_assert_int_eq(header_num(tb_str(&r.out), "X-Req-On-Conn"), i);
        resp_free(&r);
    }
    close(fd);
    struct resp r;
    roundtrip(app, RESPONDER, get_params, NULL, 0, &r);
    ck_assert_int_eq(header_num(tb_str(&r.out), "X-Conn-Count"), 2);
    ck_assert_int_eq(header_num(tb_str(&r.out), "X-Conn-Id"), 2);
    ck_assert_int_eq(header_num(tb_str(&r.out), "X-Req-On-Conn"), 1);
    resp_free(&r);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_echo_post_stderr_status)
{
    struct harness_app *app = NULL;
    struct resp r;
    size_t n = 200000;
    unsigned char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < n; i++)
        body[i] = app_pattern_byte(i * 7);
    ck_assert_int_eq(harness_app_start(&app, HARNESS_UNIX, "app-echo", NULL), 0);

    const char *const echo[] = {"REQUEST_METHOD", "POST", "QUERY_STRING", "echo=1&noheaders=1",
                                NULL};
    roundtrip(app, RESPONDER, echo, body, n, &r);
    ck_assert_uint_eq(r.out.len, n);
    ck_assert_mem_eq(r.out.p, body, n);
    resp_free(&r);

    const char *const err[] = {"QUERY_STRING",
                               "stderr=hello+world&app_status=7&status=503&size=5&lf=1", NULL};
    roundtrip(app, RESPONDER, err, NULL, 0, &r);
    ck_assert_str_eq(tb_str(&r.err), "hello world\nsecond stderr line\n");
    ck_assert_uint_eq(r.app_status, 7);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "Status: 503 Service Unavailable\n"
             "Content-Type: text/plain\n"
             "X-Conn-Count: 2\n"
             "X-Conn-Id: 2\n"
             "X-Req-On-Conn: 1\n"
             "X-Pid: %ld\n"
             "X-Fcgi-Role: RESPONDER\n"
             "\n"
             "ABCDE",
             (long)app->pid);
    ck_assert_str_eq(tb_str(&r.out), expect);
    resp_free(&r);
    free(body);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_echo_authorizer_filter)
{
    struct harness_app *app = NULL;
    struct resp r;
    struct tbuf req = {0};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);

    const char *const auth[] = {"HTTP_AUTHORIZATION", "Basic YWxpY2U6eA==", NULL};
    roundtrip(app, AUTHORIZER, auth, NULL, 0, &r);
    ck_assert_int_eq(strncmp(tb_str(&r.out), "Status: 200 OK\r\n", 16), 0);
    ck_assert_ptr_nonnull(strstr(tb_str(&r.out), "\r\nVariable-AUTH_USER: alice\r\n"));
    ck_assert_ptr_nonnull(strstr(tb_str(&r.out), "\r\nX-Fcgi-Role: AUTHORIZER\r\n"));
    resp_free(&r);
    roundtrip(app, AUTHORIZER, NULL, NULL, 0, &r);
    ck_assert_int_eq(strncmp(tb_str(&r.out), "Status: 401 Unauthorized\r\n", 26), 0);
    ck_assert_ptr_null(strstr(tb_str(&r.out), "Variable-"));
    resp_free(&r);

    /* FILTER: stdin, then the DATA stream, on one connection */
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    const char *const fp[] = {"FCGI_DATA_LENGTH", "10", "FCGI_DATA_LAST_MOD", "1700000000",
                              NULL};
    put_request(&req, 1, FILTER, 0, fp, "in", 2);
    put_stream(&req, DATA, 1, "0123456789", 10);
    send_all(fd, req.p, req.len);
    memset(&r, 0, sizeof(r));
    read_responses(fd, &r, 1, 1, NULL);
    close(fd);
    const char *s = tb_str(&r.out);
    ck_assert_ptr_nonnull(strstr(s, "\r\nX-Data-Length: 10\r\nX-Data-Last-Mod: 1700000000\r\n"
                                    "X-Data-Bytes: 10\r\nX-Stdin-Bytes: 2\r\n"));
    const char *body = strstr(s, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body + 4, "0123456789");
    resp_free(&r);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_echo_early_and_close)
{
    struct harness_app *app = NULL;
    struct tbuf req = {0};
    struct rec rec = {0};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);

    /* early=1: the whole response arrives before we send any stdin */
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    const char *const early[] = {"QUERY_STRING", "early=1&noheaders=1", NULL};
    put_begin(&req, 1, RESPONDER, 0);
    put_params(&req, 1, early);
    send_all(fd, req.p, req.len);
    ck_assert_int_eq(read_record(fd, &rec), 1);
    ck_assert_uint_eq(rec.type, STDOUT_);
    ck_assert_str_eq(tb_str(&rec.content), "QUERY_STRING=early=1&noheaders=1\nSTDIN-BYTES=unread\n");
    req.len = 0;
    put_stream(&req, STDIN_, 1, "abc", 3);
    send_all(fd, req.p, req.len);
    struct resp r = {0};
    read_responses(fd, &r, 1, 1, NULL);
    ck_assert_uint_eq(r.out.len, 0);
    ck_assert_uint_eq(r.app_status, 0);
    resp_free(&r);
    close(fd);

    /* close=1: half the body, then EOF without END_REQUEST */
    fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    const char *const cl[] = {"QUERY_STRING", "close=1&size=10&noheaders=1", NULL};
    req.len = 0;
    put_request(&req, 1, RESPONDER, 1, cl, NULL, 0);
    send_all(fd, req.p, req.len);
    struct tbuf out = {0};
    int rc;
    while ((rc = read_record(fd, &rec)) == 1) {
        ck_assert_uint_eq(rec.type, STDOUT_);
        tb_add(&out, rec.content.p, rec.content.len);
    }
    ck_assert_str_eq(tb_str(&out), "ABCDE");
    close(fd);
    /* and the app goes on serving */
    roundtrip(app, RESPONDER, get_params, NULL, 0, &r);
    ck_assert_int_eq(header_num(tb_str(&r.out), "X-Conn-Count"), 3);
    resp_free(&r);
    tb_free(&out);
    tb_free(&rec.content);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

/* ---- app-mpx ---- */

START_TEST(test_mpx_multiplexed)
{
    struct harness_app *app = NULL;
    struct tbuf req = {0}, trace = {0};
    struct resp r[2];
    char expect[1024];
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-mpx", NULL), 0);
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    memset(r, 0, sizeof(r));
    const char *const p1[] = {"QUERY_STRING", "order=reverse&chunk=64", "REQUEST_URI", "/one",
                              NULL};
    const char *const p2[] = {"QUERY_STRING", "order=reverse&chunk=64", "REQUEST_URI", "/two",
                              NULL};
    /* both requests' records interleaved on the wire too */
    put_begin(&req, 1, RESPONDER, 1);
    put_begin(&req, 2, RESPONDER, 1);
    put_params(&req, 2, p2);
    put_params(&req, 1, p1);
    put_stream(&req, STDIN_, 1, "one", 3);
    put_stream(&req, STDIN_, 2, "twotwo", 6);
    send_all(fd, req.p, req.len);
    read_responses(fd, r, 2, 2, &trace);

    /* newest first, one 64-byte record of each in turn, END of 2 first */
    ck_assert_int_eq(strncmp(tb_str(&trace), "o2 o1 o2 o1 ", 12), 0);
    const char *e2 = strstr(tb_str(&trace), "e2");
    const char *e1 = strstr(tb_str(&trace), "e1");
    ck_assert_ptr_nonnull(e2);
    ck_assert_ptr_nonnull(e1);
    ck_assert(e2 < e1);
    for (unsigned i = 0; i < 2; i++) {
        snprintf(expect, sizeof(expect),
                 "Status: 200 OK\r\n"
                 "Content-Type: text/plain\r\n"
                 "X-Conn-Count: 1\r\n"
                 "X-Conn-Id: 1\r\n"
                 "X-Req-On-Conn: %u\r\n"
                 "X-Request-Id: %u\r\n"
                 "X-Pid: %ld\r\n"
                 "X-Fcgi-Role: RESPONDER\r\n"
                 "\r\n"
                 "QUERY_STRING=order=reverse&chunk=64\n"
                 "REQUEST_URI=%s\n"
                 "STDIN-BYTES=%s\n"
                 "STDIN-FNV1A64=%016llx\n",
                 i + 1, i + 1, (long)app->pid, i ? "/two" : "/one", i ? "6" : "3",
                 (unsigned long long)app_fnv1a64(APP_FNV1A64_INIT, i ? "twotwo" : "one",
                                                 i ? 6 : 3));
        ck_assert_str_eq(tb_str(&r[i].out), expect);
        ck_assert_uint_eq(r[i].app_status, 0);
        ck_assert_uint_eq(r[i].proto_status, 0);
        resp_free(&r[i]);
    }

    /* GET_VALUES on the same (kept) connection */
    static const unsigned char names[] = "\x0e\x00" "FCGI_MAX_CONNS"
                                         "\x0d\x00" "FCGI_MAX_REQS"
                                         "\x0f\x00" "FCGI_MPXS_CONNS";
    static const unsigned char values[] = "\x0e\x03" "FCGI_MAX_CONNS" "100"
                                          "\x0d\x03" "FCGI_MAX_REQS" "100"
                                          "\x0f\x01" "FCGI_MPXS_CONNS" "1";
    req.len = 0;
    put_record(&req, GET_VALUES, 0, names, sizeof(names) - 1);
    unsigned char unknown_mgmt[8] = {1, 42, 0, 0, 0, 0, 0, 0};
    tb_add(&req, unknown_mgmt, 8);
    send_all(fd, req.p, req.len);
    struct rec rec = {0};
    ck_assert_int_eq(read_record(fd, &rec), 1);
    ck_assert_uint_eq(rec.type, GET_VALUES_RESULT);
    ck_assert_uint_eq(rec.id, 0);
    ck_assert_uint_eq(rec.content.len, sizeof(values) - 1);
    ck_assert_mem_eq(rec.content.p, values, sizeof(values) - 1);
    ck_assert_int_eq(read_record(fd, &rec), 1);
    ck_assert_uint_eq(rec.type, UNKNOWN_TYPE);
    ck_assert_uint_eq(rec.content.len, 8);
    ck_assert_mem_eq(rec.content.p, "\x2a\0\0\0\0\0\0\0", 8);
    close(fd);
    tb_free(&rec.content);
    tb_free(&trace);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_mpx_padding_tiny_abort)
{
    struct harness_app *app = NULL;
    const char *const args[] = {"--padding", NULL};
    struct resp r;
    struct tbuf req = {0};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_UNIX, "app-mpx", args), 0);
    const char *const tiny[] = {"QUERY_STRING", "tiny=1&size=300&stderr=oops", NULL};
    roundtrip(app, RESPONDER, tiny, "x", 1, &r);
    const char *body = strstr(tb_str(&r.out), "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_uint_eq(strlen(body + 4), 300);
    for (size_t i = 0; i < 300; i++)
        ck_assert_int_eq((unsigned char)body[4 + i], app_pattern_byte(i));
    ck_assert_str_eq(tb_str(&r.err), "oops\n");
    resp_free(&r);

    /* ABORT_REQUEST of a delayed request: END_REQUEST appStatus 1, no STDOUT */
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    const char *const slow[] = {"QUERY_STRING", "delay_ms=10000", NULL};
    put_request(&req, 1, RESPONDER, 1, slow, NULL, 0);
    put_record(&req, ABORT, 1, NULL, 0);
    send_all(fd, req.p, req.len);
    memset(&r, 0, sizeof(r));
    read_responses(fd, &r, 1, 1, NULL);
    ck_assert_uint_eq(r.out.len, 0);
    ck_assert_uint_eq(r.app_status, 1);
    ck_assert_uint_eq(r.proto_status, 0);
    resp_free(&r);
    close(fd);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

static const struct {
    const char *what;
    unsigned char bytes[40];
    size_t len;
    const char *stderr_text;
} bad_records[] = {
    {"version 2", {2, BEGIN, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 16,
     "protocol violation: version 2, expected 1\n"},
    {"reserved byte in BEGIN_REQUEST", {1, BEGIN, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 7, 0, 0, 0}, 16,
     "protocol violation: BEGIN_REQUEST reserved bytes not zero\n"},
    {"STDIN before BEGIN", {1, STDIN_, 0, 1, 0, 1, 0, 0, 'x'}, 9,
     "protocol violation: STDIN for request 1 which was never begun\n"},
    {"nonzero padding", {1, BEGIN, 0, 1, 0, 8, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9}, 18,
     "protocol violation: padding byte 1 of 2 is 0x09\n"},
    {"pair longer than PARAMS", {1, BEGIN, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                 1, PARAMS, 0, 1, 0, 2, 0, 0, 5, 3,
                                 1, PARAMS, 0, 1, 0, 0, 0, 0}, 34,
     "protocol violation: PARAMS: name-value pair longer than its stream\n"},
    {"STDOUT from the client", {1, STDOUT_, 0, 3, 0, 0, 0, 0}, 8,
     "protocol violation: STDOUT record is never sent by a web server\n"},
};

START_TEST(test_mpx_rejects_bad_record)
{
    struct harness_app *app = NULL;
    struct tbuf req = {0};
    struct resp r = {0};
    struct rec rec = {0};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-mpx", NULL), 0);
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    unsigned id = (unsigned)bad_records[_i].bytes[2] << 8 | bad_records[_i].bytes[3];
    tb_add(&req, bad_records[_i].bytes, bad_records[_i].len);
    send_all(fd, req.p, req.len);
    struct resp rs[3];
    memset(rs, 0, sizeof(rs));
    read_responses(fd, rs, 3, 1, NULL);
    r = rs[id - 1];
    ck_assert_str_eq(tb_str(&r.err), bad_records[_i].stderr_text);
    ck_assert_uint_eq(r.out.len, 0);
    ck_assert_uint_eq(r.app_status, 99);
    ck_assert_uint_eq(r.proto_status, 0);
    ck_assert_int_eq(read_record(fd, &rec), 0); /* then EOF */
    close(fd);
    resp_free(&r);
    tb_free(&rec.content);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

/* ---- restart, kill, copies ---- */

START_TEST(test_restart_keeps_address)
{
    enum harness_transport t = _i ? HARNESS_UNIX : HARNESS_TCP;
    struct harness_app *app = NULL;
    struct resp r;
    char url[sizeof(app->url)];
    ck_assert_int_eq(harness_app_start(&app, t, "app-echo", NULL), 0);
    snprintf(url, sizeof(url), "%s", app->url);
    int port = app->port;
    roundtrip(app, RESPONDER, get_params, NULL, 0, &r);
    long pid1 = header_num(tb_str(&r.out), "X-Pid");
    ck_assert_int_eq(pid1, app->pid);
    resp_free(&r);

    ck_assert_int_eq(harness_app_kill(app), 0);
    ck_assert_int_eq(app->pid, -1);
    ck_assert_int_eq(harness_app_connect(app), -ECONNREFUSED);

    ck_assert_int_eq(harness_app_restart(app), 0);
    ck_assert_str_eq(app->url, url);
    ck_assert_int_eq(app->port, port);
    roundtrip(app, RESPONDER, get_params, NULL, 0, &r);
    long pid2 = header_num(tb_str(&r.out), "X-Pid");
    ck_assert_int_eq(pid2, app->pid);
    ck_assert_int_ne(pid2, pid1);
    ck_assert_int_eq(header_num(tb_str(&r.out), "X-Conn-Count"), 1);
    resp_free(&r);

    /* restart of a running app, and an app that exits by itself */
    ck_assert_int_eq(harness_app_restart(app), 0);
    ck_assert_int_ne(app->pid, pid2);
    const char *const ex[] = {"QUERY_STRING", "close=exit", NULL};
    struct tbuf req = {0};
    struct rec rec = {0};
    int fd = harness_app_connect(app);
    ck_assert_int_ge(fd, 0);
    put_request(&req, 1, RESPONDER, 0, ex, NULL, 0);
    send_all(fd, req.p, req.len);
    while (read_record(fd, &rec) == 1)
        ck_assert_uint_ne(rec.type, END);
    close(fd);
    for (int i = 0; i < 500 && harness_app_exited(app) == 0; i++)
        usleep(10000);
    ck_assert_int_eq(app->pid, -1);
    tb_free(&rec.content);
    tb_free(&req);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_copies)
{
    struct harness_app *apps[3];
    const char *const args[] = {"-t", "2", NULL};
    ck_assert_int_eq(harness_apps_start(apps, 3, HARNESS_TCP, "app-echo", args), 0);
    ck_assert_int_ne(apps[0]->port, apps[1]->port);
    ck_assert_int_ne(apps[1]->port, apps[2]->port);
    ck_assert_int_ne(apps[0]->port, apps[2]->port);
    for (int i = 0; i < 3; i++) {
        struct resp r;
        roundtrip(apps[i], RESPONDER, get_params, NULL, 0, &r);
        ck_assert_int_eq(header_num(tb_str(&r.out), "X-Pid"), apps[i]->pid);
        resp_free(&r);
    }
    harness_apps_stop(apps, 3);
    ck_assert_ptr_null(apps[0]);
}
END_TEST

START_TEST(test_app_missing)
{
    struct harness_app *app = (struct harness_app *)1;
    char buf[64];
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-does-not-exist", NULL), -ENOENT);
    ck_assert_ptr_null(app);
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "/nonexistent/app", NULL), -ENOENT);
    ck_assert_ptr_null(app);
    ck_assert_int_eq(harness_app_path("app-echo", buf, 4), -ENAMETOOLONG);
    harness_app_stop(NULL);
}
END_TEST

/* ---- PHP-FPM ---- */

START_TEST(test_php_env)
{
    enum harness_transport t = _i ? HARNESS_UNIX : HARNESS_TCP;
    struct harness_app *php = NULL;
    char script[4200];
    struct resp r;
    ck_assert_int_eq(harness_php_start(&php, t, 2), 0);
    ck_assert_int_eq(harness_php_script(php, "env.php", script, sizeof(script)), 0);
    const char *const params[] = {"GATEWAY_INTERFACE", "CGI/1.1", "REQUEST_METHOD", "POST",
                                  "SCRIPT_FILENAME", script, "SCRIPT_NAME", "/env.php",
                                  "REQUEST_URI", "/env.php?a=1", "QUERY_STRING", "a=1",
                                  "CONTENT_TYPE", "application/octet-stream",
                                  "CONTENT_LENGTH", "5", "SERVER_PROTOCOL", "HTTP/1.1",
                                  "HTTP_X_TEST", "yes", NULL};
    roundtrip(php, RESPONDER, params, "hello", 5, &r);
    const char *s = tb_str(&r.out);
    ck_assert_msg(strncmp(s, "Content-type: text/plain", 24) == 0 ||
                      strstr(s, "\r\nContent-type: text/plain") != NULL, "%s", s);
    const char *body = strstr(s, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    char line[4300];
    snprintf(line, sizeof(line), "\nSCRIPT_FILENAME=%s\n", script);
    ck_assert_ptr_nonnull(strstr(body, line));
    ck_assert_ptr_nonnull(strstr(body, "\nREQUEST_METHOD=POST\n"));
    ck_assert_ptr_nonnull(strstr(body, "\nQUERY_STRING=a=1\n"));
    ck_assert_ptr_nonnull(strstr(body, "\nHTTP_X_TEST=yes\n"));
    char tail[128];
    snprintf(tail, sizeof(tail), "\nSTDIN-BYTES=5\nSTDIN-FNV1A64=%016llx\n",
             (unsigned long long)app_fnv1a64(APP_FNV1A64_INIT, "hello", 5));
    ck_assert_str_eq(body + strlen(body) - strlen(tail), tail);
    ck_assert_uint_eq(r.app_status, 0);
    resp_free(&r);

    /* ping path */
    const char *const ping[] = {"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/ping",
                                "SCRIPT_FILENAME", "/ping", NULL};
    roundtrip(php, RESPONDER, ping, NULL, 0, &r);
    body = strstr(tb_str(&r.out), "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body + 4, "pong");
    resp_free(&r);
    harness_app_stop(php);
}
END_TEST

START_TEST(test_php_stderr_upload_restart)
{
    struct harness_app *php = NULL;
    char script[4200];
    struct resp r;
    ck_assert_int_eq(harness_php_start(&php, HARNESS_TCP, 1), 0);
    ck_assert_int_eq(harness_php_script(php, "stderr.php", script, sizeof(script)), 0);
    const char *const p1[] = {"REQUEST_METHOD", "GET", "SCRIPT_FILENAME", script,
                              "QUERY_STRING", "msg=from+php&status=503", NULL};
    roundtrip(php, RESPONDER, p1, NULL, 0, &r);
    ck_assert_ptr_nonnull(strstr(tb_str(&r.err), "from php"));
    ck_assert_int_eq(strncmp(tb_str(&r.out), "Status: 503", 11), 0);
    resp_free(&r);

    int port = php->port;
    ck_assert_int_eq(harness_app_restart(php), 0);
    ck_assert_int_eq(php->port, port);

    size_t n = 300000;
    unsigned char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < n; i++)
        body[i] = app_pattern_byte(i);
    char len[32], expect[256];
    snprintf(len, sizeof(len), "%zu", n);
    ck_assert_int_eq(harness_php_script(php, "upload.php", script, sizeof(script)), 0);
    const char *const p2[] = {"REQUEST_METHOD", "PUT", "SCRIPT_FILENAME", script, "CONTENT_LENGTH",
                              len, "CONTENT_TYPE", "application/octet-stream", NULL};
    roundtrip(php, RESPONDER, p2, body, n, &r);
    snprintf(expect, sizeof(expect), "CONTENT_LENGTH=%zu\nSTDIN-BYTES=%zu\nSTDIN-FNV1A64=%016llx\n",
             n, n, (unsigned long long)app_fnv1a64(APP_FNV1A64_INIT, body, n));
    const char *b = strstr(tb_str(&r.out), "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b + 4, expect);
    resp_free(&r);
    free(body);
    harness_app_stop(php);
}
END_TEST

int main(void)
{
    char bin[4096];
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("app-echo");
    tcase_add_loop_test(tc, test_echo_get, 0, 2);
    tcase_add_test(tc, test_echo_connection_counts);
    tcase_add_test(tc, test_echo_post_stderr_status);
    tcase_add_test(tc, test_echo_authorizer_filter);
    tcase_add_test(tc, test_echo_early_and_close);
    suite_add_tcase(s, tc);

    tc = tcase_create("app-mpx");
    tcase_add_test(tc, test_mpx_multiplexed);
    tcase_add_test(tc, test_mpx_padding_tiny_abort);
    tcase_add_loop_test(tc, test_mpx_rejects_bad_record, 0,
                        (int)(sizeof(bad_records) / sizeof(bad_records[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_loop_test(tc, test_restart_keeps_address, 0, 2);
    tcase_add_test(tc, test_copies);
    tcase_add_test(tc, test_app_missing);
    suite_add_tcase(s, tc);

    if (harness_php_fpm_binary(bin, sizeof(bin)) != NULL) {
        tc = tcase_create("php-fpm");
        tcase_add_loop_test(tc, test_php_env, 0, 2);
        tcase_add_test(tc, test_php_stderr_upload_restart);
        suite_add_tcase(s, tc);
    } else {
        fprintf(stderr, "SKIP php-fpm tests: no php-fpm binary found\n");
    }

    return testutil_run(s);
}
