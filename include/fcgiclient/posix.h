/**
 * @file posix.h
 * @brief Optional POSIX transport: FastCGI over TCP and unix-domain sockets.
 *
 * Three layers, all on the same code:
 *  - backend addresses as users write them (fcgic_posix_addr_parse());
 *  - an event-loop object, struct fcgic_posix, that owns many sockets and
 *    their connection engines (and, in its built-in loop, ticks the pools
 *    and balancers attached to it: fcgic_posix_attach_pool()). The embedder owns the loop, in the libcurl
 *    multi / c-ares way: the object reports socket interest and its next
 *    deadline through callbacks, and is driven with
 *    fcgic_posix_socket_action() and fcgic_posix_timeout(). It can also run
 *    its own poll(2) loop (fcgic_posix_run(), fcgic_posix_run_until()), and
 *    it implements struct fcgic_transport (fcgic_posix_transport()) so a
 *    pool or balancer can open, kick and close connections through it;
 *  - a blocking one-call request, fcgic_posix_request().
 *
 * Sockets are nonblocking and close-on-exec; TCP sockets get TCP_NODELAY.
 * Output is written with sendmsg(2) straight from the engine's iovec list
 * with MSG_NOSIGNAL (SO_NOSIGPIPE where MSG_NOSIGNAL does not exist), so a
 * peer that goes away never raises SIGPIPE and no process-wide signal
 * disposition is touched. Input is read into one reusable buffer per object.
 *
 * Host names. Numeric IPv4 and IPv6 addresses never go to a resolver.
 * Host names are looked up, in this order of preference:
 *  - by the embedder's resolver, when the options set `resolve`: it is
 *    asked for the host and answers, now or later, with
 *    fcgic_posix_resolved();
 *  - by c-ares, when the library was built with it (meson option
 *    `-Dcares=auto|enabled|disabled`; fcgic_posix_has_cares() tells): its
 *    sockets are reported through on_socket (with c NULL) and its timers
 *    are part of the object's deadline, and it never blocks;
 *  - else by getaddrinfo(3), which blocks the calling thread inside
 *    fcgic_posix_open() (and so inside fcgic_pool_submit()).
 * With the first two, fcgic_posix_open() returns at once with the engine
 * connecting and the lookup running; requests may be submitted. A lookup
 * that fails ends them through on_end with FCGIC_E_RESOLVE (pools and
 * balancers take it as a member error: a balancer fails over). Answers are
 * kept per host name for their TTL (the DNS TTL with c-ares, the hook's
 * ttl_ns) and shared by the connections opened meanwhile; once it passes,
 * the next connection looks the name up again, so a long-running pool
 * follows a backend whose address changes (nginx's `resolve`). Lookups
 * that fail are not kept. getaddrinfo answers are not kept either.
 *
 * Threads: one object, one thread at a time; the pools and balancers that
 * use it as their transport, and the engines it creates, belong to the same
 * thread.
 *
 * Engine callbacks (on_end, body_read, ...) may call fcgic_posix_open(),
 * fcgic_posix_kick(), fcgic_posix_close() and fcgic_posix_free() (the last
 * two deferred for the connection or object that is running), and
 * fcgic_conn_submit() and friends on any connection. They must not drive the
 * object (fcgic_posix_socket_action(), fcgic_posix_timeout(),
 * fcgic_posix_run*()): that returns FCGIC_E_REENTRANT when the object ran
 * the callback, and is not allowed either from callbacks that the
 * embedder's own fcgic_conn_submit() or fcgic_conn_resume() calls run.
 *
 * Times (`now`, deadlines) are nanoseconds on the clock the embedder uses
 * for the connection engines. The built-in loop and the blocking call use
 * CLOCK_MONOTONIC (fcgic_posix_now()); an embedder that mixes them with its
 * own calls must use the same clock.
 */
#ifndef FCGICLIENT_POSIX_H
#define FCGICLIENT_POSIX_H

#include "common.h"
#include "conn.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fcgic_pool;     /* pool.h */
struct fcgic_balancer; /* balancer.h */
struct addrinfo;       /* <netdb.h> */
/** A host-name lookup handed to the options' resolve hook. Opaque. */
struct fcgic_posix_query;

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */
/* ------------------------------------------------------------------------ */

