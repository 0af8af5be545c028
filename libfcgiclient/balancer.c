/* Balancer over member pools. See include/fcgiclient/balancer.h.
 *
 * Selection. Apache's methods scan every member per request: each usable
 * member's lbstatus grows by its lbfactor, the best is chosen, and (for
 * byrequests and bybusyness) the chosen one's lbstatus falls by the sum of
 * the factors. Here the usable members of one (lbset, standby) tier are
 * split into groups of equal lbfactor, each group a binary heap:
 *  - the "grow every lbstatus by its lbfactor" step is a tier counter K, and
 *    a member in the heap stores lbstatus - K * lbfactor; inside a group all
 *    members grow alike, so the heap order never changes when K does;
 *  - the best of a tier is the best of the group tops, compared with their
 *    real lbstatus and, on a tie, by member order (Apache keeps the first
 *    best it meets in member order; the heaps order ties the same way).
 * A pick is O(G + log n), G = distinct lbfactors in the tier (<= 100). A
 * member leaving the tier (error, disabled, drained, removed) takes its real
 * lbstatus with it and comes back with it, as in Apache where an unusable
 * member's lbstatus is not touched.
 *
 * Members in error wait in a heap ordered by the time they may be retried;
 * member pools' deadlines wait in another heap, and members with health
 * checks in a third one ordered by the time of their next probe action
 * (start, timeout, or 0 once an answer waits), so tick and deadline do not
 * scan every member either. Running probes are also on a list, checked by
 * tick and deadline for connections that failed without a callback (see
 * health.c). */
#include <string.h>

#include "fcgiclient/balancer.h"
#include "fcgiclient/error.h"
#include "health_int.h"
#include "member_params_int.h"
#include "pool_int.h"
#include "stats_int.h"
#include "util.h"

#define DEFAULT_RETRY_NS (60ull * 1000000000ull)
#define DEFAULT_BUSY_RETRY_NS 1000000000ull
#define DEFAULT_RECOVERY_NS 1000000000ull
#define MAX_LBFACTOR 100u
#define MAX_LBSET 99u
#define NPOS ((size_t)-1)
#define STATUS_MASK                                                                                                    \
    (FCGIC_MEMBER_DISABLED | FCGIC_MEMBER_STANDBY | FCGIC_MEMBER_DRAIN | FCGIC_MEMBER_ERROR | FCGIC_MEMBER_HCFAIL)

struct tier;
struct group;

struct member {
    struct fcgic_balancer *b;
    unsigned id;
    uint64_t seq; /* member order */
    struct fcgic_pool *pool;
    unsigned lbfactor, lbset, status;
    long long lbstatus; /* real value; while in a heap: value - K * lbfactor */
    struct tier *tier;  /* NULL when not usable */
    struct group *grp;
    size_t hidx;        /* index in grp's heap */
    size_t eidx;        /* index in the error heap or NPOS */
    size_t didx;        /* index in the deadline heap or NPOS */
    size_t cidx;        /* index in the health heap or NPOS */
    uint64_t dl;        /* cached pool deadline */
    uint64_t error_until, retry_ns, busy_retry_ns;
    unsigned busy;
    uint64_t elected, errors, recoveries, transferred, read, failovers;
    int removed;
    struct member *prev, *next;
    /* health check (hc_on) */
    int hc_on;
    struct fcgic__hc hc;
    struct fcgic__probe probe;
    struct member *pprev, *pnext; /* running probes */
    int probing;                  /* on that list */
    uint64_t hc_at;               /* next action: start, timeout, 0 = answer waits */
    unsigned hc_fail_run, hc_pass_run;
    unsigned hc_first; /* passes that end the initial HCFAIL (hc_init), 0 once ended */
    uint64_t hc_checks, hc_failures;
    int hc_last_error;
    unsigned hc_last_status;
    struct fcgic__mparams mp; /* params per member */
};

struct group {
    unsigned f;
    size_t assigned; /* members whose (lbset, standby, lbfactor) is this group's */
    struct member **h;
    size_t n, cap;
};

struct tier {
    unsigned lbset;
    int standby;
    long long K;
    long long total; /* sum of lbfactors of the members in the tier */
    size_t n;
    struct group *g;
    size_t ng, gcap;
};

struct mheap {
    struct member **h;
    size_t n, cap;
};

struct fcgic_balancer_req {
    struct fcgic_balancer *b;
    void *ud;
    struct fcgic_request req; /* params in own memory */
    const struct fcgic_param *mparams; /* as sent on r->m (built by dispatch), or NULL */
    struct fcgic__keep keep;
    struct member *m;
    struct fcgic_pool_req *pr;
    struct fcgic_balancer_req *lprev, *lnext;
    struct fcgic_balancer_req *dnext; /* on the list of ends waiting for a tick */
    struct fcgic_result res;          /* the end that waits */
    unsigned attempts, max_attempts;
    unsigned retries;                 /* result.retries: failovers and the pools' retries */
    int aborted;
    int idempotent;
    int sys_errno;                    /* errno of the last member failure */
    uint64_t submitted;               /* `now` of the submit (latency) */
};

struct fcgic_balancer {
    struct fcgic__alloc a;
    struct fcgic_balancer_options o;
    struct fcgic_transport tr;
    struct fcgic_pool_callbacks cb;   /* the embedder's */
    struct fcgic_pool_callbacks pcb;  /* given to member pools */
    void *ud;
    struct member **slots; /* by id - 1 */
    size_t nslots, slotcap;
    struct member *head, *tail;
    size_t nmembers, nerror;
    struct tier **tiers; /* sorted by (lbset, standby) */
    struct fcgic_balancer_req *live; /* every request not yet ended */
    size_t ntiers, tiercap;
    struct mheap eheap, dheap, hheap;
    struct member *probing; /* members whose probe runs */
    uint64_t next_seq;
    int reap;    /* removed members wait to be freed */
    struct fcgic_balancer_req *ends, **ends_tail; /* ends waiting for a tick, in order */
    uint64_t force_at; /* forced recovery not before this */
    int cb_depth;
    int closing; /* fcgic_balancer_free() runs */
    uint64_t reported_dl; /* last deadline given to on_timer */
    uint64_t now;         /* the latest `now` seen: of a call, or of a member's event */
    struct fcgic__ends ended; /* statistics of the requests ended */
    uint64_t failovers, all_down;
    int timer_known;
};

/* ------------------------------------------------------------------------ */
/* Ordering                                                                 */
/* ------------------------------------------------------------------------ */

static long long traffic(const struct member *m)
{
    return (long long)(m->transferred / m->lbfactor) + (long long)(m->read / m->lbfactor);
}

static long long real_lbstatus(const struct member *m)
{
    return m->tier ? m->lbstatus + m->tier->K * (long long)m->lbfactor : m->lbstatus;
}

/* Is a strictly better than b? Only ever called for members of one tier. */
static int better(enum fcgic_lb_method meth, const struct member *a, const struct member *b)
{
    switch (meth) {
    case FCGIC_LB_BYBUSYNESS:
        if (a->busy != b->busy)
            return a->busy < b->busy;
        break;
    case FCGIC_LB_BYTRAFFIC: {
        long long ta = traffic(a), tb = traffic(b);
        if (ta != tb)
            return ta < tb;
        return a->seq < b->seq;
    }
    default:
        break;
    }
    long long la = real_lbstatus(a), lb = real_lbstatus(b);
    if (la != lb)
        return la > lb;
    return a->seq < b->seq;
}

static void g_swap(struct group *g, size_t i, size_t j)
{
    struct member *t = g->h[i];
    g->h[i] = g->h[j];
    g->h[j] = t;
    g->h[i]->hidx = i;
    g->h[j]->hidx = j;
}

