/* minimal_gateway end to end: the program started with a configuration the
 * test writes, in front of real FastCGI applications the test starts
 * (app-echo, app-hostile, PHP-FPM), spoken to over real sockets with raw
 * HTTP bytes. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app-common.h"
#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

static struct harness_app *echo, *echo_unix, *hostile, *php;
static struct gwt_gateway gw;

static void start_gateway(void)
{
    static const char *const echo_args[] = {"-t", "8", NULL};
    ck_assert_int_eq(harness_app_start(&echo, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&echo_unix, HARNESS_UNIX, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&hostile, HARNESS_UNIX, "app-hostile", NULL), 0);
    int have_php = harness_php_start(&php, HARNESS_UNIX, 4) == 0;
    int dead = gwt_free_port();
    ck_assert_int_gt(dead, 0);
    char conf[4096];
    int n = snprintf(conf, sizeof conf,
                     "# written by test-gateway\n"
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
                     "ProxyPass \"/down/\" \"fcgi://127.0.0.1:%d/srv/down/\"\n"
                     "<Proxy \"balancer://tu\">\n"
                     "    BalancerMember \"fcgi://127.0.0.1:%d\"\n"
                     "    BalancerMember \"unix:%s|fcgi://localhost\"\n"
                     "</Proxy>\n"
                     "<Proxy \"balancer://ut\">\n"
                     "    BalancerMember \"unix:%s|fcgi://localhost\"\n"
                     "    BalancerMember \"fcgi://127.0.0.1:%d\"\n"
                     "</Proxy>\n"
                     "ProxyPass \"/tu/\" \"balancer://tu/srv/b/\"\n"
                     "ProxyPass \"/ut/\" \"balancer://ut/srv/b/\"\n",
                     echo->port, echo->port, echo->port, hostile->path, dead, echo->port, echo_unix->path,
                     echo_unix->path, echo->port);
    if (have_php)
        snprintf(conf + n, sizeof conf - (size_t)n,
                 "DocumentRoot \"%s\"\n"
                 "<FilesMatch \"\\.php$\">\n"
                 "    SetHandler \"proxy:unix:%s|fcgi://localhost/\"\n"
                 "</FilesMatch>\n",
                 php->docroot, php->path);
    int rc = gwt_gateway_start(&gw, conf);
    ck_assert_msg(rc == 0, "minimal_gateway did not start listening: %d", rc);
}

static void stop_gateway(void)
{
    int rc = gwt_gateway_stop(&gw);
    harness_app_stop(echo);
    harness_app_stop(echo_unix);
    harness_app_stop(hostile);
    harness_app_stop(php);
    echo = echo_unix = hostile = php = NULL;
    ck_assert_msg(rc == 0, "minimal_gateway exited with %d", rc);
}

/* One exchange: send `req` whole, read until the server closes. */
static void exchange(const char *req, size_t len, struct gwt_resp *r)
{
    int rc = gwt_exchange(gw.port, req, len, true, r);
    ck_assert_msg(rc == 0, "exchange failed (%d): \"%s\"", rc, r->body);
}

static void get(const char *target, struct gwt_resp *r)
{
    int rc = gwt_get(gw.port, target, "", true, r);
    ck_assert_msg(rc == 0, "GET %s failed (%d): \"%s\"", target, rc, r->body);
}

START_TEST(test_proxy_pass)
{
    struct gwt_resp r;
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

/* Balancers of a TCP and a unix-socket member, in both orders: each member
 * is named as Apache names it (the fcgi:// URL, without "unix:...|") in
 * SCRIPT_FILENAME and BALANCER_WORKER_NAME, whichever member is first. */
START_TEST(test_balancer_names)
{
    char tcp[64], want_tcp[128];
    snprintf(tcp, sizeof tcp, "fcgi://127.0.0.1:%d", echo->port);
    snprintf(want_tcp, sizeof want_tcp, "\nSCRIPT_FILENAME=proxy:%s/srv/b/x.php\n", tcp);
    static const char *const prefixes[] = {"/tu/", "/ut/"};
    for (size_t k = 0; k < 2; k++) {
        int seen_tcp = 0, seen_unix = 0;
        for (int i = 0; i < 4; i++) {
            char target[32], pid[32], name[128];
            snprintf(target, sizeof target, "%sx.php", prefixes[k]);
            struct gwt_resp r;
            get(target, &r);
            ck_assert_int_eq(r.status, 200);
            gwt_header(&r, "X-Pid", pid, sizeof pid);
            const char *wn = strstr(r.body, "\nBALANCER_WORKER_NAME=");
            ck_assert_ptr_nonnull(wn);
            snprintf(name, sizeof name, "%.*s", (int)strcspn(wn + 22, "\n"), wn + 22);
            if (atoi(pid) == (int)echo_unix->pid) {
                seen_unix++;
                ck_assert_str_eq(name, "fcgi://localhost");
                ck_assert_msg(strstr(r.body, "\nSCRIPT_FILENAME=proxy:fcgi://localhost/srv/b/x.php\n") != NULL,
                              "%s: %s", target, r.body);
            } else {
                seen_tcp++;
                ck_assert_int_eq(atoi(pid), (int)echo->pid);
                ck_assert_str_eq(name, tcp);
                ck_assert_msg(strstr(r.body, want_tcp) != NULL, "%s: %s", target, r.body);
            }
            free(r.body);
        }
        ck_assert_int_gt(seen_tcp, 0); /* byrequests takes turns */
        ck_assert_int_gt(seen_unix, 0);
    }
}
END_TEST

/* A file of the gateway's dir, malloc'ed. */
static char *slurp_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", gw.dir, name);
    char *text = gwt_slurp(path, NULL);
    ck_assert_msg(text != NULL, "%s missing", path);
    return text;
}

