/* Tests of the balancer: Apache's byrequests / bybusyness / bytraffic
 * choices (explicit sequences and a straightforward O(n) model of Apache's
 * scan, run side by side with the library's heap-based selection), member
 * status, failover, forced recovery, run-time changes, active health checks
 * (deterministic clock, fake transport), params per member (also after a
 * failover), freeing with requests in flight,
 * allocation failures, and integration against real app-echo processes and
 * PHP-FPM. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "fcgiclient/balancer.h"
#include "fcgiclient/error.h"
#include "fcgiclient/posix.h"
#include "harness.h"
#include "pool-fake.h"
#include "testutil.h"

#define SEC 1000000000ull

/* ------------------------------------------------------------------------ */
/* Apache's scan, written plainly (the test oracle)                          */
/* ------------------------------------------------------------------------ */

struct ref_m {
    unsigned f, lbset, status;
    long long lbstatus;
    uint64_t until;
    int present;
    unsigned busy;              /* requests in flight (bybusyness) */
    uint64_t transferred, read; /* bytes (bytraffic) */
};

struct ref {
    struct ref_m m[64];
    int n;
    int method;
};

static int ref_usable(const struct ref_m *m)
{
    return m->present && !(m->status & (FCGIC_MEMBER_DISABLED | FCGIC_MEMBER_ERROR));
}

static long long ref_traffic(const struct ref_m *m)
{
    return (long long)(m->transferred / m->f) + (long long)(m->read / m->f);
}

/* Apache's is_best_byrequests / _bybusyness / _bytraffic: is m better than
 * the best one so far? */
static int ref_better(int method, const struct ref_m *m, const struct ref_m *best)
{
    switch (method) {
    case FCGIC_LB_BYBUSYNESS:
        return m->busy < best->busy || (m->busy == best->busy && m->lbstatus > best->lbstatus);
    case FCGIC_LB_BYTRAFFIC:
        return ref_traffic(m) < ref_traffic(best);
    default:
        return m->lbstatus > best->lbstatus;
    }
}

static int ref_pick(struct ref *r, uint64_t now)
{
    int nerr = 0, npres = 0;
    for (int i = 0; i < r->n; i++) {
        struct ref_m *m = &r->m[i];
        if (!m->present)
            continue;
        npres++;
        if ((m->status & FCGIC_MEMBER_ERROR) && now > m->until)
            m->status &= ~FCGIC_MEMBER_ERROR;
        if (m->status & FCGIC_MEMBER_ERROR)
            nerr++;
    }
    if (npres && nerr == npres)
        for (int i = 0; i < r->n; i++)
            r->m[i].status &= ~FCGIC_MEMBER_ERROR;
    unsigned maxset = 0;
    for (int i = 0; i < r->n; i++)
        if (r->m[i].present && r->m[i].lbset > maxset)
            maxset = r->m[i].lbset;
    for (unsigned set = 0; set <= maxset; set++) {
        for (int sb = 0; sb < 2; sb++) {
            int best = -1;
            long long total = 0;
            for (int i = 0; i < r->n; i++) {
                struct ref_m *m = &r->m[i];
                if (!ref_usable(m) || m->lbset != set || (m->status & FCGIC_MEMBER_DRAIN) ||
                    ((m->status & FCGIC_MEMBER_STANDBY) != 0) != sb)
                    continue;
                if (r->method != FCGIC_LB_BYTRAFFIC) {
                    m->lbstatus += m->f;
                    total += m->f;
                }
                if (best < 0 || ref_better(r->method, m, &r->m[best]))
                    best = i;
            }
            if (best >= 0) {
                if (r->method != FCGIC_LB_BYTRAFFIC)
                    r->m[best].lbstatus -= total;
                return best;
            }
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

struct ctx {
    struct fake fk;
    struct fcgic_transport tr;
    struct fcgic_balancer *b;
    int ends, end_err, heads;
    int member_events, failovers;
    uint64_t state_now; /* `now` of the last MEMBER_STATE event */
    char log[512];
    const char *stream; /* body handed out by body_read, 4 bytes at a time */
    size_t stream_pos;
    int body_reads;
    /* on_end while the balancer is being freed: try it again */
    struct fcgic_balancer *again;
    int again_rc;
    unsigned retries; /* of the last on_end */
    int ps;           /* protocol status of the last on_end */
    int opens;        /* connections opened (events) */
};

static struct fcgic_request simple_req(void);

static void c_end(void *ud, const struct fcgic_result *res)
{
    struct ctx *c = ud;
    c->ends++;
    c->end_err = res->error;
    c->retries = res->retries;
    c->ps = res->got_end_request ? (int)res->protocol_status : -1;
    if (c->again) {
        struct fcgic_request req = simple_req();
        c->again_rc = fcgic_balancer_submit(c->again, &req, c, NULL, 0);
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

static int c_head(void *ud, const struct fcgic_response_head *h)
{
    struct ctx *c = ud;
    c->heads++;
    (void)h;
    return 0;
}

static void c_event(void *ud, const struct fcgic_event *ev)
{
    struct ctx *c = ud;
    char tmp[64];
    if (ev->kind == FCGIC_EVENT_MEMBER_STATE) {
        c->member_events++;
        c->state_now = ev->now;
        snprintf(tmp, sizeof(tmp), "m%u:%u>%u ", ev->member, ev->old_status, ev->new_status);
        strncat(c->log, tmp, sizeof(c->log) - strlen(c->log) - 1);
    } else if (ev->kind == FCGIC_EVENT_HEALTH) {
        snprintf(tmp, sizeof(tmp), "h%u:%d ", ev->member, ev->error);
        strncat(c->log, tmp, sizeof(c->log) - strlen(c->log) - 1);
    } else if (ev->kind == FCGIC_EVENT_CONNECT) {
        c->opens++;
    } else if (ev->kind == FCGIC_EVENT_FAILOVER) {
        c->failovers++;
        snprintf(tmp, sizeof(tmp), "fo%u ", ev->member);
        strncat(c->log, tmp, sizeof(c->log) - strlen(c->log) - 1);
    }
}

static struct fcgic_pool_callbacks cbs(void)
{
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = c_end;
    cb.on_head = c_head;
    cb.on_event = c_event;
    cb.body_read = c_read;
    return cb;
}

/* Clear c and make c->b on the fake transport c->fk with options o (NULL
 * for the defaults) and allocator mem. Returns fcgic_balancer_new()'s
 * result. */
static int setup_mem(struct ctx *c, const struct fcgic_balancer_options *o, const struct fcgic_mem *mem)
{
    memset(c, 0, sizeof(*c));
    fake_transport(&c->fk, &c->tr);
    struct fcgic_pool_callbacks cb = cbs();
    return fcgic_balancer_new(&c->b, o, &c->tr, &cb, c, mem);
}

static void setup_opts(struct ctx *c, const struct fcgic_balancer_options *o)
{
    ck_assert_int_eq(setup_mem(c, o, NULL), 0);
}

static void setup(struct ctx *c, enum fcgic_lb_method meth)
{
    struct fcgic_balancer_options o;
    memset(&o, 0, sizeof(o));
    o.method = meth;
    setup_opts(c, &o);
}

static unsigned add(struct ctx *c, const char *target, unsigned f, unsigned lbset, unsigned status)
{
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = target;
    mo.lbfactor = f;
    mo.lbset = lbset;
    mo.status = status;
    unsigned id = 0;
    ck_assert_int_eq(fcgic_balancer_add(c->b, &mo, &id, c->fk.now), 0);
    return id;
}

static void teardown(struct ctx *c)
{
    fcgic_balancer_free(c->b);
    fake_free(&c->fk);
}

static void picks(struct ctx *c, int n, unsigned *out)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(fcgic_balancer_pick(c->b, &out[i], c->fk.now), 0);
}

/* ------------------------------------------------------------------------ */
/* byrequests                                                               */
/* ------------------------------------------------------------------------ */

START_TEST(byrequests_equal_alternate)
{
    /* bal_10_requests: two equal members get b1, b2, b1, b2, ... */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://127.0.0.1:18101", 0, 0, 0);
    add(&c, "fcgi://127.0.0.1:18102", 0, 0, 0);
    unsigned got[10];
    static const unsigned want[10] = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
    picks(&c, 10, got);
    ck_assert_mem_eq(got, want, sizeof(want));
    teardown(&c);
}
END_TEST

START_TEST(byrequests_weights)
{
    /* a, b, c, d = 1, 1, 1, 2: d a b c d, then the same again. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    add(&c, "fcgi://c:1", 1, 0, 0);
    add(&c, "fcgi://d:1", 2, 0, 0);
    unsigned got[10];
    static const unsigned want[10] = {4, 1, 2, 3, 4, 4, 1, 2, 3, 4};
    picks(&c, 10, got);
    ck_assert_mem_eq(got, want, sizeof(want));
    teardown(&c);

    /* 3 : 1 gives a a b a */
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 3, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    unsigned got2[8];
    static const unsigned want2[8] = {1, 1, 2, 1, 1, 1, 2, 1};
    picks(&c, 8, got2);
    ck_assert_mem_eq(got2, want2, sizeof(want2));
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, 1, &st), 0);
    ck_assert_int_eq(st.lbstatus, 0);
    ck_assert_int_eq(st.elected, 6);
    teardown(&c);

    /* b disabled out of four equal ones: a c d a c d (Apache's comment) */
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 25, 0, 0);
    add(&c, "fcgi://b:1", 25, 0, FCGIC_MEMBER_DISABLED);
    add(&c, "fcgi://c:1", 25, 0, 0);
    add(&c, "fcgi://d:1", 25, 0, 0);
    unsigned got3[6];
    static const unsigned want3[6] = {1, 3, 4, 1, 3, 4};
    picks(&c, 6, got3);
    ck_assert_mem_eq(got3, want3, sizeof(want3));
    teardown(&c);
}
END_TEST

static unsigned long long rnd_state;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rnd_state >> 33) % n);
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

/* A request in flight in scan_rounds(). */
struct flight {
    int conn, member;
    size_t stdin_len;
};

/* Random members, random status and weight changes, time passing, and
 * requests that start (through fcgic_balancer_submit(): the member is the
 * one the fake transport was asked to connect to) and end with random
 * sizes; every choice, lbstatus, busy count and byte count must equal the
 * plain scan's. Members have distinct targets "fcgi://m<index>:1". */
