/* Pool throughput over two transports, measured in the same run: the libuv
 * transport of examples/embed-libuv (uv-transport.c) on a libuv loop, and
 * the library's POSIX transport with its built-in poll(2) loop
 * (fcgic_posix_attach_pool()). The same pool (keep-alive, max 16) keeps 16
 * requests in flight against app-echo (16 threads) until TOTAL requests
 * have ended; rounds alternate between the transports. Prints requests per
 * second and CPU time per request of this process (getrusage: user +
 * system; the application's CPU is not counted), the median of the rounds
 * of each, and the ratios libuv / built-in.
 *
 *   bench-embed [TOTAL [ROUNDS [tcp|unix]]]   (default 5000 6 unix) */
#include <fcgiclient/fcgiclient.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "harness.h"
#include "uv-transport.h"

#define INFLIGHT 16
#define MS 1000000ull

static const struct fcgic_param params[] = {
    FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),        FCGIC_PARAM_LIT("QUERY_STRING", "size=512"),
    FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/srv/x"),    FCGIC_PARAM_LIT("SERVER_PROTOCOL", "HTTP/1.1"),
    FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1"),
};

struct bench {
    struct fcgic_pool *pool;
    uint64_t (*now)(void);
    long total, left, done, failed;
    uv_timer_t pool_timer; /* libuv rounds: follows the pool's on_timer */
};

