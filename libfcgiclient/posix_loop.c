/* The POSIX transport's event-loop object: sockets and their connection
 * engines, socket interest and timer reporting (libcurl multi / c-ares
 * style), the struct fcgic_transport operations and a built-in poll(2)
 * loop. A socket's state hangs off its engine (fcgic_conn_transport_data());
 * sockets are found by fd through a hash map. Host-name lookups without
 * blocking live in posix_resolve.c. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdalign.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fcgiclient/balancer.h"
#include "fcgiclient/pool.h"
#include "posix_int.h"

/* The engine's iovec list goes to sendmsg(2) by a cast. */
_Static_assert(sizeof(struct fcgic_iov) == sizeof(struct iovec), "fcgic_iov size differs from iovec");
_Static_assert(offsetof(struct fcgic_iov, base) == offsetof(struct iovec, iov_base), "fcgic_iov.base misplaced");
_Static_assert(offsetof(struct fcgic_iov, len) == offsetof(struct iovec, iov_len), "fcgic_iov.len misplaced");
_Static_assert(alignof(struct fcgic_iov) == alignof(struct iovec), "fcgic_iov alignment differs from iovec");

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0 /* SO_NOSIGPIPE is set on the socket instead */
#endif

#define IOV_BATCH 64         /* iovec entries per sendmsg */
#define READS_PER_EVENT 16   /* reads per readiness event, so one socket cannot starve others */
#define DEFAULT_RBUF (64u * 1024u)
#define NO_HEAP SIZE_MAX

struct psock {
    struct fcgic_posix *p;
    struct fcgic_conn *c;
    int fd;
    unsigned serial;   /* tells a reused fd number from the one a poll result was for */
    unsigned interest; /* last reported (FCGIC_POSIX_IN / OUT) */
    unsigned busy;     /* engine calls for this socket on the stack */
    bool registered;   /* on_socket told about fd */
    bool connecting;
    bool eof;          /* peer closed: read no more */
    bool dead;         /* socket failed: no more I/O */
    bool paused;       /* a callback returned FCGIC_PAUSE: input held back */
    bool closing;      /* fcgic_posix_close() while busy */
    bool kick_pending;
    bool resolving;    /* waiting for the lookup q: no socket yet */
    bool tcp;          /* TCP (TCP_QUICKACK applies), not a unix socket */
    struct fcgic_posix_query *q;
    uint16_t port;     /* of the target, for the lookup's answer */
    int sys_errno;     /* errno of the last failed connect attempt */
    unsigned ticked; /* timer round in which it was last ticked */
    uint64_t deadline;
    size_t heap_idx;
    struct fcgic__sockaddr *addrs;
    size_t naddrs, next_addr;
    struct fcgic__buf held; /* input not consumed because of FCGIC_PAUSE */
    size_t held_off;
    uint64_t rcvtimeo_us; /* SO_RCVTIMEO last set for blocking-read rounds, 0 = none */
    bool rcvtimeo_set;
    int fl;               /* file status flags (O_NONBLOCK set), 0 = not read yet */
    struct psock *prev, *next;
};

/* A pool or balancer the built-in loop ticks. */
struct attached {
    struct fcgic_pool *pool;     /* one of the two is set */
    struct fcgic_balancer *bal;
};

/* Pointer-keyed open-addressing hash (linear probing, backward-shift
 * deletion). Key 0 is the empty slot. */
struct pmap {
    uintptr_t *keys;
    struct psock **vals;
    size_t cap, len; /* cap a power of two or 0; len <= cap / 2 */
};

struct fcgic_posix {
    struct fcgic__alloc a;
    struct fcgic_posix_options o;
    char *rbuf;
    size_t rbuf_size;
    struct psock *head;
    size_t count;
    unsigned next_serial;
    struct pmap by_fd;
    struct fcgic__dns *dns;
    int last_errno; /* fcgic_posix_last_errno() */
    struct psock **heap; /* min-heap on deadline */
    size_t heap_len, heap_cap;
    uint64_t reported_deadline;
    unsigned tick_round;
    unsigned depth;     /* engine calls on the stack */
    unsigned notifying; /* inside on_socket / on_timer */
    unsigned api_depth; /* public entry points on the stack */
    bool free_pending;
    struct pollfd *pfds;
    unsigned *pserial;
    size_t pcap;
    struct attached *att; /* ticked by the built-in loop */
    size_t natt, attcap;
};

/* ---- hash map --------------------------------------------------------- */

static size_t pmap_hash(uintptr_t k, size_t cap)
{
    uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 32) & (cap - 1);
}

static struct psock *pmap_get(const struct pmap *m, uintptr_t k)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = pmap_hash(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k)
            return m->vals[i];
        if (m->keys[i] == 0)
            return NULL;
    }
}

static void pmap_put_nogrow(struct pmap *m, uintptr_t k, struct psock *v)
{
    size_t i = pmap_hash(k, m->cap);
    while (m->keys[i] != 0 && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == 0)
        m->len++;
    m->keys[i] = k;
    m->vals[i] = v;
}

/* Make room for one more key. */
static int pmap_reserve(struct pmap *m, const struct fcgic__alloc *a)
{
    if ((m->len + 1) * 2 <= m->cap)
        return 0;
    size_t ncap = m->cap ? m->cap * 2 : 16;
    uintptr_t *keys = fcgic__calloc(a, ncap, sizeof(*keys));
    struct psock **vals = fcgic__calloc(a, ncap, sizeof(*vals));
    if (keys == NULL || vals == NULL) {
        fcgic__free(a, keys);
        fcgic__free(a, vals);
        return FCGIC_E_NOMEM;
    }
    struct pmap old = *m;
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    m->len = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            pmap_put_nogrow(m, old.keys[i], old.vals[i]);
    fcgic__free(a, old.keys);
    fcgic__free(a, old.vals);
    return 0;
}

