/* Test helper for test-pool.c and test-balancer.c: a struct fcgic_transport
 * that creates real connection engines and plays the application by hand
 * (reads the records the engine writes, answers with canned records). No
 * sockets, no clock. Header-only (static inline functions). */
#ifndef FCGIC_TEST_POOL_FAKE_H
#define FCGIC_TEST_POOL_FAKE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/conn.h"
#include "fcgiclient/error.h"
#include "fcgiclient/transport.h"

#define FAKE_MAX_CONNS 512

struct fake_conn {
    struct fcgic_conn *c;
    char target[128];
    int closed;
    unsigned char *in; /* bytes written by the engine, not yet parsed */
    size_t in_len;
    unsigned nbegin;          /* BEGIN_REQUEST records seen */
    unsigned last_flags;      /* flags of the last BEGIN_REQUEST */
    uint16_t last_id;
    unsigned nvalues;         /* GET_VALUES records seen */
    size_t stdin_bytes;
    char params[512];         /* PARAMS bytes of the last request (truncated) */
    size_t params_len;
    int eof_pending;          /* the application closed it: check() reports EOF */
};

struct fake {
    struct fake_conn fc[FAKE_MAX_CONNS];
    int n;
    /* targets whose open() fails at once with refuse_err */
    const char *refuse[8];
    int refuse_err;
    int stay_connecting; /* leave new engines in the connecting state */
    int refuse_errno; /* errno reported with refuse_err */
    uint64_t now;
    const struct fcgic_mem *last_mem; /* the allocator the last open was given */
    int opens_failed;
    /* kick fails the connection at once, as the POSIX transport does when
     * the write hits EPIPE: a request then ends inside the call that
     * started it; 2: before writing anything */
    int fail_kick;
    unsigned checks; /* check() calls */
};

static inline int fake_find(struct fake *f, const struct fcgic_conn *c)
{
    for (int i = 0; i < f->n; i++)
        if (f->fc[i].c == c && !f->fc[i].closed)
            return i;
    return -1;
}

static inline int fake_open(void *ud, const char *target, const struct fcgic_conn_options *opts,
                            const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                            struct fcgic_conn **out, int *sys_errno, uint64_t now)
{
    struct fake *f = ud;
    *sys_errno = 0;
    f->last_mem = mem;
    for (int i = 0; i < 8; i++)
        if (f->refuse[i] && strcmp(f->refuse[i], target) == 0) {
            f->opens_failed++;
            *sys_errno = f->refuse_errno;
            return f->refuse_err ? f->refuse_err : FCGIC_E_CONNECT;
        }
    if (f->n >= FAKE_MAX_CONNS)
        return FCGIC_E_NOMEM;
    struct fcgic_conn *c;
    int rc = fcgic_conn_new(&c, opts, cb, conn_ud, mem);
    if (rc)
        return rc;
    fcgic_conn_connecting(c, now);
    if (!f->stay_connecting)
        fcgic_conn_connected(c, now);
    struct fake_conn *fc = &f->fc[f->n++];
    memset(fc, 0, sizeof(*fc));
    fc->c = c;
    strncpy(fc->target, target, sizeof(fc->target) - 1);
    *out = c;
    return 0;
}

static inline void fake_parse(struct fake_conn *fc)
{
    size_t off = 0;
    while (fc->in_len - off >= 8) {
        const unsigned char *h = fc->in + off;
        size_t clen = ((size_t)h[4] << 8) | h[5], plen = h[6];
        if (fc->in_len - off < 8 + clen + plen)
            break;
        uint16_t id = (uint16_t)((h[2] << 8) | h[3]);
        if (h[1] == 1 && clen == 8) {
            fc->nbegin++;
            fc->last_flags = h[8 + 2];
            fc->last_id = id;
            fc->params_len = 0;
        } else if (h[1] == 4) {
            size_t room = sizeof(fc->params) - fc->params_len;
            size_t k = clen < room ? clen : room;
            memcpy(fc->params + fc->params_len, h + 8, k);
            fc->params_len += k;
        } else if (h[1] == 5) {
            fc->stdin_bytes += clen;
        } else if (h[1] == 9) {
            fc->nvalues++;
        }
        off += 8 + clen + plen;
    }
    if (off) {
        memmove(fc->in, fc->in + off, fc->in_len - off);
        fc->in_len -= off;
    }
}

