/* minimal_gateway end to end for the per-directory directives Apache
 * configurations use: <Directory>, <DirectoryMatch>, <If>/<ElseIf>/<Else>,
 * Require and its containers, Header, RequestHeader, ErrorDocument,
 * ProxyErrorOverride and the LimitRequest* limits. The test writes a
 * DocumentRoot and a configuration, starts app-echo (which lists the params
 * it got as its body) and the gateway, and speaks raw HTTP to it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app-common.h"
#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

static struct harness_app *echo;
static struct gwt_gateway gw;

/* text into the gateway's dir/name */
static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", gw.dir, name);
    ck_assert_int_eq(gwt_write_file(path, text, strlen(text)), 0);
}

/* The DocumentRoot: dir/www. */
static void docroot(void)
{
    static const char *const dirs[] = {"www",        "www/x",      "www/y",   "www/dm",
                                       "www/denied", "www/errors", "www/app", "www/h"};
    static const char *const files[] = {"www/index.html", "www/x/index.php",  "www/x/a.php",     "www/y/a.php",
                                        "www/dm/a.php",   "www/denied/a.php", "www/y/page.html", "www/h/run.cgi",
                                        "www/h/index.php"};
    char path[512];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", gw.dir, dirs[i]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        write_file(files[i], "<?php\n");
    write_file("www/errors/404.html", "<p>our own 404</p>\n");
}