/** Kinds of backend address. */
enum fcgic_posix_addr_kind {
    FCGIC_POSIX_ADDR_TCP = 1, /**< `fcgi://host:port[/path]` */
    FCGIC_POSIX_ADDR_UNIX = 2 /**< `unix:/path/to.sock|fcgi://host[/path]` */
};

/**
 * A backend address split into spans. Every span points into the string
 * given to fcgic_posix_addr_parse() and lives as long as it does.
 */
struct fcgic_posix_addr {
    enum fcgic_posix_addr_kind kind;
    /** The host of the fcgi:// part, without the brackets of an IPv6
     *  literal. UNIX: only a name (never resolved). */
    struct fcgic_span host;
    /** TCP: the port, 1..65535. UNIX: 0 (a port after '|' is ignored). */
    uint16_t port;
    /** The path after the authority of the fcgi:// part ("/..." or empty).
     *  Not used to connect. */
    struct fcgic_span path;
    /** UNIX: the socket's file name (after "unix:", up to '|'). TCP:
     *  empty. */
    struct fcgic_span socket_path;
    /** 1 when host is an IPv6 literal (written in brackets). */
    int ipv6_literal;
};

/**
 * Split a backend address as users write it, and check that it can be
 * connected to.
 *
 * The syntax is that of fcgic_env_parse_target() (env.h), shared with the
 * CGI environment builder: an optional `proxy:` prefix, then
 *  - `fcgi://host:port[/path]`, host an IPv4 address, a bracketed IPv6
 *    address (`fcgi://[::1]:9000/`) or a host name. The port is required:
 *    there is no default;
 *  - `unix:/path/to.sock|fcgi://host[:port][/path]` (Apache's form), or a
 *    bare `unix:/path/to.sock` (as `...|fcgi://localhost`). The
 *    part after '|' is reported but not used to connect. The socket path
 *    must be shorter than sun_path (108 bytes on Linux); a relative path is
 *    relative to the working directory at connect time.
 * Scheme names are case-insensitive; spaces and control bytes are refused.
 *
 * @param target the address, NUL-terminated; borrowed for the call, and the
 *        spans in *out point into it.
 * @param out receives the parts; undefined on error.
 * @param detail if not NULL, receives on error a static, NUL-terminated
 *        sentence saying what is wrong (the syntax, a missing port, an
 *        invalid IPv6 literal, port 0, a host name or socket path too
 *        long), and NULL on success.
 * @return 0; FCGIC_E_INVAL (NULL target or out); FCGIC_E_BAD_ADDRESS.
 */
FCGIC_API int fcgic_posix_addr_parse(const char *target, struct fcgic_posix_addr *out, const char **detail);

/* ------------------------------------------------------------------------ */
/* Event-loop object                                                        */
/* ------------------------------------------------------------------------ */

/** Socket interest bits given to the socket callback, and event bits given
 *  to fcgic_posix_socket_action(). */
#define FCGIC_POSIX_IN 1u     /**< readable / wants to read */
#define FCGIC_POSIX_OUT 2u    /**< writable / wants to write */
#define FCGIC_POSIX_ERR 4u    /**< event only: error or hang-up (POLLERR, POLLHUP) */
#define FCGIC_POSIX_REMOVE 8u /**< interest only: stop watching fd, it is about to be closed */

/**
 * Options and callbacks of a struct fcgic_posix; copied by
 * fcgic_posix_new(). Zero-initialise, set version to
 * FCGIC_POSIX_OPTIONS_VERSION (0 and 1 are accepted: see "Structs that
 * grow" in common.h), then set what you need. The callbacks may be
 * NULL: an object driven only by fcgic_posix_run() needs neither.
 *
 * Interest is level-triggered: a socket stays readable or writable in the
 * embedder's loop until the object stops asking for it. The callbacks must
 * not call any fcgic_posix_* function of the object (those return
 * FCGIC_E_REENTRANT or do nothing).
 */
