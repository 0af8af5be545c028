/* minimal_gateway: an HTTP/1.1 server in front of FastCGI applications,
 * configured with Apache's directives (minimal_gateway(8)).
 *
 * The process (layer 1 of the design): command line, signals, and one
 * thread per `Threads` (default: the number of processors), each with its
 * own event loop, listening sockets (SO_REUSEPORT), HTTP server, transport,
 * pools and balancers (worker.c). Threads share only the configuration. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiclient/fcgiclient.h>

#include "config.h"
#include "status.h"
#include "worker.h"

#define GW_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("Usage: minimal_gateway -f FILE [-t]\n"
          "       minimal_gateway -h | -v\n"
          "\n"
          "An HTTP/1.1 server that forwards requests to FastCGI applications, configured\n"
          "with the Apache httpd directives of mod_proxy_fcgi (see minimal_gateway(8)).\n"
          "\n"
          "  -f FILE     the configuration file; the server runs in the foreground\n"
          "  -t          check the configuration, print \"Syntax OK\" and exit\n"
          "  -h, --help  this text\n"
          "  -v          the version\n"
          "\n"
          "Signals: TERM or INT stop gracefully (requests in flight finish, at most 10 s);\n"
          "HUP reloads the configuration without dropping connections; USR1 reopens the logs.\n"
          "Exit status: 0 success; 1 configuration or startup error; 2 usage error.\n",
          f);
}

static int load(const char *path, struct gw_config **cfg)
{
    struct gw_config_error err;
    unsigned flags = getenv("GW_NO_JIT") ? GW_CONFIG_NO_JIT : 0; /* valgrind cannot follow JIT code */
    int rc = gw_config_load(path, flags, cfg, &err);
    if (rc != 0) {
        if (err.line)
            fprintf(stderr, "minimal_gateway: %s:%u: %s\n", err.file, err.line, err.message);
        else
            fprintf(stderr, "minimal_gateway: %s%s%s\n", err.file, err.file[0] ? ": " : "", err.message);
        return 1;
    }
    return 0;
}

/* Block the signals the main thread waits for, in every thread. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The threads serving one configuration. */
struct generation {
    struct gw_config *cfg;
    struct gw_log *log;
    struct gw_status_board *board;
    struct gw_worker_thread *th;
    unsigned n, started;
};

static bool same_listen(const struct gw_listen *a, const struct gw_listen *b)
{
    return a->port == b->port && ((a->addr == NULL && b->addr == NULL) ||
                                  (a->addr && b->addr && strcmp(a->addr, b->addr) == 0));
}

/* Thread i of the new generation takes over (dup()ed) the listening
 * sockets of thread i of the previous one for the addresses both have, so
 * connections waiting in those accept queues are served, not reset. */
static void inherited(const struct generation *prev, const struct gw_server *srv, unsigned i, int *fds)
{
    for (size_t k = 0; k < srv->n_listen; k++) {
        fds[k] = -1;
        if (prev == NULL || i >= prev->started)
            continue;
        const struct gw_worker_thread *o = &prev->th[i];
        const struct gw_server *osrv = gw_config_server(prev->cfg);
        for (size_t j = 0; j < osrv->n_listen && j < o->n_listeners; j++)
            if (same_listen(&osrv->listen[j], &srv->listen[k])) {
                fds[k] = dup(gw_listener_fd(o->listeners[j]));
                break;
            }
    }
}

static void gen_stop(struct generation *g)
{
    for (unsigned i = 0; i < g->started; i++)
        gw_worker_request_stop(&g->th[i]);
    for (unsigned i = 0; i < g->started; i++) {
        pthread_join(g->th[i].tid, NULL);
        gw_worker_fini(&g->th[i]);
    }
    free(g->th);
    gw_status_board_free(g->board);
    gw_log_close(g->log);
    gw_config_unref(g->cfg);
    memset(g, 0, sizeof *g);
}