static void scan_rounds(int method, int rounds)
{
    static const char zeros[64] = {0};
    static char targets[64][24];
    for (int round = 0; round < rounds; round++) {
        rnd_state = (unsigned long long)round * 7919u + 1 + (unsigned long long)method * 104729u;
        struct ctx c;
        struct ref r;
        memset(&r, 0, sizeof(r));
        r.method = method;
        /* forced recovery for every request, as Apache does it */
        struct fcgic_balancer_options bo;
        memset(&bo, 0, sizeof(bo));
        bo.method = (enum fcgic_lb_method)method;
        bo.recovery_interval_ns = FCGIC_RETRY_IMMEDIATE;
        setup_opts(&c, &bo);
        int n = 2 + (int)rnd(30);
        for (int i = 0; i < n; i++) {
            r.m[i].f = 1 + rnd(round % 2 ? 100 : 4);
            r.m[i].lbset = rnd(4) == 0 ? 1 : 0;
            r.m[i].status = rnd(6) == 0 ? FCGIC_MEMBER_STANDBY : 0;
            r.m[i].present = 1;
            snprintf(targets[i], sizeof(targets[i]), "fcgi://m%d:1", i);
            add(&c, targets[i], r.m[i].f, r.m[i].lbset, r.m[i].status);
        }
        r.n = n;
        struct flight fl[256];
        int nfl = 0;
        for (int step = 0; step < 600; step++) {
            unsigned op = rnd(24);
            int i = (int)rnd((unsigned)n);
            if (op == 0) {
                unsigned flag = rnd(2) ? FCGIC_MEMBER_DISABLED : FCGIC_MEMBER_DRAIN;
                if (!r.m[i].present)
                    continue;
                if (r.m[i].status & flag) {
                    r.m[i].status &= ~flag;
                    ck_assert_int_eq(fcgic_balancer_set_status(c.b, (unsigned)i + 1, 0, flag, c.fk.now), 0);
                } else {
                    r.m[i].status |= flag;
                    ck_assert_int_eq(fcgic_balancer_set_status(c.b, (unsigned)i + 1, flag, 0, c.fk.now), 0);
                }
            } else if (op == 1 && r.m[i].present && !(r.m[i].status & FCGIC_MEMBER_ERROR)) {
                r.m[i].status |= FCGIC_MEMBER_ERROR;
                r.m[i].until = c.fk.now + 60 * SEC;
                ck_assert_int_eq(fcgic_balancer_set_status(c.b, (unsigned)i + 1, FCGIC_MEMBER_ERROR, 0, c.fk.now), 0);
            } else if (op == 2) {
                c.fk.now += rnd(30) * SEC;
            } else if (op == 3 && rnd(10) == 0 && r.m[i].present) {
                r.m[i].present = 0;
                ck_assert_int_eq(fcgic_balancer_remove(c.b, (unsigned)i + 1, c.fk.now), 0);
            } else if (op == 4 && r.m[i].present) {
                r.m[i].f = 1 + rnd(round % 2 ? 100 : 4);
                ck_assert_int_eq(fcgic_balancer_set_lbfactor(c.b, (unsigned)i + 1, r.m[i].f), 0);
            } else if (op >= 5 && op <= 9 && nfl < 256 && c.fk.n < FAKE_MAX_CONNS - 1) {
                /* a request starts */
                struct fcgic_request req = simple_req();
                size_t len = rnd(64);
                req.stdin_mode = FCGIC_BODY_BUFFER;
                req.stdin_data = zeros;
                req.stdin_len = len;
                int want = ref_pick(&r, c.fk.now);
                int before = c.fk.n;
                int rc = fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now);
                ck_assert_int_eq(rc, 0);
                if (want < 0) {
                    /* on_end from the next tick, no connection */
                    int ends = c.ends;
                    ck_assert_int_eq(c.fk.n, before);
                    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 0);
                    ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
                    ck_assert_int_eq(c.ends, ends + 1);
                    ck_assert_int_eq(c.end_err, FCGIC_E_BAL_ALL_DOWN);
                    continue;
                }
                ck_assert_int_eq(c.fk.n, before + 1);
                ck_assert_str_eq(c.fk.fc[before].target, targets[want]);
                r.m[want].busy++;
                fl[nfl].conn = before;
                fl[nfl].member = want;
                fl[nfl].stdin_len = len;
                nfl++;
            } else if (op >= 10 && op <= 13 && nfl > 0) {
                /* a request ends, with a body of random size */
                int k = (int)rnd((unsigned)nfl);
                char out[160];
                int olen = snprintf(out, sizeof(out), "Status: 200 OK\r\n\r\n%.*s", (int)rnd(100),
                                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                                    "012345678901234567890123456789");
                int ends = c.ends;
                ck_assert_int_eq(fake_respond_raw(&c.fk, fl[k].conn, out, 0, 0), 0);
                ck_assert_int_eq(c.ends, ends + 1);
                ck_assert_int_eq(c.end_err, 0);
                struct ref_m *m = &r.m[fl[k].member];
                m->busy--;
                m->transferred += fl[k].stdin_len;
                m->read += (uint64_t)olen;
                fl[k] = fl[--nfl];
                if (fcgic_balancer_deadline(c.b) <= c.fk.now)
                    ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
            } else {
                unsigned id = 0;
                int want = ref_pick(&r, c.fk.now);
                int rc = fcgic_balancer_pick(c.b, &id, c.fk.now);
                if (want < 0) {
                    ck_assert_int_eq(rc, FCGIC_E_BAL_ALL_DOWN);
                } else {
                    ck_assert_int_eq(rc, 0);
                    ck_assert_uint_eq(id, (unsigned)want + 1);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
            if (!r.m[i].present)
                continue;
            ck_assert_int_eq(fcgic_balancer_member_stats(c.b, (unsigned)i + 1, &st), 0);
            ck_assert_int_eq(st.lbstatus, r.m[i].lbstatus);
            ck_assert_uint_eq(st.busy, r.m[i].busy);
            ck_assert_uint_eq(st.transferred, r.m[i].transferred);
            ck_assert_uint_eq(st.read, r.m[i].read);
            ck_assert_uint_eq(st.lbfactor, r.m[i].f);
        }
        teardown(&c);
    }
}

START_TEST(byrequests_matches_apache_scan)
{
    scan_rounds(FCGIC_LB_BYREQUESTS, 40);
}
END_TEST

START_TEST(bybusyness_matches_apache_scan)
{
    scan_rounds(FCGIC_LB_BYBUSYNESS, 40);
}
END_TEST

START_TEST(bytraffic_matches_apache_scan)
{
    scan_rounds(FCGIC_LB_BYTRAFFIC, 40);
}
END_TEST
START_TEST(tiers_standby_lbset)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add(&c, "fcgi://a:1", 1, 0, 0);
    unsigned s = add(&c, "fcgi://s:1", 1, 0, FCGIC_MEMBER_STANDBY);
    unsigned l1 = add(&c, "fcgi://l1:1", 1, 1, 0);
    unsigned id;
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), 0);
    ck_assert_uint_eq(id, a);
    /* a down: lbset 1 is not tried while lbset 0 has a usable standby */
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, a, FCGIC_MEMBER_DISABLED, 0, 0), 0);
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), 0);
    ck_assert_uint_eq(id, s);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, s, FCGIC_MEMBER_DRAIN, 0, 0), 0);
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), 0);
    ck_assert_uint_eq(id, l1);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, l1, FCGIC_MEMBER_DISABLED, 0, 0), 0);
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, a, 0, FCGIC_MEMBER_DISABLED, 0), 0);
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), 0);
    ck_assert_uint_eq(id, a);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, 99, 0, FCGIC_MEMBER_DISABLED, 0), FCGIC_E_BAL_NO_MEMBER);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, a, 64, 0, 0), FCGIC_E_INVAL);
    ck_assert_str_eq(c.log, "m1:0>1 m2:2>6 m3:0>1 m1:1>0 ");
    teardown(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* bybusyness, bytraffic                                                    */
/* ------------------------------------------------------------------------ */

static int conn_of(struct ctx *c, const char *target, int nth)
{
    for (int i = 0; i < c->fk.n; i++)
        if (strcmp(c->fk.fc[i].target, target) == 0 && nth-- == 0)
            return i;
    return -1;
}

START_TEST(bybusyness_prefers_idle)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYBUSYNESS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    struct fcgic_request req = simple_req();
    /* a busy: b; both busy once: a (lbstatus); finish a: a again */
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://a:1", 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://b:1", 0), 1);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://a:1", 1), 2);
    /* b has one, a has two: b */
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://b:1", 1), 3);
    fake_respond(&c.fk, 0, "x");
    fake_respond(&c.fk, 2, "x");
    ck_assert_int_eq(c.ends, 2);
    unsigned id;
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), 0);
    ck_assert_uint_eq(id, 1);
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, 2, &st), 0);
    ck_assert_uint_eq(st.busy, 2);
    teardown(&c);
}
END_TEST

START_TEST(bytraffic_prefers_least_bytes)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYTRAFFIC);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 2, 0, 0);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0); /* tie: a */
    ck_assert_int_eq(conn_of(&c, "fcgi://a:1", 0), 0);
    fake_respond(&c.fk, 0, "0123456789"); /* a read 10 + headers */
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://b:1", 0), 1);
    fake_respond(&c.fk, 1, "0123456789"); /* b: same bytes / 2 */
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://b:1", 1), 2);
    fake_respond(&c.fk, 2, "0123456789"); /* b now equal to a: a first */
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(conn_of(&c, "fcgi://a:1", 1), 3);
    fake_respond(&c.fk, 3, "x");
    ck_assert_int_eq(c.ends, 4);
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, 2, &st), 0);
    ck_assert_uint_eq(st.elected, 2);
    teardown(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Failover                                                                 */
/* ------------------------------------------------------------------------ */

START_TEST(failover_refused_then_recovery)
{
    /* bal_member_down_10_requests: request 2 goes to the dead member, is
     * retried on b1 transparently, and later requests all go to b1 until
     * retry (60 s) has passed. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://127.0.0.1:18101", 1, 0, 0);
    add(&c, "fcgi://127.0.0.1:18199", 1, 0, 0);
    c.fk.refuse[0] = "fcgi://127.0.0.1:18199";
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0);
        int k = c.fk.n - 1;
        ck_assert_str_eq(c.fk.fc[k].target, "fcgi://127.0.0.1:18101");
        fake_respond(&c.fk, k, "ok");
        ck_assert_int_eq(c.end_err, 0);
        ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
        c.fk.now += SEC;
    }
    ck_assert_int_eq(c.ends, 10);
    ck_assert_int_eq(c.fk.opens_failed, 1);
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, 2, &st), 0);
    ck_assert_uint_eq(st.status, FCGIC_MEMBER_ERROR);
    ck_assert_uint_eq(st.error_until, 61 * SEC);
    /* the balancer's deadline is the end of retry */
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 61 * SEC + 1);
    c.fk.refuse[0] = NULL;
    c.fk.now = 61 * SEC + 1;
    ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, 2, &st), 0);
    ck_assert_uint_eq(st.status, 0);
    ck_assert_uint_eq(st.recoveries, 1);
    ck_assert_str_eq(c.log, "m2:0>8 fo2 m2:8>0 ");
    teardown(&c);
}
END_TEST

START_TEST(failover_async_connect_failure)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    c.fk.stay_connecting = 1;
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_str_eq(c.fk.fc[0].target, "fcgi://a:1");
    /* the connect fails 5 s later: the error time is the connection's
     * (fcgic_conn_last_now()), not the submit's */
    c.fk.now = 5 * SEC;
    fake_fail(&c.fk, 0, FCGIC_E_CONNECT); /* a refuses: moved to b */
    ck_assert_int_eq(c.ends, 0);
    ck_assert_uint_eq(c.state_now, 5 * SEC);
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, 1, &st), 0);
    ck_assert_uint_eq(st.status, FCGIC_MEMBER_ERROR);
    ck_assert_uint_eq(st.error_until, 65 * SEC);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_str_eq(c.fk.fc[1].target, "fcgi://b:1");
    fcgic_conn_connected(c.fk.fc[1].c, 0);
    fake_drain(&c.fk, 1);
    fake_respond(&c.fk, 1, "ok");
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, 0);
    ck_assert_int_eq(c.failovers, 1);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, 0), 0);
    ck_assert_int_eq(fake_open_count(&c.fk), 0);
    teardown(&c);
}
END_TEST

/* Two members; the stream "0123456789ab" (12 bytes) is read on the first
 * (connected at once), whose connection then fails as a connect failure
 * would: whether the request moves to the second depends on the member
 * pools' replay_max. */
static void replay_case(size_t replay_max, int *ends, int *err, size_t *b_stdin, int *reads_after)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.replay_max = replay_max;
    mo.pool.target = "fcgi://a:1";
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, NULL, 0), 0);
    mo.pool.target = "fcgi://b:1";
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, NULL, 0), 0);
    c.stream = "0123456789ab";
    struct fcgic_request req = simple_req();
    req.stdin_mode = FCGIC_BODY_STREAM;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_str_eq(c.fk.fc[0].target, "fcgi://a:1");
    ck_assert_uint_eq(c.fk.fc[0].stdin_bytes, 12);
    int reads = c.body_reads;
    fake_fail(&c.fk, 0, FCGIC_E_CONNECT);
    *reads_after = c.body_reads - reads;
    *b_stdin = 0;
    int k = fake_last_to(&c.fk, "fcgi://b:1");
    if (k >= 0) {
        *b_stdin = c.fk.fc[k].stdin_bytes;
        fake_respond(&c.fk, k, "ok");
    }
    *ends = c.ends;
    *err = c.end_err;
    teardown(&c);
}

