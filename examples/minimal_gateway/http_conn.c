/* A client connection's life: reading, the request state machine
 * (head -> request -> discard -> next head, or flush -> linger -> close),
 * timeouts, and the handler's body controls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"

static void process(struct gw_http_conn *c);

void gw__conn_kick(struct gw_http_conn *c)
{
    gw_defer_post(c->s->loop, &c->defer);
}

static uint64_t now_of(const struct gw_http_conn *c)
{
    return gw_loop_now(c->s->loop);
}

/* Read block ---------------------------------------------------------------------- */

static struct gw__rblock *rblock_get(struct gw_http_conn *c)
{
    struct gw_http_server *s = c->s;
    char *mem = gw__pool_get(&s->rpool);
    if (mem == NULL)
        return NULL;
    struct gw__rblock *rb = (struct gw__rblock *)(void *)mem;
    rb->headers = (struct gw_http_header *)(void *)(mem + s->headers_off);
    rb->buf = mem + s->buf_off;
    rb->cap = s->set.read_buffer_size;
    rb->len = rb->pos = 0;
    c->rb = rb;
    s->nactive++;
    gw__rblock_reset_request(c);
    return rb;
}

static void rblock_release(struct gw_http_conn *c)
{
    if (c->rb == NULL)
        return;
    gw__pool_put(&c->s->rpool, c->rb);
    c->rb = NULL;
    c->s->nactive--;
}

/* Room to read into, making it by moving unparsed bytes down when nothing
 * before them is still in use. */
static bool make_room(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    if (rb == NULL || rb->len < rb->cap)
        return true;
    size_t keep_from; /* bytes before this may be dropped */
    if (c->state == GW_ST_HEAD)
        keep_from = rb->pos;
    else if ((c->state == GW_ST_REQUEST || c->state == GW_ST_DISCARD) && c->body_held == 0)
        keep_from = rb->pos > rb->head_end ? rb->pos : rb->head_end;
    else
        return false;
    size_t base = c->state == GW_ST_HEAD ? 0 : rb->head_end;
    if (keep_from <= base)
        return false;
    size_t delta = keep_from - base;
    memmove(rb->buf + base, rb->buf + keep_from, rb->len - keep_from);
    rb->len -= delta;
    rb->pos -= delta;
    if (c->state == GW_ST_HEAD) {
        rb->scan -= delta;
        rb->line -= delta;
    }
    return true;
}

/* State changes ------------------------------------------------------------------- */

static void go_flush(struct gw_http_conn *c)
{
    c->state = GW_ST_FLUSH;
    c->close_after = true;
    rblock_release(c);
}

/* The layer answers an error itself and closes. */
static void layer_error(struct gw_http_conn *c, int status)
{
    c->s->errors++;
    gw__send_error(c, status);
    go_flush(c);
}

static void start_request(struct gw_http_conn *c)
{
    c->state = GW_ST_REQUEST;
    c->nreq++;
    c->s->requests++;
    c->req_active = true;
    c->body_started = c->body_paused = c->body_end_sent = false;
    c->head_sent = c->resp_ended = c->resp_no_body = c->resp_chunked = false;
    c->close_after = c->truncated = c->continue_sent = c->above_hw = false;
    c->body_held = 0;
    c->resp_left = -1;
    c->discarded = 0;
    c->data = NULL;
    c->s->h.on_request(c, &c->rb->req, c->s->h.ud);
}

/* The request and its body are over: on to the next one, or close. */
static void finish_request(struct gw_http_conn *c)
{
    if (c->close_after || c->s->draining) {
        go_flush(c);
        return;
    }
    struct gw__rblock *rb = c->rb;
    c->state = GW_ST_HEAD;
    c->t_read = now_of(c);
    if (rb->pos < rb->len) {
        memmove(rb->buf, rb->buf + rb->pos, rb->len - rb->pos);
        rb->len -= rb->pos;
    } else {
        rb->len = 0;
    }
    rb->pos = 0;
    gw__rblock_reset_request(c);
    if (rb->len == 0)
        rblock_release(c); /* idle: no buffer held */
}

static void start_linger(struct gw_http_conn *c)
{
    if (c->eof || c->dead) {
        c->closing = true;
        return;
    }
    shutdown(c->watch.fd, SHUT_WR);
    c->state = GW_ST_LINGER;
    c->t_read = now_of(c);
}

/* Steps: each returns whether something changed ---------------------------------- */

static int status_for_gone(int why)
{
    switch (why) {
    case GW_HTTP_GONE_BAD_BODY:
        return 400;
    case GW_HTTP_GONE_BODY_LIMIT:
        return 413;
    default:
        return 408;
    }
}

