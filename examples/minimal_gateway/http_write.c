/* Responses: the head serialised from the handler's status and headers
 * (framing decided here: Content-Length, chunked or close-delimited; no body
 * for HEAD, 204 and 304), body framing, and the write queue: bytes go to the
 * socket at once when it takes them; only what it did not take is copied,
 * into blocks from the server's pool. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <fcgiclient/http.h>

#include "http_int.h"

#define GW_IOV_QUEUE 16                   /* queue blocks offered to one sendmsg() */
#define GW_IOV_NEW (GW__GATHER_MAX + 3) /* new pieces offered with them: chunk size, body, CRLF + last chunk */

size_t gw_fmt_uint(char *out, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Write queue ------------------------------------------------------------------- */

static struct gw__wblock *wblock_new(struct gw_http_server *s, size_t need)
{
    struct gw__wblock *b;
    size_t room = s->wpool.size - sizeof *b;
    bool pooled = need <= room;
    if (pooled) {
        b = gw__pool_get(&s->wpool);
    } else {
        room = need;
        b = malloc(sizeof *b + need);
    }
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->start = b->end = 0;
    b->cap = room;
    b->pooled = pooled;
    return b;
}

static void wblock_free(struct gw_http_server *s, struct gw__wblock *b)
{
    if (b->pooled)
        gw__pool_put(&s->wpool, b);
    else
        free(b);
}

void gw__gather_drop(struct gw_http_conn *c)
{
    struct gw__gather *g = &c->s->gather;
    if (g->owner == c) {
        g->owner = NULL;
        g->n = 0;
        g->bytes = 0;
    }
}

void gw__wq_clear(struct gw_http_conn *c)
{
    gw__gather_drop(c);
    while (c->wq_head) {
        struct gw__wblock *b = c->wq_head;
        c->wq_head = b->next;
        wblock_free(c->s, b);
    }
    c->wq_tail = NULL;
    c->queued = 0;
}

/* Contiguous room for `need` bytes at the end of the queue (not yet counted). */
static char *wq_reserve(struct gw_http_conn *c, size_t need)
{
    struct gw__wblock *t = c->wq_tail;
    if (t && t->cap - t->end >= need)
        return t->data + t->end;
    struct gw__wblock *b = wblock_new(c->s, need);
    if (b == NULL)
        return NULL;
    if (t)
        t->next = b;
    else
        c->wq_head = b;
    c->wq_tail = b;
    return b->data;
}

static void wq_commit(struct gw_http_conn *c, size_t n)
{
    c->wq_tail->end += n;
    c->queued += n;
    if (c->queued == n)
        c->t_write = gw_loop_now(c->s->loop);
}

static int wq_append(struct gw_http_conn *c, const char *p, size_t n)
{
    while (n > 0) {
        struct gw__wblock *t = c->wq_tail;
        size_t room = t ? t->cap - t->end : 0;
        if (room == 0) {
            if (wq_reserve(c, 1) == NULL)
                return -ENOMEM;
            continue;
        }
        size_t k = n < room ? n : room;
        memcpy(t->data + t->end, p, k);
        wq_commit(c, k);
        p += k;
        n -= k;
    }
    return 0;
}

static void wq_consume(struct gw_http_conn *c, size_t n)
{
    while (n > 0 && c->wq_head) {
        struct gw__wblock *b = c->wq_head;
        size_t have = b->end - b->start;
        size_t k = n < have ? n : have;
        b->start += k;
        c->queued -= k;
        n -= k;
        if (b->start == b->end) {
            c->wq_head = b->next;
            if (c->wq_head == NULL)
                c->wq_tail = NULL;
            wblock_free(c->s, b);
        }
    }
}

/* The socket failed: nothing more is written; the connection is reported
 * gone and closed by the connection's next step. */
static void write_failed(struct gw_http_conn *c)
{
    gw__wq_clear(c);
    c->dead = true;
    if (c->gone == 0)
        c->gone = GW_HTTP_GONE_RESET;
    gw__conn_kick(c);
}

/* Offer the queue, then iov, to the socket; keep (copy) what it did not take. */
int gw__send(struct gw_http_conn *c, const struct iovec *iov, int n)
{
    if (c->dead || c->state == GW_ST_LINGER)
        return -EPIPE;
    size_t skip = 0; /* bytes of iov the socket took */
    if (!c->blocked && (c->queued > 0 || n > 0)) {
        struct iovec v[GW_IOV_QUEUE + GW_IOV_NEW];
        int k = 0;
        struct gw__wblock *b = c->wq_head;
        for (; b && k < GW_IOV_QUEUE; b = b->next)
            v[k++] = (struct iovec){b->data + b->start, b->end - b->start};
        bool with_new = b == NULL && n <= GW_IOV_NEW;
        size_t offered = c->queued;
        for (int i = 0; with_new && i < n; i++) {
            v[k++] = iov[i];
            offered += iov[i].iov_len;
        }
        struct msghdr msg = {.msg_iov = v, .msg_iovlen = (size_t)k};
        ssize_t w = k ? sendmsg(c->watch.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            write_failed(c);
            return -EPIPE;
        }
        size_t done = w > 0 ? (size_t)w : 0;
        if (done > 0)
            c->t_write = gw_loop_now(c->s->loop);
        size_t from_queue = done < c->queued ? done : c->queued;
        wq_consume(c, from_queue);
        skip = with_new ? done - from_queue : 0;
        c->blocked = done < offered;
    }
    for (int i = 0; i < n; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        if (wq_append(c, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip) != 0)
            return -ENOMEM;
        skip = 0;
    }
    return 0;
}

void gw__flush(struct gw_http_conn *c)
{
    gw__send(c, NULL, 0);
}

/* Response head ------------------------------------------------------------------- */

/* RFC 9110 token characters (letters, digits, !#$%&'*+-.^_`|~) as a
 * 128-bit set: bit c of the pair. */
static bool is_tchar(unsigned char ch)
{
    static const uint64_t set[2] = {0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull};
    return ch < 128 && (set[ch >> 6] >> (ch & 63) & 1);
}

static bool header_ok(const struct gw_http_header *h)
{
    if (h->name_len == 0)
        return false;
    for (size_t i = 0; i < h->name_len; i++)
        if (!is_tchar((unsigned char)h->name[i]))
            return false;
    const char *v = h->value;
    size_t n = h->value_len;
    return n == 0 || (!memchr(v, '\r', n) && !memchr(v, '\n', n) && !memchr(v, '\0', n));
}

/* Headers the layer writes itself. */
static bool header_dropped(const struct gw_http_header *h)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "connection",
                                        "keep-alive",     "upgrade",           "proxy-connection"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (gw__ascii_ieq(h->name, h->name_len, names[i]))
            return true;
    return false;
}