/* Take everything the engine wants to write. */
static inline void fake_drain(struct fake *f, int i)
{
    struct fake_conn *fc = &f->fc[i];
    for (;;) {
        struct fcgic_iov iov[16];
        size_t n = fcgic_conn_out_iov(fc->c, iov, 16);
        if (n == 0)
            break;
        size_t total = 0;
        for (size_t k = 0; k < n; k++) {
            fc->in = realloc(fc->in, fc->in_len + iov[k].len + 1);
            memcpy(fc->in + fc->in_len, iov[k].base, iov[k].len);
            fc->in_len += iov[k].len;
            total += iov[k].len;
        }
        if (fcgic_conn_out_done(fc->c, total, f->now) != 0)
            break;
    }
    fake_parse(fc);
}

static inline void fake_kick(void *ud, struct fcgic_conn *c, uint64_t now)
{
    struct fake *f = ud;
    int i = fake_find(f, c);
    if (i >= 0 && f->fail_kick != 2)
        fake_drain(f, i);
    if (f->fail_kick)
        (void)fcgic_conn_fail(c, FCGIC_E_IO, now);
}

/* Allocation hooks that note when one watched block is freed while armed
 * (a handle freed before its on_end returned). */
struct free_watch {
    const void *ptr;
    int armed;
    int freed;
};

static inline void *fw_malloc(size_t n, void *ud)
{
    (void)ud;
    return malloc(n);
}

static inline void *fw_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    return realloc(p, n);
}

static inline void fw_free(void *p, void *ud)
{
    struct free_watch *w = ud;
    if (p && p == w->ptr && w->armed)
        w->freed = 1;
    free(p);
}

static inline struct fcgic_mem free_watch_mem(struct free_watch *w)
{
    struct fcgic_mem m = {fw_malloc, fw_realloc, fw_free, w};
    return m;
}

static inline void fake_close(void *ud, struct fcgic_conn *c)
{
    struct fake *f = ud;
    int i = fake_find(f, c);
    if (i < 0)
        return;
    fcgic_conn_free(c);
    free(f->fc[i].in);
    f->fc[i].in = NULL;
    f->fc[i].closed = 1;
}

/* The transport's check: an EOF the application sent meanwhile. */
static inline void fake_check(void *ud, struct fcgic_conn *c, uint64_t now)
{
    struct fake *f = ud;
    int i = fake_find(f, c);
    f->checks++;
    if (i >= 0 && f->fc[i].eof_pending) {
        f->fc[i].eof_pending = 0;
        fcgic_conn_recv_eof(c, now);
    }
}

static inline void fake_transport(struct fake *f, struct fcgic_transport *t)
{
    memset(f, 0, sizeof(*f));
    memset(t, 0, sizeof(*t));
    t->version = FCGIC_TRANSPORT_VERSION;
    t->ud = f;
    t->open = fake_open;
    t->kick = fake_kick;
    t->close = fake_close;
    t->check = fake_check;
}

static inline void fake_free(struct fake *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->fc[i].in);
        f->fc[i].in = NULL;
    }
}

static inline size_t put_rec(unsigned char *b, int type, uint16_t id, const void *data, size_t len)
{
    b[0] = 1;
    b[1] = (unsigned char)type;
    b[2] = (unsigned char)(id >> 8);
    b[3] = (unsigned char)id;
    b[4] = (unsigned char)(len >> 8);
    b[5] = (unsigned char)len;
    b[6] = 0;
    b[7] = 0;
    if (len)
        memcpy(b + 8, data, len);
    return 8 + len;
}

static inline int fake_feed(struct fake *f, int i, const unsigned char *b, size_t n)
{
    size_t used = 0;
    int rc = fcgic_conn_recv(f->fc[i].c, b, n, &used, f->now);
    fake_drain(f, i);
    return rc;
}

/* Answer the last request on connection i: 200 with body, then END_REQUEST
 * with protocol status ps. */
