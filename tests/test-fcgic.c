/* Tests of examples/fcgic: the built binary ($FCGIC_EXE) is run as a
 * subprocess against real applications started with tests/harness.h
 * (app-echo, app-mpx, PHP-FPM), and its --dry-run --json output is compared
 * field by field with the params Apache httpd sent for the shared cases
 * (tests/data/fcgic/apache-cases.txt). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

/* ---- running fcgic ---- */

struct out {
    char *out, *err;
    size_t out_len, err_len;
    int code;
};

static char *slurp(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    ck_assert_ptr_nonnull(b);
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
            ck_assert_ptr_nonnull(b);
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

static const char *exe(void)
{
    const char *e = getenv("FCGIC_EXE");
    ck_assert_msg(e != NULL, "FCGIC_EXE is not set");
    return e;
}

/* Run fcgic with argv (NULL-terminated, without argv[0]); stdin from
 * stdin_path or /dev/null; stdout to stdout_path (then o->out is empty) or
 * captured. */
static void run_to(struct out *o, const char *stdin_path, const char *stdout_path, const char *const *args)
{
    char tout[] = "/tmp/fcgic-t-outXXXXXX", terr[] = "/tmp/fcgic-t-errXXXXXX";
    int fo = mkstemp(tout), fe = mkstemp(terr);
    ck_assert(fo >= 0 && fe >= 0);
    unlink(tout);
    unlink(terr);
    size_t n = 0;
    while (args[n])
        n++;
    /* Under the valgrind test setup, the first fcgic run of each test and
     * every fourth after it run under valgrind too (each run under it costs
     * seconds; the ASan+UBSan stage checks every run for leaks); an error
     * or a leak makes it exit 99, which no assertion accepts. */
    static const char *const vg[] = {"valgrind", "--error-exitcode=99", "--leak-check=full",
                                     "--errors-for-leak-kinds=definite,indirect", "--quiet"};
    static unsigned nruns;
    size_t nvg = getenv("FCGIC_UNDER_VALGRIND") && nruns++ % 4 == 0 ? sizeof vg / sizeof vg[0] : 0;
    const char **argv = calloc(n + nvg + 2, sizeof *argv);
    ck_assert_ptr_nonnull(argv);
    memcpy(argv, vg, nvg * sizeof *argv);
    argv[nvg] = exe();
    memcpy(argv + nvg + 1, args, n * sizeof *argv);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (nvg)
            setenv("FCGIC_NO_JIT", "1", 1);
        int fi = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        if (fi < 0)
            _exit(127);
        dup2(fi, 0);
        if (stdout_path) {
            int fso = open(stdout_path, O_WRONLY);
            if (fso < 0)
                _exit(127);
            dup2(fso, 1);
        } else
            dup2(fo, 1);
        dup2(fe, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    free(argv);
    ck_assert_msg(WIFEXITED(st), "fcgic did not exit normally (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    o->code = WEXITSTATUS(st);
    o->out = slurp(fo, &o->out_len);
    o->err = slurp(fe, &o->err_len);
    close(fo);
    close(fe);
}

static void run(struct out *o, const char *stdin_path, const char *const *args)
{
    run_to(o, stdin_path, NULL, args);
}

static void out_free(struct out *o)
{
    free(o->out);
    free(o->err);
}

#define RUN(o, ...)                                                   \
    do {                                                              \
        const char *a_[] = {__VA_ARGS__, NULL};                       \
        run((o), NULL, a_);                                           \
    } while (0)

static void expect_line(const struct out *o, const char *line)
{
    size_t n = strlen(line);
    char *pat = malloc(n + 3);
    ck_assert_ptr_nonnull(pat);
    snprintf(pat, n + 3, "\n%s\n", line);
    int first = strncmp(o->out, line, n) == 0 && (o->out[n] == '\n' || o->out[n] == '\0');
    ck_assert_msg(first || strstr(o->out, pat) != NULL,
                  "line \"%s\" not in output:\n%s", line, o->out);
    free(pat);
}

static void expect_no_line_prefix(const struct out *o, const char *prefix)
{
    size_t n = strlen(prefix);
    char *pat = malloc(n + 2);
    ck_assert_ptr_nonnull(pat);
    snprintf(pat, n + 2, "\n%s", prefix);
    ck_assert_msg(strncmp(o->out, prefix, strlen(prefix)) != 0 && strstr(o->out, pat) == NULL,
                  "unexpected \"%s\" in output:\n%s", prefix, o->out);
    free(pat);
}

/* ---- usage errors ---- */

START_TEST(test_usage)
{
    struct out o;
    static const char *const cases[][6] = {
        {"fcgi://127.0.0.1:9000/", NULL},                           /* missing URL */
        {"--frobnicate", "fcgi://127.0.0.1:9000/", "http://h/", NULL}, /* unknown option */
        {"fcgi://127.0.0.1:9000/", "ftp://h/x", NULL},                 /* bad URL scheme */
        {"fcgi://127.0.0.1:9000/", "http://h:99999/x", NULL},          /* bad URL port */
        {"fcgi://127.0.0.1:9000/", "http://h/a b", NULL},              /* space in URL */
        {"http://127.0.0.1:9000/", "http://h/x", NULL},                /* bad backend */
        {"fcgi://127.0.0.1/", "http://h/x", NULL},                     /* backend without port */
        {"-H", "no colon", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--max-time", "soon", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--role", "boss", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--backend-type", "PHP", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--setenvif", "%{HTTP_HOST} ==", "X=1", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--setenvif", "true", "!X=1", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--proxy-pass-match", "([a-", "fcgi://127.0.0.1:9000/", "http://h/x", NULL},
        {"--server-name", "h:0", "fcgi://127.0.0.1:9000/", "http://h/x", NULL}, /* was silent */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&o, NULL, cases[i]);
        ck_assert_msg(o.code == 2, "case %zu: exit %d, stderr %s", i, o.code, o.err);
        ck_assert_msg(strncmp(o.err, "fcgic: ", 7) == 0 && o.err_len > 20, "case %zu: message: %s", i, o.err);
        out_free(&o);
    }
    /* every error message names the backend once one is known */
    RUN(&o, "--setenvif", "true", "!X=1", "fcgi://127.0.0.1:9000/", "http://h/x");
    ck_assert_ptr_nonnull(strstr(o.err, "fcgi://127.0.0.1:9000/"));
    ck_assert_ptr_nonnull(strstr(o.err, "unset mode"));
    out_free(&o);
    RUN(&o, "--help");
    ck_assert_int_eq(o.code, 0);
    ck_assert_ptr_nonnull(strstr(o.out, "Exit status: 0 success"));
    out_free(&o);
    /* ... also for a bad URL and a missing body file */
    RUN(&o, "fcgi://127.0.0.1:9000/", "http://h/a b");
    ck_assert_int_eq(o.code, 2);
    ck_assert_msg(strstr(o.err, "fcgi://127.0.0.1:9000/") != NULL, "%s", o.err);
    out_free(&o);
    RUN(&o, "-d", "@/nonexistent/body", "fcgi://127.0.0.1:9000/", "http://h/x");
    ck_assert_int_eq(o.code, 1);
    ck_assert_msg(strstr(o.err, "fcgi://127.0.0.1:9000/") != NULL, "%s", o.err);
    ck_assert_ptr_nonnull(strstr(o.err, "/nonexistent/body"));
    out_free(&o);
    /* mapping that does not apply: exit 3 */
    RUN(&o, "--dry-run", "--proxy-pass", "/app/", "fcgi://127.0.0.1:9000/", "http://h/other");
    ck_assert_int_eq(o.code, 3);
    ck_assert_ptr_nonnull(strstr(o.err, "fcgi://127.0.0.1:9000/"));
    out_free(&o);
}
END_TEST

/* ---- Apache vectors ---- */

static char *unesc(const char *s, size_t *len)
{
    char *d = malloc(strlen(s) + 1);
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '\\' && s[1] == '\\') {
            d[n++] = '\\';
            s++;
        } else if (*s == '\\' && s[1] == 'x') {
            char h[3] = {s[2], s[3], 0};
            d[n++] = (char)strtoul(h, NULL, 16);
            s += 3;
        } else
            d[n++] = *s;
    }
    d[n] = '\0';
    *len = n;
    return d;
}