struct sample {
    double wall_s, cpu_s;
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t uv_clock(void)
{
    return uv_hrtime();
}

/* ---- the pool and its requests ---------------------------------------- */

static void submit(struct bench *b)
{
    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.params = params;
    req.nparams = sizeof params / sizeof params[0];
    b->left--;
    int rc = fcgic_pool_submit(b->pool, &req, b, NULL, b->now());
    if (rc != 0) {
        fprintf(stderr, "submit: %s\n", fcgic_strerror(rc));
        exit(1);
    }
}

static int on_body(void *ud, const char *data, size_t len)
{
    (void)ud;
    (void)data;
    (void)len;
    return 0;
}

static void on_end(void *ud, const struct fcgic_result *r)
{
    struct bench *b = ud;
    b->done++;
    if (r->error != 0 || r->app_status != 0)
        b->failed++;
    if (b->left > 0)
        submit(b); /* from on_end: the pool hands it the connection just freed */
}

static void pool_timer_cb(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t now = uv_hrtime();
    fcgic_pool_tick(b->pool, now);
    uint64_t d = fcgic_pool_deadline(b->pool);
    if (d != FCGIC_NO_DEADLINE)
        uv_timer_start(t, pool_timer_cb, d > now ? (d - now + MS - 1) / MS : 0, 0);
}

static void on_pool_timer(void *ud, uint64_t deadline)
{
    struct bench *b = ud;
    uint64_t now = uv_hrtime();
    if (deadline == FCGIC_NO_DEADLINE)
        uv_timer_stop(&b->pool_timer);
    else
        uv_timer_start(&b->pool_timer, pool_timer_cb, deadline > now ? (deadline - now + MS - 1) / MS : 0, 0);
}

static int new_pool(struct bench *b, const char *target, const struct fcgic_transport *tr, int push_timer)
{
    struct fcgic_pool_options po;
    memset(&po, 0, sizeof po);
    po.target = target;
    po.enable_reuse = 1;
    po.max = INFLIGHT;
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_body = on_body;
    cb.on_end = on_end;
    cb.on_timer = push_timer ? on_pool_timer : NULL;
    return fcgic_pool_new(&b->pool, &po, tr, &cb, b, NULL);
}

/* ---- one round on each transport -------------------------------------- */

static int round_libuv(const char *target, long total, struct sample *s)
{
    uv_loop_t loop;
    struct uvt *t;
    struct fcgic_transport tr;
    struct bench b;
    memset(&b, 0, sizeof b);
    b.now = uv_clock;
    b.total = b.left = total;
    if (uv_loop_init(&loop) != 0 || uvt_new(&t, &loop) != 0)
        return -1;
    uv_timer_init(&loop, &b.pool_timer);
    b.pool_timer.data = &b;
    uvt_transport(t, &tr);
    if (new_pool(&b, target, &tr, 1) != 0)
        return -1;
    double w0 = wall_now(), c0 = cpu_now();
    for (int i = 0; i < INFLIGHT; i++)
        submit(&b);
    while (b.done < total && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    s->wall_s = wall_now() - w0;
    s->cpu_s = cpu_now() - c0;
    fcgic_pool_free(b.pool);
    uvt_free(t);
    uv_close((uv_handle_t *)&b.pool_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return b.done == total && b.failed == 0 ? 0 : -1;
}

static int all_done(void *ud)
{
    const struct bench *b = ud;
    return b->done >= b->total;
}

static int round_posix(const char *target, long total, struct sample *s)
{
    struct fcgic_posix *px;
    struct fcgic_transport tr;
    struct bench b;
    memset(&b, 0, sizeof b);
    b.now = fcgic_posix_now;
    b.total = b.left = total;
    if (fcgic_posix_new(&px, NULL, NULL) != 0)
        return -1;
    fcgic_posix_transport(px, &tr);
    if (new_pool(&b, target, &tr, 0) != 0 || fcgic_posix_attach_pool(px, b.pool) != 0)
        return -1;
    double w0 = wall_now(), c0 = cpu_now();
    for (int i = 0; i < INFLIGHT; i++)
        submit(&b);
    int rc = fcgic_posix_run_until(px, all_done, &b, 120000 * MS);
    s->wall_s = wall_now() - w0;
    s->cpu_s = cpu_now() - c0;
    fcgic_posix_detach_pool(px, b.pool);
    fcgic_pool_free(b.pool);
    fcgic_posix_free(px);
    return rc == 0 && b.done == total && b.failed == 0 ? 0 : -1;
}

/* ---- main ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 5000;
    int rounds = argc > 2 ? atoi(argv[2]) : 6;
    int tcp = argc > 3 && strcmp(argv[3], "tcp") == 0;
    if (total < INFLIGHT || rounds < 1 || rounds > 64) {
        fprintf(stderr, "usage: %s [TOTAL>=16 [ROUNDS [tcp|unix]]]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* libuv writes with write(2) */
    static const char *const args[] = {"-t", "16", NULL};
    struct harness_app *app;
    if (harness_app_start(&app, tcp ? HARNESS_TCP : HARNESS_UNIX, "app-echo", args) != 0) {
        fprintf(stderr, "cannot start app-echo\n");
        return 77;
    }
    double rps[2][64], cpr[2][64]; /* [0] libuv, [1] built-in */
    static const char *const names[2] = {"libuv transport", "built-in POSIX "};
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int which = (r % 2) ? 1 - k : k; /* alternate which goes first */
            struct sample s;
            int rc = which == 0 ? round_libuv(app->url, total, &s) : round_posix(app->url, total, &s);
            if (rc != 0) {
                fprintf(stderr, "round %d (%s) failed\n", r, names[which]);
                harness_app_stop(app);
                return 1;
            }
            rps[which][r] = (double)total / s.wall_s;
            cpr[which][r] = s.cpu_s / (double)total * 1e6;
            printf("round %d %s: %8.0f req/s, %6.2f us CPU/request\n", r, names[which], rps[which][r], cpr[which][r]);
        }
    }
    double rps_uv = median(rps[0], rounds), rps_px = median(rps[1], rounds);
    double cpu_uv = median(cpr[0], rounds), cpu_px = median(cpr[1], rounds);
    printf("%s, %d in flight, %ld requests per round, median of %d rounds:\n", tcp ? "tcp" : "unix", INFLIGHT, total,
           rounds);
    printf("  libuv transport: %.0f req/s, %.2f us CPU/request\n", rps_uv, cpu_uv);
    printf("  built-in POSIX : %.0f req/s, %.2f us CPU/request\n", rps_px, cpu_px);
    printf("  ratio libuv / built-in: req/s %.3f, CPU/request %.3f\n", rps_uv / rps_px, cpu_uv / cpu_px);
    harness_app_stop(app);
    return 0;
}
