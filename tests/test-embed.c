/* Tests of the embedding examples: examples/embed-libuv (a pool on libuv
 * through a transport of its own) and examples/embed-epoll (a pool on an
 * epoll loop through the POSIX transport's socket and timer callbacks). The
 * built binaries ($FCGIC_EMBED_LIBUV, $FCGIC_EMBED_EPOLL; a program whose
 * variable is not set was not built and is left out) run every mode against
 * app-echo and PHP-FPM, each over TCP and a unix socket, and their result
 * lines are checked: every concurrent request succeeds; a cancel ends the
 * request long before the 10 s script would and leaves no connection
 * behind; a slow reader gets the whole pattern body with a bounded buffer;
 * a streamed upload arrives whole. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app-common.h"
#include "harness.h"
#include "testutil.h"

/* The examples' consumer buffer (SLOW_CAP in scenarios.c) and the most one
 * body piece (one record's content) may add to it. */
#define SLOW_CAP (256u * 1024u)
#define SLOW_BOUND (SLOW_CAP + 65536u)

static int under_valgrind(void)
{
    return getenv("FCGIC_UNDER_VALGRIND") != NULL;
}

/* ---- the applications ------------------------------------------------- */

static const enum harness_transport transports[] = {HARNESS_TCP, HARNESS_UNIX};
static const char *const transport_names[] = {"tcp", "unix"};

struct apps {
    struct harness_app *echo[2];
    struct harness_app *php[2]; /* NULL without php-fpm */
};

static void apps_start(struct apps *a)
{
    static const char *const echo_args[] = {"-t", "16", NULL};
    memset(a, 0, sizeof *a);
    for (int t = 0; t < 2; t++) {
        int rc = harness_app_start(&a->echo[t], transports[t], "app-echo", echo_args);
        ck_assert_msg(rc == 0, "app-echo: %d", rc);
        rc = harness_php_start(&a->php[t], transports[t], 8);
        ck_assert_msg(rc == 0 || rc == HARNESS_SKIP, "php-fpm: %d", rc);
        if (rc == HARNESS_SKIP) {
            a->php[t] = NULL;
            fprintf(stderr, "no php-fpm: PHP-FPM cases skipped\n");
        }
    }
}

static void apps_stop(struct apps *a)
{
    for (int t = 0; t < 2; t++) {
        harness_app_stop(a->echo[t]);
        harness_app_stop(a->php[t]);
    }
}

/* ---- running an example ----------------------------------------------- */

struct prog {
    const char *name;
    const char *env;
};

static const struct prog progs[] = {{"libuv", "FCGIC_EMBED_LIBUV"}, {"epoll", "FCGIC_EMBED_EPOLL"}};

struct result {
    int code;
    char line[1024]; /* the result line, without its newline */
};

/* Run exe with args (NULL-terminated); stdout is captured, stderr goes to
 * the test's. Under the valgrind setup the example runs under valgrind too:
 * an error or a leak makes it exit 99. */
static void run_example(const char *exe, const char *const *args, struct result *r)
{
    static const char *const vg[] = {"valgrind", "--error-exitcode=99", "--leak-check=full",
                                     "--errors-for-leak-kinds=definite,indirect", "--quiet"};
    size_t nvg = under_valgrind() ? sizeof vg / sizeof vg[0] : 0, n = 0;
    while (args[n])
        n++;
    const char **argv = calloc(nvg + n + 2, sizeof *argv);
    ck_assert_ptr_nonnull(argv);
    memcpy(argv, vg, nvg * sizeof *argv);
    argv[nvg] = exe;
    memcpy(argv + nvg + 1, args, n * sizeof *argv);
    char path[] = "/tmp/fcgic-embed-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    unlink(path);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(fd, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    free(argv);
    ck_assert_msg(WIFEXITED(st), "%s did not exit (signal %d)", exe, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    r->code = WEXITSTATUS(st);
    ssize_t got = pread(fd, r->line, sizeof r->line - 1, 0);
    close(fd);
    r->line[got > 0 ? got : 0] = '\0';
    r->line[strcspn(r->line, "\n")] = '\0';
}

/* The value of `key=` in a result line. */
static const char *field(const struct result *r, const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(r->line, ' '); p; p = strchr(p + 1, ' ')) {
        if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '=') {
            size_t len = strcspn(p + 2 + kl, " ");
            ck_assert_uint_lt(len, size);
            memcpy(buf, p + 2 + kl, len);
            buf[len] = '\0';
            return buf;
        }
    }
    ck_abort_msg("no %s= in \"%s\"", key, r->line);
    return NULL;
}

static unsigned long long ufield(const struct result *r, const char *key)
{
    char buf[64], *end;
    unsigned long long v = strtoull(field(r, key, buf, sizeof buf), &end, 10);
    ck_assert_msg(*end == '\0', "%s=%s is not a number", key, buf);
    return v;
}

static void expect_field(const struct result *r, const char *key, const char *want)
{
    char buf[128];
    ck_assert_msg(strcmp(field(r, key, buf, sizeof buf), want) == 0, "%s=%s, want %s in \"%s\"", key, buf, want,
                  r->line);
}

/* One case: program p against app (PHP-FPM when php) with the mode's
 * arguments; fills r and checks the exit status and the mode word. */
struct target {
    const struct prog *prog;
    const char *exe;
    const struct harness_app *app;
    int php;
    const char *transport;
};

