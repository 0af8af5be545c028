/* The four scenarios of the embedding examples (concurrent, cancel, slow,
 * upload), written once against the pool API and a small loop interface that
 * each example program supplies: embed-libuv (its own transport on libuv) and
 * embed-epoll (the library's POSIX transport inside a plain epoll loop).
 *
 * Nothing here knows how bytes move. A scenario creates a pool over the
 * program's struct fcgic_transport, arms one loop timer from the pool's
 * on_timer hook, builds each request's params with the CGI environment
 * builder, runs the loop until its requests are over and prints one result
 * line on stdout. */
#ifndef EMBED_SCENARIOS_H
#define EMBED_SCENARIOS_H

#include <fcgiclient/fcgiclient.h>
#include <stdint.h>

/** A one-shot timer of the program's loop. Opaque to the scenarios. */
struct emb_timer;

/** What a program's event loop offers the scenarios. Every callback runs on
 *  the loop's thread; `fire` callbacks run from the loop itself, never from
 *  inside a library call, so they may call any pool function. */
struct emb_loop {
    void *ud;
    /** The clock of the transport, in nanoseconds. */
    uint64_t (*now)(void *ud);
    /** A stopped timer that calls fire(arg) when due; NULL when out of memory. */
    struct emb_timer *(*timer_new)(void *ud, void (*fire)(void *arg), void *arg);
    /** Fire once at `when` (a time of now(); at once when it has passed);
     *  FCGIC_NO_DEADLINE stops the timer. Replaces an earlier setting. */
    void (*timer_at)(struct emb_timer *t, uint64_t when);
    void (*timer_free)(struct emb_timer *t);
    /** Run the loop until done(arg) is nonzero (checked after every round)
     *  or limit_ns passed. @return 0 when done, -1 on the limit or a loop
     *  error. */
    int (*run_until)(void *ud, int (*done)(void *arg), void *arg, uint64_t limit_ns);
    /** Sockets the transport still has open (to show that a cancelled
     *  request's connection really goes away). */
    size_t (*transport_conns)(void *ud);
};

/** The command line shared by both programs. */
struct emb_config {
    const char *backend; /**< pool target: fcgi://127.0.0.1:9000, unix:/x.sock|fcgi://localhost */
    const char *docroot; /**< -p DIR: PHP-FPM with the scripts of tests/php in DIR; NULL: app-echo */
    const char *mode;    /**< concurrent, cancel, slow, upload */
    uint64_t n;          /**< the mode's number (requests, bytes) */
    unsigned max;        /**< -m: the pool's max connections */
};

/** Parse `[-p DOCROOT] [-m MAX] BACKEND MODE [N]`; prints the usage and
 *  returns -1 when it is wrong. */
int emb_parse_args(int argc, char **argv, struct emb_config *cfg);

/** Run cfg->mode with a pool over transport `tr` on `loop` and print its
 *  result line. The pool is freed before this returns; the transport's
 *  connections are closed through it (the program may still have to run
 *  its loop to let closing handles finish). @return 0 when the mode's
 *  checks passed, 1 when they failed, 2 on a setup error. */
int emb_run(const struct emb_config *cfg, const struct emb_loop *loop, const struct fcgic_transport *tr);

#endif
