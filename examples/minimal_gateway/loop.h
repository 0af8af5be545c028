/**
 * @file loop.h
 * @brief The gateway's event loop: one per thread, on epoll.
 *
 * A loop watches file descriptors, runs timers and deferred work, and keeps a
 * cached monotonic clock. It has no global state: every thread creates its
 * own loop and touches only that one (gw_loop_stop() and gw_async_send() are
 * the only calls another thread may make).
 *
 * Watchers, timers, deferred items and async items are structs the caller
 * embeds in its own objects (no allocation per watcher); their members are
 * private. A callback finds its object with GW_CONTAINER_OF().
 *
 * **Watchers are level triggered**: a watcher whose interest includes
 * GW_IO_IN is called on every iteration while the fd is readable. This suits
 * foreign fds handed over by libraries in the curl multi_socket / c-ares
 * style (on_socket(fd, interest)): the library reads until EAGAIN or not, and
 * nothing is lost. A watcher that does not want more input drops GW_IO_IN.
 * A watcher started with GW_IO_EDGE is edge triggered instead (the client
 * connections: interest in everything once, readiness remembered by the
 * owner).
 *
 * Order of one iteration: wait (for I/O, the earliest timer, or not at all
 * when deferred work is queued), refresh `now`, call the watchers that are
 * ready, run the timers that are due, run the deferred work (including work
 * deferred by deferred work, until none is left).
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** The address of the struct of `type` whose member `member` is at `ptr`. */
#define GW_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct gw_loop;

/** Interest bits (gw_watch_start(), gw_watch_set()) and event bits (callbacks). */
#define GW_IO_IN 1u    /**< readable (interest and event) */
#define GW_IO_OUT 2u   /**< writable (interest and event) */
#define GW_IO_RDHUP 4u /**< interest: report the peer's shutdown even without GW_IO_IN;
                            event: the peer shut down its writing side */
#define GW_IO_ERR 8u   /**< event only: error or hang-up (EPOLLERR / EPOLLHUP); always reported */
#define GW_IO_EDGE 16u /**< interest: edge triggered (EPOLLET): an event says readiness changed, and
                            the owner keeps it until a read or write comes back short; the
                            interest is then set once, with no system call per request */

struct gw_watch;
/** Called with the ready events (GW_IO_*); may change or stop any watcher,
 *  including this one, and may free the memory of a stopped watcher. */
typedef void (*gw_watch_cb)(struct gw_loop *loop, struct gw_watch *w, unsigned events);

/** A file descriptor watcher. Members are private. */
struct gw_watch {
    int fd;
    unsigned interest;
    unsigned kernel; /* the interest epoll has: a superset of interest (dropped lazily) */
    bool active;
    gw_watch_cb cb;
};

struct gw_timer;
/** Called once when the deadline passed; the timer is stopped by then and may
 *  be started again or its memory freed. */
typedef void (*gw_timer_cb)(struct gw_loop *loop, struct gw_timer *t);

/** A one-shot timer. Members are private; zero-filled means stopped. */
struct gw_timer {
    uint64_t deadline;
    size_t slot; /* heap index + 1; 0 = stopped */
    gw_timer_cb cb;
};

struct gw_defer;
typedef void (*gw_defer_cb)(struct gw_loop *loop, struct gw_defer *d);

/** Work to run at the end of the current iteration. Members are private;
 *  zero-filled means not queued. */
struct gw_defer {
    struct gw_defer *next;
    bool queued;
    gw_defer_cb cb;
};

struct gw_async;
typedef void (*gw_async_cb)(struct gw_loop *loop, struct gw_async *a);

/** Work another thread hands to a loop (gw_async_send()). Members are private. */
struct gw_async {
    struct gw_async *next;
    bool queued;
    gw_async_cb cb;
};

/**
 * Create a loop (an epoll instance and an eventfd, both close-on-exec).
 * @return 0, -ENOMEM, or -errno of epoll_create1() / eventfd().
 */
int gw_loop_new(struct gw_loop **out);

/** Free a loop. Watchers and timers still registered are forgotten (their
 *  fds are not closed); pending deferred and async work is dropped. NULL is
 *  a no-op. Not from inside gw_loop_run(). */
void gw_loop_free(struct gw_loop *loop);

/** Run iterations until gw_loop_stop(). @return 0, or -errno when epoll_wait() fails. */
int gw_loop_run(struct gw_loop *loop);

/**
 * Run one iteration, waiting at most `timeout_ns` for I/O (0: do not wait;
 * UINT64_MAX: until something happens). Tests and embedders that step the
 * loop themselves use this. @return 0, or -errno of epoll_wait().
 */
int gw_loop_run_once(struct gw_loop *loop, uint64_t timeout_ns);

/** Make gw_loop_run() return after the current iteration. Any thread. */
void gw_loop_stop(struct gw_loop *loop);

/** Whether gw_loop_stop() was called (the flag is cleared when gw_loop_run() starts). */
bool gw_loop_stopping(const struct gw_loop *loop);

/** The cached CLOCK_MONOTONIC time in nanoseconds, refreshed once per
 *  iteration right after the wait (and by gw_loop_update_now()). */
uint64_t gw_loop_now(const struct gw_loop *loop);

