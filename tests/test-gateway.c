/* minimal_gateway end to end: the program started with a configuration the
 * test writes, in front of real FastCGI applications the test starts
 * (app-echo, app-hostile, PHP-FPM), spoken to over real sockets with raw
 * HTTP bytes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app-common.h"
#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

#define GW_EXE_ENV "GW_EXE"

static struct harness_app *echo, *hostile, *php;
static pid_t gw_pid = -1;
static int gw_port;
static char dir[] = "/tmp/gw-t-XXXXXX";

static int connect_gw(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct timeval tv = {20, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* Run minimal_gateway with args; returns its exit status and its stderr in
 * err (for -t). */
static int run_gw(const char *const *args, char *err, size_t errsz)
{
    int p[2];
    ck_assert(pipe(p) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        dup2(p[1], 1);
        close(p[0]);
        const char *argv[8] = {getenv(GW_EXE_ENV)};
        for (int i = 0; args[i] && i < 6; i++)
            argv[i + 1] = args[i];
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < errsz && (k = read(p[0], err + n, errsz - n - 1)) > 0)
        n += (size_t)k;
    err[n] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void start_gateway(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static const char *const echo_args[] = {"-t", "8", NULL};
    ck_assert_int_eq(harness_app_start(&echo, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&hostile, HARNESS_UNIX, "app-hostile", NULL), 0);
    int have_php = harness_php_start(&php, HARNESS_UNIX, 4) == 0;
    gw_port = gwt_free_port();
    ck_assert_int_gt(gw_port, 0);
    int dead = gwt_free_port();
    ck_assert_int_gt(dead, 0);
    char conf[4096];
    int n = snprintf(conf, sizeof conf,
                     "# written by test-gateway\n"
                     "Listen 127.0.0.1:%d\n"
                     "ServerName localhost\n"
                     "Threads 2\n"
                     "Timeout 20\n"
                     "ErrorLog error.log\n"
                     "LogLevel warn\n"
                     "CustomLog access.log \"%%h %%m %%U%%q %%>s %%b \\\"%%{User-Agent}i\\\"\"\n"
                     "SetEnv APP_ENV test\n"
                     "SetEnvIf Request_URI \"^/pi/\" proxy-fcgi-pathinfo=first-dot\n"
                     "ProxyPass \"/pi/\" \"fcgi://127.0.0.1:%d/srv/pi/\"\n"
                     "ProxyPass \"/app/\" \"fcgi://127.0.0.1:%d/srv/app/\" enablereuse=on max=2\n"
                     "ProxyPass \"/slow/\" \"fcgi://127.0.0.1:%d/srv/slow/\" timeout=1\n"
                     "ProxyPass \"/h/\" \"unix:%s|fcgi://localhost/srv/h/\"\n"
                     "ProxyPass \"/down/\" \"fcgi://127.0.0.1:%d/srv/down/\"\n",
                     gw_port, echo->port, echo->port, echo->port, hostile->path, dead);
    if (have_php)
        snprintf(conf + n, sizeof conf - (size_t)n,
                 "DocumentRoot \"%s\"\n"
                 "<FilesMatch \"\\.php$\">\n"
                 "    SetHandler \"proxy:unix:%s|fcgi://localhost/\"\n"
                 "</FilesMatch>\n",
                 php->docroot, php->path);
    char path[256];
    snprintf(path, sizeof path, "%s/gw.conf", dir);
    write_file(path, conf);
    gw_pid = fork();
    ck_assert(gw_pid >= 0);
    if (gw_pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (!getenv("GW_TEST_VERBOSE"))
            dup2(nul, 2);
        if (getenv("FCGIC_UNDER_VALGRIND")) {
            setenv("GW_NO_JIT", "1", 1);
            execlp("valgrind", "valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite,indirect", "--quiet", getenv(GW_EXE_ENV), "-f", path,
                   (char *)NULL);
        }
        execl(getenv(GW_EXE_ENV), getenv(GW_EXE_ENV), "-f", path, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) { /* wait until it listens */
        int s = connect_gw();
        if (s >= 0) {
            close(s);
            return;
        }
        usleep(25000);
    }
    ck_abort_msg("minimal_gateway did not start listening");
}

static void stop_gateway(void)
{
    if (gw_pid > 0) {
        kill(gw_pid, SIGTERM);
        int st;
        waitpid(gw_pid, &st, 0);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "minimal_gateway exited with %d",
                      WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    harness_app_stop(echo);
    harness_app_stop(hostile);
    harness_app_stop(php);
    echo = hostile = php = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One exchange: send `req` whole, read until the server closes. */
struct resp {
    int status;
    char head[4096];
    char *body;
    size_t body_len;
};

static void dechunk(struct resp *r)
{
    char *out = malloc(r->body_len + 1);
    size_t o = 0, i = 0;
    ck_assert_ptr_nonnull(out);
    while (i < r->body_len) {
        size_t n = strtoul(r->body + i, NULL, 16);
        char *eol = strstr(r->body + i, "\r\n");
        ck_assert_ptr_nonnull(eol);
        i = (size_t)(eol - r->body) + 2;
        if (n == 0)
            break;
        ck_assert(i + n + 2 <= r->body_len);
        memcpy(out + o, r->body + i, n);
        o += n;
        i += n + 2;
    }
    out[o] = '\0';
    free(r->body);
    r->body = out;
    r->body_len = o;
}

static void exchange(const char *req, size_t len, struct resp *r)
{
    memset(r, 0, sizeof *r);
    int s = connect_gw();
    ck_assert_int_ge(s, 0);
    ck_assert(write(s, req, len) == (ssize_t)len);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    ssize_t k;
    while ((k = read(s, buf + n, cap - n)) > 0) {
        n += (size_t)k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(buf);
        }
    }
    close(s);
    buf[n] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    ck_assert_msg(end != NULL, "no response head in \"%s\"", buf);
    size_t hl = (size_t)(end - buf);
    ck_assert_uint_lt(hl, sizeof r->head);
    memcpy(r->head, buf, hl);
    r->status = atoi(buf + 9);
    r->body_len = n - hl - 4;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, end + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
    if (strstr(r->head, "\r\nTransfer-Encoding: chunked"))
        dechunk(r);
}

static void get(const char *target, struct resp *r)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target);
    exchange(req, (size_t)n, r);
}

START_TEST(test_proxy_pass)
{
    struct resp r;
    get("/app/x.php/extra?size=5000", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 5000);
    for (size_t i = 0; i < 5000; i++)
        ck_assert_msg((unsigned char)r.body[i] == app_pattern_byte(i), "byte %zu", i);
    ck_assert_ptr_nonnull(strstr(r.head, "\r\nX-Fcgi-Role: RESPONDER"));
    free(r.body);
    /* the environment Apache would send */
    get("/app/x.php/extra?a=1", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\nSCRIPT_FILENAME=proxy:fcgi://127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(r.body, "/srv/app/x.php/extra\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nQUERY_STRING=a=1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nREQUEST_URI=/app/x.php/extra?a=1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nSERVER_PROTOCOL=HTTP/1.1\n"));
    free(r.body);
    /* SetEnv is sent; SetEnvIf chooses the PATH_INFO strategy, as in Apache */
    get("/pi/a.php/extra/path?z=1", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "APP_ENV=test\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nSCRIPT_NAME=/pi/a.php\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nPATH_INFO=/extra/path\n"));
    free(r.body);
    get("/app/a.php/extra", &r); /* no SetEnvIf match: no PATH_INFO */
    ck_assert_ptr_null(strstr(r.body, "\nPATH_INFO="));
    free(r.body);
    get("/nothing/here", &r);
    ck_assert_int_eq(r.status, 404);
    free(r.body);
}
END_TEST

static char *slurp_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s missing", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(test_logs)
{
    /* STDERR of the application goes to ErrorLog with the request and the
     * backend, never into the response; every request has its access line. */
    char req[] = "GET /app/l.php?stderr=oops+from+app&size=4 HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n"
                 "Connection: close\r\n\r\n";
    struct resp r;
    exchange(req, sizeof req - 1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 4);
    free(r.body);
    get("/nothing/logged", &r);
    free(r.body);
    usleep(100000);
    const char *err = slurp_file("error.log");
    ck_assert_msg(strstr(err, "[proxy_fcgi:error]") && strstr(err, "GET /app/l.php?stderr=oops+from+app&size=4") &&
                      strstr(err, ": oops from app"),
                  "%s", err);
    const char *acc = slurp_file("access.log");
    ck_assert_msg(strstr(acc, "127.0.0.1 GET /app/l.php?stderr=oops+from+app&size=4 200 4 \"t/1\"\n") != NULL, "%s",
                  acc);
    /* the error page ("404 Not Found\n") counts in %b */
    ck_assert_msg(strstr(acc, "127.0.0.1 GET /nothing/logged 404 14 \"-\"\n") != NULL, "%s", acc);
}
END_TEST

START_TEST(test_bodies)
{
    struct resp r;
    static const char post[] = "POST /app/p.php?echo=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                               "Content-Length: 11\r\n\r\nhello world";
    exchange(post, sizeof post - 1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello world");
    free(r.body);
    /* chunked: spooled so CONTENT_LENGTH can be sent */
    static const char chunked[] = "POST /app/p.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    exchange(chunked, sizeof chunked - 1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\nCONTENT_LENGTH=11\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nSTDIN-BYTES=11\n"));
    free(r.body);
    /* 100-continue, HEAD */
    static const char cont[] = "POST /app/p.php?echo=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                               "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
    exchange(cont, sizeof cont - 1, &r);
    ck_assert_int_eq(r.status, 100);
    ck_assert_ptr_nonnull(strstr(r.body, "HTTP/1.1 200 OK"));
    free(r.body);
    static const char head[] = "HEAD /app/h.php?size=100 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    exchange(head, sizeof head - 1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    free(r.body);
}
END_TEST

