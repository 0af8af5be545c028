/* Request-level connection pool for one backend. See include/fcgiclient/pool.h.
 *
 * Connections (struct pconn) sit on one list of all connections and, while
 * idle, on an idle list kept most-recently-used first: acquire takes the
 * head, ttl expiry looks at the tail. Work that must not happen inside an
 * engine callback (closing a connection, giving a connection that turned
 * idle to a queued request) is marked and done by process(), which runs
 * from fcgic_pool_tick() and at the start of fcgic_pool_submit(). wake()
 * tells the owner (a balancer) or the embedder's on_timer whenever the
 * deadline may have changed. */
#include <stddef.h>
#include <string.h>

#include "fcgiclient/error.h"
#include "fcgiclient/pool.h"
#include "pool_int.h"
#include "stats_int.h"
#include "util.h"

#define DEFAULT_MAX 64u
#define DEFAULT_QUEUE_MAX 1024u
#define DEFAULT_REPLAY_MAX (64u * 1024u)
#define UNPIN_NS 1000000000ull /* see unpin() */
#define SWEEP_NS 50000000ull   /* see close_dead_idle() */

enum rstate { R_QUEUED = 1, R_RUNNING, R_ENDED };

struct pconn {
    struct fcgic_conn *c;
    struct fcgic_pool *pool;
    struct pconn *prev, *next;         /* all connections */
    struct pconn *iprev, *inext;       /* idle list, MRU first */
    struct pconn *dnext;               /* dirty list */
    uint64_t idle_since;
    uint64_t started;                  /* when its latest request started */
    uint64_t nreq;                     /* requests started on it */
    unsigned active;                   /* our requests running on it */
    unsigned tried;                    /* try_start round in which it refused a request */
    unsigned idle : 1, dirty : 1, closing : 1, probing : 1;
    unsigned answered : 1;             /* a response byte arrived on it */
};

struct fcgic_pool_req {
    struct fcgic_pool *pool;
    void *ud;
    struct fcgic_request req;          /* params point into own memory */
    struct fcgic__keep *keep;
    struct fcgic__keep own_keep;
    struct pconn *pc;
    struct fcgic_pool_req *prev, *next; /* queue */
    struct fcgic_pool_req *lprev, *lnext; /* every live request */
    struct rqueue *inq;                /* queue it waits in, or NULL */
    uint64_t deadline;                 /* queue deadline or FCGIC_NO_DEADLINE */
    uint64_t submitted;                /* `now` of the submit (latency) */
    uint64_t queued_at;                /* when it entered the queue (waiting) */
    uint16_t id;
    unsigned retries;                  /* times it ran again (result.retries) */
    unsigned state : 2, retried : 1, on_kept : 1, fresh_only : 1, aborted : 1;
    unsigned borrowed : 1;             /* req.params belong to the submitter */
    unsigned idempotent : 1;           /* REQUEST_METHOD is idempotent */
    unsigned waiting : 1;              /* in the queue, its wait not yet counted */
};

struct rqueue {
    struct fcgic_pool_req *head, *tail;
    unsigned n;
};

struct fcgic_pool {
    struct fcgic__alloc a;
    struct fcgic_pool_options o;
    struct fcgic_conn_options copts;
    struct fcgic_transport tr;
    struct fcgic_pool_callbacks cb;
    struct fcgic_conn_callbacks ccb;
    void *ud;
    char *target;
    struct fcgic__pool_owner owner;

    struct pconn *all;
    struct fcgic_pool_req *live;
    struct pconn *idle_head, *idle_tail;
    struct pconn *dirty;
    unsigned nopen, nidle;
    unsigned nunanswered;              /* connections in `all` that never answered */
    uint64_t next_sweep;               /* close_dead_idle() not before */
    unsigned max, mpx;
    unsigned round;  /* try_start calls, to skip connections that refused */
    struct rqueue retry, queue;
    unsigned busy;
    int probe_state; /* 0 not yet, 1 in flight, 2 done */
    int draining;
    int closing;     /* fcgic_pool_free() runs */
    uint64_t now;    /* latest `now` given to a call */
    int pending;     /* deferred work waits */
    int cb_depth;
    struct fcgic_conn *cb_conn; /* connection whose callback is running */
    /* Inside on_end with reuse: the connection whose request just ended,
     * idle as soon as on_end returns; soon_taken once a request submitted
     * from that on_end waits for it. */
    struct pconn *soon;
    int soon_taken;
    int last_errno;             /* errno of the last open refused at once */
    uint64_t reported_dl;       /* last deadline given to on_timer */
    int timer_known;            /* reported_dl is valid */
    struct fcgic_pool_stats st;
    struct fcgic__ends ends;
};

/* ------------------------------------------------------------------------ */
/* Replay keep                                                              */
/* ------------------------------------------------------------------------ */

void fcgic__keep_init(struct fcgic__keep *k, int want, size_t max)
{
    memset(k, 0, sizeof(*k));
    k->want = want;
    k->max = max;
}

void fcgic__keep_free(struct fcgic__keep *k, const struct fcgic__alloc *a)
{
    fcgic__buf_free(&k->buf[0], a);
    fcgic__buf_free(&k->buf[1], a);
}

int fcgic__keep_replayable(const struct fcgic__keep *k, const struct fcgic_request *req)
{
    FCGIC__UNUSED(req);
    return !k->lost;
}

