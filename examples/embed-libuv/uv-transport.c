/* A struct fcgic_transport on libuv (see uv-transport.h).
 *
 * Per connection: a uv_tcp_t or uv_pipe_t, a uv_timer_t for the engine's
 * deadline, and this file's struct uvc, kept in the engine with
 * fcgic_conn_set_transport_data() (the engine's own user data belongs to the
 * pool). Every call into the engine is bracketed by uvc_enter()/uvc_leave():
 * a kick or close that arrives while one of ours is on the stack (a pool
 * callback running inside fcgic_conn_recv(), say) only sets a flag, and
 * uvc_leave() does the work once the engine call has returned. A kick or
 * close that arrives while one of the engine's callbacks runs inside a call
 * we did not make (the pool's fcgic_conn_submit() pulling a body) is done
 * from the connection's timer, started with timeout 0. */
#include "uv-transport.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define UVT_IOV 64
#define UVT_READ_BUF 65536
#define UVT_CHECK_BUF 4096
#define MS 1000000ull

struct uvc;

struct uvt {
    uv_loop_t *loop;
    struct uvc *head;
    size_t count; /* struct uvc not yet freed */
    bool freeing;
    /* libuv reads land here and go to the engine at once; what a pausing
     * callback left is copied into the connection's held buffer */
    char rbuf[UVT_READ_BUF];
};

struct uvc {
    struct uvt *t;
    struct fcgic_conn *c; /* NULL once closed */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_write_t write_req;
    size_t inflight; /* bytes handed to uv_write, not yet acknowledged */
    uint64_t armed;  /* what the timer is set for, FCGIC_NO_DEADLINE: stopped */
    char *held;      /* input not taken after FCGIC_PAUSE */
    size_t held_len, held_off;
    unsigned busy; /* our calls into the engine on the stack */
    int handles;   /* libuv handles not closed yet */
    bool connecting, reading, paused, eof, dead, sock_closed;
    bool kick_pending, close_pending;
    struct uvc *prev, *next;
};

static void uvc_leave(struct uvc *u);
static void on_timer(uv_timer_t *tm);

static uint64_t now_ns(void)
{
    return uv_hrtime(); /* the clock of the pools using this transport */
}

/* ---- closing ---------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    struct uvc *u = h->data;
    if (--u->handles > 0)
        return;
    struct uvt *t = u->t;
    free(u->held);
    free(u);
    if (--t->count == 0 && t->freeing)
        free(t);
}

/* The socket goes, the engine stays until the pool closes it (a finished
 * or failed engine: transport.h). Also stops libuv from writing bytes the
 * failed engine no longer keeps. */
static void uvc_release_socket(struct uvc *u)
{
    if (u->sock_closed)
        return;
    u->sock_closed = true;
    u->reading = false;
    uv_close(&u->io.handle, on_closed);
}

static void uvc_destroy(struct uvc *u)
{
    struct uvt *t = u->t;
    if (u->prev)
        u->prev->next = u->next;
    else
        t->head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    fcgic_conn_set_transport_data(u->c, NULL);
    fcgic_conn_free(u->c);
    u->c = NULL;
    u->close_pending = false;
    uvc_release_socket(u);
    uv_close((uv_handle_t *)&u->timer, on_closed);
}

/* ---- timers ----------------------------------------------------------- */

static void uvc_arm(struct uvc *u, uint64_t deadline)
{
    if (deadline == u->armed)
        return;
    u->armed = deadline;
    if (deadline == FCGIC_NO_DEADLINE) {
        uv_timer_stop(&u->timer);
        return;
    }
    uint64_t now = now_ns();
    uv_timer_start(&u->timer, on_timer, deadline > now ? (deadline - now + MS - 1) / MS : 0, 0);
}

/* Work for the next loop iteration: a kick or close from inside a callback
 * of the engine that runs in a call we did not make. */
static void uvc_soon(struct uvc *u)
{
    u->armed = 0;
    uv_timer_start(&u->timer, on_timer, 0, 0);
}

/* ---- input ------------------------------------------------------------ */

static void uvc_hold(struct uvc *u, const char *data, size_t len, uint64_t now)
{
    u->paused = true;
    u->held_off = 0;
    u->held_len = 0;
    if (len == 0)
        return;
    char *p = realloc(u->held, len);
    if (!p) {
        u->dead = true;
        fcgic_conn_fail(u->c, FCGIC_E_NOMEM, now);
        return;
    }
    memcpy(p, data, len);
    u->held = p;
    u->held_len = len;
}

/* Bytes read: the engine takes them, unless a callback pauses, and then the
 * rest waits in held until the embedder unpauses (kick). */
