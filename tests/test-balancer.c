/* Tests of the balancer: Apache's byrequests / bybusyness / bytraffic
 * choices (explicit sequences and a straightforward O(n) model of Apache's
 * scan, run side by side with the library's heap-based selection), member
 * status, failover, forced recovery, run-time changes, allocation failures,
 * and integration against real app-echo processes. */
#include <check.h>
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

#define SEC 1000000000ull

/* ------------------------------------------------------------------------ */
/* Apache's scan, written plainly (the test oracle)                          */
/* ------------------------------------------------------------------------ */

struct ref_m {
    unsigned f, lbset, status;
    long long lbstatus;
    uint64_t until;
    int present;
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
                m->lbstatus += m->f;
                total += m->f;
                if (best < 0 || m->lbstatus > r->m[best].lbstatus)
                    best = i;
            }
            if (best >= 0) {
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
    char log[512];
};

static void c_end(void *ud, const struct fcgic_result *res)
{
    struct ctx *c = ud;
    c->ends++;
    c->end_err = res->error;
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
        snprintf(tmp, sizeof(tmp), "m%u:%u>%u ", ev->member, ev->old_status, ev->new_status);
        strncat(c->log, tmp, sizeof(c->log) - strlen(c->log) - 1);
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
    return cb;
}

static void setup(struct ctx *c, enum fcgic_lb_method meth)
{
    memset(c, 0, sizeof(*c));
    fake_transport(&c->fk, &c->tr);
    struct fcgic_balancer_options o;
    memset(&o, 0, sizeof(o));
    o.method = meth;
    struct fcgic_pool_callbacks cb = cbs();
    ck_assert_int_eq(fcgic_balancer_new(&c->b, &o, &c->tr, &cb, c, NULL), 0);
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
    struct fcgic_member_stats st;
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

START_TEST(byrequests_matches_apache_scan)
{
    /* Random members and random status changes; every choice and every
     * lbstatus must equal the plain scan's. */
    for (int round = 0; round < 40; round++) {
        rnd_state = (unsigned long long)round * 7919u + 1;
        struct ctx c;
        struct ref r;
        memset(&r, 0, sizeof(r));
        setup(&c, FCGIC_LB_BYREQUESTS);
        int n = 2 + (int)rnd(30);
        for (int i = 0; i < n; i++) {
            r.m[i].f = 1 + rnd(round % 2 ? 100 : 4);
            r.m[i].lbset = rnd(4) == 0 ? 1 : 0;
            r.m[i].status = rnd(6) == 0 ? FCGIC_MEMBER_STANDBY : 0;
            r.m[i].present = 1;
            add(&c, "fcgi://x:1", r.m[i].f, r.m[i].lbset, r.m[i].status);
        }
        r.n = n;
        for (int step = 0; step < 600; step++) {
            unsigned op = rnd(20);
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
            struct fcgic_member_stats st;
            if (!r.m[i].present)
                continue;
            ck_assert_int_eq(fcgic_balancer_member_stats(c.b, (unsigned)i + 1, &st), 0);
            ck_assert_int_eq(st.lbstatus, r.m[i].lbstatus);
        }
        teardown(&c);
    }
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
    struct fcgic_member_stats st;
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
    struct fcgic_member_stats st;
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
    struct fcgic_member_stats st;
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
    fake_fail(&c.fk, 0, FCGIC_E_CONNECT); /* a refuses: moved to b */
    ck_assert_int_eq(c.ends, 0);
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

START_TEST(all_down_and_forced_recovery)
{
    /* bal_all_down: the only member refuses; every request tries again. */
    struct ctx c;
    setup(&c, FCGIC_LB_BYREQUESTS);
    add(&c, "fcgi://127.0.0.1:18199", 1, 0, 0);
    c.fk.refuse[0] = "fcgi://127.0.0.1:18199";
    struct fcgic_request req = simple_req();
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, SEC), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(c.fk.opens_failed, 2);
    ck_assert_int_eq(c.ends, 0);
    teardown(&c);

    /* forcerecovery off: the member stays in error for retry */
    memset(&c, 0, sizeof(c));
    fake_transport(&c.fk, &c.tr);
    struct fcgic_balancer_options o;
    memset(&o, 0, sizeof(o));
    o.no_force_recovery = 1;
    struct fcgic_pool_callbacks cb = cbs();
    ck_assert_int_eq(fcgic_balancer_new(&c.b, &o, &c.tr, &cb, &c, NULL), 0);
    add(&c, "fcgi://127.0.0.1:18199", 1, 0, 0);
    c.fk.refuse[0] = "fcgi://127.0.0.1:18199";
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, 0), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(fcgic_balancer_submit(c.b, &req, &c, NULL, SEC), FCGIC_E_BAL_ALL_DOWN);
    ck_assert_int_eq(c.fk.opens_failed, 1);
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

START_TEST(failalloc_balancer)
{
    for (long n = 1;; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct fake fk;
        struct fcgic_transport tr;
        fake_transport(&fk, &tr);
        fk.mem = &fa.mem;
        struct fcgic_pool_callbacks cb = cbs();
        struct ctx c;
        memset(&c, 0, sizeof(c));
        struct fcgic_balancer *b = NULL;
        int rc = fcgic_balancer_new(&b, NULL, &tr, &cb, &c, &fa.mem);
        struct fcgic_member_options mo;
        memset(&mo, 0, sizeof(mo));
        mo.pool.target = "fcgi://a:1";
        unsigned id;
        for (int i = 0; rc == 0 && i < 12; i++) {
            mo.lbfactor = 1 + (unsigned)i % 3;
            mo.status = i == 5 ? FCGIC_MEMBER_STANDBY : 0;
            rc = fcgic_balancer_add(b, &mo, &id, 0);
        }
        struct fcgic_request req = simple_req();
        if (rc == 0)
            rc = fcgic_balancer_submit(b, &req, &c, NULL, 0);
        if (rc == 0)
            rc = fcgic_balancer_set_status(b, 6, 0, FCGIC_MEMBER_STANDBY, 0);
        if (rc == 0)
            rc = fcgic_balancer_set_lbfactor(b, 7, 50);
        int late = 0;
        if (rc == 0 && fk.n == 1 && !fa.failed) {
            fake_respond(&fk, 0, "ok");
            late = fa.failed;
        }
        fcgic_balancer_free(b);
        fake_free(&fk);
        ck_assert_int_eq(fa.live, 0);
        if (!fa.failed) {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(c.ends, 1);
            break;
        }
        if (!late)
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
};

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
    if (res->error || !res->got_end_request)
        c->errors++;
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
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = i_head;
    cb.on_end = i_end;
    struct fcgic_balancer *b;
    ck_assert_int_eq(fcgic_balancer_new(&b, NULL, &tr, &cb, &c, NULL), 0);
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
    struct fcgic_member_stats st;
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
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct ictx c;
    memset(&c, 0, sizeof(c));
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = i_head;
    cb.on_end = i_end;
    struct fcgic_balancer *b;
    ck_assert_int_eq(fcgic_balancer_new(&b, NULL, &tr, &cb, &c, NULL), 0);
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

static Suite *balancer_suite(void)
{
    Suite *s = suite_create("balancer");
    TCase *tc;
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
    suite_add_tcase(s, tc);
    tc = tcase_create("failover");
    tcase_add_test(tc, failover_refused_then_recovery);
    tcase_add_test(tc, failover_async_connect_failure);
    tcase_add_test(tc, all_down_and_forced_recovery);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_test(tc, failalloc_balancer);
    suite_add_tcase(s, tc);
    tc = tcase_create("integration");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, integration_order_failover_recovery);
    tcase_add_test(tc, integration_unequal_weights);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(balancer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
