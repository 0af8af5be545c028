/* gw-soak: minimal_gateway under load for minutes while its applications
 * are killed and restarted, a balancer member flaps and the configuration
 * is reloaded. Not part of the default suite: `meson test --suite soak`
 * (GW_SOAK_SECONDS, default 180; GW_SOAK_CLIENTS, default 8).
 *
 * Client threads send GETs (keep-alive and not), POSTs with a
 * Content-Length and chunked, through a balancer of two app-echo, a lone
 * app-echo and PHP-FPM, and check every body (the size=N pattern, or the
 * echoed bytes). A response is either exactly right or an error status; a
 * wrong body, a connection the gateway refuses, a gateway that dies, a
 * member that is not back in use within retry (1 s) plus a little, or fds
 * and RSS that do not come back to their level after the load fail the
 * run. Prints the counts. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app-common.h"
#include "gwtest.h"
#include "harness.h"

#define MAX_CLIENTS 64
/* RSS may grow this much over the load and stay (allocator arenas of the
 * threads a reload starts); under ASan, whose quarantine holds freed memory,
 * RSS says nothing about leaks (LeakSanitizer checks them at exit). */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_SLACK_KB (1L << 30)
#else
#define RSS_SLACK_KB 16384L
#endif
#define RECOVERY_LIMIT_MS 3000 /* retry=1 s, plus the request that notices */

static struct harness_app *bal[2], *echo_u, *php;
static struct gwt_gateway gw;

/* what the clients saw */
enum { K_OK, K_S502, K_S503, K_S504, K_SOTHER, K_BROKEN, K_WRONG, K_CONNECT, K_RECONNECT, K_N };
static const char *const kind_names[K_N] = {"ok", "502", "503", "504", "other status", "broken response",
                                            "WRONG BODY", "CONNECT ERROR", "kept connection closed (retried)"};
static atomic_ulong counts[K_N];
static atomic_bool stop;
static atomic_int watch_pid;        /* a restarted member's pid ... */
static atomic_llong watch_seen_ms;  /* ... and when a response first came from it */
static char last_wrong[512];
static pthread_mutex_t wrong_lock = PTHREAD_MUTEX_INITIALIZER;

static void conf_text(char *out, size_t cap, int variant)
{
    int n = snprintf(out, cap,
                     "ServerName localhost\n"
                     "Threads 2\n"
                     "Timeout 10\n"
                     "KeepAliveTimeout 2\n"
                     "MaxKeepAliveRequests 0\n"
                     "ErrorLog error.log\n"
                     "LogLevel crit\n"
                     "ProxyPass \"/bal/\" \"balancer://pair/srv/bal/\"\n"
                     "<Proxy \"balancer://pair\">\n"
                     "    BalancerMember \"fcgi://127.0.0.1:%d\" retry=1 enablereuse=on ttl=1\n"
                     "    BalancerMember \"fcgi://127.0.0.1:%d\" retry=1 enablereuse=on ttl=1\n"
                     "</Proxy>\n"
                     "ProxyPass \"/ue/\" \"unix:%s|fcgi://localhost/srv/ue/\" enablereuse=on ttl=1 retry=0\n"
                     "# variant %d\n",
                     bal[0]->port, bal[1]->port, echo_u->path, variant);
    if (php)
        snprintf(out + n, cap - (size_t)n, "ProxyPass \"/php/\" \"unix:%s|fcgi://localhost%s/\" retry=0\n", php->path,
                 php->docroot);
}

static void note(int kind)
{
    atomic_fetch_add(&counts[kind], 1);
}

static char *make_body(size_t n, unsigned seed)
{
    char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + (seed + i * 31) % 26);
    return b;
}

/* ---- one client ---- */

struct client {
    pthread_t th;
    int id;
    struct gwt_conn c;
};

/* Returns 1 when a kept connection was closed before any byte of the
 * answer (the caller retries once on a new one). */
