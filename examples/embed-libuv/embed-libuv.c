/* embed-libuv: libfcgiclient's pool on a libuv loop, through a transport of
 * the program's own (uv-transport.c). The scenarios are shared with
 * embed-epoll (../embed-common/scenarios.c); this file is the loop glue.
 *
 *   embed-libuv [-p DOCROOT] [-m MAX] BACKEND MODE [N]
 *
 * BACKEND is a pool target: fcgi://127.0.0.1:9000 or
 * 'unix:/run/app.sock|fcgi://localhost'. Without -p the application is
 * tests/apps/app-echo; with -p it is PHP-FPM serving the scripts of
 * tests/php from DOCROOT (an absolute path). -m sets the pool's max
 * connections (default 16). Every mode prints one result line on stdout and
 * exits 0 when its checks passed, 1 when not, 2 on a usage or setup error:
 *
 *   concurrent [N]  N requests (default 16) submitted at once; all must
 *                   complete with status 200, each with its own answer.
 *   cancel          a request to a script that sleeps 10 s, cancelled with
 *                   fcgic_pool_abort() 300 ms after the submit; prints the
 *                   time from the abort call to on_end (abort_to_end_us),
 *                   whether anything came after on_end, and the pool's and
 *                   the transport's connections before and after.
 *   slow [N]        an N-byte response (default 4 MiB) read by a consumer
 *                   whose buffer holds 256 KiB: on_body returns FCGIC_PAUSE
 *                   when it is full, a 1 ms timer drains it and calls
 *                   fcgic_pool_unpause(); prints the bytes, their FNV-1a 64
 *                   and the peak of buffered bytes.
 *   upload [N]      an N-byte request body (default 1 MiB) produced 16 KiB
 *                   a millisecond: body_read answers FCGIC_BODY_AGAIN until
 *                   the next chunk is there, then fcgic_pool_resume();
 *                   prints what the application counted (STDIN-BYTES,
 *                   STDIN-FNV1A64) next to what was sent.
 */
#include <fcgiclient/fcgiclient.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "scenarios.h"
#include "uv-transport.h"

#define MS 1000000ull

struct glue {
    uv_loop_t *loop;
    struct uvt *uvt;
    uv_timer_t guard; /* run_until's limit */
    uv_prepare_t check; /* run_until's condition, looked at before each poll */
    int expired;
    int (*done)(void *arg);
    void *done_arg;
};

struct emb_timer {
    uv_timer_t t;
    void (*fire)(void *arg);
    void *arg;
};

static uint64_t g_now(void *ud)
{
    (void)ud;
    return uv_hrtime();
}

static uint64_t ms_until(uint64_t when)
{
    uint64_t now = uv_hrtime();
    return when > now ? (when - now + MS - 1) / MS : 0;
}

static void timer_cb(uv_timer_t *t)
{
    struct emb_timer *et = t->data;
    et->fire(et->arg);
}

static struct emb_timer *g_timer_new(void *ud, void (*fire)(void *arg), void *arg)
{
    struct glue *g = ud;
    struct emb_timer *et = calloc(1, sizeof *et);
    if (!et)
        return NULL;
    uv_timer_init(g->loop, &et->t);
    et->t.data = et;
    et->fire = fire;
    et->arg = arg;
    return et;
}

static void g_timer_at(struct emb_timer *et, uint64_t when)
{
    if (when == FCGIC_NO_DEADLINE)
        uv_timer_stop(&et->t);
    else
        uv_timer_start(&et->t, timer_cb, ms_until(when), 0);
}

static void free_closed(uv_handle_t *h)
{
    free(h->data);
}

static void g_timer_free(struct emb_timer *et)
{
    uv_close((uv_handle_t *)&et->t, free_closed);
}

static void guard_cb(uv_timer_t *t)
{
    struct glue *g = t->data;
    g->expired = 1;
}

/* A timer callback at the start of an iteration may be what completes the
 * condition; uv_run(UV_RUN_ONCE) would then still block in its poll until
 * the next event. Looked at just before the poll, uv_stop() makes that poll
 * return at once. */
static void check_cb(uv_prepare_t *h)
{
    struct glue *g = h->data;
    if (g->done(g->done_arg))
        uv_stop(g->loop);
}

static int g_run_until(void *ud, int (*done)(void *arg), void *arg, uint64_t limit_ns)
{
    struct glue *g = ud;
    g->expired = 0;
    g->done = done;
    g->done_arg = arg;
    uv_prepare_start(&g->check, check_cb);
    uv_timer_start(&g->guard, guard_cb, limit_ns / MS, 0);
    int rc = 0;
    while (!done(arg)) {
        if (g->expired || uv_run(g->loop, UV_RUN_ONCE) == 0) {
            rc = done(arg) ? 0 : -1;
            break;
        }
    }
    uv_timer_stop(&g->guard);
    uv_prepare_stop(&g->check);
    return rc;
}

static size_t g_conns(void *ud)
{
    struct glue *g = ud;
    return uvt_count(g->uvt);
}

int main(int argc, char **argv)
{
    struct emb_config cfg;
    if (emb_parse_args(argc, argv, &cfg) != 0)
        return 2;
    /* libuv writes to sockets with write(2): a peer that went away must
     * not kill the process */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    struct glue g = {0};
    if (uv_loop_init(&loop) != 0)
        return 2;
    g.loop = &loop;
    uv_timer_init(&loop, &g.guard);
    g.guard.data = &g;
    uv_prepare_init(&loop, &g.check);
    g.check.data = &g;
    if (uvt_new(&g.uvt, &loop) != 0)
        return 2;
    struct fcgic_transport tr;
    uvt_transport(g.uvt, &tr);

    struct emb_loop el = {&g, g_now, g_timer_new, g_timer_at, g_timer_free, g_run_until, g_conns};
    int rc = emb_run(&cfg, &el, &tr); /* the pool is freed before it returns */

    uvt_free(g.uvt);
    uv_close((uv_handle_t *)&g.guard, NULL);
    uv_close((uv_handle_t *)&g.check, NULL);
    uv_run(&loop, UV_RUN_DEFAULT); /* closing handles finish */
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "embed-libuv: handles left open\n");
        return 1;
    }
    return rc;
}
