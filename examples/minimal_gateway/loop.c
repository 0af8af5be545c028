/* The gateway's event loop: epoll (level triggered, or edge triggered per watcher), a binary heap of
 * timers, deferred work, a cached monotonic clock, cross-thread wakeups
 * through an eventfd, and the listening-socket helper. */
#include "loop.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define GW_LOOP_EVENTS 64

struct gw_loop {
    int epfd;
    struct gw_watch wake; /* the eventfd */
    atomic_bool stop;
    uint64_t now;
    /* timers: a binary min-heap of deadlines */
    struct gw_timer **heap;
    size_t nheap, capheap;
    /* deferred work, FIFO */
    struct gw_defer *defer_head, *defer_tail;
    /* cross-thread work */
    pthread_mutex_t async_lock;
    struct gw_async *async_head;
    /* the batch being dispatched, so gw_watch_stop() can drop stale events */
    struct epoll_event events[GW_LOOP_EVENTS];
    int nevents, ievent;
};

static uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Timer heap ----------------------------------------------------------------- */

static void heap_place(struct gw_loop *l, size_t i, struct gw_timer *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(struct gw_loop *l, size_t i)
{
    struct gw_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->deadline <= t->deadline)
            break;
        heap_place(l, i, l->heap[parent]);
        i = parent;
    }
    heap_place(l, i, t);
}

static void heap_down(struct gw_loop *l, size_t i)
{
    struct gw_timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && l->heap[c + 1]->deadline < l->heap[c]->deadline)
            c++;
        if (t->deadline <= l->heap[c]->deadline)
            break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

void gw_timer_init(struct gw_timer *t, gw_timer_cb cb)
{
    t->deadline = 0;
    t->slot = 0;
    t->cb = cb;
}

bool gw_timer_active(const struct gw_timer *t)
{
    return t->slot != 0;
}

void gw_timer_stop(struct gw_loop *l, struct gw_timer *t)
{
    if (t->slot == 0)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct gw_timer *last = l->heap[--l->nheap];
    if (i == l->nheap)
        return;
    heap_place(l, i, last);
    if (i > 0 && l->heap[(i - 1) / 2]->deadline > last->deadline)
        heap_up(l, i);
    else
        heap_down(l, i);
}

int gw_timer_start(struct gw_loop *l, struct gw_timer *t, uint64_t deadline)
{
    if (t->slot != 0) {
        uint64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old)
            heap_up(l, t->slot - 1);
        else
            heap_down(l, t->slot - 1);
        return 0;
    }
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        struct gw_timer **h = realloc(l->heap, cap * sizeof *h);
        if (h == NULL)
            return -ENOMEM;
        l->heap = h;
        l->capheap = cap;
    }
    t->deadline = deadline;
    heap_place(l, l->nheap++, t);
    heap_up(l, l->nheap - 1);
    return 0;
}

uint64_t gw_loop_next_deadline(const struct gw_loop *l)
{
    return l->nheap ? l->heap[0]->deadline : UINT64_MAX;
}

static void run_timers(struct gw_loop *l)
{
    while (l->nheap && l->heap[0]->deadline <= l->now) {
        struct gw_timer *t = l->heap[0];
        gw_timer_stop(l, t);
        t->cb(l, t);
    }
}

/* Deferred and async work ------------------------------------------------------ */

void gw_defer_init(struct gw_defer *d, gw_defer_cb cb)
{
    d->next = NULL;
    d->queued = false;
    d->cb = cb;
}

void gw_defer_post(struct gw_loop *l, struct gw_defer *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    if (l->defer_tail)
        l->defer_tail->next = d;
    else
        l->defer_head = d;
    l->defer_tail = d;
}