static int one_request(struct client *cl, unsigned i)
{
    static const char *const routes[] = {"/bal/", "/bal/", "/ue/", "/php/"};
    unsigned what = (i + (unsigned)cl->id) % 6;
    const char *route = routes[(i / 6 + (unsigned)cl->id) % (php ? 4 : 3)];
    bool keep = cl->id % 2 == 0;
    size_t size = 1 + (i * 2654435761u + (unsigned)cl->id * 977u) % (what == 5 ? 300000 : 30000);
    char head[512];
    char *body = NULL;
    const char *conn = keep ? "" : "Connection: close\r\n";
    if (strcmp(route, "/php/") == 0 && what >= 3)
        what = 0; /* PHP: pattern.php only */
    if (what == 3 || what == 4) { /* POST, Content-Length or chunked, echoed */
        body = make_body(size, i);
        if (what == 3)
            snprintf(head, sizeof head, "POST %sp?echo=1 HTTP/1.1\r\nHost: s\r\nContent-Length: %zu\r\n%s\r\n", route,
                     size, conn);
        else
            snprintf(head, sizeof head,
                     "POST %sp?echo=1 HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n%s\r\n%zx\r\n", route, conn,
                     size);
    } else if (strcmp(route, "/php/") == 0) {
        snprintf(head, sizeof head, "GET /php/pattern.php?size=%zu HTTP/1.1\r\nHost: s\r\n%s\r\n", size, conn);
    } else {
        snprintf(head, sizeof head, "GET %sg?size=%zu&chunk=%u HTTP/1.1\r\nHost: s\r\n%s\r\n", route, size,
                 what == 1 ? 4096u : 0u, conn);
    }
    bool reused = cl->c.fd >= 0;
    if (!reused) {
        int fd = gwt_connect(gw.port, 30, 0);
        if (fd < 0) {
            note(K_CONNECT);
            free(body);
            usleep(10000);
            return 0;
        }
        gwt_conn_init(&cl->c, fd);
    }
    int rc = gwt_sends(cl->c.fd, head);
    if (rc == 0 && body)
        rc = gwt_send(cl->c.fd, body, size);
    if (rc == 0 && body && what == 4)
        rc = gwt_sends(cl->c.fd, "\r\n0\r\n\r\n");
    struct gwt_resp r;
    if (rc == 0) {
        rc = gwt_read_response(&cl->c, &r, false);
    } else {
        memset(&r, 0, sizeof r);
        rc = GWT_EOF;
    }
    int again = 0;
    if (rc == GWT_EOF && reused) {
        note(K_RECONNECT);
        again = 1;
    } else if (rc != 0) {
        note(K_BROKEN);
    } else if (r.status != 200) {
        note(r.status == 502 ? K_S502 : r.status == 503 ? K_S503 : r.status == 504 ? K_S504 : K_SOTHER);
    } else if (r.body_len != size || (body ? memcmp(r.body, body, size) != 0 : !gwt_pattern_ok(r.body, size))) {
        note(K_WRONG);
        pthread_mutex_lock(&wrong_lock);
        snprintf(last_wrong, sizeof last_wrong, "%.200s -> %zu bytes", head, r.body_len);
        pthread_mutex_unlock(&wrong_lock);
    } else {
        note(K_OK);
        char v[32];
        int pid = atoi(gwt_header(&r, "X-Pid", v, sizeof v));
        if (pid && pid == atomic_load(&watch_pid) && atomic_load(&watch_seen_ms) == 0)
            atomic_store(&watch_seen_ms, gwt_now_ms());
    }
    char v[16];
    if (rc != 0 || !keep || strcmp(gwt_header(&r, "Connection", v, sizeof v), "close") == 0)
        gwt_conn_close(&cl->c);
    gwt_resp_free(&r);
    free(body);
    return again;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    gwt_conn_init(&cl->c, -1);
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        if (one_request(cl, i))
            one_request(cl, i);
    }
    gwt_conn_close(&cl->c);
    return NULL;
}

/* ---- faults ---- */

enum { F_MEMBER_KILL, F_MEMBER_FLAP, F_RELOAD, F_BACKEND_KILL, F_PHP_RESTART, F_N };
static const char *const fault_names[F_N] = {"member killed and restarted", "member flapped (down 300 ms)",
                                             "configuration reloaded", "lone backend killed and restarted",
                                             "PHP-FPM restarted"};
