/* Connection engine, driven without sockets: the test plays the application
 * with canned record bytes, fed one byte at a time, and a clock of its own. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "fcgiclient/conn.h"
#include "fcgiclient/error.h"
#include "testutil.h"

/* ---- what the callbacks saw ---- */
struct seen {
    int heads, ends, values_calls;
    int status;
    char hdrs[512];
    char body[70000];
    size_t body_len;
    char err[512];
    struct fcgic_result res;
    int pause_body;     /* on_body returns FCGIC_PAUSE this many times */
    int pause_head;     /* on_head returns FCGIC_PAUSE */
    int pause_stderr;   /* on_stderr returns FCGIC_PAUSE this many times */
    int fail_body;      /* on_body returns -1 */
    int reenter;        /* on_head calls fcgic_conn_recv */
    int reenter_rc;
    int free_in_end;    /* on_end frees the connection */
    uint16_t abort_id;  /* abort_in_body cancels this request */
    char values[256];
    /* streamed body */
    const char *chunks[8];
    int nchunks, next_chunk, again_at;
};

static int on_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *h)
{
    struct seen *s = ud;
    s->heads++;
    s->status = h->status;
    for (size_t i = 0; i < h->nheaders; i++) {
        size_t l = strlen(s->hdrs);
        snprintf(s->hdrs + l, sizeof s->hdrs - l, "%.*s=%.*s|", (int)h->headers[i].name_len, h->headers[i].name,
                 (int)h->headers[i].value_len, h->headers[i].value);
    }
    for (size_t i = 0; i < h->nvariables; i++) {
        size_t l = strlen(s->hdrs);
        snprintf(s->hdrs + l, sizeof s->hdrs - l, "var:%.*s=%.*s|", (int)h->variables[i].name_len,
                 h->variables[i].name, (int)h->variables[i].value_len, h->variables[i].value);
    }
    if (s->reenter) {
        size_t used;
        s->reenter_rc = fcgic_conn_recv(c, "x", 1, &used, 0);
    }
    return s->pause_head ? FCGIC_PAUSE : 0;
}

static int on_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    struct seen *s = ud;
    (void)c;
    ck_assert_uint_le(s->body_len + n, sizeof s->body);
    memcpy(s->body + s->body_len, d, n);
    s->body_len += n;
    if (s->fail_body)
        return -1;
    if (s->pause_body > 0) {
        s->pause_body--;
        return FCGIC_PAUSE;
    }
    return 0;
}

static int on_stderr(struct fcgic_conn *c, void *ud, const char *line, size_t n)
{
    struct seen *s = ud;
    (void)c;
    size_t l = strlen(s->err);
    snprintf(s->err + l, sizeof s->err - l, "[%.*s]", (int)n, line);
    if (s->pause_stderr > 0) {
        s->pause_stderr--;
        return FCGIC_PAUSE;
    }
    return 0;
}

static void on_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *r)
{
    struct seen *s = ud;
    s->ends++;
    s->res = *r;
    if (s->free_in_end)
        fcgic_conn_free(c);
}

static int body_read(struct fcgic_conn *c, void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct seen *s = ud;
    (void)c;
    (void)stream;
    if (s->again_at == s->next_chunk) {
        s->again_at = -1;
        return FCGIC_BODY_AGAIN;
    }
    if (s->next_chunk == s->nchunks)
        return FCGIC_BODY_EOF;
    chunk->ptr = s->chunks[s->next_chunk];
    chunk->len = strlen(s->chunks[s->next_chunk]);
    s->next_chunk++;
    return FCGIC_BODY_CHUNK;
}

static void on_values(struct fcgic_conn *c, void *ud, const struct fcgic_param *p, size_t n)
{
    struct seen *s = ud;
    (void)c;
    s->values_calls++;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(s->values);
        snprintf(s->values + l, sizeof s->values - l, "%.*s=%.*s|", (int)p[i].name_len, p[i].name,
                 (int)p[i].value_len, p[i].value);
    }
}

static const struct fcgic_conn_callbacks cbs = {.version = FCGIC_CONN_CALLBACKS_VERSION, .on_head = on_head,
                                               .on_body = on_body, .on_stderr = on_stderr, .on_end = on_end,
                                               .body_read = body_read, .on_values = on_values};

/* Take everything the connection wants to send. */
static size_t drain(struct fcgic_conn *c, uint8_t *out, size_t cap)
{
    size_t total = 0;
    for (;;) {
        struct fcgic_iov iov[64];
        size_t n = fcgic_conn_out_iov(c, iov, 64), got = 0;
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_le(total + got + iov[i].len, cap);
            memcpy(out + total + got, iov[i].base, iov[i].len);
            got += iov[i].len;
        }
        ck_assert_int_eq(fcgic_conn_out_done(c, got, 0), 0);
        total += got;
    }
    return total;
}

/* Feed the application's bytes one at a time. Returns the last rc. */
static int feed_bytewise(struct fcgic_conn *c, const uint8_t *in, size_t len, uint64_t now)
{
    for (size_t i = 0; i < len; i++) {
        size_t used = 0;
        int rc = fcgic_conn_recv(c, in + i, 1, &used, now);
        if (rc)
            return rc;
        ck_assert_uint_eq(used, 1);
    }
    return 0;
}

/* Build application output. */
struct app {
    uint8_t b[80000];
    size_t n;
};

static void app_rec(struct app *a, int type, int id, const void *content, size_t clen, int pad)
{
    uint8_t *h = a->b + a->n;
    h[0] = 1;
    h[1] = (uint8_t)type;
    h[2] = (uint8_t)(id >> 8);
    h[3] = (uint8_t)id;
    h[4] = (uint8_t)(clen >> 8);
    h[5] = (uint8_t)clen;
    h[6] = (uint8_t)pad;
    h[7] = 0;
    a->n += 8;
    memcpy(a->b + a->n, content, clen);
    a->n += clen;
    memset(a->b + a->n, 0x5a, (size_t)pad);
    a->n += (size_t)pad;
}