static void run_case(const struct target *t, const char *max, const char *mode, const char *n, struct result *r)
{
    const char *args[8];
    size_t k = 0;
    if (t->php) {
        args[k++] = "-p";
        args[k++] = t->app->docroot;
    }
    args[k++] = "-m";
    args[k++] = max;
    args[k++] = t->app->url;
    args[k++] = mode;
    if (n)
        args[k++] = n;
    args[k] = NULL;
    run_example(t->exe, args, r);
    printf("embed-%s %s %s: %s\n", t->prog->name, t->php ? "php-fpm" : "app-echo", t->transport, r->line);
    fflush(stdout);
    ck_assert_msg(strncmp(r->line, mode, strlen(mode)) == 0 && r->line[strlen(mode)] == ' ',
                  "embed-%s %s: no result line (exit %d)", t->prog->name, mode, r->code);
    ck_assert_msg(r->code == 0, "embed-%s %s exited %d: %s", t->prog->name, mode, r->code, r->line);
}

/* Call fn for every built program, transport and application. */
static void for_each_target(void (*fn)(const struct target *t))
{
    struct apps a;
    apps_start(&a);
    int ran = 0;
    for (size_t p = 0; p < sizeof progs / sizeof progs[0]; p++) {
        const char *exe = getenv(progs[p].env);
        if (!exe || !*exe)
            continue;
        for (int tr = 0; tr < 2; tr++) {
            struct target t = {&progs[p], exe, a.echo[tr], 0, transport_names[tr]};
            fn(&t);
            ran++;
            if (!a.php[tr])
                continue;
            t.app = a.php[tr];
            t.php = 1;
            fn(&t);
        }
    }
    apps_stop(&a);
    ck_assert_msg(ran > 0, "neither FCGIC_EMBED_LIBUV nor FCGIC_EMBED_EPOLL is set");
}

static uint64_t pattern_fnv(uint64_t n)
{
    uint64_t h = APP_FNV1A64_INIT;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = app_pattern_byte(i);
        h = app_fnv1a64(h, &c, 1);
    }
    return h;
}

/* ---- concurrent ------------------------------------------------------- */

/* app-echo has 16 threads: 32 requests, 16 at a time on the wire. PHP-FPM
 * has 8 workers: max 8 (keep-alive binds a worker per connection), the
 * rest wait in the pool's queue. */
static void concurrent_one(const struct target *t)
{
    const char *n = t->php ? (under_valgrind() ? "4" : "16") : (under_valgrind() ? "8" : "32");
    struct result r;
    run_case(t, t->php ? "8" : "16", "concurrent", n, &r);
    expect_field(&r, "n", n);
    expect_field(&r, "ok", n);
    expect_field(&r, "failed", "0");
    ck_assert_uint_ge(ufield(&r, "conns_created"), 1);
}

START_TEST(test_concurrent)
{
    for_each_target(concurrent_one);
}
END_TEST

/* ---- cancel ----------------------------------------------------------- */

static void cancel_one(const struct target *t)
{
    struct result r;
    run_case(t, "4", "cancel", NULL, &r);
    expect_field(&r, "error", "FCGIC_E_ABORTED");
    expect_field(&r, "ended_in_abort", "1");
    expect_field(&r, "aborted", "1");
    expect_field(&r, "written", "1");
    expect_field(&r, "delivered_after", "0");
    expect_field(&r, "conns_before", "1");
    expect_field(&r, "conns_after", "0");
    expect_field(&r, "transport_after", "0");
    /* the script sleeps 10 s; on_end must not wait for it */
    ck_assert_uint_lt(ufield(&r, "abort_to_end_us"), 1000000);
}

START_TEST(test_cancel)
{
    for_each_target(cancel_one);
}
END_TEST

/* ---- slow reader ------------------------------------------------------ */

static void slow_one(const struct target *t)
{
    uint64_t n = under_valgrind() ? 1u << 20 : 4u << 20;
    char ns[32], want[32];
    snprintf(ns, sizeof ns, "%" PRIu64, n);
    snprintf(want, sizeof want, "%016" PRIx64, pattern_fnv(n));
    struct result r;
    run_case(t, "4", "slow", ns, &r);
    expect_field(&r, "bytes", ns);
    expect_field(&r, "fnv1a64", want);
    expect_field(&r, "late", "0");
    ck_assert_uint_eq(ufield(&r, "cap"), SLOW_CAP);
    ck_assert_uint_le(ufield(&r, "peak_buffered"), SLOW_BOUND);
    ck_assert_uint_gt(ufield(&r, "pauses"), 0); /* the reader did hold the response back */
}

START_TEST(test_slow)
{
    for_each_target(slow_one);
}
END_TEST

/* ---- streamed upload -------------------------------------------------- */

static void upload_one(const struct target *t)
{
    uint64_t n = under_valgrind() ? 300007 : (3u << 20) + 123;
    char ns[32], want[32];
    snprintf(ns, sizeof ns, "%" PRIu64, n);
    snprintf(want, sizeof want, "%016" PRIx64, pattern_fnv(n));
    struct result r;
    run_case(t, "4", "upload", ns, &r);
    expect_field(&r, "sent", ns);
    expect_field(&r, "stdin_bytes", ns);
    expect_field(&r, "stdin_fnv1a64", want);
    expect_field(&r, "sent_fnv1a64", want);
    ck_assert_uint_gt(ufield(&r, "agains"), 0); /* the body was not ready every time */
}

START_TEST(test_upload)
{
    for_each_target(upload_one);
}
END_TEST

static Suite *embed_suite(void)
{
    Suite *s = suite_create("embed");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"concurrent", test_concurrent},
        {"cancel", test_cancel},
        {"slow", test_slow},
        {"upload", test_upload},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, under_valgrind() ? 600 : 60);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return testutil_run(embed_suite());
}