static const char *date_line(struct gw_http_server *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if ((long)now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(s->date, sizeof s->date, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday % 7],
                 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_sec = (long)now;
    }
    return s->date;
}

/* Whether the connection closes after this response. */
static bool must_close(const struct gw_http_conn *c, int64_t content_length, bool no_body)
{
    const struct gw_http_server *s = c->s;
    const struct gw_http_request *r = &c->rb->req;
    if (c->close_after || s->draining || !s->set.keep_alive || !r->keep_alive)
        return true;
    if (s->set.max_keepalive_requests && c->nreq >= s->set.max_keepalive_requests)
        return true;
    if (r->version == 10 && content_length < 0 && !no_body)
        return true; /* close-delimited */
    if (r->has_body && !c->body_started && r->expect_continue)
        return true; /* the client may or may not send the body it was not asked for */
    /* More body still to come than the layer would read and drop after the
     * response (the handler answered before taking it all): the connection
     * closes after this response, so say so now, not after the client has
     * sent its next request on it. */
    if (r->has_body && !r->chunked && !c->rb->msg_done &&
        (uint64_t)r->content_length - c->rb->body_seen > s->set.discard_max)
        return true;
    return false;
}

struct head_fmt {
    char *p;
    size_t left;
    bool overflow;
};

static void put(struct head_fmt *f, const char *s, size_t n)
{
    if (n > f->left) {
        f->overflow = true;
        return;
    }
    memcpy(f->p, s, n);
    f->p += n;
    f->left -= n;
}

static void puts_(struct head_fmt *f, const char *s)
{
    put(f, s, strlen(s));
}

static void put_header(struct head_fmt *f, const struct gw_http_header *h)
{
    put(f, h->name, h->name_len);
    put(f, ": ", 2);
    put(f, h->value, h->value_len);
    put(f, "\r\n", 2);
}