static void pmap_del(struct pmap *m, uintptr_t k)
{
    if (m->cap == 0)
        return;
    size_t mask = m->cap - 1, i = pmap_hash(k, m->cap);
    while (m->keys[i] != k) {
        if (m->keys[i] == 0)
            return;
        i = (i + 1) & mask;
    }
    m->keys[i] = 0;
    m->len--;
    /* Shift back the entries of the run that follows. */
    for (size_t j = (i + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
        size_t home = pmap_hash(m->keys[j], m->cap);
        /* move j to i when home is not cyclically in (i, j] */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
}

static void pmap_free(struct pmap *m, const struct fcgic__alloc *a)
{
    fcgic__free(a, m->keys);
    fcgic__free(a, m->vals);
    memset(m, 0, sizeof(*m));
}

static uintptr_t fd_key(int fd)
{
    return (uintptr_t)fd + 1;
}

/* ---- deadline heap ---------------------------------------------------- */

static void heap_swap(struct fcgic_posix *p, size_t i, size_t j)
{
    struct psock *t = p->heap[i];
    p->heap[i] = p->heap[j];
    p->heap[j] = t;
    p->heap[i]->heap_idx = i;
    p->heap[j]->heap_idx = j;
}

static void heap_up(struct fcgic_posix *p, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (p->heap[parent]->deadline <= p->heap[i]->deadline)
            break;
        heap_swap(p, i, parent);
        i = parent;
    }
}

static void heap_down(struct fcgic_posix *p, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->heap_len && p->heap[l]->deadline < p->heap[m]->deadline)
            m = l;
        if (r < p->heap_len && p->heap[r]->deadline < p->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(p, i, m);
        i = m;
    }
}

static void heap_remove(struct fcgic_posix *p, struct psock *s)
{
    size_t i = s->heap_idx;
    if (i == NO_HEAP)
        return;
    s->heap_idx = NO_HEAP;
    p->heap_len--;
    if (i == p->heap_len)
        return;
    p->heap[i] = p->heap[p->heap_len];
    p->heap[i]->heap_idx = i;
    heap_up(p, i);
    heap_down(p, p->heap[i]->heap_idx);
}

/* Capacity for every socket is reserved at open, so this cannot fail. */
static void heap_set(struct fcgic_posix *p, struct psock *s, uint64_t deadline)
{
    if (deadline == FCGIC_NO_DEADLINE) {
        heap_remove(p, s);
        s->deadline = deadline;
        return;
    }
    s->deadline = deadline;
    if (s->heap_idx == NO_HEAP) {
        s->heap_idx = p->heap_len;
        p->heap[p->heap_len++] = s;
        heap_up(p, s->heap_idx);
    } else {
        heap_up(p, s->heap_idx);
        heap_down(p, s->heap_idx);
    }
}

/* ---- notifications ---------------------------------------------------- */

static void notify_socket(struct fcgic_posix *p, struct psock *s, unsigned what)
{
    if (p->o.on_socket == NULL)
        return;
    p->notifying++;
    p->o.on_socket(p->o.ud, s->fd, what, s->c);
    p->notifying--;
}

static void notify_timer(struct fcgic_posix *p)
{
    uint64_t d = fcgic_posix_deadline(p);
    if (d == p->reported_deadline)
        return;
    p->reported_deadline = d;
    if (p->o.on_timer == NULL)
        return;
    p->notifying++;
    p->o.on_timer(p->o.ud, d);
    p->notifying--;
}

/* ---- sockets ---------------------------------------------------------- */

static unsigned sock_want(const struct psock *s)
{
    if (s->closing || s->dead || s->resolving || fcgic_conn_error(s->c))
        return 0; /* a failed engine (e.g. connect timeout) waits for nothing */
    if (s->connecting)
        return FCGIC_POSIX_OUT;
    unsigned w = fcgic_conn_wants(s->c), want = 0;
    if ((w & FCGIC_WANT_READ) && !s->eof && !s->paused)
        want |= FCGIC_POSIX_IN;
    if ((w & FCGIC_WANT_WRITE) && fcgic_conn_out_pending(s->c) > 0)
        want |= FCGIC_POSIX_OUT;
    return want;
}

/* Report interest and deadline after the engine ran. */
static void sock_forget_fd(struct psock *s);

static void sock_update(struct psock *s)
{
    struct fcgic_posix *p = s->p;
    if (s->fd >= 0 && (fcgic_conn_wants(s->c) & FCGIC_WANT_CLOSE) &&
        (s->dead || s->connecting || fcgic_conn_out_pending(s->c) == 0)) {
        /* finished or failed (an idle connection the application closed,
         * say): the socket goes now, the engine stays until closed */
        s->dead = true;
        sock_forget_fd(s);
    }
    unsigned want = sock_want(s);
    if (s->fd >= 0 && (!s->registered || want != s->interest)) {
        s->interest = want;
        s->registered = true;
        notify_socket(p, s, want);
    }
    heap_set(p, s, (s->dead || s->closing) ? FCGIC_NO_DEADLINE : fcgic_conn_deadline(s->c));
}

static void sock_forget_fd(struct psock *s)
{
    if (s->fd < 0)
        return;
    pmap_del(&s->p->by_fd, fd_key(s->fd));
    if (s->registered)
        notify_socket(s->p, s, FCGIC_POSIX_REMOVE);
    s->registered = false;
    close(s->fd);
    s->fd = -1;
}