START_TEST(test_logs)
{
    /* STDERR of the application goes to ErrorLog with the request and the
     * backend, never into the response; every request has its access line. */
    char req[] = "GET /app/l.php?stderr=oops+from+app&size=4 HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n"
                 "Connection: close\r\n\r\n";
    struct gwt_resp r;
    exchange(req, sizeof req - 1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 4);
    free(r.body);
    get("/nothing/logged", &r);
    free(r.body);
    usleep(100000);
    char *err = slurp_file("error.log");
    ck_assert_msg(strstr(err, "[proxy_fcgi:error]") && strstr(err, "GET /app/l.php?stderr=oops+from+app&size=4") &&
                      strstr(err, ": oops from app"),
                  "%s", err);
    free(err);
    char *acc = slurp_file("access.log");
    ck_assert_msg(strstr(acc, "127.0.0.1 GET /app/l.php?stderr=oops+from+app&size=4 200 4 \"t/1\"\n") != NULL, "%s",
                  acc);
    /* the error page ("404 Not Found\n") counts in %b */
    ck_assert_msg(strstr(acc, "127.0.0.1 GET /nothing/logged 404 14 \"-\"\n") != NULL, "%s", acc);
    free(acc);
}
END_TEST

START_TEST(test_bodies)
{
    struct gwt_resp r;
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
        struct gwt_resp r;
        get(cases[i].target, &r);
        ck_assert_msg(r.status == cases[i].status, "%s: %d", cases[i].target, r.status);
        free(r.body);
    }
    /* Bytes already sent, then the application breaks: the client sees a
     * truncated chunked body (no final chunk), never a clean end. */
    int s = gwt_connect(gw.port, 20, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(
        gwt_sends(s, "GET /h/a.php?do=out=Status:%20200\\r\\n\\r\\npartial;close HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    char *buf = gwt_read_all(s, NULL);
    close(s);
    ck_assert_ptr_nonnull(strstr(buf, "partial"));
    ck_assert_ptr_null(strstr(buf, "\r\n0\r\n\r\n"));
    free(buf);
}
END_TEST

START_TEST(test_php)
{
    if (php == NULL)
        return; /* no php-fpm on this machine */
    struct gwt_resp r;
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
    char path[256], *out;
    static const char bad[] = "Listen 127.0.0.1:1\nRewriteEngine On\n";
    snprintf(path, sizeof path, "%s/bad.conf", gw.dir);
    ck_assert_int_eq(gwt_write_file(path, bad, sizeof bad - 1), 0);
    const char *args[] = {"-t", "-f", path, NULL};
    ck_assert_int_eq(gwt_gateway_cmd(args, &out), 1);
    ck_assert_msg(strstr(out, "bad.conf:2: ") != NULL && strstr(out, "ProxyPassMatch") != NULL, "%s", out);
    free(out);
    args[2] = gw.conf_path;
    ck_assert_int_eq(gwt_gateway_cmd(args, &out), 0);
    ck_assert_str_eq(out, "Syntax OK\n");
    free(out);
    const char *help[] = {"--help", NULL};
    ck_assert_int_eq(gwt_gateway_cmd(help, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "-f FILE"));
    free(out);
}
END_TEST

/* Poll until `target` answers `status` (a reload takes effect soon, not at once). */
static int wait_status(const char *target, int status)
{
    for (int i = 0; i < 200; i++) {
        struct gwt_resp r;
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
    FILE *f = fopen(gw.conf_path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ProxyPass \"/added/\" \"fcgi://127.0.0.1:%d/srv/added/\"\n", echo->port);
    fclose(f);
    struct gwt_resp r;
    get("/added/a.php", &r);
    ck_assert_int_eq(r.status, 404);
    free(r.body);
    /* a request in flight across the reload is finished by the old threads */
    int s = gwt_connect(gw.port, 20, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(
        gwt_sends(s, "GET /app/a.php?sleep_ms=700&size=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
    usleep(100000);
    ck_assert_int_eq(kill(gw.pid, SIGHUP), 0);
    ck_assert_msg(wait_status("/added/a.php", 200), "the reloaded mapping never answered");
    char *buf = gwt_read_all(s, NULL);
    close(s);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
    free(buf);
    /* a configuration with an error changes nothing */
    f = fopen(gw.conf_path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("RewriteEngine On\n", f);
    fclose(f);
    ck_assert_int_eq(kill(gw.pid, SIGHUP), 0);
    usleep(300000);
    get("/added/a.php", &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

int main(void)
{
    if (!gwt_have_gateway())
        return EXIT_FAILURE;
    Suite *s = suite_create("gateway");
    TCase *tc = tcase_create("end-to-end");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, start_gateway, stop_gateway);
    tcase_add_test(tc, test_proxy_pass);
    tcase_add_test(tc, test_balancer_names);
    tcase_add_test(tc, test_bodies);
    tcase_add_test(tc, test_logs);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_php);
    tcase_add_test(tc, test_check_config);
    tcase_add_test(tc, test_reload);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