struct fcgic_posix_options {
    unsigned version;
    /**
     * Socket interest changed: watch fd for `what` (FCGIC_POSIX_IN and/or
     * FCGIC_POSIX_OUT; 0 means keep the fd registered but wait for nothing:
     * with epoll, whose EPOLLERR/EPOLLHUP cannot be masked, a level-triggered
     * loop must then not hand hang-ups of that fd back in a loop),
     * or FCGIC_POSIX_REMOVE: forget fd, which is closed right after the
     * callback returns. `c` is the connection on that socket, or NULL for
     * a socket of the c-ares resolver.
     */
    void (*on_socket)(void *ud, int fd, unsigned what, struct fcgic_conn *c);
    /**
     * The earliest deadline of all connections changed: call
     * fcgic_posix_timeout() at `deadline` (or at once if it has passed).
     * FCGIC_NO_DEADLINE cancels the timer.
     */
    void (*on_timer)(void *ud, uint64_t deadline);
    /** Passed to on_socket and on_timer. */
    void *ud;
    /** Size of the read buffer; 0 means 64 KiB. */
    size_t read_buffer_size;
    /* ---- version 2 ---- */
    /**
     * Optional: the embedder's own resolver, used for every host name (in
     * place of c-ares or getaddrinfo). Start looking up `host`
     * (NUL-terminated, borrowed for the call) and answer, from inside this
     * call or any time later on the object's thread, with
     * fcgic_posix_resolved(p, q, ...). q identifies the lookup until it is
     * answered or cancelled. Return 0, or a negative value when the lookup
     * could not start (the open fails with FCGIC_E_RESOLVE).
     */
    int (*resolve)(void *ud, const char *host, struct fcgic_posix_query *q);
    /** Optional: the lookup q is no longer wanted (the object is being
     *  freed): do not answer it. */
    void (*resolve_cancel)(void *ud, struct fcgic_posix_query *q);
};

#define FCGIC_POSIX_OPTIONS_VERSION 2

/** An event-loop transport: many sockets and their engines. Opaque. */
struct fcgic_posix;

/**
 * Answer a host-name lookup started by the options' `resolve` hook.
 * Connections waiting for it start connecting to the addresses in order
 * (the port is the target's), or fail with FCGIC_E_RESOLVE when ai is NULL
 * or holds no IPv4 or IPv6 address; their engine callbacks may run from
 * here (not when called from inside the resolve hook itself).
 * @param q the query given to the hook; invalid once this returns.
 * @param ai the addresses (e.g. what getaddrinfo(3) or uv_getaddrinfo()
 *        returned), or NULL when the lookup failed; borrowed for the call.
 * @param ttl_ns how long the answer may be used for new connections; 0
 *        means only for those waiting now.
 * @param now current time.
 * @return 0; FCGIC_E_INVAL (NULL p or q, or q not waiting for an answer);
 *         FCGIC_E_REENTRANT (from on_socket or on_timer).
 */
FCGIC_API int fcgic_posix_resolved(struct fcgic_posix *p, struct fcgic_posix_query *q, const struct addrinfo *ai,
                                   uint64_t ttl_ns, uint64_t now);

/** 1 when the library was built with c-ares (host names are then looked
 *  up without blocking, unless a resolve hook is set), else 0. */
FCGIC_API int fcgic_posix_has_cares(void);

/**
 * The errno behind the last fcgic_posix_open() on p that failed at once
 * (ENOENT for a missing unix socket, EACCES, ECONNREFUSED, EMFILE, ...), or
 * 0 when it succeeded or the failure had no system error (a malformed
 * address, a host name that does not resolve). Failures that come later are
 * carried by the engine: fcgic_conn_sys_errno(), result.sys_errno.
 */
FCGIC_API int fcgic_posix_last_errno(const struct fcgic_posix *p);