static void sock_destroy(struct psock *s)
{
    struct fcgic_posix *p = s->p;
    sock_forget_fd(s);
    fcgic_conn_set_transport_data(s->c, NULL);
    heap_remove(p, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        p->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    p->count--;
    fcgic_conn_free(s->c);
    fcgic__free(&p->a, s->addrs);
    fcgic__buf_free(&s->held, &p->a);
    fcgic__free(&p->a, s);
}

/* Start connecting s to addrs[next_addr] on a new socket.
 * Returns 0 (connected or in progress), FCGIC_E_SOCKET, FCGIC_E_CONNECT. */
static int sock_start_connect(struct psock *s)
{
    const struct fcgic__sockaddr *sa = &s->addrs[s->next_addr];
    int family = sa->ss.ss_family, type = SOCK_STREAM;
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
#endif
    int fd = socket(family, type, 0);
    if (fd < 0) {
        s->sys_errno = errno;
        return FCGIC_E_SOCKET;
    }
#if !(defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC))
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        s->sys_errno = errno;
        close(fd);
        return FCGIC_E_SOCKET;
    }
#endif
    int one = 1;
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    s->tcp = family == AF_INET || family == AF_INET6;
    if (s->tcp)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(fd, (const struct sockaddr *)&sa->ss, sa->len);
    if (r == 0) {
        s->connecting = false;
    } else if (errno == EINPROGRESS || errno == EINTR) {
        /* EINTR: the connect goes on asynchronously, as with EINPROGRESS */
        s->connecting = true;
    } else {
        s->sys_errno = errno;
        close(fd);
        return FCGIC_E_CONNECT;
    }
    s->sys_errno = 0;
    s->fd = fd;
    s->fl = 0; /* a new socket: its flags and SO_RCVTIMEO are its own */
    s->rcvtimeo_set = false;
    s->serial = ++s->p->next_serial;
    pmap_put_nogrow(&s->p->by_fd, fd_key(fd), s); /* room: reserved by the caller */
    return 0;
}

/* Try the addresses from next_addr on until one connects or is in progress. */
static int sock_connect_from(struct psock *s)
{
    int rc = FCGIC_E_CONNECT;
    for (; s->next_addr < s->naddrs; s->next_addr++) {
        rc = sock_start_connect(s);
        if (rc == 0)
            return 0;
    }
    return rc;
}

static void sock_fail(struct psock *s, int err, int sys_errno, uint64_t now)
{
    s->dead = true;
    fcgic_conn_fail_errno(s->c, err, sys_errno, now);
}

/* The connecting socket became writable or reported an error. */
static void sock_finish_connect(struct psock *s, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        if (getpeername(s->fd, (struct sockaddr *)&peer, &plen) < 0) {
            if (errno == ENOTCONN)
                return; /* not yet: a stale event */
            err = errno;
        }
    }
    if (err == 0) {
        s->connecting = false;
        fcgic_conn_connected(s->c, now);
        return;
    }
    if (err == EINPROGRESS || err == EALREADY || err == EINTR)
        return;
    /* Next address, on a new socket. by_fd has room: the old fd is removed first. */
    sock_forget_fd(s);
    s->sys_errno = err;
    s->next_addr++;
    int rc = s->next_addr < s->naddrs ? sock_connect_from(s) : FCGIC_E_CONNECT;
    if (rc == 0) {
        if (!s->connecting)
            fcgic_conn_connected(s->c, now);
        return;
    }
    sock_fail(s, rc, s->sys_errno, now);
}

static void sock_read(struct psock *s, uint64_t now);

/* The application stopped reading (closed or reset the connection) while
 * bytes were still to be sent, typically the rest of a request body it
 * never wanted: its whole answer may already be waiting to be read, so read
 * it before failing what is still running. */
static void sock_write_failed(struct psock *s, int err, uint64_t now)
{
    if (err == EPIPE || err == ECONNRESET)
        sock_read(s, now);
    if (!s->dead && !s->closing && !fcgic_conn_error(s->c) && fcgic_conn_out_pending(s->c) > 0)
        sock_fail(s, FCGIC_E_IO, err, now);
}

static void sock_write(struct psock *s, uint64_t now)
{
    struct fcgic_iov iov[IOV_BATCH];
    if (s->connecting || s->dead || s->closing || fcgic_conn_out_pending(s->c) == 0)
        return;
    /* Inside one of the engine's own callbacks (one that
     * fcgic_conn_submit() or fcgic_conn_resume(), called by the embedder,
     * is running) nothing may be written, since the write could not be
     * acknowledged. The pending output keeps FCGIC_POSIX_OUT in the
     * interest, so the next writable event writes. */
    if (fcgic_conn_in_callback(s->c))
        return;
    while (!s->connecting && !s->dead && !s->closing) {
        size_t n = fcgic_conn_out_iov(s->c, iov, IOV_BATCH);
        if (n == 0)
            return;
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = (struct iovec *)(void *)iov;
        msg.msg_iovlen = n;
        ssize_t w = sendmsg(s->fd, &msg, SEND_FLAGS);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            sock_write_failed(s, errno, now);
            return;
        }
        if (fcgic_conn_out_done(s->c, (size_t)w, now) < 0)
            return;
    }
}

/* Keep the unconsumed input after FCGIC_PAUSE. */
static void sock_hold(struct psock *s, const char *data, size_t len, uint64_t now)
{
    s->held.len = 0;
    s->held_off = 0;
    if (fcgic__buf_append(&s->held, &s->p->a, data, len) < 0) {
        sock_fail(s, FCGIC_E_NOMEM, 0, now);
        return;
    }
    s->paused = true;
}

/* Feed input held back by FCGIC_PAUSE: one engine call per kick, since the
 * callback that paused asked to stop. */
static void sock_feed_held(struct psock *s, uint64_t now)
{
    /* Inside one of the engine's own callbacks (run by the embedder's
     * fcgic_conn_submit() or fcgic_conn_resume()) the engine refuses input:
     * keep it for the next kick rather than dropping it. */
    if (fcgic_conn_in_callback(s->c))
        return;
    if (s->held_off >= s->held.len) {
        /* the pausing callback had taken everything read: just resume */
        s->held.len = 0;
        s->held_off = 0;
        s->paused = false;
        fcgic_conn_unpause(s->c);
        return;
    }
    size_t used = 0;
    int rc = fcgic_conn_recv(s->c, s->held.data + s->held_off, s->held.len - s->held_off, &used, now);
    s->held_off += used;
    if (rc < 0 || s->held_off >= s->held.len) {
        s->held.len = 0;
        s->held_off = 0;
        /* a callback may have paused again on the last byte */
        s->paused = rc >= 0 && fcgic_conn_input_paused(s->c);
    }
}

/* n > 0 bytes read into buf (of `size`): hand them to the engine. Returns
 * true when more may be read now. */