static char *replace_docroot(const char *s, const char *docroot)
{
    const char *p = strstr(s, "@DOCROOT@");
    if (p == NULL)
        return strdup(s);
    char *r = malloc(strlen(s) + strlen(docroot) + 1);
    sprintf(r, "%.*s%s%s", (int)(p - s), s, docroot, p + 9);
    char *again = replace_docroot(r, docroot);
    free(r);
    return again;
}

/* Decode one JSON string at *p (after the opening quote); advances past it. */
static char *json_str(const char **p, size_t *len)
{
    const char *s = *p;
    char *d = malloc(strlen(s) + 1);
    size_t n = 0;
    while (*s && *s != '"') {
        if (*s == '\\') {
            s++;
            switch (*s) {
            case 'n': d[n++] = '\n'; break;
            case 'r': d[n++] = '\r'; break;
            case 't': d[n++] = '\t'; break;
            case 'u': {
                char h[5] = {s[1], s[2], s[3], s[4], 0};
                unsigned long cp = strtoul(h, NULL, 16);
                ck_assert_msg(cp < 0x100, "unexpected \\u escape");
                d[n++] = (char)cp; /* fcgic writes bytes that are not UTF-8 as U+0080..U+00FF */
                s += 4;
                break;
            }
            default: d[n++] = *s; break;
            }
            s++;
        } else
            d[n++] = *s++;
    }
    ck_assert_int_eq(*s, '"');
    *p = s + 1;
    d[n] = '\0';
    *len = n;
    return d;
}

struct vparam {
    char *name, *value;
    size_t nlen, vlen;
};

/* The "params" array of fcgic's JSON document (one object a line). */
static size_t json_params(const char *doc, struct vparam *ps, size_t max)
{
    const char *p = strstr(doc, "\"params\": [");
    ck_assert_ptr_nonnull(p);
    const char *end = strstr(p, "\n  ],\n");
    const char *empty = strstr(p, "\"params\": [],");
    if (empty == p)
        return 0;
    ck_assert_ptr_nonnull(end);
    size_t n = 0;
    while ((p = strstr(p, "{\"name\": \"")) != NULL && p < end) {
        ck_assert(n < max);
        p += 10;
        ps[n].name = json_str(&p, &ps[n].nlen);
        ck_assert(strncmp(p, ", \"value\": \"", 12) == 0);
        p += 12;
        ps[n].value = json_str(&p, &ps[n].vlen);
        ck_assert(strncmp(p, ", \"origin\": \"", 13) == 0);
        n++;
    }
    return n;
}

START_TEST(test_apache_vectors)
{
    const char *tdir = getenv("FCGIC_TESTS_DIR");
    ck_assert_ptr_nonnull(tdir);
    char path[4096], docroot[4096];
    snprintf(path, sizeof path, "%s/data/fcgic/apache-cases.txt", tdir);
    snprintf(docroot, sizeof docroot, "%s/data/fcgic/htdocs", tdir);
    char *real = realpath(docroot, NULL);
    ck_assert_ptr_nonnull(real);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    char name[256] = "";
    const char *args[128];
    size_t nargs = 0, nexp = 0, ncases = 0, nfields = 0;
    struct vparam exp[128];
    int none = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t l;
        if (strncmp(line, "case ", 5) == 0) {
            snprintf(name, sizeof name, "%.255s", line + 5);
            nargs = nexp = 0;
            none = 0;
        } else if (strncmp(line, "arg ", 4) == 0) {
            char *a = unesc(line + 4, &l);
            args[nargs++] = replace_docroot(a, real);
            free(a);
        } else if (strncmp(line, "param ", 6) == 0) {
            char *tab = strchr(line + 6, '\t');
            ck_assert_ptr_nonnull(tab);
            *tab = '\0';
            exp[nexp].name = unesc(line + 6, &exp[nexp].nlen);
            char *v = unesc(tab + 1, &l);
            exp[nexp].value = replace_docroot(v, real);
            exp[nexp].vlen = strlen(exp[nexp].value);
            if (strstr(v, "@DOCROOT@") == NULL)
                exp[nexp].vlen = l; /* may hold NUL-free bytes only, but keep the length */
            free(v);
            nexp++;
        } else if (strcmp(line, "none") == 0) {
            none = 1;
        } else if (strcmp(line, "end") == 0) {
            struct out o;
            args[nargs] = NULL;
            run(&o, NULL, args);
            if (none) {
                ck_assert_msg(o.code == 3, "%s: Apache did not proxy; fcgic exit %d: %s", name, o.code, o.err);
            } else {
                ck_assert_msg(o.code == 0, "%s: exit %d: %s", name, o.code, o.err);
                struct vparam got[128];
                size_t ng = json_params(o.out, got, 128);
                for (size_t i = 0; i < nexp || i < ng; i++) {
                    ck_assert_msg(i < ng, "%s: param %zu (%s) missing", name, i, exp[i].name);
                    ck_assert_msg(i < nexp, "%s: extra param %s=%s", name, got[i].name, got[i].value);
                    ck_assert_msg(got[i].nlen == exp[i].nlen && memcmp(got[i].name, exp[i].name, got[i].nlen) == 0,
                                  "%s: param %zu is %s, Apache sent %s", name, i, got[i].name, exp[i].name);
                    ck_assert_msg(got[i].vlen == exp[i].vlen && memcmp(got[i].value, exp[i].value, got[i].vlen) == 0,
                                  "%s: %s=\"%s\", Apache sent \"%s\"", name, got[i].name, got[i].value, exp[i].value);
                    nfields++;
                }
                for (size_t i = 0; i < ng; i++) {
                    free(got[i].name);
                    free(got[i].value);
                }
            }
            out_free(&o);
            for (size_t i = 0; i < nargs; i++)
                free((char *)args[i]);
            for (size_t i = 0; i < nexp; i++) {
                free(exp[i].name);
                free(exp[i].value);
            }
            ncases++;
        }
    }
    fclose(f);
    free(real);
    ck_assert_uint_ge(ncases, 60);
    ck_assert_uint_ge(nfields, 1000);
}
END_TEST

