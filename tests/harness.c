/* Test harness: start/stop FastCGI test apps and PHP-FPM (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HARNESS_BUILD_DIR
#define HARNESS_BUILD_DIR ""
#endif
#ifndef HARNESS_TESTS_DIR
#define HARNESS_TESTS_DIR ""
#endif

#define KILL_WAIT_MS 3000
#define PHP_READY_MS 10000

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("harness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fmt_path(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fmt_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int harness_app_path(const char *name, char *buf, size_t size)
{
    const char *env = getenv("FCGIC_BUILD_DIR");
    if (env != NULL && env[0] != '\0') {
        if (fmt_path(buf, size, "%s/tests/%s", env, name) != 0)
            return -ENAMETOOLONG;
        if (is_executable(buf))
            return 0;
    }
    if (HARNESS_BUILD_DIR[0] != '\0') {
        if (fmt_path(buf, size, "%s/tests/%s", HARNESS_BUILD_DIR, name) != 0)
            return -ENAMETOOLONG;
        if (is_executable(buf))
            return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            if (fmt_path(buf, size, "%s/%s", self, name) != 0)
                return -ENAMETOOLONG;
            if (is_executable(buf))
                return 0;
        }
    }
    diag("test app '%s' not found (set FCGIC_BUILD_DIR)", name);
    return -ENOENT;
}

static void free_argv(char **argv)
{
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

/* argv = {exe, args..., NULL}, heap copies. */
static char **make_argv(const char *exe, const char *const *args)
{
    size_t n = 0;
    while (args != NULL && args[n] != NULL)
        n++;
    char **argv = calloc(n + 2, sizeof(*argv));
    if (argv == NULL)
        return NULL;
    argv[0] = strdup(exe);
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = strdup(args[i]);
    for (size_t i = 0; i <= n; i++) {
        if (argv[i] == NULL) {
            free_argv(argv);
            return NULL;
        }
    }
    return argv;
}

static int make_tempdir(struct harness_app *a)
{
    /* Unix socket paths are limited to 107 bytes: always under /tmp. */
    snprintf(a->dir, sizeof(a->dir), "/tmp/fcgic-h-XXXXXX");
    if (mkdtemp(a->dir) == NULL) {
        int err = errno;
        diag("mkdtemp: %s", strerror(err));
        a->dir[0] = '\0';
        return -err;
    }
    return 0;
}

static void set_addresses(struct harness_app *a, const char *sockname)
{
    if (a->transport == HARNESS_TCP) {
        snprintf(a->host, sizeof(a->host), "127.0.0.1");
        a->path[0] = '\0';
        snprintf(a->url, sizeof(a->url), "fcgi://127.0.0.1:%d", a->port);
    } else {
        a->host[0] = '\0';
        a->port = 0;
        snprintf(a->path, sizeof(a->path), "%s/%s", a->dir, sockname);
        snprintf(a->url, sizeof(a->url), "unix:%s|fcgi://localhost", a->path);
    }
}

void harness_app_sockaddr(const struct harness_app *app, struct sockaddr_storage *ss,
                          socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (app->transport == HARNESS_TCP) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short)app->port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*sin);
    } else {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, app->path, strlen(app->path) + 1);
        *len = sizeof(*sun);
    }
}

/* Bind + listen on the app's address (port 0 = pick one, then record it). */
static int bind_listener(struct harness_app *a)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(a->transport == HARNESS_TCP ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (a->transport == HARNESS_TCP) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    } else {
        unlink(a->path);
    }
    harness_app_sockaddr(a, &ss, &len);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        int err = errno;
        diag("bind/listen %s: %s", a->url[0] ? a->url : a->path, strerror(err));
        close(fd);
        return -err;
    }
    if (a->transport == HARNESS_TCP && a->port == 0) {
        struct sockaddr_in sin;
        socklen_t sl = sizeof(sin);
        if (getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        a->port = ntohs(sin.sin_port);
        set_addresses(a, NULL);
    }
    return fd;
}

