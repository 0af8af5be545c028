/* One thread of minimal_gateway (worker.h). */
#include "worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"

/* How long requests in flight may take to finish after a stop was asked. */
#define DRAIN_GRACE_NS (10ull * 1000000000ull)
#define DRAIN_POLL_NS (20ull * 1000000ull)

/* A socket of the POSIX transport, watched by the loop. */
struct gw_fdwatch {
    struct gw_watch w;
    struct gw_worker_thread *t;
};

/* ---- the POSIX transport in the thread's loop ---- */

static void fd_ready(struct gw_loop *loop, struct gw_watch *w, unsigned events)
{
    struct gw_fdwatch *fw = GW_CONTAINER_OF(w, struct gw_fdwatch, w);
    unsigned ev = (events & GW_IO_IN ? FCGIC_POSIX_IN : 0) | (events & GW_IO_OUT ? FCGIC_POSIX_OUT : 0) |
                  (events & (GW_IO_ERR | GW_IO_RDHUP) ? FCGIC_POSIX_ERR : 0);
    fcgic_posix_socket_action(fw->t->px, w->fd, ev, gw_loop_now(loop));
}

static void on_socket(void *ud, int fd, unsigned what, struct fcgic_conn *c)
{
    struct gw_worker_thread *t = ud;
    (void)c;
    if (fd < 0)
        return;
    if ((size_t)fd >= t->n_fdw) {
        size_t n = t->n_fdw ? t->n_fdw : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct gw_fdwatch **a = realloc(t->fdw, n * sizeof *a);
        if (a == NULL)
            return; /* the socket stays unwatched: its request times out */
        memset(a + t->n_fdw, 0, (n - t->n_fdw) * sizeof *a);
        t->fdw = a;
        t->n_fdw = n;
    }
    struct gw_fdwatch *fw = t->fdw[fd];
    if (what & FCGIC_POSIX_REMOVE) {
        if (fw) {
            gw_watch_stop(t->loop, &fw->w);
            free(fw);
            t->fdw[fd] = NULL;
        }
        return;
    }
    unsigned interest = (what & FCGIC_POSIX_IN ? GW_IO_IN : 0) | (what & FCGIC_POSIX_OUT ? GW_IO_OUT : 0);
    if (fw == NULL) {
        if ((fw = calloc(1, sizeof *fw)) == NULL)
            return;
        fw->t = t;
        if (gw_watch_start(t->loop, &fw->w, fd, interest, fd_ready) != 0) {
            free(fw);
            return;
        }
        t->fdw[fd] = fw;
        return;
    }
    gw_watch_set(t->loop, &fw->w, interest);
}

static void arm(struct gw_loop *loop, struct gw_timer *tm, uint64_t deadline)
{
    if (deadline == FCGIC_NO_DEADLINE)
        gw_timer_stop(loop, tm);
    else
        gw_timer_start(loop, tm, deadline);
}

static void px_on_timer(void *ud, uint64_t deadline)
{
    struct gw_worker_thread *t = ud;
    arm(t->loop, &t->px_timer, deadline);
}

static void px_timer_fired(struct gw_loop *loop, struct gw_timer *tm)
{
    struct gw_worker_thread *t = GW_CONTAINER_OF(tm, struct gw_worker_thread, px_timer);
    fcgic_posix_timeout(t->px, gw_loop_now(loop));
}

/* ---- pools and balancers: their timers ---- */

static void be_on_timer(void *ud, uint64_t deadline)
{
    struct gw_backend *be = ud;
    arm(be->t->loop, &be->timer, deadline);
}

static void be_timer_fired(struct gw_loop *loop, struct gw_timer *tm)
{
    struct gw_backend *be = GW_CONTAINER_OF(tm, struct gw_backend, timer);
    uint64_t now = gw_loop_now(loop);
    if (be->pool)
        fcgic_pool_tick(be->pool, now);
    else
        fcgic_balancer_tick(be->bal, now);
}

