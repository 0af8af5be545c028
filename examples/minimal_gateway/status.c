/* server-status and metrics: the board shared by a generation's threads,
 * snapshot rounds, and pending status requests (status.h). */
#include "status.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status_int.h"
#include "worker.h"

/* One thread's place on the board. */
struct slot {
    struct gw_status_board *board;
    struct gw_worker_thread *t;    /* NULL until attached */
    bool alive;                    /* attached, loop running (board->mu) */
    bool waiting;                  /* its thread has pending requests (board->mu) */
    struct gw_async ask;           /* another thread wants a snapshot */
    struct gw_async answered;      /* a thread published one */
    struct gw_snap snap;           /* the last one published (board->mu) */
    struct gw_status_req *pending; /* its thread's waiting requests (its thread only) */
};

struct gw_status_board {
    pthread_mutex_t mu;
    const struct gw_server *srv;
    unsigned n;
    uint64_t round;      /* the latest round asked for */
    uint64_t started_ns; /* CLOCK_MONOTONIC at creation */
    long long started_unix;
    struct slot *slots;
};

struct gw_status_req {
    struct slot *slot;
    struct gw_http_conn *c;
    enum gw_status_kind kind;
    int format; /* server-status: 't' text, 'a' ?auto, 'j' ?json */
    bool head;
    uint64_t round;
    struct gw_timer timer;
    gw_status_done_cb done;
    void *ud;
    struct gw_status_req *prev, *next;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the board ---- */

static void ask_cb(struct gw_loop *loop, struct gw_async *a);
static void answered_cb(struct gw_loop *loop, struct gw_async *a);

int gw_status_board_new(struct gw_status_board **out, const struct gw_server *srv, unsigned nthreads)
{
    struct gw_status_board *b = calloc(1, sizeof *b);
    if (b == NULL || (b->slots = calloc(nthreads ? nthreads : 1, sizeof *b->slots)) == NULL) {
        free(b);
        return -ENOMEM;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->srv = srv;
    b->n = nthreads;
    b->started_ns = mono_ns();
    b->started_unix = (long long)time(NULL);
    int rc = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        struct slot *s = &b->slots[i];
        s->board = b;
        gw_async_init(&s->ask, ask_cb);
        gw_async_init(&s->answered, answered_cb);
        if (gw_snap_init(&s->snap, srv) != 0)
            rc = -ENOMEM;
    }
    if (rc != 0) {
        gw_status_board_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void gw_status_board_free(struct gw_status_board *b)
{
    if (b == NULL)
        return;
    for (unsigned i = 0; i < b->n; i++)
        gw_snap_fini(&b->slots[i].snap);
    pthread_mutex_destroy(&b->mu);
    free(b->slots);
    free(b);
}

static struct slot *slot_of(struct gw_worker_thread *t)
{
    return t->board && t->index < t->board->n ? &t->board->slots[t->index] : NULL;
}

void gw_status_attach(struct gw_worker_thread *t)
{
    struct slot *s = slot_of(t);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->board->mu);
    s->t = t;
    s->alive = true;
    pthread_mutex_unlock(&s->board->mu);
}

void gw_status_detach(struct gw_worker_thread *t)
{
    struct slot *s = slot_of(t);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->board->mu);
    s->alive = false;
    s->waiting = false;
    pthread_mutex_unlock(&s->board->mu);
}

void gw_status_count(struct gw_worker_thread *t, int status, uint64_t body_bytes)
{
    struct gw_counters *c = &t->counters;
    c->requests++;
    c->by_class[status >= 100 && status < 600 ? status / 100 : 0]++;
    c->body_bytes += body_bytes;
}

/* ---- snapshot rounds (board->mu held) ---- */

static void publish_locked(struct slot *s)
{
    gw_snap_fill(&s->snap, s->t);
    s->snap.round = s->board->round;
}

/* Tell the threads that wait for answers that one arrived. */
static void notify_waiting_locked(struct gw_status_board *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        struct slot *k = &b->slots[i];
        if (k->alive && k->waiting)
            gw_async_send(k->t->loop, &k->answered);
    }
}

