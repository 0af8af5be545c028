/* Host-name lookups of the POSIX transport without blocking: a per-object
 * cache of answers kept for their TTL, filled by the embedder's resolve
 * hook (fcgic_posix_resolved()) or by c-ares, whose sockets and timers the
 * object drives like its own. Connections that wait for a lookup are the
 * event loop's business (posix_loop.c): fcgic__posix_dns_done() is told
 * when an answer arrives. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>

#include "posix_int.h"

#ifdef FCGIC_HAVE_CARES
#include <ares.h>
#endif

#define MAX_DNS_FDS 16 /* c-ares sockets watched at once (UDP per server, TCP) */

struct fcgic_posix_query {
    struct fcgic__dns *d;
    struct fcgic_posix_query *next;
    char *host;
    struct fcgic__sockaddr *addrs; /* port 0 */
    size_t n;
    uint64_t expires; /* the answer is used for new connections before this */
    bool pending;     /* asked, no answer yet */
    bool answered;    /* the last lookup ended (status says how) */
    bool in_start;    /* the lookup is being started: an answer now is synchronous */
    int status;       /* 0 or FCGIC_E_RESOLVE / FCGIC_E_NOMEM */
};

struct dns_fd {
    int fd;
    unsigned what; /* FCGIC_POSIX_IN / OUT */
};

struct fcgic__dns {
    const struct fcgic__alloc *a;
    struct fcgic_posix *p;
    int (*resolve)(void *ud, const char *host, struct fcgic_posix_query *q);
    void (*cancel)(void *ud, struct fcgic_posix_query *q);
    void *ud;
    struct fcgic_posix_query *entries;
    uint64_t now; /* of the latest call: answers from c-ares carry no time */
#ifdef FCGIC_HAVE_CARES
    ares_channel ch;
    bool ch_ok;
    struct dns_fd fds[MAX_DNS_FDS];
    size_t nfds;
    uint64_t deadline;
#endif
};

int fcgic_posix_has_cares(void)
{
#ifdef FCGIC_HAVE_CARES
    return 1;
#else
    return 0;
#endif
}

/* ---- answers ---------------------------------------------------------- */

/* Keep the IPv4 and IPv6 addresses of a list (port cleared). */
static int store_addrs(struct fcgic_posix_query *q, const struct sockaddr *const *sa, const socklen_t *len, size_t n)
{
    const struct fcgic__alloc *a = q->d->a;
    fcgic__free(a, q->addrs);
    q->addrs = NULL;
    q->n = 0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if ((sa[i]->sa_family == AF_INET || sa[i]->sa_family == AF_INET6) &&
            len[i] <= (socklen_t)sizeof(struct sockaddr_storage))
            count++;
    if (count == 0)
        return FCGIC_E_RESOLVE;
    q->addrs = fcgic__calloc(a, count, sizeof(*q->addrs));
    if (q->addrs == NULL)
        return FCGIC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if ((sa[i]->sa_family != AF_INET && sa[i]->sa_family != AF_INET6) ||
            len[i] > (socklen_t)sizeof(struct sockaddr_storage))
            continue;
        struct fcgic__sockaddr *d = &q->addrs[q->n++];
        memcpy(&d->ss, sa[i], len[i]);
        d->len = len[i];
    }
    return 0;
}

/* The lookup of q ended with status (0: q->addrs set). */
static void finish(struct fcgic_posix_query *q, int status, uint64_t ttl_ns, uint64_t now)
{
    q->pending = false;
    q->answered = true;
    q->status = status;
    q->expires = status == 0 && ttl_ns ? fcgic__add_sat(now, ttl_ns) : 0; /* failures are not kept */
    if (!q->in_start)
        fcgic__posix_dns_done(q->d->p, q, now);
}

int fcgic__dns_answer(struct fcgic__dns *d, struct fcgic_posix_query *q, const struct addrinfo *ai, uint64_t ttl_ns,
                      uint64_t now)
{
    struct fcgic_posix_query *x = d ? d->entries : NULL;
    while (x && x != q)
        x = x->next;
    if (x == NULL || !q->pending)
        return FCGIC_E_INVAL;
    size_t n = 0;
    for (const struct addrinfo *i = ai; i; i = i->ai_next)
        if (i->ai_addr)
            n++;
    int status = FCGIC_E_RESOLVE;
    if (n > 0) {
        const struct sockaddr **sa = fcgic__calloc(d->a, n, sizeof(*sa));
        socklen_t *len = fcgic__calloc(d->a, n, sizeof(*len));
        status = FCGIC_E_NOMEM;
        if (sa && len) {
            size_t k = 0;
            for (const struct addrinfo *i = ai; i; i = i->ai_next) {
                if (!i->ai_addr)
                    continue;
                sa[k] = i->ai_addr;
                len[k] = i->ai_addrlen;
                k++;
            }
            status = store_addrs(q, sa, len, n);
        }
        fcgic__free(d->a, (void *)sa);
        fcgic__free(d->a, len);
    }
    finish(q, status, ttl_ns, now);
    return 0;
}