/* fork + exec a->argv. lfd >= 0 becomes the child's fd 0; otherwise fd 0 is
 * /dev/null. Returns 0 once exec succeeded, or -errno. */
static int spawn(struct harness_app *a, int lfd)
{
    int ep[2];
    int devnull = -1;
    if (lfd < 0) {
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0)
            return -errno;
        lfd = devnull;
    }
    if (pipe2(ep, O_CLOEXEC) != 0) {
        int err = errno;
        if (devnull >= 0)
            close(devnull);
        return -err;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(ep[0]);
        close(ep[1]);
        if (devnull >= 0)
            close(devnull);
        return -err;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        int err;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (lfd == 0) {
            if (fcntl(0, F_SETFD, 0) != 0)
                goto fail;
        } else if (dup2(lfd, 0) != 0) {
            goto fail;
        }
        /* Everything above stderr is close-on-exec (our error pipe included). */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 1024; fd++)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        execv(a->argv[0], a->argv);
    fail:
        err = errno;
        if (write(ep[1], &err, sizeof(err)) < 0) {
        }
        _exit(127);
    }
    close(ep[1]);
    if (devnull >= 0)
        close(devnull);
    int err = 0;
    ssize_t n;
    do {
        n = read(ep[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n > 0) {
        waitpid(pid, NULL, 0);
        diag("exec %s: %s", a->argv[0], strerror(err));
        return -(err ? err : EIO);
    }
    a->pid = pid;
    return 0;
}

static int start_listening_app(struct harness_app *a)
{
    int lfd = bind_listener(a);
    if (lfd < 0)
        return lfd;
    int rc = spawn(a, lfd);
    close(lfd);
    return rc;
}

int harness_app_start(struct harness_app **out, enum harness_transport transport,
                      const char *name, const char *const *args)
{
    char exe[PATH_MAX];
    int rc;
    *out = NULL;
    if (strchr(name, '/') != NULL) {
        if (fmt_path(exe, sizeof(exe), "%s", name) != 0)
            return -ENAMETOOLONG;
    } else if ((rc = harness_app_path(name, exe, sizeof(exe))) != 0) {
        return rc;
    }
    struct harness_app *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    a->pid = -1;
    a->transport = transport;
    a->argv = make_argv(exe, args);
    if (a->argv == NULL) {
        free(a);
        return -ENOMEM;
    }
    if ((rc = make_tempdir(a)) != 0) {
        harness_app_stop(a);
        return rc;
    }
    set_addresses(a, "app.sock");
    if ((rc = start_listening_app(a)) != 0) {
        harness_app_stop(a);
        return rc;
    }
    *out = a;
    return 0;
}

int harness_apps_start(struct harness_app **out, size_t n, enum harness_transport transport,
                       const char *name, const char *const *args)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        int rc = harness_app_start(&out[i], transport, name, args);
        if (rc != 0) {
            harness_apps_stop(out, i);
            return rc;
        }
    }
    return 0;
}

int harness_app_exited(struct harness_app *app)
{
    if (app->pid <= 0)
        return 1;
    int st;
    pid_t r = waitpid(app->pid, &st, WNOHANG);
    if (r < 0)
        return -errno;
    if (r == 0)
        return 0;
    app->pid = -1;
    return 1;
}

int harness_app_signal(struct harness_app *app, int sig)
{
    if (app->pid <= 0)
        return -ESRCH;
    return kill(app->pid, sig) == 0 ? 0 : -errno;
}

int harness_app_kill(struct harness_app *app)
{
    if (app == NULL || app->pid <= 0)
        return 0;
    pid_t pid = app->pid;
    int st;
    kill(pid, SIGTERM);
    kill(pid, SIGCONT); /* a stopped process acts on SIGTERM only once continued */
    long long deadline = mono_ms() + KILL_WAIT_MS;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            break;
        if (r < 0 && errno != EINTR) {
            int err = errno;
            diag("waitpid %ld: %s", (long)pid, strerror(err));
            return -err;
        }
        if (mono_ms() >= deadline) {
            diag("pid %ld ignored SIGTERM for %d ms; SIGKILL", (long)pid, KILL_WAIT_MS);
            kill(-pid, SIGKILL); /* its own process group (php-fpm workers too) */
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        sleep_ms(2);
    }
    app->pid = -1;
    return 0;
}

