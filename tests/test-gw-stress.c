/* minimal_gateway under stress, end to end: the gateway process in front of
 * PHP-FPM (unix and TCP), app-echo (libfcgi; alone and as a balancer of two)
 * and app-hostile, all started by each test, spoken to over real sockets.
 * Large uploads checked by PHP's MD5, PATH_INFO strategies, a slow reader,
 * a balancer member killed under load, reloads under load and clients that
 * leave mid-request or mid-response. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app-common.h"
#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

/* The applications and the gateway of one test. */
struct stack {
    struct harness_app *php_u, *php_t, *echo_u, *echo_t, *bal[2], *hostile;
    struct gwt_gateway gw;
    char conf[16384];
};

static struct stack S;

static size_t scaled(size_t n)
{
    return gwt_under_valgrind() ? n / 16 : n;
}

static const char *const pathinfo_kinds[] = {"full", "first", "last", "unesc", "none"};

static void conf_build(char *out, size_t cap, const char *extra)
{
    const struct stack *s = &S;
    int n = snprintf(out, cap,
                     "ServerName localhost\n"
                     "Threads 2\n"
                     "Timeout 30\n"
                     "ErrorLog error.log\n"
                     "LogLevel warn\n"
                     "MaxKeepAliveRequests 0\n"
                     "DocumentRoot \"%s\"\n"
                     "SetEnvIf Request_URI \"^/[ut]-full/\" proxy-fcgi-pathinfo=full\n"
                     "SetEnvIf Request_URI \"^/[ut]-first/\" proxy-fcgi-pathinfo=first-dot\n"
                     "SetEnvIf Request_URI \"^/[ut]-last/\" proxy-fcgi-pathinfo=last-dot\n"
                     "SetEnvIf Request_URI \"^/[ut]-unesc/\" proxy-fcgi-pathinfo=unescape\n"
                     "ProxyPass \"/ue/\" \"unix:%s|fcgi://localhost/srv/ue/\" enablereuse=on max=8\n"
                     "ProxyPass \"/te/\" \"fcgi://127.0.0.1:%d/srv/te/\"\n"
                     "ProxyPass \"/h/\" \"unix:%s|fcgi://localhost/srv/h/\"\n"
                     "ProxyPass \"/bal/\" \"balancer://pair/srv/bal/\"\n"
                     "<Proxy \"balancer://pair\">\n"
                     "    BalancerMember \"fcgi://127.0.0.1:%d\" retry=1\n"
                     "    BalancerMember \"fcgi://127.0.0.1:%d\" retry=1\n"
                     "</Proxy>\n",
                     s->php_u->docroot, s->echo_u->path, s->echo_t->port, s->hostile->path, s->bal[0]->port,
                     s->bal[1]->port);
    for (size_t i = 0; i < sizeof pathinfo_kinds / sizeof pathinfo_kinds[0]; i++) {
        n += snprintf(out + n, cap - (size_t)n, "ProxyPass \"/u-%s/\" \"unix:%s|fcgi://localhost%s/\"\n",
                      pathinfo_kinds[i], s->php_u->path, s->php_u->docroot);
        n += snprintf(out + n, cap - (size_t)n, "ProxyPass \"/t-%s/\" \"fcgi://127.0.0.1:%d%s/\"\n",
                      pathinfo_kinds[i], s->php_t->port, s->php_t->docroot);
    }
    snprintf(out + n, cap - (size_t)n, "%s", extra ? extra : "");
}