START_TEST(failover_replay_cap_from_member)
{
    int ends, err, reads;
    size_t b_stdin;
    /* 12 bytes fit in 16: replayed on b from the kept copy */
    replay_case(16, &ends, &err, &b_stdin, &reads);
    ck_assert_int_eq(ends, 1);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(b_stdin, 12);
    ck_assert_int_eq(reads, 0);
    /* not in 8: the request cannot move and ends with the connect error */
    replay_case(8, &ends, &err, &b_stdin, &reads);
    ck_assert_int_eq(ends, 1);
    ck_assert_int_eq(err, FCGIC_E_CONNECT);
    ck_assert_uint_eq(b_stdin, 0);
}
END_TEST

/* Allocations made by one submit that reuses an idle kept connection:
 * through a balancer (balancer != 0) or a lone pool. */
static long submit_allocs(int balancer)
{
    struct failalloc fa;
    failalloc_init(&fa, 0);
    struct ctx c;
    memset(&c, 0, sizeof(c));
    fake_transport(&c.fk, &c.tr);
    struct fcgic_pool_callbacks cb = cbs();
    struct fcgic_balancer *b = NULL;
    struct fcgic_pool *p = NULL;
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = "fcgi://a:1";
    mo.pool.enable_reuse = 1;
    if (balancer) {
        ck_assert_int_eq(fcgic_balancer_new(&b, NULL, &c.tr, &cb, &c, &fa.mem), 0);
        ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, 0), 0);
    } else {
        ck_assert_int_eq(fcgic_pool_new(&p, &mo.pool, &c.tr, &cb, &c, &fa.mem), 0);
    }
    struct fcgic_request req = simple_req();
    long used = 0;
    for (int i = 0; i < 2; i++) {
        long before = fa.count;
        ck_assert_int_eq(b ? fcgic_balancer_submit(b, &req, &c, NULL, 0) : fcgic_pool_submit(p, &req, &c, NULL, 0), 0);
        used = fa.count - before;
        ck_assert_int_eq(fake_respond(&c.fk, 0, "ok"), 0);
        ck_assert_int_eq(b ? fcgic_balancer_tick(b, 0) : fcgic_pool_tick(p, 0), 0);
    }
    ck_assert_int_eq(c.fk.n, 1); /* the second submit reused the connection */
    fcgic_balancer_free(b);
    fcgic_pool_free(p);
    fake_free(&c.fk);
    ck_assert_int_eq(fa.live, 0);
    return used;
}

START_TEST(params_copied_once)
{
    /* The balancer's request costs one allocation more than the pool's (its
     * own struct): the params are copied once, by the balancer, and the
     * member pool borrows them. */
    ck_assert_int_eq(submit_allocs(1), submit_allocs(0) + 1);
}
END_TEST

START_TEST(all_down_and_forced_recovery)
{
    /* bal_all_down: both members refuse. The first request tries both,
     * then ends through on_end from the next tick (never inside submit);
     * requests within the recovery interval (1 s) cost no connect and no
     * member event; after it, one request tries again. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://127.0.0.1:18198", 1, 0, 0);
    add(&c, "fcgi://127.0.0.1:18199", 1, 0, 0);
    c.fk.refuse[0] = "fcgi://127.0.0.1:18198";
    c.fk.refuse[1] = "fcgi://127.0.0.1:18199";
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(c.fk.opens_failed, 2);
    ck_assert_int_eq(c.member_events, 2);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 0);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, 0), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, FCGIC_E_BAL_ALL_DOWN);
    /* ten more within the interval */
    c.fk.now = SEC / 2;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
    ck_assert_int_eq(c.ends, 11);
    ck_assert_int_eq(c.end_err, FCGIC_E_BAL_ALL_DOWN);
    printf("all down, within the recovery interval: %d connects and %d member events for 10 requests\n",
           c.fk.opens_failed - 2, c.member_events - 2);
    ck_assert_int_eq(c.fk.opens_failed, 2);
    ck_assert_int_eq(c.member_events, 2);
    /* after it: forced back, both tried once more */
    c.fk.now = SEC;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0);
    ck_assert_int_eq(c.fk.opens_failed, 4);
    ck_assert_int_eq(c.member_events, 6);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
    ck_assert_int_eq(c.ends, 12);
    /* one comes back: served at once */
    c.fk.refuse[1] = NULL;
    c.fk.now = 2 * SEC;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0);
    int k = fake_last_to(&c.fk, "fcgi://127.0.0.1:18199");
    ck_assert_int_ge(k, 0);
    fake_respond(&c.fk, k, "ok");
    ck_assert_int_eq(c.ends, 13);
    ck_assert_int_eq(c.end_err, 0);
    teardown(&c);

    /* forcerecovery off: the member stays in error for retry */
    struct fcgic_balancer_options o;
    memset(&o, 0, sizeof(o));
    o.no_force_recovery = 1;
    setup_opts(&c, &o);
    add(&c, "fcgi://127.0.0.1:18199", 1, 0, 0);
    c.fk.refuse[0] = "fcgi://127.0.0.1:18199";
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, SEC), 0);
    ck_assert_int_eq(c.fk.opens_failed, 1);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, SEC), 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.end_err, FCGIC_E_BAL_ALL_DOWN);
    teardown(&c);

    /* every member failing its health checks: the same way, through on_end */
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add(&c, "fcgi://a:1", 1, 0, 0);
    unsigned b = add(&c, "fcgi://b:1", 1, 0, 0);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, a, FCGIC_MEMBER_HCFAIL, 0, 0), 0);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, b, FCGIC_MEMBER_HCFAIL, 0, 0), 0);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(c.fk.n, 0);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, 0), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, FCGIC_E_BAL_ALL_DOWN);
    teardown(&c);
}
END_TEST

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

START_TEST(overloaded_fails_over)
{
    /* END_REQUEST OVERLOADED with no output: the application did nothing,
     * so even a POST moves to the other member, and the overloaded one is
     * left alone for busy_retry_ns (1 s). */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    struct fcgic_request req = post_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_str_eq(c.fk.fc[0].target, "fcgi://a:1");
    c.fk.now = 5;
    ck_assert_int_eq(fake_respond_raw(&c.fk, 0, "", 0, FCGIC_OVERLOADED), 0);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_str_eq(c.fk.fc[1].target, "fcgi://b:1");
    ck_assert_uint_eq(c.fk.fc[1].stdin_bytes, 3);
    ck_assert_int_eq(fake_respond(&c.fk, 1, "ok"), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, 0);
    ck_assert_int_eq(c.ps, FCGIC_REQUEST_COMPLETE);
    ck_assert_uint_eq(c.retries, 1);
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, a, &st), 0);
    ck_assert_uint_eq(st.status, FCGIC_MEMBER_ERROR);
    ck_assert_uint_eq(st.error_until, SEC + 5);
    ck_assert_str_eq(c.log, "m1:0>8 fo1 ");
    /* within the second: b only; after it: a again */
    unsigned got[2];
    picks(&c, 2, got);
    ck_assert_uint_eq(got[0], 2);
    ck_assert_uint_eq(got[1], 2);
    c.fk.now = SEC + 6;
    ck_assert_int_eq(fcgic_balancer_tick(c.b, c.fk.now), 0);
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, a, &st), 0);
    ck_assert_uint_eq(st.status, 0);
    /* CANT_MPX_CONN: moved too, the member is not put in error */
    int n = c.fk.n;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0);
    int k = n;
    unsigned first = strcmp(c.fk.fc[k].target, "fcgi://a:1") == 0 ? 1 : 2;
    ck_assert_int_eq(fake_respond_raw(&c.fk, k, "", 0, FCGIC_CANT_MPX_CONN), 0);
    ck_assert_int_eq(c.fk.n, n + 2);
    ck_assert_int_eq(fake_respond(&c.fk, n + 1, "ok"), 0);
    ck_assert_int_eq(c.end_err, 0);
    ck_assert_uint_eq(c.retries, 1);
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, first, &st), 0);
    ck_assert_uint_eq(st.status, 0);
    /* FCGIC_RETRY_NEVER: the answer as it came */
    req.retry = FCGIC_RETRY_NEVER;
    n = c.fk.n;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0);
    ck_assert_int_eq(fake_respond_raw(&c.fk, n, "", 0, FCGIC_OVERLOADED), 0);
    ck_assert_int_eq(c.fk.n, n + 1);
    ck_assert_int_eq(c.ends, 3);
    ck_assert_int_eq(c.ps, FCGIC_OVERLOADED);
    ck_assert_uint_eq(c.retries, 0);
    teardown(&c);

    /* a lone member: its OVERLOADED answer is delivered */
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    req = post_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    ck_assert_int_eq(fake_respond_raw(&c.fk, 0, "", 0, FCGIC_OVERLOADED), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.ps, FCGIC_OVERLOADED);
    ck_assert_int_eq(c.fk.n, 1);
    teardown(&c);
}
END_TEST

START_TEST(failover_retry_policy)
{
    /* A connect failure wrote nothing: moved by default, not with
     * FCGIC_RETRY_NEVER. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    c.fk.stay_connecting = 1;
    struct fcgic_request req = post_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    fake_fail(&c.fk, 0, FCGIC_E_CONNECT);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(c.fk.n, 2);
    fcgic_conn_connected(c.fk.fc[1].c, 0);
    fake_drain(&c.fk, 1);
    fake_respond(&c.fk, 1, "ok");
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, 0);
    ck_assert_uint_eq(c.retries, 1);
    teardown(&c);

    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    c.fk.stay_connecting = 1;
    req.retry = FCGIC_RETRY_NEVER;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0);
    fake_fail(&c.fk, 0, FCGIC_E_CONNECT);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, FCGIC_E_CONNECT);
    ck_assert_int_eq(c.fk.n, 1);
    req.retry = (enum fcgic_retry)9;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), FCGIC_E_INVAL);
    teardown(&c);
}
END_TEST

START_TEST(failover_broken_connection)
{
    /* The connection breaks under a request before any answer (the
     * application died): an idempotent GET moves to the other member, a
     * written POST does not, nor a GET whose response had started. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    struct fcgic_request get = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &get, &c, NULL, 0), 0);
    fake_drain(&c.fk, 0);
    fake_eof(&c.fk, 0);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(c.fk.n, 2);
    ck_assert_int_eq(fake_last_to(&c.fk, "fcgi://b:1"), 1);
    fake_drain(&c.fk, 1);
    fake_respond(&c.fk, 1, "ok");
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, 0);
    ck_assert_uint_eq(c.retries, 1);
    teardown(&c);

    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    struct fcgic_request post = post_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &post, &c, NULL, 0), 0);
    fake_drain(&c.fk, 0);
    fake_fail(&c.fk, 0, FCGIC_E_IO);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, FCGIC_E_IO);
    ck_assert_int_eq(c.fk.n, 1);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &get, &c, NULL, 0), 0);
    fake_drain(&c.fk, 1);
    ck_assert_int_eq(fake_partial(&c.fk, 1), 0);
    fake_eof(&c.fk, 1);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.end_err, FCGIC_E_PEER_CLOSED);
    ck_assert_int_eq(c.fk.n, 2);
    teardown(&c);

    /* the only member: the error itself, not "all down" */
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://a:1", 1, 0, 0);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &get, &c, NULL, 0), 0);
    fake_drain(&c.fk, 0);
    fake_eof(&c.fk, 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, FCGIC_E_PEER_CLOSED);
    teardown(&c);
}
END_TEST