static bool step_gone(struct gw_http_conn *c)
{
    int why = c->gone;
    c->gone = 0;
    if (c->req_active) {
        c->req_active = false;
        c->resp_ended = true;
        if (c->s->h.on_client_gone)
            c->s->h.on_client_gone(c, why, c->s->h.ud);
    }
    if (c->dead) {
        c->closing = true;
        return false;
    }
    if (c->head_sent || c->state != GW_ST_REQUEST)
        go_flush(c); /* truncated: closed without a final chunk */
    else
        layer_error(c, status_for_gone(why));
    return true;
}

static bool step_head(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    if (rb == NULL || rb->pos == rb->len || c->queued >= c->s->set.write_high_water)
        return false;
    int r = gw__head_scan(c);
    if (r == 0)
        return false;
    if (r == 1)
        r = gw__head_parse(c);
    if (r != 0) {
        layer_error(c, r);
        return true;
    }
    start_request(c);
    return true;
}

/* The handler ended the response: read the rest of the body, or close. */
static bool request_over(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    c->body_held = 0;
    if (c->truncated || c->close_after) {
        go_flush(c);
        return true;
    }
    if (rb->msg_done) {
        finish_request(c);
        return true;
    }
    const struct gw_http_request *r = &rb->req;
    if (!r->chunked && (uint64_t)r->content_length - rb->body_seen > c->s->set.discard_max) {
        go_flush(c);
        return true;
    }
    c->state = GW_ST_DISCARD;
    c->t_read = now_of(c);
    return true;
}

static bool feed_body(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    size_t used = gw__body_feed(c);
    rb->pos += used;
    if (rb->gone) {
        c->gone = (uint8_t)rb->gone;
        rb->gone = 0;
    }
    return used > 0 || c->gone || rb->msg_done;
}

static bool step_request(struct gw_http_conn *c)
{
    struct gw_http_server *s = c->s;
    struct gw__rblock *rb = c->rb;
    if (c->resp_ended)
        return request_over(c);
    if (c->above_hw && c->queued < s->set.write_low_water) {
        c->above_hw = false;
        if (s->h.on_drain)
            s->h.on_drain(c, s->h.ud);
        return true;
    }
    if (!c->body_started)
        return false;
    if (rb->msg_done) {
        if (c->body_end_sent)
            return false;
        c->body_end_sent = true;
        if (s->h.on_body_end)
            s->h.on_body_end(c, s->h.ud);
        return true;
    }
    if (c->body_paused || rb->pos == rb->len)
        return false;
    return feed_body(c);
}

static bool step_discard(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    if (rb->msg_done) {
        finish_request(c);
        return true;
    }
    if (rb->pos == rb->len)
        return false;
    feed_body(c);
    if (c->gone) {
        c->gone = 0;
        go_flush(c);
    }
    return true;
}

static bool step(struct gw_http_conn *c)
{
    if (c->gone)
        return step_gone(c);
    switch (c->state) {
    case GW_ST_HEAD:
        return step_head(c);
    case GW_ST_REQUEST:
        return step_request(c);
    case GW_ST_DISCARD:
        return step_discard(c);
    case GW_ST_FLUSH:
        if (c->queued > 0 && !c->dead)
            return false;
        start_linger(c);
        return true;
    default:
        return false;
    }
}

/* Interest and timer ----------------------------------------------------------------- */