static void stack_up(void)
{
    memset(&S, 0, sizeof S);
    S.gw.pid = -1;
    char bin[256];
    if (harness_php_fpm_binary(bin, sizeof bin) == NULL)
        return; /* main() skips the whole program */
    static const char *const echo_args[] = {"-t", "4", NULL};
    static const char *const hostile_args[] = {NULL};
    ck_assert_int_eq(harness_php_start(&S.php_u, HARNESS_UNIX, 4), 0);
    ck_assert_int_eq(harness_php_start(&S.php_t, HARNESS_TCP, 2), 0);
    ck_assert_int_eq(harness_app_start(&S.echo_u, HARNESS_UNIX, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&S.echo_t, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_apps_start(S.bal, 2, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&S.hostile, HARNESS_UNIX, "app-hostile", hostile_args), 0);
    conf_build(S.conf, sizeof S.conf, NULL);
    ck_assert_int_eq(gwt_gateway_start(&S.gw, S.conf), 0);
}

static void stack_down(void)
{
    int st = gwt_gateway_stop(&S.gw);
    harness_app_stop(S.php_u);
    harness_app_stop(S.php_t);
    harness_app_stop(S.echo_u);
    harness_app_stop(S.echo_t);
    harness_apps_stop(S.bal, 2);
    harness_app_stop(S.hostile);
    ck_assert_msg(st == 0, "minimal_gateway exited with %d", st);
}

/* ---- one-shot requests ---- */

static int connect_gw(void)
{
    int fd = gwt_connect(S.gw.port, gwt_under_valgrind() ? 120 : 30, 0);
    ck_assert_msg(fd >= 0, "connect: %s", strerror(-fd));
    return fd;
}

/* Send head (and body) on a new connection; read one response. */
static void exchange(const char *head, const char *body, size_t body_len, struct gwt_resp *r)
{
    struct gwt_conn c;
    gwt_conn_init(&c, connect_gw());
    ck_assert_int_eq(gwt_sends(c.fd, head), 0);
    if (body_len)
        ck_assert_int_eq(gwt_send(c.fd, body, body_len), 0);
    int rc = gwt_read_response(&c, r, strncmp(head, "HEAD ", 5) == 0);
    ck_assert_msg(rc == 0, "%s: no complete response (%d)", head, rc);
    gwt_conn_close(&c);
}

static void get(const char *target, struct gwt_resp *r)
{
    char head[2048];
    snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target);
    exchange(head, NULL, 0, r);
}

/* The value of "NAME=" on a line of body into out ("" when absent). */
static const char *body_var(const char *body, const char *name, char *out, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s=", name);
    out[0] = '\0';
    const char *p = strstr(body, key);
    if (p == NULL && strncmp(body, key + 1, strlen(key + 1)) == 0)
        p = body - 1;
    if (p) {
        p += strlen(key);
        size_t n = strcspn(p, "\n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
    return out;
}

/* MD5 of data as 32 hex digits, by md5sum(1). */
static void md5_hex(const char *data, size_t len, char out[33])
{
    char path[] = "/tmp/gwt-md5-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    close(fd);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "md5sum %s", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%32s", out), 1);
    pclose(p);
    unlink(path);
}

static char *make_body(size_t n, unsigned seed)
{
    char *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (char)x;
    }
    return b;
}

/* ---- PHP-FPM ---- */