static bool sock_got(struct psock *s, const char *buf, size_t size, size_t n, uint64_t now)
{
    size_t used = 0;
    int rc = fcgic_conn_recv(s->c, buf, n, &used, now);
    if (rc < 0 || s->closing)
        return false;
    if (used < n || fcgic_conn_input_paused(s->c)) {
        /* a callback paused: keep what is left (maybe nothing) */
        sock_hold(s, buf + used, n - used, now);
        return false;
    }
    return n == size; /* a short read most likely drained the socket */
}

/* A response arrived in part: acknowledge it now. On a kept connection
 * Linux delays the ACK (request and response alternate, so it expects to
 * send it with the next request), while an application that writes
 * without TCP_NODELAY (PHP-FPM) holds its last small segment until the
 * previous ones are acknowledged: 40 ms for every response over one
 * segment. TCP_QUICKACK sends the pending ACK at once. */
static void sock_ack_now(struct psock *s)
{
#ifdef TCP_QUICKACK /* Linux */
    if (!s->tcp || s->dead || s->closing || s->fd < 0 || fcgic_conn_state(s->c) != FCGIC_CONN_ACTIVE)
        return;
    int one = 1;
    (void)setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
    (void)s;
#endif
}

/* Read into buf until EAGAIN, EOF, a pause or READS_PER_EVENT reads. */
static void sock_read_into(struct psock *s, char *buf, size_t size, uint64_t now)
{
    bool got = false;
    for (int i = 0; i < READS_PER_EVENT && !s->dead && !s->closing && !s->eof && !s->paused; i++) {
        ssize_t n = recv(s->fd, buf, size, 0);
        if (n > 0) {
            got = true;
            if (!sock_got(s, buf, size, (size_t)n, now))
                break;
        } else if (n == 0) {
            s->eof = true;
            fcgic_conn_recv_eof(s->c, now);
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            sock_fail(s, FCGIC_E_IO, errno, now);
            break;
        }
    }
    if (got)
        sock_ack_now(s);
}

static void sock_read(struct psock *s, uint64_t now)
{
    sock_read_into(s, s->p->rbuf, s->p->rbuf_size, now);
}

/* I/O for readiness events. */
static void sock_io(struct psock *s, unsigned events, uint64_t now)
{
    if (s->dead || s->fd < 0 || fcgic_conn_error(s->c))
        return;
    if (s->connecting) {
        if (events & (FCGIC_POSIX_OUT | FCGIC_POSIX_ERR))
            sock_finish_connect(s, now);
        if (!s->connecting)
            sock_write(s, now);
        return;
    }
    if (events & (FCGIC_POSIX_IN | FCGIC_POSIX_ERR))
        sock_read(s, now);
    if (events & (FCGIC_POSIX_OUT | FCGIC_POSIX_ERR))
        sock_write(s, now);
}

static void sock_enter(struct psock *s)
{
    s->busy++;
    s->p->depth++;
}

/* Leave an engine call: run deferred work once nothing of s is on the stack. */
static void sock_leave(struct psock *s, uint64_t now)
{
    struct fcgic_posix *p = s->p;
    p->depth--;
    if (--s->busy > 0)
        return;
    for (;;) {
        if (s->closing) {
            sock_destroy(s);
            return;
        }
        if (!s->kick_pending)
            break;
        s->kick_pending = false;
        s->busy++;
        p->depth++;
        if (s->paused && !s->dead && !s->closing)
            sock_feed_held(s, now);
        sock_write(s, now);
        p->depth--;
        s->busy--;
    }
    sock_update(s);
}

/* ---- object ----------------------------------------------------------- */

static void posix_destroy(struct fcgic_posix *p)
{
    while (p->head) {
        p->head->busy = 0;
        sock_destroy(p->head);
    }
    pmap_free(&p->by_fd, &p->a);
    fcgic__dns_free(p->dns);
    struct fcgic__alloc a = p->a;
    fcgic__free(&a, p->heap);
    fcgic__free(&a, p->pfds);
    fcgic__free(&a, p->pserial);
    fcgic__free(&a, p->att);
    fcgic__free(&a, p->rbuf);
    fcgic__free(&a, p);
}

/* Every public entry point that may run engine code brackets it with these.
 * api_leave returns true when the object was freed (deferred free). */
static void api_enter(struct fcgic_posix *p)
{
    p->api_depth++;
}

static bool api_leave(struct fcgic_posix *p)
{
    if (--p->api_depth > 0)
        return false;
    if (p->free_pending) {
        posix_destroy(p);
        return true;
    }
    notify_timer(p);
    if (p->free_pending) { /* on_timer freed the object */
        posix_destroy(p);
        return true;
    }
    return false;
}

int fcgic_posix_new(struct fcgic_posix **out, const struct fcgic_posix_options *opts, const struct fcgic_mem *mem)
{
    if (out == NULL)
        return FCGIC_E_INVAL;
    *out = NULL;
    unsigned v = opts ? fcgic__struct_version(opts->version, FCGIC_POSIX_OPTIONS_VERSION) : 1;
    if (v == 0)
        return FCGIC_E_INVAL;
    struct fcgic__alloc a;
    fcgic__alloc_init(&a, mem);
    struct fcgic_posix *p = fcgic__calloc(&a, 1, sizeof(*p));
    if (p == NULL)
        return FCGIC_E_NOMEM;
    p->a = a;
    if (opts)
        fcgic__copy_grown(&p->o, sizeof(p->o), opts,
                          v == 1 ? offsetof(struct fcgic_posix_options, resolve) : sizeof(*opts));
    p->rbuf_size = p->o.read_buffer_size ? p->o.read_buffer_size : DEFAULT_RBUF;
    p->rbuf = fcgic__malloc(&a, p->rbuf_size);
    if (p->rbuf == NULL) {
        fcgic__free(&a, p);
        return FCGIC_E_NOMEM;
    }
    int rc = fcgic__dns_new(&p->dns, &p->a, p, &p->o);
    if (rc) {
        fcgic__free(&a, p->rbuf);
        fcgic__free(&a, p);
        return rc;
    }
    p->reported_deadline = FCGIC_NO_DEADLINE;
    *out = p;
    return 0;
}