START_TEST(runtime_add_remove)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add(&c, "fcgi://a:1", 1, 0, 0);
    unsigned b = add(&c, "fcgi://b:1", 1, 0, 0);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0); /* on a */
    ck_assert_int_eq(fcgic_balancer_remove(c.b, a, 0), 0);
    ck_assert_int_eq(fcgic_balancer_remove(c.b, a, 0), FCGIC_E_BAL_NO_MEMBER);
    ck_assert_uint_eq(fcgic_balancer_count(c.b), 1);
    unsigned id;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, 0), 0);
        ck_assert_uint_eq(id, b);
    }
    unsigned d = add(&c, "fcgi://d:1", 1, 0, 0);
    ck_assert_uint_eq(d, 3);
    /* the running request on the removed member still completes */
    fake_respond(&c.fk, 0, "ok");
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, 0);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 0);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, 0), 0);
    ck_assert_int_eq(fcgic_balancer_member_stats(c.b, a, NULL), FCGIC_E_BAL_NO_MEMBER);
    ck_assert_int_eq(fcgic_balancer_set_lbfactor(c.b, d, 101), FCGIC_E_RANGE);
    ck_assert_int_eq(fcgic_balancer_set_lbfactor(c.b, d, 3), 0);
    /* b: lbstatus after 3 lone picks is 0; d joins at 0 with factor 3 */
    unsigned got[4];
    static const unsigned want[4] = {3, 2, 3, 3};
    picks(&c, 4, got);
    ck_assert_mem_eq(got, want, sizeof(want));
    teardown(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Health checks                                                            */
/* ------------------------------------------------------------------------ */

static unsigned add_hc(struct ctx *c, const char *target, enum fcgic_hc_method meth, unsigned fails, unsigned passes)
{
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = target;
    mo.hc_interval_ns = 10 * SEC;
    mo.hc_timeout_ns = 2 * SEC;
    mo.hc_method = meth;
    mo.hc_fails = fails;
    mo.hc_passes = passes;
    unsigned id = 0;
    ck_assert_int_eq(fcgic_balancer_add(c->b, &mo, &id, c->fk.now), 0);
    return id;
}

/* Tick when due at c->fk.now. */
static void btick(struct ctx *c)
{
    if (fcgic_balancer_deadline(c->b) <= c->fk.now)
        ck_assert_int_eq(fcgic_balancer_tick(c->b, c->fk.now), 0);
}

static struct fcgic_member_stats mstats(struct ctx *c, unsigned id)
{
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(c->b, id, &st), 0);
    return st;
}

START_TEST(health_values_thresholds)
{
    /* GET_VALUES probes every 10 s, 2 s timeout, 2 failures to go down, 2
     * passes to come back. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add(&c, "fcgi://a:1", 1, 0, 0);
    unsigned b = add_hc(&c, "fcgi://b:1", FCGIC_HC_VALUES, 2, 2);
    static const char *const nv[] = {"FCGI_MPXS_CONNS", "0"};
    /* t=0: the first probe at once; t=1: answered: pass */
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 0);
    btick(&c);
    int k = fake_last_to(&c.fk, "fcgi://b:1");
    ck_assert_int_eq(k, 0);
    ck_assert_uint_eq(c.fk.fc[k].nvalues, 1);
    ck_assert_uint_eq(c.fk.fc[k].nbegin, 0);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 2 * SEC);
    c.fk.now = SEC;
    ck_assert_int_eq(fake_values(&c.fk, k, nv, 1), 0);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 0); /* the verdict waits for a tick */
    btick(&c);
    ck_assert_int_eq(c.fk.fc[k].closed, 1);
    struct fcgic_member_stats st = mstats(&c, b);
    ck_assert_uint_eq(st.hc_checks, 1);
    ck_assert_uint_eq(st.hc_pass_run, 1);
    ck_assert_uint_eq(st.hc_next, 10 * SEC);
    ck_assert_uint_eq(st.pool.conns_created, 0); /* probes are not pool connections */
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 10 * SEC);
    /* t=10: no answer; t=12: timed out (first failure) */
    c.fk.now = 10 * SEC;
    btick(&c);
    k = fake_last_to(&c.fk, "fcgi://b:1");
    ck_assert_int_eq(k, 1);
    c.fk.now = 11 * SEC;
    btick(&c);
    ck_assert_int_eq(c.fk.fc[k].closed, 0);
    c.fk.now = 12 * SEC;
    btick(&c);
    ck_assert_int_eq(c.fk.fc[k].closed, 1);
    st = mstats(&c, b);
    ck_assert_uint_eq(st.hc_fail_run, 1);
    ck_assert_int_eq(st.hc_last_error, FCGIC_E_TIMEOUT);
    ck_assert_uint_eq(st.status, 0);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 20 * SEC);
    /* t=20: refused at once: second failure, b goes down */
    c.fk.refuse[0] = "fcgi://b:1";
    c.fk.now = 20 * SEC;
    btick(&c);
    st = mstats(&c, b);
    ck_assert_uint_eq(st.status, FCGIC_MEMBER_HCFAIL);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_uint_eq(c.state_now, 20 * SEC);
    unsigned got[4];
    static const unsigned only_a[4] = {1, 1, 1, 1};
    picks(&c, 4, got);
    ck_assert_mem_eq(got, only_a, sizeof(only_a));
    /* not forced back: with a disabled too, nothing is left */
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, a, FCGIC_MEMBER_DISABLED, 0, c.fk.now), 0);
    unsigned id;
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &id, c.fk.now), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, a, 0, FCGIC_MEMBER_DISABLED, c.fk.now), 0);
    /* t=30: answered (one pass, still down) */
    c.fk.refuse[0] = NULL;
    c.fk.now = 30 * SEC;
    btick(&c);
    k = fake_last_to(&c.fk, "fcgi://b:1");
    ck_assert_int_eq(fake_values(&c.fk, k, nv, 1), 0);
    btick(&c);
    ck_assert_uint_eq(mstats(&c, b).status, FCGIC_MEMBER_HCFAIL);
    /* t=40: the backend closes the probe's connection without answering:
     * no callback tells, the deadline does */
    c.fk.now = 40 * SEC;
    btick(&c);
    k = fake_last_to(&c.fk, "fcgi://b:1");
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 42 * SEC);
    fake_eof(&c.fk, k);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 0);
    btick(&c);
    st = mstats(&c, b);
    ck_assert_int_eq(st.hc_last_error, FCGIC_E_PEER_CLOSED);
    ck_assert_uint_eq(st.hc_pass_run, 0);
    /* t=50, t=60: two passes in a row: back */
    for (int i = 5; i <= 6; i++) {
        c.fk.now = (uint64_t)i * 10 * SEC;
        btick(&c);
        k = fake_last_to(&c.fk, "fcgi://b:1");
        ck_assert_int_eq(fake_values(&c.fk, k, nv, 1), 0);
        btick(&c);
    }
    st = mstats(&c, b);
    ck_assert_uint_eq(st.status, 0);
    ck_assert_uint_eq(st.recoveries, 1);
    ck_assert_uint_eq(st.hc_checks, 7);
    ck_assert_uint_eq(st.hc_failures, 3);
    ck_assert_uint_eq(st.hc_pass_run, 2);
    ck_assert_str_eq(c.log, "h2:0 h2:-94 h2:-92 m2:0>16 m1:0>1 m1:1>0 h2:0 h2:-74 h2:0 h2:0 m2:16>0 ");
    ck_assert_int_eq(fake_open_count(&c.fk), 0);
    teardown(&c);
}
END_TEST

static unsigned add_hc_init(struct ctx *c, const char *target, enum fcgic_hc_init init, unsigned passes)
{
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = target;
    mo.hc_interval_ns = 10 * SEC;
    mo.hc_timeout_ns = 2 * SEC;
    mo.hc_passes = passes;
    mo.hc_init = init;
    unsigned id = 0;
    ck_assert_int_eq(fcgic_balancer_add(c->b, &mo, &id, c->fk.now), 0);
    return id;
}

/* Tick when due; answer the probe of target if one is waiting. */
static void probe_pass(struct ctx *c, const char *target)
{
    static const char *const nv[] = {"FCGI_MPXS_CONNS", "0"};
    if (fcgic_balancer_deadline(c->b) <= c->fk.now)
        ck_assert_int_eq(fcgic_balancer_tick(c->b, c->fk.now), 0);
    int k = fake_last_to(&c->fk, target);
    ck_assert_int_ge(k, 0);
    ck_assert_int_eq(fake_values(&c->fk, k, nv, 1), 0);
    ck_assert_int_eq(fcgic_balancer_tick(c->b, c->fk.now), 0);
}

START_TEST(health_init_down)
{
    /* hc_init DOWN: a member added at run time takes no request before its
     * first probe passed; FULLY_DOWN waits for hc_passes of them. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add(&c, "fcgi://a:1", 1, 0, 0);
    unsigned b = add_hc_init(&c, "fcgi://b:1", FCGIC_HC_INIT_DOWN, 3);
    ck_assert_uint_eq(mstats(&c, b).status, FCGIC_MEMBER_HCFAIL);
    unsigned got[3];
    picks(&c, 3, got);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(got[i], a);
    probe_pass(&c, "fcgi://b:1");
    ck_assert_uint_eq(mstats(&c, b).status, 0);
    ck_assert_uint_eq(mstats(&c, b).errors, 0);
    picks(&c, 2, got);
    ck_assert(got[0] == b || got[1] == b);
    /* FULLY_DOWN with hc_passes 2 */
    unsigned d = add_hc_init(&c, "fcgi://d:1", FCGIC_HC_INIT_FULLY_DOWN, 2);
    probe_pass(&c, "fcgi://d:1");
    ck_assert_uint_eq(mstats(&c, d).status, FCGIC_MEMBER_HCFAIL);
    c.fk.now = 10 * SEC;
    probe_pass(&c, "fcgi://d:1");
    ck_assert_uint_eq(mstats(&c, d).status, 0);
    ck_assert_str_eq(c.log, "h2:0 m2:16>0 h3:0 h3:0 m3:16>0 ");
    /* needs a health check */
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = "fcgi://e:1";
    mo.hc_init = FCGIC_HC_INIT_DOWN;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, NULL, 0), FCGIC_E_INVAL);
    teardown(&c);
}
END_TEST

START_TEST(health_request_probe)
{
    /* A FastCGI request with the configured params (copied at add), judged
     * on END_REQUEST, protocol status, appStatus and HTTP status. One
     * failure takes the member down, one pass brings it back. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    char path[] = "/ping";
    struct fcgic_param hp[3] = {
        {"SCRIPT_NAME", 11, path, 5}, {"SCRIPT_FILENAME", 15, path, 5}, FCGIC_PARAM_LIT("REQUEST_METHOD", "GET")};
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = "fcgi://p:1";
    mo.hc_interval_ns = 5 * SEC;
    mo.hc_method = FCGIC_HC_REQUEST;
    mo.hc_params = hp;
    mo.hc_nparams = 3;
    unsigned id;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), 0);
    memcpy(path, "/pong", 5); /* the balancer has its own copy */
    static const struct {
        const char *out;
        unsigned app_status;
        int ps;
        int err;
        unsigned http, status;
    } steps[] = {
        {"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\npong", 0, 0, 0, 200, 0},
        {"Status: 503 Service Unavailable\r\n\r\n", 0, 0, FCGIC_E_BAL_HC_STATUS, 503, FCGIC_MEMBER_HCFAIL},
        {"Status: 200 OK\r\n\r\n", 1, 0, FCGIC_E_BAL_HC_STATUS, 200, FCGIC_MEMBER_HCFAIL},
        {"Status: 200 OK\r\n\r\n", 0, 2 /* OVERLOADED */, FCGIC_E_BAL_HC_STATUS, 200, FCGIC_MEMBER_HCFAIL},
        {"Content-Type: text/plain\r\n\r\nok", 0, 0, 0, 200, 0}, /* no Status: 200 */
        {"Status: 404 Not Found\r\n\r\n", 0, 0, FCGIC_E_BAL_HC_STATUS, 404, FCGIC_MEMBER_HCFAIL},
        {"Status: 399 Odd\r\n\r\n", 0, 0, 0, 399, 0},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        c.fk.now = (uint64_t)i * 5 * SEC;
        btick(&c);
        int k = c.fk.n - 1;
        ck_assert_int_eq(k, (int)i);
        ck_assert_str_eq(c.fk.fc[k].target, "fcgi://p:1");
        ck_assert_uint_eq(c.fk.fc[k].nbegin, 1);
        ck_assert_uint_eq(c.fk.fc[k].last_flags, 0); /* no FCGI_KEEP_CONN */
        ck_assert(fake_has_param(&c.fk, k, "SCRIPT_NAME", "/ping"));
        ck_assert(fake_has_param(&c.fk, k, "REQUEST_METHOD", "GET"));
        ck_assert_int_eq(fake_respond_raw(&c.fk, k, steps[i].out, steps[i].app_status, steps[i].ps), 0);
        btick(&c);
        ck_assert_int_eq(c.fk.fc[k].closed, 1);
        struct fcgic_member_stats st = mstats(&c, id);
        ck_assert_int_eq(st.hc_last_error, steps[i].err);
        ck_assert_uint_eq(st.hc_last_status, steps[i].http);
        ck_assert_uint_eq(st.status, steps[i].status);
    }
    ck_assert_str_eq(c.log, "h1:0 h1:-182 m1:0>16 h1:-182 h1:-182 h1:0 m1:16>0 h1:-182 m1:0>16 h1:0 m1:16>0 ");
    ck_assert_uint_eq(mstats(&c, id).pool.conns_created, 0);
    teardown(&c);

    /* hc_expect_status: only that status passes */
    setup(&c, FCGIC_LB_BYREQUESTS);
    mo.hc_expect_status = 204;
    mo.hc_params = NULL;
    mo.hc_nparams = 0;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), 0);
    btick(&c);
    ck_assert_uint_eq(c.fk.fc[0].params_len, 0);
    ck_assert_int_eq(fake_respond_raw(&c.fk, 0, "Status: 200 OK\r\n\r\n", 0, 0), 0);
    btick(&c);
    ck_assert_int_eq(mstats(&c, id).hc_last_error, FCGIC_E_BAL_HC_STATUS);
    c.fk.now = 5 * SEC;
    btick(&c);
    ck_assert_int_eq(fake_respond_raw(&c.fk, 1, "Status: 204 No Content\r\n\r\n", 0, 0), 0);
    btick(&c);
    ck_assert_int_eq(mstats(&c, id).hc_last_error, 0);
    ck_assert_str_eq(c.log, "h1:-182 m1:0>16 h1:0 m1:16>0 ");
    teardown(&c);
}
END_TEST

