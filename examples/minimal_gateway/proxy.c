/* The proxy handler: HTTP requests to FastCGI applications (proxy.h). */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errdoc.h"
#include "headers.h"
#include "log.h"
#include "route.h"
#include "status.h"

/* Body spans handed over by the HTTP layer and not yet given to the library. */
#define SPANS 16

struct preq {
    struct gw_worker_thread *t;
    struct gw_http_conn *c;        /* NULL once the HTTP request ended */
    const struct gw_http_request *req; /* valid while c is */
    struct gw_backend *be;
    struct fcgic_pool_req *ph;
    struct fcgic_balancer_req *bh;
    struct gw_status_req *sreq;    /* server-status or metrics, waiting for its numbers */
    bool submitted, head_sent, fcgi_paused, fcgi_ended;
    /* request body */
    struct fcgic_span spans[SPANS];
    size_t span_head, span_count;
    size_t inflight;               /* bytes of the chunk the library holds */
    bool body_end, body_waiting, chunked;
    char *spool;                   /* chunked body, held whole in memory ... */
    size_t spool_len, spool_cap;
    int spool_fd;                  /* ... or in an unlinked temporary file, -1 */
    size_t spool_pos;              /* next byte of the file to hand over */
    char *spool_buf;               /* the piece of the file the library holds */
    /* logging */
    char what[160];                /* "GET /uri" */
    char client[64];               /* "ip:port" */
    int status;                    /* sent to the client, 0 before */
    uint64_t body_bytes, start_ns;
    struct gw_route_out ro;        /* the mapping and the scopes (Header, ErrorDocument) */
};

/* STDERR lines logged per thread and second, at most; the rest are counted. */
#define STDERR_LINES_PER_SEC 100

/* ---- the library side ---- */

static void fcgi_resume(struct preq *p)
{
    uint64_t now = gw_loop_now(p->t->loop);
    if (p->ph)
        fcgic_pool_resume(p->be->pool, p->ph, now);
    else if (p->bh)
        fcgic_balancer_resume(p->be->bal, p->bh, now);
}

static void fcgi_unpause(struct preq *p)
{
    uint64_t now = gw_loop_now(p->t->loop);
    p->fcgi_paused = false;
    if (p->ph)
        fcgic_pool_unpause(p->be->pool, p->ph, now);
    else if (p->bh)
        fcgic_balancer_unpause(p->be->bal, p->bh, now);
}

static void fcgi_cancel(struct preq *p)
{
    uint64_t now = gw_loop_now(p->t->loop);
    if (p->ph)
        fcgic_pool_abort(p->be->pool, p->ph, now);
    else if (p->bh)
        fcgic_balancer_abort(p->be->bal, p->bh, now);
}

static void preq_free(struct preq *p)
{
    if (p->spool_fd >= 0)
        close(p->spool_fd);
    free(p->spool_buf);
    free(p->spool);
    free(p);
}

/* The access log line and the thread's counters of a request that ended. */
static void log_request(struct preq *p)
{
    struct gw_access a = {p->req, p->status, p->body_bytes, p->start_ns, gw_loop_now(p->t->loop)};
    gw_log_access(p->t->log, &a);
    gw_status_count(p->t, p->status, p->body_bytes);
}

/* Answer with the HTTP layer's error page; the access log counts its body. */
static void answer_error(struct preq *p, int status, bool apache_page)
{
    size_t len;
    p->status = gw_errdoc_respond(p->c, status, &p->ro, apache_page, &len);
    p->body_bytes = p->req->head ? 0 : len;
}

/* The HTTP request is over (answered or gone): log it, forget the
 * connection. */
static void http_done(struct preq *p)
{
    if (p->c) {
        log_request(p);
        gw_http_set_data(p->c, NULL);
    }
    p->c = NULL;
    if (p->fcgi_ended || !p->submitted)
        preq_free(p);
}

/* The Header lines of the merged scopes on the backend's headers. */
static size_t response_headers(struct preq *p, struct gw_http_header *hdrs, size_t n, size_t cap)
{
    static __thread char store[16384];
    struct gw_hdr_list l = {hdrs, n, cap, store, 0, sizeof store};
    for (size_t s = 0; s < p->ro.n_scopes; s++)
        if (gw_headers_apply(&l, p->ro.scopes[s]->headers, p->ro.scopes[s]->n_headers, false) != 0) {
            gw_log_error(p->t->log, GW_LOG_WARN, "headers", p->client, "%s: Header lines not all applied: too many "
                         "or too long", p->what);
            break;
        }
    return l.n;
}