static unsigned faults[F_N];
static long long worst_recovery_ms;
static unsigned slow_recoveries;

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

static bool gateway_alive(void)
{
    int st;
    return waitpid(gw.pid, &st, WNOHANG) == 0;
}

/* A restarted member is back in use (a response came from its new pid)
 * within RECOVERY_LIMIT_MS. */
static void watch_recovery(struct harness_app *a, long long t0)
{
    atomic_store(&watch_seen_ms, 0);
    atomic_store(&watch_pid, a->pid);
    while (atomic_load(&watch_seen_ms) == 0 && gwt_now_ms() - t0 < 10000)
        sleep_ms(10);
    long long seen = atomic_load(&watch_seen_ms);
    long long took = seen ? seen - t0 : 10000;
    if (took > worst_recovery_ms)
        worst_recovery_ms = took;
    if (took > RECOVERY_LIMIT_MS)
        slow_recoveries++;
    atomic_store(&watch_pid, 0);
}

static int inject(unsigned n)
{
    unsigned f = n % F_N;
    if (f == F_PHP_RESTART && php == NULL)
        f = F_RELOAD;
    faults[f]++;
    char conf[4096];
    switch (f) {
    case F_MEMBER_KILL: {
        struct harness_app *m = bal[n / F_N % 2];
        harness_app_signal(m, SIGKILL);
        sleep_ms(1500);
        if (harness_app_restart(m) != 0)
            return -1;
        watch_recovery(m, gwt_now_ms());
        break;
    }
    case F_MEMBER_FLAP: {
        struct harness_app *m = bal[(n / F_N + 1) % 2];
        harness_app_kill(m);
        sleep_ms(300);
        if (harness_app_restart(m) != 0)
            return -1;
        watch_recovery(m, gwt_now_ms());
        break;
    }
    case F_RELOAD:
        conf_text(conf, sizeof conf, (int)n);
        if (gwt_gateway_write_conf(&gw, conf) != 0 || kill(gw.pid, SIGHUP) != 0)
            return -1;
        break;
    case F_BACKEND_KILL:
        harness_app_signal(echo_u, SIGKILL);
        sleep_ms(1000);
        if (harness_app_restart(echo_u) != 0)
            return -1;
        break;
    case F_PHP_RESTART:
        if (harness_app_restart(php) != 0)
            return -1;
        break;
    }
    return 0;
}

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

/* fds and RSS once the load is over and client connections timed out */
static void settle(int *fds, long *rss)
{
    sleep_ms(3500); /* KeepAliveTimeout 2, ttl=1 */
    *fds = gwt_fd_count(gw.pid);
    *rss = gwt_rss_kb(gw.pid);
}

static void run_clients(struct client *cl, int n, int seconds, bool with_faults, unsigned *nfaults, long *rss_peak)
{
    atomic_store(&stop, false);
    for (int i = 0; i < n; i++) {
        cl[i].id = i;
        pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
    }
    long long end = gwt_now_ms() + seconds * 1000LL;
    while (gwt_now_ms() < end && gateway_alive()) {
        sleep_ms(with_faults ? 1000 : 200);
        if (with_faults && inject((*nfaults)++) != 0)
            fprintf(stderr, "soak: a fault could not be undone\n");
        long rss = gwt_rss_kb(gw.pid);
        if (rss > *rss_peak)
            *rss_peak = rss;
    }
    atomic_store(&stop, true);
    for (int i = 0; i < n; i++)
        pthread_join(cl[i].th, NULL);
}