/**
 * Create an event-loop object.
 * @param opts options and callbacks (copied), or NULL for none.
 * @param mem allocator hooks (copied) or NULL for libc; used for the object
 *        and for every engine it creates.
 * @return 0, FCGIC_E_INVAL (NULL out, or opts->version newer than
 *         FCGIC_POSIX_OPTIONS_VERSION), FCGIC_E_RESOLVE (c-ares could not
 *         be set up) or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_posix_new(struct fcgic_posix **out, const struct fcgic_posix_options *opts,
                              const struct fcgic_mem *mem);

/**
 * Free the object: every socket still open is reported with
 * FCGIC_POSIX_REMOVE, closed, and its engine freed; no engine callback
 * runs. NULL is a no-op. Called from inside an engine callback, on_socket or
 * on_timer, the free is deferred until the running fcgic_posix_* call returns.
 */
FCGIC_API void fcgic_posix_free(struct fcgic_posix *p);

/**
 * Open a connection to a backend and create its engine. The engine is put
 * in the connecting state at once (its connect_timeout_ns runs from `now`),
 * so requests may be submitted right away; their bytes go out when the
 * socket is connected. Submit with fcgic_conn_submit(), then call
 * fcgic_posix_kick().
 *
 * A connect that fails later (refused, or after trying every resolved
 * address) is reported through fcgic_conn_fail_errno(c, FCGIC_E_CONNECT,
 * errno of the last address); a connect that takes longer than
 * opts->connect_timeout_ns fails with FCGIC_E_TIMEOUT_CONNECT; an
 * asynchronous lookup that fails, with FCGIC_E_RESOLVE. Each ends the
 * requests queued on c; the connection stays until fcgic_posix_close().
 * Socket, read and write errors later carry their errno the same way
 * (fcgic_conn_sys_errno(), result.sys_errno); a failure at once leaves
 * its errno in fcgic_posix_last_errno().
 *
 * Host names: see the file comment (a resolve hook, c-ares, or a blocking
 * getaddrinfo here).
 *
 * @param target backend address (see fcgic_posix_addr_parse()); borrowed
 *        for the call.
 * @param opts, cb, conn_ud passed to fcgic_conn_new() (cb and opts are
 *        copied there; conn_ud is the caller's).
 * @param out receives the engine; it belongs to the object until
 *        fcgic_posix_close(). Its transport data
 *        (fcgic_conn_transport_data()) is the object's.
 * @param now current time.
 * @return 0; FCGIC_E_INVAL; FCGIC_E_BAD_ADDRESS; FCGIC_E_RESOLVE;
 *         FCGIC_E_CONNECT (refused at once, e.g. a unix socket that does not
 *         exist or whose listen queue is full); FCGIC_E_SOCKET;
 *         FCGIC_E_NOMEM; FCGIC_E_REENTRANT (from on_socket or on_timer);
 *         FCGIC_E_STATE (fcgic_posix_free() was called from a callback and
 *         the object is going away); FCGIC_E_CLOSED (on_socket freed the
 *         object: it is gone); an error of fcgic_conn_new().
 */
FCGIC_API int fcgic_posix_open(struct fcgic_posix *p, const char *target, const struct fcgic_conn_options *opts,
                               const struct fcgic_conn_callbacks *cb, void *conn_ud, struct fcgic_conn **out,
                               uint64_t now);

/**
 * Output was queued on c (fcgic_conn_submit(), fcgic_conn_resume(),
 * fcgic_conn_abort(), fcgic_conn_get_values()), or a callback of c returned
 * FCGIC_PAUSE and the embedder is ready for more input: write what the
 * socket takes now, feed held-back input, and update interest and timers.
 * Called from inside one of c's own callbacks run by the object, the work is
 * done when that callback's engine call returns; from one run by the
 * embedder's own fcgic_conn_submit() or fcgic_conn_resume() call, nothing is
 * written until the socket's next writable event and held-back input waits
 * for the next kick (so call it again after those return, as usual).
 * c must be an engine this object opened and has not closed (found through
 * its transport data, no lookup); one of another struct fcgic_posix, or a
 * call from on_socket or on_timer: nothing happens.
 */
FCGIC_API void fcgic_posix_kick(struct fcgic_posix *p, struct fcgic_conn *c, uint64_t now);

/**
 * Close c's socket (reported with FCGIC_POSIX_REMOVE) and free its engine.
 * No engine callback runs: requests still running on c get no on_end. From
 * inside one of c's own callbacks, the close is deferred until that
 * callback's engine call returns. c: as for fcgic_posix_kick() (closing it
 * twice is a use after free).
 */