static const char conf_fmt[] =
    "ServerName localhost\n"
    "Threads 1\n"
    "ErrorLog error.log\n"
    "DocumentRoot \"%s/www\"\n"
    "DirectoryIndex index.php index.html\n"
    "LimitRequestLine 300\n"
    "LimitRequestFieldSize 200\n"
    "LimitRequestFields 20\n"
    "Header always set X-Always yes\n"
    "Header set X-Server-Hdr s\n"
    "RequestHeader unset Proxy early\n"
    "RequestHeader set X-Early e early\n"
    "<If \"%%{HTTP:X-Early} == 'e'\">\n"
    "    SetEnv SAW_EARLY 1\n"
    "</If>\n"
    "RequestHeader set X-Added added\n"
    "RequestHeader unset X-Drop\n"
    "RequestHeader append X-List two\n"
    "RequestHeader edit* X-Ed o(.) \"0$1\"\n"
    "RequestHeader edit X-Ed1 o 0\n"
    "RequestHeader setifempty X-Set set\n"
    "RequestHeader setifempty X-Kept set\n"
    "ErrorDocument 403 \"Go away\"\n"
    "SetEnv FROM_SETENV 1\n"
    "SetEnvIf Request_URI \"^/app/m\" FROM_SETENVIF=yes\n"
    "<Directory \"%s/www\">\n"
    "    Options -Indexes +FollowSymLinks\n"
    "    AllowOverride None\n"
    "    Require all granted\n"
    "</Directory>\n"
    "<Directory \"%s/www/x/\">\n"
    "    ProxyFCGIBackendType GENERIC\n"
    "</Directory>\n"
    "<DirectoryMatch \"^%s/www/d[a-z]/\">\n"
    "    SetEnv DIRMATCH yes\n"
    "    <Files \"a.php\">\n"
    "        SetEnv NESTED yes\n"
    "    </Files>\n"
    "</DirectoryMatch>\n"
    "<Directory \"%s/www/app\">\n"
    "    Require all denied\n"
    "</Directory>\n"
    "<Directory \"%s/www/denied\">\n"
    "    Require all denied\n"
    "</Directory>\n"
    "<FilesMatch \"\\.php$\">\n"
    "    <If \"-f %%{REQUEST_FILENAME}\">\n"
    "        SetHandler \"proxy:fcgi://127.0.0.1:%d\"\n"
    "    </If>\n"
    "</FilesMatch>\n"
    "<If \"%%{HTTP:X-Mode} == 'a' && %%{SERVER_NAME} == 'localhost' && %%{SERVER_PORT} == '80'\">\n"
    "    SetEnv MODE a\n"
    "</If>\n"
    "<ElseIf \"%%{HTTP:X-Mode} == 'b'\">\n"
    "    SetEnv MODE b\n"
    "</ElseIf>\n"
    "<Else>\n"
    "    SetEnv MODE other\n"
    "</Else>\n"
    "ProxyPass \"/app/\" \"fcgi://127.0.0.1:%d/srv/app/\"\n"
    "<Location \"/app/private/\">\n"
    "    <RequireAll>\n"
    "        Require all granted\n"
    "        Require not ip 127.0.0.1\n"
    "    </RequireAll>\n"
    "</Location>\n"
    "<Location \"/app/plain403/\">\n"
    "    Require all denied\n"
    "    ErrorDocument 403 default\n"
    "</Location>\n"
    "<Location \"/app/local/\">\n"
    "    Require ip 127.0.0 ::1\n"
    "</Location>\n"
    "<Location \"/app/other/\">\n"
    "    Require ip 10.0.0.0/8 192.168.1\n"
    "</Location>\n"
    "<Location \"/app/any/\">\n"
    "    <RequireAny>\n"
    "        Require ip 10.1\n"
    "        <RequireNone>\n"
    "            Require method POST\n"
    "        </RequireNone>\n"
    "    </RequireAny>\n"
    "</Location>\n"
    "<Location \"/app/h/\">\n"
    "    Header set X-Loc loc\n"
    "    Header append X-Multi three\n"
    "    Header merge X-Multi two\n"
    "    Header merge X-Multi one\n"
    "    Header unset X-Pid\n"
    "    Header edit X-Fcgi-Role ^RESP(.*)$ resp$1\n"
    "</Location>\n"
    "<Location \"/app/ov/\">\n"
    "    ProxyErrorOverride On\n"
    "</Location>\n"
    "<Location \"/app/ovtext/\">\n"
    "    ProxyErrorOverride On 404\n"
    "    ErrorDocument 404 \"Nothing here\"\n"
    "</Location>\n"
    "<Location \"/app/ovfile/\">\n"
    "    ProxyErrorOverride On\n"
    "    ErrorDocument 404 /errors/404.html\n"
    "</Location>\n"
    "<Location \"/app/ovurl/\">\n"
    "    ProxyErrorOverride On\n"
    "    ErrorDocument 502 http://example.com/down\n"
    "</Location>\n"
    "<Location \"/app/small/\">\n"
    "    LimitRequestBody 10\n"
    "</Location>\n"
    "<Directory \"%s/www/h\">\n"
    "    SetHandler \"proxy:fcgi://127.0.0.1:%d\"\n"
    "</Directory>\n";

static void start_gateway(void)
{
    ck_assert_int_eq(gwt_gateway_init(&gw), 0);
    docroot();
    static const char *const echo_args[] = {"-t", "4", NULL};
    ck_assert_int_eq(harness_app_start(&echo, HARNESS_TCP, "app-echo", echo_args), 0);
    char conf[8192], path[512];
    const char *d = gw.dir;
    snprintf(conf, sizeof conf, conf_fmt, d, d, d, d, d, d, echo->port, echo->port, d, echo->port);
    ck_assert_int_eq(gwt_gateway_write_conf(&gw, conf), 0);
    /* the shim records the gateway's stat(2) calls under www/h (test_one_walk) */
    gw.preload = getenv("GW_SHIM");
    ck_assert_msg(gw.preload != NULL, "GW_SHIM is not set (run the test with meson)");
    snprintf(path, sizeof path, "%s/www/h", d);
    setenv("GW_STAT_SHIM_PREFIX", path, 1);
    snprintf(path, sizeof path, "%s/stat.log", d);
    setenv("GW_STAT_SHIM_FILE", path, 1);
    int rc = gwt_gateway_run(&gw);
    ck_assert_msg(rc == 0, "minimal_gateway did not start listening: %d", rc);
}