static int on_head(void *ud, const struct fcgic_response_head *h)
{
    struct preq *p = ud;
    if (p->c == NULL)
        return 0;
    if (gw_errdoc_override(&p->ro, h->status)) {
        /* ProxyErrorOverride: our page; the backend's body is read and dropped */
        answer_error(p, h->status, true);
        p->head_sent = true;
        http_done(p);
        return 0;
    }
    struct gw_http_header hdrs[256]; /* the library's cap on CGI header fields */
    size_t n = 0;
    if (h->nheaders > sizeof hdrs / sizeof hdrs[0]) { /* never silently drop a field */
        gw_log_error(p->t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s (backend %s): %zu response header fields",
                     p->what, p->be->name, h->nheaders);
        answer_error(p, 502, false);
        http_done(p);
        return -1;
    }
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct fcgic_header *x = &h->headers[i];
        if (x->name_len == 6 && strncasecmp(x->name, "Status", 6) == 0)
            continue;
        hdrs[n++] = (struct gw_http_header){x->name, x->name_len, x->value, x->value_len};
    }
    n = response_headers(p, hdrs, n, sizeof hdrs / sizeof hdrs[0]);
    int status = h->status;
    /* A local redirect (Location: /path without Status) is not followed
     * internally as Apache does: it is sent to the client as a 302. */
    if (h->location_local && !h->status_explicit)
        status = 302;
    static __thread char reason[128];
    const char *rp = NULL;
    if (h->status_explicit && h->reason.len && h->reason.len < sizeof reason) {
        memcpy(reason, h->reason.ptr, h->reason.len);
        reason[h->reason.len] = '\0';
        rp = reason;
    }
    if (gw_http_response_head(p->c, status, rp, hdrs, n, -1) != 0) {
        /* a header the HTTP layer refuses (control bytes, not a token) */
        gw_log_error(p->t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s (backend %s): a response header was refused",
                     p->what, p->be->name);
        answer_error(p, 502, false);
        http_done(p);
        return -1;
    }
    p->head_sent = true;
    p->status = status;
    return 0;
}

/* Body pieces are gathered by reference (they point into the library's
 * read buffer) and written together at the end of the read: on_flush, or
 * with the end of the response in on_end. */
static int on_body(void *ud, const char *data, size_t len)
{
    struct preq *p = ud;
    if (p->c == NULL)
        return 0;
    int rc = gw_http_response_gather(p->c, data, len);
    if (rc < 0)
        return -1;
    if (!p->req->head && p->status != 204 && p->status != 304)
        p->body_bytes += len; /* what reaches the client */
    if (rc == 1) {
        p->fcgi_paused = true;
        return FCGIC_PAUSE;
    }
    return 0;
}

static void on_flush(void *ud)
{
    struct preq *p = ud;
    if (p->c)
        (void)gw_http_response_push(p->c); /* a failure comes back as on_client_gone */
}

/* A new second of the STDERR rate limit: say how many lines the last one
 * dropped. */
static void stderr_new_second(struct gw_worker_thread *t, uint64_t sec)
{
    if (t->stderr_dropped)
        gw_log_error(t->log, GW_LOG_WARN, "proxy_fcgi", NULL, "%lu lines of application STDERR not logged",
                     t->stderr_dropped);
    t->stderr_sec = sec;
    t->stderr_lines = 0;
    t->stderr_dropped = 0;
}

void gw_proxy_stderr_timer(struct gw_loop *loop, struct gw_timer *tm)
{
    struct gw_worker_thread *t = GW_CONTAINER_OF(tm, struct gw_worker_thread, stderr_timer);
    uint64_t sec = gw_loop_now(loop) / 1000000000ull;
    if (sec != t->stderr_sec)
        stderr_new_second(t, sec);
}

/* STDERR lines go to the error log with the request and the backend, at
 * most STDERR_LINES_PER_SEC per thread; never into the response. The count
 * of lines dropped in a second is logged when the second is over. */