static void uvc_feed(struct uvc *u, const char *data, size_t len, uint64_t now)
{
    size_t used = 0;
    int rc = fcgic_conn_recv(u->c, data, len, &used, now);
    if (rc < 0 || u->close_pending)
        return;
    if (used < len || fcgic_conn_input_paused(u->c))
        uvc_hold(u, data + used, len - used, now);
}

/* On a kick after a pause: one engine call with what was held, since the
 * callback that paused asked to stop. */
static void uvc_feed_held(struct uvc *u, uint64_t now)
{
    if (!u->paused || u->dead || fcgic_conn_in_callback(u->c))
        return;
    if (u->held_off >= u->held_len) {
        u->held_len = u->held_off = 0;
        u->paused = false;
        if (fcgic_conn_input_paused(u->c))
            fcgic_conn_unpause(u->c);
        return;
    }
    size_t used = 0;
    int rc = fcgic_conn_recv(u->c, u->held + u->held_off, u->held_len - u->held_off, &used, now);
    u->held_off += used;
    if (rc < 0 || u->held_off >= u->held_len) {
        u->held_len = u->held_off = 0;
        u->paused = rc >= 0 && fcgic_conn_input_paused(u->c); /* paused again on the last byte */
    }
}

/* ---- output: the engine's iovecs, never copied ----------------------- */

static void on_written(uv_write_t *req, int status);

/* uv_try_write took `done` of the `total` bytes in bufs: the rest goes out
 * with uv_write from the same memory, which the engine keeps in place until
 * fcgic_conn_out_done() covers it. */
static void uvc_write_rest(struct uvc *u, uv_buf_t *bufs, size_t n, size_t done, size_t total, uint64_t now)
{
    size_t i = 0, skip = done;
    while (skip >= bufs[i].len) {
        skip -= bufs[i].len;
        i++;
    }
    bufs[i].base += skip;
    bufs[i].len -= (unsigned)skip;
    int r = uv_write(&u->write_req, &u->io.stream, bufs + i, (unsigned)(n - i), on_written);
    if (r < 0) {
        u->dead = true;
        fcgic_conn_fail_errno(u->c, FCGIC_E_IO, -r, now);
        return;
    }
    u->inflight = total - done;
    if (done > 0)
        fcgic_conn_out_done(u->c, done, now);
}

static void uvc_flush(struct uvc *u, uint64_t now)
{
    struct fcgic_iov iov[UVT_IOV];
    uv_buf_t bufs[UVT_IOV];
    while (!u->connecting && !u->dead && !u->sock_closed && !u->close_pending && u->inflight == 0 &&
           !fcgic_conn_in_callback(u->c)) {
        size_t n = fcgic_conn_out_iov(u->c, iov, UVT_IOV), nb = 0, total = 0;
        if (n == 0)
            return;
        while (nb < n) {
            size_t len = iov[nb].len > UINT_MAX ? UINT_MAX : iov[nb].len;
            bufs[nb] = uv_buf_init(iov[nb].base, (unsigned)len);
            total += len;
            if (len < iov[nb++].len)
                break;
        }
        int w = uv_try_write(&u->io.stream, bufs, (unsigned)nb);
        if (w == UV_EAGAIN)
            w = 0;
        if (w < 0) {
            u->dead = true;
            fcgic_conn_fail_errno(u->c, FCGIC_E_IO, -w, now);
            return;
        }
        if ((size_t)w < total) {
            uvc_write_rest(u, bufs, nb, (size_t)w, total, now);
            return;
        }
        if (fcgic_conn_out_done(u->c, total, now) < 0)
            return;
    }
}

/* ---- after every engine call ----------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Read interest and the deadline timer follow the engine. */
static void uvc_update(struct uvc *u)
{
    unsigned w = fcgic_conn_wants(u->c);
    if ((w & FCGIC_WANT_CLOSE) && (fcgic_conn_error(u->c) || (fcgic_conn_out_pending(u->c) == 0 && u->inflight == 0)))
        uvc_release_socket(u); /* failed, or finished with nothing left to send */
    bool want_read = !u->sock_closed && !u->connecting && !u->dead && !u->eof && !u->paused && (w & FCGIC_WANT_READ);
    if (want_read && !u->reading) {
        u->reading = uv_read_start(&u->io.stream, on_alloc, on_read) == 0;
    } else if (!want_read && u->reading) {
        uv_read_stop(&u->io.stream);
        u->reading = false;
    }
    uvc_arm(u, (w & FCGIC_WANT_CLOSE) ? FCGIC_NO_DEADLINE : fcgic_conn_deadline(u->c));
}

static void uvc_enter(struct uvc *u)
{
    u->busy++;
}

/* Leave an engine call; once none of ours is on the stack, do what was
 * deferred: close, feed held input, write. */