START_TEST(test_php_get_post)
{
    struct gwt_resp r;
    char v[256];
    get("/u-none/md5.php?a=1&b=two+words", &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_str_eq(body_var(r.body, "METHOD", v, sizeof v), "GET");
    ck_assert_ptr_nonnull(strstr(r.body, "\nGET:a=1\nGET:b=two words\n"));
    gwt_resp_free(&r);
    get("/t-none/env.php?x=1", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(body_var(r.body, "QUERY_STRING", v, sizeof v), "x=1");
    ck_assert_str_eq(body_var(r.body, "REQUEST_METHOD", v, sizeof v), "GET");
    gwt_resp_free(&r);
    /* a form, parsed by PHP into $_POST */
    static const char form[] = "name=J%C3%BCrgen&empty=&list=a%26b&z=last";
    char head[512];
    snprintf(head, sizeof head,
             "POST /u-none/md5.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
             sizeof form - 1);
    exchange(head, form, sizeof form - 1, &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_str_eq(body_var(r.body, "METHOD", v, sizeof v), "POST");
    ck_assert_msg(strstr(r.body, "\nPOST:empty=\nPOST:list=a&b\nPOST:name=J\xc3\xbcrgen\nPOST:z=last\n") != NULL,
                  "%s", r.body);
    gwt_resp_free(&r);
    /* over TCP too, and a HEAD */
    snprintf(head, sizeof head,
             "POST /t-none/md5.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
             sizeof form - 1);
    exchange(head, form, sizeof form - 1, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "\nPOST:z=last\n"));
    gwt_resp_free(&r);
    exchange("HEAD /u-none/pattern.php?size=100 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", NULL, 0,
             &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    gwt_resp_free(&r);
    get("/u-none/missing.php", &r);
    ck_assert_int_eq(r.status, 404);
    gwt_resp_free(&r);
}
END_TEST

/* Upload n bytes to md5.php, with Content-Length or chunked (in pieces of
 * chunk bytes), and check what PHP computed. */
static void upload(const char *prefix, size_t n, size_t chunk)
{
    char *body = make_body(n, (unsigned)n);
    char want[33], v[64];
    md5_hex(body, n, want);
    char head[512];
    struct gwt_conn c;
    gwt_conn_init(&c, connect_gw());
    if (chunk == 0) {
        snprintf(head, sizeof head,
                 "POST %smd5.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                 "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                 prefix, n);
        ck_assert_int_eq(gwt_sends(c.fd, head), 0);
        ck_assert_int_eq(gwt_send(c.fd, body, n), 0);
    } else {
        snprintf(head, sizeof head,
                 "POST %smd5.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                 "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                 prefix);
        ck_assert_int_eq(gwt_sends(c.fd, head), 0);
        for (size_t off = 0; off < n; off += chunk) {
            size_t k = n - off < chunk ? n - off : chunk;
            char sz[32];
            snprintf(sz, sizeof sz, "%zx\r\n", k);
            ck_assert_int_eq(gwt_sends(c.fd, sz), 0);
            ck_assert_int_eq(gwt_send(c.fd, body + off, k), 0);
            ck_assert_int_eq(gwt_sends(c.fd, "\r\n"), 0);
        }
        ck_assert_int_eq(gwt_sends(c.fd, "0\r\n\r\n"), 0);
    }
    struct gwt_resp r;
    ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
    gwt_conn_close(&c);
    ck_assert_msg(r.status == 200, "%s %zu bytes, chunk %zu: %d %s", prefix, n, chunk, r.status, r.body);
    char nb[32];
    snprintf(nb, sizeof nb, "%zu", n);
    ck_assert_str_eq(body_var(r.body, "STDIN-BYTES", v, sizeof v), nb);
    ck_assert_str_eq(body_var(r.body, "CONTENT_LENGTH", v, sizeof v), nb);
    ck_assert_str_eq(body_var(r.body, "STDIN-MD5", v, sizeof v), want);
    gwt_resp_free(&r);
    free(body);
}

START_TEST(test_upload_10m)
{
    size_t n = scaled(10u << 20);
    upload("/u-none/", n, 0);
    upload("/u-none/", n, 65536);
    upload("/t-none/", n, 0);
    upload("/t-none/", n, 1000003); /* odd chunk sizes */
}
END_TEST

/* ---- PATH_INFO strategies ---- */

START_TEST(test_pathinfo)
{
    /* GET /X-kind/env.php/a.b/c%20d.e/f: the script runs whatever the
     * strategy, over unix and TCP, and sees the tail as PATH_INFO. PHP-FPM
     * (fix_pathinfo=1) also splits SCRIPT_FILENAME itself and adjusts
     * SCRIPT_NAME and PATH_INFO to its own split, so only the strategies
     * whose values it keeps name a SCRIPT_NAME here; what the gateway sends
     * is checked against Apache in test-env and test-gateway. An encoded
     * slash is refused (AllowEncodedSlashes Off: 404, as Apache). */
    static const struct {
        const char *kind, *script_name, *path_info;
    } cases[] = {
        {"full", "env.php", "/a.b/c d.e/f"},
        {"first", NULL, "/a.b/c%20d.e/f"},
        {"last", NULL, "/a.b/c%20d.e/f"},
        {"unesc", NULL, "/a.b/c%20d.e/f"},
        {"none", "env.php", "/a.b/c%20d.e/f"},
    };
    static const char *const tr[] = {"u", "t"};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char target[256], want[4200], v[4200];
            snprintf(target, sizeof target, "/%s-%s/env.php/a.b/c%%20d.e/f?q=1", tr[t], cases[i].kind);
            struct gwt_resp r;
            get(target, &r);
            ck_assert_msg(r.status == 200, "%s: %d %s", target, r.status, r.body);
            snprintf(want, sizeof want, "%s/env.php", S.php_u->docroot);
            ck_assert_msg(strcmp(body_var(r.body, "SCRIPT_FILENAME", v, sizeof v), want) == 0,
                          "%s: SCRIPT_FILENAME %s", target, v);
            if (cases[i].script_name) {
                snprintf(want, sizeof want, "/%s-%s/%s", tr[t], cases[i].kind, cases[i].script_name);
                ck_assert_msg(strcmp(body_var(r.body, "SCRIPT_NAME", v, sizeof v), want) == 0,
                              "%s: SCRIPT_NAME %s", target, v);
            }
            ck_assert_msg(strcmp(body_var(r.body, "PATH_INFO", v, sizeof v), cases[i].path_info) == 0,
                          "%s: PATH_INFO %s", target, v);
            ck_assert_str_eq(body_var(r.body, "QUERY_STRING", v, sizeof v), "q=1");
            gwt_resp_free(&r);
            snprintf(target, sizeof target, "/%s-%s/env.php/a%%2Fb", tr[t], cases[i].kind);
            get(target, &r);
            ck_assert_msg(r.status == 404, "%s: %d", target, r.status);
            gwt_resp_free(&r);
        }
    }
}
END_TEST

/* ---- libfcgi applications ---- */

START_TEST(test_libfcgi_apps)
{
    static const char *const prefixes[] = {"/ue/", "/te/", "/bal/"};
    size_t big = scaled(3u << 20);
    char *body = make_body(big, 7);
    for (size_t i = 0; i < 3; i++) {
        /* keep-alive: a large GET, a POST echoed, a small GET, on one connection */
        struct gwt_conn c;
        gwt_conn_init(&c, connect_gw());
        char head[512];
        snprintf(head, sizeof head, "GET %sa?size=%zu HTTP/1.1\r\nHost: localhost\r\n\r\n", prefixes[i], big);
        ck_assert_int_eq(gwt_sends(c.fd, head), 0);
        struct gwt_resp r;
        ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.body_len, big);
        ck_assert(gwt_pattern_ok(r.body, big));
        char cv[64];
        ck_assert_msg(strcmp(gwt_header(&r, "Connection", cv, sizeof cv), "close") != 0, "%s", r.head);
        gwt_resp_free(&r);
        snprintf(head, sizeof head, "POST %sb?echo=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n",
                 prefixes[i], big);
        ck_assert_int_eq(gwt_sends(c.fd, head), 0);
        int sent = gwt_send(c.fd, body, big);
        int rc = gwt_read_response(&c, &r, false);
        ck_assert_msg(sent == 0 && rc == 0, "%s: send %d, response %d %d %.200s", prefixes[i], sent, rc, r.status,
                      r.head);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.body_len, big);
        ck_assert(memcmp(r.body, body, big) == 0);
        gwt_resp_free(&r);
        snprintf(head, sizeof head, "GET %sc?status=201&header=X-T:%%20yes HTTP/1.1\r\nHost: localhost\r\n\r\n",
                 prefixes[i]);
        ck_assert_int_eq(gwt_sends(c.fd, head), 0);
        ck_assert_int_eq(gwt_read_response(&c, &r, false), 0);
        ck_assert_int_eq(r.status, 201);
        char v[64];
        ck_assert_str_eq(gwt_header(&r, "X-T", v, sizeof v), "yes");
        ck_assert_ptr_nonnull(strstr(r.body, "\nREQUEST_METHOD=GET\n"));
        gwt_resp_free(&r);
        gwt_conn_close(&c);
    }
    free(body);
}
END_TEST