START_TEST(health_ends_error_early)
{
    /* A member put in error by a failed connect (retry 60 s) comes back at
     * the next passing probe (hc_passes 1), counted from the error. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    unsigned a = add_hc(&c, "fcgi://a:1", FCGIC_HC_VALUES, 1, 1);
    add(&c, "fcgi://b:1", 1, 0, 0);
    static const char *const nv[] = {"FCGI_MPXS_CONNS", "0"};
    btick(&c);
    ck_assert_int_eq(fake_values(&c.fk, 0, nv, 1), 0);
    btick(&c);
    ck_assert_uint_eq(mstats(&c, a).hc_pass_run, 1);
    c.fk.now = SEC;
    c.fk.refuse[0] = "fcgi://a:1";
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, c.fk.now), 0); /* a refuses: b */
    struct fcgic_member_stats st = mstats(&c, a);
    ck_assert_uint_eq(st.status, FCGIC_MEMBER_ERROR);
    ck_assert_uint_eq(st.error_until, 61 * SEC);
    ck_assert_uint_eq(st.hc_pass_run, 0);
    fake_respond(&c.fk, fake_last_to(&c.fk, "fcgi://b:1"), "ok");
    c.fk.refuse[0] = NULL;
    c.fk.now = 10 * SEC;
    btick(&c);
    ck_assert_int_eq(fake_values(&c.fk, fake_last_to(&c.fk, "fcgi://a:1"), nv, 1), 0);
    btick(&c);
    st = mstats(&c, a);
    ck_assert_uint_eq(st.status, 0);
    ck_assert_uint_eq(st.recoveries, 1);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), 20 * SEC); /* no retry timer left */
    ck_assert_str_eq(c.log, "h1:0 m1:0>8 fo1 h1:0 m1:8>0 ");
    teardown(&c);
}
END_TEST

START_TEST(health_options_and_remove)
{
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = "fcgi://a:1";
    mo.hc_interval_ns = SEC;
    mo.hc_method = (enum fcgic_hc_method)7;
    unsigned id;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), FCGIC_E_INVAL);
    mo.hc_method = FCGIC_HC_REQUEST;
    mo.hc_nparams = 1;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), FCGIC_E_INVAL);
    mo.hc_nparams = 0;
    mo.hc_expect_status = 1000;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), FCGIC_E_RANGE);
    mo.hc_expect_status = 99;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), FCGIC_E_RANGE);
    ck_assert_uint_eq(fcgic_balancer_count(c.b), 0);
    mo.hc_expect_status = 0;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, &id, 0), 0);
    /* HCFAIL by hand, then cleared by hand */
    unsigned got;
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, id, FCGIC_MEMBER_HCFAIL, 0, 0), 0);
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &got, 0), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, id, 0, FCGIC_MEMBER_HCFAIL, 0), 0);
    ck_assert_int_eq(fcgic_balancer_pick(c.b, &got, 0), 0);
    ck_assert_uint_eq(got, id);
    /* removing a member closes its running probe; no more probes */
    btick(&c);
    ck_assert_int_eq(c.fk.n, 1);
    ck_assert_int_eq(c.fk.fc[0].closed, 0);
    ck_assert_int_eq(fcgic_balancer_remove(c.b, id, 0), 0);
    ck_assert_int_eq(c.fk.fc[0].closed, 1);
    btick(&c);
    ck_assert_uint_eq(fcgic_balancer_deadline(c.b), FCGIC_NO_DEADLINE);
    ck_assert_str_eq(c.log, "m1:0>16 m1:16>0 ");
    teardown(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Freeing with requests in flight                                          */
/* ------------------------------------------------------------------------ */

START_TEST(free_ends_requests_in_flight)
{
    /* a (max 1): one running, one queued; b: one running; a probe running.
     * free gives each request on_end(FCGIC_E_POOL_CLOSED), no failover,
     * and refuses new work from there. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = "fcgi://a:1";
    mo.pool.max = 1;
    mo.hc_interval_ns = SEC;
    ck_assert_int_eq(fcgic_balancer_add(c.b, &mo, NULL, 0), 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    btick(&c); /* probe of a */
    struct fcgic_request req = simple_req();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), 0); /* a, b, a (queued) */
    struct fcgic_member_stats st = mstats(&c, 1);
    ck_assert_uint_eq(st.busy, 2);
    ck_assert_uint_eq(st.pool.queued, 1);
    ck_assert_int_eq(fake_open_count(&c.fk), 3);
    c.again = c.b;
    c.again_rc = 1;
    fcgic_balancer_free(c.b);
    c.b = NULL;
    ck_assert_int_eq(c.ends, 3);
    ck_assert_int_eq(c.end_err, FCGIC_E_POOL_CLOSED);
    ck_assert_int_eq(c.again_rc, FCGIC_E_POOL_CLOSED);
    ck_assert_int_eq(c.failovers, 0);
    ck_assert_int_eq(fake_open_count(&c.fk), 0);
    fake_free(&c.fk);
}
END_TEST

/* A transport whose kick fails the connection at once (the POSIX one does
 * when the write hits EPIPE), and hooks that see the handle freed. */
struct kctx {
    struct ctx c;
    struct fcgic_balancer_req *handle; /* cleared by on_end */
    int end_abort;    /* abort of its own handle from on_end */
    struct free_watch fw; /* the handle freed before on_end returned */
};

static void k_end(void *ud, const struct fcgic_result *r)
{
    struct kctx *k = ud;
    k->c.ends++;
    k->c.end_err = r->error;
    if (k->handle) {
        k->end_abort = fcgic_balancer_abort(k->c.b, k->handle, 0);
        k->handle = NULL;
    }
    k->fw.armed = 0; /* freeing it after on_end returns is right */
}

static void k_setup(struct kctx *k)
{
    memset(k, 0, sizeof(*k));
    fake_transport(&k->c.fk, &k->c.tr);
    struct fcgic_balancer_options o;
    memset(&o, 0, sizeof(o));
    struct fcgic_pool_callbacks cb = cbs();
    cb.on_end = k_end;
    struct fcgic_mem mem = free_watch_mem(&k->fw);
    ck_assert_int_eq(fcgic_balancer_new(&k->c.b, &o, &k->c.tr, &cb, k, &mem), 0);
    add(&k->c, "fcgi://a:1", 1, 0, 0);
}

START_TEST(handle_valid_during_on_end)
{
    /* The handle is valid until on_end returns: aborting it from there is
     * FCGIC_E_INVAL, not a use after free. */
    struct kctx k;
    k_setup(&k);
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(k.c.b, &req, &k, &k.handle, 0), 0);
    ck_assert_ptr_nonnull(k.handle);
    k.fw.ptr = k.handle;
    k.fw.armed = 1; /* from here, freeing the handle is too early */
    ck_assert_int_eq(fake_respond(&k.c.fk, 0, "a"), 0);
    ck_assert_int_eq(k.c.ends, 1);
    ck_assert_int_eq(k.fw.freed, 0);
    ck_assert_int_eq(k.end_abort, FCGIC_E_INVAL);
    fcgic_balancer_free(k.c.b);
    fake_free(&k.c.fk);
}
END_TEST

START_TEST(request_ends_inside_submit)
{
    /* The write fails inside submit's kick: on_end runs before submit
     * returns, and the handle it cleared is not set again afterwards (nor
     * is the ended request written to). */
    struct kctx k;
    k_setup(&k);
    k.c.fk.fail_kick = 1;
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(k.c.b, &req, &k, &k.handle, 0), 0);
    ck_assert_int_eq(k.c.ends, 1);
    ck_assert_int_eq(k.c.end_err, FCGIC_E_IO);
    ck_assert_ptr_null(k.handle);
    fcgic_balancer_free(k.c.b);
    fake_free(&k.c.fk);
}
END_TEST