static void pool_options(struct fcgic_pool_options *po, const char *target, const struct gw_worker_params *wp,
                         const struct gw_server *srv)
{
    memset(po, 0, sizeof *po);
    po->version = FCGIC_POOL_OPTIONS_VERSION;
    po->target = target;
    po->enable_reuse = wp->enable_reuse;
    po->max = wp->max;
    po->min = wp->min;
    po->smax = wp->smax;
    po->ttl_ns = wp->ttl_ns;
    po->acquire_ns = wp->acquire_ns;
    po->connect_timeout_ns = wp->connect_timeout_ns;
    po->timeout_ns = (wp->set & GW_WP_TIMEOUT) ? wp->timeout_ns : srv->timeouts.proxy_timeout;
}

/* The pools' transport is the POSIX one, except that an idle connection is
 * not checked (a recv() that says EAGAIN, one system call per request) for
 * a bodiless GET or HEAD: the loop already reports a connection the
 * application closed, and in the race the pool runs such a request again
 * on a new connection by itself. Requests with a body are checked. */
static int tr_open(void *ud, const char *target, const struct fcgic_conn_options *opts,
                   const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                   struct fcgic_conn **out, int *sys_errno, uint64_t now)
{
    struct gw_worker_thread *t = ud;
    return t->px_tr.open(t->px_tr.ud, target, opts, cb, conn_ud, mem, out, sys_errno, now);
}

static void tr_kick(void *ud, struct fcgic_conn *c, uint64_t now)
{
    struct gw_worker_thread *t = ud;
    t->px_tr.kick(t->px_tr.ud, c, now);
}

static void tr_close(void *ud, struct fcgic_conn *c)
{
    struct gw_worker_thread *t = ud;
    t->px_tr.close(t->px_tr.ud, c);
}

static void tr_check(void *ud, struct fcgic_conn *c, uint64_t now)
{
    struct gw_worker_thread *t = ud;
    if (!t->submit_replayable)
        t->px_tr.check(t->px_tr.ud, c, now);
}

static void param_str(struct fcgic_param *p, const char *name, const char *value)
{
    p->name = name;
    p->name_len = strlen(name);
    p->value = value;
    p->value_len = strlen(value);
}

/* A member's name as Apache gives it: the fcgi:// URL, without the
 * "unix:/path|" of a unix socket. */
static struct fcgic_span member_url(const struct gw_member *m)
{
    struct fcgic_env_target t;
    if (fcgic_env_parse_target(m->address, strlen(m->address), &t) != 0)
        return (struct fcgic_span){m->address, strlen(m->address)};
    return t.fcgi_url;
}

/* A BalancerMember. The environment maps build SCRIPT_FILENAME (and any
 * other value that names the backend) for the balancer's first member,
 * "proxy:fcgi://host:port/..." ("proxy:fcgi://localhost/..." for a unix
 * socket); each member rewrites that prefix to name itself, and sends
 * Apache's BALANCER_* variables for itself, whichever member the library
 * elects, also after a failover. */
static int add_member(struct fcgic_balancer *bal, const struct gw_balancer *b, const struct gw_member *m,
                      const struct gw_server *srv, uint64_t now)
{
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof mo);
    mo.version = FCGIC_MEMBER_OPTIONS_VERSION;
    pool_options(&mo.pool, m->address, &m->params, srv);
    mo.lbfactor = m->lbfactor;
    mo.lbset = m->lbset;
    mo.status = m->status;
    mo.retry_ns = m->params.retry_ns;
    struct fcgic_span first = member_url(&b->members[0]), self = member_url(m);
    struct fcgic_param own[3];
    param_str(&own[0], "BALANCER_NAME", b->name);
    own[1] = (struct fcgic_param){"BALANCER_WORKER_NAME", 20, self.ptr, self.len};
    param_str(&own[2], "BALANCER_WORKER_ROUTE", m->route ? m->route : "");
    mo.params = own;
    mo.nparams = 3;
    char from[1024], to[1024];
    int fl = snprintf(from, sizeof from, "proxy:%.*s", (int)first.len, first.ptr);
    int tl = snprintf(to, sizeof to, "proxy:%.*s", (int)self.len, self.ptr);
    if (fl < 0 || (size_t)fl >= sizeof from || tl < 0 || (size_t)tl >= sizeof to)
        return FCGIC_E_RANGE;
    if (fl != tl || memcmp(from, to, (size_t)fl) != 0) {
        mo.rewrite_from.ptr = from;
        mo.rewrite_from.len = (size_t)fl;
        mo.rewrite_to.ptr = to;
        mo.rewrite_to.len = (size_t)tl;
    }
    return fcgic_balancer_add(bal, &mo, NULL, now);
}