void gw_defer_cancel(struct gw_loop *l, struct gw_defer *d)
{
    if (!d->queued)
        return;
    struct gw_defer *prev = NULL;
    for (struct gw_defer *i = l->defer_head; i; prev = i, i = i->next) {
        if (i != d)
            continue;
        if (prev)
            prev->next = d->next;
        else
            l->defer_head = d->next;
        if (l->defer_tail == d)
            l->defer_tail = prev;
        break;
    }
    d->queued = false;
    d->next = NULL;
}

static void run_deferred(struct gw_loop *l)
{
    /* Work posted by deferred work runs too, bounded so a callback that keeps
     * posting itself cannot starve I/O. */
    for (int round = 0; round < 1024 && l->defer_head; round++) {
        struct gw_defer *d = l->defer_head;
        l->defer_head = d->next;
        if (l->defer_head == NULL)
            l->defer_tail = NULL;
        d->queued = false;
        d->next = NULL;
        d->cb(l, d);
    }
}

void gw_async_init(struct gw_async *a, gw_async_cb cb)
{
    a->next = NULL;
    a->queued = false;
    a->cb = cb;
}

static void wake(struct gw_loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wake.fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already nonzero, the loop wakes anyway */
}

void gw_async_send(struct gw_loop *l, struct gw_async *a)
{
    pthread_mutex_lock(&l->async_lock);
    bool post = !a->queued;
    if (post) {
        a->queued = true;
        a->next = l->async_head;
        l->async_head = a;
    }
    pthread_mutex_unlock(&l->async_lock);
    if (post)
        wake(l);
}

static void on_wake(struct gw_loop *l, struct gw_watch *w, unsigned events)
{
    uint64_t v;
    ssize_t n = read(w->fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&l->async_lock);
    struct gw_async *list = l->async_head;
    l->async_head = NULL;
    for (struct gw_async *a = list; a; a = a->next)
        a->queued = false;
    pthread_mutex_unlock(&l->async_lock);
    /* reverse into sending order */
    struct gw_async *fifo = NULL;
    while (list) {
        struct gw_async *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        struct gw_async *next = fifo->next;
        fifo->cb(l, fifo);
        fifo = next;
    }
}

/* Watchers ------------------------------------------------------------------------ */

static uint32_t epoll_bits(unsigned interest)
{
    uint32_t e = 0;
    if (interest & GW_IO_IN)
        e |= EPOLLIN;
    if (interest & GW_IO_OUT)
        e |= EPOLLOUT;
    if (interest & GW_IO_RDHUP)
        e |= EPOLLRDHUP;
    if (interest & GW_IO_EDGE)
        e |= EPOLLET;
    return e;
}