/* Format and queue a head. `req_head`: the request was HEAD. */
static int queue_head(struct gw_http_conn *c, int status, const char *reason, const struct gw_http_header *hs,
                      size_t n, int64_t cl, bool no_body)
{
    struct gw_http_server *s = c->s;
    size_t need = 128 + strlen(reason) + strlen(s->set.server_header);
    bool have_date = false, have_server = false;
    for (size_t i = 0; i < n; i++) {
        need += hs[i].name_len + hs[i].value_len + 4;
        have_date |= gw__ascii_ieq(hs[i].name, hs[i].name_len, "date");
        have_server |= gw__ascii_ieq(hs[i].name, hs[i].name_len, "server");
    }
    char *start = wq_reserve(c, need);
    if (start == NULL)
        return -ENOMEM;
    struct head_fmt f = {start, need, false};
    char line[64];
    memcpy(line, "HTTP/1.1 ", 9);
    gw_fmt_uint(line + 9, (uint64_t)status, 10); /* 200..599: three digits */
    line[12] = ' ';
    put(&f, line, 13);
    puts_(&f, reason);
    put(&f, "\r\n", 2);
    for (size_t i = 0; i < n; i++)
        if (!header_dropped(&hs[i]))
            put_header(&f, &hs[i]);
    if (!have_date)
        puts_(&f, date_line(s));
    if (!have_server && s->set.server_header[0]) {
        puts_(&f, "Server: ");
        puts_(&f, s->set.server_header);
        put(&f, "\r\n", 2);
    }
    if (cl >= 0 && status != 204) {
        size_t k = gw_fmt_uint(line, (uint64_t)cl, 10);
        memcpy(line + k, "\r\n", 2);
        puts_(&f, "Content-Length: ");
        put(&f, line, k + 2);
    } else if (c->resp_chunked) {
        puts_(&f, "Transfer-Encoding: chunked\r\n");
    }
    if (c->close_after)
        puts_(&f, "Connection: close\r\n");
    else if (c->rb && c->rb->req.version == 10)
        puts_(&f, "Connection: keep-alive\r\n");
    put(&f, "\r\n", 2);
    if (f.overflow)
        return -ENOMEM; /* cannot happen: need counts every byte */
    wq_commit(c, (size_t)(f.p - start));
    (void)no_body;
    return 0;
}

int gw_http_response_head(struct gw_http_conn *c, int status, const char *reason, const struct gw_http_header *hs,
                          size_t n, int64_t content_length)
{
    if (!c->req_active || c->head_sent || status < 200 || status > 599)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!header_ok(&hs[i]))
            return -EINVAL;
    if (reason == NULL)
        reason = fcgic_http_reason(status);
    for (const char *r = reason; *r; r++)
        if (*r == '\r' || *r == '\n')
            return -EINVAL;
    const struct gw_http_request *r = &c->rb->req;
    bool no_body = r->head || status == 204 || status == 304;
    c->close_after = must_close(c, content_length, no_body);
    c->resp_chunked = !no_body && content_length < 0 && r->version == 11;
    c->resp_no_body = no_body;
    c->resp_left = no_body ? -1 : content_length;
    int rc = queue_head(c, status, reason, hs, n, status == 204 ? -1 : content_length, no_body);
    if (rc != 0)
        return rc;
    c->head_sent = true;
    gw__conn_kick(c);
    return 0;
}

/* Body bytes in n pieces of `len` bytes in all (one chunk when chunked),
 * then `tail` (the last chunk, or nothing). A small amount is copied into
 * the queue and goes out with the head and the end in one system call when
 * this loop iteration's deferred work flushes the connection; a larger one
 * is offered to the socket now. */
static int body_out(struct gw_http_conn *c, const struct iovec *pieces, size_t n, size_t len, const char *tail,
                    size_t tail_len)
{
    struct iovec v[GW_IOV_NEW];
    char hex[24];
    size_t k = 0, total = len + tail_len;
    if (len && c->resp_chunked) {
        size_t hl = gw_fmt_uint(hex, len, 16);
        memcpy(hex + hl, "\r\n", 2);
        v[k] = (struct iovec){hex, hl + 2};
        total += v[k++].iov_len + 2;
    }
    for (size_t i = 0; i < n; i++)
        v[k++] = pieces[i];
    if (len && c->resp_chunked)
        v[k++] = (struct iovec){(void *)"\r\n", 2};
    if (tail_len)
        v[k++] = (struct iovec){(void *)tail, tail_len};
    if (k == 0)
        return 0;
    if (c->queued + total >= c->s->set.write_low_water)
        return gw__send(c, v, (int)k);
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++)
        rc = wq_append(c, v[i].iov_base, v[i].iov_len);
    gw__conn_kick(c);
    return rc;
}

/* Checks shared by write and gather; counts len against Content-Length. */
static int body_admit(struct gw_http_conn *c, size_t len)
{
    if (!c->req_active || !c->head_sent || c->resp_ended)
        return -EINVAL;
    if (c->dead)
        return -EPIPE;
    if (len > 0 && !c->resp_no_body && c->resp_left >= 0) {
        if (len > (uint64_t)c->resp_left)
            return -EMSGSIZE;
        c->resp_left -= (int64_t)len;
    }
    return 0;
}

/* 1 when what the socket has not taken reaches the high-water mark. */
static int above_high_water(struct gw_http_conn *c, size_t gathered)
{
    if (c->queued + (c->blocked ? gathered : 0) < c->s->set.write_high_water)
        return 0;
    c->above_hw = true;
    gw__conn_kick(c);
    return 1;
}

