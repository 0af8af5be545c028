/* bench-pool: ns per acquire + release of a pooled (idle, kept) connection,
 * and per balancer pick (byrequests, bybusyness, bytraffic) with 10 and
 * 1,000 members (and the 3:1-weighted mix), next to a baseline measured in
 * the same run: memcpy of 64 bytes. Prints ratios; never asserts timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgiclient/balancer.h"
#include "fcgiclient/conn.h"
#include "fcgiclient/error.h"
#include "fcgiclient/pool.h"
#include "pool_int.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A transport whose connections are engines that are connected at once. */
static int b_open(void *ud, const char *target, const struct fcgic_conn_options *opts,
                  const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                  struct fcgic_conn **out, int *sys_errno, uint64_t now)
{
    (void)ud;
    (void)target;
    *sys_errno = 0;
    int rc = fcgic_conn_new(out, opts, cb, conn_ud, mem);
    if (rc == 0) {
        fcgic_conn_connecting(*out, now);
        fcgic_conn_connected(*out, now);
    }
    return rc;
}
static void b_kick(void *ud, struct fcgic_conn *c, uint64_t now)
{
    (void)ud;
    (void)c;
    (void)now;
}
static void b_close(void *ud, struct fcgic_conn *c)
{
    (void)ud;
    fcgic_conn_free(c);
}

static volatile unsigned sink;

static double baseline(long iters)
{
    char src[64], dst[64];
    memset(src, 'x', sizeof(src));
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        src[0] = (char)i;
        memcpy(dst, src, sizeof(dst));
        __asm__ __volatile__("" : : "r"(dst) : "memory");
        sink += (unsigned)dst[5];
    }
    return (double)(now_ns() - t0) / (double)iters;
}

static double bench_acquire(long iters)
{
    struct fcgic_transport tr = {FCGIC_TRANSPORT_VERSION, NULL, b_open, b_kick, b_close, NULL};
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    struct fcgic_pool_options o;
    memset(&o, 0, sizeof(o));
    o.target = "fcgi://127.0.0.1:9000";
    o.enable_reuse = 1;
    struct fcgic_pool *p;
    if (fcgic_pool_new(&p, &o, &tr, &cb, NULL, NULL) != 0)
        return -1;
    for (int i = 0; i < 8; i++)
        if (fcgic__pool_open_idle(p, 0) != 0)
            return -1;
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        struct fcgic_conn *c = fcgic__pool_acquire_idle(p, (uint64_t)i);
        fcgic__pool_release_idle(p, c, (uint64_t)i);
    }
    double ns = (double)(now_ns() - t0) / (double)iters;
    fcgic_pool_free(p);
    return ns;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    double base = baseline(iters);
    printf("baseline memcpy 64 B: %.1f ns/op\n", base);
    double acq = bench_acquire(iters);
    printf("pool acquire+release of an idle kept connection: %.1f ns/op  (%.1fx baseline)\n", acq, acq / base);

    static const char *const names[] = {"byrequests", "bybusyness", "bytraffic"};
    static const unsigned sizes[] = {10, 1000};
    struct fcgic_transport tr = {FCGIC_TRANSPORT_VERSION, NULL, b_open, b_kick, b_close, NULL};
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    for (int m = 0; m < 3; m++) {
        for (int s = 0; s < 2; s++) {
            for (int weighted = 0; weighted < 2; weighted++) {
                struct fcgic_balancer_options bo;
                memset(&bo, 0, sizeof(bo));
                bo.method = (enum fcgic_lb_method)m;
                struct fcgic_balancer *b;
                if (fcgic_balancer_new(&b, &bo, &tr, &cb, NULL, NULL) != 0)
                    return EXIT_FAILURE;
                struct fcgic_member_options mo;
                memset(&mo, 0, sizeof(mo));
                mo.pool.target = "fcgi://127.0.0.1:9000";
                for (unsigned i = 0; i < sizes[s]; i++) {
                    mo.lbfactor = weighted ? (i % 4 == 0 ? 3 : 1) : 1;
                    if (fcgic_balancer_add(b, &mo, NULL, 0) != 0)
                        return EXIT_FAILURE;
                }
                unsigned id;
                uint64_t t0 = now_ns();
                for (long i = 0; i < iters; i++) {
                    fcgic_balancer_pick(b, &id, 0);
                    sink += id;
                }
                double ns = (double)(now_ns() - t0) / (double)iters;
                printf("pick %-10s %4u members%s: %7.1f ns/op  (%.1fx baseline)\n", names[m], sizes[s],
                       weighted ? " (weights 3,1,1,1)" : "                  ", ns, ns / base);
                fcgic_balancer_free(b);
            }
        }
    }
    return EXIT_SUCCESS;
}