/* ---- a slow reader ---- */

static void slow_reader(const char *prefix, size_t total)
{
    long base = gwt_rss_kb(S.gw.pid);
    struct gwt_conn c;
    gwt_conn_init(&c, gwt_connect(S.gw.port, 60, 32768));
    ck_assert_int_ge(c.fd, 0);
    char head[256];
    snprintf(head, sizeof head, "GET %s?size=%zu HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", prefix,
             total);
    ck_assert_int_eq(gwt_sends(c.fd, head), 0);
    /* the head, byte by byte (nothing of the body read), then nothing for a while */
    char line[1024];
    bool chunked = false;
    for (;;) {
        size_t i = 0;
        while (i + 1 < sizeof line) {
            ck_assert_int_eq(recv(c.fd, line + i, 1, 0), 1);
            if (line[i++] == '\n')
                break;
        }
        line[i] = '\0';
        if (strncasecmp(line, "Transfer-Encoding: chunked", 26) == 0)
            chunked = true;
        if (strcmp(line, "\r\n") == 0)
            break;
    }
    sleep(gwt_under_valgrind() ? 3 : 1);
    long idle_growth = gwt_rss_kb(S.gw.pid) - base;
    /* the rest, with a pause each MiB; dechunked at the end when chunked */
    long worst = 0;
    size_t got = 0;
    char *raw = malloc(total + 65536);
    ck_assert_ptr_nonnull(raw);
    for (;;) {
        ssize_t k = recv(c.fd, raw + got, 16384, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        ck_assert_uint_lt(got, total + 60000);
        if ((got >> 20) != ((got - (size_t)k) >> 20)) {
            usleep(20000);
            long rss = gwt_rss_kb(S.gw.pid);
            if (rss - base > worst)
                worst = rss - base;
        }
    }
    raw[got] = '\0';
    size_t o = got, i = 0;
    if (chunked)
        o = 0;
    while (chunked && i < got) {
        char *end;
        size_t sz = strtoul(raw + i, &end, 16);
        ck_assert(end[0] == '\r' && end[1] == '\n');
        i = (size_t)(end - raw) + 2;
        if (sz == 0)
            break;
        ck_assert(i + sz + 2 <= got);
        memmove(raw + o, raw + i, sz);
        o += sz;
        i += sz + 2;
    }
    ck_assert_uint_eq(o, total);
    ck_assert(gwt_pattern_ok(raw, total));
    free(raw);
    gwt_conn_close(&c);
    /* The gateway held on to a bounded amount: the backend was paused, not
     * read into memory (a few MiB of slack for allocator and thread stacks). */
    if (!gwt_under_valgrind()) {
        ck_assert_msg(idle_growth < 8192, "gateway RSS grew %ld KiB while the client read nothing", idle_growth);
        ck_assert_msg(worst < 8192, "gateway RSS grew %ld KiB during a %zu byte response", worst, total);
    }
}

START_TEST(test_slow_reader)
{
    slow_reader("/ue/slow", scaled(48u << 20));
    slow_reader("/te/slow", scaled(24u << 20));
    slow_reader("/u-none/pattern.php", scaled(24u << 20));
}
END_TEST

/* ---- load loops (balancer failover, reloads) ---- */

enum load_kind { LOAD_KEEPALIVE, LOAD_CLOSE, LOAD_POST };

struct load {
    pthread_t th;
    enum load_kind kind;
    const char *prefix;
    unsigned seed;
    atomic_bool stop;
    unsigned ok, conn_err, status_err, wrong_body, broken, reconnects;
    pid_t pids[8]; /* distinct X-Pid values seen, in order */
    atomic_int npids;
    char last_err[512];
};

static void load_note_pid(struct load *l, const struct gwt_resp *r)
{
    char v[32];
    pid_t pid = (pid_t)atol(gwt_header(r, "X-Pid", v, sizeof v));
    int n = atomic_load(&l->npids);
    for (int i = 0; i < n; i++) {
        if (l->pids[i] == pid)
            return;
    }
    if (n < 8) {
        l->pids[n] = pid;
        atomic_store(&l->npids, n + 1);
    }
}

/* One request on *c (connected first when c->fd < 0). Returns 0 when it got
 * a response (checked), 1 when a kept connection turned out closed before
 * any byte of the response (the client retries, as HTTP clients do). */
static int load_one(struct load *l, struct gwt_conn *c, unsigned i)
{
    size_t size = 100 + (i * 7919u + l->seed) % 40000;
    char head[256];
    char *body = NULL;
    bool reused = c->fd >= 0;
    if (!reused) {
        int fd = gwt_connect(S.gw.port, 30, 0);
        if (fd < 0) {
            l->conn_err++;
            snprintf(l->last_err, sizeof l->last_err, "connect: %s", strerror(-fd));
            return 0;
        }
        gwt_conn_init(c, fd);
    }
    const char *conn = l->kind == LOAD_CLOSE ? "Connection: close\r\n" : "";
    if (l->kind == LOAD_POST) {
        body = make_body(size, i);
        snprintf(head, sizeof head, "POST %sp?echo=1&n=%u HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n%s\r\n",
                 l->prefix, i, size, conn);
    } else {
        snprintf(head, sizeof head, "GET %sg?size=%zu&sleep_ms=%u HTTP/1.1\r\nHost: x\r\n%s\r\n", l->prefix, size,
                 i % 3, conn);
    }
    int rc = gwt_sends(c->fd, head);
    if (rc == 0 && body)
        rc = gwt_send(c->fd, body, size);
    struct gwt_resp r;
    rc = rc == 0 ? gwt_read_response(c, &r, false) : (memset(&r, 0, sizeof r), GWT_EOF);
    int again = 0;
    if (rc == GWT_EOF && reused && r.bytes_seen == 0) {
        again = 1; /* the server closed the idle connection first */
        l->reconnects++;
    } else if (rc != 0) {
        l->broken++;
        snprintf(l->last_err, sizeof l->last_err, "%.200s: read %d after %zu bytes", head, rc, r.bytes_seen);
    } else if (r.status != 200) {
        l->status_err++;
        snprintf(l->last_err, sizeof l->last_err, "%.200s: status %d", head, r.status);
    } else if (r.body_len != size || (body ? memcmp(r.body, body, size) != 0 : !gwt_pattern_ok(r.body, size))) {
        l->wrong_body++;
        snprintf(l->last_err, sizeof l->last_err, "%.200s: wrong body (%zu bytes)", head, r.body_len);
    } else {
        l->ok++;
        load_note_pid(l, &r);
    }
    char v[16];
    if (rc != 0 || l->kind == LOAD_CLOSE || strcmp(gwt_header(&r, "Connection", v, sizeof v), "close") == 0)
        gwt_conn_close(c);
    gwt_resp_free(&r);
    free(body);
    return again;
}

static void *load_main(void *arg)
{
    struct load *l = arg;
    struct gwt_conn c;
    gwt_conn_init(&c, -1);
    for (unsigned i = 0; !atomic_load(&l->stop); i++) {
        if (load_one(l, &c, i))
            load_one(l, &c, i); /* on a fresh connection */
    }
    gwt_conn_close(&c);
    return NULL;
}

static void load_start(struct load *l, enum load_kind kind, const char *prefix, unsigned seed)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->prefix = prefix;
    l->seed = seed;
    ck_assert_int_eq(pthread_create(&l->th, NULL, load_main, l), 0);
}

