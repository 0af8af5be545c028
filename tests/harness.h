/* Test harness: start and stop real FastCGI applications for integration tests.
 *
 * Apps (tests/apps/app-echo, tests/apps/app-mpx, or any program that accepts on
 * fd 0) are started the way spawn-fcgi does it: the harness binds and listens in
 * the parent (127.0.0.1 on a fresh port, or a unix socket in a fresh temp
 * directory), forks, makes the listening socket fd 0 of the child, closes every
 * other descriptor above 2 and execs the app. The parent closes its copy, so a
 * stopped app refuses connections. PHP-FPM binds its own socket from a config
 * file the harness writes.
 *
 * Every process is started in its own process group, with PR_SET_PDEATHSIG =
 * SIGTERM: when the process (or thread) that started it exits — a Check test
 * that failed in its forked child, say — the app is terminated too. Start and
 * stop apps from the same thread.
 *
 * Functions print a diagnostic to stderr and return a negative errno-style value
 * (or HARNESS_SKIP) on failure; they never abort. Not thread-safe; one handle,
 * one thread. */
#ifndef FCGIC_TEST_HARNESS_H
#define FCGIC_TEST_HARNESS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Exit status meson reads as "skipped". A test program whose every test needs
 * PHP-FPM returns it from main() when harness_php_fpm_binary() finds none. */
#define HARNESS_EXIT_SKIP 77

/* Returned by harness_php_start() when no php-fpm binary exists. */
#define HARNESS_SKIP 1

enum harness_transport {
    HARNESS_TCP = 0, /* 127.0.0.1, fresh port */
    HARNESS_UNIX = 1 /* <fresh temp dir>/app.sock */
};

/* A running (or stopped-but-kept) application. The public fields are read-only
 * for callers and stay valid (and keep their values across restarts) until
 * harness_app_stop(). */
struct harness_app {
    pid_t pid;                       /* -1 while not running */
    enum harness_transport transport;
    char host[16];                   /* "127.0.0.1" (TCP), "" (unix) */
    int port;                        /* TCP port, 0 for unix */
    char path[108];                  /* unix socket path, "" for TCP */
    char url[192];                   /* "fcgi://127.0.0.1:PORT" or
                                        "unix:/tmp/fcgic-h-XXXXXX/app.sock|fcgi://localhost" */
    char dir[64];                    /* private temp dir; removed by harness_app_stop() */
    char docroot[4096];              /* PHP-FPM only: absolute tests/php directory */
    char log_path[128];              /* PHP-FPM only: dir/php-fpm.log */
    /* private */
    int is_php;
    int php_children;
    char **argv;                     /* heap copy: exe path + extra args + NULL */
};

/* Absolute path of a built test app ("app-echo", "app-mpx") into buf. Looks in
 * $FCGIC_BUILD_DIR/tests/, then the build directory compiled into the harness,
 * then the directory of the running test executable. Returns 0, -ENOENT when
 * not found, -ENAMETOOLONG. */
int harness_app_path(const char *name, char *buf, size_t size);

/* Start an app listening on a fresh address.
 * name: "app-echo"/"app-mpx" (found with harness_app_path()) or a path with '/'.
 * args: extra argv (NULL-terminated; NULL means none), copied.
 * Returns once the exec succeeded (the socket already listens, so clients may
 * connect at once; the app accepts when it gets there). Returns 0 with *out set,
 * or a negative errno value (-ENOENT app not found, exec errno, ...). */
int harness_app_start(struct harness_app **out, enum harness_transport transport,
                      const char *name, const char *const *args);

/* Start n copies, each on its own address (balancer tests). On failure the
 * copies already started are stopped and out[] is all NULL. */
int harness_apps_start(struct harness_app **out, size_t n, enum harness_transport transport,
                       const char *name, const char *const *args);

/* Stop the process (SIGTERM; SIGKILL to its process group after 3 s; reaped)
 * but keep the handle and its address for harness_app_restart(). The address
 * refuses connections afterwards. No-op when not running. Returns 0, or the
 * negative errno of a failed kill/waitpid. */
int harness_app_kill(struct harness_app *app);

/* Send a signal to the running app (e.g. SIGSTOP / SIGCONT for hang tests).
 * Returns 0 or -errno (-ESRCH when not running). */
int harness_app_signal(struct harness_app *app, int sig);

/* Stop if running, then start the same program on the same address (same TCP
 * port / socket path, same url). For TCP the port is bound with SO_REUSEADDR;
 * a port taken by someone else meanwhile gives -EADDRINUSE. */
int harness_app_restart(struct harness_app *app);

/* Has the app exited on its own (e.g. after close=exit)? Reaps it if so and
 * sets pid to -1. Returns 1 exited, 0 running, -errno. */
int harness_app_exited(struct harness_app *app);

/* Stop (as harness_app_kill), remove the socket file and temp dir, free. NULL
 * is a no-op. */
void harness_app_stop(struct harness_app *app);
void harness_apps_stop(struct harness_app **apps, size_t n);

/* The app's address as a sockaddr (AF_INET or AF_UNIX). */
void harness_app_sockaddr(const struct harness_app *app, struct sockaddr_storage *ss,
                          socklen_t *len);

/* A blocking socket connected to the app, with 10 s send/receive timeouts and
 * FD_CLOEXEC. Returns the fd or -errno. */
int harness_app_connect(const struct harness_app *app);

/* ---- PHP-FPM ---- */

/* The php-fpm binary ($FCGIC_PHP_FPM, php-fpm8.2, php-fpm, /usr/sbin/php-fpm*,
 * searched in $PATH, /usr/sbin, /usr/local/sbin) into buf. Returns buf, or NULL
 * when there is none (then skip the PHP tests). */
const char *harness_php_fpm_binary(char *buf, size_t size);

/* Write a php-fpm config (one static pool of `children` workers, status at
 * /status, ping at /ping answering "pong", catch_workers_output, clear_env=no,
 * post_max_size=0, error_log() to FCGI_STDERR, running as root with -R when we
 * are root) and a php.ini into a fresh temp dir and run
 * `php-fpm -F -R -c dir/php.ini -y dir/php-fpm.conf`, listening on
 * 127.0.0.1:<free port> or dir/php.sock. Returns once the socket accepts (10 s limit; the fpm log is
 * copied to stderr on failure). Returns 0, HARNESS_SKIP when php-fpm is absent,
 * or a negative errno value. docroot is the tests/php directory
 * ($FCGIC_TESTS_DIR/php, else the source dir compiled in). */
int harness_php_start(struct harness_app **out, enum harness_transport transport, int children);

/* Absolute SCRIPT_FILENAME of a script in docroot ("env.php") into buf.
 * Returns 0 or -ENAMETOOLONG. */
int harness_php_script(const struct harness_app *app, const char *script, char *buf, size_t size);

#endif