/* ---- app-echo / app-mpx ---- */

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A file of n pseudo-random bytes; returns its path (static buffer) and FNV. */
static const char *make_file(size_t n, uint64_t *fnv, char *path, size_t psize)
{
    snprintf(path, psize, "/tmp/fcgic-t-bodyXXXXXX");
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    unsigned char *b = malloc(n ? n : 1);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
    ck_assert(write(fd, b, n) == (ssize_t)n);
    close(fd);
    *fnv = fnv1a64(b, n);
    free(b);
    return path;
}

static struct harness_app *start(const char *name, enum harness_transport t, const char *const *args)
{
    struct harness_app *app = NULL;
    ck_assert_int_eq(harness_app_start(&app, t, name, args), 0);
    return app;
}

START_TEST(test_echo_get_post)
{
    struct harness_app *app = start("app-echo", HARNESS_TCP, NULL);
    struct out o;
    char url[300];
    snprintf(url, sizeof url, "%s/srv/", app->url);

    RUN(&o, "-i", "-H", "X-Trace: 1", url, "http://example.test:8080/a.php/p?x=1");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert(strncmp(o.out, "HTTP/1.1 200 OK\r\nStatus: 200 OK\r\n", 33) == 0);
    expect_line(&o, "HTTP_HOST=example.test:8080");
    expect_line(&o, "HTTP_X_TRACE=1");
    expect_line(&o, "SERVER_PORT=8080");
    ck_assert_ptr_nonnull(strstr(o.out, "\nSCRIPT_FILENAME=proxy:fcgi://127.0.0.1:"));
    out_free(&o);

    RUN(&o, url, "http://h/a.php?x=1");
    {
        char want[200];
        snprintf(want, sizeof want, "SCRIPT_FILENAME=proxy:fcgi://127.0.0.1:%d/srv/a.php", app->port);
        expect_line(&o, want);
    }
    expect_line(&o, "REQUEST_METHOD=GET");
    expect_line(&o, "QUERY_STRING=x=1");
    expect_line(&o, "STDIN-BYTES=0");
    out_free(&o);

    /* -d DATA: POST, form content type, CONTENT_LENGTH */
    RUN(&o, "-d", "a=1&b=2", url, "http://h/a.php");
    ck_assert_int_eq(o.code, 0);
    expect_line(&o, "REQUEST_METHOD=POST");
    expect_line(&o, "CONTENT_TYPE=application/x-www-form-urlencoded");
    expect_line(&o, "CONTENT_LENGTH=7");
    expect_line(&o, "STDIN-BYTES=7");
    {
        char want[64];
        snprintf(want, sizeof want, "STDIN-FNV1A64=%016llx", (unsigned long long)fnv1a64((const unsigned char *)"a=1&b=2", 7));
        expect_line(&o, want);
    }
    out_free(&o);

    /* -d @FILE and -d @- (10 MiB, streamed) */
    char path[64], want[64], data[300];
    uint64_t fnv;
    make_file(10u << 20, &fnv, path, sizeof path);
    snprintf(want, sizeof want, "STDIN-FNV1A64=%016llx", (unsigned long long)fnv);
    snprintf(data, sizeof data, "@%s", path);
    RUN(&o, "-d", data, "-H", "Content-Type: application/octet-stream", url, "http://h/up.php");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_line(&o, "CONTENT_LENGTH=10485760");
    expect_line(&o, "STDIN-BYTES=10485760");
    expect_line(&o, want);
    out_free(&o);
    {
        const char *a[] = {"-d", "@-", url, "http://h/up.php", NULL};
        run(&o, path, a);
    }
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_line(&o, "STDIN-BYTES=10485760");
    expect_line(&o, want);
    out_free(&o);
    /* stdin from a pipe (length unknown): spooled, then sent with its length */
    {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "cat %s | '%s' -d @- '%s' http://h/up.php", path, exe(), url);
        FILE *pp = popen(cmd, "r");
        ck_assert_ptr_nonnull(pp);
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf - 1, pp);
        buf[n] = '\0';
        ck_assert_int_eq(pclose(pp), 0);
        ck_assert_ptr_nonnull(strstr(buf, "\nSTDIN-BYTES=10485760\n"));
        ck_assert_ptr_nonnull(strstr(buf, want));
        ck_assert_ptr_nonnull(strstr(buf, "CONTENT_LENGTH=10485760\n"));
    }
    unlink(path);

    /* -o FILE, STDERR on stderr */
    char opath[] = "/tmp/fcgic-t-oXXXXXX";
    int ofd = mkstemp(opath);
    close(ofd);
    RUN(&o, "-o", opath, url, "http://h/a.php?echo=1&stderr=from+app");
    ck_assert_int_eq(o.code, 0);
    ck_assert_uint_eq(o.out_len, 0);
    ck_assert_str_eq(o.err, "from app\nsecond stderr line\n");
    out_free(&o);
    unlink(opath);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_echo_repeat_roles)
{
    struct harness_app *app = start("app-echo", HARNESS_UNIX, NULL);
    struct out o;
    /* --repeat over one FCGI_KEEP_CONN connection */
    RUN(&o, "-i", "--repeat", "3", app->url, "http://h/a.php?size=2");
    ck_assert_msg(o.code == 0, "%s", o.err);
    const char *p = o.out;
    for (int i = 1; i <= 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "X-Req-On-Conn: %d\r\n", i);
        p = strstr(p, want);
        ck_assert_msg(p != NULL, "request %d not on the same connection:\n%s", i, o.out);
    }
    ck_assert_ptr_null(strstr(o.out, "X-Conn-Id: 2"));
    out_free(&o);

    /* AUTHORIZER */
    RUN(&o, "--role", "authorizer", "-i", app->url, "http://h/a.php");
    ck_assert_int_eq(o.code, 0);
    ck_assert(strncmp(o.out, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0);
    ck_assert_ptr_nonnull(strstr(o.out, "X-Fcgi-Role: AUTHORIZER\r\n"));
    out_free(&o);
    RUN(&o, "--role", "authorizer", "--cgi-pass-auth", "-f", "-i", "-H", "Authorization: Basic YTpi", app->url,
        "http://h/a.php");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert(strncmp(o.out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert_ptr_nonnull(strstr(o.out, "Variable-AUTH_USER: alice\r\n"));
    out_free(&o);
    RUN(&o, "--role", "authorizer", "-f", app->url, "http://h/a.php");
    ck_assert_int_eq(o.code, 8);
    ck_assert_uint_eq(o.out_len, 0); /* --fail writes no body */
    ck_assert_ptr_nonnull(strstr(o.err, "401"));
    out_free(&o);

    /* FILTER */
    char path[64];
    uint64_t fnv;
    make_file(100000, &fnv, path, sizeof path);
    RUN(&o, "--role", "filter", "--data-file", path, "-i", app->url, "http://h/f.php");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_ptr_nonnull(strstr(o.out, "X-Data-Length: 100000\r\n"));
    ck_assert_ptr_nonnull(strstr(o.out, "X-Data-Bytes: 100000\r\n"));
    const char *body = strstr(o.out, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    body += 4;
    ck_assert_uint_eq(o.out_len - (size_t)(body - o.out), 100000);
    ck_assert(fnv1a64((const unsigned char *)body, 100000) == fnv);
    out_free(&o);
    unlink(path);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_exit_codes)
{
    struct harness_app *app = start("app-echo", HARNESS_TCP, NULL);
    struct out o;
    RUN(&o, app->url, "http://h/a.php");
    ck_assert_int_eq(o.code, 0);
    out_free(&o);
    /* 8: --fail and status >= 400 */
    RUN(&o, "-f", app->url, "http://h/a.php?status=404");
    ck_assert_int_eq(o.code, 8);
    ck_assert_ptr_nonnull(strstr(o.err, app->url));
    out_free(&o);
    RUN(&o, app->url, "http://h/a.php?status=404"); /* without --fail: success */
    ck_assert_int_eq(o.code, 0);
    out_free(&o);
    /* 5: timeout */
    RUN(&o, "--max-time", "0.3", app->url, "http://h/a.php?sleep_ms=3000");
    ck_assert_int_eq(o.code, 5);
    ck_assert_ptr_nonnull(strstr(o.err, app->url));
    ck_assert_ptr_nonnull(strstr(o.err, "time"));
    out_free(&o);
    /* 6: the application closes before END_REQUEST */
    RUN(&o, app->url, "http://h/a.php?close=1");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_PEER_CLOSED"));
    out_free(&o);
    /* 7: appStatus (last: app-echo keeps a set exit status for later requests) */
    RUN(&o, "--json", app->url, "http://h/a.php?app_status=3");
    ck_assert_int_eq(o.code, 7);
    ck_assert_ptr_nonnull(strstr(o.err, "appStatus 3"));
    ck_assert_ptr_nonnull(strstr(o.out, "\"app_status\": 3, \"protocol_status\": \"REQUEST_COMPLETE\""));
    ck_assert_ptr_nonnull(strstr(o.out, "\"exit_code\": 7,"));
    out_free(&o);
    /* 4: cannot connect */
    harness_app_kill(app);
    RUN(&o, app->url, "http://h/a.php");
    ck_assert_int_eq(o.code, 4);
    ck_assert_ptr_nonnull(strstr(o.err, app->url));
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_CONNECT): Connection refused"));
    out_free(&o);
    /* the system error says why: a unix socket that is not there */
    RUN(&o, "unix:/nonexistent-dir/app.sock|fcgi://localhost/", "http://h/a.php");
    ck_assert_int_eq(o.code, 4);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_CONNECT): No such file or directory"));
    out_free(&o);
    harness_app_stop(app);
    /* 6: protocolStatus OVERLOADED */
    static const char *const over[] = {"--overloaded", NULL};
    app = start("app-mpx", HARNESS_TCP, over);
    RUN(&o, app->url, "http://h/a.php");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "OVERLOADED"));
    out_free(&o);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_mpx_get_values_json)
{
    static const char *const args[] = {"--max-conns", "7", "--max-reqs", "9", NULL};
    struct harness_app *app = start("app-mpx", HARNESS_TCP, args);
    struct out o;
    RUN(&o, "--get-values", app->url);
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_str_eq(o.out, "FCGI_MAX_CONNS=7\nFCGI_MAX_REQS=9\nFCGI_MPXS_CONNS=1\n");
    out_free(&o);
    RUN(&o, "--json", "--get-values", "-d", "xyz", app->url, "http://h/j.php?stderr=warn");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_ptr_nonnull(strstr(o.out, "\"get_values\": {\"FCGI_MAX_CONNS\": \"7\", \"FCGI_MAX_REQS\": \"9\", "
                                        "\"FCGI_MPXS_CONNS\": \"1\"}"));
    ck_assert_ptr_nonnull(strstr(o.out, "{\"name\": \"REQUEST_METHOD\", \"value\": \"POST\", \"origin\": \"request\""));
    ck_assert_ptr_nonnull(strstr(o.out, "\"response\": {\"request\": 1, \"status\": 200, \"reason\": \"OK\", "
                                        "\"headers\": [{\"name\": \"Status\", \"value\": \"200 OK\"}"));
    ck_assert_ptr_nonnull(strstr(o.out, "\"stderr\": [\"warn\"], \"body_bytes\": "));
    ck_assert_ptr_nonnull(strstr(o.out, "\"stdin_bytes\": 3, \"app_status\": 0, \"protocol_status\": "
                                        "\"REQUEST_COMPLETE\", \"got_end_request\": true"));
    ck_assert_ptr_nonnull(strstr(o.out, "\"exit_code\": 0,\n  \"error\": null\n}\n"));
    out_free(&o);
    harness_app_stop(app);
}
END_TEST

