/* minimal_gateway in front of hostile clients, end to end: the gateway
 * process with app-echo and app-hostile (which logs every request it
 * reads) behind it. Request smuggling attempts must be refused before any
 * byte reaches an application, or framed exactly one way; limits, slow
 * heads and bodies, slowloris, long pipelines and a client that never
 * reads must leave the gateway serving others with bounded memory and its
 * descriptors back where they were. What the HTTP layer alone does with
 * such bytes is in test-gw-http; here the whole program and its
 * applications are checked. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app-common.h"
#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

static struct harness_app *echo, *hostile;
static struct gwt_gateway gw;
static char logdir[] = "/tmp/gwt-hl-XXXXXX";
static char logpath[128];

static int timeout_s(void)
{
    return gwt_under_valgrind() ? 4 : 2;
}

static void up(void)
{
    strcpy(logdir, "/tmp/gwt-hl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(logdir));
    snprintf(logpath, sizeof logpath, "%s/hostile.log", logdir);
    static const char *const echo_args[] = {"-t", "4", NULL};
    const char *hostile_args[] = {"--log", logpath, NULL};
    ck_assert_int_eq(harness_app_start(&echo, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&hostile, HARNESS_UNIX, "app-hostile", hostile_args), 0);
    char conf[2048];
    snprintf(conf, sizeof conf,
             "ServerName localhost\n"
             "Threads 2\n"
             "Timeout %d\n"
             "ProxyTimeout 30\n"
             "ErrorLog error.log\n"
             "LimitRequestLine 1000\n"
             "LimitRequestFieldSize 500\n"
             "LimitRequestFields 20\n"
             "MaxKeepAliveRequests 0\n"
             "ProxyPass \"/e/\" \"fcgi://127.0.0.1:%d/srv/e/\"\n" /* no pooled connections: fds comparable */
             "ProxyPass \"/h/\" \"unix:%s|fcgi://localhost/srv/h/\"\n",
             timeout_s(), echo->port, hostile->path);
    ck_assert_int_eq(gwt_gateway_start(&gw, conf), 0);
}

static void down(void)
{
    int st = gwt_gateway_stop(&gw);
    harness_app_stop(echo);
    harness_app_stop(hostile);
    echo = hostile = NULL;
    unlink(logpath);
    rmdir(logdir);
    ck_assert_msg(st == 0, "minimal_gateway exited with %d", st);
}

static int connect_gw(void)
{
    int fd = gwt_connect(gw.port, gwt_under_valgrind() ? 60 : 10, 0);
    ck_assert_msg(fd >= 0, "connect: %s", strerror(-fd));
    return fd;
}

/* What app-hostile's log holds (it logs each request it has read). */
static char *hostile_log(void)
{
    static char buf[65536];
    FILE *f = fopen(logpath, "r");
    buf[0] = '\0';
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static int count_of(const char *hay, size_t len, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, nl)) != NULL; p += nl)
        n++;
    return n;
}

/* ---- smuggling ---- */

/* A request (to app-hostile) behind which a second one hides. */
#define SMUGGLED "GET /h/x?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n"

/* Send raw on a new connection: exactly one response, with status, then
 * the connection closes, and app-hostile read no request at all. */
static void refused(const char *raw, size_t len, int status)
{
    size_t before = strlen(hostile_log());
    int fd = connect_gw();
    ck_assert_int_eq(gwt_send(fd, raw, len), 0);
    size_t n;
    char *all = gwt_read_all(fd, &n);
    close(fd);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    ck_assert_msg(strncmp(all, want, strlen(want)) == 0, "want %d for\n%s\ngot:\n%s", status, raw, all);
    ck_assert_msg(count_of(all, n, "HTTP/1.1 ") == 1, "more than one response to\n%s\n%s", raw, all);
    free(all);
    usleep(20000);
    ck_assert_msg(strlen(hostile_log()) == before, "the application read a request from\n%s\nlog:\n%s", raw,
                  hostile_log() + before);
}

#define REFUSED(text, status) refused(text, sizeof text - 1, status)

