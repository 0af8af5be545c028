/* Tests of the connection pool: reuse on and off, most-recently-used order,
 * max with a bounded queue and acquire timeout, stale kept connections,
 * ttl, GET_VALUES, OVERLOADED, freeing with requests in flight, allocation
 * failures; then integration tests against real app-echo processes and
 * PHP-FPM through the POSIX transport. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failalloc.h"
#include "fcgiclient/error.h"
#include "fcgiclient/pool.h"
#include "fcgiclient/posix.h"
#include "fcgiclient/stats.h"
#include "apps/app-common.h"
#include "harness.h"
#include "pool-fake.h"
#include "testutil.h"

#define SEC 1000000000ull

struct ctx {
    struct fake fk;
    struct fcgic_transport tr;
    struct fcgic_pool *p;
    int ends, err, aborted, body_reads;
    char body[256];
    char events[512];
    const char *stream; /* body handed out by body_read */
    size_t stream_pos;
    uint64_t stale_now; /* `now` of the last STALE_RETRY event */
    /* on_end while the pool is being freed: try the pool again */
    struct fcgic_pool *again;
    struct fcgic_pool_req *again_handle;
    int again_submit, again_abort, again_tick;
    char *owned_body; /* freed by the last on_end */
    int tick_in_event; /* on_event calls fcgic_pool_tick(): its result */
    unsigned retries;  /* result.retries of the last on_end */
    int written;       /* result.request_written of the last on_end */
};

static struct fcgic_request simple_req(void);

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
    c->retries = r->retries;
    c->written = r->request_written;
    if (c->again) {
        struct fcgic_request req = simple_req();
        c->again_submit = fcgic_pool_submit(c->again, &req, c, NULL, 0);
        c->again_abort = fcgic_pool_abort(c->again, c->again_handle, 0);
        c->again_tick = fcgic_pool_tick(c->again, 0);
    }
    /* free_ends_requests_in_flight's last on_end releases the body, which
     * must still be ours (ASan, valgrind) */
    if (c->owned_body && c->again && c->ends == 4) {
        memset(c->owned_body, 'x', 4);
        free(c->owned_body);
        c->owned_body = NULL;
    }
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
    static const char *const names[] = {"",       "connect",  "reuse",  "stale",    "close",
                                        "values", "qtimeout", "member", "failover", "health"};
    if (ev->kind == FCGIC_EVENT_STALE_RETRY)
        c->stale_now = ev->now;
    if (c->tick_in_event == 1)
        c->tick_in_event = fcgic_pool_tick(c->p, ev->now);
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

static struct fcgic_request post_req(void)
{
    static const struct fcgic_param params[] = {FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/x.php"),
                                                FCGIC_PARAM_LIT("REQUEST_METHOD", "POST")};
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 2;
    req.stdin_mode = FCGIC_BODY_BUFFER;
    req.stdin_data = "a=1";
    req.stdin_len = 3;
    return req;
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
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.conns_created, 3);
    ck_assert_uint_eq(st.conns_reused, 0);
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.conns_open, 0);
    ck_assert_str_eq(c.events, "connect close connect close connect close ");
    teardown(&c);
}
END_TEST

START_TEST(event_callback_is_a_callback)
{
    /* Ticking the pool from on_event is refused instead of re-entering the
     * dispatch that is emitting the event. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    setup(&c, &o);
    c.tick_in_event = 1;
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.tick_in_event, FCGIC_E_REENTRANT);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "ok"), 0);
    ck_assert_int_eq(c.ends, 1);
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
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
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
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
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
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
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
    c.fk.now = 7 * SEC;
    fake_eof(&c.fk, 0); /* closed before any response byte */
    ck_assert_int_eq(c.ends, 1);
    ck_assert_uint_eq(c.stale_now, 7 * SEC); /* the connection's time, not 0 */
    tick(&c);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[0].closed, 1);
    ck_assert_int_eq(c.fk.fc[1].stdin_bytes, 11);
    ck_assert_int_eq(c.body_reads, reads); /* replayed, not read again */
    ck_assert_int_eq(fake_respond(&c.fk, 1, "b"), 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, 0);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
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
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.max, 2);
    ck_assert_uint_eq(st.mpx, 1);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_str_eq(c.events, "connect values connect ");
    teardown(&c);
}
END_TEST

START_TEST(probe_lost_and_far_deadlines)
{
    /* A GET_VALUES probe whose connection dies before the answer is asked
     * again on the next connection; timeouts near the end of the clock do
     * not wrap around. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.probe_values = 1;
    o.max = 1;
    o.acquire_ns = UINT64_MAX - 1;
    o.ttl_ns = UINT64_MAX - 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.fc[0].nvalues, 1);
    c.fk.now = SEC;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, SEC), 0); /* queued behind max=1 */
    ck_assert_uint_ge(fcgic_pool_deadline(c.p), SEC);
    fake_fail(&c.fk, 0, FCGIC_E_IO);
    for (int i = 0; i < 4; i++)
        tick(&c);
    ck_assert_int_eq(c.ends, 1); /* the first failed (connection error, not replayed: not kept yet) */
    ck_assert_int_ge(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[c.fk.n - 1].nvalues, 1); /* asked again */
    ck_assert_int_eq(fake_respond(&c.fk, c.fk.n - 1, "ok"), 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, 0);
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

START_TEST(free_ends_requests_in_flight)
{
    /* One running on the only connection, one waiting for a stale retry,
     * one queued: each gets on_end(FCGIC_E_POOL_CLOSED) from free, and the
     * pool refuses to be used from there. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.max = 2;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "a"), 0);
    tick(&c); /* connection 0 idle, kept */
    /* a running request whose buffered body is released by on_end */
    c.owned_body = malloc(4);
    memcpy(c.owned_body, "body", 4);
    struct fcgic_request breq = simple_req();
    breq.stdin_mode = FCGIC_BODY_BUFFER;
    breq.stdin_data = c.owned_body;
    breq.stdin_len = 4;
    struct fcgic_pool_req *running;
    /* on kept connection 0, on a new 1, then queued (max reached) */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &breq, &c, &running, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[1].stdin_bytes, 4);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    /* 0 was stale: its request waits in the retry queue until a tick */
    fake_eof(&c.fk, 0);
    ck_assert_int_eq(c.ends, 1);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.busy, 3);
    ck_assert_uint_eq(st.queued, 2);
    c.again = c.p;
    c.again_handle = running;
    c.again_submit = c.again_abort = c.again_tick = 1;
    int ends = c.ends;
    fcgic_pool_free(c.p);
    c.p = NULL;
    ck_assert_int_eq(c.ends - ends, 3);
    ck_assert_int_eq(c.err, FCGIC_E_POOL_CLOSED);
    ck_assert_int_eq(c.again_submit, FCGIC_E_POOL_CLOSED);
    ck_assert_int_eq(c.again_abort, FCGIC_E_POOL_CLOSED);
    ck_assert_int_eq(c.again_tick, FCGIC_E_POOL_CLOSED);
    ck_assert_ptr_null(c.owned_body);
    ck_assert_int_eq(fake_open_count(&c.fk), 0);
    fake_free(&c.fk);
}
END_TEST

/* A transport whose kick fails the connection at once, as the POSIX one
 * does when the write hits EPIPE: the request ends inside the call that
 * started it. */
struct kctx {
    struct ctx c;
    struct fcgic_pool_req *handle; /* cleared by on_end */
    int end_abort;    /* abort of its own handle from on_end */
    struct free_watch fw; /* the handle freed before on_end returned */
};

static void k_end(void *ud, const struct fcgic_result *r)
{
    struct kctx *k = ud;
    k->c.ends++;
    k->c.err = r->error;
    k->c.aborted = r->aborted;
    if (k->handle) {
        k->end_abort = fcgic_pool_abort(k->c.p, k->handle, 0);
        k->handle = NULL;
    }
    k->fw.armed = 0; /* freeing it after on_end returns is right */
}

static void k_setup(struct kctx *k, struct fcgic_pool_options *o)
{
    memset(k, 0, sizeof(*k));
    fake_transport(&k->c.fk, &k->c.tr);
    o->target = "fcgi://127.0.0.1:9000";
    struct fcgic_pool_callbacks cb = cbs();
    cb.on_end = k_end;
    struct fcgic_mem mem = free_watch_mem(&k->fw);
    ck_assert_int_eq(fcgic_pool_new(&k->c.p, o, &k->c.tr, &cb, k, &mem), 0);
}

START_TEST(handle_valid_during_on_end)
{
    /* The handle is valid until on_end returns: aborting it from there is
     * FCGIC_E_INVAL, not a use after free. */
    struct kctx k;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    k_setup(&k, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(k.c.p, &req, &k, &k.handle, 0), 0);
    ck_assert_ptr_nonnull(k.handle);
    k.fw.ptr = k.handle;
    k.fw.armed = 1; /* from here, freeing the handle is too early */
    ck_assert_int_eq(fake_respond(&k.c.fk, 0, "a"), 0);
    ck_assert_int_eq(k.c.ends, 1);
    ck_assert_int_eq(k.fw.freed, 0);
    ck_assert_int_eq(k.end_abort, FCGIC_E_INVAL);
    fcgic_pool_free(k.c.p);
    fake_free(&k.c.fk);
}
END_TEST

START_TEST(request_ends_inside_submit)
{
    /* The write fails inside submit's kick: on_end runs before submit
     * returns, and the handle it cleared is not set again afterwards. */
    struct kctx k;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    k_setup(&k, &o);
    k.c.fk.fail_kick = 1;
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(k.c.p, &req, &k, &k.handle, 0), 0);
    ck_assert_int_eq(k.c.ends, 1);
    ck_assert_int_eq(k.c.err, FCGIC_E_IO);
    ck_assert_ptr_null(k.handle);
    fcgic_pool_free(k.c.p);
    fake_free(&k.c.fk);
}
END_TEST