static void app_str(struct app *a, int type, int id, const char *s)
{
    app_rec(a, type, id, s, strlen(s), 0);
}

static void app_end(struct app *a, int id, uint32_t app_status, int proto)
{
    uint8_t b[8] = {(uint8_t)(app_status >> 24), (uint8_t)(app_status >> 16), (uint8_t)(app_status >> 8),
                    (uint8_t)app_status, (uint8_t)proto, 0, 0, 0};
    app_rec(a, 3, id, b, 8, 0);
}

static struct fcgic_conn *mk(const struct fcgic_conn_options *o)
{
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_conn_new(&c, o, &cbs, NULL, NULL), 0);
    return c;
}

START_TEST(test_simple_request)
{
    struct fcgic_conn *c = mk(NULL);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct fcgic_param p[1] = {FCGIC_PARAM_LIT("REQUEST_METHOD", "GET")};
    struct fcgic_request req = {0};
    req.params = p;
    req.nparams = 1;
    uint16_t id = 0;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, &id, 0), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_ACTIVE);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_READ | FCGIC_WANT_WRITE);
    uint8_t out[256];
    size_t n = drain(c, out, sizeof out);
    const uint8_t want[] = {
        1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,                                   /* BEGIN, no keep */
        1, 4, 0, 1, 0, 19, 0, 0, 14, 3, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O',
        'D', 'G', 'E', 'T',                                                                 /* PARAMS */
        1, 4, 0, 1, 0, 0, 0, 0,                                                             /* end PARAMS */
        1, 5, 0, 1, 0, 0, 0, 0,                                                             /* empty STDIN */
    };
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(out, want, sizeof want);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_READ);

    static struct app a;
    a.n = 0;
    app_str(&a, 7, 1, "warn: one\nwarn: t");
    app_rec(&a, 6, 1, "Status: 201 Created\r\nX-A: 1\r\n\r\nhel", 34, 6);
    app_str(&a, 7, 1, "wo\n");
    app_str(&a, 6, 1, "lo");
    app_str(&a, 6, 1, "");
    app_str(&a, 7, 1, "tail");
    app_str(&a, 7, 1, "");
    app_end(&a, 1, 7, 0);
    size_t none = 99;
    ck_assert_int_eq(fcgic_conn_recv(c, NULL, 0, &none, 5), 0); /* no input: a valid call */
    ck_assert_uint_eq(none, 0);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 5), 0);
    ck_assert_int_eq(s.heads, 1);
    ck_assert_int_eq(s.status, 201);
    ck_assert_str_eq(s.hdrs, "Status=201 Created|X-A=1|");
    ck_assert_uint_eq(s.body_len, 5);
    ck_assert_mem_eq(s.body, "hello", 5);
    ck_assert_str_eq(s.err, "[warn: one][warn: two][tail]");
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, 0);
    ck_assert_int_eq(s.res.got_end_request, 1);
    ck_assert_uint_eq(s.res.app_status, 7);
    ck_assert_uint_eq(s.res.stdout_bytes, 36);
    ck_assert_int_eq(s.res.body_sent, 1);
    /* keep_conn off: the application closes; not reusable. */
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_CLOSE);
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), FCGIC_E_BUSY);
    fcgic_conn_free(c);
}
END_TEST

/* ---- on_flush: body pieces gathered by reference until the batch ends ---- */
struct batch {
    const char *piece[8];
    size_t piece_len[8];
    int npieces;
    int flushes, ends;
    int pause_first;          /* on_body returns FCGIC_PAUSE once */
    char flushed[64];         /* what each on_flush saw, "|"-separated */
    char at_end[64];          /* the pieces still gathered at on_end */
};

static void batch_take(struct batch *b, char *out, size_t cap)
{
    size_t l = strlen(out);
    for (int i = 0; i < b->npieces; i++) {
        snprintf(out + l, cap - l, "%.*s", (int)b->piece_len[i], b->piece[i]);
        l = strlen(out);
    }
    snprintf(out + l, cap - l, "|");
    b->npieces = 0;
}

static int b_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    struct batch *b = ud;
    (void)c;
    ck_assert_int_lt(b->npieces, 8);
    b->piece[b->npieces] = d; /* kept, not copied */
    b->piece_len[b->npieces++] = n;
    if (b->pause_first) {
        b->pause_first = 0;
        return FCGIC_PAUSE;
    }
    return 0;
}

static void b_flush(struct fcgic_conn *c, void *ud)
{
    struct batch *b = ud;
    (void)c;
    ck_assert_int_gt(b->npieces, 0); /* only after on_body */
    b->flushes++;
    batch_take(b, b->flushed, sizeof b->flushed);
}

static void b_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *r)
{
    struct batch *b = ud;
    (void)c;
    ck_assert_int_eq(r->error, 0);
    b->ends++;
    batch_take(b, b->at_end, sizeof b->at_end);
}

static const struct fcgic_conn_callbacks batch_cbs = {
    .version = FCGIC_CONN_CALLBACKS_VERSION, .on_body = b_body, .on_flush = b_flush, .on_end = b_end};

/* Feed in one call from a buffer that is scribbled over afterwards: what a
 * callback saw after the call returned would show the scribbles. */
static int feed_once(struct fcgic_conn *c, const struct app *a, size_t *used)
{
    static uint8_t buf[sizeof a->b];
    memcpy(buf, a->b, a->n);
    int rc = fcgic_conn_recv(c, buf, a->n, used, 0);
    memset(buf, '#', a->n);
    return rc;
}