static void uvc_leave(struct uvc *u)
{
    if (--u->busy > 0)
        return;
    for (;;) {
        if (u->close_pending) {
            uvc_destroy(u);
            return;
        }
        bool kick = u->kick_pending;
        u->kick_pending = false;
        uint64_t now = now_ns();
        u->busy++;
        if (kick)
            uvc_feed_held(u, now);
        uvc_flush(u, now);
        u->busy--;
        if (!u->kick_pending && !u->close_pending)
            break;
    }
    uvc_update(u);
}

/* ---- libuv callbacks -------------------------------------------------- */

/* A libuv callback for u: false when u is closed or about to be. */
static bool uvc_usable(struct uvc *u)
{
    if (!u->c)
        return false;
    if (u->close_pending) {
        if (!u->busy)
            uvc_destroy(u);
        return false;
    }
    return true;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct uvc *u = req->data;
    if (status == UV_ECANCELED || u->sock_closed || !uvc_usable(u))
        return;
    uint64_t now = now_ns();
    uvc_enter(u);
    u->connecting = false;
    if (status < 0) {
        u->dead = true;
        fcgic_conn_fail_errno(u->c, FCGIC_E_CONNECT, -status, now);
    } else {
        fcgic_conn_connected(u->c, now);
        u->kick_pending = true; /* write what was submitted meanwhile */
    }
    uvc_leave(u);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct uvc *u = h->data;
    (void)suggested;
    *buf = uv_buf_init(u->t->rbuf, sizeof u->t->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct uvc *u = s->data;
    if (nread == 0 || u->eof || u->sock_closed || !uvc_usable(u))
        return;
    uint64_t now = now_ns();
    uvc_enter(u);
    if (nread > 0) {
        uvc_feed(u, buf->base, (size_t)nread, now);
    } else if (nread == UV_EOF) {
        u->eof = true;
        u->reading = false; /* libuv stopped reading */
        fcgic_conn_recv_eof(u->c, now);
    } else {
        u->dead = true;
        fcgic_conn_fail_errno(u->c, FCGIC_E_IO, (int)-nread, now);
    }
    uvc_leave(u);
}

static void on_written(uv_write_t *req, int status)
{
    struct uvc *u = req->data;
    size_t n = u->inflight;
    u->inflight = 0;
    if (status == UV_ECANCELED || u->sock_closed || !uvc_usable(u))
        return; /* the socket was closed under the write */
    uint64_t now = now_ns();
    uvc_enter(u);
    if (status < 0) {
        u->dead = true;
        fcgic_conn_fail_errno(u->c, FCGIC_E_IO, -status, now);
    } else {
        fcgic_conn_out_done(u->c, n, now);
    }
    uvc_leave(u);
}

static void on_timer(uv_timer_t *tm)
{
    struct uvc *u = tm->data;
    u->armed = FCGIC_NO_DEADLINE; /* a one-shot timer is stopped once it fired */
    if (!uvc_usable(u))
        return;
    uint64_t now = now_ns();
    uvc_enter(u);
    if (fcgic_conn_deadline(u->c) <= now)
        fcgic_conn_tick(u->c, now);
    uvc_leave(u);
}

/* ---- the transport operations ---------------------------------------- */

/* fcgi://IP:port only: host names need a lookup (uv_getaddrinfo) before
 * the connect, which this example leaves out. */
static int tcp_address(const struct fcgic_env_target *et, struct sockaddr_storage *ss)
{
    char host[64];
    if (et->port == 0 || et->port > 65535)
        return FCGIC_E_BAD_ADDRESS;
    if (et->host.len >= sizeof host)
        return FCGIC_E_RESOLVE;
    memcpy(host, et->host.ptr, et->host.len);
    host[et->host.len] = '\0';
    memset(ss, 0, sizeof *ss);
    int r = et->ipv6 ? uv_ip6_addr(host, (int)et->port, (struct sockaddr_in6 *)ss)
                     : uv_ip4_addr(host, (int)et->port, (struct sockaddr_in *)ss);
    return r == 0 ? 0 : FCGIC_E_RESOLVE;
}

static struct uvc *uvc_new(struct uvt *t, bool is_unix)
{
    struct uvc *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    int r = is_unix ? uv_pipe_init(t->loop, &u->io.pipe, 0) : uv_tcp_init(t->loop, &u->io.tcp);
    if (r != 0) {
        free(u);
        return NULL;
    }
    uv_timer_init(t->loop, &u->timer);
    u->t = t;
    u->handles = 2;
    u->io.handle.data = u;
    u->timer.data = u;
    u->connect_req.data = u;
    u->write_req.data = u;
    u->armed = FCGIC_NO_DEADLINE;
    u->connecting = true;
    t->count++;
    u->next = t->head;
    if (t->head)
        t->head->prev = u;
    t->head = u;
    return u;
}

static int t_open(void *ud, const char *target, const struct fcgic_conn_options *opts,
                  const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                  struct fcgic_conn **out, int *sys_errno, uint64_t now)
{
    struct uvt *t = ud;
    struct fcgic_env_target et;
    struct sockaddr_storage ss;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    *sys_errno = 0;
    if (fcgic_env_parse_target(target, strlen(target), &et) != 0)
        return FCGIC_E_BAD_ADDRESS;
    bool is_unix = et.unix_path.len > 0;
    if (is_unix) {
        if (et.unix_path.len >= sizeof path)
            return FCGIC_E_BAD_ADDRESS;
        memcpy(path, et.unix_path.ptr, et.unix_path.len);
        path[et.unix_path.len] = '\0';
    } else {
        int rc = tcp_address(&et, &ss);
        if (rc != 0)
            return rc;
    }
    struct fcgic_conn *c;
    int rc = fcgic_conn_new(&c, opts, cb, conn_ud, mem);
    if (rc != 0)
        return rc;
    struct uvc *u = uvc_new(t, is_unix);
    if (!u) {
        fcgic_conn_free(c);
        return FCGIC_E_NOMEM;
    }
    u->c = c;
    fcgic_conn_set_transport_data(c, u);
    fcgic_conn_connecting(c, now);
    if (is_unix) {
        uv_pipe_connect(&u->connect_req, &u->io.pipe, path, on_connect); /* reports through on_connect */
    } else {
        uv_tcp_nodelay(&u->io.tcp, 1);
        int r = uv_tcp_connect(&u->connect_req, &u->io.tcp, (const struct sockaddr *)&ss, on_connect);
        if (r < 0) {
            *sys_errno = -r;
            uvc_destroy(u);
            return FCGIC_E_CONNECT;
        }
    }
    uvc_arm(u, fcgic_conn_deadline(c)); /* the connect timeout */
    *out = c;
    return 0;
}

static void t_kick(void *ud, struct fcgic_conn *c, uint64_t now)
{
    struct uvc *u = fcgic_conn_transport_data(c);
    (void)ud;
    (void)now;
    if (!u || u->close_pending)
        return;
    u->kick_pending = true;
    if (u->busy)
        return; /* done when our engine call returns */
    if (fcgic_conn_in_callback(c)) {
        uvc_soon(u);
        return;
    }
    uvc_enter(u);
    uvc_leave(u);
}

static void t_close(void *ud, struct fcgic_conn *c)
{
    struct uvc *u = fcgic_conn_transport_data(c);
    (void)ud;
    if (!u || u->close_pending)
        return;
    if (u->busy || fcgic_conn_in_callback(c)) {
        u->close_pending = true;
        if (!u->busy)
            uvc_soon(u);
        return;
    }
    uvc_destroy(u);
}

/* Before the pool reuses an idle connection: whatever the application sent
 * since (its close, stray bytes), read without waiting. The buffer is this
 * call's own: a read callback further up the stack may still be feeding the
 * shared one. */
static void t_check(void *ud, struct fcgic_conn *c, uint64_t now)
{
    struct uvc *u = fcgic_conn_transport_data(c);
    uv_os_fd_t fd;
    char buf[UVT_CHECK_BUF];
    (void)ud;
    if (!u || u->busy || u->close_pending || u->connecting || u->dead || u->eof || u->paused || u->sock_closed ||
        fcgic_conn_in_callback(c) || uv_fileno(&u->io.handle, &fd) != 0)
        return;
    uvc_enter(u);
    while (!u->paused && !fcgic_conn_error(c)) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            uvc_feed(u, buf, (size_t)n, now);
            continue;
        }
        if (n == 0) {
            u->eof = true;
            fcgic_conn_recv_eof(c, now);
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            u->dead = true;
            fcgic_conn_fail_errno(c, FCGIC_E_IO, errno, now);
        }
        break;
    }
    uvc_leave(u);
}

/* ---- the object ------------------------------------------------------- */

int uvt_new(struct uvt **out, uv_loop_t *loop)
{
    struct uvt *t = calloc(1, sizeof *t);
    if (!t)
        return FCGIC_E_NOMEM;
    t->loop = loop;
    *out = t;
    return 0;
}

void uvt_transport(struct uvt *t, struct fcgic_transport *out)
{
    memset(out, 0, sizeof *out);
    out->version = FCGIC_TRANSPORT_VERSION;
    out->ud = t;
    out->open = t_open;
    out->kick = t_kick;
    out->close = t_close;
    out->check = t_check;
}

size_t uvt_count(const struct uvt *t)
{
    return t->count;
}

void uvt_free(struct uvt *t)
{
    if (!t)
        return;
    while (t->head)
        uvc_destroy(t->head);
    t->freeing = true;
    if (t->count == 0)
        free(t);
}