static int on_stderr(void *ud, const char *line, size_t len)
{
    struct preq *p = ud;
    struct gw_worker_thread *t = p->t;
    uint64_t sec = gw_loop_now(t->loop) / 1000000000ull;
    if (sec != t->stderr_sec)
        stderr_new_second(t, sec);
    if (t->stderr_lines++ >= STDERR_LINES_PER_SEC) {
        if (t->stderr_dropped++ == 0) /* report it even if no line follows */
            gw_timer_start(t->loop, &t->stderr_timer, (sec + 1) * 1000000000ull);
        return 0;
    }
    gw_log_error(t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s (backend %s): %.*s", p->what, p->be->name,
                 (int)(len < 4000 ? len : 4000), line);
    return 0;
}

static void on_end(void *ud, const struct fcgic_result *res)
{
    struct preq *p = ud;
    p->fcgi_ended = true;
    p->ph = NULL;
    p->bh = NULL;
    p->t->active--;
    if (p->c) {
        int status = fcgic_http_status_for_result(res);
        if (status != 0 && res->error != FCGIC_E_ABORTED)
            gw_log_error(p->t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s (backend %s): %s (%s)%s%s", p->what,
                         p->be->name, res->error ? fcgic_strerror(res->error) : "the application refused the request",
                         res->error ? fcgic_strerror_name(res->error) : "protocolStatus", res->sys_errno ? ": " : "",
                         res->sys_errno ? strerror(res->sys_errno) : "");
        if (status == 0) {
            if (gw_http_response_end(p->c) != 0)
                gw_http_response_abort(p->c);
        } else if (!p->head_sent) {
            answer_error(p, status == 499 ? 503 : status, false);
        } else {
            gw_http_response_abort(p->c); /* the truncation shows: no final chunk */
        }
        http_done(p);
        return;
    }
    preq_free(p);
}

/* The next piece of a body spooled to a file; the previous piece is no
 * longer needed when the library asks for the next. */
static int spool_read(struct preq *p, struct fcgic_span *chunk)
{
    if (p->spool_pos == p->spool_len)
        return FCGIC_BODY_EOF;
    if (p->spool_buf == NULL && (p->spool_buf = malloc(GW_PROXY_SPOOL_PIECE)) == NULL)
        return -1;
    size_t n = p->spool_len - p->spool_pos < GW_PROXY_SPOOL_PIECE ? p->spool_len - p->spool_pos
                                                                   : GW_PROXY_SPOOL_PIECE;
    ssize_t k;
    do {
        k = pread(p->spool_fd, p->spool_buf, n, (off_t)p->spool_pos);
    } while (k < 0 && errno == EINTR);
    if (k <= 0)
        return -1;
    p->spool_pos += (size_t)k;
    *chunk = (struct fcgic_span){p->spool_buf, (size_t)k};
    return FCGIC_BODY_CHUNK;
}

/* Hand the next body span to the library. The previous chunk is released
 * now: the library needs it only until this call. */
static int body_read(void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct preq *p = ud;
    (void)stream;
    if (p->c == NULL)
        return -1;
    if (p->spool_fd >= 0)
        return spool_read(p, chunk);
    if (p->inflight) {
        gw_http_body_consumed(p->c, p->inflight);
        p->inflight = 0;
        gw_http_body_resume(p->c);
    }
    if (p->span_count) {
        *chunk = p->spans[p->span_head];
        p->span_head = (p->span_head + 1) % SPANS;
        p->span_count--;
        p->inflight = chunk->len;
        return FCGIC_BODY_CHUNK;
    }
    if (p->body_end)
        return FCGIC_BODY_EOF;
    p->body_waiting = true;
    return FCGIC_BODY_AGAIN;
}

void gw_proxy_pool_callbacks(struct fcgic_pool_callbacks *cb)
{
    memset(cb, 0, sizeof *cb);
    cb->version = FCGIC_POOL_CALLBACKS_VERSION;
    cb->on_head = on_head;
    cb->on_body = on_body;
    cb->on_flush = on_flush;
    cb->on_stderr = on_stderr;
    cb->on_end = on_end;
    cb->body_read = body_read;
}

/* ---- the HTTP side ---- */

/* server-status or metrics answered (status.c). */
static void status_done(void *ud, int status, uint64_t body_bytes)
{
    struct preq *p = ud;
    p->sreq = NULL;
    p->status = status;
    p->body_bytes = body_bytes;
    http_done(p);
}

