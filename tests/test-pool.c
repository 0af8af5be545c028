/* Tests of the connection pool: reuse on and off, most-recently-used order,
 * max with a bounded queue and acquire timeout, stale kept connections,
 * ttl, GET_VALUES, OVERLOADED, allocation failures; then integration tests
 * against real app-echo processes through the POSIX transport. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "fcgiclient/error.h"
#include "fcgiclient/pool.h"
#include "fcgiclient/posix.h"
#include "harness.h"
#include "pool-fake.h"

#define SEC 1000000000ull

struct ctx {
    struct fake fk;
    struct fcgic_transport tr;
    struct fcgic_pool *p;
    int ends, err, aborted, body_reads;
    char body[256];
    char events[512];
    const char *stream;  /* body handed out by body_read */
    size_t stream_pos;
};

static int c_body(void *ud, const char *d, size_t n)
{
    struct ctx *c = ud;
    strncat(c->body, d, n < sizeof(c->body) - strlen(c->body) - 1 ? n : sizeof(c->body) - strlen(c->body) - 1);
    return 0;
}

static void c_end(void *ud, const struct fcgic_result *r)
{
    struct ctx *c = ud;
    c->ends++;
    c->err = r->error;
    c->aborted = r->aborted;
}

static int c_read(void *ud, enum fcgic_type s, struct fcgic_span *chunk)
{
    struct ctx *c = ud;
    (void)s;
    c->body_reads++;
    size_t len = strlen(c->stream);
    if (c->stream_pos >= len)
        return FCGIC_BODY_EOF;
    chunk->ptr = c->stream + c->stream_pos;
    chunk->len = len - c->stream_pos > 4 ? 4 : len - c->stream_pos;
    c->stream_pos += chunk->len;
    return FCGIC_BODY_CHUNK;
}

static void c_event(void *ud, const struct fcgic_event *ev)
{
    struct ctx *c = ud;
    static const char *const names[] = {"", "connect", "reuse", "stale", "close", "values", "qtimeout", "member",
                                        "failover"};
    strncat(c->events, names[ev->kind], sizeof(c->events) - strlen(c->events) - 2);
    strcat(c->events, " ");
}

static struct fcgic_pool_callbacks cbs(void)
{
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_body = c_body;
    cb.on_end = c_end;
    cb.body_read = c_read;
    cb.on_event = c_event;
    return cb;
}

static void setup(struct ctx *c, struct fcgic_pool_options *o)
{
    memset(c, 0, sizeof(*c));
    fake_transport(&c->fk, &c->tr);
    o->target = "fcgi://127.0.0.1:9000";
    struct fcgic_pool_callbacks cb = cbs();
    ck_assert_int_eq(fcgic_pool_new(&c->p, o, &c->tr, &cb, c, NULL), 0);
}

static void teardown(struct ctx *c)
{
    fcgic_pool_free(c->p);
    fake_free(&c->fk);
}

static struct fcgic_request simple_req(void)
{
    static const struct fcgic_param params[] = {FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/x.php"),
                                                FCGIC_PARAM_LIT("REQUEST_METHOD", "GET")};
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 2;
    return req;
}

static void tick(struct ctx *c)
{
    if (fcgic_pool_deadline(c->p) <= c->fk.now)
        ck_assert_int_eq(fcgic_pool_tick(c->p, c->fk.now), 0);
}

START_TEST(reuse_off_default)
{
    /* pp_no_reuse: flags 0, a new connection per request, closed after */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
        ck_assert_int_eq(c.fk.fc[i].nbegin, 1);
        ck_assert_int_eq(c.fk.fc[i].last_flags, 0);
        ck_assert_int_eq(fake_respond(&c.fk, i, "ok"), 0);
        ck_assert_uint_eq(fcgic_pool_deadline(c.p), 0);
        tick(&c);
        ck_assert_int_eq(fake_open_count(&c.fk), 0);
    }
    ck_assert_int_eq(c.ends, 3);
    ck_assert_str_eq(c.body, "okokok");
    struct fcgic_pool_stats st;
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.conns_created, 3);
    ck_assert_uint_eq(st.conns_reused, 0);
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.conns_open, 0);
    ck_assert_str_eq(c.events, "connect close connect close connect close ");
    teardown(&c);
}
END_TEST