static void g_up(enum fcgic_lb_method meth, struct group *g, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!better(meth, g->h[i], g->h[p]))
            break;
        g_swap(g, i, p);
        i = p;
    }
}

static void g_down(enum fcgic_lb_method meth, struct group *g, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < g->n && better(meth, g->h[l], g->h[best]))
            best = l;
        if (r < g->n && better(meth, g->h[r], g->h[best]))
            best = r;
        if (best == i)
            break;
        g_swap(g, i, best);
        i = best;
    }
}

static void g_fix(enum fcgic_lb_method meth, struct group *g, size_t i)
{
    g_up(meth, g, i);
    g_down(meth, g, g->h[i] == NULL ? i : g->h[i]->hidx);
}

/* ------------------------------------------------------------------------ */
/* Generic member heaps (error retry time, pool deadline)                   */
/* ------------------------------------------------------------------------ */

static uint64_t ekey(const struct member *m) { return m->error_until; }
static uint64_t dkey(const struct member *m) { return m->dl; }
static uint64_t ckey(const struct member *m) { return m->hc_at; }

static size_t *eidx(struct member *m) { return &m->eidx; }
static size_t *didx(struct member *m) { return &m->didx; }
static size_t *cidx(struct member *m) { return &m->cidx; }

struct hk {
    uint64_t (*key)(const struct member *);
    size_t *(*idx)(struct member *);
};
static const struct hk EH = {ekey, eidx};
static const struct hk DH = {dkey, didx};
static const struct hk CH = {ckey, cidx};

static void mh_swap(const struct hk *k, struct mheap *h, size_t i, size_t j)
{
    struct member *t = h->h[i];
    h->h[i] = h->h[j];
    h->h[j] = t;
    *k->idx(h->h[i]) = i;
    *k->idx(h->h[j]) = j;
}

static void mh_fix(const struct hk *k, struct mheap *h, size_t i)
{
    while (i > 0 && k->key(h->h[i]) < k->key(h->h[(i - 1) / 2])) {
        mh_swap(k, h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < h->n && k->key(h->h[l]) < k->key(h->h[s]))
            s = l;
        if (r < h->n && k->key(h->h[r]) < k->key(h->h[s]))
            s = r;
        if (s == i)
            break;
        mh_swap(k, h, i, s);
        i = s;
    }
}

/* Capacity must have been reserved. */
static void mh_insert(const struct hk *k, struct mheap *h, struct member *m)
{
    h->h[h->n] = m;
    *k->idx(m) = h->n;
    h->n++;
    mh_fix(k, h, h->n - 1);
}

static void mh_remove(const struct hk *k, struct mheap *h, struct member *m)
{
    size_t i = *k->idx(m);
    if (i == NPOS)
        return;
    h->n--;
    if (i != h->n) {
        h->h[i] = h->h[h->n];
        *k->idx(h->h[i]) = i;
        mh_fix(k, h, i);
    }
    *k->idx(m) = NPOS;
}

/* ------------------------------------------------------------------------ */
/* Tiers                                                                    */
/* ------------------------------------------------------------------------ */

static int usable(const struct member *m)
{
    return !m->removed && !(m->status & (FCGIC_MEMBER_DISABLED | FCGIC_MEMBER_ERROR | FCGIC_MEMBER_DRAIN |
                                         FCGIC_MEMBER_HCFAIL));
}

static struct tier *tier_get(struct fcgic_balancer *b, unsigned lbset, int standby, int create)
{
    size_t i = 0;
    for (; i < b->ntiers; i++) {
        struct tier *t = b->tiers[i];
        if (t->lbset == lbset && t->standby == standby)
            return t;
        if (t->lbset > lbset || (t->lbset == lbset && t->standby > standby))
            break;
    }
    if (!create)
        return NULL;
    if (fcgic__array_reserve(&b->a, &b->tiers, &b->tiercap, b->ntiers + 1, sizeof(*b->tiers), 4))
        return NULL;
    struct tier *t = fcgic__calloc(&b->a, 1, sizeof(*t));
    if (!t)
        return NULL;
    t->lbset = lbset;
    t->standby = standby;
    memmove(&b->tiers[i + 1], &b->tiers[i], (b->ntiers - i) * sizeof(*b->tiers));
    b->tiers[i] = t;
    b->ntiers++;
    return t;
}

static struct group *group_get(struct fcgic_balancer *b, struct tier *t, unsigned f)
{
    for (size_t i = 0; i < t->ng; i++)
        if (t->g[i].f == f)
            return &t->g[i];
    if (t->ng == t->gcap) {
        size_t nc = t->gcap ? t->gcap * 2 : 2;
        struct group *ng = fcgic__realloc(&b->a, t->g, t->gcap * sizeof(*ng), nc * sizeof(*ng));
        if (!ng)
            return NULL;
        for (size_t i = 0; i < t->ng; i++)
            for (size_t j = 0; j < ng[i].n; j++)
                ng[i].h[j]->grp = &ng[i];
        t->g = ng;
        t->gcap = nc;
    }
    struct group *g = &t->g[t->ng++];
    memset(g, 0, sizeof(*g));
    g->f = f;
    return g;
}

/* Put a usable member into its tier (allocations are reserved by add, so
 * only the first insertion into a new tier or group can fail). */
static int tier_insert(struct fcgic_balancer *b, struct member *m)
{
    struct tier *t = tier_get(b, m->lbset, (m->status & FCGIC_MEMBER_STANDBY) != 0, 1);
    if (!t)
        return FCGIC_E_NOMEM;
    struct group *g = group_get(b, t, m->lbfactor);
    if (!g)
        return FCGIC_E_NOMEM;
    if (fcgic__array_reserve(&b->a, &g->h, &g->cap, g->n + 1, sizeof(*g->h), 4))
        return FCGIC_E_NOMEM;
    m->lbstatus -= t->K * (long long)m->lbfactor;
    m->tier = t;
    m->grp = g;
    g->h[g->n] = m;
    m->hidx = g->n;
    g->n++;
    t->n++;
    t->total += m->lbfactor;
    g_up(b->o.method, g, m->hidx);
    return 0;
}

static void tier_remove(struct fcgic_balancer *b, struct member *m)
{
    struct tier *t = m->tier;
    if (!t)
        return;
    struct group *g = m->grp;
    size_t i = m->hidx;
    m->lbstatus += t->K * (long long)m->lbfactor;
    m->tier = NULL;
    m->grp = NULL;
    g->n--;
    if (i != g->n) {
        g->h[i] = g->h[g->n];
        g->h[i]->hidx = i;
        g_fix(b->o.method, g, i);
    }
    t->n--;
    t->total -= m->lbfactor;
}

/* Bring the member's heap membership in line with its flags. */
static int member_sync(struct fcgic_balancer *b, struct member *m)
{
    if (m->tier) {
        int standby = (m->status & FCGIC_MEMBER_STANDBY) != 0;
        if (usable(m) && m->tier->standby == standby && m->tier->lbset == m->lbset && m->grp->f == m->lbfactor)
            return 0;
        tier_remove(b, m);
    }
    if (usable(m))
        return tier_insert(b, m);
    return 0;
}

/* Position changed (busy or traffic): re-heap. */
static void member_reorder(struct fcgic_balancer *b, struct member *m)
{
    if (m->tier && b->o.method != FCGIC_LB_BYREQUESTS)
        g_fix(b->o.method, m->grp, m->hidx);
}