/* A request the pool runs again by itself when a kept connection turns out
 * closed (bodiless GET or HEAD): see tr_check in worker.c. */
static bool replayable(const struct gw_http_request *req, const struct fcgic_request *fr)
{
    if (fr->stdin_mode != FCGIC_BODY_NONE)
        return false;
    return req->head || (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0);
}

static void submit(struct preq *p, const struct gw_http_request *req)
{
    struct gw_worker_thread *t = p->t;
    int status = gw_route(t, req, p->chunked ? (long long)p->spool_len : -1, &p->ro);
    if (status == GW_ROUTE_STATUS || status == GW_ROUTE_METRICS) {
        struct gw_status_req *sr = gw_status_serve(
            t, p->c, req, status == GW_ROUTE_STATUS ? GW_STATUS_PAGE : GW_STATUS_METRICS, status_done, p);
        if (sr) /* else answered already, and p is gone */
            p->sreq = sr;
        return;
    }
    uint64_t body_len = p->chunked ? p->spool_len : req->content_length > 0 ? (uint64_t)req->content_length : 0;
    if (status == 0 && p->ro.limit_body_set && p->ro.limit_body && body_len > p->ro.limit_body)
        status = 413; /* LimitRequestBody of a section */
    if (status == 0 && (p->be = gw_worker_backend(t, p->ro.mapping)) == NULL)
        status = 500;
    if (status) {
        answer_error(p, status, false);
        http_done(p);
        return;
    }
    struct fcgic_request fr;
    memset(&fr, 0, sizeof fr);
    fr.params = fcgic_env_params(t->env);
    fr.nparams = fcgic_env_count(t->env);
    if (p->chunked && p->spool_fd >= 0) {
        fr.stdin_mode = FCGIC_BODY_STREAM;
    } else if (p->chunked) {
        fr.stdin_mode = p->spool_len ? FCGIC_BODY_BUFFER : FCGIC_BODY_NONE;
        fr.stdin_data = p->spool;
        fr.stdin_len = p->spool_len;
    } else {
        fr.stdin_mode = req->has_body ? FCGIC_BODY_STREAM : FCGIC_BODY_NONE;
    }
    uint64_t now = gw_loop_now(t->loop);
    t->submit_replayable = replayable(req, &fr);
    int rc = p->be->pool ? fcgic_pool_submit(p->be->pool, &fr, p, &p->ph, now)
                         : fcgic_balancer_submit(p->be->bal, &fr, p, &p->bh, now);
    t->submit_replayable = false;
    if (rc != 0) {
        int se = fcgic_posix_last_errno(t->px); /* a connect refused at once */
        gw_log_error(t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s (backend %s): %s (%s)%s%s", p->what,
                     p->be->name, fcgic_strerror(rc), fcgic_strerror_name(rc), se ? ": " : "", se ? strerror(se) : "");
        int st = fcgic_http_status_for_error(rc);
        answer_error(p, st >= 400 && st != 499 ? st : 500, false);
        http_done(p);
        return;
    }
    p->submitted = true;
    t->active++;
    if (!p->chunked && req->has_body && p->c)
        gw_http_body_start(p->c);
}