START_TEST(failalloc_balancer)
{
    for (long n = 1;; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct ctx c;
        int rc = setup_mem(&c, NULL, &fa.mem);
        struct fcgic_balancer *b = c.b;
        struct fake *fk = &c.fk;
        struct fcgic_member_options mo;
        memset(&mo, 0, sizeof(mo));
        mo.pool.target = "fcgi://a:1";
        static const struct fcgic_param hp[] = {FCGIC_PARAM_LIT("SCRIPT_NAME", "/ping")};
        unsigned id;
        for (int i = 0; rc == 0 && i < 12; i++) {
            mo.lbfactor = 1 + (unsigned)i % 3;
            mo.status = i == 5 ? FCGIC_MEMBER_STANDBY : 0;
            /* member 12: a request health probe (started by the tick below,
             * which fails softly: a probe that cannot allocate is skipped) */
            mo.hc_interval_ns = i == 11 ? SEC : 0;
            mo.pool.target = i == 11 ? "fcgi://hc:1" : "fcgi://a:1";
            mo.hc_method = FCGIC_HC_REQUEST;
            mo.hc_params = hp;
            mo.hc_nparams = 1;
            rc = fcgic_balancer_add(b, &mo, &id, 0);
        }
        int soft = 0;
        if (rc == 0) {
            int before = fa.failed;
            ck_assert_int_eq(fcgic_balancer_tick(b, 0), 0);
            soft = fa.failed && !before;
            struct fcgic_member_stats hst = {.version = FCGIC_MEMBER_STATS_VERSION};
            ck_assert_int_eq(fcgic_balancer_member_stats(b, 12, &hst), 0);
            ck_assert_uint_eq(hst.hc_checks, 0); /* running, or skipped: never counted */
            ck_assert_uint_eq(hst.hc_failures, 0);
        }
        struct fcgic_request req = simple_req();
        if (rc == 0)
            rc = fcgic_balancer_submit(b, &req, &c, NULL, 0);
        if (rc == 0)
            rc = fcgic_balancer_set_status(b, 6, 0, FCGIC_MEMBER_STANDBY, 0);
        if (rc == 0)
            rc = fcgic_balancer_set_lbfactor(b, 7, 50);
        int late = 0;
        int k = fake_last_to(fk, "fcgi://a:1");
        if (rc == 0 && k >= 0 && fk->fc[k].nbegin == 1 && !fk->fc[k].closed && !fa.failed) {
            fake_respond(fk, k, "ok");
            late = fa.failed;
        }
        fcgic_balancer_free(b);
        fake_free(fk);
        ck_assert_int_eq(fa.live, 0);
        if (!fa.failed) {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(c.ends, 1);
            break;
        }
        if (soft)
            ck_assert_int_eq(rc, 0);
        else if (!late)
            ck_assert_int_eq(rc, FCGIC_E_NOMEM);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Integration: real app-echo processes, POSIX transport                    */
/* ------------------------------------------------------------------------ */

struct ictx {
    int ends, errors;
    char pid[64][16];
    int n;
    char body[1024]; /* of the last request (the caller empties it) */
    size_t blen;
    char log[256]; /* MEMBER_STATE events */
};

static int i_body(void *ud, const char *d, size_t n)
{
    struct ictx *c = ud;
    size_t room = sizeof(c->body) - 1 - c->blen;
    if (n > room)
        n = room;
    memcpy(c->body + c->blen, d, n);
    c->blen += n;
    c->body[c->blen] = 0;
    return 0;
}

static void i_event(void *ud, const struct fcgic_event *ev)
{
    struct ictx *c = ud;
    char tmp[64];
    if (ev->kind == FCGIC_EVENT_MEMBER_STATE) {
        snprintf(tmp, sizeof(tmp), "m%u:%u>%u ", ev->member, ev->old_status, ev->new_status);
        strncat(c->log, tmp, sizeof(c->log) - strlen(c->log) - 1);
    }
}

static int i_head(void *ud, const struct fcgic_response_head *h)
{
    struct ictx *c = ud;
    for (size_t i = 0; i < h->nheaders; i++)
        if (h->headers[i].name_len == 5 && memcmp(h->headers[i].name, "X-Pid", 5) == 0 && c->n < 64) {
            size_t l = h->headers[i].value_len < 15 ? h->headers[i].value_len : 15;
            memcpy(c->pid[c->n], h->headers[i].value, l);
            c->pid[c->n][l] = 0;
            c->n++;
        }
    return 0;
}

static void i_end(void *ud, const struct fcgic_result *res)
{
    struct ictx *c = ud;
    c->ends++;
    if (res->error || !res->got_end_request || res->protocol_status != FCGIC_REQUEST_COMPLETE)
        c->errors++;
}

/* Which callbacks besides on_end (always i_end) i_balancer() sets. */
enum { I_HEAD = 1, I_BODY = 2, I_EVENT = 4 };

/* A balancer on px's transport with the i_* callbacks chosen by with and
 * user data c (not cleared here). */
static struct fcgic_balancer *i_balancer(struct fcgic_posix *px, struct ictx *c, unsigned with)
{
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = i_end;
    if (with & I_HEAD)
        cb.on_head = i_head;
    if (with & I_BODY)
        cb.on_body = i_body;
    if (with & I_EVENT)
        cb.on_event = i_event;
    struct fcgic_balancer *b;
    ck_assert_int_eq(fcgic_balancer_new(&b, NULL, &tr, &cb, c, NULL), 0);
    return b;
}

struct runarg {
    struct fcgic_posix *px;
    struct fcgic_balancer *b;
    struct ictx *c;
    int want;
};

static int run_done(void *ud)
{
    struct runarg *a = ud;
    uint64_t now = fcgic_posix_now();
    if (fcgic_balancer_deadline(a->b) <= now)
        fcgic_balancer_tick(a->b, now);
    return a->c->ends >= a->want;
}

static void run_until(struct runarg *a, int want)
{
    a->want = want;
    while (!run_done(a)) {
        uint64_t d = fcgic_balancer_deadline(a->b), now = fcgic_posix_now();
        uint64_t wait = d <= now ? 0 : d - now;
        if (wait > 50000000ull)
            wait = 50000000ull;
        ck_assert_int_eq(fcgic_posix_run(a->px, wait), 0);
    }
}

static const char *member_of(struct harness_app **apps, const char *pid)
{
    char buf[16];
    for (int i = 0; i < 2; i++) {
        snprintf(buf, sizeof(buf), "%d", (int)apps[i]->pid);
        if (strcmp(buf, pid) == 0)
            return i == 0 ? "1" : "2";
    }
    return "?";
}

START_TEST(integration_order_failover_recovery)
{
    struct harness_app *apps[2];
    ck_assert_int_eq(harness_apps_start(apps, 2, HARNESS_TCP, "app-echo", NULL), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_balancer *b = i_balancer(px, &c, I_HEAD);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.retry_ns = 300000000ull; /* 0.3 s */
    mo.pool.target = apps[0]->url;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    mo.pool.target = apps[1]->url;
    mo.lbfactor = 1;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    struct runarg ra = {px, b, &c, 0};
    struct fcgic_request req = simple_req();

    /* equal members: 1 2 1 2 1 2, one request at a time */
    char order[64] = "";
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, i + 1);
        strcat(order, member_of(apps, c.pid[c.n - 1]));
    }
    ck_assert_str_eq(order, "121212");

    /* member 2 killed: every request still succeeds, on member 1 */
    ck_assert_int_eq(harness_app_kill(apps[1]), 0);
    order[0] = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, 7 + i);
        strcat(order, member_of(apps, c.pid[c.n - 1]));
    }
    ck_assert_str_eq(order, "1111");
    ck_assert_int_eq(c.errors, 0);
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 2, &st), 0);
    ck_assert_uint_eq(st.status, FCGIC_MEMBER_ERROR);
    ck_assert_uint_ge(st.errors, 1);

    /* back after retry */
    ck_assert_int_eq(harness_app_restart(apps[1]), 0);
    uint64_t until = fcgic_posix_now() + 400000000ull;
    while (fcgic_posix_now() < until)
        fcgic_posix_run(px, 50000000ull);
    order[0] = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, 11 + i);
        strcat(order, member_of(apps, c.pid[c.n - 1]));
    }
    ck_assert_int_eq(c.errors, 0);
    ck_assert_ptr_nonnull(strchr(order, '2'));
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 2, &st), 0);
    ck_assert_uint_eq(st.status, 0);
    /* the balancer saw 14 requests end well, whatever moved between members */
    struct fcgic_balancer_stats bs = {.version = FCGIC_BALANCER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_get_stats(b, &bs), 0);
    ck_assert_uint_eq(bs.members, 2);
    ck_assert_uint_eq(bs.busy, 0);
    ck_assert_uint_eq(bs.requests, 14);
    ck_assert_uint_eq(bs.ends[FCGIC_END_OK], 14);
    ck_assert_uint_eq(bs.latency_le[FCGIC_LATENCY_BUCKETS - 1], 14);
    ck_assert_uint_eq(bs.all_down, 0);
    ck_assert_uint_ge(bs.failovers, 1);
    ck_assert_uint_eq(st.failovers, bs.failovers); /* all of them left member 2 */
    struct fcgic_member_stats st1 = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 1, &st1), 0);
    ck_assert_uint_eq(st1.failovers, 0);
    ck_assert_uint_eq(st1.pool.version, 1);
    ck_assert_uint_eq(st1.pool.ends[FCGIC_END_OK] + st.pool.ends[FCGIC_END_OK], 14);

    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_apps_stop(apps, 2);
}
END_TEST

START_TEST(integration_unequal_weights)
{
    struct harness_app *apps[2];
    ck_assert_int_eq(harness_apps_start(apps, 2, HARNESS_UNIX, "app-echo", NULL), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_balancer *b = i_balancer(px, &c, I_HEAD);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = apps[0]->url;
    mo.pool.enable_reuse = 1;
    mo.lbfactor = 3;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    mo.pool.target = apps[1]->url;
    mo.lbfactor = 1;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    struct runarg ra = {px, b, &c, 0};
    struct fcgic_request req = simple_req();
    char order[64] = "";
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, i + 1);
        strcat(order, member_of(apps, c.pid[c.n - 1]));
    }
    ck_assert_str_eq(order, "11211121");
    ck_assert_int_eq(c.errors, 0);
    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_apps_stop(apps, 2);
}
END_TEST

START_TEST(integration_stats_all_down)
{
    /* One member whose application is gone: the request ends as a connect
     * failure, counted once by the balancer as all-down. */
    struct harness_app *app;
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-echo", NULL), 0);
    ck_assert_int_eq(harness_app_kill(app), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_balancer *b = i_balancer(px, &c, 0);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = app->url;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    struct runarg ra = {px, b, &c, 0};
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
    run_until(&ra, 1);
    struct fcgic_balancer_stats bs = {0}; /* 0 means version 1 */
    ck_assert_int_eq(fcgic_balancer_get_stats(b, &bs), 0);
    ck_assert_uint_eq(bs.requests, 1);
    ck_assert_uint_eq(bs.ends[FCGIC_END_CONNECT], 1);
    ck_assert_uint_eq(bs.all_down, 1);
    struct fcgic_balancer_stats future = {.version = FCGIC_BALANCER_STATS_VERSION + 1};
    ck_assert_int_eq(fcgic_balancer_get_stats(b, &future), FCGIC_E_INVAL);
    struct fcgic_member_stats mfuture = {.version = FCGIC_MEMBER_STATS_VERSION + 1};
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 1, &mfuture), FCGIC_E_INVAL);
    ck_assert_uint_eq(mfuture.elected, 0);
    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

static void o_event(void *ud, const struct fcgic_event *ev)
{
    int *failovers = ud;
    if (ev->kind == FCGIC_EVENT_FAILOVER)
        (*failovers)++;
}

START_TEST(integration_overloaded_failover)
{
    /* Member 1 answers every request OVERLOADED (app-mpx --overloaded),
     * member 2 serves: every request succeeds; the overloaded member is
     * left alone for busy_retry_ns after each refusal. */
    int n = getenv("FCGIC_UNDER_VALGRIND") ? 100 : 1000;
    struct harness_app *apps[2];
    const char *args[] = {"--overloaded", NULL};
    ck_assert_int_eq(harness_app_start(&apps[0], HARNESS_UNIX, "app-mpx", args), 0);
    ck_assert_int_eq(harness_app_start(&apps[1], HARNESS_UNIX, "app-mpx", NULL), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    int failovers = 0;
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = i_end;
    cb.on_event = o_event;
    struct fcgic_balancer *b;
    ck_assert_int_eq(fcgic_balancer_new(&b, NULL, &tr, &cb, &failovers, NULL), 0);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.enable_reuse = 1;
    mo.busy_retry_ns = 100000000ull; /* 0.1 s */
    for (int i = 0; i < 2; i++) {
        mo.pool.target = apps[i]->url;
        ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    }
    struct runarg ra = {px, b, &c, 0};
    struct fcgic_param params[] = {FCGIC_PARAM_LIT("REQUEST_METHOD", "POST"),
                                   FCGIC_PARAM_LIT("QUERY_STRING", "")};
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 2;
    req.stdin_mode = FCGIC_BODY_BUFFER;
    req.stdin_data = "a=1";
    req.stdin_len = 3;
    uint64_t t0 = fcgic_posix_now();
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, i + 1);
    }
    double secs = (double)(fcgic_posix_now() - t0) / 1e9;
    struct fcgic_member_stats st1 = {.version = FCGIC_MEMBER_STATS_VERSION}, st2 = st1;
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 1, &st1), 0);
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 2, &st2), 0);
    printf("OVERLOADED member: %d requests, %d failed, %d failed over from it (member 1 chosen %llu times, "
           "member 2 %llu), %.2f s\n",
           n, c.errors, failovers, (unsigned long long)st1.elected, (unsigned long long)st2.elected, secs);
    fflush(stdout);
    ck_assert_int_eq(c.errors, 0);
    ck_assert_int_ge(failovers, 1);
    ck_assert_uint_eq((uint64_t)failovers, st1.elected);
    ck_assert_uint_eq(st1.errors, (uint64_t)failovers);
    /* each refusal ended on member 1's pool as REFUSED and moved on */
    ck_assert_uint_eq(st1.failovers, (uint64_t)failovers);
    ck_assert_uint_eq(st1.pool.ends[FCGIC_END_REFUSED], (uint64_t)failovers);
    ck_assert_uint_eq(st1.pool.requests, (uint64_t)failovers);
    ck_assert_uint_eq(st2.pool.ends[FCGIC_END_OK], (uint64_t)n);
    struct fcgic_balancer_stats bs = {.version = FCGIC_BALANCER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_get_stats(b, &bs), 0);
    ck_assert_uint_eq(bs.requests, (uint64_t)n);
    ck_assert_uint_eq(bs.ends[FCGIC_END_OK], (uint64_t)n);
    ck_assert_uint_eq(bs.failovers, (uint64_t)failovers);
    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_app_stop(apps[0]);
    harness_app_stop(apps[1]);
}
END_TEST