void fcgic_posix_free(struct fcgic_posix *p)
{
    if (p == NULL)
        return;
    if (p->api_depth > 0 || p->notifying > 0) {
        p->free_pending = true;
        return;
    }
    posix_destroy(p);
}

static struct psock *find(const struct fcgic_posix *p, const struct fcgic_conn *c)
{
    struct psock *s = c ? fcgic_conn_transport_data(c) : NULL;
    return (s && s->p == p && s->c == c) ? s : NULL;
}

/* Where a new socket's addresses come from: 0 with s->addrs set, 1 when it
 * waits for a lookup (s->q), or an error. */
static int sock_addresses(struct fcgic_posix *p, struct psock *s, const char *target, uint64_t now)
{
    char host[256];
    int rc = fcgic__posix_resolve(&p->a, target, &s->addrs, &s->naddrs, host, &s->port);
    if (rc != 1)
        return rc;
    if (!fcgic__dns_async(p->dns))
        return fcgic__posix_resolve_blocking(&p->a, host, s->port, &s->addrs, &s->naddrs);
    return fcgic__dns_lookup(p->dns, host, s->port, now, &s->q, &s->addrs, &s->naddrs);
}

static int posix_open(struct fcgic_posix *p, const char *target, const struct fcgic_conn_options *opts,
                      const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                      struct fcgic_conn **out, uint64_t now)
{
    if (out)
        *out = NULL;
    if (p == NULL || target == NULL || cb == NULL || out == NULL)
        return FCGIC_E_INVAL;
    p->last_errno = 0;
    if (p->notifying || p->free_pending)
        return p->notifying ? FCGIC_E_REENTRANT : FCGIC_E_STATE;
    /* Reserve everything that could fail later, so that no failure happens
     * once the socket exists. */
    if (p->heap_len >= p->heap_cap || p->count >= p->heap_cap) {
        size_t ncap = p->heap_cap ? p->heap_cap * 2 : 8;
        struct psock **h = fcgic__realloc(&p->a, p->heap, p->heap_cap * sizeof(*h), ncap * sizeof(*h));
        if (h == NULL)
            return FCGIC_E_NOMEM;
        p->heap = h;
        p->heap_cap = ncap;
    }
    int rc;
    if ((rc = pmap_reserve(&p->by_fd, &p->a)) < 0)
        return rc;
    struct psock *s = fcgic__calloc(&p->a, 1, sizeof(*s));
    if (s == NULL)
        return FCGIC_E_NOMEM;
    s->p = p;
    s->fd = -1;
    s->heap_idx = NO_HEAP;
    s->deadline = FCGIC_NO_DEADLINE;
    api_enter(p); /* a synchronous answer of the resolve hook may free nothing yet */
    rc = sock_addresses(p, s, target, now);
    s->resolving = rc == 1;
    if (rc == 1)
        rc = 0;
    if (rc == 0)
        rc = fcgic_conn_new(&s->c, opts, cb, conn_ud, mem);
    if (rc == 0)
        rc = fcgic_conn_connecting(s->c, now);
    if (rc == 0 && !s->resolving)
        rc = sock_connect_from(s);
    if (rc < 0) {
        p->last_errno = s->sys_errno;
        fcgic_conn_free(s->c);
        fcgic__free(&p->a, s->addrs);
        fcgic__free(&p->a, s);
        if (api_leave(p))
            return FCGIC_E_CLOSED;
        return rc;
    }
    fcgic_conn_set_transport_data(s->c, s);
    s->next = p->head;
    if (p->head)
        p->head->prev = s;
    p->head = s;
    p->count++;
    sock_enter(s);
    if (!s->connecting && !s->resolving)
        fcgic_conn_connected(s->c, now);
    *out = s->c;
    sock_leave(s, now);
    if (api_leave(p)) {
        *out = NULL; /* a callback freed the object */
        return FCGIC_E_CLOSED;
    }
    return 0;
}

int fcgic_posix_open(struct fcgic_posix *p, const char *target, const struct fcgic_conn_options *opts,
                     const struct fcgic_conn_callbacks *cb, void *conn_ud, struct fcgic_conn **out, uint64_t now)
{
    return posix_open(p, target, opts, cb, conn_ud, p ? &p->a.m : NULL, out, now);
}

int fcgic_posix_last_errno(const struct fcgic_posix *p)
{
    return p ? p->last_errno : 0;
}

/* A lookup ended: its waiting sockets connect, or fail. */
void fcgic__posix_dns_done(struct fcgic_posix *p, struct fcgic_posix_query *q, uint64_t now)
{
    api_enter(p);
    for (struct psock *s = p->head; s && !p->free_pending;) {
        struct psock *next = s->next;
        if (!s->resolving || s->q != q || s->closing) {
            s = next;
            continue;
        }
        s->resolving = false;
        s->q = NULL;
        sock_enter(s);
        int rc = fcgic__dns_addrs(p->dns, q, s->port, &s->addrs, &s->naddrs);
        if (rc == 0)
            rc = pmap_reserve(&p->by_fd, &p->a);
        if (rc == 0)
            rc = sock_connect_from(s);
        if (rc < 0) {
            sock_fail(s, rc, rc == FCGIC_E_RESOLVE ? 0 : s->sys_errno, now);
        } else if (!s->connecting) {
            fcgic_conn_connected(s->c, now);
            s->kick_pending = true; /* write what was submitted meanwhile */
        }
        sock_leave(s, now); /* s may be gone (closed from a callback) */
        s = next;
    }
    api_leave(p);
}

void fcgic__posix_dns_socket(struct fcgic_posix *p, int fd, unsigned what)
{
    if (p->o.on_socket == NULL)
        return;
    p->notifying++;
    p->o.on_socket(p->o.ud, fd, what, NULL);
    p->notifying--;
}

int fcgic_posix_resolved(struct fcgic_posix *p, struct fcgic_posix_query *q, const struct addrinfo *ai,
                         uint64_t ttl_ns, uint64_t now)
{
    if (p == NULL || q == NULL)
        return FCGIC_E_INVAL;
    if (p->notifying)
        return FCGIC_E_REENTRANT;
    api_enter(p);
    int rc = fcgic__dns_answer(p->dns, q, ai, ttl_ns, now);
    api_leave(p);
    return rc;
}