START_TEST(test_flush_batches)
{
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    o.max_requests = 2;
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_conn_new(&c, &o, &batch_cbs, NULL, NULL), 0);
    static struct batch b[2];
    memset(b, 0, sizeof b);
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &b[0], NULL, 0), 0);
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &b[1], NULL, 0), 0);
    static uint8_t out[4096];
    drain(c, out, sizeof out);

    /* Interleaved records of two requests in one read: one flush each, at
     * the end of the read, with every piece still readable. */
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\naa");
    app_str(&a, 6, 2, "X: 2\r\n\r\nbb");
    app_str(&a, 6, 1, "cc");
    app_str(&a, 7, 1, "a line\n");
    app_str(&a, 6, 1, "dd");
    size_t used;
    ck_assert_int_eq(feed_once(c, &a, &used), 0);
    ck_assert_uint_eq(used, a.n);
    ck_assert_int_eq(b[0].flushes, 1);
    ck_assert_str_eq(b[0].flushed, "aaccdd|");
    ck_assert_int_eq(b[1].flushes, 1);
    ck_assert_str_eq(b[1].flushed, "bb|");

    /* A read without body for a request: no flush for it. A request that
     * ends in the read: on_end, not on_flush, ends its batch. */
    a.n = 0;
    app_str(&a, 6, 2, "ee");
    app_str(&a, 6, 2, "");
    app_end(&a, 2, 0, 0);
    ck_assert_int_eq(feed_once(c, &a, &used), 0);
    ck_assert_int_eq(b[0].flushes, 1);
    ck_assert_int_eq(b[1].flushes, 1);
    ck_assert_int_eq(b[1].ends, 1);
    ck_assert_str_eq(b[1].at_end, "ee|");

    /* A pause: the read stops early, and the batch still ends before the
     * call returns. */
    b[0].pause_first = 1;
    a.n = 0;
    app_str(&a, 6, 1, "ff");
    app_str(&a, 6, 1, "gg");
    ck_assert_int_eq(feed_once(c, &a, &used), 0);
    ck_assert_uint_lt(used, a.n);
    ck_assert_int_eq(b[0].flushes, 2);
    ck_assert_str_eq(b[0].flushed, "aaccdd|ff|");
    fcgic_conn_unpause(c);
    static struct app rest;
    rest.n = a.n - used;
    memcpy(rest.b, a.b + used, rest.n);
    app_str(&rest, 6, 1, "");
    app_end(&rest, 1, 0, 0);
    ck_assert_int_eq(feed_once(c, &rest, &used), 0);
    ck_assert_int_eq(b[0].flushes, 2);
    ck_assert_int_eq(b[0].ends, 1);
    ck_assert_str_eq(b[0].at_end, "gg|");
    fcgic_conn_free(c);
}
END_TEST

/* A caller built against the first version of the callbacks passes the
 * shorter struct: nothing past it is read (AddressSanitizer checks). */
START_TEST(test_callbacks_version_1)
{
    size_t v1 = offsetof(struct fcgic_conn_callbacks, on_flush);
    unsigned char *raw = malloc(v1);
    ck_assert_ptr_nonnull(raw);
    memcpy(raw, &cbs, v1);
    const unsigned one = 1;
    memcpy(raw + offsetof(struct fcgic_conn_callbacks, version), &one, sizeof one);
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_conn_new(&c, NULL, (const struct fcgic_conn_callbacks *)(void *)raw, NULL, NULL), 0);
    free(raw);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    static uint8_t out[4096];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\nbody");
    app_str(&a, 6, 1, "");
    app_end(&a, 1, 0, 0);
    size_t used;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), 0);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_mem_eq(s.body, "body", 4);
    fcgic_conn_free(c);
    struct fcgic_conn_callbacks v3 = cbs;
    v3.version = FCGIC_CONN_CALLBACKS_VERSION + 1;
    ck_assert_int_eq(fcgic_conn_new(&c, NULL, &v3, NULL, NULL), FCGIC_E_INVAL);
}
END_TEST

