/* embed-epoll: libfcgiclient's pool on a plain epoll(7) loop that the
 * program owns, with the library's POSIX transport in "someone else's loop"
 * mode, the way libcurl's multi_socket API is used: the transport reports
 * socket interest (on_socket) and its next deadline (on_timer), and the loop
 * calls fcgic_posix_socket_action() and fcgic_posix_timeout(). The pool's
 * own deadline comes through its on_timer hook (scenarios.c). No
 * fcgic_posix_run(). The scenarios are shared with embed-libuv
 * (../embed-common/scenarios.c); this file is the loop glue.
 *
 *   embed-epoll [-p DOCROOT] [-m MAX] BACKEND MODE [N]
 *
 * Arguments, modes and result lines are those of embed-libuv (see the top
 * of ../embed-libuv/embed-libuv.c): concurrent [N], cancel, slow [N],
 * upload [N].
 */
#include <errno.h>
#include <fcgiclient/fcgiclient.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "scenarios.h"

#define MS 1000000ull

struct emb_timer {
    struct ep *ep;
    uint64_t when; /* FCGIC_NO_DEADLINE: stopped */
    unsigned round;
    void (*fire)(void *arg);
    void *arg;
    struct emb_timer *next;
};

struct ep {
    int epfd;
    struct fcgic_posix *px;
    uint64_t px_deadline; /* the transport's, from its on_timer */
    bool *watched;        /* per fd: in the epoll set */
    size_t nwatched;
    struct emb_timer *timers;
    unsigned round;
    bool failed;
};

/* ---- the transport's callbacks: interest and deadline ---------------- */

static bool watch_slot(struct ep *e, int fd)
{
    if ((size_t)fd < e->nwatched)
        return true;
    size_t n = (size_t)fd + 64;
    bool *w = realloc(e->watched, n * sizeof *w);
    if (!w)
        return false;
    memset(w + e->nwatched, 0, (n - e->nwatched) * sizeof *w);
    e->watched = w;
    e->nwatched = n;
    return true;
}

/* Interest 0 takes the fd out of the set: epoll reports EPOLLHUP and
 * EPOLLERR whatever the mask, and a paused connection whose peer hung up
 * would wake the loop forever. */
static void on_socket(void *ud, int fd, unsigned what, struct fcgic_conn *c)
{
    struct ep *e = ud;
    (void)c;
    if (!watch_slot(e, fd)) {
        e->failed = true;
        return;
    }
    if ((what & FCGIC_POSIX_REMOVE) || what == 0) {
        if (e->watched[fd])
            epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
        e->watched[fd] = false;
        return;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((what & FCGIC_POSIX_IN) ? EPOLLIN : 0) | ((what & FCGIC_POSIX_OUT) ? EPOLLOUT : 0);
    ev.data.fd = fd;
    if (epoll_ctl(e->epfd, e->watched[fd] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll_ctl");
        e->failed = true;
        return;
    }
    e->watched[fd] = true;
}

static void on_px_timer(void *ud, uint64_t deadline)
{
    struct ep *e = ud;
    e->px_deadline = deadline;
}

/* ---- the loop interface of the scenarios ----------------------------- */

static uint64_t g_now(void *ud)
{
    (void)ud;
    return fcgic_posix_now(); /* CLOCK_MONOTONIC, as the transport */
}

static struct emb_timer *g_timer_new(void *ud, void (*fire)(void *arg), void *arg)
{
    struct ep *e = ud;
    struct emb_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ep = e;
    t->when = FCGIC_NO_DEADLINE;
    t->fire = fire;
    t->arg = arg;
    t->next = e->timers;
    e->timers = t;
    return t;
}

static void g_timer_at(struct emb_timer *t, uint64_t when)
{
    t->when = when;
}

static void g_timer_free(struct emb_timer *t)
{
    struct emb_timer **pp = &t->ep->timers;
    while (*pp != t)
        pp = &(*pp)->next;
    *pp = t->next;
    free(t);
}

/* Fire each timer due at now once; a fire may arm, add or free timers. */
static void fire_due(struct ep *e, uint64_t now)
{
    unsigned round = ++e->round;
    for (;;) {
        struct emb_timer *t = e->timers;
        while (t && (t->when > now || t->round == round))
            t = t->next;
        if (!t)
            return;
        t->round = round;
        t->when = FCGIC_NO_DEADLINE;
        t->fire(t->arg);
    }
}

static int wait_ms(const struct ep *e, uint64_t now, uint64_t end)
{
    uint64_t next = end < e->px_deadline ? end : e->px_deadline;
    for (const struct emb_timer *t = e->timers; t; t = t->next)
        if (t->when < next)
            next = t->when;
    if (next <= now)
        return 0;
    uint64_t ms = (next - now + MS - 1) / MS;
    return ms > 1000 ? 1000 : (int)ms;
}

/* One round: wait, hand the socket events to the transport, run its
 * timers, then ours (the pool's among them). */
static int round_once(struct ep *e, uint64_t end)
{
    struct epoll_event evs[64];
    int n = epoll_wait(e->epfd, evs, 64, wait_ms(e, fcgic_posix_now(), end));
    if (n < 0 && errno != EINTR)
        return -1;
    uint64_t now = fcgic_posix_now();
    for (int i = 0; i < n; i++) {
        unsigned what = 0;
        if (evs[i].events & EPOLLIN)
            what |= FCGIC_POSIX_IN;
        if (evs[i].events & EPOLLOUT)
            what |= FCGIC_POSIX_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            what |= FCGIC_POSIX_ERR;
        fcgic_posix_socket_action(e->px, evs[i].data.fd, what, now);
    }
    if (e->px_deadline <= now)
        fcgic_posix_timeout(e->px, now);
    fire_due(e, now);
    return e->failed ? -1 : 0;
}

static int g_run_until(void *ud, int (*done)(void *arg), void *arg, uint64_t limit_ns)
{
    struct ep *e = ud;
    uint64_t end = fcgic_posix_now() + limit_ns;
    while (!done(arg)) {
        if (fcgic_posix_now() >= end || round_once(e, end) != 0)
            return -1;
    }
    return 0;
}

static size_t g_conns(void *ud)
{
    struct ep *e = ud;
    return fcgic_posix_count(e->px);
}

int main(int argc, char **argv)
{
    struct emb_config cfg;
    if (emb_parse_args(argc, argv, &cfg) != 0)
        return 2;
    struct ep e;
    memset(&e, 0, sizeof e);
    e.px_deadline = FCGIC_NO_DEADLINE;
    e.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e.epfd < 0) {
        perror("epoll_create1");
        return 2;
    }
    struct fcgic_posix_options po;
    memset(&po, 0, sizeof po);
    po.version = FCGIC_POSIX_OPTIONS_VERSION;
    po.on_socket = on_socket;
    po.on_timer = on_px_timer;
    po.ud = &e;
    int rc = fcgic_posix_new(&e.px, &po, NULL);
    if (rc != 0) {
        fprintf(stderr, "fcgic_posix_new: %s\n", fcgic_strerror(rc));
        return 2;
    }
    struct fcgic_transport tr;
    fcgic_posix_transport(e.px, &tr);

    struct emb_loop el = {&e, g_now, g_timer_new, g_timer_at, g_timer_free, g_run_until, g_conns};
    rc = emb_run(&cfg, &el, &tr); /* the pool is freed before it returns */

    fcgic_posix_free(e.px); /* after every pool using it */
    while (e.timers)
        g_timer_free(e.timers);
    free(e.watched);
    close(e.epfd);
    return rc;
}