static void h_request(struct gw_http_conn *c, const struct gw_http_request *req, void *ud)
{
    struct gw_worker_thread *t = ud;
    struct preq *p = calloc(1, sizeof *p);
    if (p == NULL) {
        gw_http_response_error(c, 503);
        return;
    }
    p->t = t;
    p->c = c;
    p->req = req;
    p->spool_fd = -1;
    p->start_ns = gw_loop_now(t->loop);
    /* for the error log: "ip:port" and "METHOD /target", both cut short */
    size_t ipl = strnlen(req->client_ip, sizeof p->client - 8);
    memcpy(p->client, req->client_ip, ipl);
    p->client[ipl] = ':';
    p->client[ipl + 1 + gw_fmt_uint(p->client + ipl + 1, req->client_port, 10)] = '\0';
    size_t ml = req->method_len < 16 ? req->method_len : 16, tl = req->target_len < 128 ? req->target_len : 128;
    memcpy(p->what, req->method, ml);
    p->what[ml] = ' ';
    memcpy(p->what + ml + 1, req->target, tl);
    p->what[ml + 1 + tl] = '\0';
    gw_http_set_data(c, p);
    if (req->chunked) {
        /* Spool the whole body first: CONTENT_LENGTH must be known. */
        p->chunked = true;
        gw_http_body_start(c);
        return;
    }
    submit(p, req);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, data, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        data += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Move the body spooled in memory to an unlinked temporary file. */
static int spool_to_file(struct preq *p)
{
    int fd = open(GW_PROXY_SPOOL_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[] = GW_PROXY_SPOOL_DIR "/gw-body-XXXXXX";
        if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
            return -1;
        unlink(path);
    }
    if (write_all(fd, p->spool, p->spool_len) != 0) {
        close(fd);
        return -1;
    }
    free(p->spool);
    p->spool = NULL;
    p->spool_cap = 0;
    p->spool_fd = fd;
    return 0;
}

/* Keep a piece of a chunked body: in memory up to GW_PROXY_SPOOL_MEM, then
 * in a file (the HTTP layer caps the whole at LimitRequestBody). Returns 0
 * or the status to answer. */
static int spool(struct preq *p, const char *data, size_t len)
{
    if (p->spool_fd < 0 && p->spool_len + len > GW_PROXY_SPOOL_MEM && spool_to_file(p) != 0) {
        gw_log_error(p->t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s: cannot spool the request body: %s",
                     p->what, strerror(errno));
        return 500;
    }
    if (p->spool_fd >= 0) {
        if (write_all(p->spool_fd, data, len) != 0) {
            gw_log_error(p->t->log, GW_LOG_ERR, "proxy_fcgi", p->client, "%s: cannot spool the request body: %s",
                         p->what, strerror(errno));
            return 500;
        }
        p->spool_len += len;
        return 0;
    }
    if (p->spool_len + len > p->spool_cap) {
        size_t cap = p->spool_cap ? p->spool_cap : 16384;
        while (cap < p->spool_len + len)
            cap *= 2;
        char *n = realloc(p->spool, cap);
        if (n == NULL)
            return 500;
        p->spool = n;
        p->spool_cap = cap;
    }
    memcpy(p->spool + p->spool_len, data, len);
    p->spool_len += len;
    return 0;
}

static void h_body(struct gw_http_conn *c, const char *data, size_t len, void *ud)
{
    (void)ud;
    struct preq *p = gw_http_data(c);
    if (p == NULL)
        return;
    if (p->chunked) {
        int status = spool(p, data, len);
        if (status) {
            answer_error(p, status, false);
            http_done(p);
            return;
        }
        gw_http_body_consumed(c, len);
        return;
    }
    p->spans[(p->span_head + p->span_count) % SPANS] = (struct fcgic_span){data, len};
    p->span_count++;
    if (p->span_count == SPANS)
        gw_http_body_pause(c);
    if (p->body_waiting) {
        p->body_waiting = false;
        fcgi_resume(p);
    }
}

static void h_body_end(struct gw_http_conn *c, void *ud)
{
    (void)ud;
    struct preq *p = gw_http_data(c);
    if (p == NULL)
        return;
    p->body_end = true;
    if (p->chunked) {
        submit(p, p->req);
        return;
    }
    if (p->body_waiting) {
        p->body_waiting = false;
        fcgi_resume(p);
    }
}

static void h_drain(struct gw_http_conn *c, void *ud)
{
    (void)ud;
    struct preq *p = gw_http_data(c);
    if (p && p->fcgi_paused)
        fcgi_unpause(p);
}

static void h_client_gone(struct gw_http_conn *c, int why, void *ud)
{
    (void)ud;
    (void)why;
    struct preq *p = gw_http_data(c);
    if (p == NULL)
        return;
    log_request(p);
    gw_http_set_data(c, NULL);
    p->c = NULL;
    gw_status_cancel(p->sreq);
    p->sreq = NULL;
    if (p->submitted && !p->fcgi_ended)
        fcgi_cancel(p); /* on_end runs now and frees p */
    else
        preq_free(p);
}

void gw_proxy_http_handler(struct gw_http_handler *h, struct gw_worker_thread *t)
{
    memset(h, 0, sizeof *h);
    h->on_request = h_request;
    h->on_body = h_body;
    h->on_body_end = h_body_end;
    h->on_drain = h_drain;
    h->on_client_gone = h_client_gone;
    h->ud = t;
}