START_TEST(stale_inside_dispatch_from_queue)
{
    /* A queued request handed by tick to the kept connection, which fails
     * inside the kick: it moves to the retry queue intact, and can be
     * aborted there or retried. */
    struct kctx k;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.max = 1;
    k_setup(&k, &o);
    struct fcgic_request req = simple_req();
    struct fcgic_pool_req *h2;
    ck_assert_int_eq(fcgic_pool_submit(k.c.p, &req, &k, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(k.c.p, &req, &k, &h2, 0), 0);
    ck_assert_int_eq(fake_respond(&k.c.fk, 0, "a"), 0);
    ck_assert_int_eq(k.c.ends, 1);
    k.c.fk.fail_kick = 1;
    ck_assert_int_eq(fcgic_pool_tick(k.c.p, 0), 0);
    k.c.fk.fail_kick = 0;
    ck_assert_int_eq(k.c.ends, 1);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(k.c.p, &st), 0);
    ck_assert_uint_eq(st.stale_retries, 1);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_int_eq(fcgic_pool_abort(k.c.p, h2, 0), 0);
    ck_assert_int_eq(k.c.ends, 2);
    ck_assert_int_eq(k.c.err, FCGIC_E_ABORTED);
    ck_assert_int_eq(fcgic_pool_get_stats(k.c.p, &st), 0);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.busy, 0);
    /* the same once more, this time retried on a fresh connection */
    ck_assert_int_eq(fcgic_pool_submit(k.c.p, &req, &k, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_submit(k.c.p, &req, &k, NULL, 0), 0);
    int i = k.c.fk.n - 1;
    ck_assert_int_eq(fake_respond(&k.c.fk, i, "b"), 0);
    k.c.fk.fail_kick = 1;
    ck_assert_int_eq(fcgic_pool_tick(k.c.p, 0), 0);
    k.c.fk.fail_kick = 0;
    ck_assert_int_eq(fcgic_pool_tick(k.c.p, 0), 0);
    ck_assert_int_eq(k.c.fk.n, i + 2);
    ck_assert_int_eq(fake_respond(&k.c.fk, i + 1, "c"), 0);
    ck_assert_int_eq(k.c.ends, 4);
    ck_assert_int_eq(k.c.err, 0);
    fcgic_pool_free(k.c.p);
    fake_free(&k.c.fk);
}
END_TEST

START_TEST(reuse_off_ignores_mpx_answer)
{
    /* Without reuse the application closes each connection after its first
     * END_REQUEST, so an FCGI_MPXS_CONNS=1 answer must not make the pool
     * put a second request on it: the third submit used to spin forever on
     * a connection that refused it with FCGIC_E_BUSY. */
    alarm(20);
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.probe_values = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    static const char *const nv[] = {"FCGI_MAX_CONNS", "10", "FCGI_MAX_REQS", "10", "FCGI_MPXS_CONNS", "1"};
    ck_assert_int_eq(fake_values(&c.fk, 0, nv, 3), 0);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.mpx, 1);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "a"), 0); /* connection 0 is done */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 3); /* one connection per request */
    ck_assert_int_eq(c.fk.fc[0].nbegin, 1);
    ck_assert_int_eq(fake_respond(&c.fk, 1, "b"), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 2, "c"), 0);
    ck_assert_int_eq(c.ends, 3);
    ck_assert_str_eq(c.body, "abc");
    alarm(0);
    teardown(&c);
}
END_TEST

START_TEST(refusing_conn_does_not_spin)
{
    /* A multiplexing connection that refuses a request (retired while a
     * request runs) is passed over: the dispatch opens a new connection
     * instead of asking the same one again and again. */
    alarm(20);
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.probe_values = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    static const char *const nv[] = {"FCGI_MAX_REQS", "4", "FCGI_MPXS_CONNS", "1"};
    ck_assert_int_eq(fake_values(&c.fk, 0, nv, 2), 0);
    fcgic_conn_retire(c.fk.fc[0].c);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[1].nbegin, 1);
    alarm(0);
    teardown(&c);
}
END_TEST

START_TEST(mpx_option)
{
    /* mpx in the options: three requests per connection before a new one
     * is opened; ignored without reuse. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.mpx = 3;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[0].nbegin, 3);
    ck_assert_int_eq(c.fk.fc[1].nbegin, 2);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.mpx, 3);
    teardown(&c);

    o.enable_reuse = 0;
    setup(&c, &o);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 3);
    teardown(&c);
}
END_TEST

START_TEST(cold_burst_converges)
{
    /* Five requests before the GET_VALUES answer open five connections;
     * the answer says one connection, multiplexed: the surplus closes as it
     * turns idle, and later requests share the one left. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.probe_values = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 5);
    static const char *const nv[] = {"FCGI_MAX_CONNS", "1", "FCGI_MAX_REQS", "10", "FCGI_MPXS_CONNS", "1"};
    ck_assert_int_eq(fake_values(&c.fk, 0, nv, 3), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(fake_respond(&c.fk, i, "x"), 0);
        tick(&c);
    }
    ck_assert_int_eq(fake_open_count(&c.fk), 1);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.conns_open, 1);
    ck_assert_uint_eq(st.max, 1);
    ck_assert_uint_eq(st.mpx, 10);
    int k = c.fk.n - 1;
    while (c.fk.fc[k].closed)
        k--;
    unsigned before = c.fk.fc[k].nbegin;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 5); /* no new connection */
    ck_assert_uint_eq(c.fk.fc[k].nbegin, before + 4);
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.queued, 0);
    teardown(&c);
}
END_TEST

START_TEST(check_before_reuse)
{
    /* The transport's check finds the EOF the application sent on the idle
     * connection: the request goes to a new connection, no stale retry. */
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "a"), 0);
    tick(&c);
    c.fk.fc[0].eof_pending = 1;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_uint_eq(c.fk.checks, 1);
    ck_assert_int_eq(c.fk.fc[0].nbegin, 1);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(c.fk.fc[1].nbegin, 1);
    tick(&c);
    ck_assert_int_eq(c.fk.fc[0].closed, 1);
    ck_assert_int_eq(fake_respond(&c.fk, 1, "b"), 0);
    ck_assert_int_eq(c.err, 0);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.stale_retries, 0);
    /* an idle connection that fails on its own (its socket is gone
     * already) is freed by a tick, not before 50 ms after the last sweep */
    tick(&c);
    ck_assert_int_eq(c.fk.fc[1].closed, 0);
    fake_fail(&c.fk, 1, FCGIC_E_IO);
    ck_assert_int_eq(fcgic_pool_tick(c.p, 0), 0);
    ck_assert_int_eq(c.fk.fc[1].closed, 0);
    ck_assert_int_eq(fcgic_pool_tick(c.p, 50 * 1000000ull), 0);
    ck_assert_int_eq(c.fk.fc[1].closed, 1);
    teardown(&c);
}
END_TEST

/* One request on a kept connection that dies: EOF once the request was
 * written, or (fail_in_kick) a write error before any byte was written.
 * Returns the number of connections used. */
static int stale_case(struct ctx *c, struct fcgic_request *req, int fail_in_kick)
{
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(c, &o);
    struct fcgic_request first = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c->p, &first, c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c->fk, 0, "a"), 0);
    tick(c);
    c->fk.fail_kick = fail_in_kick ? 2 : 0;
    ck_assert_int_eq(fcgic_pool_submit(c->p, req, c, NULL, 0), 0);
    c->fk.fail_kick = 0;
    if (!fail_in_kick) {
        ck_assert_int_eq(c->fk.fc[0].nbegin, 2);
        fake_eof(&c->fk, 0);
    }
    tick(c);
    int k = c->fk.n - 1;
    if (k > 0 && c->ends == 1)
        ck_assert_int_eq(fake_respond(&c->fk, k, "b"), 0);
    return c->fk.n;
}

START_TEST(retry_policy)
{
    struct ctx c;
    /* a written POST is not run again */
    struct fcgic_request req = post_req();
    ck_assert_int_eq(stale_case(&c, &req, 0), 1);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, FCGIC_E_PEER_CLOSED);
    ck_assert_int_eq(c.written, 1);
    ck_assert_uint_eq(c.retries, 0);
    teardown(&c);
    /* a written GET is */
    req = simple_req();
    ck_assert_int_eq(stale_case(&c, &req, 0), 2);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, 0);
    ck_assert_uint_eq(c.retries, 1);
    ck_assert_uint_eq(c.fk.fc[1].stdin_bytes, 0);
    teardown(&c);
    /* FCGIC_RETRY_ALWAYS: the POST too, with its body */
    req = post_req();
    req.retry = FCGIC_RETRY_ALWAYS;
    ck_assert_int_eq(stale_case(&c, &req, 0), 2);
    ck_assert_int_eq(c.err, 0);
    ck_assert_uint_eq(c.retries, 1);
    ck_assert_uint_eq(c.fk.fc[1].stdin_bytes, 3);
    ck_assert_str_eq(c.events, "connect reuse stale close connect ");
    teardown(&c);
    /* a POST of which nothing was written is */
    req = post_req();
    ck_assert_int_eq(stale_case(&c, &req, 1), 2);
    ck_assert_int_eq(c.err, 0);
    ck_assert_uint_eq(c.retries, 1);
    teardown(&c);
    /* FCGIC_RETRY_UNSENT: not a written GET */
    req = simple_req();
    req.retry = FCGIC_RETRY_UNSENT;
    ck_assert_int_eq(stale_case(&c, &req, 0), 1);
    ck_assert_int_eq(c.err, FCGIC_E_PEER_CLOSED);
    teardown(&c);
    /* FCGIC_RETRY_NEVER: not even an unwritten one */
    req = simple_req();
    req.retry = FCGIC_RETRY_NEVER;
    ck_assert_int_eq(stale_case(&c, &req, 1), 1);
    ck_assert_int_eq(c.err, FCGIC_E_IO);
    teardown(&c);
    /* an unknown policy is refused */
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    setup(&c, &o);
    req = simple_req();
    req.retry = (enum fcgic_retry)7;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), FCGIC_E_INVAL);
    teardown(&c);
}
END_TEST