int gw_watch_start(struct gw_loop *l, struct gw_watch *w, int fd, unsigned interest, gw_watch_cb cb)
{
    if (w->active)
        return -EBUSY;
    struct epoll_event ev = {.events = epoll_bits(interest), .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    w->fd = fd;
    w->interest = w->kernel = interest;
    w->active = true;
    w->cb = cb;
    return 0;
}

static int watch_mod(struct gw_loop *l, struct gw_watch *w, unsigned interest)
{
    struct epoll_event ev = {.events = epoll_bits(interest), .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
        return -errno;
    w->interest = w->kernel = interest;
    return 0;
}

int gw_watch_set(struct gw_loop *l, struct gw_watch *w, unsigned interest)
{
    if (!w->active)
        return -EINVAL;
    if ((interest & ~w->kernel) == 0 && (interest & GW_IO_EDGE) == (w->kernel & GW_IO_EDGE)) {
        w->interest = interest; /* epoll has it (and maybe more, cut when it shows) */
        return 0;
    }
    return watch_mod(l, w, interest);
}

unsigned gw_watch_interest(const struct gw_watch *w)
{
    return w->active ? w->interest : 0;
}

void gw_watch_stop(struct gw_loop *l, struct gw_watch *w)
{
    if (!w->active)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->active = false;
    w->interest = w->kernel = 0;
    for (int i = l->ievent; i < l->nevents; i++)
        if (l->events[i].data.ptr == w)
            l->events[i].data.ptr = NULL;
}

static unsigned gw_bits(uint32_t e)
{
    unsigned b = 0;
    if (e & EPOLLIN)
        b |= GW_IO_IN;
    if (e & EPOLLOUT)
        b |= GW_IO_OUT;
    if (e & EPOLLRDHUP)
        b |= GW_IO_RDHUP;
    if (e & (EPOLLERR | EPOLLHUP))
        b |= GW_IO_ERR;
    return b;
}

/* The loop ------------------------------------------------------------------------ */

int gw_loop_new(struct gw_loop **out)
{
    *out = NULL;
    struct gw_loop *l = calloc(1, sizeof *l);
    if (l == NULL)
        return -ENOMEM;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int e = -errno;
        free(l);
        return e;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        int e = -errno;
        close(l->epfd);
        free(l);
        return e;
    }
    pthread_mutex_init(&l->async_lock, NULL);
    int r = gw_watch_start(l, &l->wake, efd, GW_IO_IN, on_wake);
    if (r != 0) {
        close(efd);
        close(l->epfd);
        pthread_mutex_destroy(&l->async_lock);
        free(l);
        return r;
    }
    l->now = clock_ns();
    *out = l;
    return 0;
}

void gw_loop_free(struct gw_loop *l)
{
    if (l == NULL)
        return;
    close(l->wake.fd);
    close(l->epfd);
    for (size_t i = 0; i < l->nheap; i++)
        l->heap[i]->slot = 0;
    free(l->heap);
    pthread_mutex_destroy(&l->async_lock);
    free(l);
}

uint64_t gw_loop_now(const struct gw_loop *l)
{
    return l->now;
}

uint64_t gw_loop_update_now(struct gw_loop *l)
{
    l->now = clock_ns();
    return l->now;
}

void gw_loop_stop(struct gw_loop *l)
{
    atomic_store(&l->stop, true);
    wake(l);
}

bool gw_loop_stopping(const struct gw_loop *l)
{
    return atomic_load(&l->stop);
}

static int wait_ms(const struct gw_loop *l, uint64_t timeout_ns)
{
    if (l->defer_head)
        return 0;
    uint64_t next = gw_loop_next_deadline(l);
    uint64_t wait = timeout_ns;
    if (next != UINT64_MAX) {
        uint64_t until = next > l->now ? next - l->now : 0;
        if (until < wait)
            wait = until;
    }
    if (wait == UINT64_MAX)
        return -1;
    /* round up so a timer is not woken for just before its deadline */
    uint64_t ms = (wait + 999999) / 1000000;
    return ms > 60000 ? 60000 : (int)ms;
}

int gw_loop_run_once(struct gw_loop *l, uint64_t timeout_ns)
{
    int n = epoll_wait(l->epfd, l->events, GW_LOOP_EVENTS, wait_ms(l, timeout_ns));
    if (n < 0 && errno != EINTR)
        return -errno;
    l->now = clock_ns();
    l->nevents = n > 0 ? n : 0;
    for (l->ievent = 0; l->ievent < l->nevents;) {
        struct epoll_event *ev = &l->events[l->ievent++];
        struct gw_watch *w = ev->data.ptr;
        if (w == NULL)
            continue;
        unsigned bits = gw_bits(ev->events);
        if (w->kernel != w->interest) {
            /* interest dropped lazily: events for it are not wanted now */
            unsigned unwanted = bits & (GW_IO_IN | GW_IO_OUT | GW_IO_RDHUP) & ~w->interest;
            if (unwanted) {
                bits &= ~unwanted;
                watch_mod(l, w, w->interest);
            }
            if (bits == 0)
                continue;
        }
        w->cb(l, w, bits);
    }
    l->nevents = l->ievent = 0;
    run_timers(l);
    run_deferred(l);
    return 0;
}

int gw_loop_run(struct gw_loop *l)
{
    atomic_store(&l->stop, false);
    while (!atomic_load(&l->stop)) {
        int r = gw_loop_run_once(l, UINT64_MAX);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Listener ------------------------------------------------------------------------ */

#define GW_ACCEPT_BATCH 64
#define GW_ACCEPT_PAUSE_NS 100000000u

struct gw_listener {
    struct gw_loop *loop;
    struct gw_watch watch;
    struct gw_timer resume;
    gw_accept_cb cb;
    void *ud;
    uint16_t port;
    unsigned long pauses;
};

static void accept_pause(struct gw_listener *ls)
{
    ls->pauses++;
    gw_watch_set(ls->loop, &ls->watch, 0);
    if (gw_timer_start(ls->loop, &ls->resume, gw_loop_now(ls->loop) + GW_ACCEPT_PAUSE_NS) != 0)
        gw_watch_set(ls->loop, &ls->watch, GW_IO_IN); /* no timer: keep going, level triggered */
}

static void on_accept_resume(struct gw_loop *loop, struct gw_timer *t)
{
    struct gw_listener *ls = GW_CONTAINER_OF(t, struct gw_listener, resume);
    gw_watch_set(loop, &ls->watch, GW_IO_IN);
}

static void on_listen_ready(struct gw_loop *loop, struct gw_watch *w, unsigned events)
{
    struct gw_listener *ls = GW_CONTAINER_OF(w, struct gw_listener, watch);
    for (int i = 0; i < GW_ACCEPT_BATCH; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(w->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                accept_pause(ls);
            /* EAGAIN: drained; ECONNABORTED, EPROTO: that one is gone, go on */
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            return;
        }
        ls->cb(ls->ud, fd, (struct sockaddr *)&peer, len);
    }
}

static int parse_numeric(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    if (addr == NULL)
        addr = "::";
    size_t n = strlen(addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        addr++;
        n -= 2;
    }
    if (n >= sizeof host)
        return -EINVAL;
    memcpy(host, addr, n);
    host[n] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
        return -EINVAL;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    return 0;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, int backlog, uint16_t *port)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, backlog > 0 ? backlog : 511) != 0)
        goto fail;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0)
        goto fail;
    *port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                              : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return fd;