int main(void)
{
    int seconds = env_int("GW_SOAK_SECONDS", 180);
    int nclients = env_int("GW_SOAK_CLIENTS", 8);
    if (nclients < 1 || nclients > MAX_CLIENTS)
        nclients = 8;
    if (getenv(GWT_EXE_ENV) == NULL) {
        fprintf(stderr, "%s is not set\n", GWT_EXE_ENV);
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    static const char *const echo_args[] = {"-t", "4", NULL};
    if (harness_apps_start(bal, 2, HARNESS_TCP, "app-echo", echo_args) != 0 ||
        harness_app_start(&echo_u, HARNESS_UNIX, "app-echo", echo_args) != 0)
        return EXIT_FAILURE;
    if (harness_php_start(&php, HARNESS_UNIX, 4) != 0)
        php = NULL;
    char conf[4096];
    conf_text(conf, sizeof conf, 0);
    if (gwt_gateway_start(&gw, conf) != 0) {
        fprintf(stderr, "soak: the gateway did not start\n");
        return EXIT_FAILURE;
    }
    printf("soak: %d s, %d clients, gateway pid %ld, %s\n", seconds, nclients, (long)gw.pid,
           php ? "with PHP-FPM" : "without PHP-FPM");
    fflush(stdout);
    static struct client cl[MAX_CLIENTS];
    unsigned nfaults = 0;
    long rss_peak = 0;
    /* warm up (one reload too), then the level to come back to */
    run_clients(cl, nclients, 5, false, &nfaults, &rss_peak);
    inject(F_RELOAD);
    int fds0;
    long rss0;
    settle(&fds0, &rss0);
    if (getenv("GW_SOAK_VERBOSE")) {
        fprintf(stderr, "soak: the gateway's fds at the start:\n");
        gwt_fd_dump(gw.pid);
    }
    memset(faults, 0, sizeof faults);
    for (int k = 0; k < K_N; k++)
        atomic_store(&counts[k], 0);
    long long t0 = gwt_now_ms();
    run_clients(cl, nclients, seconds, true, &nfaults, &rss_peak);
    long long elapsed = gwt_now_ms() - t0;
    bool alive = gateway_alive();
    /* after the faults: every route answers again */
    int fds1 = -1;
    long rss1 = -1;
    if (alive) {
        for (int i = 0; i < 2; i++) {
            if (bal[i]->pid < 0)
                harness_app_restart(bal[i]);
        }
        /* Kept backend connections are pooled up to smax (Apache's ttl
         * spares those), so compare as at the start: right after a reload,
         * whose old threads close everything they had. */
        inject(F_RELOAD);
        settle(&fds1, &rss1);
        if (fds1 > fds0) {
            fprintf(stderr, "soak: the gateway's fds after the load:\n");
            gwt_fd_dump(gw.pid);
        }
    }
    int st = gwt_gateway_stop(&gw);

    unsigned long total = 0;
    for (int k = 0; k < K_N; k++) {
        if (k != K_RECONNECT)
            total += atomic_load(&counts[k]);
    }
    printf("soak: duration %.1f s, requests %lu (%.0f/s)\n", elapsed / 1000.0, total, total * 1000.0 / elapsed);
    for (int k = 0; k < K_N; k++)
        printf("  %-34s %lu\n", kind_names[k], atomic_load(&counts[k]));
    printf("faults injected: %u\n", nfaults);
    for (int f = 0; f < F_N; f++)
        printf("  %-34s %u\n", fault_names[f], faults[f]);
    printf("recovery: worst %lld ms from a member's restart to its first response (limit %d ms), %u slower\n",
           worst_recovery_ms, RECOVERY_LIMIT_MS, slow_recoveries);
    printf("gateway: fds %d -> %d, RSS %ld KiB -> %ld KiB (peak %ld KiB), exit status %d%s\n", fds0, fds1, rss0,
           rss1, rss_peak, st, alive ? "" : " (DIED DURING THE RUN)");
    if (last_wrong[0])
        printf("last wrong body: %s\n", last_wrong);
    bool ok = alive && st == 0 && atomic_load(&counts[K_WRONG]) == 0 && atomic_load(&counts[K_CONNECT]) == 0 &&
              atomic_load(&counts[K_OK]) > total / 2 && slow_recoveries == 0 && fds1 <= fds0 &&
              rss1 <= rss0 + RSS_SLACK_KB;
    printf("soak: %s\n", ok ? "PASS" : "FAIL");
    harness_apps_stop(bal, 2);
    harness_app_stop(echo_u);
    harness_app_stop(php);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