static void stop_gateway(void)
{
    int rc = gwt_gateway_stop(&gw);
    harness_app_stop(echo);
    echo = NULL;
    ck_assert_msg(rc == 0, "minimal_gateway exited with %d", rc);
}

/* One exchange: send `req` whole, read until the server closes. */
static void exchange(const char *req, size_t len, struct gwt_resp *r)
{
    int rc = gwt_exchange(gw.port, req, len, true, r);
    ck_assert_msg(rc == 0, "exchange failed (%d): \"%s\"", rc, r->body);
}

/* GET target with extra header lines ("" for none). */
static void get_h(const char *target, const char *headers, struct gwt_resp *r)
{
    int rc = gwt_get(gw.port, target, headers, true, r);
    ck_assert_msg(rc == 0, "GET %s failed (%d): \"%s\"", target, rc, r->body);
}

static void get(const char *target, struct gwt_resp *r)
{
    get_h(target, "", r);
}

static void has(const struct gwt_resp *r, const char *where, const char *text)
{
    ck_assert_msg(strstr(where, text) != NULL, "\"%s\" not in:\n%s\n\n%s", text, r->head, r->body);
}

static void lacks(const struct gwt_resp *r, const char *where, const char *text)
{
    ck_assert_msg(strstr(where, text) == NULL, "\"%s\" in:\n%s\n\n%s", text, r->head, r->body);
}

START_TEST(test_directory)
{
    struct gwt_resp r;
    char want[512];
    /* <Directory www/x> makes the backend GENERIC: SCRIPT_FILENAME is the plain path */
    get("/x/a.php", &r);
    ck_assert_int_eq(r.status, 200);
    snprintf(want, sizeof want, "\nSCRIPT_FILENAME=%s/www/x/a.php\n", gw.dir);
    has(&r, r.body, want);
    lacks(&r, r.body, "DIRMATCH=");
    free(r.body);
    /* elsewhere FPM, the default */
    get("/y/a.php", &r);
    ck_assert_int_eq(r.status, 200);
    snprintf(want, sizeof want, "\nSCRIPT_FILENAME=proxy:fcgi://127.0.0.1:%d%s/www/y/a.php\n", echo->port, gw.dir);
    has(&r, r.body, want);
    free(r.body);
    /* DirectoryIndex: the directory's index.php, still under <Directory www/x> */
    get("/x/", &r);
    ck_assert_int_eq(r.status, 200);
    has(&r, r.body, "\nSCRIPT_NAME=/x/index.php\n");
    snprintf(want, sizeof want, "\nSCRIPT_FILENAME=%s/www/x/index.php\n", gw.dir);
    has(&r, r.body, want);
    free(r.body);
    /* <DirectoryMatch> */
    get("/dm/a.php", &r);
    ck_assert_int_eq(r.status, 200);
    has(&r, r.body, "DIRMATCH=yes\n");
    has(&r, r.body, "NESTED=yes\n"); /* <Files> inside the <DirectoryMatch> */
    free(r.body);
    get("/y/a.php", &r); /* the same base name elsewhere */
    lacks(&r, r.body, "NESTED=");
    free(r.body);
    /* Require all denied in a <Directory>: 403 with the ErrorDocument text and Header always */
    get("/denied/a.php", &r);
    ck_assert_int_eq(r.status, 403);
    ck_assert_str_eq(r.body, "Go away");
    has(&r, r.head, "\r\nX-Always: yes");
    lacks(&r, r.head, "X-Server-Hdr");
    free(r.body);
}
END_TEST