/* ---- review fixes: JSON bytes, write errors, --repeat bodies ---- */

/* Strict UTF-8 (RFC 3629): what a JSON text must be. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else
            return 0;
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

/* The document parses as JSON (python3's json module, input decoded as
 * strict UTF-8) and is valid UTF-8. */
static void expect_json(const struct out *o)
{
    ck_assert_msg(utf8_valid((const unsigned char *)o->out, o->out_len), "output is not UTF-8:\n%s", o->out);
    char tmp[] = "/tmp/fcgic-t-jsonXXXXXX";
    int fd = mkstemp(tmp);
    ck_assert(fd >= 0);
    ck_assert(write(fd, o->out, o->out_len) == (ssize_t)o->out_len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys,json; json.loads(open(sys.argv[1],\"rb\").read().decode(\"utf-8\"))' %s", tmp);
    int st = system(cmd);
    unlink(tmp);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "not JSON:\n%s", o->out);
}

START_TEST(test_json_bytes)
{
    /* overlong forms, surrogates, > U+10FFFF, bytes that never start UTF-8,
     * and well-formed sequences that must pass through */
    static const char hval[] = "\xc0\xaf|\xe0\x80\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xf5\x80\x80|\xf0\x80\x80\x80|"
                               "\xff|\x01\x7f\"\\|\xf0\x9f\x98\x80|\xe2\x82\xac|\xed\x9f\xbf|\xf4\x8f\xbf\xbf";
    char hdr[200], param[64];
    snprintf(hdr, sizeof hdr, "X-A: %s", hval);
    snprintf(param, sizeof param, "N\xe0\x80\x80\xff=\xed\xbf\xbf");
    struct out o;
    RUN(&o, "--dry-run", "--json", "-H", hdr, "--param", param, "fcgi://127.0.0.1:9000/", "http://h/x");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_json(&o);
    /* and every byte comes back */
    struct vparam got[64];
    size_t ng = json_params(o.out, got, 64);
    int seen_h = 0, seen_p = 0;
    for (size_t i = 0; i < ng; i++) {
        if (strcmp(got[i].name, "HTTP_X_A") == 0) {
            ck_assert_uint_eq(got[i].vlen, strlen(hval));
            ck_assert(memcmp(got[i].value, hval, got[i].vlen) == 0);
            seen_h = 1;
        }
        if (strcmp(got[i].name, "N\xe0\x80\x80\xff") == 0) {
            ck_assert_str_eq(got[i].value, "\xed\xbf\xbf");
            seen_p = 1;
        }
        free(got[i].name);
        free(got[i].value);
    }
    ck_assert(seen_h && seen_p);
    ck_assert_ptr_nonnull(strstr(o.out, "\"value\": \"\\u00c0\\u00af|\\u00e0\\u0080\\u00af|\\u00ed\\u00a0\\u0080|"
                                        "\\u00f4\\u0090\\u0080\\u0080|\\u00f5\\u0080\\u0080|"
                                        "\\u00f0\\u0080\\u0080\\u0080|\\u00ff|\\u0001\\u007f\\\"\\\\|"
                                        "\xf0\x9f\x98\x80|\xe2\x82\xac|\xed\x9f\xbf|\xf4\x8f\xbf\xbf\""));
    out_free(&o);

    /* bytes from the application: response header and STDERR */
    struct harness_app *app = start("app-echo", HARNESS_TCP, NULL);
    RUN(&o, "--json", app->url, "http://h/a.php?header=X-B:%e0%80%80%ff%c3&stderr=%ed%a0%80%f8");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_json(&o);
    ck_assert_ptr_nonnull(strstr(o.out, "{\"name\": \"X-B\", \"value\": \"\\u00e0\\u0080\\u0080\\u00ff\\u00c3\"}"));
    ck_assert_ptr_nonnull(strstr(o.out, "\"stderr\": [\"\\u00ed\\u00a0\\u0080\\u00f8\", \"second stderr line\"]"));
    out_free(&o);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_write_errors)
{
    struct harness_app *app = start("app-echo", HARNESS_TCP, NULL);
    struct out o;
    /* a small body sits in stdio's buffer: the failure shows only at the flush */
    RUN(&o, "-o", "/dev/full", app->url, "http://h/a.php");
    ck_assert_int_eq(o.code, 1);
    ck_assert_msg(strstr(o.err, app->url) != NULL && strstr(o.err, "/dev/full") != NULL, "%s", o.err);
    out_free(&o);
    {
        const char *a[] = {app->url, "http://h/a.php", NULL};
        run_to(&o, NULL, "/dev/full", a);
    }
    ck_assert_int_eq(o.code, 1);
    ck_assert_msg(strstr(o.err, app->url) != NULL && strstr(o.err, "standard output") != NULL, "%s", o.err);
    out_free(&o);
    {
        const char *a[] = {"--dry-run", app->url, "http://h/a.php", NULL};
        run_to(&o, NULL, "/dev/full", a);
    }
    ck_assert_int_eq(o.code, 1);
    ck_assert_ptr_nonnull(strstr(o.err, "standard output"));
    out_free(&o);
    harness_app_stop(app);
}
END_TEST

/* Output of a shell command line (fcgic inside it), with its exit status. */
static char *sh(const char *cmd, int *status)
{
    FILE *pp = popen(cmd, "r");
    ck_assert_ptr_nonnull(pp);
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    size_t k;
    while (n + 1 < cap && (k = fread(b + n, 1, cap - 1 - n, pp)) > 0)
        n += k;
    b[n] = '\0';
    *status = pclose(pp);
    return b;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_repeat_body)
{
    struct harness_app *app = start("app-echo", HARNESS_TCP, NULL);
    char path[] = "/tmp/fcgic-t-offXXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "XXXabc", 6) == 6);
    close(fd);
    char cmd[1024];
    int st;
    /* stdin is a regular file already read up to byte 3: every request
     * sends "abc", as CONTENT_LENGTH says */
    snprintf(cmd, sizeof cmd, "{ dd bs=1 count=3 of=/dev/null 2>/dev/null; '%s' --repeat 2 -d @- '%s' http://h/a.php; } < %s",
             exe(), app->url, path);
    char *b = sh(cmd, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_uint_eq(count(b, "\nCONTENT_LENGTH=3\n"), 2);
    ck_assert_msg(count(b, "\nSTDIN-BYTES=3\n") == 2, "%s", b);
    free(b);
    /* a pipe with a Content-Length of the user: the second request needs the
     * bytes again */
    snprintf(cmd, sizeof cmd, "printf abc | '%s' --repeat 2 -d @- -H 'Content-Length: 3' '%s' http://h/a.php",
             exe(), app->url);
    b = sh(cmd, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_uint_eq(count(b, "\nCONTENT_LENGTH=3\n"), 2);
    ck_assert_msg(count(b, "\nSTDIN-BYTES=3\n") == 2, "%s", b);
    free(b);
    unlink(path);
    harness_app_stop(app);
}
END_TEST

START_TEST(test_http10)
{
    /* -0 / --http1.0, as curl's: the request line and SERVER_PROTOCOL say
     * HTTP/1.0, and the Host header may be dropped. */
    struct harness_app *app = start("app-echo", HARNESS_TCP, NULL);
    struct out o;
    RUN(&o, "-0", "-H", "Host:", app->url, "http://h/a.php");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_line(&o, "SERVER_PROTOCOL=HTTP/1.0");
    expect_no_line_prefix(&o, "HTTP_HOST=");
    out_free(&o);
    RUN(&o, "--http1.0", app->url, "http://h/a.php");
    expect_line(&o, "SERVER_PROTOCOL=HTTP/1.0");
    expect_line(&o, "HTTP_HOST=h");
    out_free(&o);
    harness_app_stop(app);
}
END_TEST

/* ---- hostile applications (tests/apps/app-hostile) ---- */

START_TEST(test_hostile_keep_conn)
{
    struct harness_app *app = start("app-hostile", HARNESS_TCP, NULL);
    struct out o;
    /* A STDOUT record sent after END_REQUEST never becomes part of the next
     * response: the next request has its own id, and the connection that
     * carried the stray bytes is not used again. */
    RUN(&o, "-i", "--repeat", "2", app->url,
        "http://h/a.php?do=out=Status:%20200\\r\\n\\r\\nhello;outeof;end;out=X-Injected:%201\\r\\n\\r\\nstray");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_uint_eq(count(o.out, "hello"), 2);
    ck_assert_ptr_null(strstr(o.out, "stray"));
    ck_assert_ptr_null(strstr(o.out, "X-Injected"));
    out_free(&o);
    /* Sixteen garbage bytes after END_REQUEST: the second request is still
     * answered (on a new connection). */
    RUN(&o, "-i", "--repeat", "2", app->url,
        "http://h/a.php?do=out=Status:%20200\\r\\n\\r\\nhello;outeof;end;raw=0123456789abcdef");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_uint_eq(count(o.out, "hello"), 2);
    out_free(&o);
    /* An unsolicited GET_VALUES_RESULT: an error, never a crash. */
    RUN(&o, app->url, "http://h/a.php?do=rec=10,0,\\x0e\\x02FCGI_MAX_CONNS10;out=Status:%20200\\r\\n\\r\\nok;outeof;end");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_UNSOLICITED"));
    out_free(&o);
    /* 1xx is not a final status; a block that never ends is no response. */
    RUN(&o, app->url, "http://h/a.php?do=out=Status:%20103\\r\\n\\r\\nStatus:%20200\\r\\n\\r\\nx;outeof;end");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_CGI_BAD_STATUS"));
    out_free(&o);
    RUN(&o, app->url, "http://h/a.php?do=out=BAD;outeof;end");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_CGI_NO_HEADERS"));
    ck_assert_str_eq(o.out, "");
    out_free(&o);
    RUN(&o, app->url, "http://h/a.php?do=end");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_CGI_NO_HEADERS"));
    out_free(&o);
    /* A STDOUT record after the end of the STDOUT stream is named so. */
    RUN(&o, app->url, "http://h/a.php?do=out=Status:%20200\\r\\n\\r\\nx;outeof;out=y;end");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_AFTER_STREAM_END"));
    out_free(&o);
    /* END_REQUEST with a 16-byte body: harmless, the first 8 bytes count. */
    RUN(&o, "-i", app->url,
        "http://h/a.php?do=out=Status:%20200\\r\\n\\r\\nok;outeof;"
        "rec=3,cur,\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_ptr_nonnull(strstr(o.out, "\r\n\r\nok"));
    out_free(&o);
    /* A malformed block followed by silence: the error at once, not a
     * timeout. */
    RUN(&o, "--max-time", "30", app->url, "http://h/a.php?do=out=Bad%20Line\\r\\n\\r\\n;hang");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.err, "FCGIC_E_CGI_BAD_HEADER"));
    out_free(&o);
    /* A refused request carries an error in JSON too. */
    RUN(&o, "--json", app->url, "http://h/a.php?do=end=0,2");
    ck_assert_int_eq(o.code, 6);
    ck_assert_ptr_nonnull(strstr(o.out, "\"protocol_status\": \"OVERLOADED\""));
    ck_assert_ptr_nonnull(strstr(o.out, "\"error\": {\"name\": \"PROTOCOL_STATUS\", \"message\": "
                                        "\"the application refused the request: OVERLOADED\"}, \"retries\": 0}"));
    out_free(&o);
    harness_app_stop(app);
}
END_TEST

static size_t count_lines(const char *path, const char *line)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[512];
    size_t n = 0;
    while (fgets(buf, sizeof buf, f))
        n += strcmp(buf, line) == 0;
    fclose(f);
    return n;
}

START_TEST(test_hostile_soak)
{
    /* The application closes a kept connection right after 20% of its
     * END_REQUESTs: every GET of a --repeat run is still answered. */
    char log[] = "/tmp/fcgic-t-logXXXXXX";
    int fd = mkstemp(log);
    ck_assert(fd >= 0);
    close(fd);
    const char *const args[] = {"--close-after-end", "20", "--seed", "7", "--log", log, NULL};
    struct harness_app *app = start("app-hostile", HARNESS_UNIX, args);
    const char *n = getenv("FCGIC_UNDER_VALGRIND") ? "200" : "2000";
    struct out o;
    RUN(&o, "--repeat", n, app->url, "http://h/a.php");
    ck_assert_msg(o.code == 0, "%s", o.err);
    ck_assert_uint_eq(count(o.out, "req="), (size_t)atoi(n));
    out_free(&o);
    ck_assert_uint_eq(count_lines(log, "GET - 0\n"), (size_t)atoi(n));
    /* a bare unix: socket, as people type it (and as --help shows it) */
    char bare[160];
    snprintf(bare, sizeof bare, "unix:%s", app->path);
    RUN(&o, "--fpm-ping", bare, "http://localhost/ping?do=out=Status:%20200\\r\\n\\r\\npong;outeof;end");
    ck_assert_msg(o.code == 0, "%s%s", o.out, o.err);
    ck_assert_ptr_nonnull(strstr(o.out, "pong"));
    out_free(&o);
    harness_app_stop(app);
    unlink(log);
}
END_TEST

/* ---- PHP-FPM ---- */

static struct harness_app *php(enum harness_transport t)
{
    struct harness_app *app = NULL;
    int rc = harness_php_start(&app, t, 2);
    ck_assert_int_eq(rc, 0);
    return app;
}

static void php_pathinfo(enum harness_transport t)
{
    struct harness_app *app = php(t);
    char backend[4600];
    snprintf(backend, sizeof backend, "%s%s/", app->url, app->docroot);
    struct out o;
    /* first-dot / last-dot / none / unescape through $_SERVER */
    static const struct {
        const char *strategy, *script_name, *path_info;
    } c[] = {
        {"first-dot", "/app/env.php", "/x.y/z"},
        {"last-dot", "/app/env.php/x.y", "/z"},
        {"unescape", "/app", NULL}, /* the whole backend path */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        RUN(&o, "--proxy-pass", "/app/", "--pathinfo", c[i].strategy, "--backend-type", "generic", backend,
            "http://h/app/env.php/x.y/z");
        ck_assert_msg(o.code == 0, "%s: %s", c[i].strategy, o.err);
        char want[4700];
        if (c[i].path_info)
            snprintf(want, sizeof want, "PATH_INFO=%s", c[i].path_info);
        else
            /* PHP's cgi.fix_pathinfo moves what we sent to ORIG_PATH_INFO */
            snprintf(want, sizeof want, "ORIG_PATH_INFO=%s/env.php/x.y/z", app->docroot);
        expect_line(&o, want);
        snprintf(want, sizeof want, "proxy-fcgi-pathinfo=%s", c[i].strategy);
        expect_line(&o, want);
        out_free(&o);
    }
    /* none: no PATH_INFO, and PHP-FPM still finds env.php */
    RUN(&o, "--proxy-pass", "/app/", "--backend-type", "generic", backend, "http://h/app/env.php");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_no_line_prefix(&o, "PATH_INFO=");
    expect_line(&o, "SCRIPT_NAME=/app/env.php");
    out_free(&o);
    /* full: the filesystem walk finds env.php under the real document root */
    RUN(&o, "--proxy-pass", "/app/", "--pathinfo", "full", "--backend-type", "generic", "--document-root",
        app->docroot, backend, "http://h/app/env.php/x.y/z");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_line(&o, "PATH_INFO=/x.y/z");
    out_free(&o);
    /* handler mode: SetHandler on files of the document root */
    RUN(&o, "--set-handler", "--files-match", "\\.php$", "--document-root", app->docroot, app->url,
        "http://h/env.php/p/i?q=1");
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_line(&o, "PATH_INFO=/p/i");
    expect_line(&o, "SCRIPT_NAME=/env.php");
    expect_line(&o, "QUERY_STRING=q=1");
    out_free(&o);
    harness_app_stop(app);
}

START_TEST(test_php_pathinfo_tcp)
{
    php_pathinfo(HARNESS_TCP);
}
END_TEST

START_TEST(test_php_pathinfo_unix)
{
    php_pathinfo(HARNESS_UNIX);
}
END_TEST

START_TEST(test_php_post_health)
{
    struct harness_app *app = php(HARNESS_TCP);
    char backend[4600];
    snprintf(backend, sizeof backend, "%s%s/", app->url, app->docroot);
    struct out o;
    char path[64], want[64];
    uint64_t fnv;
    make_file(10u << 20, &fnv, path, sizeof path);
    snprintf(want, sizeof want, "STDIN-FNV1A64=%016llx", (unsigned long long)fnv);
    {
        const char *a[] = {"-d", "@-", "-H", "Content-Type: application/octet-stream", backend,
                           "http://h/env.php", NULL};
        run(&o, path, a);
    }
    ck_assert_msg(o.code == 0, "%s", o.err);
    expect_line(&o, "CONTENT_LENGTH=10485760");
    expect_line(&o, "STDIN-BYTES=10485760");
    expect_line(&o, want);
    out_free(&o);
    unlink(path);

    RUN(&o, "--get-values", app->url);
    ck_assert_msg(o.code == 0, "%s", o.err);
    /* PHP-FPM 8.2 answers only the one variable it knows */
    ck_assert_str_eq(o.out, "FCGI_MPXS_CONNS=0\n");
    out_free(&o);

    RUN(&o, "--fpm-ping", app->url);
    ck_assert_msg(o.code == 0, "%s%s", o.out, o.err);
    ck_assert(strncmp(o.out, "healthy: ", 9) == 0);
    ck_assert_ptr_nonnull(strstr(o.out, "pong"));

    ck_assert_ptr_eq(strchr(o.out, '\n'), o.out + o.out_len - 1); /* one line */
    out_free(&o);
    RUN(&o, "--fpm-status", app->url);
    ck_assert_msg(o.code == 0, "%s%s", o.out, o.err);
    ck_assert_ptr_nonnull(strstr(o.out, "healthy: "));
    ck_assert_ptr_nonnull(strstr(o.out, "pool fcgictest"));
    ck_assert_ptr_eq(strchr(o.out, '\n'), o.out + o.out_len - 1);
    out_free(&o);
    /* a path FPM does not serve: answered, but unhealthy */
    RUN(&o, "--fpm-ping", app->url, "http://localhost/nope-ping");
    ck_assert_int_eq(o.code, 9);
    ck_assert(strncmp(o.out, "unhealthy: ", 11) == 0);
    out_free(&o);

    /* --json: one object on one line */
    char jwant[1024];
    RUN(&o, "--json", "--fpm-ping", app->url);
    ck_assert_msg(o.code == 0, "%s%s", o.out, o.err);
    expect_json(&o);
    ck_assert_ptr_eq(strchr(o.out, '\n'), o.out + o.out_len - 1);
    snprintf(jwant, sizeof jwant,
             "{\"fcgic\": 1, \"check\": \"ping\", \"backend\": \"%s\", \"url\": \"http://localhost/ping\", "
             "\"healthy\": true, \"exit_code\": 0, \"status\": 200, \"app_status\": 0, "
             "\"protocol_status\": \"REQUEST_COMPLETE\", \"time_ms\": ",
             app->url);
    ck_assert_msg(strncmp(o.out, jwant, strlen(jwant)) == 0, "%s", o.out);
    snprintf(jwant, sizeof jwant, ", \"detail\": \"healthy: %s ping: pong in ", app->url);
    ck_assert_ptr_nonnull(strstr(o.out, jwant));
    ck_assert_ptr_nonnull(strstr(o.out, " ms\", \"error\": null, \"answer\": \"pong\", \"pool\": null}\n"));
    out_free(&o);
    RUN(&o, "--json", "--fpm-status", app->url);
    ck_assert_msg(o.code == 0, "%s%s", o.out, o.err);
    expect_json(&o);
    ck_assert_ptr_nonnull(strstr(o.out, "\"check\": \"status\", "));
    ck_assert_ptr_nonnull(strstr(o.out, "\"healthy\": true, \"exit_code\": 0, \"status\": 200, "));
    ck_assert_ptr_nonnull(strstr(o.out, "\"error\": null, \"answer\": null, \"pool\": {\"name\": \"fcgictest\", "
                                        "\"process_manager\": \"static\", \"start_time\": "));
    ck_assert_ptr_nonnull(strstr(o.out, ", \"total_processes\": 2, \"max_active_processes\": "));
    ck_assert_ptr_nonnull(strstr(o.out, ", \"max_children_reached\": 0, \"slow_requests\": 0}}\n"));
    out_free(&o);
    RUN(&o, "--json", "--fpm-ping", app->url, "http://localhost/nope-ping");
    ck_assert_int_eq(o.code, 9);
    expect_json(&o);
    ck_assert_ptr_nonnull(strstr(o.out, "\"healthy\": false, \"exit_code\": 9, \"status\": 404, "));
    ck_assert_ptr_nonnull(strstr(o.out, "\"error\": {\"name\": \"HTTP_STATUS\", \"message\": \"HTTP status 404 "
                                        "instead of 200\"}, \"answer\": "));
    out_free(&o);

    harness_app_kill(app);
    RUN(&o, "--fpm-ping", app->url);
    ck_assert_int_eq(o.code, 4);
    ck_assert(strncmp(o.out, "unhealthy: ", 11) == 0);
    ck_assert_ptr_nonnull(strstr(o.out, app->url));
    ck_assert_ptr_eq(strchr(o.out, '\n'), o.out + o.out_len - 1);
    out_free(&o);
    RUN(&o, "--fpm-status", app->url);
    ck_assert_int_eq(o.code, 4);
    out_free(&o);
    for (int k = 0; k < 2; k++) {
        RUN(&o, "--json", k ? "--fpm-status" : "--fpm-ping", app->url);
        ck_assert_int_eq(o.code, 4);
        expect_json(&o);
        snprintf(jwant, sizeof jwant,
                 "{\"fcgic\": 1, \"check\": \"%s\", \"backend\": \"%s\", \"url\": \"http://localhost/%s\", "
                 "\"healthy\": false, \"exit_code\": 4, \"status\": null, \"app_status\": null, "
                 "\"protocol_status\": null, \"time_ms\": ",
                 k ? "status" : "ping", app->url, k ? "status?json" : "ping");
        ck_assert_msg(strncmp(o.out, jwant, strlen(jwant)) == 0, "%s", o.out);
        snprintf(jwant, sizeof jwant, ", \"detail\": \"unhealthy: %s %s: ", app->url, k ? "status" : "ping");
        ck_assert_ptr_nonnull(strstr(o.out, jwant));
        ck_assert_ptr_nonnull(strstr(o.out, "\"error\": {\"name\": \"FCGIC_E_CONNECT\", \"message\": "
                                            "\"connection to the application failed\"}, \"answer\": null, "
                                            "\"pool\": null}\n"));
        out_free(&o);
    }
    harness_app_stop(app);
}
END_TEST

static Suite *fcgic_suite(int have_php)
{
    Suite *s = suite_create("fcgic");
    TCase *tc = tcase_create("usage");
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    tc = tcase_create("apache-vectors");
    tcase_add_test(tc, test_apache_vectors);
    suite_add_tcase(s, tc);
    tc = tcase_create("echo");
    tcase_add_test(tc, test_echo_get_post);
    tcase_add_test(tc, test_echo_repeat_roles);
    tcase_add_test(tc, test_http10);
    suite_add_tcase(s, tc);
    tc = tcase_create("exit-codes");
    tcase_add_test(tc, test_exit_codes);
    suite_add_tcase(s, tc);
    tc = tcase_create("review");
    tcase_add_test(tc, test_json_bytes);
    tcase_add_test(tc, test_write_errors);
    tcase_add_test(tc, test_repeat_body);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_hostile_keep_conn);
    tcase_add_test(tc, test_hostile_soak);
    suite_add_tcase(s, tc);
        tc = tcase_create("get-values-json");
    tcase_add_test(tc, test_mpx_get_values_json);
    suite_add_tcase(s, tc);
    if (have_php) {
        tc = tcase_create("php-fpm");
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, test_php_pathinfo_tcp);
        tcase_add_test(tc, test_php_pathinfo_unix);
        tcase_add_test(tc, test_php_post_health);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    char buf[4096];
    int have_php = harness_php_fpm_binary(buf, sizeof buf) != NULL;
    if (!have_php)
        fprintf(stderr, "php-fpm not found: PHP-FPM tests skipped\n");
    return testutil_run(fcgic_suite(have_php));
}