void fcgic_posix_kick(struct fcgic_posix *p, struct fcgic_conn *c, uint64_t now)
{
    if (p == NULL || p->notifying)
        return;
    struct psock *s = find(p, c);
    if (s == NULL || s->closing)
        return;
    s->kick_pending = true;
    if (s->busy)
        return;
    api_enter(p);
    sock_enter(s);
    sock_leave(s, now);
    api_leave(p);
}

void fcgic_posix_close(struct fcgic_posix *p, struct fcgic_conn *c)
{
    if (p == NULL || p->notifying)
        return;
    struct psock *s = find(p, c);
    if (s == NULL || s->closing)
        return;
    s->closing = true;
    api_enter(p); /* on_socket may call fcgic_posix_free() */
    /* The fd is closed now even when the engine is busy: no more I/O on it. */
    sock_forget_fd(s);
    heap_remove(p, s);
    if (!s->busy)
        sock_destroy(s);
    api_leave(p);
}

void fcgic_posix_check(struct fcgic_posix *p, struct fcgic_conn *c, uint64_t now)
{
    if (p == NULL || p->notifying || p->free_pending)
        return;
    struct psock *s = find(p, c);
    if (s == NULL || s->busy || s->closing || s->dead || s->connecting || s->eof || s->paused || s->fd < 0)
        return;
    /* Its own small buffer: check may run from an engine callback of another
     * connection, whose input may still sit in the shared read buffer. An
     * idle connection has nothing legitimate to read anyway. */
    char buf[512];
    api_enter(p);
    sock_enter(s);
    sock_read_into(s, buf, sizeof buf, now); /* nonblocking: stops at EAGAIN */
    sock_leave(s, now);
    api_leave(p);
}

static int t_open(void *ud, const char *target, const struct fcgic_conn_options *opts,
                  const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                  struct fcgic_conn **out, int *sys_errno, uint64_t now)
{
    struct fcgic_posix *p = ud;
    int rc = posix_open(p, target, opts, cb, conn_ud, mem, out, now);
    if (sys_errno)
        *sys_errno = rc != 0 && rc != FCGIC_E_CLOSED ? p->last_errno : 0;
    return rc;
}

static void t_kick(void *ud, struct fcgic_conn *c, uint64_t now)
{
    fcgic_posix_kick(ud, c, now);
}

static void t_close(void *ud, struct fcgic_conn *c)
{
    fcgic_posix_close(ud, c);
}

static void t_check(void *ud, struct fcgic_conn *c, uint64_t now)
{
    fcgic_posix_check(ud, c, now);
}

void fcgic_posix_transport(struct fcgic_posix *p, struct fcgic_transport *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    out->version = FCGIC_TRANSPORT_VERSION;
    out->ud = p;
    out->open = t_open;
    out->kick = t_kick;
    out->close = t_close;
    out->check = t_check;
}

static int check_top(const struct fcgic_posix *p)
{
    if (p == NULL)
        return FCGIC_E_INVAL;
    if (p->notifying || p->depth || p->free_pending)
        return FCGIC_E_REENTRANT;
    return 0;
}

int fcgic_posix_socket_action(struct fcgic_posix *p, int fd, unsigned events, uint64_t now)
{
    int rc = check_top(p);
    if (rc)
        return rc;
    struct psock *s = pmap_get(&p->by_fd, fd_key(fd));
    if (s == NULL) {
        if (fcgic__dns_owns(p->dns, fd)) {
            api_enter(p);
            fcgic__dns_process(p->dns, fd, events, now);
            api_leave(p);
        }
        return 0;
    }
    api_enter(p);
    sock_enter(s);
    sock_io(s, events, now);
    sock_leave(s, now);
    api_leave(p);
    return 0;
}

/* Tick every due connection once; a deadline the engine did not move past
 * now waits for the next call instead of spinning here. */
static void run_timers(struct fcgic_posix *p, uint64_t now)
{
    if (fcgic__dns_deadline(p->dns) <= now)
        fcgic__dns_process(p->dns, -1, 0, now);
    unsigned round = ++p->tick_round;
    while (p->heap_len && p->heap[0]->deadline <= now && !p->free_pending) {
        struct psock *s = p->heap[0];
        if (s->ticked == round)
            break;
        s->ticked = round;
        sock_enter(s);
        fcgic_conn_tick(s->c, now);
        sock_leave(s, now);
    }
}

int fcgic_posix_timeout(struct fcgic_posix *p, uint64_t now)
{
    int rc = check_top(p);
    if (rc)
        return rc;
    api_enter(p);
    run_timers(p, now);
    api_leave(p);
    return 0;
}

uint64_t fcgic_posix_deadline(const struct fcgic_posix *p)
{
    if (p == NULL)
        return FCGIC_NO_DEADLINE;
    uint64_t d = p->heap_len ? p->heap[0]->deadline : FCGIC_NO_DEADLINE, r = fcgic__dns_deadline(p->dns);
    return r < d ? r : d;
}

size_t fcgic_posix_count(const struct fcgic_posix *p)
{
    return p ? p->count : 0;
}

int fcgic_posix_fd(const struct fcgic_posix *p, const struct fcgic_conn *c)
{
    const struct psock *s = p ? find(p, c) : NULL;
    return (s && !s->closing) ? s->fd : -1;
}

uint64_t fcgic_posix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- attached pools and balancers ------------------------------------ */

static int attach(struct fcgic_posix *p, struct fcgic_pool *pool, struct fcgic_balancer *bal)
{
    if (p == NULL || (pool == NULL && bal == NULL))
        return FCGIC_E_INVAL;
    for (size_t i = 0; i < p->natt; i++)
        if ((pool && p->att[i].pool == pool) || (bal && p->att[i].bal == bal))
            return FCGIC_E_STATE;
    if (fcgic__array_reserve(&p->a, &p->att, &p->attcap, p->natt + 1, sizeof(*p->att), 4))
        return FCGIC_E_NOMEM;
    p->att[p->natt].pool = pool;
    p->att[p->natt].bal = bal;
    p->natt++;
    return 0;
}