START_TEST(stray_bytes_are_stale)
{
    /* A record left over from an earlier response (for a request id that is
     * not running, or a management record nobody asked for) fails the
     * request before any response byte: it runs again on a new
     * connection. */
    static const struct {
        int type, id;
        unsigned char content[8];
        size_t len;
    } strays[] = {
        {3, 999, {0}, 8},                            /* END_REQUEST, unknown id */
        {6, 1, {'x'}, 1},                            /* STDOUT of the ended request */
        {10, 0, {1, 1, 'A', 'B'}, 4},                /* GET_VALUES_RESULT nobody asked for */
        {11, 0, {9, 0, 0, 0, 0, 0, 0, 0}, 8},        /* UNKNOWN_TYPE for a record never sent */
    };
    for (size_t i = 0; i < sizeof strays / sizeof strays[0]; i++) {
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
        unsigned char b[64];
        size_t n = put_rec(b, strays[i].type, strays[i].id, strays[i].content, strays[i].len);
        fake_feed(&c.fk, 0, b, n);
        tick(&c);
        ck_assert_msg(c.fk.n == 2, "stray %zu: %d connections", i, c.fk.n);
        ck_assert_int_eq(fake_respond(&c.fk, 1, "b"), 0);
        ck_assert_int_eq(c.ends, 2);
        ck_assert_msg(c.err == 0, "stray %zu: %s", i, fcgic_strerror_name(c.err));
        ck_assert_uint_eq(c.retries, 1);
        teardown(&c);
    }
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

/* Run the loop until *ends reaches want (20 s at most). */
static void i_run(struct fcgic_posix *px, struct fcgic_pool *p, const int *ends, int want)
{
    uint64_t limit = fcgic_posix_now() + 20 * SEC;
    while (*ends < want) {
        uint64_t now = fcgic_posix_now();
        ck_assert_uint_lt(now, limit);
        if (fcgic_pool_deadline(p) <= now)
            fcgic_pool_tick(p, now);
        if (*ends >= want)
            break;
        fcgic_posix_run(px, 20000000ull);
    }
    uint64_t now = fcgic_posix_now();
    if (fcgic_pool_deadline(p) <= now)
        fcgic_pool_tick(p, now);
}

/* A pool in front of app on a POSIX transport of its own (*px). */
static struct fcgic_pool *i_pool(const struct harness_app *app, const struct fcgic_pool_callbacks *cb, void *ud,
                                 int reuse, unsigned max, struct fcgic_posix **px)
{
    ck_assert_int_eq(fcgic_posix_new(px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(*px, &tr);
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = app->url;
    o.enable_reuse = reuse;
    o.max = max;
    struct fcgic_pool *p;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, cb, ud, NULL), 0);
    return p;
}

static void integ(int reuse, unsigned max, int restart, int concurrent, int nreq, int *last_count, int *errors,
                  uint64_t *created)
{
    struct harness_app *app;
    const char *args[] = {"-t", "4", NULL};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", args), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = i_head;
    cb.on_end = i_end;
    struct fcgic_posix *px;
    struct fcgic_pool *p = i_pool(app, &cb, &c, reuse, max, &px);
    struct fcgic_request req = simple_req();
    if (concurrent) {
        for (int i = 0; i < nreq; i++)
            ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, NULL, fcgic_posix_now()), 0);
        i_run(px, p, &c.ends, nreq);
    } else {
        for (int i = 0; i < nreq; i++) {
            if (restart && i == nreq / 2)
                ck_assert_int_eq(harness_app_restart(app), 0);
            ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, NULL, fcgic_posix_now()), 0);
            i_run(px, p, &c.ends, i + 1);
        }
    }
    *last_count = c.n ? c.conn_count[c.n - 1] : -1;
    *errors = c.errors;
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    *created = st.conns_created;
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}

/* on_flush through a pool, on real sockets: every piece of a batch is still
 * intact when the batch ends (on_flush, or on_end for the last one). */
struct fctx {
    const char *piece[64];
    size_t len[64];
    int n, flushes, ends, err;
    uint64_t off, bad;
};

static void f_check(struct fctx *f)
{
    for (int i = 0; i < f->n; i++) {
        for (size_t j = 0; j < f->len[i]; j++)
            if ((unsigned char)f->piece[i][j] != app_pattern_byte(f->off + j))
                f->bad++;
        f->off += f->len[i];
    }
    f->n = 0;
}

static int f_body(void *ud, const char *d, size_t n)
{
    struct fctx *f = ud;
    if (f->n == 64)
        f_check(f); /* still valid: checked early, the batch goes on */
    f->piece[f->n] = d;
    f->len[f->n++] = n;
    return 0;
}

static void f_flush(void *ud)
{
    struct fctx *f = ud;
    f->flushes++;
    f_check(f);
}

static void f_end(void *ud, const struct fcgic_result *res)
{
    struct fctx *f = ud;
    f_check(f);
    f->ends++;
    f->err = res->error;
}

START_TEST(integration_flush_batches)
{
    struct harness_app *app;
    const char *args[] = {"-t", "2", NULL};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", args), 0);
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_body = f_body;
    cb.on_flush = f_flush;
    cb.on_end = f_end;
    struct fcgic_posix *px;
    struct fcgic_pool *p = i_pool(app, &cb, NULL, 1, 0, &px);
    static const struct fcgic_param params[] = {FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/x"),
                                                FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                                FCGIC_PARAM_LIT("QUERY_STRING", "size=300000")};
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 3;
    for (int round = 0; round < 2; round++) {
        struct fctx f;
        memset(&f, 0, sizeof f);
        ck_assert_int_eq(fcgic_pool_submit(p, &req, &f, NULL, fcgic_posix_now()), 0);
        i_run(px, p, &f.ends, 1);
        ck_assert_int_eq(f.err, 0);
        ck_assert_uint_eq(f.off, 300000);
        ck_assert_uint_eq(f.bad, 0);
        ck_assert_int_ge(f.flushes, 1);
    }
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

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

/* ------------------------------------------------------------------------ */
/* Integration: multiplexing (app-mpx), stale connections (app-hostile)     */
/* ------------------------------------------------------------------------ */

struct mctx {
    int ends, errors, values;
    int conn_id[128]; /* X-Conn-Id of each response (app-mpx) */
    int n;
    int last_err;
    unsigned last_retries;
};

static int m_head(void *ud, const struct fcgic_response_head *h)
{
    struct mctx *c = ud;
    if (c->n < 128)
        c->conn_id[c->n++] = header_int(h, "X-Conn-Id");
    return 0;
}

static void m_end(void *ud, const struct fcgic_result *res)
{
    struct mctx *c = ud;
    c->ends++;
    c->last_err = res->error;
    c->last_retries = res->retries;
    if (res->error || !res->got_end_request || res->protocol_status != FCGIC_REQUEST_COMPLETE)
        c->errors++;
}

static void m_event(void *ud, const struct fcgic_event *ev)
{
    struct mctx *c = ud;
    if (ev->kind == FCGIC_EVENT_VALUES)
        c->values++;
}

static struct fcgic_pool *m_pool(const struct fcgic_transport *tr, const char *url, int reuse, int probe,
                                 struct mctx *c)
{
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = m_head;
    cb.on_end = m_end;
    cb.on_event = m_event;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = url;
    o.enable_reuse = reuse;
    o.probe_values = probe;
    o.timeout_ns = 10 * SEC;
    struct fcgic_pool *p;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, tr, &cb, c, NULL), 0);
    return p;
}

/* Drive the loop and the pool until *flag >= want (20 s limit). */
static void m_run(struct fcgic_posix *px, struct fcgic_pool *p, const int *flag, int want)
{
    uint64_t limit = fcgic_posix_now() + 20 * SEC;
    for (;;) {
        uint64_t now = fcgic_posix_now();
        if (fcgic_pool_deadline(p) <= now)
            ck_assert_int_eq(fcgic_pool_tick(p, now), 0);
        if (*flag >= want)
            return;
        ck_assert_uint_lt(now, limit);
        fcgic_posix_run(px, 20000000ull);
    }
}

static struct fcgic_request query_req(struct fcgic_param *params, const char *method, const char *query)
{
    struct fcgic_param p[4] = {
        FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/x"),
        {"REQUEST_METHOD", 14, method, strlen(method)},
        {"QUERY_STRING", 12, query, strlen(query)},
        FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1"),
    };
    memcpy(params, p, sizeof(p));
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 4;
    return req;
}

static uint64_t timed_submit(struct fcgic_pool *p, const struct fcgic_request *req, void *ud)
{
    uint64_t t0 = fcgic_posix_now();
    ck_assert_int_eq(fcgic_pool_submit(p, req, ud, NULL, t0), 0);
    return fcgic_posix_now() - t0;
}