int gw_http_response_write(struct gw_http_conn *c, const void *data, size_t len)
{
    int rc = body_admit(c, len);
    if (rc == 0 && len > 0 && !c->resp_no_body) {
        struct iovec v = {(void *)data, len};
        rc = gw_http_response_push(c); /* keep the order */
        if (rc == 0)
            rc = body_out(c, &v, 1, len, NULL, 0);
    }
    return rc != 0 ? rc : above_high_water(c, 0);
}

int gw_http_response_gather(struct gw_http_conn *c, const void *data, size_t len)
{
    int rc = body_admit(c, len);
    if (rc != 0)
        return rc;
    struct gw__gather *g = &c->s->gather;
    if (len > 0 && !c->resp_no_body) {
        if (g->owner && g->owner != c)
            (void)gw_http_response_push(g->owner); /* its failure is its own connection's */
        if (g->owner == c && g->n == GW__GATHER_MAX && (rc = gw_http_response_push(c)) != 0)
            return rc;
        g->owner = c;
        g->v[g->n++] = (struct iovec){(void *)data, len};
        g->bytes += len;
    }
    return above_high_water(c, g->owner == c ? g->bytes : 0);
}

/* Take what c gathered: the pieces stay where they are until the next
 * gather of the server. */
static size_t gather_take(struct gw_http_conn *c, size_t *bytes)
{
    struct gw__gather *g = &c->s->gather;
    if (g->owner != c) {
        *bytes = 0;
        return 0;
    }
    size_t n = g->n;
    *bytes = g->bytes;
    g->owner = NULL;
    g->n = 0;
    g->bytes = 0;
    return n;
}

int gw_http_response_push(struct gw_http_conn *c)
{
    size_t bytes, n = gather_take(c, &bytes);
    return n ? body_out(c, c->s->gather.v, n, bytes, NULL, 0) : 0;
}

static void request_done(struct gw_http_conn *c)
{
    c->resp_ended = true;
    c->req_active = false;
    c->body_held = 0;
    gw__conn_kick(c);
}

int gw_http_response_end(struct gw_http_conn *c)
{
    if (!c->req_active || !c->head_sent || c->resp_ended)
        return -EINVAL;
    size_t bytes, n = gather_take(c, &bytes);
    /* a small end goes out with what precedes it, by request_done's kick */
    bool last_chunk = c->resp_chunked && !c->dead;
    if (body_out(c, c->s->gather.v, n, bytes, "0\r\n\r\n", last_chunk ? 5 : 0) != 0 || c->resp_left > 0)
        c->truncated = c->close_after = true;
    request_done(c);
    return 0;
}

void gw_http_response_abort(struct gw_http_conn *c)
{
    if (!c->req_active)
        return;
    if (!c->dead)
        (void)gw_http_response_push(c); /* what arrived before the break */
    gw__gather_drop(c);
    c->truncated = c->close_after = true;
    request_done(c);
}

/* A small text answer: head and "<status> <reason>\n". */
/* The text body of an error answer: "404 Not Found\n". */
static int error_body(char *buf, size_t size, int status)
{
    return snprintf(buf, size, "%d %s\n", status, fcgic_http_reason(status));
}

size_t gw_http_error_body_len(int status)
{
    char body[96];
    int n = error_body(body, sizeof body, status);
    return n > 0 ? (size_t)n : 0;
}

static int queue_error(struct gw_http_conn *c, int status)
{
    const char *reason = fcgic_http_reason(status);
    char body[96];
    int blen = error_body(body, sizeof body, status);
    static const struct gw_http_header ct = {"Content-Type", 12, "text/plain; charset=utf-8", 25};
    bool no_body = c->rb && c->rb->req.head;
    int rc = queue_head(c, status, reason, &ct, 1, blen, no_body);
    if (rc == 0 && !no_body)
        rc = wq_append(c, body, (size_t)blen);
    return rc;
}

int gw_http_response_error(struct gw_http_conn *c, int status)
{
    if (!c->req_active || c->head_sent || status < 200 || status > 599)
        return -EINVAL;
    const struct gw_http_request *r = &c->rb->req;
    c->close_after = must_close(c, 0, false);
    c->resp_chunked = false;
    int rc = queue_error(c, status);
    if (rc != 0)
        return rc;
    c->head_sent = true;
    request_done(c);
    (void)r;
    return 0;
}

int gw__send_error(struct gw_http_conn *c, int status)
{
    c->close_after = true;
    c->resp_chunked = false;
    int rc = queue_error(c, status);
    gw__flush(c);
    return rc;
}

int gw__send_continue(struct gw_http_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec v = {(void *)cont, sizeof cont - 1};
    return gw__send(c, &v, 1);
}