static int gen_start(struct generation *g, struct gw_config *cfg, const struct generation *prev)
{
    const struct gw_server *srv = gw_config_server(cfg);
    memset(g, 0, sizeof *g);
    g->cfg = gw_config_ref(cfg);
    g->n = srv->threads ? srv->threads : 1;
    char lerr[600];
    if (gw_log_open(&g->log, srv, lerr, sizeof lerr) != 0) {
        fprintf(stderr, "minimal_gateway: %s\n", lerr);
        gen_stop(g);
        return -1;
    }
    int *fds = calloc(srv->n_listen ? srv->n_listen : 1, sizeof *fds);
    if ((g->th = calloc(g->n, sizeof *g->th)) == NULL || fds == NULL ||
        gw_status_board_new(&g->board, srv, g->n) != 0) {
        free(fds);
        gen_stop(g);
        return -1;
    }
    for (unsigned i = 0; i < g->n; i++) {
        char err[512] = "";
        inherited(prev, srv, i, fds);
        if (gw_worker_init(&g->th[i], cfg, i, fds, err, sizeof err) != 0) {
            fprintf(stderr, "minimal_gateway: thread %u: %s\n", i, err);
            gw_worker_fini(&g->th[i]);
            break;
        }
        g->th[i].log = g->log;
        g->th[i].board = g->board;
        gw_status_attach(&g->th[i]);
        if (pthread_create(&g->th[i].tid, NULL, gw_worker_main, &g->th[i]) != 0) {
            fprintf(stderr, "minimal_gateway: cannot start thread %u\n", i);
            gw_status_detach(&g->th[i]);
            gw_worker_fini(&g->th[i]);
            break;
        }
        g->started++;
    }
    free(fds);
    if (g->started < g->n) {
        gen_stop(g);
        return -1;
    }
    return 0;
}

/* SIGHUP: a new tree and new threads; the old threads hand their sockets
 * over, finish what they run, and go. A configuration that does not load
 * changes nothing. */
static void reload(const char *file, struct generation *cur)
{
    struct gw_config *cfg = NULL;
    if (load(file, &cfg) != 0) {
        fprintf(stderr, "minimal_gateway: SIGHUP: the new configuration has errors; still serving the old one\n");
        return;
    }
    struct generation next;
    int rc = gen_start(&next, cfg, cur);
    gw_config_unref(cfg);
    if (rc != 0) {
        fprintf(stderr, "minimal_gateway: SIGHUP: cannot start with the new configuration; still serving the old one\n");
        return;
    }
    gen_stop(cur);
    *cur = next;
    fprintf(stderr, "minimal_gateway: configuration reloaded, %u thread%s\n", cur->n, cur->n > 1 ? "s" : "");
}

static int serve(const char *file, struct gw_config *cfg)
{
    sigset_t set;
    block_signals(&set);
    struct generation cur;
    if (gen_start(&cur, cfg, NULL) != 0)
        return 1;
    fprintf(stderr, "minimal_gateway %s: %u thread%s, pid %ld\n", GW_VERSION, cur.n, cur.n > 1 ? "s" : "",
            (long)getpid());
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            reload(file, &cur);
        if (sig == SIGUSR1 && gw_log_reopen(cur.log) != 0)
            fprintf(stderr, "minimal_gateway: SIGUSR1: a log file could not be reopened\n");
    }
    gen_stop(&cur);
    return 0;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int test = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            const char *lib;
            fcgic_version(&lib);
            printf("minimal_gateway %s (libfcgiclient %s)\n", GW_VERSION, lib);
            return 0;
        } else if (strcmp(a, "-t") == 0) {
            test = 1;
        } else if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strncmp(a, "-f", 2) == 0 && a[2]) {
            file = a + 2;
        } else {
            fprintf(stderr, "minimal_gateway: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "minimal_gateway: no configuration file (-f FILE)\n");
        usage(stderr);
        return 2;
    }
    struct gw_config *cfg = NULL;
    if (load(file, &cfg) != 0)
        return 1;
    if (test) {
        puts("Syntax OK");
        gw_config_unref(cfg);
        return 0;
    }
    int rc = serve(file, cfg);
    gw_config_unref(cfg);
    return rc;
}