/* Another thread asked for a snapshot. */
static void ask_cb(struct gw_loop *loop, struct gw_async *a)
{
    (void)loop;
    struct slot *s = GW_CONTAINER_OF(a, struct slot, ask);
    struct gw_status_board *b = s->board;
    pthread_mutex_lock(&b->mu);
    if (s->alive) {
        publish_locked(s);
        notify_waiting_locked(b);
    }
    pthread_mutex_unlock(&b->mu);
}

/* Start a round: every other running thread is asked to publish; this one
 * publishes now. Returns the round. */
static uint64_t round_start(struct slot *me)
{
    struct gw_status_board *b = me->board;
    pthread_mutex_lock(&b->mu);
    uint64_t round = ++b->round;
    for (unsigned i = 0; i < b->n; i++) {
        struct slot *s = &b->slots[i];
        if (s != me && s->alive)
            gw_async_send(s->t->loop, &s->ask);
    }
    publish_locked(me);
    me->waiting = true;
    pthread_mutex_unlock(&b->mu);
    return round;
}

/* Have all running threads answered `round`? */
static bool round_done(struct gw_status_board *b, uint64_t round)
{
    bool done = true;
    pthread_mutex_lock(&b->mu);
    for (unsigned i = 0; i < b->n && done; i++)
        done = !b->slots[i].alive || b->slots[i].snap.round >= round;
    pthread_mutex_unlock(&b->mu);
    return done;
}

/* Sum every published snapshot into sum; returns how many threads answered
 * `round`. */
static unsigned sum_snapshots(struct gw_status_board *b, struct gw_snap *sum, uint64_t round)
{
    unsigned answered = 0;
    gw_snap_clear(sum, b->srv);
    pthread_mutex_lock(&b->mu);
    for (unsigned i = 0; i < b->n; i++) {
        const struct slot *s = &b->slots[i];
        if (s->snap.round == 0)
            continue; /* never published */
        gw_snap_add(sum, &s->snap, b->srv);
        answered += s->snap.round >= round;
    }
    pthread_mutex_unlock(&b->mu);
    return answered;
}

/* ---- answering ---- */

static void render(struct gw_sbuf *out, const struct gw_status_req *r, const struct gw_status_view *v)
{
    if (r->kind == GW_STATUS_METRICS)
        gw_status_prometheus(out, v);
    else if (r->format == 'j')
        gw_status_page_json(out, v);
    else if (r->format == 'a')
        gw_status_page_auto(out, v);
    else
        gw_status_page_text(out, v);
}

static const char *content_type(const struct gw_status_req *r)
{
    if (r->kind == GW_STATUS_METRICS)
        return "text/plain; version=0.0.4; charset=utf-8";
    return r->format == 'j'   ? "application/json"
           : r->format == 'a' ? "text/plain; charset=ISO-8859-1"
                              : "text/plain; charset=utf-8";
}

/* Send the body (or 500 when it could not be built); returns the status. */
static int respond(struct gw_status_req *r, const struct gw_sbuf *body, uint64_t *bytes)
{
    *bytes = 0;
    if (body->failed) {
        if (gw_http_response_error(r->c, 500) == 0 && !r->head)
            *bytes = gw_http_error_body_len(500);
        return 500;
    }
    const char *ct = content_type(r);
    struct gw_http_header h[2] = {{"Content-Type", 12, ct, strlen(ct)}, {"Cache-Control", 13, "no-cache", 8}};
    if (gw_http_response_head(r->c, 200, NULL, h, 2, (int64_t)body->n) != 0) {
        gw_http_response_abort(r->c);
        return 500;
    }
    if (gw_http_response_write(r->c, body->p, body->n) < 0 || gw_http_response_end(r->c) != 0) {
        gw_http_response_abort(r->c);
        return 200;
    }
    *bytes = r->head ? 0 : body->n;
    return 200;
}