static int backends_init(struct gw_worker_thread *t, char *err, size_t errsz)
{
    const struct gw_server *srv = t->srv;
    t->n_backends = srv->n_workers + srv->n_balancers;
    if (t->n_backends && (t->backends = calloc(t->n_backends, sizeof *t->backends)) == NULL)
        return -ENOMEM;
    fcgic_posix_transport(t->px, &t->px_tr);
    struct fcgic_transport tr = t->px_tr;
    tr.ud = t;
    tr.open = tr_open;
    tr.kick = tr_kick;
    tr.close = tr_close;
    tr.check = tr_check;
    struct fcgic_pool_callbacks cb;
    gw_proxy_pool_callbacks(&cb);
    cb.on_timer = be_on_timer;
    uint64_t now = gw_loop_now(t->loop);
    for (size_t i = 0; i < t->n_backends; i++) {
        struct gw_backend *be = &t->backends[i];
        be->t = t;
        gw_timer_init(&be->timer, be_timer_fired);
        int rc;
        if (i < srv->n_workers) {
            const struct gw_worker *w = srv->workers[i];
            struct fcgic_pool_options po;
            pool_options(&po, w->address, &w->params, srv);
            be->name = w->address;
            rc = fcgic_pool_new(&be->pool, &po, &tr, &cb, be, NULL);
        } else {
            const struct gw_balancer *b = srv->balancers[i - srv->n_workers];
            struct fcgic_balancer_options bo;
            memset(&bo, 0, sizeof bo);
            bo.version = FCGIC_BALANCER_OPTIONS_VERSION;
            bo.method = b->method;
            bo.max_attempts = b->max_attempts_set ? b->max_attempts : 0;
            bo.no_force_recovery = b->no_force_recovery;
            be->name = b->name;
            rc = fcgic_balancer_new(&be->bal, &bo, &tr, &cb, be, NULL);
            for (size_t k = 0; rc == 0 && k < b->n_members; k++)
                rc = add_member(be->bal, b, &b->members[k], srv, now);
        }
        if (rc != 0) {
            snprintf(err, errsz, "backend %s: %s (%s)", be->name, fcgic_strerror(rc), fcgic_strerror_name(rc));
            return rc;
        }
    }
    return 0;
}

struct gw_backend *gw_worker_backend(struct gw_worker_thread *t, const struct gw_mapping *m)
{
    const struct gw_server *srv = t->srv;
    for (size_t i = 0; m->worker && i < srv->n_workers; i++)
        if (srv->workers[i] == m->worker)
            return &t->backends[i];
    for (size_t i = 0; m->balancer && i < srv->n_balancers; i++)
        if (srv->balancers[i] == m->balancer)
            return &t->backends[srv->n_workers + i];
    return NULL;
}

/* ---- stopping ---- */

static void drain_check(struct gw_loop *loop, struct gw_timer *tm)
{
    struct gw_worker_thread *t = GW_CONTAINER_OF(tm, struct gw_worker_thread, drain_timer);
    struct gw_http_stats st;
    gw_http_server_stats(t->http, &st);
    if ((t->active == 0 && st.conns == 0) || gw_loop_now(loop) >= t->drain_deadline) {
        gw_loop_stop(loop);
        return;
    }
    gw_timer_start(loop, tm, gw_loop_now(loop) + DRAIN_POLL_NS);
}