START_TEST(test_if)
{
    struct gwt_resp r;
    /* <If "-f %{REQUEST_FILENAME}"> around SetHandler: a missing script is 404 */
    get("/x/missing.php", &r);
    ck_assert_int_eq(r.status, 404);
    free(r.body);
    get("/y/page.html", &r); /* not .php: no handler */
    ck_assert_int_eq(r.status, 404);
    free(r.body);
    /* <If>/<ElseIf>/<Else> at server level, on a ProxyPass request */
    get_h("/app/m", "X-Mode: a\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    has(&r, r.body, "MODE=a\n");
    has(&r, r.body, "FROM_SETENV=1\n"); /* SetEnv and SetEnvIf still there after the branch */
    has(&r, r.body, "FROM_SETENVIF=yes\n");
    free(r.body);
    /* SERVER_NAME is the Host's name lower-cased, SERVER_PORT its port */
    static const char up[] = "GET /app/m HTTP/1.1\r\nHost: LocalHost:80\r\nX-Mode: a\r\nConnection: close\r\n\r\n";
    exchange(up, sizeof up - 1, &r);
    has(&r, r.body, "MODE=a\n");
    free(r.body);
    static const char p81[] = "GET /app/m HTTP/1.1\r\nHost: localhost:81\r\nX-Mode: a\r\nConnection: close\r\n\r\n";
    exchange(p81, sizeof p81 - 1, &r);
    has(&r, r.body, "MODE=other\n");
    free(r.body);
    get_h("/app/m", "X-Mode: b\r\n", &r);
    has(&r, r.body, "MODE=b\n");
    free(r.body);
    get("/app/m", &r);
    has(&r, r.body, "MODE=other\n");
    free(r.body);
    /* and on a SetHandler request */
    get_h("/y/a.php", "X-Mode: b\r\n", &r);
    has(&r, r.body, "MODE=b\n");
    free(r.body);
}
END_TEST

START_TEST(test_require)
{
    struct gwt_resp r;
    get("/app/private/x", &r); /* RequireAll: all granted, not ip 127.0.0.1 */
    ck_assert_int_eq(r.status, 403);
    ck_assert_str_eq(r.body, "Go away");
    free(r.body);
    get("/app/plain403/x", &r); /* ErrorDocument 403 default: the built-in answer again */
    ck_assert_int_eq(r.status, 403);
    ck_assert_str_eq(r.body, "403 Forbidden\n");
    has(&r, r.head, "\r\nX-Always: yes\r\n");
    free(r.body);
    get("/app/local/x", &r); /* partial address 127.0.0 */
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    get("/app/other/x", &r);
    ck_assert_int_eq(r.status, 403);
    free(r.body);
    get("/app/any/x", &r); /* RequireNone never grants: denied */
    ck_assert_int_eq(r.status, 403);
    free(r.body);
    /* a ProxyPass URI is no file: <Directory www/app> (Require all denied) does not apply */
    get("/app/x", &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

START_TEST(test_request_header)
{
    struct gwt_resp r;
    get_h("/app/r", "X-Drop: 1\r\nX-List: one\r\nX-Ed: foooox\r\nX-Ed1: fooxo\r\nX-Kept: mine\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    has(&r, r.body, "\nHTTP_X_ADDED=added\n");
    has(&r, r.body, "\nHTTP_X_LIST=one, two\n");
    has(&r, r.body, "\nHTTP_X_ED=f0o0ox\n"); /* edit*: every match, with $1 */
    has(&r, r.body, "\nHTTP_X_ED1=f0oxo\n"); /* edit: the first only */
    has(&r, r.body, "\nHTTP_X_SET=set\n");
    has(&r, r.body, "\nHTTP_X_KEPT=mine\n");
    has(&r, r.body, "\nHTTP_X_EARLY=e\n"); /* early: before <If> looked at the headers */
    has(&r, r.body, "SAW_EARLY=1\n");
    lacks(&r, r.body, "HTTP_X_DROP");
    free(r.body);
}
END_TEST

START_TEST(test_header)
{
    struct gwt_resp r;
    get("/app/h/x?header=X-Multi:two", &r);
    ck_assert_int_eq(r.status, 200);
    has(&r, r.head, "\r\nX-Loc: loc");
    has(&r, r.head, "\r\nX-Multi: two, three, one\r\n");
    has(&r, r.head, "\r\nX-Fcgi-Role: respONDER\r\n");
    has(&r, r.head, "\r\nX-Always: yes\r\n");
    has(&r, r.head, "\r\nX-Server-Hdr: s\r\n");
    lacks(&r, r.head, "X-Pid");
    free(r.body);
    get("/app/x", &r);
    has(&r, r.head, "\r\nX-Pid: ");
    lacks(&r, r.head, "X-Loc");
    free(r.body);
}
END_TEST

START_TEST(test_error_override)
{
    struct gwt_resp r;
    /* the backend's 404 is replaced by Apache's own page */
    get("/app/ov/x?status=404", &r);
    ck_assert_int_eq(r.status, 404);
    has(&r, r.body, "<title>404 Not Found</title>");
    has(&r, r.body, "<p>The requested URL was not found on this server.</p>");
    lacks(&r, r.body, "SCRIPT_NAME");
    has(&r, r.head, "\r\nContent-Type: text/html; charset=iso-8859-1\r\n");
    free(r.body);
    get("/app/ov/x?status=200", &r); /* success passes */
    ck_assert_int_eq(r.status, 200);
    has(&r, r.body, "SCRIPT_NAME=");
    free(r.body);
    /* ErrorDocument text, limited to 404 */
    get("/app/ovtext/x?status=404", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.body, "Nothing here");
    free(r.body);
    get("/app/ovtext/x?status=500", &r);
    ck_assert_int_eq(r.status, 500);
    has(&r, r.body, "SCRIPT_NAME=");
    free(r.body);
    /* ErrorDocument file under DocumentRoot */
    get("/app/ovfile/x?status=404", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.body, "<p>our own 404</p>\n");
    has(&r, r.head, "\r\nContent-Type: text/html\r\n");
    free(r.body);
    /* ErrorDocument URL: a redirect */
    get("/app/ovurl/x?status=502", &r);
    ck_assert_int_eq(r.status, 302);
    has(&r, r.head, "\r\nLocation: http://example.com/down\r\n");
    free(r.body);
}
END_TEST

START_TEST(test_limits)
{
    struct gwt_resp r;
    char target[400];
    memset(target, 'a', sizeof target - 1);
    target[0] = '/';
    target[sizeof target - 1] = '\0';
    get(target, &r); /* request line over LimitRequestLine 300 */
    ck_assert_int_eq(r.status, 414);
    free(r.body);
    char big[300];
    memset(big, 'v', sizeof big);
    memcpy(big, "X-Big: ", 7);
    memcpy(big + sizeof big - 3, "\r\n", 3);
    get_h("/app/x", big, &r); /* a field over LimitRequestFieldSize 200: 400 as in Apache */
    ck_assert_int_eq(r.status, 400);
    free(r.body);
    char many[1024] = "";
    for (int i = 0; i < 25; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "X-F%d: %d\r\n", i, i);
    get_h("/app/x", many, &r); /* over LimitRequestFields 20 */
    ck_assert_int_eq(r.status, 400);
    free(r.body);
    static const char post[] = "POST /app/small/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                               "Content-Length: 11\r\n\r\nhello world";
    exchange(post, sizeof post - 1, &r);
    ck_assert_int_eq(r.status, 413);
    free(r.body);
    static const char ok[] = "POST /app/small/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                             "Content-Length: 10\r\n\r\nhelloworld";
    exchange(ok, sizeof ok - 1, &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
}
END_TEST

/* What the shim recorded since the last call (the log is emptied). */
static char *stat_log(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stat.log", gw.dir);
    char *text = gwt_slurp(path, NULL);
    unlink(path);
    return text ? text : strdup("");
}

/* A SetHandler request looks its file up once, as Apache does: the
 * environment builder's walk (SCRIPT_FILENAME, PATH_INFO, DirectoryIndex)
 * is answered from the stat(2) results of the walk that chose the handler. */
START_TEST(test_one_walk)
{
    static const struct {
        const char *target, *script, *path_info, *stats; /* stats: under www/, one per line */
    } cases[] = {
        {"/h/run.cgi/extra/path", "h/run.cgi", "/extra/path", "h\nh/run.cgi\n"},
        {"/h/run.cgi", "h/run.cgi", NULL, "h\nh/run.cgi\n"},
        /* the first DirectoryIndex name; <FilesMatch "\.php$"> tests it with
         * <If "-f ...">, a stat(2) of its own (Apache's -f makes one too) */
        {"/h/", "h/index.php", NULL, "h\nh/index.php\nh/index.php\n"},
    };
    struct gwt_resp r;
    char want[1024], line[600];
    free(stat_log());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        get(cases[i].target, &r);
        ck_assert_int_eq(r.status, 200);
        snprintf(want, sizeof want, "\nSCRIPT_FILENAME=proxy:fcgi://127.0.0.1:%d%s/www/%s\n", echo->port, gw.dir,
                 cases[i].script);
        has(&r, r.body, want);
        if (cases[i].path_info) {
            snprintf(want, sizeof want, "\nPATH_INFO=%s\n", cases[i].path_info);
            has(&r, r.body, want);
        } else {
            lacks(&r, r.body, "\nPATH_INFO=");
        }
        free(r.body);
        want[0] = '\0';
        for (const char *p = cases[i].stats; *p;) {
            const char *nl = strchr(p, '\n');
            snprintf(line, sizeof line, "stat %s/www/%.*s\n", gw.dir, (int)(nl - p), p);
            strncat(want, line, sizeof want - strlen(want) - 1);
            p = nl + 1;
        }
        char *log = stat_log();
        ck_assert_msg(strcmp(log, want) == 0, "%s: stat(2) calls\n%swant\n%s", cases[i].target, log, want);
        free(log);
    }
}
END_TEST

/* -t names the file and line of a bad argument. */
START_TEST(test_check_config)
{
    static const struct {
        const char *text;
        unsigned line;
        const char *message;
    } bad[] = {
        {"<If \"%{HTTP_HOST} ==\">\n</If>\n", 2, "Cannot parse condition clause"},
        {"<Location /a>\nRequire ip 300.1.1.1\n</Location>\n", 3, "ip address '300.1.1.1' appears to be invalid"},
        {"Header frob X 1\n", 2, "first argument must be"},
        {"RewriteRule ^/(.*)$ fcgi://127.0.0.1:9000/$1 [P]\n", 2, "use ProxyPassMatch"},
        {"ErrorDocument 200 oops\n", 2, "Unsupported HTTP response code 200"},
    };
    char path[256], text[512], *out, want[300];
    snprintf(path, sizeof path, "%s/bad.conf", gw.dir);
    const char *args[] = {"-t", "-f", path, NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "Listen 127.0.0.1:1\n%s", bad[i].text);
        write_file("bad.conf", text);
        ck_assert_int_eq(gwt_gateway_cmd(args, &out), 1);
        snprintf(want, sizeof want, "bad.conf:%u: ", bad[i].line);
        ck_assert_msg(strstr(out, want) != NULL && strstr(out, bad[i].message) != NULL, "%s", out);
        free(out);
    }
    args[2] = gw.conf_path;
    ck_assert_int_eq(gwt_gateway_cmd(args, &out), 0);
    ck_assert_str_eq(out, "Syntax OK\n");
    free(out);
}
END_TEST

int main(void)
{
    if (!gwt_have_gateway())
        return EXIT_FAILURE;
    Suite *s = suite_create("gw-directives");
    TCase *tc = tcase_create("end-to-end");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, start_gateway, stop_gateway);
    tcase_add_test(tc, test_directory);
    tcase_add_test(tc, test_if);
    tcase_add_test(tc, test_require);
    tcase_add_test(tc, test_request_header);
    tcase_add_test(tc, test_header);
    tcase_add_test(tc, test_error_override);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_check_config);
    tcase_add_test(tc, test_one_walk);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}