static int php_spawn_and_wait(struct harness_app *a);

int harness_app_restart(struct harness_app *app)
{
    int rc = harness_app_kill(app);
    if (rc != 0)
        return rc;
    if (app->is_php)
        return php_spawn_and_wait(app);
    return start_listening_app(app);
}

void harness_app_stop(struct harness_app *app)
{
    if (app == NULL)
        return;
    harness_app_kill(app);
    if (app->dir[0] != '\0') {
        static const char *const files[] = {"app.sock", "php.sock", "php-fpm.conf", "php.ini",
                                            "php-fpm.log", "php-fpm.pid"};
        char p[256];
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            if (fmt_path(p, sizeof(p), "%s/%s", app->dir, files[i]) == 0)
                unlink(p);
        }
        if (rmdir(app->dir) != 0)
            diag("rmdir %s: %s", app->dir, strerror(errno));
    }
    free_argv(app->argv);
    free(app);
}

void harness_apps_stop(struct harness_app **apps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        harness_app_stop(apps[i]);
        apps[i] = NULL;
    }
}

int harness_app_connect(const struct harness_app *app)
{
    struct sockaddr_storage ss;
    socklen_t len;
    harness_app_sockaddr(app, &ss, &len);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&ss, len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* ---- PHP-FPM ---- */

const char *harness_php_fpm_binary(char *buf, size_t size)
{
    const char *env = getenv("FCGIC_PHP_FPM");
    if (env != NULL && env[0] != '\0')
        return is_executable(env) && fmt_path(buf, size, "%s", env) == 0 ? buf : NULL;

    static const char *const names[] = {"php-fpm8.2", "php-fpm", "php-fpm8.3", "php-fpm8.1",
                                        "php-fpm8.4", "php-fpm8.0", "php-fpm7.4"};
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin", path ? path : "/usr/bin");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *save = NULL;
        char tmp[4096];
        memcpy(tmp, dirs, sizeof(tmp));
        for (char *d = strtok_r(tmp, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
            if (fmt_path(buf, size, "%s/%s", d, names[i]) == 0 && is_executable(buf))
                return buf;
        }
    }
    return NULL;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -EIO;
}

static int free_tcp_port(void)
{
    struct harness_app probe = {.transport = HARNESS_TCP};
    int fd = bind_listener(&probe);
    if (fd < 0)
        return fd;
    close(fd);
    return probe.port;
}

static int php_write_config(struct harness_app *a)
{
    char conf[4096], path[256], listen[160];
    int rc;
    if (a->transport == HARNESS_TCP)
        snprintf(listen, sizeof(listen), "127.0.0.1:%d\nlisten.allowed_clients = 127.0.0.1",
                 a->port);
    else
        snprintf(listen, sizeof(listen), "%s\nlisten.mode = 0666", a->path);
    const char *user = geteuid() == 0 ? "user = root\ngroup = root\n" : "";
    snprintf(conf, sizeof(conf),
             "; written by tests/harness.c\n"
             "[global]\n"
             "pid = %s/php-fpm.pid\n"
             "error_log = %s\n"
             "daemonize = no\n"
             "log_level = notice\n"
             "\n"
             "[fcgictest]\n"
             "%s"
             "listen = %s\n"
             "pm = static\n"
             "pm.max_children = %d\n"
             "pm.status_path = /status\n"
             "ping.path = /ping\n"
             "ping.response = pong\n"
             "catch_workers_output = yes\n"
             "decorate_workers_output = no\n"
             "clear_env = no\n"
             "security.limit_extensions = .php\n",
             a->dir, a->log_path, user, listen, a->php_children);
    if ((rc = fmt_path(path, sizeof(path), "%s/php-fpm.conf", a->dir)) != 0 ||
        (rc = write_file(path, conf)) != 0)
        return rc;
    /* error_log is left unset so error_log() goes to FCGI_STDERR. */
    static const char ini[] = "; written by tests/harness.c\n"
                              "[PHP]\n"
                              "display_errors = Off\n"
                              "display_startup_errors = Off\n"
                              "log_errors = On\n"
                              "html_errors = Off\n"
                              "error_reporting = E_ALL\n"
                              "post_max_size = 0\n"
                              "upload_max_filesize = 1G\n"
                              "memory_limit = 256M\n"
                              "max_execution_time = 60\n"
                              "output_buffering = 0\n"
                              "variables_order = \"EGPCS\"\n"
                              "expose_php = Off\n";
    if ((rc = fmt_path(path, sizeof(path), "%s/php.ini", a->dir)) != 0 ||
        (rc = write_file(path, ini)) != 0)
        return rc;
    return 0;
}

static void dump_log(const struct harness_app *a)
{
    FILE *f = fopen(a->log_path, "r");
    char line[512];
    if (f == NULL)
        return;
    diag("---- %s ----", a->log_path);
    while (fgets(line, sizeof(line), f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

static int php_spawn_and_wait(struct harness_app *a)
{
    int rc;
    if (a->transport == HARNESS_UNIX)
        unlink(a->path);
    if (truncate(a->log_path, 0) != 0 && errno != ENOENT)
        diag("truncate %s: %s", a->log_path, strerror(errno));
    if ((rc = spawn(a, -1)) != 0)
        return rc;
    long long deadline = mono_ms() + PHP_READY_MS;
    for (;;) {
        int fd = harness_app_connect(a);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (harness_app_exited(a) == 1) {
            diag("php-fpm exited during start");
            dump_log(a);
            return -ECHILD;
        }
        if (mono_ms() >= deadline) {
            diag("php-fpm did not accept on %s within %d ms", a->url, PHP_READY_MS);
            dump_log(a);
            harness_app_kill(a);
            return -ETIMEDOUT;
        }
        sleep_ms(10);
    }
}

int harness_php_start(struct harness_app **out, enum harness_transport transport, int children)
{
    char bin[PATH_MAX];
    int rc = 0;
    *out = NULL;
    if (harness_php_fpm_binary(bin, sizeof(bin)) == NULL)
        return HARNESS_SKIP;
    const char *tests = getenv("FCGIC_TESTS_DIR");
    if (tests == NULL || tests[0] == '\0')
        tests = HARNESS_TESTS_DIR;
    struct harness_app *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    a->pid = -1;
    a->transport = transport;
    a->is_php = 1;
    a->php_children = children > 0 ? children : 2;
    if (fmt_path(a->docroot, sizeof(a->docroot), "%s/php", tests) != 0 ||
        (rc = make_tempdir(a)) != 0) {
        harness_app_stop(a);
        return rc ? rc : -ENAMETOOLONG;
    }
    snprintf(a->log_path, sizeof(a->log_path), "%s/php-fpm.log", a->dir);
    char ini[128], conf[128];
    snprintf(ini, sizeof(ini), "%s/php.ini", a->dir);
    snprintf(conf, sizeof(conf), "%s/php-fpm.conf", a->dir);
    const char *const args[] = {"-F", "-R", "-c", ini, "-y", conf, NULL};
    a->argv = make_argv(bin, args);
    if (a->argv == NULL) {
        harness_app_stop(a);
        return -ENOMEM;
    }
    /* A TCP port chosen by bind(0) and released may be taken before php-fpm
     * binds it: try a few ports. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (transport == HARNESS_TCP) {
            int port = free_tcp_port();
            if (port < 0) {
                rc = port;
                break;
            }
            a->port = port;
        }
        set_addresses(a, "php.sock");
        if ((rc = php_write_config(a)) != 0)
            break;
        rc = php_spawn_and_wait(a);
        if (rc == 0 || transport != HARNESS_TCP)
            break;
    }
    if (rc != 0) {
        harness_app_stop(a);
        return rc;
    }
    *out = a;
    return 0;
}

int harness_php_script(const struct harness_app *app, const char *script, char *buf, size_t size)
{
    return fmt_path(buf, size, "%s/%s", app->docroot, script);
}