START_TEST(test_keepalive_many)
{
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    for (int i = 0; i < 1000; i++) {
        memset(&s, 0, sizeof s);
        struct fcgic_request req = {0};
        uint16_t id;
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, &id, 0), 0);
        ck_assert_uint_eq(id, i + 1); /* ids rotate: never the previous one */
        uint8_t out[256];
        size_t n = drain(c, out, sizeof out);
        ck_assert_uint_eq(out[10], FCGIC_FLAG_KEEP_CONN);
        ck_assert_uint_eq(n, 16 + 8 + 8);
        ck_assert_uint_eq(out[2] << 8 | out[3], id);
        static struct app a;
        a.n = 0;
        app_str(&a, 6, id, "Content-Type: text/plain\r\n\r\nok");
        app_str(&a, 6, id, "");
        app_end(&a, id, 0, 0);
        size_t used;
        ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), 0);
        ck_assert_uint_eq(used, a.n);
        ck_assert_int_eq(s.ends, 1);
        ck_assert_mem_eq(s.body, "ok", 2);
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
    }
    /* The application closing an idle connection is not an error. */
    ck_assert_int_eq(fcgic_conn_recv_eof(c, 0), 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_protocol_violations)
{
    struct {
        int type, id;
        int want;
    } cases[] = {
        {6, 2, FCGIC_E_UNKNOWN_ID}, {4, 1, FCGIC_E_BAD_TYPE}, {5, 1, FCGIC_E_BAD_TYPE},
        {1, 1, FCGIC_E_BAD_LENGTH} /* BEGIN_REQUEST with 3 bytes */,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fcgic_conn *c = mk(NULL);
        static struct seen s;
        memset(&s, 0, sizeof s);
        struct fcgic_request req = {0};
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
        uint8_t out[256];
        drain(c, out, sizeof out);
        static struct app a;
        a.n = 0;
        app_str(&a, cases[i].type, cases[i].id, "abc");
        ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), cases[i].want);
        ck_assert_int_eq(s.ends, 1);
        ck_assert_int_eq(s.res.error, cases[i].want);
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_FAILED);
        ck_assert_int_eq(fcgic_conn_error(c), cases[i].want);
        size_t used;
        ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), cases[i].want); /* sticky */
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), FCGIC_E_CONN_FAILED);
        fcgic_conn_free(c);
    }
    /* Records after END_REQUEST (keep-alive connection). */
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\n");
    app_end(&a, 1, 0, 0);
    app_str(&a, 6, 1, "late");
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), FCGIC_E_AFTER_END);
    fcgic_conn_free(c);
    /* A STDERR record after the end of the STDERR stream, as for STDOUT. */
    c = mk(NULL);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    a.n = 0;
    app_str(&a, 7, 1, "a\n");
    app_str(&a, 7, 1, "");
    app_str(&a, 7, 1, "");
    app_str(&a, 7, 1, "b\n");
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), FCGIC_E_AFTER_STREAM_END);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, FCGIC_E_AFTER_STREAM_END);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_streamed_body_backpressure)
{
    struct fcgic_conn *c = mk(NULL);
    static struct seen s;
    memset(&s, 0, sizeof s);
    s.chunks[0] = "hello ";
    s.chunks[1] = "world";
    s.nchunks = 2;
    s.again_at = 1; /* second pull says "not yet" */
    struct fcgic_request req = {0};
    req.stdin_mode = FCGIC_BODY_STREAM;
    uint16_t id;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, &id, 0), 0);
    /* Only the first chunk is queued until it is written. */
    ck_assert_int_eq(s.next_chunk, 1);
    uint8_t out[512];
    size_t n = drain(c, out, sizeof out);
    ck_assert_uint_eq(n, 16 + 8 + 8 + 6);
    ck_assert_mem_eq(out + 32, "hello ", 6);
    ck_assert_uint_eq(fcgic_conn_out_pending(c), 0); /* waiting: AGAIN */
    ck_assert_int_eq(fcgic_conn_resume(c, id, 0), 0);
    n = drain(c, out, sizeof out);
    const uint8_t want[] = {1, 5, 0, 1, 0, 5, 0, 0, 'w', 'o', 'r', 'l', 'd', 1, 5, 0, 1, 0, 0, 0, 0};
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(out, want, sizeof want);
    ck_assert_int_eq(fcgic_conn_resume(c, 9, 0), FCGIC_E_NOT_FOUND);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_answer_before_body)
{
    /* The application answers and ends while the body is still queued: the
     * rest of the body is dropped (the application may never read it), on_end
     * comes at once, and the connection is not reused. */
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    memset(&s, 0, sizeof s);
    static char body[200000];
    memset(body, 'b', sizeof body);
    struct fcgic_request req = {0};
    req.stdin_mode = FCGIC_BODY_BUFFER;
    req.stdin_data = body;
    req.stdin_len = sizeof body;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    struct fcgic_iov iov[8];
    size_t k = fcgic_conn_out_iov(c, iov, 8);
    ck_assert_uint_ge(k, 2);
    ck_assert_int_eq(fcgic_conn_out_done(c, iov[0].len, 0), 0); /* BEGIN + PARAMS only */
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "Status: 413 Too Large\r\n\r\n");
    app_str(&a, 6, 1, "");
    app_end(&a, 1, 0, 0);
    size_t used;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), 0);
    ck_assert_int_eq(s.heads, 1);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.status, 413);
    ck_assert_int_eq(s.res.error, 0);
    ck_assert_int_eq(s.res.body_sent, 0);
    ck_assert_uint_eq(fcgic_conn_out_pending(c), 0);
    ck_assert_uint_eq(fcgic_conn_out_iov(c, iov, 8), 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_CLOSE);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_multiplexed)
{
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    o.max_requests = 3;
    struct fcgic_conn *c = mk(&o);
    static struct seen s[4];
    memset(s, 0, sizeof s);
    struct fcgic_request req = {0};
    uint16_t ids[4];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &s[i], &ids[i], 0), 0);
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s[3], &ids[3], 0), FCGIC_E_BUSY);
    ck_assert_uint_eq(ids[0], 1);
    ck_assert_uint_eq(ids[2], 3);
    ck_assert_uint_eq(fcgic_conn_active(c), 3);
    static uint8_t out[4096];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 3, "X: 3\r\n\r\nthree");
    app_str(&a, 6, 1, "X: 1\r\n\r\none");
    app_str(&a, 6, 2, "X: 2\r\n\r\ntwo");
    app_str(&a, 6, 3, "");
    app_end(&a, 3, 3, 0);
    app_str(&a, 6, 2, "");
    app_end(&a, 2, 2, 0);
    app_str(&a, 6, 1, "");
    app_end(&a, 1, 1, 0);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), 0);
    ck_assert_str_eq(s[0].body, "one");
    ck_assert_str_eq(s[1].body, "two");
    ck_assert_str_eq(s[2].body, "three");
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(s[i].res.app_status, (unsigned)i + 1);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
    fcgic_conn_free(c);
}
END_TEST

/* Submit one request, take its bytes, cancel it, check the ABORT_REQUEST
 * record, then feed the application's late answer for it; returns the
 * connection for the caller's last checks. */
static struct fcgic_conn *abort_and_answer(int polite, struct seen *s, int ends_at_abort)
{
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    o.polite_abort = polite;
    struct fcgic_conn *c = mk(&o);
    memset(s, 0, sizeof *s);
    struct fcgic_request req = {0};
    uint16_t id;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, s, &id, 0), 0);
    uint8_t out[256];
    drain(c, out, sizeof out);
    ck_assert_int_eq(fcgic_conn_abort(c, id), 0);
    ck_assert_int_eq(s->ends, ends_at_abort);
    size_t n = drain(c, out, sizeof out);
    const uint8_t want[] = {1, 2, 0, 1, 0, 0, 0, 0};
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(out, want, 8);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\nignored");
    app_end(&a, 1, 1, 0);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), 0);
    ck_assert_int_eq(s->heads, 0);
    ck_assert_uint_eq(s->body_len, 0);
    ck_assert_int_eq(s->ends, 1);
    ck_assert_int_eq(s->res.aborted, 1);
    ck_assert_int_eq(fcgic_conn_abort(c, id), FCGIC_E_NOT_FOUND);
    return c;
}