static int detach(struct fcgic_posix *p, const struct fcgic_pool *pool, const struct fcgic_balancer *bal)
{
    if (p == NULL || (pool == NULL && bal == NULL))
        return FCGIC_E_INVAL;
    for (size_t i = 0; i < p->natt; i++) {
        if ((pool && p->att[i].pool == pool) || (bal && p->att[i].bal == bal)) {
            memmove(&p->att[i], &p->att[i + 1], (p->natt - i - 1) * sizeof(*p->att));
            p->natt--;
            return 0;
        }
    }
    return FCGIC_E_NOT_FOUND;
}

int fcgic_posix_attach_pool(struct fcgic_posix *p, struct fcgic_pool *pool)
{
    return attach(p, pool, NULL);
}

int fcgic_posix_attach_balancer(struct fcgic_posix *p, struct fcgic_balancer *b)
{
    return attach(p, NULL, b);
}

int fcgic_posix_detach_pool(struct fcgic_posix *p, const struct fcgic_pool *pool)
{
    return detach(p, pool, NULL);
}

int fcgic_posix_detach_balancer(struct fcgic_posix *p, const struct fcgic_balancer *b)
{
    return detach(p, NULL, b);
}

static uint64_t att_deadline(const struct attached *t)
{
    return t->pool ? fcgic_pool_deadline(t->pool) : fcgic_balancer_deadline(t->bal);
}

/* The earliest deadline of the attached objects. */
static uint64_t attached_deadline(const struct fcgic_posix *p)
{
    uint64_t d = FCGIC_NO_DEADLINE;
    for (size_t i = 0; i < p->natt; i++) {
        uint64_t x = att_deadline(&p->att[i]);
        if (x < d)
            d = x;
    }
    return d;
}

/* Tick the attached objects that are due, each once. Their callbacks may
 * attach, detach, or free the object (then free_pending is set). */
static void tick_attached(struct fcgic_posix *p, uint64_t now)
{
    for (size_t i = 0; i < p->natt && !p->free_pending; i++) {
        struct attached t = p->att[i];
        if (att_deadline(&t) > now)
            continue;
        if (t.pool)
            (void)fcgic_pool_tick(t.pool, now);
        else
            (void)fcgic_balancer_tick(t.bal, now);
    }
}

/* The wait of one round: timeout_ns, or less when a deadline of the
 * sockets or of the attached objects comes first. */
static uint64_t round_wait(const struct fcgic_posix *p, uint64_t timeout_ns, uint64_t now)
{
    uint64_t wait = timeout_ns, d = fcgic_posix_deadline(p), ad = attached_deadline(p);
    if (ad < d)
        d = ad;
    if (d != FCGIC_NO_DEADLINE) {
        uint64_t until = d > now ? d - now : 0;
        if (until < wait)
            wait = until;
    }
    return wait;
}

/* Sockets that want something and the poll set for them. */
#define MAX_DNS_POLL 16

static int build_pollset(struct fcgic_posix *p, size_t *n_out)
{
    if (p->pcap < p->count + MAX_DNS_POLL) {
        size_t ncap = p->count + MAX_DNS_POLL;
        struct pollfd *pf = fcgic__realloc(&p->a, p->pfds, p->pcap * sizeof(*pf), ncap * sizeof(*pf));
        if (pf == NULL)
            return FCGIC_E_NOMEM;
        p->pfds = pf;
        unsigned *ps = fcgic__realloc(&p->a, p->pserial, p->pcap * sizeof(*ps), ncap * sizeof(*ps));
        if (ps == NULL)
            return FCGIC_E_NOMEM;
        p->pserial = ps;
        p->pcap = ncap;
    }
    size_t n = 0;
    for (struct psock *s = p->head; s; s = s->next) {
        if (s->fd < 0 || s->interest == 0)
            continue;
        p->pfds[n].fd = s->fd;
        p->pfds[n].events = (short)(((s->interest & FCGIC_POSIX_IN) ? POLLIN : 0) |
                                    ((s->interest & FCGIC_POSIX_OUT) ? POLLOUT : 0));
        p->pfds[n].revents = 0;
        p->pserial[n] = s->serial;
        n++;
    }
    int dfd[MAX_DNS_POLL];
    unsigned dwhat[MAX_DNS_POLL];
    size_t nd = fcgic__dns_fds(p->dns, dfd, dwhat, MAX_DNS_POLL);
    for (size_t i = 0; i < nd; i++, n++) {
        p->pfds[n].fd = dfd[i];
        p->pfds[n].events = (short)(((dwhat[i] & FCGIC_POSIX_IN) ? POLLIN : 0) |
                                    ((dwhat[i] & FCGIC_POSIX_OUT) ? POLLOUT : 0));
        p->pfds[n].revents = 0;
        p->pserial[n] = 0; /* a resolver socket (sockets' serials start at 1) */
    }
    *n_out = n;
    return 0;
}

/* One round; returns 1 when the object was freed by a callback. */
#define BLOCKING_NOT_TAKEN 2

/* The built-in loop waiting on one socket for input only (the common case
 * of one request, or one kept-alive connection, at a time): a blocking
 * recv(2) with SO_RCVTIMEO wakes faster than poll(2) followed by recv(2) on
 * some machines (on the virtual machine we measure on, a round trip took
 * 35 us with read, 50 us with poll + read). The socket is blocking only
 * for this call. Returns like run_round(), or BLOCKING_NOT_TAKEN. */