/** Refresh the cached time now (after a long computation). @return it. */
uint64_t gw_loop_update_now(struct gw_loop *loop);

/**
 * Watch `fd` for `interest` (GW_IO_IN, GW_IO_OUT, GW_IO_RDHUP; 0 keeps the fd
 * registered with no interest except errors). The fd may belong to anybody
 * (a client socket, a library's backend socket); the loop never closes it.
 * @return 0, -EBUSY when w is already started, or -errno of epoll_ctl().
 */
int gw_watch_start(struct gw_loop *loop, struct gw_watch *w, int fd, unsigned interest, gw_watch_cb cb);

/** Change the interest of a started watcher. No system call when it only
 *  shrinks: epoll keeps the old interest until an event nobody wants
 *  arrives (that event is not delivered; the interest is cut then), so
 *  dropping input for a moment and taking it again costs nothing when no
 *  byte came meanwhile. Growing it costs an epoll_ctl() unless epoll still
 *  has it. @return 0, -EINVAL when w is not started, or -errno of epoll_ctl(). */
int gw_watch_set(struct gw_loop *loop, struct gw_watch *w, unsigned interest);

/** The current interest of w (0 when stopped). */
unsigned gw_watch_interest(const struct gw_watch *w);

/** Stop watching (call it before closing the fd). Events of this iteration
 *  not yet delivered to w are dropped. No-op when not started. */
void gw_watch_stop(struct gw_loop *loop, struct gw_watch *w);

/** Prepare a timer (stopped) with its callback. */
void gw_timer_init(struct gw_timer *t, gw_timer_cb cb);

/**
 * Start or move a timer to fire at `deadline` (absolute, nanoseconds of the
 * loop's clock; gw_loop_now() + delay). O(log n).
 * @return 0, or -ENOMEM when the heap could not grow (the timer is then stopped).
 */
int gw_timer_start(struct gw_loop *loop, struct gw_timer *t, uint64_t deadline);

/** Stop a timer; no-op when stopped. O(log n). */
void gw_timer_stop(struct gw_loop *loop, struct gw_timer *t);

/** Whether the timer is started. */
bool gw_timer_active(const struct gw_timer *t);

/** The earliest deadline of the loop's timers, UINT64_MAX when none. */
uint64_t gw_loop_next_deadline(const struct gw_loop *loop);

/** Prepare a deferred item with its callback (not queued). */
void gw_defer_init(struct gw_defer *d, gw_defer_cb cb);

/** Queue d to run at the end of this iteration (or of the next one when the
 *  loop is waiting); no-op when already queued. Loop thread only. */
void gw_defer_post(struct gw_loop *loop, struct gw_defer *d);

/** Unqueue d; no-op when not queued. O(queue length). */
void gw_defer_cancel(struct gw_loop *loop, struct gw_defer *d);

/** Prepare an async item with its callback. */
void gw_async_init(struct gw_async *a, gw_async_cb cb);

/** From any thread: run a's callback on the loop's thread soon (wakes the
 *  loop). No-op when already queued. a must stay valid until it ran. */
void gw_async_send(struct gw_loop *loop, struct gw_async *a);

/* Listener ----------------------------------------------------------------- */

struct gw_listener;

/** A new connection: `fd` is nonblocking and close-on-exec and belongs to
 *  the callee; `peer` is borrowed for the call. */
typedef void (*gw_accept_cb)(void *ud, int fd, const struct sockaddr *peer, socklen_t peer_len);

/**
 * Listen on a numeric address ("0.0.0.0", "::", "127.0.0.1", "[::1]"; NULL
 * means "::" with IPv4 mapped in) and port (0: any, see gw_listener_port()),
 * with SO_REUSEADDR and SO_REUSEPORT, so every loop (thread) binds its own
 * socket to the same address and the kernel spreads connections over them.
 * The listener accepts with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) up to 64
 * connections per wakeup. When out of descriptors (EMFILE, ENFILE) or memory
 * (ENOBUFS, ENOMEM) it stops accepting for 100 ms instead of spinning.
 * No name is looked up (nothing blocks).
 * @return 0, -EINVAL (address not numeric), -ENOMEM, or -errno of
 *         socket()/bind()/listen().
 */
int gw_listener_new(struct gw_listener **out, struct gw_loop *loop, const char *addr, uint16_t port, int backlog,
                    gw_accept_cb cb, void *ud);

/**
 * Accept on a listening socket that already exists (a configuration reload
 * hands the previous generation's sockets over, dup()ed, so no connection
 * waiting in their accept queues is lost). On success the listener owns fd.
 * @return 0, -ENOMEM, or -errno of getsockname() / the watcher.
 */
int gw_listener_adopt(struct gw_listener **out, struct gw_loop *loop, int fd, gw_accept_cb cb, void *ud);

/** The bound port (useful after port 0). */
uint16_t gw_listener_port(const struct gw_listener *l);

/** The listening socket. */
int gw_listener_fd(const struct gw_listener *l);

/** How many times accepting was paused for lack of descriptors or memory. */
unsigned long gw_listener_pauses(const struct gw_listener *l);

/** Stop watching, close the socket, free. NULL is a no-op. */
void gw_listener_free(struct gw_listener *l);

#endif /* GW_LOOP_H */