/* ---- c-ares ----------------------------------------------------------- */

#ifdef FCGIC_HAVE_CARES
static void cares_update_deadline(struct fcgic__dns *d, uint64_t now)
{
    struct timeval tv;
    if (!d->ch_ok || ares_timeout(d->ch, NULL, &tv) == NULL) {
        d->deadline = FCGIC_NO_DEADLINE;
        return;
    }
    uint64_t rel = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
    d->deadline = fcgic__add_sat(now, rel);
}

static void cares_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct fcgic__dns *d = data;
    unsigned what = (readable ? FCGIC_POSIX_IN : 0u) | (writable ? FCGIC_POSIX_OUT : 0u);
    size_t i = 0;
    while (i < d->nfds && d->fds[i].fd != fd)
        i++;
    if (what == 0) { /* closed */
        if (i == d->nfds)
            return;
        d->fds[i] = d->fds[--d->nfds];
        fcgic__posix_dns_socket(d->p, fd, FCGIC_POSIX_REMOVE);
        return;
    }
    if (i == d->nfds) {
        if (d->nfds == MAX_DNS_FDS)
            return; /* c-ares times the query out */
        d->nfds++;
        d->fds[i].fd = fd;
    }
    d->fds[i].what = what;
    fcgic__posix_dns_socket(d->p, fd, what);
}

static void cares_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct fcgic_posix_query *q = arg;
    FCGIC__UNUSED(timeouts);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || !q->pending) {
        ares_freeaddrinfo(res);
        return;
    }
    int rc = FCGIC_E_RESOLVE;
    uint64_t ttl = 0;
    if (status == ARES_SUCCESS && res) {
        size_t n = 0;
        int min_ttl = -1;
        for (struct ares_addrinfo_node *i = res->nodes; i; i = i->ai_next) {
            n++;
            if (min_ttl < 0 || i->ai_ttl < min_ttl)
                min_ttl = i->ai_ttl;
        }
        const struct sockaddr **sa = n ? fcgic__calloc(q->d->a, n, sizeof(*sa)) : NULL;
        socklen_t *len = n ? fcgic__calloc(q->d->a, n, sizeof(*len)) : NULL;
        if (n && sa && len) {
            size_t k = 0;
            for (struct ares_addrinfo_node *i = res->nodes; i; i = i->ai_next, k++) {
                sa[k] = i->ai_addr;
                len[k] = i->ai_addrlen;
            }
            rc = store_addrs(q, sa, len, n);
        } else if (n) {
            rc = FCGIC_E_NOMEM;
        }
        fcgic__free(q->d->a, (void *)sa);
        fcgic__free(q->d->a, len);
        ttl = min_ttl > 0 ? (uint64_t)min_ttl * 1000000000u : 0;
    }
    ares_freeaddrinfo(res);
    finish(q, rc, ttl, q->d->now);
}

static int cares_start(struct fcgic__dns *d, struct fcgic_posix_query *q, uint64_t now)
{
    if (!d->ch_ok)
        return FCGIC_E_RESOLVE;
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(d->ch, q->host, NULL, &hints, cares_answer, q);
    cares_update_deadline(d, now);
    return 0;
}
#endif

/* ---- the object's resolver -------------------------------------------- */

int fcgic__dns_new(struct fcgic__dns **out, const struct fcgic__alloc *a, struct fcgic_posix *p,
                   const struct fcgic_posix_options *o)
{
    *out = NULL;
    struct fcgic__dns *d = fcgic__calloc(a, 1, sizeof(*d));
    if (d == NULL)
        return FCGIC_E_NOMEM;
    d->a = a;
    d->p = p;
    d->resolve = o->resolve;
    d->cancel = o->resolve_cancel;
    d->ud = o->ud;
#ifdef FCGIC_HAVE_CARES
    d->deadline = FCGIC_NO_DEADLINE;
    if (!d->resolve) {
        struct ares_options ao;
        memset(&ao, 0, sizeof(ao));
        ao.sock_state_cb = cares_sock_state;
        ao.sock_state_cb_data = d;
        if (ares_init_options(&d->ch, &ao, ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS) {
            fcgic__free(a, d);
            return FCGIC_E_RESOLVE;
        }
        d->ch_ok = true;
    }
#endif
    *out = d;
    return 0;
}

void fcgic__dns_free(struct fcgic__dns *d)
{
    if (d == NULL)
        return;
    for (struct fcgic_posix_query *q = d->entries; q; q = q->next)
        if (q->pending && d->resolve && d->cancel)
            d->cancel(d->ud, q);
#ifdef FCGIC_HAVE_CARES
    if (d->ch_ok) {
        for (struct fcgic_posix_query *q = d->entries; q; q = q->next)
            q->pending = false; /* ares_destroy answers them: ignored */
        d->nfds = 0;
        ares_destroy(d->ch);
    }
#endif
    while (d->entries) {
        struct fcgic_posix_query *q = d->entries;
        d->entries = q->next;
        fcgic__free(d->a, q->host);
        fcgic__free(d->a, q->addrs);
        fcgic__free(d->a, q);
    }
    fcgic__free(d->a, d);
}

int fcgic__dns_async(const struct fcgic__dns *d)
{
#ifdef FCGIC_HAVE_CARES
    if (d->ch_ok)
        return 1;
#endif
    return d->resolve != NULL;
}

/* A copy of q's answer with `port` set. */
static int copy_answer(const struct fcgic__dns *d, const struct fcgic_posix_query *q, uint16_t port,
                       struct fcgic__sockaddr **out, size_t *n)
{
    struct fcgic__sockaddr *sa = fcgic__calloc(d->a, q->n, sizeof(*sa));
    if (sa == NULL)
        return FCGIC_E_NOMEM;
    memcpy(sa, q->addrs, q->n * sizeof(*sa));
    for (size_t i = 0; i < q->n; i++) {
        if (sa[i].ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&sa[i].ss)->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)&sa[i].ss)->sin6_port = htons(port);
    }
    *out = sa;
    *n = q->n;
    return 0;
}