START_TEST(integration_reuse_off_mpx_app)
{
    /* app-mpx answers FCGI_MPXS_CONNS=1, reuse is off: concurrent submits
     * return at once and each request gets its own connection. */
    alarm(60); /* a dispatch loop that spins fails here instead of hanging */
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-mpx", NULL), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct mctx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool *p = m_pool(&tr, app->url, 0, 1, &c);
    struct fcgic_param params[4];
    struct fcgic_request req = query_req(params, "GET", "delay_ms=100");
    uint64_t t[3];
    t[0] = timed_submit(p, &req, &c);
    m_run(px, p, &c.ends, 1); /* the GET_VALUES answer came first */
    t[1] = timed_submit(p, &req, &c);
    t[2] = timed_submit(p, &req, &c);
    m_run(px, p, &c.ends, 3);
    ck_assert_int_eq(c.errors, 0);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.conns_created, 3);
    ck_assert_uint_eq(st.mpx, 1);
    printf("reuse off, FCGI_MPXS_CONNS=1: submit took %.1f / %.1f / %.1f us\n", (double)t[0] / 1e3,
           (double)t[1] / 1e3, (double)t[2] / 1e3);
    alarm(0);
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(integration_cold_burst_mpx)
{
    /* 50 requests before the GET_VALUES answer (FCGI_MAX_CONNS=1,
     * FCGI_MPXS_CONNS=1) open 50 connections; the pool converges to one
     * and multiplexes the next 50 on it. */
    const char *args[] = {"--max-conns", "1", NULL};
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-mpx", args), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct mctx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool *p = m_pool(&tr, app->url, 1, 1, &c);
    struct fcgic_param params[4];
    struct fcgic_request req = query_req(params, "GET", "");
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, NULL, fcgic_posix_now()), 0);
    m_run(px, p, &c.ends, 50);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    uint64_t burst_conns = st.conns_created;
    unsigned open_after = st.conns_open;
    ck_assert_uint_eq(st.max, 1);
    ck_assert_uint_eq(open_after, 1);
    c.n = 0;
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, NULL, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    unsigned running = st.busy - st.queued;
    m_run(px, p, &c.ends, 100);
    ck_assert_int_eq(c.errors, 0);
    int distinct = 0, seen[128];
    for (int i = 0; i < c.n; i++) {
        int k = 0;
        while (k < distinct && seen[k] != c.conn_id[i])
            k++;
        if (k == distinct)
            seen[distinct++] = c.conn_id[i];
    }
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_int_eq(distinct, 1);
    ck_assert_uint_eq(st.conns_created, burst_conns);
    ck_assert_uint_eq(running, 50); /* all 50 at once on one connection */
    printf("cold burst of 50: %llu connections opened, %u open after the GET_VALUES answer (max %u, mpx %u); "
           "next 50 requests: %d connection(s), %u running at once on it\n",
           (unsigned long long)burst_conns, open_after, st.max, st.mpx, distinct, running);
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

/* Lines of the app-hostile log that start with prefix. */
static int log_count(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return n;
}

/* One request through p, to its end; the result in c. */
static void h_one(struct fcgic_posix *px, struct fcgic_pool *p, struct mctx *c, const char *method, const char *query,
                  enum fcgic_retry retry)
{
    struct fcgic_param params[4];
    struct fcgic_request req = query_req(params, method, query);
    req.retry = retry;
    if (strcmp(method, "POST") == 0) {
        req.stdin_mode = FCGIC_BODY_BUFFER;
        req.stdin_data = "a=1";
        req.stdin_len = 3;
    }
    int want = c->ends + 1;
    ck_assert_int_eq(fcgic_pool_submit(p, &req, c, NULL, fcgic_posix_now()), 0);
    m_run(px, p, &c->ends, want);
}

START_TEST(integration_hostile_retry_policy)
{
    char dir[] = "/tmp/fcgic-pool-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char log1[64], log2[64];
    snprintf(log1, sizeof(log1), "%s/a.log", dir);
    snprintf(log2, sizeof(log2), "%s/b.log", dir);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct mctx c;
    memset(&c, 0, sizeof(c));

    /* The application reads the whole POST, then closes the kept
     * connection without answering: the POST is not run twice. */
    const char *args1[] = {"--log", log1, NULL};
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-hostile", args1), 0);
    struct fcgic_pool *p = m_pool(&tr, app->url, 1, 0, &c);
    h_one(px, p, &c, "GET", "", FCGIC_RETRY_DEFAULT);
    ck_assert_int_eq(c.errors, 0);
    h_one(px, p, &c, "POST", "do=close", FCGIC_RETRY_DEFAULT);
    ck_assert_int_ne(c.last_err, 0);
    ck_assert_uint_eq(c.last_retries, 0);
    ck_assert_int_eq(log_count(log1, "POST do=close 3"), 1);
    /* FCGIC_RETRY_ALWAYS: run again (and closed again: a request runs
     * again once, and only after a kept connection failed) */
    h_one(px, p, &c, "GET", "", FCGIC_RETRY_DEFAULT);
    h_one(px, p, &c, "POST", "do=close&n=2", FCGIC_RETRY_ALWAYS);
    ck_assert_int_ne(c.last_err, 0);
    ck_assert_uint_eq(c.last_retries, 1);
    ck_assert_int_eq(log_count(log1, "POST do=close&n=2 3"), 2);
    fcgic_pool_free(p);
    harness_app_stop(app);

    /* The application closes every kept connection right after its
     * END_REQUEST, and the transport does not look before reuse (as when
     * the close comes after the look): a GET is run again transparently,
     * a POST that was written is not. */
    const char *args2[] = {"--close-after-end", "100", "--log", log2, NULL};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-hostile", args2), 0);
    struct fcgic_transport blind = tr;
    blind.check = NULL;
    int errors = c.errors;
    p = m_pool(&blind, app->url, 1, 0, &c);
    h_one(px, p, &c, "GET", "", FCGIC_RETRY_DEFAULT);
    h_one(px, p, &c, "GET", "n=2", FCGIC_RETRY_DEFAULT);
    ck_assert_int_eq(c.errors, errors);
    ck_assert_uint_eq(c.last_retries, 1);
    ck_assert_int_eq(log_count(log2, "GET n=2 0"), 1);
    h_one(px, p, &c, "POST", "n=3", FCGIC_RETRY_DEFAULT);
    ck_assert_int_ne(c.last_err, 0);
    ck_assert_uint_eq(c.last_retries, 0);
    ck_assert_int_eq(log_count(log2, "POST"), 0);
    fcgic_pool_free(p);
    harness_app_stop(app);

    fcgic_posix_free(px);
    unlink(log1);
    unlink(log2);
    rmdir(dir);
}
END_TEST

START_TEST(integration_hostile_soak)
{
    /* The application closes a kept connection after 20 % of its
     * responses: no GET is lost. */
    int n = getenv("FCGIC_UNDER_VALGRIND") ? 60 : 400;
    const char *args[] = {"--close-after-end", "20", "--seed", "7", NULL};
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_UNIX, "app-hostile", args), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct mctx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool *p = m_pool(&tr, app->url, 1, 0, &c);
    for (int i = 0; i < n; i++)
        h_one(px, p, &c, "GET", "", FCGIC_RETRY_DEFAULT);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    printf("soak: %d GETs, app closes after 20%% of responses: %d lost, %llu connections, %llu reused, %llu stale "
           "retries\n",
           n, c.errors, (unsigned long long)st.conns_created, (unsigned long long)st.conns_reused,
           (unsigned long long)st.stale_retries);
    ck_assert_int_eq(c.errors, 0);
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Integration: PHP-FPM                                                     */
/* ------------------------------------------------------------------------ */

struct php_ctx {
    int ends, errors, status;
    char body[8192];
    size_t blen;
};

static int php_head(void *ud, const struct fcgic_response_head *h)
{
    struct php_ctx *c = ud;
    c->status = h->status;
    return 0;
}

static int php_body(void *ud, const char *d, size_t n)
{
    struct php_ctx *c = ud;
    size_t room = sizeof(c->body) - 1 - c->blen;
    if (n > room)
        n = room;
    memcpy(c->body + c->blen, d, n);
    c->blen += n;
    c->body[c->blen] = 0;
    return 0;
}

static void php_end(void *ud, const struct fcgic_result *res)
{
    struct php_ctx *c = ud;
    c->ends++;
    if (res->error || !res->got_end_request || res->app_status != 0)
        c->errors++;
}

static struct fcgic_pool *php_pool(const struct fcgic_transport *tr, const char *url, int reuse)
{
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = php_head;
    cb.on_body = php_body;
    cb.on_end = php_end;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = url;
    o.enable_reuse = reuse;
    o.timeout_ns = 10 * SEC;
    struct fcgic_pool *p;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, tr, &cb, NULL, NULL), 0);
    return p;
}

/* One GET through p; returns the HTTP status, body in c. */
static int php_get(struct fcgic_posix *px, struct fcgic_pool *p, struct php_ctx *c, const char *filename,
                   const char *name, const char *query)
{
    memset(c, 0, sizeof(*c));
    struct fcgic_param params[5] = {
        {"SCRIPT_FILENAME", 15, filename, strlen(filename)},
        {"SCRIPT_NAME", 11, name, strlen(name)},
        FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
        {"QUERY_STRING", 12, query, strlen(query)},
        FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1"),
    };
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 5;
    ck_assert_int_eq(fcgic_pool_submit(p, &req, c, NULL, fcgic_posix_now()), 0);
    uint64_t limit = fcgic_posix_now() + 10 * SEC;
    while (c->ends == 0) {
        uint64_t now = fcgic_posix_now();
        ck_assert_uint_lt(now, limit);
        if (fcgic_pool_deadline(p) <= now)
            fcgic_pool_tick(p, now);
        if (c->ends == 0)
            fcgic_posix_run(px, 20000000ull);
    }
    uint64_t now = fcgic_posix_now();
    if (fcgic_pool_deadline(p) <= now)
        fcgic_pool_tick(p, now);
    ck_assert_int_eq(c->errors, 0);
    return c->status;
}

static long body_long(const char *body, const char *key)
{
    const char *k = strstr(body, key);
    return k ? atol(k + strlen(key)) : -1;
}

/* PHP-FPM's full status page lists every worker as "pid: N" followed by
 * "state: S". Does worker pid (or, with pid 0, any worker) have state? */