static void stop_asked(struct gw_loop *loop, struct gw_async *a)
{
    struct gw_worker_thread *t = GW_CONTAINER_OF(a, struct gw_worker_thread, stop);
    for (size_t i = 0; i < t->n_listeners; i++)
        gw_listener_free(t->listeners[i]);
    t->n_listeners = 0;
    gw_http_server_drain(t->http);
    t->drain_deadline = gw_loop_now(loop) + DRAIN_GRACE_NS;
    drain_check(loop, &t->drain_timer);
}

void gw_worker_request_stop(struct gw_worker_thread *t)
{
    gw_async_send(t->loop, &t->stop);
}

/* ---- setup ---- */

/* A new client: responses go out as they are written (a head and a small
 * body written apart must not wait for the client's delayed ACK). */
static void on_accept(void *ud, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
    struct gw_worker_thread *t = ud;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    t->counters.accepted++;
    gw_http_server_on_accept(t->http, fd, peer, peer_len);
}

static struct gw_http_settings http_settings(const struct gw_server *srv)
{
    struct gw_http_settings s;
    gw_http_settings_default(&s);
    s.max_request_line = srv->limits.request_line;
    s.max_header_field_size = srv->limits.request_field_size;
    s.max_header_fields = srv->limits.request_fields ? srv->limits.request_fields : (size_t)-1 / 2;
    s.max_body = srv->limits.request_body;
    s.keep_alive = srv->keepalive != 0;
    s.max_keepalive_requests = srv->limits.max_keepalive_requests;
    s.keepalive_timeout_ns = srv->timeouts.keepalive;
    s.body_timeout_ns = srv->timeouts.timeout;
    s.send_timeout_ns = srv->timeouts.timeout;
    s.field_limit_status = 400; /* Apache's answer to LimitRequestFields / LimitRequestFieldSize */
    if (srv->timeouts.timeout < s.head_timeout_ns) /* a slow head is not given more than Timeout */
        s.head_timeout_ns = srv->timeouts.timeout;
    size_t longest = s.max_request_line > s.max_header_field_size ? s.max_request_line : s.max_header_field_size;
    if (s.read_buffer_size <= longest + 2)
        s.read_buffer_size = longest + 1024;
    return s;
}


/* The evaluation context of the SetEnvIf rules. A library built without
 * the expression engine has none and accepts no rules (the configuration
 * that holds one is refused), so the thread runs without it. */
static int expr_ctx_new(struct fcgic_expr_ctx **ctx)
{
    int rc = fcgic_expr_ctx_new(ctx, NULL, NULL);
    return rc == FCGIC_E_NOT_BUILT ? 0 : rc;
}