START_TEST(test_smuggling)
{
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
            "0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\nContent-Length: 41\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1e2\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n" SMUGGLED, 400);
    /* Transfer-Encoding variants: chunked must be the last and only coding */
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 501);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"
            "0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
            400); /* obs-fold */
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
            400);
    REFUSED("POST /h/a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    /* bare LF and CR as line ends */
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\nContent-Length: 41\r\n\r\n" SMUGGLED, 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\rContent-Length: 41\r\n\r\n" SMUGGLED, 400);
    REFUSED("GET /h/a HTTP/1.1\nHost: x\n\n" SMUGGLED, 400);
    /* chunk sizes and extensions */
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "10000000000000000000000000000029\r\n" SMUGGLED "\r\n0\r\n\r\n", 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "-29\r\n" SMUGGLED "\r\n0\r\n\r\n", 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0x29\r\n" SMUGGLED "\r\n0\r\n\r\n", 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "29\n" SMUGGLED "\n0\n\n", 400);
    REFUSED("POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "29;a=\"b\r\n" SMUGGLED "\r\n0\r\n\r\n", 400);
    char *ext = malloc(16384);
    int n = snprintf(ext, 16384, "POST /h/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n29;e=");
    memset(ext + n, 'x', 9000);
    n += 9000;
    n += snprintf(ext + n, 16384 - (size_t)n, "\r\n" SMUGGLED "\r\n0\r\n\r\n");
    refused(ext, (size_t)n, 400);
    free(ext);
    /* NUL and control bytes in the target and in fields */
    REFUSED("GET /h/a\0b HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REFUSED("GET /h/a%00b\0 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REFUSED("GET /h/a HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400);
    REFUSED("GET /h/a HTTP/1.1\r\nHost: x\r\nX\0A: b\r\n\r\n", 400);
}
END_TEST

/* Accepted variants are framed exactly one way: the chunked body reaches
 * the application whole and the request behind it is a request of its own. */
static void framed(const char *te)
{
    char raw[512];
    snprintf(raw, sizeof raw,
             "POST /e/a?echo=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n"
             "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-X: 1\r\n\r\n"
             "GET /e/b?size=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             te);
    struct gwt_conn c;
    gwt_conn_init(&c, connect_gw());
    ck_assert_int_eq(gwt_sends(c.fd, raw), 0);
    struct gwt_resp r;
    ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
    ck_assert_msg(r.status == 200, "TE \"%s\": %d", te, r.status);
    ck_assert_str_eq(r.body, "hello world");
    gwt_resp_free(&r);
    ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ABC");
    gwt_resp_free(&r);
    ck_assert_int_eq(gwt_read_response(&c, &r, false), GWT_EOF);
    gwt_resp_free(&r);
    gwt_conn_close(&c);
}

START_TEST(test_framing_accepted)
{
    framed("chunked");
    framed("CHUNKED"); /* codings are case-insensitive */
    framed("Chunked ");
}
END_TEST

/* ---- limits ---- */

START_TEST(test_limits)
{
    char req[8192];
    int n = snprintf(req, sizeof req, "GET /h/%01100d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    refused(req, (size_t)n, 414);
    /* too many fields, or one too long: 400, as Apache answers LimitRequestFields
     * and LimitRequestFieldSize */
    n = snprintf(req, sizeof req, "GET /h/a HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-%d: y\r\n", i);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    refused(req, (size_t)n, 400);
    n = snprintf(req, sizeof req, "GET /h/a HTTP/1.1\r\nHost: x\r\nX-Long: %0600d\r\n\r\n", 0);
    refused(req, (size_t)n, 400);
    n = snprintf(req, sizeof req, "GET /h/a HTTP/1.1\r\nHost: x\r\n%0600d: v\r\n\r\n", 0);
    refused(req, (size_t)n, 400);
    /* just within: served */
    n = snprintf(req, sizeof req, "GET /e/%0900d?size=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    struct gwt_conn c;
    gwt_conn_init(&c, connect_gw());
    ck_assert_int_eq(gwt_send(c.fd, req, (size_t)n), 0);
    struct gwt_resp r;
    ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
    ck_assert_int_eq(r.status, 200);
    gwt_resp_free(&r);
    gwt_conn_close(&c);
}
END_TEST

/* ---- slow clients ---- */

static int baseline_fds(void)
{
    for (int i = 0; i < 4; i++) { /* both threads' lazily made things */
        struct gwt_conn c;
        gwt_conn_init(&c, connect_gw());
        gwt_sends(c.fd, "GET /e/w?size=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        struct gwt_resp r;
        gwt_read_response(&c, &r, false);
        gwt_resp_free(&r);
        gwt_conn_close(&c);
    }
    usleep(100000);
    return gwt_fd_count(gw.pid);
}

START_TEST(test_slow_head_and_body)
{
    int base = baseline_fds();
    /* a head that never completes: 408 at Timeout */
    int fd = connect_gw();
    int64_t t0 = gwt_now_ms();
    ck_assert_int_eq(gwt_sends(fd, "GET /h/a HTTP/1.1\r\nHo"), 0);
    char *all = gwt_read_all(fd, NULL);
    int64_t took = gwt_now_ms() - t0;
    close(fd);
    ck_assert_msg(strncmp(all, "HTTP/1.1 408 ", 13) == 0, "%s", all);
    free(all);
    ck_assert_int_ge(took, timeout_s() * 1000 - 300);
    ck_assert_int_lt(took, timeout_s() * 1000 + 3000);
    /* a body that stops coming: 408, and the application's request is cancelled */
    fd = connect_gw();
    ck_assert_int_eq(gwt_sends(fd, "POST /h/a?do=out=Status:%20200\\r\\n\\r\\nok;outeof;end HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Length: 100\r\n\r\n0123456789"),
                     0);
    usleep(300000);
    ck_assert_int_eq(gwt_child_count(hostile->pid), 1); /* app-hostile is reading that body */
    all = gwt_read_all(fd, NULL);
    close(fd);
    ck_assert_msg(strncmp(all, "HTTP/1.1 408 ", 13) == 0, "%s", all);
    free(all);
    int k = 0;
    for (int i = 0; i < 200 && (k = gwt_child_count(hostile->pid)) > 0; i++)
        usleep(20000);
    ck_assert_int_eq(k, 0);
    ck_assert_int_le(gwt_wait_fds(gw.pid, base, 3000), base);
}
END_TEST

START_TEST(test_slowloris)
{
    int base = baseline_fds();
    int n = gwt_under_valgrind() ? 16 : 200;
    int *fds = calloc((size_t)n, sizeof *fds);
    for (int i = 0; i < n; i++) {
        fds[i] = connect_gw();
        ck_assert_int_eq(gwt_sends(fds[i], "GET /e/a HTTP/1.1\r\nHost: x\r\n"), 0);
    }
    /* every 250 ms each sends one more header line; meanwhile others are served at once */
    int64_t end = gwt_now_ms() + (timeout_s() + 2) * 1000;
    int served = 0;
    int64_t worst = 0;
    int closed = 0;
    while (gwt_now_ms() < end) {
        for (int i = 0; i < n; i++) {
            if (fds[i] >= 0 && gwt_sends(fds[i], "X-Slow: 1\r\n") != 0) {
                close(fds[i]);
                fds[i] = -1;
                closed++;
            }
        }
        int64_t t0 = gwt_now_ms();
        struct gwt_conn c;
        gwt_conn_init(&c, connect_gw());
        ck_assert_int_eq(gwt_sends(c.fd, "GET /e/ok?size=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
        struct gwt_resp r;
        ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert(gwt_pattern_ok(r.body, r.body_len) && r.body_len == 100);
        gwt_resp_free(&r);
        gwt_conn_close(&c);
        served++;
        if (gwt_now_ms() - t0 > worst)
            worst = gwt_now_ms() - t0;
        usleep(250000);
    }
    /* every trickling connection was answered 408 and closed */
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        char *all = gwt_read_all(fds[i], NULL);
        ck_assert_msg(all[0] == '\0' || strncmp(all, "HTTP/1.1 408 ", 13) == 0, "%s", all);
        free(all);
        close(fds[i]);
        closed++;
    }
    free(fds);
    ck_assert_int_eq(closed, n);
    ck_assert_int_gt(served, 3);
    ck_assert_msg(worst < (gwt_under_valgrind() ? 5000 : 1000), "a request took %lld ms", (long long)worst);
    ck_assert_int_le(gwt_wait_fds(gw.pid, base, 3000), base);
}
END_TEST

/* ---- pipelining ---- */

struct pipe_writer {
    int fd, n;
};

static void *pipe_write(void *arg)
{
    struct pipe_writer *w = arg;
    char req[256];
    for (int i = 0; i < w->n; i++) {
        int len;
        if (i % 10 == 9)
            len = snprintf(req, sizeof req,
                           "POST /e/p?echo=1&header=X-N:%d HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nn=%04d",
                           i, i);
        else
            len = snprintf(req, sizeof req, "GET /e/g?size=%d&header=X-N:%d HTTP/1.1\r\nHost: x\r\n\r\n", i % 50, i);
        if (gwt_send(w->fd, req, (size_t)len) != 0)
            break;
    }
    return NULL;
}

START_TEST(test_pipeline_1000)
{
    int n = gwt_under_valgrind() ? 200 : 1000;
    struct gwt_conn c;
    gwt_conn_init(&c, connect_gw());
    struct pipe_writer w = {c.fd, n};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, pipe_write, &w), 0);
    for (int i = 0; i < n; i++) {
        struct gwt_resp r;
        int rc = gwt_read_response(&c, &r, false);
        ck_assert_msg(rc == 0, "response %d: %d", i, rc);
        ck_assert_int_eq(r.status, 200);
        char v[32];
        ck_assert_msg(atoi(gwt_header(&r, "X-N", v, sizeof v)) == i, "response %d is for request %s", i, v);
        if (i % 10 == 9) {
            char want[8];
            snprintf(want, sizeof want, "n=%04d", i);
            ck_assert_str_eq(r.body, want);
        } else {
            ck_assert_uint_eq(r.body_len, (size_t)(i % 50));
            ck_assert(gwt_pattern_ok(r.body, r.body_len));
        }
        gwt_resp_free(&r);
    }
    pthread_join(th, NULL);
    gwt_conn_close(&c);
}
END_TEST

/* ---- a client that never reads ---- */

START_TEST(test_never_reads)
{
    int base = baseline_fds();
    long rss0 = gwt_rss_kb(gw.pid);
    size_t total = 1000000000; /* streamed by app-hostile as it goes */
    int fd = gwt_connect(gw.port, 30, 16384);
    ck_assert_int_ge(fd, 0);
    char req[160];
    snprintf(req, sizeof req, "GET /h/big?do=out=Status:%%20200\\r\\n\\r\\n;big=6,cur,%zu;outeof;end HTTP/1.1\r\n"
             "Host: x\r\n\r\n", total);
    ck_assert_int_eq(gwt_sends(fd, req), 0);
    /* the gateway stops reading from the application: its memory stays put */
    usleep(timeout_s() * 400000);
    long grew = gwt_rss_kb(gw.pid) - rss0;
    if (!gwt_under_valgrind())
        ck_assert_msg(grew < 8192, "gateway RSS grew %ld KiB for a client that reads nothing", grew);
    /* then its Timeout closes the connection and cancels the request */
    int now = gwt_wait_fds(gw.pid, base, (timeout_s() + 5) * 1000);
    if (now > base)
        gwt_fd_dump(gw.pid);
    ck_assert_msg(now <= base, "gateway fds %d, %d at the start", now, base);
    size_t got = 0;
    char *buf = malloc(1 << 20);
    ssize_t k;
    while ((k = recv(fd, buf, 1 << 20, 0)) > 0)
        got += (size_t)k;
    free(buf);
    close(fd);
    ck_assert_uint_lt(got, total); /* truncated: no complete response */
    int kids = 0;
    for (int i = 0; i < 200 && (kids = gwt_child_count(hostile->pid)) > 0; i++)
        usleep(20000);
    ck_assert_int_eq(kids, 0); /* the application saw its connection closed */
    /* and it serves the next one */
    struct gwt_conn c;
    gwt_conn_init(&c, connect_gw());
    ck_assert_int_eq(gwt_sends(c.fd, "GET /e/n?size=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
    struct gwt_resp r;
    ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
    ck_assert_int_eq(r.status, 200);
    gwt_resp_free(&r);
    gwt_conn_close(&c);
}
END_TEST

int main(void)
{
    if (getenv(GWT_EXE_ENV) == NULL) {
        fprintf(stderr, "%s is not set\n", GWT_EXE_ENV);
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("gw-hostile-clients");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"request smuggling", test_smuggling},
        {"framing of accepted variants", test_framing_accepted},
        {"limits", test_limits},
        {"slow head and body", test_slow_head_and_body},
        {"slowloris", test_slowloris},
        {"pipeline of 1000", test_pipeline_1000},
        {"never reads", test_never_reads},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, gwt_under_valgrind() ? 600 : 60);
        tcase_add_checked_fixture(tc, up, down);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return testutil_run(s);
}