static int fpm_has_state(const char *body, long pid, const char *state)
{
    const char *line = body;
    long cur = -1;
    while (line && *line) {
        if (strncmp(line, "pid:", 4) == 0) {
            cur = atol(line + 4);
        } else if (strncmp(line, "state:", 6) == 0 && (pid == 0 || cur == pid)) {
            const char *v = line + 6;
            while (*v == ' ')
                v++;
            size_t n = strlen(state);
            if (strncmp(v, state, n) == 0 && (v[n] == '\n' || v[n] == '\r' || v[n] == 0))
                return 1;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

/* Ask the status page until the worker's state is (want=1) or is not
 * (want=0) `state`; PHP-FPM updates it a moment after the connection
 * event. Returns 1 when it happened within about 2 s. */
static int fpm_wait_state(struct fcgic_posix *px, struct fcgic_pool *sp, long pid, const char *state, int want)
{
    for (int i = 0; i < 100; i++) {
        struct php_ctx c;
        ck_assert_int_eq(php_get(px, sp, &c, "/status", "/status", "full"), 200);
        if (fpm_has_state(c.body, pid, state) == want)
            return 1;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

START_TEST(integration_php_fpm_reuse)
{
    /* Counted on PHP-FPM's side: a PHP-FPM worker serves one connection
     * until the client closes it. With reuse on, every request runs in the
     * same worker (getmypid()), and after the last one the status page
     * shows that worker "Reading headers": it waits on our kept
     * connection. With reuse off, no worker is left waiting on a
     * connection. Two workers, so the status page always has one free. */
    struct harness_app *app;
    int rc = harness_php_start(&app, HARNESS_TCP, 2);
    if (rc == HARNESS_SKIP)
        return; /* no php-fpm on this machine */
    ck_assert_int_eq(rc, 0);
    char script[4200];
    ck_assert_int_eq(harness_php_script(app, "pid.php", script, sizeof(script)), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct fcgic_pool *sp = php_pool(&tr, app->url, 0); /* for the status page */
    struct php_ctx c;

    struct fcgic_pool *p = php_pool(&tr, app->url, 1);
    long pids[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(php_get(px, p, &c, script, "/pid.php", ""), 200);
        pids[i] = body_long(c.body, "pid=");
        ck_assert_int_gt(pids[i], 0);
    }
    for (int i = 1; i < 4; i++)
        ck_assert_int_eq(pids[i], pids[0]);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.conns_created, 1);
    ck_assert_uint_eq(st.conns_reused, 3);
    ck_assert_uint_eq(st.conns_idle, 1);
    ck_assert(fpm_wait_state(px, sp, pids[0], "Reading headers", 1));
    /* closing the kept connection frees the worker */
    fcgic_pool_close_idle(p);
    ck_assert_int_eq(fcgic_pool_tick(p, fcgic_posix_now()), 0);
    ck_assert(fpm_wait_state(px, sp, pids[0], "Idle", 1));
    fcgic_pool_free(p);

    p = php_pool(&tr, app->url, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(php_get(px, p, &c, script, "/pid.php", ""), 200);
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.conns_created, 4);
    ck_assert_uint_eq(st.conns_reused, 0);
    ck_assert_uint_eq(st.conns_open, 0);
    ck_assert(fpm_wait_state(px, sp, 0, "Reading headers", 0));
    fcgic_pool_free(p);

    fcgic_pool_free(sp);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST


/* ---- cancel, backpressure, timers, errno, keep-alive --------------------- */

/* A running request ends inside fcgic_pool_abort(); nothing follows; its
 * connection is closed at the next tick, never reused. */
START_TEST(abort_running_ends_now)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    struct fcgic_pool_req *h;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, &h, 0), 0);
    ck_assert_int_eq(fake_partial(&c.fk, 0), 0);
    ck_assert_int_eq(fcgic_pool_abort(c.p, h, 0), 0);
    ck_assert_int_eq(c.ends, 1); /* before abort returned */
    ck_assert_int_eq(c.err, FCGIC_E_ABORTED);
    ck_assert_int_eq(c.aborted, 1);
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), 0);
    tick(&c);
    ck_assert_int_eq(c.fk.fc[0].closed, 1);
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(c.p, &st), 0);
    ck_assert_uint_eq(st.conns_open, 0);
    ck_assert_uint_eq(st.busy, 0);
    /* the next request gets a new connection */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(fake_respond(&c.fk, 1, "ok"), 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.err, 0);
    teardown(&c);
}
END_TEST

/* With polite_abort, on_end waits for the application's END_REQUEST. */
START_TEST(abort_polite_waits)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    struct fcgic_conn_options co;
    memset(&co, 0, sizeof(co));
    co.polite_abort = 1;
    o.conn = &co;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    struct fcgic_pool_req *h;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, &h, 0), 0);
    ck_assert_int_eq(fcgic_pool_abort(c.p, h, 0), 0);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, ""), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.aborted, 1);
    teardown(&c);
}
END_TEST

/* Abort from inside the request's own on_body: on_end follows when the
 * callback returns, and no more body arrives. */
struct abort_in_cb {
    struct fcgic_pool *p;
    struct fcgic_pool_req *h;
    int bodies, ends, err;
};

static int aic_body(void *ud, const char *d, size_t n)
{
    struct abort_in_cb *a = ud;
    (void)d;
    (void)n;
    a->bodies++;
    ck_assert_int_eq(fcgic_pool_abort(a->p, a->h, 0), 0);
    ck_assert_int_eq(a->ends, 0);
    return 0;
}

static void aic_end(void *ud, const struct fcgic_result *r)
{
    struct abort_in_cb *a = ud;
    a->ends++;
    a->err = r->error;
}

START_TEST(abort_from_own_callback)
{
    struct fake fk;
    struct fcgic_transport tr;
    fake_transport(&fk, &tr);
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_body = aic_body;
    cb.on_end = aic_end;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = "fcgi://x:1";
    struct abort_in_cb a;
    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(fcgic_pool_new(&a.p, &o, &tr, &cb, NULL, NULL), 0);
    struct fcgic_request req = simple_req();
    /* the handle is stored before any callback can run */
    ck_assert_int_eq(fcgic_pool_submit(a.p, &req, &a, &a.h, 0), 0);
    ck_assert_int_eq(fake_respond(&fk, 0, "body"), 0);
    ck_assert_int_eq(a.bodies, 1);
    ck_assert_int_eq(a.ends, 1);
    ck_assert_int_eq(a.err, FCGIC_E_ABORTED);
    fcgic_pool_free(a.p);
    fake_free(&fk);
}
END_TEST

/* The callbacks struct exactly as version 1 laid it out, as a program built
 * against that header passes it. */
struct pool_callbacks_v1 {
    unsigned version;
    int (*on_head)(void *req_ud, const struct fcgic_response_head *head);
    int (*on_body)(void *req_ud, const char *data, size_t len);
    int (*on_stderr)(void *req_ud, const char *line, size_t len);
    void (*on_end)(void *req_ud, const struct fcgic_result *result);
    int (*body_read)(void *req_ud, enum fcgic_type stream, struct fcgic_span *chunk);
    void (*on_event)(void *ud, const struct fcgic_event *ev);
};

START_TEST(callbacks_version_1)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    fake_transport(&c.fk, &c.tr);
    /* followed by bytes that would be a wild on_timer if they were read */
    struct {
        struct pool_callbacks_v1 cb;
        unsigned char garbage[64];
    } v1;
    memset(&v1, 0xa5, sizeof(v1));
    v1.cb.version = 1;
    v1.cb.on_head = NULL;
    v1.cb.on_body = c_body;
    v1.cb.on_stderr = NULL;
    v1.cb.on_end = c_end;
    v1.cb.body_read = c_read;
    v1.cb.on_event = c_event;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = "fcgi://x:1";
    o.enable_reuse = 1;
    ck_assert_int_eq(fcgic_pool_new(&c.p, &o, &c.tr, (const struct fcgic_pool_callbacks *)(const void *)&v1.cb, &c,
                                    NULL),
                     0);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "v1"), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_str_eq(c.body, "v1");
    tick(&c); /* deferred work: on_timer would be called here */
    ck_assert_str_eq(c.events, "connect ");
    teardown(&c);

    /* versions it does not know */
    struct fcgic_pool_callbacks cb = cbs();
    struct fcgic_pool *p = NULL;
    cb.version = 0;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &c.tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION + 1;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &c.tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    o.version = FCGIC_POOL_OPTIONS_VERSION + 1;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &c.tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    o.version = FCGIC_POOL_OPTIONS_VERSION;
    struct fcgic_transport tr = c.tr;
    tr.version = FCGIC_TRANSPORT_VERSION + 1;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL), FCGIC_E_INVAL);
    tr.version = 0; /* means 1 */
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL), 0);
    fcgic_pool_free(p);
}
END_TEST

struct timer_log {
    uint64_t d[16];
    int n;
};

static void t_timer(void *ud, uint64_t deadline)
{
    struct ctx *c = ud;
    struct timer_log *t = (struct timer_log *)(void *)c->body; /* body is unused here */
    if (t->n < 16)
        t->d[t->n] = deadline;
    t->n++;
    /* calls back into the pool are refused */
    ck_assert_int_eq(fcgic_pool_tick(c->p, 0), FCGIC_E_REENTRANT);
}

/* on_timer: called with the new deadline when a request is queued (its
 * acquire time), when deferred work waits (0), and when the deadline
 * moves on (ttl of an idle connection), only when it changes. */