START_TEST(test_abort)
{
    /* Default: the request ends inside fcgic_conn_abort(); its id stays
     * reserved, so what the application still sends for it is dropped, and
     * the connection is retired. */
    static struct seen s;
    struct fcgic_conn *c = abort_and_answer(0, &s, 1);
    ck_assert_int_eq(s.res.error, FCGIC_E_ABORTED);
    ck_assert_int_eq(s.res.got_end_request, 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_CLOSE);
    fcgic_conn_free(c);
}
END_TEST

/* Cancel from inside a callback: on_end runs once that engine call is over,
 * and nothing else runs for the request. */
static int abort_in_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    struct seen *s = ud;
    (void)d;
    s->body_len += n;
    ck_assert_int_eq(fcgic_conn_abort(c, s->abort_id), 0);
    ck_assert_int_eq(s->ends, 0);
    return 0;
}

START_TEST(test_abort_from_callback)
{
    struct fcgic_conn_callbacks cb = cbs;
    cb.on_body = abort_in_body;
    struct fcgic_conn *c;
    static struct seen s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(fcgic_conn_new(&c, NULL, &cb, &s, NULL), 0);
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, &s.abort_id, 0), 0);
    uint8_t out[256];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\nfirst");
    app_str(&a, 6, 1, "second");
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, NULL, 0), 0);
    ck_assert_int_eq(s.heads, 1);
    ck_assert_uint_eq(s.body_len, 5);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, FCGIC_E_ABORTED);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_abort_polite)
{
    /* polite_abort: ABORT_REQUEST, and on_end at the application's
     * END_REQUEST; the connection stays usable. */
    static struct seen s;
    struct fcgic_conn *c = abort_and_answer(1, &s, 0);
    ck_assert_int_eq(s.res.error, 0);
    ck_assert_int_eq(s.res.got_end_request, 1);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_timeouts)
{
    const uint64_t ms = 1000000;
    struct {
        struct fcgic_timeouts to;
        uint64_t stdout_at; /* 0 = never */
        uint64_t expire;
        int want;
    } cases[] = {
        {{100 * ms, 0, 0}, 0, 100 * ms, FCGIC_E_TIMEOUT_FIRST_BYTE},
        {{0, 50 * ms, 0}, 30 * ms, 80 * ms, FCGIC_E_TIMEOUT_IDLE},
        {{0, 50 * ms, 120 * ms}, 40 * ms, 90 * ms, FCGIC_E_TIMEOUT_IDLE},
        {{0, 50 * ms, 120 * ms}, 40 * ms, 90 * ms, FCGIC_E_TIMEOUT_IDLE},
        {{0, 0, 120 * ms}, 30 * ms, 120 * ms, FCGIC_E_TIMEOUT_TOTAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fcgic_conn_options o = {0};
        o.keep_conn = 1;
        struct fcgic_conn *c = mk(&o);
        static struct seen s;
        memset(&s, 0, sizeof s);
        struct fcgic_request req = {0};
        req.timeouts = cases[i].to;
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
        uint8_t out[256];
        drain(c, out, sizeof out);
        static struct app a;
        a.n = 0;
        app_str(&a, 6, 1, "X: 1\r\n\r\n");
        if (cases[i].stdout_at) {
            size_t used;
            ck_assert_int_eq(fcgic_conn_tick(c, cases[i].stdout_at), 0);
            ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, cases[i].stdout_at), 0);
        }
        ck_assert_uint_eq(fcgic_conn_deadline(c), cases[i].expire);
        ck_assert_int_eq(fcgic_conn_tick(c, cases[i].expire - 1), 0);
        ck_assert_int_eq(s.ends, 0);
        ck_assert_int_eq(fcgic_conn_tick(c, cases[i].expire), 0);
        ck_assert_int_eq(s.ends, 1);
        ck_assert_int_eq(s.res.error, cases[i].want);
        /* ABORT_REQUEST goes out; the late END_REQUEST is absorbed. */
        size_t n = drain(c, out, sizeof out);
        ck_assert_uint_eq(n, 8);
        ck_assert_uint_eq(out[1], FCGIC_TYPE_ABORT_REQUEST);
        ck_assert_uint_eq(fcgic_conn_active(c), 1);
        a.n = 0;
        app_str(&a, 6, 1, "late");
        app_end(&a, 1, 0, 0);
        ck_assert_int_eq(feed_bytewise(c, a.b, a.n, cases[i].expire + 1), 0);
        ck_assert_int_eq(s.ends, 1);
        ck_assert_uint_eq(fcgic_conn_active(c), 0);
        ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
        fcgic_conn_free(c);
    }
    /* Connect timeout. */
    struct fcgic_conn_options o = {0};
    o.connect_timeout_ns = 10 * ms;
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(fcgic_conn_connecting(c, 100), 0);
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 100), 0);
    struct fcgic_iov iov[4];
    ck_assert_uint_eq(fcgic_conn_out_iov(c, iov, 4), 0);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_WRITE);
    ck_assert_uint_eq(fcgic_conn_deadline(c), 100 + 10 * ms);
    ck_assert_int_eq(fcgic_conn_tick(c, 100 + 10 * ms), FCGIC_E_TIMEOUT_CONNECT);
    ck_assert_int_eq(s.res.error, FCGIC_E_TIMEOUT_CONNECT);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_connect_timeout_saturates)
{
    /* A connect timeout so long that now + timeout passes 2^64 means "no
     * practical limit": it must not wrap into a deadline in the past. */
    struct fcgic_conn_options o = {0};
    o.connect_timeout_ns = UINT64_MAX - 10;
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(fcgic_conn_connecting(c, 1000), 0);
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 1000), 0);
    ck_assert_uint_eq(fcgic_conn_deadline(c), UINT64_MAX);
    ck_assert_int_eq(fcgic_conn_tick(c, 2000), 0);
    ck_assert_int_eq(s.ends, 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_CONNECTING);
    ck_assert_int_eq(fcgic_conn_connected(c, 3000), 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_ACTIVE);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_eof_and_truncation)
{
    for (int mid_record = 0; mid_record < 2; mid_record++) {
        struct fcgic_conn *c = mk(NULL);
        static struct seen s;
        memset(&s, 0, sizeof s);
        struct fcgic_request req = {0};
        ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
        uint8_t out[256];
        drain(c, out, sizeof out);
        static struct app a;
        a.n = 0;
        app_str(&a, 6, 1, "X: 1\r\n\r\nbody");
        size_t used;
        ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n - (size_t)mid_record, &used, 0), 0);
        int want = mid_record ? FCGIC_E_TRUNCATED : FCGIC_E_PEER_CLOSED;
        ck_assert_int_eq(fcgic_conn_recv_eof(c, 0), want);
        ck_assert_int_eq(s.res.error, want);
        ck_assert_int_eq(s.res.response_started, 1);
        fcgic_conn_free(c);
    }
}
END_TEST