static void load_stop(struct load *l)
{
    atomic_store(&l->stop, true);
    pthread_join(l->th, NULL);
}

static bool load_saw_pid(struct load *l, pid_t pid)
{
    for (int i = 0; i < atomic_load(&l->npids); i++) {
        if (l->pids[i] == pid)
            return true;
    }
    return false;
}

START_TEST(test_balancer_member_killed)
{
    struct load l[3];
    load_start(&l[0], LOAD_KEEPALIVE, "/bal/", 1);
    load_start(&l[1], LOAD_CLOSE, "/bal/", 2);
    load_start(&l[2], LOAD_POST, "/bal/", 3);
    int ms = gwt_under_valgrind() ? 4000 : 700;
    usleep((useconds_t)ms * 1000);
    pid_t old = S.bal[0]->pid;
    ck_assert(load_saw_pid(&l[0], old) || load_saw_pid(&l[1], old));
    unsigned before = l[0].ok + l[1].ok + l[2].ok;
    ck_assert_int_eq(harness_app_kill(S.bal[0]), 0); /* SIGTERM: app-echo dies at once, mid-request too */
    usleep((useconds_t)ms * 1000);
    unsigned during = l[0].ok + l[1].ok + l[2].ok;
    ck_assert_uint_gt(during, before); /* the other member took over */
    ck_assert_int_eq(harness_app_restart(S.bal[0]), 0);
    pid_t fresh = S.bal[0]->pid;
    /* back in rotation within retry=1 s (and a request or two to notice) */
    int64_t deadline = gwt_now_ms() + (gwt_under_valgrind() ? 30000 : 5000);
    while (!load_saw_pid(&l[0], fresh) && !load_saw_pid(&l[1], fresh) && gwt_now_ms() < deadline)
        usleep(20000);
    for (int i = 0; i < 3; i++)
        load_stop(&l[i]);
    ck_assert_msg(load_saw_pid(&l[0], fresh) || load_saw_pid(&l[1], fresh), "the restarted member got no request");
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "balancer load %d: ok %u, connect errors %u, error statuses %u, broken %u, wrong %u%s%s\n", i,
                l[i].ok, l[i].conn_err, l[i].status_err, l[i].broken, l[i].wrong_body, l[i].last_err[0] ? ": " : "",
                l[i].last_err);
        ck_assert_uint_gt(l[i].ok, 0);
        ck_assert_uint_eq(l[i].conn_err, 0);
        ck_assert_uint_eq(l[i].wrong_body, 0);
    }
    /* GETs are retried on the other member: none fails. A POST already sent
     * to the killed member is not sent twice: at most the one in flight. */
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(l[i].status_err, 0);
        ck_assert_uint_eq(l[i].broken, 0);
    }
    ck_assert_uint_le(l[2].status_err + l[2].broken, 1);
}
END_TEST