START_TEST(on_timer_hook)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    o.max = 1;
    o.acquire_ns = 5 * SEC;
    o.ttl_ns = 30 * SEC;
    memset(&c, 0, sizeof(c));
    fake_transport(&c.fk, &c.tr);
    o.target = "fcgi://x:1";
    struct fcgic_pool_callbacks cb = cbs();
    cb.on_body = NULL;
    cb.on_timer = t_timer;
    ck_assert_int_eq(fcgic_pool_new(&c.p, &o, &c.tr, &cb, &c, NULL), 0);
    struct timer_log *t = (struct timer_log *)(void *)c.body;
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0); /* opens a connection */
    ck_assert_int_eq(t->n, 1);
    ck_assert_uint_eq(t->d[0], FCGIC_NO_DEADLINE);
    c.fk.now = SEC;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, SEC), 0); /* queued */
    ck_assert_int_eq(t->n, 2);
    ck_assert_uint_eq(t->d[1], 6 * SEC);
    ck_assert_int_eq(fake_respond(&c.fk, 0, "x"), 0); /* deferred: hand over */
    ck_assert_int_eq(t->n, 3);
    ck_assert_uint_eq(t->d[2], 0);
    ck_assert_int_eq(fcgic_pool_tick(c.p, SEC), 0);
    ck_assert_int_eq(t->n, 4);
    ck_assert_uint_eq(t->d[3], FCGIC_NO_DEADLINE); /* running, nothing queued */
    ck_assert_int_eq(fake_respond(&c.fk, 0, "y"), 0);
    ck_assert_uint_eq(t->d[t->n - 1], 0);
    int before = t->n;
    ck_assert_int_eq(fcgic_pool_tick(c.p, SEC), 0);
    ck_assert_int_eq(t->n, before + 1);
    ck_assert_uint_eq(t->d[t->n - 1], FCGIC_NO_DEADLINE); /* min == 0, smax == max: kept */
    ck_assert_int_eq(c.ends, 2);
    /* A tick reports the deadline again even when it did not move: the
     * embedder's one-shot timer that called it is spent. */
    before = t->n;
    ck_assert_int_eq(fcgic_pool_tick(c.p, 2 * SEC), 0);
    ck_assert_int_eq(t->n, before + 1);
    ck_assert_uint_eq(t->d[t->n - 1], FCGIC_NO_DEADLINE);
    memset(c.body, 0, sizeof(c.body));
    teardown(&c);
}
END_TEST

static int pause_body(void *ud, const char *d, size_t n)
{
    c_body(ud, d, n);
    return FCGIC_PAUSE;
}

/* A callback's FCGIC_PAUSE stops the engine; fcgic_pool_unpause() goes on. */
START_TEST(unpause_goes_on)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    fake_transport(&c.fk, &c.tr);
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = "fcgi://x:1";
    struct fcgic_pool_callbacks cb = cbs();
    cb.on_body = pause_body;
    ck_assert_int_eq(fcgic_pool_new(&c.p, &o, &c.tr, &cb, &c, NULL), 0);
    struct fcgic_request req = simple_req();
    struct fcgic_pool_req *h;
    ck_assert_int_eq(fcgic_pool_unpause(c.p, NULL, 0), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, &h, 0), 0);
    ck_assert_int_eq(fcgic_pool_unpause(c.p, h, 0), 0); /* nothing paused: harmless */
    unsigned char b[256];
    const char *out = "Status: 200 OK\r\n\r\nab";
    size_t len = put_rec(b, 6, c.fk.fc[0].last_id, out, strlen(out));
    size_t used = 0;
    ck_assert_int_eq(fcgic_conn_recv(c.fk.fc[0].c, b, len, &used, 0), 0);
    ck_assert_str_eq(c.body, "ab");
    ck_assert_int_eq(fcgic_conn_input_paused(c.fk.fc[0].c), 1);
    ck_assert_uint_eq(fcgic_conn_wants(c.fk.fc[0].c) & FCGIC_WANT_READ, 0);
    ck_assert_int_eq(fcgic_pool_unpause(c.p, h, 0), 0);
    ck_assert_int_eq(fcgic_conn_input_paused(c.fk.fc[0].c), 0);
    ck_assert_uint_ne(fcgic_conn_wants(c.fk.fc[0].c) & FCGIC_WANT_READ, 0);
    ck_assert_int_eq(fake_respond_raw(&c.fk, 0, "", 0, 0), 0);
    ck_assert_int_eq(c.ends, 1);
    teardown(&c);
}
END_TEST

/* The errno of an open refused at once: fcgic_pool_last_errno(). */
START_TEST(open_errno)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    setup(&c, &o);
    c.fk.refuse[0] = "fcgi://127.0.0.1:9000";
    c.fk.refuse_errno = ENOENT;
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), FCGIC_E_CONNECT);
    ck_assert_int_eq(fcgic_pool_last_errno(c.p), ENOENT);
    c.fk.refuse[0] = NULL;
    c.fk.last_mem = NULL;
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_pool_last_errno(c.p), 0);
    ck_assert_ptr_ne(c.fk.last_mem, NULL); /* the pool's allocator, handed to open */
    teardown(&c);
}
END_TEST

struct again_ctx {
    struct fcgic_pool *p;
    int ends, more, per_end;
};

static void again_end(void *ud, const struct fcgic_result *r)
{
    struct again_ctx *a = ud;
    ck_assert_int_eq(r->error, 0);
    a->ends++;
    if (a->more > 0) {
        a->more--;
        struct fcgic_request req = simple_req();
        for (int i = 0; i < a->per_end; i++)
            ck_assert_int_eq(fcgic_pool_submit(a->p, &req, a, NULL, 0), 0);
    }
}

/* A request submitted from on_end takes the connection whose request just
 * ended (at the next tick) instead of opening another one. */
START_TEST(submit_from_on_end_reuses)
{
    struct fake fk;
    struct fcgic_transport tr;
    fake_transport(&fk, &tr);
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = again_end;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = "fcgi://x:1";
    o.enable_reuse = 1;
    struct again_ctx a = {NULL, 0, 3, 1};
    ck_assert_int_eq(fcgic_pool_new(&a.p, &o, &tr, &cb, NULL, NULL), 0);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(a.p, &req, &a, NULL, 0), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(fake_respond(&fk, 0, "x"), 0);
        ck_assert_int_eq(a.ends, i + 1);
        ck_assert_uint_eq(fcgic_pool_deadline(a.p), 0);
        ck_assert_int_eq(fcgic_pool_tick(a.p, 0), 0);
    }
    ck_assert_int_eq(fk.n, 1); /* one connection for all four */
    ck_assert_uint_eq(fk.fc[0].nbegin, 4);
    /* two submits from one on_end: one waits for that connection, the
     * other (queued behind it) opens a new one at the tick */
    a.more = 1;
    a.per_end = 2;
    ck_assert_int_eq(fcgic_pool_submit(a.p, &req, &a, NULL, 0), 0);
    ck_assert_int_eq(fake_respond(&fk, 0, "x"), 0);
    ck_assert_int_eq(fk.n, 1);
    ck_assert_int_eq(fcgic_pool_tick(a.p, 0), 0);
    ck_assert_int_eq(fk.n, 2);
    ck_assert_uint_eq(fk.fc[0].nbegin, 6);
    ck_assert_int_eq(fake_respond(&fk, 0, "x"), 0);
    ck_assert_int_eq(fake_respond(&fk, 1, "x"), 0);
    ck_assert_int_eq(a.ends, 7);
    fcgic_pool_free(a.p);
    fake_free(&fk);
}
END_TEST

/* While a never-answered connection has waited more than 1 s (PHP-FPM's
 * listen queue), idle connections are closed rather than kept. */
START_TEST(idle_not_kept_while_one_waits)
{
    struct ctx c;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.enable_reuse = 1;
    setup(&c, &o);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0); /* conn 0 */
    ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0); /* conn 1 */
    ck_assert_int_eq(fake_respond(&c.fk, 1, "x"), 0);
    tick(&c);
    ck_assert_int_eq(c.fk.fc[1].closed, 0); /* 0 has not waited long: kept */
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), SEC + 1);
    c.fk.now = SEC + 1;
    tick(&c);
    ck_assert_int_eq(c.fk.fc[1].closed, 1); /* its worker may be what 0 waits for */
    ck_assert_int_eq(fake_respond(&c.fk, 0, "x"), 0);
    tick(&c);
    ck_assert_int_eq(c.fk.fc[0].closed, 0); /* nothing waits: kept */
    ck_assert_uint_eq(fcgic_pool_deadline(c.p), FCGIC_NO_DEADLINE);
    teardown(&c);
}
END_TEST

/* Pools give requests a 60 s first-byte and idle timeout by default;
 * FCGIC_NO_DEADLINE turns it off. */
START_TEST(default_timeout)
{
    for (int off = 0; off < 2; off++) {
        struct ctx c;
        struct fcgic_pool_options o;
        memset(&o, 0, sizeof(o));
        o.timeout_ns = off ? FCGIC_NO_DEADLINE : 0;
        setup(&c, &o);
        struct fcgic_request req = simple_req();
        ck_assert_int_eq(fcgic_pool_submit(c.p, &req, &c, NULL, 0), 0);
        ck_assert_uint_eq(fcgic_conn_deadline(c.fk.fc[0].c), off ? FCGIC_NO_DEADLINE : FCGIC_POOL_DEFAULT_TIMEOUT_NS);
        if (!off) {
            fcgic_conn_tick(c.fk.fc[0].c, FCGIC_POOL_DEFAULT_TIMEOUT_NS);
            ck_assert_int_eq(c.ends, 1);
            ck_assert_int_eq(c.err, FCGIC_E_TIMEOUT_FIRST_BYTE);
        }
        teardown(&c);
    }
}
END_TEST

/* ---- PHP-FPM: cancel, keep-alive pinning --------------------------------- */