/* Drive the loop and the balancer until cond holds; 0 after 5 s. */
static int drive_until(struct fcgic_posix *px, struct fcgic_balancer *b, int (*cond)(struct fcgic_balancer *, void *),
                       void *ud)
{
    uint64_t limit = fcgic_posix_now() + 5 * SEC;
    for (;;) {
        uint64_t now = fcgic_posix_now();
        if (fcgic_balancer_deadline(b) <= now)
            ck_assert_int_eq(fcgic_balancer_tick(b, now), 0);
        if (cond(b, ud))
            return 1;
        if (now >= limit) {
            for (unsigned id = 1; id <= 2; id++) {
                struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
                if (fcgic_balancer_member_stats(b, id, &st) == 0)
                    fprintf(stderr, "member %u: status %u checks %llu failures %llu last %d (%s) http %u\n", id,
                            st.status, (unsigned long long)st.hc_checks, (unsigned long long)st.hc_failures,
                            st.hc_last_error, fcgic_strerror(st.hc_last_error), st.hc_last_status);
            }
            return 0;
        }
        uint64_t d = fcgic_balancer_deadline(b);
        now = fcgic_posix_now();
        uint64_t wait = d <= now ? 0 : d - now;
        if (wait > 20000000ull)
            wait = 20000000ull;
        ck_assert_int_eq(fcgic_posix_run(px, wait), 0);
    }
}

/* Members 1..n all have `status` and at least `checks` probes behind them
 * (the last one passed when want_pass). */
struct hc_want {
    unsigned n, status;
    uint64_t checks;
    int want_pass;
};

static int hc_reached(struct fcgic_balancer *b, void *ud)
{
    const struct hc_want *w = ud;
    for (unsigned id = 1; id <= w->n; id++) {
        struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
        if (fcgic_balancer_member_stats(b, id, &st) != 0 || st.status != w->status || st.hc_checks < w->checks ||
            (w->want_pass && st.hc_last_error != 0))
            return 0;
    }
    return 1;
}

static int one_status(struct fcgic_balancer *b, unsigned id, unsigned status, uint64_t checks)
{
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(b, id, &st), 0);
    return st.status == status && st.hc_checks >= checks;
}

struct one_want {
    unsigned id, status;
    uint64_t checks;
};

static int one_reached(struct fcgic_balancer *b, void *ud)
{
    const struct one_want *w = ud;
    return one_status(b, w->id, w->status, w->checks);
}

/* Submit n requests one after the other; their members ("1", "2") in order. */
static void run_requests(struct runarg *ra, struct harness_app **apps, int n, char *order)
{
    struct fcgic_request req = simple_req();
    order[0] = 0;
    for (int i = 0; i < n; i++) {
        int want = ra->c->ends + 1;
        ck_assert_int_eq(fcgic_balancer_submit(ra->b, &req, ra->c, NULL, fcgic_posix_now()), 0);
        run_until(ra, want);
        strcat(order, member_of(apps, ra->c->pid[ra->c->n - 1]));
    }
}

START_TEST(integration_health_kill_restart)
{
    /* Member 1 (app-echo, libfcgi) probed with a FastCGI request, member 2
     * (app-mpx) with GET_VALUES (libfcgi answers GET_VALUES only after a
     * request began), every 50 ms; 2 failures take a member out, 2 passes
     * bring it back. Each app is killed and restarted in turn: the health
     * checks alone (no request meets the dead member: retry is 60 s) take
     * it out and bring it back. */
    struct harness_app *apps[2];
    const char *args[] = {"-t", "4", NULL};
    ck_assert_int_eq(harness_app_start(&apps[0], HARNESS_TCP, "app-echo", args), 0);
    ck_assert_int_eq(harness_app_start(&apps[1], HARNESS_TCP, "app-mpx", NULL), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_balancer *b = i_balancer(px, &c, I_HEAD | I_EVENT);
    static const struct fcgic_param hp[] = {FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/health"),
                                            FCGIC_PARAM_LIT("REQUEST_METHOD", "GET")};
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.hc_interval_ns = 50000000ull;
    mo.hc_timeout_ns = SEC;
    mo.hc_fails = 2;
    mo.hc_passes = 2;
    mo.pool.target = apps[0]->url;
    mo.hc_method = FCGIC_HC_REQUEST;
    mo.hc_params = hp;
    mo.hc_nparams = 2;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    mo.pool.target = apps[1]->url;
    mo.hc_method = FCGIC_HC_VALUES;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    struct runarg ra = {px, b, &c, 0};
    char order[16];

    struct hc_want healthy = {2, 0, 2, 1};
    ck_assert(drive_until(px, b, hc_reached, &healthy));
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_member_stats(b, 1, &st), 0);
    ck_assert_uint_eq(st.hc_last_status, 200);

    for (unsigned dead = 2; dead >= 1; dead--) {
        unsigned alive = 3 - dead;
        struct harness_app *app = apps[dead - 1];
        ck_assert_int_eq(harness_app_kill(app), 0);
        struct one_want down = {dead, FCGIC_MEMBER_HCFAIL, 0};
        ck_assert(drive_until(px, b, one_reached, &down));
        ck_assert_int_eq(fcgic_balancer_member_stats(b, dead, &st), 0);
        ck_assert_int_ne(st.hc_last_error, 0);
        run_requests(&ra, apps, 4, order);
        ck_assert_str_eq(order, alive == 1 ? "1111" : "2222");
        ck_assert_int_eq(harness_app_restart(app), 0);
        struct one_want up = {dead, 0, st.hc_checks + 2};
        ck_assert(drive_until(px, b, one_reached, &up));
        run_requests(&ra, apps, 4, order);
        ck_assert_ptr_nonnull(strchr(order, dead == 1 ? '1' : '2'));
    }
    ck_assert_int_eq(c.errors, 0);
    ck_assert_str_eq(c.log, "m2:0>16 m2:16>0 m1:0>16 m1:16>0 ");
    for (unsigned id = 1; id <= 2; id++) {
        ck_assert_int_eq(fcgic_balancer_member_stats(b, id, &st), 0);
        ck_assert_uint_eq(st.errors, 1);
        ck_assert_uint_eq(st.recoveries, 1);
        ck_assert_uint_ge(st.hc_failures, 2);
    }
    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_apps_stop(apps, 2);
}
END_TEST

START_TEST(integration_php_fpm_balancer)
{
    /* balancer://two of two PHP-FPM pools, each member health-checked with
     * a FastCGI request to PHP-FPM's ping.path; requests alternate between
     * the two php-fpm masters (the worker's parent process). */
    struct harness_app *fpm[2] = {NULL, NULL};
    int rc = harness_php_start(&fpm[0], HARNESS_TCP, 2);
    if (rc == HARNESS_SKIP)
        return; /* no php-fpm on this machine */
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(harness_php_start(&fpm[1], HARNESS_UNIX, 2), 0);
    char script[4200];
    ck_assert_int_eq(harness_php_script(fpm[0], "pid.php", script, sizeof(script)), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_balancer *b = i_balancer(px, &c, I_BODY | I_EVENT);
    static const struct fcgic_param ping[] = {FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/ping"),
                                              FCGIC_PARAM_LIT("SCRIPT_NAME", "/ping"),
                                              FCGIC_PARAM_LIT("REQUEST_METHOD", "GET")};
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.enable_reuse = 1;
    mo.pool.timeout_ns = 10 * SEC;
    mo.hc_interval_ns = 100000000ull;
    mo.hc_timeout_ns = 2 * SEC; /* a ping slowed by a loaded machine is not a failure */
    mo.hc_method = FCGIC_HC_REQUEST;
    mo.hc_params = ping;
    mo.hc_nparams = 3;
    mo.hc_expect_status = 200;
    for (int i = 0; i < 2; i++) {
        mo.pool.target = fpm[i]->url;
        ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
    }
    struct hc_want healthy = {2, 0, 1, 1};
    ck_assert(drive_until(px, b, hc_reached, &healthy));
    struct fcgic_param params[] = {{"SCRIPT_FILENAME", 15, script, strlen(script)},
                                   FCGIC_PARAM_LIT("SCRIPT_NAME", "/pid.php"),
                                   FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                   FCGIC_PARAM_LIT("QUERY_STRING", ""),
                                   FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1")};
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 5;
    struct runarg ra = {px, b, &c, 0};
    char order[16] = "";
    for (int i = 0; i < 6; i++) {
        c.blen = 0;
        c.body[0] = 0;
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, i + 1);
        const char *pp = strstr(c.body, "ppid=");
        ck_assert_ptr_nonnull(pp);
        long ppid = atol(pp + 5);
        strcat(order, ppid == (long)fpm[0]->pid ? "1" : ppid == (long)fpm[1]->pid ? "2" : "?");
    }
    ck_assert_str_eq(order, "121212");
    ck_assert_int_eq(c.errors, 0);
    for (unsigned id = 1; id <= 2; id++) {
        struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
        ck_assert_int_eq(fcgic_balancer_member_stats(b, id, &st), 0);
        ck_assert_uint_eq(st.status, 0);
        ck_assert_uint_eq(st.hc_last_status, 200);
        ck_assert_uint_eq(st.pool.conns_created, 1);
        ck_assert_uint_eq(st.pool.conns_reused, 2);
    }
    ck_assert_str_eq(c.log, "");
    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_app_stop(fpm[0]);
    harness_app_stop(fpm[1]);
}
END_TEST


/* ---- cancel, timers, errno --------------------------------------------- */

static uint64_t bt_last = 7;
static int bt_calls;

static void bt_timer(void *ud, uint64_t deadline)
{
    (void)ud;
    bt_last = deadline;
    bt_calls++;
}

static int bt_errno;

static void bt_event(void *ud, const struct fcgic_event *ev)
{
    if (ev->kind == FCGIC_EVENT_FAILOVER)
        bt_errno = ev->sys_errno;
    c_event(ud, ev);
}

/* An all-down end waits for a tick (on_timer says 0); abort ends it now.
 * A member refused at once reports its errno in FAILOVER. A running
 * request's abort ends it at once, with no failover. */
START_TEST(abort_timer_errno)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    fake_transport(&c.fk, &c.tr);
    struct fcgic_pool_callbacks cb = cbs();
    cb.on_timer = bt_timer;
    cb.on_event = bt_event;
    ck_assert_int_eq(fcgic_balancer_new(&c.b, NULL, &c.tr, &cb, &c, NULL), 0);
    add(&c, "fcgi://a:1", 1, 0, 0);
    add(&c, "fcgi://b:1", 1, 0, 0);
    c.fk.refuse[0] = "fcgi://a:1";
    c.fk.refuse[1] = "fcgi://b:1";
    c.fk.refuse_errno = ECONNREFUSED;
    struct fcgic_request req = simple_req();
    struct fcgic_balancer_req *h;
    bt_calls = 0;
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, &h, 0), 0);
    ck_assert_int_eq(bt_errno, ECONNREFUSED);
    ck_assert_int_gt(bt_calls, 0);
    ck_assert_uint_eq(bt_last, 0); /* the all-down end waits for a tick */
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(fcgic_balancer_abort(c.b, h, 0), 0);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.end_err, FCGIC_E_ABORTED);
    ck_assert_int_eq(fcgic_balancer_tick(c.b, 0), 0);
    ck_assert_int_eq(c.ends, 1); /* nothing more */
    ck_assert_uint_ne(bt_last, 0);

    /* a running request */
    c.fk.refuse[0] = c.fk.refuse[1] = NULL;
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, 1, 0, FCGIC_MEMBER_ERROR, 0), 0);
    ck_assert_int_eq(fcgic_balancer_set_status(c.b, 2, 0, FCGIC_MEMBER_ERROR, 0), 0);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, &h, 0), 0);
    ck_assert_int_eq(fcgic_balancer_unpause(c.b, h, 0), 0);
    int failovers = c.failovers;
    ck_assert_int_eq(fcgic_balancer_abort(c.b, h, 0), 0);
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.end_err, FCGIC_E_ABORTED);
    ck_assert_int_eq(c.failovers, failovers);
    ck_assert_uint_eq(bt_last, 0); /* the connection is closed at the next tick */
    ck_assert_int_eq(fcgic_balancer_tick(c.b, 0), 0);
    ck_assert_int_eq(fake_open_count(&c.fk), 0);
    teardown(&c);
}
END_TEST