START_TEST(test_reload_under_load)
{
    struct load l[4];
    load_start(&l[0], LOAD_KEEPALIVE, "/ue/", 1);
    load_start(&l[1], LOAD_CLOSE, "/te/", 2);
    load_start(&l[2], LOAD_POST, "/ue/", 3);
    load_start(&l[3], LOAD_KEEPALIVE, "/bal/", 4);
    int reloads = gwt_under_valgrind() ? 2 : 6;
    char *conf = malloc(sizeof S.conf + 256);
    for (int i = 0; i < reloads; i++) {
        usleep(gwt_under_valgrind() ? 3000000 : 300000);
        char extra[256];
        snprintf(extra, sizeof extra, "ProxyPass \"/r%d/\" \"fcgi://127.0.0.1:%d/srv/r/\"\n", i, S.echo_t->port);
        conf_build(conf, sizeof S.conf + 256, i % 2 ? extra : NULL);
        ck_assert_int_eq(gwt_gateway_write_conf(&S.gw, conf), 0);
        ck_assert_int_eq(kill(S.gw.pid, SIGHUP), 0);
    }
    usleep(gwt_under_valgrind() ? 3000000 : 300000);
    free(conf);
    for (int i = 0; i < 4; i++)
        load_stop(&l[i]);
    for (int i = 0; i < 4; i++) {
        fprintf(stderr, "reload load %d: ok %u, reconnects %u, connect errors %u, error statuses %u, broken %u, "
                        "wrong %u%s%s\n",
                i, l[i].ok, l[i].reconnects, l[i].conn_err, l[i].status_err, l[i].broken, l[i].wrong_body,
                l[i].last_err[0] ? ": " : "", l[i].last_err);
        ck_assert_uint_gt(l[i].ok, 0);
        ck_assert_uint_eq(l[i].conn_err + l[i].status_err + l[i].broken + l[i].wrong_body, 0);
    }
    /* A connection accepted before a reload that sends its request after
     * it is answered by the old thread; one idle between requests is
     * closed at once (its client retries elsewhere). */
    int fresh = connect_gw();
    struct gwt_conn idle;
    gwt_conn_init(&idle, connect_gw());
    ck_assert_int_eq(gwt_sends(idle.fd, "GET /te/i?size=10 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    struct gwt_resp ir;
    ck_assert_int_eq(gwt_read_response(&idle, &ir, false), 0);
    gwt_resp_free(&ir);
    usleep(100000);
    ck_assert_int_eq(kill(S.gw.pid, SIGHUP), 0);
    int64_t t0 = gwt_now_ms();
    ck_assert_int_eq(gwt_read_response(&idle, &ir, false), GWT_EOF);
    gwt_resp_free(&ir);
    ck_assert_int_lt(gwt_now_ms() - t0, gwt_under_valgrind() ? 8000 : 2000);
    gwt_conn_close(&idle);
    usleep(gwt_under_valgrind() ? 2000000 : 500000);
    struct gwt_conn fc;
    gwt_conn_init(&fc, fresh);
    ck_assert_int_eq(gwt_sends(fc.fd, "GET /te/f?size=77 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    ck_assert_int_eq(gwt_read_response(&fc, &ir, false), 0);
    ck_assert_int_eq(ir.status, 200);
    ck_assert_uint_eq(ir.body_len, 77);
    char cv[16];
    ck_assert_str_eq(gwt_header(&ir, "Connection", cv, sizeof cv), "close");
    gwt_resp_free(&ir);
    gwt_conn_close(&fc);
    /* the last configuration is the one in force */
    struct gwt_resp r;
    char target[32];
    snprintf(target, sizeof target, "/r%d/x", reloads - 1);
    get(target, &r);
    ck_assert_int_eq(r.status, 200);
    gwt_resp_free(&r);
}
END_TEST

/* ---- clients that leave ---- */

/* Wait until app-hostile has no connection child left (each connection is a
 * forked child that exits when its connection closes). */
static void wait_hostile_idle(void)
{
    int n = 0;
    for (int i = 0; i < 500 && (n = gwt_child_count(S.hostile->pid)) > 0; i++)
        usleep(20000);
    ck_assert_msg(n == 0, "app-hostile still has %d connection(s): the backend request was not cancelled", n);
}

START_TEST(test_client_disconnects)
{
    /* warm up both threads' lazily made things, then the baseline */
    for (int i = 0; i < 4; i++) {
        struct gwt_resp r;
        get("/te/w?size=10", &r);
        gwt_resp_free(&r);
    }
    int base = gwt_wait_fds(S.gw.pid, 0, 200);
    ck_assert_int_gt(base, 0);
    /* mid-response: the application streams far more than the client takes */
    for (int i = 0; i < 3; i++) {
        int fd = connect_gw();
        ck_assert_int_eq(gwt_sends(fd, "GET /h/x?do=out=Status:%20200\\r\\n\\r\\n;big=6,cur,200000000;end HTTP/1.1\r\n"
                                       "Host: x\r\n\r\n"),
                         0);
        char buf[65536];
        size_t got = 0;
        while (got < 300000) {
            ssize_t k = recv(fd, buf, sizeof buf, 0);
            ck_assert_int_gt(k, 0);
            got += (size_t)k;
        }
        if (i == 2) { /* a reset rather than a FIN */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
        wait_hostile_idle();
    }
    /* mid-response of a libfcgi application (it sees its connection closed) */
    int fd = connect_gw();
    ck_assert_int_eq(gwt_sends(fd, "GET /te/x?size=100000000&chunk=65536 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    char buf[65536];
    ck_assert_int_gt(recv(fd, buf, sizeof buf, 0), 0);
    close(fd);
    /* mid-request: the body is being forwarded when the client leaves */
    fd = connect_gw();
    ck_assert_int_eq(gwt_sends(fd, "POST /h/x?do=early;out=Status:%20200\\r\\n\\r\\n;hang HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Length: 100000000\r\n\r\n"),
                     0);
    char *chunk = make_body(1u << 20, 9);
    ck_assert_int_eq(gwt_send(fd, chunk, 1u << 20), 0);
    free(chunk);
    usleep(200000);
    ck_assert_int_eq(gwt_child_count(S.hostile->pid), 1);
    close(fd);
    wait_hostile_idle();
    /* while the application has not answered at all */
    fd = connect_gw();
    ck_assert_int_eq(gwt_sends(fd, "GET /h/x?do=hang HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    usleep(200000);
    ck_assert_int_eq(gwt_child_count(S.hostile->pid), 1);
    close(fd);
    wait_hostile_idle();
    int now = gwt_wait_fds(S.gw.pid, base, 5000);
    ck_assert_msg(now <= base, "gateway fds: %d, %d at the start", now, base);
    /* and it still serves */
    struct gwt_resp r;
    get("/te/after?size=1000", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(gwt_pattern_ok(r.body, r.body_len));
    gwt_resp_free(&r);
}
END_TEST

int main(void)
{
    char bin[256];
    if (getenv(GWT_EXE_ENV) == NULL) {
        fprintf(stderr, "%s is not set\n", GWT_EXE_ENV);
        return EXIT_FAILURE;
    }
    if (harness_php_fpm_binary(bin, sizeof bin) == NULL) {
        fprintf(stderr, "no php-fpm: skipped\n");
        return HARNESS_EXIT_SKIP;
    }
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("gw-stress");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"PHP GET and POST form", test_php_get_post},
        {"10 MiB uploads", test_upload_10m},
        {"PATH_INFO strategies", test_pathinfo},
        {"libfcgi applications", test_libfcgi_apps},
        {"slow reader", test_slow_reader},
        {"balancer member killed", test_balancer_member_killed},
        {"reload under load", test_reload_under_load},
        {"client disconnects", test_client_disconnects},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, gwt_under_valgrind() ? 600 : 60);
        tcase_add_checked_fixture(tc, stack_up, stack_down);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return testutil_run(s);
}