static void emit(struct fcgic_balancer *b, struct member *m, enum fcgic_event_kind kind, int err, int sys_errno,
                 unsigned old, unsigned new_status, uint64_t now)
{
    if (!b->cb.on_event)
        return;
    struct fcgic_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.target = fcgic_pool_target(m->pool);
    ev.member = m->id;
    ev.error = err;
    ev.old_status = old;
    ev.new_status = new_status;
    ev.now = now;
    ev.sys_errno = sys_errno;
    b->cb_depth++;
    b->cb.on_event(b->ud, &ev);
    b->cb_depth--;
}

static void emit_state(struct fcgic_balancer *b, struct member *m, unsigned old, int err, int sys_errno, uint64_t now)
{
    if (old != m->status)
        emit(b, m, FCGIC_EVENT_MEMBER_STATE, err, sys_errno, old, m->status, now);
}

/* The deadline may have changed: on_timer when it differs from the one
 * reported last. */
static void bal_wake(struct fcgic_balancer *b)
{
    if (!b->cb.on_timer || b->closing)
        return;
    uint64_t d = fcgic_balancer_deadline(b);
    if (b->timer_known && d == b->reported_dl)
        return;
    b->timer_known = 1;
    b->reported_dl = d;
    b->cb_depth++;
    b->cb.on_timer(b->ud, d);
    b->cb_depth--;
}

static uint64_t recovery_interval(const struct fcgic_balancer *b)
{
    uint64_t iv = b->o.recovery_interval_ns ? b->o.recovery_interval_ns : DEFAULT_RECOVERY_NS;
    return iv == FCGIC_RETRY_IMMEDIATE ? 0 : iv;
}

/* Put m in error for `r` (FCGIC_RETRY_IMMEDIATE: 0). */
static void set_error_for(struct fcgic_balancer *b, struct member *m, int err, int sys_errno, uint64_t r,
                          uint64_t now)
{
    if (m->status & FCGIC_MEMBER_ERROR)
        return;
    unsigned old = m->status;
    m->status |= FCGIC_MEMBER_ERROR;
    if (!(old & FCGIC_MEMBER_HCFAIL))
        m->errors++;
    m->hc_pass_run = 0; /* health checks must pass anew to end it early */
    b->nerror++;
    if (b->nerror == b->nmembers) /* all down: the next forced recovery waits */
        b->force_at = fcgic__add_sat(now, recovery_interval(b));
    if (r == FCGIC_RETRY_IMMEDIATE)
        r = 0;
    m->error_until = fcgic__add_sat(now, r);
    tier_remove(b, m);
    mh_insert(&EH, &b->eheap, m); /* reserved at add */
    emit_state(b, m, old, err, sys_errno, now);
}

static void set_error(struct fcgic_balancer *b, struct member *m, int err, int sys_errno, uint64_t now)
{
    set_error_for(b, m, err, sys_errno, m->retry_ns, now);
}

/* Take ERROR (and, when clear_hc, HCFAIL) away, without an event. */
static void clear_bits(struct fcgic_balancer *b, struct member *m, int clear_hc)
{
    unsigned bits = FCGIC_MEMBER_ERROR | (clear_hc ? FCGIC_MEMBER_HCFAIL : 0u);
    if (!(m->status & bits))
        return;
    if (m->status & FCGIC_MEMBER_ERROR) {
        b->nerror--;
        mh_remove(&EH, &b->eheap, m);
    }
    m->status &= ~bits;
    if (!(m->status & (FCGIC_MEMBER_ERROR | FCGIC_MEMBER_HCFAIL)))
        m->recoveries++;
    (void)member_sync(b, m); /* space was reserved: cannot fail for a known tier */
}

static void clear_error(struct fcgic_balancer *b, struct member *m, int clear_hc, uint64_t now)
{
    unsigned old = m->status;
    clear_bits(b, m, clear_hc);
    emit_state(b, m, old, 0, 0, now);
}

/* Members whose retry time passed (Apache: now > error_time + retry), and
 * forced recovery when every member is in error: at most once per
 * recovery interval, so that requests while everything is down cost no
 * connection attempts (Apache forces it for every request). */
static void recover(struct fcgic_balancer *b, uint64_t now)
{
    while (b->eheap.n && b->eheap.h[0]->error_until < now)
        clear_error(b, b->eheap.h[0], 0, now);
    if (!b->o.no_force_recovery && b->nmembers > 0 && b->nerror == b->nmembers && now >= b->force_at) {
        b->force_at = fcgic__add_sat(now, recovery_interval(b));
        for (struct member *m = b->head; m; m = m->next)
            if (!m->removed)
                clear_error(b, m, 0, now);
    }
}