struct fpm_run {
    struct fcgic_pool *p;
    struct fcgic_param params[5];
    char script[4200];
    int ends, errors, from_end;
    uint64_t ended_at;
    int inside; /* on_end ran inside fcgic_pool_abort() */
    int in_abort;
};

static void fpm_req(struct fpm_run *f, struct fcgic_request *req, const char *query)
{
    f->params[0] = (struct fcgic_param){"SCRIPT_FILENAME", 15, f->script, strlen(f->script)};
    f->params[1] = (struct fcgic_param)FCGIC_PARAM_LIT("SCRIPT_NAME", "/slow.php");
    f->params[2] = (struct fcgic_param)FCGIC_PARAM_LIT("REQUEST_METHOD", "GET");
    f->params[3] = (struct fcgic_param){"QUERY_STRING", 12, query, strlen(query)};
    f->params[4] = (struct fcgic_param)FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1");
    memset(req, 0, sizeof(*req));
    req->params = f->params;
    req->nparams = 5;
}

static void fpm_end(void *ud, const struct fcgic_result *res)
{
    struct fpm_run *f = ud;
    f->ends++;
    f->ended_at = fcgic_posix_now();
    f->inside = f->in_abort;
    if (res->error || !res->got_end_request)
        f->errors++;
    if (f->from_end > 0) {
        f->from_end--;
        struct fcgic_request req;
        fpm_req(f, &req, "ms=50");
        ck_assert_int_eq(fcgic_pool_submit(f->p, &req, f, NULL, fcgic_posix_now()), 0);
    }
}

static int fpm_ended(void *ud)
{
    return ((struct fpm_run *)ud)->ends > 0;
}

static int fpm_all(void *ud)
{
    return ((struct fpm_run *)ud)->ends >= 64;
}

/* A pool on px's transport that reuses connections to target (at most max,
 * timeout_ns timeout) and has only on_end set. */
static struct fcgic_pool *posix_pool(struct fcgic_posix *px, const char *target, unsigned max, uint64_t timeout_ns,
                                     void (*on_end)(void *, const struct fcgic_result *))
{
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = on_end;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = target;
    o.enable_reuse = 1;
    o.max = max;
    o.timeout_ns = timeout_ns;
    struct fcgic_pool *p;
    ck_assert_int_eq(fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL), 0);
    return p;
}

static struct fcgic_pool *fpm_pool(struct fcgic_posix *px, struct fpm_run *f, const char *url, unsigned max)
{
    f->p = posix_pool(px, url, max, 0, fpm_end);
    ck_assert_int_eq(fcgic_posix_attach_pool(px, f->p), 0);
    return f->p;
}

/* Cancel a request whose PHP script sleeps 10 s: on_end comes before
 * fcgic_pool_abort() returns and the connection is gone after the next
 * round of the built-in loop. Prints the times (never asserted). */