START_TEST(test_pause_and_callback_errors)
{
    struct fcgic_conn *c = mk(NULL);
    static struct seen s;
    memset(&s, 0, sizeof s);
    s.pause_body = 1;
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    uint8_t out[256];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\nabc");
    app_str(&a, 6, 1, "def");
    app_str(&a, 6, 1, "");
    app_end(&a, 1, 0, 0);
    size_t used;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), 0);
    ck_assert_uint_lt(used, a.n);
    ck_assert_uint_eq(s.body_len, 3);
    /* paused: no reading until input is fed again or unpaused */
    ck_assert_int_eq(fcgic_conn_input_paused(c), 1);
    ck_assert_uint_eq(fcgic_conn_wants(c) & FCGIC_WANT_READ, 0);
    fcgic_conn_unpause(c);
    ck_assert_uint_eq(fcgic_conn_wants(c) & FCGIC_WANT_READ, FCGIC_WANT_READ);
    size_t used2;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b + used, a.n - used, &used2, 0), 0);
    ck_assert_uint_eq(used + used2, a.n);
    ck_assert_mem_eq(s.body, "abcdef", 6);
    ck_assert_int_eq(s.ends, 1);
    fcgic_conn_free(c);

    /* Re-entering recv from a callback is refused; free from on_end is
     * deferred safely. */
    c = mk(NULL);
    memset(&s, 0, sizeof s);
    s.reenter = 1;
    s.free_in_end = 1;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    drain(c, out, sizeof out);
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), 0);
    ck_assert_int_eq(s.reenter_rc, FCGIC_E_REENTRANT);
    ck_assert_int_eq(s.ends, 1); /* c is gone now */

    /* A failing callback fails only its request, with FCGIC_E_CALLBACK. */
    c = mk(NULL);
    memset(&s, 0, sizeof s);
    s.fail_body = 1;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    drain(c, out, sizeof out);
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 0), 0);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, FCGIC_E_CALLBACK);
    ck_assert_uint_eq(s.body_len, 3);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_pause_stops_idle_timer)
{
    /* A slow reader is not a silent application: while paused the idle
     * timer waits, and it counts from the moment reading resumes. */
    const uint64_t ms = 1000000;
    struct fcgic_conn *c = mk(NULL);
    static struct seen s;
    memset(&s, 0, sizeof s);
    s.pause_body = 1;
    struct fcgic_request req = {0};
    req.timeouts.idle = 50 * ms;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    uint8_t out[256];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\nabc");
    app_str(&a, 6, 1, "def");
    app_end(&a, 1, 0, 0);
    size_t used;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 10 * ms), 0);
    ck_assert_int_eq(fcgic_conn_input_paused(c), 1);
    ck_assert_uint_eq(fcgic_conn_deadline(c), FCGIC_NO_DEADLINE);
    ck_assert_int_eq(fcgic_conn_tick(c, 500 * ms), 0);
    ck_assert_int_eq(s.ends, 0);
    /* reading resumes at 600 ms: idle runs from there */
    size_t used2;
    s.pause_body = 0;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b + used, 0, &used2, 600 * ms), 0);
    ck_assert_uint_eq(fcgic_conn_deadline(c), 650 * ms);
    ck_assert_int_eq(fcgic_conn_recv(c, a.b + used, a.n - used, &used2, 610 * ms), 0);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, 0);
    ck_assert_mem_eq(s.body, "abcdef", 6);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_pause_byte_counts)
{
    /* Input handed back by FCGIC_PAUSE and fed again is counted once in
     * stdout_bytes / stderr_bytes (and against the STDERR cap). */
    struct fcgic_conn_options o = {0};
    o.max_stderr_bytes = 8; /* the STDERR below is 8 bytes: exactly at the cap */
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    memset(&s, 0, sizeof s);
    s.pause_head = 1;
    s.pause_stderr = 2;
    struct fcgic_request req = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    uint8_t out[256];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "X: 1\r\n\r\nabc"); /* on_head pauses before "abc" */
    app_str(&a, 6, 1, "def");
    app_str(&a, 6, 1, "");
    app_str(&a, 7, 1, "e1\ne2\ne3"); /* on_stderr pauses twice inside */
    app_str(&a, 7, 1, "");
    app_end(&a, 1, 0, 0);
    size_t pos = 0;
    int calls = 0;
    while (pos < a.n) {
        size_t used = 0;
        ck_assert_int_eq(fcgic_conn_recv(c, a.b + pos, a.n - pos, &used, 0), 0);
        pos += used;
        ck_assert_int_lt(++calls, 10);
    }
    ck_assert_int_eq(calls, 4); /* three pauses */
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, 0);
    ck_assert_uint_eq(s.body_len, 6);
    ck_assert_mem_eq(s.body, "abcdef", 6);
    ck_assert_str_eq(s.err, "[e1][e2][e3]");
    ck_assert_uint_eq(s.res.stdout_bytes, 14);
    ck_assert_uint_eq(s.res.stderr_bytes, 8);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_get_values_and_authorizer)
{
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_conn_new(&c, &o, &cbs, &s, NULL), 0);
    const char *names[] = {"FCGI_MAX_CONNS", "FCGI_MPXS_CONNS"};
    ck_assert_int_eq(fcgic_conn_get_values(c, names, 2), 0);
    uint8_t out[256];
    size_t n = drain(c, out, sizeof out);
    ck_assert_uint_eq(n, 8 + 16 + 17);
    ck_assert_uint_eq(out[1], FCGIC_TYPE_GET_VALUES);
    static struct app a;
    a.n = 0;
    app_rec(&a, 10, 0, "\x0e\x02" "FCGI_MAX_CONNS" "10" "\x0f\x01" "FCGI_MPXS_CONNS" "1", 36, 6);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), 0);
    ck_assert_int_eq(s.values_calls, 1);
    ck_assert_str_eq(s.values, "FCGI_MAX_CONNS=10|FCGI_MPXS_CONNS=1|");
    /* An empty answer (the application knows none of the names). */
    ck_assert_int_eq(fcgic_conn_get_values(c, names, 1), 0);
    drain(c, out, sizeof out);
    a.n = 0;
    app_rec(&a, 10, 0, "", 0, 0);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), 0);
    ck_assert_int_eq(s.values_calls, 2);
    /* AUTHORIZER: Variable-* surfaced separately. */
    struct fcgic_request req = {0};
    req.role = FCGIC_ROLE_AUTHORIZER;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    n = drain(c, out, sizeof out);
    ck_assert_uint_eq(out[9], FCGIC_ROLE_AUTHORIZER);
    a.n = 0;
    app_str(&a, 6, 1, "Status: 200\r\nVariable-AUTH_USER: alice\r\n\r\n");
    app_end(&a, 1, 0, 0);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), 0);
    ck_assert_str_eq(s.hdrs, "Status=200|var:AUTH_USER=alice|");
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_filter_role)
{
    struct fcgic_conn *c = mk(NULL);
    static struct seen s;
    memset(&s, 0, sizeof s);
    struct fcgic_request req = {0};
    req.role = FCGIC_ROLE_FILTER;
    req.stdin_mode = FCGIC_BODY_BUFFER;
    req.stdin_data = "in";
    req.stdin_len = 2;
    req.data_mode = FCGIC_BODY_BUFFER;
    req.data = "file";
    req.data_len = 4;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    uint8_t out[256];
    size_t n = drain(c, out, sizeof out);
    const uint8_t want[] = {
        1, 1, 0, 1, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0,
        1, 4, 0, 1, 0, 19, 0, 0, 16, 1, 'F', 'C', 'G', 'I', '_', 'D', 'A', 'T', 'A', '_', 'L', 'E', 'N', 'G', 'T',
        'H', '4',
        1, 4, 0, 1, 0, 0, 0, 0,
        1, 5, 0, 1, 0, 2, 0, 0, 'i', 'n',
        1, 5, 0, 1, 0, 0, 0, 0,
        1, 8, 0, 1, 0, 4, 0, 0, 'f', 'i', 'l', 'e',
        1, 8, 0, 1, 0, 0, 0, 0,
    };
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(out, want, sizeof want);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_caps)
{
    struct fcgic_conn_options o = {0};
    o.max_params_bytes = 100;
    o.max_stderr_bytes = 10;
    o.max_stderr_line = 4;
    struct fcgic_conn *c = mk(&o);
    static char v[200];
    memset(v, 'v', sizeof v);
    struct fcgic_param p[1] = {{"BIG", 3, v, sizeof v}};
    struct fcgic_request req = {0};
    req.params = p;
    req.nparams = 1;
    static struct seen s;
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), FCGIC_E_PARAMS_TOO_BIG);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
    req.nparams = 0;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, &s, NULL, 0), 0);
    uint8_t out[256];
    drain(c, out, sizeof out);
    static struct app a;
    a.n = 0;
    app_str(&a, 7, 1, "abcdefg\nhi");
    app_str(&a, 7, 1, "0123456789");
    app_end(&a, 1, 0, 0);
    ck_assert_int_eq(feed_bytewise(c, a.b, a.n, 0), 0);
    ck_assert_str_eq(s.err, "[abcd][efg]"); /* then the cap ends it */
    ck_assert_int_eq(s.res.error, FCGIC_E_STDERR_TOO_BIG);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_alloc_failures)
{
    int completed = 0;
    for (long n = 1; n < 200 && !completed; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct fcgic_conn *c = NULL;
        static struct seen s;
        memset(&s, 0, sizeof s);
        int rc = fcgic_conn_new(&c, NULL, &cbs, NULL, &fa.mem);
        if (rc == 0) {
            struct fcgic_param p[1] = {FCGIC_PARAM_LIT("A", "b")};
            struct fcgic_request req = {0};
            req.params = p;
            req.nparams = 1;
            rc = fcgic_conn_submit(c, &req, &s, NULL, 0);
        }
        if (rc == 0) {
            uint8_t out[256];
            drain(c, out, sizeof out);
            static struct app a;
            a.n = 0;
            app_str(&a, 7, 1, "partial line");
            app_str(&a, 6, 1, "X: 1\r\n");
            app_str(&a, 6, 1, "\r\nbody");
            app_end(&a, 1, 0, 0);
            rc = feed_bytewise(c, a.b, a.n, 0);
            if (rc == 0 && s.ends == 1 && s.res.error == 0)
                completed = 1;
            else if (rc == 0)
                rc = s.res.error;
        }
        if (!completed)
            ck_assert_msg(rc == FCGIC_E_NOMEM || rc == FCGIC_E_CONN_FAILED, "alloc %ld: rc %d", n, rc);
        fcgic_conn_free(c);
        ck_assert_int_eq(fa.live, 0);
    }
    ck_assert_int_eq(completed, 1);
}
END_TEST