static bool want_read(struct gw_http_conn *c)
{
    if (c->eof || c->dead)
        return false;
    switch (c->state) {
    case GW_ST_HEAD:
        return c->queued < c->s->set.write_high_water && make_room(c) && (c->rb == NULL || c->rb->len < c->rb->cap);
    case GW_ST_REQUEST:
        return c->body_started && !c->body_paused && !c->rb->msg_done && make_room(c) && c->rb->len < c->rb->cap;
    case GW_ST_DISCARD:
        return make_room(c) && c->rb->len < c->rb->cap;
    case GW_ST_LINGER:
        return true;
    default:
        return false;
    }
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t read_deadline(const struct gw_http_conn *c, bool reading)
{
    const struct gw_http_settings *set = &c->s->set;
    switch (c->state) {
    case GW_ST_HEAD:
        if (c->nreq > 0 && (c->rb == NULL || c->rb->len == c->rb->pos))
            return add_sat(c->t_read, set->keepalive_timeout_ns);
        return add_sat(c->t_read, set->head_timeout_ns);
    case GW_ST_REQUEST:
    case GW_ST_DISCARD:
        return reading ? add_sat(c->t_read, set->body_timeout_ns) : UINT64_MAX;
    case GW_ST_LINGER:
        return add_sat(c->t_read, set->linger_timeout_ns);
    default:
        return UINT64_MAX;
    }
}

static void update_io(struct gw_http_conn *c)
{
    struct gw_loop *loop = c->s->loop;
    bool reading = want_read(c);
    if (reading && !c->reading && c->state != GW_ST_HEAD && c->state != GW_ST_LINGER)
        c->t_read = now_of(c); /* the wait for body bytes starts now */
    c->reading = reading;
    uint64_t dl = read_deadline(c, reading);
    if (c->queued > 0)
        dl = min_u64(dl, add_sat(c->t_write, c->s->set.send_timeout_ns));
    if (dl == UINT64_MAX)
        gw_timer_stop(loop, &c->timer);
    else if (gw_timer_start(loop, &c->timer, dl) != 0)
        c->closing = true, gw__conn_kick(c);
}

static void do_read(struct gw_http_conn *c);
static void on_eof(struct gw_http_conn *c);

/* Input the steps asked for, as long as the socket may have some: the watch
 * is edge triggered, so what is not read now is announced by no event. A
 * client that shut its side while its connection reads nothing (the
 * handler runs) has gone. Returns whether something was read or changed. */
static bool pump_input(struct gw_http_conn *c)
{
    if (c->eof || c->dead)
        return false;
    if (want_read(c)) {
        if (!c->rd_ready)
            return false;
        do_read(c);
        return true;
    }
    if (c->rd_hup && c->state != GW_ST_LINGER) {
        on_eof(c);
        return true;
    }
    return false;
}

/* Pending output goes out at once while the socket takes it. Returns
 * whether some did (the steps look again: the queue may be under its low
 * water mark, or empty before the close). */
static bool pump_output(struct gw_http_conn *c)
{
    if (c->queued == 0 || c->blocked || c->dead)
        return false;
    size_t before = c->queued;
    gw__flush(c);
    return c->queued < before;
}

static void process(struct gw_http_conn *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    for (int i = 0; i < 10000 && !c->closing; i++) {
        if (step(c))
            continue;
        if (pump_output(c))
            continue;
        if (!pump_input(c))
            break;
    }
    c->in_process = false;
    if (c->closing) {
        gw__conn_destroy(c, GW_HTTP_GONE_RESET);
        return;
    }
    update_io(c);
}

/* Events ----------------------------------------------------------------------------- */

static void on_eof(struct gw_http_conn *c)
{
    c->eof = true;
    switch (c->state) {
    case GW_ST_REQUEST:
        c->dead = true;
        c->gone = GW_HTTP_GONE_CLOSED;
        break;
    case GW_ST_HEAD:
    case GW_ST_DISCARD:
        if (c->queued > 0)
            go_flush(c); /* answers already made are still delivered */
        else
            c->closing = true;
        break;
    case GW_ST_LINGER:
        c->closing = true;
        break;
    default:
        break;
    }
}

static void linger_read(struct gw_http_conn *c)
{
    char sink[4096];
    ssize_t n = recv(c->watch.fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        c->closing = true;
    else if (n < (ssize_t)sizeof sink && !c->rd_hup)
        c->rd_ready = false;
}

/* One recv() into the read block. A read that fills less than the room
 * offered emptied the socket: the next bytes come with a new event (unless
 * the client shut its side: its EOF is read next, with no event). */
static void do_read(struct gw_http_conn *c)
{
    if (c->state == GW_ST_LINGER) {
        linger_read(c);
        return;
    }
    if (c->rb == NULL && rblock_get(c) == NULL) {
        c->closing = true;
        return;
    }
    struct gw__rblock *rb = c->rb;
    if (!make_room(c) || rb->len == rb->cap)
        return;
    size_t room = rb->cap - rb->len;
    ssize_t n = recv(c->watch.fd, rb->buf + rb->len, room, 0);
    if (n > 0) {
        if (c->state != GW_ST_HEAD || rb->len == rb->pos)
            c->t_read = now_of(c); /* a head's clock starts at its first byte; a body's at each read */
        rb->len += (size_t)n;
        if ((size_t)n < room && !c->rd_hup)
            c->rd_ready = false;
        return;
    }
    c->rd_ready = false;
    if (n == 0) {
        on_eof(c);
    } else if (errno == EINTR) {
        c->rd_ready = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c->dead = true;
        c->gone = GW_HTTP_GONE_RESET;
    }
    if (c->state == GW_ST_HEAD && c->rb && c->rb->len == 0)
        rblock_release(c);
}

static void on_io(struct gw_loop *loop, struct gw_watch *w, unsigned events)
{
    struct gw_http_conn *c = GW_CONTAINER_OF(w, struct gw_http_conn, watch);
    if (events & GW_IO_ERR) {
        c->dead = true;
        c->gone = GW_HTTP_GONE_RESET;
    } else {
        if (events & GW_IO_OUT)
            c->blocked = false;
        if (events & (GW_IO_IN | GW_IO_RDHUP))
            c->rd_ready = true;
        if (events & GW_IO_RDHUP)
            c->rd_hup = true;
    }
    process(c);
}

static void on_timer(struct gw_loop *loop, struct gw_timer *t)
{
    struct gw_http_conn *c = GW_CONTAINER_OF(t, struct gw_http_conn, timer);
    uint64_t now = gw_loop_now(loop);
    if (c->queued > 0 && now >= add_sat(c->t_write, c->s->set.send_timeout_ns)) {
        c->dead = true;
        c->gone = GW_HTTP_GONE_TIMEOUT;
    } else if (c->state == GW_ST_HEAD && c->rb && c->rb->len > c->rb->pos) {
        layer_error(c, 408);
    } else if (c->state == GW_ST_REQUEST) {
        c->gone = GW_HTTP_GONE_TIMEOUT;
    } else if (c->state != GW_ST_FLUSH) {
        c->closing = true;
    }
    process(c);
}

static void on_defer(struct gw_loop *loop, struct gw_defer *d)
{
    process(GW_CONTAINER_OF(d, struct gw_http_conn, defer));
}

/* Life ------------------------------------------------------------------------------- */

int gw_http_server_adopt(struct gw_http_server *s, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
    struct gw_http_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return -ENOMEM;
    }
    c->s = s;
    if (peer && peer_len <= sizeof c->peer)
        memcpy(&c->peer, peer, peer_len);
    socklen_t llen = sizeof c->local;
    if (getsockname(fd, &c->local.sa, &llen) != 0)
        memset(&c->local, 0, sizeof c->local);
    gw_timer_init(&c->timer, on_timer);
    gw_defer_init(&c->defer, on_defer);
    c->resp_left = -1;
    c->state = GW_ST_HEAD;
    c->t_read = now_of(c);
    int r = gw_watch_start(s->loop, &c->watch, fd, GW_IO_IN | GW_IO_OUT | GW_IO_RDHUP | GW_IO_EDGE, on_io);
    if (r != 0) {
        close(fd);
        free(c);
        return r;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    update_io(c);
    return 0;
}

void gw__conn_destroy(struct gw_http_conn *c, int why)
{
    struct gw_http_server *s = c->s;
    if (c->req_active) {
        c->req_active = false;
        if (s->h.on_client_gone)
            s->h.on_client_gone(c, why, s->h.ud);
    }
    gw_watch_stop(s->loop, &c->watch);
    gw_timer_stop(s->loop, &c->timer);
    gw_defer_cancel(s->loop, &c->defer);
    close(c->watch.fd);
    rblock_release(c);
    gw__wq_clear(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    free(c);
}

/* Handler controls -------------------------------------------------------------------- */

int gw_http_body_start(struct gw_http_conn *c)
{
    if (!c->req_active)
        return -EINVAL;
    if (c->body_started)
        return -EALREADY;
    c->body_started = true;
    if (c->rb->req.expect_continue && !c->head_sent && !c->continue_sent) {
        c->continue_sent = true;
        gw__send_continue(c);
    }
    gw__conn_kick(c);
    return 0;
}

void gw_http_body_pause(struct gw_http_conn *c)
{
    c->body_paused = true;
}

void gw_http_body_resume(struct gw_http_conn *c)
{
    if (!c->body_paused)
        return;
    c->body_paused = false;
    gw__conn_kick(c);
}

void gw_http_body_consumed(struct gw_http_conn *c, size_t n)
{
    c->body_held = n < c->body_held ? c->body_held - n : 0;
    if (c->body_held == 0)
        gw__conn_kick(c);
}

void gw_http_set_data(struct gw_http_conn *c, void *data)
{
    c->data = data;
}

void *gw_http_data(const struct gw_http_conn *c)
{
    return c->data;
}

size_t gw_http_conn_queued(const struct gw_http_conn *c)
{
    return c->queued;
}

struct gw_loop *gw_http_conn_loop(const struct gw_http_conn *c)
{
    return c->s->loop;
}