START_TEST(integration_php_fpm_cancel)
{
    struct harness_app *app;
    int rc = harness_php_start(&app, HARNESS_TCP, 2);
    if (rc == HARNESS_SKIP)
        return;
    ck_assert_int_eq(rc, 0);
    struct fpm_run f;
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(harness_php_script(app, "slow.php", f.script, sizeof(f.script)), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_pool *p = fpm_pool(px, &f, app->url, 4);
    struct fcgic_request req;
    fpm_req(&f, &req, "ms=10000");
    struct fcgic_pool_req *h;
    ck_assert_int_eq(fcgic_pool_submit(p, &req, &f, &h, fcgic_posix_now()), 0);
    /* let PHP-FPM take it and start sleeping */
    ck_assert_int_eq(fcgic_posix_run_until(px, fpm_ended, &f, 300000000ull), FCGIC_E_TIMEOUT);
    uint64_t t0 = fcgic_posix_now();
    f.in_abort = 1;
    ck_assert_int_eq(fcgic_pool_abort(p, h, t0), 0);
    f.in_abort = 0;
    uint64_t t1 = fcgic_posix_now();
    ck_assert_int_eq(f.ends, 1);
    ck_assert_int_eq(f.inside, 1);
    ck_assert_uint_eq(fcgic_pool_deadline(p), 0);
    ck_assert_int_eq(fcgic_posix_run(px, 0), 0); /* the next tick closes the connection */
    uint64_t t2 = fcgic_posix_now();
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.conns_open, 0);
    ck_assert_uint_eq(fcgic_posix_count(px), 0);
    printf("cancel of a 10 s PHP script: on_end %.1f us after the call (inside it), connection closed %.1f us "
           "after the call returned (next loop round)\n",
           (double)(f.ended_at - t0) / 1e3, (double)(t2 - t1) / 1e3);
    fcgic_posix_detach_pool(px, p);
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

/* 4 PHP-FPM workers, a pool of max 16 with reuse: 48 requests at once and
 * 16 more submitted from on_end. Kept connections beyond the workers wait
 * in FPM's listen queue; the pool must not strand them. */
START_TEST(integration_php_fpm_no_stranding)
{
    struct harness_app *app;
    int rc = harness_php_start(&app, HARNESS_TCP, 4);
    if (rc == HARNESS_SKIP)
        return;
    ck_assert_int_eq(rc, 0);
    struct fpm_run f;
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(harness_php_script(app, "slow.php", f.script, sizeof(f.script)), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_pool *p = fpm_pool(px, &f, app->url, 16);
    f.from_end = 16;
    struct fcgic_request req;
    fpm_req(&f, &req, "ms=50");
    uint64_t t0 = fcgic_posix_now();
    for (int i = 0; i < 48; i++)
        ck_assert_int_eq(fcgic_pool_submit(p, &req, &f, NULL, fcgic_posix_now()), 0);
    unsigned peak = 0;
    while (!fpm_all(&f)) {
        if (fcgic_posix_now() - t0 > 40 * SEC) { /* below the 60 s default timeout */
            struct fcgic_pool_stats x = {.version = FCGIC_POOL_STATS_VERSION};
            ck_assert_int_eq(fcgic_pool_get_stats(p, &x), 0);
            ck_abort_msg("stranded: %d ended, %u open, %u idle, %u busy, %u queued, %llu created", f.ends,
                         x.conns_open, x.conns_idle, x.busy, x.queued, (unsigned long long)x.conns_created);
        }
        ck_assert_int_eq(fcgic_posix_run(px, 100000000ull), 0);
        struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
        ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
        if (st.conns_open > peak)
            peak = st.conns_open;
    }
    uint64_t t1 = fcgic_posix_now();
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_int_eq(f.errors, 0);
    ck_assert_uint_le(peak, 16);
    printf("PHP-FPM 4 workers, max 16, reuse: 64 requests (16 from on_end) in %.2f s, %llu connections opened, "
           "at most %u open, %llu reused\n",
           (double)(t1 - t0) / 1e9, (unsigned long long)st.conns_created, peak,
           (unsigned long long)st.conns_reused);
    fcgic_posix_detach_pool(px, p);
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(end_kinds_and_buckets)
{
    static const struct {
        int error, aborted;
        enum fcgic_protocol_status ps;
        enum fcgic_end_kind kind;
    } cases[] = {
        {0, 0, FCGIC_REQUEST_COMPLETE, FCGIC_END_OK},
        {0, 0, FCGIC_OVERLOADED, FCGIC_END_REFUSED},
        {0, 0, FCGIC_CANT_MPX_CONN, FCGIC_END_REFUSED},
        {FCGIC_E_CONNECT, 0, 0, FCGIC_END_CONNECT},
        {FCGIC_E_TIMEOUT_CONNECT, 0, 0, FCGIC_END_CONNECT},
        {FCGIC_E_BAL_ALL_DOWN, 0, 0, FCGIC_END_CONNECT},
        {FCGIC_E_TIMEOUT_FIRST_BYTE, 0, 0, FCGIC_END_TIMEOUT},
        {FCGIC_E_POOL_TIMEOUT, 0, 0, FCGIC_END_TIMEOUT},
        {FCGIC_E_PEER_CLOSED, 0, 0, FCGIC_END_PROTOCOL},
        {FCGIC_E_BAD_VERSION, 0, 0, FCGIC_END_PROTOCOL},
        {FCGIC_E_CGI_BAD_HEADER, 0, 0, FCGIC_END_PROTOCOL},
        {FCGIC_E_ABORTED, 1, 0, FCGIC_END_CANCEL},
        {FCGIC_E_POOL_CLOSED, 0, 0, FCGIC_END_OTHER},
        {FCGIC_E_PARAMS_TOO_BIG, 0, 0, FCGIC_END_OTHER},
        {FCGIC_E_NOMEM, 0, 0, FCGIC_END_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fcgic_result r;
        memset(&r, 0, sizeof(r));
        r.error = cases[i].error;
        r.aborted = cases[i].aborted;
        r.got_end_request = cases[i].error == 0;
        r.protocol_status = cases[i].ps;
        ck_assert_msg(fcgic_end_kind(&r) == cases[i].kind, "case %zu", i);
    }
    ck_assert_int_eq(fcgic_end_kind(NULL), FCGIC_END_OTHER);
    ck_assert_str_eq(fcgic_end_kind_name(FCGIC_END_OK), "ok");
    ck_assert_str_eq(fcgic_end_kind_name(FCGIC_END_REFUSED), "refused");
    ck_assert_str_eq(fcgic_end_kind_name((enum fcgic_end_kind)99), "other");
    ck_assert_uint_eq(fcgic_latency_bucket_le(0), 100000);
    ck_assert_uint_eq(fcgic_latency_bucket_le(3), 1000000);
    ck_assert_uint_eq(fcgic_latency_bucket_le(FCGIC_LATENCY_BUCKETS - 1), 50000000000ull);
    ck_assert_uint_eq(fcgic_latency_bucket_le(FCGIC_LATENCY_BUCKETS), FCGIC_NO_DEADLINE);
    for (unsigned i = 1; i < FCGIC_LATENCY_BUCKETS; i++)
        ck_assert_uint_gt(fcgic_latency_bucket_le(i), fcgic_latency_bucket_le(i - 1));
}
END_TEST

/* Statistics after real requests: outcomes by kind, reuse, queue waits and
 * the latency histogram (lower bounds only: sleep_ms makes a request take
 * at least that long; nothing here depends on how fast the machine is). */
struct sctx {
    int ends;
    enum fcgic_end_kind kind;
};

static void s_end(void *ud, const struct fcgic_result *res)
{
    struct sctx *c = ud;
    c->ends++;
    c->kind = fcgic_end_kind(res);
}

static struct fcgic_pool *stats_pool(struct fcgic_posix *px, const char *target, unsigned max, uint64_t timeout)
{
    return posix_pool(px, target, max, timeout, s_end);
}

static struct fcgic_request qs_req(const char *qs)
{
    static struct fcgic_param params[3] = {FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/x.php"),
                                           FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                           FCGIC_PARAM_LIT("QUERY_STRING", "")};
    params[2].value = qs;
    params[2].value_len = strlen(qs);
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 3;
    return req;
}

/* Submit n requests with query qs at once and run until they ended; the
 * kind the last one ended with. */
static enum fcgic_end_kind stats_run(struct fcgic_posix *px, struct fcgic_pool *p, const char *qs, int n)
{
    struct sctx c[8];
    memset(c, 0, sizeof(c));
    struct fcgic_request req = qs_req(qs);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(fcgic_pool_submit(p, &req, &c[i], NULL, fcgic_posix_now()), 0);
    uint64_t limit = fcgic_posix_now() + 20 * SEC;
    for (int i = 0; i < n; i++) {
        while (c[i].ends == 0) {
            uint64_t now = fcgic_posix_now();
            ck_assert_uint_lt(now, limit);
            if (fcgic_pool_deadline(p) <= now)
                fcgic_pool_tick(p, now);
            if (c[i].ends == 0)
                fcgic_posix_run(px, 20000000ull);
        }
    }
    return c[n - 1].kind;
}

static unsigned bucket_of(uint64_t ns)
{
    unsigned i = 0;
    while (fcgic_latency_bucket_le(i) < ns)
        i++;
    return i;
}

START_TEST(integration_stats)
{
    struct harness_app *app;
    const char *args[] = {"-t", "4", NULL};
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", args), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_pool *p = stats_pool(px, app->url, 1, 300000000ull);
    /* three at once on max=1: one connection, reused twice; two queued */
    ck_assert_int_eq(stats_run(px, p, "sleep_ms=50", 3), FCGIC_END_OK);
    ck_assert_int_eq(stats_run(px, p, "sleep_ms=2000", 1), FCGIC_END_TIMEOUT);
    /* cancelled at once: latency 0 */
    struct sctx c = {0};
    struct fcgic_request req = qs_req("");
    struct fcgic_pool_req *h;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_pool_submit(p, &req, &c, &h, now), 0);
    ck_assert_int_eq(fcgic_pool_abort(p, h, now), 0);
    ck_assert_int_eq(c.kind, FCGIC_END_CANCEL);

    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.version, FCGIC_POOL_STATS_VERSION);
    ck_assert_uint_eq(st.requests, 5);
    ck_assert_uint_eq(st.failures, 2);
    ck_assert_uint_eq(st.ends[FCGIC_END_OK], 3);
    ck_assert_uint_eq(st.ends[FCGIC_END_TIMEOUT], 1);
    ck_assert_uint_eq(st.ends[FCGIC_END_CANCEL], 1);
    ck_assert_uint_eq(st.conns_reused, 3); /* the two queued ones, and the slow one */
    ck_assert_uint_eq(st.queue_waits, 2);
    ck_assert_uint_ge(st.queue_wait_ns, (50 + 100) * 1000000ull); /* behind one, behind two */
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_ge(st.latency_sum_ns, (50 + 100 + 150 + 300) * 1000000ull);
    /* cumulative: only the cancelled one below 50 ms, all five at 50 s */
    ck_assert_uint_eq(st.latency_le[0], 1);
    ck_assert_uint_eq(st.latency_le[bucket_of(50000000ull) - 1], 1);
    ck_assert_uint_eq(st.latency_le[FCGIC_LATENCY_BUCKETS - 1], 5);
    for (unsigned i = 1; i < FCGIC_LATENCY_BUCKETS; i++)
        ck_assert_uint_ge(st.latency_le[i], st.latency_le[i - 1]);
    ck_assert_uint_ge(st.bytes_in, 3 * 10);
    fcgic_pool_free(p);

    /* connect: a port nothing listens on */
    ck_assert_int_eq(harness_app_kill(app), 0);
    p = stats_pool(px, app->url, 1, 0);
    ck_assert_int_eq(stats_run(px, p, "", 1), FCGIC_END_CONNECT);
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.ends[FCGIC_END_CONNECT], 1);
    ck_assert_uint_eq(st.requests, 1);
    /* a version newer than the library knows: refused, nothing written */
    struct fcgic_pool_stats future = {.version = FCGIC_POOL_STATS_VERSION + 1};
    ck_assert_int_eq(fcgic_pool_get_stats(p, &future), FCGIC_E_INVAL);
    ck_assert_uint_eq(future.requests, 0);
    struct fcgic_pool_stats zero = {0}; /* 0 means version 1 */
    ck_assert_int_eq(fcgic_pool_get_stats(p, &zero), 0);
    ck_assert_uint_eq(zero.requests, 1);
    fcgic_pool_free(p);
    harness_app_stop(app);

    /* the application refuses (OVERLOADED) or breaks the protocol */
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-hostile", NULL), 0);
    p = stats_pool(px, app->url, 4, 0);
    ck_assert_int_eq(stats_run(px, p, "do=end=0,2", 1), FCGIC_END_REFUSED);
    ck_assert_int_eq(stats_run(px, p, "do=out=Status:%20200\\r\\n\\r\\nx;close", 1), FCGIC_END_PROTOCOL);
    ck_assert_int_eq(stats_run(px, p, "", 1), FCGIC_END_OK);
    ck_assert_int_eq(fcgic_pool_get_stats(p, &st), 0);
    ck_assert_uint_eq(st.ends[FCGIC_END_REFUSED], 1);
    ck_assert_uint_eq(st.ends[FCGIC_END_PROTOCOL], 1);
    ck_assert_uint_eq(st.ends[FCGIC_END_OK], 1);
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.failures, 1); /* OVERLOADED is an answer, not an error */
    fcgic_pool_free(p);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc;
    tc = tcase_create("reuse");
    tcase_add_test(tc, reuse_off_default);
    tcase_add_test(tc, reuse_on_keeps_conn);
    tcase_add_test(tc, event_callback_is_a_callback);
    tcase_add_test(tc, mru_first);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, max_queue_timeout_full);
    tcase_add_test(tc, ttl_smax_and_overloaded);
    tcase_add_test(tc, get_values_caps_max);
    tcase_add_test(tc, probe_lost_and_far_deadlines);
    tcase_add_test(tc, abort_queued);
    tcase_add_test(tc, free_ends_requests_in_flight);
    suite_add_tcase(s, tc);
    tc = tcase_create("stale");
    tcase_add_test(tc, stale_kept_conn_retried);
    tcase_add_test(tc, no_retry_after_response_bytes);
    tcase_add_test(tc, stale_inside_dispatch_from_queue);
    tcase_add_test(tc, check_before_reuse);
    tcase_add_test(tc, retry_policy);
    tcase_add_test(tc, stray_bytes_are_stale);
    suite_add_tcase(s, tc);
    tc = tcase_create("mpx");
    tcase_add_test(tc, reuse_off_ignores_mpx_answer);
    tcase_add_test(tc, refusing_conn_does_not_spin);
    tcase_add_test(tc, mpx_option);
    tcase_add_test(tc, cold_burst_converges);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_add_test(tc, bad_args);
    tcase_add_test(tc, failalloc_pool);
    tcase_add_test(tc, handle_valid_during_on_end);
    tcase_add_test(tc, request_ends_inside_submit);
    tcase_add_test(tc, end_kinds_and_buckets);
    suite_add_tcase(s, tc);
    tc = tcase_create("cancel");
    tcase_add_test(tc, abort_running_ends_now);
    tcase_add_test(tc, abort_polite_waits);
    tcase_add_test(tc, abort_from_own_callback);
    suite_add_tcase(s, tc);
    tc = tcase_create("embedding");
    tcase_add_test(tc, callbacks_version_1);
    tcase_add_test(tc, on_timer_hook);
    tcase_add_test(tc, unpause_goes_on);
    tcase_add_test(tc, open_errno);
    suite_add_tcase(s, tc);
    tc = tcase_create("keepalive");
    tcase_add_test(tc, submit_from_on_end_reuses);
    tcase_add_test(tc, idle_not_kept_while_one_waits);
    tcase_add_test(tc, default_timeout);
    suite_add_tcase(s, tc);
    tc = tcase_create("integration");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, integration_reuse_off_on);
    tcase_add_test(tc, integration_flush_batches);
    tcase_add_test(tc, integration_max_queueing);
    tcase_add_test(tc, integration_backend_restart);
    tcase_add_test(tc, integration_php_fpm_reuse);
    tcase_add_test(tc, integration_php_fpm_cancel);
    tcase_add_test(tc, integration_php_fpm_no_stranding);
    tcase_add_test(tc, integration_reuse_off_mpx_app);
    tcase_add_test(tc, integration_cold_burst_mpx);
    tcase_add_test(tc, integration_hostile_retry_policy);
    tcase_add_test(tc, integration_hostile_soak);
    tcase_add_test(tc, integration_stats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return testutil_run(pool_suite());
}