START_TEST(reuse_on_keeps_conn)
{
    /* pp_reuse_3_requests: KEEP_CONN, one connection for all three */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
        ck_assert_int_eq(c.fk.n, 1);
        ck_assert_int_eq(c.fk.fc[0].last_flags, 1);
        ck_assert_int_eq(fake_respond(&c.fk, 0, "ok"), 0);
        tick(&c);
    }
    ck_assert_int_eq(c.fk.fc[0].nbegin, 3);
    struct fcgic_pool_stats st;
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.conns_created, 1);
    ck_assert_uint_eq(st.conns_reused, 2);
    ck_assert_uint_eq(st.conns_idle, 1);
    ck_assert_str_eq(c.events, "connect reuse reuse ");
    teardown(&c);
}
END_TEST

START_TEST(mru_first)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "a"), 0);
    tick(&c);
    c.fk.now = 5;
    ck_assert_int_eq(fake_respond(&c.fk, 1, "b"), 0);
    tick(&c); /* idle: [1, 0] */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 6), 0);
    ck_assert_int_eq(c.fk.fc[1].nbegin, 2);
    ck_assert_int_eq(c.fk.fc[0].nbegin, 1);
    teardown(&c);
}
END_TEST

START_TEST(max_queue_timeout_full)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.max = 1;
    o.queue_max = 2;
    o.acquire_ns = 5 * SEC;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    c.fk.now = SEC;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, SEC), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, SEC), FCGIC_E_POOL_QUEUE_FULL);
    ck_assert_int_eq(c.fk.n, 1);
    struct fcgic_pool_stats st;
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.queued, 2);
    ck_assert_uint_eq(st.busy, 3);
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), 5 * SEC);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "1"), 0);
    tick(&c); /* the second request goes on the same connection */
    ck_assert_int_eq(c.fk.fc[0].nbegin, 2);
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), 6 * SEC);
    c.fk.now = 6 * SEC;
    tick(&c); /* the third waited too long */
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, FCGIC_E_POOL_TIMEOUT);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "2"), 0);
    ck_assert_int_eq(c.ends, 3);
    ck_assert_int_eq(c.err, 0);
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.queue_timeouts, 1);
    ck_assert_uint_eq(st.queue_full, 1);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_str_eq(c.body, "12");
    teardown(&c);
}
END_TEST

START_TEST(stale_kept_conn_retried)
{
    /* pp_reuse_backend_closes: the kept connection died; the next request
     * does not fail. A stream body is replayed from what was kept. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "a"), 0);
    tick(&c);
    c.stream = "hello world";
    req.stdin_mode = FCGIC_BODY_STREAM;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.fc[0].stdin_bytes, 11);
    int reads = c.body_reads;
    fake_eof(&c.fk, 0); /* closed before any response byte */
    ck_assert_int_eq(c.ends, 1);
    tick(&c);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[0].closed, 1);
    ck_assert_int_eq(c.fk.fc[1].stdin_bytes, 11);
    ck_assert_int_eq(c.body_reads, reads); /* replayed, not read again */
    ck_assert_int_eq(fake_respond(&c.fk, 1, "b"), 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, 0);
    struct fcgic_pool_stats st;
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.stale_retries, 1);
    ck_assert_str_eq(c.events, "connect reuse stale close connect ");
    teardown(&c);
}
END_TEST

START_TEST(no_retry_after_response_bytes)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "a"), 0);
    tick(&c);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    fake_partial(&c.fk, 0);
    fake_eof(&c.fk, 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, FCGIC_E_PEER_CLOSED);
    tick(&c);
    ck_assert_int_eq(c.fk.n, 1);
    /* a retry happens only once and only on a kept connection: a fresh
     * connection that fails ends the request */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    fake_eof(&c.fk, 1);
    ck_assert_int_eq(c.ends, 3);
    ck_assert_int_eq(c.err, FCGIC_E_PEER_CLOSED);
    teardown(&c);
}
END_TEST