static void req_unlink(struct gw_status_req *r)
{
    struct slot *s = r->slot;
    if (r->prev)
        r->prev->next = r->next;
    else if (s->pending == r)
        s->pending = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    gw_timer_stop(s->t->loop, &r->timer);
    if (s->pending == NULL) {
        pthread_mutex_lock(&s->board->mu);
        s->waiting = false;
        pthread_mutex_unlock(&s->board->mu);
    }
}

/* The answers are in (or the wait is over): answer, report, free. */
static void finish(struct gw_status_req *r)
{
    struct slot *s = r->slot;
    struct gw_status_board *b = s->board;
    req_unlink(r);
    struct gw_snap sum;
    struct gw_sbuf body = {0};
    if (gw_snap_init(&sum, b->srv) == 0) {
        struct gw_status_view v = {b->srv, &sum, b->n, 0, (mono_ns() - b->started_ns) / 1000000000ull, b->started_unix};
        v.answered = sum_snapshots(b, &sum, r->round);
        render(&body, r, &v);
    } else {
        body.failed = true;
    }
    gw_snap_fini(&sum);
    uint64_t bytes;
    int status = respond(r, &body, &bytes);
    free(body.p);
    r->done(r->ud, status, bytes);
    free(r);
}

static void timer_cb(struct gw_loop *loop, struct gw_timer *tm)
{
    (void)loop;
    finish(GW_CONTAINER_OF(tm, struct gw_status_req, timer));
}

/* Some thread published: answer the requests whose round is complete. */
static void answered_cb(struct gw_loop *loop, struct gw_async *a)
{
    (void)loop;
    struct slot *s = GW_CONTAINER_OF(a, struct slot, answered);
    struct gw_status_req *r = s->pending;
    while (r) {
        struct gw_status_req *next = r->next;
        if (round_done(s->board, r->round))
            finish(r);
        r = next;
    }
}

/* "?auto", "?json" (also among other words: "?refresh=5&auto"). */
static int format_of(const struct gw_http_request *req)
{
    const char *q = req->query, *end = q ? q + req->query_len : NULL;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        size_t n = (size_t)((amp ? amp : end) - q);
        if (n == 4 && memcmp(q, "auto", 4) == 0)
            return 'a';
        if (n == 4 && memcmp(q, "json", 4) == 0)
            return 'j';
        q = amp ? amp + 1 : end;
    }
    return 't';
}

struct gw_status_req *gw_status_serve(struct gw_worker_thread *t, struct gw_http_conn *c,
                                      const struct gw_http_request *req, enum gw_status_kind kind,
                                      gw_status_done_cb done, void *ud)
{
    struct slot *s = slot_of(t);
    struct gw_status_req *r = s ? calloc(1, sizeof *r) : NULL;
    if (r == NULL) {
        int st = s ? 503 : 500;
        gw_http_response_error(c, st);
        done(ud, st, req->head ? 0 : gw_http_error_body_len(st));
        return NULL;
    }
    r->slot = s;
    r->c = c;
    r->kind = kind;
    r->format = format_of(req);
    r->head = req->head;
    r->done = done;
    r->ud = ud;
    gw_timer_init(&r->timer, timer_cb);
    r->next = s->pending;
    if (s->pending)
        s->pending->prev = r;
    s->pending = r;
    r->round = round_start(s);
    if (round_done(s->board, r->round)) {
        finish(r);
        return NULL;
    }
    gw_timer_start(t->loop, &r->timer, gw_loop_now(t->loop) + GW_STATUS_WAIT_NS);
    return r;
}

void gw_status_cancel(struct gw_status_req *r)
{
    if (r == NULL)
        return;
    req_unlink(r);
    free(r);
}