START_TEST(test_errors)
{
    static const struct {
        const char *target;
        int status;
    } cases[] = {
        {"/h/a.php?do=out=Status:%20100\\r\\n\\r\\nStatus:%20200\\r\\n\\r\\nx;outeof;end", 502},
        {"/h/a.php?do=out=BAD;outeof;end", 502},
        {"/h/a.php?do=end", 502},
        {"/h/a.php?do=out=Bad%20Line\\r\\n\\r\\n;hang", 502},
        {"/h/a.php?do=out=Status:%20600\\r\\n\\r\\n;outeof;end", 502},
        {"/h/a.php?do=end=0,2", 503},
        {"/h/a.php?do=end=0,1", 502},
        {"/h/a.php?do=close", 502},
        {"/down/a.php", 503},
        {"/slow/a.php?sleep_ms=3000", 504},
        {"/h/a.php?do=out=Status:%20201\\r\\nX-A:%201\\r\\n\\r\\nmade;outeof;end", 201},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        get(cases[i].target, &r);
        ck_assert_msg(r.status == cases[i].status, "%s: %d", cases[i].target, r.status);
        free(r.body);
    }
    /* Bytes already sent, then the application breaks: the client sees a
     * truncated chunked body (no final chunk), never a clean end. */
    struct resp r;
    memset(&r, 0, sizeof r);
    int s = connect_gw();
    static const char q[] = "GET /h/a.php?do=out=Status:%20200\\r\\n\\r\\npartial;close HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert(write(s, q, sizeof q - 1) == (ssize_t)(sizeof q - 1));
    char buf[4096];
    size_t n = 0;
    ssize_t k;
    while ((k = read(s, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(s);
    ck_assert_ptr_nonnull(strstr(buf, "partial"));
    ck_assert_ptr_null(strstr(buf, "\r\n0\r\n\r\n"));
}
END_TEST

START_TEST(test_php)
{
    if (php == NULL)
        return; /* no php-fpm on this machine */
    struct resp r;
    get("/env.php/tail?x=1", &r);
    ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "SCRIPT_NAME"));
    free(r.body);
    get("/missing.php", &r);
    ck_assert_int_eq(r.status, 404);
    free(r.body);
}
END_TEST

START_TEST(test_check_config)
{
    char path[256], out[2048];
    snprintf(path, sizeof path, "%s/bad.conf", dir);
    write_file(path, "Listen 127.0.0.1:1\nRewriteEngine On\n");
    const char *args[] = {"-t", "-f", path, NULL};
    ck_assert_int_eq(run_gw(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "bad.conf:2: ") != NULL && strstr(out, "ProxyPassMatch") != NULL, "%s", out);
    snprintf(path, sizeof path, "%s/gw.conf", dir);
    ck_assert_int_eq(run_gw(args, out, sizeof out), 0);
    ck_assert_str_eq(out, "Syntax OK\n");
    const char *help[] = {"--help", NULL};
    ck_assert_int_eq(run_gw(help, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "-f FILE"));
}
END_TEST

/* Poll until `target` answers `status` (a reload takes effect soon, not at once). */
static int wait_status(const char *target, int status)
{
    for (int i = 0; i < 200; i++) {
        struct resp r;
        get(target, &r);
        free(r.body);
        if (r.status == status)
            return 1;
        usleep(50000);
    }
    return 0;
}

START_TEST(test_reload)
{
    char path[256];
    snprintf(path, sizeof path, "%s/gw.conf", dir);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ProxyPass \"/added/\" \"fcgi://127.0.0.1:%d/srv/added/\"\n", echo->port);
    fclose(f);
    struct resp r;
    get("/added/a.php", &r);
    ck_assert_int_eq(r.status, 404);
    free(r.body);
    /* a request in flight across the reload is finished by the old threads */
    int s = connect_gw();
    ck_assert_int_ge(s, 0);
    static const char q[] = "GET /app/a.php?sleep_ms=700&size=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert(write(s, q, sizeof q - 1) == (ssize_t)(sizeof q - 1));
    usleep(100000);
    ck_assert_int_eq(kill(gw_pid, SIGHUP), 0);
    ck_assert_msg(wait_status("/added/a.php", 200), "the reloaded mapping never answered");
    char buf[2048];
    ssize_t k, n = 0;
    while ((k = read(s, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += k;
    buf[n] = '\0';
    close(s);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
    /* a configuration with an error changes nothing */
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("RewriteEngine On\n", f);
    fclose(f);
    ck_assert_int_eq(kill(gw_pid, SIGHUP), 0);
    usleep(300000);
    get("/added/a.php", &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

int main(void)
{
    if (getenv(GW_EXE_ENV) == NULL) {
        fprintf(stderr, "%s is not set\n", GW_EXE_ENV);
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("gateway");
    TCase *tc = tcase_create("end-to-end");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, start_gateway, stop_gateway);
    tcase_add_test(tc, test_proxy_pass);
    tcase_add_test(tc, test_bodies);
    tcase_add_test(tc, test_logs);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_php);
    tcase_add_test(tc, test_check_config);
    tcase_add_test(tc, test_reload);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
