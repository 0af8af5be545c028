/**
 * @file transport.h
 * @brief The contract between objects that need connections (pools,
 *        balancers) and whatever moves the bytes (the POSIX transport, or an
 *        embedder's own event loop).
 *
 * A transport opens a socket to a backend, creates the connection engine for
 * it (fcgic_conn_new(), then fcgic_conn_connecting()), and from then on moves
 * bytes between the socket and the engine, calls fcgic_conn_connected(),
 * fcgic_conn_recv(), fcgic_conn_recv_eof(), fcgic_conn_fail_errno() and
 * fcgic_conn_tick() as things happen, until it is told to close it.
 *
 * Per-connection state: `kick`, `close` and `check` get only the engine.
 * The engine's user data (fcgic_conn_userdata()) belongs to the pool; the
 * transport keeps its own pointer in the engine with
 * fcgic_conn_set_transport_data() and reads it back with
 * fcgic_conn_transport_data(), so no lookup table is needed.
 *
 * The transport implementer's duties:
 *  - Re-entrancy. Every operation may be called from inside an engine
 *    callback of a connection the transport runs (a pool's on_end submits,
 *    aborts, closes). open, and kick and close of another connection, may
 *    act at once. close and kick of the connection whose callback is
 *    running must be deferred by the transport until that callback's engine
 *    call returns (fcgic_conn_in_callback() tells): the engine cannot be
 *    freed, fed or acknowledged from inside its own callback.
 *  - open may finish the connect at once and call fcgic_conn_connected()
 *    before returning (a unix socket usually connects at once). It must not
 *    fail the engine from inside open: a connect refused at once is open's
 *    return value (with *sys_errno), one refused later goes through
 *    fcgic_conn_fail_errno().
 *  - An idle connection the application closes: the transport feeds the
 *    EOF (fcgic_conn_recv_eof()) or the error, the engine turns
 *    FCGIC_CONN_DONE or FAILED and fcgic_conn_wants() says
 *    FCGIC_WANT_CLOSE; no callback runs (no request was running). The
 *    transport may release the socket then, but keeps the engine until told
 *    to close it. The pool notices at its next tick or submit, or when it
 *    calls `check` before reusing the connection, and closes it.
 *  - After FCGIC_PAUSE from a callback, reading stops until `kick`; a kick
 *    feeds input held back since the pause (the pool calls
 *    fcgic_conn_unpause() before kicking, see fcgic_pool_unpause()).
 *
 * Threads: the transport, its engines and the pools and balancers using it
 * run on one thread.
 */
#ifndef FCGICLIENT_TRANSPORT_H
#define FCGICLIENT_TRANSPORT_H

#include "common.h"
#include "conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Transport operations. The struct is copied by whoever takes it.
 *  Zero-initialise it, set version to FCGIC_TRANSPORT_VERSION (0 means 1),
 *  then the operations; NULL means "not supported" for the optional ones. */
struct fcgic_transport {
    /** 0 or FCGIC_TRANSPORT_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    void *ud; /**< passed to every operation */
    /**
     * Open a connection to `target` (a backend as users write it:
     * `fcgi://host:port[/path]` or `unix:/path.sock|fcgi://host/path`) and
     * create its engine with opts, cb, conn_ud and mem. A connect that
     * fails later is reported through fcgic_conn_fail_errno(c,
     * FCGIC_E_CONNECT, errno) or FCGIC_E_TIMEOUT_CONNECT (or
     * FCGIC_E_RESOLVE for a host name an asynchronous lookup could not
     * resolve), which ends the requests queued on it.
     * @param mem the caller's allocator hooks (NULL: libc), to create the
     *        engine with; borrowed for the call (fcgic_conn_new() copies).
     * @param sys_errno never NULL; receives the errno of a failure at once
     *        (ENOENT, EACCES, ECONNREFUSED ...) or 0.
     * @return 0 with *out set, or a negative error (FCGIC_E_BAD_ADDRESS,
     *         FCGIC_E_RESOLVE, FCGIC_E_CONNECT when refused at once,
     *         FCGIC_E_SOCKET, FCGIC_E_NOMEM).
     */
    int (*open)(void *ud, const char *target, const struct fcgic_conn_options *opts,
                const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem,
                struct fcgic_conn **out, int *sys_errno, uint64_t now);
    /** Output was queued on c, its interest changed, or a callback of c
     *  returned FCGIC_PAUSE and the embedder is ready for more input: write
     *  when possible and feed input held back since the pause. From inside
     *  one of c's callbacks: deferred by the transport (see above). */
    void (*kick)(void *ud, struct fcgic_conn *c, uint64_t now);
    /** Close the socket and free the engine. No callback runs. From inside
     *  one of c's callbacks: deferred by the transport until it returns. */
    void (*close)(void *ud, struct fcgic_conn *c);
    /**
     * Optional (NULL: not supported). Called on an idle connection before
     * it is reused: without blocking, read whatever the application sent
     * since its last response and feed it to the engine
     * (fcgic_conn_recv(), fcgic_conn_recv_eof() on EOF,
     * fcgic_conn_fail_errno() on a socket error), so that a connection the
     * application closed or wrote stray bytes on is no longer
     * FCGIC_CONN_IDLE when it returns. Engine callbacks of c may run from
     * it (on_values); c stays open. Does nothing when c is connecting, or
     * one of c's callbacks is running.
     */
    void (*check)(void *ud, struct fcgic_conn *c, uint64_t now);
};

#define FCGIC_TRANSPORT_VERSION 1

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_TRANSPORT_H */