START_TEST(ttl_smax_and_overloaded)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.max = 4;
    o.smax = 1;
    o.ttl_ns = 10 * SEC;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    for (int i = 0; i < 3; i++) {
        c.fk.now = (uint64_t)i * SEC;
        ck_assert_int_eq(fake_respond(&c.fk, i, "x"), 0);
        tick(&c);
    }
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), 10 * SEC);
    c.fk.now = 11 * SEC;
    tick(&c); /* the oldest idle one (0) and then 1 expire; one kept (smax) */
    ck_assert_int_eq(c.fk.fc[0].closed, 1);
    ck_assert_int_eq(c.fk.fc[1].closed, 1);
    ck_assert_int_eq(c.fk.fc[2].closed, 0);
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), FCGIC_NO_DEADLINE);
    /* OVERLOADED closes idle connections */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, c.fk.now), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, c.fk.now), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 2, "x"), 0);
    tick(&c);
    ck_assert_int_eq(fake_respond_ps(&c.fk, 3, "", 2), 0);
    tick(&c);
    ck_assert_int_eq(fake_open_count(&c.fk), 0);
    teardown(&c);
}
END_TEST

START_TEST(get_values_caps_max)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.probe_values = 1;
    o.max = 10;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.fc[0].nvalues, 1);
    static const char *const nv[] = {"FCGI_MAX_CONNS", "2", "FCGI_MAX_REQS", "2", "FCGI_MPXS_CONNS", "0"};
    ck_assert_int_eq(fake_values(&c.fk, 0, nv, 3), 0);
    struct fcgic_pool_stats st;
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.max, 2);
    ck_assert_uint_eq(st.mpx, 1);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    fcgic_pool_get_stats(c.p, &st);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_str_eq(c.events, "connect values connect ");
    teardown(&c);
}
END_TEST

START_TEST(abort_queued)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.max = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    struct fcgic_pool_req *h1, *h2;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, &h1, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, &h2, 0), 0);
    ck_assert_int_eq(fcgic_pool_abort(c.p, h2, 0), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.err, FCGIC_E_ABORTED);
    ck_assert_int_eq(c.aborted, 1);
    fcgic_pool_drain(c.p, 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), FCGIC_E_POOL_CLOSED);
    teardown(&c);
}
END_TEST

START_TEST(bad_args)
{
    struct fcgic_pool *p;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    struct fake fk;
    struct fcgic_transport tr;
    fake_transport(&fk, &tr);
    struct fcgic_pool_callbacks cb = cbs();
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    o.target = "fcgi://x:1";
    cb.version = 99;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    o.min = 5;
    o.max = 2;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    fcgic_pool_free(NULL);
}
END_TEST

