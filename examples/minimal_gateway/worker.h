/**
 * @file worker.h
 * @brief One thread of minimal_gateway: its event loop, its listening
 *        sockets (SO_REUSEPORT), its HTTP server, and its backends: the
 *        library's POSIX transport driven from the loop (socket and timer
 *        callbacks, libcurl multi_socket style) with a pool per worker and a
 *        balancer per `balancer://` of the configuration.
 *
 * Every object here belongs to its thread; threads share only the
 * configuration tree (immutable, counted).
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <fcgiclient/fcgiclient.h>

#include "config.h"
#include "log.h"
#include "http.h"
#include "loop.h"
#include "status.h"

struct gw_fdwatch;

/** A pool or a balancer of this thread, with the timer its on_timer arms. */
struct gw_backend {
    struct gw_worker_thread *t;
    struct fcgic_pool *pool;     /**< a worker's pool, or NULL */
    struct fcgic_balancer *bal;  /**< a balancer, or NULL */
    const char *name;            /**< the worker's address or the balancer's name */
    struct gw_timer timer;
};

/** One thread. */
struct gw_worker_thread {
    unsigned index;
    struct gw_config *cfg; /**< a reference */
    const struct gw_server *srv;
    struct gw_loop *loop;
    struct gw_http_server *http;
    struct gw_listener **listeners;
    size_t n_listeners;
    struct fcgic_posix *px;
    struct gw_timer px_timer;
    struct gw_fdwatch **fdw; /**< by file descriptor */
    size_t n_fdw;
    struct gw_backend *backends; /**< workers first, then balancers, in the tree's order */
    size_t n_backends;
    struct fcgic_env *env;       /**< reused by every request of the thread */
    struct fcgic_expr_ctx *expr_ctx; /**< SetEnvIf and ProxyFCGISetEnvIf evaluation */
    struct fcgic_env *vars;      /**< a request's SetEnv / SetEnvIf variables */
    struct gw_async stop;        /**< posted by the main thread: drain and stop */
    struct gw_timer drain_timer;
    uint64_t drain_deadline;
    unsigned long active;        /**< proxied requests in flight */
    struct gw_log *log;          /**< the generation's logs (shared by its threads) */
    uint64_t stderr_sec;         /**< application STDERR rate limit: the current second, */
    unsigned long stderr_lines, stderr_dropped; /**< lines logged and dropped in it */
    struct gw_timer stderr_timer; /**< reports the lines dropped once the second is over */
    struct gw_status_board *board; /**< the generation's status board (status.h), or NULL */
    struct gw_counters counters;   /**< this thread's gateway counters, for server-status */
    pthread_t tid;
    int error; /**< setup error (negative errno or fcgic error), 0 */
};

/**
 * Set up a thread's objects (not the thread itself): loop, listeners,
 * transport, backends, HTTP server. On error, *err says what failed.
 * @param inherit NULL, or per `Listen` of the configuration a listening
 *        socket to take over (owned by the thread from now on, even on
 *        error), or -1 to bind a new one.
 * @return 0 or a negative value.
 */
int gw_worker_init(struct gw_worker_thread *t, struct gw_config *cfg, unsigned index, const int *inherit, char *err,
                   size_t errsz);

/** Run the thread's loop until it was asked to stop and drained. */
void *gw_worker_main(void *arg);

/** From any thread: stop accepting, finish requests in flight (at most
 *  `grace_ns`), then stop the loop. */
void gw_worker_request_stop(struct gw_worker_thread *t);

/** Free what gw_worker_init() set up (after the loop stopped). */
void gw_worker_fini(struct gw_worker_thread *t);

/** The backend of a mapping (its worker's pool or its balancer), or NULL. */
struct gw_backend *gw_worker_backend(struct gw_worker_thread *t, const struct gw_mapping *m);

#endif /* GW_WORKER_H */