static inline int fake_respond_ps(struct fake *f, int i, const char *body, int ps)
{
    unsigned char b[4096];
    char out[1024];
    int n = snprintf(out, sizeof(out), "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n%s", body);
    uint16_t id = f->fc[i].last_id ? f->fc[i].last_id : 1;
    size_t len = put_rec(b, 6, id, out, (size_t)n);
    len += put_rec(b + len, 6, id, NULL, 0);
    unsigned char end[8] = {0, 0, 0, 0, (unsigned char)ps, 0, 0, 0};
    len += put_rec(b + len, 3, id, end, 8);
    return fake_feed(f, i, b, len);
}

static inline int fake_respond(struct fake *f, int i, const char *body)
{
    return fake_respond_ps(f, i, body, 0);
}

/* Answer the last request on connection i with exactly `out` as STDOUT,
 * then END_REQUEST with app_status and protocol status ps. */
static inline int fake_respond_raw(struct fake *f, int i, const char *out, unsigned app_status, int ps)
{
    unsigned char b[4096];
    size_t n = strlen(out);
    uint16_t id = f->fc[i].last_id ? f->fc[i].last_id : 1;
    size_t len = n ? put_rec(b, 6, id, out, n) : 0;
    len += put_rec(b + len, 6, id, NULL, 0);
    unsigned char end[8] = {(unsigned char)(app_status >> 24), (unsigned char)(app_status >> 16),
                            (unsigned char)(app_status >> 8), (unsigned char)app_status, (unsigned char)ps, 0, 0,
                            0};
    len += put_rec(b + len, 3, id, end, 8);
    return fake_feed(f, i, b, len);
}

/* Does connection i's last PARAMS block hold this name-value pair (both
 * shorter than 128 bytes)? */
static inline int fake_has_param(const struct fake *f, int i, const char *name, const char *value)
{
    const struct fake_conn *fc = &f->fc[i];
    size_t nl = strlen(name), vl = strlen(value);
    unsigned char want[260];
    want[0] = (unsigned char)nl;
    want[1] = (unsigned char)vl;
    memcpy(want + 2, name, nl);
    memcpy(want + 2 + nl, value, vl);
    for (size_t k = 0; k + 2 + nl + vl <= fc->params_len; k++)
        if (memcmp(fc->params + k, want, 2 + nl + vl) == 0)
            return 1;
    return 0;
}

/* The newest connection to target (open or closed), or -1. */
static inline int fake_last_to(const struct fake *f, const char *target)
{
    for (int i = f->n - 1; i >= 0; i--)
        if (strcmp(f->fc[i].target, target) == 0)
            return i;
    return -1;
}

/* Part of a response without the end. */
static inline int fake_partial(struct fake *f, int i)
{
    unsigned char b[256];
    const char *out = "Status: 200 OK\r\n\r\npart";
    size_t len = put_rec(b, 6, f->fc[i].last_id ? f->fc[i].last_id : 1, out, strlen(out));
    return fake_feed(f, i, b, len);
}

static inline int fake_values(struct fake *f, int i, const char *const *nv, size_t n)
{
    unsigned char body[512], b[600];
    size_t len = 0;
    for (size_t k = 0; k < 2 * n; k += 2) {
        size_t nl = strlen(nv[k]), vl = strlen(nv[k + 1]);
        body[len++] = (unsigned char)nl;
        body[len++] = (unsigned char)vl;
        memcpy(body + len, nv[k], nl);
        len += nl;
        memcpy(body + len, nv[k + 1], vl);
        len += vl;
    }
    size_t bl = put_rec(b, 10, 0, body, len);
    return fake_feed(f, i, b, bl);
}

static inline void fake_eof(struct fake *f, int i)
{
    fcgic_conn_recv_eof(f->fc[i].c, f->now);
}

static inline void fake_fail(struct fake *f, int i, int err)
{
    fcgic_conn_fail(f->fc[i].c, err, f->now);
}

/* Open (not closed) connections. */
static inline int fake_open_count(const struct fake *f)
{
    int n = 0;
    for (int i = 0; i < f->n; i++)
        n += !f->fc[i].closed;
    return n;
}

#endif
