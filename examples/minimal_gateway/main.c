/* minimal_gateway: an HTTP/1.1 server in front of FastCGI applications,
 * configured with Apache's directives (minimal_gateway(8)).
 *
 * The process (layer 1 of the design): command line, signals, and one
 * thread per `Threads` (default: the number of processors), each with its
 * own event loop, listening sockets (SO_REUSEPORT), HTTP server, transport,
 * pools and balancers (worker.c). Threads share only the configuration. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiclient/fcgiclient.h>

#include "config.h"
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
          "Signals: TERM or INT stop gracefully (requests in flight finish, at most 10 s).\n"
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

static int serve(struct gw_config *cfg)
{
    const struct gw_server *srv = gw_config_server(cfg);
    unsigned n = srv->threads ? srv->threads : 1;
    struct gw_worker_thread *th = calloc(n, sizeof *th);
    if (th == NULL)
        return 1;
    sigset_t set;
    block_signals(&set);
    int ok = 1;
    unsigned started = 0;
    for (unsigned i = 0; i < n && ok; i++) {
        char err[512] = "";
        if (gw_worker_init(&th[i], cfg, i, err, sizeof err) != 0) {
            fprintf(stderr, "minimal_gateway: thread %u: %s\n", i, err);
            ok = 0;
            gw_worker_fini(&th[i]);
            break;
        }
        if (pthread_create(&th[i].tid, NULL, gw_worker_main, &th[i]) != 0) {
            fprintf(stderr, "minimal_gateway: cannot start thread %u\n", i);
            ok = 0;
            gw_worker_fini(&th[i]);
            break;
        }
        started++;
    }
    if (ok)
        fprintf(stderr, "minimal_gateway %s: %u thread%s, pid %ld\n", GW_VERSION, n, n > 1 ? "s" : "",
                (long)getpid());
    while (ok) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            fprintf(stderr, "minimal_gateway: SIGHUP: reloading the configuration is not supported yet; ignored\n");
    }
    for (unsigned i = 0; i < started; i++)
        gw_worker_request_stop(&th[i]);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i].tid, NULL);
        gw_worker_fini(&th[i]);
    }
    free(th);
    return ok ? 0 : 1;
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
    int rc = serve(cfg);
    gw_config_unref(cfg);
    return rc;
}