fail:;
    int e = -errno;
    close(fd);
    return e;
}

int gw_listener_new(struct gw_listener **out, struct gw_loop *loop, const char *addr, uint16_t port, int backlog,
                    gw_accept_cb cb, void *ud)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    int r = parse_numeric(addr, port, &ss, &len);
    if (r != 0)
        return r;
    uint16_t bound;
    int fd = listen_socket(&ss, len, backlog, &bound);
    if (fd < 0)
        return fd;
    r = gw_listener_adopt(out, loop, fd, cb, ud);
    if (r != 0)
        close(fd);
    return r;
}

int gw_listener_adopt(struct gw_listener **out, struct gw_loop *loop, int fd, gw_accept_cb cb, void *ud)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    struct gw_listener *ls = calloc(1, sizeof *ls);
    if (ls == NULL)
        return -ENOMEM;
    ls->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    ls->loop = loop;
    ls->cb = cb;
    ls->ud = ud;
    gw_timer_init(&ls->resume, on_accept_resume);
    int r = gw_watch_start(loop, &ls->watch, fd, GW_IO_IN, on_listen_ready);
    if (r != 0) {
        free(ls);
        return r;
    }
    *out = ls;
    return 0;
}

uint16_t gw_listener_port(const struct gw_listener *l)
{
    return l->port;
}

int gw_listener_fd(const struct gw_listener *l)
{
    return l->watch.fd;
}

unsigned long gw_listener_pauses(const struct gw_listener *l)
{
    return l->pauses;
}

void gw_listener_free(struct gw_listener *l)
{
    if (l == NULL)
        return;
    gw_timer_stop(l->loop, &l->resume);
    gw_watch_stop(l->loop, &l->watch);
    close(l->watch.fd);
    free(l);
}