FCGIC_API void fcgic_posix_close(struct fcgic_posix *p, struct fcgic_conn *c);

/**
 * Read, without blocking, whatever the application sent on c and hand it to
 * the engine (fcgic_conn_recv(), fcgic_conn_recv_eof() on EOF,
 * fcgic_conn_fail() with FCGIC_E_IO on a socket error), as a readable event
 * would. Pools call it (as the transport's `check`) before reusing an idle
 * kept connection, so that one the application closed meanwhile is seen as
 * FCGIC_CONN_DONE instead of taking a request. Nothing happens when c is
 * unknown, connecting, closed, paused, or one of its callbacks is running,
 * nor from on_socket or on_timer.
 */
FCGIC_API void fcgic_posix_check(struct fcgic_posix *p, struct fcgic_conn *c, uint64_t now);

/**
 * Fill a struct fcgic_transport whose open, kick, close and check are
 * fcgic_posix_open(), fcgic_posix_kick(), fcgic_posix_close() and
 * fcgic_posix_check() on p.
 * @param p the object; must outlive every user of *out.
 * @param out receives the operations (the caller copies it as it likes).
 */
FCGIC_API void fcgic_posix_transport(struct fcgic_posix *p, struct fcgic_transport *out);

/**
 * Something happened on fd: do the I/O it allows and run the engine.
 * @param events FCGIC_POSIX_IN, FCGIC_POSIX_OUT and/or FCGIC_POSIX_ERR.
 * @return 0 (also when fd is not one of the object's sockets: it may have
 *         been closed since the event was collected); FCGIC_E_REENTRANT from
 *         inside any callback of the object.
 */
FCGIC_API int fcgic_posix_socket_action(struct fcgic_posix *p, int fd, unsigned events, uint64_t now);

/**
 * Run the timers of every connection whose deadline is at or before now.
 * @return 0 or FCGIC_E_REENTRANT (from inside a callback of the object).
 */
FCGIC_API int fcgic_posix_timeout(struct fcgic_posix *p, uint64_t now);

/** The earliest deadline of all connections, or FCGIC_NO_DEADLINE. */
FCGIC_API uint64_t fcgic_posix_deadline(const struct fcgic_posix *p);

/** Connections open on the object. */
FCGIC_API size_t fcgic_posix_count(const struct fcgic_posix *p);

/** The socket of c, or -1 when c is not one of the object's connections. */
FCGIC_API int fcgic_posix_fd(const struct fcgic_posix *p, const struct fcgic_conn *c);

/** CLOCK_MONOTONIC in nanoseconds: the clock of the built-in loop. */
FCGIC_API uint64_t fcgic_posix_now(void);

/**
 * Built-in loop: wait with poll(2) for the object's sockets and its next
 * deadline, at most timeout_ns, then handle what happened (one round).
 * Uses CLOCK_MONOTONIC. Works alongside on_socket/on_timer, which are still
 * called.
 * @param timeout_ns longest wait; 0 polls without waiting;
 *        FCGIC_NO_DEADLINE waits until something happens (with no socket
 *        and no deadline it returns at once).
 * @return 0 (also when a callback freed the object with fcgic_posix_free():
 *         it is gone when this returns); FCGIC_E_NOMEM (poll set);
 *         FCGIC_E_IO (poll failed other than EINTR); FCGIC_E_REENTRANT (from
 *         inside a callback of the object).
 */
FCGIC_API int fcgic_posix_run(struct fcgic_posix *p, uint64_t timeout_ns);

/**
 * Built-in loop: run rounds until done(ud) returns nonzero, checked before
 * every round, or until timeout_ns passed.
 * @param done condition; called on the caller's thread between rounds.
 * @param timeout_ns limit, FCGIC_NO_DEADLINE for none.
 * @return 0 when done; FCGIC_E_TIMEOUT when the limit passed first;
 *         FCGIC_E_STATE when nothing is left to wait for (no socket wants
 *         anything and there is no deadline) and done is still 0;
 *         FCGIC_E_CLOSED when a callback freed the object (it is gone);
 *         the errors of fcgic_posix_run().
 */