static int keep_body_read(struct fcgic__keep *k, const struct fcgic__alloc *a, const struct fcgic_pool_callbacks *cb,
                          void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    int s = stream == FCGIC_TYPE_DATA ? 1 : 0;
    if (!k->lost && k->pos[s] < k->buf[s].len) {
        chunk->ptr = k->buf[s].data + k->pos[s];
        chunk->len = k->buf[s].len - k->pos[s];
        k->pos[s] = k->buf[s].len;
        return FCGIC_BODY_CHUNK;
    }
    if (k->eof[s])
        return FCGIC_BODY_EOF;
    if (!cb->body_read)
        return -1;
    int rc = cb->body_read(ud, stream, chunk);
    if (rc == FCGIC_BODY_CHUNK && chunk->len > 0) {
        size_t total;
        if (!k->lost &&
            (!k->want || !fcgic__add_ok(k->buf[0].len + k->buf[1].len, chunk->len, &total) || total > k->max ||
             fcgic__buf_append(&k->buf[s], a, chunk->ptr, chunk->len) != 0)) {
            k->lost = 1;
            fcgic__keep_free(k, a);
        }
        if (!k->lost)
            k->pos[s] = k->buf[s].len;
    } else if (rc == FCGIC_BODY_EOF) {
        k->eof[s] = 1;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

int fcgic__is_connect_error(int err)
{
    return err == FCGIC_E_CONNECT || err == FCGIC_E_TIMEOUT_CONNECT || err == FCGIC_E_RESOLVE ||
           err == FCGIC_E_BAD_ADDRESS;
}

/* How a request on a kept connection fails when the application had closed
 * that connection, or was closing it as the request went out: EOF or reset,
 * or protocol errors from stray bytes the previous response left behind
 * (records for ids not running, management records nobody asked for). */
static int is_stale_error(int err)
{
    switch (err) {
    case FCGIC_E_PEER_CLOSED:
    case FCGIC_E_TRUNCATED:
    case FCGIC_E_IO:
    case FCGIC_E_CONN_FAILED:
    case FCGIC_E_CLOSED:
    case FCGIC_E_BAD_VERSION:
    case FCGIC_E_BAD_TYPE:
    case FCGIC_E_ZERO_ID:
    case FCGIC_E_MGMT_ID:
    case FCGIC_E_BAD_LENGTH:
    case FCGIC_E_UNKNOWN_ID:
    case FCGIC_E_AFTER_END:
    case FCGIC_E_UNSOLICITED:
    case FCGIC_E_PEER_UNKNOWN_TYPE:
        return 1;
    default:
        return 0;
    }
}

int fcgic__is_idempotent(const struct fcgic_param *params, size_t n)
{
    static const char *const methods[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    for (size_t i = 0; i < n; i++) {
        const struct fcgic_param *q = &params[i];
        if (q->name_len != 14 || memcmp(q->name, "REQUEST_METHOD", 14) != 0)
            continue;
        for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++)
            if (q->value_len == strlen(methods[k]) && memcmp(q->value, methods[k], q->value_len) == 0)
                return 1;
        return 0;
    }
    return 0;
}

int fcgic__may_retry(enum fcgic_retry policy, int idempotent, const struct fcgic_result *res)
{
    switch (policy) {
    case FCGIC_RETRY_NEVER:
        return 0;
    case FCGIC_RETRY_ALWAYS:
        return 1;
    case FCGIC_RETRY_UNSENT:
        return !res->request_written;
    default:
        return !res->request_written || idempotent;
    }
}

static void emit(struct fcgic_pool *p, enum fcgic_event_kind kind, int err, int sys_errno, unsigned a, unsigned b,
                 uint64_t now)
{
    if (!p->cb.on_event)
        return;
    struct fcgic_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.target = p->target;
    ev.member = p->owner.member;
    ev.error = err;
    ev.old_status = a;
    ev.new_status = b;
    ev.now = now;
    ev.sys_errno = sys_errno;
    /* on_event is a callback like the others: calls back into the pool from
     * it are deferred or refused, never run in the middle of this one. */
    p->cb_depth++;
    p->cb.on_event(p->ud, &ev);
    p->cb_depth--;
}

/* The deadline may have changed: tell the owner, or the embedder's
 * on_timer when it differs from the one reported last. */
static void wake(struct fcgic_pool *p)
{
    if (p->owner.wake) {
        p->owner.wake(p->owner.owner, p);
        return;
    }
    if (!p->cb.on_timer || p->closing)
        return;
    uint64_t d = fcgic_pool_deadline(p);
    if (p->timer_known && d == p->reported_dl)
        return;
    p->timer_known = 1;
    p->reported_dl = d;
    p->cb_depth++; /* calls back into the pool are refused or deferred */
    p->cb.on_timer(p->ud, d);
    p->cb_depth--;
}

static void q_push(struct rqueue *q, struct fcgic_pool_req *r)
{
    r->next = NULL;
    r->prev = q->tail;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
    r->inq = q;
}

static void q_push_front(struct rqueue *q, struct fcgic_pool_req *r)
{
    r->prev = NULL;
    r->next = q->head;
    if (q->head)
        q->head->prev = r;
    else
        q->tail = r;
    q->head = r;
    q->n++;
    r->inq = q;
}

static void q_remove(struct rqueue *q, struct fcgic_pool_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        q->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        q->tail = r->prev;
    r->prev = r->next = NULL;
    r->inq = NULL;
    q->n--;
}

static void idle_remove(struct fcgic_pool *p, struct pconn *pc)
{
    if (!pc->idle)
        return;
    if (pc->iprev)
        pc->iprev->inext = pc->inext;
    else
        p->idle_head = pc->inext;
    if (pc->inext)
        pc->inext->iprev = pc->iprev;
    else
        p->idle_tail = pc->iprev;
    pc->iprev = pc->inext = NULL;
    pc->idle = 0;
    p->nidle--;
}

static void idle_push_front(struct fcgic_pool *p, struct pconn *pc, uint64_t now)
{
    pc->idle = 1;
    pc->idle_since = now;
    pc->iprev = NULL;
    pc->inext = p->idle_head;
    if (p->idle_head)
        p->idle_head->iprev = pc;
    else
        p->idle_tail = pc;
    p->idle_head = pc;
    p->nidle++;
}

static void mark_dirty(struct fcgic_pool *p, struct pconn *pc)
{
    if (!pc->dirty) {
        pc->dirty = 1;
        pc->dnext = p->dirty;
        p->dirty = pc;
    }
    p->pending = 1;
}

static void mark_close(struct fcgic_pool *p, struct pconn *pc)
{
    idle_remove(p, pc);
    if (!pc->closing) {
        pc->closing = 1;
        p->nopen--;
    }
    mark_dirty(p, pc);
}

/* Close and free a connection marked closing (not from its own callback). */
static void conn_destroy(struct fcgic_pool *p, struct pconn *pc, uint64_t now)
{
    int err = pc->c ? fcgic_conn_error(pc->c) : 0;
    int sys_errno = pc->c ? fcgic_conn_sys_errno(pc->c) : 0;
    if (pc->probing && p->probe_state == 1)
        p->probe_state = 0; /* the GET_VALUES answer never came: ask on the next connection */
    idle_remove(p, pc);
    if (!pc->closing)
        p->nopen--;
    if (!pc->answered)
        p->nunanswered--;
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        p->all = pc->next;
    if (pc->next)
        pc->next->prev = pc->prev;
    if (pc->c)
        p->tr.close(p->tr.ud, pc->c);
    fcgic__free(&p->a, pc);
    emit(p, FCGIC_EVENT_CLOSE, err, sys_errno, 0, 0, now);
}

/* ------------------------------------------------------------------------ */
/* Ending requests                                                          */
/* ------------------------------------------------------------------------ */

static void req_unlink(struct fcgic_pool *p, struct fcgic_pool_req *r)
{
    if (r->lprev)
        r->lprev->lnext = r->lnext;
    else
        p->live = r->lnext;
    if (r->lnext)
        r->lnext->lprev = r->lprev;
    r->lprev = r->lnext = NULL;
}

/* Free a request already taken off the live list. */
static void req_release(struct fcgic_pool *p, struct fcgic_pool_req *r)
{
    if (r->keep == &r->own_keep)
        fcgic__keep_free(&r->own_keep, &p->a);
    if (!r->borrowed)
        fcgic__free(&p->a, (void *)r->req.params);
    fcgic__free(&p->a, r);
}

static void req_free(struct fcgic_pool *p, struct fcgic_pool_req *r)
{
    req_unlink(p, r);
    req_release(p, r);
}

/* r leaves the queue (to start, or to end): count its wait once. */
static void queue_left(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now)
{
    if (!r->waiting)
        return;
    r->waiting = 0;
    p->st.queue_waits++;
    p->st.queue_wait_ns += now > r->queued_at ? now - r->queued_at : 0;
}

/* Deliver on_end and free the request: the handle stays valid (R_ENDED)
 * until on_end returns. */
static void req_finish(struct fcgic_pool *p, struct fcgic_pool_req *r, const struct fcgic_result *res)
{
    uint64_t now = fcgic__pool_now(p);
    queue_left(p, r, now);
    r->state = R_ENDED;
    p->busy--;
    p->st.requests++;
    if (res->error)
        p->st.failures++;
    fcgic__ends_add(&p->ends, res, now > r->submitted ? now - r->submitted : 0);
    struct fcgic_result copy = *res;
    copy.retries = r->retries;
    req_unlink(p, r);
    p->cb_depth++;
    if (p->cb.on_end)
        p->cb.on_end(r->ud, &copy);
    p->cb_depth--;
    req_release(p, r);
}

static void req_fail_errno(struct fcgic_pool *p, struct fcgic_pool_req *r, int err, int sys_errno, int aborted)
{
    struct fcgic_result res;
    memset(&res, 0, sizeof(res));
    res.error = err;
    res.sys_errno = sys_errno;
    res.aborted = aborted;
    req_finish(p, r, &res);
}

static void req_fail(struct fcgic_pool *p, struct fcgic_pool_req *r, int err, int aborted)
{
    req_fail_errno(p, r, err, 0, aborted);
}

/* ------------------------------------------------------------------------ */
/* Engine callbacks                                                         */
/* ------------------------------------------------------------------------ */

#define ENTER(p, c)                                                                                          \
    struct fcgic_conn *saved_conn_ = (p)->cb_conn;                                                           \
    (p)->cb_conn = (c);                                                                                      \
    (p)->cb_depth++
#define LEAVE(p)                                                                                             \
    (p)->cb_conn = saved_conn_;                                                                              \
    (p)->cb_depth--

/* A response byte arrived on r's connection: a PHP-FPM worker took it (see
 * unpin()). */
static void set_answered(struct fcgic_pool *p, struct pconn *pc)
{
    if (!pc->answered) {
        pc->answered = 1;
        p->nunanswered--;
    }
}

static void mark_answered(struct fcgic_pool_req *r)
{
    if (r->pc)
        set_answered(r->pool, r->pc);
}

static int ccb_head(struct fcgic_conn *c, void *req_ud, const struct fcgic_response_head *head)
{
    struct fcgic_pool_req *r = req_ud;
    struct fcgic_pool *p = r->pool;
    int rc = 0;
    mark_answered(r);
    if (p->cb.on_head) {
        ENTER(p, c);
        rc = p->cb.on_head(r->ud, head);
        LEAVE(p);
    }
    return rc;
}

static int ccb_body(struct fcgic_conn *c, void *req_ud, const char *data, size_t len)
{
    struct fcgic_pool_req *r = req_ud;
    struct fcgic_pool *p = r->pool;
    int rc = 0;
    mark_answered(r);
    if (p->cb.on_body) {
        ENTER(p, c);
        rc = p->cb.on_body(r->ud, data, len);
        LEAVE(p);
    }
    return rc;
}

static void ccb_flush(struct fcgic_conn *c, void *req_ud)
{
    struct fcgic_pool_req *r = req_ud;
    struct fcgic_pool *p = r->pool;
    ENTER(p, c);
    p->cb.on_flush(r->ud);
    LEAVE(p);
}

static int ccb_stderr(struct fcgic_conn *c, void *req_ud, const char *line, size_t len)
{
    struct fcgic_pool_req *r = req_ud;
    struct fcgic_pool *p = r->pool;
    int rc = 0;
    mark_answered(r);
    if (p->cb.on_stderr) {
        ENTER(p, c);
        rc = p->cb.on_stderr(r->ud, line, len);
        LEAVE(p);
    }
    return rc;
}

static int ccb_body_read(struct fcgic_conn *c, void *req_ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct fcgic_pool_req *r = req_ud;
    struct fcgic_pool *p = r->pool;
    ENTER(p, c);
    int rc = keep_body_read(r->keep, &p->a, &p->cb, r->ud, stream, chunk);
    LEAVE(p);
    return rc;
}

static void ccb_end(struct fcgic_conn *c, void *req_ud, const struct fcgic_result *res)
{
    struct fcgic_pool_req *r = req_ud;
    struct fcgic_pool *p = r->pool;
    struct pconn *pc = r->pc;
    uint64_t now = fcgic_conn_last_now(c);

    if (pc) {
        if (pc->active)
            pc->active--;
        if (res->response_started || res->got_end_request)
            set_answered(p, pc);
        mark_dirty(p, pc);
    }
    r->pc = NULL;
    p->st.bytes_out += res->stdin_bytes + res->data_bytes;
    p->st.bytes_in += res->stdout_bytes + res->stderr_bytes;

    if (res->got_end_request && res->protocol_status == FCGIC_OVERLOADED) {
        /* the backend is out of workers: stop pinning any of them */
        while (p->idle_head)
            mark_close(p, p->idle_head);
        fcgic_conn_retire(c);
    }
    if (res->got_end_request && res->protocol_status == FCGIC_CANT_MPX_CONN)
        p->mpx = 1;

    if (r->on_kept && !r->retried && !r->aborted && res->error && !res->response_started &&
        !res->got_end_request && !res->aborted && is_stale_error(res->error) &&
        fcgic__may_retry(r->req.retry, r->idempotent, res) && fcgic__keep_replayable(r->keep, &r->req)) {
        /* A kept connection that the backend had closed: run it again on a
         * fresh connection, transparently. */
        r->retried = 1;
        r->retries++;
        r->fresh_only = 1;
        r->state = R_QUEUED;
        r->deadline = FCGIC_NO_DEADLINE;
        r->keep->pos[0] = r->keep->pos[1] = 0;
        q_push(&p->retry, r);
        p->st.stale_retries++;
        p->pending = 1;
        if (pc)
            mark_close(p, pc);
        ENTER(p, c);
        emit(p, FCGIC_EVENT_STALE_RETRY, res->error, res->sys_errno, 0, 0, now);
        LEAVE(p);
        wake(p);
        return;
    }
    /* A request submitted from this on_end takes this connection, idle as
     * soon as on_end returns, rather than opening another one. */
    struct pconn *saved_soon = p->soon;
    int saved_taken = p->soon_taken;
    int soon = pc && pc->active == 0 && p->o.enable_reuse && !pc->closing && !p->draining &&
               fcgic_conn_state(c) == FCGIC_CONN_IDLE && p->nopen <= p->max;
    p->soon = soon ? pc : NULL;
    p->soon_taken = 0;
    ENTER(p, c);
    req_finish(p, r, res);
    LEAVE(p);
    p->soon = saved_soon;
    p->soon_taken = saved_taken;
    wake(p);
}

static unsigned parse_uint(const char *s, size_t n, int *ok)
{
    unsigned long v = 0;
    *ok = n > 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > 100000000ul) {
            *ok = 0;
            return 0;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return (unsigned)v;
}

/* Requests per connection from now on, on every connection. */
static void set_mpx(struct fcgic_pool *p, unsigned m)
{
    p->mpx = m > 65535u ? 65535u : m;
    for (struct pconn *x = p->all; x; x = x->next)
        if (x->c)
            (void)fcgic_conn_set_max_requests(x->c, p->mpx);
}

/* Idle connections beyond max (a burst opened them before the GET_VALUES
 * answer lowered max): close the least recently used. */
static void close_surplus_idle(struct fcgic_pool *p)
{
    while (p->nopen > p->max && p->idle_tail)
        mark_close(p, p->idle_tail);
}

static void ccb_values(struct fcgic_conn *c, void *conn_ud, const struct fcgic_param *pairs, size_t n)
{
    struct pconn *pc = conn_ud;
    struct fcgic_pool *p = pc->pool;
    unsigned max_conns = 0, max_reqs = 0;
    int mpxs = -1, ok;
    for (size_t i = 0; i < n; i++) {
        const struct fcgic_param *q = &pairs[i];
        unsigned v = parse_uint(q->value, q->value_len, &ok);
        if (!ok)
            continue;
        if (q->name_len == 14 && memcmp(q->name, "FCGI_MAX_CONNS", 14) == 0)
            max_conns = v;
        else if (q->name_len == 13 && memcmp(q->name, "FCGI_MAX_REQS", 13) == 0)
            max_reqs = v;
        else if (q->name_len == 15 && memcmp(q->name, "FCGI_MPXS_CONNS", 15) == 0)
            mpxs = v == 1;
    }
    pc->probing = 0;
    p->probe_state = 2;
    unsigned old_max = p->max, old_mpx = p->mpx;
    if (max_conns > 0 && max_conns < p->max)
        p->max = max_conns;
    /* Multiplexing needs kept connections: without FCGI_KEEP_CONN the
     * application closes the connection after its first END_REQUEST. An
     * mpx set in the options is a ceiling the answer may lower. */
    if (p->o.enable_reuse && mpxs == 1) {
        unsigned m = max_reqs ? max_reqs : 65535u;
        if (p->o.mpx && p->o.mpx < m)
            m = p->o.mpx;
        set_mpx(p, m);
    } else if (mpxs == 0 && p->mpx > 1) {
        set_mpx(p, 1);
    }
    close_surplus_idle(p);
    if (old_max != p->max || old_mpx != p->mpx) {
        ENTER(p, c);
        emit(p, FCGIC_EVENT_VALUES, 0, 0, p->max, p->mpx, fcgic_conn_last_now(c));
        LEAVE(p);
    }
    p->pending = 1; /* capacity may have grown: dispatch the queue */
    wake(p);
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

static int open_conn(struct fcgic_pool *p, struct pconn **out, uint64_t now)
{
    struct pconn *pc = fcgic__calloc(&p->a, 1, sizeof(*pc));
    if (!pc)
        return FCGIC_E_NOMEM;
    pc->pool = p;
    struct fcgic_conn_options co = p->copts;
    co.keep_conn = p->o.enable_reuse ? 1 : 0;
    co.max_requests = p->mpx;
    co.connect_timeout_ns = p->o.connect_timeout_ns;
    int sys_errno = 0;
    int rc = p->tr.open(p->tr.ud, p->target, &co, &p->ccb, pc, &p->a.m, &pc->c, &sys_errno, now);
    p->last_errno = rc != 0 ? sys_errno : 0;
    if (rc != 0) {
        fcgic__free(&p->a, pc);
        return rc;
    }
    pc->next = p->all;
    if (p->all)
        p->all->prev = pc;
    p->all = pc;
    p->nopen++;
    p->nunanswered++;
    p->st.conns_created++;
    if (p->o.probe_values && p->probe_state == 0) {
        static const char *const names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
        if (fcgic_conn_get_values(pc->c, names, 3) == 0) {
            p->probe_state = 1;
            pc->probing = 1;
        }
    }
    emit(p, FCGIC_EVENT_CONNECT, 0, 0, 0, 0, now);
    *out = pc;
    return 0;
}

static void apply_timeouts(const struct fcgic_pool *p, struct fcgic_request *req)
{
    uint64_t t = p->o.timeout_ns ? p->o.timeout_ns : FCGIC_POOL_DEFAULT_TIMEOUT_NS;
    if (t != FCGIC_NO_DEADLINE && !req->timeouts.first_byte && !req->timeouts.idle) {
        req->timeouts.first_byte = t;
        req->timeouts.idle = t;
    }
}

/* The most recently used idle connection that is still idle once the
 * transport has looked for bytes or EOF the application sent meanwhile;
 * connections that are no longer idle are closed. */
static struct pconn *take_idle(struct fcgic_pool *p, uint64_t now)
{
    while (p->idle_head) {
        struct pconn *x = p->idle_head;
        idle_remove(p, x);
        if (x->c != p->cb_conn && p->tr.check && fcgic_conn_state(x->c) == FCGIC_CONN_IDLE)
            p->tr.check(p->tr.ud, x->c, now);
        if (fcgic_conn_state(x->c) == FCGIC_CONN_IDLE && x->c != p->cb_conn && !x->closing)
            return x;
        mark_close(p, x);
    }
    return NULL;
}

/* A running connection with a free multiplexing slot that did not refuse a
 * request in this round. The first in the list (the newest), so that new
 * requests gather on one connection and surplus ones drain. */
static struct pconn *take_mpx(struct fcgic_pool *p, unsigned round)
{
    if (p->mpx <= 1)
        return NULL;
    for (struct pconn *x = p->all; x; x = x->next) {
        if (x->closing || x->idle || x->c == p->cb_conn || x->active >= p->mpx || x->tried == round)
            continue;
        enum fcgic_conn_state s = fcgic_conn_state(x->c);
        if (s == FCGIC_CONN_ACTIVE || s == FCGIC_CONN_CONNECTING)
            return x;
    }
    return NULL;
}

/* Try to start r now. Returns 0 (running), FCGIC_E_BUSY (no capacity: queue
 * it) or another error (the request cannot run). Every turn of the loop
 * takes a connection off the idle list or marks one as tried in this round,
 * so it ends. */
static int try_start(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now)
{
    unsigned round = ++p->round; /* nested calls (from callbacks) get their own */
    for (;;) {
        struct pconn *pc = NULL;
        int kept = 0;
        if (!r->fresh_only) {
            pc = take_idle(p, now);
            kept = pc != NULL;
            if (!pc)
                pc = take_mpx(p, round);
        }
        int fresh = 0;
        if (!pc && !r->fresh_only && p->soon && !p->soon_taken) {
            /* submitted from on_end: wait for the connection that is
             * about to turn idle (process() hands it over) */
            p->soon_taken = 1;
            return FCGIC_E_BUSY;
        }
        if (!pc) {
            if (p->nopen >= p->max)
                return FCGIC_E_BUSY;
            int rc = open_conn(p, &pc, now);
            if (rc != 0)
                return rc;
            fresh = 1;
        }
        r->keep->pos[0] = r->keep->pos[1] = 0;
        r->pc = pc;
        r->state = R_RUNNING;
        r->on_kept = pc->nreq > 0;
        pc->active++;
        int rc = fcgic_conn_submit(pc->c, &r->req, r, &r->id, now);
        if (rc != 0) {
            pc->active--;
            r->pc = NULL;
            r->state = R_QUEUED;
            if (!fresh && (rc == FCGIC_E_BUSY || rc == FCGIC_E_CONN_FAILED || rc == FCGIC_E_REENTRANT)) {
                pc->tried = round;
                if (pc->active == 0)
                    mark_close(p, pc);
                continue; /* that connection was unusable: try another */
            }
            if (fresh)
                mark_close(p, pc);
            else if (kept)
                idle_push_front(p, pc, pc->idle_since);
            return rc == FCGIC_E_BUSY ? FCGIC_E_INTERNAL : rc;
        }
        pc->nreq++;
        pc->started = now;
        queue_left(p, r, now);
        if (kept) {
            p->st.conns_reused++;
            emit(p, FCGIC_EVENT_REUSE, 0, 0, 0, 0, now);
        }
        p->tr.kick(p->tr.ud, pc->c, now);
        return 0;
    }
}

/* Idle connections the application closed, or sent stray bytes on (the
 * engine turned them DONE or FAILED on its own). The transport has closed
 * their sockets already and a request never takes them (try_start), so
 * this only frees the engines: at most every SWEEP_NS, not on each tick. */
static void close_dead_idle(struct fcgic_pool *p)
{
    for (;;) {
        struct pconn *x = p->idle_head;
        while (x && fcgic_conn_state(x->c) == FCGIC_CONN_IDLE)
            x = x->inext;
        if (!x)
            return;
        mark_close(p, x); /* destroyed by the last step of process() */
    }
}

/* A connection that has never answered while requests run on it may sit
 * in the application's listen queue: PHP-FPM's workers each stay bound to
 * a kept connection, so one that is merely idle here keeps a worker from
 * taking it. The earliest start of a request on such a connection, or
 * FCGIC_NO_DEADLINE. */
static uint64_t oldest_unanswered(const struct fcgic_pool *p)
{
    uint64_t oldest = FCGIC_NO_DEADLINE;
    if (p->nunanswered == 0)
        return oldest; /* the usual case once every kept connection answered once */
    for (const struct pconn *x = p->all; x; x = x->next)
        if (!x->answered && !x->closing && x->active > 0 && x->started < oldest)
            oldest = x->started;
    return oldest;
}

/* When unpin() acts next (FCGIC_NO_DEADLINE: nothing to do). */
static uint64_t unpin_deadline(const struct fcgic_pool *p)
{
    if (!p->idle_head || !p->o.enable_reuse)
        return FCGIC_NO_DEADLINE;
    uint64_t oldest = oldest_unanswered(p);
    return oldest == FCGIC_NO_DEADLINE ? oldest : fcgic__add_sat(fcgic__add_sat(oldest, UNPIN_NS), 1);
}

/* Idle connections are closed, not kept, while a connection has waited
 * longer than UNPIN_NS for its first response byte. */
static void unpin(struct fcgic_pool *p, uint64_t now)
{
    if (unpin_deadline(p) > now)
        return;
    while (p->idle_head)
        mark_close(p, p->idle_head);
}

/* Deferred work. with_timers: also end queued requests whose acquire time
 * passed and close idle connections past their ttl. */
static void process(struct fcgic_pool *p, uint64_t now, int with_timers)
{
    p->pending = 0;
    /* Connections whose request ended: idle, still busy, or finished. */
    while (p->dirty) {
        struct pconn *pc = p->dirty;
        p->dirty = pc->dnext;
        pc->dnext = NULL;
        pc->dirty = 0;
        if (pc->closing) {
            conn_destroy(p, pc, now);
            continue;
        }
        enum fcgic_conn_state s = fcgic_conn_state(pc->c);
        if (s == FCGIC_CONN_DONE || s == FCGIC_CONN_FAILED) {
            if (pc->active == 0)
                conn_destroy(p, pc, now);
        } else if (s == FCGIC_CONN_IDLE && pc->active == 0) {
            /* above max: a GET_VALUES answer lowered it after a burst */
            if (!p->o.enable_reuse || p->draining || p->nopen > p->max)
                conn_destroy(p, pc, now);
            else if (!pc->idle)
                idle_push_front(p, pc, now);
        }
    }
    if (with_timers && now >= p->next_sweep) {
        close_dead_idle(p);
        p->next_sweep = fcgic__add_sat(now, SWEEP_NS);
    }
    if (with_timers && p->o.ttl_ns) {
        unsigned keep = p->o.smax ? p->o.smax : p->max;
        if (keep < p->o.min)
            keep = p->o.min;
        while (p->idle_tail && p->nopen > keep && fcgic__add_sat(p->idle_tail->idle_since, p->o.ttl_ns) <= now)
            conn_destroy(p, p->idle_tail, now);
    }
    /* Retries first, then the queue in order. */
    struct rqueue *qs[2] = {&p->retry, &p->queue};
    for (int i = 0; i < 2; i++) {
        struct rqueue *q = qs[i];
        while (q->head) {
            struct fcgic_pool_req *r = q->head;
            if (with_timers && r->deadline != FCGIC_NO_DEADLINE && r->deadline <= now) {
                q_remove(q, r);
                p->st.queue_timeouts++;
                emit(p, FCGIC_EVENT_QUEUE_TIMEOUT, FCGIC_E_POOL_TIMEOUT, 0, 0, 0, now);
                req_fail(p, r, FCGIC_E_POOL_TIMEOUT, 0);
                continue;
            }
            /* Off the queue first: the request may end, or move to the
             * retry queue, inside try_start (a kick that fails at once). */
            q_remove(q, r);
            int rc = try_start(p, r, now);
            if (rc == FCGIC_E_BUSY) {
                q_push_front(q, r);
                break;
            }
            if (rc != 0)
                req_fail_errno(p, r, rc, p->last_errno, 0);
        }
    }
    unpin(p, now);
    /* Connections that could not be used above. */
    while (p->dirty) {
        struct pconn *pc = p->dirty;
        p->dirty = pc->dnext;
        pc->dnext = NULL;
        pc->dirty = 0;
        if (pc->closing)
            conn_destroy(p, pc, now);
    }
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

int fcgic_pool_new(struct fcgic_pool **out, const struct fcgic_pool_options *opts,
                   const struct fcgic_transport *transport, const struct fcgic_pool_callbacks *cb, void *ud,
                   const struct fcgic_mem *mem)
{
    if (!out)
        return FCGIC_E_INVAL;
    *out = NULL;
    if (!opts || !opts->target || !transport || !transport->open || !transport->kick || !transport->close ||
        !fcgic__pool_callbacks_size(cb) || !fcgic__struct_version(opts->version, FCGIC_POOL_OPTIONS_VERSION) ||
        !fcgic__struct_version(transport->version, FCGIC_TRANSPORT_VERSION))
        return FCGIC_E_INVAL;
    unsigned max = opts->max ? opts->max : DEFAULT_MAX;
    if (opts->min > max)
        return FCGIC_E_INVAL;
    struct fcgic_pool *p = fcgic__object_new(mem, sizeof(*p));
    if (!p)
        return FCGIC_E_NOMEM;
    p->target = fcgic__memdup(&p->a, opts->target, strlen(opts->target));
    if (!p->target) {
        fcgic__free(&p->a, p);
        return FCGIC_E_NOMEM;
    }
    p->o = *opts;
    p->o.target = p->target;
    p->o.conn = NULL;
    if (opts->conn)
        p->copts = *opts->conn;
    if (!p->o.queue_max)
        p->o.queue_max = DEFAULT_QUEUE_MAX;
    if (!p->o.replay_max)
        p->o.replay_max = DEFAULT_REPLAY_MAX;
    p->max = max;
    p->mpx = 1;
    if (opts->enable_reuse) {
        unsigned m = opts->mpx ? opts->mpx : (opts->conn ? opts->conn->max_requests : 0);
        p->mpx = m == 0 ? 1 : m > 65535u ? 65535u : m;
    }
    p->tr = *transport;
    fcgic__copy_grown(&p->cb, sizeof(p->cb), cb, fcgic__pool_callbacks_size(cb));
    p->ud = ud;
    p->ccb.version = FCGIC_CONN_CALLBACKS_VERSION;
    p->ccb.on_head = ccb_head;
    p->ccb.on_body = ccb_body;
    p->ccb.on_flush = p->cb.on_flush ? ccb_flush : NULL;
    p->ccb.on_stderr = ccb_stderr;
    p->ccb.on_end = ccb_end;
    p->ccb.body_read = ccb_body_read;
    p->ccb.on_values = ccb_values;
    *out = p;
    return 0;
}

void fcgic_pool_free(struct fcgic_pool *p)
{
    if (!p)
        return;
    p->draining = 1;
    p->closing = 1;
    /* Connections first (no engine callback runs), so that an on_end below
     * may release a buffered body the engine still pointed at. */
    p->idle_head = p->idle_tail = NULL;
    p->dirty = NULL;
    p->nidle = 0;
    while (p->all) {
        struct pconn *pc = p->all;
        p->all = pc->next;
        if (pc->c)
            p->tr.close(p->tr.ud, pc->c);
        fcgic__free(&p->a, pc);
    }
    p->nopen = 0;
    memset(&p->queue, 0, sizeof(p->queue));
    memset(&p->retry, 0, sizeof(p->retry));
    /* Every request still running or queued ends now. */
    while (p->live) {
        struct fcgic_pool_req *r = p->live;
        r->pc = NULL;
        r->inq = NULL;
        r->prev = r->next = NULL;
        req_fail(p, r, FCGIC_E_POOL_CLOSED, 0);
    }
    fcgic__free(&p->a, p->target);
    fcgic__free(&p->a, p);
}

int fcgic__param_block(const struct fcgic__alloc *a, size_t total, size_t count, struct fcgic_param **dst,
                       char **bytes)
{
    *dst = NULL;
    *bytes = NULL;
    if (total == 0)
        return 0;
    char *mem = fcgic__malloc(a, total);
    if (!mem)
        return FCGIC_E_NOMEM;
    *dst = (struct fcgic_param *)(void *)mem;
    *bytes = mem + count * sizeof(struct fcgic_param);
    return 0;
}

int fcgic__copy_params(const struct fcgic__alloc *a, const struct fcgic_param *params, size_t n,
                       const struct fcgic_param **out)
{
    size_t total;
    if (n && !params)
        return FCGIC_E_INVAL;
    if (n > SIZE_MAX / sizeof(struct fcgic_param))
        return FCGIC_E_RANGE;
    total = n * sizeof(struct fcgic_param);
    for (size_t i = 0; i < n; i++) {
        const struct fcgic_param *q = &params[i];
        if ((q->name_len && !q->name) || (q->value_len && !q->value))
            return FCGIC_E_INVAL;
        if (!fcgic__add_ok(total, q->name_len, &total) || !fcgic__add_ok(total, q->value_len, &total))
            return FCGIC_E_RANGE;
    }
    *out = NULL;
    struct fcgic_param *dst;
    char *w;
    int rc = fcgic__param_block(a, total, n, &dst, &w);
    if (rc != 0 || !dst)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct fcgic_param *q = &params[i];
        dst[i].name = w;
        dst[i].name_len = q->name_len;
        if (q->name_len)
            memcpy(w, q->name, q->name_len);
        w += q->name_len;
        dst[i].value = w;
        dst[i].value_len = q->value_len;
        if (q->value_len)
            memcpy(w, q->value, q->value_len);
        w += q->value_len;
    }
    *out = dst;
    return 0;
}

int fcgic__pool_submit_keep(struct fcgic_pool *p, const struct fcgic_request *req, void *req_ud,
                            struct fcgic__keep *keep, struct fcgic_pool_req **handle, uint64_t now)
{
    if (handle)
        *handle = NULL;
    if (!p || !req)
        return FCGIC_E_INVAL;
    if (p->draining)
        return FCGIC_E_POOL_CLOSED;
    if ((req->nparams && !req->params) || (unsigned)req->retry > FCGIC_RETRY_NEVER)
        return FCGIC_E_INVAL;
    if (p->cb_depth == 0)
        p->now = now;
    if (p->pending && p->cb_depth == 0)
        process(p, now, 0);
    struct fcgic_pool_req *r = fcgic__calloc(&p->a, 1, sizeof(*r));
    if (!r)
        return FCGIC_E_NOMEM;
    r->pool = p;
    r->ud = req_ud;
    r->req = *req;
    r->idempotent = fcgic__is_idempotent(req->params, req->nparams) ? 1u : 0u;
    apply_timeouts(p, &r->req);
    r->deadline = FCGIC_NO_DEADLINE;
    r->submitted = now;
    int rc = 0;
    if (keep) {
        /* the caller's params, valid until on_end: one copy, shared */
        r->borrowed = 1;
        r->keep = keep;
    } else {
        rc = fcgic__copy_params(&p->a, req->params, req->nparams, &r->req.params);
        if (rc != 0) {
            fcgic__free(&p->a, r);
            return rc;
        }
        r->keep = &r->own_keep;
        fcgic__keep_init(&r->own_keep, p->o.enable_reuse, p->o.replay_max);
    }
    r->lnext = p->live;
    if (p->live)
        p->live->lprev = r;
    p->live = r;
    p->busy++;
    /* Set before the request starts: it may end inside try_start (a kick
     * that fails at once), and its on_end may clear *handle. */
    if (handle)
        *handle = r;

    if (p->queue.n == 0 && p->retry.n == 0)
        rc = try_start(p, r, now);
    else
        rc = FCGIC_E_BUSY;
    if (rc == FCGIC_E_BUSY) {
        if (p->queue.n >= p->o.queue_max) {
            rc = FCGIC_E_POOL_QUEUE_FULL;
            p->st.queue_full++;
        } else {
            r->state = R_QUEUED;
            if (p->o.acquire_ns)
                r->deadline = fcgic__add_sat(now, p->o.acquire_ns);
            r->queued_at = now;
            r->waiting = 1;
            q_push(&p->queue, r);
            rc = 0;
        }
    }
    if (rc != 0) {
        if (handle)
            *handle = NULL;
        p->busy--;
        req_free(p, r);
        /* connections that failed to take the request */
        if (p->cb_depth == 0 && p->dirty)
            process(p, now, 0);
        wake(p);
        return rc;
    }
    wake(p);
    return 0;
}

int fcgic_pool_submit(struct fcgic_pool *p, const struct fcgic_request *req, void *req_ud,
                      struct fcgic_pool_req **handle, uint64_t now)
{
    return fcgic__pool_submit_keep(p, req, req_ud, NULL, handle, now);
}

int fcgic_pool_abort(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now)
{
    if (p && p->closing)
        return FCGIC_E_POOL_CLOSED;
    if (!p || !r || r->pool != p || r->state == R_ENDED)
        return FCGIC_E_INVAL;
    if (p->cb_depth == 0)
        p->now = now;
    r->aborted = 1;
    if (r->state == R_QUEUED) {
        q_remove(r->inq, r);
        req_fail(p, r, FCGIC_E_ABORTED, 1);
        wake(p);
        return 0;
    }
    /* The engine ends the request at once (on_end runs inside, or when
     * the callback running on its connection returns) and retires the
     * connection; r may be gone when it returns, pc is not (closed by
     * process()). With polite_abort, on_end waits for END_REQUEST. */
    struct pconn *pc = r->pc;
    int rc = fcgic_conn_abort(pc->c, r->id);
    if (rc == 0)
        p->tr.kick(p->tr.ud, pc->c, now);
    wake(p);
    return rc;
}

int fcgic_pool_unpause(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now)
{
    if (p && p->closing)
        return FCGIC_E_POOL_CLOSED;
    if (!p || !r || r->pool != p || r->state == R_ENDED)
        return FCGIC_E_INVAL;
    if (p->cb_depth == 0)
        p->now = now;
    if (r->state == R_QUEUED || !r->pc)
        return 0;
    struct fcgic_conn *c = r->pc->c;
    /* From inside a callback of c the engine is left alone: the kick is
     * deferred by the transport and feeds what it held back then. */
    if (!fcgic_conn_in_callback(c) && fcgic_conn_input_paused(c))
        fcgic_conn_unpause(c);
    p->tr.kick(p->tr.ud, c, now);
    wake(p);
    return 0;
}

int fcgic_pool_resume(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now)
{
    if (p && p->closing)
        return FCGIC_E_POOL_CLOSED;
    if (!p || !r || r->pool != p || r->state == R_ENDED)
        return FCGIC_E_INVAL;
    if (r->state == R_QUEUED)
        return 0;
    struct fcgic_conn *c = r->pc->c;
    int rc = fcgic_conn_resume(c, r->id, now);
    if (rc == 0)
        p->tr.kick(p->tr.ud, c, now);
    wake(p);
    return rc;
}

int fcgic_pool_tick(struct fcgic_pool *p, uint64_t now)
{
    if (!p)
        return FCGIC_E_INVAL;
    if (p->closing)
        return FCGIC_E_POOL_CLOSED;
    if (p->cb_depth)
        return FCGIC_E_REENTRANT;
    p->now = now;
    process(p, now, 1);
    p->timer_known = 0; /* the embedder's timer fired and is spent: re-arm it even for the same deadline */
    wake(p);
    return 0;
}

uint64_t fcgic_pool_deadline(const struct fcgic_pool *p)
{
    if (!p)
        return FCGIC_NO_DEADLINE;
    if (p->pending || p->dirty)
        return 0;
    uint64_t d = FCGIC_NO_DEADLINE;
    if (p->queue.head && p->queue.head->deadline < d)
        d = p->queue.head->deadline;
    if (p->o.ttl_ns && p->idle_tail) {
        unsigned keep = p->o.smax ? p->o.smax : p->max;
        if (keep < p->o.min)
            keep = p->o.min;
        if (p->nopen > keep && fcgic__add_sat(p->idle_tail->idle_since, p->o.ttl_ns) < d)
            d = fcgic__add_sat(p->idle_tail->idle_since, p->o.ttl_ns);
    }
    uint64_t u = unpin_deadline(p);
    return u < d ? u : d;
}

void fcgic_pool_drain(struct fcgic_pool *p, uint64_t now)
{
    if (!p || p->closing)
        return;
    if (p->cb_depth == 0)
        p->now = now;
    p->draining = 1;
    fcgic_pool_close_idle(p);
    if (p->cb_depth == 0)
        process(p, now, 0);
    wake(p);
}

void fcgic_pool_close_idle(struct fcgic_pool *p)
{
    if (!p || p->closing)
        return;
    while (p->idle_head)
        mark_close(p, p->idle_head);
    wake(p);
}

size_t fcgic__pool_stats_size(unsigned version)
{
    switch (fcgic__struct_version(version, FCGIC_POOL_STATS_VERSION)) {
    case 1: return sizeof(struct fcgic_pool_stats);
    default: return 0;
    }
}

int fcgic_pool_get_stats(const struct fcgic_pool *p, struct fcgic_pool_stats *out)
{
    size_t size = out ? fcgic__pool_stats_size(out->version) : 0;
    if (!p || !size)
        return FCGIC_E_INVAL;
    struct fcgic_pool_stats st = p->st;
    st.version = out->version;
    st.conns_open = p->nopen;
    st.conns_idle = p->nidle;
    st.busy = p->busy;
    st.queued = p->queue.n + p->retry.n;
    st.max = p->max;
    st.mpx = p->mpx;
    memcpy(st.ends, p->ends.kind, sizeof(st.ends));
    fcgic__ends_cumulative(&p->ends, st.latency_le);
    st.latency_sum_ns = p->ends.sum_ns;
    memcpy(out, &st, size);
    return 0;
}

const char *fcgic_pool_target(const struct fcgic_pool *p)
{
    return p ? p->target : NULL;
}

int fcgic_pool_last_errno(const struct fcgic_pool *p)
{
    return p ? p->last_errno : 0;
}

size_t fcgic__pool_callbacks_size(const struct fcgic_pool_callbacks *cb)
{
    if (!cb)
        return 0;
    switch (cb->version) {
    case 1:
        return offsetof(struct fcgic_pool_callbacks, on_timer);
    case 2:
        return offsetof(struct fcgic_pool_callbacks, on_flush);
    case FCGIC_POOL_CALLBACKS_VERSION:
        return sizeof(*cb);
    default:
        return 0;
    }
}

void fcgic__pool_set_owner(struct fcgic_pool *p, const struct fcgic__pool_owner *o)
{
    p->owner = *o;
}

unsigned fcgic__pool_busy(const struct fcgic_pool *p)
{
    return p->busy;
}

uint64_t fcgic__pool_now(const struct fcgic_pool *p)
{
    return p->cb_conn ? fcgic_conn_last_now(p->cb_conn) : p->now;
}

size_t fcgic__pool_replay_max(const struct fcgic_pool *p)
{
    return p->o.replay_max;
}

struct fcgic_conn *fcgic__pool_acquire_idle(struct fcgic_pool *p, uint64_t now)
{
    FCGIC__UNUSED(now);
    while (p->idle_head) {
        struct pconn *x = p->idle_head;
        idle_remove(p, x);
        if (fcgic_conn_state(x->c) == FCGIC_CONN_IDLE)
            return x->c;
        mark_close(p, x);
    }
    return NULL;
}

void fcgic__pool_release_idle(struct fcgic_pool *p, struct fcgic_conn *c, uint64_t now)
{
    struct pconn *pc = fcgic_conn_userdata(c);
    if (pc && pc->pool == p && !pc->idle && !pc->closing)
        idle_push_front(p, pc, now);
}

int fcgic__pool_open_idle(struct fcgic_pool *p, uint64_t now)
{
    if (p->nopen >= p->max)
        return FCGIC_E_BUSY;
    struct pconn *pc;
    int rc = open_conn(p, &pc, now);
    if (rc == 0)
        idle_push_front(p, pc, now);
    return rc;
}