static int worker_setup(struct gw_worker_thread *t, struct gw_config *cfg, unsigned index, int *inherit, char *err,
                        size_t errsz)
{
    memset(t, 0, sizeof *t);
    t->index = index;
    t->cfg = gw_config_ref(cfg);
    t->srv = gw_config_server(cfg);
    gw_timer_init(&t->px_timer, px_timer_fired);
    gw_timer_init(&t->drain_timer, drain_check);
    gw_timer_init(&t->stderr_timer, gw_proxy_stderr_timer);
    gw_async_init(&t->stop, stop_asked);
    int rc = gw_loop_new(&t->loop);
    if (rc != 0) {
        snprintf(err, errsz, "event loop: %s", strerror(-rc));
        return rc;
    }
    struct fcgic_posix_options po;
    memset(&po, 0, sizeof po);
    po.version = FCGIC_POSIX_OPTIONS_VERSION;
    po.on_socket = on_socket;
    po.on_timer = px_on_timer;
    po.ud = t;
    if ((rc = fcgic_posix_new(&t->px, &po, NULL)) != 0 || (rc = fcgic_env_new(&t->env, NULL)) != 0 ||
        (rc = fcgic_env_new(&t->vars, NULL)) != 0 || (rc = expr_ctx_new(&t->expr_ctx)) != 0) {
        snprintf(err, errsz, "%s (%s)", fcgic_strerror(rc), fcgic_strerror_name(rc));
        return rc;
    }
    if ((rc = backends_init(t, err, errsz)) != 0)
        return rc;
    struct gw_http_settings hs = http_settings(t->srv);
    struct gw_http_handler h;
    gw_proxy_http_handler(&h, t);
    if ((rc = gw_http_server_new(&t->http, t->loop, &hs, &h)) != 0) {
        snprintf(err, errsz, "HTTP server: %s", strerror(-rc));
        return rc;
    }
    const struct gw_server *srv = t->srv;
    if ((t->listeners = calloc(srv->n_listen, sizeof *t->listeners)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < srv->n_listen; i++) {
        const struct gw_listen *l = &srv->listen[i];
        if (inherit && inherit[i] >= 0) {
            rc = gw_listener_adopt(&t->listeners[i], t->loop, inherit[i], on_accept, t);
            if (rc != 0)
                close(inherit[i]);
            inherit[i] = -1; /* the listener's now, or closed */
        } else {
            rc = gw_listener_new(&t->listeners[i], t->loop, l->addr, (uint16_t)l->port, 511, on_accept, t);
        }
        if (rc != 0) {
            snprintf(err, errsz, "Listen %s%s%u (%s:%u): %s", l->addr ? l->addr : "", l->addr ? ":" : "", l->port,
                     l->at.file, l->at.line, strerror(-rc));
            return rc;
        }
        t->n_listeners++;
    }
    return 0;
}

int gw_worker_init(struct gw_worker_thread *t, struct gw_config *cfg, unsigned index, const int *inherit, char *err,
                   size_t errsz)
{
    size_t n = gw_config_server(cfg)->n_listen;
    int *own = NULL;
    if (inherit && (own = malloc(n * sizeof *own)) != NULL)
        memcpy(own, inherit, n * sizeof *own);
    int rc = own || !inherit ? worker_setup(t, cfg, index, own, err, errsz) : -ENOMEM;
    for (size_t i = 0; inherit && i < n; i++) /* what setup did not take over */
        if ((own ? own[i] : inherit[i]) >= 0)
            close(own ? own[i] : inherit[i]);
    free(own);
    return rc;
}

void *gw_worker_main(void *arg)
{
    struct gw_worker_thread *t = arg;
    int rc = gw_loop_run(t->loop);
    gw_status_detach(t); /* asked for no more snapshots: its loop is about to go */
    if (rc != 0)
        t->error = rc;
    return NULL;
}

void gw_worker_fini(struct gw_worker_thread *t)
{
    for (size_t i = 0; i < t->n_listeners; i++)
        gw_listener_free(t->listeners[i]);
    free(t->listeners);
    gw_http_server_free(t->http); /* active requests: on_client_gone cancels them */
    for (size_t i = 0; i < t->n_backends; i++) {
        fcgic_pool_free(t->backends[i].pool);
        fcgic_balancer_free(t->backends[i].bal);
        if (t->loop)
            gw_timer_stop(t->loop, &t->backends[i].timer);
    }
    free(t->backends);
    if (t->loop)
        gw_timer_stop(t->loop, &t->stderr_timer);
    fcgic_posix_free(t->px); /* reports FCGIC_POSIX_REMOVE for its sockets */
    for (size_t i = 0; i < t->n_fdw; i++)
        free(t->fdw[i]);
    free(t->fdw);
    fcgic_env_free(t->env);
    fcgic_env_free(t->vars);
    fcgic_expr_ctx_free(t->expr_ctx);
    gw_loop_free(t->loop);
    gw_config_unref(t->cfg);
}