int fcgic__dns_addrs(const struct fcgic__dns *d, const struct fcgic_posix_query *q, uint16_t port,
                     struct fcgic__sockaddr **out, size_t *n)
{
    if (q->status != 0)
        return q->status;
    return copy_answer(d, q, port, out, n);
}

int fcgic__dns_lookup(struct fcgic__dns *d, const char *host, uint16_t port, uint64_t now,
                      struct fcgic_posix_query **wait, struct fcgic__sockaddr **out, size_t *n)
{
    *wait = NULL;
    d->now = now;
    struct fcgic_posix_query *q = d->entries;
    while (q && strcmp(q->host, host) != 0)
        q = q->next;
    if (q && !q->pending && q->answered && q->status == 0 && now < q->expires)
        return copy_answer(d, q, port, out, n); /* kept answer */
    if (q == NULL) {
        q = fcgic__calloc(d->a, 1, sizeof(*q));
        if (q == NULL)
            return FCGIC_E_NOMEM;
        q->host = fcgic__memdup(d->a, host, strlen(host));
        if (q->host == NULL) {
            fcgic__free(d->a, q);
            return FCGIC_E_NOMEM;
        }
        q->d = d;
        q->next = d->entries;
        d->entries = q;
    }
    if (!q->pending) {
        q->pending = true;
        q->answered = false;
        q->in_start = true;
        int rc;
        if (d->resolve)
            rc = d->resolve(d->ud, q->host, q) < 0 ? FCGIC_E_RESOLVE : 0;
        else
#ifdef FCGIC_HAVE_CARES
            rc = cares_start(d, q, now);
#else
            rc = FCGIC_E_RESOLVE;
#endif
        q->in_start = false;
        if (rc != 0) {
            q->pending = false;
            return rc;
        }
        if (q->answered) /* answered at once (a hosts file, a cache) */
            return q->status == 0 ? copy_answer(d, q, port, out, n) : q->status;
    }
    *wait = q;
    return 1;
}

int fcgic__dns_owns(const struct fcgic__dns *d, int fd)
{
#ifdef FCGIC_HAVE_CARES
    for (size_t i = 0; i < d->nfds; i++)
        if (d->fds[i].fd == fd)
            return 1;
#else
    FCGIC__UNUSED(d);
    FCGIC__UNUSED(fd);
#endif
    return 0;
}

size_t fcgic__dns_fds(const struct fcgic__dns *d, int *fds, unsigned *what, size_t max)
{
    size_t k = 0;
#ifdef FCGIC_HAVE_CARES
    for (size_t i = 0; i < d->nfds && k < max; i++, k++) {
        fds[k] = d->fds[i].fd;
        what[k] = d->fds[i].what;
    }
#else
    FCGIC__UNUSED(d);
    FCGIC__UNUSED(fds);
    FCGIC__UNUSED(what);
    FCGIC__UNUSED(max);
#endif
    return k;
}

void fcgic__dns_process(struct fcgic__dns *d, int fd, unsigned events, uint64_t now)
{
    d->now = now;
#ifdef FCGIC_HAVE_CARES
    if (!d->ch_ok)
        return;
    ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
    if (fd >= 0 && (events & (FCGIC_POSIX_IN | FCGIC_POSIX_ERR)))
        r = fd;
    if (fd >= 0 && (events & (FCGIC_POSIX_OUT | FCGIC_POSIX_ERR)))
        w = fd;
    ares_process_fd(d->ch, r, w);
    cares_update_deadline(d, now);
#else
    FCGIC__UNUSED(fd);
    FCGIC__UNUSED(events);
#endif
}

uint64_t fcgic__dns_deadline(const struct fcgic__dns *d)
{
#ifdef FCGIC_HAVE_CARES
    return d ? d->deadline : FCGIC_NO_DEADLINE;
#else
    FCGIC__UNUSED(d);
    return FCGIC_NO_DEADLINE;
#endif
}