static int blocking_read_round(struct fcgic_posix *p, uint64_t wait)
{
    int fd = p->pfds[0].fd;
    struct psock *s = pmap_get(&p->by_fd, fd_key(fd));
    if (s == NULL || p->pserial[0] == 0 || s->serial != p->pserial[0] || s->connecting || s->paused)
        return BLOCKING_NOT_TAKEN;
    /* SO_RCVTIMEO in microseconds, 0 = no limit. Waking early is harmless
     * (the caller loops) and waking late is not, so the option is set again
     * only when it is too long, or much shorter than needed. */
    uint64_t us = 0;
    if (wait != FCGIC_NO_DEADLINE) {
        us = (wait + 999u) / 1000u; /* round up: never wake before the deadline */
        if (us / 1000000u > (uint64_t)INT32_MAX)
            us = (uint64_t)INT32_MAX * 1000000u;
    }
    uint64_t cur = s->rcvtimeo_us;
    bool set = !s->rcvtimeo_set || (us == 0 ? cur != 0 : (cur == 0 || cur > us || cur < us / 2));
    if (set) {
        struct timeval tv;
        tv.tv_sec = (time_t)(us / 1000000u);
        tv.tv_usec = (suseconds_t)(us % 1000000u);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
            return BLOCKING_NOT_TAKEN;
        s->rcvtimeo_us = us;
        s->rcvtimeo_set = true;
    }
    if (s->fl == 0 && (s->fl = fcntl(fd, F_GETFL)) <= 0) {
        s->fl = 0;
        return BLOCKING_NOT_TAKEN;
    }
    int fl = s->fl;
    if (fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return BLOCKING_NOT_TAKEN;
    ssize_t got = recv(fd, p->rbuf, p->rbuf_size, 0);
    int err = errno;
    bool restored = fcntl(fd, F_SETFL, fl) == 0;
    uint64_t now = fcgic_posix_now();
    api_enter(p);
    sock_enter(s);
    if (!restored) {
        sock_fail(s, FCGIC_E_IO, errno, now); /* a blocking socket would stall the loop */
    } else if (got > 0) {
        if (sock_got(s, p->rbuf, p->rbuf_size, (size_t)got, now))
            sock_read(s, now);
    } else if (got == 0) {
        s->eof = true;
        fcgic_conn_recv_eof(s->c, now);
    } else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
        sock_fail(s, FCGIC_E_IO, err, now);
    }
    sock_leave(s, now);
    if (!p->free_pending)
        run_timers(p, now);
    tick_attached(p, now);
    return api_leave(p) ? 1 : 0;
}

static int run_round(struct fcgic_posix *p, uint64_t timeout_ns)
{
    size_t n;
    int rc = build_pollset(p, &n);
    if (rc)
        return rc;
    uint64_t now = fcgic_posix_now();
    uint64_t wait = round_wait(p, timeout_ns, now);
    if (n == 0 && wait == FCGIC_NO_DEADLINE)
        return 0; /* nothing would ever wake us */
    if (n == 1 && p->pfds[0].events == POLLIN && wait != 0) {
        int br = blocking_read_round(p, wait);
        if (br != BLOCKING_NOT_TAKEN)
            return br;
    }
    int ms;
    if (wait == FCGIC_NO_DEADLINE)
        ms = -1;
    else if (wait >= (uint64_t)INT32_MAX * 1000000u)
        ms = INT32_MAX;
    else
        ms = (int)((wait + 999999u) / 1000000u); /* round up: never wake before the deadline */
    int r = poll(p->pfds, (nfds_t)n, ms);
    if (r < 0)
        return errno == EINTR ? 0 : FCGIC_E_IO;
    now = fcgic_posix_now();
    api_enter(p);
    for (size_t i = 0; i < n && r > 0 && !p->free_pending; i++) {
        short re = p->pfds[i].revents;
        if (re == 0)
            continue;
        r--;
        unsigned ev = ((re & POLLIN) ? FCGIC_POSIX_IN : 0) | ((re & POLLOUT) ? FCGIC_POSIX_OUT : 0) |
                      ((re & (POLLERR | POLLHUP | POLLNVAL)) ? FCGIC_POSIX_ERR : 0);
        if (p->pserial[i] == 0) {
            if (fcgic__dns_owns(p->dns, p->pfds[i].fd))
                fcgic__dns_process(p->dns, p->pfds[i].fd, ev, now);
            continue;
        }
        struct psock *s = pmap_get(&p->by_fd, fd_key(p->pfds[i].fd));
        if (s == NULL || s->serial != p->pserial[i])
            continue; /* closed or replaced since the poll set was built */
        sock_enter(s);
        sock_io(s, ev, now);
        sock_leave(s, now);
    }
    if (!p->free_pending)
        run_timers(p, now);
    tick_attached(p, now);
    return api_leave(p) ? 1 : 0;
}

int fcgic_posix_run(struct fcgic_posix *p, uint64_t timeout_ns)
{
    int rc = check_top(p);
    if (rc)
        return rc;
    rc = run_round(p, timeout_ns);
    return rc == 1 ? 0 : rc;
}

static bool has_work(const struct fcgic_posix *p)
{
    int fd;
    unsigned what;
    if (p->heap_len || attached_deadline(p) != FCGIC_NO_DEADLINE || fcgic__dns_deadline(p->dns) != FCGIC_NO_DEADLINE ||
        fcgic__dns_fds(p->dns, &fd, &what, 1) > 0)
        return true;
    for (const struct psock *s = p->head; s; s = s->next)
        if (s->fd >= 0 && s->interest)
            return true;
    return false;
}

int fcgic_posix_run_until(struct fcgic_posix *p, int (*done)(void *ud), void *ud, uint64_t timeout_ns)
{
    int rc = check_top(p);
    if (rc)
        return rc;
    if (done == NULL)
        return FCGIC_E_INVAL;
    uint64_t start = fcgic_posix_now();
    uint64_t end = (timeout_ns == FCGIC_NO_DEADLINE || timeout_ns > UINT64_MAX - start) ? FCGIC_NO_DEADLINE
                                                                                          : start + timeout_ns;
    for (;;) {
        if (done(ud))
            return 0;
        uint64_t now = fcgic_posix_now();
        if (end != FCGIC_NO_DEADLINE && now >= end)
            return FCGIC_E_TIMEOUT;
        if (!has_work(p))
            return FCGIC_E_STATE;
        rc = run_round(p, end == FCGIC_NO_DEADLINE ? FCGIC_NO_DEADLINE : end - now);
        if (rc == 1)
            return FCGIC_E_CLOSED;
        if (rc < 0)
            return rc;
    }
}