/* Submit a request whose buffered body is `len` bytes of 'b' in memory the
 * caller owns and frees; returns that memory. */
static char *submit_owned_body(struct fcgic_conn *c, struct seen *s, size_t len, struct fcgic_timeouts to)
{
    char *body = malloc(len);
    ck_assert_ptr_nonnull(body);
    memset(body, 'b', len);
    struct fcgic_request req = {0};
    req.stdin_mode = FCGIC_BODY_BUFFER;
    req.stdin_data = body;
    req.stdin_len = len;
    req.timeouts = to;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, s, NULL, 0), 0);
    return body;
}

START_TEST(test_timeout_releases_body)
{
    /* A request times out while its buffered body is still queued: on_end
     * comes at once, the caller frees the body, and the bytes still go out
     * intact (the engine copied them). */
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    struct fcgic_conn *c = mk(&o);
    static struct seen s;
    memset(&s, 0, sizeof s);
    size_t len = 150000;
    struct fcgic_timeouts to = {0, 0, 1000};
    char *body = submit_owned_body(c, &s, len, to);
    static uint8_t out[200000];
    struct fcgic_iov iov[8];
    size_t k = fcgic_conn_out_iov(c, iov, 8), n = 0;
    ck_assert_uint_ge(k, 2);
    /* the first piece (BEGIN, PARAMS, a STDIN header) and 1000 body bytes */
    memcpy(out, iov[0].base, iov[0].len);
    memcpy(out + iov[0].len, iov[1].base, 1000);
    n = iov[0].len + 1000;
    ck_assert_int_eq(fcgic_conn_out_done(c, n, 0), 0);
    ck_assert_int_eq(fcgic_conn_tick(c, 1000), 0);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, FCGIC_E_TIMEOUT_TOTAL);
    free(body); /* the caller may now release it */
    n += drain(c, out + n, sizeof out - n);
    /* walk the records: STDIN content is all 'b' and complete, ABORT last */
    size_t pos = 0, body_bytes = 0;
    int aborted = 0;
    while (pos + 8 <= n) {
        size_t cl = ((size_t)out[pos + 4] << 8) | out[pos + 5];
        ck_assert_uint_le(pos + 8 + cl, n);
        if (out[pos + 1] == FCGIC_TYPE_STDIN) {
            for (size_t i = 0; i < cl; i++)
                ck_assert_uint_eq(out[pos + 8 + i], 'b');
            body_bytes += cl;
        }
        aborted = out[pos + 1] == FCGIC_TYPE_ABORT_REQUEST;
        pos += 8 + cl;
    }
    ck_assert_uint_eq(pos, n);
    ck_assert_uint_eq(body_bytes, len);
    ck_assert_int_eq(aborted, 1);
    fcgic_conn_free(c);
}
END_TEST