FCGIC_API int fcgic_posix_run_until(struct fcgic_posix *p, int (*done)(void *ud), void *ud, uint64_t timeout_ns);

/**
 * Let the built-in loop drive a pool (or balancer) that uses this object as
 * its transport: fcgic_posix_run() and fcgic_posix_run_until() then wait at
 * most until fcgic_pool_deadline() (fcgic_balancer_deadline()), and call
 * fcgic_pool_tick() (fcgic_balancer_tick()) when it has passed, after
 * handling the round's socket events and timers; run_until counts a
 * deadline of an attached object as something to wait for. This is the glue
 * every program using a pool or balancer with the built-in loop would
 * otherwise write. Nothing else changes: fcgic_posix_deadline(), on_timer,
 * fcgic_posix_timeout() and fcgic_posix_socket_action() know nothing of
 * attached objects, so an embedder with its own loop ticks them itself.
 * Detach (or free this object) before freeing the pool or balancer; a
 * callback of the attached object may detach it.
 * @return 0; FCGIC_E_INVAL (NULL p or object); FCGIC_E_STATE (already
 *         attached); FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_posix_attach_pool(struct fcgic_posix *p, struct fcgic_pool *pool);

/** As fcgic_posix_attach_pool(), for a balancer. */
FCGIC_API int fcgic_posix_attach_balancer(struct fcgic_posix *p, struct fcgic_balancer *b);

/** Stop driving a pool attached with fcgic_posix_attach_pool().
 *  @return 0, FCGIC_E_INVAL or FCGIC_E_NOT_FOUND. */
FCGIC_API int fcgic_posix_detach_pool(struct fcgic_posix *p, const struct fcgic_pool *pool);

/** Stop driving a balancer. @return 0, FCGIC_E_INVAL or FCGIC_E_NOT_FOUND. */
FCGIC_API int fcgic_posix_detach_balancer(struct fcgic_posix *p, const struct fcgic_balancer *b);

/* ------------------------------------------------------------------------ */
/* Blocking one-call request                                                */
/* ------------------------------------------------------------------------ */

/**
 * Connect to target, run one request and return when it is over (on_end
 * fired), then close the connection. Built on struct fcgic_posix and its
 * poll(2) loop. Blocks the calling thread; host names are resolved with
 * getaddrinfo(3).
 *
 * Bound the time with opts->connect_timeout_ns and req->timeouts: with no
 * limits the call waits as long as the application does. body_read must not
 * return FCGIC_BODY_AGAIN here (nothing could resume it): the request then
 * fails with FCGIC_E_BODY_SOURCE. Callbacks may return FCGIC_PAUSE: the
 * call resumes at once.
 *
 * @param target backend address; borrowed for the call.
 * @param opts connection options (copied) or NULL; keep_conn and
 *        max_requests are ignored.
 * @param req the request (see fcgic_conn_submit()).
 * @param cb callbacks, or NULL for none; called with req_ud in place of the
 *        request and connection userdata. The `c` they receive is valid only
 *        during the call.
 * @param req_ud passed to the callbacks.
 * @param result if not NULL, receives the outcome: what on_end received,
 *        or, when the request never started, zeros with `error` set to the
 *        return value.
 * @param mem allocator hooks or NULL.
 * @return result->error: 0 when the request ended with END_REQUEST (look at
 *         app_status and protocol_status); FCGIC_E_INVAL; the errors of
 *         fcgic_posix_new(), fcgic_posix_open() and fcgic_conn_submit();
 *         or the error the request ended with (FCGIC_E_CONNECT,
 *         FCGIC_E_TIMEOUT_CONNECT, FCGIC_E_PEER_CLOSED, FCGIC_E_IO, ...).
 */
FCGIC_API int fcgic_posix_request(const char *target, const struct fcgic_conn_options *opts,
                                  const struct fcgic_request *req, const struct fcgic_conn_callbacks *cb,
                                  void *req_ud, struct fcgic_result *result, const struct fcgic_mem *mem);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_POSIX_H */