START_TEST(failalloc_pool)
{
    for (long n = 1;; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct ctx c;
        memset(&c, 0, sizeof(c));
        fake_transport(&c.fk, &c.tr);
        c.fk.mem = &fa.mem;
        c.stream = "body";
        struct fcgic_pool_options o;
        memset(&o, 0, sizeof(o));
        o.target = "fcgi://x:1";
        o.enable_reuse = 1;
        struct fcgic_pool_callbacks cb = cbs();
        struct fcgic_pool *p = NULL;
        int rc = fcgic_pool_new(&p, &o, &c.tr, &cb, &c, &fa.mem);
        struct fcgic_request req = simple_req();
        req.stdin_mode = FCGIC_BODY_BUFFER; /* a stream's replay copy degrades, it does not fail */
        req.stdin_data = "body";
        req.stdin_len = 4;
        if (rc == 0)
            rc = fcgic_pool_submit(p, &req, &c, NULL, 0);
        fcgic_pool_free(p);
        fake_free(&c.fk);
        ck_assert_int_eq(fa.live, 0);
        if (!fa.failed) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_int_eq(rc, FCGIC_E_NOMEM);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Integration                                                              */
/* ------------------------------------------------------------------------ */

struct ictx {
    int ends, errors;
    int conn_count[64];
    int n;
};

static int header_int(const struct fcgic_response_head *h, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < h->nheaders; i++)
        if (h->headers[i].name_len == nl && memcmp(h->headers[i].name, name, nl) == 0)
            return atoi(h->headers[i].value);
    return -1;
}

static int i_head(void *ud, const struct fcgic_response_head *h)
{
    struct ictx *c = ud;
    if (c->n < 64)
        c->conn_count[c->n++] = header_int(h, "X-Conn-Count");
    return 0;
}

static void i_end(void *ud, const struct fcgic_result *res)
{
    struct ictx *c = ud;
    c->ends++;
    if (res->error || !res->got_end_request)
        c->errors++;
}

static void i_run(struct fcgic_posix *px, struct fcgic_pool *p, struct ictx *c, int want)
{
    uint64_t limit = fcgic_posix_now() + 20 * SEC;
    while (c->ends < want) {
        uint64_t now = fcgic_posix_now();
        ck_assert_uint_lt(now, limit);
        if (fcgic_pool_deadline(p) <= now)
            fcgic_pool_tick(p, now);
        if (c->ends >= want)
            break;
        fcgic_posix_run(px, 20000000ull);
    }
    uint64_t now = fcgic_posix_now();
    if (fcgic_pool_deadline(p) <= now)
        fcgic_pool_tick(p, now);
}

static void integ(int reuse, unsigned max, int restart, int concurrent, int nreq, int *last_count, int *errors,
                  uint64_t *created)
{
    struct harness_app *app;
    const char *args[] = {"-t", "4", NULL};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", args), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = i_head;
    cb.on_end = i_end;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = app->url;
    o.enable_reuse = reuse;
    o.max = max;
    struct fcgic_pool *p;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, &c, NULL), 0);
    struct fcgic_request req = simple_req();
    if (concurrent) {
        for (int i = 0; i < nreq; i++)
            ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, NULL, fcgic_posix_now()), 0);
        i_run(px, p, &c, nreq);
    } else {
        for (int i = 0; i < nreq; i++) {
            if (restart && i == nreq / 2)
                ck_assert_int_eq(harness_app_restart(app), 0);
            ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, NULL, fcgic_posix_now()), 0);
            i_run(px, p, &c, i + 1);
        }
    }
    *last_count = c.n ? c.conn_count[c.n - 1] : -1;
    *errors = c.errors;
    struct fcgic_pool_stats st;
    fcgic_pool_get_stats(p, &st);
    *created = st.conns_created;
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}

START_TEST(integration_reuse_off_on)
{
    int count, errors;
    uint64_t created;
    integ(0, 0, 0, 0, 4, &count, &errors, &created);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(count, 4); /* four connections seen by the app */
    ck_assert_uint_eq(created, 4);
    integ(1, 0, 0, 0, 4, &count, &errors, &created);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(count, 1); /* one */
    ck_assert_uint_eq(created, 1);
}
END_TEST

START_TEST(integration_max_queueing)
{
    int count, errors;
    uint64_t created;
    integ(1, 1, 0, 1, 6, &count, &errors, &created);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(count, 1);
    ck_assert_uint_eq(created, 1);
}
END_TEST

START_TEST(integration_backend_restart)
{
    int count, errors;
    uint64_t created;
    integ(1, 0, 1, 0, 6, &count, &errors, &created);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(count, 1); /* the restarted app saw one connection */
    ck_assert_uint_eq(created, 2);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc;
    tc = tcase_create("reuse");
    tcase_add_test(tc, reuse_off_default);
    tcase_add_test(tc, reuse_on_keeps_conn);
    tcase_add_test(tc, mru_first);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, max_queue_timeout_full);
    tcase_add_test(tc, ttl_smax_and_overloaded);
    tcase_add_test(tc, get_values_caps_max);
    tcase_add_test(tc, abort_queued);
    suite_add_tcase(s, tc);
    tc = tcase_create("stale");
    tcase_add_test(tc, stale_kept_conn_retried);
    tcase_add_test(tc, no_retry_after_response_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, failalloc_pool);
    suite_add_tcase(s, tc);
    tc = tcase_create("integration");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, integration_reuse_off_on);
    tcase_add_test(tc, integration_max_queueing);
    tcase_add_test(tc, integration_backend_restart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