static struct member *pick(struct fcgic_balancer *b, uint64_t now)
{
    recover(b, now);
    for (size_t i = 0; i < b->ntiers; i++) {
        struct tier *t = b->tiers[i];
        if (t->n == 0)
            continue;
        if (b->o.method != FCGIC_LB_BYTRAFFIC)
            t->K++;
        struct member *best = NULL;
        for (size_t j = 0; j < t->ng; j++) {
            struct group *g = &t->g[j];
            if (g->n && (!best || better(b->o.method, g->h[0], best)))
                best = g->h[0];
        }
        if (!best)
            continue; /* cannot happen: t->n > 0 */
        if (b->o.method != FCGIC_LB_BYTRAFFIC) {
            best->lbstatus -= t->total;
            g_down(b->o.method, best->grp, best->hidx);
        }
        best->elected++;
        return best;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Member pools                                                             */
/* ------------------------------------------------------------------------ */

static struct member *by_id(const struct fcgic_balancer *b, unsigned id)
{
    if (id == 0 || id > b->nslots)
        return NULL;
    return b->slots[id - 1];
}

static void probe_unlink(struct fcgic_balancer *b, struct member *m)
{
    if (!m->probing)
        return;
    if (m->pprev)
        m->pprev->pnext = m->pnext;
    else
        b->probing = m->pnext;
    if (m->pnext)
        m->pnext->pprev = m->pprev;
    m->pprev = m->pnext = NULL;
    m->probing = 0;
}

static void probe_link(struct fcgic_balancer *b, struct member *m)
{
    m->pprev = NULL;
    m->pnext = b->probing;
    if (b->probing)
        b->probing->pprev = m;
    b->probing = m;
    m->probing = 1;
}

/* No more health checks for m (removed, or the balancer goes away). */
static void health_stop(struct fcgic_balancer *b, struct member *m)
{
    if (!m->hc_on)
        return;
    probe_unlink(b, m);
    fcgic__probe_close(&m->probe, &b->tr);
    mh_remove(&CH, &b->hheap, m);
}

static void member_free(struct fcgic_balancer *b, struct member *m)
{
    health_stop(b, m);
    tier_remove(b, m);
    mh_remove(&EH, &b->eheap, m);
    mh_remove(&DH, &b->dheap, m);
    if (m->prev)
        m->prev->next = m->next;
    else
        b->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        b->tail = m->prev;
    b->slots[m->id - 1] = NULL;
    fcgic_pool_free(m->pool);
    fcgic__hc_free(&m->hc, &b->a);
    fcgic__mparams_free(&m->mp, &b->a);
    fcgic__free(&b->a, m);
}

/* Make sure a member with these parameters can always enter its group
 * without allocating (so recovery never fails). */
static int assign(struct fcgic_balancer *b, unsigned lbset, int standby, unsigned f)
{
    struct tier *t = tier_get(b, lbset, standby, 1);
    if (!t)
        return FCGIC_E_NOMEM;
    struct group *g = group_get(b, t, f);
    if (!g)
        return FCGIC_E_NOMEM;
    if (fcgic__array_reserve(&b->a, &g->h, &g->cap, g->assigned + 1, sizeof(*g->h), 4))
        return FCGIC_E_NOMEM;
    g->assigned++;
    return 0;
}

static void unassign(struct fcgic_balancer *b, unsigned lbset, int standby, unsigned f)
{
    struct tier *t = tier_get(b, lbset, standby, 0);
    if (!t)
        return;
    for (size_t i = 0; i < t->ng; i++)
        if (t->g[i].f == f && t->g[i].assigned)
            t->g[i].assigned--;
}

static int reserve_heaps(struct fcgic_balancer *b, size_t need)
{
    struct mheap *hs[3] = {&b->eheap, &b->dheap, &b->hheap};
    for (int i = 0; i < 3; i++) {
        struct mheap *h = hs[i];
        if (h->cap >= need)
            continue;
        size_t nc = h->cap ? h->cap : 8;
        while (nc < need)
            nc *= 2;
        struct member **nh = fcgic__realloc(&b->a, h->h, h->cap * sizeof(*nh), nc * sizeof(*nh));
        if (!nh)
            return FCGIC_E_NOMEM;
        h->h = nh;
        h->cap = nc;
    }
    return 0;
}

/* The member's pool deadline may have changed. */
static void pool_wake(void *owner, struct fcgic_pool *p)
{
    struct member *m = owner;
    struct fcgic_balancer *b = m->b;
    if (b->closing)
        return;
    uint64_t d = fcgic_pool_deadline(p);
    if (d == m->dl && (m->didx != NPOS) == (d != FCGIC_NO_DEADLINE)) {
        bal_wake(b);
        return;
    }
    m->dl = d;
    if (d == FCGIC_NO_DEADLINE) {
        mh_remove(&DH, &b->dheap, m);
    } else if (m->didx == NPOS) {
        mh_insert(&DH, &b->dheap, m); /* reserved at add */
    } else {
        mh_fix(&DH, &b->dheap, m->didx);
    }
    bal_wake(b);
}

/* ------------------------------------------------------------------------ */
/* Health checks                                                            */
/* ------------------------------------------------------------------------ */

static void hc_set_at(struct fcgic_balancer *b, struct member *m, uint64_t at)
{
    m->hc_at = at;
    if (m->cidx != NPOS)
        mh_fix(&CH, &b->hheap, m->cidx);
}

/* The probe has its verdict (called from inside its connection's callback,
 * or from fcgic__probe_poll()): due at once. */
static void probe_done(void *owner)
{
    struct member *m = owner;
    hc_set_at(m->b, m, 0);
    bal_wake(m->b);
}

/* Count a probe's outcome, move the member between healthy and HCFAIL, and
 * tell the embedder: FCGIC_EVENT_HEALTH, then MEMBER_STATE on a change. */
static void hc_result(struct fcgic_balancer *b, struct member *m, int err, int sys_errno, unsigned http_status,
                      uint64_t now)
{
    unsigned old = m->status;
    m->hc_checks++;
    m->hc_last_error = err;
    m->hc_last_status = http_status;
    if (err == 0) {
        m->hc_fail_run = 0;
        m->hc_pass_run++;
        unsigned need = m->hc_first ? m->hc_first : m->hc.passes;
        if ((m->status & (FCGIC_MEMBER_HCFAIL | FCGIC_MEMBER_ERROR)) && m->hc_pass_run >= need) {
            m->hc_first = 0;
            clear_bits(b, m, 1);
        }
    } else {
        m->hc_failures++;
        m->hc_pass_run = 0;
        m->hc_fail_run++;
        if (!(m->status & FCGIC_MEMBER_HCFAIL) && m->hc_fail_run >= m->hc.fails) {
            m->status |= FCGIC_MEMBER_HCFAIL;
            if (!(old & FCGIC_MEMBER_ERROR))
                m->errors++;
            (void)member_sync(b, m); /* leaves its tier: cannot fail */
        }
    }
    unsigned now_status = m->status;
    emit(b, m, FCGIC_EVENT_HEALTH, err, sys_errno, http_status, now_status, now);
    if (old != now_status)
        emit(b, m, FCGIC_EVENT_MEMBER_STATE, err, sys_errno, old, now_status, now);
}

static void hc_start(struct fcgic_balancer *b, struct member *m, uint64_t now)
{
    int rc = fcgic__probe_start(&m->probe, &b->tr, fcgic_pool_target(m->pool), &b->a.m, now);
    if (rc == 0) {
        probe_link(b, m);
        hc_set_at(b, m, m->probe.state == FCGIC__PROBE_DONE ? 0 : fcgic__add_sat(now, m->hc.timeout));
        return;
    }
    hc_set_at(b, m, fcgic__add_sat(now, m->hc.interval));
    /* Running out of memory here says nothing about the backend. */
    if (rc != FCGIC_E_NOMEM)
        hc_result(b, m, rc, m->probe.sys_errno, 0, now);
}

/* Start due probes, end late ones, apply verdicts. */
static void hc_run(struct fcgic_balancer *b, uint64_t now)
{
    for (struct member *m = b->probing; m; m = m->pnext)
        fcgic__probe_poll(&m->probe);
    /* Each due member once per tick, as for pools. */
    size_t rounds = b->hheap.n;
    while (rounds-- && b->hheap.n && b->hheap.h[0]->hc_at <= now) {
        struct member *m = b->hheap.h[0];
        if (m->probe.state == FCGIC__PROBE_IDLE) {
            hc_start(b, m, now);
            continue;
        }
        int err = m->probe.state == FCGIC__PROBE_DONE ? m->probe.error : FCGIC_E_TIMEOUT;
        int se = m->probe.state == FCGIC__PROBE_DONE ? m->probe.sys_errno : 0;
        unsigned status = m->probe.status;
        uint64_t next = fcgic__add_sat(m->probe.started, m->hc.interval);
        probe_unlink(b, m);
        fcgic__probe_close(&m->probe, &b->tr);
        hc_set_at(b, m, next > now ? next : now);
        if (err != FCGIC_E_NOMEM) /* our memory, not the backend's health */
            hc_result(b, m, err, se, status, now);
    }
}

/* ------------------------------------------------------------------------ */
/* Request callbacks given to member pools                                  */
/* ------------------------------------------------------------------------ */

static int bcb_head(void *req_ud, const struct fcgic_response_head *head)
{
    struct fcgic_balancer_req *r = req_ud;
    return r->b->cb.on_head ? r->b->cb.on_head(r->ud, head) : 0;
}

static int bcb_body(void *req_ud, const char *data, size_t len)
{
    struct fcgic_balancer_req *r = req_ud;
    return r->b->cb.on_body ? r->b->cb.on_body(r->ud, data, len) : 0;
}

static void bcb_flush(void *req_ud)
{
    struct fcgic_balancer_req *r = req_ud;
    r->b->cb.on_flush(r->ud);
}

static int bcb_stderr(void *req_ud, const char *line, size_t len)
{
    struct fcgic_balancer_req *r = req_ud;
    return r->b->cb.on_stderr ? r->b->cb.on_stderr(r->ud, line, len) : 0;
}

static int bcb_body_read(void *req_ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct fcgic_balancer_req *r = req_ud;
    return r->b->cb.body_read ? r->b->cb.body_read(r->ud, stream, chunk) : -1;
}

static void bcb_event(void *ud, const struct fcgic_event *ev)
{
    struct fcgic_balancer *b = ud;
    if (b->cb.on_event)
        b->cb.on_event(b->ud, ev);
}

static void breq_unlink(struct fcgic_balancer *b, struct fcgic_balancer_req *r)
{
    if (r->lprev)
        r->lprev->lnext = r->lnext;
    else
        b->live = r->lnext;
    if (r->lnext)
        r->lnext->lprev = r->lprev;
    r->lprev = r->lnext = NULL;
}

/* Free a request already taken off the live list. */
static void breq_release(struct fcgic_balancer *b, struct fcgic_balancer_req *r)
{
    fcgic__keep_free(&r->keep, &b->a);
    fcgic__free(&b->a, (void *)r->mparams);
    fcgic__free(&b->a, (void *)r->req.params);
    fcgic__free(&b->a, r);
}

static void breq_free(struct fcgic_balancer *b, struct fcgic_balancer_req *r)
{
    breq_unlink(b, r);
    breq_release(b, r);
}

/* Deliver on_end and free the request: the handle stays valid (r->m and
 * r->pr NULL) until on_end returns. */
static void breq_finish(struct fcgic_balancer *b, struct fcgic_balancer_req *r, const struct fcgic_result *res)
{
    struct fcgic_result out = *res;
    out.retries = r->retries;
    if (res->error == FCGIC_E_BAL_ALL_DOWN)
        b->all_down++;
    fcgic__ends_add(&b->ended, res, b->now > r->submitted ? b->now - r->submitted : 0);
    r->m = NULL;
    r->pr = NULL;
    breq_unlink(b, r);
    b->cb_depth++;
    if (b->cb.on_end)
        b->cb.on_end(r->ud, &out);
    b->cb_depth--;
    breq_release(b, r);
}

/* End r from the next tick, not from inside the call running now (submit,
 * or a member pool's callback): the embedder learns that no member was
 * left in one way, through on_end, never inside fcgic_balancer_submit(). */
static void breq_defer_end(struct fcgic_balancer *b, struct fcgic_balancer_req *r, const struct fcgic_result *res)
{
    r->res = *res;
    r->m = NULL;
    r->pr = NULL;
    r->dnext = NULL;
    if (!b->ends_tail)
        b->ends_tail = &b->ends;
    *b->ends_tail = r;
    b->ends_tail = &r->dnext;
    bal_wake(b);
}

static void deliver_ends(struct fcgic_balancer *b)
{
    struct fcgic_balancer_req *r = b->ends;
    b->ends = NULL;
    b->ends_tail = &b->ends;
    while (r && !b->closing) {
        struct fcgic_balancer_req *next = r->dnext;
        struct fcgic_result res = r->res;
        breq_finish(b, r, &res);
        r = next;
    }
}

static void count_failover(struct fcgic_balancer *b, struct member *m)
{
    m->failovers++;
    b->failovers++;
}

static void member_busy(struct fcgic_balancer *b, struct member *m, int delta)
{
    m->busy = (unsigned)((int)m->busy + delta);
    member_reorder(b, m);
    if (m->removed && m->busy == 0)
        b->reap = 1;
}

/* Submit r to m's pool with the params m sends (member options version 2);
 * the ones built for the member before are no longer borrowed by anyone. */
static int submit_to(struct fcgic_balancer_req *r, struct member *m, uint64_t now)
{
    struct fcgic_balancer *b = r->b;
    struct fcgic_request mreq = r->req;
    fcgic__free(&b->a, (void *)r->mparams);
    r->mparams = NULL;
    if (fcgic__mparams_active(&m->mp)) {
        int rc = fcgic__mparams_build(&m->mp, &b->a, r->req.params, r->req.nparams, &r->mparams, &mreq.nparams);
        if (rc != 0)
            return rc;
        mreq.params = r->mparams;
    }
    return fcgic__pool_submit_keep(m->pool, &mreq, r, &r->keep, &r->pr, now);
}

/* Run r on a member chosen now; members that refuse at once are put in
 * error and the next one is tried. Returns 0, FCGIC_E_BAL_ALL_DOWN, or a
 * pool error that is not about connecting. */
static int dispatch(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now)
{
    for (;;) {
        if (r->attempts > r->max_attempts)
            return FCGIC_E_BAL_ALL_DOWN;
        struct member *m = pick(b, now);
        if (!m)
            return FCGIC_E_BAL_ALL_DOWN;
        r->attempts++;
        r->m = m;
        member_busy(b, m, +1);
        r->keep.pos[0] = r->keep.pos[1] = 0;
        /* The streamed body is kept up to this member's replay_max. */
        r->keep.max = fcgic__pool_replay_max(m->pool);
        int rc = submit_to(r, m, now);
        if (rc == 0)
            return 0;
        member_busy(b, m, -1);
        r->m = NULL;
        if (!fcgic__is_connect_error(rc))
            return rc;
        int se = fcgic_pool_last_errno(m->pool);
        r->sys_errno = se;
        set_error(b, m, rc, se, now);
        count_failover(b, m);
        emit(b, m, FCGIC_EVENT_FAILOVER, rc, se, 0, 0, now);
    }
}

/* Did the application refuse the request without acting on it? END_REQUEST
 * with OVERLOADED or CANT_MPX_CONN and no output (the engine may report the
 * missing CGI header block as an error: no matter). */
static int refused(const struct fcgic_result *res)
{
    return res->got_end_request && !res->response_started &&
           (res->protocol_status == FCGIC_OVERLOADED || res->protocol_status == FCGIC_CANT_MPX_CONN);
}

/* Did the connection break under the request before any answer (the
 * application died or reset it)? */
static int broke(const struct fcgic_result *res)
{
    return !res->got_end_request && !res->response_started &&
           (res->error == FCGIC_E_PEER_CLOSED || res->error == FCGIC_E_IO || res->error == FCGIC_E_CONN_FAILED);
}

/* Should r, which ended with res on m, move to another member? */
static int wants_failover(const struct fcgic_balancer *b, const struct fcgic_balancer_req *r,
                          const struct fcgic_result *res)
{
    if (b->closing || res->aborted || r->aborted || res->response_started)
        return 0;
    if (refused(res)) /* nothing was done: safe for any method */
        return r->req.retry != FCGIC_RETRY_NEVER;
    return (fcgic__is_connect_error(res->error) || broke(res)) && fcgic__may_retry(r->req.retry, r->idempotent, res);
}

static void bcb_end(void *req_ud, const struct fcgic_result *res)
{
    struct fcgic_balancer_req *r = req_ud;
    struct fcgic_balancer *b = r->b;
    struct member *m = r->m;
    r->pr = NULL;
    r->retries += res->retries;
    if (m)
        b->now = fcgic__pool_now(m->pool);
    if (m) {
        m->transferred += res->stdin_bytes + res->data_bytes;
        m->read += res->stdout_bytes + res->stderr_bytes;
        member_busy(b, m, -1);
    }
    r->m = NULL;
    if (!m || !wants_failover(b, r, res)) {
        breq_finish(b, r, res);
        return;
    }
    /* The time of the connection event that ended it, not of whatever call
     * the balancer saw last. */
    uint64_t now = fcgic__pool_now(m->pool);
    int why = res->error;
    if (refused(res)) {
        why = FCGIC_E_BUSY;
        /* out of workers: leave it alone for a short while */
        if (res->protocol_status == FCGIC_OVERLOADED)
            set_error_for(b, m, why, 0, m->busy_retry_ns, now);
    } else if (broke(res)) {
        /* maybe dead, maybe one worker crashed: not picked again for this
         * request nor for a short while; a dead one's next connect fails */
        set_error_for(b, m, why, res->sys_errno, m->busy_retry_ns, now);
    } else {
        set_error(b, m, why, res->sys_errno, now);
    }
    r->sys_errno = res->sys_errno;
    count_failover(b, m);
    emit(b, m, FCGIC_EVENT_FAILOVER, why, res->sys_errno, 0, 0, now);
    if (!fcgic__keep_replayable(&r->keep, &r->req)) {
        breq_finish(b, r, res);
        return;
    }
    r->retries++;
    int rc = dispatch(b, r, now);
    if (rc == 0)
        return;
    struct fcgic_result out = *res;
    if (rc == FCGIC_E_BAL_ALL_DOWN && (refused(res) || broke(res))) {
        breq_finish(b, r, &out); /* no other member: what happened on this one */
        return;
    }
    memset(&out, 0, sizeof(out));
    out.error = rc;
    out.sys_errno = r->sys_errno;
    out.request_written = res->request_written;
    if (rc == FCGIC_E_BAL_ALL_DOWN)
        breq_defer_end(b, r, &out);
    else
        breq_finish(b, r, &out);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

int fcgic_balancer_new(struct fcgic_balancer **out, const struct fcgic_balancer_options *opts,
                       const struct fcgic_transport *transport, const struct fcgic_pool_callbacks *cb, void *ud,
                       const struct fcgic_mem *mem)
{
    if (!out)
        return FCGIC_E_INVAL;
    *out = NULL;
    if (!transport || !transport->open || !transport->kick || !transport->close ||
        !fcgic__pool_callbacks_size(cb) || !fcgic__struct_version(transport->version, FCGIC_TRANSPORT_VERSION))
        return FCGIC_E_INVAL;
    if (opts && (!fcgic__struct_version(opts->version, FCGIC_BALANCER_OPTIONS_VERSION) ||
                 (unsigned)opts->method > FCGIC_LB_BYTRAFFIC))
        return FCGIC_E_INVAL;
    struct fcgic_balancer *b = fcgic__object_new(mem, sizeof(*b));
    if (!b)
        return FCGIC_E_NOMEM;
    if (opts)
        b->o = *opts;
    b->tr = *transport;
    fcgic__copy_grown(&b->cb, sizeof(b->cb), cb, fcgic__pool_callbacks_size(cb));
    b->ud = ud;
    b->pcb.version = FCGIC_POOL_CALLBACKS_VERSION;
    b->pcb.on_head = bcb_head;
    b->pcb.on_body = bcb_body;
    b->pcb.on_flush = b->cb.on_flush ? bcb_flush : NULL;
    b->pcb.on_stderr = bcb_stderr;
    b->pcb.on_end = bcb_end;
    b->pcb.body_read = bcb_body_read;
    b->pcb.on_event = bcb_event;
    *out = b;
    return 0;
}

void fcgic_balancer_free(struct fcgic_balancer *b)
{
    if (!b)
        return;
    b->closing = 1;
    b->ends = NULL; /* they are on the live list too: ended below */
    b->ends_tail = NULL;
    /* Probes first, then every member's pool: each pool ends its requests
     * (bcb_end passes FCGIC_E_POOL_CLOSED on to the embedder). */
    for (struct member *m = b->head; m; m = m->next)
        health_stop(b, m);
    for (struct member *m = b->head; m; m = m->next) {
        struct fcgic_pool *p = m->pool;
        fcgic_pool_free(p);
        m->pool = NULL;
    }
    /* Requests between members cannot exist outside a call; be safe. */
    while (b->live) {
        struct fcgic_result res;
        memset(&res, 0, sizeof(res));
        res.error = FCGIC_E_POOL_CLOSED;
        breq_finish(b, b->live, &res);
    }
    while (b->head) {
        struct member *m = b->head;
        b->head = m->next;
        fcgic__hc_free(&m->hc, &b->a);
        fcgic__mparams_free(&m->mp, &b->a);
        fcgic__free(&b->a, m);
    }
    for (size_t i = 0; i < b->ntiers; i++) {
        for (size_t j = 0; j < b->tiers[i]->ng; j++)
            fcgic__free(&b->a, b->tiers[i]->g[j].h);
        fcgic__free(&b->a, b->tiers[i]->g);
        fcgic__free(&b->a, b->tiers[i]);
    }
    fcgic__free(&b->a, b->tiers);
    fcgic__free(&b->a, b->eheap.h);
    fcgic__free(&b->a, b->dheap.h);
    fcgic__free(&b->a, b->hheap.h);
    fcgic__free(&b->a, b->slots);
    fcgic__free(&b->a, b);
}

/* Bytes of struct fcgic_member_options in the given version, 0 if unknown. */
static size_t member_options_size(unsigned version)
{
    switch (fcgic__struct_version(version, FCGIC_MEMBER_OPTIONS_VERSION)) {
    case 1: return offsetof(struct fcgic_member_options, params);
    case 2: return sizeof(struct fcgic_member_options);
    default: return 0;
    }
}

int fcgic_balancer_add(struct fcgic_balancer *b, const struct fcgic_member_options *opts, unsigned *id,
                       uint64_t now)
{
    if (id)
        *id = 0;
    if (!b || !opts)
        return FCGIC_E_INVAL;
    if (b->closing)
        return FCGIC_E_POOL_CLOSED;
    size_t osize = member_options_size(opts->version);
    if (!osize || !fcgic__struct_version(opts->pool.version, FCGIC_POOL_OPTIONS_VERSION))
        return FCGIC_E_INVAL;
    struct fcgic_member_options grown; /* members opts lacks read as 0 */
    fcgic__copy_grown(&grown, sizeof(grown), opts, osize);
    opts = &grown;
    if (opts->status & ~(FCGIC_MEMBER_DISABLED | FCGIC_MEMBER_STANDBY | FCGIC_MEMBER_DRAIN))
        return FCGIC_E_INVAL;
    if ((unsigned)opts->hc_init > FCGIC_HC_INIT_FULLY_DOWN || (opts->hc_init && !opts->hc_interval_ns))
        return FCGIC_E_INVAL;
    unsigned f = opts->lbfactor ? opts->lbfactor : 1;
    if (f > MAX_LBFACTOR || opts->lbset > MAX_LBSET)
        return FCGIC_E_RANGE;
    if (b->nslots >= 0xfffffffeu)
        return FCGIC_E_RANGE;
    if (fcgic__array_reserve(&b->a, &b->slots, &b->slotcap, (size_t)b->nslots + 1, sizeof(*b->slots), 8))
        return FCGIC_E_NOMEM;
    size_t live = 1;
    for (size_t i = 0; i < b->ntiers; i++)
        for (size_t j = 0; j < b->tiers[i]->ng; j++)
            live += b->tiers[i]->g[j].assigned;
    int rc = reserve_heaps(b, live + 1);
    if (rc != 0)
        return rc;
    struct member *m = fcgic__calloc(&b->a, 1, sizeof(*m));
    if (!m)
        return FCGIC_E_NOMEM;
    m->b = b;
    m->lbfactor = f;
    m->lbset = opts->lbset;
    m->status = opts->status;
    m->retry_ns = opts->retry_ns ? opts->retry_ns : DEFAULT_RETRY_NS;
    m->busy_retry_ns = opts->busy_retry_ns ? opts->busy_retry_ns : DEFAULT_BUSY_RETRY_NS;
    m->eidx = m->didx = m->cidx = NPOS;
    m->dl = FCGIC_NO_DEADLINE;
    if (opts->hc_interval_ns) {
        rc = fcgic__hc_init(&m->hc, &b->a, opts);
        if (rc != 0) {
            fcgic__free(&b->a, m);
            return rc;
        }
        m->hc_on = 1;
        if (opts->hc_init != FCGIC_HC_INIT_UP) {
            /* not chosen before its first probe(s) passed */
            m->status |= FCGIC_MEMBER_HCFAIL;
            m->hc_first = opts->hc_init == FCGIC_HC_INIT_DOWN ? 1 : m->hc.passes;
        }
        m->probe.hc = &m->hc;
        m->probe.done = probe_done;
        m->probe.owner = m;
    }
    rc = fcgic__mparams_init(&m->mp, &b->a, opts);
    if (rc == 0)
        rc = assign(b, m->lbset, (m->status & FCGIC_MEMBER_STANDBY) != 0, f);
    if (rc != 0) {
        fcgic__mparams_free(&m->mp, &b->a);
        fcgic__hc_free(&m->hc, &b->a);
        fcgic__free(&b->a, m);
        return rc;
    }
    rc = fcgic_pool_new(&m->pool, &opts->pool, &b->tr, &b->pcb, b, &b->a.m);
    if (rc != 0) {
        unassign(b, m->lbset, (m->status & FCGIC_MEMBER_STANDBY) != 0, f);
        fcgic__mparams_free(&m->mp, &b->a);
        fcgic__hc_free(&m->hc, &b->a);
        fcgic__free(&b->a, m);
        return rc;
    }
    m->id = (unsigned)b->nslots + 1;
    m->seq = b->next_seq++;
    struct fcgic__pool_owner o = {pool_wake, m, m->id};
    fcgic__pool_set_owner(m->pool, &o);
    b->slots[b->nslots++] = m;
    m->prev = b->tail;
    if (b->tail)
        b->tail->next = m;
    else
        b->head = m;
    b->tail = m;
    b->nmembers++;
    (void)member_sync(b, m); /* the group was reserved by assign() */
    if (m->hc_on) {
        m->hc_at = now; /* first probe at once */
        mh_insert(&CH, &b->hheap, m); /* reserved above */
    }
    if (id)
        *id = m->id;
    bal_wake(b);
    return 0;
}

int fcgic_balancer_remove(struct fcgic_balancer *b, unsigned id, uint64_t now)
{
    if (b && b->closing)
        return FCGIC_E_POOL_CLOSED;
    struct member *m = b ? by_id(b, id) : NULL;
    if (!m || m->removed)
        return FCGIC_E_BAL_NO_MEMBER;
    m->removed = 1;
    b->nmembers--;
    if (m->status & FCGIC_MEMBER_ERROR)
        b->nerror--;
    health_stop(b, m);
    mh_remove(&EH, &b->eheap, m);
    tier_remove(b, m);
    unassign(b, m->lbset, (m->status & FCGIC_MEMBER_STANDBY) != 0, m->lbfactor);
    fcgic_pool_drain(m->pool, now);
    b->reap = 1;
    bal_wake(b);
    return 0;
}

int fcgic_balancer_set_status(struct fcgic_balancer *b, unsigned id, unsigned set, unsigned clear, uint64_t now)
{
    if (b && b->closing)
        return FCGIC_E_POOL_CLOSED;
    struct member *m = b ? by_id(b, id) : NULL;
    if (!m || m->removed)
        return FCGIC_E_BAL_NO_MEMBER;
    if ((set | clear) & ~STATUS_MASK)
        return FCGIC_E_INVAL;
    unsigned want = (m->status | set) & ~clear;
    int sb_old = (m->status & FCGIC_MEMBER_STANDBY) != 0, sb_new = (want & FCGIC_MEMBER_STANDBY) != 0;
    if (sb_old != sb_new) {
        int rc = assign(b, m->lbset, sb_new, m->lbfactor);
        if (rc != 0)
            return rc;
        unassign(b, m->lbset, sb_old, m->lbfactor);
    }
    if ((want ^ m->status) & FCGIC_MEMBER_HCFAIL) {
        /* by hand: the count toward the next change starts again */
        m->hc_fail_run = 0;
        m->hc_pass_run = 0;
        m->hc_first = 0;
    }
    if ((want & FCGIC_MEMBER_ERROR) && !(m->status & FCGIC_MEMBER_ERROR)) {
        m->status = (m->status & FCGIC_MEMBER_ERROR) | (want & ~FCGIC_MEMBER_ERROR);
        set_error(b, m, 0, 0, now);
        bal_wake(b);
        return 0;
    }
    if (!(want & FCGIC_MEMBER_ERROR) && (m->status & FCGIC_MEMBER_ERROR)) {
        m->status = FCGIC_MEMBER_ERROR | want;
        clear_error(b, m, 0, now);
        bal_wake(b);
        return 0;
    }
    unsigned old = m->status;
    m->status = want;
    (void)member_sync(b, m);
    emit_state(b, m, old, 0, 0, now);
    bal_wake(b);
    return 0;
}

int fcgic_balancer_set_lbfactor(struct fcgic_balancer *b, unsigned id, unsigned lbfactor)
{
    if (b && b->closing)
        return FCGIC_E_POOL_CLOSED;
    struct member *m = b ? by_id(b, id) : NULL;
    if (!m || m->removed)
        return FCGIC_E_BAL_NO_MEMBER;
    unsigned f = lbfactor ? lbfactor : 1;
    if (f > MAX_LBFACTOR)
        return FCGIC_E_RANGE;
    if (f == m->lbfactor)
        return 0;
    int sb = (m->status & FCGIC_MEMBER_STANDBY) != 0;
    int rc = assign(b, m->lbset, sb, f);
    if (rc != 0)
        return rc;
    unassign(b, m->lbset, sb, m->lbfactor);
    int in = m->tier != NULL;
    if (in)
        tier_remove(b, m);
    m->lbfactor = f;
    if (in)
        (void)tier_insert(b, m);
    return 0;
}

int fcgic_balancer_pick(struct fcgic_balancer *b, unsigned *id, uint64_t now)
{
    if (id)
        *id = 0;
    if (!b)
        return FCGIC_E_INVAL;
    if (b->closing)
        return FCGIC_E_POOL_CLOSED;
    struct member *m = pick(b, now);
    bal_wake(b); /* pick may have taken members out of error */
    if (!m)
        return FCGIC_E_BAL_ALL_DOWN;
    if (id)
        *id = m->id;
    return 0;
}

int fcgic_balancer_submit(struct fcgic_balancer *b, const struct fcgic_request *req, void *req_ud,
                          struct fcgic_balancer_req **handle, uint64_t now)
{
    if (handle)
        *handle = NULL;
    if (!b || !req || (unsigned)req->retry > FCGIC_RETRY_NEVER)
        return FCGIC_E_INVAL;
    if (b->closing)
        return FCGIC_E_POOL_CLOSED;
    struct fcgic_balancer_req *r = fcgic__calloc(&b->a, 1, sizeof(*r));
    if (!r)
        return FCGIC_E_NOMEM;
    r->b = b;
    r->ud = req_ud;
    r->req = *req;
    r->submitted = now;
    if (b->cb_depth == 0)
        b->now = now;
    /* The only copy of the params: member pools borrow it. */
    int rc = fcgic__copy_params(&b->a, req->params, req->nparams, &r->req.params);
    if (rc != 0) {
        fcgic__free(&b->a, r);
        return rc;
    }
    fcgic__keep_init(&r->keep, 1, 0); /* cap set per member by dispatch() */
    r->idempotent = fcgic__is_idempotent(r->req.params, r->req.nparams);
    r->lnext = b->live;
    if (b->live)
        b->live->lprev = r;
    b->live = r;
    r->max_attempts = b->o.max_attempts ? b->o.max_attempts : (unsigned)(b->nmembers ? b->nmembers - 1 : 0);
    /* Set before the request starts: it may end inside dispatch (a kick
     * that fails at once), and its on_end may clear *handle. */
    if (handle)
        *handle = r;
    rc = dispatch(b, r, now);
    if (rc == FCGIC_E_BAL_ALL_DOWN) {
        struct fcgic_result res;
        memset(&res, 0, sizeof(res));
        res.error = rc;
        res.sys_errno = r->sys_errno;
        breq_defer_end(b, r, &res);
        bal_wake(b);
        return 0;
    }
    if (rc != 0) {
        if (handle)
            *handle = NULL;
        breq_free(b, r);
        bal_wake(b);
        return rc;
    }
    bal_wake(b);
    return 0;
}

/* Take r off the list of ends waiting for a tick; 0 when it is not there. */
static int ends_remove(struct fcgic_balancer *b, struct fcgic_balancer_req *r)
{
    for (struct fcgic_balancer_req **pp = &b->ends; *pp; pp = &(*pp)->dnext) {
        if (*pp != r)
            continue;
        *pp = r->dnext;
        r->dnext = NULL;
        if (!*pp)
            b->ends_tail = pp;
        return 1;
    }
    return 0;
}

int fcgic_balancer_abort(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now)
{
    if (b && b->closing)
        return FCGIC_E_POOL_CLOSED;
    if (!b || !r || r->b != b)
        return FCGIC_E_INVAL;
    if (b->cb_depth == 0)
        b->now = now;
    if (!r->m && !r->pr && !r->aborted && ends_remove(b, r)) {
        /* its FCGIC_E_BAL_ALL_DOWN end waited for a tick: end it now */
        struct fcgic_result res;
        memset(&res, 0, sizeof(res));
        res.error = FCGIC_E_ABORTED;
        res.aborted = 1;
        r->aborted = 1;
        breq_finish(b, r, &res);
        bal_wake(b);
        return 0;
    }
    if (!r->m || !r->pr)
        return FCGIC_E_INVAL;
    r->aborted = 1;
    int rc = fcgic_pool_abort(r->m->pool, r->pr, now);
    bal_wake(b);
    return rc;
}

int fcgic_balancer_unpause(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now)
{
    if (b && b->closing)
        return FCGIC_E_POOL_CLOSED;
    if (!b || !r || r->b != b)
        return FCGIC_E_INVAL;
    if (!r->m || !r->pr)
        return 0; /* between members, or ending: nothing is paused */
    return fcgic_pool_unpause(r->m->pool, r->pr, now);
}

int fcgic_balancer_resume(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now)
{
    if (b && b->closing)
        return FCGIC_E_POOL_CLOSED;
    if (!b || !r || r->b != b || !r->m || !r->pr)
        return FCGIC_E_INVAL;
    return fcgic_pool_resume(r->m->pool, r->pr, now);
}

int fcgic_balancer_tick(struct fcgic_balancer *b, uint64_t now)
{
    if (!b)
        return FCGIC_E_INVAL;
    if (b->closing)
        return FCGIC_E_POOL_CLOSED;
    if (b->cb_depth)
        return FCGIC_E_REENTRANT;
    b->now = now;
    /* Each due pool once per tick (a pool that is due again waits for the
     * next tick, whose deadline is then "now"). */
    size_t rounds = b->dheap.n;
    while (rounds-- && b->dheap.n && b->dheap.h[0]->dl <= now) {
        struct member *m = b->dheap.h[0];
        int rc = fcgic_pool_tick(m->pool, now);
        if (rc != 0)
            return rc;
        pool_wake(m, m->pool);
        if (b->dheap.n && b->dheap.h[0] == m && m->dl <= now)
            break;
    }
    hc_run(b, now);
    recover(b, now);
    if (b->ends)
        deliver_ends(b);
    if (b->reap) {
        b->reap = 0;
        struct member *m = b->head;
        while (m) {
            struct member *next = m->next;
            if (m->removed && m->busy == 0 && fcgic__pool_busy(m->pool) == 0)
                member_free(b, m);
            else if (m->removed)
                b->reap = 1;
            m = next;
        }
    }
    b->timer_known = 0; /* the embedder's timer fired and is spent: re-arm it even for the same deadline */
    bal_wake(b);
    return 0;
}

uint64_t fcgic_balancer_deadline(const struct fcgic_balancer *b)
{
    if (!b || b->closing)
        return FCGIC_NO_DEADLINE;
    uint64_t d = FCGIC_NO_DEADLINE;
    if (b->ends)
        return 0;
    if (b->dheap.n)
        d = b->dheap.h[0]->dl;
    if (b->eheap.n && b->eheap.h[0]->error_until + 1 < d)
        d = b->eheap.h[0]->error_until + 1;
    if (b->hheap.n && b->hheap.h[0]->hc_at < d)
        d = b->hheap.h[0]->hc_at;
    for (const struct member *m = b->probing; m && d; m = m->pnext)
        if (fcgic__probe_stalled(&m->probe))
            d = 0;
    if (b->reap) {
        int any = 0;
        for (struct member *m = b->head; m && !any; m = m->next)
            any = m->removed && m->busy == 0 && fcgic__pool_busy(m->pool) == 0;
        if (any)
            d = 0;
    }
    return d;
}

static void fill_member_stats(const struct member *m, struct fcgic_member_stats *out)
{
    out->status = m->status;
    out->lbfactor = m->lbfactor;
    out->lbset = m->lbset;
    out->lbstatus = real_lbstatus(m);
    out->busy = m->busy;
    out->elected = m->elected;
    out->errors = m->errors;
    out->recoveries = m->recoveries;
    out->transferred = m->transferred;
    out->read = m->read;
    out->error_until = (m->status & FCGIC_MEMBER_ERROR) ? m->error_until : 0;
    if (m->hc_on) {
        out->hc_checks = m->hc_checks;
        out->hc_failures = m->hc_failures;
        out->hc_fail_run = m->hc_fail_run;
        out->hc_pass_run = m->hc_pass_run;
        out->hc_last_error = m->hc_last_error;
        out->hc_last_status = m->hc_last_status;
        out->hc_next = m->hc_at;
    }
    out->failovers = m->failovers;
}

static size_t member_stats_size(unsigned version)
{
    switch (fcgic__struct_version(version, FCGIC_MEMBER_STATS_VERSION)) {
    case 1: return sizeof(struct fcgic_member_stats);
    default: return 0;
    }
}

int fcgic_balancer_member_stats(const struct fcgic_balancer *b, unsigned id, struct fcgic_member_stats *out)
{
    const struct member *m = b ? by_id(b, id) : NULL;
    if (!m || m->removed || !out)
        return FCGIC_E_BAL_NO_MEMBER;
    size_t size = member_stats_size(out->version);
    if (!size)
        return FCGIC_E_INVAL;
    struct fcgic_member_stats st;
    memset(&st, 0, sizeof(st));
    st.version = out->version;
    st.pool.version = 1; /* the pool stats layout of member stats version 1 */
    (void)fcgic_pool_get_stats(m->pool, &st.pool);
    fill_member_stats(m, &st);
    memcpy(out, &st, size);
    return 0;
}

int fcgic_balancer_get_stats(const struct fcgic_balancer *b, struct fcgic_balancer_stats *out)
{
    if (!b || !out || fcgic__struct_version(out->version, FCGIC_BALANCER_STATS_VERSION) != 1)
        return FCGIC_E_INVAL;
    struct fcgic_balancer_stats st;
    memset(&st, 0, sizeof(st));
    st.version = out->version;
    st.members = (unsigned)b->nmembers;
    for (const struct fcgic_balancer_req *r = b->live; r; r = r->lnext)
        st.busy++;
    st.requests = fcgic__ends_total(&b->ended);
    memcpy(st.ends, b->ended.kind, sizeof(st.ends));
    st.failovers = b->failovers;
    st.all_down = b->all_down;
    fcgic__ends_cumulative(&b->ended, st.latency_le);
    st.latency_sum_ns = b->ended.sum_ns;
    *out = st;
    return 0;
}

size_t fcgic_balancer_count(const struct fcgic_balancer *b)
{
    return b ? b->nmembers : 0;
}