/* Params per member (member options version 2): each member's own params
 * come first, and the request's values that name the member the embedder
 * built them for are rewritten to name the member that serves it. */
static void member_params_options(struct fcgic_member_options *mo, const char *url, const char *first_url,
                                  struct fcgic_param *own, char *from, char *to, size_t len)
{
    memset(mo, 0, sizeof(*mo));
    mo->version = FCGIC_MEMBER_OPTIONS_VERSION;
    mo->pool.target = url;
    mo->retry_ns = 60000000000ull;
    own[0] = (struct fcgic_param)FCGIC_PARAM_LIT("BALANCER_NAME", "balancer://t");
    own[1].name = "BALANCER_WORKER_NAME";
    own[1].name_len = strlen(own[1].name);
    own[1].value = url;
    own[1].value_len = strlen(url);
    own[2] = (struct fcgic_param)FCGIC_PARAM_LIT("BALANCER_WORKER_ROUTE", "");
    mo->params = own;
    mo->nparams = 3;
    snprintf(from, len, "proxy:%s", first_url);
    snprintf(to, len, "proxy:%s", url);
    mo->rewrite_from.ptr = from;
    mo->rewrite_from.len = strlen(from);
    mo->rewrite_to.ptr = to;
    mo->rewrite_to.len = strlen(to);
}

/* The params app-echo listed for the last request, as they should read on
 * the member at url. */
static void expect_member_body(const struct ictx *c, const char *url, const char *first_url)
{
    char want[768];
    snprintf(want, sizeof(want),
             "BALANCER_NAME=balancer://t\nBALANCER_WORKER_NAME=%s\nBALANCER_WORKER_ROUTE=\n"
             "SCRIPT_FILENAME=proxy:%s/a.php\nREQUEST_METHOD=GET\nDOCUMENT_ROOT=/srv/proxy:%s\n",
             url, url, first_url);
    ck_assert_msg(strncmp(c->body, want, strlen(want)) == 0, "body:\n%s\nwant:\n%s", c->body, want);
}

static struct fcgic_balancer *member_params_balancer(struct harness_app **apps, struct fcgic_posix *px, struct ictx *c)
{
    struct fcgic_balancer *b = i_balancer(px, c, I_HEAD | I_BODY);
    for (int i = 0; i < 2; i++) {
        struct fcgic_member_options mo;
        struct fcgic_param own[3];
        char from[256], to[256];
        member_params_options(&mo, apps[i]->url, apps[0]->url, own, from, to, sizeof(from));
        ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, fcgic_posix_now()), 0);
        /* copied: what the options pointed at may go now */
        memset(own, 0, sizeof(own));
        memset(from, 'z', sizeof(from));
        memset(to, 'z', sizeof(to));
    }
    return b;
}

static struct fcgic_request member_params_req(const char *first_url, char *sf, size_t len)
{
    static struct fcgic_param params[3];
    static char dr[256];
    snprintf(sf, len, "proxy:%s/a.php", first_url);
    snprintf(dr, sizeof(dr), "/srv/proxy:%s", first_url);
    params[0].name = "SCRIPT_FILENAME";
    params[0].name_len = 15;
    params[0].value = sf;
    params[0].value_len = strlen(sf);
    params[1] = (struct fcgic_param)FCGIC_PARAM_LIT("REQUEST_METHOD", "GET");
    /* names the first member, but not at the start: left alone */
    params[2].name = "DOCUMENT_ROOT";
    params[2].name_len = 13;
    params[2].value = dr;
    params[2].value_len = strlen(dr);
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 3;
    return req;
}

START_TEST(integration_member_params)
{
    struct harness_app *apps[2];
    ck_assert_int_eq(harness_apps_start(apps, 2, HARNESS_TCP, "app-echo", NULL), 0);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_balancer *b = member_params_balancer(apps, px, &c);
    struct runarg ra = {px, b, &c, 0};
    char sf[256];
    struct fcgic_request req = member_params_req(apps[0]->url, sf, sizeof(sf));

    /* 1 2 1 2: each request names the member that served it */
    for (int i = 0; i < 4; i++) {
        c.blen = 0;
        c.body[0] = 0;
        ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
        run_until(&ra, i + 1);
        ck_assert_str_eq(member_of(apps, c.pid[c.n - 1]), i % 2 ? "2" : "1");
        expect_member_body(&c, apps[i % 2]->url, apps[0]->url);
    }

    /* member 1 down: the request chosen for it fails over to member 2 and
     * tells the application about member 2 */
    ck_assert_int_eq(harness_app_kill(apps[0]), 0);
    c.blen = 0;
    c.body[0] = 0;
    ck_assert_int_eq(fcgic_balancer_submit(b, &req, &c, NULL, fcgic_posix_now()), 0);
    run_until(&ra, 5);
    ck_assert_int_eq(c.errors, 0);
    ck_assert_str_eq(member_of(apps, c.pid[c.n - 1]), "2");
    expect_member_body(&c, apps[1]->url, apps[0]->url);
    struct fcgic_balancer_stats bs = {.version = FCGIC_BALANCER_STATS_VERSION};
    ck_assert_int_eq(fcgic_balancer_get_stats(b, &bs), 0);
    ck_assert_uint_eq(bs.failovers, 1);

    fcgic_balancer_free(b);
    fcgic_posix_free(px);
    harness_apps_stop(apps, 2);
}
END_TEST

START_TEST(member_params_options_checked)
{
    struct ctx c;
    setup_opts(&c, NULL);
    struct fcgic_balancer *b = c.b;
    struct fake *fk = &c.fk;
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.version = FCGIC_MEMBER_OPTIONS_VERSION;
    mo.pool.target = "fcgi://127.0.0.1:9";
    mo.nparams = 1; /* without params */
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, 0), FCGIC_E_INVAL);
    mo.nparams = 0;
    mo.rewrite_from.len = 3; /* without a pointer */
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, 0), FCGIC_E_INVAL);
    mo.rewrite_from.ptr = "abc";
    mo.rewrite_to.len = 1;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, 0), FCGIC_E_INVAL);
    mo.rewrite_to.ptr = "";
    mo.rewrite_to.len = 0; /* rewrite to nothing: allowed */
    mo.version = FCGIC_MEMBER_OPTIONS_VERSION + 1;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, NULL, 0), FCGIC_E_INVAL);
    mo.version = FCGIC_MEMBER_OPTIONS_VERSION;
    unsigned id;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, &id, 0), 0);
    ck_assert_uint_eq(id, 1);

    /* A program built with version 1 passes a struct that ends before
     * `params`: nothing after it is read (ASan sees any read past it). */
    size_t v1 = offsetof(struct fcgic_member_options, params);
    void *old = malloc(v1);
    ck_assert_ptr_nonnull(old);
    memset(&mo, 0, sizeof(mo));
    mo.version = 1;
    mo.pool.target = "fcgi://127.0.0.1:9";
    memcpy(old, &mo, v1);
    ck_assert_int_eq(fcgic_balancer_add(b, old, &id, 0), 0);
    ck_assert_uint_eq(id, 2);
    free(old);
    fcgic_balancer_free(b);
    fake_free(fk);
}
END_TEST

START_TEST(failalloc_member_params)
{
    /* Every allocation of adding a member with params and of building the
     * params a request sends on it may fail: an error, never a leak. */
    for (long n = 1;; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct ctx c;
        int rc = setup_mem(&c, NULL, &fa.mem);
        struct fcgic_balancer *b = c.b;
        struct fake *fk = &c.fk;
        if (rc == 0) {
            struct fcgic_member_options mo;
            struct fcgic_param own[3];
            char from[64], to[64];
            member_params_options(&mo, "fcgi://127.0.0.1:9", "fcgi://127.0.0.1:8", own, from, to, sizeof(from));
            rc = fcgic_balancer_add(b, &mo, NULL, 0);
        }
        if (rc == 0) {
            char sf[64];
            struct fcgic_request req = member_params_req("fcgi://127.0.0.1:8", sf, sizeof(sf));
            rc = fcgic_balancer_submit(b, &req, &c, NULL, 0);
        }
        ck_assert(rc == 0 || rc == FCGIC_E_NOMEM);
        fcgic_balancer_free(b);
        fake_free(fk);
        ck_assert_int_eq(fa.live, 0);
        if (rc == 0 && !fa.failed)
            break;
        ck_assert_int_lt(n, 1000);
    }
}
END_TEST

static Suite *balancer_suite(void)
{
    Suite *s = suite_create("balancer");
    TCase *tc;
    tc = tcase_create("cancel");
    tcase_add_test(tc, abort_timer_errno);
    suite_add_tcase(s, tc);
    tc = tcase_create("byrequests");
    tcase_add_test(tc, byrequests_equal_alternate);
    tcase_add_test(tc, byrequests_weights);
    tcase_add_test(tc, byrequests_matches_apache_scan);
    suite_add_tcase(s, tc);
    tc = tcase_create("status");
    tcase_add_test(tc, tiers_standby_lbset);
    tcase_add_test(tc, runtime_add_remove);
    suite_add_tcase(s, tc);
    tc = tcase_create("methods");
    tcase_add_test(tc, bybusyness_prefers_idle);
    tcase_add_test(tc, bytraffic_prefers_least_bytes);
    tcase_add_test(tc, bybusyness_matches_apache_scan);
    tcase_add_test(tc, bytraffic_matches_apache_scan);
    suite_add_tcase(s, tc);
    tc = tcase_create("failover");
    tcase_add_test(tc, failover_refused_then_recovery);
    tcase_add_test(tc, failover_async_connect_failure);
    tcase_add_test(tc, failover_replay_cap_from_member);
    tcase_add_test(tc, params_copied_once);
    tcase_add_test(tc, all_down_and_forced_recovery);
    tcase_add_test(tc, overloaded_fails_over);
    tcase_add_test(tc, failover_retry_policy);
    tcase_add_test(tc, failover_broken_connection);
    suite_add_tcase(s, tc);
    tc = tcase_create("health");
    tcase_add_test(tc, health_values_thresholds);
    tcase_add_test(tc, health_request_probe);
    tcase_add_test(tc, health_ends_error_early);
    tcase_add_test(tc, health_options_and_remove);
    tcase_add_test(tc, health_init_down);
    suite_add_tcase(s, tc);
    tc = tcase_create("free");
    tcase_add_test(tc, free_ends_requests_in_flight);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_test(tc, failalloc_balancer);
    tcase_add_test(tc, handle_valid_during_on_end);
    tcase_add_test(tc, request_ends_inside_submit);
    tcase_add_test(tc, failalloc_member_params);
    suite_add_tcase(s, tc);
    tc = tcase_create("member_params");
    tcase_add_test(tc, member_params_options_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("integration");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, integration_order_failover_recovery);
    tcase_add_test(tc, integration_unequal_weights);
    tcase_add_test(tc, integration_overloaded_failover);
    tcase_add_test(tc, integration_stats_all_down);
    tcase_add_test(tc, integration_health_kill_restart);
    tcase_add_test(tc, integration_php_fpm_balancer);
    tcase_add_test(tc, integration_member_params);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return testutil_run(balancer_suite());
}
