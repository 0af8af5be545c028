/* Client benchmark: requests per second against the tests' libfcgi
 * application (app-echo) through the library (POSIX transport, event loop),
 * next to a deliberately minimal hand-written blocking client in the same
 * run: over one kept-alive connection, and over 16 connections at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fcgiclient/conn.h"
#include "fcgiclient/posix.h"
#include "harness.h"

#define NCONN 16

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct fcgic_param params[] = {
    FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),     FCGIC_PARAM_LIT("QUERY_STRING", "size=512"),
    FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/srv/x"), FCGIC_PARAM_LIT("SERVER_PROTOCOL", "HTTP/1.1"),
    FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1"),
};
#define NPARAMS (sizeof params / sizeof params[0])

/* ---- minimal blocking client: fixed request bytes, read to END_REQUEST ---- */

static size_t build_request(unsigned char *out)
{
    size_t n = 0;
    const unsigned char begin[16] = {1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    memcpy(out, begin, 16);
    n = 16;
    size_t body = 0;
    unsigned char pb[512];
    for (size_t i = 0; i < NPARAMS; i++) {
        pb[body++] = (unsigned char)params[i].name_len;
        pb[body++] = (unsigned char)params[i].value_len;
        memcpy(pb + body, params[i].name, params[i].name_len);
        body += params[i].name_len;
        memcpy(pb + body, params[i].value, params[i].value_len);
        body += params[i].value_len;
    }
    const unsigned char ph[8] = {1, 4, 0, 1, (unsigned char)(body >> 8), (unsigned char)body, 0, 0};
    memcpy(out + n, ph, 8);
    memcpy(out + n + 8, pb, body);
    n += 8 + body;
    const unsigned char tail[16] = {1, 4, 0, 1, 0, 0, 0, 0, 1, 5, 0, 1, 0, 0, 0, 0};
    memcpy(out + n, tail, 16);
    return n + 16;
}

struct mini {
    int fd;
    unsigned char buf[65536];
    size_t have;
};

/* Read records until END_REQUEST; returns stdout bytes or -1. */
static long mini_read_response(struct mini *m)
{
    long out = 0;
    for (;;) {
        while (m->have >= 8) {
            size_t clen = ((size_t)m->buf[4] << 8) | m->buf[5], plen = m->buf[6], tot = 8 + clen + plen;
            if (m->have < tot)
                break;
            int type = m->buf[1];
            if (type == 6)
                out += (long)clen;
            memmove(m->buf, m->buf + tot, m->have - tot);
            m->have -= tot;
            if (type == 3)
                return out;
        }
        ssize_t r = read(m->fd, m->buf + m->have, sizeof m->buf - m->have);
        if (r <= 0)
            return -1;
        m->have += (size_t)r;
    }
}

static double run_mini(const struct harness_app *app, int nconn, long total)
{
    static struct mini m[NCONN];
    unsigned char req[1024];
    size_t rlen = build_request(req);
    for (int i = 0; i < nconn; i++) {
        m[i].fd = harness_app_connect(app);
        m[i].have = 0;
        if (m[i].fd < 0)
            return -1;
    }
    double t0 = now_s();
    for (long done = 0; done < total; done += nconn) {
        for (int i = 0; i < nconn; i++)
            if (write(m[i].fd, req, rlen) != (ssize_t)rlen)
                return -1;
        for (int i = 0; i < nconn; i++)
            if (mini_read_response(&m[i]) <= 0)
                return -1;
    }
    double dt = now_s() - t0;
    for (int i = 0; i < nconn; i++)
        close(m[i].fd);
    return (double)total / dt;
}

/* ---- the library ---- */

struct lconn {
    struct fcgic_posix *px;
    struct fcgic_conn *c;
    long *left;
    long *done;
};

static void lib_submit(struct lconn *lc);

static void on_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *r)
{
    struct lconn *lc = ud;
    (void)c;
    if (r->error != 0) {
        fprintf(stderr, "request failed: %d\n", r->error);
        exit(1);
    }
    (*lc->done)++;
    if (*lc->left > 0)
        lib_submit(lc);
}

static int on_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    (void)c;
    (void)ud;
    (void)d;
    (void)n;
    return 0;
}

static void lib_submit(struct lconn *lc)
{
    struct fcgic_request req = {0};
    req.params = params;
    req.nparams = NPARAMS;
    (*lc->left)--;
    if (fcgic_conn_submit(lc->c, &req, lc, NULL, 0) != 0) {
        fprintf(stderr, "submit failed\n");
        exit(1);
    }
    fcgic_posix_kick(lc->px, lc->c, 0);
}

static int all_done(void *ud)
{
    long *v = ud;
    return v[0] >= v[1];
}

static double run_lib(const struct harness_app *app, int nconn, long total)
{
    struct fcgic_posix *px;
    if (fcgic_posix_new(&px, NULL, NULL) != 0)
        return -1;
    struct fcgic_conn_callbacks cb = {0};
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_end = on_end;
    cb.on_body = on_body;
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    static struct lconn lc[NCONN];
    long left = total, counters[2] = {0, total};
    for (int i = 0; i < nconn; i++) {
        lc[i].px = px;
        lc[i].left = &left;
        lc[i].done = &counters[0];
        if (fcgic_posix_open(px, app->url, &o, &cb, NULL, &lc[i].c, fcgic_posix_now()) != 0)
            return -1;
    }
    double t0 = now_s();
    for (int i = 0; i < nconn; i++)
        lib_submit(&lc[i]);
    if (fcgic_posix_run_until(px, all_done, counters, 120000000000ull) != 0)
        return -1;
    double dt = now_s() - t0;
    fcgic_posix_free(px);
    return (double)total / dt;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 20000;
    const char *args[] = {"-t", "16", NULL};
    struct harness_app *app;
    if (harness_app_start(&app, HARNESS_UNIX, "app-echo", args) != 0) {
        fprintf(stderr, "cannot start app-echo\n");
        return 77;
    }
    int conns[2] = {1, NCONN};
    for (int k = 0; k < 2; k++) {
        double lib = 0, mini = 0;
        for (int round = 0; round < 3; round++) {
            /* alternate which client goes first */
            double a, b;
            if (round % 2) {
                b = run_lib(app, conns[k], total);
                a = run_mini(app, conns[k], total);
            } else {
                a = run_mini(app, conns[k], total);
                b = run_lib(app, conns[k], total);
            }
            if (a < 0 || b < 0) {
                fprintf(stderr, "run failed\n");
                harness_app_stop(app);
                return 1;
            }
            mini = a > mini ? a : mini;
            lib = b > lib ? b : lib;
        }
        printf("%2d connection%s, %ld requests (best of 3): library %.0f req/s, minimal blocking client %.0f req/s, "
               "ratio %.3f\n",
               conns[k], conns[k] > 1 ? "s" : " ", total, lib, mini, lib / mini);
    }
    harness_app_stop(app);
    return 0;
}