START_TEST(test_ending_times_out)
{
    /* END_REQUEST arrives while the body is still queued ahead of another
     * multiplexed request's records, and the application takes no more: the
     * request's timer still ends it. */
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    o.max_requests = 2;
    struct fcgic_conn *c = mk(&o);
    static struct seen s, s2;
    memset(&s, 0, sizeof s);
    memset(&s2, 0, sizeof s2);
    struct fcgic_timeouts to = {0, 500, 0};
    char *body = submit_owned_body(c, &s, 200000, to);
    struct fcgic_request other = {0};
    ck_assert_int_eq(fcgic_conn_submit(c, &other, &s2, NULL, 0), 0);
    struct fcgic_iov iov[8];
    ck_assert_uint_ge(fcgic_conn_out_iov(c, iov, 8), 2);
    ck_assert_int_eq(fcgic_conn_out_done(c, iov[0].len, 0), 0);
    static struct app a;
    a.n = 0;
    app_str(&a, 6, 1, "Status: 413 Too Large\r\n\r\n");
    app_str(&a, 6, 1, "");
    app_end(&a, 1, 0, 0);
    size_t used;
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 100), 0);
    ck_assert_int_eq(s.ends, 0);
    ck_assert_uint_eq(fcgic_conn_deadline(c), 600);
    ck_assert_int_eq(fcgic_conn_tick(c, 600), 0);
    ck_assert_int_eq(s.ends, 1);
    ck_assert_int_eq(s.res.error, 0);
    ck_assert_int_eq(s.res.got_end_request, 1);
    ck_assert_int_eq(s.res.body_sent, 0);
    free(body);
    static uint8_t out[300000];
    drain(c, out, sizeof out); /* reads only the engine's own copy */
    ck_assert_int_eq(s2.ends, 0);
    a.n = 0;
    app_str(&a, 6, 2, "X: 1\r\n\r\nok");
    app_end(&a, 2, 0, 0);
    ck_assert_int_eq(fcgic_conn_recv(c, a.b, a.n, &used, 700), 0);
    ck_assert_int_eq(s2.ends, 1);
    ck_assert_int_eq(s2.res.error, 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_DONE);
    fcgic_conn_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("requests");
    tcase_add_test(tc, test_simple_request);
    tcase_add_test(tc, test_keepalive_many);
    tcase_add_test(tc, test_multiplexed);
    tcase_add_test(tc, test_flush_batches);
    tcase_add_test(tc, test_callbacks_version_1);
    tcase_add_test(tc, test_get_values_and_authorizer);
    tcase_add_test(tc, test_filter_role);
    suite_add_tcase(s, tc);
    tc = tcase_create("body");
    tcase_add_test(tc, test_streamed_body_backpressure);
    tcase_add_test(tc, test_answer_before_body);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_protocol_violations);
    tcase_add_test(tc, test_eof_and_truncation);
    tcase_add_test(tc, test_pause_and_callback_errors);
    tcase_add_test(tc, test_caps);
    tcase_add_test(tc, test_pause_byte_counts);
    tcase_add_test(tc, test_pause_stops_idle_timer);
    tcase_add_test(tc, test_abort);
    tcase_add_test(tc, test_abort_from_callback);
    tcase_add_test(tc, test_abort_polite);
    suite_add_tcase(s, tc);
    tc = tcase_create("timers");
    tcase_add_test(tc, test_timeouts);
    tcase_add_test(tc, test_timeout_releases_body);
    tcase_add_test(tc, test_ending_times_out);
    tcase_add_test(tc, test_connect_timeout_saturates);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
